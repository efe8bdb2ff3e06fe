//! [`Clients`] on SQLite.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl Clients for SqliteStore {
    async fn ensure_client(&self, client: &Client, now: Timestamp) -> Result<Client, StoreError> {
        self.create_client(client, now).await?;
        let row = sqlx::query(
            "SELECT id, name, redirect_uris, public, disabled, secret_hash, refresh_rotation FROM clients WHERE id = ?",
        )
        .bind(&client.id)
        .fetch_one(&self.writer)
        .await
        .map_err(sqlite_error)?;
        client_from_row(&row)
    }

    async fn client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, redirect_uris, public, disabled, secret_hash, refresh_rotation FROM clients WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(sqlite_error)?;
        row.as_ref().map(client_from_row).transpose()
    }

    async fn create_client(&self, client: &Client, now: Timestamp) -> Result<bool, StoreError> {
        let uris = serde_json::to_string(&client.redirect_uris).map_err(|e| StoreError::Database(e.to_string()))?;
        let done = sqlx::query(
            "INSERT INTO clients (id, name, redirect_uris, public, secret_hash, refresh_rotation, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&client.id)
        .bind(&client.name)
        .bind(uris)
        .bind(i64::from(client.public))
        .bind(&client.secret_hash)
        .bind(client.refresh_rotation.map(RefreshRotation::as_str))
        .bind(now.micros())
        .execute(&self.writer)
        .await
        .map_err(sqlite_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, redirect_uris, public, disabled, secret_hash, refresh_rotation FROM clients ORDER BY created_at, id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(sqlite_error)?;
        rows.iter().map(client_from_row).collect()
    }

    async fn set_refresh_rotation(&self, id: &str, rotation: Option<RefreshRotation>) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE clients SET refresh_rotation = ? WHERE id = ?")
            .bind(rotation.map(RefreshRotation::as_str))
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(sqlite_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_client_disabled(&self, id: &str, disabled: bool, now: Timestamp) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_error)?;
        let done = sqlx::query("UPDATE clients SET disabled = ? WHERE id = ?")
            .bind(i64::from(disabled))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(sqlite_error)?;
        if disabled {
            sqlx::query("UPDATE tokens SET revoked_at = ? WHERE revoked_at IS NULL AND client_id = ?")
                .bind(now.micros())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(sqlite_error)?;
        }
        tx.commit().await.map_err(sqlite_error)?;
        Ok(done.rows_affected() == 1)
    }
}
