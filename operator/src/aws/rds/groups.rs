//! The DB subnet group and the cluster parameter group (step: observe / create / update /
//! delete; decisions in `plan::database`).
//!
//! Both are found by their deterministic name and tagged when created. They hold no data:
//! their tags are not read back every pass (one call saved per pass), only their content.

use std::collections::BTreeMap;

use aws_sdk_rds::types::{ApplyMethod, Parameter};

use crate::plan::database::parameters::MAX_PER_CALL;
use crate::plan::database::{DesiredParameterGroup, DesiredSubnetGroup, ObservedSubnetGroup};

use std::ops::ControlFlow;

use super::rds_tags;
use crate::aws::{AwsCtx, AwsError};

/// The subnet group, or `None`.
pub async fn describe_subnet_group(
    aws: &AwsCtx,
    name: &str,
) -> Result<Option<ObservedSubnetGroup>, AwsError> {
    let out =
        aws.find(aws.rds.describe_db_subnet_groups().db_subnet_group_name(name).send()).await?;
    Ok(out.and_then(|out| {
        out.db_subnet_groups().first().map(|g| ObservedSubnetGroup {
            name: g.db_subnet_group_name().unwrap_or_default().to_string(),
            arn: g.db_subnet_group_arn().unwrap_or_default().to_string(),
            subnet_ids: g
                .subnets()
                .iter()
                .filter_map(|s| s.subnet_identifier().map(str::to_string))
                .collect(),
        })
    }))
}

pub async fn create_subnet_group(aws: &AwsCtx, want: &DesiredSubnetGroup) -> Result<(), AwsError> {
    aws.run(
        aws.rds
            .create_db_subnet_group()
            .db_subnet_group_name(&want.name)
            .db_subnet_group_description(&want.description)
            .set_subnet_ids(Some(want.subnet_ids.iter().cloned().collect()))
            .set_tags(Some(rds_tags(&want.tags)))
            .send(),
    )
    .await
}

/// Sets the group's subnets (the network grew to more zones).
pub async fn modify_subnet_group(aws: &AwsCtx, want: &DesiredSubnetGroup) -> Result<(), AwsError> {
    aws.run(
        aws.rds
            .modify_db_subnet_group()
            .db_subnet_group_name(&want.name)
            .db_subnet_group_description(&want.description)
            .set_subnet_ids(Some(want.subnet_ids.iter().cloned().collect()))
            .send(),
    )
    .await
}

/// Deletes the subnet group; `false` when it was already gone. RDS refuses while a
/// cluster still uses it (recoverable: the cluster is being deleted).
pub async fn delete_subnet_group(aws: &AwsCtx, name: &str) -> Result<bool, AwsError> {
    aws.delete(aws.rds.delete_db_subnet_group().db_subnet_group_name(name).send()).await
}

/// The parameters set on the group (`Source=user`), or `None` when the group is missing.
pub async fn user_parameters(
    aws: &AwsCtx,
    name: &str,
) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    let pages = aws
        .pages(
            aws.rds
                .describe_db_cluster_parameters()
                .db_cluster_parameter_group_name(name)
                .source("user")
                .into_paginator()
                .send(),
        )
        .await;
    let pages = match pages {
        Ok(pages) => pages,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(
        pages
            .iter()
            .flat_map(|p| p.parameters())
            .filter_map(|p| {
                Some((
                    p.parameter_name()?.to_string(),
                    p.parameter_value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
    ))
}

/// Apply types (`dynamic`/`static`) of the named parameters, read from the whole group
/// (engine defaults included). Only called in a pass that changes parameters.
pub async fn apply_types(
    aws: &AwsCtx,
    name: &str,
    wanted: &[&str],
) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = BTreeMap::new();
    let pages = aws
        .rds
        .describe_db_cluster_parameters()
        .db_cluster_parameter_group_name(name)
        .into_paginator()
        .send();
    aws.each_page(pages, |page| {
        for p in page.parameters() {
            if let (Some(n), Some(t)) = (p.parameter_name(), p.apply_type())
                && wanted.contains(&n)
            {
                out.insert(n.to_string(), t.to_string());
            }
        }
        if out.len() < wanted.len() { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }
    })
    .await?;
    Ok(out)
}

pub async fn create_parameter_group(
    aws: &AwsCtx,
    want: &DesiredParameterGroup,
) -> Result<(), AwsError> {
    aws.tolerate(
        &["DBParameterGroupAlreadyExists"],
        aws.rds
            .create_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(&want.name)
            .db_parameter_group_family(&want.family)
            .description(&want.description)
            .set_tags(Some(rds_tags(&want.tags)))
            .send(),
    )
    .await
    .map(drop)
}

/// Sets parameters, `(name, value, apply method)`, at most [`MAX_PER_CALL`] per call.
pub async fn set_parameters(
    aws: &AwsCtx,
    group: &str,
    params: &[(String, String, &'static str)],
) -> Result<(), AwsError> {
    for chunk in params.chunks(MAX_PER_CALL) {
        let parameters = chunk
            .iter()
            .map(|(n, v, m)| {
                Parameter::builder()
                    .parameter_name(n)
                    .parameter_value(v)
                    .apply_method(ApplyMethod::from(*m))
                    .build()
            })
            .collect();
        aws.call(
            aws.rds
                .modify_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(group)
                .set_parameters(Some(parameters))
                .send(),
        )
        .await?;
    }
    Ok(())
}

/// Resets parameters to the engine default (applied at the next reboot for static ones).
pub async fn reset_parameters(aws: &AwsCtx, group: &str, names: &[String]) -> Result<(), AwsError> {
    for chunk in names.chunks(MAX_PER_CALL) {
        let parameters = chunk
            .iter()
            .map(|n| {
                Parameter::builder()
                    .parameter_name(n)
                    .apply_method(ApplyMethod::PendingReboot)
                    .build()
            })
            .collect();
        aws.call(
            aws.rds
                .reset_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(group)
                .set_parameters(Some(parameters))
                .send(),
        )
        .await?;
    }
    Ok(())
}

/// Deletes the parameter group; `false` when it was already gone.
pub async fn delete_parameter_group(aws: &AwsCtx, name: &str) -> Result<bool, AwsError> {
    match aws
        .find(
            aws.rds
                .delete_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(name)
                .send(),
        )
        .await?
    {
        Some(_) => Ok(true),
        None => Ok(false),
    }
}
