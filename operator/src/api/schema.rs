//! Schema building blocks for the `RedcapEnvironment` CRD (api step, no I/O).
//!
//! The derive covers most fields; the helpers here write the few shapes it cannot:
//! string sets whose items carry their own CEL rule (so an error names the bad item,
//! `spec.firewall.allowedIps[2]`), and the regular expressions several fields share.
//! Every string gets a `maxLength` and every list a `maxItems`: the API server estimates
//! the worst-case cost of each CEL rule from those bounds and refuses the whole CRD when
//! one is unbounded and expensive.

use schemars::{Schema, json_schema};
use serde_json::{Value, json};

/// DNS-1123 subdomain: names of Kubernetes objects such as Secrets.
pub(crate) const DNS1123_SUBDOMAIN: &str =
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// A key of a Secret's `data`.
pub(crate) const SECRET_KEY: &str = r"^[-._a-zA-Z0-9]+$";

/// A fully qualified DNS name in lower case, at least two labels (`redcap.example.org`).
pub(crate) const DNS_NAME: &str =
    r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";

/// One or more DNS labels in lower case (`redcap`, `redcap.dept`).
pub(crate) const DNS_LABELS: &str =
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$";

/// An email address, deliberately loose: SES is the authority on what it accepts.
pub(crate) const EMAIL: &str = r"^[^@\s]+@[^@\s]+\.[^@\s]+$";

/// An ACM certificate ARN.
pub(crate) const ACM_CERTIFICATE_ARN: &str =
    r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$";

/// A CEL rule object for `x-kubernetes-validations`.
pub(crate) fn rule(rule: &str, message: &str) -> Value {
    json!({ "rule": rule, "message": message })
}

/// A string list with `x-kubernetes-list-type: set`, bounded, whose items match
/// `pattern` (when given) and carry `item_rules`.
pub(crate) fn string_set(
    max_items: u64,
    max_length: u64,
    pattern: Option<&str>,
    item_rules: &[Value],
) -> Schema {
    let mut items = json!({ "type": "string", "maxLength": max_length });
    if let Some(pattern) = pattern {
        items["pattern"] = json!(pattern);
    }
    if !item_rules.is_empty() {
        items["x-kubernetes-validations"] = json!(item_rules);
    }
    bounded_array(json!(items), max_items, json!({"x-kubernetes-list-type": "set"}))
}

/// A list of `T` with `x-kubernetes-list-type: map` keyed by `key`, bounded.
pub(crate) fn bounded_list_map<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
    key: &str,
    max_items: u64,
) -> Schema {
    let items = generator.subschema_for::<T>();
    bounded_array(
        json!(items),
        max_items,
        json!({"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [key]}),
    )
}

/// A bounded set of unit-enum values (`T` serialises to a string).
pub(crate) fn enum_set<T: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
    max_items: u64,
) -> Schema {
    let items = generator.subschema_for::<T>();
    bounded_array(json!(items), max_items, json!({"x-kubernetes-list-type": "set"}))
}

/// An array of at most `max_items` `items`, with the list-type markers in `list`.
fn bounded_array(items: Value, max_items: u64, list: Value) -> Schema {
    let mut schema = json_schema!({
        "type": "array",
        "maxItems": max_items,
        "items": items,
    });
    if let Value::Object(markers) = list {
        for (k, v) in markers {
            schema.insert(k, v);
        }
    }
    schema
}
