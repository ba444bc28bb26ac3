//! Counts every AWS call by service, operation and result (step: an SDK interceptor on
//! every client the [`super::AwsFactory`] builds).
//!
//! The interceptor reads the operation's `Metadata` from the config bag and classifies
//! the outcome with the operation's own retry classifiers (the same verdict the SDK's
//! retry strategy uses), so throttling is recognised for every protocol without parsing
//! bodies. Labels come from bounded sets only: no ARNs, names or messages. This module
//! makes no AWS calls and never fails a call: errors in here are swallowed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef, InterceptorContext,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryReason,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::retry::ErrorKind;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// `read` for Get/BatchGet/List/Describe/Head operations, `write` for everything else.
pub fn kind_of(operation: &str) -> &'static str {
    const READ_PREFIXES: [&str; 5] = ["Get", "BatchGet", "List", "Describe", "Head"];
    if READ_PREFIXES.iter().any(|p| operation.starts_with(p)) { "read" } else { "write" }
}

/// The bounded `result` label of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallResult {
    Success,
    /// HTTP 404: expected while observing things that do not exist yet.
    NotFound,
    Throttled,
    ClientError,
    ServerError,
    /// No usable response: connection, DNS, TLS or timeout.
    Transport,
    /// Not sent: this replica was not the leader (`leader::fence`).
    Fenced,
}

impl CallResult {
    pub fn as_str(self) -> &'static str {
        match self {
            CallResult::Success => "success",
            CallResult::NotFound => "not_found",
            CallResult::Throttled => "throttled",
            CallResult::ClientError => "client_error",
            CallResult::ServerError => "server_error",
            CallResult::Transport => "transport",
            CallResult::Fenced => "fenced",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    service: String,
    operation: String,
    kind: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabels {
    service: String,
    operation: String,
}

type HistogramFamily = Family<OpLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    // 5 ms .. ~10 s: AWS control-plane calls sit in the tens to hundreds of ms.
    Histogram::new(exponential_buckets(0.005, 2.0, 12))
}

/// Prometheus families for AWS calls. Cheap to clone (shared families).
#[derive(Clone, Debug)]
pub struct AwsCallMetrics {
    calls: Family<CallLabels, Counter>,
    throttles: Family<OpLabels, Counter>,
    duration: HistogramFamily,
    tally: Arc<Mutex<Tally>>,
}

impl Default for AwsCallMetrics {
    fn default() -> Self {
        Self {
            calls: Family::default(),
            throttles: Family::default(),
            duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            tally: Arc::default(),
        }
    }
}

#[derive(Debug, Default)]
struct Tally {
    calls: HashMap<(String, String, CallResult), u64>,
    throttles: u64,
}

impl AwsCallMetrics {
    /// Creates the families and registers them (prefix `redcap_operator_aws_`).
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::default();
        registry.register(
            "redcap_operator_aws_calls",
            "AWS API calls by service, operation, kind (read|write) and result",
            metrics.calls.clone(),
        );
        registry.register(
            "redcap_operator_aws_throttles",
            "AWS API attempts answered with throttling, by service and operation",
            metrics.throttles.clone(),
        );
        registry.register(
            "redcap_operator_aws_call_duration_seconds",
            "Duration of AWS API calls including SDK retries, by service and operation",
            metrics.duration.clone(),
        );
        metrics
    }

    /// Records one finished call (all SDK attempts included).
    pub fn record_call(
        &self,
        service: &str,
        operation: &str,
        result: CallResult,
        seconds: Option<f64>,
    ) {
        let labels = CallLabels {
            service: service.to_string(),
            operation: operation.to_string(),
            kind: kind_of(operation),
            result: result.as_str(),
        };
        self.calls.get_or_create(&labels).inc();
        if let Some(seconds) = seconds {
            let op =
                OpLabels { service: labels.service.clone(), operation: labels.operation.clone() };
            self.duration.get_or_create(&op).observe(seconds);
        }
        let mut tally = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        *tally.calls.entry((labels.service, labels.operation, result)).or_default() += 1;
    }

    /// Records one throttled attempt (the SDK may retry it).
    pub fn record_throttle(&self, service: &str, operation: &str) {
        let op = OpLabels { service: service.to_string(), operation: operation.to_string() };
        self.throttles.get_or_create(&op).inc();
        self.tally.lock().unwrap_or_else(|p| p.into_inner()).throttles += 1;
    }

    /// A copy of the counts so far, for tests and benchmarks (`after.since(&before)`).
    pub fn snapshot(&self) -> CallCounts {
        let tally = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        CallCounts { calls: tally.calls.clone(), throttles: tally.throttles }
    }

    /// The interceptor to add to every client built with these metrics.
    pub fn interceptor(&self) -> CallInterceptor {
        CallInterceptor { metrics: self.clone() }
    }
}

/// Counts of calls at one moment, keyed by (service, operation, result).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CallCounts {
    calls: HashMap<(String, String, CallResult), u64>,
    throttles: u64,
}

impl CallCounts {
    /// Calls made between `earlier` and `self`.
    pub fn since(&self, earlier: &CallCounts) -> CallCounts {
        let calls = self
            .calls
            .iter()
            .map(|(k, v)| (k.clone(), v.saturating_sub(earlier.calls.get(k).copied().unwrap_or(0))))
            .filter(|(_, v)| *v > 0)
            .collect();
        CallCounts { calls, throttles: self.throttles.saturating_sub(earlier.throttles) }
    }

    pub fn total(&self) -> u64 {
        self.calls.values().sum()
    }

    pub fn reads(&self) -> u64 {
        self.sum(|op, _| kind_of(op) == "read")
    }

    pub fn writes(&self) -> u64 {
        self.sum(|op, _| kind_of(op) == "write")
    }

    pub fn throttles(&self) -> u64 {
        self.throttles
    }

    /// Calls of one operation (`service` as labelled: `kms`, `s3`), any result.
    pub fn of(&self, service: &str, operation: &str) -> u64 {
        self.calls
            .iter()
            .filter(|((s, o, _), _)| s == service && o == operation)
            .map(|(_, v)| v)
            .sum()
    }

    /// Calls with a given result, any operation.
    pub fn with_result(&self, result: CallResult) -> u64 {
        self.sum(|_, r| r == result)
    }

    /// `service.Operation` of every write call, sorted (for readable test failures).
    pub fn write_operations(&self) -> Vec<String> {
        let mut ops: Vec<String> = self
            .calls
            .keys()
            .filter(|(_, o, _)| kind_of(o) == "write")
            .map(|(s, o, _)| format!("{s}.{o}"))
            .collect();
        ops.sort();
        ops.dedup();
        ops
    }

    fn sum(&self, pred: impl Fn(&str, CallResult) -> bool) -> u64 {
        self.calls.iter().filter(|((_, o, r), _)| pred(o, *r)).map(|(_, v)| v).sum()
    }
}

/// The SDK interceptor that feeds [`AwsCallMetrics`].
#[derive(Clone, Debug)]
pub struct CallInterceptor {
    metrics: AwsCallMetrics,
}

/// When the call started, kept in the call's own config bag (not in the interceptor,
/// which is shared by concurrent calls).
#[derive(Clone, Debug)]
struct CallStart(Instant);

impl Storable for CallStart {
    type Storer = StoreReplace<Self>;
}

fn labels(cfg: &ConfigBag) -> (String, String) {
    match cfg.load::<Metadata>() {
        Some(m) => (m.service().to_ascii_lowercase(), m.name().to_string()),
        None => ("unknown".to_string(), "unknown".to_string()),
    }
}

/// Runs the operation's retry classifiers the way the SDK's retry strategy does.
fn retry_verdict(ctx: &InterceptorContext, rc: &RuntimeComponents) -> RetryAction {
    let mut verdict = RetryAction::NoActionIndicated;
    for classifier in rc.retry_classifiers() {
        let next = classifier.classify_retry_v2(ctx, &verdict);
        if next == RetryAction::NoActionIndicated {
            continue;
        }
        verdict = next;
        if verdict == RetryAction::RetryForbidden {
            break;
        }
    }
    verdict
}

fn outcome(ctx: &InterceptorContext, rc: &RuntimeComponents) -> CallResult {
    let err = match ctx.output_or_error() {
        Some(Ok(_)) => return CallResult::Success,
        Some(Err(err)) => err,
        None => return CallResult::Transport,
    };
    if crate::leader::fence::is_not_leader(err) {
        return CallResult::Fenced;
    }
    let status = ctx.response().map(|r| r.status().as_u16());
    let throttled = matches!(
        retry_verdict(ctx, rc),
        RetryAction::RetryIndicated(RetryReason::RetryableError {
            kind: ErrorKind::ThrottlingError,
            ..
        })
    );
    result_of(throttled, err.is_connector_error() || err.is_timeout_error(), status)
}

/// The pure part of the classification, table-tested.
fn result_of(throttled: bool, transport: bool, status: Option<u16>) -> CallResult {
    match (throttled, transport, status) {
        (true, _, _) | (_, _, Some(429)) => CallResult::Throttled,
        (_, true, _) | (_, _, None) => CallResult::Transport,
        (_, _, Some(404)) => CallResult::NotFound,
        (_, _, Some(s)) if s >= 500 => CallResult::ServerError,
        (_, _, Some(_)) => CallResult::ClientError,
    }
}

impl Intercept for CallInterceptor {
    fn name(&self) -> &'static str {
        "RedcapCallMetrics"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(CallStart(Instant::now()));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if outcome(context.inner(), runtime_components) == CallResult::Throttled {
            let (service, operation) = labels(cfg);
            self.metrics.record_throttle(&service, &operation);
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = labels(cfg);
        let seconds = cfg.load::<CallStart>().map(|s| s.0.elapsed().as_secs_f64());
        let result = outcome(context.inner(), runtime_components);
        self.metrics.record_call(&service, &operation, result, seconds);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn kind_follows_the_operation_prefix() {
        for op in [
            "GetBucketTagging",
            "ListKeys",
            "DescribeKey",
            "HeadBucket",
            "GetKeyRotationStatus",
            "BatchGetBuilds",
        ] {
            assert_eq!(kind_of(op), "read", "{op}");
        }
        for op in
            ["CreateKey", "PutBucketPolicy", "DeleteBucket", "TagResource", "EnableKeyRotation"]
        {
            assert_eq!(kind_of(op), "write", "{op}");
        }
    }

    #[test]
    fn result_table() {
        use CallResult::*;
        let cases = [
            ((true, false, Some(400)), Throttled),
            ((true, false, Some(503)), Throttled),
            ((false, false, Some(429)), Throttled),
            ((false, true, None), Transport),
            ((false, false, None), Transport),
            ((false, false, Some(404)), NotFound),
            ((false, false, Some(500)), ServerError),
            ((false, false, Some(503)), ServerError),
            ((false, false, Some(400)), ClientError),
            ((false, false, Some(403)), ClientError),
        ];
        for ((throttled, transport, status), want) in cases {
            assert_eq!(
                result_of(throttled, transport, status),
                want,
                "{throttled} {transport} {status:?}"
            );
        }
    }

    #[test]
    fn counts_split_reads_writes_and_diff() {
        let m = AwsCallMetrics::default();
        m.record_call("s3", "HeadBucket", CallResult::Success, Some(0.01));
        let before = m.snapshot();
        m.record_call("s3", "HeadBucket", CallResult::NotFound, None);
        m.record_call("s3", "CreateBucket", CallResult::Success, None);
        m.record_call("kms", "CreateKey", CallResult::ServerError, None);
        m.record_throttle("kms", "CreateKey");
        let diff = m.snapshot().since(&before);
        assert_eq!(diff.total(), 3);
        assert_eq!(diff.reads(), 1);
        assert_eq!(diff.writes(), 2);
        assert_eq!(diff.throttles(), 1);
        assert_eq!(diff.of("s3", "HeadBucket"), 1);
        assert_eq!(diff.with_result(CallResult::ServerError), 1);
        assert_eq!(diff.write_operations(), vec!["kms.CreateKey", "s3.CreateBucket"]);
        assert_eq!(m.snapshot().of("s3", "HeadBucket"), 2);
    }

    #[test]
    fn families_are_registered_with_bounded_labels() {
        let mut registry = Registry::default();
        let m = AwsCallMetrics::register(&mut registry);
        m.record_call("kms", "DescribeKey", CallResult::Success, Some(0.02));
        m.record_throttle("kms", "DescribeKey");
        let mut text = String::new();
        encode(&mut text, &registry).expect("encode");
        assert!(
            text.contains(
                r#"redcap_operator_aws_calls_total{service="kms",operation="DescribeKey",kind="read",result="success"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(
            r#"redcap_operator_aws_throttles_total{service="kms",operation="DescribeKey"} 1"#
        ));
        assert!(text.contains("redcap_operator_aws_call_duration_seconds_bucket"));
    }
}
