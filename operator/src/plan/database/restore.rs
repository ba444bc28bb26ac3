//! Which cluster serves the environment, and the steps of a restore (step: plan; pure).
//!
//! Roles come from tags on the clusters, so they survive a lost status: the *active*
//! cluster is the newest one tagged `redcap.dev/active-since` without
//! `redcap.dev/retired-at`. A restore (`spec.database.restoreFrom`) builds a new cluster
//! named after its source, converges it like any cluster (instances, managed master
//! password, settings), and once it and its writer are available the cut-over is one tag
//! write on the new cluster (`active-since`); the old one is then tagged `retired-at`.
//! Before the restore starts, the old cluster gets a snapshot. Retired clusters are kept,
//! deletion-protected, until the user names them in `redcap.dev/delete-retired-clusters`.
//! Removing `restoreFrom` from the spec changes nothing: the active cluster stays.

use jiff::Timestamp;

use crate::api::RestoreFrom;
use crate::plan::PlanError;

use super::cluster::ObservedCluster;
use super::names::restored_cluster_id;

/// Where a restore's data comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreSource {
    Snapshot(String),
    PointInTime {
        cluster: String,
        /// `None`: the latest restorable time.
        time: Option<Timestamp>,
    },
}

impl RestoreSource {
    pub fn from_spec(spec: &RestoreFrom) -> Result<Self, PlanError> {
        let invalid = |message: &str| PlanError::InvalidSpec {
            field: "spec.database.restoreFrom",
            message: message.to_string(),
        };
        match (&spec.snapshot_identifier, &spec.point_in_time) {
            (Some(s), None) => Ok(Self::Snapshot(s.trim().to_string())),
            (None, Some(p)) => {
                let latest = p.use_latest_restorable_time == Some(true);
                match (&p.restore_time, latest) {
                    (Some(t), false) => Ok(Self::PointInTime {
                        cluster: p.source_cluster_identifier.trim().to_string(),
                        time: Some(t.0),
                    }),
                    (None, true) => Ok(Self::PointInTime {
                        cluster: p.source_cluster_identifier.trim().to_string(),
                        time: None,
                    }),
                    _ => Err(invalid(
                        "pointInTime must set exactly one of restoreTime or useLatestRestorableTime: true",
                    )),
                }
            }
            _ => Err(invalid("set exactly one of snapshotIdentifier or pointInTime")),
        }
    }

    /// Canonical form; its hash names the restored cluster.
    pub fn key(&self) -> String {
        match self {
            Self::Snapshot(id) => format!("snapshot:{id}"),
            Self::PointInTime { cluster, time } => match time {
                Some(t) => format!("pitr:{cluster}@{}", second(*t)),
                None => format!("pitr:{cluster}@latest"),
            },
        }
    }

    /// For messages, status and the `restored-from` tag (tag-safe characters only).
    pub fn describe(&self) -> String {
        match self {
            Self::Snapshot(id) => format!("snapshot {id}"),
            Self::PointInTime { cluster, time: Some(t) } => format!("{cluster} at {}", second(*t)),
            Self::PointInTime { cluster, time: None } => {
                format!("{cluster} at its latest restorable time")
            }
        }
    }
}

fn second(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// A restore the spec asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreTarget {
    pub source: RestoreSource,
    /// The cluster it builds.
    pub cluster_id: String,
}

impl RestoreTarget {
    pub fn new(environment_id: &str, source: RestoreSource) -> Self {
        let cluster_id = restored_cluster_id(environment_id, &source.key());
        Self { source, cluster_id }
    }
}

/// The environment's clusters by role.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterRoles<'a> {
    /// The cluster REDCap uses.
    pub active: Option<&'a ObservedCluster>,
    /// The cluster the pending restore builds (absent once it is active).
    pub restoring: Option<&'a ObservedCluster>,
    /// Every other cluster of the environment (served before, abandoned restores).
    pub retired: Vec<&'a ObservedCluster>,
    /// Clusters still tagged active besides the active one (a cut-over interrupted
    /// between its two tag writes): tag them retired.
    pub to_retire: Vec<&'a ObservedCluster>,
}

/// Sorts the environment's clusters (`owned`: already filtered by the UID tag) into roles.
pub fn roles<'a>(
    owned: &'a [ObservedCluster],
    restore_target: Option<&str>,
) -> Result<ClusterRoles<'a>, PlanError> {
    let mut actives: Vec<&ObservedCluster> = owned
        .iter()
        .filter(|c| c.active_since().is_some() && c.retired_at().is_none())
        .filter(|c| c.status != "deleting")
        .collect();
    // RFC 3339 UTC with whole seconds sorts as text; creation time breaks ties.
    actives.sort_by_key(|c| (c.active_since().map(str::to_string), c.created));
    let active = actives.pop();
    let mut out = ClusterRoles { active, to_retire: actives, ..ClusterRoles::default() };
    if let Some(target) = restore_target
        && out.active.is_none_or(|a| a.id != target)
        && let Some(c) = owned.iter().find(|c| c.id == target)
    {
        if c.retired_at().is_some() {
            return Err(PlanError::InvalidSpec {
                field: "spec.database.restoreFrom",
                message: format!(
                    "cluster {target} was restored from this source before and has been retired since; delete it (annotation redcap.dev/delete-retired-clusters) before restoring from the same source again"
                ),
            });
        }
        out.restoring = Some(c);
    }
    let taken = |c: &ObservedCluster| {
        out.active.is_some_and(|a| a.id == c.id) || out.restoring.is_some_and(|r| r.id == c.id)
    };
    out.retired = owned.iter().filter(|c| !taken(c)).collect();
    Ok(out)
}

/// The next step of a pending restore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreStep {
    /// Create the cluster from the source (after snapshotting the active one, if any).
    Create { snapshot_active: bool },
    /// The new cluster is not ready; converge it and look again.
    Wait(String),
    /// The new cluster and its writer are available and match the spec: switch to it.
    CutOver,
}

/// Decides the restore step. `writer_available`: the restored cluster has an available
/// writer; `in_sync`: its settings match the spec (managed master password included);
/// `pre_snapshot_exists`: the active cluster's pre-restore snapshot exists.
pub fn restore_step(
    active: Option<&ObservedCluster>,
    target: Option<&ObservedCluster>,
    writer_available: bool,
    in_sync: bool,
    pre_snapshot_exists: bool,
) -> RestoreStep {
    let Some(target) = target else {
        return RestoreStep::Create { snapshot_active: active.is_some() && !pre_snapshot_exists };
    };
    if !target.available() {
        return RestoreStep::Wait(format!("cluster {} is {}", target.id, target.status));
    }
    if !writer_available {
        return RestoreStep::Wait(format!(
            "waiting for the writer instance of cluster {}",
            target.id
        ));
    }
    if !in_sync {
        return RestoreStep::Wait(format!(
            "bringing cluster {} to the spec (master password, settings)",
            target.id
        ));
    }
    RestoreStep::CutOver
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::PointInTime;
    use crate::plan::TagSet;
    use crate::plan::database::names::{ACTIVE_SINCE_TAG, RETIRED_AT_TAG};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn cluster(id: &str, tags: &[(&str, &str)], status: &str) -> ObservedCluster {
        ObservedCluster {
            id: id.into(),
            status: status.into(),
            tags: tags.iter().copied().collect::<TagSet>(),
            ..ObservedCluster::default()
        }
    }

    #[test]
    fn sources_have_stable_keys() {
        let snap = RestoreSource::from_spec(&RestoreFrom {
            snapshot_identifier: Some("s1".into()),
            point_in_time: None,
        })
        .expect("valid");
        assert_eq!(snap.key(), "snapshot:s1");
        assert_eq!(snap.describe(), "snapshot s1");
        let t: Timestamp = "2026-05-01T10:00:00.250Z".parse().expect("time");
        let pitr = RestoreSource::from_spec(&RestoreFrom {
            snapshot_identifier: None,
            point_in_time: Some(PointInTime {
                source_cluster_identifier: "c1".into(),
                restore_time: Some(Time(t)),
                use_latest_restorable_time: None,
            }),
        })
        .expect("valid");
        assert_eq!(pitr.key(), "pitr:c1@2026-05-01T10:00:00Z");
        let latest = RestoreSource::PointInTime { cluster: "c1".into(), time: None };
        assert_eq!(latest.key(), "pitr:c1@latest");
        assert_ne!(
            RestoreTarget::new("rc-x", snap.clone()).cluster_id,
            RestoreTarget::new("rc-x", latest).cluster_id
        );
        assert!(RestoreTarget::new("rc-x", snap).cluster_id.starts_with("rc-x-db-"));
        assert!(
            RestoreSource::from_spec(&RestoreFrom {
                snapshot_identifier: None,
                point_in_time: None
            })
            .is_err()
        );
    }

    #[test]
    fn the_newest_active_cluster_wins_and_the_rest_are_retired() {
        let clusters = [
            cluster(
                "c-db",
                &[
                    (ACTIVE_SINCE_TAG, "2026-01-01T00:00:00Z"),
                    (RETIRED_AT_TAG, "2026-02-01T00:00:00Z"),
                ],
                "available",
            ),
            cluster("c-db-aaaa", &[(ACTIVE_SINCE_TAG, "2026-02-01T00:00:00Z")], "available"),
            cluster("c-db-bbbb", &[], "available"),
        ];
        let r = roles(&clusters, None).expect("roles");
        assert_eq!(r.active.map(|c| c.id.as_str()), Some("c-db-aaaa"));
        assert_eq!(r.restoring, None);
        let retired: Vec<&str> = r.retired.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(retired, ["c-db", "c-db-bbbb"]);
        assert!(r.to_retire.is_empty());

        // Restoring into c-db-bbbb: it is the restore target, not retired.
        let r = roles(&clusters, Some("c-db-bbbb")).expect("roles");
        assert_eq!(r.restoring.map(|c| c.id.as_str()), Some("c-db-bbbb"));
        assert_eq!(r.retired.len(), 1);

        // The target is the active one: the restore is done.
        let r = roles(&clusters, Some("c-db-aaaa")).expect("roles");
        assert_eq!(r.restoring, None);

        // A retired cluster cannot be the target of a new restore.
        assert!(roles(&clusters, Some("c-db")).is_err());
    }

    #[test]
    fn an_interrupted_cut_over_is_completed() {
        let clusters = [
            cluster("old", &[(ACTIVE_SINCE_TAG, "2026-01-01T00:00:00Z")], "available"),
            cluster("new", &[(ACTIVE_SINCE_TAG, "2026-03-01T00:00:00Z")], "available"),
        ];
        let r = roles(&clusters, None).expect("roles");
        assert_eq!(r.active.map(|c| c.id.as_str()), Some("new"));
        assert_eq!(r.to_retire.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["old"]);
        assert_eq!(r.retired.len(), 1);
    }

    #[test]
    fn restore_sequence() {
        let active = cluster("old", &[(ACTIVE_SINCE_TAG, "t")], "available");
        // Snapshot the old cluster first, once.
        assert_eq!(
            restore_step(Some(&active), None, false, false, false),
            RestoreStep::Create { snapshot_active: true }
        );
        assert_eq!(
            restore_step(Some(&active), None, false, false, true),
            RestoreStep::Create { snapshot_active: false }
        );
        // A first restore (no cluster yet) has nothing to snapshot.
        assert_eq!(
            restore_step(None, None, false, false, false),
            RestoreStep::Create { snapshot_active: false }
        );
        let creating = cluster("new", &[], "creating");
        assert!(
            matches!(restore_step(Some(&active), Some(&creating), false, false, true), RestoreStep::Wait(m) if m.contains("creating"))
        );
        let ready = cluster("new", &[], "available");
        assert!(
            matches!(restore_step(Some(&active), Some(&ready), false, true, true), RestoreStep::Wait(m) if m.contains("writer"))
        );
        assert!(
            matches!(restore_step(Some(&active), Some(&ready), true, false, true), RestoreStep::Wait(m) if m.contains("master password"))
        );
        assert_eq!(
            restore_step(Some(&active), Some(&ready), true, true, true),
            RestoreStep::CutOver
        );
    }
}
