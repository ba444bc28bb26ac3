//! Leader election on a real Lease: two replicas, only the leader reconciles (and calls
//! AWS), the standby is ready but idle, and it takes over when the leader stops.

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use redcap_e2e::manifests::EnvironmentManifest;
use redcap_e2e::probe::{self, eventually};
use redcap_e2e::{OPERATOR_NAMESPACE, Operator, OperatorOptions, TestEnv, sum_metric};

async fn holder(leases: &Api<Lease>, name: &str) -> anyhow::Result<Option<String>> {
    Ok(leases.get_opt(name).await?.and_then(|l| l.spec).and_then(|s| s.holder_identity))
}

async fn wait_holder(
    leases: &Api<Lease>,
    name: &str,
    want: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let held = eventually(&format!("Lease {name} held by {want}"), timeout, async || {
        Ok(holder(leases, name).await?.as_deref() == Some(want))
    })
    .await;
    if held.is_err() {
        let got = holder(leases, name).await?;
        anyhow::bail!("Lease {name} held by {got:?}, expected {want} within {timeout:?}");
    }
    Ok(())
}

fn options<'a>(ns: &'a str, lease: &str, holder: &str) -> OperatorOptions<'a> {
    OperatorOptions {
        leader_election: true,
        extra_args: vec![format!("--lease-name={lease}"), format!("--holder-id={holder}")],
        ..OperatorOptions::scoped(ns)
    }
}

#[tokio::test]
async fn only_the_leader_reconciles_and_the_standby_takes_over() -> anyhow::Result<()> {
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("ha").await?;
    let lease = format!("lease-{ns}");
    let leases: Api<Lease> = Api::namespaced(env.kube.clone(), OPERATOR_NAMESPACE);

    let mut a = Operator::start(&env, "ha-a", options(&ns, &lease, "replica-a")).await?;
    wait_holder(&leases, &lease, "replica-a", Duration::from_secs(30)).await?;
    let mut b = Operator::start(&env, "ha-b", options(&ns, &lease, "replica-b")).await?;

    env.apply_yaml(&ns, &EnvironmentManifest::new("ha").yaml()).await?;
    let ready = env.wait_ready(&ns, "ha", Duration::from_secs(90)).await?;
    let bucket = ready
        .status
        .as_ref()
        .and_then(|s| s.outputs.file_bucket.clone())
        .context("no fileBucket")?;

    // The standby is healthy, not leading, and has not touched AWS.
    let b_metrics = b.metrics().await?;
    assert_eq!(
        sum_metric(&b_metrics, "redcap_operator_leader", ""),
        0.0,
        "standby reports itself leader"
    );
    assert_eq!(
        b.aws_calls("read").await? + b.aws_calls("write").await?,
        0.0,
        "the standby called AWS"
    );
    assert_eq!(sum_metric(&a.metrics().await?, "redcap_operator_leader", ""), 1.0);

    // The leader stops (SIGTERM releases the Lease); the standby takes over and
    // reconciles a change made afterwards.
    a.stop().await?;
    wait_holder(&leases, &lease, "replica-b", Duration::from_secs(60)).await?;
    env.patch_spec(&ns, "ha", serde_json::json!({"storage": {"versioning": "Suspended"}})).await?;
    env.wait_ready(&ns, "ha", Duration::from_secs(90)).await?;
    assert_eq!(
        probe::bucket_versioning(&env.s3(), &bucket).await,
        "Suspended",
        "the new leader did not apply the change"
    );
    assert!(b.aws_calls("write").await? > 0.0);

    env.delete_env(&ns, "ha").await?;
    env.wait_gone(&ns, "ha", Duration::from_secs(60)).await?;
    b.stop().await?;
    Ok(())
}
