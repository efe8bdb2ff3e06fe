//! Operator data sources (SPEC §5.1, issue 9) end to end: a catalogue file binds groups to a real
//! PostgreSQL database (a fresh one on the test server), a real HTTP service (a small server this
//! test starts) and a directory of photos; exports select the right user's data only, honour the
//! time window, and write files that Python's own `json`, `csv` and `zipfile` read back equal to
//! the source.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dataport_core::consent::Duration as Access;
use dataport_core::testing;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

use crate::harness::{Backend, TestApp, download_all, manifest_of};

/// What Python's own readers make of `path` in the archive: `json.loads` (numbers as `Decimal`,
/// printed as their exact text), one `json.loads` per NDJSON line, or `csv.DictReader` rows.
fn python_reads(parts: &[Vec<u8>], path: &str, format: &str) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, part) in parts.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i}.zip")), part).expect("write part");
    }
    let script = r#"
import csv, decimal, glob, io, json, sys, zipfile
path, fmt = sys.argv[1], sys.argv[2]
for name in sorted(glob.glob(sys.argv[3] + "/*.zip")):
    with zipfile.ZipFile(name) as z:
        if path in z.namelist():
            text = z.read(path).decode("utf-8")
            break
else:
    sys.exit("no " + path)
def plain(v):
    if isinstance(v, decimal.Decimal): return str(v)
    if isinstance(v, list): return [plain(x) for x in v]
    if isinstance(v, dict): return {k: plain(x) for k, x in v.items()}
    return v
num = dict(parse_float=decimal.Decimal, parse_int=decimal.Decimal)
if fmt == "json": rows = json.loads(text, **num)
elif fmt == "ndjson": rows = [json.loads(line, **num) for line in text.splitlines() if line]
else: rows = list(csv.DictReader(io.StringIO(text, newline="")))
print(json.dumps(plain(rows)))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, path, format])
        .arg(dir.path())
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("python's json")
}

/// A server on the test's backend whose catalogue is `catalogue` (TOML).
async fn app_with_catalogue(
    catalogue: &str,
    tweak: impl FnOnce(&mut dataport_core::Config),
) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("catalogue.toml");
    std::fs::write(&path, catalogue).expect("catalogue");
    let app = TestApp::spawn_on(Backend::for_test().await, |c| {
        c.catalogue_path = Some(path);
        c.quota.cooldown_seconds = 0;
        tweak(c);
    })
    .await;
    (app, dir)
}

/// Exports `groups` for `user` (its subject is set by `subject`) and returns the archive's parts.
async fn export(app: &TestApp, user: &str, client: &str, groups: &[&str], body: Value) -> (Value, Vec<Vec<u8>>) {
    let token = app.token(user, client, groups, Access::Days30).await;
    let id = app.initiate(&token, &body.to_string()).await;
    let state = app.wait_done(&token, &id, Duration::from_secs(60)).await;
    assert_eq!(state["state"], "COMPLETE", "{state}");
    let parts = download_all(app, &state).await;
    (state, parts)
}

fn group(name: &str, folder: &str, format: &str, file: &str, time_filter: bool, source: &str) -> String {
    format!(
        "[[group]]\nname = \"{name}\"\ntitle = \"{name} title\"\ndescription = \"Move a copy of your {name}\"\n\
         time_filter = {time_filter}\naccess_types = [\"one-time\", \"time-based\"]\nfolder = \"{folder}\"\n\
         format = \"{format}\"\nfile = \"{file}\"\n[group.source]\n{source}\n"
    )
}

// ------------------------------------------------------------------------------------------ sql

const SCHEMA: &str = "CREATE TABLE notes (id bigint PRIMARY KEY, owner text NOT NULL, title text, \
    amount numeric(30,10), created_at timestamptz NOT NULL, photo bytea, meta jsonb, done boolean)";
/// A subject made of quotes and SQL, which must select only its own rows.
const NASTY: &str = "o'brien\"; DELETE FROM notes; --";

async fn notes_database() -> Option<(String, PgConnection)> {
    let server = testing::service(testing::POSTGRES_URL_VAR, "the SQL source tests")?;
    let url = testing::fresh_postgres_database(&server).await;
    let mut db = PgConnection::connect(&url).await.expect("connect");
    sqlx::query(SCHEMA).execute(&mut db).await.expect("schema");
    let rows = [
        (
            1,
            "alice",
            Some("Groceries, \"milk\"\nand bread"),
            "12345678901234567890.1234567890",
            "2024-01-01T10:00:00Z",
            Some(&b"\x00\xffjpeg"[..]),
            Some(r#"{"tags": ["a", "b"], "n": 1}"#),
            Some(true),
        ),
        (2, "alice", None, "-0.5000000000", "2024-03-01T12:30:00.25Z", None, None, None),
        (3, "bob", Some("Bob's note"), "1.0000000000", "2024-02-01T00:00:00Z", None, None, Some(false)),
        (4, NASTY, Some("Nasty's note"), "2.0000000000", "2024-02-02T00:00:00Z", None, None, Some(true)),
    ];
    for (id, owner, title, amount, at, photo, meta, done) in rows {
        sqlx::query("INSERT INTO notes VALUES ($1, $2, $3, $4::numeric, $5::timestamptz, $6, $7::jsonb, $8)")
            .bind(id as i64)
            .bind(owner)
            .bind(title)
            .bind(amount)
            .bind(at)
            .bind(photo)
            .bind(meta)
            .bind(done)
            .execute(&mut db)
            .await
            .expect("insert");
    }
    Some((url, db))
}

fn sql_source(url: &str, table: &str) -> String {
    format!(
        "kind = \"sql\"\ndatabase = \"{url}\"\nquery = \"SELECT id, title, amount, created_at, photo, meta, done \
         FROM {table} WHERE owner = :subject\"\ntime_column = \"created_at\""
    )
}

fn sql_catalogue(url: &str) -> String {
    ["json", "ndjson", "csv"]
        .iter()
        .map(|f| {
            group(
                &format!("notes.{f}"),
                &format!("Notes/{f}"),
                f,
                &format!("notes.{f}"),
                true,
                &sql_source(url, "notes"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_rows_of_one_user_in_json_ndjson_and_csv_read_back_equal() {
    let Some((url, _db)) = notes_database().await else { return };
    let (app, _dir) = app_with_catalogue(&sql_catalogue(&url), |_| {}).await;
    let groups = ["notes.json", "notes.ndjson", "notes.csv"];
    let (_, parts) = export(&app, "alice", "importer", &groups, json!({ "resources": groups })).await;
    let alice = json!([
        {"id": "1", "title": "Groceries, \"milk\"\nand bread", "amount": "12345678901234567890.1234567890",
         "created_at": "2024-01-01T10:00:00Z", "photo": "AP9qcGVn", "meta": {"n": "1", "tags": ["a", "b"]}, "done": true},
        {"id": "2", "title": null, "amount": "-0.5000000000", "created_at": "2024-03-01T12:30:00.250Z",
         "photo": null, "meta": null, "done": null}
    ]);
    assert_eq!(python_reads(&parts, "Portability/Notes/json/notes.json", "json"), alice);
    assert_eq!(python_reads(&parts, "Portability/Notes/ndjson/notes.ndjson", "ndjson"), alice);
    let csv = python_reads(&parts, "Portability/Notes/csv/notes.csv", "csv");
    assert_eq!(
        csv,
        json!([
            {"id": "1", "title": "Groceries, \"milk\"\nand bread", "amount": "12345678901234567890.1234567890",
             "created_at": "2024-01-01T10:00:00Z", "photo": "AP9qcGVn", "meta": "{\"n\": 1, \"tags\": [\"a\", \"b\"]}", "done": "true"},
            {"id": "2", "title": "", "amount": "-0.5000000000", "created_at": "2024-03-01T12:30:00.250Z",
             "photo": "", "meta": "", "done": ""}
        ])
    );

    // A subject of quotes and SQL selects its own row, and nothing else happens.
    app.core.add_user("nasty", Some(NASTY), "a long password").await.expect("user");
    let (_, parts) = export(&app, "nasty", "importer", &["notes.json"], json!({ "resources": ["notes.json"] })).await;
    let rows = python_reads(&parts, "Portability/Notes/json/notes.json", "json");
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["title"], "Nasty's note");
    let (_, parts) = export(&app, "alice", "other", &["notes.json"], json!({ "resources": ["notes.json"] })).await;
    assert_eq!(
        python_reads(&parts, "Portability/Notes/json/notes.json", "json").as_array().map(Vec::len),
        Some(2),
        "no row deleted"
    );
}

/// Three incremental exports with `startTime` = the previous `exportTime` and rows added between
/// them: together they hold every row exactly once (issue 9 item 5), for the SQL source.
#[tokio::test(flavor = "multi_thread")]
async fn incremental_sql_exports_neither_miss_nor_repeat_a_row() {
    let Some((url, mut db)) = notes_database().await else { return };
    let (app, _dir) = app_with_catalogue(&sql_catalogue(&url), |_| {}).await;
    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    for round in 0..3 {
        let body = match &start {
            Some(s) => json!({ "resources": ["notes.ndjson"], "startTime": s }),
            None => json!({ "resources": ["notes.ndjson"] }),
        };
        let (state, parts) = export(&app, "alice", "inc", &["notes.ndjson"], body).await;
        for row in python_reads(&parts, "Portability/Notes/ndjson/notes.ndjson", "ndjson").as_array().expect("rows") {
            seen.push(row["id"].as_str().expect("id").to_owned());
        }
        start = Some(state["exportTime"].as_str().expect("exportTime").to_owned());
        // Rows made between this export and the next one, by the database's clock.
        for i in 0..3 {
            sqlx::query("INSERT INTO notes (id, owner, title, created_at) VALUES ($1, 'alice', 'new', now())")
                .bind(100 + round * 10 + i)
                .execute(&mut db)
                .await
                .expect("insert");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no row twice: {seen:?}");
    let expected: BTreeSet<String> =
        ["1", "2", "100", "101", "102", "110", "111", "112"].iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(unique.into_iter().cloned().collect::<BTreeSet<_>>(), expected, "every row of the first three rounds");
}

/// A source that fails fails the job with its reason (shown by `/x/v1/archiveJobs/{id}`) and
/// leaves nothing downloadable; `:retry` once the fault is fixed completes it.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_source_fails_the_job_and_retry_completes_it_once_fixed() {
    let Some((url, mut db)) = notes_database().await else { return };
    let catalogue = group("notes.late", "Notes", "json", "notes.json", true, &sql_source(&url, "late_notes"));
    let (app, _dir) = app_with_catalogue(&catalogue, |_| {}).await;
    let token = app.token("alice", "c", &["notes.late"], Access::OneTime).await;
    let id = app.initiate(&token, r#"{"resources":["notes.late"]}"#).await;
    let state = app.wait_done(&token, &id, Duration::from_secs(30)).await;
    assert_eq!(state["state"], "FAILED", "{state}");
    assert!(state.get("urls").is_none());
    let details = app.get(&format!("/x/v1/archiveJobs/{id}"), &token).await;
    assert_eq!(details.status, StatusCode::OK, "{}", details.text);
    let reason = details.json["failureReason"].as_str().expect("reason");
    // The table the query names is the operator's schema: the app is told the class only (#22 finding 2).
    assert_eq!(reason, "source query failed", "{reason}");
    assert_eq!(details.json["progress"]["groupsTotal"], 1);
    assert!(!app.job_output_exists(&id).await, "nothing partial stays");

    sqlx::query("CREATE TABLE late_notes AS SELECT * FROM notes").execute(&mut db).await.expect("fix");
    let retried = app.post(&format!("/v1/archiveJobs/{id}:retry"), &token, "{}").await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text);
    let retry = retried.json["archiveJobId"].as_str().expect("id").to_owned();
    let state = app.wait_done(&token, &retry, Duration::from_secs(30)).await;
    assert_eq!(state["state"], "COMPLETE", "{state}");
    let details = app.get(&format!("/x/v1/archiveJobs/{retry}"), &token).await;
    assert_eq!(details.json["retryOf"], id.as_str());
    assert_eq!(details.json["progress"]["records"], 2, "{}", details.text);
    assert_eq!(details.json["progress"]["groupsDone"], 1);
    assert!(details.json["progress"]["partsWritten"].as_u64() >= Some(2));
    let other = app.token("bob", "c", &["notes.late"], Access::OneTime).await;
    assert_eq!(app.get(&format!("/x/v1/archiveJobs/{retry}"), &other).await.status, StatusCode::NOT_FOUND, "E11");
}

// ----------------------------------------------------------------------------------------- http

/// The operator's service: comments of several users, two per page behind a cursor, failing
/// its first request with 503 and its second with 429 (Retry-After: 1). It ignores the window
/// parameters, so dataport must apply the window itself.
struct CommentService {
    base: String,
    comments: Arc<Mutex<Vec<Value>>>,
    requests: Arc<AtomicUsize>,
    /// While set, the second page answers 404 (a fault no retry cures).
    broken: Arc<std::sync::atomic::AtomicBool>,
}

impl CommentService {
    async fn start() -> Self {
        use axum::extract::{Query, State};
        use axum::response::IntoResponse;
        type Shared = (Arc<Mutex<Vec<Value>>>, Arc<AtomicUsize>, Arc<std::sync::atomic::AtomicBool>);
        async fn page(
            State((comments, requests, broken)): State<Shared>,
            headers: axum::http::HeaderMap,
            Query(query): Query<std::collections::HashMap<String, String>>,
        ) -> axum::response::Response {
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer s3cret") {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            match requests.fetch_add(1, Ordering::SeqCst) {
                0 => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
                1 => return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response(),
                _ => {}
            }
            let user = query.get("user").cloned().unwrap_or_default();
            let mine: Vec<Value> =
                comments.lock().expect("lock").iter().filter(|c| c["author"] == user.as_str()).cloned().collect();
            let from: usize = query.get("page_token").and_then(|t| t.parse().ok()).unwrap_or(0);
            if from > 0 && broken.load(Ordering::SeqCst) {
                return StatusCode::NOT_FOUND.into_response();
            }
            let items: Vec<Value> = mine.iter().skip(from).take(2).cloned().collect();
            let next = if from + 2 < mine.len() { json!((from + 2).to_string()) } else { json!("") };
            axum::Json(json!({ "items": items, "next_page_token": next })).into_response()
        }
        let comments = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let broken = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let router = axum::Router::new().route("/export/comments", axum::routing::get(page)).with_state((
            comments.clone(),
            requests.clone(),
            broken.clone(),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { base, comments, requests, broken }
    }

    fn add(&self, id: u32, author: &str, at: &str) {
        let comment =
            json!({ "id": id, "author": author, "text": format!("comment {id}, \"quoted\""), "created_at": at });
        self.comments.lock().expect("lock").push(comment);
    }

    fn catalogue(&self, format: &str) -> String {
        let source = format!(
            "kind = \"http\"\nurl = \"{}/export/comments?user={{subject}}\"\nheaders = {{ Authorization = \"Bearer s3cret\" }}\n\
             records = \"items\"\nnext = \"next_page_token\"\ncursor_param = \"page_token\"\ntime_field = \"created_at\"\n\
             start_param = \"since\"\nend_param = \"until\"",
            self.base
        );
        group("notes.comments", "Notes/Comments", format, &format!("comments.{format}"), true, &source)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn http_pages_of_one_user_are_retried_windowed_and_read_back_equal() {
    let service = CommentService::start().await;
    for (id, author, at) in [
        (1, "alice", "2024-01-01T00:00:00Z"),
        (2, "bob", "2024-01-02T00:00:00Z"),
        (3, "alice", "2024-01-03T00:00:00Z"),
        (4, "alice", "2024-01-04T00:00:00Z"),
        (5, "alice", "2099-01-01T00:00:00Z"),
    ] {
        service.add(id, author, at);
    }
    let (app, _dir) = app_with_catalogue(&service.catalogue("csv"), |_| {}).await;
    let (_, parts) = export(&app, "alice", "c", &["notes.comments"], json!({ "resources": ["notes.comments"] })).await;
    let rows = python_reads(&parts, "Portability/Notes/Comments/comments.csv", "csv");
    let ids: Vec<&str> = rows.as_array().expect("rows").iter().map(|r| r["id"].as_str().expect("id")).collect();
    assert_eq!(ids, ["1", "3", "4"], "alice's only, and none at or after exportTime (the 2099 one)");
    assert_eq!(rows[0]["text"], "comment 1, \"quoted\"");
    assert!(service.requests.load(Ordering::SeqCst) >= 4, "a 503 and a 429 were retried");
}

/// A source that breaks in the middle of an export (its first page written, its second a 404)
/// fails the job with its reason and leaves nothing downloadable; `:retry` once the service is
/// fixed completes it with every record.
#[tokio::test(flavor = "multi_thread")]
async fn a_source_failing_mid_export_leaves_nothing_and_retry_completes_it() {
    let service = CommentService::start().await;
    for id in 1..=5 {
        service.add(id, "alice", "2024-01-01T00:00:00Z");
    }
    service.broken.store(true, Ordering::SeqCst);
    let (app, _dir) = app_with_catalogue(&service.catalogue("json"), |_| {}).await;
    let token = app.token("alice", "c", &["notes.comments"], Access::OneTime).await;
    let id = app.initiate(&token, r#"{"resources":["notes.comments"]}"#).await;
    let state = app.wait_done(&token, &id, Duration::from_secs(30)).await;
    assert_eq!(state["state"], "FAILED", "{state}");
    assert!(state.get("urls").is_none());
    assert!(!app.job_output_exists(&id).await, "no partial archive");
    let details = app.get(&format!("/x/v1/archiveJobs/{id}"), &token).await;
    assert_eq!(details.json["failureReason"], "source answered 404 Not Found", "{}", details.text);
    service.broken.store(false, Ordering::SeqCst);
    let retried = app.post(&format!("/v1/archiveJobs/{id}:retry"), &token, "{}").await;
    let retry = retried.json["archiveJobId"].as_str().expect("retry").to_owned();
    let state = app.wait_done(&token, &retry, Duration::from_secs(30)).await;
    assert_eq!(state["state"], "COMPLETE", "{state}");
    let parts = download_all(&app, &state).await;
    assert_eq!(
        python_reads(&parts, "Portability/Notes/Comments/comments.json", "json").as_array().map(Vec::len),
        Some(5)
    );
}

/// The incremental test of issue 9 item 5 for the HTTP source.
#[tokio::test(flavor = "multi_thread")]
async fn incremental_http_exports_neither_miss_nor_repeat_a_record() {
    let service = CommentService::start().await;
    let (app, _dir) = app_with_catalogue(&service.catalogue("ndjson"), |_| {}).await;
    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    let mut next_id = 1;
    for _ in 0..3 {
        for _ in 0..3 {
            service.add(next_id, "alice", &dataport_types::Timestamp::now().to_string());
            next_id += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let body = match &start {
            Some(s) => json!({ "resources": ["notes.comments"], "startTime": s }),
            None => json!({ "resources": ["notes.comments"] }),
        };
        let (state, parts) = export(&app, "alice", "c", &["notes.comments"], body).await;
        for row in
            python_reads(&parts, "Portability/Notes/Comments/comments.ndjson", "ndjson").as_array().expect("rows")
        {
            seen.push(row["id"].as_str().expect("id").to_owned());
        }
        start = Some(state["exportTime"].as_str().expect("exportTime").to_owned());
    }
    let unique: BTreeSet<u32> = seen.iter().map(|s| s.parse().expect("n")).collect();
    assert_eq!(unique.len(), seen.len(), "no record twice: {seen:?}");
    assert_eq!(unique, (1..next_id).collect(), "every record");
}

// ---------------------------------------------------------------------------------------- files

/// Photos of one user with their listing: stored, not recompressed, and each listing in the same
/// part as the photos it lists, even with parts far smaller than the files.
#[tokio::test(flavor = "multi_thread")]
async fn photos_are_stored_beside_their_listing_in_one_part() {
    let photos = tempfile::tempdir().expect("tempdir");
    let alice = photos.path().join("alice/2024");
    std::fs::create_dir_all(&alice).expect("mkdir");
    for i in 0..3 {
        let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe0];
        jpeg.extend((0..50_000u32).map(|n| (n * 7 + i) as u8));
        jpeg.extend([0xff, 0xd9]);
        std::fs::File::create(alice.join(format!("photo{i}.jpg"))).and_then(|mut f| f.write_all(&jpeg)).expect("write");
    }
    std::fs::create_dir_all(photos.path().join("bob")).expect("mkdir");
    std::fs::write(photos.path().join("bob/bob.jpg"), b"bob").expect("write");
    let source = format!("kind = \"files\"\nroot = \"{}/{{subject}}\"", photos.path().display());
    let catalogue = format!(
        "{}{}",
        group("notes.photos", "Notes/Photos", "json", "files.json", false, &source),
        group("notes.more", "Notes/More", "json", "files.json", false, &source)
    );
    let (app, _dir) = app_with_catalogue(&catalogue, |c| c.archive.part_size = 10_000).await;
    let (_, parts) = export(&app, "alice", "c", &["notes.photos"], json!({ "resources": ["notes.photos"] })).await;
    let manifest = manifest_of(parts.last().expect("index"));
    let files = manifest["files"].as_array().expect("files");
    let part_of = |path: &str| files.iter().find(|f| f["path"] == path).map(|f| f["part"].clone());
    let listing_part = part_of("Portability/Notes/Photos/files.json").expect("listing");
    for i in 0..3 {
        let photo = format!("Portability/Notes/Photos/2024/photo{i}.jpg");
        assert_eq!(part_of(&photo), Some(listing_part.clone()), "{photo} beside its listing");
    }
    assert!(files.iter().all(|f| !f["path"].as_str().expect("path").contains("bob")));
    let listing = python_reads(&parts, "Portability/Notes/Photos/files.json", "json");
    assert_eq!(listing[0]["path"], "2024/photo0.jpg");
    let part = &parts[listing_part.as_u64().expect("part") as usize];
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(part)).expect("zip");
    let photo = zip.by_name("Portability/Notes/Photos/2024/photo0.jpg").expect("photo");
    assert_eq!(photo.compression(), zip::CompressionMethod::Stored, "media are stored");
    assert_eq!(photo.size(), 50_006);
}

/// The SQL source on SQLite: text timestamps become RFC 3339 UTC and bound the window, blobs
/// become base64, and only the subject's rows are read.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_rows_are_windowed_and_typed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notes.sqlite");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let mut db = <sqlx::SqliteConnection as Connection>::connect(&url).await.expect("sqlite");
    sqlx::query("CREATE TABLE notes (id INTEGER, owner TEXT, title TEXT, amount REAL, created_at TEXT, photo BLOB)")
        .execute(&mut db)
        .await
        .expect("schema");
    for (id, owner, at) in [
        (1, "alice", "2024-01-01 10:00:00"),
        (2, "alice", "2024-06-01T08:00:00Z"),
        (3, "bob", "2024-03-01 00:00:00"),
        (4, "alice", "2025-01-01 00:00:00"),
    ] {
        sqlx::query("INSERT INTO notes VALUES (?, ?, 'n', 1.5, ?, x'00ff')")
            .bind(id)
            .bind(owner)
            .bind(at)
            .execute(&mut db)
            .await
            .expect("insert");
    }
    db.close().await.expect("close");
    let source = format!(
        "kind = \"sql\"\ndatabase = \"sqlite://{}\"\nquery = \"SELECT id, title, amount, created_at, photo FROM notes WHERE owner = :subject\"\ntime_column = \"created_at\"",
        path.display()
    );
    let (app, _catalogue) =
        app_with_catalogue(&group("notes.lite", "Notes", "json", "notes.json", true, &source), |_| {}).await;
    let body =
        json!({ "resources": ["notes.lite"], "startTime": "2024-01-01T10:00:00Z", "endTime": "2025-01-01T00:00:00Z" });
    let (_, parts) = export(&app, "alice", "c", &["notes.lite"], body).await;
    let rows = python_reads(&parts, "Portability/Notes/notes.json", "json");
    assert_eq!(
        rows,
        json!([
            {"id": "1", "title": "n", "amount": "1.5", "created_at": "2024-01-01T10:00:00Z", "photo": "AP8="},
            {"id": "2", "title": "n", "amount": "1.5", "created_at": "2024-06-01T08:00:00Z", "photo": "AP8="}
        ]),
        "startTime inclusive, endTime exclusive, bob's row never"
    );
}

/// A misconfigured catalogue stops `dataportd serve` at start-up, naming the file, the key and
/// the problem (the whole list is unit-tested in `catalogue.rs`).
#[test]
fn a_bad_catalogue_stops_the_server_naming_file_key_and_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ops.toml");
    let source =
        "kind = \"sql\"\ndatabase = \"${DATAPORT_TEST_UNSET_VARIABLE}\"\nquery = \"SELECT 1 WHERE :subject = ''\"";
    std::fs::write(&path, group("notes.all", "Notes", "json", "notes.json", false, source)).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dataportd"))
        .args(["serve", "--no-demo", "--listen", "127.0.0.1:0", "--catalogue"])
        .arg(&path)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env_remove("DATAPORT_TEST_UNSET_VARIABLE")
        .output()
        .expect("dataportd");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "catalogue {}: group[0].source.database: environment variable DATAPORT_TEST_UNSET_VARIABLE is not set",
        path.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

/// The consent page shows the operator's titles and descriptions for their groups.
#[tokio::test(flavor = "multi_thread")]
async fn the_consent_page_shows_the_operators_titles_and_descriptions() {
    use crate::oauth::{Authorize, Browser, CHALLENGE, REDIRECT, client, sign_in, user};
    let photos = tempfile::tempdir().expect("tempdir");
    let mut catalogue = group(
        "notes.photos",
        "Notes/Photos",
        "json",
        "files.json",
        false,
        &format!("kind = \"files\"\nroot = \"{}/{{subject}}\"", photos.path().display()),
    );
    catalogue = catalogue.replace("title = \"notes.photos title\"", "title = \"Photos of your notes\"").replace(
        "description = \"Move a copy of your notes.photos\"",
        "description = \"Move a copy of the photos you attached to your notes\"",
    );
    let (app, _dir) = app_with_catalogue(&catalogue, |_| {}).await;
    user(&app, "alice", "correct horse battery").await;
    client(&app, "importer", None).await;
    let mut browser = Browser::new(&app);
    let request = Authorize {
        client_id: "importer",
        redirect_uri: REDIRECT,
        groups: &["notes.photos"],
        challenge: Some(CHALLENGE),
        extra: "",
    };
    let (_, signed_in) = sign_in(&mut browser, &request.path(), ("alice", "correct horse battery")).await;
    let page = browser.get(signed_in.location.as_deref().expect("to consent")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("Photos of your notes"), "{}", page.html);
    assert!(page.html.contains("Move a copy of the photos you attached to your notes"), "{}", page.html);
}

// --------------------------------------------------------------------------------------- custom

#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/custom_source.rs"]
mod custom_example;

/// The custom source of `examples/custom_source.rs`, unit-tested against `MemorySink` as its
/// documentation tells operators to, then served through a catalogue's `kind = "custom"` group.
#[tokio::test(flavor = "multi_thread")]
async fn a_custom_source_is_tested_in_memory_and_served_by_name() {
    use dataport_core::sources::{DataSource, ExportRequest, MemorySink};
    let catalogue = group(
        "garden.harvests",
        "Garden/Harvests",
        "ndjson",
        "harvests.ndjson",
        true,
        "kind = \"custom\"\nname = \"harvests\"",
    );
    let parsed = dataport_core::catalogue::Catalogue::parse(&catalogue, "test").expect("catalogue");
    let cancelled = std::sync::atomic::AtomicBool::new(false);
    let request = ExportRequest {
        subject: "alice",
        start_time: Some(dataport_types::Timestamp::parse("2024-02-01T00:00:00Z").expect("t")),
        export_time: dataport_types::Timestamp::parse("2024-03-01T00:00:00Z").expect("t"),
        cancelled: &cancelled,
    };
    let mut sink = MemorySink::default();
    custom_example::Harvests.export(&parsed.groups()[0], &request, &mut sink).expect("export");
    assert_eq!(sink.file("harvests.ndjson").expect("file").records.len(), 4, "the February weeks");

    let (app, _dir) = {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("catalogue.toml");
        std::fs::write(&path, &catalogue).expect("write");
        let app = TestApp::spawn_with_sources(Backend::for_test().await, custom_example::sources(), |c| {
            c.catalogue_path = Some(path);
        })
        .await;
        (app, dir)
    };
    let (_, parts) =
        export(&app, "alice", "c", &["garden.harvests"], json!({ "resources": ["garden.harvests"] })).await;
    let rows = python_reads(&parts, "Portability/Garden/Harvests/harvests.ndjson", "ndjson");
    assert_eq!(rows.as_array().map(Vec::len), Some(104));
    assert_eq!(rows[0]["what"], "alice's harvest of week 0");

    let unknown = group("x.y", "X", "json", "x.json", false, "kind = \"custom\"\nname = \"nobody\"");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("c.toml"), unknown).expect("write");
    let mut config = dataport_core::Config::new(dir.path());
    config.catalogue_path = Some(dir.path().join("c.toml"));
    let refused = dataport_core::Dataport::open(config).await.err().expect("refused").to_string();
    assert!(refused.contains("x.y") && refused.contains("\"nobody\" is not a custom source"), "{refused}");
}

// -------------------------------------------------------------------------------------- example

/// `examples/operator/` runs end to end as its README section says (issue 9 item 9): the app's
/// schema and seed loaded into a fresh PostgreSQL database, `dataportd` started on its catalogue,
/// alice's export downloaded, checked against the manifest, and free of bob's data.
#[tokio::test(flavor = "multi_thread")]
async fn the_operator_example_runs_end_to_end() {
    let Some(server) = testing::service(testing::POSTGRES_URL_VAR, "the operator example") else { return };
    let database = testing::fresh_postgres_database(&server).await;
    let work = tempfile::tempdir().expect("tempdir");
    let mut run = std::process::Command::new("bash");
    run.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/operator/run.sh"))
        .env("NOTES_DATABASE_URL", &database)
        .env("DATAPORTD", env!("CARGO_BIN_EXE_dataportd"))
        .env("WORK_DIR", work.path());
    let out = tokio::task::spawn_blocking(move || run.output()).await.expect("join").expect("run.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("Exported alice (subject u-1001)") && stdout.contains("every SHA-256 verified"),
        "{stdout}"
    );
    let summary: Value =
        serde_json::from_slice(&std::fs::read(work.path().join("summary.json")).expect("summary")).expect("json");
    assert_eq!(summary["notes"], 6, "{summary}");
    assert_eq!(summary["photos"].as_array().map(Vec::len), Some(3), "{summary}");
}

// ------------------------------------------------------------------ hostile and failing sources

/// Initiates an export of `group` for `user` and waits for it to end (failed, most often).
async fn export_ending(app: &TestApp, user: &str, group: &str, within: Duration) -> (String, String, Value) {
    let token = app.token(user, "c", &[group], Access::OneTime).await;
    let id = app.initiate(&token, &json!({ "resources": [group] }).to_string()).await;
    let state = app.wait_done(&token, &id, within).await;
    (token, id, state)
}

/// The job's failure reason as the app reads it at `/x/v1/archiveJobs/{id}`.
async fn failure_reason(app: &TestApp, token: &str, id: &str) -> String {
    let details = app.get(&format!("/x/v1/archiveJobs/{id}"), token).await;
    assert_eq!(details.status, StatusCode::OK, "{}", details.text);
    details.json["failureReason"].as_str().expect("a failure reason").to_owned()
}

/// An HTTP source whose URL carries a secret (`?api_key=${SECRET}`, expanded) and an SQL source
/// whose query names the operator's schema both fail; the app (`/x/v1/archiveJobs/{id}`), the
/// person (`/account`) and the stored job see only the failure's class, never the URL, the key
/// or the table (issue 22 finding 2).
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_source_tells_the_app_and_the_person_its_class_never_its_url_or_schema() {
    const KEY: &str = "k3y-0f-the-0perator";
    const TABLE: &str = "payroll_ledger_v7";
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed); // nothing listens there: every request is refused
    let http = format!(
        "kind = \"http\"\nurl = \"http://127.0.0.1:{port}/export/comments?user={{subject}}&api_key={KEY}\"\n\
         records = \"items\"\nattempts = 1\ntimeout_seconds = 2"
    );
    let db = tempfile::tempdir().expect("tempdir");
    let path = db.path().join("ops.sqlite");
    let mut conn = <sqlx::SqliteConnection as Connection>::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("sqlite");
    sqlx::query("CREATE TABLE notes (id INTEGER, owner TEXT)").execute(&mut conn).await.expect("schema");
    conn.close().await.expect("close");
    let sql = format!(
        "kind = \"sql\"\ndatabase = \"sqlite://{}\"\nquery = \"SELECT id FROM {TABLE} WHERE owner = :subject\"",
        path.display()
    );
    let catalogue = format!(
        "{}{}",
        group("ops.comments", "Comments", "json", "comments.json", false, &http),
        group("ops.ledger", "Ledger", "json", "ledger.json", false, &sql)
    );
    let (app, _dir) = app_with_catalogue(&catalogue, |c| c.max_attempts = 1).await;
    crate::oauth::user(&app, "alice", "alice's long passphrase").await;

    let mut reasons = Vec::new();
    for (group, class) in [("ops.comments", "source unavailable"), ("ops.ledger", "source query failed")] {
        let (token, id, state) = export_ending(&app, "alice", group, Duration::from_secs(30)).await;
        assert_eq!(state["state"], "FAILED", "{state}");
        let reason = failure_reason(&app, &token, &id).await;
        assert!(reason.ends_with(class), "{group}: {reason:?} is its class");
        let stored = app.core.store().job(&id).await.expect("store").expect("job").failure_reason;
        assert_eq!(stored.as_deref(), Some(reason.as_str()), "what is stored is what the app reads");
        reasons.push(reason);
    }
    let mut browser = crate::oauth::Browser::new(&app);
    let page = browser.get("/account").await;
    let csrf = crate::oauth::hidden(&page.html, "csrf");
    let form = [("csrf", csrf.as_str()), ("username", "alice"), ("password", "alice's long passphrase")];
    assert_eq!(browser.post("/account/login", &form).await.status, StatusCode::SEE_OTHER);
    let account = browser.get("/account").await;
    assert_eq!(account.status, StatusCode::OK, "{}", account.html);
    for reason in &reasons {
        assert!(account.html.contains(reason.as_str()), "the person sees {reason:?}: {}", account.html);
    }
    for (seen, text) in reasons.iter().map(|r| ("the app", r.as_str())).chain([("the person", account.html.as_str())]) {
        for secret in [KEY, "api_key", TABLE, "127.0.0.1", "/export/comments", "ops.sqlite"] {
            assert!(!text.contains(secret), "{seen} sees {secret:?}: {text}");
        }
    }
}

/// A fake service that attacks its client: `/page` redirects to `/stolen` on another origin,
/// which records the headers it receives; `/huge` answers one page far over the size cap;
/// `/cycle` returns the cursors `a, b, a, b, …`.
struct HostileService {
    base: String,
    /// The headers the other origin received, one map per request.
    stolen: Arc<Mutex<Vec<axum::http::HeaderMap>>>,
    /// Requests `/cycle` answered.
    cycled: Arc<AtomicUsize>,
}

impl HostileService {
    async fn start() -> Self {
        use axum::extract::{Query, State};
        use axum::response::IntoResponse;
        let stolen = Arc::new(Mutex::new(Vec::new()));
        let cycled = Arc::new(AtomicUsize::new(0));
        let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let other_base = format!("http://{}", other.local_addr().expect("addr"));
        let thief =
            axum::Router::new()
                .route(
                    "/stolen",
                    axum::routing::get(
                        |State(stolen): State<Arc<Mutex<Vec<axum::http::HeaderMap>>>>,
                         headers: axum::http::HeaderMap| async move {
                            stolen.lock().expect("lock").push(headers);
                            axum::Json(json!({ "items": [{ "id": 1 }] }))
                        },
                    ),
                )
                .with_state(stolen.clone());
        tokio::spawn(async move { axum::serve(other, thief).await });
        let redirect = move || {
            let to = format!("{other_base}/stolen");
            async move { (StatusCode::FOUND, [("location", to)]).into_response() }
        };
        let huge = || async {
            // 20 MiB of valid JSON in 1 MiB chunks without a Content-Length: a page the old code
            // read whole and accepted.
            let mut chunks = vec![bytes::Bytes::from_static(br#"{"items": [{"id": 1}], "pad": ""#)];
            chunks.extend((0..20).map(|_| bytes::Bytes::from(vec![b'x'; 1 << 20])));
            chunks.push(bytes::Bytes::from_static(b"\"}"));
            let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
            ([("content-type", "application/json")], axum::body::Body::from_stream(stream)).into_response()
        };
        let cycle = |State(cycled): State<Arc<AtomicUsize>>,
                     Query(query): Query<std::collections::HashMap<String, String>>| async move {
            let n = cycled.fetch_add(1, Ordering::SeqCst);
            let next = if query.get("cursor").map(String::as_str) == Some("a") { "b" } else { "a" };
            axum::Json(json!({ "items": [{ "id": n }], "next": next }))
        };
        let router = axum::Router::new()
            .route("/page", axum::routing::get(redirect))
            .route("/huge", axum::routing::get(huge))
            .route("/cycle", axum::routing::get(cycle))
            .with_state(cycled.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { base, stolen, cycled }
    }

    /// A catalogue with one group reading `path` of the service with an API key header.
    fn catalogue(&self, path: &str) -> String {
        let source = format!(
            "kind = \"http\"\nurl = \"{}{path}?user={{subject}}\"\n\
             headers = {{ X-Api-Key = \"k3y-0f-the-0perator\", Authorization = \"Bearer s3cret\" }}\n\
             records = \"items\"\nnext = \"next\"\ncursor_param = \"cursor\"\nattempts = 1",
            self.base
        );
        group("ops.hostile", "Hostile", "json", "hostile.json", false, &source)
    }
}

/// A redirect to another origin is refused: that origin never receives the configured API key
/// (reqwest strips only `Authorization`), and the export fails (issue 22 finding 9).
#[tokio::test(flavor = "multi_thread")]
async fn an_http_source_follows_no_redirect_to_another_origin() {
    let service = HostileService::start().await;
    let (app, _dir) = app_with_catalogue(&service.catalogue("/page"), |c| c.max_attempts = 1).await;
    let (token, id, state) = export_ending(&app, "alice", "ops.hostile", Duration::from_secs(30)).await;
    let stolen = service.stolen.lock().expect("lock").clone();
    assert!(stolen.iter().all(|h| h.get("x-api-key").is_none()), "the other origin got the API key: {stolen:?}");
    assert!(stolen.is_empty(), "the other origin was not even asked");
    assert_eq!(state["state"], "FAILED", "{state}");
    assert_eq!(failure_reason(&app, &token, &id).await, "source answered something unexpected");
}

/// A page over the size cap (16 MiB by default) fails the export instead of being read whole
/// (issue 22 finding 9).
#[tokio::test(flavor = "multi_thread")]
async fn an_http_source_refuses_a_page_over_the_size_cap() {
    let service = HostileService::start().await;
    let (app, _dir) = app_with_catalogue(&service.catalogue("/huge"), |c| c.max_attempts = 1).await;
    let (token, id, state) = export_ending(&app, "alice", "ops.hostile", Duration::from_secs(60)).await;
    assert_eq!(state["state"], "FAILED", "{state}");
    assert_eq!(failure_reason(&app, &token, &id).await, "source data exceeds a limit");
}

/// Cursors that come back (`a, b, a, b`) fail the export at the first repeat, instead of paging
/// a million times (issue 22 finding 9).
#[tokio::test(flavor = "multi_thread")]
async fn an_http_source_refuses_a_cursor_it_returned_before() {
    let service = HostileService::start().await;
    let (app, _dir) = app_with_catalogue(&service.catalogue("/cycle"), |c| c.max_attempts = 1).await;
    let (token, id, state) = export_ending(&app, "alice", "ops.hostile", Duration::from_secs(20)).await;
    assert_eq!(state["state"], "FAILED", "{state}");
    assert_eq!(failure_reason(&app, &token, &id).await, "source answered something unexpected");
    assert_eq!(service.cycled.load(Ordering::SeqCst), 3, "pages none, a and b; b's cursor a is a repeat");
}

/// A `files` tree with links back to itself (`loop -> .`, `self -> .`, `sub/up -> ..`): links
/// to directories are not followed, so the walk ends and each file is exported once (issue 22
/// finding 4; the old walk never ended).
#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_loop_in_a_files_tree_ends_and_exports_each_file_once() {
    let photos = tempfile::tempdir().expect("tempdir");
    let alice = photos.path().join("alice");
    std::fs::create_dir_all(alice.join("sub")).expect("mkdir");
    std::fs::write(alice.join("photo.jpg"), b"photo").expect("write");
    std::fs::write(alice.join("sub/beach.jpg"), b"beach").expect("write");
    std::os::unix::fs::symlink(".", alice.join("loop")).expect("link");
    std::os::unix::fs::symlink(".", alice.join("self")).expect("link");
    std::os::unix::fs::symlink("..", alice.join("sub/up")).expect("link");
    let source = format!("kind = \"files\"\nroot = \"{}/{{subject}}\"", photos.path().display());
    let (app, _dir) =
        app_with_catalogue(&group("notes.photos", "Photos", "json", "files.json", false, &source), |_| {}).await;
    let (_, _, state) = export_ending(&app, "alice", "notes.photos", Duration::from_secs(30)).await;
    assert_eq!(state["state"], "COMPLETE", "{state}");
    let parts = download_all(&app, &state).await;
    let listing = python_reads(&parts, "Portability/Photos/files.json", "json");
    let paths: Vec<&str> = listing.as_array().expect("listing").iter().filter_map(|f| f["path"].as_str()).collect();
    assert_eq!(paths, ["photo.jpg", "sub/beach.jpg"], "each file once");
}
