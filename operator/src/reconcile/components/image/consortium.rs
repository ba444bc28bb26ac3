//! The copy of the consortium login (`spec.redcap.source.community`): from the user's
//! Kubernetes Secret into Secrets Manager, where the build reads it. Refreshed when the
//! Secret changes, deleted once the source is something else. The value only travels
//! inside [`SecretString`]s.

use crate::api::{ComponentName, ImageStatus};
use crate::aws::ErrorClass;
use crate::aws::secrets::{self, SeededSecret};
use crate::plan::secret::{SecretString, random_alphanumeric};
use crate::plan::secrets::{SecretPurpose, desired_secret};
use crate::reconcile::converge::converge_existing;
use crate::reconcile::error::{ComponentError, aws_err, invalid};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::Walk;

const C: ComponentName = ComponentName::Image;

/// Copies the consortium login from the Kubernetes Secret into Secrets Manager (only for
/// `source.community`), and deletes the copy once the source is something else. Returns
/// the secret's ARN.
pub(super) async fn copy_credentials(
    w: &mut Walk<'_>,
    l: &mut Ledger,
    key_arn: &str,
    status: &mut ImageStatus,
) -> Result<Option<String>, ComponentError> {
    let (aws, env, id, store) = (w.aws, w.env, &w.id, w.secrets);
    let err = aws_err(C);
    let Some(community) = &env.spec.redcap.source.community else {
        if let Some(arn) = status.credentials_secret_arn.take() {
            if l.apply() {
                secrets::delete(aws, &arn).await.map_err(&err)?;
                l.changed("deleted the copy of the consortium credentials (source is no longer community)");
            } else {
                status.credentials_secret_arn = Some(arn);
            }
        }
        return Ok(None);
    };
    let reference = &community.credentials_secret_ref;
    let namespace = &id.namespace;
    let missing = |message: String| ComponentError::SecretReference {
        component: C,
        message,
        class: ErrorClass::Terminal,
    };
    let data = store
        .get(namespace, &reference.name)
        .await
        .map_err(|e| ComponentError::SecretReference {
            component: C,
            class: if e.forbidden {
                ErrorClass::Terminal
            } else {
                ErrorClass::Recoverable
            },
            message: e.message,
        })?
        .ok_or_else(|| {
            missing(format!(
                "spec.redcap.source.community.credentialsSecretRef: Secret {namespace}/{} does not exist",
                reference.name
            ))
        })?;
    let field = |key: &str| -> Result<SecretString, ComponentError> {
        let bytes = data.get(key).ok_or_else(|| {
            missing(format!(
                "spec.redcap.source.community.credentialsSecretRef: Secret {namespace}/{} has no key {key}",
                reference.name
            ))
        })?;
        let text = String::from_utf8(bytes.clone()).map_err(|_| ComponentError::Invalid {
            component: C,
            message: format!(
                "spec.redcap.source.community.credentialsSecretRef: key {key} of Secret {namespace}/{} is not UTF-8 text",
                reference.name
            ),
        })?;
        Ok(SecretString::new(text.trim_end_matches(['\r', '\n']).to_string()))
    };
    let (username, password) = (field(&reference.username_key)?, field(&reference.password_key)?);
    let value = SecretString::new(
        serde_json::json!({"username": username.expose(), "password": password.expose()})
            .to_string(),
    );
    let want =
        desired_secret(id, SecretPurpose::CommunityCredentials, key_arn, None, &env.spec.aws.tags)
            .map_err(invalid(C))?;
    let copy = SeededSecret { want: &want, value: None };
    let arn = match converge_existing(aws, &id.uid, l, &copy).await? {
        Some(seen) => {
            let current = secrets::current_value(aws, &seen.arn).await.map_err(&err)?;
            if current.as_ref() != Some(&value) {
                if l.apply() {
                    secrets::put_value(aws, &seen.arn, random_alphanumeric(40).expose(), &value)
                        .await
                        .map_err(&err)?;
                }
                l.changed(format!(
                    "copied the changed consortium credentials from Secret {namespace}/{}",
                    reference.name
                ));
            }
            seen.arn
        }
        None if !l.apply() => {
            l.missing(format!("secret {} not created yet", want.name));
            return Ok(None);
        }
        None => {
            let arn = secrets::create(aws, &want, &value, None).await.map_err(&err)?;
            l.created(format!(
                "copied the consortium credentials from Secret {namespace}/{} to {}",
                reference.name, want.name
            ));
            arn
        }
    };
    status.credentials_secret_arn = Some(arn.clone());
    Ok(Some(arn))
}
