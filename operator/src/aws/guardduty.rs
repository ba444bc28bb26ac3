//! The region's GuardDuty detector (component `guardDuty`; step: observe / create /
//! update; there is no delete, see `plan::guardduty`).
//!
//! Decisions are made in `plan::guardduty`; this module only calls AWS, waiting for the
//! GuardDuty budget first. Two reads per pass when the spec enables GuardDuty, none
//! otherwise.

use aws_sdk_guardduty::types::{DetectorFeature, DetectorFeatureConfiguration, FeatureStatus};

use crate::plan::guardduty::{DesiredDetector, DetectorChange, ObservedDetector, detector_changes};

use super::resource::{Presence, Resource};
use super::{AwsCtx, AwsError};

fn enabled(features: &[&'static str]) -> Vec<DetectorFeatureConfiguration> {
    features
        .iter()
        .map(|f| {
            DetectorFeatureConfiguration::builder()
                .name(DetectorFeature::from(*f))
                .status(FeatureStatus::Enabled)
                .build()
        })
        .collect()
}

/// The region's detector, or `None` when the account has none here.
pub async fn observe(aws: &AwsCtx) -> Result<Option<ObservedDetector>, AwsError> {
    let list = aws.call(aws.guardduty.list_detectors().send()).await?;
    // One detector per account and region: the first is the one.
    let Some(id) = list.detector_ids().first().cloned() else {
        return Ok(None);
    };
    let Some(d) = aws.find(aws.guardduty.get_detector().detector_id(&id).send()).await? else {
        return Ok(None);
    };
    Ok(Some(ObservedDetector {
        status: d.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        features: d
            .features()
            .iter()
            .filter_map(|f| {
                Some((f.name()?.as_str().to_string(), f.status()?.as_str().to_string()))
            })
            .collect(),
        tags: d
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        id,
    }))
}

/// Creates the detector, enabled, with the wanted plans and the ownership tags. The
/// client token makes a retry after a lost answer return the same detector.
pub async fn create(aws: &AwsCtx, want: &DesiredDetector) -> Result<String, AwsError> {
    let out = aws
        .call(
            aws.guardduty
                .create_detector()
                .enable(true)
                .set_features(Some(enabled(&want.features)))
                .set_tags(Some(
                    want.tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                ))
                .client_token(&want.client_token)
                .send(),
        )
        .await?;
    Ok(out.detector_id().unwrap_or_default().to_string())
}

/// Enables the detector and the listed plans (plans not listed are left as they are).
pub async fn enable(
    aws: &AwsCtx,
    detector_id: &str,
    features: &[&'static str],
) -> Result<(), AwsError> {
    aws.run(
        aws.guardduty
            .update_detector()
            .detector_id(detector_id)
            .enable(true)
            .set_features((!features.is_empty()).then(|| enabled(features)))
            .send(),
    )
    .await
}

impl Resource for DesiredDetector {
    type Seen = ObservedDetector;
    type Change = DetectorChange;

    fn label(&self) -> String {
        "GuardDuty detector".to_string()
    }

    /// The region's detector, whoever made it: GuardDuty has one per account and region,
    /// so one the environment did not create is used (adopted, never tagged or deleted).
    async fn observe(
        &self,
        aws: &AwsCtx,
        _uid: &str,
    ) -> Result<Presence<ObservedDetector>, AwsError> {
        Ok(observe(aws).await?.map_or(Presence::Absent, Presence::Owned))
    }

    async fn create(&self, aws: &AwsCtx) -> Result<ObservedDetector, AwsError> {
        let id = create(aws, self).await?;
        Ok(ObservedDetector {
            id,
            status: "ENABLED".into(),
            features: self
                .features
                .iter()
                .map(|f| (f.to_string(), "ENABLED".to_string()))
                .collect(),
            tags: self.tags.clone(),
        })
    }

    fn changes(&self, seen: &ObservedDetector) -> Vec<DetectorChange> {
        detector_changes(self, seen)
    }

    async fn update(
        &self,
        aws: &AwsCtx,
        seen: &ObservedDetector,
        _: &[DetectorChange],
    ) -> Result<(), AwsError> {
        enable(aws, &seen.id, &self.features).await
    }
}
