//! REDCap's cron schedule with the operator as a process under the chart's RBAC against
//! the real kube-apiserver and the emulator (kind EcsExpress): EventBridge's rule calls
//! `<status.outputs.url>/cron.php` through an API destination (GET, one call a second) and
//! a connection that sends the token derived from the cron Secret in the
//! `x-redcap-cron-token` header, with retries off; no token in status; nothing written
//! once Ready; a new cron secret is rotated in order (the firewall accepts old and new,
//! then the connection moves, then the firewall drops the old token); `intervalMinutes:
//! 0` removes the rule; deletion removes the rest.
//!
//! Needs the local control plane with `REDCAP_OPERATOR_BIN` and `AWS_ENDPOINT_URL`;
//! fails, never skips, without them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams};
use redcap_e2e::emulator::{EmulatorControl, aws_json, base64_decode};
use redcap_e2e::manifests::EnvironmentManifest;
use redcap_e2e::probe::eventually_despite_errors;
use redcap_e2e::{Operator, OperatorOptions, TestEnv};
use redcap_operator::api::{CronStatus, RedcapEnvironment};
use redcap_operator::aws::sdk::{aws_sdk_eventbridge as events, aws_sdk_secretsmanager as sm};
use redcap_operator::plan::cron::firewall_token;
use redcap_operator::plan::secret::SecretString;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(240);
const NAME: &str = "cron";
const REGION: &str = "us-east-1";

fn cron(e: &RedcapEnvironment) -> Option<&CronStatus> {
    e.status.as_ref()?.cron.as_ref()
}

/// The tokens the web ACL's cron rule accepts.
fn waf_tokens(acl_name: &str) -> anyhow::Result<Vec<String>> {
    let list = aws_json(
        REGION,
        "wafv2",
        "AWSWAF_20190729.ListWebACLs",
        &json!({"Scope": "REGIONAL", "Limit": 100}),
    )?;
    let Some(id) = list["WebACLs"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["Name"] == acl_name))
        .and_then(|x| x["Id"].as_str())
    else {
        return Ok(Vec::new());
    };
    let acl = aws_json(
        REGION,
        "wafv2",
        "AWSWAF_20190729.GetWebACL",
        &json!({"Name": acl_name, "Scope": "REGIONAL", "Id": id}),
    )?;
    fn walk(v: &Value, out: &mut Vec<String>) {
        if v["FieldToMatch"]["SingleHeader"]["Name"] == "x-redcap-cron-token"
            && let Some(s) = v["SearchString"].as_str()
        {
            out.push(String::from_utf8_lossy(&base64_decode(s)).into_owned());
        }
        match v {
            Value::Object(map) => map.values().for_each(|c| walk(c, out)),
            Value::Array(items) => items.iter().for_each(|c| walk(c, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    let rules = acl["WebACL"]["Rules"].as_array().cloned().unwrap_or_default();
    for rule in rules.iter().filter(|r| r["Name"] == "cron-token") {
        walk(rule, &mut out);
    }
    out.sort();
    Ok(out)
}

/// The token the EventBridge connection sends (from the secret EventBridge keeps it in).
async fn connection_token(
    ev: &events::Client,
    secrets: &sm::Client,
    name: &str,
) -> anyhow::Result<Option<String>> {
    let Ok(c) = ev.describe_connection().name(name).send().await else {
        return Ok(None);
    };
    let arn = c.secret_arn().unwrap_or_default();
    let value = secrets.get_secret_value().secret_id(arn).send().await?;
    let doc: Value = serde_json::from_str(value.secret_string().unwrap_or("{}"))?;
    Ok(doc["api_key_value"].as_str().map(str::to_string))
}

async fn cron_token(env: &TestEnv, ns: &str) -> anyhow::Result<String> {
    let secrets: Api<Secret> = Api::namespaced(env.kube.clone(), ns);
    let s = secrets.get(&format!("{NAME}-cron")).await?;
    let seed = s.data.as_ref().and_then(|d| d.get("secret")).expect("cron seed");
    Ok(firewall_token(&SecretString::new(String::from_utf8(seed.0.clone())?))?.expose().to_string())
}

#[tokio::test]
async fn cron_calls_with_the_header_token_rotates_in_order_and_stops_at_zero() -> anyhow::Result<()>
{
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("cron").await?;
    let ev = events::Client::new(&env.aws);
    let secrets = sm::Client::new(&env.aws);
    let control = EmulatorControl::from_env();

    env.apply_yaml(&ns, &EnvironmentManifest::new(NAME).yaml()).await?;
    let mut op = Operator::start(&env, "cron", OperatorOptions::scoped(&ns)).await?;
    let ready = env.wait_ready(&ns, NAME, TIMEOUT).await?;
    let env_id = ready.status.as_ref().and_then(|s| s.environment_id.clone()).expect("id");
    let name = format!("{env_id}-cron");
    let token = cron_token(&env, &ns).await?;

    // The rule, its one target without retries, the destination and the connection.
    let rule = ev.describe_rule().name(&name).send().await?;
    assert_eq!(rule.schedule_expression(), Some("rate(1 minute)"));
    assert_eq!(rule.state().map(|s| s.as_str()), Some("ENABLED"));
    let targets = ev.list_targets_by_rule().rule(&name).send().await?;
    assert_eq!(targets.targets().len(), 1, "{targets:?}");
    let target = &targets.targets()[0];
    let retry = target.retry_policy().expect("retry policy");
    assert_eq!(retry.maximum_retry_attempts(), Some(0), "no retries");
    assert_eq!(retry.maximum_event_age_in_seconds(), Some(60));
    assert!(target.role_arn().is_some_and(|r| r.ends_with(&format!("/{env_id}-cron-invoke"))));
    let dest = ev.describe_api_destination().name(&name).send().await?;
    assert_eq!(target.arn(), dest.api_destination_arn().unwrap_or_default());
    let url = ready.status.as_ref().and_then(|s| s.outputs.url.clone()).expect("url");
    let cron_url = format!("{}/cron.php", url.trim_end_matches('/'));
    assert_eq!(dest.invocation_endpoint(), Some(cron_url.as_str()), "no token in the URL");
    assert_eq!(dest.http_method().map(|m| m.as_str()), Some("GET"));
    assert_eq!(dest.invocation_rate_limit_per_second(), Some(1));
    let conn = ev.describe_connection().name(&name).send().await?;
    assert_eq!(conn.authorization_type().map(|a| a.as_str()), Some("API_KEY"));
    let header = conn.auth_parameters().and_then(|p| p.api_key_auth_parameters());
    assert_eq!(header.and_then(|k| k.api_key_name()), Some("x-redcap-cron-token"));
    assert_eq!(connection_token(&ev, &secrets, &name).await?.as_deref(), Some(token.as_str()));
    assert_eq!(
        waf_tokens(&format!("{env_id}-waf"))?,
        std::slice::from_ref(&token),
        "the firewall checks it"
    );
    let status = cron(&ready).cloned().expect("status.cron");
    assert_eq!(status.schedule.as_deref(), Some("rate(1 minute)"));
    assert_eq!(status.target_url.as_deref(), Some(cron_url.as_str()));
    assert_eq!(status.last_failure, None);
    let whole = serde_json::to_string(&ready.status)?;
    assert!(!whole.contains(&token), "the token is not in status");

    // Steady state: no writes.
    let writes = op.aws_calls("write").await?;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(op.aws_calls("write").await?, writes, "steady state wrote to AWS");

    // Rotation: a new seed. The connection update is slowed down so the state between
    // the firewall's first write and the connection's move can be seen.
    let _slow = control.set_faults(
        1,
        json!([{"service": "events", "operation": "UpdateConnection", "kind": "latency", "latency_ms": 3000}]),
    )?;
    let seed = "n".repeat(24) + &"E".repeat(24);
    let patch = json!({"data": {"secret": ByteString(seed.clone().into_bytes())}});
    Api::<Secret>::namespaced(env.kube.clone(), &ns)
        .patch(&format!("{NAME}-cron"), &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    let new = firewall_token(&SecretString::new(seed))?.expose().to_string();
    let acl = format!("{env_id}-waf");
    let mut seen_both = false;
    let started = Instant::now();
    let mut states = BTreeMap::new();
    loop {
        let waf = waf_tokens(&acl)?;
        let sends = connection_token(&ev, &secrets, &name).await?.unwrap_or_default();
        let label = |t: &String| {
            if *t == new {
                "new"
            } else if *t == token {
                "old"
            } else {
                "other"
            }
        };
        let named: Vec<&str> = waf.iter().map(label).collect();
        states.insert(format!("{named:?} / {}", if sends == new { "new" } else { "old" }), ());
        // The connection never sends a token the firewall does not accept.
        assert!(
            waf.contains(&sends),
            "connection sends the {} token, the firewall accepts {:?}; seen so far: {states:?}",
            label(&sends),
            waf.iter().map(label).collect::<Vec<_>>()
        );
        if waf.len() == 2 {
            assert!(waf.contains(&token) && waf.contains(&new), "{waf:?}");
            seen_both = true;
        }
        if sends == new && waf == [new.clone()] {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(90), "rotation did not finish: {states:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(seen_both, "the firewall accepted old and new before the connection moved");

    // intervalMinutes 0: no rule.
    env.patch_spec(&ns, NAME, json!({"cron": {"intervalMinutes": 0}})).await?;
    eventually_despite_errors("the rule removed", TIMEOUT, async || {
        Ok(ev.describe_rule().name(&name).send().await.is_err())
    })
    .await?;
    env.wait_env(&ns, NAME, TIMEOUT, "no schedule in status", |e| {
        cron(e).is_some_and(|c| c.schedule.is_none())
    })
    .await?;

    // Deletion removes the rest.
    env.delete_env(&ns, NAME).await?;
    env.wait_gone(&ns, NAME, TIMEOUT).await?;
    assert!(ev.describe_connection().name(&name).send().await.is_err(), "connection deleted");
    assert!(ev.describe_api_destination().name(&name).send().await.is_err(), "destination deleted");
    op.stop().await?;
    Ok(())
}
