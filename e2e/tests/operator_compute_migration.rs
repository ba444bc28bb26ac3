//! Switching `spec.compute.kind` with the operator as a process under the chart's RBAC
//! against the real kube-apiserver and the emulator: EcsExpress -> EcsFargate -> AppRunner.
//! At each switch the new service comes up while the old one keeps serving the URL
//! (status shows both), the URL moves once the new one is Ready, the old service is
//! deleted, and the database cluster and the file bucket stay the same.
//!
//! Needs the local control plane with `REDCAP_OPERATOR_BIN` and `AWS_ENDPOINT_URL`;
//! fails, never skips, without them.

use std::time::Duration;

use redcap_e2e::emulator::{EmulatorControl, request_certificate};
use redcap_e2e::manifests::{APP_RUNNER, EnvironmentManifest, fargate};
use redcap_e2e::{Operator, OperatorOptions, TestEnv, is_ready};
use redcap_operator::api::{ComputeKind, RedcapEnvironment};
use redcap_operator::aws::sdk::aws_sdk_ecs;
use redcap_operator::aws::sdk::aws_sdk_elasticloadbalancingv2 as elbv2;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(300);
const NAME: &str = "move";

fn serving(e: &RedcapEnvironment) -> Option<ComputeKind> {
    e.status.as_ref()?.compute.as_ref().map(|c| c.kind)
}

fn retiring(e: &RedcapEnvironment) -> Option<ComputeKind> {
    e.status.as_ref()?.compute.as_ref()?.retiring.as_ref().map(|s| s.kind)
}

fn url(e: &RedcapEnvironment) -> Option<String> {
    e.status.as_ref()?.outputs.url.clone()
}

/// The database cluster and the file bucket, which no switch may change.
fn data(e: &RedcapEnvironment) -> (Option<String>, Option<String>) {
    let s = e.status.as_ref();
    (
        s.and_then(|s| s.database.as_ref()).and_then(|d| d.cluster_identifier.clone()),
        s.and_then(|s| s.outputs.file_bucket.clone()),
    )
}

/// Waits through the switch to `to`: a moment where the old kind still serves while the
/// new one comes up, then Ready on `to` with nothing retiring.
async fn switch(
    env: &TestEnv,
    ns: &str,
    from: ComputeKind,
    to: ComputeKind,
    compute: &str,
) -> anyhow::Result<RedcapEnvironment> {
    let before = env.environments(ns).get(NAME).await?;
    let old_url = url(&before);
    let yaml: serde_yaml::Value = serde_yaml::from_str(&format!("compute:\n{compute}"))?;
    let mut compute = serde_json::to_value(&yaml["compute"])?;
    // A merge patch keeps what it does not name: drop the other kinds' blocks.
    for block in ["ecsFargate", "ecsExpress", "appRunner"] {
        if compute.get(block).is_none() {
            compute[block] = serde_json::Value::Null;
        }
    }
    env.patch_spec(ns, NAME, json!({"compute": compute})).await?;
    // Old and new side by side: the old kind serves its URL while the new one comes up.
    let both = env
        .wait_env(ns, NAME, TIMEOUT, "switching (old serving, new coming up)", |e| {
            serving(e) == Some(from)
                && retiring(e) == Some(from)
                && e.status.as_ref().is_some_and(|s| {
                    s.compute
                        .as_ref()
                        .and_then(|c| c.service.as_ref())
                        .is_some_and(|svc| svc.kind == to)
                })
        })
        .await?;
    assert_eq!(url(&both), old_url, "the URL stays on the old service until the new one is Ready");
    let done = env
        .wait_env(ns, NAME, TIMEOUT, "Ready on the new kind", |e| {
            is_ready(e) && serving(e) == Some(to) && retiring(e).is_none()
        })
        .await?;
    assert_ne!(url(&done), old_url, "the URL moved to the new service");
    assert_eq!(data(&done), data(&before), "same database cluster and file bucket");
    Ok(done)
}

#[tokio::test]
async fn express_to_fargate_to_app_runner_keeps_the_data_and_serves_throughout()
-> anyhow::Result<()> {
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("migrate").await?;
    let ecs = aws_sdk_ecs::Client::new(&env.aws);
    let elb = elbv2::Client::new(&env.aws);
    let certificate = request_certificate("us-east-1", "redcap.example.org")?;
    // New services take a few seconds to deploy, so the side-by-side moment is visible.
    let control = EmulatorControl::from_env();
    let _fargate = control.set_duration("ecs.deployment:redcap", 5)?;
    let _apprunner = control.set_duration("apprunner.operation", 5)?;

    env.apply_yaml(&ns, &EnvironmentManifest::new(NAME).yaml()).await?;
    let mut op = Operator::start(&env, "migrate", OperatorOptions::scoped(&ns)).await?;
    let first = env.wait_ready(&ns, NAME, TIMEOUT).await?;
    assert_eq!(serving(&first), Some(ComputeKind::EcsExpress));
    let (cluster, bucket) = data(&first);
    assert!(cluster.is_some() && bucket.is_some(), "{:?}", first.status);
    let env_id = first.status.as_ref().and_then(|s| s.environment_id.clone()).expect("id");

    let fargate_done =
        switch(&env, &ns, ComputeKind::EcsExpress, ComputeKind::EcsFargate, &fargate(&certificate))
            .await?;
    let express =
        ecs.describe_services().cluster(&env_id).services("redcap-express").send().await?;
    assert!(
        express.services().iter().all(|s| s.status() != Some("ACTIVE")),
        "the Express service is deleted after the switch"
    );
    assert!(url(&fargate_done).is_some_and(|u| u.contains(".elb.")), "{:?}", url(&fargate_done));

    switch(&env, &ns, ComputeKind::EcsFargate, ComputeKind::AppRunner, APP_RUNNER).await?;
    let fargate = ecs.describe_services().cluster(&env_id).services("redcap").send().await?;
    assert!(
        fargate.services().iter().all(|s| s.status() != Some("ACTIVE")),
        "the Fargate service is deleted after the switch"
    );
    assert!(
        elb.describe_load_balancers().names(&env_id).send().await.is_err(),
        "its load balancer is deleted too"
    );

    env.delete_env(&ns, NAME).await?;
    env.wait_gone(&ns, NAME, TIMEOUT).await?;
    op.stop().await?;
    Ok(())
}
