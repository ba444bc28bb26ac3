//! Secrets Manager secrets of an environment (step: observe / create / update / delete,
//! ACK's shape; only calls AWS, decisions are in `plan::secrets`).
//!
//! Secrets are found by their deterministic name. The operator never reads a secret's
//! value back: which version holds which access key is known from the version ids
//! (`plan::credentials::version_token`). Values only travel in `CreateSecret` and
//! `PutSecretValue` requests, inside [`SecretString`]s. Deletion always keeps a recovery
//! window. Every call waits for the Secrets Manager budget first.

use aws_sdk_secretsmanager::types::Tag;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::plan::secret::SecretString;
use crate::plan::secrets::{DesiredSecret, ObservedSecret, RECOVERY_WINDOW_DAYS, SecretChange};
use crate::plan::tags::TagSet;

use super::error::classify;
use super::{AwsCtx, AwsError, Service};

const SERVICE: &str = "secretsmanager";

/// Secrets Manager codes that retrying cannot fix (on top of the common list).
pub const TERMINAL_CODES: &[&str] = &[
    "InvalidParameterException",
    "MalformedPolicyDocumentException",
    "PreconditionNotMetException",
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

fn sm_tags(tags: &TagSet) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The secret named `name` (also when scheduled for deletion), or `None`.
pub async fn observe(aws: &AwsCtx, name: &str) -> Result<Option<ObservedSecret>, AwsError> {
    aws.permit(Service::SecretsManager).await;
    let out = match aws
        .secretsmanager
        .describe_secret()
        .secret_id(name)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            let e = err("DescribeSecret", e);
            return if missing(&e) { Ok(None) } else { Err(e) };
        }
    };
    let stage = |label: &str| {
        out.version_ids_to_stages().and_then(|m| {
            m.iter()
                .find(|(_, stages)| stages.iter().any(|s| s == label))
                .map(|(id, _)| id.clone())
        })
    };
    Ok(Some(ObservedSecret {
        arn: out.arn().unwrap_or_default().to_string(),
        description: out.description().unwrap_or_default().to_string(),
        kms_key_id: out.kms_key_id().map(str::to_string),
        tags: out
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
            .collect(),
        deleted: out.deleted_date().is_some(),
        current_version: stage("AWSCURRENT"),
        previous_version: stage("AWSPREVIOUS"),
    }))
}

/// Creates the secret with its first value and returns its ARN. `version` names the
/// first version (a client token: a retried create with the same value is a no-op).
pub async fn create(
    aws: &AwsCtx,
    want: &DesiredSecret,
    value: &SecretString,
    version: Option<&str>,
) -> Result<String, AwsError> {
    aws.permit(Service::SecretsManager).await;
    let out = aws
        .secretsmanager
        .create_secret()
        .name(&want.name)
        .description(&want.description)
        .kms_key_id(&want.kms_key_arn)
        .secret_string(value.expose())
        .set_client_request_token(version.map(str::to_string))
        .set_tags(Some(sm_tags(&want.tags)))
        .send()
        .await
        .map_err(|e| err("CreateSecret", e))?;
    Ok(out.arn().unwrap_or_default().to_string())
}

/// Stores a new value as the current version (the old current becomes `AWSPREVIOUS`).
pub async fn put_value(
    aws: &AwsCtx,
    arn: &str,
    version: &str,
    value: &SecretString,
) -> Result<(), AwsError> {
    aws.permit(Service::SecretsManager).await;
    aws.secretsmanager
        .put_secret_value()
        .secret_id(arn)
        .client_request_token(version)
        .secret_string(value.expose())
        .send()
        .await
        .map_err(|e| err("PutSecretValue", e))?;
    Ok(())
}

/// Applies the changes `plan::secrets::secret_changes` returned, in order.
pub async fn apply(
    aws: &AwsCtx,
    arn: &str,
    want: &DesiredSecret,
    changes: &[SecretChange],
) -> Result<(), AwsError> {
    for change in changes {
        aws.permit(Service::SecretsManager).await;
        match change {
            SecretChange::Restore => {
                aws.secretsmanager
                    .restore_secret()
                    .secret_id(arn)
                    .send()
                    .await
                    .map_err(|e| err("RestoreSecret", e))?;
            }
            SecretChange::Update => {
                aws.secretsmanager
                    .update_secret()
                    .secret_id(arn)
                    .description(&want.description)
                    .kms_key_id(&want.kms_key_arn)
                    .send()
                    .await
                    .map_err(|e| err("UpdateSecret", e))?;
            }
            SecretChange::Tag(tags) => tag(aws, arn, tags).await?,
        }
    }
    Ok(())
}

/// Adds or overwrites tags (never removes any).
pub async fn tag(aws: &AwsCtx, arn: &str, tags: &TagSet) -> Result<(), AwsError> {
    aws.permit(Service::SecretsManager).await;
    aws.secretsmanager
        .tag_resource()
        .secret_id(arn)
        .set_tags(Some(sm_tags(tags)))
        .send()
        .await
        .map_err(|e| err("TagResource", e))?;
    Ok(())
}

/// Schedules deletion after the recovery window; a secret already gone is fine.
pub async fn delete(aws: &AwsCtx, arn: &str) -> Result<(), AwsError> {
    aws.permit(Service::SecretsManager).await;
    match aws
        .secretsmanager
        .delete_secret()
        .secret_id(arn)
        .recovery_window_in_days(RECOVERY_WINDOW_DAYS)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = err("DeleteSecret", e);
            if missing(&e) { Ok(()) } else { Err(e) }
        }
    }
}
