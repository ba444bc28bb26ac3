//! Leader election on a `coordination.k8s.io/v1` Lease: only the holder runs the
//! controller, and only while its Lease is surely its own does it call AWS.
//!
//! - Standby: looks at the Lease every retry period, ready but not reconciling, and
//!   takes it when it is free, names this replica, or has not changed for its lease
//!   duration (`decision::Watcher`).
//! - Leader: runs the work and renews the Lease every retry period. A failed renewal (an
//!   API server restarting or briefly unreachable) is retried until the renew deadline;
//!   the work carries on meanwhile and its watches resume on their own.
//! - Lost (no renewal within the renew deadline, or the Lease names another holder): the
//!   fence has closed by then, so no AWS request goes out, and the work is dropped
//!   (in-flight reconciles abort). The replica stands by again and leads again, with a
//!   fresh controller, once it wins the Lease: the process does not exit, so a long API
//!   server outage does not become a crash loop.
//! - Shutdown: the work drains while the Lease is still renewed, then the fence closes
//!   and the Lease is released so a standby takes over without waiting for expiry.
//!
//! This module knows nothing about `RedcapEnvironment`s: it runs a future.

pub mod decision;
pub mod fence;
pub mod lease;

use std::future::Future;
use std::time::Instant;

use kube::Client;

pub use self::decision::{Loss, Timing, TimingError};
use self::decision::{Next, Renewal, Standby, Term, Watcher};
pub use self::fence::{Fence, NotLeader};
use self::lease::{LeaseLock, RenewAttempt};
use crate::config::LeaseConfig;
use crate::http::Readiness;
use crate::metrics::Metrics;

/// Runs `work` while this replica holds the Lease, as many terms as it takes.
///
/// `work` is called at the start of every term with the shutdown future to hand to the
/// controller. `fence` is opened for each term until its renew deadline and closed when
/// the term ends. Returns `None` if `shutdown` resolved while standing by, and
/// `Some(output)` once the work ended while leading (normally after shutdown).
pub async fn run_as_leader<S, W, F, T>(
    client: Client,
    config: &LeaseConfig,
    fence: Fence,
    readiness: Readiness,
    metrics: &Metrics,
    shutdown: S,
    mut work: W,
) -> Option<T>
where
    S: Future<Output = ()> + Clone,
    W: FnMut(S) -> F,
    F: Future<Output = T>,
{
    let lock = LeaseLock::new(client, config);
    let timing = config.timing;
    let mut watcher = Watcher::default();
    tracing::info!(
        lease = %config.name,
        namespace = %config.namespace,
        holder = %config.holder_id,
        lease_duration_seconds = timing.lease_duration.as_secs(),
        renew_deadline_seconds = timing.renew_deadline.as_secs(),
        retry_period_seconds = timing.retry_period.as_secs(),
        "waiting for the leader Lease"
    );
    loop {
        let (term, held) =
            stand_by(&lock, &timing, &mut watcher, &readiness, shutdown.clone()).await?;
        fence.open_until(term.deadline(&timing));
        metrics.leader.set(1);
        readiness.set_leading(true);
        tracing::info!(holder = %config.holder_id, "acquired the leader Lease; starting the controller");

        let outcome = lead(&lock, &timing, &fence, term, held, work(shutdown.clone())).await;
        // Before the Lease is released (or anyone else can take it): no AWS call after.
        fence.close();
        metrics.leader.set(0);
        metrics.stop_watching_environments();
        readiness.set_leading(false);
        match outcome {
            Led::Finished(output) => {
                match lock.release().await {
                    Ok(()) => tracing::info!("released the leader Lease"),
                    Err(err) => {
                        tracing::warn!(error = %err, "failed to release the leader Lease; it will expire")
                    }
                }
                return Some(output);
            }
            Led::Lost(loss) => {
                metrics.lease_losses.inc();
                tracing::error!(
                    reason = %loss,
                    "lost the leader Lease: stopped the controller and every AWS call; standing by to lead again"
                );
                watcher.forget();
            }
        }
    }
}

/// How a term ended.
enum Led<T> {
    /// The work ended (after shutdown); the Lease is still ours.
    Finished(T),
    Lost(Loss),
}

/// Standby loop: the new term and the Lease as written, or `None` if `shutdown` came
/// first. Errors (API server unreachable, RBAC) are logged and retried every retry
/// period; `/readyz` reports whether the Lease can be reached.
async fn stand_by(
    lock: &LeaseLock,
    timing: &Timing,
    watcher: &mut Watcher,
    readiness: &Readiness,
    shutdown: impl Future<Output = ()>,
) -> Option<(Term, k8s_openapi::api::coordination::v1::Lease)> {
    tokio::pin!(shutdown);
    loop {
        let attempt = async {
            let lease = tokio::time::timeout(timing.attempt_timeout(), lock.look()).await;
            let lease = match lease {
                Ok(Ok(lease)) => lease,
                Ok(Err(err)) => return Err(err.to_string()),
                Err(_) => return Err("no answer within the attempt timeout".to_string()),
            };
            readiness.set_lease_ok(true);
            match watcher.decide(&lease::seen(&lease), lock.identity(), Instant::now(), timing) {
                Standby::LookAgainAt(at) => Ok(Err(at)),
                Standby::Acquire => {
                    let sent = Instant::now();
                    match tokio::time::timeout(timing.attempt_timeout(), lock.acquire(&lease)).await
                    {
                        Ok(Ok(held)) => Ok(Ok((Term::renewed(sent), held))),
                        // Another replica wrote first: look again after a retry period.
                        Ok(Err(kube::Error::Api(e))) if e.code == 409 => {
                            tracing::debug!("another replica changed the Lease first");
                            Ok(Err(Instant::now() + timing.retry_period))
                        }
                        Ok(Err(err)) => Err(err.to_string()),
                        Err(_) => Err("no answer within the attempt timeout".to_string()),
                    }
                }
            }
        };
        let next = tokio::select! {
            () = &mut shutdown => return None,
            result = attempt => match result {
                Ok(Ok(acquired)) => return Some(acquired),
                Ok(Err(at)) => at,
                Err(error) => {
                    readiness.set_lease_ok(false);
                    tracing::warn!(%error, retry_in_seconds = timing.retry_period.as_secs(), "cannot reach the leader Lease; retrying");
                    Instant::now() + timing.retry_period
                }
            },
        };
        tokio::select! {
            () = &mut shutdown => return None,
            () = tokio::time::sleep_until(next.into()) => {}
        }
    }
}

/// Runs `work` while renewing the Lease every retry period; failed renewals are
/// retried until the renew deadline. Returning drops `work`, which aborts the
/// controller's reconciles.
async fn lead<T>(
    lock: &LeaseLock,
    timing: &Timing,
    fence: &Fence,
    mut term: Term,
    mut held: k8s_openapi::api::coordination::v1::Lease,
    work: impl Future<Output = T>,
) -> Led<T> {
    tokio::pin!(work);
    let mut next_attempt = Instant::now() + timing.retry_period;
    let mut failures = 0u32;
    loop {
        tokio::select! {
            biased;
            () = tokio::time::sleep_until(term.deadline(timing).into()) => return Led::Lost(Loss::DeadlinePassed),
            output = &mut work => return Led::Finished(output),
            () = tokio::time::sleep_until(next_attempt.into()) => {}
        }
        let sent = Instant::now();
        let timeout = term.attempt_timeout(sent, timing);
        let attempt = tokio::time::timeout(timeout, lock.renew(&held));
        let attempt = tokio::select! {
            biased;
            () = tokio::time::sleep_until(term.deadline(timing).into()) => return Led::Lost(Loss::DeadlinePassed),
            output = &mut work => return Led::Finished(output),
            result = attempt => result.unwrap_or_else(|_| RenewAttempt::timed_out(timeout)),
        };
        if let Some(lease) = attempt.lease {
            held = lease;
        }
        let renewed = attempt.outcome == Renewal::Renewed;
        match term.after_attempt(sent, attempt.outcome, Instant::now(), timing) {
            Next::Renew { term: renewed_term, at } => {
                if renewed {
                    fence.open_until(renewed_term.deadline(timing));
                    if failures > 0 {
                        tracing::info!(failures, "renewed the leader Lease again; carrying on");
                    }
                    failures = 0;
                } else {
                    failures += 1;
                    let left =
                        renewed_term.deadline(timing).saturating_duration_since(Instant::now());
                    tracing::warn!(
                        error = attempt.error.as_deref().unwrap_or("unknown"),
                        failures,
                        seconds_left = left.as_secs_f64(),
                        "could not renew the leader Lease; retrying until the renew deadline"
                    );
                }
                term = renewed_term;
                next_attempt = at;
            }
            Next::GiveUp(loss) => return Led::Lost(loss),
        }
    }
}
