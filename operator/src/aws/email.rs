//! Amazon SES (v1) identity and configuration set, and the SNS topic for bounces and
//! complaints (step: observe / create / update / delete; only calls AWS, decisions are
//! in `plan::email`).
//!
//! SES identities take no tags, so they are found by name (the domain or the address);
//! the environment's SNS topic, found by its deterministic name and UID tag, records
//! which identity the environment created (`plan::email::IDENTITY_MARKER_TAG`). Steady
//! state reads three identity attributes, the configuration set, and the topic's tags and
//! subscriptions. Every call waits for the SES or SNS budget first.

use aws_sdk_ses::types::{
    BehaviorOnMxFailure, ConfigurationSet, EventDestination, EventType, SnsDestination,
};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::plan::email::{
    IdentityChange, IdentityKind, ObservedEventDestination, ObservedIdentity, ObservedSubscription,
};
use crate::plan::tags::TagSet;

use super::error::classify;
use super::{AwsCtx, AwsError, Service};

/// SES and SNS codes that retrying cannot fix (on top of the common list).
pub const TERMINAL_CODES: &[&str] = &[
    "InvalidParameterValue",
    "InvalidConfigurationSet",
    "InvalidSNSDestination",
    "InvalidParameter",
    "AuthorizationError",
    "TagPolicy",
    "InvalidSecurity",
];

fn ses_err<E>(operation: &'static str, e: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    classify("ses", operation, TERMINAL_CODES, e)
}

fn sns_err<E>(operation: &'static str, e: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    classify("sns", operation, TERMINAL_CODES, e)
}

fn missing(e: &AwsError) -> bool {
    matches!(
        e.code.as_str(),
        "ConfigurationSetDoesNotExist"
            | "ConfigurationSetDoesNotExistException"
            | "EventDestinationDoesNotExist"
            | "ResourceNotFound"
            | "ResourceNotFoundException"
    ) || e.is_not_found()
}

/// The identity, or `None` when SES does not know it.
pub async fn observe_identity(
    aws: &AwsCtx,
    identity: &str,
    kind: IdentityKind,
) -> Result<Option<ObservedIdentity>, AwsError> {
    aws.permit(Service::Ses).await;
    let out = aws
        .ses
        .get_identity_verification_attributes()
        .identities(identity)
        .send()
        .await
        .map_err(|e| ses_err("GetIdentityVerificationAttributes", e))?;
    let Some(v) = out.verification_attributes().get(identity) else {
        return Ok(None);
    };
    let mut seen = ObservedIdentity {
        verification_status: Some(v.verification_status().as_str().to_string()),
        verification_token: v.verification_token().map(str::to_string),
        ..ObservedIdentity::default()
    };
    if kind == IdentityKind::EmailAddress {
        return Ok(Some(seen));
    }
    aws.permit(Service::Ses).await;
    let dkim = aws
        .ses
        .get_identity_dkim_attributes()
        .identities(identity)
        .send()
        .await
        .map_err(|e| ses_err("GetIdentityDkimAttributes", e))?;
    if let Some(d) = dkim.dkim_attributes().get(identity) {
        seen.dkim_enabled = d.dkim_enabled();
        seen.dkim_tokens = d.dkim_tokens().to_vec();
        seen.dkim_status = Some(d.dkim_verification_status().as_str().to_string());
    }
    aws.permit(Service::Ses).await;
    let mail_from = aws
        .ses
        .get_identity_mail_from_domain_attributes()
        .identities(identity)
        .send()
        .await
        .map_err(|e| ses_err("GetIdentityMailFromDomainAttributes", e))?;
    if let Some(m) = mail_from.mail_from_domain_attributes().get(identity)
        && !m.mail_from_domain().is_empty()
    {
        seen.mail_from_domain = Some(m.mail_from_domain().to_string());
        seen.mail_from_status = Some(m.mail_from_domain_status().as_str().to_string());
    }
    Ok(Some(seen))
}

/// Applies the changes `plan::email::identity_changes` returned, in order.
pub async fn apply_identity(
    aws: &AwsCtx,
    identity: &str,
    changes: &[IdentityChange],
) -> Result<(), AwsError> {
    for change in changes {
        aws.permit(Service::Ses).await;
        match change {
            IdentityChange::VerifyDomain => {
                aws.ses
                    .verify_domain_identity()
                    .domain(identity)
                    .send()
                    .await
                    .map_err(|e| ses_err("VerifyDomainIdentity", e))?;
            }
            IdentityChange::VerifyEmail => {
                aws.ses
                    .verify_email_identity()
                    .email_address(identity)
                    .send()
                    .await
                    .map_err(|e| ses_err("VerifyEmailIdentity", e))?;
            }
            IdentityChange::CreateDkimTokens => {
                aws.ses
                    .verify_domain_dkim()
                    .domain(identity)
                    .send()
                    .await
                    .map_err(|e| ses_err("VerifyDomainDkim", e))?;
            }
            IdentityChange::EnableDkim => {
                aws.ses
                    .set_identity_dkim_enabled()
                    .identity(identity)
                    .dkim_enabled(true)
                    .send()
                    .await
                    .map_err(|e| ses_err("SetIdentityDkimEnabled", e))?;
            }
            IdentityChange::SetMailFrom(domain) => {
                aws.ses
                    .set_identity_mail_from_domain()
                    .identity(identity)
                    .mail_from_domain(domain)
                    .behavior_on_mx_failure(BehaviorOnMxFailure::UseDefaultValue)
                    .send()
                    .await
                    .map_err(|e| ses_err("SetIdentityMailFromDomain", e))?;
            }
        }
    }
    Ok(())
}

/// Deletes an identity; one already gone is fine (SES answers success).
pub async fn delete_identity(aws: &AwsCtx, identity: &str) -> Result<(), AwsError> {
    aws.permit(Service::Ses).await;
    aws.ses
        .delete_identity()
        .identity(identity)
        .send()
        .await
        .map_err(|e| ses_err("DeleteIdentity", e))?;
    Ok(())
}

/// The configuration set's event destinations, or `None` when the set does not exist.
pub async fn observe_configuration_set(
    aws: &AwsCtx,
    name: &str,
) -> Result<Option<Vec<ObservedEventDestination>>, AwsError> {
    aws.permit(Service::Ses).await;
    let out = match aws
        .ses
        .describe_configuration_set()
        .configuration_set_name(name)
        .configuration_set_attribute_names(
            aws_sdk_ses::types::ConfigurationSetAttribute::EventDestinations,
        )
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            let e = ses_err("DescribeConfigurationSet", e);
            return if missing(&e) { Ok(None) } else { Err(e) };
        }
    };
    Ok(Some(
        out.event_destinations()
            .iter()
            .map(|d| ObservedEventDestination {
                name: d.name().to_string(),
                enabled: d.enabled(),
                event_types: d
                    .matching_event_types()
                    .iter()
                    .map(|t| t.as_str().to_ascii_lowercase())
                    .collect(),
                topic_arn: d.sns_destination().map(|s| s.topic_arn().to_string()),
            })
            .collect(),
    ))
}

pub async fn create_configuration_set(aws: &AwsCtx, name: &str) -> Result<(), AwsError> {
    let set = ConfigurationSet::builder()
        .name(name)
        .build()
        .map_err(|e| AwsError::build("ses", "CreateConfigurationSet", e))?;
    aws.permit(Service::Ses).await;
    match aws
        .ses
        .create_configuration_set()
        .configuration_set(set)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // Created by an earlier pass that crashed before it could say so.
        Err(e) => {
            let e = ses_err("CreateConfigurationSet", e);
            if e.code.starts_with("ConfigurationSetAlreadyExists") {
                Ok(())
            } else {
                Err(e)
            }
        }
    }
}

/// Replaces the event destination `name` with one that sends bounces and complaints to
/// `topic_arn` (delete, then create: an update of a destination that does not exist
/// fails, and one that exists may hold other settings).
pub async fn put_event_destination(
    aws: &AwsCtx,
    set: &str,
    name: &str,
    topic_arn: &str,
    exists: bool,
) -> Result<(), AwsError> {
    if exists {
        delete_event_destination(aws, set, name).await?;
    }
    let sns = SnsDestination::builder()
        .topic_arn(topic_arn)
        .build()
        .map_err(|e| AwsError::build("ses", "CreateConfigurationSetEventDestination", e))?;
    let destination = EventDestination::builder()
        .name(name)
        .enabled(true)
        .matching_event_types(EventType::Bounce)
        .matching_event_types(EventType::Complaint)
        .sns_destination(sns)
        .build()
        .map_err(|e| AwsError::build("ses", "CreateConfigurationSetEventDestination", e))?;
    aws.permit(Service::Ses).await;
    aws.ses
        .create_configuration_set_event_destination()
        .configuration_set_name(set)
        .event_destination(destination)
        .send()
        .await
        .map_err(|e| ses_err("CreateConfigurationSetEventDestination", e))?;
    Ok(())
}

async fn delete_event_destination(aws: &AwsCtx, set: &str, name: &str) -> Result<(), AwsError> {
    aws.permit(Service::Ses).await;
    match aws
        .ses
        .delete_configuration_set_event_destination()
        .configuration_set_name(set)
        .event_destination_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = ses_err("DeleteConfigurationSetEventDestination", e);
            if missing(&e) { Ok(()) } else { Err(e) }
        }
    }
}

/// Deletes the configuration set (and so its event destinations); gone is fine.
pub async fn delete_configuration_set(aws: &AwsCtx, name: &str) -> Result<(), AwsError> {
    aws.permit(Service::Ses).await;
    match aws
        .ses
        .delete_configuration_set()
        .configuration_set_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = ses_err("DeleteConfigurationSet", e);
            if missing(&e) { Ok(()) } else { Err(e) }
        }
    }
}

/// The topic's tags, or `None` when the topic does not exist.
pub async fn topic_tags(aws: &AwsCtx, arn: &str) -> Result<Option<TagSet>, AwsError> {
    aws.permit(Service::Sns).await;
    match aws
        .sns
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            out.tags().iter().map(|t| (t.key(), t.value())).collect(),
        )),
        Err(e) => {
            let e = sns_err("ListTagsForResource", e);
            if missing(&e) { Ok(None) } else { Err(e) }
        }
    }
}

fn sns_tags(tags: &TagSet) -> Result<Vec<aws_sdk_sns::types::Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_sns::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::build("sns", "TagResource", e))
        })
        .collect()
}

/// Creates the topic (idempotent for the same name and tags) and returns its ARN.
pub async fn create_topic(aws: &AwsCtx, name: &str, tags: &TagSet) -> Result<String, AwsError> {
    aws.permit(Service::Sns).await;
    let out = aws
        .sns
        .create_topic()
        .name(name)
        .set_tags(Some(sns_tags(tags)?))
        .send()
        .await
        .map_err(|e| sns_err("CreateTopic", e))?;
    Ok(out.topic_arn().unwrap_or_default().to_string())
}

/// Adds or overwrites tags on the topic.
pub async fn tag_topic(aws: &AwsCtx, arn: &str, tags: &TagSet) -> Result<(), AwsError> {
    aws.permit(Service::Sns).await;
    aws.sns
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(sns_tags(tags)?))
        .send()
        .await
        .map_err(|e| sns_err("TagResource", e))?;
    Ok(())
}

/// Every subscription of the topic.
pub async fn subscriptions(aws: &AwsCtx, arn: &str) -> Result<Vec<ObservedSubscription>, AwsError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        aws.permit(Service::Sns).await;
        let page = aws
            .sns
            .list_subscriptions_by_topic()
            .topic_arn(arn)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| sns_err("ListSubscriptionsByTopic", e))?;
        out.extend(page.subscriptions().iter().map(|s| ObservedSubscription {
            arn: s.subscription_arn().unwrap_or_default().to_string(),
            protocol: s.protocol().unwrap_or_default().to_string(),
            endpoint: s.endpoint().unwrap_or_default().to_string(),
        }));
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

/// Subscribes an email address (SNS mails it a confirmation link).
pub async fn subscribe_email(aws: &AwsCtx, arn: &str, address: &str) -> Result<(), AwsError> {
    aws.permit(Service::Sns).await;
    aws.sns
        .subscribe()
        .topic_arn(arn)
        .protocol("email")
        .endpoint(address)
        .send()
        .await
        .map_err(|e| sns_err("Subscribe", e))?;
    Ok(())
}

pub async fn unsubscribe(aws: &AwsCtx, subscription_arn: &str) -> Result<(), AwsError> {
    aws.permit(Service::Sns).await;
    match aws
        .sns
        .unsubscribe()
        .subscription_arn(subscription_arn)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = sns_err("Unsubscribe", e);
            if missing(&e) { Ok(()) } else { Err(e) }
        }
    }
}

/// Deletes the topic and its subscriptions; a topic already gone is fine.
pub async fn delete_topic(aws: &AwsCtx, arn: &str) -> Result<(), AwsError> {
    aws.permit(Service::Sns).await;
    match aws.sns.delete_topic().topic_arn(arn).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = sns_err("DeleteTopic", e);
            if missing(&e) { Ok(()) } else { Err(e) }
        }
    }
}
