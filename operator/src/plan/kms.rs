//! Desired state of the environment's KMS key and what to change (step: plan; pure).
//!
//! One symmetric customer-managed key per environment, found by its alias
//! `alias/redcap/<environment_id>`, with automatic rotation. The default key policy is
//! kept: it delegates to IAM in this account, which is what the operator's and REDCap's
//! roles are granted through; a custom policy would risk locking the account out of its
//! own key. One statement is added to it: CloudWatch Logs of the key's region may use the
//! key for the environment's own log groups (`/redcap/<environment_id>/…`, the VPC flow
//! logs first), which IAM cannot grant to a service. Other statements are left alone.

use serde_json::{Value, json};

use crate::api::ComponentName;

use super::naming::{account_of_arn, key_alias};
use super::network::log_group_prefix;
use super::policy::same_policy;
use super::tags::TagSet;
use super::{EnvIdentity, PlanError};

/// `Sid` of the statement that lets CloudWatch Logs use the key.
pub const LOGS_STATEMENT_SID: &str = "AllowCloudWatchLogsForEnvironmentLogGroups";

/// The key the environment should have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredKey {
    pub alias: String,
    pub description: String,
    pub rotation: bool,
    pub tags: TagSet,
    /// Region, partition and log-group prefix of the CloudWatch Logs grant.
    pub logs: LogsGrant,
}

/// Who may use the key through CloudWatch Logs (the account comes from the key's ARN).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogsGrant {
    pub partition: String,
    pub region: String,
    pub log_group_prefix: String,
}

impl LogsGrant {
    /// The key policy statement for the account `account`.
    pub fn statement(&self, account: &str) -> Value {
        let suffix = if self.partition == "aws-cn" { "amazonaws.com.cn" } else { "amazonaws.com" };
        json!({
            "Sid": LOGS_STATEMENT_SID,
            "Effect": "Allow",
            "Principal": {"Service": format!("logs.{}.{suffix}", self.region)},
            "Action": [
                "kms:Decrypt*",
                "kms:Describe*",
                "kms:Encrypt*",
                "kms:GenerateDataKey*",
                "kms:ReEncrypt*"
            ],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": format!(
                "arn:{}:logs:{}:{account}:log-group:{}*",
                self.partition, self.region, self.log_group_prefix
            )}}
        })
    }
}

/// `policy` with `statement` in it: a statement with the same `Sid` is replaced, the
/// others are kept as they are. `None` when the policy already holds it.
pub fn policy_with(policy: &Value, statement: &Value) -> Option<Value> {
    let sid = statement.get("Sid");
    let statements = match policy.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    let present = statements.iter().any(|s| {
        s.get("Sid") == sid
            && same_policy(&json!({"Statement": [s]}), &json!({"Statement": [statement]}))
    });
    if present {
        return None;
    }
    let mut merged: Vec<Value> = statements.into_iter().filter(|s| s.get("Sid") != sid).collect();
    merged.push(statement.clone());
    let mut out = match policy {
        Value::Object(m) => Value::Object(m.clone()),
        _ => json!({}),
    };
    out["Version"] = policy.get("Version").cloned().unwrap_or_else(|| json!("2012-10-17"));
    out["Statement"] = Value::Array(merged);
    Some(out)
}

/// Key states as far as the plan cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
    /// `Creating`, `Updating`, `PendingReplicaDeletion`: AWS is busy, look again later.
    Transitional(String),
    /// `PendingImport`, `Unavailable` and anything unknown: needs a human.
    Unusable(String),
}

impl KeyState {
    pub fn from_aws(state: &str) -> Self {
        match state {
            "Enabled" => KeyState::Enabled,
            "Disabled" => KeyState::Disabled,
            "PendingDeletion" => KeyState::PendingDeletion,
            "Creating" | "Updating" | "PendingReplicaDeletion" => {
                KeyState::Transitional(state.to_string())
            }
            other => KeyState::Unusable(other.to_string()),
        }
    }
}

/// What AWS says about the key behind the alias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedKey {
    pub key_id: String,
    pub arn: String,
    pub state: KeyState,
    pub description: String,
    /// `None` when the key's state does not allow asking (disabled, pending deletion).
    pub rotation_enabled: Option<bool>,
    pub customer_managed: bool,
    pub tags: TagSet,
    /// The key policy; `None` when the key's state did not allow reading it.
    pub policy: Option<Value>,
}

/// One correction, applied in the order [`key_plan`] returns them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyChange {
    /// Someone scheduled the key for deletion: cancel it (the key comes back disabled).
    CancelDeletion,
    Enable,
    UpdateDescription(String),
    EnableRotation,
    /// Tags to add or overwrite (tags the operator did not set are left alone).
    Tag(TagSet),
    /// The whole key policy to put (the CloudWatch Logs statement was missing or stale).
    PutPolicy(String),
}

impl crate::plan::Describe for KeyChange {
    fn describe(&self) -> String {
        match self {
            KeyChange::CancelDeletion => "scheduled deletion",
            KeyChange::Enable => "key disabled",
            KeyChange::UpdateDescription(_) => "description",
            KeyChange::EnableRotation => "rotation",
            KeyChange::Tag(_) => "tags",
            KeyChange::PutPolicy(_) => "key policy",
        }
        .to_string()
    }
}

/// The verdict on an existing key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyPlan {
    /// Apply these changes (none: in sync).
    Changes(Vec<KeyChange>),
    /// AWS is busy with the key; look again later.
    Wait(String),
    /// The key cannot be used or is not ours; retrying will not help.
    Blocked(String),
}

/// The desired key of an environment.
pub fn desired_key(
    id: &EnvIdentity,
    extra_tags: &[crate::api::Tag],
) -> Result<DesiredKey, PlanError> {
    Ok(DesiredKey {
        alias: key_alias(&id.environment_id()),
        description: format!(
            "REDCap environment {}/{} (managed by redcap-operator)",
            id.namespace, id.name
        ),
        rotation: true,
        tags: id.ownership_tags(ComponentName::EncryptionKey, extra_tags)?,
        logs: LogsGrant {
            partition: id.partition().to_string(),
            region: id.region.clone(),
            log_group_prefix: log_group_prefix(&id.environment_id()),
        },
    })
}

/// Compares the key behind the alias with the desired one.
pub fn key_plan(want: &DesiredKey, seen: &ObservedKey, uid: &str) -> KeyPlan {
    if !seen.tags.is_owned_by(uid) {
        return KeyPlan::Blocked(format!(
            "{} points to key {}, which is not tagged as owned by this environment",
            want.alias, seen.key_id
        ));
    }
    if !seen.customer_managed {
        return KeyPlan::Blocked(format!("{} points to an AWS-managed key", want.alias));
    }
    let mut changes = Vec::new();
    match &seen.state {
        KeyState::Enabled => {}
        KeyState::Disabled => changes.push(KeyChange::Enable),
        KeyState::PendingDeletion => changes.extend([KeyChange::CancelDeletion, KeyChange::Enable]),
        KeyState::Transitional(s) => return KeyPlan::Wait(format!("key {} is {s}", seen.key_id)),
        KeyState::Unusable(s) => {
            return KeyPlan::Blocked(format!(
                "key {} is in state {s}, which the operator cannot fix",
                seen.key_id
            ));
        }
    }
    if seen.description != want.description {
        changes.push(KeyChange::UpdateDescription(want.description.clone()));
    }
    // Unknown rotation (key was not enabled when observed) is set again: it is idempotent.
    if want.rotation && seen.rotation_enabled != Some(true) {
        changes.push(KeyChange::EnableRotation);
    }
    let missing = want.tags.missing_from(&seen.tags);
    if !missing.is_empty() {
        changes.push(KeyChange::Tag(missing));
    }
    if let (Some(policy), Some(account)) = (&seen.policy, account_of_arn(&seen.arn))
        && let Some(merged) = policy_with(policy, &want.logs.statement(account))
    {
        changes.push(KeyChange::PutPolicy(merged.to_string()));
    }
    KeyPlan::Changes(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tags;

    fn identity() -> EnvIdentity {
        EnvIdentity::test()
    }

    fn in_sync(want: &DesiredKey) -> ObservedKey {
        ObservedKey {
            key_id: "k1".into(),
            arn: "arn:aws:kms:eu-west-1:123456789012:key/k1".into(),
            state: KeyState::Enabled,
            description: want.description.clone(),
            rotation_enabled: Some(true),
            customer_managed: true,
            tags: want.tags.clone(),
            policy: Some(json!({
                "Version": "2012-10-17",
                "Id": "key-default-1",
                "Statement": [root(), want.logs.statement("123456789012")]
            })),
        }
    }

    fn root() -> Value {
        json!({
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:*",
            "Resource": "*"
        })
    }

    #[test]
    fn logs_statement_is_added_to_the_default_policy_and_nothing_else_changes() {
        let want = desired_key(&identity(), &[]).expect("plan");
        let mut seen = in_sync(&want);
        let default =
            json!({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [root()]});
        seen.policy = Some(default.clone());
        let KeyPlan::Changes(changes) = key_plan(&want, &seen, "uid-1") else {
            panic!("changes expected")
        };
        let [KeyChange::PutPolicy(text)] = changes.as_slice() else { panic!("{changes:?}") };
        let put: Value = serde_json::from_str(text).expect("json");
        assert_eq!(put["Id"], "key-default-1");
        assert_eq!(put["Statement"][0], root(), "the root statement is kept");
        let logs = &put["Statement"][1];
        assert_eq!(logs["Principal"]["Service"], "logs.eu-west-1.amazonaws.com");
        assert_eq!(
            logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"],
            format!(
                "arn:aws:logs:eu-west-1:123456789012:log-group:/redcap/{}/*",
                identity().environment_id()
            )
        );
        // Reserialised by AWS (one-element lists, other order): no drift.
        let mut reordered = put.clone();
        if let Some(Value::Array(list)) = reordered.get_mut("Statement") {
            list.reverse();
        }
        seen.policy = Some(reordered);
        assert_eq!(key_plan(&want, &seen, "uid-1"), KeyPlan::Changes(vec![]));
        // A stale statement with our Sid is replaced; someone else's statement is kept.
        let mut stale = put.clone();
        stale["Statement"][1]["Resource"] = json!("arn:aws:kms:*:*:key/other");
        stale["Statement"]
            .as_array_mut()
            .expect("list")
            .push(json!({"Sid": "Theirs", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/x"}, "Action": "kms:Decrypt", "Resource": "*"}));
        seen.policy = Some(stale);
        let KeyPlan::Changes(changes) = key_plan(&want, &seen, "uid-1") else {
            panic!("changes expected")
        };
        let [KeyChange::PutPolicy(text)] = changes.as_slice() else { panic!("{changes:?}") };
        let put: Value = serde_json::from_str(text).expect("json");
        let sids: Vec<&str> = put["Statement"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|s| s["Sid"].as_str())
            .collect();
        assert_eq!(sids, ["Enable IAM User Permissions", "Theirs", LOGS_STATEMENT_SID]);
        // Unknown policy (key not readable in its state): nothing is put.
        seen.policy = None;
        assert_eq!(key_plan(&want, &seen, "uid-1"), KeyPlan::Changes(vec![]));
    }

    #[test]
    fn desired_key_is_named_and_tagged_for_the_environment() {
        let want = desired_key(&identity(), &[]).expect("plan");
        assert!(want.alias.starts_with("alias/redcap/rc-prod-redcap-"), "{}", want.alias);
        assert!(want.rotation);
        assert_eq!(want.tags.get(tags::UID), Some("uid-1"));
        assert_eq!(want.tags.get(tags::COMPONENT), Some("encryptionKey"));
    }

    #[test]
    fn in_sync_key_needs_nothing() {
        let want = desired_key(&identity(), &[]).expect("plan");
        let mut seen = in_sync(&want);
        seen.tags.insert("cost-center", "42");
        assert_eq!(key_plan(&want, &seen, "uid-1"), KeyPlan::Changes(vec![]));
    }

    #[test]
    fn drift_table() {
        let want = desired_key(&identity(), &[]).expect("plan");
        let base = in_sync(&want);
        let cases: Vec<(ObservedKey, Vec<KeyChange>)> = vec![
            (
                ObservedKey { rotation_enabled: Some(false), ..base.clone() },
                vec![KeyChange::EnableRotation],
            ),
            (
                ObservedKey { state: KeyState::Disabled, rotation_enabled: None, ..base.clone() },
                vec![KeyChange::Enable, KeyChange::EnableRotation],
            ),
            (
                ObservedKey {
                    state: KeyState::PendingDeletion,
                    rotation_enabled: None,
                    ..base.clone()
                },
                vec![KeyChange::CancelDeletion, KeyChange::Enable, KeyChange::EnableRotation],
            ),
            (
                ObservedKey { description: "edited".into(), ..base.clone() },
                vec![KeyChange::UpdateDescription(want.description.clone())],
            ),
        ];
        for (seen, expected) in cases {
            assert_eq!(key_plan(&want, &seen, "uid-1"), KeyPlan::Changes(expected), "{seen:?}");
        }
    }

    #[test]
    fn changed_tag_is_written_back_alone() {
        let want = desired_key(&identity(), &[]).expect("plan");
        let mut seen = in_sync(&want);
        seen.tags.insert(tags::NAME, "edited");
        let KeyPlan::Changes(changes) = key_plan(&want, &seen, "uid-1") else {
            panic!("changes expected")
        };
        assert_eq!(changes, vec![KeyChange::Tag([(tags::NAME, "redcap")].into_iter().collect())]);
    }

    #[test]
    fn foreign_busy_and_unusable_keys() {
        let want = desired_key(&identity(), &[]).expect("plan");
        let seen = in_sync(&want);
        assert!(matches!(key_plan(&want, &seen, "other-uid"), KeyPlan::Blocked(_)));
        let busy = ObservedKey { state: KeyState::from_aws("Updating"), ..seen.clone() };
        assert!(matches!(key_plan(&want, &busy, "uid-1"), KeyPlan::Wait(_)));
        let import = ObservedKey { state: KeyState::from_aws("PendingImport"), ..seen.clone() };
        assert!(matches!(key_plan(&want, &import, "uid-1"), KeyPlan::Blocked(_)));
        let aws_managed = ObservedKey { customer_managed: false, ..seen };
        assert!(matches!(key_plan(&want, &aws_managed, "uid-1"), KeyPlan::Blocked(_)));
    }
}
