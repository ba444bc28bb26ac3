//! Shared helpers for the component-level end-to-end tests (`tests/component_*.rs`).
//!
//! These tests drive the reconcile components straight against the moto emulator; this
//! module builds the AWS context, the [`Harness`] a test drives the walk with, and the
//! `RedcapEnvironment` objects they start from. It must not start or configure the
//! emulator or assert anything beyond "the pass ran": each test file keeps its own
//! specialised helpers and expectations.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::Credentials;
use jiff::Timestamp;
use redcap_operator::api::{AwsSpec, ComponentName, ComponentState, RedcapEnvironment};
use redcap_operator::aws::{AwsCallMetrics, AwsCtx, AwsFactory, AwsSettings};
use redcap_operator::reconcile::ComponentError;
use redcap_operator::reconcile::ledger::WriteMode;
use redcap_operator::reconcile::references::MemorySecrets;
use redcap_operator::reconcile::references::SecretStore;
use redcap_operator::reconcile::report::PassReport;
use redcap_operator::reconcile::walk::{Scope, apply_pass, cleanup_pass};
use serde_json::{Value, json};

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
        Self {
            ctx,
            metrics,
            store: MemorySecrets::default(),
        }
    }

    /// One `Apply` pass of the whole walk; panics when the pass fails.
    pub async fn pass(&self, env: &RedcapEnvironment) -> PassReport {
        self.pass_at(env, Timestamp::now()).await
    }

    /// [`Harness::pass`] as if the time were `now` (rotation schedules).
    pub async fn pass_at(&self, env: &RedcapEnvironment, now: Timestamp) -> PassReport {
        apply_at(
            &self.ctx,
            &self.store,
            env,
            WriteMode::Apply,
            now,
            Scope::All,
        )
        .await
        .unwrap_or_else(|e| panic!("apply pass: {e}"))
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
    let mut report = apply_pass(ctx, store, env, mode, now, scope).await?;
    match report.error.take() {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// One pass of the whole walk, now.
pub async fn apply_components(
    ctx: &AwsCtx,
    store: &dyn SecretStore,
    env: &RedcapEnvironment,
    mode: WriteMode,
) -> Result<PassReport, ComponentError> {
    apply_at(ctx, store, env, mode, Timestamp::now(), Scope::All).await
}

/// One deletion pass of the whole walk (`spec.deletionPolicy`).
pub async fn cleanup_components(
    ctx: &AwsCtx,
    env: &RedcapEnvironment,
) -> Result<PassReport, ComponentError> {
    let mut report = cleanup_pass(ctx, &MemorySecrets::default(), env, Scope::All).await?;
    match report.error.take() {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

impl Harness {
    /// One `Apply` pass over `only` these components (the rest of the walk is not run);
    /// panics when the pass fails.
    pub async fn pass_only(&self, env: &RedcapEnvironment, only: &[ComponentName]) -> PassReport {
        apply_at(
            &self.ctx,
            &self.store,
            env,
            WriteMode::Apply,
            Timestamp::now(),
            Scope::Only(only),
        )
        .await
        .unwrap_or_else(|e| panic!("apply pass: {e}"))
    }

    /// One deletion pass over `only` these components; panics when the pass fails.
    pub async fn cleanup_only(
        &self,
        env: &RedcapEnvironment,
        only: &[ComponentName],
    ) -> PassReport {
        let mut report = cleanup_pass(&self.ctx, &self.store, env, Scope::Only(only))
            .await
            .unwrap_or_else(|e| panic!("cleanup pass: {e}"));
        if let Some(e) = report.error.take() {
            panic!("cleanup pass: {e}");
        }
        report
    }

    /// The pass's report even when a component failed (the walk goes on after a failure).
    pub async fn pass_report(&self, env: &RedcapEnvironment) -> PassReport {
        apply_pass(
            &self.ctx,
            &self.store,
            env,
            WriteMode::Apply,
            Timestamp::now(),
            Scope::All,
        )
        .await
        .expect("the pass starts")
    }
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
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    format!("{:x}{:x}", nanos, std::process::id())
}

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
    let mut spec = json!({
        "aws": {"region": region},
        "redcap": {"version": "15.0.0", "source": {"s3": {"bucket": release_bucket, "key": "redcap15.0.0.zip"}}},
        // One SES identity per environment: identities are account-wide, and tests run
        // in parallel.
        "email": {"fromAddress": format!("redcap-{}@example.org", unique())},
    });
    if let (Some(s), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
        s.extend(extra.clone());
    }
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

/// One plain HTTP/1.1 request to the emulator's control API (`/_emulator/...`); returns
/// the status code. Panics when the emulator cannot be reached.
pub fn emulator_control(method: &str, path: &str, body: &Value) -> u16 {
    let url = endpoint();
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let payload = body.to_string();
    let mut stream = TcpStream::connect(host).expect("connect to the emulator");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )
    .expect("write request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read answer");
    raw.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line")
}

/// The CodeBuild project `env`'s image is built by.
pub fn image_project(env: &RedcapEnvironment) -> String {
    let id = redcap_operator::plan::EnvIdentity::from_env(env).expect("identity");
    redcap_operator::plan::image::project_name(&id.environment_id())
}

/// The state `pass` reported for component `name`; panics when it was not reported.
pub fn state(pass: &PassReport, name: ComponentName) -> ComponentState {
    pass.components
        .iter()
        .find(|c| c.name == name)
        .map(|c| c.state)
        .expect("component reported")
}
