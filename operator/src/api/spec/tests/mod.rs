//! Tests of the CRD schema (api step): shape checks (bounds, list types, defaults) and
//! the accept / reject cases of every CEL rule, evaluated client-side by kube's `cel`
//! feature against the very schema the CRD ships. Rules the client-side evaluator cannot
//! run are left to the e2e corpus in `e2e/testdata/invalid*/` against a real API server.

mod cel_app;
mod cel_data;
mod cel_edge;
mod corpus;
mod reference_doc;
mod schema_shape;

use std::sync::OnceLock;

use kube::core::cel::{CompiledSchema, Validator, compile_schema};
use serde_json::{Value, json};

/// The `openAPIV3Schema` of the generated CRD.
pub(super) fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let crd = crate::api::crds().remove(0);
        let schema = crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .expect("derived CRD has a schema");
        serde_json::to_value(schema).expect("schema serialises")
    })
}

fn compiled() -> &'static CompiledSchema {
    static COMPILED: OnceLock<CompiledSchema> = OnceLock::new();
    COMPILED.get_or_init(|| compile_schema(schema()))
}

/// The smallest valid environment: region, version, an S3 source and a sender address.
pub(super) fn base_spec() -> Value {
    json!({
        "aws": { "region": "us-east-1" },
        "redcap": {
            "version": "15.8.0",
            "source": { "s3": { "bucket": "redcap-binaries", "key": "redcap15.8.0.zip" } }
        },
        "email": { "fromAddress": "redcap@example.org" },
        // No domain: the default kind (EcsFargate) would need a certificate.
        "compute": { "kind": "EcsExpress" }
    })
}

/// A whole object whose spec is `base_spec()` with `patch` merged in (RFC 7386: `null`
/// removes a key).
pub(super) fn env(patch: Value) -> Value {
    let mut spec = base_spec();
    merge(&mut spec, patch);
    json!({
        "apiVersion": "redcap.dev/v1alpha1",
        "kind": "RedcapEnvironment",
        "metadata": { "name": "test", "namespace": "default" },
        "spec": spec,
    })
}

fn merge(target: &mut Value, patch: Value) {
    if patch.is_object() && !target.is_object() {
        *target = json!({});
    }
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(&key);
                } else {
                    merge(target.entry(key).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch,
    }
}

/// Every failure as `path: message [kind]`.
pub(super) fn failures(object: &Value, old: Option<&Value>) -> Vec<String> {
    match Validator::new().validate_compiled(compiled(), object, old) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .into_vec()
            .into_iter()
            .map(|e| format!("{}: {} [{:?}]", e.field_path, e.message, e.kind))
            .collect(),
    }
}

#[track_caller]
pub(super) fn accepts(patch: Value) {
    let object = env(patch);
    let failures = failures(&object, None);
    assert!(failures.is_empty(), "expected {object} to be accepted, got {failures:#?}");
}

/// Rejected, and one failure mentions `needle` (so the test fails if some other rule
/// happens to reject the object).
#[track_caller]
pub(super) fn rejects(patch: Value, needle: &str) {
    let object = env(patch);
    let failures = failures(&object, None);
    assert!(
        failures.iter().any(|f| f.contains(needle) && f.contains("ValidationFailure")),
        "expected a failure containing {needle:?} for {object}, got {failures:#?}"
    );
}

#[track_caller]
pub(super) fn update_accepts(old: Value, new: Value) {
    let (old, new) = (env(old), env(new));
    let failures = failures(&new, Some(&old));
    assert!(failures.is_empty(), "expected the update to be accepted, got {failures:#?}");
}

#[track_caller]
pub(super) fn update_rejects(old: Value, new: Value, needle: &str) {
    let (old, new) = (env(old), env(new));
    let failures = failures(&new, Some(&old));
    assert!(
        failures.iter().any(|f| f.contains(needle)),
        "expected an update failure containing {needle:?}, got {failures:#?}"
    );
}

/// Every compiled rule node, depth first, with its JSON path.
fn walk<'a>(node: &'a CompiledSchema, path: String, out: &mut Vec<(String, &'a CompiledSchema)>) {
    out.push((path.clone(), node));
    let mut properties: Vec<_> = node.properties.iter().collect();
    properties.sort_by(|a, b| a.0.cmp(b.0));
    for (name, child) in properties {
        walk(child, format!("{path}.{name}"), out);
    }
    if let Some(items) = &node.items {
        walk(items, format!("{path}[]"), out);
    }
}

#[test]
fn every_rule_compiles_client_side() {
    let mut nodes = Vec::new();
    walk(compiled(), String::new(), &mut nodes);
    let mut rules = 0;
    let mut errors = Vec::new();
    for (path, node) in nodes {
        rules += node.validations.len();
        errors.extend(node.compilation_errors().iter().map(|e| format!("{path}: {e:?}")));
    }
    assert!(errors.is_empty(), "{errors:#?}");
    // Guards the walk itself: the spec carries a few dozen rules.
    assert!(rules > 40, "only {rules} rules found");
}

#[test]
fn base_spec_is_valid() {
    accepts(json!({}));
}
