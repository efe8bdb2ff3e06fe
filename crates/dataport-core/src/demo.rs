//! The demo user and app of emulator mode (SPEC §13): user `demo` with the password `demo`, and a
//! public client that may redirect to any loopback port. A published password is safe only where
//! nobody else reaches the server, so by default they exist only in pure emulator mode on
//! loopback; an operator may ask for them anywhere, and is warned loudly whenever they exist.

use std::net::SocketAddr;

use dataport_types::Timestamp;

use crate::model::{Client, RefreshRotation};
use crate::store::StoreError;
use crate::users::{hash_password, verify_password};
use crate::{Config, Dataport};

pub const DEMO_USER: &str = "demo";
pub const DEMO_PASSWORD: &str = "demo";
pub const DEMO_CLIENT: &str = "demo-client";

/// Whether a server with `config` listening on `listen` gets the demo accounts: `config.demo`
/// when set, else only in pure emulator mode (the built-in catalogue, no trusted-header
/// sign-in) with both the listen address and the public origin on loopback over plain http.
pub fn wanted(config: &Config, listen: SocketAddr) -> bool {
    config.demo.unwrap_or_else(|| {
        config.catalogue_path.is_none()
            && config.trusted_header.is_none()
            && listen.ip().is_loopback()
            && (config.public_origin.is_empty() || crate::oauth::is_loopback(&config.public_origin))
    })
}

fn demo_client() -> Client {
    let loopback = [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://[::1]/",
        "http://127.0.0.1/callback",
        "http://localhost/callback",
    ];
    Client {
        id: DEMO_CLIENT.to_owned(),
        name: "Demo app".to_owned(),
        redirect_uris: loopback.iter().map(|u| (*u).to_owned()).collect(),
        public: true,
        disabled: false,
        secret_hash: None,
        // As Google's clients: apps tested against the emulator meet what they will at Google.
        refresh_rotation: Some(RefreshRotation::Never),
    }
}

impl Dataport {
    /// Creates the demo user and client if they are missing (the password is hashed only when
    /// the user has none: Argon2id is deliberately slow).
    pub async fn seed_demo(&self) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let existing = self.store.credentials(DEMO_USER).await?;
        if existing.as_ref().is_none_or(|c| c.password_hash.is_none()) {
            let hash = tokio::task::spawn_blocking(|| hash_password(DEMO_PASSWORD))
                .await
                .map_err(|e| StoreError::Database(e.to_string()))?
                .map_err(StoreError::Database)?;
            if existing.is_none() {
                self.store.create_user(DEMO_USER, DEMO_USER, Some(&hash), now).await?;
            } else {
                self.store.set_password(DEMO_USER, &hash).await?;
            }
        }
        self.store.ensure_client(&demo_client(), now).await?;
        Ok(())
    }

    /// Whether anyone can sign in as `demo` with the published password.
    pub async fn demo_account_open(&self) -> Result<bool, StoreError> {
        let Some(credentials) = self.store.credentials(DEMO_USER).await? else { return Ok(false) };
        let (Some(hash), false) = (credentials.password_hash, credentials.user.disabled) else { return Ok(false) };
        Ok(tokio::task::spawn_blocking(move || verify_password(DEMO_PASSWORD, &hash)).await.unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_accounts_only_where_nobody_else_reaches_the_server() {
        let loopback: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let mut config = Config::new(std::path::Path::new("/nonexistent"));
        config.public_origin = String::new();
        assert!(wanted(&config, loopback));
        assert!(!wanted(&config, "0.0.0.0:8080".parse().expect("addr")), "listening on every interface");
        config.public_origin = "https://portability.example".into();
        assert!(!wanted(&config, loopback), "a public origin");
        config.public_origin = "http://127.0.0.1:8080".into();
        assert!(wanted(&config, loopback));
        config.trusted_header = Some("X-User".into());
        assert!(!wanted(&config, loopback), "trusted-header sign-in is an operator's setup");
        config.trusted_header = None;
        config.catalogue_path = Some("catalogue.toml".into());
        assert!(!wanted(&config, loopback), "an operator catalogue");
        config.demo = Some(true);
        assert!(wanted(&config, loopback), "asked for");
        config.catalogue_path = None;
        config.demo = Some(false);
        assert!(!wanted(&config, loopback), "refused");
    }
}
