//! Autoscaling of the ECS service (kind `EcsFargate`): a scalable target with the spec's
//! bounds and three target-tracking policies, on CPU, memory and load-balancer requests
//! per task, as the seed had (step: plan; pure).
//!
//! Application Auto Scaling owns the service's desired count: the operator sets it only
//! when it creates the service.

use crate::api::ScalingSpec;
use crate::plan::Describe;

/// Seconds after a scale-out before the next one (the seed's 300 s).
pub const SCALE_OUT_COOLDOWN_SECONDS: i32 = 300;
/// Seconds after a scale-in before the next one.
pub const SCALE_IN_COOLDOWN_SECONDS: i32 = 300;

/// `service/<cluster>/<service>`.
pub fn resource_id(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
}

/// The scalable target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredScalableTarget {
    pub resource_id: String,
    pub min: i32,
    pub max: i32,
}

/// What `DescribeScalableTargets` says (`None`: not registered).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedScalableTarget {
    pub min: i32,
    pub max: i32,
}

/// One target-tracking policy.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredPolicy {
    /// `<environment_id>-cpu`, `-memory`, `-requests`.
    pub name: String,
    /// `ECSServiceAverageCPUUtilization`, `ECSServiceAverageMemoryUtilization`,
    /// `ALBRequestCountPerTarget`.
    pub metric: &'static str,
    /// The target group's label (requests per target only).
    pub resource_label: Option<String>,
    pub target: f64,
}

/// What `DescribeScalingPolicies` says about one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedPolicy {
    pub name: String,
    pub metric: Option<String>,
    pub resource_label: Option<String>,
    pub target: Option<f64>,
    pub scale_out_cooldown: Option<i32>,
    pub scale_in_cooldown: Option<i32>,
}

pub fn scalable_target(
    cluster: &str,
    service: &str,
    scaling: &ScalingSpec,
) -> DesiredScalableTarget {
    DesiredScalableTarget {
        resource_id: resource_id(cluster, service),
        min: scaling.min_tasks as i32,
        max: scaling.max_tasks as i32,
    }
}

/// The three policies; without the target group label (not known yet) the requests
/// policy waits.
pub fn policies(
    environment_id: &str,
    scaling: &ScalingSpec,
    resource_label: Option<&str>,
) -> Vec<DesiredPolicy> {
    let mut out = vec![
        DesiredPolicy {
            name: format!("{environment_id}-cpu"),
            metric: "ECSServiceAverageCPUUtilization",
            resource_label: None,
            target: f64::from(scaling.cpu_target),
        },
        DesiredPolicy {
            name: format!("{environment_id}-memory"),
            metric: "ECSServiceAverageMemoryUtilization",
            resource_label: None,
            target: f64::from(scaling.memory_target),
        },
    ];
    if let Some(label) = resource_label {
        out.push(DesiredPolicy {
            name: format!("{environment_id}-requests"),
            metric: "ALBRequestCountPerTarget",
            resource_label: Some(label.to_string()),
            target: f64::from(scaling.requests_per_target),
        });
    }
    out
}

/// A policy to write (`PutScalingPolicy` is an upsert by name).
#[derive(Clone, Debug, PartialEq)]
pub enum ScalingChange {
    Target,
    Policy(DesiredPolicy),
}

impl Describe for ScalingChange {
    fn describe(&self) -> String {
        match self {
            ScalingChange::Target => "scalable target bounds".into(),
            ScalingChange::Policy(p) => format!("policy {}", p.name),
        }
    }
}

/// What differs: the target's bounds, and each policy that is missing or differs.
pub fn scaling_changes(
    target: &DesiredScalableTarget,
    seen_target: Option<&ObservedScalableTarget>,
    policies: &[DesiredPolicy],
    seen_policies: &[ObservedPolicy],
) -> Vec<ScalingChange> {
    let mut changes = Vec::new();
    if seen_target.is_none_or(|t| t.min != target.min || t.max != target.max) {
        changes.push(ScalingChange::Target);
    }
    for want in policies {
        let same = seen_policies.iter().any(|p| {
            p.name == want.name
                && p.metric.as_deref() == Some(want.metric)
                && p.resource_label == want.resource_label
                && p.target == Some(want.target)
                && p.scale_out_cooldown == Some(SCALE_OUT_COOLDOWN_SECONDS)
                && p.scale_in_cooldown == Some(SCALE_IN_COOLDOWN_SECONDS)
        });
        if !same {
            changes.push(ScalingChange::Policy(want.clone()));
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(p: &DesiredPolicy) -> ObservedPolicy {
        ObservedPolicy {
            name: p.name.clone(),
            metric: Some(p.metric.to_string()),
            resource_label: p.resource_label.clone(),
            target: Some(p.target),
            scale_out_cooldown: Some(SCALE_OUT_COOLDOWN_SECONDS),
            scale_in_cooldown: Some(SCALE_IN_COOLDOWN_SECONDS),
        }
    }

    #[test]
    fn a_new_cpu_target_rewrites_exactly_one_policy() {
        let scaling = ScalingSpec::default();
        let target = scalable_target("rc-x", "redcap", &scaling);
        assert_eq!(target.resource_id, "service/rc-x/redcap");
        let want = policies("rc-x", &scaling, Some("app/a/1/targetgroup/t/2"));
        assert_eq!(want.len(), 3);
        let seen: Vec<ObservedPolicy> = want.iter().map(observed).collect();
        let bounds = ObservedScalableTarget { min: 1, max: 2 };
        assert!(scaling_changes(&target, Some(&bounds), &want, &seen).is_empty());

        let more = ScalingSpec { cpu_target: 50, ..ScalingSpec::default() };
        let next = policies("rc-x", &more, Some("app/a/1/targetgroup/t/2"));
        let changes = scaling_changes(&target, Some(&bounds), &next, &seen);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].describe(), "policy rc-x-cpu");
    }

    #[test]
    fn an_unregistered_target_is_registered_and_requests_wait_for_the_label() {
        let scaling = ScalingSpec::default();
        let target = scalable_target("rc-x", "redcap", &scaling);
        let want = policies("rc-x", &scaling, None);
        assert_eq!(want.len(), 2);
        let changes = scaling_changes(&target, None, &want, &[]);
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[0], ScalingChange::Target);
    }
}
