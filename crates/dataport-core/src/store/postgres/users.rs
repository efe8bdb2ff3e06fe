//! [`Users`] on PostgreSQL.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl Users for PgStore {
    async fn ensure_user(&self, username: &str, now: Timestamp) -> Result<User, StoreError> {
        self.create_user(username, username, None, now).await?;
        let row = sqlx::query("SELECT id, username, subject, disabled FROM users WHERE username = $1")
            .bind(username)
            .fetch_one(&self.pool)
            .await
            .map_err(pg_error)?;
        user_from_row(&row)
    }

    async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT id, username, subject, disabled FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(pg_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn create_user(
        &self,
        username: &str,
        subject: &str,
        password_hash: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        // No conflict target: a taken username and a taken subject (both unique) are both "taken".
        let done = sqlx::query(
            "INSERT INTO users (id, username, subject, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(username)
        .bind(subject)
        .bind(password_hash)
        .bind(now.micros())
        .execute(&self.pool)
        .await
        .map_err(pg_error)?;
        Ok((done.rows_affected() == 1).then(|| User {
            id,
            username: username.to_owned(),
            subject: subject.to_owned(),
            disabled: false,
        }))
    }

    async fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError> {
        let row = sqlx::query("SELECT id, username, subject, disabled, password_hash FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(pg_error)?;
        row.map(|row| Ok(Credentials { user: user_from_row(&row)?, password_hash: get(&row, "password_hash")? }))
            .transpose()
    }

    async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query("SELECT id, username, subject, disabled FROM users ORDER BY created_at, username")
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn user_by_subject(&self, subject: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT id, username, subject, disabled FROM users WHERE subject = $1")
            .bind(subject)
            .fetch_optional(&self.pool)
            .await
            .map_err(pg_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn set_password(&self, username: &str, password_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE username = $2")
            .bind(password_hash)
            .bind(username)
            .execute(&self.pool)
            .await
            .map_err(pg_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_user_disabled(&self, username: &str, disabled: bool, now: Timestamp) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(pg_error)?;
        let done = sqlx::query("UPDATE users SET disabled = $1 WHERE username = $2")
            .bind(disabled)
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(pg_error)?;
        if disabled {
            sqlx::query(concat!(
                "UPDATE tokens SET revoked_at = $1 WHERE hash IN (SELECT hash FROM tokens WHERE revoked_at IS NULL ",
                "AND user_id = (SELECT id FROM users WHERE username = $2) ORDER BY hash FOR UPDATE)"
            ))
            .bind(now.micros())
            .bind(username)
            .execute(&mut *tx)
            .await
            .map_err(pg_error)?;
        }
        tx.commit().await.map_err(pg_error)?;
        Ok(done.rows_affected() == 1)
    }
}
