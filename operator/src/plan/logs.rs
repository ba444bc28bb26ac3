//! CloudWatch log groups the operator creates (image builds, compute): desired state,
//! what Logs reports, and the diff (step: plan; pure). Every group is encrypted with
//! the environment's key and keeps `spec.logs.retentionDays`.

use crate::plan::naming::key_id_of;
use crate::plan::tags::TagSet;
use crate::plan::{Describe, PlanError};

/// A log group as it should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredLogGroup {
    pub name: String,
    pub retention_days: i32,
    pub kms_key_arn: String,
    pub tags: TagSet,
}

/// What `DescribeLogGroups` and `ListTagsForResource` say about a log group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedLogGroup {
    pub arn: String,
    pub retention_days: Option<i32>,
    pub kms_key_id: Option<String>,
    pub tags: TagSet,
}

/// One correction to a log group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogGroupChange {
    Tag(TagSet),
    Retention,
    Key,
}

impl Describe for LogGroupChange {
    fn describe(&self) -> String {
        match self {
            LogGroupChange::Tag(_) => "tags",
            LogGroupChange::Retention => "retention",
            LogGroupChange::Key => "encryption key",
        }
        .to_string()
    }
}

/// The log group `name`: `retention_days` (one CloudWatch Logs accepts), the key.
pub fn desired_log_group(
    name: String,
    tags: TagSet,
    retention_days: u32,
    key_arn: &str,
) -> Result<DesiredLogGroup, PlanError> {
    let invalid =
        |message: String| PlanError::InvalidSpec { field: "spec.logs.retentionDays", message };
    if !crate::api::LOG_RETENTION_DAYS.contains(&retention_days) {
        return Err(invalid(format!(
            "{retention_days} is not a retention CloudWatch Logs accepts"
        )));
    }
    Ok(DesiredLogGroup {
        name,
        retention_days: i32::try_from(retention_days)
            .map_err(|_| invalid("is too large".into()))?,
        kms_key_arn: key_arn.to_string(),
        tags,
    })
}

/// The corrections that make the log group match (ownership is checked when observing).
pub fn log_group_changes(want: &DesiredLogGroup, seen: &ObservedLogGroup) -> Vec<LogGroupChange> {
    let mut changes = Vec::new();
    let missing = want.tags.missing_from(&seen.tags);
    if !missing.is_empty() {
        changes.push(LogGroupChange::Tag(missing));
    }
    if seen.retention_days != Some(want.retention_days) {
        changes.push(LogGroupChange::Retention);
    }
    let same_key =
        seen.kms_key_id.as_deref().is_some_and(|k| key_id_of(k) == key_id_of(&want.kms_key_arn));
    if !same_key {
        changes.push(LogGroupChange::Key);
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want() -> DesiredLogGroup {
        desired_log_group(
            "/redcap/x/image-build".into(),
            [("a", "1")].into_iter().collect(),
            30,
            "arn:aws:kms:eu-west-1:1:key/k",
        )
        .expect("valid")
    }

    #[test]
    fn retention_must_be_one_logs_accepts() {
        let err = desired_log_group("g".into(), TagSet::new(), 31, "k").expect_err("31");
        assert!(err.to_string().contains("spec.logs.retentionDays"), "{err}");
    }

    #[test]
    fn drift_is_tags_retention_and_key() {
        let want = want();
        let seen = ObservedLogGroup {
            arn: "arn".into(),
            retention_days: Some(30),
            kms_key_id: Some("arn:aws:kms:eu-west-1:1:key/k".into()),
            tags: want.tags.clone(),
        };
        assert!(log_group_changes(&want, &seen).is_empty());
        let drifted = ObservedLogGroup {
            retention_days: None,
            kms_key_id: None,
            tags: TagSet::new(),
            ..seen
        };
        let what: Vec<String> =
            log_group_changes(&want, &drifted).iter().map(Describe::describe).collect();
        assert_eq!(what, ["tags", "retention", "encryption key"]);
    }
}
