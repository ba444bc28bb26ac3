//! Unit tests of `plan::email`: identity choice, validation, changes and DNS records.

use super::*;
use crate::api::RedcapEnvironment;

fn identity() -> EnvIdentity {
    EnvIdentity::test()
}

fn spec(extra: serde_json::Value) -> RedcapEnvironmentSpec {
    let mut env = RedcapEnvironment::test();
    let mut value = serde_json::to_value(&env.spec).expect("spec");
    if let (Some(v), Some(e)) = (value.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            v.insert(k.clone(), x.clone());
        }
    }
    env.spec = serde_json::from_value(value).expect("spec");
    env.spec
}

fn domain_spec(mode: &str) -> RedcapEnvironmentSpec {
    let zone = if mode == "Existing" {
        serde_json::json!({"mode": mode, "zoneName": "example.org"})
    } else {
        serde_json::json!({"mode": mode})
    };
    spec(serde_json::json!({
        "domain": {"name": "example.org", "subdomain": "redcap", "hostedZone": zone},
        "email": {"bounceNotificationAddress": "it@example.org"}
    }))
}

#[test]
fn without_a_domain_the_address_is_the_identity() {
    let want = desired_email(&identity(), &spec(serde_json::json!({}))).expect("plan");
    assert_eq!(want.identity, "redcap@example.org");
    assert_eq!(want.kind, IdentityKind::EmailAddress);
    assert_eq!(want.dns, DnsTarget::NotNeeded);
    assert_eq!(want.mail_from_domain, None);
    assert_eq!(want.notifications.address, None);
    assert!(want.notifications.topic_name.ends_with("-ses-notifications"));
    assert!(want.configuration_set.ends_with("-mail"));
    assert_eq!(want.rotation_days, 90);
}

#[test]
fn with_a_domain_the_site_is_the_identity_and_the_zone_decides_the_dns() {
    let cases = [
        (
            "Create",
            DnsTarget::Route53 { zone_name: "redcap.example.org".into(), must_be_owned: true },
        ),
        ("Existing", DnsTarget::Route53 { zone_name: "example.org".into(), must_be_owned: false }),
        ("None", DnsTarget::Manual),
    ];
    for (mode, dns) in cases {
        let want = desired_email(&identity(), &domain_spec(mode)).expect("plan");
        assert_eq!(want.identity, "redcap.example.org");
        assert_eq!(want.kind, IdentityKind::Domain);
        assert_eq!(want.from_address, "noreply@redcap.example.org");
        assert_eq!(want.mail_from_domain.as_deref(), Some("mail.redcap.example.org"));
        assert_eq!(want.dns, dns, "{mode}");
        let n = want.notifications;
        assert_eq!(n.address.as_deref(), Some("it@example.org"));
        assert!(n.tags.is_owned_by("uid-1"));
    }
}

#[test]
fn malformed_addresses_are_invalid_spec_with_the_field_named() {
    for bad in [
        "no-at-sign.example.org",
        "two@@example.org",
        "space here@example.org",
        ".dot@example.org",
        "a..b@example.org",
        "x@exa_mple.org",
        "x@-example.org",
        "x@example",
        "x@example.123",
    ] {
        let err = validate_email_address("spec.email.fromAddress", bad).expect_err(bad);
        assert!(err.to_string().starts_with("spec.email.fromAddress: "), "{err}");
    }
    for ok in ["redcap@example.org", "first.last+tag@sub.example.co.uk", "x@xn--bcher-kva.example"]
    {
        validate_email_address("f", ok).expect(ok);
    }
    let err = desired_email(
        &identity(),
        &spec(serde_json::json!({"email": {"fromAddress": "x@exa_mple.org"}})),
    )
    .expect_err("invalid");
    assert!(err.to_string().contains("x@exa_mple.org"), "{err}");
}

#[test]
fn a_from_address_outside_the_domain_is_refused() {
    let mut s = domain_spec("Create");
    s.email.as_mut().expect("email").from_address = Some("noreply@other.org".into());
    let err = desired_email(&identity(), &s).expect_err("outside");
    assert!(err.to_string().contains("redcap.example.org"), "{err}");
    s.email.as_mut().expect("email").from_address = Some("noreply@lists.redcap.example.org".into());
    desired_email(&identity(), &s).expect("a subdomain is covered");
}

#[test]
fn new_identities_are_created_with_dkim_and_mail_from() {
    let want = desired_email(&identity(), &domain_spec("Create")).expect("plan");
    assert_eq!(
        identity_changes(&want, None),
        vec![
            IdentityChange::VerifyDomain,
            IdentityChange::CreateDkimTokens,
            IdentityChange::SetMailFrom("mail.redcap.example.org".into()),
        ]
    );
    let email = desired_email(&identity(), &spec(serde_json::json!({}))).expect("plan");
    assert_eq!(identity_changes(&email, None), vec![IdentityChange::VerifyEmail]);
}

fn verified(want: &DesiredEmail) -> ObservedIdentity {
    ObservedIdentity {
        verification_status: Some("Success".into()),
        verification_token: Some("tok=".into()),
        dkim_enabled: true,
        dkim_tokens: vec!["a1".into(), "b2".into(), "c3".into()],
        dkim_status: Some("Success".into()),
        mail_from_domain: want.mail_from_domain.clone(),
        mail_from_status: Some("Success".into()),
    }
}

#[test]
fn a_configured_identity_needs_nothing_even_while_pending() {
    let want = desired_email(&identity(), &domain_spec("Create")).expect("plan");
    let mut seen = verified(&want);
    assert_eq!(identity_changes(&want, Some(&seen)), vec![]);
    seen.verification_status = Some("Pending".into());
    seen.dkim_status = Some("Pending".into());
    assert_eq!(identity_changes(&want, Some(&seen)), vec![]);
}

#[test]
fn identity_drift_table() {
    let want = desired_email(&identity(), &domain_spec("Create")).expect("plan");
    let base = verified(&want);
    let cases = [
        (
            ObservedIdentity { dkim_enabled: false, ..base.clone() },
            vec![IdentityChange::EnableDkim],
        ),
        (
            ObservedIdentity { dkim_tokens: vec![], dkim_enabled: false, ..base.clone() },
            vec![IdentityChange::CreateDkimTokens],
        ),
        (
            ObservedIdentity { mail_from_domain: None, ..base.clone() },
            vec![IdentityChange::SetMailFrom("mail.redcap.example.org".into())],
        ),
        (
            ObservedIdentity { verification_status: Some("Failed".into()), ..base.clone() },
            vec![IdentityChange::VerifyDomain],
        ),
    ];
    for (seen, expected) in cases {
        assert_eq!(identity_changes(&want, Some(&seen)), expected, "{seen:?}");
    }
}

#[test]
fn records_of_a_domain_identity() {
    let want = desired_email(&identity(), &domain_spec("None")).expect("plan");
    let records = ses_records(&want, "eu-west-1", &verified(&want));
    let summary: Vec<(String, &str, String)> =
        records.iter().map(|r| (r.name.clone(), r.type_, r.value.clone())).collect();
    assert_eq!(
        summary,
        vec![
            ("_amazonses.redcap.example.org".into(), "TXT", "\"tok=\"".into()),
            ("a1._domainkey.redcap.example.org".into(), "CNAME", "a1.dkim.amazonses.com".into()),
            ("b2._domainkey.redcap.example.org".into(), "CNAME", "b2.dkim.amazonses.com".into()),
            ("c3._domainkey.redcap.example.org".into(), "CNAME", "c3.dkim.amazonses.com".into()),
            (
                "mail.redcap.example.org".into(),
                "MX",
                "10 feedback-smtp.eu-west-1.amazonses.com".into()
            ),
            (
                "mail.redcap.example.org".into(),
                "TXT",
                "\"v=spf1 include:amazonses.com ~all\"".into()
            ),
        ]
    );
    let out = output_record(&records[5]);
    assert_eq!(out.value, "v=spf1 include:amazonses.com ~all");
    assert_eq!(out.purpose.as_deref(), Some("SES MAIL FROM (SPF)"));
    let email = desired_email(&identity(), &spec(serde_json::json!({}))).expect("plan");
    assert!(ses_records(&email, "eu-west-1", &verified(&email)).is_empty());
}

#[test]
fn route53_answers_are_normalised_before_comparing() {
    let want = desired_email(&identity(), &domain_spec("Create")).expect("plan");
    let records = ses_records(&want, "eu-west-1", &verified(&want));
    let seen: Vec<ObservedRecordSet> = records
        .iter()
        .map(|r| ObservedRecordSet {
            name: format!("{}.", r.name.to_uppercase()),
            type_: r.type_.to_string(),
            ttl: 300,
            values: vec![if r.type_ == "TXT" { r.value.clone() } else { format!("{}.", r.value) }],
        })
        .collect();
    assert!(records_to_write(&records, &seen).is_empty());
    let mut changed = seen.clone();
    changed[4].values = vec!["10 feedback-smtp.us-east-1.amazonses.com.".into()];
    changed.remove(1);
    let write: Vec<&str> = records_to_write(&records, &changed).iter().map(|r| r.purpose).collect();
    assert_eq!(write, vec!["SES DKIM", "SES MAIL FROM"]);
    // Only the sets holding the operator's values may be deleted.
    let owned = owned_record_sets(&records, &changed);
    assert_eq!(owned.len(), changed.len() - 1, "the edited MX is not ours any more");
    assert!(owned.iter().all(|s| s.type_ != "MX"));
}

#[test]
fn outputs_show_verification_state_and_endpoints() {
    let want = desired_email(&identity(), &domain_spec("Create")).expect("plan");
    let mut seen = verified(&want);
    seen.verification_status = Some("Pending".into());
    let out = email_outputs(&want, Some(&seen), Some("arn:topic".into()), "eu-west-1");
    assert_eq!(out.identity, "redcap.example.org");
    assert_eq!(out.verification_status.as_deref(), Some("Pending"));
    assert_eq!(out.smtp_endpoint.as_deref(), Some("email-smtp.eu-west-1.amazonaws.com"));
    assert_eq!(out.notification_topic_arn.as_deref(), Some("arn:topic"));
}

#[test]
fn event_destination_must_forward_bounces_and_complaints_to_the_topic() {
    let want = desired_email(&identity(), &domain_spec("Create")).expect("plan");
    let n = &want.notifications;
    let good = ObservedEventDestination {
        name: n.event_destination.clone(),
        enabled: true,
        event_types: vec!["Complaint".into(), "bounce".into()],
        topic_arn: Some("arn:t".into()),
    };
    assert!(event_destination_in_sync(n, "arn:t", std::slice::from_ref(&good)));
    assert!(!event_destination_in_sync(n, "arn:other", std::slice::from_ref(&good)));
    let disabled = ObservedEventDestination { enabled: false, ..good.clone() };
    assert!(!event_destination_in_sync(n, "arn:t", &[disabled]));
    let bounce_only = ObservedEventDestination { event_types: vec!["bounce".into()], ..good };
    assert!(!event_destination_in_sync(n, "arn:t", &[bounce_only]));
    assert!(!event_destination_in_sync(n, "arn:t", &[]));
}

#[test]
fn subscriptions_follow_the_address() {
    let want = desired_email(&identity(), &domain_spec("Create")).expect("plan");
    let n = &want.notifications;
    let sub = |arn: &str, endpoint: &str| ObservedSubscription {
        arn: arn.into(),
        protocol: "email".into(),
        endpoint: endpoint.into(),
    };
    assert_eq!(subscription_changes(n, &[], None), (Some("it@example.org".into()), vec![]));
    assert_eq!(
        subscription_changes(
            n,
            &[sub("PendingConfirmation", "IT@example.org")],
            Some("it@example.org")
        ),
        (None, vec![])
    );
    // The address changed from old@: only the operator's old subscription goes; one a
    // person added (ops@) stays.
    assert_eq!(
        subscription_changes(
            n,
            &[
                sub("arn:aws:sns:x:1:t:old", "old@example.org"),
                sub("arn:aws:sns:x:1:t:ops", "ops@example.org"),
                sub("PendingConfirmation", "older@example.org")
            ],
            Some("old@example.org")
        ),
        (Some("it@example.org".into()), vec!["arn:aws:sns:x:1:t:old".into()])
    );
    assert_eq!(topic_arn("aws", "eu-west-1", "1", "t"), "arn:aws:sns:eu-west-1:1:t");
}
