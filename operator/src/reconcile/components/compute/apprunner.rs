//! Kind `AppRunner`: the VPC connector into the private subnets, the auto scaling
//! configuration, and the App Runner service that pulls REDCap's image from the
//! environment's repository by digest.
//!
//! Order matters to App Runner: the connector and the configuration must exist (the
//! connector `ACTIVE`) before a service can name them. App Runner has no client token, so
//! the service is observed before every write and found by name and UID tag after a
//! crash; it runs one operation at a time, so nothing is written while one runs, and a
//! change it refuses because another one started meanwhile is a requeue. A deployment
//! that failed (App Runner rolled back, or could not create the service) is reported
//! and never deployed again for the same content. An account App Runner no longer
//! serves (closed to new customers since 2026-04-30) stalls with the way out.

use std::time::Duration;

use crate::api::{ComputeKind, DeploymentState, DeploymentStatus, FailedDeployment, ServiceStatus};
use crate::aws::AwsError;
use crate::aws::apprunner::{self as ar, Attempt, closed_to_new_customers};
use crate::plan::compute::apprunner::{
    DesiredAppRunner, DesiredScaling, DesiredService, MAX_SCALING_REVISIONS, OPERATION_IN_PROGRESS,
    ObservedScaling, ObservedService, Operation, ServiceChange, desired_connector, failed_with,
    health_check, https_url, is_environment_connector, log_group_console_url, readiness_view,
    service_changes, service_log_group,
};
use crate::plan::compute::readiness::{self, Readiness};
use crate::plan::compute::{apprunner_service_name, autoscaling_configuration_name};
use crate::plan::describe_all;
use crate::reconcile::converge::{converge, not_owned};
use crate::reconcile::error::{ComponentError, refused};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::Walk;

use super::{C, Deploy, Retired, Served, Target};

/// Look again this soon while App Runner runs an operation.
const OPERATION_POLL: Duration = Duration::from_secs(20);

/// The message of an account App Runner refuses as a new customer.
fn closed_to_new_customers_message(aws_message: &str) -> String {
    format!(
        "AWS App Runner refuses this account: App Runner is closed to new customers since 2026-04-30 \
         and only accounts that already use it can create services (AWS: {aws_message}). Set \
         spec.compute.kind: EcsFargate (or EcsExpress for an environment without a domain) to run \
         REDCap on Amazon ECS instead"
    )
}

/// An App Runner error of this component; the refusal of a new customer becomes the
/// message that says what to do.
fn remap(e: ComponentError) -> ComponentError {
    match e {
        ComponentError::Aws { source, .. }
            if source.service == "apprunner"
                && source.is_terminal()
                && closed_to_new_customers(&source.message) =>
        {
            refused(
                C,
                "apprunner",
                source.operation,
                "ClosedToNewCustomers",
                closed_to_new_customers_message(&source.message),
            )
        }
        other => other,
    }
}

fn err(source: AwsError) -> ComponentError {
    remap(ComponentError::Aws { component: C, source })
}

/// Everything of the kind as the spec and this pass's inputs ask (ARNs of the connector
/// and configuration are filled in once they exist).
fn desired(w: &Walk<'_>, d: &Deploy<'_>, t: &Target) -> DesiredAppRunner {
    let compute = &w.env.spec.compute;
    let app_runner = compute.app_runner.clone().unwrap_or_default();
    let env_id = &d.environment_id;
    let service = DesiredService {
        name: apprunner_service_name(env_id),
        image: t.container.image.clone(),
        port: t.container.port,
        environment: t.container.environment.clone(),
        secrets: t.container.secrets.clone(),
        access_role_arn: t.roles.access.clone().unwrap_or_default(),
        instance_role_arn: t.roles.runtime.clone(),
        cpu: compute.cpu,
        memory: compute.memory,
        health_check: health_check(),
        kms_key_arn: w.key.as_ref().map(|k| k.arn.clone()).unwrap_or_default(),
        connector_arn: String::new(),
        scaling_arn: String::new(),
        tags: d.tags.clone(),
    };
    let connector = desired_connector(
        env_id,
        &d.network.private_subnets,
        std::slice::from_ref(&d.network.security_groups.application),
        d.tags.clone(),
    );
    let scaling = DesiredScaling {
        name: autoscaling_configuration_name(env_id),
        max_concurrency: app_runner.max_concurrency as i32,
        min_size: compute.scaling.min_tasks as i32,
        max_size: compute.scaling.max_tasks as i32,
        tags: d.tags.clone(),
    };
    DesiredAppRunner { service, connector, scaling }
}

/// The live service `name`; a service of that name without this environment's UID tag
/// is refused, never touched.
async fn owned_service(
    w: &Walk<'_>,
    name: &str,
) -> Result<Option<ObservedService>, ComponentError> {
    match ar::observe_service(w.aws, name).await.map_err(err)? {
        Some(s) if !s.tags.is_owned_by(&w.id.uid) => {
            Err(not_owned(C, &format!("App Runner service {name}")))
        }
        other => Ok(other),
    }
}

pub(super) async fn apply(
    w: &mut Walk<'_>,
    l: &mut Ledger,
    d: &Deploy<'_>,
) -> Result<Served, ComponentError> {
    let Some(target) = &d.target else {
        return observe(w, d).await;
    };
    let mut plan = desired(w, d, target);
    let hash = plan.hash();
    let name = plan.service.name.clone();
    let failed_before = d.failed.is_some_and(|f| f.content_hash == hash);
    let seen = owned_service(w, &name).await?;
    // One operation at a time: while one runs, App Runner refuses every change.
    if let Some(s) = seen.as_ref().filter(|s| s.busy()) {
        return Ok(served(w, d, s, &hash, &plan.service.image, failed_before, None));
    }

    let Some(connector) = converge(w.aws, &w.id.uid, l, &plan.connector).await.map_err(remap)?
    else {
        return Ok(match &seen {
            Some(s) => served(w, d, s, &hash, &plan.service.image, failed_before, None),
            None => Served::absent("the VPC connector is not created (suspended)"),
        });
    };
    if connector.status != "ACTIVE" {
        l.creating(
            format!("waiting for VPC connector {} to be active", connector.name),
            OPERATION_POLL,
        );
        return Ok(Served::absent("waiting for the VPC connector"));
    }
    plan.service.connector_arn = connector.arn.clone();
    let current = seen.as_ref().and_then(|s| s.scaling_arn.as_deref());
    let Some(scaling_arn) = scaling(w, l, &plan.scaling, current).await? else {
        return Ok(match &seen {
            Some(s) => served(w, d, s, &hash, &plan.service.image, failed_before, None),
            None => Served::absent("the auto scaling configuration is not created (suspended)"),
        });
    };
    plan.service.scaling_arn = scaling_arn;
    let want = &plan.service;

    let (seen, deploying) = match seen {
        None if !l.apply() => {
            l.missing(format!("App Runner service {name} not created yet"));
            return Ok(Served::absent("the service is not created (suspended)"));
        }
        None => {
            let created = ar::create_service(w.aws, want, &hash).await.map_err(err)?;
            l.created(format!("created App Runner service {name}"));
            (created, None)
        }
        // A deployment that failed is reported, never retried for the same content.
        Some(s) if failed_before || failed_with(&s, &hash) => (s, None),
        Some(s) => {
            let deploying = correct(w, l, want, &s, &hash).await?;
            (s, deploying)
        }
    };
    if deploying.is_none() && l.apply() {
        prune(w, l, &seen, &plan).await?;
    }
    Ok(served(w, d, &seen, &hash, &want.image, failed_before, deploying))
}

/// Corrects the service: tags by themselves, everything else in one `UpdateService`.
/// Returns the deployment it started (`Some((operation, what))`).
async fn correct(
    w: &Walk<'_>,
    l: &mut Ledger,
    want: &DesiredService,
    seen: &ObservedService,
    hash: &str,
) -> Result<Option<(Operation, String)>, ComponentError> {
    let changes = service_changes(want, seen, hash);
    if changes.is_empty() {
        return Ok(None);
    }
    let name = &want.name;
    if seen.status == "PAUSED" {
        // Paused by hand: nothing serves. Resume first; the next pass deploys the rest.
        if l.apply() {
            match ar::resume_service(w.aws, &seen.arn).await.map_err(err)? {
                Attempt::Busy(_) => {
                    l.busy("App Runner is busy with another operation", OPERATION_POLL)
                }
                _ => l.drift(format!("App Runner service {name}: resumed")),
            }
        } else {
            l.drift(format!("App Runner service {name}: paused"));
        }
        return Ok(None);
    }
    if seen.status == "DELETE_FAILED" {
        l.note(format!(
            "App Runner service {name} failed to delete; it is left for a human to look at"
        ));
        return Ok(None);
    }
    let (deploy, tags): (Vec<ServiceChange>, Vec<ServiceChange>) =
        changes.into_iter().partition(ServiceChange::deploys);
    let new_content = seen.content_hash() != Some(hash);
    let mut started = None;
    if !deploy.is_empty() {
        let what = describe_all(&deploy);
        if !l.apply() {
            if new_content {
                l.changed(format!("deploying {what} to App Runner service {name}"));
            } else {
                l.drift(format!("App Runner service {name}: {what}"));
            }
            return Ok(None);
        }
        match ar::update_service(w.aws, &seen.arn, want).await.map_err(err)? {
            Attempt::Done(op) => {
                if new_content {
                    l.changed(format!("deploying {what} to App Runner service {name}"));
                } else {
                    l.drift(format!("App Runner service {name}: {what}"));
                }
                let op = Operation {
                    id: op.unwrap_or_default(),
                    kind: "UPDATE_SERVICE".into(),
                    status: "IN_PROGRESS".into(),
                };
                started = Some((op, what));
            }
            Attempt::Busy(_) | Attempt::InUse(_) => {
                l.busy(
                    format!("App Runner is busy with another operation on service {name}; deploying {what} next"),
                    OPERATION_POLL,
                );
                return Ok(None);
            }
            Attempt::Gone => {
                l.note(format!("App Runner service {name} disappeared; it is created again"));
                return Ok(None);
            }
        }
    }
    // The hash is tagged once App Runner accepted the deployment: a failure of this
    // content is then known for what it deployed.
    for change in tags {
        if let ServiceChange::Tag(missing) = change {
            if l.apply() {
                ar::tag(w.aws, &seen.arn, &missing).await.map_err(err)?;
            }
            if started.is_none() {
                l.drift(format!("App Runner service {name}: tags"));
            } else if l.apply() {
                l.mark_written();
            }
        }
    }
    Ok(started)
}

/// The auto scaling configuration revision to use: the service's when it has the
/// settings, else the newest owned one with them, else a new revision. `None` while
/// suspended and there is none.
async fn scaling(
    w: &Walk<'_>,
    l: &mut Ledger,
    want: &DesiredScaling,
    current: Option<&str>,
) -> Result<Option<String>, ComponentError> {
    let aws = w.aws;
    if let Some(arn) = current
        && let Some(rev) = ar::describe_scaling(aws, arn).await.map_err(err)?
        && want.matches(&rev)
    {
        return Ok(Some(arn.to_string()));
    }
    let revisions = ar::scaling_revisions(aws, &want.name).await.map_err(err)?;
    if let Some(latest) = revisions.last()
        && let Some(rev) = ar::describe_scaling(aws, &latest.arn).await.map_err(err)?
        && want.matches(&rev)
        && ar::tags_of(aws, &latest.arn).await.map_err(err)?.is_owned_by(&w.id.uid)
    {
        return Ok(Some(rev.arn));
    }
    let label = format!(
        "auto scaling configuration {} (max concurrency {}, {}..{} instances)",
        want.name, want.max_concurrency, want.min_size, want.max_size
    );
    if !l.apply() {
        l.missing(format!("{label} not created yet"));
        return Ok(None);
    }
    // App Runner keeps five revisions per name: make room from the unused ones.
    if revisions.len() >= MAX_SCALING_REVISIONS {
        delete_revisions(w, l, &revisions, current).await?;
    }
    let created = ar::create_scaling(aws, want).await.map_err(err)?;
    if revisions.is_empty() {
        l.created(format!("created {label}"));
    } else {
        l.changed(format!("created revision {} of {label}", created.revision));
    }
    Ok(Some(created.arn))
}

/// Deletes the owned revisions of `revisions` but `keep`; returns how many are left
/// because a service still uses them.
async fn delete_revisions(
    w: &Walk<'_>,
    l: &mut Ledger,
    revisions: &[ObservedScaling],
    keep: Option<&str>,
) -> Result<usize, ComponentError> {
    let mut left = 0;
    for r in revisions.iter().filter(|r| Some(r.arn.as_str()) != keep) {
        if !ar::tags_of(w.aws, &r.arn).await.map_err(err)?.is_owned_by(&w.id.uid) {
            continue;
        }
        if r.in_use {
            left += 1;
            continue;
        }
        match ar::delete_scaling(w.aws, &r.arn).await.map_err(err)? {
            Attempt::Done(_) => l.removed(format!(
                "deleted revision {} of auto scaling configuration {}",
                r.revision, r.name
            )),
            Attempt::InUse(_) | Attempt::Busy(_) => left += 1,
            Attempt::Gone => {}
        }
    }
    Ok(left)
}

/// Once the service runs on the desired connector and configuration: deletes this
/// environment's other connectors and revisions (App Runner refuses while they are still
/// in use, for a while even after the service moved: that is waited out).
async fn prune(
    w: &Walk<'_>,
    l: &mut Ledger,
    seen: &ObservedService,
    plan: &DesiredAppRunner,
) -> Result<(), ComponentError> {
    let want = &plan.service;
    if seen.busy()
        || seen.connector_arn.as_deref() != Some(want.connector_arn.as_str())
        || seen.scaling_arn.as_deref() != Some(want.scaling_arn.as_str())
    {
        return Ok(());
    }
    let env_id = w.id.environment_id();
    let mut waiting = Vec::new();
    for c in ar::connectors(w.aws).await.map_err(err)? {
        if c.arn == want.connector_arn || !is_environment_connector(&env_id, &c.name) {
            continue;
        }
        if !ar::tags_of(w.aws, &c.arn).await.map_err(err)?.is_owned_by(&w.id.uid) {
            continue;
        }
        match ar::delete_connector(w.aws, &c.arn).await.map_err(err)? {
            Attempt::Done(_) => l.removed(format!("deleted unused VPC connector {}", c.name)),
            Attempt::InUse(_) | Attempt::Busy(_) => {
                waiting.push(format!("VPC connector {}", c.name))
            }
            Attempt::Gone => {}
        }
    }
    let revisions = ar::scaling_revisions(w.aws, &plan.scaling.name).await.map_err(err)?;
    if revisions.iter().any(|r| r.arn != want.scaling_arn)
        && delete_revisions(w, l, &revisions, Some(&want.scaling_arn)).await? > 0
    {
        waiting.push(format!("old revisions of auto scaling configuration {}", plan.scaling.name));
    }
    if !waiting.is_empty() {
        l.busy(
            format!(
                "waiting for App Runner to release {} before deleting them",
                waiting.join(" and ")
            ),
            OPERATION_POLL,
        );
    }
    Ok(())
}

/// What the pass found: status, readiness and a failure record.
fn served(
    w: &Walk<'_>,
    d: &Deploy<'_>,
    seen: &ObservedService,
    hash: &str,
    image: &str,
    failed_before: bool,
    deploying: Option<(Operation, String)>,
) -> Served {
    let readiness = match &deploying {
        Some((op, what)) => {
            Readiness::Progressing(format!("App Runner deploys {what} (operation {})", op.id))
        }
        None if failed_before => {
            Readiness::Failed(d.failed.map(|f| f.reason.clone()).unwrap_or_default())
        }
        None => readiness::app_runner(&readiness_view(seen, hash), image),
    };
    let logs_url = service_log_group(&seen.name, &seen.arn)
        .map(|group| log_group_console_url(&w.id.region, &group));
    let failure = match &readiness {
        Readiness::Failed(reason) if !failed_before => Some(FailedDeployment {
            kind: ComputeKind::AppRunner,
            content_hash: hash.to_string(),
            image: Some(image.to_string()),
            reason: reason.clone(),
            logs_url: logs_url.clone(),
        }),
        _ => None,
    };
    let operation = deploying.as_ref().map(|(op, _)| op).or(seen.last_operation.as_ref());
    let status = service_status(d, seen, operation, &readiness);
    Served { status: Some(status), readiness, failure, front: Some(seen.arn.clone()) }
}

fn service_status(
    d: &Deploy<'_>,
    seen: &ObservedService,
    operation: Option<&Operation>,
    readiness: &Readiness,
) -> ServiceStatus {
    let busy = seen.status == OPERATION_IN_PROGRESS || operation.is_some_and(Operation::running);
    // While an operation runs, App Runner already describes its target configuration;
    // what serves is still what the last pass recorded.
    let image = if busy {
        d.recorded.and_then(|r| r.image.clone())
    } else {
        Some(seen.image.clone()).filter(|i| !i.is_empty())
    };
    let deployment = operation.map(|op| {
        let state = match readiness {
            Readiness::Failed(_) => DeploymentState::Failed,
            _ if op.running() => DeploymentState::InProgress,
            _ => DeploymentState::Completed,
        };
        DeploymentStatus {
            id: Some(op.id.clone()).filter(|id| !id.is_empty()),
            state,
            reason: (state == DeploymentState::Failed)
                .then(|| format!("{} ended {}", op.kind, op.status)),
        }
    });
    ServiceStatus {
        kind: ComputeKind::AppRunner,
        arn: Some(seen.arn.clone()).filter(|a| !a.is_empty()),
        url: seen.url.as_deref().map(https_url),
        image,
        task_definition: None,
        // App Runner's API does not report instance counts (only CloudWatch does).
        desired: None,
        running: None,
        healthy: None,
        deployment,
    }
}

/// Reads the service without changing it (another kind is being switched to, or an
/// input of this one is missing).
pub(super) async fn observe(w: &Walk<'_>, d: &Deploy<'_>) -> Result<Served, ComponentError> {
    let name = apprunner_service_name(&d.environment_id);
    let Some(seen) = ar::observe_service(w.aws, &name).await.map_err(err)? else {
        return Ok(Served::absent("no App Runner service yet"));
    };
    if !seen.tags.is_owned_by(&w.id.uid) {
        return Ok(Served::absent(format!("App Runner service {name} is not this environment's")));
    }
    // Judged against what it was last given (its own content hash and image).
    let hash = seen.content_hash().unwrap_or_default().to_string();
    let image = seen.image.clone();
    let failed_before = d.failed.is_some_and(|f| f.content_hash == hash);
    Ok(served(w, d, &seen, &hash, &image, failed_before, None))
}

/// Whether this environment has an App Runner service.
pub(super) async fn present(w: &Walk<'_>) -> Result<bool, ComponentError> {
    let name = apprunner_service_name(&w.id.environment_id());
    Ok(ar::observe_service(w.aws, &name)
        .await
        .map_err(err)?
        .is_some_and(|s| s.tags.is_owned_by(&w.id.uid)))
}

/// Deletes the service, waits until App Runner has, then the connectors (App Runner
/// refuses them for a while after the service is gone) and the configuration's revisions.
pub(super) async fn retire(w: &Walk<'_>, l: &mut Ledger) -> Result<Retired, ComponentError> {
    let env_id = w.id.environment_id();
    let name = apprunner_service_name(&env_id);
    if let Some(s) = ar::observe_service(w.aws, &name).await.map_err(err)? {
        if !s.tags.is_owned_by(&w.id.uid) {
            l.note(format!(
                "App Runner service {name} is not owned by this environment; left untouched"
            ));
        } else {
            if s.busy() {
                let what = s
                    .last_operation
                    .as_ref()
                    .map_or("an operation".to_string(), |op| op.kind.clone());
                let doing = if what == "DELETE_SERVICE" {
                    format!("waiting for App Runner to delete service {name}")
                } else {
                    format!(
                        "waiting for {what} on App Runner service {name} to end before deleting it"
                    )
                };
                return Ok(Retired::Deleting(doing));
            }
            match ar::delete_service(w.aws, &s.arn).await.map_err(err)? {
                Attempt::Done(_) => l.removed(format!("deleting App Runner service {name}")),
                Attempt::Gone => {}
                Attempt::Busy(_) | Attempt::InUse(_) => {}
            }
            return Ok(Retired::Deleting(format!(
                "waiting for App Runner to delete service {name}"
            )));
        }
    }
    let mut waiting = Vec::new();
    for c in ar::connectors(w.aws).await.map_err(err)? {
        if !is_environment_connector(&env_id, &c.name)
            || !ar::tags_of(w.aws, &c.arn).await.map_err(err)?.is_owned_by(&w.id.uid)
        {
            continue;
        }
        match ar::delete_connector(w.aws, &c.arn).await.map_err(err)? {
            Attempt::Done(_) => l.removed(format!("deleted VPC connector {}", c.name)),
            Attempt::InUse(_) | Attempt::Busy(_) => {
                waiting.push(format!("VPC connector {}", c.name))
            }
            Attempt::Gone => {}
        }
    }
    let scaling_name = autoscaling_configuration_name(&env_id);
    let revisions = ar::scaling_revisions(w.aws, &scaling_name).await.map_err(err)?;
    if delete_revisions(w, l, &revisions, None).await? > 0 {
        waiting.push(format!("auto scaling configuration {scaling_name}"));
    }
    if waiting.is_empty() {
        Ok(Retired::Gone)
    } else {
        Ok(Retired::Deleting(format!(
            "waiting for App Runner to release {} (it holds them for a while after the service is deleted)",
            waiting.join(" and ")
        )))
    }
}
