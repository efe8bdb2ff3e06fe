//! [`Account`] on PostgreSQL.

use async_trait::async_trait;

use super::audit::audit_from_row;
use super::*;

/// Groups rows of jobs joined with their parts (ordered by job) into jobs with their parts.
fn jobs_with_parts(rows: &[PgRow]) -> Result<Vec<Job>, StoreError> {
    let mut jobs: Vec<Job> = Vec::new();
    for row in rows {
        let id: String = get(row, "id")?;
        if jobs.last().is_none_or(|job| job.id != id) {
            jobs.push(job_from_row(row)?);
        }
        if get::<Option<i64>>(row, "idx")?.is_some()
            && let Some(job) = jobs.last_mut()
        {
            job.parts.push(part_from_row(row)?);
        }
    }
    Ok(jobs)
}

#[async_trait]
impl Account for PgStore {
    async fn user_grants(&self, user_id: &str) -> Result<Vec<ClientGrant>, StoreError> {
        let rows = sqlx::query(
            "SELECT client_id, resource, access, granted_at, expires_at, exhausted_at, last_initiate_at \
             FROM grants WHERE user_id = $1 ORDER BY client_id, resource",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        rows.iter()
            .map(|row| Ok(ClientGrant { client_id: get(row, "client_id")?, grant: grant_from_row(row)? }))
            .collect()
    }

    async fn user_jobs(&self, user_id: &str, limit: u32) -> Result<Vec<Job>, StoreError> {
        let sql = concat!(
            "SELECT ",
            job_columns!(),
            ", idx, blob_key, size, sha256 FROM \
             (SELECT * FROM jobs WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2) AS jobs \
             LEFT JOIN parts ON parts.job_id = jobs.id ORDER BY jobs.created_at DESC, jobs.id DESC, idx"
        );
        let rows =
            sqlx::query(sql).bind(user_id).bind(i64::from(limit)).fetch_all(&self.pool).await.map_err(pg_error)?;
        jobs_with_parts(&rows)
    }

    async fn user_job(&self, user_id: &str, id: &str) -> Result<Option<Job>, StoreError> {
        let sql = concat!(
            "SELECT ",
            job_columns!(),
            ", idx, blob_key, size, sha256 FROM jobs LEFT JOIN parts ON parts.job_id = jobs.id \
             WHERE jobs.id = $1 AND jobs.user_id = $2 ORDER BY idx"
        );
        let rows = sqlx::query(sql).bind(id).bind(user_id).fetch_all(&self.pool).await.map_err(pg_error)?;
        Ok(jobs_with_parts(&rows)?.pop())
    }

    async fn user_event_counts(&self, user_id: &str, event: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT job_id, COUNT(*) AS n FROM audit WHERE user_id = $1 AND event = $2 AND job_id IS NOT NULL \
             GROUP BY job_id ORDER BY job_id",
        )
        .bind(user_id)
        .bind(event)
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                let n: i64 = get(row, "n")?;
                Ok((get(row, "job_id")?, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }

    async fn user_audit(&self, user_id: &str, before: Option<i64>, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, event, user_id, client_id, resources, job_id, detail FROM audit \
             WHERE user_id = $1 AND ($2::BIGINT IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(user_id)
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        rows.iter().map(|row| Ok(AuditRecord { id: get(row, "id")?, entry: audit_from_row(row)? })).collect()
    }
}
