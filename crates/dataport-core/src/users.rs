//! Users' sign-in: Argon2id password hashes (SPEC §10.2, §10.5) and throttling of failed attempts.

use std::net::IpAddr;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use dataport_types::Timestamp;
use rand::RngCore;

use crate::Dataport;
use crate::model::{AuditEntry, User};
use crate::store::{Store, StoreError};

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

/// Limits of failed sign-ins within a sliding window (issue #22 finding 6).
///
/// One address guessing one account is locked after `per_account_address` failures; one
/// address is locked for every account after `per_address`; and the account is locked for every
/// address only after `per_account`, far more. So someone elsewhere who knows a username cannot
/// lock its owner out (with the defaults, that takes 20 addresses failing within 15 minutes),
/// while guessing stays bounded: at most `per_account` passwords per account and window
/// (100 per 15 minutes, 9,600 a day), whatever the number of addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures of one account from one address (default 5).
    pub per_account_address: usize,
    /// Failures of one account from all addresses together (default 100).
    pub per_account: usize,
    /// Failures from one address for all accounts together (default 20).
    pub per_address: usize,
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self { per_account_address: 5, per_account: 100, per_address: 20, window: Duration::from_secs(15 * 60) }
    }
}

/// The address a sign-in is counted against: an IPv4 address, or the /64 network of an IPv6
/// one (a single host is routinely given a whole /64, so its addresses are one client's).
fn counted_address(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Counts failed sign-ins per (account, address), per account and per address, in the store, so
/// that every node of a deployment shares the count. Once a limit of [`ThrottlePolicy`] is
/// reached, attempts it covers are refused without checking the password until the window moves.
///
/// An attempt is counted as failed *before* its password is checked ([`LoginThrottle::begin`],
/// one store transaction) and taken back when it succeeds, so concurrent guesses cannot all pass
/// the check while the slow Argon2 verifications run: at most the limit of them is ever verified.
pub struct LoginThrottle {
    policy: ThrottlePolicy,
}

/// A sign-in attempt admitted by [`LoginThrottle::begin`], counted as failed until
/// [`LoginThrottle::succeeded`] takes it back.
#[derive(Debug)]
pub struct Attempt {
    id: String,
    /// The (account, address) key, whose earlier failures a success forgives.
    pair: String,
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self { policy }
    }

    /// Admits an attempt and counts it as failed, or `Ok(Err(seconds))` when the account from
    /// this address, the account, or the address is locked out (the attempt is then not counted).
    pub async fn begin(
        &self,
        store: &dyn Store,
        username: &str,
        address: IpAddr,
    ) -> Result<Result<Attempt, u64>, StoreError> {
        let now = Timestamp::now();
        let window = i64::try_from(self.policy.window.as_secs()).unwrap_or(i64::MAX);
        let (account, address) = (username.to_lowercase(), counted_address(address));
        // The address comes first in the pair's key: it never holds '|', so no username can make
        // one pair's key another's.
        let pair = format!("p:{address}|{account}");
        let keys = [pair.clone(), format!("u:{account}"), format!("a:{address}")];
        let limits = [self.policy.per_account_address, self.policy.per_account, self.policy.per_address];
        let mut wait = 0;
        let mut admit = |seen: &[(u32, Option<Timestamp>)]| {
            for ((count, oldest), limit) in seen.iter().zip(limits) {
                if *count as usize >= limit {
                    let left =
                        oldest.map_or(window, |at| (at.plus_seconds(window).micros() - now.micros()) / 1_000_000);
                    wait = wait.max(left.max(1) as u64);
                }
            }
            wait == 0
        };
        let id = uuid::Uuid::new_v4().to_string();
        let admitted = store.begin_sign_in(&id, &keys, now.plus_seconds(-window), now, &mut admit).await?;
        Ok(if admitted { Ok(Attempt { id, pair }) } else { Err(wait) })
    }

    /// The attempt's password was right: it no longer counts, and the earlier failures of the
    /// account from this address are forgiven (not those from elsewhere: they still bound the
    /// account's guesses).
    pub async fn succeeded(&self, store: &dyn Store, attempt: Attempt) -> Result<(), StoreError> {
        store.sign_in_succeeded(&attempt.id, &attempt.pair).await
    }
}

/// Why a password sign-in was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Too many failures for the account from this address, for the account, or for the
    /// address; retry after this many seconds.
    #[error("too many failed attempts")]
    Throttled(u64),
    /// An unknown username or a wrong password: the two look the same, in timing too.
    #[error("wrong username or password")]
    WrongPassword,
    /// The password was right, but the account is disabled.
    #[error("the account {0} is disabled")]
    Disabled(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Dataport {
    /// Signs a user in with a password (SPEC §10.2). The attempt is counted against the account
    /// from `address`, the account and `address` ([`ThrottlePolicy`]) before the password is
    /// checked, an unknown username is checked against the decoy hash, and a failure is audited.
    pub async fn sign_in(&self, username: &str, password: &str, address: IpAddr) -> Result<User, SignInError> {
        let attempt = self.login_throttle.begin(self.store.as_ref(), username, address).await?.map_err(|wait| {
            self.metrics.sign_in_failed();
            SignInError::Throttled(wait)
        })?;
        let credentials = self.store.credentials(username).await?;
        let phc = credentials.as_ref().and_then(|c| c.password_hash.clone());
        let (decoy, password) = (self.decoy.clone(), password.to_owned());
        let right =
            tokio::task::spawn_blocking(move || verify_password(&password, phc.as_deref().unwrap_or(decoy.hash())))
                .await
                .unwrap_or(false);
        match credentials {
            Some(c) if right => {
                self.login_throttle.succeeded(self.store.as_ref(), attempt).await?;
                if c.user.disabled {
                    self.metrics.sign_in_failed();
                    Err(SignInError::Disabled(c.user.username))
                } else {
                    self.record_sign_in(&c.user.id, "password", address).await;
                    Ok(c.user)
                }
            }
            _ => {
                self.metrics.sign_in_failed();
                self.record(AuditEntry {
                    event: "login.failed".into(),
                    detail: serde_json::json!({ "username": username, "address": address.to_string() }),
                    ..AuditEntry::now()
                })
                .await;
                Err(SignInError::WrongPassword)
            }
        }
    }

    /// The user a trusted proxy vouches for (SPEC §10.6), found by subject id and never by
    /// username, created at the first sign-in. Its username is the subject where that is free.
    pub async fn user_for_subject(&self, subject: &str) -> Result<User, StoreError> {
        if let Some(user) = self.store.user_by_subject(subject).await? {
            return Ok(user);
        }
        let now = Timestamp::now();
        let suffixed = format!("{subject}~{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        for username in [subject, suffixed.as_str()] {
            if let Some(user) = self.store.create_user(username, subject, None, now).await? {
                return Ok(user);
            }
            // Taken: by a concurrent first sign-in of this subject, or as another user's name.
            if let Some(user) = self.store.user_by_subject(subject).await? {
                return Ok(user);
            }
        }
        Err(StoreError::Database(format!("no username is free for subject {subject:?}")))
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

    /// An IPv6 client is counted by its /64, so that rotating addresses within it gains nothing.
    #[test]
    fn sign_ins_are_counted_per_ipv4_address_and_ipv6_network() {
        let counted = |a: &str| counted_address(a.parse().expect("address"));
        assert_eq!(counted("198.51.100.7"), "198.51.100.7");
        assert_eq!(counted("::ffff:198.51.100.7"), "198.51.100.7");
        assert_eq!(counted("2001:db8:1:2:aaaa::1"), counted("2001:db8:1:2:ffff:1:2:3"));
        assert_eq!(counted("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_ne!(counted("2001:db8:1:2::1"), counted("2001:db8:1:3::1"));
        assert_eq!(counted("::1"), "0:0:0:0::/64");
    }
}
