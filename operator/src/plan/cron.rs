//! The shared secret that guards REDCap's `cron.php` (step: plan; pure, no I/O).
//!
//! The seed comes from `spec.cron.secretRef`, or the operator generates one and keeps it
//! in the Kubernetes Secret `<environment>-cron`, owned by the environment so that garbage
//! collection removes it with the object. The firewall rule and the scheduled call carry
//! the derived token `hex(HMAC-SHA256(key = seed, message = reverse(seed)))` (seed
//! inventory S61/S87), never the seed itself. Neither value goes to status.
//!
//! The token travels in the header [`CRON_TOKEN_HEADER`], not in the query string as the
//! seed's `?secret=` did, so it stays out of load balancer and Apache access logs. The
//! firewall (`plan::firewall`) admits the cron path only with it; EventBridge's connection
//! (`plan::schedule`) sends it. Which token the connection holds cannot be read back
//! (EventBridge keeps it in a secret of its own), so the connection's description carries
//! its [`fingerprint`], which both components compare.

use std::collections::BTreeMap;

use hmac::digest::InvalidLength;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use sha2::{Digest, Sha256};

use crate::api::{RedcapEnvironment, SecretKeyRef};

use super::secret::{SecretString, random_alphanumeric};
use super::smtp::hmac_sha256;

/// Shortest seed accepted (the API documents "at least 32 random characters").
pub const MIN_SEED_LEN: usize = 32;
/// Length of a generated seed (about 285 bits).
const GENERATED_SEED_LEN: usize = 48;
/// Key of the seed in a generated Secret.
pub const GENERATED_KEY: &str = "secret";

/// Where the seed lives: the user's reference, or the generated Secret.
pub fn seed_ref(env: &RedcapEnvironment, env_name: &str) -> SecretKeyRef {
    env.spec.cron.secret_ref.clone().unwrap_or_else(|| SecretKeyRef {
        name: generated_secret_name(env_name),
        key: GENERATED_KEY.to_string(),
    })
}

/// `<environment>-cron`, cut to the 253 characters a Secret name may have.
pub fn generated_secret_name(env_name: &str) -> String {
    let mut name = env_name.to_string();
    name.truncate(253 - "-cron".len());
    format!("{name}-cron")
}

/// `<environment id>-cron`: the EventBridge connection, API destination and rule that
/// call `cron.php` (EventBridge names: at most 64 of `[.-_A-Za-z0-9]`).
pub fn schedule_name(environment_id: &str) -> String {
    format!("{environment_id}-cron")
}

/// What the connection's description says, with the fingerprint of the token it sends.
pub fn connection_description(fingerprint: &str) -> String {
    format!("Calls REDCap's cron.php (redcap-operator); token fingerprint {fingerprint}")
}

/// The token fingerprint a connection's description records.
pub fn description_fingerprint(description: &str) -> Option<String> {
    let (_, fp) = description.rsplit_once("token fingerprint ")?;
    let fp = fp.trim();
    (fp.len() == 16 && fp.chars().all(|c| c.is_ascii_hexdigit())).then(|| fp.to_string())
}

/// The id of the rule's one target.
pub const TARGET_ID: &str = "redcap-cron";
/// Calls per second the API destination allows: one schedule, one call at a time.
pub const INVOCATION_RATE_PER_SECOND: i32 = 1;
/// A call is not retried (a retried cron run would overlap the next), and an event older
/// than this is dropped (EventBridge's minimum).
pub const MAX_RETRIES: i32 = 0;
pub const MAX_EVENT_AGE_SECONDS: i32 = 60;

/// `rate(1 minute)` / `rate(N minutes)` (EventBridge wants the singular for 1); `None`
/// for 0: no schedule.
pub fn schedule_expression(minutes: u32) -> Option<String> {
    match minutes {
        0 => None,
        1 => Some("rate(1 minute)".to_string()),
        n => Some(format!("rate({n} minutes)")),
    }
}

/// The URL the schedule calls: REDCap's URL (the domain's, else the service's) plus
/// `/cron.php`, without any token (it travels in [`CRON_TOKEN_HEADER`]).
pub fn target_url(base_url: &str) -> String {
    format!("{}/cron.php", base_url.trim_end_matches('/'))
}

/// `<environment id>-cron-invoke`: the role EventBridge assumes to call the destination.
pub fn invoke_role_name(environment_id: &str) -> String {
    format!("{environment_id}-cron-invoke")
}

/// The role EventBridge assumes to call the API destination: it may invoke that one
/// destination and nothing else, and only EventBridge of this account may assume it.
pub fn invoke_role(
    environment_id: &str,
    destination_arn_pattern: &str,
    account: &str,
    tags: &crate::plan::TagSet,
) -> crate::plan::iam::DesiredRole {
    crate::plan::iam::DesiredRole {
        name: invoke_role_name(environment_id),
        path: crate::plan::iam::ROLE_PATH.to_string(),
        description: "EventBridge calls REDCap's cron.php (managed by redcap-operator)".into(),
        trust_policy: serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}}
            }]
        }),
        policy_name: "redcap-cron-invoke".into(),
        policy: serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "InvokeCronDestination",
                "Effect": "Allow",
                "Action": ["events:InvokeApiDestination"],
                "Resource": destination_arn_pattern
            }]
        }),
        managed_policies: Vec::new(),
        tags: tags.clone(),
    }
}

/// The connection as EventBridge describes it (never its token).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedConnection {
    pub arn: String,
    pub state: String,
    pub state_reason: Option<String>,
    pub authorization: String,
    /// The API key header's name.
    pub header: Option<String>,
    /// The fingerprint its description records.
    pub fingerprint: Option<String>,
}

/// What to do with the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionStep {
    Create,
    Keep,
    /// Send the current token (and say so in the description).
    Update,
    /// The token changed, but the firewall does not accept the new one yet: keep sending
    /// the old one (the firewall accepts both first, then this moves).
    WaitForFirewall,
}

/// The connection's next step. `firewall_accepts`: fingerprints the environment's web ACL
/// accepts after this pass; `None` when no web ACL of the operator checks the token (an
/// external one), so the connection moves at once.
pub fn connection_step(
    seen: Option<&ObservedConnection>,
    fingerprint: &str,
    firewall_accepts: Option<&[String]>,
) -> ConnectionStep {
    let accepted = firewall_accepts.is_none_or(|a| a.iter().any(|f| f == fingerprint));
    match seen {
        None if accepted => ConnectionStep::Create,
        None => ConnectionStep::WaitForFirewall,
        Some(c)
            if c.fingerprint.as_deref() == Some(fingerprint)
                && c.authorization == "API_KEY"
                && c.header.as_deref() == Some(CRON_TOKEN_HEADER) =>
        {
            ConnectionStep::Keep
        }
        Some(_) if accepted => ConnectionStep::Update,
        Some(_) => ConnectionStep::WaitForFirewall,
    }
}

/// The API destination as EventBridge describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedDestination {
    pub arn: String,
    pub connection_arn: String,
    pub endpoint: String,
    pub method: String,
    pub rate: Option<i32>,
    pub state: String,
}

/// What differs between the destination and the one wanted (names of the settings).
pub fn destination_changes(
    seen: &ObservedDestination,
    connection_arn: &str,
    endpoint: &str,
) -> Vec<&'static str> {
    let mut out = Vec::new();
    if seen.connection_arn != connection_arn {
        out.push("connection");
    }
    if seen.endpoint != endpoint {
        out.push("endpoint");
    }
    if seen.method != "GET" {
        out.push("method");
    }
    if seen.rate != Some(INVOCATION_RATE_PER_SECOND) {
        out.push("invocation rate");
    }
    out
}

/// The schedule rule as EventBridge describes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedRule {
    pub arn: String,
    pub expression: Option<String>,
    pub state: String,
    pub tags: crate::plan::TagSet,
}

/// One target of the rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedTarget {
    pub id: String,
    pub arn: String,
    pub role_arn: Option<String>,
    pub max_retries: Option<i32>,
    pub max_age: Option<i32>,
}

/// Whether the rule's targets are exactly the one wanted.
pub fn targets_match(seen: &[ObservedTarget], destination_arn: &str, role_arn: &str) -> bool {
    matches!(seen, [t] if t.id == TARGET_ID
        && t.arn == destination_arn
        && t.role_arn.as_deref() == Some(role_arn)
        && t.max_retries == Some(MAX_RETRIES)
        && t.max_age == Some(MAX_EVENT_AGE_SECONDS))
}

/// What EventBridge reports against the call: a connection that is not authorized, a
/// destination that is not active.
pub fn last_failure(
    connection: Option<&ObservedConnection>,
    destination: Option<&ObservedDestination>,
) -> Option<String> {
    if let Some(c) = connection
        && !matches!(c.state.as_str(), "AUTHORIZED" | "AUTHORIZING" | "CREATING" | "UPDATING")
    {
        let why = c.state_reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
        return Some(format!("the EventBridge connection is {}{why}", c.state));
    }
    if let Some(d) = destination
        && d.state != "ACTIVE"
    {
        return Some(format!("the EventBridge API destination is {}", d.state));
    }
    None
}

/// A fresh random seed.
pub fn generate_seed() -> SecretString {
    random_alphanumeric(GENERATED_SEED_LEN)
}

/// Checks a seed read from a Secret; the message names the reference, never the value.
pub fn validate_seed(seed: &[u8], reference: &SecretKeyRef) -> Result<SecretString, String> {
    let text = std::str::from_utf8(seed).map_err(|_| {
        format!(
            "spec.cron.secretRef: key {} of Secret {} is not UTF-8 text",
            reference.key, reference.name
        )
    })?;
    let trimmed = text.trim();
    if trimmed.chars().count() < MIN_SEED_LEN {
        return Err(format!(
            "spec.cron.secretRef: key {} of Secret {} must hold at least {MIN_SEED_LEN} characters",
            reference.key, reference.name
        ));
    }
    Ok(SecretString::new(trimmed))
}

/// The header the scheduled call carries the token in, and the firewall rule reads
/// (WAF compares header names in lower case; HTTP header names are case-insensitive).
pub const CRON_TOKEN_HEADER: &str = "x-redcap-cron-token";

/// A short, one-way fingerprint of a token (64 bits of a domain-separated sha256): what
/// the connection's description records and the firewall compares, so which token the
/// connection sends is known without the token ever leaving its secret.
pub fn fingerprint(token: &SecretString) -> String {
    let digest = Sha256::digest(format!("redcap-cron-token\0{}", token.expose()).as_bytes());
    hex::encode(&digest[..8])
}

/// The token the firewall compares the cron call's [`CRON_TOKEN_HEADER`] with.
pub fn firewall_token(seed: &SecretString) -> Result<SecretString, InvalidLength> {
    let reversed: String = seed.expose().chars().rev().collect();
    let mac = hmac_sha256(seed.expose().as_bytes(), reversed.as_bytes())?;
    Ok(SecretString::new(hex::encode(mac)))
}

/// The Secret that keeps a generated seed, owned by the environment (garbage-collected
/// with it, so the seed never outlives the object).
pub fn generated_secret(env_name: &str, namespace: &str, uid: &str, seed: &SecretString) -> Secret {
    let labels = BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            crate::api::tags::MANAGED_BY_VALUE.to_string(),
        ),
        (crate::api::tags::NAME.to_string(), env_name.to_string()),
    ]);
    Secret {
        metadata: ObjectMeta {
            name: Some(generated_secret_name(env_name)),
            namespace: Some(namespace.to_string()),
            labels: Some(labels),
            owner_references: Some(vec![OwnerReference {
                api_version: format!("{}/v1alpha1", crate::api::GROUP),
                kind: "RedcapEnvironment".to_string(),
                name: env_name.to_string(),
                uid: uid.to_string(),
                controller: Some(true),
                // Deleting the environment must not wait for its Secret.
                block_owner_deletion: None,
            }]),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_string()),
        data: Some(BTreeMap::from([(
            GENERATED_KEY.to_string(),
            ByteString(seed.expose().as_bytes().to_vec()),
        )])),
        ..Secret::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_the_hex_hmac_of_the_reversed_seed() {
        // Python: hmac.new(seed, seed[::-1], hashlib.sha256).hexdigest()
        let seed = SecretString::new("0123456789abcdefghijklmnopqrstuvwxyzABCDEF");
        assert_eq!(
            firewall_token(&seed).expect("hmac").expose(),
            "fc061620415f7678f690086a1d513f7797fb7cd19dc06078376defcbb85bd7eb"
        );
        // The seed's one-digit default: the same derivation as the seed project.
        assert_eq!(
            firewall_token(&SecretString::new("7")).expect("hmac").expose(),
            "abc227e1e7da597a1547865c5aaf2f045e56545f00a7e4879cd458cb207def30"
        );
    }

    #[test]
    fn fingerprint_is_short_stable_and_not_the_token() {
        let t =
            SecretString::new("fc061620415f7678f690086a1d513f7797fb7cd19dc06078376defcbb85bd7eb");
        let fp = fingerprint(&t);
        assert_eq!(fp.len(), 16);
        assert_eq!(fp, fingerprint(&t.clone()));
        assert_ne!(fp, fingerprint(&SecretString::new("other")));
        assert!(!t.expose().contains(&fp));
    }

    #[test]
    fn schedule_uses_the_singular_for_one_minute_and_none_for_zero() {
        assert_eq!(schedule_expression(0), None);
        assert_eq!(schedule_expression(1).as_deref(), Some("rate(1 minute)"));
        assert_eq!(schedule_expression(15).as_deref(), Some("rate(15 minutes)"));
        assert_eq!(
            target_url("https://redcap.example.org/"),
            "https://redcap.example.org/cron.php"
        );
    }

    #[test]
    fn description_round_trips_the_fingerprint() {
        let fp = fingerprint(&SecretString::new("token"));
        assert_eq!(description_fingerprint(&connection_description(&fp)), Some(fp));
        assert_eq!(description_fingerprint("something else"), None);
        assert_eq!(description_fingerprint("token fingerprint nothex!nothex!"), None);
    }

    #[test]
    fn connection_moves_to_a_new_token_only_once_the_firewall_accepts_it() {
        let old = fingerprint(&SecretString::new("old"));
        let new = fingerprint(&SecretString::new("new"));
        let seen = ObservedConnection {
            authorization: "API_KEY".into(),
            header: Some(CRON_TOKEN_HEADER.into()),
            fingerprint: Some(old.clone()),
            ..ObservedConnection::default()
        };
        // Step 1 of a rotation: the firewall does not accept the new token yet.
        assert_eq!(
            connection_step(Some(&seen), &new, Some(std::slice::from_ref(&old))),
            ConnectionStep::WaitForFirewall
        );
        // Step 2: it accepts both; the connection moves.
        assert_eq!(
            connection_step(Some(&seen), &new, Some(&[new.clone(), old.clone()])),
            ConnectionStep::Update
        );
        // Settled.
        assert_eq!(
            connection_step(Some(&seen), &old, Some(std::slice::from_ref(&old))),
            ConnectionStep::Keep
        );
        // An external web ACL: nothing to wait for.
        assert_eq!(connection_step(Some(&seen), &new, None), ConnectionStep::Update);
        assert_eq!(connection_step(None, &new, None), ConnectionStep::Create);
        assert_eq!(connection_step(None, &new, Some(&[])), ConnectionStep::WaitForFirewall);
        // A connection changed by hand (another header, basic auth) is put back.
        let basic = ObservedConnection { authorization: "BASIC".into(), ..seen.clone() };
        assert_eq!(
            connection_step(Some(&basic), &old, Some(std::slice::from_ref(&old))),
            ConnectionStep::Update
        );
    }

    #[test]
    fn destination_target_and_failures() {
        let d = ObservedDestination {
            arn: "d".into(),
            connection_arn: "c".into(),
            endpoint: "https://x/cron.php".into(),
            method: "GET".into(),
            rate: Some(1),
            state: "ACTIVE".into(),
        };
        assert!(destination_changes(&d, "c", "https://x/cron.php").is_empty());
        assert_eq!(destination_changes(&d, "c2", "https://y/cron.php"), ["connection", "endpoint"]);
        let t = ObservedTarget {
            id: TARGET_ID.into(),
            arn: "d".into(),
            role_arn: Some("r".into()),
            max_retries: Some(0),
            max_age: Some(60),
        };
        assert!(targets_match(std::slice::from_ref(&t), "d", "r"));
        let retried = ObservedTarget { max_retries: Some(185), ..t.clone() };
        assert!(!targets_match(&[retried], "d", "r"));
        assert!(!targets_match(&[t.clone(), t], "d", "r"));
        let c = ObservedConnection {
            state: "DEAUTHORIZED".into(),
            state_reason: Some("401 from the endpoint".into()),
            ..ObservedConnection::default()
        };
        assert_eq!(
            last_failure(Some(&c), Some(&d)).as_deref(),
            Some("the EventBridge connection is DEAUTHORIZED: 401 from the endpoint")
        );
        let inactive = ObservedDestination { state: "INACTIVE".into(), ..d };
        assert!(last_failure(None, Some(&inactive)).is_some_and(|m| m.contains("INACTIVE")));
    }

    #[test]
    fn short_and_binary_seeds_are_refused_without_echoing_them() {
        let r = SecretKeyRef { name: "cron".into(), key: "seed".into() };
        let err = validate_seed(b"short-secret-value", &r).expect_err("too short");
        assert!(err.contains("at least 32"), "{err}");
        assert!(!err.contains("short-secret-value"));
        assert!(validate_seed(&[0xff, 0xfe], &r).is_err());
        let ok = validate_seed(format!("{}\n", "x".repeat(40)).as_bytes(), &r).expect("ok");
        assert_eq!(ok.len(), 40, "a trailing newline (kubectl create --from-file) is cut");
    }

    #[test]
    fn generated_secret_is_owned_by_the_environment() {
        let seed = generate_seed();
        assert_eq!(seed.len(), GENERATED_SEED_LEN);
        let s = generated_secret("prod", "redcap", "uid-1", &seed);
        assert_eq!(s.metadata.name.as_deref(), Some("prod-cron"));
        let owner = &s.metadata.owner_references.as_ref().expect("owner")[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("RedcapEnvironment", "uid-1"));
        assert_eq!(owner.api_version, "redcap.dev/v1alpha1");
        let value = &s.data.as_ref().expect("data")[GENERATED_KEY];
        assert_eq!(value.0, seed.expose().as_bytes());
    }

    #[test]
    fn reference_defaults_to_the_generated_secret() {
        let env = RedcapEnvironment::test();
        assert_eq!(
            seed_ref(&env, "test"),
            SecretKeyRef { name: "test-cron".into(), key: "secret".into() }
        );
        assert_eq!(generated_secret_name(&"a".repeat(300)).len(), 253);
    }
}
