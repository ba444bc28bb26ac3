//! Operator-wide settings: the `run` flags (with `REDCAP_*` environment fallbacks) and
//! the resolved [`OperatorConfig`] the rest of the process reads.
//!
//! Parsing and resolution are pure; the only I/O is [`Host::detect`], which reads the
//! pod's identity from the environment and the ServiceAccount namespace file. Nothing
//! here talks to Kubernetes or AWS.

use std::net::SocketAddr;
use std::time::Duration;

use crate::aws::AwsSettings;
use crate::leader::{Timing, TimingError};
use crate::tenancy::TenancyPolicy;

/// Where a pod finds its own namespace when `POD_NAMESPACE` is not set.
pub const SERVICE_ACCOUNT_NAMESPACE_FILE: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// Log output format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (for log collectors).
    Json,
    /// Coloured, multi-field lines for a terminal.
    Human,
}

/// How the AWS SDK retries throttled and transient calls.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsRetryMode {
    /// Exponential backoff plus a client-side rate limiter that slows a throttled
    /// service down for every caller of the client (the SDK's adaptive mode).
    Adaptive,
    /// Exponential backoff per call only, without the shared rate limiter.
    Standard,
}

/// Flags of `redcap-operator run`. Every flag can also come from its `REDCAP_*`
/// environment variable (the flag wins).
#[derive(clap::Args, Clone, Debug)]
pub struct RunArgs {
    /// Watch only this namespace (default: every namespace).
    #[arg(long, env = "REDCAP_NAMESPACE")]
    pub namespace: Option<String>,

    /// How many environments may be reconciled at the same time.
    #[arg(long, env = "REDCAP_CONCURRENCY", default_value_t = 4)]
    pub concurrency: u16,

    /// Seconds between steady-state reconciles of a settled environment (drift check).
    #[arg(long, env = "REDCAP_RESYNC_SECONDS", default_value_t = 300)]
    pub resync_seconds: u64,

    /// Address of the `/metrics`, `/healthz` and `/readyz` server.
    #[arg(long, env = "REDCAP_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,

    /// Log format.
    #[arg(long, env = "REDCAP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,

    /// Log filter, in `tracing` EnvFilter syntax (`info`, `redcap_operator=debug,kube=info`).
    #[arg(long, env = "REDCAP_LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Elect a leader through a Lease so that only one replica reconciles
    /// (`--leader-election=false` to run without).
    #[arg(
        long,
        env = "REDCAP_LEADER_ELECTION",
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub leader_election: bool,

    /// Name of the coordination.k8s.io Lease used for leader election.
    #[arg(long, env = "REDCAP_LEASE_NAME", default_value = "redcap-operator")]
    pub lease_name: String,

    /// Namespace of the Lease (default: `POD_NAMESPACE`, else the ServiceAccount's
    /// namespace, else `default`).
    #[arg(long, env = "REDCAP_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// Identity of this replica in the Lease (default: `POD_NAME`, else hostname and pid).
    #[arg(long, env = "REDCAP_HOLDER_ID")]
    pub holder_id: Option<String>,

    /// Seconds a standby waits, after it last saw the Lease renewed, before it takes
    /// over (how soon a crashed leader is replaced).
    #[arg(long, env = "REDCAP_LEASE_DURATION_SECONDS", default_value_t = 15)]
    pub lease_duration_seconds: u64,

    /// Seconds the leader keeps working while its renewals fail (an API server
    /// restarting); after that it stops every AWS call and stands by. Shorter than the
    /// lease duration.
    #[arg(long, env = "REDCAP_RENEW_DEADLINE_SECONDS", default_value_t = 10)]
    pub renew_deadline_seconds: u64,

    /// Seconds between renewals of the Lease (and between a standby's looks at it).
    #[arg(long, env = "REDCAP_RETRY_PERIOD_SECONDS", default_value_t = 2)]
    pub retry_period_seconds: u64,

    /// Maximum attempts per AWS call (the SDK retries throttling and transient errors).
    #[arg(long, env = "REDCAP_AWS_MAX_ATTEMPTS", default_value_t = 5)]
    pub aws_max_attempts: u32,

    /// Retry strategy of the AWS SDK. `adaptive` protects a throttled account best;
    /// `standard` recovers faster from short bursts of throttling.
    #[arg(long, env = "REDCAP_AWS_RETRY_MODE", value_enum, default_value_t = AwsRetryMode::Adaptive)]
    pub aws_retry_mode: AwsRetryMode,

    /// Steady rate of AWS calls per service, per (region, role); 0 disables the budget.
    #[arg(long, env = "REDCAP_AWS_CALLS_PER_SECOND", default_value_t = 10.0)]
    pub aws_calls_per_second: f64,

    /// AWS calls of one service that may go out at once before the rate applies.
    #[arg(long, env = "REDCAP_AWS_BURST", default_value_t = 20)]
    pub aws_burst: u32,

    /// Name (with its path, e.g. `redcap/redcap-operator-boundary`) of the customer
    /// managed policy set as the permissions boundary of every IAM role and user the
    /// operator creates, in the account the environment's credentials act in. Required:
    /// the operator's IAM policy allows no CreateRole/CreateUser without it.
    #[arg(
        long,
        env = "REDCAP_AWS_PERMISSIONS_BOUNDARY",
        default_value = crate::aws::DEFAULT_PERMISSIONS_BOUNDARY
    )]
    pub aws_permissions_boundary: String,

    /// Use path-style S3 addressing (needed by local emulators such as moto).
    #[arg(
        long,
        env = "REDCAP_S3_FORCE_PATH_STYLE",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub s3_force_path_style: bool,

    /// First retry delay after a recoverable error (doubles per failure).
    #[arg(long, env = "REDCAP_BACKOFF_BASE_SECONDS", default_value_t = 5)]
    pub backoff_base_seconds: u64,

    /// Longest retry delay after recoverable errors.
    #[arg(long, env = "REDCAP_BACKOFF_MAX_SECONDS", default_value_t = 300)]
    pub backoff_max_seconds: u64,

    /// YAML file with the tenancy policy: which roles, DNS names, hosted zones and
    /// restore sources each namespace may use (see `tenancy`). Absent: every namespace
    /// gets the built-in default, which allows none of them beyond the namespace itself.
    #[arg(long, env = "REDCAP_TENANCY_POLICY_FILE")]
    pub tenancy_policy_file: Option<std::path::PathBuf>,
}

/// A flag combination that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("--concurrency must be at least 1")]
    ZeroConcurrency,
    #[error("--resync-seconds must be at least 1")]
    ZeroResync,
    #[error("--aws-max-attempts must be at least 1")]
    ZeroAwsAttempts,
    #[error("--aws-calls-per-second must be a finite number >= 0")]
    InvalidAwsRate,
    #[error("--aws-burst must be at least 1")]
    ZeroAwsBurst,
    #[error("--backoff-base-seconds must be at least 1")]
    ZeroBackoffBase,
    #[error("--backoff-base-seconds ({base}) must not exceed --backoff-max-seconds ({max})")]
    BackoffBaseAboveMax { base: u64, max: u64 },
    #[error("--namespace must not be empty")]
    EmptyNamespace,
    #[error("--lease-name must not be empty")]
    EmptyLeaseName,
    #[error(
        "--aws-permissions-boundary must name an IAM policy (`name` or `path/name`), got {0:?}"
    )]
    InvalidPermissionsBoundary(String),
    #[error("--tenancy-policy-file: {0}")]
    TenancyPolicy(String),
    #[error(transparent)]
    LeaderTiming(#[from] TimingError),
}

/// Leader-election settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    pub holder_id: String,
    /// Lease duration, renew deadline and retry period.
    pub timing: Timing,
}

/// Resolved operator settings.
#[derive(Clone, Debug)]
pub struct OperatorConfig {
    /// `None` watches every namespace.
    pub namespace: Option<String>,
    pub concurrency: u16,
    /// Requeue delay of a settled environment.
    pub resync: Duration,
    pub metrics_addr: SocketAddr,
    pub log_format: LogFormat,
    pub log_level: String,
    /// `None` when leader election is disabled.
    pub leader_election: Option<LeaseConfig>,
    /// Identity of this replica (Lease holder, Event reporting instance).
    pub holder_id: String,
    pub aws: AwsSettings,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Which roles, DNS names, zones and restore sources each namespace may use.
    pub tenancy: TenancyPolicy,
}

/// What the process learns about the pod it runs in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Host {
    pub pod_namespace: Option<String>,
    pub service_account_namespace: Option<String>,
    pub pod_name: Option<String>,
    pub hostname: Option<String>,
    pub pid: u32,
}

impl Host {
    /// Reads `POD_NAMESPACE`, `POD_NAME`, `HOSTNAME` (or `/etc/hostname`) and the
    /// ServiceAccount namespace file. Missing values stay `None`.
    pub fn detect() -> Self {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let file = |path: &str| {
            std::fs::read_to_string(path)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        Self {
            pod_namespace: env("POD_NAMESPACE"),
            service_account_namespace: file(SERVICE_ACCOUNT_NAMESPACE_FILE),
            pod_name: env("POD_NAME"),
            hostname: env("HOSTNAME").or_else(|| file("/etc/hostname")),
            pid: std::process::id(),
        }
    }
}

impl RunArgs {
    /// Checks the flags and fills the defaults that depend on the pod.
    pub fn resolve(self, host: &Host) -> Result<OperatorConfig, ConfigError> {
        if self.concurrency == 0 {
            return Err(ConfigError::ZeroConcurrency);
        }
        if self.resync_seconds == 0 {
            return Err(ConfigError::ZeroResync);
        }
        if self.aws_max_attempts == 0 {
            return Err(ConfigError::ZeroAwsAttempts);
        }
        if !self.aws_calls_per_second.is_finite() || self.aws_calls_per_second < 0.0 {
            return Err(ConfigError::InvalidAwsRate);
        }
        if self.aws_burst == 0 {
            return Err(ConfigError::ZeroAwsBurst);
        }
        if self.backoff_base_seconds == 0 {
            return Err(ConfigError::ZeroBackoffBase);
        }
        if self.backoff_base_seconds > self.backoff_max_seconds {
            return Err(ConfigError::BackoffBaseAboveMax {
                base: self.backoff_base_seconds,
                max: self.backoff_max_seconds,
            });
        }
        let namespace = match self.namespace {
            Some(ns) if ns.trim().is_empty() => return Err(ConfigError::EmptyNamespace),
            other => other,
        };
        if self.lease_name.trim().is_empty() {
            return Err(ConfigError::EmptyLeaseName);
        }
        let boundary = self.aws_permissions_boundary.trim().trim_matches('/');
        if !valid_policy_name(boundary) {
            return Err(ConfigError::InvalidPermissionsBoundary(self.aws_permissions_boundary));
        }
        let permissions_boundary = boundary.to_string();
        // A policy that cannot be read stops the start: running with the default instead
        // would silently refuse (or, worse, a typo would silently allow) what the
        // administrator wrote.
        let tenancy = match &self.tenancy_policy_file {
            Some(path) => {
                TenancyPolicy::load(path).map_err(|e| ConfigError::TenancyPolicy(e.to_string()))?
            }
            None => TenancyPolicy::default(),
        };
        let timing = Timing::from_seconds(
            self.lease_duration_seconds,
            self.renew_deadline_seconds,
            self.retry_period_seconds,
        )?;
        let holder_id = self
            .holder_id
            .filter(|h| !h.trim().is_empty())
            .or_else(|| host.pod_name.clone())
            .unwrap_or_else(|| {
                format!("{}-{}", host.hostname.as_deref().unwrap_or("redcap-operator"), host.pid)
            });
        let leader_election = self.leader_election.then(|| LeaseConfig {
            name: self.lease_name.clone(),
            namespace: self
                .lease_namespace
                .clone()
                .filter(|n| !n.trim().is_empty())
                .or_else(|| host.pod_namespace.clone())
                .or_else(|| host.service_account_namespace.clone())
                .unwrap_or_else(|| "default".to_string()),
            holder_id: holder_id.clone(),
            timing,
        });
        Ok(OperatorConfig {
            namespace,
            concurrency: self.concurrency,
            resync: Duration::from_secs(self.resync_seconds),
            metrics_addr: self.metrics_addr,
            log_format: self.log_format,
            log_level: self.log_level,
            leader_election,
            holder_id,
            aws: AwsSettings {
                s3_force_path_style: self.s3_force_path_style,
                max_attempts: self.aws_max_attempts,
                retry_mode: self.aws_retry_mode,
                calls_per_second: self.aws_calls_per_second,
                burst: self.aws_burst,
                permissions_boundary,
            },
            backoff_base: Duration::from_secs(self.backoff_base_seconds),
            backoff_max: Duration::from_secs(self.backoff_max_seconds),
            tenancy,
        })
    }
}

/// An IAM policy name, optionally behind a path: IAM's own character sets
/// (`[\w+=,.@-]` for names, `/`-separated path segments), nothing that would make the
/// ARN the operator builds from it point somewhere unexpected (`:`, `*`, spaces).
fn valid_policy_name(policy: &str) -> bool {
    let name_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    !policy.is_empty()
        && policy.len() <= 512
        && policy.split('/').all(|segment| !segment.is_empty() && segment.chars().all(name_char))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> RunArgs {
        let argv = std::iter::once("redcap-operator").chain(args.iter().copied());
        Cli::try_parse_from(argv).unwrap().run
    }

    fn host() -> Host {
        Host {
            pod_namespace: None,
            service_account_namespace: None,
            pod_name: None,
            hostname: Some("node-a".into()),
            pid: 42,
        }
    }

    #[test]
    fn defaults_match_the_documented_values() {
        let cfg = parse(&[]).resolve(&host()).unwrap();
        assert_eq!(cfg.namespace, None);
        assert_eq!(cfg.concurrency, 4);
        assert_eq!(cfg.resync, Duration::from_secs(300));
        assert_eq!(cfg.metrics_addr, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(cfg.log_format, LogFormat::Json);
        assert_eq!(cfg.log_level, "info");
        assert_eq!(cfg.aws.max_attempts, 5);
        assert_eq!(cfg.aws.retry_mode, AwsRetryMode::Adaptive);
        assert_eq!(cfg.aws.calls_per_second, 10.0);
        assert_eq!(cfg.aws.burst, 20);
        assert!(!cfg.aws.s3_force_path_style);
        assert_eq!(cfg.aws.permissions_boundary, "redcap-operator-boundary");
        assert_eq!(cfg.backoff_base, Duration::from_secs(5));
        assert_eq!(cfg.backoff_max, Duration::from_secs(300));
        assert_eq!(cfg.holder_id, "node-a-42");
        assert_eq!(
            cfg.leader_election,
            Some(LeaseConfig {
                name: "redcap-operator".into(),
                namespace: "default".into(),
                holder_id: "node-a-42".into(),
                timing: Timing::DEFAULT,
            })
        );
    }

    #[test]
    fn boolean_flags_accept_bare_and_explicit_values() {
        let cfg =
            parse(&["--leader-election=false", "--s3-force-path-style"]).resolve(&host()).unwrap();
        assert!(cfg.leader_election.is_none());
        assert!(cfg.aws.s3_force_path_style);
        let cfg =
            parse(&["--leader-election", "--s3-force-path-style=no"]).resolve(&host()).unwrap();
        assert!(cfg.leader_election.is_some());
        assert!(!cfg.aws.s3_force_path_style);
    }

    #[test]
    fn lease_namespace_and_holder_come_from_the_pod_when_not_given() {
        let pod = Host {
            pod_namespace: Some("redcap-system".into()),
            service_account_namespace: Some("from-file".into()),
            pod_name: Some("redcap-operator-7d9f-abcde".into()),
            hostname: Some("node-a".into()),
            pid: 1,
        };
        let lease = parse(&[]).resolve(&pod).unwrap().leader_election.unwrap();
        assert_eq!(lease.namespace, "redcap-system");
        assert_eq!(lease.holder_id, "redcap-operator-7d9f-abcde");

        let sa_only = Host { pod_namespace: None, ..pod.clone() };
        assert_eq!(
            parse(&[]).resolve(&sa_only).unwrap().leader_election.unwrap().namespace,
            "from-file"
        );

        let explicit =
            parse(&["--lease-namespace", "ops", "--holder-id", "me"]).resolve(&pod).unwrap();
        assert_eq!(explicit.holder_id, "me");
        assert_eq!(explicit.leader_election.unwrap().namespace, "ops");
    }

    #[test]
    fn leader_election_durations_are_parsed_and_must_nest() {
        let lease = parse(&[
            "--lease-duration-seconds",
            "40",
            "--renew-deadline-seconds",
            "30",
            "--retry-period-seconds",
            "1",
        ])
        .resolve(&host())
        .unwrap()
        .leader_election
        .unwrap();
        assert_eq!(lease.timing, Timing::from_seconds(40, 30, 1).unwrap());
        let err = parse(&["--renew-deadline-seconds", "15"]).resolve(&host()).unwrap_err();
        assert_eq!(
            err,
            ConfigError::LeaderTiming(TimingError::LeaseNotAboveDeadline {
                lease_duration: 15,
                renew_deadline: 15
            })
        );
        assert!(err.to_string().contains("--lease-duration-seconds (15)"), "{err}");
    }

    #[test]
    fn explicit_values_are_parsed() {
        let cfg = parse(&[
            "--namespace",
            "team-a",
            "--concurrency",
            "8",
            "--resync-seconds",
            "60",
            "--metrics-addr",
            "127.0.0.1:9000",
            "--log-format",
            "human",
            "--log-level",
            "redcap_operator=debug",
            "--aws-max-attempts",
            "3",
            "--aws-retry-mode",
            "standard",
            "--aws-calls-per-second",
            "2.5",
            "--aws-burst",
            "4",
            "--backoff-base-seconds",
            "1",
            "--backoff-max-seconds",
            "10",
        ])
        .resolve(&host())
        .unwrap();
        assert_eq!(cfg.namespace.as_deref(), Some("team-a"));
        assert_eq!(cfg.concurrency, 8);
        assert_eq!(cfg.resync, Duration::from_secs(60));
        assert_eq!(cfg.metrics_addr, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(cfg.log_format, LogFormat::Human);
        assert_eq!(cfg.log_level, "redcap_operator=debug");
        assert_eq!(cfg.aws.max_attempts, 3);
        assert_eq!(cfg.aws.retry_mode, AwsRetryMode::Standard);
        assert_eq!(cfg.aws.calls_per_second, 2.5);
        assert_eq!(cfg.aws.burst, 4);
        assert_eq!(cfg.backoff_base, Duration::from_secs(1));
        assert_eq!(cfg.backoff_max, Duration::from_secs(10));
    }

    #[test]
    fn impossible_combinations_are_rejected() {
        let err = |args: &[&str]| parse(args).resolve(&host()).unwrap_err();
        assert_eq!(err(&["--concurrency", "0"]), ConfigError::ZeroConcurrency);
        assert_eq!(err(&["--resync-seconds", "0"]), ConfigError::ZeroResync);
        assert_eq!(err(&["--aws-max-attempts", "0"]), ConfigError::ZeroAwsAttempts);
        assert_eq!(err(&["--backoff-base-seconds", "0"]), ConfigError::ZeroBackoffBase);
        assert_eq!(
            err(&["--backoff-base-seconds", "60", "--backoff-max-seconds", "30"]),
            ConfigError::BackoffBaseAboveMax { base: 60, max: 30 }
        );
        assert_eq!(err(&["--aws-calls-per-second=-1"]), ConfigError::InvalidAwsRate);
        assert_eq!(err(&["--aws-calls-per-second", "NaN"]), ConfigError::InvalidAwsRate);
        assert_eq!(err(&["--aws-burst", "0"]), ConfigError::ZeroAwsBurst);
        assert_eq!(err(&["--namespace", ""]), ConfigError::EmptyNamespace);
        assert_eq!(err(&["--lease-name", " "]), ConfigError::EmptyLeaseName);
        for bad in ["", "/", "a//b", "arn:aws:iam::1:policy/x", "x*", "two words"] {
            assert_eq!(
                err(&["--aws-permissions-boundary", bad]),
                ConfigError::InvalidPermissionsBoundary(bad.into()),
                "{bad:?}"
            );
        }
        let cfg =
            parse(&["--aws-permissions-boundary", "/redcap/boundary/"]).resolve(&host()).unwrap();
        assert_eq!(cfg.aws.permissions_boundary, "redcap/boundary");
        assert!(Cli::try_parse_from(["x", "--log-format", "xml"]).is_err());
        assert!(Cli::try_parse_from(["x", "--metrics-addr", "nowhere"]).is_err());
    }
}
