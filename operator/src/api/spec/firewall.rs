//! `spec.firewall`: the AWS WAF web ACL in front of REDCap (api step: types only, no I/O).
//!
//! The seed's rule order is kept: country list, the `cron.php` secret, rate limit, IP
//! allow list, then the managed rule groups. `cron.php` is exempt from the country and IP
//! rules and guarded by its secret instead (see `spec.cron`).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::api::schema::{rule, string_set};

/// The ISO 3166-1 alpha-2 codes WAF geo match accepts (`CountryCode` in the wafv2
/// service model, botocore `2019-07-29`), space separated.
pub const WAF_COUNTRY_CODES: &str = "AF AX AL DZ AS AD AO AI AQ AG AR AM AW AU AT AZ BS BH BD BB BY BE BZ BJ BM BT BO BQ BA BW BV BR IO BN BG BF BI KH CM CA CV KY CF TD CL CN CX CC CO KM CG CD CK CR CI HR CU CW CY CZ DK DJ DM DO EC EG SV GQ ER EE ET FK FO FJ FI FR GF PF TF GA GM GE DE GH GI GR GL GD GP GU GT GG GN GW GY HT HM VA HN HK HU IS IN ID IR IQ IE IM IL IT JM JP JE JO KZ KE KI KP KR KW KG LA LV LB LS LR LY LI LT LU MO MK MG MW MY MV ML MT MH MQ MR MU YT MX FM MD MC MN ME MS MA MZ MM NA NR NP NL NC NZ NI NE NG NU NF MP NO OM PK PW PS PA PG PY PE PH PN PL PT PR QA RE RO RU RW BL SH KN LC MF PM VC WS SM ST SA SN RS SC SL SG SX SK SI SB SO ZA GS SS ES LK SD SR SJ SZ SE CH SY TW TJ TZ TH TL TG TK TO TT TN TR TM TC TV UG UA AE GB US UM UY UZ VU VE VN VG VI WF EH YE ZM ZW XK";

/// AWS WAF in front of the application.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("!has(self.externalWebAclArn) || ((!has(self.allowedIps) || size(self.allowedIps) == 0) && (!has(self.allowedCountries) || size(self.allowedCountries) == 0) && (!has(self.sqliExclusions) || size(self.sqliExclusions) == 0))")
        .message("spec.firewall.externalWebAclArn replaces the generated web ACL, so spec.firewall.allowedIps, allowedCountries and sqliExclusions would have no effect: put those rules in your web ACL")
        .field_path(".externalWebAclArn")
        .reason(Reason::FieldValueForbidden)
)]
#[serde(rename_all = "camelCase")]
pub struct FirewallSpec {
    /// IPv4 and IPv6 ranges allowed to reach REDCap (CIDR, e.g. `192.0.2.0/24` or
    /// `2001:db8::/32`; one address is `/32` or `/128`); everyone else gets 403, except the
    /// cron endpoint, which needs the cron token instead. Empty (default): no IP
    /// restriction. At most 500. (seed: `allowedIps`, IPv4 only)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "allowed_ips_schema")]
    pub allowed_ips: Vec<String>,

    /// ISO 3166-1 alpha-2 country codes allowed to reach REDCap (e.g. `GB`, not `UK`);
    /// everyone else gets 403. Empty (default): no country restriction.
    /// (seed: `allowedCountries`)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "allowed_countries_schema")]
    pub allowed_countries: Vec<String>,

    /// Requests per client IP per 5 minutes before it is blocked. Default 3000 (seed).
    #[serde(default = "default_rate_limit")]
    #[schemars(range(min = 100, max = 2000000000))]
    pub rate_limit_per_five_minutes: u64,

    /// AWS managed rule groups, evaluated in list order after the rules above. Default:
    /// the seed's four groups, with the Common rule set's `GenericRFI_BODY`,
    /// `SizeRestrictions_BODY` (large uploads), `CrossSiteScripting_BODY` and
    /// `NoUserAgent_HEADER` (REDCap's survey self-check) set to Count. At most 10.
    #[serde(default = "default_managed_rules")]
    #[schemars(length(max = 10))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub managed_rules: Vec<ManagedRuleGroup>,

    /// Paths where chosen SQL-injection rules do not block: REDCap's calculated-field
    /// formulas and `id=1--1` style query strings are known false positives (seed issue
    /// #57). Keyed by `pathPrefix`. At most 20.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["pathPrefix".into()]))]
    pub sqli_exclusions: Vec<SqliExclusion>,

    /// Block `install.php` and `upgrade.php` for everyone (the operator installs and
    /// upgrades REDCap itself). Default true (seed: unprotected, ptp.md #8).
    #[serde(default = "super::default_true")]
    pub protect_install_endpoints: bool,

    /// Associate this existing regional web ACL instead of creating one
    /// (seed: `externalResources.wafWebAcl`). The operator then creates no web ACL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 2048),
        regex(
            pattern = r"^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/[A-Za-z0-9_-]+/[A-Za-z0-9-]+$"
        )
    )]
    pub external_web_acl_arn: Option<String>,
}

impl Default for FirewallSpec {
    fn default() -> Self {
        Self {
            allowed_ips: Vec::new(),
            allowed_countries: Vec::new(),
            rate_limit_per_five_minutes: default_rate_limit(),
            managed_rules: default_managed_rules(),
            sqli_exclusions: Vec::new(),
            protect_install_endpoints: true,
            external_web_acl_arn: None,
        }
    }
}

fn default_rate_limit() -> u64 {
    3000
}

/// The seed's managed rule groups and overrides (`Waf.ts`).
pub fn default_managed_rules() -> Vec<ManagedRuleGroup> {
    let group = |name: &str, count: &[&str]| ManagedRuleGroup {
        name: name.to_owned(),
        vendor_name: default_vendor(),
        version: None,
        rule_action_overrides: count
            .iter()
            .map(|rule| RuleActionOverride { name: (*rule).to_owned(), action: RuleAction::Count })
            .collect(),
    };
    vec![
        group("AWSManagedRulesAmazonIpReputationList", &[]),
        group(
            "AWSManagedRulesCommonRuleSet",
            &[
                "GenericRFI_BODY",
                "SizeRestrictions_BODY",
                "CrossSiteScripting_BODY",
                "NoUserAgent_HEADER",
            ],
        ),
        group("AWSManagedRulesKnownBadInputsRuleSet", &[]),
        group("AWSManagedRulesSQLiRuleSet", &[]),
    ]
}

fn allowed_ips_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    string_set(
        500,
        43,
        None,
        &[rule(
            "isCIDR(self)",
            "spec.firewall.allowedIps entries must be IPv4 or IPv6 CIDRs such as 192.0.2.0/24 or 2001:db8::/32 (one address is 192.0.2.10/32 or 2001:db8::10/128)",
        )],
    )
}

fn allowed_countries_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    string_set(
        250,
        2,
        None,
        &[rule(
            &format!("self.matches('^[A-Z][A-Z]$') && '{WAF_COUNTRY_CODES}'.contains(self)"),
            "spec.firewall.allowedCountries entries must be ISO 3166-1 alpha-2 codes in upper case, e.g. GB (not UK), US, JP",
        )],
    )
}

/// One AWS managed rule group.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedRuleGroup {
    /// Rule group name, e.g. `AWSManagedRulesCommonRuleSet`.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[\w-]+$"))]
    pub name: String,

    /// Vendor of the group. Default `AWS`.
    #[serde(default = "default_vendor")]
    #[schemars(length(min = 1, max = 128))]
    pub vendor_name: String,

    /// Pin a version of the group. Absent: the vendor's default version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub version: Option<String>,

    /// Actions that replace those of single rules in the group (e.g. Count to observe a
    /// rule without blocking). WAF silently ignores unknown rule names. At most 100.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "overrides_schema")]
    pub rule_action_overrides: Vec<RuleActionOverride>,
}

fn default_vendor() -> String {
    "AWS".to_owned()
}

fn overrides_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    crate::api::schema::bounded_list_map::<RuleActionOverride>(generator, "name", 100)
}

/// A replacement action for one rule of a rule group.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub struct RuleActionOverride {
    /// Name of the rule inside the group (case-sensitive), e.g. `SizeRestrictions_BODY`.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[\w-]+$"))]
    pub name: String,
    /// Action to use instead.
    pub action: RuleAction,
}

/// A WAF rule action.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum RuleAction {
    /// Count the match, let the request through.
    Count,
    /// Block the request.
    Block,
    /// Allow the request.
    Allow,
    /// Ask the browser to solve a silent challenge.
    Challenge,
    /// Ask the user to solve a CAPTCHA.
    Captcha,
}

/// Paths where chosen rules of `AWSManagedRulesSQLiRuleSet` only count.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SqliExclusion {
    /// URI path prefix, e.g. `/redcap_v15.8.0/Design/`.
    #[schemars(length(min = 1, max = 256), regex(pattern = r"^/[^\s]*$"))]
    pub path_prefix: String,

    /// Rules of the SQLi group that do not block under `pathPrefix`.
    /// Default `SQLi_BODY` and `SQLi_QUERYARGUMENTS`.
    #[serde(default = "default_sqli_rules")]
    #[schemars(schema_with = "sqli_rules_schema")]
    pub rules: Vec<SqliRule>,
}

fn default_sqli_rules() -> Vec<SqliRule> {
    vec![SqliRule::Body, SqliRule::QueryArguments]
}

fn sqli_rules_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    crate::api::schema::enum_set::<SqliRule>(generator, 8)
}

/// A rule of `AWSManagedRulesSQLiRuleSet`.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, schemars::JsonSchema,
)]
pub enum SqliRule {
    /// SQL injection in the request body.
    #[serde(rename = "SQLi_BODY")]
    Body,
    /// SQL injection in query arguments.
    #[serde(rename = "SQLi_QUERYARGUMENTS")]
    QueryArguments,
    /// SQL injection in cookies.
    #[serde(rename = "SQLi_COOKIE")]
    Cookie,
    /// SQL injection in the URI path.
    #[serde(rename = "SQLi_URIPATH")]
    UriPath,
    /// Extended SQL injection patterns in the body.
    #[serde(rename = "SQLiExtendedPatterns_BODY")]
    ExtendedPatternsBody,
    /// Extended SQL injection patterns in query arguments.
    #[serde(rename = "SQLiExtendedPatterns_QUERYARGUMENTS")]
    ExtendedPatternsQueryArguments,
}
