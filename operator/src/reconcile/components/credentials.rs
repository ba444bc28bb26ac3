//! The two credential components, `storageCredentials` and `smtpCredentials` (step:
//! reconcile; sequences `plan::credentials` decisions and `aws::{iam, secrets}` calls).
//!
//! Per component: the IAM user (found by name, owned by its UID tag) with its one inline
//! policy, the Secrets Manager secret, and the access key in it, rotated on the spec's
//! schedule. Order inside a rotation: make room, create the key, store it (the new
//! `AWSCURRENT`), and only then delete keys; a crash anywhere leaves a valid stored key
//! and at most one orphan key, which the next pass deletes. No status writes here.

use jiff::Timestamp;

use crate::api::{ComponentName, SecretOutput};
use crate::aws::{AwsCtx, AwsError, iam, secrets};
use crate::plan::credentials::{
    CredentialKind, DesiredUser, KeyPlan, NewKeyReason, PREVIOUS_KEY_GRACE, current_key_created,
    key_plan, secret_payload, version_token,
};
use crate::plan::policy::same_policy;
use crate::plan::secrets::{DesiredSecret, ObservedSecret, secret_changes};
use crate::plan::smtp::smtp_password;

use super::steps::Steps;
use super::{ComponentError, WriteMode, aws_err};
use crate::reconcile::report::ComponentReport;

/// What the walk needs to converge one credential set.
pub struct CredentialsInput {
    pub kind: CredentialKind,
    pub user: DesiredUser,
    pub secret: DesiredSecret,
    pub rotation_days: u32,
    pub region: String,
    pub uid: String,
}

/// What converging one credential set produced.
pub struct CredentialsOutcome {
    pub report: ComponentReport,
    /// For `status.outputs.secrets` (absent until the secret exists).
    pub output: Option<SecretOutput>,
}

fn not_ours(component: ComponentName, operation: &'static str, message: String) -> ComponentError {
    ComponentError::Aws {
        component,
        source: AwsError::terminal(
            if operation == "GetUser" {
                "iam"
            } else {
                "secretsmanager"
            },
            operation,
            "NameTakenByAnotherOwner",
            message,
        ),
    }
}

fn time(t: Timestamp) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t)
}

/// Converges the user, its policy, the secret and the key; rotates when due.
pub async fn converge_credentials(
    aws: &AwsCtx,
    input: &CredentialsInput,
    mode: WriteMode,
    now: Timestamp,
) -> Result<CredentialsOutcome, ComponentError> {
    let c = input.kind.component();
    let err = aws_err(c);
    let mut steps = Steps::new(mode);
    let user = &input.user;

    // The user and its tags.
    let mut user_created = false;
    let user_arn = match iam::observe_user(aws, &user.name).await.map_err(&err)? {
        Some(seen) if !seen.tags.is_owned_by(&input.uid) => {
            return Err(not_ours(
                c,
                "GetUser",
                format!(
                    "IAM user {} exists and is not tagged as owned by this environment",
                    user.name
                ),
            ));
        }
        Some(seen) => {
            let missing = user.tags.missing_from(&seen.tags);
            if !missing.is_empty() {
                if steps.apply() {
                    iam::tag_user(aws, &user.name, &missing)
                        .await
                        .map_err(&err)?;
                }
                steps.drift(format!("tags of IAM user {}", user.name));
            }
            Some(seen.arn)
        }
        None if !steps.apply() => {
            steps.missing(format!("IAM user {} not created yet", user.name));
            return Ok(CredentialsOutcome {
                report: steps.report(c, Some(user.name.clone()), None),
                output: None,
            });
        }
        None => {
            let arn = iam::create_user(aws, user).await.map_err(&err)?;
            steps.created(format!("created IAM user {}", user.name));
            user_created = true;
            Some(arn)
        }
    };

    // Its one inline policy.
    let policy = iam::observe_policy(aws, &user.name, &user.policy_name)
        .await
        .map_err(&err)?;
    if !policy.is_some_and(|p| same_policy(&p, &user.policy)) {
        if steps.apply() {
            iam::put_policy(aws, user).await.map_err(&err)?;
        }
        // Attaching the policy to a user made in this pass is part of its creation.
        if !user_created {
            steps.drift(format!(
                "policy {} of IAM user {}",
                user.policy_name, user.name
            ));
        }
    }

    // The secret's metadata.
    let want = &input.secret;
    let seen = secrets::observe(aws, &want.name).await.map_err(&err)?;
    if let Some(seen) = &seen {
        let changes =
            secret_changes(want, seen, &input.uid).map_err(|m| not_ours(c, "DescribeSecret", m))?;
        if !changes.is_empty() {
            if steps.apply() {
                secrets::apply(aws, &seen.arn, want, &changes)
                    .await
                    .map_err(&err)?;
            }
            let what: Vec<&str> = changes.iter().map(|ch| ch.describe()).collect();
            steps.drift(format!("secret {}: {}", want.name, what.join(", ")));
        }
    }

    // The key in it.
    let keys = iam::list_keys(aws, &user.name).await.map_err(&err)?;
    let current = seen.as_ref().and_then(|s| s.current_version.as_deref());
    let previous = seen.as_ref().and_then(|s| s.previous_version.as_deref());
    let plan = key_plan(&keys, current, previous, input.rotation_days, now);
    let mut rotated_at = current_key_created(&keys, current);
    let mut arn = seen.as_ref().map(|s| s.arn.clone());
    if !plan.is_empty() {
        let (new_arn, created_at) =
            execute_key_plan(aws, input, &plan, seen.as_ref(), &mut steps, now).await?;
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
        && now.duration_since(created) < PREVIOUS_KEY_GRACE
    {
        steps.note(format!(
            "previous access key stays valid until {}",
            created + PREVIOUS_KEY_GRACE
        ));
    }
    let output = arn.as_ref().map(|arn| SecretOutput {
        name: crate::plan::secrets::SecretPurpose::from(input.kind)
            .as_str()
            .to_string(),
        arn: arn.clone(),
        rotated_at: rotated_at.map(time),
        rotation_days: Some(input.rotation_days),
    });
    Ok(CredentialsOutcome {
        report: steps.report(c, Some(user.name.clone()), user_arn),
        output,
    })
}

/// Runs a key plan. Returns the secret's ARN when this call created the secret, and the
/// new key's creation time when a key was made.
async fn execute_key_plan(
    aws: &AwsCtx,
    input: &CredentialsInput,
    plan: &KeyPlan,
    seen: Option<&ObservedSecret>,
    steps: &mut Steps,
    now: Timestamp,
) -> Result<(Option<String>, Option<Timestamp>), ComponentError> {
    let c = input.kind.component();
    let err = aws_err(c);
    let user = &input.user.name;
    if !steps.apply() {
        if let Some(reason) = plan.create {
            steps.changed(match reason {
                NewKeyReason::Missing => "a new access key must be stored",
                NewKeyReason::RotationDue => "access key rotation",
            });
        } else {
            steps.drift(format!(
                "{} access key(s) to delete",
                plan.delete_after.len()
            ));
        }
        return Ok((None, None));
    }
    for id in &plan.delete_first {
        iam::delete_key(aws, user, id).await.map_err(&err)?;
    }
    let mut created_secret = None;
    let mut created_at = None;
    if let Some(reason) = plan.create {
        let (key_id, secret_key, key_created) = iam::create_key(aws, user).await.map_err(&err)?;
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
            Some(seen) => secrets::put_value(aws, &seen.arn, &token, &value)
                .await
                .map_err(&err)?,
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
            (NewKeyReason::RotationDue, _) => steps.changed(format!(
                "rotated the access key ({}-day schedule) and stored it in secret {}",
                input.rotation_days, input.secret.name
            )),
            (NewKeyReason::Missing, false) => steps.created(format!(
                "created an access key and stored it in secret {}",
                input.secret.name
            )),
            (NewKeyReason::Missing, true) => steps.drift(format!(
                "secret {} held no usable access key: stored a new one",
                input.secret.name
            )),
        }
    }
    for id in &plan.delete_after {
        iam::delete_key(aws, user, id).await.map_err(&err)?;
    }
    let deleted = plan.delete_first.len() + plan.delete_after.len();
    if deleted > 0 {
        steps.note(format!(
            "deleted {deleted} access key(s) no longer stored or past their grace period"
        ));
        if plan.create.is_none() {
            steps.changed("access key clean-up");
        }
    }
    Ok((created_secret, created_at))
}
