//! The cluster parameter group's settings (step: plan; pure).
//!
//! Desired: `max_allowed_packet` plus `spec.database.parameters`. Observed: only what was
//! set on the group (`DescribeDBClusterParameters` with `Source=user`), so engine defaults
//! never show up as drift. A parameter set by hand and absent from the spec is reset to
//! its default. Values are compared as the strings AWS stores.

use std::collections::BTreeMap;

use crate::api::DatabaseSpec;
use crate::plan::PlanError;

/// `ModifyDBClusterParameterGroup` and `ResetDBClusterParameterGroup` take at most this
/// many parameters per call.
pub const MAX_PER_CALL: usize = 20;

/// The parameters the spec asks for.
pub fn desired_parameters(spec: &DatabaseSpec) -> Result<BTreeMap<String, String>, PlanError> {
    let mut out = BTreeMap::new();
    out.insert("max_allowed_packet".to_string(), spec.max_allowed_packet.to_string());
    for p in &spec.parameters {
        if out.insert(p.name.clone(), p.value.clone()).is_some() {
            return Err(PlanError::InvalidSpec {
                field: "spec.database.parameters",
                message: format!(
                    "{} is set twice (max_allowed_packet belongs in spec.database.maxAllowedPacket)",
                    p.name
                ),
            });
        }
    }
    Ok(out)
}

/// What to write to the parameter group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParameterChanges {
    /// Parameters to set, with their values.
    pub set: Vec<(String, String)>,
    /// Parameters set on the group that the spec does not name: back to the default.
    pub reset: Vec<String>,
}

impl ParameterChanges {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.reset.is_empty()
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.set.is_empty() {
            let names: Vec<&str> = self.set.iter().map(|(n, _)| n.as_str()).collect();
            parts.push(format!("set {}", names.join(", ")));
        }
        if !self.reset.is_empty() {
            parts.push(format!("reset {}", self.reset.join(", ")));
        }
        parts.join("; ")
    }
}

/// The changes that bring the group's user-set parameters to `want`.
pub fn parameter_changes(
    want: &BTreeMap<String, String>,
    seen: &BTreeMap<String, String>,
) -> ParameterChanges {
    ParameterChanges {
        set: want
            .iter()
            .filter(|(k, v)| seen.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        reset: seen.keys().filter(|k| !want.contains_key(*k)).cloned().collect(),
    }
}

/// `immediate` for dynamic parameters, `pending-reboot` for static ones and for names
/// whose apply type is unknown (AWS refuses `immediate` for a static parameter).
pub fn apply_method(apply_type: Option<&str>) -> &'static str {
    match apply_type {
        Some(t) if t.eq_ignore_ascii_case("dynamic") => "immediate",
        _ => "pending-reboot",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::DbParameter;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn desired_includes_max_allowed_packet() {
        let mut spec = DatabaseSpec::default();
        spec.parameters
            .push(DbParameter { name: "sort_buffer_size".into(), value: "2097152".into() });
        assert_eq!(
            desired_parameters(&spec).expect("valid"),
            map(&[("max_allowed_packet", "4194304"), ("sort_buffer_size", "2097152")])
        );
        spec.parameters.push(DbParameter { name: "max_allowed_packet".into(), value: "1".into() });
        assert!(desired_parameters(&spec).is_err());
    }

    #[test]
    fn diff_sets_changed_and_resets_unknown() {
        let want = map(&[("max_allowed_packet", "1073741824"), ("sort_buffer_size", "2097152")]);
        let seen = map(&[
            ("max_allowed_packet", "4194304"),
            ("sort_buffer_size", "2097152"),
            ("general_log", "1"),
        ]);
        let c = parameter_changes(&want, &seen);
        assert_eq!(c.set, vec![("max_allowed_packet".into(), "1073741824".into())]);
        assert_eq!(c.reset, vec!["general_log".to_string()]);
        assert_eq!(c.describe(), "set max_allowed_packet; reset general_log");
        assert!(parameter_changes(&want, &want).is_empty());
    }

    #[test]
    fn apply_methods() {
        assert_eq!(apply_method(Some("dynamic")), "immediate");
        assert_eq!(apply_method(Some("static")), "pending-reboot");
        assert_eq!(apply_method(None), "pending-reboot");
    }
}
