//! Route 53 records the environment needs in its hosted zone (step: observe / upsert /
//! delete; only calls AWS, decisions are in `plan::email`).
//!
//! Today this writes the SES records; the DNS component will add the site's own records
//! and certificate validation. Records are read one set at a time (`StartRecordName`,
//! `MaxItems=1`), so a steady-state pass reads only what the environment owns, however
//! large the zone. Every call waits for the Route 53 budget first.

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType, TagResourceType,
};

use crate::plan::email::{ObservedRecordSet, RECORD_TTL, SesRecord, normalize_name};
use crate::plan::tags::TagSet;

use super::{AwsCtx, AwsError};

const SERVICE: &str = "route53";

/// A public hosted zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedZone {
    /// Without the `/hostedzone/` prefix.
    pub id: String,
    pub name: String,
}

/// The public zone named `zone_name`, or `None`. `with_tags`: also return its tags (to
/// check ownership of a zone the environment creates).
pub async fn find_zone(
    aws: &AwsCtx,
    zone_name: &str,
    with_tags: bool,
) -> Result<Option<(ObservedZone, TagSet)>, AwsError> {
    let want = normalize_name(zone_name);
    let out = aws
        .call(aws.route53.list_hosted_zones_by_name().dns_name(&want).max_items(10).send())
        .await?;
    let zone = out.hosted_zones().iter().find(|z| {
        normalize_name(z.name()) == want && !z.config().is_some_and(|c| c.private_zone())
    });
    let Some(zone) = zone else {
        return Ok(None);
    };
    let id = zone.id().trim_start_matches("/hostedzone/").to_string();
    let mut tags = TagSet::new();
    if with_tags {
        let out = aws
            .call(
                aws.route53
                    .list_tags_for_resource()
                    .resource_type(TagResourceType::Hostedzone)
                    .resource_id(&id)
                    .send(),
            )
            .await?;
        if let Some(set) = out.resource_tag_set() {
            for t in set.tags() {
                if let Some(k) = t.key() {
                    tags.insert(k, t.value().unwrap_or_default());
                }
            }
        }
    }
    Ok(Some((ObservedZone { id, name: want }, tags)))
}

/// The record sets of `zone` that the wanted records name.
pub async fn read_records(
    aws: &AwsCtx,
    zone: &ObservedZone,
    want: &[SesRecord],
) -> Result<Vec<ObservedRecordSet>, AwsError> {
    let mut seen = Vec::new();
    for record in want {
        let out = aws
            .call(
                aws.route53
                    .list_resource_record_sets()
                    .hosted_zone_id(&zone.id)
                    .start_record_name(&record.name)
                    .start_record_type(RrType::from(record.type_))
                    .max_items(1)
                    .send(),
            )
            .await?;
        seen.extend(
            out.resource_record_sets()
                .iter()
                .filter(|s| {
                    normalize_name(s.name()) == record.name && s.r#type().as_str() == record.type_
                })
                .map(|s| ObservedRecordSet {
                    name: normalize_name(s.name()),
                    type_: s.r#type().as_str().to_string(),
                    ttl: s.ttl().unwrap_or(RECORD_TTL),
                    values: s.resource_records().iter().map(|r| r.value().to_string()).collect(),
                }),
        );
    }
    Ok(seen)
}

fn record_set(
    name: &str,
    type_: &str,
    ttl: i64,
    values: &[String],
) -> Result<ResourceRecordSet, AwsError> {
    let build = |e| AwsError::build(SERVICE, "ChangeResourceRecordSets", e);
    let mut set = ResourceRecordSet::builder().name(name).r#type(RrType::from(type_)).ttl(ttl);
    for value in values {
        set = set.resource_records(ResourceRecord::builder().value(value).build().map_err(build)?);
    }
    set.build().map_err(build)
}

async fn change(
    aws: &AwsCtx,
    zone: &ObservedZone,
    changes: Vec<Change>,
    comment: &str,
) -> Result<(), AwsError> {
    if changes.is_empty() {
        return Ok(());
    }
    let batch = ChangeBatch::builder()
        .set_changes(Some(changes))
        .comment(comment)
        .build()
        .map_err(|e| AwsError::build(SERVICE, "ChangeResourceRecordSets", e))?;
    aws.run(
        aws.route53
            .change_resource_record_sets()
            .hosted_zone_id(&zone.id)
            .change_batch(batch)
            .send(),
    )
    .await
}

/// Creates or replaces the records (one atomic change batch).
pub async fn upsert(
    aws: &AwsCtx,
    zone: &ObservedZone,
    records: &[SesRecord],
) -> Result<(), AwsError> {
    let changes = records
        .iter()
        .map(|r| {
            Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(record_set(
                    &r.name,
                    r.type_,
                    RECORD_TTL,
                    std::slice::from_ref(&r.value),
                )?)
                .build()
                .map_err(|e| AwsError::build(SERVICE, "ChangeResourceRecordSets", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    change(aws, zone, changes, "redcap-operator: SES records").await
}

/// Deletes record sets exactly as they were read (Route 53 deletes only exact matches).
/// Only sets holding the operator's value are passed in.
pub async fn delete(
    aws: &AwsCtx,
    zone: &ObservedZone,
    sets: &[ObservedRecordSet],
) -> Result<(), AwsError> {
    let changes = sets
        .iter()
        .map(|s| {
            Change::builder()
                .action(ChangeAction::Delete)
                .resource_record_set(record_set(&s.name, &s.type_, s.ttl, &s.values)?)
                .build()
                .map_err(|e| AwsError::build(SERVICE, "ChangeResourceRecordSets", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    change(aws, zone, changes, "redcap-operator: SES records removed").await
}
