//! Cluster snapshots: on-demand, pre-restore and restore sources (step: observe / create
//! / delete; decisions in `plan::database`).

use aws_sdk_rds::types::DbClusterSnapshot;

use crate::plan::TagSet;
use crate::plan::database::ObservedSnapshot;

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

/// Takes a manual snapshot of a cluster. One that already exists under the name (a
/// retried request) is fine.
pub async fn create_snapshot(
    aws: &AwsCtx,
    cluster_id: &str,
    id: &str,
    tags: &TagSet,
) -> Result<(), AwsError> {
    aws.tolerate(
        &["DBClusterSnapshotAlreadyExistsFault"],
        aws.rds
            .create_db_cluster_snapshot()
            .db_cluster_identifier(cluster_id)
            .db_cluster_snapshot_identifier(id)
            .set_tags(Some(rds_tags(tags)))
            .send(),
    )
    .await
    .map(drop)
}

/// The region's manual cluster snapshots tagged with `uid` (deletion under `Delete`).
pub async fn list_owned_manual_snapshots(
    aws: &AwsCtx,
    uid: &str,
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
        .collect())
}

/// Deletes a manual snapshot; one already gone is fine.
pub async fn delete_snapshot(aws: &AwsCtx, id: &str) -> Result<(), AwsError> {
    aws.delete(aws.rds.delete_db_cluster_snapshot().db_cluster_snapshot_identifier(id).send())
        .await
        .map(drop)
}
