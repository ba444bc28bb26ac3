//! The load balancer of kind `EcsFargate`: an internet-facing ALB in the public subnets,
//! a target group that checks `/healthcheck`, an HTTPS listener and an HTTP listener that
//! redirects to it (step: plan; pure).
//!
//! ELBv2 read-backs are full: the attributes come back as the whole list, listeners with
//! their default actions, so the diff compares only the members the operator sets.

use std::collections::BTreeMap;

use crate::plan::Describe;
use crate::plan::tags::TagSet;

/// The TLS policy of the HTTPS listener: TLS 1.2 and 1.3, forward secrecy only.
pub const SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";
/// The health check path (the image's contract: 200 from Apache alone).
pub const HEALTH_CHECK_PATH: &str = "/healthcheck";
/// Seconds a stopping task keeps its connections (REDCap requests are short; uploads
/// are not cut off before this).
pub const DEREGISTRATION_DELAY_SECONDS: u32 = 60;
/// Access log prefix in the access-log bucket (its policy lets load balancers write there).
pub const ACCESS_LOG_PREFIX: &str = crate::plan::policy::LOAD_BALANCER_LOG_PREFIX;

/// The load balancer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredLoadBalancer {
    pub name: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    /// The attributes the operator owns, by key.
    pub attributes: BTreeMap<String, String>,
    pub tags: TagSet,
}

/// The attributes of the load balancer: the idle timeout (the longest a request may
/// run), access logs, and dropping invalid header fields.
pub fn load_balancer_attributes(
    idle_timeout_seconds: u32,
    access_log_bucket: Option<&str>,
) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    a.insert("idle_timeout.timeout_seconds".into(), idle_timeout_seconds.to_string());
    a.insert("routing.http.drop_invalid_header_fields.enabled".into(), "true".into());
    match access_log_bucket {
        Some(bucket) => {
            a.insert("access_logs.s3.enabled".into(), "true".into());
            a.insert("access_logs.s3.bucket".into(), bucket.into());
            a.insert("access_logs.s3.prefix".into(), ACCESS_LOG_PREFIX.into());
        }
        None => {
            a.insert("access_logs.s3.enabled".into(), "false".into());
        }
    }
    a
}

/// What `DescribeLoadBalancers` (and its attributes and tags) says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedLoadBalancer {
    pub arn: String,
    pub dns_name: String,
    pub canonical_zone_id: String,
    /// `provisioning`, `active`, `active_impaired`, `failed`.
    pub state: String,
    pub scheme: String,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    pub attributes: BTreeMap<String, String>,
    pub tags: TagSet,
}

/// One correction of the load balancer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadBalancerChange {
    Subnets,
    SecurityGroups,
    /// The attributes that differ, with their desired values.
    Attributes(BTreeMap<String, String>),
    Tag(TagSet),
}

impl Describe for LoadBalancerChange {
    fn describe(&self) -> String {
        match self {
            LoadBalancerChange::Subnets => "subnets".into(),
            LoadBalancerChange::SecurityGroups => "security groups".into(),
            LoadBalancerChange::Attributes(a) => {
                let keys: Vec<&str> = a.keys().map(String::as_str).collect();
                format!("attributes ({})", keys.join(", "))
            }
            LoadBalancerChange::Tag(_) => "tags".into(),
        }
    }
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

pub fn load_balancer_changes(
    want: &DesiredLoadBalancer,
    seen: &ObservedLoadBalancer,
) -> Vec<LoadBalancerChange> {
    let mut changes = Vec::new();
    if !same_set(&want.subnets, &seen.subnets) {
        changes.push(LoadBalancerChange::Subnets);
    }
    if !same_set(&want.security_groups, &seen.security_groups) {
        changes.push(LoadBalancerChange::SecurityGroups);
    }
    let differ: BTreeMap<String, String> = want
        .attributes
        .iter()
        .filter(|(k, v)| seen.attributes.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !differ.is_empty() {
        changes.push(LoadBalancerChange::Attributes(differ));
    }
    let missing = want.tags.missing_from(&seen.tags);
    if !missing.is_empty() {
        changes.push(LoadBalancerChange::Tag(missing));
    }
    changes
}

/// The target group: the tasks' IPs on the container port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredTargetGroup {
    pub name: String,
    pub vpc_id: String,
    pub port: u16,
    pub health_check_path: String,
    pub tags: TagSet,
}

/// What `DescribeTargetGroups` says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedTargetGroup {
    pub arn: String,
    pub vpc_id: String,
    pub port: u16,
    pub health_check_path: String,
    pub matcher: String,
    pub deregistration_delay: Option<String>,
    pub load_balancers: Vec<String>,
    pub tags: TagSet,
}

/// One correction of the target group. Its port is in its name (`target_group_name`), so
/// a new container port is a new target group, never a change of this one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetGroupChange {
    HealthCheck,
    DeregistrationDelay,
    Tag(TagSet),
}

impl Describe for TargetGroupChange {
    fn describe(&self) -> String {
        match self {
            TargetGroupChange::HealthCheck => "health check".into(),
            TargetGroupChange::DeregistrationDelay => "deregistration delay".into(),
            TargetGroupChange::Tag(_) => "tags".into(),
        }
    }
}

pub fn target_group_changes(
    want: &DesiredTargetGroup,
    seen: &ObservedTargetGroup,
) -> Vec<TargetGroupChange> {
    let mut changes = Vec::new();
    if seen.health_check_path != want.health_check_path || seen.matcher != "200" {
        changes.push(TargetGroupChange::HealthCheck);
    }
    if seen.deregistration_delay.as_deref() != Some(&DEREGISTRATION_DELAY_SECONDS.to_string()) {
        changes.push(TargetGroupChange::DeregistrationDelay);
    }
    let missing = want.tags.missing_from(&seen.tags);
    if !missing.is_empty() {
        changes.push(TargetGroupChange::Tag(missing));
    }
    changes
}

/// The two listeners.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ListenerRole {
    /// 443: TLS with the site's certificate, forwards to the target group.
    Https,
    /// 80: answers every request with a permanent redirect to HTTPS.
    HttpRedirect,
}

impl ListenerRole {
    pub fn port(self) -> i32 {
        match self {
            ListenerRole::Https => 443,
            ListenerRole::HttpRedirect => 80,
        }
    }

    pub fn protocol(self) -> &'static str {
        match self {
            ListenerRole::Https => "HTTPS",
            ListenerRole::HttpRedirect => "HTTP",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ListenerRole::Https => "HTTPS listener",
            ListenerRole::HttpRedirect => "HTTP redirect listener",
        }
    }
}

/// What a listener does with every request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenerAction {
    Forward { target_group_arn: String },
    RedirectToHttps,
}

/// A listener as it should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredListener {
    pub role: ListenerRole,
    /// The default certificate (HTTPS only).
    pub certificate_arn: Option<String>,
    pub action: ListenerAction,
    pub tags: TagSet,
}

/// What `DescribeListeners` says about one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedListener {
    pub arn: String,
    pub port: i32,
    pub protocol: String,
    pub ssl_policy: Option<String>,
    pub certificate_arn: Option<String>,
    /// `Some(arn)` when the default action forwards to one target group.
    pub forwards_to: Option<String>,
    /// The default action redirects to HTTPS on 443 with a 301.
    pub redirects_to_https: bool,
}

/// The whole listener is rewritten when anything differs (one `ModifyListener`).
pub fn listener_differs(want: &DesiredListener, seen: &ObservedListener) -> Vec<&'static str> {
    let mut what = Vec::new();
    if seen.protocol != want.role.protocol() {
        what.push("protocol");
    }
    if want.role == ListenerRole::Https {
        if seen.ssl_policy.as_deref() != Some(SSL_POLICY) {
            what.push("TLS policy");
        }
        if seen.certificate_arn != want.certificate_arn {
            what.push("certificate");
        }
    }
    match &want.action {
        ListenerAction::Forward { target_group_arn } => {
            if seen.forwards_to.as_deref() != Some(target_group_arn) {
                what.push("default action");
            }
        }
        ListenerAction::RedirectToHttps => {
            if !seen.redirects_to_https {
                what.push("default action");
            }
        }
    }
    what
}

/// `app/<name>/<id>/targetgroup/<name>/<id>`: the label the requests-per-target scaling
/// metric needs, from the two ARNs.
pub fn resource_label(load_balancer_arn: &str, target_group_arn: &str) -> Option<String> {
    let lb = load_balancer_arn.split_once(":loadbalancer/")?.1;
    let tg = target_group_arn.split_once(":")?.1;
    let tg = tg.rsplit_once(":targetgroup/").map(|(_, t)| t)?;
    Some(format!("{lb}/targetgroup/{tg}"))
}

/// The first HTTPS URL of the load balancer (its certificate names the site, not this).
pub fn load_balancer_url(dns_name: &str) -> String {
    format!("https://{dns_name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want_lb() -> DesiredLoadBalancer {
        DesiredLoadBalancer {
            name: "rc-x".into(),
            subnets: vec!["pub-a".into(), "pub-b".into()],
            security_groups: vec!["sg-lb".into()],
            attributes: load_balancer_attributes(4000, Some("logs")),
            tags: [("o", "1")].into_iter().collect(),
        }
    }

    fn seen_lb(want: &DesiredLoadBalancer) -> ObservedLoadBalancer {
        let mut attributes = want.attributes.clone();
        // AWS returns every attribute; the ones the operator does not own are ignored.
        attributes.insert("deletion_protection.enabled".into(), "false".into());
        ObservedLoadBalancer {
            arn: "arn:lb".into(),
            dns_name: "rc-x-1.eu-west-1.elb.amazonaws.com".into(),
            state: "active".into(),
            scheme: "internet-facing".into(),
            subnets: vec!["pub-b".into(), "pub-a".into()],
            security_groups: want.security_groups.clone(),
            attributes,
            tags: want.tags.clone(),
            ..ObservedLoadBalancer::default()
        }
    }

    #[test]
    fn a_load_balancer_in_sync_needs_nothing_and_an_idle_timeout_edit_is_named() {
        let want = want_lb();
        let mut seen = seen_lb(&want);
        assert_eq!(load_balancer_changes(&want, &seen), vec![]);
        seen.attributes.insert("idle_timeout.timeout_seconds".into(), "60".into());
        let changes = load_balancer_changes(&want, &seen);
        assert_eq!(
            changes,
            vec![LoadBalancerChange::Attributes(BTreeMap::from([(
                "idle_timeout.timeout_seconds".to_string(),
                "4000".to_string()
            )]))]
        );
        assert_eq!(changes[0].describe(), "attributes (idle_timeout.timeout_seconds)");
    }

    #[test]
    fn access_logs_go_to_the_access_log_bucket_or_are_off() {
        let on = load_balancer_attributes(60, Some("b"));
        assert_eq!(on["access_logs.s3.bucket"], "b");
        let off = load_balancer_attributes(60, None);
        assert_eq!(off["access_logs.s3.enabled"], "false");
        assert!(!off.contains_key("access_logs.s3.bucket"));
    }

    #[test]
    fn the_https_listener_follows_the_certificate_and_the_target_group() {
        let want = DesiredListener {
            role: ListenerRole::Https,
            certificate_arn: Some("arn:cert-2".into()),
            action: ListenerAction::Forward { target_group_arn: "arn:tg".into() },
            tags: TagSet::new(),
        };
        let seen = ObservedListener {
            arn: "arn:l".into(),
            port: 443,
            protocol: "HTTPS".into(),
            ssl_policy: Some(SSL_POLICY.into()),
            certificate_arn: Some("arn:cert-1".into()),
            forwards_to: Some("arn:tg".into()),
            redirects_to_https: false,
        };
        assert_eq!(listener_differs(&want, &seen), ["certificate"]);
        let redirect = DesiredListener {
            role: ListenerRole::HttpRedirect,
            certificate_arn: None,
            action: ListenerAction::RedirectToHttps,
            tags: TagSet::new(),
        };
        let http = ObservedListener {
            port: 80,
            protocol: "HTTP".into(),
            redirects_to_https: true,
            ..ObservedListener::default()
        };
        assert!(listener_differs(&redirect, &http).is_empty());
    }

    #[test]
    fn a_target_group_health_check_edit_is_named() {
        let want = DesiredTargetGroup {
            name: "rc-x-tg".into(),
            vpc_id: "vpc-1".into(),
            port: 8080,
            health_check_path: HEALTH_CHECK_PATH.into(),
            tags: TagSet::new(),
        };
        let seen = ObservedTargetGroup {
            arn: "arn:tg".into(),
            vpc_id: "vpc-1".into(),
            port: 8080,
            health_check_path: "/".into(),
            matcher: "200".into(),
            deregistration_delay: Some("60".into()),
            ..ObservedTargetGroup::default()
        };
        let what: Vec<String> =
            target_group_changes(&want, &seen).iter().map(Describe::describe).collect();
        assert_eq!(what, ["health check"]);
    }

    #[test]
    fn the_scaling_label_joins_both_arns() {
        let lb = "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/rc-x/50dc6c495c0c9188";
        let tg = "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/rc-x-tg/943f017f100becff";
        assert_eq!(
            resource_label(lb, tg).as_deref(),
            Some("app/rc-x/50dc6c495c0c9188/targetgroup/rc-x-tg/943f017f100becff")
        );
    }
}
