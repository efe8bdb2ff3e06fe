//! What the tests share: `dataportd` processes on free loopback ports, the `dataport` binary run
//! with a private config directory, a small HTTP/1.1 client (the test's "browser": cookies kept
//! by hand, HTML forms read and submitted like a browser without JavaScript), and a TCP proxy
//! that counts the bytes a server sends. Every wait is bounded in time.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

// ------------------------------------------------------------------------------------ binaries

/// The `dataport` binary under test.
pub fn dataport_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_dataport"))
}

/// The `dataportd` binary: `DATAPORTD`, else beside `dataport` (target/debug/dataportd).
pub fn dataportd_bin() -> PathBuf {
    let path = std::env::var_os("DATAPORTD").map(PathBuf::from).unwrap_or_else(|| {
        dataport_bin()
            .parent()
            .expect("the binary's directory")
            .join(format!("dataportd{}", std::env::consts::EXE_SUFFIX))
    });
    assert!(path.is_file(), "{} is missing: build it first with `cargo build -p dataport-server`", path.display());
    path
}

/// A temporary directory, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("dataport-cli-e2e-").tempdir().expect("tempdir")
}

/// A free port on 127.0.0.1 (free when asked: another process may take it before it is bound).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Polls `done` every `every` until it returns `Some` or `timeout` passes (then panics with
/// `what` and the last diagnostic `why` gives).
pub fn wait_for<T>(
    timeout: Duration,
    every: Duration,
    what: &str,
    mut done: impl FnMut() -> Option<T>,
    why: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    let max_polls = (timeout.as_millis() / every.as_millis().max(1)) as u64 + 2;
    for _ in 0..max_polls {
        if let Some(value) = done() {
            return value;
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(every);
    }
    panic!("timed out after {timeout:?} waiting for {what}: {}", why());
}

// ------------------------------------------------------------------------------------ http client

/// An HTTP response read whole.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// Splits `http://host:port/path?query` into (authority, path-and-query).
fn split_url(url: &str) -> (&str, &str) {
    let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("the tests speak plain http on loopback: {url}"));
    match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    }
}

/// One HTTP/1.1 request on a new connection (`Connection: close`); redirects are not followed.
pub fn try_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> std::io::Result<Response> {
    let (authority, path) = split_url(url);
    let addr: std::net::SocketAddr = authority
        .parse()
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("not host:port: {authority}")))?;
    assert!(addr.ip().is_loopback(), "loopback only: {url}");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nUser-Agent: dataport-cli-e2e\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if let Some(body) = body {
        stream.write_all(body)?;
    }
    stream.flush()?;
    read_response(&mut BufReader::new(stream), method == "HEAD")
}

fn read_response(reader: &mut impl BufRead, head_only: bool) -> std::io::Result<Response> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad(&line))?;
    let mut headers = Vec::new();
    for _ in 0..500 {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(bad("eof in headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let response = Response { status, headers, body: Vec::new() };
    if head_only || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(response);
    }
    let mut body = Vec::new();
    if response.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        for _ in 0..1_000_000 {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad(&format!("chunk size {line:?}")))?;
            if size == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            line.clear();
            reader.read_line(&mut line)?;
        }
    } else if let Some(length) = response.header("content-length") {
        let length: usize = length.parse().map_err(|_| bad("content-length"))?;
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    } else {
        reader.read_to_end(&mut body)?;
    }
    Ok(Response { body, ..response })
}

pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Response {
    try_request(method, url, headers, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

pub fn get(url: &str, bearer: Option<&str>) -> Response {
    match bearer {
        Some(token) => request("GET", url, &[("Authorization", &format!("Bearer {token}"))], None),
        None => request("GET", url, &[], None),
    }
}

/// `application/x-www-form-urlencoded` of `fields`.
pub fn form_encode(fields: &[(String, String)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        out.append_pair(name, value);
    }
    out.finish()
}

/// The query parameters of `url`, decoded (the last of repeated names wins).
pub fn query_params(url: &str) -> BTreeMap<String, String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query = query.split('#').next().unwrap_or("");
    form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

// ------------------------------------------------------------------------------------ html forms

/// A tag's attributes in order; a bare attribute (`checked`) has no value.
pub type Attrs = Vec<(String, Option<String>)>;

pub fn attr<'a>(attrs: &'a Attrs, name: &str) -> Option<&'a str> {
    attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_deref().unwrap_or(""))
}

pub fn has_attr(attrs: &Attrs, name: &str) -> bool {
    attrs.iter().any(|(n, _)| n == name)
}

/// An HTML form: its method, action, inputs and buttons.
#[derive(Debug, Default)]
pub struct Form {
    pub method: String,
    pub action: String,
    pub inputs: Vec<Attrs>,
    pub buttons: Vec<Attrs>,
}

impl Form {
    /// The hidden inputs' (name, value) pairs, which a browser submits as they are.
    pub fn hidden(&self) -> Vec<(String, String)> {
        self.inputs
            .iter()
            .filter(|i| attr(i, "type") == Some("hidden"))
            .filter_map(|i| Some((attr(i, "name")?.to_owned(), attr(i, "value").unwrap_or("").to_owned())))
            .collect()
    }

    pub fn inputs_named(&self, name: &str) -> Vec<&Attrs> {
        self.inputs.iter().filter(|i| attr(i, "name") == Some(name)).collect()
    }
}

fn decode_entities(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn parse_attrs(s: &str) -> Attrs {
    let chars: Vec<char> = s.chars().collect();
    let mut attrs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() || chars[i] == '/' {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '=' && chars[i] != '/' {
            i += 1;
        }
        let name: String = chars[start..i].iter().collect::<String>().to_ascii_lowercase();
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            let value: String = if i < chars.len() && (chars[i] == '"' || chars[i] == '\'') {
                let quote = chars[i];
                i += 1;
                let start = i;
                while i < chars.len() && chars[i] != quote {
                    i += 1;
                }
                let value = chars[start..i].iter().collect();
                i += 1;
                value
            } else {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() {
                    i += 1;
                }
                chars[start..i].iter().collect()
            };
            attrs.push((name, Some(decode_entities(&value))));
        } else if !name.is_empty() {
            attrs.push((name, None));
        }
    }
    attrs
}

/// Every tag of `html` as (lower-case name, with a leading `/` for an end tag; attributes).
fn tags(html: &str) -> Vec<(String, Attrs)> {
    let bytes = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(offset) = html[i..].find('<') {
        let start = i + offset + 1;
        let name_len = html[start..]
            .char_indices()
            .find(|&(k, c)| c.is_whitespace() || c == '>' || (c == '/' && k > 0))
            .map(|(k, _)| k)
            .unwrap_or(html.len() - start);
        let name = html[start..start + name_len].to_ascii_lowercase();
        let mut j = start + name_len;
        let mut quote: Option<u8> = None;
        while j < bytes.len() {
            let c = bytes[j];
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == b'"' || c == b'\'' => quote = Some(c),
                None if c == b'>' => break,
                None => {}
            }
            j += 1;
        }
        out.push((name, parse_attrs(&html[start + name_len..j.min(bytes.len())])));
        i = (j + 1).min(html.len());
    }
    out
}

/// The forms of an HTML page.
pub fn parse_forms(html: &str) -> Vec<Form> {
    let mut forms: Vec<Form> = Vec::new();
    let mut open = false;
    for (name, attrs) in tags(html) {
        match name.as_str() {
            "form" => {
                open = true;
                forms.push(Form {
                    method: attr(&attrs, "method").unwrap_or("get").to_ascii_lowercase(),
                    action: attr(&attrs, "action").unwrap_or("").to_owned(),
                    ..Form::default()
                });
            }
            "/form" => open = false,
            "input" if open => forms.last_mut().expect("form").inputs.push(attrs),
            "button" if open => forms.last_mut().expect("form").buttons.push(attrs),
            _ => {}
        }
    }
    forms
}

// ------------------------------------------------------------------------------------ browser

/// The user's browser: one cookie jar, no JavaScript, redirects followed by the caller.
pub struct Browser {
    base: String,
    cookies: BTreeMap<String, String>,
}

/// What the consent step saw and where the server sent the browser at its end.
pub struct Consented {
    /// The groups the consent page offered (all ticked as rendered).
    pub offered: Vec<String>,
    /// The durations the consent page offered.
    pub durations: Vec<String>,
    /// The app's redirect URI with `code` (or `error`), `state` and `iss`.
    pub redirect: String,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        Self { base: base.trim_end_matches('/').to_owned(), cookies: BTreeMap::new() }
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") { location.to_owned() } else { format!("{}{location}", self.base) }
    }

    fn send(&mut self, method: &str, url: &str, body: Option<&str>) -> Response {
        let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let mut headers = vec![("Accept", "text/html")];
        if !cookie.is_empty() {
            headers.push(("Cookie", cookie.as_str()));
        }
        if body.is_some() {
            headers.push(("Content-Type", "application/x-www-form-urlencoded"));
            headers.push(("Origin", self.base.as_str()));
        }
        let response = request(method, url, &headers, body.map(str::as_bytes));
        for (name, value) in &response.headers {
            if name.eq_ignore_ascii_case("set-cookie") {
                let pair = value.split(';').next().unwrap_or("");
                if let Some((k, v)) = pair.split_once('=') {
                    self.cookies.insert(k.trim().to_owned(), v.trim().to_owned());
                }
            }
        }
        response
    }

    fn only_form(page: &str, action: &str) -> Form {
        let mut forms: Vec<Form> = parse_forms(page).into_iter().filter(|f| f.action == action).collect();
        assert_eq!(forms.len(), 1, "expected one form posting to {action}: {}", &page[..page.len().min(3000)]);
        let form = forms.remove(0);
        assert_eq!(form.method, "post", "{form:?}");
        form
    }

    /// Opens `auth_url`, signs in as `username`, and on the consent page leaves ticked only the
    /// offered groups `keep` accepts, picks `duration` and allows. Returns where the server
    /// redirected the browser (not fetched).
    pub fn sign_in_and_consent(
        &mut self,
        auth_url: &str,
        username: &str,
        password: &str,
        keep: impl Fn(&str) -> bool,
        duration: &str,
    ) -> Consented {
        assert!(auth_url.starts_with(&format!("{}/", self.base)), "the URL is the server's: {auth_url}");
        let page = self.send("GET", auth_url, None);
        assert_eq!(page.status, 200, "the authorization URL shows the sign-in page: {}", page.text());
        assert!(page.header("content-type").is_some_and(|t| t.starts_with("text/html")), "{:?}", page.headers);
        let login = Self::only_form(&page.text(), "/o/oauth2/v2/login");
        let names: Vec<&str> = login.inputs.iter().filter_map(|i| attr(i, "name")).collect();
        assert!(names.contains(&"username") && names.contains(&"password"), "{names:?}");
        let mut fields = login.hidden();
        fields.push(("username".into(), username.into()));
        fields.push(("password".into(), password.into()));
        let signed_in = self.send("POST", &self.absolute(&login.action), Some(&form_encode(&fields)));
        assert_eq!(signed_in.status, 303, "sign-in redirects to consent: {}", signed_in.text());
        let consent_url = self.absolute(signed_in.header("location").expect("location"));
        assert!(consent_url.contains("/o/oauth2/v2/consent?request="), "{consent_url}");

        let page = self.send("GET", &consent_url, None);
        assert_eq!(page.status, 200, "the consent page: {}", page.text());
        let consent = Self::only_form(&page.text(), "/o/oauth2/v2/consent");
        let boxes = consent.inputs_named("group");
        assert!(!boxes.is_empty(), "the consent page offers groups: {consent:?}");
        for b in &boxes {
            assert_eq!(attr(b, "type"), Some("checkbox"), "{b:?}");
            assert!(has_attr(b, "checked"), "every requested group is ticked as rendered: {b:?}");
        }
        let offered: Vec<String> = boxes.iter().filter_map(|b| attr(b, "value")).map(str::to_owned).collect();
        let durations: Vec<String> =
            consent.inputs_named("duration").iter().filter_map(|r| attr(r, "value")).map(str::to_owned).collect();
        assert!(durations.iter().any(|d| d == duration), "{duration} is offered: {durations:?}");
        let actions: Vec<&str> = consent
            .buttons
            .iter()
            .filter(|b| attr(b, "name") == Some("action"))
            .filter_map(|b| attr(b, "value"))
            .collect();
        assert!(actions.contains(&"allow"), "{actions:?}");
        let mut fields = consent.hidden();
        fields.extend(offered.iter().filter(|g| keep(g)).map(|g| ("group".to_owned(), g.clone())));
        fields.push(("duration".into(), duration.into()));
        fields.push(("action".into(), "allow".into()));
        let answered = self.send("POST", &self.absolute(&consent.action), Some(&form_encode(&fields)));
        assert_eq!(answered.status, 303, "consent redirects to the app: {}", answered.text());
        let redirect = answered.header("location").expect("location").to_owned();
        Consented { offered, durations, redirect }
    }
}

// ------------------------------------------------------------------------------------ dataportd

/// A `dataportd serve` process on a free loopback port, killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub port: u16,
    pub data: PathBuf,
    log: PathBuf,
    /// The `--catalogue` the server was given, which its admin commands need too.
    catalogue: Option<String>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `dataportd serve ARGS` (besides `--listen` and `--data-dir`) with its own data
    /// directory and waits until `/healthz` answers. A port taken between choosing and binding it
    /// is retried with another, up to five times.
    pub fn start(args: &[&str]) -> Self {
        let dir = tempdir();
        let data = dir.path().join("data");
        let log = dir.path().join("dataportd.log");
        let catalogue =
            args.iter().position(|a| *a == "--catalogue").and_then(|i| args.get(i + 1)).map(|c| (*c).to_owned());
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(dataportd_bin())
                .arg("serve")
                .args(args)
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--data-dir")
                .arg(&data)
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log"))
                .spawn()
                .expect("dataportd starts");
            let base = format!("http://127.0.0.1:{port}");
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut exited = false;
            for _ in 0..3000 {
                if try_request("GET", &format!("{base}/healthz"), &[], None).is_ok_and(|r| r.status == 200) {
                    return Self { child, base, port, data, log, catalogue, _dir: dir };
                }
                if child.try_wait().expect("wait").is_some() {
                    exited = true;
                    break;
                }
                assert!(Instant::now() < deadline, "dataportd did not become healthy: {}", read(&log));
                std::thread::sleep(Duration::from_millis(20));
            }
            let text = read(&log);
            assert!(exited && text.contains("cannot listen"), "dataportd exited at start: {text}");
        }
        panic!("dataportd: no free port in five tries");
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        read(&self.log)
    }

    fn admin(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut child = Command::new(dataportd_bin())
            .arg("admin")
            .args(args)
            .arg("--data-dir")
            .arg(&self.data)
            .args(self.catalogue.iter().flat_map(|c| ["--catalogue", c.as_str()]))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("dataportd admin");
        {
            let mut input = child.stdin.take().expect("stdin");
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).expect("stdin");
            }
        }
        let out = child.wait_with_output().expect("admin output");
        assert!(out.status.success(), "dataportd admin {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf8").trim().to_owned()
    }

    /// A fresh access token of `user` for the client `cli-tests` with `resources`
    /// (comma-separated) and `access` (one-time, 30d, 180d), from `dataportd admin token`.
    pub fn admin_token(&self, user: &str, resources: &str, access: &str) -> String {
        self.admin(
            &["token", "--user", user, "--client", "cli-tests", "--resources", resources, "--access", access],
            None,
        )
    }

    /// Creates a user who signs in with `password` and whose data is selected by `subject`.
    pub fn add_user(&self, username: &str, subject: &str, password: &str) {
        self.admin(&["user", "add", "--username", username, "--subject", subject], Some(&format!("{password}\n")));
    }

    /// A job's state, asked with `token`.
    pub fn state(&self, token: &str, job: &str) -> Value {
        let reply = get(&format!("{}/v1/archiveJobs/{job}/portabilityArchiveState", self.base), Some(token));
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()
    }

    /// The signed URLs of a COMPLETE job, pointed at this server directly (whatever
    /// `--public-url` says).
    pub fn urls(&self, token: &str, job: &str) -> Vec<String> {
        let state = self.state(token, job);
        assert_eq!(state["state"], "COMPLETE", "{state}");
        state["urls"]
            .as_array()
            .expect("urls")
            .iter()
            .map(|u| {
                let url = u.as_str().expect("url");
                let (_, path) = split_url(url);
                format!("{}{path}", self.base)
            })
            .collect()
    }

    /// The `Portability/manifest.json` of a COMPLETE job, read from its index part (the last).
    pub fn manifest(&self, token: &str, job: &str) -> Value {
        let urls = self.urls(token, job);
        let index = get(urls.last().expect("an index part"), None);
        assert_eq!(index.status, 200);
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(index.body)).expect("index zip");
        let mut text = String::new();
        zip.by_name("Portability/manifest.json").expect("manifest").read_to_string(&mut text).expect("read");
        serde_json::from_str(&text).expect("manifest json")
    }

    /// The sizes of a COMPLETE job's parts (from `Content-Range` of one-byte range requests).
    pub fn part_sizes(&self, token: &str, job: &str) -> Vec<u64> {
        self.urls(token, job)
            .iter()
            .map(|url| {
                let reply = request("GET", url, &[("Range", "bytes=0-0")], None);
                assert_eq!(reply.status, 206, "{:?}", reply.headers);
                let range = reply.header("content-range").expect("content-range");
                range.rsplit('/').next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{range}"))
            })
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

// ------------------------------------------------------------------------------------ dataport

/// A user of the CLI: a private home and config directory, and an environment from which
/// nothing of the machine's dataport settings or proxies leaks in.
pub struct Cli {
    pub config: PathBuf,
    pub home: tempfile::TempDir,
}

/// A finished `dataport` run.
#[derive(Debug)]
pub struct Run {
    /// The exit code; -1 when killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub args: Vec<String>,
}

impl Run {
    /// stdout as exactly one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!("stdout of `dataport {}` is not one JSON document ({e}): {self}", self.args.join(" "))
        })
    }

    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "exit code of `dataport {}`: {self}", self.args.join(" "));
        self
    }

    /// With `--json`, a failure's document: `{"error": {"code", "kind", "message", "status"?,
    /// "reason"?}}` with `code` equal to the exit code.
    pub fn error_doc(&self, code: i32, kind: &str) -> Value {
        self.assert_code(code);
        let doc = self.json();
        let error = &doc["error"];
        assert!(error.is_object(), "an error document: {doc}");
        assert_eq!(error["code"], code, "error.code is the exit code: {doc}");
        assert_eq!(error["kind"], kind, "error.kind: {doc}");
        let message = error["message"].as_str().unwrap_or_else(|| panic!("error.message is a string: {doc}"));
        assert!(!message.trim().is_empty(), "{doc}");
        for key in ["status", "reason"] {
            assert!(error.get(key).is_none_or(|v| v.is_string() || v.is_null()), "error.{key} is a string: {doc}");
        }
        let allowed = ["code", "kind", "message", "status", "reason"];
        for key in error.as_object().expect("object").keys() {
            assert!(allowed.contains(&key.as_str()), "unexpected error.{key}: {doc}");
        }
        doc
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

impl Cli {
    pub fn new() -> Self {
        let home = tempdir();
        let config = home.path().join("config").join("dataport");
        Self { config, home }
    }

    /// `dataport ARGS` with the sanitised environment (no `--config-dir` added).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(dataport_bin());
        command.args(args);
        self.sanitise(&mut command);
        command
    }

    /// Gives `command` this user's home and an environment without the machine's dataport
    /// settings and proxies.
    pub fn sanitise(&self, command: &mut Command) {
        for var in [
            "DATAPORT_TOKEN",
            "DATAPORT_PROFILE",
            "DATAPORT_CONFIG_DIR",
            "DATAPORT_API",
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
            "RUST_LOG",
        ] {
            command.env_remove(var);
        }
        command
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("xdg"))
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env("BROWSER", "true")
            .current_dir(self.home.path())
            .stdin(Stdio::null());
    }

    /// `dataport ARGS --config-dir CONFIG`, as a process still running.
    pub fn spawn(&self, args: &[&str]) -> Running {
        let mut all: Vec<&str> = args.to_vec();
        let config = self.config.to_str().expect("utf8 path");
        all.extend(["--config-dir", config]);
        Running::spawn(self.command(&all), &all)
    }

    /// `dataport ARGS --config-dir CONFIG`, waited for (at most `timeout`).
    pub fn run_for(&self, args: &[&str], timeout: Duration) -> Run {
        self.spawn(args).finish(timeout)
    }

    /// `dataport ARGS --config-dir CONFIG`, waited for (at most 180 s).
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_for(args, Duration::from_secs(180))
    }

    /// `dataport pull` with a bearer token: `--token TOKEN --api API --resources RESOURCES --out
    /// OUT`, then `extra`.
    pub fn pull(&self, token: &str, api: &str, resources: &str, out: &str, extra: &[&str]) -> Run {
        let mut args = vec!["pull", "--token", token, "--api", api, "--resources", resources, "--out", out];
        args.extend(extra);
        self.run(&args)
    }

    /// `dataport ARGS` exactly as given (still the sanitised environment), at most 60 s.
    pub fn run_raw(&self, args: &[&str]) -> Run {
        Running::spawn(self.command(args), args).finish(Duration::from_secs(60))
    }

    /// Signs in with `dataport login --no-browser --json` for `resources`, playing the browser:
    /// the user `username` leaves ticked the groups `keep` accepts and picks `duration`. Returns
    /// the login's run, the authorization URL it printed and what the consent step saw.
    pub fn login(
        &self,
        server: &Server,
        resources: &str,
        (username, password): (&str, &str),
        keep: impl Fn(&str) -> bool,
        duration: &str,
    ) -> (Run, String, Consented) {
        let running =
            self.spawn(&["login", "--server", &server.base, "--resources", resources, "--no-browser", "--json"]);
        const PROMPT: &str = "Open this URL to sign in: ";
        let url = running.wait_stderr_line(PROMPT, Duration::from_secs(60));
        let mut browser = Browser::new(&server.base);
        let consented = browser.sign_in_and_consent(&url, username, password, keep, duration);
        assert!(
            consented.redirect.starts_with("http://127.0.0.1:"),
            "to the CLI's loopback listener: {}",
            consented.redirect
        );
        let landed = request("GET", &consented.redirect, &[("Accept", "text/html")], None);
        assert!(landed.status < 400, "the CLI's listener answers the browser: {} {}", landed.status, landed.text());
        let run = running.finish(Duration::from_secs(60));
        (run, url, consented)
    }
}

/// A `dataport` process whose stdout and stderr are collected as they come.
pub struct Running {
    pub child: Child,
    args: Vec<String>,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

fn collect(mut source: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        // Bounded by the pipe: it ends when the process (and anything holding the pipe) exits.
        while let Ok(n) = source.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().expect("lock").extend_from_slice(&buf[..n]);
        }
    })
}

impl Running {
    pub fn spawn(mut command: Command, args: &[&str]) -> Self {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("dataport starts");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().expect("stdout"), stdout.clone()),
            collect(child.stderr.take().expect("stderr"), stderr.clone()),
        ];
        Self { child, args: args.iter().map(|s| (*s).to_owned()).collect(), stdout, stderr, readers }
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().expect("lock")).into_owned()
    }

    /// Waits for a stderr line starting with `prefix`; returns the rest of it.
    pub fn wait_stderr_line(&self, prefix: &str, timeout: Duration) -> String {
        wait_for(
            timeout,
            Duration::from_millis(20),
            &format!("a stderr line {prefix:?}"),
            || self.stderr_text().lines().find_map(|l| l.strip_prefix(prefix).map(|u| u.trim().to_owned())),
            || self.stderr_text(),
        )
    }

    pub fn exited(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_some()
    }

    /// SIGKILL, then the output so far.
    pub fn kill(mut self) -> Run {
        let _ = self.child.kill();
        self.finish(Duration::from_secs(30))
    }

    /// Waits (at most `timeout`, then kills it and fails) for the process to end.
    pub fn finish(mut self, timeout: Duration) -> Run {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "`dataport {}` still running after {timeout:?}\n--- stdout\n{}\n--- stderr\n{}",
                    self.args.join(" "),
                    String::from_utf8_lossy(&self.stdout.lock().expect("lock")),
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let readers_deadline = Instant::now() + Duration::from_secs(10);
        for _ in 0..1000 {
            if self.readers.iter().all(JoinHandle::is_finished) || Instant::now() >= readers_deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let code = status.code().unwrap_or(-1);
        Run {
            code,
            stdout: String::from_utf8_lossy(&self.stdout.lock().expect("lock")).into_owned(),
            stderr: self.stderr_text(),
            args: self.args.clone(),
        }
    }
}

// ------------------------------------------------------------------------------------ proxy

/// A TCP proxy on 127.0.0.1 in front of a server, counting the bytes the server sent through
/// it (those the proxy handed to the client's connection). While paused it forwards nothing
/// from the server, so that what it already handed over can drain into the client.
pub struct CountingProxy {
    pub port: u16,
    upstream: Arc<AtomicU16>,
    served: Arc<AtomicU64>,
    paused: Arc<AtomicBool>,
    /// Bytes per second each connection's server-to-client direction is held to (0: no limit).
    rate: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    heads: Arc<Mutex<Vec<String>>>,
}

/// How long the proxy lives at most, and its per-connection read timeout.
const PROXY_LIFETIME: Duration = Duration::from_secs(900);

impl CountingProxy {
    /// Listens now; forwards to the port set with [`Self::forward_to`].
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let proxy = Self {
            port,
            upstream: Arc::new(AtomicU16::new(0)),
            served: Arc::new(AtomicU64::new(0)),
            paused: Arc::new(AtomicBool::new(false)),
            rate: Arc::new(AtomicU64::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
            heads: Arc::new(Mutex::new(Vec::new())),
        };
        let (upstream, served, paused, rate, stop, heads) = (
            proxy.upstream.clone(),
            proxy.served.clone(),
            proxy.paused.clone(),
            proxy.rate.clone(),
            proxy.stop.clone(),
            proxy.heads.clone(),
        );
        std::thread::spawn(move || {
            let started = Instant::now();
            while !stop.load(Ordering::SeqCst) && started.elapsed() < PROXY_LIFETIME {
                match listener.accept() {
                    Ok((client, _)) => {
                        let port = upstream.load(Ordering::SeqCst);
                        let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else { continue };
                        let counters = (served.clone(), paused.clone(), rate.clone());
                        Self::relay(client, server, counters, heads.clone());
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        proxy
    }

    fn relay(
        client: TcpStream,
        server: TcpStream,
        (served, paused, rate): (Arc<AtomicU64>, Arc<AtomicBool>, Arc<AtomicU64>),
        heads: Arc<Mutex<Vec<String>>>,
    ) {
        let _ = client.set_nonblocking(false);
        for s in [&client, &server] {
            let _ = s.set_read_timeout(Some(PROXY_LIFETIME));
            let _ = s.set_nodelay(true);
        }
        let (mut client_read, mut server_write) =
            (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
        // Whether the client has gone (closed or reset its connection).
        let gone = Arc::new(AtomicBool::new(false));
        let client_gone = gone.clone();
        // Client to server: forwarded as is; the head of each request is kept for messages.
        std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while let Ok(n) = client_read.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]);
                if let Some(head) = text.split("\r\n\r\n").next().filter(|h| h.contains(" HTTP/1.1")) {
                    heads.lock().expect("lock").push(head.to_owned());
                }
                if server_write.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            client_gone.store(true, Ordering::SeqCst);
            let _ = server_write.shutdown(std::net::Shutdown::Write);
        });
        let (mut server_read, mut client_write) = (server, client);
        std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            let (started, mut sent) = (Instant::now(), 0u64);
            while let Ok(n) = server_read.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let limit = rate.load(Ordering::SeqCst);
                if limit > 0 {
                    let due = Duration::from_secs_f64(sent as f64 / limit as f64);
                    std::thread::sleep(due.saturating_sub(started.elapsed()).min(Duration::from_secs(10)));
                }
                sent += n as u64;
                let paused_at = Instant::now();
                while paused.load(Ordering::SeqCst) && paused_at.elapsed() < PROXY_LIFETIME {
                    std::thread::sleep(Duration::from_millis(5));
                }
                // A client killed during a pause: what was held back is never sent (a write to
                // its closed socket may still succeed once, and would be counted).
                if gone.load(Ordering::SeqCst) {
                    break;
                }
                if client_write.write_all(&buf[..n]).is_err() {
                    break;
                }
                served.fetch_add(n as u64, Ordering::SeqCst);
            }
            let _ = client_write.shutdown(std::net::Shutdown::Both);
        });
    }

    pub fn forward_to(&self, port: u16) {
        self.upstream.store(port, Ordering::SeqCst);
    }

    /// Bytes the server sent through the proxy so far (HTTP heads included).
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }

    /// Holds each connection's download to `bytes_per_second` (0: as fast as it goes).
    pub fn throttle(&self, bytes_per_second: u64) {
        self.rate.store(bytes_per_second, Ordering::SeqCst);
    }

    pub fn pause(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    /// The heads of the requests sent through the proxy so far.
    pub fn request_heads(&self) -> Vec<String> {
        self.heads.lock().expect("lock").clone()
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.paused.store(false, Ordering::SeqCst);
    }
}

// ------------------------------------------------------------------------------------ files

/// Every file below `dir`, recursively (symbolic links are listed, not followed).
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(files_below(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The SHA-256 of a file, in hex.
pub fn sha256_file(path: &Path) -> String {
    let mut file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hex::encode(hasher.finalize())
}

/// Checks each file a manifest lists against the file extracted below `out` (its size and
/// SHA-256); returns how many it checked.
pub fn verify_extracted(out: &Path, manifest: &Value) -> usize {
    let files = manifest["files"].as_array().unwrap_or_else(|| panic!("manifest files: {manifest}"));
    for file in files {
        let path = file["path"].as_str().expect("path");
        let local = out.join(path);
        let meta = std::fs::metadata(&local).unwrap_or_else(|e| panic!("{} extracted: {e}", local.display()));
        assert_eq!(meta.len(), file["size"].as_u64().expect("size"), "size of {path}");
        assert_eq!(sha256_file(&local), file["sha256"].as_str().expect("sha256"), "SHA-256 of {path}");
    }
    files.len()
}

/// The file mode's permission bits.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// Every occurrence in `text` of a dataport token (`dpa_…` access, `dpr_…` refresh).
pub fn tokens_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in ["dpa_", "dpr_"] {
        for (i, _) in text.match_indices(prefix) {
            let token: String =
                text[i..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
            if token.len() > prefix.len() + 8 {
                out.push(token);
            }
        }
    }
    out
}
