//! The OAuth 2.0 authorization server (SPEC §10), driven over HTTP like a browser and an app:
//! the full flow, the independent `oauth2` crate as a client, and one negative test per rule.

use std::time::Duration;

use dataport_core::auth::hash_token;
use dataport_core::model::Client;
use dataport_core::users::hash_password;
use dataport_types::Timestamp;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value;

use crate::harness::TestApp;

pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const PREFIX: &str = "https://www.googleapis.com/auth/dataportability.";
pub const REDIRECT: &str = "http://127.0.0.1:7777/cb";

/// A browser: keeps the session cookie, never follows redirects.
pub struct Browser {
    http: reqwest::Client,
    cookie: Option<String>,
    base: String,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub html: String,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self::at(&app.base)
    }

    /// A browser for the server at `base`.
    pub fn at(base: &str) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self::with_client(base, http)
    }

    /// A browser that sends its requests with `http` (which must not follow redirects).
    pub fn with_client(base: &str, http: reqwest::Client) -> Self {
        Self { http, cookie: None, base: base.to_owned() }
    }

    /// The session cookie (`name=value`), once the server has set one.
    pub fn cookie(&self) -> Option<&str> {
        self.cookie.as_deref()
    }

    async fn finish(&mut self, response: reqwest::Response) -> Page {
        let headers = response.headers().clone();
        for cookie in headers.get_all(SET_COOKIE) {
            let cookie = cookie.to_str().expect("ascii");
            self.cookie = Some(cookie.split(';').next().expect("pair").to_owned());
        }
        Page {
            status: response.status(),
            location: headers.get(LOCATION).map(|l| l.to_str().expect("ascii").to_owned()),
            headers,
            html: response.text().await.expect("body"),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        let response = request.send().await.expect("get");
        self.finish(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut request = self.http.post(format!("{}{path}", self.base)).form(form);
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        let response = request.send().await.expect("post");
        self.finish(response).await
    }
}

/// The value of a hidden form field.
pub fn hidden(html: &str, name: &str) -> String {
    let pattern = format!(r#"name="{name}" value="([^"]*)""#);
    regex::Regex::new(&pattern).expect("regex").captures(html).map(|c| c[1].to_owned()).unwrap_or_default()
}

/// A query parameter of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_pairs(query).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let decode =
                |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            (decode(k), decode(v))
        })
        .collect()
}

/// An authorization request.
pub struct Authorize<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub groups: &'a [&'a str],
    pub challenge: Option<&'a str>,
    pub extra: &'a str,
}

impl Authorize<'_> {
    pub fn path(&self) -> String {
        let scope = self.groups.iter().map(|g| format!("{PREFIX}{g}")).collect::<Vec<_>>().join(" ");
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("client_id", self.client_id);
        query.append_pair("redirect_uri", self.redirect_uri);
        query.append_pair("response_type", "code");
        query.append_pair("scope", &scope);
        query.append_pair("state", "st-123");
        if let Some(challenge) = self.challenge {
            query.append_pair("code_challenge", challenge);
            query.append_pair("code_challenge_method", "S256");
        }
        format!("/o/oauth2/v2/auth?{}{}", query.finish(), self.extra)
    }
}

/// Opens an authorization URL and signs in; returns the request id and the sign-in reply.
pub async fn sign_in(browser: &mut Browser, path: &str, user: (&str, &str)) -> (String, Page) {
    let login = browser.get(path).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.html);
    let (csrf, id) = (hidden(&login.html, "csrf"), hidden(&login.html, "request"));
    let reply = browser
        .post("/o/oauth2/v2/login", &[("csrf", &csrf), ("request", &id), ("username", user.0), ("password", user.1)])
        .await;
    (id, reply)
}

/// Signs in and answers the consent page; returns the redirect back to the app.
pub async fn consent(
    browser: &mut Browser,
    request: &Authorize<'_>,
    user: (&str, &str),
    groups: &[&str],
    duration: &str,
) -> String {
    let (id, signed_in) = sign_in(browser, &request.path(), user).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{}", signed_in.html);
    let page = browser.get(signed_in.location.as_deref().expect("to consent")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let csrf = hidden(&page.html, "csrf");
    let mut form = vec![("csrf", csrf.as_str()), ("request", id.as_str()), ("duration", duration), ("action", "allow")];
    form.extend(groups.iter().map(|g| ("group", *g)));
    let back = browser.post("/o/oauth2/v2/consent", &form).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.html);
    back.location.expect("redirect to the app")
}

/// Registers a user with a password and returns its id.
pub async fn user(app: &TestApp, name: &str, password: &str) -> String {
    let hash = hash_password(password).expect("hash");
    app.core.store().create_user(name, name, Some(&hash), Timestamp::now()).await.expect("store").expect("new").id
}

/// Registers a client; `secret` makes it confidential.
pub async fn client(app: &TestApp, id: &str, secret: Option<&str>) {
    let client = Client {
        id: id.to_owned(),
        name: format!("App {id}"),
        redirect_uris: vec![REDIRECT.to_owned(), "http://localhost/".to_owned()],
        public: secret.is_none(),
        disabled: false,
        secret_hash: secret.map(hash_token),
        refresh_rotation: None,
    };
    assert!(app.core.store().create_client(&client, Timestamp::now()).await.expect("store"));
}

/// POSTs to /token; returns status and JSON.
pub async fn token(
    app: &TestApp,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut request = app.http.post(format!("{}/token", app.base)).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.expect("token");
    let status = response.status();
    let headers = response.headers().clone();
    (status, response.json().await.unwrap_or(Value::Null), headers)
}

async fn refresh_public(app: &TestApp, refresh_token: &str) -> (StatusCode, Value) {
    let (status, json, _) =
        token(app, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", "native")], None)
            .await;
    (status, json)
}

/// The usual request of the `native` public client: one group, PKCE.
fn native_request() -> Authorize<'static> {
    Authorize {
        client_id: "native",
        redirect_uri: REDIRECT,
        groups: &["myactivity.search"],
        challenge: Some(CHALLENGE),
        extra: "",
    }
}

async fn setup() -> TestApp {
    setup_with(|_| {}).await
}

/// [`setup`] on a server with `tweak` applied to its configuration.
async fn setup_with(tweak: impl FnOnce(&mut dataport_core::Config)) -> TestApp {
    let app = TestApp::spawn_with(tweak).await;
    user(&app, "alice", "correct horse battery").await;
    client(&app, "native", None).await;
    client(&app, "webapp", Some("s3cret-s3cret")).await;
    app
}

const ALICE: (&str, &str) = ("alice", "correct horse battery");

async fn code_for(app: &TestApp, client_id: &str, challenge: Option<&str>, groups: &[&str], duration: &str) -> String {
    let mut browser = Browser::new(app);
    let request = Authorize { client_id, redirect_uri: REDIRECT, groups, challenge, extra: "" };
    let back = consent(&mut browser, &request, ALICE, groups, duration).await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("st-123"));
    assert_eq!(param(&back, "iss").as_deref(), Some(app.base.as_str()));
    param(&back, "code").expect("code")
}

async fn redeem_public(app: &TestApp, code: &str) -> (StatusCode, Value) {
    let (status, json, _) = token(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", "native"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
        None,
    )
    .await;
    (status, json)
}

#[tokio::test]
async fn code_pkce_refresh_and_api_access() {
    let app = setup().await;
    let code = code_for(&app, "native", Some(CHALLENGE), &["myactivity.search", "chrome.history"], "30d").await;
    let (status, tokens) = redeem_public(&app, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3599);
    assert_eq!(tokens["refresh_token_expires_in"], 2_592_000);
    assert_eq!(tokens["scope"], format!("{PREFIX}chrome.history {PREFIX}myactivity.search"));
    let access = tokens["access_token"].as_str().expect("access");
    let check = app.post("/v1/accessType:check", access, "{}").await;
    assert_eq!(check.json["timeBasedResources"], serde_json::json!(["chrome.history", "myactivity.search"]));

    // Refresh rotates: the new pair works, and narrowing the scope is allowed.
    let refresh = tokens["refresh_token"].as_str().expect("refresh");
    let (status, renewed, headers) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", "native"),
            ("scope", &format!("{PREFIX}chrome.history")),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(renewed["scope"], format!("{PREFIX}chrome.history"));
    assert_ne!(renewed["refresh_token"], tokens["refresh_token"]);
    let narrowed = renewed["access_token"].as_str().expect("access");
    assert_eq!(
        app.post("/v1/accessType:check", narrowed, "{}").await.json["timeBasedResources"],
        serde_json::json!(["chrome.history"])
    );
    // Widening is refused.
    let (status, error, _) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", renewed["refresh_token"].as_str().expect("r")),
            ("client_id", "native"),
            ("scope", &format!("{PREFIX}youtube.comments")),
        ],
        None,
    )
    .await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")));
}

#[tokio::test]
async fn confidential_clients_authenticate_with_basic_or_post() {
    let app = setup().await;
    for basic in [true, false] {
        let code = code_for(&app, "webapp", None, &["myactivity.search"], "one-time").await;
        let mut form = vec![("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
        if !basic {
            form.extend([("client_id", "webapp"), ("client_secret", "s3cret-s3cret")]);
        }
        let (status, tokens, _) = token(&app, &form, basic.then_some(("webapp", "s3cret-s3cret"))).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        assert!(tokens.get("refresh_token_expires_in").is_none(), "one-time grants carry no refresh expiry");
    }
    let code = code_for(&app, "webapp", None, &["chrome.history"], "one-time").await;
    let (status, error, headers) = token(
        &app,
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)],
        Some(("webapp", "wrong")),
    )
    .await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    assert!(headers.contains_key("www-authenticate"));
    let (status, error, _) = token(
        &app,
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT), ("client_id", "webapp")],
        None,
    )
    .await;
    assert_eq!(
        (status, error["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client")),
        "a confidential client must authenticate"
    );
}

#[tokio::test]
async fn pkce_is_enforced() {
    let app = setup().await;
    // Public clients must send a challenge; plain is refused.
    let mut browser = Browser::new(&app);
    for (challenge, method) in [(None, None), (Some(CHALLENGE), Some("plain"))] {
        let mut path = Authorize {
            client_id: "native",
            redirect_uri: REDIRECT,
            groups: &["myactivity.search"],
            challenge: None,
            extra: "",
        }
        .path();
        if let Some(c) = challenge {
            path.push_str(&format!("&code_challenge={c}&code_challenge_method={}", method.unwrap_or_default()));
        }
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        let location = page.location.expect("redirect");
        assert_eq!(param(&location, "error").as_deref(), Some("invalid_request"), "{location}");
        assert_eq!(param(&location, "state").as_deref(), Some("st-123"));
        assert_eq!(param(&location, "iss").as_deref(), Some(app.base.as_str()));
    }
    // Wrong verifier, missing verifier.
    for verifier in [Some("wrong-verifier-wrong-verifier-wrong-verifier-x"), None] {
        let code = code_for(&app, "native", Some(CHALLENGE), &["myactivity.search"], "one-time").await;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", "native"),
            ("redirect_uri", REDIRECT),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        let (status, error, _) = token(&app, &form, None).await;
        assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{verifier:?}");
    }
    // A verifier for a request that had no challenge (downgrade) is refused.
    let code = code_for(&app, "webapp", None, &["myactivity.search"], "one-time").await;
    let (status, error, _) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
        Some(("webapp", "s3cret-s3cret")),
    )
    .await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    assert_no_tokens(&app).await;
}

/// No access or refresh token exists for alice.
async fn assert_no_tokens(app: &TestApp) {
    let db = app.sql().await;
    let n = db.count("SELECT COUNT(*) FROM tokens").await;
    db.close().await;
    assert_eq!(n, 0, "nothing may be issued");
}

#[tokio::test]
async fn code_replay_revokes_what_the_code_issued() {
    let app = setup().await;
    let code = code_for(&app, "native", Some(CHALLENGE), &["myactivity.search"], "one-time").await;
    let (status, tokens) = redeem_public(&app, &code).await;
    assert_eq!(status, StatusCode::OK);
    let access = tokens["access_token"].as_str().expect("access");
    assert_eq!(app.post("/v1/accessType:check", access, "{}").await.status, StatusCode::OK);
    let (status, error) = redeem_public(&app, &code).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    assert_eq!(app.post("/v1/accessType:check", access, "{}").await.status, StatusCode::UNAUTHORIZED);
    let (status, _) = refresh_public(&app, tokens["refresh_token"].as_str().expect("r")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn code_of_another_client_expired_or_with_other_redirect_is_refused() {
    let app = setup().await;
    client(&app, "other-native", None).await;
    let code = code_for(&app, "native", Some(CHALLENGE), &["myactivity.search"], "one-time").await;
    let (status, error, _) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "other-native"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
        None,
    )
    .await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));

    let code = code_for(&app, "native", Some(CHALLENGE), &["myactivity.search"], "one-time").await;
    let (status, error, _) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "native"),
            ("redirect_uri", "http://localhost/"),
            ("code_verifier", VERIFIER),
        ],
        None,
    )
    .await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));

    let code = code_for(&app, "native", Some(CHALLENGE), &["myactivity.search"], "one-time").await;
    let db = app.sql().await;
    db.execute("UPDATE auth_codes SET expires_at = 0", &[]).await;
    db.close().await;
    let (status, error) = redeem_public(&app, &code).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "expired");
    assert_no_tokens(&app).await;
}

#[tokio::test]
async fn refresh_token_reuse_revokes_the_family() {
    // No reuse window (issue #23): every second presentation of a rotated token is reuse.
    let app = setup_with(|c| c.refresh_reuse_seconds = 0).await;
    let code = code_for(&app, "native", Some(CHALLENGE), &["myactivity.search"], "180d").await;
    let (_, first) = redeem_public(&app, &code).await;
    assert_eq!(first["refresh_token_expires_in"], 15_552_000);
    let refresh = |t: &Value| t["refresh_token"].as_str().expect("refresh").to_owned();
    let form = |r: &str| {
        vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), r.to_owned()),
            ("client_id".to_owned(), "native".to_owned()),
        ]
    };
    let send = |f: Vec<(String, String)>| {
        let app = &app;
        async move {
            let f: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            token(app, &f, None).await
        }
    };
    let (status, second, _) = send(form(&refresh(&first))).await;
    assert_eq!(status, StatusCode::OK);
    let access = second["access_token"].as_str().expect("access").to_owned();
    assert_eq!(app.post("/v1/accessType:check", &access, "{}").await.status, StatusCode::OK);
    // The first refresh token, already rotated, comes back: an attacker has a copy.
    let (status, error, _) = send(form(&refresh(&first))).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    // Everything of the family is dead now.
    let (status, _, _) = send(form(&refresh(&second))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.post("/v1/accessType:check", &access, "{}").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revocation_and_reset_end_api_access() {
    let app = setup().await;
    let code = code_for(&app, "native", Some(CHALLENGE), &["myactivity.search"], "30d").await;
    let (_, tokens) = redeem_public(&app, &code).await;
    let access = tokens["access_token"].as_str().expect("access");
    // Revoking the refresh token takes its access tokens along (RFC 7009 §2.1).
    let revoked = app
        .http
        .post(format!("{}/revoke", app.base))
        .form(&[("token", tokens["refresh_token"].as_str().expect("r"))])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), StatusCode::OK);
    let reply = app.post("/v1/accessType:check", access, "{}").await;
    assert_eq!((reply.status, reply.reason()), (StatusCode::UNAUTHORIZED, Some("ACCESS_TOKEN_INVALID")));
    // Unknown tokens are fine too; Google's ?token= form works.
    let unknown = app.http.post(format!("{}/revoke?token=nope", app.base)).send().await.expect("revoke");
    assert_eq!(unknown.status(), StatusCode::OK);

    // After reset, the pair's tokens are dead, refresh tokens included.
    let code = code_for(&app, "native", Some(CHALLENGE), &["chrome.history"], "30d").await;
    let (_, tokens) = redeem_public(&app, &code).await;
    let access = tokens["access_token"].as_str().expect("access");
    assert_eq!(app.post("/v1/authorization:reset", access, "{}").await.status, StatusCode::OK);
    assert_eq!(app.post("/v1/accessType:check", access, "{}").await.status, StatusCode::UNAUTHORIZED);
    let (status, _) = refresh_public(&app, tokens["refresh_token"].as_str().expect("r")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn consent_post_needs_the_sessions_csrf_token() {
    let app = setup().await;
    let mut browser = Browser::new(&app);
    let request = native_request();
    let login = browser.get(&request.path()).await;
    let id = hidden(&login.html, "request");
    let csrf = hidden(&login.html, "csrf");
    let bad_login =
        browser.post("/o/oauth2/v2/login", &[("request", &id), ("username", ALICE.0), ("password", ALICE.1)]).await;
    assert_eq!(bad_login.status, StatusCode::FORBIDDEN);
    let signed_in = browser
        .post("/o/oauth2/v2/login", &[("csrf", &csrf), ("request", &id), ("username", ALICE.0), ("password", ALICE.1)])
        .await;
    let page = browser.get(signed_in.location.as_deref().expect("consent")).await;
    let csrf = hidden(&page.html, "csrf");
    for form in [
        vec![("request", id.as_str()), ("group", "myactivity.search"), ("duration", "30d"), ("action", "allow")],
        vec![
            ("csrf", "dpf_forged"),
            ("request", id.as_str()),
            ("group", "myactivity.search"),
            ("duration", "30d"),
            ("action", "allow"),
        ],
    ] {
        let reply = browser.post("/o/oauth2/v2/consent", &form).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(reply.location.is_none());
    }
    // Another browser (no session) with the right token is refused as well.
    let mut other = Browser::new(&app);
    let reply = other
        .post(
            "/o/oauth2/v2/consent",
            &[
                ("csrf", &csrf),
                ("request", &id),
                ("group", "myactivity.search"),
                ("duration", "30d"),
                ("action", "allow"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let db = app.sql().await;
    let n = db.count("SELECT COUNT(*) FROM auth_codes").await;
    db.close().await;
    assert_eq!(n, 0, "no code was issued");
    // Deny sends the user back with access_denied.
    let deny = browser.post("/o/oauth2/v2/consent", &[("csrf", &csrf), ("request", &id), ("action", "deny")]).await;
    let location = deny.location.expect("redirect");
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
}

#[tokio::test]
async fn login_brute_force_is_throttled() {
    let app = setup().await;
    let mut browser = Browser::new(&app);
    let request = native_request();
    let login = browser.get(&request.path()).await;
    let (csrf, id) = (hidden(&login.html, "csrf"), hidden(&login.html, "request"));
    for _ in 0..5 {
        let reply = browser
            .post(
                "/o/oauth2/v2/login",
                &[("csrf", &csrf), ("request", &id), ("username", "alice"), ("password", "guess")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let reply = browser
        .post("/o/oauth2/v2/login", &[("csrf", &csrf), ("request", &id), ("username", "alice"), ("password", ALICE.1)])
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS, "even the right password waits");
    assert!(reply.html.contains("Too many failed attempts"));
}

#[tokio::test]
async fn no_open_redirects() {
    let app = setup().await;
    let mut browser = Browser::new(&app);
    for (client_id, redirect) in [
        ("native", "https://evil.example/cb"),
        ("native", "http://127.0.0.1:7777/other"),
        ("native", "http://127.0.0.1.evil.example/cb"),
        ("native", "http://localhost@evil.example/"),
        ("unknown-client", REDIRECT),
        ("", "https://evil.example/cb"),
    ] {
        // Even with other errors in the request, nothing redirects before the URI is validated.
        let request = Authorize {
            client_id,
            redirect_uri: redirect,
            groups: &["not.a.group"],
            challenge: None,
            extra: "&response_type=token",
        };
        let page = browser.get(&request.path()).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{client_id} {redirect}");
        assert!(page.location.is_none(), "{client_id} {redirect}");
        assert!(!page.html.contains("evil.example\" "), "the page does not link to it");
    }
    let page = browser.get("/o/oauth2/v2/auth?client_id=native&response_type=code").await;
    assert_eq!((page.status, page.location), (StatusCode::BAD_REQUEST, None));
    // Once the URI is valid, errors go back to it with error, state and iss.
    let request = Authorize {
        client_id: "native",
        redirect_uri: REDIRECT,
        groups: &["not.a.group"],
        challenge: Some(CHALLENGE),
        extra: "",
    };
    let location = browser.get(&request.path()).await.location.expect("redirect");
    assert!(location.starts_with(REDIRECT));
    assert_eq!(param(&location, "error").as_deref(), Some("invalid_scope"));
}

#[tokio::test]
async fn disabled_clients_and_users_get_nothing() {
    let app = setup().await;
    let code = code_for(&app, "native", Some(CHALLENGE), &["myactivity.search"], "30d").await;
    let (_, tokens) = redeem_public(&app, &code).await;
    assert!(app.core.store().set_client_disabled("native", true, Timestamp::now()).await.expect("store"));
    let mut browser = Browser::new(&app);
    let request = native_request();
    let page = browser.get(&request.path()).await;
    assert_eq!((page.status, page.location.clone()), (StatusCode::BAD_REQUEST, None));
    let (status, error) = refresh_public(&app, tokens["refresh_token"].as_str().expect("r")).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
    assert_eq!(
        app.post("/v1/accessType:check", tokens["access_token"].as_str().expect("a"), "{}").await.status,
        StatusCode::UNAUTHORIZED
    );

    let code = code_for(&app, "webapp", None, &["myactivity.search"], "30d").await;
    assert!(app.core.store().set_user_disabled("alice", true, Timestamp::now()).await.expect("store"));
    let (status, error, _) = token(
        &app,
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT)],
        Some(("webapp", "s3cret-s3cret")),
    )
    .await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let mut browser = Browser::new(&app);
    let request = Authorize {
        client_id: "webapp",
        redirect_uri: REDIRECT,
        groups: &["myactivity.search"],
        challenge: None,
        extra: "",
    };
    let (_, reply) = sign_in(&mut browser, &request.path(), ALICE).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.location.is_none());
}

#[tokio::test]
async fn incremental_auth_with_granted_scopes_is_refused() {
    let app = setup().await;
    code_for(&app, "native", Some(CHALLENGE), &["myactivity.search"], "30d").await;
    let mut browser = Browser::new(&app);
    let request = Authorize {
        client_id: "native",
        redirect_uri: REDIRECT,
        groups: &["myactivity.search", "chrome.history"],
        challenge: Some(CHALLENGE),
        extra: "&include_granted_scopes=true",
    };
    let (_, signed_in) = sign_in(&mut browser, &request.path(), ALICE).await;
    let refused = browser.get(signed_in.location.as_deref().expect("consent")).await;
    let location = refused.location.expect("redirect back");
    assert_eq!(param(&location, "error").as_deref(), Some("invalid_request"));
    assert_eq!(
        param(&location, "error_description").as_deref(),
        Some("Incremental auth is not allowed for the requested scopes.")
    );
}

#[tokio::test]
async fn pages_send_security_headers_and_metadata_describes_the_server() {
    let app = setup().await;
    let mut browser = Browser::new(&app);
    let request = native_request();
    let page = browser.get(&request.path()).await;
    for (name, value) in
        [("cache-control", "no-store"), ("x-frame-options", "DENY"), ("x-content-type-options", "nosniff")]
    {
        assert_eq!(page.headers[name], value);
    }
    assert!(page.headers["content-security-policy"].to_str().expect("csp").contains("frame-ancestors 'none'"));
    let cookie = page.headers[SET_COOKIE].to_str().expect("cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(page.html.contains("<label for=\"username\">") && page.html.contains("<label for=\"password\">"));

    let metadata: Value = app
        .http
        .get(format!("{}/.well-known/oauth-authorization-server", app.base))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(metadata["issuer"], app.base.as_str());
    assert_eq!(metadata["token_endpoint"], format!("{}/token", app.base));
    assert_eq!(metadata["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(metadata["authorization_response_iss_parameter_supported"], true);
}

#[tokio::test]
async fn the_oauth2_crate_completes_code_pkce_and_refresh() {
    use oauth2::basic::BasicClient;
    use oauth2::{
        AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, RefreshToken, Scope,
        TokenResponse, TokenUrl,
    };

    let app = setup().await;
    let client = BasicClient::new(ClientId::new("native".into()))
        .set_auth_uri(AuthUrl::new(format!("{}/o/oauth2/v2/auth", app.base)).expect("url"))
        .set_token_uri(TokenUrl::new(format!("{}/token", app.base)).expect("url"))
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).expect("url"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new(format!("{PREFIX}myactivity.search")))
        .set_pkce_challenge(challenge)
        .url();
    let path = url.as_str().strip_prefix(&app.base).expect("our server").to_owned();

    let mut browser = Browser::new(&app);
    let (id, signed_in) = sign_in(&mut browser, &path, ALICE).await;
    let page = browser.get(signed_in.location.as_deref().expect("consent")).await;
    let back = browser
        .post(
            "/o/oauth2/v2/consent",
            &[
                ("csrf", &hidden(&page.html, "csrf")),
                ("request", &id),
                ("group", "myactivity.search"),
                ("duration", "30d"),
                ("action", "allow"),
            ],
        )
        .await;
    let location = back.location.expect("redirect");
    assert_eq!(param(&location, "state").as_deref(), Some(state.secret().as_str()));

    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let tokens = client
        .exchange_code(AuthorizationCode::new(param(&location, "code").expect("code")))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    assert_eq!(tokens.expires_in(), Some(Duration::from_secs(3599)));
    let refreshed = client
        .exchange_refresh_token(&RefreshToken::new(tokens.refresh_token().expect("refresh").secret().clone()))
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(refreshed.access_token().secret(), tokens.access_token().secret());
    let reply = app.post("/v1/accessType:check", refreshed.access_token().secret(), "{}").await;
    assert_eq!(reply.json["timeBasedResources"], serde_json::json!(["myactivity.search"]));
}

#[tokio::test]
async fn trusted_header_sign_in_only_from_the_proxy() {
    let app = TestApp::spawn_with(|c| {
        c.trusted_header = Some("X-Forwarded-User".into());
        c.trusted_proxies = dataport_core::config::ProxyList::parse("127.0.0.1").expect("proxies");
    })
    .await;
    client(&app, "native", None).await;
    let request = native_request();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let no_header = http.get(format!("{}{}", app.base, request.path())).send().await.expect("get");
    assert_eq!(no_header.status(), StatusCode::FORBIDDEN, "no login form to fall back to");
    let signed_in = http
        .get(format!("{}{}", app.base, request.path()))
        .header("X-Forwarded-User", "subject-42")
        .send()
        .await
        .expect("get");
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()[SET_COOKIE].to_str().expect("cookie").split(';').next().expect("pair").to_owned();
    let consent_path = signed_in.headers()[LOCATION].to_str().expect("location").to_owned();
    let page = http.get(format!("{}{consent_path}", app.base)).header(COOKIE, &cookie).send().await.expect("consent");
    let html = page.text().await.expect("html");
    assert!(html.contains("Signed in as <strong>subject-42</strong>"), "{html}");
    let user = app.core.store().credentials("subject-42").await.expect("store").expect("user created");
    assert_eq!(user.user.subject, "subject-42");

    // The same header from an address that is not a configured proxy is ignored.
    let elsewhere = TestApp::spawn_with(|c| {
        c.trusted_header = Some("X-Forwarded-User".into());
        c.trusted_proxies = dataport_core::config::ProxyList::parse("10.9.9.9").expect("proxies");
    })
    .await;
    client(&elsewhere, "native", None).await;
    let refused = http
        .get(format!("{}{}", elsewhere.base, request.path()))
        .header("X-Forwarded-User", "admin")
        .send()
        .await
        .expect("get");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(elsewhere.core.store().credentials("admin").await.expect("store").is_none());
}
