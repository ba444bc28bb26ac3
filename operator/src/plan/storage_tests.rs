//! Unit tests of `plan::storage` (pure; no I/O).

use super::*;
use crate::api::tags;
use crate::plan::policy::parse_policy;

const KEY_ARN: &str = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-0000-0000-0000-000000000000";
const ACCOUNT: &str = "123456789012";

fn identity() -> EnvIdentity {
    EnvIdentity::test()
}

fn plan(spec: &StorageSpec) -> DesiredStorage {
    desired_storage(&identity(), spec, &[], KEY_ARN, ACCOUNT).expect("plan")
}

/// What AWS returns for a bucket that matches `want`, re-serialised the way S3 does.
fn in_sync(want: &DesiredBucket) -> ObservedBucket {
    let encryption = match &want.encryption {
        Encryption::Kms { key_arn } => ("aws:kms".to_string(), Some(key_arn.clone()), true),
        Encryption::S3Managed => ("AES256".to_string(), None, false),
    };
    let mut rules = want.lifecycle.clone();
    rules.reverse();
    ObservedBucket {
        name: want.name.clone(),
        tags: want.tags.clone(),
        versioning: match want.versioning {
            Some(BucketVersioning::Enabled) => Some(VersioningState::Enabled),
            Some(BucketVersioning::Suspended) => Some(VersioningState::Suspended),
            None => Some(VersioningState::Never),
        },
        encryption: Some(encryption),
        public_access_block: Some([true; 4]),
        object_ownership: Some("BucketOwnerEnforced".into()),
        policy: Some(parse_policy(&want.policy.to_string())),
        lifecycle: rules,
        logging: want.logging.clone(),
    }
}

#[test]
fn default_spec_plans_two_hardened_buckets() {
    let s = plan(&StorageSpec::default());
    let id = identity().environment_id();
    assert_eq!(s.files.name, format!("{id}-files"));
    assert_eq!(s.files.encryption, Encryption::Kms { key_arn: KEY_ARN.into() });
    assert_eq!(s.files.versioning, Some(BucketVersioning::Enabled));
    let logs = s.logs.expect("access logs on by default");
    assert_eq!(logs.name, format!("{id}-logs"));
    assert_eq!(logs.encryption, Encryption::S3Managed);
    assert_eq!(
        s.files.logging,
        Some(LoggingTarget { bucket: logs.name.clone(), prefix: "access-logs/".into() })
    );
    assert_eq!(logs.logging, None);
    assert_eq!(s.files.tags.get(tags::COMPONENT), Some("fileStorage"));
    assert_eq!(
        logs.policy["Statement"][1]["Condition"]["ArnLike"]["aws:SourceArn"],
        format!("arn:aws:s3:::{id}-files")
    );
}

#[test]
fn default_lifecycle_rules() {
    let rules = file_lifecycle(&StorageSpec::default()).expect("rules");
    let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, vec!["redcap-abort-incomplete-uploads", "redcap-transitions"]);
    assert_eq!(rules[0].abort_incomplete_upload_days, Some(7));
    assert_eq!(
        rules[1].transitions,
        vec![(90, "STANDARD_IA".to_string()), (180, "INTELLIGENT_TIERING".to_string())]
    );
}

#[test]
fn lifecycle_options() {
    let spec = StorageSpec {
        infrequent_access_after_days: 0,
        intelligent_tiering_after_days: 0,
        noncurrent_version_expiration_days: 30,
        ..StorageSpec::default()
    };
    let rules = file_lifecycle(&spec).expect("rules");
    let ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, vec!["redcap-abort-incomplete-uploads", "redcap-noncurrent-expiration"]);
    assert_eq!(rules[1].noncurrent_expiration_days, Some(30));
    let only_tiering = StorageSpec {
        infrequent_access_after_days: 0,
        intelligent_tiering_after_days: 1,
        ..StorageSpec::default()
    };
    assert_eq!(
        file_lifecycle(&only_tiering).expect("rules")[1].transitions,
        vec![(1, "INTELLIGENT_TIERING".to_string())]
    );
}

#[test]
fn lifecycle_days_are_validated_with_the_field_name() {
    let too_early = StorageSpec { infrequent_access_after_days: 10, ..StorageSpec::default() };
    let err = file_lifecycle(&too_early).expect_err("IA < 30");
    assert!(err.to_string().starts_with("spec.storage.infrequentAccessAfterDays"), "{err}");
    let too_close = StorageSpec {
        infrequent_access_after_days: 90,
        intelligent_tiering_after_days: 100,
        ..StorageSpec::default()
    };
    let err = file_lifecycle(&too_close).expect_err("tiering too close");
    assert!(err.to_string().starts_with("spec.storage.intelligentTieringAfterDays"), "{err}");
}

#[test]
fn custom_bucket_name_is_validated() {
    let spec = StorageSpec { bucket_name: Some("Bad_Name".into()), ..StorageSpec::default() };
    let err = desired_storage(&identity(), &spec, &[], KEY_ARN, ACCOUNT).expect_err("invalid");
    assert!(err.to_string().starts_with("spec.storage.bucketName"), "{err}");
    let spec =
        StorageSpec { bucket_name: Some("my-redcap-files".into()), ..StorageSpec::default() };
    assert_eq!(plan(&spec).files.name, "my-redcap-files");
}

#[test]
fn no_access_logs_means_no_log_bucket_and_logging_off() {
    let s = plan(&StorageSpec { access_logs: false, ..StorageSpec::default() });
    assert!(s.logs.is_none());
    assert_eq!(s.files.logging, None);
}

#[test]
fn in_sync_buckets_need_no_change() {
    let s = plan(&StorageSpec::default());
    assert_eq!(bucket_changes(&s.files, &in_sync(&s.files)), vec![]);
    let logs = s.logs.expect("logs");
    assert_eq!(bucket_changes(&logs, &in_sync(&logs)), vec![]);
}

#[test]
fn aws_representations_that_mean_the_same_are_not_drift() {
    let s =
        plan(&StorageSpec { versioning: BucketVersioning::Suspended, ..StorageSpec::default() });
    let mut seen = in_sync(&s.files);
    seen.versioning = Some(VersioningState::Never);
    seen.encryption =
        Some(("aws:kms".into(), Some("1234abcd-0000-0000-0000-000000000000".into()), true));
    seen.tags.insert("cost-center", "42");
    assert_eq!(bucket_changes(&s.files, &seen), vec![]);
}

#[test]
fn drift_table() {
    let s = plan(&StorageSpec::default());
    let base = in_sync(&s.files);
    let cases: Vec<(&str, ObservedBucket, &str)> = vec![
        (
            "versioning",
            ObservedBucket { versioning: Some(VersioningState::Suspended), ..base.clone() },
            "versioning",
        ),
        (
            "never versioned",
            ObservedBucket { versioning: Some(VersioningState::Never), ..base.clone() },
            "versioning",
        ),
        (
            "sse-s3",
            ObservedBucket { encryption: Some(("AES256".into(), None, false)), ..base.clone() },
            "encryption",
        ),
        (
            "no bucket key",
            ObservedBucket {
                encryption: Some(("aws:kms".into(), Some(KEY_ARN.into()), false)),
                ..base.clone()
            },
            "encryption",
        ),
        (
            "other key",
            ObservedBucket {
                encryption: Some(("aws:kms".into(), Some("other".into()), true)),
                ..base.clone()
            },
            "encryption",
        ),
        (
            "pab off",
            ObservedBucket { public_access_block: Some([true, false, true, true]), ..base.clone() },
            "public access block",
        ),
        (
            "no pab",
            ObservedBucket { public_access_block: None, ..base.clone() },
            "public access block",
        ),
        (
            "acls",
            ObservedBucket { object_ownership: Some("ObjectWriter".into()), ..base.clone() },
            "object ownership",
        ),
        ("no policy", ObservedBucket { policy: None, ..base.clone() }, "policy"),
        ("no lifecycle", ObservedBucket { lifecycle: vec![], ..base.clone() }, "lifecycle"),
        ("logging off", ObservedBucket { logging: None, ..base.clone() }, "access logging"),
    ];
    for (name, seen, want) in cases {
        let changes = bucket_changes(&s.files, &seen);
        assert_eq!(crate::plan::describe_all(&changes), want, "{name}");
    }
}

#[test]
fn foreign_lifecycle_rule_is_drift() {
    let s = plan(&StorageSpec::default());
    let mut seen = in_sync(&s.files);
    seen.lifecycle.push(LifecycleRule { id: "hand-made".into(), foreign: true, ..empty_rule() });
    assert_eq!(bucket_changes(&s.files, &seen), vec![BucketChange::Lifecycle]);
}

#[test]
fn tag_drift_writes_the_merged_set() {
    let s = plan(&StorageSpec::default());
    let mut seen = in_sync(&s.files);
    seen.tags = [("cost-center", "42"), (tags::UID, "uid-1")].into_iter().collect();
    let changes = bucket_changes(&s.files, &seen);
    let [BucketChange::Tags(written)] = changes.as_slice() else {
        panic!("only tags: {changes:?}")
    };
    assert_eq!(written.get("cost-center"), Some("42"));
    assert_eq!(written.get(tags::MANAGED_BY), Some("redcap-operator"));
}

#[test]
fn fresh_bucket_gets_everything_in_a_safe_order() {
    let s = plan(&StorageSpec::default());
    let fresh = ObservedBucket { name: s.files.name.clone(), ..ObservedBucket::default() };
    let changes = bucket_changes(&s.files, &fresh);
    assert_eq!(
        crate::plan::describe_all(&changes),
        "tags, public access block, object ownership, encryption, versioning, policy, lifecycle, access logging"
    );
}
