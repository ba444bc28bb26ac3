//! Secrets against the real kube-apiserver and moto, with the operator as a process under
//! the chart's RBAC: no secret value the operator created (or derived) appears in the
//! environment's status, its Events or the operator's log, from creation to deletion; and
//! a missing Secret reference stalls the environment with `SecretReferenceMissing`, then
//! reconciling resumes by itself once the Secret appears.

use redcap_operator::aws::sdk::*;
use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::PostParams;
use redcap_e2e::manifests::EnvironmentManifest;
use redcap_e2e::probe;
use redcap_e2e::{Operator, TestEnv, condition_message, is_stalled};
use redcap_operator::api::RedcapEnvironment;
use redcap_operator::plan::cron::firewall_token;
use redcap_operator::plan::secret::SecretString;

const READY_TIMEOUT: Duration = Duration::from_secs(90);

fn manifest(name: &str) -> EnvironmentManifest {
    EnvironmentManifest::new(name)
        .from_address(&format!("redcap-{name}-leaks@example.org"))
        .email("bounceNotificationAddress", "it@example.org")
}

/// Every secret value the environment holds, and the token derived from the cron seed.
async fn secret_values(
    env: &TestEnv,
    ns: &str,
    object: &RedcapEnvironment,
) -> anyhow::Result<Vec<String>> {
    let status = object.status.as_ref().context("no status")?;
    let sm = aws_sdk_secretsmanager::Client::new(&env.aws);
    let mut values = Vec::new();
    for output in &status.outputs.secrets {
        let text = probe::secret_string(&sm, &output.arn).await;
        match output.name.as_str() {
            // Plain text: the salt, and the first administrator's initial password.
            "salt" | "siteAdmin" => values.push(text),
            "storageCredentials" => {
                let v: serde_json::Value = serde_json::from_str(&text)?;
                values.push(v["SecretAccessKey"].as_str().context("key")?.to_string());
            }
            // The RDS-managed master password: `{"username": .., "password": ..}`.
            "smtpCredentials" | "databaseMaster" => {
                let v: serde_json::Value = serde_json::from_str(&text)?;
                values.push(v["password"].as_str().context("password")?.to_string());
            }
            other => anyhow::bail!("unexpected secret output {other}"),
        }
    }
    // Salt, storage and SMTP credentials, the database's master password and the first
    // administrator's initial password. Named, never printed: they are what must not leak.
    let names: Vec<&str> = status.outputs.secrets.iter().map(|s| s.name.as_str()).collect();
    anyhow::ensure!(values.len() == 5, "expected five secrets, got {names:?}");
    let reference = status.outputs.cron_secret_ref.as_ref().context("no cron secret ref")?;
    let secrets: Api<Secret> = Api::namespaced(env.kube.clone(), ns);
    let cron = secrets.get(&reference.name).await?;
    let seed = cron.data.as_ref().and_then(|d| d.get(&reference.key)).context("cron seed")?;
    let seed = String::from_utf8(seed.0.clone())?;
    let token = firewall_token(&SecretString::new(seed.clone()))?;
    values.push(token.expose().to_string());
    values.push(seed);
    Ok(values)
}

/// Fails when any value appears in the object, its Events or the operator's log.
async fn assert_no_leak(
    env: &TestEnv,
    ns: &str,
    name: &str,
    op: &Operator,
    values: &[String],
) -> anyhow::Result<()> {
    let mut places: Vec<(String, String)> = Vec::new();
    if let Some(object) = env.environments(ns).get_opt(name).await? {
        places.push(("the object".into(), serde_json::to_string(&object)?));
    }
    let listed = env.events(ns).await?;
    anyhow::ensure!(!listed.is_empty(), "expected Events in {ns}");
    places.push(("the Events".into(), serde_json::to_string(&listed)?));
    let core_events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(env.kube.clone(), ns);
    places.push((
        "the core/v1 Events".into(),
        serde_json::to_string(&core_events.list(&Default::default()).await?.items)?,
    ));
    let log = op.log();
    anyhow::ensure!(!log.is_empty(), "the operator log is empty");
    places.push(("the operator log".into(), log));
    for (place, text) in &places {
        for value in values {
            anyhow::ensure!(
                !text.contains(value.as_str()),
                "a secret value ({} characters) appears in {place}",
                value.len()
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn no_secret_value_reaches_status_events_or_logs() -> anyhow::Result<()> {
    let (env, ns, mut op) = TestEnv::with_scoped_operator("leaks", "leaks").await?;
    env.apply_yaml(&ns, &manifest("leaky").yaml()).await?;
    let ready = env.wait_ready(&ns, "leaky", READY_TIMEOUT).await?;
    let values = secret_values(&env, &ns, &ready).await?;
    // Long enough that finding one in a log cannot be a coincidence (the shortest, the
    // initial administrator password, has 24 characters).
    assert!(values.iter().all(|v| v.len() >= 24), "real secrets are long");

    // Several resyncs (debug logging is on), then the whole deletion.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_no_leak(&env, &ns, "leaky", &op, &values).await?;
    env.delete_env(&ns, "leaky").await?;
    env.wait_gone(&ns, "leaky", Duration::from_secs(60)).await?;
    assert_no_leak(&env, &ns, "leaky", &op, &values).await?;
    op.stop().await?;
    Ok(())
}

#[tokio::test]
async fn a_missing_secret_reference_stalls_then_resumes_by_itself() -> anyhow::Result<()> {
    let (env, ns, mut op) = TestEnv::with_scoped_operator("secret-ref", "secret-ref").await?;
    let cron = "  cron:\n    secretRef:\n      name: my-cron\n      key: seed";
    env.apply_yaml(&ns, &manifest("waits").spec(cron).yaml()).await?;
    let stalled =
        env.wait_env(&ns, "waits", Duration::from_secs(30), "Stalled", is_stalled).await?;
    let status = stalled.status.as_ref().context("status")?;
    let reason = status.conditions.iter().find(|c| c.type_ == "Stalled").map(|c| c.reason.clone());
    assert_eq!(reason.as_deref(), Some("SecretReferenceMissing"));
    let message = condition_message(&stalled, "Stalled");
    assert!(message.contains(&format!("{ns}/my-cron")), "{message}");
    assert!(
        status.outputs.kms_key_arn.is_none(),
        "nothing is created in AWS while a reference is missing"
    );

    // The Secret appears; nothing else changes, and the environment becomes Ready.
    let generation = stalled.metadata.generation;
    let secrets: Api<Secret> = Api::namespaced(env.kube.clone(), &ns);
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "my-cron"},
        "stringData": {"seed": "an-operator-provided-cron-seed-of-40-chars"},
    }))?;
    secrets.create(&PostParams::default(), &secret).await?;
    let ready = env
        .wait_ready(&ns, "waits", READY_TIMEOUT)
        .await
        .context("the environment did not resume after the Secret appeared")?;
    assert_eq!(ready.metadata.generation, generation, "no spec change needed");
    assert_eq!(
        ready
            .status
            .as_ref()
            .and_then(|s| s.outputs.cron_secret_ref.as_ref())
            .map(|r| r.name.as_str()),
        Some("my-cron")
    );
    assert!(
        secrets.get_opt("waits-cron").await?.is_none(),
        "no Secret is generated when one is referenced"
    );
    env.delete_env(&ns, "waits").await?;
    env.wait_gone(&ns, "waits", Duration::from_secs(60)).await?;
    op.stop().await?;
    Ok(())
}
