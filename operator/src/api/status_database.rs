//! `status.database`: what the operator observed of the Aurora cluster (api step: types
//! only, no I/O).
//!
//! Identifiers, versions, states and times only: the master password lives in Secrets
//! Manager and only its ARN appears here.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The database as the operator last saw it.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseStatus {
    /// Identifier of the cluster REDCap uses (the environment's outputs point at it).
    pub cluster_identifier: Option<String>,
    /// Cluster state as RDS reports it (`creating`, `available`, `modifying`, ...).
    pub cluster_status: Option<String>,
    /// Engine version the cluster runs. It may be newer than `spec.database.engineVersion`
    /// after an automatic minor upgrade by AWS; the operator never downgrades.
    pub engine_version: Option<String>,
    /// Reader instances that exist (besides the writer).
    pub readers: Option<u32>,
    /// Latest time the cluster can be restored to (point-in-time recovery), refreshed when
    /// it moved by an hour or more (AWS moves it every few minutes; following each move
    /// would rewrite the status on every resync).
    pub latest_restorable_time: Option<Time>,
    /// The master user's secret, managed by RDS in Secrets Manager (never its value).
    pub master_user_secret: Option<MasterUserSecretStatus>,
    /// Instances whose cluster parameter group changes wait for a reboot (static
    /// parameters); the operator does not reboot on its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_reboot: Vec<String>,
    /// What the cluster in use was restored from, when it was (`snapshot <id>` or
    /// `<cluster> at <time>`).
    pub restored_from: Option<String>,
    /// A restore in progress (`spec.database.restoreFrom` not cut over yet).
    pub restore: Option<RestoreStatus>,
    /// The last on-demand snapshot (annotation `redcap.dev/snapshot-requested-at`).
    pub last_snapshot: Option<SnapshotStatus>,
    /// Final snapshots taken while deleting clusters (environment deletion under the
    /// `Snapshot` policy, or retired clusters removed by annotation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub final_snapshots: Vec<String>,
    /// Clusters that served this environment before a restore (or restores that were
    /// abandoned). Kept, deletion-protected, until named in the annotation
    /// `redcap.dev/delete-retired-clusters`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_clusters: Vec<RetiredCluster>,
}

/// The RDS-managed master user secret.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MasterUserSecretStatus {
    /// ARN of the secret (`rds!cluster-...`).
    pub arn: String,
    /// State RDS reports (`creating`, `active`, `rotating`, `impaired`).
    pub status: Option<String>,
    /// Whether Secrets Manager rotates the password on a schedule.
    pub rotation_enabled: Option<bool>,
    /// Days between rotations, as Secrets Manager reports them.
    pub rotation_days: Option<u32>,
    /// When Secrets Manager rotates next.
    pub next_rotation: Option<Time>,
}

/// A restore that has not been cut over yet.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreStatus {
    /// The source, as in the spec (`snapshot <id>` or `<cluster> at <time>`).
    pub source: String,
    /// The new cluster being built from it.
    pub cluster_identifier: String,
    /// What the restore waits for.
    pub message: Option<String>,
}

/// An on-demand snapshot.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotStatus {
    /// Snapshot identifier (derived from the annotation's value).
    pub identifier: String,
    /// The annotation value it answers.
    pub requested_at: String,
    /// `creating` or `available`.
    pub status: Option<String>,
    /// When AWS created it.
    pub created_at: Option<Time>,
}

/// A cluster that no longer serves the environment.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetiredCluster {
    /// Cluster identifier.
    pub identifier: String,
    /// Cluster state as RDS reports it.
    pub status: Option<String>,
    /// When it stopped serving (the cut-over), absent for an abandoned restore.
    pub retired_at: Option<String>,
    /// The snapshot taken of it just before the restore that replaced it.
    pub snapshot_identifier: Option<String>,
}
