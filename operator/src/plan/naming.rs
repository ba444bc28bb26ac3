//! Deterministic AWS names (step: plan; pure, no I/O).
//!
//! Every name is derived from the environment's namespace, name and UID, so a crash
//! between "create" and "write status" finds the same resource again, and a new object
//! with the same namespace/name (a new UID) never collides with a retained one.

use sha2::{Digest, Sha256};

/// Longest `environment_id`: leaves room for `-files` / `-logs` in a 63-char bucket name
/// and for `alias/redcap/` in a 256-char KMS alias.
pub const ENVIRONMENT_ID_MAX: usize = 40;

/// Tag put on data-holding resources left in AWS by the deletion policy.
pub const RETAINED_TAG: &str = "redcap.dev/retained";

/// Key prefix of the file bucket's server access logs in the log bucket.
pub const ACCESS_LOG_PREFIX: &str = "access-logs/";

/// `rc-<namespace>-<name>` (sanitised, truncated) + `-` + 8 hex digits of sha256(uid).
/// Lowercase, at most [`ENVIRONMENT_ID_MAX`] characters, valid in bucket names and aliases.
pub fn environment_id(namespace: &str, name: &str, uid: &str) -> String {
    const PREFIX: &str = "rc-";
    const HASH_LEN: usize = 8;
    let room = ENVIRONMENT_ID_MAX - PREFIX.len() - 1 - HASH_LEN;
    let mut body = sanitize(&format!("{namespace}-{name}"), room);
    if body.is_empty() {
        body = "env".to_string();
    }
    let digest = Sha256::digest(uid.as_bytes());
    let hash = hex::encode(&digest[..HASH_LEN / 2]);
    format!("{PREFIX}{body}-{hash}")
}

/// Lowercase `[a-z0-9-]`, runs of anything else become one `-`, no leading/trailing `-`,
/// at most `max` characters.
pub fn sanitize(input: &str, max: usize) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(max);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// `environment_id` + `suffix` in at most `max` characters, for AWS names shorter than an
/// environment id (load balancers, target groups: 32). The middle of the id gives way;
/// its `rc-` prefix and its UID hash (the last 8 characters) are kept, so the name stays
/// unique and recognisable.
pub fn fit(environment_id: &str, suffix: &str, max: usize) -> String {
    let whole = format!("{environment_id}{suffix}");
    if whole.len() <= max {
        return whole;
    }
    let (head, hash) = environment_id.split_at(environment_id.len().saturating_sub(9));
    let room = max.saturating_sub(hash.len() + suffix.len());
    let mut head = head[..room.min(head.len())].to_string();
    while head.ends_with('-') {
        head.pop();
    }
    format!("{head}{hash}{suffix}")
}

/// `alias/redcap/<environment_id>`.
pub fn key_alias(environment_id: &str) -> String {
    format!("alias/redcap/{environment_id}")
}

/// Default name of the REDCap file bucket.
pub fn file_bucket_name(environment_id: &str) -> String {
    format!("{environment_id}-files")
}

/// Name of the access-log bucket (always derived: a user-chosen file bucket name may
/// already use all 63 characters).
pub fn log_bucket_name(environment_id: &str) -> String {
    format!("{environment_id}-logs")
}

/// The ARN partition of a region (`aws`, `aws-cn`, `aws-us-gov`, ...).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else {
        "aws"
    }
}

/// `arn:<partition>:s3:::<bucket>`.
pub fn bucket_arn(partition: &str, bucket: &str) -> String {
    format!("arn:{partition}:s3:::{bucket}")
}

/// The account id of an ARN (`arn:aws:kms:eu-west-1:123456789012:key/...`).
pub fn account_of_arn(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// The key id at the end of a KMS key ARN (`.../key/<id>`), or the input if it is no ARN.
pub fn key_id_of(arn_or_id: &str) -> &str {
    arn_or_id.rsplit_once("key/").map(|(_, id)| id).unwrap_or(arn_or_id)
}

/// Checks the S3 naming rules for general purpose buckets; the message names the problem.
pub fn validate_bucket_name(name: &str) -> Result<(), String> {
    if !(3..=63).contains(&name.len()) {
        return Err(format!("{name:?} must be 3 to 63 characters long"));
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err(format!("{name:?} may contain only lowercase letters, digits, '.' and '-'"));
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = name.as_bytes();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(format!("{name:?} must begin and end with a letter or digit"));
    }
    if name.contains("..") {
        return Err(format!("{name:?} must not contain two adjacent periods"));
    }
    if name.split('.').count() == 4
        && name.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("{name:?} must not look like an IP address"));
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(format!("{name:?} must not start with {prefix:?}"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Err(format!("{name:?} must not end with {suffix:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_the_prefix_and_the_hash() {
        let id = environment_id("a-long-namespace", "and-a-long-name", "uid");
        assert!(id.len() > 32, "{id}");
        let short = fit(&id, "-tg", 32);
        assert!(short.len() <= 32 && short.len() >= 30, "{short}");
        assert!(short.starts_with("rc-"));
        assert!(short.ends_with(&format!("{}-tg", &id[id.len() - 9..])));
        assert!(!short.contains("--"));
        assert_eq!(fit("rc-x-12345678", "-tg", 32), "rc-x-12345678-tg");
    }

    #[test]
    fn environment_id_is_deterministic_short_and_valid() {
        let a = environment_id("prod", "redcap", "6f1c3a8e-0000-4000-8000-000000000001");
        assert_eq!(a, environment_id("prod", "redcap", "6f1c3a8e-0000-4000-8000-000000000001"));
        assert!(a.starts_with("rc-prod-redcap-"), "{a}");
        assert_eq!(a.len(), "rc-prod-redcap-".len() + 8);
        validate_bucket_name(&file_bucket_name(&a)).expect("valid bucket name");
    }

    #[test]
    fn environment_id_depends_on_the_uid() {
        assert_ne!(environment_id("ns", "n", "uid-1"), environment_id("ns", "n", "uid-2"));
    }

    #[test]
    fn long_and_odd_names_are_cut_to_forty_characters() {
        let id = environment_id(
            "a-very-long-namespace-name-for-testing",
            "Another.Very_Long--Name-That-Goes-On",
            "uid",
        );
        assert!(id.len() <= ENVIRONMENT_ID_MAX, "{id} is {} long", id.len());
        assert!(!id.contains("--"), "{id}");
        assert_eq!(id, id.to_lowercase());
        validate_bucket_name(&log_bucket_name(&id)).expect("valid");
        validate_bucket_name(&file_bucket_name(&id)).expect("valid");
    }

    #[test]
    fn sanitize_table() {
        let cases = [
            ("Prod_Env", 30, "prod-env"),
            ("--a..b--", 30, "a-b"),
            ("abc-def", 4, "abc"),
            ("___", 10, ""),
            ("ünïcode", 10, "n-code"),
        ];
        for (input, max, want) in cases {
            assert_eq!(sanitize(input, max), want, "{input}");
        }
        assert!(environment_id("_", "_", "u").starts_with("rc-env-"));
    }

    #[test]
    fn names_and_arns() {
        assert_eq!(key_alias("rc-x-1"), "alias/redcap/rc-x-1");
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(bucket_arn("aws", "b"), "arn:aws:s3:::b");
        assert_eq!(
            account_of_arn("arn:aws:kms:eu-west-1:123456789012:key/abc"),
            Some("123456789012")
        );
        assert_eq!(account_of_arn("arn:aws:s3:::bucket"), None);
        assert_eq!(key_id_of("arn:aws:kms:eu-west-1:123456789012:key/abc-1"), "abc-1");
        assert_eq!(key_id_of("abc-1"), "abc-1");
    }

    #[test]
    fn bucket_name_rules() {
        for ok in ["abc", "my.bucket-1", "a1b"] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "Upper",
            "under_score",
            "-start",
            "end-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            &"a".repeat(64),
        ] {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }
}
