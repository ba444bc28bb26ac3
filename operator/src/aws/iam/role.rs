//! IAM roles the operator creates (the image build's, compute's task and execution
//! roles): one inline policy each (step: observe / create / update / delete; decisions
//! are in `plan::iam`).

use crate::aws::resource::{Presence, Resource};
use crate::aws::{AwsCtx, AwsError};
use crate::plan::credentials::decode_policy_document;
use crate::plan::iam::{DesiredRole, ObservedRole, RoleChange, role_changes};

use super::{iam_tags, tag_set};

/// The role `name` with its tags and the inline policy `policy_name`, or `None`. The
/// policy of a role that is not the operator's is not read; its attached managed policies
/// only when `with_managed`.
pub async fn observe(
    aws: &AwsCtx,
    name: &str,
    policy_name: &str,
) -> Result<Option<ObservedRole>, AwsError> {
    observe_with(aws, name, policy_name, false).await
}

async fn observe_with(
    aws: &AwsCtx,
    name: &str,
    policy_name: &str,
    with_managed: bool,
) -> Result<Option<ObservedRole>, AwsError> {
    let Some(out) = aws.find(aws.iam.get_role().role_name(name).send()).await? else {
        return Ok(None);
    };
    let Some(role) = out.role() else {
        return Ok(None);
    };
    let mut tags = tag_set(role.tags());
    // GetRole includes the tags on AWS; ask separately only when they are missing.
    if tags.is_empty() {
        let out = aws.call(aws.iam.list_role_tags().role_name(name).send()).await?;
        tags = tag_set(out.tags());
    }
    let policy = match tags.get(crate::api::tags::UID) {
        Some(_) => aws
            .find(aws.iam.get_role_policy().role_name(name).policy_name(policy_name).send())
            .await?
            .map(|out| decode_policy_document(out.policy_document())),
        None => None,
    };
    let managed_policies = if with_managed && tags.get(crate::api::tags::UID).is_some() {
        let pages = aws
            .pages(aws.iam.list_attached_role_policies().role_name(name).into_paginator().send())
            .await?;
        pages
            .iter()
            .flat_map(|p| p.attached_policies())
            .filter_map(|p| p.policy_arn().map(str::to_string))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Some(ObservedRole {
        arn: role.arn().to_string(),
        trust_policy: decode_policy_document(role.assume_role_policy_document().unwrap_or("")),
        tags,
        policy,
        managed_policies,
        has_boundary: role.permissions_boundary().is_some(),
    }))
}

async fn attach(
    aws: &AwsCtx,
    role: &str,
    attach: &[String],
    detach: &[String],
) -> Result<(), AwsError> {
    for arn in attach {
        aws.run(aws.iam.attach_role_policy().role_name(role).policy_arn(arn).send()).await?;
    }
    for arn in detach {
        aws.delete(aws.iam.detach_role_policy().role_name(role).policy_arn(arn).send()).await?;
    }
    Ok(())
}

async fn put_policy(aws: &AwsCtx, want: &DesiredRole) -> Result<(), AwsError> {
    aws.run(
        aws.iam
            .put_role_policy()
            .role_name(&want.name)
            .policy_name(&want.policy_name)
            .policy_document(want.policy.to_string())
            .send(),
    )
    .await
}

/// Deletes the role, its inline policy and the managed policies it has attached (IAM
/// refuses to delete a role with policies); a role already gone is fine.
pub async fn delete(aws: &AwsCtx, name: &str, policy_name: &str) -> Result<(), AwsError> {
    aws.delete(aws.iam.delete_role_policy().role_name(name).policy_name(policy_name).send())
        .await?;
    if let Some(seen) = observe_with(aws, name, policy_name, true).await? {
        attach(aws, name, &[], &seen.managed_policies).await?;
    }
    aws.delete(aws.iam.delete_role().role_name(name).send()).await.map(drop)
}

impl Resource for DesiredRole {
    type Seen = ObservedRole;
    type Change = RoleChange;

    fn label(&self) -> String {
        format!("IAM role {}", self.name)
    }

    async fn observe(&self, aws: &AwsCtx, uid: &str) -> Result<Presence<ObservedRole>, AwsError> {
        let with_managed = !self.managed_policies.is_empty();
        Ok(Presence::of(
            observe_with(aws, &self.name, &self.policy_name, with_managed).await?,
            |s| s.tags.is_owned_by(uid),
        ))
    }

    async fn create(&self, aws: &AwsCtx) -> Result<ObservedRole, AwsError> {
        // Every role carries the boundary from its first moment: the operator's policy
        // refuses CreateRole without it, and the boundary caps whatever the role's own
        // policies say.
        let boundary = aws.permissions_boundary_arn().await?;
        let out = aws
            .call(
                aws.iam
                    .create_role()
                    .role_name(&self.name)
                    .path(&self.path)
                    .permissions_boundary(boundary)
                    .description(&self.description)
                    .assume_role_policy_document(self.trust_policy.to_string())
                    .set_tags(Some(iam_tags(&self.tags, "TagRole")?))
                    .send(),
            )
            .await?;
        put_policy(aws, self).await?;
        attach(aws, &self.name, &self.managed_policies, &[]).await?;
        Ok(ObservedRole {
            arn: out.role().map(|r| r.arn().to_string()).unwrap_or_default(),
            trust_policy: self.trust_policy.clone(),
            managed_policies: self.managed_policies.clone(),
            tags: self.tags.clone(),
            policy: Some(self.policy.clone()),
            has_boundary: true,
        })
    }

    fn changes(&self, seen: &ObservedRole) -> Vec<RoleChange> {
        role_changes(self, seen)
    }

    async fn update(
        &self,
        aws: &AwsCtx,
        _: &ObservedRole,
        changes: &[RoleChange],
    ) -> Result<(), AwsError> {
        for change in changes {
            match change {
                RoleChange::Boundary => {
                    let boundary = aws.permissions_boundary_arn().await?;
                    aws.run(
                        aws.iam
                            .put_role_permissions_boundary()
                            .role_name(&self.name)
                            .permissions_boundary(boundary)
                            .send(),
                    )
                    .await?
                }
                RoleChange::Tag(tags) => {
                    aws.run(
                        aws.iam
                            .tag_role()
                            .role_name(&self.name)
                            .set_tags(Some(iam_tags(tags, "TagRole")?))
                            .send(),
                    )
                    .await?
                }
                RoleChange::TrustPolicy => {
                    aws.run(
                        aws.iam
                            .update_assume_role_policy()
                            .role_name(&self.name)
                            .policy_document(self.trust_policy.to_string())
                            .send(),
                    )
                    .await?
                }
                RoleChange::Policy => put_policy(aws, self).await?,
                RoleChange::ManagedPolicies { attach: a, detach: d } => {
                    attach(aws, &self.name, a, d).await?
                }
            }
        }
        Ok(())
    }
}
