//! The GuardDuty component in the walk (step: reconcile; sequences `plan::guardduty` and
//! `aws::guardduty`). No AWS client code, no status writes.
//!
//! Enabled by `spec.guardDuty.enabled`; then the region's detector is created or adopted
//! and the listed protection plans are turned on. Nothing is ever turned off or deleted:
//! GuardDuty serves the whole account and region.

use crate::api::{ComponentName, ComponentState, RedcapEnvironment};
use crate::aws::{AwsCtx, guardduty};
use crate::plan::EnvIdentity;
use crate::plan::cfn::attempt_salt;
use crate::plan::guardduty::{desired_detector, detector_changes};

use super::super::report::ComponentReport;
use super::{ComponentError, WriteMode, aws_err, invalid, report};

const C: ComponentName = ComponentName::GuardDuty;

/// Creates, adopts or corrects the detector; reads nothing when GuardDuty is off.
pub async fn apply_guardduty(
    aws: &AwsCtx,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
    mode: WriteMode,
) -> Result<ComponentReport, ComponentError> {
    let Some(want) =
        desired_detector(id, &env.spec.guard_duty, &env.spec.aws.tags).map_err(invalid(C))?
    else {
        return Ok(report(
            C,
            ComponentState::Ready,
            "not enabled (spec.guardDuty.enabled is false)",
        ));
    };
    let apply = mode == WriteMode::Apply;
    let Some(seen) = guardduty::observe(aws).await.map_err(aws_err(C))? else {
        if !apply {
            return Ok(report(
                C,
                ComponentState::Pending,
                format!("no detector in {} yet (suspended)", id.region),
            ));
        }
        // Same token for a retry after a lost answer; a new one per spec generation.
        let token = format!(
            "{}-{}",
            id.environment_id(),
            attempt_salt(env.metadata.generation, None)
        );
        let detector = guardduty::create(aws, &want, &token)
            .await
            .map_err(aws_err(C))?;
        let mut r = report(
            C,
            ComponentState::Creating,
            format!("created detector {detector}"),
        );
        r.id = Some(detector);
        r.wrote = true;
        return Ok(r);
    };
    let adopted = !seen.tags.is_owned_by(&id.uid);
    let mut notes = Vec::new();
    if adopted {
        notes.push(format!(
            "using the account's detector {} (not created by this environment; never deleted)",
            seen.id
        ));
    }
    let changes = detector_changes(&want, &seen);
    let mut r = report(C, ComponentState::Ready, "");
    r.id = Some(seen.id.clone());
    if !changes.is_empty() {
        let what = changes
            .iter()
            .map(|c| c.describe())
            .collect::<Vec<_>>()
            .join(", ");
        r.state = ComponentState::Updating;
        if apply {
            guardduty::enable(aws, &seen.id, &want.features)
                .await
                .map_err(aws_err(C))?;
            r.wrote = true;
            notes.push(format!("enabled: {what}"));
        } else {
            notes.push(format!("not corrected while suspended: {what}"));
        }
    }
    r.message = (!notes.is_empty()).then(|| notes.join("; "));
    Ok(r)
}

/// Deletion: the detector is never deleted (no AWS call is made).
pub fn cleanup_guardduty(env: &RedcapEnvironment) -> ComponentReport {
    if env.spec.guard_duty.enabled {
        report(
            C,
            ComponentState::Retained,
            "the GuardDuty detector is kept: it serves the whole account and region (delete it with `aws guardduty delete-detector` if nothing else needs it)",
        )
    } else {
        report(C, ComponentState::Deleted, "GuardDuty was not enabled")
    }
}
