//! Kind EcsExpress with the operator as a process under the chart's RBAC against the real
//! kube-apiserver and the emulator's ECS Express Mode: an operator killed while the
//! service is created is replaced by one that adopts it (one Express service); Ready only
//! once the deployment of the spec's image completed with a healthy target, with
//! Express's HTTPS URL in `status.outputs.url`; the two settings Express has no parameter
//! for (the health-check grace period, the load balancer's idle timeout) are set and put
//! back after a hand edit; nothing is written once Ready; a new image is exactly one
//! `UpdateExpressGatewayService`; a failed deployment (rolled back by Express) stalls
//! with its reason and is not retried; deletion removes the service and the cluster.
//!
//! Deployment outcomes are narrowed to `<cluster>/redcap-express`, so the test runs
//! beside the others. Needs the local control plane with `REDCAP_OPERATOR_BIN` and
//! `AWS_ENDPOINT_URL`; fails, never skips, without them.

use std::time::Duration;

use redcap_e2e::components::aws_context;
use redcap_e2e::emulator::EmulatorControl;
use redcap_e2e::manifests::{EXPRESS, EnvironmentManifest};
use redcap_e2e::probe::eventually_despite_errors;
use redcap_e2e::{Operator, OperatorOptions, TestEnv, condition_message, is_ready, is_stalled};
use redcap_operator::api::{
    ANNOTATION_REBUILD_REQUESTED_AT, ComputeKind, ComputeStatus, DeploymentState, RedcapEnvironment,
};
use redcap_operator::aws::AwsCtx;
use redcap_operator::aws::ecs_express;
use redcap_operator::aws::sdk::aws_sdk_ecs;
use redcap_operator::aws::sdk::aws_sdk_elasticloadbalancingv2 as elbv2;
use redcap_operator::plan::compute::EXPRESS_SERVICE;
use redcap_operator::plan::compute::express::{IDLE_TIMEOUT_ATTRIBUTE, IDLE_TIMEOUT_SECONDS};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(240);
const NAME: &str = "express";
const REGION: &str = "us-east-1";

fn compute(e: &RedcapEnvironment) -> Option<&ComputeStatus> {
    e.status.as_ref()?.compute.as_ref()
}

fn environment_id(e: &RedcapEnvironment) -> String {
    e.status.as_ref().and_then(|s| s.environment_id.clone()).expect("status.environmentId")
}

fn service_arn(e: &RedcapEnvironment) -> Option<String> {
    compute(e)?.service.as_ref()?.arn.clone()
}

/// The Express services in the environment's cluster that are not yet deleted.
async fn live_services(ecs: &aws_sdk_ecs::Client, cluster: &str) -> Vec<String> {
    match ecs.list_services().cluster(cluster).send().await {
        Ok(out) => out.service_arns().to_vec(),
        Err(_) => Vec::new(),
    }
}

/// The ECS service under the Express service.
async fn underlying(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
) -> Option<aws_sdk_ecs::types::Service> {
    let out =
        ecs.describe_services().cluster(cluster).services(EXPRESS_SERVICE).send().await.ok()?;
    out.services().iter().find(|s| s.status() == Some("ACTIVE")).cloned()
}

/// The ARN of the load balancer Express manages for the service's newest configuration.
async fn managed_load_balancer(ctx: &AwsCtx, arn: &str) -> anyhow::Result<String> {
    let seen = ecs_express::observe(ctx, arn).await?.expect("the Express service");
    let newest = seen.newest().expect("a configuration").service_revision_arn.clone();
    let revision = ecs_express::revision(ctx, &newest).await?.expect("its revision");
    Ok(revision.load_balancer.expect("a managed load balancer").arn)
}

async fn idle_timeout(elb: &elbv2::Client, lb_arn: &str) -> Option<String> {
    let out =
        elb.describe_load_balancer_attributes().load_balancer_arn(lb_arn).send().await.ok()?;
    out.attributes()
        .iter()
        .find(|a| a.key() == Some(IDLE_TIMEOUT_ATTRIBUTE))
        .and_then(|a| a.value().map(str::to_string))
}

#[tokio::test]
async fn express_serves_on_its_url_keeps_its_settings_deploys_once_per_image_and_stalls_on_a_failed_deployment()
-> anyhow::Result<()> {
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("express").await?;
    let (ctx, _) = aws_context(REGION).await;
    let ecs = aws_sdk_ecs::Client::new(&env.aws);
    let elb = elbv2::Client::new(&env.aws);
    let control = EmulatorControl::from_env();

    env.apply_yaml(&ns, &EnvironmentManifest::new(NAME).compute(EXPRESS).yaml()).await?;

    // Killed once the service exists; the next operator adopts it (Express has no client
    // token, so a second create would make a second service).
    let mut op = Operator::start(&env, "express-1", OperatorOptions::scoped(&ns)).await?;
    env.wait_env(&ns, NAME, TIMEOUT, "its Express service", |e| service_arn(e).is_some()).await?;
    op.kill().await?;
    let mut op = Operator::start(&env, "express-2", OperatorOptions::scoped(&ns)).await?;
    let ready = env.wait_ready(&ns, NAME, TIMEOUT).await?;
    let env_id = environment_id(&ready);
    let status = ready.status.clone().expect("status");
    let c = status.compute.clone().expect("status.compute");
    let s = c.service.clone().expect("status.compute.service");
    let arn = s.arn.clone().expect("arn");
    assert_eq!(c.kind, ComputeKind::EcsExpress);
    let reference = status.image.as_ref().and_then(|i| i.reference.clone()).expect("image");
    assert_eq!(s.image.as_deref(), Some(reference.as_str()), "the spec's image runs");
    assert_eq!(s.deployment.as_ref().map(|d| d.state), Some(DeploymentState::Completed));
    assert!(s.healthy.unwrap_or_default() >= 1, "{s:?}");
    assert_eq!(live_services(&ecs, &env_id).await.len(), 1, "exactly one service across the kill");

    // The URL is Express's own HTTPS endpoint.
    let seen = ecs_express::observe(&ctx, &arn).await?.expect("the Express service");
    let endpoint = seen.endpoint(None).expect("an endpoint").to_string();
    let url = status.outputs.url.clone().expect("status.outputs.url");
    assert_eq!(url, format!("https://{endpoint}"), "Express's URL");
    assert!(endpoint.ends_with(".on.aws"), "{endpoint}");
    assert_eq!(s.url.as_deref(), Some(url.as_str()));

    // What Express has no parameter for: the grace period and the idle timeout.
    let svc = underlying(&ecs, &env_id).await.expect("the underlying service");
    assert!(svc.health_check_grace_period_seconds().unwrap_or_default() >= 900, "{svc:?}");
    let lb = managed_load_balancer(&ctx, &arn).await?;
    assert_eq!(idle_timeout(&elb, &lb).await, Some(IDLE_TIMEOUT_SECONDS.to_string()));

    // Steady state: several resyncs, zero AWS writes, no status writes.
    let writes = op.aws_calls("write").await?;
    let rv = env.environments(&ns).get(NAME).await?.metadata.resource_version;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(op.aws_calls("write").await?, writes, "steady state wrote to AWS");
    assert_eq!(
        env.environments(&ns).get(NAME).await?.metadata.resource_version,
        rv,
        "steady state rewrote status"
    );

    // Hand edits of both settings are put back.
    elb.modify_load_balancer_attributes()
        .load_balancer_arn(&lb)
        .attributes(
            elbv2::types::LoadBalancerAttribute::builder()
                .key(IDLE_TIMEOUT_ATTRIBUTE)
                .value("60")
                .build(),
        )
        .send()
        .await?;
    ecs.update_service()
        .cluster(&env_id)
        .service(EXPRESS_SERVICE)
        .health_check_grace_period_seconds(0)
        .send()
        .await?;
    eventually_despite_errors(
        "the idle timeout and the grace period to be put back",
        TIMEOUT,
        async || {
            let grace = underlying(&ecs, &env_id)
                .await
                .and_then(|s| s.health_check_grace_period_seconds())
                .unwrap_or_default();
            Ok(idle_timeout(&elb, &lb).await == Some(IDLE_TIMEOUT_SECONDS.to_string())
                && grace >= 900)
        },
    )
    .await?;

    // A new image (rebuild): exactly one update of the Express service.
    let updates = op.operation_calls("UpdateExpressGatewayService").await?;
    let patch = json!({"metadata": {"annotations": {ANNOTATION_REBUILD_REQUESTED_AT: "2026-12-01T12:00:00Z"}}});
    env.environments(&ns)
        .patch(NAME, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch))
        .await?;
    let rebuilt = env
        .wait_env(&ns, NAME, TIMEOUT, "Ready on the rebuilt image", |e| {
            let image =
                e.status.as_ref().and_then(|s| s.image.as_ref()).and_then(|i| i.reference.clone());
            is_ready(e)
                && image.is_some()
                && image != Some(reference.clone())
                && compute(e).and_then(|c| c.service.as_ref()).and_then(|s| s.image.clone())
                    == image
        })
        .await?;
    assert_eq!(
        op.operation_calls("UpdateExpressGatewayService").await? - updates,
        1.0,
        "exactly one deployment"
    );
    assert_eq!(
        rebuilt.status.as_ref().and_then(|s| s.outputs.url.clone()).as_deref(),
        Some(url.as_str()),
        "the URL stays across deployments"
    );
    let running = compute(&rebuilt).and_then(|c| c.service.as_ref()).and_then(|s| s.image.clone());

    // A deployment that fails: Express rolls it back; Stalled with the reason, not
    // retried, the previous image serves.
    let outcome = format!("ecs.deployment:{env_id}/{EXPRESS_SERVICE}");
    control.merge_config(&json!({"outcomes": {outcome.clone(): "FAILED"}}))?;
    env.patch_spec(&ns, NAME, json!({"redcap": {"timezone": "Europe/Paris"}})).await?;
    let stalled = env.wait_env(&ns, NAME, TIMEOUT, "Stalled", is_stalled).await?;
    let message = condition_message(&stalled, "Stalled");
    assert!(message.contains("deployment failed"), "{message}");
    assert!(message.contains("keep serving"), "{message}");
    let failed_updates = op.operation_calls("UpdateExpressGatewayService").await?;
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        op.operation_calls("UpdateExpressGatewayService").await?,
        failed_updates,
        "a failed deployment is not retried"
    );
    let now = env.environments(&ns).get(NAME).await?;
    let c = compute(&now).expect("compute");
    assert_eq!(c.failed_deployment.as_ref().map(|f| f.kind), Some(ComputeKind::EcsExpress));
    assert_eq!(
        c.service.as_ref().and_then(|s| s.image.clone()),
        running,
        "the old image still runs"
    );

    // Fixed: the next spec change deploys and reaches Ready.
    control.merge_config(&json!({"outcomes": {outcome: null}}))?;
    env.patch_spec(&ns, NAME, json!({"redcap": {"timezone": "Europe/Berlin"}})).await?;
    env.wait_env(&ns, NAME, TIMEOUT, "Ready after the fix", |e| {
        is_ready(e) && compute(e).is_some_and(|c| c.failed_deployment.is_none())
    })
    .await?;

    // Deletion removes the Express service and the cluster.
    env.delete_env(&ns, NAME).await?;
    env.wait_gone(&ns, NAME, TIMEOUT).await?;
    let gone = ecs_express::observe(&ctx, &arn).await?;
    assert!(
        gone.as_ref().is_none_or(|s| s.status == "INACTIVE"),
        "Express service deleted: {gone:?}"
    );
    let clusters = ecs.describe_clusters().clusters(&env_id).send().await?;
    assert!(clusters.clusters().iter().all(|c| c.status() != Some("ACTIVE")), "cluster deleted");
    op.stop().await?;
    Ok(())
}
