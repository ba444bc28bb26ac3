//! Static AWS credentials REDCap needs, and when to rotate them (step: plan; pure, no I/O).
//!
//! Two IAM users per environment: one with read/write on the file bucket only (REDCap's
//! S3 storage takes static keys), one allowed only to send mail from the environment's
//! SES identity (its key becomes the SMTP password). Each user's access key lives in a
//! Secrets Manager secret. The secret version of a key is named after the key
//! (`ClientRequestToken` = sha256 of the key id), so which key the secret holds is known
//! from `DescribeSecret` alone: a steady-state pass never reads a secret value, and a
//! retried `PutSecretValue` after a crash is idempotent.
//!
//! Rotation never leaves a window without a valid key: the new key is created and stored
//! (new `AWSCURRENT` version) first; the previous key stays active for [`PREVIOUS_KEY_GRACE`]
//! so running tasks that read it keep working until they pick up the new one, then it is
//! deleted. IAM allows two keys per user, which is exactly that overlap.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::api::ComponentName;

use super::naming::bucket_arn;
use super::secret::SecretString;
use super::tags::TagSet;
use super::{EnvIdentity, PlanError};

/// How long the previous key stays valid after a rotation.
pub const PREVIOUS_KEY_GRACE: SignedDuration = SignedDuration::from_hours(24);
/// IAM path of every user the operator creates.
pub const USER_PATH: &str = "/redcap/";
/// Tag on secrets that says how often they rotate (`90d`, or `never` for the salt).
pub const ROTATION_TAG: &str = "redcap.dev/rotation";

/// Which of the two credential sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    /// REDCap's access to the file bucket.
    Storage,
    /// SES SMTP credentials.
    Smtp,
}

impl CredentialKind {
    pub fn component(self) -> ComponentName {
        match self {
            CredentialKind::Storage => ComponentName::StorageCredentials,
            CredentialKind::Smtp => ComponentName::SmtpCredentials,
        }
    }

    /// Suffix of the IAM user name.
    fn user_suffix(self) -> &'static str {
        match self {
            CredentialKind::Storage => "files",
            CredentialKind::Smtp => "smtp",
        }
    }

    /// Name of the inline policy on the user.
    pub fn policy_name(self) -> &'static str {
        match self {
            CredentialKind::Storage => "redcap-file-bucket-access",
            CredentialKind::Smtp => "redcap-ses-send",
        }
    }
}

/// `<environment_id>-files` / `<environment_id>-smtp` (at most 46 of IAM's 64 characters).
pub fn user_name(environment_id: &str, kind: CredentialKind) -> String {
    format!("{environment_id}-{}", kind.user_suffix())
}

/// The `rotation` tag value for a number of days.
pub fn rotation_tag_value(days: Option<u32>) -> String {
    days.map_or_else(|| "never".to_string(), |d| format!("{d}d"))
}

/// An IAM user with one inline policy.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredUser {
    pub name: String,
    pub path: String,
    pub tags: TagSet,
    pub policy_name: String,
    pub policy: Value,
}

/// One correction to a credential set's IAM user.
#[derive(Clone, Debug, PartialEq)]
pub enum UserChange {
    /// Tags to add or overwrite.
    Tag(TagSet),
    /// The inline policy is missing or differs.
    Policy,
}

impl crate::plan::Describe for UserChange {
    fn describe(&self) -> String {
        match self {
            UserChange::Tag(_) => "tags".to_string(),
            UserChange::Policy => "permissions".to_string(),
        }
    }
}

/// What IAM says about the user: its tags and inline policy.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedUser {
    pub arn: String,
    pub tags: TagSet,
    pub policy: Option<Value>,
}

/// The corrections that make the user match (ownership is checked when observing).
pub fn user_changes(want: &DesiredUser, seen: &ObservedUser) -> Vec<UserChange> {
    let mut changes = Vec::new();
    let missing = want.tags.missing_from(&seen.tags);
    if !missing.is_empty() {
        changes.push(UserChange::Tag(missing));
    }
    if !seen.policy.as_ref().is_some_and(|p| crate::plan::policy::same_policy(p, &want.policy)) {
        changes.push(UserChange::Policy);
    }
    changes
}

/// The IAM user of a credential set.
pub fn desired_user(
    id: &EnvIdentity,
    kind: CredentialKind,
    extra_tags: &[crate::api::Tag],
    policy: Value,
) -> Result<DesiredUser, PlanError> {
    Ok(DesiredUser {
        name: user_name(&id.environment_id(), kind),
        path: USER_PATH.to_string(),
        tags: id.ownership_tags(kind.component(), extra_tags)?,
        policy_name: kind.policy_name().to_string(),
        policy,
    })
}

/// Read/write on the objects of the file bucket, listing it, and the KMS key it is
/// encrypted with (only through S3). Nothing else.
pub fn storage_user_policy(partition: &str, region: &str, bucket: &str, key_arn: &str) -> Value {
    let arn = bucket_arn(partition, bucket);
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListFileBucket",
                "Effect": "Allow",
                "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
                "Resource": arn
            },
            {
                "Sid": "ReadWriteFiles",
                "Effect": "Allow",
                "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                "Resource": format!("{arn}/*")
            },
            {
                "Sid": "UseFileBucketKeyThroughS3",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": format!("s3.{region}.amazonaws.com")}}
            }
        ]
    })
}

/// Sending through SES from the environment's identity (and its configuration set) only.
pub fn smtp_user_policy(
    partition: &str,
    region: &str,
    account: &str,
    identity: &str,
    configuration_set: &str,
) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "SendFromEnvironmentIdentity",
            "Effect": "Allow",
            "Action": ["ses:SendEmail", "ses:SendRawEmail"],
            "Resource": [
                format!("arn:{partition}:ses:{region}:{account}:identity/{identity}"),
                format!("arn:{partition}:ses:{region}:{account}:configuration-set/{configuration_set}")
            ]
        }]
    })
}

/// The secret version id of an access key: sha256 of its id, 64 hex characters (Secrets
/// Manager accepts 32 to 64).
pub fn version_token(access_key_id: &str) -> String {
    hex::encode(Sha256::digest(access_key_id.as_bytes()))
}

/// The secret value for a key: the seed's formats, so REDCap images built for the seed
/// project read it unchanged.
pub fn secret_payload(
    kind: CredentialKind,
    access_key_id: &str,
    secret: &SecretString,
) -> SecretString {
    let value = match kind {
        CredentialKind::Storage => {
            json!({"AccessKeyId": access_key_id, "SecretAccessKey": secret.expose()})
        }
        CredentialKind::Smtp => json!({"username": access_key_id, "password": secret.expose()}),
    };
    SecretString::new(value.to_string())
}

/// A policy document as `GetUserPolicy` returns it: URL-encoded (RFC 3986) JSON. Text
/// that is not valid afterwards stays a string, which never equals a desired policy.
pub fn decode_policy_document(text: &str) -> Value {
    let bytes = text.as_bytes();
    let hex = |i: usize| bytes.get(i).and_then(|b| (*b as char).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                // Two hex digits are at most 0xff.
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    let decoded = String::from_utf8_lossy(&out);
    super::policy::parse_policy(&decoded)
}

/// An access key as `ListAccessKeys` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedAccessKey {
    pub id: String,
    pub active: bool,
    pub created: Timestamp,
}

/// Why a new key is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewKeyReason {
    /// The secret holds no usable key (first creation, or the key was deleted or
    /// deactivated outside the operator).
    Missing,
    /// The current key is older than the rotation period.
    RotationDue,
}

/// What to do with a user's access keys, in order: delete `delete_first` (to make room),
/// create and store a new key when `create` is set, then delete `delete_after`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPlan {
    pub delete_first: Vec<String>,
    pub create: Option<NewKeyReason>,
    pub delete_after: Vec<String>,
}

impl KeyPlan {
    pub fn is_empty(&self) -> bool {
        self.delete_first.is_empty() && self.create.is_none() && self.delete_after.is_empty()
    }
}

/// Decides rotation and clean-up from the user's keys and the secret's version stages.
///
/// `current_version` / `previous_version` are the secret's `AWSCURRENT` / `AWSPREVIOUS`
/// version ids (see [`version_token`]).
pub fn key_plan(
    keys: &[ObservedAccessKey],
    current_version: Option<&str>,
    previous_version: Option<&str>,
    rotation_days: u32,
    now: Timestamp,
) -> KeyPlan {
    let is_version =
        |k: &ObservedAccessKey, v: Option<&str>| v == Some(version_token(&k.id).as_str());
    let current = keys.iter().find(|k| k.active && is_version(k, current_version));
    let mut plan = KeyPlan::default();
    let Some(current) = current else {
        // Nothing usable is stored: make a new key, keeping at most one old key while
        // doing so (IAM allows two), and drop the old ones once the new one is stored.
        let mut old: Vec<&ObservedAccessKey> = keys.iter().collect();
        old.sort_by_key(|k| k.created);
        let room = old.len().saturating_sub(1);
        plan.delete_first = old[..room].iter().map(|k| k.id.clone()).collect();
        plan.delete_after = old[room..].iter().map(|k| k.id.clone()).collect();
        plan.create = Some(NewKeyReason::Missing);
        return plan;
    };
    let rotation = SignedDuration::from_hours(24 * i64::from(rotation_days.max(1)));
    let due = now.duration_since(current.created) >= rotation;
    let in_grace = now.duration_since(current.created) < PREVIOUS_KEY_GRACE;
    for k in keys.iter().filter(|k| k.id != current.id) {
        let keep = !due && in_grace && is_version(k, previous_version);
        if due {
            plan.delete_first.push(k.id.clone());
        } else if !keep {
            plan.delete_after.push(k.id.clone());
        }
    }
    if due {
        plan.create = Some(NewKeyReason::RotationDue);
    }
    plan
}

/// When the key the secret holds was created: the last rotation, for status.
pub fn current_key_created(
    keys: &[ObservedAccessKey],
    current_version: Option<&str>,
) -> Option<Timestamp> {
    keys.iter().find(|k| current_version == Some(version_token(&k.id).as_str())).map(|k| k.created)
}

#[cfg(test)]
#[path = "credentials_tests.rs"]
mod tests;
