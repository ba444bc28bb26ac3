//! Kubernetes Events (events.k8s.io/v1) for transitions only: a phase change, or a
//! component becoming Ready, Failed, Deleted or Retained. Steady state publishes nothing.
//!
//! [`transitions`] is pure (old status, new status -> events); [`publish`] sends them and
//! never fails the reconcile. Notes come from the status, which holds no secret values.

use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder};

use crate::api::{
    ComponentName, ComponentState, Phase, RedcapEnvironment, RedcapEnvironmentStatus,
};

/// One Event to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub warning: bool,
    /// PascalCase past-tense fact (`Ready`, `FileStorageDeleted`).
    pub reason: String,
    pub note: String,
    /// What the operator was doing (`Reconcile`, `Delete`).
    pub action: &'static str,
}

/// Event reason for entering `phase`.
fn phase_reason(phase: Phase) -> &'static str {
    match phase {
        Phase::Pending => "Accepted",
        Phase::Provisioning => "ProvisioningStarted",
        Phase::Ready => "Ready",
        Phase::Updating => "UpdateStarted",
        Phase::Suspended => "Suspended",
        Phase::Stalled => "Stalled",
        Phase::Deleting => "DeletionStarted",
    }
}

/// `FileStorage` from `fileStorage`.
fn pascal(name: ComponentName) -> &'static str {
    let t = name.condition_type();
    t.strip_suffix("Ready").unwrap_or(t)
}

/// The Events that the change from `old` to `new` deserves, components first.
pub fn transitions(
    old: Option<&RedcapEnvironmentStatus>,
    new: &RedcapEnvironmentStatus,
) -> Vec<Transition> {
    let mut out = Vec::new();
    for component in &new.components {
        let before = old.and_then(|o| o.components.iter().find(|c| c.name == component.name));
        if before.is_some_and(|b| b.state == component.state) {
            continue;
        }
        let (suffix, warning, action) = match component.state {
            ComponentState::Ready => ("Ready", false, "Reconcile"),
            ComponentState::Failed => ("Failed", true, "Reconcile"),
            ComponentState::Deleted => ("Deleted", false, "Delete"),
            ComponentState::Retained => ("Retained", false, "Delete"),
            _ => continue,
        };
        let mut note = component
            .message
            .clone()
            .unwrap_or_else(|| format!("{} is {}", component.name, suffix.to_lowercase()));
        if let Some(arn) = component.arn.as_deref().or(component.id.as_deref()) {
            note.push_str(&format!(" ({arn})"));
        }
        out.push(Transition {
            warning,
            reason: format!("{}{suffix}", pascal(component.name)),
            note,
            action,
        });
    }
    if let Some(phase) = new.phase
        && old.and_then(|o| o.phase) != Some(phase)
    {
        out.push(Transition {
            warning: phase == Phase::Stalled,
            reason: phase_reason(phase).to_string(),
            note: new
                .phase_reason
                .clone()
                .unwrap_or_else(|| format!("Phase is now {phase}")),
            action: if phase == Phase::Deleting {
                "Delete"
            } else {
                "Reconcile"
            },
        });
    }
    out
}

/// Publishes `events` about `env`; failures are logged, never returned (an Event is a
/// courtesy, the status is the record).
pub async fn publish(recorder: &Recorder, env: &RedcapEnvironment, events: Vec<Transition>) {
    if events.is_empty() {
        return;
    }
    let reference = env.object_ref(&());
    for t in events {
        let event = Event {
            type_: if t.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: t.reason,
            note: Some(t.note),
            action: t.action.to_string(),
            secondary: None,
        };
        if let Err(err) = recorder.publish(&event, &reference).await {
            tracing::warn!(error = %err, reason = %event.reason, "failed to publish Event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ComponentState as S;
    use crate::fixtures::{all, component, report, time};
    use crate::reconcile::status::{Outcome, compute_status};

    fn reasons(events: &[Transition]) -> Vec<&str> {
        events.iter().map(|e| e.reason.as_str()).collect()
    }

    #[test]
    fn phase_changes_and_component_transitions_are_published() {
        let env = RedcapEnvironment::test();
        let pending = compute_status(None, &env, Outcome::Started, &time(1));
        assert_eq!(reasons(&transitions(None, &pending)), ["Accepted"]);

        let creating = report(vec![
            component(ComponentName::EncryptionKey, S::Ready)
                .with_arn("arn:aws:kms:us-east-1:1:key/k"),
            component(ComponentName::FileStorage, S::Creating),
        ])
        .waiting(5);
        let provisioning =
            compute_status(Some(&pending), &env, Outcome::Applied(&creating), &time(2));
        let events = transitions(Some(&pending), &provisioning);
        assert_eq!(
            reasons(&events),
            ["EncryptionKeyReady", "ProvisioningStarted"]
        );
        assert!(events[0].note.contains("arn:aws:kms:us-east-1:1:key/k"));

        let ready = compute_status(
            Some(&provisioning),
            &env,
            Outcome::Applied(&all(S::Ready)),
            &time(3),
        );
        assert_eq!(
            reasons(&transitions(Some(&provisioning), &ready)),
            [
                "NetworkReady",
                "FileStorageReady",
                "SecretsReady",
                "StorageCredentialsReady",
                "EmailReady",
                "SmtpCredentialsReady",
                "GuardDutyReady",
                "ImageReady",
                "Ready"
            ]
        );
    }

    #[test]
    fn steady_state_publishes_nothing() {
        let env = RedcapEnvironment::test();
        let ready = compute_status(None, &env, Outcome::Applied(&all(S::Ready)), &time(3));
        let again = compute_status(
            Some(&ready),
            &env,
            Outcome::Applied(&all(S::Ready)),
            &time(300),
        );
        assert!(transitions(Some(&ready), &again).is_empty());
    }

    #[test]
    fn failures_are_warnings_and_deletions_are_reported() {
        let env = RedcapEnvironment::test();
        let failed = report(vec![
            component(ComponentName::FileStorage, S::Failed).with_message("name taken"),
        ]);
        let stalled = compute_status(None, &env, Outcome::Applied(&failed), &time(1));
        let events = transitions(None, &stalled);
        assert_eq!(reasons(&events), ["FileStorageFailed", "Stalled"]);
        assert!(events.iter().all(|e| e.warning));

        let deleting_env = RedcapEnvironment::test().deleting();
        let done = report(vec![
            component(ComponentName::EncryptionKey, S::Retained),
            component(ComponentName::FileStorage, S::Deleted),
        ]);
        let deleted = compute_status(
            Some(&stalled),
            &deleting_env,
            Outcome::CleaningUp(&done),
            &time(2),
        );
        let events = transitions(Some(&stalled), &deleted);
        assert_eq!(
            reasons(&events),
            [
                "EncryptionKeyRetained",
                "FileStorageDeleted",
                "DeletionStarted"
            ]
        );
        assert!(events.iter().all(|e| !e.warning && e.action == "Delete"));
    }
}
