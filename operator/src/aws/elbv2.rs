//! Elastic Load Balancing (v2): the load balancer of kind `EcsFargate`, its target
//! group and listeners, and the health of the targets (step: observe / create / update /
//! delete; decisions are in `plan::compute::alb`).
//!
//! Names are unique per account and region and the creates are idempotent for equal
//! settings, so a create retried after a crash returns the same resource. Ownership is
//! the UID tag, read with `DescribeTags`.

use std::collections::BTreeMap;
use std::convert::Infallible;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, ForwardActionConfig, IpAddressType, Listener,
    LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher, ProtocolEnum,
    RedirectActionConfig, RedirectActionStatusCodeEnum, Tag, TargetGroupAttribute,
    TargetGroupTuple, TargetTypeEnum,
};

use crate::plan::compute::alb::{
    DEREGISTRATION_DELAY_SECONDS, DesiredListener, DesiredLoadBalancer, DesiredTargetGroup,
    ListenerAction, LoadBalancerChange, ObservedListener, ObservedLoadBalancer,
    ObservedTargetGroup, SSL_POLICY, TargetGroupChange, load_balancer_changes,
    target_group_changes,
};
use crate::plan::compute::readiness::TargetHealth;
use crate::plan::tags::TagSet;

use super::error::sdk_tags;
use super::resource::{Presence, Resource};
use super::{AwsCtx, AwsError};

const SERVICE: &str = "elasticloadbalancing";

fn elb_tags(tags: &TagSet) -> Vec<Tag> {
    sdk_tags(tags, SERVICE, "AddTags", |k, v| {
        Ok::<_, Infallible>(Tag::builder().key(k).value(v).build())
    })
    .unwrap_or_default()
}

/// The tags of one load balancer, target group or listener.
pub async fn tags_of(aws: &AwsCtx, arn: &str) -> Result<TagSet, AwsError> {
    let out = aws.call(aws.elbv2.describe_tags().resource_arns(arn).send()).await?;
    Ok(out
        .tag_descriptions()
        .iter()
        .filter(|d| d.resource_arn() == Some(arn))
        .flat_map(|d| d.tags())
        .filter_map(|t| Some((t.key()?, t.value()?)))
        .collect())
}

/// Adds `tags` to a resource.
pub async fn tag(aws: &AwsCtx, arn: &str, tags: &TagSet) -> Result<(), AwsError> {
    aws.run(aws.elbv2.add_tags().resource_arns(arn).set_tags(Some(elb_tags(tags))).send()).await
}

// ---------------------------------------------------------------------------------------
// Load balancer

/// The load balancer `name` with its attributes and tags, or `None`.
pub async fn observe_load_balancer(
    aws: &AwsCtx,
    name: &str,
) -> Result<Option<ObservedLoadBalancer>, AwsError> {
    let Some(out) = aws.find(aws.elbv2.describe_load_balancers().names(name).send()).await? else {
        return Ok(None);
    };
    let Some(lb) = out.load_balancers().first() else {
        return Ok(None);
    };
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let attributes = aws
        .call(aws.elbv2.describe_load_balancer_attributes().load_balancer_arn(&arn).send())
        .await?
        .attributes()
        .iter()
        .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
        .collect();
    Ok(Some(ObservedLoadBalancer {
        dns_name: lb.dns_name().unwrap_or_default().to_string(),
        canonical_zone_id: lb.canonical_hosted_zone_id().unwrap_or_default().to_string(),
        state: lb
            .state()
            .and_then(|s| s.code())
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        scheme: lb.scheme().map(|s| s.as_str().to_string()).unwrap_or_default(),
        subnets: lb
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id().map(str::to_string))
            .collect(),
        security_groups: lb.security_groups().to_vec(),
        attributes,
        tags: tags_of(aws, &arn).await?,
        arn,
    }))
}

async fn modify_attributes(
    aws: &AwsCtx,
    arn: &str,
    attributes: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    let list: Vec<LoadBalancerAttribute> = attributes
        .iter()
        .map(|(k, v)| LoadBalancerAttribute::builder().key(k).value(v).build())
        .collect();
    aws.run(
        aws.elbv2
            .modify_load_balancer_attributes()
            .load_balancer_arn(arn)
            .set_attributes(Some(list))
            .send(),
    )
    .await
}

/// The attributes of the load balancer `arn`, by key; `None` when it is gone. For a load
/// balancer found by ARN rather than by name (the one ECS Express manages).
pub async fn load_balancer_attributes(
    aws: &AwsCtx,
    arn: &str,
) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    let Some(out) = aws
        .find(aws.elbv2.describe_load_balancer_attributes().load_balancer_arn(arn).send())
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(
        out.attributes()
            .iter()
            .filter_map(|a| Some((a.key()?.to_string(), a.value()?.to_string())))
            .collect(),
    ))
}

/// Sets `attributes` (only those) on the load balancer `arn`.
pub async fn set_load_balancer_attributes(
    aws: &AwsCtx,
    arn: &str,
    attributes: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    modify_attributes(aws, arn, attributes).await
}

impl Resource for DesiredLoadBalancer {
    type Seen = ObservedLoadBalancer;
    type Change = LoadBalancerChange;

    fn label(&self) -> String {
        format!("load balancer {}", self.name)
    }

    async fn observe(
        &self,
        aws: &AwsCtx,
        uid: &str,
    ) -> Result<Presence<ObservedLoadBalancer>, AwsError> {
        Ok(Presence::of(observe_load_balancer(aws, &self.name).await?, |lb| {
            lb.tags.is_owned_by(uid)
        }))
    }

    async fn create(&self, aws: &AwsCtx) -> Result<ObservedLoadBalancer, AwsError> {
        aws.run(
            aws.elbv2
                .create_load_balancer()
                .name(&self.name)
                .set_subnets(Some(self.subnets.clone()))
                .set_security_groups(Some(self.security_groups.clone()))
                .scheme(LoadBalancerSchemeEnum::InternetFacing)
                .r#type(LoadBalancerTypeEnum::Application)
                .ip_address_type(IpAddressType::Ipv4)
                .set_tags(Some(elb_tags(&self.tags)))
                .send(),
        )
        .await?;
        let seen = observe_load_balancer(aws, &self.name).await?.ok_or_else(|| {
            AwsError::recoverable(
                SERVICE,
                "DescribeLoadBalancers",
                "NotYetVisible",
                format!("load balancer {} is not visible yet", self.name),
            )
        })?;
        modify_attributes(aws, &seen.arn, &self.attributes).await?;
        Ok(ObservedLoadBalancer { attributes: self.attributes.clone(), ..seen })
    }

    fn changes(&self, seen: &ObservedLoadBalancer) -> Vec<LoadBalancerChange> {
        load_balancer_changes(self, seen)
    }

    async fn update(
        &self,
        aws: &AwsCtx,
        seen: &ObservedLoadBalancer,
        changes: &[LoadBalancerChange],
    ) -> Result<(), AwsError> {
        for change in changes {
            match change {
                LoadBalancerChange::Subnets => {
                    aws.run(
                        aws.elbv2
                            .set_subnets()
                            .load_balancer_arn(&seen.arn)
                            .set_subnets(Some(self.subnets.clone()))
                            .send(),
                    )
                    .await?
                }
                LoadBalancerChange::SecurityGroups => {
                    aws.run(
                        aws.elbv2
                            .set_security_groups()
                            .load_balancer_arn(&seen.arn)
                            .set_security_groups(Some(self.security_groups.clone()))
                            .send(),
                    )
                    .await?
                }
                LoadBalancerChange::Attributes(attributes) => {
                    modify_attributes(aws, &seen.arn, attributes).await?
                }
                LoadBalancerChange::Tag(tags) => tag(aws, &seen.arn, tags).await?,
            }
        }
        Ok(())
    }
}

/// Deletes the load balancer (and so its listeners); `false` when already gone.
pub async fn delete_load_balancer(aws: &AwsCtx, arn: &str) -> Result<bool, AwsError> {
    aws.delete(aws.elbv2.delete_load_balancer().load_balancer_arn(arn).send()).await
}

// ---------------------------------------------------------------------------------------
// Target group

/// The target group `name` with its attributes and tags, or `None`.
pub async fn observe_target_group(
    aws: &AwsCtx,
    name: &str,
) -> Result<Option<ObservedTargetGroup>, AwsError> {
    let Some(out) = aws.find(aws.elbv2.describe_target_groups().names(name).send()).await? else {
        return Ok(None);
    };
    let Some(tg) = out.target_groups().first() else {
        return Ok(None);
    };
    let arn = tg.target_group_arn().unwrap_or_default().to_string();
    let attributes = aws
        .call(aws.elbv2.describe_target_group_attributes().target_group_arn(&arn).send())
        .await?;
    let delay = attributes
        .attributes()
        .iter()
        .find(|a| a.key() == Some("deregistration_delay.timeout_seconds"))
        .and_then(|a| a.value().map(str::to_string));
    Ok(Some(ObservedTargetGroup {
        vpc_id: tg.vpc_id().unwrap_or_default().to_string(),
        port: tg.port().and_then(|p| u16::try_from(p).ok()).unwrap_or_default(),
        health_check_path: tg.health_check_path().unwrap_or_default().to_string(),
        matcher: tg.matcher().and_then(|m| m.http_code()).unwrap_or_default().to_string(),
        deregistration_delay: delay,
        load_balancers: tg.load_balancer_arns().to_vec(),
        tags: tags_of(aws, &arn).await?,
        arn,
    }))
}

async fn set_deregistration_delay(aws: &AwsCtx, arn: &str) -> Result<(), AwsError> {
    aws.run(
        aws.elbv2
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .attributes(
                TargetGroupAttribute::builder()
                    .key("deregistration_delay.timeout_seconds")
                    .value(DEREGISTRATION_DELAY_SECONDS.to_string())
                    .build(),
            )
            .send(),
    )
    .await
}

fn matcher() -> Matcher {
    Matcher::builder().http_code("200").build()
}

impl Resource for DesiredTargetGroup {
    type Seen = ObservedTargetGroup;
    type Change = TargetGroupChange;

    fn label(&self) -> String {
        format!("target group {}", self.name)
    }

    async fn observe(
        &self,
        aws: &AwsCtx,
        uid: &str,
    ) -> Result<Presence<ObservedTargetGroup>, AwsError> {
        Ok(Presence::of(observe_target_group(aws, &self.name).await?, |tg| {
            tg.tags.is_owned_by(uid)
        }))
    }

    async fn create(&self, aws: &AwsCtx) -> Result<ObservedTargetGroup, AwsError> {
        let out = aws
            .call(
                aws.elbv2
                    .create_target_group()
                    .name(&self.name)
                    .protocol(ProtocolEnum::Http)
                    .port(i32::from(self.port))
                    .vpc_id(&self.vpc_id)
                    .target_type(TargetTypeEnum::Ip)
                    .health_check_enabled(true)
                    .health_check_path(&self.health_check_path)
                    .health_check_interval_seconds(15)
                    .healthy_threshold_count(2)
                    .unhealthy_threshold_count(3)
                    .matcher(matcher())
                    .set_tags(Some(elb_tags(&self.tags)))
                    .send(),
            )
            .await?;
        let arn = out
            .target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .unwrap_or_default()
            .to_string();
        set_deregistration_delay(aws, &arn).await?;
        Ok(ObservedTargetGroup {
            arn,
            vpc_id: self.vpc_id.clone(),
            port: self.port,
            health_check_path: self.health_check_path.clone(),
            matcher: "200".into(),
            deregistration_delay: Some(DEREGISTRATION_DELAY_SECONDS.to_string()),
            load_balancers: Vec::new(),
            tags: self.tags.clone(),
        })
    }

    fn changes(&self, seen: &ObservedTargetGroup) -> Vec<TargetGroupChange> {
        target_group_changes(self, seen)
    }

    async fn update(
        &self,
        aws: &AwsCtx,
        seen: &ObservedTargetGroup,
        changes: &[TargetGroupChange],
    ) -> Result<(), AwsError> {
        for change in changes {
            match change {
                TargetGroupChange::HealthCheck => {
                    aws.run(
                        aws.elbv2
                            .modify_target_group()
                            .target_group_arn(&seen.arn)
                            .health_check_path(&self.health_check_path)
                            .matcher(matcher())
                            .send(),
                    )
                    .await?
                }
                TargetGroupChange::DeregistrationDelay => {
                    set_deregistration_delay(aws, &seen.arn).await?
                }
                TargetGroupChange::Tag(tags) => tag(aws, &seen.arn, tags).await?,
            }
        }
        Ok(())
    }
}

/// Deletes the target group; `false` when already gone. ELBv2 refuses while a listener
/// or service still uses it (`ResourceInUse`, retried by the caller's next pass).
pub async fn delete_target_group(aws: &AwsCtx, arn: &str) -> Result<bool, AwsError> {
    aws.delete(aws.elbv2.delete_target_group().target_group_arn(arn).send()).await
}

/// The target groups whose names contain `marker` and that carry the UID tag `uid` (old
/// ones after a port change, every one at deletion).
pub async fn owned_target_groups(
    aws: &AwsCtx,
    marker: &str,
    uid: &str,
) -> Result<Vec<ObservedTargetGroup>, AwsError> {
    let pages = aws.pages(aws.elbv2.describe_target_groups().into_paginator().send()).await?;
    let mut out = Vec::new();
    for tg in pages.iter().flat_map(|p| p.target_groups()) {
        let Some(name) = tg.target_group_name().filter(|n| n.contains(marker)) else {
            continue;
        };
        if let Some(seen) = observe_target_group(aws, name).await?
            && seen.tags.is_owned_by(uid)
        {
            out.push(seen);
        }
    }
    Ok(out)
}

/// How the load balancer sees the targets of `target_group_arn`.
pub async fn target_health(aws: &AwsCtx, target_group_arn: &str) -> Result<TargetHealth, AwsError> {
    let out = aws
        .call(aws.elbv2.describe_target_health().target_group_arn(target_group_arn).send())
        .await?;
    Ok(TargetHealth::count(
        out.target_health_descriptions()
            .iter()
            .filter_map(|d| d.target_health().and_then(|h| h.state()).map(|s| s.as_str())),
    ))
}

// ---------------------------------------------------------------------------------------
// Listeners

fn observed_listener(l: &Listener) -> ObservedListener {
    let action = l.default_actions().first();
    let forwards_to =
        action.filter(|a| a.r#type() == Some(&ActionTypeEnum::Forward)).and_then(|a| {
            a.target_group_arn().map(str::to_string).or_else(|| {
                let groups = a.forward_config()?.target_groups();
                (groups.len() == 1)
                    .then(|| groups[0].target_group_arn().map(str::to_string))
                    .flatten()
            })
        });
    let redirects_to_https = action.is_some_and(|a| {
        a.r#type() == Some(&ActionTypeEnum::Redirect)
            && a.redirect_config().is_some_and(|r| {
                r.protocol() == Some("HTTPS")
                    && r.port() == Some("443")
                    && r.status_code() == Some(&RedirectActionStatusCodeEnum::Http301)
            })
    });
    ObservedListener {
        arn: l.listener_arn().unwrap_or_default().to_string(),
        port: l.port().unwrap_or_default(),
        protocol: l.protocol().map(|p| p.as_str().to_string()).unwrap_or_default(),
        ssl_policy: l.ssl_policy().map(str::to_string),
        certificate_arn: l
            .certificates()
            .first()
            .and_then(|c| c.certificate_arn())
            .map(str::to_string),
        forwards_to,
        redirects_to_https,
    }
}

/// The listeners of the load balancer.
pub async fn listeners(
    aws: &AwsCtx,
    load_balancer_arn: &str,
) -> Result<Vec<ObservedListener>, AwsError> {
    let out = aws
        .call(aws.elbv2.describe_listeners().load_balancer_arn(load_balancer_arn).send())
        .await?;
    Ok(out.listeners().iter().map(observed_listener).collect())
}

fn default_action(action: &ListenerAction) -> Action {
    match action {
        ListenerAction::Forward { target_group_arn } => Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .forward_config(
                ForwardActionConfig::builder()
                    .target_groups(
                        TargetGroupTuple::builder().target_group_arn(target_group_arn).build(),
                    )
                    .build(),
            )
            .build(),
        ListenerAction::RedirectToHttps => Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port("443")
                    .status_code(RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build(),
    }
}

fn protocol(want: &DesiredListener) -> ProtocolEnum {
    ProtocolEnum::from(want.role.protocol())
}

/// Creates the listener on the load balancer.
pub async fn create_listener(
    aws: &AwsCtx,
    load_balancer_arn: &str,
    want: &DesiredListener,
) -> Result<(), AwsError> {
    let mut create = aws
        .elbv2
        .create_listener()
        .load_balancer_arn(load_balancer_arn)
        .protocol(protocol(want))
        .port(want.role.port())
        .default_actions(default_action(&want.action))
        .set_tags(Some(elb_tags(&want.tags)));
    if let Some(cert) = &want.certificate_arn {
        create = create
            .ssl_policy(SSL_POLICY)
            .certificates(Certificate::builder().certificate_arn(cert).build());
    }
    aws.run(create.send()).await
}

/// Rewrites the listener as desired.
pub async fn modify_listener(
    aws: &AwsCtx,
    arn: &str,
    want: &DesiredListener,
) -> Result<(), AwsError> {
    let mut modify = aws
        .elbv2
        .modify_listener()
        .listener_arn(arn)
        .protocol(protocol(want))
        .port(want.role.port())
        .default_actions(default_action(&want.action));
    if let Some(cert) = &want.certificate_arn {
        modify = modify
            .ssl_policy(SSL_POLICY)
            .certificates(Certificate::builder().certificate_arn(cert).build());
    }
    aws.run(modify.send()).await
}

// ---------------------------------------------------------------------------------------
// The site's name on a load balancer (component `siteRecords`)

/// DNS name and canonical hosted zone of the load balancer `arn` (an alias target), or
/// `None` when it is gone.
pub async fn alias_target(
    aws: &AwsCtx,
    arn: &str,
) -> Result<Option<crate::plan::dns::AliasTarget>, AwsError> {
    let Some(out) =
        aws.find(aws.elbv2.describe_load_balancers().load_balancer_arns(arn).send()).await?
    else {
        return Ok(None);
    };
    Ok(out.load_balancers().first().map(|lb| {
        crate::plan::dns::AliasTarget::new(
            lb.dns_name().unwrap_or_default(),
            lb.canonical_hosted_zone_id().unwrap_or_default(),
        )
    }))
}

/// The certificates of the listener (its default one included).
pub async fn listener_certificates(
    aws: &AwsCtx,
    listener_arn: &str,
) -> Result<Vec<String>, AwsError> {
    let out = aws
        .call(aws.elbv2.describe_listener_certificates().listener_arn(listener_arn).send())
        .await?;
    Ok(out.certificates().iter().filter_map(|c| c.certificate_arn().map(str::to_string)).collect())
}

/// Adds `certificate_arn` to the listener's certificates (served by SNI).
pub async fn add_listener_certificate(
    aws: &AwsCtx,
    listener_arn: &str,
    certificate_arn: &str,
) -> Result<(), AwsError> {
    aws.run(
        aws.elbv2
            .add_listener_certificates()
            .listener_arn(listener_arn)
            .certificates(Certificate::builder().certificate_arn(certificate_arn).build())
            .send(),
    )
    .await
}

/// A listener rule that forwards requests for one host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRule {
    pub arn: String,
    pub priority: String,
    pub hosts: Vec<String>,
    pub target_group_arn: Option<String>,
}

/// The listener's rules with a host-header condition.
pub async fn host_rules(aws: &AwsCtx, listener_arn: &str) -> Result<Vec<HostRule>, AwsError> {
    let out = aws.call(aws.elbv2.describe_rules().listener_arn(listener_arn).send()).await?;
    Ok(out
        .rules()
        .iter()
        .map(|r| HostRule {
            arn: r.rule_arn().unwrap_or_default().to_string(),
            priority: r.priority().unwrap_or_default().to_string(),
            hosts: r
                .conditions()
                .iter()
                .flat_map(|c| {
                    c.host_header_config()
                        .map(|h| h.values().to_vec())
                        .unwrap_or_else(|| c.values().to_vec())
                })
                .collect(),
            target_group_arn: r.actions().iter().find_map(|a| {
                a.target_group_arn().map(str::to_string).or_else(|| {
                    a.forward_config()
                        .and_then(|f| f.target_groups().first())
                        .and_then(|t| t.target_group_arn().map(str::to_string))
                })
            }),
        })
        .filter(|r| !r.hosts.is_empty())
        .collect())
}

fn host_rule_parts(
    host: &str,
    target_group_arn: &str,
) -> (aws_sdk_elasticloadbalancingv2::types::RuleCondition, Action) {
    let condition = aws_sdk_elasticloadbalancingv2::types::RuleCondition::builder()
        .field("host-header")
        .host_header_config(
            aws_sdk_elasticloadbalancingv2::types::HostHeaderConditionConfig::builder()
                .values(host)
                .build(),
        )
        .build();
    (
        condition,
        default_action(&ListenerAction::Forward { target_group_arn: target_group_arn.to_string() }),
    )
}

/// Creates a rule forwarding `host` to the target group, at `priority`.
pub async fn create_host_rule(
    aws: &AwsCtx,
    listener_arn: &str,
    priority: i32,
    host: &str,
    target_group_arn: &str,
    tags: &TagSet,
) -> Result<(), AwsError> {
    let (condition, action) = host_rule_parts(host, target_group_arn);
    aws.run(
        aws.elbv2
            .create_rule()
            .listener_arn(listener_arn)
            .priority(priority)
            .conditions(condition)
            .actions(action)
            .set_tags(Some(elb_tags(tags)))
            .send(),
    )
    .await
}

/// Points the rule `arn` at the target group (Express moved its service to another).
pub async fn modify_host_rule(
    aws: &AwsCtx,
    arn: &str,
    host: &str,
    target_group_arn: &str,
) -> Result<(), AwsError> {
    let (condition, action) = host_rule_parts(host, target_group_arn);
    aws.run(aws.elbv2.modify_rule().rule_arn(arn).conditions(condition).actions(action).send())
        .await
}
