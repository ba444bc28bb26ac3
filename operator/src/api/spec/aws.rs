//! `spec.aws`: account access, region and extra tags (api step: types only, no I/O).

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// AWS account access and region.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("!has(self.externalId) || has(self.roleArn)")
        .message("spec.aws.externalId needs spec.aws.roleArn: the external ID is passed when assuming that role")
        .field_path(".externalId"),
    validation = Rule::new("has(self.roleArn) == has(oldSelf.roleArn) && (!has(self.roleArn) || self.roleArn == oldSelf.roleArn)")
        .message("spec.aws.roleArn is immutable: changing the role would build the environment again in another account and orphan what it has; create a new environment instead")
        .field_path(".roleArn")
)]
#[serde(rename_all = "camelCase")]
pub struct AwsSpec {
    /// AWS region of every resource of this environment, e.g. `us-east-1` (seed:
    /// `region`). Cannot be changed after creation: moving a stage means a new
    /// environment restored from a snapshot.
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.aws.region is immutable: create a new environment to move regions"))]
    #[schemars(length(min = 9, max = 32), regex(pattern = r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$"))]
    pub region: String,

    /// IAM role the operator assumes for this environment, so stages can live in
    /// different accounts (replaces the seed's AWS `profile`). Without it the operator's
    /// own credentials are used. The operator's tenancy policy must bind the role to the
    /// environment's namespace; the session is named `redcap-<namespace>.<name>`.
    /// Cannot be set, changed or removed after creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 2048),
        regex(pattern = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$")
    )]
    pub role_arn: Option<String>,

    /// External ID to pass when assuming `roleArn` (the confused-deputy guard the role's
    /// trust policy may require). The operator passes the one its tenancy policy binds to
    /// the role; when set here it must equal that one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1224), regex(pattern = r"^[\w+=,.@:/-]+$"))]
    pub external_id: Option<String>,

    /// Extra tags put on every AWS resource of this environment, in addition to the
    /// operator's ownership tags and the seed's `deployment` tag. At most 40.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 40))]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["key".into()]))]
    pub tags: Vec<Tag>,
}

impl AwsSpec {
    /// Access through the operator's own credentials, no extra tags.
    pub fn new(region: impl Into<String>) -> Self {
        Self { region: region.into(), role_arn: None, external_id: None, tags: Vec::new() }
    }
}

/// One AWS tag.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[x_kube(
    validation = Rule::new("!self.key.startsWith('aws:') && !self.key.startsWith('redcap.dev/') && self.key != 'deployment'")
        .message("spec.aws.tags[].key must not start with aws: or redcap.dev/ and must not be deployment: those keys are reserved")
        .field_path(".key")
)]
pub struct Tag {
    /// Tag key (1..128 characters).
    #[schemars(length(min = 1, max = 128))]
    pub key: String,
    /// Tag value (up to 256 characters).
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub value: String,
}
