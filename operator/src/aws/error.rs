//! AWS errors, classified once at the lowest layer.
//!
//! Not-found codes become `Ok(None)` in each component's `observe`; everything else is
//! an [`AwsError`] with a [`ErrorClass`]: `Recoverable` errors are retried with backoff,
//! `Terminal` ones stall the environment until the spec (or the account) changes.

use std::fmt;

/// How the reconciler should treat an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttling, 5xx, timeouts, eventual consistency, "in progress": retry with backoff.
    Recoverable,
    /// Invalid input, quota, access denied, a name owned by someone else: needs a human.
    Terminal,
}

/// A failed AWS call, with the service and operation it came from.
///
/// `message` is AWS's error message (never a secret: the operator never sends secret
/// values in requests whose errors echo them).
#[derive(Debug, thiserror::Error)]
#[error("{service}.{operation} failed ({code}): {message}")]
pub struct AwsError {
    pub service: &'static str,
    pub operation: &'static str,
    /// AWS error code (`NoSuchBucket`, `ThrottlingException`, ...), or a transport label.
    pub code: String,
    pub message: String,
    pub class: ErrorClass,
}

impl AwsError {
    pub fn is_terminal(&self) -> bool {
        self.class == ErrorClass::Terminal
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorClass::Recoverable => "recoverable",
            ErrorClass::Terminal => "terminal",
        })
    }
}
