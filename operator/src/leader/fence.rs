//! The fence: whether this replica may send AWS requests right now.
//!
//! Leader election alone does not stop a leader that has stopped hearing from the API
//! server: its controller keeps running until something notices. The fence is the
//! leadership token the AWS layer checks before every request (`AwsCtx::call` before and
//! after waiting for the call budget, and an SDK interceptor before every attempt, SDK
//! retries and paginated pages included). It holds an instant, the end of the current
//! term's renew deadline, and compares it with the clock itself: once that instant
//! passes no request goes out, even if the task that renews the Lease has not run since.
//!
//! Without leader election the fence is always open. This module makes no I/O.

use std::sync::{Arc, Mutex};
use std::time::Instant;

/// An AWS request refused because this replica is not (or no longer sure to be) the
/// leader. Recoverable: the request is retried once this replica leads again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "not the leader: this replica's Lease was not renewed within its renew deadline, so no AWS request is sent until it leads again"
)]
pub struct NotLeader;

/// The AWS error code of a request refused by the fence (recoverable).
pub const NOT_LEADER_CODE: &str = "NotLeader";

/// Shared permission to call AWS. Cheap to clone; every clone sees the same state.
#[derive(Clone, Debug)]
pub struct Fence(Arc<Mode>);

#[derive(Debug)]
enum Mode {
    /// No leader election: this replica is the only one.
    Unfenced,
    /// Open until the instant held, closed when `None`.
    Leased(Mutex<Option<Instant>>),
}

impl Fence {
    /// Always open: for a process that runs without leader election (and for tests).
    pub fn unfenced() -> Self {
        Self(Arc::new(Mode::Unfenced))
    }

    /// Closed until [`Fence::open_until`]: for a replica that must win the Lease first.
    pub fn closed() -> Self {
        Self(Arc::new(Mode::Leased(Mutex::new(None))))
    }

    /// Allows requests until `until` (the renew deadline of the term just renewed).
    pub fn open_until(&self, until: Instant) {
        if let Mode::Leased(slot) = &*self.0 {
            *lock(slot) = Some(until);
        }
    }

    /// Refuses every request from now on (leadership lost or released).
    pub fn close(&self) {
        if let Mode::Leased(slot) = &*self.0 {
            *lock(slot) = None;
        }
    }

    /// `Ok` while a request may be sent.
    pub fn check(&self) -> Result<(), NotLeader> {
        self.check_at(Instant::now())
    }

    /// [`Fence::check`] at a given instant.
    pub fn check_at(&self, now: Instant) -> Result<(), NotLeader> {
        match &*self.0 {
            Mode::Unfenced => Ok(()),
            Mode::Leased(slot) => match *lock(slot) {
                Some(until) if now < until => Ok(()),
                _ => Err(NotLeader),
            },
        }
    }
}

impl Default for Fence {
    fn default() -> Self {
        Self::unfenced()
    }
}

fn lock(slot: &Mutex<Option<Instant>>) -> std::sync::MutexGuard<'_, Option<Instant>> {
    // The slot holds a plain value; a panic elsewhere cannot leave it half-written.
    slot.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether `err`, or any error it was caused by, is a [`NotLeader`] refusal (the SDK
/// wraps an interceptor's error in its own dispatch failure).
pub fn is_not_leader(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if e.downcast_ref::<NotLeader>().is_some() {
            return true;
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn unfenced_is_always_open() {
        let fence = Fence::unfenced();
        assert_eq!(fence.check(), Ok(()));
        fence.close();
        assert_eq!(fence.check(), Ok(()), "a process without leader election is never fenced");
    }

    #[test]
    fn a_leased_fence_opens_until_the_deadline_and_closes_by_itself() {
        let fence = Fence::closed();
        let now = Instant::now();
        assert_eq!(fence.check_at(now), Err(NotLeader), "closed before the first term");
        fence.open_until(now + Duration::from_secs(10));
        let clone = fence.clone();
        assert_eq!(clone.check_at(now + Duration::from_secs(9)), Ok(()));
        assert_eq!(
            clone.check_at(now + Duration::from_secs(10)),
            Err(NotLeader),
            "the deadline itself is past"
        );
        fence.open_until(now + Duration::from_secs(20));
        assert_eq!(clone.check_at(now + Duration::from_secs(15)), Ok(()), "a renewal extends it");
        fence.close();
        assert_eq!(clone.check_at(now), Err(NotLeader));
    }

    #[test]
    fn a_refusal_is_found_behind_the_errors_that_wrap_it() {
        #[derive(Debug, thiserror::Error)]
        #[error("dispatch failure")]
        struct Wrapper(#[source] NotLeader);
        assert!(is_not_leader(&Wrapper(NotLeader)));
        assert!(is_not_leader(&NotLeader));
        assert!(!is_not_leader(&std::io::Error::other("connection refused")));
    }
}
