//! The stack state machine (step: plan; pure, no I/O): from a stack's status, its
//! recent events and the desired content, what to do next.
//!
//! Rules: write only when the deployed hash differs; wait while CloudFormation works;
//! never repeat a create or update that already failed with the same content and attempt
//! token (the user retries by changing the spec or setting the
//! `redcap.dev/reconcile-requested-at` annotation); delete and recreate a stack whose
//! first create rolled back (it never held anything); stop for a human on the two states
//! CloudFormation cannot leave by itself (`UPDATE_ROLLBACK_FAILED`, `ROLLBACK_FAILED`);
//! retry a failed deletion with an exponential backoff computed from the stack's own
//! events, so restarts do not reset it and nothing loops hot.

use std::collections::BTreeMap;
use std::time::Duration;

use super::DesiredStack;
use crate::plan::tags::TagSet;

/// Look again this soon while CloudFormation works on a stack.
pub const BUSY_REQUEUE: Duration = Duration::from_secs(20);
/// First wait before deleting again after a failed deletion; doubles per failure.
pub const DELETE_RETRY_BASE: Duration = Duration::from_secs(60);
/// Longest wait between deletion attempts.
pub const DELETE_RETRY_MAX: Duration = Duration::from_secs(30 * 60);

/// What `DescribeStacks` says about a stack.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedStack {
    pub stack_id: String,
    pub status: String,
    pub reason: Option<String>,
    pub tags: TagSet,
    pub outputs: BTreeMap<String, String>,
}

/// One entry of `DescribeStackEvents`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StackEvent {
    /// The stack itself (`AWS::CloudFormation::Stack`) rather than one of its resources.
    pub is_stack: bool,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
    pub token: Option<String>,
    /// Seconds since the Unix epoch.
    pub at: i64,
}

/// How a stack status is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusKind {
    /// Nothing in flight; the stack can be updated or deleted.
    Stable,
    /// A stable state reached by rolling back a failed update.
    UpdateRolledBack,
    /// CloudFormation is working; wait.
    Busy,
    /// The first create failed and was rolled back: an empty stack that can only be deleted.
    CreateRolledBack,
    /// A rollback failed: needs a human (`ContinueUpdateRollback` or a delete).
    RollbackFailed,
    UpdateRollbackFailed,
    DeleteFailed,
    Deleted,
    /// A status this operator does not know: wait and say so.
    Unknown,
}

impl StatusKind {
    pub fn of(status: &str) -> Self {
        match status {
            "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE" => StatusKind::Stable,
            "UPDATE_ROLLBACK_COMPLETE" | "IMPORT_ROLLBACK_COMPLETE" => StatusKind::UpdateRolledBack,
            "ROLLBACK_COMPLETE" => StatusKind::CreateRolledBack,
            "ROLLBACK_FAILED" => StatusKind::RollbackFailed,
            "UPDATE_ROLLBACK_FAILED" | "UPDATE_FAILED" | "IMPORT_ROLLBACK_FAILED" => {
                StatusKind::UpdateRollbackFailed
            }
            "DELETE_FAILED" => StatusKind::DeleteFailed,
            "DELETE_COMPLETE" => StatusKind::Deleted,
            // CREATE_FAILED is a moment before ROLLBACK_IN_PROGRESS (rollback is on).
            s if s.ends_with("_IN_PROGRESS") || s == "CREATE_FAILED" => StatusKind::Busy,
            _ => StatusKind::Unknown,
        }
    }
}

/// Whether the events must be read to decide (failure states only: the steady state
/// costs one `DescribeStacks`).
pub fn needs_events(seen: &ObservedStack, want_hash: Option<&str>) -> bool {
    match StatusKind::of(&seen.status) {
        StatusKind::UpdateRolledBack => {
            want_hash.is_none() || DesiredStack::deployed_hash(&seen.outputs) != want_hash
        }
        StatusKind::CreateRolledBack
        | StatusKind::RollbackFailed
        | StatusKind::UpdateRollbackFailed
        | StatusKind::DeleteFailed => true,
        StatusKind::Busy => seen.status.contains("ROLLBACK") || seen.status.ends_with("FAILED"),
        _ => false,
    }
}

/// The root cause of the latest operation's failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub logical_id: String,
    pub resource_type: String,
    pub reason: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.logical_id.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{} ({}): {}", self.logical_id, self.resource_type, self.reason)
        }
    }
}

/// What the events say about the latest operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// `ClientRequestToken` of the latest operation (`None`: not started by the operator).
    pub last_token: Option<String>,
    pub failure: Option<Failure>,
    /// Stack-level `DELETE_FAILED` events, and when the latest happened.
    pub delete_failures: u32,
    pub last_delete_failure_at: Option<i64>,
}

/// Reasons CloudFormation gives resources it stopped because another one failed.
fn is_cancellation(reason: &str) -> bool {
    reason.contains("cancelled") || reason.contains("canceled")
}

/// Summarises events, newest first (the order `DescribeStackEvents` returns).
pub fn summarize(events: &[StackEvent]) -> History {
    let mut h =
        History { last_token: events.iter().find_map(|e| e.token.clone()), ..History::default() };
    for e in events.iter().filter(|e| e.is_stack && e.status == "DELETE_FAILED") {
        h.delete_failures += 1;
        h.last_delete_failure_at = Some(h.last_delete_failure_at.map_or(e.at, |t| t.max(e.at)));
    }
    // The latest operation starts at the newest stack event "User Initiated".
    let start = events
        .iter()
        .position(|e| {
            e.is_stack
                && e.status.ends_with("_IN_PROGRESS")
                && e.reason.as_deref() == Some("User Initiated")
        })
        .map_or(events.len(), |i| i + 1);
    let operation = &events[..start];
    let failed = |e: &&StackEvent| !e.is_stack && e.status.ends_with("_FAILED");
    // Oldest resource failure that is not a cancellation; else any resource failure;
    // else what the stack itself says.
    let root = operation
        .iter()
        .rev()
        .filter(failed)
        .find(|e| !e.reason.as_deref().is_some_and(is_cancellation))
        .or_else(|| operation.iter().rev().find(failed))
        .or_else(|| {
            operation
                .iter()
                .find(|e| e.is_stack && e.reason.as_deref().is_some_and(|r| r != "User Initiated"))
        });
    h.failure = root.map(|e| Failure {
        logical_id: if e.is_stack { String::new() } else { e.logical_id.clone() },
        resource_type: e.resource_type.clone(),
        reason: e.reason.clone().unwrap_or_else(|| e.status.clone()),
    });
    h
}

/// The next step of the apply path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplyStep {
    Create,
    Update,
    /// Deployed and matching.
    InSync,
    /// CloudFormation is busy; `creating` when the stack has never been complete.
    Wait {
        reason: String,
        creating: bool,
    },
    /// Delete the empty stack left by a failed first create (then create it again).
    DeleteFailedCreate {
        reason: String,
    },
    /// Delete again after a failed deletion (the backoff has passed).
    RetryDelete {
        reason: String,
    },
    /// Retrying will not help; `code` is the terminal error code.
    Blocked {
        code: &'static str,
        message: String,
    },
}

fn failure_text(history: &History, seen: &ObservedStack) -> String {
    match (&history.failure, &seen.reason) {
        (Some(f), _) => f.to_string(),
        (None, Some(r)) => r.clone(),
        (None, None) => "no reason recorded in the stack events".to_string(),
    }
}

/// The backoff after `n` failed deletions: 1, 2, 4 … minutes, at most 30.
pub fn delete_backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    DELETE_RETRY_BASE.saturating_mul(1u32 << doublings).min(DELETE_RETRY_MAX)
}

/// A `DELETE_FAILED` stack: delete again once the backoff since the last failure passed.
fn after_delete_failure(
    history: &History,
    seen: &ObservedStack,
    now: i64,
) -> Result<String, Duration> {
    let wait = delete_backoff(history.delete_failures.max(1));
    let since = history.last_delete_failure_at.map_or(i64::MAX, |t| now.saturating_sub(t));
    let reason = format!(
        "deletion failed ({} time(s)): {}",
        history.delete_failures.max(1),
        failure_text(history, seen)
    );
    if since >= 0 && u64::try_from(since).unwrap_or(u64::MAX) >= wait.as_secs() {
        Ok(reason)
    } else {
        let left = wait.as_secs().saturating_sub(u64::try_from(since.max(0)).unwrap_or(0));
        Err(Duration::from_secs(left.max(1)))
    }
}

/// What to do on the apply path. `history` matters only when [`needs_events`] said so.
pub fn apply_step(
    want: &DesiredStack,
    seen: Option<&ObservedStack>,
    history: &History,
    now: i64,
) -> (ApplyStep, Option<Duration>) {
    let Some(seen) = seen else {
        return (ApplyStep::Create, None);
    };
    let deployed = DesiredStack::deployed_hash(&seen.outputs);
    let ours = history.last_token.as_deref() == Some(want.token.as_str());
    match StatusKind::of(&seen.status) {
        StatusKind::Deleted => (ApplyStep::Create, None),
        StatusKind::Stable if deployed == Some(want.hash.as_str()) => (ApplyStep::InSync, None),
        StatusKind::Stable => (ApplyStep::Update, None),
        StatusKind::UpdateRolledBack if deployed == Some(want.hash.as_str()) => {
            (ApplyStep::InSync, None)
        }
        StatusKind::UpdateRolledBack if ours => (
            ApplyStep::Blocked {
                code: "StackUpdateRolledBack",
                message: format!(
                    "the update of stack {} failed and was rolled back, so the previous network is still in place: {}. Fix the cause, then change the spec or set the redcap.dev/reconcile-requested-at annotation to try again",
                    want.name,
                    failure_text(history, seen)
                ),
            },
            None,
        ),
        StatusKind::UpdateRolledBack => (ApplyStep::Update, None),
        StatusKind::Busy => {
            let doing = seen.status.to_lowercase().replace('_', " ");
            let mut reason = format!("stack {} is {doing}", want.name);
            if seen.status.contains("ROLLBACK") || seen.status.ends_with("FAILED") {
                reason.push_str(&format!(" after a failure: {}", failure_text(history, seen)));
            }
            let creating =
                seen.status.starts_with("CREATE") || seen.status == "ROLLBACK_IN_PROGRESS";
            (ApplyStep::Wait { reason, creating }, Some(BUSY_REQUEUE))
        }
        StatusKind::CreateRolledBack if ours => (
            ApplyStep::Blocked {
                code: "StackCreateFailed",
                message: format!(
                    "creating stack {} failed and was rolled back: {}. The empty stack is kept so its events can be read; it is deleted and created again after the spec changes or the redcap.dev/reconcile-requested-at annotation is set",
                    want.name,
                    failure_text(history, seen)
                ),
            },
            None,
        ),
        StatusKind::CreateRolledBack => (
            ApplyStep::DeleteFailedCreate {
                reason: format!(
                    "deleting stack {} left empty by a failed first create ({}) to create it again",
                    want.name,
                    failure_text(history, seen)
                ),
            },
            Some(BUSY_REQUEUE),
        ),
        StatusKind::DeleteFailed => match after_delete_failure(history, seen, now) {
            Ok(reason) => (ApplyStep::RetryDelete { reason }, Some(BUSY_REQUEUE)),
            Err(wait) => (
                ApplyStep::Wait {
                    reason: format!(
                        "stack {} could not be deleted ({}); trying again in {}s",
                        want.name,
                        failure_text(history, seen),
                        wait.as_secs()
                    ),
                    creating: true,
                },
                Some(wait),
            ),
        },
        StatusKind::UpdateRollbackFailed => (
            ApplyStep::Blocked {
                code: "StackUpdateRollbackFailed",
                message: format!(
                    "stack {} is {}: {}. CloudFormation cannot continue by itself: fix the cause, then run `aws cloudformation continue-update-rollback --stack-name {}` (see docs/troubleshooting.md)",
                    want.name,
                    seen.status,
                    failure_text(history, seen),
                    want.name
                ),
            },
            None,
        ),
        StatusKind::RollbackFailed => (
            ApplyStep::Blocked {
                code: "StackRollbackFailed",
                message: format!(
                    "stack {} is ROLLBACK_FAILED: {}. Delete it (it never held data) with `aws cloudformation delete-stack --stack-name {}`, retaining the resources that cannot be deleted, and the operator creates it again (see docs/troubleshooting.md)",
                    want.name,
                    failure_text(history, seen),
                    want.name
                ),
            },
            None,
        ),
        StatusKind::Unknown => (
            ApplyStep::Wait {
                reason: format!("stack {} is in the unexpected status {}", want.name, seen.status),
                creating: false,
            },
            Some(BUSY_REQUEUE),
        ),
    }
}

/// The next step of the deletion path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteStep {
    Gone,
    Delete,
    Wait {
        reason: String,
    },
    /// The stack does not carry this environment's UID tag: never touched.
    NotOurs {
        reason: String,
    },
}

/// What to do on the deletion path.
pub fn delete_step(
    name: &str,
    seen: Option<&ObservedStack>,
    uid: &str,
    history: &History,
    now: i64,
) -> (DeleteStep, Option<Duration>) {
    let Some(seen) = seen else {
        return (DeleteStep::Gone, None);
    };
    let kind = StatusKind::of(&seen.status);
    if kind == StatusKind::Deleted {
        return (DeleteStep::Gone, None);
    }
    if !seen.tags.is_owned_by(uid) {
        return (
            DeleteStep::NotOurs {
                reason: format!(
                    "stack {name} is not tagged as owned by this environment; left untouched"
                ),
            },
            None,
        );
    }
    match kind {
        StatusKind::DeleteFailed => match after_delete_failure(history, seen, now) {
            Ok(_) => (DeleteStep::Delete, Some(BUSY_REQUEUE)),
            Err(wait) => (
                DeleteStep::Wait {
                    reason: format!(
                        "stack {name} could not be deleted ({}); trying again in {}s",
                        failure_text(history, seen),
                        wait.as_secs()
                    ),
                },
                Some(wait),
            ),
        },
        StatusKind::Busy if seen.status == "DELETE_IN_PROGRESS" => (
            DeleteStep::Wait { reason: format!("stack {name} is being deleted") },
            Some(BUSY_REQUEUE),
        ),
        // Deleting in the middle of a create or update is refused or leaves a mess: let
        // CloudFormation finish first.
        StatusKind::Busy | StatusKind::Unknown => (
            DeleteStep::Wait {
                reason: format!("stack {name} is {}; deleting once it settles", seen.status),
            },
            Some(BUSY_REQUEUE),
        ),
        _ => (DeleteStep::Delete, Some(BUSY_REQUEUE)),
    }
}

#[cfg(test)]
#[path = "stack_tests.rs"]
mod tests;
