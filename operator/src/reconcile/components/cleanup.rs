//! The finalizer path of the component walk (step: reconcile cleanup): every component
//! handled per `deletionPolicy`, in reverse dependency order (the image pipeline, see
//! `image_cleanup`, GuardDuty, then the secrets, credentials and email components, see
//! `cleanup_credentials`, then the database, see `cleanup_database`).
//!
//! `Delete` empties and deletes the buckets, then schedules the key's deletion (never
//! before every bucket is gone, since a kept bucket would become unreadable); `Snapshot`
//! and `Retain` keep both and tag them `redcap.dev/retained=true`. A bucket without this
//! environment's UID tag is never touched. The network holds no data and is deleted for
//! every policy, after everything that lives in it (see [`LIVES_IN_NETWORK`]) is gone,
//! and before the key (its flow-log group is encrypted with it). No AWS client code and
//! no status writes here.

use std::time::Duration;

use crate::api::{ComponentName, ComponentState, DeletionPolicy, Outputs, RedcapEnvironment};
use crate::aws::storage::BucketPresence;
use crate::aws::{AwsCtx, Progress, kms, storage};
use crate::plan::kms::{KeyState, desired_key};
use crate::plan::naming::{RETAINED_TAG, bucket_arn, file_bucket_name, log_bucket_name};
use crate::plan::storage::file_bucket;
use crate::plan::{EnvIdentity, TagSet};

use super::super::report::{ComponentReport, PassReport};
use super::guardduty::cleanup_guardduty;
use super::image_cleanup::cleanup_image;
use super::network::cleanup_network;
use super::{ComponentError, aws_err, invalid, report};

/// Components whose resources sit in the VPC (network interfaces in its subnets, its
/// security groups): the network stack is deleted only after all of them, and kept when
/// one of them is kept. Compute and the maintenance server join this list.
pub const LIVES_IN_NETWORK: &[ComponentName] = &[ComponentName::Database];

/// Handles every component per `deletionPolicy`, in reverse dependency order.
/// Returns a report whose `requeue_after` is set while deletions are still in progress.
pub async fn cleanup_components(
    aws: &AwsCtx,
    env: &RedcapEnvironment,
) -> Result<PassReport, ComponentError> {
    let id = EnvIdentity::from_env(env).map_err(invalid(ComponentName::FileStorage))?;
    let policy = env.spec.deletion_policy;
    let mut pass = PassReport::default();

    let image = Box::pin(cleanup_image(aws, &id, policy)).await?;
    let guard_duty = cleanup_guardduty(env);
    let access =
        super::cleanup_credentials::cleanup_access(aws, env, &id, policy, &mut pass.outputs)
            .await?;
    let (storage, storage_requeue) =
        cleanup_storage(aws, env, &id, policy, &mut pass.outputs).await?;
    let buckets_gone = storage.state == ComponentState::Deleted;
    let database =
        super::cleanup_database::cleanup_database(aws, env, &id, policy, &mut pass.outputs).await?;
    pass.database = database.status;
    let mut components = vec![image.report, guard_duty];
    components.extend(access);
    components.push(database.report);
    components.push(storage);
    // Reported in reverse dependency order (the database sits between the credentials
    // and the secrets in `ComponentName::ALL`).
    components.sort_by_key(|c| std::cmp::Reverse(c.name));
    // Image builds run in the network; a kept repository does not use it.
    let blocker = network_blocker(&components)
        .or((!image.network_free).then_some((ComponentName::Image, ComponentState::Deleting)));
    let (network, network_requeue) = cleanup_network(aws, &id, blocker).await?;
    let network_gone = network.state == ComponentState::Deleted;
    components.push(network);
    let key = cleanup_key(
        aws,
        &id,
        policy,
        buckets_gone && network_gone && image.key_free,
        &mut pass.outputs,
    )
    .await?;
    components.push(key);
    pass.requeue_after = [
        storage_requeue,
        database.requeue,
        network_requeue,
        image.requeue,
    ]
    .into_iter()
    .flatten()
    .min();
    pass.components = components;
    Ok(pass)
}

/// The first component that lives in the network and is not deleted yet, with its state.
fn network_blocker(done: &[ComponentReport]) -> Option<(ComponentName, ComponentState)> {
    done.iter()
        .filter(|c| LIVES_IN_NETWORK.contains(&c.name) && c.state != ComponentState::Deleted)
        .map(|c| (c.name, c.state))
        .next()
}

async fn cleanup_storage(
    aws: &AwsCtx,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
    policy: DeletionPolicy,
    outputs: &mut Outputs,
) -> Result<(ComponentReport, Option<Duration>), ComponentError> {
    const C: ComponentName = ComponentName::FileStorage;
    // The name that was actually used wins over a spec that may have become invalid.
    let recorded = env
        .status
        .as_ref()
        .and_then(|s| s.outputs.file_bucket.clone());
    let files = recorded
        .or_else(|| file_bucket(id, &env.spec.storage).ok())
        .unwrap_or_else(|| file_bucket_name(&id.environment_id()));
    // The log bucket is looked at even when access logs were switched off later.
    let logs = log_bucket_name(&id.environment_id());
    let (mut messages, mut requeue, mut wrote) = (Vec::new(), None, false);
    let (mut deleting, mut retained) = (false, false);
    for (name, is_files) in [(&files, true), (&logs, false)] {
        match storage::observe(aws, name, &id.uid)
            .await
            .map_err(aws_err(C))?
        {
            BucketPresence::Absent => {}
            BucketPresence::NotOurs { .. } => messages.push(format!(
                "bucket {name} is not owned by this environment; left untouched"
            )),
            BucketPresence::Owned(_) if policy == DeletionPolicy::Delete => {
                wrote = true;
                match storage::cleanup::delete(aws, name)
                    .await
                    .map_err(aws_err(C))?
                {
                    Progress::Done => messages.push(format!("deleted bucket {name}")),
                    Progress::InProgress {
                        requeue_after,
                        reason,
                    } => {
                        deleting = true;
                        requeue = Some(requeue_after);
                        messages.push(reason);
                    }
                }
            }
            BucketPresence::Owned(seen) => {
                wrote |= storage::cleanup::retain(aws, name, &seen.tags)
                    .await
                    .map_err(aws_err(C))?;
                retained = true;
                messages.push(format!("kept bucket {name} ({policy:?} policy)"));
                if is_files {
                    outputs.file_bucket = Some(name.clone());
                } else {
                    outputs.access_log_bucket = Some(name.clone());
                }
            }
        }
    }
    let state = if deleting {
        ComponentState::Deleting
    } else if retained {
        ComponentState::Retained
    } else {
        ComponentState::Deleted
    };
    let mut r = report(C, state, messages.join("; "));
    r.id = Some(files.clone());
    r.arn = Some(bucket_arn(id.partition(), &files));
    r.wrote = wrote;
    Ok((r, requeue))
}

async fn cleanup_key(
    aws: &AwsCtx,
    id: &EnvIdentity,
    policy: DeletionPolicy,
    dependents_gone: bool,
    outputs: &mut Outputs,
) -> Result<ComponentReport, ComponentError> {
    const C: ComponentName = ComponentName::EncryptionKey;
    let alias = desired_key(id, &[]).map_err(invalid(C))?.alias;
    let mut seen = kms::observe(aws, &alias).await.map_err(aws_err(C))?;
    if seen.is_none() && policy == DeletionPolicy::Delete && dependents_gone {
        seen = kms::find_orphan(aws, &id.uid).await.map_err(aws_err(C))?;
    }
    let Some(key) = seen.filter(|k| k.tags.is_owned_by(&id.uid)) else {
        return Ok(report(
            C,
            ComponentState::Deleted,
            "no key owned by this environment",
        ));
    };
    let mut r = report(C, ComponentState::Deleted, "");
    r.id = Some(key.key_id.clone());
    r.arn = Some(key.arn.clone());
    if policy != DeletionPolicy::Delete {
        let mut marker = TagSet::new();
        marker.insert(RETAINED_TAG, "true");
        if !marker.missing_from(&key.tags).is_empty() {
            kms::tag(aws, &key.key_id, &marker)
                .await
                .map_err(aws_err(C))?;
            r.wrote = true;
        }
        r.state = ComponentState::Retained;
        r.message = Some(format!("kept key {} ({policy:?} policy)", key.key_id));
        outputs.kms_key_arn = Some(key.arn);
        outputs.kms_key_alias = Some(alias);
        return Ok(r);
    }
    // Never while a bucket or the flow-log group encrypted with the key is still there.
    if !dependents_gone {
        r.state = ComponentState::Deleting;
        r.message = Some(
            "waiting for the buckets, the network and the image pipeline to be deleted first"
                .into(),
        );
        return Ok(r);
    }
    if key.state != KeyState::PendingDeletion {
        kms::schedule_deletion(aws, &key.key_id)
            .await
            .map_err(aws_err(C))?;
        r.wrote = true;
    }
    kms::delete_alias(aws, &alias).await.map_err(aws_err(C))?;
    r.message = Some(format!(
        "key {} scheduled for deletion in {} days",
        key.key_id,
        kms::MIN_DELETION_WINDOW_DAYS
    ));
    Ok(r)
}
