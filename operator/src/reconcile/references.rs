//! Kubernetes Secrets the spec refers to (step: reconcile, the "dereference" part of a
//! pass; the only Kubernetes reads and writes of the component walk).
//!
//! The walk reads Secrets through [`SecretStore`], so its decisions are unit-tested with
//! [`MemorySecrets`] and run for real with [`KubeSecrets`]. Today it resolves the cron
//! seed: `spec.cron.secretRef`, or the generated Secret `<environment>-cron`, created
//! when absent and owned by the environment. A missing reference is a terminal
//! `SecretReferenceMissing` error; `error_policy` looks again soon, so the environment
//! recovers by itself once the Secret appears. Values never leave [`SecretString`]s.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};

use crate::api::{ComponentName, RedcapEnvironment, SecretKeyRef};
use crate::aws::ErrorClass;
use crate::plan::EnvIdentity;
use crate::plan::cron::{firewall_token, generate_seed, generated_secret, seed_ref, validate_seed};
use crate::plan::secret::SecretString;

use super::ComponentError;
use super::ledger::WriteMode;

/// A failed Kubernetes call, without any Secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    pub message: String,
    /// RBAC refused: retrying will not help until the operator's role changes.
    pub forbidden: bool,
}

/// What creating a Secret did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    /// Someone (or an earlier pass) created it first.
    AlreadyExists,
}

/// Reads and creates Kubernetes Secrets (boxed futures: the walk holds it as
/// `&dyn SecretStore`).
pub trait SecretStore: Send + Sync {
    /// The `data` of Secret `namespace/name`, or `None` when it does not exist.
    fn get<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<SecretData>, StoreError>>;

    /// Creates `secret` in its namespace.
    fn create<'a>(&'a self, secret: &'a Secret) -> BoxFuture<'a, Result<Created, StoreError>>;
}

/// The store backed by the Kubernetes API (the operator's ServiceAccount).
#[derive(Clone)]
pub struct KubeSecrets {
    client: kube::Client,
}

impl KubeSecrets {
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }
}

fn store_error(action: &str, namespace: &str, name: &str, e: kube::Error) -> StoreError {
    // The API server's message names the object and the verb, never the data.
    let forbidden = matches!(&e, kube::Error::Api(s) if s.code == 403);
    let hint = if forbidden {
        " (the operator reads and creates Secrets only in namespaces that grant it: bind the \
         chart's ClusterRole <release>-secrets to its ServiceAccount in this namespace, see \
         \"Secret access\" in docs/install.md)"
    } else {
        ""
    };
    StoreError {
        message: format!("failed to {action} Secret {namespace}/{name}: {e}{hint}"),
        forbidden,
    }
}

impl SecretStore for KubeSecrets {
    fn get<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<SecretData>, StoreError>> {
        async move {
            let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
            let secret =
                api.get_opt(name).await.map_err(|e| store_error("read", namespace, name, e))?;
            Ok(secret
                .map(|s| s.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect()))
        }
        .boxed()
    }

    fn create<'a>(&'a self, secret: &'a Secret) -> BoxFuture<'a, Result<Created, StoreError>> {
        async move {
            let namespace = secret.metadata.namespace.clone().unwrap_or_default();
            let name = secret.metadata.name.clone().unwrap_or_default();
            let api: Api<Secret> = Api::namespaced(self.client.clone(), &namespace);
            match api.create(&PostParams::default(), secret).await {
                Ok(_) => Ok(Created::Created),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(Created::AlreadyExists),
                Err(e) => Err(store_error("create", &namespace, &name, e)),
            }
        }
        .boxed()
    }
}

/// The data of one Secret.
pub type SecretData = BTreeMap<String, Vec<u8>>;

/// An in-memory store, for unit tests and for e2e tests that exercise only AWS.
#[derive(Default)]
pub struct MemorySecrets {
    secrets: Mutex<BTreeMap<(String, String), SecretData>>,
}

impl MemorySecrets {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), SecretData>> {
        self.secrets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts a Secret with one key.
    pub fn insert(&self, namespace: &str, name: &str, key: &str, value: &[u8]) {
        self.lock()
            .entry((namespace.to_string(), name.to_string()))
            .or_default()
            .insert(key.to_string(), value.to_vec());
    }

    /// Whether the Secret exists.
    pub fn contains(&self, namespace: &str, name: &str) -> bool {
        self.lock().contains_key(&(namespace.to_string(), name.to_string()))
    }
}

impl SecretStore for MemorySecrets {
    fn get<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<SecretData>, StoreError>> {
        let found = self.lock().get(&(namespace.to_string(), name.to_string())).cloned();
        futures::future::ready(Ok(found)).boxed()
    }

    fn create<'a>(&'a self, secret: &'a Secret) -> BoxFuture<'a, Result<Created, StoreError>> {
        futures::future::ready(Ok(self.insert_secret(secret))).boxed()
    }
}

impl MemorySecrets {
    fn insert_secret(&self, secret: &Secret) -> Created {
        let key = (
            secret.metadata.namespace.clone().unwrap_or_default(),
            secret.metadata.name.clone().unwrap_or_default(),
        );
        let mut secrets = self.lock();
        if secrets.contains_key(&key) {
            return Created::AlreadyExists;
        }
        let data =
            secret.data.clone().unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect();
        secrets.insert(key, data);
        Created::Created
    }
}

/// The resolved cron seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronSecret {
    /// Where the seed lives (shown in status).
    pub reference: SecretKeyRef,
    /// The token the firewall rule matches; `None` while the generated Secret does not
    /// exist yet (suspended before creation).
    pub token: Option<SecretString>,
    /// This pass created the generated Secret.
    pub created: bool,
}

fn missing(message: String) -> ComponentError {
    ComponentError::SecretReference {
        component: ComponentName::Secrets,
        message,
        class: ErrorClass::Terminal,
    }
}

fn from_store(e: StoreError) -> ComponentError {
    ComponentError::SecretReference {
        component: ComponentName::Secrets,
        class: if e.forbidden { ErrorClass::Terminal } else { ErrorClass::Recoverable },
        message: e.message,
    }
}

/// Finds (or, for the generated Secret, creates) the cron seed and derives the token.
pub async fn resolve_cron(
    store: &dyn SecretStore,
    env: &RedcapEnvironment,
    id: &EnvIdentity,
    mode: WriteMode,
) -> Result<CronSecret, ComponentError> {
    let (namespace, name, uid) = (id.namespace.as_str(), id.name.as_str(), id.uid.as_str());
    let reference = seed_ref(env, name);
    let user_given = env.spec.cron.secret_ref.is_some();
    let mut created = false;
    let data = match store.get(namespace, &reference.name).await.map_err(from_store)? {
        Some(data) => data,
        None if user_given => {
            return Err(missing(format!(
                "spec.cron.secretRef: Secret {namespace}/{} does not exist",
                reference.name
            )));
        }
        None if mode == WriteMode::ObserveOnly => {
            return Ok(CronSecret { reference, token: None, created: false });
        }
        None => {
            let seed = generate_seed();
            let secret = generated_secret(name, namespace, uid, &seed);
            created = store.create(&secret).await.map_err(from_store)? == Created::Created;
            // After a race the winner's value is the one to use: read it back.
            store.get(namespace, &reference.name).await.map_err(from_store)?.ok_or_else(|| {
                from_store(StoreError {
                    message: format!(
                        "Secret {namespace}/{} is not visible yet after its creation",
                        reference.name
                    ),
                    forbidden: false,
                })
            })?
        }
    };
    let Some(value) = data.get(&reference.key) else {
        let field = if user_given { "spec.cron.secretRef" } else { "generated cron Secret" };
        return Err(missing(format!(
            "{field}: Secret {namespace}/{} has no key {}",
            reference.name, reference.key
        )));
    };
    let seed = validate_seed(value, &reference).map_err(|message| ComponentError::Invalid {
        component: ComponentName::Secrets,
        message,
    })?;
    let token = firewall_token(&seed).map_err(|e| ComponentError::Invalid {
        component: ComponentName::Secrets,
        message: format!("cannot derive the cron token: {e}"),
    })?;
    Ok(CronSecret { reference, token: Some(token), created })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with_ref(name: &str, key: &str) -> RedcapEnvironment {
        let mut env = RedcapEnvironment::test();
        env.spec.cron.secret_ref = Some(SecretKeyRef { name: name.into(), key: key.into() });
        env
    }

    async fn resolve(
        store: &MemorySecrets,
        env: &RedcapEnvironment,
        mode: WriteMode,
    ) -> Result<CronSecret, ComponentError> {
        let id = EnvIdentity {
            namespace: "default".into(),
            name: "test".into(),
            uid: "uid-1".into(),
            region: "us-east-1".into(),
        };
        resolve_cron(store, env, &id, mode).await
    }

    #[tokio::test]
    async fn the_generated_secret_is_created_once_and_reused() {
        let store = MemorySecrets::default();
        let env = RedcapEnvironment::test();
        let first = resolve(&store, &env, WriteMode::Apply).await.expect("ok");
        assert!(first.created);
        assert!(store.contains("default", "test-cron"));
        let second = resolve(&store, &env, WriteMode::Apply).await.expect("ok");
        assert!(!second.created);
        assert_eq!(first.token, second.token, "the same seed gives the same token");
        assert_eq!(first.token.as_ref().map(SecretString::len), Some(64));
    }

    #[tokio::test]
    async fn nothing_is_created_while_suspended() {
        let store = MemorySecrets::default();
        let out =
            resolve(&store, &RedcapEnvironment::test(), WriteMode::ObserveOnly).await.expect("ok");
        assert_eq!(out.token, None);
        assert!(!store.contains("default", "test-cron"));
    }

    #[tokio::test]
    async fn a_missing_reference_is_terminal_and_names_the_secret() {
        let store = MemorySecrets::default();
        let env = env_with_ref("my-cron", "seed");
        let err = resolve(&store, &env, WriteMode::Apply).await.expect_err("missing");
        assert_eq!(err.class(), ErrorClass::Terminal);
        assert!(matches!(err, ComponentError::SecretReference { .. }), "{err:?}");
        assert!(err.to_string().contains("default/my-cron"), "{err}");
        assert!(!store.contains("default", "my-cron"), "a user's Secret is never created");

        store.insert("default", "my-cron", "other", b"x");
        let err = resolve(&store, &env, WriteMode::Apply).await.expect_err("no key");
        assert!(err.to_string().contains("has no key seed"), "{err}");

        let seed = "s".repeat(40);
        store.insert("default", "my-cron", "seed", seed.as_bytes());
        let ok = resolve(&store, &env, WriteMode::Apply).await.expect("appeared");
        assert_eq!(ok.token, Some(firewall_token(&SecretString::new(seed.clone())).expect("hmac")));
        assert!(!format!("{ok:?}").contains(&seed), "{ok:?}");
    }

    #[test]
    fn a_forbidden_call_says_how_a_namespace_grants_access() {
        let denied = kube::Error::Api(
            kube::core::Status::failure("secrets \"x-cron\" is forbidden", "Forbidden")
                .with_code(403)
                .boxed(),
        );
        let err = store_error("create", "team-a", "x-cron", denied);
        assert!(err.forbidden);
        assert!(err.message.contains("Secret team-a/x-cron"), "{}", err.message);
        assert!(err.message.contains("ClusterRole <release>-secrets"), "{}", err.message);
        assert!(err.message.contains("docs/install.md"), "{}", err.message);

        let gone = kube::Error::Api(
            kube::core::Status::failure("gone", "NotFound").with_code(404).boxed(),
        );
        let err = store_error("read", "team-a", "x-cron", gone);
        assert!(!err.forbidden && !err.message.contains("ClusterRole"), "{}", err.message);
    }

    #[tokio::test]
    async fn a_short_seed_is_an_invalid_spec() {
        let store = MemorySecrets::default();
        store.insert("default", "my-cron", "seed", b"too-short");
        let err = resolve(&store, &env_with_ref("my-cron", "seed"), WriteMode::Apply)
            .await
            .expect_err("short");
        assert!(matches!(err, ComponentError::Invalid { .. }), "{err:?}");
        assert!(!err.to_string().contains("too-short"));
    }
}
