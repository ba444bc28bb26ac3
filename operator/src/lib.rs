//! redcap-operator: runs REDCap on AWS from a `RedcapEnvironment` custom resource.
//!
//! The crate reads like the architecture (see `docs/design.md`):
//! `api` holds the types users write, `plan` turns them into desired AWS state without
//! doing any I/O, `aws` is the only code that talks to AWS, and `reconcile` orders the
//! components, applies the plan and writes status.

/// The `RedcapEnvironment` API: spec, status, conditions. No I/O.
pub mod api;
/// One module per AWS component; the only code that calls AWS.
pub mod aws;
/// Operator-wide settings from flags and environment.
pub mod config;
/// `/metrics`, `/healthz` and `/readyz`.
pub mod http;
/// Leader election on a coordination.k8s.io Lease.
pub mod leader;
/// Prometheus metrics for reconciles and AWS calls.
pub mod metrics;
/// Pure planning: validated spec (+ observations) -> desired AWS state. No I/O.
pub mod plan;
/// The controller: ordering, finalizer, status writer, events, backoff.
pub mod reconcile;
/// Logging setup (JSON or human) through tracing.
pub mod telemetry;
/// Which roles, DNS names, zones and restore sources each namespace may use.
pub mod tenancy;

#[cfg(test)]
pub(crate) mod fixtures;
