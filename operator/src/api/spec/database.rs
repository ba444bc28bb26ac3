//! `spec.database`: Aurora Serverless v2 MySQL (api step: types only, no I/O).
//!
//! The seed hard-coded most of these (backup retention, backtrack, rotation, log
//! exports); here they are fields with the seed's values as defaults.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// `ddd:HH:mm-ddd:HH:mm`, any case (AWS accepts `Sun` and `sun`).
const MAINTENANCE_WINDOW_RE: &str = "^(?i)(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]-(mon|tue|wed|thu|fri|sat|sun):([01][0-9]|2[0-3]):[0-5][0-9]$";

/// `HH:mm-HH:mm`.
const BACKUP_WINDOW_RE: &str = "^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$";

/// CEL: the daily backup window overlaps the weekly maintenance window on some day.
/// Minutes of the week (`M0`, length `ML`) against each day's backup window (`B0`, length
/// `BL`); two arcs of a circle overlap when either start lies inside the other arc. CEL's
/// `%` keeps the dividend's sign, so the differences are made positive first.
fn backup_overlaps_maintenance() -> String {
    let mw = "self.preferredMaintenanceWindow";
    let bw = "self.preferredBackupWindow";
    let week = |off: usize| {
        format!(
            "('montuewedthufrisatsun'.indexOf({mw}.substring({}, {}).lowerAscii()) / 3 * 1440 + int({mw}.substring({}, {})) * 60 + int({mw}.substring({}, {})))",
            off,
            off + 3,
            off + 4,
            off + 6,
            off + 7,
            off + 9
        )
    };
    let (m0, m1) = (week(0), week(10));
    let ml = format!("(({m1} - {m0} + 10080) % 10080)");
    let b0 = format!("(int({bw}.substring(0, 2)) * 60 + int({bw}.substring(3, 5)))");
    let b1 = format!("(int({bw}.substring(6, 8)) * 60 + int({bw}.substring(9, 11)))");
    let bl = format!("(({b1} - {b0} + 1440) % 1440)");
    format!(
        "[0, 1, 2, 3, 4, 5, 6].exists(d, (d * 1440 + {b0} - {m0} + 10080) % 10080 < {ml} || ({m0} - d * 1440 - {b0} + 20160) % 10080 < {bl})"
    )
}

/// Aurora Serverless v2 MySQL.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("self.minCapacityAcu <= self.maxCapacityAcu")
        .message("spec.database.minCapacityAcu must be <= spec.database.maxCapacityAcu")
        .field_path(".minCapacityAcu"),
    validation = Rule::new("!has(self.parameters) || !self.parameters.exists(p, p.name == 'max_allowed_packet')")
        .message("spec.database.parameters must not set max_allowed_packet: use spec.database.maxAllowedPacket")
        .field_path(".parameters"),
    validation = Rule::new(format!(
        "!has(self.preferredMaintenanceWindow) || !has(self.preferredBackupWindow) || !self.preferredMaintenanceWindow.matches('{MAINTENANCE_WINDOW_RE}') || !self.preferredBackupWindow.matches('{BACKUP_WINDOW_RE}') || !({})",
        backup_overlaps_maintenance()
    ))
        .message("spec.database.preferredBackupWindow must not overlap spec.database.preferredMaintenanceWindow")
        .field_path(".preferredBackupWindow")
)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSpec {
    /// Aurora MySQL 3 engine version. Default `8.0.mysql_aurora.3.10.3` (seed:
    /// `db.engineVersion`). When restoring, it must be at least the snapshot's version.
    #[serde(default = "default_engine_version")]
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^8\.0\.mysql_aurora\.[0-9]+\.[0-9]+\.[0-9]+$")
    )]
    pub engine_version: String,

    /// Lowest capacity in Aurora capacity units, in steps of 0.5. 0 lets the cluster
    /// pause when idle (needs engine 3.08 or later, and `spec.cron.intervalMinutes: 0`
    /// to ever happen). Default 0.5 (seed: `db.scaling.minCapacityAcu`).
    // CEL rather than `multipleOf: 0.5`: the API server checks a whole number (`2`)
    // against the factor truncated to an integer (0) and refuses the CRD.
    #[serde(default = "default_min_acu")]
    #[x_kube(validation = Rule::new("double(int(double(self) * 2.0)) == double(self) * 2.0").message("spec.database.minCapacityAcu must be a multiple of 0.5"))]
    #[schemars(range(min = 0.0, max = 256.0))]
    pub min_capacity_acu: f64,

    /// Highest capacity in Aurora capacity units, in steps of 0.5. Default 2
    /// (seed: `db.scaling.maxCapacityAcu`).
    #[serde(default = "default_max_acu")]
    #[x_kube(validation = Rule::new("double(int(double(self) * 2.0)) == double(self) * 2.0").message("spec.database.maxCapacityAcu must be a multiple of 0.5"))]
    #[schemars(range(min = 1.0, max = 256.0))]
    pub max_capacity_acu: f64,

    /// Reader instances besides the writer (0..15); REDCap sends reads to them.
    /// Default 1 (seed: `db.dbReaders`).
    #[serde(default = "default_readers")]
    #[schemars(range(min = 0, max = 15))]
    pub readers: u32,

    /// MySQL `max_allowed_packet` in bytes (multiple of 1024). Default 4194304 (4 MiB,
    /// the seed's default; its samples use 1073741824 for large uploads).
    #[serde(default = "default_max_allowed_packet")]
    #[schemars(range(min = 1024, max = 1073741824), extend("multipleOf" = 1024))]
    pub max_allowed_packet: u64,

    /// Further cluster parameter-group settings, e.g. `sort_buffer_size` (seed: ptp.md
    /// advice). Some need a reboot to apply. At most 64.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub parameters: Vec<DbParameter>,

    /// Weekly maintenance window in UTC, `ddd:HH:mm-ddd:HH:mm` (e.g. `Sun:23:45-Mon:00:15`),
    /// at least 30 minutes. Absent: AWS picks one (seed: `db.preferredMaintenanceWindow`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(
        validation = Rule::new(format!("self.matches('{MAINTENANCE_WINDOW_RE}')"))
            .message("spec.database.preferredMaintenanceWindow must look like ddd:HH:mm-ddd:HH:mm, e.g. Sun:23:45-Mon:00:15"),
        validation = Rule::new(format!("!self.matches('{MAINTENANCE_WINDOW_RE}') || (('montuewedthufrisatsun'.indexOf(self.substring(10, 13).lowerAscii()) / 3 * 1440 + int(self.substring(14, 16)) * 60 + int(self.substring(17, 19))) - ('montuewedthufrisatsun'.indexOf(self.substring(0, 3).lowerAscii()) / 3 * 1440 + int(self.substring(4, 6)) * 60 + int(self.substring(7, 9))) + 10080) % 10080 >= 30"))
            .message("spec.database.preferredMaintenanceWindow must be at least 30 minutes long")
    )]
    #[schemars(length(min = 19, max = 19))]
    pub preferred_maintenance_window: Option<String>,

    /// Daily backup window in UTC, `HH:mm-HH:mm`, at least 30 minutes; it must not overlap
    /// the maintenance window. Absent: AWS picks one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(
        validation = Rule::new(format!("!self.matches('{BACKUP_WINDOW_RE}') || ((int(self.substring(6, 8)) * 60 + int(self.substring(9, 11))) - (int(self.substring(0, 2)) * 60 + int(self.substring(3, 5))) + 1440) % 1440 >= 30"))
            .message("spec.database.preferredBackupWindow must be at least 30 minutes long")
    )]
    #[schemars(
        length(min = 11, max = 11),
        regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$")
    )]
    pub preferred_backup_window: Option<String>,

    /// Hours of Aurora backtrack (rewind in place), 0 disables. Default 24 (seed's fixed
    /// value). Only settable when the cluster is created.
    #[serde(default = "default_backtrack_hours")]
    #[schemars(range(min = 0, max = 72))]
    pub backtrack_window_hours: u32,

    /// Days of automated backups (point-in-time restore). Default 30 (seed's fixed value).
    #[serde(default = "default_backup_retention")]
    #[schemars(range(min = 1, max = 35))]
    pub backup_retention_days: u32,

    /// Days between rotations of the master password in Secrets Manager. Default 120
    /// (seed's fixed value).
    #[serde(default = "default_rotation_days")]
    #[schemars(range(min = 1, max = 1000))]
    pub master_secret_rotation_days: u32,

    /// REDCap connects with short-lived IAM tokens instead of a password. Default true
    /// (seed: always on).
    #[serde(default = "super::default_true")]
    pub iam_authentication: bool,

    /// Database logs exported to CloudWatch. Default all four (seed's fixed set).
    #[serde(default = "default_log_exports")]
    #[schemars(schema_with = "log_exports_schema")]
    pub log_exports: Vec<LogExport>,

    /// Create the cluster from a snapshot or a point in time instead of empty
    /// (seed: `db.dbSnapshotId`). Setting or changing it builds a new cluster next to the
    /// old one; REDCap switches to it once it is available, and the old one is kept
    /// (listed in `status.database.retiredClusters`). Removing it changes nothing. With a
    /// REDCap version change in the same edit, the restore goes first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_from: Option<RestoreFrom>,
}

impl Default for DatabaseSpec {
    fn default() -> Self {
        Self {
            engine_version: default_engine_version(),
            min_capacity_acu: default_min_acu(),
            max_capacity_acu: default_max_acu(),
            readers: default_readers(),
            max_allowed_packet: default_max_allowed_packet(),
            parameters: Vec::new(),
            preferred_maintenance_window: None,
            preferred_backup_window: None,
            backtrack_window_hours: default_backtrack_hours(),
            backup_retention_days: default_backup_retention(),
            master_secret_rotation_days: default_rotation_days(),
            iam_authentication: true,
            log_exports: default_log_exports(),
            restore_from: None,
        }
    }
}

fn default_engine_version() -> String {
    "8.0.mysql_aurora.3.10.3".to_owned()
}
fn default_min_acu() -> f64 {
    0.5
}
fn default_max_acu() -> f64 {
    2.0
}
fn default_readers() -> u32 {
    1
}
fn default_max_allowed_packet() -> u64 {
    4_194_304
}
fn default_backtrack_hours() -> u32 {
    24
}
fn default_backup_retention() -> u32 {
    30
}
fn default_rotation_days() -> u32 {
    120
}
fn default_log_exports() -> Vec<LogExport> {
    vec![LogExport::Error, LogExport::General, LogExport::Slowquery, LogExport::Audit]
}

fn log_exports_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    crate::api::schema::enum_set::<LogExport>(generator, 4)
}

/// One Aurora MySQL log type.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogExport {
    /// Error log.
    Error,
    /// General query log (needs `general_log` in `parameters` to have content).
    General,
    /// Slow query log.
    Slowquery,
    /// Audit log (needs `server_audit_logging` in `parameters` to have content).
    Audit,
}

/// One cluster parameter-group setting.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub struct DbParameter {
    /// Parameter name, e.g. `sort_buffer_size`.
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[a-z_][a-z0-9_.]*$"))]
    pub name: String,
    /// Value, as AWS expects it (a string).
    #[schemars(length(max = 1024))]
    pub value: String,
}

/// Where a restored cluster's data comes from. Exactly one member is set.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("has(self.snapshotIdentifier) != has(self.pointInTime)")
        .message("spec.database.restoreFrom must set exactly one of snapshotIdentifier or pointInTime")
)]
#[serde(rename_all = "camelCase")]
pub struct RestoreFrom {
    /// Cluster snapshot name or ARN (an ARN for snapshots shared from another account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^[A-Za-z][A-Za-z0-9:/_-]*$"))]
    pub snapshot_identifier: Option<String>,

    /// Point-in-time restore from an existing cluster's automated backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point_in_time: Option<PointInTime>,
}

/// A point-in-time restore source.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("has(self.restoreTime) != (has(self.useLatestRestorableTime) && self.useLatestRestorableTime)")
        .message("spec.database.restoreFrom.pointInTime must set exactly one of restoreTime or useLatestRestorableTime: true")
)]
#[serde(rename_all = "camelCase")]
pub struct PointInTime {
    /// Identifier (or ARN) of the source cluster.
    #[schemars(length(min = 1, max = 1024), regex(pattern = r"^[A-Za-z][A-Za-z0-9:/_-]*$"))]
    pub source_cluster_identifier: String,

    /// Time to restore to (RFC 3339), within the source's backup retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_time: Option<Time>,

    /// Restore to the latest restorable time instead of `restoreTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_latest_restorable_time: Option<bool>,
}
