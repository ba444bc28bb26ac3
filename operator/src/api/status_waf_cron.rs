//! `status.firewall` and `status.cron`: the web ACL in front of REDCap and the schedule
//! that calls its `cron.php`, as the operator last saw them (api step: types only, no
//! I/O). Identifiers, numbers and states only: never the cron token.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The web ACL in front of REDCap.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FirewallStatus {
    /// ARN of the web ACL in use: the operator's, or `spec.firewall.externalWebAclArn`.
    pub web_acl_arn: Option<String>,
    /// True when the web ACL is `spec.firewall.externalWebAclArn` (the operator only
    /// associates it; it never changes or deletes it).
    #[serde(default)]
    pub external: bool,
    /// Web ACL capacity units the rules use (`CheckCapacity`). Up to 1500 are included
    /// in the web ACL's price; 5000 is WAF's limit.
    pub capacity: Option<i64>,
    /// What the web ACL protects: the load balancer or App Runner service ARNs it is
    /// associated with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub associated_with: Vec<String>,
}

/// The schedule that calls REDCap's `cron.php`.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronStatus {
    /// The EventBridge schedule expression (`rate(5 minutes)`); absent while no schedule
    /// runs (`spec.cron.intervalMinutes: 0`).
    pub schedule: Option<String>,
    /// The URL called, without the token (the token travels in a header).
    pub target_url: Option<String>,
    /// ARN of the EventBridge rule.
    pub rule_arn: Option<String>,
    /// The last failure EventBridge reports for the call (a connection that lost its
    /// authorization, an API destination that is not active); absent when none.
    pub last_failure: Option<String>,
}
