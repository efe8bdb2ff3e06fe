//! [`Jobs`] on SQLite.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl Jobs for SqliteStore {
    async fn upsert_grants(
        &self,
        user_id: &str,
        client_id: &str,
        resources: &[String],
        access: GrantAccess,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_error)?;
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
            .await
            .map_err(sqlite_error)?;
        }
        tx.commit().await.map_err(sqlite_error)?;
        Ok(())
    }

    async fn grants(&self, user_id: &str, client_id: &str) -> Result<Vec<Grant>, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(sqlite_error)?;
        Self::grants_in(&mut conn, user_id, client_id).await
    }

    async fn initiate(
        &self,
        job: &NewJob,
        since: Timestamp,
        decide: &mut InitiateDecision<'_>,
    ) -> Result<Option<Job>, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_error)?;
        let grants = Self::grants_in(&mut tx, &job.user_id, &job.client_id).await?;
        let since = grants.iter().map(|g| g.granted_at).min().map_or(since, |oldest| oldest.min(since));
        let jobs = Self::jobs_of_pair(&mut tx, &job.user_id, &job.client_id, since).await?;
        let Some(access_type) = decide(&grants, &jobs) else { return Ok(None) };
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
            .await
            .map_err(sqlite_error)?;
        }
        let created =
            Self::job_in(&mut tx, &job.id).await?.ok_or_else(|| StoreError::Database("job vanished".into()))?;
        tx.commit().await.map_err(sqlite_error)?;
        Ok(Some(created))
    }

    async fn job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(sqlite_error)?;
        Self::job_in(&mut conn, id).await
    }

    async fn jobs(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            job_columns!(),
            ", lease_owner, lease_expires_at FROM jobs WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR user_id = ?2) \
             ORDER BY created_at DESC, id DESC LIMIT ?3"
        );
        let rows = sqlx::query(sql)
            .bind(filter.state.map(State::as_str))
            .bind(&filter.user_id)
            .bind(i64::from(filter.limit))
            .fetch_all(&self.reader)
            .await
            .map_err(sqlite_error)?;
        rows.iter().map(job_record_from_row).collect()
    }

    async fn job_record(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        let sql = concat!(
            "SELECT ",
            job_columns!(),
            ", lease_owner, lease_expires_at, idx, blob_key, size, sha256 \
             FROM jobs LEFT JOIN parts ON parts.job_id = jobs.id WHERE jobs.id = ? ORDER BY idx"
        );
        let rows = sqlx::query(sql).bind(id).fetch_all(&self.reader).await.map_err(sqlite_error)?;
        let Some(first) = rows.first() else { return Ok(None) };
        let mut record = job_record_from_row(first)?;
        for row in &rows {
            if row.try_get::<Option<i64>, _>("idx").map_err(sqlite_error)?.is_some() {
                record.job.parts.push(part_from_row(row)?);
            }
        }
        Ok(Some(record))
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
        let rows =
            sqlx::query(sql).bind(token_hash).bind(job_id).fetch_all(&self.reader).await.map_err(sqlite_error)?;
        let Some(first) = rows.first() else { return Ok((None, None)) };
        let token = token_from_prefixed(first, "t_")?;
        if first.try_get::<Option<String>, _>("id").map_err(sqlite_error)?.is_none() {
            return Ok((Some(token), None));
        }
        let mut job = job_from_row(first)?;
        for row in &rows {
            if row.try_get::<Option<i64>, _>("idx").map_err(sqlite_error)?.is_some() {
                job.parts.push(part_from_row(row)?);
            }
        }
        Ok((Some(token), Some(job)))
    }

    async fn cancel(&self, id: &str, now: Timestamp) -> Result<Option<Job>, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_error)?;
        sqlx::query(
            "UPDATE jobs SET state = 'CANCELLED', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = ? AND state = 'IN_PROGRESS'",
        )
        .bind(now.micros())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(sqlite_error)?;
        let job = Self::job_in(&mut tx, id).await?;
        tx.commit().await.map_err(sqlite_error)?;
        Ok(job)
    }

    async fn insert_retry(&self, retry: &NewJob, failed: &Job) -> Result<Job, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_error)?;
        let existing: Option<String> = sqlx::query_scalar("SELECT id FROM jobs WHERE retry_of = ?")
            .bind(&failed.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(sqlite_error)?;
        let id = match existing {
            Some(existing) => existing,
            None => {
                Self::insert_job(&mut tx, retry, failed.access_type, Some(&failed.id), failed.retry_index + 1).await?;
                retry.id.clone()
            }
        };
        let job = Self::job_in(&mut tx, &id).await?.ok_or_else(|| StoreError::Database("job vanished".into()))?;
        tx.commit().await.map_err(sqlite_error)?;
        Ok(job)
    }

    async fn reset(&self, user_id: &str, client_id: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_error)?;
        sqlx::query("UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL")
            .bind(now.micros())
            .bind(user_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(sqlite_error)?;
        sqlx::query("DELETE FROM grants WHERE user_id = ? AND client_id = ?")
            .bind(user_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(sqlite_error)?;
        sqlx::query(
            "UPDATE jobs SET state = 'CANCELLED', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL \
             WHERE user_id = ? AND client_id = ? AND state = 'IN_PROGRESS'",
        )
        .bind(now.micros())
        .bind(user_id)
        .bind(client_id)
        .execute(&mut *tx)
        .await
        .map_err(sqlite_error)?;
        sqlx::query(
            "UPDATE jobs SET archive_revoked_at = ? WHERE user_id = ? AND client_id = ? AND archive_revoked_at IS NULL",
        )
        .bind(now.micros())
        .bind(user_id)
        .bind(client_id)
        .execute(&mut *tx)
        .await
        .map_err(sqlite_error)?;
        tx.commit().await.map_err(sqlite_error)?;
        Ok(())
    }
}
