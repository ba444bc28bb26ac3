//! The image build with the operator as a process against the real kube-apiserver and
//! the emulator: an operator killed in the middle of a build is replaced by one that
//! adopts the build (exactly one build across the restart), writes nothing once Ready,
//! rebuilds only when the rebuild annotation asks, and deletes the project with the
//! environment.
//!
//! Builds take `codebuild.build:<project>` seconds (emulator control API, narrowed to this
//! test's own project). Needs the local control plane with `REDCAP_OPERATOR_BIN` and
//! `AWS_ENDPOINT_URL`; fails, never skips, without them.

use std::time::Duration;

use redcap_e2e::components::{aws_context, image_project};
use redcap_e2e::emulator::EmulatorControl;
use redcap_e2e::manifests::EnvironmentManifest;
use redcap_e2e::probe;
use redcap_e2e::{Operator, OperatorOptions, TestEnv, is_ready};
use redcap_operator::api::{ANNOTATION_REBUILD_REQUESTED_AT, RedcapEnvironment};
use redcap_operator::aws::codebuild;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(120);

/// Builds of this project take `seconds` and succeed.
fn build_config(project: &str, seconds: f64) {
    EmulatorControl::from_env().set_build(project, seconds, None).expect("build settings");
}

fn build_of(env: &RedcapEnvironment) -> Option<(String, String)> {
    let b = env.status.as_ref()?.image.as_ref()?.build.as_ref()?;
    Some((b.id.clone(), b.status.clone()))
}

#[tokio::test]
async fn an_operator_restart_during_a_build_adopts_it_and_rebuilds_only_when_asked()
-> anyhow::Result<()> {
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("image").await?;
    let created = env.apply_yaml(&ns, &EnvironmentManifest::new("build").yaml()).await?;
    let project = image_project(&created);
    // Long enough to kill the operator in the middle.
    build_config(&project, 20.0);

    let mut op = Operator::start(&env, "image-1", OperatorOptions::scoped(&ns)).await?;
    let running = env
        .wait_env(&ns, "build", TIMEOUT, "building its image", |e| {
            build_of(e).is_some_and(|(_, s)| s == "IN_PROGRESS")
        })
        .await?;
    let (build_id, _) = build_of(&running).expect("build");
    op.kill().await?;

    let mut op = Operator::start(&env, "image-2", OperatorOptions::scoped(&ns)).await?;
    let ready = env.wait_ready(&ns, "build", TIMEOUT).await?;
    let status = ready.status.clone().expect("status");
    let image = status.image.clone().expect("status.image");
    assert_eq!(image.build.as_ref().map(|b| b.id.as_str()), Some(build_id.as_str()));
    assert_eq!(image.build.as_ref().map(|b| b.status.as_str()), Some("SUCCEEDED"));
    let reference = image.reference.clone().expect("reference");
    assert!(reference.contains("@sha256:"), "{reference}");
    assert_eq!(status.outputs.image.as_deref(), Some(reference.as_str()));
    let (ctx, _) = aws_context("us-east-1").await;
    let ids = codebuild::list_builds(&ctx, &project).await?;
    assert_eq!(ids, std::slice::from_ref(&build_id), "exactly one build across the restart");

    // Steady state: no writes over several resyncs.
    let writes = op.aws_calls("write").await?;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(op.aws_calls("write").await?, writes, "steady state wrote");

    // The rebuild annotation: one new build, a new tag and digest.
    build_config(&project, 0.0);
    let patch = json!({"metadata": {"annotations": {ANNOTATION_REBUILD_REQUESTED_AT: "2026-05-01T12:00:00Z"}}});
    env.environments(&ns)
        .patch("build", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch))
        .await?;
    let rebuilt = env
        .wait_env(&ns, "build", TIMEOUT, "Ready with a rebuilt image", |e| {
            is_ready(e)
                && e.status.as_ref().and_then(|s| s.image.as_ref()).is_some_and(|i| {
                    i.tag != image.tag && i.reference.is_some() && i.reference != image.reference
                })
        })
        .await?;
    let ids = codebuild::list_builds(&ctx, &project).await?;
    assert_eq!(ids.len(), 2, "one more build: {ids:?}");
    assert_eq!(rebuilt.status.and_then(|s| s.outputs.image), rebuilt_reference(&env, &ns).await?);

    env.delete_env(&ns, "build").await?;
    env.wait_gone(&ns, "build", TIMEOUT).await?;
    assert!(
        probe::codebuild_project(&ctx.codebuild, &project).await.is_none(),
        "the project is deleted with the environment"
    );
    op.stop().await?;
    Ok(())
}

async fn rebuilt_reference(env: &TestEnv, ns: &str) -> anyhow::Result<Option<String>> {
    Ok(env
        .environments(ns)
        .get("build")
        .await?
        .status
        .and_then(|s| s.image)
        .and_then(|i| i.reference))
}
