//! Unit tests of `plan::credentials`: rotation decisions, policies, payloads.

use super::*;

fn at(day: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + day * 86_400).expect("timestamp")
}

fn key(id: &str, created_day: i64) -> ObservedAccessKey {
    ObservedAccessKey { id: id.into(), active: true, created: at(created_day) }
}

fn token(id: &str) -> String {
    version_token(id)
}

#[test]
fn first_creation_makes_a_key() {
    let plan = key_plan(&[], None, None, 90, at(0));
    assert_eq!(plan, KeyPlan { create: Some(NewKeyReason::Missing), ..KeyPlan::default() });
}

#[test]
fn a_stored_key_younger_than_the_period_is_left_alone() {
    let keys = [key("A", 0)];
    for day in [0, 1, 89] {
        let plan = key_plan(&keys, Some(&token("A")), None, 90, at(day));
        assert!(plan.is_empty(), "day {day}: {plan:?}");
    }
}

#[test]
fn rotation_is_due_after_the_period() {
    let keys = [key("A", 0)];
    let plan = key_plan(&keys, Some(&token("A")), None, 90, at(90));
    assert_eq!(plan, KeyPlan { create: Some(NewKeyReason::RotationDue), ..KeyPlan::default() });
}

#[test]
fn the_previous_key_lives_through_the_grace_then_goes() {
    // Rotated on day 90: B is current, A is the previous version.
    let keys = [key("A", 0), key("B", 90)];
    let during = key_plan(
        &keys,
        Some(&token("B")),
        Some(&token("A")),
        90,
        at(90) + SignedDuration::from_hours(23),
    );
    assert!(during.is_empty(), "{during:?}");
    let after = key_plan(&keys, Some(&token("B")), Some(&token("A")), 90, at(91));
    assert_eq!(after, KeyPlan { delete_after: vec!["A".into()], ..KeyPlan::default() });
}

#[test]
fn a_key_the_secret_never_held_is_deleted_at_once() {
    // Crash between CreateAccessKey and PutSecretValue: B was never stored, its secret
    // access key is lost.
    let keys = [key("A", 0), key("B", 10)];
    let plan = key_plan(&keys, Some(&token("A")), None, 90, at(10));
    assert_eq!(plan.delete_after, vec!["B".to_string()]);
    assert_eq!(plan.create, None);
}

#[test]
fn due_rotation_with_two_keys_makes_room_first() {
    let keys = [key("A", 0), key("B", 10)];
    let plan = key_plan(&keys, Some(&token("A")), None, 90, at(95));
    assert_eq!(
        plan,
        KeyPlan {
            delete_first: vec!["B".into()],
            create: Some(NewKeyReason::RotationDue),
            delete_after: vec![],
        }
    );
}

#[test]
fn a_deactivated_or_deleted_current_key_is_replaced() {
    let mut a = key("A", 0);
    a.active = false;
    let plan = key_plan(&[a], Some(&token("A")), None, 90, at(5));
    assert_eq!(plan.create, Some(NewKeyReason::Missing));
    assert_eq!(plan.delete_after, vec!["A".to_string()]);
    // Two keys, none stored: the oldest goes first so the new one fits.
    let plan = key_plan(&[key("B", 3), key("A", 1)], Some(&token("gone")), None, 90, at(5));
    assert_eq!(plan.delete_first, vec!["A".to_string()]);
    assert_eq!(plan.delete_after, vec!["B".to_string()]);
}

#[test]
fn never_more_than_two_keys_at_any_step() {
    // Walk every plan through its steps and count the keys IAM would hold.
    type Case = (Vec<ObservedAccessKey>, Option<String>, Option<String>, i64);
    let cases: Vec<Case> = vec![
        (vec![], None, None, 0),
        (vec![key("A", 0)], Some(token("A")), None, 100),
        (vec![key("A", 0), key("B", 5)], Some(token("A")), None, 100),
        (vec![key("A", 0), key("B", 5)], None, None, 6),
        (vec![key("A", 0), key("B", 90)], Some(token("B")), Some(token("A")), 200),
    ];
    for (keys, cur, prev, day) in cases {
        let plan = key_plan(&keys, cur.as_deref(), prev.as_deref(), 90, at(day));
        let mut held = keys.len() - plan.delete_first.len();
        if plan.create.is_some() {
            held += 1;
        }
        assert!(held <= 2, "{keys:?} -> {plan:?}");
        // A valid key exists after every step when one existed before.
        if plan.create.is_some() {
            assert!(plan.delete_after.len() < held);
        }
    }
}

#[test]
fn current_key_creation_is_the_last_rotation() {
    let keys = [key("A", 0), key("B", 90)];
    assert_eq!(current_key_created(&keys, Some(&token("B"))), Some(at(90)));
    assert_eq!(current_key_created(&keys, None), None);
}

#[test]
fn version_tokens_are_64_hex_characters() {
    let t = version_token("AKIAIOSFODNN7EXAMPLE");
    assert_eq!(t.len(), 64);
    assert!(t.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_ne!(t, version_token("AKIAIOSFODNN7EXAMPLF"));
}

#[test]
fn payloads_use_the_seed_formats() {
    let s = SecretString::new("sk");
    let v: Value = serde_json::from_str(secret_payload(CredentialKind::Storage, "AK", &s).expose())
        .expect("json");
    assert_eq!(v, json!({"AccessKeyId": "AK", "SecretAccessKey": "sk"}));
    let v: Value = serde_json::from_str(secret_payload(CredentialKind::Smtp, "AK", &s).expose())
        .expect("json");
    assert_eq!(v, json!({"username": "AK", "password": "sk"}));
    assert_eq!(format!("{:?}", secret_payload(CredentialKind::Smtp, "AK", &s)), "<redacted>");
}

#[test]
fn storage_policy_covers_only_the_file_bucket_and_its_key() {
    let p = storage_user_policy(
        "aws",
        "eu-west-1",
        "rc-x-files",
        "arn:aws:kms:eu-west-1:123456789012:key/k",
    );
    let statements = p["Statement"].as_array().expect("statements");
    let resources: Vec<&str> =
        statements.iter().map(|s| s["Resource"].as_str().expect("one resource")).collect();
    assert_eq!(
        resources,
        [
            "arn:aws:s3:::rc-x-files",
            "arn:aws:s3:::rc-x-files/*",
            "arn:aws:kms:eu-west-1:123456789012:key/k"
        ]
    );
    let actions: Vec<&str> = statements
        .iter()
        .flat_map(|s| s["Action"].as_array().expect("actions"))
        .filter_map(Value::as_str)
        .collect();
    assert!(actions.iter().all(|a| !a.contains('*')), "{actions:?}");
    assert_eq!(
        statements[2]["Condition"]["StringEquals"]["kms:ViaService"],
        "s3.eu-west-1.amazonaws.com"
    );
}

#[test]
fn smtp_policy_sends_only_from_the_identity() {
    let p = smtp_user_policy("aws", "eu-west-1", "123456789012", "example.org", "rc-x-mail");
    assert_eq!(
        p,
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "SendFromEnvironmentIdentity",
                "Effect": "Allow",
                "Action": ["ses:SendEmail", "ses:SendRawEmail"],
                "Resource": [
                    "arn:aws:ses:eu-west-1:123456789012:identity/example.org",
                    "arn:aws:ses:eu-west-1:123456789012:configuration-set/rc-x-mail"
                ]
            }]
        })
    );
}

#[test]
fn users_are_named_tagged_and_pathed() {
    let id = EnvIdentity {
        namespace: "prod".into(),
        name: "redcap".into(),
        uid: "uid-1".into(),
        region: "eu-west-1".into(),
    };
    let u = desired_user(&id, CredentialKind::Smtp, &[], json!({})).expect("user");
    assert!(u.name.starts_with("rc-prod-redcap-") && u.name.ends_with("-smtp"));
    assert!(u.name.len() <= 64);
    assert_eq!(u.path, "/redcap/");
    assert_eq!(u.tags.get(crate::api::tags::COMPONENT), Some("smtpCredentials"));
    assert_eq!(rotation_tag_value(Some(90)), "90d");
    assert_eq!(rotation_tag_value(None), "never");
}

#[test]
fn iam_policy_documents_are_url_decoded() {
    let policy = smtp_user_policy("aws", "eu-west-1", "123456789012", "a@b.org", "cs");
    let encoded: String = policy
        .to_string()
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    assert!(super::super::policy::same_policy(&decode_policy_document(&encoded), &policy));
    // Plain JSON (what some emulators return) decodes to itself.
    assert_eq!(decode_policy_document(&policy.to_string()), policy);
    assert!(decode_policy_document("%ZZnot json").is_string());
}
