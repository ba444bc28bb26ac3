//! The emulator's injected faults as the Rust SDK sees them (step: e2e emulator, issue 7).
//!
//! Proves on the wire that the throttling errors and dropped connections the emulator
//! injects are classified by aws-sdk-rust's own retry classifiers: with retries the call
//! succeeds after exactly the injected failures; without retries the typed error carries
//! the real code. Talks to the control API with plain HTTP (`/_emulator/faults`), which is
//! how operator tests drive it. Needs `AWS_ENDPOINT_URL` pointing at the emulator started
//! by `e2e/scripts/moto.sh` (fails, never skips, without it). Must not leave rules behind:
//! a guard clears them even when an assertion fails.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_s3::config::Credentials;
use serde_json::{Value, json};

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!("AWS_ENDPOINT_URL is not set: start the emulator with e2e/scripts/moto.sh start <dir> (these tests do not skip)")
    })
}

/// One plain HTTP/1.1 request to the control API; returns (status, JSON body).
fn control(method: &str, path: &str, body: &Value) -> (u16, Value) {
    let url = endpoint();
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let payload = body.to_string();
    let mut stream = TcpStream::connect(host).expect("connect to the emulator");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )
    .expect("write request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read answer");
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let body = raw.split("\r\n\r\n").nth(1).unwrap_or("null");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

struct ClearFaults;

impl Drop for ClearFaults {
    fn drop(&mut self) {
        control("DELETE", "/_emulator/faults", &Value::Null);
    }
}

fn set_faults(rules: Value) -> ClearFaults {
    let (status, body) = control(
        "POST",
        "/_emulator/faults",
        &json!({"seed": 1, "rules": rules}),
    );
    assert_eq!(status, 200, "{body}");
    ClearFaults
}

fn fired() -> u64 {
    let (_, report) = control("GET", "/_emulator/faults", &Value::Null);
    report["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["fired"].as_u64().expect("fired"))
        .sum()
}

async fn config(attempts: u32) -> aws_config::SdkConfig {
    let _ = endpoint();
    aws_config::defaults(BehaviorVersion::latest())
        .credentials_provider(Credentials::new(
            "testing", "testing", None, None, "emulator",
        ))
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
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(cfg)
            .force_path_style(true)
            .build(),
    )
}

// One test on purpose: fault rules are global to the emulator, so the steps must not run
// in parallel with each other.
#[tokio::test]
async fn injected_faults_are_what_the_rust_sdk_retries() {
    let retrying = config(3).await;
    let single = config(1).await;

    // awsJson: ThrottlingException (HTTP 400) is a throttling error for the SDK.
    let _guard = set_faults(
        json!([{"service": "kms", "operation": "ListKeys", "kind": "throttle", "count": 2}]),
    );
    aws_sdk_kms::Client::new(&retrying)
        .list_keys()
        .send()
        .await
        .expect("KMS succeeds after two throttles");
    assert_eq!(fired(), 2);
    let _guard = set_faults(
        json!([{"service": "kms", "operation": "ListKeys", "kind": "throttle", "count": 1}]),
    );
    let err = aws_sdk_kms::Client::new(&single)
        .list_keys()
        .send()
        .await
        .expect_err("throttled");
    assert_eq!(err.code(), Some("ThrottlingException"));

    // rest-xml S3: SlowDown (HTTP 503).
    let _guard = set_faults(
        json!([{"service": "s3", "operation": "ListBuckets", "kind": "throttle", "count": 1}]),
    );
    s3(&retrying)
        .list_buckets()
        .send()
        .await
        .expect("S3 succeeds after SlowDown");
    assert_eq!(fired(), 1);
    let _guard = set_faults(
        json!([{"service": "s3", "operation": "ListBuckets", "kind": "throttle", "count": 1}]),
    );
    let err = s3(&single)
        .list_buckets()
        .send()
        .await
        .expect_err("slowed down");
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&err),
        Some("SlowDown")
    );

    // 5xx and a connection reset without an answer are transient for the SDK.
    let _guard = set_faults(json!([
        {"service": "s3", "operation": "ListBuckets", "kind": "error", "count": 1},
        {"service": "kms", "operation": "ListKeys", "kind": "drop", "count": 1}
    ]));
    s3(&retrying)
        .list_buckets()
        .send()
        .await
        .expect("S3 succeeds after a 500");
    aws_sdk_kms::Client::new(&retrying)
        .list_keys()
        .send()
        .await
        .expect("KMS succeeds after a dropped connection");
    assert_eq!(fired(), 2);
}
