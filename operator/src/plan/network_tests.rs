//! Tests of the network plan: spec checks, live-change checks and output parsing.

use std::collections::BTreeMap;

use super::*;
use crate::api::tags;

const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/k";

fn identity() -> EnvIdentity {
    EnvIdentity::test()
}

fn spec(network: serde_json::Value) -> RedcapEnvironmentSpec {
    serde_json::from_value(serde_json::json!({
        "aws": {"region": "eu-west-1"},
        "redcap": {"version": "15.0.0", "source": {"s3": {"bucket": "redcap-binaries", "key": "redcap15.0.0.zip"}}},
        "network": network,
    }))
    .expect("spec")
}

fn plan(network: serde_json::Value) -> Result<DesiredNetwork, PlanError> {
    desired_network(
        &identity(),
        &spec(network),
        &[],
        KEY,
        "00000000",
        crate::aws::DEFAULT_PERMISSIONS_BOUNDARY,
    )
}

fn field_of(err: PlanError) -> &'static str {
    match err {
        PlanError::InvalidSpec { field, .. } => field,
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn stack_is_named_and_tagged_for_the_environment() {
    let want = plan(serde_json::json!({})).expect("plan");
    assert!(want.stack.name.starts_with("rc-prod-redcap-"), "{}", want.stack.name);
    assert!(want.stack.name.ends_with("-network"));
    assert!(want.stack.name.len() <= 128);
    assert_eq!(want.stack.tags.get(tags::UID), Some("uid-1"));
    assert_eq!(want.stack.tags.get(tags::COMPONENT), Some("network"));
    assert_eq!(want.layout.zones, 2);
    assert!(want.stack.body.len() < MAX_TEMPLATE_BODY);
}

#[test]
fn the_largest_template_fits_in_a_request() {
    let want = plan(serde_json::json!({"availabilityZones": 3})).expect("plan");
    assert!(want.stack.body.len() < MAX_TEMPLATE_BODY / 2, "{} bytes", want.stack.body.len());
}

#[test]
fn bad_network_specs_name_their_field() {
    let cases = [
        (serde_json::json!({"cidr": "10.0.0.0/24", "availabilityZones": 3}), "spec.network.cidr"),
        (serde_json::json!({"cidr": "10.0.0.1/16"}), "spec.network.cidr"),
        (serde_json::json!({"cidr": "10.0.0.0/26"}), "spec.network.cidr"),
        (serde_json::json!({"cidr": "169.254.0.0/16"}), "spec.network.cidr"),
        (serde_json::json!({"cidr": "banana"}), "spec.network.cidr"),
        (serde_json::json!({"availabilityZones": 4}), "spec.network.availabilityZones"),
    ];
    for (network, field) in cases {
        let err = plan(network.clone()).expect_err("refused");
        let text = err.to_string();
        assert_eq!(field_of(err), field, "{network}: {text}");
    }
    assert!(plan(serde_json::json!({"cidr": "10.0.0.0/24"})).is_ok(), "a /24 holds two zones");
}

#[test]
fn unknown_retention_is_refused() {
    let mut s = spec(serde_json::json!({}));
    s.logs.retention_days = 42;
    let err =
        desired_network(&identity(), &s, &[], KEY, "0", crate::aws::DEFAULT_PERMISSIONS_BOUNDARY)
            .expect_err("refused");
    assert_eq!(field_of(err), "spec.logs.retentionDays");
}

fn deployed(cidr: &str, zones: usize) -> NetworkOutputs {
    NetworkOutputs {
        vpc_id: "vpc-1".into(),
        vpc_cidr: cidr.into(),
        public_subnets: (0..zones).map(|i| format!("subnet-{i}")).collect(),
        ..NetworkOutputs::default()
    }
}

#[test]
fn live_network_refuses_a_new_range_and_fewer_zones() {
    let two = plan(serde_json::json!({})).expect("plan");
    let three = plan(serde_json::json!({"availabilityZones": 3})).expect("plan");
    assert!(check_live_change(&two, &deployed("10.0.0.0/16", 2)).is_ok());
    assert!(check_live_change(&three, &deployed("10.0.0.0/16", 2)).is_ok(), "growing is fine");
    let err = check_live_change(&two, &deployed("10.0.0.0/16", 3)).expect_err("shrink");
    assert!(err.to_string().contains("cannot shrink to 2"), "{err}");
    assert_eq!(field_of(err), "spec.network.availabilityZones");
    let err = check_live_change(&two, &deployed("10.9.0.0/16", 2)).expect_err("range");
    assert!(err.to_string().contains("vpc-1 uses 10.9.0.0/16"), "{err}");
    assert_eq!(field_of(err), "spec.network.cidr");
}

fn stack_outputs() -> BTreeMap<String, String> {
    use crate::plan::cfn::network::outputs as o;
    [
        (o::VPC_ID, "vpc-1"),
        (o::VPC_CIDR, "10.0.0.0/16"),
        (o::AVAILABILITY_ZONES, "eu-west-1a,eu-west-1b"),
        (o::PUBLIC_SUBNETS, "subnet-p1,subnet-p2"),
        (o::PRIVATE_SUBNETS, "subnet-q1,subnet-q2"),
        (o::ISOLATED_SUBNETS, "subnet-i1,subnet-i2"),
        (o::NAT_EGRESS_IPS, "203.0.113.1,203.0.113.2"),
        (o::LOAD_BALANCER_SG, "sg-lb"),
        (o::APPLICATION_SG, "sg-app"),
        (o::DATABASE_SG, "sg-db"),
        (o::ROTATION_SG, "sg-rot"),
        (o::MAINTENANCE_SG, "sg-mnt"),
        (o::ENDPOINT_SG, "sg-vpce"),
        (o::FLOW_LOG_GROUP, "/redcap/x/vpc-flow-logs"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn outputs_are_parsed_zone_by_zone() {
    let out = NetworkOutputs::from_stack_outputs(&stack_outputs()).expect("parsed");
    assert_eq!(out.vpc_id, "vpc-1");
    assert_eq!(out.availability_zones, ["eu-west-1a", "eu-west-1b"]);
    assert_eq!(out.isolated_subnets, ["subnet-i1", "subnet-i2"]);
    assert_eq!(out.nat_egress_ips, ["203.0.113.1", "203.0.113.2"]);
    assert_eq!(out.security_groups.database, "sg-db");
    assert_eq!(out.flow_log_group, "/redcap/x/vpc-flow-logs");
}

#[test]
fn a_missing_output_is_named() {
    let mut out = stack_outputs();
    out.remove("DatabaseSecurityGroupId");
    assert_eq!(
        NetworkOutputs::from_stack_outputs(&out),
        Err("the network stack has no DatabaseSecurityGroupId output".to_string())
    );
}

#[test]
fn user_tags_leave_room_for_the_template_tags() {
    let tag = |i: usize| crate::api::Tag { key: format!("k{i}"), value: "v".into() };
    let fits: Vec<Tag> = (0..42).map(tag).collect();
    assert!(
        desired_network(
            &identity(),
            &spec(serde_json::json!({})),
            &fits,
            KEY,
            "0",
            crate::aws::DEFAULT_PERMISSIONS_BOUNDARY
        )
        .is_ok()
    );
    let too_many: Vec<Tag> = (0..43).map(tag).collect();
    let err = desired_network(
        &identity(),
        &spec(serde_json::json!({})),
        &too_many,
        KEY,
        "0",
        crate::aws::DEFAULT_PERMISSIONS_BOUNDARY,
    )
    .expect_err("refused");
    assert!(err.to_string().contains("at most 42 tags"), "{err}");
    assert_eq!(field_of(err), "spec.aws.tags");
}
