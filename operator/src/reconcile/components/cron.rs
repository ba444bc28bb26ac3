//! `cron`: EventBridge calls REDCap's `cron.php` every `spec.cron.intervalMinutes`
//! (`spec.cron`).
//!
//! A connection sends the cron token in the header the firewall checks (API key auth),
//! an API destination GETs `<status.outputs.url>/cron.php` at most once a second, and a
//! rule `rate(N minutes)` targets it with retries off (a call times out after 5 s, and a
//! retried cron run would overlap the next one), through a role that may invoke only
//! that destination. Rotation of the cron secret runs in three passes: the firewall
//! accepts old and new, then the connection here moves to the new token, then the
//! firewall drops the old one. `intervalMinutes: 0` removes the rule (REDCap's jobs stop,
//! so Aurora may pause); the connection and destination stay, they cost nothing.
//!
//! `spec.suspend` makes no writes here either, like everywhere: the schedule keeps
//! running as it was (say so in status) until the environment is resumed.

use crate::api::{ComponentName, CronStatus};
use crate::aws::events;
use crate::aws::iam::role as iam_role;
use crate::plan::cron::{
    ConnectionStep, TARGET_ID, connection_description, connection_step, destination_changes,
    fingerprint, invoke_role, last_failure, schedule_expression, schedule_name, target_url,
    targets_match,
};
use crate::reconcile::converge::converge;
use crate::reconcile::error::{ComponentError, aws_err, invalid, refused};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::{Component, Walk};

const C: ComponentName = ComponentName::Cron;

pub struct Cron;

impl Component for Cron {
    const NAME: ComponentName = C;
    // The connection moves to a new token only once the firewall accepts it.
    const NEEDS: &'static [ComponentName] = &[ComponentName::Firewall];

    async fn apply(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let err = aws_err(C);
        let env_id = w.id.environment_id();
        let name = schedule_name(&env_id);
        let expression = schedule_expression(w.env.spec.cron.interval_minutes);
        let url = w.outputs.url.clone().map(|u| target_url(&u));
        let mut status = CronStatus {
            schedule: expression.clone(),
            target_url: url.clone(),
            ..CronStatus::default()
        };
        let Some(expression) = expression else {
            remove_rule(w, l, &name).await?;
            l.note("no schedule: spec.cron.intervalMinutes is 0");
            w.cron_status = Some(status);
            return Ok(());
        };
        let Some(token) = w.runtime.cron_token.clone() else {
            l.pending("waiting for the cron secret");
            return Ok(());
        };
        let Some(url) = url else {
            l.pending("waiting for REDCap's URL (status.outputs.url)");
            return Ok(());
        };
        let Some(key) = w.key_or_wait(l) else {
            return Ok(());
        };
        let fp = fingerprint(&token);

        // The connection: moves to a new token only once the firewall accepts it (no
        // gate with an external web ACL, which the operator does not write).
        let gate = match w.env.spec.firewall.external_web_acl_arn {
            Some(_) => None,
            None => Some(w.runtime.firewall_accepts.clone().unwrap_or_default()),
        };
        let seen = events::describe_connection(w.aws, &name).await.map_err(&err)?;
        let description = connection_description(&fp);
        let connection_arn = match connection_step(seen.as_ref(), &fp, gate.as_deref()) {
            ConnectionStep::Keep => seen.as_ref().map(|c| c.arn.clone()),
            ConnectionStep::Create if l.apply() => {
                let arn = events::create_connection(w.aws, &name, &token, &description)
                    .await
                    .map_err(&err)?;
                l.created(format!("created EventBridge connection {name}"));
                Some(arn)
            }
            ConnectionStep::Create => {
                l.missing(format!("EventBridge connection {name} not created yet"));
                None
            }
            ConnectionStep::Update => {
                if l.apply() {
                    events::update_connection(w.aws, &name, &token, &description)
                        .await
                        .map_err(&err)?;
                }
                l.changed(format!("EventBridge connection {name} sends the current cron token"));
                seen.as_ref().map(|c| c.arn.clone())
            }
            ConnectionStep::WaitForFirewall => {
                l.pending("waiting for the firewall to accept the new cron token");
                seen.as_ref().map(|c| c.arn.clone())
            }
        };
        let Some(connection_arn) = connection_arn else {
            w.cron_status = Some(status);
            return Ok(());
        };

        // The API destination.
        let dest = events::describe_destination(w.aws, &name).await.map_err(&err)?;
        let destination_arn = match &dest {
            None if !l.apply() => {
                l.missing(format!("EventBridge API destination {name} not created yet"));
                w.cron_status = Some(status);
                return Ok(());
            }
            None => {
                let arn = events::put_destination(w.aws, &name, &connection_arn, &url, false)
                    .await
                    .map_err(&err)?;
                l.created(format!("created EventBridge API destination {name}"));
                arn
            }
            Some(d) => {
                let what = destination_changes(d, &connection_arn, &url);
                if !what.is_empty() {
                    if l.apply() {
                        events::put_destination(w.aws, &name, &connection_arn, &url, true)
                            .await
                            .map_err(&err)?;
                    }
                    l.drift(format!("API destination {name}: {}", what.join(", ")));
                }
                d.arn.clone()
            }
        };
        status.last_failure = last_failure(seen.as_ref(), dest.as_ref());

        // The role EventBridge assumes to call the destination.
        let tags = w.id.ownership_tags(C, &w.env.spec.aws.tags).map_err(invalid(C))?;
        let pattern = format!(
            "arn:{}:events:{}:{}:api-destination/{name}/*",
            w.id.partition(),
            w.id.region,
            key.account
        );
        let role = invoke_role(&env_id, &pattern, &key.account, &tags);
        let Some(role) = converge(w.aws, &w.id.uid, l, &role).await? else {
            w.cron_status = Some(status);
            return Ok(());
        };

        // The rule and its one target.
        let rule = events::describe_rule(w.aws, &name).await.map_err(&err)?;
        let rule_arn = match &rule {
            Some(r) if !r.tags.is_owned_by(&w.id.uid) => {
                return Err(crate::reconcile::converge::not_owned(
                    C,
                    &format!("EventBridge rule {name}"),
                ));
            }
            Some(r) => {
                if r.expression.as_deref() != Some(expression.as_str()) || r.state != "ENABLED" {
                    if l.apply() {
                        events::put_rule(w.aws, &name, &expression, None).await.map_err(&err)?;
                    }
                    l.drift(format!("EventBridge rule {name}: schedule {expression}, enabled"));
                }
                Some(r.arn.clone())
            }
            None if l.apply() => {
                let arn =
                    events::put_rule(w.aws, &name, &expression, Some(&tags)).await.map_err(&err)?;
                l.created(format!("created EventBridge rule {name} ({expression})"));
                Some(arn)
            }
            None => {
                l.missing(format!("EventBridge rule {name} not created yet"));
                None
            }
        };
        if let Some(arn) = &rule_arn {
            let seen_targets = if rule.is_some() {
                events::targets(w.aws, &name).await.map_err(&err)?
            } else {
                Vec::new()
            };
            if !targets_match(&seen_targets, &destination_arn, &role.arn) {
                if l.apply() {
                    let others: Vec<String> = seen_targets
                        .iter()
                        .map(|t| t.id.clone())
                        .filter(|id| id != TARGET_ID)
                        .collect();
                    events::put_target(w.aws, &name, &destination_arn, &role.arn, &others)
                        .await
                        .map_err(&err)?;
                }
                if rule.is_some() {
                    l.drift(format!("target of EventBridge rule {name}"));
                } else {
                    l.mark_written();
                }
            }
            l.identify(Some(name.clone()), Some(arn.clone()));
        }
        status.rule_arn = rule_arn;
        if let Some(failure) = &status.last_failure {
            l.note(failure.clone());
        }
        w.cron_status = Some(status);
        Ok(())
    }

    /// Removes the rule, the destination, the connection and the role.
    async fn cleanup(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let err = aws_err(C);
        let env_id = w.id.environment_id();
        let name = schedule_name(&env_id);
        if !remove_rule(w, l, &name).await? {
            return Ok(());
        }
        // Observed before each delete: a deletion pass that finds nothing writes nothing
        // (connections and destinations take no tags; their names carry the UID hash).
        if events::describe_destination(w.aws, &name).await.map_err(&err)?.is_some()
            && events::delete_destination(w.aws, &name).await.map_err(&err)?
        {
            l.removed(format!("deleted EventBridge API destination {name}"));
        }
        if events::describe_connection(w.aws, &name)
            .await
            .map_err(&err)?
            .is_some_and(|c| c.state != "DELETING")
            && events::delete_connection(w.aws, &name).await.map_err(&err)?
        {
            l.removed(format!("deleted EventBridge connection {name}"));
        }
        let role = crate::plan::cron::invoke_role_name(&env_id);
        if let Some(seen) =
            iam_role::observe(w.aws, &role, "redcap-cron-invoke").await.map_err(&err)?
            && seen.tags.is_owned_by(&w.id.uid)
        {
            iam_role::delete(w.aws, &role, "redcap-cron-invoke").await.map_err(&err)?;
            l.removed(format!("deleted role {role}"));
        }
        Ok(())
    }
}

/// Removes the schedule rule and its targets when it is this environment's. `Ok(false)`:
/// a rule of that name is someone else's (left alone, said in the ledger).
async fn remove_rule(w: &Walk<'_>, l: &mut Ledger, name: &str) -> Result<bool, ComponentError> {
    let err = aws_err(C);
    let Some(rule) = events::describe_rule(w.aws, name).await.map_err(&err)? else {
        return Ok(true);
    };
    if !rule.tags.is_owned_by(&w.id.uid) {
        return Err(refused(
            C,
            "events",
            "DescribeRule",
            "NotOwned",
            format!("EventBridge rule {name} is not this environment's; it is left untouched"),
        ));
    }
    if !l.apply() {
        l.changed(format!("remove EventBridge rule {name}"));
        return Ok(true);
    }
    let ids: Vec<String> =
        events::targets(w.aws, name).await.map_err(&err)?.into_iter().map(|t| t.id).collect();
    if !ids.is_empty() {
        events::remove_targets(w.aws, name, &ids).await.map_err(&err)?;
    }
    if events::delete_rule(w.aws, name).await.map_err(&err)? {
        l.removed(format!("deleted EventBridge rule {name}"));
    }
    Ok(true)
}
