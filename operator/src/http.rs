//! The operator's HTTP endpoints: `/metrics` (OpenMetrics text), `/healthz` (the process
//! serves requests) and `/readyz` (see [`Readiness`]).
//!
//! Serves only what other modules record; it must not reconcile, call AWS or talk to
//! Kubernetes.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::metrics::Metrics;

/// Content type of the OpenMetrics text format that `prometheus-client` writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What `/readyz` reports.
///
/// A replica is ready when it does the job its role asks for:
/// - without leader election, once the controller's watch has delivered its first list;
/// - with leader election, as a standby once it has reached the Lease (the API server
///   answers and RBAC allows it), so that rollouts of several replicas complete and a
///   standby that cannot reach the Lease is visible; as the leader, once the controller's
///   watch has delivered its first list.
///
/// Readiness never gates traffic here (nothing but Prometheus calls the pod); it tells
/// `kubectl rollout status` and humans whether the replica works.
#[derive(Clone, Debug, Default)]
pub struct Readiness {
    inner: Arc<ReadinessFlags>,
}

#[derive(Debug, Default)]
struct ReadinessFlags {
    /// The replica has its role: Lease reached (with leader election) or started without.
    lease_ok: AtomicBool,
    /// The replica runs the controller.
    leading: AtomicBool,
    /// The controller's watch has listed every `RedcapEnvironment` once.
    watching: AtomicBool,
}

impl Readiness {
    pub fn set_lease_ok(&self, ok: bool) {
        self.inner.lease_ok.store(ok, Ordering::Release);
    }

    pub fn set_leading(&self, leading: bool) {
        self.inner.leading.store(leading, Ordering::Release);
        if !leading {
            self.inner.watching.store(false, Ordering::Release);
        }
    }

    pub fn set_watching(&self, watching: bool) {
        self.inner.watching.store(watching, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        ready(
            self.inner.lease_ok.load(Ordering::Acquire),
            self.inner.leading.load(Ordering::Acquire),
            self.inner.watching.load(Ordering::Acquire),
        )
    }
}

/// A standby is ready with its Lease reachable; a leader also needs its watch.
fn ready(lease_ok: bool, leading: bool, watching: bool) -> bool {
    lease_ok && (!leading || watching)
}

#[derive(Clone)]
struct AppState {
    metrics: Arc<Metrics>,
    readiness: Readiness,
}

/// The router, separate from the listener so that tests can drive it.
pub fn router(metrics: Arc<Metrics>, readiness: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz_handler))
        .with_state(AppState { metrics, readiness })
}

async fn metrics_handler(State(state): State<AppState>) -> Response {
    match state.metrics.render() {
        Ok(body) => ([(header::CONTENT_TYPE, OPENMETRICS)], body).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "failed to encode metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn readyz_handler(State(state): State<AppState>) -> Response {
    if state.readiness.is_ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

/// The server could not start or failed while serving.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("failed to listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// Binds `addr` (so a port conflict fails start-up, not later).
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, HttpError> {
    tokio::net::TcpListener::bind(addr).await.map_err(|source| HttpError::Bind { addr, source })
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    axum::serve(listener, router(metrics, readiness))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(HttpError::Serve)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_the_role() {
        // Starting, nothing reached yet.
        assert!(!ready(false, false, false));
        // Standby with a reachable Lease.
        assert!(ready(true, false, false));
        // Just became leader, cache not listed yet.
        assert!(!ready(true, true, false));
        assert!(ready(true, true, true));
        // Lease unreachable: not ready whatever the role.
        assert!(!ready(false, true, true));
    }

    #[test]
    fn losing_leadership_forgets_the_watch() {
        let r = Readiness::default();
        r.set_lease_ok(true);
        r.set_leading(true);
        r.set_watching(true);
        assert!(r.is_ready());
        r.set_leading(false);
        r.set_leading(true);
        assert!(!r.is_ready());
    }

    #[tokio::test]
    async fn endpoints_answer_over_tcp() {
        let metrics = Arc::new(Metrics::new());
        let readiness = Readiness::default();
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, metrics, readiness.clone(), async move {
            let _ = stop_rx.await;
        }));

        let get = |path: &'static str| async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            stream.write_all(req.as_bytes()).await.unwrap();
            let mut out = String::new();
            stream.read_to_string(&mut out).await.unwrap();
            out
        };

        assert!(get("/healthz").await.starts_with("HTTP/1.1 200"));
        assert!(get("/readyz").await.starts_with("HTTP/1.1 503"));
        readiness.set_lease_ok(true);
        assert!(get("/readyz").await.starts_with("HTTP/1.1 200"));
        let body = get("/metrics").await;
        assert!(body.starts_with("HTTP/1.1 200"), "{body}");
        assert!(body.contains("application/openmetrics-text"), "{body}");
        assert!(body.contains("redcap_operator_leader"), "{body}");

        stop_tx.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}
