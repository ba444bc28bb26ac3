//! The environment's ECR repository and the image the spec asks for (observe, create,
//! update, delete; only calls AWS, decisions are in `plan::image::repository`).

use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageIdentifier, ImageScanningConfiguration,
    ImageTagMutability, Tag,
};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::plan::image::repository::{DesiredRepository, ObservedRepository, RepositoryChange};
use crate::plan::policy::parse_policy;
use crate::plan::tags::TagSet;

use super::super::error::classify;
use super::super::{AwsCtx, AwsError, Service};

const SERVICE: &str = "ecr";

/// ECR codes that retrying cannot fix (on top of the common list).
pub const TERMINAL_CODES: &[&str] = &[
    "InvalidParameterException",
    "InvalidTagParameterException",
    "TooManyTagsException",
    "RepositoryAlreadyExistsException",
    "KmsException",
    "LimitExceededException",
];

fn err<E>(operation: &'static str, e: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    classify(SERVICE, operation, TERMINAL_CODES, e)
}

fn missing(e: &AwsError) -> bool {
    matches!(
        e.code.as_str(),
        "RepositoryNotFoundException"
            | "ImageNotFoundException"
            | "LifecyclePolicyNotFoundException"
    ) || e.is_not_found()
}

fn ecr_tags(tags: &TagSet) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::build(SERVICE, "TagResource", e))
        })
        .collect()
}

/// The repository `name` with its tags and lifecycle policy, or `None`.
pub async fn observe(aws: &AwsCtx, name: &str) -> Result<Option<ObservedRepository>, AwsError> {
    aws.permit(Service::Ecr).await;
    let out = match aws
        .ecr
        .describe_repositories()
        .repository_names(name)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            let e = err("DescribeRepositories", e);
            return if missing(&e) { Ok(None) } else { Err(e) };
        }
    };
    let Some(repo) = out
        .repositories()
        .iter()
        .find(|r| r.repository_name() == Some(name))
    else {
        return Ok(None);
    };
    let arn = repo.repository_arn().unwrap_or_default().to_string();
    aws.permit(Service::Ecr).await;
    let tags: TagSet = aws
        .ecr
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(|e| err("ListTagsForResource", e))?
        .tags()
        .iter()
        .map(|t| (t.key(), t.value()))
        .collect();
    // Someone else's repository: nothing more to read.
    let lifecycle_policy = if tags.get(crate::api::tags::UID).is_some() {
        aws.permit(Service::Ecr).await;
        match aws
            .ecr
            .get_lifecycle_policy()
            .repository_name(name)
            .send()
            .await
        {
            Ok(out) => out.lifecycle_policy_text().map(parse_policy),
            Err(e) => {
                let e = err("GetLifecyclePolicy", e);
                if missing(&e) {
                    None
                } else {
                    return Err(e);
                }
            }
        }
    } else {
        None
    };
    let encryption = repo.encryption_configuration();
    Ok(Some(ObservedRepository {
        arn,
        uri: repo.repository_uri().unwrap_or_default().to_string(),
        scan_on_push: repo
            .image_scanning_configuration()
            .is_some_and(|c| c.scan_on_push()),
        tag_mutability: repo
            .image_tag_mutability()
            .map(|m| m.as_str().to_string())
            .unwrap_or_default(),
        encryption_type: encryption
            .map(|c| c.encryption_type().as_str().to_string())
            .unwrap_or_default(),
        kms_key: encryption.and_then(|c| c.kms_key()).map(str::to_string),
        lifecycle_policy,
        tags,
    }))
}

/// Creates the repository (scan on push, immutable tags, KMS, tags) and its lifecycle
/// policy; returns its ARN and URI.
pub async fn create(aws: &AwsCtx, want: &DesiredRepository) -> Result<(String, String), AwsError> {
    aws.permit(Service::Ecr).await;
    let out = aws
        .ecr
        .create_repository()
        .repository_name(&want.name)
        .image_tag_mutability(ImageTagMutability::Immutable)
        .image_scanning_configuration(
            ImageScanningConfiguration::builder()
                .scan_on_push(true)
                .build(),
        )
        .encryption_configuration(
            EncryptionConfiguration::builder()
                .encryption_type(EncryptionType::Kms)
                .kms_key(&want.kms_key_arn)
                .build()
                .map_err(|e| AwsError::build(SERVICE, "CreateRepository", e))?,
        )
        .set_tags(Some(ecr_tags(&want.tags)?))
        .send()
        .await
        .map_err(|e| err("CreateRepository", e))?;
    put_lifecycle_policy(aws, want).await?;
    let repo = out.repository();
    Ok((
        repo.and_then(|r| r.repository_arn())
            .unwrap_or_default()
            .to_string(),
        repo.and_then(|r| r.repository_uri())
            .unwrap_or_default()
            .to_string(),
    ))
}

async fn put_lifecycle_policy(aws: &AwsCtx, want: &DesiredRepository) -> Result<(), AwsError> {
    aws.permit(Service::Ecr).await;
    aws.ecr
        .put_lifecycle_policy()
        .repository_name(&want.name)
        .lifecycle_policy_text(want.lifecycle_policy.to_string())
        .send()
        .await
        .map_err(|e| err("PutLifecyclePolicy", e))?;
    Ok(())
}

/// Applies the corrections `plan::image::repository::repository_changes` returned.
pub async fn apply(
    aws: &AwsCtx,
    want: &DesiredRepository,
    arn: &str,
    changes: &[RepositoryChange],
) -> Result<(), AwsError> {
    for change in changes {
        match change {
            RepositoryChange::Tag(tags) => tag(aws, arn, tags).await?,
            RepositoryChange::ScanOnPush => {
                aws.permit(Service::Ecr).await;
                aws.ecr
                    .put_image_scanning_configuration()
                    .repository_name(&want.name)
                    .image_scanning_configuration(
                        ImageScanningConfiguration::builder()
                            .scan_on_push(true)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| err("PutImageScanningConfiguration", e))?;
            }
            RepositoryChange::ImmutableTags => {
                aws.permit(Service::Ecr).await;
                aws.ecr
                    .put_image_tag_mutability()
                    .repository_name(&want.name)
                    .image_tag_mutability(ImageTagMutability::Immutable)
                    .send()
                    .await
                    .map_err(|e| err("PutImageTagMutability", e))?;
            }
            RepositoryChange::LifecyclePolicy => put_lifecycle_policy(aws, want).await?,
        }
    }
    Ok(())
}

/// Adds or overwrites tags on the repository.
pub async fn tag(aws: &AwsCtx, arn: &str, tags: &TagSet) -> Result<(), AwsError> {
    aws.permit(Service::Ecr).await;
    aws.ecr
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(ecr_tags(tags)?))
        .send()
        .await
        .map_err(|e| err("TagResource", e))?;
    Ok(())
}

/// The digest of `tag` in the repository, or `None` when the tag is not there.
pub async fn image_digest(
    aws: &AwsCtx,
    repository: &str,
    tag: &str,
) -> Result<Option<String>, AwsError> {
    aws.permit(Service::Ecr).await;
    match aws
        .ecr
        .describe_images()
        .repository_name(repository)
        .image_ids(ImageIdentifier::builder().image_tag(tag).build())
        .send()
        .await
    {
        Ok(out) => Ok(out
            .image_details()
            .iter()
            .find(|d| d.image_tags().iter().any(|t| t == tag))
            .and_then(|d| d.image_digest())
            .map(str::to_string)),
        Err(e) => {
            let e = err("DescribeImages", e);
            if missing(&e) { Ok(None) } else { Err(e) }
        }
    }
}

/// Deletes the repository and its images; a repository already gone is fine.
pub async fn delete(aws: &AwsCtx, name: &str) -> Result<(), AwsError> {
    aws.permit(Service::Ecr).await;
    match aws
        .ecr
        .delete_repository()
        .repository_name(name)
        .force(true)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = err("DeleteRepository", e);
            if missing(&e) { Ok(()) } else { Err(e) }
        }
    }
}
