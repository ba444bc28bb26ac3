//! AWS App Runner: the service of kind `AppRunner`, its VPC connector and auto scaling
//! configuration (step: observe / create / update / delete; decisions are in
//! `plan::compute::apprunner`).
//!
//! App Runner has no idempotency token anywhere: every create here is preceded by an
//! observation, and a service is found by name (`ListServices`, then `DescribeService`)
//! and its UID tag. It runs one operation per service at a time and answers a change
//! while one runs with `InvalidStateException`: that is [`Attempt::Busy`], a requeue,
//! never an error. Connectors and configurations still in use (App Runner keeps a
//! connector in use for a while after its service is gone) are [`Attempt::InUse`].

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;

use aws_sdk_apprunner::types::{
    AuthenticationConfiguration, EgressConfiguration, EgressType, EncryptionConfiguration,
    HealthCheckConfiguration, HealthCheckProtocol, ImageConfiguration, ImageRepository,
    ImageRepositoryType, IngressConfiguration, InstanceConfiguration, IpAddressType,
    NetworkConfiguration, Service, ServiceObservabilityConfiguration, SourceConfiguration, Tag,
    VpcConnector,
};

use crate::plan::compute::apprunner::{
    ConnectorChange, DesiredConnector, DesiredScaling, DesiredService, ObservedConnector,
    ObservedScaling, ObservedService, Operation, connector_changes, cpu_units, memory_mib,
    observed_health_check, service_tags,
};
use crate::plan::tags::TagSet;

use super::error::ErrorClass;
use super::resource::{Presence, Resource};
use super::{AwsCtx, AwsError};

const SERVICE: &str = "apprunner";

/// App Runner answers an account it no longer serves (closed to new customers since
/// 2026-04-30) with a plain `InvalidRequestException`; that one cannot be retried.
pub fn refine(e: &mut AwsError) {
    if e.code == "InvalidRequestException" && closed_to_new_customers(&e.message) {
        e.class = ErrorClass::Terminal;
    }
}

/// Whether App Runner's message says the account is not a customer.
pub fn closed_to_new_customers(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("new customers") || m.contains("no longer available")
}

/// How a change App Runner may refuse for now went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Accepted (for a service: the operation it started).
    Done(Option<String>),
    /// Another operation runs on the service (`InvalidStateException`).
    Busy(String),
    /// The connector or configuration is still used by a service.
    InUse(String),
    /// Already gone.
    Gone,
}

/// Sorts a refusal into [`Attempt`]: the codes App Runner uses for "not now".
fn attempt(e: AwsError, in_use: bool) -> Result<Attempt, AwsError> {
    match e.code.as_str() {
        "InvalidStateException" if !in_use => Ok(Attempt::Busy(e.message)),
        // App Runner says "in use" with either code; both only ever resolve by waiting.
        "InvalidStateException" | "InvalidRequestException" if in_use && !e.is_terminal() => {
            Ok(Attempt::InUse(e.message))
        }
        _ if e.is_not_found() => Ok(Attempt::Gone),
        _ => Err(e),
    }
}

fn sdk_tags(tags: &TagSet) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// The tags of a service, connector or configuration.
pub async fn tags_of(aws: &AwsCtx, arn: &str) -> Result<TagSet, AwsError> {
    let out = aws.call(aws.apprunner.list_tags_for_resource().resource_arn(arn).send()).await?;
    Ok(out.tags().iter().filter_map(|t| Some((t.key()?, t.value()?))).collect())
}

/// Adds `tags` to a resource.
pub async fn tag(aws: &AwsCtx, arn: &str, tags: &TagSet) -> Result<(), AwsError> {
    aws.run(aws.apprunner.tag_resource().resource_arn(arn).set_tags(Some(sdk_tags(tags))).send())
        .await
}

// ---------------------------------------------------------------------------------------
// Services

fn map(m: Option<&HashMap<String, String>>) -> BTreeMap<String, String> {
    m.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
}

/// The service as App Runner describes it (tags and operations are read separately).
fn observed_service(s: &Service) -> ObservedService {
    let source = s.source_configuration();
    let image = source.and_then(|c| c.image_repository());
    let config = image.and_then(|i| i.image_configuration());
    let instance = s.instance_configuration();
    let health = s.health_check_configuration();
    let network = s.network_configuration();
    let egress = network.and_then(|n| n.egress_configuration());
    ObservedService {
        arn: s.service_arn().to_string(),
        name: s.service_name().to_string(),
        url: s.service_url().map(str::to_string),
        status: s.status().as_str().to_string(),
        image: image.map(|i| i.image_identifier().to_string()).unwrap_or_default(),
        image_repository_type: image
            .map(|i| i.image_repository_type().as_str().to_string())
            .unwrap_or_default(),
        port: config.and_then(|c| c.port()).map(str::to_string),
        environment: map(config.and_then(|c| c.runtime_environment_variables())),
        secrets: map(config.and_then(|c| c.runtime_environment_secrets())),
        auto_deployments: source.and_then(|c| c.auto_deployments_enabled()).unwrap_or(false),
        access_role_arn: source
            .and_then(|c| c.authentication_configuration())
            .and_then(|a| a.access_role_arn())
            .map(str::to_string),
        instance_role_arn: instance.and_then(|i| i.instance_role_arn()).map(str::to_string),
        cpu: instance.and_then(|i| i.cpu()).and_then(cpu_units),
        memory: instance.and_then(|i| i.memory()).and_then(memory_mib),
        health_check: observed_health_check(
            health.and_then(|h| h.protocol()).map(|p| p.as_str()),
            health.and_then(|h| h.path()),
            health.and_then(|h| h.interval()),
            health.and_then(|h| h.timeout()),
            health.and_then(|h| h.healthy_threshold()),
            health.and_then(|h| h.unhealthy_threshold()),
        ),
        egress_type: egress
            .and_then(|e| e.egress_type())
            .map_or("DEFAULT".to_string(), |t| t.as_str().to_string()),
        connector_arn: egress.and_then(|e| e.vpc_connector_arn()).map(str::to_string),
        public: network
            .and_then(|n| n.ingress_configuration())
            .is_none_or(|i| i.is_publicly_accessible()),
        observability: s.observability_configuration().is_some_and(|o| o.observability_enabled()),
        scaling_arn: s
            .auto_scaling_configuration_summary()
            .and_then(|a| a.auto_scaling_configuration_arn())
            .map(str::to_string),
        kms_key_arn: s.encryption_configuration().map(|e| e.kms_key().to_string()),
        tags: TagSet::new(),
        last_operation: None,
    }
}

/// The ARN of the live service `name` (`ListServices` knows no filter: every page until
/// it is found). A deleted service is not live.
pub async fn find_service(aws: &AwsCtx, name: &str) -> Result<Option<String>, AwsError> {
    let mut found = None;
    aws.each_page(aws.apprunner.list_services().max_results(20).into_paginator().send(), |page| {
        found = page
            .service_summary_list()
            .iter()
            .find(|s| {
                s.service_name() == Some(name)
                    && s.status().is_none_or(|st| st.as_str() != "DELETED")
            })
            .and_then(|s| s.service_arn().map(str::to_string));
        if found.is_some() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    })
    .await?;
    Ok(found)
}

/// The newest operation on a service.
pub async fn last_operation(aws: &AwsCtx, arn: &str) -> Result<Option<Operation>, AwsError> {
    let Some(out) =
        aws.find(aws.apprunner.list_operations().service_arn(arn).max_results(5).send()).await?
    else {
        return Ok(None);
    };
    // App Runner lists the newest first; the start time decides if it ever does not.
    let newest = out
        .operation_summary_list()
        .iter()
        .enumerate()
        .max_by_key(|(i, o)| (o.started_at().map(|t| t.as_nanos()), std::cmp::Reverse(*i)))
        .map(|(_, o)| o);
    Ok(newest.map(|o| Operation {
        id: o.id().unwrap_or_default().to_string(),
        kind: o.r#type().map(|t| t.as_str().to_string()).unwrap_or_default(),
        status: o.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
    }))
}

/// The service `arn` with its tags and newest operation; `None` once deleted.
pub async fn describe_service(
    aws: &AwsCtx,
    arn: &str,
) -> Result<Option<ObservedService>, AwsError> {
    let Some(out) = aws.find(aws.apprunner.describe_service().service_arn(arn).send()).await?
    else {
        return Ok(None);
    };
    let Some(mut seen) = out.service().map(observed_service) else {
        return Ok(None);
    };
    if seen.status == "DELETED" {
        return Ok(None);
    }
    seen.tags = tags_of(aws, arn).await?;
    seen.last_operation = last_operation(aws, arn).await?;
    Ok(Some(seen))
}

/// The live service `name`, with its tags and newest operation.
pub async fn observe_service(
    aws: &AwsCtx,
    name: &str,
) -> Result<Option<ObservedService>, AwsError> {
    match find_service(aws, name).await? {
        Some(arn) => describe_service(aws, &arn).await,
        None => Ok(None),
    }
}

fn source(want: &DesiredService, operation: &'static str) -> Result<SourceConfiguration, AwsError> {
    let config = ImageConfiguration::builder()
        .port(want.port.to_string())
        .set_runtime_environment_variables(Some(want.environment.clone().into_iter().collect()))
        .set_runtime_environment_secrets(Some(want.secrets.clone().into_iter().collect()))
        .build();
    let image = ImageRepository::builder()
        .image_identifier(&want.image)
        .image_repository_type(ImageRepositoryType::Ecr)
        .image_configuration(config)
        .build()
        .map_err(|e| AwsError::build(SERVICE, operation, e))?;
    Ok(SourceConfiguration::builder()
        .image_repository(image)
        // Explicit: App Runner's default for same-account ECR is to deploy every push.
        .auto_deployments_enabled(false)
        .authentication_configuration(
            AuthenticationConfiguration::builder().access_role_arn(&want.access_role_arn).build(),
        )
        .build())
}

fn instance(want: &DesiredService) -> InstanceConfiguration {
    InstanceConfiguration::builder()
        .cpu(want.cpu.to_string())
        .memory(want.memory.to_string())
        .instance_role_arn(&want.instance_role_arn)
        .build()
}

fn health(want: &DesiredService) -> HealthCheckConfiguration {
    let h = &want.health_check;
    HealthCheckConfiguration::builder()
        .protocol(HealthCheckProtocol::from(h.protocol.as_str()))
        .path(&h.path)
        .interval(h.interval)
        .timeout(h.timeout)
        .healthy_threshold(h.healthy_threshold)
        .unhealthy_threshold(h.unhealthy_threshold)
        .build()
}

fn network(want: &DesiredService) -> NetworkConfiguration {
    NetworkConfiguration::builder()
        .egress_configuration(
            EgressConfiguration::builder()
                .egress_type(EgressType::Vpc)
                .vpc_connector_arn(&want.connector_arn)
                .build(),
        )
        .ingress_configuration(IngressConfiguration::builder().is_publicly_accessible(true).build())
        .ip_address_type(IpAddressType::Ipv4)
        .build()
}

/// Tracing off (see `plan::compute::apprunner`): sent so that a hand-enabled one reverts.
fn observability() -> ServiceObservabilityConfiguration {
    ServiceObservabilityConfiguration::builder().observability_enabled(false).build()
}

/// Creates the service with its tags (content hash included) and the environment's key.
/// App Runner has no client token: call only after [`observe_service`] found none.
pub async fn create_service(
    aws: &AwsCtx,
    want: &DesiredService,
    hash: &str,
) -> Result<ObservedService, AwsError> {
    let encryption = EncryptionConfiguration::builder()
        .kms_key(&want.kms_key_arn)
        .build()
        .map_err(|e| AwsError::build(SERVICE, "CreateService", e))?;
    let tags = service_tags(want, hash);
    let out = aws
        .call(
            aws.apprunner
                .create_service()
                .service_name(&want.name)
                .source_configuration(source(want, "CreateService")?)
                .instance_configuration(instance(want))
                .health_check_configuration(health(want))
                .network_configuration(network(want))
                .auto_scaling_configuration_arn(&want.scaling_arn)
                .observability_configuration(observability())
                .encryption_configuration(encryption)
                .set_tags(Some(sdk_tags(&tags)))
                .send(),
        )
        .await?;
    let mut seen = out.service().map(observed_service).ok_or_else(|| {
        AwsError::recoverable(
            SERVICE,
            "CreateService",
            "NoService",
            "App Runner returned no service",
        )
    })?;
    seen.tags = tags;
    seen.last_operation = Some(Operation {
        id: out.operation_id().to_string(),
        kind: "CREATE_SERVICE".into(),
        status: "IN_PROGRESS".into(),
    });
    Ok(seen)
}

/// One `UpdateService` with the whole configuration (App Runner deploys it).
pub async fn update_service(
    aws: &AwsCtx,
    arn: &str,
    want: &DesiredService,
) -> Result<Attempt, AwsError> {
    let request = aws
        .apprunner
        .update_service()
        .service_arn(arn)
        .source_configuration(source(want, "UpdateService")?)
        .instance_configuration(instance(want))
        .health_check_configuration(health(want))
        .network_configuration(network(want))
        .auto_scaling_configuration_arn(&want.scaling_arn)
        .observability_configuration(observability())
        .send();
    match aws.call(request).await {
        Ok(out) => Ok(Attempt::Done(Some(out.operation_id().to_string()))),
        Err(e) => attempt(e, false),
    }
}

/// Resumes a paused service.
pub async fn resume_service(aws: &AwsCtx, arn: &str) -> Result<Attempt, AwsError> {
    match aws.call(aws.apprunner.resume_service().service_arn(arn).send()).await {
        Ok(out) => Ok(Attempt::Done(out.operation_id().map(str::to_string))),
        Err(e) => attempt(e, false),
    }
}

/// Starts deleting the service.
pub async fn delete_service(aws: &AwsCtx, arn: &str) -> Result<Attempt, AwsError> {
    match aws.call(aws.apprunner.delete_service().service_arn(arn).send()).await {
        Ok(out) => Ok(Attempt::Done(Some(out.operation_id().to_string()))),
        Err(e) => attempt(e, false),
    }
}

// ---------------------------------------------------------------------------------------
// VPC connectors

fn observed_connector(c: &VpcConnector) -> ObservedConnector {
    ObservedConnector {
        arn: c.vpc_connector_arn().unwrap_or_default().to_string(),
        name: c.vpc_connector_name().unwrap_or_default().to_string(),
        subnets: c.subnets().to_vec(),
        security_groups: c.security_groups().to_vec(),
        status: c.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        tags: TagSet::new(),
    }
}

/// The account's active connectors (without tags).
pub async fn connectors(aws: &AwsCtx) -> Result<Vec<ObservedConnector>, AwsError> {
    let pages = aws
        .pages(aws.apprunner.list_vpc_connectors().max_results(100).into_paginator().send())
        .await?;
    Ok(pages
        .iter()
        .flat_map(|p| p.vpc_connectors())
        .map(observed_connector)
        .filter(|c| c.status == "ACTIVE")
        .collect())
}

/// Deletes a connector; [`Attempt::InUse`] while a service (or a service deleted a
/// moment ago) still holds it.
pub async fn delete_connector(aws: &AwsCtx, arn: &str) -> Result<Attempt, AwsError> {
    match aws.call(aws.apprunner.delete_vpc_connector().vpc_connector_arn(arn).send()).await {
        Ok(_) => Ok(Attempt::Done(None)),
        Err(e) => attempt(e, true),
    }
}

impl Resource for DesiredConnector {
    type Seen = ObservedConnector;
    type Change = ConnectorChange;

    fn label(&self) -> String {
        format!("App Runner VPC connector {}", self.name)
    }

    async fn observe(
        &self,
        aws: &AwsCtx,
        uid: &str,
    ) -> Result<Presence<ObservedConnector>, AwsError> {
        let found = connectors(aws).await?.into_iter().find(|c| c.name == self.name);
        let found = match found {
            Some(mut c) => {
                c.tags = tags_of(aws, &c.arn).await?;
                Some(c)
            }
            None => None,
        };
        Ok(Presence::of(found, |c| c.tags.is_owned_by(uid)))
    }

    /// Creates the connector with its tags. Not idempotent: a create whose answer was
    /// lost leaves a tagged connector that the next observation finds (App Runner
    /// refuses a second active connector of the same name).
    async fn create(&self, aws: &AwsCtx) -> Result<ObservedConnector, AwsError> {
        let out = aws
            .call(
                aws.apprunner
                    .create_vpc_connector()
                    .vpc_connector_name(&self.name)
                    .set_subnets(Some(self.subnets.clone()))
                    .set_security_groups(Some(self.security_groups.clone()))
                    .set_tags(Some(sdk_tags(&self.tags)))
                    .send(),
            )
            .await?;
        let mut seen = out.vpc_connector().map(observed_connector).ok_or_else(|| {
            AwsError::recoverable(
                SERVICE,
                "CreateVpcConnector",
                "NoConnector",
                "App Runner returned no connector",
            )
        })?;
        seen.tags = self.tags.clone();
        Ok(seen)
    }

    fn changes(&self, seen: &ObservedConnector) -> Vec<ConnectorChange> {
        connector_changes(self, seen)
    }

    async fn update(
        &self,
        aws: &AwsCtx,
        seen: &ObservedConnector,
        changes: &[ConnectorChange],
    ) -> Result<(), AwsError> {
        for change in changes {
            match change {
                ConnectorChange::Tag(tags) => tag(aws, &seen.arn, tags).await?,
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Auto scaling configurations

fn observed_scaling(a: &aws_sdk_apprunner::types::AutoScalingConfiguration) -> ObservedScaling {
    ObservedScaling {
        arn: a.auto_scaling_configuration_arn().unwrap_or_default().to_string(),
        name: a.auto_scaling_configuration_name().unwrap_or_default().to_string(),
        revision: a.auto_scaling_configuration_revision().unwrap_or_default(),
        latest: a.latest().unwrap_or(false),
        status: a.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        max_concurrency: a.max_concurrency(),
        min_size: a.min_size(),
        max_size: a.max_size(),
        in_use: a.has_associated_service().unwrap_or(false),
    }
}

/// The active revisions of configuration `name`, oldest first, without their settings
/// (`ListAutoScalingConfigurations` gives only the summaries).
pub async fn scaling_revisions(aws: &AwsCtx, name: &str) -> Result<Vec<ObservedScaling>, AwsError> {
    let pages = aws
        .pages(
            aws.apprunner
                .list_auto_scaling_configurations()
                .auto_scaling_configuration_name(name)
                .latest_only(false)
                .into_paginator()
                .send(),
        )
        .await?;
    let mut out: Vec<ObservedScaling> = pages
        .iter()
        .flat_map(|p| p.auto_scaling_configuration_summary_list())
        .filter(|s| s.auto_scaling_configuration_name() == Some(name))
        .map(|s| ObservedScaling {
            arn: s.auto_scaling_configuration_arn().unwrap_or_default().to_string(),
            name: name.to_string(),
            revision: s.auto_scaling_configuration_revision(),
            latest: false,
            status: s.status().map(|st| st.as_str().to_string()).unwrap_or_default(),
            in_use: s.has_associated_service().unwrap_or(false),
            ..ObservedScaling::default()
        })
        .filter(|s| s.status == "ACTIVE")
        .collect();
    out.sort_by_key(|s| s.revision);
    if let Some(last) = out.last_mut() {
        last.latest = true;
    }
    Ok(out)
}

/// One revision with its settings; `None` when it is gone.
pub async fn describe_scaling(
    aws: &AwsCtx,
    arn: &str,
) -> Result<Option<ObservedScaling>, AwsError> {
    let out = aws
        .find(
            aws.apprunner
                .describe_auto_scaling_configuration()
                .auto_scaling_configuration_arn(arn)
                .send(),
        )
        .await?;
    Ok(out
        .and_then(|o| o.auto_scaling_configuration().map(observed_scaling))
        .filter(|s| s.status == "ACTIVE"))
}

/// Creates a new revision of the configuration (the first, or one more).
pub async fn create_scaling(
    aws: &AwsCtx,
    want: &DesiredScaling,
) -> Result<ObservedScaling, AwsError> {
    let out = aws
        .call(
            aws.apprunner
                .create_auto_scaling_configuration()
                .auto_scaling_configuration_name(&want.name)
                .max_concurrency(want.max_concurrency)
                .min_size(want.min_size)
                .max_size(want.max_size)
                .set_tags(Some(sdk_tags(&want.tags)))
                .send(),
        )
        .await?;
    out.auto_scaling_configuration().map(observed_scaling).ok_or_else(|| {
        AwsError::recoverable(
            SERVICE,
            "CreateAutoScalingConfiguration",
            "NoConfiguration",
            "App Runner returned no auto scaling configuration",
        )
    })
}

/// Deletes one revision; [`Attempt::InUse`] while a service uses it.
pub async fn delete_scaling(aws: &AwsCtx, arn: &str) -> Result<Attempt, AwsError> {
    match aws
        .call(
            aws.apprunner
                .delete_auto_scaling_configuration()
                .auto_scaling_configuration_arn(arn)
                .send(),
        )
        .await
    {
        Ok(_) => Ok(Attempt::Done(None)),
        Err(e) => attempt(e, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str, message: &str) -> AwsError {
        let mut e = AwsError::recoverable(SERVICE, "CreateService", code, message);
        e.class = super::super::error::class_of(code, &["ServiceQuotaExceededException"]);
        e.not_found = code == "ResourceNotFoundException";
        refine(&mut e);
        e
    }

    #[test]
    fn a_new_customer_refusal_is_terminal_other_refusals_retry() {
        let e = err(
            "InvalidRequestException",
            "AWS App Runner is no longer available to new customers: CreateService is not allowed",
        );
        assert!(e.is_terminal());
        assert!(!err("InvalidRequestException", "Error in assuming access role").is_terminal());
    }

    #[test]
    fn busy_and_in_use_are_waits_not_errors() {
        let busy = err("InvalidStateException", "an operation is in progress");
        assert_eq!(
            attempt(busy, false).expect("wait"),
            Attempt::Busy("an operation is in progress".into())
        );
        let in_use = err("InvalidRequestException", "connector is in use");
        assert!(matches!(attempt(in_use, true), Ok(Attempt::InUse(_))));
        let gone = err("ResourceNotFoundException", "gone");
        assert_eq!(attempt(gone, true).expect("gone"), Attempt::Gone);
        let refused = err(
            "InvalidRequestException",
            "AWS App Runner is no longer available to new customers",
        );
        assert!(attempt(refused, true).is_err(), "terminal refusals stay errors");
        let other = err("InvalidRequestException", "bad port");
        assert!(attempt(other, false).is_err());
    }
}

// ---------------------------------------------------------------------------------------
// Custom domains (component `siteRecords`)

/// A custom domain of an App Runner service, with the target to point it at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedCustomDomain {
    /// The service's domain the site's record points at.
    pub dns_target: String,
    /// `CREATING`, `PENDING_CERTIFICATE_DNS_VALIDATION`, `BINDING_CERTIFICATE`, `ACTIVE`,
    /// `CREATE_FAILED`, `DELETING`, `DELETE_FAILED`.
    pub status: String,
    /// (name, type, value) of the records App Runner's certificate validation checks;
    /// they appear only after `CREATING`.
    pub validation_records: Vec<(String, String, String)>,
}

/// The custom domain `domain` of the service, or `None` (also when the service is gone).
pub async fn custom_domain(
    aws: &AwsCtx,
    service_arn: &str,
    domain: &str,
) -> Result<Option<ObservedCustomDomain>, AwsError> {
    let mut token: Option<String> = None;
    loop {
        let Some(out) = aws
            .find(
                aws.apprunner
                    .describe_custom_domains()
                    .service_arn(service_arn)
                    .set_next_token(token.clone())
                    .send(),
            )
            .await?
        else {
            return Ok(None);
        };
        if let Some(d) =
            out.custom_domains().iter().find(|d| d.domain_name().eq_ignore_ascii_case(domain))
        {
            return Ok(Some(ObservedCustomDomain {
                dns_target: out.dns_target().to_string(),
                status: d.status().as_str().to_string(),
                validation_records: d
                    .certificate_validation_records()
                    .iter()
                    .filter_map(|r| {
                        Some((
                            r.name()?.to_string(),
                            r.r#type()?.to_string(),
                            r.value()?.to_string(),
                        ))
                    })
                    .collect(),
            }));
        }
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(None),
        }
    }
}

/// Associates `domain` with the service (no `www.` twin: REDCap has one name).
pub async fn associate_custom_domain(
    aws: &AwsCtx,
    service_arn: &str,
    domain: &str,
) -> Result<(), AwsError> {
    aws.run(
        aws.apprunner
            .associate_custom_domain()
            .service_arn(service_arn)
            .domain_name(domain)
            .enable_www_subdomain(false)
            .send(),
    )
    .await
}

/// Removes the association (`Ok(false)`: there was none).
pub async fn disassociate_custom_domain(
    aws: &AwsCtx,
    service_arn: &str,
    domain: &str,
) -> Result<bool, AwsError> {
    aws.delete(
        aws.apprunner
            .disassociate_custom_domain()
            .service_arn(service_arn)
            .domain_name(domain)
            .send(),
    )
    .await
}
