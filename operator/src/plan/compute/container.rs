//! The REDCap container every compute kind runs, as its runtime contract
//! (`containers/redcap/README.md`) describes it: the image by digest, plain settings as
//! environment variables, and every credential injected from Secrets Manager by ARN,
//! never as a plain value (step: plan; pure).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::api::{AuthMethod, RedcapEnvironmentSpec, SecretOutput};
use crate::plan::runtime::DatabaseHandoff;
use crate::plan::secrets::SecretPurpose;

/// What the container needs from the rest of the environment.
#[derive(Clone, Debug)]
pub struct ContainerInputs<'a> {
    pub spec: &'a RedcapEnvironmentSpec,
    pub region: &'a str,
    /// `<repository>@sha256:...`.
    pub image: &'a str,
    pub database: &'a DatabaseHandoff,
    pub file_bucket: &'a str,
    /// `status.outputs.secrets`: the salt and the storage and SMTP credentials.
    pub secrets: &'a [SecretOutput],
    /// The secret holding the first administrator's initial password.
    pub site_admin_secret: &'a str,
    pub mail_from: &'a str,
    pub configuration_set: &'a str,
    /// `redcap_base_url`, when known.
    pub base_url: Option<&'a str>,
    /// Apache's keep-alive, above the load balancer's idle timeout (`None`: the image's
    /// default, 75 s, above the 60 s AWS-managed load balancers use).
    pub keepalive_seconds: Option<u32>,
}

/// The container as every kind runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    pub image: String,
    pub port: u16,
    /// Plain settings, sorted by name.
    pub environment: BTreeMap<String, String>,
    /// Environment variable -> ARN of the secret injected into it, sorted by name.
    pub secrets: BTreeMap<String, String>,
}

/// What is still missing before the container can be defined (said in status).
pub fn missing_inputs(secrets: &[SecretOutput]) -> Vec<&'static str> {
    let has = |p: SecretPurpose| secrets.iter().any(|s| s.name == p.as_str());
    [
        (SecretPurpose::Salt, "the salt secret"),
        (SecretPurpose::StorageCredentials, "the storage credentials"),
        (SecretPurpose::SmtpCredentials, "the SMTP credentials"),
    ]
    .into_iter()
    .filter(|(p, _)| !has(*p))
    .map(|(_, what)| what)
    .collect()
}

fn secret_arn(secrets: &[SecretOutput], purpose: SecretPurpose) -> Option<String> {
    secrets.iter().find(|s| s.name == purpose.as_str()).map(|s| s.arn.clone())
}

/// `auth_meth_global` as the image takes it (the enum's name).
fn auth_method(m: AuthMethod) -> &'static str {
    match m {
        AuthMethod::Table => "Table",
        AuthMethod::Ldap => "Ldap",
        AuthMethod::LdapTable => "LdapTable",
        AuthMethod::Shibboleth => "Shibboleth",
        AuthMethod::ShibbolethTable => "ShibbolethTable",
        AuthMethod::OpenIdConnect => "OpenIdConnect",
        AuthMethod::OpenIdConnectTable => "OpenIdConnectTable",
        AuthMethod::None => "None",
    }
}

/// `REDCAP_SETTINGS_JSON`: `spec.redcap.settings` (camelCase, absent members not
/// managed), the base URL, the contact address and `extraConfig`. Keys are sorted, so
/// equal specs give equal strings (no new task definition without a change).
pub fn settings_json(
    spec: &RedcapEnvironmentSpec,
    base_url: Option<&str>,
    mail_from: &str,
) -> String {
    let s = &spec.redcap.settings;
    let mut out = Map::new();
    out.insert("apiEnabled".into(), json!(s.api_enabled));
    out.insert("autoReportStats".into(), json!(s.auto_report_stats));
    out.insert("languageGlobal".into(), json!(s.language_global));
    out.insert("authMethod".into(), json!(auth_method(s.auth_method)));
    out.insert("contactEmail".into(), json!(s.contact_email.as_deref().unwrap_or(mail_from)));
    if let Some(url) = s.base_url.as_deref().or(base_url) {
        out.insert("baseUrl".into(), json!(url));
    }
    let mut admin = Map::new();
    admin.insert("username".into(), json!(s.site_admin.username));
    for (key, value) in [
        ("firstName", &s.site_admin.first_name),
        ("lastName", &s.site_admin.last_name),
        ("email", &s.site_admin.email),
    ] {
        if let Some(v) = value {
            admin.insert(key.into(), json!(v));
        }
    }
    out.insert("siteAdmin".into(), Value::Object(admin));
    if !spec.redcap.extra_config.is_empty() {
        let extra: Vec<Value> = spec
            .redcap
            .extra_config
            .iter()
            .map(|e| json!({"name": e.name, "value": e.value}))
            .collect();
        out.insert("extraConfig".into(), Value::Array(extra));
    }
    // serde_json's Map is a BTreeMap here: keys come out sorted.
    Value::Object(out).to_string()
}

/// The container for `inputs`; `None` while a secret it needs does not exist yet.
pub fn container(inputs: &ContainerInputs<'_>) -> Option<Container> {
    let db = inputs.database;
    let mut env = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        env.insert(k.to_string(), v);
    };
    put("AWS_REGION", inputs.region.to_string());
    // Apache reads its port from the environment at start.
    put("REDCAP_HTTP_PORT", inputs.spec.compute.port.to_string());
    put("REDCAP_DB_HOST", db.endpoint.clone());
    put("REDCAP_DB_PORT", db.port.to_string());
    put("REDCAP_DB_NAME", db.database_name.clone());
    put("REDCAP_DB_IAM_AUTH", db.iam_authentication.to_string());
    if let Some(reader) = &db.reader_endpoint {
        put("REDCAP_DB_READER_HOST", reader.clone());
    }
    put("REDCAP_S3_BUCKET", inputs.file_bucket.to_string());
    put("REDCAP_MAIL_FROM", inputs.mail_from.to_string());
    put("REDCAP_SES_CONFIGURATION_SET", inputs.configuration_set.to_string());
    put("REDCAP_TIMEZONE", inputs.spec.redcap.timezone.clone());
    put("REDCAP_SETTINGS_JSON", settings_json(inputs.spec, inputs.base_url, inputs.mail_from));
    if let Some(seconds) = inputs.keepalive_seconds {
        put("REDCAP_KEEPALIVE_TIMEOUT", seconds.to_string());
    }

    let mut secrets = BTreeMap::new();
    secrets.insert("REDCAP_DB_MASTER_SECRET".to_string(), db.master_secret_arn.clone()?);
    secrets.insert("REDCAP_SALT".to_string(), secret_arn(inputs.secrets, SecretPurpose::Salt)?);
    secrets.insert(
        "REDCAP_S3_CREDENTIALS".to_string(),
        secret_arn(inputs.secrets, SecretPurpose::StorageCredentials)?,
    );
    secrets.insert(
        "REDCAP_SMTP_CREDENTIALS".to_string(),
        secret_arn(inputs.secrets, SecretPurpose::SmtpCredentials)?,
    );
    secrets.insert("REDCAP_SITE_ADMIN_PASSWORD".to_string(), inputs.site_admin_secret.to_string());
    Some(Container {
        image: inputs.image.to_string(),
        // The image is built to listen on `spec.compute.port`.
        port: inputs.spec.compute.port,
        environment: env,
        secrets,
    })
}

/// The secrets a container reads (what its execution role may read).
pub fn secret_arns(c: &Container) -> Vec<String> {
    let mut arns: Vec<String> = c.secrets.values().cloned().collect();
    arns.sort();
    arns.dedup();
    arns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RedcapEnvironmentSpec {
        crate::api::RedcapEnvironment::test().spec
    }

    fn db() -> DatabaseHandoff {
        DatabaseHandoff {
            cluster_identifier: "c".into(),
            cluster_resource_id: "cluster-ABC".into(),
            endpoint: "c.cluster-x.eu-west-1.rds.amazonaws.com".into(),
            reader_endpoint: None,
            port: 3306,
            database_name: "redcap".into(),
            master_secret_arn: Some("arn:master".into()),
            iam_authentication: true,
        }
    }

    fn secret(p: SecretPurpose) -> SecretOutput {
        SecretOutput {
            name: p.as_str().into(),
            arn: format!("arn:{}", p.as_str()),
            rotated_at: None,
            rotation_days: None,
        }
    }

    fn all_secrets() -> Vec<SecretOutput> {
        [SecretPurpose::Salt, SecretPurpose::StorageCredentials, SecretPurpose::SmtpCredentials]
            .into_iter()
            .map(secret)
            .collect()
    }

    #[test]
    fn credentials_are_injected_by_arn_and_settings_are_plain() {
        let spec = spec();
        let db = db();
        let secrets = all_secrets();
        let inputs = ContainerInputs {
            spec: &spec,
            region: "eu-west-1",
            image: "r@sha256:1",
            database: &db,
            file_bucket: "b",
            secrets: &secrets,
            site_admin_secret: "arn:admin",
            mail_from: "redcap@example.org",
            configuration_set: "rc-x-mail",
            base_url: Some("https://redcap.example.org"),
            keepalive_seconds: Some(4005),
        };
        let c = container(&inputs).expect("complete");
        assert_eq!(c.secrets["REDCAP_SALT"], "arn:salt");
        assert_eq!(c.secrets["REDCAP_DB_MASTER_SECRET"], "arn:master");
        assert_eq!(c.secrets["REDCAP_SITE_ADMIN_PASSWORD"], "arn:admin");
        assert!(!c.environment.contains_key("REDCAP_DB_READER_HOST"), "no readers");
        assert_eq!(c.environment["REDCAP_KEEPALIVE_TIMEOUT"], "4005");
        let settings: Value =
            serde_json::from_str(&c.environment["REDCAP_SETTINGS_JSON"]).expect("json");
        assert_eq!(settings["baseUrl"], "https://redcap.example.org");
        assert_eq!(settings["contactEmail"], "redcap@example.org");
        assert_eq!(settings["siteAdmin"]["username"], "site_admin");
        assert_eq!(secret_arns(&c).len(), 5);
        // Deterministic: the same inputs give the same container.
        assert_eq!(container(&inputs), Some(c));
    }

    #[test]
    fn a_missing_secret_means_no_container_yet() {
        let spec = spec();
        let db = db();
        let secrets = vec![secret(SecretPurpose::Salt)];
        assert_eq!(missing_inputs(&secrets), ["the storage credentials", "the SMTP credentials"]);
        let inputs = ContainerInputs {
            spec: &spec,
            region: "eu-west-1",
            image: "r@sha256:1",
            database: &db,
            file_bucket: "b",
            secrets: &secrets,
            site_admin_secret: "arn:admin",
            mail_from: "a@b.org",
            configuration_set: "m",
            base_url: None,
            keepalive_seconds: None,
        };
        assert_eq!(container(&inputs), None);
    }
}
