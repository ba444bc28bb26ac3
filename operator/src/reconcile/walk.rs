//! The component walk (step: reconcile; the only place that sequences components).
//!
//! Every component meets the walk through one contract, [`Component`]: its name (its
//! entry in the component table, `api::components`, which says whether it holds data,
//! lives in the network or uses the key), what it needs, and `apply` and `cleanup` side
//! by side. One ordered list, `components::WALK`, drives apply (forwards) and cleanup
//! (backwards);
//! the network and the key wait during cleanup for the components that the table says
//! live in the network or are encrypted with the key.
//!
//! A failure isolates, it does not stop the walk: the failing component is reported
//! (`Failed` for a terminal problem), components that need it wait and say on what, the
//! others still converge. The pass's first error is returned with the report so the
//! status writer can stall or retry.
//!
//! Each component's future is boxed once, here, so the walk itself stays a small future
//! whatever the components do. This module makes no AWS calls and writes no status.

use std::time::Duration;

use futures::future::BoxFuture;
use jiff::Timestamp;
use tracing::Instrument;

use crate::api::{
    ComponentName, ComponentState, ComputeStatus, DatabaseStatus, ImageStatus, Outputs,
    RedcapEnvironment,
};
use crate::aws::{AwsCtx, ErrorClass};
use crate::plan::EnvIdentity;
use crate::plan::email::DesiredEmail;
use crate::plan::network::NetworkOutputs;

use super::components::WALK;
use super::error::{ComponentError, invalid};
use super::ledger::{Direction, Ledger, WriteMode};
use super::references::{CronSecret, SecretStore, resolve_cron};
use super::report::{ComponentReport, PassReport, RuntimeHandoff};

/// Look again this soon after a pass that wrote, to confirm the writes stuck.
pub const VERIFY_AFTER_WRITE: Duration = Duration::from_secs(5);

/// One component of an environment: what it needs, and how it is applied and cleaned up.
///
/// `apply` observes the component's resources and, when the ledger allows writes,
/// creates or corrects them; `cleanup` deletes or keeps them per
/// `spec.deletionPolicy`. Both record what they did in the [`Ledger`] and hand what
/// later components need to the [`Walk`]. An `Err` is a failure of this component only.
pub trait Component: 'static {
    const NAME: ComponentName;
    /// Components whose output this one cannot do without: while one of them failed in
    /// this pass, this one waits (and says so) instead of running. Every need comes
    /// earlier in [`WALK`] (a unit test checks).
    const NEEDS: &'static [ComponentName] = &[];

    fn apply(
        w: &mut Walk<'_>,
        l: &mut Ledger,
    ) -> impl Future<Output = Result<(), ComponentError>> + Send;

    fn cleanup(
        w: &mut Walk<'_>,
        l: &mut Ledger,
    ) -> impl Future<Output = Result<(), ComponentError>> + Send;
}

type Step =
    for<'w, 'a> fn(&'w mut Walk<'a>, &'w mut Ledger) -> BoxFuture<'w, Result<(), ComponentError>>;

/// One entry of the walk.
pub struct Entry {
    pub name: ComponentName,
    pub needs: &'static [ComponentName],
    apply: Step,
    cleanup: Step,
}

fn boxed_apply<'w, 'a, C: Component>(
    w: &'w mut Walk<'a>,
    l: &'w mut Ledger,
) -> BoxFuture<'w, Result<(), ComponentError>> {
    Box::pin(C::apply(w, l))
}

fn boxed_cleanup<'w, 'a, C: Component>(
    w: &'w mut Walk<'a>,
    l: &'w mut Ledger,
) -> BoxFuture<'w, Result<(), ComponentError>> {
    Box::pin(C::cleanup(w, l))
}

/// The walk's entry for component `C` (see `components::WALK`).
pub const fn entry<C: Component>() -> Entry {
    Entry { name: C::NAME, needs: C::NEEDS, apply: boxed_apply::<C>, cleanup: boxed_cleanup::<C> }
}

/// The environment's key, as later components use it.
#[derive(Clone, Debug)]
pub struct KeyRef {
    pub arn: String,
    /// The AWS account the environment lives in (from the key's ARN).
    pub account: String,
    /// The key (or its policy) was written in this pass: a CloudFormation stack written
    /// right after could not yet use it for its log group.
    pub just_changed: bool,
}

/// One pass over the components: the inputs every component reads, what earlier
/// components handed on, and what the pass has produced so far.
pub struct Walk<'a> {
    pub aws: &'a AwsCtx,
    pub env: &'a RedcapEnvironment,
    pub id: EnvIdentity,
    pub mode: WriteMode,
    /// The one clock of the pass (rotation schedules).
    pub now: Timestamp,
    /// Kubernetes Secrets the spec refers to.
    pub secrets: &'a dyn SecretStore,
    /// The cron seed, resolved before any AWS call.
    pub cron: Option<CronSecret>,
    /// Set by `encryptionKey` once the key exists.
    pub key: Option<KeyRef>,
    /// Set by `network` once the stack has outputs.
    pub network: Option<NetworkOutputs>,
    /// Set by `domain`: the site, its zone and its certificate.
    pub domain: Option<crate::plan::domain::DomainHandoff>,
    /// Set by `email`: the identity and configuration set the SMTP user may send with.
    pub email: Option<DesiredEmail>,
    /// What users see in `status.outputs`.
    pub outputs: Outputs,
    /// What later components (compute, firewall) take; never written to status.
    pub runtime: RuntimeHandoff,
    /// `status.database` and `status.image`, when their components got far enough.
    pub database: Option<DatabaseStatus>,
    pub image: Option<ImageStatus>,
    /// `status.compute`, when the compute component got far enough to know it.
    pub compute: Option<ComputeStatus>,
    /// `status.firewall` and `status.cron`, when their components ran.
    pub firewall: Option<crate::api::FirewallStatus>,
    pub cron_status: Option<crate::api::CronStatus>,
    reports: Vec<ComponentReport>,
    failures: Vec<(ComponentName, ComponentError)>,
    requeue: Option<Duration>,
    /// Cleanup: components that still use the network / the key, with their state.
    network_users: Vec<(ComponentName, ComponentState)>,
    key_users: Vec<ComponentName>,
}

impl<'a> Walk<'a> {
    pub fn new(
        aws: &'a AwsCtx,
        secrets: &'a dyn SecretStore,
        env: &'a RedcapEnvironment,
        id: EnvIdentity,
        mode: WriteMode,
        now: Timestamp,
    ) -> Self {
        Self {
            aws,
            env,
            id,
            mode,
            now,
            secrets,
            cron: None,
            key: None,
            network: None,
            domain: None,
            email: None,
            outputs: Outputs::default(),
            runtime: RuntimeHandoff::default(),
            database: None,
            image: None,
            compute: None,
            firewall: None,
            cron_status: None,
            reports: Vec::new(),
            failures: Vec::new(),
            requeue: None,
            network_users: Vec::new(),
            key_users: Vec::new(),
        }
    }

    /// The key, or `None` after noting in `l` that the component waits for it.
    pub fn key_or_wait(&self, l: &mut Ledger) -> Option<KeyRef> {
        if self.key.is_none() {
            l.pending("waiting for the encryption key");
        }
        self.key.clone()
    }

    /// The previous status's `outputs`, when a component needs what an earlier pass used.
    pub fn recorded(&self) -> Option<&Outputs> {
        self.env.status.as_ref().map(|s| &s.outputs)
    }

    /// Cleanup: the first component (in reverse walk order) that still uses the
    /// network, with its state.
    pub fn network_user(&self) -> Option<(ComponentName, ComponentState)> {
        self.network_users.first().copied()
    }

    /// Cleanup: the components that still hold something encrypted with the key.
    pub fn key_users(&self) -> &[ComponentName] {
        &self.key_users
    }

    fn failed(&self, name: ComponentName) -> bool {
        self.failures.iter().any(|(n, _)| *n == name)
    }

    async fn run(&mut self, e: &Entry, direction: Direction) {
        let mut l = Ledger::new(e.name, self.mode, direction);
        if let Some(need) = e.needs.iter().find(|n| self.failed(**n)) {
            let what = format!("waiting for {need}, which failed in this pass");
            match direction {
                Direction::Apply => l.pending(what),
                Direction::Cleanup => l.deleting(what, None),
            }
        } else {
            let step = match direction {
                Direction::Apply => e.apply,
                Direction::Cleanup => e.cleanup,
            };
            let span = tracing::info_span!("component", component = %e.name);
            if let Err(err) = step(self, &mut l).instrument(span).await {
                tracing::debug!(component = %e.name, error = %err, "component failed");
                if err.class() == ErrorClass::Terminal {
                    let mut report = l.report();
                    report.state = ComponentState::Failed;
                    report.message = Some(err.detail());
                    self.reports.push(report);
                }
                if direction == Direction::Cleanup {
                    // Unknown: assume it still holds what it holds.
                    self.hold(e.name, ComponentState::Failed, true, true);
                }
                self.failures.push((e.name, err));
                return;
            }
        }
        if let Some(r) = l.requeue() {
            self.requeue = Some(self.requeue.map_or(r, |q| q.min(r)));
        }
        if direction == Direction::Cleanup {
            self.hold(e.name, l.state(), l.holds_network(), l.holds_key());
        }
        self.reports.push(l.report());
    }

    fn hold(&mut self, name: ComponentName, state: ComponentState, network: bool, key: bool) {
        let info = name.info();
        if network && info.lives_in_network {
            self.network_users.push((name, state));
        }
        if key && info.uses_key {
            self.key_users.push(name);
        }
    }

    /// The pass's report: components in dependency order (planned ones included), the
    /// outputs, the requeue, and the first error (terminal ones first).
    fn finish(mut self, direction: Direction) -> PassReport {
        for name in ComponentName::planned() {
            let (state, message) = match direction {
                Direction::Apply => (
                    ComponentState::Planned,
                    format!(
                        "{} is validated but not acted on by this operator version",
                        name.info().section
                    ),
                ),
                Direction::Cleanup => (
                    ComponentState::Deleted,
                    "nothing was created by this operator version".to_string(),
                ),
            };
            self.reports.push(ComponentReport {
                name,
                state,
                id: None,
                arn: None,
                message: Some(message),
                wrote: false,
            });
        }
        // In the order the pass took them: forwards to apply, backwards to clean up.
        self.reports.sort_by_key(|r| r.name);
        if direction == Direction::Cleanup {
            self.reports.reverse();
        }
        let wrote = self.reports.iter().any(|r| r.wrote);
        let verify = (wrote && direction == Direction::Apply).then_some(VERIFY_AFTER_WRITE);
        let requeue = [self.requeue, verify].into_iter().flatten().min();
        let error = self
            .failures
            .iter()
            .position(|(_, e)| e.class() == ErrorClass::Terminal)
            .or((!self.failures.is_empty()).then_some(0))
            .map(|i| self.failures.swap_remove(i).1);
        PassReport {
            components: self.reports,
            outputs: self.outputs,
            requeue_after: requeue,
            runtime: self.runtime,
            database: self.database,
            image: self.image,
            compute: self.compute,
            firewall: self.firewall,
            cron: self.cron_status,
            error,
        }
    }
}

/// Which components a pass covers: all of them, or (component tests) only some.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'s> {
    All,
    Only(&'s [ComponentName]),
}

impl Scope<'_> {
    fn covers(&self, name: ComponentName) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(names) => names.contains(&name),
        }
    }
}

/// Observes every component and, in `Apply` mode, creates, updates and corrects it.
///
/// `Err` only when the pass could not start (a Secret reference is missing, the
/// environment has no identity): nothing was called in AWS. Failures of components are
/// in the report's `error`.
pub async fn apply_pass(
    aws: &AwsCtx,
    secrets: &dyn SecretStore,
    env: &RedcapEnvironment,
    mode: WriteMode,
    now: Timestamp,
    scope: Scope<'_>,
) -> Result<PassReport, ComponentError> {
    let id = EnvIdentity::from_env(env).map_err(invalid(ComponentName::EncryptionKey))?;
    let mut w = Walk::new(aws, secrets, env, id, mode, now);
    // The dereference step: a missing Secret stalls the pass before any AWS call.
    w.cron = Some(resolve_cron(secrets, env, &w.id, mode).await?);
    w.runtime.cron_token = w.cron.as_ref().and_then(|c| c.token.clone());
    for e in WALK.iter().filter(|e| scope.covers(e.name)) {
        w.run(e, Direction::Apply).await;
    }
    super::components::runtime::runtime_handoff(&mut w);
    Ok(w.finish(Direction::Apply))
}

/// Handles every component per `spec.deletionPolicy`, in reverse dependency order.
/// `requeue_after` is set while deletions are still in progress.
pub async fn cleanup_pass(
    aws: &AwsCtx,
    secrets: &dyn SecretStore,
    env: &RedcapEnvironment,
    scope: Scope<'_>,
) -> Result<PassReport, ComponentError> {
    let id = EnvIdentity::from_env(env).map_err(invalid(ComponentName::FileStorage))?;
    let mut w = Walk::new(aws, secrets, env, id, WriteMode::Apply, Timestamp::now());
    for e in WALK.iter().rev().filter(|e| scope.covers(e.name)) {
        w.run(e, Direction::Cleanup).await;
    }
    Ok(w.finish(Direction::Cleanup))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_is_every_built_component_in_table_order() {
        let walk: Vec<ComponentName> = WALK.iter().map(|e| e.name).collect();
        let built: Vec<ComponentName> = ComponentName::built().collect();
        assert_eq!(walk, built);
    }

    #[test]
    fn every_need_comes_earlier() {
        for (i, e) in WALK.iter().enumerate() {
            for need in e.needs {
                let at = WALK.iter().position(|x| x.name == *need);
                assert!(
                    at.is_some_and(|at| at < i),
                    "{} needs {need}, which is not earlier in the walk",
                    e.name
                );
            }
        }
    }
}
