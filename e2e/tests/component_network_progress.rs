//! The network component follows a stack that takes time (`*_IN_PROGRESS`) without
//! writing again: create, update and delete each report their in-progress state, ask to be
//! looked at again, and finish on a later pass.
//!
//! Uses the emulator's CloudFormation durations (`/_emulator/config`), which are global:
//! this file holds one test, so nothing else runs against the server while they are set
//! (cargo runs test binaries one after another), and a guard resets them even when an
//! assertion fails. Needs `AWS_ENDPOINT_URL` pointing at the emulator started by
//! `e2e/scripts/moto.sh` (fails, never skips, without it).

use std::time::Duration;

use redcap_e2e::components::{self, Harness, writes_to};
use redcap_e2e::emulator::EmulatorControl;
use redcap_e2e::probe::{Limit, settle_until};
use redcap_operator::api::{ComponentName, ComponentState, RedcapEnvironment};
use redcap_operator::aws::CallCounts;
use redcap_operator::reconcile::report::{ComponentReport, PassReport};
use serde_json::json;

const REGION: &str = "eu-west-1";
/// Seconds each stack operation stays in progress.
const BUSY: u64 = 2;

fn environment() -> RedcapEnvironment {
    components::environment(REGION, "redcap-binaries", Some(1), json!({}))
}

fn network(pass: &PassReport) -> &ComponentReport {
    components::report(pass, ComponentName::Network)
}

/// A pass during the operation, with its calls: the state given, a requeue, and no stack
/// write.
fn assert_busy(counted: &(PassReport, CallCounts), state: ComponentState, status_word: &str) {
    let (pass, calls) = counted;
    assert_eq!(network(pass).state, state, "{pass:?}");
    assert!(network(pass).message.as_deref().unwrap_or_default().contains(status_word), "{pass:?}");
    assert!(pass.requeue_after.is_some(), "{pass:?}");
    assert!(writes_to(calls, "cloudformation").is_empty(), "no write while CloudFormation works");
}

#[tokio::test]
async fn create_update_and_delete_are_followed_without_writing_twice() {
    let h = Harness::with_release(REGION, "redcap-binaries").await;
    let durations = json!({"durations": {
        "cloudformation.create": BUSY,
        "cloudformation.update": BUSY,
        "cloudformation.delete": BUSY,
    }});
    let _reset =
        EmulatorControl::from_env().set_config(durations).expect("setting stack durations");
    let wait = || tokio::time::sleep(Duration::from_secs(BUSY + 1));

    let env = environment();
    h.pass(&env).await; // the key; the stack waits for its policy
    let created = h.pass(&env).await;
    assert_eq!(network(&created).state, ComponentState::Creating);
    let busy = h.counted(h.pass(&env)).await;
    assert_busy(&busy, ComponentState::Creating, "create in progress");
    wait().await;
    let ready = h.pass(&env).await;
    assert_eq!(network(&ready).state, ComponentState::Ready, "{ready:?}");
    assert!(ready.outputs.vpc_id.is_some());

    let mut changed = env.clone();
    changed.spec.logs.retention_days = 90;
    changed.metadata.generation = Some(2);
    let (updating, calls) = h.counted(h.pass(&changed)).await;
    assert_eq!(network(&updating).state, ComponentState::Updating);
    assert_eq!(writes_to(&calls, "cloudformation"), ["cloudformation.UpdateStack"]);
    let busy = h.counted(h.pass(&changed)).await;
    assert_busy(&busy, ComponentState::Updating, "update in progress");
    wait().await;
    let ready = h.pass(&changed).await;
    assert_eq!(network(&ready).state, ComponentState::Ready, "{ready:?}");

    // The database lives in the network: the stack's deletion starts once it is gone.
    let step = async || h.cleanup(&changed).await;
    let database_gone =
        |p: &PassReport| components::state(p, ComponentName::Database) == ComponentState::Deleted;
    let deleting = settle_until(Limit::Tries(11), Duration::ZERO, step, database_gone)
        .await
        .unwrap_or_else(|last| last);
    assert_eq!(network(&deleting).state, ComponentState::Deleting);
    let busy = h.counted(h.cleanup(&changed)).await;
    assert_busy(&busy, ComponentState::Deleting, "being deleted");
    wait().await;
    let step = async || h.cleanup(&changed).await;
    let done = settle_until(Limit::Tries(4), Duration::ZERO, step, |p| p.requeue_after.is_none())
        .await
        .unwrap_or_else(|last| last);
    assert_eq!(network(&done).state, ComponentState::Deleted, "{done:?}");
}
