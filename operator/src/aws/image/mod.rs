//! The image pipeline's AWS resources (component `image`; ACK's shape: observe, create,
//! update, delete). One file per service: `ecr` (repository and images), `codebuild`
//! (project and builds), `logs` (the build log group), `role` (the build's IAM role),
//! `objects` (the context zip and the release inputs in S3).
//!
//! Decisions live in `plan::image`; this module only calls AWS, each call after a permit
//! of its service's budget, and classifies errors with the per-service terminal codes.

pub mod codebuild;
pub mod credentials;
pub mod ecr;
pub mod logs;
pub mod objects;
pub mod role;

use aws_smithy_types::DateTime;

/// Whole seconds since the epoch of an SDK timestamp.
pub(crate) fn seconds(t: &DateTime) -> i64 {
    t.secs()
}
