use super::*;
use crate::api::{SqliExclusion, SqliRule};
use crate::plan::EnvIdentity;

fn tags() -> TagSet {
    EnvIdentity::test().ownership_tags(crate::api::ComponentName::Firewall, &[]).expect("tags")
}

fn token(s: &str) -> SecretString {
    SecretString::new(s)
}

fn acl(spec: &FirewallSpec, ip_sets: &[String], cron: CronGuard) -> DesiredWebAcl {
    desired_web_acl(WebAclInputs {
        environment_id: "rc-prod-redcap-1234abcd",
        spec,
        ip_sets,
        cron,
        tags: tags(),
    })
    .expect("plan")
}

fn guard(current: &str) -> CronGuard {
    CronGuard { current: Some(token(current)), connection_sends: None }
}

/// What WAF would report after the operator wrote `rules`.
fn written(want: &DesiredWebAcl, rules: Vec<Rule>) -> ObservedWebAcl {
    ObservedWebAcl {
        name: want.name.clone(),
        id: "id".into(),
        arn: "arn".into(),
        lock_token: "lock".into(),
        default_allow: true,
        metric: want.metric.clone(),
        metrics_enabled: true,
        sampled: false,
        bodies: desired_bodies(),
        rules,
        visibility_off: Vec::new(),
        capacity: 700,
        tags: want.tags.clone(),
    }
}

#[test]
fn default_spec_is_the_seed_rules_plus_install_and_cron_guards() {
    let want = acl(&FirewallSpec::default(), &[], guard("t1"));
    let rules = want.rules(None);
    let names: Vec<(&str, i32)> = rules.iter().map(|r| (r.name.as_str(), r.priority)).collect();
    assert_eq!(
        names,
        [
            ("install-endpoints", 5),
            ("cron-token", 20),
            ("rate-limit", 30),
            ("AWS-AWSManagedRulesAmazonIpReputationList", 100),
            ("AWS-AWSManagedRulesCommonRuleSet", 110),
            ("AWS-AWSManagedRulesKnownBadInputsRuleSet", 120),
            ("AWS-AWSManagedRulesSQLiRuleSet", 130),
        ]
    );
    assert_eq!(rules[2].statement, Statement::RateBased { limit: 3000, window: 300 });
    let Statement::ManagedGroup { overrides, .. } = &rules[4].statement else { panic!() };
    let counted: Vec<&str> = overrides.iter().map(|o| o.rule.as_str()).collect();
    assert_eq!(
        counted,
        [
            "CrossSiteScripting_BODY",
            "GenericRFI_BODY",
            "NoUserAgent_HEADER",
            "SizeRestrictions_BODY"
        ]
    );
    assert!(overrides.iter().all(|o| o.action == Action::Count));
    // No rule allows: nothing can skip the rules after it.
    assert!(rules.iter().all(|r| r.decision != RuleDecision::Action(Action::Allow)));
}

#[test]
fn cron_path_needs_the_token_header() {
    let want = acl(&FirewallSpec::default(), &[], guard("t1"));
    let cron = want.rules(None).into_iter().find(|r| r.name == CRON_RULE).expect("cron rule");
    assert_eq!(
        cron.statement,
        Statement::And(vec![cron_path(), Statement::Not(Box::new(token_header(&token("t1"))))])
    );
    let Statement::ByteMatch { field, .. } = token_header(&token("t1")) else { panic!() };
    assert_eq!(field, Field::Header("x-redcap-cron-token".into()));
    // Without a token the cron path is closed.
    let closed =
        acl(&FirewallSpec::default(), &[], CronGuard { current: None, connection_sends: None });
    let cron = closed.rules(None).into_iter().find(|r| r.name == CRON_RULE).expect("cron rule");
    assert_eq!(cron.statement, cron_path());
    // The token never prints.
    assert!(!format!("{cron:?}{:?}", want.rules(None)).contains("t1\""));
}

#[test]
fn rotation_keeps_the_old_token_only_while_the_connection_sends_it() {
    let old = acl(&FirewallSpec::default(), &[], guard("old"));
    let seen = written(&old, old.rules(None));
    // The seed changed; the connection still sends the old token.
    let rotating = acl(
        &FirewallSpec::default(),
        &[],
        CronGuard {
            current: Some(token("new")),
            connection_sends: Some(fingerprint(&token("old"))),
        },
    );
    let both = rotating.rules(Some(&seen));
    let cron = both.iter().find(|r| r.name == CRON_RULE).expect("cron");
    let accepted: Vec<String> =
        accepted_tokens(cron).iter().map(|t| t.expose().to_string()).collect();
    assert_eq!(accepted, ["new", "old"]);
    assert_eq!(
        rotating.accepted_fingerprints(Some(&seen)),
        [fingerprint(&token("new")), fingerprint(&token("old"))]
    );
    assert_eq!(web_acl_changes(&rotating, &seen), [WebAclChange::RuleChanged(CRON_RULE.into())]);
    // Written; still sending the old one: nothing more to do.
    let seen = written(&rotating, both);
    assert!(web_acl_changes(&rotating, &seen).is_empty());
    // The connection moved to the new token: the old one goes.
    let done = acl(
        &FirewallSpec::default(),
        &[],
        CronGuard {
            current: Some(token("new")),
            connection_sends: Some(fingerprint(&token("new"))),
        },
    );
    assert_eq!(web_acl_changes(&done, &seen), [WebAclChange::RuleChanged(CRON_RULE.into())]);
    let cron = done.rules(Some(&seen)).into_iter().find(|r| r.name == CRON_RULE).expect("cron");
    assert_eq!(accepted_tokens(&cron).len(), 1);
    // A token the connection does not send is never kept (a stale foreign value).
    let other = acl(
        &FirewallSpec::default(),
        &[],
        CronGuard {
            current: Some(token("new")),
            connection_sends: Some("0011223344556677".into()),
        },
    );
    let cron = other.rules(Some(&seen)).into_iter().find(|r| r.name == CRON_RULE).expect("cron");
    assert_eq!(accepted_tokens(&cron).len(), 1);
}

#[test]
fn allow_lists_exempt_the_cron_path_and_use_both_ip_families() {
    let spec = FirewallSpec {
        allowed_ips: vec!["192.0.2.10".into(), "2001:DB8::1/64".into(), "198.51.100.0/24".into()],
        allowed_countries: vec!["US".into(), "GB".into()],
        ..FirewallSpec::default()
    };
    let sets = desired_ip_sets("rc-x", &spec, &tags()).expect("sets");
    assert_eq!(sets.len(), 2);
    assert_eq!(
        (sets[0].version, sets[0].addresses.clone()),
        (IpVersion::V4, vec!["192.0.2.10/32".into(), "198.51.100.0/24".into()])
    );
    assert_eq!(
        (sets[1].version, sets[1].addresses.clone()),
        (IpVersion::V6, vec!["2001:db8::/64".into()])
    );
    assert_eq!(sets[1].name, "rc-x-allow-ipv6");
    let arns = ["arn:v4".to_string(), "arn:v6".to_string()];
    let want = acl(&spec, &arns, guard("t"));
    let rules = want.rules(None);
    let ip = rules.iter().find(|r| r.name == "ip-allow-list").expect("ip rule");
    assert_eq!(ip.priority, 40);
    assert_eq!(ip.decision, RuleDecision::Action(Action::Block { denied_body: true }));
    assert_eq!(
        ip.statement,
        Statement::And(vec![
            Statement::Not(Box::new(Statement::Or(vec![
                Statement::IpSet { arn: "arn:v4".into() },
                Statement::IpSet { arn: "arn:v6".into() },
            ]))),
            Statement::Not(Box::new(cron_path())),
        ])
    );
    let geo = rules.iter().find(|r| r.name == "country-allow-list").expect("geo");
    let Statement::And(parts) = &geo.statement else { panic!() };
    assert_eq!(
        parts[0],
        Statement::Not(Box::new(Statement::Geo { countries: vec!["GB".into(), "US".into()] }))
    );
    // One family: the set alone, no OR of one.
    let one = acl(&spec, &arns[..1], guard("t"));
    let ip = one.rules(None).into_iter().find(|r| r.name == "ip-allow-list").expect("ip");
    let Statement::And(parts) = &ip.statement else { panic!() };
    assert_eq!(parts[0], Statement::Not(Box::new(Statement::IpSet { arn: "arn:v4".into() })));
}

#[test]
fn auth_method_none_is_covered_by_an_ip_rule_nothing_bypasses() {
    // The CEL rule lets authMethod None through only with allowedIps; those always make
    // an ip-allow-list rule, and no rule before it allows (WAF stops at the first
    // terminating action, and the only terminating action the ACL uses is Block).
    let spec = FirewallSpec { allowed_ips: vec!["192.0.2.0/24".into()], ..FirewallSpec::default() };
    let sets = desired_ip_sets("rc-x", &spec, &tags()).expect("sets");
    assert_eq!(sets.len(), 1);
    let want = acl(&spec, &["arn:v4".to_string()], guard("t"));
    let rules = want.rules(None);
    assert!(rules.iter().any(|r| r.name == "ip-allow-list"));
    fn allows(s: &Statement) -> bool {
        match s {
            Statement::ManagedGroup { overrides, .. } => {
                overrides.iter().any(|o| o.action == Action::Allow)
            }
            _ => false,
        }
    }
    for r in &rules {
        assert_ne!(r.decision, RuleDecision::Action(Action::Allow), "{}", r.name);
        assert!(!allows(&r.statement), "{}", r.name);
    }
}

#[test]
fn sqli_exclusions_count_in_the_group_and_block_by_label_outside_the_prefix() {
    let spec = FirewallSpec {
        sqli_exclusions: vec![
            SqliExclusion {
                path_prefix: "/redcap_v15.8.0/Design/".into(),
                rules: vec![SqliRule::Body, SqliRule::QueryArguments],
            },
            SqliExclusion { path_prefix: "/api/".into(), rules: vec![SqliRule::Body] },
        ],
        ..FirewallSpec::default()
    };
    let want = acl(&spec, &[], guard("t"));
    let rules = want.rules(None);
    let group = rules.iter().find(|r| r.name == "AWS-AWSManagedRulesSQLiRuleSet").expect("group");
    let Statement::ManagedGroup { overrides, .. } = &group.statement else { panic!() };
    assert_eq!(
        overrides,
        &vec![
            Override { rule: "SQLi_BODY".into(), action: Action::Count },
            Override { rule: "SQLi_QUERYARGUMENTS".into(), action: Action::Count },
        ]
    );
    let body =
        rules.iter().find(|r| r.name == "sqli-SQLi_BODY-outside-exclusions").expect("body rule");
    assert_eq!(body.priority, group.priority + 1);
    let prefix = |p: &str| Statement::ByteMatch {
        field: Field::UriPath,
        search: Search::Plain(p.into()),
        position: Position::StartsWith,
        transforms: vec![Transform("NONE".into())],
    };
    assert_eq!(
        body.statement,
        Statement::And(vec![
            Statement::Label { key: "awswaf:managed:aws:sql-database:SQLi_Body".into() },
            Statement::Not(Box::new(Statement::Or(vec![
                prefix("/redcap_v15.8.0/Design/"),
                prefix("/api/")
            ]))),
        ])
    );
    let qa =
        rules.iter().find(|r| r.name == "sqli-SQLi_QUERYARGUMENTS-outside-exclusions").expect("qa");
    assert_eq!(qa.priority, group.priority + 2);
    // Without the group the exclusions mean nothing: refused, naming the field.
    let mut no_group = spec.clone();
    no_group.managed_rules.retain(|g| g.name != SQLI_GROUP);
    let err = desired_web_acl(WebAclInputs {
        environment_id: "rc-x",
        spec: &no_group,
        ip_sets: &[],
        cron: guard("t"),
        tags: tags(),
    })
    .expect_err("refused");
    assert!(err.to_string().contains("spec.firewall.sqliExclusions"), "{err}");
}

#[test]
fn steady_state_is_no_change_and_each_drift_is_named() {
    let spec = FirewallSpec { allowed_countries: vec!["US".into()], ..FirewallSpec::default() };
    let want = acl(&spec, &[], guard("t"));
    let seen = written(&want, want.rules(None));
    assert!(web_acl_changes(&want, &seen).is_empty());

    let mut deleted = seen.clone();
    deleted.rules.retain(|r| r.name != "rate-limit");
    assert_eq!(web_acl_changes(&want, &deleted), [WebAclChange::RuleAdded("rate-limit".into())]);

    let mut foreign = seen.clone();
    foreign.rules.push(Rule {
        name: "hand-made".into(),
        priority: 1,
        statement: Statement::Other("XssMatchStatement".into()),
        decision: RuleDecision::Action(Action::Count),
    });
    assert_eq!(web_acl_changes(&want, &foreign), [WebAclChange::RuleRemoved("hand-made".into())]);

    let mut moved = seen.clone();
    moved.rules[0].priority = 1;
    moved.visibility_off.push("rate-limit".into());
    moved.default_allow = false;
    moved.bodies.clear();
    assert_eq!(
        web_acl_changes(&want, &moved),
        [
            WebAclChange::DefaultAction,
            WebAclChange::ResponseBodies,
            WebAclChange::RuleChanged("install-endpoints".into()),
            WebAclChange::RuleChanged("rate-limit".into()),
        ]
    );
    // Messages name rules, never statements (the cron token).
    let msg = crate::plan::describe_all(&web_acl_changes(&want, &moved));
    assert!(!msg.contains('t') || !msg.contains("\"t\""), "{msg}");
}

#[test]
fn ip_sets_compare_canonical_addresses() {
    let spec =
        FirewallSpec { allowed_ips: vec!["192.0.2.10/32".into()], ..FirewallSpec::default() };
    let want = desired_ip_sets("rc-x", &spec, &tags()).expect("sets").remove(0);
    let seen =
        ObservedIpSet { addresses: vec!["192.0.2.10/32".into()], ..ObservedIpSet::default() };
    assert!(ip_set_changes(&want, &seen).is_empty());
    let seen = ObservedIpSet {
        addresses: vec!["192.0.2.11/32".into(), "10.0.0.0/8".into()],
        ..ObservedIpSet::default()
    };
    assert_eq!(ip_set_changes(&want, &seen), [IpSetChange::Addresses { added: 1, removed: 2 }]);
    assert_eq!(canonical_cidr("10.1.2.3/8"), Some((IpVersion::V4, "10.0.0.0/8".into())));
    assert_eq!(canonical_cidr("2001:db8:0:0::1"), Some((IpVersion::V6, "2001:db8::1/128".into())));
    assert_eq!(canonical_cidr("10.0.0.0/33"), None);
    assert_eq!(canonical_cidr("nonsense"), None);
}
