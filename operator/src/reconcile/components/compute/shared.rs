//! What every compute kind shares: the ECS cluster (it also hosts one-off tasks), the
//! container log group, the first administrator's initial password, and the roles the
//! kind runs under.

use crate::api::{ComputeKind, FailedDeployment};
use crate::aws::ecs;
use crate::aws::secrets::{self, SeededSecret};
use crate::plan::compute::fargate::DesiredCluster;
use crate::plan::compute::roles::{self, RoleScope};
use crate::plan::compute::{EXPRESS_SERVICE, FARGATE_SERVICE, cluster_name, log_group_name};
use crate::plan::iam::DesiredRole;
use crate::plan::image::builds::console_log_url;
use crate::plan::logs::desired_log_group;
use crate::plan::secret::{SecretString, random_password};
use crate::plan::secrets::{SecretPurpose, desired_secret};
use crate::plan::tags::TagSet;
use crate::reconcile::converge::{converge, converge_existing};
use crate::reconcile::error::{ComponentError, aws_err, invalid};
use crate::reconcile::ledger::Ledger;
use crate::reconcile::walk::{KeyRef, Walk};

use super::C;

/// Length of a generated initial password.
const SITE_ADMIN_PASSWORD_LEN: usize = 24;

/// The shared resources as this pass found or made them.
pub(super) struct Shared {
    pub cluster: String,
    pub log_group: String,
    /// The initial password's secret, once it exists.
    pub site_admin_secret: Option<String>,
}

pub(super) async fn apply(
    w: &mut Walk<'_>,
    l: &mut Ledger,
    key: &KeyRef,
    tags: &TagSet,
) -> Result<Shared, ComponentError> {
    let env_id = w.id.environment_id();
    let cluster = DesiredCluster { name: cluster_name(&env_id), tags: tags.clone() };
    converge(w.aws, &w.id.uid, l, &cluster).await?;
    let logs = desired_log_group(
        log_group_name(&env_id),
        tags.clone(),
        w.env.spec.logs.retention_days,
        &key.arn,
    )
    .map_err(invalid(C))?;
    converge(w.aws, &w.id.uid, l, &logs).await?;
    let site_admin_secret = site_admin(w, l, key).await?;
    Ok(Shared { cluster: cluster.name, log_group: logs.name, site_admin_secret })
}

/// The secret with the first administrator's initial password: created once (copied
/// from `initialPasswordSecretRef`, else generated) and never rewritten, because REDCap
/// only reads it when it installs.
async fn site_admin(
    w: &mut Walk<'_>,
    l: &mut Ledger,
    key: &KeyRef,
) -> Result<Option<String>, ComponentError> {
    let want =
        desired_secret(&w.id, SecretPurpose::SiteAdmin, &key.arn, None, &w.env.spec.aws.tags)
            .map_err(invalid(C))?;
    let existing = SeededSecret { want: &want, value: None };
    if let Some(seen) = converge_existing(w.aws, &w.id.uid, l, &existing).await? {
        return Ok(Some(publish(w, seen.arn)));
    }
    if !l.apply() {
        l.missing(format!("secret {} not created yet", want.name));
        return Ok(None);
    }
    let value = initial_password(w).await?;
    let seeded = SeededSecret { want: &want, value: Some(value) };
    Ok(converge(w.aws, &w.id.uid, l, &seeded).await?.map(|seen| publish(w, seen.arn)))
}

fn publish(w: &mut Walk<'_>, arn: String) -> String {
    w.outputs.secrets.push(crate::api::SecretOutput {
        name: SecretPurpose::SiteAdmin.as_str().to_string(),
        arn: arn.clone(),
        rotated_at: None,
        rotation_days: None,
    });
    arn
}

async fn initial_password(w: &Walk<'_>) -> Result<SecretString, ComponentError> {
    let Some(reference) = &w.env.spec.redcap.settings.site_admin.initial_password_secret_ref else {
        return Ok(random_password(SITE_ADMIN_PASSWORD_LEN));
    };
    let field = "spec.redcap.settings.siteAdmin.initialPasswordSecretRef";
    let namespace = &w.id.namespace;
    let data = w
        .secrets
        .get(namespace, &reference.name)
        .await
        .map_err(|e| ComponentError::SecretReference {
            component: C,
            class: if e.forbidden {
                crate::aws::ErrorClass::Terminal
            } else {
                crate::aws::ErrorClass::Recoverable
            },
            message: e.message,
        })?
        .ok_or_else(|| ComponentError::SecretReference {
            component: C,
            class: crate::aws::ErrorClass::Terminal,
            message: format!("{field}: Secret {namespace}/{} does not exist", reference.name),
        })?;
    let bytes = data.get(&reference.key).ok_or_else(|| ComponentError::SecretReference {
        component: C,
        class: crate::aws::ErrorClass::Terminal,
        message: format!(
            "{field}: Secret {namespace}/{} has no key {}",
            reference.name, reference.key
        ),
    })?;
    let text = String::from_utf8(bytes.clone()).map_err(|_| ComponentError::Invalid {
        component: C,
        message: format!(
            "{field}: key {} of Secret {namespace}/{} is not UTF-8 text",
            reference.key, reference.name
        ),
    })?;
    Ok(SecretString::new(text.trim_end_matches(['\r', '\n']).to_string()))
}

/// The ARNs of the roles a kind runs under.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RoleArns {
    /// ECS task role, or App Runner instance role: REDCap's own identity.
    pub runtime: String,
    /// ECS execution role (both ECS kinds).
    pub execution: Option<String>,
    /// ECS Express infrastructure role.
    pub infrastructure: Option<String>,
    /// App Runner access role (image pull).
    pub access: Option<String>,
}

/// The roles of `kind`, converged; `secrets`: exactly the secrets injected.
pub(super) fn desired_roles(
    scope: &RoleScope<'_>,
    kind: ComputeKind,
    runtime_policy: &serde_json::Value,
    secrets: &[String],
) -> Vec<DesiredRole> {
    match kind {
        ComputeKind::EcsFargate => {
            vec![roles::task_role(scope, runtime_policy), roles::execution_role(scope, secrets)]
        }
        ComputeKind::EcsExpress => vec![
            roles::task_role(scope, runtime_policy),
            roles::execution_role(scope, secrets),
            roles::infrastructure_role(scope),
        ],
        ComputeKind::AppRunner => {
            vec![roles::instance_role(scope, runtime_policy, secrets), roles::access_role(scope)]
        }
    }
}

/// Converges `roles`; returns their ARNs by purpose (the first is the runtime role).
pub(super) async fn converge_roles(
    w: &Walk<'_>,
    l: &mut Ledger,
    scope: &RoleScope<'_>,
    kind: ComputeKind,
    want: &[DesiredRole],
) -> Result<RoleArns, ComponentError> {
    for role in want {
        converge(w.aws, &w.id.uid, l, role).await?;
    }
    let arn =
        |suffix: &str| want.iter().find(|r| r.name.ends_with(suffix)).map(|r| roles::arn(scope, r));
    Ok(match kind {
        ComputeKind::EcsFargate | ComputeKind::EcsExpress => RoleArns {
            runtime: arn("-task").unwrap_or_default(),
            execution: arn("-exec"),
            infrastructure: arn("-infra"),
            access: None,
        },
        ComputeKind::AppRunner => RoleArns {
            runtime: arn("-instance").unwrap_or_default(),
            execution: None,
            infrastructure: None,
            access: arn("-apprunner-access"),
        },
    })
}

/// Every role name any kind uses (deletion removes them all).
pub(super) fn all_role_names(environment_id: &str) -> Vec<String> {
    ["task", "exec", "infra", "instance", "apprunner-access"]
        .iter()
        .map(|s| format!("{environment_id}-{s}"))
        .collect()
}

/// Deletes the site-admin secret (with the recovery window) at environment deletion.
pub(super) async fn delete_site_admin(w: &Walk<'_>, l: &mut Ledger) -> Result<(), ComponentError> {
    let name = crate::plan::secrets::secret_name(&w.id.environment_id(), SecretPurpose::SiteAdmin);
    let Some(seen) = secrets::observe(w.aws, &name).await.map_err(aws_err(C))? else {
        return Ok(());
    };
    if seen.tags.is_owned_by(&w.id.uid) && !seen.deleted {
        secrets::delete(w.aws, &seen.arn).await.map_err(aws_err(C))?;
        l.deleted(format!("secret {name} scheduled for deletion"));
    }
    Ok(())
}

/// What a failed ECS deployment (Fargate or Express) left to read: the last task of
/// `task_definition` that stopped, with its reason, exit code and a link to its log.
pub(super) async fn failed_deployment(
    w: &Walk<'_>,
    d: &super::Deploy<'_>,
    kind: ComputeKind,
    task_definition: Option<&str>,
    hash: &str,
    image: &str,
    reason: &str,
) -> Result<FailedDeployment, ComponentError> {
    let service = match kind {
        ComputeKind::EcsExpress => EXPRESS_SERVICE,
        _ => FARGATE_SERVICE,
    };
    let stopped = match task_definition {
        Some(revision) => ecs::last_stopped_task(w.aws, &d.cluster, service, revision)
            .await
            .map_err(aws_err(C))?,
        None => None,
    };
    let (reason, logs_url) = match stopped {
        Some(t) => (
            format!(
                "{reason}; task {} stopped: {}{}",
                t.task_id,
                t.reason,
                t.exit_code.map(|c| format!(" (exit code {c})")).unwrap_or_default()
            ),
            Some(console_log_url(&w.id.region, &d.log_group, &t.log_stream)),
        ),
        None => (reason.to_string(), None),
    };
    Ok(FailedDeployment {
        kind,
        content_hash: hash.to_string(),
        image: Some(image.to_string()),
        reason,
        logs_url,
    })
}
