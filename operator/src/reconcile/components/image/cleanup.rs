//! The image pipeline on the finalizer path.
//!
//! Running builds are stopped first (their network interfaces would keep the network's
//! subnets busy), then the project and its role go, then the build bucket (emptied) and
//! the copy of the consortium credentials. The repository and the build log group hold
//! the images and the build history: `Retain` keeps them (tagged
//! `redcap.dev/retained=true`), the other policies delete them. Nothing without this
//! environment's UID tag is touched.

use std::time::Duration;

use crate::api::DeletionPolicy;
use crate::aws::iam::role;
use crate::aws::s3::{self, BucketPresence};
use crate::aws::{Progress, codebuild, ecr, logs, secrets};
use crate::plan::image::builds::BuildStatus;
use crate::plan::image::role::POLICY_NAME;
use crate::plan::image::{
    build_bucket_name, log_group_name, project_name, repository_name, role_name,
};
use crate::plan::naming::RETAINED_TAG;
use crate::plan::secrets::{SecretPurpose, secret_name};
use crate::plan::tags::TagSet;
use crate::reconcile::error::{ComponentError, aws_err};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::Walk;

use super::C;

/// Look again this soon while builds stop or the bucket empties.
const CLEANUP_REQUEUE: Duration = Duration::from_secs(5);

fn retained_marker() -> TagSet {
    [(RETAINED_TAG, "true")].into_iter().collect()
}

/// Stops, deletes or keeps the image pipeline per `spec.deletionPolicy`.
pub(super) async fn cleanup_image(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
    let (aws, uid) = (w.aws, w.id.uid.as_str());
    let err = aws_err(C);
    let env_id = w.id.environment_id();
    let keep = w.env.spec.deletion_policy == DeletionPolicy::Retain;

    // The project, after its running builds.
    let project = project_name(&env_id);
    let mut network_free = true;
    if let Some(seen) = codebuild::observe_project(aws, &project)
        .await
        .map_err(&err)?
        .filter(|p| p.tags.is_owned_by(uid))
    {
        let ids = codebuild::list_builds(aws, &project).await.map_err(&err)?;
        // The newest builds are the only ones that can still run.
        let recent = &ids[..ids.len().min(codebuild::BATCH_SIZE)];
        let running: Vec<String> = codebuild::get_builds(aws, recent)
            .await
            .map_err(&err)?
            .into_iter()
            .filter(|b| b.status == BuildStatus::InProgress)
            .map(|b| b.id)
            .collect();
        if running.is_empty() {
            codebuild::delete_project(aws, &seen.definition.name).await.map_err(&err)?;
            l.deleted(format!("deleted project {project}"));
        } else {
            for build in &running {
                codebuild::stop_build(aws, build).await.map_err(&err)?;
            }
            l.mark_written();
            l.deleting(format!("stopping build(s) {}", running.join(", ")), Some(CLEANUP_REQUEUE));
            network_free = false;
        }
    }
    l.network_in_use(!network_free);

    // The role, once the project no longer uses it.
    let role = role_name(&env_id);
    if network_free
        && let Some(seen) = role::observe(aws, &role, POLICY_NAME).await.map_err(&err)?
    {
        if seen.tags.is_owned_by(uid) {
            role::delete(aws, &role, POLICY_NAME).await.map_err(&err)?;
            l.deleted(format!("deleted role {role}"));
        } else {
            l.note(format!("role {role} is not owned by this environment; left untouched"));
        }
    }

    // The build bucket holds only build contexts: always deleted.
    let bucket = build_bucket_name(&env_id);
    let mut bucket_gone = true;
    match s3::observe(aws, &bucket, uid).await.map_err(&err)? {
        BucketPresence::Absent => {}
        BucketPresence::NotOurs { .. } => {
            l.note(format!("bucket {bucket} is not owned by this environment; left untouched"))
        }
        BucketPresence::Owned(_) => match s3::cleanup::delete(aws, &bucket).await.map_err(&err)? {
            Progress::Done => l.deleted(format!("deleted bucket {bucket}")),
            Progress::InProgress { reason, requeue_after } => {
                l.mark_written();
                l.deleting(reason, Some(requeue_after));
                bucket_gone = false;
            }
        },
    }

    // The copy of the consortium credentials.
    let secret = secret_name(&env_id, SecretPurpose::CommunityCredentials);
    if let Some(seen) = secrets::observe(aws, &secret).await.map_err(&err)?
        && seen.tags.is_owned_by(uid)
        && !seen.deleted
    {
        secrets::delete(aws, &seen.arn).await.map_err(&err)?;
        l.deleted(format!("deleted secret {secret}"));
    }

    // The log group and the repository: kept with Retain.
    let mut kept = false;
    let group = log_group_name(&env_id);
    if let Some(seen) = logs::observe(aws, &group).await.map_err(&err)?
        && seen.tags.is_owned_by(uid)
    {
        if keep {
            if seen.tags.get(RETAINED_TAG) != Some("true") {
                logs::tag(aws, &seen.arn, &retained_marker()).await.map_err(&err)?;
                l.mark_written();
            }
            kept = true;
            l.retained(format!("kept log group {group} (Retain policy)"));
        } else {
            logs::delete(aws, &group).await.map_err(&err)?;
            l.deleted(format!("deleted log group {group}"));
        }
    }
    let repo = repository_name(&env_id);
    l.identify(Some(repo.clone()), None);
    if let Some(seen) = ecr::observe(aws, &repo).await.map_err(&err)?
        && seen.tags.is_owned_by(uid)
    {
        l.identify(None, Some(seen.arn.clone()));
        if keep {
            if seen.tags.get(RETAINED_TAG) != Some("true") {
                ecr::tag(aws, &seen.arn, &retained_marker()).await.map_err(&err)?;
                l.mark_written();
            }
            kept = true;
            l.retained(format!("kept repository {repo} and its images (Retain policy)"));
        } else {
            ecr::delete(aws, &repo).await.map_err(&err)?;
            l.deleted(format!("deleted repository {repo} and its images"));
        }
    }
    l.key_in_use(kept || !bucket_gone || !network_free);
    Ok(())
}
