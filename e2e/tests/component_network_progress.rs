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

use redcap_e2e::components::{self, aws_context};
use redcap_e2e::components::{apply_components, cleanup_components};
use redcap_e2e::emulator::EmulatorControl;
use redcap_operator::api::{ComponentName, ComponentState, RedcapEnvironment};
use redcap_operator::aws::{AwsCallMetrics, AwsCtx, CallCounts};
use redcap_operator::reconcile::ledger::WriteMode;
use redcap_operator::reconcile::references::MemorySecrets;
use redcap_operator::reconcile::report::{ComponentReport, PassReport};
use serde_json::json;

const REGION: &str = "eu-west-1";
/// Seconds each stack operation stays in progress.
const BUSY: u64 = 2;

fn environment() -> RedcapEnvironment {
    components::environment(REGION, "redcap-binaries", Some(1), json!({}))
}

fn network(pass: &PassReport) -> &ComponentReport {
    pass.components
        .iter()
        .find(|c| c.name == ComponentName::Network)
        .expect("network reported")
}

fn stack_writes(metrics: &AwsCallMetrics, before: &CallCounts) -> Vec<String> {
    metrics
        .snapshot()
        .since(before)
        .write_operations()
        .into_iter()
        .filter(|op| op.starts_with("cloudformation."))
        .collect()
}

/// Where the generated cron Secret lives (these tests exercise only AWS). Every
/// environment here is `e2e/redcap`, so they share that Secret: it only seeds a token.
static STORE: std::sync::LazyLock<MemorySecrets> = std::sync::LazyLock::new(MemorySecrets::default);

async fn apply(ctx: &AwsCtx, env: &RedcapEnvironment) -> PassReport {
    apply_components(ctx, &*STORE, env, WriteMode::Apply)
        .await
        .expect("apply pass")
}

/// A pass during the operation: the state given, a requeue, and no stack write since
/// `before`.
fn assert_busy(
    metrics: &AwsCallMetrics,
    before: &CallCounts,
    pass: &PassReport,
    state: ComponentState,
    status_word: &str,
) {
    assert_eq!(network(pass).state, state, "{pass:?}");
    assert!(
        network(pass)
            .message
            .as_deref()
            .unwrap_or_default()
            .contains(status_word),
        "{pass:?}"
    );
    assert!(pass.requeue_after.is_some(), "{pass:?}");
    assert!(
        stack_writes(metrics, before).is_empty(),
        "no write while CloudFormation works"
    );
}

#[tokio::test]
async fn create_update_and_delete_are_followed_without_writing_twice() {
    let (ctx, metrics) = aws_context(REGION).await;
    components::ensure_release(&ctx, "redcap-binaries").await;
    let durations = json!({"durations": {
        "cloudformation.create": BUSY,
        "cloudformation.update": BUSY,
        "cloudformation.delete": BUSY,
    }});
    let _reset = EmulatorControl::from_env()
        .set_config(durations)
        .expect("setting stack durations");
    let wait = || tokio::time::sleep(Duration::from_secs(BUSY + 1));

    let env = environment();
    apply(&ctx, &env).await; // the key; the stack waits for its policy
    let created = apply(&ctx, &env).await;
    assert_eq!(network(&created).state, ComponentState::Creating);
    let before = metrics.snapshot();
    let busy = apply(&ctx, &env).await;
    assert_busy(
        &metrics,
        &before,
        &busy,
        ComponentState::Creating,
        "create in progress",
    );
    wait().await;
    let ready = apply(&ctx, &env).await;
    assert_eq!(network(&ready).state, ComponentState::Ready, "{ready:?}");
    assert!(ready.outputs.vpc_id.is_some());

    let mut changed = env.clone();
    changed.spec.logs.retention_days = 90;
    changed.metadata.generation = Some(2);
    let before = metrics.snapshot();
    let updating = apply(&ctx, &changed).await;
    assert_eq!(network(&updating).state, ComponentState::Updating);
    assert_eq!(
        stack_writes(&metrics, &before),
        ["cloudformation.UpdateStack"]
    );
    let before = metrics.snapshot();
    let busy = apply(&ctx, &changed).await;
    assert_busy(
        &metrics,
        &before,
        &busy,
        ComponentState::Updating,
        "update in progress",
    );
    wait().await;
    let ready = apply(&ctx, &changed).await;
    assert_eq!(network(&ready).state, ComponentState::Ready, "{ready:?}");

    // The database lives in the network: the stack's deletion starts once it is gone.
    let mut deleting = cleanup_components(&ctx, &changed).await.expect("cleanup");
    for _ in 0..10 {
        let database = deleting
            .components
            .iter()
            .find(|c| c.name == ComponentName::Database)
            .expect("database reported");
        if database.state == ComponentState::Deleted {
            break;
        }
        deleting = cleanup_components(&ctx, &changed).await.expect("cleanup");
    }
    assert_eq!(network(&deleting).state, ComponentState::Deleting);
    let before = metrics.snapshot();
    let busy = cleanup_components(&ctx, &changed).await.expect("cleanup");
    assert_busy(
        &metrics,
        &before,
        &busy,
        ComponentState::Deleting,
        "being deleted",
    );
    wait().await;
    let mut done = cleanup_components(&ctx, &changed).await.expect("cleanup");
    for _ in 0..3 {
        if done.requeue_after.is_none() {
            break;
        }
        done = cleanup_components(&ctx, &changed).await.expect("cleanup");
    }
    assert_eq!(network(&done).state, ComponentState::Deleted, "{done:?}");
}
