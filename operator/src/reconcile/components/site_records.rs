//! `siteRecords`: the site's name pointed at the compute kind that serves REDCap
//! (`status.compute.kind`), after `compute` (whose load balancer or service it names)
//! and with what `domain` handed on (the zone, the certificate).
//!
//! - EcsFargate: an alias to the environment's load balancer (its HTTPS listener already
//!   serves the site's certificate).
//! - EcsExpress: Express has no custom-domain parameter; AWS documents a custom domain as
//!   a change made next to Express, which Express keeps: the site's certificate added to
//!   the managed HTTPS listener (SNI), a host-header rule of the operator's forwarding the
//!   site to the service's target group (Express's own rule answers only its endpoint),
//!   and an alias to the managed load balancer. Checked on every pass, so an Express
//!   deployment that moved the target group is followed.
//! - AppRunner: the service's custom domain association (App Runner's own certificate,
//!   validated by the CNAMEs it names) and an alias to App Runner's domain for it.
//!
//! The alias moves with the serving kind during a switch (the previous target is in
//! `status.outputs.siteTarget`), and never replaces a record someone else wrote.
//! `status.outputs.url` becomes `https://<site>` once the site's record is in place and
//! the kind serves the name (mode `None`: once the records to create are listed).

use crate::api::{ComponentName, ComputeKind, ComputeStatus, ServiceStatus};
use crate::aws::route53::ObservedZone;
use crate::aws::{apprunner, ecs_express, elbv2};
use crate::plan::compute::load_balancer_name;
use crate::plan::dns::{AliasTarget, RecordSet, WantedRecord, output_record};
use crate::plan::domain::{DomainHandoff, VALIDATION_TTL, app_runner_zone_id, site_alias};
use crate::reconcile::error::{ComponentError, aws_err, invalid, refused};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::{Component, Walk};

use super::records;

const C: ComponentName = ComponentName::SiteRecords;

/// Look again this soon while App Runner validates the custom domain.
const POLL: std::time::Duration = std::time::Duration::from_secs(30);

pub struct SiteRecords;

impl Component for SiteRecords {
    const NAME: ComponentName = C;
    const NEEDS: &'static [ComponentName] = &[ComponentName::Domain];

    async fn apply(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let Some(domain) = w.domain.clone() else {
            return Ok(());
        };
        // What the site's record points at stays recorded until the record points
        // elsewhere: a pass that cannot write it yet (an App Runner association still
        // being made) must not forget the target the operator wrote, or the next pass
        // would take its own record for someone else's.
        let recorded = w.recorded().and_then(|o| o.site_target.clone());
        w.outputs.site_target = recorded.clone();
        let Some(compute) = w.compute.clone() else {
            l.pending("waiting for the compute service");
            return Ok(());
        };
        let zone = zone_of(&domain);
        let Some(service) = serving(&compute) else {
            l.pending("waiting for the compute service");
            return Ok(());
        };
        let Some(Bound { target, extra }) = bind(w, l, &domain, zone.as_ref(), service).await?
        else {
            return Ok(());
        };
        let previous: Vec<AliasTarget> = recorded
            .map(|dns| AliasTarget { dns_name: dns, zone_id: String::new() })
            .into_iter()
            .collect();
        let alias = site_alias(&domain.site, &target, &previous);
        let in_place = match &zone {
            Some(z) => {
                let mut wanted = extra.clone();
                wanted.push(alias);
                let done = records::converge_records(
                    w.aws,
                    &w.aws.route53,
                    C,
                    z,
                    &wanted,
                    "site record(s)",
                    false,
                    l,
                )
                .await?;
                // Written (or already there): the record now points at the target.
                if done.conflicts.is_empty() && (done.in_sync || l.apply()) {
                    w.outputs.site_target = Some(target.dns_name.clone());
                }
                done.in_sync
            }
            None => {
                w.outputs.dns_records.extend(extra.iter().chain([&alias]).map(output_record));
                w.outputs.site_target = Some(target.dns_name.clone());
                true
            }
        };
        if in_place && !l.has_written() && l.requeue().is_none() {
            w.outputs.url = Some(format!("https://{}", domain.site));
        }
        l.identify(Some(domain.site.clone()), None);
        Ok(())
    }

    async fn cleanup(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let aws = w.aws;
        let Some(spec) = &w.env.spec.domain else {
            return Ok(());
        };
        let site = crate::plan::email::site_domain(spec).to_ascii_lowercase();
        let Some(target) = w.recorded().and_then(|o| o.site_target.clone()) else {
            return Ok(());
        };
        // The zone is found as `domain` finds it; the site's record is removed only while
        // it still points where this environment pointed it.
        let id = &w.id;
        let Some(want) =
            crate::plan::domain::desired_domain(id, &w.env.spec, &[]).map_err(invalid(C))?
        else {
            return Ok(());
        };
        let zone = match &want.zone {
            crate::plan::domain::ZoneTarget::Create { zone } => {
                crate::aws::route53::zones_named(aws, &aws.route53, zone)
                    .await
                    .map_err(aws_err(C))?
                    .into_iter()
                    .find(|z| z.caller_reference.starts_with(&want.caller_prefix))
            }
            crate::plan::domain::ZoneTarget::Existing { zone } => {
                crate::aws::route53::zones_named(aws, &aws.route53, zone)
                    .await
                    .map_err(aws_err(C))?
                    .into_iter()
                    .next()
            }
            crate::plan::domain::ZoneTarget::Manual => None,
        };
        // App Runner's association goes with its service; its validation records are
        // removed while the association still names them.
        let mut wanted = Vec::new();
        if let Some(arn) = recorded_service(w, ComputeKind::AppRunner)
            && let Some(d) = apprunner::custom_domain(aws, &arn, &site).await.map_err(aws_err(C))?
        {
            wanted.extend(validation_records(&d.validation_records));
            apprunner::disassociate_custom_domain(aws, &arn, &site).await.map_err(aws_err(C))?;
            l.deleted(format!("removed the custom domain {site} from the App Runner service"));
        }
        wanted.push(site_alias(
            &site,
            &AliasTarget { dns_name: target, zone_id: String::new() },
            &[],
        ));
        if let Some(z) = zone {
            let n = records::remove_records(aws, &aws.route53, C, &z, &wanted).await?;
            if n > 0 {
                l.deleted(format!("deleted {n} site record set(s) from zone {}", z.name));
            }
        }
        Ok(())
    }
}

fn zone_of(domain: &DomainHandoff) -> Option<ObservedZone> {
    domain.zone.as_ref().map(|(id, name)| ObservedZone {
        id: id.clone(),
        name: name.clone(),
        caller_reference: String::new(),
    })
}

/// The service of the kind that serves the URL.
fn serving(compute: &ComputeStatus) -> Option<&ServiceStatus> {
    [compute.service.as_ref(), compute.retiring.as_ref()]
        .into_iter()
        .flatten()
        .find(|s| s.kind == compute.kind)
}

fn recorded_service(w: &Walk<'_>, kind: ComputeKind) -> Option<String> {
    let c = w.env.status.as_ref()?.compute.as_ref()?;
    [c.service.as_ref(), c.retiring.as_ref()]
        .into_iter()
        .flatten()
        .find(|s| s.kind == kind)
        .and_then(|s| s.arn.clone())
}

fn validation_records(records: &[(String, String, String)]) -> Vec<WantedRecord> {
    records
        .iter()
        .map(|(name, type_, value)| {
            WantedRecord::exclusive(
                RecordSet::values(name, type_, VALIDATION_TTL, vec![value.clone()]),
                "App Runner custom domain validation",
            )
        })
        .collect()
}

/// What the site points at, and the kind's own records.
struct Bound {
    target: AliasTarget,
    extra: Vec<WantedRecord>,
}

/// Makes the serving kind answer for the site; `None` (said in the ledger) while it
/// cannot yet.
async fn bind(
    w: &mut Walk<'_>,
    l: &mut Ledger,
    domain: &DomainHandoff,
    zone: Option<&ObservedZone>,
    service: &ServiceStatus,
) -> Result<Option<Bound>, ComponentError> {
    let aws = w.aws;
    let err = aws_err(C);
    match service.kind {
        ComputeKind::EcsFargate => {
            let name = load_balancer_name(&w.id.environment_id());
            let Some(lb) = elbv2::observe_load_balancer(aws, &name).await.map_err(&err)? else {
                l.pending("waiting for the load balancer");
                return Ok(None);
            };
            Ok(Some(Bound {
                target: AliasTarget::new(&lb.dns_name, &lb.canonical_zone_id),
                extra: Vec::new(),
            }))
        }
        ComputeKind::EcsExpress => express(w, l, domain, service).await,
        ComputeKind::AppRunner => {
            let Some(arn) = service.arn.clone() else {
                l.pending("waiting for the App Runner service");
                return Ok(None);
            };
            let seen = apprunner::custom_domain(aws, &arn, &domain.site).await.map_err(&err)?;
            let Some(seen) = seen else {
                if l.apply() {
                    apprunner::associate_custom_domain(aws, &arn, &domain.site)
                        .await
                        .map_err(&err)?;
                    l.creating(
                        format!("associated {} with the App Runner service", domain.site),
                        POLL,
                    );
                } else {
                    l.missing(format!(
                        "the custom domain {} of the App Runner service",
                        domain.site
                    ));
                }
                return Ok(None);
            };
            let extra = validation_records(&seen.validation_records);
            match seen.status.as_str() {
                "ACTIVE" => {}
                "CREATE_FAILED" | "DELETE_FAILED" => {
                    return Err(refused(
                        C,
                        "apprunner",
                        "DescribeCustomDomains",
                        "CustomDomainFailed",
                        format!(
                            "App Runner's custom domain {} is {}: check that its validation records resolve publicly, then disassociate it (aws apprunner disassociate-custom-domain) so that the operator associates it again",
                            domain.site, seen.status
                        ),
                    ));
                }
                other => {
                    let names: Vec<&str> = extra.iter().map(|r| r.set.name.as_str()).collect();
                    l.busy(
                        format!(
                            "App Runner's custom domain {} is {other}; validation records: {}",
                            domain.site,
                            if names.is_empty() {
                                "not issued yet".to_string()
                            } else {
                                names.join(", ")
                            }
                        ),
                        POLL,
                    );
                }
            }
            let zone_id = app_runner_zone_id(&w.id.region).unwrap_or_default();
            if zone.is_some() && zone_id.is_empty() {
                return Err(invalid(C)(crate::plan::PlanError::InvalidSpec {
                    field: "spec.aws.region",
                    message:
                        "App Runner serves no custom domain at a Route 53 alias in this region"
                            .into(),
                }));
            }
            Ok(Some(Bound { target: AliasTarget::new(&seen.dns_target, zone_id), extra }))
        }
    }
}

/// Express: the site's certificate on the managed listener and a host rule for the site.
async fn express(
    w: &mut Walk<'_>,
    l: &mut Ledger,
    domain: &DomainHandoff,
    service: &ServiceStatus,
) -> Result<Option<Bound>, ComponentError> {
    let aws = w.aws;
    let err = aws_err(C);
    let Some(arn) = service.arn.clone() else {
        l.pending("waiting for the Express service");
        return Ok(None);
    };
    let Some(certificate) = domain.certificate_arn.clone() else {
        l.pending("waiting for the site's certificate (domain component)");
        return Ok(None);
    };
    let revision = ecs_express::revision(aws, &arn).await.map_err(&err)?;
    let managed = revision.as_ref().and_then(|r| {
        Some((r.load_balancer.clone()?, r.listener.clone()?, r.target_groups.first().cloned()?))
    });
    let Some((lb, listener, tg)) = managed else {
        l.pending("waiting for Express to provision its load balancer");
        return Ok(None);
    };
    let Some(target) = elbv2::alias_target(aws, &lb.arn).await.map_err(&err)? else {
        l.pending("waiting for Express to provision its load balancer");
        return Ok(None);
    };
    let certificates = elbv2::listener_certificates(aws, &listener.arn).await.map_err(&err)?;
    if !certificates.contains(&certificate) {
        if l.apply() {
            elbv2::add_listener_certificate(aws, &listener.arn, &certificate)
                .await
                .map_err(&err)?;
        }
        l.changed("added the site's certificate to Express's HTTPS listener");
    }
    let rules = elbv2::host_rules(aws, &listener.arn).await.map_err(&err)?;
    match rules.iter().find(|r| r.hosts.iter().any(|h| h.eq_ignore_ascii_case(&domain.site))) {
        Some(r) if r.target_group_arn.as_deref() == Some(tg.arn.as_str()) => {}
        Some(r) => {
            if l.apply() {
                elbv2::modify_host_rule(aws, &r.arn, &domain.site, &tg.arn).await.map_err(&err)?;
            }
            l.drift(format!(
                "the listener rule for {} forwards to Express's target group",
                domain.site
            ));
        }
        None => {
            let used: Vec<i32> = rules.iter().filter_map(|r| r.priority.parse().ok()).collect();
            let priority = (1..50_000).find(|p| !used.contains(p)).unwrap_or(50_000);
            if l.apply() {
                let tags = w.id.ownership_tags(C, &w.env.spec.aws.tags).map_err(invalid(C))?;
                elbv2::create_host_rule(aws, &listener.arn, priority, &domain.site, &tg.arn, &tags)
                    .await
                    .map_err(&err)?;
            }
            l.changed(format!(
                "added a listener rule for {} to Express's load balancer",
                domain.site
            ));
        }
    }
    Ok(Some(Bound { target, extra: Vec::new() }))
}
