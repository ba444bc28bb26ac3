//! Switching `spec.compute.kind` with the operator as a process under the chart's RBAC
//! against the real kube-apiserver and the emulator: EcsExpress -> EcsFargate -> AppRunner.
//! At each switch the new service comes up while the old one keeps serving the URL
//! (status shows both), the URL moves once the new one is Ready, the old service is
//! deleted, and the database cluster and the file bucket stay the same. The web ACL and
//! the cron schedule follow: after each switch the firewall protects exactly the new
//! service and cron calls the new URL.
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
use redcap_operator::aws::sdk::aws_sdk_wafv2 as wafv2;
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

/// What the web ACL protects, per status.
fn protected(e: &RedcapEnvironment) -> Vec<String> {
    e.status
        .as_ref()
        .and_then(|s| s.firewall.as_ref())
        .map(|f| f.associated_with.clone())
        .unwrap_or_default()
}

/// The URL the cron schedule calls, per status.
fn cron_target(e: &RedcapEnvironment) -> Option<String> {
    e.status.as_ref()?.cron.as_ref()?.target_url.clone()
}

/// After a switch: WAF itself answers that the web ACL guards what now serves, and cron
/// calls the new URL.
async fn edge_follows(waf: &wafv2::Client, e: &RedcapEnvironment) -> anyhow::Result<()> {
    let acl =
        e.status.as_ref().and_then(|s| s.firewall.as_ref()).and_then(|f| f.web_acl_arn.clone());
    let served = protected(e);
    assert_eq!(served.len(), 1, "the web ACL protects exactly what serves: {served:?}");
    let on = waf.get_web_acl_for_resource().resource_arn(&served[0]).send().await?;
    assert_eq!(on.web_acl().map(|a| a.arn().to_string()), acl, "WAF's own answer");
    let target = cron_target(e).expect("status.cron.targetUrl");
    let base = url(e).expect("status.outputs.url");
    assert!(target.starts_with(base.trim_end_matches('/')), "cron calls {target}, site is {base}");
    Ok(())
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
            is_ready(e)
                && serving(e) == Some(to)
                && retiring(e).is_none()
                && protected(e).len() == 1
                && cron_target(e)
                    .zip(url(e))
                    .is_some_and(|(t, u)| t.starts_with(u.trim_end_matches('/')))
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
    let waf = wafv2::Client::new(&env.aws);
    let certificate = request_certificate("us-east-1", "redcap.example.org")?;
    // New services take a few seconds to deploy, so the side-by-side moment is visible.
    let control = EmulatorControl::from_env();
    let _fargate = control.set_duration("ecs.deployment:redcap", 5)?;
    let _apprunner = control.set_duration("apprunner.operation", 5)?;

    let manifest =
        EnvironmentManifest::new(NAME).spec("  firewall:\n    rateLimitPerFiveMinutes: 2000");
    env.apply_yaml(&ns, &manifest.yaml()).await?;
    let mut op = Operator::start(&env, "migrate", OperatorOptions::scoped(&ns)).await?;
    let first = env.wait_ready(&ns, NAME, TIMEOUT).await?;
    assert_eq!(serving(&first), Some(ComputeKind::EcsExpress));
    edge_follows(&waf, &first).await?;
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
    edge_follows(&waf, &fargate_done).await?;

    let app_runner_done =
        switch(&env, &ns, ComputeKind::EcsFargate, ComputeKind::AppRunner, APP_RUNNER).await?;
    edge_follows(&waf, &app_runner_done).await?;
    assert!(
        protected(&app_runner_done)[0].contains(":apprunner:"),
        "{:?}",
        protected(&app_runner_done)
    );
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
