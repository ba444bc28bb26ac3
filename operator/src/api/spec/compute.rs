//! `spec.compute`: the service that runs the REDCap container (api step: types only,
//! no I/O).
//!
//! Sizes use the AWS units of ECS task definitions (CPU units, 1024 = 1 vCPU; memory in
//! MiB), which App Runner also accepts, so the operator passes them through unchanged.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// The kind of compute service that runs REDCap.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum ComputeKind {
    /// Amazon ECS Express Mode: AWS's successor to App Runner, with an AWS-provided HTTPS
    /// URL (no domain or certificate needed); requests end after 60 s.
    EcsExpress,
    /// Amazon ECS on Fargate behind the environment's own Application Load Balancer
    /// (default): requests of up to 4000 s, the site's certificate, a health-check grace
    /// period that covers installs and upgrades, and no rollback across a REDCap version
    /// change. Needs `spec.domain` or a certificate (seed: the `ecs` block).
    #[default]
    EcsFargate,
    /// AWS App Runner (only for accounts that already use it; requests end after 120 s).
    AppRunner,
}

/// The compute service. Switching `kind` migrates REDCap to the new service and keeps
/// the database and the file bucket.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("!has(self.ecsFargate) || self.kind == 'EcsFargate'")
        .message("spec.compute.ecsFargate is only allowed when spec.compute.kind is EcsFargate")
        .field_path(".ecsFargate")
        .reason(Reason::FieldValueForbidden),
    validation = Rule::new("!has(self.appRunner) || self.kind == 'AppRunner'")
        .message("spec.compute.appRunner is only allowed when spec.compute.kind is AppRunner")
        .field_path(".appRunner")
        .reason(Reason::FieldValueForbidden),
    validation = Rule::new("!has(self.ecsExpress) || self.kind == 'EcsExpress'")
        .message("spec.compute.ecsExpress is only allowed when spec.compute.kind is EcsExpress")
        .field_path(".ecsExpress")
        .reason(Reason::FieldValueForbidden),
    validation = Rule::new("self.kind == 'AppRunner' || (self.cpu == 256 && self.memory in [512, 1024, 2048]) || (self.cpu == 512 && self.memory >= 1024 && self.memory <= 4096 && self.memory % 1024 == 0) || (self.cpu == 1024 && self.memory >= 2048 && self.memory <= 8192 && self.memory % 1024 == 0) || (self.cpu == 2048 && self.memory >= 4096 && self.memory <= 16384 && self.memory % 1024 == 0) || (self.cpu == 4096 && self.memory >= 8192 && self.memory <= 30720 && self.memory % 1024 == 0) || (self.cpu == 8192 && self.memory >= 16384 && self.memory <= 61440 && self.memory % 4096 == 0) || (self.cpu == 16384 && self.memory >= 32768 && self.memory <= 122880 && self.memory % 8192 == 0)")
        .message("spec.compute.memory is not a valid Fargate size for spec.compute.cpu: 256 takes 512/1024/2048; 512 takes 1024-4096, 1024 takes 2048-8192, 2048 takes 4096-16384, 4096 takes 8192-30720 (steps of 1024); 8192 takes 16384-61440 (steps of 4096); 16384 takes 32768-122880 (steps of 8192)")
        .field_path(".memory"),
    validation = Rule::new("self.kind != 'AppRunner' || (self.cpu == 256 && self.memory in [512, 1024]) || (self.cpu == 512 && self.memory == 1024) || (self.cpu == 1024 && self.memory in [2048, 3072, 4096]) || (self.cpu == 2048 && self.memory in [4096, 6144]) || (self.cpu == 4096 && self.memory in [8192, 10240, 12288])")
        .message("spec.compute.memory is not a valid App Runner size for spec.compute.cpu: 256 takes 512/1024; 512 takes 1024; 1024 takes 2048/3072/4096; 2048 takes 4096/6144; 4096 takes 8192/10240/12288")
        .field_path(".memory"),
    validation = Rule::new("self.kind != 'AppRunner' || self.scaling.maxTasks <= 25")
        .message("spec.compute.scaling.maxTasks must be <= 25 with spec.compute.kind AppRunner (App Runner's maximum size)")
        .field_path(".scaling.maxTasks"),
)]
#[serde(rename_all = "camelCase")]
pub struct ComputeSpec {
    /// Which compute service runs REDCap. Default `EcsFargate`; `EcsExpress` for an
    /// AWS-provided URL without a domain.
    #[serde(default)]
    pub kind: ComputeKind,

    /// CPU per task or instance in CPU units (1024 = 1 vCPU): 256, 512, 1024, 2048, 4096,
    /// and on ECS also 8192 and 16384. Default 2048 (seed: 2 vCPU).
    #[serde(default = "default_cpu")]
    #[schemars(extend("enum" = [256, 512, 1024, 2048, 4096, 8192, 16384]))]
    pub cpu: u32,

    /// Memory per task or instance in MiB; must be a valid combination with `cpu` for the
    /// kind. Default 4096 (seed: 4 GB).
    #[serde(default = "default_memory")]
    #[schemars(range(min = 512, max = 122880))]
    pub memory: u32,

    /// Port Apache listens on inside the container (1024..65535: the container runs as
    /// a non-root user; passed as `REDCAP_HTTP_PORT`). Changing it deploys the service on
    /// the new port behind a new target group. Default 8080 (seed: `port`).
    #[serde(default = "default_port")]
    #[schemars(range(min = 1024, max = 65535))]
    pub port: u16,

    /// Number of tasks or instances and the targets that scale them.
    #[serde(default)]
    pub scaling: ScalingSpec,

    /// Settings only used with kind `EcsFargate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_fargate: Option<EcsFargateSpec>,

    /// Settings only used with kind `AppRunner`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_runner: Option<AppRunnerSpec>,

    /// Settings only used with kind `EcsExpress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_express: Option<EcsExpressSpec>,
}

impl Default for ComputeSpec {
    fn default() -> Self {
        Self {
            kind: ComputeKind::default(),
            cpu: default_cpu(),
            memory: default_memory(),
            port: default_port(),
            scaling: ScalingSpec::default(),
            ecs_fargate: None,
            app_runner: None,
            ecs_express: None,
        }
    }
}

fn default_cpu() -> u32 {
    2048
}
fn default_memory() -> u32 {
    4096
}
fn default_port() -> u16 {
    8080
}

/// How many copies of REDCap run, and when to add more.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("self.minTasks <= self.maxTasks")
        .message("spec.compute.scaling.minTasks must be <= spec.compute.scaling.maxTasks")
        .field_path(".minTasks")
)]
#[serde(rename_all = "camelCase")]
pub struct ScalingSpec {
    /// Tasks (App Runner: provisioned instances) always running. Default 1 (seed:
    /// `appRunnerMinSize`, `ecs.scaling.minContainers`).
    #[serde(default = "default_min_tasks")]
    #[schemars(range(min = 1, max = 100))]
    pub min_tasks: u32,

    /// Upper bound of tasks or instances. Default 2 (seed: `appRunnerMaxSize`,
    /// `ecs.scaling.maxContainers`). At most 25 with App Runner.
    #[serde(default = "default_max_tasks")]
    #[schemars(range(min = 1, max = 100))]
    pub max_tasks: u32,

    /// Average CPU utilisation (percent) the ECS service scales to. Default 70.
    #[serde(default = "default_utilization")]
    #[schemars(range(min = 10, max = 100))]
    pub cpu_target: u32,

    /// Average memory utilisation (percent) the ECS service scales to. Default 70.
    #[serde(default = "default_utilization")]
    #[schemars(range(min = 10, max = 100))]
    pub memory_target: u32,

    /// Load-balancer requests per task the ECS service scales to. Default 500
    /// (seed: `ecs.scaling.requestsPerContainer`).
    #[serde(default = "default_requests_per_target")]
    #[schemars(range(min = 1, max = 100000))]
    pub requests_per_target: u32,
}

impl Default for ScalingSpec {
    fn default() -> Self {
        Self {
            min_tasks: default_min_tasks(),
            max_tasks: default_max_tasks(),
            cpu_target: default_utilization(),
            memory_target: default_utilization(),
            requests_per_target: default_requests_per_target(),
        }
    }
}

fn default_min_tasks() -> u32 {
    1
}
fn default_max_tasks() -> u32 {
    2
}
fn default_utilization() -> u32 {
    70
}
fn default_requests_per_target() -> u32 {
    500
}

/// ECS on Fargate behind an Application Load Balancer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EcsFargateSpec {
    /// Load-balancer idle timeout in seconds: the longest a request may run.
    /// Default 4000 (the maximum; seed: the ALB's fixed 4000 s).
    #[serde(default = "default_idle_timeout")]
    #[schemars(range(min = 1, max = 4000))]
    pub idle_timeout_seconds: u32,

    /// ACM certificate for the HTTPS listener. Default: `spec.domain.certificateArn`,
    /// else a DNS-validated certificate the operator requests for the domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = crate::api::schema::ACM_CERTIFICATE_ARN))]
    pub certificate_arn: Option<String>,

    /// Write load-balancer access logs to an S3 bucket. Default true (seed: always on).
    #[serde(default = "super::default_true")]
    pub alb_access_logs: bool,
}

impl Default for EcsFargateSpec {
    fn default() -> Self {
        Self {
            idle_timeout_seconds: default_idle_timeout(),
            certificate_arn: None,
            alb_access_logs: true,
        }
    }
}

fn default_idle_timeout() -> u32 {
    4000
}

/// AWS App Runner.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppRunnerSpec {
    /// Concurrent requests per instance before App Runner adds one. Default 10, from
    /// the seed's load test (seed: `appRunnerConcurrency`).
    #[serde(default = "default_max_concurrency")]
    #[schemars(range(min = 1, max = 200))]
    pub max_concurrency: u32,
}

impl Default for AppRunnerSpec {
    fn default() -> Self {
        Self { max_concurrency: default_max_concurrency() }
    }
}

fn default_max_concurrency() -> u32 {
    10
}

/// Amazon ECS Express Mode.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EcsExpressSpec {
    /// Path the load balancer's health check requests. Default `/healthcheck` (the
    /// image's health check, which answers without the database; Express's own default,
    /// `/ping`, does not exist in REDCap).
    #[serde(default = "default_health_check_path")]
    #[schemars(
        length(min = 1, max = 255),
        regex(pattern = r"^/[A-Za-z0-9/._~%!$&'()*+,;=:@?-]*$")
    )]
    pub health_check_path: String,
}

impl Default for EcsExpressSpec {
    fn default() -> Self {
        Self { health_check_path: default_health_check_path() }
    }
}

fn default_health_check_path() -> String {
    "/healthcheck".to_owned()
}
