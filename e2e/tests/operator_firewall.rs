//! The firewall with the operator as a process under the chart's RBAC against the real
//! kube-apiserver and the emulator (kind EcsExpress, whose managed load balancer the web
//! ACL protects): an operator killed right after it created the web ACL is replaced by
//! one that finds it (exactly one ACL); the rules read back from WAF equal the golden
//! file (`e2e/testdata/golden/firewall-web-acl.json`; `UPDATE_GOLDEN=1` rewrites it), the
//! cron rule carrying the token derived from the environment's cron Secret; an
//! association WAF refuses right after create is waited for; nothing is written once
//! Ready; a rule deleted by hand is back within one resync; an external web ACL is
//! associated instead (the own ACL and IP sets are removed) and is left exactly as it
//! was when the environment is deleted.
//!
//! Needs the local control plane with `REDCAP_OPERATOR_BIN` and `AWS_ENDPOINT_URL`;
//! fails, never skips, without them.

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use redcap_e2e::emulator::{EmulatorControl, aws_json, base64_decode};
use redcap_e2e::manifests::EnvironmentManifest;
use redcap_e2e::probe::eventually_despite_errors;
use redcap_e2e::{Operator, OperatorOptions, TestEnv};
use redcap_operator::api::{FirewallStatus, RedcapEnvironment};
use redcap_operator::aws::sdk::aws_sdk_wafv2 as wafv2;
use redcap_operator::plan::cron::firewall_token;
use redcap_operator::plan::secret::SecretString;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(240);
const NAME: &str = "waf";
const REGION: &str = "us-east-1";
const TARGET: &str = "AWSWAF_20190729";
const GOLDEN: &str = "e2e/testdata/golden/firewall-web-acl.json";

const FIREWALL: &str = "  firewall:
    allowedIps: [192.0.2.0/24, 198.51.100.7/32, 2001:db8::/32]
    allowedCountries: [US, GB]
    rateLimitPerFiveMinutes: 2000
    sqliExclusions:
      - pathPrefix: /api/
        rules: [SQLi_BODY]
";

fn firewall(e: &RedcapEnvironment) -> Option<&FirewallStatus> {
    e.status.as_ref()?.firewall.as_ref()
}

fn environment_id(e: &RedcapEnvironment) -> String {
    e.status.as_ref().and_then(|s| s.environment_id.clone()).expect("status.environmentId")
}

/// The regional web ACLs whose names start with `prefix`: `(name, id, arn)`.
async fn acls(waf: &wafv2::Client, prefix: &str) -> anyhow::Result<Vec<(String, String, String)>> {
    let out = waf.list_web_acls().scope(wafv2::types::Scope::Regional).limit(100).send().await?;
    Ok(out
        .web_acls()
        .iter()
        .filter(|a| a.name().is_some_and(|n| n.starts_with(prefix)))
        .map(|a| {
            (
                a.name().unwrap_or_default().to_string(),
                a.id().unwrap_or_default().to_string(),
                a.arn().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

async fn ip_sets(waf: &wafv2::Client, prefix: &str) -> anyhow::Result<Vec<String>> {
    let out = waf.list_ip_sets().scope(wafv2::types::Scope::Regional).limit(100).send().await?;
    Ok(out
        .ip_sets()
        .iter()
        .filter_map(|s| s.name().filter(|n| n.starts_with(prefix)).map(str::to_string))
        .collect())
}

/// GetWebACL as it is on the wire (awsJson): `(WebACL, LockToken)`.
fn get_raw(name: &str, id: &str) -> anyhow::Result<(Value, String)> {
    let out = aws_json(
        REGION,
        "wafv2",
        &format!("{TARGET}.GetWebACL"),
        &json!({"Name": name, "Scope": "REGIONAL", "Id": id}),
    )?;
    Ok((out["WebACL"].clone(), out["LockToken"].as_str().unwrap_or_default().to_string()))
}

/// `v` without null members (the emulator reports unset optional members as null; AWS
/// leaves them out, and refuses them in a request).
fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, x| !x.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// The rules as the golden file holds them: search strings decoded, the cron token and
/// the environment's ARNs replaced by placeholders.
fn canonical(acl: &Value, token: &str, env_id: &str) -> Value {
    fn walk(v: &mut Value, token: &str, env_id: &str) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(s)) = map.get("SearchString") {
                    let text = String::from_utf8_lossy(&base64_decode(s)).into_owned();
                    let text = if text == token { "<cron token>".to_string() } else { text };
                    map.insert("SearchString".into(), Value::String(text));
                }
                if let Some(Value::String(arn)) = map.get("ARN") {
                    let family = if arn.contains("ipv6") { "ipv6" } else { "ipv4" };
                    if arn.contains(":regional/ipset/") {
                        map.insert("ARN".into(), Value::String(format!("<IP set {family}>")));
                    }
                }
                for (_, child) in map.iter_mut() {
                    walk(child, token, env_id);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, token, env_id)),
            Value::String(s) if s.contains(env_id) => *s = s.replace(env_id, "<environment id>"),
            _ => {}
        }
    }
    let mut doc = json!({
        "DefaultAction": acl["DefaultAction"],
        "VisibilityConfig": acl["VisibilityConfig"],
        "CustomResponseBodies": acl["CustomResponseBodies"],
        "Rules": acl["Rules"],
    });
    walk(&mut doc, token, env_id);
    strip_nulls(&mut doc);
    doc
}

#[tokio::test]
async fn firewall_rules_as_specified_restored_after_hand_edits_external_acl_left_alone()
-> anyhow::Result<()> {
    let env = TestEnv::from_env().await?;
    let ns = env.namespace("firewall").await?;
    let waf = wafv2::Client::new(&env.aws);
    let control = EmulatorControl::from_env();
    // WAF refuses the first associations, as AWS does while a new web ACL propagates.
    let _propagation = control.set_duration("wafv2.associate", 4)?;

    let manifest = EnvironmentManifest::new(NAME).spec(FIREWALL);
    env.apply_yaml(&ns, &manifest.yaml()).await?;

    // Killed as soon as the web ACL exists; the next operator finds it.
    let mut op = Operator::start(&env, "firewall-1", OperatorOptions::scoped(&ns)).await?;
    let first = env
        .wait_env(&ns, NAME, TIMEOUT, "an environment id", |e| {
            e.status.as_ref().is_some_and(|s| s.environment_id.is_some())
        })
        .await?;
    let env_id = environment_id(&first);
    let acl_name = format!("{env_id}-waf");
    eventually_despite_errors("the web ACL", TIMEOUT, async || {
        Ok(!acls(&waf, &acl_name).await?.is_empty())
    })
    .await?;
    op.kill().await?;
    let mut op = Operator::start(&env, "firewall-2", OperatorOptions::scoped(&ns)).await?;
    let ready = env.wait_ready(&ns, NAME, TIMEOUT).await?;
    let found = acls(&waf, &acl_name).await?;
    assert_eq!(found.len(), 1, "exactly one web ACL across the kill: {found:?}");
    let (_, acl_id, acl_arn) = found[0].clone();
    let mut sets = ip_sets(&waf, &env_id).await?;
    sets.sort();
    assert_eq!(sets, [format!("{env_id}-allow-ipv4"), format!("{env_id}-allow-ipv6")]);

    // Status: the ARN, the capacity WAF counts, and the association with Express's
    // load balancer.
    let fw = firewall(&ready).cloned().expect("status.firewall");
    assert_eq!(fw.web_acl_arn.as_deref(), Some(acl_arn.as_str()));
    assert!(!fw.external);
    let (acl, lock) = get_raw(&acl_name, &acl_id)?;
    assert_eq!(fw.capacity, acl["Capacity"].as_i64(), "capacity from WAF");
    assert!(fw.capacity.unwrap_or_default() > 1000, "{fw:?}");
    assert_eq!(fw.associated_with.len(), 1, "{fw:?}");
    let lb = fw.associated_with[0].clone();
    assert!(lb.contains(":elasticloadbalancing:") && lb.contains("loadbalancer/app/"), "{lb}");
    let on_lb = waf.get_web_acl_for_resource().resource_arn(&lb).send().await?;
    assert_eq!(on_lb.web_acl().map(|a| a.arn()), Some(acl_arn.as_str()));

    // The rules, read back from WAF, are the golden ones; the cron rule's header value is
    // the token derived from the cron Secret.
    let secrets: Api<Secret> = Api::namespaced(env.kube.clone(), &ns);
    let seed = secrets.get(&format!("{NAME}-cron")).await?;
    let seed = seed.data.as_ref().and_then(|d| d.get("secret")).expect("cron seed");
    let token = firewall_token(&SecretString::new(String::from_utf8(seed.0.clone())?))?;
    let got = canonical(&acl, token.expose(), &env_id);
    let text = serde_json::to_string_pretty(&got)? + "\n";
    assert!(text.contains("<cron token>"), "the cron rule carries the token: {text}");
    assert!(!text.contains(token.expose()));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(GOLDEN);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text)?;
    }
    let golden = std::fs::read_to_string(&path)?;
    assert_eq!(text, golden, "{GOLDEN} differs (UPDATE_GOLDEN=1 rewrites it)");

    // The label the SQLi exclusion blocks on is one the managed group adds.
    let sqli = waf
        .describe_managed_rule_group()
        .vendor_name("AWS")
        .name("AWSManagedRulesSQLiRuleSet")
        .scope(wafv2::types::Scope::Regional)
        .send()
        .await?;
    let labels: Vec<&str> = sqli.available_labels().iter().filter_map(|l| l.name()).collect();
    assert!(text.contains("\"awswaf:managed:aws:sql-database:SQLi_Body\""), "{text}");
    assert!(labels.contains(&"awswaf:managed:aws:sql-database:SQLi_Body"), "{labels:?}");

    // Steady state: several resyncs, no AWS writes.
    let writes = op.aws_calls("write").await?;
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(op.aws_calls("write").await?, writes, "steady state wrote to AWS");

    // A rule deleted by hand is back within one resync (2 s) plus a pass.
    let rules: Vec<Value> = acl["Rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter(|r| r["Name"] != "rate-limit")
        .cloned()
        .map(|mut r| {
            strip_nulls(&mut r);
            r
        })
        .collect();
    aws_json(
        REGION,
        "wafv2",
        &format!("{TARGET}.UpdateWebACL"),
        &json!({
            "Name": acl_name, "Scope": "REGIONAL", "Id": acl_id, "LockToken": lock,
            "DefaultAction": acl["DefaultAction"], "VisibilityConfig": acl["VisibilityConfig"],
            "CustomResponseBodies": acl["CustomResponseBodies"], "Rules": rules,
        }),
    )?;
    eventually_despite_errors("the deleted rule restored", Duration::from_secs(15), async || {
        let (now, _) = get_raw(&acl_name, &acl_id)?;
        Ok(canonical(&now, token.expose(), &env_id) == got)
    })
    .await?;

    // An external web ACL: associated instead; the own ACL and IP sets go.
    let external = waf
        .create_web_acl()
        .name(format!("{ns}-external"))
        .scope(wafv2::types::Scope::Regional)
        .default_action(
            wafv2::types::DefaultAction::builder()
                .allow(wafv2::types::AllowAction::builder().build())
                .build(),
        )
        .visibility_config(
            wafv2::types::VisibilityConfig::builder()
                .sampled_requests_enabled(false)
                .cloud_watch_metrics_enabled(false)
                .metric_name("external")
                .build()?,
        )
        .send()
        .await?;
    let external = external.summary().expect("summary").clone();
    let external_arn = external.arn().expect("arn").to_string();
    let (_, external_lock) = get_raw(external.name().expect("name"), external.id().expect("id"))?;
    env.patch_spec(
        &ns,
        NAME,
        json!({"firewall": {"allowedIps": null, "allowedCountries": null, "sqliExclusions": null,
                            "externalWebAclArn": external_arn}}),
    )
    .await?;
    env.wait_env(&ns, NAME, TIMEOUT, "the external web ACL in status", |e| {
        firewall(e).is_some_and(|f| {
            f.external
                && f.web_acl_arn.as_deref() == Some(external_arn.as_str())
                && f.associated_with == [lb.clone()]
        })
    })
    .await?;
    let on_lb = waf.get_web_acl_for_resource().resource_arn(&lb).send().await?;
    assert_eq!(on_lb.web_acl().map(|a| a.arn()), Some(external_arn.as_str()));
    eventually_despite_errors("the own web ACL and IP sets removed", TIMEOUT, async || {
        Ok(acls(&waf, &acl_name).await?.is_empty() && ip_sets(&waf, &env_id).await?.is_empty())
    })
    .await?;

    // Deletion leaves the external ACL as it was.
    env.delete_env(&ns, NAME).await?;
    env.wait_gone(&ns, NAME, TIMEOUT).await?;
    let (after, after_lock) = get_raw(external.name().expect("name"), external.id().expect("id"))?;
    assert_eq!(after_lock, external_lock, "the external web ACL was not changed");
    assert_eq!(after["Rules"], json!([]));
    op.stop().await?;
    Ok(())
}
