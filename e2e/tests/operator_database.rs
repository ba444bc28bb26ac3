//! The database with the operator as a process against the real kube-apiserver and the
//! emulator: an operator killed while its Aurora cluster is still `creating` is replaced
//! by one that adopts the cluster (exactly one cluster, no second create), the
//! environment becomes Ready with the database's endpoint, and deleting it under the
//! default `Snapshot` policy leaves a final snapshot, named in status and in an Event.
//!
//! The cluster's creation time is an emulator duration narrowed to this cluster's name,
//! so other tests against the same emulator are not slowed down.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::Context;
use redcap_e2e::{Operator, OperatorOptions, TestEnv, sum_metric};
use redcap_operator::plan::database::names::{base_cluster_id, final_snapshot_id};
use redcap_operator::plan::naming::environment_id;
use serde_json::{Value, json};

const NAME: &str = "adopt";
/// Seconds the cluster stays `creating`.
const CREATING: u64 = 10;

fn manifest() -> String {
    format!(
        r#"
apiVersion: redcap.dev/v1alpha1
kind: RedcapEnvironment
metadata:
  name: {NAME}
spec:
  aws:
    region: us-east-1
  redcap:
    version: "15.8.0"
    source:
      s3:
        bucket: redcap-releases
        key: redcap15.8.0.zip
  email:
    fromAddress: redcap-db-{NAME}@example.org
  database:
    readers: 0
"#
    )
}

/// One plain HTTP/1.1 request to the emulator's control API; returns the status code.
fn control(method: &str, path: &str, body: &Value) -> anyhow::Result<u16> {
    let url = std::env::var("AWS_ENDPOINT_URL").context("AWS_ENDPOINT_URL")?;
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let payload = body.to_string();
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    raw.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("status line")
}

/// Removes the per-name duration, also when the test fails.
struct DropDuration(String);

impl Drop for DropDuration {
    fn drop(&mut self) {
        let mut d = serde_json::Map::new();
        d.insert(self.0.clone(), Value::Null);
        let _ = control("POST", "/_emulator/config", &json!({"durations": d}));
    }
}

async fn owned_clusters(rds: &aws_sdk_rds::Client, uid: &str) -> anyhow::Result<Vec<String>> {
    let out = rds.describe_db_clusters().send().await?;
    Ok(out
        .db_clusters()
        .iter()
        .filter(|c| {
            c.tag_list()
                .iter()
                .any(|t| t.key() == Some("redcap.dev/uid") && t.value() == Some(uid))
        })
        .filter_map(|c| c.db_cluster_identifier().map(str::to_string))
        .collect())
}

#[tokio::test]
async fn a_restarted_operator_adopts_a_cluster_being_created() -> anyhow::Result<()> {
    let env = TestEnv::from_env().await?;
    let rds = aws_sdk_rds::Client::new(&env.aws);
    let ns = env.namespace("database").await?;
    let mut op = Operator::start(&env, "database-1", OperatorOptions::scoped(&ns)).await?;

    env.apply_yaml(&ns, &manifest()).await?;
    let uid = env
        .environments(&ns)
        .get(NAME)
        .await?
        .metadata
        .uid
        .context("uid")?;
    let cluster = base_cluster_id(&environment_id(&ns, NAME, &uid));
    let key = format!("rds.cluster.create:{cluster}");
    let mut d = serde_json::Map::new();
    d.insert(key.clone(), json!(CREATING));
    anyhow::ensure!(control("POST", "/_emulator/config", &json!({"durations": d}))? == 200);
    let _reset = DropDuration(key);

    // The first operator creates the cluster and dies while it is `creating`.
    env.wait_env(
        &ns,
        NAME,
        Duration::from_secs(60),
        "the cluster creating",
        |e| {
            e.status
                .as_ref()
                .and_then(|s| s.database.as_ref())
                .and_then(|d| d.cluster_status.as_deref())
                == Some("creating")
        },
    )
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
    assert_eq!(
        owned_clusters(&rds, &uid).await?,
        std::slice::from_ref(&cluster)
    );
    let status = ready.status.as_ref().context("status")?;
    assert!(status.outputs.database_endpoint.is_some(), "{status:?}");
    assert_eq!(
        status
            .database
            .as_ref()
            .and_then(|d| d.cluster_identifier.as_deref()),
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
    assert!(owned_clusters(&rds, &uid).await?.is_empty());
    let events: kube::Api<k8s_openapi::api::events::v1::Event> =
        kube::Api::namespaced(env.kube.clone(), &ns);
    let start = std::time::Instant::now();
    loop {
        let notes: Vec<String> = events
            .list(&Default::default())
            .await?
            .items
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some("FinalSnapshotTaken"))
            .filter_map(|e| e.note)
            .collect();
        if notes.iter().any(|n| n.contains(&snapshot)) {
            break;
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(15),
            "no FinalSnapshotTaken event naming {snapshot}: {notes:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}
