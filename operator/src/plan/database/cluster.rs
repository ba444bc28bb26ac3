//! One Aurora cluster: what RDS reports, normalised, and the single `ModifyDBCluster`
//! that brings it to the spec (step: plan; pure).
//!
//! Normalisation before comparing, so nothing updates in a loop: windows in lowercase
//! (AWS lowercases them), an unset window in the spec means "whatever AWS picked", an
//! absent backtrack window is 0, log exports and security groups are sets, KMS keys are
//! compared by key id (AWS answers with ARNs), `SecondsUntilAutoPause` (AWS's default for
//! a minimum of 0 ACU) is ignored, and a newer engine version than the spec's is an AWS
//! minor upgrade, not drift (see [`super::version`]).
//!
//! Create-only settings (storage encryption and its key, database name, master user
//! name, subnet group) are not diffed: RDS cannot change them on a running cluster.

use std::collections::BTreeSet;

use jiff::Timestamp;

use crate::plan::PlanError;
use crate::plan::TagSet;
use crate::plan::naming::key_id_of;

use super::names::{ACTIVE_SINCE_TAG, ENGINE_VERSION_TAG, RETIRED_AT_TAG};
use super::version::{EngineStep, EngineVersion, engine_step};

/// Cluster states in which RDS refuses (or queues) modifications and deletions.
pub const BUSY_STATES: &[&str] = &[
    "creating",
    "modifying",
    "upgrading",
    "renaming",
    "resetting-master-credentials",
    "starting",
    "stopping",
    "migrating",
    "backtracking",
    "maintenance",
    "failing-over",
    "promoting",
    "update-iam-db-auth",
    "storage-optimization",
    "deleting",
];

/// The settings every cluster of the environment should have.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredCluster {
    pub engine_version: EngineVersion,
    pub min_acu: f64,
    pub max_acu: f64,
    pub backtrack_seconds: i64,
    pub backup_retention_days: i32,
    /// Lowercase; `None` leaves AWS's choice alone.
    pub maintenance_window: Option<String>,
    pub backup_window: Option<String>,
    pub log_exports: BTreeSet<String>,
    pub iam_auth: bool,
    pub kms_key_arn: String,
    pub security_group_ids: BTreeSet<String>,
    pub subnet_group: String,
    pub parameter_group: String,
    /// Ownership and user tags (the state tags are handled separately).
    pub tags: TagSet,
}

/// The RDS-managed master user secret of a cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedMasterSecret {
    pub arn: String,
    pub status: Option<String>,
    pub kms_key_id: Option<String>,
}

/// A member of the cluster, from `DBClusterMembers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedMember {
    pub id: String,
    pub writer: bool,
    pub parameter_group_status: Option<String>,
}

/// A cluster as `DescribeDBClusters` reports it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedCluster {
    pub id: String,
    pub arn: String,
    pub resource_id: String,
    pub status: String,
    pub engine: String,
    pub engine_version: String,
    pub min_acu: Option<f64>,
    pub max_acu: Option<f64>,
    pub backtrack_seconds: Option<i64>,
    pub backup_retention_days: Option<i32>,
    pub maintenance_window: Option<String>,
    pub backup_window: Option<String>,
    pub log_exports: BTreeSet<String>,
    pub iam_auth: bool,
    pub deletion_protection: bool,
    pub copy_tags_to_snapshot: bool,
    pub master_secret: Option<ObservedMasterSecret>,
    pub security_group_ids: BTreeSet<String>,
    pub parameter_group: Option<String>,
    pub endpoint: Option<String>,
    pub reader_endpoint: Option<String>,
    pub port: Option<i32>,
    pub latest_restorable_time: Option<Timestamp>,
    pub earliest_restorable_time: Option<Timestamp>,
    pub created: Option<Timestamp>,
    pub members: Vec<ObservedMember>,
    pub tags: TagSet,
}

impl ObservedCluster {
    /// Whether RDS accepts modifications now.
    pub fn available(&self) -> bool {
        self.status == "available"
    }

    pub fn busy(&self) -> bool {
        BUSY_STATES.contains(&self.status.as_str())
    }

    pub fn active_since(&self) -> Option<&str> {
        self.tags.get(ACTIVE_SINCE_TAG)
    }

    pub fn retired_at(&self) -> Option<&str> {
        self.tags.get(RETIRED_AT_TAG)
    }
}

/// The fields of one `ModifyDBCluster` call; `None` leaves a field alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterModification {
    /// Engine version and whether the major line changes.
    pub engine_version: Option<(String, bool)>,
    pub scaling: Option<(f64, f64)>,
    pub backtrack_seconds: Option<i64>,
    pub backup_retention_days: Option<i32>,
    pub maintenance_window: Option<String>,
    pub backup_window: Option<String>,
    pub enable_logs: Vec<String>,
    pub disable_logs: Vec<String>,
    pub iam_auth: Option<bool>,
    pub deletion_protection: Option<bool>,
    pub copy_tags_to_snapshot: Option<bool>,
    /// Turn on (or move to this key) the RDS-managed master password.
    pub manage_master_password_with_key: Option<String>,
    pub security_group_ids: Option<Vec<String>>,
    pub parameter_group: Option<String>,
}

impl ClusterModification {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// The changed settings, for messages.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some((v, major)) = &self.engine_version {
            out.push(if *major {
                format!("engine version {v} (major upgrade)")
            } else {
                format!("engine version {v}")
            });
        }
        if let Some((min, max)) = self.scaling {
            out.push(format!("capacity {min}-{max} ACU"));
        }
        if let Some(s) = self.backtrack_seconds {
            out.push(format!("backtrack window {} h", s / 3600));
        }
        if let Some(d) = self.backup_retention_days {
            out.push(format!("backup retention {d} days"));
        }
        if let Some(w) = &self.maintenance_window {
            out.push(format!("maintenance window {w}"));
        }
        if let Some(w) = &self.backup_window {
            out.push(format!("backup window {w}"));
        }
        if !self.enable_logs.is_empty() || !self.disable_logs.is_empty() {
            out.push("log exports".to_string());
        }
        if let Some(b) = self.iam_auth {
            out.push(format!("IAM authentication {}", on_off(b)));
        }
        if let Some(b) = self.deletion_protection {
            out.push(format!("deletion protection {}", on_off(b)));
        }
        if self.copy_tags_to_snapshot.is_some() {
            out.push("copy tags to snapshots".to_string());
        }
        if self.manage_master_password_with_key.is_some() {
            out.push("RDS-managed master password".to_string());
        }
        if self.security_group_ids.is_some() {
            out.push("security groups".to_string());
        }
        if let Some(g) = &self.parameter_group {
            out.push(format!("parameter group {g}"));
        }
        out
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// Everything a pass should change on one cluster.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterPlan {
    pub modify: ClusterModification,
    /// Tags to add or overwrite (ownership, user tags, the engine-version tag).
    pub tags: TagSet,
    /// Facts worth reporting that need no write (an AWS minor upgrade).
    pub notes: Vec<String>,
}

impl ClusterPlan {
    pub fn is_empty(&self) -> bool {
        self.modify.is_empty() && self.tags.is_empty()
    }
}

fn invalid(field: &'static str, message: String) -> PlanError {
    PlanError::InvalidSpec { field, message }
}

/// The changes that bring `seen` to `want`.
///
/// An engine upgrade goes alone in its `ModifyDBCluster` (the other changes follow in the
/// next pass, once the cluster is available again), so a refused upgrade never takes a
/// settings change down with it. Errors are spec requests RDS cannot honour on this
/// cluster (a downgrade, turning backtrack on after creation).
pub fn cluster_plan(
    want: &DesiredCluster,
    seen: &ObservedCluster,
) -> Result<ClusterPlan, PlanError> {
    let mut plan = ClusterPlan::default();
    let mut m = ClusterModification::default();
    let requested = seen.tags.get(ENGINE_VERSION_TAG);
    let desired_version = want.engine_version.as_str();
    match engine_step(&want.engine_version, &seen.engine_version, requested) {
        EngineStep::InSync => {}
        EngineStep::Upgrade { to, allow_major } => m.engine_version = Some((to, allow_major)),
        EngineStep::RunningNewer { running } => plan.notes.push(format!(
            "running {running}, newer than spec.database.engineVersion {desired_version} (an AWS minor upgrade; never downgraded)"
        )),
        EngineStep::Unrecognised { running } => plan.notes.push(format!(
            "engine version {running:?} not recognised; left as it is"
        )),
        EngineStep::Downgrade { message } => {
            return Err(invalid("spec.database.engineVersion", message));
        }
    }
    if requested != Some(desired_version) {
        plan.tags.insert(ENGINE_VERSION_TAG, desired_version);
    }
    plan.tags = {
        let mut all = want.tags.missing_from(&seen.tags);
        for (k, v) in plan.tags.iter() {
            all.insert(k, v);
        }
        all
    };
    if m.engine_version.is_some() {
        plan.modify = m;
        return Ok(plan);
    }

    if seen.min_acu != Some(want.min_acu) || seen.max_acu != Some(want.max_acu) {
        m.scaling = Some((want.min_acu, want.max_acu));
    }
    let backtrack = seen.backtrack_seconds.unwrap_or(0);
    if backtrack != want.backtrack_seconds {
        if backtrack == 0 {
            return Err(invalid(
                "spec.database.backtrackWindowHours",
                format!(
                    "backtrack can only be turned on when a cluster is created, and cluster {} has none; set 0, or restore into a new cluster with spec.database.restoreFrom",
                    seen.id
                ),
            ));
        }
        m.backtrack_seconds = Some(want.backtrack_seconds);
    }
    if seen.backup_retention_days != Some(want.backup_retention_days) {
        m.backup_retention_days = Some(want.backup_retention_days);
    }
    let lower = |w: &Option<String>| w.as_deref().map(super::windows::normalise);
    if want.maintenance_window.is_some()
        && lower(&seen.maintenance_window) != want.maintenance_window
    {
        m.maintenance_window = want.maintenance_window.clone();
    }
    if want.backup_window.is_some() && seen.backup_window != want.backup_window {
        m.backup_window = want.backup_window.clone();
    }
    m.enable_logs = want.log_exports.difference(&seen.log_exports).cloned().collect();
    m.disable_logs = seen.log_exports.difference(&want.log_exports).cloned().collect();
    if seen.iam_auth != want.iam_auth {
        m.iam_auth = Some(want.iam_auth);
    }
    if !seen.deletion_protection {
        m.deletion_protection = Some(true);
    }
    if !seen.copy_tags_to_snapshot {
        m.copy_tags_to_snapshot = Some(true);
    }
    let secret_key = seen.master_secret.as_ref().map(|s| s.kms_key_id.as_deref().map(key_id_of));
    if secret_key != Some(Some(key_id_of(&want.kms_key_arn))) {
        m.manage_master_password_with_key = Some(want.kms_key_arn.clone());
    }
    if seen.security_group_ids != want.security_group_ids {
        m.security_group_ids = Some(want.security_group_ids.iter().cloned().collect());
    }
    if seen.parameter_group.as_deref() != Some(want.parameter_group.as_str()) {
        m.parameter_group = Some(want.parameter_group.clone());
    }
    plan.modify = m;
    Ok(plan)
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
