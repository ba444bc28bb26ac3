//! Compute kind `AppRunner` with the operator as a process (the chart's RBAC, the real
//! kube-apiserver) against the emulator's App Runner: from nothing to Ready with the URL
//! and the digest running, a steady state that writes nothing, one `UpdateService` per
//! new image, a failed update that stalls while the previous image keeps serving (and is
//! never deployed again), an account App Runner refuses as a new customer, an operator
//! killed while the service is created, and a deletion that leaves nothing.
//!
//! App Runner settings (operation durations, outcomes, the new-customer refusal, how
//! long a connector stays in use) are narrowed to each test's own service or connector
//! name, so the tests run side by side. Needs the local control plane with
//! `REDCAP_OPERATOR_BIN` and `AWS_ENDPOINT_URL`; fails, never skips, without them.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use redcap_e2e::components::{aws_context, environment_id};
use redcap_e2e::emulator::EmulatorControl;
use redcap_e2e::manifests::{APP_RUNNER, EnvironmentManifest, RELEASE_BUCKET};
use redcap_e2e::probe::eventually;
use redcap_e2e::{
    Operator, OperatorOptions, TestEnv, condition_message, ensure_release, is_ready, is_stalled,
    sum_metric,
};
use redcap_operator::api::{
    ANNOTATION_REBUILD_REQUESTED_AT, ComponentName, ComputeKind, RedcapEnvironment,
};
use redcap_operator::aws::AwsCtx;
use redcap_operator::aws::apprunner as ar;
use redcap_operator::plan::compute::apprunner::{ObservedService, is_environment_connector};
use redcap_operator::plan::compute::{apprunner_service_name, autoscaling_configuration_name};
use serde_json::json;

const REGION: &str = "us-east-1";
const READY_TIMEOUT: Duration = Duration::from_secs(300);
const GONE_TIMEOUT: Duration = Duration::from_secs(180);
/// The next REDCap version, for a new image by a version change.
const NEXT_VERSION: &str = "15.8.1";

/// The App Runner service name of an environment.
fn service_name(env: &RedcapEnvironment) -> String {
    apprunner_service_name(&environment_id(env))
}

/// Calls of App Runner's `operation` the operator made so far (any result).
async fn calls(op: &Operator, operation: &str) -> anyhow::Result<f64> {
    Ok(sum_metric(
        &op.metrics().await?,
        "redcap_operator_aws_calls_total",
        &format!("service=\"apprunner\",operation=\"{operation}\""),
    ))
}

fn emulator() -> EmulatorControl {
    EmulatorControl::from_env()
}

/// The live service, read as the operator reads it.
async fn service(ctx: &AwsCtx, name: &str) -> anyhow::Result<ObservedService> {
    ar::observe_service(ctx, name).await?.with_context(|| format!("no App Runner service {name}"))
}

/// Live App Runner services named `name`.
async fn services_named(ctx: &AwsCtx, name: &str) -> anyhow::Result<usize> {
    let out = ctx.apprunner.list_services().max_results(20).send().await?;
    Ok(out
        .service_summary_list()
        .iter()
        .filter(|s| {
            s.service_name() == Some(name) && s.status().is_none_or(|st| st.as_str() != "DELETED")
        })
        .count())
}

/// This environment's active connectors and auto scaling configuration revisions.
async fn leftovers(ctx: &AwsCtx, env_id: &str) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let connectors = ar::connectors(ctx)
        .await?
        .into_iter()
        .filter(|c| is_environment_connector(env_id, &c.name))
        .map(|c| c.name)
        .collect();
    let revisions = ar::scaling_revisions(ctx, &autoscaling_configuration_name(env_id))
        .await?
        .into_iter()
        .map(|r| r.arn)
        .collect();
    Ok((connectors, revisions))
}

fn compute_message(env: &RedcapEnvironment) -> String {
    env.status
        .as_ref()
        .and_then(|s| s.components.iter().find(|c| c.name == ComponentName::Compute))
        .and_then(|c| c.message.clone())
        .unwrap_or_default()
}

fn reference(env: &RedcapEnvironment) -> Option<String> {
    env.status.as_ref()?.image.as_ref()?.reference.clone()
}

fn running_image(env: &RedcapEnvironment) -> Option<String> {
    env.status.as_ref()?.compute.as_ref()?.service.as_ref()?.image.clone()
}

/// A metadata change: a reconcile without a new generation (a stalled environment is
/// otherwise only looked at again after half an hour).
async fn poke(env: &TestEnv, ns: &str, name: &str, n: u32) -> anyhow::Result<()> {
    let patch = json!({"metadata": {"labels": {"e2e.redcap.dev/poke": n.to_string()}}});
    env.environments(ns)
        .patch(name, &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch))
        .await?;
    Ok(())
}

#[tokio::test]
async fn app_runner_from_nothing_to_ready_updates_once_per_image_stalls_on_a_failed_update_and_deletes_everything()
-> anyhow::Result<()> {
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("apprunner").await?;
    let created =
        env.apply_yaml(&ns, &EnvironmentManifest::new("runner").compute(APP_RUNNER).yaml()).await?;
    let uid = created.metadata.uid.clone().context("uid")?;
    let name = service_name(&created);
    let env_id = environment_id(&created);
    // Operations take a moment, so passes meet a service that is busy.
    emulator().merge_config(&json!({"durations": {format!("apprunner.operation:{name}"): 2}}))?;
    let mut op = Operator::start(&env, "apprunner", OperatorOptions::scoped(&ns)).await?;
    let (ctx, _) = aws_context(REGION).await;

    // From nothing to Ready: the URL, and the image of status.image running.
    let ready = env.wait_ready(&ns, "runner", READY_TIMEOUT).await?;
    let status = ready.status.clone().context("status")?;
    let image = reference(&ready).context("status.image.reference")?;
    assert!(image.contains("@sha256:"), "{image}");
    let compute = status.compute.clone().context("status.compute")?;
    assert_eq!(compute.kind, ComputeKind::AppRunner);
    let served = compute.service.clone().context("status.compute.service")?;
    assert_eq!(served.image.as_deref(), Some(image.as_str()), "status.compute.service.image");
    let url = status.outputs.url.clone().context("status.outputs.url")?;
    assert!(url.starts_with("https://") && url.ends_with(".awsapprunner.com"), "{url}");
    assert_eq!(served.url.as_deref(), Some(url.as_str()));

    // What App Runner holds is what the spec asks.
    let seen = service(&ctx, &name).await?;
    assert_eq!(seen.status, "RUNNING");
    assert_eq!(served.arn.as_deref(), Some(seen.arn.as_str()));
    assert_eq!(seen.image, image);
    assert_eq!(seen.image_repository_type, "ECR");
    assert!(seen.tags.is_owned_by(&uid), "service tags {:?}", seen.tags);
    assert_eq!((seen.cpu, seen.memory), (Some(1024), Some(2048)));
    assert_eq!(seen.port.as_deref(), Some("8080"));
    assert_eq!(
        (seen.health_check.protocol.as_str(), seen.health_check.path.as_str()),
        ("HTTP", "/healthcheck")
    );
    assert!(seen.instance_role_arn.as_deref().is_some_and(|r| r.ends_with("-instance")));
    assert!(seen.access_role_arn.as_deref().is_some_and(|r| r.ends_with("-apprunner-access")));
    assert!(!seen.observability);
    assert!(seen.kms_key_arn.as_deref() == status.outputs.kms_key_arn.as_deref());
    // Settings plain, credentials by ARN only.
    assert_eq!(seen.environment.get("REDCAP_HTTP_PORT").map(String::as_str), Some("8080"));
    assert!(seen.environment.keys().all(|k| !k.contains("PASSWORD") && !k.contains("SALT")));
    assert_eq!(seen.secrets.len(), 5, "{:?}", seen.secrets.keys());
    assert!(seen.secrets.values().all(|v| v.starts_with("arn:aws:secretsmanager:")));
    let described = ctx.apprunner.describe_service().service_arn(&seen.arn).send().await?;
    let source = described.service().and_then(|s| s.source_configuration()).context("source")?;
    assert_eq!(source.auto_deployments_enabled(), Some(false), "automatic deployments are off");
    // Egress through this environment's connector, ACTIVE, in the private subnets.
    assert_eq!(seen.egress_type, "VPC");
    let connector = ar::connectors(&ctx)
        .await?
        .into_iter()
        .find(|c| Some(c.arn.as_str()) == seen.connector_arn.as_deref())
        .context("the service's VPC connector")?;
    assert!(is_environment_connector(&env_id, &connector.name), "{}", connector.name);
    assert_eq!(connector.security_groups.len(), 1);
    assert!(!connector.subnets.is_empty());
    let scaling = ar::describe_scaling(&ctx, seen.scaling_arn.as_deref().context("asc")?)
        .await?
        .context("the service's auto scaling configuration")?;
    assert_eq!(scaling.name, autoscaling_configuration_name(&env_id));
    assert_eq!(
        (scaling.max_concurrency, scaling.min_size, scaling.max_size),
        (Some(10), Some(1), Some(2))
    );

    // Steady state: several resyncs, no AWS writes, no status writes.
    let writes = op.aws_calls("write").await?;
    let rv = env.environments(&ns).get("runner").await?.metadata.resource_version;
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(op.aws_calls("write").await?, writes, "steady state wrote to AWS");
    assert_eq!(
        env.environments(&ns).get("runner").await?.metadata.resource_version,
        rv,
        "steady state rewrote status"
    );

    // A new image (a version change): exactly one UpdateService.
    ensure_release(&env.s3(), RELEASE_BUCKET, NEXT_VERSION).await?;
    let updates = calls(&op, "UpdateService").await?;
    env.patch_spec(
        &ns,
        "runner",
        json!({"redcap": {"version": NEXT_VERSION, "source": {"s3": {"key": format!("redcap{NEXT_VERSION}.zip")}}}}),
    )
    .await?;
    let upgraded = env
        .wait_env(&ns, "runner", READY_TIMEOUT, "Ready on the new version's image", |e| {
            is_ready(e)
                && reference(e).is_some_and(|r| r != image)
                && running_image(e) == reference(e)
        })
        .await?;
    let next_image = reference(&upgraded).context("new reference")?;
    assert_eq!(service(&ctx, &name).await?.image, next_image);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(calls(&op, "UpdateService").await?, updates + 1.0, "one UpdateService per image");

    // A failed update: App Runner rolls back; the environment stalls with the reason and
    // the previous image keeps serving. The same content is never deployed again.
    emulator().merge_config(&json!({"outcomes": {format!("apprunner:{name}"): "FAILED"}}))?;
    let updates = calls(&op, "UpdateService").await?;
    let rebuild = json!({"metadata": {"annotations": {ANNOTATION_REBUILD_REQUESTED_AT: "2026-05-01T12:00:00Z"}}});
    env.environments(&ns)
        .patch("runner", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&rebuild))
        .await?;
    let stalled = env
        .wait_env(&ns, "runner", READY_TIMEOUT, "Stalled by the rolled-back update", |e| {
            is_stalled(e) && condition_message(e, "Stalled").contains("ROLLBACK_SUCCEEDED")
        })
        .await?;
    let message = condition_message(&stalled, "Stalled");
    assert!(message.contains("AppRunner"), "{message}");
    let failed = stalled
        .status
        .as_ref()
        .and_then(|s| s.compute.as_ref())
        .and_then(|c| c.failed_deployment.clone())
        .context("status.compute.failedDeployment")?;
    assert_eq!(failed.kind, ComputeKind::AppRunner);
    let failed_image = reference(&stalled).context("the rebuilt reference")?;
    assert_ne!(failed_image, next_image, "the rebuild made a new image");
    assert_eq!(failed.image.as_deref(), Some(failed_image.as_str()));
    assert!(failed.logs_url.as_deref().is_some_and(|u| u.contains("apprunner")), "{failed:?}");
    let after = service(&ctx, &name).await?;
    assert_eq!((after.status.as_str(), after.image.as_str()), ("RUNNING", next_image.as_str()));
    assert_eq!(running_image(&stalled).as_deref(), Some(next_image.as_str()));
    assert_eq!(calls(&op, "UpdateService").await?, updates + 1.0, "one attempt");
    for n in 0..3 {
        poke(&env, &ns, "runner", n).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    assert_eq!(calls(&op, "UpdateService").await?, updates + 1.0, "never deployed again");
    assert!(is_stalled(&env.environments(&ns).get("runner").await?));

    // Fixed, and a new image: deployed and Ready again.
    emulator().merge_config(&json!({"outcomes": {format!("apprunner:{name}"): null}}))?;
    let again = json!({"metadata": {"annotations": {ANNOTATION_REBUILD_REQUESTED_AT: "2026-05-02T12:00:00Z"}}});
    env.environments(&ns)
        .patch("runner", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&again))
        .await?;
    let recovered = env
        .wait_env(&ns, "runner", READY_TIMEOUT, "Ready on the next image", |e| {
            is_ready(e)
                && reference(e).is_some_and(|r| r != failed_image && r != next_image)
                && running_image(e) == reference(e)
        })
        .await?;
    assert!(
        recovered
            .status
            .as_ref()
            .and_then(|s| s.compute.as_ref())
            .is_some_and(|c| c.failed_deployment.is_none()),
        "the failure record is gone once the spec moved on"
    );

    // Deletion: the service, then the connector App Runner holds a while after it, then
    // the configuration. Nothing is left.
    emulator().merge_config(
        &json!({"durations": {format!("apprunner.vpcconnector.release:{}", connector.name): 4}}),
    )?;
    env.delete_env(&ns, "runner").await?;
    env.wait_env(&ns, "runner", GONE_TIMEOUT, "waiting for the connector", |e| {
        compute_message(e).contains("release")
    })
    .await?;
    env.wait_gone(&ns, "runner", GONE_TIMEOUT).await?;
    assert_eq!(services_named(&ctx, &name).await?, 0, "the service is deleted");
    let (connectors, revisions) = leftovers(&ctx, &env_id).await?;
    assert!(connectors.is_empty(), "connectors left: {connectors:?}");
    assert!(revisions.is_empty(), "auto scaling revisions left: {revisions:?}");
    op.stop().await?;
    Ok(())
}

#[tokio::test]
async fn an_account_app_runner_refuses_as_a_new_customer_stalls_and_creates_nothing()
-> anyhow::Result<()> {
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("apprunner-new").await?;
    let created = env
        .apply_yaml(&ns, &EnvironmentManifest::new("newcomer").compute(APP_RUNNER).yaml())
        .await?;
    let name = service_name(&created);
    let env_id = environment_id(&created);
    emulator().merge_config(&json!({"outcomes": {format!("apprunner.account:{name}"): "new"}}))?;
    let mut op = Operator::start(&env, "apprunner-new", OperatorOptions::scoped(&ns)).await?;
    let (ctx, _) = aws_context(REGION).await;

    let stalled = env
        .wait_env(&ns, "newcomer", READY_TIMEOUT, "Stalled by App Runner's refusal", |e| {
            is_stalled(e) && condition_message(e, "Stalled").contains("closed to new customers")
        })
        .await?;
    let message = condition_message(&stalled, "Stalled");
    assert!(message.contains("closed to new customers since 2026-04-30"), "{message}");
    assert!(message.contains("spec.compute.kind: EcsFargate"), "{message}");
    assert!(message.contains("EcsExpress"), "{message}");

    // Nothing is created, and nothing is tried in a loop: the status write of the stall
    // may bring one more pass (the watch sees it), then the operator waits for a change.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let attempts = calls(&op, "CreateService").await?;
    assert!(attempts >= 1.0);
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(calls(&op, "CreateService").await?, attempts, "CreateService in a loop");
    assert_eq!(services_named(&ctx, &name).await?, 0);
    let (connectors, revisions) = leftovers(&ctx, &env_id).await?;
    assert!(connectors.len() <= 1 && revisions.len() <= 1, "{connectors:?} {revisions:?}");
    assert_eq!(calls(&op, "CreateVpcConnector").await?, connectors.len() as f64);
    assert_eq!(calls(&op, "CreateAutoScalingConfiguration").await?, revisions.len() as f64);

    env.delete_env(&ns, "newcomer").await?;
    env.wait_gone(&ns, "newcomer", GONE_TIMEOUT).await?;
    let (connectors, revisions) = leftovers(&ctx, &env_id).await?;
    assert!(connectors.is_empty() && revisions.is_empty(), "{connectors:?} {revisions:?}");
    emulator().merge_config(&json!({"outcomes": {format!("apprunner.account:{name}"): null}}))?;
    op.stop().await?;
    Ok(())
}

#[tokio::test]
async fn an_operator_killed_while_the_service_is_created_leaves_exactly_one() -> anyhow::Result<()>
{
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("apprunner-kill").await?;
    let created =
        env.apply_yaml(&ns, &EnvironmentManifest::new("crashy").compute(APP_RUNNER).yaml()).await?;
    let name = service_name(&created);
    // Long enough for the kill to land while App Runner creates the service.
    emulator().merge_config(&json!({"durations": {format!("apprunner.operation:{name}"): 10}}))?;
    let mut op = Operator::start(&env, "apprunner-kill-1", OperatorOptions::scoped(&ns)).await?;
    let (ctx, _) = aws_context(REGION).await;

    // Kill the operator the moment the service exists (its status write is not done).
    let start = Instant::now();
    while services_named(&ctx, &name).await? == 0 {
        if start.elapsed() > READY_TIMEOUT {
            bail!("the service was never created; operator log: {}", op.log());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    op.kill().await?;
    assert!(service(&ctx, &name).await?.busy(), "killed while App Runner creates the service");

    let mut op = Operator::start(&env, "apprunner-kill-2", OperatorOptions::scoped(&ns)).await?;
    let ready = env.wait_ready(&ns, "crashy", READY_TIMEOUT).await?;
    assert_eq!(services_named(&ctx, &name).await?, 1, "exactly one service");
    assert_eq!(calls(&op, "CreateService").await?, 0.0, "the restarted operator adopted it");
    assert_eq!(running_image(&ready), reference(&ready));
    eventually("a settled service", Duration::from_secs(30), async || {
        Ok(!service(&ctx, &name).await?.busy())
    })
    .await?;

    env.delete_env(&ns, "crashy").await?;
    env.wait_gone(&ns, "crashy", GONE_TIMEOUT).await?;
    assert_eq!(services_named(&ctx, &name).await?, 0);
    op.stop().await?;
    Ok(())
}
