//! Desired state of the service that runs REDCap (component `compute`; step: plan; pure).
//!
//! Three kinds (`spec.compute.kind`): ECS on Fargate behind the environment's own load
//! balancer (`fargate`, `alb`, `scaling`), ECS Express Mode (`express`), App Runner
//! (`apprunner`). Every kind runs the same container with the same runtime contract
//! (`container`, the contract of `containers/redcap/README.md`) under the same roles
//! (`roles`). Whether REDCap answers is decided from what AWS reports (`readiness`).

pub mod alb;
pub mod apprunner;
pub mod container;
pub mod express;
pub mod fargate;
pub mod readiness;
pub mod roles;
pub mod scaling;

use crate::api::{ComputeKind, ComputeSpec, RedcapEnvironmentSpec};
use crate::plan::email::site_domain;
use crate::plan::naming::fit;
use crate::plan::network::log_group_prefix;

/// The ECS cluster of an environment: `<environment_id>`.
pub fn cluster_name(environment_id: &str) -> String {
    environment_id.to_string()
}

/// The ECS service of kind `EcsFargate`.
pub const FARGATE_SERVICE: &str = "redcap";
/// The ECS service Express Mode runs (in the same cluster).
pub const EXPRESS_SERVICE: &str = "redcap-express";
/// The container's name in every task definition (Express requires `Main`).
pub const CONTAINER: &str = "Main";

/// The task definition family: `<environment_id>`.
pub fn task_family(environment_id: &str) -> String {
    environment_id.to_string()
}

/// The container log group: `/redcap/<environment_id>/redcap`.
pub fn log_group_name(environment_id: &str) -> String {
    format!("{}redcap", log_group_prefix(environment_id))
}

/// The load balancer of kind `EcsFargate` (32 characters at most).
pub fn load_balancer_name(environment_id: &str) -> String {
    fit(environment_id, "", 32)
}

/// Its target group (32 characters at most, unique per account and region). The
/// container port is part of the name: a target group's port cannot change, so a new port
/// is a new target group and the service moves to it.
pub fn target_group_name(environment_id: &str, port: u16) -> String {
    fit(environment_id, &format!("-{port}"), 32)
}

/// The App Runner service (40 characters at most).
pub fn apprunner_service_name(environment_id: &str) -> String {
    fit(environment_id, "", 40)
}

/// An App Runner VPC connector (40 characters at most). A connector cannot change, so
/// its name carries `network_hash`, a hash of its subnets and security groups: another
/// network is another connector.
pub fn vpc_connector_name(environment_id: &str, network_hash: &str) -> String {
    fit(environment_id, &format!("-{network_hash}"), 40)
}

/// The App Runner auto scaling configuration (32 characters at most).
pub fn autoscaling_configuration_name(environment_id: &str) -> String {
    fit(environment_id, "", 32)
}

/// How long ECS ignores failing health checks of a new task: the image may wait 300 s
/// for the database and up to 900 s for another task's install or upgrade lock before
/// Apache starts, and a first install takes minutes more.
pub const HEALTH_CHECK_GRACE_SECONDS: i32 = 1800;

/// The URL users open: `https://<domain>` when the environment has a domain, else the
/// compute service's own HTTPS URL (when known).
pub fn site_url(spec: &RedcapEnvironmentSpec, service_url: Option<&str>) -> Option<String> {
    match &spec.domain {
        Some(domain) => Some(format!("https://{}", site_domain(domain))),
        None => service_url.map(str::to_string),
    }
}

/// The kind's word for messages.
pub fn kind_name(kind: ComputeKind) -> &'static str {
    match kind {
        ComputeKind::EcsFargate => "EcsFargate",
        ComputeKind::EcsExpress => "EcsExpress",
        ComputeKind::AppRunner => "AppRunner",
    }
}

/// Task size in the string form ECS takes.
pub fn ecs_size(compute: &ComputeSpec) -> (String, String) {
    (compute.cpu.to_string(), compute.memory.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_aws_limits_and_keep_the_uid_hash() {
        let id = "rc-a-very-long-namespace-and-name-1234abcd";
        assert!(load_balancer_name(id).len() <= 32);
        assert!(target_group_name(id, 8080).len() <= 32);
        assert!(load_balancer_name(id).ends_with("1234abcd"));
        assert!(target_group_name(id, 8080).ends_with("1234abcd-8080"));
        assert_eq!(log_group_name("rc-x"), "/redcap/rc-x/redcap");
        assert_eq!(load_balancer_name("rc-short-1"), "rc-short-1");
        assert!(apprunner_service_name(id).len() <= 40);
        assert!(vpc_connector_name(id, "0123abcd").len() <= 40);
        assert!(autoscaling_configuration_name(id).len() <= 32);
        assert!(autoscaling_configuration_name(id).ends_with("1234abcd"));
    }
}
