//! The local AWS emulator's control API (`/_emulator/...`, plain HTTP + JSON; see
//! `e2e/emulator/README.md`) and private emulators for tests that change its global
//! settings.
//!
//! Durations, outcomes and fault rules are global to one emulator process. A test that
//! sets them on the suite's shared emulator must be the only test of its binary (cargo runs
//! test binaries one after another) and must reset them even when it fails: the guards
//! returned here do that on drop. A test that needs them while other tests run beside it
//! starts a [`PrivateEmulator`] instead.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// A client of one emulator's control API.
#[derive(Clone, Debug)]
pub struct EmulatorControl {
    /// `host:port` of the emulator (it listens on loopback, plain HTTP).
    host: String,
}

impl EmulatorControl {
    /// The suite's emulator (`AWS_ENDPOINT_URL`).
    pub fn from_env() -> Self {
        Self::at(&crate::components::endpoint())
    }

    /// The emulator at `url` (`http://127.0.0.1:<port>`).
    pub fn at(url: &str) -> Self {
        Self { host: url.trim_start_matches("http://").trim_end_matches('/').to_string() }
    }

    /// One request to `/_emulator/<path>`; returns (HTTP status, JSON body or `Null`).
    /// Blocking on purpose: the guards call it from `Drop`, and the emulator answers in
    /// milliseconds on loopback.
    pub fn request(&self, method: &str, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let payload = if body.is_null() { String::new() } else { body.to_string() };
        let mut stream = TcpStream::connect(&self.host)
            .with_context(|| format!("connecting to the emulator at {}", self.host))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            stream,
            "{method} /_emulator/{path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            self.host,
            payload.len()
        )?;
        let mut raw = String::new();
        stream.read_to_string(&mut raw)?;
        let status = raw
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("no status line in the emulator's answer: {raw:.200}"))?;
        let body = raw.split("\r\n\r\n").nth(1).unwrap_or("");
        Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
    }

    fn expect_ok(&self, method: &str, path: &str, body: &Value) -> anyhow::Result<Value> {
        let (status, answer) = self.request(method, path, body)?;
        if status != 200 {
            bail!("{method} /_emulator/{path} answered {status}: {answer}");
        }
        Ok(answer)
    }

    /// Replaces the fault rules (seeded RNG); the guard removes every rule on drop.
    pub fn set_faults(&self, seed: u64, rules: Value) -> anyhow::Result<FaultsGuard> {
        self.expect_ok("POST", "faults", &json!({"seed": seed, "rules": rules}))?;
        Ok(FaultsGuard(self.clone()))
    }

    /// The fault report: rules with `matched`/`fired`, the firing log, total `calls`.
    pub fn faults(&self) -> anyhow::Result<Value> {
        self.expect_ok("GET", "faults", &Value::Null)
    }

    /// Starts a request log: a rule that slows every AWS call by `latency_ms` (the
    /// emulator logs a firing with its arrival time, service and operation for each; a
    /// latency rule needs a delay of at least 1 ms). Replaces the other rules; the guard
    /// removes it. Read the log with [`EmulatorControl::requests`].
    pub fn log_requests(&self, latency_ms: u64) -> anyhow::Result<FaultsGuard> {
        anyhow::ensure!(latency_ms > 0, "the emulator's latency rules need latency_ms > 0");
        self.set_faults(0, json!([{"kind": "latency", "latency_ms": latency_ms}]))
    }

    /// The AWS requests logged since [`EmulatorControl::log_requests`] (the last 2000),
    /// oldest first.
    pub fn requests(&self) -> anyhow::Result<Vec<LoggedRequest>> {
        let report = self.faults()?;
        let fired = report["fired"].as_array().context("no firing log in the fault report")?;
        fired
            .iter()
            .map(|f| {
                Ok(LoggedRequest {
                    at: f["at"].as_f64().context("a firing without a time")?,
                    service: f["service"].as_str().unwrap_or_default().to_string(),
                    operation: f["operation"].as_str().unwrap_or_default().to_string(),
                })
            })
            .collect()
    }

    /// How many times the current rules fired in all.
    pub fn faults_fired(&self) -> anyhow::Result<u64> {
        let report = self.faults()?;
        Ok(report["rules"]
            .as_array()
            .context("no rules in the fault report")?
            .iter()
            .filter_map(|r| r["fired"].as_u64())
            .sum())
    }

    /// Merges `{"durations": {...}, "outcomes": {...}}` into the lifecycle settings; the
    /// guard restores the defaults on drop.
    pub fn set_config(&self, config: Value) -> anyhow::Result<ConfigGuard> {
        self.merge_config(&config)?;
        Ok(ConfigGuard(self.clone()))
    }

    /// Merges `{"durations": {...}, "outcomes": {...}}` into the lifecycle settings and
    /// leaves them: for settings narrowed to one test's own resource names.
    pub fn merge_config(&self, config: &Value) -> anyhow::Result<()> {
        self.expect_ok("POST", "config", config).map(drop)
    }

    /// The duration `key` (e.g. `rds.cluster.create:<id>`, narrowed to one resource) set
    /// to `seconds`; the guard removes that one key on drop (other settings stay).
    pub fn set_duration(&self, key: &str, seconds: u64) -> anyhow::Result<DurationGuard> {
        self.merge_config(&json!({"durations": {key: seconds}}))?;
        Ok(DurationGuard(self.clone(), key.to_string()))
    }

    /// How long CodeBuild's builds of `project` take and how they end: `outcome` is
    /// (`SUCCEEDED`/`FAILED`/..., the failed phase), `None` for the default (success).
    /// Narrowed to the project, so tests with projects of their own run side by side.
    pub fn set_build(
        &self,
        project: &str,
        seconds: f64,
        outcome: Option<(&str, &str)>,
    ) -> anyhow::Result<()> {
        let mut outcomes = json!({ format!("codebuild:{project}"): outcome.map(|o| o.0) });
        if let Some((_, phase)) = outcome {
            outcomes[format!("codebuild.failed_phase:{project}")] = json!(phase);
        }
        self.merge_config(&json!({
            "durations": { format!("codebuild.build:{project}"): seconds },
            "outcomes": outcomes,
        }))
    }
}

/// One AWS request in the emulator's log ([`EmulatorControl::requests`]).
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedRequest {
    /// Arrival, in seconds since the Unix epoch (the emulator runs on this machine).
    pub at: f64,
    pub service: String,
    pub operation: String,
}

/// Now, in seconds since the Unix epoch (to compare with [`LoggedRequest::at`]).
pub fn epoch_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// One awsJson 1.1 call to the emulator without an SDK client (for services the operator
/// does not call yet, such as ACM): `target` is the `X-Amz-Target` header.
pub fn aws_json(region: &str, service: &str, target: &str, body: &Value) -> anyhow::Result<Value> {
    let control = EmulatorControl::from_env();
    let payload = body.to_string();
    let mut stream = TcpStream::connect(&control.host)
        .with_context(|| format!("connecting to the emulator at {}", control.host))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: {target}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {len}\r\nConnection: close\r\n\r\n{payload}",
        host = control.host,
        len = payload.len()
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let status = raw.split(' ').nth(1).unwrap_or_default().to_string();
    let answer = raw.split("\r\n\r\n").nth(1).unwrap_or("");
    if status != "200" {
        bail!("{target} answered {status}: {answer:.300}");
    }
    Ok(serde_json::from_str(answer).unwrap_or(Value::Null))
}

/// A certificate for `domain` in the emulator's ACM (the load balancer's HTTPS listener
/// refuses one ACM does not hold); returns its ARN.
pub fn request_certificate(region: &str, domain: &str) -> anyhow::Result<String> {
    let answer = aws_json(
        region,
        "acm",
        "CertificateManager.RequestCertificate",
        &json!({"DomainName": domain, "ValidationMethod": "DNS"}),
    )?;
    answer["CertificateArn"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("RequestCertificate answered {answer}"))
}

/// Removes one duration setting when dropped.
#[must_use = "the duration is removed when the guard is dropped"]
pub struct DurationGuard(EmulatorControl, String);

impl Drop for DurationGuard {
    fn drop(&mut self) {
        let _ = self.0.request("POST", "config", &json!({"durations": {self.1.as_str(): null}}));
    }
}

/// Removes every fault rule when dropped.
#[must_use = "the rules are removed when the guard is dropped"]
pub struct FaultsGuard(EmulatorControl);

impl Drop for FaultsGuard {
    fn drop(&mut self) {
        let _ = self.0.request("DELETE", "faults", &Value::Null);
    }
}

/// Restores the default durations and outcomes when dropped.
#[must_use = "the settings are reset when the guard is dropped"]
pub struct ConfigGuard(EmulatorControl);

impl Drop for ConfigGuard {
    fn drop(&mut self) {
        let _ = self.0.request("DELETE", "config", &Value::Null);
    }
}

/// An emulator of its own (same launcher as the suite's, `e2e/scripts/moto.sh`), stopped
/// on drop.
pub struct PrivateEmulator {
    state_dir: PathBuf,
    pub url: String,
    pub control: EmulatorControl,
}

impl PrivateEmulator {
    /// Starts one under `<parent>/emulator-<label>`.
    pub fn start(parent: &Path, label: &str) -> anyhow::Result<Self> {
        let state_dir = parent.join(format!("emulator-{label}-{}", std::process::id()));
        std::fs::create_dir_all(&state_dir)?;
        let status = std::process::Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(&state_dir)
            .status()
            .context("running e2e/scripts/moto.sh start")?;
        anyhow::ensure!(
            status.success(),
            "e2e/scripts/moto.sh start {} failed",
            state_dir.display()
        );
        let url = std::fs::read_to_string(state_dir.join("moto.url"))
            .context("moto.sh wrote no moto.url")?
            .trim()
            .to_string();
        Ok(Self { control: EmulatorControl::at(&url), state_dir, url })
    }

    /// AWS configuration of a client of this emulator (static test credentials).
    pub async fn aws(&self, region: &str) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .endpoint_url(&self.url)
            .load()
            .await
    }
}

impl Drop for PrivateEmulator {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.state_dir)
            .status();
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/moto.sh")
}

/// Standard base64 (with or without padding) to bytes, for blobs of awsJson answers
/// (`aws_json`); characters outside the alphabet are skipped.
pub fn base64_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let Some(v) = ALPHABET.iter().position(|a| *a == c) else { continue };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}
