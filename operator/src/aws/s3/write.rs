//! Creating and correcting buckets (component `fileStorage`; step: create / update).
//!
//! Writes only what `plan::storage::bucket_changes` asked for, each call after an S3
//! permit. Called only for buckets `observe` reported as ours (or absent).

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    BucketLoggingStatus, BucketVersioningStatus, CreateBucketConfiguration, ExpirationStatus,
    LifecycleRuleFilter, LoggingEnabled, NoncurrentVersionExpiration, ObjectOwnership,
    OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, Transition, TransitionStorageClass, VersioningConfiguration,
};

use crate::api::BucketVersioning;
use crate::plan::storage::{BucketChange, DesiredBucket, Encryption, LifecycleRule};
use crate::plan::tags::TagSet;

use super::build_err;
use crate::aws::{AwsCtx, AwsError};

/// Creates the bucket in the context's region and tags it at once, so that it is
/// recognisably ours from the first moment.
pub async fn create(aws: &AwsCtx, name: &str, tags: &TagSet) -> Result<(), AwsError> {
    let mut req =
        aws.s3.create_bucket().bucket(name).object_ownership(ObjectOwnership::BucketOwnerEnforced);
    // us-east-1 is the one region that rejects an explicit location constraint.
    if aws.region != "us-east-1" {
        let constraint = BucketLocationConstraint::from(aws.region.as_str());
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder().location_constraint(constraint).build(),
        );
    }
    if let Err(e) = aws.call(req.send()).await {
        // A retry of our own create (the first answer was lost): the UID tag below makes
        // it recognisably ours.
        if e.code != "BucketAlreadyOwnedByYou" {
            return Err(e);
        }
    }
    put_tags(aws, name, tags).await
}

/// Writes the bucket's full tag set (S3 replaces all tags at once).
pub async fn put_tags(aws: &AwsCtx, name: &str, tags: &TagSet) -> Result<(), AwsError> {
    let tag_set = tags
        .iter()
        .map(|(k, v)| {
            Tag::builder().key(k).value(v).build().map_err(|e| build_err("PutBucketTagging", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let tagging = Tagging::builder()
        .set_tag_set(Some(tag_set))
        .build()
        .map_err(|e| build_err("PutBucketTagging", e))?;
    aws.run(aws.s3.put_bucket_tagging().bucket(name).tagging(tagging).send()).await
}

/// Applies the changes `plan::storage::bucket_changes` returned, in order.
pub async fn apply(
    aws: &AwsCtx,
    want: &DesiredBucket,
    changes: &[BucketChange],
) -> Result<(), AwsError> {
    let name = want.name.as_str();
    for change in changes {
        match change {
            BucketChange::Tags(tags) => put_tags(aws, name, tags).await?,
            BucketChange::PublicAccessBlock => {
                let pab = PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build();
                aws.call(
                    aws.s3
                        .put_public_access_block()
                        .bucket(name)
                        .public_access_block_configuration(pab)
                        .send(),
                )
                .await?;
            }
            BucketChange::Ownership => {
                let op = "PutBucketOwnershipControls";
                let rule = OwnershipControlsRule::builder()
                    .object_ownership(ObjectOwnership::BucketOwnerEnforced)
                    .build()
                    .map_err(|e| build_err(op, e))?;
                let controls = OwnershipControls::builder()
                    .rules(rule)
                    .build()
                    .map_err(|e| build_err(op, e))?;
                aws.call(
                    aws.s3
                        .put_bucket_ownership_controls()
                        .bucket(name)
                        .ownership_controls(controls)
                        .send(),
                )
                .await?;
            }
            BucketChange::Encryption => put_encryption(aws, name, &want.encryption).await?,
            BucketChange::Versioning(v) => {
                let status = match v {
                    BucketVersioning::Enabled => BucketVersioningStatus::Enabled,
                    BucketVersioning::Suspended => BucketVersioningStatus::Suspended,
                };
                aws.call(
                    aws.s3
                        .put_bucket_versioning()
                        .bucket(name)
                        .versioning_configuration(
                            VersioningConfiguration::builder().status(status).build(),
                        )
                        .send(),
                )
                .await?;
            }
            BucketChange::Policy => {
                aws.run(
                    aws.s3.put_bucket_policy().bucket(name).policy(want.policy.to_string()).send(),
                )
                .await?
            }
            BucketChange::Lifecycle => put_lifecycle(aws, name, &want.lifecycle).await?,
            BucketChange::Logging => {
                let mut status = BucketLoggingStatus::builder();
                if let Some(target) = &want.logging {
                    let enabled = LoggingEnabled::builder()
                        .target_bucket(&target.bucket)
                        .target_prefix(&target.prefix)
                        .build()
                        .map_err(|e| build_err("PutBucketLogging", e))?;
                    status = status.logging_enabled(enabled);
                }
                aws.call(
                    aws.s3
                        .put_bucket_logging()
                        .bucket(name)
                        .bucket_logging_status(status.build())
                        .send(),
                )
                .await?;
            }
        }
    }
    Ok(())
}

async fn put_encryption(aws: &AwsCtx, name: &str, encryption: &Encryption) -> Result<(), AwsError> {
    let op = "PutBucketEncryption";
    let (by_default, bucket_key) = match encryption {
        Encryption::Kms { key_arn } => (
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::AwsKms)
                .kms_master_key_id(key_arn),
            true,
        ),
        Encryption::S3Managed => (
            ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256),
            false,
        ),
    };
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(by_default.build().map_err(|e| build_err(op, e))?)
        .bucket_key_enabled(bucket_key)
        .build();
    let config = ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(|e| build_err(op, e))?;
    aws.run(
        aws.s3
            .put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(config)
            .send(),
    )
    .await
}

async fn put_lifecycle(aws: &AwsCtx, name: &str, rules: &[LifecycleRule]) -> Result<(), AwsError> {
    let op = "PutBucketLifecycleConfiguration";
    if rules.is_empty() {
        aws.call(aws.s3.delete_bucket_lifecycle().bucket(name).send()).await?;
        return Ok(());
    }
    let mut aws_rules = Vec::with_capacity(rules.len());
    for rule in rules {
        let mut b = aws_sdk_s3::types::LifecycleRule::builder()
            .id(&rule.id)
            .status(if rule.enabled {
                ExpirationStatus::Enabled
            } else {
                ExpirationStatus::Disabled
            })
            .filter(LifecycleRuleFilter::builder().prefix("").build());
        for (days, class) in &rule.transitions {
            b = b.transitions(
                Transition::builder()
                    .days(*days)
                    .storage_class(TransitionStorageClass::from(class.as_str()))
                    .build(),
            );
        }
        if let Some(days) = rule.noncurrent_expiration_days {
            b = b.noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder().noncurrent_days(days).build(),
            );
        }
        if let Some(days) = rule.abort_incomplete_upload_days {
            b = b.abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder().days_after_initiation(days).build(),
            );
        }
        aws_rules.push(b.build().map_err(|e| build_err(op, e))?);
    }
    let config = BucketLifecycleConfiguration::builder()
        .set_rules(Some(aws_rules))
        .build()
        .map_err(|e| build_err(op, e))?;
    aws.run(
        aws.s3
            .put_bucket_lifecycle_configuration()
            .bucket(name)
            .lifecycle_configuration(config)
            .send(),
    )
    .await
}
