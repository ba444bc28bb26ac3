//! Per-object exponential backoff for recoverable errors: base delay doubling per
//! consecutive failure, capped, with jitter, keyed by the object's UID and reset by the
//! first successful reconcile.
//!
//! In-memory only (a restarted operator starts again at the base delay). No I/O.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngExt;

/// Share of the delay that jitter may remove, so that environments failing together
/// (an AWS outage) do not retry in lockstep.
const JITTER_FRACTION: f64 = 0.2;

/// Failure counts per object UID.
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<String, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self { base, max, failures: Mutex::new(HashMap::new()) }
    }

    /// Records one more failure of `uid` and returns how long to wait before retrying.
    pub fn next_delay(&self, uid: &str) -> Duration {
        let now = Instant::now();
        let count = {
            let mut failures = self.lock();
            // Objects deleted while failing never reset; forget entries that are older
            // than any delay we could hand out, so the map stays bounded.
            let horizon = self.max.saturating_mul(4);
            failures.retain(|_, f| now.duration_since(f.last) <= horizon);
            let entry = failures.entry(uid.to_string()).or_insert(Failures { count: 0, last: now });
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
            entry.count
        };
        let jitter = rand::rng().random_range(0.0..JITTER_FRACTION);
        delay(self.base, self.max, count, jitter)
    }

    /// Forgets the failures of `uid` (after a successful reconcile or a deletion).
    pub fn reset(&self, uid: &str) {
        self.lock().remove(uid);
    }

    /// Consecutive failures recorded for `uid`.
    pub fn failures(&self, uid: &str) -> u32 {
        self.lock().get(uid).map_or(0, |f| f.count)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Failures>> {
        // A panic while holding this lock cannot leave the map inconsistent (each
        // operation is a single insert/remove), so a poisoned lock is still usable.
        self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Delay before retry number `failures` (1 = first failure): `base * 2^(failures-1)`,
/// capped at `max`, then shortened by `jitter` (a fraction in `[0, 1)`).
pub fn delay(base: Duration, max: Duration, failures: u32, jitter: f64) -> Duration {
    let exponent = failures.saturating_sub(1).min(31);
    let raw = base.saturating_mul(1u32 << exponent).min(max);
    raw.mul_f64(1.0 - jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_secs(5);
    const MAX: Duration = Duration::from_secs(300);

    #[test]
    fn doubles_from_the_base_and_caps() {
        let secs = |n| delay(BASE, MAX, n, 0.0).as_secs();
        assert_eq!(
            [secs(1), secs(2), secs(3), secs(4), secs(5), secs(6)],
            [5, 10, 20, 40, 80, 160]
        );
        assert_eq!(secs(7), 300);
        assert_eq!(secs(1000), 300);
        // Failure 0 should not happen, but must not panic or exceed the base.
        assert_eq!(secs(0), 5);
    }

    #[test]
    fn jitter_only_shortens() {
        assert_eq!(delay(BASE, MAX, 7, 0.2), Duration::from_secs(240));
        assert_eq!(delay(BASE, MAX, 1, 0.1), Duration::from_millis(4500));
    }

    #[test]
    fn per_object_and_reset_on_success() {
        let backoff = Backoff::new(BASE, MAX);
        let first = backoff.next_delay("a");
        let second = backoff.next_delay("a");
        assert!(first <= BASE && first >= BASE.mul_f64(1.0 - JITTER_FRACTION), "{first:?}");
        assert!(
            second <= BASE * 2 && second >= (BASE * 2).mul_f64(1.0 - JITTER_FRACTION),
            "{second:?}"
        );
        assert_eq!(backoff.failures("a"), 2);
        // Another object starts at the base.
        assert!(backoff.next_delay("b") <= BASE);
        backoff.reset("a");
        assert_eq!(backoff.failures("a"), 0);
        assert!(backoff.next_delay("a") <= BASE);
        assert_eq!(backoff.failures("b"), 1);
    }
}
