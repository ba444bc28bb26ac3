//! ACM: the site's DNS-validated certificate (step: observe / request / delete; only
//! calls AWS, decisions are in `plan::domain`).
//!
//! A certificate is requested with its tags (so ownership is never a separate call a
//! crash could skip) and an idempotency token derived from the UID (ACM answers a retry
//! within an hour with the same certificate). It is found again by the ARN status
//! recorded, or by listing the certificates for the site and reading their tags.

use aws_sdk_acm::types::{CertificateStatus, Tag, ValidationMethod};

use crate::plan::domain::{ObservedCertificate, ValidationOption};
use crate::plan::tags::TagSet;

use super::{AwsCtx, AwsError};

const SERVICE: &str = "acm";

/// The certificate, or `None` when it does not exist (any more).
pub async fn describe(aws: &AwsCtx, arn: &str) -> Result<Option<ObservedCertificate>, AwsError> {
    let Some(out) = aws.find(aws.acm.describe_certificate().certificate_arn(arn).send()).await?
    else {
        return Ok(None);
    };
    let Some(c) = out.certificate() else {
        return Ok(None);
    };
    Ok(Some(ObservedCertificate {
        arn: c.certificate_arn().unwrap_or(arn).to_string(),
        domain: c.domain_name().unwrap_or_default().to_string(),
        status: c.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        failure_reason: c.failure_reason().map(|r| r.as_str().to_string()),
        options: c
            .domain_validation_options()
            .iter()
            .map(|o| ValidationOption {
                domain: o.domain_name().to_string(),
                status: o.validation_status().map(|s| s.as_str().to_string()),
                record: o.resource_record().map(|r| {
                    (r.name().to_string(), r.r#type().as_str().to_string(), r.value().to_string())
                }),
            })
            .collect(),
        in_use_by: c.in_use_by().to_vec(),
    }))
}

/// The certificate's tags.
pub async fn tags(aws: &AwsCtx, arn: &str) -> Result<TagSet, AwsError> {
    let out = aws.call(aws.acm.list_tags_for_certificate().certificate_arn(arn).send()).await?;
    let mut tags = TagSet::new();
    for t in out.tags() {
        tags.insert(t.key(), t.value().unwrap_or_default());
    }
    Ok(tags)
}

/// The ARNs of the region's certificates for `domain` (any status but the ones ACM
/// keeps only for the record: a certificate that expired or was revoked is not reused).
pub async fn certificates_for(aws: &AwsCtx, domain: &str) -> Result<Vec<String>, AwsError> {
    let statuses = [
        CertificateStatus::PendingValidation,
        CertificateStatus::Issued,
        CertificateStatus::Failed,
        CertificateStatus::ValidationTimedOut,
        CertificateStatus::Inactive,
    ];
    let pages = aws
        .pages(
            aws.acm
                .list_certificates()
                .set_certificate_statuses(Some(statuses.to_vec()))
                .into_paginator()
                .send(),
        )
        .await?;
    Ok(pages
        .iter()
        .flat_map(|p| p.certificate_summary_list())
        .filter(|s| s.domain_name().is_some_and(|d| d.eq_ignore_ascii_case(domain)))
        .filter_map(|s| s.certificate_arn().map(str::to_string))
        .collect())
}

/// Requests a DNS-validated certificate for `domain` with `tags`; returns its ARN.
pub async fn request(
    aws: &AwsCtx,
    domain: &str,
    token: &str,
    tags: &TagSet,
) -> Result<String, AwsError> {
    let tags = super::error::sdk_tags(tags, SERVICE, "RequestCertificate", |k, v| {
        Tag::builder().key(k).value(v).build()
    })?;
    let out = aws
        .call(
            aws.acm
                .request_certificate()
                .domain_name(domain)
                // Always sent: ACM's default is EMAIL, which would mail the domain's owners.
                .validation_method(ValidationMethod::Dns)
                .idempotency_token(token)
                .set_tags(Some(tags))
                .send(),
        )
        .await?;
    out.certificate_arn().map(str::to_string).ok_or_else(|| {
        AwsError::recoverable(SERVICE, "RequestCertificate", "NoArn", "no certificate ARN")
    })
}

/// Deletes the certificate. `Ok(false)`: it was already gone. ACM refuses while a
/// listener uses it (`ResourceInUseException`, retried).
pub async fn delete(aws: &AwsCtx, arn: &str) -> Result<bool, AwsError> {
    aws.delete(aws.acm.delete_certificate().certificate_arn(arn).send()).await
}
