//! ECS on Fargate: the cluster, the task definition and the service (step: plan; pure).
//!
//! Task definitions are immutable revisions: the operator registers one only when the
//! canonical content (image by digest, size, roles, environment, secrets, logging)
//! changes, and records which revision it made and the content's hash in the service's
//! tags. A pass then needs one `DescribeServices` to know whether anything changed, and a
//! service pointed at another revision by hand is pointed back. The desired count is sent
//! only when the service is created: afterwards it belongs to autoscaling.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::plan::Describe;
use crate::plan::tags::TagSet;

use super::CONTAINER;
use super::container::Container;

/// Service tag: the revision (`family:N`) the operator registered for it.
pub const TASK_DEFINITION_TAG: &str = "redcap.dev/task-definition";
/// Service tag: the hash of that revision's content.
pub const DEFINITION_HASH_TAG: &str = "redcap.dev/task-definition-hash";
/// Service tag: the REDCap version its revision runs (a version change never rolls back).
pub const VERSION_TAG: &str = "redcap.dev/redcap-version";

/// The cluster: Container Insights on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredCluster {
    pub name: String,
    pub tags: TagSet,
}

/// What `DescribeClusters` says about it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedCluster {
    pub arn: String,
    pub status: String,
    pub container_insights: bool,
    pub tags: TagSet,
}

/// One correction of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterChange {
    ContainerInsights,
    Tag(TagSet),
}

impl Describe for ClusterChange {
    fn describe(&self) -> String {
        match self {
            ClusterChange::ContainerInsights => "Container Insights".into(),
            ClusterChange::Tag(_) => "tags".into(),
        }
    }
}

pub fn cluster_changes(want: &DesiredCluster, seen: &ObservedCluster) -> Vec<ClusterChange> {
    let mut changes = Vec::new();
    if !seen.container_insights {
        changes.push(ClusterChange::ContainerInsights);
    }
    let missing = want.tags.missing_from(&seen.tags);
    if !missing.is_empty() {
        changes.push(ClusterChange::Tag(missing));
    }
    changes
}

/// One revision of the task definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredTaskDefinition {
    pub family: String,
    pub cpu: String,
    pub memory: String,
    pub execution_role_arn: String,
    pub task_role_arn: String,
    pub container: Container,
    pub log_group: String,
    pub region: String,
    /// The REDCap version the image holds.
    pub version: String,
    pub tags: TagSet,
}

impl DesiredTaskDefinition {
    /// sha256 of the canonical content (everything that shapes the running task; not
    /// the tags): equal specs give equal hashes, so nothing is registered in a loop.
    pub fn hash(&self) -> String {
        let canonical = json!({
            "family": self.family,
            "cpu": self.cpu,
            "memory": self.memory,
            "executionRoleArn": self.execution_role_arn,
            "taskRoleArn": self.task_role_arn,
            "container": CONTAINER,
            "image": self.container.image,
            "port": self.container.port,
            "environment": self.container.environment,
            "secrets": self.container.secrets,
            "logGroup": self.log_group,
            "region": self.region,
        });
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// The service as it should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredService {
    pub cluster: String,
    pub name: String,
    /// Tasks at creation only (autoscaling owns the count afterwards).
    pub initial_count: i32,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub target_group_arn: String,
    pub container_port: i32,
    pub grace_seconds: i32,
    pub tags: TagSet,
}

/// One deployment of the service, as `DescribeServices` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedDeployment {
    pub id: String,
    /// `PRIMARY` (the newest), `ACTIVE` (still running, being replaced), `INACTIVE`.
    pub status: String,
    pub task_definition: String,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED`.
    pub rollout_state: String,
    pub rollout_reason: Option<String>,
    pub desired: i32,
    pub running: i32,
    pub failed_tasks: i32,
    pub created_at: Option<i64>,
}

/// What `DescribeServices` says about the service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedService {
    pub arn: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    pub task_definition: String,
    pub desired: i32,
    pub running: i32,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub target_groups: Vec<String>,
    pub grace_seconds: Option<i32>,
    pub circuit_breaker: bool,
    pub rollback: bool,
    pub deployments: Vec<ObservedDeployment>,
    pub tags: TagSet,
}

impl ObservedService {
    /// The newest deployment.
    pub fn primary(&self) -> Option<&ObservedDeployment> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }
}

/// One correction of the service (all of them go into one `UpdateService`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceChange {
    /// Deploy this revision (a new one, or back to the operator's after a hand edit).
    TaskDefinition {
        arn: String,
        rollback: bool,
    },
    Network,
    LoadBalancer,
    GracePeriod,
    CircuitBreaker {
        rollback: bool,
    },
    Tag(TagSet),
}

impl Describe for ServiceChange {
    fn describe(&self) -> String {
        match self {
            ServiceChange::TaskDefinition { .. } => "task definition".into(),
            ServiceChange::Network => "network".into(),
            ServiceChange::LoadBalancer => "load balancer".into(),
            ServiceChange::GracePeriod => "health-check grace period".into(),
            ServiceChange::CircuitBreaker { .. } => "deployment circuit breaker".into(),
            ServiceChange::Tag(_) => "tags".into(),
        }
    }
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

/// What the service needs, given the revision the task should run (`revision`: its ARN,
/// `hash` and REDCap `version`). `rollback` is false when the version changes: a
/// deployment that fails after REDCap upgraded the database must never roll back onto
/// the old image, which the upgraded database refuses.
pub fn service_changes(
    want: &DesiredService,
    seen: &ObservedService,
    revision: &str,
    hash: &str,
    version: &str,
) -> Vec<ServiceChange> {
    let mut changes = Vec::new();
    let same_version = seen.tags.get(VERSION_TAG) == Some(version);
    if seen.task_definition != revision {
        changes.push(ServiceChange::TaskDefinition {
            arn: revision.to_string(),
            rollback: same_version,
        });
    } else if !seen.circuit_breaker || seen.rollback != same_version {
        changes.push(ServiceChange::CircuitBreaker { rollback: same_version });
    }
    if sorted(&seen.subnets) != sorted(&want.subnets)
        || sorted(&seen.security_groups) != sorted(&want.security_groups)
    {
        changes.push(ServiceChange::Network);
    }
    if seen.target_groups != [want.target_group_arn.clone()] {
        changes.push(ServiceChange::LoadBalancer);
    }
    if seen.grace_seconds != Some(want.grace_seconds) {
        changes.push(ServiceChange::GracePeriod);
    }
    let mut tags = want.tags.clone();
    tags.insert(TASK_DEFINITION_TAG, family_revision(revision));
    tags.insert(DEFINITION_HASH_TAG, hash);
    tags.insert(VERSION_TAG, version);
    let missing = tags.missing_from(&seen.tags);
    if !missing.is_empty() {
        changes.push(ServiceChange::Tag(missing));
    }
    changes
}

/// `family:N` of a task definition ARN.
pub fn family_revision(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_string()
}

/// The revision to run: the one the service's tags record when its content is still
/// the desired one, else `None` (a new one must be registered).
pub fn recorded_revision<'a>(seen: &'a ObservedService, hash: &str) -> Option<&'a str> {
    (seen.tags.get(DEFINITION_HASH_TAG) == Some(hash))
        .then(|| seen.tags.get(TASK_DEFINITION_TAG))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn container(image: &str) -> Container {
        Container {
            image: image.into(),
            port: 8080,
            environment: BTreeMap::from([("A".to_string(), "1".to_string())]),
            secrets: BTreeMap::from([("S".to_string(), "arn:s".to_string())]),
        }
    }

    fn td(image: &str) -> DesiredTaskDefinition {
        DesiredTaskDefinition {
            family: "rc-x".into(),
            cpu: "1024".into(),
            memory: "2048".into(),
            execution_role_arn: "arn:exec".into(),
            task_role_arn: "arn:task".into(),
            container: container(image),
            log_group: "/redcap/rc-x/redcap".into(),
            region: "eu-west-1".into(),
            version: "15.8.0".into(),
            tags: TagSet::new(),
        }
    }

    fn want() -> DesiredService {
        DesiredService {
            cluster: "rc-x".into(),
            name: "redcap".into(),
            initial_count: 1,
            subnets: vec!["s-1".into(), "s-2".into()],
            security_groups: vec!["sg-app".into()],
            target_group_arn: "arn:tg".into(),
            container_port: 8080,
            grace_seconds: 1800,
            tags: [("o", "1")].into_iter().collect(),
        }
    }

    fn in_sync(want: &DesiredService, revision: &str, hash: &str) -> ObservedService {
        let mut tags = want.tags.clone();
        tags.insert(TASK_DEFINITION_TAG, family_revision(revision));
        tags.insert(DEFINITION_HASH_TAG, hash);
        tags.insert(VERSION_TAG, "15.8.0");
        ObservedService {
            arn: "arn:svc".into(),
            status: "ACTIVE".into(),
            task_definition: revision.into(),
            subnets: vec!["s-2".into(), "s-1".into()],
            security_groups: want.security_groups.clone(),
            target_groups: vec![want.target_group_arn.clone()],
            grace_seconds: Some(1800),
            circuit_breaker: true,
            rollback: true,
            tags,
            ..ObservedService::default()
        }
    }

    #[test]
    fn the_hash_follows_the_content_not_the_order() {
        assert_eq!(td("r@sha256:1").hash(), td("r@sha256:1").hash());
        assert_ne!(td("r@sha256:1").hash(), td("r@sha256:2").hash());
    }

    #[test]
    fn a_service_in_sync_needs_nothing_and_its_desired_count_is_never_sent() {
        let rev = "arn:aws:ecs:eu-west-1:1:task-definition/rc-x:3";
        let seen = in_sync(&want(), rev, "h");
        assert_eq!(service_changes(&want(), &seen, rev, "h", "15.8.0"), vec![]);
        assert_eq!(recorded_revision(&seen, "h"), Some("rc-x:3"));
        assert_eq!(recorded_revision(&seen, "other"), None);
    }

    #[test]
    fn a_new_version_deploys_without_rollback_a_rebuild_of_the_same_with() {
        let rev = "arn:aws:ecs:eu-west-1:1:task-definition/rc-x:3";
        let seen = in_sync(&want(), rev, "h");
        let next = "arn:aws:ecs:eu-west-1:1:task-definition/rc-x:4";
        assert!(
            service_changes(&want(), &seen, next, "h2", "16.0.0")
                .contains(&ServiceChange::TaskDefinition { arn: next.into(), rollback: false })
        );
        assert!(
            service_changes(&want(), &seen, next, "h2", "15.8.0")
                .contains(&ServiceChange::TaskDefinition { arn: next.into(), rollback: true })
        );
    }

    #[test]
    fn hand_edits_are_named() {
        let rev = "arn:aws:ecs:eu-west-1:1:task-definition/rc-x:3";
        let mut seen = in_sync(&want(), rev, "h");
        seen.task_definition = "arn:aws:ecs:eu-west-1:1:task-definition/rc-x:9".into();
        seen.grace_seconds = Some(60);
        seen.security_groups = vec!["sg-other".into()];
        let what: Vec<String> = service_changes(&want(), &seen, rev, "h", "15.8.0")
            .iter()
            .map(Describe::describe)
            .collect();
        assert_eq!(what, ["task definition", "network", "health-check grace period"]);
    }
}
