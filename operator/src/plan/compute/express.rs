//! ECS Express Mode (kind `EcsExpress`): the Express service's content, the decision to
//! deploy it, and its readiness (step: plan; pure).
//!
//! `CreateExpressGatewayService` has no client token and Express rewrites what it reads
//! back (it adds its own security group, returns scaling defaults, lists the old and the
//! new configuration side by side during a rollout). So the operator:
//!
//! - always sends every value it cares about (health check path, port, scaling metric and
//!   target, size, roles, network, logging), never Express's defaults;
//! - records the hash of the content it deployed, and the service revision that deployment
//!   made, in two service tags: a pass whose hash matches needs no `Update`, and a
//!   configuration the operator deployed itself is never taken for drift (a read-back
//!   Express normalises differently cannot loop deployments);
//! - compares a read-back only member by member where a member is present, with Express's
//!   own additions allowed (its security group), so that a hand edit (a newer revision
//!   someone else made) is deployed over, and nothing else is.
//!
//! Subnets: Express puts its load balancer in the subnets of the service, and the load
//! balancer is internet-facing only in public subnets (internal, with a `PRIVATE` ingress
//! path, in private ones). REDCap's users reach the AWS-provided URL from the internet, so
//! the service runs in the **public** subnets. The tasks are still reachable only through
//! that load balancer: the application security group admits the app port from the
//! environment's own load-balancer group only, and the group Express adds admits it from
//! Express's load balancer only. The database admits the application group, which the
//! service carries.

use std::collections::BTreeMap;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::plan::Describe;
use crate::plan::tags::TagSet;

use super::container::Container;
use super::fargate::{ObservedService, family_revision};
use super::readiness::{self, Readiness, TargetHealth};

/// Service tag: the hash of the content the operator last deployed.
pub const CONTENT_HASH_TAG: &str = "redcap.dev/content-hash";
/// Service tag: the service revision that content became (`...:service-revision/...`).
pub const SERVICE_REVISION_TAG: &str = "redcap.dev/service-revision";
/// awslogs stream prefix: streams are `redcap/Main/<task id>`, as on kind `EcsFargate`.
pub const LOG_STREAM_PREFIX: &str = "redcap";
/// The one scaling metric Express takes that the spec has a target for (`cpuTarget`).
pub const SCALING_METRIC: &str = "AVERAGE_CPU";
/// The managed load balancer's idle timeout: the longest a request may run. Express has
/// no parameter for it and its load balancer starts at ELB's 60 s, which cuts off long
/// REDCap exports, reports and uploads; 4000 s is ELB's maximum, as on kind `EcsFargate`
/// (its default) and in the seed. Apache's keep-alive is set above it.
pub const IDLE_TIMEOUT_SECONDS: u32 = 4000;
/// The load balancer attribute that holds it.
pub const IDLE_TIMEOUT_ATTRIBUTE: &str = "idle_timeout.timeout_seconds";

/// `arn:<partition>:ecs:<region>:<account>:service/<cluster>/<name>`: the Express service
/// (an ECS service) has a deterministic ARN, so it is observed before it is ever created.
pub fn service_arn(
    partition: &str,
    region: &str,
    account: &str,
    cluster: &str,
    name: &str,
) -> String {
    format!("arn:{partition}:ecs:{region}:{account}:service/{cluster}/{name}")
}

/// The account of an ARN (`arn:aws:ecs:<region>:<account>:...`).
pub fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The URL of an ingress endpoint.
pub fn endpoint_url(endpoint: &str) -> String {
    format!("https://{endpoint}")
}

/// Express's scaling target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpressScaling {
    pub min: i32,
    pub max: i32,
    /// `AVERAGE_CPU`, `AVERAGE_MEMORY` or `REQUEST_COUNT_PER_TARGET`.
    pub metric: String,
    pub target: i32,
}

/// The Express service as it should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredExpress {
    pub cluster: String,
    pub name: String,
    /// Only sent on create (`UpdateExpressGatewayService` cannot change it).
    pub infrastructure_role_arn: String,
    pub execution_role_arn: String,
    pub task_role_arn: String,
    /// Express names it `Main` itself.
    pub container: Container,
    pub log_group: String,
    pub cpu: String,
    pub memory: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub health_check_path: String,
    pub scaling: ExpressScaling,
    /// The component's ownership tags.
    pub tags: TagSet,
}

impl DesiredExpress {
    /// sha256 of everything an update sends (not the tags, not the infrastructure role):
    /// equal specs give equal hashes, so nothing is deployed in a loop.
    pub fn hash(&self) -> String {
        let mut subnets = self.subnets.clone();
        subnets.sort();
        let mut groups = self.security_groups.clone();
        groups.sort();
        let canonical = json!({
            "cluster": self.cluster,
            "name": self.name,
            "executionRoleArn": self.execution_role_arn,
            "taskRoleArn": self.task_role_arn,
            "image": self.container.image,
            "port": self.container.port,
            "environment": self.container.environment,
            "secrets": self.container.secrets,
            "logGroup": self.log_group,
            "logStreamPrefix": LOG_STREAM_PREFIX,
            "cpu": self.cpu,
            "memory": self.memory,
            "subnets": subnets,
            "securityGroups": groups,
            "healthCheckPath": self.health_check_path,
            "scaling": [self.scaling.min, self.scaling.max, self.scaling.metric, self.scaling.target],
        });
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }

    /// The tags of the service once it runs this content as `revision` (`None`: the
    /// revision is not known yet).
    pub fn tags_for(&self, hash: &str, revision: Option<&str>) -> TagSet {
        let mut tags = self.tags.clone();
        tags.insert(CONTENT_HASH_TAG, hash);
        if let Some(r) = revision {
            tags.insert(SERVICE_REVISION_TAG, r);
        }
        tags
    }
}

/// One of the service's `activeConfigurations`, as far as Express returned it (`None`:
/// the member was not in the read-back, which is never taken for a difference).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedConfiguration {
    pub service_revision_arn: String,
    pub task_definition_arn: Option<String>,
    /// Seconds since the epoch.
    pub created_at: Option<i64>,
    pub execution_role_arn: Option<String>,
    pub task_role_arn: Option<String>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub subnets: Option<Vec<String>>,
    pub security_groups: Option<Vec<String>>,
    pub health_check_path: Option<String>,
    pub image: Option<String>,
    pub port: Option<i32>,
    pub log_group: Option<String>,
    pub log_stream_prefix: Option<String>,
    pub environment: Option<BTreeMap<String, String>>,
    pub secrets: Option<BTreeMap<String, String>>,
    pub scaling: Option<ObservedScaling>,
    /// The public ingress endpoint (else the first), a host name.
    pub endpoint: Option<String>,
}

/// A configuration's scaling target (Express fills in its defaults).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedScaling {
    pub min: Option<i32>,
    pub max: Option<i32>,
    pub metric: Option<String>,
    pub target: Option<i32>,
}

/// What `DescribeExpressGatewayService` says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedExpress {
    pub arn: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    pub status_reason: Option<String>,
    pub configurations: Vec<ObservedConfiguration>,
    pub tags: TagSet,
}

impl ObservedExpress {
    /// The newest active configuration: what Express deploys or serves last. During a
    /// rollout the old one is still listed, so never the first one blindly.
    pub fn newest(&self) -> Option<&ObservedConfiguration> {
        // `max_by_key` keeps the last of equals: the later one listed wins a tie.
        self.configurations.iter().max_by_key(|c| c.created_at.unwrap_or(i64::MIN))
    }

    /// The configuration of `revision`, if still active.
    pub fn configuration(&self, revision: &str) -> Option<&ObservedConfiguration> {
        self.configurations.iter().find(|c| c.service_revision_arn == revision)
    }

    /// The service revision the tags record for content `hash` (`None`: the service
    /// runs other content, or the revision is not recorded yet).
    pub fn recorded_revision(&self, hash: &str) -> Option<&str> {
        (self.tags.get(CONTENT_HASH_TAG) == Some(hash))
            .then(|| self.tags.get(SERVICE_REVISION_TAG))
            .flatten()
    }

    /// The ingress endpoint users reach: the one of `revision`'s configuration, else the
    /// newest one's.
    pub fn endpoint(&self, revision: Option<&str>) -> Option<&str> {
        revision
            .and_then(|r| self.configuration(r))
            .and_then(|c| c.endpoint.as_deref())
            .or_else(|| self.newest().and_then(|c| c.endpoint.as_deref()))
    }
}

/// A member of a configuration that differs from the desired content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpressDrift {
    Image,
    Port,
    Size,
    Roles,
    Environment,
    Secrets,
    Logging,
    HealthCheckPath,
    Network,
    Scaling,
}

impl Describe for ExpressDrift {
    fn describe(&self) -> String {
        match self {
            ExpressDrift::Image => "image",
            ExpressDrift::Port => "container port",
            ExpressDrift::Size => "cpu/memory",
            ExpressDrift::Roles => "roles",
            ExpressDrift::Environment => "environment",
            ExpressDrift::Secrets => "secrets",
            ExpressDrift::Logging => "logging",
            ExpressDrift::HealthCheckPath => "health check path",
            ExpressDrift::Network => "network",
            ExpressDrift::Scaling => "scaling",
        }
        .into()
    }
}

/// CPU units or MiB from ECS's spellings (`2048`, `2 vCPU`, `4 GB`, `4096 MiB`).
fn units(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let (number, scale) = if let Some(n) = t.strip_suffix("vcpu") {
        (n, 1024.0)
    } else if let Some(n) = t.strip_suffix("gb") {
        (n, 1024.0)
    } else if let Some(n) = t.strip_suffix("mib").or_else(|| t.strip_suffix("mb")) {
        (n, 1.0)
    } else {
        (t.as_str(), 1.0)
    };
    let value: f64 = number.trim().parse().ok()?;
    Some((value * scale).round() as u64)
}

fn same_units(want: &str, seen: Option<&String>) -> bool {
    seen.is_none_or(|s| units(s).is_some_and(|s| Some(s) == units(want)))
}

fn same<T: PartialEq>(want: &T, seen: Option<&T>) -> bool {
    seen.is_none_or(|s| s == want)
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

/// What differs between the desired content and a configuration Express returned.
/// Members Express did not return are not compared; the security groups may hold more
/// than the operator's (Express adds its own).
pub fn configuration_drift(
    want: &DesiredExpress,
    seen: &ObservedConfiguration,
) -> Vec<ExpressDrift> {
    let mut out = Vec::new();
    if !same(&want.container.image, seen.image.as_ref()) {
        out.push(ExpressDrift::Image);
    }
    if !same(&i32::from(want.container.port), seen.port.as_ref()) {
        out.push(ExpressDrift::Port);
    }
    if !same_units(&want.cpu, seen.cpu.as_ref()) || !same_units(&want.memory, seen.memory.as_ref())
    {
        out.push(ExpressDrift::Size);
    }
    if !same(&want.execution_role_arn, seen.execution_role_arn.as_ref())
        || !same(&want.task_role_arn, seen.task_role_arn.as_ref())
    {
        out.push(ExpressDrift::Roles);
    }
    if !same(&want.container.environment, seen.environment.as_ref()) {
        out.push(ExpressDrift::Environment);
    }
    if !same(&want.container.secrets, seen.secrets.as_ref()) {
        out.push(ExpressDrift::Secrets);
    }
    if !same(&want.log_group, seen.log_group.as_ref())
        || !same(&LOG_STREAM_PREFIX.to_string(), seen.log_stream_prefix.as_ref())
    {
        out.push(ExpressDrift::Logging);
    }
    if !same(&want.health_check_path, seen.health_check_path.as_ref()) {
        out.push(ExpressDrift::HealthCheckPath);
    }
    let subnets_differ = seen.subnets.as_ref().is_some_and(|s| sorted(s) != sorted(&want.subnets));
    let groups_missing = seen
        .security_groups
        .as_ref()
        .is_some_and(|s| want.security_groups.iter().any(|g| !s.contains(g)));
    if subnets_differ || groups_missing {
        out.push(ExpressDrift::Network);
    }
    if let Some(s) = &seen.scaling
        && (!same(&want.scaling.min, s.min.as_ref())
            || !same(&want.scaling.max, s.max.as_ref())
            || !same(&want.scaling.metric, s.metric.as_ref())
            || !same(&want.scaling.target, s.target.as_ref()))
    {
        out.push(ExpressDrift::Scaling);
    }
    out
}

/// Why the service is updated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpressUpdate {
    /// New content (a new image, a setting): a deployment.
    Deploy,
    /// Someone deployed other content over the operator's: deployed again.
    Revert(Vec<ExpressDrift>),
}

/// What one pass does to an existing, `ACTIVE` Express service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpressPlan {
    /// One `UpdateExpressGatewayService` with every value.
    pub update: Option<ExpressUpdate>,
    /// Tags to add: ownership tags that are missing, and the hash and revision of content
    /// that already runs when the tags do not say so yet (an update or create whose
    /// answer was lost, an adopted service).
    pub tags: TagSet,
    /// The service revision of the desired content, when known (its deployment decides
    /// readiness).
    pub revision: Option<String>,
}

/// Decides what an existing `ACTIVE` service needs to run `want` (content hash `hash`).
///
/// - The tags record this hash: the recorded revision is the operator's. When it is
///   still the newest configuration, nothing is compared (the operator's own deployment
///   is never drift); when a newer configuration differs, it is someone else's and is
///   reverted (the caller holds this back while the operator's deployment has failed and
///   Express rolled it back).
/// - Otherwise the newest configuration either already holds the desired content (it is
///   recorded with tags only) or a deployment is needed.
pub fn plan(want: &DesiredExpress, hash: &str, seen: &ObservedExpress) -> ExpressPlan {
    let mut tags = want.tags.missing_from(&seen.tags);
    let newest = seen.newest();
    let recorded = seen.recorded_revision(hash).map(str::to_string);
    if let Some(revision) = recorded {
        let Some(n) = newest.filter(|n| n.service_revision_arn != revision) else {
            return ExpressPlan { update: None, tags, revision: Some(revision) };
        };
        let drift = configuration_drift(want, n);
        if drift.is_empty() {
            // A newer revision of the same content (a forced redeployment): it is the one
            // that runs now.
            tags.insert(SERVICE_REVISION_TAG, &n.service_revision_arn);
            return ExpressPlan {
                update: None,
                tags,
                revision: Some(n.service_revision_arn.clone()),
            };
        }
        return ExpressPlan {
            update: Some(ExpressUpdate::Revert(drift)),
            tags,
            revision: Some(revision),
        };
    }
    let ours = seen.tags.get(CONTENT_HASH_TAG) == Some(hash);
    match newest {
        // The hash tag without a revision: the operator's create (it sends the hash, the
        // revision is only known from the answer), whatever the read-back looks like.
        // Otherwise content that already runs (an update whose tags were lost).
        Some(n) if ours || configuration_drift(want, n).is_empty() => {
            if !ours {
                tags.insert(CONTENT_HASH_TAG, hash);
            }
            tags.insert(SERVICE_REVISION_TAG, &n.service_revision_arn);
            ExpressPlan { update: None, tags, revision: Some(n.service_revision_arn.clone()) }
        }
        // The hash is ours but Express lists no configuration yet: wait, never deploy
        // the same content twice.
        None if ours => ExpressPlan { update: None, tags, revision: None },
        _ => ExpressPlan { update: Some(ExpressUpdate::Deploy), tags, revision: None },
    }
}

/// One service deployment (`ListServiceDeployments`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedServiceDeployment {
    pub arn: String,
    /// `PENDING`, `IN_PROGRESS`, `SUCCESSFUL`, `STOPPED`, `STOP_REQUESTED`,
    /// `ROLLBACK_REQUESTED`, `ROLLBACK_IN_PROGRESS`, `ROLLBACK_SUCCESSFUL`,
    /// `ROLLBACK_FAILED`.
    pub status: String,
    pub reason: Option<String>,
    pub target_revision: Option<String>,
}

impl ObservedServiceDeployment {
    /// Why the deployment failed, if it did: rolled back (Express always rolls back), or
    /// stopped for another reason than a newer deployment.
    pub fn failure(&self) -> Option<String> {
        let reason = self.reason.clone().filter(|r| !r.is_empty());
        match self.status.as_str() {
            s if s.starts_with("ROLLBACK") => {
                Some(reason.unwrap_or_else(|| "the deployment was rolled back".into()))
            }
            "STOPPED" | "STOP_REQUESTED" | "STOPPING"
                if !reason.as_deref().is_some_and(|r| r.contains("new service deployment")) =>
            {
                Some(reason.unwrap_or_else(|| "the deployment was stopped".into()))
            }
            _ => None,
        }
    }
}

/// The readiness of the Express service's underlying ECS service for `task_definition`
/// (the desired content's). ECS's deployments decide (`readiness::ecs_service`); once
/// Express has rolled a failed deployment back, ECS lists only the old one, so the
/// desired revision's service deployment (`deployment`, read only when ECS alone does
/// not say Ready) keeps the failure visible.
pub fn readiness(
    seen: &ObservedService,
    task_definition: &str,
    targets: TargetHealth,
    deployment: Option<&ObservedServiceDeployment>,
) -> Readiness {
    let ecs = readiness::ecs_service(seen, task_definition, targets);
    if ecs == Readiness::Ready || matches!(ecs, Readiness::Failed(_)) {
        return ecs;
    }
    match deployment.and_then(ObservedServiceDeployment::failure) {
        Some(reason) => Readiness::Failed(format!("the deployment failed: {reason}")),
        None => ecs,
    }
}

/// `family:N` of the task definition Express registered, for status.
pub fn task_definition_label(arn: &str) -> String {
    family_revision(arn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::compute::fargate::ObservedDeployment;

    const REV1: &str = "arn:aws:ecs:us-east-1:1:service-revision/rc-x/redcap-express/1";
    const REV2: &str = "arn:aws:ecs:us-east-1:1:service-revision/rc-x/redcap-express/2";
    const TD1: &str = "arn:aws:ecs:us-east-1:1:task-definition/redcap-express:1";
    const TD2: &str = "arn:aws:ecs:us-east-1:1:task-definition/redcap-express:2";

    fn want(image: &str) -> DesiredExpress {
        DesiredExpress {
            cluster: "rc-x".into(),
            name: "redcap-express".into(),
            infrastructure_role_arn: "arn:infra".into(),
            execution_role_arn: "arn:exec".into(),
            task_role_arn: "arn:task".into(),
            container: Container {
                image: image.into(),
                port: 8080,
                environment: BTreeMap::from([("A".to_string(), "1".to_string())]),
                secrets: BTreeMap::from([("S".to_string(), "arn:s".to_string())]),
            },
            log_group: "/redcap/rc-x/redcap".into(),
            cpu: "2048".into(),
            memory: "4096".into(),
            subnets: vec!["subnet-a".into(), "subnet-b".into()],
            security_groups: vec!["sg-app".into()],
            health_check_path: "/healthcheck".into(),
            scaling: ExpressScaling { min: 1, max: 2, metric: SCALING_METRIC.into(), target: 70 },
            tags: [("redcap.dev/uid", "u")].into_iter().collect(),
        }
    }

    /// The configuration Express returns for `want`, with its own additions.
    fn read_back(want: &DesiredExpress, revision: &str, at: i64) -> ObservedConfiguration {
        ObservedConfiguration {
            service_revision_arn: revision.into(),
            task_definition_arn: Some(TD1.into()),
            created_at: Some(at),
            execution_role_arn: Some(want.execution_role_arn.clone()),
            task_role_arn: Some(want.task_role_arn.clone()),
            cpu: Some("2 vCPU".into()),
            memory: Some("4 GB".into()),
            // Reordered, and Express's own group added.
            subnets: Some(vec!["subnet-b".into(), "subnet-a".into()]),
            security_groups: Some(vec!["sg-app".into(), "sg-express-managed".into()]),
            health_check_path: Some(want.health_check_path.clone()),
            image: Some(want.container.image.clone()),
            port: Some(8080),
            log_group: Some(want.log_group.clone()),
            log_stream_prefix: Some(LOG_STREAM_PREFIX.into()),
            environment: Some(want.container.environment.clone()),
            secrets: Some(want.container.secrets.clone()),
            scaling: Some(ObservedScaling {
                min: Some(1),
                max: Some(2),
                metric: Some(SCALING_METRIC.into()),
                target: Some(70),
            }),
            endpoint: Some("redcap-express-abc.ecs.us-east-1.on.aws".into()),
        }
    }

    fn service(configs: Vec<ObservedConfiguration>, tags: TagSet) -> ObservedExpress {
        ObservedExpress {
            arn: "arn:aws:ecs:us-east-1:1:service/rc-x/redcap-express".into(),
            status: "ACTIVE".into(),
            status_reason: None,
            configurations: configs,
            tags,
        }
    }

    #[test]
    fn the_hash_follows_the_content_not_the_order_or_the_tags() {
        let a = want("r@sha256:1");
        let mut b = want("r@sha256:1");
        b.subnets.reverse();
        b.tags.insert("extra", "1");
        b.infrastructure_role_arn = "arn:other".into();
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), want("r@sha256:2").hash());
        let mut c = want("r@sha256:1");
        c.scaling.target = 60;
        assert_ne!(a.hash(), c.hash());
    }

    #[test]
    fn express_normalisations_are_not_drift() {
        let w = want("r@sha256:1");
        assert_eq!(configuration_drift(&w, &read_back(&w, REV1, 1)), vec![]);
        // A read-back without the members Express did not return is not drift either.
        let bare = ObservedConfiguration {
            service_revision_arn: REV1.into(),
            image: Some(w.container.image.clone()),
            ..ObservedConfiguration::default()
        };
        assert_eq!(configuration_drift(&w, &bare), vec![]);
    }

    #[test]
    fn hand_edits_are_named() {
        let w = want("r@sha256:1");
        let mut seen = read_back(&w, REV1, 1);
        seen.image = Some("r@sha256:other".into());
        seen.health_check_path = Some("/ping".into());
        seen.security_groups = Some(vec!["sg-express-managed".into()]);
        seen.scaling.as_mut().unwrap().target = Some(60);
        seen.cpu = Some("1024".into());
        let what: Vec<String> =
            configuration_drift(&w, &seen).iter().map(Describe::describe).collect();
        assert_eq!(what, ["image", "cpu/memory", "health check path", "network", "scaling"]);
    }

    #[test]
    fn a_service_on_the_recorded_content_needs_nothing() {
        let w = want("r@sha256:1");
        let hash = w.hash();
        let seen = service(vec![read_back(&w, REV1, 1)], w.tags_for(&hash, Some(REV1)));
        assert_eq!(
            plan(&w, &hash, &seen),
            ExpressPlan { update: None, tags: TagSet::new(), revision: Some(REV1.into()) }
        );
    }

    #[test]
    fn the_operators_own_revision_is_never_drift_even_if_read_back_differently() {
        let w = want("r@sha256:1");
        let hash = w.hash();
        let mut odd = read_back(&w, REV1, 1);
        odd.environment = Some(BTreeMap::new());
        let seen = service(vec![odd], w.tags_for(&hash, Some(REV1)));
        assert_eq!(plan(&w, &hash, &seen).update, None);
    }

    #[test]
    fn new_content_is_one_deployment() {
        let old = want("r@sha256:1");
        let seen = service(vec![read_back(&old, REV1, 1)], old.tags_for(&old.hash(), Some(REV1)));
        let new = want("r@sha256:2");
        let p = plan(&new, &new.hash(), &seen);
        assert_eq!(p.update, Some(ExpressUpdate::Deploy));
        assert_eq!(p.revision, None);
    }

    #[test]
    fn during_a_rollout_the_newest_configuration_counts_not_the_first() {
        let old = want("r@sha256:1");
        let new = want("r@sha256:2");
        let hash = new.hash();
        // Express lists the configuration still serving first.
        let seen = service(
            vec![read_back(&old, REV1, 1), read_back(&new, REV2, 2)],
            new.tags_for(&hash, Some(REV2)),
        );
        assert_eq!(seen.newest().map(|c| c.service_revision_arn.as_str()), Some(REV2));
        assert_eq!(plan(&new, &hash, &seen).update, None);
        // Lost tags after the update: the running content is recorded, not deployed again.
        let lost = service(
            vec![read_back(&old, REV1, 1), read_back(&new, REV2, 2)],
            old.tags_for(&old.hash(), Some(REV1)),
        );
        let p = plan(&new, &hash, &lost);
        assert_eq!(p.update, None);
        assert_eq!(p.revision.as_deref(), Some(REV2));
        assert_eq!(p.tags.get(CONTENT_HASH_TAG), Some(hash.as_str()));
        assert_eq!(p.tags.get(SERVICE_REVISION_TAG), Some(REV2));
    }

    #[test]
    fn someone_elses_newer_revision_is_reverted() {
        let w = want("r@sha256:1");
        let hash = w.hash();
        let mut theirs = read_back(&w, REV2, 2);
        theirs.image = Some("nginx".into());
        let seen = service(vec![read_back(&w, REV1, 1), theirs], w.tags_for(&hash, Some(REV1)));
        let p = plan(&w, &hash, &seen);
        assert_eq!(p.update, Some(ExpressUpdate::Revert(vec![ExpressDrift::Image])));
        assert_eq!(p.revision.as_deref(), Some(REV1));
    }

    #[test]
    fn a_created_service_without_its_revision_tag_is_recorded_and_missing_tags_added() {
        let w = want("r@sha256:1");
        let hash = w.hash();
        let mut tags = TagSet::new();
        tags.insert(CONTENT_HASH_TAG, &hash);
        let seen = service(vec![read_back(&w, REV1, 1)], tags);
        let p = plan(&w, &hash, &seen);
        assert_eq!(p.update, None);
        assert_eq!(p.tags.get(SERVICE_REVISION_TAG), Some(REV1));
        assert_eq!(p.tags.get("redcap.dev/uid"), Some("u"));
        assert_eq!(p.tags.get(CONTENT_HASH_TAG), None, "already there");
        // Even when the created configuration reads back differently.
        let mut odd = read_back(&w, REV1, 1);
        odd.environment = Some(BTreeMap::new());
        let created = service(vec![odd], [(CONTENT_HASH_TAG, hash.as_str())].into_iter().collect());
        let p = plan(&w, &hash, &created);
        assert_eq!((p.update, p.revision.as_deref()), (None, Some(REV1)));
        // No configuration listed yet: wait rather than deploy the same content again.
        let empty = service(vec![], [(CONTENT_HASH_TAG, hash.as_str())].into_iter().collect());
        assert_eq!(plan(&w, &hash, &empty).update, None);
    }

    #[test]
    fn ids_and_urls() {
        let arn = service_arn("aws", "us-east-1", "123", "rc-x", "redcap-express");
        assert_eq!(arn, "arn:aws:ecs:us-east-1:123:service/rc-x/redcap-express");
        assert_eq!(account_of(&arn), Some("123"));
        assert_eq!(endpoint_url("a.on.aws"), "https://a.on.aws");
        assert_eq!(units("2 vCPU"), Some(2048));
        assert_eq!(units("512"), Some(512));
        assert_eq!(units("0.25 vCPU"), Some(256));
        let w = want("r@sha256:1");
        let seen = service(vec![read_back(&w, REV1, 1)], TagSet::new());
        assert_eq!(seen.endpoint(Some(REV1)), Some("redcap-express-abc.ecs.us-east-1.on.aws"));
        assert_eq!(seen.endpoint(Some("gone")), Some("redcap-express-abc.ecs.us-east-1.on.aws"));
    }

    fn ecs(deployments: Vec<ObservedDeployment>) -> ObservedService {
        ObservedService { status: "ACTIVE".into(), deployments, ..ObservedService::default() }
    }

    fn dep(td: &str, status: &str, rollout: &str, reason: &str) -> ObservedDeployment {
        ObservedDeployment {
            id: "ecs-svc/1".into(),
            status: status.into(),
            task_definition: td.into(),
            rollout_state: rollout.into(),
            rollout_reason: Some(reason.into()),
            desired: 1,
            running: 1,
            ..ObservedDeployment::default()
        }
    }

    #[test]
    fn readiness_follows_ecs_and_a_finished_rollback_stays_a_failure() {
        let healthy = TargetHealth { healthy: 1, ..TargetHealth::default() };
        let done = ecs(vec![dep(TD2, "PRIMARY", "COMPLETED", "")]);
        assert_eq!(readiness(&done, TD2, healthy, None), Readiness::Ready);
        // Rolled back and finished: ECS shows only the old deployment, completed.
        let back =
            ecs(vec![dep(TD1, "PRIMARY", "COMPLETED", "ECS deployment ecs-svc/9 completed.")]);
        assert!(matches!(readiness(&back, TD2, healthy, None), Readiness::Progressing(_)));
        let rolled = ObservedServiceDeployment {
            arn: "sd".into(),
            status: "ROLLBACK_SUCCESSFUL".into(),
            reason: Some("Service deployment rolled back because the circuit breaker threshold was exceeded.".into()),
            target_revision: Some(REV2.into()),
        };
        let Readiness::Failed(m) = readiness(&back, TD2, healthy, Some(&rolled)) else {
            panic!("failed")
        };
        assert!(m.contains("circuit breaker"), "{m}");
        // Superseded by a newer deployment: not a failure.
        let superseded = ObservedServiceDeployment {
            status: "STOPPED".into(),
            reason: Some(
                "Service deployment stopped because a new service deployment started.".into(),
            ),
            ..rolled.clone()
        };
        assert!(matches!(
            readiness(&back, TD2, healthy, Some(&superseded)),
            Readiness::Progressing(_)
        ));
        let in_progress =
            ObservedServiceDeployment { status: "IN_PROGRESS".into(), reason: None, ..rolled };
        assert_eq!(in_progress.failure(), None);
    }
}
