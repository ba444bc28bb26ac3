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

use crate::plan::email::{
    IdentityChange, IdentityKind, ObservedEventDestination, ObservedIdentity, ObservedSubscription,
};
use crate::plan::tags::TagSet;

use super::error::sdk_tags;
use super::{AwsCtx, AwsError};

/// The identity, or `None` when SES does not know it.
pub async fn observe_identity(
    aws: &AwsCtx,
    identity: &str,
    kind: IdentityKind,
) -> Result<Option<ObservedIdentity>, AwsError> {
    let out = aws
        .call(aws.ses.get_identity_verification_attributes().identities(identity).send())
        .await?;
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
    let dkim = aws.call(aws.ses.get_identity_dkim_attributes().identities(identity).send()).await?;
    if let Some(d) = dkim.dkim_attributes().get(identity) {
        seen.dkim_enabled = d.dkim_enabled();
        seen.dkim_tokens = d.dkim_tokens().to_vec();
        seen.dkim_status = Some(d.dkim_verification_status().as_str().to_string());
    }
    let mail_from = aws
        .call(aws.ses.get_identity_mail_from_domain_attributes().identities(identity).send())
        .await?;
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
        match change {
            IdentityChange::VerifyDomain => {
                aws.run(aws.ses.verify_domain_identity().domain(identity).send()).await?
            }
            IdentityChange::VerifyEmail => {
                aws.run(aws.ses.verify_email_identity().email_address(identity).send()).await?
            }
            IdentityChange::CreateDkimTokens => {
                aws.run(aws.ses.verify_domain_dkim().domain(identity).send()).await?
            }
            IdentityChange::EnableDkim => {
                aws.run(
                    aws.ses
                        .set_identity_dkim_enabled()
                        .identity(identity)
                        .dkim_enabled(true)
                        .send(),
                )
                .await?
            }
            IdentityChange::SetMailFrom(domain) => {
                aws.run(
                    aws.ses
                        .set_identity_mail_from_domain()
                        .identity(identity)
                        .mail_from_domain(domain)
                        .behavior_on_mx_failure(BehaviorOnMxFailure::UseDefaultValue)
                        .send(),
                )
                .await?
            }
        }
    }
    Ok(())
}

/// Deletes an identity; one already gone is fine (SES answers success).
pub async fn delete_identity(aws: &AwsCtx, identity: &str) -> Result<(), AwsError> {
    aws.run(aws.ses.delete_identity().identity(identity).send()).await
}

/// The configuration set's event destinations, or `None` when the set does not exist.
pub async fn observe_configuration_set(
    aws: &AwsCtx,
    name: &str,
) -> Result<Option<Vec<ObservedEventDestination>>, AwsError> {
    let Some(out) = aws
        .find(
            aws.ses
                .describe_configuration_set()
                .configuration_set_name(name)
                .configuration_set_attribute_names(
                    aws_sdk_ses::types::ConfigurationSetAttribute::EventDestinations,
                )
                .send(),
        )
        .await?
    else {
        return Ok(None);
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
    // Already there: created by an earlier pass that crashed before it could say so.
    aws.tolerate(
        &["ConfigurationSetAlreadyExists", "ConfigurationSetAlreadyExistsException"],
        aws.ses.create_configuration_set().configuration_set(set).send(),
    )
    .await
    .map(drop)
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
    aws.run(
        aws.ses
            .create_configuration_set_event_destination()
            .configuration_set_name(set)
            .event_destination(destination)
            .send(),
    )
    .await
}

async fn delete_event_destination(aws: &AwsCtx, set: &str, name: &str) -> Result<(), AwsError> {
    aws.delete(
        aws.ses
            .delete_configuration_set_event_destination()
            .configuration_set_name(set)
            .event_destination_name(name)
            .send(),
    )
    .await
    .map(drop)
}

/// Deletes the configuration set (and so its event destinations); gone is fine.
pub async fn delete_configuration_set(aws: &AwsCtx, name: &str) -> Result<(), AwsError> {
    aws.delete(aws.ses.delete_configuration_set().configuration_set_name(name).send())
        .await
        .map(drop)
}

/// The topic's tags, or `None` when the topic does not exist.
pub async fn topic_tags(aws: &AwsCtx, arn: &str) -> Result<Option<TagSet>, AwsError> {
    let out = aws.find(aws.sns.list_tags_for_resource().resource_arn(arn).send()).await?;
    Ok(out.map(|out| out.tags().iter().map(|t| (t.key(), t.value())).collect()))
}

fn sns_tags(tags: &TagSet) -> Result<Vec<aws_sdk_sns::types::Tag>, AwsError> {
    sdk_tags(tags, "sns", "TagResource", |k, v| {
        aws_sdk_sns::types::Tag::builder().key(k).value(v).build()
    })
}

/// Creates the topic (idempotent for the same name and tags) and returns its ARN.
pub async fn create_topic(aws: &AwsCtx, name: &str, tags: &TagSet) -> Result<String, AwsError> {
    let out =
        aws.call(aws.sns.create_topic().name(name).set_tags(Some(sns_tags(tags)?)).send()).await?;
    Ok(out.topic_arn().unwrap_or_default().to_string())
}

/// Adds or overwrites tags on the topic.
pub async fn tag_topic(aws: &AwsCtx, arn: &str, tags: &TagSet) -> Result<(), AwsError> {
    aws.run(aws.sns.tag_resource().resource_arn(arn).set_tags(Some(sns_tags(tags)?)).send()).await
}

/// Every subscription of the topic.
pub async fn subscriptions(aws: &AwsCtx, arn: &str) -> Result<Vec<ObservedSubscription>, AwsError> {
    let pages = aws
        .pages(aws.sns.list_subscriptions_by_topic().topic_arn(arn).into_paginator().send())
        .await?;
    Ok(pages
        .iter()
        .flat_map(|p| p.subscriptions())
        .map(|s| ObservedSubscription {
            arn: s.subscription_arn().unwrap_or_default().to_string(),
            protocol: s.protocol().unwrap_or_default().to_string(),
            endpoint: s.endpoint().unwrap_or_default().to_string(),
        })
        .collect())
}

/// Subscribes an email address (SNS mails it a confirmation link).
pub async fn subscribe_email(aws: &AwsCtx, arn: &str, address: &str) -> Result<(), AwsError> {
    aws.run(aws.sns.subscribe().topic_arn(arn).protocol("email").endpoint(address).send()).await
}

pub async fn unsubscribe(aws: &AwsCtx, subscription_arn: &str) -> Result<(), AwsError> {
    aws.delete(aws.sns.unsubscribe().subscription_arn(subscription_arn).send()).await.map(drop)
}

/// Deletes the topic and its subscriptions; a topic already gone is fine.
pub async fn delete_topic(aws: &AwsCtx, arn: &str) -> Result<(), AwsError> {
    aws.delete(aws.sns.delete_topic().topic_arn(arn).send()).await.map(drop)
}
