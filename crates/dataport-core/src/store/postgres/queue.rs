//! [`Queue`] on PostgreSQL: claims skip the rows other workers are claiming (`FOR UPDATE SKIP
//! LOCKED`), and every later write is fenced by (attempt, lease owner), as on SQLite.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl Queue for PgStore {
    async fn clock(&self) -> Result<Timestamp, StoreError> {
        let micros: i64 = sqlx::query_scalar("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint")
            .fetch_one(&self.pool)
            .await
            .map_err(pg_error)?;
        Ok(Timestamp::from_micros(micros))
    }

    async fn claim(&self, owner: &str, lease_until: Timestamp, now: Timestamp) -> Result<Option<Lease>, StoreError> {
        // The subquery locks the row it picks (re-checking its conditions on the newest version
        // if another claim changed it meanwhile) and passes over rows locked by concurrent
        // claims, so two workers never take one job and neither waits for the other.
        let sql = concat!(
            "UPDATE jobs SET lease_owner = $1, lease_expires_at = $2, attempt = attempt + 1, progress = NULL \
             WHERE id = (SELECT id FROM jobs WHERE state = 'IN_PROGRESS' AND not_before <= $3 \
                         AND (lease_expires_at IS NULL OR lease_expires_at < $3) ORDER BY created_at, id LIMIT 1 \
                         FOR UPDATE SKIP LOCKED) \
             RETURNING ",
            job_columns!()
        );
        let row = sqlx::query(sql)
            .bind(owner)
            .bind(lease_until.micros())
            .bind(now.micros())
            .fetch_optional(&self.pool)
            .await
            .map_err(pg_error)?;
        let Some(row) = row else { return Ok(None) };
        let job = job_from_row(&row)?;
        Ok(Some(Lease { owner: owner.to_owned(), attempt: job.attempt, job }))
    }

    async fn heartbeat(&self, lease: &Lease, lease_until: Timestamp, progress: &Progress) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1, progress = $5 \
             WHERE id = $2 AND attempt = $3 AND lease_owner = $4 AND state = 'IN_PROGRESS'",
        )
        .bind(lease_until.micros())
        .bind(&lease.job.id)
        .bind(i64::from(lease.attempt))
        .bind(&lease.owner)
        .bind(progress_json(progress)?)
        .execute(&self.pool)
        .await
        .map_err(pg_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete(
        &self,
        lease: &Lease,
        parts: &[Part],
        progress: &Progress,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(pg_error)?;
        let done = sqlx::query(
            "UPDATE jobs SET state = 'COMPLETE', finished_at = $1, progress = $5, lease_owner = NULL, \
             lease_expires_at = NULL WHERE id = $2 AND attempt = $3 AND lease_owner = $4 AND state = 'IN_PROGRESS'",
        )
        .bind(now.micros())
        .bind(&lease.job.id)
        .bind(i64::from(lease.attempt))
        .bind(&lease.owner)
        .bind(progress_json(progress)?)
        .execute(&mut *tx)
        .await
        .map_err(pg_error)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        for part in parts {
            sqlx::query("INSERT INTO parts (job_id, idx, blob_key, size, sha256) VALUES ($1, $2, $3, $4, $5)")
                .bind(&lease.job.id)
                .bind(i64::from(part.index))
                .bind(&part.blob_key)
                .bind(i64::try_from(part.size).map_err(|_| StoreError::Database("part too large".into()))?)
                .bind(&part.sha256)
                .execute(&mut *tx)
                .await
                .map_err(pg_error)?;
        }
        tx.commit().await.map_err(pg_error)?;
        Ok(true)
    }

    async fn fail(&self, lease: &Lease, reason: &str, now: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'FAILED', finished_at = $1, failure_reason = $2, lease_owner = NULL, \
             lease_expires_at = NULL WHERE id = $3 AND attempt = $4 AND lease_owner = $5 AND state = 'IN_PROGRESS'",
        )
        .bind(now.micros())
        .bind(reason)
        .bind(&lease.job.id)
        .bind(i64::from(lease.attempt))
        .bind(&lease.owner)
        .execute(&self.pool)
        .await
        .map_err(pg_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn release(&self, lease: &Lease, reason: &str, not_before: Timestamp) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(pg_error)?;
        let done = sqlx::query(
            "UPDATE jobs SET failure_reason = $1, not_before = $2, lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = $3 AND attempt = $4 AND lease_owner = $5 AND state = 'IN_PROGRESS'",
        )
        .bind(reason)
        .bind(not_before.micros())
        .bind(&lease.job.id)
        .bind(i64::from(lease.attempt))
        .bind(&lease.owner)
        .execute(&mut *conn)
        .await
        .map_err(pg_error)?;
        if done.rows_affected() == 1 {
            // Released for another attempt: a worker elsewhere may take it (now or at not_before).
            Self::notify_work(&mut conn).await?;
        }
        Ok(done.rows_affected() == 1)
    }

    async fn wait_for_work(&self, timeout: std::time::Duration) {
        let _ = tokio::time::timeout(timeout, self.work.notified()).await;
    }

    async fn jobs_to_sweep(
        &self,
        complete_before: Timestamp,
        ended_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let ids = sqlx::query_scalar(
            "SELECT id FROM jobs WHERE blobs_deleted_at IS NULL AND ( \
               (state = 'COMPLETE' AND (archive_revoked_at IS NOT NULL OR finished_at < $1)) \
               OR (state IN ('CANCELLED', 'FAILED') AND finished_at < $2)) \
             ORDER BY finished_at LIMIT $3",
        )
        .bind(complete_before.micros())
        .bind(ended_before.micros())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        Ok(ids)
    }

    async fn queue_depth(&self, now: Timestamp) -> Result<QueueDepth, StoreError> {
        let (waiting, leased): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN lease_expires_at IS NULL OR lease_expires_at < $1 THEN 1 ELSE 0 END), 0)::BIGINT, \
             COALESCE(SUM(CASE WHEN lease_expires_at >= $1 THEN 1 ELSE 0 END), 0)::BIGINT \
             FROM jobs WHERE state = 'IN_PROGRESS'",
        )
        .bind(now.micros())
        .fetch_one(&self.pool)
        .await
        .map_err(pg_error)?;
        let count = |n: i64| u64::try_from(n).map_err(|_| StoreError::Corrupt("negative count".into()));
        Ok(QueueDepth { waiting: count(waiting)?, leased: count(leased)? })
    }

    async fn blobs_deleted(&self, job_id: &str, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET blobs_deleted_at = $1, archive_revoked_at = COALESCE(archive_revoked_at, $1) \
             WHERE id = $2",
        )
        .bind(now.micros())
        .bind(job_id)
        .execute(&self.pool)
        .await
        .map_err(pg_error)?;
        Ok(())
    }
}
