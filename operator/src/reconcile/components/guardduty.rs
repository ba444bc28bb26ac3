//! `guardDuty`: the region's GuardDuty detector, when `spec.guardDuty.enabled`: created
//! (or adopted when the account has one) and the listed protection plans turned on.
//! Nothing is ever turned off or deleted: GuardDuty serves the whole account and region.

use crate::api::ComponentName;
use crate::plan::guardduty::desired_detector;
use crate::reconcile::converge::converge;
use crate::reconcile::error::{ComponentError, invalid};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::{Component, Walk};

const C: ComponentName = ComponentName::GuardDuty;

pub struct GuardDuty;

impl Component for GuardDuty {
    const NAME: ComponentName = C;

    async fn apply(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let env = w.env;
        let want = desired_detector(
            &w.id,
            &env.spec.guard_duty,
            &env.spec.aws.tags,
            env.metadata.generation,
        )
        .map_err(invalid(C))?;
        let Some(want) = want else {
            l.note("not enabled (spec.guardDuty.enabled is false)");
            return Ok(());
        };
        let Some(seen) = converge(w.aws, &w.id.uid, l, &want).await? else {
            return Ok(());
        };
        l.identify(Some(seen.id.clone()), None);
        if !seen.tags.is_owned_by(&w.id.uid) {
            l.note(format!(
                "using the account's detector {} (not created by this environment; never deleted)",
                seen.id
            ));
        }
        Ok(())
    }

    /// No AWS call: the detector is never deleted.
    async fn cleanup(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        if w.env.spec.guard_duty.enabled {
            l.retained(
                "the GuardDuty detector is kept: it serves the whole account and region (delete it with `aws guardduty delete-detector` if nothing else needs it)",
            );
        } else {
            l.note("GuardDuty was not enabled");
        }
        Ok(())
    }
}
