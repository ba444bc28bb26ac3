//! Prometheus metrics of the operator: reconcile outcomes, error categories, durations,
//! environments per phase, leadership, plus the AWS call families of [`AwsCallMetrics`].
//!
//! Every label comes from a bounded, static set (result, error category, phase); object
//! names and error texts never become labels. No I/O here: `http.rs` serves [`Metrics::render`].

use std::sync::{Arc, Mutex};
use std::time::Instant;

use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::api::{Phase, RedcapEnvironment};
use crate::aws::AwsCallMetrics;

/// How one reconcile ended (the `result` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReconcileResult {
    Success,
    RecoverableError,
    TerminalError,
}

impl ReconcileResult {
    pub fn as_str(self) -> &'static str {
        match self {
            ReconcileResult::Success => "success",
            ReconcileResult::RecoverableError => "recoverable_error",
            ReconcileResult::TerminalError => "terminal_error",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CategoryLabels {
    category: &'static str,
}

/// Reconcile counters and the duration histogram.
#[derive(Clone)]
pub struct ReconcileMetrics {
    runs: Family<ResultLabels, Counter>,
    errors: Family<CategoryLabels, Counter>,
    duration: Histogram,
}

impl ReconcileMetrics {
    /// Counts one finished reconcile.
    pub fn record(&self, result: ReconcileResult) {
        self.runs.get_or_create(&ResultLabels { result: result.as_str() }).inc();
    }

    /// Counts one failed reconcile by its bounded error category.
    pub fn record_error(&self, category: &'static str) {
        self.errors.get_or_create(&CategoryLabels { category }).inc();
    }

    /// Starts timing a reconcile; the duration is recorded when the guard drops, so
    /// early returns and errors are timed too.
    pub fn start_timer(&self) -> ReconcileTimer {
        ReconcileTimer { histogram: self.duration.clone(), start: Instant::now() }
    }
}

/// Records the elapsed time into the duration histogram on drop.
pub struct ReconcileTimer {
    histogram: Histogram,
    start: Instant,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

/// Counts environments per `status.phase` from the controller's cache at scrape time,
/// so the figure is always what the cache holds (no bookkeeping to drift on deletes).
/// Until the controller starts (standby replica), and after it stops, the family is
/// absent.
#[derive(Debug, Default)]
struct EnvironmentsByPhase {
    store: Mutex<Option<Store<RedcapEnvironment>>>,
}

impl EnvironmentsByPhase {
    fn set(&self, store: Option<Store<RedcapEnvironment>>) {
        // A poisoned lock still holds a usable value (a store handle).
        *self.store.lock().unwrap_or_else(|p| p.into_inner()) = store;
    }
}

/// Label used for environments that have no phase yet.
const NO_PHASE: &str = "Unknown";
const PHASES: [Phase; 7] = [
    Phase::Pending,
    Phase::Provisioning,
    Phase::Ready,
    Phase::Updating,
    Phase::Suspended,
    Phase::Stalled,
    Phase::Deleting,
];

/// Counts per phase label (every phase present, zero included, for stable series).
fn count_phases<'a>(phases: impl Iterator<Item = Option<Phase>>) -> Vec<(&'a str, i64)> {
    let mut counts: Vec<(&str, i64)> = PHASES.iter().map(|p| (p.as_str(), 0)).collect();
    counts.push((NO_PHASE, 0));
    for phase in phases {
        let label = phase.map_or(NO_PHASE, Phase::as_str);
        if let Some(entry) = counts.iter_mut().find(|(l, _)| *l == label) {
            entry.1 += 1;
        }
    }
    counts
}

impl Collector for EnvironmentsByPhase {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(store) = self.store.lock().unwrap_or_else(|p| p.into_inner()).clone() else {
            return Ok(());
        };
        let counts =
            count_phases(store.state().iter().map(|env| env.status.as_ref().and_then(|s| s.phase)));
        let mut family = encoder.encode_descriptor(
            "redcap_operator_environments",
            "RedcapEnvironments in the controller's cache, by status.phase",
            None,
            MetricType::Gauge,
        )?;
        for (phase, count) in counts {
            family.encode_family(&[("phase", phase)])?.encode_gauge(&count)?;
        }
        Ok(())
    }
}

/// Every metric the process exports.
pub struct Metrics {
    registry: Registry,
    pub reconcile: ReconcileMetrics,
    /// 1 while this replica holds the leader Lease (or runs without leader election).
    pub leader: Gauge,
    /// Terms that ended without a shutdown (renew deadline passed, Lease taken over).
    pub lease_losses: Counter,
    /// AWS call families, handed to the `AwsFactory`.
    pub aws: AwsCallMetrics,
    environments: Arc<EnvironmentsByPhase>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        // No registry prefix: every family spells its full `redcap_operator_*` name, so
        // the AWS families registered by `AwsCallMetrics` keep theirs too.
        let mut registry = Registry::default();
        let reconcile = ReconcileMetrics {
            runs: Family::default(),
            errors: Family::default(),
            duration: Histogram::new(exponential_buckets(0.01, 2.0, 14)),
        };
        registry.register(
            "redcap_operator_reconcile",
            "Reconciles of RedcapEnvironments, by result",
            reconcile.runs.clone(),
        );
        registry.register(
            "redcap_operator_reconcile_errors",
            "Failed reconciles, by error category",
            reconcile.errors.clone(),
        );
        registry.register_with_unit(
            "redcap_operator_reconcile_duration",
            "Duration of one reconcile, AWS calls included",
            Unit::Seconds,
            reconcile.duration.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "redcap_operator_leader",
            "1 while this replica is the leader and runs the controller",
            leader.clone(),
        );
        let lease_losses = Counter::default();
        registry.register(
            "redcap_operator_lease_losses",
            "Times this replica stopped leading without a shutdown: no renewal of the Lease within the renew deadline, or another holder",
            lease_losses.clone(),
        );
        let environments = Arc::new(EnvironmentsByPhase::default());
        registry.register_collector(Box::new(environments.clone()));
        let aws = AwsCallMetrics::register(&mut registry);
        Self { registry, reconcile, leader, lease_losses, aws, environments }
    }

    /// Lets `redcap_operator_environments` read the controller's cache (the latest
    /// controller's: a replica that leads again starts a new one).
    pub fn watch_environments(&self, store: Store<RedcapEnvironment>) {
        self.environments.set(Some(store));
    }

    /// Drops the controller's cache from `redcap_operator_environments` (the replica
    /// stopped leading: only the leader exports the family).
    pub fn stop_watching_environments(&self) {
        self.environments.set(None);
    }

    /// The OpenMetrics text exposition of every family.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_exported_with_their_full_names() {
        let metrics = Metrics::new();
        metrics.reconcile.record(ReconcileResult::Success);
        metrics.reconcile.record(ReconcileResult::TerminalError);
        metrics.reconcile.record_error("aws_call");
        drop(metrics.reconcile.start_timer());
        metrics.leader.set(1);
        let text = metrics.render().unwrap();
        assert!(text.contains("redcap_operator_reconcile_total{result=\"success\"} 1"), "{text}");
        assert!(
            text.contains("redcap_operator_reconcile_total{result=\"terminal_error\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("redcap_operator_reconcile_errors_total{category=\"aws_call\"} 1"),
            "{text}"
        );
        assert!(text.contains("redcap_operator_reconcile_duration_seconds_count 1"), "{text}");
        assert!(text.contains("redcap_operator_leader 1"), "{text}");
        metrics.lease_losses.inc();
        let text = metrics.render().unwrap();
        assert!(text.contains("redcap_operator_lease_losses_total 1"), "{text}");
        assert!(text.ends_with("# EOF\n"));
        // No cache yet (standby): no environments family rather than misleading zeros.
        assert!(!text.contains("redcap_operator_environments"), "{text}");
    }

    #[test]
    fn environments_are_counted_from_the_controller_cache() {
        use crate::api::RedcapEnvironmentStatus;
        use kube::runtime::{reflector, watcher};

        let metrics = Metrics::new();
        let (store, mut writer) = reflector::store::<RedcapEnvironment>();
        metrics.watch_environments(store);
        let mut ready = RedcapEnvironment::test().with_status(RedcapEnvironmentStatus {
            phase: Some(Phase::Ready),
            ..Default::default()
        });
        ready.metadata.name = Some("a".into());
        let mut fresh = RedcapEnvironment::test();
        fresh.metadata.name = Some("b".into());
        writer.apply_watcher_event(&watcher::Event::Apply(ready));
        writer.apply_watcher_event(&watcher::Event::Apply(fresh));
        let text = metrics.render().unwrap();
        assert!(text.contains("redcap_operator_environments{phase=\"Ready\"} 1"), "{text}");
        assert!(text.contains("redcap_operator_environments{phase=\"Unknown\"} 1"), "{text}");
        assert!(text.contains("redcap_operator_environments{phase=\"Stalled\"} 0"), "{text}");
    }

    #[test]
    fn phases_are_counted_with_zeroes_for_stable_series() {
        let counts = count_phases(
            [Some(Phase::Ready), Some(Phase::Ready), None, Some(Phase::Stalled)].into_iter(),
        );
        let get = |l: &str| counts.iter().find(|(p, _)| *p == l).map(|(_, n)| *n);
        assert_eq!(get("Ready"), Some(2));
        assert_eq!(get("Stalled"), Some(1));
        assert_eq!(get("Unknown"), Some(1));
        assert_eq!(get("Deleting"), Some(0));
        assert_eq!(counts.len(), 8);
    }
}
