//! `.status` of a `RedcapEnvironment`: what the operator observed and did.
//!
//! kstatus contract (Argo CD, Flux, `kubectl wait`): `observedGeneration` plus the
//! `Ready`, `Reconciling` and `Stalled` conditions, published from the first reconcile.
//! Secret values never appear here: only ARNs, ids and Kubernetes Secret references.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ComponentName;

/// Observed state of a `RedcapEnvironment`.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedcapEnvironmentStatus {
    /// The `metadata.generation` this status describes. When it lags behind the
    /// generation, the operator has not yet acted on the latest spec.
    pub observed_generation: Option<i64>,

    /// One-word summary for humans and `kubectl get`: Pending, Provisioning, Ready,
    /// Updating, Suspended, Stalled or Deleting.
    pub phase: Option<Phase>,

    /// Why the environment is in its phase, in one sentence.
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

    /// The Aurora cluster: identifiers, versions, snapshots, restores (never secrets).
    pub database: Option<super::DatabaseStatus>,
    /// The REDCap image: the tag the spec asks for, its build, and the image to deploy.
    pub image: Option<ImageStatus>,
    /// The service that runs REDCap: its kind, the image it runs, its tasks and its
    /// newest deployment.
    pub compute: Option<super::ComputeStatus>,
    /// The WAF web ACL in front of REDCap: its ARN, capacity used and associations.
    pub firewall: Option<super::FirewallStatus>,
    /// The schedule that calls REDCap's `cron.php`: expression, URL (never the token)
    /// and the last failure EventBridge reports.
    pub cron: Option<super::CronStatus>,

    /// The deterministic prefix of every AWS name this environment owns
    /// (derived from namespace, name and UID; fixed for the life of the object).
    pub environment_id: Option<String>,

    /// Time of the last reconcile that completed without error.
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
    /// The spec section is validated, but this operator version does not act on it yet
    /// (see docs/components.md).
    Planned,
}

/// Status of one AWS component.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatus {
    /// Which component (docs/components.md lists them).
    #[schemars(schema_with = "component_name_schema")]
    pub name: ComponentName,
    /// Current lifecycle state.
    pub state: ComponentState,
    /// AWS identifier (bucket name, key id, cluster identifier, ...).
    pub id: Option<String>,
    /// AWS ARN, when the resource has one.
    pub arn: Option<String>,
    /// When `state` last changed.
    pub last_transition_time: Option<Time>,
    /// Human-readable detail: what is in progress, what drifted, or what failed.
    pub message: Option<String>,
}

/// What users need from a running environment. Only non-secret values.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Outputs {
    /// The URL users open (custom domain when configured, else the service URL).
    pub url: Option<String>,
    /// ARN of the environment's customer-managed KMS key.
    pub kms_key_arn: Option<String>,
    /// Alias of the environment's KMS key (`alias/...`).
    pub kms_key_alias: Option<String>,
    /// Id of the environment's VPC.
    pub vpc_id: Option<String>,
    /// Public IPs every outbound connection of the environment comes from (its NAT
    /// gateways): add them to allow-lists of the services REDCap calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nat_egress_ips: Vec<String>,
    /// Name of the REDCap file (edocs) bucket.
    pub file_bucket: Option<String>,
    /// Name of the bucket that receives the file bucket's server access logs.
    pub access_log_bucket: Option<String>,
    /// The compute service's own HTTPS URL (App Runner, ECS Express or load balancer
    /// name), also when a custom domain is served (seed: `AppRunnerServiceUrl`,
    /// `EcsServiceUrl`).
    pub service_url: Option<String>,
    /// Name servers of the hosted zone the operator created, to delegate the site from
    /// its parent zone (seed: `NameServers`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub name_servers: Vec<String>,
    /// The ACM certificate of the site: `spec.domain.certificateArn`, or the one the
    /// operator requested (DNS-validated) for a compute kind that terminates TLS with it.
    pub certificate_arn: Option<String>,
    /// What the site's name points at: the load balancer (EcsFargate, EcsExpress) or App
    /// Runner's domain for the site (AppRunner).
    pub site_target: Option<String>,
    /// DNS records you must create yourself (`spec.domain.hostedZone.mode: None`, or
    /// records outside the managed zone): certificate validation, SES DKIM and MAIL FROM,
    /// the site's own name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_records: Vec<DnsRecord>,
    /// Writer endpoint of the Aurora cluster.
    pub database_endpoint: Option<String>,
    /// Reader endpoint of the Aurora cluster.
    pub database_reader_endpoint: Option<String>,
    /// Command that opens a tunnel to the maintenance server on https://localhost:8081
    /// (seed: `ssmPortForward`).
    pub port_forward_command: Option<String>,
    /// When the maintenance server is removed (`spec.maintenanceServer.ttl` after it was
    /// created).
    pub maintenance_server_expires_at: Option<Time>,
    /// The environment's Secrets Manager secrets: ARNs and rotation times, never values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretOutput>,
    /// The Kubernetes Secret key that holds the shared secret of `cron.php`.
    pub cron_secret_ref: Option<crate::api::SecretKeyRef>,
    /// The Amazon SES identity REDCap sends from, and its verification state.
    pub email: Option<EmailOutputs>,
    /// The REDCap image the compute service runs, by digest
    /// (`<account>.dkr.ecr.<region>.amazonaws.com/redcap/<environmentId>@sha256:...`).
    pub image: Option<String>,
}

/// The REDCap image and its build.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageStatus {
    /// The REDCap version the requested image is built from (`spec.redcap.version`).
    pub version: String,
    /// Tag of the image the spec asks for: `<version>[-<deployTag>]-<12 hex>`, the hex
    /// naming every input of the image (see docs/reference/spec.md, "Image tags").
    pub tag: String,
    /// Revision of the container definition (`containers/redcap/`) this operator embeds:
    /// the first 12 hex digits of its sha256.
    pub container_revision: String,
    /// The environment's private ECR repository.
    pub repository: Option<String>,
    /// The latest CodeBuild build of `tag`.
    pub build: Option<ImageBuildStatus>,
    /// Digest of `tag` in the repository, once it is built.
    pub digest: Option<String>,
    /// The image to run, `<repository>@sha256:<digest>`: `tag`'s once built, the
    /// previous image while a new one is being built. Never a mutable tag.
    pub reference: Option<String>,
    /// The REDCap version `reference` holds (differs from `version` while a new version
    /// is being built).
    pub reference_version: Option<String>,
    /// ARN of the Secrets Manager copy of the consortium credentials
    /// (`spec.redcap.source.community`), which the build reads.
    pub credentials_secret_arn: Option<String>,
}

/// One CodeBuild build of the image.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageBuildStatus {
    /// Build id (`<project>:<uuid>`).
    pub id: String,
    /// `IN_PROGRESS`, `SUCCEEDED`, `FAILED`, `FAULT`, `TIMED_OUT` or `STOPPED`.
    pub status: String,
    /// The phase the build is in (`PROVISIONING`, `PRE_BUILD`, `BUILD`, ... `COMPLETED`).
    pub phase: String,
    /// The phase that failed, for a failed build.
    pub failed_phase: Option<String>,
    /// The build's log in the CloudWatch console.
    pub logs_url: Option<String>,
    /// When the build started.
    pub started_at: Option<Time>,
    /// When the build ended.
    pub ended_at: Option<Time>,
}

/// One Secrets Manager secret of the environment (never its value).
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretOutput {
    /// What the secret holds: `salt`, `storageCredentials` (S3 access key of REDCap) or
    /// `smtpCredentials` (SES SMTP user name and password).
    pub name: String,
    /// ARN of the secret.
    pub arn: String,
    /// When the credentials in the secret were created (the last rotation).
    pub rotated_at: Option<Time>,
    /// Days between rotations; absent for secrets that are never rotated (the salt).
    pub rotation_days: Option<u32>,
}

/// The Amazon SES side of the environment.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailOutputs {
    /// The SES identity: a domain, or an email address.
    pub identity: String,
    /// Verification state as SES reports it: `Pending`, `Success`, `Failed`,
    /// `TemporaryFailure` or `NotStarted`. Mail is only sent once it is `Success`.
    pub verification_status: Option<String>,
    /// Easy DKIM state of a domain identity (same values).
    pub dkim_status: Option<String>,
    /// The custom MAIL FROM domain of a domain identity.
    pub mail_from_domain: Option<String>,
    /// MAIL FROM state (`Pending`, `Success`, `Failed`, `TemporaryFailure`).
    pub mail_from_status: Option<String>,
    /// Configuration set to name in the `X-SES-CONFIGURATION-SET` header, so bounces and
    /// complaints reach the notification topic.
    pub configuration_set: Option<String>,
    /// SNS topic that receives bounces and complaints.
    pub notification_topic_arn: Option<String>,
    /// SES SMTP endpoint (port 587, STARTTLS).
    pub smtp_endpoint: Option<String>,
}

/// A DNS record to create at your DNS provider.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnsRecord {
    /// Fully qualified record name.
    pub name: String,
    /// Record type: `CNAME`, `MX`, `TXT`, `NS`, ...
    #[serde(rename = "type")]
    pub type_: String,
    /// Record value, as the DNS provider expects it.
    pub value: String,
    /// What the record is for, e.g. `certificate validation`, `SES DKIM`.
    pub purpose: Option<String>,
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

/// A component name as a patterned string rather than a closed enum, so a new component
/// does not change the CRD.
fn component_name_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "pattern": "^[a-z][A-Za-z0-9]{0,62}$",
    })
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
