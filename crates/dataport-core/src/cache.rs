//! The read cache of the polling path: live access tokens, finished jobs and the state answered
//! for them, kept in memory so that a client polling `getPortabilityArchiveState` does not cost a
//! database round trip, nor the signing of its URLs, per request (SPEC §11).
//!
//! Two rules keep it from weakening a revocation:
//! - **Exact on this node.** Every use case that can revoke a token or an archive calls
//!   [`ReadCache::invalidate`] once its store call has returned, before it answers: the next
//!   request on this process reads the database again. A read that raced the revocation is not
//!   kept, because it was taken under an older generation ([`ReadCache::generation`]).
//! - **Bounded elsewhere.** A write this process did not make (another node sharing PostgreSQL,
//!   another process on the same SQLite file, `dataportd admin`) is seen once the entry is
//!   [`MAX_AGE`] old, since an entry is never served older than that.
//!
//! Only what cannot change except by such a revocation is kept: access tokens that were live when
//! read (their expiry is checked on every use), and jobs in a final state (COMPLETE, FAILED,
//! CANCELLED; a COMPLETE archive's retention is checked on every use), and the state answered for
//! such a job (its URLs signed up to [`MAX_AGE`] earlier, so they expire that much sooner; they
//! may be answered up to [`MAX_AGE`] past the archive's retention, when the download itself
//! refuses them). Unknown or refused tokens
//! are never kept, so the cache holds only what valid credentials put there, and it is bounded
//! by [`MAX_ENTRIES`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use dataport_types::{State, Timestamp};

use crate::model::{Job, TokenKind, TokenRecord};
use crate::portability::AnsweredState;

/// The oldest a cached read may be when it is served: how long a revocation made on another node
/// may take to be seen here.
pub const MAX_AGE: Duration = Duration::from_millis(500);

/// Most tokens, and most jobs, held at once; a full map is emptied and starts over.
pub const MAX_ENTRIES: usize = 16_384;

/// Tokens and finished jobs read recently, by token hash and by job id.
#[derive(Default)]
pub struct ReadCache {
    generation: AtomicU64,
    tokens: Shelf<TokenRecord>,
    jobs: Shelf<Job>,
    states: Shelf<AnsweredState>,
}

/// The generation a read was taken under: [`ReadCache::keep`] drops it if a revocation happened
/// since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Generation(u64);

impl ReadCache {
    /// Call before reading the database for [`ReadCache::keep`].
    pub fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    /// The access token with this hash, if it was live when read less than [`MAX_AGE`] ago.
    pub fn token(&self, hash: &str, now: Timestamp) -> Option<Arc<TokenRecord>> {
        self.tokens.get(hash).filter(|token| token.expires_at > now)
    }

    /// The finished job with this id, if read less than [`MAX_AGE`] ago.
    pub fn job(&self, id: &str) -> Option<Arc<Job>> {
        self.jobs.get(id)
    }

    /// The state answered for the finished job with this id, if made less than [`MAX_AGE`] ago.
    pub fn state(&self, id: &str) -> Option<Arc<AnsweredState>> {
        self.states.get(id)
    }

    /// Keeps the state made for `job` under `generation`, if the job is in a final state and
    /// nothing was revoked since.
    pub fn keep_state(&self, generation: Generation, job: &Job, state: &Arc<AnsweredState>) {
        if is_final(job) {
            self.states.put(&self.generation, generation, &job.id, state, Instant::now());
        }
    }

    /// Keeps what a read under `generation` found, if nothing was revoked since: a live access
    /// token and a job in a final state (anything else is left out).
    pub fn keep(&self, generation: Generation, token: Option<&Arc<TokenRecord>>, job: Option<&Arc<Job>>) {
        let token = token.filter(|t| t.kind == TokenKind::Access && t.revoked_at.is_none());
        let job = job.filter(|j| is_final(j));
        if token.is_none() && job.is_none() {
            return;
        }
        let read_at = Instant::now();
        if let Some(token) = token {
            self.tokens.put(&self.generation, generation, &token.hash, token, read_at);
        }
        if let Some(job) = job {
            self.jobs.put(&self.generation, generation, &job.id, job, read_at);
        }
    }

    /// Forgets everything: call after any store write that may have revoked a token or an
    /// archive, before answering.
    pub fn invalidate(&self) {
        // Tokens and jobs each take the lock to clear; a `put` holding its lock checks the
        // generation under it, so it either lands before the clear or sees the new generation.
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.tokens.clear();
        self.jobs.clear();
        self.states.clear();
    }
}

/// Whether a job can change only by a revocation (see the module doc).
fn is_final(job: &Job) -> bool {
    matches!(job.state, State::Complete | State::Failed | State::Cancelled)
}

/// One map of the cache.
struct Shelf<T>(RwLock<HashMap<String, (Arc<T>, Instant)>>);

impl<T> Default for Shelf<T> {
    fn default() -> Self {
        Self(RwLock::new(HashMap::new()))
    }
}

impl<T> Shelf<T> {
    fn get(&self, key: &str) -> Option<Arc<T>> {
        let map = self.0.read().ok()?;
        let (value, read_at) = map.get(key)?;
        (read_at.elapsed() < MAX_AGE).then(|| value.clone())
    }

    fn put(&self, current: &AtomicU64, generation: Generation, key: &str, value: &Arc<T>, read_at: Instant) {
        let Ok(mut map) = self.0.write() else { return };
        if current.load(Ordering::Acquire) != generation.0 {
            return;
        }
        if map.len() >= MAX_ENTRIES && !map.contains_key(key) {
            map.retain(|_, (_, at)| at.elapsed() < MAX_AGE);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(key.to_owned(), (value.clone(), read_at));
    }

    fn clear(&self) {
        if let Ok(mut map) = self.0.write() {
            map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Part;
    use dataport_types::AccessType;

    fn token(hash: &str, expires_at: Timestamp) -> Arc<TokenRecord> {
        Arc::new(TokenRecord {
            hash: hash.into(),
            kind: TokenKind::Access,
            user_id: "u".into(),
            client_id: "c".into(),
            scopes: vec!["myactivity.search".into()],
            created_at: Timestamp::now(),
            expires_at,
            revoked_at: None,
            family: None,
            code_hash: None,
            access: None,
            rotated_at: None,
        })
    }

    fn job(id: &str, state: State) -> Arc<Job> {
        let now = Timestamp::now();
        Arc::new(Job {
            id: id.into(),
            user_id: "u".into(),
            client_id: "c".into(),
            resources: vec!["myactivity.search".into()],
            access_type: AccessType::OneTime,
            start_time: None,
            end_time: None,
            export_time: now,
            state,
            created_at: now,
            finished_at: Some(now),
            retry_of: None,
            retry_index: 0,
            attempt: 1,
            failure_reason: None,
            archive_revoked_at: None,
            progress: None,
            parts: vec![Part { index: 0, blob_key: "k".into(), size: 1, sha256: "s".into() }],
        })
    }

    fn state(job: &Job) -> Arc<AnsweredState> {
        let (name, urls) = (job.id.clone(), Vec::new());
        Arc::new(AnsweredState::new(dataport_types::PortabilityArchiveState {
            name,
            state: job.state,
            urls,
            start_time: None,
            export_time: job.export_time,
        }))
    }

    fn later() -> Timestamp {
        Timestamp::now().plus_seconds(3600)
    }

    #[test]
    fn keeps_live_access_tokens_and_finished_jobs_only() {
        let cache = ReadCache::default();
        let generation = cache.generation();
        let running = job("running", State::InProgress);
        cache.keep(generation, Some(&token("live", later())), Some(&running));
        cache.keep(generation, None, Some(&job("done", State::Complete)));
        let revoked =
            Arc::new(TokenRecord { revoked_at: Some(Timestamp::now()), ..(*token("revoked", later())).clone() });
        let refresh = Arc::new(TokenRecord { kind: TokenKind::Refresh, ..(*token("refresh", later())).clone() });
        cache.keep(generation, Some(&revoked), None);
        cache.keep(generation, Some(&refresh), None);
        let now = Timestamp::now();
        assert!(cache.token("live", now).is_some());
        assert!(cache.token("revoked", now).is_none());
        assert!(cache.token("refresh", now).is_none());
        assert!(cache.job("running").is_none());
        assert!(cache.job("done").is_some());
        cache.keep_state(generation, &running, &state(&running));
        let done = job("done", State::Complete);
        cache.keep_state(generation, &done, &state(&done));
        assert!(cache.state("running").is_none());
        assert!(cache.state("done").is_some());
    }

    #[test]
    fn an_expired_token_is_not_served() {
        let cache = ReadCache::default();
        let soon = Timestamp::now().plus_seconds(1);
        cache.keep(cache.generation(), Some(&token("t", soon)), None);
        assert!(cache.token("t", Timestamp::now()).is_some());
        assert!(cache.token("t", soon).is_none());
    }

    #[test]
    fn invalidate_forgets_everything_and_drops_reads_taken_before_it() {
        let cache = ReadCache::default();
        let before = cache.generation();
        let j = job("j", State::Complete);
        let state = state(&j);
        cache.keep(before, Some(&token("t", later())), Some(&j));
        cache.keep_state(before, &j, &state);
        cache.invalidate();
        assert!(cache.token("t", Timestamp::now()).is_none());
        assert!(cache.job("j").is_none());
        assert!(cache.state("j").is_none());
        // A read that started before the revocation and finishes after it is not kept.
        cache.keep(before, Some(&token("t", later())), Some(&j));
        cache.keep_state(before, &j, &state);
        assert!(cache.token("t", Timestamp::now()).is_none());
        assert!(cache.job("j").is_none());
        assert!(cache.state("j").is_none());
    }

    #[test]
    fn an_entry_is_served_for_max_age_at_most() {
        let cache = ReadCache::default();
        cache.keep(cache.generation(), Some(&token("t", later())), None);
        std::thread::sleep(MAX_AGE + Duration::from_millis(20));
        assert!(cache.token("t", Timestamp::now()).is_none());
    }

    #[test]
    fn a_full_cache_starts_over_instead_of_growing() {
        let cache = ReadCache::default();
        let generation = cache.generation();
        for i in 0..=MAX_ENTRIES {
            cache.keep(generation, Some(&token(&format!("t{i}"), later())), None);
        }
        let held = cache.tokens.0.read().expect("lock").len();
        assert!(held <= MAX_ENTRIES, "{held} tokens held");
        assert!(cache.token(&format!("t{MAX_ENTRIES}"), Timestamp::now()).is_some());
    }
}
