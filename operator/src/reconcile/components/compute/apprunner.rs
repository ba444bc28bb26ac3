//! Kind `AppRunner` (being built: see the helper's branch).

use crate::reconcile::error::{ComponentError, refused};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::Walk;

use super::{C, Deploy, Retired, Served};

fn not_yet() -> ComponentError {
    refused(
        C,
        "operator",
        "Compute",
        "KindNotBuilt",
        "spec.compute.kind AppRunner is not built yet",
    )
}

pub(super) async fn apply(
    _: &mut Walk<'_>,
    _: &mut Ledger,
    _: &Deploy<'_>,
) -> Result<Served, ComponentError> {
    Err(not_yet())
}

pub(super) async fn observe(_: &Walk<'_>, _: &Deploy<'_>) -> Result<Served, ComponentError> {
    Err(not_yet())
}

pub(super) async fn present(_: &Walk<'_>) -> Result<bool, ComponentError> {
    Ok(false)
}

pub(super) async fn retire(_: &Walk<'_>, _: &mut Ledger) -> Result<Retired, ComponentError> {
    Ok(Retired::Gone)
}
