//! What one pass over the components produced, for the status writer.

use std::time::Duration;

use crate::api::{ComponentName, ComponentState, Outputs};

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
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PassReport {
    pub components: Vec<ComponentReport>,
    pub outputs: Outputs,
    /// Set while any component waits on AWS: when to look again.
    pub requeue_after: Option<Duration>,
}

impl PassReport {
    /// True when every component reached its target state and nothing waits on AWS.
    pub fn is_settled(&self) -> bool {
        self.requeue_after.is_none()
    }
}
