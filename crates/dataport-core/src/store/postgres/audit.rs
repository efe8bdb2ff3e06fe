//! [`Audit`] on PostgreSQL.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl Audit for PgStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<i64, StoreError> {
        let detail = if entry.detail.is_null() { None } else { Some(entry.detail.to_string()) };
        let row = sqlx::query(
            "INSERT INTO audit (at, event, user_id, client_id, resources, job_id, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(entry.at.micros())
        .bind(&entry.event)
        .bind(&entry.user_id)
        .bind(&entry.client_id)
        .bind((!entry.resources.is_empty()).then(|| entry.resources.join(" ")))
        .bind(&entry.job_id)
        .bind(detail)
        .fetch_one(&self.pool)
        .await
        .map_err(pg_error)?;
        get(&row, "id")
    }

    async fn amend_audit(&self, id: i64, detail: &serde_json::Value) -> Result<bool, StoreError> {
        let detail = if detail.is_null() { None } else { Some(detail.to_string()) };
        let done = sqlx::query("UPDATE audit SET detail = $1 WHERE id = $2")
            .bind(detail)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(pg_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, event, user_id, client_id, resources, job_id, detail FROM \
             (SELECT * FROM audit WHERE ($1::BIGINT IS NULL OR at >= $1) AND ($2::TEXT IS NULL OR user_id = $2) \
              AND ($3::TEXT IS NULL OR event = $3) ORDER BY id DESC LIMIT $4) AS newest ORDER BY id",
        )
        .bind(filter.since.map(Timestamp::micros))
        .bind(&filter.user_id)
        .bind(&filter.event)
        .bind(i64::from(filter.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        rows.iter().map(audit_from_row).collect()
    }
}

/// An audit row (the columns of [`Audit::audit_log`]) back as an entry.
pub(super) fn audit_from_row(row: &PgRow) -> Result<AuditEntry, StoreError> {
    let detail: Option<String> = get(row, "detail")?;
    Ok(AuditEntry {
        at: ts(row, "at")?,
        event: get(row, "event")?,
        user_id: get(row, "user_id")?,
        client_id: get(row, "client_id")?,
        resources: get::<Option<String>>(row, "resources")?.as_deref().map(words).unwrap_or_default(),
        job_id: get(row, "job_id")?,
        detail: detail
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?
            .unwrap_or(serde_json::Value::Null),
    })
}
