//! [`Auth`] on SQLite.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl Auth for SqliteStore {
    async fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await.map_err(sqlite_error)?;
        Self::insert_token_in(&mut conn, token).await
    }

    async fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(TOKEN_SELECT).bind(hash).fetch_optional(&self.reader).await.map_err(sqlite_error)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn insert_session(&self, session: &Session, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
            .bind(&session.hash)
            .bind(&session.user_id)
            .bind(now.micros())
            .bind(session.expires_at.micros())
            .execute(&self.writer)
            .await
            .map_err(sqlite_error)?;
        Ok(())
    }

    async fn session(&self, hash: &str, now: Timestamp) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query("SELECT hash, user_id, expires_at FROM sessions WHERE hash = ? AND expires_at > ?")
            .bind(hash)
            .bind(now.micros())
            .fetch_optional(&self.writer)
            .await
            .map_err(sqlite_error)?;
        row.map(|row| {
            Ok(Session {
                hash: row.try_get("hash").map_err(sqlite_error)?,
                user_id: row.try_get("user_id").map_err(sqlite_error)?,
                expires_at: ts(&row, "expires_at")?,
            })
        })
        .transpose()
    }

    async fn begin_sign_in(
        &self,
        attempt: &str,
        keys: &[String],
        since: Timestamp,
        now: Timestamp,
        admit: &mut SignInDecision<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_error)?;
        let mut seen = Vec::with_capacity(keys.len());
        for key in keys {
            let (count, oldest): (i64, Option<i64>) =
                sqlx::query_as("SELECT COUNT(*), MIN(at) FROM sign_in_attempts WHERE key = ? AND at >= ?")
                    .bind(key)
                    .bind(since.micros())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(sqlite_error)?;
            seen.push((u32::try_from(count).unwrap_or(u32::MAX), oldest.map(Timestamp::from_micros)));
        }
        if !admit(&seen) {
            return Ok(false);
        }
        for key in keys {
            sqlx::query("INSERT INTO sign_in_attempts (attempt, key, at) VALUES (?, ?, ?)")
                .bind(attempt)
                .bind(key)
                .bind(now.micros())
                .execute(&mut *tx)
                .await
                .map_err(sqlite_error)?;
        }
        tx.commit().await.map_err(sqlite_error)?;
        Ok(true)
    }

    async fn sign_in_succeeded(&self, attempt: &str, forgive: &str) -> Result<(), StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_error)?;
        for (sql, value) in [
            ("DELETE FROM sign_in_attempts WHERE attempt = ?", attempt),
            ("DELETE FROM sign_in_attempts WHERE key = ?", forgive),
        ] {
            sqlx::query(sql).bind(value).execute(&mut *tx).await.map_err(sqlite_error)?;
        }
        tx.commit().await.map_err(sqlite_error)?;
        Ok(())
    }

    async fn prune_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_error)?;
        let mut pruned = 0;
        for (sql, before) in [
            ("DELETE FROM sessions WHERE expires_at < ?", now),
            ("DELETE FROM pending_authorizations WHERE expires_at < ?", now),
            ("DELETE FROM auth_codes WHERE expires_at < ?", now.plus_seconds(-86_400)),
        ] {
            pruned +=
                sqlx::query(sql).bind(before.micros()).execute(&mut *tx).await.map_err(sqlite_error)?.rows_affected();
        }
        sqlx::query("DELETE FROM sign_in_attempts WHERE at < ?")
            .bind(now.plus_seconds(-86_400).micros())
            .execute(&mut *tx)
            .await
            .map_err(sqlite_error)?;
        tx.commit().await.map_err(sqlite_error)?;
        Ok(pruned)
    }

    async fn insert_pending(&self, pending: &PendingAuthorization, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pending_authorizations (id, session_hash, client_id, redirect_uri, state, scopes, \
             code_challenge, include_granted, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&pending.id)
        .bind(&pending.session_hash)
        .bind(&pending.client_id)
        .bind(&pending.redirect_uri)
        .bind(&pending.state)
        .bind(pending.scopes.join(" "))
        .bind(&pending.code_challenge)
        .bind(i64::from(pending.include_granted_scopes))
        .bind(now.micros())
        .bind(pending.expires_at.micros())
        .execute(&self.writer)
        .await
        .map_err(sqlite_error)?;
        Ok(())
    }

    async fn pending(&self, id: &str, now: Timestamp) -> Result<Option<PendingAuthorization>, StoreError> {
        let row = sqlx::query(
            "SELECT id, session_hash, client_id, redirect_uri, state, scopes, code_challenge, include_granted, expires_at \
             FROM pending_authorizations WHERE id = ? AND expires_at > ?",
        )
        .bind(id)
        .bind(now.micros())
        .fetch_optional(&self.writer)
        .await.map_err(sqlite_error)?;
        row.map(|row| {
            Ok(PendingAuthorization {
                id: row.try_get("id").map_err(sqlite_error)?,
                session_hash: row.try_get("session_hash").map_err(sqlite_error)?,
                client_id: row.try_get("client_id").map_err(sqlite_error)?,
                redirect_uri: row.try_get("redirect_uri").map_err(sqlite_error)?,
                state: row.try_get("state").map_err(sqlite_error)?,
                scopes: words(&row.try_get::<String, _>("scopes").map_err(sqlite_error)?),
                code_challenge: row.try_get("code_challenge").map_err(sqlite_error)?,
                include_granted_scopes: row.try_get::<i64, _>("include_granted").map_err(sqlite_error)? != 0,
                expires_at: ts(&row, "expires_at")?,
            })
        })
        .transpose()
    }

    async fn rebind_pending(&self, id: &str, session_hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE pending_authorizations SET session_hash = ? WHERE id = ?")
            .bind(session_hash)
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(sqlite_error)?;
        Ok(())
    }

    async fn take_pending(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM pending_authorizations WHERE id = ?")
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(sqlite_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_code(&self, code: &AuthCode) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO auth_codes (hash, client_id, user_id, redirect_uri, code_challenge, scopes, access, \
             created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&code.hash)
        .bind(&code.client_id)
        .bind(&code.user_id)
        .bind(&code.redirect_uri)
        .bind(&code.code_challenge)
        .bind(code.scopes.join(" "))
        .bind(&code.access)
        .bind(code.created_at.micros())
        .bind(code.expires_at.micros())
        .execute(&self.writer)
        .await
        .map_err(sqlite_error)?;
        Ok(())
    }

    async fn code(&self, hash: &str) -> Result<Option<AuthCode>, StoreError> {
        let row = sqlx::query(
            "SELECT hash, client_id, user_id, redirect_uri, code_challenge, scopes, access, created_at, expires_at \
             FROM auth_codes WHERE hash = ?",
        )
        .bind(hash)
        .fetch_optional(&self.reader)
        .await
        .map_err(sqlite_error)?;
        row.map(|row| {
            Ok(AuthCode {
                hash: row.try_get("hash").map_err(sqlite_error)?,
                client_id: row.try_get("client_id").map_err(sqlite_error)?,
                user_id: row.try_get("user_id").map_err(sqlite_error)?,
                redirect_uri: row.try_get("redirect_uri").map_err(sqlite_error)?,
                code_challenge: row.try_get("code_challenge").map_err(sqlite_error)?,
                scopes: words(&row.try_get::<String, _>("scopes").map_err(sqlite_error)?),
                access: row.try_get("access").map_err(sqlite_error)?,
                created_at: ts(&row, "created_at")?,
                expires_at: ts(&row, "expires_at")?,
            })
        })
        .transpose()
    }

    async fn redeem_code(&self, hash: &str, now: Timestamp, issued: &[TokenRecord]) -> Result<Redemption, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_error)?;
        let used: Option<Option<i64>> = sqlx::query_scalar("SELECT used_at FROM auth_codes WHERE hash = ?")
            .bind(hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(sqlite_error)?;
        match used {
            None => Ok(Redemption::Unknown),
            Some(Some(_)) => {
                sqlx::query("UPDATE tokens SET revoked_at = ? WHERE code_hash = ? AND revoked_at IS NULL")
                    .bind(now.micros())
                    .bind(hash)
                    .execute(&mut *tx)
                    .await
                    .map_err(sqlite_error)?;
                tx.commit().await.map_err(sqlite_error)?;
                Ok(Redemption::Replayed)
            }
            Some(None) => {
                sqlx::query("UPDATE auth_codes SET used_at = ? WHERE hash = ?")
                    .bind(now.micros())
                    .bind(hash)
                    .execute(&mut *tx)
                    .await
                    .map_err(sqlite_error)?;
                for token in issued {
                    Self::insert_token_in(&mut tx, token).await?;
                }
                tx.commit().await.map_err(sqlite_error)?;
                Ok(Redemption::Fresh)
            }
        }
    }

    async fn use_refresh(
        &self,
        hash: &str,
        now: Timestamp,
        rules: RefreshRules,
        issued: &[TokenRecord],
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_error)?;
        let Some(row) =
            sqlx::query(TOKEN_USE_SELECT).bind(hash).fetch_optional(&mut *tx).await.map_err(sqlite_error)?
        else {
            return Ok(Rotation::Invalid);
        };
        let token = token_from_row(&row)?;
        if token.kind != TokenKind::Refresh {
            return Ok(Rotation::Invalid);
        }
        let successor = issued.iter().find(|t| t.kind == TokenKind::Refresh);
        if let Some(rotated_at) = token.rotated_at {
            let repeat = match (rules.repeat_since, successor) {
                (Some(since), Some(successor)) if rotated_at >= since && successor.family == token.family => {
                    Self::unused_refresh_in(&mut tx, &successor.hash, now).await?
                }
                _ => false,
            };
            if repeat {
                for token in issued.iter().filter(|t| t.kind != TokenKind::Refresh) {
                    Self::insert_token_in(&mut tx, token).await?;
                }
                tx.commit().await.map_err(sqlite_error)?;
                return Ok(Rotation::Repeated);
            }
            if let Some(family) = &token.family {
                Self::revoke_family_in(&mut tx, family, now).await?;
            }
            tx.commit().await.map_err(sqlite_error)?;
            return Ok(Rotation::Reused);
        }
        let last_used = ts(&row, "last_used")?;
        if token.revoked_at.is_some() || token.expires_at <= now || rules.idle_since.is_some_and(|s| last_used < s) {
            return Ok(Rotation::Invalid);
        }
        // Rotated out (its successor takes over), or kept with its last use now.
        let mark = match successor {
            Some(_) => "UPDATE tokens SET rotated_at = ?1, last_used_at = ?1 WHERE hash = ?2",
            None => "UPDATE tokens SET last_used_at = ?1 WHERE hash = ?2",
        };
        sqlx::query(mark).bind(now.micros()).bind(hash).execute(&mut *tx).await.map_err(sqlite_error)?;
        for token in issued {
            Self::insert_token_in(&mut tx, token).await?;
        }
        tx.commit().await.map_err(sqlite_error)?;
        Ok(Rotation::Fresh)
    }

    async fn drop_oldest_refresh(
        &self,
        user_id: &str,
        client_id: &str,
        keep: u32,
        idle_since: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_error)?;
        let beyond: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT hash, family FROM tokens WHERE user_id = ? AND client_id = ? AND kind = 'refresh' \
             AND revoked_at IS NULL AND rotated_at IS NULL AND expires_at > ? \
             AND COALESCE(last_used_at, created_at) >= ? ORDER BY created_at DESC, hash DESC LIMIT -1 OFFSET ?",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(now.micros())
        .bind(idle_since.micros())
        .bind(i64::from(keep))
        .fetch_all(&mut *tx)
        .await
        .map_err(sqlite_error)?;
        for (hash, family) in &beyond {
            sqlx::query("UPDATE tokens SET revoked_at = ? WHERE hash = ? AND revoked_at IS NULL")
                .bind(now.micros())
                .bind(hash)
                .execute(&mut *tx)
                .await
                .map_err(sqlite_error)?;
            if let Some(family) = family {
                Self::revoke_family_in(&mut tx, family, now).await?;
            }
        }
        tx.commit().await.map_err(sqlite_error)?;
        Ok(beyond.len() as u64)
    }

    async fn revoke_token(&self, hash: &str, now: Timestamp) -> Result<Option<TokenRecord>, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(sqlite_error)?;
        let Some(row) = sqlx::query(TOKEN_SELECT).bind(hash).fetch_optional(&mut *tx).await.map_err(sqlite_error)?
        else {
            return Ok(None);
        };
        let token = token_from_row(&row)?;
        sqlx::query("UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE hash = ?")
            .bind(now.micros())
            .bind(hash)
            .execute(&mut *tx)
            .await
            .map_err(sqlite_error)?;
        if let (TokenKind::Refresh, Some(family)) = (token.kind, &token.family) {
            Self::revoke_family_in(&mut tx, family, now).await?;
        }
        tx.commit().await.map_err(sqlite_error)?;
        Ok(Some(token))
    }

    async fn revoke_family(&self, family: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut conn = self.writer.acquire().await.map_err(sqlite_error)?;
        Self::revoke_family_in(&mut conn, family, now).await
    }
}
