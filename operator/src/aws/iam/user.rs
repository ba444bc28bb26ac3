//! IAM users of an environment and their access keys (step: observe / create / update /
//! delete; only calls AWS, decisions are in `plan::credentials`).
//!
//! Users are found by their deterministic name and owned by their UID tag. A new access
//! key's secret is returned once, inside a [`SecretString`], and goes straight into
//! Secrets Manager. Every call waits for the IAM budget first.

use aws_sdk_iam::types::StatusType;
use jiff::Timestamp;
use serde_json::Value;

use crate::aws::resource::{Presence, Resource};
use crate::plan::credentials::{
    DesiredUser, ObservedAccessKey, ObservedUser, UserChange, decode_policy_document, user_changes,
};
use crate::plan::secret::SecretString;
use crate::plan::tags::TagSet;

use super::iam_tags;
use crate::aws::{AwsCtx, AwsError};

fn timestamp(t: &aws_smithy_types::DateTime) -> Timestamp {
    Timestamp::from_second(t.secs()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The user `name`, or `None`.
pub async fn observe_user(aws: &AwsCtx, name: &str) -> Result<Option<ObservedUser>, AwsError> {
    let Some(out) = aws.find(aws.iam.get_user().user_name(name).send()).await? else {
        return Ok(None);
    };
    let Some(user) = out.user() else {
        return Ok(None);
    };
    let mut tags: TagSet = user.tags().iter().map(|t| (t.key(), t.value())).collect();
    // GetUser includes the tags on AWS; ask separately only when they are missing.
    if tags.is_empty() {
        tags = user_tags(aws, name).await?;
    }
    Ok(Some(ObservedUser { arn: user.arn().to_string(), tags, policy: None }))
}

async fn user_tags(aws: &AwsCtx, name: &str) -> Result<TagSet, AwsError> {
    let pages = aws.pages(aws.iam.list_user_tags().user_name(name).into_paginator().send()).await?;
    Ok(pages.iter().flat_map(|p| p.tags()).map(|t| (t.key(), t.value())).collect())
}

/// The inline policy `policy_name` of `user`, decoded, or `None`.
pub async fn observe_policy(
    aws: &AwsCtx,
    user: &str,
    policy_name: &str,
) -> Result<Option<Value>, AwsError> {
    match aws
        .find(aws.iam.get_user_policy().user_name(user).policy_name(policy_name).send())
        .await?
    {
        Some(out) => Ok(Some(decode_policy_document(out.policy_document()))),
        None => Ok(None),
    }
}

/// Every access key of `user`.
pub async fn list_keys(aws: &AwsCtx, user: &str) -> Result<Vec<ObservedAccessKey>, AwsError> {
    let pages =
        aws.pages(aws.iam.list_access_keys().user_name(user).into_paginator().send()).await?;
    Ok(pages
        .iter()
        .flat_map(|p| p.access_key_metadata())
        .filter_map(|k| {
            Some(ObservedAccessKey {
                id: k.access_key_id()?.to_string(),
                active: k.status() == Some(&StatusType::Active),
                // IAM always sends the date. Without it the key counts as new: a late
                // rotation is better than rotating on every pass.
                created: k.create_date().map(timestamp).unwrap_or_else(Timestamp::now),
            })
        })
        .collect())
}

/// Creates the user (tagged, under its path, with the operator's permissions boundary)
/// and returns its ARN.
pub async fn create_user(aws: &AwsCtx, want: &DesiredUser) -> Result<String, AwsError> {
    let boundary = aws.permissions_boundary_arn().await?;
    let out = aws
        .call(
            aws.iam
                .create_user()
                .user_name(&want.name)
                .path(&want.path)
                .permissions_boundary(boundary)
                .set_tags(Some(iam_tags(&want.tags, "TagUser")?))
                .send(),
        )
        .await?;
    Ok(out.user().map(|u| u.arn().to_string()).unwrap_or_default())
}

/// Adds or overwrites tags on the user.
pub async fn tag_user(aws: &AwsCtx, user: &str, tags: &TagSet) -> Result<(), AwsError> {
    aws.run(aws.iam.tag_user().user_name(user).set_tags(Some(iam_tags(tags, "TagUser")?)).send())
        .await
}

/// Writes the user's inline policy.
pub async fn put_policy(aws: &AwsCtx, want: &DesiredUser) -> Result<(), AwsError> {
    aws.run(
        aws.iam
            .put_user_policy()
            .user_name(&want.name)
            .policy_name(&want.policy_name)
            .policy_document(want.policy.to_string())
            .send(),
    )
    .await
}

/// A new access key: its id, its secret (returned by IAM this once only) and when IAM
/// created it.
pub async fn create_key(
    aws: &AwsCtx,
    user: &str,
) -> Result<(String, SecretString, Option<Timestamp>), AwsError> {
    let out = aws.call(aws.iam.create_access_key().user_name(user).send()).await?;
    let key = out.access_key().ok_or_else(|| {
        AwsError::terminal(
            "iam",
            "CreateAccessKey",
            "MissingAccessKey",
            "CreateAccessKey returned no key",
        )
    })?;
    Ok((
        key.access_key_id().to_string(),
        SecretString::new(key.secret_access_key()),
        key.create_date().map(timestamp),
    ))
}

/// Deletes an access key; a key already gone is fine.
pub async fn delete_key(aws: &AwsCtx, user: &str, key_id: &str) -> Result<(), AwsError> {
    aws.delete(aws.iam.delete_access_key().user_name(user).access_key_id(key_id).send())
        .await
        .map(drop)
}

/// Deletes the user with its keys and the operator's inline policy; a user already gone
/// is fine. IAM refuses to delete a user that still has keys or policies.
pub async fn delete_user(aws: &AwsCtx, user: &str, policy_name: &str) -> Result<(), AwsError> {
    for key in list_keys(aws, user)
        .await
        .or_else(|e| if e.is_not_found() { Ok(Vec::new()) } else { Err(e) })?
    {
        delete_key(aws, user, &key.id).await?;
    }
    aws.delete(aws.iam.delete_user_policy().user_name(user).policy_name(policy_name).send())
        .await?;
    aws.delete(aws.iam.delete_user().user_name(user).send()).await.map(drop)
}

impl Resource for DesiredUser {
    type Seen = ObservedUser;
    type Change = UserChange;

    fn label(&self) -> String {
        format!("IAM user {}", self.name)
    }

    async fn observe(&self, aws: &AwsCtx, uid: &str) -> Result<Presence<ObservedUser>, AwsError> {
        Ok(match observe_user(aws, &self.name).await? {
            None => Presence::Absent,
            Some(mut seen) if seen.tags.is_owned_by(uid) => {
                seen.policy = observe_policy(aws, &self.name, &self.policy_name).await?;
                Presence::Owned(seen)
            }
            Some(_) => Presence::Foreign { adoptable: false, reason: None },
        })
    }

    /// Creates the user and attaches its policy: both are part of its creation.
    async fn create(&self, aws: &AwsCtx) -> Result<ObservedUser, AwsError> {
        let arn = create_user(aws, self).await?;
        put_policy(aws, self).await?;
        Ok(ObservedUser { arn, tags: self.tags.clone(), policy: Some(self.policy.clone()) })
    }

    fn changes(&self, seen: &ObservedUser) -> Vec<UserChange> {
        user_changes(self, seen)
    }

    async fn update(
        &self,
        aws: &AwsCtx,
        _: &ObservedUser,
        changes: &[UserChange],
    ) -> Result<(), AwsError> {
        for change in changes {
            match change {
                UserChange::Tag(tags) => tag_user(aws, &self.name, tags).await?,
                UserChange::Policy => put_policy(aws, self).await?,
            }
        }
        Ok(())
    }
}
