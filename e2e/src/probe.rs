//! What the tests read back from AWS to check what the operator did, and the loops they
//! wait with.
//!
//! Probes take the SDK client they read with (the component harness's `ctx.s3`, or
//! `TestEnv::s3()` in operator tests) and panic when AWS does not answer where an answer
//! is expected: they are part of an assertion. Values come back in plain types (strings,
//! `(key, value)` tag pairs) so tests compare them with `assert_eq!`.
//!
//! The loops: [`settle_until`] repeats a step (a reconcile pass) until its result is
//! done, within a number of tries or a time; [`eventually`] polls a check until it holds
//! or a timeout passes.

use redcap_operator::aws::sdk::*;
use std::time::{Duration, Instant};

use aws_sdk_s3::types::{
    BucketVersioningStatus, ServerSideEncryptionRule, VersioningConfiguration,
};
use redcap_operator::api::tags;
use serde_json::Value;

// --------------------------------------------------------------------------- loops

/// How long [`settle_until`] may go on.
#[derive(Clone, Copy, Debug)]
pub enum Limit {
    /// At most this many tries.
    Tries(usize),
    /// Tries until this much time has passed (at least one).
    Within(Duration),
}

/// Runs `step` until `done` holds for its result, within `limit`, waiting `pause` after
/// each try that was not done. `Ok` with the result that was done, or `Err` with the last
/// one when the limit was reached.
pub async fn settle_until<T>(
    limit: Limit,
    pause: Duration,
    mut step: impl AsyncFnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> Result<T, T> {
    let start = Instant::now();
    let mut tries = 0;
    loop {
        let result = step().await;
        if done(&result) {
            return Ok(result);
        }
        tries += 1;
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        let over = match limit {
            Limit::Tries(n) => tries >= n,
            Limit::Within(d) => start.elapsed() >= d,
        };
        if over {
            return Err(result);
        }
    }
}

/// Polls `check` every 300 ms until it holds; fails after `timeout` naming `what`.
pub async fn eventually(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        if check().await? {
            return Ok(());
        }
        anyhow::ensure!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// [`eventually`] for checks that may fail while AWS or the API server catches up: an
/// error counts as "not yet" instead of ending the wait.
pub async fn eventually_despite_errors(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let step = async || check().await.unwrap_or(false);
    settle_until(Limit::Within(timeout), Duration::from_millis(300), step, |ok| *ok)
        .await
        .map(drop)
        .map_err(|_| anyhow::anyhow!("timed out waiting for {what}"))
}

// --------------------------------------------------------------------------- tags

/// Whether `tags` holds `key` = `value`.
pub fn has_tag(pairs: &[(String, String)], key: &str, value: &str) -> bool {
    pairs.iter().any(|(k, v)| k == key && v == value)
}

/// Whether `tags` holds the ownership tag `redcap.dev/uid` = `uid`.
pub fn owned_by(pairs: &[(String, String)], uid: &str) -> bool {
    has_tag(pairs, tags::UID, uid)
}

// --------------------------------------------------------------------------- S3

/// The bucket's versioning status (`Enabled`, `Suspended`, or "" when never set).
pub async fn bucket_versioning(s3: &aws_sdk_s3::Client, bucket: &str) -> String {
    s3.get_bucket_versioning()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("versioning of {bucket}: {e:?}"))
        .status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// What a human does by hand: versioning switched to `Suspended`.
pub async fn suspend_versioning(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder().status(BucketVersioningStatus::Suspended).build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("suspending versioning of {bucket}: {e:?}"));
}

/// The first rule of the bucket's default encryption.
pub async fn bucket_encryption(s3: &aws_sdk_s3::Client, bucket: &str) -> ServerSideEncryptionRule {
    let out = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("encryption of {bucket}: {e:?}"));
    out.server_side_encryption_configuration()
        .and_then(|c| c.rules().first())
        .cloned()
        .unwrap_or_else(|| panic!("{bucket} has no default encryption"))
}

/// The bucket's tags; none when it has none (or cannot be read: a bucket someone else
/// holds).
pub async fn bucket_tags(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<(String, String)> {
    s3.get_bucket_tagging()
        .bucket(bucket)
        .send()
        .await
        .map(|t| t.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
        .unwrap_or_default()
}

/// The target bucket of the bucket's access logging, if any.
pub async fn bucket_logging_target(s3: &aws_sdk_s3::Client, bucket: &str) -> Option<String> {
    s3.get_bucket_logging()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("logging of {bucket}: {e:?}"))
        .logging_enabled()
        .map(|l| l.target_bucket().to_string())
}

/// How many lifecycle rules the bucket has.
pub async fn bucket_lifecycle_rules(s3: &aws_sdk_s3::Client, bucket: &str) -> usize {
    s3.get_bucket_lifecycle_configuration()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("lifecycle of {bucket}: {e:?}"))
        .rules()
        .len()
}

/// The bucket's policy document, `None` when it has none (or cannot be read).
pub async fn bucket_policy(s3: &aws_sdk_s3::Client, bucket: &str) -> Option<String> {
    let out = s3.get_bucket_policy().bucket(bucket).send().await.ok()?;
    Some(out.policy().unwrap_or_default().to_string())
}

pub async fn bucket_exists(s3: &aws_sdk_s3::Client, bucket: &str) -> bool {
    s3.head_bucket().bucket(bucket).send().await.is_ok()
}

// --------------------------------------------------------------------------- KMS

/// The key's state (`Enabled`, `PendingDeletion`, ...); `key` is an id, ARN or alias.
pub async fn key_state(kms: &aws_sdk_kms::Client, key: &str) -> String {
    kms.describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("describing key {key}: {e:?}"))
        .key_metadata()
        .and_then(|m| m.key_state())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// The id of the key `key` (an id, ARN or alias) resolves to, or `None` when it does not
/// resolve (a deleted alias).
pub async fn key_id(kms: &aws_sdk_kms::Client, key: &str) -> Option<String> {
    let out = kms.describe_key().key_id(key).send().await.ok()?;
    out.key_metadata().map(|m| m.key_id().to_string())
}

pub async fn key_rotation_enabled(kms: &aws_sdk_kms::Client, key: &str) -> bool {
    kms.get_key_rotation_status()
        .key_id(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("rotation of {key}: {e:?}"))
        .key_rotation_enabled()
}

/// Ids of the keys tagged `redcap.dev/uid` = `uid`, every page of `ListKeys` read.
pub async fn keys_owned_by(kms: &aws_sdk_kms::Client, uid: &str) -> Vec<String> {
    let mut owned = Vec::new();
    let mut keys = kms.list_keys().into_paginator().items().send();
    while let Some(key) = keys.next().await {
        let id = key.expect("listing keys").key_id().unwrap_or_default().to_string();
        let tags = kms
            .list_resource_tags()
            .key_id(&id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("tags of key {id}: {e:?}"));
        if tags.tags().iter().any(|t| t.tag_key() == tags::UID && t.tag_value() == uid) {
            owned.push(id);
        }
    }
    owned
}

// --------------------------------------------------------------------------- Secrets Manager

/// The secret's current string.
pub async fn secret_string(sm: &aws_sdk_secretsmanager::Client, arn: &str) -> String {
    sm.get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("reading {arn}: {e:?}"))
        .secret_string()
        .unwrap_or_else(|| panic!("{arn} has no string"))
        .to_string()
}

/// The secret's current string, parsed as JSON.
pub async fn secret_json(sm: &aws_sdk_secretsmanager::Client, arn: &str) -> Value {
    let text = secret_string(sm, arn).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{arn} is not JSON: {e}"))
}

pub async fn describe_secret(
    sm: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput {
    sm.describe_secret()
        .secret_id(arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("describing {arn}: {e:?}"))
}

pub async fn secret_tags(sm: &aws_sdk_secretsmanager::Client, arn: &str) -> Vec<(String, String)> {
    describe_secret(sm, arn)
        .await
        .tags()
        .iter()
        .map(|t| {
            (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())
        })
        .collect()
}

/// Whether the secret is scheduled for deletion (still describable in its recovery window).
pub async fn secret_deleted(sm: &aws_sdk_secretsmanager::Client, arn: &str) -> bool {
    describe_secret(sm, arn).await.deleted_date().is_some()
}

// --------------------------------------------------------------------------- RDS

pub async fn cluster(rds: &aws_sdk_rds::Client, id: &str) -> Option<aws_sdk_rds::types::DbCluster> {
    rds.describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .ok()
        .and_then(|o| o.db_clusters().first().cloned())
}

/// The value of the cluster's tag `key`.
pub fn cluster_tag<'a>(c: &'a aws_sdk_rds::types::DbCluster, key: &str) -> Option<&'a str> {
    c.tag_list().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

/// Identifiers of the region's clusters tagged `redcap.dev/uid` = `uid`.
pub async fn clusters_owned_by(rds: &aws_sdk_rds::Client, uid: &str) -> Vec<String> {
    let out = rds
        .describe_db_clusters()
        .send()
        .await
        .unwrap_or_else(|e| panic!("listing clusters: {e:?}"));
    out.db_clusters()
        .iter()
        .filter(|c| cluster_tag(c, tags::UID) == Some(uid))
        .filter_map(|c| c.db_cluster_identifier().map(str::to_string))
        .collect()
}

pub async fn cluster_snapshot_exists(rds: &aws_sdk_rds::Client, id: &str) -> bool {
    rds.describe_db_cluster_snapshots()
        .db_cluster_snapshot_identifier(id)
        .send()
        .await
        .is_ok_and(|o| !o.db_cluster_snapshots().is_empty())
}

// --------------------------------------------------------------------------- others

/// The record sets of a hosted zone (the first page: these zones are small).
pub async fn record_sets(
    route53: &aws_sdk_route53::Client,
    zone_id: &str,
) -> Vec<aws_sdk_route53::types::ResourceRecordSet> {
    route53
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("records of {zone_id}: {e:?}"))
        .resource_record_sets()
        .to_vec()
}

/// The log groups whose names start with `prefix`.
pub async fn log_groups(
    logs: &aws_sdk_cloudwatchlogs::Client,
    prefix: &str,
) -> Vec<aws_sdk_cloudwatchlogs::types::LogGroup> {
    logs.describe_log_groups()
        .log_group_name_prefix(prefix)
        .send()
        .await
        .unwrap_or_else(|e| panic!("log groups {prefix}: {e:?}"))
        .log_groups()
        .to_vec()
}

/// The CodeBuild project named `name`, if it exists.
pub async fn codebuild_project(
    codebuild: &aws_sdk_codebuild::Client,
    name: &str,
) -> Option<aws_sdk_codebuild::types::Project> {
    codebuild
        .batch_get_projects()
        .names(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("project {name}: {e:?}"))
        .projects()
        .first()
        .cloned()
}

/// The permissions boundary ARN of the IAM role `name` (`None` when it has none).
pub async fn role_boundary(iam: &aws_sdk_iam::Client, name: &str) -> Option<String> {
    let out = iam.get_role().role_name(name).send().await.expect("GetRole");
    out.role()?.permissions_boundary()?.permissions_boundary_arn().map(str::to_string)
}
