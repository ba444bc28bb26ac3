//! CloudWatch Logs: the log groups the operator creates (image builds, compute) and the
//! ones RDS creates for a cluster's exported logs (step: observe / create / update /
//! delete; decisions are in `plan::logs`).

use std::collections::HashMap;

use crate::plan::logs::{DesiredLogGroup, LogGroupChange, ObservedLogGroup, log_group_changes};
use crate::plan::tags::TagSet;

use super::resource::{Presence, Resource};
use super::{AwsCtx, AwsError};

fn tag_map(tags: &TagSet) -> HashMap<String, String> {
    tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The log group `name` with its tags, or `None`.
pub async fn observe(aws: &AwsCtx, name: &str) -> Result<Option<ObservedLogGroup>, AwsError> {
    let out = aws.call(aws.logs.describe_log_groups().log_group_name_prefix(name).send()).await?;
    let Some(group) = out.log_groups().iter().find(|g| g.log_group_name() == Some(name)) else {
        return Ok(None);
    };
    let arn = group
        .log_group_arn()
        .or(group.arn())
        .unwrap_or_default()
        .trim_end_matches(":*")
        .to_string();
    let Some(tags) = aws.find(aws.logs.list_tags_for_resource().resource_arn(&arn).send()).await?
    else {
        return Ok(None);
    };
    let tags: TagSet = tags
        .tags()
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect())
        .unwrap_or_default();
    Ok(Some(ObservedLogGroup {
        arn,
        retention_days: group.retention_in_days(),
        kms_key_id: group.kms_key_id().map(str::to_string),
        tags,
    }))
}

/// Creates the log group (encrypted, tagged) and sets its retention.
pub async fn create(aws: &AwsCtx, want: &DesiredLogGroup) -> Result<(), AwsError> {
    aws.call(
        aws.logs
            .create_log_group()
            .log_group_name(&want.name)
            .kms_key_id(&want.kms_key_arn)
            .set_tags(Some(tag_map(&want.tags)))
            .send(),
    )
    .await?;
    put_retention(aws, &want.name, want.retention_days).await?;
    Ok(())
}

/// Applies the corrections `plan::logs::log_group_changes` returned.
pub async fn apply(
    aws: &AwsCtx,
    want: &DesiredLogGroup,
    arn: &str,
    changes: &[LogGroupChange],
) -> Result<(), AwsError> {
    for change in changes {
        match change {
            LogGroupChange::Tag(tags) => tag(aws, arn, tags).await?,
            LogGroupChange::Retention => {
                put_retention(aws, &want.name, want.retention_days).await?;
            }
            LogGroupChange::Key => {
                aws.run(
                    aws.logs
                        .associate_kms_key()
                        .log_group_name(&want.name)
                        .kms_key_id(&want.kms_key_arn)
                        .send(),
                )
                .await?
            }
        }
    }
    Ok(())
}

/// Adds tags to the log group (the retained marker at deletion).
pub async fn tag(aws: &AwsCtx, arn: &str, tags: &TagSet) -> Result<(), AwsError> {
    aws.run(aws.logs.tag_resource().resource_arn(arn).set_tags(Some(tag_map(tags))).send()).await
}

/// Deletes the log group; one already gone is fine.
pub async fn delete(aws: &AwsCtx, name: &str) -> Result<(), AwsError> {
    aws.delete(aws.logs.delete_log_group().log_group_name(name).send()).await.map(drop)
}

/// The log groups under `prefix`, with their retention in days (`None`: never expire).
/// RDS creates a cluster's groups when the first log lines arrive.
pub async fn under_prefix(
    aws: &AwsCtx,
    prefix: &str,
) -> Result<Vec<(String, Option<i32>)>, AwsError> {
    let pages = aws
        .pages(aws.logs.describe_log_groups().log_group_name_prefix(prefix).into_paginator().send())
        .await?;
    Ok(pages
        .iter()
        .flat_map(|p| p.log_groups())
        .filter_map(|g| Some((g.log_group_name()?.to_string(), g.retention_in_days())))
        .collect())
}

/// Sets a group's retention; `false` when the group does not exist (yet).
pub async fn put_retention(aws: &AwsCtx, name: &str, days: i32) -> Result<bool, AwsError> {
    let done = aws
        .find(aws.logs.put_retention_policy().log_group_name(name).retention_in_days(days).send())
        .await?;
    Ok(done.is_some())
}

impl Resource for DesiredLogGroup {
    type Seen = ObservedLogGroup;
    type Change = LogGroupChange;

    fn label(&self) -> String {
        format!("log group {}", self.name)
    }

    async fn observe(
        &self,
        aws: &AwsCtx,
        uid: &str,
    ) -> Result<Presence<ObservedLogGroup>, AwsError> {
        Ok(Presence::of(observe(aws, &self.name).await?, |s| s.tags.is_owned_by(uid)))
    }

    async fn create(&self, aws: &AwsCtx) -> Result<ObservedLogGroup, AwsError> {
        create(aws, self).await?;
        Ok(ObservedLogGroup {
            arn: String::new(),
            retention_days: Some(self.retention_days),
            kms_key_id: Some(self.kms_key_arn.clone()),
            tags: self.tags.clone(),
        })
    }

    fn changes(&self, seen: &ObservedLogGroup) -> Vec<LogGroupChange> {
        log_group_changes(self, seen)
    }

    async fn update(
        &self,
        aws: &AwsCtx,
        seen: &ObservedLogGroup,
        changes: &[LogGroupChange],
    ) -> Result<(), AwsError> {
        apply(aws, self, &seen.arn, changes).await
    }
}
