//! Health and roles (SPEC §15): `/healthz` says the process is up, `/readyz` that the database
//! and the blob store answer; with SQLite only `--role all` runs, and the server says why.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::TestApp;

#[tokio::test]
async fn readyz_answers_503_with_the_reason_while_a_dependency_is_down() {
    let app = TestApp::spawn().await;
    let ready = app.http.get(format!("{}/readyz", app.base)).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    // A stopped S3 server: scaleout::an_s3_outage_fails_the_attempt_and_the_job_completes_after.
    if !app.backend.is_scale_out() {
        std::fs::remove_dir_all(app.dir.path().join("blobs")).expect("remove the blob root");
        let down = app.http.get(format!("{}/readyz", app.base)).send().await.expect("readyz");
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: Value = down.json().await.expect("json");
        assert!(body["reason"].as_str().expect("reason").starts_with("blob store"), "{body}");
        std::fs::create_dir_all(app.dir.path().join("blobs")).expect("restore");
        let again = app.http.get(format!("{}/readyz", app.base)).send().await.expect("readyz");
        assert_eq!(again.status(), StatusCode::OK);
    }

    app.core.store().close().await;
    let down = app.http.get(format!("{}/readyz", app.base)).send().await.expect("readyz");
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = down.json().await.expect("json");
    assert!(body["reason"].as_str().expect("reason").starts_with("database"), "{body}");
    let up = app.http.get(format!("{}/healthz", app.base)).send().await.expect("healthz");
    assert_eq!(up.status(), StatusCode::OK, "the process itself is up");
}

#[test]
fn sqlite_runs_only_as_role_all_and_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    for role in ["api", "worker"] {
        let out = Command::new(env!("CARGO_BIN_EXE_dataportd"))
            .args(["serve", "--no-demo", "--listen", "127.0.0.1:0", "--role", role, "--data-dir"])
            .arg(dir.path())
            .output()
            .expect("dataportd");
        assert!(!out.status.success(), "{role}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("only --role all") && err.contains("postgres://"), "{role}: {err}");
    }
}

/// `/metrics` is off unless asked for, then on a listener of its own; counters move in the
/// instance that counted them only (no global recorder).
#[tokio::test]
async fn metrics_are_served_on_their_own_listener_when_asked_for() {
    let plain = TestApp::spawn().await;
    assert!(plain.metrics_url.is_none());
    let app = TestApp::spawn_with(|c| c.metrics_listen = Some("127.0.0.1:0".parse().expect("addr"))).await;
    let url = app.metrics_url.clone().expect("metrics listener");
    assert_eq!(
        app.http.get(format!("{}/metrics", app.base)).send().await.expect("get").status(),
        StatusCode::NOT_FOUND
    );
    let token = app.token("u", "c", &["myactivity.search"], dataport_core::consent::Duration::OneTime).await;
    plain.token("u", "c", &["myactivity.search"], dataport_core::consent::Duration::OneTime).await;
    let reply = app.http.get(&url).send().await.expect("scrape");
    assert_eq!(reply.status(), StatusCode::OK);
    assert!(reply.headers()["content-type"].to_str().expect("ascii").starts_with("text/plain; version=0.0.4"));
    let text = reply.text().await.expect("text");
    assert!(text.contains("dataport_tokens_issued_total{grant_type=\"admin\"} 1\n"), "{text}");
    let id = app.initiate(&token, r#"{"resources":["myactivity.search"]}"#).await;
    let text = app.http.get(&url).send().await.expect("scrape").text().await.expect("text");
    assert!(text.contains("dataport_jobs_created_total 1\n"), "{text}");
    assert!(!text.contains(&id), "no raw path or id in a label");
    let open = app.http.get(&url).header("accept", "application/openmetrics-text").send().await.expect("scrape");
    assert!(open.text().await.expect("text").ends_with("# EOF\n"));
}
