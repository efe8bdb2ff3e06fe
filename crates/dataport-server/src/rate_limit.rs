//! Request-rate limiting per (user, client) pair (E16): a token bucket holding one minute's
//! allowance, refilled continuously.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets beyond this many are pruned of full (idle) ones, bounding memory.
const MAX_TRACKED: usize = 10_000;

/// A per-key token bucket limiter. `per_minute == 0` disables it.
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<(String, String), (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from the pair's bucket; `Err(seconds)` says when the next is allowed.
    pub fn check(&self, user: &str, client: &str) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        if buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * per_second < capacity);
        }
        let (tokens, at) = buckets.entry((user.to_owned(), client.to_owned())).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_second).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_minute_of_requests_then_refuses_per_pair() {
        let limiter = RateLimiter::new(3);
        for _ in 0..3 {
            assert_eq!(limiter.check("u", "c"), Ok(()));
        }
        let wait = limiter.check("u", "c").expect_err("over the limit");
        assert!((1..=20).contains(&wait), "{wait}");
        assert_eq!(limiter.check("u", "other"), Ok(()));
        assert_eq!(RateLimiter::new(0).check("u", "c"), Ok(()));
    }
}
