//! Kubernetes Events (events.k8s.io/v1) for transitions only: a phase change, a
//! component becoming Ready, Failed, Deleted or Retained, and the database's milestones
//! (a restore started or cut over, a snapshot or final snapshot taken). Steady state
//! publishes nothing.
//!
//! [`transitions`] is pure (old status, new status -> events); [`publish`] sends them and
//! never fails the reconcile. Notes come from the status, which holds no secret values.

use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder};

use crate::api::{
    ComponentState, DatabaseStatus, Phase, RedcapEnvironment, RedcapEnvironmentStatus,
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
            reason: format!("{}{suffix}", component.name.event_prefix()),
            note,
            action,
        });
    }
    out.extend(database_transitions(old.and_then(|o| o.database.as_ref()), new.database.as_ref()));
    if let Some(phase) = new.phase
        && old.and_then(|o| o.phase) != Some(phase)
    {
        out.push(Transition {
            warning: phase == Phase::Stalled,
            reason: phase_reason(phase).to_string(),
            note: new.phase_reason.clone().unwrap_or_else(|| format!("Phase is now {phase}")),
            action: if phase == Phase::Deleting { "Delete" } else { "Reconcile" },
        });
    }
    out
}

/// The database's milestones between two statuses.
fn database_transitions(
    old: Option<&DatabaseStatus>,
    new: Option<&DatabaseStatus>,
) -> Vec<Transition> {
    let Some(new) = new else {
        return Vec::new();
    };
    let event = |reason: &str, note: String, action: &'static str| Transition {
        warning: false,
        reason: reason.to_string(),
        note,
        action,
    };
    let mut out = Vec::new();
    if let Some(restore) = &new.restore
        && old.and_then(|o| o.restore.as_ref()).map(|r| &r.cluster_identifier)
            != Some(&restore.cluster_identifier)
    {
        out.push(event(
            "DatabaseRestoreStarted",
            format!(
                "restoring {} into cluster {}; REDCap keeps its current database until the new cluster is ready",
                restore.source, restore.cluster_identifier
            ),
            "Reconcile",
        ));
    }
    if let (Some(before), Some(now)) =
        (old.and_then(|o| o.cluster_identifier.as_ref()), new.cluster_identifier.as_ref())
        && before != now
    {
        let from = new
            .restored_from
            .as_deref()
            .map(|f| format!(" (restored from {f})"))
            .unwrap_or_default();
        out.push(event(
            "DatabaseCutOver",
            format!("REDCap now uses cluster {now}{from}; cluster {before} is retired and kept"),
            "Reconcile",
        ));
    }
    if let Some(snap) = &new.last_snapshot
        && snap.status.as_deref() == Some("available")
        && old
            .and_then(|o| o.last_snapshot.as_ref())
            .is_none_or(|o| o.identifier != snap.identifier || o.status != snap.status)
    {
        out.push(event(
            "DatabaseSnapshotTaken",
            format!("snapshot {} (requested at {})", snap.identifier, snap.requested_at),
            "Reconcile",
        ));
    }
    let before: &[String] = old.map(|o| o.final_snapshots.as_slice()).unwrap_or_default();
    for snap in new.final_snapshots.iter().filter(|s| !before.contains(s)) {
        out.push(event(
            "FinalSnapshotTaken",
            format!("final snapshot {snap} of the database"),
            "Delete",
        ));
    }
    out
}

/// The API server refuses an Event note over 1024 bytes (not characters: a message cut to
/// 1024 characters with a multi-byte ellipsis is refused), so the note is cut to fit.
fn fit_note(mut note: String) -> String {
    const MAX_BYTES: usize = 1024;
    if note.len() <= MAX_BYTES {
        return note;
    }
    let mut cut = MAX_BYTES - '…'.len_utf8();
    while !note.is_char_boundary(cut) {
        cut -= 1;
    }
    note.truncate(cut);
    note.push('…');
    note
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
            type_: if t.warning { EventType::Warning } else { EventType::Normal },
            reason: t.reason,
            note: Some(fit_note(t.note)),
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

    #[test]
    fn notes_fit_the_api_servers_byte_limit() {
        let long = "é".repeat(1000);
        let cut = fit_note(long);
        assert!(cut.len() <= 1024 && cut.ends_with('…'), "{}", cut.len());
        assert_eq!(fit_note("short".into()), "short");
    }
    use crate::api::ComponentName;
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
        assert_eq!(reasons(&events), ["EncryptionKeyReady", "ProvisioningStarted"]);
        assert!(events[0].note.contains("arn:aws:kms:us-east-1:1:key/k"));

        let ready =
            compute_status(Some(&provisioning), &env, Outcome::Applied(&all(S::Ready)), &time(3));
        // Every component but the key (already Ready), in table order, then the phase.
        let mut expected: Vec<String> =
            ComponentName::all().skip(1).map(|n| format!("{}Ready", n.event_prefix())).collect();
        expected.push("Ready".into());
        assert_eq!(reasons(&transitions(Some(&provisioning), &ready)), expected);
    }

    #[test]
    fn steady_state_publishes_nothing() {
        let env = RedcapEnvironment::test();
        let ready = compute_status(None, &env, Outcome::Applied(&all(S::Ready)), &time(3));
        let again =
            compute_status(Some(&ready), &env, Outcome::Applied(&all(S::Ready)), &time(300));
        assert!(transitions(Some(&ready), &again).is_empty());
    }

    #[test]
    fn database_milestones_are_published_once() {
        use crate::api::{RestoreStatus, SnapshotStatus};
        let db = |f: &dyn Fn(&mut DatabaseStatus)| {
            let mut d = DatabaseStatus {
                cluster_identifier: Some("rc-x-db".into()),
                ..DatabaseStatus::default()
            };
            f(&mut d);
            d
        };
        let base = db(&|_| {});
        let restoring = db(&|d| {
            d.restore = Some(RestoreStatus {
                source: "snapshot s1".into(),
                cluster_identifier: "rc-x-db-1234abcd".into(),
                message: None,
            })
        });
        let reasons = |old: &DatabaseStatus, new: &DatabaseStatus| -> Vec<String> {
            database_transitions(Some(old), Some(new)).into_iter().map(|t| t.reason).collect()
        };
        assert_eq!(reasons(&base, &restoring), ["DatabaseRestoreStarted"]);
        assert!(reasons(&restoring, &restoring).is_empty());
        let cut = db(&|d| {
            d.cluster_identifier = Some("rc-x-db-1234abcd".into());
            d.restored_from = Some("snapshot s1".into());
        });
        assert_eq!(reasons(&restoring, &cut), ["DatabaseCutOver"]);
        let snap = |status: &str| {
            db(&|d| {
                d.last_snapshot = Some(SnapshotStatus {
                    identifier: "rc-x-snap-1".into(),
                    requested_at: "now".into(),
                    status: Some(status.into()),
                    created_at: None,
                })
            })
        };
        assert!(reasons(&base, &snap("creating")).is_empty());
        assert_eq!(reasons(&snap("creating"), &snap("available")), ["DatabaseSnapshotTaken"]);
        assert!(reasons(&snap("available"), &snap("available")).is_empty());
        let last = db(&|d| d.final_snapshots = vec!["rc-x-db-final".into()]);
        let events = database_transitions(Some(&base), Some(&last));
        assert_eq!(events.len(), 1);
        assert_eq!((events[0].reason.as_str(), events[0].action), ("FinalSnapshotTaken", "Delete"));
        assert!(events[0].note.contains("rc-x-db-final"));
        assert!(reasons(&last, &last).is_empty());
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
        let deleted =
            compute_status(Some(&stalled), &deleting_env, Outcome::CleaningUp(&done), &time(2));
        let events = transitions(Some(&stalled), &deleted);
        assert_eq!(
            reasons(&events),
            ["EncryptionKeyRetained", "FileStorageDeleted", "DeletionStarted"]
        );
        assert!(events.iter().all(|e| !e.warning && e.action == "Delete"));
    }
}
