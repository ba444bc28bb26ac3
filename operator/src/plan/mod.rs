//! Pure planning: values in, values out. Nothing here performs I/O.
//!
//! The environment's identity (namespace, name, UID, region) decides every AWS name and
//! the ownership tags; each component module turns the spec (and what AWS returned) into
//! desired state and a list of changes.

pub mod cfn;
pub mod cidr;
pub mod compute;
pub mod credentials;
pub mod cron;
pub mod database;
pub mod dns;
pub mod domain;
pub mod email;
pub mod firewall;
pub mod guardduty;
pub mod iam;
pub mod image;
pub mod kms;
pub mod logs;
pub mod naming;
pub mod network;
pub mod policy;
pub mod runtime;
pub mod secret;
pub mod secrets;
pub mod smtp;
pub mod storage;
pub mod tags;

use crate::api::{self, ComponentName, RedcapEnvironment};

pub use tags::TagSet;

/// A change that can say what it changes, for status messages ("retention").
pub trait Describe {
    fn describe(&self) -> String;
}

/// "a, b, c": what a list of changes changes.
pub fn describe_all<C: Describe>(changes: &[C]) -> String {
    changes.iter().map(Describe::describe).collect::<Vec<_>>().join(", ")
}

/// Largest number of tags S3 and KMS accept on one resource.
pub const MAX_TAGS: usize = 50;

/// A spec the plan cannot turn into AWS state. Messages name the spec field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("metadata.{field} is not set")]
    MissingMetadata { field: &'static str },
    #[error("{field}: {message}")]
    InvalidSpec { field: &'static str, message: String },
}

/// Who an environment is, for naming and ownership. Fixed for the life of the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvIdentity {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub region: String,
}

impl EnvIdentity {
    pub fn from_env(env: &RedcapEnvironment) -> Result<Self, PlanError> {
        let meta = &env.metadata;
        let field = |v: &Option<String>, field| {
            v.clone().filter(|s| !s.is_empty()).ok_or(PlanError::MissingMetadata { field })
        };
        Ok(Self {
            namespace: field(&meta.namespace, "namespace")?,
            name: field(&meta.name, "name")?,
            uid: field(&meta.uid, "uid")?,
            region: env.spec.aws.region.trim().to_string(),
        })
    }

    /// The deterministic prefix of every AWS name of the environment.
    pub fn environment_id(&self) -> String {
        naming::environment_id(&self.namespace, &self.name, &self.uid)
    }

    /// The ARN partition of the environment's region.
    pub fn partition(&self) -> &'static str {
        naming::partition(&self.region)
    }

    /// Ownership tags plus the user's `spec.aws.tags`. The operator's keys are reserved:
    /// a user tag that would overwrite one is rejected rather than silently dropped.
    pub fn ownership_tags(
        &self,
        component: ComponentName,
        extra: &[api::Tag],
    ) -> Result<TagSet, PlanError> {
        let mut set = TagSet::new();
        set.insert(api::tags::MANAGED_BY, api::tags::MANAGED_BY_VALUE);
        set.insert(api::tags::NAMESPACE, &self.namespace);
        set.insert(api::tags::NAME, &self.name);
        set.insert(api::tags::UID, &self.uid);
        set.insert(api::tags::COMPONENT, component.as_str());
        set.insert(api::tags::DEPLOYMENT, format!("{}-{}", self.name, self.region));
        let reserved = |k: &str| k.starts_with("redcap.dev/") || k == api::tags::DEPLOYMENT;
        for tag in extra {
            if reserved(&tag.key) {
                return Err(invalid_tags(format!(
                    "key {:?} is reserved for the operator",
                    tag.key
                )));
            }
            if tag.key.is_empty() || tag.key.len() > 128 || tag.key.starts_with("aws:") {
                return Err(invalid_tags(format!(
                    "key {:?} must be 1-128 characters and not start with aws:",
                    tag.key
                )));
            }
            if tag.value.len() > 256 {
                return Err(invalid_tags(format!(
                    "value of {:?} is longer than 256 characters",
                    tag.key
                )));
            }
            set.insert(&tag.key, &tag.value);
        }
        // One slot stays free for the retained marker put on at deletion.
        if set.len() >= MAX_TAGS {
            return Err(invalid_tags(format!("at most {} tags are allowed", MAX_TAGS - 1 - 6)));
        }
        Ok(set)
    }
}

fn invalid_tags(message: String) -> PlanError {
    PlanError::InvalidSpec { field: "spec.aws.tags", message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(json: serde_json::Value) -> RedcapEnvironment {
        serde_json::from_value(json).expect("valid object")
    }

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "redcap.dev/v1alpha1",
            "kind": "RedcapEnvironment",
            "metadata": {"name": "redcap", "namespace": "prod", "uid": "uid-1"},
            "spec": {
                "aws": {"region": "eu-west-1"},
                "redcap": {"version": "15.0.0", "source": {"s3": {"bucket": "b", "key": "redcap15.0.0.zip"}}},
                "email": {"fromAddress": "redcap@example.org"}
            }
        })
    }

    fn tag(key: &str, value: &str) -> api::Tag {
        api::Tag { key: key.into(), value: value.into() }
    }

    #[test]
    fn identity_from_object() {
        let id = EnvIdentity::from_env(&env(minimal())).expect("identity");
        assert_eq!(id.namespace, "prod");
        assert_eq!(id.uid, "uid-1");
        assert_eq!(id.region, "eu-west-1");
        assert_eq!(id.environment_id(), naming::environment_id("prod", "redcap", "uid-1"));
    }

    #[test]
    fn identity_needs_a_uid() {
        let mut obj = minimal();
        obj["metadata"].as_object_mut().expect("object").remove("uid");
        assert_eq!(
            EnvIdentity::from_env(&env(obj)),
            Err(PlanError::MissingMetadata { field: "uid" })
        );
    }

    #[test]
    fn ownership_tags_and_user_tags() {
        let id = EnvIdentity::from_env(&env(minimal())).expect("identity");
        let set = id
            .ownership_tags(ComponentName::FileStorage, &[tag("team", "research")])
            .expect("tags");
        assert_eq!(set.get(api::tags::MANAGED_BY), Some("redcap-operator"));
        assert_eq!(set.get(api::tags::DEPLOYMENT), Some("redcap-eu-west-1"));
        assert_eq!(set.get(api::tags::COMPONENT), Some("fileStorage"));
        assert_eq!(set.get("team"), Some("research"));
        assert!(set.is_owned_by("uid-1"));
    }

    #[test]
    fn reserved_and_invalid_user_tags_are_rejected() {
        let id = EnvIdentity::from_env(&env(minimal())).expect("identity");
        for bad in
            [tag(api::tags::UID, "x"), tag("deployment", "x"), tag("aws:x", "y"), tag("", "y")]
        {
            let err = id.ownership_tags(ComponentName::FileStorage, &[bad]).expect_err("rejected");
            assert!(err.to_string().starts_with("spec.aws.tags"), "{err}");
        }
        let many: Vec<api::Tag> = (0..44).map(|i| tag(&format!("k{i}"), "v")).collect();
        assert!(id.ownership_tags(ComponentName::FileStorage, &many).is_err());
        assert!(id.ownership_tags(ComponentName::FileStorage, &many[..43]).is_ok());
    }
}
