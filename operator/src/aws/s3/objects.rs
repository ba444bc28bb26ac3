//! S3 objects of the image build: the uploaded context zip, and the inputs the spec
//! points at (release zip, language files), checked before a build is started so a
//! missing one is reported with its bucket and key instead of failing the build later.

use aws_sdk_s3::primitives::ByteStream;

use crate::aws::{AwsCtx, AwsError};

/// What a `HeadObject` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presence {
    Present,
    Missing,
    /// S3 refused to say (the operator may not read it, or the bucket is elsewhere):
    /// the AWS code.
    Unreadable(String),
}

/// Whether `s3://bucket/key` exists.
pub async fn head(aws: &AwsCtx, bucket: &str, key: &str) -> Result<Presence, AwsError> {
    match aws.call(aws.s3.head_object().bucket(bucket).key(key).send()).await {
        Ok(_) => Ok(Presence::Present),
        Err(e) => match e.code.as_str() {
            "NotFound" | "NoSuchKey" | "NoSuchBucket" | "Http404" => Ok(Presence::Missing),
            "Forbidden" | "AccessDenied" | "Http403" | "Http301" | "PermanentRedirect" => {
                Ok(Presence::Unreadable(e.code))
            }
            _ => Err(e),
        },
    }
}

/// Writes `bytes` to `s3://bucket/key` (the bucket's default encryption applies).
pub async fn put(aws: &AwsCtx, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), AwsError> {
    aws.run(
        aws.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/zip")
            .body(ByteStream::from(bytes))
            .send(),
    )
    .await
}
