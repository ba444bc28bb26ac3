//! The only code that talks to AWS: one module per component, each with the same shape
//! (observe, apply, delete), plus the shared client factory, error classification, call
//! budget and call metrics.

pub mod budget;
pub mod clients;
pub mod cloudformation;
pub mod database;
pub mod dns;
pub mod email;
pub mod error;
pub mod guardduty;
pub mod iam;
pub mod image;
pub mod instrument;
pub mod kms;
pub mod network;
pub mod secrets;
pub mod storage;

pub use budget::Service;
pub use clients::{AwsCtx, AwsFactory, AwsRetryMode, AwsSettings};
pub use error::{AwsError, ErrorClass};
pub use instrument::{AwsCallMetrics, CallCounts, CallResult};

use std::time::Duration;

/// Result of one apply or delete step: done, or waiting on AWS (a typed requeue, not an
/// error).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    Done,
    InProgress {
        requeue_after: Duration,
        reason: String,
    },
}
