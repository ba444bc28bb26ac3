//! `spec.domain` and `spec.email`: how users reach REDCap and how it sends mail
//! (api step: types only, no I/O).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// DNS name, hosted zone and certificate. The site is served at `subdomain.name`
/// (or at `name` when `subdomain` is absent).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("!self.delegateFromParent || (has(self.subdomain) && self.hostedZone.mode == 'Create')")
        .message("spec.domain.delegateFromParent needs spec.domain.subdomain and spec.domain.hostedZone.mode Create: the new zone subdomain.name is delegated from the existing zone name")
        .field_path(".delegateFromParent"),
    validation = Rule::new("self.hostedZone.mode != 'Existing' || !has(self.hostedZone.zoneName) || (has(self.subdomain) ? self.subdomain + '.' + self.name : self.name) == self.hostedZone.zoneName || (has(self.subdomain) ? self.subdomain + '.' + self.name : self.name).endsWith('.' + self.hostedZone.zoneName)")
        .message("spec.domain.hostedZone.zoneName must be the site's name or a parent of it (the records are written into that zone)")
        .field_path(".hostedZone.zoneName"),
    validation = Rule::new("!has(self.parentZoneRoleArn) || self.delegateFromParent")
        .message("spec.domain.parentZoneRoleArn is only used with spec.domain.delegateFromParent: true")
        .field_path(".parentZoneRoleArn"),
    validation = Rule::new("!has(self.subdomain) || size(self.subdomain) + size(self.name) < 253")
        .message("spec.domain.subdomain plus spec.domain.name must be shorter than 253 characters")
        .field_path(".subdomain"),
)]
#[serde(rename_all = "camelCase")]
pub struct DomainSpec {
    /// The DNS name of the site, or its parent when `subdomain` is set, in lower case
    /// (e.g. `example.org`; seed: `domain`).
    #[schemars(length(min = 3, max = 253), regex(pattern = crate::api::schema::DNS_NAME))]
    pub name: String,

    /// Label(s) in front of `name`, e.g. `redcap` for `redcap.example.org`
    /// (seed: `subdomain`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 190), regex(pattern = crate::api::schema::DNS_LABELS))]
    pub subdomain: Option<String>,

    /// Which Route 53 hosted zone holds the site's records (seed: `hostInRoute53`).
    /// Default: create a zone for the site.
    #[serde(default)]
    pub hosted_zone: HostedZone,

    /// Also write NS records for the new zone `subdomain.name` into the existing public
    /// zone `name` (seed: `hostInRoute53: '<name>'` with a `subdomain`), in this
    /// account or, with `parentZoneRoleArn`, another one. Default false: the name
    /// servers appear in `status.outputs` for you to delegate.
    #[serde(default)]
    pub delegate_from_parent: bool,

    /// IAM role in the account of the parent zone `name` that the operator assumes to
    /// write the NS records there (cross-account delegation, the seed's `route53NS`
    /// stage). Its trust policy must allow the operator's role; it needs
    /// `route53:ListHostedZonesByName`, `route53:ListResourceRecordSets` and
    /// `route53:ChangeResourceRecordSets` on the parent zone. Absent: the parent zone is
    /// in the environment's own account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 2048),
        regex(pattern = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")
    )]
    pub parent_zone_role_arn: Option<String>,

    /// ACM certificate (same region) for the site. Absent: the operator requests a
    /// DNS-validated certificate where the compute kind needs one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = crate::api::schema::ACM_CERTIFICATE_ARN))]
    pub certificate_arn: Option<String>,
}

/// The Route 53 hosted zone of the site.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[x_kube(
    validation = Rule::new("self.mode == 'Existing' ? has(self.zoneName) : !has(self.zoneName)")
        .message("spec.domain.hostedZone.zoneName is required with mode Existing and not allowed otherwise")
        .field_path(".zoneName")
)]
#[serde(rename_all = "camelCase")]
pub struct HostedZone {
    /// `Create` (default): a new public zone for the site, removed with the environment.
    /// `Existing`: write the records into the zone `zoneName`, which the operator never
    /// deletes. `None`: no Route 53; the records to create appear in `status.outputs`.
    #[serde(default)]
    pub mode: HostedZoneMode,

    /// Name of the existing public zone (mode `Existing` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 253), regex(pattern = crate::api::schema::DNS_NAME))]
    pub zone_name: Option<String>,
}

/// How the site's DNS records are managed.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum HostedZoneMode {
    /// Create a public hosted zone for the site.
    #[default]
    Create,
    /// Use an existing public hosted zone.
    Existing,
    /// Manage no DNS; publish the records to create in `status.outputs`.
    None,
}

/// Outgoing mail through Amazon SES. With a `domain` whose zone the operator manages, the
/// SES identity is that domain (DKIM and MAIL FROM records included); otherwise it is
/// `fromAddress`, verified by the link SES mails to it. New accounts start in the SES
/// sandbox: request production access before sending to arbitrary recipients.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailSpec {
    /// Sender address of REDCap's mail (seed: `email`). Default `noreply@<site>` when a
    /// domain is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 254), regex(pattern = crate::api::schema::EMAIL))]
    pub from_address: Option<String>,

    /// Address that receives bounce and complaint notifications through SNS (seed:
    /// `bounceNotificationEmail`). Absent: they are not forwarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 254), regex(pattern = crate::api::schema::EMAIL))]
    pub bounce_notification_address: Option<String>,

    /// Label of the custom MAIL FROM domain under the site's domain (`mail` gives
    /// `mail.<site>`; seed's fixed value). Only used with a domain identity.
    #[serde(default = "default_mail_from")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    )]
    pub mail_from_subdomain: String,

    /// Days between rotations of the SES SMTP credentials (an IAM access key and the SMTP
    /// password derived from it). The operator creates the new key, stores the new
    /// credentials in Secrets Manager, and deletes the previous key one day later.
    /// Default 90.
    #[serde(default = "super::storage::default_rotation_days")]
    #[schemars(range(min = 1, max = 365))]
    pub credential_rotation_days: u32,
}

impl Default for EmailSpec {
    fn default() -> Self {
        Self {
            from_address: None,
            bounce_notification_address: None,
            mail_from_subdomain: default_mail_from(),
            credential_rotation_days: super::storage::default_rotation_days(),
        }
    }
}

fn default_mail_from() -> String {
    "mail".to_owned()
}
