//! Health and roles (SPEC §15): `/healthz` says the process is up, `/readyz` that the database
//! and the blob store answer; with SQLite only `--role all` runs, and the server says why.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Backend, TestApp};

#[tokio::test]
async fn readyz_answers_503_with_the_reason_while_a_dependency_is_down() {
    let app = TestApp::spawn().await;
    let ready = app.http.get(format!("{}/readyz", app.base)).send().await.expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.expect("json");
    assert_eq!(body["catalogue"]["groups"], 73, "the catalogue is reported: {body}");
    assert_eq!((body["database"].as_str(), body["blobStore"].as_str()), (Some("ok"), Some("ok")), "{body}");
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

/// A TCP proxy to the PostgreSQL server that the test can cut (every connection dropped, new
/// ones refused) and restore: the database becomes unreachable and comes back, as in a network
/// partition or a database restart, without touching the server other tests share.
struct DatabaseProxy {
    addr: std::net::SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl DatabaseProxy {
    async fn start(upstream: String) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (flag, list) = (up.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                list.lock().expect("lock").push(task.abort_handle());
            }
        });
        Self { addr, up, connections, accept }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for connection in self.connections.lock().expect("lock").drain(..) {
            connection.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for DatabaseProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// `/readyz` follows the database (SPEC §15): 503 naming it while it cannot be reached, 200
/// again once it can, without a restart; `/healthz` stays 200 throughout. On PostgreSQL, the
/// database another machine serves, reached through a proxy the test cuts and restores.
#[tokio::test(flavor = "multi_thread")]
async fn readyz_is_503_while_the_database_is_unreachable_and_200_after() {
    use dataport_core::testing;
    let Some(server) = testing::service(testing::POSTGRES_URL_VAR, "the database outage test") else { return };
    let url = testing::fresh_postgres_database(&server).await;
    let (scheme, rest) = url.split_once("://").expect("url");
    let (user, rest) = rest.split_once('@').expect("user@host");
    let (upstream, database) = rest.split_once('/').expect("host/db");
    let proxy = DatabaseProxy::start(upstream.to_owned()).await;
    let proxied = format!("{scheme}://{user}@{}/{database}", proxy.addr);
    let app = TestApp::spawn_on(Backend { database_url: Some(proxied), blob_url: None }, |_| {}).await;
    let readyz = || async { app.http.get(format!("{}/readyz", app.base)).send().await.expect("readyz") };
    let until = |want: StatusCode| async move {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let reply = readyz().await;
            if reply.status() == want {
                return reply.json::<Value>().await.expect("json");
            }
            assert!(std::time::Instant::now() < deadline, "readyz still {} after 20 s", reply.status());
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    };
    assert_eq!(readyz().await.status(), StatusCode::OK);

    proxy.cut();
    let down = until(StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(down["reason"].as_str().expect("reason").starts_with("database"), "{down}");
    let up = app.http.get(format!("{}/healthz", app.base)).send().await.expect("healthz");
    assert_eq!(up.status(), StatusCode::OK, "the process itself is up");

    proxy.restore();
    let ready = until(StatusCode::OK).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["catalogue"]["groups"], 73, "{ready}");
}
