//! IAM: the users (`user`) and roles (`role`) the operator creates, each found by its
//! deterministic name under the `/redcap/` path and owned by its UID tag (step:
//! observe / create / update / delete; decisions are in `plan::credentials` and
//! `plan::iam`).

pub mod role;
pub mod user;

use aws_sdk_iam::types::Tag;

use crate::plan::tags::TagSet;

use super::AwsError;

/// `tags` as IAM tags; `operation` names the call they are for in a build error.
pub(crate) fn iam_tags(tags: &TagSet, operation: &'static str) -> Result<Vec<Tag>, AwsError> {
    super::error::sdk_tags(tags, "iam", operation, |k, v| Tag::builder().key(k).value(v).build())
}

/// Tags as IAM returns them.
pub(crate) fn tag_set(tags: &[Tag]) -> TagSet {
    tags.iter().map(|t| (t.key(), t.value())).collect()
}
