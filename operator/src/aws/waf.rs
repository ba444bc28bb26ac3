//! AWS WAF (wafv2, regional): the environment's web ACL and IP sets, and the ACL's
//! associations with what serves REDCap (component `firewall`; step: observe / create /
//! update / delete).
//!
//! The rules are decided in `plan::firewall`; this module translates them to and from
//! the SDK's types and makes the calls. WAF has no client tokens: the ACL and the sets are
//! found by their deterministic names (`ListWebACLs`, `ListIPSets`), and a second create
//! of a name answers `WAFDuplicateItemException`, so an interrupted create never leaves
//! two. Every update carries the lock token of the read it is based on; a conflict
//! (`WAFOptimisticLockException`) is read again and retried once, then left to the
//! next pass.

use aws_sdk_wafv2::error::BuildError;
use aws_sdk_wafv2::primitives::Blob;
use aws_sdk_wafv2::types as t;

use crate::plan::TagSet;
use crate::plan::firewall::{
    Action, DesiredIpSet, DesiredWebAcl, Field, IpSetChange, IpVersion, ObservedIpSet,
    ObservedWebAcl, Override, Position, Rule, RuleDecision, Search, Statement, Transform,
    WebAclChange, desired_bodies, ip_set_changes, web_acl_changes,
};

use super::resource::{Presence, Resource};
use super::{AwsCtx, AwsError};

const SERVICE: &str = "wafv2";
/// A lock token that is not the latest.
pub const OPTIMISTIC_LOCK: &str = "WAFOptimisticLockException";
/// "The resource is not available yet": an association right after the ACL was created.
pub const UNAVAILABLE: &str = "WAFUnavailableEntityException";
/// Deleting an ACL that is still associated.
pub const ASSOCIATED: &str = "WAFAssociatedItemException";

fn build(operation: &'static str) -> impl Fn(BuildError) -> AwsError {
    move |e| AwsError::build(SERVICE, operation, e)
}

fn scope() -> t::Scope {
    t::Scope::Regional
}

// --- SDK conversions -----------------------------------------------------------------------

fn visibility(metric: &str, sampled: bool) -> Result<t::VisibilityConfig, BuildError> {
    t::VisibilityConfig::builder()
        .sampled_requests_enabled(sampled)
        .cloud_watch_metrics_enabled(true)
        .metric_name(metric)
        .build()
}

fn to_statement(s: &Statement) -> Result<t::Statement, BuildError> {
    let b = t::Statement::builder();
    Ok(match s {
        Statement::ByteMatch { field, search, position, transforms } => {
            let field = match field {
                Field::UriPath => {
                    t::FieldToMatch::builder().uri_path(t::UriPath::builder().build()).build()
                }
                Field::Header(name) => t::FieldToMatch::builder()
                    .single_header(t::SingleHeader::builder().name(name).build()?)
                    .build(),
            };
            let transforms = transforms
                .iter()
                .enumerate()
                .map(|(i, tr)| {
                    t::TextTransformation::builder()
                        .priority(i32::try_from(i).unwrap_or(0))
                        .r#type(t::TextTransformationType::from(tr.0.as_str()))
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            b.byte_match_statement(
                t::ByteMatchStatement::builder()
                    .search_string(Blob::new(search.bytes().to_vec()))
                    .field_to_match(field)
                    .set_text_transformations(Some(transforms))
                    .positional_constraint(t::PositionalConstraint::from(position.as_aws()))
                    .build()?,
            )
        }
        Statement::Geo { countries } => b.geo_match_statement(
            t::GeoMatchStatement::builder()
                .set_country_codes(Some(
                    countries.iter().map(|c| t::CountryCode::from(c.as_str())).collect(),
                ))
                .build(),
        ),
        Statement::IpSet { arn } => {
            b.ip_set_reference_statement(t::IpSetReferenceStatement::builder().arn(arn).build()?)
        }
        Statement::RateBased { limit, window } => b.rate_based_statement(
            t::RateBasedStatement::builder()
                .limit(*limit)
                .evaluation_window_sec(*window)
                .aggregate_key_type(t::RateBasedStatementAggregateKeyType::Ip)
                .build()?,
        ),
        Statement::ManagedGroup { vendor, name, version, overrides } => {
            let overrides = overrides
                .iter()
                .map(|o| {
                    t::RuleActionOverride::builder()
                        .name(&o.rule)
                        .action_to_use(to_action(o.action)?)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            b.managed_rule_group_statement(
                t::ManagedRuleGroupStatement::builder()
                    .vendor_name(vendor)
                    .name(name)
                    .set_version(version.clone())
                    .set_rule_action_overrides((!overrides.is_empty()).then_some(overrides))
                    .build()?,
            )
        }
        Statement::Label { key } => b.label_match_statement(
            t::LabelMatchStatement::builder().scope(t::LabelMatchScope::Label).key(key).build()?,
        ),
        Statement::And(v) => b.and_statement(
            t::AndStatement::builder()
                .set_statements(Some(v.iter().map(to_statement).collect::<Result<_, _>>()?))
                .build()?,
        ),
        Statement::Or(v) => b.or_statement(
            t::OrStatement::builder()
                .set_statements(Some(v.iter().map(to_statement).collect::<Result<_, _>>()?))
                .build()?,
        ),
        Statement::Not(inner) => {
            b.not_statement(t::NotStatement::builder().statement(to_statement(inner)?).build())
        }
        // Never desired: only what WAF reports can be `Other`.
        Statement::Other(_) => b,
    }
    .build())
}

fn to_action(a: Action) -> Result<t::RuleAction, BuildError> {
    let b = t::RuleAction::builder();
    Ok(match a {
        Action::Allow => b.allow(t::AllowAction::builder().build()),
        Action::Count => b.count(t::CountAction::builder().build()),
        Action::Captcha => b.captcha(t::CaptchaAction::builder().build()),
        Action::Challenge => b.challenge(t::ChallengeAction::builder().build()),
        Action::Block { denied_body: false } => b.block(t::BlockAction::builder().build()),
        Action::Block { denied_body: true } => b.block(
            t::BlockAction::builder()
                .custom_response(
                    t::CustomResponse::builder()
                        .response_code(403)
                        .custom_response_body_key(crate::plan::firewall::DENIED_BODY_KEY)
                        .build()?,
                )
                .build(),
        ),
    }
    .build())
}

fn to_rule(r: &Rule) -> Result<t::Rule, BuildError> {
    let b = t::Rule::builder()
        .name(&r.name)
        .priority(r.priority)
        .statement(to_statement(&r.statement)?)
        .visibility_config(visibility(&r.name, true)?);
    match r.decision {
        RuleDecision::Action(a) => b.action(to_action(a)?),
        RuleDecision::GroupActions => b.override_action(
            t::OverrideAction::builder().none(t::NoneAction::builder().build()).build(),
        ),
    }
    .build()
}

fn to_rules(rules: &[Rule]) -> Result<Vec<t::Rule>, AwsError> {
    rules.iter().map(to_rule).collect::<Result<_, _>>().map_err(build("UpdateWebACL"))
}

fn bodies() -> Result<std::collections::HashMap<String, t::CustomResponseBody>, BuildError> {
    desired_bodies()
        .into_iter()
        .map(|(k, ct, content)| {
            Ok((
                k,
                t::CustomResponseBody::builder()
                    .content_type(t::ResponseContentType::from(ct.as_str()))
                    .content(content)
                    .build()?,
            ))
        })
        .collect()
}

fn from_action(a: &t::RuleAction) -> Option<Action> {
    Some(if let Some(block) = a.block() {
        Action::Block {
            denied_body: block.custom_response().is_some_and(|c| {
                c.response_code() == 403
                    && c.custom_response_body_key() == Some(crate::plan::firewall::DENIED_BODY_KEY)
            }),
        }
    } else if a.allow().is_some() {
        Action::Allow
    } else if a.count().is_some() {
        Action::Count
    } else if a.captcha().is_some() {
        Action::Captcha
    } else if a.challenge().is_some() {
        Action::Challenge
    } else {
        return None;
    })
}

fn from_statement(s: &t::Statement) -> Statement {
    if let Some(m) = s.byte_match_statement() {
        let field = m.field_to_match();
        let field = if field.and_then(|f| f.uri_path()).is_some() {
            Some(Field::UriPath)
        } else {
            // WAF lower-cases header names on read-back (so does the plan).
            field
                .and_then(|f| f.single_header())
                .map(|h| Field::Header(h.name().to_ascii_lowercase()))
        };
        let (Some(field), Some(position)) =
            (field, Position::from_aws(m.positional_constraint().as_str()))
        else {
            return Statement::Other("ByteMatchStatement".into());
        };
        let mut transforms: Vec<&t::TextTransformation> = m.text_transformations().iter().collect();
        transforms.sort_by_key(|t| t.priority());
        let search = String::from_utf8_lossy(m.search_string().as_ref()).into_owned();
        let search = if matches!(field, Field::Header(_)) {
            Search::Secret(crate::plan::secret::SecretString::new(search))
        } else {
            Search::Plain(search)
        };
        return Statement::ByteMatch {
            field,
            search,
            position,
            transforms: transforms
                .iter()
                .map(|t| Transform(t.r#type().as_str().to_string()))
                .collect(),
        };
    }
    if let Some(g) = s.geo_match_statement() {
        if g.forwarded_ip_config().is_some() {
            return Statement::Other("GeoMatchStatement".into());
        }
        let mut countries: Vec<String> =
            g.country_codes().iter().map(|c| c.as_str().to_string()).collect();
        countries.sort();
        return Statement::Geo { countries };
    }
    if let Some(i) = s.ip_set_reference_statement() {
        if i.ip_set_forwarded_ip_config().is_some() {
            return Statement::Other("IPSetReferenceStatement".into());
        }
        return Statement::IpSet { arn: i.arn().to_string() };
    }
    if let Some(r) = s.rate_based_statement() {
        if r.scope_down_statement().is_some()
            || r.aggregate_key_type() != &t::RateBasedStatementAggregateKeyType::Ip
        {
            return Statement::Other("RateBasedStatement".into());
        }
        return Statement::RateBased { limit: r.limit(), window: r.evaluation_window_sec() };
    }
    if let Some(m) = s.managed_rule_group_statement() {
        if m.scope_down_statement().is_some()
            || !m.excluded_rules().is_empty()
            || !m.managed_rule_group_configs().is_empty()
        {
            return Statement::Other("ManagedRuleGroupStatement".into());
        }
        let mut overrides: Vec<Override> = m
            .rule_action_overrides()
            .iter()
            .filter_map(|o| {
                Some(Override {
                    rule: o.name().to_string(),
                    action: from_action(o.action_to_use()?)?,
                })
            })
            .collect();
        overrides.sort();
        return Statement::ManagedGroup {
            vendor: m.vendor_name().to_string(),
            name: m.name().to_string(),
            version: m.version().map(str::to_string),
            overrides,
        };
    }
    if let Some(l) = s.label_match_statement() {
        if l.scope() != &t::LabelMatchScope::Label {
            return Statement::Other("LabelMatchStatement".into());
        }
        return Statement::Label { key: l.key().to_string() };
    }
    if let Some(a) = s.and_statement() {
        return Statement::And(a.statements().iter().map(from_statement).collect());
    }
    if let Some(o) = s.or_statement() {
        return Statement::Or(o.statements().iter().map(from_statement).collect());
    }
    if let Some(n) = s.not_statement() {
        return match n.statement() {
            Some(inner) => Statement::Not(Box::new(from_statement(inner))),
            None => Statement::Other("NotStatement".into()),
        };
    }
    Statement::Other("statement".into())
}

fn from_rule(r: &t::Rule) -> (Rule, bool) {
    let decision = match (r.action(), r.override_action()) {
        (Some(a), _) => from_action(a).map(RuleDecision::Action),
        (None, Some(o)) if o.none().is_some() => Some(RuleDecision::GroupActions),
        _ => None,
    };
    let statement = r.statement().map_or(Statement::Other("none".into()), from_statement);
    let visible = r.visibility_config().is_some_and(|v| {
        v.cloud_watch_metrics_enabled()
            && v.sampled_requests_enabled()
            && v.metric_name() == r.name()
    }) && r.rule_labels().is_empty()
        && r.captcha_config().is_none()
        && r.challenge_config().is_none();
    let rule = Rule {
        name: r.name().to_string(),
        priority: r.priority(),
        // A rule whose decision the operator cannot express never matches the plan.
        statement: if decision.is_some() { statement } else { Statement::Other("action".into()) },
        decision: decision.unwrap_or(RuleDecision::Action(Action::Count)),
    };
    (rule, visible)
}

fn tag_list(tags: &TagSet) -> Result<Vec<t::Tag>, BuildError> {
    tags.iter().map(|(k, v)| t::Tag::builder().key(k).value(v).build()).collect()
}

/// The tags of a WAF resource.
pub async fn tags(aws: &AwsCtx, arn: &str) -> Result<TagSet, AwsError> {
    let out =
        aws.call(aws.wafv2.list_tags_for_resource().resource_arn(arn).limit(100).send()).await?;
    let mut set = TagSet::new();
    for tag in out.tag_info_for_resource().map(|i| i.tag_list()).unwrap_or_default() {
        set.insert(tag.key(), tag.value());
    }
    Ok(set)
}

// --- web ACL ---------------------------------------------------------------------------

/// `(id, arn)` of the regional web ACL named `name`.
pub async fn find_web_acl(aws: &AwsCtx, name: &str) -> Result<Option<(String, String)>, AwsError> {
    let mut marker: Option<String> = None;
    loop {
        let out = aws
            .call(
                aws.wafv2
                    .list_web_acls()
                    .scope(scope())
                    .limit(100)
                    .set_next_marker(marker.clone())
                    .send(),
            )
            .await?;
        if let Some(s) = out.web_acls().iter().find(|s| s.name() == Some(name)) {
            return Ok(Some((
                s.id().unwrap_or_default().into(),
                s.arn().unwrap_or_default().into(),
            )));
        }
        match out.next_marker() {
            Some(m) if !m.is_empty() && !out.web_acls().is_empty() => marker = Some(m.to_string()),
            _ => return Ok(None),
        }
    }
}

/// The web ACL `name`/`id` with its lock token; `None` when it is gone.
pub async fn get_web_acl(
    aws: &AwsCtx,
    name: &str,
    id: &str,
) -> Result<Option<ObservedWebAcl>, AwsError> {
    let Some(out) =
        aws.find(aws.wafv2.get_web_acl().name(name).scope(scope()).id(id).send()).await?
    else {
        return Ok(None);
    };
    let Some(acl) = out.web_acl() else {
        return Ok(None);
    };
    let mut rules = Vec::new();
    let mut visibility_off = Vec::new();
    for r in acl.rules() {
        let (rule, visible) = from_rule(r);
        if !visible {
            visibility_off.push(rule.name.clone());
        }
        rules.push(rule);
    }
    rules.sort_by_key(|r| r.priority);
    let mut bodies: Vec<(String, String, String)> = acl
        .custom_response_bodies()
        .map(|m| {
            m.iter()
                .map(|(k, b)| {
                    (k.clone(), b.content_type().as_str().to_string(), b.content().to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    bodies.sort();
    let v = acl.visibility_config();
    Ok(Some(ObservedWebAcl {
        name: acl.name().to_string(),
        id: acl.id().to_string(),
        arn: acl.arn().to_string(),
        lock_token: out.lock_token().unwrap_or_default().to_string(),
        default_allow: acl.default_action().is_some_and(|d| d.allow().is_some()),
        metric: v.map(|v| v.metric_name().to_string()).unwrap_or_default(),
        metrics_enabled: v.is_some_and(|v| v.cloud_watch_metrics_enabled()),
        sampled: v.is_some_and(|v| v.sampled_requests_enabled()),
        bodies,
        rules,
        visibility_off,
        capacity: acl.capacity(),
        tags: TagSet::new(),
    }))
}

/// The capacity units `rules` need (`CheckCapacity`).
pub async fn check_capacity(aws: &AwsCtx, rules: &[Rule]) -> Result<i64, AwsError> {
    let out = aws
        .call(aws.wafv2.check_capacity().scope(scope()).set_rules(Some(to_rules(rules)?)).send())
        .await?;
    Ok(out.capacity())
}

async fn create_web_acl(aws: &AwsCtx, want: &DesiredWebAcl) -> Result<(String, String), AwsError> {
    let b = build("CreateWebACL");
    let out = aws
        .call(
            aws.wafv2
                .create_web_acl()
                .name(&want.name)
                .scope(scope())
                .description("REDCap web ACL managed by redcap-operator")
                .default_action(
                    t::DefaultAction::builder().allow(t::AllowAction::builder().build()).build(),
                )
                .set_rules(Some(to_rules(&want.rules(None))?))
                .visibility_config(visibility(&want.metric, false).map_err(&b)?)
                .set_custom_response_bodies(Some(bodies().map_err(&b)?))
                .set_tags(Some(tag_list(&want.tags).map_err(&b)?))
                .send(),
        )
        .await?;
    let s = out.summary();
    Ok((
        s.and_then(|s| s.id()).unwrap_or_default().to_string(),
        s.and_then(|s| s.arn()).unwrap_or_default().to_string(),
    ))
}

async fn update_web_acl(
    aws: &AwsCtx,
    want: &DesiredWebAcl,
    seen: &ObservedWebAcl,
) -> Result<(), AwsError> {
    let b = build("UpdateWebACL");
    aws.run(
        aws.wafv2
            .update_web_acl()
            .name(&seen.name)
            .scope(scope())
            .id(&seen.id)
            .description("REDCap web ACL managed by redcap-operator")
            .default_action(
                t::DefaultAction::builder().allow(t::AllowAction::builder().build()).build(),
            )
            .set_rules(Some(to_rules(&want.rules(Some(seen)))?))
            .visibility_config(visibility(&want.metric, false).map_err(&b)?)
            .set_custom_response_bodies(Some(bodies().map_err(&b)?))
            .lock_token(&seen.lock_token)
            .send(),
    )
    .await
}

/// Deletes the web ACL (after reading its lock token; one retry on a conflict).
/// `Ok(false)`: it still has associations (`WAFAssociatedItemException`).
pub async fn delete_web_acl(aws: &AwsCtx, name: &str, id: &str) -> Result<bool, AwsError> {
    for attempt in 0..2 {
        let Some(seen) = get_web_acl(aws, name, id).await? else {
            return Ok(true);
        };
        match aws
            .delete(
                aws.wafv2
                    .delete_web_acl()
                    .name(name)
                    .scope(scope())
                    .id(id)
                    .lock_token(&seen.lock_token)
                    .send(),
            )
            .await
        {
            Ok(_) => return Ok(true),
            Err(e) if e.code == ASSOCIATED => return Ok(false),
            Err(e) if e.code == OPTIMISTIC_LOCK && attempt == 0 => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

impl Resource for DesiredWebAcl {
    type Seen = ObservedWebAcl;
    type Change = WebAclChange;

    fn label(&self) -> String {
        format!("web ACL {}", self.name)
    }

    async fn observe(&self, aws: &AwsCtx, uid: &str) -> Result<Presence<ObservedWebAcl>, AwsError> {
        let Some((id, arn)) = find_web_acl(aws, &self.name).await? else {
            return Ok(Presence::Absent);
        };
        let Some(mut seen) = get_web_acl(aws, &self.name, &id).await? else {
            return Ok(Presence::Absent);
        };
        seen.tags = tags(aws, &arn).await?;
        let owned = seen.tags.is_owned_by(uid);
        Ok(Presence::of(Some(seen), |_| owned))
    }

    async fn create(&self, aws: &AwsCtx) -> Result<ObservedWebAcl, AwsError> {
        let (id, arn) = create_web_acl(aws, self).await?;
        // Read back for the lock token and what WAF made of the rules.
        Ok(get_web_acl(aws, &self.name, &id).await?.map_or_else(
            || ObservedWebAcl { name: self.name.clone(), id, arn, ..ObservedWebAcl::default() },
            |mut s| {
                s.tags = self.tags.clone();
                s
            },
        ))
    }

    fn changes(&self, seen: &ObservedWebAcl) -> Vec<WebAclChange> {
        web_acl_changes(self, seen)
    }

    /// One `UpdateWebACL` with the whole rule list; on a lock conflict the ACL is read
    /// again and, when it still differs, written once more with the new lock token.
    async fn update(
        &self,
        aws: &AwsCtx,
        seen: &ObservedWebAcl,
        _: &[WebAclChange],
    ) -> Result<(), AwsError> {
        match update_web_acl(aws, self, seen).await {
            Err(e) if e.code == OPTIMISTIC_LOCK => {
                let Some(again) = get_web_acl(aws, &seen.name, &seen.id).await? else {
                    return Err(e);
                };
                if web_acl_changes(self, &again).is_empty() {
                    return Ok(());
                }
                update_web_acl(aws, self, &again).await
            }
            other => other,
        }
    }
}

// --- IP sets ---------------------------------------------------------------------------

/// `(id, arn)` of the regional IP set named `name`.
pub async fn find_ip_set(aws: &AwsCtx, name: &str) -> Result<Option<(String, String)>, AwsError> {
    let mut marker: Option<String> = None;
    loop {
        let out = aws
            .call(
                aws.wafv2
                    .list_ip_sets()
                    .scope(scope())
                    .limit(100)
                    .set_next_marker(marker.clone())
                    .send(),
            )
            .await?;
        if let Some(s) = out.ip_sets().iter().find(|s| s.name() == Some(name)) {
            return Ok(Some((
                s.id().unwrap_or_default().into(),
                s.arn().unwrap_or_default().into(),
            )));
        }
        match out.next_marker() {
            Some(m) if !m.is_empty() && !out.ip_sets().is_empty() => marker = Some(m.to_string()),
            _ => return Ok(None),
        }
    }
}

async fn get_ip_set(aws: &AwsCtx, name: &str, id: &str) -> Result<Option<ObservedIpSet>, AwsError> {
    let Some(out) =
        aws.find(aws.wafv2.get_ip_set().name(name).scope(scope()).id(id).send()).await?
    else {
        return Ok(None);
    };
    let Some(set) = out.ip_set() else {
        return Ok(None);
    };
    Ok(Some(ObservedIpSet {
        name: set.name().to_string(),
        id: set.id().to_string(),
        arn: set.arn().to_string(),
        lock_token: out.lock_token().unwrap_or_default().to_string(),
        version: match set.ip_address_version() {
            t::IpAddressVersion::Ipv4 => Some(IpVersion::V4),
            t::IpAddressVersion::Ipv6 => Some(IpVersion::V6),
            _ => None,
        },
        addresses: set.addresses().to_vec(),
        tags: TagSet::new(),
    }))
}

/// Deletes the IP set `name` if it exists and is this environment's (a lock conflict is
/// retried once). `Ok(true)` when one was deleted.
pub async fn delete_ip_set(aws: &AwsCtx, name: &str, uid: &str) -> Result<bool, AwsError> {
    let Some((id, arn)) = find_ip_set(aws, name).await? else {
        return Ok(false);
    };
    if !tags(aws, &arn).await?.is_owned_by(uid) {
        return Ok(false);
    }
    for attempt in 0..2 {
        let Some(seen) = get_ip_set(aws, name, &id).await? else {
            return Ok(false);
        };
        match aws
            .delete(
                aws.wafv2
                    .delete_ip_set()
                    .name(name)
                    .scope(scope())
                    .id(&id)
                    .lock_token(&seen.lock_token)
                    .send(),
            )
            .await
        {
            Ok(gone) => return Ok(gone),
            Err(e) if e.code == OPTIMISTIC_LOCK && attempt == 0 => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

impl Resource for DesiredIpSet {
    type Seen = ObservedIpSet;
    type Change = IpSetChange;

    fn label(&self) -> String {
        format!("IP set {}", self.name)
    }

    async fn observe(&self, aws: &AwsCtx, uid: &str) -> Result<Presence<ObservedIpSet>, AwsError> {
        let Some((id, arn)) = find_ip_set(aws, &self.name).await? else {
            return Ok(Presence::Absent);
        };
        let Some(mut seen) = get_ip_set(aws, &self.name, &id).await? else {
            return Ok(Presence::Absent);
        };
        seen.tags = tags(aws, &arn).await?;
        let owned = seen.tags.is_owned_by(uid) && seen.version == Some(self.version);
        Ok(Presence::of(Some(seen), |_| owned))
    }

    async fn create(&self, aws: &AwsCtx) -> Result<ObservedIpSet, AwsError> {
        let b = build("CreateIPSet");
        let version = match self.version {
            IpVersion::V4 => t::IpAddressVersion::Ipv4,
            IpVersion::V6 => t::IpAddressVersion::Ipv6,
        };
        let out = aws
            .call(
                aws.wafv2
                    .create_ip_set()
                    .name(&self.name)
                    .scope(scope())
                    .description("REDCap allow list from spec.firewall.allowedIps")
                    .ip_address_version(version)
                    .set_addresses(Some(self.addresses.clone()))
                    .set_tags(Some(tag_list(&self.tags).map_err(&b)?))
                    .send(),
            )
            .await?;
        let s = out.summary();
        Ok(ObservedIpSet {
            name: self.name.clone(),
            id: s.and_then(|s| s.id()).unwrap_or_default().to_string(),
            arn: s.and_then(|s| s.arn()).unwrap_or_default().to_string(),
            lock_token: s.and_then(|s| s.lock_token()).unwrap_or_default().to_string(),
            version: Some(self.version),
            addresses: self.addresses.clone(),
            tags: self.tags.clone(),
        })
    }

    fn changes(&self, seen: &ObservedIpSet) -> Vec<IpSetChange> {
        ip_set_changes(self, seen)
    }

    async fn update(
        &self,
        aws: &AwsCtx,
        seen: &ObservedIpSet,
        _: &[IpSetChange],
    ) -> Result<(), AwsError> {
        let mut lock = seen.lock_token.clone();
        for attempt in 0..2 {
            match aws
                .run(
                    aws.wafv2
                        .update_ip_set()
                        .name(&seen.name)
                        .scope(scope())
                        .id(&seen.id)
                        .set_addresses(Some(self.addresses.clone()))
                        .lock_token(&lock)
                        .send(),
                )
                .await
            {
                Err(e) if e.code == OPTIMISTIC_LOCK && attempt == 0 => {
                    match get_ip_set(aws, &seen.name, &seen.id).await? {
                        Some(again) if !ip_set_changes(self, &again).is_empty() => {
                            lock = again.lock_token
                        }
                        _ => return Ok(()),
                    }
                }
                other => return other,
            }
        }
        Ok(())
    }
}

// --- associations ----------------------------------------------------------------------

/// The web ACL `resource` is associated with, if any.
pub async fn web_acl_for_resource(
    aws: &AwsCtx,
    resource: &str,
) -> Result<Option<String>, AwsError> {
    let out = aws.find(aws.wafv2.get_web_acl_for_resource().resource_arn(resource).send()).await?;
    Ok(out.and_then(|o| o.web_acl().map(|a| a.arn().to_string())).filter(|a| !a.is_empty()))
}

/// Associates `web_acl` with `resource`. `Ok(false)`: WAF does not accept it yet (right
/// after the ACL or the resource was created: `WAFUnavailableEntityException`).
pub async fn associate(aws: &AwsCtx, web_acl: &str, resource: &str) -> Result<bool, AwsError> {
    match aws
        .tolerate(
            &[UNAVAILABLE],
            aws.wafv2.associate_web_acl().web_acl_arn(web_acl).resource_arn(resource).send(),
        )
        .await?
    {
        Some(_) => Ok(true),
        None => Ok(false),
    }
}

/// Removes `resource`'s association (nothing to do when there is none).
pub async fn disassociate(aws: &AwsCtx, resource: &str) -> Result<(), AwsError> {
    aws.delete(aws.wafv2.disassociate_web_acl().resource_arn(resource).send()).await.map(drop)
}

/// Every resource (load balancers and App Runner services) associated with `web_acl`.
pub async fn associated_resources(aws: &AwsCtx, web_acl: &str) -> Result<Vec<String>, AwsError> {
    let mut out = Vec::new();
    for kind in [t::ResourceType::ApplicationLoadBalancer, t::ResourceType::AppRunnerService] {
        if let Some(list) = aws
            .find(
                aws.wafv2
                    .list_resources_for_web_acl()
                    .web_acl_arn(web_acl)
                    .resource_type(kind)
                    .send(),
            )
            .await?
        {
            out.extend(list.resource_arns().iter().cloned());
        }
    }
    Ok(out)
}
