//! The `secrets` component: the database salt in Secrets Manager and the cron seed in a
//! Kubernetes Secret (step: reconcile; sequences `plan::secrets` decisions and
//! `aws::secrets` calls; the cron seed was resolved by `references` before any AWS call).
//!
//! The salt is random, created once and never rotated or rewritten: a pass only checks
//! the secret's metadata (tags, KMS key, description, scheduled deletion). Its value is
//! never read back. No status writes here.

use crate::api::{ComponentName, Outputs, RedcapEnvironment, SecretOutput};
use crate::aws::{AwsCtx, AwsError, secrets};
use crate::plan::EnvIdentity;
use crate::plan::secret::random_alphanumeric;
use crate::plan::secrets::{SALT_LEN, SecretPurpose, desired_secret, secret_changes};

use super::references::CronSecret;
use super::steps::Steps;
use super::{ComponentError, WriteMode, aws_err, invalid, report};
use crate::reconcile::report::ComponentReport;

/// Converges the salt secret and reports it with the cron seed; the salt's ARN goes to
/// `outputs.secrets` once it exists.
pub async fn apply_secrets(
    aws: &AwsCtx,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
    mode: WriteMode,
    key_arn: Option<&str>,
    cron: &CronSecret,
    outputs: &mut Outputs,
) -> Result<ComponentReport, ComponentError> {
    const C: ComponentName = ComponentName::Secrets;
    let err = aws_err(C);
    let mut steps = Steps::new(mode);
    match &cron.token {
        Some(_) => outputs.cron_secret_ref = Some(cron.reference.clone()),
        None => steps.missing(format!(
            "cron Secret {} not created yet",
            cron.reference.name
        )),
    }
    if cron.created {
        steps.created(format!("created the cron Secret {}", cron.reference.name));
    }
    let Some(key_arn) = key_arn else {
        return Ok(report(
            C,
            crate::api::ComponentState::Pending,
            "waiting for the encryption key",
        ));
    };
    let want = desired_secret(id, SecretPurpose::Salt, key_arn, None, &env.spec.aws.tags)
        .map_err(invalid(C))?;
    let arn = match secrets::observe(aws, &want.name).await.map_err(&err)? {
        Some(seen) => {
            let changes =
                secret_changes(&want, &seen, &id.uid).map_err(|message| ComponentError::Aws {
                    component: C,
                    source: AwsError::terminal(
                        "secretsmanager",
                        "DescribeSecret",
                        "NameTakenByAnotherOwner",
                        message,
                    ),
                })?;
            if !changes.is_empty() {
                if steps.apply() {
                    secrets::apply(aws, &seen.arn, &want, &changes)
                        .await
                        .map_err(&err)?;
                }
                let what: Vec<&str> = changes.iter().map(|c| c.describe()).collect();
                steps.drift(format!("salt secret: {}", what.join(", ")));
            }
            Some(seen.arn)
        }
        None if !steps.apply() => {
            steps.missing(format!("salt secret {} not created yet", want.name));
            None
        }
        None => {
            let salt = random_alphanumeric(SALT_LEN);
            let arn = secrets::create(aws, &want, &salt, None)
                .await
                .map_err(&err)?;
            steps.created(format!("created the salt secret {}", want.name));
            Some(arn)
        }
    };
    if let Some(arn) = &arn {
        outputs.secrets.push(SecretOutput {
            name: SecretPurpose::Salt.as_str().to_string(),
            arn: arn.clone(),
            rotated_at: None,
            rotation_days: None,
        });
    }
    Ok(steps.report(C, Some(want.name), arn))
}
