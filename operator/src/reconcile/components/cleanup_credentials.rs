//! The finalizer path of the secrets, credentials and email components (step:
//! reconcile cleanup), in reverse dependency order: SMTP credentials, email, storage
//! credentials, secrets.
//!
//! IAM users and their keys go on every policy (they grant access, they hold no data),
//! and so do the credential secrets, with a recovery window. The salt is kept (tagged
//! `redcap.dev/retained=true`) unless the policy is `Delete`. The SES identity is deleted
//! only with `Delete`, and only when this environment created it (the topic's marker
//! tag), together with the DNS records it wrote for it. The cron Secret is removed by
//! Kubernetes' garbage collector (it is owned by the environment). Nothing without this
//! environment's UID tag is touched. No status writes here.

use crate::api::{ComponentName, ComponentState, DeletionPolicy, Outputs, RedcapEnvironment};
use crate::aws::{AwsCtx, dns, email, iam, kms, secrets};
use crate::plan::credentials::{CredentialKind, user_name};
use crate::plan::email::{
    DnsTarget, IDENTITY_MARKER_TAG, desired_email, owned_record_sets, ses_records, topic_arn,
};
use crate::plan::kms::desired_key;
use crate::plan::naming::{RETAINED_TAG, account_of_arn};
use crate::plan::secrets::{SecretDisposal, SecretPurpose, disposal, secret_name};
use crate::plan::{EnvIdentity, TagSet};

use super::super::report::ComponentReport;
use super::{ComponentError, aws_err, invalid, report};

/// Handles the four components per `deletionPolicy`; returns their reports in reverse
/// dependency order.
pub async fn cleanup_access(
    aws: &AwsCtx,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
    policy: DeletionPolicy,
    outputs: &mut Outputs,
) -> Result<Vec<ComponentReport>, ComponentError> {
    let smtp = cleanup_credentials(aws, id, CredentialKind::Smtp).await?;
    let mail = cleanup_email(aws, env, id, policy).await?;
    let storage = cleanup_credentials(aws, id, CredentialKind::Storage).await?;
    let salt = cleanup_salt(aws, id, policy, outputs).await?;
    Ok(vec![smtp, mail, storage, salt])
}

/// Deletes the secret if it is ours; returns what happened.
async fn delete_secret(
    aws: &AwsCtx,
    id: &EnvIdentity,
    purpose: SecretPurpose,
) -> Result<(bool, String), ComponentError> {
    let c = purpose.component();
    let name = secret_name(&id.environment_id(), purpose);
    match secrets::observe(aws, &name).await.map_err(aws_err(c))? {
        None => Ok((false, String::new())),
        Some(seen) if !seen.tags.is_owned_by(&id.uid) => Ok((
            false,
            format!("secret {name} is not owned by this environment; left untouched"),
        )),
        Some(seen) if seen.deleted => {
            Ok((false, format!("secret {name} is scheduled for deletion")))
        }
        Some(seen) => {
            secrets::delete(aws, &seen.arn).await.map_err(aws_err(c))?;
            Ok((
                true,
                format!(
                    "secret {name} scheduled for deletion in {} days",
                    crate::plan::secrets::RECOVERY_WINDOW_DAYS
                ),
            ))
        }
    }
}

async fn cleanup_credentials(
    aws: &AwsCtx,
    id: &EnvIdentity,
    kind: CredentialKind,
) -> Result<ComponentReport, ComponentError> {
    let c = kind.component();
    let user = user_name(&id.environment_id(), kind);
    let mut messages = Vec::new();
    let mut wrote = false;
    match iam::observe_user(aws, &user).await.map_err(aws_err(c))? {
        Some(seen) if seen.tags.is_owned_by(&id.uid) => {
            iam::delete_user(aws, &user, kind.policy_name())
                .await
                .map_err(aws_err(c))?;
            wrote = true;
            messages.push(format!("deleted IAM user {user} and its access keys"));
        }
        Some(_) => messages.push(format!(
            "IAM user {user} is not owned by this environment; left untouched"
        )),
        None => {}
    }
    let (deleted, message) = delete_secret(aws, id, SecretPurpose::from(kind)).await?;
    wrote |= deleted;
    if !message.is_empty() {
        messages.push(message);
    }
    let mut r = report(c, ComponentState::Deleted, messages.join("; "));
    r.id = Some(user);
    r.wrote = wrote;
    Ok(r)
}

/// The account id, from the recorded key ARN or, failing that, the key itself.
async fn account(
    aws: &AwsCtx,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
) -> Result<Option<String>, ComponentError> {
    let recorded = env
        .status
        .as_ref()
        .and_then(|s| s.outputs.kms_key_arn.as_deref())
        .and_then(account_of_arn)
        .map(str::to_string);
    if recorded.is_some() {
        return Ok(recorded);
    }
    let alias = desired_key(id, &[])
        .map_err(invalid(ComponentName::Email))?
        .alias;
    let key = kms::observe(aws, &alias)
        .await
        .map_err(aws_err(ComponentName::Email))?;
    Ok(key.and_then(|k| account_of_arn(&k.arn).map(str::to_string)))
}

async fn cleanup_email(
    aws: &AwsCtx,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
    policy: DeletionPolicy,
) -> Result<ComponentReport, ComponentError> {
    const C: ComponentName = ComponentName::Email;
    let err = aws_err(C);
    let environment_id = id.environment_id();
    let mut messages = Vec::new();
    let mut wrote = false;
    let set = format!("{environment_id}-mail");
    if email::observe_configuration_set(aws, &set)
        .await
        .map_err(&err)?
        .is_some()
    {
        email::delete_configuration_set(aws, &set)
            .await
            .map_err(&err)?;
        messages.push(format!("deleted SES configuration set {set}"));
        wrote = true;
    }
    let Some(account) = account(aws, env, id).await? else {
        // Without the key nothing else of the environment was ever created.
        let mut r = report(C, ComponentState::Deleted, messages.join("; "));
        r.wrote = wrote;
        return Ok(r);
    };
    let topic = topic_arn(
        id.partition(),
        &id.region,
        &account,
        &format!("{environment_id}-ses-notifications"),
    );
    let tags = email::topic_tags(aws, &topic).await.map_err(&err)?;
    let mut state = ComponentState::Deleted;
    match tags {
        Some(tags) if tags.is_owned_by(&id.uid) => {
            let identity = tags
                .get(IDENTITY_MARKER_TAG)
                .unwrap_or_default()
                .to_string();
            if !identity.is_empty() && policy == DeletionPolicy::Delete {
                delete_identity_records(aws, env, id, &identity, &mut messages).await?;
                email::delete_identity(aws, &identity).await.map_err(&err)?;
                messages.push(format!("deleted SES identity {identity}"));
            } else if !identity.is_empty() {
                state = ComponentState::Retained;
                messages.push(format!(
                    "kept SES identity {identity} and its DNS records ({policy:?} policy)"
                ));
            }
            email::delete_topic(aws, &topic).await.map_err(&err)?;
            messages.push("deleted the notification topic".to_string());
            wrote = true;
        }
        Some(_) => messages.push(format!(
            "SNS topic {topic} is not owned by this environment; left untouched"
        )),
        None => {}
    }
    let mut r = report(C, state, messages.join("; "));
    r.wrote = wrote;
    Ok(r)
}

/// Removes the SES records the operator wrote into a Route 53 zone for `identity`
/// (only record sets that still hold exactly the operator's values).
async fn delete_identity_records(
    aws: &AwsCtx,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
    identity: &str,
    messages: &mut Vec<String>,
) -> Result<(), ComponentError> {
    const C: ComponentName = ComponentName::Email;
    let err = aws_err(C);
    let Ok(want) = desired_email(id, &env.spec) else {
        messages.push("spec.email is invalid: DNS records left in place".to_string());
        return Ok(());
    };
    let DnsTarget::Route53 {
        zone_name,
        must_be_owned,
    } = &want.dns
    else {
        return Ok(());
    };
    if want.identity != identity {
        return Ok(());
    }
    let Some(seen) = email::observe_identity(aws, identity, want.kind)
        .await
        .map_err(&err)?
    else {
        return Ok(());
    };
    let Some((zone, tags)) = dns::find_zone(aws, zone_name, *must_be_owned)
        .await
        .map_err(&err)?
    else {
        return Ok(());
    };
    if *must_be_owned && !tags.is_owned_by(&id.uid) {
        return Ok(());
    }
    let records = ses_records(&want, &id.region, &seen);
    let current = dns::read_records(aws, &zone, &records)
        .await
        .map_err(&err)?;
    let owned = owned_record_sets(&records, &current);
    if !owned.is_empty() {
        dns::delete(aws, &zone, &owned).await.map_err(&err)?;
        messages.push(format!(
            "deleted {} SES DNS record(s) from zone {}",
            owned.len(),
            zone.name
        ));
    }
    Ok(())
}

async fn cleanup_salt(
    aws: &AwsCtx,
    id: &EnvIdentity,
    policy: DeletionPolicy,
    outputs: &mut Outputs,
) -> Result<ComponentReport, ComponentError> {
    const C: ComponentName = ComponentName::Secrets;
    let cron_note = "the cron Secret is removed by Kubernetes with the environment";
    if disposal(SecretPurpose::Salt, policy) == SecretDisposal::DeleteWithRecovery {
        let (deleted, message) = delete_secret(aws, id, SecretPurpose::Salt).await?;
        let message = [message.as_str(), cron_note]
            .iter()
            .filter(|m| !m.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("; ");
        let mut r = report(C, ComponentState::Deleted, message);
        r.wrote = deleted;
        return Ok(r);
    }
    let name = secret_name(&id.environment_id(), SecretPurpose::Salt);
    let Some(seen) = secrets::observe(aws, &name).await.map_err(aws_err(C))? else {
        return Ok(report(C, ComponentState::Deleted, cron_note));
    };
    if !seen.tags.is_owned_by(&id.uid) {
        return Ok(report(
            C,
            ComponentState::Deleted,
            format!("secret {name} is not owned by this environment; left untouched"),
        ));
    }
    let mut marker = TagSet::new();
    marker.insert(RETAINED_TAG, "true");
    let mut r = report(
        C,
        ComponentState::Retained,
        format!("kept the salt secret {name} ({policy:?} policy); {cron_note}"),
    );
    if !marker.missing_from(&seen.tags).is_empty() {
        secrets::tag(aws, &seen.arn, &marker)
            .await
            .map_err(aws_err(C))?;
        r.wrote = true;
    }
    r.arn = Some(seen.arn.clone());
    outputs.secrets.push(crate::api::SecretOutput {
        name: SecretPurpose::Salt.as_str().to_string(),
        arn: seen.arn,
        rotated_at: None,
        rotation_days: None,
    });
    Ok(r)
}
