//! What earlier components hand to the ones that run REDCap (compute, firewall, cron):
//! the image by digest, the database connection, the secrets and the runtime role's
//! policy (step: plan; values only). Secret values stay in [`SecretString`]s; nothing
//! here goes to status, Events or logs.

use crate::plan::secret::SecretString;

/// What the compute and firewall components take from this pass. Secret values stay in
/// [`SecretString`]s; nothing here goes to status, Events or logs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuntimeHandoff {
    /// The cron token: the firewall admits the cron path only with it in the header
    /// `plan::cron::CRON_TOKEN_HEADER`, and the cron schedule's connection sends it.
    pub cron_token: Option<SecretString>,
    /// What serves REDCap, for the firewall to associate its web ACL with (load
    /// balancer or App Runner service ARNs), set by compute once it got that far in this
    /// pass. `None`: unknown this pass (compute failed or waited before looking), so the
    /// firewall leaves the associations as they are.
    pub fronts: Option<Vec<String>>,
    /// Fingerprints (`plan::cron::fingerprint`) of the cron tokens the environment's own
    /// web ACL accepts after this pass; `None` when the firewall did not get that far or
    /// an external web ACL is used. The cron connection moves to a new token only once
    /// the firewall accepts it.
    pub firewall_accepts: Option<Vec<String>>,
    /// The secrets REDCap reads at start (salt, storage and SMTP credentials).
    pub secret_arns: Vec<String>,
    /// The runtime role's policy (`plan::secrets::runtime_policy`), without the database
    /// statement until the database component provides the cluster.
    pub runtime_policy: Option<serde_json::Value>,
    /// The cluster REDCap connects to, once it is available.
    pub database: Option<DatabaseHandoff>,
    /// A restore (`spec.database.restoreFrom`) is built but not cut over yet: the image
    /// and compute steps hold a REDCap version change until it is done, so the new
    /// version's database upgrade runs against the restored data, never the old cluster
    /// (seed issue 107).
    pub database_cutover_pending: bool,
    /// The REDCap image to run, by digest (`<repository>@sha256:...`); `None` until one
    /// has been built.
    pub image: Option<String>,
    /// The REDCap version of `image`.
    pub image_version: Option<String>,
}

/// What the compute component needs to connect REDCap to the database. No secrets: the
/// master password stays in its Secrets Manager secret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatabaseHandoff {
    pub cluster_identifier: String,
    /// `DbClusterResourceId`, for the `rds-db:connect` statement of the runtime role.
    pub cluster_resource_id: String,
    pub endpoint: String,
    /// Absent without readers.
    pub reader_endpoint: Option<String>,
    pub port: i32,
    pub database_name: String,
    /// The RDS-managed master user secret.
    pub master_secret_arn: Option<String>,
    pub iam_authentication: bool,
}
