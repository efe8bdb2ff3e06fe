//! Starts an in-process server and talks to it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dataport_core::consent::Duration as Access;
use dataport_core::{Config, Dataport};
use dataport_server::Application;
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::Value;

pub use crate::backend::{Backend, S3Server, Sql};

/// A running test server.
pub struct TestApp {
    pub base: String,
    /// `http://ADDR/metrics` when the config asked for a metrics listener.
    pub metrics_url: Option<String>,
    pub core: Arc<Dataport>,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub dir: tempfile::TempDir,
    /// Where the server keeps its state: see [`Backend`].
    pub backend: Backend,
}

/// A response: status, headers and the body parsed as JSON (`Null` when it is not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    /// The ErrorInfo reason, if the body is an error envelope with one.
    pub fn reason(&self) -> Option<&str> {
        self.json["error"]["details"][0]["reason"].as_str()
    }
}

impl TestApp {
    /// A server with emulator defaults and 50 records per group.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose config `tweak` adjusts.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_on(Backend::for_test().await, tweak).await
    }

    /// A server on `backend` whose config `tweak` adjusts.
    pub async fn spawn_on(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_with_sources(backend, std::collections::HashMap::new(), tweak).await
    }

    /// A server with data sources written in Rust (`kind = "custom"`).
    pub async fn spawn_with_sources(
        backend: Backend,
        sources: std::collections::HashMap<String, Arc<dyn dataport_core::sources::DataSource>>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::new(dir.path());
        backend.configure(&mut config);
        config.public_origin = String::new();
        config.emulator.records_per_group = 50;
        config.workers = 2;
        config.lease_seconds = 3;
        tweak(&mut config);
        let app = Application::build_with_sources(config, "127.0.0.1:0".parse().expect("addr"), sources)
            .await
            .expect("server starts");
        let base = format!("http://{}", app.local_addr());
        let metrics_url = app.metrics_addr().map(|addr| format!("http://{addr}/metrics"));
        let core = app.core();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Self { base, metrics_url, core, http: reqwest::Client::new(), stop: Some(stop), dir, backend }
    }

    /// The server's database, behind its back (see [`Sql`]).
    pub async fn sql(&self) -> Sql {
        Sql::open(self.dir.path(), &self.backend).await
    }

    /// Whether anything of job `id` is in the blob store: a committed part, or one being written
    /// (a local `.partial` file, a recorded S3 upload).
    pub async fn job_output_exists(&self, id: &str) -> bool {
        let prefix = format!("jobs/{id}");
        !self.core.blobs().list(&prefix).await.expect("list").is_empty()
            || !self.core.store().uploads_below(&prefix).await.expect("uploads").is_empty()
            || self.dir.path().join("blobs").join(&prefix).exists()
    }

    /// Grants `resources` to (user, client) and returns a fresh access token.
    pub async fn token(&self, user: &str, client: &str, resources: &[&str], access: Access) -> String {
        self.token_valid_for(user, client, resources, access, 3599).await
    }

    pub async fn token_valid_for(
        &self,
        user: &str,
        client: &str,
        resources: &[&str],
        access: Access,
        seconds: i64,
    ) -> String {
        let resources: Vec<String> = resources.iter().map(|s| (*s).to_owned()).collect();
        self.core.admin_token(user, client, &resources, access, seconds).await.expect("token")
    }

    /// Sends a request; `token` goes in a Bearer header, `body` as is.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<&str>) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_owned());
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, headers, text, json }
    }

    pub async fn post(&self, path: &str, token: &str, body: &str) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// Initiates an export and returns the job id, asserting success.
    pub async fn initiate(&self, token: &str, body: &str) -> String {
        let reply = self.post("/v1/portabilityArchive:initiate", token, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json["archiveJobId"].as_str().expect("archiveJobId").to_owned()
    }

    pub async fn state(&self, token: &str, id: &str) -> Reply {
        self.get(&format!("/v1/archiveJobs/{id}/portabilityArchiveState"), token).await
    }

    /// Polls the job until it leaves IN_PROGRESS (bounded by `timeout`); returns the state body.
    pub async fn wait_done(&self, token: &str, id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let reply = self.state(token, id).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            if reply.json["state"] != "IN_PROGRESS" {
                return reply.json;
            }
            assert!(Instant::now() < deadline, "job {id} still in progress after {timeout:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Downloads a URL without credentials.
    pub async fn fetch(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.expect("download")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Checks every file in `Portability/manifest.json` against the downloaded parts; returns the manifest.
pub fn verify_archive(parts: &[Vec<u8>]) -> Value {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let manifest = manifest_of(parts.last().expect("an index part"));
    for file in manifest["files"].as_array().expect("files") {
        let part = file["part"].as_u64().expect("part") as usize;
        assert!(part < parts.len() - 1, "data files live in data parts");
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&parts[part])).expect("part zip");
        let mut bytes = Vec::new();
        zip.by_name(file["path"].as_str().expect("path")).expect("file in part").read_to_end(&mut bytes).expect("read");
        assert_eq!(bytes.len() as u64, file["size"].as_u64().expect("size"));
        assert_eq!(hex::encode(Sha256::digest(&bytes)), file["sha256"].as_str().expect("sha256"));
    }
    manifest
}

/// The manifest in an index part (checking that the archive browser is there too).
pub fn manifest_of(index: &[u8]) -> Value {
    use std::io::Read;
    let mut index = zip::ZipArchive::new(std::io::Cursor::new(index)).expect("index zip");
    let mut text = String::new();
    index.by_name("Portability/manifest.json").expect("manifest").read_to_string(&mut text).expect("read");
    index.by_name("Portability/archive_browser.json").expect("archive browser");
    serde_json::from_str(&text).expect("manifest json")
}

/// Downloads every URL of a COMPLETE state body with `http`.
pub async fn download_urls(http: &reqwest::Client, state: &Value) -> Vec<Vec<u8>> {
    let mut parts = Vec::new();
    for url in state["urls"].as_array().expect("urls") {
        let response = http.get(url.as_str().expect("url")).send().await.expect("download");
        assert_eq!(response.status(), StatusCode::OK);
        parts.push(response.bytes().await.expect("bytes").to_vec());
    }
    parts
}

/// Downloads every URL of a COMPLETE state body.
pub async fn download_all(app: &TestApp, state: &Value) -> Vec<Vec<u8>> {
    let mut parts = Vec::new();
    for url in state["urls"].as_array().expect("urls") {
        let response = app.fetch(url.as_str().expect("url")).await;
        assert_eq!(response.status(), StatusCode::OK);
        parts.push(response.bytes().await.expect("bytes").to_vec());
    }
    parts
}

/// Replaces what changes from run to run (job ids, times, signatures, ports) with placeholders,
/// so that snapshots pin the shape and wording of bodies.
pub fn scrub(value: &Value) -> Value {
    let text = serde_json::to_string(value).expect("json");
    let rules = [
        (r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", "[job-id]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]"),
        (r"http://127\.0\.0\.1:\d+", "[origin]"),
        (r"exp=\d+&kid=[^&]+&sig=[A-Za-z0-9_-]+", "[signature]"),
        (r#""retryDelay":"\d+s""#, r#""retryDelay":"[seconds]s""#),
    ];
    let text = rules.iter().fold(text, |text, (pattern, with)| {
        regex::Regex::new(pattern).expect("regex").replace_all(&text, *with).into_owned()
    });
    serde_json::from_str(&text).expect("json")
}

/// A free port on 127.0.0.1 for a server started as a separate process.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Waits (at most 30 s) until the server at `base` answers `/healthz`.
pub async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == StatusCode::OK) {
        assert!(Instant::now() < deadline, "server did not become healthy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every file below `dir`, recursively.
pub fn files_below(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_below(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A `dataportd serve` process on 127.0.0.1:`port` with its data in `dir` and its log in
/// `dir/<name>.log`, killed (SIGKILL) when dropped.
pub struct Daemon {
    pub child: std::process::Child,
    log: std::path::PathBuf,
}

impl Daemon {
    /// Starts `dataportd serve` with `args` (besides `--listen` and `--data-dir`).
    pub fn start(dir: &std::path::Path, port: u16, args: &[&str], name: &str) -> Self {
        let log = dir.join(format!("{name}.log"));
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_dataportd"))
            .arg("serve")
            .args(args)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("dataportd starts");
        Self { child, log }
    }

    /// Starts `dataportd serve` with `args` on a free port and waits until it is healthy; returns
    /// it with its base URL. A port taken between choosing and binding it (another test's
    /// connection may get it) is retried with another, up to five times.
    pub async fn start_healthy(dir: &std::path::Path, args: &[&str], name: &str) -> (Self, String) {
        let http = reqwest::Client::new();
        for _ in 0..5 {
            let port = free_port();
            let mut daemon = Self::start(dir, port, args, name);
            let base = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if http.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == StatusCode::OK) {
                    return (daemon, base);
                }
                if daemon.child.try_wait().expect("wait").is_some() {
                    let log = daemon.log();
                    assert!(log.contains("cannot listen"), "{name} exited at start: {log}");
                    break;
                }
                assert!(Instant::now() < deadline, "{name} did not become healthy: {}", daemon.log());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        panic!("{name}: no free port in five tries");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// An access token for user `u` and client `c` with `resources`, from `dataportd admin token`.
    pub fn admin_token(dir: &std::path::Path, resources: &str) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dataportd"))
            .args(["admin", "token", "--user", "u", "--client", "c", "--resources", resources, "--data-dir"])
            .arg(dir)
            .output()
            .expect("admin token");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf8").trim().to_owned()
    }

    /// Initiates an export of `group` and waits (at most 120 s) for it; returns the first URL.
    pub async fn export(http: &reqwest::Client, base: &str, token: &str, group: &str) -> String {
        let id = initiate_over_http(http, base, token, group).await;
        let state = poll_state(http, base, token, &id, Duration::from_secs(120)).await;
        assert_eq!(state["state"], "COMPLETE", "{state}");
        state["urls"][0].as_str().expect("url").to_owned()
    }
}

/// Initiates an export of `group` at the server `base`; returns the job id.
pub async fn initiate_over_http(http: &reqwest::Client, base: &str, token: &str, group: &str) -> String {
    let reply: Value = http
        .post(format!("{base}/v1/portabilityArchive:initiate"))
        .bearer_auth(token)
        .body(format!(r#"{{"resources":["{group}"]}}"#))
        .send()
        .await
        .expect("initiate")
        .json()
        .await
        .expect("json");
    reply["archiveJobId"].as_str().unwrap_or_else(|| panic!("{reply}")).to_owned()
}

/// A job's state at the server `base`, once.
pub async fn state_over_http(http: &reqwest::Client, base: &str, token: &str, id: &str) -> Value {
    let reply = http.get(format!("{base}/v1/archiveJobs/{id}/portabilityArchiveState")).bearer_auth(token).send();
    reply.await.expect("state").json().await.expect("json")
}

/// Polls a job's state at the server `base` until it leaves IN_PROGRESS (at most `timeout`),
/// checking that no URL is handed out before; returns the state body.
pub async fn poll_state(http: &reqwest::Client, base: &str, token: &str, id: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let state = state_over_http(http, base, token, id).await;
        if state["state"] != "IN_PROGRESS" {
            return state;
        }
        assert!(state.get("urls").is_none(), "no URL before COMPLETE: {state}");
        assert!(Instant::now() < deadline, "job {id} still in progress after {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
