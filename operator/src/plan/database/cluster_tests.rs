//! Table tests of the cluster diff: AWS-defaulted and AWS-changed fields never cause an
//! update; spec changes produce exactly the fields they touch.

use super::*;
use crate::plan::database::names::ENGINE_VERSION_TAG;

const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/k-1";

fn want() -> DesiredCluster {
    DesiredCluster {
        engine_version: "8.0.mysql_aurora.3.10.3".parse().expect("version"),
        min_acu: 0.5,
        max_acu: 2.0,
        backtrack_seconds: 86400,
        backup_retention_days: 30,
        maintenance_window: Some("sun:23:45-mon:00:15".into()),
        backup_window: None,
        log_exports: ["error".to_string(), "slowquery".to_string()].into(),
        iam_auth: true,
        kms_key_arn: KEY.into(),
        security_group_ids: ["sg-db".to_string()].into(),
        subnet_group: "rc-x-db".into(),
        parameter_group: "rc-x-db".into(),
        tags: [("redcap.dev/uid", "u1")].into_iter().collect(),
    }
}

/// What RDS reports for a cluster created from `want()`, with AWS's own choices.
fn seen() -> ObservedCluster {
    ObservedCluster {
        id: "rc-x-db".into(),
        status: "available".into(),
        engine: "aurora-mysql".into(),
        engine_version: "8.0.mysql_aurora.3.10.3".into(),
        min_acu: Some(0.5),
        max_acu: Some(2.0),
        backtrack_seconds: Some(86400),
        backup_retention_days: Some(30),
        maintenance_window: Some("sun:23:45-mon:00:15".into()),
        backup_window: Some("07:12-07:42".into()),
        log_exports: ["slowquery".to_string(), "error".to_string()].into(),
        iam_auth: true,
        deletion_protection: true,
        copy_tags_to_snapshot: true,
        master_secret: Some(ObservedMasterSecret {
            arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-1".into(),
            status: Some("active".into()),
            kms_key_id: Some("k-1".into()),
        }),
        security_group_ids: ["sg-db".to_string()].into(),
        parameter_group: Some("rc-x-db".into()),
        tags: [
            ("redcap.dev/uid", "u1"),
            (ENGINE_VERSION_TAG, "8.0.mysql_aurora.3.10.3"),
            ("aws:cloudformation:x", "y"),
        ]
        .into_iter()
        .collect(),
        ..ObservedCluster::default()
    }
}

#[test]
fn aws_defaults_are_not_drift() {
    let mut s = seen();
    // AWS's case, AWS's backup window, the key as an ARN, an extra foreign tag.
    s.maintenance_window = Some("Sun:23:45-Mon:00:15".into());
    s.master_secret.as_mut().expect("secret").kms_key_id = Some(KEY.into());
    s.tags.insert("cost-center", "42");
    let plan = cluster_plan(&want(), &s).expect("plan");
    assert!(plan.is_empty(), "{plan:?}");
}

#[test]
fn an_aws_minor_upgrade_is_not_drift() {
    let mut s = seen();
    s.engine_version = "8.0.mysql_aurora.3.10.4".into();
    let plan = cluster_plan(&want(), &s).expect("plan");
    assert!(plan.is_empty(), "{plan:?}");
    assert!(plan.notes[0].contains("AWS minor upgrade"), "{:?}", plan.notes);
}

#[test]
fn a_requested_downgrade_is_refused() {
    let mut s = seen();
    s.engine_version = "8.0.mysql_aurora.3.10.4".into();
    let mut w = want();
    w.engine_version = "8.0.mysql_aurora.3.08.0".parse().expect("version");
    let err = cluster_plan(&w, &s).expect_err("downgrade");
    assert!(err.to_string().starts_with("spec.database.engineVersion"), "{err}");
}

#[test]
fn an_upgrade_goes_alone_and_records_the_request() {
    let mut w = want();
    w.engine_version = "8.0.mysql_aurora.3.10.5".parse().expect("version");
    w.max_acu = 8.0;
    let plan = cluster_plan(&w, &seen()).expect("plan");
    assert_eq!(
        plan.modify,
        ClusterModification {
            engine_version: Some(("8.0.mysql_aurora.3.10.5".into(), false)),
            ..ClusterModification::default()
        }
    );
    assert_eq!(plan.tags.get(ENGINE_VERSION_TAG), Some("8.0.mysql_aurora.3.10.5"));
    // Once upgraded, the capacity follows.
    let mut s = seen();
    s.engine_version = "8.0.mysql_aurora.3.10.5".into();
    s.tags.insert(ENGINE_VERSION_TAG, "8.0.mysql_aurora.3.10.5");
    let plan = cluster_plan(&w, &s).expect("plan");
    assert_eq!(plan.modify.scaling, Some((0.5, 8.0)));
    assert!(plan.tags.is_empty());
}

#[test]
fn each_spec_change_touches_its_field() {
    let mut w = want();
    w.min_acu = 0.0;
    w.backup_retention_days = 7;
    w.backup_window = Some("03:00-03:30".into());
    w.log_exports = ["error".to_string(), "audit".to_string()].into();
    w.iam_auth = false;
    w.backtrack_seconds = 3600;
    let m = cluster_plan(&w, &seen()).expect("plan").modify;
    assert_eq!(m.scaling, Some((0.0, 2.0)));
    assert_eq!(m.backup_retention_days, Some(7));
    assert_eq!(m.backup_window.as_deref(), Some("03:00-03:30"));
    assert_eq!(m.enable_logs, ["audit"]);
    assert_eq!(m.disable_logs, ["slowquery"]);
    assert_eq!(m.iam_auth, Some(false));
    assert_eq!(m.backtrack_seconds, Some(3600));
    assert_eq!(m.maintenance_window, None);
    assert_eq!(m.deletion_protection, None);
    assert_eq!(m.manage_master_password_with_key, None);
    assert!(m.describe().len() >= 6, "{:?}", m.describe());
}

#[test]
fn protection_and_the_managed_password_are_restored() {
    let mut s = seen();
    s.deletion_protection = false;
    s.master_secret = None; // a cluster restored from a snapshot
    s.copy_tags_to_snapshot = false;
    s.security_group_ids = ["sg-default".to_string()].into();
    let m = cluster_plan(&want(), &s).expect("plan").modify;
    assert_eq!(m.deletion_protection, Some(true));
    assert_eq!(m.manage_master_password_with_key.as_deref(), Some(KEY));
    assert_eq!(m.copy_tags_to_snapshot, Some(true));
    assert_eq!(m.security_group_ids, Some(vec!["sg-db".to_string()]));
}

#[test]
fn backtrack_cannot_be_turned_on_later() {
    let mut s = seen();
    s.backtrack_seconds = None;
    let err = cluster_plan(&want(), &s).expect_err("refused");
    assert!(err.to_string().starts_with("spec.database.backtrackWindowHours"), "{err}");
    let mut w = want();
    w.backtrack_seconds = 0;
    assert!(cluster_plan(&w, &s).expect("plan").is_empty());
}

#[test]
fn missing_ownership_tags_are_added_without_touching_others() {
    let mut s = seen();
    s.tags =
        [("other", "x"), (ENGINE_VERSION_TAG, "8.0.mysql_aurora.3.10.3")].into_iter().collect();
    let plan = cluster_plan(&want(), &s).expect("plan");
    assert_eq!(plan.tags, [("redcap.dev/uid", "u1")].into_iter().collect());
    assert!(plan.modify.is_empty());
}
