//! Tests of the desired database: spec to AWS settings, and the checks the plan adds to
//! the CRD's.

use super::*;
use crate::api::RedcapEnvironment;
use crate::plan::network::SecurityGroups;

const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/k-1";

fn env(database: serde_json::Value) -> RedcapEnvironment {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "redcap.dev/v1alpha1",
        "kind": "RedcapEnvironment",
        "metadata": {"name": "redcap", "namespace": "prod", "uid": "uid-1"},
        "spec": {
            "aws": {"region": "eu-west-1"},
            "redcap": {"version": "15.0.0", "source": {"s3": {"bucket": "b", "key": "redcap15.0.0.zip"}}},
            "email": {"fromAddress": "redcap@example.org"},
            "database": database,
        }
    }))
    .expect("valid object")
}

fn network() -> NetworkOutputs {
    NetworkOutputs {
        vpc_id: "vpc-1".into(),
        availability_zones: vec!["eu-west-1a".into(), "eu-west-1b".into()],
        isolated_subnets: vec!["subnet-b".into(), "subnet-a".into()],
        security_groups: SecurityGroups { database: "sg-db".into(), ..SecurityGroups::default() },
        ..NetworkOutputs::default()
    }
}

fn plan(database: serde_json::Value) -> Result<DesiredDatabase, PlanError> {
    let e = env(database);
    let id = EnvIdentity::from_env(&e).expect("identity");
    desired_database(&id, &e.spec, &e.spec.aws.tags, KEY, &network())
}

fn field_of(err: PlanError) -> &'static str {
    match err {
        PlanError::InvalidSpec { field, .. } => field,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn defaults_follow_the_seed() {
    let want = plan(serde_json::json!({})).expect("plan");
    let c = &want.cluster;
    assert_eq!(c.engine_version.as_str(), "8.0.mysql_aurora.3.10.3");
    assert_eq!((c.min_acu, c.max_acu), (0.5, 2.0));
    assert_eq!(c.backtrack_seconds, 24 * 3600);
    assert_eq!(c.backup_retention_days, 30);
    assert_eq!(
        c.log_exports.iter().map(String::as_str).collect::<Vec<_>>(),
        ["audit", "error", "general", "slowquery"]
    );
    assert!(c.iam_auth);
    assert_eq!(c.kms_key_arn, KEY);
    assert_eq!(c.security_group_ids, ["sg-db".to_string()].into());
    assert_eq!(want.instance_count, 2);
    assert_eq!(want.rotation_days, 120);
    assert_eq!(want.log_retention_days, 365);
    assert_eq!(want.parameter_group.family, "aurora-mysql8.0");
    assert_eq!(
        want.parameter_group.parameters.get("max_allowed_packet").map(String::as_str),
        Some("4194304")
    );
    assert_eq!(
        want.subnet_group.subnet_ids,
        ["subnet-a".to_string(), "subnet-b".to_string()].into()
    );
    assert!(want.base_cluster_id.ends_with("-db"));
    assert_eq!(c.subnet_group, want.subnet_group.name);
    assert!(want.tags.is_owned_by("uid-1"));
    assert_eq!(want.tags.get(crate::api::tags::COMPONENT), Some("database"));
    assert!(want.restore.is_none());
}

#[test]
fn spec_values_reach_the_cluster() {
    let want = plan(serde_json::json!({
        "engineVersion": "8.0.mysql_aurora.3.08.2",
        "minCapacityAcu": 0, "maxCapacityAcu": 16, "readers": 0,
        "backtrackWindowHours": 0, "backupRetentionDays": 7,
        "preferredMaintenanceWindow": "Sun:23:45-Mon:00:15",
        "preferredBackupWindow": "03:00-03:30",
        "logExports": ["error"], "iamAuthentication": false,
        "restoreFrom": {"snapshotIdentifier": "snap-1"}
    }))
    .expect("plan");
    let c = &want.cluster;
    assert_eq!((c.min_acu, c.max_acu), (0.0, 16.0));
    assert_eq!(c.maintenance_window.as_deref(), Some("sun:23:45-mon:00:15"));
    assert_eq!(c.backup_window.as_deref(), Some("03:00-03:30"));
    assert_eq!(c.backtrack_seconds, 0);
    assert!(!c.iam_auth);
    assert_eq!(want.instance_count, 1);
    let restore = want.restore.expect("restore");
    assert_eq!(restore.source, RestoreSource::Snapshot("snap-1".into()));
    assert!(restore.cluster_id.starts_with(&want.base_cluster_id));
    assert_ne!(restore.cluster_id, want.base_cluster_id);
}

#[test]
fn impossible_requests_name_their_field() {
    let cases = [
        (
            serde_json::json!({"minCapacityAcu": 8, "maxCapacityAcu": 4}),
            "spec.database.minCapacityAcu",
        ),
        (serde_json::json!({"minCapacityAcu": 0.7}), "spec.database.minCapacityAcu"),
        (serde_json::json!({"readers": 16}), "spec.database.readers"),
        (
            serde_json::json!({"preferredMaintenanceWindow": "Mon:03:15-Mon:03:45", "preferredBackupWindow": "03:00-03:30"}),
            "spec.database.preferredBackupWindow",
        ),
    ];
    for (spec, field) in cases {
        let err = plan(spec.clone()).expect_err("refused");
        assert_eq!(field_of(err), field, "{spec}");
    }
}

#[test]
fn scaling_bounds() {
    assert!(check_scaling(0.0, 1.0).is_ok());
    assert!(check_scaling(0.5, 256.0).is_ok());
    assert!(check_scaling(2.0, 2.0).is_ok());
    assert!(check_scaling(0.0, 0.5).is_err(), "max below 1");
    assert!(check_scaling(3.0, 2.0).is_err());
    assert!(check_scaling(0.25, 2.0).is_err());
    assert!(check_scaling(0.5, 300.0).is_err());
}

#[test]
fn rotation_schedules_in_either_form() {
    assert_eq!(rotation_days_of(Some(120), None), Some(120));
    assert_eq!(rotation_days_of(None, Some("rate(7 days)")), Some(7));
    assert_eq!(rotation_days_of(Some(0), Some("rate(1 day)")), Some(1));
    assert_eq!(rotation_days_of(None, Some("rate(48 hours)")), Some(2));
    assert_eq!(rotation_days_of(None, Some("cron(0 4 ? * SUN *)")), None);
    assert_eq!(rotation_days_of(None, None), None);
}
