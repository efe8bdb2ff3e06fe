//! Persistence: one [`Store`] trait, one implementation per database.
//!
//! All SQL lives below this module. Every method is a complete unit of work: the rules that must
//! hold under concurrency (initiate's checks, retry limits, fenced job writes) are evaluated inside
//! the store's transaction, so two API processes can never both create a job that only one may.

mod sqlite;

pub use sqlite::SqliteStore;

use async_trait::async_trait;
use dataport_types::{AccessType, State, Timestamp};

use crate::error::ApiError;
use crate::grants::{GrantAccess, InitiateRules};

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

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        match e {
            StoreError::Unavailable(_) => ApiError::Unavailable,
            _ => ApiError::Internal,
        }
    }
}

/// A dataport user: whose data is exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    /// The user's identifier in the operator's systems; selects their data.
    pub subject: String,
    pub disabled: bool,
}

/// An OAuth client (the app that imports the data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    /// Public clients (native apps) have no secret and must use PKCE.
    pub public: bool,
    pub disabled: bool,
    /// SHA-256 (hex) of a confidential client's secret.
    pub secret_hash: Option<String>,
}

/// What one (user, client) pair may export of one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub resource: String,
    pub access: GrantAccess,
    pub granted_at: Timestamp,
    /// Time-based grants only.
    pub expires_at: Option<Timestamp>,
    /// One-time grants only: when a job for the group was initiated.
    pub exhausted_at: Option<Timestamp>,
    pub last_initiate_at: Option<Timestamp>,
}

/// Whether a token is an access or a refresh token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

/// A token as stored: only its SHA-256 hash identifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// Lowercase hex SHA-256 of the token string.
    pub hash: String,
    pub kind: TokenKind,
    pub user_id: String,
    pub client_id: String,
    /// Granted resource groups (scope suffixes), in catalogue order.
    pub scopes: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// Refresh-token family: the refresh tokens of one authorization and their access tokens.
    pub family: Option<String>,
    /// Hash of the authorization code the family came from.
    pub code_hash: Option<String>,
    /// The consent duration behind the token (`one-time`, `30d`, `180d`).
    pub access: Option<String>,
    /// When a refresh token was exchanged for a new one; presenting it again is reuse.
    pub rotated_at: Option<Timestamp>,
}

/// A user with the stored password hash, for sign-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub user: User,
    /// Argon2id PHC string; `None` for users who cannot sign in with a password.
    pub password_hash: Option<String>,
}

/// An authorization code as stored (only its hash identifies it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthCode {
    pub hash: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub scopes: Vec<String>,
    pub access: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
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
    /// Valid: it is now rotated out and its successors are stored.
    Fresh,
    /// It was already rotated (stolen or replayed): its whole family has just been revoked.
    Reused,
    /// Unknown, revoked, expired, or not a refresh token.
    Invalid,
}

/// A sign-in session of the login and consent pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the cookie value.
    pub hash: String,
    pub user_id: Option<String>,
    pub expires_at: Timestamp,
}

/// An authorization request waiting for login and consent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingAuthorization {
    pub id: String,
    pub session_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub scopes: Vec<String>,
    pub code_challenge: Option<String>,
    /// `include_granted_scopes=true` was requested.
    pub include_granted_scopes: bool,
    pub expires_at: Timestamp,
}

/// One entry of the append-only audit log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub event: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Event-specific facts (e.g. part, bytes and client address of a download).
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
}

impl AuditEntry {
    /// An empty entry stamped now; fill in the event and what applies.
    pub fn now() -> Self {
        Self {
            at: Timestamp::now(),
            event: String::new(),
            user_id: None,
            client_id: None,
            resources: Vec::new(),
            job_id: None,
            detail: serde_json::Value::Null,
        }
    }
}

/// One archive part of a completed job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub index: u32,
    /// Key in the blob store.
    pub blob_key: String,
    pub size: u64,
    /// Lowercase hex SHA-256 of the whole part; the download ETag.
    pub sha256: String,
}

/// An archive job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    /// Requested groups, in catalogue order.
    pub resources: Vec<String>,
    pub access_type: AccessType,
    pub start_time: Option<Timestamp>,
    /// `endTime` as requested, if it was.
    pub end_time: Option<Timestamp>,
    pub export_time: Timestamp,
    pub state: State,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    /// The failed job this one retries.
    pub retry_of: Option<String>,
    /// How many retries precede this job in its chain (0 for an initiated job).
    pub retry_index: u32,
    /// How many times a worker has claimed the job.
    pub attempt: u32,
    pub failure_reason: Option<String>,
    /// Set by reset or the retention sweep: the archive is no longer downloadable.
    pub archive_revoked_at: Option<Timestamp>,
    pub parts: Vec<Part>,
}

/// A new job as initiate or retry creates it.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub resources: Vec<String>,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
    pub export_time: Timestamp,
    pub created_at: Timestamp,
}

/// A job claimed by a worker under a lease; every write about it is fenced by
/// (`attempt`, `owner`) so a worker that lost its lease can change nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub job: Job,
    pub owner: String,
    pub attempt: u32,
}

/// Persistence for dataport. Implementations: [`SqliteStore`].
#[async_trait]
pub trait Store: Send + Sync {
    /// Returns the user with this username, creating it (subject = username) if it does not exist.
    async fn ensure_user(&self, username: &str, now: Timestamp) -> Result<User, StoreError>;
    async fn user(&self, id: &str) -> Result<Option<User>, StoreError>;
    /// Returns the client with this id, creating it if it does not exist.
    async fn ensure_client(&self, client: &Client, now: Timestamp) -> Result<Client, StoreError>;
    async fn client(&self, id: &str) -> Result<Option<Client>, StoreError>;

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

    async fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError>;
    async fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// Runs initiate's grant rules (E5–E8) and, if they pass, creates the job and records the
    /// initiate on the grants, all in one transaction.
    async fn initiate(&self, job: &NewJob, rules: &InitiateRules) -> Result<Result<Job, ApiError>, StoreError>;
    /// A job by id, with its parts.
    async fn job(&self, id: &str) -> Result<Option<Job>, StoreError>;
    /// A token by hash and a job by id (with its parts), read together.
    async fn token_with_job(
        &self,
        token_hash: &str,
        job_id: &str,
    ) -> Result<(Option<TokenRecord>, Option<Job>), StoreError>;
    /// Moves an in-progress job to CANCELLED; returns the job as it is afterwards, or `None`.
    async fn cancel(&self, id: &str, now: Timestamp) -> Result<Option<Job>, StoreError>;
    /// Creates a retry of a FAILED job (E14, E15 checked in the transaction).
    async fn retry(
        &self,
        id: &str,
        new_id: &str,
        max_retries: u32,
        now: Timestamp,
    ) -> Result<Result<Job, ApiError>, StoreError>;
    /// Revokes every token of the pair, deletes its grants (clearing exhaustion and cooldown),
    /// cancels its in-progress jobs and revokes its archives.
    async fn reset(&self, user_id: &str, client_id: &str, now: Timestamp) -> Result<(), StoreError>;

    /// Claims the oldest runnable job (in progress, lease free or expired).
    async fn claim(&self, owner: &str, lease_until: Timestamp, now: Timestamp) -> Result<Option<Lease>, StoreError>;
    /// Extends a lease; false when the job is no longer this lease's (cancelled, or taken over).
    async fn heartbeat(&self, lease: &Lease, lease_until: Timestamp) -> Result<bool, StoreError>;
    /// Records the parts and marks the job COMPLETE; false when the lease was lost.
    async fn complete(&self, lease: &Lease, parts: &[Part], now: Timestamp) -> Result<bool, StoreError>;
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
    /// Records that a job's blobs are gone; its URLs stop working if they had not already.
    async fn blobs_deleted(&self, job_id: &str, now: Timestamp) -> Result<(), StoreError>;

    /// Closes the connections; every later call fails with [`StoreError::Unavailable`].
    async fn close(&self);

    /// Creates a user; `Ok(None)` when the username or the subject is taken.
    async fn create_user(
        &self,
        username: &str,
        subject: &str,
        password_hash: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<User>, StoreError>;
    async fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError>;
    /// The user with this subject id (unique).
    async fn user_by_subject(&self, subject: &str) -> Result<Option<User>, StoreError>;
    /// Sets a user's password hash; false when there is no such user.
    async fn set_password(&self, username: &str, password_hash: &str) -> Result<bool, StoreError>;
    /// Disables or enables a user; disabling revokes their tokens. False when there is no such user.
    async fn set_user_disabled(&self, username: &str, disabled: bool, now: Timestamp) -> Result<bool, StoreError>;
    /// Creates a client; `Ok(false)` when the id is taken.
    async fn create_client(&self, client: &Client, now: Timestamp) -> Result<bool, StoreError>;
    async fn clients(&self) -> Result<Vec<Client>, StoreError>;
    /// Disables or enables a client; disabling revokes its tokens. False when there is no such client.
    async fn set_client_disabled(&self, id: &str, disabled: bool, now: Timestamp) -> Result<bool, StoreError>;

    async fn insert_session(&self, session: &Session, now: Timestamp) -> Result<(), StoreError>;
    /// Deletes expired sessions and pending authorizations, and codes a day past their expiry
    /// (kept that long so that a late replay still revokes what the code issued). Returns how
    /// many rows went.
    async fn prune_expired(&self, now: Timestamp) -> Result<u64, StoreError>;
    async fn session(&self, hash: &str, now: Timestamp) -> Result<Option<Session>, StoreError>;
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
    /// A refresh token, if live, is rotated out and `successors` are inserted, in one
    /// transaction; presenting a rotated one revokes its whole family (RFC 9700 §4.14.2), the
    /// successors of a racing rotation included.
    async fn rotate_refresh(
        &self,
        hash: &str,
        now: Timestamp,
        successors: &[TokenRecord],
    ) -> Result<Rotation, StoreError>;
    /// Revokes a token; a refresh token takes its family (its access tokens) with it. Returns
    /// the token if it existed.
    async fn revoke_token(&self, hash: &str, now: Timestamp) -> Result<Option<TokenRecord>, StoreError>;
    /// Revokes every token of a family, e.g. when the client presenting it is not its owner.
    async fn revoke_family(&self, family: &str, now: Timestamp) -> Result<(), StoreError>;

    /// Appends to the audit log.
    async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// The newest `limit` audit entries, oldest first.
    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
}
