//! Crash safety (SPEC §7): the real `dataportd` binary is killed with SIGKILL in the middle of a
//! large export and restarted; the job completes with a valid, checksummed archive, and no URL was
//! ever handed out for a partial one.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::harness::{Daemon, files_below, free_port, verify_archive, wait_healthy};

const RECORDS: u64 = 1_200_000; // about 390 MB of My Activity JSON

fn start(dir: &Path, port: u16, run: usize) -> Daemon {
    let records = format!("myactivity.youtube={RECORDS}");
    let args = ["--no-demo", "--lease-seconds", "2", "--workers", "1", "--emulator-group-records", &records];
    Daemon::start(dir, port, &args, &format!("server-{run}"))
}

pub fn partial_bytes(dir: &Path) -> u64 {
    files_below(&dir.join("blobs"))
        .iter()
        .filter(|path| path.extension().is_some_and(|e| e == "partial"))
        .map(|path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0))
        .sum()
}

/// Mints a token with `dataportd admin token` and initiates an export of the big group over
/// HTTP; returns the token and the job id.
async fn start_export(dir: &Path, http: &reqwest::Client, base: &str) -> (String, String) {
    let token = Daemon::admin_token(dir, "myactivity.youtube");
    let reply: serde_json::Value = http
        .post(format!("{base}/v1/portabilityArchive:initiate"))
        .bearer_auth(&token)
        .body(r#"{"resources":["myactivity.youtube"]}"#)
        .send()
        .await
        .expect("initiate")
        .json()
        .await
        .expect("json");
    let id = reply["archiveJobId"].as_str().expect("id").to_owned();
    (token, id)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_export_then_restart_completes_with_a_valid_archive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let server = start(dir.path(), port, 1);
    wait_healthy(&http, &base).await;

    let (token, id) = start_export(dir.path(), &http, &base).await;
    let state_url = format!("{base}/v1/archiveJobs/{id}/portabilityArchiveState");
    let state = |http: reqwest::Client, token: String, url: String| async move {
        http.get(url).bearer_auth(token).send().await.expect("state").json::<serde_json::Value>().await.expect("json")
    };

    // Kill it once a few MB of the part are on disk.
    let deadline = Instant::now() + Duration::from_secs(60);
    while partial_bytes(dir.path()) < 4 << 20 {
        let s = state(http.clone(), token.clone(), state_url.clone()).await;
        assert_eq!(s["state"], "IN_PROGRESS", "the export finished before it could be killed");
        assert!(s.get("urls").is_none());
        assert!(Instant::now() < deadline, "export made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(server); // SIGKILL
    let left = partial_bytes(dir.path());
    eprintln!("killed with {left} bytes of a partial part on disk");
    assert!(left > 0);

    let _server = start(dir.path(), port, 2);
    wait_healthy(&http, &base).await;
    let deadline = Instant::now() + Duration::from_secs(240);
    let done = loop {
        let s = state(http.clone(), token.clone(), state_url.clone()).await;
        if s["state"] != "IN_PROGRESS" {
            break s;
        }
        assert!(s.get("urls").is_none(), "no URL before COMPLETE");
        assert!(Instant::now() < deadline, "job did not complete after restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done["state"], "COMPLETE", "{done}");

    let mut parts = Vec::new();
    for url in done["urls"].as_array().expect("urls") {
        let response = http.get(url.as_str().expect("url")).send().await.expect("download");
        assert_eq!(response.status(), StatusCode::OK);
        parts.push(response.bytes().await.expect("bytes").to_vec());
    }
    let manifest = verify_archive(&parts);
    let size: u64 =
        manifest["files"].as_array().expect("files").iter().map(|f| f["size"].as_u64().expect("size")).sum();
    assert!(size >= 200_000_000, "exported only {size} bytes");
    let records: u64 =
        manifest["files"].as_array().expect("files").iter().map(|f| f["records"].as_u64().expect("n")).sum();
    assert!(records.abs_diff(RECORDS) <= 1, "{records}");

    // Only the finishing attempt's output remains, with no partial files.
    let attempts: Vec<_> = std::fs::read_dir(dir.path().join(format!("blobs/jobs/{id}")))
        .expect("job dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf8"))
        .collect();
    assert_eq!(attempts, ["2"]);
    assert_eq!(partial_bytes(dir.path()), 0);

    // An independent reader agrees: Python's zipfile tests every CRC.
    let first = dir.path().join("part-0.zip");
    std::fs::write(&first, &parts[0]).expect("write");
    let python = Command::new("python3").args(["-m", "zipfile", "-t"]).arg(&first).output();
    match python {
        Ok(out) => assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr)),
        Err(e) => panic!("python3 is needed to check archives independently: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_export_releases_the_job_for_the_next_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut server = start(dir.path(), port, 1);
    wait_healthy(&http, &base).await;
    let (_, id) = start_export(dir.path(), &http, &base).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while partial_bytes(dir.path()) < 1 << 20 {
        assert!(Instant::now() < deadline, "export made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pid = server.child.id().to_string();
    let stopping = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let status = tokio::task::spawn_blocking(move || {
        let status = server.child.wait();
        drop(server);
        status
    })
    .await
    .expect("join")
    .expect("wait");
    let stopped = stopping.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(stopped < Duration::from_secs(10), "shutdown took {stopped:?}");
    assert_eq!(partial_bytes(dir.path()), 0, "the interrupted attempt's output is gone");

    // The released job is claimed at once on restart, not after the lease would have expired.
    let _server = start(dir.path(), port, 2);
    wait_healthy(&http, &base).await;
    let db = dir.path().join("dataport.sqlite");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", db.display())).await.expect("db");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let state: String =
            sqlx::query_scalar("SELECT state FROM jobs WHERE id = ?").bind(&id).fetch_one(&pool).await.expect("job");
        if state == "COMPLETE" {
            break;
        }
        assert_eq!(state, "IN_PROGRESS");
        assert!(Instant::now() < deadline, "job did not complete after restart");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (attempt, reason): (i64, Option<String>) =
        sqlx::query_as("SELECT attempt, failure_reason FROM jobs WHERE id = ?")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .expect("job");
    pool.close().await;
    assert_eq!(attempt, 2);
    assert_eq!(reason.as_deref(), Some("interrupted by a shutdown"));
}
