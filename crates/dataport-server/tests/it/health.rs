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
