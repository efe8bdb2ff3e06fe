//! [`Queue`] on SQLite.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl Queue for SqliteStore {
    async fn claim(&self, owner: &str, lease_until: Timestamp, now: Timestamp) -> Result<Option<Lease>, StoreError> {
        let sql = concat!(
            "UPDATE jobs SET lease_owner = ?1, lease_expires_at = ?2, attempt = attempt + 1, progress = NULL \
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
            .await
            .map_err(sqlite_error)?;
        let Some(row) = row else { return Ok(None) };
        let job = job_from_row(&row)?;
        Ok(Some(Lease { owner: owner.to_owned(), attempt: job.attempt, job }))
    }

    async fn heartbeat(&self, lease: &Lease, lease_until: Timestamp, progress: &Progress) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_expires_at = ?, progress = ? \
             WHERE id = ? AND attempt = ? AND lease_owner = ? AND state = 'IN_PROGRESS'",
        )
        .bind(lease_until.micros())
        .bind(progress_json(progress)?)
        .bind(&lease.job.id)
        .bind(i64::from(lease.attempt))
        .bind(&lease.owner)
        .execute(&self.writer)
        .await
        .map_err(sqlite_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete(
        &self,
        lease: &Lease,
        parts: &[Part],
        progress: &Progress,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_error)?;
        let done = sqlx::query(
            "UPDATE jobs SET state = 'COMPLETE', finished_at = ?, progress = ?, lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = ? AND attempt = ? AND lease_owner = ? AND state = 'IN_PROGRESS'",
        )
        .bind(now.micros())
        .bind(progress_json(progress)?)
        .bind(&lease.job.id)
        .bind(i64::from(lease.attempt))
        .bind(&lease.owner)
        .execute(&mut *tx)
        .await
        .map_err(sqlite_error)?;
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
                .await
                .map_err(sqlite_error)?;
        }
        tx.commit().await.map_err(sqlite_error)?;
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
        .await
        .map_err(sqlite_error)?;
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
        .await
        .map_err(sqlite_error)?;
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
        .await
        .map_err(sqlite_error)?;
        Ok(ids)
    }

    async fn queue_depth(&self, now: Timestamp) -> Result<QueueDepth, StoreError> {
        let (waiting, leased): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN lease_expires_at IS NULL OR lease_expires_at < ?1 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN lease_expires_at >= ?1 THEN 1 ELSE 0 END), 0) \
             FROM jobs WHERE state = 'IN_PROGRESS'",
        )
        .bind(now.micros())
        .fetch_one(&self.reader)
        .await
        .map_err(sqlite_error)?;
        let count = |n: i64| u64::try_from(n).map_err(|_| StoreError::Corrupt("negative count".into()));
        Ok(QueueDepth { waiting: count(waiting)?, leased: count(leased)? })
    }

    async fn blobs_deleted(&self, job_id: &str, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET blobs_deleted_at = ?1, archive_revoked_at = COALESCE(archive_revoked_at, ?1) WHERE id = ?2",
        )
        .bind(now.micros())
        .bind(job_id)
        .execute(&self.writer)
        .await.map_err(sqlite_error)?;
        Ok(())
    }
}
