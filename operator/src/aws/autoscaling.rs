//! Application Auto Scaling of the ECS service: its scalable target and target-tracking
//! policies (step: observe / write; decisions are in `plan::compute::scaling`).
//!
//! Both writes are upserts. Application Auto Scaling creates and owns the CloudWatch
//! alarms of the policies; the operator never touches them. Deregistering the target
//! deletes its policies.

use aws_sdk_applicationautoscaling::types::{
    MetricType, PolicyType, PredefinedMetricSpecification, ScalableDimension, ServiceNamespace,
    TargetTrackingScalingPolicyConfiguration,
};

use crate::plan::compute::scaling::{
    DesiredPolicy, DesiredScalableTarget, ObservedPolicy, ObservedScalableTarget,
    SCALE_IN_COOLDOWN_SECONDS, SCALE_OUT_COOLDOWN_SECONDS, ScalingChange,
};

use super::{AwsCtx, AwsError};

const SERVICE: &str = "application-autoscaling";

/// The scalable target of `resource_id`, or `None` when not registered.
pub async fn observe_target(
    aws: &AwsCtx,
    resource_id: &str,
) -> Result<Option<ObservedScalableTarget>, AwsError> {
    let out = aws
        .call(
            aws.autoscaling
                .describe_scalable_targets()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_ids(resource_id)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .send(),
        )
        .await?;
    Ok(out
        .scalable_targets()
        .iter()
        .find(|t| t.resource_id() == resource_id)
        .map(|t| ObservedScalableTarget { min: t.min_capacity(), max: t.max_capacity() }))
}

/// The policies of `resource_id`.
pub async fn observe_policies(
    aws: &AwsCtx,
    resource_id: &str,
) -> Result<Vec<ObservedPolicy>, AwsError> {
    let out = aws
        .call(
            aws.autoscaling
                .describe_scaling_policies()
                .service_namespace(ServiceNamespace::Ecs)
                .resource_id(resource_id)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .send(),
        )
        .await?;
    Ok(out
        .scaling_policies()
        .iter()
        .map(|p| {
            let tt = p.target_tracking_scaling_policy_configuration();
            let metric = tt.and_then(|t| t.predefined_metric_specification());
            ObservedPolicy {
                name: p.policy_name().to_string(),
                metric: metric.map(|m| m.predefined_metric_type().as_str().to_string()),
                resource_label: metric.and_then(|m| m.resource_label()).map(str::to_string),
                target: tt.map(|t| t.target_value()),
                scale_out_cooldown: tt.and_then(|t| t.scale_out_cooldown()),
                scale_in_cooldown: tt.and_then(|t| t.scale_in_cooldown()),
            }
        })
        .collect())
}

async fn register(aws: &AwsCtx, target: &DesiredScalableTarget) -> Result<(), AwsError> {
    aws.run(
        aws.autoscaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(&target.resource_id)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .min_capacity(target.min)
            .max_capacity(target.max)
            .send(),
    )
    .await
}

async fn put_policy(aws: &AwsCtx, resource_id: &str, p: &DesiredPolicy) -> Result<(), AwsError> {
    let metric = PredefinedMetricSpecification::builder()
        .predefined_metric_type(MetricType::from(p.metric))
        .set_resource_label(p.resource_label.clone())
        .build()
        .map_err(|e| AwsError::build(SERVICE, "PutScalingPolicy", e))?;
    let config = TargetTrackingScalingPolicyConfiguration::builder()
        .target_value(p.target)
        .predefined_metric_specification(metric)
        .scale_out_cooldown(SCALE_OUT_COOLDOWN_SECONDS)
        .scale_in_cooldown(SCALE_IN_COOLDOWN_SECONDS)
        .build()
        .map_err(|e| AwsError::build(SERVICE, "PutScalingPolicy", e))?;
    aws.run(
        aws.autoscaling
            .put_scaling_policy()
            .policy_name(&p.name)
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(resource_id)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .policy_type(PolicyType::TargetTrackingScaling)
            .target_tracking_scaling_policy_configuration(config)
            .send(),
    )
    .await
}

/// Writes `changes`: the target first (a policy needs it).
pub async fn apply(
    aws: &AwsCtx,
    target: &DesiredScalableTarget,
    changes: &[ScalingChange],
) -> Result<(), AwsError> {
    for change in changes {
        match change {
            ScalingChange::Target => register(aws, target).await?,
            ScalingChange::Policy(p) => put_policy(aws, &target.resource_id, p).await?,
        }
    }
    Ok(())
}

/// Deregisters the target (and so its policies); `false` when it was not registered.
pub async fn deregister(aws: &AwsCtx, resource_id: &str) -> Result<bool, AwsError> {
    aws.delete(
        aws.autoscaling
            .deregister_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .resource_id(resource_id)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .send(),
    )
    .await
}
