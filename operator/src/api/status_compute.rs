//! `status.compute`: the service that runs REDCap as the operator last saw it (api step:
//! types only, no I/O).
//!
//! Identifiers, counts and states only; a deployment that failed is recorded with its
//! reason so that the same image is not deployed again in a loop.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ComputeKind;

/// The compute service.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComputeStatus {
    /// The kind that serves `status.outputs.url` (during a switch of `spec.compute.kind`,
    /// the old kind until the new one is healthy).
    pub kind: ComputeKind,
    /// The service of `spec.compute.kind`.
    pub service: Option<ServiceStatus>,
    /// The service of the previous kind while a switch retires it.
    pub retiring: Option<ServiceStatus>,
    /// The last deployment that failed, kept until the spec asks for something else: the
    /// operator does not deploy the same content again on its own.
    pub failed_deployment: Option<FailedDeployment>,
}

/// One compute service.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    pub kind: ComputeKind,
    /// ARN of the ECS or App Runner service.
    pub arn: Option<String>,
    /// The service's own HTTPS URL (the load balancer's, Express's or App Runner's).
    pub url: Option<String>,
    /// The image the service runs, by digest (`<repository>@sha256:...`).
    pub image: Option<String>,
    /// The task definition revision it runs (`family:N`; ECS kinds).
    pub task_definition: Option<String>,
    /// Tasks (App Runner: instances) the service wants, runs, and that pass the health
    /// check on `/healthcheck`.
    pub desired: Option<i32>,
    pub running: Option<i32>,
    pub healthy: Option<i32>,
    /// The newest deployment.
    pub deployment: Option<DeploymentStatus>,
}

/// A deployment of the service.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStatus {
    /// The deployment's id (ECS) or operation id (App Runner).
    pub id: Option<String>,
    /// `InProgress`, `Completed` or `Failed`.
    pub state: DeploymentState,
    /// What AWS says about it (the rollout reason, the stopped task's reason).
    pub reason: Option<String>,
}

/// Where a deployment is.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeploymentState {
    #[default]
    InProgress,
    Completed,
    Failed,
}

/// A deployment that failed, and what it deployed.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedDeployment {
    pub kind: ComputeKind,
    /// The hash of the content it deployed (image, size, settings, roles).
    pub content_hash: String,
    pub image: Option<String>,
    pub reason: String,
    /// Where to read why tasks stopped (the log group in the console).
    pub logs_url: Option<String>,
}
