//! The database on the finalizer path.
//!
//! Every cluster tagged with the environment's UID (active, restoring, retired) follows
//! `deletionPolicy`: `Retain` leaves clusters and instances as they are (tagged
//! `redcap.dev/retained=true`), `Snapshot` deletes them each with a final snapshot
//! `<cluster>-final`, `Delete` deletes them without one and also removes the snapshots the
//! operator took (on demand, before restores, finals of retired clusters) and the
//! exported log groups, since the key that encrypts them is deleted too. Deletion
//! protection is lifted only here. The subnet and parameter groups go once no cluster is
//! left. While clusters remain, the network waits (the component table says the database
//! lives in the network).

use crate::api::{DeletionPolicy, RetiredCluster};
use crate::aws::logs;
use crate::aws::rds::{self, groups, snapshots};
use crate::plan::TagSet;
use crate::plan::database::names::{base_cluster_id, parameter_group_name, subnet_group_name};
use crate::plan::naming::RETAINED_TAG;
use crate::reconcile::error::{ComponentError, aws_err};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::Walk;

use super::{C, DB_BUSY_REQUEUE, delete_one};

pub(super) async fn cleanup_database(
    w: &mut Walk<'_>,
    log: &mut Ledger,
) -> Result<(), ComponentError> {
    let (aws, id, env) = (w.aws, &w.id, w.env);
    let policy = env.spec.deletion_policy;
    let err = aws_err(C);
    let environment_id = id.environment_id();
    let previous = env.status.as_ref().and_then(|s| s.database.clone());
    let mut status = previous.clone().unwrap_or_default();
    status.restore = None;
    let clusters = rds::list_owned_clusters(aws, &id.uid).await.map_err(&err)?;

    if policy == DeletionPolicy::Retain {
        let mut marker = TagSet::new();
        marker.insert(RETAINED_TAG, "true");
        for c in &clusters {
            if !marker.missing_from(&c.tags).is_empty() {
                rds::add_tags(aws, &c.arn, &marker).await.map_err(&err)?;
                log.mark_written();
            }
        }
        if !clusters.is_empty() {
            let names: Vec<&str> = clusters.iter().map(|c| c.id.as_str()).collect();
            let active = clusters
                .iter()
                .find(|c| {
                    Some(&c.id) == previous.as_ref().and_then(|p| p.cluster_identifier.as_ref())
                })
                .or(clusters.first());
            if let Some(a) = active {
                w.outputs.database_endpoint = a.endpoint.clone();
            }
            log.retained(format!(
                "kept cluster(s) {} with their instances (Retain policy)",
                names.join(", ")
            ));
            log.identify(active.map(|c| c.id.clone()), active.map(|c| c.arn.clone()));
            w.database = Some(status);
            return Ok(());
        }
    }

    let ids: Vec<String> = clusters.iter().map(|c| c.id.clone()).collect();
    let instances = rds::describe_instances(aws, &ids).await.map_err(&err)?;
    let take_final = policy == DeletionPolicy::Snapshot;
    for c in &clusters {
        let own: Vec<_> = instances
            .iter()
            .filter(|(cluster, _)| *cluster == c.id)
            .map(|(_, i)| i.clone())
            .collect();
        if let Some(snap) = delete_one(aws, c, &own, take_final, log).await?
            && !status.final_snapshots.contains(&snap)
        {
            status.final_snapshots.push(snap);
        }
    }
    status.retired_clusters = clusters
        .iter()
        .filter(|c| Some(&c.id) != status.cluster_identifier.as_ref())
        .map(|c| RetiredCluster {
            identifier: c.id.clone(),
            status: Some(c.status.clone()),
            retired_at: c.retired_at().map(str::to_string),
            snapshot_identifier: None,
        })
        .collect();
    if let Some(active) =
        clusters.iter().find(|c| Some(&c.id) == status.cluster_identifier.as_ref())
    {
        status.cluster_status = Some(active.status.clone());
    }
    if !clusters.is_empty() {
        log.identify(status.cluster_identifier.clone(), None);
        log.deleting("deleting the cluster(s)", Some(DB_BUSY_REQUEUE));
        w.database = Some(status);
        return Ok(());
    }

    // No cluster left.
    status.cluster_status = None;
    status.readers = None;
    status.retired_clusters.clear();
    if policy == DeletionPolicy::Delete {
        for s in
            snapshots::list_operator_snapshots(aws, &id.uid, &environment_id).await.map_err(&err)?
        {
            snapshots::delete_snapshot(aws, &s.id).await.map_err(&err)?;
            log.deleted(format!("deleted snapshot {}", s.id));
        }
        let prefix = format!("/aws/rds/cluster/{}", base_cluster_id(&environment_id));
        for (name, _) in logs::under_prefix(aws, &prefix).await.map_err(&err)? {
            logs::delete(aws, &name).await.map_err(&err)?;
            log.deleted(format!("deleted log group {name}"));
        }
    }
    // Looked up first, so a repeated cleanup makes no (failing) delete calls.
    let subnet_group = subnet_group_name(&environment_id);
    if groups::describe_subnet_group(aws, &subnet_group).await.map_err(&err)?.is_some()
        && groups::delete_subnet_group(aws, &subnet_group).await.map_err(&err)?
    {
        log.deleted(format!("deleted DB subnet group {subnet_group}"));
    }
    let parameter_group = parameter_group_name(&environment_id);
    if groups::user_parameters(aws, &parameter_group).await.map_err(&err)?.is_some()
        && groups::delete_parameter_group(aws, &parameter_group).await.map_err(&err)?
    {
        log.deleted(format!("deleted parameter group {parameter_group}"));
    }
    log.note(match (&status.cluster_identifier, policy) {
        (Some(c), DeletionPolicy::Snapshot) => {
            format!("cluster {c} deleted; final snapshot(s): {}", status.final_snapshots.join(", "))
        }
        (Some(c), _) => format!("cluster {c} deleted without a final snapshot (Delete policy)"),
        (None, _) => "no cluster owned by this environment".to_string(),
    });
    log.identify(status.cluster_identifier.clone(), None);
    w.database = Some(status);
    Ok(())
}
