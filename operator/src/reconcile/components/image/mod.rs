//! `image`: the REDCap image (sequences `plan::image` decisions and `aws::{ecr,
//! codebuild, s3, iam, logs, secrets}` calls; the build itself in `build.rs`, the copy of
//! the consortium login in `consortium.rs`, deletion in `cleanup.rs`).
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

use crate::api::{ANNOTATION_REBUILD_REQUESTED_AT, ComponentName, ImageStatus};
use crate::plan::image::context::EMBEDDED;
use crate::plan::image::repository::encryption_note;
use crate::plan::image::{
    ImageRequest, PipelineInput, desired_build_bucket, desired_log_group, desired_pipeline,
    desired_repository, image_request, project_vpc, zip_source,
};
use crate::reconcile::converge::converge;
use crate::reconcile::error::{ComponentError, invalid};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::{Component, KeyRef, Walk};

mod build;
mod cleanup;
mod consortium;

const C: ComponentName = ComponentName::Image;

/// Look again this soon while a build runs (builds take minutes).
pub const BUILD_POLL: Duration = Duration::from_secs(15);
/// Look again this soon after creating the build role (IAM propagates in seconds).
const ROLE_SETTLE: Duration = Duration::from_secs(10);

pub struct Image;

impl Component for Image {
    const NAME: ComponentName = C;
    const NEEDS: &'static [ComponentName] = &[ComponentName::EncryptionKey];

    async fn apply(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let annotation = w
            .env
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_REBUILD_REQUESTED_AT))
            .map(String::as_str);
        let ctx = &*EMBEDDED;
        let request =
            image_request(&w.env.spec.redcap, &ctx.revision, annotation).map_err(invalid(C))?;
        let previous = w.env.status.as_ref().and_then(|s| s.image.clone());
        let same_tag = previous.as_ref().filter(|p| p.tag == request.tag);
        let mut status = ImageStatus {
            version: request.version.to_string(),
            tag: request.tag.clone(),
            container_revision: ctx.short_revision().to_string(),
            repository: previous.as_ref().and_then(|p| p.repository.clone()),
            build: same_tag.and_then(|p| p.build.clone()),
            digest: None,
            reference: previous.as_ref().and_then(|p| p.reference.clone()),
            reference_version: previous.as_ref().and_then(|p| {
                // Statuses written before the field existed: the requested version,
                // when the reference is that version's image.
                p.reference_version
                    .clone()
                    .or_else(|| p.digest.is_some().then(|| p.version.clone()))
            }),
            credentials_secret_arn: previous
                .as_ref()
                .and_then(|p| p.credentials_secret_arn.clone()),
        };
        let result = match w.key.clone() {
            Some(key) => pipeline(w, l, &key, &request, &mut status).await,
            None => {
                l.pending("waiting for the encryption key");
                Ok(())
            }
        };
        w.outputs.image = status.reference.clone();
        w.runtime.image = status.reference.clone();
        w.runtime.image_version = status.reference_version.clone();
        w.image = Some(status);
        result
    }

    async fn cleanup(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        cleanup::cleanup_image(w, l).await
    }
}

/// The pipeline's resources, then the image.
async fn pipeline(
    w: &mut Walk<'_>,
    l: &mut Ledger,
    key: &KeyRef,
    request: &ImageRequest,
    status: &mut ImageStatus,
) -> Result<(), ComponentError> {
    let (aws, env, id) = (w.aws, w.env, &w.id.clone());
    let uid = id.uid.as_str();
    let tags = &env.spec.aws.tags;

    let want_repo = desired_repository(id, tags, &key.arn).map_err(invalid(C))?;
    l.identify(Some(want_repo.name.clone()), None);
    let Some(repo) = converge(aws, uid, l, &want_repo).await? else {
        return Ok(());
    };
    if let Some(note) = encryption_note(&want_repo, &repo) {
        l.note(note);
    }
    l.identify(None, Some(repo.arn.clone()));
    status.repository = Some(repo.uri.clone());

    let want_logs =
        desired_log_group(id, tags, env.spec.logs.retention_days, &key.arn).map_err(invalid(C))?;
    converge(aws, uid, l, &want_logs).await?;
    let want_bucket = desired_build_bucket(id, tags, &key.arn).map_err(invalid(C))?;
    converge(aws, uid, l, &want_bucket).await?;

    let secret_arn = consortium::copy_credentials(w, l, &key.arn, status).await?;
    let Some(zip) = zip_source(&w.env.spec.redcap, secret_arn.as_deref()) else {
        l.missing("consortium credentials not copied yet");
        return Ok(());
    };

    // The role and the project live in the network.
    let Some(vpc) = w.network.as_ref().and_then(project_vpc) else {
        l.pending("waiting for the network's private subnets and build security group");
        return Ok(());
    };
    let (want_project, want_role) = desired_pipeline(&PipelineInput {
        id,
        account: &key.account,
        key_arn: &key.arn,
        request,
        zip: zip.clone(),
        vpc,
        extra_tags: tags,
    })
    .map_err(invalid(C))?;
    let creations = l.creations();
    let Some(_) = converge(aws, uid, l, &want_role).await? else {
        return Ok(());
    };
    if l.creations() > creations {
        l.note("waiting a moment for the new role to propagate before creating the project");
        l.wait_for(ROLE_SETTLE);
        return Ok(());
    }
    let writes = l.writes();
    let Some(_) = converge(aws, uid, l, &want_project).await? else {
        return Ok(());
    };
    if l.writes() > writes {
        // The project's source is the context of this revision: have it in place, so a
        // build started from the console works too.
        build::upload_context(aws, &want_bucket.name, request).await?;
    }

    let names = build::BuildNames {
        project: &want_project.definition.name,
        repository: &want_repo.name,
        bucket: &want_bucket.name,
    };
    build::converge_build(aws, request, &names, &zip, l, status).await
}
