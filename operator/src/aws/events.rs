//! Amazon EventBridge: the connection, API destination, rule and target that call
//! REDCap's `cron.php` (component `cron`; step: observe / create / update / delete).
//!
//! Decisions are made in `plan::cron`; this module only calls EventBridge. Connections
//! and API destinations take no tags: they are found by their deterministic names, which
//! carry the environment's UID hash. A connection's token cannot be read back
//! (EventBridge keeps it in a secret of its own); its description records the token's
//! fingerprint instead (`plan::cron::connection_description`).

use crate::plan::cron::description_fingerprint;

use super::{AwsCtx, AwsError};

/// The fingerprint of the token the connection `name` sends, from its description;
/// `None` when there is no such connection (or it says none).
pub async fn connection_fingerprint(aws: &AwsCtx, name: &str) -> Result<Option<String>, AwsError> {
    let out = aws.find(aws.events.describe_connection().name(name).send()).await?;
    Ok(out.and_then(|c| c.description().and_then(description_fingerprint)))
}
