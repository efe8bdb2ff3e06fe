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
    AuditEntry, AuthCode, Client, Credentials, Grant, Job, Lease, NewJob, Part, PendingAuthorization, Redemption,
    Rotation, Session, Store, StoreError, TokenKind, TokenRecord, User,
};
use crate::error::ApiError;
use crate::grants::{GrantAccess, InitiateRules, check_initiate};

/// The SQLite implementation of [`Store`].
#[derive(Clone, Debug)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
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
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Database(format!("migration: {e}"))
    }
}

/// The columns [`job_from_row`] reads, for `concat!` into static SQL.
macro_rules! job_columns {
    () => {
        "id, user_id, client_id, resources, access_type, start_time, end_time, export_time, state, created_at, \
         finished_at, retry_of, retry_index, attempt, failure_reason, archive_revoked_at"
    };
}

/// [`job_columns`] of a join, where the jobs table is `j`.
macro_rules! j_job_columns {
    () => {
        "j.id AS id, j.user_id AS user_id, j.client_id AS client_id, j.resources AS resources, \
         j.access_type AS access_type, j.start_time AS start_time, j.end_time AS end_time, \
         j.export_time AS export_time, j.state AS state, j.created_at AS created_at, j.finished_at AS finished_at, \
         j.retry_of AS retry_of, j.retry_index AS retry_index, j.attempt AS attempt, \
         j.failure_reason AS failure_reason, j.archive_revoked_at AS archive_revoked_at"
    };
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
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
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await?;
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
        let rows = sqlx::query(sql).bind(user_id).bind(client_id).bind(since.micros()).fetch_all(&mut *conn).await?;
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
        .await?;
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
        .await?;
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
        .await?;
        Ok(())
    }

    async fn revoke_family_in(conn: &mut SqliteConnection, family: &str, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("UPDATE tokens SET revoked_at = ? WHERE family = ? AND revoked_at IS NULL")
            .bind(now.micros())
            .bind(family)
            .execute(&mut *conn)
            .await?;
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
        let rows = sqlx::query(sql).bind(id).fetch_all(&mut *conn).await?;
        let Some(first) = rows.first() else { return Ok(None) };
        let mut job = job_from_row(first)?;
        for row in &rows {
            if row.try_get::<Option<i64>, _>("idx")?.is_some() {
                job.parts.push(part_from_row(row)?);
            }
        }
        Ok(Some(job))
    }
}

fn ts(row: &SqliteRow, column: &str) -> Result<Timestamp, StoreError> {
    Ok(Timestamp::from_micros(row.try_get::<i64, _>(column)?))
}

fn opt_ts(row: &SqliteRow, column: &str) -> Result<Option<Timestamp>, StoreError> {
    Ok(row.try_get::<Option<i64>, _>(column)?.map(Timestamp::from_micros))
}

fn count(row: &SqliteRow, column: &str) -> Result<u32, StoreError> {
    u32::try_from(row.try_get::<i64, _>(column)?).map_err(|_| StoreError::Corrupt(format!("{column} out of range")))
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn job_from_row(row: &SqliteRow) -> Result<Job, StoreError> {
    let state: String = row.try_get("state")?;
    let access: String = row.try_get("access_type")?;
    Ok(Job {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        client_id: row.try_get("client_id")?,
        resources: words(&row.try_get::<String, _>("resources")?),
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
        retry_of: row.try_get("retry_of")?,
        retry_index: count(row, "retry_index")?,
        attempt: count(row, "attempt")?,
        failure_reason: row.try_get("failure_reason")?,
        archive_revoked_at: opt_ts(row, "archive_revoked_at")?,
        parts: Vec::new(),
    })
}

fn part_from_row(row: &SqliteRow) -> Result<Part, StoreError> {
    Ok(Part {
        index: count(row, "idx")?,
        blob_key: row.try_get("blob_key")?,
        size: u64::try_from(row.try_get::<i64, _>("size")?).map_err(|_| StoreError::Corrupt("part size".into()))?,
        sha256: row.try_get("sha256")?,
    })
}

fn grant_from_row(row: &SqliteRow) -> Result<Grant, StoreError> {
    let access: String = row.try_get("access")?;
    Ok(Grant {
        resource: row.try_get("resource")?,
        access: GrantAccess::parse(&access).ok_or_else(|| StoreError::Corrupt(format!("grant access {access:?}")))?,
        granted_at: ts(row, "granted_at")?,
        expires_at: opt_ts(row, "expires_at")?,
        exhausted_at: opt_ts(row, "exhausted_at")?,
        last_initiate_at: opt_ts(row, "last_initiate_at")?,
    })
}

fn user_from_row(row: &SqliteRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        subject: row.try_get("subject")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
    })
}

fn client_from_row(row: &SqliteRow) -> Result<Client, StoreError> {
    let uris: String = row.try_get("redirect_uris")?;
    Ok(Client {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        redirect_uris: serde_json::from_str(&uris).map_err(|e| StoreError::Corrupt(format!("redirect_uris: {e}")))?,
        public: row.try_get::<i64, _>("public")? != 0,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        secret_hash: row.try_get("secret_hash")?,
    })
}

fn token_from_row(row: &SqliteRow) -> Result<TokenRecord, StoreError> {
    token_from_prefixed(row, "")
}

/// Reads a token from columns named `<prefix><column>` (joins alias them to stay unambiguous).
fn token_from_prefixed(row: &SqliteRow, prefix: &str) -> Result<TokenRecord, StoreError> {
    let col = |name: &str| format!("{prefix}{name}");
    let kind: String = row.try_get(col("kind").as_str())?;
    Ok(TokenRecord {
        hash: row.try_get(col("hash").as_str())?,
        kind: match kind.as_str() {
            "access" => TokenKind::Access,
            "refresh" => TokenKind::Refresh,
            other => return Err(StoreError::Corrupt(format!("token kind {other:?}"))),
        },
        user_id: row.try_get(col("user_id").as_str())?,
        client_id: row.try_get(col("client_id").as_str())?,
        scopes: words(&row.try_get::<String, _>(col("scopes").as_str())?),
        created_at: ts(row, &col("created_at"))?,
        expires_at: ts(row, &col("expires_at"))?,
        revoked_at: opt_ts(row, &col("revoked_at"))?,
        family: row.try_get(col("family").as_str())?,
        code_hash: row.try_get(col("code_hash").as_str())?,
        access: row.try_get(col("access").as_str())?,
        rotated_at: opt_ts(row, &col("rotated_at"))?,
    })
}

const TOKEN_SELECT: &str = "SELECT hash, kind, user_id, client_id, scopes, created_at, expires_at, revoked_at, family, \
     code_hash, access, rotated_at FROM tokens WHERE hash = ?";

#[async_trait]
impl Store for SqliteStore {
    async fn ensure_user(&self, username: &str, now: Timestamp) -> Result<User, StoreError> {
        self.create_user(username, username, None, now).await?;
        let row = sqlx::query("SELECT id, username, subject, disabled FROM users WHERE username = ?")
            .bind(username)
            .fetch_one(&self.writer)
            .await?;
        user_from_row(&row)
    }

    async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT id, username, subject, disabled FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn ensure_client(&self, client: &Client, now: Timestamp) -> Result<Client, StoreError> {
        self.create_client(client, now).await?;
        let row =
            sqlx::query("SELECT id, name, redirect_uris, public, disabled, secret_hash FROM clients WHERE id = ?")
                .bind(&client.id)
                .fetch_one(&self.writer)
                .await?;
        client_from_row(&row)
    }

    async fn client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        let row =
            sqlx::query("SELECT id, name, redirect_uris, public, disabled, secret_hash FROM clients WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.reader)
                .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    async fn upsert_grants(
        &self,
        user_id: &str,
        client_id: &str,
        resources: &[String],
        access: GrantAccess,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        for resource in resources {
            sqlx::query(
                "INSERT INTO grants (user_id, client_id, resource, access, granted_at, expires_at) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, client_id, resource) \
                 DO UPDATE SET access = excluded.access, expires_at = excluded.expires_at",
            )
            .bind(user_id)
            .bind(client_id)
            .bind(resource)
            .bind(access.as_str())
            .bind(now.micros())
            .bind(expires_at.map(Timestamp::micros))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn grants(&self, user_id: &str, client_id: &str) -> Result<Vec<Grant>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        Self::grants_in(&mut conn, user_id, client_id).await
    }

    async fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        Self::insert_token_in(&mut conn, token).await
    }

    async fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(TOKEN_SELECT).bind(hash).fetch_optional(&self.reader).await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn initiate(&self, job: &NewJob, rules: &InitiateRules) -> Result<Result<Job, ApiError>, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let grants = Self::grants_in(&mut tx, &job.user_id, &job.client_id).await?;
        let since = grants
            .iter()
            .map(|g| g.granted_at)
            .min()
            .unwrap_or(job.created_at)
            .min(job.created_at.plus_seconds(-rules.quota.cooldown_seconds));
        let jobs = Self::jobs_of_pair(&mut tx, &job.user_id, &job.client_id, since).await?;
        let access_type =
            match check_initiate(&job.resources, job.start_time, job.end_time, &grants, &jobs, rules, job.created_at) {
                Ok(access_type) => access_type,
                Err(refusal) => return Ok(Err(refusal)),
            };
        Self::insert_job(&mut tx, job, access_type, None, 0).await?;
        for resource in &job.resources {
            sqlx::query(
                "UPDATE grants SET last_initiate_at = ?1, \
                 exhausted_at = CASE WHEN access = 'one-time' THEN COALESCE(exhausted_at, ?1) END \
                 WHERE user_id = ?2 AND client_id = ?3 AND resource = ?4",
            )
            .bind(job.created_at.micros())
            .bind(&job.user_id)
            .bind(&job.client_id)
            .bind(resource)
            .execute(&mut *tx)
            .await?;
        }
        let created =
            Self::job_in(&mut tx, &job.id).await?.ok_or_else(|| StoreError::Database("job vanished".into()))?;
        tx.commit().await?;
        Ok(Ok(created))
    }

    async fn token_with_job(
        &self,
        token_hash: &str,
        job_id: &str,
    ) -> Result<(Option<TokenRecord>, Option<Job>), StoreError> {
        // One statement, one trip to the database thread: the state poll is the hottest request.
        let sql = concat!(
            "SELECT t.hash AS t_hash, t.kind AS t_kind, t.user_id AS t_user_id, t.client_id AS t_client_id, \
             t.scopes AS t_scopes, t.created_at AS t_created_at, t.expires_at AS t_expires_at, \
             t.revoked_at AS t_revoked_at, t.family AS t_family, t.code_hash AS t_code_hash, t.access AS t_access, \
             t.rotated_at AS t_rotated_at, ",
            j_job_columns!(),
            ", p.idx AS idx, p.blob_key AS blob_key, p.size AS size, p.sha256 AS sha256 \
             FROM tokens t LEFT JOIN jobs j ON j.id = ?2 LEFT JOIN parts p ON p.job_id = j.id \
             WHERE t.hash = ?1 ORDER BY p.idx"
        );
        let rows = sqlx::query(sql).bind(token_hash).bind(job_id).fetch_all(&self.reader).await?;
        let Some(first) = rows.first() else { return Ok((None, None)) };
        let token = token_from_prefixed(first, "t_")?;
        if first.try_get::<Option<String>, _>("id")?.is_none() {
            return Ok((Some(token), None));
        }
        let mut job = job_from_row(first)?;
        for row in &rows {
            if row.try_get::<Option<i64>, _>("idx")?.is_some() {
                job.parts.push(part_from_row(row)?);
            }
        }
        Ok((Some(token), Some(job)))
    }

    async fn job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        Self::job_in(&mut conn, id).await
    }

    async fn cancel(&self, id: &str, now: Timestamp) -> Result<Option<Job>, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE jobs SET state = 'CANCELLED', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = ? AND state = 'IN_PROGRESS'",
        )
        .bind(now.micros())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let job = Self::job_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(job)
    }

    async fn retry(
        &self,
        id: &str,
        new_id: &str,
        max_retries: u32,
        now: Timestamp,
    ) -> Result<Result<Job, ApiError>, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let Some(failed) = Self::job_in(&mut tx, id).await? else {
            return Ok(Err(ApiError::NotFound));
        };
        if failed.state != State::Failed {
            return Ok(Err(ApiError::JobNotFailed { state: failed.state }));
        }
        let existing: Option<String> =
            sqlx::query_scalar("SELECT id FROM jobs WHERE retry_of = ?").bind(id).fetch_optional(&mut *tx).await?;
        if let Some(existing) = existing {
            // A replayed retry returns the job the first one created.
            let job = Self::job_in(&mut tx, &existing).await?;
            tx.commit().await?;
            return Ok(job.ok_or(ApiError::Internal));
        }
        if failed.retry_index >= max_retries {
            return Ok(Err(ApiError::RetryLimitExceeded { limit: max_retries }));
        }
        let new_job = NewJob {
            id: new_id.to_owned(),
            user_id: failed.user_id.clone(),
            client_id: failed.client_id.clone(),
            resources: failed.resources.clone(),
            start_time: failed.start_time,
            end_time: failed.end_time,
            export_time: failed.export_time,
            created_at: now,
        };
        Self::insert_job(&mut tx, &new_job, failed.access_type, Some(id), failed.retry_index + 1).await?;
        let created = Self::job_in(&mut tx, new_id).await?.ok_or(StoreError::Database("job vanished".into()))?;
        tx.commit().await?;
        Ok(Ok(created))
    }

    async fn reset(&self, user_id: &str, client_id: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL")
            .bind(now.micros())
            .bind(user_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM grants WHERE user_id = ? AND client_id = ?")
            .bind(user_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE jobs SET state = 'CANCELLED', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL \
             WHERE user_id = ? AND client_id = ? AND state = 'IN_PROGRESS'",
        )
        .bind(now.micros())
        .bind(user_id)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE jobs SET archive_revoked_at = ? WHERE user_id = ? AND client_id = ? AND archive_revoked_at IS NULL",
        )
        .bind(now.micros())
        .bind(user_id)
        .bind(client_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn claim(&self, owner: &str, lease_until: Timestamp, now: Timestamp) -> Result<Option<Lease>, StoreError> {
        let sql = concat!(
            "UPDATE jobs SET lease_owner = ?1, lease_expires_at = ?2, attempt = attempt + 1 \
             WHERE id = (SELECT id FROM jobs WHERE state = 'IN_PROGRESS' AND not_before <= ?3 \
                         AND (lease_expires_at IS NULL OR lease_expires_at < ?3) ORDER BY created_at, id LIMIT 1) \
             RETURNING ",
            job_columns!()
        );
        let row = sqlx::query(sql)
            .bind(owner)
            .bind(lease_until.micros())
            .bind(now.micros())
            .fetch_optional(&self.writer)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let job = job_from_row(&row)?;
        Ok(Some(Lease { owner: owner.to_owned(), attempt: job.attempt, job }))
    }

    async fn heartbeat(&self, lease: &Lease, lease_until: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND attempt = ? AND lease_owner = ? AND state = 'IN_PROGRESS'",
        )
        .bind(lease_until.micros())
        .bind(&lease.job.id)
        .bind(i64::from(lease.attempt))
        .bind(&lease.owner)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete(&self, lease: &Lease, parts: &[Part], now: Timestamp) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query(
            "UPDATE jobs SET state = 'COMPLETE', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = ? AND attempt = ? AND lease_owner = ? AND state = 'IN_PROGRESS'",
        )
        .bind(now.micros())
        .bind(&lease.job.id)
        .bind(i64::from(lease.attempt))
        .bind(&lease.owner)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        for part in parts {
            sqlx::query("INSERT INTO parts (job_id, idx, blob_key, size, sha256) VALUES (?, ?, ?, ?, ?)")
                .bind(&lease.job.id)
                .bind(i64::from(part.index))
                .bind(&part.blob_key)
                .bind(i64::try_from(part.size).map_err(|_| StoreError::Database("part too large".into()))?)
                .bind(&part.sha256)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn fail(&self, lease: &Lease, reason: &str, now: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'FAILED', finished_at = ?, failure_reason = ?, lease_owner = NULL, \
             lease_expires_at = NULL WHERE id = ? AND attempt = ? AND lease_owner = ? AND state = 'IN_PROGRESS'",
        )
        .bind(now.micros())
        .bind(reason)
        .bind(&lease.job.id)
        .bind(i64::from(lease.attempt))
        .bind(&lease.owner)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release(&self, lease: &Lease, reason: &str, not_before: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET failure_reason = ?, not_before = ?, lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = ? AND attempt = ? AND lease_owner = ? AND state = 'IN_PROGRESS'",
        )
        .bind(reason)
        .bind(not_before.micros())
        .bind(&lease.job.id)
        .bind(i64::from(lease.attempt))
        .bind(&lease.owner)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn jobs_to_sweep(
        &self,
        complete_before: Timestamp,
        ended_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let ids = sqlx::query_scalar(
            "SELECT id FROM jobs WHERE blobs_deleted_at IS NULL AND ( \
               (state = 'COMPLETE' AND (archive_revoked_at IS NOT NULL OR finished_at < ?)) \
               OR (state IN ('CANCELLED', 'FAILED') AND finished_at < ?)) \
             ORDER BY finished_at LIMIT ?",
        )
        .bind(complete_before.micros())
        .bind(ended_before.micros())
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        Ok(ids)
    }

    async fn blobs_deleted(&self, job_id: &str, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET blobs_deleted_at = ?1, archive_revoked_at = COALESCE(archive_revoked_at, ?1) WHERE id = ?2",
        )
        .bind(now.micros())
        .bind(job_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    async fn create_user(
        &self,
        username: &str,
        subject: &str,
        password_hash: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        let done = sqlx::query(
            "INSERT INTO users (id, username, subject, password_hash, created_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(username)
        .bind(subject)
        .bind(password_hash)
        .bind(now.micros())
        .execute(&self.writer)
        .await?;
        Ok((done.rows_affected() == 1).then(|| User {
            id,
            username: username.to_owned(),
            subject: subject.to_owned(),
            disabled: false,
        }))
    }

    async fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError> {
        let row = sqlx::query("SELECT id, username, subject, disabled, password_hash FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.reader)
            .await?;
        row.map(|row| Ok(Credentials { user: user_from_row(&row)?, password_hash: row.try_get("password_hash")? }))
            .transpose()
    }

    async fn user_by_subject(&self, subject: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT id, username, subject, disabled FROM users WHERE subject = ?")
            .bind(subject)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn set_password(&self, username: &str, password_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET password_hash = ? WHERE username = ?")
            .bind(password_hash)
            .bind(username)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_user_disabled(&self, username: &str, disabled: bool, now: Timestamp) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query("UPDATE users SET disabled = ? WHERE username = ?")
            .bind(i64::from(disabled))
            .bind(username)
            .execute(&mut *tx)
            .await?;
        if disabled {
            sqlx::query(
                "UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL \
                 AND user_id = (SELECT id FROM users WHERE username = ?)",
            )
            .bind(now.micros())
            .bind(username)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_client(&self, client: &Client, now: Timestamp) -> Result<bool, StoreError> {
        let uris = serde_json::to_string(&client.redirect_uris).map_err(|e| StoreError::Database(e.to_string()))?;
        let done = sqlx::query(
            "INSERT INTO clients (id, name, redirect_uris, public, secret_hash, created_at) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&client.id)
        .bind(&client.name)
        .bind(uris)
        .bind(i64::from(client.public))
        .bind(&client.secret_hash)
        .bind(now.micros())
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, redirect_uris, public, disabled, secret_hash FROM clients ORDER BY created_at, id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(client_from_row).collect()
    }

    async fn set_client_disabled(&self, id: &str, disabled: bool, now: Timestamp) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let done = sqlx::query("UPDATE clients SET disabled = ? WHERE id = ?")
            .bind(i64::from(disabled))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if disabled {
            sqlx::query("UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND client_id = ?")
                .bind(now.micros())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_session(&self, session: &Session, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
            .bind(&session.hash)
            .bind(&session.user_id)
            .bind(now.micros())
            .bind(session.expires_at.micros())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn prune_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut pruned = 0;
        for (sql, before) in [
            ("DELETE FROM sessions WHERE expires_at < ?", now),
            ("DELETE FROM pending_authorizations WHERE expires_at < ?", now),
            ("DELETE FROM auth_codes WHERE expires_at < ?", now.plus_seconds(-86_400)),
        ] {
            pruned += sqlx::query(sql).bind(before.micros()).execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(pruned)
    }

    async fn session(&self, hash: &str, now: Timestamp) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query("SELECT hash, user_id, expires_at FROM sessions WHERE hash = ? AND expires_at > ?")
            .bind(hash)
            .bind(now.micros())
            .fetch_optional(&self.writer)
            .await?;
        row.map(|row| {
            Ok(Session {
                hash: row.try_get("hash")?,
                user_id: row.try_get("user_id")?,
                expires_at: ts(&row, "expires_at")?,
            })
        })
        .transpose()
    }

    async fn insert_pending(&self, pending: &PendingAuthorization, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pending_authorizations (id, session_hash, client_id, redirect_uri, state, scopes, \
             code_challenge, include_granted, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&pending.id)
        .bind(&pending.session_hash)
        .bind(&pending.client_id)
        .bind(&pending.redirect_uri)
        .bind(&pending.state)
        .bind(pending.scopes.join(" "))
        .bind(&pending.code_challenge)
        .bind(i64::from(pending.include_granted_scopes))
        .bind(now.micros())
        .bind(pending.expires_at.micros())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn pending(&self, id: &str, now: Timestamp) -> Result<Option<PendingAuthorization>, StoreError> {
        let row = sqlx::query(
            "SELECT id, session_hash, client_id, redirect_uri, state, scopes, code_challenge, include_granted, expires_at \
             FROM pending_authorizations WHERE id = ? AND expires_at > ?",
        )
        .bind(id)
        .bind(now.micros())
        .fetch_optional(&self.writer)
        .await?;
        row.map(|row| {
            Ok(PendingAuthorization {
                id: row.try_get("id")?,
                session_hash: row.try_get("session_hash")?,
                client_id: row.try_get("client_id")?,
                redirect_uri: row.try_get("redirect_uri")?,
                state: row.try_get("state")?,
                scopes: words(&row.try_get::<String, _>("scopes")?),
                code_challenge: row.try_get("code_challenge")?,
                include_granted_scopes: row.try_get::<i64, _>("include_granted")? != 0,
                expires_at: ts(&row, "expires_at")?,
            })
        })
        .transpose()
    }

    async fn rebind_pending(&self, id: &str, session_hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE pending_authorizations SET session_hash = ? WHERE id = ?")
            .bind(session_hash)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn take_pending(&self, id: &str) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM pending_authorizations WHERE id = ?").bind(id).execute(&self.writer).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_code(&self, code: &AuthCode) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO auth_codes (hash, client_id, user_id, redirect_uri, code_challenge, scopes, access, \
             created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&code.hash)
        .bind(&code.client_id)
        .bind(&code.user_id)
        .bind(&code.redirect_uri)
        .bind(&code.code_challenge)
        .bind(code.scopes.join(" "))
        .bind(&code.access)
        .bind(code.created_at.micros())
        .bind(code.expires_at.micros())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn code(&self, hash: &str) -> Result<Option<AuthCode>, StoreError> {
        let row = sqlx::query(
            "SELECT hash, client_id, user_id, redirect_uri, code_challenge, scopes, access, created_at, expires_at \
             FROM auth_codes WHERE hash = ?",
        )
        .bind(hash)
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| {
            Ok(AuthCode {
                hash: row.try_get("hash")?,
                client_id: row.try_get("client_id")?,
                user_id: row.try_get("user_id")?,
                redirect_uri: row.try_get("redirect_uri")?,
                code_challenge: row.try_get("code_challenge")?,
                scopes: words(&row.try_get::<String, _>("scopes")?),
                access: row.try_get("access")?,
                created_at: ts(&row, "created_at")?,
                expires_at: ts(&row, "expires_at")?,
            })
        })
        .transpose()
    }

    async fn redeem_code(&self, hash: &str, now: Timestamp, issued: &[TokenRecord]) -> Result<Redemption, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let used: Option<Option<i64>> = sqlx::query_scalar("SELECT used_at FROM auth_codes WHERE hash = ?")
            .bind(hash)
            .fetch_optional(&mut *tx)
            .await?;
        match used {
            None => Ok(Redemption::Unknown),
            Some(Some(_)) => {
                sqlx::query("UPDATE tokens SET revoked_at = ? WHERE code_hash = ? AND revoked_at IS NULL")
                    .bind(now.micros())
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Redemption::Replayed)
            }
            Some(None) => {
                sqlx::query("UPDATE auth_codes SET used_at = ? WHERE hash = ?")
                    .bind(now.micros())
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
                for token in issued {
                    Self::insert_token_in(&mut tx, token).await?;
                }
                tx.commit().await?;
                Ok(Redemption::Fresh)
            }
        }
    }

    async fn rotate_refresh(
        &self,
        hash: &str,
        now: Timestamp,
        successors: &[TokenRecord],
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let Some(row) = sqlx::query(TOKEN_SELECT).bind(hash).fetch_optional(&mut *tx).await? else {
            return Ok(Rotation::Invalid);
        };
        let token = token_from_row(&row)?;
        if token.kind != TokenKind::Refresh {
            return Ok(Rotation::Invalid);
        }
        if token.rotated_at.is_some() {
            if let Some(family) = &token.family {
                Self::revoke_family_in(&mut tx, family, now).await?;
            }
            tx.commit().await?;
            return Ok(Rotation::Reused);
        }
        if token.revoked_at.is_some() || token.expires_at <= now {
            return Ok(Rotation::Invalid);
        }
        sqlx::query("UPDATE tokens SET rotated_at = ? WHERE hash = ?")
            .bind(now.micros())
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        for token in successors {
            Self::insert_token_in(&mut tx, token).await?;
        }
        tx.commit().await?;
        Ok(Rotation::Fresh)
    }

    async fn revoke_token(&self, hash: &str, now: Timestamp) -> Result<Option<TokenRecord>, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let Some(row) = sqlx::query(TOKEN_SELECT).bind(hash).fetch_optional(&mut *tx).await? else {
            return Ok(None);
        };
        let token = token_from_row(&row)?;
        sqlx::query("UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE hash = ?")
            .bind(now.micros())
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        if let (TokenKind::Refresh, Some(family)) = (token.kind, &token.family) {
            Self::revoke_family_in(&mut tx, family, now).await?;
        }
        tx.commit().await?;
        Ok(Some(token))
    }

    async fn revoke_family(&self, family: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await?;
        Self::revoke_family_in(&mut conn, family, now).await
    }

    async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let detail = if entry.detail.is_null() { None } else { Some(entry.detail.to_string()) };
        sqlx::query(
            "INSERT INTO audit (at, event, user_id, client_id, resources, job_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(entry.at.micros())
        .bind(&entry.event)
        .bind(&entry.user_id)
        .bind(&entry.client_id)
        .bind((!entry.resources.is_empty()).then(|| entry.resources.join(" ")))
        .bind(&entry.job_id)
        .bind(detail)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, event, user_id, client_id, resources, job_id, detail FROM \
             (SELECT * FROM audit ORDER BY id DESC LIMIT ?) ORDER BY id",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                let detail: Option<String> = row.try_get("detail")?;
                Ok(AuditEntry {
                    at: ts(row, "at")?,
                    event: row.try_get("event")?,
                    user_id: row.try_get("user_id")?,
                    client_id: row.try_get("client_id")?,
                    resources: row.try_get::<Option<String>, _>("resources")?.as_deref().map(words).unwrap_or_default(),
                    job_id: row.try_get("job_id")?,
                    detail: detail
                        .map(|d| serde_json::from_str(&d))
                        .transpose()
                        .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?
                        .unwrap_or(serde_json::Value::Null),
                })
            })
            .collect()
    }
}
