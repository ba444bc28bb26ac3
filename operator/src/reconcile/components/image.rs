//! The `image` component in the walk (step: reconcile; sequences `plan::image` decisions
//! and `aws::image` calls for one pass). No AWS client code, no status writes.
//!
//! Order within a pass: check the spec's REDCap inputs (before any call), then the ECR
//! repository, the build log group, the build bucket, the consortium credentials copy
//! (community source), and, once the network has its outputs, the build role and the
//! CodeBuild project. Last the image itself: present in ECR -> record the digest; else
//! follow the build of its tag, or check the inputs, upload the context and start one
//! build (see `plan::image::builds`). A newly created role waits one pass before the
//! project uses it (IAM propagation). The digest reference is handed to later components
//! and published in `status.image` and `outputs.image`; while a new tag is built the
//! previous image stays the one to run.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::{
    ANNOTATION_REBUILD_REQUESTED_AT, ComponentName, ComponentState, ImageBuildStatus, ImageStatus,
    Outputs, RedcapEnvironment,
};
use crate::aws::image::objects::Presence;
use crate::aws::image::{codebuild, credentials, ecr, logs, objects, role};
use crate::aws::{AwsCtx, AwsError, ErrorClass, secrets};
use crate::plan::EnvIdentity;
use crate::plan::image::builds::{BuildStep, ObservedBuild, build_step};
use crate::plan::image::buildspec::{Languages, ZipSource};
use crate::plan::image::context::EMBEDDED;
use crate::plan::image::project::{project_drift, tags_to_write};
use crate::plan::image::repository::{encryption_note, repository_changes};
use crate::plan::image::role::role_changes;
use crate::plan::image::{
    ImageRequest, PipelineInput, context_key, desired_build_bucket, desired_log_group,
    desired_pipeline, desired_repository, image_reference, image_request, log_group_changes,
    project_vpc, zip_source,
};
use crate::plan::naming::account_of_arn;
use crate::plan::network::NetworkOutputs;
use crate::plan::secret::{SecretString, random_alphanumeric};
use crate::plan::secrets::{SecretPurpose, desired_secret, secret_changes};

use super::references::SecretStore;
use super::steps::Steps;
use super::{ComponentError, WriteMode, aws_err, converge_bucket, invalid, report};
use crate::reconcile::report::ComponentReport;

const C: ComponentName = ComponentName::Image;

/// Look again this soon while a build runs (builds take minutes).
pub const BUILD_POLL: Duration = Duration::from_secs(15);
/// Look again this soon after creating the build role (IAM propagates in seconds).
const ROLE_SETTLE: Duration = Duration::from_secs(10);

/// What the image step produced for the rest of the walk.
#[derive(Debug)]
pub struct ImageOutcome {
    pub report: ComponentReport,
    pub requeue: Option<Duration>,
    /// `status.image` (`None`: nothing new to say, status keeps what it has).
    pub status: Option<ImageStatus>,
    /// The image to run, by digest.
    pub reference: Option<String>,
}

fn terminal(operation: &'static str, code: &str, message: String) -> ComponentError {
    ComponentError::Aws {
        component: C,
        source: AwsError::terminal("image", operation, code, message),
    }
}

fn time(secs: Option<i64>) -> Option<Time> {
    secs.and_then(|s| Timestamp::from_second(s).ok()).map(Time)
}

fn build_status(b: &ObservedBuild) -> ImageBuildStatus {
    ImageBuildStatus {
        id: b.id.clone(),
        status: b.status.as_aws().to_string(),
        phase: b.current_phase.clone(),
        failed_phase: b.failed_phase.as_ref().map(|(p, _)| p.clone()),
        logs_url: b.logs_url.clone(),
        started_at: time(b.started),
        ended_at: time(b.ended),
    }
}

/// Everything one pass knows, folded into the report at the end.
struct Pass {
    steps: Steps,
    status: ImageStatus,
    requeue: Option<Duration>,
    /// A build was started or is running: not `Ready` yet.
    busy: bool,
    /// Waiting for another component (the network): `Pending` unless something was made.
    waiting: bool,
    failed: Option<String>,
    id: Option<String>,
    arn: Option<String>,
}

impl Pass {
    fn finish(self) -> ImageOutcome {
        let reference = self.status.reference.clone();
        let mut r = self.steps.report(C, self.id, self.arn);
        if let Some(reason) = self.failed {
            r.state = ComponentState::Failed;
            r.message = Some(reason);
        } else if self.waiting && r.state == ComponentState::Ready {
            r.state = ComponentState::Pending;
        } else if self.busy && r.state == ComponentState::Ready {
            r.state = if reference.is_some() {
                ComponentState::Updating
            } else {
                ComponentState::Creating
            };
        }
        ImageOutcome {
            report: r,
            requeue: self.requeue,
            status: Some(self.status),
            reference,
        }
    }
}

/// Converges the image pipeline and the image the spec asks for.
#[allow(clippy::too_many_arguments)]
pub async fn apply_image(
    aws: &AwsCtx,
    store: &impl SecretStore,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
    mode: WriteMode,
    key_arn: Option<&str>,
    network: Option<&NetworkOutputs>,
    outputs: &mut Outputs,
) -> Result<ImageOutcome, ComponentError> {
    let annotation = env
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_REBUILD_REQUESTED_AT))
        .map(String::as_str);
    let ctx = &*EMBEDDED;
    let request = image_request(&env.spec.redcap, &ctx.revision, annotation).map_err(invalid(C))?;
    let previous = env.status.as_ref().and_then(|s| s.image.clone());
    let same_tag = previous.as_ref().filter(|p| p.tag == request.tag);
    let mut pass = Pass {
        steps: Steps::new(mode),
        status: ImageStatus {
            version: request.version.to_string(),
            tag: request.tag.clone(),
            container_revision: ctx.short_revision().to_string(),
            repository: previous.as_ref().and_then(|p| p.repository.clone()),
            build: same_tag.and_then(|p| p.build.clone()),
            digest: None,
            reference: previous.as_ref().and_then(|p| p.reference.clone()),
            credentials_secret_arn: previous
                .as_ref()
                .and_then(|p| p.credentials_secret_arn.clone()),
        },
        requeue: None,
        busy: false,
        waiting: false,
        failed: None,
        id: None,
        arn: None,
    };
    let outcome = Box::pin(converge(
        aws, store, env, id, key_arn, network, &request, &mut pass,
    ))
    .await;
    outputs.image = pass.status.reference.clone();
    match outcome {
        Ok(Some(early)) => Ok(early),
        Ok(None) => Ok(pass.finish()),
        Err(e) => Err(e),
    }
}

/// The pass proper; `Ok(Some(..))` ends it early with a `Pending` report.
#[allow(clippy::too_many_arguments)]
async fn converge(
    aws: &AwsCtx,
    store: &impl SecretStore,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
    key_arn: Option<&str>,
    network: Option<&NetworkOutputs>,
    request: &ImageRequest,
    pass: &mut Pass,
) -> Result<Option<ImageOutcome>, ComponentError> {
    let err = aws_err(C);
    let pending = |message: &str, status: &ImageStatus| ImageOutcome {
        report: report(C, ComponentState::Pending, message),
        requeue: None,
        status: Some(status.clone()),
        reference: status.reference.clone(),
    };
    let (Some(key_arn), Some(account)) = (key_arn, key_arn.and_then(account_of_arn)) else {
        return Ok(Some(pending(
            "waiting for the encryption key",
            &pass.status,
        )));
    };
    let tags = &env.spec.aws.tags;

    // The repository.
    let want_repo = desired_repository(id, tags, key_arn).map_err(invalid(C))?;
    let repo_uri = match ecr::observe(aws, &want_repo.name).await.map_err(&err)? {
        Some(seen) => {
            let changes = repository_changes(&want_repo, &seen, &id.uid)
                .map_err(|m| terminal("DescribeRepositories", "RepositoryNotOwned", m))?;
            if !changes.is_empty() {
                if pass.steps.apply() {
                    ecr::apply(aws, &want_repo, &seen.arn, &changes)
                        .await
                        .map_err(&err)?;
                }
                let what: Vec<&str> = changes.iter().map(|c| c.describe()).collect();
                pass.steps.drift(format!("repository: {}", what.join(", ")));
            }
            if let Some(note) = encryption_note(&want_repo, &seen) {
                pass.steps.note(note);
            }
            pass.arn = Some(seen.arn);
            seen.uri
        }
        None if !pass.steps.apply() => {
            return Ok(Some(pending(
                &format!("repository {} not created yet (suspended)", want_repo.name),
                &pass.status,
            )));
        }
        None => {
            let (arn, uri) = ecr::create(aws, &want_repo).await.map_err(&err)?;
            pass.steps
                .created(format!("created repository {}", want_repo.name));
            pass.arn = Some(arn);
            uri
        }
    };
    pass.status.repository = Some(repo_uri.clone());
    pass.id = Some(want_repo.name.clone());

    // The build log group.
    let want_logs =
        desired_log_group(id, tags, env.spec.logs.retention_days, key_arn).map_err(invalid(C))?;
    match logs::observe(aws, &want_logs.name).await.map_err(&err)? {
        Some(seen) => {
            let changes = log_group_changes(&want_logs, &seen, &id.uid)
                .map_err(|m| terminal("DescribeLogGroups", "LogGroupNotOwned", m))?;
            if !changes.is_empty() {
                if pass.steps.apply() {
                    logs::apply(aws, &want_logs, &seen.arn, &changes)
                        .await
                        .map_err(&err)?;
                }
                let what: Vec<&str> = changes.iter().map(|c| c.describe()).collect();
                pass.steps.drift(format!("log group: {}", what.join(", ")));
            }
        }
        None if !pass.steps.apply() => pass
            .steps
            .missing(format!("log group {} not created yet", want_logs.name)),
        None => {
            logs::create(aws, &want_logs).await.map_err(&err)?;
            pass.steps
                .created(format!("created log group {}", want_logs.name));
        }
    }

    // The build bucket.
    let want_bucket = desired_build_bucket(id, tags, key_arn).map_err(invalid(C))?;
    let mode = if pass.steps.apply() {
        WriteMode::Apply
    } else {
        WriteMode::ObserveOnly
    };
    let bucket = converge_bucket(aws, &want_bucket, &id.uid, mode, true, C).await?;
    if let Some(message) = bucket.message {
        match (bucket.state, bucket.wrote) {
            (ComponentState::Creating, _) => pass.steps.created(message),
            (ComponentState::Pending, _) => pass.steps.missing(message),
            (_, true) => pass.steps.drift(message),
            _ => pass.steps.note(message),
        }
    }

    // The consortium credentials.
    let secret_arn = Box::pin(converge_credentials(aws, store, env, id, key_arn, pass)).await?;
    let Some(zip) = zip_source(&env.spec.redcap, secret_arn.as_deref()) else {
        return Ok(Some(pending(
            "consortium credentials not copied yet (suspended)",
            &pass.status,
        )));
    };

    // The role and the project live in the network.
    let Some(vpc) = network.and_then(project_vpc) else {
        pass.steps
            .note("waiting for the network's private subnets and build security group");
        pass.waiting = true;
        return Ok(None);
    };
    let (want_project, project_tags, want_role) = desired_pipeline(&PipelineInput {
        id,
        account,
        key_arn,
        request,
        zip: zip.clone(),
        vpc,
        extra_tags: tags,
    })
    .map_err(invalid(C))?;
    let role_created = match role::observe(aws, &want_role.name, &want_role.policy_name)
        .await
        .map_err(&err)?
    {
        Some(seen) => {
            let changes = role_changes(&want_role, &seen, &id.uid)
                .map_err(|m| terminal("GetRole", "RoleNotOwned", m))?;
            if !changes.is_empty() {
                if pass.steps.apply() {
                    role::apply(aws, &want_role, &changes).await.map_err(&err)?;
                }
                let what: Vec<&str> = changes.iter().map(|c| c.describe()).collect();
                pass.steps.drift(format!("build role: {}", what.join(", ")));
            }
            false
        }
        None if !pass.steps.apply() => {
            pass.steps
                .missing(format!("build role {} not created yet", want_role.name));
            return Ok(None);
        }
        None => {
            role::create(aws, &want_role).await.map_err(&err)?;
            pass.steps
                .created(format!("created build role {}", want_role.name));
            true
        }
    };
    if role_created {
        pass.steps
            .note("waiting a moment for the new role to propagate before creating the project");
        pass.requeue = Some(ROLE_SETTLE);
        return Ok(None);
    }
    match codebuild::observe_project(aws, &want_project.name)
        .await
        .map_err(&err)?
    {
        Some(seen) => {
            if !seen.tags.is_owned_by(&id.uid) {
                return Err(terminal(
                    "BatchGetProjects",
                    "ProjectNotOwned",
                    format!(
                        "CodeBuild project {} exists and is not tagged as owned by this environment; it is left untouched",
                        want_project.name
                    ),
                ));
            }
            let drift = project_drift(&want_project, &seen.definition);
            let tags_write = tags_to_write(&project_tags, &seen.tags);
            if !drift.is_empty() || tags_write.is_some() {
                if pass.steps.apply() {
                    let all = tags_write.unwrap_or_else(|| seen.tags.clone());
                    codebuild::update_project(aws, &want_project, &all)
                        .await
                        .map_err(&err)?;
                    // The project's source is the context of this revision: have it in
                    // place, so a build started from the console works too.
                    upload_context(aws, &want_bucket.name, request).await?;
                }
                let mut what = drift;
                if what.is_empty() {
                    what.push("tags");
                }
                pass.steps.changed(format!(
                    "updated project {}: {}",
                    want_project.name,
                    what.join(", ")
                ));
            }
        }
        None if !pass.steps.apply() => {
            pass.steps
                .missing(format!("project {} not created yet", want_project.name));
            return Ok(None);
        }
        None => {
            codebuild::create_project(aws, &want_project, &project_tags)
                .await
                .map_err(&err)?;
            upload_context(aws, &want_bucket.name, request).await?;
            pass.steps
                .created(format!("created project {}", want_project.name));
        }
    }

    // The image.
    let names = BuildNames {
        project: &want_project.name,
        repository: &want_repo.name,
        bucket: &want_bucket.name,
    };
    Box::pin(converge_build(aws, request, &names, &zip, pass)).await?;
    Ok(None)
}

/// Copies the consortium login from the Kubernetes Secret into Secrets Manager (only for
/// `source.community`), and deletes the copy once the source is something else. Returns
/// the secret's ARN.
async fn converge_credentials(
    aws: &AwsCtx,
    store: &impl SecretStore,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
    key_arn: &str,
    pass: &mut Pass,
) -> Result<Option<String>, ComponentError> {
    let err = aws_err(C);
    let Some(community) = &env.spec.redcap.source.community else {
        if let Some(arn) = pass.status.credentials_secret_arn.take() {
            if pass.steps.apply() {
                secrets::delete(aws, &arn).await.map_err(&err)?;
                pass.steps
                    .changed("deleted the copy of the consortium credentials (source is no longer community)");
            } else {
                pass.status.credentials_secret_arn = Some(arn);
            }
        }
        return Ok(None);
    };
    let reference = &community.credentials_secret_ref;
    let namespace = &id.namespace;
    let missing = |message: String| ComponentError::SecretReference {
        component: C,
        message,
        class: ErrorClass::Terminal,
    };
    let data = store
        .get(namespace, &reference.name)
        .await
        .map_err(|e| ComponentError::SecretReference {
            component: C,
            class: if e.forbidden {
                ErrorClass::Terminal
            } else {
                ErrorClass::Recoverable
            },
            message: e.message,
        })?
        .ok_or_else(|| {
            missing(format!(
                "spec.redcap.source.community.credentialsSecretRef: Secret {namespace}/{} does not exist",
                reference.name
            ))
        })?;
    let field = |key: &str| -> Result<SecretString, ComponentError> {
        let bytes = data.get(key).ok_or_else(|| {
            missing(format!(
                "spec.redcap.source.community.credentialsSecretRef: Secret {namespace}/{} has no key {key}",
                reference.name
            ))
        })?;
        let text = String::from_utf8(bytes.clone()).map_err(|_| ComponentError::Invalid {
            component: C,
            message: format!(
                "spec.redcap.source.community.credentialsSecretRef: key {key} of Secret {namespace}/{} is not UTF-8 text",
                reference.name
            ),
        })?;
        Ok(SecretString::new(
            text.trim_end_matches(['\r', '\n']).to_string(),
        ))
    };
    let (username, password) = (
        field(&reference.username_key)?,
        field(&reference.password_key)?,
    );
    let value = SecretString::new(
        serde_json::json!({"username": username.expose(), "password": password.expose()})
            .to_string(),
    );
    let want = desired_secret(
        id,
        SecretPurpose::CommunityCredentials,
        key_arn,
        None,
        &env.spec.aws.tags,
    )
    .map_err(invalid(C))?;
    let arn = match secrets::observe(aws, &want.name).await.map_err(&err)? {
        Some(seen) => {
            let changes = secret_changes(&want, &seen, &id.uid)
                .map_err(|m| terminal("DescribeSecret", "NameTakenByAnotherOwner", m))?;
            if !changes.is_empty() {
                if pass.steps.apply() {
                    secrets::apply(aws, &seen.arn, &want, &changes)
                        .await
                        .map_err(&err)?;
                }
                let what: Vec<&str> = changes.iter().map(|c| c.describe()).collect();
                pass.steps.drift(format!(
                    "consortium credentials secret: {}",
                    what.join(", ")
                ));
            }
            let current = credentials::current_value(aws, &seen.arn)
                .await
                .map_err(&err)?;
            if current.as_ref() != Some(&value) {
                if pass.steps.apply() {
                    secrets::put_value(aws, &seen.arn, random_alphanumeric(40).expose(), &value)
                        .await
                        .map_err(&err)?;
                }
                pass.steps.changed(format!(
                    "copied the changed consortium credentials from Secret {namespace}/{}",
                    reference.name
                ));
            }
            seen.arn
        }
        None if !pass.steps.apply() => {
            pass.steps
                .missing(format!("secret {} not created yet", want.name));
            return Ok(None);
        }
        None => {
            let arn = secrets::create(aws, &want, &value, None)
                .await
                .map_err(&err)?;
            pass.steps.created(format!(
                "copied the consortium credentials from Secret {namespace}/{} to {}",
                reference.name, want.name
            ));
            arn
        }
    };
    pass.status.credentials_secret_arn = Some(arn.clone());
    Ok(Some(arn))
}

/// Where the build of the image happens.
struct BuildNames<'a> {
    project: &'a str,
    repository: &'a str,
    bucket: &'a str,
}

/// The image of the requested tag: record it, follow its build, or start one.
async fn converge_build(
    aws: &AwsCtx,
    request: &ImageRequest,
    names: &BuildNames<'_>,
    zip: &ZipSource,
    pass: &mut Pass,
) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let (project, repository) = (names.project, names.repository);
    let tag = &request.tag;
    let uri = pass.status.repository.clone().unwrap_or_default();
    if let Some(digest) = ecr::image_digest(aws, repository, tag)
        .await
        .map_err(&err)?
    {
        let reference = image_reference(&uri, &digest);
        // The same words on every pass: a message that changes is a status write.
        pass.steps.note(format!("image {tag} is {digest}"));
        pass.status.digest = Some(digest);
        pass.status.reference = Some(reference);
        if let Some(build) = &mut pass.status.build
            && build.status == "IN_PROGRESS"
        {
            // Seen before the build's own end was: refresh it once.
            if let Some(b) = codebuild::get_builds(aws, std::slice::from_ref(&build.id))
                .await
                .map_err(&err)?
                .first()
            {
                *build = build_status(b);
            }
        }
        return Ok(());
    }

    // Which builds to judge by: the one status remembers for this tag, when it still
    // exists and is not a success (a success whose image is gone needs the full history),
    // else every build of the project.
    let hinted = match pass.status.build.as_ref().map(|b| b.id.clone()) {
        Some(hint) => codebuild::get_builds(aws, &[hint])
            .await
            .map_err(&err)?
            .into_iter()
            .filter(|b| b.tag.as_deref() == Some(tag.as_str()))
            .filter(|b| b.status != crate::plan::image::builds::BuildStatus::Succeeded)
            .collect::<Vec<_>>(),
        None => Vec::new(),
    };
    let builds = if hinted.is_empty() {
        let ids = codebuild::list_builds(aws, project).await.map_err(&err)?;
        codebuild::get_builds(aws, &ids).await.map_err(&err)?
    } else {
        hinted
    };
    let now = Timestamp::now().as_second();
    match build_step(tag, false, &builds, now) {
        BuildStep::Ready => {}
        BuildStep::Follow(b) => {
            pass.status.build = Some(build_status(b));
            pass.busy = true;
            pass.requeue = Some(BUILD_POLL);
            pass.steps.note(format!(
                "building image {tag}: build {} in phase {}{}",
                b.id,
                b.current_phase,
                b.logs_url
                    .as_deref()
                    .map(|u| format!(" (log: {u})"))
                    .unwrap_or_default()
            ));
        }
        BuildStep::Wait(b) => {
            pass.status.build = Some(build_status(b));
            pass.busy = true;
            pass.requeue = Some(BUILD_POLL);
            pass.steps.note(format!(
                "build {} succeeded; waiting for image {tag} to appear in the repository",
                b.id
            ));
        }
        BuildStep::Failed { build, reason } => {
            pass.status.build = Some(build_status(build));
            pass.failed = Some(reason);
        }
        BuildStep::Start { after } => {
            if !pass.steps.apply() {
                pass.steps.missing(format!("image {tag} not built yet"));
                return Ok(());
            }
            check_inputs(aws, zip, &request.languages).await?;
            upload_context(aws, names.bucket, request).await?;
            let token = format!("redcap-{}", &sha256_hex(tag)[..40]);
            let started = codebuild::start_build(aws, project, tag, &token)
                .await
                .map_err(&err)?;
            pass.steps.changed(match after {
                None => format!("started build {} of image {tag}", started.id),
                Some(previous) => format!(
                    "started build {} of image {tag}: the image of build {} is no longer in the repository",
                    started.id, previous.id
                ),
            });
            pass.status.build = Some(build_status(&started));
            pass.busy = true;
            pass.requeue = Some(BUILD_POLL);
        }
    }
    Ok(())
}

fn sha256_hex(s: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The inputs the build will read, checked before it is started: a missing release zip
/// or language file stalls with its bucket and key instead of failing the build later.
/// (URLs and the consortium are not probed: the build reports those.)
async fn check_inputs(
    aws: &AwsCtx,
    zip: &ZipSource,
    languages: &Languages,
) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let mut objects: Vec<(&'static str, String, String)> = Vec::new();
    if let ZipSource::S3 { bucket, key } = zip {
        objects.push(("spec.redcap.source.s3", bucket.clone(), key.clone()));
    }
    if let Languages::Named {
        bucket,
        prefix,
        names,
    } = languages
    {
        for name in names {
            objects.push((
                "spec.redcap.languages",
                bucket.clone(),
                format!("{prefix}{name}.ini"),
            ));
        }
    }
    for (field, bucket, key) in objects {
        match objects::head(aws, &bucket, &key).await.map_err(&err)? {
            Presence::Present => {}
            Presence::Missing => {
                return Err(ComponentError::Invalid {
                    component: C,
                    message: format!(
                        "{field}: s3://{bucket}/{key} does not exist; upload it (or fix the name), nothing is built until then"
                    ),
                });
            }
            Presence::Unreadable(code) => {
                return Err(ComponentError::Invalid {
                    component: C,
                    message: format!(
                        "{field}: s3://{bucket}/{key} cannot be read by the operator ({code}); grant it s3:GetObject on the object (and the build role reads it too)"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Puts the embedded context zip under its revision, unless it is already there.
async fn upload_context(
    aws: &AwsCtx,
    bucket: &str,
    request: &ImageRequest,
) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let key = context_key(&request.container_revision);
    if objects::head(aws, bucket, &key).await.map_err(&err)? != Presence::Present {
        objects::put(aws, bucket, &key, EMBEDDED.zip.clone())
            .await
            .map_err(&err)?;
    }
    Ok(())
}
