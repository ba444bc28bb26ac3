//! The environment's KMS key (component `encryptionKey`; step: observe / create / update
//! / delete, ACK's shape).
//!
//! Found by alias; after a crash between `CreateKey` and `CreateAlias` the key is found
//! by its UID tag instead (only on the create path, since it lists every key). Decisions
//! (what drifted, whether a key is ours) are made in `plan::kms`; this module only calls
//! AWS. Every call waits for the KMS budget first.

use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::plan::kms::{DesiredKey, KeyChange, KeyState, ObservedKey};
use crate::plan::policy::parse_policy;
use crate::plan::tags::TagSet;

use super::error::classify;
use super::{AwsCtx, AwsError, Service};

const SERVICE: &str = "kms";

/// KMS codes that retrying cannot fix (on top of the common list).
pub const TERMINAL_CODES: &[&str] = &[
    "InvalidAliasNameException",
    "InvalidArnException",
    "TagException",
    "UnsupportedOperationException",
    "CustomKeyStoreInvalidStateException",
    "IncorrectKeyException",
];

/// The shortest waiting period KMS allows before a scheduled key is deleted.
pub const MIN_DELETION_WINDOW_DAYS: i32 = 7;

fn err<E>(operation: &'static str, e: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    classify(SERVICE, operation, TERMINAL_CODES, e)
}

fn build_err(operation: &'static str, e: impl std::error::Error) -> AwsError {
    AwsError::build(SERVICE, operation, e)
}

/// The key behind `alias` (or a key id), or `None` when there is none.
pub async fn observe(aws: &AwsCtx, key: &str) -> Result<Option<ObservedKey>, AwsError> {
    aws.permit(Service::Kms).await;
    let described = match aws.kms.describe_key().key_id(key).send().await {
        Ok(out) => out,
        Err(e) => {
            let e = err("DescribeKey", e);
            return if e.is_not_found() { Ok(None) } else { Err(e) };
        }
    };
    let Some(meta) = described.key_metadata() else {
        return Ok(None);
    };
    let key_id = meta.key_id().to_string();
    let state = KeyState::from_aws(meta.key_state().map(|s| s.as_str()).unwrap_or("Unknown"));
    // Rotation status is only asked of an enabled key: for a disabled or pending-deletion
    // key the answer is not meaningful, and enabling it again re-asserts rotation anyway.
    let rotation_enabled = if state == KeyState::Enabled {
        aws.permit(Service::Kms).await;
        let out = aws
            .kms
            .get_key_rotation_status()
            .key_id(&key_id)
            .send()
            .await
            .map_err(|e| err("GetKeyRotationStatus", e))?;
        Some(out.key_rotation_enabled())
    } else {
        None
    };
    // The policy cannot be changed while deletion is pending; it is read again once the
    // key is back.
    let policy = if state == KeyState::PendingDeletion {
        None
    } else {
        aws.permit(Service::Kms).await;
        let out = aws
            .kms
            .get_key_policy()
            .key_id(&key_id)
            .policy_name("default")
            .send()
            .await
            .map_err(|e| err("GetKeyPolicy", e))?;
        out.policy().map(parse_policy)
    };
    Ok(Some(ObservedKey {
        arn: meta.arn().unwrap_or_default().to_string(),
        state,
        description: meta.description().unwrap_or_default().to_string(),
        rotation_enabled,
        customer_managed: meta.key_manager().map(|m| m.as_str()) == Some("CUSTOMER"),
        policy,
        tags: tags_of(aws, &key_id).await?,
        key_id,
    }))
}

async fn tags_of(aws: &AwsCtx, key_id: &str) -> Result<TagSet, AwsError> {
    let mut tags = TagSet::new();
    let mut marker: Option<String> = None;
    loop {
        aws.permit(Service::Kms).await;
        let out = aws
            .kms
            .list_resource_tags()
            .key_id(key_id)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| err("ListResourceTags", e))?;
        for t in out.tags() {
            tags.insert(t.tag_key(), t.tag_value());
        }
        match out.next_marker() {
            Some(m) if out.truncated() => marker = Some(m.to_string()),
            _ => return Ok(tags),
        }
    }
}

/// A key tagged with this environment's UID that has no alias: left by a crash between
/// `CreateKey` and `CreateAlias`. Lists every key in the region, so only called when
/// the alias is missing.
pub async fn find_orphan(aws: &AwsCtx, uid: &str) -> Result<Option<ObservedKey>, AwsError> {
    let mut marker: Option<String> = None;
    loop {
        aws.permit(Service::Kms).await;
        let page = aws
            .kms
            .list_keys()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| err("ListKeys", e))?;
        for entry in page.keys() {
            let Some(key_id) = entry.key_id() else {
                continue;
            };
            match tags_of(aws, key_id).await {
                Ok(tags) if tags.is_owned_by(uid) => return observe(aws, key_id).await,
                Ok(_) => {}
                // Keys of other owners may refuse us (key policy) or vanish mid-listing.
                Err(e) if e.is_terminal() || e.is_not_found() => {
                    tracing::debug!(key_id, error = %e, "skipping key while looking for an orphan");
                }
                Err(e) => return Err(e),
            }
        }
        match page.next_marker() {
            Some(m) if page.truncated() => marker = Some(m.to_string()),
            _ => return Ok(None),
        }
    }
}

fn kms_tags(tags: &TagSet) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .map_err(|e| build_err("TagResource", e))
        })
        .collect()
}

/// Creates the key (symmetric, encrypt/decrypt, default key policy, tagged) and returns
/// its id. Rotation and the alias are applied by the caller.
pub async fn create(aws: &AwsCtx, want: &DesiredKey) -> Result<String, AwsError> {
    aws.permit(Service::Kms).await;
    let out = aws
        .kms
        .create_key()
        .description(&want.description)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .key_spec(KeySpec::SymmetricDefault)
        .set_tags(Some(kms_tags(&want.tags)?))
        .send()
        .await
        .map_err(|e| err("CreateKey", e))?;
    out.key_metadata()
        .map(|m| m.key_id().to_string())
        .ok_or_else(|| {
            AwsError::terminal(
                SERVICE,
                "CreateKey",
                "MissingKeyMetadata",
                "CreateKey returned no key",
            )
        })
}

pub async fn create_alias(aws: &AwsCtx, alias: &str, key_id: &str) -> Result<(), AwsError> {
    aws.permit(Service::Kms).await;
    aws.kms
        .create_alias()
        .alias_name(alias)
        .target_key_id(key_id)
        .send()
        .await
        .map_err(|e| err("CreateAlias", e))?;
    Ok(())
}

/// Applies the changes `plan::kms::key_plan` returned, in order.
pub async fn apply(aws: &AwsCtx, key_id: &str, changes: &[KeyChange]) -> Result<(), AwsError> {
    for change in changes {
        aws.permit(Service::Kms).await;
        match change {
            KeyChange::CancelDeletion => {
                aws.kms
                    .cancel_key_deletion()
                    .key_id(key_id)
                    .send()
                    .await
                    .map_err(|e| err("CancelKeyDeletion", e))?;
            }
            KeyChange::Enable => {
                aws.kms
                    .enable_key()
                    .key_id(key_id)
                    .send()
                    .await
                    .map_err(|e| err("EnableKey", e))?;
            }
            KeyChange::UpdateDescription(d) => {
                aws.kms
                    .update_key_description()
                    .key_id(key_id)
                    .description(d)
                    .send()
                    .await
                    .map_err(|e| err("UpdateKeyDescription", e))?;
            }
            KeyChange::EnableRotation => {
                aws.kms
                    .enable_key_rotation()
                    .key_id(key_id)
                    .send()
                    .await
                    .map_err(|e| err("EnableKeyRotation", e))?;
            }
            KeyChange::Tag(tags) => tag(aws, key_id, tags).await?,
            KeyChange::PutPolicy(policy) => {
                aws.kms
                    .put_key_policy()
                    .key_id(key_id)
                    .policy_name("default")
                    .policy(policy)
                    .send()
                    .await
                    .map_err(|e| err("PutKeyPolicy", e))?;
            }
        }
    }
    Ok(())
}

/// Adds or overwrites tags (never removes any).
pub async fn tag(aws: &AwsCtx, key_id: &str, tags: &TagSet) -> Result<(), AwsError> {
    aws.permit(Service::Kms).await;
    aws.kms
        .tag_resource()
        .key_id(key_id)
        .set_tags(Some(kms_tags(tags)?))
        .send()
        .await
        .map_err(|e| err("TagResource", e))?;
    Ok(())
}

/// Schedules deletion with the shortest window KMS allows (the last chance to cancel).
pub async fn schedule_deletion(aws: &AwsCtx, key_id: &str) -> Result<(), AwsError> {
    aws.permit(Service::Kms).await;
    aws.kms
        .schedule_key_deletion()
        .key_id(key_id)
        .pending_window_in_days(MIN_DELETION_WINDOW_DAYS)
        .send()
        .await
        .map_err(|e| err("ScheduleKeyDeletion", e))?;
    Ok(())
}

/// Deletes the alias; an alias already gone is fine.
pub async fn delete_alias(aws: &AwsCtx, alias: &str) -> Result<(), AwsError> {
    aws.permit(Service::Kms).await;
    match aws.kms.delete_alias().alias_name(alias).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = err("DeleteAlias", e);
            if e.is_not_found() { Ok(()) } else { Err(e) }
        }
    }
}
