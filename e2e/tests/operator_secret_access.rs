//! Where the operator may touch Secrets, with the operator as a process under the chart's
//! default RBAC and its ValidatingAdmissionPolicy against the real kube-apiserver: an
//! environment in a namespace that did not grant the operator Secret access stalls with
//! `SecretReferenceMissing` and a message saying how to grant it, creates nothing in AWS,
//! and becomes Ready by itself once the namespace binds the chart's ClusterRole; the
//! generated cron Secret it then creates passes the admission policy (Opaque, one key,
//! controlled by the environment).
//!
//! Needs the local control plane with `REDCAP_OPERATOR_BIN` and `AWS_ENDPOINT_URL`;
//! fails, never skips, without them.

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use redcap_e2e::manifests::EnvironmentManifest;
use redcap_e2e::{Operator, OperatorOptions, TestEnv, condition_message, is_stalled};

const NAME: &str = "optin";
const STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// A stalled reference is looked at again every 30 s, then the environment converges.
const READY_TIMEOUT: Duration = Duration::from_secs(150);

#[tokio::test]
async fn a_namespace_without_the_grant_stalls_until_it_binds_the_secrets_role() -> anyhow::Result<()>
{
    let env = TestEnv::from_env().await?;
    let ns = env.namespace_without_secret_access("no-grant").await?;
    env.apply_yaml(&ns, &EnvironmentManifest::new(NAME).yaml()).await?;
    let mut op = Operator::start(&env, "secret-access", OperatorOptions::scoped(&ns)).await?;

    let stalled = env.wait_env(&ns, NAME, STALL_TIMEOUT, "Stalled", is_stalled).await?;
    let status = stalled.status.as_ref().context("status")?;
    let reason = status.conditions.iter().find(|c| c.type_ == "Stalled").map(|c| c.reason.clone());
    assert_eq!(reason.as_deref(), Some("SecretReferenceMissing"));
    let message = condition_message(&stalled, "Stalled");
    assert!(message.contains(&format!("Secret {ns}/{NAME}-cron")), "{message}");
    assert!(message.contains("forbidden"), "the API server refused: {message}");
    assert!(message.contains("ClusterRole <release>-secrets"), "says how to grant: {message}");
    assert!(status.outputs.kms_key_arn.is_none(), "nothing is created in AWS without the grant");

    env.grant_secret_access(&ns).await?;
    let ready = env
        .wait_ready(&ns, NAME, READY_TIMEOUT)
        .await
        .context("the environment did not resume after its namespace granted access")?;
    let uid = ready.metadata.uid.clone().context("uid")?;

    // What the admission policy let through is exactly the operator's own Secret.
    let secrets: Api<Secret> = Api::namespaced(env.kube.clone(), &ns);
    let cron = secrets.get(&format!("{NAME}-cron")).await?;
    assert_eq!(cron.type_.as_deref(), Some("Opaque"));
    let keys: Vec<&String> = cron.data.as_ref().context("data")?.keys().collect();
    assert_eq!(keys, ["secret"]);
    let owners = cron.metadata.owner_references.as_deref().unwrap_or_default();
    assert_eq!(owners.len(), 1, "{owners:?}");
    assert_eq!((owners[0].kind.as_str(), owners[0].uid.as_str()), ("RedcapEnvironment", &*uid));
    assert_eq!(owners[0].controller, Some(true));

    env.delete_env(&ns, NAME).await?;
    env.wait_gone(&ns, NAME, Duration::from_secs(60)).await?;
    op.stop().await?;
    Ok(())
}
