//! The encryption key and file storage components against a real moto server.
//!
//! Needs `AWS_ENDPOINT_URL` pointing at the emulator (moto[server]==5.2.5 with the
//! extensions in `e2e/emulator/`, among them AWS's GetBucketVersioning answer the Rust SDK
//! needs, in `e2e/emulator/services/s3.py`), started by `bash e2e/scripts/moto.sh start
//! <dir>`. The tests fail (never skip) without it. Every test uses its own environment
//! UID, so they run in parallel on one server without a reset, and its own call metrics,
//! so "no writes" assertions count only that test's calls.

use aws_sdk_s3::primitives::ByteStream;
use redcap_e2e::components::{self, Harness, message, state, unique};
use redcap_e2e::probe;
use redcap_operator::api::{ComponentName, ComponentState, RedcapEnvironment, tags};
use redcap_operator::aws::ErrorClass;
use redcap_operator::aws::sdk::*;
use redcap_operator::reconcile::ComponentError;
use redcap_operator::reconcile::ledger::WriteMode;
use redcap_operator::reconcile::report::PassReport;

const REGION: &str = "eu-west-1";

async fn harness() -> Harness {
    Harness::with_release(REGION, "releases").await
}

/// A `RedcapEnvironment` as the API server would hand it over, with extra spec fields.
fn environment(spec_extra: serde_json::Value) -> RedcapEnvironment {
    components::environment(REGION, "releases", None, spec_extra)
}

/// Asserts the state both components of this file report.
fn assert_key_and_storage(pass: &PassReport, want: ComponentState) {
    components::assert_states(
        pass,
        &[(ComponentName::EncryptionKey, want), (ComponentName::FileStorage, want)],
    );
}

/// Creates the environment and checks the second pass is clean.
async fn converge(h: &Harness, env: &RedcapEnvironment) -> PassReport {
    let first = h.pass(env).await;
    assert_key_and_storage(&first, ComponentState::Creating);
    assert!(first.requeue_after.is_some(), "a pass that wrote asks to be verified");
    settle(h, env).await;
    first
}

/// Passes until every component is Ready: the network stack is created in the pass after
/// the key's (the key policy settles first) and found complete in the next; the database
/// takes three more passes after the network (create the cluster, add its instances and
/// the master password's rotation schedule, verify); the image's role, project and build
/// follow once the network is there.
async fn settle(h: &Harness, env: &RedcapEnvironment) {
    h.settle(env, 8).await;
}

/// Runs one pass and asserts it wrote nothing and found everything Ready.
async fn assert_steady(h: &Harness, env: &RedcapEnvironment) -> PassReport {
    let (pass, calls) = h.counted(h.pass(env)).await;
    components::assert_steady(&calls, &pass);
    assert!(calls.reads() > 0);
    for c in &pass.components {
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
    let (kms, s3) = (&h.ctx.kms, &h.ctx.s3);
    let key_id = probe::key_id(kms, &alias).await.expect("alias resolves");
    assert!(probe::key_rotation_enabled(kms, &key_id).await);
    assert_eq!(probe::bucket_versioning(s3, &files).await, "Enabled");
    let rule = probe::bucket_encryption(s3, &files).await;
    assert_eq!(
        rule.apply_server_side_encryption_by_default().and_then(|d| d.kms_master_key_id()),
        Some(key_arn.as_str())
    );
    assert_eq!(rule.bucket_key_enabled(), Some(true));
    assert_eq!(probe::bucket_logging_target(s3, &files).await.as_deref(), Some(logs.as_str()));
    let policy = probe::bucket_policy(s3, &logs).await.expect("log policy");
    assert!(policy.contains("logging.s3.amazonaws.com"));
    let uid = env.metadata.uid.clone().expect("uid");
    assert!(probe::owned_by(&probe::bucket_tags(s3, &files).await, &uid));
    assert_eq!(probe::bucket_lifecycle_rules(s3, &files).await, 2);

    let before = h.metrics.snapshot();
    let steady = assert_steady(&h, &env).await;
    // The network's outputs appear once its stack is complete (the pass after the create).
    assert_eq!(steady.outputs.kms_key_arn, first.outputs.kms_key_arn);
    assert_eq!(steady.outputs.file_bucket, first.outputs.file_bucket);
    // The database's master secret joins the list once its cluster exists.
    assert_eq!(
        components::secrets_but_database_master(&steady),
        components::secrets_but_database_master(&first)
    );
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
    probe::suspend_versioning(&h.ctx.s3, &files).await;
    h.ctx.s3.delete_bucket_lifecycle().bucket(&files).send().await.expect("delete lifecycle");
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

    let fixed = h.pass(&env).await;
    assert_key_and_storage(&fixed, ComponentState::Updating);
    let msg = message(&fixed, ComponentName::FileStorage);
    assert!(msg.contains("versioning") && msg.contains("lifecycle"), "{msg}");
    assert!(message(&fixed, ComponentName::EncryptionKey).contains("scheduled deletion"));

    assert_eq!(probe::bucket_versioning(&h.ctx.s3, &files).await, "Enabled");
    assert_eq!(probe::key_state(&h.ctx.kms, &key_arn).await, "Enabled");
    assert!(probe::key_rotation_enabled(&h.ctx.kms, &key_arn).await);

    assert_steady(&h, &env).await;
}

#[tokio::test]
async fn observe_only_reports_drift_without_writing() {
    let h = harness().await;
    let fresh = environment(serde_json::json!({}));
    let (pass, calls) = h.counted(h.try_pass(&fresh, WriteMode::ObserveOnly)).await;
    let pass = pass.expect("observe");
    assert_eq!(calls.writes(), 0);
    assert_key_and_storage(&pass, ComponentState::Pending);

    let env = environment(serde_json::json!({}));
    let first = converge(&h, &env).await;
    let files = first.outputs.file_bucket.clone().expect("bucket");
    probe::suspend_versioning(&h.ctx.s3, &files).await;

    let (pass, calls) = h.counted(h.try_pass(&env, WriteMode::ObserveOnly)).await;
    let pass = pass.expect("observe");
    assert_eq!(calls.writes(), 0);
    assert_eq!(state(&pass, ComponentName::FileStorage), ComponentState::Updating);
    assert!(message(&pass, ComponentName::FileStorage).contains("versioning"));
    assert_eq!(
        probe::bucket_versioning(&h.ctx.s3, &files).await,
        "Suspended",
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
        aws_sdk_kms::types::Tag::builder().tag_key(k).tag_value(v).build().expect("tag")
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
    let orphan_id = orphan.key_metadata().expect("metadata").key_id().to_string();

    let pass = h.pass(&env).await;
    let key = components::report(&pass, ComponentName::EncryptionKey);
    assert_eq!(
        key.id.as_deref(),
        Some(orphan_id.as_str()),
        "the orphan is adopted, not duplicated"
    );
    assert!(key.message.as_deref().unwrap_or_default().contains("adopted"), "{key:?}");
    let alias = pass.outputs.kms_key_alias.clone().expect("alias");
    assert_eq!(probe::key_id(&h.ctx.kms, &alias).await.as_deref(), Some(orphan_id.as_str()));
    settle(&h, &env).await;
    assert_steady(&h, &env).await;
}

/// Creates `bucket` in the test's region as someone (or something) else would.
async fn create_bucket(h: &Harness, bucket: &str) {
    h.ctx
        .s3
        .create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(REGION))
                .build(),
        )
        .send()
        .await
        .expect("bucket");
}

/// Puts `body` under `key`.
async fn put(h: &Harness, bucket: &str, key: &str, body: &'static [u8]) {
    h.ctx
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .expect("put");
}

#[tokio::test]
async fn bucket_name_held_by_someone_else_is_terminal_and_untouched() {
    let h = harness().await;
    let taken = format!("someone-else-{}", unique());
    create_bucket(&h, &taken).await;
    put(&h, &taken, "theirs.txt", b"x").await;

    let env = environment(serde_json::json!({"storage": {"bucketName": taken}}));
    let err = h.failing_pass(&env).await;
    assert_eq!(err.class(), ErrorClass::Terminal, "{err}");
    assert_eq!(err.component(), ComponentName::FileStorage);
    match &err {
        ComponentError::Aws { source, .. } => {
            assert_eq!(source.code, "NotOwned", "{err}");
            assert!(source.message.contains("is taken"), "{err}");
        }
        other => panic!("unexpected error {other}"),
    }
    // Untouched: no tags, no policy, the object still there.
    assert!(probe::bucket_tags(&h.ctx.s3, &taken).await.is_empty());
    assert!(probe::bucket_policy(&h.ctx.s3, &taken).await.is_none());
    h.ctx.s3.head_object().bucket(&taken).key("theirs.txt").send().await.expect("object kept");
}

/// Puts versioned objects and a delete marker into a bucket that has the TLS-only policy
/// (moto applies its Deny to object calls, so the policy is lifted and put back).
async fn fill_bucket(h: &Harness, bucket: &str) {
    let policy = probe::bucket_policy(&h.ctx.s3, bucket).await.expect("policy");
    h.ctx.s3.delete_bucket_policy().bucket(bucket).send().await.expect("lift policy");
    for body in [&b"v1"[..], &b"v2"[..]] {
        put(h, bucket, "edocs/a.pdf", body).await;
    }
    put(h, bucket, "edocs/b.pdf", b"b").await;
    h.ctx.s3.delete_object().bucket(bucket).key("edocs/b.pdf").send().await.expect("delete marker");
    h.ctx
        .s3
        .put_bucket_policy()
        .bucket(bucket)
        .policy(policy)
        .send()
        .await
        .expect("restore policy");
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

    let pass = h.cleanup_until_done(&env).await;
    let order: Vec<ComponentName> = pass.components.iter().map(|c| c.name).collect();
    let mut reverse = ComponentName::all().collect::<Vec<_>>();
    reverse.reverse();
    assert_eq!(order, reverse, "reverse order");
    assert_key_and_storage(&pass, ComponentState::Deleted);
    for bucket in [&files, &logs] {
        assert!(!probe::bucket_exists(&h.ctx.s3, bucket).await, "{bucket} deleted");
    }
    // Still listed ("key still listed"), pending deletion.
    assert_eq!(probe::key_state(&h.ctx.kms, &key_arn).await, "PendingDeletion");
    let alias = first.outputs.kms_key_alias.clone().expect("alias");
    assert!(probe::key_id(&h.ctx.kms, &alias).await.is_none(), "alias deleted");

    // Idempotent: a second cleanup finds nothing to do and does not cancel the deletion.
    let again = h.cleanup_until_done(&env).await;
    assert_eq!(state(&again, ComponentName::EncryptionKey), ComponentState::Deleted);
    assert_eq!(probe::key_state(&h.ctx.kms, &key_arn).await, "PendingDeletion");
}

async fn assert_retained(policy: &str) {
    let h = harness().await;
    let env = environment(serde_json::json!({"deletionPolicy": policy}));
    let first = converge(&h, &env).await;
    let files = first.outputs.file_bucket.clone().expect("bucket");
    let key_arn = first.outputs.kms_key_arn.clone().expect("key");

    let pass = h.cleanup_until_done(&env).await;
    assert_key_and_storage(&pass, ComponentState::Retained);
    assert!(probe::has_tag(
        &probe::bucket_tags(&h.ctx.s3, &files).await,
        "redcap.dev/retained",
        "true"
    ));
    assert_eq!(probe::key_state(&h.ctx.kms, &key_arn).await, "Enabled");
    let alias = first.outputs.kms_key_alias.clone().expect("alias");
    assert!(probe::key_id(&h.ctx.kms, &alias).await.is_some(), "alias kept");

    let (_, calls) = h.counted(h.cleanup_until_done(&env)).await;
    assert_eq!(calls.writes(), 0, "retaining twice writes nothing: {:?}", calls.write_operations());
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
    let files = redcap_operator::plan::naming::file_bucket_name(&components::environment_id(&env));
    // What an interrupted create leaves: the bucket under our derived name, untagged, empty.
    create_bucket(&h, &files).await;

    let pass = h.pass(&env).await;
    assert_eq!(pass.outputs.file_bucket.as_deref(), Some(files.as_str()));
    assert!(message(&pass, ComponentName::FileStorage).contains("adopted"), "{pass:?}");
    assert!(probe::owned_by(&probe::bucket_tags(&h.ctx.s3, &files).await, &uid));
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
    assert!(probe::bucket_logging_target(&h.ctx.s3, &files).await.is_none());
    assert_eq!(probe::bucket_lifecycle_rules(&h.ctx.s3, &files).await, 3);
    assert_steady(&h, &env).await;
}
