//! One AWS resource kind, as the converge helper (`reconcile::converge`) drives it:
//! ACK's resource manager (ReadOne / Create / Update(delta)) and Crossplane's
//! `ExternalClient` (Observe -> exists / up to date) in one small trait.
//!
//! The desired state implements it (`impl Resource for DesiredLogGroup`), next to the
//! calls it makes; the diff itself stays a pure function in `plan/`. Ownership is
//! decided while observing: a resource that exists without this environment's UID tag
//! is [`Presence::Foreign`], and only an adoptable one (an interrupted create of ours)
//! is ever written to.

use std::future::Future;

use super::{AwsCtx, AwsError};

/// What observing a resource found.
#[derive(Clone, Debug, PartialEq)]
pub enum Presence<S> {
    Absent,
    /// Exists and carries this environment's UID tag.
    Owned(S),
    /// Exists without this environment's UID tag. `adoptable`: it is what an interrupted
    /// create of ours leaves behind (an untagged empty bucket, a key without its alias),
    /// so it may be tagged and taken over.
    /// `reason`: why it is not ours, when more can be said than "not tagged".
    Foreign {
        adoptable: bool,
        reason: Option<String>,
    },
}

pub use crate::plan::Describe;

impl<S> Presence<S> {
    /// What a lookup by name found: ours when `owned` says so (the UID tag), else
    /// someone else's (not adoptable).
    pub fn of(found: Option<S>, owned: impl FnOnce(&S) -> bool) -> Self {
        match found {
            None => Presence::Absent,
            Some(seen) if owned(&seen) => Presence::Owned(seen),
            Some(_) => Presence::Foreign { adoptable: false, reason: None },
        }
    }
}

/// One AWS resource kind: observe it, create it, correct it.
pub trait Resource: Sync {
    /// What observing returns.
    type Seen: Send + Sync;
    /// One correction (`plan::*::Change`).
    type Change: Describe + Send + Sync;

    /// "log group /redcap/x/image-build", for messages.
    fn label(&self) -> String;

    /// Finds the resource; `uid` is the owning environment's UID.
    fn observe(
        &self,
        aws: &AwsCtx,
        uid: &str,
    ) -> impl Future<Output = Result<Presence<Self::Seen>, AwsError>> + Send;

    /// Creates it as desired; returns what it now is.
    fn create(&self, aws: &AwsCtx) -> impl Future<Output = Result<Self::Seen, AwsError>> + Send;

    /// The corrections that make `seen` match (pure: delegate to `plan/`).
    fn changes(&self, seen: &Self::Seen) -> Vec<Self::Change>;

    /// Applies `changes` to the resource `seen`.
    fn update(
        &self,
        aws: &AwsCtx,
        seen: &Self::Seen,
        changes: &[Self::Change],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Takes over an adoptable foreign resource (tags it); returns what it now is.
    /// Only called for `Foreign { adoptable: true }`.
    fn adopt(&self, aws: &AwsCtx) -> impl Future<Output = Result<Self::Seen, AwsError>> + Send {
        let _ = aws;
        let label = self.label();
        async move {
            Err(AwsError::terminal(
                "operator",
                "Adopt",
                "NotAdoptable",
                format!("{label} cannot be adopted"),
            ))
        }
    }
}
