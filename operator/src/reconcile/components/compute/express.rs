//! Kind `EcsExpress`: one ECS Express Mode service in the environment's cluster, with
//! the HTTPS URL AWS provides (no domain or certificate needed).
//!
//! Express creates and manages the load balancer, listener, certificate, target group,
//! its own security group and the autoscaling; the operator owns the Express service (by
//! its deterministic ARN and the UID tag, since the create has no client token) and two
//! settings Express has no parameter for, checked on every pass and so again after each
//! Express deployment: the health-check grace period of the underlying ECS service (the
//! image may wait many minutes for the database and its bootstrap lock before Apache
//! answers) and the managed load balancer's idle timeout (long REDCap requests).
//!
//! Readiness comes from the underlying ECS service's deployments and the managed target
//! group's health: Express's own status is only ACTIVE/DRAINING/INACTIVE. A deployment
//! that failed (Express rolls it back and the previous tasks keep serving) is recorded and
//! never deployed again for the same content.

use crate::api::{ComputeKind, ServiceStatus};
use crate::aws::ecs_express::{self, ObservedRevision, Updated};
use crate::aws::{ecs, elbv2};
use crate::plan::compute::express::{
    self as plan, DesiredExpress, ExpressScaling, ExpressUpdate, IDLE_TIMEOUT_ATTRIBUTE,
    IDLE_TIMEOUT_SECONDS, ObservedExpress, SCALING_METRIC, SERVICE_REVISION_TAG, account_of,
    endpoint_url, task_definition_label,
};
use crate::plan::compute::fargate::ObservedService;
use crate::plan::compute::readiness::{self, Readiness, TargetHealth};
use crate::plan::compute::{EXPRESS_SERVICE, HEALTH_CHECK_GRACE_SECONDS, cluster_name, ecs_size};
use crate::plan::describe_all;
use crate::plan::tags::TagSet;
use crate::reconcile::converge::not_owned;
use crate::reconcile::error::{ComponentError, aws_err};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::Walk;

use super::{C, Deploy, Retired, Served, Target, shared};

fn label() -> String {
    format!("Express service {EXPRESS_SERVICE}")
}

fn desired(w: &Walk<'_>, d: &Deploy<'_>, t: &Target) -> DesiredExpress {
    let compute = &w.env.spec.compute;
    let (cpu, memory) = ecs_size(compute);
    DesiredExpress {
        cluster: d.cluster.clone(),
        name: EXPRESS_SERVICE.to_string(),
        infrastructure_role_arn: t.roles.infrastructure.clone().unwrap_or_default(),
        execution_role_arn: t.roles.execution.clone().unwrap_or_default(),
        task_role_arn: t.roles.runtime.clone(),
        container: t.container.clone(),
        log_group: d.log_group.clone(),
        cpu,
        memory,
        // Public: the only subnets in which Express's load balancer is internet-facing
        // (see `plan::compute::express`).
        subnets: d.network.public_subnets.clone(),
        security_groups: vec![d.network.security_groups.application.clone()],
        health_check_path: compute.ecs_express.clone().unwrap_or_default().health_check_path,
        scaling: ExpressScaling {
            min: compute.scaling.min_tasks as i32,
            max: compute.scaling.max_tasks as i32,
            metric: SCALING_METRIC.to_string(),
            target: compute.scaling.cpu_target as i32,
        },
        tags: d.tags.clone(),
    }
}

/// The Express service's ARN, from the account the key's ARN names, or (without the key,
/// during deletion) the cluster's ARN. `None`: there is no cluster, so no service.
async fn service_arn(w: &Walk<'_>) -> Result<Option<String>, ComponentError> {
    let cluster = cluster_name(&w.id.environment_id());
    let account = match &w.key {
        Some(key) => key.account.clone(),
        None => {
            let Some(seen) = ecs::observe_cluster(w.aws, &cluster).await.map_err(aws_err(C))?
            else {
                return Ok(None);
            };
            match account_of(&seen.arn) {
                Some(account) => account.to_string(),
                None => return Ok(None),
            }
        }
    };
    Ok(Some(plan::service_arn(w.id.partition(), &w.id.region, &account, &cluster, EXPRESS_SERVICE)))
}

/// The service of this environment at `arn`: `None` when absent; a terminal error when
/// a service by that name is someone else's.
async fn owned(w: &Walk<'_>, arn: &str) -> Result<Option<ObservedExpress>, ComponentError> {
    match ecs_express::observe(w.aws, arn).await.map_err(aws_err(C))? {
        Some(s) if !s.tags.is_owned_by(&w.id.uid) => Err(not_owned(C, &label())),
        seen => Ok(seen),
    }
}

/// What the pass read about the service besides Express's own description.
struct Underlying {
    ecs: Option<ObservedService>,
    /// The service revision of the desired (or, when observing, the recorded) content.
    revision_arn: Option<String>,
    revision: Option<ObservedRevision>,
    health: TargetHealth,
}

async fn underlying(
    w: &Walk<'_>,
    d: &Deploy<'_>,
    revision_arn: Option<String>,
) -> Result<Underlying, ComponentError> {
    let err = aws_err(C);
    let ecs = ecs::observe_service(w.aws, &d.cluster, EXPRESS_SERVICE).await.map_err(&err)?;
    let revision = match &revision_arn {
        Some(arn) => ecs_express::revision(w.aws, arn).await.map_err(&err)?,
        None => None,
    };
    // Every target group the service registers in (a canary has two).
    let mut health = TargetHealth::default();
    for tg in ecs.iter().flat_map(|s| s.target_groups.iter()) {
        let h = elbv2::target_health(w.aws, tg).await.map_err(&err)?;
        health.healthy += h.healthy;
        health.not_yet += h.not_yet;
        health.unhealthy += h.unhealthy;
        health.draining += h.draining;
    }
    Ok(Underlying { ecs, revision_arn, revision, health })
}

/// Readiness of the desired revision: ECS's deployments first; the service deployments
/// only when ECS alone does not say Ready (a finished rollback shows in them alone).
async fn readiness_of(
    w: &Walk<'_>,
    d: &Deploy<'_>,
    u: &Underlying,
) -> Result<Readiness, ComponentError> {
    let Some(ecs) = &u.ecs else {
        return Ok(Readiness::Progressing("waiting for ECS to report the Express service".into()));
    };
    let (Some(arn), Some(rev)) = (&u.revision_arn, &u.revision) else {
        return Ok(Readiness::Progressing(
            "waiting for Express to report the service revision".into(),
        ));
    };
    let first = plan::readiness(ecs, &rev.task_definition, u.health, None);
    if matches!(first, Readiness::Ready | Readiness::Failed(_)) {
        return Ok(first);
    }
    let deployments = ecs_express::service_deployments(w.aws, &d.cluster, EXPRESS_SERVICE)
        .await
        .map_err(aws_err(C))?;
    let ours = deployments.iter().find(|x| x.target_revision.as_deref() == Some(arn.as_str()));
    Ok(plan::readiness(ecs, &rev.task_definition, u.health, ours))
}

pub(super) async fn apply(
    w: &mut Walk<'_>,
    l: &mut Ledger,
    d: &Deploy<'_>,
) -> Result<Served, ComponentError> {
    let Some(target) = &d.target else {
        return observe(w, d).await;
    };
    let err = aws_err(C);
    let Some(arn) = service_arn(w).await? else {
        return Ok(Served::absent("waiting for the ECS cluster"));
    };
    let want = desired(w, d, target);
    let hash = want.hash();
    let failed_before = d.failed.filter(|f| f.content_hash == hash);

    let seen = match owned(w, &arn).await? {
        Some(seen) if seen.status != "ACTIVE" => {
            return Ok(Served::absent(format!(
                "{} is {}; a new one is created once it is gone",
                label(),
                seen.status
            )));
        }
        Some(seen) => seen,
        // The content whose deployment failed is not deployed again, not even by a create.
        None if failed_before.is_some() => {
            let reason = failed_before.map(|f| f.reason.clone()).unwrap_or_default();
            return Ok(Served {
                status: None,
                readiness: Readiness::Failed(reason),
                failure: None,
                front: None,
            });
        }
        None if !l.apply() => {
            l.missing(format!("{} not created yet", label()));
            return Ok(Served::absent("the Express service is not created (suspended)"));
        }
        None => {
            let mut created = ecs_express::create(w.aws, &want, &want.tags_for(&hash, None))
                .await
                .map_err(&err)?;
            l.created(format!("created {} (REDCap {})", label(), target.version));
            created.tags = want.tags_for(&hash, None);
            created
        }
    };

    let planned = plan::plan(&want, &hash, &seen);
    let u = underlying(w, d, planned.revision.clone()).await?;
    let before = match failed_before {
        Some(f) => Readiness::Failed(f.reason.clone()),
        None if planned.revision.is_some() => readiness_of(w, d, &u).await?,
        None => Readiness::Progressing("deploying the new configuration".into()),
    };

    let mut tags = planned.tags.clone();
    let mut deploying = false;
    if let Some(update) = &planned.update {
        // A failed deployment is reported, never deployed again for the same content
        // (Express rolled it back: its previous configuration reads as a newer one).
        if !matches!(before, Readiness::Failed(_)) {
            deploying = deploy(w, l, &arn, &want, &hash, update, &mut tags).await?;
        }
    }
    if !tags.is_empty() && l.apply() {
        ecs_express::tag(w.aws, &arn, &tags).await.map_err(&err)?;
        l.mark_written();
    }
    let first_time = d.recorded.is_none();
    grace_period(w, l, d, u.ecs.as_ref(), first_time).await?;
    idle_timeout(w, l, u.revision.as_ref(), first_time).await?;

    let readiness = if deploying {
        Readiness::Progressing(format!("deploying the new configuration of {}", label()))
    } else {
        before
    };
    let failure = match &readiness {
        Readiness::Failed(reason) if failed_before.is_none() => Some(
            shared::failed_deployment(
                w,
                d,
                ComputeKind::EcsExpress,
                u.revision.as_ref().map(|r| r.task_definition.as_str()),
                &hash,
                &target.container.image,
                reason,
            )
            .await?,
        ),
        _ => None,
    };
    let status = service_status(d, &arn, &seen, &u, &readiness, Some(&target.container.image));
    Ok(Served { status: Some(status), readiness, failure, front: front(&u) })
}

/// One `UpdateExpressGatewayService`; `true` when a deployment started. The hash and
/// the new service revision are added to `tags`.
async fn deploy(
    w: &Walk<'_>,
    l: &mut Ledger,
    arn: &str,
    want: &DesiredExpress,
    hash: &str,
    update: &ExpressUpdate,
    tags: &mut TagSet,
) -> Result<bool, ComponentError> {
    let what = match update {
        ExpressUpdate::Deploy => format!("deploying a new configuration of {}", label()),
        ExpressUpdate::Revert(drift) => format!("{}: {}", label(), describe_all(drift)),
    };
    if !l.apply() {
        match update {
            ExpressUpdate::Deploy => l.changed(what),
            ExpressUpdate::Revert(_) => l.drift(what),
        }
        return Ok(false);
    }
    match ecs_express::update(w.aws, arn, want).await.map_err(aws_err(C))? {
        Updated::NotActive => {
            l.note(format!("{} is not active; the update waits", label()));
            Ok(false)
        }
        Updated::Deploying { revision } => {
            tags.insert(plan::CONTENT_HASH_TAG, hash);
            if let Some(revision) = revision {
                tags.insert(SERVICE_REVISION_TAG, revision);
            }
            match update {
                ExpressUpdate::Deploy => l.changed(what),
                ExpressUpdate::Revert(_) => l.drift(what),
            }
            Ok(true)
        }
    }
}

/// The health-check grace period of the underlying ECS service, which Express sets to
/// its own value.
async fn grace_period(
    w: &Walk<'_>,
    l: &mut Ledger,
    d: &Deploy<'_>,
    seen: Option<&ObservedService>,
    first_time: bool,
) -> Result<(), ComponentError> {
    let Some(s) = seen.filter(|s| s.status == "ACTIVE") else {
        return Ok(());
    };
    if s.grace_seconds == Some(HEALTH_CHECK_GRACE_SECONDS) {
        return Ok(());
    }
    let what = format!(
        "ECS service {EXPRESS_SERVICE}: health-check grace period {HEALTH_CHECK_GRACE_SECONDS} s (Express has no parameter for it)"
    );
    if l.apply()
        && !ecs_express::set_grace_period(
            w.aws,
            &d.cluster,
            EXPRESS_SERVICE,
            HEALTH_CHECK_GRACE_SECONDS,
        )
        .await
        .map_err(aws_err(C))?
    {
        return Ok(());
    }
    if first_time {
        l.changed(what)
    } else {
        l.drift(what)
    }
    Ok(())
}

/// The managed load balancer's idle timeout.
async fn idle_timeout(
    w: &Walk<'_>,
    l: &mut Ledger,
    revision: Option<&ObservedRevision>,
    first_time: bool,
) -> Result<(), ComponentError> {
    let Some(lb) = revision
        .and_then(|r| r.load_balancer.as_ref())
        .filter(|lb| !lb.arn.is_empty() && lb.status == "ACTIVE")
    else {
        return Ok(());
    };
    let err = aws_err(C);
    let Some(attributes) = elbv2::load_balancer_attributes(w.aws, &lb.arn).await.map_err(&err)?
    else {
        return Ok(());
    };
    let want = IDLE_TIMEOUT_SECONDS.to_string();
    if attributes.get(IDLE_TIMEOUT_ATTRIBUTE) == Some(&want) {
        return Ok(());
    }
    if l.apply() {
        let set = [(IDLE_TIMEOUT_ATTRIBUTE.to_string(), want)].into_iter().collect();
        elbv2::set_load_balancer_attributes(w.aws, &lb.arn, &set).await.map_err(&err)?;
    }
    let what = format!(
        "Express's load balancer: idle timeout {IDLE_TIMEOUT_SECONDS} s (Express has no parameter for it)"
    );
    if first_time {
        l.changed(what)
    } else {
        l.drift(what)
    }
    Ok(())
}

/// `image`: the image the desired revision runs (`None` when only observing: the
/// recorded one is kept).
fn service_status(
    d: &Deploy<'_>,
    arn: &str,
    seen: &ObservedExpress,
    u: &Underlying,
    readiness: &Readiness,
    image: Option<&str>,
) -> ServiceStatus {
    let primary = u.ecs.as_ref().and_then(|s| s.primary());
    let on_revision = primary.zip(u.revision.as_ref()).is_some_and(|(p, r)| {
        p.task_definition == r.task_definition && p.rollout_state == "COMPLETED"
    });
    let recorded = d.recorded.and_then(|r| r.image.clone());
    ServiceStatus {
        kind: ComputeKind::EcsExpress,
        arn: Some(arn.to_string()),
        url: seen.endpoint(u.revision_arn.as_deref()).map(endpoint_url),
        image: match image {
            Some(image) if on_revision => Some(image.to_string()),
            _ => recorded,
        },
        task_definition: primary.map(|p| task_definition_label(&p.task_definition)),
        desired: u.ecs.as_ref().map(|s| s.desired),
        running: u.ecs.as_ref().map(|s| s.running),
        healthy: u.ecs.as_ref().map(|_| u.health.healthy),
        deployment: u.ecs.as_ref().and_then(|s| readiness::ecs_deployment(s, readiness)),
    }
}

/// Reads the service without writing (the old kind during a switch, a pass without a
/// target).
pub(super) async fn observe(w: &Walk<'_>, d: &Deploy<'_>) -> Result<Served, ComponentError> {
    let Some(arn) = service_arn(w).await? else {
        return Ok(Served::absent("no ECS cluster yet"));
    };
    let Some(seen) = owned(w, &arn).await? else {
        return Ok(Served::absent("no Express service yet"));
    };
    let revision = seen
        .tags
        .get(SERVICE_REVISION_TAG)
        .map(str::to_string)
        .or_else(|| seen.newest().map(|c| c.service_revision_arn.clone()));
    let u = underlying(w, d, revision).await?;
    let readiness = match d.failed {
        Some(f) => Readiness::Failed(f.reason.clone()),
        None if seen.status != "ACTIVE" => {
            Readiness::Progressing(format!("{} is {}", label(), seen.status))
        }
        None => readiness_of(w, d, &u).await?,
    };
    let status = service_status(d, &arn, &seen, &u, &readiness, None);
    Ok(Served { status: Some(status), readiness, failure: None, front: front(&u) })
}

/// The load balancer Express manages for the revision, which a web ACL protects.
fn front(u: &Underlying) -> Option<String> {
    u.revision
        .as_ref()
        .and_then(|r| r.load_balancer.as_ref())
        .map(|lb| lb.arn.clone())
        .filter(|arn| !arn.is_empty())
}

/// Whether this environment has an Express service (active or being deleted).
pub(super) async fn present(w: &Walk<'_>) -> Result<bool, ComponentError> {
    let Some(arn) = service_arn(w).await? else {
        return Ok(false);
    };
    Ok(ecs_express::observe(w.aws, &arn)
        .await
        .map_err(aws_err(C))?
        .is_some_and(|s| s.tags.is_owned_by(&w.id.uid)))
}

/// Deletes the Express service (Express removes what it manages with it) and waits until
/// it is `INACTIVE`.
pub(super) async fn retire(w: &Walk<'_>, l: &mut Ledger) -> Result<Retired, ComponentError> {
    let Some(arn) = service_arn(w).await? else {
        return Ok(Retired::Gone);
    };
    let Some(seen) = ecs_express::observe(w.aws, &arn).await.map_err(aws_err(C))? else {
        return Ok(Retired::Gone);
    };
    if !seen.tags.is_owned_by(&w.id.uid) {
        l.note(format!("{} is not owned by this environment; left untouched", label()));
        return Ok(Retired::Gone);
    }
    if seen.status == "ACTIVE" && ecs_express::delete(w.aws, &arn).await.map_err(aws_err(C))? {
        l.removed(format!("deleting {}", label()));
    }
    Ok(Retired::Deleting(format!("waiting for {} to drain", label())))
}
