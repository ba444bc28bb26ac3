//! The decisions of leader election, as pure functions of what was observed and when.
//!
//! The model is client-go's (and so controller-runtime's): three durations.
//!
//! - **Lease duration**: how long a standby waits, after it last saw the Lease change,
//!   before it takes the Lease over. Measured on the standby's own clock from when it saw
//!   the change, so clocks of different nodes are never compared.
//! - **Renew deadline**: how long the leader keeps working without a successful renewal.
//!   Renewals that fail (the API server restarting, a timeout) are retried until then;
//!   once it passes, the leader stops (the fence closes) and goes back to standing by.
//!   It is shorter than the lease duration, and the difference is the margin for a
//!   request already sent to finish before a standby can take over.
//! - **Retry period**: the pause between attempts, renewals as well as a standby's looks
//!   at the Lease.
//!
//! A term is counted from when the request of the last successful renewal was *sent*
//! (not when its answer came back), so a slow answer shortens the term instead of
//! stretching it past what a standby sees. No I/O here; `leader::lease` does the calls.

use std::time::{Duration, Instant};

/// The durations of leader election.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub lease_duration: Duration,
    pub renew_deadline: Duration,
    pub retry_period: Duration,
}

/// Durations that cannot work together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimingError {
    #[error("--retry-period-seconds must be at least 1")]
    ZeroRetryPeriod,
    #[error(
        "--renew-deadline-seconds ({renew_deadline}) must be longer than --retry-period-seconds ({retry_period}), or a failed renewal is never retried"
    )]
    DeadlineNotAboveRetry { renew_deadline: u64, retry_period: u64 },
    #[error(
        "--lease-duration-seconds ({lease_duration}) must be longer than --renew-deadline-seconds ({renew_deadline}), or a standby may take over while this leader still works"
    )]
    LeaseNotAboveDeadline { lease_duration: u64, renew_deadline: u64 },
}

impl Timing {
    /// controller-runtime's defaults: a crashed leader is replaced within 15 s, an API
    /// server that answers again within 10 s costs nothing.
    pub const DEFAULT: Timing = Timing {
        lease_duration: Duration::from_secs(15),
        renew_deadline: Duration::from_secs(10),
        retry_period: Duration::from_secs(2),
    };

    /// Checks `retry period < renew deadline < lease duration` (in seconds).
    pub fn from_seconds(
        lease_duration: u64,
        renew_deadline: u64,
        retry_period: u64,
    ) -> Result<Self, TimingError> {
        if retry_period == 0 {
            return Err(TimingError::ZeroRetryPeriod);
        }
        if renew_deadline <= retry_period {
            return Err(TimingError::DeadlineNotAboveRetry { renew_deadline, retry_period });
        }
        if lease_duration <= renew_deadline {
            return Err(TimingError::LeaseNotAboveDeadline { lease_duration, renew_deadline });
        }
        Ok(Self {
            lease_duration: Duration::from_secs(lease_duration),
            renew_deadline: Duration::from_secs(renew_deadline),
            retry_period: Duration::from_secs(retry_period),
        })
    }

    /// The longest one request to the Lease may take: half the renew deadline, so a
    /// request that hangs (an API server that accepts connections but does not answer)
    /// still leaves time for another attempt before the deadline.
    pub fn attempt_timeout(&self) -> Duration {
        self.renew_deadline / 2
    }
}

/// How one renewal attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Renewal {
    /// The API server accepted the new renew time.
    Renewed,
    /// No answer, an error, or a timeout: the Lease may still be ours.
    Failed,
    /// The Lease names another holder.
    TakenOver { holder: Option<String> },
}

/// Why a term ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Loss {
    /// No renewal succeeded within the renew deadline.
    DeadlinePassed,
    /// Another replica holds the Lease.
    TakenOver { holder: Option<String> },
}

impl std::fmt::Display for Loss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Loss::DeadlinePassed => {
                f.write_str("no renewal of the Lease succeeded within the renew deadline")
            }
            Loss::TakenOver { holder: Some(h) } => write!(f, "the Lease is now held by {h}"),
            Loss::TakenOver { holder: None } => {
                f.write_str("the Lease was released by someone else")
            }
        }
    }
}

/// What the leader does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Still the leader: work until `term.deadline()`, attempt the next renewal at `at`.
    Renew { term: Term, at: Instant },
    /// Stop working.
    GiveUp(Loss),
}

/// One term as leader, counted from the sending of the last accepted renewal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Term {
    renewed_at: Instant,
}

impl Term {
    /// A term whose acquiring (or renewing) request was sent at `sent_at` and accepted.
    pub fn renewed(sent_at: Instant) -> Self {
        Self { renewed_at: sent_at }
    }

    /// Until when this replica may work (the fence stays open).
    pub fn deadline(&self, timing: &Timing) -> Instant {
        self.renewed_at + timing.renew_deadline
    }

    /// How long an attempt starting at `now` may take: the attempt timeout, cut at the
    /// deadline (an answer after it cannot save the term).
    pub fn attempt_timeout(&self, now: Instant, timing: &Timing) -> Duration {
        timing.attempt_timeout().min(self.deadline(timing).saturating_duration_since(now))
    }

    /// The decision after a renewal attempt sent at `sent_at` ended at `now`.
    ///
    /// Renewed: a new term from `sent_at`, next attempt a retry period later. Failed:
    /// the same term, retried a retry period later while the deadline has not passed,
    /// given up once it has. Taken over: given up at once.
    pub fn after_attempt(
        self,
        sent_at: Instant,
        outcome: Renewal,
        now: Instant,
        timing: &Timing,
    ) -> Next {
        match outcome {
            Renewal::Renewed => {
                // An attempt is never sent before the term began; `max` keeps a term
                // from moving backwards if one ever were.
                let term = Term::renewed(sent_at.max(self.renewed_at));
                Next::Renew { term, at: now + timing.retry_period }
            }
            Renewal::Failed => {
                let deadline = self.deadline(timing);
                if now >= deadline {
                    Next::GiveUp(Loss::DeadlinePassed)
                } else {
                    Next::Renew { term: self, at: (now + timing.retry_period).min(deadline) }
                }
            }
            Renewal::TakenOver { holder } => Next::GiveUp(Loss::TakenOver { holder }),
        }
    }
}

/// What a standby saw of the Lease at one look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// `spec.holderIdentity` (None or empty: free).
    pub holder: Option<String>,
    /// `spec.leaseDurationSeconds` as the holder wrote it.
    pub lease_duration: Option<Duration>,
    /// `metadata.resourceVersion`: changes with every write, renewals included.
    pub version: Option<String>,
}

/// What a standby does after a look at the Lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Standby {
    /// Try to take the Lease now.
    Acquire,
    /// Look again at this instant.
    LookAgainAt(Instant),
}

/// A standby's memory of the Lease: the version last seen and, on this replica's clock,
/// when it was first seen. A holder that stops renewing leaves the version unchanged;
/// its Lease counts as expired a lease duration after that.
#[derive(Clone, Debug, Default)]
pub struct Watcher {
    last: Option<(Option<String>, Instant)>,
}

impl Watcher {
    /// Decides after a look at `now`.
    ///
    /// Free, or held by `me` (a term of ours that ended on a deadline while nobody took
    /// over): acquire. Held by another: acquire once its version has stood unchanged for
    /// its lease duration (this replica's default when it names none), else look again a
    /// retry period later (or at the expiry, if sooner).
    pub fn decide(&mut self, seen: &Seen, me: &str, now: Instant, timing: &Timing) -> Standby {
        let holder = seen.holder.as_deref().filter(|h| !h.is_empty());
        let first_seen = match &self.last {
            Some((version, at)) if *version == seen.version => *at,
            _ => now,
        };
        self.last = Some((seen.version.clone(), first_seen));
        match holder {
            None => Standby::Acquire,
            Some(h) if h == me => Standby::Acquire,
            Some(_) => {
                let expiry = first_seen + seen.lease_duration.unwrap_or(timing.lease_duration);
                if now >= expiry {
                    Standby::Acquire
                } else {
                    Standby::LookAgainAt((now + timing.retry_period).min(expiry))
                }
            }
        }
    }

    /// Forgets what was seen (after this replica held the Lease itself).
    pub fn forget(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timing = Timing::DEFAULT;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn defaults_are_controller_runtimes() {
        assert_eq!(T.lease_duration, s(15));
        assert_eq!(T.renew_deadline, s(10));
        assert_eq!(T.retry_period, s(2));
        assert_eq!(Timing::from_seconds(15, 10, 2), Ok(T));
    }

    #[test]
    fn durations_must_nest() {
        assert_eq!(Timing::from_seconds(15, 10, 0), Err(TimingError::ZeroRetryPeriod));
        assert_eq!(
            Timing::from_seconds(15, 2, 2),
            Err(TimingError::DeadlineNotAboveRetry { renew_deadline: 2, retry_period: 2 })
        );
        assert_eq!(
            Timing::from_seconds(10, 10, 2),
            Err(TimingError::LeaseNotAboveDeadline { lease_duration: 10, renew_deadline: 10 })
        );
    }

    #[test]
    fn a_renewal_starts_a_new_term_from_when_it_was_sent() {
        let t0 = Instant::now();
        let term = Term::renewed(t0);
        assert_eq!(term.deadline(&T), t0 + s(10));
        // Sent at 2 s, answered at 3 s: the term counts from 2 s.
        match term.after_attempt(t0 + s(2), Renewal::Renewed, t0 + s(3), &T) {
            Next::Renew { term, at } => {
                assert_eq!(term.deadline(&T), t0 + s(12));
                assert_eq!(at, t0 + s(5));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failed_renewals_are_retried_until_the_deadline() {
        let t0 = Instant::now();
        let term = Term::renewed(t0);
        // The API server is down at 2 s (connection refused): the leader carries on.
        assert_eq!(
            term.after_attempt(t0 + s(2), Renewal::Failed, t0 + s(2), &T),
            Next::Renew { term, at: t0 + s(4) }
        );
        // The last retry is not scheduled past the deadline.
        assert_eq!(
            term.after_attempt(t0 + s(9), Renewal::Failed, t0 + s(9), &T),
            Next::Renew { term, at: t0 + s(10) }
        );
        // Back within the deadline: a renewal at 8 s keeps the term going.
        assert!(matches!(
            term.after_attempt(t0 + s(8), Renewal::Renewed, t0 + s(8), &T),
            Next::Renew { .. }
        ));
        // A failure at (or after) the deadline ends the term.
        assert_eq!(
            term.after_attempt(t0 + s(9), Renewal::Failed, t0 + s(10), &T),
            Next::GiveUp(Loss::DeadlinePassed)
        );
    }

    #[test]
    fn an_answer_that_names_another_holder_ends_the_term_at_once() {
        let t0 = Instant::now();
        let outcome = Renewal::TakenOver { holder: Some("replica-b".into()) };
        assert_eq!(
            Term::renewed(t0).after_attempt(t0 + s(2), outcome, t0 + s(2), &T),
            Next::GiveUp(Loss::TakenOver { holder: Some("replica-b".into()) })
        );
    }

    #[test]
    fn an_attempt_may_take_half_the_deadline_but_never_past_it() {
        let t0 = Instant::now();
        let term = Term::renewed(t0);
        assert_eq!(term.attempt_timeout(t0 + s(2), &T), s(5));
        assert_eq!(term.attempt_timeout(t0 + s(8), &T), s(2));
        assert_eq!(term.attempt_timeout(t0 + s(11), &T), Duration::ZERO);
    }

    fn seen(holder: Option<&str>, version: &str) -> Seen {
        Seen {
            holder: holder.map(str::to_string),
            lease_duration: Some(s(15)),
            version: Some(version.into()),
        }
    }

    #[test]
    fn a_free_lease_or_our_own_is_acquired_at_once() {
        let t0 = Instant::now();
        let mut w = Watcher::default();
        assert_eq!(w.decide(&seen(None, "1"), "me", t0, &T), Standby::Acquire);
        assert_eq!(w.decide(&seen(Some(""), "2"), "me", t0, &T), Standby::Acquire);
        assert_eq!(w.decide(&seen(Some("me"), "3"), "me", t0, &T), Standby::Acquire);
    }

    #[test]
    fn another_holder_expires_a_lease_duration_after_its_last_change_was_seen() {
        let t0 = Instant::now();
        let mut w = Watcher::default();
        let other = seen(Some("replica-a"), "7");
        assert_eq!(w.decide(&other, "me", t0, &T), Standby::LookAgainAt(t0 + s(2)));
        assert_eq!(w.decide(&other, "me", t0 + s(14), &T), Standby::LookAgainAt(t0 + s(15)));
        assert_eq!(w.decide(&other, "me", t0 + s(15), &T), Standby::Acquire);
    }

    #[test]
    fn a_renewal_seen_restarts_the_wait() {
        let t0 = Instant::now();
        let mut w = Watcher::default();
        w.decide(&seen(Some("replica-a"), "7"), "me", t0, &T);
        // replica-a renewed (new version) at some point before 10 s.
        let renewed = seen(Some("replica-a"), "8");
        assert_eq!(w.decide(&renewed, "me", t0 + s(10), &T), Standby::LookAgainAt(t0 + s(12)));
        assert_eq!(
            w.decide(&renewed, "me", t0 + s(16), &T),
            Standby::LookAgainAt(t0 + s(18)),
            "15 s from when the renewal was seen, not from the first look"
        );
        assert_eq!(w.decide(&renewed, "me", t0 + s(25), &T), Standby::Acquire);
    }

    #[test]
    fn the_holders_lease_duration_counts_and_ours_stands_in_when_missing() {
        let t0 = Instant::now();
        let mut w = Watcher::default();
        let long = Seen { lease_duration: Some(s(60)), ..seen(Some("replica-a"), "1") };
        assert_eq!(w.decide(&long, "me", t0 + s(59), &T), Standby::LookAgainAt(t0 + s(61)));
        let mut w = Watcher::default();
        let none = Seen { lease_duration: None, ..seen(Some("replica-a"), "1") };
        w.decide(&none, "me", t0, &T);
        assert_eq!(w.decide(&none, "me", t0 + s(15), &T), Standby::Acquire);
    }

    #[test]
    fn forgetting_restarts_the_wait() {
        let t0 = Instant::now();
        let mut w = Watcher::default();
        let other = seen(Some("replica-a"), "7");
        w.decide(&other, "me", t0, &T);
        w.forget();
        assert_eq!(w.decide(&other, "me", t0 + s(15), &T), Standby::LookAgainAt(t0 + s(17)));
    }
}
