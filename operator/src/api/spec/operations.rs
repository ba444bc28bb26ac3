//! Day-2 sections of the spec: `cron`, `maintenanceServer`, `logs`, `guardDuty`
//! (api step: types only, no I/O).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::SecretKeyRef;

/// CloudWatch Logs' allowed retention periods in days (`PutRetentionPolicy`).
pub const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// The scheduled call of REDCap's `cron.php`, through EventBridge, guarded by a shared
/// secret the firewall checks.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronSpec {
    /// Minutes between calls; 0 turns the schedule off (needed for Aurora to pause at
    /// `minCapacityAcu: 0`). Default 1 (seed: `cronMinutes`).
    #[serde(default = "default_cron_minutes")]
    #[schemars(range(min = 0, max = 1440))]
    pub interval_minutes: u32,

    /// Secret key with the shared secret `cron.php` must present (at least 32 random
    /// characters). Absent: the operator generates one and stores it in the Secret
    /// `<environment>-cron` (replaces the seed's weak `cronSecret` default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,
}

impl Default for CronSpec {
    fn default() -> Self {
        Self { interval_minutes: default_cron_minutes(), secret_ref: None }
    }
}

fn default_cron_minutes() -> u32 {
    1
}

/// A temporary EC2 REDCap server in a private subnet, reached through an SSM port
/// forward (the command is in `status.outputs`), for imports and exports that outlast
/// the compute service's request timeout.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceServerSpec {
    /// Run the server. Default true; set false to remove it before `ttl` ends.
    #[serde(default = "super::default_true")]
    pub enabled: bool,

    /// How long the server lives after it is created, between 15m and 24h (e.g. `3h`,
    /// `90m`). When it has expired, toggle `enabled` to get a new one. Default `3h`
    /// (seed: `ec2ServerStack.ec2StackDuration`).
    #[serde(default = "default_ttl")]
    #[x_kube(
        validation = Rule::new("self.matches('^([0-9]{1,2}h)?([0-9]{1,4}m)?$') && self != '' && duration(self) >= duration('15m') && duration(self) <= duration('24h')")
            .message("spec.maintenanceServer.ttl must be a duration between 15m and 24h, written like 3h, 90m or 1h30m")
    )]
    #[schemars(length(min = 2, max = 8))]
    pub ttl: String,

    /// EC2 instance type. Default `t3.medium` (seed).
    #[serde(default = "default_instance_type")]
    #[schemars(length(min = 4, max = 32), regex(pattern = r"^[a-z][a-z0-9-]*\.[a-z0-9]+$"))]
    pub instance_type: String,
}

impl Default for MaintenanceServerSpec {
    fn default() -> Self {
        Self { enabled: true, ttl: default_ttl(), instance_type: default_instance_type() }
    }
}

fn default_ttl() -> String {
    "3h".to_owned()
}
fn default_instance_type() -> String {
    "t3.medium".to_owned()
}

/// CloudWatch log retention.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogsSpec {
    /// Days every log group of the environment keeps its events (VPC flow logs, Aurora,
    /// the compute service, builds, the maintenance server): one of 1, 3, 5, 7, 14, 30,
    /// 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
    /// 3653. Default 365 (seed: `generalLogRetention`, whose defaults differed by group).
    #[serde(default = "default_retention")]
    #[schemars(extend("enum" = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]))]
    pub retention_days: u32,
}

impl Default for LogsSpec {
    fn default() -> Self {
        Self { retention_days: default_retention() }
    }
}

fn default_retention() -> u32 {
    365
}

/// Amazon GuardDuty for the account and region. An account has one detector per region:
/// when one exists already, the operator turns on the listed features on it and never
/// deletes it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GuardDutySpec {
    /// Turn GuardDuty on. Default false (seed: the optional `Security` stack).
    #[serde(default)]
    pub enabled: bool,

    /// Protection plans to enable. Default S3 data events, RDS login events and Lambda
    /// network logs (seed ptp.md #9).
    #[serde(default = "default_features")]
    #[schemars(schema_with = "features_schema")]
    pub features: Vec<GuardDutyFeature>,
}

impl Default for GuardDutySpec {
    fn default() -> Self {
        Self { enabled: false, features: default_features() }
    }
}

fn default_features() -> Vec<GuardDutyFeature> {
    vec![
        GuardDutyFeature::S3DataEvents,
        GuardDutyFeature::RdsLoginEvents,
        GuardDutyFeature::LambdaNetworkLogs,
    ]
}

fn features_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    crate::api::schema::enum_set::<GuardDutyFeature>(generator, 8)
}

/// A GuardDuty protection plan.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum GuardDutyFeature {
    /// S3 data-event monitoring (`S3_DATA_EVENTS`).
    S3DataEvents,
    /// Aurora login-activity monitoring (`RDS_LOGIN_EVENTS`).
    RdsLoginEvents,
    /// Lambda network-activity monitoring (`LAMBDA_NETWORK_LOGS`).
    LambdaNetworkLogs,
    /// Malware scans of EBS volumes (`EBS_MALWARE_PROTECTION`).
    EbsMalwareProtection,
    /// Runtime monitoring of ECS tasks and EC2 instances (`RUNTIME_MONITORING`).
    RuntimeMonitoring,
}
