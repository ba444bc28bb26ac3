//! The network stack's template (step: plan; pure, no I/O): VPC, three subnet tiers per
//! availability zone, internet and NAT gateways, route tables, the S3 and Secrets
//! Manager endpoints, VPC flow logs and the security groups every later component uses.
//!
//! Logical ids are stable across spec changes (zone `n` is `…n`, 1-based), so changing
//! the NAT mode, the zone count or the retention updates resources in place or adds and
//! removes only what changed; nothing that holds other components' network interfaces is
//! replaced. Availability zones come from `Fn::GetAZs` (no EC2 client in the operator);
//! a region with too few zones fails the create, which the stack state machine reports.

use serde_json::{Map, Value, json};

use crate::api::NatGateways;
use crate::plan::cidr::{SubnetLayout, Tier};

use super::{get_att, join_comma, name_tag, no_egress, r, sub};

/// Outputs of the stack (each a string; lists are comma-separated, zone by zone).
pub mod outputs {
    pub const VPC_ID: &str = "VpcId";
    pub const VPC_CIDR: &str = "VpcCidr";
    pub const AVAILABILITY_ZONES: &str = "AvailabilityZones";
    pub const PUBLIC_SUBNETS: &str = "PublicSubnetIds";
    pub const PRIVATE_SUBNETS: &str = "PrivateSubnetIds";
    pub const ISOLATED_SUBNETS: &str = "IsolatedSubnetIds";
    pub const NAT_EGRESS_IPS: &str = "NatEgressIps";
    pub const LOAD_BALANCER_SG: &str = "LoadBalancerSecurityGroupId";
    pub const APPLICATION_SG: &str = "ApplicationSecurityGroupId";
    pub const DATABASE_SG: &str = "DatabaseSecurityGroupId";
    pub const ROTATION_SG: &str = "RotationSecurityGroupId";
    pub const MAINTENANCE_SG: &str = "MaintenanceSecurityGroupId";
    pub const ENDPOINT_SG: &str = "EndpointSecurityGroupId";
    pub const BUILD_SG: &str = "BuildSecurityGroupId";
    pub const FLOW_LOG_GROUP: &str = "FlowLogGroupName";
}

/// The MySQL port Aurora listens on.
pub const DATABASE_PORT: u16 = 3306;

/// Everything the template depends on.
#[derive(Clone, Debug)]
pub struct NetworkTemplateInput<'a> {
    pub environment_id: &'a str,
    pub description: String,
    pub layout: &'a SubnetLayout,
    pub nat: NatGateways,
    pub retention_days: u32,
    pub kms_key_arn: &'a str,
    pub log_group_name: &'a str,
    /// Port the application containers listen on (`spec.compute.port`).
    pub app_port: u16,
    /// Name (with path) of the permissions boundary policy of the flow logs role, in the
    /// stack's account (the operator's policy refuses a role without it).
    pub permissions_boundary: &'a str,
}

fn tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Public => "Public",
        Tier::Private => "Private",
        Tier::Isolated => "Isolated",
    }
}

/// Logical id of the subnet of `tier` in zone `zone` (0-based).
pub fn subnet_id(tier: Tier, zone: u32) -> String {
    format!("{}Subnet{}", tier_name(tier), zone + 1)
}

/// The zone whose NAT gateway serves zone `zone`'s private subnet.
fn nat_for(nat: NatGateways, zone: u32) -> u32 {
    match nat {
        NatGateways::PerAz => zone,
        NatGateways::Single => 0,
    }
}

/// Renders the template. Keys come out sorted (serde_json's map), so equal inputs give
/// byte-equal bodies.
pub fn network_template(input: &NetworkTemplateInput<'_>) -> Value {
    let env = input.environment_id;
    let zones = input.layout.zones;
    let mut res = Map::new();
    let mut put = |id: String, resource: Value| {
        res.insert(id, resource);
    };

    put(
        "Vpc".into(),
        json!({"Type": "AWS::EC2::VPC", "Properties": {
            "CidrBlock": input.layout.vpc.to_string(),
            "EnableDnsHostnames": true,
            "EnableDnsSupport": true,
            "Tags": name_tag(&format!("{env}-vpc")),
        }}),
    );
    put(
        "InternetGateway".into(),
        json!({"Type": "AWS::EC2::InternetGateway", "Properties": {
            "Tags": name_tag(&format!("{env}-igw")),
        }}),
    );
    put(
        "InternetGatewayAttachment".into(),
        json!({"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {
            "InternetGatewayId": r("InternetGateway"),
            "VpcId": r("Vpc"),
        }}),
    );

    // Route tables: one public, one private per zone (each to its NAT gateway), one
    // isolated (local routes only, plus the S3 gateway endpoint).
    put("PublicRouteTable".into(), route_table(&format!("{env}-public")));
    put(
        "PublicDefaultRoute".into(),
        json!({"Type": "AWS::EC2::Route", "DependsOn": "InternetGatewayAttachment", "Properties": {
            "DestinationCidrBlock": "0.0.0.0/0",
            "GatewayId": r("InternetGateway"),
            "RouteTableId": r("PublicRouteTable"),
        }}),
    );
    put("IsolatedRouteTable".into(), route_table(&format!("{env}-isolated")));

    for zone in 0..zones {
        let n = zone + 1;
        for tier in Tier::ALL {
            let Some(cidr) = input.layout.subnet(zone, tier) else {
                continue;
            };
            let mut props = json!({
                "AvailabilityZone": zone_of(zone),
                "CidrBlock": cidr.to_string(),
                "Tags": [
                    {"Key": "Name", "Value": format!("{env}-{}-{n}", tier.as_str())},
                    {"Key": "redcap.dev/subnet-tier", "Value": tier.as_str()},
                ],
                "VpcId": r("Vpc"),
            });
            if tier == Tier::Public {
                props["MapPublicIpOnLaunch"] = json!(true);
            }
            put(subnet_id(tier, zone), json!({"Type": "AWS::EC2::Subnet", "Properties": props}));
            let table = match tier {
                Tier::Public => "PublicRouteTable".to_string(),
                Tier::Private => format!("PrivateRouteTable{n}"),
                Tier::Isolated => "IsolatedRouteTable".to_string(),
            };
            put(
                format!("{}RouteTableAssociation", subnet_id(tier, zone)),
                json!({"Type": "AWS::EC2::SubnetRouteTableAssociation", "Properties": {
                    "RouteTableId": r(&table),
                    "SubnetId": r(&subnet_id(tier, zone)),
                }}),
            );
        }
        put(format!("PrivateRouteTable{n}"), route_table(&format!("{env}-private-{n}")));
        put(
            format!("PrivateDefaultRoute{n}"),
            json!({"Type": "AWS::EC2::Route", "Properties": {
                "DestinationCidrBlock": "0.0.0.0/0",
                "NatGatewayId": r(&format!("NatGateway{}", nat_for(input.nat, zone) + 1)),
                "RouteTableId": r(&format!("PrivateRouteTable{n}")),
            }}),
        );
        if nat_for(input.nat, zone) == zone {
            put(
                format!("NatEip{n}"),
                json!({"Type": "AWS::EC2::EIP", "DependsOn": "InternetGatewayAttachment", "Properties": {
                    "Domain": "vpc",
                    "Tags": name_tag(&format!("{env}-nat-{n}")),
                }}),
            );
            put(
                format!("NatGateway{n}"),
                json!({"Type": "AWS::EC2::NatGateway", "Properties": {
                    "AllocationId": get_att(&format!("NatEip{n}"), "AllocationId"),
                    "SubnetId": r(&subnet_id(Tier::Public, zone)),
                    "Tags": name_tag(&format!("{env}-nat-{n}")),
                }}),
            );
        }
    }

    let zone_refs =
        |tier: Tier| -> Vec<Value> { (0..zones).map(|z| r(&subnet_id(tier, z))).collect() };
    let mut route_tables = vec![r("PublicRouteTable"), r("IsolatedRouteTable")];
    route_tables.extend((1..=zones).map(|n| r(&format!("PrivateRouteTable{n}"))));

    // Endpoints: S3 from every subnet without NAT charges; Secrets Manager for the
    // rotation function and the application, inside the VPC.
    put(
        "S3Endpoint".into(),
        json!({"Type": "AWS::EC2::VPCEndpoint", "Properties": {
            "RouteTableIds": route_tables,
            "ServiceName": sub("com.amazonaws.${AWS::Region}.s3"),
            "VpcEndpointType": "Gateway",
            "VpcId": r("Vpc"),
        }}),
    );
    put(
        "SecretsManagerEndpoint".into(),
        json!({"Type": "AWS::EC2::VPCEndpoint", "Properties": {
            "PrivateDnsEnabled": true,
            "SecurityGroupIds": [r("EndpointSecurityGroup")],
            "ServiceName": sub("com.amazonaws.${AWS::Region}.secretsmanager"),
            "SubnetIds": zone_refs(Tier::Private),
            "VpcEndpointType": "Interface",
            "VpcId": r("Vpc"),
        }}),
    );

    security_groups(input, &mut put);
    flow_logs(input, &mut put);

    let nat_ips: Vec<Value> = (0..zones)
        .filter(|z| nat_for(input.nat, *z) == *z)
        // `Ref` of an EIP is its address (moto lacks `GetAtt PublicIp`).
        .map(|z| r(&format!("NatEip{}", z + 1)))
        .collect();
    // The same expression the subnets use (moto lacks `GetAtt Subnet.AvailabilityZone`).
    let zone_names: Vec<Value> = (0..zones).map(zone_of).collect();
    let output =
        |description: &str, value: Value| json!({"Description": description, "Value": value});
    let outputs = json!({
        outputs::VPC_ID: output("VPC id", r("Vpc")),
        outputs::VPC_CIDR: output("IPv4 range of the VPC", json!(input.layout.vpc.to_string())),
        outputs::AVAILABILITY_ZONES: output("Availability zones, in subnet order", join_comma(zone_names)),
        outputs::PUBLIC_SUBNETS: output("Public subnets, one per zone", join_comma(zone_refs(Tier::Public))),
        outputs::PRIVATE_SUBNETS: output("Private subnets (egress through NAT), one per zone", join_comma(zone_refs(Tier::Private))),
        outputs::ISOLATED_SUBNETS: output("Isolated subnets (no route out), one per zone", join_comma(zone_refs(Tier::Isolated))),
        outputs::NAT_EGRESS_IPS: output("Public IPs of the NAT gateways: the environment's outbound addresses", join_comma(nat_ips)),
        outputs::LOAD_BALANCER_SG: output("Security group of the load balancer", r("LoadBalancerSecurityGroup")),
        outputs::APPLICATION_SG: output("Security group of the application", r("ApplicationSecurityGroup")),
        outputs::DATABASE_SG: output("Security group of the database", r("DatabaseSecurityGroup")),
        outputs::ROTATION_SG: output("Security group of the secret rotation function", r("RotationSecurityGroup")),
        outputs::MAINTENANCE_SG: output("Security group of the maintenance server", r("MaintenanceSecurityGroup")),
        outputs::ENDPOINT_SG: output("Security group of the interface endpoints", r("EndpointSecurityGroup")),
        outputs::BUILD_SG: output("Security group of the image builds", r("BuildSecurityGroup")),
        outputs::FLOW_LOG_GROUP: output("Log group of the VPC flow logs", r("FlowLogGroup")),
    });

    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": input.description,
        "Outputs": outputs,
        "Resources": Value::Object(res),
    })
}

/// The `zone`-th availability zone of the stack's region. `Fn::GetAZs ""` lists the
/// zones that have a default subnet, or all of them when the account has no default VPC.
fn zone_of(zone: u32) -> Value {
    json!({"Fn::Select": [zone, {"Fn::GetAZs": ""}]})
}

fn route_table(name: &str) -> Value {
    json!({"Type": "AWS::EC2::RouteTable", "Properties": {
        "Tags": name_tag(name),
        "VpcId": r("Vpc"),
    }})
}

fn security_group(description: &str, name: &str, ingress: Value, egress: Option<Value>) -> Value {
    let mut props = json!({
        "GroupDescription": description,
        "Tags": name_tag(name),
        "VpcId": r("Vpc"),
    });
    if ingress.as_array().is_some_and(|a| !a.is_empty()) {
        props["SecurityGroupIngress"] = ingress;
    }
    if let Some(egress) = egress {
        props["SecurityGroupEgress"] = egress;
    }
    json!({"Type": "AWS::EC2::SecurityGroup", "Properties": props})
}

fn tcp_from_group(port: u16, group: &str, description: &str) -> Value {
    json!({
        "Description": description,
        "FromPort": port,
        "IpProtocol": "tcp",
        "SourceSecurityGroupId": r(group),
        "ToPort": port,
    })
}

/// Load balancer (HTTPS in, only the application port out), application (the app port
/// from the load balancer only), database (3306 from the application, rotation and
/// maintenance groups only, nothing out), rotation and maintenance (no ingress), the
/// image builds (no ingress, and no way into the database), and the interface endpoints
/// (443 from the VPC).
fn security_groups(input: &NetworkTemplateInput<'_>, put: &mut impl FnMut(String, Value)) {
    let env = input.environment_id;
    let port = input.app_port;
    put(
        "LoadBalancerSecurityGroup".into(),
        security_group(
            "REDCap load balancer: HTTPS from anywhere, out only to the application",
            &format!("{env}-load-balancer"),
            json!([{
                "CidrIp": "0.0.0.0/0",
                "Description": "HTTPS from anywhere (the web ACL filters)",
                "FromPort": 443,
                "IpProtocol": "tcp",
                "ToPort": 443,
            }, {
                "CidrIp": "0.0.0.0/0",
                "Description": "HTTP from anywhere, answered with a redirect to HTTPS",
                "FromPort": 80,
                "IpProtocol": "tcp",
                "ToPort": 80,
            }]),
            Some(no_egress()),
        ),
    );
    // A separate resource: inline, the two groups would refer to each other (a cycle).
    put(
        "LoadBalancerToApplicationEgress".into(),
        json!({"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {
            "Description": "To the application containers",
            "DestinationSecurityGroupId": r("ApplicationSecurityGroup"),
            "FromPort": port,
            "GroupId": r("LoadBalancerSecurityGroup"),
            "IpProtocol": "tcp",
            "ToPort": port,
        }}),
    );
    put(
        "ApplicationSecurityGroup".into(),
        security_group(
            "REDCap application: the app port from the load balancer; all outbound",
            &format!("{env}-application"),
            json!([tcp_from_group(port, "LoadBalancerSecurityGroup", "From the load balancer")]),
            None,
        ),
    );
    put(
        "RotationSecurityGroup".into(),
        security_group(
            "REDCap database secret rotation function: no inbound; all outbound",
            &format!("{env}-rotation"),
            json!([]),
            None,
        ),
    );
    put(
        "MaintenanceSecurityGroup".into(),
        security_group(
            "REDCap maintenance server: no inbound (reached through SSM); all outbound",
            &format!("{env}-maintenance"),
            json!([]),
            None,
        ),
    );
    put(
        "BuildSecurityGroup".into(),
        security_group(
            "REDCap image builds (CodeBuild): no inbound; all outbound",
            &format!("{env}-build"),
            json!([]),
            None,
        ),
    );
    put(
        "DatabaseSecurityGroup".into(),
        security_group(
            "REDCap database: MySQL only from the application, rotation and maintenance groups",
            &format!("{env}-database"),
            json!([
                tcp_from_group(DATABASE_PORT, "ApplicationSecurityGroup", "From the application"),
                tcp_from_group(
                    DATABASE_PORT,
                    "RotationSecurityGroup",
                    "From the secret rotation function"
                ),
                tcp_from_group(
                    DATABASE_PORT,
                    "MaintenanceSecurityGroup",
                    "From the maintenance server"
                ),
            ]),
            Some(no_egress()),
        ),
    );
    put(
        "EndpointSecurityGroup".into(),
        security_group(
            "REDCap interface endpoints: HTTPS from inside the VPC",
            &format!("{env}-endpoints"),
            json!([{
                "CidrIp": input.layout.vpc.to_string(),
                "Description": "HTTPS from the VPC",
                "FromPort": 443,
                "IpProtocol": "tcp",
                "ToPort": 443,
            }]),
            Some(no_egress()),
        ),
    );
}

/// Flow logs of all traffic to a log group encrypted with the environment's key, with
/// the environment's retention; the role may write only to that group, and only the flow
/// logs service of this account may assume it.
fn flow_logs(input: &NetworkTemplateInput<'_>, put: &mut impl FnMut(String, Value)) {
    let env = input.environment_id;
    put(
        "FlowLogGroup".into(),
        json!({"Type": "AWS::Logs::LogGroup", "Properties": {
            "KmsKeyId": input.kms_key_arn,
            "LogGroupName": input.log_group_name,
            "RetentionInDays": input.retention_days,
        }}),
    );
    put(
        "FlowLogRole".into(),
        json!({"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {
                "Statement": [{
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "ArnLike": {"aws:SourceArn": sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:vpc-flow-log/*")},
                        "StringEquals": {"aws:SourceAccount": r("AWS::AccountId")},
                    },
                    "Effect": "Allow",
                    "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                }],
                "Version": "2012-10-17",
            },
            "Description": format!("VPC flow logs of {env} to {}", input.log_group_name),
            "PermissionsBoundary": sub(&format!(
                "arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy/{}",
                input.permissions_boundary
            )),
            "Policies": [{
                "PolicyDocument": {
                    "Statement": [{
                        "Action": [
                            "logs:CreateLogStream",
                            "logs:DescribeLogGroups",
                            "logs:DescribeLogStreams",
                            "logs:PutLogEvents",
                        ],
                        "Effect": "Allow",
                        "Resource": get_att("FlowLogGroup", "Arn"),
                    }],
                    "Version": "2012-10-17",
                },
                "PolicyName": "flow-logs",
            }],
            "RoleName": flow_log_role_name(env),
        }}),
    );
    put(
        "FlowLog".into(),
        json!({"Type": "AWS::EC2::FlowLog", "Properties": {
            "DeliverLogsPermissionArn": get_att("FlowLogRole", "Arn"),
            "LogDestinationType": "cloud-watch-logs",
            "LogGroupName": r("FlowLogGroup"),
            "ResourceId": r("Vpc"),
            "ResourceType": "VPC",
            "Tags": name_tag(&format!("{env}-flow-logs")),
            "TrafficType": "ALL",
        }}),
    );
}

/// `<environment_id>-flow-logs` (at most 50 characters; IAM allows 64).
pub fn flow_log_role_name(environment_id: &str) -> String {
    format!("{environment_id}-flow-logs")
}

#[cfg(test)]
#[path = "network_tests.rs"]
mod tests;
