//! The image component against the emulator: the ECR repository, the CodeBuild project
//! and the builds, run in-process (`operator_image.rs` restarts the operator process in
//! the middle of a build).
//!
//! Builds take `codebuild.build:<project>` seconds and end as `codebuild:<project>` says
//! (emulator control API, narrowed to each test's own project so tests run side by side);
//! a successful one puts its image into the emulator's ECR. Needs `AWS_ENDPOINT_URL`;
//! fails, never skips, without it.

use std::time::Duration;

use redcap_e2e::components::{self, all_ready, image_project, state, unique};
use redcap_e2e::emulator::EmulatorControl;
use redcap_e2e::ensure_release;
use redcap_e2e::probe::{self, Limit, settle_until};
use redcap_operator::api::{
    ANNOTATION_REBUILD_REQUESTED_AT, ComponentName, ComponentState, RedcapEnvironment,
    RedcapEnvironmentStatus,
};
use redcap_operator::aws::codebuild;
use redcap_operator::plan::image::builds::ObservedBuild;
use redcap_operator::plan::image::context::EMBEDDED;
use redcap_operator::plan::image::{image_request, repository_name};
use redcap_operator::reconcile::ComponentError;
use redcap_operator::reconcile::ledger::WriteMode;
use redcap_operator::reconcile::report::{ComponentReport, PassReport};
use serde_json::{Value, json};

const REGION: &str = "eu-west-1";

/// The component harness with a release bucket of this test's own.
struct Harness {
    base: components::Harness,
    releases: String,
}

impl std::ops::Deref for Harness {
    type Target = components::Harness;
    fn deref(&self) -> &components::Harness {
        &self.base
    }
}

async fn harness() -> Harness {
    let releases = format!("rel-{}", unique());
    Harness { base: components::Harness::with_release(REGION, &releases).await, releases }
}

/// A harness whose release bucket also holds REDCap 16.1.5, an environment on 15.0.0,
/// and its CodeBuild project.
async fn with_next_release() -> (Harness, RedcapEnvironment, String) {
    let h = harness().await;
    ensure_release(&h.ctx.s3, &h.releases, "16.1.5").await.expect("release zip");
    let env = environment(&h, json!({}));
    let project = image_project(&env);
    (h, env, project)
}

fn environment(h: &Harness, spec_extra: Value) -> RedcapEnvironment {
    components::environment(REGION, &h.releases, Some(1), spec_extra)
}

/// Sets this project's build duration and outcome in the emulator.
fn build_config(project: &str, seconds: f64, outcome: Option<(&str, &str)>) {
    EmulatorControl::from_env().set_build(project, seconds, outcome).expect("build settings");
}

/// One pass; the status the operator would write is carried into `env` (hints such as the
/// build id and the previous image live there).
async fn pass(h: &Harness, env: &mut RedcapEnvironment) -> PassReport {
    let report = h.try_pass(env, WriteMode::Apply).await.expect("apply pass");
    remember(env, &report);
    report
}

fn remember(env: &mut RedcapEnvironment, report: &PassReport) {
    let status = env.status.get_or_insert_with(RedcapEnvironmentStatus::default);
    if report.image.is_some() {
        status.image = report.image.clone();
    }
    status.outputs = report.outputs.clone();
}

/// Passes until every component is Ready (key, network, then the image's role, project
/// and build), waiting a little between passes for builds that take time.
async fn settle(h: &Harness, env: &mut RedcapEnvironment) -> PassReport {
    settle_within(h, env, Duration::from_secs(30)).await
}

async fn settle_within(h: &Harness, env: &mut RedcapEnvironment, limit: Duration) -> PassReport {
    let step = async || pass(h, env).await;
    let failed = |r: &PassReport| r.components.iter().any(|c| c.state == ComponentState::Failed);
    let settled = settle_until(Limit::Within(limit), Duration::from_millis(500), step, |r| {
        all_ready(r) || failed(r)
    })
    .await;
    settled.unwrap_or_else(|_| {
        panic!("the environment did not settle within {limit:?}: {:?}", env.status)
    })
}

fn image_report(report: &PassReport) -> &ComponentReport {
    components::report(report, ComponentName::Image)
}

async fn builds(h: &Harness, project: &str) -> Vec<ObservedBuild> {
    let ids = codebuild::list_builds(&h.ctx, project).await.expect("list");
    codebuild::get_builds(&h.ctx, &ids).await.expect("builds")
}

fn tagged<'a>(builds: &'a [ObservedBuild], tag: &str) -> Vec<&'a ObservedBuild> {
    builds.iter().filter(|b| b.tag.as_deref() == Some(tag)).collect()
}

#[tokio::test]
async fn a_build_is_started_once_and_its_digest_lands_in_status_and_outputs() {
    let h = harness().await;
    let mut env = environment(&h, json!({"logs": {"retentionDays": 30}}));
    let ready = settle(&h, &mut env).await;
    let status = ready.image.clone().expect("status.image");
    let project = image_project(&env);
    let all = builds(&h, &project).await;
    assert_eq!(all.len(), 1, "exactly one build: {all:?}");
    assert_eq!(all[0].tag.as_deref(), Some(status.tag.as_str()));
    assert!(status.tag.starts_with("15.0.0-"), "{status:?}");
    assert_eq!(status.container_revision, EMBEDDED.short_revision());

    // The digest, by reference, everywhere later components and users look.
    let digest = status.digest.clone().expect("digest");
    assert!(digest.starts_with("sha256:"));
    let repo_uri = status.repository.clone().expect("repository");
    let reference = format!("{repo_uri}@{digest}");
    assert_eq!(status.reference.as_deref(), Some(reference.as_str()));
    assert_eq!(ready.outputs.image.as_deref(), Some(reference.as_str()));
    assert_eq!(ready.runtime.image.as_deref(), Some(reference.as_str()));
    let build = status.build.clone().expect("build");
    assert_eq!(build.status, "SUCCEEDED");
    assert!(build.logs_url.as_deref().is_some_and(|u| u.contains("image-build")), "{build:?}");

    // The repository: private, scanned, immutable tags, the environment's key, lifecycle.
    let repository = repository_name(&components::environment_id(&env));
    let key_arn = ready.outputs.kms_key_arn.clone().expect("key");
    let repo = h
        .ctx
        .ecr
        .describe_repositories()
        .repository_names(&repository)
        .send()
        .await
        .expect("repository");
    let repo = &repo.repositories()[0];
    assert_eq!(repo.image_tag_mutability().map(|m| m.as_str()), Some("IMMUTABLE"));
    assert!(repo.image_scanning_configuration().expect("scan").scan_on_push());
    let enc = repo.encryption_configuration().expect("encryption");
    assert_eq!(enc.encryption_type().as_str(), "KMS");
    assert_eq!(enc.kms_key(), Some(key_arn.as_str()));
    let lifecycle = h
        .ctx
        .ecr
        .get_lifecycle_policy()
        .repository_name(&repository)
        .send()
        .await
        .expect("lifecycle");
    assert!(lifecycle.lifecycle_policy_text().unwrap_or_default().contains("untagged"));

    // The project: privileged, in the private subnets with the build group, encrypted,
    // logging to its own group with the retention.
    let p = probe::codebuild_project(&h.ctx.codebuild, &project).await.expect("project");
    assert_eq!(p.environment().and_then(|e| e.privileged_mode()), Some(true));
    assert_eq!(p.encryption_key(), Some(key_arn.as_str()));
    let vpc = p.vpc_config().expect("vpc config");
    assert_eq!(vpc.vpc_id(), ready.outputs.vpc_id.as_deref());
    assert_eq!(vpc.subnets().len(), 2);
    assert_eq!(vpc.security_group_ids().len(), 1);
    let group = p
        .logs_config()
        .and_then(|l| l.cloud_watch_logs())
        .and_then(|c| c.group_name())
        .expect("log group")
        .to_string();
    let groups = probe::log_groups(&h.ctx.logs, &group).await;
    assert_eq!(groups[0].retention_in_days(), Some(30));
    assert_eq!(groups[0].kms_key_id(), Some(key_arn.as_str()));

    // The build role carries the operator's permissions boundary (issue 15, finding 6).
    let role_arn = p.service_role().expect("service role");
    let role_name = role_arn.rsplit('/').next().expect("role name");
    assert_eq!(
        probe::role_boundary(&h.ctx.iam, role_name).await.as_deref(),
        Some(components::PERMISSIONS_BOUNDARY_ARN),
        "build role"
    );

    // The context zip the build read, under its revision, in the build bucket.
    let source = p.source().and_then(|s| s.location()).expect("source");
    let (bucket, key) = source.split_once('/').expect("bucket/key");
    assert!(key.contains(&EMBEDDED.revision), "{key}");
    let zip = h
        .ctx
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("context zip")
        .body
        .collect()
        .await
        .expect("bytes")
        .into_bytes();
    assert_eq!(zip.as_ref(), EMBEDDED.zip.as_slice());

    // Steady state: reads only, no new build.
    let (again, calls) = h.counted(pass(&h, &mut env)).await;
    assert_eq!(calls.writes(), 0, "{:?}", calls.write_operations());
    assert_eq!(calls.of("codebuild", "ListBuildsForProject"), 0);
    assert_eq!(state(&again, ComponentName::Image), ComponentState::Ready);
    assert_eq!(builds(&h, &project).await.len(), 1);

    // A role from before the boundary (none set) gets it back, and nothing else changes.
    h.ctx
        .iam
        .delete_role_permissions_boundary()
        .role_name(role_name)
        .send()
        .await
        .expect("remove the boundary by hand");
    let (_, calls) = h.counted(pass(&h, &mut env)).await;
    assert_eq!(
        calls.write_operations(),
        ["iam.PutRolePermissionsBoundary"],
        "only the boundary is put back"
    );
    assert_eq!(
        probe::role_boundary(&h.ctx.iam, role_name).await.as_deref(),
        Some(components::PERMISSIONS_BOUNDARY_ARN)
    );

    // Deletion (Snapshot): the project, role, bucket and repository go.
    let step = async || h.cleanup(&env).await;
    let done = settle_until(Limit::Tries(11), Duration::ZERO, step, |p| p.requeue_after.is_none())
        .await
        .unwrap_or_else(|last| last);
    assert_eq!(state(&done, ComponentName::Image), ComponentState::Deleted);
    assert!(h.ctx.ecr.describe_repositories().repository_names(&repository).send().await.is_err());
    assert!(probe::codebuild_project(&h.ctx.codebuild, &project).await.is_none());
}

#[tokio::test]
async fn a_failed_build_reports_its_phase_and_is_not_restarted() {
    let h = harness().await;
    let mut env = environment(&h, json!({}));
    let project = image_project(&env);
    build_config(&project, 0.0, Some(("FAILED", "PRE_BUILD")));
    let failed = settle(&h, &mut env).await;
    let image = image_report(&failed);
    assert_eq!(image.state, ComponentState::Failed, "{image:?}");
    let message = image.message.clone().unwrap_or_default();
    assert!(message.contains("in phase PRE_BUILD"), "{message}");
    assert!(message.contains("log: https://"), "{message}");
    let status = failed.image.clone().expect("status.image");
    let build = status.build.expect("build");
    assert_eq!(
        (build.status.as_str(), build.failed_phase.as_deref()),
        ("FAILED", Some("PRE_BUILD"))
    );
    assert_eq!(status.reference, None, "nothing to run yet");

    // Later passes (and a restart that lost the status) start nothing.
    for forget in [false, true] {
        if forget {
            env.status = None;
        }
        let again = pass(&h, &mut env).await;
        assert_eq!(state(&again, ComponentName::Image), ComponentState::Failed);
    }
    assert_eq!(builds(&h, &project).await.len(), 1, "no automatic retry");

    // A rebuild request is a new tag: one new build, which succeeds.
    build_config(&project, 0.0, Some(("SUCCEEDED", "BUILD")));
    env.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(ANNOTATION_REBUILD_REQUESTED_AT.into(), "2026-01-01T00:00:00Z".into());
    let ready = settle(&h, &mut env).await;
    assert_eq!(state(&ready, ComponentName::Image), ComponentState::Ready);
    let all = builds(&h, &project).await;
    assert_eq!(all.len(), 2);
    let tag = ready.image.expect("status").tag;
    assert_eq!(tagged(&all, &tag).len(), 1);
}

#[tokio::test]
async fn a_version_change_builds_a_new_image_and_runs_the_old_one_until_then() {
    let (h, mut env, project) = with_next_release().await;
    let first = settle(&h, &mut env).await;
    let old = first.image.clone().expect("status");
    let old_reference = old.reference.clone().expect("reference");

    build_config(&project, 4.0, None);
    env.spec.redcap.version = "16.1.5".into();
    env.spec.redcap.source.s3.as_mut().expect("s3").key = "redcap16.1.5.zip".into();
    env.metadata.generation = Some(2);
    let (started, calls) = h.counted(pass(&h, &mut env)).await;
    assert_eq!(calls.of("codebuild", "UpdateProject"), 1, "the project follows the spec");
    assert_eq!(calls.of("codebuild", "StartBuild"), 1);
    let image = image_report(&started);
    assert_eq!(image.state, ComponentState::Updating, "{image:?}");
    let status = started.image.clone().expect("status");
    assert!(status.tag.starts_with("16.1.5-"));
    assert_eq!(status.build.as_ref().map(|b| b.status.as_str()), Some("IN_PROGRESS"));
    assert_eq!(status.reference.as_deref(), Some(old_reference.as_str()), "old image runs");
    assert_eq!(started.runtime.image.as_deref(), Some(old_reference.as_str()));

    let ready = settle(&h, &mut env).await;
    let new = ready.image.clone().expect("status");
    assert_ne!(new.reference, old.reference);
    assert_eq!(ready.outputs.image, new.reference);
    let all = builds(&h, &project).await;
    assert_eq!(all.len(), 2, "one build per version: {all:?}");
    assert_eq!(tagged(&all, &new.tag).len(), 1);
}

#[tokio::test]
async fn a_missing_release_object_stalls_before_any_build() {
    let h = harness().await;
    let mut env = environment(&h, json!({}));
    env.spec.redcap.version = "15.8.0".into();
    env.spec.redcap.source.s3.as_mut().expect("s3").key = "releases/redcap15.8.0.zip".into();
    let project = image_project(&env);
    let mut err = None;
    for _ in 0..10 {
        match h.try_pass(&env, WriteMode::Apply).await {
            Ok(report) => remember(&mut env, &report),
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let err = err.expect("the missing object stalls the image");
    assert!(matches!(err, ComponentError::Invalid { .. }), "{err:?}");
    assert_eq!(err.component(), ComponentName::Image);
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "spec.redcap.source.s3: s3://{}/releases/redcap15.8.0.zip does not exist",
            h.releases
        )),
        "{text}"
    );
    assert!(builds(&h, &project).await.is_empty(), "no build was started");

    // Uploading it is all it takes.
    h.ctx
        .s3
        .put_object()
        .bucket(&h.releases)
        .key("releases/redcap15.8.0.zip")
        .body(redcap_e2e::FAKE_RELEASE_ZIP.to_vec().into())
        .send()
        .await
        .expect("upload");
    let ready = settle(&h, &mut env).await;
    assert_eq!(state(&ready, ComponentName::Image), ComponentState::Ready);
    assert_eq!(builds(&h, &project).await.len(), 1);
}

#[tokio::test]
async fn a_build_already_running_for_the_tag_is_adopted_past_the_first_page() {
    let (h, mut env, project) = with_next_release().await;
    settle(&h, &mut env).await;

    // Someone (an earlier operator process, a human in the console) started the build of
    // the next version, then 110 other builds ran: it is on the second page now.
    let mut next = env.spec.redcap.clone();
    next.version = "16.1.5".into();
    next.source.s3.as_mut().expect("s3").key = "redcap16.1.5.zip".into();
    let tag = image_request(&next, &EMBEDDED.revision, None).expect("request").tag;
    // Long enough to still run after the decoys have been started on a busy machine.
    build_config(&project, 40.0, None);
    let running = codebuild::start_build(&h.ctx, &project, &tag, &format!("adopt-{}", unique()))
        .await
        .expect("start the build of the next tag");
    for i in 0..110 {
        codebuild::start_build(
            &h.ctx,
            &project,
            &format!("decoy-{i}"),
            &format!("decoy-{i}-{}", unique()),
        )
        .await
        .expect("decoy build");
    }

    // The operator has lost its status (a restart before it was written) and the spec
    // moves to the next version: it finds the running build by its tag and follows it.
    env.spec.redcap = next;
    env.metadata.generation = Some(2);
    env.status = None;
    let (adopted, calls) = h.counted(pass(&h, &mut env)).await;
    assert_eq!(calls.of("codebuild", "StartBuild"), 0, "adopted, not started");
    assert!(calls.of("codebuild", "ListBuildsForProject") >= 2, "every page was read: {calls:?}");
    let status = adopted.image.clone().expect("status");
    assert_eq!(status.build.as_ref().map(|b| b.id.as_str()), Some(running.id.as_str()));
    let image = image_report(&adopted);
    // The status that named the running image is lost, so the image is being created
    // as far as this pass knows (the project's correction is in the message).
    assert_eq!(
        image.state,
        ComponentState::Creating,
        "the project follows the new version, the build runs: {image:?}"
    );
    assert!(
        image.message.as_deref().is_some_and(|m| m.contains(&format!("build {}", running.id))),
        "{image:?}"
    );

    let ready = settle_within(&h, &mut env, Duration::from_secs(90)).await;
    assert_eq!(state(&ready, ComponentName::Image), ComponentState::Ready);
    let all = builds(&h, &project).await;
    assert_eq!(tagged(&all, &tag).len(), 1, "exactly one build of the tag");
    assert_eq!(all.len(), 1 + 1 + 110);
}

#[tokio::test]
async fn consortium_credentials_are_copied_for_the_build_and_never_shown() {
    let h = harness().await;
    let secret = format!("consortium-{}", unique());
    h.store.insert("e2e", &secret, "username", b"site-user");
    h.store.insert("e2e", &secret, "password", b"s3cret-Passw0rd!");
    let mut env = environment(&h, json!({}));
    env.spec.redcap.source = serde_json::from_value(json!({
        "community": {"credentialsSecretRef": {"name": secret}}
    }))
    .expect("source");
    let ready = settle(&h, &mut env).await;
    assert_eq!(state(&ready, ComponentName::Image), ComponentState::Ready);
    let status = ready.image.clone().expect("status");
    let arn = status.credentials_secret_arn.clone().expect("copy");
    let copied = probe::secret_json(&h.ctx.secretsmanager, &arn).await;
    assert_eq!(copied, json!({"username": "site-user", "password": "s3cret-Passw0rd!"}));
    // The build reads it through masked SECRETS_MANAGER variables; nothing in the report
    // (what becomes status) carries the value.
    let project = image_project(&env);
    let p = probe::codebuild_project(&h.ctx.codebuild, &project).await.expect("project");
    let vars = p.environment().expect("env").environment_variables();
    let password =
        vars.iter().find(|v| v.name() == "REDCAP_COMMUNITY_PASSWORD").expect("password variable");
    assert_eq!(password.value(), format!("{arn}:password"));
    assert_eq!(password.r#type().map(|t| t.as_str()), Some("SECRETS_MANAGER"));
    assert!(!format!("{ready:?}").contains("s3cret-Passw0rd!"));

    // A changed Secret is copied again; an unchanged one is not rewritten.
    let (_, calls) = h.counted(pass(&h, &mut env)).await;
    assert_eq!(calls.of("secrets manager", "PutSecretValue"), 0);
    h.store.insert("e2e", &secret, "password", b"n3w-Passw0rd!");
    let (changed, calls) = h.counted(pass(&h, &mut env)).await;
    assert_eq!(image_report(&changed).state, ComponentState::Updating);
    assert_eq!(calls.of("secrets manager", "PutSecretValue"), 1);

    // Back to an S3 source: the copy is deleted (with a recovery window).
    env.spec.redcap.source = serde_json::from_value(json!({
        "s3": {"bucket": h.releases, "key": "redcap15.0.0.zip"}
    }))
    .expect("source");
    settle(&h, &mut env).await;
    assert!(
        probe::secret_deleted(&h.ctx.secretsmanager, &arn).await,
        "the copy is scheduled for deletion"
    );
    assert_eq!(env.status.and_then(|s| s.image).and_then(|i| i.credentials_secret_arn), None);
}
