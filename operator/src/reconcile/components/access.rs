//! The three identity components of a pass, in order: storage credentials, email, SMTP
//! credentials (step: reconcile; builds their desired state from the spec and runs the
//! walks in `credentials` and `email`). No AWS client code and no status writes here.

use jiff::Timestamp;

use crate::api::{ComponentName, ComponentState, RedcapEnvironment};
use crate::aws::AwsCtx;
use crate::plan::EnvIdentity;
use crate::plan::credentials::{
    CredentialKind, desired_user, smtp_user_policy, storage_user_policy,
};
use crate::plan::database::REDCAP_DB_USER;
use crate::plan::naming::account_of_arn;
use crate::plan::secrets::{
    DbUserAccess, RuntimeAccess, SecretPurpose, desired_secret, runtime_policy,
};
use crate::plan::storage::file_bucket;
use crate::reconcile::report::{ComponentReport, PassReport};

use super::{ComponentError, WriteMode, credentials, email, invalid, report};

/// The identities REDCap uses: storage credentials, the email identity, and the SMTP
/// credentials. All need the account id (from the key ARN) and the key.
pub(super) async fn apply_access(
    aws: &AwsCtx,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
    mode: WriteMode,
    key_arn: Option<&str>,
    now: Timestamp,
    pass: &mut PassReport,
) -> Result<Vec<ComponentReport>, ComponentError> {
    let names = [
        ComponentName::StorageCredentials,
        ComponentName::Email,
        ComponentName::SmtpCredentials,
    ];
    let (Some(key_arn), Some(account)) = (key_arn, key_arn.and_then(account_of_arn)) else {
        return Ok(names
            .iter()
            .map(|n| {
                report(
                    *n,
                    ComponentState::Pending,
                    "waiting for the encryption key",
                )
            })
            .collect());
    };
    let tags = &env.spec.aws.tags;
    let region = id.region.clone();

    let bucket = file_bucket(id, &env.spec.storage).map_err(invalid(names[0]))?;
    let days = env.spec.storage.access_key_rotation_days;
    let input = credentials::CredentialsInput {
        kind: CredentialKind::Storage,
        user: desired_user(
            id,
            CredentialKind::Storage,
            tags,
            storage_user_policy(id.partition(), &region, &bucket, key_arn),
        )
        .map_err(invalid(names[0]))?,
        secret: desired_secret(
            id,
            SecretPurpose::StorageCredentials,
            key_arn,
            Some(days),
            tags,
        )
        .map_err(invalid(names[0]))?,
        rotation_days: days,
        region: region.clone(),
        uid: id.uid.clone(),
    };
    let storage = credentials::converge_credentials(aws, &input, mode, now).await?;
    pass.outputs.secrets.extend(storage.output);

    let mail = email::apply_email(aws, env, id, mode, account, &mut pass.outputs).await?;
    let days = mail.want.rotation_days;
    let input = credentials::CredentialsInput {
        kind: CredentialKind::Smtp,
        user: desired_user(
            id,
            CredentialKind::Smtp,
            tags,
            smtp_user_policy(
                id.partition(),
                &region,
                account,
                &mail.want.identity,
                &mail.want.configuration_set,
            ),
        )
        .map_err(invalid(names[2]))?,
        secret: desired_secret(
            id,
            SecretPurpose::SmtpCredentials,
            key_arn,
            Some(days),
            tags,
        )
        .map_err(invalid(names[2]))?,
        rotation_days: days,
        region,
        uid: id.uid.clone(),
    };
    let smtp = credentials::converge_credentials(aws, &input, mode, now).await?;
    pass.outputs.secrets.extend(smtp.output);
    Ok(vec![storage.report, mail.report, smtp.report])
}

/// What later components take from the pass: the runtime role's policy over exactly the
/// secrets that exist (`status.outputs.secrets`, the database's master secret included),
/// with the key they are encrypted with, and `rds-db:connect` as the REDCap user once the
/// database exists.
pub(super) fn runtime_handoff(id: &EnvIdentity, key_arn: Option<&str>, pass: &mut PassReport) {
    let (Some(key_arn), Some(account)) = (key_arn, key_arn.and_then(account_of_arn)) else {
        return;
    };
    let secret_arns: Vec<String> = pass.outputs.secrets.iter().map(|s| s.arn.clone()).collect();
    pass.runtime.runtime_policy = Some(runtime_policy(&RuntimeAccess {
        partition: id.partition().to_string(),
        region: id.region.clone(),
        account: account.to_string(),
        secret_arns: secret_arns.clone(),
        kms_key_arn: key_arn.to_string(),
        database: pass.runtime.database.as_ref().map(|d| DbUserAccess {
            cluster_resource_id: d.cluster_resource_id.clone(),
            user: REDCAP_DB_USER.to_string(),
        }),
    }));
    pass.runtime.secret_arns = secret_arns;
}
