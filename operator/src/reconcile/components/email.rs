//! `email`: the SES identity, its configuration set and the SNS topic for bounces and
//! complaints (sequences `plan::email` decisions and `aws::{email, route53}` calls).
//!
//! Order: look at the identity, then the SNS topic (created first: its tags record which
//! identity this environment created, written before the identity is), the configuration
//! set and its event destination, the topic's email subscription, the identity itself,
//! and finally its DNS records (Route 53, or `status.outputs.dnsRecords`). A pending
//! verification is reported, not waited for: mail flows once SES says `Success`. A failed
//! verification is requested again and stalls the environment with what to fix.
//!
//! Deletion: the configuration set and the topic go on every policy; the identity only
//! with `Delete`, and only when this environment created it (the topic's marker tag),
//! together with the DNS records it wrote for it.

use crate::api::{ComponentName, DeletionPolicy, Outputs};
use crate::aws::{AwsCtx, AwsError, email, route53 as dns};
use crate::plan::dns::{RecordSet, WantedRecord};
use crate::plan::email::RECORD_TTL;
use crate::plan::email::{
    DesiredEmail, DnsTarget, IDENTITY_MARKER_TAG, IdentityKind, ObservedIdentity, SUBSCRIBED_TAG,
    SesRecord, desired_email, email_outputs, event_destination_in_sync, identity_changes,
    output_record, ses_records, subscription_changes, topic_arn, verification_failed,
};
use crate::plan::kms::desired_key;
use crate::plan::naming::account_of_arn;
use crate::plan::{EnvIdentity, TagSet};
use crate::reconcile::error::{ComponentError, aws_err, invalid};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::{Component, Walk};

use super::records;

/// The SES records as record sets: TXT and MX are shared with whatever else the name
/// holds (an SPF or MX of someone else's stays); a DKIM CNAME is the operator's alone.
fn ses_wanted(records: &[SesRecord]) -> Vec<WantedRecord> {
    records
        .iter()
        .map(|r| {
            let set = RecordSet::values(&r.name, r.type_, RECORD_TTL, vec![r.value.clone()]);
            match r.type_ {
                "CNAME" => WantedRecord::exclusive(set, r.purpose),
                _ => WantedRecord::merged(set, r.purpose),
            }
        })
        .collect()
}

const C: ComponentName = ComponentName::Email;

pub struct Email;

impl Component for Email {
    const NAME: ComponentName = C;
    const NEEDS: &'static [ComponentName] = &[ComponentName::EncryptionKey];

    async fn apply(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let Some(key) = w.key_or_wait(l) else {
            return Ok(());
        };
        let want = desired_email(&w.id, &w.env.spec).map_err(invalid(C))?;
        apply_email(w.aws, &w.id, &want, &key.account, l, &mut w.outputs).await?;
        w.email = Some(want);
        Ok(())
    }

    async fn cleanup(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        cleanup_email(w, l).await
    }
}

fn terminal(
    service: &'static str,
    operation: &'static str,
    code: &str,
    message: String,
) -> ComponentError {
    ComponentError::Aws {
        component: C,
        source: AwsError::terminal(service, operation, code, message),
    }
}

fn one_tag(key: &str, value: &str) -> TagSet {
    [(key, value)].into_iter().collect()
}

/// Converges SES, SNS and the identity's DNS records. `account` is the AWS account id.
async fn apply_email(
    aws: &AwsCtx,
    id: &EnvIdentity,
    want: &DesiredEmail,
    account: &str,
    steps: &mut Ledger,
    outputs: &mut Outputs,
) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let region = id.region.as_str();
    let n = &want.notifications;
    let topic = topic_arn(id.partition(), region, account, &n.topic_name);
    let address = n.address.clone().unwrap_or_default();

    let mut seen = email::observe_identity(aws, &want.identity, want.kind).await.map_err(&err)?;

    // The topic, with the ownership and bookkeeping tags.
    let mut topic_created = false;
    let tags = match email::topic_tags(aws, &topic).await.map_err(&err)? {
        Some(tags) if !tags.is_owned_by(&id.uid) => {
            return Err(terminal(
                "sns",
                "ListTagsForResource",
                "NameTakenByAnotherOwner",
                format!("SNS topic {topic} exists and is not tagged as owned by this environment"),
            ));
        }
        Some(tags) => {
            let missing = n.tags.missing_from(&tags);
            if !missing.is_empty() {
                if steps.apply() {
                    email::tag_topic(aws, &topic, &missing).await.map_err(&err)?;
                }
                steps.drift("tags of the notification topic");
            }
            Some(tags)
        }
        None if !steps.apply() => {
            steps.missing(format!("SNS topic {} not created yet", n.topic_name));
            None
        }
        None => {
            let mut tags = n.tags.clone();
            tags.insert(SUBSCRIBED_TAG, &address);
            let created_identity = if seen.is_none() { want.identity.as_str() } else { "" };
            tags.insert(IDENTITY_MARKER_TAG, created_identity);
            email::create_topic(aws, &n.topic_name, &tags).await.map_err(&err)?;
            steps.created(format!("created SNS topic {}", n.topic_name));
            topic_created = true;
            Some(tags)
        }
    };
    let marker =
        tags.as_ref().and_then(|t| t.get(IDENTITY_MARKER_TAG)).unwrap_or_default().to_string();

    if let Some(tags) = &tags {
        // An identity this environment created earlier and no longer uses.
        if !marker.is_empty() && marker != want.identity {
            if steps.apply() {
                email::delete_identity(aws, &marker).await.map_err(&err)?;
                email::tag_topic(aws, &topic, &one_tag(IDENTITY_MARKER_TAG, ""))
                    .await
                    .map_err(&err)?;
            }
            steps.drift(format!("removed SES identity {marker}, no longer used"));
        }
        // Claim the identity before creating it, so a crash cannot orphan it.
        if seen.is_none() && marker != want.identity && steps.apply() {
            email::tag_topic(aws, &topic, &one_tag(IDENTITY_MARKER_TAG, &want.identity))
                .await
                .map_err(&err)?;
        }
        converge_configuration_set(aws, want, &topic, steps).await?;
        converge_subscription(aws, want, &topic, tags, steps, topic_created).await?;
    } else {
        converge_configuration_set(aws, want, &topic, steps).await?;
    }

    // The identity.
    let mut identity_created = false;
    let failed = seen.as_ref().is_some_and(verification_failed);
    let changes = identity_changes(want, seen.as_ref());
    if !changes.is_empty() {
        let what: Vec<&str> = changes.iter().map(|c| c.describe()).collect();
        if steps.apply() {
            email::apply_identity(aws, &want.identity, &changes).await.map_err(&err)?;
            if failed {
                return Err(terminal(
                    "ses",
                    "GetIdentityVerificationAttributes",
                    "IdentityVerificationFailed",
                    format!(
                        "SES could not verify {}; verification was requested again: {}",
                        want.identity,
                        verification_hint(want)
                    ),
                ));
            }
            if seen.is_none() {
                steps.created(format!("created SES identity {}", want.identity));
                identity_created = true;
            } else {
                steps.drift(format!("SES identity {}: {}", want.identity, what.join(", ")));
            }
            seen = email::observe_identity(aws, &want.identity, want.kind).await.map_err(&err)?;
        } else if seen.is_none() {
            steps.missing(format!("SES identity {} not created yet", want.identity));
        } else {
            steps.drift(format!("SES identity {}: {}", want.identity, what.join(", ")));
        }
    }

    if let Some(seen) = &seen {
        converge_dns(aws, want, id, seen, steps, outputs, identity_created).await?;
        let status = seen.verification_status.as_deref().unwrap_or("NotStarted");
        if status != "Success" {
            steps.note(format!(
                "SES identity {} verification is {status}: {}",
                want.identity,
                verification_hint(want)
            ));
        }
    }
    outputs.email =
        Some(email_outputs(want, seen.as_ref(), tags.as_ref().map(|_| topic.clone()), region));
    steps.identify(Some(want.identity.clone()), tags.map(|_| topic));
    Ok(())
}

fn verification_hint(want: &DesiredEmail) -> String {
    match (&want.kind, &want.dns) {
        (IdentityKind::EmailAddress, _) => {
            format!("open the link SES mailed to {} (it expires after 24 hours)", want.identity)
        }
        (_, DnsTarget::Manual) => {
            "create the records listed in status.outputs.dnsRecords at your DNS provider"
                .to_string()
        }
        _ => "SES checks the DNS records the operator wrote; this takes up to 72 hours".to_string(),
    }
}

async fn converge_configuration_set(
    aws: &AwsCtx,
    want: &DesiredEmail,
    topic: &str,
    steps: &mut Ledger,
) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let n = &want.notifications;
    match email::observe_configuration_set(aws, &want.configuration_set).await.map_err(&err)? {
        None if !steps.apply() => {
            steps.missing(format!(
                "SES configuration set {} not created yet",
                want.configuration_set
            ));
        }
        None => {
            email::create_configuration_set(aws, &want.configuration_set).await.map_err(&err)?;
            email::put_event_destination(
                aws,
                &want.configuration_set,
                &n.event_destination,
                topic,
                false,
            )
            .await
            .map_err(&err)?;
            steps.created(format!(
                "created SES configuration set {} (bounces and complaints to the topic)",
                want.configuration_set
            ));
        }
        Some(destinations) if !event_destination_in_sync(n, topic, &destinations) => {
            if steps.apply() {
                let exists = destinations.iter().any(|d| d.name == n.event_destination);
                email::put_event_destination(
                    aws,
                    &want.configuration_set,
                    &n.event_destination,
                    topic,
                    exists,
                )
                .await
                .map_err(&err)?;
            }
            steps.drift("event destination of the configuration set");
        }
        Some(_) => {}
    }
    Ok(())
}

async fn converge_subscription(
    aws: &AwsCtx,
    want: &DesiredEmail,
    topic: &str,
    tags: &TagSet,
    steps: &mut Ledger,
    created_topic: bool,
) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let n = &want.notifications;
    let recorded = tags.get(SUBSCRIBED_TAG).unwrap_or_default();
    let previous = Some(recorded).filter(|p| !p.is_empty());
    let subscriptions = email::subscriptions(aws, topic).await.map_err(&err)?;
    let (subscribe, unsubscribe) = subscription_changes(n, &subscriptions, previous);
    let address = n.address.clone().unwrap_or_default();
    if subscribe.is_none() && unsubscribe.is_empty() && recorded == address {
        return Ok(());
    }
    if steps.apply() {
        for arn in &unsubscribe {
            email::unsubscribe(aws, arn).await.map_err(&err)?;
        }
        if let Some(a) = &subscribe {
            email::subscribe_email(aws, topic, a).await.map_err(&err)?;
        }
        if recorded != address {
            email::tag_topic(aws, topic, &one_tag(SUBSCRIBED_TAG, &address)).await.map_err(&err)?;
        }
    }
    match (&subscribe, created_topic) {
        (Some(a), true) => steps.note(format!(
            "subscribed {a} to bounces and complaints (SNS mails a confirmation link)"
        )),
        _ => steps.drift("email subscription of the notification topic"),
    }
    Ok(())
}

async fn converge_dns(
    aws: &AwsCtx,
    want: &DesiredEmail,
    id: &EnvIdentity,
    seen: &ObservedIdentity,
    steps: &mut Ledger,
    outputs: &mut Outputs,
    identity_created: bool,
) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let records = ses_records(want, &id.region, seen);
    let list = |outputs: &mut Outputs, records: &[SesRecord]| {
        outputs.dns_records.extend(records.iter().map(output_record));
    };
    match &want.dns {
        DnsTarget::NotNeeded => {}
        DnsTarget::Manual => list(outputs, &records),
        DnsTarget::Route53 { zone_name, must_be_owned } => {
            match dns::find_zone(aws, zone_name, *must_be_owned).await.map_err(&err)? {
                None if !*must_be_owned => {
                    return Err(terminal(
                        "route53",
                        "ListHostedZonesByName",
                        "HostedZoneNotFound",
                        format!(
                            "spec.domain.hostedZone.zoneName: no public hosted zone {zone_name} in this account"
                        ),
                    ));
                }
                None => {
                    list(outputs, &records);
                    steps.note(format!(
                    "hosted zone {zone_name} does not exist yet; the SES records are listed in status.outputs.dnsRecords until it does"
                ));
                }
                Some((_, tags)) if *must_be_owned && !tags.is_owned_by(&id.uid) => {
                    list(outputs, &records);
                    steps.note(format!(
                    "hosted zone {zone_name} is not owned by this environment; the SES records are listed in status.outputs.dnsRecords"
                ));
                }
                Some((zone, _)) => {
                    records::converge_records(
                        aws,
                        &aws.route53,
                        C,
                        &zone,
                        &ses_wanted(&records),
                        "SES DNS record(s)",
                        identity_created,
                        steps,
                    )
                    .await?;
                }
            }
        }
    }
    Ok(())
}

/// The account id, from the recorded key ARN or, failing that, the key itself.
async fn account(w: &Walk<'_>) -> Result<Option<String>, ComponentError> {
    let (aws, id) = (w.aws, &w.id);
    let recorded = w
        .recorded()
        .and_then(|o| o.kms_key_arn.as_deref())
        .and_then(account_of_arn)
        .map(str::to_string);
    if recorded.is_some() {
        return Ok(recorded);
    }
    let alias = desired_key(id, &[]).map_err(invalid(C))?.alias;
    let key = crate::aws::kms::observe(aws, &alias).await.map_err(aws_err(C))?;
    Ok(key.and_then(|k| account_of_arn(&k.arn).map(str::to_string)))
}

async fn cleanup_email(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
    let (aws, id, env) = (w.aws, &w.id, w.env);
    let policy = env.spec.deletion_policy;
    let err = aws_err(C);
    let environment_id = id.environment_id();
    let set = format!("{environment_id}-mail");
    if email::observe_configuration_set(aws, &set).await.map_err(&err)?.is_some() {
        email::delete_configuration_set(aws, &set).await.map_err(&err)?;
        l.deleted(format!("deleted SES configuration set {set}"));
    }
    let Some(account) = account(w).await? else {
        // Without the key nothing else of the environment was ever created.
        return Ok(());
    };
    let topic = topic_arn(
        id.partition(),
        &id.region,
        &account,
        &format!("{environment_id}-ses-notifications"),
    );
    let tags = email::topic_tags(aws, &topic).await.map_err(&err)?;
    match tags {
        Some(tags) if tags.is_owned_by(&id.uid) => {
            let identity = tags.get(IDENTITY_MARKER_TAG).unwrap_or_default().to_string();
            if !identity.is_empty() && policy == DeletionPolicy::Delete {
                if let Ok(want) = desired_email(id, &env.spec) {
                    delete_identity_records(aws, &want, id, &identity, l).await?;
                } else {
                    l.note("spec.email is invalid: DNS records left in place");
                }
                email::delete_identity(aws, &identity).await.map_err(&err)?;
                l.deleted(format!("deleted SES identity {identity}"));
            } else if !identity.is_empty() {
                l.retained(format!(
                    "kept SES identity {identity} and its DNS records ({policy:?} policy)"
                ));
            }
            email::delete_topic(aws, &topic).await.map_err(&err)?;
            l.deleted("deleted the notification topic");
        }
        Some(_) => {
            l.note(format!("SNS topic {topic} is not owned by this environment; left untouched"))
        }
        None => {}
    }
    Ok(())
}

/// Removes the SES records the operator wrote into a Route 53 zone for `identity` (only
/// the operator's values: others' values in a shared TXT or MX set stay).
async fn delete_identity_records(
    aws: &AwsCtx,
    want: &DesiredEmail,
    id: &EnvIdentity,
    identity: &str,
    l: &mut Ledger,
) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let DnsTarget::Route53 { zone_name, must_be_owned } = &want.dns else {
        return Ok(());
    };
    if want.identity != identity {
        return Ok(());
    }
    let Some(seen) = email::observe_identity(aws, identity, want.kind).await.map_err(&err)? else {
        return Ok(());
    };
    let Some((zone, tags)) = dns::find_zone(aws, zone_name, *must_be_owned).await.map_err(&err)?
    else {
        return Ok(());
    };
    if *must_be_owned && !tags.is_owned_by(&id.uid) {
        return Ok(());
    }
    let records = ses_records(want, &id.region, &seen);
    let removed =
        records::remove_records(aws, &aws.route53, C, &zone, &ses_wanted(&records)).await?;
    if removed > 0 {
        l.deleted(format!("deleted {removed} SES DNS record(s) from zone {}", zone.name));
    }
    Ok(())
}
