//! The one converge loop (step: reconcile): observe -> absent / owned / not ours ->
//! create or adopt / correct drift / report drift while suspended. Every component
//! drives its resources through [`converge`], so creation, adoption, refusal of a
//! foreign resource and the observe-only rule are written once and tested once (below,
//! with an in-memory resource).

use crate::aws::resource::{Presence, Resource};
use crate::aws::{AwsCtx, AwsError};
use crate::plan::describe_all;

use super::ComponentError;
use super::ledger::Ledger;

/// Brings the resource `want` describes to its desired state as far as the ledger's mode
/// allows. Returns what it is now (`None`: absent and not created while suspended).
///
/// A resource that exists without this environment's UID tag is never touched: the
/// component fails with a terminal `NotOwned` error naming it, unless it is adoptable
/// (an interrupted create of ours), which is taken over when writes are allowed.
pub async fn converge<R: Resource>(
    aws: &AwsCtx,
    uid: &str,
    l: &mut Ledger,
    want: &R,
) -> Result<Option<R::Seen>, ComponentError> {
    let c = l.component;
    let label = want.label();
    let seen = match want.observe(aws, uid).await.map_err(aws_err(c))? {
        Presence::Owned(seen) => seen,
        Presence::Absent if !l.apply() => {
            l.missing(format!("{label} not created yet"));
            return Ok(None);
        }
        Presence::Absent => {
            let seen = want.create(aws).await.map_err(aws_err(c))?;
            l.created(format!("created {label}"));
            return Ok(Some(seen));
        }
        Presence::Foreign { adoptable: true, .. } if l.apply() => {
            let seen = want.adopt(aws).await.map_err(aws_err(c))?;
            l.created(format!("adopted {label} left by an interrupted create"));
            return Ok(Some(seen));
        }
        Presence::Foreign { reason: Some(reason), .. } => return Err(refused(c, reason)),
        Presence::Foreign { .. } => return Err(not_owned(c, &label)),
    };
    correct(aws, l, want, &seen).await?;
    Ok(Some(seen))
}

/// [`converge`] for a resource this component creates some other way (a secret made
/// with its access key): absent is `None` with nothing said, an existing one is checked
/// for ownership and drift as usual.
pub async fn converge_existing<R: Resource>(
    aws: &AwsCtx,
    uid: &str,
    l: &mut Ledger,
    want: &R,
) -> Result<Option<R::Seen>, ComponentError> {
    let c = l.component;
    match want.observe(aws, uid).await.map_err(aws_err(c))? {
        Presence::Absent => Ok(None),
        Presence::Owned(seen) => {
            correct(aws, l, want, &seen).await?;
            Ok(Some(seen))
        }
        Presence::Foreign { reason: Some(reason), .. } => Err(refused(c, reason)),
        Presence::Foreign { .. } => Err(not_owned(c, &want.label())),
    }
}

/// Corrects the drift of a resource that is ours, or reports it while suspended.
async fn correct<R: Resource>(
    aws: &AwsCtx,
    l: &mut Ledger,
    want: &R,
    seen: &R::Seen,
) -> Result<(), ComponentError> {
    let changes = want.changes(seen);
    if !changes.is_empty() {
        if l.apply() {
            want.update(aws, seen, &changes).await.map_err(aws_err(l.component))?;
        }
        l.drift(format!("{}: {}", want.label(), describe_all(&changes)));
    }
    Ok(())
}

/// The terminal error for a resource under our name that is not ours.
pub fn not_owned(component: crate::api::ComponentName, label: &str) -> ComponentError {
    refused(
        component,
        format!(
            "{label} exists and is not tagged as owned by this environment; it is left untouched"
        ),
    )
}

fn refused(component: crate::api::ComponentName, message: String) -> ComponentError {
    ComponentError::Aws {
        component,
        source: AwsError::terminal("operator", "CheckOwnership", "NotOwned", message),
    }
}

fn aws_err(component: crate::api::ComponentName) -> impl Fn(AwsError) -> ComponentError {
    move |source| ComponentError::Aws { component, source }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::api::{ComponentName, ComponentState};
    use crate::aws::ErrorClass;
    use crate::plan::Describe;
    use crate::reconcile::ledger::{Direction, WriteMode};

    /// A resource held in memory: `value` is its one setting, `owner` its UID tag.
    #[derive(Default)]
    struct Memory {
        state: Mutex<Option<(String, Option<String>)>>,
        writes: Mutex<Vec<&'static str>>,
        want: String,
        adoptable: bool,
    }

    struct Setting;

    impl Describe for Setting {
        fn describe(&self) -> String {
            "setting".into()
        }
    }

    impl Memory {
        fn wanting(value: &str) -> Self {
            Self { want: value.into(), ..Self::default() }
        }
        fn holding(self, value: &str, owner: Option<&str>) -> Self {
            *self.state.lock().expect("lock") = Some((value.into(), owner.map(str::to_string)));
            self
        }
        fn write(&self, what: &'static str, value: &str) {
            self.writes.lock().expect("lock").push(what);
            *self.state.lock().expect("lock") = Some((value.into(), Some("uid".into())));
        }
        fn writes(&self) -> Vec<&'static str> {
            self.writes.lock().expect("lock").clone()
        }
    }

    impl Resource for Memory {
        type Seen = String;
        type Change = Setting;

        fn label(&self) -> String {
            "thing t".into()
        }

        async fn observe(&self, _: &AwsCtx, uid: &str) -> Result<Presence<String>, AwsError> {
            Ok(match self.state.lock().expect("lock").clone() {
                None => Presence::Absent,
                Some((v, Some(owner))) if owner == uid => Presence::Owned(v),
                Some(_) => Presence::Foreign { adoptable: self.adoptable, reason: None },
            })
        }

        async fn create(&self, _: &AwsCtx) -> Result<String, AwsError> {
            self.write("create", &self.want);
            Ok(self.want.clone())
        }

        fn changes(&self, seen: &String) -> Vec<Setting> {
            if *seen == self.want { Vec::new() } else { vec![Setting] }
        }

        async fn update(&self, _: &AwsCtx, _: &String, _: &[Setting]) -> Result<(), AwsError> {
            self.write("update", &self.want);
            Ok(())
        }

        async fn adopt(&self, _: &AwsCtx) -> Result<String, AwsError> {
            let value = self.state.lock().expect("lock").clone().unwrap_or_default().0;
            self.write("adopt", &value);
            Ok(value)
        }
    }

    async fn run(r: &Memory, mode: WriteMode) -> (Result<Option<String>, ComponentError>, Ledger) {
        let aws = crate::fixtures::aws().await;
        let mut l = Ledger::new(ComponentName::Email, mode, Direction::Apply);
        let out = converge(&aws, "uid", &mut l, r).await;
        (out, l)
    }

    #[tokio::test]
    async fn absent_is_created_or_reported_while_suspended() {
        let r = Memory::wanting("a");
        let (out, l) = run(&r, WriteMode::ObserveOnly).await;
        assert_eq!(out.expect("ok"), None);
        assert_eq!(l.state(), ComponentState::Pending);
        assert_eq!(l.report().message.as_deref(), Some("thing t not created yet (suspended)"));
        assert!(r.writes().is_empty());

        let (out, l) = run(&r, WriteMode::Apply).await;
        assert_eq!(out.expect("ok").as_deref(), Some("a"));
        assert_eq!(l.state(), ComponentState::Creating);
        assert!(l.report().wrote);
        assert_eq!(r.writes(), vec!["create"]);
    }

    #[tokio::test]
    async fn owned_in_sync_writes_nothing() {
        let r = Memory::wanting("a").holding("a", Some("uid"));
        let (_, l) = run(&r, WriteMode::Apply).await;
        let report = l.report();
        assert_eq!((report.state, report.wrote), (ComponentState::Ready, false));
        assert!(r.writes().is_empty());
    }

    #[tokio::test]
    async fn drift_is_corrected_or_only_reported_while_suspended() {
        let r = Memory::wanting("a").holding("b", Some("uid"));
        let (_, l) = run(&r, WriteMode::ObserveOnly).await;
        assert_eq!(
            l.report().message.as_deref(),
            Some("drifted, not corrected while suspended: thing t: setting")
        );
        assert!(r.writes().is_empty());
        let (_, l) = run(&r, WriteMode::Apply).await;
        assert_eq!(l.state(), ComponentState::Updating);
        assert_eq!(l.report().message.as_deref(), Some("corrected drift: thing t: setting"));
        assert_eq!(r.writes(), vec!["update"]);
    }

    #[tokio::test]
    async fn foreign_is_refused_unless_adoptable() {
        let r = Memory::wanting("a").holding("a", Some("someone-else"));
        let (out, _) = run(&r, WriteMode::Apply).await;
        let err = out.expect_err("not ours");
        assert_eq!(err.class(), ErrorClass::Terminal);
        assert!(err.to_string().contains("thing t exists and is not tagged"), "{err}");
        assert!(r.writes().is_empty());

        let mut r = Memory::wanting("a").holding("a", None);
        r.adoptable = true;
        let (out, _) = run(&r, WriteMode::ObserveOnly).await;
        assert!(out.is_err(), "never adopted while suspended");
        let (out, l) = run(&r, WriteMode::Apply).await;
        assert_eq!(out.expect("adopted").as_deref(), Some("a"));
        assert_eq!(l.state(), ComponentState::Creating);
        assert_eq!(r.writes(), vec!["adopt"]);
    }
}
