//! The database on the finalizer path (step: reconcile cleanup; no AWS client code, no
//! status writes).
//!
//! Every cluster tagged with the environment's UID (active, restoring, retired) follows
//! `deletionPolicy`: `Retain` leaves clusters and instances as they are (tagged
//! `redcap.dev/retained=true`), `Snapshot` deletes them each with a final snapshot
//! `<cluster>-final`, `Delete` deletes them without one and also removes the snapshots the
//! operator took (on demand, before restores, finals of retired clusters) and the
//! exported log groups, since the key that encrypts them is deleted too. Deletion
//! protection is lifted only here. The subnet and parameter groups go once no cluster is
//! left. While clusters remain, the network waits (see `cleanup::LIVES_IN_NETWORK`).

use std::time::Duration;

use crate::api::{
    ComponentName, ComponentState, DatabaseStatus, DeletionPolicy, Outputs, RedcapEnvironment,
    RetiredCluster,
};
use crate::aws::AwsCtx;
use crate::aws::database::{self as rds, groups, logs, snapshots};
use crate::plan::database::names::{base_cluster_id, parameter_group_name, subnet_group_name};
use crate::plan::naming::RETAINED_TAG;
use crate::plan::{EnvIdentity, TagSet};
use crate::reconcile::report::ComponentReport;

use super::database::{DB_BUSY_REQUEUE, DeletionLog, delete_one};
use super::{ComponentError, aws_err, report};

const C: ComponentName = ComponentName::Database;

#[derive(Default)]
struct Log {
    wrote: bool,
    waiting: bool,
    notes: Vec<String>,
}

impl DeletionLog for Log {
    fn wrote(&mut self, what: String) {
        self.wrote = true;
        self.notes.push(what);
    }
    fn waiting(&mut self, what: String) {
        self.waiting = true;
        self.notes.push(what);
    }
}

/// What the database's deletion pass produced.
pub(super) struct DatabaseCleanup {
    pub report: ComponentReport,
    pub requeue: Option<Duration>,
    pub status: Option<DatabaseStatus>,
}

pub(super) async fn cleanup_database(
    aws: &AwsCtx,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
    policy: DeletionPolicy,
    outputs: &mut Outputs,
) -> Result<DatabaseCleanup, ComponentError> {
    let err = aws_err(C);
    let environment_id = id.environment_id();
    let previous = env.status.as_ref().and_then(|s| s.database.clone());
    let mut status = previous.clone().unwrap_or_default();
    status.restore = None;
    let clusters = rds::list_owned_clusters(aws, &id.uid).await.map_err(&err)?;
    let mut log = Log::default();

    if policy == DeletionPolicy::Retain {
        let mut marker = TagSet::new();
        marker.insert(RETAINED_TAG, "true");
        for c in &clusters {
            if !marker.missing_from(&c.tags).is_empty() {
                rds::add_tags(aws, &c.arn, &marker).await.map_err(&err)?;
                log.wrote = true;
            }
        }
        if !clusters.is_empty() {
            let names: Vec<&str> = clusters.iter().map(|c| c.id.as_str()).collect();
            let active = clusters
                .iter()
                .find(|c| {
                    Some(&c.id)
                        == previous
                            .as_ref()
                            .and_then(|p| p.cluster_identifier.as_ref())
                })
                .or(clusters.first());
            if let Some(a) = active {
                outputs.database_endpoint = a.endpoint.clone();
            }
            let mut r = report(
                C,
                ComponentState::Retained,
                format!(
                    "kept cluster(s) {} with their instances (Retain policy)",
                    names.join(", ")
                ),
            );
            r.id = active.map(|c| c.id.clone());
            r.arn = active.map(|c| c.arn.clone());
            r.wrote = log.wrote;
            return Ok(DatabaseCleanup {
                report: r,
                requeue: None,
                status: Some(status),
            });
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
        if let Some(snap) = delete_one(aws, c, &own, take_final, &mut log).await?
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
    if let Some(active) = clusters
        .iter()
        .find(|c| Some(&c.id) == status.cluster_identifier.as_ref())
    {
        status.cluster_status = Some(active.status.clone());
    }
    if !clusters.is_empty() {
        let mut r = report(C, ComponentState::Deleting, log.notes.join("; "));
        r.id = status.cluster_identifier.clone();
        r.wrote = log.wrote;
        return Ok(DatabaseCleanup {
            report: r,
            requeue: Some(DB_BUSY_REQUEUE),
            status: Some(status),
        });
    }

    // No cluster left.
    status.cluster_status = None;
    status.readers = None;
    status.retired_clusters.clear();
    if policy == DeletionPolicy::Delete {
        for s in snapshots::list_owned_manual_snapshots(aws, &id.uid)
            .await
            .map_err(&err)?
        {
            snapshots::delete_snapshot(aws, &s.id).await.map_err(&err)?;
            log.wrote(format!("deleted snapshot {}", s.id));
        }
        let prefix = format!("/aws/rds/cluster/{}", base_cluster_id(&environment_id));
        for (name, _) in logs::log_groups(aws, &prefix).await.map_err(&err)? {
            logs::delete_log_group(aws, &name).await.map_err(&err)?;
            log.wrote(format!("deleted log group {name}"));
        }
    }
    // Looked up first, so a repeated cleanup makes no (failing) delete calls.
    let subnet_group = subnet_group_name(&environment_id);
    if groups::describe_subnet_group(aws, &subnet_group)
        .await
        .map_err(&err)?
        .is_some()
        && groups::delete_subnet_group(aws, &subnet_group)
            .await
            .map_err(&err)?
    {
        log.wrote(format!("deleted DB subnet group {subnet_group}"));
    }
    let parameter_group = parameter_group_name(&environment_id);
    if groups::user_parameters(aws, &parameter_group)
        .await
        .map_err(&err)?
        .is_some()
        && groups::delete_parameter_group(aws, &parameter_group)
            .await
            .map_err(&err)?
    {
        log.wrote(format!("deleted parameter group {parameter_group}"));
    }
    let mut message = match (&status.cluster_identifier, policy) {
        (Some(c), DeletionPolicy::Snapshot) => format!(
            "cluster {c} deleted; final snapshot(s): {}",
            status.final_snapshots.join(", ")
        ),
        (Some(c), _) => format!("cluster {c} deleted without a final snapshot (Delete policy)"),
        (None, _) => "no cluster owned by this environment".to_string(),
    };
    if !log.notes.is_empty() {
        message = format!("{message}; {}", log.notes.join("; "));
    }
    let mut r = report(C, ComponentState::Deleted, message);
    r.id = status.cluster_identifier.clone();
    r.wrote = log.wrote;
    Ok(DatabaseCleanup {
        report: r,
        requeue: log.waiting.then_some(DB_BUSY_REQUEUE),
        status: Some(status),
    })
}
