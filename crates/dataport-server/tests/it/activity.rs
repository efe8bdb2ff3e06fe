//! Issue #22, finding 3: a person's activity log could be flooded through a download URL (every
//! one-byte `Range` request was an audit entry), and `/account/activity.json` built the whole log
//! in memory for each request. Now the download is streamed a batch at a time, one per person at
//! once, and a connection's downloads of one part make one audit entry with its byte counts.

use std::time::{Duration, Instant};

use dataport_core::consent::Duration as Access;
use dataport_core::model::AuditEntry;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::harness::TestApp;
use crate::oauth::{Browser, hidden, user};

const ALICE: (&str, &str) = ("alice", "alice's long passphrase");
const BOB: (&str, &str) = ("bob", "bob's long passphrase");

/// A browser signed in to `/account` as `person`.
async fn signed_in(app: &TestApp, person: (&str, &str)) -> Browser {
    let mut browser = Browser::new(app);
    let page = browser.get("/account").await;
    let csrf = hidden(&page.html, "csrf");
    let reply =
        browser.post("/account/login", &[("csrf", &csrf), ("username", person.0), ("password", person.1)]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.html);
    browser
}

/// How many times the server has read a page of someone's audit entries from the store.
async fn audit_pages_read(app: &TestApp) -> u64 {
    let text = app.core.metrics_text(false).await;
    text.lines()
        .filter(|l| l.contains("store_call_duration_seconds_count") && l.contains("call=\"user_audit\""))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .map(|n| n as u64)
        .sum()
}

/// `GET /account/activity.json` as the browser's person, the response unread.
async fn activity_json(app: &TestApp, browser: &Browser) -> reqwest::Response {
    let request = app.http.get(format!("{}/account/activity.json", app.base));
    request.header("cookie", browser.cookie().expect("cookie")).send().await.expect("activity.json")
}

/// The download is streamed from the store a batch at a time as the client reads it: with a log
/// of 40 MB, a client that reads a little and stops has had the server read only the batches that
/// fit in the socket buffers (the old handler read all 40 of them before answering). While it
/// streams, the same person's second download is a 429 page with `Retry-After`, another person
/// downloads theirs, and once the first ends the person may download again — every entry, newest
/// first.
#[tokio::test(flavor = "multi_thread")]
async fn the_activity_download_streams_batch_by_batch_one_at_a_time_per_person() {
    let app = TestApp::spawn().await;
    user(&app, ALICE.0, ALICE.1).await;
    user(&app, BOB.0, BOB.1).await;
    let alice_browser = signed_in(&app, ALICE).await;
    let bob_browser = signed_in(&app, BOB).await;
    let users = app.core.store().users().await.expect("users");
    let alice = users.iter().find(|u| u.username == "alice").expect("alice").id.clone();

    // 40,000 entries of about 1 KB each, written behind the server's back in one statement.
    const LOGGED: usize = 40_000;
    let pad = "x".repeat(1000);
    let db = app.sql().await;
    db.execute(
        &format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {LOGGED}) \
             INSERT INTO audit (at, event, user_id, detail) \
             SELECT 1700000000000000 + i, 'token.refreshed', ?, '{{\"n\":' || i || ',\"pad\":\"' || ? || '\"}}' FROM n"
        ),
        &[&alice, &pad],
    )
    .await;
    db.close().await;

    let read_before = audit_pages_read(&app).await;
    let mut first = activity_json(&app, &alice_browser).await;
    assert_eq!(first.status(), StatusCode::OK);
    let mut body = first.chunk().await.expect("read").expect("a first chunk").to_vec();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let read_while_stalled = audit_pages_read(&app).await - read_before;
    eprintln!("batches read while the client stalled: {read_while_stalled} of {}", LOGGED / 1000 + 1);
    assert!(read_while_stalled <= 20, "{read_while_stalled} batches of 40 read for a client that stopped reading");

    // One download per person at a time.
    let second = activity_json(&app, &alice_browser).await;
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    let header = |name: &str| second.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(header("retry-after").parse::<u64>().is_ok_and(|s| s > 0), "{:?}", second.headers());
    assert!(header("content-type").starts_with("text/html"), "an error page like the account pages' others");
    assert_eq!(header("cache-control"), "no-store");
    assert!(header("content-security-policy").contains("frame-ancestors 'none'"));
    assert!(second.text().await.expect("page").contains("already being downloaded"));
    let bobs = activity_json(&app, &bob_browser).await;
    assert_eq!(bobs.status(), StatusCode::OK, "another person is unaffected");
    let bobs: Value = serde_json::from_slice(&bobs.bytes().await.expect("body")).expect("json");
    assert!(bobs["entries"].as_array().expect("entries").iter().all(|e| e["user_id"] == bobs_id(&users)));

    // The first download, read to its end, holds every entry, newest first.
    while let Some(chunk) = first.chunk().await.expect("read") {
        body.extend_from_slice(&chunk);
    }
    let json: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(json["user"], "alice");
    let entries = json["entries"].as_array().expect("entries");
    let logged = entries.iter().filter(|e| e["event"] == "token.refreshed").count();
    assert_eq!(logged, LOGGED, "every entry");
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first, each once");
    assert!(entries.iter().all(|e| e["user_id"] == alice.as_str()));
    drop(first);

    // Its slot is free again once it has ended.
    let started = Instant::now();
    loop {
        let again = activity_json(&app, &alice_browser).await;
        if again.status() == StatusCode::OK {
            break;
        }
        assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(started.elapsed() < Duration::from_secs(10), "the slot was never given back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn bobs_id(users: &[dataport_core::model::User]) -> String {
    users.iter().find(|u| u.username == "bob").expect("bob").id.clone()
}

/// A keep-alive connection to the server.
struct Connection(BufReader<TcpStream>);

impl Connection {
    async fn open(app: &TestApp) -> Self {
        let addr = app.base.trim_start_matches("http://");
        Self(BufReader::new(TcpStream::connect(addr).await.expect("connect")))
    }

    /// `GET path` with `range`; returns the status and the body.
    async fn get(&mut self, path: &str, range: &str) -> (u16, Vec<u8>) {
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: {range}\r\n\r\n");
        self.0.get_mut().write_all(request.as_bytes()).await.expect("send");
        let mut line = String::new();
        self.0.read_line(&mut line).await.expect("status line");
        let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("status");
        let mut length = 0;
        loop {
            line.clear();
            self.0.read_line(&mut line).await.expect("header");
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("length");
            }
        }
        let mut body = vec![0; length];
        self.0.read_exact(&mut body).await.expect("body");
        (status, body)
    }
}

/// The download entries of the log, oldest first.
async fn downloads(app: &TestApp) -> Vec<AuditEntry> {
    let filter = dataport_core::model::AuditFilter {
        event: Some("archive.downloaded".into()),
        ..dataport_core::model::AuditFilter::newest(100_000)
    };
    app.core.store().audit_log(&filter).await.expect("audit")
}

/// Waits until the log's download entries satisfy `done`.
async fn downloads_until(app: &TestApp, done: impl Fn(&[AuditEntry]) -> bool) -> Vec<AuditEntry> {
    let started = Instant::now();
    loop {
        let entries = downloads(app).await;
        if done(&entries) || started.elapsed() > Duration::from_secs(10) {
            return entries;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// 300 one-byte `Range` requests on one keep-alive connection (the attack sent 60,000) are one
/// audit entry, with the part, the client's address and the bytes of all of them; another
/// connection's are another entry; and an entry is written when its first response ends, not
/// when the connection does.
#[tokio::test]
async fn a_connections_downloads_of_a_part_are_one_audit_entry_with_their_byte_counts() {
    let app = TestApp::spawn().await;
    let token = app.token("u", "c", &["myactivity.search"], Access::Days30).await;
    let id = app.initiate(&token, r#"{"resources":["myactivity.search"]}"#).await;
    let state = app.wait_done(&token, &id, Duration::from_secs(30)).await;
    let url = state["urls"][0].as_str().expect("url");
    let path = &url[url.find("/download/").expect("path")..];
    let whole = app.fetch(url).await.bytes().await.expect("part");
    let before = downloads_until(&app, |e| e.len() == 1).await;
    assert_eq!(before.len(), 1, "the whole download: {before:?}");

    const RANGES: usize = 300;
    let mut flood = Connection::open(&app).await;
    for i in 0..RANGES {
        let (status, byte) = flood.get(path, &format!("bytes={i}-{i}")).await;
        assert_eq!((status, byte.as_slice()), (206, &whole[i..=i]), "range {i}");
    }
    let mut other = Connection::open(&app).await;
    for i in 0..10 {
        assert_eq!(other.get(path, &format!("bytes={}-{}", 2 * i, 2 * i + 1)).await.0, 206);
    }
    // Written when the responses end, though both connections are still open.
    let entries =
        downloads_until(&app, |e| e.len() == 3 && e[1].detail["responses"] == RANGES && e[2].detail["responses"] == 10)
            .await;
    assert_eq!(entries.len(), 3, "one entry per part and connection, not per request: {} entries", entries.len());
    let flooded = &entries[1];
    assert_eq!(flooded.job_id.as_deref(), Some(id.as_str()));
    assert_eq!(flooded.detail["part"], 0);
    assert_eq!(flooded.detail["address"], "127.0.0.1");
    assert_eq!(flooded.detail["responses"], RANGES);
    assert_eq!(flooded.detail["bytes"], RANGES, "one byte each");
    assert_eq!(flooded.detail["requested"], RANGES);
    assert_eq!(flooded.detail["complete"], true);
    assert_eq!((entries[2].detail["responses"].as_u64(), entries[2].detail["bytes"].as_u64()), (Some(10), Some(20)));
    drop((flood, other));
}
