//! The network component (a CloudFormation stack) against a real moto server.
//!
//! Needs `AWS_ENDPOINT_URL` pointing at the emulator (moto[server]==5.2.5 with the
//! extensions in `e2e/emulator/`; the CloudFormation ones in
//! `e2e/emulator/services/cloudformation.py` make moto resolve `Fn::GetAZs` per region,
//! roll back a failed create, keep resources across updates and delete the VPC's parts):
//! `bash e2e/scripts/moto.sh start <dir>`. The tests fail (never skip) without it. Each
//! test uses its own environment UID and call metrics, so they run in parallel on one
//! server.
//!
//! What AWS holds is checked through CloudFormation's own API and, for the EC2 resources'
//! tags, through moto's EC2 and CloudWatch Logs query endpoints with a plain HTTP request
//! (the operator has no EC2 client, and the tests do not add one).

use redcap_operator::aws::sdk::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use redcap_e2e::components::{self, Harness, all_ready, endpoint, writes_to};
use redcap_e2e::probe::{self, Limit, settle_until};
use redcap_operator::api::{ComponentName, ComponentState, RedcapEnvironment, tags};
use redcap_operator::aws::{CallCounts, ErrorClass};
use redcap_operator::reconcile::ComponentError;
use redcap_operator::reconcile::ledger::WriteMode;
use redcap_operator::reconcile::report::{ComponentReport, PassReport};

const REGION: &str = "eu-west-1";
/// moto's us-west-1 has two availability zones.
const TWO_ZONE_REGION: &str = "us-west-1";

async fn harness(region: &str) -> Harness {
    Harness::with_release(region, "redcap-binaries").await
}

/// A `RedcapEnvironment` as the API server would hand it over.
fn environment(region: &str, spec_extra: serde_json::Value) -> RedcapEnvironment {
    components::environment(region, "redcap-binaries", Some(1), spec_extra)
}

/// The same object after a spec edit (the API server bumps the generation).
fn edited(env: &RedcapEnvironment, edit: impl FnOnce(&mut RedcapEnvironment)) -> RedcapEnvironment {
    let mut next = env.clone();
    edit(&mut next);
    next.metadata.generation = Some(env.metadata.generation.unwrap_or(1) + 1);
    next
}

fn network(pass: &PassReport) -> &ComponentReport {
    components::report(pass, ComponentName::Network)
}

async fn apply(h: &Harness, env: &RedcapEnvironment) -> PassReport {
    h.pass(env).await
}

/// The stack writes since `before`.
fn cfn_writes(h: &Harness, before: &CallCounts) -> Vec<String> {
    writes_to(&h.metrics.snapshot().since(before), "cloudformation")
}

/// The first pass creates the key, and the stack waits for the key's policy; the second
/// creates the stack; the third finds it complete.
async fn converge(h: &Harness, env: &RedcapEnvironment) -> PassReport {
    let first = apply(h, env).await;
    assert_eq!(network(&first).state, ComponentState::Pending, "{first:?}");
    assert!(!network(&first).wrote);
    assert!(first.requeue_after.is_some());
    let (first, calls) = h.counted(apply(h, env)).await;
    assert_eq!(network(&first).state, ComponentState::Creating, "{first:?}");
    assert!(network(&first).wrote);
    assert_eq!(calls.of("cloudformation", "CreateStack"), 1);
    assert!(first.requeue_after.is_some());
    let second = apply(h, env).await;
    assert_eq!(network(&second).state, ComponentState::Ready, "{second:?}");
    // The database and the image's role, project and build (in the network) take a few
    // more passes.
    if all_ready(&second) {
        return second;
    }
    h.settle(env, 8).await
}

/// Several passes: nothing written anywhere, one `DescribeStacks` per pass for the network.
async fn assert_steady(h: &Harness, env: &RedcapEnvironment, passes: usize) -> PassReport {
    let before = h.metrics.snapshot();
    let mut last = None;
    for _ in 0..passes {
        let pass = apply(h, env).await;
        for c in &pass.components {
            assert!(components::settled(c.state), "{c:?}");
            assert!(!c.wrote, "{c:?}");
        }
        assert!(pass.is_settled(), "{pass:?}");
        last = Some(pass);
    }
    let calls = h.metrics.snapshot().since(&before);
    assert_eq!(calls.writes(), 0, "steady state wrote: {:?}", calls.write_operations());
    assert_eq!(calls.of("cloudformation", "DescribeStacks"), passes as u64, "one read per pass");
    assert_eq!(calls.of("cloudformation", "DescribeStackEvents"), 0);
    last.expect("at least one pass")
}

/// A query to moto's EC2 (form-encoded) or CloudWatch Logs (JSON, `target`) endpoint.
fn moto_query(region: &str, service: &str, target: Option<&str>, body: &str) -> String {
    let url = endpoint();
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(host).expect("connect to moto");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let content_type = if target.is_some() {
        "application/x-amz-json-1.1"
    } else {
        "application/x-www-form-urlencoded"
    };
    let target = target.map(|t| format!("X-Amz-Target: {t}\r\n")).unwrap_or_default();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: {content_type}\r\n{target}\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    response
}

/// Distinct values of `<tag>…</tag>` in an EC2 answer for resources tagged with `uid`.
fn ec2_ids(region: &str, action: &str, uid: &str, tag: &str) -> Vec<String> {
    ec2_filtered(region, action, &format!("tag:{}", tags::UID), uid, tag)
}

/// Distinct values of `<tag>…</tag>` in an EC2 answer filtered by `filter=value`.
fn ec2_filtered(region: &str, action: &str, filter: &str, value: &str, tag: &str) -> Vec<String> {
    let body = format!(
        "Action={action}&Version=2016-11-15&Filter.1.Name={filter}&Filter.1.Value.1={value}"
    );
    let answer = moto_query(region, "ec2", None, &body);
    let open = format!("<{tag}>");
    let mut ids: Vec<String> = answer
        .split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once('<').map(|(id, _)| id.to_string()))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn log_group_retention(region: &str, name: &str) -> Option<u64> {
    let answer = moto_query(
        region,
        "logs",
        Some("Logs_20140328.DescribeLogGroups"),
        &serde_json::json!({"logGroupNamePrefix": name}).to_string(),
    );
    let (_, json) = answer.split_once("\r\n\r\n")?;
    let groups: serde_json::Value = serde_json::from_str(json).ok()?;
    groups["logGroups"]
        .as_array()?
        .iter()
        .find(|g| g["logGroupName"] == name)?
        .get("retentionInDays")?
        .as_u64()
}

async fn stack(
    h: &Harness,
    env: &RedcapEnvironment,
) -> Option<aws_sdk_cloudformation::types::Stack> {
    let name = network_stack_name(env);
    h.ctx
        .cloudformation
        .describe_stacks()
        .stack_name(&name)
        .send()
        .await
        .ok()
        .and_then(|out| out.stacks().first().cloned())
}

fn network_stack_name(env: &RedcapEnvironment) -> String {
    redcap_operator::plan::network::stack_name(&components::environment_id(env))
}

fn output(stack: &aws_sdk_cloudformation::types::Stack, key: &str) -> String {
    stack
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some(key))
        .and_then(|o| o.output_value())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn stack_is_created_with_tagged_subnets_nat_and_endpoints_then_writes_nothing() {
    let h = harness(REGION).await;
    let env = environment(REGION, serde_json::json!({}));
    let uid = env.metadata.uid.clone().expect("uid");
    let ready = converge(&h, &env).await;
    let vpc = ready.outputs.vpc_id.clone().expect("vpc id in status");
    assert_eq!(ready.outputs.nat_egress_ips.len(), 2, "{:?}", ready.outputs);

    let stack = stack(&h, &env).await.expect("stack");
    assert_eq!(stack.stack_status().map(|s| s.as_str()), Some("CREATE_COMPLETE"));
    assert!(
        stack.tags().iter().any(|t| t.key() == Some(tags::UID) && t.value() == Some(uid.as_str()))
    );
    assert_eq!(output(&stack, "VpcId"), vpc);
    assert_eq!(output(&stack, "AvailabilityZones"), "eu-west-1a,eu-west-1b");
    let resources = h
        .ctx
        .cloudformation
        .list_stack_resources()
        .stack_name(network_stack_name(&env))
        .send()
        .await
        .expect("resources");
    let count = |ty: &str| {
        resources
            .stack_resource_summaries()
            .iter()
            .filter(|r| r.resource_type() == Some(ty))
            .count()
    };
    assert_eq!(count("AWS::EC2::Subnet"), 6);
    assert_eq!(count("AWS::EC2::NatGateway"), 2);
    assert_eq!(count("AWS::EC2::EIP"), 2);
    assert_eq!(count("AWS::EC2::VPCEndpoint"), 2);
    assert_eq!(count("AWS::EC2::SecurityGroup"), 7);
    assert_eq!(count("AWS::EC2::FlowLog"), 1);

    // The EC2 resources carry the ownership tags (stack tags propagate).
    assert_eq!(ec2_ids(REGION, "DescribeSubnets", &uid, "subnetId").len(), 6);
    // moto ignores tag filters on NAT gateways: find them by VPC, then read their tags.
    let nats = ec2_filtered(REGION, "DescribeNatGateways", "vpc-id", &vpc, "natGatewayId");
    assert_eq!(nats.len(), 2);
    for nat in &nats {
        let tagged = ec2_filtered(REGION, "DescribeNatGateways", "nat-gateway-id", nat, "value");
        assert!(tagged.contains(&uid), "{nat} lacks the UID tag: {tagged:?}");
    }
    assert_eq!(ec2_ids(REGION, "DescribeFlowLogs", &uid, "flowLogId").len(), 1);
    let endpoints = ec2_ids(REGION, "DescribeVpcEndpoints", &uid, "serviceName");
    assert_eq!(endpoints, ["com.amazonaws.eu-west-1.s3", "com.amazonaws.eu-west-1.secretsmanager"]);
    let log_group = output(&stack, "FlowLogGroupName");
    assert_eq!(log_group_retention(REGION, &log_group), Some(365));
    // The flow logs role the stack creates carries the operator's permissions boundary.
    let role_name =
        redcap_operator::plan::cfn::network::flow_log_role_name(&components::environment_id(&env));
    assert_eq!(
        probe::role_boundary(&h.ctx.iam, &role_name).await.as_deref(),
        Some(components::PERMISSIONS_BOUNDARY_ARN),
        "flow logs role"
    );

    let steady = assert_steady(&h, &env, 3).await;
    assert_eq!(steady.outputs.vpc_id, ready.outputs.vpc_id);
    assert_eq!(steady.outputs.nat_egress_ips, ready.outputs.nat_egress_ips);
}

#[tokio::test]
async fn changed_retention_updates_the_stack_once() {
    let h = harness(REGION).await;
    let env = environment(REGION, serde_json::json!({}));
    converge(&h, &env).await;
    let hash_before = output(&stack(&h, &env).await.expect("stack"), "TemplateHash");

    let changed = edited(&env, |e| e.spec.logs.retention_days = 30);
    let (pass, calls) = h.counted(apply(&h, &changed)).await;
    assert_eq!(network(&pass).state, ComponentState::Updating, "{pass:?}");
    assert_eq!(writes_to(&calls, "cloudformation"), ["cloudformation.UpdateStack"]);
    assert_eq!(calls.of("cloudformation", "UpdateStack"), 1);

    let stack = stack(&h, &changed).await.expect("stack");
    assert_eq!(stack.stack_status().map(|s| s.as_str()), Some("UPDATE_COMPLETE"));
    assert_ne!(output(&stack, "TemplateHash"), hash_before);
    assert_eq!(log_group_retention(REGION, &output(&stack, "FlowLogGroupName")), Some(30));
    assert_eq!(
        output(&stack, "VpcId"),
        pass.outputs.vpc_id.clone().unwrap_or_default(),
        "same VPC"
    );

    assert_steady(&h, &changed, 3).await;
}

#[tokio::test]
async fn deletion_removes_the_stack_even_when_data_is_retained() {
    let h = harness(REGION).await;
    // Snapshot: the buckets, the key and the salt are kept, the database leaves a final
    // snapshot; nothing is left in the network, so it goes. (Under Retain the database
    // stays, and the network with it: see e2e/tests/component_database.rs.)
    let env = environment(REGION, serde_json::json!({"deletionPolicy": "Snapshot"}));
    let uid = env.metadata.uid.clone().expect("uid");
    let vpc = converge(&h, &env).await.outputs.vpc_id.expect("vpc");
    assert_eq!(ec2_ids(REGION, "DescribeSubnets", &uid, "subnetId").len(), 6);

    let step = async || h.cleanup(&env).await;
    let pass = settle_until(Limit::Tries(20), Duration::ZERO, step, |p| p.requeue_after.is_none())
        .await
        .unwrap_or_else(|last| last);
    assert!(pass.requeue_after.is_none(), "cleanup did not finish: {pass:?}");
    let names: Vec<ComponentName> = pass.components.iter().map(|c| c.name).collect();
    let mut reverse = ComponentName::all().collect::<Vec<_>>();
    reverse.reverse();
    assert_eq!(names, reverse, "cleanup reports every component, last built first");
    assert_eq!(network(&pass).state, ComponentState::Deleted, "{pass:?}");
    let key = pass.components.iter().find(|c| c.name == ComponentName::EncryptionKey).expect("key");
    assert_eq!(key.state, ComponentState::Retained);
    assert!(stack(&h, &env).await.is_none(), "stack deleted");
    assert!(ec2_ids(REGION, "DescribeSubnets", &uid, "subnetId").is_empty());
    assert!(ec2_filtered(REGION, "DescribeNatGateways", "vpc-id", &vpc, "natGatewayId").is_empty());
    assert!(ec2_filtered(REGION, "DescribeVpcs", "vpc-id", &vpc, "vpcId").is_empty());

    // Idempotent: nothing left to delete, nothing written for the network.
    let before = h.metrics.snapshot();
    let again = h.cleanup(&env).await;
    assert_eq!(network(&again).state, ComponentState::Deleted);
    assert!(cfn_writes(&h, &before).is_empty());
}

#[tokio::test]
async fn more_zones_than_the_region_has_stalls_then_recovers_after_a_fix() {
    let h = harness(TWO_ZONE_REGION).await;
    let env =
        environment(TWO_ZONE_REGION, serde_json::json!({"network": {"availabilityZones": 3}}));
    apply(&h, &env).await;
    let first = apply(&h, &env).await;
    assert_eq!(network(&first).state, ComponentState::Creating);

    // The create rolled back: a terminal error naming the cause, and no write however
    // often it is retried.
    let before = h.metrics.snapshot();
    for _ in 0..3 {
        let err = h.failing_pass(&env).await;
        assert_eq!(err.class(), ErrorClass::Terminal, "{err}");
        assert_eq!(err.component(), ComponentName::Network);
        let ComponentError::Aws { source, .. } = &err else { panic!("{err}") };
        assert_eq!(source.code, "StackCreateFailed");
        assert!(
            source.message.contains("Fn::Select cannot select nonexistent value at index 2"),
            "{err}"
        );
        assert!(source.message.contains("spec.network.availabilityZones is 3"), "{err}");
    }
    assert!(cfn_writes(&h, &before).is_empty(), "no hot loop");
    assert_eq!(
        stack(&h, &env).await.and_then(|s| s.stack_status().map(|s| s.as_str().to_string())),
        Some("ROLLBACK_COMPLETE".to_string()),
        "the failed stack is kept for its events"
    );

    // Fixed spec: the empty stack is deleted, then created again.
    let fixed = edited(&env, |e| e.spec.network.availability_zones = 2);
    let pass = apply(&h, &fixed).await;
    assert_eq!(network(&pass).state, ComponentState::Creating, "{pass:?}");
    assert!(
        network(&pass).message.as_deref().unwrap_or_default().contains("failed first create"),
        "{pass:?}"
    );
    let pass = apply(&h, &fixed).await;
    assert_eq!(network(&pass).state, ComponentState::Creating, "{pass:?}");
    let pass = apply(&h, &fixed).await;
    assert_eq!(network(&pass).state, ComponentState::Ready, "{pass:?}");
    assert_eq!(pass.outputs.nat_egress_ips.len(), 2);
}

#[tokio::test]
async fn bad_cidr_and_fewer_zones_on_a_live_network_are_refused_without_a_stack_write() {
    let h = harness(REGION).await;
    let env = environment(
        REGION,
        serde_json::json!({"network": {"cidr": "10.1.0.0/24", "availabilityZones": 3}}),
    );
    let before = h.metrics.snapshot();
    let err = h.failing_pass(&env).await;
    assert_eq!(err.class(), ErrorClass::Terminal);
    assert!(err.to_string().contains("spec.network.cidr: 10.1.0.0/24 is too small for 3"), "{err}");
    assert!(cfn_writes(&h, &before).is_empty());

    let three = environment(REGION, serde_json::json!({"network": {"availabilityZones": 3}}));
    let ready = converge(&h, &three).await;
    assert_eq!(ready.outputs.nat_egress_ips.len(), 3);
    let fewer = edited(&three, |e| e.spec.network.availability_zones = 2);
    let before = h.metrics.snapshot();
    let err = h.failing_pass(&fewer).await;
    assert!(err.to_string().contains("cannot shrink to 2"), "{err}");
    assert_eq!(err.class(), ErrorClass::Terminal);
    assert!(cfn_writes(&h, &before).is_empty(), "the network is left as it is");
    let uid = three.metadata.uid.clone().expect("uid");
    assert_eq!(ec2_ids(REGION, "DescribeSubnets", &uid, "subnetId").len(), 9);
}

#[tokio::test]
async fn suspended_environments_get_no_stack_writes() {
    let h = harness(REGION).await;
    let fresh = environment(REGION, serde_json::json!({}));
    let (pass, calls) = h.counted(h.try_pass(&fresh, WriteMode::ObserveOnly)).await;
    let pass = pass.expect("observe");
    assert_eq!(network(&pass).state, ComponentState::Pending, "{pass:?}");
    assert_eq!(calls.writes(), 0);

    let env = environment(REGION, serde_json::json!({}));
    converge(&h, &env).await;
    let changed = edited(&env, |e| e.spec.logs.retention_days = 7);
    let (pass, calls) = h.counted(h.try_pass(&changed, WriteMode::ObserveOnly)).await;
    let pass = pass.expect("observe");
    assert_eq!(network(&pass).state, ComponentState::Updating);
    assert!(
        network(&pass)
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("not corrected while suspended: stack")
    );
    assert_eq!(calls.writes(), 0);
    let stack = stack(&h, &env).await.expect("stack");
    assert_eq!(log_group_retention(&h.ctx.region, &output(&stack, "FlowLogGroupName")), Some(365));
}
