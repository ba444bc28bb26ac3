//! The AWS call budget: one token bucket per AWS service (step: awaited by every `aws/`
//! call site before the call, `aws.permit(Service::S3).await`).
//!
//! AWS rate limits are per account, region and service, and one cached [`super::AwsCtx`]
//! exists per (region, role), so the buckets live in the context. This keeps a burst of
//! reconciles (operator restart, many environments) from spending the account's API rate
//! that REDCap and humans share. No AWS calls here; the clock is tokio's, so tests can
//! pause time.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::Service;

/// Rate and burst of every bucket. `calls_per_second == 0.0` turns the budget off.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BudgetSettings {
    pub calls_per_second: f64,
    pub burst: u32,
}

/// One token bucket per service.
#[derive(Debug)]
pub struct Budget {
    buckets: Vec<TokenBucket>,
}

impl Budget {
    pub fn new(settings: BudgetSettings) -> Self {
        Self { buckets: Service::ALL.iter().map(|_| TokenBucket::new(settings)).collect() }
    }

    /// Waits until the service's bucket grants one call.
    pub async fn permit(&self, service: Service) {
        if let Some(bucket) = self.buckets.get(service.index())
            && let Some(wait) = bucket.reserve(Instant::now())
        {
            tokio::time::sleep(wait).await;
        }
    }
}

/// A token bucket that hands out reservations: a caller takes a token even when the
/// bucket is empty (the balance goes negative) and sleeps for the deficit. Callers are
/// thus served in arrival order without a wake-up loop.
#[derive(Debug)]
struct TokenBucket {
    settings: BudgetSettings,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    tokens: f64,
    last: Option<Instant>,
}

impl TokenBucket {
    fn new(settings: BudgetSettings) -> Self {
        Self {
            settings,
            state: Mutex::new(BucketState { tokens: f64::from(settings.burst.max(1)), last: None }),
        }
    }

    /// Takes one token at `now`; returns how long the caller must wait, if at all.
    fn reserve(&self, now: Instant) -> Option<Duration> {
        let rate = self.settings.calls_per_second;
        if rate <= 0.0 || !rate.is_finite() {
            return None;
        }
        let burst = f64::from(self.settings.burst.max(1));
        // A poisoned lock only means another caller panicked mid-update; the numbers are
        // still usable, so keep going rather than failing every later call.
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(last) = state.last {
            let elapsed = now.saturating_duration_since(last).as_secs_f64();
            state.tokens = (state.tokens + elapsed * rate).min(burst);
        }
        state.last = Some(now);
        state.tokens -= 1.0;
        (state.tokens < 0.0).then(|| Duration::from_secs_f64(-state.tokens / rate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(rate: f64, burst: u32) -> TokenBucket {
        TokenBucket::new(BudgetSettings { calls_per_second: rate, burst })
    }

    #[test]
    fn burst_is_free_then_calls_wait_for_the_rate() {
        let b = bucket(10.0, 3);
        let t0 = Instant::now();
        assert_eq!(b.reserve(t0), None);
        assert_eq!(b.reserve(t0), None);
        assert_eq!(b.reserve(t0), None);
        let w1 = b.reserve(t0).expect("fourth call waits");
        let w2 = b.reserve(t0).expect("fifth call waits longer");
        assert!((w1.as_secs_f64() - 0.1).abs() < 1e-9, "{w1:?}");
        assert!((w2.as_secs_f64() - 0.2).abs() < 1e-9, "{w2:?}");
    }

    #[test]
    fn tokens_refill_up_to_the_burst_only() {
        let b = bucket(10.0, 2);
        let t0 = Instant::now();
        b.reserve(t0);
        b.reserve(t0);
        // An hour later the bucket holds `burst` tokens, not 36,000.
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(b.reserve(later), None);
        assert_eq!(b.reserve(later), None);
        assert!(b.reserve(later).is_some());
    }

    #[test]
    fn zero_rate_disables_the_budget() {
        let b = bucket(0.0, 1);
        let t0 = Instant::now();
        for _ in 0..100 {
            assert_eq!(b.reserve(t0), None);
        }
    }

    #[tokio::test]
    async fn permit_sleeps_per_service() {
        let budget = Budget::new(BudgetSettings { calls_per_second: 20.0, burst: 1 });
        let start = Instant::now();
        budget.permit(Service::S3).await;
        budget.permit(Service::Kms).await;
        assert!(start.elapsed() < Duration::from_millis(40), "each service has its own bucket");
        budget.permit(Service::S3).await;
        assert!(start.elapsed() >= Duration::from_millis(45));
    }
}
