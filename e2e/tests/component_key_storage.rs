//! The encryption key and file storage components against a real moto server.
//!
//! Needs `AWS_ENDPOINT_URL` pointing at the emulator (moto[server]==5.2.5 with the
//! extensions in `e2e/emulator/`, among them AWS's GetBucketVersioning answer the Rust SDK
//! needs, in `e2e/emulator/services/s3.py`), started by `bash e2e/scripts/moto.sh start
//! <dir>`. The tests fail (never skip) without it. Every test uses its own environment
//! UID, so they run in parallel on one server without a reset, and its own call metrics,
//! so "no writes" assertions count only that test's calls.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use redcap_e2e::components::{self, Harness, state, unique};
use redcap_e2e::components::{apply_components, cleanup_components};
use redcap_operator::api::{ComponentName, ComponentState, RedcapEnvironment, tags};
use redcap_operator::aws::ErrorClass;
use redcap_operator::reconcile::ComponentError;
use redcap_operator::reconcile::ledger::WriteMode;
use redcap_operator::reconcile::report::PassReport;

const REGION: &str = "eu-west-1";

async fn harness() -> Harness {
    let h = Harness::new(REGION).await;
    components::ensure_release(&h.ctx, "releases").await;
    h
}

/// A `RedcapEnvironment` as the API server would hand it over, with extra spec fields.
fn environment(spec_extra: serde_json::Value) -> RedcapEnvironment {
    components::environment(REGION, "releases", None, spec_extra)
}

fn message(pass: &PassReport, name: ComponentName) -> String {
    pass.components
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.message.clone())
        .unwrap_or_default()
}

async fn apply(h: &Harness, env: &RedcapEnvironment) -> PassReport {
    h.pass(env).await
}

/// Creates the environment and checks the second pass is clean.
async fn converge(h: &Harness, env: &RedcapEnvironment) -> PassReport {
    let first = apply(h, env).await;
    assert_eq!(
        state(&first, ComponentName::EncryptionKey),
        ComponentState::Creating,
        "{first:?}"
    );
    assert_eq!(
        state(&first, ComponentName::FileStorage),
        ComponentState::Creating,
        "{first:?}"
    );
    assert!(
        first.requeue_after.is_some(),
        "a pass that wrote asks to be verified"
    );
    settle(h, env).await;
    first
}

/// Passes until every component is Ready: the network stack is created in the pass after
/// the key's (the key policy settles first) and found complete in the next; the image's
/// role, project and build follow once the network is there.
async fn settle(h: &Harness, env: &RedcapEnvironment) {
    // The database takes three more passes after the network (create the cluster, add
    // its instances and the master password's rotation schedule, verify); the image's
    // role, project and build follow once the network is there.
    for _ in 0..8 {
        let pass = apply(h, env).await;
        if pass
            .components
            .iter()
            .all(|c| c.state == ComponentState::Ready)
        {
            return;
        }
    }
}

/// Runs one pass and asserts it wrote nothing and found everything Ready.
async fn assert_steady(h: &Harness, env: &RedcapEnvironment) -> PassReport {
    let before = h.metrics.snapshot();
    let pass = apply(h, env).await;
    let calls = h.metrics.snapshot().since(&before);
    assert_eq!(
        calls.writes(),
        0,
        "steady state wrote: {:?}",
        calls.write_operations()
    );
    assert!(calls.reads() > 0);
    for c in &pass.components {
        assert_eq!(c.state, ComponentState::Ready, "{c:?}");
        assert!(!c.wrote, "{c:?}");
    }
    assert!(pass.is_settled());
    pass
}

#[tokio::test]
async fn create_from_nothing_then_steady_state_writes_nothing() {
    let h = harness().await;
    let env = environment(serde_json::json!({}));
    let first = converge(&h, &env).await;
    let out = &first.outputs;
    let key_arn = out.kms_key_arn.clone().expect("key arn");
    let files = out.file_bucket.clone().expect("file bucket");
    let logs = out.access_log_bucket.clone().expect("log bucket");
    let alias = out.kms_key_alias.clone().expect("alias");
    assert!(alias.starts_with("alias/redcap/rc-e2e-redcap-"), "{alias}");

    // What AWS holds now.
    let key = h
        .ctx
        .kms
        .describe_key()
        .key_id(&alias)
        .send()
        .await
        .expect("alias resolves");
    let key_id = key.key_metadata().expect("metadata").key_id().to_string();
    assert!(
        h.ctx
            .kms
            .get_key_rotation_status()
            .key_id(&key_id)
            .send()
            .await
            .expect("rotation")
            .key_rotation_enabled()
    );
    let v = h
        .ctx
        .s3
        .get_bucket_versioning()
        .bucket(&files)
        .send()
        .await
        .expect("versioning");
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled));
    let enc = h
        .ctx
        .s3
        .get_bucket_encryption()
        .bucket(&files)
        .send()
        .await
        .expect("encryption");
    let rule = &enc
        .server_side_encryption_configuration()
        .expect("config")
        .rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .and_then(|d| d.kms_master_key_id()),
        Some(key_arn.as_str())
    );
    assert_eq!(rule.bucket_key_enabled(), Some(true));
    let logging = h
        .ctx
        .s3
        .get_bucket_logging()
        .bucket(&files)
        .send()
        .await
        .expect("logging");
    assert_eq!(
        logging.logging_enabled().map(|l| l.target_bucket()),
        Some(logs.as_str())
    );
    let policy = h
        .ctx
        .s3
        .get_bucket_policy()
        .bucket(&logs)
        .send()
        .await
        .expect("log policy");
    assert!(
        policy
            .policy()
            .unwrap_or_default()
            .contains("logging.s3.amazonaws.com")
    );
    let tagging = h
        .ctx
        .s3
        .get_bucket_tagging()
        .bucket(&files)
        .send()
        .await
        .expect("tags");
    let uid = env.metadata.uid.clone().expect("uid");
    assert!(
        tagging
            .tag_set()
            .iter()
            .any(|t| t.key() == tags::UID && t.value() == uid)
    );
    let lifecycle = h
        .ctx
        .s3
        .get_bucket_lifecycle_configuration()
        .bucket(&files)
        .send()
        .await
        .expect("lifecycle");
    assert_eq!(lifecycle.rules().len(), 2);

    let before = h.metrics.snapshot();
    let steady = assert_steady(&h, &env).await;
    // The network's outputs appear once its stack is complete (the pass after the create).
    assert_eq!(steady.outputs.kms_key_arn, first.outputs.kms_key_arn);
    assert_eq!(steady.outputs.file_bucket, first.outputs.file_bucket);
    // The database's master secret joins the list once its cluster exists.
    let without_database = |p: &PassReport| -> Vec<_> {
        p.outputs
            .secrets
            .iter()
            .filter(|s| s.name != "databaseMaster")
            .cloned()
            .collect()
    };
    assert_eq!(without_database(&steady), without_database(&first));
    assert_eq!(steady.outputs.email, first.outputs.email);
    assert!(steady.outputs.vpc_id.is_some(), "{:?}", steady.outputs);
    // The resync budget: 4 KMS reads for the key (with its policy), 9 S3 reads per
    // bucket, one DescribeStacks for the network, 1 for the salt, 4 per credential set
    // (user, policy, secret, keys), 4 for email (identity, topic tags, configuration
    // set, subscriptions), 6 for the database (subnet group, parameters, cluster,
    // instances, master secret, log groups), and 18 for the image (repository with its
    // tags and lifecycle policy, log group and its tags, the build bucket's 9, role and its
    // policy, the project, and the image itself; no build is looked at once the image exists).
    let reads = h.metrics.snapshot().since(&before).reads();
    assert!(reads <= 60, "a steady-state pass made {reads} reads");
    let again = assert_steady(&h, &env).await;
    assert_eq!(again.outputs, steady.outputs, "outputs are stable");
}

#[tokio::test]
async fn hand_made_drift_is_corrected_then_steady() {
    let h = harness().await;
    let env = environment(serde_json::json!({}));
    let first = converge(&h, &env).await;
    let files = first.outputs.file_bucket.clone().expect("bucket");
    let key_arn = first.outputs.kms_key_arn.clone().expect("key");

    // A human switches versioning off, deletes the lifecycle and schedules the key for deletion.
    let suspended = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Suspended)
        .build();
    h.ctx
        .s3
        .put_bucket_versioning()
        .bucket(&files)
        .versioning_configuration(suspended)
        .send()
        .await
        .expect("suspend");
    h.ctx
        .s3
        .delete_bucket_lifecycle()
        .bucket(&files)
        .send()
        .await
        .expect("delete lifecycle");
    // By key id: moto's ScheduleKeyDeletion does not resolve ARNs.
    let key_id = key_arn.rsplit('/').next().expect("key id").to_string();
    h.ctx
        .kms
        .schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .expect("schedule");

    let fixed = apply(&h, &env).await;
    assert_eq!(
        state(&fixed, ComponentName::FileStorage),
        ComponentState::Updating,
        "{fixed:?}"
    );
    assert_eq!(
        state(&fixed, ComponentName::EncryptionKey),
        ComponentState::Updating,
        "{fixed:?}"
    );
    let msg = message(&fixed, ComponentName::FileStorage);
    assert!(
        msg.contains("versioning") && msg.contains("lifecycle"),
        "{msg}"
    );
    assert!(message(&fixed, ComponentName::EncryptionKey).contains("scheduled deletion"));

    let v = h
        .ctx
        .s3
        .get_bucket_versioning()
        .bucket(&files)
        .send()
        .await
        .expect("versioning");
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled));
    let key = h
        .ctx
        .kms
        .describe_key()
        .key_id(&key_arn)
        .send()
        .await
        .expect("key");
    assert_eq!(
        key.key_metadata()
            .and_then(|m| m.key_state())
            .map(|s| s.as_str()),
        Some("Enabled")
    );
    assert!(
        h.ctx
            .kms
            .get_key_rotation_status()
            .key_id(&key_arn)
            .send()
            .await
            .expect("rotation")
            .key_rotation_enabled()
    );

    assert_steady(&h, &env).await;
}

#[tokio::test]
async fn observe_only_reports_drift_without_writing() {
    let h = harness().await;
    let fresh = environment(serde_json::json!({}));
    let before = h.metrics.snapshot();
    let pass = apply_components(&h.ctx, &h.store, &fresh, WriteMode::ObserveOnly)
        .await
        .expect("observe");
    assert_eq!(h.metrics.snapshot().since(&before).writes(), 0);
    assert_eq!(
        state(&pass, ComponentName::EncryptionKey),
        ComponentState::Pending
    );
    assert_eq!(
        state(&pass, ComponentName::FileStorage),
        ComponentState::Pending
    );

    let env = environment(serde_json::json!({}));
    let first = converge(&h, &env).await;
    let files = first.outputs.file_bucket.clone().expect("bucket");
    let suspended = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Suspended)
        .build();
    h.ctx
        .s3
        .put_bucket_versioning()
        .bucket(&files)
        .versioning_configuration(suspended)
        .send()
        .await
        .expect("suspend");

    let before = h.metrics.snapshot();
    let pass = apply_components(&h.ctx, &h.store, &env, WriteMode::ObserveOnly)
        .await
        .expect("observe");
    assert_eq!(h.metrics.snapshot().since(&before).writes(), 0);
    assert_eq!(
        state(&pass, ComponentName::FileStorage),
        ComponentState::Updating
    );
    assert!(message(&pass, ComponentName::FileStorage).contains("versioning"));
    let v = h
        .ctx
        .s3
        .get_bucket_versioning()
        .bucket(&files)
        .send()
        .await
        .expect("versioning");
    assert_eq!(
        v.status(),
        Some(&BucketVersioningStatus::Suspended),
        "suspended mode must not write"
    );
}

#[tokio::test]
async fn crash_between_create_key_and_alias_adopts_the_tagged_key() {
    let h = harness().await;
    let env = environment(serde_json::json!({}));
    let uid = env.metadata.uid.clone().expect("uid");
    // What an interrupted first pass leaves: a key with our tags and no alias.
    let tag = |k: &str, v: &str| {
        aws_sdk_kms::types::Tag::builder()
            .tag_key(k)
            .tag_value(v)
            .build()
            .expect("tag")
    };
    let orphan = h
        .ctx
        .kms
        .create_key()
        .description("interrupted")
        .tags(tag(tags::UID, &uid))
        .tags(tag(tags::MANAGED_BY, tags::MANAGED_BY_VALUE))
        .send()
        .await
        .expect("orphan key");
    let orphan_id = orphan
        .key_metadata()
        .expect("metadata")
        .key_id()
        .to_string();

    let pass = apply(&h, &env).await;
    let key = pass
        .components
        .iter()
        .find(|c| c.name == ComponentName::EncryptionKey)
        .expect("key");
    assert_eq!(
        key.id.as_deref(),
        Some(orphan_id.as_str()),
        "the orphan is adopted, not duplicated"
    );
    assert!(
        key.message
            .as_deref()
            .unwrap_or_default()
            .contains("adopted"),
        "{key:?}"
    );
    let alias = pass.outputs.kms_key_alias.clone().expect("alias");
    let resolved = h
        .ctx
        .kms
        .describe_key()
        .key_id(&alias)
        .send()
        .await
        .expect("alias");
    assert_eq!(
        resolved.key_metadata().map(|m| m.key_id()),
        Some(orphan_id.as_str())
    );
    settle(&h, &env).await;
    assert_steady(&h, &env).await;
}

#[tokio::test]
async fn bucket_name_held_by_someone_else_is_terminal_and_untouched() {
    let h = harness().await;
    let taken = format!("someone-else-{}", unique());
    h.ctx
        .s3
        .create_bucket()
        .bucket(&taken)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
                .build(),
        )
        .send()
        .await
        .expect("foreign bucket");
    h.ctx
        .s3
        .put_object()
        .bucket(&taken)
        .key("theirs.txt")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("object");

    let env = environment(serde_json::json!({"storage": {"bucketName": taken}}));
    let err = apply_components(&h.ctx, &h.store, &env, WriteMode::Apply)
        .await
        .expect_err("name taken");
    assert_eq!(err.class(), ErrorClass::Terminal, "{err}");
    assert_eq!(err.component(), ComponentName::FileStorage);
    match &err {
        ComponentError::Aws { source, .. } => assert_eq!(source.code, "BucketNameTaken", "{err}"),
        other => panic!("unexpected error {other}"),
    }
    // Untouched: no tags, no policy, the object still there.
    let tags = h.ctx.s3.get_bucket_tagging().bucket(&taken).send().await;
    assert!(tags.map(|t| t.tag_set().is_empty()).unwrap_or(true));
    assert!(
        h.ctx
            .s3
            .get_bucket_policy()
            .bucket(&taken)
            .send()
            .await
            .is_err()
    );
    h.ctx
        .s3
        .head_object()
        .bucket(&taken)
        .key("theirs.txt")
        .send()
        .await
        .expect("object kept");
}

/// Puts versioned objects and a delete marker into a bucket that has the TLS-only policy
/// (moto applies its Deny to object calls, so the policy is lifted and put back).
async fn fill_bucket(h: &Harness, bucket: &str) {
    let policy = h
        .ctx
        .s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .expect("policy");
    h.ctx
        .s3
        .delete_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .expect("lift policy");
    for body in [&b"v1"[..], &b"v2"[..]] {
        h.ctx
            .s3
            .put_object()
            .bucket(bucket)
            .key("edocs/a.pdf")
            .body(ByteStream::from_static(body))
            .send()
            .await
            .expect("put");
    }
    h.ctx
        .s3
        .put_object()
        .bucket(bucket)
        .key("edocs/b.pdf")
        .body(ByteStream::from_static(b"b"))
        .send()
        .await
        .expect("put");
    h.ctx
        .s3
        .delete_object()
        .bucket(bucket)
        .key("edocs/b.pdf")
        .send()
        .await
        .expect("delete marker");
    h.ctx
        .s3
        .put_bucket_policy()
        .bucket(bucket)
        .policy(policy.policy().unwrap_or_default())
        .send()
        .await
        .expect("restore policy");
}

async fn cleanup_until_done(h: &Harness, env: &RedcapEnvironment) -> PassReport {
    for _ in 0..20 {
        let pass = cleanup_components(&h.ctx, env).await.expect("cleanup");
        if pass.requeue_after.is_none() {
            return pass;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cleanup did not finish");
}

#[tokio::test]
async fn deletion_policy_delete_empties_and_removes_everything() {
    let h = harness().await;
    let env = environment(serde_json::json!({"deletionPolicy": "Delete"}));
    let first = converge(&h, &env).await;
    let files = first.outputs.file_bucket.clone().expect("bucket");
    let logs = first.outputs.access_log_bucket.clone().expect("logs");
    let key_arn = first.outputs.kms_key_arn.clone().expect("key");
    fill_bucket(&h, &files).await;

    let pass = cleanup_until_done(&h, &env).await;
    let order: Vec<ComponentName> = pass.components.iter().map(|c| c.name).collect();
    let mut reverse = ComponentName::all().collect::<Vec<_>>();
    reverse.reverse();
    assert_eq!(order, reverse, "reverse order");
    assert_eq!(
        state(&pass, ComponentName::FileStorage),
        ComponentState::Deleted,
        "{pass:?}"
    );
    assert_eq!(
        state(&pass, ComponentName::EncryptionKey),
        ComponentState::Deleted,
        "{pass:?}"
    );
    for bucket in [&files, &logs] {
        assert!(
            h.ctx.s3.head_bucket().bucket(bucket).send().await.is_err(),
            "{bucket} deleted"
        );
    }
    let key = h
        .ctx
        .kms
        .describe_key()
        .key_id(&key_arn)
        .send()
        .await
        .expect("key still listed");
    assert_eq!(
        key.key_metadata()
            .and_then(|m| m.key_state())
            .map(|s| s.as_str()),
        Some("PendingDeletion")
    );
    let alias = first.outputs.kms_key_alias.clone().expect("alias");
    assert!(
        h.ctx
            .kms
            .describe_key()
            .key_id(&alias)
            .send()
            .await
            .is_err(),
        "alias deleted"
    );

    // Idempotent: a second cleanup finds nothing to do and does not cancel the deletion.
    let again = cleanup_until_done(&h, &env).await;
    assert_eq!(
        state(&again, ComponentName::EncryptionKey),
        ComponentState::Deleted
    );
    let key = h
        .ctx
        .kms
        .describe_key()
        .key_id(&key_arn)
        .send()
        .await
        .expect("key");
    assert_eq!(
        key.key_metadata()
            .and_then(|m| m.key_state())
            .map(|s| s.as_str()),
        Some("PendingDeletion")
    );
}

async fn assert_retained(policy: &str) {
    let h = harness().await;
    let env = environment(serde_json::json!({"deletionPolicy": policy}));
    let first = converge(&h, &env).await;
    let files = first.outputs.file_bucket.clone().expect("bucket");
    let key_arn = first.outputs.kms_key_arn.clone().expect("key");

    let pass = cleanup_until_done(&h, &env).await;
    assert_eq!(
        state(&pass, ComponentName::FileStorage),
        ComponentState::Retained,
        "{pass:?}"
    );
    assert_eq!(
        state(&pass, ComponentName::EncryptionKey),
        ComponentState::Retained,
        "{pass:?}"
    );
    let tagging = h
        .ctx
        .s3
        .get_bucket_tagging()
        .bucket(&files)
        .send()
        .await
        .expect("tags");
    assert!(
        tagging
            .tag_set()
            .iter()
            .any(|t| t.key() == "redcap.dev/retained" && t.value() == "true")
    );
    let key = h
        .ctx
        .kms
        .describe_key()
        .key_id(&key_arn)
        .send()
        .await
        .expect("key");
    assert_eq!(
        key.key_metadata()
            .and_then(|m| m.key_state())
            .map(|s| s.as_str()),
        Some("Enabled")
    );
    let alias = first.outputs.kms_key_alias.clone().expect("alias");
    h.ctx
        .kms
        .describe_key()
        .key_id(&alias)
        .send()
        .await
        .expect("alias kept");

    let before = h.metrics.snapshot();
    cleanup_until_done(&h, &env).await;
    assert_eq!(
        h.metrics.snapshot().since(&before).writes(),
        0,
        "retaining twice writes nothing"
    );
}

#[tokio::test]
async fn deletion_policy_retain_keeps_and_marks_everything() {
    assert_retained("Retain").await;
}

#[tokio::test]
async fn deletion_policy_snapshot_keeps_buckets_and_key() {
    assert_retained("Snapshot").await;
}

#[tokio::test]
async fn crash_between_create_bucket_and_tagging_adopts_the_empty_bucket() {
    let h = harness().await;
    let env = environment(serde_json::json!({}));
    let uid = env.metadata.uid.clone().expect("uid");
    let env_id = redcap_operator::plan::naming::environment_id("e2e", "redcap", &uid);
    let files = redcap_operator::plan::naming::file_bucket_name(&env_id);
    // What an interrupted create leaves: the bucket under our derived name, untagged, empty.
    h.ctx
        .s3
        .create_bucket()
        .bucket(&files)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
                .build(),
        )
        .send()
        .await
        .expect("bucket");

    let pass = apply(&h, &env).await;
    assert_eq!(pass.outputs.file_bucket.as_deref(), Some(files.as_str()));
    assert!(
        message(&pass, ComponentName::FileStorage).contains("adopted"),
        "{pass:?}"
    );
    let tagging = h
        .ctx
        .s3
        .get_bucket_tagging()
        .bucket(&files)
        .send()
        .await
        .expect("tags");
    assert!(
        tagging
            .tag_set()
            .iter()
            .any(|t| t.key() == tags::UID && t.value() == uid)
    );
    settle(&h, &env).await;
    assert_steady(&h, &env).await;
}

#[tokio::test]
async fn without_access_logs_and_versioning_the_steady_state_still_writes_nothing() {
    let h = harness().await;
    let env = environment(serde_json::json!({
        "storage": {"accessLogs": false, "versioning": "Suspended", "noncurrentVersionExpirationDays": 30}
    }));
    let first = converge(&h, &env).await;
    assert_eq!(first.outputs.access_log_bucket, None);
    let files = first.outputs.file_bucket.clone().expect("bucket");
    let logging = h
        .ctx
        .s3
        .get_bucket_logging()
        .bucket(&files)
        .send()
        .await
        .expect("logging");
    assert!(logging.logging_enabled().is_none());
    let lifecycle = h
        .ctx
        .s3
        .get_bucket_lifecycle_configuration()
        .bucket(&files)
        .send()
        .await
        .expect("lifecycle");
    assert_eq!(lifecycle.rules().len(), 3);
    assert_steady(&h, &env).await;
}
