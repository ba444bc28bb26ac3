//! Reading back the Secrets Manager copy of the consortium credentials, to tell whether
//! the Kubernetes Secret changed since it was copied (its other operations are
//! `aws::secrets`). The value only travels inside a [`SecretString`].

use crate::plan::secret::SecretString;

use super::super::error::classify;
use super::super::{AwsCtx, AwsError, Service};

/// The current value of the secret `arn`, or `None` when it has none (or is gone).
pub async fn current_value(aws: &AwsCtx, arn: &str) -> Result<Option<SecretString>, AwsError> {
    aws.permit(Service::SecretsManager).await;
    match aws
        .secretsmanager
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
    {
        Ok(out) => Ok(out.secret_string().map(SecretString::new)),
        Err(e) => {
            let e = classify(
                "secretsmanager",
                "GetSecretValue",
                crate::aws::secrets::TERMINAL_CODES,
                e,
            );
            if e.code == "ResourceNotFoundException" || e.is_not_found() {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}
