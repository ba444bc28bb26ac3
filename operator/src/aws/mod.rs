//! The only code that talks to AWS, organised by AWS service (CAPA's `services/<svc>`):
//! each module observes, creates, updates and deletes the resources of one service, and
//! the service registry (`services`) gives every service its client, call budget and
//! error table. Compositions that span services for one component stay small: `network`
//! (the stack over CloudFormation).
//!
//! Every call goes through [`AwsCtx::call`] (or `find`, `delete`, `tolerate`, `pages`),
//! which waits for the service's budget, sends and classifies. Desired states implement
//! [`resource::Resource`] so the reconcile layer's converge loop can drive them.

pub mod budget;
pub mod clients;
pub mod cloudformation;
pub mod codebuild;
pub mod ecr;
pub mod email;
pub mod error;
pub mod guardduty;
pub mod iam;
pub mod instrument;
pub mod kms;
pub mod logs;
pub mod network;
pub mod rds;
pub mod resource;
pub mod route53;
pub mod s3;
pub mod secrets;
pub mod services;

pub use clients::{AwsCtx, AwsFactory, AwsRetryMode, AwsSettings};
pub use error::{AwsError, ErrorClass};
pub use instrument::{AwsCallMetrics, CallCounts, CallResult};
pub use services::Service;

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
