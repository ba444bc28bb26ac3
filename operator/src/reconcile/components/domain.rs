//! `domain`: the site's hosted zone, its delegation and its certificate (sequences
//! `plan::domain` decisions and `aws::{route53, acm}` calls).
//!
//! Order: the zone (created and found again by its `CallerReference`, or the existing
//! one, or none), its name servers, the delegation NS set in the parent zone, then the
//! certificate and its validation records. The certificate is handed to `compute` only
//! once ACM has issued it; the site's own records are `siteRecords`' (after compute,
//! which they point at).
//!
//! Deletion: the certificate the operator requested goes (after its validation records;
//! a listener still using it makes ACM refuse, retried); the delegation NS set and the
//! created zone go only with `deletionPolicy: Delete`, and the zone only when nothing but
//! its SOA and NS sets is left (what someone else added keeps it, said in status).

use std::time::Duration;

use crate::api::{ComponentName, ComputeKind, DeletionPolicy};
use crate::aws::route53::{self, ObservedZone};
use crate::aws::{AwsCtx, acm};
use crate::plan::dns::output_record;
use crate::plan::domain::{
    CertificateSource, DesiredDomain, DomainHandoff, MAX_ZONE_ATTEMPTS, Validation, ZoneTarget,
    caller_reference, certificate_names, delegation_record, desired_domain, validation,
};
use crate::reconcile::error::{ComponentError, aws_err, invalid, refused};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::{Component, Walk};

use super::records;

const C: ComponentName = ComponentName::Domain;

/// Look again this soon while ACM validates the certificate.
const VALIDATION_POLL: Duration = Duration::from_secs(30);
/// Look again this soon while the delegation is not confirmed.
const DELEGATION_POLL: Duration = Duration::from_secs(300);

pub struct Domain;

impl Component for Domain {
    const NAME: ComponentName = C;

    async fn apply(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let serving = serving_kinds(w);
        let Some(want) = desired_domain(&w.id, &w.env.spec, &serving).map_err(invalid(C))? else {
            return Ok(());
        };
        let aws = w.aws;
        let zone = match &want.zone {
            ZoneTarget::Create { zone } => converge_zone(w, l, &want, zone).await?,
            ZoneTarget::Existing { zone } => Some(existing_zone(aws, zone).await?),
            ZoneTarget::Manual => None,
        };
        let mut delegated = None;
        if let (ZoneTarget::Create { .. }, Some(z)) = (&want.zone, &zone) {
            let ns = route53::name_servers(aws, z).await.map_err(aws_err(C))?;
            if want.delegation.is_some() {
                delegated = Some(delegate(w, l, &want, &ns).await?);
            }
            w.outputs.name_servers = ns;
        }
        let certificate = certificate(w, l, &want, zone.as_ref()).await?;
        if let (ZoneTarget::Create { .. }, Some(_)) = (&want.zone, &zone) {
            // Delegation is confirmed by the parent's NS set we wrote, or by something
            // that resolved the zone's records through public DNS: ACM issuing the
            // certificate from our validation records, SES verifying the domain.
            let requested_issued =
                want.certificate == CertificateSource::Request && certificate.is_some();
            let ses_verified = w
                .recorded()
                .and_then(|o| o.email.as_ref())
                .is_some_and(|e| e.verification_status.as_deref() == Some("Success"));
            if delegated != Some(true) && !requested_issued && !ses_verified {
                l.note(format!(
                    "delegation pending: the parent zone must delegate {} to the name servers in status.outputs.nameServers (NS records); confirmed once {}",
                    want.site,
                    if want.delegation.is_some() {
                        "the NS set in the parent zone holds them"
                    } else {
                        "ACM validates the certificate or SES verifies the domain"
                    }
                ));
                l.wait_for(DELEGATION_POLL);
            }
        }
        l.identify(zone.as_ref().map(|z| z.id.clone()), certificate.clone());
        w.outputs.certificate_arn = match &want.certificate {
            CertificateSource::Given(arn) => Some(arn.clone()),
            _ => certificate.clone(),
        };
        w.domain = Some(DomainHandoff {
            site: want.site.clone(),
            zone: zone.map(|z| (z.id, z.name)),
            certificate_arn: certificate,
        });
        Ok(())
    }

    async fn cleanup(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let Some(want) = desired_domain(&w.id, &w.env.spec, &[]).map_err(invalid(C))? else {
            return Ok(());
        };
        let aws = w.aws;
        let err = aws_err(C);
        let zone = match &want.zone {
            ZoneTarget::Create { zone } => our_zone(w, &want, zone).await?,
            ZoneTarget::Existing { zone } => route53::zones_named(aws, &aws.route53, zone)
                .await
                .map_err(&err)?
                .into_iter()
                .next(),
            ZoneTarget::Manual => None,
        };
        // The certificate, after its validation records.
        if let Some(arn) = owned_certificate(w, &want).await? {
            let records = validation_of(aws, &arn, &want.site).await?;
            match acm::delete(aws, &arn).await {
                Ok(_) => {
                    if let Some(z) = &zone {
                        records::remove_records(aws, &aws.route53, C, z, &records).await?;
                    }
                    l.deleted(format!("deleted ACM certificate {arn}"));
                }
                Err(e) if e.code == "ResourceInUseException" => {
                    l.deleting(
                        format!("ACM certificate {arn} is still in use"),
                        Some(VALIDATION_POLL),
                    );
                }
                Err(e) => return Err(err(e)),
            }
        }
        let Some(zone) = zone.filter(|_| matches!(want.zone, ZoneTarget::Create { .. })) else {
            return Ok(());
        };
        if w.env.spec.deletion_policy != DeletionPolicy::Delete {
            l.retained(format!(
                "kept hosted zone {} and its delegation ({:?} policy)",
                zone.name, w.env.spec.deletion_policy
            ));
            return Ok(());
        }
        let ns = route53::name_servers(aws, &zone).await.map_err(&err)?;
        let foreign: Vec<String> = route53::all_sets(aws, &zone)
            .await
            .map_err(&err)?
            .into_iter()
            .filter(|s| !(s.name == zone.name && (s.type_ == "SOA" || s.type_ == "NS")))
            .map(|s| format!("{} {}", s.type_, s.name))
            .collect();
        if !foreign.is_empty() {
            l.retained(format!(
                "kept hosted zone {}: it holds records this environment did not write ({}); delete them to have the zone deleted",
                zone.name,
                foreign.join(", ")
            ));
            return Ok(());
        }
        if let Some(d) = &want.delegation {
            let client = parent_client(aws, d.role_arn.as_deref()).await;
            if let Some(parent) =
                route53::zones_named(aws, &client, &d.parent_zone).await.map_err(&err)?.first()
            {
                let record = delegation_record(&want.site, &ns, &[]);
                if records::remove_records(aws, &client, C, parent, &[record]).await? > 0 {
                    l.deleted(format!(
                        "deleted the NS records of {} in zone {}",
                        want.site, parent.name
                    ));
                }
            }
        }
        if route53::delete_zone(aws, &zone).await.map_err(&err)? {
            l.deleted(format!("deleted hosted zone {}", zone.name));
        }
        Ok(())
    }
}

/// The compute kinds the status says serve (the current one and one being retired):
/// their listeners may still use the certificate.
fn serving_kinds(w: &Walk<'_>) -> Vec<ComputeKind> {
    let Some(c) = w.env.status.as_ref().and_then(|s| s.compute.as_ref()) else {
        return Vec::new();
    };
    [Some(c.kind), c.service.as_ref().map(|s| s.kind), c.retiring.as_ref().map(|s| s.kind)]
        .into_iter()
        .flatten()
        .collect()
}

async fn parent_client(aws: &AwsCtx, role: Option<&str>) -> aws_sdk_route53::Client {
    match role {
        Some(role) => aws.route53_as(role).await,
        None => aws.route53.clone(),
    }
}

async fn existing_zone(aws: &AwsCtx, name: &str) -> Result<ObservedZone, ComponentError> {
    let zones = route53::zones_named(aws, &aws.route53, name).await.map_err(aws_err(C))?;
    zones.into_iter().next().ok_or_else(|| {
        refused(
            C,
            "route53",
            "ListHostedZonesByName",
            "HostedZoneNotFound",
            format!(
                "spec.domain.hostedZone.zoneName: no public hosted zone {name} in this account"
            ),
        )
    })
}

/// The zone this environment created: its `CallerReference` carries the UID's hash.
async fn our_zone(
    w: &Walk<'_>,
    want: &DesiredDomain,
    name: &str,
) -> Result<Option<ObservedZone>, ComponentError> {
    let zones = route53::zones_named(w.aws, &w.aws.route53, name).await.map_err(aws_err(C))?;
    let mut ours: Vec<ObservedZone> =
        zones.into_iter().filter(|z| z.caller_reference.starts_with(&want.caller_prefix)).collect();
    ours.sort_by(|a, b| a.caller_reference.cmp(&b.caller_reference));
    Ok(ours.into_iter().next())
}

/// Finds or creates the environment's zone and makes sure it carries the ownership tags
/// (a crash between `CreateHostedZone` and the tags leaves a zone found by its
/// reference, tagged here).
async fn converge_zone(
    w: &Walk<'_>,
    l: &mut Ledger,
    want: &DesiredDomain,
    name: &str,
) -> Result<Option<ObservedZone>, ComponentError> {
    let aws = w.aws;
    let err = aws_err(C);
    let zone = match our_zone(w, want, name).await? {
        Some(zone) => zone,
        None if !l.apply() => {
            l.missing(format!("hosted zone {name} not created yet"));
            return Ok(None);
        }
        None => {
            let mut created = None;
            for attempt in 0..MAX_ZONE_ATTEMPTS {
                let reference = caller_reference(&want.caller_prefix, attempt);
                if let Some(zone) =
                    route53::create_zone(aws, name, &reference).await.map_err(&err)?
                {
                    route53::tag_zone(aws, &zone, &want.tags).await.map_err(&err)?;
                    l.created(format!("created hosted zone {name}"));
                    return Ok(Some(zone));
                }
                // HostedZoneAlreadyExists: an earlier attempt made it (adopted below), or
                // the reference belonged to a zone deleted since (the next one is tried).
                if let Some(zone) = our_zone(w, want, name).await? {
                    created = Some(zone);
                    break;
                }
            }
            created.ok_or_else(|| {
                refused(
                    C,
                    "route53",
                    "CreateHostedZone",
                    "CallerReferencesExhausted",
                    format!("hosted zone {name}: Route 53 refused {MAX_ZONE_ATTEMPTS} caller references of this environment as used; create the environment anew"),
                )
            })?
        }
    };
    let tags = route53::zone_tags(aws, &zone).await.map_err(&err)?;
    if tags.get(crate::api::tags::UID).is_some_and(|u| u != w.id.uid) {
        return Err(crate::reconcile::converge::not_owned(C, &format!("hosted zone {name}")));
    }
    let missing = want.tags.missing_from(&tags);
    if !missing.is_empty() {
        if l.apply() {
            route53::tag_zone(aws, &zone, &missing).await.map_err(&err)?;
        }
        if tags.is_owned_by(&w.id.uid) {
            l.drift(format!("tags of hosted zone {name}"));
        } else if l.apply() {
            l.created(format!("adopted hosted zone {name} left by an interrupted create"));
        }
    }
    Ok(Some(zone))
}

/// Writes the zone's name servers into the parent zone; `true` when the parent already
/// held them at the start of the pass.
async fn delegate(
    w: &Walk<'_>,
    l: &mut Ledger,
    want: &DesiredDomain,
    ns: &[String],
) -> Result<bool, ComponentError> {
    let Some(d) = &want.delegation else {
        return Ok(false);
    };
    let aws = w.aws;
    let client = parent_client(aws, d.role_arn.as_deref()).await;
    let parents = route53::zones_named(aws, &client, &d.parent_zone).await.map_err(aws_err(C))?;
    let Some(parent) = parents.first() else {
        return Err(refused(
            C,
            "route53",
            "ListHostedZonesByName",
            "HostedZoneNotFound",
            format!(
                "spec.domain.delegateFromParent: no public hosted zone {} in {}",
                d.parent_zone,
                d.role_arn
                    .as_ref()
                    .map_or("this account".to_string(), |r| format!("the account of {r}"))
            ),
        ));
    };
    let previous: Vec<String> = w
        .recorded()
        .map(|o| o.name_servers.clone())
        .filter(|p| !p.is_empty() && p != ns)
        .unwrap_or_default();
    let record = delegation_record(&want.site, ns, &previous);
    let done = records::converge_records(
        aws,
        &client,
        C,
        parent,
        &[record],
        "delegation NS record",
        l.creations() > 0,
        l,
    )
    .await?;
    Ok(done.in_sync)
}

/// The certificate this environment requested for the site: the one status recorded
/// (if still there and ours), else one found among the site's certificates by its tags.
async fn owned_certificate(
    w: &Walk<'_>,
    want: &DesiredDomain,
) -> Result<Option<String>, ComponentError> {
    let aws = w.aws;
    let err = aws_err(C);
    let recorded = w.recorded().and_then(|o| o.certificate_arn.clone());
    let candidates = match recorded {
        Some(arn) if acm::describe(aws, &arn).await.map_err(&err)?.is_some() => vec![arn],
        _ => acm::certificates_for(aws, &want.site).await.map_err(&err)?,
    };
    for arn in candidates {
        if acm::tags(aws, &arn).await.map_err(&err)?.is_owned_by(&w.id.uid) {
            return Ok(Some(arn));
        }
    }
    Ok(None)
}

/// The certificate's validation records (read before it is deleted: afterwards nothing
/// says which they were; removed once the deletion went through).
async fn validation_of(
    aws: &AwsCtx,
    arn: &str,
    site: &str,
) -> Result<Vec<crate::plan::dns::WantedRecord>, ComponentError> {
    Ok(match acm::describe(aws, arn).await.map_err(aws_err(C))? {
        Some(seen) => match validation_records(&seen, site) {
            Validation::Pending { records, .. } => records,
            _ => Vec::new(),
        },
        None => Vec::new(),
    })
}

fn validation_records(seen: &crate::plan::domain::ObservedCertificate, site: &str) -> Validation {
    let names = certificate_names(site);
    match validation(seen, &names) {
        // A certificate that is issued or failed still has its records to remove.
        Validation::Issued | Validation::Failed(_) => {
            let mut pending = seen.clone();
            pending.status = "PENDING_VALIDATION".into();
            validation(&pending, &names)
        }
        v => v,
    }
}

/// The site's certificate once usable: given, or requested and issued. Requests it,
/// writes its validation records (or lists them), and removes a requested certificate no
/// compute kind needs any more.
async fn certificate(
    w: &mut Walk<'_>,
    l: &mut Ledger,
    want: &DesiredDomain,
    zone: Option<&ObservedZone>,
) -> Result<Option<String>, ComponentError> {
    let aws = w.aws;
    let err = aws_err(C);
    match &want.certificate {
        CertificateSource::Given(arn) => return Ok(Some(arn.clone())),
        CertificateSource::NotNeeded => {
            // Only a certificate status recorded is looked for: a steady pass reads nothing.
            if w.recorded().and_then(|o| o.certificate_arn.as_ref()).is_some()
                && let Some(arn) = owned_certificate(w, want).await?
            {
                if l.apply() {
                    let records = validation_of(aws, &arn, &want.site).await?;
                    match acm::delete(aws, &arn).await {
                        Ok(_) => {
                            if let Some(z) = zone {
                                records::remove_records(aws, &aws.route53, C, z, &records).await?;
                            }
                            l.changed(format!("deleted ACM certificate {arn}, no longer used"));
                        }
                        Err(e) if e.code == "ResourceInUseException" => {
                            l.busy(
                                format!("ACM certificate {arn} is still in use"),
                                VALIDATION_POLL,
                            );
                            w.outputs.certificate_arn = Some(arn);
                        }
                        Err(e) => return Err(err(e)),
                    }
                } else {
                    l.missing(format!("the deletion of ACM certificate {arn}, no longer used"));
                }
            }
            return Ok(None);
        }
        CertificateSource::Request => {}
    }
    let (arn, requested) = match owned_certificate(w, want).await? {
        Some(arn) => (arn, false),
        None if !l.apply() => {
            l.missing(format!("ACM certificate for {} not requested yet", want.site));
            return Ok(None);
        }
        None => {
            let arn = acm::request(aws, &want.site, &want.certificate_token, &want.tags)
                .await
                .map_err(&err)?;
            l.created(format!("requested ACM certificate for {}", want.site));
            (arn, true)
        }
    };
    // Status keeps the ARN from the first pass on, so the certificate is found (and
    // removed) even while it is pending.
    w.outputs.certificate_arn = Some(arn.clone());
    let Some(seen) = acm::describe(aws, &arn).await.map_err(&err)? else {
        // ACM answers a new certificate's describe only after a few seconds.
        l.creating(format!("waiting for ACM to describe certificate {arn}"), VALIDATION_POLL);
        return Ok(None);
    };
    match validation(&seen, &certificate_names(&want.site)) {
        Validation::Issued => Ok(Some(arn)),
        Validation::Failed(why) => Err(refused(
            C,
            "acm",
            "DescribeCertificate",
            "CertificateNotIssued",
            format!(
                "{why}: check that the zone's records resolve publicly (delegation), then delete the certificate so that the operator requests a new one"
            ),
        )),
        Validation::Pending { records, awaiting } => {
            let mut pending: Vec<String> = Vec::new();
            match zone {
                Some(z) => {
                    records::converge_records(
                        aws,
                        &aws.route53,
                        C,
                        z,
                        &records,
                        "certificate validation record(s)",
                        requested || l.creations() > 0,
                        l,
                    )
                    .await?;
                }
                None => w.outputs.dns_records.extend(records.iter().map(output_record)),
            }
            pending.extend(records.iter().map(|r| format!("{} {}", r.set.type_, r.set.name)));
            pending.extend(
                awaiting.iter().map(|n| format!("(ACM has not issued the record for {n} yet)")),
            );
            let first = requested || l.creations() > 0;
            let what = format!(
                "waiting for ACM to validate certificate {arn}; pending: {}{}",
                pending.join(", "),
                if zone.is_none() { " (create them: status.outputs.dnsRecords)" } else { "" }
            );
            if first {
                l.creating(what, VALIDATION_POLL);
            } else {
                l.busy(what, VALIDATION_POLL);
            }
            Ok(None)
        }
    }
}
