//! Desired state of the REDCap image pipeline (component `image`; step: plan; pure).
//!
//! Per environment: a private ECR repository `redcap/<environment_id>`, a hardened build
//! bucket `<environment_id>-build` holding the container definition the operator embeds
//! (`context`), a CodeBuild project `<environment_id>-image` with its service role and
//! log group, and, for the consortium download, a Secrets Manager copy of the
//! credentials. The image the spec asks for is named by its tag (`tag`); whether to build
//! it is decided by `builds`. Everything here is values in, values out.

pub mod builds;
pub mod buildspec;
pub mod context;
pub mod project;
pub mod repository;
pub mod role;
pub mod tag;
pub mod version;

use crate::api::{ComponentName, RedcapSpec, Tag};
use crate::plan::network::log_group_prefix;
use crate::plan::policy::file_bucket_policy;
use crate::plan::storage::{ABORT_MPU_DAYS, DesiredBucket, Encryption, LifecycleRule};

use self::buildspec::{BuildInputs, Languages, ZipSource, languages_of, valid_language};
use self::project::{DesiredProject, ProjectDefinition, ProjectVpc};
use self::repository::{DesiredRepository, lifecycle_policy};
use self::role::{POLICY_NAME, RoleScope, build_policy, trust_policy};
use self::tag::{TagInputs, image_tag};
use self::version::{Version, check_source_name, supported_version};
use crate::plan::iam::{DesiredRole, ROLE_PATH, role_arn};

use super::logs::DesiredLogGroup;
use super::{EnvIdentity, PlanError};

/// Key prefix of the context zips in the build bucket.
pub const CONTEXT_PREFIX: &str = "contexts/";

/// `redcap/<environment_id>`.
pub fn repository_name(environment_id: &str) -> String {
    format!("redcap/{environment_id}")
}

/// `<environment_id>-image`.
pub fn project_name(environment_id: &str) -> String {
    format!("{environment_id}-image")
}

/// `<environment_id>-build` (at most 46 of S3's 63 characters).
pub fn build_bucket_name(environment_id: &str) -> String {
    format!("{environment_id}-build")
}

/// `/redcap/<environment_id>/image-build` (under the prefix the key lets Logs use).
pub fn log_group_name(environment_id: &str) -> String {
    format!("{}image-build", log_group_prefix(environment_id))
}

/// `<environment_id>-image-build` (at most 52 of IAM's 64 characters).
pub fn role_name(environment_id: &str) -> String {
    format!("{environment_id}-image-build")
}

/// `contexts/<revision>.zip`: one object per container revision, never overwritten.
pub fn context_key(revision: &str) -> String {
    format!("{CONTEXT_PREFIX}{revision}.zip")
}

/// `<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<name>`.
pub fn repository_uri(partition: &str, account: &str, region: &str, name: &str) -> String {
    let suffix = if partition == "aws-cn" { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!("{account}.dkr.ecr.{region}.{suffix}/{name}")
}

/// The immutable reference the compute component deploys: `<uri>@sha256:...`.
pub fn image_reference(repository_uri: &str, digest: &str) -> String {
    format!("{repository_uri}@{digest}")
}

/// The image the spec asks for, checked before anything is created or built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRequest {
    pub version: Version,
    pub tag: String,
    pub container_revision: String,
    pub languages: Languages,
}

fn invalid(field: &'static str, message: impl Into<String>) -> PlanError {
    PlanError::InvalidSpec { field, message: message.into() }
}

/// Checks the spec's REDCap inputs (version supported, the zip's name carries it,
/// language names) and names the image. Runs before any AWS call of the component.
pub fn image_request(
    spec: &RedcapSpec,
    container_revision: &str,
    rebuild_requested_at: Option<&str>,
) -> Result<ImageRequest, PlanError> {
    let version = supported_version(&spec.version)?;
    let kinds =
        [spec.source.s3.is_some(), spec.source.url.is_some(), spec.source.community.is_some()];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(invalid("spec.redcap.source", "set exactly one of s3, url or community"));
    }
    check_source_name(&spec.source, version)?;
    if let Some(url) = &spec.source.url
        && !url.url.starts_with("https://")
    {
        return Err(invalid("spec.redcap.source.url.url", "must be an https:// URL"));
    }
    if let Some(bad) = spec.languages.iter().find(|l| !valid_language(l)) {
        return Err(invalid(
            "spec.redcap.languages",
            format!("{bad:?} is not a language file name (letters, digits, spaces and ._()-)"),
        ));
    }
    if !spec.languages.is_empty() && spec.languages_source.is_none() {
        return Err(invalid(
            "spec.redcap.languages",
            "needs spec.redcap.languagesSource: the .ini files are read from there",
        ));
    }
    Ok(ImageRequest {
        version,
        tag: image_tag(&TagInputs { redcap: spec, container_revision, rebuild_requested_at }),
        container_revision: container_revision.to_string(),
        languages: languages_of(spec),
    })
}

/// How the build gets the zip; `community_secret_arn` is the Secrets Manager copy of the
/// consortium credentials (`None` until it exists).
pub fn zip_source(spec: &RedcapSpec, community_secret_arn: Option<&str>) -> Option<ZipSource> {
    match (&spec.source.s3, &spec.source.url, &spec.source.community) {
        (Some(s3), _, _) => Some(ZipSource::S3 { bucket: s3.bucket.clone(), key: s3.key.clone() }),
        (None, Some(url), _) => {
            Some(ZipSource::Url { url: url.url.clone(), sha256: url.sha256.clone() })
        }
        (None, None, Some(_)) => {
            community_secret_arn.map(|arn| ZipSource::Community { secret_arn: arn.to_string() })
        }
        (None, None, None) => None,
    }
}

/// The build bucket: encrypted with the environment's key, public access blocked,
/// TLS-only, no versioning (each context is written once under its revision), stale
/// multipart uploads aborted.
pub fn desired_build_bucket(
    id: &EnvIdentity,
    extra_tags: &[Tag],
    key_arn: &str,
) -> Result<DesiredBucket, PlanError> {
    let name = build_bucket_name(&id.environment_id());
    Ok(DesiredBucket {
        encryption: Encryption::Kms { key_arn: key_arn.to_string() },
        versioning: None,
        policy: file_bucket_policy(id.partition(), &name),
        lifecycle: vec![LifecycleRule {
            id: "redcap-abort-incomplete-uploads".into(),
            enabled: true,
            transitions: Vec::new(),
            noncurrent_expiration_days: None,
            abort_incomplete_upload_days: Some(ABORT_MPU_DAYS),
            foreign: false,
        }],
        logging: None,
        tags: id.ownership_tags(ComponentName::Image, extra_tags)?,
        adoptable: true,
        name,
    })
}

/// The ECR repository.
pub fn desired_repository(
    id: &EnvIdentity,
    extra_tags: &[Tag],
    key_arn: &str,
) -> Result<DesiredRepository, PlanError> {
    Ok(DesiredRepository {
        name: repository_name(&id.environment_id()),
        kms_key_arn: key_arn.to_string(),
        lifecycle_policy: lifecycle_policy(),
        tags: id.ownership_tags(ComponentName::Image, extra_tags)?,
    })
}

/// The build log group: `spec.logs.retentionDays`, the environment's key.
pub fn desired_log_group(
    id: &EnvIdentity,
    extra_tags: &[Tag],
    retention_days: u32,
    key_arn: &str,
) -> Result<DesiredLogGroup, PlanError> {
    crate::plan::logs::desired_log_group(
        log_group_name(&id.environment_id()),
        id.ownership_tags(ComponentName::Image, extra_tags)?,
        retention_days,
        key_arn,
    )
}

/// Where the build runs, from the network's outputs: the private subnets and the build
/// security group. `None` while the network has no build security group yet.
pub fn project_vpc(network: &crate::plan::network::NetworkOutputs) -> Option<ProjectVpc> {
    let sg = &network.security_groups.build;
    (!sg.is_empty() && !network.private_subnets.is_empty()).then(|| ProjectVpc {
        vpc_id: network.vpc_id.clone(),
        subnets: network.private_subnets.clone(),
        security_groups: vec![sg.clone()],
    })
}

/// Everything the project and its role are made from.
#[derive(Clone, Debug)]
pub struct PipelineInput<'a> {
    pub id: &'a EnvIdentity,
    pub account: &'a str,
    pub key_arn: &'a str,
    pub request: &'a ImageRequest,
    pub zip: ZipSource,
    pub vpc: ProjectVpc,
    pub extra_tags: &'a [Tag],
}

/// The desired project (definition and tags) and the role it runs as.
pub fn desired_pipeline(
    input: &PipelineInput<'_>,
) -> Result<(DesiredProject, DesiredRole), PlanError> {
    let id = input.id;
    let env_id = id.environment_id();
    let partition = id.partition();
    let repo = repository_name(&env_id);
    let uri = repository_uri(partition, input.account, &id.region, &repo);
    let build_inputs = BuildInputs {
        repository_uri: uri,
        tag: input.request.tag.clone(),
        version: input.request.version.to_string(),
        container_revision: input.request.container_revision.clone(),
        zip: input.zip.clone(),
        languages: input.request.languages.clone(),
    };
    let name = project_name(&env_id);
    let role = role_name(&env_id);
    let scope = RoleScope {
        partition: partition.to_string(),
        region: id.region.clone(),
        account: input.account.to_string(),
        project_name: name.clone(),
        log_group: log_group_name(&env_id),
        repository_arn: format!(
            "arn:{partition}:ecr:{}:{}:repository/{repo}",
            id.region, input.account
        ),
        build_bucket: build_bucket_name(&env_id),
        context_prefix: CONTEXT_PREFIX.to_string(),
        kms_key_arn: input.key_arn.to_string(),
        zip: input.zip.clone(),
        languages: input.request.languages.clone(),
        subnets: input.vpc.subnets.clone(),
    };
    let definition = ProjectDefinition {
        name,
        description: format!(
            "Builds the REDCap image of {}/{} (managed by redcap-operator; changes made here are overwritten)",
            id.namespace, id.name
        ),
        source_location: format!(
            "{}/{}",
            build_bucket_name(&env_id),
            context_key(&input.request.container_revision)
        ),
        buildspec: buildspec::buildspec(&build_inputs),
        image: project::BUILD_IMAGE.to_string(),
        compute_type: project::COMPUTE_TYPE.to_string(),
        privileged: true,
        environment: buildspec::environment(&build_inputs),
        service_role: role_arn(partition, input.account, &role),
        timeout_minutes: project::TIMEOUT_MINUTES,
        queued_timeout_minutes: project::QUEUED_TIMEOUT_MINUTES,
        encryption_key: input.key_arn.to_string(),
        log_group: log_group_name(&env_id),
        vpc: Some(input.vpc.clone()),
        docker_layer_cache: true,
    };
    let tags = id.ownership_tags(ComponentName::Image, input.extra_tags)?;
    let desired_role = DesiredRole {
        name: role,
        path: ROLE_PATH.to_string(),
        description: "Runs the REDCap image build of one environment (managed by redcap-operator)"
            .to_string(),
        trust_policy: trust_policy(&scope),
        policy_name: POLICY_NAME.to_string(),
        policy: build_policy(&scope),
        managed_policies: Vec::new(),
        tags: tags.clone(),
    };
    Ok((DesiredProject { definition: project::normalize(definition), tags }, desired_role))
}

#[cfg(test)]
mod tests;
