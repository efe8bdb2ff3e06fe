//! The CLI against a hostile server (issue #22, findings 1, 7 and 8): a small HTTP/1.1 server on
//! 127.0.0.1:0 that answers what a test tells it to — job ids that are paths, archives with
//! entries the manifest does not list or that inflate past their size, answers without end, a
//! token endpoint that redirects elsewhere, metadata naming foreign endpoints — and records what
//! it was sent. Each test shows the CLI refusing, with nothing outside `--out` touched.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

use crate::harness::{Cli, Run, Running, dataport_bin, files_below};

// ------------------------------------------------------------------------------------ the server

/// A request the hostile server was sent, with how many body bytes its answer got out.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    /// The request target (path and query), as sent.
    target: String,
    body: Vec<u8>,
    /// Bytes of the answer's body the server wrote before the client hung up (or all of them).
    written: u64,
}

impl Seen {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

/// What the server answers.
enum Reply {
    /// A whole response: status, extra headers, body.
    Full(u16, Vec<(String, String)>, Vec<u8>),
    /// A 200 `application/json` whose body is `prefix`, then spaces up to `limit` bytes in all,
    /// then `}`, with no `Content-Length` (it ends when the connection closes).
    Endless { prefix: Vec<u8>, limit: u64 },
}

fn json_reply(status: u16, body: &Value) -> Reply {
    Reply::Full(status, vec![("Content-Type".into(), "application/json".into())], body.to_string().into_bytes())
}

/// Answers a request; the second argument is the server's own base URL.
type Handler = Arc<dyn Fn(&Seen, &str) -> Reply + Send + Sync>;

/// How long a hostile server lives at most.
const LIFETIME: Duration = Duration::from_secs(300);

/// A hostile HTTP/1.1 server on a port of 127.0.0.1 the system picks; one connection per
/// request (`Connection: close`). Stops when dropped.
struct Hostile {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl Hostile {
    fn start(handler: impl Fn(&Seen, &str) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Handler = Arc::new(handler);
        let (log, stopped) = (seen.clone(), stop.clone());
        let base = format!("http://127.0.0.1:{port}");
        let own = base.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            while !stopped.load(Ordering::SeqCst) && started.elapsed() < LIFETIME {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (handler, log, own) = (handler.clone(), log.clone(), own.clone());
                        std::thread::spawn(move || serve(stream, &handler, &own, &log));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self { base, seen, stop }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// What the server was sent, once it has recorded at least `count` requests (a request is
    /// recorded when its answer ends, which may be after the client has gone): at most 10 s.
    fn settle(&self, count: usize) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.seen().len() < count && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.seen()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Reads one request, answers it, records it.
fn serve(stream: TcpStream, handler: &Handler, base: &str, log: &Mutex<Vec<Seen>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let mut length = 0usize;
    for _ in 0..200 {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.trim().eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0).min(1 << 20);
        }
    }
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let mut seen = Seen { method, target, body, written: 0 };
    let mut out = stream;
    match handler(&seen, base) {
        Reply::Full(status, headers, body) => {
            let mut head =
                format!("HTTP/1.1 {status} Hostile\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            if out.write_all(head.as_bytes()).and_then(|()| out.write_all(&body)).is_ok() {
                seen.written = body.len() as u64;
            }
        }
        Reply::Endless { prefix, limit } => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
            if out.write_all(head.as_bytes()).and_then(|()| out.write_all(&prefix)).is_ok() {
                seen.written = prefix.len() as u64;
                let spaces = vec![b' '; 64 * 1024];
                while seen.written < limit {
                    let n = spaces.len().min((limit - seen.written) as usize);
                    if out.write_all(&spaces[..n]).is_err() {
                        break;
                    }
                    seen.written += n as u64;
                }
                if seen.written >= limit && out.write_all(b"}").is_ok() {
                    seen.written += 1;
                }
            }
        }
    }
    let _ = out.flush();
    let _ = out.shutdown(std::net::Shutdown::Both);
    log.lock().expect("lock").push(seen);
}

// ------------------------------------------------------------------------------------ archives

/// A ZIP of `entries` (deflated).
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        writer.start_file(*name, SimpleFileOptions::default()).expect("start");
        writer.write_all(data).expect("write");
    }
    writer.finish().expect("finish").into_inner()
}

/// dataport's `Portability/manifest.json` listing `files` as (path, part, size, content).
fn manifest_of(files: &[(&str, usize, u64, &[u8])]) -> Vec<u8> {
    let files: Vec<Value> = files
        .iter()
        .map(|(path, part, size, data)| {
            json!({"path": path, "part": part, "size": size, "sha256": hex::encode(Sha256::digest(data))})
        })
        .collect();
    json!({"version": 1, "jobId": "job-1", "resources": ["myactivity.search"],
           "exportTime": "2026-01-01T00:00:00Z", "files": files})
    .to_string()
    .into_bytes()
}

/// The answers of a Data Portability API whose `initiate` answers `initiate` and whose every job
/// is COMPLETE with `parts` to download (`/dl/<n>`).
fn api_server(initiate: Reply, parts: Vec<Vec<u8>>) -> Hostile {
    let initiate = Mutex::new(Some(initiate));
    Hostile::start(move |request, base| {
        let path = request.path();
        if request.method == "POST" && path == "/v1/portabilityArchive:initiate" {
            return initiate.lock().expect("lock").take().unwrap_or_else(|| json_reply(500, &json!({})));
        }
        if path.starts_with("/v1/archiveJobs/") && path.ends_with("/portabilityArchiveState") {
            return json_reply(
                200,
                &json!({"name": "archiveJobs/x/portabilityArchiveState", "state": "COMPLETE",
                "urls": (0..parts.len()).map(|n| format!("{base}/dl/{n}")).collect::<Vec<_>>(),
                "exportTime": "2026-01-01T00:00:00Z"}),
            );
        }
        if let Some(n) = path.strip_prefix("/dl/").and_then(|n| n.parse::<usize>().ok())
            && let Some(part) = parts.get(n)
        {
            return Reply::Full(200, vec![("Content-Type".into(), "application/zip".into())], part.clone());
        }
        json_reply(
            404,
            &json!({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}}),
        )
    })
}

fn ok_initiate(id: &str) -> Reply {
    json_reply(200, &json!({"archiveJobId": id, "accessType": "ACCESS_TYPE_ONE_TIME"}))
}

fn error_reply(status: u16, code: &str, message: &str, details: Value) -> Reply {
    json_reply(status, &json!({"error": {"code": status, "message": message, "status": code, "details": details}}))
}

// ------------------------------------------------------------------------------------ helpers

const GROUP: &str = "myactivity.search";
const TOKEN: &str = "dpa_hostile-test-token-0123456789";

/// A folder of the user's outside `--out`, `<arena>/<name>/`, holding `thesis.txt`.
fn precious(arena: &Path, name: &str) -> PathBuf {
    let dir = arena.join(name);
    std::fs::create_dir_all(&dir).expect("precious dir");
    std::fs::write(dir.join("thesis.txt"), b"years of work").expect("precious file");
    dir
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn pull(cli: &Cli, api: &str, out: &Path) -> Run {
    cli.pull(TOKEN, api, GROUP, out.to_str().expect("utf8"), &["--json"])
}

/// The message of a `--json` failure of `code`/`kind`.
fn failure(run: &Run, code: i32, kind: &str) -> String {
    let doc = run.error_doc(code, kind);
    doc["error"]["message"].as_str().expect("message").to_owned()
}

/// The files below `out` but outside the CLI's own `.dataport/`.
fn extracted(out: &Path) -> Vec<PathBuf> {
    files_below(out).into_iter().filter(|p| !p.starts_with(out.join(".dataport"))).collect()
}

/// Runs every case, also after one has failed, then fails naming each that did.
fn every_case(cases: &[(&str, &dyn Fn())]) {
    let failed: Vec<String> = cases
        .iter()
        .filter_map(|(name, case)| {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(case));
            outcome.err().map(|panic| {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                format!("{name}: {why}")
            })
        })
        .collect();
    assert!(failed.is_empty(), "{} of {} cases failed:\n{}", failed.len(), cases.len(), failed.join("\n\n"));
}

// ------------------------------------------------------------------------------------ finding 1

/// One pull whose job id `evil` arrives by `route` (initiate's answer, ALREADY_EXISTS metadata
/// or `pending.json`), `evil` being the absolute path of a folder of the user's beside `--out`
/// or a climb to one.
fn pull_with_job_id(route: &str, absolute: bool) {
    let cli = Cli::new();
    let arena = cli.home.path().join("arena");
    let out = arena.join("out");
    let victim = precious(&arena, "thesis");
    precious(&arena, "beside");
    // From out/.dataport/staging (or downloads), three levels up is the arena.
    let evil = if absolute { victim.to_str().expect("utf8").to_owned() } else { "../../../beside".to_owned() };
    let initiate = match route {
        "initiate" => ok_initiate(&evil),
        "already-exists" => error_reply(
            409,
            "ALREADY_EXISTS",
            "an identical job is already in progress",
            json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ALREADY_EXISTS_ONE_TIME",
                    "domain": "dataportability.googleapis.com",
                    "metadata": {"job_id": evil, "access_type": "ACCESS_TYPE_ONE_TIME"}}]),
        ),
        _ => ok_initiate("job-1"),
    };
    let server = api_server(initiate, vec![zip_of(&[("Portability/A/a.json", b"[]")])]);
    if route == "pending" {
        // What an earlier run against this server would have left, had it kept the id.
        std::fs::create_dir_all(out.join(".dataport")).expect("work dir");
        let pending = json!({"jobs": {GROUP: {"api": server.base, "jobId": evil}}});
        std::fs::write(out.join(".dataport/pending.json"), pending.to_string()).expect("pending.json");
    }

    let run = pull(&cli, &server.base, &out);

    for name in ["thesis", "beside"] {
        let file = arena.join(name).join("thesis.txt");
        let kept = std::fs::read(&file).ok();
        assert_eq!(kept.as_deref(), Some(&b"years of work"[..]), "{} is untouched: {run}", file.display());
    }
    assert_eq!(names_in(&arena), ["beside", "out", "thesis"], "nothing is written beside --out: {run}");
    if route == "pending" {
        // The unusable pending id is not resumed: a job is started and pulled instead.
        run.assert_code(0);
        let doc = run.json();
        assert_eq!(doc["jobs"][0]["jobId"], "job-1", "{doc}");
    } else {
        let message = failure(&run, 6, "network");
        assert!(message.contains("job id"), "the refusal names the job id: {message}");
        assert!(extracted(&out).is_empty(), "{:?}", extracted(&out));
    }
}

/// Finding 1: a job id from the server (initiate's answer, ALREADY_EXISTS metadata) or from
/// `pending.json` that is a path — absolute, or climbing with `..` — names nothing outside the
/// work folder: the pull refuses the id (or, from `pending.json`, ignores it), and the user's
/// folders beside `--out` are untouched.
#[test]
fn job_ids_that_are_paths_touch_nothing_outside_the_work_folder() {
    every_case(&[
        ("initiate, absolute", &|| pull_with_job_id("initiate", true)),
        ("initiate, climbing", &|| pull_with_job_id("initiate", false)),
        ("ALREADY_EXISTS, absolute", &|| pull_with_job_id("already-exists", true)),
        ("ALREADY_EXISTS, climbing", &|| pull_with_job_id("already-exists", false)),
        ("pending.json, absolute", &|| pull_with_job_id("pending", true)),
        ("pending.json, climbing", &|| pull_with_job_id("pending", false)),
    ]);
}

// ------------------------------------------------------------------------------------ finding 7

const DATA: &[u8] = b"[{\"title\":\"a\"}]";

/// The index part: `archive_browser.json` and a manifest listing `listed`.
fn index_part(listed: &[(&str, usize, u64, &[u8])]) -> Vec<u8> {
    zip_of(&[("Portability/archive_browser.json", b"{}"), ("Portability/manifest.json", &manifest_of(listed))])
}

/// A well-formed archive, index files included, is pulled and verified.
fn well_formed_archive() {
    let cli = Cli::new();
    let out = cli.home.path().join("out");
    let parts = vec![
        zip_of(&[("Portability/A/a.json", DATA)]),
        index_part(&[("Portability/A/a.json", 0, DATA.len() as u64, DATA)]),
    ];
    let server = api_server(ok_initiate("job-1"), parts);
    let run = pull(&cli, &server.base, &out);
    run.assert_code(0);
    assert_eq!(run.json()["jobs"][0]["verified"], true, "{run}");
    for file in ["Portability/A/a.json", "Portability/manifest.json", "Portability/archive_browser.json"] {
        assert!(out.join(file).is_file(), "{file}: {run}");
    }
}

/// An entry the manifest does not list: nothing is extracted, the refused parts are not kept.
fn unlisted_entry() {
    let cli = Cli::new();
    let out = cli.home.path().join("out");
    let parts = vec![
        zip_of(&[("Portability/A/a.json", DATA), ("Portability/A/unlisted.json", b"not in the manifest")]),
        index_part(&[("Portability/A/a.json", 0, DATA.len() as u64, DATA)]),
    ];
    let server = api_server(ok_initiate("job-1"), parts);
    let run = pull(&cli, &server.base, &out);
    let message = failure(&run, 6, "network");
    assert!(message.contains("not listed in the manifest"), "{message}");
    assert!(extracted(&out).is_empty(), "nothing is extracted: {:?}", extracted(&out));
    let kept: Vec<PathBuf> =
        files_below(&out.join(".dataport")).into_iter().filter(|p| p.to_string_lossy().contains(".zip")).collect();
    assert!(kept.is_empty(), "a refused archive is not kept: {kept:?}");
}

/// A bomb: 48 MiB of zeros (about 50 KiB deflated) listed as 1 KiB, pulled under a file-size
/// limit of 8 or 16 MiB, ends as a corrupt part — not as a process killed for writing too much.
fn entry_inflating_past_its_listed_size() {
    let zeros = vec![0u8; 48 << 20];
    let cli = Cli::new();
    let out = cli.home.path().join("out");
    let parts = vec![
        zip_of(&[("Portability/A/bomb.json", &zeros)]),
        index_part(&[("Portability/A/bomb.json", 0, 1024, &zeros[..1024])]),
    ];
    let server = api_server(ok_initiate("job-1"), parts);
    let out_arg = out.to_str().expect("utf8");
    let config = cli.config.to_str().expect("utf8");
    let args = ["pull", "--token", TOKEN, "--api", &server.base, "--resources", GROUP, "--out", out_arg];
    let args: Vec<&str> = args.iter().copied().chain(["--json", "--config-dir", config]).collect();
    let mut command = Command::new("sh");
    // dash counts 512-byte blocks (8 MiB), bash KiB (16 MiB).
    command.args(["-c", "ulimit -f 16384 && exec \"$0\" \"$@\""]).arg(dataport_bin()).args(&args);
    cli.sanitise(&mut command);
    let run = Running::spawn(command, &args).finish(Duration::from_secs(120));
    assert_ne!(run.code, -1, "killed by a signal (SIGXFSZ: the entry was inflated past its size): {run}");
    let message = failure(&run, 6, "network");
    assert!(message.contains("holds more than the 1024 bytes"), "{message}");
    assert!(extracted(&out).is_empty(), "{:?}", extracted(&out));
}

/// Finding 7: with a manifest, an entry it does not list is refused, and an entry that inflates
/// past its listed size is read no further than that size. The index's own files are extracted
/// as before.
#[test]
fn archive_entries_beyond_the_manifest_are_refused_and_bounded() {
    every_case(&[
        ("well-formed archive (control)", &well_formed_archive),
        ("unlisted entry", &unlisted_entry),
        ("entry inflating past its listed size", &entry_inflating_past_its_listed_size),
    ]);
}

// ------------------------------------------------------------------------------------ finding 8

/// A state answer of 128 MiB that never declares its length is read no further than the cap.
fn endless_state_answer() {
    let server = Hostile::start(|request, _| {
        if request.path().ends_with("/portabilityArchiveState") {
            let prefix = br#"{"name":"archiveJobs/job-1/portabilityArchiveState","state":"IN_PROGRESS","exportTime":"2026-01-01T00:00:00Z""#;
            return Reply::Endless { prefix: prefix.to_vec(), limit: 128 << 20 };
        }
        json_reply(404, &json!({}))
    });
    let cli = Cli::new();
    let run = cli.run(&["status", "job-1", "--token", TOKEN, "--api", &server.base, "--json"]);
    let message = failure(&run, 6, "network");
    assert!(message.contains("larger than"), "{message}");
    let written: Vec<u64> = server.settle(1).iter().map(|s| s.written).collect();
    assert!(!written.is_empty(), "the state call was made: {run}");
    // The cap (16 MiB), plus what loopback socket buffers held when the CLI hung up.
    assert!(written.iter().all(|w| *w < 48 << 20), "bytes the server got out per answer: {written:?}");
}

/// A token endpoint answering the refresh with a 307 to another origin: not followed, so the
/// refresh token goes nowhere else.
fn token_endpoint_redirecting_elsewhere() {
    let elsewhere = Hostile::start(|_, _| {
        json_reply(200, &json!({"access_token": "dpa_from-elsewhere-0123456789", "expires_in": 3600}))
    });
    let target = format!("{}/token", elsewhere.base);
    let server = Hostile::start(move |request, _| match request.path() {
        "/token" => Reply::Full(307, vec![("Location".into(), target.clone())], Vec::new()),
        "/v1/accessType:check" => json_reply(200, &json!({"oneTimeResources": [GROUP]})),
        _ => json_reply(404, &json!({})),
    });
    let cli = Cli::new();
    let refresh_token = "dpr_refresh-secret-0123456789";
    let profile = json!({"server": server.base, "api": server.base, "tokenEndpoint": format!("{}/token", server.base),
        "clientId": "demo-client", "accessToken": "dpa_expired-0123456789", "expiresAt": 0,
        "refreshToken": refresh_token, "granted": [GROUP]});
    std::fs::create_dir_all(cli.config.join("profiles")).expect("profiles");
    std::fs::write(cli.config.join("profiles/default.json"), profile.to_string()).expect("profile");
    let run = cli.run(&["check", "--json"]);
    let leaked: Vec<String> = elsewhere.seen().iter().map(|s| String::from_utf8_lossy(&s.body).into_owned()).collect();
    assert!(leaked.is_empty(), "the redirect's target was sent: {leaked:?}");
    let message = failure(&run, 6, "network");
    assert!(message.contains("redirect"), "{message}");
    let token_requests = server.settle(1).iter().filter(|s| s.path() == "/token").count();
    assert_eq!(token_requests, 1, "{:?}", server.seen());
    assert!(!run.stdout.contains(refresh_token) && !run.stderr.contains(refresh_token), "{run}");
}

/// `dataport login` against metadata whose `field` is what `endpoint` makes of the server's base
/// URL: refused before anything is offered to the browser.
fn login_with_metadata(field: &'static str, endpoint: impl Fn(&str) -> String + Send + Sync + 'static) {
    let server = Hostile::start(move |request, base| {
        if request.path() != "/.well-known/oauth-authorization-server" {
            return json_reply(404, &json!({}));
        }
        let mut metadata = json!({"issuer": base, "authorization_endpoint": format!("{base}/o/oauth2/v2/auth"),
            "token_endpoint": format!("{base}/token"), "scopes_supported": [format!("dataportability.{GROUP}")]});
        metadata[field] = json!(endpoint(base));
        json_reply(200, &metadata)
    });
    let cli = Cli::new();
    let mut login = cli.spawn(&["login", "--server", &server.base, "--resources", GROUP, "--no-browser", "--json"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !login.exited() && Instant::now() < deadline {
        if login.stderr_text().contains("Open this URL") {
            let run = login.kill();
            panic!("the CLI offered the server's endpoint to the browser: {run}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let run = login.finish(Duration::from_secs(10));
    let message = failure(&run, 6, "network");
    assert!(message.contains(field), "{message}");
    assert!(!run.stderr.contains("Open this URL"), "{run}");
}

/// Finding 8: answers are read no further than their cap, token requests follow no redirect,
/// and metadata naming a `file:` URL, another origin or another port is refused before anything
/// is opened in a browser.
#[test]
fn server_answers_are_capped_redirects_refused_and_endpoints_checked() {
    let other = Hostile::start(|_, _| json_reply(404, &json!({})));
    let other_token = format!("{}/token", other.base);
    every_case(&[
        ("endless state answer", &endless_state_answer),
        ("token endpoint redirecting elsewhere", &token_endpoint_redirecting_elsewhere),
        ("file: authorization endpoint", &|| {
            login_with_metadata("authorization_endpoint", |_| "file:///etc/passwd".to_owned())
        }),
        ("authorization endpoint on another host", &|| {
            login_with_metadata("authorization_endpoint", |_| "https://evil.example/o/oauth2/v2/auth".to_owned())
        }),
        ("token endpoint on another port", &|| {
            let token = other_token.clone();
            login_with_metadata("token_endpoint", move |_| token.clone())
        }),
    ]);
    assert!(other.seen().is_empty(), "{:?}", other.seen());
}
