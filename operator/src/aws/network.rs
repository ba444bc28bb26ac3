//! The network stack (component `network`; step: observe / create / update / delete).
//!
//! The network is one CloudFormation stack; this module reads it the way the plan needs
//! (one `DescribeStacks` in the steady state, the events only in failure states) and
//! writes it through [`super::cloudformation`]. It decides nothing: `plan::cfn::stack`
//! does.

use crate::plan::cfn::stack::{History, ObservedStack, needs_events, summarize};

use super::{AwsCtx, AwsError, cloudformation};

pub use cloudformation::{create, delete, update};

/// A stack as observed, with what its events say when they were needed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeenStack {
    pub stack: Option<ObservedStack>,
    pub history: History,
}

/// Reads the stack `name`; reads its events only in a failure state (or, with
/// `want_hash`, after an update that did not reach the wanted content).
pub async fn observe(
    aws: &AwsCtx,
    name: &str,
    want_hash: Option<&str>,
) -> Result<SeenStack, AwsError> {
    let Some(stack) = cloudformation::describe(aws, name).await? else {
        return Ok(SeenStack::default());
    };
    let history = if needs_events(&stack, want_hash) {
        summarize(&cloudformation::events(aws, &stack.stack_id).await?)
    } else {
        History::default()
    };
    Ok(SeenStack { stack: Some(stack), history })
}
