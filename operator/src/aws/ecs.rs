//! Amazon ECS: the environment's cluster, its task definition revisions, the service of
//! kind `EcsFargate`, and the tasks a failed deployment stopped (step: observe / create /
//! update / delete; decisions are in `plan::compute`).
//!
//! ECS keeps deleted services (`INACTIVE`) and clusters visible for a while; both read as
//! absent here. The desired count is sent only on create: afterwards Application Auto
//! Scaling owns it.

use std::collections::HashMap;
use std::convert::Infallible;

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, ClusterField, ClusterSetting, ClusterSettingName,
    Compatibility, ContainerDefinition, CpuArchitecture, DeploymentCircuitBreaker,
    DeploymentConfiguration, DesiredStatus, KeyValuePair, LaunchType, LoadBalancer,
    LogConfiguration, LogDriver, NetworkConfiguration, NetworkMode, OsFamily, PortMapping,
    PropagateTags, RuntimePlatform, Secret, Service, ServiceField, Tag, TransportProtocol,
};

use crate::plan::compute::CONTAINER;
use crate::plan::compute::container::Container;
use crate::plan::compute::fargate::{
    ClusterChange, DesiredCluster, DesiredService, DesiredTaskDefinition, ObservedCluster,
    ObservedDeployment, ObservedService, ServiceChange, cluster_changes,
};
use crate::plan::tags::TagSet;

use super::error::sdk_tags;
use super::resource::{Presence, Resource};
use super::{AwsCtx, AwsError};

const SERVICE: &str = "ecs";

fn ecs_tags(tags: &TagSet) -> Vec<Tag> {
    sdk_tags(tags, SERVICE, "TagResource", |k, v| {
        Ok::<_, Infallible>(Tag::builder().key(k).value(v).build())
    })
    .unwrap_or_default()
}

fn tag_set(tags: &[Tag]) -> TagSet {
    tags.iter().filter_map(|t| Some((t.key()?, t.value()?))).collect()
}

/// Adds `tags` to a cluster, service or task definition.
pub async fn tag(aws: &AwsCtx, arn: &str, tags: &TagSet) -> Result<(), AwsError> {
    aws.run(aws.ecs.tag_resource().resource_arn(arn).set_tags(Some(ecs_tags(tags))).send()).await
}

// ---------------------------------------------------------------------------------------
// Cluster

/// The cluster `name`; `None` when absent or `INACTIVE` (deleted).
pub async fn observe_cluster(
    aws: &AwsCtx,
    name: &str,
) -> Result<Option<ObservedCluster>, AwsError> {
    let out = aws
        .call(
            aws.ecs
                .describe_clusters()
                .clusters(name)
                .include(ClusterField::Tags)
                .include(ClusterField::Settings)
                .send(),
        )
        .await?;
    let Some(c) = out.clusters().iter().find(|c| c.status() != Some("INACTIVE")) else {
        return Ok(None);
    };
    let insights = c.settings().iter().any(|s| {
        s.name() == Some(&ClusterSettingName::ContainerInsights)
            && matches!(s.value(), Some("enabled" | "enhanced"))
    });
    Ok(Some(ObservedCluster {
        arn: c.cluster_arn().unwrap_or_default().to_string(),
        status: c.status().unwrap_or_default().to_string(),
        container_insights: insights,
        tags: tag_set(c.tags()),
    }))
}

fn insights() -> ClusterSetting {
    ClusterSetting::builder().name(ClusterSettingName::ContainerInsights).value("enabled").build()
}

impl Resource for DesiredCluster {
    type Seen = ObservedCluster;
    type Change = ClusterChange;

    fn label(&self) -> String {
        format!("ECS cluster {}", self.name)
    }

    async fn observe(
        &self,
        aws: &AwsCtx,
        uid: &str,
    ) -> Result<Presence<ObservedCluster>, AwsError> {
        Ok(Presence::of(observe_cluster(aws, &self.name).await?, |c| c.tags.is_owned_by(uid)))
    }

    /// `CreateCluster` is idempotent by name.
    async fn create(&self, aws: &AwsCtx) -> Result<ObservedCluster, AwsError> {
        let out = aws
            .call(
                aws.ecs
                    .create_cluster()
                    .cluster_name(&self.name)
                    .settings(insights())
                    .set_tags(Some(ecs_tags(&self.tags)))
                    .send(),
            )
            .await?;
        Ok(ObservedCluster {
            arn: out.cluster().and_then(|c| c.cluster_arn()).unwrap_or_default().to_string(),
            status: "ACTIVE".into(),
            container_insights: true,
            tags: self.tags.clone(),
        })
    }

    fn changes(&self, seen: &ObservedCluster) -> Vec<ClusterChange> {
        cluster_changes(self, seen)
    }

    async fn update(
        &self,
        aws: &AwsCtx,
        seen: &ObservedCluster,
        changes: &[ClusterChange],
    ) -> Result<(), AwsError> {
        for change in changes {
            match change {
                ClusterChange::ContainerInsights => {
                    aws.run(
                        aws.ecs
                            .update_cluster_settings()
                            .cluster(&self.name)
                            .settings(insights())
                            .send(),
                    )
                    .await?
                }
                ClusterChange::Tag(tags) => tag(aws, &seen.arn, tags).await?,
            }
        }
        Ok(())
    }
}

/// Deletes the cluster; `false` while it still holds services or tasks (ECS refuses).
pub async fn delete_cluster(aws: &AwsCtx, name: &str) -> Result<bool, AwsError> {
    match aws.delete(aws.ecs.delete_cluster().cluster(name).send()).await {
        Ok(_) => Ok(true),
        Err(e)
            if matches!(
                e.code.as_str(),
                "ClusterContainsServicesException" | "ClusterContainsTasksException"
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------------------------------
// Task definitions

/// The container's plain settings and its credentials (injected from Secrets Manager by
/// ARN) as ECS takes them, for a task definition and for an Express service alike.
pub(crate) fn container_settings(
    c: &Container,
    operation: &'static str,
) -> Result<(Vec<KeyValuePair>, Vec<Secret>), AwsError> {
    let environment = c
        .environment
        .iter()
        .map(|(k, v)| KeyValuePair::builder().name(k).value(v).build())
        .collect();
    let secrets = c
        .secrets
        .iter()
        .map(|(name, arn)| {
            Secret::builder()
                .name(name)
                .value_from(arn)
                .build()
                .map_err(|e| AwsError::build(SERVICE, operation, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((environment, secrets))
}

fn container_definition(td: &DesiredTaskDefinition) -> Result<ContainerDefinition, AwsError> {
    let c = &td.container;
    let (environment, secrets) = container_settings(c, "RegisterTaskDefinition")?;
    let mut options = HashMap::new();
    options.insert("awslogs-group".to_string(), td.log_group.clone());
    options.insert("awslogs-region".to_string(), td.region.clone());
    options.insert("awslogs-stream-prefix".to_string(), "redcap".to_string());
    let logs = LogConfiguration::builder()
        .log_driver(LogDriver::Awslogs)
        .set_options(Some(options))
        .build()
        .map_err(|e| AwsError::build(SERVICE, "RegisterTaskDefinition", e))?;
    Ok(ContainerDefinition::builder()
        .name(CONTAINER)
        .image(&c.image)
        .essential(true)
        .port_mappings(
            PortMapping::builder()
                .name("http")
                .container_port(i32::from(c.port))
                .protocol(TransportProtocol::Tcp)
                .build(),
        )
        .set_environment(Some(environment))
        .set_secrets(Some(secrets))
        .log_configuration(logs)
        .build())
}

/// Registers a new revision; returns its ARN.
pub async fn register_task_definition(
    aws: &AwsCtx,
    td: &DesiredTaskDefinition,
) -> Result<String, AwsError> {
    let out = aws
        .call(
            aws.ecs
                .register_task_definition()
                .family(&td.family)
                .network_mode(NetworkMode::Awsvpc)
                .requires_compatibilities(Compatibility::Fargate)
                .cpu(&td.cpu)
                .memory(&td.memory)
                .execution_role_arn(&td.execution_role_arn)
                .task_role_arn(&td.task_role_arn)
                .runtime_platform(
                    RuntimePlatform::builder()
                        .operating_system_family(OsFamily::Linux)
                        .cpu_architecture(CpuArchitecture::X8664)
                        .build(),
                )
                .container_definitions(container_definition(td)?)
                .set_tags(Some(ecs_tags(&td.tags)))
                .send(),
        )
        .await?;
    out.task_definition().and_then(|t| t.task_definition_arn()).map(str::to_string).ok_or_else(
        || {
            AwsError::recoverable(
                SERVICE,
                "RegisterTaskDefinition",
                "NoArn",
                "ECS returned no task definition ARN",
            )
        },
    )
}

/// The ARN of revision `family:N`, or `None` when it is gone (deregistered revisions
/// stay describable for a while as `INACTIVE`, which counts as gone).
pub async fn task_definition_arn(
    aws: &AwsCtx,
    family_revision: &str,
) -> Result<Option<String>, AwsError> {
    let out = match aws
        .call(aws.ecs.describe_task_definition().task_definition(family_revision).send())
        .await
    {
        Ok(out) => out,
        Err(e) if e.code == "ClientException" => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(out
        .task_definition()
        .filter(|t| t.status().is_none_or(|s| s.as_str() == "ACTIVE"))
        .and_then(|t| t.task_definition_arn())
        .map(str::to_string))
}

/// Deregisters the family's active revisions but `keep` (older revisions pile up
/// otherwise; running tasks are not affected).
pub async fn prune_task_definitions(
    aws: &AwsCtx,
    family: &str,
    keep: &[&str],
) -> Result<usize, AwsError> {
    let pages = aws
        .pages(
            aws.ecs
                .list_task_definitions()
                .family_prefix(family)
                .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
                .into_paginator()
                .send(),
        )
        .await?;
    let mut pruned = 0;
    for arn in pages.iter().flat_map(|p| p.task_definition_arns()) {
        // `family_prefix` also matches longer families (`rc-x` matches `rc-x2`).
        let same_family =
            crate::plan::compute::fargate::family_revision(arn).rsplit_once(':').map(|(f, _)| f)
                == Some(family);
        if same_family && !keep.contains(&arn.as_str()) {
            aws.run(aws.ecs.deregister_task_definition().task_definition(arn).send()).await?;
            pruned += 1;
        }
    }
    Ok(pruned)
}

// ---------------------------------------------------------------------------------------
// Services

fn observed_service(s: &Service) -> ObservedService {
    let vpc = s.network_configuration().and_then(|n| n.awsvpc_configuration());
    let breaker = s.deployment_configuration().and_then(|d| d.deployment_circuit_breaker());
    ObservedService {
        arn: s.service_arn().unwrap_or_default().to_string(),
        status: s.status().unwrap_or_default().to_string(),
        task_definition: s.task_definition().unwrap_or_default().to_string(),
        desired: s.desired_count(),
        running: s.running_count(),
        subnets: vpc.map(|v| v.subnets().to_vec()).unwrap_or_default(),
        security_groups: vpc.map(|v| v.security_groups().to_vec()).unwrap_or_default(),
        target_groups: s
            .load_balancers()
            .iter()
            .filter_map(|l| l.target_group_arn().map(str::to_string))
            .collect(),
        grace_seconds: s.health_check_grace_period_seconds(),
        circuit_breaker: breaker.is_some_and(|b| b.enable()),
        rollback: breaker.is_some_and(|b| b.rollback()),
        deployments: s
            .deployments()
            .iter()
            .map(|d| ObservedDeployment {
                id: d.id().unwrap_or_default().to_string(),
                status: d.status().unwrap_or_default().to_string(),
                task_definition: d.task_definition().unwrap_or_default().to_string(),
                rollout_state: d
                    .rollout_state()
                    .map(|r| r.as_str().to_string())
                    .unwrap_or_default(),
                rollout_reason: d.rollout_state_reason().map(str::to_string),
                desired: d.desired_count(),
                running: d.running_count(),
                failed_tasks: d.failed_tasks(),
                created_at: d.created_at().map(|t| t.secs()),
            })
            .collect(),
        tags: tag_set(s.tags()),
    }
}

/// The service `name` of `cluster`; `None` when absent, `INACTIVE`, or the cluster is
/// gone.
pub async fn observe_service(
    aws: &AwsCtx,
    cluster: &str,
    name: &str,
) -> Result<Option<ObservedService>, AwsError> {
    let Some(out) = aws
        .find(
            aws.ecs
                .describe_services()
                .cluster(cluster)
                .services(name)
                .include(ServiceField::Tags)
                .send(),
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(out.services().iter().find(|s| s.status() != Some("INACTIVE")).map(observed_service))
}

fn network(want: &DesiredService) -> Result<NetworkConfiguration, AwsError> {
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(want.subnets.clone()))
        .set_security_groups(Some(want.security_groups.clone()))
        .assign_public_ip(AssignPublicIp::Disabled)
        .build()
        .map_err(|e| AwsError::build(SERVICE, "CreateService", e))?;
    Ok(NetworkConfiguration::builder().awsvpc_configuration(vpc).build())
}

fn load_balancer(want: &DesiredService) -> LoadBalancer {
    LoadBalancer::builder()
        .target_group_arn(&want.target_group_arn)
        .container_name(CONTAINER)
        .container_port(want.container_port)
        .build()
}

/// Rolling: new tasks start before old ones stop (never fewer healthy tasks than asked
/// for), and the circuit breaker stops a deployment whose tasks keep failing.
fn deployment(rollback: bool) -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder().enable(true).rollback(rollback).build(),
        )
        .maximum_percent(200)
        .minimum_healthy_percent(100)
        .build()
}

/// Creates the service on `revision` with `want.initial_count` tasks. `client_token`
/// makes a retry after a crash return the same service.
pub async fn create_service(
    aws: &AwsCtx,
    want: &DesiredService,
    revision: &str,
    rollback: bool,
    tags: &TagSet,
    client_token: &str,
) -> Result<ObservedService, AwsError> {
    let out = aws
        .call(
            aws.ecs
                .create_service()
                .cluster(&want.cluster)
                .service_name(&want.name)
                .task_definition(revision)
                .desired_count(want.initial_count)
                .launch_type(LaunchType::Fargate)
                .platform_version("LATEST")
                .network_configuration(network(want)?)
                .load_balancers(load_balancer(want))
                .health_check_grace_period_seconds(want.grace_seconds)
                .deployment_configuration(deployment(rollback))
                .propagate_tags(PropagateTags::Service)
                .enable_ecs_managed_tags(true)
                .set_tags(Some(ecs_tags(tags)))
                .client_token(client_token)
                .send(),
        )
        .await?;
    out.service().map(observed_service).ok_or_else(|| {
        AwsError::recoverable(SERVICE, "CreateService", "NoService", "ECS returned no service")
    })
}

/// Applies every correction of `changes` in one `UpdateService` (tags separately).
/// Never sends the desired count.
pub async fn update_service(
    aws: &AwsCtx,
    want: &DesiredService,
    seen: &ObservedService,
    changes: &[ServiceChange],
) -> Result<(), AwsError> {
    let mut update = aws.ecs.update_service().cluster(&want.cluster).service(&want.name);
    let mut any = false;
    for change in changes {
        match change {
            ServiceChange::TaskDefinition { arn, rollback } => {
                update =
                    update.task_definition(arn).deployment_configuration(deployment(*rollback));
                any = true;
            }
            ServiceChange::CircuitBreaker { rollback } => {
                update = update.deployment_configuration(deployment(*rollback));
                any = true;
            }
            ServiceChange::Network => {
                update = update.network_configuration(network(want)?);
                any = true;
            }
            ServiceChange::LoadBalancer => {
                update = update.load_balancers(load_balancer(want));
                any = true;
            }
            ServiceChange::GracePeriod => {
                update = update.health_check_grace_period_seconds(want.grace_seconds);
                any = true;
            }
            ServiceChange::Tag(tags) => tag(aws, &seen.arn, tags).await?,
        }
    }
    if any {
        aws.run(update.send()).await?;
    }
    Ok(())
}

/// Deletes the service (stopping its tasks); `false` when it was already gone.
pub async fn delete_service(aws: &AwsCtx, cluster: &str, name: &str) -> Result<bool, AwsError> {
    aws.delete(aws.ecs.delete_service().cluster(cluster).service(name).force(true).send()).await
}

// ---------------------------------------------------------------------------------------
// Tasks

/// Why a task of the service stopped, from the newest stopped task that ran `revision`:
/// the stopped reason, the container's exit code, and its log stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoppedTask {
    pub task_id: String,
    pub reason: String,
    pub exit_code: Option<i32>,
    /// `redcap/Main/<task id>`.
    pub log_stream: String,
}

pub async fn last_stopped_task(
    aws: &AwsCtx,
    cluster: &str,
    service: &str,
    revision: &str,
) -> Result<Option<StoppedTask>, AwsError> {
    let Some(list) = aws
        .find(
            aws.ecs
                .list_tasks()
                .cluster(cluster)
                .service_name(service)
                .desired_status(DesiredStatus::Stopped)
                .max_results(20)
                .send(),
        )
        .await?
    else {
        return Ok(None);
    };
    if list.task_arns().is_empty() {
        return Ok(None);
    }
    let out = aws
        .call(
            aws.ecs
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(list.task_arns().to_vec()))
                .send(),
        )
        .await?;
    let newest = out
        .tasks()
        .iter()
        .filter(|t| t.task_definition_arn() == Some(revision))
        .max_by_key(|t| t.stopped_at().map(|s| s.secs()).unwrap_or_default());
    Ok(newest.map(|t| {
        let task_id =
            t.task_arn().and_then(|a| a.rsplit('/').next()).unwrap_or_default().to_string();
        let container = t.containers().iter().find(|c| c.name() == Some(CONTAINER));
        StoppedTask {
            reason: t.stopped_reason().unwrap_or("stopped").to_string(),
            exit_code: container.and_then(|c| c.exit_code()),
            log_stream: format!("redcap/{CONTAINER}/{task_id}"),
            task_id,
        }
    }))
}
