//! The leader and its API server (issue 15, finding 8).
//!
//! - A leader whose API server stops answering (SIGSTOP: connections are accepted, nothing
//!   is answered, renewals hang) sends no AWS request later than the lease duration after
//!   that, the earliest a standby could take over; it does not exit, and leads again once
//!   the API server answers.
//! - An API server killed and started again within the renew deadline does not stop the
//!   operator: it stays the leader, its watch resumes, and a change made afterwards is
//!   reconciled.
//!
//! The operator gets its leader-election durations from the environment, as the chart's
//! Deployment sets them. Both tests disturb the suite's one kube-apiserver: they hold
//! `control_plane::exclusive()`, and this file is a test binary of its own.

use std::time::{Duration, Instant};

use anyhow::Context;
use redcap_e2e::control_plane::{self, ApiServer};
use redcap_e2e::emulator::{EmulatorControl, LoggedRequest, PrivateEmulator, epoch_seconds};
use redcap_e2e::manifests::EnvironmentManifest;
use redcap_e2e::probe;
use redcap_e2e::{
    Operator, OperatorOptions, RELEASE_BUCKET, RELEASE_VERSION, TestEnv, ensure_release, s3_client,
    sum_metric,
};

const READY_TIMEOUT: Duration = Duration::from_secs(240);
const GONE_TIMEOUT: Duration = Duration::from_secs(120);

/// Lease duration, renew deadline and retry period, in seconds.
#[derive(Clone, Copy)]
struct Timing {
    lease: u64,
    renew_deadline: u64,
    retry: u64,
}

/// The operator's defaults (controller-runtime's).
const DEFAULTS: Timing = Timing { lease: 15, renew_deadline: 10, retry: 2 };

/// A leader-elected operator watching `ns`, calling AWS at `endpoint` (the suite's
/// emulator when `None`).
fn leader<'a>(
    ns: &'a str,
    label: &str,
    timing: Timing,
    endpoint: Option<&str>,
) -> OperatorOptions<'a> {
    let mut env = vec![
        ("REDCAP_LEASE_DURATION_SECONDS".to_string(), timing.lease.to_string()),
        ("REDCAP_RENEW_DEADLINE_SECONDS".to_string(), timing.renew_deadline.to_string()),
        ("REDCAP_RETRY_PERIOD_SECONDS".to_string(), timing.retry.to_string()),
    ];
    if let Some(url) = endpoint {
        env.push(("AWS_ENDPOINT_URL".to_string(), url.to_string()));
    }
    OperatorOptions {
        leader_election: true,
        extra_args: vec![format!("--lease-name=lease-{ns}"), format!("--holder-id={label}")],
        env,
        ..OperatorOptions::scoped(ns)
    }
}

async fn leader_gauge(op: &Operator) -> anyhow::Result<f64> {
    Ok(sum_metric(&op.metrics().await?, "redcap_operator_leader", ""))
}

async fn terms_lost(op: &Operator) -> anyhow::Result<f64> {
    Ok(sum_metric(&op.metrics().await?, "redcap_operator_lease_losses_total", ""))
}

/// The last lines of the operator's log, for failure messages.
fn log_tail(op: &Operator) -> String {
    let log = op.log();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Each AWS call of test (a) is slowed this much (the emulator's request log is a latency
/// rule): a steady-state pass, which reads Kubernetes only at its start (the cron Secret)
/// and writes status at its end, becomes tens of seconds of AWS calls, the work a leader
/// without fencing carries on with after its API server stopped answering.
const SLOW_CALL_MS: u64 = 400;
/// Longer than any pause between two calls of one pass, shorter than the 2 s resync
/// between passes.
const QUIET_BETWEEN_PASSES: f64 = 1.5;

/// Waits until a reconcile pass begins: its first request has just arrived after the
/// quiet gap between passes, so a whole pass of AWS calls is ahead.
async fn wait_for_pass_start(emulator: &EmulatorControl) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let requests = emulator.requests()?;
        if let [.., before, last] = requests.as_slice()
            && last.at - before.at > QUIET_BETWEEN_PASSES
            && epoch_seconds() - last.at < 0.3
        {
            return Ok(());
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(180),
            "no reconcile pass began within 180 s ({} requests logged)",
            requests.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn describe(requests: &[&LoggedRequest], since: f64) -> String {
    requests
        .iter()
        .take(10)
        .map(|r| format!("+{:.1}s {}.{}", r.at - since, r.service, r.operation))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test]
async fn a_leader_cut_off_from_its_api_server_stops_calling_aws_within_the_lease()
-> anyhow::Result<()> {
    let _only_us = control_plane::exclusive().await;
    let env = TestEnv::from_env().await?;
    // A private emulator: its request log holds this operator's calls only.
    let emulator = PrivateEmulator::start(&env.state_dir, "leader-outage")?;
    let s3 = s3_client(&emulator.aws("us-east-1").await);
    ensure_release(&s3, RELEASE_BUCKET, RELEASE_VERSION).await?;
    let ns = env.namespace("fenced").await?;
    let mut op =
        Operator::start(&env, "fenced", leader(&ns, "fenced", DEFAULTS, Some(&emulator.url)))
            .await?;
    env.apply_yaml(&ns, &EnvironmentManifest::new("fenced").yaml()).await?;
    let ready = env.wait_ready(&ns, "fenced", READY_TIMEOUT).await?;
    let bucket = ready
        .status
        .as_ref()
        .and_then(|s| s.outputs.file_bucket.clone())
        .context("no fileBucket in status")?;

    let log = emulator.control.log_requests(SLOW_CALL_MS)?;
    wait_for_pass_start(&emulator.control).await?;
    let paused = ApiServer::of(&env).pause()?;
    let stopped = epoch_seconds();
    // Well past the lease duration: a standby could have taken over by then.
    tokio::time::sleep(Duration::from_secs(DEFAULTS.lease + 10)).await;
    let requests = emulator.control.requests()?;
    let during: Vec<&LoggedRequest> = requests.iter().filter(|r| r.at >= stopped).collect();
    eprintln!(
        "{} AWS requests after the pause, the last at +{:.1} s",
        during.len(),
        during.last().map_or(0.0, |r| r.at - stopped)
    );
    let late: Vec<&LoggedRequest> =
        during.iter().copied().filter(|r| r.at - stopped > DEFAULTS.lease as f64).collect();
    assert!(
        late.is_empty(),
        "{} AWS requests arrived more than the lease duration ({} s) after the API server stopped answering: {}",
        late.len(),
        DEFAULTS.lease,
        describe(&late, stopped)
    );
    // The pass in flight did call AWS after the pause: the fence, not the end of the
    // work, stopped it.
    anyhow::ensure!(!during.is_empty(), "no AWS request after the pause: nothing was fenced");
    assert!(
        op.is_running(),
        "the operator exited while its API server was paused:\n{}",
        log_tail(&op)
    );
    assert_eq!(leader_gauge(&op).await?, 0.0, "still reports itself leader");
    assert_eq!(terms_lost(&op).await?, 1.0, "one term lost");

    // The API server answers again: the Lease still names this replica (nobody else
    // could take it), so it leads again at once, with a fresh controller.
    drop(paused);
    let resumed = epoch_seconds();
    probe::eventually_despite_errors(
        "AWS calls again after the API server resumed",
        Duration::from_secs(60),
        async || Ok(emulator.control.requests()?.iter().any(|r| r.at > resumed)),
    )
    .await?;
    assert_eq!(leader_gauge(&op).await?, 1.0, "leads again");
    drop(log);

    // A change made now is reconciled by the new term's controller.
    env.patch_spec(&ns, "fenced", serde_json::json!({"storage": {"versioning": "Suspended"}}))
        .await?;
    env.wait_ready(&ns, "fenced", READY_TIMEOUT).await?;
    assert_eq!(probe::bucket_versioning(&s3, &bucket).await, "Suspended");
    assert!(op.is_running(), "the operator exited:\n{}", log_tail(&op));

    env.delete_env(&ns, "fenced").await?;
    env.wait_gone(&ns, "fenced", GONE_TIMEOUT).await?;
    op.stop().await?;
    Ok(())
}

/// The API server stays down 25 s, then starts again (a few seconds more): a dozen
/// renewals fail meanwhile, one every retry period, and the watch breaks. The renew
/// deadline is raised from its default so that the outage and the restart stay within
/// it on a slow, shared machine; what is proven does not depend on the values.
const RESTART: Timing = Timing { lease: 60, renew_deadline: 45, retry: 2 };
const DOWN_FOR: Duration = Duration::from_secs(25);

#[tokio::test]
async fn an_api_server_restarted_within_the_renew_deadline_does_not_stop_the_operator()
-> anyhow::Result<()> {
    let _only_us = control_plane::exclusive().await;
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("blip").await?;
    let mut op = Operator::start(&env, "blip", leader(&ns, "blip", RESTART, None)).await?;
    env.apply_yaml(&ns, &EnvironmentManifest::new("blip").yaml()).await?;
    let ready = env.wait_ready(&ns, "blip", READY_TIMEOUT).await?;
    let bucket = ready
        .status
        .as_ref()
        .and_then(|s| s.outputs.file_bucket.clone())
        .context("no fileBucket in status")?;

    let down = ApiServer::of(&env).kill_and_restart(DOWN_FOR).await?;
    anyhow::ensure!(
        down < Duration::from_secs(RESTART.renew_deadline),
        "the API server took {down:?} to come back, longer than the renew deadline: this test needs a faster restart"
    );
    assert!(
        op.is_running(),
        "the operator exited while the API server restarted (down {down:?}):\n{}",
        log_tail(&op)
    );
    assert_eq!(leader_gauge(&op).await?, 1.0, "no longer reports itself leader");
    assert_eq!(terms_lost(&op).await?, 0.0, "a term was lost within the renew deadline");

    // The watch resumes: a change made after the restart reaches the controller (the
    // periodic resync alone would reconcile the cached, older spec) and is reconciled.
    env.patch_spec(&ns, "blip", serde_json::json!({"storage": {"versioning": "Suspended"}}))
        .await?;
    env.wait_ready(&ns, "blip", READY_TIMEOUT).await?;
    assert_eq!(probe::bucket_versioning(&env.s3(), &bucket).await, "Suspended");
    assert!(op.is_running(), "the operator exited:\n{}", log_tail(&op));

    env.delete_env(&ns, "blip").await?;
    env.wait_gone(&ns, "blip", GONE_TIMEOUT).await?;
    op.stop().await?;
    Ok(())
}
