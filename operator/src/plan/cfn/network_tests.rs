//! Golden and structural tests of the network template. `UPDATE_GOLDEN=1` rewrites the
//! golden files under `plan/cfn/golden/`; otherwise a difference fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

use crate::api::{NatGateways, RedcapEnvironmentSpec};
use crate::plan::EnvIdentity;
use crate::plan::cfn::HASH_OUTPUT;
use crate::plan::network::desired_network;

const KEY_ARN: &str = "arn:aws:kms:eu-west-1:123456789012:key/0f1e2d3c-aaaa-bbbb-cccc-123456789012";
const BOUNDARY: &str = "redcap-operator-boundary";

fn identity() -> EnvIdentity {
    EnvIdentity {
        namespace: "prod".into(),
        name: "redcap".into(),
        uid: "6a1f7c3e-0000-4000-8000-000000000001".into(),
        region: "eu-west-1".into(),
    }
}

fn spec(zones: u32, nat: NatGateways) -> RedcapEnvironmentSpec {
    let mut spec: RedcapEnvironmentSpec = serde_json::from_value(serde_json::json!({
        "aws": {"region": "eu-west-1"},
        "redcap": {"version": "15.0.0", "source": {"s3": {"bucket": "redcap-binaries", "key": "redcap15.0.0.zip"}}}
    }))
    .expect("spec");
    spec.network.availability_zones = zones;
    spec.network.nat_gateways = nat;
    spec
}

fn render(zones: u32, nat: NatGateways) -> Value {
    let want = desired_network(&identity(), &spec(zones, nat), &[], KEY_ARN, "00000000", BOUNDARY)
        .expect("renders");
    serde_json::from_str(&want.stack.body).expect("body is JSON")
}

fn golden(file: &str, template: &Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/plan/cfn/golden").join(file);
    let mut rendered = serde_json::to_string_pretty(template).expect("pretty");
    rendered.push('\n');
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered).expect("write golden file");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "{} is stale; review the change and regenerate it with\n    UPDATE_GOLDEN=1 cargo test -p redcap-operator --lib plan::cfn",
        path.display()
    );
}

#[test]
fn golden_default_two_zones() {
    golden("network-2az.json", &render(2, NatGateways::PerAz));
}

#[test]
fn golden_three_zones() {
    golden("network-3az.json", &render(3, NatGateways::PerAz));
}

#[test]
fn golden_single_nat() {
    golden("network-single-nat.json", &render(2, NatGateways::Single));
}

fn resources(t: &Value) -> &serde_json::Map<String, Value> {
    t["Resources"].as_object().expect("resources")
}

fn of_type<'a>(t: &'a Value, ty: &str) -> Vec<(&'a String, &'a Value)> {
    resources(t).iter().filter(|(_, r)| r["Type"] == ty).collect()
}

/// Every `Ref`, `Fn::GetAtt`, `${…}` in `Fn::Sub` and `DependsOn` in `value`.
fn references(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("Ref", Value::String(s)) => {
                        out.insert(s.clone());
                    }
                    ("Fn::GetAtt", Value::Array(a)) => {
                        if let Some(Value::String(s)) = a.first() {
                            out.insert(s.clone());
                        }
                    }
                    ("Fn::Sub", Value::String(s)) => {
                        for part in s.split("${").skip(1) {
                            if let Some((name, _)) = part.split_once('}') {
                                out.insert(name.split('.').next().unwrap_or(name).to_string());
                            }
                        }
                    }
                    ("DependsOn", Value::String(s)) => {
                        out.insert(s.clone());
                    }
                    _ => references(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

fn deps(t: &Value) -> BTreeMap<String, BTreeSet<String>> {
    resources(t)
        .iter()
        .map(|(id, r)| {
            let mut refs = BTreeSet::new();
            references(r, &mut refs);
            refs.retain(|s| !s.starts_with("AWS::"));
            (id.clone(), refs)
        })
        .collect()
}

#[test]
fn every_reference_resolves_and_there_is_no_cycle() {
    for (zones, nat) in [(2, NatGateways::PerAz), (3, NatGateways::PerAz), (3, NatGateways::Single)]
    {
        let t = render(zones, nat);
        let graph = deps(&t);
        let mut in_outputs = BTreeSet::new();
        references(&t["Outputs"], &mut in_outputs);
        for (id, refs) in graph.iter().chain([(&"Outputs".to_string(), &in_outputs)]) {
            for target in refs {
                assert!(
                    graph.contains_key(target)
                        || matches!(
                            target.as_str(),
                            "AWS::Region" | "AWS::AccountId" | "AWS::Partition"
                        ),
                    "{id} refers to unknown {target}"
                );
            }
        }
        // Kahn's algorithm: every resource must be creatable in some order.
        let mut remaining = graph.clone();
        while !remaining.is_empty() {
            let ready: Vec<String> = remaining
                .iter()
                .filter(|(_, d)| d.iter().all(|x| !remaining.contains_key(x)))
                .map(|(id, _)| id.clone())
                .collect();
            assert!(!ready.is_empty(), "dependency cycle among {:?}", remaining.keys());
            for id in ready {
                remaining.remove(&id);
            }
        }
    }
}

#[test]
fn two_zones_have_six_subnets_two_nat_gateways_and_their_routes() {
    let t = render(2, NatGateways::PerAz);
    assert_eq!(of_type(&t, "AWS::EC2::Subnet").len(), 6);
    assert_eq!(of_type(&t, "AWS::EC2::NatGateway").len(), 2);
    assert_eq!(of_type(&t, "AWS::EC2::EIP").len(), 2);
    assert_eq!(of_type(&t, "AWS::EC2::SubnetRouteTableAssociation").len(), 6);
    let r = resources(&t);
    assert_eq!(r["PrivateDefaultRoute2"]["Properties"]["NatGatewayId"]["Ref"], "NatGateway2");
    assert_eq!(r["NatGateway2"]["Properties"]["SubnetId"]["Ref"], "PublicSubnet2");
    assert_eq!(r["PublicSubnet1"]["Properties"]["CidrBlock"], "10.0.0.0/24");
    assert_eq!(r["IsolatedSubnet2"]["Properties"]["CidrBlock"], "10.0.6.0/24");
    assert_eq!(
        r["PrivateSubnet2"]["Properties"]["AvailabilityZone"],
        serde_json::json!({"Fn::Select": [1, {"Fn::GetAZs": ""}]})
    );
    assert_eq!(r["PublicSubnet1"]["Properties"]["MapPublicIpOnLaunch"], true);
    assert!(r["PrivateSubnet1"]["Properties"].get("MapPublicIpOnLaunch").is_none());
    // The isolated tier has no route out.
    let isolated_routes = of_type(&t, "AWS::EC2::Route")
        .into_iter()
        .filter(|(_, v)| v["Properties"]["RouteTableId"]["Ref"] == "IsolatedRouteTable")
        .count();
    assert_eq!(isolated_routes, 0);
}

#[test]
fn three_zones_add_the_third_zone_without_moving_the_others() {
    let two = render(2, NatGateways::PerAz);
    let three = render(3, NatGateways::PerAz);
    assert_eq!(of_type(&three, "AWS::EC2::Subnet").len(), 9);
    assert_eq!(of_type(&three, "AWS::EC2::NatGateway").len(), 3);
    for (id, resource) in resources(&two) {
        if resource["Type"] == "AWS::EC2::Subnet" {
            assert_eq!(resource, &resources(&three)[id], "{id} moved");
        }
    }
}

#[test]
fn single_nat_serves_every_zone() {
    let t = render(3, NatGateways::Single);
    assert_eq!(of_type(&t, "AWS::EC2::NatGateway").len(), 1);
    for n in 1..=3 {
        assert_eq!(
            resources(&t)[&format!("PrivateDefaultRoute{n}")]["Properties"]["NatGatewayId"]["Ref"],
            "NatGateway1"
        );
    }
    let ips = &t["Outputs"]["NatEgressIps"]["Value"]["Fn::Join"][1];
    assert_eq!(ips.as_array().map(Vec::len), Some(1));
}

#[test]
fn database_accepts_mysql_only_from_its_three_clients_and_sends_nothing() {
    let t = render(2, NatGateways::PerAz);
    let db = &resources(&t)["DatabaseSecurityGroup"]["Properties"];
    let ingress = db["SecurityGroupIngress"].as_array().expect("ingress");
    let sources: BTreeSet<&str> = ingress
        .iter()
        .map(|rule| {
            assert_eq!(rule["FromPort"], 3306);
            assert_eq!(rule["ToPort"], 3306);
            assert_eq!(rule["IpProtocol"], "tcp");
            assert!(rule.get("CidrIp").is_none());
            rule["SourceSecurityGroupId"]["Ref"].as_str().expect("group")
        })
        .collect();
    assert_eq!(
        sources,
        BTreeSet::from([
            "ApplicationSecurityGroup",
            "MaintenanceSecurityGroup",
            "RotationSecurityGroup"
        ])
    );
    assert_eq!(db["SecurityGroupEgress"][0]["CidrIp"], "255.255.255.255/32");
    let app = &resources(&t)["ApplicationSecurityGroup"]["Properties"];
    assert_eq!(app["SecurityGroupIngress"][0]["FromPort"], 8080);
    assert!(
        resources(&t)["MaintenanceSecurityGroup"]["Properties"]
            .get("SecurityGroupIngress")
            .is_none()
    );
    // Image builds take nothing in and are not among the database's sources above.
    let build = &resources(&t)["BuildSecurityGroup"]["Properties"];
    assert!(build.get("SecurityGroupIngress").is_none());
    assert!(build.get("SecurityGroupEgress").is_none(), "all outbound (base images, packages)");
    let endpoint = &resources(&t)["EndpointSecurityGroup"]["Properties"]["SecurityGroupIngress"][0];
    assert_eq!(endpoint["CidrIp"], "10.0.0.0/16");
    assert_eq!(endpoint["FromPort"], 443);
}

#[test]
fn flow_logs_capture_all_traffic_into_the_encrypted_group_with_the_retention() {
    let mut s = spec(2, NatGateways::PerAz);
    s.logs.retention_days = 30;
    let want =
        desired_network(&identity(), &s, &[], KEY_ARN, "00000000", BOUNDARY).expect("renders");
    let t: Value = serde_json::from_str(&want.stack.body).expect("json");
    let group = &resources(&t)["FlowLogGroup"]["Properties"];
    assert_eq!(group["RetentionInDays"], 30);
    assert_eq!(group["KmsKeyId"], KEY_ARN);
    assert_eq!(group["LogGroupName"], want.log_group.as_str());
    assert!(want.log_group.starts_with("/redcap/rc-prod-redcap-"));
    let flow = &resources(&t)["FlowLog"]["Properties"];
    assert_eq!(flow["TrafficType"], "ALL");
    assert_eq!(flow["ResourceType"], "VPC");
    let endpoint = &resources(&t)["SecretsManagerEndpoint"]["Properties"];
    assert_eq!(endpoint["PrivateDnsEnabled"], true);
    assert_eq!(endpoint["ServiceName"]["Fn::Sub"], "com.amazonaws.${AWS::Region}.secretsmanager");
}

#[test]
fn outputs_carry_everything_later_components_need() {
    let t = render(2, NatGateways::PerAz);
    let outputs: BTreeSet<&str> =
        t["Outputs"].as_object().expect("outputs").keys().map(String::as_str).collect();
    for key in [
        "VpcId",
        "VpcCidr",
        "AvailabilityZones",
        "PublicSubnetIds",
        "PrivateSubnetIds",
        "IsolatedSubnetIds",
        "NatEgressIps",
        "LoadBalancerSecurityGroupId",
        "ApplicationSecurityGroupId",
        "DatabaseSecurityGroupId",
        "RotationSecurityGroupId",
        "MaintenanceSecurityGroupId",
        "EndpointSecurityGroupId",
        "BuildSecurityGroupId",
        "FlowLogGroupName",
        HASH_OUTPUT,
    ] {
        assert!(outputs.contains(key), "missing output {key}");
    }
}

#[test]
fn a_retention_change_changes_the_hash_and_nothing_else_does() {
    let base = desired_network(
        &identity(),
        &spec(2, NatGateways::PerAz),
        &[],
        KEY_ARN,
        "00000000",
        BOUNDARY,
    )
    .expect("renders");
    let again = desired_network(
        &identity(),
        &spec(2, NatGateways::PerAz),
        &[],
        KEY_ARN,
        "ffffffff",
        BOUNDARY,
    )
    .expect("renders");
    assert_eq!(base.stack.hash, again.stack.hash, "the salt is not content");
    assert_ne!(base.stack.token, again.stack.token, "but it is a new attempt");
    let mut s = spec(2, NatGateways::PerAz);
    s.logs.retention_days = 30;
    let changed =
        desired_network(&identity(), &s, &[], KEY_ARN, "00000000", BOUNDARY).expect("renders");
    assert_ne!(base.stack.hash, changed.stack.hash);
    let tag = crate::api::Tag { key: "team".into(), value: "research".into() };
    let tagged = desired_network(
        &identity(),
        &spec(2, NatGateways::PerAz),
        &[tag],
        KEY_ARN,
        "00000000",
        BOUNDARY,
    )
    .expect("renders");
    assert_ne!(base.stack.hash, tagged.stack.hash, "tags are part of the content");
}

#[test]
fn the_flow_logs_role_carries_the_permissions_boundary_of_the_stacks_account() {
    let t = render(2, NatGateways::PerAz);
    assert_eq!(
        t["Resources"]["FlowLogRole"]["Properties"]["PermissionsBoundary"],
        serde_json::json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/redcap-operator-boundary"})
    );
}
