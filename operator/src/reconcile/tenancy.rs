//! The tenancy policy applied to one environment before any AWS write (step: reconcile).
//!
//! The spec's role, DNS names, zones and from-address are checked without AWS
//! (`TenancyPolicy::check_spec`); the restore source needs one describe call to read its
//! ownership tags. Both run before the component walk, so a refused environment is
//! `Stalled` with nothing created.

use kube::ResourceExt;

use crate::api::{AwsSpec, ComponentName, RedcapEnvironment};
use crate::aws::rds::{self, snapshots};
use crate::aws::{AwsCtx, AwsFactory};
use crate::plan::TagSet;
use crate::plan::database::restore::RestoreSource;
use crate::tenancy::{RoleAccess, TenancyPolicy, session_name};

use super::error::{ComponentError, Error};

/// AWS clients for the environment: its role (as the policy allows it), the policy's
/// external ID and a session name naming the environment.
pub async fn aws_context(
    factory: &AwsFactory,
    env: &RedcapEnvironment,
    access: &RoleAccess,
) -> Result<AwsCtx, Error> {
    let spec = AwsSpec { external_id: access.external_id.clone(), ..env.spec.aws.clone() };
    let session = session_name(&env.namespace().unwrap_or_default(), &env.name_any());
    factory
        .context_as(&spec, &session)
        .await
        .map_err(|source| Error::Aws { region: env.spec.aws.region.clone(), source })
}

/// Refuses a `spec.database.restoreFrom` source that belongs to another namespace's
/// environment (or to none) unless the policy allows it. A source that does not exist or
/// an invalid `restoreFrom` is left to the database component, which says so.
pub async fn check_restore_source(
    aws: &AwsCtx,
    env: &RedcapEnvironment,
    policy: &TenancyPolicy,
) -> Result<(), Error> {
    let Some(restore_from) = &env.spec.database.restore_from else {
        return Ok(());
    };
    let Ok(source) = RestoreSource::from_spec(restore_from) else {
        return Ok(());
    };
    let aws_failed = |source| Error::Component {
        source: ComponentError::Aws { component: ComponentName::Database, source },
    };
    let tags: Option<TagSet> = match &source {
        RestoreSource::Snapshot(id) => {
            snapshots::describe_snapshot(aws, id).await.map_err(aws_failed)?.map(|s| s.tags)
        }
        RestoreSource::PointInTime { cluster, .. } => {
            rds::describe_cluster(aws, cluster).await.map_err(aws_failed)?.map(|c| c.tags)
        }
    };
    let Some(tags) = tags else {
        return Ok(());
    };
    policy
        .check_restore_source(&env.namespace().unwrap_or_default(), &tags, &source.describe())
        .map_err(Error::NotPermitted)
}
