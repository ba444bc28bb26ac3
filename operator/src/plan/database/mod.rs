//! Desired state of the database (component `database`; step: plan, pure): Aurora
//! Serverless v2 MySQL in the network's isolated subnets, encrypted with the
//! environment's key, its master password managed by RDS in Secrets Manager.
//!
//! Submodules hold the decisions, each unit-tested: [`version`] (engine versions and
//! upgrades), [`windows`] (maintenance and backup windows), [`parameters`] (the cluster
//! parameter group), [`cluster`] (the `ModifyDBCluster` diff), [`instances`] (writer and
//! readers), [`restore`] (roles of the clusters, restore sequencing), [`deletion`] and
//! [`names`] (deterministic identifiers and the tags that carry state).

pub mod cluster;
pub mod deletion;
pub mod instances;
pub mod names;
pub mod parameters;
pub mod restore;
pub mod version;
pub mod windows;

use std::collections::{BTreeMap, BTreeSet};

use crate::api::{ComponentName, LogExport, RedcapEnvironmentSpec, Tag};
use crate::plan::network::NetworkOutputs;
use crate::plan::{EnvIdentity, PlanError, TagSet};

use cluster::DesiredCluster;
use restore::{RestoreSource, RestoreTarget};
use version::EngineVersion;

/// The only engine the operator runs.
pub const ENGINE: &str = "aurora-mysql";
/// Serverless v2 instances.
pub const INSTANCE_CLASS: &str = "db.serverless";
/// Master user (seed: `dbadmin`).
pub const MASTER_USERNAME: &str = "dbadmin";
/// Database created with the cluster (seed: `redcap`).
pub const DATABASE_NAME: &str = "redcap";
/// The user REDCap connects as with IAM authentication (seed: `redcap_user`).
pub const REDCAP_DB_USER: &str = "redcap_user";
/// Certificate authority of the instances (seed: `RDS_CA_RSA2048_G1`).
pub const CA_CERTIFICATE: &str = "rds-ca-rsa2048-g1";
/// Aurora's limit of readers per cluster.
pub const MAX_READERS: u32 = 15;

/// The DB subnet group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredSubnetGroup {
    pub name: String,
    pub description: String,
    pub subnet_ids: BTreeSet<String>,
    pub tags: TagSet,
}

/// The cluster parameter group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredParameterGroup {
    pub name: String,
    pub family: String,
    pub description: String,
    pub parameters: BTreeMap<String, String>,
    pub tags: TagSet,
}

/// Everything the database component converges to.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredDatabase {
    pub environment_id: String,
    pub subnet_group: DesiredSubnetGroup,
    pub parameter_group: DesiredParameterGroup,
    /// Settings every cluster of the environment gets.
    pub cluster: DesiredCluster,
    /// The first cluster's identifier (`<id>-db`).
    pub base_cluster_id: String,
    /// Writer plus readers.
    pub instance_count: u32,
    pub readers: u32,
    /// Zones to spread instances over (the network's).
    pub zones: Vec<String>,
    /// A restore the spec asks for.
    pub restore: Option<RestoreTarget>,
    /// CloudWatch retention of the exported logs.
    pub log_retention_days: i32,
    /// Days between master password rotations.
    pub rotation_days: u32,
    /// Tags of instances and snapshots (ownership + user tags).
    pub tags: TagSet,
}

/// A DB subnet group as RDS reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedSubnetGroup {
    pub name: String,
    pub arn: String,
    pub subnet_ids: BTreeSet<String>,
}

/// A cluster snapshot as RDS reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedSnapshot {
    pub id: String,
    pub arn: String,
    pub status: String,
    pub engine: String,
    pub engine_version: String,
    pub cluster_id: String,
    pub snapshot_type: String,
    pub created: Option<jiff::Timestamp>,
    pub tags: TagSet,
}

impl ObservedSnapshot {
    pub fn available(&self) -> bool {
        self.status == "available"
    }
}

/// The rotation schedule of the master user secret, from Secrets Manager.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedRotation {
    pub enabled: bool,
    pub days: Option<u32>,
    pub next: Option<jiff::Timestamp>,
    pub last_changed: Option<jiff::Timestamp>,
}

/// Whether the master secret's schedule must be set to `days`.
pub fn rotation_needs_update(seen: &ObservedRotation, days: u32) -> bool {
    !seen.enabled || seen.days != Some(days)
}

fn invalid(field: &'static str, message: impl Into<String>) -> PlanError {
    PlanError::InvalidSpec { field, message: message.into() }
}

/// `error` etc. as AWS names the log types.
pub fn log_export_name(e: LogExport) -> &'static str {
    match e {
        LogExport::Error => "error",
        LogExport::General => "general",
        LogExport::Slowquery => "slowquery",
        LogExport::Audit => "audit",
    }
}

/// Checks the capacity range (CEL checks it at admission too; this covers objects stored
/// before a rule existed): steps of 0.5, 0 <= min <= max, 1 <= max <= 256.
pub fn check_scaling(min: f64, max: f64) -> Result<(), PlanError> {
    let half_step = |v: f64| (v * 2.0).fract() == 0.0;
    if !half_step(min) || !half_step(max) {
        return Err(invalid(
            "spec.database.minCapacityAcu",
            format!("capacities {min}-{max} must be multiples of 0.5"),
        ));
    }
    if !(0.0..=256.0).contains(&min) || !(1.0..=256.0).contains(&max) {
        return Err(invalid(
            "spec.database.maxCapacityAcu",
            format!("capacity {min}-{max} ACU is outside 0-256 (maximum at least 1)"),
        ));
    }
    if min > max {
        return Err(invalid(
            "spec.database.minCapacityAcu",
            format!("{min} must be <= spec.database.maxCapacityAcu {max}"),
        ));
    }
    Ok(())
}

/// The database the spec asks for, in the given network and encrypted with the key.
pub fn desired_database(
    id: &EnvIdentity,
    spec: &RedcapEnvironmentSpec,
    extra_tags: &[Tag],
    kms_key_arn: &str,
    network: &NetworkOutputs,
) -> Result<DesiredDatabase, PlanError> {
    let db = &spec.database;
    let environment_id = id.environment_id();
    let tags = id.ownership_tags(ComponentName::Database, extra_tags)?;
    let engine_version: EngineVersion =
        db.engine_version.parse().map_err(|e: String| invalid("spec.database.engineVersion", e))?;
    check_scaling(db.min_capacity_acu, db.max_capacity_acu)?;
    if db.readers > MAX_READERS {
        return Err(invalid(
            "spec.database.readers",
            format!("{} is more than Aurora's {MAX_READERS} readers", db.readers),
        ));
    }
    if let (Some(m), Some(b)) = (&db.preferred_maintenance_window, &db.preferred_backup_window) {
        match windows::overlap(m, b) {
            None => {
                return Err(invalid(
                    "spec.database.preferredMaintenanceWindow",
                    format!("{m} / {b} are not valid windows"),
                ));
            }
            Some(true) => {
                return Err(invalid(
                    "spec.database.preferredBackupWindow",
                    format!("{b} overlaps the maintenance window {m}"),
                ));
            }
            Some(false) => {}
        }
    }
    if network.isolated_subnets.is_empty() {
        return Err(invalid(
            "spec.network",
            "the network has no isolated subnets for the database",
        ));
    }
    if !crate::api::LOG_RETENTION_DAYS.contains(&spec.logs.retention_days) {
        return Err(invalid(
            "spec.logs.retentionDays",
            format!("{} is not a retention CloudWatch Logs accepts", spec.logs.retention_days),
        ));
    }
    let name = names::base_cluster_id(&environment_id);
    let owner = format!("{}/{}", id.namespace, id.name);
    let restore = db
        .restore_from
        .as_ref()
        .map(RestoreSource::from_spec)
        .transpose()?
        .map(|source| RestoreTarget::new(&environment_id, source));
    Ok(DesiredDatabase {
        subnet_group: DesiredSubnetGroup {
            name: names::subnet_group_name(&environment_id),
            description: format!("REDCap database subnets of {owner} (managed by redcap-operator)"),
            subnet_ids: network.isolated_subnets.iter().cloned().collect(),
            tags: tags.clone(),
        },
        parameter_group: DesiredParameterGroup {
            name: names::parameter_group_name(&environment_id),
            family: engine_version.family(),
            description: format!(
                "REDCap database parameters of {owner} (managed by redcap-operator)"
            ),
            parameters: parameters::desired_parameters(db)?,
            tags: tags.clone(),
        },
        cluster: DesiredCluster {
            engine_version,
            min_acu: db.min_capacity_acu,
            max_acu: db.max_capacity_acu,
            backtrack_seconds: i64::from(db.backtrack_window_hours) * 3600,
            backup_retention_days: i32::try_from(db.backup_retention_days).unwrap_or(35),
            maintenance_window: db.preferred_maintenance_window.as_deref().map(windows::normalise),
            backup_window: db.preferred_backup_window.clone(),
            log_exports: db.log_exports.iter().map(|e| log_export_name(*e).to_string()).collect(),
            iam_auth: db.iam_authentication,
            kms_key_arn: kms_key_arn.to_string(),
            security_group_ids: [network.security_groups.database.clone()].into(),
            subnet_group: names::subnet_group_name(&environment_id),
            parameter_group: names::parameter_group_name(&environment_id),
            tags: tags.clone(),
        },
        base_cluster_id: name,
        instance_count: db.readers + 1,
        readers: db.readers,
        zones: network.availability_zones.clone(),
        restore,
        log_retention_days: i32::try_from(spec.logs.retention_days).unwrap_or(365),
        rotation_days: db.master_secret_rotation_days,
        tags,
        environment_id,
    })
}

/// Days of a Secrets Manager rotation schedule: `AutomaticallyAfterDays`, or a
/// `rate(N days)` schedule expression (how managed secrets may report it).
pub fn rotation_days_of(after_days: Option<i64>, expression: Option<&str>) -> Option<u32> {
    if let Some(d) = after_days.filter(|d| *d > 0) {
        return u32::try_from(d).ok();
    }
    let inner = expression?.trim().strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.trim().split_once(' ')?;
    let n: u32 = n.parse().ok()?;
    match unit.trim() {
        "day" | "days" => Some(n),
        "hour" | "hours" if n.is_multiple_of(24) => Some(n / 24),
        _ => None,
    }
}

#[cfg(test)]
#[path = "database_tests.rs"]
mod tests;
