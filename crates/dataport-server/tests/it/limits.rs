//! Request limits (SPEC §11): oversized targets and heads, slow clients, and the rate limit of
//! the token endpoint. Bad input gets a clear error, never a hang.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::TestApp;

#[tokio::test]
async fn long_urls_and_huge_headers_are_refused() {
    let app = TestApp::spawn().await;
    let long = format!("{}/v1/accessType:check?x={}", app.base, "a".repeat(9000));
    let reply = app.http.post(long).send().await.expect("send");
    assert_eq!(reply.status(), StatusCode::URI_TOO_LONG);
    let body: serde_json::Value = reply.json().await.expect("envelope");
    assert_eq!(body["error"]["code"], 414);
    let huge = app
        .http
        .get(format!("{}/healthz", app.base))
        .header("x-padding", "b".repeat(70 * 1024))
        .send()
        .await
        .expect("send");
    assert_eq!(huge.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    let form = app.http.post(format!("{}/token", app.base)).body("a".repeat(100 * 1024)).send().await.expect("send");
    assert!(form.status().is_client_error(), "{}", form.status());
}

/// Reads until the server closes the connection or `limit` passes; returns what arrived.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(started.elapsed()), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept a slow client for over {limit:?}"),
        }
    }
    (String::from_utf8_lossy(&received).into_owned(), started.elapsed())
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let app = TestApp::spawn().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    // Slow loris: a request head that never ends.
    let mut loris = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    loris.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.expect("write");
    // A body that never arrives.
    let mut slow_body = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    slow_body
        .write_all(b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant")
        .await
        .expect("write");
    let (_, waited) = read_until_closed(&mut loris, Duration::from_secs(20)).await;
    assert!(waited >= Duration::from_secs(5), "closed after {waited:?}");
    let (reply, _) = read_until_closed(&mut slow_body, Duration::from_secs(20)).await;
    assert!(reply.starts_with("HTTP/1.1 4"), "a client error, not a hang: {reply}");
    // The server is still fine.
    assert_eq!(app.http.get(format!("{}/healthz", app.base)).send().await.expect("get").status(), StatusCode::OK);
}

#[tokio::test]
async fn token_endpoint_is_rate_limited_per_address() {
    let app = TestApp::spawn_with(|c| c.auth_rate_limit_per_minute = 3).await;
    for _ in 0..3 {
        let reply = app
            .http
            .post(format!("{}/token", app.base))
            .form(&[("grant_type", "password")])
            .send()
            .await
            .expect("send");
        assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    }
    let reply =
        app.http.post(format!("{}/token", app.base)).form(&[("grant_type", "password")]).send().await.expect("send");
    assert_eq!(reply.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(reply.headers().contains_key("retry-after"));
    let body: serde_json::Value = reply.json().await.expect("json");
    assert_eq!(body["error"], "temporarily_unavailable");
}
