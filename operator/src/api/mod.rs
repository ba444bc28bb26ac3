//! The `RedcapEnvironment` API (`redcap.dev/v1alpha1`).
//!
//! Types only: nothing here performs I/O. Defaults live in the schema, cross-field rules
//! are CEL (`x-kubernetes-validations`) next to the fields they guard, and everything the
//! operator learns from AWS goes to `.status`, never `.spec`.

pub mod components;
pub mod conditions;
mod crd;
pub(crate) mod schema;
pub mod spec;
pub mod status;
mod status_compute;
mod status_database;
mod status_waf_cron;

pub use components::{COMPONENTS, ComponentInfo, ComponentName, Maturity};
pub use conditions::{ConditionReason, ConditionType};
pub use spec::*;
pub use status::*;
pub use status_compute::*;
pub use status_database::*;
pub use status_waf_cron::*;

use kube::CustomResourceExt;

/// API group of every kind this operator serves.
pub const GROUP: &str = "redcap.dev";
/// Field manager used for every server-side apply the operator makes.
pub const FIELD_MANAGER: &str = "redcap-operator";
/// Finalizer that holds the object until its AWS resources are handled per `deletionPolicy`.
pub const FINALIZER: &str = "redcap.dev/cleanup";

/// Annotation that asks for an immediate reconcile (any new value triggers one).
pub const ANNOTATION_RECONCILE_REQUESTED_AT: &str = "redcap.dev/reconcile-requested-at";

/// Annotation that asks for a new image build and rollout of the same version (any new
/// value triggers one); the GitOps-free twin of `spec.redcap.rebuildToken`.
pub const ANNOTATION_REBUILD_REQUESTED_AT: &str = "redcap.dev/rebuild-requested-at";

/// Annotation that asks for an on-demand Aurora snapshot: one snapshot per distinct
/// value, named after it (`<environment id>-snap-<hash>`).
pub const ANNOTATION_SNAPSHOT_REQUESTED_AT: &str = "redcap.dev/snapshot-requested-at";

/// Annotation naming retired Aurora clusters (comma-separated identifiers from
/// `status.database.retiredClusters`) to delete, each after a final snapshot.
pub const ANNOTATION_DELETE_RETIRED_CLUSTERS: &str = "redcap.dev/delete-retired-clusters";

/// Ownership tags put on every AWS resource, so it can be found again after a crash.
pub mod tags {
    /// `true` on everything this operator created.
    pub const MANAGED_BY: &str = "redcap.dev/managed-by";
    pub const MANAGED_BY_VALUE: &str = "redcap-operator";
    /// Namespace of the owning `RedcapEnvironment`.
    pub const NAMESPACE: &str = "redcap.dev/namespace";
    /// Name of the owning `RedcapEnvironment`.
    pub const NAME: &str = "redcap.dev/environment";
    /// UID of the owning `RedcapEnvironment`: the identity that decides ownership.
    pub const UID: &str = "redcap.dev/uid";
    /// Which component of the environment the resource belongs to.
    pub const COMPONENT: &str = "redcap.dev/component";
    /// Seed parity (`deployment = <stage>-<region>`), handy in the AWS cost explorer.
    pub const DEPLOYMENT: &str = "deployment";
}

/// Every CRD this operator serves, in apply order.
pub fn crds()
-> Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>
{
    vec![crd::normalise(RedcapEnvironment::crd())]
}

/// The CRDs as one multi-document YAML stream (what `redcap-operator crd` prints and
/// what `crds/` holds).
pub fn crds_yaml() -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd)?);
    }
    Ok(out)
}
