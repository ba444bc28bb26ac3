//! The tenancy policy: which AWS roles, DNS names, hosted zones and restore sources each
//! namespace may use (step: configuration and pure checks; no I/O besides reading the
//! policy file once at start).
//!
//! Whoever can write a `RedcapEnvironment` in a namespace makes the operator act with
//! the operator's powers; the policy is the cluster administrator's word on how far that
//! reaches. It is one YAML document (the chart renders it from `tenancy:` into a
//! ConfigMap, mounted and passed with `--tenancy-policy-file`):
//!
//! ```yaml
//! default:            # namespaces not listed below
//!   roles: []
//!   domains: []
//!   hostedZones: []
//!   restoreFromNamespaces: []
//! namespaces:
//!   redcap-prod:
//!     roles:
//!       - arn: arn:aws:iam::111122223333:role/redcap-operator-prod
//!         externalId: prod-7f3a
//!     domains: [redcap.example.org]
//!     hostedZones: [example.org]
//!   redcap-staging:
//!     domains: [staging.redcap.example.org]
//!     restoreFromNamespaces: [redcap-prod]
//! ```
//!
//! Without a file every namespace gets the built-in default, which allows nothing beyond
//! the namespace itself: the operator's own credentials, no DNS name, no existing zone,
//! restores only from the namespace's own snapshots and clusters.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::api::tags;
use crate::api::{AwsSpec, RedcapEnvironmentSpec};
use crate::plan::TagSet;

/// The policy of the whole operator.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TenancyPolicy {
    /// The binding of every namespace not listed in `namespaces`.
    #[serde(default)]
    pub default: Binding,
    /// Bindings by namespace name.
    #[serde(default)]
    pub namespaces: BTreeMap<String, Binding>,
}

/// What the environments of one namespace may use.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Binding {
    /// Roles `spec.aws.roleArn` (and `spec.domain.parentZoneRoleArn`) may name.
    #[serde(default)]
    pub roles: Vec<RoleBinding>,
    /// DNS names the site (`spec.domain`) and the SES from-address may be at: each entry
    /// allows itself and every name under it.
    #[serde(default)]
    pub domains: Vec<String>,
    /// Existing public hosted zones the operator may write records into for this
    /// namespace (`hostedZone.mode: Existing`, and the parent zone of
    /// `delegateFromParent`), by zone name.
    #[serde(default)]
    pub hosted_zones: Vec<String>,
    /// Namespaces whose environments' snapshots and clusters this namespace may restore
    /// from (its own are always allowed).
    #[serde(default)]
    pub restore_from_namespaces: Vec<String>,
    /// Also allow restore sources that carry no operator ownership tags (a snapshot of a
    /// database the operator never managed, e.g. a migration from the seed project).
    #[serde(default)]
    pub restore_from_unowned: bool,
}

/// One role a namespace may use.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RoleBinding {
    /// The role ARN, exactly.
    pub arn: String,
    /// The external ID the operator passes when assuming the role. The spec never
    /// chooses it: `spec.aws.externalId`, when set, must equal this value.
    #[serde(default)]
    pub external_id: Option<String>,
}

/// The policy file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("reading the tenancy policy {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("parsing the tenancy policy {path}: {source}")]
    Parse {
        path: String,
        #[source]
        source: serde_yaml::Error,
    },
}

/// Something the namespace's binding does not allow. The text names the field, the
/// value and the policy entry that would allow it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Denied {
    pub field: &'static str,
    pub message: String,
}

/// How the operator assumes an environment's role: the external ID comes from the
/// policy, the session name from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleAccess {
    pub external_id: Option<String>,
}

impl TenancyPolicy {
    /// Reads and parses a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| PolicyError::Read { path: shown.clone(), source })?;
        Self::parse(&text).map_err(|source| PolicyError::Parse { path: shown, source })
    }

    /// Parses a policy document (an empty document is the built-in default).
    pub fn parse(text: &str) -> Result<Self, serde_yaml::Error> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_yaml::from_str(text)
    }

    /// The binding of `namespace`, and where it comes from (for messages).
    pub fn binding(&self, namespace: &str) -> (&Binding, String) {
        match self.namespaces.get(namespace) {
            Some(b) => (b, format!("tenancy.namespaces.{namespace}")),
            None => {
                (&self.default, format!("tenancy.default (namespace {namespace} is not listed)"))
            }
        }
    }

    /// Checks the spec's role, DNS names, zones and from-address against the namespace's
    /// binding. Returns how to assume the role.
    pub fn check_spec(
        &self,
        namespace: &str,
        spec: &RedcapEnvironmentSpec,
    ) -> Result<RoleAccess, Denied> {
        let access = self.check_role(namespace, &spec.aws)?;
        let (binding, from) = self.binding(namespace);
        if let Some(domain) = &spec.domain {
            let parent_role = domain.parent_zone_role_arn.as_deref();
            if let Some(role) = parent_role
                && binding.role(role).is_none()
            {
                return Err(Denied {
                    field: "spec.domain.parentZoneRoleArn",
                    message: format!(
                        "role {role} is not allowed for namespace {namespace} by {from} (roles)"
                    ),
                });
            }
            let site = match &domain.subdomain {
                Some(sub) => format!("{sub}.{}", domain.name),
                None => domain.name.clone(),
            };
            if !binding.allows_domain(&site) {
                return Err(Denied {
                    field: "spec.domain",
                    message: format!(
                        "{site} is not under a domain allowed for namespace {namespace} by {from} (domains)"
                    ),
                });
            }
            use crate::api::HostedZoneMode;
            let existing_zone = match domain.hosted_zone.mode {
                HostedZoneMode::Existing => Some((
                    "spec.domain.hostedZone.zoneName",
                    domain.hosted_zone.zone_name.clone().unwrap_or_else(|| domain.name.clone()),
                )),
                _ if domain.delegate_from_parent => {
                    Some(("spec.domain.delegateFromParent", domain.name.clone()))
                }
                _ => None,
            };
            if let Some((field, zone)) = existing_zone
                && !binding.allows_zone(&zone)
            {
                return Err(Denied {
                    field,
                    message: format!(
                        "the operator may not write into hosted zone {zone} for namespace {namespace}: it is not listed in {from} (hostedZones)"
                    ),
                });
            }
        }
        if let Some(from_address) = spec.email.as_ref().and_then(|e| e.from_address.as_deref()) {
            let at = from_address.rsplit_once('@').map(|(_, d)| d).unwrap_or(from_address);
            if !binding.allows_domain(at) {
                return Err(Denied {
                    field: "spec.email.fromAddress",
                    message: format!(
                        "{at} is not under a domain allowed for namespace {namespace} by {from} (domains)"
                    ),
                });
            }
        }
        Ok(access)
    }

    /// Checks `spec.aws.roleArn` (and `externalId`) only: what deletion needs.
    pub fn check_role(&self, namespace: &str, aws: &AwsSpec) -> Result<RoleAccess, Denied> {
        let (binding, from) = self.binding(namespace);
        let Some(role) = aws.role_arn.as_deref().filter(|r| !r.is_empty()) else {
            if aws.external_id.is_some() {
                return Err(Denied {
                    field: "spec.aws.externalId",
                    message: "is only used with spec.aws.roleArn".into(),
                });
            }
            return Ok(RoleAccess { external_id: None });
        };
        let Some(bound) = binding.role(role) else {
            return Err(Denied {
                field: "spec.aws.roleArn",
                message: format!(
                    "role {role} is not allowed for namespace {namespace} by {from} (roles)"
                ),
            });
        };
        match (&aws.external_id, &bound.external_id) {
            (Some(asked), Some(known)) if asked != known => Err(Denied {
                field: "spec.aws.externalId",
                message: format!(
                    "does not match the external ID {from} binds to role {role}; leave spec.aws.externalId out (the operator passes the bound one)"
                ),
            }),
            (Some(_), None) => Err(Denied {
                field: "spec.aws.externalId",
                message: format!(
                    "{from} binds no external ID to role {role}: the external ID comes from the tenancy policy, not from the spec"
                ),
            }),
            _ => Ok(RoleAccess { external_id: bound.external_id.clone() }),
        }
    }

    /// Whether an environment of `namespace` may restore from a snapshot or cluster with
    /// these tags. `what` names the source for the message.
    pub fn check_restore_source(
        &self,
        namespace: &str,
        source_tags: &TagSet,
        what: &str,
    ) -> Result<(), Denied> {
        let (binding, from) = self.binding(namespace);
        let owner_ns =
            source_tags.get(tags::NAMESPACE).filter(|_| source_tags.get(tags::UID).is_some());
        match owner_ns {
            // The namespace is the tenant boundary: any environment of it may restore
            // from another of its environments (a recreated one from its predecessor).
            Some(ns) if ns == namespace => Ok(()),
            Some(ns) if binding.restore_from_namespaces.iter().any(|n| n == ns) => Ok(()),
            Some(ns) => Err(Denied {
                field: "spec.database.restoreFrom",
                message: format!(
                    "{what} belongs to an environment of namespace {ns}; {from} does not allow namespace {namespace} to restore from it (restoreFromNamespaces); nothing was created"
                ),
            }),
            None if binding.restore_from_unowned => Ok(()),
            None => Err(Denied {
                field: "spec.database.restoreFrom",
                message: format!(
                    "{what} carries no ownership tags of this operator; {from} does not allow restoring from unowned sources (restoreFromUnowned); nothing was created"
                ),
            }),
        }
    }
}

impl Binding {
    fn role(&self, arn: &str) -> Option<&RoleBinding> {
        self.roles.iter().find(|r| r.arn == arn)
    }

    /// `name` is one of the allowed domains or under one (DNS names are case-insensitive
    /// and may end with a dot).
    pub fn allows_domain(&self, name: &str) -> bool {
        let name = normalise(name);
        self.domains
            .iter()
            .map(|d| normalise(d))
            .any(|d| !d.is_empty() && (name == d || name.ends_with(&format!(".{d}"))))
    }

    /// `zone` is listed exactly.
    pub fn allows_zone(&self, zone: &str) -> bool {
        let zone = normalise(zone);
        self.hosted_zones.iter().any(|z| normalise(z) == zone)
    }
}

fn normalise(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Longest role session name STS accepts.
const SESSION_NAME_MAX: usize = 64;

/// The role session name for an environment: `redcap-<namespace>.<name>` in STS's
/// character set, cut to 64 characters with a hash of the full name kept at the end, so
/// CloudTrail names the environment behind every call made with its role.
pub fn session_name(namespace: &str, name: &str) -> String {
    let full = format!("redcap-{namespace}.{name}");
    let clean: String = full
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) { c } else { '-' })
        .collect();
    if clean.len() <= SESSION_NAME_MAX {
        return clean;
    }
    use sha2::{Digest, Sha256};
    let hash = &hex::encode(Sha256::digest(full.as_bytes()))[..8];
    format!("{}-{hash}", &clean[..SESSION_NAME_MAX - hash.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DomainSpec, EmailSpec, HostedZone, HostedZoneMode};

    const POLICY: &str = r#"
default:
  domains: [shared.example.org]
namespaces:
  prod:
    roles:
      - arn: arn:aws:iam::111122223333:role/redcap-operator-prod
        externalId: ext-prod
      - arn: arn:aws:iam::111122223333:role/redcap-operator-open
    domains: [redcap.example.org]
    hostedZones: [example.org.]
  staging:
    restoreFromNamespaces: [prod]
"#;

    fn policy() -> TenancyPolicy {
        TenancyPolicy::parse(POLICY).unwrap()
    }

    fn spec(role: Option<&str>, external: Option<&str>) -> RedcapEnvironmentSpec {
        let mut s = crate::api::RedcapEnvironment::test().spec;
        s.aws.role_arn = role.map(str::to_string);
        s.aws.external_id = external.map(str::to_string);
        s.email = None;
        s.domain = None;
        s
    }

    fn with_domain(
        mut s: RedcapEnvironmentSpec,
        mode: HostedZoneMode,
        zone: Option<&str>,
    ) -> RedcapEnvironmentSpec {
        s.domain = Some(DomainSpec {
            name: "example.org".into(),
            subdomain: Some("redcap".into()),
            hosted_zone: HostedZone { mode, zone_name: zone.map(str::to_string) },
            delegate_from_parent: false,
            parent_zone_role_arn: None,
            certificate_arn: None,
        });
        s
    }

    #[test]
    fn the_built_in_default_allows_nothing_beyond_the_namespace() {
        let p = TenancyPolicy::parse("").unwrap();
        assert_eq!(p, TenancyPolicy::default());
        assert!(p.check_spec("any", &spec(None, None)).is_ok());
        let role = p.check_spec("any", &spec(Some("arn:aws:iam::111122223333:role/x"), None));
        assert_eq!(role.unwrap_err().field, "spec.aws.roleArn");
        let site =
            p.check_spec("any", &with_domain(spec(None, None), HostedZoneMode::Create, None));
        assert_eq!(site.unwrap_err().field, "spec.domain");
        let mut mail = spec(None, None);
        mail.email =
            Some(EmailSpec { from_address: Some("a@example.org".into()), ..EmailSpec::default() });
        assert_eq!(p.check_spec("any", &mail).unwrap_err().field, "spec.email.fromAddress");
        let mut foreign = TagSet::new();
        foreign.insert(tags::NAMESPACE, "other");
        foreign.insert(tags::UID, "u");
        assert!(p.check_restore_source("mine", &foreign, "snapshot s").is_err());
        assert!(p.check_restore_source("mine", &TagSet::new(), "snapshot s").is_err());
        let mut own = TagSet::new();
        own.insert(tags::NAMESPACE, "mine");
        own.insert(tags::UID, "u");
        assert!(p.check_restore_source("mine", &own, "snapshot s").is_ok());
    }

    #[test]
    fn roles_are_bound_per_namespace_and_external_ids_come_from_the_policy() {
        let p = policy();
        let prod = "arn:aws:iam::111122223333:role/redcap-operator-prod";
        assert_eq!(
            p.check_spec("prod", &spec(Some(prod), None)).unwrap(),
            RoleAccess { external_id: Some("ext-prod".into()) }
        );
        assert!(p.check_spec("prod", &spec(Some(prod), Some("ext-prod"))).is_ok());
        let wrong = p.check_spec("prod", &spec(Some(prod), Some("guess"))).unwrap_err();
        assert_eq!(wrong.field, "spec.aws.externalId");
        let open = "arn:aws:iam::111122223333:role/redcap-operator-open";
        assert_eq!(p.check_spec("prod", &spec(Some(open), None)).unwrap().external_id, None);
        assert!(p.check_spec("prod", &spec(Some(open), Some("mine"))).is_err());
        let denied = p.check_spec("staging", &spec(Some(prod), None)).unwrap_err();
        assert!(denied.message.contains("tenancy.namespaces.staging"), "{denied}");
        let unlisted = p.check_spec("dev", &spec(Some(prod), None)).unwrap_err();
        assert!(unlisted.message.contains("tenancy.default"), "{unlisted}");
    }

    #[test]
    fn domains_allow_themselves_and_names_under_them_and_zones_are_listed_exactly() {
        let p = policy();
        let ok = with_domain(spec(None, None), HostedZoneMode::Existing, Some("example.org"));
        assert!(p.check_spec("prod", &ok).is_ok());
        let create = with_domain(spec(None, None), HostedZoneMode::Create, None);
        assert!(p.check_spec("prod", &create).is_ok());
        // The default allows shared.example.org only: redcap.example.org is refused.
        assert_eq!(p.check_spec("dev", &create).unwrap_err().field, "spec.domain");
        let mut other_zone = with_domain(spec(None, None), HostedZoneMode::Existing, None);
        other_zone.domain.as_mut().unwrap().name = "redcap.example.org".into();
        other_zone.domain.as_mut().unwrap().subdomain = None;
        other_zone.domain.as_mut().unwrap().hosted_zone.zone_name =
            Some("redcap.example.org".into());
        assert_eq!(
            p.check_spec("prod", &other_zone).unwrap_err().field,
            "spec.domain.hostedZone.zoneName"
        );
        let mut delegated = with_domain(spec(None, None), HostedZoneMode::Create, None);
        delegated.domain.as_mut().unwrap().delegate_from_parent = true;
        assert!(p.check_spec("prod", &delegated).is_ok());
        delegated.domain.as_mut().unwrap().parent_zone_role_arn =
            Some("arn:aws:iam::444455556666:role/dns".into());
        assert_eq!(
            p.check_spec("prod", &delegated).unwrap_err().field,
            "spec.domain.parentZoneRoleArn"
        );
        let binding = &p.namespaces["prod"];
        assert!(binding.allows_domain("REDCAP.example.org."));
        assert!(!binding.allows_domain("evilredcap.example.org"));
        assert!(!binding.allows_domain("example.org"));
    }

    #[test]
    fn restores_across_namespaces_need_the_target_namespace_binding() {
        let p = policy();
        let mut from_prod = TagSet::new();
        from_prod.insert(tags::NAMESPACE, "prod");
        from_prod.insert(tags::UID, "u-prod");
        assert!(p.check_restore_source("staging", &from_prod, "snapshot s").is_ok());
        let denied = p.check_restore_source("dev", &from_prod, "snapshot s").unwrap_err();
        assert!(denied.message.contains("namespace prod"), "{denied}");
        // A namespace tag without the UID tag is not an operator ownership tag.
        let mut forged = TagSet::new();
        forged.insert(tags::NAMESPACE, "staging");
        assert!(p.check_restore_source("staging", &forged, "snapshot s").is_err());
        let open = TenancyPolicy::parse("default:\n  restoreFromUnowned: true\n").unwrap();
        assert!(open.check_restore_source("dev", &TagSet::new(), "snapshot s").is_ok());
        assert!(TenancyPolicy::parse("default:\n  role: []\n").is_err(), "typos are refused");
    }

    #[test]
    fn session_names_identify_the_environment_within_sts_limits() {
        assert_eq!(session_name("team-a", "prod"), "redcap-team-a.prod");
        let long = session_name(&"n".repeat(63), &"e".repeat(63));
        assert_eq!(long.len(), 64);
        assert_ne!(long, session_name(&"n".repeat(63), &"e".repeat(62)));
        assert!(long.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@-_".contains(c)));
    }
}
