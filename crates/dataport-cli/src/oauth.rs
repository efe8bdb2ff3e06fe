//! Signing in: OAuth 2.0 authorization code with PKCE through a loopback redirect, the way a
//! native app does it (RFC 8252), against a dataport server (endpoints from its RFC 8414
//! metadata) or Google (the preset). Also the refresh grant that keeps a profile's access token
//! fresh.
//!
//! Tokens are handed to the profile and to `Authorization` headers only: nothing here prints or
//! logs them, and error messages quote the server's `error`, never a request.
//!
//! What a server says is checked before it is used: the endpoints of its metadata must be https
//! (http only on loopback) on the server's own origin, answers are read up to
//! [`MAX_OAUTH_ANSWER`], and the caller's client follows no redirect (see [`crate::api::Http`]).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::api::{BodyError, read_capped, too_large};
use crate::error::CliError;

/// Google's authorization endpoint.
pub const GOOGLE_AUTHORIZATION_ENDPOINT: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's token endpoint.
pub const GOOGLE_TOKEN_ENDPOINT: &str = "https://oauth2.googleapis.com/token";
/// Google's revocation endpoint.
pub const GOOGLE_REVOCATION_ENDPOINT: &str = "https://oauth2.googleapis.com/revoke";
/// Google's issuer (the `iss` of its authorization responses, RFC 9207).
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// The Data Portability API at Google.
pub const GOOGLE_API: &str = "https://dataportability.googleapis.com";
/// Scope of group `g` at Google: this prefix followed by `g`.
pub const GOOGLE_SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/dataportability.";
/// The public PKCE client every dataport server in emulator mode has.
pub const DEMO_CLIENT: &str = "demo-client";

/// The largest metadata or token answer read (real ones are a few KiB).
pub const MAX_OAUTH_ANSWER: usize = 1024 * 1024;

/// How long `dataport login` waits for the browser to come back.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The endpoints of an authorization server and the API it guards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// The issuer, compared with the `iss` of the redirect when both are known (RFC 9207).
    pub issuer: Option<String>,
    pub authorization: String,
    pub token: String,
    pub revocation: Option<String>,
    /// Every scope the server offers (RFC 8414 `scopes_supported`), when it says.
    pub scopes_supported: Option<Vec<String>>,
    /// Base URL of the Data Portability API.
    pub api: String,
    /// Google's preset: its scope strings and its extra parameters.
    pub google: bool,
}

impl Endpoints {
    /// Google's endpoints (the `--google` preset).
    pub fn google() -> Self {
        Self {
            issuer: Some(GOOGLE_ISSUER.to_owned()),
            authorization: GOOGLE_AUTHORIZATION_ENDPOINT.to_owned(),
            token: GOOGLE_TOKEN_ENDPOINT.to_owned(),
            revocation: Some(GOOGLE_REVOCATION_ENDPOINT.to_owned()),
            scopes_supported: None,
            api: GOOGLE_API.to_owned(),
            google: true,
        }
    }

    /// Reads `<server>/.well-known/oauth-authorization-server` (RFC 8414 §3). The API is served
    /// by the same origin, and so must every endpoint the metadata names be ([`check_endpoint`]):
    /// the authorization endpoint is opened in the browser, the token endpoint is sent codes,
    /// refresh tokens and client secrets.
    pub async fn discover(http: &reqwest::Client, server: &str) -> Result<Self, CliError> {
        #[derive(Deserialize)]
        struct Metadata {
            issuer: Option<String>,
            authorization_endpoint: String,
            token_endpoint: String,
            revocation_endpoint: Option<String>,
            scopes_supported: Option<Vec<String>>,
        }
        let server = server.trim_end_matches('/');
        let url = format!("{server}/.well-known/oauth-authorization-server");
        let response = http
            .get(&url)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| crate::api::transport_error(&e, server))?;
        let code = response.status().as_u16();
        if code != 200 {
            return Err(CliError::from_http(code, &format!("{url} (is {server} a dataport server?)")));
        }
        let body = read_capped(response, MAX_OAUTH_ANSWER).await.map_err(|e| match e {
            BodyError::TooLarge => too_large(&url, MAX_OAUTH_ANSWER),
            BodyError::Transport(e) => crate::api::transport_error(&e, server),
        })?;
        let metadata: Metadata = serde_json::from_slice(&body)
            .map_err(|e| CliError::network(format!("{url} is not OAuth server metadata: {e}")))?;
        let origin = Url::parse(server).map_err(|e| CliError::usage(format!("bad server URL {server}: {e}")))?;
        check_endpoint(&origin, "authorization_endpoint", &metadata.authorization_endpoint)?;
        check_endpoint(&origin, "token_endpoint", &metadata.token_endpoint)?;
        if let Some(revocation) = &metadata.revocation_endpoint {
            check_endpoint(&origin, "revocation_endpoint", revocation)?;
        }
        Ok(Self {
            issuer: metadata.issuer,
            authorization: metadata.authorization_endpoint,
            token: metadata.token_endpoint,
            revocation: metadata.revocation_endpoint,
            scopes_supported: metadata.scopes_supported,
            api: server.to_owned(),
            google: false,
        })
    }

    /// The scope string that asks for `group`: Google's form for Google, else the form the
    /// server lists in `scopes_supported` (Google's, an operator's prefix, or the bare
    /// `dataportability.<group>` every dataport server accepts).
    pub fn scope_for(&self, group: &str) -> Result<String, CliError> {
        if self.google {
            return Ok(format!("{GOOGLE_SCOPE_PREFIX}{group}"));
        }
        match &self.scopes_supported {
            None => Ok(format!("dataportability.{group}")),
            Some(scopes) => scopes
                .iter()
                .find(|s| group_of_scope(s) == group)
                .cloned()
                .ok_or_else(|| CliError::usage(format!("the server offers no resource group {group:?}"))),
        }
    }
}

/// Checks an endpoint `name` of `server`'s metadata: an absolute URL on the server's own origin
/// (scheme, host and port), without credentials, over https — or http when the host is
/// loopback. Anything else (`file:`, another host, plain http over a network) is refused.
pub fn check_endpoint(server: &Url, name: &str, endpoint: &str) -> Result<(), CliError> {
    let refuse = |why: &str| {
        let shown: String = endpoint.chars().take(200).collect();
        Err(CliError::network(format!("the server's metadata names {name} {shown:?}, which {why}; not used")))
    };
    let Ok(url) = Url::parse(endpoint) else { return refuse("is not a URL") };
    let host = url.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return refuse("is neither https nor http on loopback"),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("carries credentials");
    }
    if url.origin() != server.origin() {
        return refuse(&format!("is not on the server's origin {}", server.origin().ascii_serialization()));
    }
    Ok(())
}

/// The group a scope string names: what follows its last `dataportability.` (Google's prefix,
/// an operator's `…/auth/dataportability.` prefix, or the bare form).
pub fn group_of_scope(scope: &str) -> &str {
    scope.rfind("dataportability.").map_or(scope, |i| &scope[i + "dataportability.".len()..])
}

/// A PKCE pair (RFC 7636 §4.1–4.2), S256 only.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    /// A fresh verifier of 32 random bytes (43 base64url characters).
    pub fn generate() -> Self {
        Self::from_verifier(URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()))
    }

    /// The pair for a given verifier: `challenge = BASE64URL(SHA256(verifier))`.
    pub fn from_verifier(verifier: String) -> Self {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self { verifier, challenge }
    }
}

/// A random `state` value (RFC 6749 §10.12).
pub fn random_state() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// Everything an authorization URL is built from.
#[derive(Clone, Debug)]
pub struct AuthorizationRequest<'a> {
    pub endpoint: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
    pub state: &'a str,
    pub code_challenge: &'a str,
    /// Google's extras: `access_type=offline` (a refresh token) and `prompt=consent`.
    pub offline_consent: bool,
}

/// The authorization URL (RFC 6749 §4.1.1 with RFC 7636 §4.3). Pure.
pub fn authorization_url(request: &AuthorizationRequest<'_>) -> Result<String, CliError> {
    let mut url = Url::parse(request.endpoint)
        .map_err(|e| CliError::usage(format!("bad authorization endpoint {}: {e}", request.endpoint)))?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", request.client_id)
            .append_pair("redirect_uri", request.redirect_uri)
            .append_pair("scope", &request.scopes.join(" "))
            .append_pair("state", request.state)
            .append_pair("code_challenge", request.code_challenge)
            .append_pair("code_challenge_method", "S256");
        if request.offline_consent {
            query.append_pair("access_type", "offline").append_pair("prompt", "consent");
        }
    }
    Ok(url.to_string())
}

/// The `--google` preset's authorization URL for `groups`. Pure: no network.
pub fn google_authorization_url(
    client_id: &str,
    redirect_uri: &str,
    groups: &[String],
    state: &str,
    pkce: &Pkce,
) -> Result<String, CliError> {
    let scopes: Vec<String> = groups.iter().map(|g| format!("{GOOGLE_SCOPE_PREFIX}{g}")).collect();
    authorization_url(&AuthorizationRequest {
        endpoint: GOOGLE_AUTHORIZATION_ENDPOINT,
        client_id,
        redirect_uri,
        scopes: &scopes,
        state,
        code_challenge: &pkce.challenge,
        offline_consent: true,
    })
}

/// An OAuth client: its id and, for a confidential client, its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub secret: Option<String>,
}

/// What a Google `client_secret.json` holds (the `installed` or `web` section).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecrets {
    pub client: Client,
    pub auth_uri: Option<String>,
    pub token_uri: Option<String>,
}

/// Parses Google's `client_secret.json` (a desktop app's `installed` section, or `web`).
pub fn parse_client_secrets(json: &[u8]) -> Result<ClientSecrets, CliError> {
    #[derive(Deserialize)]
    struct Section {
        client_id: String,
        client_secret: Option<String>,
        auth_uri: Option<String>,
        token_uri: Option<String>,
    }
    #[derive(Deserialize)]
    struct File {
        installed: Option<Section>,
        web: Option<Section>,
    }
    let file: File = serde_json::from_slice(json)
        .map_err(|e| CliError::usage(format!("the client secrets file is not Google's client_secret.json: {e}")))?;
    let section = file
        .installed
        .or(file.web)
        .ok_or_else(|| CliError::usage("the client secrets file has neither an \"installed\" nor a \"web\" client"))?;
    Ok(ClientSecrets {
        client: Client { id: section.client_id, secret: section.client_secret.filter(|s| !s.is_empty()) },
        auth_uri: section.auth_uri,
        token_uri: section.token_uri,
    })
}

/// A token endpoint's answer (RFC 6749 §5.1).
#[derive(Clone, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// The granted scopes; absent means "as requested" (RFC 6749 §5.1).
    #[serde(default)]
    pub scope: Option<String>,
}

/// The code grant (RFC 6749 §4.1.3) with the PKCE verifier.
pub async fn exchange_code(
    http: &reqwest::Client,
    token_endpoint: &str,
    client: &Client,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> Result<TokenResponse, CliError> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ];
    token_request(http, token_endpoint, client, &form).await
}

/// The refresh grant (RFC 6749 §6). A refused refresh token means signing in again.
pub async fn refresh(
    http: &reqwest::Client,
    token_endpoint: &str,
    client: &Client,
    refresh_token: &str,
) -> Result<TokenResponse, CliError> {
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    token_request(http, token_endpoint, client, &form).await
}

/// POSTs a token request with `client_secret_post` client authentication (or only `client_id`
/// for a public client).
async fn token_request(
    http: &reqwest::Client,
    token_endpoint: &str,
    client: &Client,
    form: &[(&str, &str)],
) -> Result<TokenResponse, CliError> {
    let body = {
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.extend_pairs(form.iter().copied()).append_pair("client_id", &client.id);
        if let Some(secret) = &client.secret {
            body.append_pair("client_secret", secret);
        }
        body.finish()
    };
    let response = http
        .post(token_endpoint)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|e| crate::api::transport_error(&e, token_endpoint))?;
    let code = response.status().as_u16();
    if (300..400).contains(&code) {
        return Err(CliError::network(format!(
            "the token endpoint answered with a redirect (HTTP {code}), which dataport does not follow"
        )));
    }
    let bytes = read_capped(response, MAX_OAUTH_ANSWER).await.map_err(|e| match e {
        BodyError::TooLarge => too_large("token endpoint", MAX_OAUTH_ANSWER),
        BodyError::Transport(e) => crate::api::transport_error(&e, token_endpoint),
    })?;
    if code == 200 {
        return serde_json::from_slice(&bytes)
            .map_err(|e| CliError::network(format!("the token endpoint sent an unreadable answer: {e}")));
    }
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    match serde_json::from_slice::<OAuthError>(&bytes) {
        Ok(e) => Err(token_error(code, &e.error, e.error_description.as_deref())),
        Err(_) => Err(CliError::from_http(code, "token endpoint")),
    }
}

/// Classifies a token endpoint error (RFC 6749 §5.2).
fn token_error(http_status: u16, error: &str, description: Option<&str>) -> CliError {
    let detail = description.map(|d| format!(" ({d})")).unwrap_or_default();
    match error {
        "invalid_grant" => {
            CliError::auth(format!("the sign-in has expired or was revoked{detail}; run dataport login"))
        }
        "invalid_client" | "unauthorized_client" => {
            CliError::auth(format!("the server refused the OAuth client: {error}{detail}; run dataport login"))
        }
        "temporarily_unavailable" if http_status == 429 => {
            CliError::Exhausted { message: format!("the token endpoint is rate-limited{detail}"), status: None }
        }
        _ if http_status >= 500 || error == "temporarily_unavailable" || error == "server_error" => {
            CliError::network(format!("the token endpoint failed: {error}{detail}"))
        }
        _ => CliError::auth(format!("the token endpoint refused: {error}{detail}; run dataport login")),
    }
}

/// The loopback listener that receives the authorization response (RFC 8252 §7.3).
pub struct Loopback {
    listener: TcpListener,
    port: u16,
}

impl Loopback {
    /// Listens on `127.0.0.1` on a port the system picks.
    pub async fn bind() -> Result<Self, CliError> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| CliError::network(format!("cannot listen on 127.0.0.1: {e}")))?;
        let port = listener.local_addr().map_err(|e| CliError::network(e.to_string()))?.port();
        Ok(Self { listener, port })
    }

    /// `http://127.0.0.1:<port>/`.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Waits for the browser to come back with a code for `state`. Requests for other paths
    /// (a favicon) and responses with another `state` (not ours: ignored, RFC 6749 §10.12) are
    /// answered and waited past.
    pub async fn wait(&self, expected: &Expected<'_>, timeout: Duration) -> Result<String, CliError> {
        let waiting = async {
            loop {
                let Ok((stream, _)) = self.listener.accept().await else { continue };
                if let Some(outcome) = answer(stream, expected).await {
                    return outcome;
                }
            }
        };
        tokio::time::timeout(timeout, waiting).await.map_err(|_| {
            CliError::auth(format!(
                "no answer from the browser within {} minutes; run dataport login again",
                timeout.as_secs() / 60
            ))
        })?
    }
}

/// What the redirect back must carry.
pub struct Expected<'a> {
    pub state: &'a str,
    /// The issuer, checked against `iss` when the server sends one (RFC 9207 §2.4).
    pub issuer: Option<&'a str>,
}

/// Reads one request from the browser and answers it. `Some` when it was the redirect.
async fn answer(mut stream: TcpStream, expected: &Expected<'_>) -> Option<Result<String, CliError>> {
    let mut buffer = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while !buffer.windows(4).any(|w| w == b"\r\n\r\n") && buffer.len() < 16 * 1024 {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    if read.is_err() {
        return None;
    }
    let head = String::from_utf8_lossy(&buffer);
    let target = head.lines().next().and_then(|line| {
        let mut parts = line.split(' ');
        (parts.next() == Some("GET")).then(|| parts.next()).flatten()
    });
    let outcome = target.map(|t| parse_redirect(t, expected)).unwrap_or(Redirect::NotOurs);
    let (status, page, result) = match outcome {
        Redirect::NotOurs => ("404 Not Found", "Not found.".to_owned(), None),
        Redirect::WrongState => {
            ("400 Bad Request", "This sign-in response is not the one dataport is waiting for.".to_owned(), None)
        }
        Redirect::Code(code) => {
            ("200 OK", "Signed in. You can close this tab and return to the terminal.".to_owned(), Some(Ok(code)))
        }
        Redirect::Error(e) => ("200 OK", format!("Sign-in failed: {e}. Return to the terminal."), Some(Err(e))),
    };
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>dataport</title></head><body><p>{}</p></body></html>",
        html_escape(&page)
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    result
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// What a request to the loopback listener was.
#[derive(Debug, PartialEq, Eq)]
pub enum Redirect {
    /// Not the authorization response (another path, or no `code`/`error`).
    NotOurs,
    /// An authorization response for another `state`.
    WrongState,
    Code(String),
    Error(CliError),
}

/// Parses the request target of the redirect back (RFC 6749 §4.1.2). Pure.
pub fn parse_redirect(target: &str, expected: &Expected<'_>) -> Redirect {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/" {
        return Redirect::NotOurs;
    }
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if get("code").is_none() && get("error").is_none() {
        return Redirect::NotOurs;
    }
    if get("state") != Some(expected.state) {
        return Redirect::WrongState;
    }
    if let (Some(iss), Some(issuer)) = (get("iss"), expected.issuer)
        && iss.trim_end_matches('/') != issuer.trim_end_matches('/')
    {
        return Redirect::Error(CliError::auth(format!(
            "the sign-in came back from {iss}, not {issuer}; run dataport login again"
        )));
    }
    match (get("code"), get("error")) {
        (_, Some("access_denied")) => {
            Redirect::Error(CliError::auth("access was denied on the consent page; run dataport login to try again"))
        }
        (_, Some(error)) => {
            let detail = get("error_description").map(|d| format!(" ({d})")).unwrap_or_default();
            Redirect::Error(CliError::auth(format!("the server refused the sign-in: {error}{detail}")))
        }
        (Some(code), None) => Redirect::Code(code.to_owned()),
        (None, None) => Redirect::NotOurs,
    }
}

/// The outcome of a sign-in.
pub struct SignedIn {
    pub tokens: TokenResponse,
    /// Requested groups the user granted, and those they unticked (a partial grant).
    pub granted: Vec<String>,
    pub not_granted: Vec<String>,
}

/// The whole browser round trip: a loopback listener, the authorization URL (announced with
/// `announce` — always, so that it can be opened by hand — and opened in the browser unless
/// `open` is false), the redirect back, and the code exchange.
pub async fn sign_in(
    http: &reqwest::Client,
    endpoints: &Endpoints,
    client: &Client,
    groups: &[String],
    open: bool,
    announce: &dyn Fn(&str),
) -> Result<SignedIn, CliError> {
    let scopes = groups.iter().map(|g| endpoints.scope_for(g)).collect::<Result<Vec<_>, _>>()?;
    let loopback = Loopback::bind().await?;
    let redirect_uri = loopback.redirect_uri();
    let pkce = Pkce::generate();
    let state = random_state();
    let url = if endpoints.google {
        google_authorization_url(&client.id, &redirect_uri, groups, &state, &pkce)?
    } else {
        authorization_url(&AuthorizationRequest {
            endpoint: &endpoints.authorization,
            client_id: &client.id,
            redirect_uri: &redirect_uri,
            scopes: &scopes,
            state: &state,
            code_challenge: &pkce.challenge,
            offline_consent: false,
        })?
    };
    announce(&format!("Open this URL to sign in: {url}"));
    if open {
        open_browser(&url);
    }
    let expected = Expected { state: &state, issuer: endpoints.issuer.as_deref() };
    let code = loopback.wait(&expected, LOGIN_TIMEOUT).await?;
    let tokens = exchange_code(http, &endpoints.token, client, &code, &redirect_uri, &pkce.verifier).await?;
    let (granted, not_granted) = granted_groups(groups, tokens.scope.as_deref());
    if granted.is_empty() {
        return Err(CliError::auth("none of the requested groups was granted; run dataport login again"));
    }
    Ok(SignedIn { tokens, granted, not_granted })
}

/// Opens `url` in the user's browser: the first command of `$BROWSER` when set (the usual
/// convention), else `open` on macOS and `xdg-open` elsewhere. `false` if no opener could be
/// started.
pub fn open_browser(url: &str) -> bool {
    let from_env = std::env::var("BROWSER").ok().and_then(|b| b.split(':').next().map(str::trim).map(str::to_owned));
    let opener = match from_env.filter(|b| !b.is_empty()) {
        Some(browser) => browser,
        None if cfg!(target_os = "macos") => "open".to_owned(),
        None => "xdg-open".to_owned(),
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

/// Which requested groups a token response granted: those whose scope string it lists (all of
/// them when it lists none, RFC 6749 §5.1). Returns (granted, not granted), in request order.
pub fn granted_groups(requested: &[String], scope: Option<&str>) -> (Vec<String>, Vec<String>) {
    let Some(scope) = scope else { return (requested.to_vec(), Vec::new()) };
    let returned: Vec<&str> = scope.split_whitespace().map(group_of_scope).collect();
    requested.iter().cloned().partition(|g| returned.contains(&g.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(url: &str) -> Vec<(String, String)> {
        let url = Url::parse(url).expect("url");
        url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
    }

    fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
        q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_owned());
        assert_eq!(pkce.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let fresh = Pkce::generate();
        assert_eq!(fresh.verifier.len(), 43);
        assert!(fresh.verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)));
        assert_ne!(fresh.verifier, Pkce::generate().verifier);
    }

    #[test]
    fn google_preset_builds_the_authorization_url() {
        let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_owned());
        let groups = vec!["myactivity.search".to_owned(), "chrome.history".to_owned()];
        let url = google_authorization_url(
            "123.apps.googleusercontent.com",
            "http://127.0.0.1:4242/",
            &groups,
            "st4te",
            &pkce,
        )
        .expect("url");
        assert!(url.starts_with("https://accounts.google.com/o/oauth2/v2/auth?"), "{url}");
        let q = query(&url);
        assert_eq!(param(&q, "response_type"), Some("code"));
        assert_eq!(param(&q, "client_id"), Some("123.apps.googleusercontent.com"));
        assert_eq!(param(&q, "redirect_uri"), Some("http://127.0.0.1:4242/"));
        assert_eq!(
            param(&q, "scope"),
            Some(
                "https://www.googleapis.com/auth/dataportability.myactivity.search https://www.googleapis.com/auth/dataportability.chrome.history"
            )
        );
        assert_eq!(param(&q, "access_type"), Some("offline"));
        assert_eq!(param(&q, "prompt"), Some("consent"));
        assert_eq!(param(&q, "code_challenge_method"), Some("S256"));
        assert_eq!(param(&q, "code_challenge"), Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert_eq!(param(&q, "state"), Some("st4te"));
        assert_eq!(Endpoints::google().token, "https://oauth2.googleapis.com/token");
        assert_eq!(Endpoints::google().api, "https://dataportability.googleapis.com");
    }

    #[test]
    fn dataport_server_urls_use_its_scopes_without_google_extras() {
        let endpoints = Endpoints {
            issuer: Some("http://127.0.0.1:8080".into()),
            authorization: "http://127.0.0.1:8080/o/oauth2/v2/auth".into(),
            token: "http://127.0.0.1:8080/token".into(),
            revocation: None,
            scopes_supported: Some(vec![
                "https://example.com/auth/dataportability.search".into(),
                "https://example.com/auth/dataportability.myactivity.search".into(),
            ]),
            api: "http://127.0.0.1:8080".into(),
            google: false,
        };
        assert_eq!(
            endpoints.scope_for("myactivity.search").expect("scope"),
            "https://example.com/auth/dataportability.myactivity.search"
        );
        assert_eq!(endpoints.scope_for("search").expect("scope"), "https://example.com/auth/dataportability.search");
        assert_eq!(endpoints.scope_for("nope").map_err(|e| e.exit_code()), Err(2));
        let scopes = vec![endpoints.scope_for("myactivity.search").expect("scope")];
        let url = authorization_url(&AuthorizationRequest {
            endpoint: &endpoints.authorization,
            client_id: DEMO_CLIENT,
            redirect_uri: "http://127.0.0.1:1/",
            scopes: &scopes,
            state: "s",
            code_challenge: "c",
            offline_consent: false,
        })
        .expect("url");
        let q = query(&url);
        assert_eq!(param(&q, "access_type"), None);
        assert_eq!(param(&q, "client_id"), Some("demo-client"));
    }

    #[test]
    fn redirects_are_checked_for_state_and_issuer() {
        let expected = Expected { state: "abc", issuer: Some("http://127.0.0.1:8080") };
        assert_eq!(parse_redirect("/?code=xyz&state=abc", &expected), Redirect::Code("xyz".into()));
        assert_eq!(
            parse_redirect("/?code=xyz&state=abc&iss=http%3A%2F%2F127.0.0.1%3A8080", &expected),
            Redirect::Code("xyz".into())
        );
        assert!(matches!(
            parse_redirect("/?code=xyz&state=abc&iss=http%3A%2F%2Fevil.example", &expected),
            Redirect::Error(_)
        ));
        assert_eq!(parse_redirect("/?code=xyz&state=other", &expected), Redirect::WrongState);
        assert_eq!(parse_redirect("/favicon.ico", &expected), Redirect::NotOurs);
        assert_eq!(parse_redirect("/", &expected), Redirect::NotOurs);
        match parse_redirect("/?error=access_denied&state=abc", &expected) {
            Redirect::Error(e) => assert_eq!(e.exit_code(), 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn partial_grants_are_split_by_returned_scopes() {
        let requested = vec!["myactivity.search".to_owned(), "chrome.history".to_owned()];
        let (granted, not) =
            granted_groups(&requested, Some("https://www.googleapis.com/auth/dataportability.chrome.history openid"));
        assert_eq!(granted, vec!["chrome.history"]);
        assert_eq!(not, vec!["myactivity.search"]);
        assert_eq!(granted_groups(&requested, None).0, requested);
    }

    #[test]
    fn client_secrets_files_are_read() {
        let json = br#"{"installed":{"client_id":"id.apps.googleusercontent.com","client_secret":"s3","auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token","redirect_uris":["http://localhost"]}}"#;
        let secrets = parse_client_secrets(json).expect("parse");
        assert_eq!(secrets.client.id, "id.apps.googleusercontent.com");
        assert_eq!(secrets.client.secret.as_deref(), Some("s3"));
        assert!(parse_client_secrets(b"{}").is_err());
    }

    #[test]
    fn metadata_endpoints_must_be_https_or_loopback_http_on_the_servers_origin() {
        let local = Url::parse("http://127.0.0.1:8080").expect("url");
        let public = Url::parse("https://dataport.example").expect("url");
        assert!(check_endpoint(&local, "token_endpoint", "http://127.0.0.1:8080/token").is_ok());
        assert!(check_endpoint(&public, "token_endpoint", "https://dataport.example/token").is_ok());
        assert!(check_endpoint(&public, "token_endpoint", "https://dataport.example:443/token").is_ok());
        let lan = Url::parse("http://192.168.1.5:8080").expect("url");
        for (server, endpoint) in [
            (&local, "file:///etc/passwd"),
            (&local, "http://127.0.0.1:8081/token"),
            (&local, "https://127.0.0.1:8080/token"),
            (&local, "http://user:pw@127.0.0.1:8080/token"),
            (&local, "/token"),
            (&public, "http://dataport.example/token"),
            (&public, "https://evil.example/token"),
            (&public, "javascript:alert(1)"),
            (&lan, "http://192.168.1.5:8080/token"),
        ] {
            let refused = check_endpoint(server, "token_endpoint", endpoint);
            assert_eq!(refused.map_err(|e| e.exit_code()), Err(6), "{endpoint} for {server}");
        }
    }

    #[test]
    fn token_errors_say_what_to_do() {
        assert!(token_error(400, "invalid_grant", None).to_string().contains("run dataport login"));
        assert_eq!(token_error(400, "invalid_grant", None).exit_code(), 3);
        assert_eq!(token_error(503, "temporarily_unavailable", None).exit_code(), 6);
    }
}
