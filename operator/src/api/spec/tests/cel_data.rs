//! CEL rules of `spec.database`, `spec.network` and `spec.storage`.

use serde_json::json;

use super::{accepts, rejects, update_accepts, update_rejects};

#[test]
fn capacity_range() {
    accepts(json!({ "database": { "minCapacityAcu": 0, "maxCapacityAcu": 1 } }));
    accepts(json!({ "database": { "minCapacityAcu": 4, "maxCapacityAcu": 4 } }));
    rejects(
        json!({ "database": { "minCapacityAcu": 8, "maxCapacityAcu": 4 } }),
        "spec.database.minCapacityAcu must be <= spec.database.maxCapacityAcu",
    );
    // The default max (2) also counts.
    rejects(
        json!({ "database": { "minCapacityAcu": 4 } }),
        "spec.database.minCapacityAcu must be <=",
    );
}

#[test]
fn capacity_in_half_steps() {
    accepts(json!({ "database": { "minCapacityAcu": 1.5, "maxCapacityAcu": 2 } }));
    accepts(json!({ "database": { "minCapacityAcu": 0, "maxCapacityAcu": 128 } }));
    rejects(
        json!({ "database": { "minCapacityAcu": 0.7 } }),
        "spec.database.minCapacityAcu must be a multiple of 0.5",
    );
    rejects(
        json!({ "database": { "maxCapacityAcu": 2.25 } }),
        "spec.database.maxCapacityAcu must be a multiple of 0.5",
    );
}

#[test]
fn max_allowed_packet_has_its_own_field() {
    accepts(
        json!({ "database": { "parameters": [{ "name": "sort_buffer_size", "value": "2097152" }] } }),
    );
    rejects(
        json!({ "database": { "parameters": [{ "name": "max_allowed_packet", "value": "1073741824" }] } }),
        "use spec.database.maxAllowedPacket",
    );
}

fn window(w: &str) -> serde_json::Value {
    json!({ "database": { "preferredMaintenanceWindow": w } })
}

#[test]
fn maintenance_window_format() {
    for ok in
        ["Sun:23:45-Mon:00:15", "sun:05:00-sun:06:00", "MON:00:00-MON:00:30", "Sat:22:00-Sun:02:00"]
    {
        accepts(window(ok));
    }
    for bad in [
        "Sun 23:45-Mon 00:15",
        "Sunday:23:45-Mon:0",
        "Xyz:23:45-Mon:00:15",
        "Sun:24:00-Mon:00:30",
        "Sun:23:60-Mon:00:30",
    ] {
        rejects(window(bad), "must look like ddd:HH:mm-ddd:HH:mm");
    }
}

#[test]
fn maintenance_window_is_at_least_30_minutes_and_wraps_the_week() {
    accepts(window("Sun:23:45-Mon:00:15"));
    accepts(window("Mon:10:00-Mon:10:30"));
    rejects(window("Mon:10:00-Mon:10:29"), "at least 30 minutes");
    rejects(window("Sun:23:50-Mon:00:10"), "at least 30 minutes");
    rejects(window("Tue:03:00-Tue:03:00"), "at least 30 minutes");
    // End before start within the same day means almost a whole week: long enough.
    accepts(window("Tue:03:00-Tue:02:00"));
}

#[test]
fn backup_window_is_at_least_30_minutes() {
    let backup = |w: &str| json!({ "database": { "preferredBackupWindow": w } });
    accepts(backup("03:00-03:30"));
    accepts(backup("23:45-00:15"));
    rejects(
        backup("03:00-03:15"),
        "spec.database.preferredBackupWindow must be at least 30 minutes",
    );
    rejects(
        backup("23:50-00:10"),
        "spec.database.preferredBackupWindow must be at least 30 minutes",
    );
}

#[test]
fn restore_from_exactly_one_source() {
    accepts(
        json!({ "database": { "restoreFrom": { "snapshotIdentifier": "redcap-final-2026-05-01" } } }),
    );
    accepts(json!({ "database": { "restoreFrom": { "pointInTime": {
        "sourceClusterIdentifier": "redcap-prod", "restoreTime": "2026-05-01T10:00:00Z"
    } } } }));
    accepts(json!({ "database": { "restoreFrom": { "pointInTime": {
        "sourceClusterIdentifier": "redcap-prod", "useLatestRestorableTime": true
    } } } }));
    rejects(
        json!({ "database": { "restoreFrom": {
            "snapshotIdentifier": "snap", "pointInTime": { "sourceClusterIdentifier": "c", "useLatestRestorableTime": true }
        } } }),
        "spec.database.restoreFrom must set exactly one of snapshotIdentifier or pointInTime",
    );
    rejects(
        json!({ "database": { "restoreFrom": {} } }),
        "spec.database.restoreFrom must set exactly one of snapshotIdentifier or pointInTime",
    );
}

#[test]
fn point_in_time_exactly_one_time() {
    let pit = |extra: serde_json::Value| {
        let mut p = json!({ "sourceClusterIdentifier": "redcap-prod" });
        if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
            p.extend(extra.clone());
        }
        json!({ "database": { "restoreFrom": { "pointInTime": p } } })
    };
    rejects(pit(json!({})), "exactly one of restoreTime or useLatestRestorableTime");
    rejects(
        pit(json!({ "useLatestRestorableTime": false })),
        "exactly one of restoreTime or useLatestRestorableTime",
    );
    rejects(
        pit(json!({ "restoreTime": "2026-05-01T10:00:00Z", "useLatestRestorableTime": true })),
        "exactly one of restoreTime or useLatestRestorableTime",
    );
    accepts(pit(
        json!({ "restoreTime": "2026-05-01T10:00:00Z", "useLatestRestorableTime": false }),
    ));
}

fn cidr(c: &str) -> serde_json::Value {
    json!({ "network": { "cidr": c } })
}

#[test]
fn network_cidr_shape() {
    for ok in ["10.0.0.0/16", "172.16.0.0/20", "192.168.10.0/24"] {
        accepts(cidr(ok));
    }
    rejects(cidr("10.0.0.0/8"), "prefix length between /16 and /24");
    rejects(cidr("10.0.0.0/25"), "prefix length between /16 and /24");
    rejects(cidr("10.0.0.0"), "prefix length between /16 and /24");
    rejects(cidr("10.0.0.300/16"), "prefix length between /16 and /24");
    rejects(cidr("fd00::/16"), "prefix length between /16 and /24");
    rejects(cidr("10.0.1.0/16"), "must be a network address");
}

#[test]
fn a_slash_24_holds_two_zones_only() {
    let net = |c: &str, zones: u32| json!({ "network": { "cidr": c, "availabilityZones": zones } });
    accepts(net("10.0.0.0/24", 2));
    accepts(net("10.0.0.0/23", 3));
    accepts(net("10.0.0.0/16", 3));
    rejects(net("10.0.0.0/24", 3), "a /24 VPC holds two availability zones");
}

#[test]
fn network_cidr_is_immutable() {
    update_accepts(cidr("10.1.0.0/16"), cidr("10.1.0.0/16"));
    update_rejects(json!({}), cidr("10.1.0.0/16"), "spec.network.cidr is immutable");
}

#[test]
fn bucket_names() {
    let bucket = |name: &str| json!({ "storage": { "bucketName": name } });
    for ok in ["redcap-prod-files", "abc", "my--bucket1"] {
        accepts(bucket(ok));
    }
    for bad in [
        "Redcap-Files",
        "redcap_files",
        "-redcap",
        "redcap-",
        "redcap.files",
        "xn--redcap",
        "sthree-redcap",
        "redcap-s3alias",
        "redcap--ol-s3",
    ] {
        rejects(bucket(bad), "spec.storage.bucketName must be a valid S3 bucket name");
    }
}

#[test]
fn lifecycle_transitions() {
    let days = |ia: u32, tiering: u32| json!({ "storage": { "infrequentAccessAfterDays": ia, "intelligentTieringAfterDays": tiering } });
    accepts(days(0, 0));
    accepts(days(30, 60));
    accepts(days(0, 1));
    rejects(days(10, 0), "spec.storage.infrequentAccessAfterDays must be 0 or at least 30");
    rejects(days(90, 100), "at least 30 days after spec.storage.infrequentAccessAfterDays");
}

#[test]
fn backup_window_must_not_overlap_the_maintenance_window() {
    let both = |m: &str, b: &str| json!({ "database": { "preferredMaintenanceWindow": m, "preferredBackupWindow": b } });
    let msg = "spec.database.preferredBackupWindow must not overlap spec.database.preferredMaintenanceWindow";
    accepts(both("Sun:23:45-Mon:00:15", "03:00-03:30"));
    accepts(both("Mon:03:30-Mon:04:00", "03:00-03:30"));
    accepts(both("Mon:02:30-Mon:03:00", "03:00-03:30"));
    rejects(both("Mon:03:15-Mon:03:45", "03:00-03:30"), msg);
    rejects(both("Mon:02:45-Mon:03:15", "03:00-03:30"), msg);
    // The backup window is daily: any day of the maintenance window counts.
    rejects(both("Sat:03:10-Sat:04:00", "03:00-03:30"), msg);
    // Across midnight and across the end of the week.
    rejects(both("Sun:23:45-Mon:00:15", "23:30-00:00"), msg);
    rejects(both("Sun:23:00-Mon:01:00", "00:10-00:40"), msg);
    accepts(both("Sun:23:00-Mon:01:00", "01:00-01:30"));
    // A maintenance window containing a whole backup window.
    rejects(both("Tue:01:00-Tue:05:00", "02:00-02:30"), msg);
    // One of the two absent: nothing to compare.
    accepts(json!({ "database": { "preferredBackupWindow": "03:00-03:30" } }));
}
