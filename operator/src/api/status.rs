//! `.status` of a `RedcapEnvironment`: what the operator observed and did.
//!
//! kstatus contract (Argo CD, Flux, `kubectl wait`): `observedGeneration` plus the
//! `Ready`, `Reconciling` and `Stalled` conditions, published from the first reconcile.
//! Secret values never appear here: only ARNs, ids and Kubernetes Secret references.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a `RedcapEnvironment`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedcapEnvironmentStatus {
    /// The `metadata.generation` this status describes. When it lags behind the
    /// generation, the operator has not yet acted on the latest spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// One-word summary for humans and `kubectl get`: Pending, Provisioning, Ready,
    /// Updating, Suspended, Stalled or Deleting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,

    /// Why the environment is in its phase, in one sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_reason: Option<String>,

    /// Standard conditions: `Ready`, `Reconciling`, `Stalled` (kstatus) and one
    /// `<Component>Ready` per component.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,

    /// One entry per AWS component, in dependency order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "components_schema")]
    pub components: Vec<ComponentStatus>,

    /// What users need from the environment: URLs, endpoints, bucket names, ARNs.
    #[serde(default, skip_serializing_if = "Outputs::is_empty")]
    pub outputs: Outputs,

    /// The deterministic prefix of every AWS name this environment owns
    /// (derived from namespace, name and UID; fixed for the life of the object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,

    /// Time of the last reconcile that completed without error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reconcile_time: Option<Time>,
}

/// Summary phase of an environment.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    /// Accepted, nothing created yet.
    Pending,
    /// First creation of components is under way.
    Provisioning,
    /// Every component is in its desired state.
    Ready,
    /// A change to a running environment is being applied.
    Updating,
    /// `spec.suspend` is true: the operator makes no AWS writes.
    Suspended,
    /// A problem that retrying will not fix; see `phaseReason` and the `Stalled` condition.
    Stalled,
    /// The object is being deleted; components are handled per `deletionPolicy`.
    Deleting,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Provisioning => "Provisioning",
            Phase::Ready => "Ready",
            Phase::Updating => "Updating",
            Phase::Suspended => "Suspended",
            Phase::Stalled => "Stalled",
            Phase::Deleting => "Deleting",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The AWS components of an environment. The same noun is used in `plan/`, `aws/`,
/// `status.components[].name` and the `<Component>Ready` condition.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum ComponentName {
    /// Customer-managed KMS key (with rotation) and its alias.
    EncryptionKey,
    /// The REDCap file bucket and its server-access-log bucket.
    FileStorage,
}

impl ComponentName {
    /// Every component in dependency order (creation order; deletion is the reverse).
    pub const ALL: [ComponentName; 2] = [ComponentName::EncryptionKey, ComponentName::FileStorage];

    /// Name as written in status and tags (`encryptionKey`).
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentName::EncryptionKey => "encryptionKey",
            ComponentName::FileStorage => "fileStorage",
        }
    }

    /// Condition type for this component (`EncryptionKeyReady`).
    pub fn condition_type(self) -> &'static str {
        match self {
            ComponentName::EncryptionKey => "EncryptionKeyReady",
            ComponentName::FileStorage => "FileStorageReady",
        }
    }
}

impl std::fmt::Display for ComponentName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lifecycle state of one component.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ComponentState {
    /// Not created yet (waiting for a dependency, or suspended before creation).
    Pending,
    /// Being created.
    Creating,
    /// Being changed to match the spec (including drift correction).
    Updating,
    /// Matches the spec.
    Ready,
    /// Being deleted.
    Deleting,
    /// Deleted as the deletion policy asked.
    Deleted,
    /// Left in AWS on purpose by the deletion policy.
    Retained,
    /// A terminal problem; see `message`.
    Failed,
}

/// Status of one AWS component.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    /// Which component.
    pub name: ComponentName,
    /// Current lifecycle state.
    pub state: ComponentState,
    /// AWS identifier (bucket name, key id, cluster identifier, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// AWS ARN, when the resource has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// When `state` last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// Human-readable detail: what is in progress, what drifted, or what failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What users need from a running environment. Only non-secret values.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Outputs {
    /// The URL users open (custom domain when configured, else the service URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// ARN of the environment's customer-managed KMS key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// Alias of the environment's KMS key (`alias/...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_alias: Option<String>,
    /// Name of the REDCap file (edocs) bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_bucket: Option<String>,
    /// Name of the bucket that receives the file bucket's server access logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log_bucket: Option<String>,
}

impl Outputs {
    pub fn is_empty(&self) -> bool {
        self == &Outputs::default()
    }
}

/// `conditions` is a list-map keyed by `type`, so server-side apply merges per type.
fn conditions_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    list_map_schema::<Condition>(generator, "type")
}

/// `components` is a list-map keyed by `name`.
fn components_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    list_map_schema::<ComponentStatus>(generator, "name")
}

/// An array schema with `x-kubernetes-list-type: map` keyed by `key`.
pub(crate) fn list_map_schema<T: JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
    key: &str,
) -> schemars::Schema {
    let items = generator.subschema_for::<T>();
    schemars::json_schema!({
        "type": "array",
        "items": items,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": [key],
    })
}
