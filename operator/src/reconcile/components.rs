//! Walks the components in dependency order (CONTRACT STUB: the AWS work replaces the
//! bodies; the public API stays).

use crate::api::RedcapEnvironment;
use crate::aws::{AwsCtx, AwsError};

use super::report::PassReport;

/// Whether a pass may write to AWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Create, update and correct drift.
    Apply,
    /// Observe and report only (`spec.suspend: true`).
    ObserveOnly,
}

/// A component step that failed, with the component it belongs to.
#[derive(Debug, thiserror::Error)]
pub enum ComponentError {
    /// An AWS call failed.
    #[error("{component}: {source}")]
    Aws {
        component: crate::api::ComponentName,
        #[source]
        source: AwsError,
    },
    /// The spec asks for something impossible for this component (terminal).
    #[error("{component}: {message}")]
    Invalid {
        component: crate::api::ComponentName,
        message: String,
    },
}

/// Observes every component and, in `Apply` mode, creates/updates/corrects it.
pub async fn apply_components(
    _aws: &AwsCtx,
    _env: &RedcapEnvironment,
    _mode: WriteMode,
) -> Result<PassReport, ComponentError> {
    Ok(PassReport::default())
}

/// Handles every component per `deletionPolicy`, in reverse dependency order.
/// Returns a report whose `requeue_after` is set while deletions are still in progress.
pub async fn cleanup_components(
    _aws: &AwsCtx,
    _env: &RedcapEnvironment,
) -> Result<PassReport, ComponentError> {
    Ok(PassReport::default())
}
