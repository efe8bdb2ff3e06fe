//! The records dataport keeps: users, clients, grants, tokens, codes, sessions, jobs and their
//! parts, audit entries. Plain data with no behaviour beyond naming its states, shared by the
//! core's rules and every store backend; it depends on nothing else in the core.

use dataport_types::{AccessType, State, Timestamp};

/// The access a user granted for one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantAccess {
    OneTime,
    TimeBased,
}

impl GrantAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OneTime => "one-time",
            Self::TimeBased => "time-based",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "one-time" => Some(Self::OneTime),
            "time-based" => Some(Self::TimeBased),
            _ => None,
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
    /// The operator's choice of what a refresh does to this client's refresh token; `None`: the
    /// default for its type (`oauth::refresh_rotation`).
    pub refresh_rotation: Option<RefreshRotation>,
}

/// What a refresh does to the refresh token presented (SPEC §10.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshRotation {
    /// The token stays and keeps working (Google's behaviour); the answer has no new one.
    Never,
    /// The token is exchanged for a successor; presenting it again is reuse.
    Rotate,
}

impl RefreshRotation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::Rotate => "rotate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "never" => Some(Self::Never),
            "rotate" => Some(Self::Rotate),
            _ => None,
        }
    }
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

/// An audit entry with its position in the log: ids grow with every append, so they order the
/// entries and page through them (the person's activity on `/account`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    pub id: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// A grant with the client it was given to: one row of a person's connected apps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientGrant {
    pub client_id: String,
    pub grant: Grant,
}

/// Which audit entries the operator reads (`admin audit`): each filter that is set must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Entries at or after this time.
    pub since: Option<Timestamp>,
    pub user_id: Option<String>,
    /// The exact event name (`token.issued`, `export.initiated`, …).
    pub event: Option<String>,
    /// At most this many: the newest of those that match.
    pub limit: u32,
}

impl AuditFilter {
    /// The newest `limit` entries, whatever they are.
    pub fn newest(limit: u32) -> Self {
        Self { limit, ..Self::default() }
    }
}

/// Which jobs the operator lists (`admin jobs`): each filter that is set must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobFilter {
    pub state: Option<State>,
    pub user_id: Option<String>,
    /// At most this many: the newest of those that match.
    pub limit: u32,
}

/// A job as the operator sees it: the job and who holds its lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRecord {
    pub job: Job,
    /// The worker (`host:pid:n`) that claimed it last, while its lease is held or was never given back.
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<Timestamp>,
}

/// How many jobs in progress wait for a worker and how many a worker holds (all nodes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// No live lease: never claimed, released, backing off, or whose worker stopped heartbeating.
    pub waiting: u64,
    /// Held under a live lease.
    pub leased: u64,
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
    /// How far the current (or last) attempt got, as its worker last reported.
    pub progress: Option<Progress>,
    pub parts: Vec<Part>,
}

/// How far an export has got (SPEC §12): reported by the worker with each heartbeat and at the end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Groups whose files are all written.
    pub groups_done: u32,
    /// Records written (media files not counted).
    pub records: u64,
    /// Uncompressed bytes written.
    pub bytes: u64,
    /// Archive parts finished and uploaded.
    pub parts_written: u32,
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
