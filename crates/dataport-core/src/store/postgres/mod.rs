//! The scale-out store: PostgreSQL, shared by every node of a deployment (SPEC §15).
//!
//! Where SQLite serialises writes through one writer and `BEGIN IMMEDIATE`, this store locks
//! explicitly, so that the same guarantees hold across processes:
//! - the (user, client) pair is held by a transaction-scoped advisory lock
//!   ([`PgStore::lock_pair`]) while its grants and jobs are decided on and changed, and while its
//!   codes and tokens are spent or revoked;
//! - workers claim jobs with `FOR UPDATE SKIP LOCKED`, and every later write is fenced by
//!   (attempt, lease owner);
//! - codes and refresh tokens are locked with `SELECT … FOR UPDATE` while they are spent, and a
//!   rotation shares the user's and the client's rows, so that disabling either (which revokes
//!   their tokens) is ordered with it;
//! - statements that revoke many tokens lock them in hash order, so that two of them (a reset and
//!   a disable, say) cannot deadlock.
//!
//! Transactions run at READ COMMITTED: each statement after a lock sees what the lock's previous
//! holder committed.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dataport_types::{AccessType, State, Timestamp};
use sqlx::postgres::PgListener;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row};
use tokio::sync::Notify;

use super::{
    Account, Audit, Auth, Clients, InitiateDecision, Jobs, Queue, Redemption, RefreshRules, Rotation, SignInDecision,
    Store, StoreError, Uploads, Users, progress_from_json, progress_json,
};
use crate::model::{
    AuditEntry, AuditFilter, AuditRecord, AuthCode, Client, ClientGrant, Credentials, Grant, GrantAccess, Job,
    JobFilter, JobRecord, Lease, NewJob, Part, PendingAuthorization, Progress, QueueDepth, RefreshRotation, Session,
    TokenKind, TokenRecord, User,
};

/// The PostgreSQL implementation of [`Store`].
#[derive(Debug)]
pub struct PgStore {
    pool: PgPool,
    /// Woken by [`WORK_CHANNEL`] notifications: a job was created or released somewhere.
    work: Arc<Notify>,
    listener: tokio::task::JoinHandle<()>,
}

/// The channel on which a transaction that makes a job runnable notifies every node's workers
/// (delivered at commit, so a woken worker finds the job).
const WORK_CHANNEL: &str = "dataport_jobs";

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Listens on [`WORK_CHANNEL`] for as long as the store lives; sqlx's listener reconnects by
/// itself after a lost connection (notifications sent meanwhile are lost, which polling covers).
async fn listen(pool: PgPool, work: Arc<Notify>) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::debug!(error = %e, "work notifications: cannot connect; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(WORK_CHANNEL).await {
            tracing::debug!(error = %e, "work notifications: LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => work.notify_waiters(),
                // The connection was lost and is re-established: some notifications may be gone.
                Ok(None) => work.notify_waiters(),
                Err(e) => {
                    tracing::debug!(error = %e, "work notifications: receive failed; reconnecting");
                    break;
                }
            }
        }
    }
}

/// PostgreSQL's errors in the store's terms. Unavailable (E17, the caller may retry): a connection
/// that cannot be made or was lost, a pool timeout, a server shutting down or refusing connections
/// (`57P01`–`57P03`, class `08`, `53300` too many connections), a full disk (`53100`, as SQLite's
/// SQLITE_FULL), a lock not had within `lock_timeout` (`55P03`, as SQLite's SQLITE_BUSY), and a
/// serialization failure or deadlock (`40001`, `40P01`), after which the transaction is rolled
/// back and may simply be run again. A row that does not decode is corrupt; anything else is a
/// database error. A function rather than a `From` impl, so that each backend keeps its own mapping.
fn pg_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::BeginFailed => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(ref db)
            if db.code().is_some_and(|code| {
                code.starts_with("08")
                    || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300" | "53100" | "55P03" | "40001" | "40P01")
            }) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => StoreError::Corrupt(e.to_string()),
        other => StoreError::Database(other.to_string()),
    }
}

/// A migration that could not reach the database is unavailable like any other query; one that
/// does not apply is a database error.
fn migrate_error(e: sqlx::migrate::MigrateError) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::Execute(e) => match pg_error(e) {
            StoreError::Unavailable(msg) => StoreError::Unavailable(format!("migration: {msg}")),
            other => StoreError::Database(format!("migration: {other}")),
        },
        other => StoreError::Database(format!("migration: {other}")),
    }
}

/// The columns [`job_from_row`] reads, for `concat!` into static SQL.
macro_rules! job_columns {
    () => {
        "id, user_id, client_id, resources, access_type, start_time, end_time, export_time, state, created_at, \
         finished_at, retry_of, retry_index, attempt, failure_reason, archive_revoked_at, progress"
    };
}

/// [`job_columns`] of a join, where the jobs table is `j`.
macro_rules! j_job_columns {
    () => {
        "j.id AS id, j.user_id AS user_id, j.client_id AS client_id, j.resources AS resources, \
         j.access_type AS access_type, j.start_time AS start_time, j.end_time AS end_time, \
         j.export_time AS export_time, j.state AS state, j.created_at AS created_at, j.finished_at AS finished_at, \
         j.retry_of AS retry_of, j.retry_index AS retry_index, j.attempt AS attempt, \
         j.failure_reason AS failure_reason, j.archive_revoked_at AS archive_revoked_at, j.progress AS progress"
    };
}

mod account;
mod audit;
mod auth;
mod clients;
mod jobs;
mod queue;
mod uploads;
mod users;

#[cfg(test)]
mod tests;

/// The first key of the two-key advisory locks that hold a (user, client) pair. The two-key
/// form's key space is separate from the one-key form's, which sqlx's migrator uses.
const PAIR_LOCK_CLASS: i32 = 0x6470_6169; // "dpai"
/// The advisory-lock class of sign-in keys ([`Auth::begin_sign_in`]).
const SIGN_IN_LOCK_CLASS: i32 = 0x6470_7369; // "dpsi"

/// How long a statement waits for a row or advisory lock before it fails as unavailable, like
/// SQLite's busy timeout.
/// How long a call waits for a connection before the database counts as unavailable.
const ACQUIRE: Duration = Duration::from_secs(3);
const LOCK_TIMEOUT: &str = "10s";

impl PgStore {
    /// Connects to the database `url` names (`postgres://…` or `postgresql://…`) and applies
    /// pending migrations.
    ///
    /// Several replicas may start together: sqlx's PostgreSQL migrator takes a PostgreSQL advisory
    /// lock around the whole run (checked in sqlx-postgres 0.9.0, `src/migrate.rs`: `Migrator::run`
    /// calls `Migrate::lock` first, as `locking` is on by default, which runs `SELECT
    /// pg_advisory_lock($1)` on 0x3d32ad9e × the CRC-32 of the database's name, and
    /// `pg_advisory_unlock` at the end). So one replica migrates while the others wait, then find
    /// nothing left to do. The migrator runs on a connection of its own, without the pool's
    /// `lock_timeout` (so a long migration is waited for), which is closed afterwards, so the
    /// session lock goes with it even when a migration fails.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let mut options = PgConnectOptions::from_str(url).map_err(pg_error)?;
        if options.get_application_name().is_none() {
            options = options.application_name("dataport");
        }
        let mut migrating = PgConnection::connect_with(&options).await.map_err(pg_error)?;
        let migrated = sqlx::migrate!("./migrations/postgres").run(&mut migrating).await.map_err(migrate_error);
        let closed = migrating.close().await.map_err(pg_error);
        migrated?;
        closed?;
        // Per node: N nodes take up to 16 × N of the server's `max_connections`. While the
        // server is down, a request waits at most ACQUIRE for a connection, then is answered 503.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ACQUIRE)
            .connect_with(options.options([("lock_timeout", LOCK_TIMEOUT)]))
            .await
            .map_err(pg_error)?;
        let work = Arc::new(Notify::new());
        let listener = tokio::spawn(listen(pool.clone(), work.clone()));
        Ok(Self { pool, work, listener })
    }

    /// Tells every node's workers, at commit, that a job may be runnable.
    async fn notify_work(conn: &mut PgConnection) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_notify($1, '')").bind(WORK_CHANNEL).execute(&mut *conn).await.map_err(pg_error)?;
        Ok(())
    }

    /// Holds the (user, client) pair until the transaction ends: every transaction that decides on
    /// or changes a pair's grants or jobs as a whole (initiate, retry, grant upserts, reset), or
    /// spends or revokes its codes and tokens (redemption, rotation, revocation), takes this
    /// first, so they run one after another, as SQLite's single writer runs them. An advisory
    /// lock rather than row locks, because a pair with no grant or job rows must serialise too.
    async fn lock_pair(conn: &mut PgConnection, user_id: &str, client_id: &str) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2::text || '/' || $3::text))")
            .bind(PAIR_LOCK_CLASS)
            .bind(user_id)
            .bind(client_id)
            .execute(&mut *conn)
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    async fn jobs_of_pair(
        conn: &mut PgConnection,
        user_id: &str,
        client_id: &str,
        since: Timestamp,
    ) -> Result<Vec<Job>, StoreError> {
        let sql = concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE user_id = $1 AND client_id = $2 AND (state = 'IN_PROGRESS' OR created_at >= $3) \
             ORDER BY created_at, id"
        );
        let rows = sqlx::query(sql)
            .bind(user_id)
            .bind(client_id)
            .bind(since.micros())
            .fetch_all(&mut *conn)
            .await
            .map_err(pg_error)?;
        rows.iter().map(job_from_row).collect()
    }

    async fn grants_in(conn: &mut PgConnection, user_id: &str, client_id: &str) -> Result<Vec<Grant>, StoreError> {
        let rows = sqlx::query(
            "SELECT resource, access, granted_at, expires_at, exhausted_at, last_initiate_at \
             FROM grants WHERE user_id = $1 AND client_id = $2",
        )
        .bind(user_id)
        .bind(client_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(pg_error)?;
        rows.iter().map(grant_from_row).collect()
    }

    /// Inserts a job; false (and nothing inserted) when `retry_of` already has its retry.
    async fn insert_job(
        conn: &mut PgConnection,
        job: &NewJob,
        access_type: AccessType,
        retry_of: Option<&str>,
        retry_index: u32,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO jobs (id, user_id, client_id, resources, access_type, start_time, end_time, export_time, \
             state, created_at, retry_of, retry_index) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'IN_PROGRESS', $9, $10, $11) \
             ON CONFLICT (retry_of) DO NOTHING",
        )
        .bind(&job.id)
        .bind(&job.user_id)
        .bind(&job.client_id)
        .bind(job.resources.join(" "))
        .bind(access_type.as_str())
        .bind(job.start_time.map(Timestamp::micros))
        .bind(job.end_time.map(Timestamp::micros))
        .bind(job.export_time.micros())
        .bind(job.created_at.micros())
        .bind(retry_of)
        .bind(i64::from(retry_index))
        .execute(&mut *conn)
        .await
        .map_err(pg_error)?;
        if done.rows_affected() == 1 {
            Self::notify_work(conn).await?;
        }
        Ok(done.rows_affected() == 1)
    }

    async fn insert_token_in(conn: &mut PgConnection, token: &TokenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tokens (hash, kind, user_id, client_id, scopes, created_at, expires_at, revoked_at, family, \
             code_hash, access) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&token.hash)
        .bind(match token.kind {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        })
        .bind(&token.user_id)
        .bind(&token.client_id)
        .bind(token.scopes.join(" "))
        .bind(token.created_at.micros())
        .bind(token.expires_at.micros())
        .bind(token.revoked_at.map(Timestamp::micros))
        .bind(&token.family)
        .bind(&token.code_hash)
        .bind(&token.access)
        .execute(&mut *conn)
        .await
        .map_err(pg_error)?;
        Ok(())
    }

    /// Holds the pair of the token `hash`, as [`Self::lock_pair`]; false when there is no such token.
    /// A token's pair never changes, so reading it before the lock is safe.
    async fn lock_token_pair(conn: &mut PgConnection, hash: &str) -> Result<bool, StoreError> {
        let pair: Option<(String, String)> = sqlx::query_as("SELECT user_id, client_id FROM tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&mut *conn)
            .await
            .map_err(pg_error)?;
        let Some((user_id, client_id)) = pair else { return Ok(false) };
        Self::lock_pair(conn, &user_id, &client_id).await?;
        Ok(true)
    }

    /// Whether refresh token `hash` is stored, live at `now` and not rotated out.
    async fn unused_refresh_in(conn: &mut PgConnection, hash: &str, now: Timestamp) -> Result<bool, StoreError> {
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM tokens WHERE hash = $1 AND kind = 'refresh' AND revoked_at IS NULL AND rotated_at IS NULL \
             AND expires_at > $2",
        )
        .bind(hash)
        .bind(now.micros())
        .fetch_optional(&mut *conn)
        .await
        .map_err(pg_error)?;
        Ok(found.is_some())
    }

    /// Revokes the live tokens of a family. The caller holds the family's pair, so no rotation in
    /// the family is under way.
    async fn revoke_family_in(conn: &mut PgConnection, family: &str, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "UPDATE tokens SET revoked_at = $1 WHERE hash IN ",
            "(SELECT hash FROM tokens WHERE family = $2 AND revoked_at IS NULL ORDER BY hash FOR UPDATE)"
        ))
        .bind(now.micros())
        .bind(family)
        .execute(&mut *conn)
        .await
        .map_err(pg_error)?;
        Ok(())
    }

    /// A job with its parts, in one statement (the state poll is the hottest read).
    async fn job_in(conn: &mut PgConnection, id: &str) -> Result<Option<Job>, StoreError> {
        let sql = concat!(
            "SELECT ",
            job_columns!(),
            ", idx, blob_key, size, sha256 FROM jobs LEFT JOIN parts ON parts.job_id = jobs.id \
             WHERE jobs.id = $1 ORDER BY idx"
        );
        let rows = sqlx::query(sql).bind(id).fetch_all(&mut *conn).await.map_err(pg_error)?;
        let Some(first) = rows.first() else { return Ok(None) };
        let mut job = job_from_row(first)?;
        for row in &rows {
            if get::<Option<i64>>(row, "idx")?.is_some() {
                job.parts.push(part_from_row(row)?);
            }
        }
        Ok(Some(job))
    }
}

/// One column of a row.
fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(column).map_err(pg_error)
}

fn ts(row: &PgRow, column: &str) -> Result<Timestamp, StoreError> {
    Ok(Timestamp::from_micros(get::<i64>(row, column)?))
}

fn opt_ts(row: &PgRow, column: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(get::<Option<i64>>(row, column)?.map(Timestamp::from_micros))
}

fn count(row: &PgRow, column: &str) -> Result<u32, StoreError> {
    u32::try_from(get::<i64>(row, column)?).map_err(|_| StoreError::Corrupt(format!("{column} out of range")))
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn job_from_row(row: &PgRow) -> Result<Job, StoreError> {
    let state: String = get(row, "state")?;
    let access: String = get(row, "access_type")?;
    Ok(Job {
        id: get(row, "id")?,
        user_id: get(row, "user_id")?,
        client_id: get(row, "client_id")?,
        resources: words(&get::<String>(row, "resources")?),
        access_type: match access.as_str() {
            "ACCESS_TYPE_ONE_TIME" => AccessType::OneTime,
            "ACCESS_TYPE_TIME_BASED" => AccessType::TimeBased,
            other => return Err(StoreError::Corrupt(format!("access_type {other:?}"))),
        },
        start_time: opt_ts(row, "start_time")?,
        end_time: opt_ts(row, "end_time")?,
        export_time: ts(row, "export_time")?,
        state: State::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("state {state:?}")))?,
        created_at: ts(row, "created_at")?,
        finished_at: opt_ts(row, "finished_at")?,
        retry_of: get(row, "retry_of")?,
        retry_index: count(row, "retry_index")?,
        attempt: count(row, "attempt")?,
        failure_reason: get(row, "failure_reason")?,
        archive_revoked_at: opt_ts(row, "archive_revoked_at")?,
        progress: progress_from_json(row.try_get("progress").map_err(pg_error)?)?,
        parts: Vec::new(),
    })
}

/// A job row that also holds `lease_owner` and `lease_expires_at`, without its parts.
fn job_record_from_row(row: &PgRow) -> Result<JobRecord, StoreError> {
    Ok(JobRecord {
        job: job_from_row(row)?,
        lease_owner: get(row, "lease_owner")?,
        lease_expires_at: opt_ts(row, "lease_expires_at")?,
    })
}

fn part_from_row(row: &PgRow) -> Result<Part, StoreError> {
    Ok(Part {
        index: count(row, "idx")?,
        blob_key: get(row, "blob_key")?,
        size: u64::try_from(get::<i64>(row, "size")?).map_err(|_| StoreError::Corrupt("part size".into()))?,
        sha256: get(row, "sha256")?,
    })
}

fn grant_from_row(row: &PgRow) -> Result<Grant, StoreError> {
    let access: String = get(row, "access")?;
    Ok(Grant {
        resource: get(row, "resource")?,
        access: GrantAccess::parse(&access).ok_or_else(|| StoreError::Corrupt(format!("grant access {access:?}")))?,
        granted_at: ts(row, "granted_at")?,
        expires_at: opt_ts(row, "expires_at")?,
        exhausted_at: opt_ts(row, "exhausted_at")?,
        last_initiate_at: opt_ts(row, "last_initiate_at")?,
    })
}

fn user_from_row(row: &PgRow) -> Result<User, StoreError> {
    Ok(User {
        id: get(row, "id")?,
        username: get(row, "username")?,
        subject: get(row, "subject")?,
        disabled: get(row, "disabled")?,
    })
}

fn client_from_row(row: &PgRow) -> Result<Client, StoreError> {
    let uris: String = get(row, "redirect_uris")?;
    Ok(Client {
        id: get(row, "id")?,
        name: get(row, "name")?,
        redirect_uris: serde_json::from_str(&uris).map_err(|e| StoreError::Corrupt(format!("redirect_uris: {e}")))?,
        public: get(row, "public")?,
        disabled: get(row, "disabled")?,
        secret_hash: get(row, "secret_hash")?,
        refresh_rotation: match get::<Option<String>>(row, "refresh_rotation")? {
            None => None,
            Some(text) => Some(
                RefreshRotation::parse(&text)
                    .ok_or_else(|| StoreError::Corrupt(format!("refresh_rotation {text:?}")))?,
            ),
        },
    })
}

fn token_from_row(row: &PgRow) -> Result<TokenRecord, StoreError> {
    token_from_prefixed(row, "")
}

/// Reads a token from columns named `<prefix><column>` (joins alias them to stay unambiguous).
fn token_from_prefixed(row: &PgRow, prefix: &str) -> Result<TokenRecord, StoreError> {
    let col = |name: &str| format!("{prefix}{name}");
    let kind: String = get(row, &col("kind"))?;
    Ok(TokenRecord {
        hash: get(row, &col("hash"))?,
        kind: match kind.as_str() {
            "access" => TokenKind::Access,
            "refresh" => TokenKind::Refresh,
            other => return Err(StoreError::Corrupt(format!("token kind {other:?}"))),
        },
        user_id: get(row, &col("user_id"))?,
        client_id: get(row, &col("client_id"))?,
        scopes: words(&get::<String>(row, &col("scopes"))?),
        created_at: ts(row, &col("created_at"))?,
        expires_at: ts(row, &col("expires_at"))?,
        revoked_at: opt_ts(row, &col("revoked_at"))?,
        family: get(row, &col("family"))?,
        code_hash: get(row, &col("code_hash"))?,
        access: get(row, &col("access"))?,
        rotated_at: opt_ts(row, &col("rotated_at"))?,
    })
}

const TOKEN_SELECT: &str = "SELECT hash, kind, user_id, client_id, scopes, created_at, expires_at, revoked_at, family, \
     code_hash, access, rotated_at FROM tokens WHERE hash = $1";

/// [`TOKEN_SELECT`] with `last_used` (when the token was last presented, or else issued),
/// holding the row until the transaction ends, so that spending it serialises.
const TOKEN_USE_SELECT_FOR_UPDATE: &str = "SELECT hash, kind, user_id, client_id, scopes, created_at, expires_at, \
     revoked_at, family, code_hash, access, rotated_at, COALESCE(last_used_at, created_at) AS last_used FROM tokens \
     WHERE hash = $1 FOR UPDATE";

#[async_trait]
impl Store for PgStore {
    async fn close(&self) {
        self.pool.close().await;
    }
}
