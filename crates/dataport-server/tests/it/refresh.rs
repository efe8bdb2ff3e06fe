//! Refresh tokens that behave like Google's (SPEC §10.3, issue #23): a confidential client's one
//! refresh token keeps working until revoked, its grant ends, it is unused for too long or the
//! per-(user, client) cap drops it; a public client's rotates, with a reuse window in which a
//! repeated refresh gets the same successor; the demo client is not rotated; the operator may
//! choose per client.

use std::process::Command;
use std::time::Duration;

use dataport_core::model::{Client, RefreshRotation};
use dataport_types::Timestamp;
use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::TestApp;
use crate::oauth::{Authorize, Browser, CHALLENGE, REDIRECT, VERIFIER, client, hidden, param, sign_in, token, user};

const ALICE: (&str, &str) = ("alice", "correct horse battery");
const SECRET: &str = "s3cret-s3cret";
const SEARCH: &str = "myactivity.search";

/// A server with alice, the public client `native` and the confidential client `webapp`.
async fn setup(tweak: impl FnOnce(&mut dataport_core::Config)) -> TestApp {
    let app = TestApp::spawn_with(|c| {
        c.auth_rate_limit_per_minute = 0;
        tweak(c);
    })
    .await;
    user(&app, ALICE.0, ALICE.1).await;
    client(&app, "native", None).await;
    client(&app, "webapp", Some(SECRET)).await;
    app
}

/// How a client authenticates at /token: `Some(secret)` for a confidential one.
#[derive(Clone, Copy)]
struct App<'a> {
    id: &'a str,
    secret: Option<&'a str>,
}

const WEBAPP: App<'static> = App { id: "webapp", secret: Some(SECRET) };
const NATIVE: App<'static> = App { id: "native", secret: None };

/// A browser signed in as `person` (the session the consent pages keep), for many consents.
async fn signed_in(app: &TestApp, client_id: &str, person: (&str, &str), redirect_uri: &str) -> Browser {
    let mut browser = Browser::new(app);
    let request = Authorize { client_id, redirect_uri, groups: &[SEARCH], challenge: Some(CHALLENGE), extra: "" };
    let (_, reply) = sign_in(&mut browser, &request.path(), person).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.html);
    browser
}

/// One consent of the signed-in person to `client_id` (30 days) and the code exchange: the tokens.
async fn connect(app: &TestApp, browser: &mut Browser, client: App<'_>, redirect_uri: &str) -> Value {
    let request =
        Authorize { client_id: client.id, redirect_uri, groups: &[SEARCH], challenge: Some(CHALLENGE), extra: "" };
    let to_consent = browser.get(&request.path()).await;
    assert_eq!(to_consent.status, StatusCode::SEE_OTHER, "{}", to_consent.html);
    let page = browser.get(to_consent.location.as_deref().expect("to consent")).await;
    let (csrf, id) = (hidden(&page.html, "csrf"), hidden(&page.html, "request"));
    let form = [("csrf", csrf.as_str()), ("request", &id), ("duration", "30d"), ("action", "allow"), ("group", SEARCH)];
    let back = browser.post("/o/oauth2/v2/consent", &form).await;
    let code = param(back.location.as_deref().expect("back to the app"), "code").expect("code");
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", VERIFIER),
    ];
    if client.secret.is_none() {
        form.push(("client_id", client.id));
    }
    let (status, tokens, _) = token(app, &form, client.secret.map(|s| (client.id, s))).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens["refresh_token"].is_string(), "the code exchange gives a refresh token: {tokens}");
    tokens
}

/// `grant_type=refresh_token` with `refresh_token`, as `client`.
async fn refresh(app: &TestApp, client: App<'_>, refresh_token: &str) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    if client.secret.is_none() {
        form.push(("client_id", client.id));
    }
    let (status, json, _) = token(app, &form, client.secret.map(|s| (client.id, s))).await;
    (status, json)
}

fn refresh_token(tokens: &Value) -> String {
    tokens["refresh_token"].as_str().expect("refresh_token").to_owned()
}

/// The API's status for an access token.
async fn api_status(app: &TestApp, tokens: &Value) -> StatusCode {
    app.post("/v1/accessType:check", tokens["access_token"].as_str().expect("access_token"), "{}").await.status
}

/// Refreshes `times` times with the one refresh token: each answer is 200 without a new refresh
/// token (the app keeps the one it has), and each access token works. Returns the last answer.
async fn refresh_unrotated(app: &TestApp, client: App<'_>, presented: &str, times: usize) -> Value {
    let mut last = Value::Null;
    for n in 1..=times {
        let (status, answer) = refresh(app, client, presented).await;
        assert_eq!(status, StatusCode::OK, "refresh {n}: {answer}");
        assert!(answer.get("refresh_token").is_none(), "refresh {n} rotated: {answer}");
        assert_eq!(answer["refresh_token_expires_in"].as_i64().map(|s| s > 2_591_000), Some(true), "{answer}");
        assert_eq!(api_status(app, &answer).await, StatusCode::OK, "refresh {n}: its access token works");
        last = answer;
    }
    last
}

/// Issue #23, acceptance 1: a confidential client refreshes 20 times with the one refresh token
/// it got at consent, and after `/revoke`, `authorization:reset` or the person's revoke on
/// `/account` that same refresh token is refused (and its last access token too).
#[tokio::test]
async fn a_confidential_clients_one_refresh_token_works_until_revoked() {
    let app = setup(|_| {}).await;
    let mut browser = signed_in(&app, WEBAPP.id, ALICE, REDIRECT).await;
    for ending in ["revoke", "reset", "the person's revoke"] {
        let tokens = connect(&app, &mut browser, WEBAPP, REDIRECT).await;
        let stored = refresh_token(&tokens);
        let last = refresh_unrotated(&app, WEBAPP, &stored, 20).await;
        match ending {
            "revoke" => {
                let revoked = app
                    .http
                    .post(format!("{}/revoke", app.base))
                    .form(&[("token", &stored)])
                    .send()
                    .await
                    .expect("revoke");
                assert_eq!(revoked.status(), StatusCode::OK);
            }
            "reset" => {
                let reset = app.post("/v1/authorization:reset", last["access_token"].as_str().expect("a"), "{}").await;
                assert_eq!(reset.status, StatusCode::OK, "{}", reset.text);
            }
            _ => {
                let mut account = Browser::new(&app);
                let page = account.get("/account").await;
                let csrf = hidden(&page.html, "csrf");
                let form = [("csrf", csrf.as_str()), ("username", ALICE.0), ("password", ALICE.1)];
                assert_eq!(account.post("/account/login", &form).await.status, StatusCode::SEE_OTHER);
                let confirm = account.get("/account/apps/webapp/revoke").await;
                let csrf = hidden(&confirm.html, "csrf");
                let done = account.post("/account/apps/webapp/revoke", &[("csrf", &csrf)]).await;
                assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
            }
        }
        let (status, error) = refresh(&app, WEBAPP, &stored).await;
        assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{ending}");
        assert_eq!(api_status(&app, &last).await, StatusCode::UNAUTHORIZED, "{ending}: its access tokens go too");
    }
}

/// Two refreshes racing from one public app inside the reuse window both get the one successor:
/// the person stays signed in, and the successor goes on rotating.
#[tokio::test(flavor = "multi_thread")]
async fn a_race_of_two_refreshes_inside_the_window_leaves_the_person_signed_in() {
    let app = setup(|_| {}).await;
    let mut browser = signed_in(&app, NATIVE.id, ALICE, REDIRECT).await;
    for round in 0..10 {
        let tokens = connect(&app, &mut browser, NATIVE, REDIRECT).await;
        let presented = refresh_token(&tokens);
        let ((a, first), (b, second)) =
            tokio::join!(refresh(&app, NATIVE, &presented), refresh(&app, NATIVE, &presented));
        assert_eq!((a, b), (StatusCode::OK, StatusCode::OK), "round {round}: {first} {second}");
        let successor = refresh_token(&first);
        assert_ne!(successor, presented, "round {round}: a public client's refresh token rotates");
        assert_eq!(refresh_token(&second), successor, "round {round}: both get the one successor");
        assert_ne!(first["access_token"], second["access_token"]);
        for answer in [&first, &second] {
            assert_eq!(api_status(&app, answer).await, StatusCode::OK, "round {round}");
        }
        let (status, next) = refresh(&app, NATIVE, &successor).await;
        assert_eq!(status, StatusCode::OK, "round {round}: {next}");
        assert_ne!(refresh_token(&next), successor);
    }
}

/// Inside the window a repeated refresh answers the same successor; once the window is over,
/// the rotated token coming back is reuse (RFC 9700 §4.14.2): the family is revoked.
#[tokio::test]
async fn reuse_after_the_window_revokes_the_family() {
    let app = setup(|c| c.refresh_reuse_seconds = 1).await;
    let mut browser = signed_in(&app, NATIVE.id, ALICE, REDIRECT).await;
    let tokens = connect(&app, &mut browser, NATIVE, REDIRECT).await;
    let first = refresh_token(&tokens);
    let (status, renewed) = refresh(&app, NATIVE, &first).await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    let successor = refresh_token(&renewed);
    let (status, repeated) = refresh(&app, NATIVE, &first).await;
    assert_eq!((status, refresh_token(&repeated)), (StatusCode::OK, successor.clone()), "{repeated}");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (status, error) = refresh(&app, NATIVE, &first).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{error}");
    let (status, _) = refresh(&app, NATIVE, &successor).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the successor is revoked with the family");
    for answer in [&renewed, &repeated] {
        assert_eq!(api_status(&app, answer).await, StatusCode::UNAUTHORIZED);
    }
}

/// Issue #23, acceptance 4: the 101st consent of one person to one client drops the oldest
/// refresh token (Google's cap of 100), and only it.
#[tokio::test(flavor = "multi_thread")]
async fn the_101st_consent_drops_the_oldest_refresh_token() {
    let app = setup(|_| {}).await;
    let mut browser = signed_in(&app, WEBAPP.id, ALICE, REDIRECT).await;
    let mut issued = Vec::new();
    for _ in 0..100 {
        issued.push(refresh_token(&connect(&app, &mut browser, WEBAPP, REDIRECT).await));
    }
    refresh_unrotated(&app, WEBAPP, &issued[0], 1).await;
    issued.push(refresh_token(&connect(&app, &mut browser, WEBAPP, REDIRECT).await));
    let (status, error) = refresh(&app, WEBAPP, &issued[0]).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{error}");
    for kept in [&issued[1], &issued[50], &issued[100]] {
        refresh_unrotated(&app, WEBAPP, kept, 1).await;
    }
    let audit = app.core.store().audit_log(&dataport_core::model::AuditFilter::newest(10_000)).await.expect("audit");
    let dropped: Vec<_> = audit.iter().filter(|e| e.event == "token.revoked" && e.detail["by"] == "cap").collect();
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0].detail["count"], 1);
}

/// The emulator's demo client is public, but behaves as Google's clients do: not rotated.
#[tokio::test]
async fn the_demo_client_is_not_rotated() {
    let app = setup(|_| {}).await;
    app.core.seed_demo().await.expect("demo");
    let demo = App { id: dataport_core::demo::DEMO_CLIENT, secret: None };
    let redirect = "http://127.0.0.1:7777/callback";
    let mut browser = signed_in(&app, demo.id, ("demo", "demo"), redirect).await;
    let tokens = connect(&app, &mut browser, demo, redirect).await;
    refresh_unrotated(&app, demo, &refresh_token(&tokens), 3).await;
}

/// A refresh token unused for `refresh_idle_seconds` stops working; each refresh counts as a use.
#[tokio::test]
async fn a_refresh_token_unused_for_too_long_stops_working() {
    let app = setup(|c| c.refresh_idle_seconds = 2).await;
    let mut browser = signed_in(&app, WEBAPP.id, ALICE, REDIRECT).await;
    let stored = refresh_token(&connect(&app, &mut browser, WEBAPP, REDIRECT).await);
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        refresh_unrotated(&app, WEBAPP, &stored, 1).await;
    }
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let (status, error) = refresh(&app, WEBAPP, &stored).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{error}");
}

/// `dataportd admin …` on the test server's state; (success, stdout, stderr).
fn admin(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dataportd"))
        .arg("admin")
        .args(args)
        .args(app.backend.args())
        .arg("--data-dir")
        .arg(app.dir.path())
        .output()
        .expect("dataportd runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// The `admin client list --json` line of client `id`.
fn listed(app: &TestApp, id: &str) -> Value {
    let (ok, out, err) = admin(app, &["client", "list", "--json"]);
    assert!(ok, "{err}");
    out.lines().map(|l| serde_json::from_str::<Value>(l).expect("json")).find(|c| c["client_id"] == id).expect("listed")
}

/// `admin client add|update --refresh-rotation` overrides the default per client, and
/// `admin client list` shows what is in force.
#[tokio::test(flavor = "multi_thread")]
async fn operators_choose_refresh_rotation_per_client() {
    let app = setup(|_| {}).await;
    let add = ["client", "add", "--name", "Rotating importer", "--redirect-uri", "http://127.0.0.1/cb"];
    let (ok, out, err) = admin(&app, &[&add[..], &["--refresh-rotation", "rotate", "--json"]].concat());
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(&out).expect("json");
    let (id, secret) = (created["client_id"].as_str().expect("id"), created["client_secret"].as_str().expect("secret"));
    let rotating = App { id, secret: Some(secret) };
    let shown = listed(&app, id);
    assert_eq!((&shown["refresh_rotation"], &shown["refresh_rotation_default"]), (&"rotate".into(), &false.into()));
    let shown = listed(&app, "webapp");
    assert_eq!((&shown["refresh_rotation"], &shown["refresh_rotation_default"]), (&"never".into(), &true.into()));
    let (ok, text, _) = admin(&app, &["client", "list"]);
    assert!(
        ok && text.contains("refresh-rotation=rotate") && text.contains("refresh-rotation=never (default)"),
        "{text}"
    );

    let redirect = "http://127.0.0.1:7777/cb";
    let mut browser = signed_in(&app, id, ALICE, redirect).await;
    let tokens = connect(&app, &mut browser, rotating, redirect).await;
    let (status, renewed) = refresh(&app, rotating, &refresh_token(&tokens)).await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    let successor = refresh_token(&renewed);
    assert_ne!(successor, refresh_token(&tokens), "rotated, though confidential");

    let (ok, _, err) = admin(&app, &["client", "update", "--client-id", id, "--refresh-rotation", "never"]);
    assert!(ok, "{err}");
    assert_eq!(listed(&app, id)["refresh_rotation"], "never");
    refresh_unrotated(&app, rotating, &successor, 2).await;
    let (ok, _, err) = admin(&app, &["client", "update", "--client-id", "nope", "--refresh-rotation", "default"]);
    assert!(!ok && err.contains("no client"), "{err}");

    // A public client pinned to `never` is not rotated either.
    let pinned = Client {
        id: "pinned-native".into(),
        name: "Pinned".into(),
        redirect_uris: vec![REDIRECT.to_owned()],
        public: true,
        disabled: false,
        secret_hash: None,
        refresh_rotation: Some(RefreshRotation::Never),
    };
    assert!(app.core.store().create_client(&pinned, Timestamp::now()).await.expect("store"));
    let public = App { id: "pinned-native", secret: None };
    let mut browser = signed_in(&app, public.id, ALICE, REDIRECT).await;
    let tokens = connect(&app, &mut browser, public, REDIRECT).await;
    refresh_unrotated(&app, public, &refresh_token(&tokens), 2).await;
}
