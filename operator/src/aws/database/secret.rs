//! The master user secret RDS manages in Secrets Manager: its rotation schedule only
//! (step: observe / update). The operator never reads its value.

use aws_sdk_secretsmanager::types::RotationRulesType;

use crate::aws::error::classify;
use crate::aws::secrets::TERMINAL_CODES;
use crate::aws::{AwsCtx, AwsError, Service};
use crate::plan::database::{ObservedRotation, rotation_days_of};

const SERVICE: &str = "secretsmanager";

fn ts(t: &aws_smithy_types::DateTime) -> jiff::Timestamp {
    jiff::Timestamp::from_second(t.secs()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// The rotation state of the secret, or `None` when it does not exist (yet).
pub async fn rotation(aws: &AwsCtx, arn: &str) -> Result<Option<ObservedRotation>, AwsError> {
    aws.permit(Service::SecretsManager).await;
    let out = match aws
        .secretsmanager
        .describe_secret()
        .secret_id(arn)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            let e = classify(SERVICE, "DescribeSecret", TERMINAL_CODES, e);
            return if e.code == "ResourceNotFoundException" || e.is_not_found() {
                Ok(None)
            } else {
                Err(e)
            };
        }
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
    aws.permit(Service::SecretsManager).await;
    aws.secretsmanager
        .rotate_secret()
        .secret_id(arn)
        .rotation_rules(
            RotationRulesType::builder()
                .automatically_after_days(i64::from(days))
                .build(),
        )
        .rotate_immediately(false)
        .send()
        .await
        .map_err(|e| classify(SERVICE, "RotateSecret", TERMINAL_CODES, e))?;
    Ok(())
}
