//! [`Audit`] on SQLite.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl Audit for SqliteStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<i64, StoreError> {
        let detail = if entry.detail.is_null() { None } else { Some(entry.detail.to_string()) };
        let row = sqlx::query(
            "INSERT INTO audit (at, event, user_id, client_id, resources, job_id, detail) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(entry.at.micros())
        .bind(&entry.event)
        .bind(&entry.user_id)
        .bind(&entry.client_id)
        .bind((!entry.resources.is_empty()).then(|| entry.resources.join(" ")))
        .bind(&entry.job_id)
        .bind(detail)
        .fetch_one(&self.writer)
        .await
        .map_err(sqlite_error)?;
        row.try_get("id").map_err(sqlite_error)
    }

    async fn amend_audit(&self, id: i64, detail: &serde_json::Value) -> Result<bool, StoreError> {
        let detail = if detail.is_null() { None } else { Some(detail.to_string()) };
        let done = sqlx::query("UPDATE audit SET detail = ? WHERE id = ?")
            .bind(detail)
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(sqlite_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, event, user_id, client_id, resources, job_id, detail FROM \
             (SELECT * FROM audit WHERE (?1 IS NULL OR at >= ?1) AND (?2 IS NULL OR user_id = ?2) \
              AND (?3 IS NULL OR event = ?3) ORDER BY id DESC LIMIT ?4) ORDER BY id",
        )
        .bind(filter.since.map(Timestamp::micros))
        .bind(&filter.user_id)
        .bind(&filter.event)
        .bind(i64::from(filter.limit))
        .fetch_all(&self.reader)
        .await
        .map_err(sqlite_error)?;
        rows.iter().map(audit_from_row).collect()
    }
}

/// An audit row (the columns of [`Audit::audit_log`]) back as an entry.
pub(super) fn audit_from_row(row: &SqliteRow) -> Result<AuditEntry, StoreError> {
    let detail: Option<String> = row.try_get("detail").map_err(sqlite_error)?;
    Ok(AuditEntry {
        at: ts(row, "at")?,
        event: row.try_get("event").map_err(sqlite_error)?,
        user_id: row.try_get("user_id").map_err(sqlite_error)?,
        client_id: row.try_get("client_id").map_err(sqlite_error)?,
        resources: row
            .try_get::<Option<String>, _>("resources")
            .map_err(sqlite_error)?
            .as_deref()
            .map(words)
            .unwrap_or_default(),
        job_id: row.try_get("job_id").map_err(sqlite_error)?,
        detail: detail
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?
            .unwrap_or(serde_json::Value::Null),
    })
}
