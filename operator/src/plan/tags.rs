//! Tag sets and the ownership rule (step: plan; pure, no I/O).
//!
//! The operator adds its tags and never removes tags it did not set, so other tools
//! (cost allocation, AWS Backup, humans) can tag the same resources without a fight.

use std::collections::BTreeMap;

use crate::api::tags;

/// Tags as an ordered map, so comparisons ignore the order AWS returns them in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagSet(BTreeMap<String, String>);

impl TagSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.insert(key.into(), value.into());
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when the resource carries this environment's UID tag: the one rule that
    /// decides whether the operator may change or delete it.
    pub fn is_owned_by(&self, uid: &str) -> bool {
        self.get(tags::UID) == Some(uid)
    }

    /// The tags of `self` that `observed` lacks or holds with another value.
    pub fn missing_from(&self, observed: &TagSet) -> TagSet {
        self.iter().filter(|(k, v)| observed.get(k) != Some(*v)).collect()
    }

    /// `observed` with `self` laid over it, for APIs that replace the whole set
    /// (S3 `PutBucketTagging`). `aws:` tags are AWS's own and cannot be written, so they
    /// are left out.
    pub fn merged_over(&self, observed: &TagSet) -> TagSet {
        let mut out: TagSet = observed.iter().filter(|(k, _)| !k.starts_with("aws:")).collect();
        for (k, v) in self.iter() {
            out.insert(k, v);
        }
        out
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for TagSet {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_does_not_matter() {
        let a: TagSet = [("b", "2"), ("a", "1")].into_iter().collect();
        let b: TagSet = [("a", "1"), ("b", "2")].into_iter().collect();
        assert_eq!(a, b);
    }

    #[test]
    fn missing_ignores_foreign_tags() {
        let want: TagSet = [("a", "1"), ("b", "2")].into_iter().collect();
        let seen: TagSet = [("a", "1"), ("b", "old"), ("other", "x")].into_iter().collect();
        let missing = want.missing_from(&seen);
        assert_eq!(missing, [("b", "2")].into_iter().collect());
        let seen_ok: TagSet = [("a", "1"), ("b", "2"), ("other", "x")].into_iter().collect();
        assert!(want.missing_from(&seen_ok).is_empty());
    }

    #[test]
    fn merge_keeps_foreign_tags_but_not_aws_ones() {
        let want: TagSet = [("a", "1")].into_iter().collect();
        let seen: TagSet =
            [("a", "0"), ("cost", "x"), ("aws:cloudformation:stack-id", "y")].into_iter().collect();
        let merged = want.merged_over(&seen);
        assert_eq!(merged, [("a", "1"), ("cost", "x")].into_iter().collect());
    }

    #[test]
    fn ownership_is_the_uid_tag() {
        let t: TagSet = [(tags::UID, "u1")].into_iter().collect();
        assert!(t.is_owned_by("u1"));
        assert!(!t.is_owned_by("u2"));
        assert!(!TagSet::new().is_owned_by("u1"));
    }
}
