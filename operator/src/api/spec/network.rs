//! `spec.network`: the VPC (api step: types only, no I/O).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// The VPC. The operator carves public, private and isolated subnets, one of each per
/// availability zone, out of `cidr`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("!has(self.cidr) || !isCIDR(self.cidr) || cidr(self.cidr).prefixLength() <= 23 || !has(self.availabilityZones) || self.availabilityZones <= 2")
        .message("spec.network.cidr: a /24 VPC holds two availability zones (subnets are at least /27); use a /23 or larger for three")
)]
#[serde(rename_all = "camelCase")]
pub struct NetworkSpec {
    /// IPv4 range of the VPC, a network address with a prefix of /16 to /24 (a /24 holds
    /// two availability zones, /23 or larger three). Subnets are /24 when the VPC has room
    /// (the seed's size), else the VPC is cut into equal parts of at least /27. Default
    /// `10.0.0.0/16` (the seed's fixed value). Cannot be changed after creation.
    #[serde(default = "default_cidr")]
    #[x_kube(
        validation = Rule::new("isCIDR(self) && cidr(self).ip().family() == 4 && cidr(self).prefixLength() >= 16 && cidr(self).prefixLength() <= 24")
            .message("spec.network.cidr must be an IPv4 CIDR with a prefix length between /16 and /24, e.g. 10.0.0.0/16"),
        validation = Rule::new("!isCIDR(self) || string(cidr(self).masked()) == self")
            .message("spec.network.cidr must be a network address (no host bits set), e.g. 10.0.0.0/16 rather than 10.0.0.1/16"),
        validation = Rule::new("self == oldSelf")
            .message("spec.network.cidr is immutable: create a new environment to change the VPC range")
    )]
    #[schemars(length(min = 9, max = 18))]
    pub cidr: String,

    /// Availability zones to spread subnets (and Aurora instances) over, 2 or 3.
    /// Default 2 (the seed's fixed value). Can be raised on a live environment (subnets
    /// are added), not lowered (the removed zones' subnets may hold the database).
    #[serde(default = "default_azs")]
    #[schemars(range(min = 2, max = 3))]
    pub availability_zones: u32,

    /// NAT gateways for outbound traffic from private subnets: `PerAz` (default, the
    /// seed's layout, survives the loss of a zone) or `Single` (cheaper, for dev).
    #[serde(default)]
    pub nat_gateways: NatGateways,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        Self {
            cidr: default_cidr(),
            availability_zones: default_azs(),
            nat_gateways: NatGateways::default(),
        }
    }
}

fn default_cidr() -> String {
    "10.0.0.0/16".to_owned()
}
fn default_azs() -> u32 {
    2
}

/// How many NAT gateways the VPC gets.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum NatGateways {
    /// One NAT gateway in each availability zone.
    #[default]
    PerAz,
    /// One NAT gateway for the whole VPC.
    Single,
}
