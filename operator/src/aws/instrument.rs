//! Counts every AWS call by service, operation and result (CONTRACT STUB: the AWS work
//! replaces the body; the public API stays).

use prometheus_client::registry::Registry;

/// Prometheus families for AWS calls. Cheap to clone (shared families).
#[derive(Clone, Debug, Default)]
pub struct AwsCallMetrics {}

impl AwsCallMetrics {
    /// Creates the families and registers them (prefix `redcap_operator_aws_`).
    pub fn register(_registry: &mut Registry) -> Self {
        Self {}
    }
}
