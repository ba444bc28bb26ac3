//! `storageCredentials` and `smtpCredentials`: an IAM user each (with its one inline
//! policy), the Secrets Manager secret holding its credentials, and the access key in it,
//! rotated on the spec's schedule (sequences `plan::credentials` and `aws::{iam,
//! secrets}`).
//!
//! Order inside a rotation: make room, create the key, store it (the new `AWSCURRENT`),
//! and only then delete keys; a crash anywhere leaves a valid stored key and at most one
//! orphan key, which the next pass deletes. Users and their keys are deleted on every
//! deletion policy (they grant access, they hold no data), and so are the secrets, with
//! a recovery window.

use jiff::Timestamp;

use crate::api::{ComponentName, SecretOutput};
use crate::aws::secrets::SeededSecret;
use crate::aws::{AwsCtx, iam, secrets};
use crate::plan::credentials::{
    CredentialKind, DesiredUser, KeyPlan, NewKeyReason, PREVIOUS_KEY_GRACE, current_key_created,
    desired_user, key_plan, secret_payload, smtp_user_policy, storage_user_policy, user_name,
    version_token,
};
use crate::plan::secrets::{
    DesiredSecret, ObservedSecret, RECOVERY_WINDOW_DAYS, SecretPurpose, desired_secret, secret_name,
};
use crate::plan::smtp::smtp_password;
use crate::plan::storage::file_bucket;
use crate::reconcile::converge::{converge, converge_existing};
use crate::reconcile::error::{ComponentError, aws_err, invalid};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::{Component, Walk};

pub struct StorageCredentials;
pub struct SmtpCredentials;

impl Component for StorageCredentials {
    const NAME: ComponentName = ComponentName::StorageCredentials;
    const NEEDS: &'static [ComponentName] = &[ComponentName::EncryptionKey];

    /// The IAM user REDCap uses for the file bucket (and nothing else).
    async fn apply(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let Some(key) = w.key_or_wait(l) else {
            return Ok(());
        };
        let c = Self::NAME;
        let bucket = file_bucket(&w.id, &w.env.spec.storage).map_err(invalid(c))?;
        let days = w.env.spec.storage.access_key_rotation_days;
        let policy = storage_user_policy(w.id.partition(), &w.id.region, &bucket, &key.arn);
        let input = input(w, CredentialKind::Storage, policy, &key.arn, days)?;
        apply_credentials(w, l, &input).await
    }

    async fn cleanup(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        cleanup_credentials(w, l, CredentialKind::Storage).await
    }
}

impl Component for SmtpCredentials {
    const NAME: ComponentName = ComponentName::SmtpCredentials;
    const NEEDS: &'static [ComponentName] = &[ComponentName::Email];

    /// The IAM user allowed to send from the SES identity through its configuration set.
    async fn apply(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let (Some(key), Some(mail)) = (w.key.clone(), w.email.clone()) else {
            l.pending("waiting for the email identity");
            return Ok(());
        };
        let days = mail.rotation_days;
        let policy = smtp_user_policy(
            w.id.partition(),
            &w.id.region,
            &key.account,
            &mail.identity,
            &mail.configuration_set,
        );
        let input = input(w, CredentialKind::Smtp, policy, &key.arn, days)?;
        apply_credentials(w, l, &input).await
    }

    async fn cleanup(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        cleanup_credentials(w, l, CredentialKind::Smtp).await
    }
}

/// What converging one credential set needs.
struct CredentialsInput {
    kind: CredentialKind,
    user: DesiredUser,
    secret: DesiredSecret,
    rotation_days: u32,
    region: String,
    now: Timestamp,
}

fn input(
    w: &Walk<'_>,
    kind: CredentialKind,
    policy: serde_json::Value,
    key_arn: &str,
    rotation_days: u32,
) -> Result<CredentialsInput, ComponentError> {
    let c = kind.component();
    let tags = &w.env.spec.aws.tags;
    Ok(CredentialsInput {
        kind,
        user: desired_user(&w.id, kind, tags, policy).map_err(invalid(c))?,
        secret: desired_secret(
            &w.id,
            SecretPurpose::from(kind),
            key_arn,
            Some(rotation_days),
            tags,
        )
        .map_err(invalid(c))?,
        rotation_days,
        region: w.id.region.clone(),
        now: w.now,
    })
}

fn time(t: Timestamp) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t)
}

/// Converges the user, its policy, the secret and the key; rotates when due.
async fn apply_credentials(
    w: &mut Walk<'_>,
    l: &mut Ledger,
    input: &CredentialsInput,
) -> Result<(), ComponentError> {
    let (aws, uid) = (w.aws, w.id.uid.as_str());
    let err = aws_err(l.component);
    l.identify(Some(input.user.name.clone()), None);
    let Some(user) = converge(aws, uid, l, &input.user).await? else {
        return Ok(());
    };
    l.identify(None, Some(user.arn));

    // The secret's metadata (it is created with its first key, below).
    let secret = SeededSecret { want: &input.secret, value: None };
    let seen = converge_existing(aws, uid, l, &secret).await?;

    // The key in it.
    let keys = iam::user::list_keys(aws, &input.user.name).await.map_err(&err)?;
    let current = seen.as_ref().and_then(|s| s.current_version.as_deref());
    let previous = seen.as_ref().and_then(|s| s.previous_version.as_deref());
    let plan = key_plan(&keys, current, previous, input.rotation_days, input.now);
    let mut rotated_at = current_key_created(&keys, current);
    let mut arn = seen.as_ref().map(|s| s.arn.clone());
    if !plan.is_empty() {
        let (new_arn, created_at) =
            execute_key_plan(aws, input, &plan, seen.as_ref(), l, input.now).await?;
        if new_arn.is_some() {
            arn = new_arn;
        }
        if created_at.is_some() {
            rotated_at = created_at;
        }
    }
    if let (Some(_), Some(created)) = (&arn, rotated_at)
        && plan.create.is_none()
        && keys.len() > 1
        && input.now.duration_since(created) < PREVIOUS_KEY_GRACE
    {
        l.note(format!("previous access key stays valid until {}", created + PREVIOUS_KEY_GRACE));
    }
    if let Some(arn) = arn {
        w.outputs.secrets.push(SecretOutput {
            name: SecretPurpose::from(input.kind).as_str().to_string(),
            arn,
            rotated_at: rotated_at.map(time),
            rotation_days: Some(input.rotation_days),
        });
    }
    Ok(())
}

/// Deletes the user (with its keys and policy) and the credential secret, if ours.
async fn cleanup_credentials(
    w: &mut Walk<'_>,
    l: &mut Ledger,
    kind: CredentialKind,
) -> Result<(), ComponentError> {
    let err = aws_err(kind.component());
    let env_id = w.id.environment_id();
    let user = user_name(&env_id, kind);
    l.identify(Some(user.clone()), None);
    match iam::user::observe_user(w.aws, &user).await.map_err(&err)? {
        Some(seen) if seen.tags.is_owned_by(&w.id.uid) => {
            iam::user::delete_user(w.aws, &user, kind.policy_name()).await.map_err(&err)?;
            l.deleted(format!("deleted IAM user {user} and its access keys"));
        }
        Some(_) => {
            l.note(format!("IAM user {user} is not owned by this environment; left untouched"))
        }
        None => {}
    }
    let name = secret_name(&env_id, SecretPurpose::from(kind));
    match secrets::observe(w.aws, &name).await.map_err(&err)? {
        None => {}
        Some(seen) if !seen.tags.is_owned_by(&w.id.uid) => {
            l.note(format!("secret {name} is not owned by this environment; left untouched"))
        }
        Some(seen) if seen.deleted => l.note(format!("secret {name} is scheduled for deletion")),
        Some(seen) => {
            secrets::delete(w.aws, &seen.arn).await.map_err(&err)?;
            l.deleted(format!(
                "secret {name} scheduled for deletion in {RECOVERY_WINDOW_DAYS} days"
            ));
        }
    }
    Ok(())
}

/// Runs a key plan. Returns the secret's ARN when this call created the secret, and the
/// new key's creation time when a key was made.
async fn execute_key_plan(
    aws: &AwsCtx,
    input: &CredentialsInput,
    plan: &KeyPlan,
    seen: Option<&ObservedSecret>,
    l: &mut Ledger,
    now: Timestamp,
) -> Result<(Option<String>, Option<Timestamp>), ComponentError> {
    let c = input.kind.component();
    let err = aws_err(c);
    let user = &input.user.name;
    if !l.apply() {
        if let Some(reason) = plan.create {
            l.changed(match reason {
                NewKeyReason::Missing => "a new access key must be stored",
                NewKeyReason::RotationDue => "access key rotation",
            });
        } else {
            l.drift(format!("{} access key(s) to delete", plan.delete_after.len()));
        }
        return Ok((None, None));
    }
    for id in &plan.delete_first {
        iam::user::delete_key(aws, user, id).await.map_err(&err)?;
    }
    let mut created_secret = None;
    let mut created_at = None;
    if let Some(reason) = plan.create {
        let (key_id, secret_key, key_created) =
            iam::user::create_key(aws, user).await.map_err(&err)?;
        let secret = match input.kind {
            CredentialKind::Storage => secret_key,
            CredentialKind::Smtp => {
                smtp_password(&secret_key, &input.region).map_err(|e| ComponentError::Invalid {
                    component: c,
                    message: format!("cannot derive the SMTP password: {e}"),
                })?
            }
        };
        let value = secret_payload(input.kind, &key_id, &secret);
        let token = version_token(&key_id);
        match seen {
            Some(seen) => secrets::put_value(aws, &seen.arn, &token, &value).await.map_err(&err)?,
            None => {
                let arn = secrets::create(aws, &input.secret, &value, Some(&token))
                    .await
                    .map_err(&err)?;
                created_secret = Some(arn);
            }
        }
        // IAM's own time, as ListAccessKeys will report it (whole seconds).
        created_at = Some(
            key_created.unwrap_or_else(|| Timestamp::from_second(now.as_second()).unwrap_or(now)),
        );
        match (reason, seen.is_some()) {
            (NewKeyReason::RotationDue, _) => l.changed(format!(
                "rotated the access key ({}-day schedule) and stored it in secret {}",
                input.rotation_days, input.secret.name
            )),
            (NewKeyReason::Missing, false) => l.created(format!(
                "created an access key and stored it in secret {}",
                input.secret.name
            )),
            (NewKeyReason::Missing, true) => l.drift(format!(
                "secret {} held no usable access key: stored a new one",
                input.secret.name
            )),
        }
    }
    for id in &plan.delete_after {
        iam::user::delete_key(aws, user, id).await.map_err(&err)?;
    }
    let deleted = plan.delete_first.len() + plan.delete_after.len();
    if deleted > 0 {
        l.note(format!(
            "deleted {deleted} access key(s) no longer stored or past their grace period"
        ));
        if plan.create.is_none() {
            l.changed("access key clean-up");
        }
    }
    Ok((created_secret, created_at))
}
