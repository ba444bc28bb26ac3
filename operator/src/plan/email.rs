//! Desired Amazon SES state and the DNS records it needs (step: plan; pure, no I/O).
//!
//! With `spec.domain` the identity is the site's domain, with Easy DKIM and the MAIL FROM
//! domain `<mailFromSubdomain>.<site>`; its records go to Route 53 when the environment
//! manages the zone, and to `status.outputs.dnsRecords` otherwise. Without a domain the
//! identity is `spec.email.fromAddress`, verified by the link SES mails to it. A
//! configuration set carries bounce and complaint events to an SNS topic subscribed to
//! `spec.email.bounceNotificationAddress`.
//!
//! SES v1 (`aws-sdk-ses`) is used, not SESv2: both are supported by AWS, and v1 is the
//! API the local emulator (moto 5.2.5) implements for DKIM tokens, MAIL FROM and event
//! destinations, so what the operator does is tested end to end.

use crate::api::{self, DomainSpec, HostedZoneMode, RedcapEnvironmentSpec};

use super::tags::TagSet;
use super::{EnvIdentity, PlanError};

/// Tag on the environment's SNS topic naming the SES identity the environment created
/// (SES v1 identities take no tags). Only an identity named here is ever deleted.
pub const IDENTITY_MARKER_TAG: &str = "redcap.dev/ses-identity";
/// SES events forwarded to the notification topic.
pub const NOTIFICATION_EVENTS: [&str; 2] = ["bounce", "complaint"];

/// TTL of the records the operator writes.
pub const RECORD_TTL: i64 = 1800;
/// MX preference of the MAIL FROM record (the value SES documents).
const MAIL_FROM_MX_PRIORITY: u16 = 10;

/// Kind of SES identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityKind {
    Domain,
    EmailAddress,
}

/// Where the identity's DNS records go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsTarget {
    /// An email-address identity needs no records.
    NotNeeded,
    /// Into this public Route 53 zone. `must_be_owned`: the zone is the one the
    /// environment creates (mode `Create`), so it must carry the environment's UID tag.
    Route53 { zone_name: String, must_be_owned: bool },
    /// Listed in `status.outputs.dnsRecords` (mode `None`).
    Manual,
}

/// Bounce and complaint forwarding: a topic (always, so other subscribers can be added),
/// and an email subscription when an address is given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notifications {
    pub topic_name: String,
    pub event_destination: String,
    pub address: Option<String>,
    pub tags: TagSet,
}

/// The SES side of an environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredEmail {
    pub identity: String,
    pub kind: IdentityKind,
    pub from_address: String,
    pub mail_from_domain: Option<String>,
    pub configuration_set: String,
    pub notifications: Notifications,
    pub dns: DnsTarget,
    pub rotation_days: u32,
}

/// `arn:<partition>:sns:<region>:<account>:<name>`.
pub fn topic_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:sns:{region}:{account}:{name}")
}

/// The site's DNS name: `subdomain.name`, or `name`.
pub fn site_domain(domain: &DomainSpec) -> String {
    match &domain.subdomain {
        Some(sub) => format!("{sub}.{}", domain.name),
        None => domain.name.clone(),
    }
}

/// Checks an address well enough to give a clear message before SES is asked.
pub fn validate_email_address(field: &'static str, address: &str) -> Result<(), PlanError> {
    let bad = |why: &str| PlanError::InvalidSpec {
        field,
        message: format!("{address:?} is not a valid email address: {why}"),
    };
    let (local, domain) = address.rsplit_once('@').ok_or_else(|| bad("it has no @"))?;
    if local.is_empty() || local.len() > 64 {
        return Err(bad("the part before @ must be 1 to 64 characters"));
    }
    if local.contains('@')
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
        || local.chars().any(|c| c.is_whitespace() || c.is_control() || "\"(),:;<>[\\]".contains(c))
    {
        return Err(bad("the part before @ has characters SES does not accept"));
    }
    validate_domain(domain).map_err(|why| bad(&why))
}

fn validate_domain(domain: &str) -> Result<(), String> {
    let labels: Vec<&str> = domain.split('.').collect();
    if domain.len() > 253 || labels.len() < 2 {
        return Err(format!("{domain:?} is not a fully qualified domain name"));
    }
    for label in &labels {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!("{domain:?} has an invalid label {label:?}"));
        }
    }
    if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("{domain:?} ends in a numeric label"));
    }
    Ok(())
}

/// The SES side of the environment, from `spec.domain` and `spec.email`.
pub fn desired_email(
    id: &EnvIdentity,
    spec: &RedcapEnvironmentSpec,
) -> Result<DesiredEmail, PlanError> {
    let email = spec.email.clone().unwrap_or_default();
    let environment_id = id.environment_id();
    if let Some(address) = &email.bounce_notification_address {
        validate_email_address("spec.email.bounceNotificationAddress", address)?;
    }
    let (identity, kind, from_address, mail_from_domain, dns) = match &spec.domain {
        Some(domain) => {
            let site = site_domain(domain).to_ascii_lowercase();
            let from = email.from_address.clone().unwrap_or_else(|| format!("noreply@{site}"));
            validate_email_address("spec.email.fromAddress", &from)?;
            let from_domain =
                from.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
            if from_domain != site && !from_domain.ends_with(&format!(".{site}")) {
                return Err(PlanError::InvalidSpec {
                    field: "spec.email.fromAddress",
                    message: format!(
                        "{from} is not an address at {site}: with spec.domain, SES sends as the domain identity {site}, which covers only addresses at it or its subdomains"
                    ),
                });
            }
            let mail_from = format!("{}.{site}", email.mail_from_subdomain);
            validate_domain(&mail_from).map_err(|message| PlanError::InvalidSpec {
                field: "spec.email.mailFromSubdomain",
                message,
            })?;
            let dns = match domain.hosted_zone.mode {
                HostedZoneMode::Create => {
                    DnsTarget::Route53 { zone_name: site.clone(), must_be_owned: true }
                }
                HostedZoneMode::Existing => DnsTarget::Route53 {
                    zone_name: domain
                        .hosted_zone
                        .zone_name
                        .clone()
                        .unwrap_or_else(|| domain.name.clone()),
                    must_be_owned: false,
                },
                HostedZoneMode::None => DnsTarget::Manual,
            };
            (site, IdentityKind::Domain, from, Some(mail_from), dns)
        }
        None => {
            let from = email.from_address.clone().ok_or(PlanError::InvalidSpec {
                field: "spec.email.fromAddress",
                message: "is required when spec.domain is not set (SES needs an identity)".into(),
            })?;
            validate_email_address("spec.email.fromAddress", &from)?;
            (from.clone(), IdentityKind::EmailAddress, from, None, DnsTarget::NotNeeded)
        }
    };
    let notifications = Notifications {
        topic_name: format!("{environment_id}-ses-notifications"),
        event_destination: format!("{environment_id}-notifications"),
        address: email.bounce_notification_address.clone(),
        tags: id.ownership_tags(api::ComponentName::Email, &spec.aws.tags)?,
    };
    Ok(DesiredEmail {
        identity,
        kind,
        from_address,
        mail_from_domain,
        configuration_set: format!("{environment_id}-mail"),
        notifications,
        dns,
        rotation_days: email.credential_rotation_days,
    })
}

/// What SES reports about the identity (the three `GetIdentity*Attributes` answers).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedIdentity {
    pub verification_status: Option<String>,
    pub verification_token: Option<String>,
    pub dkim_enabled: bool,
    pub dkim_tokens: Vec<String>,
    pub dkim_status: Option<String>,
    pub mail_from_domain: Option<String>,
    pub mail_from_status: Option<String>,
}

/// One call that brings the identity to the desired state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentityChange {
    /// `VerifyDomainIdentity` (also after a failed verification: it starts over).
    VerifyDomain,
    /// `VerifyEmailIdentity` (SES mails a verification link).
    VerifyEmail,
    /// `VerifyDomainDkim`: creates the three Easy DKIM tokens.
    CreateDkimTokens,
    /// `SetIdentityDkimEnabled(true)`.
    EnableDkim,
    /// `SetIdentityMailFromDomain`.
    SetMailFrom(String),
}

impl IdentityChange {
    pub fn describe(&self) -> &'static str {
        match self {
            IdentityChange::VerifyDomain | IdentityChange::VerifyEmail => "verification",
            IdentityChange::CreateDkimTokens | IdentityChange::EnableDkim => "DKIM",
            IdentityChange::SetMailFrom(_) => "MAIL FROM domain",
        }
    }
}

/// Verification states after which SES will not verify without being asked again.
pub fn verification_failed(seen: &ObservedIdentity) -> bool {
    seen.verification_status.as_deref() == Some("Failed")
}

/// The calls that bring the identity to `want`; `None`: it does not exist yet.
pub fn identity_changes(
    want: &DesiredEmail,
    seen: Option<&ObservedIdentity>,
) -> Vec<IdentityChange> {
    let mut changes = Vec::new();
    let failed = seen.is_some_and(verification_failed);
    match want.kind {
        IdentityKind::EmailAddress => {
            if seen.is_none() || failed {
                changes.push(IdentityChange::VerifyEmail);
            }
        }
        IdentityKind::Domain => {
            if seen.is_none() || failed {
                changes.push(IdentityChange::VerifyDomain);
            }
            let seen = seen.cloned().unwrap_or_default();
            if seen.dkim_tokens.is_empty() {
                changes.push(IdentityChange::CreateDkimTokens);
            } else if !seen.dkim_enabled {
                changes.push(IdentityChange::EnableDkim);
            }
            if let Some(mail_from) = &want.mail_from_domain
                && seen.mail_from_domain.as_deref() != Some(mail_from.as_str())
            {
                changes.push(IdentityChange::SetMailFrom(mail_from.clone()));
            }
        }
    }
    changes
}

/// A DNS record SES needs, in Route 53's text form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SesRecord {
    /// Fully qualified, lower case, no trailing dot.
    pub name: String,
    pub type_: &'static str,
    /// As Route 53 takes it (TXT values quoted).
    pub value: String,
    pub purpose: &'static str,
}

/// The records of a domain identity: its verification TXT, the three DKIM CNAMEs, and
/// the MAIL FROM MX and SPF records. Records whose tokens SES has not issued yet are left
/// out (they appear on the next pass).
pub fn ses_records(want: &DesiredEmail, region: &str, seen: &ObservedIdentity) -> Vec<SesRecord> {
    if want.kind != IdentityKind::Domain {
        return Vec::new();
    }
    let domain = &want.identity;
    let mut out = Vec::new();
    if let Some(token) = &seen.verification_token {
        out.push(SesRecord {
            name: format!("_amazonses.{domain}"),
            type_: "TXT",
            value: format!("\"{token}\""),
            purpose: "SES domain verification",
        });
    }
    for token in &seen.dkim_tokens {
        out.push(SesRecord {
            name: format!("{token}._domainkey.{domain}"),
            type_: "CNAME",
            value: format!("{token}.dkim.amazonses.com"),
            purpose: "SES DKIM",
        });
    }
    if let Some(mail_from) = &want.mail_from_domain {
        out.push(SesRecord {
            name: mail_from.clone(),
            type_: "MX",
            value: format!("{MAIL_FROM_MX_PRIORITY} feedback-smtp.{region}.amazonses.com"),
            purpose: "SES MAIL FROM",
        });
        out.push(SesRecord {
            name: mail_from.clone(),
            type_: "TXT",
            value: "\"v=spf1 include:amazonses.com ~all\"".to_string(),
            purpose: "SES MAIL FROM (SPF)",
        });
    }
    out
}

/// A record as `status.outputs.dnsRecords` lists it (TXT without Route 53's quotes).
pub fn output_record(record: &SesRecord) -> api::DnsRecord {
    api::DnsRecord {
        name: record.name.clone(),
        type_: record.type_.to_string(),
        value: record.value.trim_matches('"').to_string(),
        purpose: Some(record.purpose.to_string()),
    }
}

/// A record set as `ListResourceRecordSets` returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedRecordSet {
    pub name: String,
    pub type_: String,
    pub ttl: i64,
    pub values: Vec<String>,
}

/// Route 53 answers with trailing dots, and domain names in any case.
pub fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn normalize_value(type_: &str, value: &str) -> String {
    match type_ {
        // TXT content is case-sensitive; only the name part of the others is not.
        "TXT" => value.to_string(),
        _ => normalize_name(value),
    }
}

/// The record sets that hold exactly the operator's value for a wanted record: what may
/// be deleted when the identity goes (anything else is someone's edit, left alone).
pub fn owned_record_sets(want: &[SesRecord], seen: &[ObservedRecordSet]) -> Vec<ObservedRecordSet> {
    seen.iter()
        .filter(|s| records_to_write(want, std::slice::from_ref(s)).len() < want.len())
        .cloned()
        .collect()
}

/// The records that are missing or hold another value, to UPSERT.
pub fn records_to_write(want: &[SesRecord], seen: &[ObservedRecordSet]) -> Vec<SesRecord> {
    want.iter()
        .filter(|r| {
            !seen.iter().any(|s| {
                normalize_name(&s.name) == r.name
                    && s.type_ == r.type_
                    && s.values.len() == 1
                    && normalize_value(r.type_, &s.values[0]) == normalize_value(r.type_, &r.value)
            })
        })
        .cloned()
        .collect()
}

/// An event destination of the configuration set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedEventDestination {
    pub name: String,
    pub enabled: bool,
    /// Lower-case event types (`bounce`, `complaint`, ...).
    pub event_types: Vec<String>,
    pub topic_arn: Option<String>,
}

/// Whether the configuration set forwards exactly bounces and complaints to the topic.
pub fn event_destination_in_sync(
    want: &Notifications,
    topic_arn: &str,
    seen: &[ObservedEventDestination],
) -> bool {
    seen.iter().any(|d| {
        let mut types: Vec<String> = d.event_types.iter().map(|t| t.to_ascii_lowercase()).collect();
        types.sort();
        types.dedup();
        d.name == want.event_destination
            && d.enabled
            && types == NOTIFICATION_EVENTS
            && d.topic_arn.as_deref() == Some(topic_arn)
    })
}

/// A subscription of the notification topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedSubscription {
    /// `PendingConfirmation` until the recipient confirms.
    pub arn: String,
    pub protocol: String,
    pub endpoint: String,
}

/// Tag on the topic naming the address the operator subscribed, so a changed address
/// unsubscribes only that one and never a subscription someone else added.
pub const SUBSCRIBED_TAG: &str = "redcap.dev/notification-address";

/// What to change in the topic's email subscriptions: the address to subscribe, and the
/// confirmed subscriptions of the address the operator subscribed before (`previous`,
/// from [`SUBSCRIBED_TAG`]) when it is no longer wanted. Pending subscriptions cannot be
/// removed; SNS drops them after three days.
pub fn subscription_changes(
    want: &Notifications,
    seen: &[ObservedSubscription],
    previous: Option<&str>,
) -> (Option<String>, Vec<String>) {
    let emails: Vec<&ObservedSubscription> =
        seen.iter().filter(|s| s.protocol == "email").collect();
    let subscribe = want
        .address
        .as_ref()
        .filter(|a| !emails.iter().any(|s| s.endpoint.eq_ignore_ascii_case(a)))
        .cloned();
    let stale =
        previous.filter(|p| want.address.as_deref().is_none_or(|a| !a.eq_ignore_ascii_case(p)));
    let unsubscribe = match stale {
        Some(old) => emails
            .iter()
            .filter(|s| s.arn.starts_with("arn:") && s.endpoint.eq_ignore_ascii_case(old))
            .map(|s| s.arn.clone())
            .collect(),
        None => Vec::new(),
    };
    (subscribe, unsubscribe)
}

/// Status view of the identity.
pub fn email_outputs(
    want: &DesiredEmail,
    seen: Option<&ObservedIdentity>,
    topic_arn: Option<String>,
    region: &str,
) -> api::EmailOutputs {
    let seen = seen.cloned().unwrap_or_default();
    let domain = want.kind == IdentityKind::Domain;
    api::EmailOutputs {
        identity: want.identity.clone(),
        verification_status: seen.verification_status,
        dkim_status: if domain { seen.dkim_status } else { None },
        mail_from_domain: if domain { seen.mail_from_domain } else { None },
        mail_from_status: if domain { seen.mail_from_status } else { None },
        configuration_set: Some(want.configuration_set.clone()),
        notification_topic_arn: topic_arn,
        smtp_endpoint: Some(super::smtp::smtp_endpoint(region)),
    }
}

#[cfg(test)]
#[path = "email_tests.rs"]
mod tests;
