//! The groups, one cluster's settings, instances, master-password rotation and exported
//! log groups (one `ModifyDBCluster` per pass at most).

use crate::aws::rds::{self, groups};
use crate::aws::{AwsCtx, logs, secrets as secret};
use crate::plan::database::cluster::{ObservedCluster, cluster_plan};
use crate::plan::database::instances::{ObservedInstance, instance_plan};
use crate::plan::database::names::log_group_prefix;
use crate::plan::database::parameters::{apply_method, parameter_changes};
use crate::plan::database::{DesiredDatabase, ObservedRotation, rotation_needs_update};
use crate::reconcile::error::{ComponentError, aws_err};
use crate::reconcile::ledger::Ledger;

use super::{C, DB_BUSY_REQUEUE, plan_err};

pub(super) async fn converge_subnet_group(
    aws: &AwsCtx,
    want: &DesiredDatabase,
    pass: &mut Ledger,
) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let g = &want.subnet_group;
    match groups::describe_subnet_group(aws, &g.name).await.map_err(&err)? {
        None if pass.apply() => {
            groups::create_subnet_group(aws, g).await.map_err(&err)?;
            pass.created(format!("created DB subnet group {}", g.name));
        }
        None => pass.missing(format!("DB subnet group {} not created yet", g.name)),
        Some(seen) if seen.subnet_ids != g.subnet_ids => {
            if pass.apply() {
                groups::modify_subnet_group(aws, g).await.map_err(&err)?;
            }
            pass.changed(format!("DB subnet group {}: subnets", g.name));
        }
        Some(_) => {}
    }
    Ok(())
}

pub(super) async fn converge_parameter_group(
    aws: &AwsCtx,
    want: &DesiredDatabase,
    pass: &mut Ledger,
) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let g = &want.parameter_group;
    let (seen, created) = match groups::user_parameters(aws, &g.name).await.map_err(&err)? {
        Some(seen) => (seen, false),
        None if pass.apply() => {
            groups::create_parameter_group(aws, g).await.map_err(&err)?;
            pass.created(format!("created parameter group {}", g.name));
            (Default::default(), true)
        }
        None => {
            pass.missing(format!("parameter group {} not created yet", g.name));
            return Ok(());
        }
    };
    let changes = parameter_changes(&g.parameters, &seen);
    if changes.is_empty() {
        return Ok(());
    }
    if pass.apply() {
        let names: Vec<&str> = changes.set.iter().map(|(n, _)| n.as_str()).collect();
        let types = groups::apply_types(aws, &g.name, &names).await.map_err(&err)?;
        let set: Vec<(String, String, &'static str)> = changes
            .set
            .iter()
            .map(|(n, v)| (n.clone(), v.clone(), apply_method(types.get(n).map(String::as_str))))
            .collect();
        groups::set_parameters(aws, &g.name, &set).await.map_err(&err)?;
        groups::reset_parameters(aws, &g.name, &changes.reset).await.map_err(&err)?;
    }
    if !created {
        pass.changed(format!("parameter group {}: {}", g.name, changes.describe()));
    }
    Ok(())
}

/// What converging one cluster found.
#[derive(Debug, Default)]
pub(super) struct ClusterOutcome {
    pub(super) writer_available: bool,
    pub(super) in_sync: bool,
    pub(super) rotation: Option<ObservedRotation>,
}

/// One `ModifyDBCluster` (when anything differs), its tags, its instances and the
/// master password's rotation schedule.
pub(super) async fn converge_cluster(
    aws: &AwsCtx,
    c: &ObservedCluster,
    instances: &[ObservedInstance],
    want: &DesiredDatabase,
    pass: &mut Ledger,
) -> Result<ClusterOutcome, ComponentError> {
    let err = aws_err(C);
    let mut out = ClusterOutcome {
        writer_available: instances.iter().any(|i| i.writer && i.available()),
        ..ClusterOutcome::default()
    };
    if c.status == "creating" {
        pass.creating(format!("cluster {} is creating", c.id), DB_BUSY_REQUEUE);
        return Ok(out);
    }
    if !c.available() {
        pass.busy(format!("cluster {} is {}", c.id, c.status), DB_BUSY_REQUEUE);
        return Ok(out);
    }
    let plan = cluster_plan(&want.cluster, c).map_err(plan_err)?;
    for note in &plan.notes {
        pass.note(format!("cluster {}: {note}", c.id));
    }
    if !plan.modify.is_empty() {
        if pass.apply() {
            rds::modify_cluster(aws, &c.id, &plan.modify).await.map_err(&err)?;
        }
        pass.changed(format!("cluster {}: {}", c.id, plan.modify.describe().join(", ")));
    }
    if !plan.tags.is_empty() {
        if pass.apply() {
            rds::add_tags(aws, &c.arn, &plan.tags).await.map_err(&err)?;
        }
        let keys: Vec<&str> = plan.tags.iter().map(|(k, _)| k).collect();
        pass.changed(format!("cluster {}: tags {}", c.id, keys.join(", ")));
    }

    let instance_plan = instance_plan(&c.id, want.instance_count, instances, &want.zones);
    for note in &instance_plan.notes {
        pass.note(format!("cluster {}: {note}", c.id));
    }
    for new in &instance_plan.create {
        if pass.apply() {
            rds::create_instance(aws, &c.id, new, &want.tags).await.map_err(&err)?;
        }
        pass.changed(format!("creating instance {}", new.id));
    }
    for gone in &instance_plan.delete {
        if pass.apply() {
            rds::delete_instance(aws, gone).await.map_err(&err)?;
        }
        pass.changed(format!("deleting instance {gone}"));
    }
    let busy: Vec<&str> = instances
        .iter()
        .filter(|i| !i.available() && !instance_plan.delete.contains(&i.id))
        .map(|i| i.id.as_str())
        .collect();
    if !busy.is_empty() {
        pass.busy(format!("instances {} not available yet", busy.join(", ")), DB_BUSY_REQUEUE);
    }

    if let Some(s) = &c.master_secret
        && s.status.as_deref() != Some("creating")
        && let Some(rotation) = secret::rotation(aws, &s.arn).await.map_err(&err)?
    {
        if rotation_needs_update(&rotation, want.rotation_days) {
            if pass.apply() {
                secret::set_rotation(aws, &s.arn, want.rotation_days).await.map_err(&err)?;
            }
            pass.changed(format!("master password rotation every {} days", want.rotation_days));
        }
        out.rotation = Some(rotation);
    }

    out.in_sync = plan.modify.is_empty()
        && instance_plan.is_empty()
        && busy.is_empty()
        && c.master_secret.is_some();
    Ok(out)
}

/// Retention of the log groups RDS exports this cluster's logs to (the groups that exist;
/// RDS creates them with the first log lines).
pub(super) async fn converge_logs(
    aws: &AwsCtx,
    c: &ObservedCluster,
    want: &DesiredDatabase,
    pass: &mut Ledger,
) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let groups = logs::under_prefix(aws, &log_group_prefix(&c.id)).await.map_err(&err)?;
    for (name, days) in groups {
        if days == Some(want.log_retention_days) {
            continue;
        }
        if pass.apply()
            && !logs::put_retention(aws, &name, want.log_retention_days).await.map_err(&err)?
        {
            continue;
        }
        pass.changed(format!("log group {name}: retention {} days", want.log_retention_days));
    }
    Ok(())
}
