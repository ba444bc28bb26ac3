//! The emulator's injected faults as the Rust SDK sees them (step: e2e emulator, issue 7).
//!
//! Proves on the wire that the throttling errors and dropped connections the emulator
//! injects are classified by aws-sdk-rust's own retry classifiers: with retries the call
//! succeeds after exactly the injected failures; without retries the typed error carries
//! the real code. Talks to the control API with plain HTTP (`/_emulator/faults`), which is
//! how operator tests drive it. Needs `AWS_ENDPOINT_URL` pointing at the emulator started
//! by `e2e/scripts/moto.sh` (fails, never skips, without it). Must not leave rules behind:
//! a guard clears them even when an assertion fails.

use redcap_operator::aws::sdk::*;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_s3::config::Credentials;
use redcap_e2e::components::endpoint;
use redcap_e2e::emulator::{EmulatorControl, FaultsGuard};
use serde_json::{Value, json};

fn set_faults(rules: Value) -> FaultsGuard {
    EmulatorControl::from_env().set_faults(1, rules).expect("installing fault rules")
}

/// One rule: the next `count` calls of `service`'s `operation` fail with `kind`.
fn fault(service: &str, operation: &str, kind: &str, count: u32) -> FaultsGuard {
    set_faults(json!([
        {"service": service, "operation": operation, "kind": kind, "count": count}
    ]))
}

fn fired() -> u64 {
    EmulatorControl::from_env().faults_fired().expect("reading the fault report")
}

async fn config(attempts: u32) -> aws_config::SdkConfig {
    let _ = endpoint();
    aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "emulator"))
        .region(Region::new("eu-west-1"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .load()
        .await
}

fn s3(cfg: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    redcap_e2e::s3_client(cfg)
}

// One test on purpose: fault rules are global to the emulator, so the steps must not run
// in parallel with each other.
#[tokio::test]
async fn injected_faults_are_what_the_rust_sdk_retries() {
    let retrying = config(3).await;
    let single = config(1).await;

    // awsJson: ThrottlingException (HTTP 400) is a throttling error for the SDK.
    let _guard = fault("kms", "ListKeys", "throttle", 2);
    aws_sdk_kms::Client::new(&retrying)
        .list_keys()
        .send()
        .await
        .expect("KMS succeeds after two throttles");
    assert_eq!(fired(), 2);
    let _guard = fault("kms", "ListKeys", "throttle", 1);
    let err = aws_sdk_kms::Client::new(&single).list_keys().send().await.expect_err("throttled");
    assert_eq!(err.code(), Some("ThrottlingException"));

    // rest-xml S3: SlowDown (HTTP 503).
    let _guard = fault("s3", "ListBuckets", "throttle", 1);
    s3(&retrying).list_buckets().send().await.expect("S3 succeeds after SlowDown");
    assert_eq!(fired(), 1);
    let _guard = fault("s3", "ListBuckets", "throttle", 1);
    let err = s3(&single).list_buckets().send().await.expect_err("slowed down");
    assert_eq!(aws_sdk_s3::error::ProvideErrorMetadata::code(&err), Some("SlowDown"));

    // 5xx and a connection reset without an answer are transient for the SDK.
    let _guard = set_faults(json!([
        {"service": "s3", "operation": "ListBuckets", "kind": "error", "count": 1},
        {"service": "kms", "operation": "ListKeys", "kind": "drop", "count": 1}
    ]));
    s3(&retrying).list_buckets().send().await.expect("S3 succeeds after a 500");
    aws_sdk_kms::Client::new(&retrying)
        .list_keys()
        .send()
        .await
        .expect("KMS succeeds after a dropped connection");
    assert_eq!(fired(), 2);
}
