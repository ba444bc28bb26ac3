//! `encryptionKey`: the environment's KMS key and its alias. Everything else that holds
//! data is encrypted with it, so it is created first and deleted last, and only under
//! `deletionPolicy: Delete` (scheduled, with the shortest window KMS allows).

use std::time::Duration;

use crate::api::{ComponentName, DeletionPolicy};
use crate::aws::kms;
use crate::plan::TagSet;
use crate::plan::kms::{KeyPlan, KeyState, desired_key, key_plan};
use crate::plan::naming::{RETAINED_TAG, account_of_arn};
use crate::reconcile::converge::converge;
use crate::reconcile::error::{ComponentError, aws_err, invalid, refused};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::{Component, KeyRef, Walk};

/// Look again this soon while AWS is busy with the key.
const KEY_BUSY_REQUEUE: Duration = Duration::from_secs(15);

pub struct EncryptionKey;

const C: ComponentName = ComponentName::EncryptionKey;

impl Component for EncryptionKey {
    const NAME: ComponentName = C;

    async fn apply(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let want = desired_key(&w.id, &w.env.spec.aws.tags).map_err(invalid(C))?;
        let Some(seen) = converge(w.aws, &w.id.uid, l, &want).await? else {
            return Ok(());
        };
        l.identify(Some(seen.key_id.clone()), Some(seen.arn.clone()));
        match key_plan(&want, &seen, &w.id.uid) {
            KeyPlan::Wait(reason) => l.busy(reason, KEY_BUSY_REQUEUE),
            KeyPlan::Blocked(reason) => {
                return Err(refused(C, "kms", "DescribeKey", "KeyNotUsable", reason));
            }
            KeyPlan::Changes(_) => {}
        }
        let account = account_of_arn(&seen.arn).ok_or_else(|| {
            refused(
                C,
                "kms",
                "DescribeKey",
                "UnexpectedArn",
                format!("no account id in key ARN {}", seen.arn),
            )
        })?;
        w.outputs.kms_key_arn = Some(seen.arn.clone());
        w.outputs.kms_key_alias = Some(want.alias.clone());
        w.key = Some(KeyRef {
            arn: seen.arn.clone(),
            account: account.to_string(),
            just_changed: l.has_written(),
        });
        Ok(())
    }

    /// Kept (tagged `redcap.dev/retained=true`) unless the policy is `Delete`; then
    /// scheduled for deletion once nothing encrypted with it is left.
    async fn cleanup(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let err = aws_err(C);
        let policy = w.env.spec.deletion_policy;
        let alias = desired_key(&w.id, &[]).map_err(invalid(C))?.alias;
        let in_use = !w.key_users().is_empty();
        let mut seen = kms::observe(w.aws, &alias).await.map_err(&err)?;
        if seen.is_none() && policy == DeletionPolicy::Delete && !in_use {
            seen = kms::find_orphan(w.aws, &w.id.uid).await.map_err(&err)?;
        }
        let Some(key) = seen.filter(|k| k.tags.is_owned_by(&w.id.uid)) else {
            l.note("no key owned by this environment");
            return Ok(());
        };
        l.identify(Some(key.key_id.clone()), Some(key.arn.clone()));
        if policy != DeletionPolicy::Delete {
            let marker: TagSet = [(RETAINED_TAG, "true")].into_iter().collect();
            if !marker.missing_from(&key.tags).is_empty() {
                kms::tag(w.aws, &key.key_id, &marker).await.map_err(&err)?;
                l.mark_written();
            }
            l.retained(format!("kept key {} ({policy:?} policy)", key.key_id));
            w.outputs.kms_key_arn = Some(key.arn);
            w.outputs.kms_key_alias = Some(alias);
            return Ok(());
        }
        // Never while something encrypted with the key is still there.
        if in_use {
            let users: Vec<String> = w.key_users().iter().map(|c| c.to_string()).collect();
            l.deleting(format!("waiting for {} to be deleted first", users.join(", ")), None);
            return Ok(());
        }
        if key.state != KeyState::PendingDeletion {
            kms::schedule_deletion(w.aws, &key.key_id).await.map_err(&err)?;
            l.mark_written();
        }
        kms::delete_alias(w.aws, &alias).await.map_err(&err)?;
        l.deleted(format!(
            "key {} scheduled for deletion in {} days",
            key.key_id,
            kms::MIN_DELETION_WINDOW_DAYS
        ));
        Ok(())
    }
}
