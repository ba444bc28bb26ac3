//! Bucket policies and their semantic comparison (step: plan; pure, no I/O).
//!
//! AWS hands policies back re-serialised: one-element lists become strings (or the other
//! way round), statements and values may come back in another order. Comparing text would
//! rewrite the policy on every pass, so policies are compared in a canonical form.

use serde_json::{Map, Value, json};

use super::naming::bucket_arn;

/// Keys whose value may be a string or a list of strings, with the same meaning.
const LIST_KEYS: [&str; 4] = ["Action", "NotAction", "Resource", "NotResource"];

fn deny_insecure_transport(bucket_arn: &str) -> Value {
    json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        // `{"AWS": "*"}` means the same as `"*"` in a resource policy (IAM reference,
        // "All principals"); moto's log-delivery check also crashes on a bare string.
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": [bucket_arn, format!("{bucket_arn}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
}

/// The file bucket: TLS only.
pub fn file_bucket_policy(partition: &str, bucket: &str) -> Value {
    let arn = bucket_arn(partition, bucket);
    json!({"Version": "2012-10-17", "Statement": [deny_insecure_transport(&arn)]})
}

/// The access-log bucket: TLS only, and S3's logging service may write the logs of
/// `source_bucket` (this account only) under `prefix`. With `BucketOwnerEnforced`
/// ownership a bucket policy is the only way to grant log delivery (ACLs are off).
pub fn log_bucket_policy(
    partition: &str,
    region: &str,
    log_bucket: &str,
    prefix: &str,
    source_bucket: &str,
    account: &str,
) -> Value {
    let arn = bucket_arn(partition, log_bucket);
    json!({
        "Version": "2012-10-17",
        "Statement": [
            deny_insecure_transport(&arn),
            {
                "Sid": "AllowServerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": format!("{arn}/{prefix}*"),
                "Condition": {
                    "ArnLike": {"aws:SourceArn": bucket_arn(partition, source_bucket)},
                    "StringEquals": {"aws:SourceAccount": account}
                }
            },
            {
                // The compute kind EcsFargate's load balancer writes its access logs under
                // `load-balancer/AWSLogs/<account>/`.
                "Sid": "AllowLoadBalancerAccessLogDelivery",
                "Effect": "Allow",
                "Principal": elb_log_principal(partition, region),
                "Action": "s3:PutObject",
                "Resource": format!("{arn}/{LOAD_BALANCER_LOG_PREFIX}/AWSLogs/{account}/*")
            }
        ]
    })
}

/// Where load balancers write their access logs in the access-log bucket.
pub const LOAD_BALANCER_LOG_PREFIX: &str = "load-balancer";

/// Who delivers load-balancer access logs: in the regions that existed before August 2022,
/// Elastic Load Balancing's own account there; in the others, its log delivery service.
fn elb_log_principal(partition: &str, region: &str) -> Value {
    match ELB_LOG_ACCOUNTS.iter().find(|(r, _)| *r == region) {
        Some((_, account)) => json!({"AWS": format!("arn:{partition}:iam::{account}:root")}),
        None => json!({"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
    }
}

/// Elastic Load Balancing's account per region (AWS's table for access-log buckets).
const ELB_LOG_ACCOUNTS: &[(&str, &str)] = &[
    ("us-east-1", "127311923021"),
    ("us-east-2", "033677994240"),
    ("us-west-1", "027434742980"),
    ("us-west-2", "797873946194"),
    ("af-south-1", "098369216593"),
    ("ap-east-1", "754344448648"),
    ("ap-southeast-3", "589379963580"),
    ("ap-south-1", "718504428378"),
    ("ap-northeast-3", "383597477331"),
    ("ap-northeast-2", "600734575887"),
    ("ap-southeast-1", "114774131450"),
    ("ap-southeast-2", "783225319266"),
    ("ap-northeast-1", "582318560864"),
    ("ca-central-1", "985666609251"),
    ("eu-central-1", "054676820928"),
    ("eu-west-1", "156460612806"),
    ("eu-west-2", "652711504416"),
    ("eu-south-1", "635631232127"),
    ("eu-west-3", "009996457667"),
    ("eu-north-1", "897822967062"),
    ("me-south-1", "076674570225"),
    ("sa-east-1", "507241528517"),
    ("us-gov-west-1", "048591011584"),
    ("us-gov-east-1", "190560391635"),
    ("cn-north-1", "638102146993"),
    ("cn-northwest-1", "037604701340"),
];

/// True when two policy documents mean the same thing.
pub fn same_policy(a: &Value, b: &Value) -> bool {
    canonical(a) == canonical(b)
}

/// Parses a policy as AWS returns it; text that is not JSON stays a string (and so never
/// equals a desired policy, which gets it rewritten).
pub fn parse_policy(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// The canonical form: list-or-string fields as sorted lists, scalar condition and
/// principal values as strings, statements sorted.
pub fn canonical(policy: &Value) -> Value {
    let Value::Object(doc) = policy else {
        return policy.clone();
    };
    let mut out = Map::new();
    for (key, value) in doc {
        let value = if key == "Statement" {
            let mut statements: Vec<Value> =
                as_list(value).iter().map(canonical_statement).collect();
            statements.sort_by_key(|s| s.to_string());
            Value::Array(statements)
        } else {
            value.clone()
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

fn canonical_statement(statement: &Value) -> Value {
    let Value::Object(fields) = statement else {
        return statement.clone();
    };
    let mut out = Map::new();
    for (key, value) in fields {
        let value = match key.as_str() {
            k if LIST_KEYS.contains(&k) => string_list(value),
            "Principal" | "NotPrincipal" => match value {
                Value::Object(by_kind) => Value::Object(
                    by_kind.iter().map(|(kind, v)| (kind.clone(), string_list(v))).collect(),
                ),
                // `"*"` and `{"AWS": "*"}` are the same principal: everyone.
                Value::String(s) if s == "*" => json!({"AWS": ["*"]}),
                other => other.clone(),
            },
            "Condition" => match value {
                Value::Object(operators) => Value::Object(
                    operators
                        .iter()
                        .map(|(op, keys)| {
                            let keys = match keys {
                                Value::Object(m) => Value::Object(
                                    m.iter().map(|(k, v)| (k.clone(), string_list(v))).collect(),
                                ),
                                other => other.clone(),
                            };
                            (op.clone(), keys)
                        })
                        .collect(),
                ),
                // `"*"` and `{"AWS": "*"}` are the same principal: everyone.
                Value::String(s) if s == "*" => json!({"AWS": ["*"]}),
                other => other.clone(),
            },
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// A sorted, de-duplicated list of strings (`true` and `"true"` are the same to IAM).
fn string_list(value: &Value) -> Value {
    let mut items: Vec<String> = as_list(value)
        .into_iter()
        .map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        })
        .collect();
    items.sort();
    items.dedup();
    Value::Array(items.into_iter().map(Value::String).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_reserialisation_is_not_drift() {
        let ours = file_bucket_policy("aws", "b");
        // The same policy as S3 may return it: lists shortened/reordered, bool unquoted.
        let theirs = parse_policy(
            r#"{"Statement":[{"Condition":{"Bool":{"aws:SecureTransport":false}},
                "Resource":["arn:aws:s3:::b/*","arn:aws:s3:::b"],"Action":["s3:*"],
                "Principal":"*","Effect":"Deny","Sid":"DenyInsecureTransport"}],"Version":"2012-10-17"}"#,
        );
        assert!(same_policy(&ours, &theirs));
    }

    #[test]
    fn statement_order_is_not_drift() {
        let ours =
            log_bucket_policy("aws", "eu-west-1", "logs", "access-logs/", "files", "123456789012");
        let mut theirs = ours.clone();
        if let Some(Value::Array(s)) = theirs.get_mut("Statement") {
            s.reverse();
        }
        assert!(same_policy(&ours, &theirs));
    }

    #[test]
    fn real_changes_are_drift() {
        let ours = file_bucket_policy("aws", "b");
        assert!(!same_policy(&ours, &file_bucket_policy("aws", "other")));
        let mut weakened = ours.clone();
        weakened["Statement"][0]["Effect"] = json!("Allow");
        assert!(!same_policy(&ours, &weakened));
        assert!(!same_policy(&ours, &parse_policy("not json")));
        let log =
            log_bucket_policy("aws", "eu-west-1", "logs", "access-logs/", "files", "123456789012");
        let other_account =
            log_bucket_policy("aws", "eu-west-1", "logs", "access-logs/", "files", "210987654321");
        assert!(!same_policy(&log, &other_account));
    }

    #[test]
    fn log_policy_grants_only_the_logging_service_for_this_bucket_and_account() {
        let p =
            log_bucket_policy("aws", "eu-west-1", "logs", "access-logs/", "files", "123456789012");
        let allow = &p["Statement"][1];
        assert_eq!(allow["Principal"]["Service"], "logging.s3.amazonaws.com");
        assert_eq!(allow["Resource"], "arn:aws:s3:::logs/access-logs/*");
        assert_eq!(allow["Condition"]["ArnLike"]["aws:SourceArn"], "arn:aws:s3:::files");
        assert_eq!(allow["Condition"]["StringEquals"]["aws:SourceAccount"], "123456789012");
        let elb = &p["Statement"][2];
        assert_eq!(elb["Principal"]["AWS"], "arn:aws:iam::156460612806:root");
        assert_eq!(elb["Resource"], "arn:aws:s3:::logs/load-balancer/AWSLogs/123456789012/*");
        let newer = log_bucket_policy("aws", "eu-central-2", "logs", "a/", "files", "1");
        assert_eq!(
            newer["Statement"][2]["Principal"]["Service"],
            "logdelivery.elasticloadbalancing.amazonaws.com"
        );
    }
}
