//! The optional GuardDuty component against the emulator, run alone (the rest of the walk
//! is not involved: GuardDuty needs nothing the other components make).
//!
//! Needs `AWS_ENDPOINT_URL` pointing at the emulator started by `bash e2e/scripts/moto.sh
//! start <dir>`; fails (never skips) without it. GuardDuty has one detector per account
//! and region, so this file uses a region of its own and one sequential test: create,
//! steady state, drift, adoption by a second environment, deletion that keeps the detector.

use aws_sdk_guardduty::types::{DetectorFeature, DetectorFeatureConfiguration, FeatureStatus};
use redcap_e2e::components::{self, Harness};
use redcap_operator::api::{ComponentName, ComponentState, RedcapEnvironment, tags};
use redcap_operator::aws::AwsCtx;
use redcap_operator::aws::sdk::*;
use redcap_operator::reconcile::report::{ComponentReport, PassReport};

/// No other test file uses this region, so the account's one detector here is ours.
const REGION: &str = "ap-southeast-2";
/// The only component these tests run.
const ONLY: &[ComponentName] = &[ComponentName::GuardDuty];

fn environment(guard_duty: serde_json::Value) -> RedcapEnvironment {
    components::environment(
        REGION,
        "redcap-binaries",
        Some(1),
        serde_json::json!({"guardDuty": guard_duty}),
    )
}

fn guard_duty(pass: &PassReport) -> &ComponentReport {
    components::report(pass, ComponentName::GuardDuty)
}

async fn detector(
    ctx: &AwsCtx,
    id: &str,
) -> aws_sdk_guardduty::operation::get_detector::GetDetectorOutput {
    ctx.guardduty.get_detector().detector_id(id).send().await.expect("detector")
}

async fn features(ctx: &AwsCtx, id: &str) -> Vec<(String, String)> {
    let d = detector(ctx, id).await;
    let mut out: Vec<(String, String)> = d
        .features()
        .iter()
        .filter_map(|f| Some((f.name()?.as_str().to_string(), f.status()?.as_str().to_string())))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn detector_is_created_corrected_adopted_and_never_deleted() {
    let h = Harness::new(REGION).await;
    let ctx = &h.ctx;
    // A server reused from an earlier run still has that run's detector: start clean.
    let left = ctx.guardduty.list_detectors().send().await.expect("list");
    for id in left.detector_ids() {
        ctx.guardduty
            .delete_detector()
            .detector_id(id)
            .send()
            .await
            .expect("delete a previous run's detector");
    }

    // Off by default: not a single GuardDuty call.
    let off = environment(serde_json::json!({}));
    let (pass, calls) = h.counted(h.pass_only(&off, ONLY)).await;
    assert_eq!(guard_duty(&pass).state, ComponentState::Ready);
    assert_eq!(calls.of("guardduty", "ListDetectors") + calls.of("guardduty", "CreateDetector"), 0);

    // Enabled with no detector in the region: created, enabled, tagged as ours.
    let env = environment(serde_json::json!({"enabled": true}));
    let first = h.pass_only(&env, ONLY).await;
    let created = guard_duty(&first);
    assert_eq!(created.state, ComponentState::Creating, "{created:?}");
    let id = created.id.clone().expect("detector id");
    let detector = detector(ctx, &id).await;
    assert_eq!(detector.status().map(|s| s.as_str()), Some("ENABLED"));
    let uid = env.metadata.uid.clone().expect("uid");
    assert_eq!(
        detector.tags().and_then(|t| t.get(tags::UID)).map(String::as_str),
        Some(uid.as_str())
    );
    let enabled = |f: &str| (f.to_string(), "ENABLED".to_string());
    assert_eq!(
        features(ctx, &id).await,
        [enabled("LAMBDA_NETWORK_LOGS"), enabled("RDS_LOGIN_EVENTS"), enabled("S3_DATA_EVENTS")]
    );

    // Steady: two reads, no write.
    h.pass_only(&env, ONLY).await;
    let (pass, calls) = h.counted(h.pass_only(&env, ONLY)).await;
    assert_eq!(guard_duty(&pass).state, ComponentState::Ready, "{pass:?}");
    assert_eq!(components::writes_to(&calls, "guardduty").len(), 0);
    assert_eq!(calls.of("guardduty", "ListDetectors"), 1);
    assert_eq!(calls.of("guardduty", "GetDetector"), 1);

    // Someone turns S3 protection off: it is turned on again.
    ctx.guardduty
        .update_detector()
        .detector_id(&id)
        .features(
            DetectorFeatureConfiguration::builder()
                .name(DetectorFeature::S3DataEvents)
                .status(FeatureStatus::Disabled)
                .build(),
        )
        .send()
        .await
        .expect("disable a plan");
    let fixed = h.pass_only(&env, ONLY).await;
    let report = guard_duty(&fixed);
    assert_eq!(report.state, ComponentState::Updating, "{report:?}");
    assert!(report.message.as_deref().unwrap_or_default().contains("S3_DATA_EVENTS"), "{report:?}");
    assert!(features(ctx, &id).await.contains(&enabled("S3_DATA_EVENTS")));

    // A second environment in the region adopts the detector instead of creating one.
    let second = environment(serde_json::json!({"enabled": true}));
    let (pass, calls) = h.counted(h.pass_only(&second, ONLY)).await;
    let adopted = guard_duty(&pass);
    assert_eq!(adopted.id.as_deref(), Some(id.as_str()));
    assert!(
        adopted.message.as_deref().unwrap_or_default().contains("not created by this environment"),
        "{adopted:?}"
    );
    assert_eq!(calls.of("guardduty", "CreateDetector"), 0);

    // Deleting either environment keeps the detector.
    for e in [&second, &env] {
        let pass = h.cleanup_only(e, ONLY).await;
        assert_eq!(guard_duty(&pass).state, ComponentState::Retained);
    }
    let list = ctx.guardduty.list_detectors().send().await.expect("list");
    assert_eq!(list.detector_ids(), [id]);
}
