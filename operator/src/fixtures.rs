//! Test builders (cfg(test) only): `RedcapEnvironment::test().with_generation(3).suspended()`
//! and small constructors for component reports.
//!
//! The spec comes from a minimal YAML document, so the builders keep working as the spec
//! grows new (defaulted) fields. No I/O.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::{
    ComponentName, ComponentState, FINALIZER, RedcapEnvironment, RedcapEnvironmentSpec,
    RedcapEnvironmentStatus,
};
use crate::reconcile::report::{ComponentReport, PassReport};

/// The smallest spec the API accepts.
pub const MINIMAL_SPEC: &str = r#"
aws:
  region: us-east-1
redcap:
  version: 15.8.0
  source:
    s3:
      bucket: redcap-releases
      key: redcap15.8.0.zip
email:
  fromAddress: redcap@example.org
compute:
  kind: EcsExpress
"#;

/// UID of [`RedcapEnvironment::test`].
pub const TEST_UID: &str = "6f1e1f5c-0000-4000-8000-000000000001";

impl RedcapEnvironment {
    /// `default/test`, generation 1, no status, no finalizer.
    pub fn test() -> Self {
        let spec: RedcapEnvironmentSpec =
            serde_yaml::from_str(MINIMAL_SPEC).expect("the minimal spec parses");
        let mut env = RedcapEnvironment::new("test", spec);
        env.metadata.namespace = Some("default".into());
        env.metadata.uid = Some(TEST_UID.into());
        env.metadata.generation = Some(1);
        env
    }

    pub fn with_generation(mut self, generation: i64) -> Self {
        self.metadata.generation = Some(generation);
        self
    }

    pub fn suspended(mut self) -> Self {
        self.spec.suspend = true;
        self
    }

    pub fn with_finalizer(mut self) -> Self {
        let finalizers = self.metadata.finalizers.get_or_insert_with(Vec::new);
        if !finalizers.iter().any(|f| f == FINALIZER) {
            finalizers.push(FINALIZER.into());
        }
        self
    }

    /// Marked for deletion (with the finalizer still holding it).
    pub fn deleting(self) -> Self {
        let mut env = self.with_finalizer();
        env.metadata.deletion_timestamp = Some(time(1_000));
        env
    }

    pub fn with_status(mut self, status: RedcapEnvironmentStatus) -> Self {
        self.status = Some(status);
        self
    }
}

/// A whole-second timestamp.
pub fn time(secs: i64) -> Time {
    Time(jiff::Timestamp::from_second(secs).expect("valid timestamp"))
}

/// A report line for `name` in `state`, with no ids.
pub fn component(name: ComponentName, state: ComponentState) -> ComponentReport {
    ComponentReport { name, state, id: None, arn: None, message: None, wrote: false }
}

impl ComponentReport {
    pub fn with_message(mut self, message: &str) -> Self {
        self.message = Some(message.into());
        self
    }

    pub fn with_arn(mut self, arn: &str) -> Self {
        self.arn = Some(arn.into());
        self
    }
}

/// A settled report with these components.
pub fn report(components: Vec<ComponentReport>) -> PassReport {
    PassReport { components, ..PassReport::default() }
}

/// A report where every component is in `state`.
pub fn all(state: ComponentState) -> PassReport {
    report(ComponentName::all().map(|n| component(n, state)).collect())
}

impl PassReport {
    /// Something still waits on AWS.
    pub fn waiting(mut self, secs: u64) -> Self {
        self.requeue_after = Some(Duration::from_secs(secs));
        self
    }
}

#[test]
fn builders_compose() {
    let env = RedcapEnvironment::test().with_generation(3).suspended().deleting();
    assert_eq!(env.metadata.generation, Some(3));
    assert!(env.spec.suspend);
    assert!(env.metadata.deletion_timestamp.is_some());
    assert_eq!(env.metadata.finalizers.as_deref(), Some(&[FINALIZER.to_string()][..]));
    assert_eq!(env.spec.aws.region, "us-east-1");
}

/// An AWS context for tests that make no calls (static credentials, nothing listening).
pub async fn aws() -> crate::aws::AwsCtx {
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(aws_sdk_s3::config::Credentials::new("a", "b", None, None, "test"))
        .region(aws_types::region::Region::new("us-east-1"))
        .load()
        .await;
    crate::aws::AwsFactory::from_base_config(
        base,
        crate::aws::AwsSettings::default(),
        crate::aws::AwsCallMetrics::default(),
    )
    .context_for(&crate::api::AwsSpec {
        region: "us-east-1".into(),
        role_arn: None,
        external_id: None,
        tags: Vec::new(),
    })
    .await
    .expect("an AWS context")
}

impl crate::plan::EnvIdentity {
    /// `prod/redcap` in eu-west-1 with UID `uid-1`.
    pub fn test() -> Self {
        Self {
            namespace: "prod".into(),
            name: "redcap".into(),
            uid: "uid-1".into(),
            region: "eu-west-1".into(),
        }
    }
}
