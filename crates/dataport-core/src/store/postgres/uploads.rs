//! [`Uploads`] on PostgreSQL.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl Uploads for PgStore {
    async fn record_upload(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO blob_uploads (key, upload_id, started_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(key)
            .bind(upload_id)
            .bind(Timestamp::now().micros())
            .execute(&self.pool)
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    async fn forget_upload(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM blob_uploads WHERE key = $1 AND upload_id = $2")
            .bind(key)
            .bind(upload_id)
            .execute(&self.pool)
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    async fn uploads_below(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        // A comparison of the leading characters rather than LIKE, whose wildcards keys may hold.
        let rows = sqlx::query_as(
            "SELECT key, upload_id FROM blob_uploads WHERE left(key, length($1) + 1) = $1 || '/' \
             ORDER BY started_at",
        )
        .bind(prefix)
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        Ok(rows)
    }
}
