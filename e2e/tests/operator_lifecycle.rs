//! Lifecycle of the first component (KMS key + file storage) against the real
//! kube-apiserver and moto: create, steady state, drift correction, suspend, deletion
//! under each policy, and an operator crash mid-reconcile.

use std::time::Duration;

use anyhow::Context;
use redcap_e2e::manifests::EnvironmentManifest;
use redcap_e2e::probe::{self, eventually};
use redcap_e2e::{Operator, OperatorOptions, TestEnv, is_ready};
use redcap_operator::api::{ComponentName, ComponentState, Phase, RedcapEnvironment};

const READY_TIMEOUT: Duration = Duration::from_secs(90);

fn outputs(env: &RedcapEnvironment) -> anyhow::Result<(String, String, String)> {
    let out = &env.status.as_ref().context("no status")?.outputs;
    Ok((
        out.kms_key_arn.clone().context("no kmsKeyArn output")?,
        out.file_bucket.clone().context("no fileBucket output")?,
        out.access_log_bucket.clone().context("no accessLogBucket output")?,
    ))
}

fn component_state(env: &RedcapEnvironment, name: ComponentName) -> Option<ComponentState> {
    env.status.as_ref()?.components.iter().find(|c| c.name == name).map(|c| c.state)
}

async fn versioning(env: &TestEnv, bucket: &str) -> String {
    probe::bucket_versioning(&env.s3(), bucket).await
}

async fn bucket_exists(env: &TestEnv, bucket: &str) -> bool {
    probe::bucket_exists(&env.s3(), bucket).await
}

async fn key_state(env: &TestEnv, key_arn: &str) -> String {
    probe::key_state(&env.kms(), key_arn).await
}

#[tokio::test]
async fn create_steady_state_drift_suspend_and_delete() -> anyhow::Result<()> {
    let (env, ns, mut op) = TestEnv::with_scoped_operator("lifecycle", "lifecycle").await?;

    // Create: the status contract exists from the first reconcile, then Ready.
    env.apply_yaml(&ns, &EnvironmentManifest::new("dev").yaml()).await?;
    let first = env
        .wait_env(&ns, "dev", Duration::from_secs(30), "reporting conditions", |e| {
            e.status.as_ref().is_some_and(|s| {
                ["Ready", "Reconciling", "Stalled"]
                    .iter()
                    .all(|t| s.conditions.iter().any(|c| c.type_ == *t))
            })
        })
        .await?;
    assert!(first.status.as_ref().unwrap().observed_generation.is_some());
    let ready = env.wait_ready(&ns, "dev", READY_TIMEOUT).await?;
    let status = ready.status.as_ref().unwrap();
    assert_eq!(status.phase, Some(Phase::Ready));
    assert_eq!(component_state(&ready, ComponentName::EncryptionKey), Some(ComponentState::Ready));
    assert_eq!(component_state(&ready, ComponentName::FileStorage), Some(ComponentState::Ready));
    let (key_arn, bucket, log_bucket) = outputs(&ready)?;

    // Every phase change is an Event on the object. Events are published after the status
    // write that caused them, one API call each, so look for a little while.
    let reasons = async || -> anyhow::Result<Vec<String>> {
        Ok(env
            .events(&ns)
            .await?
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("dev"))
            .filter_map(|e| e.reason)
            .collect())
    };
    let seen = eventually("a Ready event", Duration::from_secs(10), async || {
        Ok(reasons().await?.iter().any(|r| r == "Ready"))
    })
    .await;
    assert!(seen.is_ok(), "no Ready event among {:?}", reasons().await?);

    // What AWS holds matches the spec.
    let s3 = env.s3();
    assert_eq!(versioning(&env, &bucket).await, "Enabled");
    let rule = probe::bucket_encryption(&s3, &bucket).await;
    let default =
        rule.apply_server_side_encryption_by_default().context("no default encryption")?;
    assert_eq!(default.sse_algorithm().as_str(), "aws:kms");
    assert!(
        default
            .kms_master_key_id()
            .is_some_and(|k| key_arn.ends_with(k.rsplit('/').next().unwrap_or(k))),
        "bucket key {:?} is not {key_arn}",
        default.kms_master_key_id()
    );
    let pab = s3.get_public_access_block().bucket(&bucket).send().await?;
    let pab = pab.public_access_block_configuration().context("no public access block")?;
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.ignore_public_acls(),
            pab.block_public_policy(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let uid = ready.metadata.uid.clone().unwrap();
    assert!(
        probe::owned_by(&probe::bucket_tags(&s3, &bucket).await, &uid),
        "bucket not tagged with the owner UID"
    );
    assert_eq!(
        probe::bucket_logging_target(&s3, &bucket).await.as_deref(),
        Some(log_bucket.as_str())
    );
    assert!(probe::key_rotation_enabled(&env.kms(), &key_arn).await);

    // Steady state: several resyncs, zero AWS writes, no status writes.
    let writes_before = op.aws_calls("write").await?;
    let rv_before = env.environments(&ns).get("dev").await?.metadata.resource_version;
    tokio::time::sleep(Duration::from_secs(7)).await;
    let reads = op.aws_calls("read").await?;
    assert!(reads > 0.0, "expected the resyncs to read AWS");
    assert_eq!(
        op.aws_calls("write").await?,
        writes_before,
        "steady-state resyncs must not write to AWS"
    );
    assert_eq!(
        env.environments(&ns).get("dev").await?.metadata.resource_version,
        rv_before,
        "steady-state resyncs must not rewrite status"
    );

    // Drift: versioning switched off by hand comes back.
    probe::suspend_versioning(&s3, &bucket).await;
    eventually("versioning to be re-enabled", Duration::from_secs(30), async || {
        Ok(versioning(&env, &bucket).await == "Enabled")
    })
    .await?;

    // Suspend: no writes, drift stays, status says so.
    env.patch_spec(&ns, "dev", serde_json::json!({"suspend": true})).await?;
    env.wait_env(&ns, "dev", Duration::from_secs(30), "Suspended", |e| {
        e.status.as_ref().is_some_and(|s| {
            s.phase == Some(Phase::Suspended) && s.observed_generation == e.metadata.generation
        })
    })
    .await?;
    let writes_suspended = op.aws_calls("write").await?;
    probe::suspend_versioning(&s3, &bucket).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        versioning(&env, &bucket).await,
        "Suspended",
        "a suspended environment must not correct drift"
    );
    assert_eq!(
        op.aws_calls("write").await?,
        writes_suspended,
        "a suspended environment must not write to AWS"
    );

    // Resume: drift corrected, Ready again.
    env.patch_spec(&ns, "dev", serde_json::json!({"suspend": false})).await?;
    env.wait_ready(&ns, "dev", READY_TIMEOUT).await?;
    eventually("versioning to be re-enabled after resume", Duration::from_secs(30), async || {
        Ok(versioning(&env, &bucket).await == "Enabled")
    })
    .await?;

    // Delete with deletionPolicy Delete: buckets gone, key scheduled for deletion.
    env.delete_env(&ns, "dev").await?;
    env.wait_gone(&ns, "dev", Duration::from_secs(60)).await?;
    assert!(!bucket_exists(&env, &bucket).await, "file bucket should be deleted");
    assert!(!bucket_exists(&env, &log_bucket).await, "log bucket should be deleted");
    assert_eq!(key_state(&env, &key_arn).await, "PendingDeletion");

    op.stop().await?;
    Ok(())
}

#[tokio::test]
async fn snapshot_and_retain_policies_keep_the_data() -> anyhow::Result<()> {
    let (env, ns, mut op) = TestEnv::with_scoped_operator("keep", "keep").await?;

    for (name, policy) in [("snap", "Snapshot"), ("retain", "Retain")] {
        let manifest = EnvironmentManifest::new(name).deletion_policy(policy);
        env.apply_yaml(&ns, &manifest.yaml()).await?;
    }
    let mut kept = Vec::new();
    for name in ["snap", "retain"] {
        let ready = env.wait_ready(&ns, name, READY_TIMEOUT).await?;
        kept.push(outputs(&ready)?);
        env.delete_env(&ns, name).await?;
        env.wait_gone(&ns, name, Duration::from_secs(60)).await?;
    }
    for (key_arn, bucket, log_bucket) in kept {
        assert!(bucket_exists(&env, &bucket).await, "{bucket} must be kept");
        assert!(bucket_exists(&env, &log_bucket).await, "{log_bucket} must be kept");
        assert_eq!(
            key_state(&env, &key_arn).await,
            "Enabled",
            "the key of a kept bucket must stay usable"
        );
    }
    op.stop().await?;
    Ok(())
}

#[tokio::test]
async fn operator_crash_mid_reconcile_creates_no_duplicates() -> anyhow::Result<()> {
    let (env, ns, mut op) = TestEnv::with_scoped_operator("crash", "crash-1").await?;
    let created = env.apply_yaml(&ns, &EnvironmentManifest::new("crashy").yaml()).await?;
    let uid = created.metadata.uid.clone().context("no uid")?;

    // Kill the operator as soon as it has started AWS work for the object.
    env.wait_env(&ns, "crashy", Duration::from_secs(30), "reconciling", |e| e.status.is_some())
        .await?;
    op.kill().await?;
    let mut op = Operator::start(&env, "crash-2", OperatorOptions::scoped(&ns)).await?;
    let ready = env.wait_ready(&ns, "crashy", READY_TIMEOUT).await?;
    let (key_arn, _, _) = outputs(&ready)?;

    // Exactly one key carries this environment's UID.
    let owned = probe::keys_owned_by(&env.kms(), &uid).await;
    assert_eq!(owned.len(), 1, "expected exactly one KMS key for the environment, found {owned:?}");
    assert!(key_arn.ends_with(&owned[0]));

    env.delete_env(&ns, "crashy").await?;
    env.wait_gone(&ns, "crashy", Duration::from_secs(60)).await?;
    op.stop().await?;
    Ok(())
}

#[tokio::test]
async fn a_bucket_name_owned_by_someone_else_stalls_and_is_never_touched() -> anyhow::Result<()> {
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("taken").await?;
    let foreign = format!("someone-elses-bucket-{ns}");
    let s3 = env.s3();
    s3.create_bucket().bucket(&foreign).send().await?;
    s3.put_object()
        .bucket(&foreign)
        .key("precious.csv")
        .body(b"study data".to_vec().into())
        .send()
        .await?;

    let mut op = Operator::start(&env, "taken", OperatorOptions::scoped(&ns)).await?;
    env.apply_yaml(
        &ns,
        &EnvironmentManifest::new("taken")
            .spec(&format!("  storage:\n    bucketName: {foreign}"))
            .yaml(),
    )
    .await?;
    let stalled = env
        .wait_env(&ns, "taken", Duration::from_secs(60), "Stalled", redcap_e2e::is_stalled)
        .await?;
    let message = redcap_e2e::condition_message(&stalled, "Stalled");
    assert!(message.contains(&foreign), "Stalled message should name the bucket: {message}");
    assert!(!is_ready(&stalled));
    assert_eq!(stalled.status.as_ref().unwrap().phase, Some(Phase::Stalled));

    // Even deletion with deletionPolicy Delete must leave someone else's bucket alone.
    env.delete_env(&ns, "taken").await?;
    env.wait_gone(&ns, "taken", Duration::from_secs(60)).await?;
    let obj = s3.get_object().bucket(&foreign).key("precious.csv").send().await?;
    assert_eq!(obj.body.collect().await?.into_bytes().as_ref(), b"study data");
    let tags = s3.get_bucket_tagging().bucket(&foreign).send().await;
    assert!(
        tags.map(|t| t.tag_set().is_empty()).unwrap_or(true),
        "the foreign bucket must not be tagged by the operator"
    );
    op.stop().await?;
    Ok(())
}
