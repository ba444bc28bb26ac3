//! Kind `EcsFargate`: the environment's load balancer (public subnets, HTTPS with the
//! site's certificate, HTTP redirected), its target group, the task definition, the ECS
//! service in the private subnets, and its autoscaling.
//!
//! Order matters to ECS: the listener must forward to the target group before a service
//! can use it. A deployment is one `UpdateService` to a new revision; the desired count
//! is never sent after create. A revision whose deployment failed is not deployed again.

use sha2::{Digest, Sha256};

use crate::api::{ComputeKind, ServiceStatus};
use crate::aws::{autoscaling, ecs, elbv2};
use crate::plan::compute::alb::{
    self, DesiredListener, DesiredLoadBalancer, DesiredTargetGroup, HEALTH_CHECK_PATH,
    ListenerAction, ListenerRole, ObservedLoadBalancer, listener_differs,
};
use crate::plan::compute::fargate::{
    DesiredService, DesiredTaskDefinition, ObservedService, ServiceChange, family_revision,
    recorded_revision, service_changes,
};
use crate::plan::compute::readiness::{self, Readiness, TargetHealth};
use crate::plan::compute::scaling;
use crate::plan::compute::{
    FARGATE_SERVICE, HEALTH_CHECK_GRACE_SECONDS, ecs_size, load_balancer_name, target_group_name,
    task_family,
};
use crate::plan::describe_all;
use crate::reconcile::converge::converge;
use crate::reconcile::error::{ComponentError, aws_err};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::Walk;

use super::{C, Deploy, Retired, Served, Target, shared};

/// The certificate of the HTTPS listener: `ecsFargate.certificateArn`, else the site's
/// (`spec.domain.certificateArn`, or the one the `domain` component requested, once
/// ACM has issued it).
fn certificate(w: &Walk<'_>) -> Option<String> {
    let spec = &w.env.spec;
    spec.compute
        .ecs_fargate
        .as_ref()
        .and_then(|f| f.certificate_arn.clone())
        .or_else(|| spec.domain.as_ref().and_then(|d| d.certificate_arn.clone()))
        .or_else(|| w.domain.as_ref().and_then(|d| d.certificate_arn.clone()))
}

fn desired_load_balancer(w: &Walk<'_>, d: &Deploy<'_>) -> DesiredLoadBalancer {
    let fargate = w.env.spec.compute.ecs_fargate.clone().unwrap_or_default();
    let logs = w.outputs.access_log_bucket.as_deref().filter(|_| fargate.alb_access_logs);
    DesiredLoadBalancer {
        name: load_balancer_name(&d.environment_id),
        subnets: d.network.public_subnets.clone(),
        security_groups: vec![d.network.security_groups.load_balancer.clone()],
        attributes: alb::load_balancer_attributes(fargate.idle_timeout_seconds, logs),
        tags: d.tags.clone(),
    }
}

fn desired_target_group(w: &Walk<'_>, d: &Deploy<'_>) -> DesiredTargetGroup {
    let port = w.env.spec.compute.port;
    DesiredTargetGroup {
        name: target_group_name(&d.environment_id, port),
        vpc_id: d.network.vpc_id.clone(),
        port,
        health_check_path: HEALTH_CHECK_PATH.to_string(),
        tags: d.tags.clone(),
    }
}

fn desired_service(w: &Walk<'_>, d: &Deploy<'_>, target_group_arn: &str) -> DesiredService {
    DesiredService {
        cluster: d.cluster.clone(),
        name: FARGATE_SERVICE.to_string(),
        initial_count: w.env.spec.compute.scaling.min_tasks as i32,
        subnets: d.network.private_subnets.clone(),
        security_groups: vec![d.network.security_groups.application.clone()],
        target_group_arn: target_group_arn.to_string(),
        container_port: i32::from(w.env.spec.compute.port),
        grace_seconds: HEALTH_CHECK_GRACE_SECONDS,
        tags: d.tags.clone(),
    }
}

fn desired_task_definition(w: &Walk<'_>, d: &Deploy<'_>, t: &Target) -> DesiredTaskDefinition {
    let (cpu, memory) = ecs_size(&w.env.spec.compute);
    DesiredTaskDefinition {
        family: task_family(&d.environment_id),
        cpu,
        memory,
        execution_role_arn: t.roles.execution.clone().unwrap_or_default(),
        task_role_arn: t.roles.runtime.clone(),
        container: t.container.clone(),
        log_group: d.log_group.clone(),
        region: w.id.region.clone(),
        version: t.version.clone(),
        tags: d.tags.clone(),
    }
}

/// `CreateService`'s client token: the same for every attempt of this environment's
/// service, so a create retried after a crash returns the first one.
fn client_token(uid: &str) -> String {
    let digest = hex::encode(Sha256::digest(format!("{uid}/{FARGATE_SERVICE}").as_bytes()));
    digest[..32].to_string()
}

/// Converges the load balancer, target group and listeners; returns the load balancer
/// and the target group's ARN, or `None` (said in the ledger) while the HTTPS listener
/// cannot exist yet.
async fn edge(
    w: &Walk<'_>,
    l: &mut Ledger,
    d: &Deploy<'_>,
) -> Result<Option<(ObservedLoadBalancer, String)>, ComponentError> {
    let err = aws_err(C);
    let Some(lb) = converge(w.aws, &w.id.uid, l, &desired_load_balancer(w, d)).await? else {
        return Ok(None);
    };
    let Some(tg) = converge(w.aws, &w.id.uid, l, &desired_target_group(w, d)).await? else {
        return Ok(None);
    };
    let Some(certificate) = certificate(w) else {
        l.pending(
            "waiting for the site's certificate for the HTTPS listener (see the domain component: ACM validates it once its records resolve)",
        );
        return Ok(None);
    };
    let seen = elbv2::listeners(w.aws, &lb.arn).await.map_err(&err)?;
    for (role, certificate, action) in [
        (
            ListenerRole::Https,
            Some(certificate),
            ListenerAction::Forward { target_group_arn: tg.arn.clone() },
        ),
        (ListenerRole::HttpRedirect, None, ListenerAction::RedirectToHttps),
    ] {
        let want =
            DesiredListener { role, certificate_arn: certificate, action, tags: d.tags.clone() };
        match seen.iter().find(|s| s.port == role.port()) {
            None if l.apply() => {
                elbv2::create_listener(w.aws, &lb.arn, &want).await.map_err(&err)?;
                l.created(format!("created the {}", role.label()));
            }
            None => l.missing(format!("{} not created yet", role.label())),
            Some(s) => {
                let what = listener_differs(&want, s);
                if !what.is_empty() {
                    if l.apply() {
                        elbv2::modify_listener(w.aws, &s.arn, &want).await.map_err(&err)?;
                    }
                    l.drift(format!("{}: {}", role.label(), what.join(", ")));
                }
            }
        }
    }
    Ok(Some((lb, tg.arn)))
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
    let Some((lb, tg_arn)) = edge(w, l, d).await? else {
        return Ok(Served::absent("waiting for the load balancer's listeners"));
    };
    let td = desired_task_definition(w, d, target);
    let hash = td.hash();
    let want = desired_service(w, d, &tg_arn);
    let seen = ecs::observe_service(w.aws, &d.cluster, FARGATE_SERVICE).await.map_err(&err)?;
    let failed_before = d.failed.is_some_and(|f| f.content_hash == hash);

    // The revision to run: the one recorded for this content, else a new one (never
    // for content whose deployment failed: its revision is recorded).
    let recorded = match seen.as_ref().and_then(|s| recorded_revision(s, &hash)) {
        Some(rev) => ecs::task_definition_arn(w.aws, rev).await.map_err(&err)?,
        None => None,
    };
    let revision = match recorded {
        Some(arn) => arn,
        None if failed_before || !l.apply() => {
            if !l.apply() {
                l.missing("a task definition for the new content (suspended)");
            }
            return observe(w, d).await;
        }
        None => {
            let arn = ecs::register_task_definition(w.aws, &td).await.map_err(&err)?;
            let keep: Vec<&str> =
                [Some(arn.as_str()), seen.as_ref().map(|s| s.task_definition.as_str())]
                    .into_iter()
                    .flatten()
                    .collect();
            ecs::prune_task_definitions(w.aws, &td.family, &keep).await.map_err(&err)?;
            l.changed(format!(
                "registered task definition {} (REDCap {})",
                family_revision(&arn),
                target.version
            ));
            arn
        }
    };

    let mut deployed = false;
    let (seen, health) = match seen {
        None if l.apply() => {
            let mut tags = d.tags.clone();
            tags.insert(
                crate::plan::compute::fargate::TASK_DEFINITION_TAG,
                family_revision(&revision),
            );
            tags.insert(crate::plan::compute::fargate::DEFINITION_HASH_TAG, &hash);
            tags.insert(crate::plan::compute::fargate::VERSION_TAG, &target.version);
            let created =
                ecs::create_service(w.aws, &want, &revision, true, &tags, &client_token(&w.id.uid))
                    .await
                    .map_err(&err)?;
            l.created(format!(
                "created ECS service {FARGATE_SERVICE} on {}",
                family_revision(&revision)
            ));
            deployed = true;
            (created, TargetHealth::default())
        }
        None => {
            l.missing(format!("ECS service {FARGATE_SERVICE} not created yet"));
            return Ok(Served::absent("the service is not created (suspended)"));
        }
        Some(seen) => {
            let health = elbv2::target_health(w.aws, &tg_arn).await.map_err(&err)?;
            let before = readiness::ecs_service(&seen, &revision, health);
            // A failed deployment is reported, never retried for the same content.
            if !failed_before && !matches!(before, Readiness::Failed(_)) {
                let changes = service_changes(&want, &seen, &revision, &hash, &target.version);
                correct_service(w, l, &want, &seen, &changes).await?;
                deployed = l.apply()
                    && changes.iter().any(|c| matches!(c, ServiceChange::TaskDefinition { .. }));
            }
            (seen, health)
        }
    };
    scale(w, l, d, &lb.arn, &tg_arn).await?;

    let readiness = if failed_before {
        Readiness::Failed(d.failed.map(|f| f.reason.clone()).unwrap_or_default())
    } else if deployed {
        Readiness::Progressing(format!("deploying {}", family_revision(&revision)))
    } else {
        readiness::ecs_service(&seen, &revision, health)
    };
    let failure = match &readiness {
        Readiness::Failed(reason) if !failed_before => Some(
            shared::failed_deployment(
                w,
                d,
                ComputeKind::EcsFargate,
                Some(&revision),
                &hash,
                &target.container.image,
                reason,
            )
            .await?,
        ),
        _ => None,
    };
    let status =
        service_status(d, &seen, &lb, health, &readiness, &revision, &target.container.image);
    Ok(Served { status: Some(status), readiness, failure, front: Some(lb.arn.clone()) })
}

/// One `UpdateService` for every correction; a new revision is a deployment, the rest
/// is drift.
async fn correct_service(
    w: &Walk<'_>,
    l: &mut Ledger,
    want: &DesiredService,
    seen: &ObservedService,
    changes: &[ServiceChange],
) -> Result<(), ComponentError> {
    if changes.is_empty() {
        return Ok(());
    }
    if l.apply() {
        ecs::update_service(w.aws, want, seen, changes).await.map_err(aws_err(C))?;
    }
    let (deploy, drift): (Vec<&ServiceChange>, Vec<&ServiceChange>) =
        changes.iter().partition(|c| matches!(c, ServiceChange::TaskDefinition { .. }));
    for c in deploy {
        if let ServiceChange::TaskDefinition { arn, rollback } = c {
            let how = if *rollback { "" } else { " (a new REDCap version: no automatic rollback)" };
            if seen.tags.get(crate::plan::compute::fargate::TASK_DEFINITION_TAG)
                == Some(family_revision(arn).as_str())
            {
                l.drift(format!("ECS service {FARGATE_SERVICE}: back to {}", family_revision(arn)));
            } else {
                l.changed(format!("deploying {}{how}", family_revision(arn)));
            }
        }
    }
    if !drift.is_empty() {
        let drift: Vec<ServiceChange> = drift.into_iter().cloned().collect();
        l.drift(format!("ECS service {FARGATE_SERVICE}: {}", describe_all(&drift)));
    }
    Ok(())
}

/// The scalable target and its three policies.
async fn scale(
    w: &Walk<'_>,
    l: &mut Ledger,
    d: &Deploy<'_>,
    lb_arn: &str,
    tg_arn: &str,
) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let spec = &w.env.spec.compute.scaling;
    let target = scaling::scalable_target(&d.cluster, FARGATE_SERVICE, spec);
    let label = alb::resource_label(lb_arn, tg_arn);
    let want = scaling::policies(&d.environment_id, spec, label.as_deref());
    let seen_target =
        autoscaling::observe_target(w.aws, &target.resource_id).await.map_err(&err)?;
    let seen_policies = match &seen_target {
        Some(_) => autoscaling::observe_policies(w.aws, &target.resource_id).await.map_err(&err)?,
        None => Vec::new(),
    };
    let changes = scaling::scaling_changes(&target, seen_target.as_ref(), &want, &seen_policies);
    if changes.is_empty() {
        return Ok(());
    }
    if !l.apply() {
        l.drift(format!("autoscaling: {}", describe_all(&changes)));
        return Ok(());
    }
    autoscaling::apply(w.aws, &target, &changes).await.map_err(&err)?;
    if seen_target.is_none() {
        l.created(format!("registered autoscaling ({}..{} tasks)", target.min, target.max));
    } else {
        l.drift(format!("autoscaling: {}", describe_all(&changes)));
    }
    Ok(())
}

fn service_status(
    d: &Deploy<'_>,
    seen: &ObservedService,
    lb: &ObservedLoadBalancer,
    health: TargetHealth,
    readiness: &Readiness,
    revision: &str,
    image: &str,
) -> ServiceStatus {
    let on_revision = seen
        .primary()
        .is_some_and(|p| p.task_definition == revision && p.rollout_state == "COMPLETED");
    ServiceStatus {
        kind: ComputeKind::EcsFargate,
        arn: Some(seen.arn.clone()).filter(|a| !a.is_empty()),
        url: Some(alb::load_balancer_url(&lb.dns_name)).filter(|_| !lb.dns_name.is_empty()),
        image: if on_revision {
            Some(image.to_string())
        } else {
            d.recorded.and_then(|r| r.image.clone())
        },
        task_definition: seen.primary().map(|p| family_revision(&p.task_definition)),
        desired: Some(seen.desired),
        running: Some(seen.running),
        healthy: Some(health.healthy),
        deployment: readiness::ecs_deployment(seen, readiness),
    }
}

/// Reads the service and its load balancer without writing.
pub(super) async fn observe(w: &Walk<'_>, d: &Deploy<'_>) -> Result<Served, ComponentError> {
    let err = aws_err(C);
    let Some(seen) =
        ecs::observe_service(w.aws, &d.cluster, FARGATE_SERVICE).await.map_err(&err)?
    else {
        return Ok(Served::absent("no ECS service yet"));
    };
    let lb = elbv2::observe_load_balancer(w.aws, &load_balancer_name(&d.environment_id))
        .await
        .map_err(&err)?
        .unwrap_or_default();
    let health = match seen.target_groups.first() {
        Some(tg) => elbv2::target_health(w.aws, tg).await.map_err(&err)?,
        None => TargetHealth::default(),
    };
    let revision = seen.task_definition.clone();
    let readiness = match d.failed {
        Some(f) => Readiness::Failed(f.reason.clone()),
        None => readiness::ecs_service(&seen, &revision, health),
    };
    let image = d.recorded.and_then(|r| r.image.clone()).unwrap_or_default();
    let mut status = service_status(d, &seen, &lb, health, &readiness, &revision, &image);
    if image.is_empty() {
        status.image = None;
    }
    let front = Some(lb.arn.clone()).filter(|arn| !arn.is_empty());
    Ok(Served { status: Some(status), readiness, failure: None, front })
}

/// Whether this environment has an ECS service of this kind.
pub(super) async fn present(w: &Walk<'_>) -> Result<bool, ComponentError> {
    let cluster = crate::plan::compute::cluster_name(&w.id.environment_id());
    Ok(ecs::observe_service(w.aws, &cluster, FARGATE_SERVICE).await.map_err(aws_err(C))?.is_some())
}

/// Deletes the service, its autoscaling, the load balancer and the target groups.
pub(super) async fn retire(w: &Walk<'_>, l: &mut Ledger) -> Result<Retired, ComponentError> {
    let err = aws_err(C);
    let env_id = w.id.environment_id();
    let cluster = crate::plan::compute::cluster_name(&env_id);
    let resource_id = scaling::resource_id(&cluster, FARGATE_SERVICE);
    let service = ecs::observe_service(w.aws, &cluster, FARGATE_SERVICE).await.map_err(&err)?;
    match service {
        Some(service) if !service.tags.is_owned_by(&w.id.uid) => {
            // Neither the service nor its autoscaling is ours to remove.
            l.note(format!(
                "ECS service {FARGATE_SERVICE} is not owned by this environment; left untouched"
            ));
        }
        service => {
            // Observed first: a deregistration that finds nothing would still be a write
            // on every deletion pass.
            if autoscaling::observe_target(w.aws, &resource_id).await.map_err(&err)?.is_some()
                && autoscaling::deregister(w.aws, &resource_id).await.map_err(&err)?
            {
                l.removed("deregistered the service's autoscaling");
            }
            if let Some(service) = service {
                if service.status == "ACTIVE" {
                    ecs::delete_service(w.aws, &cluster, FARGATE_SERVICE).await.map_err(&err)?;
                    l.removed(format!("deleting ECS service {FARGATE_SERVICE}"));
                }
                return Ok(Retired::Deleting(format!(
                    "waiting for ECS service {FARGATE_SERVICE} to drain"
                )));
            }
        }
    }
    if let Some(lb) =
        elbv2::observe_load_balancer(w.aws, &load_balancer_name(&env_id)).await.map_err(&err)?
        && lb.tags.is_owned_by(&w.id.uid)
    {
        elbv2::delete_load_balancer(w.aws, &lb.arn).await.map_err(&err)?;
        l.removed(format!("deleted load balancer {}", load_balancer_name(&env_id)));
    }
    // Every target group name keeps the environment id's UID hash (`naming::fit`).
    let marker = &env_id[env_id.len().saturating_sub(8)..];
    let mut left = 0;
    for tg in elbv2::owned_target_groups(w.aws, marker, &w.id.uid).await.map_err(&err)? {
        match elbv2::delete_target_group(w.aws, &tg.arn).await {
            Ok(_) => l.removed(format!("deleted target group {}", tg.arn)),
            Err(e) if e.code == "ResourceInUse" => left += 1,
            Err(e) => return Err(err(e)),
        }
    }
    if left > 0 {
        return Ok(Retired::Deleting(
            "waiting for the load balancer to release its target group".into(),
        ));
    }
    Ok(Retired::Gone)
}
