//! Shared harness for the end-to-end tests.
//!
//! The tests talk to real parts only: the kube-apiserver, etcd and
//! kube-controller-manager built by `e2e/scripts/build-tools.sh`, the moto server, and the
//! operator binary running as a separate process with a ServiceAccount token bound to the
//! chart's RBAC. `e2e/scripts/test-all.sh` starts those and exports where they are; a
//! test run without them fails (it never silently skips).
//!
//! A test file's name says its level (see `e2e/README.md`): `component_*` drives the
//! operator library's walk in-process ([`components`]), `operator_*` starts the operator
//! binary ([`Operator`]) and reads status back from the API server ([`TestEnv`]), `api_*`
//! needs the API server only, `emulator_*` the emulator only. What they read back from AWS
//! to check, and the loops they wait with, are in [`probe`]; tests that pause or restart
//! the API server do it through [`control_plane`].

pub mod components;
pub mod control_plane;
pub mod emulator;
pub mod manifests;
pub mod probe;

use redcap_operator::aws::sdk::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use redcap_operator::api::{RedcapEnvironment, conditions};
use tokio::process::{Child, Command};

/// Bucket and version of the REDCap release the operator-process tests' manifests use.
pub use manifests::{REDCAP_VERSION as RELEASE_VERSION, RELEASE_BUCKET};

/// Namespace the chart is installed into (`e2e/scripts/operator.sh install`).
pub const OPERATOR_NAMESPACE: &str = "redcap-system";
/// The operator's ServiceAccount (the chart's full name for the release `redcap-operator`).
pub const OPERATOR_SERVICE_ACCOUNT: &str = "redcap-operator";
/// The chart's ClusterRole for Secret access, which a namespace binds to let the operator
/// serve its environments (docs/install.md, "Secret access").
pub const SECRETS_CLUSTER_ROLE: &str = "redcap-operator-secrets";

/// Where the running parts are, read from the environment `test-all.sh` exports.
pub struct TestEnv {
    /// Admin client (system:masters), for setting up and asserting.
    pub kube: Client,
    /// AWS configuration pointing at the emulator.
    pub aws: aws_config::SdkConfig,
    /// The operator binary under test.
    pub operator_bin: PathBuf,
    /// Kubeconfig holding the operator ServiceAccount's token (chart RBAC).
    pub operator_kubeconfig: PathBuf,
    /// Directory for logs of this run.
    pub state_dir: PathBuf,
    /// Real kubectl, for what users do with it (apply of raw YAML).
    pub kubectl: PathBuf,
    /// Admin kubeconfig path, for kubectl.
    pub admin_kubeconfig: PathBuf,
}

fn required_env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| {
        format!("{name} is not set: run the e2e tests through `make test` (e2e/scripts/test-all.sh), which starts the local control plane and moto")
    })
}

impl TestEnv {
    /// The parts, found from the environment. Also makes sure the REDCap release the
    /// tests' manifests name (`s3://redcap-releases/redcap15.8.0.zip`, a stand-in zip)
    /// exists in the emulator, as it would in a real account, so their image builds start.
    pub async fn from_env() -> anyhow::Result<Self> {
        let admin_kubeconfig = PathBuf::from(required_env("KUBECONFIG")?);
        required_env("AWS_ENDPOINT_URL")?;
        let kube = Client::try_default().await.context("connecting to the local kube-apiserver")?;
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .load()
            .await;
        let env = Self {
            kube,
            aws,
            operator_bin: PathBuf::from(required_env("REDCAP_OPERATOR_BIN")?),
            operator_kubeconfig: PathBuf::from(required_env("REDCAP_OPERATOR_KUBECONFIG")?),
            state_dir: PathBuf::from(required_env("E2E_STATE_DIR")?),
            kubectl: PathBuf::from(required_env("KUBECTL")?),
            admin_kubeconfig,
        };
        ensure_release(&env.s3(), RELEASE_BUCKET, RELEASE_VERSION).await?;
        Ok(env)
    }

    /// How most operator tests start: the parts, a fresh namespace `<prefix>-<random>`, and
    /// the operator (logging as `label`) watching only that namespace.
    pub async fn with_scoped_operator(
        prefix: &str,
        label: &str,
    ) -> anyhow::Result<(Self, String, Operator)> {
        let env = Self::from_env().await?;
        let ns = env.namespace(prefix).await?;
        let op = Operator::start(&env, label, OperatorOptions::scoped(&ns)).await?;
        Ok((env, ns, op))
    }

    /// S3 client for assertions.
    pub fn s3(&self) -> aws_sdk_s3::Client {
        s3_client(&self.aws)
    }

    /// KMS client for assertions.
    pub fn kms(&self) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.aws)
    }

    /// Creates a fresh namespace named `<prefix>-<random>` that grants the operator
    /// Secret access, as its admin would (the chart's default `rbac.secrets.scope:
    /// namespaces` grants none outside its list), and returns its name.
    pub async fn namespace(&self, prefix: &str) -> anyhow::Result<String> {
        let name = self.namespace_without_secret_access(prefix).await?;
        self.grant_secret_access(&name).await?;
        Ok(name)
    }

    /// Creates a fresh namespace named `<prefix>-<random>` where the operator may not
    /// read or create Secrets.
    pub async fn namespace_without_secret_access(&self, prefix: &str) -> anyhow::Result<String> {
        let name = format!("{prefix}-{:08x}", rand_suffix());
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.kube.clone());
        let ns = serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))?;
        api.create(&PostParams::default(), &ns)
            .await
            .with_context(|| format!("creating namespace {name}"))?;
        Ok(name)
    }

    /// Binds the chart's Secret ClusterRole to the operator in `namespace` (what
    /// `kubectl create rolebinding redcap-operator-secrets --clusterrole=... --serviceaccount=...`
    /// does in docs/install.md).
    pub async fn grant_secret_access(&self, namespace: &str) -> anyhow::Result<()> {
        let api: Api<k8s_openapi::api::rbac::v1::RoleBinding> =
            Api::namespaced(self.kube.clone(), namespace);
        let binding = serde_json::from_value(serde_json::json!({
            "metadata": {"name": SECRETS_CLUSTER_ROLE},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": SECRETS_CLUSTER_ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": OPERATOR_SERVICE_ACCOUNT, "namespace": OPERATOR_NAMESPACE}],
        }))?;
        api.create(&PostParams::default(), &binding)
            .await
            .with_context(|| format!("granting the operator Secret access in {namespace}"))?;
        Ok(())
    }

    pub fn environments(&self, namespace: &str) -> Api<RedcapEnvironment> {
        Api::namespaced(self.kube.clone(), namespace)
    }

    /// Creates or updates an environment from YAML (server-side apply, like `kubectl apply --server-side`).
    pub async fn apply_yaml(
        &self,
        namespace: &str,
        yaml: &str,
    ) -> anyhow::Result<RedcapEnvironment> {
        let value: serde_json::Value =
            serde_yaml::from_str(yaml).context("parsing test manifest")?;
        let name = value["metadata"]["name"]
            .as_str()
            .context("manifest has no metadata.name")?
            .to_string();
        let api = self.environments(namespace);
        let params = PatchParams::apply("e2e-test").force();
        api.patch(&name, &params, &Patch::Apply(&value))
            .await
            .with_context(|| format!("applying {namespace}/{name}"))
    }

    /// Merge-patches the spec of an environment.
    pub async fn patch_spec(
        &self,
        namespace: &str,
        name: &str,
        spec_patch: serde_json::Value,
    ) -> anyhow::Result<()> {
        let patch = serde_json::json!({ "spec": spec_patch });
        self.environments(namespace)
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .with_context(|| format!("patching {namespace}/{name}"))?;
        Ok(())
    }

    pub async fn delete_env(&self, namespace: &str, name: &str) -> anyhow::Result<()> {
        self.environments(namespace).delete(name, &DeleteParams::default()).await?;
        Ok(())
    }

    /// Polls the environment until `done` holds, failing with the last status seen.
    pub async fn wait_env(
        &self,
        namespace: &str,
        name: &str,
        timeout: Duration,
        what: &str,
        done: impl Fn(&RedcapEnvironment) -> bool,
    ) -> anyhow::Result<RedcapEnvironment> {
        let api = self.environments(namespace);
        let start = Instant::now();
        loop {
            let env = api.get(name).await?;
            if done(&env) {
                return Ok(env);
            }
            if start.elapsed() > timeout {
                bail!(
                    "timed out after {timeout:?} waiting for {namespace}/{name} to be {what}; last status: {}",
                    serde_json::to_string_pretty(&env.status)?
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until `Ready=True` for the current generation.
    pub async fn wait_ready(
        &self,
        namespace: &str,
        name: &str,
        timeout: Duration,
    ) -> anyhow::Result<RedcapEnvironment> {
        self.wait_env(namespace, name, timeout, "Ready", is_ready).await
    }

    /// Waits until the object is gone (finalizer released).
    pub async fn wait_gone(
        &self,
        namespace: &str,
        name: &str,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let api = self.environments(namespace);
        let start = Instant::now();
        while api.get_opt(name).await?.is_some() {
            if start.elapsed() > timeout {
                let env = api.get(name).await?;
                bail!(
                    "{namespace}/{name} still exists after {timeout:?}; status: {}",
                    serde_json::to_string_pretty(&env.status)?
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok(())
    }

    /// The `events.k8s.io/v1` Events of a namespace.
    pub async fn events(
        &self,
        namespace: &str,
    ) -> anyhow::Result<Vec<k8s_openapi::api::events::v1::Event>> {
        let api: Api<k8s_openapi::api::events::v1::Event> =
            Api::namespaced(self.kube.clone(), namespace);
        Ok(api.list(&Default::default()).await?.items)
    }

    /// Runs real kubectl with the admin kubeconfig; returns (success, stdout+stderr).
    pub async fn kubectl(
        &self,
        args: &[&str],
        stdin: Option<&str>,
    ) -> anyhow::Result<(bool, String)> {
        let mut cmd = Command::new(&self.kubectl);
        cmd.args(args)
            .env("KUBECONFIG", &self.admin_kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::piped());
        let mut child = cmd.spawn().context("starting kubectl")?;
        if let Some(input) = stdin {
            use tokio::io::AsyncWriteExt;
            let mut pipe = child.stdin.take().context("kubectl stdin")?;
            pipe.write_all(input.as_bytes()).await?;
            drop(pipe);
        } else {
            drop(child.stdin.take());
        }
        let out = child.wait_with_output().await?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    }
}

/// An S3 client of `aws` in path style (the emulator listens on 127.0.0.1, no virtual
/// hosts).
pub fn s3_client(aws: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(aws).force_path_style(true).build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// `Ready=True` with `observedGeneration` equal to the object's generation (kstatus "Current").
pub fn is_ready(env: &RedcapEnvironment) -> bool {
    let Some(status) = &env.status else {
        return false;
    };
    status.observed_generation == env.metadata.generation
        && conditions::is_true(&status.conditions, "Ready")
}

/// `Stalled=True` for the current generation.
pub fn is_stalled(env: &RedcapEnvironment) -> bool {
    let Some(status) = &env.status else {
        return false;
    };
    status.observed_generation == env.metadata.generation
        && conditions::is_true(&status.conditions, "Stalled")
}

/// The message of a condition, or "".
pub fn condition_message(env: &RedcapEnvironment, type_: &str) -> String {
    env.status
        .as_ref()
        .and_then(|s| conditions::find_condition(&s.conditions, type_))
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

fn rand_suffix() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish() as u32
}

/// The operator under test, as a child process with its own metrics port and log file.
pub struct Operator {
    child: Option<Child>,
    pub metrics_port: u16,
    pub log_path: PathBuf,
}

/// How to start the operator.
pub struct OperatorOptions<'a> {
    /// Watch only this namespace (tests run side by side in one cluster).
    pub namespace: Option<&'a str>,
    pub leader_election: bool,
    /// Steady-state resync period.
    pub resync_seconds: u64,
    pub extra_args: Vec<String>,
    /// Extra environment variables (e.g. `AWS_ENDPOINT_URL` of a private emulator).
    pub env: Vec<(String, String)>,
    /// The tenancy policy (YAML) passed with `--tenancy-policy-file`.
    pub tenancy_policy: String,
}

/// The tenancy policy of most tests: every namespace may send mail from and serve names
/// under the test domains (the tests' account owns them), nothing more.
pub const TEST_TENANCY_POLICY: &str =
    "default:\n  domains: [example.org, example.net, example.com]\n";

impl<'a> OperatorOptions<'a> {
    /// The usual test setup: watch only `namespace`, resync every 2 s, no leader election.
    pub fn scoped(namespace: &'a str) -> Self {
        Self { namespace: Some(namespace), resync_seconds: 2, ..Default::default() }
    }
}

impl Default for OperatorOptions<'_> {
    fn default() -> Self {
        Self {
            namespace: None,
            leader_election: false,
            resync_seconds: 5,
            extra_args: Vec::new(),
            env: Vec::new(),
            tenancy_policy: TEST_TENANCY_POLICY.to_string(),
        }
    }
}

impl Operator {
    pub async fn start(
        env: &TestEnv,
        label: &str,
        opts: OperatorOptions<'_>,
    ) -> anyhow::Result<Self> {
        let metrics_port = free_port()?;
        let log_path = env.state_dir.join(format!("operator-{label}-{metrics_port}.log"));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let policy_path = env.state_dir.join(format!("tenancy-{label}-{metrics_port}.yaml"));
        std::fs::write(&policy_path, &opts.tenancy_policy)
            .with_context(|| format!("writing {}", policy_path.display()))?;
        let mut cmd = Command::new(&env.operator_bin);
        cmd.arg("run")
            .arg(format!("--metrics-addr=127.0.0.1:{metrics_port}"))
            .arg(format!("--leader-election={}", opts.leader_election))
            .arg(format!("--resync-seconds={}", opts.resync_seconds))
            .arg("--log-format=json")
            .arg("--s3-force-path-style=true")
            .args(&opts.extra_args)
            .env("KUBECONFIG", &env.operator_kubeconfig)
            // Where the chart grants the leader-election Lease (as in a pod of the chart).
            .env("POD_NAMESPACE", OPERATOR_NAMESPACE)
            .env("REDCAP_LOG_LEVEL", "info,redcap_operator=debug")
            // `--tenancy-policy-file` through its variable: an operator version without
            // the flag still starts (a test can then show what that version did).
            .env("REDCAP_TENANCY_POLICY_FILE", &policy_path)
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        if let Some(ns) = opts.namespace {
            cmd.arg(format!("--namespace={ns}"));
        }
        cmd.envs(opts.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let child =
            cmd.spawn().with_context(|| format!("starting {}", env.operator_bin.display()))?;
        let op = Self { child: Some(child), metrics_port, log_path };
        op.wait_healthy(Duration::from_secs(30)).await?;
        Ok(op)
    }

    async fn wait_healthy(&self, timeout: Duration) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            if let Ok(body) = http_get(self.metrics_port, "/healthz").await
                && !body.is_empty()
            {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!(
                    "operator did not answer /healthz within {timeout:?}; log: {}",
                    self.log_path.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The Prometheus text from `/metrics`.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        http_get(self.metrics_port, "/metrics").await
    }

    /// Sum of AWS calls with the given `kind` label (`read` or `write`) so far.
    pub async fn aws_calls(&self, kind: &str) -> anyhow::Result<f64> {
        Ok(sum_metric(
            &self.metrics().await?,
            "redcap_operator_aws_calls_total",
            &format!("kind=\"{kind}\""),
        ))
    }

    /// The operator's AWS calls of `operation` so far (any service, any result).
    pub async fn operation_calls(&self, operation: &str) -> anyhow::Result<f64> {
        Ok(sum_metric(
            &self.metrics().await?,
            "redcap_operator_aws_calls_total",
            &format!("operation=\"{operation}\""),
        ))
    }

    /// Graceful stop (SIGTERM), as Kubernetes does.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                // SAFETY-free: kill(1) is the portable way to send SIGTERM without a libc dependency.
                let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
            }
            match tokio::time::timeout(Duration::from_secs(20), child.wait()).await {
                Ok(_) => {}
                Err(_) => {
                    child.kill().await?;
                    bail!("operator did not stop within 20s of SIGTERM");
                }
            }
        }
        Ok(())
    }

    /// Hard kill (SIGKILL), to simulate a crash mid-reconcile.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }

    /// Whether the process still runs (`false` once it exited, or after `stop`/`kill`).
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// The operator's log so far (for secret-leak scans and failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

/// Sums every sample of `family` whose label set contains `label_fragment`.
pub fn sum_metric(text: &str, family: &str, label_fragment: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(family) && l.contains(label_fragment))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A minimal HTTP/1.0 GET on loopback (avoids an HTTP client dependency for two endpoints).
async fn http_get(port: u16, path: &str) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).await?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await?;
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        bail!("GET {path}: {}", head.lines().next().unwrap_or_default());
    }
    Ok(body.to_string())
}

/// The smallest valid zip (an empty archive): what the emulator's builds "download".
pub const FAKE_RELEASE_ZIP: &[u8] = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

/// Puts a stand-in REDCap release zip `redcap<version>.zip` into `bucket` (created when
/// missing), so environments pointing at it can build their image. Idempotent, and safe
/// when tests run side by side.
pub async fn ensure_release(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    version: &str,
) -> anyhow::Result<String> {
    let key = format!("redcap{version}.zip");
    let region = s3.config().region().map(|r| r.as_ref().to_string()).unwrap_or_default();
    let mut create = s3.create_bucket().bucket(bucket);
    if !region.is_empty() && region != "us-east-1" {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    region.as_str(),
                ))
                .build(),
        );
    }
    if let Err(e) = create.send().await {
        let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e).unwrap_or_default();
        if !matches!(code, "BucketAlreadyOwnedByYou" | "BucketAlreadyExists") {
            return Err(anyhow::anyhow!("creating release bucket {bucket}: {e:?}"));
        }
    }
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(FAKE_RELEASE_ZIP))
        .send()
        .await
        .with_context(|| format!("uploading s3://{bucket}/{key}"))?;
    Ok(key)
}

/// Reads a file of the repository (tests run with the crate dir as cwd).
pub fn repo_file(rel: &str) -> anyhow::Result<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// The name of an environment object.
pub fn name_of(env: &RedcapEnvironment) -> String {
    env.name_any()
}
