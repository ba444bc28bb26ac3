//! CloudFormation stack calls shared by the stack-based components (step: observe /
//! create / update / delete; the network today, the maintenance server later).
//!
//! Decisions (whether to write, what a status means) are made in `plan::cfn::stack`;
//! this module only calls AWS and turns answers into plan values. Every call waits for
//! the CloudFormation budget first. A steady-state observation is one `DescribeStacks`;
//! events are read only when the plan asks for them (failure states).

use aws_sdk_cloudformation::types::{Capability, OnFailure, Tag};

use crate::plan::cfn::DesiredStack;
use crate::plan::cfn::stack::{ObservedStack, StackEvent};
use crate::plan::tags::TagSet;

use super::{AwsCtx, AwsError, ErrorClass};

/// Events read per look (one page, newest first): enough for the latest operation.
const EVENT_PAGE: usize = 100;

/// CloudFormation answers most conflicts with `ValidationError` (terminal in the common
/// list); the ones that pass by themselves (a stack busy with another operation, a stack
/// that just went away) are recoverable, and "does not exist" is the not-found sentinel.
/// The service registry calls this for every CloudFormation error.
pub fn refine(e: &mut AwsError) {
    if e.code == "ValidationError" {
        if e.message.contains("does not exist") {
            e.code = "NotFound".to_string();
            e.not_found = true;
            e.class = ErrorClass::Recoverable;
        } else if is_busy_message(&e.message) {
            e.class = ErrorClass::Recoverable;
        }
    }
}

/// "Stack:… is in UPDATE_IN_PROGRESS state and can not be updated." and its kin.
pub fn is_busy_message(message: &str) -> bool {
    message.contains("_IN_PROGRESS state")
        || message.contains("can not be updated")
        || message.contains("cannot be updated")
        || message.contains("cannot be deleted while in status")
}

fn cfn_tags(tags: &TagSet) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// The stack called `name`, or `None` when there is none (deleted stacks are not found
/// by name).
pub async fn describe(aws: &AwsCtx, name: &str) -> Result<Option<ObservedStack>, AwsError> {
    let Some(out) = aws.find(aws.cloudformation.describe_stacks().stack_name(name).send()).await?
    else {
        return Ok(None);
    };
    let Some(stack) = out.stacks().first() else {
        return Ok(None);
    };
    Ok(Some(ObservedStack {
        stack_id: stack.stack_id().unwrap_or(name).to_string(),
        status: stack.stack_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        reason: stack.stack_status_reason().map(str::to_string),
        tags: stack
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect(),
        outputs: stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
            .collect(),
    }))
}

/// The newest events of a stack (by id, so a deleted stack's events can be read too).
pub async fn events(aws: &AwsCtx, stack_id: &str) -> Result<Vec<StackEvent>, AwsError> {
    let out =
        aws.call(aws.cloudformation.describe_stack_events().stack_name(stack_id).send()).await?;
    Ok(out
        .stack_events()
        .iter()
        .take(EVENT_PAGE)
        .map(|e| StackEvent {
            is_stack: e.resource_type() == Some("AWS::CloudFormation::Stack"),
            logical_id: e.logical_resource_id().unwrap_or_default().to_string(),
            resource_type: e.resource_type().unwrap_or_default().to_string(),
            status: e.resource_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            reason: e.resource_status_reason().map(str::to_string),
            token: e.client_request_token().map(str::to_string),
            at: e.timestamp().map(|t| t.secs()).unwrap_or_default(),
        })
        .collect())
}

/// Creates the stack (rollback on failure, named IAM resources allowed).
pub async fn create(aws: &AwsCtx, want: &DesiredStack) -> Result<(), AwsError> {
    aws.run(
        aws.cloudformation
            .create_stack()
            .stack_name(&want.name)
            .template_body(&want.body)
            .set_tags(Some(cfn_tags(&want.tags)))
            .capabilities(Capability::CapabilityNamedIam)
            .on_failure(OnFailure::Rollback)
            .client_request_token(&want.token)
            .send(),
    )
    .await
}

/// Updates the stack to the desired template and tags. "No updates are to be
/// performed" cannot happen when the hashes differ (the hash output changes with them);
/// should it anyway, the stack already holds the content, which is success.
pub async fn update(aws: &AwsCtx, want: &DesiredStack) -> Result<(), AwsError> {
    let done = aws
        .call(
            aws.cloudformation
                .update_stack()
                .stack_name(&want.name)
                .template_body(&want.body)
                .set_tags(Some(cfn_tags(&want.tags)))
                .capabilities(Capability::CapabilityNamedIam)
                .client_request_token(&want.token)
                .send(),
        )
        .await;
    match done {
        Err(e)
            if e.code == "ValidationError"
                && e.message.contains("No updates are to be performed") =>
        {
            Ok(())
        }
        Err(e) => Err(e),
        Ok(_) => Ok(()),
    }
}

/// Starts the deletion of the stack `name` (names are unique per environment, and the
/// caller checked the stack is this environment's). A stack already gone is fine.
pub async fn delete(aws: &AwsCtx, name: &str, token: &str) -> Result<(), AwsError> {
    aws.delete(
        aws.cloudformation.delete_stack().stack_name(name).client_request_token(token).send(),
    )
    .await
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_messages_are_recognised() {
        assert!(is_busy_message(
            "Stack:arn:aws:cloudformation:eu-west-1:1:stack/x/1 is in UPDATE_IN_PROGRESS state and can not be updated."
        ));
        assert!(is_busy_message(
            "Stack [x] cannot be deleted while in status UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
        ));
        assert!(!is_busy_message(
            "Template error: Fn::Select cannot select nonexistent value at index 2"
        ));
    }
}
