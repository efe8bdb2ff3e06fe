//! Users' sign-in: Argon2id password hashes (SPEC §10.2, §10.5) and throttling of failed attempts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

/// Hashes a password as an Argon2id PHC string with a random salt. CPU-heavy: call it off the
/// async runtime (`spawn_blocking`).
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// Checks a password against a PHC string in constant time; false for malformed hashes.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
}

/// The hash of a random password, verified against when a user does not exist, so that a failed
/// sign-in takes as long for an unknown username as for a wrong password. Made once, on first use.
#[derive(Default)]
pub struct Decoy(std::sync::OnceLock<String>);

impl Decoy {
    /// The decoy PHC string (CPU-heavy the first time: call it off the async runtime).
    pub fn hash(&self) -> &str {
        self.0.get_or_init(|| hash_password(&uuid::Uuid::new_v4().to_string()).unwrap_or_default())
    }
}

/// Limits of failed sign-ins within a sliding window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub per_account: usize,
    pub per_address: usize,
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self { per_account: 5, per_address: 20, window: Duration::from_secs(15 * 60) }
    }
}

/// Counts failed sign-ins per account and per client address (in this process). Once either
/// limit is reached, attempts are refused without checking the password until the window moves.
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self { policy, failures: Mutex::new(HashMap::new()) }
    }

    fn keys(username: &str, address: Option<IpAddr>) -> [(String, usize); 2] {
        [
            (format!("u:{}", username.to_lowercase()), 0),
            (format!("a:{}", address.map(|a| a.to_string()).unwrap_or_default()), 1),
        ]
    }

    /// `Err(seconds)` when the account or the address is locked out.
    pub fn check(&self, username: &str, address: Option<IpAddr>) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(mut failures) = self.failures.lock() else { return Ok(()) };
        let mut wait = 0;
        for (key, kind) in Self::keys(username, address) {
            let limit = if kind == 0 { self.policy.per_account } else { self.policy.per_address };
            if let Some(times) = failures.get_mut(&key) {
                times.retain(|t| now.duration_since(*t) < self.policy.window);
                if times.len() >= limit
                    && let Some(oldest) = times.first()
                {
                    let left = self.policy.window.saturating_sub(now.duration_since(*oldest));
                    wait = wait.max(left.as_secs().max(1));
                }
            }
        }
        if wait > 0 { Err(wait) } else { Ok(()) }
    }

    /// Records a failed attempt.
    pub fn failed(&self, username: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        if let Ok(mut failures) = self.failures.lock() {
            if failures.len() > 100_000 {
                failures.retain(|_, times| times.last().is_some_and(|t| now.duration_since(*t) < self.policy.window));
            }
            for (key, _) in Self::keys(username, address) {
                failures.entry(key).or_default().push(now);
            }
        }
    }

    /// Clears the account's failures after a successful sign-in.
    pub fn succeeded(&self, username: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&format!("u:{}", username.to_lowercase()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash_password("correct horse").expect("hash");
        let b = hash_password("correct horse").expect("hash");
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("wrong", &a));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn throttles_per_account_and_per_address() {
        let throttle =
            LoginThrottle::new(ThrottlePolicy { per_account: 2, per_address: 3, window: Duration::from_secs(60) });
        let ip: IpAddr = "127.0.0.1".parse().expect("ip");
        throttle.failed("alice", Some(ip));
        assert!(throttle.check("alice", Some(ip)).is_ok());
        throttle.failed("Alice", Some(ip));
        assert!(throttle.check("alice", None).is_err(), "account locked whatever the address");
        assert!(throttle.check("bob", Some(ip)).is_ok());
        throttle.failed("bob", Some(ip));
        assert!(throttle.check("carol", Some(ip)).is_err(), "address locked whatever the account");
        throttle.succeeded("alice");
        assert!(throttle.check("alice", None).is_ok());
    }
}
