//! Route 53: hosted zones and the record sets the environment needs in them (step:
//! observe / create / change / delete; only calls AWS, decisions are in `plan::dns`,
//! `plan::domain` and `plan::email`).
//!
//! Record sets are read one at a time (`StartRecordName`, `StartRecordType`,
//! `MaxItems=1`), so a steady-state pass reads only what the environment needs, however
//! large the zone. Writes are `CREATE` and `DELETE`-exactly-as-read plus `CREATE` in one
//! batch (see `plan::dns`): a batch that finds the set changed since it was read fails
//! with `InvalidChangeBatch`, which [`refine`] makes a retry (the next pass reads again),
//! not a stall.
//!
//! The functions take the Route 53 client to use: the environment's, or one acting in
//! the parent zone's account (`AwsCtx::route53_as`). Every call waits for the Route 53
//! budget first.

use aws_sdk_route53::Client;
use aws_sdk_route53::types::{
    AliasTarget as SdkAlias, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet,
    RrType, Tag, TagResourceType,
};

use crate::plan::dns::{AliasTarget, RecordSet, RecordWrite, normalize_name};
use crate::plan::tags::TagSet;

use super::{AwsCtx, AwsError, ErrorClass};

const SERVICE: &str = "route53";
const CHANGE: &str = "ChangeResourceRecordSets";

/// A conflict of a change batch with the zone's current content (a set created, changed
/// or deleted since it was read) is retried: the next pass reads again and decides anew.
/// Other `InvalidChangeBatch` answers (a CNAME at the apex, a bad value) stay terminal.
pub fn refine(e: &mut AwsError) {
    if e.code == "InvalidChangeBatch" {
        let m = e.message.to_ascii_lowercase();
        if m.contains("already exists")
            || m.contains("not found")
            || m.contains("values provided do not match")
            || m.contains("conflicting")
        {
            e.class = ErrorClass::Recoverable;
        }
    }
}

/// A public hosted zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedZone {
    /// Without the `/hostedzone/` prefix.
    pub id: String,
    pub name: String,
    pub caller_reference: String,
}

fn zone_id(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_string()
}

/// Every public zone named `zone_name` (several may share a name).
pub async fn zones_named(
    aws: &AwsCtx,
    client: &Client,
    zone_name: &str,
) -> Result<Vec<ObservedZone>, AwsError> {
    let want = normalize_name(zone_name);
    let out =
        aws.call(client.list_hosted_zones_by_name().dns_name(&want).max_items(100).send()).await?;
    Ok(out
        .hosted_zones()
        .iter()
        .filter(|z| {
            normalize_name(z.name()) == want && !z.config().is_some_and(|c| c.private_zone())
        })
        .map(|z| ObservedZone {
            id: zone_id(z.id()),
            name: want.clone(),
            caller_reference: z.caller_reference().to_string(),
        })
        .collect())
}

/// The zone's tags.
pub async fn zone_tags(aws: &AwsCtx, zone: &ObservedZone) -> Result<TagSet, AwsError> {
    let out = aws
        .call(
            aws.route53
                .list_tags_for_resource()
                .resource_type(TagResourceType::Hostedzone)
                .resource_id(&zone.id)
                .send(),
        )
        .await?;
    let mut tags = TagSet::new();
    if let Some(set) = out.resource_tag_set() {
        for t in set.tags() {
            if let Some(k) = t.key() {
                tags.insert(k, t.value().unwrap_or_default());
            }
        }
    }
    Ok(tags)
}

/// The public zone named `zone_name`, or `None`. `with_tags`: also return its tags (to
/// check ownership of a zone the environment creates).
pub async fn find_zone(
    aws: &AwsCtx,
    zone_name: &str,
    with_tags: bool,
) -> Result<Option<(ObservedZone, TagSet)>, AwsError> {
    let zones = zones_named(aws, &aws.route53, zone_name).await?;
    let Some(zone) = zones.into_iter().next() else {
        return Ok(None);
    };
    let tags = if with_tags { zone_tags(aws, &zone).await? } else { TagSet::new() };
    Ok(Some((zone, tags)))
}

/// Creates a public zone; `None` when Route 53 answers `HostedZoneAlreadyExists` (the
/// reference was used: by an earlier attempt whose answer was lost, or by a zone deleted
/// since).
pub async fn create_zone(
    aws: &AwsCtx,
    name: &str,
    caller_reference: &str,
) -> Result<Option<ObservedZone>, AwsError> {
    let out = aws
        .tolerate(
            &["HostedZoneAlreadyExists"],
            aws.route53.create_hosted_zone().name(name).caller_reference(caller_reference).send(),
        )
        .await?;
    Ok(out.and_then(|o| {
        o.hosted_zone().map(|z| ObservedZone {
            id: zone_id(z.id()),
            name: normalize_name(z.name()),
            caller_reference: z.caller_reference().to_string(),
        })
    }))
}

/// Adds (or overwrites) tags on the zone.
pub async fn tag_zone(aws: &AwsCtx, zone: &ObservedZone, tags: &TagSet) -> Result<(), AwsError> {
    let tags: Vec<Tag> = tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    aws.run(
        aws.route53
            .change_tags_for_resource()
            .resource_type(TagResourceType::Hostedzone)
            .resource_id(&zone.id)
            .set_add_tags(Some(tags))
            .send(),
    )
    .await
}

/// The zone's name servers (its delegation set), without trailing dots.
pub async fn name_servers(aws: &AwsCtx, zone: &ObservedZone) -> Result<Vec<String>, AwsError> {
    let out = aws.call(aws.route53.get_hosted_zone().id(&zone.id).send()).await?;
    Ok(out
        .delegation_set()
        .map(|d| d.name_servers().iter().map(|n| normalize_name(n)).collect())
        .unwrap_or_default())
}

/// Deletes the zone (Route 53 refuses while it holds more than its SOA and NS sets).
pub async fn delete_zone(aws: &AwsCtx, zone: &ObservedZone) -> Result<bool, AwsError> {
    aws.delete(aws.route53.delete_hosted_zone().id(&zone.id).send()).await
}

fn observed(s: &ResourceRecordSet) -> RecordSet {
    RecordSet {
        name: normalize_name(s.name()),
        type_: s.r#type().as_str().to_string(),
        ttl: s.ttl(),
        values: s.resource_records().iter().map(|r| r.value().to_string()).collect(),
        alias: s.alias_target().map(|a| AliasTarget::new(a.dns_name(), a.hosted_zone_id())),
    }
}

/// The record set `name`/`type_` of the zone, if any (weighted and other routed sets,
/// which the operator never writes, are not matched).
pub async fn read_set(
    aws: &AwsCtx,
    client: &Client,
    zone: &ObservedZone,
    name: &str,
    type_: &str,
) -> Result<Option<RecordSet>, AwsError> {
    let want = normalize_name(name);
    let out = aws
        .call(
            client
                .list_resource_record_sets()
                .hosted_zone_id(&zone.id)
                .start_record_name(&want)
                .start_record_type(RrType::from(type_))
                .max_items(1)
                .send(),
        )
        .await?;
    Ok(out
        .resource_record_sets()
        .iter()
        .find(|s| {
            normalize_name(s.name()) == want
                && s.r#type().as_str() == type_
                && s.set_identifier().is_none()
        })
        .map(observed))
}

/// Every record set of the zone (deletion: is anything left besides SOA and NS?).
pub async fn all_sets(aws: &AwsCtx, zone: &ObservedZone) -> Result<Vec<RecordSet>, AwsError> {
    let mut out = Vec::new();
    let mut start: Option<(String, RrType)> = None;
    loop {
        let mut req = aws.route53.list_resource_record_sets().hosted_zone_id(&zone.id);
        if let Some((name, type_)) = &start {
            req = req.start_record_name(name).start_record_type(type_.clone());
        }
        let page = aws.call(req.send()).await?;
        out.extend(page.resource_record_sets().iter().map(observed));
        match (page.is_truncated(), page.next_record_name(), page.next_record_type()) {
            (true, Some(name), Some(type_)) => start = Some((name.to_string(), type_.clone())),
            _ => return Ok(out),
        }
    }
}

fn sdk_set(set: &RecordSet) -> Result<ResourceRecordSet, AwsError> {
    let build = |e| AwsError::build(SERVICE, CHANGE, e);
    let mut b =
        ResourceRecordSet::builder().name(&set.name).r#type(RrType::from(set.type_.as_str()));
    match &set.alias {
        Some(a) => {
            b = b.alias_target(
                SdkAlias::builder()
                    .dns_name(&a.dns_name)
                    .hosted_zone_id(&a.zone_id)
                    .evaluate_target_health(false)
                    .build()
                    .map_err(build)?,
            );
        }
        None => {
            b = b.set_ttl(set.ttl);
            for value in &set.values {
                b = b.resource_records(
                    ResourceRecord::builder().value(value).build().map_err(build)?,
                );
            }
        }
    }
    b.build().map_err(build)
}

fn change(action: ChangeAction, set: &RecordSet) -> Result<Change, AwsError> {
    Change::builder()
        .action(action)
        .resource_record_set(sdk_set(set)?)
        .build()
        .map_err(|e| AwsError::build(SERVICE, CHANGE, e))
}

/// Applies the writes in one atomic batch; returns the change id (`None`: nothing to do).
pub async fn write(
    aws: &AwsCtx,
    client: &Client,
    zone: &ObservedZone,
    writes: &[RecordWrite],
    comment: &str,
) -> Result<Option<String>, AwsError> {
    let mut changes = Vec::new();
    for w in writes {
        match w {
            RecordWrite::Create(s) => changes.push(change(ChangeAction::Create, s)?),
            RecordWrite::Delete(s) => changes.push(change(ChangeAction::Delete, s)?),
            RecordWrite::Replace { old, new } => {
                changes.push(change(ChangeAction::Delete, old)?);
                changes.push(change(ChangeAction::Create, new)?);
            }
        }
    }
    if changes.is_empty() {
        return Ok(None);
    }
    let batch = ChangeBatch::builder()
        .set_changes(Some(changes))
        .comment(comment)
        .build()
        .map_err(|e| AwsError::build(SERVICE, CHANGE, e))?;
    let out = aws
        .call(
            client
                .change_resource_record_sets()
                .hosted_zone_id(&zone.id)
                .change_batch(batch)
                .send(),
        )
        .await?;
    Ok(out.change_info().map(|c| c.id().to_string()))
}
