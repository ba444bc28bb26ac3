//! Condition types and reasons, and the one helper that sets a condition.
//!
//! `set_condition` keeps `lastTransitionTime` unless the status actually changes, so
//! kstatus watchers see a transition only when there is one.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Top-level condition types (kstatus) plus the per-component `<Component>Ready`
/// conditions, whose type strings come from [`crate::api::ComponentName::condition_type`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionType {
    /// Every component matches the spec.
    Ready,
    /// Work is in flight (kstatus "abnormal-true").
    Reconciling,
    /// A problem retrying will not fix; the spec or the account must change.
    Stalled,
}

impl ConditionType {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionType::Ready => "Ready",
            ConditionType::Reconciling => "Reconciling",
            ConditionType::Stalled => "Stalled",
        }
    }
}

/// Reasons used on conditions, as PascalCase constants (Kubernetes convention).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionReason {
    /// Everything matches the spec.
    Reconciled,
    /// The operator is creating or changing components.
    Progressing,
    /// A component waits for AWS (creating, modifying, propagating).
    WaitingForAws,
    /// A transient AWS or Kubernetes error; the operator retries with backoff.
    RetryingAfterError,
    /// The spec is invalid in a way the schema cannot express.
    InvalidSpec,
    /// AWS refused the request in a way retrying will not fix.
    AwsRejected,
    /// The referenced Kubernetes Secret or key does not exist.
    SecretReferenceMissing,
    /// The operator's tenancy policy does not allow the namespace what the spec asks for
    /// (a role, a DNS name or zone, a restore source).
    NotPermitted,
    /// `spec.suspend` is true.
    Suspended,
    /// The object is being deleted.
    Deleting,
    /// Nothing is in progress.
    Idle,
    /// No terminal problem.
    NoProblem,
    /// The component's spec section is validated but not acted on by this operator
    /// version (docs/components.md).
    NotManaged,
}

impl ConditionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionReason::Reconciled => "Reconciled",
            ConditionReason::Progressing => "Progressing",
            ConditionReason::WaitingForAws => "WaitingForAws",
            ConditionReason::RetryingAfterError => "RetryingAfterError",
            ConditionReason::InvalidSpec => "InvalidSpec",
            ConditionReason::AwsRejected => "AwsRejected",
            ConditionReason::SecretReferenceMissing => "SecretReferenceMissing",
            ConditionReason::NotPermitted => "NotPermitted",
            ConditionReason::Suspended => "Suspended",
            ConditionReason::Deleting => "Deleting",
            ConditionReason::Idle => "Idle",
            ConditionReason::NoProblem => "NoProblem",
            ConditionReason::NotManaged => "NotManaged",
        }
    }
}

/// Condition status values.
pub const TRUE: &str = "True";
pub const FALSE: &str = "False";
pub const UNKNOWN: &str = "Unknown";

/// Sets (or adds) the condition `type_` in `conditions`.
///
/// `lastTransitionTime` changes only when `status` changes; reason, message and
/// observedGeneration are always refreshed. Returns whether the status flipped.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: impl Into<String>,
    observed_generation: Option<i64>,
    now: &Time,
) -> bool {
    let message = message.into();
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => {
            let flipped = existing.status != status;
            if flipped {
                existing.last_transition_time = now.clone();
            }
            existing.status = status.to_string();
            existing.reason = reason.to_string();
            existing.message = message;
            existing.observed_generation = observed_generation;
            flipped
        }
        None => {
            conditions.push(Condition {
                type_: type_.to_string(),
                status: status.to_string(),
                reason: reason.to_string(),
                message,
                observed_generation,
                last_transition_time: now.clone(),
            });
            true
        }
    }
}

/// The condition of type `type_`, if present.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Whether the condition of type `type_` is present with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find_condition(conditions, type_).is_some_and(|c| c.status == TRUE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        let mut conds = Vec::new();
        assert!(set_condition(
            &mut conds,
            "Ready",
            FALSE,
            "Progressing",
            "creating",
            Some(1),
            &time(10)
        ));
        assert!(!set_condition(
            &mut conds,
            "Ready",
            FALSE,
            "WaitingForAws",
            "still creating",
            Some(2),
            &time(20)
        ));
        assert_eq!(conds[0].last_transition_time, time(10));
        assert_eq!(conds[0].reason, "WaitingForAws");
        assert_eq!(conds[0].observed_generation, Some(2));
        assert!(set_condition(
            &mut conds,
            "Ready",
            TRUE,
            "Reconciled",
            "ready",
            Some(2),
            &time(30)
        ));
        assert_eq!(conds[0].last_transition_time, time(30));
        assert!(is_true(&conds, "Ready"));
        assert!(!is_true(&conds, "Stalled"));
    }
}
