//! The one status writer: [`compute_status`] derives the whole `.status` from the previous
//! status, the object and what this reconcile step produced (pure, unit-tested), and
//! [`apply_status`] server-side-applies it to the status subresource, skipping the write
//! when nothing changed (no status write in steady state).
//!
//! kstatus contract: `observedGeneration` is `metadata.generation`; `Ready`, `Reconciling`
//! and `Stalled` exist from the first reconcile; one `<Component>Ready` per component.
//! Messages come from component reports and classified errors, never from secret values.
//! This module must not call AWS.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};

use crate::api::conditions::{FALSE, TRUE, find_condition, set_condition};
use crate::api::{
    ComponentState, ComponentStatus, ConditionReason, ConditionType, FIELD_MANAGER, Phase,
    RedcapEnvironment, RedcapEnvironmentStatus,
};
use crate::aws::ErrorClass;
use crate::reconcile::error::Error;
use crate::reconcile::report::{ComponentReport, PassReport};

/// Longest message written to a condition or `phaseReason` (the API allows 32 KiB; a
/// status stays readable in `kubectl describe` well below that).
const MAX_MESSAGE: usize = 1024;

/// What the current reconcile step produced.
#[derive(Clone, Copy, Debug)]
pub enum Outcome<'a> {
    /// A generation is seen for the first time; no AWS work has happened yet.
    Started,
    /// A pass over the components finished (`Apply`, or `ObserveOnly` when suspended).
    Applied(&'a PassReport),
    /// A deletion pass finished; `requeue_after` is set while deletions are in progress.
    CleaningUp(&'a PassReport),
    /// The object is being deleted while `spec.suspend` is true: nothing is deleted.
    DeletionHeld,
    /// A step failed.
    Failed(&'a Error),
}

/// The whole status after `outcome`, given the status before it.
///
/// `now` must have whole-second precision (what the API server stores), or the
/// comparison with the stored status would see phantom differences.
pub fn compute_status(
    old: Option<&RedcapEnvironmentStatus>,
    env: &RedcapEnvironment,
    outcome: Outcome<'_>,
    now: &Time,
) -> RedcapEnvironmentStatus {
    let generation = env.meta().generation;
    let mut status = old.cloned().unwrap_or_default();
    status.observed_generation = generation;
    // Derived from namespace, name and UID, so it is fixed for the object's life; shown
    // so users can find the environment's AWS resources by name.
    if let Ok(identity) = crate::plan::EnvIdentity::from_env(env) {
        status.environment_id = Some(identity.environment_id());
    }

    match outcome {
        Outcome::Applied(report) | Outcome::CleaningUp(report) => {
            merge_components(&mut status.components, &report.components, now);
            status.outputs = report.outputs.clone();
            if report.database.is_some() {
                status.database = report.database.clone();
            }
            if let Some(image) = &report.image {
                status.image = Some(image.clone());
            }
            if let Some(compute) = &report.compute {
                status.compute = Some(compute.clone());
            }
            if let Some(firewall) = &report.firewall {
                status.firewall = Some(firewall.clone());
            }
            if let Some(cron) = &report.cron {
                status.cron = Some(cron.clone());
            }
        }
        _ => {}
    }
    // A pass whose report carries a failure ends like a failed reconcile (the same status
    // `Outcome::Failed` of that error would give, so the writer's second look is a no-op).
    let failure = match outcome {
        Outcome::Applied(r) | Outcome::CleaningUp(r) => {
            r.error.clone().map(|source| Error::Component { source })
        }
        _ => None,
    };
    let outcome = match &failure {
        Some(err) => Outcome::Failed(err),
        None => outcome,
    };
    if let Outcome::Failed(err) = outcome
        && err.class() == ErrorClass::Terminal
        && let Some(name) = err.component()
    {
        let report = ComponentReport {
            name,
            state: ComponentState::Failed,
            id: None,
            arn: None,
            message: err.component_message(),
            wrote: false,
        };
        merge_components(&mut status.components, &[report], now);
    }
    let summary = summarize(old, env, outcome, &status.components);
    status.phase = Some(summary.phase);
    status.phase_reason = Some(truncate(&summary.phase_reason));
    let mut set = |type_: ConditionType, c: &Cond| {
        set_condition(
            &mut status.conditions,
            type_.as_str(),
            if c.status { TRUE } else { FALSE },
            c.reason.as_str(),
            truncate(&c.message),
            generation,
            now,
        );
    };
    set(ConditionType::Ready, &summary.ready);
    set(ConditionType::Reconciling, &summary.reconciling);
    set(ConditionType::Stalled, &summary.stalled);
    for component in &status.components {
        // The failed component's condition carries the error's own reason
        // (`SecretReferenceMissing`, `InvalidSpec`), not a generic one.
        let (ok, mut reason, default_message) = component_condition(component.state);
        if let Outcome::Failed(err) = outcome
            && err.class() == ErrorClass::Terminal
            && err.component() == Some(component.name)
        {
            reason = err.reason();
        }
        let message = component.message.clone().unwrap_or_else(|| default_message.to_string());
        set_condition(
            &mut status.conditions,
            component.name.condition_type(),
            if ok { TRUE } else { FALSE },
            reason.as_str(),
            truncate(&message),
            generation,
            now,
        );
    }

    // Only a change is worth a timestamp: refreshing it on every steady-state pass would
    // turn each resync into a status write.
    let completed = !matches!(outcome, Outcome::Started | Outcome::Failed(_));
    if completed && old != Some(&status) {
        status.last_reconcile_time = Some(now.clone());
    }
    status
}

/// One top-level condition.
struct Cond {
    status: bool,
    reason: ConditionReason,
    message: String,
}

fn cond(status: bool, reason: ConditionReason, message: impl Into<String>) -> Cond {
    Cond { status, reason, message: message.into() }
}

struct Summary {
    phase: Phase,
    phase_reason: String,
    ready: Cond,
    reconciling: Cond,
    stalled: Cond,
}

/// Whether the environment has been Ready before, which makes further work an update
/// rather than a first provisioning.
fn was_ready_before(old: Option<&RedcapEnvironmentStatus>) -> bool {
    old.is_some_and(|s| {
        matches!(s.phase, Some(Phase::Ready | Phase::Updating))
            || find_condition(&s.conditions, ConditionType::Ready.as_str())
                .is_some_and(|c| c.status == TRUE)
    })
}

fn progress_phase(old: Option<&RedcapEnvironmentStatus>) -> Phase {
    if was_ready_before(old) { Phase::Updating } else { Phase::Provisioning }
}

fn summarize(
    old: Option<&RedcapEnvironmentStatus>,
    env: &RedcapEnvironment,
    outcome: Outcome<'_>,
    components: &[ComponentStatus],
) -> Summary {
    use ConditionReason as R;
    let generation = env.meta().generation.unwrap_or_default();
    let deleting = env.meta().deletion_timestamp.is_some();
    let suspended = env.spec.suspend;

    match outcome {
        Outcome::Failed(err) if err.class() == ErrorClass::Terminal => {
            let message = err.message();
            let reason = err.reason();
            Summary {
                phase: Phase::Stalled,
                phase_reason: message.clone(),
                ready: cond(false, reason, message.clone()),
                reconciling: cond(
                    false,
                    reason,
                    "Retrying will not help; the spec or the AWS account must change",
                ),
                stalled: cond(true, reason, message),
            }
        }
        Outcome::Failed(err) => {
            let message = err.message();
            // A transient error says nothing about the components: a Ready environment
            // stays Ready (and keeps its phase) for the generation it was Ready for.
            let still_ready = !deleting
                && old.is_some_and(|s| {
                    s.observed_generation == env.meta().generation
                        && find_condition(&s.conditions, ConditionType::Ready.as_str())
                            .is_some_and(|c| c.status == TRUE)
                });
            let phase = if deleting {
                Phase::Deleting
            } else if suspended {
                Phase::Suspended
            } else if let (true, Some(phase)) = (still_ready, old.and_then(|s| s.phase)) {
                phase
            } else {
                progress_phase(old)
            };
            let ready = match old
                .and_then(|s| find_condition(&s.conditions, ConditionType::Ready.as_str()))
            {
                Some(c) if still_ready => {
                    cond(true, reason_or(&c.reason, R::Reconciled), c.message.clone())
                }
                _ => cond(false, R::RetryingAfterError, message.clone()),
            };
            Summary {
                phase,
                phase_reason: format!("Retrying after a recoverable error: {message}"),
                ready,
                reconciling: cond(true, R::RetryingAfterError, message),
                stalled: cond(false, R::NoProblem, "No terminal problem"),
            }
        }
        Outcome::DeletionHeld => Summary {
            phase: Phase::Deleting,
            phase_reason: "suspended: deletion held".into(),
            ready: cond(false, R::Deleting, "The object is being deleted"),
            reconciling: cond(
                false,
                R::Suspended,
                "spec.suspend is true: deletion is held, nothing is deleted",
            ),
            stalled: cond(false, R::Suspended, "spec.suspend is true"),
        },
        Outcome::CleaningUp(report) => {
            let (phase, phase_reason, reconciling) = if let Some(failed) = first_failed(components)
            {
                (Phase::Stalled, failed.clone(), cond(false, R::AwsRejected, failed))
            } else if report.is_settled() {
                let m = "Every component is deleted or retained per spec.deletionPolicy";
                (Phase::Deleting, m.to_string(), cond(false, R::Deleting, m))
            } else {
                let m = format!("Deleting: {}", pending_summary(components, true));
                (Phase::Deleting, m.clone(), cond(true, R::Deleting, m))
            };
            let stalled = match phase {
                Phase::Stalled => cond(true, R::AwsRejected, phase_reason.clone()),
                _ => cond(false, R::NoProblem, "No terminal problem"),
            };
            Summary {
                phase,
                phase_reason,
                ready: cond(false, R::Deleting, "The object is being deleted"),
                reconciling,
                stalled,
            }
        }
        Outcome::Started | Outcome::Applied(_) if suspended => {
            let settled = match outcome {
                Outcome::Applied(report) => report.is_settled(),
                _ => true,
            };
            let all_ready = settled
                && components
                    .iter()
                    .all(|c| matches!(c.state, ComponentState::Ready | ComponentState::Planned));
            let detail = if all_ready {
                "every component matches the spec".to_string()
            } else {
                format!(
                    "not every component matches the spec: {}",
                    pending_summary(components, false)
                )
            };
            Summary {
                phase: Phase::Suspended,
                phase_reason: format!("spec.suspend is true: no AWS writes; {detail}"),
                ready: cond(all_ready, R::Suspended, format!("Suspended; {detail}")),
                reconciling: cond(false, R::Suspended, "spec.suspend is true: no AWS writes"),
                stalled: cond(false, R::Suspended, "spec.suspend is true"),
            }
        }
        Outcome::Started => {
            let first = old.is_none_or(|s| matches!(s.phase, None | Some(Phase::Pending)));
            let (phase, message) = if first {
                (Phase::Pending, "Accepted; creating the environment".to_string())
            } else {
                (progress_phase(old), format!("Applying generation {generation}"))
            };
            Summary {
                phase,
                phase_reason: message.clone(),
                ready: cond(false, R::Progressing, message.clone()),
                reconciling: cond(true, R::Progressing, message),
                stalled: cond(false, R::NoProblem, "No terminal problem"),
            }
        }
        Outcome::Applied(report) => {
            if let Some(failed) = first_failed(components) {
                return Summary {
                    phase: Phase::Stalled,
                    phase_reason: failed.clone(),
                    ready: cond(false, R::AwsRejected, failed.clone()),
                    reconciling: cond(false, R::AwsRejected, failed.clone()),
                    stalled: cond(true, R::AwsRejected, failed),
                };
            }
            let all_ready = components
                .iter()
                .all(|c| matches!(c.state, ComponentState::Ready | ComponentState::Planned));
            if all_ready && report.is_settled() {
                let m = ready_message(components);
                return Summary {
                    phase: Phase::Ready,
                    phase_reason: m.clone(),
                    ready: cond(true, R::Reconciled, m),
                    reconciling: cond(false, R::Idle, "Nothing is in progress"),
                    stalled: cond(false, R::NoProblem, "No terminal problem"),
                };
            }
            let reason =
                if report.requeue_after.is_some() { R::WaitingForAws } else { R::Progressing };
            let m = format!("Waiting for: {}", pending_summary(components, false));
            Summary {
                phase: progress_phase(old),
                phase_reason: m.clone(),
                ready: cond(false, reason, m.clone()),
                reconciling: cond(true, reason, m),
                stalled: cond(false, R::NoProblem, "No terminal problem"),
            }
        }
    }
}

/// `Ready`'s message: every component matches the spec, naming the spec sections this
/// operator version does not act on yet (they are validated, not reconciled).
fn ready_message(components: &[ComponentStatus]) -> String {
    let planned: Vec<String> = components
        .iter()
        .filter(|c| c.state == ComponentState::Planned)
        .map(|c| format!("{} ({})", c.name, c.name.info().section))
        .collect();
    if planned.is_empty() {
        "Every component matches the spec".to_string()
    } else {
        format!(
            "Every built component matches the spec; not managed by this operator version yet: {}",
            planned.join(", ")
        )
    }
}

/// Keeps a reason already written (`Reconciled`) when it is one of ours.
fn reason_or(existing: &str, fallback: ConditionReason) -> ConditionReason {
    match existing {
        "Reconciled" => ConditionReason::Reconciled,
        "Suspended" => ConditionReason::Suspended,
        _ => fallback,
    }
}

/// `<Component>Ready` status, reason and default message per component state.
fn component_condition(state: ComponentState) -> (bool, ConditionReason, &'static str) {
    use ComponentState as S;
    use ConditionReason as R;
    match state {
        S::Ready => (true, R::Reconciled, "Matches the spec"),
        S::Pending => (false, R::Progressing, "Not created yet"),
        S::Creating => (false, R::WaitingForAws, "Being created"),
        S::Updating => (false, R::WaitingForAws, "Being updated"),
        S::Failed => (false, R::AwsRejected, "Failed"),
        S::Deleting => (false, R::Deleting, "Being deleted"),
        S::Deleted => (false, R::Deleting, "Deleted"),
        S::Retained => (false, R::Deleting, "Retained in AWS per spec.deletionPolicy"),
        S::Planned => (false, R::NotManaged, "Validated, not acted on by this operator version"),
    }
}

/// "name: message" of the first failed component.
fn first_failed(components: &[ComponentStatus]) -> Option<String> {
    components
        .iter()
        .find(|c| c.state == ComponentState::Failed)
        .map(|c| format!("{}: {}", c.name, c.message.as_deref().unwrap_or("failed")))
}

/// The components still in progress, with their messages, in dependency order.
fn pending_summary(components: &[ComponentStatus], deleting: bool) -> String {
    let done = |s: ComponentState| {
        if deleting {
            matches!(s, ComponentState::Deleted | ComponentState::Retained)
        } else {
            matches!(s, ComponentState::Ready | ComponentState::Planned)
        }
    };
    let parts: Vec<String> = components
        .iter()
        .filter(|c| !done(c.state))
        .map(|c| {
            let (_, _, default) = component_condition(c.state);
            format!("{} ({})", c.name, c.message.as_deref().unwrap_or(default))
        })
        .collect();
    if parts.is_empty() { "AWS to settle".to_string() } else { parts.join("; ") }
}

/// Merges reports into the component list: state, ids and message from the report,
/// `lastTransitionTime` moved only when the state changes; dependency order kept.
fn merge_components(
    components: &mut Vec<ComponentStatus>,
    reports: &[ComponentReport],
    now: &Time,
) {
    for report in reports {
        match components.iter_mut().find(|c| c.name == report.name) {
            Some(existing) => {
                if existing.state != report.state || existing.last_transition_time.is_none() {
                    existing.last_transition_time = Some(now.clone());
                }
                existing.state = report.state;
                existing.id = report.id.clone().or(existing.id.take());
                existing.arn = report.arn.clone().or(existing.arn.take());
                existing.message = report.message.as_deref().map(truncate);
            }
            None => components.push(ComponentStatus {
                name: report.name,
                state: report.state,
                id: report.id.clone(),
                arn: report.arn.clone(),
                last_transition_time: Some(now.clone()),
                message: report.message.as_deref().map(truncate),
            }),
        }
    }
    // `ComponentName` is declared in dependency order.
    components.sort_by_key(|c| c.name);
}

fn truncate(s: &str) -> String {
    if s.len() <= MAX_MESSAGE {
        return s.to_string();
    }
    let mut end = MAX_MESSAGE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The current time at the precision the API server stores.
pub fn now() -> Time {
    Time(
        jiff::Timestamp::from_second(jiff::Timestamp::now().as_second())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    )
}

/// Server-side-applies `status` to the status subresource, unless it equals `current`.
/// Returns whether a write happened.
pub async fn apply_status(
    api: &Api<RedcapEnvironment>,
    name: &str,
    current: Option<&RedcapEnvironmentStatus>,
    status: &RedcapEnvironmentStatus,
) -> Result<bool, kube::Error> {
    if current == Some(status) {
        return Ok(false);
    }
    let patch = serde_json::json!({
        "apiVersion": RedcapEnvironment::api_version(&()),
        "kind": RedcapEnvironment::kind(&()),
        "status": status,
    });
    api.patch_status(name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch))
        .await?;
    Ok(true)
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
