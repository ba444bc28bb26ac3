//! Shape of the generated schema: the properties the API server's CEL cost estimate and
//! server-side apply depend on, descriptions for `kubectl explain`, and schema defaults
//! that agree with the Rust `Default`s.

use kube::core::cel::apply_defaults;
use serde_json::{Value, json};

use super::{env, schema};
use crate::api::RedcapEnvironmentSpec;

/// Every schema node under `spec` with its path.
fn nodes(node: &Value, path: String, out: &mut Vec<(String, Value)>) {
    out.push((path.clone(), node.clone()));
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        for (name, child) in properties {
            nodes(child, format!("{path}.{name}"), out);
        }
    }
    if let Some(items) = node.get("items") {
        nodes(items, format!("{path}[]"), out);
    }
}

fn spec_nodes() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    nodes(&schema()["properties"]["spec"], "spec".to_owned(), &mut out);
    out
}

fn type_of(node: &Value) -> Option<&str> {
    node.get("type").and_then(Value::as_str)
}

#[test]
fn every_free_string_has_a_max_length() {
    let unbounded: Vec<String> = spec_nodes()
        .into_iter()
        .filter(|(_, n)| type_of(n) == Some("string"))
        .filter(|(_, n)| {
            n.get("enum").is_none() && n.get("format").and_then(Value::as_str) != Some("date-time")
        })
        .filter(|(_, n)| n.get("maxLength").is_none())
        .map(|(path, _)| path)
        .collect();
    assert!(unbounded.is_empty(), "strings without maxLength: {unbounded:#?}");
}

#[test]
fn every_list_is_bounded_and_typed() {
    let mut problems = Vec::new();
    for (path, node) in spec_nodes().into_iter().filter(|(_, n)| type_of(n) == Some("array")) {
        if node.get("maxItems").is_none() {
            problems.push(format!("{path}: no maxItems"));
        }
        let items = &node["items"];
        let list_type = node.get("x-kubernetes-list-type").and_then(Value::as_str);
        match (type_of(items), list_type) {
            (Some("object"), Some("map")) => {
                // Keys of a list-map must always be present: required or defaulted.
                let required: Vec<&str> = items["required"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for key in node["x-kubernetes-list-map-keys"].as_array().into_iter().flatten() {
                    let key = key.as_str().unwrap_or_default();
                    let defaulted = items["properties"][key].get("default").is_some();
                    if !required.contains(&key) && !defaulted {
                        problems.push(format!(
                            "{path}: map key {key} is neither required nor defaulted"
                        ));
                    }
                }
            }
            (Some("string"), Some("set")) => {}
            (t, l) => problems.push(format!("{path}: items {t:?} with list-type {l:?}")),
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn every_field_has_a_description() {
    let mut missing = Vec::new();
    for (path, node) in spec_nodes() {
        for (name, child) in node.get("properties").and_then(Value::as_object).into_iter().flatten()
        {
            let text = child.get("description").and_then(Value::as_str).unwrap_or_default();
            if text.trim().len() < 10 {
                missing.push(format!("{path}.{name}"));
            }
        }
    }
    assert!(missing.is_empty(), "fields without a useful description: {missing:#?}");
}

/// The object with every optional block present but empty, so every default applies.
fn with_every_block() -> Value {
    env(json!({
        "redcap": {
            "source": { "s3": null, "community": { "credentialsSecretRef": { "name": "consortium" } } },
            "settings": { "siteAdmin": {} }
        },
        "compute": { "ecsFargate": {}, "appRunner": {}, "ecsExpress": {} },
        "database": { "restoreFrom": { "snapshotIdentifier": "snap-1" } },
        "domain": { "name": "example.org" },
        "email": {},
        "firewall": { "sqliExclusions": [{ "pathPrefix": "/api/" }] },
        "maintenanceServer": {},
    }))
}

#[test]
fn schema_defaults_match_rust_defaults() {
    for object in [env(json!({})), with_every_block()] {
        let raw: RedcapEnvironmentSpec =
            serde_json::from_value(object["spec"].clone()).expect("raw spec parses");
        let defaulted_json = apply_defaults(schema(), &object)["spec"].clone();
        let defaulted: RedcapEnvironmentSpec =
            serde_json::from_value(defaulted_json.clone()).expect("defaulted spec parses");
        assert_eq!(raw, defaulted, "serde defaults and schema defaults disagree");
        // Nothing the API server stores is lost or invented by a round trip in Rust.
        assert_eq!(serde_json::to_value(&defaulted).expect("serialises"), defaulted_json);
    }
}

#[test]
fn constructors_build_what_the_api_server_stores() {
    use crate::api::{AwsSpec, EmailSpec, RedcapSource, RedcapSpec};
    let object = env(json!({}));
    let stored: RedcapEnvironmentSpec =
        serde_json::from_value(apply_defaults(schema(), &object)["spec"].clone()).expect("parses");
    let mut built = RedcapEnvironmentSpec::new(
        AwsSpec::new("us-east-1"),
        RedcapSpec::new("15.8.0", RedcapSource::s3("redcap-binaries", "redcap15.8.0.zip")),
    );
    built.email = Some(EmailSpec {
        from_address: Some("redcap@example.org".to_owned()),
        ..EmailSpec::default()
    });
    built.compute.kind = crate::api::ComputeKind::EcsExpress;
    assert_eq!(built, stored);
}

#[test]
fn the_api_server_fills_in_the_seed_defaults() {
    let spec = apply_defaults(schema(), &with_every_block())["spec"].clone();
    let expect = [
        ("/compute/kind", json!("EcsExpress")),
        ("/compute/cpu", json!(2048)),
        ("/compute/memory", json!(4096)),
        ("/compute/port", json!(8080)),
        ("/compute/scaling/minTasks", json!(1)),
        ("/compute/scaling/maxTasks", json!(2)),
        ("/compute/ecsFargate/idleTimeoutSeconds", json!(4000)),
        ("/compute/appRunner/maxConcurrency", json!(10)),
        ("/database/engineVersion", json!("8.0.mysql_aurora.3.10.3")),
        ("/database/minCapacityAcu", json!(0.5)),
        ("/database/maxCapacityAcu", json!(2.0)),
        ("/database/readers", json!(1)),
        ("/database/backtrackWindowHours", json!(24)),
        ("/database/backupRetentionDays", json!(30)),
        ("/database/masterSecretRotationDays", json!(120)),
        ("/database/logExports", json!(["error", "general", "slowquery", "audit"])),
        ("/network/cidr", json!("10.0.0.0/16")),
        ("/network/natGateways", json!("PerAz")),
        ("/redcap/timezone", json!("UTC")),
        ("/redcap/source/community/credentialsSecretRef/usernameKey", json!("username")),
        ("/redcap/settings/siteAdmin/username", json!("site_admin")),
        ("/domain/hostedZone/mode", json!("Create")),
        ("/email/mailFromSubdomain", json!("mail")),
        ("/firewall/rateLimitPerFiveMinutes", json!(3000)),
        ("/firewall/managedRules/1/ruleActionOverrides/1/name", json!("SizeRestrictions_BODY")),
        ("/firewall/sqliExclusions/0/rules", json!(["SQLi_BODY", "SQLi_QUERYARGUMENTS"])),
        ("/cron/intervalMinutes", json!(1)),
        ("/maintenanceServer/ttl", json!("3h")),
        ("/logs/retentionDays", json!(365)),
        ("/guardDuty/enabled", json!(false)),
        ("/deletionPolicy", json!("Snapshot")),
        ("/suspend", json!(false)),
    ];
    for (pointer, want) in expect {
        assert_eq!(spec.pointer(pointer), Some(&want), "default of spec{pointer}");
    }
}

#[test]
fn log_retention_enum_matches_the_constant() {
    let values =
        schema()["properties"]["spec"]["properties"]["logs"]["properties"]["retentionDays"]["enum"]
            .clone();
    assert_eq!(values, json!(crate::api::LOG_RETENTION_DAYS));
}
