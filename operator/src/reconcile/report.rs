//! What one pass over the components produced, for the status writer.

use std::time::Duration;

use crate::api::{ComponentName, ComponentState, ImageStatus, Outputs};
use crate::plan::secret::SecretString;

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
    /// The pass's first failure (terminal ones first); the components after it still
    /// ran, and its own entry is in `components` when it is terminal.
    pub error: Option<ComponentError>,
}

/// What the compute and firewall components take from this pass. Secret values stay in
/// [`SecretString`]s; nothing here goes to status, Events or logs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuntimeHandoff {
    /// The token the firewall rule compares `cron.php?secret=` with.
    pub cron_token: Option<SecretString>,
    /// The secrets REDCap reads at start (salt, storage and SMTP credentials).
    pub secret_arns: Vec<String>,
    /// The runtime role's policy (`plan::secrets::runtime_policy`), without the database
    /// statement until the database component provides the cluster.
    pub runtime_policy: Option<serde_json::Value>,
    /// The cluster REDCap connects to, once it is available.
    pub database: Option<DatabaseHandoff>,
    /// A restore (`spec.database.restoreFrom`) is built but not cut over yet: the image
    /// and compute steps hold a REDCap version change until it is done, so the new
    /// version's database upgrade runs against the restored data, never the old cluster
    /// (seed issue 107).
    pub database_cutover_pending: bool,
    /// The REDCap image to run, by digest (`<repository>@sha256:...`); `None` until one
    /// has been built.
    pub image: Option<String>,
}

/// What the compute component needs to connect REDCap to the database. No secrets: the
/// master password stays in its Secrets Manager secret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatabaseHandoff {
    pub cluster_identifier: String,
    /// `DbClusterResourceId`, for the `rds-db:connect` statement of the runtime role.
    pub cluster_resource_id: String,
    pub endpoint: String,
    /// Absent without readers.
    pub reader_endpoint: Option<String>,
    pub port: i32,
    pub database_name: String,
    /// The RDS-managed master user secret.
    pub master_secret_arn: Option<String>,
    pub iam_authentication: bool,
}

impl PassReport {
    /// True when nothing waits on AWS and nothing failed.
    pub fn is_settled(&self) -> bool {
        self.requeue_after.is_none() && self.error.is_none()
    }
}
