//! `.spec` of a `RedcapEnvironment`: one stage (dev, staging, prod) of REDCap on AWS
//! (api step: types only, no I/O, no AWS or Kubernetes calls).
//!
//! Re-designs the seed project's `stages.ts` for Kubernetes. Every field has a
//! description (it is what `kubectl explain` prints), defaults live in the schema so the
//! API server fills them in, and rules are CEL next to the field they guard; the rules
//! that join several sections sit on this root struct. Secrets are only referenced.
//! The field-by-field reference is `docs/reference/spec.md`.

mod aws;
mod compute;
mod database;
mod edge;
mod firewall;
mod network;
mod operations;
mod redcap;
mod storage;

pub use aws::*;
pub use compute::*;
pub use database::*;
pub use edge::*;
pub use firewall::*;
pub use network::*;
pub use operations::*;
pub use redcap::*;
pub use storage::*;

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::status::RedcapEnvironmentStatus;

/// Regions where App Runner can serve a custom domain at a zone apex (the seed's
/// `AppRunnerHostedZones` map). Kept in one place: the CEL rule and `plan/` both read it.
pub const APP_RUNNER_CUSTOM_DOMAIN_REGIONS: [&str; 8] = [
    "us-east-2",
    "us-east-1",
    "us-west-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "eu-central-1",
    "eu-west-1",
];

/// Desired state of one REDCap stage on AWS.
// The printer columns repeat `type_ = "string"`, which this lint mistakes for a copy-paste slip.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "redcap.dev",
    version = "v1alpha1",
    kind = "RedcapEnvironment",
    plural = "redcapenvironments",
    shortname = "rce",
    shortname = "redcapenv",
    category = "redcap",
    doc = "One REDCap environment (a stage such as dev, staging or prod) on AWS, reconciled by redcap-operator. See docs/reference/spec.md.",
    namespaced,
    status = "RedcapEnvironmentStatus",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Compute", type_ = "string", json_path = ".spec.compute.kind"),
    printcolumn(name = "Version", type_ = "string", json_path = ".spec.redcap.version"),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.outputs.url"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.phaseReason",
        priority = 1
    )
)]
#[x_kube(
    validation = Rule::new("has(self.domain) || (has(self.email) && has(self.email.fromAddress))")
        .message("spec.domain or spec.email.fromAddress must be set: Amazon SES needs a domain or an email address identity to send mail")
        .reason(Reason::FieldValueRequired),
    validation = Rule::new("self.compute.kind != 'EcsFargate' || has(self.domain) || (has(self.compute.ecsFargate) && has(self.compute.ecsFargate.certificateArn))")
        .message("spec.compute.kind EcsFargate needs spec.domain or spec.compute.ecsFargate.certificateArn: its load balancer serves HTTPS only (EcsFargate is the default kind). Without a domain, set spec.compute.kind: EcsExpress to use an AWS-provided HTTPS URL")
        .field_path(".compute.kind")
        .reason(Reason::FieldValueRequired),
    validation = Rule::new("!has(self.domain) || !has(self.domain.certificateArn) || !has(self.compute.ecsFargate) || !has(self.compute.ecsFargate.certificateArn)")
        .message("spec.domain.certificateArn and spec.compute.ecsFargate.certificateArn are mutually exclusive: set the certificate in one place")
        .field_path(".compute.ecsFargate.certificateArn"),
    validation = Rule::new("self.compute.kind != 'AppRunner' || !has(self.domain) || self.domain.hostedZone.mode == 'None' || self.aws.region in ['us-east-2', 'us-east-1', 'us-west-2', 'ap-southeast-1', 'ap-southeast-2', 'ap-northeast-1', 'eu-central-1', 'eu-west-1']")
        .message("spec.domain with a Route 53 zone and spec.compute.kind AppRunner needs spec.aws.region in us-east-1, us-east-2, us-west-2, ap-southeast-1, ap-southeast-2, ap-northeast-1, eu-central-1 or eu-west-1 (App Runner custom domains)")
        .field_path(".aws.region"),
    validation = Rule::new("!has(self.domain) || !has(self.domain.certificateArn) || size(self.domain.certificateArn.split(':')) < 4 || self.domain.certificateArn.split(':')[3] == self.aws.region")
        .message("spec.domain.certificateArn must be a certificate in spec.aws.region")
        .field_path(".domain.certificateArn"),
    validation = Rule::new("!has(self.compute.ecsFargate) || !has(self.compute.ecsFargate.certificateArn) || size(self.compute.ecsFargate.certificateArn.split(':')) < 4 || self.compute.ecsFargate.certificateArn.split(':')[3] == self.aws.region")
        .message("spec.compute.ecsFargate.certificateArn must be a certificate in spec.aws.region")
        .field_path(".compute.ecsFargate.certificateArn"),
    validation = Rule::new("!has(self.firewall.externalWebAclArn) || size(self.firewall.externalWebAclArn.split(':')) < 4 || self.firewall.externalWebAclArn.split(':')[3] == self.aws.region")
        .message("spec.firewall.externalWebAclArn must be a regional Web ACL in spec.aws.region")
        .field_path(".firewall.externalWebAclArn"),
    validation = Rule::new("self.redcap.settings.authMethod != 'None' || (has(self.firewall.allowedIps) && size(self.firewall.allowedIps) > 0)")
        .message("spec.redcap.settings.authMethod None (no login) needs spec.firewall.allowedIps: an environment without authentication must not be open to the internet")
        .field_path(".redcap.settings.authMethod")
        .reason(Reason::FieldValueForbidden),
)]
#[serde(rename_all = "camelCase")]
pub struct RedcapEnvironmentSpec {
    /// AWS account access and region for this environment.
    pub aws: AwsSpec,

    /// The REDCap application: version, where its release zip comes from, languages and
    /// initial settings.
    pub redcap: RedcapSpec,

    /// The compute service that runs REDCap: ECS Express Mode (default), ECS on Fargate
    /// behind a load balancer, or App Runner. Replaces the seed's App Runner settings
    /// and its `ecs` block.
    #[serde(default)]
    pub compute: ComputeSpec,

    /// Aurora Serverless v2 MySQL. Replaces the seed's `db` block.
    #[serde(default)]
    pub database: DatabaseSpec,

    /// The VPC every component lives in.
    #[serde(default)]
    pub network: NetworkSpec,

    /// The file bucket REDCap stores uploads in (and its access-log bucket).
    #[serde(default)]
    pub storage: StorageSpec,

    /// DNS name, hosted zone and certificate. Without it REDCap is served on the
    /// compute service's own HTTPS URL (seed: `domain`, `subdomain`, `hostInRoute53`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainSpec>,

    /// Outgoing mail through Amazon SES (seed: `email`, `bounceNotificationEmail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailSpec>,

    /// AWS WAF in front of the application (seed: `allowedIps`, `allowedCountries`,
    /// `externalResources.wafWebAcl` and the fixed rules of its `Waf` construct).
    #[serde(default)]
    pub firewall: FirewallSpec,

    /// The scheduled call of REDCap's `cron.php` (seed: `cronMinutes`, `cronSecret`).
    #[serde(default)]
    pub cron: CronSpec,

    /// A temporary EC2 REDCap server for requests longer than the compute service allows
    /// (seed: `ec2ServerStack`). Absent: no server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_server: Option<MaintenanceServerSpec>,

    /// CloudWatch log retention for every log group the operator owns
    /// (seed: `generalLogRetention`).
    #[serde(default)]
    pub logs: LogsSpec,

    /// Amazon GuardDuty threat detection for the account and region
    /// (seed: the unwired `Security` stack).
    #[serde(default)]
    pub guard_duty: GuardDutySpec,

    /// What happens to the environment's data when this object is deleted. Default
    /// `Snapshot`: a final Aurora snapshot is taken and the file bucket, KMS key and salt
    /// secret are kept. The seed decided this by stage name (dev destroyed, prod
    /// retained, others snapshotted); here every stage says it explicitly.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// When true, the operator makes no AWS writes for this environment: it still
    /// observes and reports, and deletion is held until it is false again. Default false.
    #[serde(default)]
    pub suspend: bool,
}

impl RedcapEnvironmentSpec {
    /// A spec with every optional section absent and every other one at its default: what
    /// the API server stores for an object that sets only `aws` and `redcap`. (A valid
    /// object also needs `domain` or `email.fromAddress`.)
    pub fn new(aws: AwsSpec, redcap: RedcapSpec) -> Self {
        Self {
            aws,
            redcap,
            compute: ComputeSpec::default(),
            database: DatabaseSpec::default(),
            network: NetworkSpec::default(),
            storage: StorageSpec::default(),
            domain: None,
            email: None,
            firewall: FirewallSpec::default(),
            cron: CronSpec::default(),
            maintenance_server: None,
            logs: LogsSpec::default(),
            guard_duty: GuardDutySpec::default(),
            deletion_policy: DeletionPolicy::default(),
            suspend: false,
        }
    }
}

/// What happens to AWS resources that hold data when the `RedcapEnvironment` is deleted.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum DeletionPolicy {
    /// Take a final Aurora snapshot, keep the file buckets, the KMS key and the salt
    /// secret; delete everything else.
    #[default]
    Snapshot,
    /// Keep every data-holding resource (database, buckets, key, secrets) as it is.
    Retain,
    /// Delete everything, data included. Irreversible.
    Delete,
}

/// A key of a Kubernetes Secret in the environment's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub struct SecretKeyRef {
    /// Name of the Secret (same namespace as the `RedcapEnvironment`).
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::api::schema::DNS1123_SUBDOMAIN))]
    pub name: String,
    /// Key inside the Secret's `data`.
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::api::schema::SECRET_KEY))]
    pub key: String,
}

/// A location in Amazon S3 (an object, or a prefix of objects).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub struct S3Location {
    /// Bucket name. It must be readable by the operator's role (and, for build inputs,
    /// by the image build).
    #[schemars(length(min = 3, max = 63), regex(pattern = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"))]
    pub bucket: String,
    /// Object key (or key prefix), without a leading `/`.
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^[^/]"))]
    pub key: String,
}

pub(crate) fn default_true() -> bool {
    true
}

#[cfg(test)]
mod tests;
