//! Amazon ECS Express Mode: the Express service of kind `EcsExpress`, the resources
//! Express manages for it (found through its service revisions), its service deployments,
//! and the one setting of its underlying ECS service Express has no parameter for (step:
//! observe / create / update / delete; decisions are in `plan::compute::express`).
//!
//! `CreateExpressGatewayService` has no client token: the service is always observed by
//! its deterministic ARN first, so a create retried after a crash finds the first one.
//! `DescribeExpressGatewayService` keeps deleted services visible as `INACTIVE` for a
//! while; that reads as absent here. A service that is not `ACTIVE` refuses updates and
//! deletes with `ServiceNotActiveException`: the callers wait for it, never stall.

use std::convert::Infallible;

use aws_sdk_ecs::types::{
    AccessType, EcsExpressGatewayService, EcsManagedResources, ExpressGatewayContainer,
    ExpressGatewayScalingTarget, ExpressGatewayServiceAwsLogsConfiguration,
    ExpressGatewayServiceConfiguration, ExpressGatewayServiceInclude,
    ExpressGatewayServiceNetworkConfiguration, ExpressGatewayServiceScalingMetric,
    ManagedResourceStatus, Tag,
};

use crate::plan::compute::express::{
    DesiredExpress, LOG_STREAM_PREFIX, ObservedConfiguration, ObservedExpress, ObservedScaling,
    ObservedServiceDeployment,
};
use crate::plan::tags::TagSet;

use super::error::sdk_tags;
use super::{AwsCtx, AwsError};

const SERVICE: &str = "ecs";
/// What ECS answers a change to a service that is `DRAINING` (or `INACTIVE`).
pub const NOT_ACTIVE: &str = "ServiceNotActiveException";

fn ecs_tags(tags: &TagSet) -> Vec<Tag> {
    sdk_tags(tags, SERVICE, "TagResource", |k, v| {
        Ok::<_, Infallible>(Tag::builder().key(k).value(v).build())
    })
    .unwrap_or_default()
}

fn configuration(c: &ExpressGatewayServiceConfiguration) -> ObservedConfiguration {
    let container = c.primary_container();
    let logs = container.and_then(|p| p.aws_logs_configuration());
    let network = c.network_configuration();
    let scaling = c.scaling_target();
    let paths = c.ingress_paths();
    let endpoint = paths
        .iter()
        .find(|p| p.access_type() == &AccessType::Public)
        .or_else(|| paths.first())
        .map(|p| p.endpoint().to_string())
        .filter(|e| !e.is_empty());
    ObservedConfiguration {
        service_revision_arn: c.service_revision_arn().unwrap_or_default().to_string(),
        task_definition_arn: c.task_definition_arn().map(str::to_string),
        created_at: c.created_at().map(|t| t.secs()),
        execution_role_arn: c.execution_role_arn().map(str::to_string),
        task_role_arn: c.task_role_arn().map(str::to_string),
        cpu: c.cpu().map(str::to_string),
        memory: c.memory().map(str::to_string),
        subnets: network.and_then(|n| n.subnets.clone()),
        security_groups: network.and_then(|n| n.security_groups.clone()),
        health_check_path: c.health_check_path().map(str::to_string),
        image: container.map(|p| p.image().to_string()),
        port: container.and_then(|p| p.container_port()),
        log_group: logs.map(|l| l.log_group().to_string()),
        log_stream_prefix: logs.map(|l| l.log_stream_prefix().to_string()),
        environment: container.and_then(|p| p.environment.as_ref()).map(|env| {
            env.iter()
                .filter_map(|kv| {
                    Some((kv.name()?.to_string(), kv.value().unwrap_or_default().to_string()))
                })
                .collect()
        }),
        secrets: container.and_then(|p| p.secrets.as_ref()).map(|secrets| {
            secrets.iter().map(|s| (s.name().to_string(), s.value_from().to_string())).collect()
        }),
        scaling: scaling.map(|s| ObservedScaling {
            min: s.min_task_count(),
            max: s.max_task_count(),
            metric: s.auto_scaling_metric().map(|m| m.as_str().to_string()),
            target: s.auto_scaling_target_value(),
        }),
        endpoint,
    }
}

fn observed(s: &EcsExpressGatewayService) -> ObservedExpress {
    let status = s.status();
    ObservedExpress {
        arn: s.service_arn().unwrap_or_default().to_string(),
        status: status
            .and_then(|st| st.status_code())
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        status_reason: status.and_then(|st| st.status_reason()).map(str::to_string),
        configurations: s.active_configurations().iter().map(configuration).collect(),
        tags: s.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))).collect(),
    }
}

/// The Express service `arn`; `None` when it does not exist or is `INACTIVE` (deleted).
pub async fn observe(aws: &AwsCtx, arn: &str) -> Result<Option<ObservedExpress>, AwsError> {
    let Some(out) = aws
        .find(
            aws.ecs
                .describe_express_gateway_service()
                .service_arn(arn)
                .include(ExpressGatewayServiceInclude::Tags)
                .send(),
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(out.service().map(observed).filter(|s| s.status != "INACTIVE"))
}

fn build_err(
    operation: &'static str,
) -> impl Fn(aws_smithy_types::error::operation::BuildError) -> AwsError {
    move |e| AwsError::build(SERVICE, operation, e)
}

/// The primary container: the image by digest on the port, plain settings, credentials
/// injected from Secrets Manager by ARN, awslogs to the environment's log group.
fn container(
    want: &DesiredExpress,
    operation: &'static str,
) -> Result<ExpressGatewayContainer, AwsError> {
    let c = &want.container;
    let (environment, secrets) = super::ecs::container_settings(c, operation)?;
    let logs = ExpressGatewayServiceAwsLogsConfiguration::builder()
        .log_group(&want.log_group)
        .log_stream_prefix(LOG_STREAM_PREFIX)
        .build()
        .map_err(build_err(operation))?;
    ExpressGatewayContainer::builder()
        .image(&c.image)
        .container_port(i32::from(c.port))
        .aws_logs_configuration(logs)
        .set_environment(Some(environment))
        .set_secrets(Some(secrets))
        .build()
        .map_err(build_err(operation))
}

fn network(want: &DesiredExpress) -> ExpressGatewayServiceNetworkConfiguration {
    ExpressGatewayServiceNetworkConfiguration::builder()
        .set_subnets(Some(want.subnets.clone()))
        .set_security_groups(Some(want.security_groups.clone()))
        .build()
}

fn scaling(want: &DesiredExpress) -> ExpressGatewayScalingTarget {
    ExpressGatewayScalingTarget::builder()
        .min_task_count(want.scaling.min)
        .max_task_count(want.scaling.max)
        .auto_scaling_metric(ExpressGatewayServiceScalingMetric::from(want.scaling.metric.as_str()))
        .auto_scaling_target_value(want.scaling.target)
        .build()
}

/// Creates the service with every value explicit and `tags`; returns what Express
/// answered (its first configuration names the service revision, when Express says).
pub async fn create(
    aws: &AwsCtx,
    want: &DesiredExpress,
    tags: &TagSet,
) -> Result<ObservedExpress, AwsError> {
    const OP: &str = "CreateExpressGatewayService";
    let out = aws
        .call(
            aws.ecs
                .create_express_gateway_service()
                .cluster(&want.cluster)
                .service_name(&want.name)
                .infrastructure_role_arn(&want.infrastructure_role_arn)
                .execution_role_arn(&want.execution_role_arn)
                .task_role_arn(&want.task_role_arn)
                .primary_container(container(want, OP)?)
                .cpu(&want.cpu)
                .memory(&want.memory)
                .network_configuration(network(want))
                .health_check_path(&want.health_check_path)
                .scaling_target(scaling(want))
                .set_tags(Some(ecs_tags(tags)))
                .send(),
        )
        .await?;
    out.service().map(observed).ok_or_else(|| {
        AwsError::recoverable(SERVICE, OP, "NoService", "ECS returned no Express service")
    })
}

/// What an update started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Updated {
    /// A deployment to the service revision (when Express named it).
    Deploying { revision: Option<String> },
    /// The service is not `ACTIVE` (draining): nothing was changed.
    NotActive,
}

/// One `UpdateExpressGatewayService` with every value (`primaryContainer` is replaced
/// whole, so everything is sent again).
pub async fn update(aws: &AwsCtx, arn: &str, want: &DesiredExpress) -> Result<Updated, AwsError> {
    const OP: &str = "UpdateExpressGatewayService";
    let out = aws
        .tolerate(
            &[NOT_ACTIVE],
            aws.ecs
                .update_express_gateway_service()
                .service_arn(arn)
                .execution_role_arn(&want.execution_role_arn)
                .task_role_arn(&want.task_role_arn)
                .primary_container(container(want, OP)?)
                .cpu(&want.cpu)
                .memory(&want.memory)
                .network_configuration(network(want))
                .health_check_path(&want.health_check_path)
                .scaling_target(scaling(want))
                .send(),
        )
        .await?;
    Ok(match out {
        None => Updated::NotActive,
        Some(out) => Updated::Deploying {
            revision: out
                .service()
                .and_then(|s| s.target_configuration())
                .and_then(|c| c.service_revision_arn())
                .map(str::to_string),
        },
    })
}

/// Deletes the service (Express then removes what it manages); `false` when it was
/// already gone or being deleted.
pub async fn delete(aws: &AwsCtx, arn: &str) -> Result<bool, AwsError> {
    let out = aws
        .tolerate(&[NOT_ACTIVE], aws.ecs.delete_express_gateway_service().service_arn(arn).send())
        .await;
    match out {
        Ok(found) => Ok(found.is_some()),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Adds `tags` to the service.
pub async fn tag(aws: &AwsCtx, arn: &str, tags: &TagSet) -> Result<(), AwsError> {
    super::ecs::tag(aws, arn, tags).await
}

/// A resource Express manages, by ARN and status (`PROVISIONING`, `ACTIVE`,
/// `DEPROVISIONING`, `DELETED`, `FAILED`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Managed {
    pub arn: String,
    pub status: String,
    pub reason: Option<String>,
}

/// What one service revision runs and what Express manages for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedRevision {
    pub task_definition: String,
    pub load_balancer: Option<Managed>,
    pub listener: Option<Managed>,
    pub target_groups: Vec<Managed>,
    pub certificate: Option<Managed>,
}

fn managed(
    arn: Option<&str>,
    status: &ManagedResourceStatus,
    reason: Option<&str>,
) -> Option<Managed> {
    Some(Managed {
        arn: arn.filter(|a| !a.is_empty())?.to_string(),
        status: status.as_str().to_string(),
        reason: reason.map(str::to_string),
    })
}

fn ingress(resources: Option<&EcsManagedResources>, rev: &mut ObservedRevision) {
    let paths = resources.map(|r| r.ingress_paths()).unwrap_or_default();
    let Some(path) =
        paths.iter().find(|p| p.access_type() == &AccessType::Public).or_else(|| paths.first())
    else {
        return;
    };
    rev.load_balancer = path
        .load_balancer()
        .and_then(|l| managed(l.arn(), l.status(), l.status_reason()))
        .or_else(|| {
            // A load balancer that failed before it had an ARN still says why.
            path.load_balancer().map(|l| Managed {
                arn: String::new(),
                status: l.status().as_str().to_string(),
                reason: l.status_reason().map(str::to_string),
            })
        });
    rev.listener = path.listener().and_then(|l| managed(l.arn(), l.status(), l.status_reason()));
    rev.certificate =
        path.certificate().and_then(|c| managed(c.arn(), c.status(), c.status_reason()));
    rev.target_groups = path
        .target_groups()
        .iter()
        .filter_map(|t| managed(t.arn(), t.status(), t.status_reason()))
        .collect();
}

/// The service revision `arn`: its task definition and the load balancer, listener,
/// target groups and certificate Express manages for it. `None` when ECS does not know
/// the revision.
pub async fn revision(aws: &AwsCtx, arn: &str) -> Result<Option<ObservedRevision>, AwsError> {
    let out =
        aws.call(aws.ecs.describe_service_revisions().service_revision_arns(arn).send()).await?;
    let Some(r) = out.service_revisions().iter().find(|r| r.service_revision_arn() == Some(arn))
    else {
        return Ok(None);
    };
    let mut rev = ObservedRevision {
        task_definition: r.task_definition().unwrap_or_default().to_string(),
        ..ObservedRevision::default()
    };
    ingress(r.ecs_managed_resources(), &mut rev);
    Ok(Some(rev))
}

/// The newest service deployments of `service` (one page, newest first: the one that
/// matters is among the last few).
pub async fn service_deployments(
    aws: &AwsCtx,
    cluster: &str,
    service: &str,
) -> Result<Vec<ObservedServiceDeployment>, AwsError> {
    let Some(out) = aws
        .find(
            aws.ecs
                .list_service_deployments()
                .cluster(cluster)
                .service(service)
                .max_results(20)
                .send(),
        )
        .await?
    else {
        return Ok(Vec::new());
    };
    Ok(out
        .service_deployments()
        .iter()
        .map(|d| ObservedServiceDeployment {
            arn: d.service_deployment_arn().unwrap_or_default().to_string(),
            status: d.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            reason: d.status_reason().map(str::to_string),
            target_revision: d.target_service_revision_arn().map(str::to_string),
        })
        .collect())
}

/// Sets the health-check grace period of the underlying ECS service (Express has no
/// parameter for it). Changes nothing else, so ECS starts no deployment.
pub async fn set_grace_period(
    aws: &AwsCtx,
    cluster: &str,
    service: &str,
    seconds: i32,
) -> Result<bool, AwsError> {
    let out = aws
        .tolerate(
            &[NOT_ACTIVE],
            aws.ecs
                .update_service()
                .cluster(cluster)
                .service(service)
                .health_check_grace_period_seconds(seconds)
                .send(),
        )
        .await?;
    Ok(out.is_some())
}
