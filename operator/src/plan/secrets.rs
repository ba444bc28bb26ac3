//! The environment's Secrets Manager secrets and the runtime policy that reads them
//! (step: plan; pure, no I/O).
//!
//! Three secrets, named `redcap/<environment_id>/<purpose>`, encrypted with the
//! environment's KMS key and tagged for ownership and their rotation schedule: the
//! database salt (random, created once, never rotated, kept on deletion unless
//! `deletionPolicy: Delete`), and the two credential sets of `plan::credentials`.
//! Secrets are always deleted with a recovery window, never forced.

use serde_json::{Value, json};

use crate::api::ComponentName;

use super::credentials::{CredentialKind, ROTATION_TAG, rotation_tag_value};
use super::naming::key_id_of;
use super::tags::TagSet;
use super::{EnvIdentity, PlanError};

/// Length of the generated salt.
pub const SALT_LEN: usize = 64;
/// Days a deleted secret can still be restored (the shortest Secrets Manager allows).
pub const RECOVERY_WINDOW_DAYS: i64 = 7;
/// The MySQL user REDCap connects as with IAM authentication (seed: `redcap_user`).
pub const REDCAP_DB_USER: &str = "redcap_user";

/// What a secret holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretPurpose {
    Salt,
    StorageCredentials,
    SmtpCredentials,
    /// A copy of the consortium login (`spec.redcap.source.community`) for the image
    /// build; never given to REDCap itself.
    CommunityCredentials,
    /// The first administrator's initial password (generated, or copied from
    /// `spec.redcap.settings.siteAdmin.initialPasswordSecretRef`); REDCap uses it once, at
    /// install, and asks for a new one at the first login.
    SiteAdmin,
}

impl SecretPurpose {
    /// Name in `status.outputs.secrets[].name`.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretPurpose::Salt => "salt",
            SecretPurpose::StorageCredentials => "storageCredentials",
            SecretPurpose::SmtpCredentials => "smtpCredentials",
            SecretPurpose::CommunityCredentials => "communityCredentials",
            SecretPurpose::SiteAdmin => "siteAdmin",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            SecretPurpose::Salt => "salt",
            SecretPurpose::StorageCredentials => "storage-credentials",
            SecretPurpose::SmtpCredentials => "smtp-credentials",
            SecretPurpose::CommunityCredentials => "community-credentials",
            SecretPurpose::SiteAdmin => "site-admin",
        }
    }

    fn description(self) -> &'static str {
        match self {
            SecretPurpose::Salt => {
                "REDCap database salt (hashed with SHA-256 before use); never rotated"
            }
            SecretPurpose::StorageCredentials => {
                "Access key of REDCap's file-bucket user, rotated by redcap-operator"
            }
            SecretPurpose::SmtpCredentials => {
                "Amazon SES SMTP credentials of REDCap, rotated by redcap-operator"
            }
            SecretPurpose::CommunityCredentials => {
                "REDCap consortium login for the image build, copied from a Kubernetes Secret by redcap-operator"
            }
            SecretPurpose::SiteAdmin => {
                "Initial password of REDCap's first administrator (used once, at install)"
            }
        }
    }

    pub fn component(self) -> ComponentName {
        match self {
            SecretPurpose::Salt => ComponentName::Secrets,
            SecretPurpose::StorageCredentials => ComponentName::StorageCredentials,
            SecretPurpose::SmtpCredentials => ComponentName::SmtpCredentials,
            SecretPurpose::CommunityCredentials => ComponentName::Image,
            SecretPurpose::SiteAdmin => ComponentName::Compute,
        }
    }
}

impl From<CredentialKind> for SecretPurpose {
    fn from(kind: CredentialKind) -> Self {
        match kind {
            CredentialKind::Storage => SecretPurpose::StorageCredentials,
            CredentialKind::Smtp => SecretPurpose::SmtpCredentials,
        }
    }
}

/// `redcap/<environment_id>/<purpose>`. None ends in `-` plus six characters, which
/// Secrets Manager would mistake for the random suffix of an ARN.
pub fn secret_name(environment_id: &str, purpose: SecretPurpose) -> String {
    format!("redcap/{environment_id}/{}", purpose.suffix())
}

/// A secret the environment should have (its value is handled separately).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredSecret {
    pub purpose: SecretPurpose,
    pub name: String,
    pub description: String,
    pub kms_key_arn: String,
    pub tags: TagSet,
}

/// The desired secret for `purpose`; `rotation_days` is `None` for the salt.
pub fn desired_secret(
    id: &EnvIdentity,
    purpose: SecretPurpose,
    kms_key_arn: &str,
    rotation_days: Option<u32>,
    extra_tags: &[crate::api::Tag],
) -> Result<DesiredSecret, PlanError> {
    let mut tags = id.ownership_tags(purpose.component(), extra_tags)?;
    tags.insert(ROTATION_TAG, rotation_tag_value(rotation_days));
    Ok(DesiredSecret {
        purpose,
        name: secret_name(&id.environment_id(), purpose),
        description: purpose.description().to_string(),
        kms_key_arn: kms_key_arn.to_string(),
        tags,
    })
}

/// What `DescribeSecret` says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedSecret {
    pub arn: String,
    pub description: String,
    /// Key id or ARN; `None` means the AWS-managed `aws/secretsmanager` key.
    pub kms_key_id: Option<String>,
    pub tags: TagSet,
    /// Scheduled for deletion (restorable).
    pub deleted: bool,
    /// Version id labelled `AWSCURRENT` / `AWSPREVIOUS`.
    pub current_version: Option<String>,
    pub previous_version: Option<String>,
}

/// One correction to a secret's metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretChange {
    /// Someone scheduled the secret for deletion: cancel it.
    Restore,
    /// Description or KMS key differ (new versions use the new key).
    Update,
    /// Tags to add or overwrite.
    Tag(TagSet),
}

impl crate::plan::Describe for SecretChange {
    fn describe(&self) -> String {
        match self {
            SecretChange::Restore => "scheduled deletion",
            SecretChange::Update => "description or KMS key",
            SecretChange::Tag(_) => "tags",
        }
        .to_string()
    }
}

/// Compares a secret with the desired one (ownership is checked when observing).
pub fn secret_changes(want: &DesiredSecret, seen: &ObservedSecret) -> Vec<SecretChange> {
    let mut changes = Vec::new();
    if seen.deleted {
        changes.push(SecretChange::Restore);
    }
    // DescribeSecret may answer with the key id or the ARN given at creation.
    let same_key =
        seen.kms_key_id.as_deref().is_some_and(|k| key_id_of(k) == key_id_of(&want.kms_key_arn));
    if seen.description != want.description || !same_key {
        changes.push(SecretChange::Update);
    }
    let missing = want.tags.missing_from(&seen.tags);
    if !missing.is_empty() {
        changes.push(SecretChange::Tag(missing));
    }
    changes
}

/// What happens to a secret when the environment is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretDisposal {
    /// Kept and tagged `redcap.dev/retained=true`.
    Retain,
    /// Deleted with a recovery window of [`RECOVERY_WINDOW_DAYS`].
    DeleteWithRecovery,
}

/// The salt holds data (encrypted values depend on it): kept unless the policy is
/// `Delete`. Credentials are worthless once their IAM keys are gone, which happens on
/// every policy, so their secrets go too. Nothing is force-deleted.
pub fn disposal(purpose: SecretPurpose, policy: crate::api::DeletionPolicy) -> SecretDisposal {
    match (purpose, policy) {
        (SecretPurpose::Salt, crate::api::DeletionPolicy::Delete) => {
            SecretDisposal::DeleteWithRecovery
        }
        (SecretPurpose::Salt, _) => SecretDisposal::Retain,
        _ => SecretDisposal::DeleteWithRecovery,
    }
}

/// The database user the runtime role may connect as with IAM authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DbUserAccess {
    /// The cluster's `DbClusterResourceId` (`cluster-...`).
    pub cluster_resource_id: String,
    pub user: String,
}

/// What the runtime role of the compute service may read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeAccess {
    pub partition: String,
    pub region: String,
    pub account: String,
    /// Exactly the secrets REDCap reads at start.
    pub secret_arns: Vec<String>,
    /// The KMS key those secrets are encrypted with.
    pub kms_key_arn: String,
    /// `None` until the database component knows the cluster.
    pub database: Option<DbUserAccess>,
}

/// The runtime role's policy: read exactly the listed secrets, decrypt them through
/// Secrets Manager only, and connect to the database as the REDCap user (IAM auth).
/// Attached by the compute component.
pub fn runtime_policy(access: &RuntimeAccess) -> Value {
    let mut secrets = access.secret_arns.clone();
    secrets.sort();
    secrets.dedup();
    let mut statements = vec![
        json!({
            "Sid": "ReadEnvironmentSecrets",
            "Effect": "Allow",
            "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
            "Resource": secrets
        }),
        json!({
            "Sid": "DecryptEnvironmentSecrets",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": access.kms_key_arn,
            "Condition": {"StringEquals": {
                "kms:ViaService": format!("secretsmanager.{}.amazonaws.com", access.region)
            }}
        }),
    ];
    if let Some(db) = &access.database {
        statements.push(json!({
            "Sid": "ConnectAsRedcapUser",
            "Effect": "Allow",
            "Action": ["rds-db:connect"],
            "Resource": format!(
                "arn:{}:rds-db:{}:{}:dbuser:{}/{}",
                access.partition, access.region, access.account, db.cluster_resource_id, db.user
            )
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod tests;
