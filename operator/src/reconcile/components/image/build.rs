//! The image of the requested tag: recorded by digest when it is in the repository,
//! else its build followed, or one build started (`plan::image::builds` decides).

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::{ImageBuildStatus, ImageStatus};
use crate::aws::s3::objects::{self, Presence};
use crate::aws::{AwsCtx, codebuild, ecr};
use crate::plan::image::builds::{BuildStep, ObservedBuild, build_step};
use crate::plan::image::buildspec::{Languages, ZipSource};
use crate::plan::image::context::EMBEDDED;
use crate::plan::image::{ImageRequest, context_key, image_reference};
use crate::reconcile::error::{ComponentError, aws_err};
use crate::reconcile::ledger::Ledger;

use super::{BUILD_POLL, C};

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

/// A build runs: the first image is being created, or a new one replaces a running one.
fn building(l: &mut Ledger, status: &ImageStatus, what: String) {
    if status.reference.is_some() {
        l.busy(what, BUILD_POLL);
    } else {
        l.creating(what, BUILD_POLL);
    }
}

/// Where the build of the image happens.
pub(super) struct BuildNames<'a> {
    pub project: &'a str,
    pub repository: &'a str,
    pub bucket: &'a str,
}

/// The image of the requested tag: record it, follow its build, or start one.
pub(super) async fn converge_build(
    aws: &AwsCtx,
    request: &ImageRequest,
    names: &BuildNames<'_>,
    zip: &ZipSource,
    l: &mut Ledger,
    status: &mut ImageStatus,
) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let (project, repository) = (names.project, names.repository);
    let tag = &request.tag;
    let uri = status.repository.clone().unwrap_or_default();
    if let Some(digest) = ecr::image_digest(aws, repository, tag).await.map_err(&err)? {
        let reference = image_reference(&uri, &digest);
        // The same words on every pass: a message that changes is a status write.
        l.note(format!("image {tag} is {digest}"));
        status.digest = Some(digest);
        status.reference = Some(reference);
        status.reference_version = Some(status.version.clone());
        if let Some(build) = &mut status.build
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
    let hinted = match status.build.as_ref().map(|b| b.id.clone()) {
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
            status.build = Some(build_status(b));
            building(
                l,
                status,
                format!(
                    "building image {tag}: build {} in phase {}{}",
                    b.id,
                    b.current_phase,
                    b.logs_url.as_deref().map(|u| format!(" (log: {u})")).unwrap_or_default()
                ),
            );
        }
        BuildStep::Wait(b) => {
            status.build = Some(build_status(b));
            building(
                l,
                status,
                format!(
                    "build {} succeeded; waiting for image {tag} to appear in the repository",
                    b.id
                ),
            );
        }
        BuildStep::Failed { build, reason } => {
            status.build = Some(build_status(build));
            l.failed(reason);
        }
        BuildStep::Start { after } => {
            if !l.apply() {
                l.missing(format!("image {tag} not built yet"));
                return Ok(());
            }
            check_inputs(aws, zip, &request.languages).await?;
            upload_context(aws, names.bucket, request).await?;
            let token = format!("redcap-{}", &sha256_hex(tag)[..40]);
            let started = codebuild::start_build(aws, project, tag, &token).await.map_err(&err)?;
            l.changed(match after {
                None => format!("started build {} of image {tag}", started.id),
                Some(previous) => format!(
                    "started build {} of image {tag}: the image of build {} is no longer in the repository",
                    started.id, previous.id
                ),
            });
            status.build = Some(build_status(&started));
            building(l, status, String::new());
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
pub(super) async fn check_inputs(
    aws: &AwsCtx,
    zip: &ZipSource,
    languages: &Languages,
) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let mut objects: Vec<(&'static str, String, String)> = Vec::new();
    if let ZipSource::S3 { bucket, key } = zip {
        objects.push(("spec.redcap.source.s3", bucket.clone(), key.clone()));
    }
    if let Languages::Named { bucket, prefix, names } = languages {
        for name in names {
            objects.push(("spec.redcap.languages", bucket.clone(), format!("{prefix}{name}.ini")));
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
pub(super) async fn upload_context(
    aws: &AwsCtx,
    bucket: &str,
    request: &ImageRequest,
) -> Result<(), ComponentError> {
    let err = aws_err(C);
    let key = context_key(&request.container_revision);
    if objects::head(aws, bucket, &key).await.map_err(&err)? != Presence::Present {
        objects::put(aws, bucket, &key, EMBEDDED.zip.clone()).await.map_err(&err)?;
    }
    Ok(())
}
