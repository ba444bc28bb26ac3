//! `fileStorage`: the REDCap file bucket and its access-log bucket (the log bucket first:
//! the file bucket's logging needs its target). Both are encrypted, private, TLS-only
//! and tagged; `Delete` empties and deletes them, `Snapshot` and `Retain` keep them
//! tagged `redcap.dev/retained=true`. A bucket without this environment's UID tag is
//! never touched.

use crate::api::{ComponentName, DeletionPolicy};
use crate::aws::Progress;
use crate::aws::s3::{self, BucketPresence};
use crate::plan::naming::{bucket_arn, file_bucket_name, log_bucket_name};
use crate::plan::storage::{desired_storage, file_bucket};
use crate::reconcile::converge::converge;
use crate::reconcile::error::{ComponentError, aws_err, invalid};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::{Component, Walk};

const C: ComponentName = ComponentName::FileStorage;

pub struct FileStorage;

impl Component for FileStorage {
    const NAME: ComponentName = C;
    const NEEDS: &'static [ComponentName] = &[ComponentName::EncryptionKey];

    async fn apply(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let Some(key) = w.key_or_wait(l) else {
            return Ok(());
        };
        let spec = &w.env.spec;
        let want = desired_storage(&w.id, &spec.storage, &spec.aws.tags, &key.arn, &key.account)
            .map_err(invalid(C))?;
        if let Some(previous) =
            w.recorded().and_then(|o| o.file_bucket.as_deref()).filter(|p| *p != want.files.name)
        {
            return Err(ComponentError::Invalid {
                component: C,
                message: format!(
                    "spec.storage.bucketName: the file bucket is {previous} and cannot be renamed to {}",
                    want.files.name
                ),
            });
        }
        l.identify(
            Some(want.files.name.clone()),
            Some(bucket_arn(w.id.partition(), &want.files.name)),
        );
        if let Some(logs) = &want.logs
            && converge(w.aws, &w.id.uid, l, logs).await?.is_some()
        {
            w.outputs.access_log_bucket = Some(logs.name.clone());
        }
        if converge(w.aws, &w.id.uid, l, &want.files).await?.is_some() {
            w.outputs.file_bucket = Some(want.files.name.clone());
        }
        Ok(())
    }

    async fn cleanup(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let err = aws_err(C);
        let policy = w.env.spec.deletion_policy;
        let env_id = w.id.environment_id();
        // The name that was actually used wins over a spec that may have become invalid.
        let files = w
            .recorded()
            .and_then(|o| o.file_bucket.clone())
            .or_else(|| file_bucket(&w.id, &w.env.spec.storage).ok())
            .unwrap_or_else(|| file_bucket_name(&env_id));
        l.identify(Some(files.clone()), Some(bucket_arn(w.id.partition(), &files)));
        // The log bucket is looked at even when access logs were switched off later.
        let logs = log_bucket_name(&env_id);
        for (name, is_files) in [(&files, true), (&logs, false)] {
            match s3::observe(w.aws, name, &w.id.uid).await.map_err(&err)? {
                BucketPresence::Absent => {}
                BucketPresence::NotOurs { .. } => l.note(format!(
                    "bucket {name} is not owned by this environment; left untouched"
                )),
                BucketPresence::Owned(_) if policy == DeletionPolicy::Delete => {
                    match s3::cleanup::delete(w.aws, name).await.map_err(&err)? {
                        Progress::Done => l.deleted(format!("deleted bucket {name}")),
                        Progress::InProgress { requeue_after, reason } => {
                            l.mark_written();
                            l.deleting(reason, Some(requeue_after));
                        }
                    }
                }
                BucketPresence::Owned(seen) => {
                    if s3::cleanup::retain(w.aws, name, &seen.tags).await.map_err(&err)? {
                        l.mark_written();
                    }
                    l.retained(format!("kept bucket {name} ({policy:?} policy)"));
                    if is_files {
                        w.outputs.file_bucket = Some(name.clone());
                    } else {
                        w.outputs.access_log_bucket = Some(name.clone());
                    }
                }
            }
        }
        Ok(())
    }
}
