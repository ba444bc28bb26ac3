//! Leader election on a `coordination.k8s.io/v1` Lease (kube-lease-manager): only the
//! holder runs the controller.
//!
//! - Standby: waits for the Lease, ready but not reconciling.
//! - Leader: runs the work; the Lease is renewed alongside it, also while the work
//!   drains on shutdown, so no other replica starts before this one has stopped.
//! - Lease lost (or its renewal failed): the work is dropped at once (in-flight
//!   reconciles are aborted) and [`LeaderError::LeaseLost`] is returned; the process exits
//!   and the Deployment restarts it as a standby. A renewal error is treated as a loss
//!   because the Lease may expire before a retry could succeed.
//! - Shutdown: stop the work gracefully, then release the Lease so a standby takes over
//!   without waiting for expiry.
//!
//! This module knows nothing about `RedcapEnvironment`s: it runs a future.

use std::future::Future;
use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder, LeaseManagerError};

use crate::api::FIELD_MANAGER;
use crate::config::LeaseConfig;
use crate::http::Readiness;
use crate::metrics::Metrics;

/// How long a Lease stays valid after a renewal. A crashed leader is replaced after at
/// most this long; a clean shutdown releases the Lease at once.
pub const LEASE_DURATION_SECONDS: u64 = 30;
/// The holder renews this long before expiry; it is also the clock skew tolerated
/// between nodes.
pub const LEASE_GRACE_SECONDS: u64 = 10;

/// Leader election failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("failed to set up Lease {namespace}/{name}: {source}")]
    Setup {
        namespace: String,
        name: String,
        #[source]
        source: LeaseManagerError,
    },
    #[error("lost the leader Lease{}", .0.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    LeaseLost(Option<LeaseManagerError>),
}

/// Runs `work` while this replica holds the Lease.
///
/// `work` receives the shutdown future to hand to the controller. Returns `Ok(None)` if
/// `shutdown` resolved before this replica became leader, `Ok(Some(output))` once the
/// work ended (normally after shutdown), and `Err(LeaseLost)` if leadership was lost.
pub async fn run_as_leader<S, W, F, T>(
    client: Client,
    lease: &LeaseConfig,
    readiness: Readiness,
    metrics: &Metrics,
    shutdown: S,
    work: W,
) -> Result<Option<T>, LeaderError>
where
    S: Future<Output = ()> + Clone + Send + Sync + 'static,
    W: FnOnce(S) -> F,
    F: Future<Output = T>,
{
    let manager = LeaseManagerBuilder::new(client, &lease.name)
        .with_namespace(&lease.namespace)
        .with_identity(&lease.holder_id)
        // Set explicitly: the builder derives the default from a random identity, not
        // from the one given above.
        .with_field_manager(format!("{FIELD_MANAGER}-{}", lease.holder_id))
        .with_duration(LEASE_DURATION_SECONDS)
        .with_grace(LEASE_GRACE_SECONDS)
        .build()
        .await
        .map_err(|source| LeaderError::Setup {
            namespace: lease.namespace.clone(),
            name: lease.name.clone(),
            source,
        })?;
    // Reaching the Lease proves the API server answers and RBAC allows leases: enough
    // for a standby to be ready.
    readiness.set_lease_ok(true);
    tracing::info!(lease = %lease.name, namespace = %lease.namespace, holder = %lease.holder_id, "waiting for the leader Lease");

    if !wait_for_leadership(&manager, shutdown.clone()).await {
        release(&manager).await;
        return Ok(None);
    }

    tracing::info!(holder = %lease.holder_id, "acquired the leader Lease; starting the controller");
    metrics.leader.set(1);
    readiness.set_leading(true);
    let outcome = lead(&manager, work(shutdown)).await;
    metrics.leader.set(0);
    readiness.set_leading(false);
    match outcome {
        Ok(output) => {
            release(&manager).await;
            tracing::info!("released the leader Lease");
            Ok(Some(output))
        }
        Err(err) => Err(err),
    }
}

/// Standby loop: `true` once leader, `false` if `shutdown` came first. Errors while
/// standing by are retried with a capped doubling delay.
async fn wait_for_leadership(manager: &LeaseManager, shutdown: impl Future<Output = ()>) -> bool {
    tokio::pin!(shutdown);
    let mut retry = Duration::from_secs(1);
    loop {
        tokio::select! {
            () = &mut shutdown => return false,
            changed = manager.changed() => match changed {
                Ok(true) => return true,
                Ok(false) => retry = Duration::from_secs(1),
                Err(err) => {
                    tracing::warn!(error = %err, retry_in_seconds = retry.as_secs(), "leader election failed; retrying");
                    tokio::select! {
                        () = &mut shutdown => return false,
                        () = tokio::time::sleep(retry) => {}
                    }
                    retry = (retry * 2).min(Duration::from_secs(30));
                }
            },
        }
    }
}

/// Runs `work` while renewing the Lease. Dropping `work` on a loss aborts the
/// controller's reconcile tasks.
async fn lead<T>(manager: &LeaseManager, work: impl Future<Output = T>) -> Result<T, LeaderError> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            output = &mut work => return Ok(output),
            changed = manager.changed() => match changed {
                // Still the holder (a renewal that reported no change of state).
                Ok(true) => continue,
                Ok(false) => {
                    tracing::error!("lost the leader Lease; stopping the controller");
                    return Err(LeaderError::LeaseLost(None));
                }
                Err(err) => {
                    tracing::error!(error = %err, "could not renew the leader Lease; stopping the controller");
                    return Err(LeaderError::LeaseLost(Some(err)));
                }
            },
        }
    }
}

async fn release(manager: &LeaseManager) {
    if let Err(err) = manager.release().await {
        tracing::warn!(error = %err, "failed to release the leader Lease; it will expire");
    }
}
