//! Desired state of the network (component `network`; step: plan, pure) and the outputs
//! it hands to later components.
//!
//! The network is one CloudFormation stack, `<environment_id>-network`, rendered by
//! `plan::cfn::network`. Its outputs travel to the components that live in the VPC
//! (database, compute, maintenance server) as a [`NetworkOutputs`] value through the
//! component walk, never by re-reading AWS. Changes a live network cannot take (another
//! CIDR, fewer zones) are refused here, before any call, so no network is replaced.

use std::collections::BTreeMap;

use crate::api::{ComponentName, RedcapEnvironmentSpec, Tag};
use crate::plan::cfn::network::{NetworkTemplateInput, network_template, outputs};
use crate::plan::cfn::{DesiredStack, MAX_TEMPLATE_BODY};
use crate::plan::cidr::{Ipv4Cidr, SubnetLayout};

use super::{EnvIdentity, MAX_TAGS, PlanError};

/// Tags the template itself puts on a resource (`Name`, `redcap.dev/subnet-tier`).
const TEMPLATE_TAGS: usize = 2;

/// The network the spec asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredNetwork {
    pub stack: DesiredStack,
    pub layout: SubnetLayout,
    pub log_group: String,
}

/// What the network stack provides to later components (parsed from its outputs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkOutputs {
    pub vpc_id: String,
    pub vpc_cidr: String,
    /// Zone names, in the order of the subnet lists below.
    pub availability_zones: Vec<String>,
    pub public_subnets: Vec<String>,
    pub private_subnets: Vec<String>,
    pub isolated_subnets: Vec<String>,
    /// The environment's outbound addresses (customers allow-list them).
    pub nat_egress_ips: Vec<String>,
    pub security_groups: SecurityGroups,
    pub flow_log_group: String,
}

/// Security group ids of the network stack.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityGroups {
    pub load_balancer: String,
    pub application: String,
    pub database: String,
    pub rotation: String,
    pub maintenance: String,
    pub endpoints: String,
    /// The image builds' group; empty while a stack made by an older operator has not
    /// been updated yet.
    pub build: String,
}

/// `<environment_id>-network`.
pub fn stack_name(environment_id: &str) -> String {
    format!("{environment_id}-network")
}

/// Prefix of every CloudWatch log group the environment owns: `/redcap/<environment_id>/`.
/// The KMS key policy lets CloudWatch Logs use the key for groups under it.
pub fn log_group_prefix(environment_id: &str) -> String {
    format!("/redcap/{environment_id}/")
}

/// The flow-log group: `/redcap/<environment_id>/vpc-flow-logs`.
pub fn flow_log_group(environment_id: &str) -> String {
    format!("{}vpc-flow-logs", log_group_prefix(environment_id))
}

fn invalid(field: &'static str, message: impl Into<String>) -> PlanError {
    PlanError::InvalidSpec { field, message: message.into() }
}

/// Renders the network stack for the spec. `salt` is [`crate::plan::cfn::attempt_salt`];
/// `permissions_boundary` the boundary policy's name (with path) for the stack's role.
pub fn desired_network(
    id: &EnvIdentity,
    spec: &RedcapEnvironmentSpec,
    extra_tags: &[Tag],
    kms_key_arn: &str,
    salt: &str,
    permissions_boundary: &str,
) -> Result<DesiredNetwork, PlanError> {
    let vpc: Ipv4Cidr =
        spec.network.cidr.parse().map_err(|e| invalid("spec.network.cidr", format!("{e}")))?;
    let layout = SubnetLayout::new(vpc, spec.network.availability_zones).map_err(|e| {
        let field = match e {
            crate::plan::cidr::CidrError::Zones(_) => "spec.network.availabilityZones",
            _ => "spec.network.cidr",
        };
        invalid(field, e.to_string())
    })?;
    if !crate::api::LOG_RETENTION_DAYS.contains(&spec.logs.retention_days) {
        return Err(invalid(
            "spec.logs.retentionDays",
            format!("{} is not a retention CloudWatch Logs accepts", spec.logs.retention_days),
        ));
    }
    let environment_id = id.environment_id();
    let log_group = flow_log_group(&environment_id);
    let template = network_template(&NetworkTemplateInput {
        environment_id: &environment_id,
        description: format!(
            "REDCap network of {}/{} (managed by redcap-operator; changes made here are overwritten)",
            id.namespace, id.name
        ),
        layout: &layout,
        nat: spec.network.nat_gateways,
        retention_days: spec.logs.retention_days,
        kms_key_arn,
        log_group_name: &log_group,
        app_port: spec.compute.port,
        permissions_boundary,
    });
    let tags = id.ownership_tags(ComponentName::Network, extra_tags)?;
    // CloudFormation copies the stack tags onto every resource, where the template adds
    // up to two of its own (`Name`, the subnet tier); EC2 allows 50 per resource.
    if tags.len() + TEMPLATE_TAGS > MAX_TAGS {
        return Err(invalid(
            "spec.aws.tags",
            format!(
                "the network's resources take at most {} tags from spec.aws.tags",
                MAX_TAGS - TEMPLATE_TAGS - (tags.len() - extra_tags.len())
            ),
        ));
    }
    let stack = DesiredStack::new(stack_name(&environment_id), template, tags, salt);
    if stack.body.len() > MAX_TEMPLATE_BODY {
        return Err(invalid(
            "spec.network",
            format!(
                "the rendered template is {} bytes, over CloudFormation's {MAX_TEMPLATE_BODY}",
                stack.body.len()
            ),
        ));
    }
    Ok(DesiredNetwork { stack, layout, log_group })
}

/// Refuses changes the deployed network cannot take without being replaced: another VPC
/// range (the schema already makes the field immutable; this catches a re-created object
/// or an edited stack) and fewer availability zones (their subnets may hold the database
/// and the application's network interfaces). More zones are fine: subnets are added.
pub fn check_live_change(
    want: &DesiredNetwork,
    deployed: &NetworkOutputs,
) -> Result<(), PlanError> {
    let want_cidr = want.layout.vpc.to_string();
    if !deployed.vpc_cidr.is_empty() && deployed.vpc_cidr != want_cidr {
        return Err(invalid(
            "spec.network.cidr",
            format!(
                "the VPC {} uses {} and cannot change to {want_cidr}; the network is left as it is (create a new environment for another range)",
                deployed.vpc_id, deployed.vpc_cidr
            ),
        ));
    }
    let have = deployed.public_subnets.len() as u32;
    if have > want.layout.zones {
        return Err(invalid(
            "spec.network.availabilityZones",
            format!(
                "the VPC {} spans {have} availability zones and cannot shrink to {}; the network is left as it is",
                deployed.vpc_id, want.layout.zones
            ),
        ));
    }
    Ok(())
}

impl NetworkOutputs {
    /// Parses the outputs of a deployed network stack; names the first missing output.
    pub fn from_stack_outputs(out: &BTreeMap<String, String>) -> Result<Self, String> {
        let one = |key: &str| -> Result<String, String> {
            out.get(key)
                .filter(|v| !v.is_empty())
                .cloned()
                .ok_or_else(|| format!("the network stack has no {key} output"))
        };
        let list = |key: &str| -> Result<Vec<String>, String> {
            Ok(one(key)?
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect())
        };
        Ok(Self {
            vpc_id: one(outputs::VPC_ID)?,
            vpc_cidr: one(outputs::VPC_CIDR)?,
            availability_zones: list(outputs::AVAILABILITY_ZONES)?,
            public_subnets: list(outputs::PUBLIC_SUBNETS)?,
            private_subnets: list(outputs::PRIVATE_SUBNETS)?,
            isolated_subnets: list(outputs::ISOLATED_SUBNETS)?,
            nat_egress_ips: list(outputs::NAT_EGRESS_IPS)?,
            security_groups: SecurityGroups {
                load_balancer: one(outputs::LOAD_BALANCER_SG)?,
                application: one(outputs::APPLICATION_SG)?,
                database: one(outputs::DATABASE_SG)?,
                rotation: one(outputs::ROTATION_SG)?,
                maintenance: one(outputs::MAINTENANCE_SG)?,
                endpoints: one(outputs::ENDPOINT_SG)?,
                build: out.get(outputs::BUILD_SG).cloned().unwrap_or_default(),
            },
            flow_log_group: one(outputs::FLOW_LOG_GROUP)?,
        })
    }
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
