//! Persistence: the [`Store`] trait, split by concept into [`Users`], [`Clients`], [`Jobs`]
//! (grants and jobs), [`Queue`] (the workers' side of jobs), [`Auth`] (tokens, codes, sessions,
//! pending authorizations), [`Audit`], [`Uploads`] (blob uploads in progress) and [`Account`] (a
//! person's own view, every query scoped by the user), with one
//! implementation per database behind [`open`].
//!
//! All SQL lives below this module, and no rule: every method is one atomic unit of work. Where a
//! decision must hold under concurrency (initiate's grant rules), the core passes the decision in
//! and the store runs it inside its transaction, on the rows it holds.

#[cfg(any(test, feature = "testing"))]
pub mod conformance;
mod metered;
mod postgres;
mod sqlite;

pub use metered::MeteredStore;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use std::sync::Arc;

use async_trait::async_trait;
use dataport_types::{AccessType, Timestamp};

use crate::model::{
    AuditEntry, AuditFilter, AuditRecord, AuthCode, Client, ClientGrant, Credentials, Grant, GrantAccess, Job,
    JobFilter, JobRecord, Lease, NewJob, Part, PendingAuthorization, Progress, QueueDepth, RefreshRotation, Session,
    TokenRecord, User,
};

/// Errors of the store. Connectivity problems are [`StoreError::Unavailable`] (E17).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// Opens the store a database URL names, applying pending migrations: `sqlite://PATH` (created
/// if missing), or `postgres://…` / `postgresql://…` (the database must exist).
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        return Ok(Arc::new(SqliteStore::open(std::path::Path::new(path)).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PgStore::open(url).await?));
    }
    let url = crate::config::redact_url(url);
    Err(StoreError::Database(format!("unsupported database URL {url:?}: expected sqlite://PATH or postgres://…")))
}

/// A job's progress as both backends store it (JSON text).
fn progress_json(progress: &Progress) -> Result<String, StoreError> {
    serde_json::to_string(progress).map_err(|e| StoreError::Database(format!("progress: {e}")))
}

/// The stored progress column back (NULL before the first report).
fn progress_from_json(text: Option<String>) -> Result<Option<Progress>, StoreError> {
    text.map(|p| serde_json::from_str(&p)).transpose().map_err(|e| StoreError::Corrupt(format!("progress: {e}")))
}

/// What redeeming a code found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redemption {
    /// First use: the code is now spent and its tokens are stored.
    Fresh,
    /// The code was used before; every token issued from it has just been revoked.
    Replayed,
    Unknown,
}

/// What presenting a refresh token found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// Valid: the tokens issued are stored, and it is rotated out if they hold a successor
    /// refresh token (else it stays, its last use now).
    Fresh,
    /// It was rotated within the repeat window and its successor — the refresh token issued
    /// again — is still live and unused: the successor stays, the issued access token is
    /// stored. Two refreshes racing from one app both get the one successor.
    Repeated,
    /// It was already rotated (stolen or replayed): its whole family has just been revoked.
    Reused,
    /// Unknown, revoked, expired, or not a refresh token.
    Invalid,
}

/// The limits core sets on presenting a refresh token ([`Auth::use_refresh`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefreshRules {
    /// A token neither used nor issued since this is dead (unused for too long); `None`: no limit.
    pub idle_since: Option<Timestamp>,
    /// A token rotated out at or after this may be presented again and get its successor
    /// ([`Rotation::Repeated`]); `None`: any second presentation is reuse.
    pub repeat_since: Option<Timestamp>,
}

/// Core's decision inside [`Jobs::initiate`]: given the pair's grants and jobs, the new job's
/// access type, or `None` to create nothing.
pub type InitiateDecision<'d> = dyn for<'a> FnMut(&'a [Grant], &'a [Job]) -> Option<AccessType> + Send + 'd;

/// Core's decision inside [`Auth::begin_sign_in`]: given, for each key, how many attempts it had
/// in the window and when the oldest of them was, whether this attempt may go ahead.
pub type SignInDecision<'d> = dyn for<'a> FnMut(&'a [(u32, Option<Timestamp>)]) -> bool + Send + 'd;

/// Everything dataport persists. Implementations: [`SqliteStore`], [`PgStore`].
#[async_trait]
pub trait Store: Users + Clients + Jobs + Queue + Auth + Audit + Uploads + Account {
    /// Closes the connections; every later call fails with [`StoreError::Unavailable`].
    async fn close(&self);

    /// Answers when the database does (a cheap indexed read).
    async fn ping(&self) -> Result<(), StoreError> {
        self.client("").await.map(|_| ())
    }
}

/// The people whose data is exported, and how they sign in.
#[async_trait]
pub trait Users: Send + Sync {
    /// Returns the user with this username, creating it (subject = username) if it does not exist.
    async fn ensure_user(&self, username: &str, now: Timestamp) -> Result<User, StoreError>;
    async fn user(&self, id: &str) -> Result<Option<User>, StoreError>;
    /// Creates a user; `Ok(None)` when the username or the subject is taken.
    async fn create_user(
        &self,
        username: &str,
        subject: &str,
        password_hash: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<User>, StoreError>;
    async fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError>;
    /// Every user, oldest first.
    async fn users(&self) -> Result<Vec<User>, StoreError>;
    /// The user with this subject id (unique).
    async fn user_by_subject(&self, subject: &str) -> Result<Option<User>, StoreError>;
    /// Sets a user's password hash; false when there is no such user.
    async fn set_password(&self, username: &str, password_hash: &str) -> Result<bool, StoreError>;
    /// Disables or enables a user; disabling revokes their tokens. False when there is no such user.
    async fn set_user_disabled(&self, username: &str, disabled: bool, now: Timestamp) -> Result<bool, StoreError>;
}

/// The OAuth clients: the apps that import the data.
#[async_trait]
pub trait Clients: Send + Sync {
    /// Returns the client with this id, creating it if it does not exist.
    async fn ensure_client(&self, client: &Client, now: Timestamp) -> Result<Client, StoreError>;
    async fn client(&self, id: &str) -> Result<Option<Client>, StoreError>;
    /// Creates a client; `Ok(false)` when the id is taken.
    async fn create_client(&self, client: &Client, now: Timestamp) -> Result<bool, StoreError>;
    async fn clients(&self) -> Result<Vec<Client>, StoreError>;
    /// Sets (or, with `None`, clears) a client's refresh-token rotation. False when there is no such client.
    async fn set_refresh_rotation(&self, id: &str, rotation: Option<RefreshRotation>) -> Result<bool, StoreError>;
    /// Disables or enables a client; disabling revokes its tokens. False when there is no such client.
    async fn set_client_disabled(&self, id: &str, disabled: bool, now: Timestamp) -> Result<bool, StoreError>;
}

/// Grants and archive jobs: what a (user, client) pair may export, and what it has asked for.
#[async_trait]
pub trait Jobs: Send + Sync {
    /// Creates or extends grants: access type and expiry are replaced, exhaustion and cooldown kept.
    async fn upsert_grants(
        &self,
        user_id: &str,
        client_id: &str,
        resources: &[String],
        access: GrantAccess,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), StoreError>;
    /// The pair's grants.
    async fn grants(&self, user_id: &str, client_id: &str) -> Result<Vec<Grant>, StoreError>;
    /// Creates `job` if `decide` admits it, in one transaction that holds the pair: `decide` sees
    /// the pair's grants and its jobs (those in progress, and those created since the oldest of
    /// its grants or `since`, whichever is earlier) and returns the job's access type, or `None`
    /// to create nothing. A created job is recorded on the grants of its groups (`last_initiate_at`;
    /// one-time grants become exhausted). Two concurrent calls for one pair are serialised, so the
    /// second decides on what the first wrote.
    async fn initiate(
        &self,
        job: &NewJob,
        since: Timestamp,
        decide: &mut InitiateDecision<'_>,
    ) -> Result<Option<Job>, StoreError>;
    /// A job by id, with its parts.
    async fn job(&self, id: &str) -> Result<Option<Job>, StoreError>;
    /// The jobs `filter` selects, newest first (by creation, then id), at most `filter.limit`,
    /// each with its lease but without its parts.
    async fn jobs(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, StoreError>;
    /// A job by id with its parts and its lease, read in one statement.
    async fn job_record(&self, id: &str) -> Result<Option<JobRecord>, StoreError>;
    /// A token by hash and a job by id (with its parts), read together.
    async fn token_with_job(
        &self,
        token_hash: &str,
        job_id: &str,
    ) -> Result<(Option<TokenRecord>, Option<Job>), StoreError>;
    /// Moves an in-progress job to CANCELLED; returns the job as it is afterwards, or `None`.
    async fn cancel(&self, id: &str, now: Timestamp) -> Result<Option<Job>, StoreError>;
    /// Creates `retry` as the retry of `failed` (same access type, the next retry index) unless
    /// `failed` already has one, and returns the retry that exists afterwards: this one, or the
    /// one created first (a job has at most one retry, whatever the concurrency).
    async fn insert_retry(&self, retry: &NewJob, failed: &Job) -> Result<Job, StoreError>;
    /// Revokes every token of the pair, deletes its grants (clearing exhaustion and cooldown),
    /// cancels its in-progress jobs and revokes its archives.
    async fn reset(&self, user_id: &str, client_id: &str, now: Timestamp) -> Result<(), StoreError>;
}

/// The workers' side of jobs: claims under a lease, heartbeats, and writes fenced by (attempt, owner), so that a worker that lost its lease can change nothing.
#[async_trait]
pub trait Queue: Send + Sync {
    /// The time by the database's clock, which every node's leases are measured against, so that
    /// a node whose clock is off can neither steal a live lease nor keep a dead one.
    async fn clock(&self) -> Result<Timestamp, StoreError> {
        Ok(Timestamp::now())
    }
    /// Claims the oldest runnable job (in progress, lease free or expired), clearing the last
    /// attempt's progress.
    async fn claim(&self, owner: &str, lease_until: Timestamp, now: Timestamp) -> Result<Option<Lease>, StoreError>;
    /// Extends a lease and records the attempt's progress; false when the job is no longer this
    /// lease's (cancelled, or taken over).
    async fn heartbeat(&self, lease: &Lease, lease_until: Timestamp, progress: &Progress) -> Result<bool, StoreError>;
    /// Records the parts and the final progress and marks the job COMPLETE; false when the lease
    /// was lost.
    async fn complete(
        &self,
        lease: &Lease,
        parts: &[Part],
        progress: &Progress,
        now: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Marks the job FAILED with a reason; false when the lease was lost.
    async fn fail(&self, lease: &Lease, reason: &str, now: Timestamp) -> Result<bool, StoreError>;
    /// Gives the job back for another attempt after `not_before`; false when the lease was lost.
    async fn release(&self, lease: &Lease, reason: &str, not_before: Timestamp) -> Result<bool, StoreError>;
    /// Jobs whose blobs can go: COMPLETE jobs finished before `complete_before` or revoked, and
    /// CANCELLED or FAILED jobs that ended before `ended_before` (by then any worker still writing
    /// has lost its lease and stopped).
    async fn jobs_to_sweep(
        &self,
        complete_before: Timestamp,
        ended_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;
    /// How many jobs in progress wait for a worker, and how many are leased, at `now`.
    async fn queue_depth(&self, now: Timestamp) -> Result<QueueDepth, StoreError>;
    /// Records that a job's blobs are gone; its URLs stop working if they had not already.
    async fn blobs_deleted(&self, job_id: &str, now: Timestamp) -> Result<(), StoreError>;
    /// Returns when a job may have become runnable, or after `timeout`. A backend that can be
    /// told by other nodes (PostgreSQL's LISTEN/NOTIFY) returns early; otherwise this just waits,
    /// and workers fall back to polling. A spurious return is harmless: the worker claims or not.
    async fn wait_for_work(&self, timeout: std::time::Duration) {
        tokio::time::sleep(timeout).await;
    }
}

/// The authorization server's records: tokens (by hash), codes, sign-in sessions, pending authorizations.
#[async_trait]
pub trait Auth: Send + Sync {
    async fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError>;
    async fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError>;
    async fn insert_session(&self, session: &Session, now: Timestamp) -> Result<(), StoreError>;
    async fn session(&self, hash: &str, now: Timestamp) -> Result<Option<Session>, StoreError>;
    /// Counts sign-in attempt `attempt` against each of `keys` if `admit` allows it, shown each
    /// key's attempts since `since`, all in one transaction that holds the keys: concurrent
    /// attempts, on any node, are counted one after another. True when admitted.
    async fn begin_sign_in(
        &self,
        attempt: &str,
        keys: &[String],
        since: Timestamp,
        now: Timestamp,
        admit: &mut SignInDecision<'_>,
    ) -> Result<bool, StoreError>;
    /// Takes back `attempt` (its password was right) and forgets the attempts of `forgive`.
    async fn sign_in_succeeded(&self, attempt: &str, forgive: &str) -> Result<(), StoreError>;
    /// Deletes expired sessions and pending authorizations, and codes a day past their expiry
    /// (kept that long so that a late replay still revokes what the code issued), and sign-in
    /// attempts older than a day. Returns how many sessions, requests and codes went.
    async fn prune_expired(&self, now: Timestamp) -> Result<u64, StoreError>;
    async fn insert_pending(&self, pending: &PendingAuthorization, now: Timestamp) -> Result<(), StoreError>;
    async fn pending(&self, id: &str, now: Timestamp) -> Result<Option<PendingAuthorization>, StoreError>;
    /// Moves a pending authorization to another session (the one a sign-in creates).
    async fn rebind_pending(&self, id: &str, session_hash: &str) -> Result<(), StoreError>;
    /// Removes a pending authorization; true if this call removed it (so it is used only once).
    async fn take_pending(&self, id: &str) -> Result<bool, StoreError>;
    async fn insert_code(&self, code: &AuthCode) -> Result<(), StoreError>;
    /// A code by hash, spent or not.
    async fn code(&self, hash: &str) -> Result<Option<AuthCode>, StoreError>;
    /// Spends a code and inserts `issued`, the tokens it is exchanged for, in one transaction; a
    /// second redemption revokes every token the first one issued (RFC 6749 §4.1.2). Because
    /// both happen together, a replay racing the first redemption always finds its tokens.
    async fn redeem_code(&self, hash: &str, now: Timestamp, issued: &[TokenRecord]) -> Result<Redemption, StoreError>;
    /// Presents refresh token `hash` at `now` and stores `issued`, the tokens it is exchanged
    /// for, in one transaction. A live token (not revoked, expired, rotated, nor idle by
    /// `rules`) is rotated out when `issued` holds a refresh token — its successor — and
    /// otherwise stays, its last use set to `now`. A rotated token presented again gets
    /// [`Rotation::Repeated`] when `rules` allow it and the successor in `issued` is stored,
    /// live and unused; else its whole family is revoked (RFC 9700 §4.14.2), the successors of
    /// a racing rotation included.
    async fn use_refresh(
        &self,
        hash: &str,
        now: Timestamp,
        rules: RefreshRules,
        issued: &[TokenRecord],
    ) -> Result<Rotation, StoreError>;
    /// [`Auth::use_refresh`] with no idle limit and no repeat window: a live refresh token is
    /// rotated out for `successors`, and any second presentation revokes its family.
    async fn rotate_refresh(
        &self,
        hash: &str,
        now: Timestamp,
        successors: &[TokenRecord],
    ) -> Result<Rotation, StoreError> {
        self.use_refresh(hash, now, RefreshRules::default(), successors).await
    }
    /// Revokes the live refresh tokens of the pair (not revoked, expired, rotated, nor idle
    /// since `idle_since`) beyond the newest `keep`, oldest first, each with its family, in one
    /// transaction. Returns how many went.
    async fn drop_oldest_refresh(
        &self,
        user_id: &str,
        client_id: &str,
        keep: u32,
        idle_since: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError>;
    /// Revokes a token; a refresh token takes its family (its access tokens) with it. Returns
    /// the token if it existed.
    async fn revoke_token(&self, hash: &str, now: Timestamp) -> Result<Option<TokenRecord>, StoreError>;
    /// Revokes every token of a family, e.g. when the client presenting it is not its owner.
    async fn revoke_family(&self, family: &str, now: Timestamp) -> Result<(), StoreError>;
}

/// The append-only audit log (SPEC §11): no entry is ever deleted, and the only change to one is
/// [`Audit::amend_audit`], a download entry's totals growing while its connection lasts.
#[async_trait]
pub trait Audit: Send + Sync {
    /// Appends to the audit log.
    async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.append_audit(entry).await.map(drop)
    }
    /// Appends to the audit log and returns the entry's id (ids grow with every append).
    async fn append_audit(&self, entry: &AuditEntry) -> Result<i64, StoreError>;
    /// Replaces the detail of entry `id`, leaving the rest of it as it is; false when there is no
    /// such entry.
    async fn amend_audit(&self, id: i64, detail: &serde_json::Value) -> Result<bool, StoreError>;
    /// The newest `filter.limit` entries that `filter` selects, oldest first.
    async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError>;
}

/// Multipart uploads to the blob store in progress, recorded so that an upload a crashed process
/// left behind can be aborted by whoever later deletes its prefix (not every S3-compatible
/// server can list them).
#[async_trait]
pub trait Uploads: Send + Sync {
    /// Records that upload `upload_id` of blob `key` has started.
    async fn record_upload(&self, key: &str, upload_id: &str) -> Result<(), StoreError>;
    /// Forgets an upload that completed or was aborted (a no-op when it is not recorded).
    async fn forget_upload(&self, key: &str, upload_id: &str) -> Result<(), StoreError>;
    /// The recorded uploads of blobs below `prefix/`, as (key, upload id), oldest first.
    async fn uploads_below(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError>;
}

/// A person's own view of what dataport holds about them (`/account`). Every query is scoped by
/// `user_id` in the statement itself, so another person's job ids and audit entries find nothing.
#[async_trait]
pub trait Account: Send + Sync {
    /// Every grant of the user, with the client it was given to, by client id then resource.
    async fn user_grants(&self, user_id: &str) -> Result<Vec<ClientGrant>, StoreError>;
    /// The user's newest `limit` jobs (by creation, then id), each with its parts.
    async fn user_jobs(&self, user_id: &str, limit: u32) -> Result<Vec<Job>, StoreError>;
    /// Job `id` with its parts, if it is one of the user's (`None` for another user's).
    async fn user_job(&self, user_id: &str, id: &str) -> Result<Option<Job>, StoreError>;
    /// How many of the user's audit entries of `event` each job has, as (job id, count).
    async fn user_event_counts(&self, user_id: &str, event: &str) -> Result<Vec<(String, u64)>, StoreError>;
    /// The user's newest `limit` audit entries with an id below `before` (all, without it),
    /// newest first.
    async fn user_audit(&self, user_id: &str, before: Option<i64>, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;
}
