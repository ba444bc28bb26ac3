//! Desired state of the file bucket and its access-log bucket, and what to change
//! (step: plan; pure, no I/O).
//!
//! Both buckets: public access blocked, ACLs off (`BucketOwnerEnforced`), TLS-only
//! policy, lifecycle, ownership tags. The file bucket is encrypted with the environment's
//! KMS key (bucket key on) and logs to the log bucket. The log bucket uses SSE-S3, the
//! only default encryption S3 server access logging can deliver to.
//! Everything AWS returns is normalised first, so an in-sync bucket plans no change.

use serde_json::Value;

use crate::api::{BucketVersioning, ComponentName, StorageSpec, Tag};

use super::naming::{
    ACCESS_LOG_PREFIX, file_bucket_name, key_id_of, log_bucket_name, validate_bucket_name,
};
use super::policy::{file_bucket_policy, log_bucket_policy, same_policy};
use super::tags::TagSet;
use super::{EnvIdentity, PlanError};

/// Days after which incomplete multipart uploads are aborted.
pub const ABORT_MPU_DAYS: i32 = 7;
/// S3's minimum age for a transition to STANDARD_IA.
const MIN_IA_DAYS: u32 = 30;

/// Default encryption of a bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Encryption {
    /// SSE-KMS with this key (ARN) and an S3 bucket key.
    Kms { key_arn: String },
    /// SSE-S3 (AES256).
    S3Managed,
}

/// Server access logging target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggingTarget {
    pub bucket: String,
    pub prefix: String,
}

/// One lifecycle rule in the shape the operator writes. Rules read from AWS that use
/// anything else (prefix or tag filters, expirations, ...) get `foreign = true`, which
/// never equals a desired rule, so the configuration is rewritten.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LifecycleRule {
    pub id: String,
    pub enabled: bool,
    /// (days, storage class), sorted by days.
    pub transitions: Vec<(i32, String)>,
    pub noncurrent_expiration_days: Option<i32>,
    pub abort_incomplete_upload_days: Option<i32>,
    pub foreign: bool,
}

/// Rules sorted by id, each with sorted transitions: the order AWS returns is not drift.
pub fn normalize_rules(mut rules: Vec<LifecycleRule>) -> Vec<LifecycleRule> {
    for rule in &mut rules {
        rule.transitions.sort();
    }
    rules.sort();
    rules
}

/// Versioning as AWS reports it; `Never` (no status) is the state of a new bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersioningState {
    Never,
    Enabled,
    Suspended,
}

/// A bucket the environment should have.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredBucket {
    pub name: String,
    pub encryption: Encryption,
    /// `None`: not managed (the log bucket).
    pub versioning: Option<BucketVersioning>,
    pub policy: Value,
    pub lifecycle: Vec<LifecycleRule>,
    /// `None`: server access logging off.
    pub logging: Option<LoggingTarget>,
    pub tags: TagSet,
    /// The name is derived from the environment, so an untagged, empty bucket under it
    /// is ours from an interrupted create and may be adopted (a user-chosen name never
    /// is: it may be someone's bucket).
    pub adoptable: bool,
}

/// Both buckets of the environment.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredStorage {
    pub files: DesiredBucket,
    /// `None` when `spec.storage.accessLogs` is false.
    pub logs: Option<DesiredBucket>,
}

/// What AWS says about a bucket the environment owns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedBucket {
    pub name: String,
    pub tags: TagSet,
    pub versioning: Option<VersioningState>,
    /// (SSE algorithm, KMS key id or ARN, bucket key enabled).
    pub encryption: Option<(String, Option<String>, bool)>,
    /// The four public-access-block flags; `None` when no configuration exists.
    pub public_access_block: Option<[bool; 4]>,
    pub object_ownership: Option<String>,
    pub policy: Option<Value>,
    pub lifecycle: Vec<LifecycleRule>,
    pub logging: Option<LoggingTarget>,
}

/// One correction to a bucket. The AWS layer writes the desired value of the part.
#[derive(Clone, Debug, PartialEq)]
pub enum BucketChange {
    /// The full tag set to write (S3 replaces all tags).
    Tags(TagSet),
    PublicAccessBlock,
    Ownership,
    Encryption,
    Versioning(BucketVersioning),
    Policy,
    Lifecycle,
    Logging,
}

impl crate::plan::Describe for BucketChange {
    fn describe(&self) -> String {
        match self {
            BucketChange::Tags(_) => "tags",
            BucketChange::PublicAccessBlock => "public access block",
            BucketChange::Ownership => "object ownership",
            BucketChange::Encryption => "encryption",
            BucketChange::Versioning(_) => "versioning",
            BucketChange::Policy => "policy",
            BucketChange::Lifecycle => "lifecycle",
            BucketChange::Logging => "access logging",
        }
        .to_string()
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> PlanError {
    PlanError::InvalidSpec { field, message: message.into() }
}

/// The file bucket's lifecycle rules for a storage spec.
pub fn file_lifecycle(spec: &StorageSpec) -> Result<Vec<LifecycleRule>, PlanError> {
    let ia = spec.infrequent_access_after_days;
    let tiering = spec.intelligent_tiering_after_days;
    if ia > 0 && ia < MIN_IA_DAYS {
        return Err(invalid(
            "spec.storage.infrequentAccessAfterDays",
            format!("must be 0 or at least {MIN_IA_DAYS} (S3 minimum for STANDARD_IA), got {ia}"),
        ));
    }
    if ia > 0 && tiering > 0 && tiering < ia + MIN_IA_DAYS {
        return Err(invalid(
            "spec.storage.intelligentTieringAfterDays",
            format!(
                "must be at least infrequentAccessAfterDays + {MIN_IA_DAYS} ({}), got {tiering}",
                ia + MIN_IA_DAYS
            ),
        ));
    }
    let days = |d: u32, field| i32::try_from(d).map_err(|_| invalid(field, "is too large"));
    let mut rules = vec![abort_uploads_rule()];
    let mut transitions = Vec::new();
    if ia > 0 {
        transitions
            .push((days(ia, "spec.storage.infrequentAccessAfterDays")?, "STANDARD_IA".to_string()));
    }
    if tiering > 0 {
        transitions.push((
            days(tiering, "spec.storage.intelligentTieringAfterDays")?,
            "INTELLIGENT_TIERING".to_string(),
        ));
    }
    if !transitions.is_empty() {
        rules.push(LifecycleRule { id: "redcap-transitions".into(), transitions, ..empty_rule() });
    }
    if spec.noncurrent_version_expiration_days > 0 {
        let d = days(
            spec.noncurrent_version_expiration_days,
            "spec.storage.noncurrentVersionExpirationDays",
        )?;
        rules.push(LifecycleRule {
            id: "redcap-noncurrent-expiration".into(),
            noncurrent_expiration_days: Some(d),
            ..empty_rule()
        });
    }
    Ok(normalize_rules(rules))
}

fn empty_rule() -> LifecycleRule {
    LifecycleRule {
        id: String::new(),
        enabled: true,
        transitions: Vec::new(),
        noncurrent_expiration_days: None,
        abort_incomplete_upload_days: None,
        foreign: false,
    }
}

fn abort_uploads_rule() -> LifecycleRule {
    LifecycleRule {
        id: "redcap-abort-incomplete-uploads".into(),
        abort_incomplete_upload_days: Some(ABORT_MPU_DAYS),
        ..empty_rule()
    }
}

/// The name of the file bucket: `spec.storage.bucketName` or the derived one.
pub fn file_bucket(id: &EnvIdentity, spec: &StorageSpec) -> Result<String, PlanError> {
    match spec.bucket_name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => {
            validate_bucket_name(name).map_err(|m| invalid("spec.storage.bucketName", m))?;
            Ok(name.to_string())
        }
        None => Ok(file_bucket_name(&id.environment_id())),
    }
}

/// Both buckets. `key_arn` is the environment's KMS key; `account` the AWS account (for
/// the log delivery condition).
pub fn desired_storage(
    id: &EnvIdentity,
    spec: &StorageSpec,
    extra_tags: &[Tag],
    key_arn: &str,
    account: &str,
) -> Result<DesiredStorage, PlanError> {
    let partition = id.partition();
    let files_name = file_bucket(id, spec)?;
    let logs_name = log_bucket_name(&id.environment_id());
    let tags = id.ownership_tags(ComponentName::FileStorage, extra_tags)?;
    let logs = spec.access_logs.then(|| DesiredBucket {
        name: logs_name.clone(),
        encryption: Encryption::S3Managed,
        versioning: None,
        policy: log_bucket_policy(
            partition,
            &id.region,
            &logs_name,
            ACCESS_LOG_PREFIX,
            &files_name,
            account,
        ),
        lifecycle: vec![abort_uploads_rule()],
        logging: None,
        tags: tags.clone(),
        adoptable: true,
    });
    let files = DesiredBucket {
        encryption: Encryption::Kms { key_arn: key_arn.to_string() },
        versioning: Some(spec.versioning),
        policy: file_bucket_policy(partition, &files_name),
        lifecycle: file_lifecycle(spec)?,
        logging: spec
            .access_logs
            .then(|| LoggingTarget { bucket: logs_name, prefix: ACCESS_LOG_PREFIX.to_string() }),
        tags,
        adoptable: files_name == file_bucket_name(&id.environment_id()),
        name: files_name,
    };
    Ok(DesiredStorage { files, logs })
}

fn encryption_matches(want: &Encryption, seen: &Option<(String, Option<String>, bool)>) -> bool {
    match (want, seen) {
        (Encryption::Kms { key_arn }, Some((alg, Some(key), bucket_key))) => {
            // S3 returns the key as it was written: ARN or bare key id both name our key.
            alg == "aws:kms" && *bucket_key && (key == key_arn || key == key_id_of(key_arn))
        }
        // The bucket key flag means nothing for SSE-S3.
        (Encryption::S3Managed, Some((alg, _, _))) => alg == "AES256",
        _ => false,
    }
}

fn versioning_matches(want: BucketVersioning, seen: Option<VersioningState>) -> bool {
    match want {
        BucketVersioning::Enabled => seen == Some(VersioningState::Enabled),
        // A bucket that never had versioning keeps one version per key, like a suspended one.
        BucketVersioning::Suspended => {
            matches!(seen, Some(VersioningState::Suspended | VersioningState::Never))
        }
    }
}

/// The corrections that make `seen` match `want`, in a safe order: ownership tags first
/// (they mark the bucket as ours), then locks (public access, ACLs), then the rest.
pub fn bucket_changes(want: &DesiredBucket, seen: &ObservedBucket) -> Vec<BucketChange> {
    let mut changes = Vec::new();
    if !want.tags.missing_from(&seen.tags).is_empty() {
        changes.push(BucketChange::Tags(want.tags.merged_over(&seen.tags)));
    }
    if seen.public_access_block != Some([true; 4]) {
        changes.push(BucketChange::PublicAccessBlock);
    }
    if seen.object_ownership.as_deref() != Some("BucketOwnerEnforced") {
        changes.push(BucketChange::Ownership);
    }
    if !encryption_matches(&want.encryption, &seen.encryption) {
        changes.push(BucketChange::Encryption);
    }
    if let Some(v) = want.versioning
        && !versioning_matches(v, seen.versioning)
    {
        changes.push(BucketChange::Versioning(v));
    }
    if !seen.policy.as_ref().is_some_and(|p| same_policy(p, &want.policy)) {
        changes.push(BucketChange::Policy);
    }
    if normalize_rules(seen.lifecycle.clone()) != normalize_rules(want.lifecycle.clone()) {
        changes.push(BucketChange::Lifecycle);
    }
    if seen.logging != want.logging {
        changes.push(BucketChange::Logging);
    }
    changes
}

/// "versioning, policy" for a status message.
#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
