//! The calls on the `coordination.k8s.io/v1` Lease: look, acquire, renew, release.
//!
//! Every write is a replace carrying the `resourceVersion` last read, so two replicas
//! can never both believe their write won: the second gets a 409 Conflict. Decisions
//! (when to write, what a failure means) are in `leader::decision`; this module only
//! makes the calls, and never retries on its own.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

use super::decision::{Renewal, Seen, Timing};
use crate::api::FIELD_MANAGER;
use crate::config::LeaseConfig;

/// This replica's handle on the Lease.
#[derive(Clone)]
pub struct LeaseLock {
    api: Api<Lease>,
    name: String,
    identity: String,
    timing: Timing,
}

impl LeaseLock {
    pub fn new(client: Client, config: &LeaseConfig) -> Self {
        Self {
            api: Api::namespaced(client, &config.namespace),
            name: config.name.clone(),
            identity: config.holder_id.clone(),
            timing: config.timing,
        }
    }

    /// This replica's identity in the Lease.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Reads the Lease, creating an empty one when there is none (a race with another
    /// replica creating it reads the winner's).
    pub async fn look(&self) -> Result<Lease, kube::Error> {
        if let Some(lease) = self.api.get_opt(&self.name).await? {
            return Ok(lease);
        }
        let empty = Lease {
            metadata: ObjectMeta { name: Some(self.name.clone()), ..Default::default() },
            spec: Some(LeaseSpec::default()),
        };
        match self.api.create(&self.params(), &empty).await {
            Ok(lease) => Ok(lease),
            Err(kube::Error::Api(e)) if e.code == 409 => self.api.get(&self.name).await,
            Err(e) => Err(e),
        }
    }

    /// Takes `current` (as last read) for this replica: a new holder starts a new
    /// transition. Fails with 409 when the Lease changed since it was read.
    pub async fn acquire(&self, current: &Lease) -> Result<Lease, kube::Error> {
        let now = MicroTime(jiff::Timestamp::now());
        let mut lease = current.clone();
        let spec = lease.spec.get_or_insert_with(Default::default);
        if holder(current) != Some(self.identity.as_str()) {
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
            spec.holder_identity = Some(self.identity.clone());
        }
        spec.renew_time = Some(now);
        spec.lease_duration_seconds = Some(seconds(self.timing.lease_duration));
        self.replace(&lease).await
    }

    /// One renewal attempt from `current` (this replica's last write). A conflict means
    /// the Lease changed since: it is read again, and renewed if it still names this
    /// replica (an earlier renewal whose answer was lost changes the version too).
    pub async fn renew(&self, current: &Lease) -> RenewAttempt {
        let failed = |error: kube::Error, lease| RenewAttempt {
            outcome: Renewal::Failed,
            lease,
            error: Some(error.to_string()),
        };
        let mut lease = current.clone();
        let spec = lease.spec.get_or_insert_with(Default::default);
        spec.renew_time = Some(MicroTime(jiff::Timestamp::now()));
        spec.lease_duration_seconds = Some(seconds(self.timing.lease_duration));
        match self.replace(&lease).await {
            Ok(renewed) => return RenewAttempt::renewed(renewed),
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return failed(e, None),
        }
        let fresh = match self.api.get(&self.name).await {
            Ok(fresh) => fresh,
            Err(e) => return failed(e, None),
        };
        if holder(&fresh) != Some(self.identity.as_str()) {
            let holder = holder(&fresh).map(str::to_string);
            return RenewAttempt {
                outcome: Renewal::TakenOver { holder },
                lease: Some(fresh),
                error: None,
            };
        }
        match self.acquire(&fresh).await {
            Ok(renewed) => RenewAttempt::renewed(renewed),
            Err(e) => failed(e, Some(fresh)),
        }
    }

    /// Frees the Lease if it still names this replica, so a standby takes over at once
    /// instead of waiting for it to expire.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let mut lease = self.api.get(&self.name).await?;
        if holder(&lease) != Some(self.identity.as_str()) {
            return Ok(());
        }
        let now = MicroTime(jiff::Timestamp::now());
        let spec = lease.spec.get_or_insert_with(Default::default);
        spec.holder_identity = None;
        spec.acquire_time = Some(now.clone());
        spec.renew_time = Some(now);
        spec.lease_duration_seconds = Some(1);
        self.replace(&lease).await.map(drop)
    }

    async fn replace(&self, lease: &Lease) -> Result<Lease, kube::Error> {
        // `lease` carries the resourceVersion it was read with: a precondition.
        self.api.replace(&self.name, &self.params(), lease).await
    }

    fn params(&self) -> PostParams {
        PostParams { field_manager: Some(FIELD_MANAGER.to_string()), ..Default::default() }
    }
}

/// How one renewal attempt went.
#[derive(Debug)]
pub struct RenewAttempt {
    pub outcome: Renewal,
    /// The Lease as last read or written, when the attempt got one.
    pub lease: Option<Lease>,
    /// Why it failed (for the log).
    pub error: Option<String>,
}

impl RenewAttempt {
    fn renewed(lease: Lease) -> Self {
        Self { outcome: Renewal::Renewed, lease: Some(lease), error: None }
    }

    /// No answer within `timeout`.
    pub fn timed_out(timeout: std::time::Duration) -> Self {
        Self {
            outcome: Renewal::Failed,
            lease: None,
            error: Some(format!("no answer within {:.1} s", timeout.as_secs_f64())),
        }
    }
}

/// The Lease's holder, if any (an empty identity is no holder).
pub fn holder(lease: &Lease) -> Option<&str> {
    lease.spec.as_ref()?.holder_identity.as_deref().filter(|h| !h.is_empty())
}

/// What a standby needs to know of a Lease.
pub fn seen(lease: &Lease) -> Seen {
    let spec = lease.spec.as_ref();
    Seen {
        holder: holder(lease).map(str::to_string),
        lease_duration: spec
            .and_then(|s| s.lease_duration_seconds)
            .and_then(|s| u64::try_from(s).ok())
            .filter(|s| *s > 0)
            .map(std::time::Duration::from_secs),
        version: lease.metadata.resource_version.clone(),
    }
}

fn seconds(d: std::time::Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}
