//! The build log group (observe, create, update, delete; only calls AWS, decisions are
//! in `plan::image::log_group_changes`).

use std::collections::HashMap;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::plan::image::{DesiredLogGroup, LogGroupChange, ObservedLogGroup};
use crate::plan::tags::TagSet;

use super::super::error::classify;
use super::super::{AwsCtx, AwsError, Service};

const SERVICE: &str = "logs";

/// CloudWatch Logs codes that retrying cannot fix (on top of the common list).
pub const TERMINAL_CODES: &[&str] = &[
    "InvalidParameterException",
    "ResourceAlreadyExistsException",
];

fn err<E>(operation: &'static str, e: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    classify(SERVICE, operation, TERMINAL_CODES, e)
}

fn missing(e: &AwsError) -> bool {
    e.code == "ResourceNotFoundException" || e.is_not_found()
}

fn tag_map(tags: &TagSet) -> HashMap<String, String> {
    tags.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The log group `name` with its tags, or `None`.
pub async fn observe(aws: &AwsCtx, name: &str) -> Result<Option<ObservedLogGroup>, AwsError> {
    aws.permit(Service::CloudWatchLogs).await;
    let out = aws
        .logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
        .map_err(|e| err("DescribeLogGroups", e))?;
    let Some(group) = out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(name))
    else {
        return Ok(None);
    };
    let arn = group
        .log_group_arn()
        .or(group.arn())
        .unwrap_or_default()
        .trim_end_matches(":*")
        .to_string();
    aws.permit(Service::CloudWatchLogs).await;
    let tags: TagSet = match aws
        .logs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
    {
        Ok(out) => out
            .tags()
            .map(|m| m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
            .unwrap_or_default(),
        Err(e) => {
            let e = err("ListTagsForResource", e);
            if missing(&e) {
                return Ok(None);
            }
            return Err(e);
        }
    };
    Ok(Some(ObservedLogGroup {
        arn,
        retention_days: group.retention_in_days(),
        kms_key_id: group.kms_key_id().map(str::to_string),
        tags,
    }))
}

/// Creates the log group (encrypted, tagged) and sets its retention.
pub async fn create(aws: &AwsCtx, want: &DesiredLogGroup) -> Result<(), AwsError> {
    aws.permit(Service::CloudWatchLogs).await;
    aws.logs
        .create_log_group()
        .log_group_name(&want.name)
        .kms_key_id(&want.kms_key_arn)
        .set_tags(Some(tag_map(&want.tags)))
        .send()
        .await
        .map_err(|e| err("CreateLogGroup", e))?;
    put_retention(aws, want).await
}

async fn put_retention(aws: &AwsCtx, want: &DesiredLogGroup) -> Result<(), AwsError> {
    aws.permit(Service::CloudWatchLogs).await;
    aws.logs
        .put_retention_policy()
        .log_group_name(&want.name)
        .retention_in_days(want.retention_days)
        .send()
        .await
        .map_err(|e| err("PutRetentionPolicy", e))?;
    Ok(())
}

/// Applies the corrections `plan::image::log_group_changes` returned.
pub async fn apply(
    aws: &AwsCtx,
    want: &DesiredLogGroup,
    arn: &str,
    changes: &[LogGroupChange],
) -> Result<(), AwsError> {
    for change in changes {
        match change {
            LogGroupChange::Tag(tags) => {
                aws.permit(Service::CloudWatchLogs).await;
                aws.logs
                    .tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(tag_map(tags)))
                    .send()
                    .await
                    .map_err(|e| err("TagResource", e))?;
            }
            LogGroupChange::Retention => put_retention(aws, want).await?,
            LogGroupChange::Key => {
                aws.permit(Service::CloudWatchLogs).await;
                aws.logs
                    .associate_kms_key()
                    .log_group_name(&want.name)
                    .kms_key_id(&want.kms_key_arn)
                    .send()
                    .await
                    .map_err(|e| err("AssociateKmsKey", e))?;
            }
        }
    }
    Ok(())
}

/// Deletes the log group; one already gone is fine.
pub async fn delete(aws: &AwsCtx, name: &str) -> Result<(), AwsError> {
    aws.permit(Service::CloudWatchLogs).await;
    match aws
        .logs
        .delete_log_group()
        .log_group_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = err("DeleteLogGroup", e);
            if missing(&e) { Ok(()) } else { Err(e) }
        }
    }
}

/// Adds tags to the log group (the retained marker at deletion).
pub async fn tag(aws: &AwsCtx, arn: &str, tags: &TagSet) -> Result<(), AwsError> {
    aws.permit(Service::CloudWatchLogs).await;
    aws.logs
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tag_map(tags)))
        .send()
        .await
        .map_err(|e| err("TagResource", e))?;
    Ok(())
}
