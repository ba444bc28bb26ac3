//! What one pass did to one component, and the report it becomes (step: reconcile; no
//! I/O). Shared by the secrets, credentials and email walks so their states follow one
//! rule: `Creating` in the pass that created something, `Updating` in a pass that
//! corrected (or, while suspended, found) drift, `Ready` when a pass found everything in
//! sync, `Pending` when something is missing and may not be created.

use crate::api::{ComponentName, ComponentState};
use crate::reconcile::report::ComponentReport;

use super::WriteMode;

#[derive(Debug)]
pub(super) struct Steps {
    mode: WriteMode,
    created: bool,
    changed: bool,
    pending: bool,
    wrote: bool,
    notes: Vec<String>,
}

impl Steps {
    pub fn new(mode: WriteMode) -> Self {
        Self {
            mode,
            created: false,
            changed: false,
            pending: false,
            wrote: false,
            notes: Vec::new(),
        }
    }

    /// Whether writes are allowed in this pass.
    pub fn apply(&self) -> bool {
        self.mode == WriteMode::Apply
    }

    /// Something was created.
    pub fn created(&mut self, what: impl Into<String>) {
        self.created = true;
        self.wrote = true;
        self.notes.push(what.into());
    }

    /// Something is missing and was not created (suspended).
    pub fn missing(&mut self, what: impl Into<String>) {
        self.pending = true;
        self.notes.push(format!("{} (suspended)", what.into()));
    }

    /// Drift was found: corrected in `Apply` mode (the caller made the write), only
    /// reported otherwise.
    pub fn drift(&mut self, what: impl Into<String>) {
        self.changed = true;
        let what = what.into();
        if self.apply() {
            self.wrote = true;
            self.notes.push(format!("corrected drift: {what}"));
        } else {
            self.notes
                .push(format!("drifted, not corrected while suspended: {what}"));
        }
    }

    /// A planned change that is not drift (a rotation); same accounting as [`Self::drift`].
    pub fn changed(&mut self, what: impl Into<String>) {
        self.changed = true;
        let what = what.into();
        if self.apply() {
            self.wrote = true;
            self.notes.push(what);
        } else {
            self.notes
                .push(format!("due, not done while suspended: {what}"));
        }
    }

    /// Extra information for the component's message.
    pub fn note(&mut self, what: impl Into<String>) {
        self.notes.push(what.into());
    }

    pub fn report(
        self,
        name: ComponentName,
        id: Option<String>,
        arn: Option<String>,
    ) -> ComponentReport {
        let state = if self.pending {
            ComponentState::Pending
        } else if self.created {
            ComponentState::Creating
        } else if self.changed {
            ComponentState::Updating
        } else {
            ComponentState::Ready
        };
        let message = self.notes.join("; ");
        ComponentReport {
            name,
            state,
            id,
            arn,
            message: (!message.is_empty()).then_some(message),
            wrote: self.wrote,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_follows_what_happened() {
        let r = Steps::new(WriteMode::Apply).report(ComponentName::Email, None, None);
        assert_eq!(
            (r.state, r.wrote, r.message),
            (ComponentState::Ready, false, None)
        );

        let mut s = Steps::new(WriteMode::Apply);
        s.drift("tags");
        s.created("created topic");
        let r = s.report(ComponentName::Email, None, None);
        assert_eq!(r.state, ComponentState::Creating);
        assert!(r.wrote);

        let mut s = Steps::new(WriteMode::ObserveOnly);
        s.drift("tags");
        let r = s.report(ComponentName::Email, None, None);
        assert_eq!(r.state, ComponentState::Updating);
        assert!(!r.wrote);
        assert_eq!(
            r.message.as_deref(),
            Some("drifted, not corrected while suspended: tags")
        );

        let mut s = Steps::new(WriteMode::ObserveOnly);
        s.missing("topic not created yet");
        assert_eq!(
            s.report(ComponentName::Email, None, None).state,
            ComponentState::Pending
        );
    }
}
