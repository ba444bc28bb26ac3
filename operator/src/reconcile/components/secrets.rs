//! `secrets`: the database salt in Secrets Manager and the cron seed in a Kubernetes
//! Secret (the seed was resolved before any AWS call, `reconcile::references`).
//!
//! The salt is random, created once and never rotated or rewritten: a pass only checks
//! the secret's metadata (tags, KMS key, description, scheduled deletion). Its value is
//! never read back. It is kept (tagged `redcap.dev/retained=true`) unless the policy is
//! `Delete`; the cron Secret is removed by Kubernetes with the environment (it is owned
//! by it).

use crate::api::{ComponentName, SecretOutput};
use crate::aws::secrets::{self, SeededSecret};
use crate::plan::TagSet;
use crate::plan::naming::RETAINED_TAG;
use crate::plan::secret::random_alphanumeric;
use crate::plan::secrets::{
    RECOVERY_WINDOW_DAYS, SALT_LEN, SecretDisposal, SecretPurpose, desired_secret, disposal,
    secret_name,
};
use crate::reconcile::converge::converge;
use crate::reconcile::error::{ComponentError, aws_err, invalid};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::{Component, Walk};

const C: ComponentName = ComponentName::Secrets;

pub struct Secrets;

impl Component for Secrets {
    const NAME: ComponentName = C;
    const NEEDS: &'static [ComponentName] = &[ComponentName::EncryptionKey];

    async fn apply(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        if let Some(cron) = &w.cron {
            match &cron.token {
                Some(_) => w.outputs.cron_secret_ref = Some(cron.reference.clone()),
                None => l.missing(format!("cron Secret {} not created yet", cron.reference.name)),
            }
            if cron.created {
                l.created(format!("created the cron Secret {}", cron.reference.name));
            }
        }
        let Some(key) = w.key_or_wait(l) else {
            return Ok(());
        };
        let want = desired_secret(&w.id, SecretPurpose::Salt, &key.arn, None, &w.env.spec.aws.tags)
            .map_err(invalid(C))?;
        l.identify(Some(want.name.clone()), None);
        let salt = SeededSecret { want: &want, value: Some(random_alphanumeric(SALT_LEN)) };
        if let Some(seen) = converge(w.aws, &w.id.uid, l, &salt).await? {
            l.identify(None, Some(seen.arn.clone()));
            w.outputs.secrets.push(secret_output(seen.arn));
        }
        Ok(())
    }

    async fn cleanup(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let err = aws_err(C);
        let policy = w.env.spec.deletion_policy;
        l.note("the cron Secret is removed by Kubernetes with the environment");
        let name = secret_name(&w.id.environment_id(), SecretPurpose::Salt);
        let Some(seen) = secrets::observe(w.aws, &name).await.map_err(&err)? else {
            return Ok(());
        };
        if !seen.tags.is_owned_by(&w.id.uid) {
            l.note(format!("secret {name} is not owned by this environment; left untouched"));
            return Ok(());
        }
        if disposal(SecretPurpose::Salt, policy) == SecretDisposal::DeleteWithRecovery {
            if seen.deleted {
                l.note(format!("secret {name} is scheduled for deletion"));
            } else {
                secrets::delete(w.aws, &seen.arn).await.map_err(&err)?;
                l.deleted(format!(
                    "secret {name} scheduled for deletion in {RECOVERY_WINDOW_DAYS} days"
                ));
            }
            return Ok(());
        }
        let marker: TagSet = [(RETAINED_TAG, "true")].into_iter().collect();
        if !marker.missing_from(&seen.tags).is_empty() {
            secrets::tag(w.aws, &seen.arn, &marker).await.map_err(&err)?;
            l.mark_written();
        }
        l.identify(None, Some(seen.arn.clone()));
        l.retained(format!("kept the salt secret {name} ({policy:?} policy)"));
        w.outputs.secrets.push(secret_output(seen.arn));
        Ok(())
    }
}

fn secret_output(arn: String) -> SecretOutput {
    SecretOutput {
        name: SecretPurpose::Salt.as_str().to_string(),
        arn,
        rotated_at: None,
        rotation_days: None,
    }
}
