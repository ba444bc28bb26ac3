//! Unit tests of `plan::secrets`: names, drift, disposal, the runtime policy.

use super::*;
use crate::api::{DeletionPolicy, tags};

fn identity() -> EnvIdentity {
    EnvIdentity::test()
}

const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/k-1";

fn in_sync(want: &DesiredSecret) -> ObservedSecret {
    ObservedSecret {
        arn: format!("arn:aws:secretsmanager:eu-west-1:123456789012:secret:{}-AbCdEf", want.name),
        description: want.description.clone(),
        kms_key_id: Some("k-1".into()),
        tags: want.tags.clone(),
        ..ObservedSecret::default()
    }
}

#[test]
fn names_are_per_environment_and_never_look_like_an_arn_suffix() {
    let id = identity().environment_id();
    for purpose in
        [SecretPurpose::Salt, SecretPurpose::StorageCredentials, SecretPurpose::SmtpCredentials]
    {
        let name = secret_name(&id, purpose);
        assert!(name.starts_with(&format!("redcap/{id}/")), "{name}");
        let last = name.rsplit('-').next().expect("part");
        assert!(
            !(name.contains('-') && last.len() == 6 && !last.contains('/')),
            "{name} ends like a random ARN suffix"
        );
        assert!(name.len() <= 512);
    }
}

#[test]
fn desired_secret_is_tagged_with_owner_component_and_rotation() {
    let salt = desired_secret(&identity(), SecretPurpose::Salt, KEY, None, &[]).expect("plan");
    assert_eq!(salt.tags.get(tags::UID), Some("uid-1"));
    assert_eq!(salt.tags.get(tags::COMPONENT), Some("secrets"));
    assert_eq!(salt.tags.get(ROTATION_TAG), Some("never"));
    let smtp = desired_secret(&identity(), SecretPurpose::SmtpCredentials, KEY, Some(30), &[])
        .expect("plan");
    assert_eq!(smtp.tags.get(ROTATION_TAG), Some("30d"));
    assert_eq!(smtp.tags.get(tags::COMPONENT), Some("smtpCredentials"));
}

#[test]
fn in_sync_secret_needs_nothing_whatever_form_the_key_takes() {
    let want = desired_secret(&identity(), SecretPurpose::Salt, KEY, None, &[]).expect("plan");
    let mut seen = in_sync(&want);
    assert_eq!(secret_changes(&want, &seen), vec![]);
    seen.kms_key_id = Some(KEY.into());
    seen.tags.insert("cost-center", "7");
    assert_eq!(secret_changes(&want, &seen), vec![]);
}

#[test]
fn drift_table() {
    let want = desired_secret(&identity(), SecretPurpose::Salt, KEY, None, &[]).expect("plan");
    let base = in_sync(&want);
    let cases = [
        (ObservedSecret { deleted: true, ..base.clone() }, vec![SecretChange::Restore]),
        (ObservedSecret { kms_key_id: None, ..base.clone() }, vec![SecretChange::Update]),
        (
            ObservedSecret { description: "edited".into(), ..base.clone() },
            vec![SecretChange::Update],
        ),
    ];
    for (seen, expected) in cases {
        assert_eq!(secret_changes(&want, &seen), expected, "{seen:?}");
    }
    let mut retagged = base.clone();
    retagged.tags.insert(ROTATION_TAG, "1d");
    assert_eq!(
        secret_changes(&want, &retagged),
        vec![SecretChange::Tag([(ROTATION_TAG, "never")].into_iter().collect())]
    );
}

#[test]
fn only_the_salt_is_kept_and_only_unless_delete() {
    use SecretDisposal::*;
    for policy in [DeletionPolicy::Snapshot, DeletionPolicy::Retain] {
        assert_eq!(disposal(SecretPurpose::Salt, policy), Retain);
        assert_eq!(disposal(SecretPurpose::SmtpCredentials, policy), DeleteWithRecovery);
    }
    assert_eq!(disposal(SecretPurpose::Salt, DeletionPolicy::Delete), DeleteWithRecovery);
    assert_eq!(
        disposal(SecretPurpose::StorageCredentials, DeletionPolicy::Delete),
        DeleteWithRecovery
    );
}

#[test]
fn runtime_policy_reads_exactly_the_secrets_and_connects_as_the_redcap_user() {
    let arn = |n: &str| format!("arn:aws:secretsmanager:eu-west-1:123456789012:secret:{n}");
    let access = RuntimeAccess {
        partition: "aws".into(),
        region: "eu-west-1".into(),
        account: "123456789012".into(),
        secret_arns: vec![arn("b"), arn("a"), arn("b")],
        kms_key_arn: KEY.into(),
        database: Some(DbUserAccess {
            cluster_resource_id: "cluster-ABCDEF".into(),
            user: REDCAP_DB_USER.into(),
        }),
    };
    assert_eq!(
        runtime_policy(&access),
        json!({
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadEnvironmentSecrets",
                    "Effect": "Allow",
                    "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
                    "Resource": [arn("a"), arn("b")]
                },
                {
                    "Sid": "DecryptEnvironmentSecrets",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt"],
                    "Resource": KEY,
                    "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}}
                },
                {
                    "Sid": "ConnectAsRedcapUser",
                    "Effect": "Allow",
                    "Action": ["rds-db:connect"],
                    "Resource": "arn:aws:rds-db:eu-west-1:123456789012:dbuser:cluster-ABCDEF/redcap_user"
                }
            ]
        })
    );
    let without_db = RuntimeAccess { database: None, ..access };
    let p = runtime_policy(&without_db);
    assert_eq!(p["Statement"].as_array().map(Vec::len), Some(2));
    assert!(!p.to_string().contains("rds-db"));
}
