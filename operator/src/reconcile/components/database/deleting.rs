//! Deleting one cluster step by step (retired clusters, and every cluster on deletion)
//! and on-demand snapshots (`redcap.dev/snapshot-requested-at`).

use crate::api::SnapshotStatus;
use crate::aws::AwsCtx;
use crate::aws::rds::{self, snapshots};
use crate::plan::database::DesiredDatabase;
use crate::plan::database::cluster::{ClusterModification, ObservedCluster};
use crate::plan::database::deletion::{DeleteStep, delete_step};
use crate::plan::database::instances::ObservedInstance;
use crate::plan::database::names::{SNAPSHOT_KIND_TAG, on_demand_snapshot_id};
use crate::reconcile::error::{ComponentError, aws_err};
use crate::reconcile::ledger::Ledger;

use super::{C, DB_BUSY_REQUEUE, time};

/// Advances the deletion of a cluster as far as one pass can (protection off, then the
/// instances, then the cluster); returns the final snapshot's name once the cluster's
/// deletion with it has been asked for or is under way.
pub(super) async fn delete_one(
    aws: &AwsCtx,
    cluster: &ObservedCluster,
    instances: &[ObservedInstance],
    final_snapshot: bool,
    pass: &mut Ledger,
) -> Result<Option<String>, ComponentError> {
    let err = aws_err(C);
    let snapshot =
        final_snapshot.then(|| crate::plan::database::names::final_snapshot_id(&cluster.id));
    // What this pass has done so far, as RDS will report it next time.
    let mut cluster = cluster.clone();
    let mut instances = instances.to_vec();
    loop {
        match delete_step(Some(&cluster), &instances, final_snapshot) {
            DeleteStep::Gone => return Ok(snapshot),
            DeleteStep::Wait(message) => {
                pass.waiting(message, DB_BUSY_REQUEUE);
                return Ok(snapshot.filter(|_| cluster.status == "deleting"));
            }
            DeleteStep::LiftProtection => {
                let m = ClusterModification {
                    deletion_protection: Some(false),
                    ..ClusterModification::default()
                };
                rds::modify_cluster(aws, &cluster.id, &m).await.map_err(&err)?;
                pass.changed(format!(
                    "lifted deletion protection of cluster {} to delete it",
                    cluster.id
                ));
                cluster.deletion_protection = false;
            }
            DeleteStep::DeleteInstances(ids) => {
                for i in &ids {
                    rds::delete_instance(aws, i).await.map_err(&err)?;
                }
                pass.changed(format!("deleting instances {}", ids.join(", ")));
                for i in instances.iter_mut() {
                    i.status = "deleting".to_string();
                }
            }
            DeleteStep::DeleteCluster { final_snapshot } => {
                rds::delete_cluster(aws, &cluster.id, final_snapshot.as_deref())
                    .await
                    .map_err(&err)?;
                pass.changed(match &final_snapshot {
                    Some(s) => format!("deleting cluster {} with final snapshot {s}", cluster.id),
                    None => format!("deleting cluster {} without a final snapshot", cluster.id),
                });
                return Ok(final_snapshot);
            }
        }
    }
}

pub(super) async fn on_demand_snapshot(
    aws: &AwsCtx,
    want: &DesiredDatabase,
    requested: &str,
    cluster: Option<&ObservedCluster>,
    previous: Option<&SnapshotStatus>,
    pass: &mut Ledger,
) -> Result<Option<SnapshotStatus>, ComponentError> {
    let err = aws_err(C);
    let id = on_demand_snapshot_id(&want.environment_id, requested);
    if let Some(p) = previous
        && p.identifier == id
        && p.status.as_deref() == Some("available")
    {
        return Ok(Some(p.clone()));
    }
    let mut status = SnapshotStatus {
        identifier: id.clone(),
        requested_at: requested.to_string(),
        status: None,
        created_at: None,
    };
    match snapshots::describe_snapshot(aws, &id).await.map_err(&err)? {
        Some(s) => {
            if !s.available() {
                pass.busy(format!("snapshot {id} is {}", s.status), DB_BUSY_REQUEUE);
            }
            status.status = Some(s.status.clone());
            status.created_at = s.created.map(time);
        }
        None => match cluster.filter(|c| c.available()) {
            Some(c) if pass.apply() => {
                let mut tags = want.tags.clone();
                tags.insert(SNAPSHOT_KIND_TAG, "on-demand");
                snapshots::create_snapshot(aws, &c.id, &id, &tags).await.map_err(&err)?;
                pass.changed(format!("taking snapshot {id} of cluster {}", c.id));
                pass.wait_for(DB_BUSY_REQUEUE);
                status.status = Some("creating".to_string());
            }
            Some(_) => pass.missing(format!("snapshot {id} not taken yet")),
            None => {
                pass.busy(format!("snapshot {id} waits for an available cluster"), DB_BUSY_REQUEUE)
            }
        },
    }
    Ok(Some(status))
}
