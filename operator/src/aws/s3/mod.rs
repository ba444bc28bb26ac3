//! The file bucket and the access-log bucket (component `fileStorage`; step: observe,
//! ACK's shape; creating and correcting live in `write.rs`, deletion in `cleanup.rs`).
//!
//! A bucket is only ever changed when it carries this environment's UID tag: a bucket
//! that exists without it belongs to someone else and is never touched. What drifted is
//! decided in `plan::storage`; this module only calls AWS, each call after an S3 permit.

use aws_sdk_s3::types::{BucketVersioningStatus, ExpirationStatus};

use crate::plan::policy::parse_policy;
use crate::plan::storage::{
    BucketChange, DesiredBucket, LifecycleRule, LoggingTarget, ObservedBucket, VersioningState,
    bucket_changes,
};
use crate::plan::tags::TagSet;

use super::resource::{Presence, Resource};
use super::{AwsCtx, AwsError};

pub mod cleanup;
pub mod objects;
mod write;

pub use write::{apply, create, put_tags};

pub(crate) const SERVICE: &str = "s3";

/// Codes that mean "the bucket exists but is not ours to read".
const NOT_ACCESSIBLE_CODES: &[&str] =
    &["Http403", "Forbidden", "AccessDenied", "Http301", "PermanentRedirect"];

pub(crate) fn build_err(operation: &'static str, e: impl std::error::Error) -> AwsError {
    AwsError::build(SERVICE, operation, e)
}

/// What is found under a bucket name.
#[derive(Clone, Debug, PartialEq)]
pub enum BucketPresence {
    Absent,
    /// Exists, but without this environment's UID tag. `tags` is `None` when the bucket
    /// cannot be read at all (another account's, or another region's).
    NotOurs {
        tags: Option<TagSet>,
        reason: String,
    },
    Owned(Box<ObservedBucket>),
}

/// Looks a bucket up and, when it is ours, reads every part the plan compares.
pub async fn observe(aws: &AwsCtx, name: &str, uid: &str) -> Result<BucketPresence, AwsError> {
    match aws.call(aws.s3.head_bucket().bucket(name).send()).await {
        Ok(out) => {
            if let Some(region) = out.bucket_region().filter(|r| *r != aws.region) {
                let reason = format!("bucket {name} exists in region {region}");
                return Ok(BucketPresence::NotOurs { tags: None, reason });
            }
        }
        Err(e) => {
            if e.is_not_found() {
                return Ok(BucketPresence::Absent);
            }
            if NOT_ACCESSIBLE_CODES.contains(&e.code.as_str()) {
                let reason = format!(
                    "bucket name {name} is taken: the bucket exists but the operator cannot read it \
                     (another account owns it, it is in another region, or s3:ListBucket is missing)"
                );
                return Ok(BucketPresence::NotOurs { tags: None, reason });
            }
            return Err(e);
        }
    }
    let tags = tags_of(aws, name).await?;
    if !tags.is_owned_by(uid) {
        let reason = format!(
            "bucket name {name} is taken: the bucket is not tagged as owned by this environment"
        );
        return Ok(BucketPresence::NotOurs { tags: Some(tags), reason });
    }
    let (versioning, encryption, public_access_block, object_ownership, policy, lifecycle, logging) =
        tokio::try_join!(
            versioning_of(aws, name),
            encryption_of(aws, name),
            public_access_block_of(aws, name),
            ownership_of(aws, name),
            policy_of(aws, name),
            lifecycle_of(aws, name),
            logging_of(aws, name),
        )?;
    Ok(BucketPresence::Owned(Box::new(ObservedBucket {
        name: name.to_string(),
        tags,
        versioning: Some(versioning),
        encryption,
        public_access_block,
        object_ownership,
        policy,
        lifecycle,
        logging,
    })))
}

pub(crate) async fn tags_of(aws: &AwsCtx, name: &str) -> Result<TagSet, AwsError> {
    let out = aws.find(aws.s3.get_bucket_tagging().bucket(name).send()).await?;
    Ok(out.map(|o| o.tag_set().iter().map(|t| (t.key(), t.value())).collect()).unwrap_or_default())
}

async fn versioning_of(aws: &AwsCtx, name: &str) -> Result<VersioningState, AwsError> {
    let out = aws.call(aws.s3.get_bucket_versioning().bucket(name).send()).await?;
    Ok(match out.status() {
        Some(BucketVersioningStatus::Enabled) => VersioningState::Enabled,
        Some(_) => VersioningState::Suspended,
        None => VersioningState::Never,
    })
}

async fn encryption_of(
    aws: &AwsCtx,
    name: &str,
) -> Result<Option<(String, Option<String>, bool)>, AwsError> {
    let out = aws.find(aws.s3.get_bucket_encryption().bucket(name).send()).await?;
    let rule = out
        .as_ref()
        .and_then(|o| o.server_side_encryption_configuration())
        .and_then(|c| c.rules().first());
    Ok(rule.and_then(|r| {
        let by_default = r.apply_server_side_encryption_by_default()?;
        Some((
            by_default.sse_algorithm().as_str().to_string(),
            by_default.kms_master_key_id().map(str::to_string),
            r.bucket_key_enabled().unwrap_or(false),
        ))
    }))
}

async fn public_access_block_of(aws: &AwsCtx, name: &str) -> Result<Option<[bool; 4]>, AwsError> {
    let out = aws.find(aws.s3.get_public_access_block().bucket(name).send()).await?;
    Ok(out.and_then(|o| {
        let c = o.public_access_block_configuration()?;
        Some([
            c.block_public_acls().unwrap_or(false),
            c.ignore_public_acls().unwrap_or(false),
            c.block_public_policy().unwrap_or(false),
            c.restrict_public_buckets().unwrap_or(false),
        ])
    }))
}

async fn ownership_of(aws: &AwsCtx, name: &str) -> Result<Option<String>, AwsError> {
    let out = aws.find(aws.s3.get_bucket_ownership_controls().bucket(name).send()).await?;
    Ok(out.and_then(|o| {
        o.ownership_controls()
            .and_then(|c| c.rules().first())
            .map(|r| r.object_ownership().as_str().to_string())
    }))
}

async fn policy_of(aws: &AwsCtx, name: &str) -> Result<Option<serde_json::Value>, AwsError> {
    let out = aws.find(aws.s3.get_bucket_policy().bucket(name).send()).await?;
    Ok(out.and_then(|o| o.policy().map(parse_policy)))
}

async fn lifecycle_of(aws: &AwsCtx, name: &str) -> Result<Vec<LifecycleRule>, AwsError> {
    let out = aws.find(aws.s3.get_bucket_lifecycle_configuration().bucket(name).send()).await?;
    Ok(out.map(|o| o.rules().iter().map(rule_from_aws).collect()).unwrap_or_default())
}

/// Reads a rule into the operator's shape; anything the operator does not write marks
/// it `foreign`.
fn rule_from_aws(rule: &aws_sdk_s3::types::LifecycleRule) -> LifecycleRule {
    let filter_is_whole_bucket = rule.filter().is_none_or(|f| {
        f.prefix().unwrap_or_default().is_empty()
            && f.tag().is_none()
            && f.and().is_none()
            && f.object_size_greater_than().is_none()
            && f.object_size_less_than().is_none()
    });
    // Rules written by older tools may still use the deprecated top-level `Prefix`.
    #[allow(deprecated)]
    let legacy_prefix = !rule.prefix().unwrap_or_default().is_empty();
    let foreign = !filter_is_whole_bucket
        || legacy_prefix
        || rule.expiration().is_some()
        || !rule.noncurrent_version_transitions().is_empty()
        || rule
            .noncurrent_version_expiration()
            .is_some_and(|n| n.newer_noncurrent_versions().is_some())
        || rule.transitions().iter().any(|t| t.date().is_some() || t.days().is_none());
    LifecycleRule {
        id: rule.id().unwrap_or_default().to_string(),
        enabled: *rule.status() == ExpirationStatus::Enabled,
        transitions: rule
            .transitions()
            .iter()
            .map(|t| {
                (
                    t.days().unwrap_or(0),
                    t.storage_class().map(|c| c.as_str().to_string()).unwrap_or_default(),
                )
            })
            .collect(),
        noncurrent_expiration_days: rule
            .noncurrent_version_expiration()
            .and_then(|n| n.noncurrent_days()),
        abort_incomplete_upload_days: rule
            .abort_incomplete_multipart_upload()
            .and_then(|a| a.days_after_initiation()),
        foreign,
    }
}

async fn logging_of(aws: &AwsCtx, name: &str) -> Result<Option<LoggingTarget>, AwsError> {
    let out = aws.call(aws.s3.get_bucket_logging().bucket(name).send()).await?;
    Ok(out.logging_enabled().map(|l| LoggingTarget {
        bucket: l.target_bucket().to_string(),
        prefix: l.target_prefix().to_string(),
    }))
}

/// True when the bucket holds no object (used before adopting an untagged bucket).
pub async fn is_empty(aws: &AwsCtx, name: &str) -> Result<bool, AwsError> {
    let out = aws.call(aws.s3.list_objects_v2().bucket(name).max_keys(1).send()).await?;
    Ok(out.key_count().unwrap_or(0) == 0 && out.contents().is_empty())
}

impl Resource for DesiredBucket {
    type Seen = ObservedBucket;
    type Change = BucketChange;

    fn label(&self) -> String {
        format!("bucket {}", self.name)
    }

    async fn observe(&self, aws: &AwsCtx, uid: &str) -> Result<Presence<ObservedBucket>, AwsError> {
        Ok(match observe(aws, &self.name, uid).await? {
            BucketPresence::Absent => Presence::Absent,
            BucketPresence::Owned(seen) => Presence::Owned(*seen),
            BucketPresence::NotOurs { tags: Some(tags), .. }
                if self.adoptable && tags.is_empty() && is_empty(aws, &self.name).await? =>
            {
                Presence::Foreign { adoptable: true, reason: None }
            }
            BucketPresence::NotOurs { reason, .. } => {
                Presence::Foreign { adoptable: false, reason: Some(reason) }
            }
        })
    }

    /// Creates the bucket tagged, then sets every part: a new bucket is complete within
    /// the pass that made it.
    async fn create(&self, aws: &AwsCtx) -> Result<ObservedBucket, AwsError> {
        create(aws, &self.name, &self.tags).await?;
        self.complete(aws).await
    }

    fn changes(&self, seen: &ObservedBucket) -> Vec<BucketChange> {
        bucket_changes(self, seen)
    }

    async fn update(
        &self,
        aws: &AwsCtx,
        _: &ObservedBucket,
        changes: &[BucketChange],
    ) -> Result<(), AwsError> {
        apply(aws, self, changes).await
    }

    /// Tags an untagged, empty bucket under our derived name and sets every part.
    async fn adopt(&self, aws: &AwsCtx) -> Result<ObservedBucket, AwsError> {
        put_tags(aws, &self.name, &self.tags).await?;
        self.complete(aws).await
    }
}

impl DesiredBucket {
    async fn complete(&self, aws: &AwsCtx) -> Result<ObservedBucket, AwsError> {
        let fresh = ObservedBucket {
            name: self.name.clone(),
            tags: self.tags.clone(),
            ..ObservedBucket::default()
        };
        apply(aws, self, &bucket_changes(self, &fresh)).await?;
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::types::{
        AbortIncompleteMultipartUpload, LifecycleExpiration, LifecycleRuleFilter, Transition,
        TransitionStorageClass,
    };

    fn rule() -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
        aws_sdk_s3::types::LifecycleRule::builder().id("r").status(ExpirationStatus::Enabled)
    }

    fn read(b: aws_sdk_s3::types::builders::LifecycleRuleBuilder) -> LifecycleRule {
        rule_from_aws(&b.build().expect("rule"))
    }

    #[test]
    fn whole_bucket_rules_in_our_shape_are_not_foreign() {
        let ours = read(
            rule()
                .filter(LifecycleRuleFilter::builder().prefix("").build())
                .transitions(
                    Transition::builder()
                        .days(90)
                        .storage_class(TransitionStorageClass::StandardIa)
                        .build(),
                )
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder().days_after_initiation(7).build(),
                ),
        );
        assert!(!ours.foreign);
        assert!(ours.enabled);
        assert_eq!(ours.transitions, vec![(90, "STANDARD_IA".to_string())]);
        assert_eq!(ours.abort_incomplete_upload_days, Some(7));
        // No filter at all also means the whole bucket.
        assert!(!read(rule()).foreign);
    }

    #[test]
    fn anything_the_operator_does_not_write_is_foreign() {
        let cases = [
            rule().filter(LifecycleRuleFilter::builder().prefix("tmp/").build()),
            rule().filter(LifecycleRuleFilter::builder().object_size_greater_than(1).build()),
            rule().expiration(LifecycleExpiration::builder().days(1).build()),
            rule().transitions(
                Transition::builder()
                    .date(aws_smithy_types::DateTime::from_secs(0))
                    .storage_class(TransitionStorageClass::Glacier)
                    .build(),
            ),
        ];
        for case in cases {
            assert!(read(case).foreign);
        }
    }
}
