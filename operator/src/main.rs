//! The `redcap-operator` binary: `run` (the controller), `crd` (print the CRDs),
//! `version`.
//!
//! Wiring only: flags, logging, the Kubernetes client, the HTTP server, leader election,
//! signals and the controller come from the library. The only place `anyhow` is used.

use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use futures::FutureExt;
use redcap_operator::config::{Host, RunArgs};
use redcap_operator::http::{self, Readiness};
use redcap_operator::metrics::Metrics;
use redcap_operator::reconcile::{self, Context};
use redcap_operator::{api, aws, leader, telemetry};
use tokio::sync::watch;

/// Runs REDCap on AWS from RedcapEnvironment custom resources.
#[derive(Parser)]
#[command(name = "redcap-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller.
    Run(Box<RunArgs>),
    /// Print the CustomResourceDefinitions as YAML (`redcap-operator crd | kubectl apply -f -`).
    Crd,
    /// Print the version.
    Version,
}

/// Crate version, plus the git commit when the build sets `REDCAP_GIT_SHA`
/// (`REDCAP_GIT_SHA=$(git rev-parse --short HEAD) cargo build --release`).
fn version_line() -> String {
    match option_env!("REDCAP_GIT_SHA") {
        Some(sha) if !sha.is_empty() => {
            format!("redcap-operator {} ({sha})", env!("CARGO_PKG_VERSION"))
        }
        _ => format!("redcap-operator {}", env!("CARGO_PKG_VERSION")),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", api::crds_yaml().context("failed to render the CRDs")?);
            Ok(())
        }
        Command::Version => {
            println!("{}", version_line());
            Ok(())
        }
        // The walk boxes each component's future and AwsCtx::call each request in
        // flight, so reconciles run on tokio's default worker stacks.
        Command::Run(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("failed to start the async runtime")?
            .block_on(run(*args)),
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let config = args.resolve(&Host::detect())?;
    telemetry::init(config.log_format, &config.log_level)?;
    // Both rustls providers are compiled in (aws-lc-rs from the AWS SDK, ring from kube);
    // without a process default, the first TLS client panics. aws-lc-rs is what the AWS
    // SDK uses anyway.
    if rustls::crypto::aws_lc_rs::default_provider().install_default().is_err() {
        tracing::debug!("a rustls crypto provider was already installed");
    }
    tracing::info!(version = %version_line(), holder = %config.holder_id, "starting");

    let client = kube::Client::try_default()
        .await
        .context("failed to configure the Kubernetes client (in-cluster or KUBECONFIG)")?;
    let metrics = Arc::new(Metrics::new());
    let readiness = Readiness::default();

    // One flag flips on the first SIGTERM/SIGINT; every part watches it. A second
    // signal exits at once, for a drain that hangs.
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested; finishing in-flight reconciles");
        let _ = stop_tx.send(true);
        wait_for_signal().await;
        tracing::warn!("second signal: exiting without waiting");
        std::process::exit(130);
    });
    let shutdown = stopped(stop_rx.clone()).shared();

    // The HTTP server outlives the controller (metrics and probes during the drain) and
    // stops when the controller has stopped.
    let (http_stop_tx, http_stop_rx) = watch::channel(false);
    let listener = http::bind(config.metrics_addr).await?;
    tracing::info!(addr = %config.metrics_addr, "serving /metrics, /healthz and /readyz");
    let server = tokio::spawn(http::serve(
        listener,
        metrics.clone(),
        readiness.clone(),
        stopped(http_stop_rx),
    ));

    // With leader election every AWS request waits for this replica to lead (the fence
    // opens for each term until its renew deadline); without, it is always open.
    let lease = config.leader_election.clone();
    let fence = if lease.is_some() { leader::Fence::closed() } else { leader::Fence::unfenced() };
    let aws = aws::AwsFactory::new(config.aws.clone(), metrics.aws.clone())
        .await
        .fenced_by(fence.clone());
    let ctx = Arc::new(Context::new(client.clone(), config, metrics.clone(), aws));

    let result = match lease {
        Some(lease) => {
            let controller_readiness = readiness.clone();
            // A new controller (fresh watches and cache) for every term.
            leader::run_as_leader(
                client,
                &lease,
                fence,
                readiness.clone(),
                &metrics,
                shutdown,
                move |stop| reconcile::run(ctx.clone(), stop, controller_readiness.clone()),
            )
            .await
            .transpose()
            .map_err(anyhow::Error::from)
            .map(|_| ())
        }
        None => {
            readiness.set_lease_ok(true);
            readiness.set_leading(true);
            metrics.leader.set(1);
            reconcile::run(ctx, shutdown, readiness.clone()).await.map_err(anyhow::Error::from)
        }
    };

    let _ = http_stop_tx.send(true);
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::warn!(error = %err, "HTTP server failed"),
        Err(err) => tracing::warn!(error = %err, "HTTP server task failed"),
    }
    match &result {
        Ok(()) => tracing::info!("stopped"),
        Err(err) => tracing::error!(error = format!("{err:#}"), "stopped with an error"),
    }
    result
}

/// Resolves once the flag behind `rx` is true (or its sender is gone).
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// SIGTERM (Kubernetes) or SIGINT (Ctrl+C).
async fn wait_for_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM; only Ctrl+C stops the operator");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
