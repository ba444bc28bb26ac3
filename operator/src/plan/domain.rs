//! The site's DNS name, hosted zone, delegation and certificate (components `domain`
//! and `siteRecords`; step: plan; pure, no I/O).
//!
//! - The zone (`spec.domain.hostedZone.mode`): `Create` makes a public zone named after
//!   the site, found again by its `CallerReference`, which carries a hash of the
//!   environment's UID (a create retried after a crash gets `HostedZoneAlreadyExists`
//!   and the zone is adopted); `Existing` writes into the zone `zoneName`; `None` lists
//!   the records in `status.outputs.dnsRecords`.
//! - Delegation (`delegateFromParent`): the zone's name servers as an NS set in the
//!   parent zone `spec.domain.name`, through `parentZoneRoleArn` when the parent lives
//!   in another account.
//! - The certificate: `certificateArn` as given, else a DNS-validated ACM certificate
//!   for the site, requested with an idempotency token derived from the UID, and only
//!   while a compute kind that terminates TLS with it (EcsFargate without its own
//!   certificate, EcsExpress) serves or is being set up. App Runner's custom domain
//!   brings its own certificate.
//! - The site's records (`plan::dns` rules): an alias to what serves REDCap, the
//!   validation records of the certificate and of App Runner's custom domain.

use sha2::{Digest, Sha256};

use crate::api::{self, ComputeKind, DomainSpec, HostedZoneMode, RedcapEnvironmentSpec};

use super::dns::{AliasTarget, RecordSet, WantedRecord};
use super::email::site_domain;
use super::tags::TagSet;
use super::{EnvIdentity, PlanError};

/// TTL of the certificate validation records (ACM's own suggestion is 300).
pub const VALIDATION_TTL: i64 = 300;
/// TTL of the delegation NS set in the parent zone (Route 53's default for NS).
pub const DELEGATION_TTL: i64 = 172_800;
/// How many `CallerReference`s the zone may have used: a reference stays taken after
/// its zone was deleted (by hand), so the next create takes the next one.
pub const MAX_ZONE_ATTEMPTS: u32 = 16;

/// Where the site's records go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZoneTarget {
    /// A public zone the environment creates and owns, named after the site.
    Create { zone: String },
    /// The existing public zone `zone` (the site's name or a parent of it).
    Existing { zone: String },
    /// No Route 53: the records are listed in status.
    Manual,
}

impl ZoneTarget {
    pub fn zone_name(&self) -> Option<&str> {
        match self {
            ZoneTarget::Create { zone } | ZoneTarget::Existing { zone } => Some(zone),
            ZoneTarget::Manual => None,
        }
    }
}

/// The NS records of the created zone in its parent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delegation {
    pub parent_zone: String,
    /// Assumed to reach the parent zone in another account.
    pub role_arn: Option<String>,
}

/// Which certificate the site uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateSource {
    /// `spec.domain.certificateArn` (or, for EcsFargate, `ecsFargate.certificateArn`).
    Given(String),
    /// A DNS-validated ACM certificate the operator requests for the site.
    Request,
    /// No compute kind in use needs one (App Runner manages its own).
    NotNeeded,
}

/// The `domain` component's desired state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredDomain {
    /// `subdomain.name`, lower case.
    pub site: String,
    pub zone: ZoneTarget,
    pub delegation: Option<Delegation>,
    pub certificate: CertificateSource,
    /// The prefix of every `CallerReference` of the environment's zone.
    pub caller_prefix: String,
    /// ACM's `IdempotencyToken` for the site's certificate.
    pub certificate_token: String,
    pub tags: TagSet,
}

fn hash(input: &str, len: usize) -> String {
    hex::encode(Sha256::digest(input.as_bytes()))[..len].to_string()
}

/// `redcap-<24 hex of sha256(uid/zone)>-`: a zone whose `CallerReference` starts with it
/// was created by this environment (also when a crash came before its tags).
pub fn caller_prefix(uid: &str, zone: &str) -> String {
    format!("redcap-{}-", hash(&format!("{uid}/{zone}"), 24))
}

/// The `attempt`-th `CallerReference` of the zone.
pub fn caller_reference(prefix: &str, attempt: u32) -> String {
    format!("{prefix}{attempt}")
}

/// ACM's idempotency token (`\w{1,32}`): the same for every request of this
/// environment's certificate for `site`.
pub fn certificate_token(uid: &str, site: &str) -> String {
    hash(&format!("{uid}/certificate/{site}"), 32)
}

/// Whether a compute kind terminates TLS with an ACM certificate of the site.
fn kind_needs_certificate(spec: &RedcapEnvironmentSpec, kind: ComputeKind) -> bool {
    match kind {
        ComputeKind::EcsFargate => {
            spec.compute.ecs_fargate.as_ref().and_then(|f| f.certificate_arn.as_ref()).is_none()
        }
        ComputeKind::EcsExpress => true,
        ComputeKind::AppRunner => false,
    }
}

/// The certificate: the given one, or a requested one while `spec.compute.kind` or a
/// kind still serving (`serving`, from status: kept until a switch has retired it, since
/// its listener uses the certificate) needs it.
pub fn certificate_source(
    spec: &RedcapEnvironmentSpec,
    domain: &DomainSpec,
    serving: &[ComputeKind],
) -> CertificateSource {
    if let Some(arn) = &domain.certificate_arn {
        return CertificateSource::Given(arn.clone());
    }
    let kinds = std::iter::once(spec.compute.kind).chain(serving.iter().copied());
    if kinds.into_iter().any(|k| kind_needs_certificate(spec, k)) {
        CertificateSource::Request
    } else {
        CertificateSource::NotNeeded
    }
}

/// The `domain` component's desired state; `None` without `spec.domain`.
pub fn desired_domain(
    id: &EnvIdentity,
    spec: &RedcapEnvironmentSpec,
    serving: &[ComputeKind],
) -> Result<Option<DesiredDomain>, PlanError> {
    let Some(domain) = &spec.domain else {
        return Ok(None);
    };
    let site = site_domain(domain).to_ascii_lowercase();
    let zone = match domain.hosted_zone.mode {
        HostedZoneMode::Create => ZoneTarget::Create { zone: site.clone() },
        HostedZoneMode::Existing => ZoneTarget::Existing {
            zone: domain
                .hosted_zone
                .zone_name
                .clone()
                .unwrap_or_else(|| domain.name.clone())
                .to_ascii_lowercase(),
        },
        HostedZoneMode::None => ZoneTarget::Manual,
    };
    let delegation = (domain.delegate_from_parent && matches!(zone, ZoneTarget::Create { .. }))
        .then(|| Delegation {
            parent_zone: domain.name.to_ascii_lowercase(),
            role_arn: domain.parent_zone_role_arn.clone(),
        });
    if domain.delegate_from_parent && delegation.is_none() {
        return Err(PlanError::InvalidSpec {
            field: "spec.domain.delegateFromParent",
            message: "needs spec.domain.hostedZone.mode Create (the zone to delegate to)".into(),
        });
    }
    Ok(Some(DesiredDomain {
        certificate: certificate_source(spec, domain, serving),
        caller_prefix: caller_prefix(&id.uid, &site),
        certificate_token: certificate_token(&id.uid, &site),
        tags: id.ownership_tags(api::ComponentName::Domain, &spec.aws.tags)?,
        site,
        zone,
        delegation,
    }))
}

/// What the `domain` component hands to the components after it (`email` reads the zone
/// itself; `compute` takes the certificate; `siteRecords` the zone and the site).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainHandoff {
    pub site: String,
    /// Id and name of the zone the site's records go to (`None`: mode `None`, or the
    /// zone is not created yet).
    pub zone: Option<(String, String)>,
    /// The certificate to serve the site with, once issued (or as given).
    pub certificate_arn: Option<String>,
}

/// One domain validation option of an ACM certificate, as `DescribeCertificate` gives
/// them: in no particular order, the record possibly missing for a while.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationOption {
    pub domain: String,
    /// `PENDING_VALIDATION`, `SUCCESS`, `FAILED`.
    pub status: Option<String>,
    /// (name, type, value) of the record ACM checks.
    pub record: Option<(String, String, String)>,
}

/// An ACM certificate as observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedCertificate {
    pub arn: String,
    pub domain: String,
    /// `PENDING_VALIDATION`, `ISSUED`, `INACTIVE`, `EXPIRED`, `VALIDATION_TIMED_OUT`,
    /// `REVOKED`, `FAILED`.
    pub status: String,
    pub failure_reason: Option<String>,
    pub options: Vec<ValidationOption>,
    /// ARNs of what uses it (listeners).
    pub in_use_by: Vec<String>,
}

/// Where a certificate's validation is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Validation {
    Issued,
    /// The records to write (deduplicated: an apex and its wildcard share one) and the
    /// names ACM has not issued a record for yet.
    Pending {
        records: Vec<WantedRecord>,
        awaiting: Vec<String>,
    },
    /// Needs a person: why.
    Failed(String),
}

/// The names the site's certificate covers.
pub fn certificate_names(site: &str) -> Vec<String> {
    vec![site.to_string()]
}

/// The validation state of the site's certificate, keyed by domain name (ACM answers in
/// any order, and the records arrive some seconds after the request).
pub fn validation(cert: &ObservedCertificate, names: &[String]) -> Validation {
    match cert.status.as_str() {
        "ISSUED" => return Validation::Issued,
        "PENDING_VALIDATION" => {}
        other => {
            return Validation::Failed(format!(
                "ACM certificate {} is {other}{}",
                cert.arn,
                cert.failure_reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
            ));
        }
    }
    let mut records: Vec<WantedRecord> = Vec::new();
    let mut awaiting = Vec::new();
    for name in names {
        let option = cert.options.iter().find(|o| super::dns::normalize_name(&o.domain) == *name);
        match option.and_then(|o| o.record.as_ref()) {
            Some((rname, rtype, value)) => {
                let set = RecordSet::values(rname, rtype, VALIDATION_TTL, vec![value.clone()]);
                if !records.iter().any(|r| r.set.name == set.name && r.set.type_ == set.type_) {
                    records.push(WantedRecord::exclusive(
                        set,
                        format!("ACM certificate validation of {name}"),
                    ));
                }
            }
            None => awaiting.push(name.clone()),
        }
    }
    Validation::Pending { records, awaiting }
}

/// The delegation NS set for the created zone in its parent; `previous`: name servers of
/// a zone the environment had before (status), which it may replace.
pub fn delegation_record(site: &str, name_servers: &[String], previous: &[String]) -> WantedRecord {
    let ns = |list: &[String]| RecordSet::values(site, "NS", DELEGATION_TTL, list.to_vec());
    let want = WantedRecord::exclusive(ns(name_servers), format!("delegation of {site}"));
    if previous.is_empty() { want } else { want.replacing(vec![ns(previous)]) }
}

/// App Runner's hosted zone id per region, for an alias to a custom domain's DNS target
/// (AWS general reference, "AWS App Runner endpoints and quotas"). Only regions where
/// App Runner serves a custom domain at a zone apex (`APP_RUNNER_CUSTOM_DOMAIN_REGIONS`).
pub fn app_runner_zone_id(region: &str) -> Option<&'static str> {
    Some(match region {
        "us-east-2" => "Z0224347AD7KVHMLOX31",
        "us-east-1" => "Z01915732ZBZKC8D32TPT",
        "us-west-2" => "Z02243383FTQ64HJ5772Q",
        "ap-southeast-1" => "Z09819469CZ3KQ8PWMCL",
        "ap-southeast-2" => "Z03657752RA8799S0TI5I",
        "ap-northeast-1" => "Z08491812XW6IPYLR6CCA",
        "eu-central-1" => "Z0334911C2FDI2Q9M4FZ",
        "eu-west-1" => "Z087551914Z2PCAU0QHMW",
        _ => return None,
    })
}

/// The site's alias record to `target`, movable from the targets of the environment's
/// other compute kinds.
pub fn site_alias(site: &str, target: &AliasTarget, others: &[AliasTarget]) -> WantedRecord {
    let set = |t: &AliasTarget| RecordSet::alias(site, "A", t.clone());
    WantedRecord::exclusive(set(target), format!("the site {site}"))
        .replacing(others.iter().filter(|o| *o != target).map(set).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ComputeSpec, EcsFargateSpec, HostedZone};

    fn spec(mode: HostedZoneMode, kind: ComputeKind) -> RedcapEnvironmentSpec {
        let mut spec = crate::api::RedcapEnvironment::test().spec;
        spec.domain = Some(DomainSpec {
            name: "example.org".into(),
            subdomain: Some("redcap".into()),
            hosted_zone: HostedZone {
                mode,
                zone_name: (mode == HostedZoneMode::Existing).then(|| "example.org".into()),
            },
            delegate_from_parent: false,
            parent_zone_role_arn: None,
            certificate_arn: None,
        });
        spec.compute = ComputeSpec { kind, ..spec.compute };
        spec
    }

    #[test]
    fn the_zone_follows_the_mode() {
        let id = EnvIdentity::test();
        let zone = |mode| {
            desired_domain(&id, &spec(mode, ComputeKind::EcsFargate), &[])
                .expect("valid")
                .expect("a domain")
                .zone
        };
        assert_eq!(
            zone(HostedZoneMode::Create),
            ZoneTarget::Create { zone: "redcap.example.org".into() }
        );
        assert_eq!(
            zone(HostedZoneMode::Existing),
            ZoneTarget::Existing { zone: "example.org".into() }
        );
        assert_eq!(zone(HostedZoneMode::None), ZoneTarget::Manual);
        let mut s = spec(HostedZoneMode::Create, ComputeKind::EcsFargate);
        s.domain = None;
        assert_eq!(desired_domain(&id, &s, &[]).expect("valid"), None);
    }

    #[test]
    fn references_and_tokens_are_deterministic_per_environment() {
        let a = caller_prefix("uid-1", "redcap.example.org");
        assert_eq!(a, caller_prefix("uid-1", "redcap.example.org"));
        assert_ne!(a, caller_prefix("uid-2", "redcap.example.org"));
        assert_ne!(a, caller_prefix("uid-1", "other.example.org"));
        assert!(caller_reference(&a, 3).starts_with(&a) && caller_reference(&a, 3).len() <= 128);
        let t = certificate_token("uid-1", "redcap.example.org");
        assert_eq!(t.len(), 32);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(t, certificate_token("uid-2", "redcap.example.org"));
    }

    #[test]
    fn a_certificate_is_requested_only_for_kinds_that_terminate_tls() {
        let id = EnvIdentity::test();
        let cert = |s: &RedcapEnvironmentSpec, serving: &[ComputeKind]| {
            desired_domain(&id, s, serving).expect("valid").expect("domain").certificate
        };
        let fargate = spec(HostedZoneMode::Create, ComputeKind::EcsFargate);
        assert_eq!(cert(&fargate, &[]), CertificateSource::Request);
        let express = spec(HostedZoneMode::Create, ComputeKind::EcsExpress);
        assert_eq!(cert(&express, &[]), CertificateSource::Request);
        let apprunner = spec(HostedZoneMode::Create, ComputeKind::AppRunner);
        assert_eq!(cert(&apprunner, &[]), CertificateSource::NotNeeded);
        // A switch away from Fargate keeps the certificate while Fargate still serves.
        assert_eq!(cert(&apprunner, &[ComputeKind::EcsFargate]), CertificateSource::Request);
        let mut own = fargate.clone();
        own.compute.ecs_fargate = Some(EcsFargateSpec {
            certificate_arn: Some("arn:aws:acm:eu-west-1:1:certificate/x".into()),
            ..Default::default()
        });
        assert_eq!(cert(&own, &[]), CertificateSource::NotNeeded);
        let mut given = fargate;
        given.domain.as_mut().expect("domain").certificate_arn = Some("arn:given".into());
        assert_eq!(cert(&given, &[]), CertificateSource::Given("arn:given".into()));
    }

    fn cert(status: &str, options: Vec<ValidationOption>) -> ObservedCertificate {
        ObservedCertificate {
            arn: "arn:cert".into(),
            domain: "redcap.example.org".into(),
            status: status.into(),
            failure_reason: None,
            options,
            in_use_by: Vec::new(),
        }
    }

    fn option(domain: &str, record: Option<&str>) -> ValidationOption {
        ValidationOption {
            domain: domain.into(),
            status: Some("PENDING_VALIDATION".into()),
            record: record.map(|r| {
                (format!("_{r}.{domain}."), "CNAME".into(), format!("_{r}.acm-validations.aws."))
            }),
        }
    }

    #[test]
    fn validation_records_are_matched_by_name_whatever_the_order() {
        let names = certificate_names("redcap.example.org");
        let c = cert(
            "PENDING_VALIDATION",
            vec![option("other.example.org", Some("b")), option("redcap.example.org", Some("a"))],
        );
        let Validation::Pending { records, awaiting } = validation(&c, &names) else {
            panic!("pending")
        };
        assert!(awaiting.is_empty());
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].set.name, "_a.redcap.example.org");
        assert_eq!(records[0].set.values, ["_a.acm-validations.aws."]);
    }

    #[test]
    fn a_record_acm_has_not_issued_yet_is_awaited() {
        let names = certificate_names("redcap.example.org");
        let c = cert("PENDING_VALIDATION", vec![option("redcap.example.org", None)]);
        assert_eq!(
            validation(&c, &names),
            Validation::Pending { records: vec![], awaiting: vec!["redcap.example.org".into()] }
        );
        let c = cert("PENDING_VALIDATION", vec![]);
        assert!(
            matches!(validation(&c, &names), Validation::Pending { awaiting, .. } if awaiting.len() == 1)
        );
    }

    #[test]
    fn issued_and_failed_certificates() {
        let names = certificate_names("redcap.example.org");
        assert_eq!(validation(&cert("ISSUED", vec![]), &names), Validation::Issued);
        let mut c = cert("VALIDATION_TIMED_OUT", vec![]);
        c.failure_reason = Some("NO_AVAILABLE_CONTACTS".into());
        let Validation::Failed(why) = validation(&c, &names) else { panic!("failed") };
        assert!(why.contains("VALIDATION_TIMED_OUT") && why.contains("arn:cert"), "{why}");
    }

    #[test]
    fn delegation_replaces_only_name_servers_the_environment_had() {
        let ns = vec!["ns-1.awsdns-00.com".to_string(), "ns-2.awsdns-01.net".to_string()];
        let old = vec!["ns-9.awsdns-09.org".to_string()];
        let want = delegation_record("redcap.example.org", &ns, &old);
        let seen = RecordSet::values("redcap.example.org", "NS", 300, old.clone());
        assert!(matches!(
            crate::plan::dns::record_step(&want, Some(&seen)),
            crate::plan::dns::RecordStep::Write(_)
        ));
        let foreign =
            RecordSet::values("redcap.example.org", "NS", 300, vec!["ns.other.net".into()]);
        assert!(matches!(
            crate::plan::dns::record_step(&want, Some(&foreign)),
            crate::plan::dns::RecordStep::Conflict(_)
        ));
    }

    #[test]
    fn the_site_alias_moves_between_the_environment_targets() {
        let alb = AliasTarget::new("alb.eu-west-1.elb.amazonaws.com", "Z32O12XQLNTSW2");
        let ar = AliasTarget::new("abc.eu-west-1.awsapprunner.com", "Z087551914Z2PCAU0QHMW");
        let want = site_alias("redcap.example.org", &ar, &[alb.clone(), ar.clone()]);
        let seen = RecordSet::alias("redcap.example.org", "A", alb);
        assert!(matches!(
            crate::plan::dns::record_step(&want, Some(&seen)),
            crate::plan::dns::RecordStep::Write(w) if matches!(*w, crate::plan::dns::RecordWrite::Replace { .. })
        ));
        for region in api::APP_RUNNER_CUSTOM_DOMAIN_REGIONS {
            assert!(app_runner_zone_id(region).is_some(), "{region}");
        }
    }
}
