//! Bearer tokens: minting and authenticating (SPEC §4.1 E1–E4, §10.5).
//!
//! A token is 256 random bits, base64url-encoded with a type prefix. Only its SHA-256 is stored,
//! so a copy of the database cannot be replayed as credentials.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use dataport_types::Timestamp;

use crate::catalogue::Catalogue;
use crate::error::ApiError;
use crate::model::{TokenKind, TokenRecord};
use crate::store::Store;

/// Lifetime of access tokens, as Google issues them.
pub const ACCESS_TOKEN_SECONDS: i64 = 3599;

/// The caller of an API method, established from a valid access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub client_id: String,
    /// Resource groups the token grants, in catalogue order.
    pub scopes: Vec<String>,
}

/// A freshly minted secret: the value to hand out once, and the hash to store.
pub struct Minted {
    pub value: String,
    pub hash: String,
}

/// Mints a new random token with a readable prefix (`dpa_` access, `dpr_` refresh).
pub fn mint(kind: TokenKind) -> Minted {
    mint_secret(match kind {
        TokenKind::Access => "dpa_",
        TokenKind::Refresh => "dpr_",
    })
}

/// Mints 256 random bits, base64url-encoded behind `prefix` (which says what the secret is for:
/// `dpc_` codes, `dps_` client secrets, `dpk_` session cookies, `dpf_` form tokens).
pub fn mint_secret(prefix: &str) -> Minted {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let value = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_token(&value);
    Minted { value, hash }
}

/// The stored form of a token: lowercase hex SHA-256.
pub fn hash_token(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// The stored hash of a presented bearer token (E1, E2 for absurd lengths).
pub fn presented_hash(token: Option<&str>) -> Result<String, ApiError> {
    let token = token.ok_or(ApiError::CredentialsMissing)?;
    if token.is_empty() || token.len() > 512 {
        return Err(ApiError::AccessTokenInvalid);
    }
    Ok(hash_token(token))
}

/// The principal of a stored token (E2–E4).
pub fn principal(record: Option<&TokenRecord>, catalogue: &Catalogue, now: Timestamp) -> Result<Principal, ApiError> {
    let record = record.ok_or(ApiError::AccessTokenInvalid)?;
    if record.kind != TokenKind::Access || record.revoked_at.is_some() {
        return Err(ApiError::AccessTokenInvalid);
    }
    if record.expires_at <= now {
        return Err(ApiError::AccessTokenExpired);
    }
    let scopes: Vec<String> = record.scopes.iter().filter(|s| catalogue.get(s).is_some()).cloned().collect();
    if scopes.is_empty() {
        return Err(ApiError::AccessTokenScopeInsufficient);
    }
    Ok(Principal { user_id: record.user_id.clone(), client_id: record.client_id.clone(), scopes })
}

/// Issues an access token for the pair with the given scopes.
pub async fn issue_access_token(
    store: &dyn Store,
    user_id: &str,
    client_id: &str,
    scopes: Vec<String>,
    now: Timestamp,
    lifetime_seconds: i64,
) -> Result<String, ApiError> {
    let minted = mint(TokenKind::Access);
    store
        .insert_token(&TokenRecord {
            hash: minted.hash,
            kind: TokenKind::Access,
            user_id: user_id.to_owned(),
            client_id: client_id.to_owned(),
            scopes,
            created_at: now,
            expires_at: now.plus_seconds(lifetime_seconds),
            revoked_at: None,
            family: None,
            code_hash: None,
            access: None,
            rotated_at: None,
        })
        .await?;
    Ok(minted.value)
}
