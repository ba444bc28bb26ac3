//! IAM users of an environment and their access keys (step: observe / create / update /
//! delete; only calls AWS, decisions are in `plan::credentials`).
//!
//! Users are found by their deterministic name and owned by their UID tag. A new access
//! key's secret is returned once, inside a [`SecretString`], and goes straight into
//! Secrets Manager. Every call waits for the IAM budget first.

use aws_sdk_iam::types::{StatusType, Tag};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use jiff::Timestamp;
use serde_json::Value;

use crate::plan::credentials::{DesiredUser, ObservedAccessKey, decode_policy_document};
use crate::plan::secret::SecretString;
use crate::plan::tags::TagSet;

use super::error::classify;
use super::{AwsCtx, AwsError, Service};

const SERVICE: &str = "iam";

/// IAM codes that retrying cannot fix (on top of the common list).
pub const TERMINAL_CODES: &[&str] = &[
    "InvalidInput",
    "MalformedPolicyDocument",
    "LimitExceeded",
    "PolicyNotAttachable",
];

pub(crate) fn err<E>(operation: &'static str, e: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    classify(SERVICE, operation, TERMINAL_CODES, e)
}

pub(crate) fn missing(e: &AwsError) -> bool {
    e.code == "NoSuchEntity" || e.code == "NoSuchEntityException" || e.is_not_found()
}

/// `tags` as IAM tags; `operation` names the call they are for in a build error.
pub(crate) fn iam_tags(tags: &TagSet, operation: &'static str) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::build(SERVICE, operation, e))
        })
        .collect()
}

fn timestamp(t: &aws_smithy_types::DateTime) -> Timestamp {
    Timestamp::from_second(t.secs()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A user as IAM reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedUser {
    pub arn: String,
    pub tags: TagSet,
}

/// The user `name`, or `None`.
pub async fn observe_user(aws: &AwsCtx, name: &str) -> Result<Option<ObservedUser>, AwsError> {
    aws.permit(Service::Iam).await;
    let out = match aws.iam.get_user().user_name(name).send().await {
        Ok(out) => out,
        Err(e) => {
            let e = err("GetUser", e);
            return if missing(&e) { Ok(None) } else { Err(e) };
        }
    };
    let Some(user) = out.user() else {
        return Ok(None);
    };
    let mut tags: TagSet = user.tags().iter().map(|t| (t.key(), t.value())).collect();
    // GetUser includes the tags on AWS; ask separately only when they are missing.
    if tags.is_empty() {
        tags = user_tags(aws, name).await?;
    }
    Ok(Some(ObservedUser {
        arn: user.arn().to_string(),
        tags,
    }))
}

async fn user_tags(aws: &AwsCtx, name: &str) -> Result<TagSet, AwsError> {
    let mut tags = TagSet::new();
    let mut marker: Option<String> = None;
    loop {
        aws.permit(Service::Iam).await;
        let out = aws
            .iam
            .list_user_tags()
            .user_name(name)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| err("ListUserTags", e))?;
        for t in out.tags() {
            tags.insert(t.key(), t.value());
        }
        match out.marker() {
            Some(m) if out.is_truncated() => marker = Some(m.to_string()),
            _ => return Ok(tags),
        }
    }
}

/// The inline policy `policy_name` of `user`, decoded, or `None`.
pub async fn observe_policy(
    aws: &AwsCtx,
    user: &str,
    policy_name: &str,
) -> Result<Option<Value>, AwsError> {
    aws.permit(Service::Iam).await;
    match aws
        .iam
        .get_user_policy()
        .user_name(user)
        .policy_name(policy_name)
        .send()
        .await
    {
        Ok(out) => Ok(Some(decode_policy_document(out.policy_document()))),
        Err(e) => {
            let e = err("GetUserPolicy", e);
            if missing(&e) { Ok(None) } else { Err(e) }
        }
    }
}

/// Every access key of `user`.
pub async fn list_keys(aws: &AwsCtx, user: &str) -> Result<Vec<ObservedAccessKey>, AwsError> {
    let mut keys = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        aws.permit(Service::Iam).await;
        let out = aws
            .iam
            .list_access_keys()
            .user_name(user)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| err("ListAccessKeys", e))?;
        for k in out.access_key_metadata() {
            let Some(id) = k.access_key_id() else {
                continue;
            };
            keys.push(ObservedAccessKey {
                id: id.to_string(),
                active: k.status() == Some(&StatusType::Active),
                // IAM always sends the date. Without it the key counts as new: a late
                // rotation is better than rotating on every pass.
                created: k
                    .create_date()
                    .map(timestamp)
                    .unwrap_or_else(Timestamp::now),
            });
        }
        match out.marker() {
            Some(m) if out.is_truncated() => marker = Some(m.to_string()),
            _ => return Ok(keys),
        }
    }
}

/// Creates the user (tagged, under its path) and returns its ARN.
pub async fn create_user(aws: &AwsCtx, want: &DesiredUser) -> Result<String, AwsError> {
    aws.permit(Service::Iam).await;
    let out = aws
        .iam
        .create_user()
        .user_name(&want.name)
        .path(&want.path)
        .set_tags(Some(iam_tags(&want.tags, "TagUser")?))
        .send()
        .await
        .map_err(|e| err("CreateUser", e))?;
    Ok(out.user().map(|u| u.arn().to_string()).unwrap_or_default())
}

/// Adds or overwrites tags on the user.
pub async fn tag_user(aws: &AwsCtx, user: &str, tags: &TagSet) -> Result<(), AwsError> {
    aws.permit(Service::Iam).await;
    aws.iam
        .tag_user()
        .user_name(user)
        .set_tags(Some(iam_tags(tags, "TagUser")?))
        .send()
        .await
        .map_err(|e| err("TagUser", e))?;
    Ok(())
}

/// Writes the user's inline policy.
pub async fn put_policy(aws: &AwsCtx, want: &DesiredUser) -> Result<(), AwsError> {
    aws.permit(Service::Iam).await;
    aws.iam
        .put_user_policy()
        .user_name(&want.name)
        .policy_name(&want.policy_name)
        .policy_document(want.policy.to_string())
        .send()
        .await
        .map_err(|e| err("PutUserPolicy", e))?;
    Ok(())
}

/// A new access key: its id, its secret (returned by IAM this once only) and when IAM
/// created it.
pub async fn create_key(
    aws: &AwsCtx,
    user: &str,
) -> Result<(String, SecretString, Option<Timestamp>), AwsError> {
    aws.permit(Service::Iam).await;
    let out = aws
        .iam
        .create_access_key()
        .user_name(user)
        .send()
        .await
        .map_err(|e| err("CreateAccessKey", e))?;
    let key = out.access_key().ok_or_else(|| {
        AwsError::terminal(
            SERVICE,
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
    aws.permit(Service::Iam).await;
    match aws
        .iam
        .delete_access_key()
        .user_name(user)
        .access_key_id(key_id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = err("DeleteAccessKey", e);
            if missing(&e) { Ok(()) } else { Err(e) }
        }
    }
}

/// Deletes the user with its keys and the operator's inline policy; a user already gone
/// is fine. IAM refuses to delete a user that still has keys or policies.
pub async fn delete_user(aws: &AwsCtx, user: &str, policy_name: &str) -> Result<(), AwsError> {
    for key in list_keys(aws, user)
        .await
        .or_else(|e| if missing(&e) { Ok(Vec::new()) } else { Err(e) })?
    {
        delete_key(aws, user, &key.id).await?;
    }
    aws.permit(Service::Iam).await;
    if let Err(e) = aws
        .iam
        .delete_user_policy()
        .user_name(user)
        .policy_name(policy_name)
        .send()
        .await
    {
        let e = err("DeleteUserPolicy", e);
        if !missing(&e) {
            return Err(e);
        }
    }
    aws.permit(Service::Iam).await;
    match aws.iam.delete_user().user_name(user).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = err("DeleteUser", e);
            if missing(&e) { Ok(()) } else { Err(e) }
        }
    }
}
