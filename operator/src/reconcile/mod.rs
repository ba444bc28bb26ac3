//! The controller: watches `RedcapEnvironment`s and, per object, acknowledges the
//! generation in status, holds the finalizer, walks the components (apply, observe-only
//! when suspended, or cleanup on deletion), writes status through the one status writer,
//! publishes Events on transitions and decides the requeue.
//!
//! AWS calls happen only inside `components` (through `aws/`), which `walk` sequences;
//! this module handles the object's lifecycle and errors, it never builds AWS requests
//! itself.

pub mod backoff;
pub mod components;
pub mod converge;
pub mod error;
pub mod events;
pub mod ledger;
pub mod references;
pub mod report;
pub mod status;
pub mod tenancy;
pub mod walk;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::ListParams;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use rand::RngExt;

use crate::api::{
    ConditionReason, FIELD_MANAGER, FINALIZER, RedcapEnvironment, RedcapEnvironmentStatus,
};
use crate::aws::{AwsFactory, ErrorClass};
use crate::config::OperatorConfig;
use crate::http::Readiness;
use crate::metrics::{Metrics, ReconcileResult};

use self::backoff::Backoff;
pub use self::error::{ComponentError, Error};
use self::ledger::WriteMode;
use self::references::KubeSecrets;
use self::status::Outcome;
use self::walk::{Scope, apply_pass, cleanup_pass};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How often a stalled environment is looked at again without any change: a safety net
/// for fixes made outside the spec (an IAM policy, a freed bucket name).
pub const STALLED_RECHECK: Duration = Duration::from_secs(30 * 60);

/// How often an environment stalled on a missing Kubernetes Secret reference looks
/// again. A watch on Secrets would react faster, but it needs list/watch on every Secret
/// the operator can see (impossible with `rbac.secrets.scope: namespaces` across
/// namespaces, and a cache of every Secret's data in memory); one GET per stalled
/// environment every 30 seconds is cheap and works with every RBAC scope.
pub const SECRET_REFERENCE_RECHECK: Duration = Duration::from_secs(30);

/// Share of the resync period removed at random, so that environments created together
/// do not resync (and call AWS) together forever.
const RESYNC_JITTER: f64 = 0.1;

/// Everything a reconcile needs, shared by all reconciles.
pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub aws: AwsFactory,
    pub metrics: Arc<Metrics>,
    pub config: OperatorConfig,
    /// Per-object retry delays after recoverable errors.
    pub backoff: Backoff,
}

impl Context {
    pub fn new(
        client: Client,
        config: OperatorConfig,
        metrics: Arc<Metrics>,
        aws: AwsFactory,
    ) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: FIELD_MANAGER.to_string(),
                instance: Some(config.holder_id.clone()),
            },
        );
        let backoff = Backoff::new(config.backoff_base, config.backoff_max);
        Self { client, recorder, aws, metrics, config, backoff }
    }

    fn environments(&self) -> Api<RedcapEnvironment> {
        match &self.config.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }
}

/// Runs the controller until `shutdown` resolves, then lets in-flight reconciles finish.
///
/// Fails fast when `RedcapEnvironment`s cannot be listed (CRD missing, RBAC), rather
/// than retrying a broken watch forever.
pub async fn run(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
    readiness: Readiness,
) -> Result<()> {
    let api = ctx.environments();
    api.list(&ListParams::default().limit(1)).await.map_err(|source| Error::Kube {
        action: "list RedcapEnvironments (is the CRD installed and the RBAC granted?)",
        source,
    })?;

    let controller = Controller::new(api, watcher::Config::default())
        .with_config(controller::Config::default().concurrency(ctx.config.concurrency))
        .graceful_shutdown_on(shutdown);
    let store = controller.store();
    ctx.metrics.watch_environments(store.clone());
    tokio::spawn(async move {
        // The store wakes only one waiter when it becomes ready (kube-runtime's
        // DelayedInit keeps a single waker), and the controller's own applier waits on
        // it too; polling again each second sees the memoized result instead.
        loop {
            match tokio::time::timeout(Duration::from_secs(1), store.wait_until_ready()).await {
                Ok(Ok(())) => {
                    tracing::info!("initial list of RedcapEnvironments received");
                    readiness.set_watching(true);
                    return;
                }
                // The controller was dropped before its first list.
                Ok(Err(_)) => return,
                Err(_) => continue,
            }
        }
    });

    tracing::info!(
        namespace = ctx.config.namespace.as_deref().unwrap_or("<all>"),
        concurrency = ctx.config.concurrency,
        "controller started"
    );
    controller
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, action)) => tracing::debug!(%object, ?action, "reconciled"),
                // Logged with its class and retry delay by `error_policy`.
                Err(controller::Error::ReconcilerFailed(err, object)) => {
                    tracing::debug!(%object, error = %err, "reconcile failed")
                }
                Err(controller::Error::ObjectNotFound(object)) => {
                    tracing::debug!(%object, "object left the cache before its reconcile")
                }
                Err(controller::Error::QueueError(err)) => {
                    tracing::warn!(error = %err, "watch of RedcapEnvironments failed; retrying")
                }
                Err(err) => tracing::warn!(error = %err, "controller error"),
            }
        })
        .await;
    tracing::info!("controller stopped");
    Ok(())
}

/// `namespace/name`, for logs and spans.
fn key(env: &RedcapEnvironment) -> String {
    format!("{}/{}", env.namespace().unwrap_or_default(), env.name_any())
}

/// Reconciles one environment: records metrics around [`reconcile_object`].
#[tracing::instrument(name = "reconcile", skip_all, fields(env = %key(&env)))]
pub async fn reconcile(env: Arc<RedcapEnvironment>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.reconcile.start_timer();
    let result = reconcile_object(&env, &ctx).await;
    match &result {
        Ok(_) => ctx.metrics.reconcile.record(ReconcileResult::Success),
        Err(err) => {
            ctx.metrics.reconcile.record(match err.class() {
                ErrorClass::Recoverable => ReconcileResult::RecoverableError,
                ErrorClass::Terminal => ReconcileResult::TerminalError,
            });
            ctx.metrics.reconcile.record_error(err.category());
        }
    }
    result
}

/// The steps, plus the failure status. The status of a failed reconcile (`Stalled` for
/// terminal errors, `Reconciling`/`RetryingAfterError` for recoverable ones) is written
/// here, before the error reaches `error_policy`: the policy is synchronous, and writing
/// here keeps every status write in one place and ordered with the reconcile's own.
async fn reconcile_object(env: &Arc<RedcapEnvironment>, ctx: &Context) -> Result<Action> {
    let namespace = env.namespace().ok_or(Error::MissingMetadata("namespace"))?;
    let uid = env.uid().ok_or(Error::MissingMetadata("uid"))?;
    let api: Api<RedcapEnvironment> = Api::namespaced(ctx.client.clone(), &namespace);
    let mut writer =
        StatusWriter { api: &api, env, recorder: &ctx.recorder, current: env.status.clone() };
    let result = steps(env, ctx, &api, &mut writer).await;
    match &result {
        Ok(_) => ctx.backoff.reset(&uid),
        Err(err) => {
            if let Err(write_err) = writer.update(Outcome::Failed(err)).await {
                tracing::warn!(error = %write_err, "failed to record the error in status");
            }
        }
    }
    result
}

async fn steps(
    env: &Arc<RedcapEnvironment>,
    ctx: &Context,
    api: &Api<RedcapEnvironment>,
    writer: &mut StatusWriter<'_>,
) -> Result<Action> {
    let deleting = env.meta().deletion_timestamp.is_some();
    // kstatus: acknowledge a new generation (and publish Ready/Reconciling/Stalled on a
    // new object) before any AWS work, so watchers see the spec was taken.
    if !deleting && needs_acknowledgement(env) {
        writer.update(Outcome::Started).await?;
    }
    // kube's finalizer helper removes the finalizer as soon as its Cleanup branch returns
    // Ok, whatever the Action. Deletions that take several passes (waiting on AWS) or are
    // held (suspended) therefore run before the helper, which only sees the object once
    // every component is deleted or retained.
    // The tenancy policy is checked before the finalizer is added: an environment it
    // refuses from the start holds no finalizer and leaves nothing behind to delete.
    if !deleting {
        ctx.config
            .tenancy
            .check_spec(&env.namespace().unwrap_or_default(), &env.spec)
            .map_err(Error::NotPermitted)?;
    }
    if deleting
        && env.finalizers().iter().any(|f| f == FINALIZER)
        && let Some(wait) = cleanup(env, ctx, writer).await?
    {
        return Ok(wait);
    }
    // The finalizer helper adds the finalizer with a JSON patch that first tests the
    // cached object's finalizer list. A cache that lags behind the API server (a busy
    // watch) makes that test fail (422) on every retry until the watch catches up, so
    // the first add works from a fresh read instead. Once the finalizer is in the cache
    // this costs nothing.
    let env = if deleting || env.finalizers().iter().any(|f| f == FINALIZER) {
        env.clone()
    } else {
        Arc::new(api.get(&env.name_any()).await.map_err(|source| Error::Kube {
            action: "reading the latest object before adding the finalizer",
            source,
        })?)
    };
    finalizer(api, FINALIZER, env, |event| async move {
        match event {
            finalizer::Event::Apply(env) => apply(&env, ctx, writer).await,
            finalizer::Event::Cleanup(_) => Ok(Action::await_change()),
        }
    })
    .await
    .map_err(|err| Error::Finalizer(Box::new(err)))
}

/// Whether the status does not describe the current generation yet.
fn needs_acknowledgement(env: &RedcapEnvironment) -> bool {
    env.status
        .as_ref()
        .is_none_or(|s| s.phase.is_none() || s.observed_generation != env.meta().generation)
}

/// One pass over the components: create/update/correct, or only observe when suspended.
async fn apply(
    env: &RedcapEnvironment,
    ctx: &Context,
    writer: &mut StatusWriter<'_>,
) -> Result<Action> {
    let namespace = env.namespace().unwrap_or_default();
    let access =
        ctx.config.tenancy.check_spec(&namespace, &env.spec).map_err(Error::NotPermitted)?;
    let aws = tenancy::aws_context(&ctx.aws, env, &access).await?;
    tenancy::check_restore_source(&aws, env, &ctx.config.tenancy).await?;
    let mode = if env.spec.suspend { WriteMode::ObserveOnly } else { WriteMode::Apply };
    let store = KubeSecrets::new(ctx.client.clone());
    let report = apply_pass(&aws, &store, env, mode, jiff::Timestamp::now(), Scope::All)
        .await
        .map_err(|source| Error::Component { source })?;
    writer.update(Outcome::Applied(&report)).await?;
    if let Some(source) = report.error.clone() {
        // Written with the pass's report above; `error_policy` decides the retry.
        return Err(Error::Component { source });
    }
    Ok(Action::requeue(match report.requeue_after {
        Some(wait) => wait,
        None => resync_delay(ctx.config.resync),
    }))
}

/// One deletion pass. `Some(action)` while deletion must wait (the finalizer stays);
/// `None` once every component is deleted or retained.
async fn cleanup(
    env: &RedcapEnvironment,
    ctx: &Context,
    writer: &mut StatusWriter<'_>,
) -> Result<Option<Action>> {
    if env.spec.suspend {
        // Clearing `spec.suspend` bumps the generation and so triggers a reconcile; the
        // requeue is only a safety net.
        writer.update(Outcome::DeletionHeld).await?;
        return Ok(Some(Action::requeue(ctx.config.resync)));
    }
    // Deleting acts with the environment's role too: it must still be bound to the
    // namespace (a role bound once and revoked since stalls the deletion until an
    // administrator binds it again or removes the finalizer).
    let access = ctx
        .config
        .tenancy
        .check_role(&env.namespace().unwrap_or_default(), &env.spec.aws)
        .map_err(Error::NotPermitted)?;
    let aws = tenancy::aws_context(&ctx.aws, env, &access).await?;
    let store = KubeSecrets::new(ctx.client.clone());
    let report = cleanup_pass(&aws, &store, env, Scope::All)
        .await
        .map_err(|source| Error::Component { source })?;
    writer.update(Outcome::CleaningUp(&report)).await?;
    if let Some(source) = report.error.clone() {
        return Err(Error::Component { source });
    }
    Ok(report.requeue_after.map(Action::requeue))
}

fn resync_delay(resync: Duration) -> Duration {
    resync.mul_f64(1.0 - rand::rng().random_range(0.0..RESYNC_JITTER))
}

/// Decides the requeue after a failed reconcile (its status is already written).
pub fn error_policy(env: Arc<RedcapEnvironment>, err: &Error, ctx: Arc<Context>) -> Action {
    let object = key(&env);
    match err.class() {
        ErrorClass::Terminal if err.reason() == ConditionReason::SecretReferenceMissing => {
            tracing::warn!(env = %object, category = err.category(), error = %err, "stalled on a missing Secret; looking again soon");
            Action::requeue(SECRET_REFERENCE_RECHECK)
        }
        ErrorClass::Terminal => {
            tracing::warn!(env = %object, category = err.category(), error = %err, "stalled; waiting for a change");
            Action::requeue(STALLED_RECHECK)
        }
        ErrorClass::Recoverable => {
            let uid = env.uid().unwrap_or(object.clone());
            let delay = ctx.backoff.next_delay(&uid);
            tracing::warn!(
                env = %object,
                category = err.category(),
                error = %err,
                retry_in_seconds = delay.as_secs_f64(),
                "reconcile failed; retrying"
            );
            Action::requeue(delay)
        }
    }
}

/// Writes status for one reconcile: computes from the latest status this reconcile
/// knows (the cached one, then its own writes), skips unchanged writes, and publishes
/// Events for the transitions it wrote.
struct StatusWriter<'a> {
    api: &'a Api<RedcapEnvironment>,
    env: &'a RedcapEnvironment,
    recorder: &'a Recorder,
    current: Option<RedcapEnvironmentStatus>,
}

impl StatusWriter<'_> {
    async fn update(&mut self, outcome: Outcome<'_>) -> Result<()> {
        let new = status::compute_status(self.current.as_ref(), self.env, outcome, &status::now());
        let wrote =
            status::apply_status(self.api, &self.env.name_any(), self.current.as_ref(), &new)
                .await
                .map_err(|source| Error::Status { source })?;
        if !wrote {
            return Ok(());
        }
        let old_phase = self.current.as_ref().and_then(|s| s.phase);
        if old_phase != new.phase {
            tracing::info!(
                from = old_phase.map_or("-", |p| p.as_str()),
                to = new.phase.map_or("-", |p| p.as_str()),
                reason = new.phase_reason.as_deref().unwrap_or(""),
                "phase changed"
            );
        }
        let transitions = events::transitions(self.current.as_ref(), &new);
        events::publish(self.recorder, self.env, transitions).await;
        self.current = Some(new);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Phase;

    #[test]
    fn a_new_or_edited_object_is_acknowledged_first() {
        let fresh = RedcapEnvironment::test();
        assert!(needs_acknowledgement(&fresh));
        let acknowledged = RedcapEnvironment::test().with_status(RedcapEnvironmentStatus {
            observed_generation: Some(1),
            phase: Some(Phase::Ready),
            ..Default::default()
        });
        assert!(!needs_acknowledgement(&acknowledged));
        let edited = acknowledged.clone().with_generation(2);
        assert!(needs_acknowledgement(&edited));
    }

    #[test]
    fn resync_is_jittered_downwards_only() {
        let base = Duration::from_secs(300);
        for _ in 0..100 {
            let d = resync_delay(base);
            assert!(d <= base && d >= base.mul_f64(1.0 - RESYNC_JITTER), "{d:?}");
        }
    }
}
