//! Scale-out (SPEC §15) with real processes: two `--role api` and two `--role worker` nodes of
//! `dataportd` sharing one PostgreSQL database (the server `DATAPORT_TEST_POSTGRES_URL` names; a
//! fresh database per test) and one blob directory.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::{Connection, PgConnection};

use crate::harness::{Daemon, initiate_over_http, poll_state};

const URL_VAR: &str = "DATAPORT_TEST_POSTGRES_URL";

/// A fresh database on the test server, or `None` after saying loudly that the test did not run
/// (under `CI=true` a missing server fails instead).
async fn fresh_database() -> Option<String> {
    let Some(server) = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty()) else {
        let message = format!("!!! {URL_VAR} is not set: the scale-out test did NOT run (see scripts/pg-cluster)");
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        eprintln!("{message}");
        return None;
    };
    let name = format!("scaleout_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&server).await.expect("connect to the test server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.expect("create");
    admin.close().await.expect("close");
    let (base, _) = server.rsplit_once('/').expect("a database in the URL");
    Some(format!("{base}/{name}"))
}

/// A healthy node of `role` on the shared database and blob directory.
async fn node(dir: &Path, database: &str, role: &str, name: &str) -> (Daemon, String) {
    let args = ["--no-demo", "--role", role, "--database-url", database, "--emulator-records", "200", "--workers", "2"];
    Daemon::start_healthy(dir, &args, name).await
}

/// An access token from `dataportd admin token` against the shared database.
fn token(dir: &Path, database: &str, user: &str, resources: &str, access: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dataportd"))
        .args(["admin", "token", "--user", user, "--client", "importer", "--resources", resources])
        .args(["--access", access, "--database-url", database, "--data-dir"])
        .arg(dir)
        .output()
        .expect("admin token");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf8").trim().to_owned()
}

const GROUPS: [&str; 10] = [
    "myactivity.search",
    "myactivity.youtube",
    "myactivity.maps",
    "myactivity.shopping",
    "myactivity.play",
    "chrome.history",
    "youtube.subscriptions",
    "maps.starred_places",
    "chrome.bookmarks",
    "discover.likes",
];

#[tokio::test(flavor = "multi_thread")]
async fn two_api_and_two_worker_nodes_on_postgres() {
    let Some(database) = fresh_database().await else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    // Migrations run once, under the advisory lock, however many nodes start together.
    let ((api_a, a), (api_b, b), (worker_1, w1), (worker_2, w2)) = tokio::join!(
        node(dir.path(), &database, "api", "api-a"),
        node(dir.path(), &database, "api", "api-b"),
        node(dir.path(), &database, "worker", "worker-1"),
        node(dir.path(), &database, "worker", "worker-2"),
    );
    for base in [&a, &b, &w1, &w2] {
        let ready = http.get(format!("{base}/readyz")).send().await.expect("readyz");
        assert_eq!(ready.status(), StatusCode::OK, "{base}");
    }
    let on_worker = http.get(format!("{w1}/v1/accessType:check")).send().await.expect("worker");
    assert_eq!(on_worker.status(), StatusCode::NOT_FOUND, "a worker serves no API");

    // 40 simultaneous initiates of one one-time group, spread over both API nodes: one job.
    let racer = token(dir.path(), &database, "racer", "myactivity.search", "one-time");
    let attempts = (0..40).map(|i| {
        let url = format!("{}/v1/portabilityArchive:initiate", if i % 2 == 0 { &a } else { &b });
        let (http, racer) = (http.clone(), racer.clone());
        tokio::spawn(async move {
            let reply = http.post(url).bearer_auth(racer).body(r#"{"resources":["myactivity.search"]}"#).send();
            reply.await.expect("initiate").status()
        })
    });
    let mut created = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        let status = attempt.await.expect("join");
        assert!([StatusCode::OK, StatusCode::CONFLICT, StatusCode::TOO_MANY_REQUESTS].contains(&status), "{status}");
        created += usize::from(status == StatusCode::OK);
    }
    assert_eq!(created, 1, "40 simultaneous initiates on two API nodes create exactly one job");

    // 100 jobs: ten users, ten groups each, initiated alternately on the two API nodes.
    let mut jobs = Vec::new();
    for u in 0..10 {
        let user_token = token(dir.path(), &database, &format!("user{u}"), &GROUPS.join(","), "one-time");
        for (g, group) in GROUPS.iter().enumerate() {
            let api = if (u + g) % 2 == 0 { &a } else { &b };
            jobs.push((user_token.clone(), initiate_over_http(&http, api, &user_token, group).await));
        }
    }
    for (i, (user_token, id)) in jobs.iter().enumerate() {
        // Each API node serves any job's state, and its URLs.
        let api = if i % 2 == 0 { &b } else { &a };
        let state = poll_state(&http, api, user_token, id, Duration::from_secs(180)).await;
        assert_eq!(state["state"], "COMPLETE", "{state}");
        if i % 25 == 0 {
            for url in state["urls"].as_array().expect("urls") {
                let part = http.get(url.as_str().expect("url")).send().await.expect("download");
                assert_eq!(part.status(), StatusCode::OK);
            }
        }
    }

    // The records: one attempt per job (no worker ever took over a live lease), no lease left,
    // each part once (the primary key would refuse a second), and work on both workers.
    let mut db = PgConnection::connect(&database).await.expect("connect");
    let (complete, attempts, leased): (i64, i64, i64) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE state = 'COMPLETE'), COALESCE(MAX(attempt), 0)::BIGINT, \
         COUNT(*) FILTER (WHERE lease_owner IS NOT NULL) FROM jobs",
    )
    .fetch_one(&mut db)
    .await
    .expect("jobs");
    assert_eq!((complete, attempts, leased), (101, 1, 0));
    let (parts, distinct): (i64, i64) = sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT (job_id, idx)) FROM parts")
        .fetch_one(&mut db)
        .await
        .expect("parts");
    assert_eq!(parts, distinct);
    assert!(parts >= 202, "every job has a data part and an index part: {parts}");
    db.close().await.expect("close");
    let completed_by = |worker: &Daemon| worker.log().lines().filter(|l| l.contains("export complete")).count();
    let (one, two) = (completed_by(&worker_1), completed_by(&worker_2));
    eprintln!("exports completed: worker 1 {one}, worker 2 {two}");
    assert_eq!(one + two, 101, "each job was exported once");
    assert!(one > 0 && two > 0, "work spread over both workers: {one} and {two}");
    drop((api_a, api_b));
}

/// A worker killed with SIGKILL in the middle of an export: the other worker takes the job over
/// once the lease expires and completes it with a valid archive; nothing of the dead attempt stays.
#[tokio::test(flavor = "multi_thread")]
async fn a_killed_worker_s_job_is_completed_by_another() {
    let Some(database) = fresh_database().await else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let worker = |name: &'static str| {
        let args = [
            "--no-demo",
            "--role",
            "worker",
            "--database-url",
            &database,
            "--lease-seconds",
            "2",
            "--workers",
            "1",
            "--emulator-group-records",
            "myactivity.youtube=1200000",
        ]
        .map(str::to_owned);
        let dir = dir.path().to_owned();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            Daemon::start_healthy(&dir, &args, name).await
        }
    };
    let (_api, api) = node(dir.path(), &database, "api", "api").await;
    let (first, _) = worker("worker-1").await;
    let user_token = token(dir.path(), &database, "u", "myactivity.youtube", "one-time");
    let id = initiate_over_http(&http, &api, &user_token, "myactivity.youtube").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while crate::durability::partial_bytes(dir.path()) < 4 << 20 {
        assert!(Instant::now() < deadline, "the export made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (_second, _) = worker("worker-2").await;
    drop(first); // SIGKILL, mid-export
    let state = poll_state(&http, &api, &user_token, &id, Duration::from_secs(180)).await;
    assert_eq!(state["state"], "COMPLETE", "{state}");
    let parts = crate::harness::download_urls(&http, &state).await;
    let manifest = crate::harness::verify_archive(&parts);
    let records: u64 =
        manifest["files"].as_array().expect("files").iter().map(|f| f["records"].as_u64().expect("n")).sum();
    assert!(records.abs_diff(1_200_000) <= 1, "{records}");
    let mut db = PgConnection::connect(&database).await.expect("connect");
    let attempt: i64 =
        sqlx::query_scalar("SELECT attempt FROM jobs WHERE id = $1").bind(&id).fetch_one(&mut db).await.expect("job");
    db.close().await.expect("close");
    assert_eq!(attempt, 2, "taken over once");
    assert_eq!(crate::durability::partial_bytes(dir.path()), 0, "the dead attempt's staged part is gone");
    let attempts: Vec<_> = std::fs::read_dir(dir.path().join(format!("blobs/jobs/{id}")))
        .expect("job dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf8"))
        .collect();
    assert_eq!(attempts, ["2"]);
}

/// Starts (or restarts, on the same port) the throwaway cluster in `dir`; returns its URL.
fn cluster(dir: &Path, command: Option<&str>) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/pg-cluster");
    let mut run = std::process::Command::new("bash");
    run.arg(script);
    if let Some(command) = command {
        run.arg(command);
    }
    let out = run.arg(dir).output().expect("pg-cluster");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf8").trim().to_owned()
}

/// PostgreSQL stopped and started again under running nodes: meanwhile the API answers 503
/// UNAVAILABLE, promptly (never a 500, never a hang), and afterwards every job completes. The
/// test runs its own cluster, so that stopping it disturbs no other test.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_restart_is_unavailable_meanwhile_and_loses_no_job() {
    if fresh_database().await.is_none() {
        return;
    }
    let pg = tempfile::tempdir().expect("tempdir");
    let database = cluster(pg.path(), None);
    let dir = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let (_api, api) = node(dir.path(), &database, "api", "api").await;
    let (_worker, _) = node(dir.path(), &database, "worker", "worker").await;
    let user_token = token(dir.path(), &database, "u", "myactivity.search,chrome.history", "one-time");
    let initiate = |group: &'static str| {
        let (http, url, user_token) =
            (http.clone(), format!("{api}/v1/portabilityArchive:initiate"), user_token.clone());
        async move {
            let reply = http.post(url).bearer_auth(user_token).body(format!(r#"{{"resources":["{group}"]}}"#)).send();
            let reply: Value = reply.await.expect("initiate").json().await.expect("json");
            reply["archiveJobId"].as_str().unwrap_or_else(|| panic!("{reply}")).to_owned()
        }
    };
    let first = initiate("myactivity.search").await;
    let state_of = |id: String| {
        let (http, url, user_token) =
            (http.clone(), format!("{api}/v1/archiveJobs/{id}/portabilityArchiveState"), user_token.clone());
        async move {
            let reply = http.get(url).bearer_auth(user_token).send().await.expect("state");
            let status = reply.status();
            (status, reply.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    cluster(pg.path(), Some("stop"));
    let outage = Instant::now();
    let mut refusals = 0;
    while outage.elapsed() < Duration::from_secs(8) {
        let asked = Instant::now();
        let (status, body) = state_of(first.clone()).await;
        assert!(asked.elapsed() < Duration::from_secs(6), "an answer within seconds, not a hang");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["status"], "UNAVAILABLE", "{body}");
        refusals += 1;
    }
    let ready = http.get(format!("{api}/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refusals >= 2);

    assert_eq!(cluster(pg.path(), None), database, "restarted on the same port");
    let deadline = Instant::now() + Duration::from_secs(60);
    let second = loop {
        // The first initiate after the restart may still meet a dead pooled connection.
        let (status, _) = state_of(first.clone()).await;
        if status == StatusCode::OK {
            break initiate_over_http(&http, &api, &user_token, "chrome.history").await;
        }
        assert!(Instant::now() < deadline, "the API did not recover: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for id in [first, second] {
        loop {
            let (status, state) = state_of(id.clone()).await;
            if status == StatusCode::OK && state["state"] != "IN_PROGRESS" {
                assert_eq!(state["state"], "COMPLETE", "{state}");
                break;
            }
            assert!(Instant::now() < deadline, "job {id} did not complete after the restart: {status} {state}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    cluster(pg.path(), Some("stop"));
}

/// What other nodes must learn fast: a job initiated on an API node is picked up by a worker
/// node at once (PostgreSQL LISTEN/NOTIFY, not the one-second poll), and a cancel on an API node
/// stops the export running on a worker node within 2 s (SPEC §15), its partial output deleted.
#[tokio::test(flavor = "multi_thread")]
async fn workers_hear_of_new_jobs_and_cancels_from_other_nodes() {
    let Some(database) = fresh_database().await else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let http = reqwest::Client::new();
    let (_api, api) = node(dir.path(), &database, "api", "api").await;
    let args = [
        "--no-demo",
        "--role",
        "worker",
        "--database-url",
        &database,
        "--workers",
        "1",
        "--emulator-group-records",
        "myactivity.youtube=1200000",
    ];
    let (_worker, _) = Daemon::start_healthy(dir.path(), &args, "worker").await;

    let mut latencies = Vec::new();
    for (i, group) in GROUPS.iter().filter(|g| **g != "myactivity.youtube").enumerate() {
        let user_token = token(dir.path(), &database, &format!("quick{i}"), group, "one-time");
        let started = Instant::now();
        let id = initiate_over_http(&http, &api, &user_token, group).await;
        let state = poll_state(&http, &api, &user_token, &id, Duration::from_secs(30)).await;
        assert_eq!(state["state"], "COMPLETE", "{state}");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    eprintln!("initiate → COMPLETE across nodes: median {median:?}, max {:?}", latencies[latencies.len() - 1]);
    assert!(median < Duration::from_millis(400), "workers wait for the poll instead of being told: {latencies:?}");

    let user_token = token(dir.path(), &database, "big", "myactivity.youtube", "one-time");
    let id = initiate_over_http(&http, &api, &user_token, "myactivity.youtube").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while crate::durability::partial_bytes(dir.path()) < 1 << 20 {
        assert!(Instant::now() < deadline, "the export made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cancelled = Instant::now();
    let reply = http
        .post(format!("{api}/v1/archiveJobs/{id}:cancel"))
        .bearer_auth(&user_token)
        .body("{}")
        .send()
        .await
        .expect("cancel");
    assert_eq!(reply.status(), StatusCode::OK);
    while crate::durability::partial_bytes(dir.path()) > 0 {
        assert!(cancelled.elapsed() < Duration::from_secs(2), "the worker kept exporting a cancelled job");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("cancel on the API node stopped the worker node's export in {:?}", cancelled.elapsed());
    let state = poll_state(&http, &api, &user_token, &id, Duration::from_secs(5)).await;
    assert_eq!(state["state"], "CANCELLED");
}
