//! [`Auth`] on PostgreSQL. Spending a code or a refresh token, and revoking a token or a family,
//! first holds the pair they belong to ([`PgStore::lock_pair`]) and then locks the row (`SELECT
//! … FOR UPDATE`), so that two concurrent redemptions or rotations run one after the other and
//! the second finds the first's mark and, at READ COMMITTED, the tokens it inserted; and so that
//! no revocation misses the successors of a rotation that was under way when it began.

use async_trait::async_trait;

use super::*;

#[async_trait]
impl Auth for PgStore {
    async fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(pg_error)?;
        Self::insert_token_in(&mut conn, token).await
    }

    async fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query(TOKEN_SELECT).bind(hash).fetch_optional(&self.pool).await.map_err(pg_error)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn insert_session(&self, session: &Session, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sessions (hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(&session.hash)
            .bind(&session.user_id)
            .bind(now.micros())
            .bind(session.expires_at.micros())
            .execute(&self.pool)
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    async fn session(&self, hash: &str, now: Timestamp) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query("SELECT hash, user_id, expires_at FROM sessions WHERE hash = $1 AND expires_at > $2")
            .bind(hash)
            .bind(now.micros())
            .fetch_optional(&self.pool)
            .await
            .map_err(pg_error)?;
        row.map(|row| {
            Ok(Session {
                hash: get(&row, "hash")?,
                user_id: get(&row, "user_id")?,
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
        let mut tx = self.pool.begin().await.map_err(pg_error)?;
        // Hold every key (in a fixed order, so two attempts cannot deadlock) until commit.
        let mut held: Vec<&String> = keys.iter().collect();
        held.sort();
        held.dedup();
        for key in held {
            sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                .bind(SIGN_IN_LOCK_CLASS)
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(pg_error)?;
        }
        let mut seen = Vec::with_capacity(keys.len());
        for key in keys {
            let (count, oldest): (i64, Option<i64>) =
                sqlx::query_as("SELECT COUNT(*), MIN(at) FROM sign_in_attempts WHERE key = $1 AND at >= $2")
                    .bind(key)
                    .bind(since.micros())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(pg_error)?;
            seen.push((u32::try_from(count).unwrap_or(u32::MAX), oldest.map(Timestamp::from_micros)));
        }
        if !admit(&seen) {
            return Ok(false);
        }
        for key in keys {
            sqlx::query("INSERT INTO sign_in_attempts (attempt, key, at) VALUES ($1, $2, $3)")
                .bind(attempt)
                .bind(key)
                .bind(now.micros())
                .execute(&mut *tx)
                .await
                .map_err(pg_error)?;
        }
        tx.commit().await.map_err(pg_error)?;
        Ok(true)
    }

    async fn sign_in_succeeded(&self, attempt: &str, forgive: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(pg_error)?;
        for (sql, value) in [
            ("DELETE FROM sign_in_attempts WHERE attempt = $1", attempt),
            ("DELETE FROM sign_in_attempts WHERE key = $1", forgive),
        ] {
            sqlx::query(sql).bind(value).execute(&mut *tx).await.map_err(pg_error)?;
        }
        tx.commit().await.map_err(pg_error)?;
        Ok(())
    }

    async fn prune_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(pg_error)?;
        let mut pruned = 0;
        for (sql, before) in [
            ("DELETE FROM sessions WHERE expires_at < $1", now),
            ("DELETE FROM pending_authorizations WHERE expires_at < $1", now),
            ("DELETE FROM auth_codes WHERE expires_at < $1", now.plus_seconds(-86_400)),
        ] {
            pruned += sqlx::query(sql).bind(before.micros()).execute(&mut *tx).await.map_err(pg_error)?.rows_affected();
        }
        sqlx::query("DELETE FROM sign_in_attempts WHERE at < $1")
            .bind(now.plus_seconds(-86_400).micros())
            .execute(&mut *tx)
            .await
            .map_err(pg_error)?;
        tx.commit().await.map_err(pg_error)?;
        Ok(pruned)
    }

    async fn insert_pending(&self, pending: &PendingAuthorization, now: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pending_authorizations (id, session_hash, client_id, redirect_uri, state, scopes, \
             code_challenge, include_granted, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&pending.id)
        .bind(&pending.session_hash)
        .bind(&pending.client_id)
        .bind(&pending.redirect_uri)
        .bind(&pending.state)
        .bind(pending.scopes.join(" "))
        .bind(&pending.code_challenge)
        .bind(pending.include_granted_scopes)
        .bind(now.micros())
        .bind(pending.expires_at.micros())
        .execute(&self.pool)
        .await
        .map_err(pg_error)?;
        Ok(())
    }

    async fn pending(&self, id: &str, now: Timestamp) -> Result<Option<PendingAuthorization>, StoreError> {
        let row = sqlx::query(
            "SELECT id, session_hash, client_id, redirect_uri, state, scopes, code_challenge, include_granted, expires_at \
             FROM pending_authorizations WHERE id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(now.micros())
        .fetch_optional(&self.pool)
        .await
        .map_err(pg_error)?;
        row.map(|row| {
            Ok(PendingAuthorization {
                id: get(&row, "id")?,
                session_hash: get(&row, "session_hash")?,
                client_id: get(&row, "client_id")?,
                redirect_uri: get(&row, "redirect_uri")?,
                state: get(&row, "state")?,
                scopes: words(&get::<String>(&row, "scopes")?),
                code_challenge: get(&row, "code_challenge")?,
                include_granted_scopes: get(&row, "include_granted")?,
                expires_at: ts(&row, "expires_at")?,
            })
        })
        .transpose()
    }

    async fn rebind_pending(&self, id: &str, session_hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE pending_authorizations SET session_hash = $1 WHERE id = $2")
            .bind(session_hash)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    async fn take_pending(&self, id: &str) -> Result<bool, StoreError> {
        // A concurrent DELETE of the same row waits for this one and then deletes nothing.
        let done = sqlx::query("DELETE FROM pending_authorizations WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(pg_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_code(&self, code: &AuthCode) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO auth_codes (hash, client_id, user_id, redirect_uri, code_challenge, scopes, access, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
        .execute(&self.pool)
        .await
        .map_err(pg_error)?;
        Ok(())
    }

    async fn code(&self, hash: &str) -> Result<Option<AuthCode>, StoreError> {
        let row = sqlx::query(
            "SELECT hash, client_id, user_id, redirect_uri, code_challenge, scopes, access, created_at, expires_at \
             FROM auth_codes WHERE hash = $1",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(pg_error)?;
        row.map(|row| {
            Ok(AuthCode {
                hash: get(&row, "hash")?,
                client_id: get(&row, "client_id")?,
                user_id: get(&row, "user_id")?,
                redirect_uri: get(&row, "redirect_uri")?,
                code_challenge: get(&row, "code_challenge")?,
                scopes: words(&get::<String>(&row, "scopes")?),
                access: get(&row, "access")?,
                created_at: ts(&row, "created_at")?,
                expires_at: ts(&row, "expires_at")?,
            })
        })
        .transpose()
    }

    async fn redeem_code(&self, hash: &str, now: Timestamp, issued: &[TokenRecord]) -> Result<Redemption, StoreError> {
        let mut tx = self.pool.begin().await.map_err(pg_error)?;
        // The pair first: a replay's revocation must not race a rotation of what the code issued.
        let pair: Option<(String, String)> =
            sqlx::query_as("SELECT user_id, client_id FROM auth_codes WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&mut *tx)
                .await
                .map_err(pg_error)?;
        let Some((user_id, client_id)) = pair else { return Ok(Redemption::Unknown) };
        Self::lock_pair(&mut tx, &user_id, &client_id).await?;
        let used: Option<Option<i64>> = sqlx::query_scalar("SELECT used_at FROM auth_codes WHERE hash = $1 FOR UPDATE")
            .bind(hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(pg_error)?;
        match used {
            None => Ok(Redemption::Unknown),
            Some(Some(_)) => {
                sqlx::query(concat!(
                    "UPDATE tokens SET revoked_at = $1 WHERE hash IN ",
                    "(SELECT hash FROM tokens WHERE code_hash = $2 AND revoked_at IS NULL ORDER BY hash FOR UPDATE)"
                ))
                .bind(now.micros())
                .bind(hash)
                .execute(&mut *tx)
                .await
                .map_err(pg_error)?;
                tx.commit().await.map_err(pg_error)?;
                Ok(Redemption::Replayed)
            }
            Some(None) => {
                sqlx::query("UPDATE auth_codes SET used_at = $1 WHERE hash = $2")
                    .bind(now.micros())
                    .bind(hash)
                    .execute(&mut *tx)
                    .await
                    .map_err(pg_error)?;
                for token in issued {
                    Self::insert_token_in(&mut tx, token).await?;
                }
                tx.commit().await.map_err(pg_error)?;
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
        let mut tx = self.pool.begin().await.map_err(pg_error)?;
        if !Self::lock_token_pair(&mut tx, hash).await? {
            return Ok(Rotation::Invalid);
        }
        // Disabling the user or the client revokes their tokens without the pair lock: sharing
        // their rows makes such a revocation wait for this refresh (and then see what it
        // issued), or this refresh wait for it (and then find the token revoked).
        sqlx::query(
            "SELECT 1 FROM tokens t JOIN users u ON u.id = t.user_id JOIN clients c ON c.id = t.client_id \
             WHERE t.hash = $1 FOR SHARE OF u, c",
        )
        .bind(hash)
        .execute(&mut *tx)
        .await
        .map_err(pg_error)?;
        let Some(row) =
            sqlx::query(TOKEN_USE_SELECT_FOR_UPDATE).bind(hash).fetch_optional(&mut *tx).await.map_err(pg_error)?
        else {
            return Ok(Rotation::Invalid);
        };
        let token = token_from_row(&row)?;
        if token.kind != TokenKind::Refresh {
            return Ok(Rotation::Invalid);
        }
        let successor = issued.iter().find(|t| t.kind == TokenKind::Refresh);
        if let Some(rotated_at) = token.rotated_at {
            // The pair is held, so the successor cannot be rotated or revoked meanwhile.
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
                tx.commit().await.map_err(pg_error)?;
                return Ok(Rotation::Repeated);
            }
            if let Some(family) = &token.family {
                Self::revoke_family_in(&mut tx, family, now).await?;
            }
            tx.commit().await.map_err(pg_error)?;
            return Ok(Rotation::Reused);
        }
        let last_used = Timestamp::from_micros(get::<i64>(&row, "last_used")?);
        if token.revoked_at.is_some() || token.expires_at <= now || rules.idle_since.is_some_and(|s| last_used < s) {
            return Ok(Rotation::Invalid);
        }
        // Rotated out (its successor takes over), or kept with its last use now.
        let mark = match successor {
            Some(_) => "UPDATE tokens SET rotated_at = $1, last_used_at = $1 WHERE hash = $2",
            None => "UPDATE tokens SET last_used_at = $1 WHERE hash = $2",
        };
        sqlx::query(mark).bind(now.micros()).bind(hash).execute(&mut *tx).await.map_err(pg_error)?;
        for token in issued {
            Self::insert_token_in(&mut tx, token).await?;
        }
        tx.commit().await.map_err(pg_error)?;
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
        let mut tx = self.pool.begin().await.map_err(pg_error)?;
        Self::lock_pair(&mut tx, user_id, client_id).await?;
        let beyond: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT hash, family FROM tokens WHERE user_id = $1 AND client_id = $2 AND kind = 'refresh' \
             AND revoked_at IS NULL AND rotated_at IS NULL AND expires_at > $3 \
             AND COALESCE(last_used_at, created_at) >= $4 ORDER BY created_at DESC, hash DESC OFFSET $5",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(now.micros())
        .bind(idle_since.micros())
        .bind(i64::from(keep))
        .fetch_all(&mut *tx)
        .await
        .map_err(pg_error)?;
        for (hash, family) in &beyond {
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE hash = $2 AND revoked_at IS NULL")
                .bind(now.micros())
                .bind(hash)
                .execute(&mut *tx)
                .await
                .map_err(pg_error)?;
            if let Some(family) = family {
                Self::revoke_family_in(&mut tx, family, now).await?;
            }
        }
        tx.commit().await.map_err(pg_error)?;
        Ok(beyond.len() as u64)
    }

    async fn revoke_token(&self, hash: &str, now: Timestamp) -> Result<Option<TokenRecord>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(pg_error)?;
        if !Self::lock_token_pair(&mut tx, hash).await? {
            return Ok(None);
        }
        let Some(row) = sqlx::query(TOKEN_SELECT).bind(hash).fetch_optional(&mut *tx).await.map_err(pg_error)? else {
            return Ok(None);
        };
        let token = token_from_row(&row)?;
        // The token and (for a refresh token) its family in one statement, rows locked in hash
        // order like every bulk revocation.
        let family = match token.kind {
            TokenKind::Refresh => token.family.as_deref(),
            TokenKind::Access => None,
        };
        sqlx::query(concat!(
            "UPDATE tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE hash IN ",
            "(SELECT hash FROM tokens WHERE hash = $2 OR (family = $3 AND revoked_at IS NULL) ORDER BY hash FOR UPDATE)"
        ))
        .bind(now.micros())
        .bind(hash)
        .bind(family)
        .execute(&mut *tx)
        .await
        .map_err(pg_error)?;
        tx.commit().await.map_err(pg_error)?;
        Ok(Some(token))
    }

    async fn revoke_family(&self, family: &str, now: Timestamp) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(pg_error)?;
        // A family belongs to one pair; holding it keeps a rotation from adding a live token to
        // the family behind this revocation's back.
        let pair: Option<(String, String)> =
            sqlx::query_as("SELECT user_id, client_id FROM tokens WHERE family = $1 LIMIT 1")
                .bind(family)
                .fetch_optional(&mut *tx)
                .await
                .map_err(pg_error)?;
        let Some((user_id, client_id)) = pair else { return Ok(()) };
        Self::lock_pair(&mut tx, &user_id, &client_id).await?;
        Self::revoke_family_in(&mut tx, family, now).await?;
        tx.commit().await.map_err(pg_error)?;
        Ok(())
    }
}
