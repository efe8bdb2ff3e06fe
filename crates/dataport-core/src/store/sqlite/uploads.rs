//! [`Uploads`] on SQLite.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl Uploads for SqliteStore {
    async fn record_upload(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT OR IGNORE INTO blob_uploads (key, upload_id, started_at) VALUES (?, ?, ?)")
            .bind(key)
            .bind(upload_id)
            .bind(Timestamp::now().micros())
            .execute(&self.writer)
            .await
            .map_err(sqlite_error)?;
        Ok(())
    }

    async fn forget_upload(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM blob_uploads WHERE key = ? AND upload_id = ?")
            .bind(key)
            .bind(upload_id)
            .execute(&self.writer)
            .await
            .map_err(sqlite_error)?;
        Ok(())
    }

    async fn uploads_below(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        // A comparison of the leading characters rather than LIKE, whose wildcards keys may hold.
        let rows = sqlx::query_as(
            "SELECT key, upload_id FROM blob_uploads WHERE substr(key, 1, length(?1) + 1) = ?1 || '/' \
             ORDER BY started_at",
        )
        .bind(prefix)
        .fetch_all(&self.reader)
        .await
        .map_err(sqlite_error)?;
        Ok(rows)
    }
}
