//! IPv4 CIDR math and the subnet layout of the VPC (step: plan; pure, no I/O).
//!
//! The layout must never move a subnet of a live VPC, so it depends only on the VPC's
//! prefix length, and each availability zone owns a fixed block of four subnet slots
//! (public, private, isolated, one spare): zone `i`, tier `t` is slot `4 * i + t`. Adding
//! a zone appends subnets without touching the existing ones. Subnets are a `/24` (the
//! seed's size) when the VPC is large enough, and never smaller than a `/27`, the
//! smallest subnet an Application Load Balancer accepts.

use std::fmt;
use std::str::FromStr;

/// An IPv4 network: address and prefix length, with no host bits set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Cidr {
    addr: u32,
    prefix: u8,
}

/// Why a CIDR string or a layout was refused. Messages read well after a field name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("{0:?} is not an IPv4 CIDR like 10.0.0.0/16")]
    Malformed(String),
    #[error("{cidr} has host bits set; the network address is {network}")]
    HostBits { cidr: String, network: Ipv4Cidr },
    #[error(
        "{0} is a reserved range (loopback, link-local, multicast or 0.0.0.0/8) and cannot hold a VPC"
    )]
    Reserved(Ipv4Cidr),
    #[error("a VPC prefix must be between /{min} and /{max}, not /{prefix}", min = VPC_MIN_PREFIX, max = VPC_MAX_PREFIX)]
    PrefixOutOfRange { prefix: u8 },
    #[error(
        "{cidr} is too small for {zones} availability zones: {subnets} subnets of at least /{min} need a /{needed} or larger",
        min = SUBNET_MAX_PREFIX
    )]
    TooSmall { cidr: Ipv4Cidr, zones: u32, subnets: u32, needed: u8 },
    #[error("between 1 and {MAX_ZONES} availability zones are supported, not {0}")]
    Zones(u32),
}

/// Largest VPC AWS allows (and the schema's lower bound).
pub const VPC_MIN_PREFIX: u8 = 16;
/// Smallest VPC the schema accepts.
pub const VPC_MAX_PREFIX: u8 = 24;
/// Subnets are never larger than this (the seed's size; leaves the rest of a big VPC free).
pub const SUBNET_MIN_PREFIX: u8 = 24;
/// Smallest subnet: an Application Load Balancer needs a /27 with 8 free addresses.
pub const SUBNET_MAX_PREFIX: u8 = 27;
/// Subnet slots reserved per availability zone (three tiers and a spare).
pub const SLOTS_PER_ZONE: u32 = 4;
/// Most availability zones the layout supports.
pub const MAX_ZONES: u32 = 3;

/// Ranges no VPC may overlap: 0.0.0.0/8, loopback, link-local (instance metadata and
/// the Amazon DNS server live there) and everything from 224.0.0.0 (multicast, reserved).
const RESERVED: [Ipv4Cidr; 4] = [
    Ipv4Cidr { addr: 0x0000_0000, prefix: 8 },
    Ipv4Cidr { addr: 0x7f00_0000, prefix: 8 },
    Ipv4Cidr { addr: 0xa9fe_0000, prefix: 16 },
    Ipv4Cidr { addr: 0xe000_0000, prefix: 3 },
];

impl Ipv4Cidr {
    /// A network; fails when `addr` has host bits for `prefix`.
    pub fn new(addr: u32, prefix: u8) -> Option<Self> {
        (prefix <= 32 && addr & !mask(prefix) == 0).then_some(Self { addr, prefix })
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn addr(&self) -> u32 {
        self.addr
    }

    /// Number of addresses in the network.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// The last address of the network.
    fn last(&self) -> u32 {
        self.addr | !mask(self.prefix)
    }

    pub fn contains(&self, other: &Ipv4Cidr) -> bool {
        self.prefix <= other.prefix && other.addr & mask(self.prefix) == self.addr
    }

    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.addr <= other.last() && other.addr <= self.last()
    }

    /// The `index`-th subnet of length `prefix` inside this network.
    pub fn subnet(&self, prefix: u8, index: u32) -> Option<Ipv4Cidr> {
        if prefix < self.prefix || prefix > 32 {
            return None;
        }
        let bits = u32::from(prefix - self.prefix);
        if bits < 32 && u64::from(index) >= 1u64 << bits {
            return None;
        }
        let step = 1u64 << (32 - u32::from(prefix));
        let addr = u64::from(self.addr) + u64::from(index) * step;
        Ipv4Cidr::new(u32::try_from(addr).ok()?, prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.addr.to_be_bytes();
        write!(f, "{a}.{b}.{c}.{d}/{}", self.prefix)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || CidrError::Malformed(s.to_string());
        let (ip, prefix) = s.split_once('/').ok_or_else(malformed)?;
        let octets: Vec<&str> = ip.split('.').collect();
        if octets.len() != 4 {
            return Err(malformed());
        }
        let mut addr = 0u32;
        for octet in octets {
            // Leading zeros are refused: some tools read them as octal.
            if octet.is_empty() || octet.len() > 3 || (octet.len() > 1 && octet.starts_with('0')) {
                return Err(malformed());
            }
            let value: u8 = octet.parse().map_err(|_| malformed())?;
            addr = addr << 8 | u32::from(value);
        }
        if prefix.is_empty() || prefix.len() > 2 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed());
        }
        let prefix: u8 = prefix.parse().map_err(|_| malformed())?;
        if prefix > 32 {
            return Err(malformed());
        }
        Ipv4Cidr::new(addr, prefix).ok_or_else(|| CidrError::HostBits {
            cidr: s.to_string(),
            network: Ipv4Cidr { addr: addr & mask(prefix), prefix },
        })
    }
}

/// The three subnet tiers, in slot order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Route to the internet gateway: load balancer, NAT gateways.
    Public,
    /// Outbound through NAT: the application, the maintenance server, endpoints.
    Private,
    /// No route out of the VPC: the database.
    Isolated,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Public, Tier::Private, Tier::Isolated];

    fn slot(self) -> u32 {
        match self {
            Tier::Public => 0,
            Tier::Private => 1,
            Tier::Isolated => 2,
        }
    }

    /// Lowercase name for tags and names (`public`).
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Public => "public",
            Tier::Private => "private",
            Tier::Isolated => "isolated",
        }
    }
}

/// The subnet CIDRs of a VPC, by zone and tier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetLayout {
    pub vpc: Ipv4Cidr,
    pub subnet_prefix: u8,
    pub zones: u32,
}

impl SubnetLayout {
    /// Lays out `zones` availability zones in `vpc`, or says why it cannot.
    pub fn new(vpc: Ipv4Cidr, zones: u32) -> Result<Self, CidrError> {
        if !(1..=MAX_ZONES).contains(&zones) {
            return Err(CidrError::Zones(zones));
        }
        if !(VPC_MIN_PREFIX..=VPC_MAX_PREFIX).contains(&vpc.prefix) {
            return Err(CidrError::PrefixOutOfRange { prefix: vpc.prefix });
        }
        if RESERVED.iter().any(|r| vpc.overlaps(r)) {
            return Err(CidrError::Reserved(vpc));
        }
        let subnet_prefix = subnet_prefix_for(vpc.prefix);
        let slots = 1u32 << (subnet_prefix - vpc.prefix);
        let highest = SLOTS_PER_ZONE * (zones - 1) + Tier::Isolated.slot();
        if subnet_prefix > SUBNET_MAX_PREFIX || highest >= slots {
            return Err(CidrError::TooSmall {
                cidr: vpc,
                zones,
                subnets: zones * 3,
                needed: largest_prefix_for(zones),
            });
        }
        Ok(Self { vpc, subnet_prefix, zones })
    }

    /// The subnet of `tier` in zone `zone` (0-based).
    pub fn subnet(&self, zone: u32, tier: Tier) -> Option<Ipv4Cidr> {
        if zone >= self.zones {
            return None;
        }
        self.vpc.subnet(self.subnet_prefix, SLOTS_PER_ZONE * zone + tier.slot())
    }

    /// Every subnet, zone by zone, tier by tier.
    pub fn all(&self) -> Vec<(u32, Tier, Ipv4Cidr)> {
        (0..self.zones)
            .flat_map(|zone| Tier::ALL.map(|tier| (zone, tier)))
            .filter_map(|(zone, tier)| self.subnet(zone, tier).map(|c| (zone, tier, c)))
            .collect()
    }
}

/// `/24` subnets while the VPC has room for 16 of them; otherwise the VPC is cut into
/// 16 slots, or 8 for a `/24` VPC (which then holds only two zones).
fn subnet_prefix_for(vpc_prefix: u8) -> u8 {
    let sixteen = vpc_prefix + 4;
    if sixteen <= SUBNET_MAX_PREFIX { sixteen.max(SUBNET_MIN_PREFIX) } else { vpc_prefix + 3 }
}

/// The longest VPC prefix that holds `zones` zones (for the error message).
fn largest_prefix_for(zones: u32) -> u8 {
    (VPC_MIN_PREFIX..=VPC_MAX_PREFIX)
        .rev()
        .find(|p| {
            let sp = subnet_prefix_for(*p);
            sp <= SUBNET_MAX_PREFIX
                && SLOTS_PER_ZONE * (zones - 1) + Tier::Isolated.slot() < 1 << (sp - p)
        })
        .unwrap_or(VPC_MIN_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Ipv4Cidr {
        s.parse().expect("valid cidr")
    }

    #[test]
    fn parse_and_display_round_trip() {
        for s in ["10.0.0.0/16", "192.168.4.0/22", "172.31.0.0/24", "0.0.0.0/0"] {
            assert_eq!(cidr(s).to_string(), s);
        }
        assert_eq!(cidr("10.1.0.0/16").size(), 65536);
    }

    #[test]
    fn malformed_and_host_bits_are_refused() {
        for bad in [
            "10.0.0.0",
            "10.0.0/16",
            "10.0.0.0.0/16",
            "10.0.0.256/24",
            "010.0.0.0/16",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "a.b.c.d/8",
            " 10.0.0.0/16",
            "",
        ] {
            assert!(matches!(bad.parse::<Ipv4Cidr>(), Err(CidrError::Malformed(_))), "{bad}");
        }
        let err = "10.0.0.1/16".parse::<Ipv4Cidr>().expect_err("host bits");
        assert_eq!(
            err.to_string(),
            "10.0.0.1/16 has host bits set; the network address is 10.0.0.0/16"
        );
    }

    #[test]
    fn containment_and_overlap() {
        let vpc = cidr("10.0.0.0/16");
        assert!(vpc.contains(&cidr("10.0.4.0/24")));
        assert!(!vpc.contains(&cidr("10.1.0.0/24")));
        assert!(!cidr("10.0.4.0/24").contains(&vpc));
        assert!(vpc.overlaps(&cidr("10.0.255.0/24")));
        assert!(cidr("10.0.255.0/24").overlaps(&vpc));
        assert!(!vpc.overlaps(&cidr("10.1.0.0/16")));
        assert_eq!(vpc.subnet(24, 255), Some(cidr("10.0.255.0/24")));
        assert_eq!(vpc.subnet(24, 256), None);
        assert_eq!(vpc.subnet(15, 0), None);
    }

    #[test]
    fn default_layout_matches_the_seed_subnet_size() {
        let layout = SubnetLayout::new(cidr("10.0.0.0/16"), 2).expect("layout");
        let got: Vec<String> =
            layout.all().iter().map(|(z, t, c)| format!("{z}{}={c}", t.as_str())).collect();
        assert_eq!(
            got,
            [
                "0public=10.0.0.0/24",
                "0private=10.0.1.0/24",
                "0isolated=10.0.2.0/24",
                "1public=10.0.4.0/24",
                "1private=10.0.5.0/24",
                "1isolated=10.0.6.0/24",
            ]
        );
    }

    #[test]
    fn layout_table() {
        // (vpc, zones, subnet prefix, third zone's isolated subnet or None)
        let cases: &[(&str, u32, u8, Option<&str>)] = &[
            ("10.0.0.0/16", 3, 24, Some("10.0.10.0/24")),
            ("10.20.0.0/20", 3, 24, Some("10.20.10.0/24")),
            ("10.0.0.0/21", 3, 25, Some("10.0.5.0/25")),
            ("192.168.0.0/22", 3, 26, Some("192.168.2.128/26")),
            ("192.168.0.0/23", 3, 27, Some("192.168.1.64/27")),
            ("192.168.0.0/24", 2, 27, None),
        ];
        for (vpc, zones, prefix, third) in cases {
            let layout = SubnetLayout::new(cidr(vpc), *zones).expect(vpc);
            assert_eq!(layout.subnet_prefix, *prefix, "{vpc}");
            assert_eq!(
                layout.subnet(2, Tier::Isolated).map(|c| c.to_string()),
                third.map(str::to_string),
                "{vpc}"
            );
        }
    }

    #[test]
    fn adding_a_zone_never_moves_a_subnet() {
        for prefix in 16..=23 {
            let vpc = Ipv4Cidr::new(0x0a00_0000, prefix).expect("vpc");
            let two = SubnetLayout::new(vpc, 2).expect("two zones");
            let three = SubnetLayout::new(vpc, 3).expect("three zones");
            assert_eq!(two.all(), three.all()[..6].to_vec(), "/{prefix}");
        }
    }

    #[test]
    fn subnets_are_inside_the_vpc_and_never_overlap() {
        for prefix in 16..=24 {
            let vpc = Ipv4Cidr::new(0xc0a8_0000 & mask(prefix), prefix).expect("vpc");
            for zones in 1..=3 {
                let Ok(layout) = SubnetLayout::new(vpc, zones) else {
                    continue;
                };
                let all = layout.all();
                assert_eq!(all.len() as u32, zones * 3);
                for (i, (_, _, a)) in all.iter().enumerate() {
                    assert!(vpc.contains(a), "{a} outside {vpc}");
                    assert!(a.prefix() <= SUBNET_MAX_PREFIX);
                    for (_, _, b) in &all[i + 1..] {
                        assert!(!a.overlaps(b), "{a} overlaps {b}");
                    }
                }
            }
        }
    }

    #[test]
    fn too_small_and_out_of_range_vpcs_are_refused() {
        let err = SubnetLayout::new(cidr("10.0.0.0/24"), 3).expect_err("too small");
        assert_eq!(
            err.to_string(),
            "10.0.0.0/24 is too small for 3 availability zones: 9 subnets of at least /27 need a /23 or larger"
        );
        assert!(matches!(
            SubnetLayout::new(cidr("10.0.0.0/25"), 2),
            Err(CidrError::PrefixOutOfRange { prefix: 25 })
        ));
        assert!(matches!(
            SubnetLayout::new(cidr("10.0.0.0/8"), 2),
            Err(CidrError::PrefixOutOfRange { prefix: 8 })
        ));
        assert!(matches!(SubnetLayout::new(cidr("10.0.0.0/16"), 4), Err(CidrError::Zones(4))));
        assert!(matches!(SubnetLayout::new(cidr("10.0.0.0/16"), 0), Err(CidrError::Zones(0))));
    }

    #[test]
    fn reserved_ranges_are_refused() {
        for bad in ["169.254.0.0/16", "127.0.0.0/16", "0.0.0.0/16", "224.0.0.0/16", "240.0.0.0/20"]
        {
            assert!(
                matches!(SubnetLayout::new(cidr(bad), 2), Err(CidrError::Reserved(_))),
                "{bad}"
            );
        }
        assert!(SubnetLayout::new(cidr("100.64.0.0/16"), 2).is_ok());
    }
}
