//! The secrets, credentials and email components against a real moto server: everything
//! exists and is tagged with its rotation schedule, a rotation replaces the keys without
//! a moment without a valid stored key, deletion follows `deletionPolicy`, and a resync
//! with nothing changed writes nothing.
//!
//! Needs `AWS_ENDPOINT_URL` pointing at the emulator started by `bash e2e/scripts/moto.sh
//! start <dir>` (see `component_key_storage.rs`); the tests fail (never skip) without it.
//! Every test has its own environment UID, SES identity and call metrics, so they run in
//! parallel on one server. Kubernetes Secrets (the cron seed) are held in memory here;
//! `operator_secret_leaks.rs` runs the same walk against a real API server.

use redcap_operator::aws::sdk::*;
use std::time::Duration;

use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecordSet};
use aws_sdk_ses::types::ConfigurationSetAttribute;
use jiff::{SignedDuration, Timestamp};
use redcap_e2e::components::{self, Harness, all_ready, apply_at, assert_states, state, unique};
use redcap_e2e::probe::{self, Limit, settle_until};
use redcap_operator::api::{ComponentName, ComponentState, RedcapEnvironment, tags};
use redcap_operator::plan::credentials::{ROTATION_TAG, version_token};
use redcap_operator::reconcile::ledger::WriteMode;
use redcap_operator::reconcile::report::PassReport;
use serde_json::Value;

const REGION: &str = "eu-west-1";

async fn harness() -> Harness {
    Harness::with_release(REGION, "releases").await
}

fn environment(spec_extra: Value) -> RedcapEnvironment {
    components::environment(REGION, "releases", None, spec_extra)
}

/// A public zone `d<unique>.example` and an environment whose site is `redcap.<zone>`,
/// writing its records into that existing zone.
async fn domain_environment(h: &Harness, extra: Value) -> (RedcapEnvironment, String, String) {
    let zone_name = format!("d{}.example", unique());
    let zone = h
        .ctx
        .route53
        .create_hosted_zone()
        .name(&zone_name)
        .caller_reference(unique())
        .send()
        .await
        .expect("zone");
    let zone_id =
        zone.hosted_zone().expect("zone").id().trim_start_matches("/hostedzone/").to_string();
    let spec = serde_json::json!({
        "domain": {"name": zone_name, "subdomain": "redcap",
                   "hostedZone": {"mode": "Existing", "zoneName": zone_name}},
        "email": {"bounceNotificationAddress": "it@example.org", "credentialRotationDays": 30},
    });
    (environment(components::merged(spec, &extra)), zone_name, zone_id)
}

fn secret_arn(pass: &PassReport, name: &str) -> String {
    pass.outputs
        .secrets
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.arn.clone())
        .unwrap_or_else(|| panic!("no {name} secret in {:?}", pass.outputs.secrets))
}

/// Passes until every component is Ready: the network stack is created in the pass after
/// the key's (the key policy settles first) and found complete in the next; the database
/// takes three more (cluster, instances and rotation schedule, verification), and the
/// image's role, project and build follow once the network is there.
async fn settle(h: &Harness, env: &RedcapEnvironment, now: Timestamp) -> PassReport {
    let step = async || h.pass_at(env, now).await;
    settle_until(Limit::Tries(11), Duration::ZERO, step, all_ready)
        .await
        .unwrap_or_else(|last| last)
}

/// One pass that must find everything Ready and make no AWS write.
async fn assert_steady(h: &Harness, env: &RedcapEnvironment, now: Timestamp) -> PassReport {
    let (pass, calls) = h.counted(h.pass_at(env, now)).await;
    components::assert_steady(&calls, &pass);
    pass
}

async fn secret_tags(h: &Harness, arn: &str) -> Vec<(String, String)> {
    probe::secret_tags(&h.ctx.secretsmanager, arn).await
}

async fn secret_json(h: &Harness, arn: &str) -> Value {
    probe::secret_json(&h.ctx.secretsmanager, arn).await
}

async fn access_keys(h: &Harness, user: &str) -> Vec<(String, bool)> {
    let out = h.ctx.iam.list_access_keys().user_name(user).send().await.expect("keys");
    out.access_key_metadata()
        .iter()
        .map(|k| {
            (
                k.access_key_id().unwrap_or_default().to_string(),
                k.status().map(|s| s.as_str()) == Some("Active"),
            )
        })
        .collect()
}

/// The key id the secret's current version holds, checked against its version id, and
/// asserted to be an active key of `user`: a stored key is always valid.
async fn stored_key_is_valid(h: &Harness, arn: &str, id_field: &str, user: &str) -> String {
    let value = secret_json(h, arn).await;
    let key_id = value[id_field].as_str().expect("key id").to_string();
    let describe = probe::describe_secret(&h.ctx.secretsmanager, arn).await;
    let current = describe
        .version_ids_to_stages()
        .expect("versions")
        .iter()
        .find(|(_, s)| s.iter().any(|s| s == "AWSCURRENT"))
        .map(|(v, _)| v.clone());
    assert_eq!(current, Some(version_token(&key_id)));
    let keys = access_keys(h, user).await;
    assert!(
        keys.contains(&(key_id.clone(), true)),
        "{key_id} stored but not an active key of {user}: {keys:?}"
    );
    key_id
}

/// The document of the user's inline policy `name`.
async fn user_policy(h: &Harness, user: &str, name: &str) -> String {
    h.ctx
        .iam
        .get_user_policy()
        .user_name(user)
        .policy_name(name)
        .send()
        .await
        .expect("policy")
        .policy_document()
        .to_string()
}

fn user_of(pass: &PassReport, name: ComponentName) -> String {
    components::report(pass, name).id.clone().expect("user name")
}

#[tokio::test]
async fn everything_exists_tagged_with_rotation_schedules_and_resyncs_write_nothing() {
    let h = harness().await;
    let (env, zone_name, zone_id) = domain_environment(&h, serde_json::json!({})).await;
    let uid = env.metadata.uid.clone().expect("uid");
    let now = Timestamp::now();
    let first = h.pass_at(&env, now).await;
    for name in [
        ComponentName::Secrets,
        ComponentName::StorageCredentials,
        ComponentName::Email,
        ComponentName::SmtpCredentials,
    ] {
        assert_eq!(state(&first, name), ComponentState::Creating, "{first:?}");
    }
    assert!(first.requeue_after.is_some());

    // Secrets: owned, encrypted with the environment's key, tagged with their schedule.
    let key_arn = first.outputs.kms_key_arn.clone().expect("key");
    for (name, rotation) in
        [("salt", "never"), ("storageCredentials", "90d"), ("smtpCredentials", "30d")]
    {
        let arn = secret_arn(&first, name);
        let t = secret_tags(&h, &arn).await;
        assert!(t.contains(&(tags::UID.into(), uid.clone())), "{name}: {t:?}");
        assert!(t.contains(&(ROTATION_TAG.into(), rotation.into())), "{name}: {t:?}");
        let d = probe::describe_secret(&h.ctx.secretsmanager, &arn).await;
        let kms = d.kms_key_id().expect("kms key");
        assert!(key_arn.ends_with(kms.rsplit('/').next().unwrap_or(kms)), "{kms}");
    }
    let salt = probe::secret_string(&h.ctx.secretsmanager, &secret_arn(&first, "salt")).await;
    assert_eq!(salt.len(), 64);
    let outputs = &first.outputs;
    assert_eq!(outputs.secrets[1].rotation_days, Some(90));
    assert!(outputs.secrets[1].rotated_at.is_some());
    assert_eq!(outputs.cron_secret_ref.as_ref().map(|r| r.name.as_str()), Some("redcap-cron"));

    // The keys in the secrets are the users' active keys; SMTP holds a derived password.
    let files_user = user_of(&first, ComponentName::StorageCredentials);
    let smtp_user = user_of(&first, ComponentName::SmtpCredentials);
    stored_key_is_valid(&h, &secret_arn(&first, "storageCredentials"), "AccessKeyId", &files_user)
        .await;
    stored_key_is_valid(&h, &secret_arn(&first, "smtpCredentials"), "username", &smtp_user).await;
    let smtp = secret_json(&h, &secret_arn(&first, "smtpCredentials")).await;
    let password = smtp["password"].as_str().expect("password");
    assert!(password.len() == 44 && password.starts_with('B'), "SigV4 v4 password");

    // Users: owned, one narrow inline policy each.
    let user = h.ctx.iam.get_user().user_name(&files_user).send().await.expect("user");
    assert_eq!(user.user().map(|u| u.path()), Some("/redcap/"));
    let policy = user_policy(&h, &files_user, "redcap-file-bucket-access").await;
    let bucket = outputs.file_bucket.clone().expect("bucket");
    assert!(policy.contains(&bucket));
    let policy = user_policy(&h, &smtp_user, "redcap-ses-send").await;
    let site = format!("redcap.{zone_name}");
    assert!(policy.contains(&format!("identity/{site}")), "{policy}");

    // SES: the domain identity with DKIM and MAIL FROM, the configuration set, the topic.
    let email = outputs.email.clone().expect("email outputs");
    assert_eq!(email.identity, site);
    assert_eq!(email.verification_status.as_deref(), Some("Success"));
    assert_eq!(email.mail_from_domain.as_deref(), Some(format!("mail.{site}").as_str()));
    let dkim =
        h.ctx.ses.get_identity_dkim_attributes().identities(&site).send().await.expect("dkim");
    let tokens = dkim.dkim_attributes()[&site].dkim_tokens().to_vec();
    assert_eq!(tokens.len(), 3);
    let set = h
        .ctx
        .ses
        .describe_configuration_set()
        .configuration_set_name(email.configuration_set.clone().expect("set"))
        .configuration_set_attribute_names(ConfigurationSetAttribute::EventDestinations)
        .send()
        .await
        .expect("configuration set");
    let topic = email.notification_topic_arn.clone().expect("topic");
    let destination = &set.event_destinations()[0];
    assert_eq!(destination.sns_destination().map(|s| s.topic_arn()), Some(topic.as_str()));
    let subs = h
        .ctx
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .expect("subscriptions");
    assert!(
        subs.subscriptions()
            .iter()
            .any(|s| s.endpoint() == Some("it@example.org") && s.protocol() == Some("email"))
    );

    // DNS: written to the existing zone, so nothing to do by hand.
    assert!(outputs.dns_records.is_empty(), "{:?}", outputs.dns_records);
    let records = probe::record_sets(&h.ctx.route53, &zone_id).await;
    let names: Vec<(String, String)> = records
        .iter()
        .map(|r| (r.name().trim_end_matches('.').to_string(), r.r#type().as_str().to_string()))
        .collect();
    for token in &tokens {
        assert!(names.contains(&(format!("{token}._domainkey.{site}"), "CNAME".into())));
    }
    assert!(names.contains(&(format!("mail.{site}"), "MX".into())));
    assert!(names.contains(&(format!("mail.{site}"), "TXT".into())));
    assert!(names.contains(&(format!("_amazonses.{site}"), "TXT".into())));

    // The runtime policy reads exactly the three secrets.
    let policy = first.runtime.runtime_policy.clone().expect("runtime policy");
    let mut readable: Vec<String> = policy["Statement"][0]["Resource"]
        .as_array()
        .expect("resources")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    readable.sort();
    let mut ours: Vec<String> = outputs.secrets.iter().map(|s| s.arn.clone()).collect();
    ours.sort();
    assert_eq!(readable, ours);
    assert_eq!(first.runtime.cron_token.as_ref().map(|t| t.len()), Some(64));

    // Resyncs with nothing changed write nothing, and report the same outputs (the
    // network's appear once its stack is complete, a pass or two later).
    let settled = settle(&h, &env, now + SignedDuration::from_mins(1)).await;
    // The database's master secret joins the list once its cluster exists.
    assert_eq!(
        components::secrets_but_database_master(&settled),
        components::secrets_but_database_master(&first)
    );
    assert_eq!(settled.outputs.email, first.outputs.email);
    assert_eq!(settled.outputs.cron_secret_ref, first.outputs.cron_secret_ref);
    let steady = assert_steady(&h, &env, now + SignedDuration::from_mins(5)).await;
    assert_eq!(steady.outputs, settled.outputs, "outputs are stable");
    assert_steady(&h, &env, now + SignedDuration::from_hours(48)).await;
}

#[tokio::test]
async fn a_rotation_run_replaces_keys_with_no_gap() {
    let h = harness().await;
    let env = environment(serde_json::json!({"storage": {"accessKeyRotationDays": 30}}));
    let t0 = Timestamp::now();
    let first = h.pass_at(&env, t0).await;
    let users = [
        (ComponentName::StorageCredentials, "storageCredentials", "AccessKeyId"),
        (ComponentName::SmtpCredentials, "smtpCredentials", "username"),
    ];
    let mut old = Vec::new();
    for (c, secret, field) in users {
        let user = user_of(&first, c);
        let key = stored_key_is_valid(&h, &secret_arn(&first, secret), field, &user).await;
        old.push((user, key));
    }
    settle(&h, &env, t0).await;
    assert_steady(&h, &env, t0 + SignedDuration::from_hours(24 * 29)).await;

    // Day 31: the storage key (30 days) is due, the SMTP key (90 days) is not.
    let t1 = t0 + SignedDuration::from_hours(24 * 31);
    let rotated = h.pass_at(&env, t1).await;
    assert_states(
        &rotated,
        &[
            (ComponentName::StorageCredentials, ComponentState::Updating),
            (ComponentName::SmtpCredentials, ComponentState::Ready),
        ],
    );
    let (files_user, old_key) = &old[0];
    let new_key = stored_key_is_valid(
        &h,
        &secret_arn(&rotated, "storageCredentials"),
        "AccessKeyId",
        files_user,
    )
    .await;
    assert_ne!(&new_key, old_key, "a new key is stored");
    let keys = access_keys(&h, files_user).await;
    assert!(
        keys.contains(&(old_key.clone(), true)),
        "the previous key stays valid during the grace period: {keys:?}"
    );
    assert_eq!(keys.len(), 2);
    stored_key_is_valid(&h, &secret_arn(&rotated, "smtpCredentials"), "username", &old[1].0).await;
    // The rotation time is the new key's creation, shown in status outputs.
    let storage_out =
        rotated.outputs.secrets.iter().find(|s| s.name == "storageCredentials").expect("output");
    assert!(storage_out.rotated_at > first.outputs.secrets[1].rotated_at);

    // IAM stamps keys with the real clock: the new key is "created" at about t0, so the
    // pass times below are measured from t0 again. Within the grace period nothing is
    // written and the previous key stays.
    assert_steady(&h, &env, t0 + SignedDuration::from_hours(1)).await;
    assert_eq!(access_keys(&h, files_user).await.len(), 2);

    // After it, the previous key goes; the stored one stays.
    let t2 = t0 + SignedDuration::from_hours(25);
    h.pass_at(&env, t2).await;
    assert_eq!(access_keys(&h, files_user).await, vec![(new_key.clone(), true)]);
    assert_steady(&h, &env, t2).await;

    // Day 95: the SMTP key is due too; its password changes with its key.
    let t3 = t0 + SignedDuration::from_hours(24 * 95);
    let before = secret_json(&h, &secret_arn(&first, "smtpCredentials")).await;
    h.pass_at(&env, t3).await;
    let after = secret_json(&h, &secret_arn(&first, "smtpCredentials")).await;
    assert_ne!(before["username"], after["username"]);
    assert_ne!(before["password"], after["password"]);
    stored_key_is_valid(&h, &secret_arn(&first, "smtpCredentials"), "username", &old[1].0).await;
}

#[tokio::test]
async fn a_crash_mid_rotation_leaves_a_valid_key_and_the_orphan_is_removed() {
    let h = harness().await;
    let env = environment(serde_json::json!({}));
    let now = Timestamp::now();
    let first = h.pass_at(&env, now).await;
    let user = user_of(&first, ComponentName::StorageCredentials);
    let arn = secret_arn(&first, "storageCredentials");
    let stored = stored_key_is_valid(&h, &arn, "AccessKeyId", &user).await;
    // What a crash between CreateAccessKey and PutSecretValue leaves: a second key whose
    // secret nobody has.
    let orphan = h.ctx.iam.create_access_key().user_name(&user).send().await.expect("orphan key");
    let orphan = orphan.access_key().expect("key").access_key_id().to_string();
    let pass = h.pass_at(&env, now).await;
    assert_eq!(state(&pass, ComponentName::StorageCredentials), ComponentState::Updating);
    assert_eq!(access_keys(&h, &user).await, vec![(stored.clone(), true)]);
    assert_ne!(stored, orphan);
    settle(&h, &env, now).await; // the database (in the network) finishes
    assert_steady(&h, &env, now).await;
}

#[tokio::test]
async fn drift_is_corrected() {
    let h = harness().await;
    let (env, _zone_name, zone_id) = domain_environment(&h, serde_json::json!({})).await;
    let now = Timestamp::now();
    let first = h.pass_at(&env, now).await;
    let smtp_user = user_of(&first, ComponentName::SmtpCredentials);
    // A human widens the SMTP policy, schedules the salt for deletion and removes a record.
    h.ctx
        .iam
        .put_user_policy()
        .user_name(&smtp_user)
        .policy_name("redcap-ses-send")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:*","Resource":"*"}]}"#,
        )
        .send()
        .await
        .expect("widen");
    h.ctx
        .secretsmanager
        .delete_secret()
        .secret_id(secret_arn(&first, "salt"))
        .recovery_window_in_days(7)
        .send()
        .await
        .expect("schedule");
    let site = first.outputs.email.clone().expect("email").identity;
    let records = probe::record_sets(&h.ctx.route53, &zone_id).await;
    let mx = records.iter().find(|r| r.r#type().as_str() == "MX").expect("mx").clone();
    let change = aws_sdk_route53_change(mx);
    h.ctx
        .route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone_id)
        .change_batch(change)
        .send()
        .await
        .expect("delete mx");

    let fixed = h.pass_at(&env, now).await;
    assert_states(
        &fixed,
        &[
            (ComponentName::SmtpCredentials, ComponentState::Updating),
            (ComponentName::Secrets, ComponentState::Updating),
            (ComponentName::Email, ComponentState::Updating),
        ],
    );
    let policy = user_policy(&h, &smtp_user, "redcap-ses-send").await;
    assert!(policy.contains(&format!("identity/{site}")));
    assert!(!deleted(&h, &secret_arn(&first, "salt")).await, "deletion cancelled");
    settle(&h, &env, now).await; // the database (in the network) finishes
    assert_steady(&h, &env, now).await;
}

fn aws_sdk_route53_change(set: ResourceRecordSet) -> ChangeBatch {
    ChangeBatch::builder()
        .changes(
            Change::builder()
                .action(ChangeAction::Delete)
                .resource_record_set(set)
                .build()
                .expect("change"),
        )
        .build()
        .expect("batch")
}

async fn deleted(h: &Harness, arn: &str) -> bool {
    probe::secret_deleted(&h.ctx.secretsmanager, arn).await
}

async fn user_exists(h: &Harness, user: &str) -> bool {
    h.ctx.iam.get_user().user_name(user).send().await.is_ok()
}

async fn identity_exists(h: &Harness, identity: &str) -> bool {
    h.ctx
        .ses
        .get_identity_verification_attributes()
        .identities(identity)
        .send()
        .await
        .expect("identities")
        .verification_attributes()
        .contains_key(identity)
}

#[tokio::test]
async fn snapshot_policy_keeps_the_salt_and_the_identity_and_removes_access() {
    let h = harness().await;
    let (env, _, zone_id) = domain_environment(&h, serde_json::json!({})).await;
    let first = h.pass_at(&env, Timestamp::now()).await;
    let site = first.outputs.email.clone().expect("email").identity;
    let pass = h.cleanup_until_done(&env).await;
    assert_states(
        &pass,
        &[
            (ComponentName::Secrets, ComponentState::Retained),
            (ComponentName::Email, ComponentState::Retained),
            (ComponentName::StorageCredentials, ComponentState::Deleted),
        ],
    );
    let salt = secret_arn(&first, "salt");
    assert!(!deleted(&h, &salt).await, "the salt is kept");
    assert!(secret_tags(&h, &salt).await.contains(&("redcap.dev/retained".into(), "true".into())));
    for name in ["storageCredentials", "smtpCredentials"] {
        assert!(
            deleted(&h, &secret_arn(&first, name)).await,
            "{name} scheduled for deletion (with a recovery window)"
        );
    }
    for c in [ComponentName::StorageCredentials, ComponentName::SmtpCredentials] {
        assert!(!user_exists(&h, &user_of(&first, c)).await);
    }
    assert!(identity_exists(&h, &site).await, "identity kept");
    let records = probe::record_sets(&h.ctx.route53, &zone_id).await;
    assert!(
        records.iter().any(|r| r.r#type().as_str() == "MX"),
        "the kept identity keeps its records"
    );
    let (_, calls) = h.counted(h.cleanup_until_done(&env)).await;
    assert_eq!(
        calls.writes(),
        0,
        "a second cleanup writes nothing: {:?}",
        calls.write_operations()
    );
}

#[tokio::test]
async fn delete_policy_removes_everything_with_recovery_windows() {
    let h = harness().await;
    let (env, _, zone_id) =
        domain_environment(&h, serde_json::json!({"deletionPolicy": "Delete"})).await;
    let first = h.pass_at(&env, Timestamp::now()).await;
    let site = first.outputs.email.clone().expect("email").identity;
    let topic = first.outputs.email.clone().and_then(|e| e.notification_topic_arn).expect("topic");
    let pass = h.cleanup_until_done(&env).await;
    for c in [
        ComponentName::Secrets,
        ComponentName::StorageCredentials,
        ComponentName::Email,
        ComponentName::SmtpCredentials,
    ] {
        assert_eq!(state(&pass, c), ComponentState::Deleted, "{pass:?}");
    }
    for name in ["salt", "storageCredentials", "smtpCredentials"] {
        // Still describable: deleted with a recovery window, never forced.
        assert!(deleted(&h, &secret_arn(&first, name)).await, "{name}");
    }
    assert!(!identity_exists(&h, &site).await, "identity deleted");
    let records = probe::record_sets(&h.ctx.route53, &zone_id).await;
    let left: Vec<&str> =
        records.iter().map(|r| r.r#type().as_str()).filter(|t| *t != "SOA" && *t != "NS").collect();
    assert!(left.is_empty(), "SES records removed: {left:?}");
    assert!(
        h.ctx.sns.get_topic_attributes().topic_arn(&topic).send().await.is_err(),
        "topic deleted"
    );
}

#[tokio::test]
async fn an_identity_the_environment_did_not_create_is_never_deleted() {
    let h = harness().await;
    let env = environment(serde_json::json!({"deletionPolicy": "Delete"}));
    let address = env.spec.email.as_ref().and_then(|e| e.from_address.clone()).expect("address");
    h.ctx
        .ses
        .verify_email_identity()
        .email_address(&address)
        .send()
        .await
        .expect("someone else's identity");
    h.pass_at(&env, Timestamp::now()).await;
    h.cleanup_until_done(&env).await;
    assert!(identity_exists(&h, &address).await);
}

#[tokio::test]
async fn without_a_managed_zone_the_records_are_listed_in_status() {
    let h = harness().await;
    let env = environment(serde_json::json!({
        "domain": {"name": format!("n{}.example", unique()), "hostedZone": {"mode": "None"}},
        "email": {},
        // App Runner brings its own certificate: no validation record waits for someone.
        "compute": {"kind": "AppRunner"},
    }));
    let first = h.pass_at(&env, Timestamp::now()).await;
    // The SES records (the certificate's validation record, listed by `domain`, too).
    let records: Vec<_> = first
        .outputs
        .dns_records
        .iter()
        .filter(|r| r.purpose.as_deref().is_some_and(|p| p.starts_with("SES")))
        .collect();
    let types: Vec<&str> = records.iter().map(|r| r.type_.as_str()).collect();
    assert_eq!(types, ["TXT", "CNAME", "CNAME", "CNAME", "MX", "TXT"]);
    assert!(records.iter().all(|r| !r.value.starts_with('"')));
    settle(&h, &env, Timestamp::now()).await;
    assert_steady(&h, &env, Timestamp::now()).await;
}

#[tokio::test]
async fn a_malformed_address_stalls_with_the_field_named_then_recovers() {
    let h = harness().await;
    let mut env = environment(serde_json::json!({"email": {"fromAddress": "redcap@exa_mple.org"}}));
    let err =
        apply_at(&h.ctx, &h.store, &env, WriteMode::Apply, Timestamp::now(), components::walked())
            .await
            .expect_err("malformed address");
    assert_eq!(err.component(), ComponentName::Email);
    assert_eq!(err.class(), redcap_operator::aws::ErrorClass::Terminal);
    assert!(err.to_string().contains("spec.email.fromAddress"), "{err}");
    assert!(!identity_exists(&h, "redcap@exa_mple.org").await);

    // Fixing the spec is all it takes.
    let address = format!("redcap-{}@example.org", unique());
    env.spec.email.as_mut().expect("email").from_address = Some(address.clone());
    let pass = h.pass_at(&env, Timestamp::now()).await;
    assert_eq!(state(&pass, ComponentName::Email), ComponentState::Creating);
    assert!(identity_exists(&h, &address).await);
    settle(&h, &env, Timestamp::now()).await; // the database (in the network) finishes
    assert_steady(&h, &env, Timestamp::now()).await;
}
