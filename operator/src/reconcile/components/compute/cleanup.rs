//! Deleting the compute component with its environment: every kind's service first (and
//! what only it uses: load balancer, target groups, autoscaling, connector), then the
//! roles, the cluster and the initial-password secret. The container log group holds
//! REDCap's access and error logs: `Retain` keeps it (tagged `redcap.dev/retained=true`),
//! the other policies delete it. Nothing without this environment's UID tag is touched.

use std::time::Duration;

use crate::api::{ComputeKind, DeletionPolicy};
use crate::aws::iam::role;
use crate::aws::{ecs, logs};
use crate::plan::compute::{cluster_name, log_group_name};
use crate::plan::naming::RETAINED_TAG;
use crate::plan::tags::TagSet;
use crate::reconcile::error::{ComponentError, aws_err};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::Walk;

use super::{C, Retired, retire, shared};

/// Look again this soon while services drain.
const CLEANUP_REQUEUE: Duration = Duration::from_secs(15);

pub(super) async fn cleanup(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let env_id = w.id.environment_id();
    let uid = w.id.uid.clone();

    let mut waiting = Vec::new();
    for kind in [ComputeKind::EcsFargate, ComputeKind::EcsExpress, ComputeKind::AppRunner] {
        if let Retired::Deleting(what) = retire(w, l, kind).await? {
            waiting.push(what);
        }
    }
    if !waiting.is_empty() {
        l.deleting(waiting.join("; "), Some(CLEANUP_REQUEUE));
        return Ok(());
    }

    for name in shared::all_role_names(&env_id) {
        let policy = format!("redcap-{}", name.trim_start_matches(&format!("{env_id}-")));
        if let Some(seen) = role::observe(w.aws, &name, &policy).await.map_err(&err)? {
            if seen.tags.is_owned_by(&uid) {
                role::delete(w.aws, &name, &policy).await.map_err(&err)?;
                l.deleted(format!("deleted role {name}"));
            } else {
                l.note(format!("role {name} is not owned by this environment; left untouched"));
            }
        }
    }

    let cluster = cluster_name(&env_id);
    if let Some(seen) = ecs::observe_cluster(w.aws, &cluster).await.map_err(&err)?
        && seen.tags.is_owned_by(&uid)
    {
        if !ecs::delete_cluster(w.aws, &cluster).await.map_err(&err)? {
            l.deleting(
                format!("waiting for ECS cluster {cluster} to stop its tasks"),
                Some(CLEANUP_REQUEUE),
            );
            return Ok(());
        }
        l.deleted(format!("deleted ECS cluster {cluster}"));
    }

    shared::delete_site_admin(w, l).await?;

    let group = log_group_name(&env_id);
    let mut kept = false;
    if let Some(seen) = logs::observe(w.aws, &group).await.map_err(&err)?
        && seen.tags.is_owned_by(&uid)
    {
        if w.env.spec.deletion_policy == DeletionPolicy::Retain {
            if seen.tags.get(RETAINED_TAG) != Some("true") {
                let marker: TagSet = [(RETAINED_TAG, "true")].into_iter().collect();
                logs::tag(w.aws, &seen.arn, &marker).await.map_err(&err)?;
                l.mark_written();
            }
            kept = true;
            l.retained(format!("kept log group {group} (Retain policy)"));
        } else {
            logs::delete(w.aws, &group).await.map_err(&err)?;
            l.deleted(format!("deleted log group {group}"));
        }
    }
    l.network_in_use(false);
    l.key_in_use(kept);
    Ok(())
}
