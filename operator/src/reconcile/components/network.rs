//! `network`: the VPC and everything in it, as one CloudFormation stack (sequences
//! `plan::network`, `plan::cfn::stack` and `aws::network`).
//!
//! Apply: render the stack, read it (one `DescribeStacks` when healthy), let the stack
//! state machine decide, make at most one CloudFormation write, and hand the stack's
//! outputs to the components that live in the VPC. Cleanup: delete the stack once
//! nothing lives in the network any more, follow it to the end, retry a failed deletion
//! with backoff. The stack holds no data, so it is deleted for every deletion policy.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::api::{ANNOTATION_RECONCILE_REQUESTED_AT, ComponentName, ComponentState, Outputs};
use crate::aws::{AwsError, network};
use crate::plan::cfn::attempt_salt;
use crate::plan::cfn::stack::{ApplyStep, DeleteStep, apply_step, delete_step};
use crate::plan::network::{NetworkOutputs, check_live_change, desired_network, stack_name};
use crate::reconcile::error::{ComponentError, aws_err, invalid};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::{Component, Walk};

const C: ComponentName = ComponentName::Network;

pub struct Network;

/// Look again this soon when the stack waits for the key's policy to apply.
const KEY_SETTLE: Duration = Duration::from_secs(5);

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

impl Component for Network {
    const NAME: ComponentName = C;
    const NEEDS: &'static [ComponentName] = &[ComponentName::EncryptionKey];

    /// Creates, updates or waits for the network stack.
    async fn apply(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let Some(key) = w.key_or_wait(l) else {
            return Ok(());
        };
        let env = w.env;
        let requested = env
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_RECONCILE_REQUESTED_AT))
            .map(String::as_str);
        let salt = attempt_salt(env.metadata.generation, requested);
        let want = desired_network(
            &w.id,
            &env.spec,
            &env.spec.aws.tags,
            &key.arn,
            &salt,
            w.aws.permissions_boundary_policy(),
        )
        .map_err(invalid(C))?;
        let seen = network::observe(w.aws, &want.stack.name, Some(&want.stack.hash))
            .await
            .map_err(aws_err(C))?;
        if let Some(stack) = &seen.stack
            && !stack.tags.is_owned_by(&w.id.uid)
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
        let deployed =
            seen.stack.as_ref().and_then(|s| NetworkOutputs::from_stack_outputs(&s.outputs).ok());
        if let Some(deployed) = &deployed {
            check_live_change(&want, deployed).map_err(invalid(C))?;
            publish(&mut w.outputs, deployed);
        }
        l.identify(Some(want.stack.name.clone()), seen.stack.as_ref().map(|s| s.stack_id.clone()));
        w.network = deployed;

        let (step, requeue) = apply_step(&want.stack, seen.stack.as_ref(), &seen.history, now());
        let name = &want.stack.name;
        let busy = crate::plan::cfn::stack::BUSY_REQUEUE;
        match step {
            ApplyStep::InSync => {}
            ApplyStep::Wait { reason, creating } => {
                let after = requeue.unwrap_or(busy);
                if creating {
                    l.creating(reason, after);
                } else {
                    l.busy(reason, after);
                }
            }
            ApplyStep::Blocked { code, message } => {
                let operation =
                    if code == "StackCreateFailed" { "CreateStack" } else { "UpdateStack" };
                return Err(blocked(operation, code, with_hint(message, &env.spec)));
            }
            ApplyStep::Create if !l.apply() => l.missing(format!("stack {name} not created yet")),
            ApplyStep::Update if !l.apply() => {
                l.drift(format!("stack {name} differs from the spec"));
            }
            ApplyStep::DeleteFailedCreate { reason } | ApplyStep::RetryDelete { reason }
                if !l.apply() =>
            {
                l.missing(reason);
            }
            ApplyStep::Create | ApplyStep::Update if key.just_changed => {
                let what = "waiting a moment for the encryption key's policy to apply";
                if seen.stack.is_some() {
                    l.busy(what, KEY_SETTLE);
                } else {
                    l.pending(what);
                    l.wait_for(KEY_SETTLE);
                }
            }
            ApplyStep::Create => {
                network::create(w.aws, &want.stack).await.map_err(aws_err(C))?;
                l.created(format!("creating stack {name}"));
                l.wait_for(busy);
            }
            ApplyStep::Update => {
                network::update(w.aws, &want.stack).await.map_err(aws_err(C))?;
                l.mark_written();
                l.busy(format!("updating stack {name} to the spec"), busy);
            }
            ApplyStep::DeleteFailedCreate { reason } | ApplyStep::RetryDelete { reason } => {
                let token = format!("redcap-delete-{}-{salt}", seen.history.delete_failures);
                network::delete(w.aws, name, &token).await.map_err(aws_err(C))?;
                l.mark_written();
                l.creating(reason, requeue.unwrap_or(busy));
            }
        }
        Ok(())
    }

    /// Deletes the network stack and follows the deletion. While a component that lives
    /// in the network is not deleted, the stack waits for it (`Deleting`), or is kept
    /// when that component is kept (its subnets and security groups are still in use).
    async fn cleanup(w: &mut Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
        let name = stack_name(&w.id.environment_id());
        let seen = network::observe(w.aws, &name, None).await.map_err(aws_err(C))?;
        l.identify(Some(name.clone()), seen.stack.as_ref().map(|s| s.stack_id.clone()));
        match w.network_user() {
            Some((other, ComponentState::Retained)) if seen.stack.is_some() => {
                l.retained(format!(
                    "stack {name} kept: {other} is kept and still uses its subnets and security groups"
                ));
                return Ok(());
            }
            Some((other, _)) if seen.stack.is_some() => {
                l.deleting(
                    format!("waiting for {other} to be deleted first"),
                    Some(crate::plan::cfn::stack::BUSY_REQUEUE),
                );
                return Ok(());
            }
            _ => {}
        }
        let (step, requeue) =
            delete_step(&name, seen.stack.as_ref(), &w.id.uid, &seen.history, now());
        match step {
            DeleteStep::Gone => l.note(format!("stack {name} is gone")),
            DeleteStep::NotOurs { reason } => l.note(reason),
            DeleteStep::Wait { reason } => l.deleting(reason, requeue),
            DeleteStep::Delete => {
                let token = format!("redcap-delete-{}", seen.history.delete_failures);
                network::delete(w.aws, &name, &token).await.map_err(aws_err(C))?;
                l.mark_written();
                l.deleting(
                    match &seen.history.failure {
                        Some(f) if seen.history.delete_failures > 0 => format!(
                            "deleting stack {name} again after {} failed attempt(s): {f}",
                            seen.history.delete_failures
                        ),
                        _ => format!("deleting stack {name}"),
                    },
                    requeue,
                );
            }
        }
        Ok(())
    }
}
