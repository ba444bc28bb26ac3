//! `spec.storage`: the REDCap file bucket (api step: types only, no I/O).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Versioning of the file bucket.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum BucketVersioning {
    /// Keep every version of every object (recommended; the seed enabled it for prod).
    #[default]
    Enabled,
    /// Keep only the latest version (the seed's default for non-prod stages).
    Suspended,
}

/// The REDCap file bucket and its access-log bucket. Both are encrypted with the
/// environment's KMS key, block public access and refuse plain HTTP.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("self.infrequentAccessAfterDays == 0 || self.infrequentAccessAfterDays >= 30")
        .message("spec.storage.infrequentAccessAfterDays must be 0 or at least 30 (S3 minimum for STANDARD_IA)")
        .field_path(".infrequentAccessAfterDays"),
    validation = Rule::new("self.infrequentAccessAfterDays == 0 || self.intelligentTieringAfterDays == 0 || self.intelligentTieringAfterDays >= self.infrequentAccessAfterDays + 30")
        .message("spec.storage.intelligentTieringAfterDays must be at least 30 days after spec.storage.infrequentAccessAfterDays")
        .field_path(".intelligentTieringAfterDays")
)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Name of the file bucket. Default: derived from the environment
    /// (`redcap-<namespace>-<name>-<hash>-files`). S3 bucket names are global, so a name
    /// owned by another account stalls the environment. Lower-case letters, digits and
    /// hyphens, 3..63 characters; dots are refused because they break HTTPS to S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(
        validation = Rule::new("self.matches('^[a-z0-9][a-z0-9-]*[a-z0-9]$') && !self.startsWith('xn--') && !self.startsWith('sthree-') && !self.startsWith('amzn-s3-demo-') && !self.endsWith('-s3alias') && !self.endsWith('--ol-s3') && !self.endsWith('--x-s3') && !self.endsWith('--table-s3')")
            .message("spec.storage.bucketName must be a valid S3 bucket name: lower-case letters, digits and hyphens, starting and ending with a letter or digit, no reserved prefix or suffix")
    )]
    #[schemars(length(min = 3, max = 63))]
    pub bucket_name: Option<String>,

    /// Object versioning of the file bucket. Default `Enabled`.
    #[serde(default)]
    pub versioning: BucketVersioning,

    /// Days after which objects move to STANDARD_IA; 0 disables the transition.
    /// Default 90 (seed).
    #[serde(default = "default_ia_days")]
    #[schemars(range(max = 36500))]
    pub infrequent_access_after_days: u32,

    /// Days after which objects move to INTELLIGENT_TIERING; 0 disables the transition.
    /// Default 180 (seed).
    #[serde(default = "default_tiering_days")]
    #[schemars(range(max = 36500))]
    pub intelligent_tiering_after_days: u32,

    /// Days after which non-current object versions expire; 0 (default) keeps them.
    #[serde(default)]
    #[schemars(range(max = 36500))]
    pub noncurrent_version_expiration_days: u32,

    /// Write server access logs of the file bucket to a separate log bucket. Default true.
    #[serde(default = "super::default_true")]
    pub access_logs: bool,

    /// Days between rotations of the access key REDCap uses for the file bucket (its
    /// built-in S3 storage needs static keys). The operator creates the new key, stores
    /// it in Secrets Manager, and deletes the previous key one day later. Default 90.
    #[serde(default = "default_rotation_days")]
    #[schemars(range(min = 1, max = 365))]
    pub access_key_rotation_days: u32,
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self {
            bucket_name: None,
            versioning: BucketVersioning::default(),
            infrequent_access_after_days: default_ia_days(),
            intelligent_tiering_after_days: default_tiering_days(),
            noncurrent_version_expiration_days: 0,
            access_logs: true,
            access_key_rotation_days: default_rotation_days(),
        }
    }
}

fn default_ia_days() -> u32 {
    90
}
fn default_tiering_days() -> u32 {
    180
}
pub(crate) fn default_rotation_days() -> u32 {
    90
}
