//! The database with the operator as a process against the real kube-apiserver and the
//! emulator: an operator killed while its Aurora cluster is still `creating` is replaced
//! by one that adopts the cluster (exactly one cluster, no second create), the
//! environment becomes Ready with the database's endpoint, and deleting it under the
//! default `Snapshot` policy leaves a final snapshot, named in status and in an Event.
//!
//! The cluster's creation time is an emulator duration narrowed to this cluster's name,
//! so other tests against the same emulator are not slowed down.

use redcap_operator::aws::sdk::*;
use std::time::Duration;

use anyhow::Context;
use redcap_e2e::emulator::EmulatorControl;
use redcap_e2e::manifests::EnvironmentManifest;
use redcap_e2e::probe::{self, clusters_owned_by as owned_clusters};
use redcap_e2e::{Operator, OperatorOptions, TestEnv, sum_metric};
use redcap_operator::plan::database::names::{base_cluster_id, final_snapshot_id};
use redcap_operator::plan::naming::environment_id;

const NAME: &str = "adopt";
/// Seconds the cluster stays `creating`.
const CREATING: u64 = 10;

/// One reader-less database, under the default deletion policy (`Snapshot`).
fn manifest() -> String {
    EnvironmentManifest::new(NAME)
        .from_address(&format!("redcap-db-{NAME}@example.org"))
        .default_deletion_policy()
        .spec("  database:\n    readers: 0")
        .yaml()
}

#[tokio::test]
async fn a_restarted_operator_adopts_a_cluster_being_created() -> anyhow::Result<()> {
    let (env, ns, mut op) = TestEnv::with_scoped_operator("database", "database-1").await?;
    let rds = aws_sdk_rds::Client::new(&env.aws);

    env.apply_yaml(&ns, &manifest()).await?;
    let uid = env.environments(&ns).get(NAME).await?.metadata.uid.context("uid")?;
    let cluster = base_cluster_id(&environment_id(&ns, NAME, &uid));
    let _reset = EmulatorControl::from_env()
        .set_duration(&format!("rds.cluster.create:{cluster}"), CREATING)?;

    // The first operator creates the cluster and dies while it is `creating`.
    env.wait_env(&ns, NAME, Duration::from_secs(60), "the cluster creating", |e| {
        e.status
            .as_ref()
            .and_then(|s| s.database.as_ref())
            .and_then(|d| d.cluster_status.as_deref())
            == Some("creating")
    })
    .await?;
    op.kill().await?;

    // Its successor finds it by name and tags, and never creates another.
    let op = Operator::start(&env, "database-2", OperatorOptions::scoped(&ns)).await?;
    let ready = env.wait_ready(&ns, NAME, Duration::from_secs(120)).await?;
    let creates = sum_metric(
        &op.metrics().await?,
        "redcap_operator_aws_calls_total",
        "operation=\"CreateDBCluster\"",
    );
    assert_eq!(creates, 0.0, "the restarted operator created a cluster");
    assert_eq!(owned_clusters(&rds, &uid).await, std::slice::from_ref(&cluster));
    let status = ready.status.as_ref().context("status")?;
    assert!(status.outputs.database_endpoint.is_some(), "{status:?}");
    assert_eq!(
        status.database.as_ref().and_then(|d| d.cluster_identifier.as_deref()),
        Some(cluster.as_str())
    );

    // Deletion under the default policy: a final snapshot, in status and in an Event.
    env.delete_env(&ns, NAME).await?;
    env.wait_gone(&ns, NAME, Duration::from_secs(120)).await?;
    let snapshot = final_snapshot_id(&cluster);
    let found = rds
        .describe_db_cluster_snapshots()
        .db_cluster_snapshot_identifier(&snapshot)
        .send()
        .await
        .with_context(|| format!("final snapshot {snapshot}"))?;
    assert_eq!(found.db_cluster_snapshots().len(), 1);
    assert!(owned_clusters(&rds, &uid).await.is_empty());
    let notes = async || -> anyhow::Result<Vec<String>> {
        Ok(env
            .events(&ns)
            .await?
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some("FinalSnapshotTaken"))
            .filter_map(|e| e.note)
            .collect())
    };
    let named =
        probe::eventually("a FinalSnapshotTaken event", Duration::from_secs(15), async || {
            Ok(notes().await?.iter().any(|n| n.contains(&snapshot)))
        })
        .await;
    anyhow::ensure!(
        named.is_ok(),
        "no FinalSnapshotTaken event naming {snapshot}: {:?}",
        notes().await?
    );
    Ok(())
}
