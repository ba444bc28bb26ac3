//! The WAF web ACL in front of REDCap (component `firewall`; step: plan, pure).
//!
//! The spec (`spec.firewall`) and the cron token become one typed rule list. What AWS
//! returns is read back into the same types (`aws::waf`), normalised the way WAF
//! normalises (header names in lower case), and compared rule by rule, so a settled
//! environment never writes (ACK's wafv2 controller hot-looped `UpdateWebACL` because it
//! compared nested statements as strings).
//!
//! Rule order (priorities), as the seed had it and extended:
//!
//! | Priority | Rule | Blocks |
//! |---|---|---|
//! | 5 | `install-endpoints` | `install.php` and `upgrade.php`, for everyone (`protectInstallEndpoints`) |
//! | 10 | `country-allow-list` | other countries, except the cron path (`allowedCountries`) |
//! | 20 | `cron-token` | the cron path without the cron token header |
//! | 30 | `rate-limit` | clients over `ratePerFiveMinutes` |
//! | 40 | `ip-allow-list` | other addresses, except the cron path (`allowedIps`, IPv4 and IPv6 sets) |
//! | 100 + 10 i | `AWS-<group>` | the managed groups, in spec order |
//! | group + 1.. | `sqli-<rule>-outside-exclusions` | the SQLi group's label, unless the path is excluded |
//!
//! No rule allows: every rule blocks or counts, so no later rule can be skipped, and the
//! IP allow list that `authMethod: None` relies on always applies (the cron path is
//! exempt from it only to be checked for the token instead).

use std::collections::BTreeSet;

use crate::api::{FirewallSpec, RuleAction, SqliRule};
use crate::plan::cron::{CRON_TOKEN_HEADER, fingerprint};
use crate::plan::secret::SecretString;
use crate::plan::tags::TagSet;
use crate::plan::{Describe, PlanError};

/// The managed group whose rules `sqliExclusions` scope.
pub const SQLI_GROUP: &str = "AWSManagedRulesSQLiRuleSet";
/// Key of the custom response body of the allow-list rules.
pub const DENIED_BODY_KEY: &str = "denied";
/// The body blocked users see (the seed's).
pub const DENIED_BODY: &str = "<div> Access denied </div>";
/// Rate-based rules count over this many seconds (the spec speaks of five minutes).
pub const RATE_WINDOW_SECONDS: i64 = 300;
/// WAF's hard limit of capacity units per web ACL.
pub const MAX_CAPACITY: i64 = 5000;
/// Capacity units included in the web ACL's base price; more costs extra.
pub const INCLUDED_CAPACITY: i64 = 1500;

/// The path of REDCap's cron endpoint, as the rules match it (after URL decoding and
/// lower-casing: `/CRON.PHP`, `/cron%2ephp` and `/cron.php/x` are the cron path too, so
/// none of them escapes the token check).
pub const CRON_PATH: &str = "cron.php";

/// `<environment id>-waf`: the web ACL's name (WAF names: 1-128 of `[\w-]`).
pub fn web_acl_name(environment_id: &str) -> String {
    format!("{environment_id}-waf")
}

/// `<environment id>-allow-ipv4` / `-allow-ipv6`: the IP sets of `allowedIps`.
pub fn ip_set_name(environment_id: &str, version: IpVersion) -> String {
    format!("{environment_id}-allow-{}", version.suffix())
}

/// An IP set's address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum IpVersion {
    V4,
    V6,
}

impl IpVersion {
    pub const ALL: [IpVersion; 2] = [IpVersion::V4, IpVersion::V6];

    /// WAF's `IPAddressVersion`.
    pub fn as_aws(self) -> &'static str {
        match self {
            IpVersion::V4 => "IPV4",
            IpVersion::V6 => "IPV6",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            IpVersion::V4 => "ipv4",
            IpVersion::V6 => "ipv6",
        }
    }
}

/// One IP set of the allow list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredIpSet {
    pub name: String,
    pub version: IpVersion,
    /// Canonical CIDRs (see [`canonical_cidr`]), sorted.
    pub addresses: Vec<String>,
    pub tags: TagSet,
}

/// An IP set as WAF reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedIpSet {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub lock_token: String,
    pub version: Option<IpVersion>,
    pub addresses: Vec<String>,
    pub tags: TagSet,
}

/// What an IP set needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpSetChange {
    Addresses { added: usize, removed: usize },
}

impl Describe for IpSetChange {
    fn describe(&self) -> String {
        match self {
            IpSetChange::Addresses { added, removed } => {
                format!("addresses ({added} added, {removed} removed)")
            }
        }
    }
}

/// The IP sets `allowedIps` needs: one per family that has addresses.
pub fn desired_ip_sets(
    environment_id: &str,
    spec: &FirewallSpec,
    tags: &TagSet,
) -> Result<Vec<DesiredIpSet>, PlanError> {
    let mut v4 = BTreeSet::new();
    let mut v6 = BTreeSet::new();
    for cidr in &spec.allowed_ips {
        let (version, canonical) = canonical_cidr(cidr).ok_or_else(|| PlanError::InvalidSpec {
            field: "spec.firewall.allowedIps",
            message: format!("{cidr:?} is not an IPv4 or IPv6 CIDR"),
        })?;
        match version {
            IpVersion::V4 => v4.insert(canonical),
            IpVersion::V6 => v6.insert(canonical),
        };
    }
    Ok([(IpVersion::V4, v4), (IpVersion::V6, v6)]
        .into_iter()
        .filter(|(_, a)| !a.is_empty())
        .map(|(version, addresses)| DesiredIpSet {
            name: ip_set_name(environment_id, version),
            version,
            addresses: addresses.into_iter().collect(),
            tags: tags.clone(),
        })
        .collect())
}

/// `cidr` as WAF stores it: the network address (host bits cleared, as WAF refuses
/// them otherwise) with its prefix, IPv6 compressed in lower case; a bare address gets
/// `/32` or `/128`. `None` when it is not a CIDR.
pub fn canonical_cidr(cidr: &str) -> Option<(IpVersion, String)> {
    let (addr, prefix) = match cidr.trim().split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
        None => (cidr.trim(), None),
    };
    match addr.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(a) => {
            let p = prefix.unwrap_or(32);
            if p > 32 {
                return None;
            }
            let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            let net = std::net::Ipv4Addr::from(u32::from(a) & mask);
            Some((IpVersion::V4, format!("{net}/{p}")))
        }
        std::net::IpAddr::V6(a) => {
            let p = prefix.unwrap_or(128);
            if p > 128 {
                return None;
            }
            let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
            let net = std::net::Ipv6Addr::from(u128::from(a) & mask);
            Some((IpVersion::V6, format!("{net}/{p}")))
        }
    }
}

/// The corrections an IP set needs (the addresses; tags only decide ownership).
pub fn ip_set_changes(want: &DesiredIpSet, seen: &ObservedIpSet) -> Vec<IpSetChange> {
    let seen_set: BTreeSet<String> =
        seen.addresses.iter().filter_map(|a| canonical_cidr(a).map(|(_, c)| c)).collect();
    let want_set: BTreeSet<String> = want.addresses.iter().cloned().collect();
    let added = want_set.difference(&seen_set).count();
    let removed = seen_set.difference(&want_set).count();
    if added + removed == 0 { Vec::new() } else { vec![IpSetChange::Addresses { added, removed }] }
}

// --- rules ------------------------------------------------------------------------------

/// What a byte match looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    UriPath,
    /// A header, by its lower-case name (WAF lower-cases it on read-back).
    Header(String),
}

/// How a byte match matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    Exactly,
    StartsWith,
    EndsWith,
    Contains,
}

impl Position {
    pub fn as_aws(self) -> &'static str {
        match self {
            Position::Exactly => "EXACTLY",
            Position::StartsWith => "STARTS_WITH",
            Position::EndsWith => "ENDS_WITH",
            Position::Contains => "CONTAINS",
        }
    }

    pub fn from_aws(s: &str) -> Option<Self> {
        Some(match s {
            "EXACTLY" => Position::Exactly,
            "STARTS_WITH" => Position::StartsWith,
            "ENDS_WITH" => Position::EndsWith,
            "CONTAINS" => Position::Contains,
            _ => return None,
        })
    }
}

/// The string a byte match looks for. A secret one (the cron token) compares by value
/// but never prints.
#[derive(Clone, PartialEq, Eq)]
pub enum Search {
    Plain(String),
    Secret(SecretString),
}

impl Search {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Search::Plain(s) => s.as_bytes(),
            Search::Secret(s) => s.expose().as_bytes(),
        }
    }
}

impl std::fmt::Debug for Search {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Search::Plain(s) => write!(f, "{s:?}"),
            Search::Secret(_) => f.write_str("<redacted>"),
        }
    }
}

/// A text transformation, in the order applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transform(pub String);

/// One WAF statement, the kinds the operator writes (anything else WAF reports is
/// `Other`, which never equals a desired statement, so a foreign edit is corrected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Statement {
    ByteMatch { field: Field, search: Search, position: Position, transforms: Vec<Transform> },
    Geo { countries: Vec<String> },
    IpSet { arn: String },
    RateBased { limit: i64, window: i64 },
    ManagedGroup { vendor: String, name: String, version: Option<String>, overrides: Vec<Override> },
    Label { key: String },
    And(Vec<Statement>),
    Or(Vec<Statement>),
    Not(Box<Statement>),
    Other(String),
}

/// A managed group's rule with a replaced action.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Override {
    pub rule: String,
    pub action: Action,
}

/// A rule's action (`Block` with the custom 403 body when `denied_body`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Allow,
    Block { denied_body: bool },
    Count,
    Captcha,
    Challenge,
}

impl From<RuleAction> for Action {
    fn from(a: RuleAction) -> Self {
        match a {
            RuleAction::Allow => Action::Allow,
            RuleAction::Block => Action::Block { denied_body: false },
            RuleAction::Count => Action::Count,
            RuleAction::Captcha => Action::Captcha,
            RuleAction::Challenge => Action::Challenge,
        }
    }
}

/// What a rule does: an action (own statements) or the group's own actions (`None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleDecision {
    Action(Action),
    /// A rule group: its rules act (`OverrideAction: None`).
    GroupActions,
}

/// One rule of the web ACL. Metrics and sampled requests are always on; the metric is
/// the rule's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub name: String,
    pub priority: i32,
    pub statement: Statement,
    pub decision: RuleDecision,
}

/// The web ACL: name, tags and how to build its rules.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredWebAcl {
    pub name: String,
    /// The ACL's CloudWatch metric name.
    pub metric: String,
    pub tags: TagSet,
    /// The rules without the cron rule's tokens (see [`DesiredWebAcl::rules`]).
    base: Vec<Rule>,
    cron: CronGuard,
}

/// Which tokens the cron rule accepts.
#[derive(Clone, Debug, PartialEq)]
pub struct CronGuard {
    /// The token of the current seed; `None` when it is unknown (the cron path is then
    /// blocked for everyone).
    pub current: Option<SecretString>,
    /// The fingerprint of the token EventBridge's connection sends now: while it is an
    /// older token still in the ACL, that token is accepted too (a rotation: the
    /// firewall first accepts both, then the connection changes, then the old goes).
    pub connection_sends: Option<String>,
}

/// The web ACL as WAF reports it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedWebAcl {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub lock_token: String,
    /// The default action is Allow (anything else is drift).
    pub default_allow: bool,
    pub metric: String,
    pub metrics_enabled: bool,
    pub sampled: bool,
    /// `(key, content type, content)`.
    pub bodies: Vec<(String, String, String)>,
    pub rules: Vec<Rule>,
    /// Rules whose metrics or sampling settings differ from the operator's.
    pub visibility_off: Vec<String>,
    pub capacity: i64,
    pub tags: TagSet,
}

/// One correction of the web ACL (rule names only: a rule's statement may hold the cron
/// token, which no message may show).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WebAclChange {
    DefaultAction,
    Visibility,
    ResponseBodies,
    RuleAdded(String),
    RuleRemoved(String),
    RuleChanged(String),
}

impl Describe for WebAclChange {
    fn describe(&self) -> String {
        match self {
            WebAclChange::DefaultAction => "default action".into(),
            WebAclChange::Visibility => "metrics settings".into(),
            WebAclChange::ResponseBodies => "custom response bodies".into(),
            WebAclChange::RuleAdded(n) => format!("rule {n} missing"),
            WebAclChange::RuleRemoved(n) => format!("rule {n} not in the spec"),
            WebAclChange::RuleChanged(n) => format!("rule {n} changed"),
        }
    }
}

/// The statement "the request is for the cron path".
pub fn cron_path() -> Statement {
    Statement::ByteMatch {
        field: Field::UriPath,
        search: Search::Plain(CRON_PATH.into()),
        position: Position::Contains,
        transforms: decode_lower(),
    }
}

fn decode_lower() -> Vec<Transform> {
    vec![Transform("URL_DECODE".into()), Transform("LOWERCASE".into())]
}

fn not(s: Statement) -> Statement {
    Statement::Not(Box::new(s))
}

/// `a OR b OR ...`, or the one statement (WAF wants at least two in an `OrStatement`).
fn any(mut of: Vec<Statement>) -> Statement {
    if of.len() == 1 { of.remove(0) } else { Statement::Or(of) }
}

/// The header the cron call carries, equal to `token`.
pub fn token_header(token: &SecretString) -> Statement {
    Statement::ByteMatch {
        field: Field::Header(CRON_TOKEN_HEADER.to_ascii_lowercase()),
        search: Search::Secret(token.clone()),
        position: Position::Exactly,
        transforms: vec![Transform("NONE".into())],
    }
}

/// The label `AWSManagedRulesSQLiRuleSet` puts on a request one of its rules matched
/// (`DescribeManagedRuleGroup` `AvailableLabels`).
pub fn sqli_label(rule: SqliRule) -> &'static str {
    match rule {
        SqliRule::Body => "awswaf:managed:aws:sql-database:SQLi_Body",
        SqliRule::QueryArguments => "awswaf:managed:aws:sql-database:SQLi_QueryArguments",
        SqliRule::Cookie => "awswaf:managed:aws:sql-database:SQLi_Cookie",
        SqliRule::UriPath => "awswaf:managed:aws:sql-database:SQLi_URIPath",
        SqliRule::ExtendedPatternsBody => {
            "awswaf:managed:aws:sql-database:SQLiExtendedPatterns_Body"
        }
        SqliRule::ExtendedPatternsQueryArguments => {
            "awswaf:managed:aws:sql-database:SQLiExtendedPatterns_QueryArguments"
        }
    }
}

/// The rule's name inside the SQLi group (what `RuleActionOverrides` names).
pub fn sqli_rule_name(rule: SqliRule) -> &'static str {
    match rule {
        SqliRule::Body => "SQLi_BODY",
        SqliRule::QueryArguments => "SQLi_QUERYARGUMENTS",
        SqliRule::Cookie => "SQLi_COOKIE",
        SqliRule::UriPath => "SQLi_URIPATH",
        SqliRule::ExtendedPatternsBody => "SQLiExtendedPatterns_BODY",
        SqliRule::ExtendedPatternsQueryArguments => "SQLiExtendedPatterns_QUERYARGUMENTS",
    }
}

/// Inputs of the web ACL beyond the spec.
pub struct WebAclInputs<'a> {
    pub environment_id: &'a str,
    pub spec: &'a FirewallSpec,
    /// ARNs of the IP sets of `allowedIps`, as they exist (one per family in use).
    pub ip_sets: &'a [String],
    pub cron: CronGuard,
    pub tags: TagSet,
}

/// The web ACL the spec asks for.
pub fn desired_web_acl(i: WebAclInputs<'_>) -> Result<DesiredWebAcl, PlanError> {
    let spec = i.spec;
    let mut rules = Vec::new();
    let block = |denied_body| RuleDecision::Action(Action::Block { denied_body });
    if spec.protect_install_endpoints {
        let endpoint = |path: &str| Statement::ByteMatch {
            field: Field::UriPath,
            search: Search::Plain(path.into()),
            position: Position::Contains,
            transforms: decode_lower(),
        };
        rules.push(Rule {
            name: "install-endpoints".into(),
            priority: 5,
            statement: Statement::Or(vec![endpoint("/install.php"), endpoint("/upgrade.php")]),
            decision: block(false),
        });
    }
    if !spec.allowed_countries.is_empty() {
        let mut countries = spec.allowed_countries.clone();
        countries.sort();
        countries.dedup();
        rules.push(Rule {
            name: "country-allow-list".into(),
            priority: 10,
            statement: Statement::And(vec![not(Statement::Geo { countries }), not(cron_path())]),
            decision: block(true),
        });
    }
    // Placeholder statement: the tokens are filled in by `rules()` against what exists.
    rules.push(Rule {
        name: CRON_RULE.into(),
        priority: 20,
        statement: cron_path(),
        decision: block(false),
    });
    rules.push(Rule {
        name: "rate-limit".into(),
        priority: 30,
        statement: Statement::RateBased {
            limit: i64::try_from(spec.rate_limit_per_five_minutes).unwrap_or(i64::MAX),
            window: RATE_WINDOW_SECONDS,
        },
        decision: block(false),
    });
    if !i.ip_sets.is_empty() {
        let sets = i.ip_sets.iter().map(|arn| Statement::IpSet { arn: arn.clone() }).collect();
        rules.push(Rule {
            name: "ip-allow-list".into(),
            priority: 40,
            statement: Statement::And(vec![not(any(sets)), not(cron_path())]),
            decision: block(true),
        });
    }
    let excluded: BTreeSet<SqliRule> =
        spec.sqli_exclusions.iter().flat_map(|e| e.rules.iter().copied()).collect();
    let mut sqli_seen = false;
    for (n, group) in spec.managed_rules.iter().enumerate() {
        let priority = 100 + 10 * i32::try_from(n).unwrap_or(0);
        let is_sqli = group.vendor_name == "AWS" && group.name == SQLI_GROUP;
        let mut overrides: Vec<Override> = group
            .rule_action_overrides
            .iter()
            .map(|o| Override { rule: o.name.clone(), action: o.action.into() })
            .collect();
        if is_sqli {
            sqli_seen = true;
            for rule in &excluded {
                let name = sqli_rule_name(*rule);
                // Counted inside the group; the rule after the group blocks outside
                // the excluded paths (a user's own override of it is replaced).
                overrides.retain(|o| o.rule != name);
                overrides.push(Override { rule: name.into(), action: Action::Count });
            }
        }
        overrides.sort();
        rules.push(Rule {
            name: format!("{}-{}", group.vendor_name, group.name),
            priority,
            statement: Statement::ManagedGroup {
                vendor: group.vendor_name.clone(),
                name: group.name.clone(),
                version: group.version.clone(),
                overrides,
            },
            decision: RuleDecision::GroupActions,
        });
        if is_sqli {
            for (k, rule) in excluded.iter().enumerate() {
                let prefixes: Vec<Statement> = spec
                    .sqli_exclusions
                    .iter()
                    .filter(|e| e.rules.contains(rule))
                    .map(|e| Statement::ByteMatch {
                        field: Field::UriPath,
                        search: Search::Plain(e.path_prefix.clone()),
                        position: Position::StartsWith,
                        transforms: vec![Transform("NONE".into())],
                    })
                    .collect();
                rules.push(Rule {
                    name: format!("sqli-{}-outside-exclusions", sqli_rule_name(*rule)),
                    priority: priority + 1 + i32::try_from(k).unwrap_or(0),
                    statement: Statement::And(vec![
                        Statement::Label { key: sqli_label(*rule).into() },
                        not(any(prefixes)),
                    ]),
                    decision: block(false),
                });
            }
        }
    }
    if !excluded.is_empty() && !sqli_seen {
        return Err(PlanError::InvalidSpec {
            field: "spec.firewall.sqliExclusions",
            message: format!(
                "scopes rules of {SQLI_GROUP}, which is not in spec.firewall.managedRules: add it, or remove the exclusions"
            ),
        });
    }
    Ok(DesiredWebAcl {
        name: web_acl_name(i.environment_id),
        metric: web_acl_name(i.environment_id),
        tags: i.tags,
        base: rules,
        cron: i.cron,
    })
}

/// Name of the rule that guards the cron path.
pub const CRON_RULE: &str = "cron-token";

impl DesiredWebAcl {
    /// The rules to write, given the ACL as it is (`None`: being created): the cron rule
    /// accepts the current token, and also the older token the ACL holds while the cron
    /// connection still sends it.
    pub fn rules(&self, seen: Option<&ObservedWebAcl>) -> Vec<Rule> {
        let mut tokens: Vec<SecretString> = self.cron.current.iter().cloned().collect();
        if let (Some(seen), Some(sends)) = (seen, &self.cron.connection_sends) {
            for old in seen.rules.iter().filter(|r| r.name == CRON_RULE).flat_map(accepted_tokens) {
                if &fingerprint(&old) == sends && !tokens.contains(&old) {
                    tokens.push(old);
                }
            }
        }
        self.base
            .iter()
            .map(|r| {
                if r.name != CRON_RULE {
                    return r.clone();
                }
                let statement = if tokens.is_empty() {
                    cron_path()
                } else {
                    Statement::And(vec![
                        cron_path(),
                        not(any(tokens.iter().map(token_header).collect())),
                    ])
                };
                Rule { statement, ..r.clone() }
            })
            .collect()
    }

    /// Fingerprints of the tokens the cron rule accepts once written against `seen`.
    pub fn accepted_fingerprints(&self, seen: Option<&ObservedWebAcl>) -> Vec<String> {
        self.rules(seen)
            .iter()
            .filter(|r| r.name == CRON_RULE)
            .flat_map(accepted_tokens)
            .map(|t| fingerprint(&t))
            .collect()
    }
}

/// The tokens a cron rule accepts (the header values it compares with).
pub fn accepted_tokens(rule: &Rule) -> Vec<SecretString> {
    fn walk(s: &Statement, out: &mut Vec<SecretString>) {
        match s {
            Statement::ByteMatch { field: Field::Header(h), search, .. }
                if h == &CRON_TOKEN_HEADER.to_ascii_lowercase() =>
            {
                out.push(SecretString::new(String::from_utf8_lossy(search.bytes()).into_owned()));
            }
            Statement::And(v) | Statement::Or(v) => v.iter().for_each(|s| walk(s, out)),
            Statement::Not(s) => walk(s, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&rule.statement, &mut out);
    out
}

/// The IP set ARNs `rules` reference.
pub fn ip_set_arns(rules: &[Rule]) -> Vec<String> {
    fn walk(s: &Statement, out: &mut Vec<String>) {
        match s {
            Statement::IpSet { arn } => out.push(arn.clone()),
            Statement::And(v) | Statement::Or(v) => v.iter().for_each(|s| walk(s, out)),
            Statement::Not(s) => walk(s, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    rules.iter().for_each(|r| walk(&r.statement, &mut out));
    out
}

/// The corrections that make `seen` what `want` asks for; empty when they match.
pub fn web_acl_changes(want: &DesiredWebAcl, seen: &ObservedWebAcl) -> Vec<WebAclChange> {
    let mut out = Vec::new();
    if !seen.default_allow {
        out.push(WebAclChange::DefaultAction);
    }
    if seen.metric != want.metric || !seen.metrics_enabled || seen.sampled {
        out.push(WebAclChange::Visibility);
    }
    if seen.bodies != desired_bodies() {
        out.push(WebAclChange::ResponseBodies);
    }
    let rules = want.rules(Some(seen));
    for r in &rules {
        match seen.rules.iter().find(|s| s.name == r.name) {
            None => out.push(WebAclChange::RuleAdded(r.name.clone())),
            Some(s) if s != r || seen.visibility_off.contains(&r.name) => {
                out.push(WebAclChange::RuleChanged(r.name.clone()));
            }
            Some(_) => {}
        }
    }
    for s in &seen.rules {
        if !rules.iter().any(|r| r.name == s.name) {
            out.push(WebAclChange::RuleRemoved(s.name.clone()));
        }
    }
    out
}

/// `(key, content type, content)` of the custom response bodies.
pub fn desired_bodies() -> Vec<(String, String, String)> {
    vec![(DENIED_BODY_KEY.into(), "TEXT_HTML".into(), DENIED_BODY.into())]
}

#[cfg(test)]
#[path = "firewall_tests.rs"]
mod tests;
