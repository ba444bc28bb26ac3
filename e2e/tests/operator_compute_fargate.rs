//! Kind EcsFargate with the operator as a process under the chart's RBAC against the real
//! kube-apiserver and the emulator: an operator killed while it creates the service is
//! replaced by one that finds it (one cluster, one load balancer, one service); Ready
//! only once the deployment of the spec's image completed with a healthy target; the
//! container gets its credentials by ARN; nothing is written once Ready; hand edits of
//! the listener, the load balancer and the task definition are reverted while a desired
//! count changed by autoscaling is kept; a new image is exactly one deployment (a new
//! REDCap version without automatic rollback); a failed deployment stalls with its
//! reason, is not retried, and leaves the old tasks serving; deletion removes it all.
//!
//! One test, in phases: the `ecs.deployment:redcap` outcome it sets would fail any other
//! EcsFargate service of the suite (they are all named `redcap`). Needs the local control
//! plane with `REDCAP_OPERATOR_BIN` and `AWS_ENDPOINT_URL`; fails, never skips, without
//! them.

use std::time::Duration;

use redcap_e2e::emulator::{EmulatorControl, request_certificate};
use redcap_e2e::manifests::{EnvironmentManifest, fargate};
use redcap_e2e::probe::eventually_despite_errors;
use redcap_e2e::{Operator, OperatorOptions, TestEnv, condition_message, is_ready, is_stalled};
use redcap_operator::api::{
    ANNOTATION_REBUILD_REQUESTED_AT, ComputeKind, ComputeStatus, DeploymentState, RedcapEnvironment,
};
use redcap_operator::aws::sdk::aws_sdk_ecs;
use redcap_operator::aws::sdk::aws_sdk_elasticloadbalancingv2 as elbv2;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(240);
const NAME: &str = "web";
const REGION: &str = "us-east-1";

fn compute(e: &RedcapEnvironment) -> Option<&ComputeStatus> {
    e.status.as_ref()?.compute.as_ref()
}

fn environment_id(e: &RedcapEnvironment) -> String {
    e.status.as_ref().and_then(|s| s.environment_id.clone()).expect("status.environmentId")
}

async fn services(ecs: &aws_sdk_ecs::Client, cluster: &str) -> Vec<String> {
    match ecs.list_services().cluster(cluster).send().await {
        Ok(out) => out.service_arns().to_vec(),
        Err(_) => Vec::new(),
    }
}

async fn service(ecs: &aws_sdk_ecs::Client, cluster: &str) -> Option<aws_sdk_ecs::types::Service> {
    let out = ecs.describe_services().cluster(cluster).services("redcap").send().await.ok()?;
    out.services().iter().find(|s| s.status() == Some("ACTIVE")).cloned()
}

async fn load_balancers(elb: &elbv2::Client, name: &str) -> Vec<elbv2::types::LoadBalancer> {
    match elb.describe_load_balancers().names(name).send().await {
        Ok(out) => out.load_balancers().to_vec(),
        Err(_) => Vec::new(),
    }
}

async fn listener_certificate(elb: &elbv2::Client, lb_arn: &str) -> Option<String> {
    let out = elb.describe_listeners().load_balancer_arn(lb_arn).send().await.ok()?;
    let https = out.listeners().iter().find(|l| l.port() == Some(443))?;
    https.certificates().first()?.certificate_arn().map(str::to_string)
}

async fn idle_timeout(elb: &elbv2::Client, lb_arn: &str) -> Option<String> {
    let out =
        elb.describe_load_balancer_attributes().load_balancer_arn(lb_arn).send().await.ok()?;
    out.attributes()
        .iter()
        .find(|a| a.key() == Some("idle_timeout.timeout_seconds"))
        .and_then(|a| a.value().map(str::to_string))
}

#[tokio::test]
async fn fargate_serves_deploys_once_per_image_reverts_hand_edits_and_stalls_on_a_failed_deployment()
-> anyhow::Result<()> {
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("fargate").await?;
    let ecs = aws_sdk_ecs::Client::new(&env.aws);
    let elb = elbv2::Client::new(&env.aws);
    let control = EmulatorControl::from_env();
    let certificate = request_certificate(REGION, "redcap.example.org")?;
    let other_certificate = request_certificate(REGION, "other.example.org")?;
    // Deployments take a few seconds, so the first one is still running when the
    // operator is killed.
    let _deployments = control.set_duration("ecs.deployment:redcap", 6)?;

    let manifest = EnvironmentManifest::new(NAME).compute(&fargate(&certificate));
    env.apply_yaml(&ns, &manifest.yaml()).await?;

    // Killed while the first deployment runs; the next operator finds the service.
    let mut op = Operator::start(&env, "fargate-1", OperatorOptions::scoped(&ns)).await?;
    env.wait_env(&ns, NAME, TIMEOUT, "its ECS service", |e| {
        compute(e).and_then(|c| c.service.as_ref()).is_some_and(|s| s.arn.is_some())
    })
    .await?;
    op.kill().await?;
    let mut op = Operator::start(&env, "fargate-2", OperatorOptions::scoped(&ns)).await?;
    let ready = env.wait_ready(&ns, NAME, TIMEOUT).await?;
    let env_id = environment_id(&ready);
    let status = ready.status.clone().expect("status");
    let c = status.compute.clone().expect("status.compute");
    let s = c.service.clone().expect("status.compute.service");
    assert_eq!(c.kind, ComputeKind::EcsFargate);
    let reference = status.image.as_ref().and_then(|i| i.reference.clone()).expect("image");
    assert_eq!(s.image.as_deref(), Some(reference.as_str()), "the spec's image runs");
    assert_eq!(s.deployment.as_ref().map(|d| d.state), Some(DeploymentState::Completed));
    assert!(s.healthy.unwrap_or_default() >= 1, "{s:?}");
    assert_eq!(services(&ecs, &env_id).await.len(), 1, "exactly one service across the kill");
    let lbs = load_balancers(&elb, &env_id).await;
    assert_eq!(lbs.len(), 1, "exactly one load balancer");
    let lb = lbs[0].clone();
    let lb_arn = lb.load_balancer_arn().expect("arn").to_string();
    let url = format!("https://{}", lb.dns_name().expect("dns"));
    assert_eq!(status.outputs.url.as_deref(), Some(url.as_str()), "no domain: the ALB's URL");
    assert_eq!(status.outputs.service_url.as_deref(), Some(url.as_str()));
    let clusters = ecs.describe_clusters().clusters(&env_id).send().await?;
    assert_eq!(clusters.clusters().iter().filter(|c| c.status() == Some("ACTIVE")).count(), 1);

    // The container: credentials by ARN, never as values; settings as plain values.
    let svc = service(&ecs, &env_id).await.expect("service");
    let td = ecs
        .describe_task_definition()
        .task_definition(svc.task_definition().expect("task definition"))
        .send()
        .await?;
    let container = td.task_definition().expect("td").container_definitions()[0].clone();
    assert_eq!(container.image(), Some(reference.as_str()));
    let secret_names: Vec<&str> = container.secrets().iter().map(|s| s.name()).collect();
    for name in [
        "REDCAP_DB_MASTER_SECRET",
        "REDCAP_SALT",
        "REDCAP_S3_CREDENTIALS",
        "REDCAP_SMTP_CREDENTIALS",
        "REDCAP_SITE_ADMIN_PASSWORD",
    ] {
        assert!(secret_names.contains(&name), "{name} injected: {secret_names:?}");
    }
    assert!(container.secrets().iter().all(|s| s.value_from().starts_with("arn:")));
    let env_names: Vec<&str> = container.environment().iter().filter_map(|kv| kv.name()).collect();
    assert!(env_names.contains(&"REDCAP_DB_HOST") && env_names.contains(&"REDCAP_TIMEZONE"));
    assert!(!env_names.iter().any(|n| secret_names.contains(n)), "no secret as a value");
    assert!(
        status.outputs.secrets.iter().any(|s| s.name == "siteAdmin"),
        "the site-admin secret is named in status"
    );
    let grace = svc.health_check_grace_period_seconds().unwrap_or_default();
    assert!(grace >= 900, "grace period {grace}");

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

    // Hand edits: the listener's certificate and the idle timeout come back; a desired
    // count changed by autoscaling stays.
    let https = elb.describe_listeners().load_balancer_arn(&lb_arn).send().await?;
    let https_arn = https
        .listeners()
        .iter()
        .find(|l| l.port() == Some(443))
        .and_then(|l| l.listener_arn())
        .expect("HTTPS listener")
        .to_string();
    elb.modify_listener()
        .listener_arn(&https_arn)
        .certificates(
            elbv2::types::Certificate::builder().certificate_arn(&other_certificate).build(),
        )
        .send()
        .await?;
    elb.modify_load_balancer_attributes()
        .load_balancer_arn(&lb_arn)
        .attributes(
            elbv2::types::LoadBalancerAttribute::builder()
                .key("idle_timeout.timeout_seconds")
                .value("60")
                .build(),
        )
        .send()
        .await?;
    ecs.update_service().cluster(&env_id).service("redcap").desired_count(2).send().await?;
    eventually_despite_errors(
        "the listener certificate and idle timeout to be reverted",
        TIMEOUT,
        async || {
            Ok(listener_certificate(&elb, &lb_arn).await.as_deref() == Some(certificate.as_str())
                && idle_timeout(&elb, &lb_arn).await.as_deref() == Some("4000"))
        },
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        service(&ecs, &env_id).await.map(|s| s.desired_count()),
        Some(2),
        "autoscaling's desired count is never reverted"
    );

    // A hand-made revision on the service is pointed back at the operator's.
    let ours = svc.task_definition().expect("td").to_string();
    let theirs = ecs
        .register_task_definition()
        .family(format!("{env_id}-by-hand"))
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
        .cpu("2048")
        .memory("4096")
        .container_definitions(container.clone())
        .send()
        .await?
        .task_definition()
        .and_then(|t| t.task_definition_arn().map(str::to_string))
        .expect("arn");
    ecs.update_service().cluster(&env_id).service("redcap").task_definition(&theirs).send().await?;
    eventually_despite_errors(
        "the service to run the operator's revision again",
        TIMEOUT,
        async || {
            Ok(service(&ecs, &env_id).await.and_then(|s| s.task_definition().map(str::to_string))
                == Some(ours.clone()))
        },
    )
    .await?;
    env.wait_ready(&ns, NAME, TIMEOUT).await?;

    // A new image (rebuild): exactly one deployment.
    let deploys = op.operation_calls("UpdateService").await?;
    let registers = op.operation_calls("RegisterTaskDefinition").await?;
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
    assert_eq!(op.operation_calls("UpdateService").await? - deploys, 1.0, "exactly one deployment");
    assert_eq!(op.operation_calls("RegisterTaskDefinition").await? - registers, 1.0);
    let running = compute(&rebuilt).and_then(|c| c.service.as_ref()).and_then(|s| s.image.clone());

    // A deployment that fails: Stalled with the reason, not retried, old tasks serve.
    control.merge_config(&json!({"outcomes": {"ecs.deployment:redcap": "FAILED"}}))?;
    env.patch_spec(&ns, NAME, json!({"redcap": {"timezone": "Europe/Paris"}})).await?;
    let stalled = env.wait_env(&ns, NAME, TIMEOUT, "Stalled", is_stalled).await?;
    let message = condition_message(&stalled, "Stalled");
    assert!(message.contains("deployment failed"), "{message}");
    assert!(message.contains("keep serving"), "{message}");
    let failed_deploys = op.operation_calls("UpdateService").await?;
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        op.operation_calls("UpdateService").await?,
        failed_deploys,
        "a failed deployment is not retried"
    );
    let now = env.environments(&ns).get(NAME).await?;
    let c = compute(&now).expect("compute");
    assert!(c.failed_deployment.is_some(), "{c:?}");
    assert_eq!(
        c.service.as_ref().and_then(|s| s.image.clone()),
        running,
        "the old image still runs"
    );
    assert!(
        service(&ecs, &env_id).await.is_some_and(|s| s.running_count() >= 1),
        "old tasks serve"
    );

    // Fixed: the next spec change deploys and reaches Ready.
    control.merge_config(&json!({"outcomes": {"ecs.deployment:redcap": null}}))?;
    env.patch_spec(&ns, NAME, json!({"redcap": {"timezone": "Europe/Berlin"}})).await?;
    env.wait_env(&ns, NAME, TIMEOUT, "Ready after the fix", |e| {
        is_ready(e) && compute(e).is_some_and(|c| c.failed_deployment.is_none())
    })
    .await?;

    // Deletion removes the service, the load balancer and the cluster.
    env.delete_env(&ns, NAME).await?;
    env.wait_gone(&ns, NAME, TIMEOUT).await?;
    assert!(service(&ecs, &env_id).await.is_none(), "service deleted");
    assert!(load_balancers(&elb, &env_id).await.is_empty(), "load balancer deleted");
    let clusters = ecs.describe_clusters().clusters(&env_id).send().await?;
    assert!(clusters.clusters().iter().all(|c| c.status() != Some("ACTIVE")), "cluster deleted");
    op.stop().await?;
    Ok(())
}
