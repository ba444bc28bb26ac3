//! Deleting or retaining a bucket (component `fileStorage`; step: cleanup, run only on
//! the finalizer path and only for buckets `observe` reported as ours).
//!
//! Deletion empties the bucket in bounded batches (every object version, delete marker
//! and unfinished multipart upload), so one pass never runs for long: it returns
//! `Progress::InProgress` until the bucket is gone.

use std::time::Duration;

use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::plan::naming::RETAINED_TAG;
use crate::plan::tags::TagSet;

use super::{build_err, put_tags};
use crate::aws::{AwsCtx, AwsError, ErrorClass, Progress};

/// Batches of up to 1,000 deletions per pass (S3's `DeleteObjects` maximum each).
const MAX_BATCHES_PER_PASS: usize = 20;
/// When to look again while a bucket is still being emptied.
const EMPTYING_REQUEUE: Duration = Duration::from_secs(2);

/// Marks a kept bucket as retained (adds one tag, keeps the rest). Returns whether it wrote.
pub async fn retain(aws: &AwsCtx, name: &str, tags: &TagSet) -> Result<bool, AwsError> {
    if tags.get(RETAINED_TAG) == Some("true") {
        return Ok(false);
    }
    let mut marker = TagSet::new();
    marker.insert(RETAINED_TAG, "true");
    put_tags(aws, name, &marker.merged_over(tags)).await?;
    Ok(true)
}

/// Empties and deletes a bucket the environment owns.
pub async fn delete(aws: &AwsCtx, name: &str) -> Result<Progress, AwsError> {
    // The TLS-only policy denies nothing the operator sends (it uses TLS), but emulators
    // apply its Deny to every object call; the bucket is going away, so drop it first.
    if let Err(e) = aws.call(aws.s3.delete_bucket_policy().bucket(name).send()).await {
        match e.code.as_str() {
            "NoSuchBucket" => return Ok(Progress::Done),
            _ if e.is_not_found() => {}
            _ => return Err(e),
        }
    }
    for _ in 0..MAX_BATCHES_PER_PASS {
        if delete_one_batch(aws, name).await? == 0 {
            abort_uploads(aws, name).await?;
            return delete_empty(aws, name).await;
        }
    }
    Ok(Progress::InProgress {
        requeue_after: EMPTYING_REQUEUE,
        reason: format!("emptying bucket {name}"),
    })
}

/// Deletes up to 1,000 object versions and delete markers; returns how many it found.
async fn delete_one_batch(aws: &AwsCtx, name: &str) -> Result<usize, AwsError> {
    // Always list from the start: what the previous batch deleted is gone.
    let page = aws.call(aws.s3.list_object_versions().bucket(name).max_keys(1000).send()).await?;
    let mut ids = Vec::new();
    let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
    let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
    for (key, version) in versions.chain(markers) {
        let Some(key) = key else { continue };
        let id = ObjectIdentifier::builder().key(key).set_version_id(version.map(str::to_string));
        ids.push(id.build().map_err(|e| build_err("DeleteObjects", e))?);
    }
    if ids.is_empty() {
        return Ok(0);
    }
    let found = ids.len();
    let delete = Delete::builder()
        .set_objects(Some(ids))
        .quiet(true)
        .build()
        .map_err(|e| build_err("DeleteObjects", e))?;
    let out = aws.call(aws.s3.delete_objects().bucket(name).delete(delete).send()).await?;
    if let Some(first) = out.errors().first() {
        return Err(AwsError {
            service: super::SERVICE,
            operation: "DeleteObjects",
            code: first.code().unwrap_or("Unknown").to_string(),
            message: format!("{} of {found} objects could not be deleted", out.errors().len()),
            class: ErrorClass::Recoverable,
            not_found: false,
        });
    }
    Ok(found)
}

/// Unfinished multipart uploads keep a bucket from being deleted.
async fn abort_uploads(aws: &AwsCtx, name: &str) -> Result<(), AwsError> {
    let page = aws.call(aws.s3.list_multipart_uploads().bucket(name).send()).await?;
    for upload in page.uploads() {
        let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) else {
            continue;
        };
        aws.tolerate(
            &["NoSuchUpload", "NoSuchKey", "NotFound", "Http404"],
            aws.s3.abort_multipart_upload().bucket(name).key(key).upload_id(id).send(),
        )
        .await?;
    }
    Ok(())
}

async fn delete_empty(aws: &AwsCtx, name: &str) -> Result<Progress, AwsError> {
    match aws.call(aws.s3.delete_bucket().bucket(name).send()).await {
        Ok(_) => Ok(Progress::Done),
        Err(e) => {
            if e.is_not_found() {
                Ok(Progress::Done)
            } else if e.code == "BucketNotEmpty" {
                // Someone wrote while we emptied: go round again.
                Ok(Progress::InProgress {
                    requeue_after: EMPTYING_REQUEUE,
                    reason: format!("bucket {name} received new objects"),
                })
            } else {
                Err(e)
            }
        }
    }
}
