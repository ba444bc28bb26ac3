//! Restores (`spec.database.restoreFrom`): the source checked before anything is
//! created, the new cluster built and converged, then the cut-over once it is ready.

use crate::api::RetiredCluster;
use crate::aws::AwsCtx;
use crate::aws::rds::{self, snapshots};
use crate::plan::TagSet;
use crate::plan::database::DesiredDatabase;
use crate::plan::database::cluster::ObservedCluster;
use crate::plan::database::instances::ObservedInstance;
use crate::plan::database::names::{
    ACTIVE_SINCE_TAG, ENGINE_VERSION_TAG, RESTORE_SOURCE_TAG, RESTORED_FROM_TAG, RETIRED_AT_TAG,
    SNAPSHOT_KIND_TAG, pre_restore_snapshot_id, source_hash,
};
use crate::plan::database::restore::{ClusterRoles, RestoreSource, RestoreStep, restore_step};
use crate::plan::database::version::check_restorable;
use crate::reconcile::error::{ComponentError, aws_err};
use crate::reconcile::ledger::Ledger;

use super::cluster::converge_cluster;
use super::{C, DB_BUSY_REQUEUE, now_tag, rejected, tag_value};

/// Checks a restore source before anything is created. `Ok(false)`: the source exists but
/// is not ready (a snapshot still being taken); errors are terminal.
pub(super) async fn check_restore_source(
    aws: &AwsCtx,
    want: &DesiredDatabase,
    source: &RestoreSource,
    pass: &mut Ledger,
) -> Result<bool, ComponentError> {
    let err = aws_err(C);
    let engine = &want.cluster.engine_version;
    match source {
        RestoreSource::Snapshot(id) => {
            let Some(s) = snapshots::describe_snapshot(aws, id).await.map_err(&err)? else {
                return Err(rejected(
                    "spec.database.restoreFrom.snapshotIdentifier",
                    format!(
                        "cluster snapshot {id} does not exist in {} (or is not shared with this account)",
                        aws.region
                    ),
                ));
            };
            check_restorable(engine, &s.engine, &s.engine_version, &format!("snapshot {id}"))
                .map_err(|m| rejected("spec.database.restoreFrom.snapshotIdentifier", m))?;
            if !s.available() {
                pass.note(format!("snapshot {id} is {}", s.status));
                return Ok(false);
            }
            Ok(true)
        }
        RestoreSource::PointInTime { cluster, time } => {
            let Some(src) = rds::describe_cluster(aws, cluster).await.map_err(&err)? else {
                return Err(rejected(
                    "spec.database.restoreFrom.pointInTime.sourceClusterIdentifier",
                    format!("cluster {cluster} does not exist in {}", aws.region),
                ));
            };
            check_restorable(
                engine,
                &src.engine,
                &src.engine_version,
                &format!("cluster {cluster}"),
            )
            .map_err(|m| rejected("spec.database.restoreFrom.pointInTime", m))?;
            if let Some(t) = time {
                let early = src.earliest_restorable_time.is_some_and(|e| *t < e);
                let late = src.latest_restorable_time.is_some_and(|l| *t > l);
                if early || late {
                    return Err(rejected(
                        "spec.database.restoreFrom.pointInTime.restoreTime",
                        format!(
                            "{t} is outside what cluster {cluster} can restore to ({} to {})",
                            src.earliest_restorable_time.map(|e| e.to_string()).unwrap_or_default(),
                            src.latest_restorable_time.map(|e| e.to_string()).unwrap_or_default()
                        ),
                    ));
                }
            }
            Ok(true)
        }
    }
}

/// What advancing a restore did.
#[derive(Default)]
pub(super) struct RestoreOutcome {
    pub(super) cut_over: bool,
    pub(super) message: Option<String>,
    /// The cluster the cut-over retired.
    pub(super) retired: Option<RetiredCluster>,
}

impl RestoreOutcome {
    fn waiting(message: impl Into<String>) -> Self {
        Self { message: Some(message.into()), ..Self::default() }
    }
}

pub(super) async fn advance_restore(
    aws: &AwsCtx,
    want: &DesiredDatabase,
    roles: &ClusterRoles<'_>,
    of: &impl Fn(&ObservedCluster) -> Vec<ObservedInstance>,
    source_ready: bool,
    pass: &mut Ledger,
) -> Result<RestoreOutcome, ComponentError> {
    let err = aws_err(C);
    let Some(target) = &want.restore else {
        return Ok(RestoreOutcome::default());
    };
    let key = target.source.key();
    let pre_snapshot = roles.active.map(|a| pre_restore_snapshot_id(&a.id, &key));
    let pre_exists = match (&pre_snapshot, roles.restoring) {
        (Some(id), None) => snapshots::describe_snapshot(aws, id).await.map_err(&err)?.is_some(),
        _ => true,
    };
    let outcome = match roles.restoring {
        Some(t) => Some(Box::pin(converge_cluster(aws, t, &of(t), want, pass)).await?),
        None => None,
    };
    let step = restore_step(
        roles.active,
        roles.restoring,
        outcome.as_ref().is_some_and(|o| o.writer_available),
        outcome.as_ref().is_some_and(|o| o.in_sync),
        pre_exists,
    );
    let source = target.source.describe();
    match step {
        RestoreStep::Create { snapshot_active } => {
            if !source_ready {
                // A snapshot still being taken.
                pass.busy(format!("restore waits for {source} to be available"), DB_BUSY_REQUEUE);
                return Ok(RestoreOutcome::waiting(format!("waiting for {source}")));
            }
            if !pass.apply() {
                pass.missing(format!("restore of {source} into {} not started", target.cluster_id));
                return Ok(RestoreOutcome::default());
            }
            if snapshot_active && let (Some(active), Some(snap)) = (roles.active, &pre_snapshot) {
                let mut tags = want.tags.clone();
                tags.insert(SNAPSHOT_KIND_TAG, "pre-restore");
                snapshots::create_snapshot(aws, &active.id, snap, &tags).await.map_err(&err)?;
                pass.changed(format!(
                    "took snapshot {snap} of cluster {} before the restore",
                    active.id
                ));
            }
            let mut tags = want.cluster.tags.clone();
            tags.insert(RESTORE_SOURCE_TAG, source_hash(&key));
            tags.insert(RESTORED_FROM_TAG, tag_value(&source));
            tags.insert(ENGINE_VERSION_TAG, want.cluster.engine_version.as_str());
            if roles.active.is_none() {
                // Nothing to cut over from: the restored cluster serves once ready, and
                // until then nothing else is created in its place.
                tags.insert(ACTIVE_SINCE_TAG, now_tag());
            }
            match &target.source {
                RestoreSource::Snapshot(id) => {
                    rds::restore_from_snapshot(aws, &target.cluster_id, id, &want.cluster, &tags)
                        .await
                        .map_err(&err)?
                }
                RestoreSource::PointInTime { cluster, time } => rds::restore_to_point_in_time(
                    aws,
                    &target.cluster_id,
                    cluster,
                    *time,
                    &want.cluster,
                    &tags,
                )
                .await
                .map_err(&err)?,
            }
            pass.created(format!("restoring {source} into cluster {}", target.cluster_id));
            let message = match roles.active {
                Some(a) => format!(
                    "creating cluster {}; REDCap stays on {} until it is ready",
                    target.cluster_id, a.id
                ),
                None => format!("creating cluster {}", target.cluster_id),
            };
            Ok(RestoreOutcome::waiting(message))
        }
        RestoreStep::Wait(message) => {
            pass.busy(format!("restore from {source}: {message}"), DB_BUSY_REQUEUE);
            Ok(RestoreOutcome::waiting(message))
        }
        RestoreStep::CutOver => {
            let Some(new) = roles.restoring else {
                return Ok(RestoreOutcome::default());
            };
            if !pass.apply() {
                pass.changed(format!("switch to cluster {} (restored from {source})", new.id));
                return Ok(RestoreOutcome::waiting("ready to cut over"));
            }
            let stamp = now_tag();
            let mut tags = TagSet::new();
            tags.insert(ACTIVE_SINCE_TAG, stamp.clone());
            rds::add_tags(aws, &new.arn, &tags).await.map_err(&err)?;
            let mut retired = None;
            if let Some(old) = roles.active {
                let mut tags = TagSet::new();
                tags.insert(RETIRED_AT_TAG, stamp.clone());
                rds::add_tags(aws, &old.arn, &tags).await.map_err(&err)?;
                pass.changed(format!(
                    "switched to cluster {} restored from {source}; cluster {} is retired (kept, deletion-protected)",
                    new.id, old.id
                ));
                retired = Some(RetiredCluster {
                    identifier: old.id.clone(),
                    status: Some(old.status.clone()),
                    retired_at: Some(stamp),
                    snapshot_identifier: pre_snapshot.clone(),
                });
            } else {
                pass.changed(format!("cluster {} restored from {source} is in use", new.id));
            }
            Ok(RestoreOutcome { cut_over: true, message: None, retired })
        }
    }
}
