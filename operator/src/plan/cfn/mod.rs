//! CloudFormation templates and the decisions about their stacks (step: plan; pure, no
//! I/O).
//!
//! The static, order-sensitive layers (the network today, the maintenance server later)
//! are CloudFormation stacks whose templates are rendered here and golden-tested. A stack
//! is changed only when its content hash differs from the one it reports: the hash covers
//! the template body and the stack tags, and is deployed as the `TemplateHash` output, so
//! one `DescribeStacks` tells whether anything must be written (a rolled-back update rolls
//! the output back too, so the hash always describes what is really deployed). No
//! template has parameters: everything is rendered in, so the hash covers all of it.

pub mod network;
pub mod stack;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::tags::TagSet;

/// Name of the output that carries the content hash of the deployed template and tags.
pub const HASH_OUTPUT: &str = "TemplateHash";

/// CloudFormation's limit for a template passed in the request body.
pub const MAX_TEMPLATE_BODY: usize = 51_200;

/// A stack as the plan wants it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredStack {
    pub name: String,
    /// The compact JSON template, with the [`HASH_OUTPUT`] output in it.
    pub body: String,
    /// `sha256:<hex>` of the template (without the hash output) and the tags.
    pub hash: String,
    pub tags: TagSet,
    /// `ClientRequestToken` of the create or update that deploys this content. It also
    /// changes with the attempt salt (see [`attempt_salt`]), so a failed change is retried
    /// only when the user asks, never in a loop.
    pub token: String,
}

impl DesiredStack {
    /// Seals `template` (adds the hash output) for the stack `name` with `tags`.
    /// `salt` comes from [`attempt_salt`].
    pub fn new(name: String, mut template: Value, tags: TagSet, salt: &str) -> Self {
        let hash = content_hash(&template, &tags);
        if let Some(outputs) = template
            .as_object_mut()
            .map(|t| t.entry("Outputs").or_insert_with(|| json!({})))
            .and_then(Value::as_object_mut)
        {
            outputs.insert(
                HASH_OUTPUT.to_string(),
                json!({
                    "Description": "Content hash of this template and the stack tags (redcap-operator change detection)",
                    "Value": hash,
                }),
            );
        }
        let hex = hash.trim_start_matches("sha256:");
        let token = format!("redcap-{}-{salt}", &hex[..16.min(hex.len())]);
        Self { name, body: template.to_string(), hash, tags, token }
    }

    /// The hash a deployed stack reports, if it has one.
    pub fn deployed_hash(outputs: &std::collections::BTreeMap<String, String>) -> Option<&str> {
        outputs.get(HASH_OUTPUT).map(String::as_str)
    }
}

/// `sha256:<hex>` over the compact template (keys are sorted, so the text is canonical)
/// and the tags as a JSON list of pairs (quoted, so no value can pass for a key).
pub fn content_hash(template: &Value, tags: &TagSet) -> String {
    let tags: Vec<Value> = tags.iter().map(|(k, v)| json!([k, v])).collect();
    let mut h = Sha256::new();
    h.update(template.to_string().as_bytes());
    h.update(b"\n");
    h.update(Value::Array(tags).to_string().as_bytes());
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// Eight hex digits that change with the object's generation and with the
/// `redcap.dev/reconcile-requested-at` annotation: a new spec or an explicit request
/// makes a new attempt of a change that failed before.
pub fn attempt_salt(generation: Option<i64>, requested_at: Option<&str>) -> String {
    let mut h = Sha256::new();
    h.update(generation.unwrap_or(0).to_be_bytes());
    h.update(requested_at.unwrap_or_default().as_bytes());
    hex::encode(&h.finalize()[..4])
}

/// `{"Ref": name}`.
pub fn r(name: &str) -> Value {
    json!({ "Ref": name })
}

/// `{"Fn::GetAtt": [name, attribute]}`.
pub fn get_att(name: &str, attribute: &str) -> Value {
    json!({ "Fn::GetAtt": [name, attribute] })
}

/// `{"Fn::Sub": text}`.
pub fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

/// `{"Fn::Join": [",", items]}`: lists travel through outputs as comma-separated text.
pub fn join_comma(items: Vec<Value>) -> Value {
    json!({ "Fn::Join": [",", items] })
}

/// A `Name` tag list, the only tag set in templates: the ownership tags are stack tags,
/// which CloudFormation puts on every resource that takes tags.
pub fn name_tag(name: &str) -> Value {
    json!([{ "Key": "Name", "Value": name }])
}

/// An egress rule that matches nothing. A security group created without egress rules
/// gets "allow all"; listing this one instead leaves it with no usable egress (the AWS
/// CDK's `allowAllOutbound: false` does the same).
pub fn no_egress() -> Value {
    json!([{
        "CidrIp": "255.255.255.255/32",
        "Description": "Disallow all traffic",
        "FromPort": 252,
        "IpProtocol": "icmp",
        "ToPort": 86
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags() -> TagSet {
        [("a", "1"), ("b", "2")].into_iter().collect()
    }

    #[test]
    fn hash_covers_template_and_tags() {
        let t = json!({"Resources": {"X": {"Type": "AWS::EC2::VPC"}}});
        let base = content_hash(&t, &tags());
        assert!(base.starts_with("sha256:") && base.len() == 71, "{base}");
        assert_eq!(base, content_hash(&t.clone(), &tags()), "deterministic");
        let other = json!({"Resources": {"X": {"Type": "AWS::EC2::Subnet"}}});
        assert_ne!(base, content_hash(&other, &tags()));
        let mut more = tags();
        more.insert("c", "3");
        assert_ne!(base, content_hash(&t, &more));
        // A tag value cannot be confused with the next tag's key.
        let glued: TagSet = [("a", "1\nb=2")].into_iter().collect();
        let split: TagSet = [("a", "1"), ("b", "2")].into_iter().collect();
        assert_ne!(content_hash(&t, &glued), content_hash(&t, &split));
    }

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": {"y": 2, "x": 3}}"#).expect("json");
        let b: Value = serde_json::from_str(r#"{"a": {"x": 3, "y": 2}, "b": 1}"#).expect("json");
        assert_eq!(content_hash(&a, &tags()), content_hash(&b, &tags()));
    }

    #[test]
    fn sealed_stack_reports_its_hash_as_an_output() {
        let t = json!({"Resources": {}});
        let s = DesiredStack::new("s".into(), t.clone(), tags(), "0a1b2c3d");
        let body: Value = serde_json::from_str(&s.body).expect("json body");
        assert_eq!(body["Outputs"][HASH_OUTPUT]["Value"], s.hash.as_str());
        assert_eq!(s.hash, content_hash(&t, &tags()), "hash excludes itself");
        assert!(s.token.starts_with("redcap-") && s.token.ends_with("-0a1b2c3d"));
        assert!(s.token.len() <= 128);
        assert!(s.token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn attempt_salt_changes_with_generation_and_request() {
        let a = attempt_salt(Some(1), None);
        assert_eq!(a.len(), 8);
        assert_eq!(a, attempt_salt(Some(1), None));
        assert_ne!(a, attempt_salt(Some(2), None));
        assert_ne!(a, attempt_salt(Some(1), Some("2026-01-01T00:00:00Z")));
    }
}
