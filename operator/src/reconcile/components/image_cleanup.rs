//! The finalizer path of the `image` component (step: reconcile cleanup). No AWS client
//! code, no status writes.
//!
//! Running builds are stopped first (their network interfaces would keep the network's
//! subnets busy), then the project and its role go, then the build bucket (emptied) and
//! the copy of the consortium credentials. The repository and the build log group hold
//! the images and the build history: `Retain` keeps them (tagged
//! `redcap.dev/retained=true`), the other policies delete them. Nothing without this
//! environment's UID tag is touched.

use std::time::Duration;

use crate::api::{ComponentName, ComponentState, DeletionPolicy};
use crate::aws::image::{codebuild, ecr, logs, role};
use crate::aws::storage::BucketPresence;
use crate::aws::{AwsCtx, Progress, secrets, storage};
use crate::plan::EnvIdentity;
use crate::plan::image::builds::BuildStatus;
use crate::plan::image::role::POLICY_NAME;
use crate::plan::image::{
    build_bucket_name, log_group_name, project_name, repository_name, role_name,
};
use crate::plan::naming::RETAINED_TAG;
use crate::plan::secrets::{SecretPurpose, secret_name};
use crate::plan::tags::TagSet;
use crate::reconcile::report::ComponentReport;

use super::{ComponentError, aws_err, report};

const C: ComponentName = ComponentName::Image;

/// Look again this soon while builds stop or the bucket empties.
const CLEANUP_REQUEUE: Duration = Duration::from_secs(5);

/// What the image cleanup did.
#[derive(Debug)]
pub struct ImageCleanup {
    pub report: ComponentReport,
    pub requeue: Option<Duration>,
    /// Nothing of the image uses the network any more (project gone, no build running).
    pub network_free: bool,
    /// Nothing of the image is encrypted with the environment's key any more.
    pub key_free: bool,
}

fn retained_marker() -> TagSet {
    let mut marker = TagSet::new();
    marker.insert(RETAINED_TAG, "true");
    marker
}

/// Stops, deletes or keeps the image pipeline per `policy`.
pub async fn cleanup_image(
    aws: &AwsCtx,
    id: &EnvIdentity,
    policy: DeletionPolicy,
) -> Result<ImageCleanup, ComponentError> {
    let err = aws_err(C);
    let env_id = id.environment_id();
    let keep = policy == DeletionPolicy::Retain;
    let mut notes = Vec::new();
    let (mut waiting, mut wrote, mut kept) = (false, false, false);

    // The project, after its running builds.
    let project = project_name(&env_id);
    let mut network_free = true;
    if let Some(seen) = codebuild::observe_project(aws, &project)
        .await
        .map_err(&err)?
        .filter(|p| p.tags.is_owned_by(&id.uid))
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
            codebuild::delete_project(aws, &seen.definition.name)
                .await
                .map_err(&err)?;
            notes.push(format!("deleted project {project}"));
            wrote = true;
        } else {
            for build in &running {
                codebuild::stop_build(aws, build).await.map_err(&err)?;
            }
            notes.push(format!("stopping build(s) {}", running.join(", ")));
            waiting = true;
            wrote = true;
            network_free = false;
        }
    }

    // The role, once the project no longer uses it.
    let role = role_name(&env_id);
    if network_free
        && let Some(seen) = role::observe(aws, &role, POLICY_NAME).await.map_err(&err)?
    {
        if seen.tags.is_owned_by(&id.uid) {
            role::delete(aws, &role, POLICY_NAME).await.map_err(&err)?;
            notes.push(format!("deleted role {role}"));
            wrote = true;
        } else {
            notes.push(format!(
                "role {role} is not owned by this environment; left untouched"
            ));
        }
    }

    // The build bucket holds only build contexts: always deleted.
    let bucket = build_bucket_name(&env_id);
    let mut bucket_gone = true;
    match storage::observe(aws, &bucket, &id.uid)
        .await
        .map_err(&err)?
    {
        BucketPresence::Absent => {}
        BucketPresence::NotOurs { .. } => {
            notes.push(format!(
                "bucket {bucket} is not owned by this environment; left untouched"
            ));
        }
        BucketPresence::Owned(_) => {
            wrote = true;
            match storage::cleanup::delete(aws, &bucket).await.map_err(&err)? {
                Progress::Done => notes.push(format!("deleted bucket {bucket}")),
                Progress::InProgress { reason, .. } => {
                    notes.push(reason);
                    waiting = true;
                    bucket_gone = false;
                }
            }
        }
    }

    // The copy of the consortium credentials.
    let secret = secret_name(&env_id, SecretPurpose::CommunityCredentials);
    if let Some(seen) = secrets::observe(aws, &secret).await.map_err(&err)?
        && seen.tags.is_owned_by(&id.uid)
        && !seen.deleted
    {
        secrets::delete(aws, &seen.arn).await.map_err(&err)?;
        notes.push(format!("deleted secret {secret}"));
        wrote = true;
    }

    // The log group and the repository: kept with Retain.
    let group = log_group_name(&env_id);
    if let Some(seen) = logs::observe(aws, &group).await.map_err(&err)?
        && seen.tags.is_owned_by(&id.uid)
    {
        if keep {
            if seen.tags.get(RETAINED_TAG) != Some("true") {
                logs::tag(aws, &seen.arn, &retained_marker())
                    .await
                    .map_err(&err)?;
                wrote = true;
            }
            kept = true;
            notes.push(format!("kept log group {group} (Retain policy)"));
        } else {
            logs::delete(aws, &group).await.map_err(&err)?;
            notes.push(format!("deleted log group {group}"));
            wrote = true;
        }
    }
    let repo = repository_name(&env_id);
    let mut repo_arn = None;
    if let Some(seen) = ecr::observe(aws, &repo).await.map_err(&err)?
        && seen.tags.is_owned_by(&id.uid)
    {
        repo_arn = Some(seen.arn.clone());
        if keep {
            if seen.tags.get(RETAINED_TAG) != Some("true") {
                ecr::tag(aws, &seen.arn, &retained_marker())
                    .await
                    .map_err(&err)?;
                wrote = true;
            }
            kept = true;
            notes.push(format!(
                "kept repository {repo} and its images (Retain policy)"
            ));
        } else {
            ecr::delete(aws, &repo).await.map_err(&err)?;
            notes.push(format!("deleted repository {repo} and its images"));
            wrote = true;
        }
    }

    let state = if waiting {
        ComponentState::Deleting
    } else if kept {
        ComponentState::Retained
    } else {
        ComponentState::Deleted
    };
    let mut r = report(C, state, notes.join("; "));
    r.id = Some(repo);
    r.arn = repo_arn;
    r.wrote = wrote;
    Ok(ImageCleanup {
        report: r,
        requeue: waiting.then_some(CLEANUP_REQUEUE),
        network_free,
        key_free: !waiting && !kept && bucket_gone,
    })
}
