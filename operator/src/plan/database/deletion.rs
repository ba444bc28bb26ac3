//! Deleting a cluster (step: plan; pure): the environment's deletion under
//! `deletionPolicy`, and retired clusters named in `redcap.dev/delete-retired-clusters`.
//!
//! Deletion protection is lifted only here, as the first step of an intended deletion.
//! Instances go before the cluster (RDS refuses to delete a cluster with members). The
//! final snapshot, when one is due, is taken by `DeleteDBCluster` itself under a
//! deterministic name, so a retried deletion never takes two.

use super::cluster::ObservedCluster;
use super::instances::ObservedInstance;
use super::names::final_snapshot_id;

/// The next step of deleting one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteStep {
    /// Nothing is left.
    Gone,
    /// RDS is busy with the cluster or its instances.
    Wait(String),
    /// Turn deletion protection off (the deletion is intended).
    LiftProtection,
    /// Delete these instances first.
    DeleteInstances(Vec<String>),
    /// Delete the cluster, with this final snapshot (or none).
    DeleteCluster { final_snapshot: Option<String> },
}

/// Decides the next step. `final_snapshot`: whether a final snapshot is due.
pub fn delete_step(
    cluster: Option<&ObservedCluster>,
    instances: &[ObservedInstance],
    final_snapshot: bool,
) -> DeleteStep {
    let Some(c) = cluster else {
        return DeleteStep::Gone;
    };
    if c.status == "deleting" {
        return DeleteStep::Wait(format!("cluster {} is being deleted", c.id));
    }
    if c.busy() {
        return DeleteStep::Wait(format!("cluster {} is {}", c.id, c.status));
    }
    if c.deletion_protection {
        return DeleteStep::LiftProtection;
    }
    let live: Vec<String> =
        instances.iter().filter(|i| !i.deleting()).map(|i| i.id.clone()).collect();
    if !live.is_empty() {
        return DeleteStep::DeleteInstances(live);
    }
    if instances.iter().any(ObservedInstance::deleting) {
        return DeleteStep::Wait(format!(
            "waiting for the instances of cluster {} to be deleted",
            c.id
        ));
    }
    DeleteStep::DeleteCluster { final_snapshot: final_snapshot.then(|| final_snapshot_id(&c.id)) }
}

/// The retired clusters the annotation names (comma- or space-separated identifiers),
/// and the names that match no retired cluster (reported, never acted on).
pub fn named_for_deletion<'a>(
    annotation: Option<&str>,
    retired: &[&'a ObservedCluster],
) -> (Vec<&'a ObservedCluster>, Vec<String>) {
    let names: Vec<String> = annotation
        .unwrap_or_default()
        .split([',', ' ', '\n'])
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let chosen = retired.iter().copied().filter(|c| names.contains(&c.id)).collect();
    let unknown = names.into_iter().filter(|n| !retired.iter().any(|c| &c.id == n)).collect();
    (chosen, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(status: &str, protected: bool) -> ObservedCluster {
        ObservedCluster {
            id: "c".into(),
            status: status.into(),
            deletion_protection: protected,
            ..ObservedCluster::default()
        }
    }

    fn inst(id: &str, status: &str) -> ObservedInstance {
        ObservedInstance {
            id: id.into(),
            status: status.into(),
            writer: false,
            promotion_tier: None,
            parameters_pending_reboot: false,
        }
    }

    #[test]
    fn deletion_sequence() {
        assert_eq!(delete_step(None, &[], true), DeleteStep::Gone);
        assert!(matches!(
            delete_step(Some(&cluster("modifying", true)), &[], true),
            DeleteStep::Wait(_)
        ));
        // Protection is lifted before anything is deleted.
        let instances = [inst("c-0", "available"), inst("c-1", "deleting")];
        assert_eq!(
            delete_step(Some(&cluster("available", true)), &instances, true),
            DeleteStep::LiftProtection
        );
        assert_eq!(
            delete_step(Some(&cluster("available", false)), &instances, true),
            DeleteStep::DeleteInstances(vec!["c-0".into()])
        );
        assert!(matches!(
            delete_step(Some(&cluster("available", false)), &[inst("c-1", "deleting")], true),
            DeleteStep::Wait(m) if m.contains("instances")
        ));
        assert_eq!(
            delete_step(Some(&cluster("available", false)), &[], true),
            DeleteStep::DeleteCluster { final_snapshot: Some("c-final".into()) }
        );
        assert_eq!(
            delete_step(Some(&cluster("stopped", false)), &[], false),
            DeleteStep::DeleteCluster { final_snapshot: None }
        );
        assert!(matches!(
            delete_step(Some(&cluster("deleting", false)), &[], true),
            DeleteStep::Wait(_)
        ));
    }

    #[test]
    fn only_retired_clusters_named_in_the_annotation_are_chosen() {
        let a = ObservedCluster { id: "rc-x-db".into(), ..ObservedCluster::default() };
        let b = ObservedCluster { id: "rc-x-db-1234abcd".into(), ..ObservedCluster::default() };
        let retired = [&a, &b];
        let (chosen, unknown) = named_for_deletion(Some("RC-X-DB, rc-x-db-active"), &retired);
        assert_eq!(chosen.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["rc-x-db"]);
        assert_eq!(unknown, ["rc-x-db-active"]);
        assert!(named_for_deletion(None, &retired).0.is_empty());
    }
}
