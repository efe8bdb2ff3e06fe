//! The person's own page, `/account` (issue #13): revoking one app ends exactly that app's access
//! (as `authorization:reset` does), another person's ids are unreachable through every route, every
//! POST needs the session's CSRF token, and the activity is exactly the person's audit entries.

use std::time::Duration;

use dataport_core::model::{AuditEntry, AuditFilter};
use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::TestApp;
use crate::oauth::{Authorize, Browser, CHALLENGE, REDIRECT, VERIFIER, client, consent, hidden, param, token, user};

const ALICE: (&str, &str) = ("alice", "alice's long passphrase");
const BOB: (&str, &str) = ("bob", "bob's long passphrase");
const SEARCH: &str = "myactivity.search";
const CHROME: &str = "chrome.history";

/// Two people and two apps: `native` (public) and `webapp` (confidential).
async fn setup() -> TestApp {
    let app = TestApp::spawn().await;
    user(&app, ALICE.0, ALICE.1).await;
    user(&app, BOB.0, BOB.1).await;
    client(&app, "native", None).await;
    client(&app, "webapp", Some("webapp-secret")).await;
    app
}

/// An app's tokens for one person.
struct Tokens {
    client: &'static str,
    access: String,
    refresh: String,
}

/// `person` consents to `client` for `groups` (`duration`), and the app redeems the code.
async fn connect(app: &TestApp, person: (&str, &str), client: &'static str, groups: &[&str], duration: &str) -> Tokens {
    let mut browser = Browser::new(app);
    let request =
        Authorize { client_id: client, redirect_uri: REDIRECT, groups, challenge: Some(CHALLENGE), extra: "" };
    let back = consent(&mut browser, &request, person, groups, duration).await;
    let code = param(&back, "code").expect("code");
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let basic = if client == "webapp" { Some(("webapp", "webapp-secret")) } else { None };
    if basic.is_none() {
        form.push(("client_id", client));
    }
    let (status, json, _) = token(app, &form, basic).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    Tokens {
        client,
        access: json["access_token"].as_str().expect("access").to_owned(),
        refresh: json["refresh_token"].as_str().expect("refresh").to_owned(),
    }
}

async fn refresh(app: &TestApp, tokens: &Tokens) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", tokens.refresh.as_str())];
    let basic = if tokens.client == "webapp" { Some(("webapp", "webapp-secret")) } else { None };
    if basic.is_none() {
        form.push(("client_id", tokens.client));
    }
    let (status, json, _) = token(app, &form, basic).await;
    (status, json)
}

/// Initiates an export of `group` and waits for it; returns the job id and its state.
async fn export(app: &TestApp, access: &str, group: &str) -> (String, Value) {
    let id = app.initiate(access, &format!(r#"{{"resources":["{group}"]}}"#)).await;
    let state = app.wait_done(access, &id, Duration::from_secs(60)).await;
    assert_eq!(state["state"], "COMPLETE", "{state}");
    (id, state)
}

/// A browser signed in to `/account` as `person` (through the page's own sign-in form).
async fn signed_in(app: &TestApp, person: (&str, &str)) -> Browser {
    let mut browser = Browser::new(app);
    let page = browser.get("/account").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains(r#"action="/account/login""#), "{}", page.html);
    let csrf = hidden(&page.html, "csrf");
    let reply =
        browser.post("/account/login", &[("csrf", &csrf), ("username", person.0), ("password", person.1)]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.html);
    assert_eq!(reply.location.as_deref(), Some("/account"));
    browser
}

async fn user_id(app: &TestApp, name: &str) -> String {
    let users = app.core.store().users().await.expect("users");
    users.into_iter().find(|u| u.username == name).expect("user").id
}

/// The person's audit entries as the store has them, newest first.
async fn audit_of(app: &TestApp, user_id: &str) -> Vec<AuditEntry> {
    let filter = AuditFilter { user_id: Some(user_id.to_owned()), ..AuditFilter::newest(10_000) };
    let mut entries = app.core.store().audit_log(&filter).await.expect("audit");
    entries.reverse();
    entries
}

fn assert_page_headers(page: &crate::oauth::Page) {
    let header = |name: &str| page.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(header("content-security-policy").contains("frame-ancestors 'none'"), "{:?}", page.headers);
    assert!(header("content-security-policy").contains("default-src 'none'"));
    assert_eq!(header("cache-control"), "no-store");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("x-content-type-options"), "nosniff");
}

#[tokio::test]
async fn revoking_one_app_ends_its_access_and_leaves_the_other() {
    let app = setup().await;
    let native = connect(&app, ALICE, "native", &[SEARCH], "one-time").await;
    let webapp = connect(&app, ALICE, "webapp", &[CHROME], "30d").await;
    let (native_job, native_state) = export(&app, &native.access, SEARCH).await;
    let (webapp_job, webapp_state) = export(&app, &webapp.access, CHROME).await;
    let native_url = native_state["urls"][0].as_str().expect("url").to_owned();
    let webapp_url = webapp_state["urls"][0].as_str().expect("url").to_owned();

    let mut browser = signed_in(&app, ALICE).await;
    let page = browser.get("/account").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_page_headers(&page);
    for expected in ["App native", "App webapp", "One time", "Time-based", "Already exported", "127.0.0.1:7777"] {
        assert!(page.html.contains(expected), "{expected} missing: {}", page.html);
    }
    assert!(page.html.contains(&native_job) && page.html.contains(&webapp_job), "both exports are listed");
    assert!(page.html.contains("Next export allowed"), "the time-based grant says when it may export again");

    // The person downloads their own copy of a retained archive; it is audited as theirs.
    let own = app.http.get(format!("{}/account/exports/{webapp_job}/parts/0", app.base));
    let own = own.header("cookie", browser.cookie().expect("cookie")).send().await.expect("download");
    assert_eq!(own.status(), StatusCode::OK);
    let own_bytes = own.bytes().await.expect("bytes");
    let via_url = app.fetch(&webapp_url).await.bytes().await.expect("bytes");
    assert_eq!(own_bytes, via_url, "the same archive part");

    // Confirmation step, then the revoke.
    let confirm = browser.get("/account/apps/native/revoke").await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.html);
    assert_page_headers(&confirm);
    assert!(confirm.html.contains("App native"));
    let csrf = hidden(&confirm.html, "csrf");
    let done = browser.post("/account/apps/native/revoke", &[("csrf", &csrf)]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.html);
    assert_eq!(done.location.as_deref(), Some("/account?notice=revoked"));

    // The revoked app: E2 on the API, invalid_grant on refresh, 403 on its URLs.
    let state = app.state(&native.access, &native_job).await;
    assert_eq!(state.status, StatusCode::UNAUTHORIZED, "{}", state.text);
    assert_eq!(state.reason(), Some("ACCESS_TOKEN_INVALID"));
    let (status, json) = refresh(&app, &native).await;
    assert_eq!((status, json["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")), "{json}");
    assert_eq!(app.fetch(&native_url).await.status(), StatusCode::FORBIDDEN);
    let own = app.http.get(format!("{}/account/exports/{native_job}/parts/0", app.base));
    let own = own.header("cookie", browser.cookie().expect("cookie")).send().await.expect("download");
    assert_eq!(own.status(), StatusCode::NOT_FOUND, "the revoked archive is gone for the person too");

    // The other app keeps working.
    assert_eq!(app.state(&webapp.access, &webapp_job).await.status, StatusCode::OK);
    assert_eq!(app.fetch(&webapp_url).await.status(), StatusCode::OK);
    let (status, json) = refresh(&app, &webapp).await;
    assert_eq!(status, StatusCode::OK, "{json}");

    let page = browser.get("/account?notice=revoked").await;
    assert!(page.html.contains("Access revoked"), "{}", page.html);
    assert!(!page.html.contains("href=\"/account/apps/native/revoke\""), "native is no longer connected");
    assert!(page.html.contains("href=\"/account/apps/webapp/revoke\""));

    // Audited as done by the person, like the reset it shares its code with.
    let alice = user_id(&app, "alice").await;
    let entries = audit_of(&app, &alice).await;
    let revoked = entries.iter().find(|e| e.event == "authorization.revoked").expect("revoke audited");
    assert_eq!((revoked.client_id.as_deref(), &revoked.detail["by"]), (Some("native"), &Value::from("user")));
    let own_download = entries
        .iter()
        .find(|e| e.event == "archive.downloaded" && e.detail["by"] == "user")
        .expect("the person's download is audited");
    assert_eq!(own_download.job_id.as_deref(), Some(webapp_job.as_str()));
    assert!(entries.iter().any(|e| e.event == "login.succeeded"), "sign-ins are audited");

    // A second revoke finds nothing to revoke.
    let again = browser.post("/account/apps/native/revoke", &[("csrf", &csrf)]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_apps_reset_and_the_persons_revoke_have_the_same_effect() {
    let app = setup().await;
    let tokens = connect(&app, ALICE, "native", &[SEARCH], "one-time").await;
    let (job, state) = export(&app, &tokens.access, SEARCH).await;
    let url = state["urls"][0].as_str().expect("url").to_owned();
    let reset = app.post("/v1/authorization:reset", &tokens.access, "{}").await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.text);
    assert_eq!(app.state(&tokens.access, &job).await.reason(), Some("ACCESS_TOKEN_INVALID"));
    assert_eq!(refresh(&app, &tokens).await.1["error"], "invalid_grant");
    assert_eq!(app.fetch(&url).await.status(), StatusCode::FORBIDDEN);
    let alice = user_id(&app, "alice").await;
    let entries = audit_of(&app, &alice).await;
    let reset = entries.iter().find(|e| e.event == "authorization.reset").expect("reset audited");
    assert_eq!(reset.detail["by"], "app");
    // The person's page no longer lists the app.
    let mut browser = signed_in(&app, ALICE).await;
    assert_eq!(browser.get("/account/apps/native/revoke").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_persons_ids_are_unreachable_through_every_route() {
    let app = setup().await;
    let alice_native = connect(&app, ALICE, "native", &[SEARCH], "one-time").await;
    let bob_webapp = connect(&app, BOB, "webapp", &[CHROME], "30d").await;
    let (alice_job, _) = export(&app, &alice_native.access, SEARCH).await;
    let (bob_job, bob_state) = export(&app, &bob_webapp.access, CHROME).await;
    let bob_url = bob_state["urls"][0].as_str().expect("url").to_owned();
    let bob = user_id(&app, "bob").await;
    let bob_entries = app
        .core
        .store()
        .audit_log(&AuditFilter { user_id: Some(bob.clone()), ..AuditFilter::newest(100) })
        .await
        .expect("audit");
    assert!(!bob_entries.is_empty());

    let mut alice = signed_in(&app, ALICE).await;
    let csrf = hidden(&alice.get("/account/apps/native/revoke").await.html, "csrf");
    assert!(!csrf.is_empty());
    for path in [
        format!("/account/exports/{bob_job}/parts/0"),
        format!("/account/exports/{bob_job}/parts/1"),
        "/account/apps/webapp/revoke".to_owned(),
        "/account/apps/unknown-app/revoke".to_owned(),
        format!("/account/exports/{}/parts/0", "x".repeat(300)),
        format!("/account/exports/{alice_job}/parts/99"),
        format!("/account/exports/{alice_job}/parts/not-a-number"),
    ] {
        let page = alice.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.html);
        assert!(!page.html.contains(&bob_job) && !page.html.contains("App webapp"), "{path} leaks: {}", page.html);
    }
    // A valid CSRF token does not let alice revoke bob's app.
    let refused = alice.post("/account/apps/webapp/revoke", &[("csrf", &csrf)]).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    assert_eq!(app.state(&bob_webapp.access, &bob_job).await.status, StatusCode::OK, "bob's app still works");
    assert_eq!(app.fetch(&bob_url).await.status(), StatusCode::OK);

    // No page of alice's shows bob's job, app or audit entries, whatever cursor is asked.
    let overview = alice.get("/account").await;
    assert!(!overview.html.contains(&bob_job) && !overview.html.contains("App webapp"), "{}", overview.html);
    for cursor in ["", "?before=1", "?before=999999", "?before=9223372036854775807"] {
        let page = alice.get(&format!("/account/activity{cursor}")).await;
        assert_eq!(page.status, StatusCode::OK, "{cursor}");
        assert!(!page.html.contains(&bob_job) && !page.html.contains("App webapp"), "{cursor}: {}", page.html);
    }
    let json = alice.get("/account/activity.json").await;
    let body: Value = serde_json::from_str(&json.html).expect("json");
    let alice_id = user_id(&app, "alice").await;
    assert!(body["entries"].as_array().expect("entries").iter().all(|e| e["user_id"] == alice_id.as_str()));
    assert!(!json.html.contains(&bob_job) && !json.html.contains(&bob));

    // Nobody signed in: every route sends the browser to sign in, and shows nothing.
    let mut stranger = Browser::new(&app);
    for path in [
        format!("/account/exports/{alice_job}/parts/0"),
        "/account/apps/native/revoke".to_owned(),
        "/account/activity".to_owned(),
        "/account/activity.json".to_owned(),
    ] {
        let page = stranger.get(&path).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location.as_deref(), Some("/account"));
    }
}

#[tokio::test]
async fn every_post_needs_the_sessions_csrf_token() {
    let app = setup().await;
    let tokens = connect(&app, ALICE, "native", &[SEARCH], "one-time").await;
    connect(&app, BOB, "webapp", &[CHROME], "30d").await;
    let mut alice = signed_in(&app, ALICE).await;
    let mut bob = signed_in(&app, BOB).await;
    let bob_csrf = hidden(&bob.get("/account/apps/webapp/revoke").await.html, "csrf");
    assert!(!bob_csrf.is_empty());
    let forged = "0".repeat(64);
    for form in [vec![], vec![("csrf", "")], vec![("csrf", forged.as_str())], vec![("csrf", bob_csrf.as_str())]] {
        let page = alice.post("/account/apps/native/revoke", &form).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{form:?}: {}", page.html);
        assert_page_headers(&page);
    }
    // No session at all.
    let csrf = hidden(&alice.get("/account/apps/native/revoke").await.html, "csrf");
    let mut stranger = Browser::new(&app);
    assert_eq!(stranger.post("/account/apps/native/revoke", &[("csrf", &csrf)]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        stranger.post("/account/login", &[("username", ALICE.0), ("password", ALICE.1)]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post("/v1/accessType:check", &tokens.access, "{}").await.status,
        StatusCode::OK,
        "nothing was revoked"
    );
}

#[tokio::test]
async fn the_activity_is_exactly_the_persons_audit_entries() {
    let app = setup().await;
    let alice_native = connect(&app, ALICE, "native", &[SEARCH], "one-time").await;
    let _alice_webapp = connect(&app, ALICE, "webapp", &[CHROME], "30d").await;
    let bob_native = connect(&app, BOB, "native", &[SEARCH], "one-time").await;
    let _bob_webapp = connect(&app, BOB, "webapp", &[CHROME], "30d").await;
    let (job, state) = export(&app, &alice_native.access, SEARCH).await;
    assert_eq!(app.fetch(state["urls"][0].as_str().expect("url")).await.status(), StatusCode::OK);
    export(&app, &bob_native.access, SEARCH).await;
    let alice = user_id(&app, "alice").await;
    // Enough entries for more than one page.
    for i in 0..60 {
        app.core
            .record(AuditEntry {
                event: "token.refreshed".into(),
                user_id: Some(alice.clone()),
                client_id: Some("webapp".into()),
                detail: serde_json::json!({ "n": i }),
                ..AuditEntry::now()
            })
            .await;
    }

    let mut browser = signed_in(&app, ALICE).await;
    // Let the download's audit entry (written when its body ends) land.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !audit_of(&app, &alice).await.iter().any(|e| e.event == "archive.downloaded") {
        assert!(std::time::Instant::now() < deadline, "the download was never audited");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let expected = audit_of(&app, &alice).await;
    let json = browser.get("/account/activity.json").await;
    assert_eq!(json.status, StatusCode::OK);
    let disposition = json.headers.get("content-disposition").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert_eq!(json.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    let body: Value = serde_json::from_str(&json.html).expect("json");
    let listed = body["entries"].as_array().expect("entries");
    let events = |entries: &[Value]| {
        entries.iter().map(|e| e["event"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(
        events(listed.as_slice()),
        expected.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
        "exactly, newest first"
    );
    assert!(listed.iter().all(|e| e["user_id"] == alice.as_str()));
    for event in ["consent.granted", "token.issued", "export.initiated", "archive.downloaded", "login.succeeded"] {
        assert!(listed.iter().any(|e| e["event"] == event), "{event} missing");
    }
    let download = listed.iter().find(|e| e["event"] == "archive.downloaded").expect("download");
    assert_eq!(download["job_id"], job.as_str());
    assert_eq!(download["detail"]["address"], "127.0.0.1", "downloads show the address");

    // The HTML pages hold the same entries, 50 at a time, then the rest.
    let first = browser.get("/account/activity").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_page_headers(&first);
    let count = |html: &str| html.matches(r#"<li class="card entry">"#).count();
    assert_eq!(count(&first.html), 50);
    let older = regex::Regex::new(r#"href="(/account/activity\?before=\d+)""#)
        .expect("regex")
        .captures(&first.html)
        .map(|c| c[1].to_owned())
        .expect("a link to older entries");
    let second = browser.get(&older).await;
    assert_eq!(count(&second.html), expected.len() - 50);
    assert!(!second.html.contains("before="), "no older page after the last");

    for bad in ["?before=abc", "?before=-1", "?before=0", "?before=99999999999999999999", "?before=1&before=2"] {
        let page = browser.get(&format!("/account/activity{bad}")).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_page_headers(&page);
    }
}

#[tokio::test]
async fn trusted_header_sign_in_reaches_the_account_page() {
    let app = TestApp::spawn_with(|c| {
        c.trusted_header = Some("X-Forwarded-User".into());
        c.trusted_proxies = dataport_core::config::ProxyList::parse("127.0.0.1").expect("proxies");
    })
    .await;
    client(&app, "native", None).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let page = http.get(format!("{}/account", app.base)).send().await.expect("get");
    assert_eq!(page.status(), StatusCode::FORBIDDEN, "no header, no page");
    let page = http.get(format!("{}/account", app.base)).header("X-Forwarded-User", "carol").send().await.expect("get");
    assert_eq!(page.status(), StatusCode::OK);
    let cookie = page.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("a session").to_owned();
    let cookie = cookie.split(';').next().expect("pair").to_owned();
    let html = page.text().await.expect("html");
    assert!(html.contains("carol") && html.contains("No app has access"), "{html}");
    let json = http
        .get(format!("{}/account/activity.json", app.base))
        .header("X-Forwarded-User", "carol")
        .header("cookie", &cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(json.status(), StatusCode::OK);
    let body: Value = json.json().await.expect("json");
    assert!(body["entries"].as_array().expect("entries").iter().any(|e| e["event"] == "login.succeeded"));
}
