//! What one pass over the components produced, for the status writer.

use std::time::Duration;

use crate::api::{ComponentName, ComponentState, ImageStatus, Outputs};
pub use crate::plan::runtime::{DatabaseHandoff, RuntimeHandoff};

use super::error::ComponentError;

/// Result of reconciling (or cleaning up) one component.
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentReport {
    pub name: ComponentName,
    pub state: ComponentState,
    pub id: Option<String>,
    pub arn: Option<String>,
    /// What happened or what is awaited; never contains secret values.
    pub message: Option<String>,
    /// Whether this pass made AWS write calls for the component.
    pub wrote: bool,
}

/// Result of one pass over every component.
#[derive(Clone, Debug, Default)]
pub struct PassReport {
    pub components: Vec<ComponentReport>,
    pub outputs: Outputs,
    /// Set while any component waits on AWS: when to look again.
    pub requeue_after: Option<Duration>,
    /// Values later components need; never written to status.
    pub runtime: RuntimeHandoff,
    /// `status.database`, when the database component ran.
    pub database: Option<crate::api::DatabaseStatus>,
    /// `status.image`, when the image component got far enough to know it (`None`
    /// keeps what status holds).
    pub image: Option<ImageStatus>,
    /// `status.compute`, when the compute component got far enough to know it (`None`
    /// keeps what status holds).
    pub compute: Option<crate::api::ComputeStatus>,
    /// `status.firewall` / `status.cron`, when their components ran (`None` keeps what
    /// status holds).
    pub firewall: Option<crate::api::FirewallStatus>,
    pub cron: Option<crate::api::CronStatus>,
    /// The pass's first failure (terminal ones first); the components after it still
    /// ran, and its own entry is in `components` when it is terminal.
    pub error: Option<ComponentError>,
}

impl PassReport {
    /// True when nothing waits on AWS and nothing failed.
    pub fn is_settled(&self) -> bool {
        self.requeue_after.is_none() && self.error.is_none()
    }
}
