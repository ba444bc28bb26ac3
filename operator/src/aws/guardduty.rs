//! The region's GuardDuty detector (component `guardDuty`; step: observe / create /
//! update; there is no delete, see `plan::guardduty`).
//!
//! Decisions are made in `plan::guardduty`; this module only calls AWS, waiting for the
//! GuardDuty budget first. Two reads per pass when the spec enables GuardDuty, none
//! otherwise.

use aws_sdk_guardduty::types::{DetectorFeature, DetectorFeatureConfiguration, FeatureStatus};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::plan::guardduty::{DesiredDetector, ObservedDetector};

use super::error::classify;
use super::{AwsCtx, AwsError, Service};

const SERVICE: &str = "guardduty";

/// GuardDuty codes that retrying cannot fix (on top of the common list).
pub const TERMINAL_CODES: &[&str] = &["BadRequestException"];

fn err<E>(operation: &'static str, e: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    classify(SERVICE, operation, TERMINAL_CODES, e)
}

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
    aws.permit(Service::GuardDuty).await;
    let list = aws
        .guardduty
        .list_detectors()
        .send()
        .await
        .map_err(|e| err("ListDetectors", e))?;
    // One detector per account and region: the first is the one.
    let Some(id) = list.detector_ids().first().cloned() else {
        return Ok(None);
    };
    aws.permit(Service::GuardDuty).await;
    let d = match aws.guardduty.get_detector().detector_id(&id).send().await {
        Ok(d) => d,
        Err(e) => {
            let e = err("GetDetector", e);
            return if e.is_not_found() { Ok(None) } else { Err(e) };
        }
    };
    Ok(Some(ObservedDetector {
        status: d
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        features: d
            .features()
            .iter()
            .filter_map(|f| {
                Some((
                    f.name()?.as_str().to_string(),
                    f.status()?.as_str().to_string(),
                ))
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
pub async fn create(aws: &AwsCtx, want: &DesiredDetector, token: &str) -> Result<String, AwsError> {
    aws.permit(Service::GuardDuty).await;
    let out = aws
        .guardduty
        .create_detector()
        .enable(true)
        .set_features(Some(enabled(&want.features)))
        .set_tags(Some(
            want.tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
        .client_token(token)
        .send()
        .await
        .map_err(|e| err("CreateDetector", e))?;
    Ok(out.detector_id().unwrap_or_default().to_string())
}

/// Enables the detector and the listed plans (plans not listed are left as they are).
pub async fn enable(
    aws: &AwsCtx,
    detector_id: &str,
    features: &[&'static str],
) -> Result<(), AwsError> {
    aws.permit(Service::GuardDuty).await;
    aws.guardduty
        .update_detector()
        .detector_id(detector_id)
        .enable(true)
        .set_features((!features.is_empty()).then(|| enabled(features)))
        .send()
        .await
        .map_err(|e| err("UpdateDetector", e))?;
    Ok(())
}
