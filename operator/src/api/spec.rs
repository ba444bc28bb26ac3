//! `.spec` of a `RedcapEnvironment`: one stage (dev, staging, prod) of REDCap on AWS.
//!
//! Re-designs the seed project's `stages.ts` for Kubernetes. Every field has a
//! description (it is what `kubectl explain` prints), defaults live in the schema, and
//! cross-field rules are CEL next to the field they guard. Secrets are only referenced.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::status::RedcapEnvironmentStatus;

/// Desired state of one REDCap stage on AWS.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "redcap.dev",
    version = "v1alpha1",
    kind = "RedcapEnvironment",
    plural = "redcapenvironments",
    shortname = "rce",
    shortname = "redcapenv",
    category = "redcap",
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
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.phaseReason",
        priority = 1
    )
)]
#[serde(rename_all = "camelCase")]
pub struct RedcapEnvironmentSpec {
    /// AWS account access and region for this environment.
    pub aws: AwsSpec,

    /// The REDCap application: version, where its release zip comes from, settings.
    pub redcap: RedcapSpec,

    /// The compute service that runs REDCap.
    #[serde(default)]
    pub compute: ComputeSpec,

    /// Aurora Serverless v2 MySQL.
    #[serde(default)]
    pub database: DatabaseSpec,

    /// The VPC every component lives in.
    #[serde(default)]
    pub network: NetworkSpec,

    /// The file bucket REDCap stores uploads in (and its access-log bucket).
    #[serde(default)]
    pub storage: StorageSpec,

    /// DNS name, hosted zone and certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainSpec>,

    /// Outgoing mail through Amazon SES.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailSpec>,

    /// AWS WAF in front of the application.
    #[serde(default)]
    pub firewall: FirewallSpec,

    /// The scheduled call of REDCap's `cron.php`.
    #[serde(default)]
    pub cron: CronSpec,

    /// A temporary EC2 REDCap server for long-running requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_server: Option<MaintenanceServerSpec>,

    /// CloudWatch log retention for every log group the operator owns.
    #[serde(default)]
    pub logs: LogsSpec,

    /// Amazon GuardDuty threat detection for the account and region.
    #[serde(default)]
    pub guard_duty: GuardDutySpec,

    /// What happens to the environment's data when this object is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// When true, the operator makes no AWS writes for this environment (it still
    /// observes and reports). Deletion is also held while suspended.
    #[serde(default)]
    pub suspend: bool,
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

/// AWS account access and region.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AwsSpec {
    /// AWS region of every resource of this environment, e.g. `us-east-1`. Cannot be
    /// changed after creation.
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.aws.region is immutable"))]
    pub region: String,

    /// IAM role the operator assumes for this environment (replaces the seed's AWS
    /// profile). Without it the operator's own credentials are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,

    /// External ID to pass when assuming `roleArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,

    /// Extra tags put on every AWS resource of this environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// One AWS tag.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    /// Tag key.
    pub key: String,
    /// Tag value.
    pub value: String,
}

/// Versioning of the file bucket.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum BucketVersioning {
    /// Keep every version of every object (recommended; the seed enabled it for prod).
    #[default]
    Enabled,
    /// Keep only the latest version (the seed's default for non-prod stages).
    Suspended,
}

/// The REDCap file bucket and its access-log bucket.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Name of the file bucket. Default: derived from the environment
    /// (`redcap-<namespace>-<name>-<hash>-files`). S3 bucket names are global, so a name
    /// owned by another account stalls the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,

    /// Object versioning of the file bucket.
    #[serde(default)]
    pub versioning: BucketVersioning,

    /// Days after which objects move to STANDARD_IA (0 disables the transition).
    #[serde(default = "default_ia_days")]
    pub infrequent_access_after_days: u32,

    /// Days after which objects move to INTELLIGENT_TIERING (0 disables the transition).
    #[serde(default = "default_tiering_days")]
    pub intelligent_tiering_after_days: u32,

    /// Days after which non-current object versions expire (0 keeps them forever).
    #[serde(default)]
    pub noncurrent_version_expiration_days: u32,

    /// Write server access logs of the file bucket to a separate log bucket.
    #[serde(default = "default_true")]
    pub access_logs: bool,
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self {
            bucket_name: None,
            versioning: BucketVersioning::default(),
            infrequent_access_after_days: default_ia_days(),
            intelligent_tiering_after_days: default_tiering_days(),
            noncurrent_version_expiration_days: 0,
            access_logs: true,
        }
    }
}

fn default_ia_days() -> u32 {
    90
}
fn default_tiering_days() -> u32 {
    180
}
pub(crate) fn default_true() -> bool {
    true
}

// ---------------------------------------------------------------------------------
// The sub-specs below are completed by the API work (see docs/reference/spec.md).
// ---------------------------------------------------------------------------------

/// The REDCap application.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RedcapSpec {
    /// REDCap version to run, e.g. `15.8.0`.
    pub version: String,
}

/// The kind of compute service that runs REDCap.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum ComputeKind {
    /// Amazon ECS Express Mode (default; AWS's successor to App Runner).
    #[default]
    EcsExpress,
    /// Amazon ECS on Fargate behind an Application Load Balancer (long requests).
    EcsFargate,
    /// AWS App Runner (only for accounts that already use it).
    AppRunner,
}

/// The compute service.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ComputeSpec {
    /// Which compute service runs REDCap.
    #[serde(default)]
    pub kind: ComputeKind,
}

/// Aurora Serverless v2 MySQL.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSpec {}

/// The VPC.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct NetworkSpec {}

/// DNS name, hosted zone and certificate.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct DomainSpec {}

/// Outgoing mail through SES.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct EmailSpec {}

/// AWS WAF.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct FirewallSpec {}

/// Scheduled `cron.php` calls.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct CronSpec {}

/// Temporary EC2 REDCap server.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceServerSpec {}

/// CloudWatch log retention.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct LogsSpec {}

/// GuardDuty.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct GuardDutySpec {}
