//! `compute`: the service that runs REDCap, on the kind `spec.compute.kind` names:
//! ECS on Fargate behind the environment's own load balancer (`fargate`), ECS Express
//! Mode (`express`) or App Runner (`apprunner`).
//!
//! Every kind runs the same container (`plan::compute::container`) under the same roles,
//! in the same ECS cluster and log group (`shared`). The component is `Ready` only when
//! REDCap answers: the deployment of the spec's image has completed and the health check
//! on `/healthcheck` passes (`plan::compute::readiness`). A deployment that fails stalls
//! the environment with AWS's reason and is not retried for the same content.
//!
//! Switching kinds migrates: the new service comes up on the same database and bucket
//! and becomes healthy while the old one keeps serving the URL; then the URL moves and
//! the old service is deleted. A new service that fails leaves the old one serving.

mod apprunner;
mod cleanup;
mod express;
mod fargate;
mod shared;

use std::time::Duration;

use crate::api::{
    ComponentName, ComputeKind, ComputeStatus, DeploymentState, FailedDeployment, ServiceStatus,
};
use crate::plan::compute::container::{self, Container, ContainerInputs};
use crate::plan::compute::readiness::Readiness;
use crate::plan::compute::roles::RoleScope;
use crate::plan::compute::{kind_name, site_url};
use crate::plan::image::repository_name;
use crate::plan::network::NetworkOutputs;
use crate::plan::tags::TagSet;
use crate::reconcile::error::{ComponentError, invalid, refused};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::{Component, KeyRef, Walk};

use shared::RoleArns;

pub(super) const C: ComponentName = ComponentName::Compute;

/// Look again this soon while a deployment runs.
const DEPLOY_POLL: Duration = Duration::from_secs(20);
/// Look again this soon while an old service is being deleted.
const RETIRE_POLL: Duration = Duration::from_secs(20);

pub struct Compute;

impl Component for Compute {
    const NAME: ComponentName = C;
    // Only what compute cannot even look without: a failure of the database or the image
    // in this pass must not hide the service that runs (the old image keeps running).
    const NEEDS: &'static [ComponentName] = &[ComponentName::EncryptionKey, ComponentName::Network];

    async fn apply(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        super::runtime::runtime_handoff(w);
        let Some(key) = w.key_or_wait(l) else {
            return Ok(());
        };
        let Some(network) = w.network.clone() else {
            l.pending("waiting for the network");
            return Ok(());
        };
        let env = w.env;
        let kind = env.spec.compute.kind;
        let tags = w.id.ownership_tags(C, &env.spec.aws.tags).map_err(invalid(C))?;
        let shared = shared::apply(w, l, &key, &tags).await?;
        let recorded = env.status.as_ref().and_then(|s| s.compute.as_ref());
        let recorded_service = recorded.and_then(|c| c.service.as_ref()).filter(|s| s.kind == kind);
        let target = match target(w, l, &key, kind, &shared, recorded_service).await? {
            Ok(target) => Some(target),
            Err(reason) => {
                l.note(reason);
                None
            }
        };
        let deploy = Deploy {
            kind,
            environment_id: w.id.environment_id(),
            cluster: shared.cluster.clone(),
            log_group: shared.log_group.clone(),
            network: &network,
            tags,
            target,
            recorded: recorded_service,
            failed: recorded.and_then(|c| c.failed_deployment.as_ref()).filter(|f| f.kind == kind),
        };
        let served = run(w, l, &deploy).await?;
        let retiring = retiring_kinds(w, kind, recorded).await?;
        switch(w, l, &deploy, served, retiring).await
    }

    async fn cleanup(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        cleanup::cleanup(w, l).await
    }
}

/// What a kind's service should run.
pub(super) struct Target {
    pub container: Container,
    /// The REDCap version of the image (a version change never rolls back).
    pub version: String,
    pub roles: RoleArns,
}

/// Everything a kind needs for one pass.
pub(super) struct Deploy<'a> {
    pub kind: ComputeKind,
    pub environment_id: String,
    pub cluster: String,
    pub log_group: String,
    pub network: &'a NetworkOutputs,
    /// The component's ownership tags.
    pub tags: TagSet,
    /// `None` while an input is missing (said in the ledger): the service is then only
    /// observed, never changed.
    pub target: Option<Target>,
    /// What the previous pass recorded about this kind's service.
    pub recorded: Option<&'a ServiceStatus>,
    /// The deployment of this kind that failed, if the spec still asks for it.
    pub failed: Option<&'a FailedDeployment>,
}

/// What a kind's pass found.
pub(super) struct Served {
    /// `None`: there is no service (yet).
    pub status: Option<ServiceStatus>,
    pub readiness: Readiness,
    /// The record of a failed deployment (set with `Readiness::Failed`).
    pub failure: Option<FailedDeployment>,
    /// The ARN a web ACL is associated with to protect the service: the load balancer
    /// (ECS kinds) or the App Runner service; `None` while it is not known yet.
    pub front: Option<String>,
}

impl Served {
    pub fn absent(why: impl Into<String>) -> Self {
        Self {
            status: None,
            readiness: Readiness::Progressing(why.into()),
            failure: None,
            front: None,
        }
    }
}

/// How far the deletion of a kind's service is.
pub(super) enum Retired {
    Gone,
    Deleting(String),
}

async fn run(w: &mut Walk<'_>, l: &mut Ledger, d: &Deploy<'_>) -> Result<Served, ComponentError> {
    match d.kind {
        ComputeKind::EcsFargate => fargate::apply(w, l, d).await,
        ComputeKind::EcsExpress => express::apply(w, l, d).await,
        ComputeKind::AppRunner => apprunner::apply(w, l, d).await,
    }
}

/// Reads a kind's service without changing it (the old kind during a switch).
async fn observe(w: &Walk<'_>, d: &Deploy<'_>) -> Result<Served, ComponentError> {
    match d.kind {
        ComputeKind::EcsFargate => fargate::observe(w, d).await,
        ComputeKind::EcsExpress => express::observe(w, d).await,
        ComputeKind::AppRunner => apprunner::observe(w, d).await,
    }
}

/// Whether a kind has a service of this environment.
async fn present(w: &Walk<'_>, kind: ComputeKind) -> Result<bool, ComponentError> {
    match kind {
        ComputeKind::EcsFargate => fargate::present(w).await,
        ComputeKind::EcsExpress => express::present(w).await,
        ComputeKind::AppRunner => apprunner::present(w).await,
    }
}

/// Deletes a kind's service and what only it uses.
pub(super) async fn retire(
    w: &Walk<'_>,
    l: &mut Ledger,
    kind: ComputeKind,
) -> Result<Retired, ComponentError> {
    match kind {
        ComputeKind::EcsFargate => fargate::retire(w, l).await,
        ComputeKind::EcsExpress => express::retire(w, l).await,
        ComputeKind::AppRunner => apprunner::retire(w, l).await,
    }
}

/// The container and roles for this pass, or why there are none yet.
async fn target(
    w: &mut Walk<'_>,
    l: &mut Ledger,
    key: &KeyRef,
    kind: ComputeKind,
    shared: &shared::Shared,
    recorded: Option<&ServiceStatus>,
) -> Result<Result<Target, String>, ComponentError> {
    let env = w.env;
    let spec = &env.spec;
    let Some(image) = w.runtime.image.clone() else {
        return Ok(Err("waiting for the first image build".into()));
    };
    let version = w
        .runtime
        .image_version
        .clone()
        .or_else(|| w.image.as_ref().map(|i| i.version.clone()))
        .unwrap_or_default();
    let Some(database) = w.runtime.database.clone() else {
        return Ok(Err("waiting for the database".into()));
    };
    // A restore that is not cut over yet holds a version change (the new version's
    // upgrade must run against the restored data).
    if w.runtime.database_cutover_pending
        && recorded.is_some_and(|r| r.image.as_deref() != Some(image.as_str()))
    {
        return Ok(Err("holding the new image until the database restore is cut over".into()));
    }
    let missing = container::missing_inputs(&w.outputs.secrets);
    if !missing.is_empty() {
        return Ok(Err(format!("waiting for {}", missing.join(" and "))));
    }
    let Some(site_admin) = shared.site_admin_secret.clone() else {
        return Ok(Err("waiting for the site administrator's secret".into()));
    };
    let (Some(email), Some(bucket)) = (w.email.clone(), w.outputs.file_bucket.clone()) else {
        return Ok(Err("waiting for e-mail and the file bucket".into()));
    };
    let Some(runtime_policy) = w.runtime.runtime_policy.clone() else {
        return Ok(Err("waiting for the runtime policy".into()));
    };
    // The base URL: the site's (domain), or the service's own once it is known.
    let base_url = site_url(spec, recorded.and_then(|r| r.url.as_deref()));
    // Apache keeps idle connections open longer than the load balancer does (else the
    // load balancer reuses a connection Apache just closed: a 502).
    let keepalive = match kind {
        ComputeKind::EcsFargate => {
            Some(spec.compute.ecs_fargate.clone().unwrap_or_default().idle_timeout_seconds + 5)
        }
        ComputeKind::EcsExpress => Some(crate::plan::compute::express::IDLE_TIMEOUT_SECONDS + 5),
        ComputeKind::AppRunner => None,
    };
    let inputs = ContainerInputs {
        spec,
        region: &w.id.region,
        image: &image,
        database: &database,
        file_bucket: &bucket,
        secrets: &w.outputs.secrets,
        site_admin_secret: &site_admin,
        mail_from: &email.from_address,
        configuration_set: &email.configuration_set,
        base_url: base_url.as_deref(),
        keepalive_seconds: keepalive,
    };
    let Some(container) = container::container(&inputs) else {
        return Ok(Err("waiting for the database's master secret".into()));
    };
    let env_id = w.id.environment_id();
    let role_tags = w.id.ownership_tags(C, &spec.aws.tags).map_err(invalid(C))?;
    let scope = RoleScope {
        partition: w.id.partition(),
        region: &w.id.region,
        account: &key.account,
        environment_id: &env_id,
        kms_key_arn: &key.arn,
        repository_arn: format!(
            "arn:{}:ecr:{}:{}:repository/{}",
            w.id.partition(),
            w.id.region,
            key.account,
            repository_name(&env_id)
        ),
        log_group: shared.log_group.clone(),
        file_bucket: &bucket,
        email_identity: &email.identity,
        tags: role_tags,
    };
    let secrets = container::secret_arns(&container);
    let want = shared::desired_roles(&scope, kind, &runtime_policy, &secrets);
    let roles = shared::converge_roles(w, l, &scope, kind, &want).await?;
    Ok(Ok(Target { container, version, roles }))
}

/// The kinds whose services this environment still has besides `kind`: the kind the
/// status recorded (and one it was retiring), or, without a record (a new environment,
/// a lost status), whatever exists.
async fn retiring_kinds(
    w: &Walk<'_>,
    kind: ComputeKind,
    recorded: Option<&ComputeStatus>,
) -> Result<Vec<ComputeKind>, ComponentError> {
    let mut out = Vec::new();
    match recorded {
        Some(r) => {
            for k in [Some(r.kind), r.retiring.as_ref().map(|s| s.kind)].into_iter().flatten() {
                if k != kind && !out.contains(&k) {
                    out.push(k);
                }
            }
        }
        None => {
            for k in [ComputeKind::EcsFargate, ComputeKind::EcsExpress, ComputeKind::AppRunner] {
                if k != kind && present(w, k).await? {
                    out.push(k);
                }
            }
        }
    }
    Ok(out)
}

/// Moves the URL to the new kind once it is healthy and deletes the old services;
/// writes status, outputs and the ledger.
async fn switch(
    w: &mut Walk<'_>,
    l: &mut Ledger,
    d: &Deploy<'_>,
    served: Served,
    retiring: Vec<ComputeKind>,
) -> Result<(), ComponentError> {
    let ready = served.readiness == Readiness::Ready;
    let mut serving = served.status.clone();
    let mut serving_kind = d.kind;
    let mut retiring_status = None;
    let mut old_fronts = Vec::new();
    for old in retiring {
        let old_deploy =
            Deploy { kind: old, target: None, recorded: None, failed: None, ..d.clone_ref() };
        if ready {
            match retire(w, l, old).await? {
                Retired::Gone => {}
                Retired::Deleting(what) => {
                    l.waiting(what, RETIRE_POLL);
                    let old_served = observe(w, &old_deploy).await?;
                    old_fronts.extend(old_served.front);
                    retiring_status = old_served.status;
                }
            }
        } else {
            let old_served = observe(w, &old_deploy).await?;
            if old_served.status.is_some() {
                l.note(format!(
                    "switching from {} to {}: the {} service serves until the new one is healthy",
                    kind_name(old),
                    kind_name(d.kind),
                    kind_name(old)
                ));
                serving = old_served.status.clone();
                serving_kind = old;
                old_fronts.extend(old_served.front.clone());
                retiring_status = old_served.status;
            }
        }
    }
    // What the firewall protects: the new kind's service as soon as it exists, and the
    // old one while it still serves or is being retired.
    let mut fronts: Vec<String> = served.front.iter().cloned().collect();
    fronts.extend(old_fronts);
    w.runtime.fronts = Some(fronts);
    let url = serving.as_ref().and_then(|s| s.url.clone());
    w.outputs.service_url = url.clone();
    // The service's own URL; `siteRecords` replaces it with the site's once the site's
    // name points at the service.
    w.outputs.url = url.clone();
    if let Some(s) = &served.status {
        l.identify(Some(kind_name(d.kind).to_string()), s.arn.clone());
    }
    // The failure record stays while the spec asks for the content that failed.
    let failed_deployment = served
        .failure
        .clone()
        .or_else(|| d.failed.filter(|_| matches!(served.readiness, Readiness::Failed(_))).cloned());
    let status = ComputeStatus {
        kind: serving_kind,
        service: served.status.clone(),
        retiring: retiring_status,
        failed_deployment,
    };
    w.compute = Some(status);
    match served.readiness {
        Readiness::Ready => Ok(()),
        Readiness::Progressing(step) => {
            let first = served.status.as_ref().is_none_or(|s| {
                !d.recorded
                    .and_then(|r| r.deployment.as_ref())
                    .is_some_and(|dep| dep.state == DeploymentState::Completed)
                    && s.deployment
                        .as_ref()
                        .is_none_or(|dep| dep.state != DeploymentState::Completed)
            });
            if first {
                l.creating(step, DEPLOY_POLL);
            } else {
                l.busy(step, DEPLOY_POLL);
            }
            Ok(())
        }
        Readiness::Failed(reason) => {
            let record = served.failure.as_ref().or(d.failed);
            // The record's reason names the stopped task; AWS's alone does not.
            let reason = record.map_or(reason, |f| f.reason.clone());
            let logs = record
                .and_then(|f| f.logs_url.clone())
                .map(|u| format!(" (logs: {u})"))
                .unwrap_or_default();
            // The call that reported the failure, for the error's prefix.
            let (service, operation) = match d.kind {
                ComputeKind::AppRunner => ("apprunner", "ListOperations"),
                _ => ("ecs", "DescribeServices"),
            };
            Err(refused(
                C,
                service,
                operation,
                "DeploymentFailed",
                format!(
                    "{}: {reason}{logs}; the previous tasks keep serving. Fix the cause, then change the spec (a new image or setting) to deploy again",
                    kind_name(d.kind)
                ),
            ))
        }
    }
}

impl Deploy<'_> {
    /// A copy for another kind's observation (no target, no records).
    fn clone_ref(&self) -> Self {
        Self {
            kind: self.kind,
            environment_id: self.environment_id.clone(),
            cluster: self.cluster.clone(),
            log_group: self.log_group.clone(),
            network: self.network,
            tags: self.tags.clone(),
            target: None,
            recorded: None,
            failed: None,
        }
    }
}
