//! Amazon EventBridge: the connection, API destination, rule and target that call
//! REDCap's `cron.php` (component `cron`; step: observe / create / update / delete).
//!
//! Decisions are made in `plan::cron`; this module only calls EventBridge. Connections
//! and API destinations take no tags: they are found by their deterministic names, which
//! carry the environment's UID hash. A connection's token cannot be read back
//! (EventBridge keeps it in a secret of its own); its description records the token's
//! fingerprint instead (`plan::cron::connection_description`).

use aws_sdk_eventbridge::error::BuildError;
use aws_sdk_eventbridge::types as t;

use crate::plan::TagSet;
use crate::plan::cron::{
    CRON_TOKEN_HEADER, INVOCATION_RATE_PER_SECOND, MAX_EVENT_AGE_SECONDS, MAX_RETRIES,
    ObservedConnection, ObservedDestination, ObservedRule, ObservedTarget, TARGET_ID,
    description_fingerprint,
};
use crate::plan::secret::SecretString;

use super::{AwsCtx, AwsError};

/// The fingerprint of the token the connection `name` sends, from its description;
/// `None` when there is no such connection (or it says none).
pub async fn connection_fingerprint(aws: &AwsCtx, name: &str) -> Result<Option<String>, AwsError> {
    let out = aws.find(aws.events.describe_connection().name(name).send()).await?;
    Ok(out.and_then(|c| c.description().and_then(description_fingerprint)))
}

fn build(operation: &'static str) -> impl Fn(BuildError) -> AwsError {
    move |e| AwsError::build("events", operation, e)
}

/// The connection `name`, without its token.
pub async fn describe_connection(
    aws: &AwsCtx,
    name: &str,
) -> Result<Option<ObservedConnection>, AwsError> {
    let Some(c) = aws.find(aws.events.describe_connection().name(name).send()).await? else {
        return Ok(None);
    };
    Ok(Some(ObservedConnection {
        arn: c.connection_arn().unwrap_or_default().to_string(),
        state: c.connection_state().map(|s| s.as_str().to_string()).unwrap_or_default(),
        state_reason: c.state_reason().map(str::to_string),
        authorization: c.authorization_type().map(|a| a.as_str().to_string()).unwrap_or_default(),
        header: c
            .auth_parameters()
            .and_then(|p| p.api_key_auth_parameters())
            .and_then(|k| k.api_key_name())
            .map(str::to_ascii_lowercase),
        fingerprint: c.description().and_then(description_fingerprint),
    }))
}

/// Creates the connection sending `token` in the cron header; returns its ARN.
pub async fn create_connection(
    aws: &AwsCtx,
    name: &str,
    token: &SecretString,
    description: &str,
) -> Result<String, AwsError> {
    let key = t::CreateConnectionApiKeyAuthRequestParameters::builder()
        .api_key_name(CRON_TOKEN_HEADER)
        .api_key_value(token.expose())
        .build()
        .map_err(build("CreateConnection"))?;
    let out = aws
        .call(
            aws.events
                .create_connection()
                .name(name)
                .description(description)
                .authorization_type(t::ConnectionAuthorizationType::ApiKey)
                .auth_parameters(
                    t::CreateConnectionAuthRequestParameters::builder()
                        .api_key_auth_parameters(key)
                        .build(),
                )
                .send(),
        )
        .await?;
    Ok(out.connection_arn().unwrap_or_default().to_string())
}

/// Makes the connection send `token` (and say so in its description).
pub async fn update_connection(
    aws: &AwsCtx,
    name: &str,
    token: &SecretString,
    description: &str,
) -> Result<(), AwsError> {
    let key = t::UpdateConnectionApiKeyAuthRequestParameters::builder()
        .api_key_name(CRON_TOKEN_HEADER)
        .api_key_value(token.expose())
        .build();
    aws.run(
        aws.events
            .update_connection()
            .name(name)
            .description(description)
            .authorization_type(t::ConnectionAuthorizationType::ApiKey)
            .auth_parameters(
                t::UpdateConnectionAuthRequestParameters::builder()
                    .api_key_auth_parameters(key)
                    .build(),
            )
            .send(),
    )
    .await
}

pub async fn delete_connection(aws: &AwsCtx, name: &str) -> Result<bool, AwsError> {
    aws.delete(aws.events.delete_connection().name(name).send()).await
}

/// The API destination `name`.
pub async fn describe_destination(
    aws: &AwsCtx,
    name: &str,
) -> Result<Option<ObservedDestination>, AwsError> {
    let Some(d) = aws.find(aws.events.describe_api_destination().name(name).send()).await? else {
        return Ok(None);
    };
    Ok(Some(ObservedDestination {
        arn: d.api_destination_arn().unwrap_or_default().to_string(),
        connection_arn: d.connection_arn().unwrap_or_default().to_string(),
        endpoint: d.invocation_endpoint().unwrap_or_default().to_string(),
        method: d.http_method().map(|m| m.as_str().to_string()).unwrap_or_default(),
        rate: d.invocation_rate_limit_per_second(),
        state: d.api_destination_state().map(|s| s.as_str().to_string()).unwrap_or_default(),
    }))
}

/// Creates (`exists` false) or updates the API destination: GET `endpoint` through the
/// connection, one call per second at most. Returns its ARN.
pub async fn put_destination(
    aws: &AwsCtx,
    name: &str,
    connection_arn: &str,
    endpoint: &str,
    exists: bool,
) -> Result<String, AwsError> {
    let description = "REDCap cron.php (redcap-operator)";
    if exists {
        let out = aws
            .call(
                aws.events
                    .update_api_destination()
                    .name(name)
                    .description(description)
                    .connection_arn(connection_arn)
                    .invocation_endpoint(endpoint)
                    .http_method(t::ApiDestinationHttpMethod::Get)
                    .invocation_rate_limit_per_second(INVOCATION_RATE_PER_SECOND)
                    .send(),
            )
            .await?;
        return Ok(out.api_destination_arn().unwrap_or_default().to_string());
    }
    let out = aws
        .call(
            aws.events
                .create_api_destination()
                .name(name)
                .description(description)
                .connection_arn(connection_arn)
                .invocation_endpoint(endpoint)
                .http_method(t::ApiDestinationHttpMethod::Get)
                .invocation_rate_limit_per_second(INVOCATION_RATE_PER_SECOND)
                .send(),
        )
        .await?;
    Ok(out.api_destination_arn().unwrap_or_default().to_string())
}

pub async fn delete_destination(aws: &AwsCtx, name: &str) -> Result<bool, AwsError> {
    aws.delete(aws.events.delete_api_destination().name(name).send()).await
}

/// The rule `name` on the default bus, with its tags.
pub async fn describe_rule(aws: &AwsCtx, name: &str) -> Result<Option<ObservedRule>, AwsError> {
    let Some(r) = aws.find(aws.events.describe_rule().name(name).send()).await? else {
        return Ok(None);
    };
    let arn = r.arn().unwrap_or_default().to_string();
    let tags = aws.call(aws.events.list_tags_for_resource().resource_arn(&arn).send()).await?;
    let mut set = TagSet::new();
    for tag in tags.tags() {
        set.insert(tag.key(), tag.value());
    }
    Ok(Some(ObservedRule {
        arn,
        expression: r.schedule_expression().map(str::to_string),
        state: r.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
        tags: set,
    }))
}

/// Creates or updates the schedule rule (enabled); tags only on create (`PutRule` tags
/// a new rule; an existing one keeps its own). Returns its ARN.
pub async fn put_rule(
    aws: &AwsCtx,
    name: &str,
    expression: &str,
    tags: Option<&TagSet>,
) -> Result<String, AwsError> {
    let tags = tags
        .map(|tags| {
            tags.iter()
                .map(|(k, v)| t::Tag::builder().key(k).value(v).build())
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(build("PutRule"))?;
    let out = aws
        .call(
            aws.events
                .put_rule()
                .name(name)
                .description("Calls REDCap's cron.php (redcap-operator)")
                .schedule_expression(expression)
                .state(t::RuleState::Enabled)
                .set_tags(tags)
                .send(),
        )
        .await?;
    Ok(out.rule_arn().unwrap_or_default().to_string())
}

/// The rule's targets.
pub async fn targets(aws: &AwsCtx, rule: &str) -> Result<Vec<ObservedTarget>, AwsError> {
    let Some(out) = aws.find(aws.events.list_targets_by_rule().rule(rule).send()).await? else {
        return Ok(Vec::new());
    };
    Ok(out
        .targets()
        .iter()
        .map(|t| ObservedTarget {
            id: t.id().to_string(),
            arn: t.arn().to_string(),
            role_arn: t.role_arn().map(str::to_string),
            max_retries: t.retry_policy().and_then(|r| r.maximum_retry_attempts()),
            max_age: t.retry_policy().and_then(|r| r.maximum_event_age_in_seconds()),
        })
        .collect())
}

/// Makes the API destination the rule's one target, without retries; removes others.
pub async fn put_target(
    aws: &AwsCtx,
    rule: &str,
    destination_arn: &str,
    role_arn: &str,
    others: &[String],
) -> Result<(), AwsError> {
    if !others.is_empty() {
        remove_targets(aws, rule, others).await?;
    }
    let target = t::Target::builder()
        .id(TARGET_ID)
        .arn(destination_arn)
        .role_arn(role_arn)
        .retry_policy(
            t::RetryPolicy::builder()
                .maximum_retry_attempts(MAX_RETRIES)
                .maximum_event_age_in_seconds(MAX_EVENT_AGE_SECONDS)
                .build(),
        )
        .build()
        .map_err(build("PutTargets"))?;
    let out = aws.call(aws.events.put_targets().rule(rule).targets(target).send()).await?;
    match out.failed_entries().first() {
        None => Ok(()),
        Some(f) => Err(AwsError::recoverable(
            "events",
            "PutTargets",
            f.error_code().unwrap_or("FailedEntry"),
            f.error_message().unwrap_or("the target was not put"),
        )),
    }
}

pub async fn remove_targets(aws: &AwsCtx, rule: &str, ids: &[String]) -> Result<(), AwsError> {
    aws.delete(aws.events.remove_targets().rule(rule).set_ids(Some(ids.to_vec())).send())
        .await
        .map(drop)
}

pub async fn delete_rule(aws: &AwsCtx, name: &str) -> Result<bool, AwsError> {
    aws.delete(aws.events.delete_rule().name(name).send()).await
}
