//! The network component in the walk (step: reconcile; sequences `plan::network`,
//! `plan::cfn::stack` and `aws::network` for one pass). No AWS client code, no status
//! writes.
//!
//! Apply: render the stack, read it (one `DescribeStacks` when healthy), let the stack
//! state machine decide, make at most one CloudFormation write, and hand the stack's
//! outputs to the components that live in the VPC. Cleanup: delete the stack once
//! nothing lives in the network any more, follow it to the end, retry a failed deletion
//! with backoff. The stack holds no data, so it is deleted for every deletion policy.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::api::RedcapEnvironment;
use crate::api::{ANNOTATION_RECONCILE_REQUESTED_AT, ComponentName, ComponentState, Outputs};
use crate::aws::{AwsCtx, AwsError, network};
use crate::plan::EnvIdentity;
use crate::plan::cfn::attempt_salt;
use crate::plan::cfn::stack::{ApplyStep, DeleteStep, apply_step, delete_step};
use crate::plan::network::{NetworkOutputs, check_live_change, desired_network, stack_name};

use super::super::report::ComponentReport;
use super::{ComponentError, WriteMode, aws_err, invalid, report};

const C: ComponentName = ComponentName::Network;

/// The encryption key as the network needs it.
#[derive(Clone, Copy, Debug)]
pub struct KeyForNetwork<'a> {
    /// `None` until the key exists.
    pub arn: Option<&'a str>,
    /// The key (or its policy) was written in this pass: wait one pass before writing
    /// the stack, whose log group uses the key.
    pub just_changed: bool,
}

/// Look again this soon when the stack waits for the key's policy to apply.
const KEY_SETTLE: Duration = Duration::from_secs(5);

/// What the network step produced for the rest of the walk.
#[derive(Debug)]
pub struct NetworkStep {
    pub report: ComponentReport,
    /// The deployed network, for the components that live in it (absent until the
    /// first create completes).
    pub outputs: Option<NetworkOutputs>,
    pub requeue: Option<Duration>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

fn blocked(operation: &'static str, code: &str, message: String) -> ComponentError {
    ComponentError::Aws {
        component: C,
        source: AwsError::terminal("cloudformation", operation, code, message),
    }
}

/// Adds what a failure most likely means for the spec, when the cause is recognisable.
fn with_hint(message: String, spec: &crate::api::RedcapEnvironmentSpec) -> String {
    if message.contains("Fn::Select cannot select nonexistent value") {
        format!(
            "{message} (spec.network.availabilityZones is {}, more than the availability zones CloudFormation offers in {} to this account: Fn::GetAZs lists only zones with a default subnet when the account has a default VPC)",
            spec.network.availability_zones, spec.aws.region
        )
    } else {
        message
    }
}

/// Publishes the outputs users need (the VPC and the egress IPs they allow-list).
fn publish(outputs: &mut Outputs, network: &NetworkOutputs) {
    outputs.vpc_id = Some(network.vpc_id.clone());
    outputs.nat_egress_ips = network.nat_egress_ips.clone();
}

/// Creates, updates or waits for the network stack.
pub async fn apply_network(
    aws: &AwsCtx,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
    mode: WriteMode,
    key: KeyForNetwork<'_>,
    outputs: &mut Outputs,
) -> Result<NetworkStep, ComponentError> {
    let Some(key_arn) = key.arn else {
        return Ok(NetworkStep {
            report: report(C, ComponentState::Pending, "waiting for the encryption key"),
            outputs: None,
            requeue: None,
        });
    };
    let requested = env
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_RECONCILE_REQUESTED_AT))
        .map(String::as_str);
    let salt = attempt_salt(env.metadata.generation, requested);
    let want =
        desired_network(id, &env.spec, &env.spec.aws.tags, key_arn, &salt).map_err(invalid(C))?;
    let seen = network::observe(aws, &want.stack.name, Some(&want.stack.hash))
        .await
        .map_err(aws_err(C))?;
    if let Some(stack) = &seen.stack
        && !stack.tags.is_owned_by(&id.uid)
    {
        return Err(blocked(
            "DescribeStacks",
            "StackNotOwned",
            format!(
                "stack {} exists but is not tagged as owned by this environment; it is left untouched",
                want.stack.name
            ),
        ));
    }
    let deployed = seen
        .stack
        .as_ref()
        .and_then(|s| NetworkOutputs::from_stack_outputs(&s.outputs).ok());
    if let Some(deployed) = &deployed {
        check_live_change(&want, deployed).map_err(invalid(C))?;
        publish(outputs, deployed);
    }

    let (step, requeue) = apply_step(&want.stack, seen.stack.as_ref(), &seen.history, now());
    let apply = mode == WriteMode::Apply;
    let stack_id = seen.stack.as_ref().map(|s| s.stack_id.clone());
    let (state, message, wrote, requeue) = match step {
        ApplyStep::InSync => (ComponentState::Ready, String::new(), false, requeue),
        ApplyStep::Wait { reason, creating } => {
            let state = if creating {
                ComponentState::Creating
            } else {
                ComponentState::Updating
            };
            (state, reason, false, requeue)
        }
        ApplyStep::Blocked { code, message } => {
            let operation = if code == "StackCreateFailed" {
                "CreateStack"
            } else {
                "UpdateStack"
            };
            return Err(blocked(operation, code, with_hint(message, &env.spec)));
        }
        ApplyStep::Create if !apply => (
            ComponentState::Pending,
            format!("stack {} not created yet (suspended)", want.stack.name),
            false,
            None,
        ),
        ApplyStep::Update if !apply => (
            ComponentState::Updating,
            format!(
                "stack {} differs from the spec, not updated while suspended",
                want.stack.name
            ),
            false,
            None,
        ),
        ApplyStep::DeleteFailedCreate { reason } | ApplyStep::RetryDelete { reason } if !apply => (
            ComponentState::Creating,
            format!("{reason} (not done while suspended)"),
            false,
            None,
        ),
        ApplyStep::Create | ApplyStep::Update if key.just_changed => (
            if seen.stack.is_some() {
                ComponentState::Updating
            } else {
                ComponentState::Pending
            },
            "waiting a moment for the encryption key's policy to apply".to_string(),
            false,
            Some(KEY_SETTLE),
        ),
        ApplyStep::Create => {
            network::create(aws, &want.stack)
                .await
                .map_err(aws_err(C))?;
            (
                ComponentState::Creating,
                format!("creating stack {}", want.stack.name),
                true,
                Some(crate::plan::cfn::stack::BUSY_REQUEUE),
            )
        }
        ApplyStep::Update => {
            network::update(aws, &want.stack)
                .await
                .map_err(aws_err(C))?;
            (
                ComponentState::Updating,
                format!("updating stack {} to the spec", want.stack.name),
                true,
                Some(crate::plan::cfn::stack::BUSY_REQUEUE),
            )
        }
        ApplyStep::DeleteFailedCreate { reason } | ApplyStep::RetryDelete { reason } => {
            let token = format!("redcap-delete-{}-{salt}", seen.history.delete_failures);
            network::delete(aws, &want.stack.name, &token)
                .await
                .map_err(aws_err(C))?;
            (ComponentState::Creating, reason, true, requeue)
        }
    };
    let mut r = report(C, state, message);
    r.id = Some(want.stack.name.clone());
    r.arn = stack_id;
    r.wrote = wrote;
    Ok(NetworkStep {
        report: r,
        outputs: deployed,
        requeue,
    })
}

/// Deletes the network stack and follows the deletion. `blocked_by` names a component
/// that still lives in the network: the stack waits for it (`Deleting`), or is kept when
/// that component is kept (its subnets and security groups are still in use).
pub async fn cleanup_network(
    aws: &AwsCtx,
    id: &EnvIdentity,
    blocked_by: Option<(ComponentName, ComponentState)>,
) -> Result<(ComponentReport, Option<Duration>), ComponentError> {
    let name = stack_name(&id.environment_id());
    let seen = network::observe(aws, &name, None)
        .await
        .map_err(aws_err(C))?;
    let mut r = report(C, ComponentState::Deleted, "");
    r.id = Some(name.clone());
    r.arn = seen.stack.as_ref().map(|s| s.stack_id.clone());
    match blocked_by {
        Some((other, ComponentState::Retained)) if seen.stack.is_some() => {
            r.state = ComponentState::Retained;
            r.message = Some(format!(
                "stack {name} kept: {other} is kept and still uses its subnets and security groups"
            ));
            return Ok((r, None));
        }
        Some((other, _)) if seen.stack.is_some() => {
            r.state = ComponentState::Deleting;
            r.message = Some(format!("waiting for {other} to be deleted first"));
            return Ok((r, Some(crate::plan::cfn::stack::BUSY_REQUEUE)));
        }
        _ => {}
    }
    let (step, requeue) = delete_step(&name, seen.stack.as_ref(), &id.uid, &seen.history, now());
    match step {
        DeleteStep::Gone => r.message = Some(format!("stack {name} is gone")),
        DeleteStep::NotOurs { reason } => r.message = Some(reason),
        DeleteStep::Wait { reason } => {
            r.state = ComponentState::Deleting;
            r.message = Some(reason);
        }
        DeleteStep::Delete => {
            let token = format!("redcap-delete-{}", seen.history.delete_failures);
            network::delete(aws, &name, &token)
                .await
                .map_err(aws_err(C))?;
            r.state = ComponentState::Deleting;
            r.wrote = true;
            r.message = Some(match &seen.history.failure {
                Some(f) if seen.history.delete_failures > 0 => format!(
                    "deleting stack {name} again after {} failed attempt(s): {f}",
                    seen.history.delete_failures
                ),
                _ => format!("deleting stack {name}"),
            });
        }
    }
    Ok((r, requeue))
}
