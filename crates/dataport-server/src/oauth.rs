//! HTTP side of the authorization server (SPEC §10): the sign-in and consent pages with their
//! session cookie and CSRF tokens, and the token, revocation and metadata endpoints. The rules
//! live in `dataport_core::oauth`.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;

use dataport_core::auth::hash_token;
use dataport_core::consent::Duration;
use dataport_core::model::{Session, User};
use dataport_core::oauth::{AuthorizationRequest, AuthorizeError, Consent, OAuthError, SESSION_SECONDS, TokenRequest};
use dataport_core::users::SignInError;

use crate::AppState;
use crate::client_addr::ClientAddr;
use crate::pages::{self, ConsentPage, GroupChoice, LoginPage};

const CONSENT_PATH: &str = "/o/oauth2/v2/consent";

fn cookie_name(app: &AppState) -> &'static str {
    if app.core.config().public_origin.starts_with("https://") { "__Host-dataport_session" } else { "dataport_session" }
}

/// A live sign-in session and the CSRF token its forms carry.
pub(crate) struct Browser {
    pub(crate) session: Session,
    pub(crate) csrf: String,
}

/// The CSRF token of a session: derived from the cookie value, so it is never stored, and useless
/// without the cookie that only the browser has.
fn csrf_of(cookie_value: &str) -> String {
    hash_token(&format!("csrf:{cookie_value}"))
}

/// The live session the request's cookie names, if any; `Err` is the 503 page of an outage.
pub(crate) async fn current_session(app: &AppState, headers: &HeaderMap) -> Result<Option<Browser>, Response> {
    let name = cookie_name(app);
    let Some(value) = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
    else {
        return Ok(None);
    };
    match app.core.session(&value).await {
        Ok(session) => Ok(session.map(|session| Browser { session, csrf: csrf_of(&value) })),
        Err(_) => Err(unavailable()),
    }
}

/// Starts a session (optionally signed in) and returns it with its `Set-Cookie` value.
pub(crate) async fn start_session(app: &AppState, user_id: Option<&str>) -> Option<(Browser, HeaderValue)> {
    let (session, value) = app.core.start_session(user_id).await.ok()?;
    let secure = if app.core.config().public_origin.starts_with("https://") { "; Secure" } else { "" };
    let cookie =
        format!("{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_SECONDS}{secure}", cookie_name(app));
    Some((Browser { session, csrf: csrf_of(&value) }, HeaderValue::from_str(&cookie).ok()?))
}

pub(crate) fn unavailable() -> Response {
    pages::error(StatusCode::SERVICE_UNAVAILABLE, "Try again later", "The service is currently unavailable.")
}

pub(crate) fn with_cookie(mut response: Response, cookie: Option<HeaderValue>) -> Response {
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// 303 to `location`, with the page security headers.
pub(crate) fn see_other(location: &str) -> Response {
    pages::secure(Redirect::to(location).into_response())
}

/// `GET /o/oauth2/v2/auth` (and `/authorize`): validates the request, then shows sign-in or
/// goes straight to consent for a signed-in session. Nothing is written — no session, no pending
/// request — before the request has passed validation, and requests are rate-limited per address.
pub async fn authorize(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Query(request): Query<AuthorizationRequest>,
) -> Response {
    if let Err(wait) = app.auth_limiter.check(&address.to_string(), "pages") {
        return too_many_pages(wait);
    }
    let mut consent = match app.core.check_authorization(&request).await {
        Ok(consent) => consent,
        Err(AuthorizeError::Page(message)) => {
            return pages::error(StatusCode::BAD_REQUEST, "This app's request is invalid", &message);
        }
        Err(AuthorizeError::Redirect(to)) => return see_other(&to),
        Err(AuthorizeError::Store) => return unavailable(),
    };
    if let Some(header_name) = &app.core.config().trusted_header {
        return trusted_sign_in(&app, (peer.ip(), address), &headers, header_name, &mut consent).await;
    }
    let (browser, cookie) = match current_session(&app, &headers).await {
        Ok(Some(browser)) => (browser, None),
        Ok(None) => match start_session(&app, None).await {
            Some((browser, cookie)) => (browser, Some(cookie)),
            None => return unavailable(),
        },
        Err(outage) => return outage,
    };
    if app.core.begin_authorization(&mut consent, &browser.session.hash).await.is_err() {
        return unavailable();
    }
    if browser.session.user_id.is_some() && request.prompt.as_deref() != Some("login") {
        return with_cookie(see_other(&consent_url(&consent)), cookie);
    }
    let page = LoginPage {
        client_name: &consent.client.name,
        request_id: &consent.pending.id,
        csrf: &browser.csrf,
        username: request.login_hint.as_deref().unwrap_or_default(),
        error: None,
    };
    with_cookie(pages::html(StatusCode::OK, &page), cookie)
}

fn consent_url(consent: &Consent) -> String {
    format!("{CONSENT_PATH}?request={}", consent.pending.id)
}

/// Trusted-header sign-in (SPEC §10.6): only from a configured proxy (the TCP peer itself, not
/// a forwarded address), with exactly one value of the header, which is the user's subject id.
async fn trusted_sign_in(
    app: &AppState,
    (peer, address): (IpAddr, IpAddr),
    headers: &HeaderMap,
    header_name: &str,
    consent: &mut Consent,
) -> Response {
    let user = match trusted_user(app, peer, headers, header_name).await {
        Ok(user) => user,
        Err(page) => return page,
    };
    let Some((browser, cookie)) = start_session(app, Some(&user.id)).await else { return unavailable() };
    app.core.record_sign_in(&user.id, "trusted-header", address).await;
    if app.core.begin_authorization(consent, &browser.session.hash).await.is_err() {
        return unavailable();
    }
    with_cookie(see_other(&consent_url(consent)), Some(cookie))
}

/// The user a trusted proxy vouches for (SPEC §10.6): only from a configured proxy (the TCP peer
/// itself, not a forwarded address), with exactly one value of the header, naming an enabled user
/// by subject id. `Err` is the page to show.
pub(crate) async fn trusted_user(
    app: &AppState,
    peer: IpAddr,
    headers: &HeaderMap,
    header_name: &str,
) -> Result<User, Response> {
    if !app.core.config().trusted_proxies.contains(peer) {
        tracing::warn!(%peer, "trusted-header sign-in refused: not from a trusted proxy");
        return Err(pages::error(
            StatusCode::FORBIDDEN,
            "Sign-in unavailable",
            "Sign in through your account's portal.",
        ));
    }
    let mut values = headers.get_all(header_name).iter();
    let (first, second) = (values.next(), values.next());
    if second.is_some() {
        tracing::warn!(header = header_name, "trusted-header sign-in refused: the header was sent more than once");
        return Err(pages::error(StatusCode::BAD_REQUEST, "Sign-in refused", "The sign-in request is ambiguous."));
    }
    let Some(subject) = first.and_then(|v| v.to_str().ok()).map(str::trim).filter(|s| !s.is_empty()) else {
        tracing::warn!(header = header_name, "trusted-header sign-in refused: no subject in the header");
        return Err(pages::error(
            StatusCode::FORBIDDEN,
            "Sign-in unavailable",
            "Sign in through your account's portal.",
        ));
    };
    let Ok(user) = app.core.user_for_subject(subject).await else { return Err(unavailable()) };
    if user.disabled {
        return Err(pages::error(StatusCode::FORBIDDEN, "Account disabled", "This account is disabled."));
    }
    Ok(user)
}

/// Parses a form body; repeated fields are kept in order.
fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

pub(crate) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The checks every form POST of the pages passes: the address's rate limit, a live session, and
/// that session's CSRF token. Returns the session and the parsed form, or the page to show.
pub(crate) async fn form_post(
    app: &AppState,
    address: IpAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Browser, Vec<(String, String)>), Response> {
    if let Err(wait) = app.auth_limiter.check(&address.to_string(), "pages") {
        return Err(too_many_pages(wait));
    }
    let form = form(body);
    match current_session(app, headers).await? {
        Some(browser) if csrf_ok(&browser, &form) => Ok((browser, form)),
        _ => Err(forbidden_csrf()),
    }
}

fn csrf_ok(browser: &Browser, form: &[(String, String)]) -> bool {
    let given = field(form, "csrf").unwrap_or_default();
    given.len() == browser.csrf.len()
        && given.bytes().zip(browser.csrf.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

pub(crate) fn forbidden_csrf() -> Response {
    pages::error(
        StatusCode::FORBIDDEN,
        "Request refused",
        "This form has expired or did not come from this site. Go back and try again.",
    )
}

fn expired_request() -> Response {
    pages::error(
        StatusCode::BAD_REQUEST,
        "This request has expired",
        "The sign-in request has expired or was already used. Return to the app and start again.",
    )
}

/// `POST /o/oauth2/v2/login`: checks the password (throttled), then signs the session in.
pub async fn login(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (browser, form) = match form_post(&app, address, &headers, &body).await {
        Ok(checked) => checked,
        Err(page) => return page,
    };
    let request_id = field(&form, "request").unwrap_or_default();
    let consent = match app.core.pending_consent(request_id, &browser.session).await {
        Ok(Some(consent)) => consent,
        Ok(None) => return expired_request(),
        Err(_) => return unavailable(),
    };
    let username = field(&form, "username").unwrap_or_default().trim().to_owned();
    let password = field(&form, "password").unwrap_or_default();
    let retry = |status, error: &str| {
        pages::html(
            status,
            &LoginPage {
                client_name: &consent.client.name,
                request_id,
                csrf: &browser.csrf,
                username: &username,
                error: Some(error),
            },
        )
    };
    let user = match app.core.sign_in(&username, password, address).await {
        Ok(user) => user,
        Err(e) => return refused_sign_in(e, address, retry),
    };
    // A fresh session on sign-in, so that a session id planted before it is worth nothing.
    let Some((signed_in, cookie)) = start_session(&app, Some(&user.id)).await else { return unavailable() };
    if app.core.rebind_pending(&consent, &signed_in.session.hash).await.is_err() {
        return unavailable();
    }
    with_cookie(see_other(&consent_url(&consent)), Some(cookie))
}

#[derive(serde::Deserialize)]
pub struct ConsentQuery {
    request: Option<String>,
}

/// The signed-in user and the pending request of a consent step, or the page to show instead.
async fn consent_context(app: &AppState, session: &Session, request_id: &str) -> Result<(Consent, String), Response> {
    let Some(user_id) = session.user_id.clone() else { return Err(expired_request()) };
    match app.core.pending_consent(request_id, session).await {
        Ok(Some(consent)) => Ok((consent, user_id)),
        Ok(None) => Err(expired_request()),
        Err(_) => Err(unavailable()),
    }
}

/// `GET /o/oauth2/v2/consent?request=…`: the consent page.
pub async fn consent_page(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Query(query): Query<ConsentQuery>,
) -> Response {
    if let Err(wait) = app.auth_limiter.check(&address.to_string(), "pages") {
        return too_many_pages(wait);
    }
    let browser = match current_session(&app, &headers).await {
        Ok(Some(browser)) => browser,
        Ok(None) => return expired_request(),
        Err(outage) => return outage,
    };
    let (consent, user_id) =
        match consent_context(&app, &browser.session, query.request.as_deref().unwrap_or_default()).await {
            Ok(context) => context,
            Err(page) => return page,
        };
    match app.core.incremental_auth_refusal(&consent, &user_id).await {
        Ok(Some(to)) => return see_other(&to),
        Ok(None) => {}
        Err(_) => return unavailable(),
    }
    let username = match app.core.user(&user_id).await {
        Ok(Some(user)) if !user.disabled => user.username,
        Ok(_) => return pages::error(StatusCode::FORBIDDEN, "Account disabled", "This account is disabled."),
        Err(_) => return unavailable(),
    };
    let groups = consent
        .pending
        .scopes
        .iter()
        .filter_map(|name| app.core.catalogue().get(name))
        .map(|g| GroupChoice { name: g.name.clone(), title: g.title.clone(), description: g.description.clone() })
        .collect();
    let redirect_host = dataport_core::oauth::redirect_host(&consent.pending.redirect_uri);
    let page = ConsentPage {
        client_name: &consent.client.name,
        redirect_host: &redirect_host,
        username: &username,
        request_id: &consent.pending.id,
        csrf: &browser.csrf,
        groups,
        durations: pages::duration_choices(&app.core.config().consent_durations),
    };
    pages::html(StatusCode::OK, &page)
}

/// `POST /o/oauth2/v2/consent`: Allow or Deny.
pub async fn consent_submit(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (browser, form) = match form_post(&app, address, &headers, &body).await {
        Ok(checked) => checked,
        Err(page) => return page,
    };
    let (consent, user_id) =
        match consent_context(&app, &browser.session, field(&form, "request").unwrap_or_default()).await {
            Ok(context) => context,
            Err(page) => return page,
        };
    let outcome = if field(&form, "action") == Some("allow") {
        let groups: Vec<String> = form.iter().filter(|(k, _)| k == "group").map(|(_, v)| v.clone()).collect();
        let duration = field(&form, "duration").and_then(Duration::from_label).unwrap_or(Duration::OneTime);
        app.core.allow(&consent, &user_id, &groups, duration).await
    } else {
        app.core.deny(&consent, &user_id).await
    };
    match outcome {
        Ok(Some(to)) => see_other(&to),
        Ok(None) => expired_request(),
        Err(_) => unavailable(),
    }
}

/// 429 from the token or revocation endpoint (SPEC §11: rate-limited).
fn rate_limited(wait: u64) -> Response {
    let mut response = oauth_error(OAuthError {
        status: 429,
        error: "temporarily_unavailable",
        error_description: format!("Too many requests; try again in {wait} seconds."),
        basic_challenge: false,
    });
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
    response
}

/// 429 page for the sign-in and consent forms.
pub(crate) fn too_many_pages(wait: u64) -> Response {
    let mut response = pages::error(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many requests",
        &format!("Too many requests from your network. Try again in {wait} seconds."),
    );
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
    response
}

fn oauth_error(e: OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, no_store(), Json(&e)).into_response();
    if e.basic_challenge {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"dataport\""));
    }
    response
}

fn no_store() -> [(header::HeaderName, &'static str); 2] {
    [(header::CACHE_CONTROL, "no-store"), (header::PRAGMA, "no-cache")]
}

/// HTTP Basic client credentials (RFC 6749 §2.3.1: both parts form-urlencoded).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let invalid = || OAuthError { basic_challenge: true, ..invalid_client() };
    let value = value.to_str().map_err(|_| invalid())?;
    let Some((scheme, encoded)) = value.split_once(' ') else { return Err(invalid()) };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid());
    }
    let decoded = STANDARD.decode(encoded.trim()).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(invalid)?;
    let (id, secret) = decoded.split_once(':').ok_or_else(invalid)?;
    let decode = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8().map(|c| c.into_owned());
    Ok(Some((decode(id).map_err(|_| invalid())?, decode(secret).map_err(|_| invalid())?)))
}

fn invalid_client() -> OAuthError {
    OAuthError {
        status: 401,
        error: "invalid_client",
        error_description: "Client authentication failed.".into(),
        basic_challenge: false,
    }
}

fn invalid_request(description: &str) -> OAuthError {
    OAuthError { status: 400, error: "invalid_request", error_description: description.into(), basic_challenge: false }
}

/// `POST /token`.
pub async fn token(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(wait) = app.auth_limiter.check(&address.to_string(), "token") {
        return rate_limited(wait);
    }
    let basic = match basic_credentials(&headers) {
        Ok(basic) => basic,
        Err(e) => return oauth_error(e),
    };
    let form = form(&body);
    let mut seen: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
    seen.sort_unstable();
    if seen.windows(2).any(|w| w[0] == w[1]) {
        return oauth_error(invalid_request("A parameter was given more than once."));
    }
    let get = |name: &str| field(&form, name).map(str::to_owned);
    let request = TokenRequest {
        grant_type: get("grant_type"),
        code: get("code"),
        redirect_uri: get("redirect_uri"),
        code_verifier: get("code_verifier"),
        refresh_token: get("refresh_token"),
        scope: get("scope"),
        client_id: get("client_id"),
        client_secret: get("client_secret"),
    };
    match app.core.token(request, basic).await {
        Ok(response) => (StatusCode::OK, no_store(), Json(response)).into_response(),
        Err(e) => oauth_error(e),
    }
}

/// `POST /revoke` (RFC 7009), also Google's `?token=` form: 200 whether or not the token exists.
pub async fn revoke(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(wait) = app.auth_limiter.check(&address.to_string(), "token") {
        return rate_limited(wait);
    }
    let mut params = form(&body);
    params.extend(form(query.unwrap_or_default().as_bytes()));
    let Some(token) = field(&params, "token").filter(|t| !t.is_empty()) else {
        return oauth_error(invalid_request("token is required."));
    };
    match app.core.revoke(token).await {
        Ok(()) => (StatusCode::OK, no_store()).into_response(),
        Err(_) => oauth_error(OAuthError {
            status: 503,
            error: "temporarily_unavailable",
            error_description: "The service is currently unavailable.".into(),
            basic_challenge: false,
        }),
    }
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
pub async fn metadata(State(app): State<AppState>) -> Response {
    Json(app.core.oauth_metadata()).into_response()
}

/// The page for a sign-in the core refused (`retry` renders the form again with a message), or
/// 503 when the store did not answer. The consent and account sign-ins share it.
pub fn refused_sign_in(error: SignInError, address: IpAddr, retry: impl Fn(StatusCode, &str) -> Response) -> Response {
    match error {
        SignInError::Throttled(wait) => {
            tracing::warn!(%address, "sign-in throttled");
            let minutes = wait.div_ceil(60);
            retry(StatusCode::TOO_MANY_REQUESTS, &format!("Too many failed attempts. Try again in {minutes} minutes."))
        }
        SignInError::WrongPassword => retry(StatusCode::UNAUTHORIZED, "Wrong username or password."),
        SignInError::Disabled(name) => retry(StatusCode::FORBIDDEN, &format!("The account {name} is disabled.")),
        SignInError::Store(_) => unavailable(),
    }
}
