//! The `RedcapEnvironment` manifest the operator-process tests and the benchmark apply.
//!
//! One small environment (us-east-1, REDCap 15.8.0 from `s3://redcap-releases/`, an
//! address identity for mail, ECS Express for compute: no domain or certificate needed) so
//! every test starts from the same shape and a change to what a minimal environment needs
//! is made once. Tests add their own top-level spec fields with
//! [`EnvironmentManifest::spec`] and choose another compute kind with
//! [`EnvironmentManifest::compute`].

/// The bucket the test environments' release zip is read from.
pub const RELEASE_BUCKET: &str = "redcap-releases";
/// The REDCap version of the test environments.
pub const REDCAP_VERSION: &str = "15.8.0";

/// A minimal environment, rendered as YAML for `TestEnv::apply_yaml` or kubectl.
#[derive(Clone, Debug)]
pub struct EnvironmentManifest {
    name: String,
    /// `None`: the field is left out (the CRD's default applies).
    deletion_policy: Option<String>,
    from_address: String,
    email_extra: Vec<(String, String)>,
    /// The `spec.compute` block, indented by four spaces.
    compute: String,
    extra_spec: Vec<String>,
}

/// `spec.compute` of the test environments: ECS Express (no certificate needed).
pub const EXPRESS: &str = "    kind: EcsExpress\n";

/// `spec.compute` for kind EcsFargate with the certificate `arn` (the local emulator's
/// ACM must hold it: the listener refuses an unknown one).
pub fn fargate(arn: &str) -> String {
    format!("    kind: EcsFargate\n    ecsFargate:\n      certificateArn: {arn}\n")
}

/// `spec.compute` for kind AppRunner.
pub const APP_RUNNER: &str = "    kind: AppRunner\n    cpu: 1024\n    memory: 2048\n";

impl EnvironmentManifest {
    /// `name` with `deletionPolicy: Delete` and mail from `redcap-<name>@example.org`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            deletion_policy: Some("Delete".to_string()),
            from_address: format!("redcap-{name}@example.org"),
            email_extra: Vec::new(),
            compute: EXPRESS.to_string(),
            extra_spec: Vec::new(),
        }
    }

    /// Another `spec.compute` block ([`fargate`], [`APP_RUNNER`], [`EXPRESS`]).
    pub fn compute(mut self, block: &str) -> Self {
        self.compute = block.to_string();
        self
    }

    pub fn deletion_policy(mut self, policy: &str) -> Self {
        self.deletion_policy = Some(policy.to_string());
        self
    }

    /// No `deletionPolicy` in the manifest: the API server's default applies.
    pub fn default_deletion_policy(mut self) -> Self {
        self.deletion_policy = None;
        self
    }

    pub fn from_address(mut self, address: &str) -> Self {
        self.from_address = address.to_string();
        self
    }

    /// Another `spec.email` field, e.g. `("bounceNotificationAddress", "it@example.org")`.
    pub fn email(mut self, key: &str, value: &str) -> Self {
        self.email_extra.push((key.to_string(), value.to_string()));
        self
    }

    /// More top-level spec fields as YAML indented by two spaces, e.g. `"  suspend: true"`.
    pub fn spec(mut self, yaml: &str) -> Self {
        self.extra_spec.push(yaml.to_string());
        self
    }

    pub fn yaml(&self) -> String {
        let mut email = format!("    fromAddress: {}\n", self.from_address);
        for (key, value) in &self.email_extra {
            email.push_str(&format!("    {key}: {value}\n"));
        }
        let policy = self
            .deletion_policy
            .as_ref()
            .map(|p| format!("  deletionPolicy: {p}\n"))
            .unwrap_or_default();
        format!(
            r#"apiVersion: redcap.dev/v1alpha1
kind: RedcapEnvironment
metadata:
  name: {name}
spec:
  aws:
    region: us-east-1
  redcap:
    version: "{REDCAP_VERSION}"
    source:
      s3:
        bucket: {RELEASE_BUCKET}
        key: redcap{REDCAP_VERSION}.zip
  email:
{email}  compute:
{compute}{policy}{extra}
"#,
            name = self.name,
            compute = self.compute,
            extra = self.extra_spec.join("\n"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_valid_yaml_with_every_addition() {
        let yaml = EnvironmentManifest::new("dev")
            .deletion_policy("Retain")
            .email("bounceNotificationAddress", "it@example.org")
            .spec("  suspend: true")
            .yaml();
        let value: serde_json::Value = serde_yaml::from_str(&yaml).expect("valid YAML");
        assert_eq!(value["metadata"]["name"], "dev");
        assert_eq!(value["spec"]["deletionPolicy"], "Retain");
        assert_eq!(value["spec"]["suspend"], true);
        assert_eq!(value["spec"]["email"]["fromAddress"], "redcap-dev@example.org");
        assert_eq!(value["spec"]["email"]["bounceNotificationAddress"], "it@example.org");
        assert_eq!(value["spec"]["redcap"]["source"]["s3"]["key"], "redcap15.8.0.zip");
        assert_eq!(value["spec"]["compute"]["kind"], "EcsExpress");
        let fargate: serde_json::Value = serde_yaml::from_str(
            &EnvironmentManifest::new("prod")
                .compute(&fargate("arn:aws:acm:us-east-1:1:certificate/x"))
                .yaml(),
        )
        .expect("valid YAML");
        assert_eq!(
            fargate["spec"]["compute"]["ecsFargate"]["certificateArn"],
            "arn:aws:acm:us-east-1:1:certificate/x"
        );
    }

    #[test]
    fn the_default_deletion_policy_leaves_the_field_out() {
        let yaml = EnvironmentManifest::new("dev")
            .default_deletion_policy()
            .spec("  database:\n    readers: 0")
            .yaml();
        let value: serde_json::Value = serde_yaml::from_str(&yaml).expect("valid YAML");
        assert!(value["spec"].get("deletionPolicy").is_none(), "{yaml}");
        assert_eq!(value["spec"]["database"]["readers"], 0);
        assert_eq!(
            EnvironmentManifest::new("dev").yaml().matches("deletionPolicy: Delete").count(),
            1
        );
    }
}
