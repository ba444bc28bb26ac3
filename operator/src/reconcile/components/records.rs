//! Writing and removing the environment's record sets in a Route 53 zone, for every
//! component that needs records (`email`, `domain`, `siteRecords`): read each set, plan
//! with `plan::dns` (never replacing values the operator did not write), write all
//! changes in one batch. Not a component itself.

use std::time::Duration;

use aws_sdk_route53::Client;

use crate::api::ComponentName;
use crate::aws::AwsCtx;
use crate::aws::route53::{self, ObservedZone};
use crate::plan::dns::{RecordStep, RecordWrite, WantedRecord, record_step, removal_step};
use crate::reconcile::error::{ComponentError, aws_err};
use crate::reconcile::ledger::Ledger;

/// Look again this soon while a record set holds someone else's target.
pub const CONFLICT_POLL: Duration = Duration::from_secs(120);

/// What converging a zone's records found.
#[derive(Debug, Default)]
pub struct Converged {
    /// Sets holding values the operator did not write (left alone), with what to do.
    pub conflicts: Vec<String>,
    /// Every wanted record was already in the zone when the pass began.
    pub in_sync: bool,
    /// The change batch written in this pass, if any.
    pub change_id: Option<String>,
}

/// Brings the wanted records into `zone` (when the ledger allows writes). `what` names
/// them in messages ("SES DNS record(s)"); `created`: the records are part of something
/// created in this pass (a note, not drift).
#[allow(clippy::too_many_arguments)]
pub async fn converge_records(
    aws: &AwsCtx,
    client: &Client,
    c: ComponentName,
    zone: &ObservedZone,
    wanted: &[WantedRecord],
    what: &str,
    created: bool,
    l: &mut Ledger,
) -> Result<Converged, ComponentError> {
    let err = aws_err(c);
    let mut writes = Vec::new();
    let mut out = Converged::default();
    for want in wanted {
        let seen = route53::read_set(aws, client, zone, &want.set.name, &want.set.type_)
            .await
            .map_err(&err)?;
        match record_step(want, seen.as_ref()) {
            RecordStep::InSync => {}
            RecordStep::Write(w) => writes.push(*w),
            RecordStep::Conflict(why) => out.conflicts.push(why),
        }
    }
    out.in_sync = writes.is_empty() && out.conflicts.is_empty();
    if !writes.is_empty() {
        let labels: Vec<String> = writes.iter().map(RecordWrite::label).collect();
        let message = format!("{what} in zone {}: {}", zone.name, labels.join(", "));
        if l.apply() {
            out.change_id = route53::write(aws, client, zone, &writes, "redcap-operator")
                .await
                .map_err(&err)?;
        }
        if created && l.apply() {
            l.mark_written();
            l.note(format!("wrote {message}"));
        } else {
            l.drift(message);
        }
    }
    for conflict in &out.conflicts {
        l.pending(format!("left alone: {conflict}"));
        l.wait_for(CONFLICT_POLL);
    }
    Ok(out)
}

/// Removes the operator's values of the wanted records from `zone` (others' values and
/// sets that hold someone else's target stay). Returns how many sets changed.
pub async fn remove_records(
    aws: &AwsCtx,
    client: &Client,
    c: ComponentName,
    zone: &ObservedZone,
    wanted: &[WantedRecord],
) -> Result<usize, ComponentError> {
    let err = aws_err(c);
    let mut writes = Vec::new();
    for want in wanted {
        let seen = route53::read_set(aws, client, zone, &want.set.name, &want.set.type_)
            .await
            .map_err(&err)?;
        writes.extend(removal_step(want, seen.as_ref()));
    }
    route53::write(aws, client, zone, &writes, "redcap-operator: removed").await.map_err(&err)?;
    Ok(writes.len())
}
