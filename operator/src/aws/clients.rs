//! AWS clients per environment (CONTRACT STUB: the AWS work replaces the bodies; the
//! public API stays).

use crate::api::AwsSpec;

use super::{AwsCallMetrics, AwsError};

/// Operator-wide AWS settings (from flags / environment).
#[derive(Clone, Debug, Default)]
pub struct AwsSettings {
    /// Use path-style S3 addressing (needed by local emulators on 127.0.0.1).
    pub s3_force_path_style: bool,
    /// Maximum attempts per AWS call (adaptive retry mode).
    pub max_attempts: u32,
}

/// Builds (and caches) one [`AwsCtx`] per (region, role).
#[derive(Clone)]
pub struct AwsFactory {
    #[allow(dead_code)]
    settings: AwsSettings,
    #[allow(dead_code)]
    metrics: AwsCallMetrics,
}

impl AwsFactory {
    /// Loads the base configuration (credentials chain, endpoint overrides such as
    /// `AWS_ENDPOINT_URL`) once.
    pub async fn new(settings: AwsSettings, metrics: AwsCallMetrics) -> Self {
        Self { settings, metrics }
    }

    /// Clients for one environment's region and optional role.
    pub async fn context_for(&self, spec: &AwsSpec) -> Result<AwsCtx, AwsError> {
        Ok(AwsCtx {
            region: spec.region.clone(),
        })
    }
}

/// The AWS clients of one environment, plus its call budget.
#[derive(Clone, Debug)]
pub struct AwsCtx {
    pub region: String,
}
