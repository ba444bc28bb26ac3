//! What the walk hands to the components that run REDCap (compute, firewall): the
//! runtime role's policy over exactly the secrets that exist (`status.outputs.secrets`,
//! the database's master secret included), with the key they are encrypted with, and
//! `rds-db:connect` as the REDCap user once the database exists. Nothing here reaches
//! status.

use crate::plan::database::REDCAP_DB_USER;
use crate::plan::secrets::{DbUserAccess, RuntimeAccess, runtime_policy};
use crate::reconcile::walk::Walk;

/// Fills `w.runtime` from what the pass produced.
pub fn runtime_handoff(w: &mut Walk<'_>) {
    let Some(key) = &w.key else {
        return;
    };
    let secret_arns: Vec<String> = w.outputs.secrets.iter().map(|s| s.arn.clone()).collect();
    w.runtime.runtime_policy = Some(runtime_policy(&RuntimeAccess {
        partition: w.id.partition().to_string(),
        region: w.id.region.clone(),
        account: key.account.clone(),
        secret_arns: secret_arns.clone(),
        kms_key_arn: key.arn.clone(),
        database: w.runtime.database.as_ref().map(|d| DbUserAccess {
            cluster_resource_id: d.cluster_resource_id.clone(),
            user: REDCAP_DB_USER.to_string(),
        }),
    }));
    w.runtime.secret_arns = secret_arns;
}
