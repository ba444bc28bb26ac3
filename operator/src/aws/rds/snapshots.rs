//! Cluster snapshots: on-demand, pre-restore and restore sources (step: observe / create
//! / delete; decisions in `plan::database`).

use aws_sdk_rds::types::DbClusterSnapshot;

use crate::plan::TagSet;
use crate::plan::database::ObservedSnapshot;
use crate::plan::database::names::{SNAPSHOT_ID_TAG, taken_by_operator};

use super::{rds_tags, tag_set, timestamp};
use crate::aws::{AwsCtx, AwsError};

fn observed(s: &DbClusterSnapshot) -> ObservedSnapshot {
    ObservedSnapshot {
        id: s.db_cluster_snapshot_identifier().unwrap_or_default().to_string(),
        arn: s.db_cluster_snapshot_arn().unwrap_or_default().to_string(),
        status: s.status().unwrap_or_default().to_string(),
        engine: s.engine().unwrap_or_default().to_string(),
        engine_version: s.engine_version().unwrap_or_default().to_string(),
        cluster_id: s.db_cluster_identifier().unwrap_or_default().to_string(),
        snapshot_type: s.snapshot_type().unwrap_or_default().to_string(),
        created: s.snapshot_create_time().map(timestamp),
        tags: tag_set(s.tag_list()),
    }
}

/// One snapshot by identifier, or by ARN (snapshots shared from other accounts), or
/// `None`.
pub async fn describe_snapshot(
    aws: &AwsCtx,
    id: &str,
) -> Result<Option<ObservedSnapshot>, AwsError> {
    let mut req = aws.rds.describe_db_cluster_snapshots().db_cluster_snapshot_identifier(id);
    if id.starts_with("arn:") {
        req = req.include_shared(true);
    }
    let out = aws.find(req.send()).await?;
    Ok(out.and_then(|o| o.db_cluster_snapshots().first().map(observed)))
}

/// Takes a manual snapshot of a cluster, marked as the operator's
/// ([`SNAPSHOT_ID_TAG`]). One that already exists under the name (a retried request) is
/// fine.
pub async fn create_snapshot(
    aws: &AwsCtx,
    cluster_id: &str,
    id: &str,
    tags: &TagSet,
) -> Result<(), AwsError> {
    let mut tags = tags.clone();
    tags.insert(SNAPSHOT_ID_TAG, id);
    aws.tolerate(
        &["DBClusterSnapshotAlreadyExistsFault"],
        aws.rds
            .create_db_cluster_snapshot()
            .db_cluster_identifier(cluster_id)
            .db_cluster_snapshot_identifier(id)
            .set_tags(Some(rds_tags(&tags)))
            .send(),
    )
    .await
    .map(drop)
}

/// The region's manual cluster snapshots of the environment (`uid`, `environment_id`)
/// that the operator took (deletion under `Delete`): never one a person took of the
/// environment's cluster, although it carries the cluster's ownership tags.
pub async fn list_operator_snapshots(
    aws: &AwsCtx,
    uid: &str,
    environment_id: &str,
) -> Result<Vec<ObservedSnapshot>, AwsError> {
    let pages = aws
        .pages(
            aws.rds.describe_db_cluster_snapshots().snapshot_type("manual").into_paginator().send(),
        )
        .await?;
    Ok(pages
        .iter()
        .flat_map(|p| p.db_cluster_snapshots())
        .map(observed)
        .filter(|s| s.tags.is_owned_by(uid))
        .filter(|s| taken_by_operator(environment_id, &s.id, &s.tags))
        .collect())
}

/// Deletes a manual snapshot; one already gone is fine.
pub async fn delete_snapshot(aws: &AwsCtx, id: &str) -> Result<(), AwsError> {
    aws.delete(aws.rds.delete_db_cluster_snapshot().db_cluster_snapshot_identifier(id).send())
        .await
        .map(drop)
}
