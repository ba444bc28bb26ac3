//! Aurora clusters and instances of an environment (step: observe / create / update /
//! delete, ACK's shape; only calls AWS, decisions are in `plan::database`).
//!
//! Clusters are found by deterministic identifier (`DescribeDBClusters` with the
//! `db-cluster-id` filter), or, when the operator has no hint, by listing the region's
//! clusters and keeping those tagged with the environment's UID. Every call waits for the
//! RDS budget first. Not-found answers become `Ok(None)` / empty lists; everything else is
//! classified with the RDS list of terminal codes below.

pub mod groups;
pub mod snapshots;

use aws_sdk_rds::types::{
    CloudwatchLogsExportConfiguration, DbCluster, Filter, ServerlessV2ScalingConfiguration, Tag,
};
use jiff::Timestamp;

use crate::plan::TagSet;
use crate::plan::database::cluster::{
    ClusterModification, DesiredCluster, ObservedCluster, ObservedMasterSecret, ObservedMember,
};
use crate::plan::database::instances::{NewInstance, ObservedInstance};
use crate::plan::database::{
    CA_CERTIFICATE, DATABASE_NAME, ENGINE, INSTANCE_CLASS, MASTER_USERNAME,
};

use super::{AwsCtx, AwsError};

pub(crate) fn rds_tags(tags: &TagSet) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

pub(crate) fn tag_set(tags: &[Tag]) -> TagSet {
    tags.iter().filter_map(|t| Some((t.key()?, t.value().unwrap_or_default()))).collect()
}

pub(crate) fn timestamp(t: &aws_smithy_types::DateTime) -> Timestamp {
    Timestamp::from_second(t.secs()).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn observed(c: &DbCluster) -> ObservedCluster {
    let scaling = c.serverless_v2_scaling_configuration();
    ObservedCluster {
        id: c.db_cluster_identifier().unwrap_or_default().to_string(),
        arn: c.db_cluster_arn().unwrap_or_default().to_string(),
        resource_id: c.db_cluster_resource_id().unwrap_or_default().to_string(),
        status: c.status().unwrap_or_default().to_string(),
        engine: c.engine().unwrap_or_default().to_string(),
        engine_version: c.engine_version().unwrap_or_default().to_string(),
        min_acu: scaling.and_then(|s| s.min_capacity()),
        max_acu: scaling.and_then(|s| s.max_capacity()),
        backtrack_seconds: c.backtrack_window(),
        backup_retention_days: c.backup_retention_period(),
        maintenance_window: c.preferred_maintenance_window().map(str::to_string),
        backup_window: c.preferred_backup_window().map(str::to_string),
        log_exports: c.enabled_cloudwatch_logs_exports().iter().cloned().collect(),
        iam_auth: c.iam_database_authentication_enabled().unwrap_or(false),
        deletion_protection: c.deletion_protection().unwrap_or(false),
        copy_tags_to_snapshot: c.copy_tags_to_snapshot().unwrap_or(false),
        master_secret: c.master_user_secret().and_then(|s| {
            Some(ObservedMasterSecret {
                arn: s.secret_arn()?.to_string(),
                status: s.secret_status().map(str::to_string),
                kms_key_id: s.kms_key_id().map(str::to_string),
            })
        }),
        security_group_ids: c
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect(),
        parameter_group: c.db_cluster_parameter_group().map(str::to_string),
        endpoint: c.endpoint().map(str::to_string),
        reader_endpoint: c.reader_endpoint().map(str::to_string),
        port: c.port(),
        latest_restorable_time: c.latest_restorable_time().map(timestamp),
        earliest_restorable_time: c.earliest_restorable_time().map(timestamp),
        created: c.cluster_create_time().map(timestamp),
        members: c
            .db_cluster_members()
            .iter()
            .map(|m| ObservedMember {
                id: m.db_instance_identifier().unwrap_or_default().to_string(),
                writer: m.is_cluster_writer().unwrap_or(false),
                parameter_group_status: m.db_cluster_parameter_group_status().map(str::to_string),
            })
            .collect(),
        tags: tag_set(c.tag_list()),
    }
}

/// One cluster by identifier (or ARN), or `None`.
pub async fn describe_cluster(aws: &AwsCtx, id: &str) -> Result<Option<ObservedCluster>, AwsError> {
    let out = aws.find(aws.rds.describe_db_clusters().db_cluster_identifier(id).send()).await?;
    Ok(out.and_then(|o| o.db_clusters().first().map(observed)))
}

/// The clusters with these identifiers (one call; absent ones are left out).
pub async fn describe_clusters(
    aws: &AwsCtx,
    ids: &[String],
) -> Result<Vec<ObservedCluster>, AwsError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let filter = Filter::builder().name("db-cluster-id").set_values(Some(ids.to_vec())).build();
    let pages =
        aws.pages(aws.rds.describe_db_clusters().filters(filter).into_paginator().send()).await?;
    Ok(pages.iter().flat_map(|p| p.db_clusters()).map(observed).collect())
}

/// Every cluster of the region tagged with `uid` (a full listing: used when the
/// operator has no hint, e.g. a new environment, a lost status, or deletion).
pub async fn list_owned_clusters(
    aws: &AwsCtx,
    uid: &str,
) -> Result<Vec<ObservedCluster>, AwsError> {
    let pages = aws.pages(aws.rds.describe_db_clusters().into_paginator().send()).await?;
    Ok(pages
        .iter()
        .flat_map(|p| p.db_clusters())
        .map(observed)
        .filter(|c| c.tags.is_owned_by(uid))
        .collect())
}

fn scaling(want: &DesiredCluster) -> ServerlessV2ScalingConfiguration {
    ServerlessV2ScalingConfiguration::builder()
        .min_capacity(want.min_acu)
        .max_capacity(want.max_acu)
        .build()
}

/// The settings a new cluster takes at creation and at both kinds of restore (their
/// builders share these setters but no trait).
macro_rules! with_cluster_settings {
    ($builder:expr, $want:expr, $tags:expr) => {
        $builder
            .db_subnet_group_name(&$want.subnet_group)
            .set_vpc_security_group_ids(Some($want.security_group_ids.iter().cloned().collect()))
            .db_cluster_parameter_group_name(&$want.parameter_group)
            .kms_key_id(&$want.kms_key_arn)
            .backtrack_window($want.backtrack_seconds)
            .backup_retention_period($want.backup_retention_days)
            .set_preferred_backup_window($want.backup_window.clone())
            .set_enable_cloudwatch_logs_exports(Some($want.log_exports.iter().cloned().collect()))
            .enable_iam_database_authentication($want.iam_auth)
            .deletion_protection(true)
            .copy_tags_to_snapshot(true)
            .serverless_v2_scaling_configuration(scaling($want))
            .set_tags(Some(rds_tags($tags)))
    };
}

/// Creates an empty cluster (`tags`: ownership, user and state tags).
pub async fn create_cluster(
    aws: &AwsCtx,
    id: &str,
    want: &DesiredCluster,
    tags: &TagSet,
) -> Result<ObservedCluster, AwsError> {
    let out = aws
        .call(
            with_cluster_settings!(
                aws.rds
                    .create_db_cluster()
                    .db_cluster_identifier(id)
                    .engine(ENGINE)
                    .engine_version(want.engine_version.as_str())
                    .master_username(MASTER_USERNAME)
                    .manage_master_user_password(true)
                    .master_user_secret_kms_key_id(&want.kms_key_arn)
                    .database_name(DATABASE_NAME)
                    .storage_encrypted(true)
                    .set_preferred_maintenance_window(want.maintenance_window.clone()),
                want,
                tags
            )
            .send(),
        )
        .await?;
    Ok(out.db_cluster().map(observed).unwrap_or_default())
}

/// Builds a new cluster from a snapshot (name or ARN). The restore takes the spec's
/// settings where the API allows; the rest (maintenance window, managed master
/// password) is converged afterwards like on any cluster.
pub async fn restore_from_snapshot(
    aws: &AwsCtx,
    id: &str,
    snapshot: &str,
    want: &DesiredCluster,
    tags: &TagSet,
) -> Result<(), AwsError> {
    aws.run(
        with_cluster_settings!(
            aws.rds
                .restore_db_cluster_from_snapshot()
                .db_cluster_identifier(id)
                .snapshot_identifier(snapshot)
                .engine(ENGINE)
                .engine_version(want.engine_version.as_str()),
            want,
            tags
        )
        .send(),
    )
    .await
}

/// Builds a new cluster from another cluster's automated backups, at `time` (or the
/// latest restorable time). The engine version is the source's; an upgrade to the
/// spec's version follows like on any cluster.
pub async fn restore_to_point_in_time(
    aws: &AwsCtx,
    id: &str,
    source: &str,
    time: Option<Timestamp>,
    want: &DesiredCluster,
    tags: &TagSet,
) -> Result<(), AwsError> {
    let mut req = with_cluster_settings!(
        aws.rds
            .restore_db_cluster_to_point_in_time()
            .db_cluster_identifier(id)
            .source_db_cluster_identifier(source)
            .restore_type("full-copy"),
        want,
        tags
    );
    req = match time {
        Some(t) => req.restore_to_time(aws_smithy_types::DateTime::from_secs(t.as_second())),
        None => req.use_latest_restorable_time(true),
    };
    aws.run(req.send()).await
}

/// Applies one modification, immediately (not in the maintenance window).
pub async fn modify_cluster(
    aws: &AwsCtx,
    id: &str,
    m: &ClusterModification,
) -> Result<(), AwsError> {
    if m.is_empty() {
        return Ok(());
    }
    let logs = (!m.enable_logs.is_empty() || !m.disable_logs.is_empty()).then(|| {
        CloudwatchLogsExportConfiguration::builder()
            .set_enable_log_types(Some(m.enable_logs.clone()).filter(|v| !v.is_empty()))
            .set_disable_log_types(Some(m.disable_logs.clone()).filter(|v| !v.is_empty()))
            .build()
    });
    let mut req = aws
        .rds
        .modify_db_cluster()
        .db_cluster_identifier(id)
        .apply_immediately(true)
        .set_backtrack_window(m.backtrack_seconds)
        .set_backup_retention_period(m.backup_retention_days)
        .set_preferred_maintenance_window(m.maintenance_window.clone())
        .set_preferred_backup_window(m.backup_window.clone())
        .set_cloudwatch_logs_export_configuration(logs)
        .set_enable_iam_database_authentication(m.iam_auth)
        .set_deletion_protection(m.deletion_protection)
        .set_copy_tags_to_snapshot(m.copy_tags_to_snapshot)
        .set_vpc_security_group_ids(m.security_group_ids.clone())
        .set_db_cluster_parameter_group_name(m.parameter_group.clone());
    if let Some((version, major)) = &m.engine_version {
        req = req.engine_version(version).allow_major_version_upgrade(*major);
    }
    if let Some((min, max)) = m.scaling {
        req = req.serverless_v2_scaling_configuration(
            ServerlessV2ScalingConfiguration::builder().min_capacity(min).max_capacity(max).build(),
        );
    }
    if let Some(key) = &m.manage_master_password_with_key {
        req = req.manage_master_user_password(true).master_user_secret_kms_key_id(key);
    }
    aws.run(req.send()).await
}

/// Adds or overwrites tags on any RDS resource (never removes any).
pub async fn add_tags(aws: &AwsCtx, arn: &str, tags: &TagSet) -> Result<(), AwsError> {
    if tags.is_empty() {
        return Ok(());
    }
    aws.run(aws.rds.add_tags_to_resource().resource_name(arn).set_tags(Some(rds_tags(tags))).send())
        .await
}

/// Deletes a cluster (its instances must be gone), with a final snapshot or without;
/// a cluster already gone is fine.
pub async fn delete_cluster(
    aws: &AwsCtx,
    id: &str,
    final_snapshot: Option<&str>,
) -> Result<(), AwsError> {
    let req = aws.rds.delete_db_cluster().db_cluster_identifier(id);
    let req = match final_snapshot {
        Some(s) => req.final_db_snapshot_identifier(s).skip_final_snapshot(false),
        None => req.skip_final_snapshot(true),
    };
    aws.delete(req.send()).await.map(drop)
}

/// The instances of these clusters, with the cluster each belongs to. Writer flags come
/// from the cluster's member list (`writers`).
pub async fn describe_instances(
    aws: &AwsCtx,
    cluster_ids: &[String],
) -> Result<Vec<(String, ObservedInstance)>, AwsError> {
    if cluster_ids.is_empty() {
        return Ok(Vec::new());
    }
    let filter =
        Filter::builder().name("db-cluster-id").set_values(Some(cluster_ids.to_vec())).build();
    let pages = match aws
        .pages(aws.rds.describe_db_instances().filters(filter).into_paginator().send())
        .await
    {
        Ok(pages) => pages,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(pages
        .iter()
        .flat_map(|p| p.db_instances())
        .map(|i| {
            (
                i.db_cluster_identifier().unwrap_or_default().to_string(),
                ObservedInstance {
                    id: i.db_instance_identifier().unwrap_or_default().to_string(),
                    status: i.db_instance_status().unwrap_or_default().to_string(),
                    writer: false,
                    promotion_tier: i.promotion_tier(),
                    parameters_pending_reboot: false,
                },
            )
        })
        .collect())
}

/// Creates a `db.serverless` instance in the cluster. An instance that already exists
/// under the name (a retried create) is fine.
pub async fn create_instance(
    aws: &AwsCtx,
    cluster_id: &str,
    new: &NewInstance,
    tags: &TagSet,
) -> Result<(), AwsError> {
    aws.tolerate(
        &["DBInstanceAlreadyExists"],
        aws.rds
            .create_db_instance()
            .db_instance_identifier(&new.id)
            .db_cluster_identifier(cluster_id)
            .engine(ENGINE)
            .db_instance_class(INSTANCE_CLASS)
            .promotion_tier(new.promotion_tier)
            .set_availability_zone(new.availability_zone.clone())
            .publicly_accessible(false)
            .auto_minor_version_upgrade(true)
            .ca_certificate_identifier(CA_CERTIFICATE)
            .set_tags(Some(rds_tags(tags)))
            .send(),
    )
    .await
    .map(drop)
}

/// Deletes an instance of a cluster (no snapshot: the data is in the cluster volume); an
/// instance already gone is fine.
pub async fn delete_instance(aws: &AwsCtx, id: &str) -> Result<(), AwsError> {
    aws.delete(aws.rds.delete_db_instance().db_instance_identifier(id).send()).await.map(drop)
}
