//! The private ECR repository of an environment (step: plan; pure, no I/O).
//!
//! `redcap/<environment_id>`: scan on push, immutable tags (the digest behind a tag never
//! changes, so a tag can be trusted), KMS encryption with the environment's key, and a
//! lifecycle policy that expires untagged layers after [`UNTAGGED_EXPIRY_DAYS`] days and
//! keeps the [`KEEP_IMAGES`] most recent images (enough to roll back several upgrades).
//! Encryption is fixed at creation (ECR cannot change it), so a repository encrypted
//! otherwise is reported, never "corrected".

use serde_json::{Value, json};

use crate::plan::naming::key_id_of;
use crate::plan::tags::TagSet;

/// Days an untagged image (an interrupted push, a layer left behind) is kept.
pub const UNTAGGED_EXPIRY_DAYS: u32 = 7;
/// Images kept, newest first; older ones expire.
pub const KEEP_IMAGES: u32 = 10;

/// The repository the environment should have.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredRepository {
    pub name: String,
    pub kms_key_arn: String,
    pub lifecycle_policy: Value,
    pub tags: TagSet,
}

/// What `DescribeRepositories`, `ListTagsForResource` and `GetLifecyclePolicy` say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedRepository {
    pub arn: String,
    pub uri: String,
    pub scan_on_push: bool,
    /// `IMMUTABLE`, `MUTABLE`, ...
    pub tag_mutability: String,
    /// `KMS` / `AES256`, and the key for KMS.
    pub encryption_type: String,
    pub kms_key: Option<String>,
    pub lifecycle_policy: Option<Value>,
    pub tags: TagSet,
}

/// One correction.
#[derive(Clone, Debug, PartialEq)]
pub enum RepositoryChange {
    Tag(TagSet),
    ScanOnPush,
    ImmutableTags,
    LifecyclePolicy,
}

impl crate::plan::Describe for RepositoryChange {
    fn describe(&self) -> String {
        match self {
            RepositoryChange::Tag(_) => "tags",
            RepositoryChange::ScanOnPush => "scan on push",
            RepositoryChange::ImmutableTags => "tag immutability",
            RepositoryChange::LifecyclePolicy => "lifecycle policy",
        }
        .to_string()
    }
}

/// The lifecycle policy document.
pub fn lifecycle_policy() -> Value {
    json!({"rules": [
        {
            "rulePriority": 1,
            "description": format!("Expire untagged images after {UNTAGGED_EXPIRY_DAYS} days"),
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": UNTAGGED_EXPIRY_DAYS
            },
            "action": {"type": "expire"}
        },
        {
            "rulePriority": 2,
            "description": format!("Keep the {KEEP_IMAGES} most recent images"),
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": KEEP_IMAGES
            },
            "action": {"type": "expire"}
        }
    ]})
}

/// The corrections that make `seen` match `want`. `Err` says why the repository is not
/// ours to change.
pub fn repository_changes(
    want: &DesiredRepository,
    seen: &ObservedRepository,
) -> Vec<RepositoryChange> {
    let mut changes = Vec::new();
    let missing = want.tags.missing_from(&seen.tags);
    if !missing.is_empty() {
        changes.push(RepositoryChange::Tag(missing));
    }
    if !seen.scan_on_push {
        changes.push(RepositoryChange::ScanOnPush);
    }
    if seen.tag_mutability != "IMMUTABLE" {
        changes.push(RepositoryChange::ImmutableTags);
    }
    if seen.lifecycle_policy.as_ref() != Some(&want.lifecycle_policy) {
        changes.push(RepositoryChange::LifecyclePolicy);
    }
    changes
}

/// A note when the repository is not encrypted with the environment's key (ECR fixes the
/// encryption at creation; a human must recreate the repository to change it).
pub fn encryption_note(want: &DesiredRepository, seen: &ObservedRepository) -> Option<String> {
    let ours = seen.encryption_type == "KMS"
        && seen.kms_key.as_deref().is_some_and(|k| key_id_of(k) == key_id_of(&want.kms_key_arn));
    (!ours).then(|| {
        format!(
            "repository {} is encrypted with {} {}, not the environment's key; ECR cannot change a repository's encryption",
            want.name,
            seen.encryption_type,
            seen.kms_key.as_deref().unwrap_or("")
        )
        .trim_end()
        .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want() -> DesiredRepository {
        DesiredRepository {
            name: "redcap/rc-x".into(),
            kms_key_arn: "arn:aws:kms:eu-west-1:123456789012:key/k-1".into(),
            lifecycle_policy: lifecycle_policy(),
            tags: [("redcap.dev/uid", "u")].into_iter().collect(),
        }
    }

    fn in_sync() -> ObservedRepository {
        ObservedRepository {
            arn: "arn".into(),
            uri: "uri".into(),
            scan_on_push: true,
            tag_mutability: "IMMUTABLE".into(),
            encryption_type: "KMS".into(),
            kms_key: Some("arn:aws:kms:eu-west-1:123456789012:key/k-1".into()),
            // AWS hands the text back; parsed, key order does not matter.
            lifecycle_policy: Some(
                serde_json::from_str(&lifecycle_policy().to_string()).expect("json"),
            ),
            tags: [("redcap.dev/uid", "u"), ("other", "x")].into_iter().collect(),
        }
    }

    #[test]
    fn in_sync_means_no_change() {
        assert_eq!(repository_changes(&want(), &in_sync()), vec![]);
        assert_eq!(encryption_note(&want(), &in_sync()), None);
    }

    #[test]
    fn drift_is_named() {
        let mut seen = in_sync();
        seen.scan_on_push = false;
        seen.tag_mutability = "MUTABLE".into();
        seen.lifecycle_policy = None;
        seen.tags.insert("redcap.dev/uid", "u");
        let changes = repository_changes(&want(), &seen);
        assert_eq!(
            changes,
            vec![
                RepositoryChange::ScanOnPush,
                RepositoryChange::ImmutableTags,
                RepositoryChange::LifecyclePolicy
            ]
        );
        let mut aes = in_sync();
        aes.encryption_type = "AES256".into();
        aes.kms_key = None;
        assert!(
            encryption_note(&want(), &aes)
                .is_some_and(|n| n.contains("AES256") && !n.ends_with(' '))
        );
    }

    #[test]
    fn lifecycle_rules_expire_untagged_first_and_keep_recent_images() {
        let p = lifecycle_policy();
        let rules = p["rules"].as_array().expect("rules");
        assert_eq!(rules[0]["selection"]["tagStatus"], "untagged");
        assert_eq!(rules[0]["selection"]["countNumber"], UNTAGGED_EXPIRY_DAYS);
        // ECR requires the `any` rule to have the lowest priority (highest number).
        assert_eq!(rules[1]["selection"]["tagStatus"], "any");
        assert_eq!(rules[1]["rulePriority"], 2);
    }
}
