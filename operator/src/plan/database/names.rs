//! Deterministic names of the database's AWS resources and the tags that carry its
//! state (step: plan; pure).
//!
//! Everything derives from the environment id (namespace, name, UID), so a crash between
//! a create and the status write finds the same resource again. Clusters restored from a
//! source get `<environment id>-db-<8 hex of the source>`: the same restore request
//! always means the same cluster.

use sha2::{Digest, Sha256};

/// Tag with the time (RFC 3339, seconds) a cluster became the one REDCap uses. The newest
/// one without [`RETIRED_AT_TAG`] is the active cluster; the cut-over of a restore is this
/// one tag write.
pub const ACTIVE_SINCE_TAG: &str = "redcap.dev/active-since";
/// Tag with the time a cluster stopped serving the environment (after a restore).
pub const RETIRED_AT_TAG: &str = "redcap.dev/retired-at";
/// Tag with the hash of the restore source a cluster was built from.
pub const RESTORE_SOURCE_TAG: &str = "redcap.dev/restore-source";
/// Tag with a readable form of that source (`snapshot <id>`).
pub const RESTORED_FROM_TAG: &str = "redcap.dev/restored-from";
/// Tag with the engine version the operator last asked for on the cluster: a spec below
/// it (and below what runs) is a downgrade request; a cluster above it was upgraded by AWS.
pub const ENGINE_VERSION_TAG: &str = "redcap.dev/engine-version";
/// Tag on snapshots the operator takes: `on-demand`, `pre-restore` or `final`.
pub const SNAPSHOT_KIND_TAG: &str = "redcap.dev/snapshot-kind";
/// Tag the operator puts on every snapshot it takes, with the snapshot's own identifier.
/// Clusters copy their tags (the ownership tags included) to every snapshot, manual ones
/// too, so ownership tags do not prove the operator took a snapshot; this one does: a
/// copied tag cannot name a snapshot that did not exist when the cluster was tagged.
pub const SNAPSHOT_ID_TAG: &str = "redcap.dev/snapshot-id";

/// Whether the operator took this snapshot of the environment `environment_id` (the
/// only snapshots `deletionPolicy: Delete` removes). `tags` must already be the
/// environment's (UID tag). Snapshots taken before [`SNAPSHOT_ID_TAG`] existed are
/// recognised by the operator's own names: an on-demand or pre-restore snapshot
/// carries [`SNAPSHOT_KIND_TAG`] and a name under the environment's id; a final snapshot
/// is `<cluster of the environment>-final`, named in the `DeleteDBCluster` call.
pub fn taken_by_operator(
    environment_id: &str,
    snapshot_id: &str,
    tags: &crate::plan::TagSet,
) -> bool {
    if tags.get(SNAPSHOT_ID_TAG) == Some(snapshot_id) {
        return true;
    }
    let Some(rest) = snapshot_id.strip_prefix(environment_id).and_then(|r| r.strip_prefix('-'))
    else {
        return false;
    };
    let legacy_kind = tags.get(SNAPSHOT_KIND_TAG).is_some()
        && (rest.starts_with("snap-") || (rest.starts_with("db") && rest.contains("-pre-")));
    let final_of_cluster = rest.starts_with("db") && rest.ends_with("-final");
    legacy_kind || final_of_cluster
}

fn short_hash(input: &str, hex_len: usize) -> String {
    let digest = Sha256::digest(input.as_bytes());
    hex::encode(digest)[..hex_len].to_string()
}

/// The environment's first cluster (and its subnet and parameter groups): `<id>-db`.
pub fn base_cluster_id(environment_id: &str) -> String {
    format!("{environment_id}-db")
}

/// A cluster restored from the source with key `source_key`: `<id>-db-<8 hex>`.
pub fn restored_cluster_id(environment_id: &str, source_key: &str) -> String {
    format!("{}-{}", base_cluster_id(environment_id), source_hash(source_key))
}

/// The 8 hex digits that name a restore source.
pub fn source_hash(source_key: &str) -> String {
    short_hash(source_key, 8)
}

/// The DB subnet group: `<id>-db`.
pub fn subnet_group_name(environment_id: &str) -> String {
    base_cluster_id(environment_id)
}

/// The cluster parameter group: `<id>-db`.
pub fn parameter_group_name(environment_id: &str) -> String {
    base_cluster_id(environment_id)
}

/// Instance `n` of a cluster: `<cluster>-<n>`; 0 is the first writer.
pub fn instance_id(cluster_id: &str, n: u32) -> String {
    format!("{cluster_id}-{n}")
}

/// The number of an instance named by [`instance_id`] for this cluster.
pub fn instance_index(cluster_id: &str, instance_id: &str) -> Option<u32> {
    let rest = instance_id.strip_prefix(cluster_id)?.strip_prefix('-')?;
    if rest.is_empty() || rest.len() > 2 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

/// The on-demand snapshot for one value of the annotation: `<id>-snap-<10 hex>`.
pub fn on_demand_snapshot_id(environment_id: &str, requested_at: &str) -> String {
    format!("{environment_id}-snap-{}", short_hash(requested_at.trim(), 10))
}

/// The snapshot of the active cluster taken before a restore replaces it.
pub fn pre_restore_snapshot_id(cluster_id: &str, source_key: &str) -> String {
    format!("{cluster_id}-pre-{}", source_hash(source_key))
}

/// The final snapshot of a cluster deleted under the `Snapshot` policy (or removed from
/// the retired list).
pub fn final_snapshot_id(cluster_id: &str) -> String {
    format!("{cluster_id}-final")
}

/// Prefix of the CloudWatch log groups RDS writes a cluster's exported logs to.
pub fn log_group_prefix(cluster_id: &str) -> String {
    format!("/aws/rds/cluster/{cluster_id}/")
}

/// Checks the rules of RDS cluster and instance identifiers: 1-63 letters, digits and
/// hyphens, a letter first, no hyphen at the end or twice in a row.
pub fn valid_identifier(id: &str) -> bool {
    id.len() <= 63 && valid_snapshot_identifier(id)
}

/// The same rules with the 255 characters snapshot identifiers may have.
pub fn valid_snapshot_identifier(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 255
        && id.as_bytes()[0].is_ascii_alphabetic()
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !id.ends_with('-')
        && !id.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::naming::{ENVIRONMENT_ID_MAX, environment_id};

    #[test]
    fn only_snapshots_the_operator_took_count_as_its_own() {
        use crate::plan::TagSet;
        let env = "prod-redcap-1a2b3c4d";
        let copied: TagSet = [("redcap.dev/uid", "u")].into_iter().collect();
        let mut marked = copied.clone();
        marked.insert(SNAPSHOT_ID_TAG, "anything-the-operator-named");
        assert!(taken_by_operator(env, "anything-the-operator-named", &marked));
        // A manual snapshot of the cluster: the cluster's tags, a person's name.
        assert!(!taken_by_operator(env, "before-upgrade-by-alice", &copied));
        assert!(!taken_by_operator(env, &format!("{env}-by-alice"), &copied));
        // The marker copied from somewhere names another snapshot.
        assert!(!taken_by_operator(env, "before-upgrade-by-alice", &marked));
        // Snapshots of an older operator version.
        let mut kind = copied.clone();
        kind.insert(SNAPSHOT_KIND_TAG, "on-demand");
        assert!(taken_by_operator(env, &on_demand_snapshot_id(env, "2026-01-01"), &kind));
        assert!(!taken_by_operator(env, &on_demand_snapshot_id(env, "2026-01-01"), &copied));
        let base = base_cluster_id(env);
        assert!(taken_by_operator(env, &pre_restore_snapshot_id(&base, "snapshot:s"), &kind));
        assert!(taken_by_operator(env, &final_snapshot_id(&base), &copied));
        assert!(!taken_by_operator("other-env", &final_snapshot_id(&base), &copied));
    }

    #[test]
    fn names_are_deterministic_and_valid_rds_identifiers() {
        let env =
            environment_id("a-very-long-namespace-name-for-testing", "redcap-production", "uid-1");
        assert_eq!(env.len(), ENVIRONMENT_ID_MAX);
        let base = base_cluster_id(&env);
        let restored = restored_cluster_id(&env, "snapshot:s1");
        assert_eq!(restored, restored_cluster_id(&env, "snapshot:s1"));
        assert_ne!(restored, restored_cluster_id(&env, "snapshot:s2"));
        for id in [
            base.clone(),
            restored.clone(),
            instance_id(&restored, 15),
            subnet_group_name(&env),
            parameter_group_name(&env),
        ] {
            assert!(valid_identifier(&id), "{id}");
        }
        for snap in [
            on_demand_snapshot_id(&env, "2026-05-01T10:00:00Z"),
            pre_restore_snapshot_id(&restored, "snapshot:s1"),
            final_snapshot_id(&restored),
        ] {
            assert!(valid_snapshot_identifier(&snap), "{snap}");
        }
        assert_eq!(on_demand_snapshot_id(&env, "a"), on_demand_snapshot_id(&env, " a "));
        assert_ne!(on_demand_snapshot_id(&env, "a"), on_demand_snapshot_id(&env, "b"));
    }

    #[test]
    fn instance_numbers_belong_to_their_cluster() {
        assert_eq!(instance_index("rc-x-db", "rc-x-db-0"), Some(0));
        assert_eq!(instance_index("rc-x-db", "rc-x-db-15"), Some(15));
        assert_eq!(instance_index("rc-x-db", "rc-x-db-1a2b3c4d-0"), None);
        assert_eq!(instance_index("rc-x-db", "rc-x-db-"), None);
        assert_eq!(instance_index("rc-x-db", "manual-reader"), None);
    }

    #[test]
    fn identifier_rules() {
        for bad in ["", "1abc", "a--b", "a-", "a_b", &"a".repeat(64)] {
            assert!(!valid_identifier(bad), "{bad}");
        }
    }
}
