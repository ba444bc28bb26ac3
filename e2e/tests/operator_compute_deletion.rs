//! Deleting an environment under each deletion policy, one compute kind each, with the
//! operator as a process under the chart's RBAC against the real kube-apiserver and the
//! emulator: `Delete` (EcsFargate), `Snapshot` (EcsExpress) and `Retain` (AppRunner).
//!
//! Whatever the policy, what serves REDCap goes (service, cluster, load balancer, task
//! roles) and goes before the network; what holds data follows the policy: the database
//! cluster deleted, deleted after a final snapshot, or kept; the compute log group
//! deleted or kept and marked retained.
//!
//! Needs the local control plane with `REDCAP_OPERATOR_BIN` and `AWS_ENDPOINT_URL`;
//! fails, never skips, without them.

use std::time::Duration;

use k8s_openapi::api::events::v1::Event;
use k8s_openapi::jiff::Timestamp;
use redcap_e2e::emulator::request_certificate;
use redcap_e2e::manifests::{APP_RUNNER, EXPRESS, EnvironmentManifest, fargate};
use redcap_e2e::{Operator, OperatorOptions, TestEnv};
use redcap_operator::api::RedcapEnvironment;
use redcap_operator::aws::sdk::{
    aws_sdk_apprunner, aws_sdk_cloudwatchlogs, aws_sdk_ecs,
    aws_sdk_elasticloadbalancingv2 as elbv2, aws_sdk_iam, aws_sdk_rds,
};

const TIMEOUT: Duration = Duration::from_secs(300);

/// What the environment's status named before deletion.
struct Named {
    environment_id: String,
    cluster: String,
    service_arn: Option<String>,
}

fn named(e: &RedcapEnvironment) -> Named {
    let s = e.status.as_ref().expect("status");
    Named {
        environment_id: s.environment_id.clone().expect("status.environmentId"),
        cluster: s
            .database
            .as_ref()
            .and_then(|d| d.cluster_identifier.clone())
            .expect("status.database.clusterIdentifier"),
        service_arn: s
            .compute
            .as_ref()
            .and_then(|c| c.service.as_ref())
            .and_then(|s| s.arn.clone()),
    }
}

/// When the operator reported `reason` for the environment `name` (events.k8s.io).
fn reported_at(events: &[Event], name: &str, reason: &str) -> Option<Timestamp> {
    events
        .iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter_map(|e| e.event_time.as_ref().map(|t| t.0))
        .min()
}

async fn cluster_exists(rds: &aws_sdk_rds::Client, id: &str) -> bool {
    rds.describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .is_ok_and(|out| !out.db_clusters().is_empty())
}

async fn snapshot_exists(rds: &aws_sdk_rds::Client, id: &str) -> bool {
    rds.describe_db_cluster_snapshots()
        .db_cluster_snapshot_identifier(id)
        .send()
        .await
        .is_ok_and(|out| !out.db_cluster_snapshots().is_empty())
}

async fn active_ecs_cluster(ecs: &aws_sdk_ecs::Client, id: &str) -> bool {
    ecs.describe_clusters()
        .clusters(id)
        .send()
        .await
        .is_ok_and(|out| out.clusters().iter().any(|c| c.status() == Some("ACTIVE")))
}

/// The compute roles still there (the network's flow-logs role follows the network).
async fn compute_roles_left(iam: &aws_sdk_iam::Client, environment_id: &str) -> Vec<String> {
    let compute = ["task", "exec", "infra", "instance", "apprunner-access"]
        .map(|role| format!("{environment_id}-{role}"));
    let out = iam.list_roles().send().await.expect("ListRoles");
    out.roles().iter().map(|r| r.role_name().to_string()).filter(|n| compute.contains(n)).collect()
}

/// The compute log group, if it is still there, with its `redcap.dev/retained` tag.
async fn log_group(
    logs: &aws_sdk_cloudwatchlogs::Client,
    environment_id: &str,
) -> Option<Option<String>> {
    let out = logs.describe_log_groups().log_group_name_prefix("/redcap/").send().await.ok()?;
    let group = out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name().is_some_and(|n| n.contains(environment_id)))?;
    let tags = logs
        .list_tags_for_resource()
        .resource_arn(group.arn().unwrap_or_default().trim_end_matches(":*"))
        .send()
        .await
        .ok()?;
    Some(tags.tags().and_then(|t| t.get("redcap.dev/retained").cloned()))
}

#[tokio::test]
async fn every_policy_removes_compute_first_and_treats_the_data_as_told() -> anyhow::Result<()> {
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("delete").await?;
    let rds = aws_sdk_rds::Client::new(&env.aws);
    let ecs = aws_sdk_ecs::Client::new(&env.aws);
    let elb = elbv2::Client::new(&env.aws);
    let apprunner = aws_sdk_apprunner::Client::new(&env.aws);
    let iam = aws_sdk_iam::Client::new(&env.aws);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&env.aws);
    let certificate = request_certificate("us-east-1", "redcap.example.org")?;

    let cases = [
        ("gone", "Delete", fargate(&certificate)),
        ("snap", "Snapshot", EXPRESS.to_string()),
        ("kept", "Retain", APP_RUNNER.to_string()),
    ];
    for (name, policy, compute) in &cases {
        let manifest = EnvironmentManifest::new(name).deletion_policy(policy).compute(compute);
        env.apply_yaml(&ns, &manifest.yaml()).await?;
    }
    let mut op = Operator::start(&env, "delete", OperatorOptions::scoped(&ns)).await?;
    let mut before = Vec::new();
    for (name, _, _) in &cases {
        before.push(named(&env.wait_ready(&ns, name, TIMEOUT).await?));
    }
    for (name, _, _) in &cases {
        env.delete_env(&ns, name).await?;
    }
    for (name, _, _) in &cases {
        env.wait_gone(&ns, name, TIMEOUT).await?;
    }

    // What serves REDCap is gone under every policy.
    for ((name, _, _), n) in cases.iter().zip(&before) {
        assert!(!active_ecs_cluster(&ecs, &n.environment_id).await, "{name}: ECS cluster left");
        assert_eq!(
            compute_roles_left(&iam, &n.environment_id).await,
            Vec::<String>::new(),
            "{name}"
        );
    }
    assert!(
        elb.describe_load_balancers().names(&before[0].environment_id).send().await.is_err(),
        "the Fargate load balancer is deleted"
    );
    let app_runner = before[2].service_arn.as_deref().expect("App Runner service ARN");
    let left = apprunner.describe_service().service_arn(app_runner).send().await;
    assert!(
        left.as_ref()
            .map_or(true, |out| out.service().is_some_and(|s| s.status().as_str() == "DELETED")),
        "the App Runner service is deleted: {left:?}"
    );

    // The data follows the policy.
    assert!(!cluster_exists(&rds, &before[0].cluster).await, "Delete: cluster deleted");
    assert!(!cluster_exists(&rds, &before[1].cluster).await, "Snapshot: cluster deleted");
    assert!(
        snapshot_exists(&rds, &format!("{}-final", before[1].cluster)).await,
        "Snapshot: the final snapshot exists"
    );
    assert!(cluster_exists(&rds, &before[2].cluster).await, "Retain: cluster kept");
    assert_eq!(log_group(&logs, &before[0].environment_id).await, None, "Delete: logs deleted");
    assert_eq!(
        log_group(&logs, &before[2].environment_id).await,
        Some(Some("true".to_string())),
        "Retain: the log group is kept and marked retained"
    );

    // Compute before the network, wherever the network goes.
    let events = env.events(&ns).await?;
    for (name, _, _) in &cases[..2] {
        let compute = reported_at(&events, name, "ComputeDeleted");
        let network = reported_at(&events, name, "NetworkDeleted");
        assert!(compute.is_some() && network.is_some(), "{name}: {compute:?} {network:?}");
        assert!(compute <= network, "{name}: compute {compute:?} after network {network:?}");
    }
    // Retain: compute reports Retained (its log group stays; the service is gone, above)
    // and the network stays for the kept database.
    assert!(reported_at(&events, "kept", "ComputeRetained").is_some(), "Retain: compute retained");
    assert!(reported_at(&events, "kept", "NetworkRetained").is_some(), "Retain: network kept");
    assert!(reported_at(&events, "kept", "NetworkDeleted").is_none(), "Retain: network kept");
    op.stop().await?;
    Ok(())
}
