//! The OAuth 2.0 authorization server (SPEC §10): authorization requests, codes, the token
//! endpoint, revocation and metadata. Pages and cookies are the HTTP layer's; the rules are here.
//!
//! RFCs: 6749 (the framework), 7636 (PKCE), 7009 (revocation), 8252 (native apps: loopback
//! redirects), 8414 (metadata), 9207 (`iss` in responses), 9700 (security BCP: refresh-token
//! rotation with reuse detection, no `plain` PKCE).
//!
//! Refresh tokens behave like Google's (SPEC §10.3): a confidential client's is not rotated —
//! it authenticates at `/token`, which binds the token to it (RFC 9700 §4.14.2's alternative to
//! rotation) — so the one refresh token an app stored keeps working until it is revoked, its
//! grant ends, it is unused for six months, or the per-(user, client) cap drops it. A public
//! client's is rotated with reuse detection, with a short window in which a repeated refresh
//! gets the same successor; the operator may choose either per client.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use dataport_types::Timestamp;

use crate::Dataport;
use crate::auth::{Minted, hash_token, mint, mint_secret};
use crate::consent::{self, Duration};
use crate::model::GrantAccess;
use crate::model::{
    AuditEntry, AuthCode, Client, PendingAuthorization, RefreshRotation, Session, TokenKind, TokenRecord, User,
};
use crate::store::{Redemption, RefreshRules, Rotation, StoreError};

/// Codes live 60 s (SPEC §10.3).
pub const CODE_SECONDS: i64 = 60;
/// A login-and-consent round trip must finish within this.
pub const PENDING_SECONDS: i64 = 15 * 60;
/// Sign-in sessions of the consent pages.
pub const SESSION_SECONDS: i64 = 8 * 3600;

/// The query of an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, Google's extras).
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub include_granted_scopes: Option<String>,
    pub access_type: Option<String>,
    pub prompt: Option<String>,
    pub login_hint: Option<String>,
}

/// Why an authorization request cannot proceed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or redirect URI cannot be trusted: show a page, never redirect (RFC 6749
    /// §4.1.2.1, no open redirects).
    Page(String),
    /// Send the user back to the client with `error` (the full redirect URL).
    Redirect(String),
    Store,
}

impl From<StoreError> for AuthorizeError {
    fn from(_: StoreError) -> Self {
        Self::Store
    }
}

/// An error of the token or revocation endpoint (RFC 6749 §5.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OAuthError {
    #[serde(skip)]
    pub status: u16,
    pub error: &'static str,
    pub error_description: String,
    /// The client tried HTTP Basic: a 401 must challenge for it.
    #[serde(skip)]
    pub basic_challenge: bool,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = if error == "invalid_client" { 401 } else { 400 };
        Self { status, error, error_description: description.into(), basic_challenge: false }
    }

    fn server() -> Self {
        Self { status: 503, ..Self::new("temporarily_unavailable", "The service is currently unavailable.") }
    }
}

fn invalid_grant(description: &str) -> OAuthError {
    OAuthError::new("invalid_grant", description)
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "token endpoint: store failure");
        Self::server()
    }
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    /// A new refresh token: at the code exchange, and at a refresh that rotates. A refresh
    /// that does not rotate has none, as Google's: the app keeps the one it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_in: Option<i64>,
}

/// The form of a token request; client credentials may also come in a Basic header.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// An authorization request that passed validation, ready for sign-in and consent.
#[derive(Clone, Debug)]
pub struct Consent {
    pub pending: PendingAuthorization,
    pub client: Client,
}

/// What a refresh does to `client`'s refresh token (SPEC §10.3): the operator's choice if made;
/// else a confidential client's stays, since a stolen copy is useless without the client's
/// secret (the sender constraint RFC 9700 §4.14.2 accepts instead of rotation), and a public
/// client's rotates, since nothing else binds it to the app.
pub fn refresh_rotation(client: &Client) -> RefreshRotation {
    client.refresh_rotation.unwrap_or(if client.public { RefreshRotation::Rotate } else { RefreshRotation::Never })
}

/// Whether `uri` is a loopback redirect (RFC 8252 §7.3): http to 127.0.0.1, [::1] or localhost.
fn loopback_parts(uri: &str) -> Option<(String, String)> {
    let rest = uri.strip_prefix("http://")?;
    let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
    let host = if let Some(v6) = authority.strip_prefix('[') {
        let (host, port) = v6.split_once(']')?;
        if !(port.is_empty() || port.starts_with(':') && port[1..].bytes().all(|b| b.is_ascii_digit())) {
            return None;
        }
        format!("[{host}]")
    } else {
        let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
        if !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        host.to_owned()
    };
    let path = if path.is_empty() { "/".to_owned() } else { path.to_owned() };
    matches!(host.as_str(), "127.0.0.1" | "[::1]" | "localhost").then_some((host, path))
}

/// Whether `uri` is an http loopback URI (RFC 8252 §7.3).
pub fn is_loopback(uri: &str) -> bool {
    loopback_parts(uri).is_some()
}

/// Checks a redirect URI for registration (RFC 6749 §3.1.2, RFC 8252 §7.1 and §7.3) with the
/// WHATWG URL parser that browsers use (the `url` crate), and returns it as parsed.
///
/// It must be https with a host, loopback http, or a private-use scheme such as
/// `com.example.app:/cb`; without a fragment, a backslash or userinfo; and it must be written in
/// its parsed form (it round-trips). So what the consent page names as its host ([`redirect_host`])
/// is where a browser sends the code: `https://evil.example\@good.example/cb` goes to
/// `evil.example`, and is refused.
pub fn parse_redirect_uri(raw: &str) -> Result<url::Url, String> {
    if raw.contains('\\') {
        return Err(format!("redirect URI {raw:?}: a backslash is read as '/' by browsers"));
    }
    let uri = url::Url::parse(raw).map_err(|e| format!("redirect URI {raw:?}: {e}"))?;
    if !uri.username().is_empty() || uri.password().is_some() {
        return Err(format!("redirect URI {raw:?}: no user name or password (…@) in a redirect URI"));
    }
    let private_scheme = uri.scheme().contains('.');
    let https = uri.scheme() == "https" && uri.host_str().is_some_and(|h| !h.is_empty());
    if !(https || is_loopback(raw) || private_scheme) || uri.fragment().is_some() {
        return Err(format!("redirect URI {raw:?}: use https, a loopback http URI, or an app scheme; no fragment"));
    }
    if uri.as_str() != raw {
        return Err(format!("redirect URI {raw:?}: write it as it parses, {:?}", uri.as_str()));
    }
    Ok(uri)
}

/// The host (and a port other than the scheme's default) a redirect URI sends the browser to, as
/// the consent page and the account page name it: parsed as a browser parses it. A URI without
/// a host (a private-use scheme) is named by its scheme; one that does not parse, in full.
pub fn redirect_host(uri: &str) -> String {
    let Ok(parsed) = url::Url::parse(uri) else { return uri.to_owned() };
    match (parsed.host_str(), parsed.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) if !host.is_empty() => host.to_owned(),
        _ => parsed.scheme().to_owned(),
    }
}

/// Exact match, except that a loopback URI may use any port (RFC 8252 §7.3).
pub fn redirect_uri_allowed(registered: &[String], requested: &str) -> bool {
    if requested.contains('#') {
        return false; // RFC 6749 §3.1.2: no fragment
    }
    registered.iter().any(|r| {
        r == requested
            || match (loopback_parts(r), loopback_parts(requested)) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            }
    })
}

/// `uri` with the response parameters appended to its query.
fn with_params(uri: &str, params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{}", query.finish())
}

/// RFC 7636 §4.2: `BASE64URL(SHA256(verifier)) == challenge`.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    constant_eq(computed.as_bytes(), challenge.as_bytes())
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn valid_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

impl Dataport {
    /// The issuer identifier (RFC 8414 §2; RFC 9207 `iss`).
    pub fn issuer(&self) -> &str {
        &self.config.public_origin
    }

    /// The scope string of a group.
    pub fn scope_of(&self, group: &str) -> String {
        format!("{}{group}", self.config.scope_prefix)
    }

    /// Maps requested scope strings to groups: the configured prefix, Google's, or the bare
    /// `dataportability.` form (SPEC §5). `Err` names the first unknown scope.
    pub fn parse_scopes(&self, scope: &str) -> Result<Vec<String>, String> {
        let mut groups = Vec::new();
        for s in scope.split_whitespace() {
            let group = s
                .strip_prefix(self.config.scope_prefix.as_str())
                .or_else(|| s.strip_prefix(crate::catalogue::GOOGLE_SCOPE_PREFIX))
                .or_else(|| s.strip_prefix("dataportability."))
                .filter(|g| self.catalogue.get(g).is_some())
                .ok_or_else(|| s.to_owned())?;
            if !groups.iter().any(|g| g == group) {
                groups.push(group.to_owned());
            }
        }
        self.catalogue.sort(&mut groups);
        Ok(groups)
    }

    /// Validates an authorization request (SPEC §10.1). It writes nothing: a request that fails
    /// here costs the server a read, never a session or a row ([`Dataport::begin_authorization`]
    /// records a valid one).
    pub async fn check_authorization(&self, request: &AuthorizationRequest) -> Result<Consent, AuthorizeError> {
        let client_id = request.client_id.as_deref().unwrap_or_default();
        let client = match self.store.client(client_id).await? {
            Some(client) if !client.disabled => client,
            Some(_) => return Err(AuthorizeError::Page(format!("The app {client_id:?} has been disabled."))),
            None => return Err(AuthorizeError::Page(format!("There is no app with client id {client_id:?}."))),
        };
        let Some(redirect_uri) = request.redirect_uri.clone() else {
            return Err(AuthorizeError::Page("The request has no redirect_uri.".into()));
        };
        if !redirect_uri_allowed(&client.redirect_uris, &redirect_uri) {
            return Err(AuthorizeError::Page(format!(
                "The redirect URI {redirect_uri:?} is not registered for {}.",
                client.name
            )));
        }
        let state = request.state.clone();
        let back = |error: &str, description: &str| {
            let params = [("error", error), ("error_description", description)];
            AuthorizeError::Redirect(self.redirect_back(&redirect_uri, state.as_deref(), &params))
        };
        if request.response_type.as_deref() != Some("code") {
            return Err(back("unsupported_response_type", "Only response_type=code is supported."));
        }
        let scopes = match self.parse_scopes(request.scope.as_deref().unwrap_or_default()) {
            Ok(scopes) if !scopes.is_empty() => scopes,
            Ok(_) => return Err(back("invalid_scope", "The request names no scope.")),
            Err(unknown) => return Err(back("invalid_scope", &format!("Unknown scope {unknown}."))),
        };
        let code_challenge = match (request.code_challenge.as_deref(), request.code_challenge_method.as_deref()) {
            (Some(c), Some("S256")) if valid_pkce_value(c) => Some(c.to_owned()),
            (Some(_), Some("S256")) => return Err(back("invalid_request", "Malformed code_challenge.")),
            (Some(_), None | Some("plain")) => {
                return Err(back("invalid_request", "code_challenge_method must be S256; plain is not allowed."));
            }
            (Some(_), Some(_)) => return Err(back("invalid_request", "Unsupported code_challenge_method.")),
            (None, Some(_)) => return Err(back("invalid_request", "code_challenge_method without code_challenge.")),
            (None, None) if client.public => {
                return Err(back("invalid_request", "PKCE (code_challenge with S256) is required for this app."));
            }
            (None, None) => None,
        };
        let now = Timestamp::now();
        let pending = PendingAuthorization {
            id: mint_secret("dpp_").hash,
            session_hash: String::new(),
            client_id: client.id.clone(),
            redirect_uri,
            state,
            scopes,
            code_challenge,
            include_granted_scopes: request.include_granted_scopes.as_deref() == Some("true"),
            expires_at: now.plus_seconds(PENDING_SECONDS),
        };
        Ok(Consent { pending, client })
    }

    /// Records a checked request for the browser session that will sign in and consent.
    pub async fn begin_authorization(&self, consent: &mut Consent, session_hash: &str) -> Result<(), StoreError> {
        consent.pending.session_hash = session_hash.to_owned();
        self.store.insert_pending(&consent.pending, Timestamp::now()).await
    }

    /// The live sign-in session the cookie value `cookie` names. `Err` is an outage, which the
    /// pages show as such (never as an expired form).
    pub async fn session(&self, cookie: &str) -> Result<Option<Session>, StoreError> {
        self.store.session(&hash_token(cookie), Timestamp::now()).await
    }

    /// Starts a sign-in session, signed in as `user_id` if given: the record, and the cookie value
    /// to hand the browser (only its hash is stored).
    pub async fn start_session(&self, user_id: Option<&str>) -> Result<(Session, String), StoreError> {
        let cookie = mint_secret("dpk_");
        let now = Timestamp::now();
        let session = Session {
            hash: cookie.hash,
            user_id: user_id.map(str::to_owned),
            expires_at: now.plus_seconds(SESSION_SECONDS),
        };
        self.store.insert_session(&session, now).await?;
        Ok((session, cookie.value))
    }

    /// A user by id.
    pub async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.store.user(id).await
    }

    /// Moves a pending request to the session a sign-in has just created (the session it was
    /// made in is not signed in, and is worth nothing to whoever planted it).
    pub async fn rebind_pending(&self, consent: &Consent, session_hash: &str) -> Result<(), StoreError> {
        self.store.rebind_pending(&consent.pending.id, session_hash).await
    }

    /// The pending authorization `id` if it belongs to `session`, with its client.
    pub async fn pending_consent(&self, id: &str, session: &Session) -> Result<Option<Consent>, StoreError> {
        let now = Timestamp::now();
        let Some(pending) = self.store.pending(id, now).await? else { return Ok(None) };
        if !constant_eq(pending.session_hash.as_bytes(), session.hash.as_bytes()) {
            return Ok(None);
        }
        let Some(client) = self.store.client(&pending.client_id).await?.filter(|c| !c.disabled) else {
            return Ok(None);
        };
        Ok(Some(Consent { pending, client }))
    }

    /// Google's rule: `include_granted_scopes=true` while some requested scopes are already
    /// granted to the pair is refused. Returns the redirect to send the user to, if so.
    pub async fn incremental_auth_refusal(
        &self,
        consent: &Consent,
        user_id: &str,
    ) -> Result<Option<String>, StoreError> {
        if !consent.pending.include_granted_scopes {
            return Ok(None);
        }
        let now = Timestamp::now();
        let grants = self.store.grants(user_id, &consent.client.id).await?;
        let overlap = grants.iter().any(|g| {
            consent.pending.scopes.contains(&g.resource)
                && (g.access == GrantAccess::OneTime || g.expires_at.is_some_and(|e| e > now))
        });
        if !overlap {
            return Ok(None);
        }
        self.store.take_pending(&consent.pending.id).await?;
        Ok(Some(self.redirect_error(
            &consent.pending,
            "invalid_request",
            "Incremental auth is not allowed for the requested scopes.",
        )))
    }

    fn redirect_error(&self, pending: &PendingAuthorization, error: &str, description: &str) -> String {
        let params = [("error", error), ("error_description", description)];
        self.redirect_back(&pending.redirect_uri, pending.state.as_deref(), &params)
    }

    /// The redirect back to the app: `params`, then the request's `state` and our `iss`
    /// (RFC 6749 §4.1.2, RFC 9207).
    fn redirect_back(&self, redirect_uri: &str, state: Option<&str>, params: &[(&str, &str)]) -> String {
        let mut all = params.to_vec();
        if let Some(state) = state {
            all.push(("state", state));
        }
        all.push(("iss", self.issuer()));
        with_params(redirect_uri, &all)
    }

    /// The user denied: `error=access_denied` back to the app. `None` if the request was used up.
    pub async fn deny(&self, consent: &Consent, user_id: &str) -> Result<Option<String>, StoreError> {
        if !self.store.take_pending(&consent.pending.id).await? {
            return Ok(None);
        }
        self.record(AuditEntry {
            event: "consent.denied".into(),
            user_id: Some(user_id.to_owned()),
            client_id: Some(consent.client.id.clone()),
            resources: consent.pending.scopes.clone(),
            ..AuditEntry::now()
        })
        .await;
        Ok(Some(self.redirect_error(&consent.pending, "access_denied", "The user denied access.")))
    }

    /// The user allowed `groups` (a subset of the request) for `duration`: records the grants and
    /// sends a fresh code back to the app. `None` if the request was used up.
    pub async fn allow(
        &self,
        consent: &Consent,
        user_id: &str,
        groups: &[String],
        duration: Duration,
    ) -> Result<Option<String>, StoreError> {
        let groups: Vec<String> = groups.iter().filter(|g| consent.pending.scopes.contains(g)).cloned().collect();
        if groups.is_empty() || !self.config.consent_durations.contains(&duration) {
            return self.deny(consent, user_id).await;
        }
        if !self.store.take_pending(&consent.pending.id).await? {
            return Ok(None);
        }
        let now = Timestamp::now();
        let granted = match consent::grant(
            self.store.as_ref(),
            &self.catalogue,
            user_id,
            &consent.client.id,
            &groups,
            duration,
            now,
        )
        .await
        {
            Ok(granted) => granted,
            Err(consent::ConsentError::Store(e)) => return Err(e),
            Err(e) => {
                return Ok(Some(self.redirect_error(&consent.pending, "invalid_scope", &e.to_string())));
            }
        };
        let code_value = mint_secret("dpc_").value;
        self.store
            .insert_code(&AuthCode {
                hash: hash_token(&code_value),
                client_id: consent.client.id.clone(),
                user_id: user_id.to_owned(),
                redirect_uri: consent.pending.redirect_uri.clone(),
                code_challenge: consent.pending.code_challenge.clone(),
                scopes: granted.clone(),
                access: duration.label().to_owned(),
                created_at: now,
                expires_at: now.plus_seconds(CODE_SECONDS),
            })
            .await?;
        self.record(AuditEntry {
            event: "consent.granted".into(),
            user_id: Some(user_id.to_owned()),
            client_id: Some(consent.client.id.clone()),
            resources: granted,
            detail: serde_json::json!({ "access": duration.label() }),
            ..AuditEntry::now()
        })
        .await;
        let params = [("code", code_value.as_str())];
        Ok(Some(self.redirect_back(&consent.pending.redirect_uri, consent.pending.state.as_deref(), &params)))
    }

    /// Appends to the audit log; a failure is logged, never fatal to the request.
    pub async fn record(&self, entry: AuditEntry) {
        if let Err(e) = self.store.audit(&entry).await {
            tracing::error!(error = %e, event = %entry.event, "could not write the audit log");
        }
    }

    /// Authenticates the client of a token or revocation request (RFC 6749 §2.3.1).
    async fn authenticate_client(
        &self,
        request: &TokenRequest,
        basic: Option<(String, String)>,
    ) -> Result<Client, OAuthError> {
        let used_basic = basic.is_some();
        let invalid = |description: &str| OAuthError {
            basic_challenge: used_basic,
            ..OAuthError::new("invalid_client", description)
        };
        // RFC 6749 §2.3.1 lets a client leave out an empty secret: an empty one counts as none
        // (Google's libraries send one for public clients).
        let body_secret = request.client_secret.clone().filter(|s| !s.is_empty());
        let (client_id, secret) = match basic {
            Some(_) if body_secret.is_some() => {
                return Err(OAuthError::new("invalid_request", "Use one client authentication method, not two."));
            }
            Some((id, secret)) => (id, Some(secret).filter(|s| !s.is_empty())),
            None => match &request.client_id {
                Some(id) => (id.clone(), body_secret),
                None => return Err(invalid("Client authentication is required.")),
            },
        };
        let client = match self.store.client(&client_id).await? {
            Some(client) if !client.disabled => client,
            _ => return Err(invalid("Unknown or disabled client.")),
        };
        match (&client.secret_hash, secret) {
            (Some(stored), Some(given)) if constant_eq(stored.as_bytes(), hash_token(&given).as_bytes()) => Ok(client),
            (None, None) => Ok(client),
            (None, Some(_)) => Err(invalid("This is a public client: it has no secret.")),
            _ => Err(invalid("Client authentication failed.")),
        }
    }

    /// The token endpoint (RFC 6749 §4.1.3, §6).
    pub async fn token(
        &self,
        request: TokenRequest,
        basic: Option<(String, String)>,
    ) -> Result<TokenResponse, OAuthError> {
        let client = self.authenticate_client(&request, basic).await?;
        match request.grant_type.as_deref() {
            Some("authorization_code") => self.redeem(&client, &request).await,
            Some("refresh_token") => self.refresh(&client, &request).await,
            Some(_) => Err(OAuthError::new("unsupported_grant_type", "Supported: authorization_code, refresh_token.")),
            None => Err(OAuthError::new("invalid_request", "grant_type is required.")),
        }
    }

    /// Exchanges a code (RFC 6749 §4.1.3). The code is read and checked first; then spending it
    /// and storing its tokens is one store transaction, so a replay racing this redemption
    /// revokes exactly what it issued. A code that fails a check is spent all the same.
    async fn redeem(&self, client: &Client, request: &TokenRequest) -> Result<TokenResponse, OAuthError> {
        let presented =
            request.code.as_deref().ok_or_else(|| OAuthError::new("invalid_request", "code is required."))?;
        let hash = hash_token(presented);
        let now = Timestamp::now();
        let Some(code) = self.store.code(&hash).await? else { return Err(invalid_grant("Unknown code.")) };
        let (response, issued) = match self.check_code(client, &code, request, now).await? {
            Ok(()) => {
                let duration = Duration::from_label(&code.access).unwrap_or(Duration::OneTime);
                let refresh_expires = match duration.seconds() {
                    Some(seconds) => now.plus_seconds(seconds),
                    None => now.plus_seconds(self.config.one_time_refresh_seconds),
                };
                let family = uuid::Uuid::new_v4().to_string();
                let minted = self.mint_tokens(
                    &code.user_id,
                    client,
                    (&code.scopes, &code.scopes),
                    duration,
                    (refresh_expires, Some(mint(TokenKind::Refresh))),
                    &family,
                    Some(&code.hash),
                    now,
                )?;
                (Ok(minted.0), minted.1)
            }
            Err(refused) => (Err(refused), Vec::new()),
        };
        match self.revoking(self.store.redeem_code(&hash, now, &issued)).await? {
            Redemption::Fresh => {}
            Redemption::Replayed => {
                self.record(AuditEntry {
                    event: "code.replayed".into(),
                    client_id: Some(client.id.clone()),
                    ..AuditEntry::now()
                })
                .await;
                return Err(invalid_grant("The code was already used; the tokens issued for it are revoked."));
            }
            Redemption::Unknown => return Err(invalid_grant("Unknown code.")),
        }
        let response = response?;
        self.cap_refresh_tokens(&code.user_id, &client.id, now).await;
        self.metrics.token_issued("authorization_code");
        self.record(AuditEntry {
            event: "token.issued".into(),
            user_id: Some(code.user_id.clone()),
            client_id: Some(client.id.clone()),
            resources: code.scopes.clone(),
            ..AuditEntry::now()
        })
        .await;
        Ok(response)
    }

    /// The checks of a code exchange (RFC 6749 §4.1.3, RFC 7636 §4.6): the inner `Err` is the refusal.
    async fn check_code(
        &self,
        client: &Client,
        code: &AuthCode,
        request: &TokenRequest,
        now: Timestamp,
    ) -> Result<Result<(), OAuthError>, StoreError> {
        let refuse = |d: &str| Ok(Err(invalid_grant(d)));
        if code.client_id != client.id {
            return refuse("The code was issued to another client.");
        }
        if code.expires_at <= now {
            return refuse("The code has expired.");
        }
        if request.redirect_uri.as_deref() != Some(code.redirect_uri.as_str()) {
            return refuse("redirect_uri does not match the authorization request.");
        }
        match (&code.code_challenge, request.code_verifier.as_deref()) {
            (Some(challenge), Some(verifier)) if valid_pkce_value(verifier) && pkce_matches(verifier, challenge) => {}
            (Some(_), Some(_)) => return refuse("The code_verifier does not match the code_challenge."),
            (Some(_), None) => return refuse("code_verifier is required."),
            (None, Some(_)) => {
                return refuse("code_verifier given, but the authorization request had no code_challenge.");
            }
            (None, None) if client.public => return refuse("PKCE is required for public clients."),
            (None, None) => {}
        }
        if self.store.user(&code.user_id).await?.is_none_or(|u| u.disabled) {
            return refuse("The user is disabled.");
        }
        Ok(Ok(()))
    }

    /// Google's cap on live refresh tokens per (user, client): the consent that passes
    /// `refresh_token_cap` drops the oldest, each with its access tokens, and says so in the
    /// audit log. A failure is logged, not answered: the new tokens are stored already, and the
    /// next consent drops what this one could not.
    async fn cap_refresh_tokens(&self, user_id: &str, client_id: &str, now: Timestamp) {
        let idle_since = now.plus_seconds(-self.config.refresh_idle_seconds);
        let keep = self.config.refresh_token_cap;
        let dropped =
            match self.revoking(self.store.drop_oldest_refresh(user_id, client_id, keep, idle_since, now)).await {
                Ok(dropped) => dropped,
                Err(e) => {
                    tracing::error!(error = %e, "token endpoint: could not apply the refresh-token cap");
                    return;
                }
            };
        if dropped > 0 {
            self.record(AuditEntry {
                event: "token.revoked".into(),
                user_id: Some(user_id.to_owned()),
                client_id: Some(client_id.to_owned()),
                detail: serde_json::json!({ "kind": "refresh", "by": "cap", "count": dropped }),
                ..AuditEntry::now()
            })
            .await;
        }
    }

    /// The successor a rotation gives refresh token `presented`: derived from it under the
    /// signing key, so that a refresh repeated within the reuse window answers the very token
    /// the first one did (only hashes are stored), and nobody without the key can compute it.
    fn successor_of(&self, presented: &str) -> Minted {
        let digest = self.signer.keyed_digest("dataport refresh-token successor v1", presented.as_bytes());
        let value = format!("dpr_{}", URL_SAFE_NO_PAD.encode(digest));
        Minted { hash: hash_token(&value), value }
    }

    /// Exchanges a refresh token for an access token (RFC 6749 §6), and for a successor when
    /// the client's refresh tokens rotate ([`refresh_rotation`]). The token is read and checked
    /// first; using it and storing what it is exchanged for is then one store transaction, so a
    /// reuse racing this refresh revokes the successors too (RFC 9700 §4.14.2), and a repeat
    /// within `refresh_reuse_seconds` of the rotation gets the same successor.
    async fn refresh(&self, client: &Client, request: &TokenRequest) -> Result<TokenResponse, OAuthError> {
        let presented = request
            .refresh_token
            .as_deref()
            .ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is required."))?;
        let hash = hash_token(presented);
        let now = Timestamp::now();
        let old = match self.store.token(&hash).await? {
            Some(old) if old.kind == TokenKind::Refresh => old,
            _ => return Err(invalid_grant("The refresh token is invalid, expired or revoked.")),
        };
        let family = old.family.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if old.client_id != client.id {
            self.revoking(self.store.revoke_family(&family, now)).await?;
            return Err(invalid_grant("The refresh token was issued to another client."));
        }
        if self.store.user(&old.user_id).await?.is_none_or(|u| u.disabled) {
            return Err(invalid_grant("The user is disabled."));
        }
        let scopes = match request.scope.as_deref().filter(|s| !s.trim().is_empty()) {
            None => old.scopes.clone(),
            Some(scope) => match self.parse_scopes(scope) {
                Ok(asked) if asked.iter().all(|s| old.scopes.contains(s)) => asked,
                _ => {
                    return Err(OAuthError::new("invalid_scope", "A refresh may narrow the scopes, never widen them."));
                }
            },
        };
        // A rotated token is presented again: only its successor may answer (a repeat), or
        // nothing (reuse), whatever the client's rotation is now.
        let rotates = refresh_rotation(client) == RefreshRotation::Rotate || old.rotated_at.is_some();
        let duration = old.access.as_deref().and_then(Duration::from_label).unwrap_or(Duration::OneTime);
        let (response, issued) = self.mint_tokens(
            &old.user_id,
            client,
            (&scopes, &old.scopes),
            duration,
            (old.expires_at, rotates.then(|| self.successor_of(presented))),
            &family,
            old.code_hash.as_deref(),
            now,
        )?;
        let rules = RefreshRules {
            idle_since: Some(now.plus_seconds(-self.config.refresh_idle_seconds)),
            // No window at all when it is 0: a racing refresh that read the clock before the
            // rotation it lost to would otherwise still count as inside it.
            repeat_since: (self.config.refresh_reuse_seconds > 0)
                .then(|| now.plus_seconds(-self.config.refresh_reuse_seconds)),
        };
        match self.revoking(self.store.use_refresh(&hash, now, rules, &issued)).await? {
            Rotation::Fresh | Rotation::Repeated => {}
            Rotation::Reused => {
                self.record(AuditEntry {
                    event: "token.reuse_detected".into(),
                    user_id: Some(old.user_id.clone()),
                    client_id: Some(client.id.clone()),
                    ..AuditEntry::now()
                })
                .await;
                return Err(invalid_grant(
                    "The refresh token was already used; all tokens of this authorization are revoked.",
                ));
            }
            Rotation::Invalid => return Err(invalid_grant("The refresh token is invalid, expired or revoked.")),
        }
        self.metrics.token_issued("refresh_token");
        self.record(AuditEntry {
            event: "token.refreshed".into(),
            user_id: Some(old.user_id.clone()),
            client_id: Some(client.id.clone()),
            resources: scopes,
            ..AuditEntry::now()
        })
        .await;
        Ok(response)
    }

    /// Mints an access token for `scopes.0` and, given `refresh.1`, makes it a refresh token for
    /// `scopes.1` that lives until `refresh.0` (which also bounds the grant: past it nothing is
    /// issued); one family. The response to send and the records to store (nothing is stored here).
    #[allow(clippy::too_many_arguments)]
    fn mint_tokens(
        &self,
        user_id: &str,
        client: &Client,
        scopes: (&[String], &[String]),
        duration: Duration,
        refresh: (Timestamp, Option<Minted>),
        family: &str,
        code_hash: Option<&str>,
        now: Timestamp,
    ) -> Result<(TokenResponse, Vec<TokenRecord>), OAuthError> {
        let (refresh_expires, refresh) = refresh;
        if refresh_expires <= now {
            return Err(invalid_grant("The grant has expired."));
        }
        let access = mint(TokenKind::Access);
        let record = |hash: String, kind, scopes: &[String], expires_at| TokenRecord {
            hash,
            kind,
            user_id: user_id.to_owned(),
            client_id: client.id.clone(),
            scopes: scopes.to_vec(),
            created_at: now,
            expires_at,
            revoked_at: None,
            family: Some(family.to_owned()),
            code_hash: code_hash.map(str::to_owned),
            access: Some(duration.label().to_owned()),
            rotated_at: None,
        };
        let lifetime = self.config.access_token_seconds;
        let mut records = vec![record(access.hash, TokenKind::Access, scopes.0, now.plus_seconds(lifetime))];
        let refresh_token = refresh.map(|refresh| {
            records.push(record(refresh.hash, TokenKind::Refresh, scopes.1, refresh_expires));
            refresh.value
        });
        let response = TokenResponse {
            access_token: access.value,
            token_type: "Bearer",
            expires_in: lifetime,
            scope: scopes.0.iter().map(|g| self.scope_of(g)).collect::<Vec<_>>().join(" "),
            refresh_token,
            refresh_token_expires_in: duration.seconds().map(|_| (refresh_expires.micros() - now.micros()) / 1_000_000),
        };
        Ok((response, records))
    }

    /// Token revocation (RFC 7009 §2): succeeds whether or not the token exists.
    pub async fn revoke(&self, token: &str) -> Result<(), StoreError> {
        let now = Timestamp::now();
        if let Some(revoked) = self.revoking(self.store.revoke_token(&hash_token(token), now)).await? {
            self.record(AuditEntry {
                event: "token.revoked".into(),
                user_id: Some(revoked.user_id),
                client_id: Some(revoked.client_id),
                detail: serde_json::json!({ "kind": match revoked.kind { TokenKind::Access => "access", TokenKind::Refresh => "refresh" } }),
                ..AuditEntry::now()
            })
            .await;
        }
        Ok(())
    }

    /// Authorization server metadata (RFC 8414 §2).
    pub fn oauth_metadata(&self) -> serde_json::Value {
        let origin = self.issuer();
        serde_json::json!({
            "issuer": origin,
            "authorization_endpoint": format!("{origin}/o/oauth2/v2/auth"),
            "token_endpoint": format!("{origin}/token"),
            "revocation_endpoint": format!("{origin}/revoke"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": self.catalogue.groups().iter().map(|g| self.scope_of(&g.name)).collect::<Vec<_>>(),
            "authorization_response_iss_parameter_supported": true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_match_on_any_port_others_exactly() {
        let registered =
            vec!["http://127.0.0.1/cb".to_owned(), "https://app.example/cb".to_owned(), "http://localhost/".to_owned()];
        for ok in [
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5000/cb",
            "https://app.example/cb",
            "http://localhost:8/",
            "http://localhost:9",
        ] {
            assert!(redirect_uri_allowed(&registered, ok), "{ok}");
        }
        for bad in [
            "http://127.0.0.1:5000/other",
            "https://app.example/cb/",
            "https://app.example:444/cb",
            "http://app.example/cb",
            "https://evil.example/cb",
            "http://127.0.0.1.evil.example/cb",
            "http://127.0.0.1:80x/cb",
            "https://app.example/cb#frag",
            "http://localhost@evil.example/",
        ] {
            assert!(!redirect_uri_allowed(&registered, bad), "{bad}");
        }
        assert!(redirect_uri_allowed(&["http://[::1]/".to_owned()], "http://[::1]:4242/"));
    }

    /// Issue #22 finding 5: `https://evil.example\@good.example/cb` was registered and the
    /// consent page named `good.example`, while browsers send the code to `evil.example`.
    #[test]
    fn redirect_uris_are_registered_as_browsers_parse_them() {
        for ok in [
            "https://app.example/cb",
            "https://app.example:8443/cb?x=1",
            "https://app.example/@team/cb",
            "http://127.0.0.1/cb",
            "http://[::1]/",
            "http://localhost/",
            "com.example.app:/cb",
        ] {
            assert_eq!(parse_redirect_uri(ok).map(|u| u.to_string()).as_deref(), Ok(ok));
        }
        for bad in [
            "https://evil.example\\@good.example/cb",
            "https://evil.example\\.good.example/cb",
            "https://user@good.example/cb",
            "https://user:pw@good.example/cb",
            "https://@good.example/cb",
            "http://localhost@evil.example/",
            "https://App.Example/cb",
            "https://app.example",
            "https://app.example:443/cb",
            " https://app.example/cb",
            "https://app.example/c\tb",
            "https://app.example/cb#frag",
            "http://app.example/cb",
            "https:/app.example/cb",
            "javascript:alert(1)",
            "not a uri",
        ] {
            assert!(parse_redirect_uri(bad).is_err(), "{bad}");
        }
        assert_eq!(redirect_host("https://evil.example\\@good.example/cb"), "evil.example");
        assert_eq!(redirect_host("https://good.example:8443/cb"), "good.example:8443");
        assert_eq!(redirect_host("http://127.0.0.1:7777/cb"), "127.0.0.1:7777");
        assert_eq!(redirect_host("http://[::1]/"), "[::1]");
        assert_eq!(redirect_host("com.example.app:/cb"), "com.example.app");
    }

    #[test]
    fn pkce_s256() {
        // RFC 7636 Appendix B.
        assert!(pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(valid_pkce_value("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!valid_pkce_value("short"));
    }
}
