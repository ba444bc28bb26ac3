//! Desired state of the GuardDuty detector (component `guardDuty`; step: plan, pure).
//!
//! GuardDuty has one detector per account and region, shared by everything in it. The
//! operator creates one (tagged as its own) when none exists, adopts an existing one
//! otherwise, and only ever turns things on: it enables the detector and the protection
//! plans the spec lists, never disables a plan someone else enabled, and never deletes a
//! detector (not even its own: another environment or team in the account may rely on
//! it, and a detector holds the findings history).

use std::collections::BTreeMap;

use crate::api::{ComponentName, GuardDutyFeature, GuardDutySpec, Tag};

use super::tags::TagSet;
use super::{EnvIdentity, PlanError};

/// GuardDuty's name for a protection plan.
pub fn feature_name(feature: GuardDutyFeature) -> &'static str {
    match feature {
        GuardDutyFeature::S3DataEvents => "S3_DATA_EVENTS",
        GuardDutyFeature::RdsLoginEvents => "RDS_LOGIN_EVENTS",
        GuardDutyFeature::LambdaNetworkLogs => "LAMBDA_NETWORK_LOGS",
        GuardDutyFeature::EbsMalwareProtection => "EBS_MALWARE_PROTECTION",
        GuardDutyFeature::RuntimeMonitoring => "RUNTIME_MONITORING",
    }
}

/// The detector the spec asks for (`None` in [`desired_detector`] when it asks none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredDetector {
    /// Protection plans to enable, GuardDuty's names, sorted.
    pub features: Vec<&'static str>,
    /// Tags for a detector the operator creates (an adopted one is not tagged).
    pub tags: TagSet,
    /// Client token of the create: the same for a retry after a lost answer, a new one
    /// per spec generation.
    pub client_token: String,
}

/// What GuardDuty says about the region's detector.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedDetector {
    pub id: String,
    /// `ENABLED` or `DISABLED`.
    pub status: String,
    /// Protection plan name -> `ENABLED` / `DISABLED`.
    pub features: BTreeMap<String, String>,
    pub tags: TagSet,
}

/// One correction of an existing detector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DetectorChange {
    /// The detector is suspended: turn it back on.
    Enable,
    /// Plans the spec lists that are not enabled.
    EnableFeatures(Vec<&'static str>),
}

impl crate::plan::Describe for DetectorChange {
    fn describe(&self) -> String {
        match self {
            DetectorChange::Enable => "detector suspended".to_string(),
            DetectorChange::EnableFeatures(f) => format!("{} not enabled", f.join(", ")),
        }
    }
}

/// The detector for the spec, or `None` when `spec.guardDuty.enabled` is false.
/// `generation` is the object's `metadata.generation` (the create's client token).
pub fn desired_detector(
    id: &EnvIdentity,
    spec: &GuardDutySpec,
    extra_tags: &[Tag],
    generation: Option<i64>,
) -> Result<Option<DesiredDetector>, PlanError> {
    if !spec.enabled {
        return Ok(None);
    }
    let mut features: Vec<&'static str> = spec.features.iter().map(|f| feature_name(*f)).collect();
    features.sort_unstable();
    features.dedup();
    Ok(Some(DesiredDetector {
        features,
        tags: id.ownership_tags(ComponentName::GuardDuty, extra_tags)?,
        client_token: format!(
            "{}-{}",
            id.environment_id(),
            super::cfn::attempt_salt(generation, None)
        ),
    }))
}

/// What to turn on. Plans enabled beyond the spec are left as they are.
pub fn detector_changes(want: &DesiredDetector, seen: &ObservedDetector) -> Vec<DetectorChange> {
    let mut changes = Vec::new();
    if seen.status != "ENABLED" {
        changes.push(DetectorChange::Enable);
    }
    let off: Vec<&'static str> = want
        .features
        .iter()
        .copied()
        .filter(|f| seen.features.get(*f).map(String::as_str) != Some("ENABLED"))
        .collect();
    if !off.is_empty() {
        changes.push(DetectorChange::EnableFeatures(off));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::tags;

    fn identity() -> EnvIdentity {
        EnvIdentity::test()
    }

    fn spec(enabled: bool) -> GuardDutySpec {
        GuardDutySpec { enabled, ..GuardDutySpec::default() }
    }

    fn seen(status: &str, features: &[(&str, &str)]) -> ObservedDetector {
        ObservedDetector {
            id: "d1".into(),
            status: status.into(),
            features: features.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            tags: TagSet::new(),
        }
    }

    #[test]
    fn disabled_spec_wants_nothing() {
        assert_eq!(desired_detector(&identity(), &spec(false), &[], Some(1)), Ok(None));
    }

    #[test]
    fn default_plans_are_the_seeds() {
        let want = desired_detector(&identity(), &spec(true), &[], Some(1))
            .expect("plan")
            .expect("wanted");
        assert_eq!(want.features, ["LAMBDA_NETWORK_LOGS", "RDS_LOGIN_EVENTS", "S3_DATA_EVENTS"]);
        assert_eq!(want.tags.get(tags::COMPONENT), Some("guardDuty"));
    }

    #[test]
    fn only_turns_things_on() {
        let want = desired_detector(&identity(), &spec(true), &[], Some(1))
            .expect("plan")
            .expect("wanted");
        let all_on = seen(
            "ENABLED",
            &[
                ("S3_DATA_EVENTS", "ENABLED"),
                ("RDS_LOGIN_EVENTS", "ENABLED"),
                ("LAMBDA_NETWORK_LOGS", "ENABLED"),
                ("EKS_AUDIT_LOGS", "ENABLED"),
            ],
        );
        assert!(detector_changes(&want, &all_on).is_empty());
        let partly =
            seen("DISABLED", &[("S3_DATA_EVENTS", "ENABLED"), ("RDS_LOGIN_EVENTS", "DISABLED")]);
        assert_eq!(
            detector_changes(&want, &partly),
            vec![
                DetectorChange::Enable,
                DetectorChange::EnableFeatures(vec!["LAMBDA_NETWORK_LOGS", "RDS_LOGIN_EVENTS"])
            ]
        );
    }
}
