//! `firewall`: the WAF web ACL in front of REDCap (`spec.firewall`).
//!
//! The environment's own web ACL (IP sets of the allow list first, then the ACL, whose
//! rules `plan::firewall` decides), associated with whatever serves REDCap this pass
//! (compute hands the load balancer or App Runner service ARNs on; during a kind switch
//! both services are protected, and the old one takes its association with it when it
//! is deleted). With `externalWebAclArn` nothing is created: that ACL is associated and
//! never changed or deleted (and an own ACL from before is removed).
//!
//! The cron rule accepts the current cron token, plus the previous one while the cron
//! connection still sends it (its fingerprint is in the connection's description), so a
//! rotation never locks the schedule out: this component accepts both, `cron` then
//! moves the connection, and the next pass here drops the old token.

use std::time::Duration;

use crate::api::{ComponentName, FirewallStatus};
use crate::aws::{events, waf};
use crate::plan::cron::schedule_name;
use crate::plan::firewall::{
    CRON_RULE, CronGuard, IpVersion, WebAclInputs, accepted_tokens, desired_ip_sets,
    desired_web_acl, ip_set_arns, ip_set_name, web_acl_name,
};
use crate::reconcile::converge::converge;
use crate::reconcile::error::{ComponentError, aws_err, invalid};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::{Component, Walk};

const C: ComponentName = ComponentName::Firewall;

/// Look again this soon while WAF does not accept an association yet.
const ASSOCIATION_POLL: Duration = Duration::from_secs(15);
/// Look again this soon while a web ACL being deleted is still associated.
const DELETE_POLL: Duration = Duration::from_secs(15);

pub struct Firewall;

impl Component for Firewall {
    const NAME: ComponentName = C;
    // None: the rules are kept right even in a pass where compute failed (its services
    // keep running, so their protection must too); associations then wait for a pass
    // in which compute says what serves REDCap.

    async fn apply(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let spec = &w.env.spec.firewall;
        let env_id = w.id.environment_id();
        if let Some(external) = spec.external_web_acl_arn.clone() {
            retire_own(w, l, &env_id, false).await?;
            let associated = associate(w, l, &external).await?;
            l.identify(external.split('/').nth(2).map(str::to_string), Some(external.clone()));
            l.note(format!("using the external web ACL {external} (never changed or deleted)"));
            w.firewall = Some(FirewallStatus {
                web_acl_arn: Some(external),
                external: true,
                capacity: None,
                associated_with: associated,
            });
            return Ok(());
        }
        let tags = w.id.ownership_tags(C, &w.env.spec.aws.tags).map_err(invalid(C))?;
        let mut ip_sets = Vec::new();
        for set in desired_ip_sets(&env_id, spec, &tags).map_err(invalid(C))? {
            match converge(w.aws, &w.id.uid, l, &set).await? {
                Some(seen) => ip_sets.push(seen.arn),
                // Suspended before it existed: the ACL would reference nothing.
                None => return Ok(()),
            }
        }
        let sends = events::connection_fingerprint(w.aws, &schedule_name(&env_id))
            .await
            .map_err(aws_err(C))?;
        let want = desired_web_acl(WebAclInputs {
            environment_id: &env_id,
            spec,
            ip_sets: &ip_sets,
            cron: CronGuard { current: w.runtime.cron_token.clone(), connection_sends: sends },
            tags,
        })
        .map_err(invalid(C))?;
        let writes = l.writes();
        let Some(seen) = converge(w.aws, &w.id.uid, l, &want).await? else {
            return Ok(());
        };
        let wrote = l.writes() > writes;
        l.identify(Some(seen.name.clone()), Some(seen.arn.clone()));
        w.runtime.firewall_accepts = Some(if l.apply() {
            want.accepted_fingerprints(Some(&seen))
        } else {
            seen.rules
                .iter()
                .filter(|r| r.name == CRON_RULE)
                .flat_map(accepted_tokens)
                .map(|t| crate::plan::cron::fingerprint(&t))
                .collect()
        });
        // IP sets the ACL referenced before this pass and no longer needs (an emptied
        // family of the allow list); looked for only then, so a settled pass reads none.
        if l.apply() {
            for version in IpVersion::ALL {
                let name = ip_set_name(&env_id, version);
                let marker = format!("/ipset/{name}/");
                let was_used = ip_set_arns(&seen.rules).iter().any(|a| a.contains(&marker));
                let still_used = ip_sets.iter().any(|a| a.contains(&marker));
                if was_used
                    && !still_used
                    && waf::delete_ip_set(w.aws, &name, &w.id.uid).await.map_err(aws_err(C))?
                {
                    l.removed(format!("deleted IP set {name}"));
                }
            }
        }
        let capacity = if wrote {
            waf::check_capacity(w.aws, &want.rules(Some(&seen))).await.map_err(aws_err(C))?
        } else {
            seen.capacity
        };
        if capacity > crate::plan::firewall::INCLUDED_CAPACITY {
            l.note(format!(
                "the rules use {capacity} capacity units, more than the 1500 a web ACL's price includes"
            ));
        }
        let associated = associate(w, l, &seen.arn).await?;
        w.firewall = Some(FirewallStatus {
            web_acl_arn: Some(seen.arn.clone()),
            external: false,
            capacity: Some(capacity),
            associated_with: associated,
        });
        Ok(())
    }

    /// Removes the environment's own web ACL (associations first) and IP sets. An
    /// external web ACL is left as it is: compute's cleanup deletes the services, which
    /// ends their associations.
    async fn cleanup(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let env_id = w.id.environment_id();
        if let Some(external) = &w.env.spec.firewall.external_web_acl_arn {
            l.note(format!("the external web ACL {external} is left as it is"));
        }
        retire_own(w, l, &env_id, true).await
    }
}

/// Associates `acl` with every front compute reported this pass; returns the fronts it
/// protects. A front associated with another ACL is moved (the spec names this one).
async fn associate(
    w: &mut Walk<'_>,
    l: &mut Ledger,
    acl: &str,
) -> Result<Vec<String>, ComponentError> {
    let err = aws_err(C);
    let Some(fronts) = w.runtime.fronts.clone() else {
        l.note("associations unchanged: compute did not say what serves REDCap in this pass");
        let recorded = w.env.status.as_ref().and_then(|s| s.firewall.as_ref());
        return Ok(recorded.map(|f| f.associated_with.clone()).unwrap_or_default());
    };
    if fronts.is_empty() {
        l.note("nothing serves REDCap yet: the web ACL is associated once compute has a service");
    }
    let mut done = Vec::new();
    for front in fronts {
        let current = waf::web_acl_for_resource(w.aws, &front).await.map_err(&err)?;
        if current.as_deref() == Some(acl) {
            done.push(front);
            continue;
        }
        if !l.apply() {
            l.drift(format!("{front} is not associated with the web ACL"));
            continue;
        }
        if current.is_some() {
            waf::disassociate(w.aws, &front).await.map_err(&err)?;
            l.mark_written();
        }
        if waf::associate(w.aws, acl, &front).await.map_err(&err)? {
            l.changed(format!("associated the web ACL with {front}"));
            done.push(front);
        } else {
            l.busy(
                format!(
                    "WAF does not accept the association with {front} yet (usual for a few minutes after a web ACL or service is created)"
                ),
                ASSOCIATION_POLL,
            );
        }
    }
    Ok(done)
}

/// Deletes the environment's own web ACL and IP sets, if there are any. The IP sets are
/// looked for after a web ACL was deleted, or always when `thorough` (cleanup; a settled
/// pass with an external ACL reads only the ACL list).
async fn retire_own(
    w: &Walk<'_>,
    l: &mut Ledger,
    env_id: &str,
    thorough: bool,
) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let name = web_acl_name(env_id);
    let mut deleted = false;
    if let Some((id, arn)) = waf::find_web_acl(w.aws, &name).await.map_err(&err)? {
        if !waf::tags(w.aws, &arn).await.map_err(&err)?.is_owned_by(&w.id.uid) {
            l.note(format!("web ACL {name} is not this environment's; left untouched"));
            return Ok(());
        }
        if !l.apply() {
            l.changed(format!("delete web ACL {name}"));
            return Ok(());
        }
        for resource in waf::associated_resources(w.aws, &arn).await.map_err(&err)? {
            waf::disassociate(w.aws, &resource).await.map_err(&err)?;
            l.removed(format!("disassociated web ACL {name} from {resource}"));
        }
        if waf::delete_web_acl(w.aws, &name, &id).await.map_err(&err)? {
            l.removed(format!("deleted web ACL {name}"));
            deleted = true;
        } else {
            l.waiting(
                format!("web ACL {name} is still associated; deleting it again"),
                DELETE_POLL,
            );
            return Ok(());
        }
    }
    if !l.apply() || !(deleted || thorough) {
        return Ok(());
    }
    for version in IpVersion::ALL {
        let set = ip_set_name(env_id, version);
        if waf::delete_ip_set(w.aws, &set, &w.id.uid).await.map_err(&err)? {
            l.removed(format!("deleted IP set {set}"));
        }
    }
    Ok(())
}
