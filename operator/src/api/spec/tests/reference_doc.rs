//! Keeps `docs/reference/spec.md` in step with the CRD: the field tables between the
//! `BEGIN GENERATED` / `END GENERATED` markers are rendered from the generated schema
//! (path, type, default, validation, description). `UPDATE_GOLDEN=1` rewrites them;
//! otherwise the test fails when they are stale. The prose around them is hand-written.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;

use super::schema;

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/reference/spec.md")
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn type_name(node: &Value) -> String {
    let base = node.get("type").and_then(Value::as_str).unwrap_or("object");
    let base = match node.get("format").and_then(Value::as_str) {
        Some("date-time") => "string (RFC 3339 time)".to_owned(),
        _ => base.to_owned(),
    };
    match base.as_str() {
        "array" => {
            let items = &node["items"];
            let kind = match node.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("map") => format!(
                    "list-map keyed by `{}`",
                    node["x-kubernetes-list-map-keys"]
                        .as_array()
                        .map(|k| k.iter().map(compact).collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                ),
                Some("set") => "set".to_owned(),
                _ => "list".to_owned(),
            };
            format!("{kind} of {}", type_name(items))
        }
        _ => match node.get("enum").and_then(Value::as_array) {
            Some(values) if values.len() <= 8 => {
                values.iter().map(|v| format!("`{}`", compact(v))).collect::<Vec<_>>().join(" | ")
            }
            Some(_) => format!("{base} (enum)"),
            None => base,
        },
    }
}

fn validation(node: &Value, required: bool) -> String {
    let mut parts = Vec::new();
    if required {
        parts.push("required".to_owned());
    }
    let num = |key: &str| node.get(key).and_then(Value::as_f64);
    match (num("minimum"), num("maximum")) {
        (Some(min), Some(max)) if min != 0.0 || max < 1e9 => parts.push(format!("{min}..{max}")),
        (Some(min), None) if min != 0.0 => parts.push(format!(">= {min}")),
        _ => {}
    }
    if let Some(m) = num("multipleOf") {
        parts.push(format!("multiple of {m}"));
    }
    if let Some(values) = node.get("enum").and_then(Value::as_array).filter(|v| v.len() > 8) {
        parts.push(format!("one of {}", values.iter().map(compact).collect::<Vec<_>>().join(", ")));
    }
    match (node.get("minLength"), node.get("maxLength")) {
        (Some(min), Some(max)) if min == max => parts.push(format!("length {min}")),
        (Some(min), Some(max)) => parts.push(format!("length {min}..{max}")),
        (None, Some(max)) => parts.push(format!("length <= {max}")),
        _ => {}
    }
    if let Some(max) = node.get("maxItems") {
        parts.push(format!("<= {max} items"));
    }
    if let Some(pattern) = node.get("pattern").and_then(Value::as_str) {
        parts.push(format!("`{pattern}`"));
    }
    for rule in node.get("x-kubernetes-validations").and_then(Value::as_array).into_iter().flatten()
    {
        if let Some(message) = rule.get("message").and_then(Value::as_str) {
            parts.push(format!("CEL: {message}"));
        }
    }
    if let Some(items) = node.get("items") {
        for rule in
            items.get("x-kubernetes-validations").and_then(Value::as_array).into_iter().flatten()
        {
            if let Some(message) = rule.get("message").and_then(Value::as_str) {
                parts.push(format!("CEL (each item): {message}"));
            }
        }
        if let Some(pattern) = items.get("pattern").and_then(Value::as_str) {
            parts.push(format!("items `{pattern}`"));
        }
        if let Some(max) = items.get("maxLength") {
            parts.push(format!("items length <= {max}"));
        }
    }
    parts.join("; ")
}

fn default_of(node: &Value) -> String {
    match node.get("default") {
        None => String::new(),
        Some(Value::String(s)) if s.is_empty() => "`\"\"`".to_owned(),
        Some(v) => {
            let text = compact(v);
            if text.len() > 60 { "(see description)".to_owned() } else { format!("`{text}`") }
        }
    }
}

/// One table row per field under `node`, depth first, in schema order.
fn rows(node: &Value, path: &str, out: &mut String) {
    let required: Vec<&str> = node["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, child) in node.get("properties").and_then(Value::as_object).into_iter().flatten() {
        let field = format!("{path}.{name}");
        let description = child.get("description").and_then(Value::as_str).unwrap_or_default();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            field,
            cell(&type_name(child)),
            cell(&default_of(child)),
            cell(&validation(child, required.contains(&name.as_str()))),
            cell(description),
        );
        rows(child, &field, out);
        if let Some(items) = child.get("items").filter(|i| i.get("properties").is_some()) {
            rows(items, &format!("{field}[]"), out);
        }
    }
}

fn table(node: &Value, path: &str) -> String {
    let mut out = String::from(
        "| Field | Type | Default | Validation | Description |\n|---|---|---|---|---|\n",
    );
    let description = node.get("description").and_then(Value::as_str).unwrap_or_default();
    let _ = writeln!(
        out,
        "| `{path}` | {} | {} | {} | {} |",
        cell(&type_name(node)),
        cell(&default_of(node)),
        cell(&validation(node, false)),
        cell(description)
    );
    rows(node, path, &mut out);
    out
}

fn generated() -> String {
    let root = schema();
    let spec = &root["properties"]["spec"];
    let mut out = String::new();
    for (name, section) in spec["properties"].as_object().into_iter().flatten() {
        let _ = writeln!(out, "### `spec.{name}`\n");
        out.push_str(&table(section, &format!("spec.{name}")));
        out.push('\n');
    }
    out.push_str("### Rules across sections (on `spec`)\n\n");
    for rule in spec["x-kubernetes-validations"].as_array().into_iter().flatten() {
        let message = rule.get("message").and_then(Value::as_str).unwrap_or_default();
        let rule_text = rule.get("rule").and_then(Value::as_str).unwrap_or_default();
        let _ = writeln!(out, "- {message}\n  (`{rule_text}`)");
    }
    out.push_str("\n### `status`\n\n");
    out.push_str(&table(&root["properties"]["status"], "status"));
    out
}

const BEGIN: &str = "<!-- BEGIN GENERATED: field tables (UPDATE_GOLDEN=1 cargo test -p redcap-operator --lib reference_doc) -->\n";
const END: &str = "<!-- END GENERATED -->";

#[test]
fn reference_doc_field_tables_are_current() {
    let path = doc_path();
    let doc =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let (start, end) = match (doc.find(BEGIN), doc.find(END)) {
        (Some(s), Some(e)) if s < e => (s + BEGIN.len(), e),
        _ => panic!("{} lacks the generated-section markers", path.display()),
    };
    let fresh = generated();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let updated = format!("{}{}{}", &doc[..start], fresh, &doc[end..]);
        std::fs::write(&path, updated).expect("write the reference doc");
        return;
    }
    assert!(
        doc[start..end] == fresh,
        "{} field tables are stale; regenerate with\n    UPDATE_GOLDEN=1 cargo test -p redcap-operator --lib reference_doc",
        path.display()
    );
}
