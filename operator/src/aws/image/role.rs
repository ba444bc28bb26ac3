//! The IAM role CodeBuild runs the image build as (observe, create, update, delete; only
//! calls AWS, decisions are in `plan::image::role`).
use crate::plan::credentials::decode_policy_document;
use crate::plan::image::role::{DesiredRole, ObservedRole, RoleChange};
use crate::plan::tags::TagSet;

use super::super::{AwsCtx, AwsError, Service};
use crate::aws::iam::{err, iam_tags, missing};

/// The role `name` with its tags and the inline policy `policy_name`, or `None`.
pub async fn observe(
    aws: &AwsCtx,
    name: &str,
    policy_name: &str,
) -> Result<Option<ObservedRole>, AwsError> {
    aws.permit(Service::Iam).await;
    let out = match aws.iam.get_role().role_name(name).send().await {
        Ok(out) => out,
        Err(e) => {
            let e = err("GetRole", e);
            return if missing(&e) { Ok(None) } else { Err(e) };
        }
    };
    let Some(role) = out.role() else {
        return Ok(None);
    };
    let mut tags: TagSet = role.tags().iter().map(|t| (t.key(), t.value())).collect();
    // GetRole includes the tags on AWS; ask separately only when they are missing.
    if tags.is_empty() {
        aws.permit(Service::Iam).await;
        tags = aws
            .iam
            .list_role_tags()
            .role_name(name)
            .send()
            .await
            .map_err(|e| err("ListRoleTags", e))?
            .tags()
            .iter()
            .map(|t| (t.key(), t.value()))
            .collect();
    }
    let policy = if tags.get(crate::api::tags::UID).is_some() {
        aws.permit(Service::Iam).await;
        match aws
            .iam
            .get_role_policy()
            .role_name(name)
            .policy_name(policy_name)
            .send()
            .await
        {
            Ok(out) => Some(decode_policy_document(out.policy_document())),
            Err(e) => {
                let e = err("GetRolePolicy", e);
                if missing(&e) {
                    None
                } else {
                    return Err(e);
                }
            }
        }
    } else {
        None
    };
    Ok(Some(ObservedRole {
        arn: role.arn().to_string(),
        trust_policy: decode_policy_document(role.assume_role_policy_document().unwrap_or("")),
        tags,
        policy,
    }))
}

/// Creates the role with its inline policy; returns its ARN.
pub async fn create(aws: &AwsCtx, want: &DesiredRole) -> Result<String, AwsError> {
    aws.permit(Service::Iam).await;
    let out = aws
        .iam
        .create_role()
        .role_name(&want.name)
        .path(&want.path)
        .description("Runs the REDCap image build of one environment (managed by redcap-operator)")
        .assume_role_policy_document(want.trust_policy.to_string())
        .set_tags(Some(iam_tags(&want.tags, "TagRole")?))
        .send()
        .await
        .map_err(|e| err("CreateRole", e))?;
    put_policy(aws, want).await?;
    Ok(out.role().map(|r| r.arn().to_string()).unwrap_or_default())
}

async fn put_policy(aws: &AwsCtx, want: &DesiredRole) -> Result<(), AwsError> {
    aws.permit(Service::Iam).await;
    aws.iam
        .put_role_policy()
        .role_name(&want.name)
        .policy_name(&want.policy_name)
        .policy_document(want.policy.to_string())
        .send()
        .await
        .map_err(|e| err("PutRolePolicy", e))?;
    Ok(())
}

/// Applies the corrections `plan::image::role::role_changes` returned.
pub async fn apply(
    aws: &AwsCtx,
    want: &DesiredRole,
    changes: &[RoleChange],
) -> Result<(), AwsError> {
    for change in changes {
        match change {
            RoleChange::Tag(tags) => {
                aws.permit(Service::Iam).await;
                aws.iam
                    .tag_role()
                    .role_name(&want.name)
                    .set_tags(Some(iam_tags(tags, "TagRole")?))
                    .send()
                    .await
                    .map_err(|e| err("TagRole", e))?;
            }
            RoleChange::TrustPolicy => {
                aws.permit(Service::Iam).await;
                aws.iam
                    .update_assume_role_policy()
                    .role_name(&want.name)
                    .policy_document(want.trust_policy.to_string())
                    .send()
                    .await
                    .map_err(|e| err("UpdateAssumeRolePolicy", e))?;
            }
            RoleChange::Policy => put_policy(aws, want).await?,
        }
    }
    Ok(())
}

/// Deletes the role and its inline policy; a role already gone is fine.
pub async fn delete(aws: &AwsCtx, name: &str, policy_name: &str) -> Result<(), AwsError> {
    aws.permit(Service::Iam).await;
    if let Err(e) = aws
        .iam
        .delete_role_policy()
        .role_name(name)
        .policy_name(policy_name)
        .send()
        .await
    {
        let e = err("DeleteRolePolicy", e);
        if !missing(&e) {
            return Err(e);
        }
    }
    aws.permit(Service::Iam).await;
    match aws.iam.delete_role().role_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = err("DeleteRole", e);
            if missing(&e) { Ok(()) } else { Err(e) }
        }
    }
}
