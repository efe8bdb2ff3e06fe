//! The embedded store: SQLite in WAL mode.
//!
//! Writes go through a pool of one connection, so that this process is a single writer and every
//! write transaction is serialised without SQLITE_BUSY upgrades; multi-statement transactions use
//! `BEGIN IMMEDIATE` so that other processes (an `admin` command next to a running server) wait
//! for the lock instead of failing. Reads use a separate pool and see committed data only.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use dataport_types::{AccessType, State, Timestamp};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};

use super::{
    Account, Audit, Auth, Clients, InitiateDecision, Jobs, Queue, Redemption, RefreshRules, Rotation, SignInDecision,
    Store, StoreError, Uploads, Users, progress_from_json, progress_json,
};
use crate::model::{
    AuditEntry, AuditFilter, AuditRecord, AuthCode, Client, ClientGrant, Credentials, Grant, GrantAccess, Job,
    JobFilter, JobRecord, Lease, NewJob, Part, PendingAuthorization, Progress, QueueDepth, RefreshRotation, Session,
    TokenKind, TokenRecord, User,
};

/// The SQLite implementation of [`Store`].
#[derive(Clone, Debug)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

/// SQLite's errors in the store's terms: a busy, locked, full or unreadable database is
/// unavailable (E17), a row that does not decode is corrupt. A function rather than a `From`
/// impl, so that each backend keeps its own mapping.
fn sqlite_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::Database(ref db) if matches!(db.code().as_deref(), Some("5" | "6" | "10" | "13" | "14")) => {
            // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN
            StoreError::Unavailable(e.to_string())
        }
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => StoreError::Corrupt(e.to_string()),
        other => StoreError::Database(other.to_string()),
    }
}

fn migrate_error(e: sqlx::migrate::MigrateError) -> StoreError {
    StoreError::Database(format!("migration: {e}"))
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

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(sqlite_error)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .map_err(sqlite_error)?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await.map_err(migrate_error)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await
            .map_err(sqlite_error)?;
        Ok(Self { writer, reader })
    }

    async fn jobs_of_pair(
        conn: &mut SqliteConnection,
        user_id: &str,
        client_id: &str,
        since: Timestamp,
    ) -> Result<Vec<Job>, StoreError> {
        let sql = concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE user_id = ? AND client_id = ? AND (state = 'IN_PROGRESS' OR created_at >= ?) \
             ORDER BY created_at, id"
        );
        let rows = sqlx::query(sql)
            .bind(user_id)
            .bind(client_id)
            .bind(since.micros())
            .fetch_all(&mut *conn)
            .await
            .map_err(sqlite_error)?;
        rows.iter().map(job_from_row).collect()
    }

    async fn grants_in(conn: &mut SqliteConnection, user_id: &str, client_id: &str) -> Result<Vec<Grant>, StoreError> {
        let rows = sqlx::query(
            "SELECT resource, access, granted_at, expires_at, exhausted_at, last_initiate_at \
             FROM grants WHERE user_id = ? AND client_id = ?",
        )
        .bind(user_id)
        .bind(client_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(sqlite_error)?;
        rows.iter().map(grant_from_row).collect()
    }

    async fn insert_job(
        conn: &mut SqliteConnection,
        job: &NewJob,
        access_type: AccessType,
        retry_of: Option<&str>,
        retry_index: u32,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO jobs (id, user_id, client_id, resources, access_type, start_time, end_time, export_time, \
             state, created_at, retry_of, retry_index) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'IN_PROGRESS', ?, ?, ?)",
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
        .map_err(sqlite_error)?;
        Ok(())
    }

    async fn insert_token_in(conn: &mut SqliteConnection, token: &TokenRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tokens (hash, kind, user_id, client_id, scopes, created_at, expires_at, revoked_at, family, \
             code_hash, access) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        .map_err(sqlite_error)?;
        Ok(())
    }

    /// Whether refresh token `hash` is stored, live at `now` and not rotated out.
    async fn unused_refresh_in(conn: &mut SqliteConnection, hash: &str, now: Timestamp) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM tokens WHERE hash = ? AND kind = 'refresh' AND revoked_at IS NULL AND rotated_at IS NULL \
             AND expires_at > ?",
        )
        .bind(hash)
        .bind(now.micros())
        .fetch_optional(&mut *conn)
        .await
        .map_err(sqlite_error)?;
        Ok(found.is_some())
    }

    async fn revoke_family_in(conn: &mut SqliteConnection, family: &str, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("UPDATE tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL")
            .bind(now.micros())
            .bind(family)
            .execute(&mut *conn)
            .await
            .map_err(sqlite_error)?;
        Ok(())
    }

    /// A job with its parts, in one statement (the state poll is the hottest read).
    async fn job_in(conn: &mut SqliteConnection, id: &str) -> Result<Option<Job>, StoreError> {
        let sql = concat!(
            "SELECT ",
            job_columns!(),
            ", idx, blob_key, size, sha256 FROM jobs LEFT JOIN parts ON parts.job_id = jobs.id \
             WHERE jobs.id = ? ORDER BY idx"
        );
        let rows = sqlx::query(sql).bind(id).fetch_all(&mut *conn).await.map_err(sqlite_error)?;
        let Some(first) = rows.first() else { return Ok(None) };
        let mut job = job_from_row(first)?;
        for row in &rows {
            if row.try_get::<Option<i64>, _>("idx").map_err(sqlite_error)?.is_some() {
                job.parts.push(part_from_row(row)?);
            }
        }
        Ok(Some(job))
    }
}

fn ts(row: &SqliteRow, column: &str) -> Result<Timestamp, StoreError> {
    Ok(Timestamp::from_micros(row.try_get::<i64, _>(column).map_err(sqlite_error)?))
}

fn opt_ts(row: &SqliteRow, column: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(row.try_get::<Option<i64>, _>(column).map_err(sqlite_error)?.map(Timestamp::from_micros))
}

fn count(row: &SqliteRow, column: &str) -> Result<u32, StoreError> {
    u32::try_from(row.try_get::<i64, _>(column).map_err(sqlite_error)?)
        .map_err(|_| StoreError::Corrupt(format!("{column} out of range")))
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn job_from_row(row: &SqliteRow) -> Result<Job, StoreError> {
    let state: String = row.try_get("state").map_err(sqlite_error)?;
    let access: String = row.try_get("access_type").map_err(sqlite_error)?;
    Ok(Job {
        id: row.try_get("id").map_err(sqlite_error)?,
        user_id: row.try_get("user_id").map_err(sqlite_error)?,
        client_id: row.try_get("client_id").map_err(sqlite_error)?,
        resources: words(&row.try_get::<String, _>("resources").map_err(sqlite_error)?),
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
        retry_of: row.try_get("retry_of").map_err(sqlite_error)?,
        retry_index: count(row, "retry_index")?,
        attempt: count(row, "attempt")?,
        failure_reason: row.try_get("failure_reason").map_err(sqlite_error)?,
        archive_revoked_at: opt_ts(row, "archive_revoked_at")?,
        progress: progress_from_json(row.try_get("progress").map_err(sqlite_error)?)?,
        parts: Vec::new(),
    })
}

/// A job row that also holds `lease_owner` and `lease_expires_at`, without its parts.
fn job_record_from_row(row: &SqliteRow) -> Result<JobRecord, StoreError> {
    Ok(JobRecord {
        job: job_from_row(row)?,
        lease_owner: row.try_get("lease_owner").map_err(sqlite_error)?,
        lease_expires_at: opt_ts(row, "lease_expires_at")?,
    })
}

fn part_from_row(row: &SqliteRow) -> Result<Part, StoreError> {
    Ok(Part {
        index: count(row, "idx")?,
        blob_key: row.try_get("blob_key").map_err(sqlite_error)?,
        size: u64::try_from(row.try_get::<i64, _>("size").map_err(sqlite_error)?)
            .map_err(|_| StoreError::Corrupt("part size".into()))?,
        sha256: row.try_get("sha256").map_err(sqlite_error)?,
    })
}

fn grant_from_row(row: &SqliteRow) -> Result<Grant, StoreError> {
    let access: String = row.try_get("access").map_err(sqlite_error)?;
    Ok(Grant {
        resource: row.try_get("resource").map_err(sqlite_error)?,
        access: GrantAccess::parse(&access).ok_or_else(|| StoreError::Corrupt(format!("grant access {access:?}")))?,
        granted_at: ts(row, "granted_at")?,
        expires_at: opt_ts(row, "expires_at")?,
        exhausted_at: opt_ts(row, "exhausted_at")?,
        last_initiate_at: opt_ts(row, "last_initiate_at")?,
    })
}

fn user_from_row(row: &SqliteRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id").map_err(sqlite_error)?,
        username: row.try_get("username").map_err(sqlite_error)?,
        subject: row.try_get("subject").map_err(sqlite_error)?,
        disabled: row.try_get::<i64, _>("disabled").map_err(sqlite_error)? != 0,
    })
}

fn client_from_row(row: &SqliteRow) -> Result<Client, StoreError> {
    let uris: String = row.try_get("redirect_uris").map_err(sqlite_error)?;
    Ok(Client {
        id: row.try_get("id").map_err(sqlite_error)?,
        name: row.try_get("name").map_err(sqlite_error)?,
        redirect_uris: serde_json::from_str(&uris).map_err(|e| StoreError::Corrupt(format!("redirect_uris: {e}")))?,
        public: row.try_get::<i64, _>("public").map_err(sqlite_error)? != 0,
        disabled: row.try_get::<i64, _>("disabled").map_err(sqlite_error)? != 0,
        secret_hash: row.try_get("secret_hash").map_err(sqlite_error)?,
        refresh_rotation: match row.try_get::<Option<String>, _>("refresh_rotation").map_err(sqlite_error)? {
            None => None,
            Some(text) => Some(
                RefreshRotation::parse(&text)
                    .ok_or_else(|| StoreError::Corrupt(format!("refresh_rotation {text:?}")))?,
            ),
        },
    })
}

fn token_from_row(row: &SqliteRow) -> Result<TokenRecord, StoreError> {
    token_from_prefixed(row, "")
}

/// Reads a token from columns named `<prefix><column>` (joins alias them to stay unambiguous).
fn token_from_prefixed(row: &SqliteRow, prefix: &str) -> Result<TokenRecord, StoreError> {
    let col = |name: &str| format!("{prefix}{name}");
    let kind: String = row.try_get(col("kind").as_str()).map_err(sqlite_error)?;
    Ok(TokenRecord {
        hash: row.try_get(col("hash").as_str()).map_err(sqlite_error)?,
        kind: match kind.as_str() {
            "access" => TokenKind::Access,
            "refresh" => TokenKind::Refresh,
            other => return Err(StoreError::Corrupt(format!("token kind {other:?}"))),
        },
        user_id: row.try_get(col("user_id").as_str()).map_err(sqlite_error)?,
        client_id: row.try_get(col("client_id").as_str()).map_err(sqlite_error)?,
        scopes: words(&row.try_get::<String, _>(col("scopes").as_str()).map_err(sqlite_error)?),
        created_at: ts(row, &col("created_at"))?,
        expires_at: ts(row, &col("expires_at"))?,
        revoked_at: opt_ts(row, &col("revoked_at"))?,
        family: row.try_get(col("family").as_str()).map_err(sqlite_error)?,
        code_hash: row.try_get(col("code_hash").as_str()).map_err(sqlite_error)?,
        access: row.try_get(col("access").as_str()).map_err(sqlite_error)?,
        rotated_at: opt_ts(row, &col("rotated_at"))?,
    })
}

const TOKEN_SELECT: &str = "SELECT hash, kind, user_id, client_id, scopes, created_at, expires_at, revoked_at, family, \
     code_hash, access, rotated_at FROM tokens WHERE hash = ?";

/// [`TOKEN_SELECT`] with `last_used`: when the token was last presented, or else issued.
const TOKEN_USE_SELECT: &str = "SELECT hash, kind, user_id, client_id, scopes, created_at, expires_at, revoked_at, \
     family, code_hash, access, rotated_at, COALESCE(last_used_at, created_at) AS last_used FROM tokens WHERE hash = ?";

#[async_trait]
impl Store for SqliteStore {
    async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}
