//! Secrets Manager secrets of an environment (step: observe / create / update / delete,
//! ACK's shape; only calls AWS, decisions are in `plan::secrets`).
//!
//! Secrets are found by their deterministic name. The operator never reads a secret's
//! value back: which version holds which access key is known from the version ids
//! (`plan::credentials::version_token`). Values only travel in `CreateSecret` and
//! `PutSecretValue` requests, inside [`SecretString`]s. Deletion always keeps a recovery
//! window. Every call waits for the Secrets Manager budget first.

use aws_sdk_secretsmanager::types::Tag;

use aws_sdk_secretsmanager::types::RotationRulesType;

use crate::plan::database::{ObservedRotation, rotation_days_of};
use crate::plan::secret::SecretString;
use crate::plan::secrets::{
    DesiredSecret, ObservedSecret, RECOVERY_WINDOW_DAYS, SecretChange, secret_changes,
};
use crate::plan::tags::TagSet;

use super::resource::{Presence, Resource};
use super::{AwsCtx, AwsError};

fn sm_tags(tags: &TagSet) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// The secret named `name` (also when scheduled for deletion), or `None`.
pub async fn observe(aws: &AwsCtx, name: &str) -> Result<Option<ObservedSecret>, AwsError> {
    let Some(out) = aws.find(aws.secretsmanager.describe_secret().secret_id(name).send()).await?
    else {
        return Ok(None);
    };
    let stage = |label: &str| {
        out.version_ids_to_stages().and_then(|m| {
            m.iter().find(|(_, stages)| stages.iter().any(|s| s == label)).map(|(id, _)| id.clone())
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
    let out = aws
        .call(
            aws.secretsmanager
                .create_secret()
                .name(&want.name)
                .description(&want.description)
                .kms_key_id(&want.kms_key_arn)
                .secret_string(value.expose())
                .set_client_request_token(version.map(str::to_string))
                .set_tags(Some(sm_tags(&want.tags)))
                .send(),
        )
        .await?;
    Ok(out.arn().unwrap_or_default().to_string())
}

/// Stores a new value as the current version (the old current becomes `AWSPREVIOUS`).
pub async fn put_value(
    aws: &AwsCtx,
    arn: &str,
    version: &str,
    value: &SecretString,
) -> Result<(), AwsError> {
    aws.run(
        aws.secretsmanager
            .put_secret_value()
            .secret_id(arn)
            .client_request_token(version)
            .secret_string(value.expose())
            .send(),
    )
    .await
}

/// Applies the changes `plan::secrets::secret_changes` returned, in order.
pub async fn apply(
    aws: &AwsCtx,
    arn: &str,
    want: &DesiredSecret,
    changes: &[SecretChange],
) -> Result<(), AwsError> {
    for change in changes {
        match change {
            SecretChange::Restore => {
                aws.run(aws.secretsmanager.restore_secret().secret_id(arn).send()).await?
            }
            SecretChange::Update => {
                aws.run(
                    aws.secretsmanager
                        .update_secret()
                        .secret_id(arn)
                        .description(&want.description)
                        .kms_key_id(&want.kms_key_arn)
                        .send(),
                )
                .await?
            }
            SecretChange::Tag(tags) => tag(aws, arn, tags).await?,
        }
    }
    Ok(())
}

/// Adds or overwrites tags (never removes any).
pub async fn tag(aws: &AwsCtx, arn: &str, tags: &TagSet) -> Result<(), AwsError> {
    aws.run(aws.secretsmanager.tag_resource().secret_id(arn).set_tags(Some(sm_tags(tags))).send())
        .await
}

/// Schedules deletion after the recovery window; a secret already gone is fine.
pub async fn delete(aws: &AwsCtx, arn: &str) -> Result<(), AwsError> {
    aws.delete(
        aws.secretsmanager
            .delete_secret()
            .secret_id(arn)
            .recovery_window_in_days(RECOVERY_WINDOW_DAYS)
            .send(),
    )
    .await
    .map(drop)
}

// --- the master user secret RDS manages: its rotation schedule only ---------------

fn ts(t: &aws_smithy_types::DateTime) -> jiff::Timestamp {
    jiff::Timestamp::from_second(t.secs()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// The rotation state of the secret, or `None` when it does not exist (yet).
pub async fn rotation(aws: &AwsCtx, arn: &str) -> Result<Option<ObservedRotation>, AwsError> {
    let Some(out) = aws.find(aws.secretsmanager.describe_secret().secret_id(arn).send()).await?
    else {
        return Ok(None);
    };
    let rules = out.rotation_rules();
    Ok(Some(ObservedRotation {
        enabled: out.rotation_enabled().unwrap_or(false),
        days: rotation_days_of(
            rules.and_then(|r| r.automatically_after_days()),
            rules.and_then(|r| r.schedule_expression()),
        ),
        next: out.next_rotation_date().map(ts),
        last_changed: out.last_rotated_date().or(out.created_date()).map(ts),
    }))
}

/// Sets the rotation schedule of the RDS-managed secret (managed rotation: no Lambda),
/// without rotating now.
pub async fn set_rotation(aws: &AwsCtx, arn: &str, days: u32) -> Result<(), AwsError> {
    aws.run(
        aws.secretsmanager
            .rotate_secret()
            .secret_id(arn)
            .rotation_rules(
                RotationRulesType::builder().automatically_after_days(i64::from(days)).build(),
            )
            .rotate_immediately(false)
            .send(),
    )
    .await
}

/// The current value of the secret `arn`, or `None` when it has none (or is gone): only
/// to tell whether a user's Kubernetes Secret changed since it was copied (the
/// consortium credentials). The value only travels inside a [`SecretString`].
pub async fn current_value(aws: &AwsCtx, arn: &str) -> Result<Option<SecretString>, AwsError> {
    let out = aws.find(aws.secretsmanager.get_secret_value().secret_id(arn).send()).await?;
    Ok(out.and_then(|o| o.secret_string().map(SecretString::new)))
}

/// A secret of the environment with the value it is created with (the salt, a copy of a
/// user's Secret); a secret that exists is never rewritten through this, only its
/// metadata corrected.
pub struct SeededSecret<'a> {
    pub want: &'a DesiredSecret,
    /// The first value; `None`: this secret is created elsewhere (a credential secret,
    /// made together with its access key), and only corrected here.
    pub value: Option<SecretString>,
}

impl Resource for SeededSecret<'_> {
    type Seen = ObservedSecret;
    type Change = SecretChange;

    fn label(&self) -> String {
        format!("secret {}", self.want.name)
    }

    async fn observe(&self, aws: &AwsCtx, uid: &str) -> Result<Presence<ObservedSecret>, AwsError> {
        Ok(Presence::of(observe(aws, &self.want.name).await?, |s| s.tags.is_owned_by(uid)))
    }

    async fn create(&self, aws: &AwsCtx) -> Result<ObservedSecret, AwsError> {
        let Some(value) = &self.value else {
            return Err(AwsError::terminal(
                "secretsmanager",
                "CreateSecret",
                "NoInitialValue",
                format!("secret {} is created with its credentials", self.want.name),
            ));
        };
        let arn = create(aws, self.want, value, None).await?;
        Ok(ObservedSecret {
            arn,
            description: self.want.description.clone(),
            kms_key_id: Some(self.want.kms_key_arn.clone()),
            tags: self.want.tags.clone(),
            deleted: false,
            current_version: None,
            previous_version: None,
        })
    }

    fn changes(&self, seen: &ObservedSecret) -> Vec<SecretChange> {
        secret_changes(self.want, seen)
    }

    async fn update(
        &self,
        aws: &AwsCtx,
        seen: &ObservedSecret,
        changes: &[SecretChange],
    ) -> Result<(), AwsError> {
        apply(aws, &seen.arn, self.want, changes).await
    }
}
