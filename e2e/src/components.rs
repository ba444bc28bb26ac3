//! Shared helpers for the component-level end-to-end tests (`tests/component_*.rs`).
//!
//! These tests drive the reconcile components straight against the moto emulator; this
//! module builds the AWS context, the [`Harness`] a test drives the walk with (passes,
//! settling, deletion, the calls a step made), the `RedcapEnvironment` objects they start
//! from, and reads the pass reports. It does not start or configure the emulator; what
//! AWS holds is read with [`crate::probe`], and each test file keeps its own expectations.

use redcap_operator::aws::sdk::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::Credentials;
use jiff::Timestamp;
use redcap_operator::api::{
    AwsSpec, ComponentName, ComponentState, RedcapEnvironment, SecretOutput,
};
use redcap_operator::aws::{AwsCallMetrics, AwsCtx, AwsFactory, AwsSettings, CallCounts};
use redcap_operator::plan::EnvIdentity;
use redcap_operator::reconcile::ComponentError;
use redcap_operator::reconcile::ledger::WriteMode;
use redcap_operator::reconcile::references::MemorySecrets;
use redcap_operator::reconcile::references::SecretStore;
use redcap_operator::reconcile::report::{ComponentReport, PassReport};
use redcap_operator::reconcile::walk::{Scope, apply_pass, cleanup_pass};
use serde_json::{Value, json};

use crate::probe::{Limit, settle_until};

/// The components the component-level passes run: all but the compute service and what
/// stands in front of it or points at it (the firewall, the cron schedule, the site's
/// records, which need what compute serves), whose own tests (`operator_compute_*.rs`,
/// `operator_firewall.rs`, `operator_cron.rs`, `operator_domain.rs`) run them with the
/// operator binary. Without a domain or certificate an environment's default compute
/// kind waits for one, and these tests settle the components they are about.
pub fn walked() -> Scope<'static> {
    static WALKED: std::sync::LazyLock<Vec<ComponentName>> = std::sync::LazyLock::new(|| {
        redcap_operator::api::COMPONENTS
            .iter()
            .map(|c| c.name)
            .filter(|name| {
                !matches!(
                    name,
                    ComponentName::Compute
                        | ComponentName::SiteRecords
                        | ComponentName::Firewall
                        | ComponentName::Cron
                )
            })
            .collect()
    });
    Scope::Only(&WALKED)
}

/// One test's AWS context, the metrics its calls are counted in, and the Kubernetes
/// Secrets of the walk (the generated cron Secret) kept in memory: these tests are about
/// AWS; `operator_lifecycle.rs` runs the same walk against a real API server.
pub struct Harness {
    pub ctx: AwsCtx,
    pub metrics: AwsCallMetrics,
    pub store: MemorySecrets,
}

impl Harness {
    pub async fn new(region: &str) -> Self {
        let (ctx, metrics) = aws_context(region).await;
        Self { ctx, metrics, store: MemorySecrets::default() }
    }

    /// [`Harness::new`] with the release zip of [`environment`]'s spec in
    /// `release_bucket` (the image component checks it is there).
    pub async fn with_release(region: &str, release_bucket: &str) -> Self {
        let h = Self::new(region).await;
        ensure_release(&h.ctx, release_bucket).await;
        h
    }

    /// One `Apply` pass of the whole walk; panics when the pass fails.
    pub async fn pass(&self, env: &RedcapEnvironment) -> PassReport {
        self.pass_at(env, Timestamp::now()).await
    }

    /// [`Harness::pass`] as if the time were `now` (rotation schedules).
    pub async fn pass_at(&self, env: &RedcapEnvironment, now: Timestamp) -> PassReport {
        self.pass_scoped(env, now, walked()).await
    }

    /// One `Apply` pass over `only` these components (the rest of the walk is not run);
    /// panics when the pass fails.
    pub async fn pass_only(&self, env: &RedcapEnvironment, only: &[ComponentName]) -> PassReport {
        self.pass_scoped(env, Timestamp::now(), Scope::Only(only)).await
    }

    async fn pass_scoped(
        &self,
        env: &RedcapEnvironment,
        now: Timestamp,
        scope: Scope<'_>,
    ) -> PassReport {
        apply_at(&self.ctx, &self.store, env, WriteMode::Apply, now, scope)
            .await
            .unwrap_or_else(|e| panic!("apply pass: {e}"))
    }

    /// One `Apply` pass that must fail; its first failure.
    pub async fn failing_pass(&self, env: &RedcapEnvironment) -> ComponentError {
        self.try_pass(env, WriteMode::Apply).await.expect_err("the pass fails")
    }

    /// One pass of the whole walk in `mode`, now; its first failure as `Err`.
    pub async fn try_pass(
        &self,
        env: &RedcapEnvironment,
        mode: WriteMode,
    ) -> Result<PassReport, ComponentError> {
        apply_components(&self.ctx, &self.store, env, mode).await
    }

    /// Passes (each at the time it runs) until every component is Ready, at most
    /// `passes`; the last pass, settled or not.
    pub async fn settle(&self, env: &RedcapEnvironment, passes: usize) -> PassReport {
        settle_until(Limit::Tries(passes), Duration::ZERO, async || self.pass(env).await, all_ready)
            .await
            .unwrap_or_else(|last| last)
    }

    /// One deletion pass of the whole walk; panics when the pass fails.
    pub async fn cleanup(&self, env: &RedcapEnvironment) -> PassReport {
        cleanup_components(&self.ctx, env).await.expect("cleanup")
    }

    /// Deletion passes until nothing is left to wait for (at most 20, 50 ms apart);
    /// panics when the deletion does not finish.
    pub async fn cleanup_until_done(&self, env: &RedcapEnvironment) -> PassReport {
        settle_until(
            Limit::Tries(20),
            Duration::from_millis(50),
            async || self.cleanup(env).await,
            |p| p.requeue_after.is_none(),
        )
        .await
        .unwrap_or_else(|_| panic!("cleanup did not finish"))
    }

    /// One deletion pass over `only` these components; panics when the pass fails.
    pub async fn cleanup_only(
        &self,
        env: &RedcapEnvironment,
        only: &[ComponentName],
    ) -> PassReport {
        cleanup_pass(&self.ctx, &self.store, env, Scope::Only(only))
            .await
            .and_then(first_failure)
            .unwrap_or_else(|e| panic!("cleanup pass: {e}"))
    }

    /// The pass's report even when a component failed (the walk goes on after a failure).
    pub async fn pass_report(&self, env: &RedcapEnvironment) -> PassReport {
        apply_pass(&self.ctx, &self.store, env, WriteMode::Apply, Timestamp::now(), walked())
            .await
            .expect("the pass starts")
    }

    /// Runs `work` and returns its result with the AWS calls it made (this harness's).
    pub async fn counted<T>(&self, work: impl Future<Output = T>) -> (T, CallCounts) {
        let before = self.metrics.snapshot();
        let out = work.await;
        (out, self.metrics.snapshot().since(&before))
    }
}

/// One pass of the walk over `scope` as if the time were `now`; the pass's first
/// failure (terminal first) as `Err`, like the controller sees it.
pub async fn apply_at(
    ctx: &AwsCtx,
    store: &dyn SecretStore,
    env: &RedcapEnvironment,
    mode: WriteMode,
    now: Timestamp,
    scope: Scope<'_>,
) -> Result<PassReport, ComponentError> {
    first_failure(apply_pass(ctx, store, env, mode, now, scope).await?)
}

/// One pass of the walk ([`walked`]), now.
pub async fn apply_components(
    ctx: &AwsCtx,
    store: &dyn SecretStore,
    env: &RedcapEnvironment,
    mode: WriteMode,
) -> Result<PassReport, ComponentError> {
    apply_at(ctx, store, env, mode, Timestamp::now(), walked()).await
}

/// One deletion pass of the whole walk (`spec.deletionPolicy`).
pub async fn cleanup_components(
    ctx: &AwsCtx,
    env: &RedcapEnvironment,
) -> Result<PassReport, ComponentError> {
    first_failure(cleanup_pass(ctx, &MemorySecrets::default(), env, Scope::All).await?)
}

/// The pass as the controller sees it: its first failure (terminal first) as `Err`.
fn first_failure(mut report: PassReport) -> Result<PassReport, ComponentError> {
    match report.error.take() {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Asserts what every steady-state pass shows: `calls` (the pass's) wrote nothing, and
/// every component of `pass` is Ready.
pub fn assert_steady(calls: &CallCounts, pass: &PassReport) {
    assert_eq!(
        calls.writes(),
        0,
        "steady state wrote: {:?} in {:#?}",
        calls.write_operations(),
        pass.components
    );
    for c in &pass.components {
        assert!(settled(c.state), "{c:?}");
    }
}

/// Ready, or planned (a section this operator version validates but does not act on).
pub fn settled(state: ComponentState) -> bool {
    matches!(state, ComponentState::Ready | ComponentState::Planned)
}

/// Asserts the state of each named component of `pass`.
pub fn assert_states(pass: &PassReport, expected: &[(ComponentName, ComponentState)]) {
    for (name, want) in expected {
        assert_eq!(state(pass, *name), *want, "{name}: {pass:?}");
    }
}

/// The secrets in the pass's outputs but the database's master secret (which joins the
/// list once the cluster exists, a few passes after the others).
pub fn secrets_but_database_master(pass: &PassReport) -> Vec<SecretOutput> {
    pass.outputs.secrets.iter().filter(|s| s.name != "databaseMaster").cloned().collect()
}

/// Whether every component of the pass is settled (Ready, or planned).
pub fn all_ready(pass: &PassReport) -> bool {
    pass.components.iter().all(|c| settled(c.state))
}

/// The writes among `calls` to `service` (`cloudformation.UpdateStack`, ...).
pub fn writes_to(calls: &CallCounts, service: &str) -> Vec<String> {
    let prefix = format!("{service}.");
    calls.write_operations().into_iter().filter(|op| op.starts_with(&prefix)).collect()
}

/// The emulator's URL; panics when unset because these tests never skip silently.
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL is not set: run `bash e2e/scripts/moto.sh start /tmp/moto` and export \
             AWS_ENDPOINT_URL=$(cat /tmp/moto/moto.url) (these tests do not skip)"
        )
    })
}

/// A name part no other test (or parallel test process) uses.
pub fn unique() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_nanos();
    format!("{:x}{:x}", nanos, std::process::id())
}

/// The ARN every role and user created through [`aws_context`] gets as its permissions
/// boundary: the default boundary policy in the emulator's account.
pub const PERMISSIONS_BOUNDARY_ARN: &str =
    "arn:aws:iam::123456789012:policy/redcap-operator-boundary";

/// An AWS context for `region` against the emulator, with the metrics it records into.
///
/// Static "testing" credentials, path-style S3 (moto serves no virtual hosts), two
/// attempts so a fault surfaces quickly, and no call budget so tests are not throttled.
pub async fn aws_context(region: &str) -> (AwsCtx, AwsCallMetrics) {
    let _ = endpoint(); // The loader reads AWS_ENDPOINT_URL itself; fail loudly first.
    let base = aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .region(Region::new(region.to_string()))
        .load()
        .await;
    let metrics = AwsCallMetrics::default();
    let settings = AwsSettings {
        s3_force_path_style: true,
        max_attempts: 2,
        retry_mode: redcap_operator::aws::AwsRetryMode::Adaptive,
        calls_per_second: 0.0,
        burst: 1,
        permissions_boundary: redcap_operator::aws::DEFAULT_PERMISSIONS_BOUNDARY.into(),
    };
    let factory = AwsFactory::from_base_config(base, settings, metrics.clone());
    let spec: AwsSpec = serde_json::from_value(json!({"region": region})).expect("aws spec");
    (factory.context_for(&spec).await.expect("context"), metrics)
}

/// A `RedcapEnvironment` as the API server would hand it over: `e2e/redcap` in `region`,
/// the release zip in `release_bucket`, an optional `metadata.generation`, and
/// `spec_extra`'s fields added to (or replacing) the spec's top-level fields.
pub fn environment(
    region: &str,
    release_bucket: &str,
    generation: Option<i64>,
    spec_extra: Value,
) -> RedcapEnvironment {
    let spec = json!({
        "aws": {"region": region},
        "redcap": {"version": "15.0.0", "source": {"s3": {"bucket": release_bucket, "key": "redcap15.0.0.zip"}}},
        // One SES identity per environment: identities are account-wide, and tests run
        // in parallel.
        "email": {"fromAddress": format!("redcap-{}@example.org", unique())},
    });
    let spec = merged(spec, &spec_extra);
    let mut metadata =
        json!({"name": "redcap", "namespace": "e2e", "uid": format!("uid-{}", unique())});
    if let (Some(m), Some(generation)) = (metadata.as_object_mut(), generation) {
        m.insert("generation".to_string(), json!(generation));
    }
    serde_json::from_value(json!({
        "apiVersion": "redcap.dev/v1alpha1",
        "kind": "RedcapEnvironment",
        "metadata": metadata,
        "spec": spec,
    }))
    .expect("environment")
}

/// The release zip of the spec [`environment`] builds (`redcap15.0.0.zip` in
/// `release_bucket`), so the image component finds its source.
pub async fn ensure_release(ctx: &AwsCtx, release_bucket: &str) {
    crate::ensure_release(&ctx.s3, release_bucket, "15.0.0")
        .await
        .expect("release zip in the emulator");
}

/// The environment id `env`'s AWS names derive from.
pub fn environment_id(env: &RedcapEnvironment) -> String {
    EnvIdentity::from_env(env).expect("identity").environment_id()
}

/// The CodeBuild project `env`'s image is built by.
pub fn image_project(env: &RedcapEnvironment) -> String {
    redcap_operator::plan::image::project_name(&environment_id(env))
}

/// The state `pass` reported for component `name`; panics when it was not reported.
pub fn state(pass: &PassReport, name: ComponentName) -> ComponentState {
    pass.components.iter().find(|c| c.name == name).map(|c| c.state).expect("component reported")
}

/// The report of component `name` in `pass`; panics when it was not reported.
pub fn report(pass: &PassReport, name: ComponentName) -> &ComponentReport {
    pass.components.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("{name} not reported"))
}

/// The message component `name` reported in `pass`, or "".
pub fn message(pass: &PassReport, name: ComponentName) -> String {
    report(pass, name).message.clone().unwrap_or_default()
}

/// `spec` with `extra`'s top-level fields added (or replacing its own).
pub fn merged(mut spec: Value, extra: &Value) -> Value {
    if let (Some(s), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(extra.clone());
    }
    spec
}
