//! App Runner: the service of kind `AppRunner`, its VPC connector and its auto scaling
//! configuration (step: plan; pure).
//!
//! App Runner has no idempotency token and runs one operation at a time, so the
//! operator observes before it writes, finds its service by name and UID tag after a
//! crash, and writes nothing while an operation runs. What the service runs is compared
//! field by field with what the spec asks for, after normalising what App Runner reports
//! back in its own units and defaults (`"2 vCPU"` for `"2048"`, a TCP health check when
//! none was sent), so an unchanged spec makes no `UpdateService`. The hash of the content
//! is kept in a service tag: it names the content a failed deployment deployed, so that
//! content is never deployed again, even when the status that recorded the failure is
//! lost.
//!
//! Decisions:
//! - The image is pulled from the environment's private ECR repository by digest, with
//!   `AutoDeploymentsEnabled` explicitly false (App Runner's default for same-account ECR
//!   is true); a new image is an `UpdateService`.
//! - Health check: HTTP on `/healthcheck` with App Runner's longest tolerance (checks
//!   every 20 s, 20 failures in a row before an instance is replaced): REDCap's install
//!   and upgrades run before Apache answers, and App Runner has no grace period.
//! - Egress through a VPC connector in the private subnets with the application security
//!   group (the database is private); ingress stays public (App Runner's URL).
//! - Observability off, sent explicitly: App Runner's observability is X-Ray tracing,
//!   and the image emits no traces (no X-Ray or OpenTelemetry SDK in REDCap or the
//!   image), so it would cost an observability configuration and show nothing. Logs go
//!   to App Runner's own log groups regardless.
//! - The VPC connector is immutable: its name carries a hash of its subnets and security
//!   groups, so another network is a new connector; the old one is deleted once unused.
//! - The auto scaling configuration's name is fixed; a change creates a new revision,
//!   the service moves to it, and unused older revisions are deleted.

use std::collections::BTreeMap;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::plan::Describe;
use crate::plan::tags::TagSet;

use super::readiness::ObservedAppRunner;

/// Service tag: the hash of the content the operator last deployed to it.
pub const CONTENT_HASH_TAG: &str = "redcap.dev/apprunner-content";

/// App Runner's status of a service while an operation runs.
pub const OPERATION_IN_PROGRESS: &str = "OPERATION_IN_PROGRESS";

/// The health check App Runner runs against every instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthCheck {
    /// `HTTP` or `TCP`.
    pub protocol: String,
    /// Only meaningful for `HTTP`.
    pub path: String,
    pub interval: i32,
    pub timeout: i32,
    pub healthy_threshold: i32,
    pub unhealthy_threshold: i32,
}

/// What the operator sends: the image's `/healthcheck`, which answers from Apache alone
/// once start-up has finished, tolerating App Runner's maximum of 20 failed checks 20 s
/// apart (400 s) before an instance counts as unhealthy.
pub fn health_check() -> HealthCheck {
    HealthCheck {
        protocol: "HTTP".into(),
        path: "/healthcheck".into(),
        interval: 20,
        timeout: 5,
        healthy_threshold: 1,
        unhealthy_threshold: 20,
    }
}

/// App Runner's defaults for members a read-back leaves out (the API model's defaults).
fn health_check_defaults() -> HealthCheck {
    HealthCheck {
        protocol: "TCP".into(),
        path: "/".into(),
        interval: 5,
        timeout: 2,
        healthy_threshold: 1,
        unhealthy_threshold: 5,
    }
}

/// A health check as read back, with App Runner's defaults for what it left out.
pub fn observed_health_check(
    protocol: Option<&str>,
    path: Option<&str>,
    interval: Option<i32>,
    timeout: Option<i32>,
    healthy: Option<i32>,
    unhealthy: Option<i32>,
) -> HealthCheck {
    let d = health_check_defaults();
    HealthCheck {
        protocol: protocol.map_or(d.protocol, str::to_ascii_uppercase),
        path: path.map_or(d.path, str::to_string),
        interval: interval.unwrap_or(d.interval),
        timeout: timeout.unwrap_or(d.timeout),
        healthy_threshold: healthy.unwrap_or(d.healthy_threshold),
        unhealthy_threshold: unhealthy.unwrap_or(d.unhealthy_threshold),
    }
}

impl HealthCheck {
    fn same_as(&self, other: &HealthCheck) -> bool {
        // A TCP check has no path: App Runner may report any.
        let path_matters = self.protocol == "HTTP" || other.protocol == "HTTP";
        self.protocol == other.protocol
            && (!path_matters || self.path == other.path)
            && self.interval == other.interval
            && self.timeout == other.timeout
            && self.healthy_threshold == other.healthy_threshold
            && self.unhealthy_threshold == other.unhealthy_threshold
    }
}

/// CPU units from App Runner's read-back: `"1024"` or `"1 vCPU"` (`"0.25 vCPU"` = 256).
pub fn cpu_units(text: &str) -> Option<u32> {
    let t = text.trim();
    match t.strip_suffix("vCPU") {
        Some(v) => scaled(v.trim(), 1024.0),
        None => t.parse().ok(),
    }
}

/// Memory in MiB from App Runner's read-back: `"2048"` or `"2 GB"` (`"0.5 GB"` = 512).
pub fn memory_mib(text: &str) -> Option<u32> {
    let t = text.trim();
    match t.strip_suffix("GB") {
        Some(v) => scaled(v.trim(), 1024.0),
        None => t.parse().ok(),
    }
}

fn scaled(number: &str, factor: f64) -> Option<u32> {
    let n: f64 = number.parse().ok()?;
    let v = (n * factor).round();
    (v >= 0.0 && v <= f64::from(u32::MAX)).then_some(v as u32)
}

// ---------------------------------------------------------------------------------------
// VPC connector

/// The VPC connector: immutable, so its name holds a hash of what it connects to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredConnector {
    pub name: String,
    /// Sorted.
    pub subnets: Vec<String>,
    /// Sorted.
    pub security_groups: Vec<String>,
    pub tags: TagSet,
}

/// The connector of `environment_id` for these subnets and security groups.
pub fn desired_connector(
    environment_id: &str,
    subnets: &[String],
    security_groups: &[String],
    tags: TagSet,
) -> DesiredConnector {
    let subnets = sorted(subnets);
    let security_groups = sorted(security_groups);
    let digest = Sha256::digest(json!([subnets, security_groups]).to_string().as_bytes());
    let hash = &hex::encode(digest)[..CONNECTOR_HASH_LEN];
    DesiredConnector {
        name: super::vpc_connector_name(environment_id, hash),
        subnets,
        security_groups,
        tags,
    }
}

/// Hex digits of the network hash in a connector's name.
pub const CONNECTOR_HASH_LEN: usize = 8;

/// Whether `name` is one of this environment's connectors (any network hash).
pub fn is_environment_connector(environment_id: &str, name: &str) -> bool {
    let sample = super::vpc_connector_name(environment_id, &"0".repeat(CONNECTOR_HASH_LEN));
    let prefix = &sample[..sample.len() - CONNECTOR_HASH_LEN];
    name.len() == sample.len()
        && name.starts_with(prefix)
        && name[prefix.len()..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// What `ListVpcConnectors` says about one (active) connector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedConnector {
    pub arn: String,
    pub name: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    /// `ACTIVE` or `INACTIVE`.
    pub status: String,
    pub tags: TagSet,
}

/// A correction of a connector: only its tags can change (the rest is its name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectorChange {
    Tag(TagSet),
}

impl Describe for ConnectorChange {
    fn describe(&self) -> String {
        match self {
            ConnectorChange::Tag(_) => "tags".into(),
        }
    }
}

pub fn connector_changes(
    want: &DesiredConnector,
    seen: &ObservedConnector,
) -> Vec<ConnectorChange> {
    let missing = want.tags.missing_from(&seen.tags);
    if missing.is_empty() { Vec::new() } else { vec![ConnectorChange::Tag(missing)] }
}

// ---------------------------------------------------------------------------------------
// Auto scaling configuration

/// The auto scaling configuration: requests per instance and the instance bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredScaling {
    pub name: String,
    pub max_concurrency: i32,
    pub min_size: i32,
    pub max_size: i32,
    pub tags: TagSet,
}

/// One revision, as `DescribeAutoScalingConfiguration` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedScaling {
    pub arn: String,
    pub name: String,
    pub revision: i32,
    pub latest: bool,
    /// `ACTIVE` or `INACTIVE` (deleted).
    pub status: String,
    pub max_concurrency: Option<i32>,
    pub min_size: Option<i32>,
    pub max_size: Option<i32>,
    pub in_use: bool,
}

impl DesiredScaling {
    /// Whether revision `seen` is active with exactly these settings.
    pub fn matches(&self, seen: &ObservedScaling) -> bool {
        seen.status == "ACTIVE"
            && seen.name == self.name
            && seen.max_concurrency == Some(self.max_concurrency)
            && seen.min_size == Some(self.min_size)
            && seen.max_size == Some(self.max_size)
    }
}

/// App Runner's quota of revisions per configuration name.
pub const MAX_SCALING_REVISIONS: usize = 5;

// ---------------------------------------------------------------------------------------
// Service

/// The service as it should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredService {
    pub name: String,
    /// `<repository>@sha256:...`.
    pub image: String,
    pub port: u16,
    pub environment: BTreeMap<String, String>,
    /// Environment variable -> secret ARN (App Runner's `RuntimeEnvironmentSecrets`).
    pub secrets: BTreeMap<String, String>,
    pub access_role_arn: String,
    pub instance_role_arn: String,
    /// CPU units (1024 = 1 vCPU) and MiB, as App Runner accepts them.
    pub cpu: u32,
    pub memory: u32,
    pub health_check: HealthCheck,
    /// The environment's key (encryption at create; App Runner cannot change it later).
    pub kms_key_arn: String,
    /// Filled in once the connector and the configuration exist (not part of the hash:
    /// their content is).
    pub connector_arn: String,
    pub scaling_arn: String,
    pub tags: TagSet,
}

/// Everything of kind `AppRunner`, for the content hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredAppRunner {
    pub service: DesiredService,
    pub connector: DesiredConnector,
    pub scaling: DesiredScaling,
}

impl DesiredAppRunner {
    /// sha256 of the canonical content (everything that shapes the running service;
    /// not the tags, not ARNs App Runner makes up): equal specs give equal hashes.
    pub fn hash(&self) -> String {
        let s = &self.service;
        let h = &s.health_check;
        let canonical = json!({
            "image": s.image,
            "port": s.port,
            "environment": s.environment,
            "secrets": s.secrets,
            "accessRole": s.access_role_arn,
            "instanceRole": s.instance_role_arn,
            "cpu": s.cpu,
            "memory": s.memory,
            "healthCheck": [h.protocol, h.path, h.interval, h.timeout, h.healthy_threshold, h.unhealthy_threshold],
            "autoDeployments": false,
            "public": true,
            "observability": false,
            "egress": {"subnets": self.connector.subnets, "securityGroups": self.connector.security_groups},
            "scaling": [self.scaling.max_concurrency, self.scaling.min_size, self.scaling.max_size],
        });
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// The newest operation on a service (`ListOperations`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Operation {
    pub id: String,
    /// `CREATE_SERVICE`, `UPDATE_SERVICE`, `START_DEPLOYMENT`, `DELETE_SERVICE`, ...
    pub kind: String,
    /// `PENDING`, `IN_PROGRESS`, `SUCCEEDED`, `FAILED`, `ROLLBACK_IN_PROGRESS`,
    /// `ROLLBACK_FAILED`, `ROLLBACK_SUCCEEDED`.
    pub status: String,
}

impl Operation {
    /// Whether it ended without the change in place.
    pub fn failed(&self) -> bool {
        self.status == "FAILED" || self.status.starts_with("ROLLBACK")
    }

    /// Whether it still runs.
    pub fn running(&self) -> bool {
        matches!(self.status.as_str(), "PENDING" | "IN_PROGRESS" | "ROLLBACK_IN_PROGRESS")
    }
}

/// What `DescribeService`, `ListTagsForResource` and `ListOperations` say, normalised.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedService {
    pub arn: String,
    pub name: String,
    /// `<id>.<region>.awsapprunner.com`.
    pub url: Option<String>,
    /// `CREATE_FAILED`, `RUNNING`, `DELETED`, `DELETE_FAILED`, `PAUSED`,
    /// `OPERATION_IN_PROGRESS`.
    pub status: String,
    pub image: String,
    /// `ECR` for a private repository.
    pub image_repository_type: String,
    pub port: Option<String>,
    pub environment: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    /// Read as false when App Runner leaves it out.
    pub auto_deployments: bool,
    pub access_role_arn: Option<String>,
    pub instance_role_arn: Option<String>,
    /// Normalised to CPU units and MiB.
    pub cpu: Option<u32>,
    pub memory: Option<u32>,
    pub health_check: HealthCheck,
    /// `DEFAULT` or `VPC`.
    pub egress_type: String,
    pub connector_arn: Option<String>,
    pub public: bool,
    pub observability: bool,
    pub scaling_arn: Option<String>,
    pub kms_key_arn: Option<String>,
    pub tags: TagSet,
    pub last_operation: Option<Operation>,
}

impl ObservedService {
    /// Whether App Runner would refuse a change now (one operation at a time).
    pub fn busy(&self) -> bool {
        self.status == OPERATION_IN_PROGRESS
            || self.last_operation.as_ref().is_some_and(Operation::running)
    }

    /// The content hash the operator last deployed.
    pub fn content_hash(&self) -> Option<&str> {
        self.tags.get(CONTENT_HASH_TAG)
    }
}

/// One correction of the service; every one but tags goes into one `UpdateService`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceChange {
    Image,
    Port,
    Environment,
    Secrets,
    AutoDeployments,
    AccessRole,
    InstanceRole,
    Size,
    HealthCheck,
    Network,
    AutoScaling,
    Observability,
    Tag(TagSet),
}

impl ServiceChange {
    /// Whether the change needs `UpdateService` (a deployment).
    pub fn deploys(&self) -> bool {
        !matches!(self, ServiceChange::Tag(_))
    }
}

impl Describe for ServiceChange {
    fn describe(&self) -> String {
        match self {
            ServiceChange::Image => "image".into(),
            ServiceChange::Port => "port".into(),
            ServiceChange::Environment => "environment variables".into(),
            ServiceChange::Secrets => "secrets".into(),
            ServiceChange::AutoDeployments => "automatic deployments".into(),
            ServiceChange::AccessRole => "access role".into(),
            ServiceChange::InstanceRole => "instance role".into(),
            ServiceChange::Size => "cpu and memory".into(),
            ServiceChange::HealthCheck => "health check".into(),
            ServiceChange::Network => "network".into(),
            ServiceChange::AutoScaling => "auto scaling configuration".into(),
            ServiceChange::Observability => "observability".into(),
            ServiceChange::Tag(_) => "tags".into(),
        }
    }
}

/// What differs between the service and `want` (whose content hash is `hash`).
pub fn service_changes(
    want: &DesiredService,
    seen: &ObservedService,
    hash: &str,
) -> Vec<ServiceChange> {
    let mut changes = Vec::new();
    if seen.image != want.image || seen.image_repository_type != "ECR" {
        changes.push(ServiceChange::Image);
    }
    if seen.port.as_deref() != Some(want.port.to_string().as_str()) {
        changes.push(ServiceChange::Port);
    }
    if seen.environment != want.environment {
        changes.push(ServiceChange::Environment);
    }
    if seen.secrets != want.secrets {
        changes.push(ServiceChange::Secrets);
    }
    if seen.auto_deployments {
        changes.push(ServiceChange::AutoDeployments);
    }
    if seen.access_role_arn.as_deref() != Some(want.access_role_arn.as_str()) {
        changes.push(ServiceChange::AccessRole);
    }
    if seen.instance_role_arn.as_deref() != Some(want.instance_role_arn.as_str()) {
        changes.push(ServiceChange::InstanceRole);
    }
    if seen.cpu != Some(want.cpu) || seen.memory != Some(want.memory) {
        changes.push(ServiceChange::Size);
    }
    if !seen.health_check.same_as(&want.health_check) {
        changes.push(ServiceChange::HealthCheck);
    }
    if seen.egress_type != "VPC"
        || seen.connector_arn.as_deref() != Some(want.connector_arn.as_str())
        || !seen.public
    {
        changes.push(ServiceChange::Network);
    }
    if seen.scaling_arn.as_deref() != Some(want.scaling_arn.as_str()) {
        changes.push(ServiceChange::AutoScaling);
    }
    if seen.observability {
        changes.push(ServiceChange::Observability);
    }
    let missing = service_tags(want, hash).missing_from(&seen.tags);
    if !missing.is_empty() {
        changes.push(ServiceChange::Tag(missing));
    }
    changes
}

/// The service's tags: the ownership tags and the content hash.
pub fn service_tags(want: &DesiredService, hash: &str) -> TagSet {
    let mut tags = want.tags.clone();
    tags.insert(CONTENT_HASH_TAG, hash);
    tags
}

/// Whether the service's last deployment failed with the content now desired: that
/// content is not deployed again (App Runner rolled back, or could not create the
/// service). A failed deployment of other content no longer matters: the spec moved on.
pub fn failed_with(seen: &ObservedService, hash: &str) -> bool {
    let tried = seen.content_hash() == Some(hash);
    let failed = seen.status == "CREATE_FAILED"
        || (seen.status == "RUNNING"
            && seen.last_operation.as_ref().is_some_and(Operation::failed));
    tried && failed
}

/// What readiness reads (`plan::compute::readiness::app_runner`). A failed operation
/// counts only when it deployed the desired content: after a rollback to exactly what
/// the spec now asks for, the service runs the spec.
pub fn readiness_view(seen: &ObservedService, hash: &str) -> ObservedAppRunner {
    let last_operation = seen
        .last_operation
        .as_ref()
        .filter(|op| !op.failed() || seen.content_hash() == Some(hash))
        .map(|op| (op.id.clone(), op.kind.clone(), op.status.clone()));
    ObservedAppRunner { status: seen.status.clone(), image: seen.image.clone(), last_operation }
}

/// The CloudWatch console page of a log group.
pub fn log_group_console_url(region: &str, group: &str) -> String {
    // The console's fragment takes names URL-encoded twice, with `$` for `%`.
    let encoded: String = group
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("$25{b:02X}")
            }
        })
        .collect();
    format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{encoded}"
    )
}

/// `https://<ServiceUrl>`.
pub fn https_url(service_url: &str) -> String {
    format!("https://{}", service_url.trim_end_matches('/'))
}

/// The service's log group (App Runner writes deployment and health-check events there).
pub fn service_log_group(service_name: &str, service_arn: &str) -> Option<String> {
    let id = service_arn.rsplit('/').next().filter(|id| !id.is_empty() && !id.contains(':'))?;
    Some(format!("/aws/apprunner/{service_name}/{id}/service"))
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "h1";

    /// App Runner's name pattern `[A-Za-z0-9][A-Za-z0-9_-]{3,max-1}`.
    fn valid_name(name: &str, max: usize) -> bool {
        let b = name.as_bytes();
        (4..=max).contains(&b.len())
            && b[0].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
    }

    fn want() -> DesiredService {
        DesiredService {
            name: "rc-x".into(),
            image: "1.dkr.ecr.eu-west-1.amazonaws.com/rc-x@sha256:1".into(),
            port: 8080,
            environment: BTreeMap::from([("A".to_string(), "1".to_string())]),
            secrets: BTreeMap::from([("S".to_string(), "arn:s".to_string())]),
            access_role_arn: "arn:access".into(),
            instance_role_arn: "arn:instance".into(),
            cpu: 1024,
            memory: 2048,
            health_check: health_check(),
            kms_key_arn: "arn:key".into(),
            connector_arn: "arn:vpc".into(),
            scaling_arn: "arn:asc/2".into(),
            tags: [("o", "1")].into_iter().collect(),
        }
    }

    /// What App Runner reports for a service created from `want`, in its own words.
    fn read_back(want: &DesiredService) -> ObservedService {
        let h = &want.health_check;
        ObservedService {
            arn: "arn:aws:apprunner:eu-west-1:1:service/rc-x/0123abcd".into(),
            name: want.name.clone(),
            url: Some("abc.eu-west-1.awsapprunner.com".into()),
            status: "RUNNING".into(),
            image: want.image.clone(),
            image_repository_type: "ECR".into(),
            port: Some("8080".into()),
            environment: want.environment.clone(),
            secrets: want.secrets.clone(),
            auto_deployments: false,
            access_role_arn: Some(want.access_role_arn.clone()),
            instance_role_arn: Some(want.instance_role_arn.clone()),
            cpu: cpu_units("1 vCPU"),
            memory: memory_mib("2 GB"),
            health_check: observed_health_check(
                Some("http"),
                Some("/healthcheck"),
                Some(h.interval),
                Some(h.timeout),
                None,
                Some(h.unhealthy_threshold),
            ),
            egress_type: "VPC".into(),
            connector_arn: Some(want.connector_arn.clone()),
            public: true,
            observability: false,
            scaling_arn: Some(want.scaling_arn.clone()),
            kms_key_arn: Some(want.kms_key_arn.clone()),
            tags: service_tags(want, HASH),
            last_operation: Some(Operation {
                id: "op1".into(),
                kind: "CREATE_SERVICE".into(),
                status: "SUCCEEDED".into(),
            }),
        }
    }

    #[test]
    fn units_and_defaults_are_normalised() {
        assert_eq!(cpu_units("0.25 vCPU"), Some(256));
        assert_eq!(cpu_units("2 vCPU"), Some(2048));
        assert_eq!(cpu_units("4096"), Some(4096));
        assert_eq!(memory_mib("0.5 GB"), Some(512));
        assert_eq!(memory_mib("3 GB"), Some(3072));
        assert_eq!(memory_mib("12288"), Some(12288));
        assert_eq!(cpu_units("lots"), None);
        let d = observed_health_check(None, None, None, None, None, None);
        assert_eq!((d.protocol.as_str(), d.interval, d.unhealthy_threshold), ("TCP", 5, 5));
    }

    #[test]
    fn a_service_read_back_in_app_runners_words_needs_nothing() {
        let want = want();
        assert_eq!(service_changes(&want, &read_back(&want), HASH), vec![]);
    }

    #[test]
    fn a_tcp_check_or_default_path_is_a_change_to_the_http_check() {
        let want = want();
        let mut seen = read_back(&want);
        seen.health_check = observed_health_check(None, None, None, None, None, None);
        assert_eq!(service_changes(&want, &seen, HASH), vec![ServiceChange::HealthCheck]);
        seen.health_check = HealthCheck { path: "/".into(), ..health_check() };
        assert_eq!(service_changes(&want, &seen, HASH), vec![ServiceChange::HealthCheck]);
    }

    #[test]
    fn hand_edits_and_a_new_image_are_named() {
        let want = want();
        let mut seen = read_back(&want);
        seen.image = "1.dkr.ecr.eu-west-1.amazonaws.com/rc-x:latest".into();
        seen.auto_deployments = true;
        seen.cpu = Some(2048);
        seen.egress_type = "DEFAULT".into();
        seen.connector_arn = None;
        seen.observability = true;
        seen.environment.insert("EXTRA".into(), "x".into());
        let what: Vec<String> =
            service_changes(&want, &seen, "h2").iter().map(Describe::describe).collect();
        assert_eq!(
            what,
            [
                "image",
                "environment variables",
                "automatic deployments",
                "cpu and memory",
                "network",
                "observability",
                "tags"
            ]
        );
        assert!(!ServiceChange::Tag(TagSet::new()).deploys());
        assert!(ServiceChange::Image.deploys());
    }

    #[test]
    fn the_hash_follows_the_content_not_the_arns() {
        let connector =
            desired_connector("rc-x", &["s-2".into(), "s-1".into()], &["sg".into()], TagSet::new());
        let scaling = DesiredScaling {
            name: "rc-x".into(),
            max_concurrency: 10,
            min_size: 1,
            max_size: 2,
            tags: TagSet::new(),
        };
        let a = DesiredAppRunner {
            service: want(),
            connector: connector.clone(),
            scaling: scaling.clone(),
        };
        let mut b = a.clone();
        b.service.connector_arn = "arn:other".into();
        b.service.scaling_arn = "arn:asc/3".into();
        b.service.tags.insert("x", "y");
        assert_eq!(a.hash(), b.hash());
        b.scaling.max_concurrency = 20;
        assert_ne!(a.hash(), b.hash());
        let mut c = a.clone();
        c.service.image = "r@sha256:2".into();
        assert_ne!(a.hash(), c.hash());
    }

    #[test]
    fn connector_names_hash_the_network_and_fit_app_runner() {
        let a = desired_connector(
            "rc-x-1234abcd",
            &["s-2".into(), "s-1".into()],
            &["sg".into()],
            TagSet::new(),
        );
        let b = desired_connector(
            "rc-x-1234abcd",
            &["s-1".into(), "s-2".into()],
            &["sg".into()],
            TagSet::new(),
        );
        assert_eq!(a.name, b.name, "order does not matter");
        assert_eq!(a.subnets, ["s-1", "s-2"]);
        let c = desired_connector("rc-x-1234abcd", &["s-3".into()], &["sg".into()], TagSet::new());
        assert_ne!(a.name, c.name);
        assert!(is_environment_connector("rc-x-1234abcd", &a.name));
        assert!(is_environment_connector("rc-x-1234abcd", &c.name));
        assert!(!is_environment_connector("rc-x-1234abcd", "rc-x-1234abcd-other"));
        assert!(!is_environment_connector("rc-y-1234abcd", &a.name));
        let long = "rc-a-very-long-namespace-and-a-longer-name-1234abcd";
        let d = desired_connector(long, &["s".into()], &["g".into()], TagSet::new());
        assert!(valid_name(&d.name, 40), "{}", d.name);
        assert!(d.name.contains("1234abcd"), "{}", d.name);
        assert!(is_environment_connector(long, &d.name));
    }

    #[test]
    fn a_rollback_of_the_desired_content_blocks_it_and_fails_readiness() {
        let want = want();
        let mut seen = read_back(&want);
        seen.last_operation = Some(Operation {
            id: "op2".into(),
            kind: "UPDATE_SERVICE".into(),
            status: "ROLLBACK_SUCCEEDED".into(),
        });
        seen.image = "r@sha256:old".into();
        assert!(failed_with(&seen, HASH));
        let view = readiness_view(&seen, HASH);
        assert!(matches!(
            super::super::readiness::app_runner(&view, &want.image),
            super::super::readiness::Readiness::Failed(_)
        ));
        // The spec moved on: the failure is history.
        assert!(!failed_with(&seen, "h2"));
        let view = readiness_view(&seen, "h2");
        assert_eq!(view.last_operation, None);
        // Back to exactly what runs: Ready.
        assert_eq!(
            super::super::readiness::app_runner(&view, "r@sha256:old"),
            super::super::readiness::Readiness::Ready
        );
    }

    #[test]
    fn a_failed_create_blocks_its_content() {
        let want = want();
        let mut seen = read_back(&want);
        seen.status = "CREATE_FAILED".into();
        seen.last_operation.as_mut().expect("op").status = "FAILED".into();
        assert!(failed_with(&seen, HASH));
        assert!(!failed_with(&seen, "h2"));
    }

    #[test]
    fn an_operation_makes_the_service_busy() {
        let want = want();
        let mut seen = read_back(&want);
        assert!(!seen.busy());
        seen.last_operation.as_mut().expect("op").status = "IN_PROGRESS".into();
        assert!(seen.busy());
        seen.last_operation = None;
        seen.status = OPERATION_IN_PROGRESS.into();
        assert!(seen.busy());
    }

    #[test]
    fn a_revision_matches_only_with_every_setting() {
        let scaling = DesiredScaling {
            name: "rc-x".into(),
            max_concurrency: 10,
            min_size: 1,
            max_size: 2,
            tags: TagSet::new(),
        };
        let mut r = ObservedScaling {
            arn: "arn:asc/5".into(),
            name: "rc-x".into(),
            revision: 5,
            status: "ACTIVE".into(),
            ..ObservedScaling::default()
        };
        assert!(!scaling.matches(&r), "a summary without settings");
        r.max_concurrency = Some(10);
        r.min_size = Some(1);
        r.max_size = Some(2);
        assert!(scaling.matches(&r));
        r.status = "INACTIVE".into();
        assert!(!scaling.matches(&r), "a deleted revision");
    }

    #[test]
    fn urls_and_log_groups() {
        assert_eq!(
            https_url("abc.eu-west-1.awsapprunner.com"),
            "https://abc.eu-west-1.awsapprunner.com"
        );
        assert_eq!(
            service_log_group("rc-x", "arn:aws:apprunner:eu-west-1:1:service/rc-x/0123abcd")
                .as_deref(),
            Some("/aws/apprunner/rc-x/0123abcd/service")
        );
    }
}
