//! AWS clients per environment (step: built once per (region, role) and shared by every
//! reconcile of the environments that use them).
//!
//! The base configuration is loaded once with `aws_config::defaults`, which already
//! honours `AWS_ENDPOINT_URL` and the per-service `AWS_ENDPOINT_URL_<SERVICE>` (the
//! service config builders read them through `EnvServiceConfig`), the usual credential
//! chain, IRSA and EKS Pod Identity. Every client gets the call-metrics interceptor; every
//! context gets its own call budget. This module makes no AWS calls itself: credentials
//! from `AssumeRole` are fetched lazily by the SDK on the first call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::BehaviorVersion;
use aws_config::sts::AssumeRoleProvider;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;

use crate::api::AwsSpec;
pub use crate::config::AwsRetryMode;
use crate::leader::Fence;
use crate::leader::fence::NOT_LEADER_CODE;

use std::future::Future;

use futures::future::BoxFuture;
use std::ops::ControlFlow;

use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::budget::{Budget, BudgetSettings};
use super::error::classify;
use super::{AwsCallMetrics, AwsError};
use super::{Clients, Service};

/// `arn:<partition>:iam::<account>:policy/<path/name>` of a customer managed policy.
fn boundary_arn(partition: &str, account: &str, policy: &str) -> String {
    format!("arn:{partition}:iam::{account}:policy/{policy}")
}

/// Session name of roles assumed outside any environment (tests, tools). Environments
/// use their own (`tenancy::session_name`), so CloudTrail names the environment.
pub const SESSION_NAME: &str = "redcap-operator";

/// Operator-wide AWS settings (from flags / environment).
#[derive(Clone, Debug)]
pub struct AwsSettings {
    /// Use path-style S3 addressing (needed by local emulators on 127.0.0.1).
    pub s3_force_path_style: bool,
    /// Maximum attempts per AWS call. 0 is treated as 1.
    pub max_attempts: u32,
    /// Adaptive (client-side rate limiting) or standard retries.
    pub retry_mode: AwsRetryMode,
    /// Steady rate of the per-service call budget of one (region, role); 0 disables it.
    pub calls_per_second: f64,
    /// How many calls of one service may go out at once before the rate applies.
    pub burst: u32,
    /// Name (with its path, if any) of the managed policy every IAM role and user the
    /// operator creates gets as its permissions boundary, in the account of the
    /// environment's credentials (docs/iam-boundary.json; the operator's IAM policy
    /// refuses a CreateRole/CreateUser without it).
    pub permissions_boundary: String,
}

/// The boundary policy's name when the operator's configuration does not name another.
pub const DEFAULT_PERMISSIONS_BOUNDARY: &str = "redcap-operator-boundary";

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            s3_force_path_style: false,
            max_attempts: 3,
            retry_mode: AwsRetryMode::Adaptive,
            calls_per_second: 10.0,
            burst: 20,
            permissions_boundary: DEFAULT_PERMISSIONS_BOUNDARY.to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CtxKey {
    region: String,
    role_arn: Option<String>,
    external_id: Option<String>,
    session_name: String,
}

/// The call budget is shared per (region, role), whatever the session name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct BudgetKey {
    region: String,
    role_arn: Option<String>,
}

/// Time to open a connection to an AWS endpoint.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Time for one attempt of one call (AWS control-plane calls answer in well under this).
const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Time for one call including its retries.
const OPERATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Builds (and caches) one [`AwsCtx`] per (region, role).
#[derive(Clone)]
pub struct AwsFactory {
    settings: AwsSettings,
    metrics: AwsCallMetrics,
    fence: Fence,
    base: SdkConfig,
    cache: Arc<Mutex<HashMap<CtxKey, AwsCtx>>>,
    budgets: Arc<Mutex<HashMap<BudgetKey, Arc<Budget>>>>,
}

impl AwsFactory {
    /// Loads the base configuration (credentials chain, endpoint overrides such as
    /// `AWS_ENDPOINT_URL`) once.
    pub async fn new(settings: AwsSettings, metrics: AwsCallMetrics) -> Self {
        let base = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::from_base_config(base, settings, metrics)
    }

    /// Uses an already loaded base configuration (tests pass static credentials here).
    /// It must come from an `aws_config` loader, which sets the time source and sleep
    /// implementation that `AssumeRole` needs. The retry mode and attempts of `settings`
    /// replace the base's.
    pub fn from_base_config(
        base: SdkConfig,
        settings: AwsSettings,
        metrics: AwsCallMetrics,
    ) -> Self {
        let retry = match settings.retry_mode {
            AwsRetryMode::Adaptive => RetryConfig::adaptive(),
            AwsRetryMode::Standard => RetryConfig::standard(),
        }
        .with_max_attempts(settings.max_attempts.max(1));
        // Without timeouts a request the endpoint accepts but never answers would hold a
        // reconcile worker forever; a timed-out attempt is retried like any transient error.
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build();
        let base = base.to_builder().retry_config(retry).timeout_config(timeouts).build();
        Self {
            settings,
            metrics,
            fence: Fence::unfenced(),
            base,
            cache: Arc::default(),
            budgets: Arc::default(),
        }
    }

    /// Every request of every context built from now on passes `fence` first (leader
    /// election: no AWS request once this replica may no longer be the leader). Set it
    /// before the first context is built.
    pub fn fenced_by(mut self, fence: Fence) -> Self {
        self.fence = fence;
        self
    }

    /// The metrics every client of this factory reports to.
    pub fn metrics(&self) -> &AwsCallMetrics {
        &self.metrics
    }

    /// Clients for a region and optional role, assumed under [`SESSION_NAME`].
    pub async fn context_for(&self, spec: &AwsSpec) -> Result<AwsCtx, AwsError> {
        self.context_as(spec, SESSION_NAME).await
    }

    /// Clients for one environment's region and optional role; roles are assumed with
    /// `session_name` (the environment's, so CloudTrail tells environments apart) and
    /// `spec.external_id` (the caller puts the tenancy policy's there).
    pub async fn context_as(&self, spec: &AwsSpec, session_name: &str) -> Result<AwsCtx, AwsError> {
        let key = CtxKey {
            region: spec.region.trim().to_string(),
            role_arn: spec.role_arn.clone().filter(|r| !r.is_empty()),
            external_id: spec.external_id.clone().filter(|e| !e.is_empty()),
            session_name: session_name.to_string(),
        };
        if key.region.is_empty() {
            return Err(AwsError::terminal(
                "sts",
                "Configure",
                "InvalidRegion",
                "spec.aws.region is empty",
            ));
        }
        if let Some(ctx) = self.lock_cache().get(&key) {
            return Ok(ctx.clone());
        }
        let ctx = self.build(&key).await;
        // Two reconciles may race to build the same context; the first one stored wins so
        // both share one budget.
        Ok(self.lock_cache().entry(key).or_insert(ctx).clone())
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<CtxKey, AwsCtx>> {
        // The map is only ever inserted into; a poisoned lock still holds a usable map.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn build(&self, key: &CtxKey) -> AwsCtx {
        let region = Region::new(key.region.clone());
        let mut builder = self.base.to_builder().region(region.clone());
        if let Some(role) = &key.role_arn {
            let mut provider = AssumeRoleProvider::builder(role.clone())
                .session_name(key.session_name.clone())
                .region(region)
                .configure(&self.base);
            if let Some(external_id) = &key.external_id {
                provider = provider.external_id(external_id.clone());
            }
            let provider = provider.build().await;
            builder = builder.credentials_provider(
                aws_types::sdk_config::SharedCredentialsProvider::new(provider),
            );
        }
        let conf = builder.build();
        let budget_key = BudgetKey { region: key.region.clone(), role_arn: key.role_arn.clone() };
        let budget = self
            .budgets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(budget_key)
            .or_insert_with(|| {
                Arc::new(Budget::new(BudgetSettings {
                    calls_per_second: self.settings.calls_per_second,
                    burst: self.settings.burst,
                }))
            })
            .clone();
        AwsCtx {
            clients: Clients::new(&conf, &self.settings, &self.metrics, &self.fence),
            region: key.region.clone(),
            budget,
            boundary: Arc::new(Boundary {
                policy: self.settings.permissions_boundary.trim_matches('/').to_string(),
                arn: tokio::sync::OnceCell::new(),
            }),
            assumed: Arc::new(Assumed {
                conf,
                metrics: self.metrics.clone(),
                route53: Mutex::default(),
                session_name: key.session_name.clone(),
            }),
            fence: self.fence.clone(),
        }
    }
}

/// The AWS clients of one environment (through `Deref`: `aws.kms`, `aws.s3`, ...), its
/// region and its call budget. Every call goes through [`AwsCtx::call`] (or its
/// variants), which checks the leadership fence, waits for the service's budget, sends,
/// and classifies the error.
#[derive(Clone, Debug)]
pub struct AwsCtx {
    pub clients: Clients,
    pub region: String,
    pub budget: Arc<Budget>,
    boundary: Arc<Boundary>,
    assumed: Arc<Assumed>,
    /// Closed while this replica is not the leader: nothing is sent then.
    pub fence: Fence,
}

/// The permissions boundary of the roles and users this context creates: the configured
/// policy name, resolved once into an ARN in the account the credentials act in.
#[derive(Debug)]
struct Boundary {
    policy: String,
    arn: tokio::sync::OnceCell<String>,
}

/// Clients acting in another account through a role assumed from the environment's
/// credentials (the parent zone of a cross-account delegation), built once per role.
#[derive(Debug)]
struct Assumed {
    conf: SdkConfig,
    metrics: AwsCallMetrics,
    route53: Mutex<HashMap<String, aws_sdk_route53::Client>>,
    /// The environment's session name, reused for the roles assumed from it.
    session_name: String,
}

impl std::ops::Deref for AwsCtx {
    type Target = Clients;
    fn deref(&self) -> &Clients {
        &self.clients
    }
}

type SdkResult<T, E> = Result<T, SdkError<E, HttpResponse>>;

/// The AWS service and operation a request is for, read from its SDK error type
/// (`aws_sdk_iam::operation::get_role::GetRoleError` is IAM's `GetRole`), so that no call
/// site can name the wrong one in its budget, metrics or error messages.
pub fn operation_of<E>() -> (Service, &'static str) {
    let path = std::any::type_name::<E>();
    let krate = path.split("::").next().unwrap_or(path);
    let last = path.rsplit("::").next().unwrap_or(path);
    let operation = last.strip_suffix("Error").unwrap_or(last);
    let service = Service::of_crate(krate).unwrap_or_else(|| {
        // Only reachable for a crate without a registry entry, which the build of the
        // registry's unit test rules out.
        debug_assert!(false, "{krate} has no entry in the AWS service registry");
        Service::Sts
    });
    (service, operation)
}

impl AwsCtx {
    /// The configured boundary policy's name (with path), for templates that build the
    /// ARN in the account they run in (CloudFormation's `${AWS::AccountId}`).
    pub fn permissions_boundary_policy(&self) -> &str {
        &self.boundary.policy
    }

    /// The ARN of the permissions boundary every role and user created through this
    /// context gets: the configured policy in the account of these credentials (asked of
    /// STS GetCallerIdentity once, which needs no permission; the partition comes from
    /// the caller's ARN, so GovCloud and China work too).
    pub async fn permissions_boundary_arn(&self) -> Result<String, AwsError> {
        self.boundary
            .arn
            .get_or_try_init(|| async {
                let me = self.call(self.sts.get_caller_identity().send()).await?;
                let caller = me.arn().unwrap_or_default();
                let partition = caller.split(':').nth(1).filter(|p| !p.is_empty()).unwrap_or("aws");
                let account = me.account().filter(|a| !a.is_empty()).ok_or_else(|| {
                    AwsError::terminal(
                        "sts",
                        "GetCallerIdentity",
                        "MissingAccount",
                        "GetCallerIdentity returned no account",
                    )
                })?;
                Ok(boundary_arn(partition, account, &self.boundary.policy))
            })
            .await
            .cloned()
    }

    /// A Route 53 client acting as `role_arn`, assumed with this context's credentials
    /// (so the role's trust policy names the environment's role, or the operator's). Its
    /// calls share this context's budget. Credentials are fetched on the first call.
    pub async fn route53_as(&self, role_arn: &str) -> aws_sdk_route53::Client {
        let cached =
            self.assumed.route53.lock().unwrap_or_else(|p| p.into_inner()).get(role_arn).cloned();
        if let Some(client) = cached {
            return client;
        }
        let conf = &self.assumed.conf;
        let mut provider = AssumeRoleProvider::builder(role_arn)
            .session_name(self.assumed.session_name.clone())
            .configure(conf);
        if let Some(region) = conf.region() {
            provider = provider.region(region.clone());
        }
        let provider = provider.build().await;
        let conf = conf
            .to_builder()
            .credentials_provider(aws_types::sdk_config::SharedCredentialsProvider::new(provider))
            .build();
        let client = aws_sdk_route53::Client::from_conf(
            aws_sdk_route53::config::Builder::from(&conf)
                .interceptor(self.assumed.metrics.interceptor())
                .interceptor(crate::aws::fencing::FenceInterceptor::new(self.fence.clone()))
                .build(),
        );
        self.assumed
            .route53
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(role_arn.to_string())
            .or_insert(client)
            .clone()
    }

    /// Waits for the service's call budget, and checks the fence before and after (the
    /// wait may outlast the term). A refusal is a recoverable `NotLeader` error.
    pub async fn permit(&self, service: Service, operation: &'static str) -> Result<(), AwsError> {
        let fenced = || {
            self.fence.check().map_err(|refused| {
                AwsError::recoverable(
                    service.as_str(),
                    operation,
                    NOT_LEADER_CODE,
                    refused.to_string(),
                )
            })
        };
        fenced()?;
        self.budget.permit(service).await;
        fenced()
    }

    /// One call: checks the fence, waits for its service's budget, sends `request` (a
    /// request future is lazy: nothing goes out before it is awaited here), classifies a
    /// failure. The SDK's retries of the request pass the fence again (an interceptor).
    ///
    /// The request is moved to the heap before anything awaits it, so the futures of
    /// the components that make calls hold a pointer, not the SDK's request state
    /// machine: without that, debug builds nest several hundred KiB of it into every
    /// caller's poll frame and a reconcile overflows a 2 MiB thread stack.
    pub fn call<'s, T, E>(
        &'s self,
        request: impl Future<Output = SdkResult<T, E>> + Send + 's,
    ) -> BoxFuture<'s, Result<T, AwsError>>
    where
        T: Send + 's,
        E: ProvideErrorMetadata + std::error::Error + Send + 'static,
    {
        let (service, operation) = operation_of::<E>();
        Box::pin(async move {
            self.permit(service, operation).await?;
            request.await.map_err(|e| classify(service, operation, e))
        })
    }

    /// [`AwsCtx::call`] for a write whose answer is not needed.
    pub fn run<'s, T, E>(
        &'s self,
        request: impl Future<Output = SdkResult<T, E>> + Send + 's,
    ) -> impl Future<Output = Result<(), AwsError>> + Send + 's
    where
        T: Send + 's,
        E: ProvideErrorMetadata + std::error::Error + Send + 'static,
    {
        let call = self.call(request);
        async move { call.await.map(drop) }
    }

    /// [`AwsCtx::call`] where some answers mean there is nothing to do: `Ok(None)` for
    /// an error `skip` accepts.
    fn call_unless<'s, T, E>(
        &'s self,
        request: impl Future<Output = SdkResult<T, E>> + Send + 's,
        skip: impl FnOnce(&AwsError) -> bool + Send + 's,
    ) -> impl Future<Output = Result<Option<T>, AwsError>> + Send + 's
    where
        T: Send + 's,
        E: ProvideErrorMetadata + std::error::Error + Send + 'static,
    {
        let call = self.call(request);
        async move {
            match call.await {
                Ok(out) => Ok(Some(out)),
                Err(e) if skip(&e) => Ok(None),
                Err(e) => Err(e),
            }
        }
    }

    /// [`AwsCtx::call`] for reads of one thing: "does not exist" is `Ok(None)`.
    pub fn find<'s, T, E>(
        &'s self,
        request: impl Future<Output = SdkResult<T, E>> + Send + 's,
    ) -> impl Future<Output = Result<Option<T>, AwsError>> + Send + 's
    where
        T: Send + 's,
        E: ProvideErrorMetadata + std::error::Error + Send + 'static,
    {
        self.call_unless(request, AwsError::is_not_found)
    }

    /// [`AwsCtx::call`] for deletes: a thing already gone is fine (`Ok(false)`).
    pub fn delete<'s, T, E>(
        &'s self,
        request: impl Future<Output = SdkResult<T, E>> + Send + 's,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send + 's
    where
        T: Send + 's,
        E: ProvideErrorMetadata + std::error::Error + Send + 'static,
    {
        let find = self.find(request);
        async move { Ok(find.await?.is_some()) }
    }

    /// [`AwsCtx::call`] where some answers mean the work is already done (a create whose
    /// earlier attempt succeeded: `AlreadyExists`): those are `Ok(None)`.
    pub fn tolerate<'s, T, E>(
        &'s self,
        done: &'s [&'s str],
        request: impl Future<Output = SdkResult<T, E>> + Send + 's,
    ) -> impl Future<Output = Result<Option<T>, AwsError>> + Send + 's
    where
        T: Send + 's,
        E: ProvideErrorMetadata + std::error::Error + Send + 'static,
    {
        self.call_unless(request, move |e| done.contains(&e.code.as_str()))
    }

    /// Every page of a paginated call (the SDK's paginator), each page after the budget.
    pub async fn pages<T, E>(
        &self,
        pages: PaginationStream<SdkResult<T, E>>,
    ) -> Result<Vec<T>, AwsError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let mut out = Vec::new();
        self.each_page(pages, |page| {
            out.push(page);
            ControlFlow::Continue(())
        })
        .await?;
        Ok(out)
    }

    /// Hands the pages of a paginated call to `f` until it breaks or the pages end; the
    /// pages after a break are never asked for.
    pub async fn each_page<T, E>(
        &self,
        mut pages: PaginationStream<SdkResult<T, E>>,
        mut f: impl FnMut(T) -> ControlFlow<()>,
    ) -> Result<(), AwsError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (service, operation) = operation_of::<E>();
        loop {
            self.permit(service, operation).await?;
            match pages.next().await {
                None => return Ok(()),
                Some(Ok(page)) => {
                    if f(page).is_break() {
                        return Ok(());
                    }
                }
                Some(Err(e)) => return Err(classify(service, operation, e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::config::Credentials;

    fn spec(region: &str, role: Option<&str>) -> AwsSpec {
        AwsSpec {
            region: region.to_string(),
            role_arn: role.map(str::to_string),
            external_id: None,
            tags: Vec::new(),
        }
    }

    async fn factory() -> AwsFactory {
        let base = aws_config::defaults(BehaviorVersion::latest())
            .credentials_provider(Credentials::new("a", "b", None, None, "test"))
            .region(Region::new("us-east-1"))
            .load()
            .await;
        AwsFactory::from_base_config(base, AwsSettings::default(), AwsCallMetrics::default())
    }

    #[tokio::test]
    async fn contexts_are_cached_per_region_and_role() {
        let f = factory().await;
        let a = f.context_for(&spec("eu-west-1", None)).await.expect("ctx");
        let b = f.context_for(&spec("eu-west-1", None)).await.expect("ctx");
        let c =
            f.context_for(&spec("eu-west-1", Some("arn:aws:iam::1:role/x"))).await.expect("ctx");
        let d = f.context_for(&spec("us-east-1", None)).await.expect("ctx");
        assert!(Arc::ptr_eq(&a.budget, &b.budget), "same key shares one budget");
        assert!(!Arc::ptr_eq(&a.budget, &c.budget));
        assert!(!Arc::ptr_eq(&a.budget, &d.budget));
        let e = f.context_as(&spec("eu-west-1", None), "redcap-ns.env").await.expect("ctx");
        assert!(Arc::ptr_eq(&a.budget, &e.budget), "session names share the role's budget");
        assert_eq!(d.region, "us-east-1");
        assert_eq!(a.s3.config().region().map(|r| r.as_ref()), Some("eu-west-1"));
    }

    #[tokio::test]
    async fn empty_region_is_terminal() {
        let err = factory().await.context_for(&spec(" ", None)).await.expect_err("no region");
        assert!(err.is_terminal());
    }

    #[test]
    fn a_request_names_its_service_and_operation() {
        use aws_sdk_iam::operation::delete_user_policy::DeleteUserPolicyError;
        use aws_sdk_rds::operation::describe_db_clusters::DescribeDBClustersError;
        assert_eq!(operation_of::<DeleteUserPolicyError>(), (Service::Iam, "DeleteUserPolicy"));
        assert_eq!(operation_of::<DescribeDBClustersError>(), (Service::Rds, "DescribeDBClusters"));
    }

    /// A context whose endpoint nothing listens on: a request that were sent would fail
    /// as a transport error, not as `NotLeader`.
    async fn fenced_context(fence: Fence, metrics: AwsCallMetrics) -> AwsCtx {
        let base = aws_config::defaults(BehaviorVersion::latest())
            .credentials_provider(Credentials::new("a", "b", None, None, "test"))
            .region(Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .load()
            .await;
        let settings = AwsSettings { max_attempts: 1, ..AwsSettings::default() };
        AwsFactory::from_base_config(base, settings, metrics)
            .fenced_by(fence)
            .context_for(&spec("us-east-1", None))
            .await
            .expect("ctx")
    }

    #[tokio::test]
    async fn a_closed_fence_refuses_calls_with_a_recoverable_not_leader_error() {
        let ctx = fenced_context(Fence::closed(), AwsCallMetrics::default()).await;
        let err = ctx.call(ctx.kms.list_keys().send()).await.expect_err("fenced");
        assert_eq!(err.code, NOT_LEADER_CODE);
        assert_eq!((err.service, err.operation), ("kms", "ListKeys"));
        assert!(!err.is_terminal());
        assert!(err.message.contains("not the leader"), "{}", err.message);
    }

    #[tokio::test]
    async fn a_closed_fence_refuses_every_attempt_of_the_sdk_itself() {
        // Bypassing `AwsCtx::call` (an SDK retry, a paginator's next page): the
        // interceptor refuses the attempt before it is signed or sent.
        let metrics = AwsCallMetrics::default();
        let fence = Fence::closed();
        let ctx = fenced_context(fence.clone(), metrics.clone()).await;
        let sdk_err = ctx.kms.list_keys().send().await.expect_err("fenced");
        let err = classify(Service::Kms, "ListKeys", sdk_err);
        assert_eq!(err.code, NOT_LEADER_CODE, "{err}");
        assert!(!err.is_terminal());
        assert_eq!(metrics.snapshot().with_result(crate::aws::CallResult::Fenced), 1);

        // Open, the same request is sent (and fails: nothing listens there).
        fence.open_until(std::time::Instant::now() + std::time::Duration::from_secs(60));
        let sdk_err = ctx.kms.list_keys().send().await.expect_err("nothing listens");
        let err = classify(Service::Kms, "ListKeys", sdk_err);
        assert_ne!(err.code, NOT_LEADER_CODE, "{err}");
    }

    #[tokio::test]
    async fn retry_config_is_adaptive_with_the_configured_attempts() {
        let f = factory().await;
        let ctx = f.context_for(&spec("eu-west-1", None)).await.expect("ctx");
        let retry = ctx.kms.config().retry_config().expect("retry config");
        assert_eq!(retry.max_attempts(), 3);
        assert_eq!(retry.mode(), aws_smithy_types::retry::RetryMode::Adaptive);
    }
}
