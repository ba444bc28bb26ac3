//! Whether REDCap answers, from what AWS reports (step: plan; pure).
//!
//! ECS (both kinds): the newest deployment runs the revision the spec asks for, its
//! rollout has completed, and the load balancer's health check on `/healthcheck` passes
//! for at least one target. App Runner: the service is `RUNNING` on the image the spec
//! asks for and its last operation succeeded. A deployment that failed (the circuit
//! breaker stopped it, or rolled it back; App Runner rolled back) is a failure with
//! AWS's reason; anything else is progress with the step in words.

use crate::api::{DeploymentState, DeploymentStatus};

use super::fargate::ObservedService;

/// What the compute component reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    Progressing(String),
    Failed(String),
}

/// The load balancer's view of the service's targets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetHealth {
    pub healthy: i32,
    /// `initial` (health checks not passed yet) and `unhealthy`.
    pub not_yet: i32,
    pub unhealthy: i32,
    pub draining: i32,
}

impl TargetHealth {
    /// Counts ELBv2 target states (`healthy`, `initial`, `unhealthy`, `draining`, ...).
    pub fn count<'a>(states: impl IntoIterator<Item = &'a str>) -> Self {
        let mut t = TargetHealth::default();
        for s in states {
            match s {
                "healthy" => t.healthy += 1,
                "initial" => t.not_yet += 1,
                "unhealthy" => t.unhealthy += 1,
                "draining" => t.draining += 1,
                _ => {}
            }
        }
        t
    }
}

/// The readiness of an ECS service that should run `revision` (a task definition ARN).
pub fn ecs_service(seen: &ObservedService, revision: &str, targets: TargetHealth) -> Readiness {
    if seen.status != "ACTIVE" {
        return Readiness::Progressing(format!("the service is {}", seen.status));
    }
    // A deployment of the revision that failed, still listed or rolled back from.
    if let Some(failed) = seen
        .deployments
        .iter()
        .find(|d| d.task_definition == revision && d.rollout_state == "FAILED")
    {
        return Readiness::Failed(failed_reason(failed.rollout_reason.as_deref()));
    }
    let Some(primary) = seen.primary() else {
        return Readiness::Progressing("waiting for the service's first deployment".into());
    };
    if primary.task_definition != revision {
        if primary.rollout_reason.as_deref().is_some_and(|r| r.contains("rolling back")) {
            return Readiness::Failed(failed_reason(primary.rollout_reason.as_deref()));
        }
        return Readiness::Progressing(format!(
            "waiting for the deployment of {}",
            super::fargate::family_revision(revision)
        ));
    }
    match primary.rollout_state.as_str() {
        "FAILED" => Readiness::Failed(failed_reason(primary.rollout_reason.as_deref())),
        "COMPLETED" if targets.healthy > 0 => Readiness::Ready,
        "COMPLETED" => Readiness::Progressing(format!(
            "deployment {} completed; waiting for a target to pass the health check ({})",
            primary.id,
            target_words(targets)
        )),
        _ => Readiness::Progressing(format!(
            "deployment {} in progress: {} of {} tasks running; {}",
            primary.id,
            primary.running,
            primary.desired,
            target_words(targets)
        )),
    }
}

fn failed_reason(reason: Option<&str>) -> String {
    match reason {
        Some(r) if !r.is_empty() => format!("the deployment failed: {r}"),
        _ => "the deployment failed".into(),
    }
}

fn target_words(t: TargetHealth) -> String {
    format!(
        "targets: {} healthy, {} checking, {} unhealthy, {} draining",
        t.healthy, t.not_yet, t.unhealthy, t.draining
    )
}

/// The status of the newest ECS deployment.
pub fn ecs_deployment(seen: &ObservedService, readiness: &Readiness) -> Option<DeploymentStatus> {
    let primary = seen.primary()?;
    let state = match readiness {
        Readiness::Failed(_) => DeploymentState::Failed,
        _ => match primary.rollout_state.as_str() {
            "COMPLETED" => DeploymentState::Completed,
            "FAILED" => DeploymentState::Failed,
            _ => DeploymentState::InProgress,
        },
    };
    Some(DeploymentStatus {
        id: Some(primary.id.clone()),
        state,
        reason: primary.rollout_reason.clone().filter(|r| !r.is_empty()),
    })
}

/// What `DescribeService` and `ListOperations` say about an App Runner service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedAppRunner {
    /// `CREATE_FAILED`, `RUNNING`, `DELETED`, `DELETE_FAILED`, `PAUSED`,
    /// `OPERATION_IN_PROGRESS`.
    pub status: String,
    pub image: String,
    /// The newest operation: its id, type and status (`PENDING`, `IN_PROGRESS`,
    /// `FAILED`, `SUCCEEDED`, `ROLLBACK_IN_PROGRESS`, `ROLLBACK_FAILED`,
    /// `ROLLBACK_SUCCEEDED`).
    pub last_operation: Option<(String, String, String)>,
}

/// The readiness of an App Runner service that should run `image`.
pub fn app_runner(seen: &ObservedAppRunner, image: &str) -> Readiness {
    let op = seen.last_operation.as_ref();
    match seen.status.as_str() {
        "CREATE_FAILED" => {
            return Readiness::Failed("App Runner could not create the service".into());
        }
        "PAUSED" => return Readiness::Progressing("the service is paused".into()),
        "OPERATION_IN_PROGRESS" => {
            let what =
                op.map_or("an operation".to_string(), |(id, kind, _)| format!("{kind} {id}"));
            return Readiness::Progressing(format!("App Runner runs {what}"));
        }
        "RUNNING" => {}
        other => return Readiness::Progressing(format!("the service is {other}")),
    }
    if let Some((id, kind, status)) = op
        && (status.starts_with("ROLLBACK") || status == "FAILED")
    {
        return Readiness::Failed(format!(
            "{kind} {id} ended {status}: the service still runs its previous image"
        ));
    }
    if seen.image != image {
        return Readiness::Progressing("waiting for the deployment of the new image".into());
    }
    Readiness::Ready
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::compute::fargate::ObservedDeployment;

    const REV: &str = "arn:aws:ecs:eu-west-1:1:task-definition/rc-x:4";
    const OLD: &str = "arn:aws:ecs:eu-west-1:1:task-definition/rc-x:3";

    fn service(deployments: Vec<ObservedDeployment>) -> ObservedService {
        ObservedService { status: "ACTIVE".into(), deployments, ..ObservedService::default() }
    }

    fn deployment(td: &str, status: &str, rollout: &str, reason: &str) -> ObservedDeployment {
        ObservedDeployment {
            id: format!("ecs-svc/{}", td.len()),
            status: status.into(),
            task_definition: td.into(),
            rollout_state: rollout.into(),
            rollout_reason: Some(reason.into()),
            desired: 2,
            running: 1,
            ..ObservedDeployment::default()
        }
    }

    fn healthy(n: i32) -> TargetHealth {
        TargetHealth { healthy: n, ..TargetHealth::default() }
    }

    #[test]
    fn ready_needs_the_revision_completed_and_a_healthy_target() {
        let done = service(vec![deployment(REV, "PRIMARY", "COMPLETED", "")]);
        assert_eq!(ecs_service(&done, REV, healthy(1)), Readiness::Ready);
        assert!(matches!(ecs_service(&done, REV, healthy(0)), Readiness::Progressing(_)));
        let older = service(vec![deployment(OLD, "PRIMARY", "COMPLETED", "")]);
        assert!(matches!(ecs_service(&older, REV, healthy(1)), Readiness::Progressing(_)));
    }

    #[test]
    fn a_rolling_deployment_says_how_far_it_is() {
        let rolling = service(vec![
            deployment(REV, "PRIMARY", "IN_PROGRESS", ""),
            deployment(OLD, "ACTIVE", "COMPLETED", ""),
        ]);
        let Readiness::Progressing(m) = ecs_service(&rolling, REV, healthy(1)) else {
            panic!("progressing")
        };
        assert!(m.contains("1 of 2 tasks running"), "{m}");
    }

    #[test]
    fn a_failed_or_rolled_back_deployment_is_a_failure_with_the_reason() {
        let failed = service(vec![deployment(
            REV,
            "PRIMARY",
            "FAILED",
            "ECS deployment circuit breaker: tasks failed to start.",
        )]);
        let Readiness::Failed(m) = ecs_service(&failed, REV, healthy(1)) else { panic!("failed") };
        assert!(m.contains("tasks failed to start"), "{m}");

        let rolled_back = service(vec![deployment(
            OLD,
            "PRIMARY",
            "IN_PROGRESS",
            "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1",
        )]);
        assert!(matches!(ecs_service(&rolled_back, REV, healthy(1)), Readiness::Failed(_)));
        assert_eq!(
            ecs_deployment(&rolled_back, &ecs_service(&rolled_back, REV, healthy(1)))
                .map(|d| d.state),
            Some(DeploymentState::Failed)
        );
    }

    #[test]
    fn app_runner_is_ready_on_the_image_and_a_rollback_fails() {
        let mut seen = ObservedAppRunner {
            status: "RUNNING".into(),
            image: "r@sha256:1".into(),
            last_operation: Some(("op".into(), "UPDATE_SERVICE".into(), "SUCCEEDED".into())),
        };
        assert_eq!(app_runner(&seen, "r@sha256:1"), Readiness::Ready);
        seen.last_operation =
            Some(("op".into(), "UPDATE_SERVICE".into(), "ROLLBACK_SUCCEEDED".into()));
        assert!(matches!(app_runner(&seen, "r@sha256:2"), Readiness::Failed(_)));
        seen.status = "OPERATION_IN_PROGRESS".into();
        assert!(matches!(app_runner(&seen, "r@sha256:2"), Readiness::Progressing(_)));
    }
}
