//! The CodeBuild project and its builds (observe, create, update, delete, start, stop;
//! only calls AWS, decisions are in `plan::image::project` and `plan::image::builds`).
//!
//! Builds are listed with every page of `ListBuildsForProject` (the seed's loop never
//! advanced its token past the first 100) and read 100 at a time, the most
//! `BatchGetBuilds` takes.

use aws_sdk_codebuild::types::{
    ArtifactsType, Build, CacheMode, CacheType, CloudWatchLogsConfig, ComputeType, EnvironmentType,
    EnvironmentVariable, EnvironmentVariableType, LogsConfig, LogsConfigStatusType, Project,
    ProjectArtifacts, ProjectCache, ProjectEnvironment, ProjectSource, S3LogsConfig, SortOrderType,
    SourceType, Tag, VpcConfig,
};

use crate::plan::image::builds::{BuildStatus, ObservedBuild, failed_phase};
use crate::plan::image::buildspec::EnvVar;
use crate::plan::image::project::{
    DesiredProject, ObservedProject, ProjectChange, ProjectDefinition, ProjectVpc, normalize,
    project_changes,
};
use crate::plan::tags::TagSet;

use super::resource::{Presence, Resource};
use super::{AwsCtx, AwsError, ErrorClass};

const SERVICE: &str = "codebuild";

/// Largest `BatchGetBuilds` request.
pub const BATCH_SIZE: usize = 100;

/// A role created moments ago is not yet assumable everywhere (IAM is eventually
/// consistent): CodeBuild refuses it with a validation error that heals by itself. The
/// service registry calls this for every CodeBuild error.
pub fn refine(e: &mut AwsError) {
    if e.code == "InvalidInputException" && e.message.contains("sts:AssumeRole") {
        e.class = ErrorClass::Recoverable;
    }
}

/// Whole seconds since the epoch of an SDK timestamp.
fn seconds(t: &aws_smithy_types::DateTime) -> i64 {
    t.secs()
}

fn build_err(operation: &'static str, e: impl std::error::Error) -> AwsError {
    AwsError::build(SERVICE, operation, e)
}

/// The project `name`, or `None`.
pub async fn observe_project(
    aws: &AwsCtx,
    name: &str,
) -> Result<Option<ObservedProject>, AwsError> {
    let out = aws.call(aws.codebuild.batch_get_projects().names(name).send()).await?;
    Ok(out.projects().iter().find(|p| p.name() == Some(name)).map(observed_project))
}

fn observed_project(p: &Project) -> ObservedProject {
    let env = p.environment();
    let source = p.source();
    let logs = p.logs_config().and_then(|l| l.cloud_watch_logs());
    let definition = ProjectDefinition {
        name: p.name().unwrap_or_default().to_string(),
        description: p.description().unwrap_or_default().to_string(),
        source_location: source
            .filter(|s| *s.r#type() == SourceType::S3)
            .and_then(|s| s.location())
            .unwrap_or_default()
            .to_string(),
        buildspec: source.and_then(|s| s.buildspec()).unwrap_or_default().to_string(),
        image: env.map(|e| e.image().to_string()).unwrap_or_default(),
        compute_type: env.map(|e| e.compute_type().as_str().to_string()).unwrap_or_default(),
        privileged: env.and_then(|e| e.privileged_mode()).unwrap_or(false),
        environment: env
            .map(|e| {
                e.environment_variables()
                    .iter()
                    .map(|v| EnvVar {
                        name: v.name().to_string(),
                        value: v.value().to_string(),
                        secret: v.r#type() == Some(&EnvironmentVariableType::SecretsManager),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        service_role: p.service_role().unwrap_or_default().to_string(),
        timeout_minutes: p.timeout_in_minutes().unwrap_or_default(),
        queued_timeout_minutes: p.queued_timeout_in_minutes().unwrap_or_default(),
        encryption_key: p.encryption_key().unwrap_or_default().to_string(),
        log_group: logs
            .filter(|l| *l.status() == LogsConfigStatusType::Enabled)
            .and_then(|l| l.group_name())
            .unwrap_or_default()
            .to_string(),
        vpc: p.vpc_config().and_then(|v| {
            v.vpc_id().map(|id| ProjectVpc {
                vpc_id: id.to_string(),
                subnets: v.subnets().to_vec(),
                security_groups: v.security_group_ids().to_vec(),
            })
        }),
        docker_layer_cache: p.cache().is_some_and(|c| {
            *c.r#type() == CacheType::Local && c.modes().contains(&CacheMode::LocalDockerLayerCache)
        }),
    };
    ObservedProject {
        arn: p.arn().unwrap_or_default().to_string(),
        definition: normalize(definition),
        tags: p
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?, t.value().unwrap_or_default())))
            .collect(),
    }
}

/// The SDK pieces of a definition (shared by create and update).
struct Parts {
    source: ProjectSource,
    artifacts: ProjectArtifacts,
    environment: ProjectEnvironment,
    cache: ProjectCache,
    logs: LogsConfig,
    vpc: Option<VpcConfig>,
    tags: Vec<Tag>,
}

fn parts(
    want: &ProjectDefinition,
    tags: &TagSet,
    operation: &'static str,
) -> Result<Parts, AwsError> {
    let variables = want
        .environment
        .iter()
        .map(|v| {
            EnvironmentVariable::builder()
                .name(&v.name)
                .value(&v.value)
                .r#type(if v.secret {
                    EnvironmentVariableType::SecretsManager
                } else {
                    EnvironmentVariableType::Plaintext
                })
                .build()
                .map_err(|e| build_err(operation, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let cache = if want.docker_layer_cache {
        ProjectCache::builder()
            .r#type(CacheType::Local)
            .modes(CacheMode::LocalDockerLayerCache)
            .build()
    } else {
        ProjectCache::builder().r#type(CacheType::NoCache).build()
    }
    .map_err(|e| build_err(operation, e))?;
    Ok(Parts {
        source: ProjectSource::builder()
            .r#type(SourceType::S3)
            .location(&want.source_location)
            .buildspec(&want.buildspec)
            .build()
            .map_err(|e| build_err(operation, e))?,
        artifacts: ProjectArtifacts::builder()
            .r#type(ArtifactsType::NoArtifacts)
            .build()
            .map_err(|e| build_err(operation, e))?,
        environment: ProjectEnvironment::builder()
            .r#type(EnvironmentType::LinuxContainer)
            .image(&want.image)
            .compute_type(ComputeType::from(want.compute_type.as_str()))
            .privileged_mode(want.privileged)
            .set_environment_variables(Some(variables))
            .build()
            .map_err(|e| build_err(operation, e))?,
        cache,
        logs: LogsConfig::builder()
            .cloud_watch_logs(
                CloudWatchLogsConfig::builder()
                    .status(LogsConfigStatusType::Enabled)
                    .group_name(&want.log_group)
                    .build()
                    .map_err(|e| build_err(operation, e))?,
            )
            .s3_logs(
                S3LogsConfig::builder()
                    .status(LogsConfigStatusType::Disabled)
                    .build()
                    .map_err(|e| build_err(operation, e))?,
            )
            .build(),
        vpc: want.vpc.as_ref().map(|v| {
            VpcConfig::builder()
                .vpc_id(&v.vpc_id)
                .set_subnets(Some(v.subnets.clone()))
                .set_security_group_ids(Some(v.security_groups.clone()))
                .build()
        }),
        tags: tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect(),
    })
}

/// The same definition for `CreateProject` and `UpdateProject` (their builders share
/// these setters but no trait).
macro_rules! with_definition {
    ($builder:expr, $want:expr, $p:expr) => {
        $builder
            .name(&$want.name)
            .description(&$want.description)
            .source($p.source)
            .artifacts($p.artifacts)
            .environment($p.environment)
            .cache($p.cache)
            .service_role(&$want.service_role)
            .timeout_in_minutes($want.timeout_minutes)
            .queued_timeout_in_minutes($want.queued_timeout_minutes)
            .encryption_key(&$want.encryption_key)
            .logs_config($p.logs)
            .set_vpc_config($p.vpc)
            .set_tags(Some($p.tags))
    };
}

/// Creates the project; returns its ARN.
pub async fn create_project(
    aws: &AwsCtx,
    want: &ProjectDefinition,
    tags: &TagSet,
) -> Result<String, AwsError> {
    let p = parts(want, tags, "CreateProject")?;
    let out = aws.call(with_definition!(aws.codebuild.create_project(), want, p).send()).await?;
    Ok(out.project().and_then(|p| p.arn()).unwrap_or_default().to_string())
}

/// Rewrites the whole project definition (and its tag set: `tags` already holds the
/// tags others set).
pub async fn update_project(
    aws: &AwsCtx,
    want: &ProjectDefinition,
    tags: &TagSet,
) -> Result<(), AwsError> {
    let p = parts(want, tags, "UpdateProject")?;
    aws.run(with_definition!(aws.codebuild.update_project(), want, p).send()).await
}

/// Deletes the project; a project already gone is fine.
pub async fn delete_project(aws: &AwsCtx, name: &str) -> Result<(), AwsError> {
    aws.delete(aws.codebuild.delete_project().name(name).send()).await.map(drop)
}

/// Every build id of the project, newest first, over all pages. An unknown project has
/// no builds.
pub async fn list_builds(aws: &AwsCtx, project: &str) -> Result<Vec<String>, AwsError> {
    let pages = aws
        .pages(
            aws.codebuild
                .list_builds_for_project()
                .project_name(project)
                .sort_order(SortOrderType::Descending)
                .into_paginator()
                .send(),
        )
        .await;
    match pages {
        Ok(pages) => Ok(pages.iter().flat_map(|p| p.ids()).cloned().collect()),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The builds `ids` (unknown ids are left out), read [`BATCH_SIZE`] at a time.
pub async fn get_builds(aws: &AwsCtx, ids: &[String]) -> Result<Vec<ObservedBuild>, AwsError> {
    let mut builds = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH_SIZE) {
        let out =
            aws.call(aws.codebuild.batch_get_builds().set_ids(Some(chunk.to_vec())).send()).await?;
        builds.extend(out.builds().iter().map(observed_build));
    }
    Ok(builds)
}

/// A build as the plan sees it. The tag is the `IMAGE_TAG` variable it ran with.
pub fn observed_build(b: &Build) -> ObservedBuild {
    let status = BuildStatus::from_aws(b.build_status().map(|s| s.as_str()).unwrap_or(""));
    let phases: Vec<(String, Option<String>, Option<String>)> = b
        .phases()
        .iter()
        .map(|p| {
            (
                p.phase_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
                p.phase_status().map(|s| s.as_str().to_string()),
                p.contexts().iter().find_map(|c| c.message()).map(str::to_string),
            )
        })
        .collect();
    let region = b.arn().and_then(|a| a.split(':').nth(3)).unwrap_or_default().to_string();
    let logs = b.logs();
    let logs_url = logs
        .and_then(|l| l.deep_link())
        .filter(|l| !l.is_empty() && !l.contains("group=null"))
        .map(str::to_string)
        .or_else(|| {
            let l = logs?;
            Some(crate::plan::image::builds::console_log_url(
                &region,
                l.group_name()?,
                l.stream_name()?,
            ))
        });
    ObservedBuild {
        id: b.id().unwrap_or_default().to_string(),
        tag: b.environment().and_then(|e| {
            e.environment_variables()
                .iter()
                .find(|v| v.name() == "IMAGE_TAG")
                .map(|v| v.value().to_string())
        }),
        status,
        current_phase: b.current_phase().unwrap_or_default().to_string(),
        failed_phase: if status.finished() && status != BuildStatus::Succeeded {
            failed_phase(&phases)
        } else {
            None
        },
        started: b.start_time().map(seconds),
        ended: b.end_time().map(seconds),
        logs_url,
    }
}

/// Starts a build of the project for `tag` (the project's variables already name it;
/// the override makes the build carry the tag even if the project is changed under it).
/// `idempotency_token` makes a retried request return the same build.
pub async fn start_build(
    aws: &AwsCtx,
    project: &str,
    tag: &str,
    idempotency_token: &str,
) -> Result<ObservedBuild, AwsError> {
    let out = aws
        .call(
            aws.codebuild
                .start_build()
                .project_name(project)
                .environment_variables_override(
                    EnvironmentVariable::builder()
                        .name("IMAGE_TAG")
                        .value(tag)
                        .r#type(EnvironmentVariableType::Plaintext)
                        .build()
                        .map_err(|e| build_err("StartBuild", e))?,
                )
                .idempotency_token(idempotency_token)
                .send(),
        )
        .await?;
    let build = out.build_value().ok_or_else(|| {
        AwsError::terminal(SERVICE, "StartBuild", "MissingBuild", "StartBuild returned no build")
    })?;
    let mut observed = observed_build(build);
    // The answer may predate the variables being recorded; the tag is the one asked for.
    observed.tag.get_or_insert_with(|| tag.to_string());
    Ok(observed)
}

/// Stops a running build; one already finished or gone is fine.
pub async fn stop_build(aws: &AwsCtx, id: &str) -> Result<(), AwsError> {
    let stopped =
        aws.tolerate(&["InvalidInputException"], aws.codebuild.stop_build().id(id).send()).await;
    match stopped {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

impl Resource for DesiredProject {
    type Seen = ObservedProject;
    type Change = ProjectChange;

    fn label(&self) -> String {
        format!("CodeBuild project {}", self.definition.name)
    }

    async fn observe(
        &self,
        aws: &AwsCtx,
        uid: &str,
    ) -> Result<Presence<ObservedProject>, AwsError> {
        Ok(Presence::of(observe_project(aws, &self.definition.name).await?, |s| {
            s.tags.is_owned_by(uid)
        }))
    }

    async fn create(&self, aws: &AwsCtx) -> Result<ObservedProject, AwsError> {
        create_project(aws, &self.definition, &self.tags).await?;
        Ok(ObservedProject {
            arn: String::new(),
            definition: self.definition.clone(),
            tags: self.tags.clone(),
        })
    }

    fn changes(&self, seen: &ObservedProject) -> Vec<ProjectChange> {
        project_changes(self, seen)
    }

    /// One `UpdateProject` with the whole definition and every tag (CodeBuild replaces
    /// the tag set).
    async fn update(
        &self,
        aws: &AwsCtx,
        seen: &ObservedProject,
        changes: &[ProjectChange],
    ) -> Result<(), AwsError> {
        let tags = changes
            .iter()
            .find_map(|c| match c {
                ProjectChange::Tags(t) => Some(t.clone()),
                ProjectChange::Definition(_) => None,
            })
            .unwrap_or_else(|| seen.tags.clone());
        update_project(aws, &self.definition, &tags).await
    }
}
