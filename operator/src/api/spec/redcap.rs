//! `spec.redcap`: the application, where its release comes from, languages and initial
//! settings (api step: types only, no I/O).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use super::{S3Location, SecretKeyRef};

/// The REDCap application.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("!has(self.languages) || size(self.languages) == 0 || has(self.languagesSource)")
        .message("spec.redcap.languages needs spec.redcap.languagesSource: the .ini files are read from there")
        .field_path(".languages"),
    validation = Rule::new("!has(self.source.s3) || self.source.s3.key.endsWith('redcap' + self.version + '.zip')")
        .message("spec.redcap.source.s3.key must name the release zip of spec.redcap.version, redcap<version>.zip (as the consortium names it)")
        .field_path(".source.s3.key"),
    validation = Rule::new("!has(self.source.url) || !isURL(self.source.url.url) || url(self.source.url.url).getEscapedPath().endsWith('/redcap' + self.version + '.zip')")
        .message("spec.redcap.source.url.url must end in the release zip of spec.redcap.version, /redcap<version>.zip (as the consortium names it)")
        .field_path(".source.url.url"),
)]
#[serde(rename_all = "camelCase")]
pub struct RedcapSpec {
    /// REDCap version to run, `X.Y.Z` (e.g. `15.8.0`), 14.0.0 or later (the seed was
    /// tested with 14.1.5, 15.8.0 and 16.1.5). Changing it builds a new image and runs
    /// REDCap's database upgrade (seed: the version in the release zip's name).
    #[schemars(
        length(min = 5, max = 32),
        regex(pattern = r"^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$")
    )]
    #[x_kube(validation = Rule::new("!self.split('.')[0].matches('^[0-9]{1,3}$') || int(self.split('.')[0]) >= 14").message("spec.redcap.version must be 14.0.0 or later: the image is built for REDCap 14 and newer"))]
    pub version: String,

    /// Where the release zip of `version` comes from: exactly one of `s3`, `url` or
    /// `community` (seed: `redCapS3Path` / `redCapLocalVersion`).
    pub source: RedcapSource,

    /// Language names to install, e.g. `Japanese` for `Japanese.ini`. Empty (default):
    /// every `.ini` file under `languagesSource`. At most 50.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "languages_schema")]
    pub languages: Vec<String>,

    /// S3 prefix that holds REDCap language files named `<Language>.ini` (seed: the
    /// `packages/REDCap/languages` folder). Absent: English only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub languages_source: Option<S3Location>,

    /// PHP `date.timezone`, an IANA name such as `Asia/Tokyo`. Default `UTC`
    /// (seed: `phpTimezone`).
    #[serde(default = "default_timezone")]
    #[schemars(
        length(min = 1, max = 64),
        regex(pattern = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$")
    )]
    pub timezone: String,

    /// REDCap's initial settings, written to `redcap_config` when REDCap is installed and
    /// again whenever this block changes (seed: `yarn gen redcap config`).
    #[serde(default)]
    pub settings: RedcapSettings,

    /// Further `redcap_config` entries, applied like `settings`. Names the operator
    /// manages itself (storage, mail, base URL, authentication) are refused. At most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub extra_config: Vec<ConfigEntry>,

    /// Extra image tag to build and deploy besides the version, e.g. `upgrade-v2`.
    /// Changing it builds and rolls out a new image (seed: `deployTag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"))]
    pub deploy_tag: Option<String>,

    /// Any string; when it changes, the operator builds the image again and rolls it out,
    /// e.g. to pick up a patched base image (seed: `rebuildImage`, without its "rebuild on
    /// every deploy" surprise). The annotation `redcap.dev/rebuild-requested-at` does the
    /// same without editing the spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub rebuild_token: Option<String>,
}

impl RedcapSpec {
    /// `version` from `source`, everything else at its default.
    pub fn new(version: impl Into<String>, source: RedcapSource) -> Self {
        Self {
            version: version.into(),
            source,
            languages: Vec::new(),
            languages_source: None,
            timezone: default_timezone(),
            settings: RedcapSettings::default(),
            extra_config: Vec::new(),
            deploy_tag: None,
            rebuild_token: None,
        }
    }
}

fn default_timezone() -> String {
    "UTC".to_owned()
}

fn languages_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    crate::api::schema::string_set(50, 64, Some(r"^[A-Za-z0-9][A-Za-z0-9 ._()-]*$"), &[])
}

/// Where the REDCap release zip comes from. Exactly one member is set.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[x_kube(
    validation = Rule::new("(has(self.s3) ? 1 : 0) + (has(self.url) ? 1 : 0) + (has(self.community) ? 1 : 0) == 1")
        .message("spec.redcap.source must set exactly one of s3, url or community")
)]
#[serde(rename_all = "camelCase")]
pub struct RedcapSource {
    /// A release zip you uploaded to S3, named as the consortium names it:
    /// `redcap<version>.zip` (seed: `redCapS3Path`). The operator checks the object
    /// exists before it starts a build; the build reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Location>,

    /// A release zip on an HTTPS server you control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<UrlSource>,

    /// Download from the REDCap consortium with your institution's credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<CommunitySource>,
}

impl RedcapSource {
    /// A release zip in S3.
    pub fn s3(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Self { s3: Some(S3Location { bucket: bucket.into(), key: key.into() }), ..Self::default() }
    }
}

/// A release zip served over HTTPS.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UrlSource {
    /// HTTPS URL of the zip; its path ends in `/redcap<version>.zip`.
    #[x_kube(validation = Rule::new("isURL(self) && url(self).getScheme() == 'https'").message("spec.redcap.source.url.url must be an https:// URL"))]
    #[schemars(length(min = 9, max = 2048))]
    pub url: String,

    /// Expected SHA-256 of the zip in lower-case hex; the build fails on a mismatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 64, max = 64), regex(pattern = r"^[a-f0-9]{64}$"))]
    pub sha256: Option<String>,
}

/// Download from the REDCap consortium (community.projectredcap.org).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommunitySource {
    /// Secret in this namespace that holds the consortium login of your institution.
    pub credentials_secret_ref: CredentialsSecretRef,
}

/// A Secret holding a username and a password.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSecretRef {
    /// Name of the Secret (same namespace as the `RedcapEnvironment`).
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::api::schema::DNS1123_SUBDOMAIN))]
    pub name: String,
    /// Key of the username. Default `username`.
    #[serde(default = "default_username_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::api::schema::SECRET_KEY))]
    pub username_key: String,
    /// Key of the password. Default `password`.
    #[serde(default = "default_password_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::api::schema::SECRET_KEY))]
    pub password_key: String,
}

fn default_username_key() -> String {
    "username".to_owned()
}
fn default_password_key() -> String {
    "password".to_owned()
}

/// REDCap's initial settings (the seed's config generator, `redcapConfig.sql`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RedcapSettings {
    /// Enable REDCap's API (`api_enabled`). Default false.
    #[serde(default)]
    pub api_enabled: bool,

    /// Send anonymous usage statistics to the consortium (`auto_report_stats`).
    /// Default false.
    #[serde(default)]
    pub auto_report_stats: bool,

    /// System language (`language_global`), `English` or a name from
    /// `spec.redcap.languages`. Default `English`.
    #[serde(default = "default_language")]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9 ._()-]*$"))]
    pub language_global: String,

    /// Contact and sender address REDCap shows (`from_email`, `homepage_contact_email`,
    /// `project_contact_email`). Default: `spec.email.fromAddress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 254), regex(pattern = crate::api::schema::EMAIL))]
    pub contact_email: Option<String>,

    /// `redcap_base_url` override, an https URL. Default: derived from the domain, else
    /// the compute service URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("isURL(self) && url(self).getScheme() == 'https'").message("spec.redcap.settings.baseUrl must be an https:// URL"))]
    #[schemars(length(min = 9, max = 2048))]
    pub base_url: Option<String>,

    /// How users log in (`auth_meth_global`). Default `Table` (REDCap accounts).
    #[serde(default)]
    pub auth_method: AuthMethod,

    /// The first administrator account, created at installation.
    #[serde(default)]
    pub site_admin: SiteAdmin,
}

impl Default for RedcapSettings {
    fn default() -> Self {
        Self {
            api_enabled: false,
            auto_report_stats: false,
            language_global: default_language(),
            contact_email: None,
            base_url: None,
            auth_method: AuthMethod::default(),
            site_admin: SiteAdmin::default(),
        }
    }
}

fn default_language() -> String {
    "English".to_owned()
}

/// REDCap's global authentication method.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum AuthMethod {
    /// REDCap's own user table (`table`).
    #[default]
    Table,
    /// LDAP (`ldap`).
    Ldap,
    /// LDAP and the user table (`ldap_table`).
    LdapTable,
    /// Shibboleth (`shibboleth`).
    Shibboleth,
    /// Shibboleth and the user table (`shibboleth_table`).
    ShibbolethTable,
    /// OpenID Connect (`openid_connect`).
    OpenIdConnect,
    /// OpenID Connect and the user table (`openid_connect_table`).
    OpenIdConnectTable,
    /// No login at all (`none`); only allowed together with `spec.firewall.allowedIps`.
    None,
}

/// The first administrator account.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SiteAdmin {
    /// Login name. Default `site_admin`.
    #[serde(default = "default_admin_username")]
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[A-Za-z0-9._@-]+$"))]
    pub username: String,
    /// First name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub first_name: Option<String>,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub last_name: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 254), regex(pattern = crate::api::schema::EMAIL))]
    pub email: Option<String>,
    /// Secret key holding the temporary password; REDCap asks for a new one at the first
    /// login. Absent: the operator generates one and stores it in the Secret
    /// `<environment>-site-admin` (key `password`). Replaces the seed's `changeme` default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_password_secret_ref: Option<SecretKeyRef>,
}

impl Default for SiteAdmin {
    fn default() -> Self {
        Self {
            username: default_admin_username(),
            first_name: None,
            last_name: None,
            email: None,
            initial_password_secret_ref: None,
        }
    }
}

fn default_admin_username() -> String {
    "site_admin".to_owned()
}

/// One `redcap_config` entry.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[x_kube(
    validation = Rule::new("!(self.name in ['edoc_storage_option', 'amazon_s3_bucket', 'amazon_s3_key', 'amazon_s3_secret', 'amazon_s3_endpoint', 'redcap_base_url', 'auth_meth_global', 'from_email', 'language_global', 'api_enabled', 'auto_report_stats', 'read_replica_enable'])")
        .message("spec.redcap.extraConfig[].name is managed by the operator: use spec.redcap.settings (or spec.storage) instead")
        .field_path(".name")
)]
pub struct ConfigEntry {
    /// Field name in `redcap_config`.
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[a-z0-9_]+$"))]
    pub name: String,
    /// Value to store.
    #[serde(default)]
    #[schemars(length(max = 4096))]
    pub value: String,
}
