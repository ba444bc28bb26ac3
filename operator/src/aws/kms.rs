//! The environment's KMS key (component `encryptionKey`; step: observe / create / update
//! / delete, ACK's shape).
//!
//! Found by alias; after a crash between `CreateKey` and `CreateAlias` the key is found
//! by its UID tag instead (only on the create path, since it lists every key). Decisions
//! (what drifted, whether a key is ours) are made in `plan::kms`; this module only calls
//! AWS. Every call waits for the KMS budget first.

use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};

use crate::plan::kms::{DesiredKey, KeyChange, KeyPlan, KeyState, ObservedKey, key_plan};
use crate::plan::policy::parse_policy;
use crate::plan::tags::TagSet;

use super::error::sdk_tags;
use super::resource::{Presence, Resource};
use super::{AwsCtx, AwsError};

const SERVICE: &str = "kms";

/// The shortest waiting period KMS allows before a scheduled key is deleted.
pub const MIN_DELETION_WINDOW_DAYS: i32 = 7;

/// The key behind `alias` (or a key id), or `None` when there is none.
pub async fn observe(aws: &AwsCtx, key: &str) -> Result<Option<ObservedKey>, AwsError> {
    let Some(described) = aws.find(aws.kms.describe_key().key_id(key).send()).await? else {
        return Ok(None);
    };
    let Some(meta) = described.key_metadata() else {
        return Ok(None);
    };
    let key_id = meta.key_id().to_string();
    let state = KeyState::from_aws(meta.key_state().map(|s| s.as_str()).unwrap_or("Unknown"));
    // Rotation status is only asked of an enabled key: for a disabled or pending-deletion
    // key the answer is not meaningful, and enabling it again re-asserts rotation anyway.
    let rotation_enabled = if state == KeyState::Enabled {
        let out = aws.call(aws.kms.get_key_rotation_status().key_id(&key_id).send()).await?;
        Some(out.key_rotation_enabled())
    } else {
        None
    };
    // The policy cannot be changed while deletion is pending; it is read again once the
    // key is back.
    let policy = if state == KeyState::PendingDeletion {
        None
    } else {
        let out = aws
            .call(aws.kms.get_key_policy().key_id(&key_id).policy_name("default").send())
            .await?;
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
    let pages =
        aws.pages(aws.kms.list_resource_tags().key_id(key_id).into_paginator().send()).await?;
    Ok(pages.iter().flat_map(|p| p.tags()).map(|t| (t.tag_key(), t.tag_value())).collect())
}

/// A key tagged with this environment's UID that has no alias: left by a crash between
/// `CreateKey` and `CreateAlias`. Lists every key in the region, so only called when
/// the alias is missing.
pub async fn find_orphan(aws: &AwsCtx, uid: &str) -> Result<Option<ObservedKey>, AwsError> {
    let pages = aws.pages(aws.kms.list_keys().into_paginator().send()).await?;
    for key_id in pages.iter().flat_map(|p| p.keys()).filter_map(|k| k.key_id()) {
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
    Ok(None)
}

fn kms_tags(tags: &TagSet) -> Result<Vec<Tag>, AwsError> {
    sdk_tags(tags, SERVICE, "TagResource", |k, v| Tag::builder().tag_key(k).tag_value(v).build())
}

/// Creates the key (symmetric, encrypt/decrypt, default key policy, tagged) and returns
/// its id. Rotation and the alias are applied by the caller.
pub async fn create(aws: &AwsCtx, want: &DesiredKey) -> Result<String, AwsError> {
    let out = aws
        .call(
            aws.kms
                .create_key()
                .description(&want.description)
                .key_usage(KeyUsageType::EncryptDecrypt)
                .key_spec(KeySpec::SymmetricDefault)
                .set_tags(Some(kms_tags(&want.tags)?))
                .send(),
        )
        .await?;
    out.key_metadata().map(|m| m.key_id().to_string()).ok_or_else(|| {
        AwsError::terminal(SERVICE, "CreateKey", "MissingKeyMetadata", "CreateKey returned no key")
    })
}

pub async fn create_alias(aws: &AwsCtx, alias: &str, key_id: &str) -> Result<(), AwsError> {
    aws.run(aws.kms.create_alias().alias_name(alias).target_key_id(key_id).send()).await
}

/// Applies the changes `plan::kms::key_plan` returned, in order.
pub async fn apply(aws: &AwsCtx, key_id: &str, changes: &[KeyChange]) -> Result<(), AwsError> {
    for change in changes {
        match change {
            KeyChange::CancelDeletion => {
                aws.run(aws.kms.cancel_key_deletion().key_id(key_id).send()).await?
            }
            KeyChange::Enable => aws.run(aws.kms.enable_key().key_id(key_id).send()).await?,
            KeyChange::UpdateDescription(d) => {
                aws.run(aws.kms.update_key_description().key_id(key_id).description(d).send())
                    .await?
            }
            KeyChange::EnableRotation => {
                aws.run(aws.kms.enable_key_rotation().key_id(key_id).send()).await?
            }
            KeyChange::Tag(tags) => tag(aws, key_id, tags).await?,
            KeyChange::PutPolicy(policy) => {
                aws.run(
                    aws.kms
                        .put_key_policy()
                        .key_id(key_id)
                        .policy_name("default")
                        .policy(policy)
                        .send(),
                )
                .await?
            }
        }
    }
    Ok(())
}

/// Adds or overwrites tags (never removes any).
pub async fn tag(aws: &AwsCtx, key_id: &str, tags: &TagSet) -> Result<(), AwsError> {
    aws.run(aws.kms.tag_resource().key_id(key_id).set_tags(Some(kms_tags(tags)?)).send()).await
}

/// Schedules deletion with the shortest window KMS allows (the last chance to cancel).
pub async fn schedule_deletion(aws: &AwsCtx, key_id: &str) -> Result<(), AwsError> {
    aws.run(
        aws.kms
            .schedule_key_deletion()
            .key_id(key_id)
            .pending_window_in_days(MIN_DELETION_WINDOW_DAYS)
            .send(),
    )
    .await
}

/// Deletes the alias; an alias already gone is fine.
pub async fn delete_alias(aws: &AwsCtx, alias: &str) -> Result<(), AwsError> {
    aws.delete(aws.kms.delete_alias().alias_name(alias).send()).await.map(drop)
}

impl Resource for DesiredKey {
    type Seen = ObservedKey;
    type Change = KeyChange;

    fn label(&self) -> String {
        format!("key {}", self.alias)
    }

    /// By alias; without one, a key tagged with `uid` is ours from a crash between
    /// `CreateKey` and `CreateAlias` (adoptable).
    async fn observe(&self, aws: &AwsCtx, uid: &str) -> Result<Presence<ObservedKey>, AwsError> {
        match observe(aws, &self.alias).await? {
            Some(seen) => Ok(match key_plan(self, &seen, uid) {
                KeyPlan::Blocked(reason)
                    if !seen.tags.is_owned_by(uid) || !seen.customer_managed =>
                {
                    Presence::Foreign { adoptable: false, reason: Some(reason) }
                }
                _ => Presence::Owned(seen),
            }),
            None => Ok(match find_orphan(aws, uid).await? {
                Some(_) => Presence::Foreign { adoptable: true, reason: None },
                None => Presence::Absent,
            }),
        }
    }

    async fn create(&self, aws: &AwsCtx) -> Result<ObservedKey, AwsError> {
        let key_id = create(aws, self).await?;
        self.finish(aws, &key_id).await
    }

    /// Only the changes of a key in a state the operator can act on; a key AWS is busy
    /// with, or one in a state nobody can fix, is the component's to report.
    fn changes(&self, seen: &ObservedKey) -> Vec<KeyChange> {
        match key_plan(self, seen, seen.tags.get(crate::api::tags::UID).unwrap_or_default()) {
            KeyPlan::Changes(changes) => changes,
            KeyPlan::Wait(_) | KeyPlan::Blocked(_) => Vec::new(),
        }
    }

    async fn update(
        &self,
        aws: &AwsCtx,
        seen: &ObservedKey,
        changes: &[KeyChange],
    ) -> Result<(), AwsError> {
        apply(aws, &seen.key_id, changes).await
    }

    async fn adopt(&self, aws: &AwsCtx) -> Result<ObservedKey, AwsError> {
        let uid = self.tags.get(crate::api::tags::UID).unwrap_or_default();
        let Some(orphan) = find_orphan(aws, uid).await? else {
            return Err(AwsError::recoverable(
                SERVICE,
                "ListKeys",
                "NotYetVisible",
                "the key left without its alias is gone",
            ));
        };
        self.finish(aws, &orphan.key_id).await
    }
}

impl DesiredKey {
    /// Gives the key `key_id` its alias and reads it back.
    /// Names a new (or adopted) key and completes what `CreateKey` cannot set (rotation,
    /// the policy where it differs), so that it is whole in the pass that made it.
    async fn finish(&self, aws: &AwsCtx, key_id: &str) -> Result<ObservedKey, AwsError> {
        create_alias(aws, &self.alias, key_id).await?;
        let seen = self.visible(aws, key_id).await?;
        let changes = self.changes(&seen);
        if changes.is_empty() {
            return Ok(seen);
        }
        apply(aws, key_id, &changes).await?;
        self.visible(aws, key_id).await
    }

    async fn visible(&self, aws: &AwsCtx, key_id: &str) -> Result<ObservedKey, AwsError> {
        observe(aws, key_id).await?.ok_or_else(|| {
            AwsError::recoverable(
                SERVICE,
                "DescribeKey",
                "NotYetVisible",
                format!("key {key_id} is not visible yet"),
            )
        })
    }
}
