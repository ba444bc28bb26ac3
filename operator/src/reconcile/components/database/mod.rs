//! `database`: Aurora Serverless v2 MySQL (sequences `plan::database` decisions and
//! `aws::rds` calls; deletion in `cleanup.rs`).
//!
//! Order in a pass: find the clusters (by identifier: the deterministic names and the
//! last status's; by a listing when no active cluster is among them), check what the spec
//! asks (a pending restore's source, the running cluster's changes) before anything is
//! written, so a rejected change never touches the running database; then the subnet
//! group and the parameter group. While a restore is pending the active cluster is left as
//! it is (only its pre-restore snapshot is taken). Then: the active cluster converges (one
//! `ModifyDBCluster`, instances, master password rotation schedule, log retention), the
//! restore advances (create, converge, cut over), retired clusters named in the
//! annotation are deleted, and an on-demand snapshot is taken when the annotation asks
//! for a new one.

use std::time::Duration;

use jiff::Timestamp;

use crate::api::{
    ANNOTATION_DELETE_RETIRED_CLUSTERS, ANNOTATION_SNAPSHOT_REQUESTED_AT, ComponentName,
    DatabaseStatus, MasterUserSecretStatus, Outputs, RedcapEnvironment, RestoreStatus,
    RetiredCluster, SecretOutput,
};
use crate::aws::AwsCtx;
use crate::aws::rds::{self};
use crate::plan::database::cluster::{ObservedCluster, cluster_plan};
use crate::plan::database::deletion::named_for_deletion;
use crate::plan::database::instances::ObservedInstance;
use crate::plan::database::names::{
    ACTIVE_SINCE_TAG, ENGINE_VERSION_TAG, RESTORE_SOURCE_TAG, RESTORED_FROM_TAG, RETIRED_AT_TAG,
};
use crate::plan::database::restore::{ClusterRoles, roles};
use crate::plan::database::{DATABASE_NAME, DesiredDatabase, desired_database};
use crate::plan::network::NetworkOutputs;
use crate::plan::{EnvIdentity, PlanError, TagSet};
use crate::reconcile::error::{ComponentError, aws_err, invalid};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::report::DatabaseHandoff;
use crate::reconcile::walk::{Component, Walk};

mod cleanup;
mod cluster;
mod deleting;
mod restore;

use self::cluster::{
    converge_cluster, converge_logs, converge_parameter_group, converge_subnet_group,
};
use self::deleting::{delete_one, on_demand_snapshot};
use self::restore::{advance_restore, check_restore_source};

const C: ComponentName = ComponentName::Database;

/// Look again this soon while RDS is busy (creating, modifying, snapshotting).
pub const DB_BUSY_REQUEUE: Duration = Duration::from_secs(15);

/// Name of the master secret in `status.outputs.secrets`.
pub const MASTER_SECRET_NAME: &str = "databaseMaster";

pub struct Database;

impl Component for Database {
    const NAME: ComponentName = C;
    const NEEDS: &'static [ComponentName] = &[ComponentName::EncryptionKey, ComponentName::Network];

    async fn apply(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let Some(key) = w.key_or_wait(l) else {
            return Ok(());
        };
        let Some(network) = w.network.clone() else {
            l.pending("waiting for the network");
            return Ok(());
        };
        let step =
            apply_database(w.aws, w.env, &w.id, &key.arn, &network, &mut w.outputs, l).await?;
        w.database = Some(step.status);
        w.runtime.database = step.handoff;
        w.runtime.database_cutover_pending = step.cutover_pending;
        Ok(())
    }

    async fn cleanup(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        cleanup::cleanup_database(w, l).await
    }
}

/// What the database step hands on.
struct DatabaseStep {
    status: DatabaseStatus,
    handoff: Option<DatabaseHandoff>,
    cutover_pending: bool,
}

pub(super) fn plan_err(e: PlanError) -> ComponentError {
    invalid(C)(e)
}

pub(super) fn rejected(field: &'static str, message: String) -> ComponentError {
    plan_err(PlanError::InvalidSpec { field, message })
}

pub(super) fn now_tag() -> String {
    Timestamp::from_second(Timestamp::now().as_second())
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_string()
}

pub(super) fn time(t: Timestamp) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t)
}

/// Tag values may hold at most 256 characters.
pub(super) fn tag_value(s: &str) -> String {
    s.chars().take(256).collect()
}

/// Creates, converges, restores and snapshots the database.
async fn apply_database(
    aws: &AwsCtx,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
    key_arn: &str,
    network: &NetworkOutputs,
    outputs: &mut Outputs,
    pass: &mut Ledger,
) -> Result<DatabaseStep, ComponentError> {
    let want =
        desired_database(id, &env.spec, &env.spec.aws.tags, key_arn, network).map_err(plan_err)?;
    let previous = env.status.as_ref().and_then(|s| s.database.as_ref());
    let annotations = env.metadata.annotations.as_ref();
    let err = aws_err(C);

    // The clusters, by role.
    let clusters = find_clusters(aws, id, &want, previous).await?;
    let target_id = want.restore.as_ref().map(|r| r.cluster_id.as_str());
    let roles = roles(&clusters, target_id).map_err(plan_err)?;
    let restore_pending = target_id.is_some_and(|t| roles.active.is_none_or(|a| a.id != t));

    // A restore is checked before anything is written: a rejected one stalls the
    // environment and leaves every cluster as it is.
    let mut source_ready = true;
    if restore_pending
        && roles.restoring.is_none()
        && let Some(target) = &want.restore
    {
        source_ready = check_restore_source(aws, &want, &target.source, pass).await?;
    }

    if roles.active.is_none()
        && !restore_pending
        && let Some(message) = vanished(previous, &roles)
    {
        return Err(rejected("spec.database", message));
    }
    // So is what the spec asks of the running cluster (a downgrade, backtrack turned on
    // late): refused before the groups it uses change.
    if let Some(active) = roles.active.filter(|_| !restore_pending) {
        cluster_plan(&want.cluster, active).map_err(plan_err)?;
    }

    converge_subnet_group(aws, &want, pass).await?;
    converge_parameter_group(aws, &want, pass).await?;

    // Instances of the clusters the pass works on.
    let mut ids: Vec<String> = roles.active.iter().map(|c| c.id.clone()).collect();
    ids.extend(roles.restoring.iter().map(|c| c.id.clone()));
    let (to_delete, unknown) = named_for_deletion(
        annotations.and_then(|a| a.get(ANNOTATION_DELETE_RETIRED_CLUSTERS)).map(String::as_str),
        &roles.retired,
    );
    ids.extend(to_delete.iter().map(|c| c.id.clone()));
    let instances = rds::describe_instances(aws, &ids).await.map_err(&err)?;
    let of = |c: &ObservedCluster| members_of(c, &instances);

    let mut status = DatabaseStatus::default();
    let mut serving: Option<ObservedCluster> = roles.active.cloned();

    // No cluster yet and nothing to restore: the first one.
    if roles.active.is_none() && !restore_pending {
        if pass.apply() {
            let mut tags = want.cluster.tags.clone();
            tags.insert(ACTIVE_SINCE_TAG, now_tag());
            tags.insert(ENGINE_VERSION_TAG, want.cluster.engine_version.as_str());
            let created = rds::create_cluster(aws, &want.base_cluster_id, &want.cluster, &tags)
                .await
                .map_err(&err)?;
            pass.created(format!("creating cluster {}", want.base_cluster_id));
            serving = Some(created);
        } else {
            pass.missing(format!("cluster {} not created yet", want.base_cluster_id));
        }
    }

    // The active cluster, unless a restore is about to replace it.
    let mut active_outcome = None;
    if let Some(active) = roles.active {
        if restore_pending {
            pass.note(format!("cluster {} left as it is while the restore is pending", active.id));
        } else {
            active_outcome =
                Some(Box::pin(converge_cluster(aws, active, &of(active), &want, pass)).await?);
            converge_logs(aws, active, &want, pass).await?;
        }
    }
    for old in &roles.to_retire {
        if pass.apply() {
            let mut tags = TagSet::new();
            tags.insert(RETIRED_AT_TAG, now_tag());
            rds::add_tags(aws, &old.arn, &tags).await.map_err(&err)?;
        }
        pass.changed(format!("cluster {} marked retired", old.id));
    }

    // The restore.
    let mut cutover_pending = false;
    let mut cut_over_from: Option<RetiredCluster> = None;
    if restore_pending && let Some(target) = &want.restore {
        cutover_pending = true;
        let restore =
            Box::pin(advance_restore(aws, &want, &roles, &of, source_ready, pass)).await?;
        if let Some(old) = restore.retired {
            cut_over_from = Some(old);
        }
        if restore.cut_over {
            cutover_pending = false;
            serving = roles.restoring.cloned();
        }
        status.restore = (!restore.cut_over).then(|| RestoreStatus {
            source: target.source.describe(),
            cluster_identifier: target.cluster_id.clone(),
            message: restore.message,
        });
    }

    // Retired clusters the user asked to delete (never while suspended).
    let mut final_snapshots: Vec<String> =
        previous.map(|p| p.final_snapshots.clone()).unwrap_or_default();
    for name in unknown {
        // A cluster deleted this way earlier is no news.
        if !final_snapshots.contains(&crate::plan::database::names::final_snapshot_id(&name)) {
            pass.note(format!(
                "{ANNOTATION_DELETE_RETIRED_CLUSTERS}: {name} is not a retired cluster of this environment; ignored"
            ));
        }
    }
    for cluster in &to_delete {
        if !pass.apply() {
            pass.changed(format!("delete retired cluster {}", cluster.id));
            continue;
        }
        if let Some(snap) = delete_one(aws, cluster, &of(cluster), true, pass).await?
            && !final_snapshots.contains(&snap)
        {
            final_snapshots.push(snap);
        }
    }

    // On-demand snapshot.
    if let Some(requested) = annotations
        .and_then(|a| a.get(ANNOTATION_SNAPSHOT_REQUESTED_AT))
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        status.last_snapshot = on_demand_snapshot(
            aws,
            &want,
            requested,
            serving.as_ref(),
            previous.and_then(|p| p.last_snapshot.as_ref()),
            pass,
        )
        .await?;
    } else {
        status.last_snapshot = previous.and_then(|p| p.last_snapshot.clone());
    }

    // What the rest of the walk and the status get.
    let mut handoff = None;
    if let Some(c) = &serving {
        if c.status == "creating" {
            pass.wait_for(DB_BUSY_REQUEUE);
        }
        status.cluster_identifier = Some(c.id.clone());
        status.cluster_status = Some(c.status.clone()).filter(|s| !s.is_empty());
        status.engine_version = Some(c.engine_version.clone()).filter(|s| !s.is_empty());
        status.latest_restorable_time = restorable_time(
            c.latest_restorable_time,
            previous.and_then(|p| p.latest_restorable_time.as_ref()),
        );
        status.restored_from = c.tags.get(RESTORED_FROM_TAG).map(str::to_string);
        let members = of(c);
        status.readers = Some(members.iter().filter(|i| !i.writer && !i.deleting()).count() as u32);
        status.pending_reboot =
            members.iter().filter(|i| i.parameters_pending_reboot).map(|i| i.id.clone()).collect();
        if !status.pending_reboot.is_empty() {
            pass.note(format!(
                "parameter changes wait for a reboot of {} (not rebooted by the operator)",
                status.pending_reboot.join(", ")
            ));
        }
        let rotation = active_outcome.as_ref().and_then(|o| o.rotation.clone());
        status.master_user_secret = c.master_secret.as_ref().map(|s| MasterUserSecretStatus {
            arn: s.arn.clone(),
            status: s.status.clone(),
            rotation_enabled: rotation.as_ref().map(|r| r.enabled),
            rotation_days: rotation.as_ref().and_then(|r| r.days),
            next_rotation: rotation.as_ref().and_then(|r| r.next).map(time),
        });
        if let Some(s) = &c.master_secret {
            outputs.secrets.push(SecretOutput {
                name: MASTER_SECRET_NAME.to_string(),
                arn: s.arn.clone(),
                rotated_at: rotation.as_ref().and_then(|r| r.last_changed).map(time),
                rotation_days: Some(want.rotation_days),
            });
        }
        if c.status != "creating"
            && let Some(endpoint) = &c.endpoint
        {
            outputs.database_endpoint = Some(endpoint.clone());
            let reader = c.reader_endpoint.clone().filter(|_| want.readers > 0);
            outputs.database_reader_endpoint = reader.clone();
            handoff = Some(DatabaseHandoff {
                cluster_identifier: c.id.clone(),
                cluster_resource_id: c.resource_id.clone(),
                endpoint: endpoint.clone(),
                reader_endpoint: reader,
                port: c.port.unwrap_or(3306),
                database_name: DATABASE_NAME.to_string(),
                master_secret_arn: c.master_secret.as_ref().map(|s| s.arn.clone()),
                iam_authentication: want.cluster.iam_auth,
            });
        }
    }
    status.final_snapshots = final_snapshots;
    status.retired_clusters = roles
        .retired
        .iter()
        .map(|c| RetiredCluster {
            identifier: c.id.clone(),
            status: Some(c.status.clone()).filter(|s| !s.is_empty()),
            retired_at: c.retired_at().map(str::to_string),
            snapshot_identifier: retired_snapshot(c, &clusters),
        })
        .chain(cut_over_from)
        .collect();

    pass.identify(
        serving.as_ref().map(|c| c.id.clone()),
        serving.as_ref().map(|c| c.arn.clone()).filter(|a| !a.is_empty()),
    );
    Ok(DatabaseStep { status, handoff, cutover_pending })
}

/// How far the reported latest restorable time may lag behind AWS's. AWS moves it every
/// few minutes; reporting each move would rewrite the status on every resync.
const RESTORABLE_TIME_STEP: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

/// The latest restorable time for the status: the previous value while AWS's is less
/// than [`RESTORABLE_TIME_STEP`] ahead of it.
fn restorable_time(
    seen: Option<Timestamp>,
    previous: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
) -> Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time> {
    match (seen, previous) {
        (Some(t), Some(p)) if t >= p.0 && t.duration_since(p.0) < RESTORABLE_TIME_STEP => {
            Some(p.clone())
        }
        (t, _) => t.map(time),
    }
}

/// The snapshot taken of a retired cluster just before the restore that replaced it:
/// named after the source of the cluster that became active at the moment it retired.
fn retired_snapshot(retired: &ObservedCluster, clusters: &[ObservedCluster]) -> Option<String> {
    let at = retired.retired_at()?;
    let successor = clusters.iter().find(|c| c.active_since() == Some(at))?;
    let source = successor.tags.get(RESTORE_SOURCE_TAG)?;
    Some(format!("{}-pre-{source}", retired.id))
}

/// The instances that belong to `c`, with writer and pending-reboot flags from its
/// member list.
fn members_of(
    c: &ObservedCluster,
    instances: &[(String, ObservedInstance)],
) -> Vec<ObservedInstance> {
    instances
        .iter()
        .filter(|(cluster, _)| *cluster == c.id)
        .map(|(_, i)| {
            let member = c.members.iter().find(|m| m.id == i.id);
            ObservedInstance {
                writer: member.is_some_and(|m| m.writer),
                parameters_pending_reboot: member.and_then(|m| m.parameter_group_status.as_deref())
                    == Some("pending-reboot"),
                ..i.clone()
            }
        })
        .collect()
}

/// The message when the cluster that held the environment's data is gone while nothing
/// replaces it: stall rather than create an empty database REDCap would initialise.
fn vanished(previous: Option<&DatabaseStatus>, roles: &ClusterRoles<'_>) -> Option<String> {
    if let Some(p) = previous
        && let Some(id) = &p.cluster_identifier
        && p.cluster_status.as_deref().is_some_and(|s| s != "creating")
    {
        return Some(format!(
            "cluster {id}, which held this environment's data, no longer exists (deleted outside the operator); set spec.database.restoreFrom to its final snapshot or a point in time to rebuild it"
        ));
    }
    if !roles.retired.is_empty() {
        let names: Vec<&str> = roles.retired.iter().map(|c| c.id.as_str()).collect();
        return Some(format!(
            "no cluster serves this environment, but earlier ones exist ({}); set spec.database.restoreFrom to rebuild from a snapshot",
            names.join(", ")
        ));
    }
    None
}

/// The environment's clusters: the hinted identifiers first (one call), a full listing
/// when none of them is active or there is no status to take hints from.
async fn find_clusters(
    aws: &AwsCtx,
    id: &EnvIdentity,
    want: &DesiredDatabase,
    previous: Option<&DatabaseStatus>,
) -> Result<Vec<ObservedCluster>, ComponentError> {
    let err = aws_err(C);
    if let Some(previous) = previous {
        let mut hints = vec![want.base_cluster_id.clone()];
        hints.extend(want.restore.iter().map(|r| r.cluster_id.clone()));
        hints.extend(previous.cluster_identifier.clone());
        hints.extend(previous.restore.iter().map(|r| r.cluster_identifier.clone()));
        hints.extend(previous.retired_clusters.iter().map(|r| r.identifier.clone()));
        hints.sort();
        hints.dedup();
        let found: Vec<ObservedCluster> = rds::describe_clusters(aws, &hints)
            .await
            .map_err(&err)?
            .into_iter()
            .filter(|c| c.tags.is_owned_by(&id.uid))
            .collect();
        let has_active =
            found.iter().any(|c| c.active_since().is_some() && c.retired_at().is_none());
        if has_active {
            return Ok(found);
        }
    }
    rds::list_owned_clusters(aws, &id.uid).await.map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restorable_time_moves_in_steps_of_an_hour() {
        let t = |s: &str| s.parse::<Timestamp>().expect("time");
        let before = time(t("2026-05-01T10:00:00Z"));
        let kept = restorable_time(Some(t("2026-05-01T10:59:00Z")), Some(&before));
        assert_eq!(kept, Some(before.clone()));
        let moved = restorable_time(Some(t("2026-05-01T11:00:00Z")), Some(&before));
        assert_eq!(moved, Some(time(t("2026-05-01T11:00:00Z"))));
        // Backwards (a restored cluster) or first seen: taken as it is.
        let back = restorable_time(Some(t("2026-04-01T00:00:00Z")), Some(&before));
        assert_eq!(back, Some(time(t("2026-04-01T00:00:00Z"))));
        assert_eq!(restorable_time(None, Some(&before)), None);
        assert_eq!(restorable_time(Some(t("2026-05-01T10:00:00Z")), None), Some(before));
    }
}
