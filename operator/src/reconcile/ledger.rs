//! What one pass did to one component, and the report it becomes (step: reconcile; no
//! I/O). Every component records into a [`Ledger`], so states and wordings follow one
//! rule everywhere:
//!
//! - apply: `Failed` when a terminal problem was found without an error (a failed
//!   build), `Pending` when something is missing and may not be made yet (suspended,
//!   waiting for another component), `Creating` in the pass that created something or
//!   while a first creation is under way, `Updating` in a pass that corrected (or, while
//!   suspended, found) drift or while AWS is busy with a change, `Ready` otherwise;
//! - cleanup: `Deleting` while a deletion is under way or waits for another component,
//!   `Retained` when something was kept on purpose, `Deleted` otherwise.

use std::time::Duration;

use crate::api::{ComponentName, ComponentState};

use super::report::ComponentReport;

/// Whether a pass may write to AWS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Create, update and correct drift.
    Apply,
    /// Observe and report only (`spec.suspend: true`).
    ObserveOnly,
}

/// Which way the walk goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Apply,
    Cleanup,
}

/// The record of one component in one pass.
#[derive(Debug)]
pub struct Ledger {
    pub component: ComponentName,
    mode: WriteMode,
    direction: Direction,
    created: bool,
    /// How many things this pass created (a component can tell whether one call did).
    creations: usize,
    writes: usize,
    creating: bool,
    changed: bool,
    pending: bool,
    deleting: bool,
    retained: bool,
    failed: Option<String>,
    wrote: bool,
    notes: Vec<String>,
    requeue: Option<Duration>,
    id: Option<String>,
    arn: Option<String>,
    /// Cleanup: this component still uses the network / the key (`None`: decided by its
    /// state and the component table).
    network_in_use: Option<bool>,
    key_in_use: Option<bool>,
}

impl Ledger {
    pub fn new(component: ComponentName, mode: WriteMode, direction: Direction) -> Self {
        Self {
            component,
            mode,
            direction,
            created: false,
            creations: 0,
            writes: 0,
            creating: false,
            changed: false,
            pending: false,
            deleting: false,
            retained: false,
            failed: None,
            wrote: false,
            notes: Vec::new(),
            requeue: None,
            id: None,
            arn: None,
            network_in_use: None,
            key_in_use: None,
        }
    }

    /// Whether writes are allowed in this pass.
    pub fn apply(&self) -> bool {
        self.mode == WriteMode::Apply
    }

    /// Something was deleted: part of a change when applying (an old service after a
    /// switch), a deletion when cleaning up.
    pub fn removed(&mut self, what: impl Into<String>) {
        match self.direction {
            Direction::Apply => self.changed(what),
            Direction::Cleanup => self.deleted(what),
        }
    }

    /// Something was created (or adopted).
    pub fn created(&mut self, what: impl Into<String>) {
        self.created = true;
        self.creations += 1;
        self.mark_written();
        self.push(what.into());
    }

    /// A first creation is under way in AWS (a cluster `creating`, a first build).
    pub fn creating(&mut self, what: impl Into<String>, requeue: Duration) {
        self.creating = true;
        self.wait_for(requeue);
        self.push(what.into());
    }

    /// AWS is busy with a change (modifying, snapshotting, a build of a new version).
    pub fn busy(&mut self, what: impl Into<String>, requeue: Duration) {
        self.changed = true;
        self.wait_for(requeue);
        self.push(what.into());
    }

    /// AWS is busy: `busy` when applying, `deleting` when cleaning up.
    pub fn waiting(&mut self, what: impl Into<String>, requeue: Duration) {
        match self.direction {
            Direction::Apply => self.busy(what, requeue),
            Direction::Cleanup => self.deleting(what, Some(requeue)),
        }
    }

    /// Something is missing and was not created because writes are off (suspended).
    pub fn missing(&mut self, what: impl Into<String>) {
        self.pending = true;
        self.notes.push(format!("{} (suspended)", what.into()));
    }

    /// Waiting for something outside this component (another component, a user's
    /// action): `Pending` unless this pass made something.
    pub fn pending(&mut self, what: impl Into<String>) {
        self.pending = true;
        self.push(what.into());
    }

    /// Drift of `what` was found: corrected in `Apply` mode (the caller made the write),
    /// only reported otherwise.
    pub fn drift(&mut self, what: impl Into<String>) {
        self.changed = true;
        let what = what.into();
        if self.apply() {
            self.mark_written();
            self.notes.push(format!("corrected drift: {what}"));
        } else {
            self.notes.push(format!("drifted, not corrected while suspended: {what}"));
        }
    }

    /// A planned change that is not drift (a rotation, a new build); same accounting as
    /// [`Ledger::drift`].
    pub fn changed(&mut self, what: impl Into<String>) {
        self.changed = true;
        let what = what.into();
        if self.apply() {
            self.mark_written();
            self.push(what);
        } else {
            self.notes.push(format!("due, not done while suspended: {what}"));
        }
    }

    /// A terminal problem that is not an error of this pass (a failed build): the
    /// component is `Failed` with `reason` as its message.
    pub fn failed(&mut self, reason: impl Into<String>) {
        self.failed = Some(reason.into());
    }

    /// Extra information for the message.
    pub fn note(&mut self, what: impl Into<String>) {
        self.push(what.into());
    }

    /// A write that is part of something already recorded (no note of its own).
    pub fn mark_written(&mut self) {
        self.wrote = true;
        self.writes += 1;
    }

    /// How many things this pass has created so far.
    pub fn creations(&self) -> usize {
        self.creations
    }

    /// How many writes this pass has made so far.
    pub fn writes(&self) -> usize {
        self.writes
    }

    /// Whether this pass wrote to AWS for the component so far.
    pub fn has_written(&self) -> bool {
        self.wrote
    }

    /// Look again within `after`.
    pub fn wait_for(&mut self, after: Duration) {
        self.requeue = Some(self.requeue.map_or(after, |r| r.min(after)));
    }

    /// The AWS identifier and ARN shown in status.
    pub fn identify(&mut self, id: Option<String>, arn: Option<String>) {
        if id.is_some() {
            self.id = id;
        }
        if arn.is_some() {
            self.arn = arn;
        }
    }

    // --- cleanup ---------------------------------------------------------------------

    /// A deletion that was made in this pass and is complete.
    pub fn deleted(&mut self, what: impl Into<String>) {
        self.mark_written();
        self.push(what.into());
    }

    /// A deletion under way, or one that waits for something: `Deleting`.
    pub fn deleting(&mut self, what: impl Into<String>, requeue: Option<Duration>) {
        self.deleting = true;
        if let Some(r) = requeue {
            self.wait_for(r);
        }
        self.push(what.into());
    }

    /// Something kept on purpose (the deletion policy): `Retained`.
    pub fn retained(&mut self, what: impl Into<String>) {
        self.retained = true;
        self.push(what.into());
    }

    /// Cleanup: whether this component still uses the network's subnets and security
    /// groups (only for components that live in the network; by default, until it is
    /// `Deleted`).
    pub fn network_in_use(&mut self, in_use: bool) {
        self.network_in_use = Some(in_use);
    }

    /// Cleanup: whether something of this component is still encrypted with the key (by
    /// default, until it is `Deleted`).
    pub fn key_in_use(&mut self, in_use: bool) {
        self.key_in_use = Some(in_use);
    }

    fn push(&mut self, what: String) {
        if !what.is_empty() {
            self.notes.push(what);
        }
    }

    /// The state this pass leads to.
    pub fn state(&self) -> ComponentState {
        use ComponentState as S;
        if self.failed.is_some() {
            return S::Failed;
        }
        match self.direction {
            Direction::Apply if self.pending && !self.created && !self.creating => S::Pending,
            Direction::Apply if self.created || self.creating => S::Creating,
            Direction::Apply if self.changed => S::Updating,
            Direction::Apply => S::Ready,
            Direction::Cleanup if self.deleting => S::Deleting,
            Direction::Cleanup if self.retained => S::Retained,
            Direction::Cleanup => S::Deleted,
        }
    }

    /// Cleanup: whether the network must wait for this component.
    pub fn holds_network(&self) -> bool {
        self.component.info().lives_in_network
            && self.network_in_use.unwrap_or(self.state() != ComponentState::Deleted)
    }

    /// Cleanup: whether the key must wait for this component.
    pub fn holds_key(&self) -> bool {
        self.component.info().uses_key
            && self.key_in_use.unwrap_or(self.state() != ComponentState::Deleted)
    }

    pub fn requeue(&self) -> Option<Duration> {
        self.requeue
    }

    pub fn report(&self) -> ComponentReport {
        let message = match &self.failed {
            Some(reason) => reason.clone(),
            None => self.notes.join("; "),
        };
        ComponentReport {
            name: self.component,
            state: self.state(),
            id: self.id.clone(),
            arn: self.arn.clone(),
            message: (!message.is_empty()).then_some(message),
            wrote: self.wrote,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(mode: WriteMode, direction: Direction) -> Ledger {
        Ledger::new(ComponentName::Email, mode, direction)
    }

    #[test]
    fn apply_states_follow_what_happened() {
        let l = ledger(WriteMode::Apply, Direction::Apply);
        let r = l.report();
        assert_eq!((r.state, r.wrote, r.message), (ComponentState::Ready, false, None));

        let mut l = ledger(WriteMode::Apply, Direction::Apply);
        l.drift("tags");
        l.created("created topic");
        let r = l.report();
        assert_eq!(r.state, ComponentState::Creating);
        assert!(r.wrote);
        assert_eq!(r.message.as_deref(), Some("corrected drift: tags; created topic"));

        let mut l = ledger(WriteMode::ObserveOnly, Direction::Apply);
        l.drift("tags");
        let r = l.report();
        assert_eq!(r.state, ComponentState::Updating);
        assert!(!r.wrote);
        assert_eq!(r.message.as_deref(), Some("drifted, not corrected while suspended: tags"));

        let mut l = ledger(WriteMode::ObserveOnly, Direction::Apply);
        l.missing("topic not created yet");
        assert_eq!(l.state(), ComponentState::Pending);
        assert_eq!(l.report().message.as_deref(), Some("topic not created yet (suspended)"));

        // Waiting for a dependency after creating something: the creation wins.
        let mut l = ledger(WriteMode::Apply, Direction::Apply);
        l.created("created repository");
        l.pending("waiting for the network");
        assert_eq!(l.state(), ComponentState::Creating);

        let mut l = ledger(WriteMode::Apply, Direction::Apply);
        l.busy("modifying", Duration::from_secs(15));
        l.busy("snapshotting", Duration::from_secs(5));
        assert_eq!(l.state(), ComponentState::Updating);
        assert_eq!(l.requeue(), Some(Duration::from_secs(5)));

        let mut l = ledger(WriteMode::Apply, Direction::Apply);
        l.note("building");
        l.failed("build failed in phase BUILD");
        let r = l.report();
        assert_eq!(r.state, ComponentState::Failed);
        assert_eq!(r.message.as_deref(), Some("build failed in phase BUILD"));
    }

    #[test]
    fn cleanup_states_and_what_they_hold() {
        let mut l = Ledger::new(ComponentName::Database, WriteMode::Apply, Direction::Cleanup);
        assert_eq!(l.state(), ComponentState::Deleted);
        assert!(!l.holds_network());
        l.retained("kept cluster");
        assert_eq!(l.state(), ComponentState::Retained);
        assert!(l.holds_network(), "a kept cluster keeps its subnets");
        assert!(!l.holds_key(), "the table says the database does not use the key");

        let mut l = Ledger::new(ComponentName::Image, WriteMode::Apply, Direction::Cleanup);
        l.retained("kept repository");
        l.network_in_use(false);
        assert!(!l.holds_network(), "released explicitly");
        assert!(l.holds_key());

        let mut l = Ledger::new(ComponentName::Email, WriteMode::Apply, Direction::Cleanup);
        l.deleting("waiting", Some(Duration::from_secs(5)));
        assert_eq!(l.state(), ComponentState::Deleting);
        assert!(!l.holds_network(), "email does not live in the network");
    }
}
