//! CloudWatch log groups RDS exports a cluster's logs to (step: observe / update /
//! delete). RDS creates them when the first log lines arrive, so a group may not exist
//! yet: that is not an error, the next pass sets its retention.

use aws_sdk_cloudwatchlogs::types::LogGroup;

use crate::aws::error::classify;
use crate::aws::{AwsCtx, AwsError, Service};

const SERVICE: &str = "logs";
const TERMINAL_CODES: &[&str] = &["InvalidParameterException"];

fn missing(e: &AwsError) -> bool {
    e.code == "ResourceNotFoundException" || e.is_not_found()
}

/// The log groups under `prefix`, with their retention in days (`None`: never expire).
pub async fn log_groups(
    aws: &AwsCtx,
    prefix: &str,
) -> Result<Vec<(String, Option<i32>)>, AwsError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        aws.permit(Service::CloudWatchLogs).await;
        let page = aws
            .logs
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| classify(SERVICE, "DescribeLogGroups", TERMINAL_CODES, e))?;
        out.extend(page.log_groups().iter().filter_map(name_and_retention));
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

fn name_and_retention(g: &LogGroup) -> Option<(String, Option<i32>)> {
    Some((g.log_group_name()?.to_string(), g.retention_in_days()))
}

/// Sets a group's retention; `false` when the group does not exist (yet).
pub async fn put_retention(aws: &AwsCtx, name: &str, days: i32) -> Result<bool, AwsError> {
    aws.permit(Service::CloudWatchLogs).await;
    match aws
        .logs
        .put_retention_policy()
        .log_group_name(name)
        .retention_in_days(days)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) => {
            let e = classify(SERVICE, "PutRetentionPolicy", TERMINAL_CODES, e);
            if missing(&e) { Ok(false) } else { Err(e) }
        }
    }
}

/// Deletes a log group; one already gone is fine.
pub async fn delete_log_group(aws: &AwsCtx, name: &str) -> Result<(), AwsError> {
    aws.permit(Service::CloudWatchLogs).await;
    match aws
        .logs
        .delete_log_group()
        .log_group_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = classify(SERVICE, "DeleteLogGroup", TERMINAL_CODES, e);
            if missing(&e) { Ok(()) } else { Err(e) }
        }
    }
}
