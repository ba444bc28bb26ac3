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
