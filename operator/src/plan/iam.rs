//! IAM roles the operator creates for a component (the image build's role, compute's
//! task and execution roles): desired state, what IAM reports, and the diff (step:
//! plan; pure). Each role has one inline policy and a trust policy naming the one
//! service (and, where AWS supports it, the one resource) that may assume it.

use serde_json::Value;

use crate::plan::Describe;
use crate::plan::policy::same_policy;
use crate::plan::tags::TagSet;

/// IAM path of every role and user the operator creates.
pub const ROLE_PATH: &str = "/redcap/";

/// A role as it should be.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredRole {
    pub name: String,
    pub path: String,
    /// What the role is for (shown in the IAM console).
    pub description: String,
    pub trust_policy: Value,
    pub policy_name: String,
    pub policy: Value,
    /// AWS-managed policies attached besides the inline one (rarely: ECS Express's
    /// infrastructure role). Attached policies are only read for roles that want some.
    pub managed_policies: Vec<String>,
    pub tags: TagSet,
}

/// What IAM says about the role.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedRole {
    pub arn: String,
    pub trust_policy: Value,
    pub tags: TagSet,
    /// The inline policy, when it exists.
    pub policy: Option<Value>,
    /// Attached managed policies (read only when the desired role wants some).
    pub managed_policies: Vec<String>,
    /// Whether the role has a permissions boundary (roles created before the operator
    /// set one have none, and its policy refuses their policy writes until they do).
    pub has_boundary: bool,
}

/// One correction.
#[derive(Clone, Debug, PartialEq)]
pub enum RoleChange {
    /// The operator's permissions boundary is missing: set first, as the operator's IAM
    /// policy allows no other write to a role without it.
    Boundary,
    Tag(TagSet),
    TrustPolicy,
    Policy,
    /// Managed policies to attach and to detach.
    ManagedPolicies {
        attach: Vec<String>,
        detach: Vec<String>,
    },
}

impl Describe for RoleChange {
    fn describe(&self) -> String {
        match self {
            RoleChange::Boundary => "permissions boundary",
            RoleChange::Tag(_) => "tags",
            RoleChange::TrustPolicy => "trust policy",
            RoleChange::Policy => "permissions",
            RoleChange::ManagedPolicies { .. } => "attached policies",
        }
        .to_string()
    }
}

/// A role's ARN.
pub fn role_arn(partition: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:iam::{account}:role{ROLE_PATH}{name}")
}

/// The corrections that make `seen` match `want` (ownership is checked when observing).
pub fn role_changes(want: &DesiredRole, seen: &ObservedRole) -> Vec<RoleChange> {
    let mut changes = Vec::new();
    if !seen.has_boundary {
        changes.push(RoleChange::Boundary);
    }
    let missing = want.tags.missing_from(&seen.tags);
    if !missing.is_empty() {
        changes.push(RoleChange::Tag(missing));
    }
    if !same_policy(&want.trust_policy, &seen.trust_policy) {
        changes.push(RoleChange::TrustPolicy);
    }
    if !seen.policy.as_ref().is_some_and(|p| same_policy(p, &want.policy)) {
        changes.push(RoleChange::Policy);
    }
    if !want.managed_policies.is_empty() {
        let attach: Vec<String> = want
            .managed_policies
            .iter()
            .filter(|p| !seen.managed_policies.contains(p))
            .cloned()
            .collect();
        let detach: Vec<String> = seen
            .managed_policies
            .iter()
            .filter(|p| !want.managed_policies.contains(p))
            .cloned()
            .collect();
        if !attach.is_empty() || !detach.is_empty() {
            changes.push(RoleChange::ManagedPolicies { attach, detach });
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn want() -> DesiredRole {
        DesiredRole {
            name: "r".into(),
            path: ROLE_PATH.into(),
            description: "d".into(),
            trust_policy: json!({"Statement": [{"Effect": "Allow"}]}),
            policy_name: "p".into(),
            policy: json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}),
            managed_policies: Vec::new(),
            tags: [("a", "1")].into_iter().collect(),
        }
    }

    #[test]
    fn a_role_in_sync_needs_nothing_and_each_drift_is_named() {
        let want = want();
        let seen = ObservedRole {
            arn: "arn".into(),
            trust_policy: want.trust_policy.clone(),
            tags: want.tags.clone(),
            policy: Some(want.policy.clone()),
            managed_policies: Vec::new(),
            has_boundary: true,
        };
        assert!(role_changes(&want, &seen).is_empty());
        let drifted = ObservedRole {
            trust_policy: json!({}),
            tags: TagSet::new(),
            policy: None,
            has_boundary: false,
            ..seen
        };
        let what: Vec<String> =
            role_changes(&want, &drifted).iter().map(Describe::describe).collect();
        assert_eq!(what, ["permissions boundary", "tags", "trust policy", "permissions"]);
    }
}
