//! The environment's ECR repository and the image the spec asks for (observe, create,
//! update, delete; only calls AWS, decisions are in `plan::image::repository`).

use aws_sdk_ecr::types::{
    EncryptionConfiguration, EncryptionType, ImageIdentifier, ImageScanningConfiguration,
    ImageTagMutability, Tag,
};

use crate::plan::image::repository::{
    DesiredRepository, ObservedRepository, RepositoryChange, repository_changes,
};
use crate::plan::policy::parse_policy;
use crate::plan::tags::TagSet;

use super::error::sdk_tags;
use super::resource::{Presence, Resource};
use super::{AwsCtx, AwsError};

const SERVICE: &str = "ecr";

fn ecr_tags(tags: &TagSet) -> Result<Vec<Tag>, AwsError> {
    sdk_tags(tags, SERVICE, "TagResource", |k, v| Tag::builder().key(k).value(v).build())
}

/// The repository `name` with its tags and lifecycle policy, or `None`.
pub async fn observe(aws: &AwsCtx, name: &str) -> Result<Option<ObservedRepository>, AwsError> {
    let Some(out) = aws.find(aws.ecr.describe_repositories().repository_names(name).send()).await?
    else {
        return Ok(None);
    };
    let Some(repo) = out.repositories().iter().find(|r| r.repository_name() == Some(name)) else {
        return Ok(None);
    };
    let arn = repo.repository_arn().unwrap_or_default().to_string();
    let tags: TagSet = aws
        .call(aws.ecr.list_tags_for_resource().resource_arn(&arn).send())
        .await?
        .tags()
        .iter()
        .map(|t| (t.key(), t.value()))
        .collect();
    // Someone else's repository: nothing more to read.
    let lifecycle_policy = if tags.get(crate::api::tags::UID).is_some() {
        match aws.find(aws.ecr.get_lifecycle_policy().repository_name(name).send()).await? {
            Some(out) => out.lifecycle_policy_text().map(parse_policy),
            None => None,
        }
    } else {
        None
    };
    let encryption = repo.encryption_configuration();
    Ok(Some(ObservedRepository {
        arn,
        uri: repo.repository_uri().unwrap_or_default().to_string(),
        scan_on_push: repo.image_scanning_configuration().is_some_and(|c| c.scan_on_push()),
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
    let out = aws
        .call(
            aws.ecr
                .create_repository()
                .repository_name(&want.name)
                .image_tag_mutability(ImageTagMutability::Immutable)
                .image_scanning_configuration(
                    ImageScanningConfiguration::builder().scan_on_push(true).build(),
                )
                .encryption_configuration(
                    EncryptionConfiguration::builder()
                        .encryption_type(EncryptionType::Kms)
                        .kms_key(&want.kms_key_arn)
                        .build()
                        .map_err(|e| AwsError::build(SERVICE, "CreateRepository", e))?,
                )
                .set_tags(Some(ecr_tags(&want.tags)?))
                .send(),
        )
        .await?;
    put_lifecycle_policy(aws, want).await?;
    let repo = out.repository();
    Ok((
        repo.and_then(|r| r.repository_arn()).unwrap_or_default().to_string(),
        repo.and_then(|r| r.repository_uri()).unwrap_or_default().to_string(),
    ))
}

async fn put_lifecycle_policy(aws: &AwsCtx, want: &DesiredRepository) -> Result<(), AwsError> {
    aws.run(
        aws.ecr
            .put_lifecycle_policy()
            .repository_name(&want.name)
            .lifecycle_policy_text(want.lifecycle_policy.to_string())
            .send(),
    )
    .await
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
                aws.run(
                    aws.ecr
                        .put_image_scanning_configuration()
                        .repository_name(&want.name)
                        .image_scanning_configuration(
                            ImageScanningConfiguration::builder().scan_on_push(true).build(),
                        )
                        .send(),
                )
                .await?
            }
            RepositoryChange::ImmutableTags => {
                aws.run(
                    aws.ecr
                        .put_image_tag_mutability()
                        .repository_name(&want.name)
                        .image_tag_mutability(ImageTagMutability::Immutable)
                        .send(),
                )
                .await?
            }
            RepositoryChange::LifecyclePolicy => put_lifecycle_policy(aws, want).await?,
        }
    }
    Ok(())
}

/// Adds or overwrites tags on the repository.
pub async fn tag(aws: &AwsCtx, arn: &str, tags: &TagSet) -> Result<(), AwsError> {
    aws.run(aws.ecr.tag_resource().resource_arn(arn).set_tags(Some(ecr_tags(tags)?)).send()).await
}

/// The digest of `tag` in the repository, or `None` when the tag is not there.
pub async fn image_digest(
    aws: &AwsCtx,
    repository: &str,
    tag: &str,
) -> Result<Option<String>, AwsError> {
    match aws
        .find(
            aws.ecr
                .describe_images()
                .repository_name(repository)
                .image_ids(ImageIdentifier::builder().image_tag(tag).build())
                .send(),
        )
        .await?
    {
        Some(out) => Ok(out
            .image_details()
            .iter()
            .find(|d| d.image_tags().iter().any(|t| t == tag))
            .and_then(|d| d.image_digest())
            .map(str::to_string)),
        None => Ok(None),
    }
}

/// Deletes the repository and its images; a repository already gone is fine.
pub async fn delete(aws: &AwsCtx, name: &str) -> Result<(), AwsError> {
    aws.delete(aws.ecr.delete_repository().repository_name(name).force(true).send()).await.map(drop)
}

impl Resource for DesiredRepository {
    type Seen = ObservedRepository;
    type Change = RepositoryChange;

    fn label(&self) -> String {
        format!("ECR repository {}", self.name)
    }

    async fn observe(
        &self,
        aws: &AwsCtx,
        uid: &str,
    ) -> Result<Presence<ObservedRepository>, AwsError> {
        Ok(Presence::of(observe(aws, &self.name).await?, |s| s.tags.is_owned_by(uid)))
    }

    async fn create(&self, aws: &AwsCtx) -> Result<ObservedRepository, AwsError> {
        let (arn, uri) = create(aws, self).await?;
        Ok(ObservedRepository {
            arn,
            uri,
            scan_on_push: true,
            tag_mutability: "IMMUTABLE".into(),
            encryption_type: "KMS".into(),
            kms_key: Some(self.kms_key_arn.clone()),
            lifecycle_policy: Some(self.lifecycle_policy.clone()),
            tags: self.tags.clone(),
        })
    }

    fn changes(&self, seen: &ObservedRepository) -> Vec<RepositoryChange> {
        repository_changes(self, seen)
    }

    async fn update(
        &self,
        aws: &AwsCtx,
        seen: &ObservedRepository,
        changes: &[RepositoryChange],
    ) -> Result<(), AwsError> {
        apply(aws, self, &seen.arn, changes).await
    }
}
