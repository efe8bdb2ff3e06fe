//! Signed downloads (SPEC §9): headers, ranges, conditional requests, and every way a URL is refused.

use std::time::Duration;

use dataport_core::consent::Duration as Access;
use dataport_types::Timestamp;
use reqwest::StatusCode;

use sha2::Digest;

use crate::harness::{Backend, TestApp, scrub};

async fn complete_job(app: &TestApp) -> (String, String, Vec<String>) {
    let token = app.token("u", "c", &["myactivity.search"], Access::OneTime).await;
    let id = app.initiate(&token, r#"{"resources":["myactivity.search"]}"#).await;
    let state = app.wait_done(&token, &id, Duration::from_secs(10)).await;
    let urls = state["urls"].as_array().expect("urls").iter().map(|u| u.as_str().expect("url").to_owned()).collect();
    (token, id, urls)
}

#[tokio::test]
async fn get_head_range_etag() {
    let app = TestApp::spawn().await;
    let (_, id, urls) = complete_job(&app).await;
    let full = app.fetch(&urls[0]).await;
    assert_eq!(full.status(), StatusCode::OK);
    let headers = full.headers().clone();
    let body = full.bytes().await.expect("body");
    assert_eq!(headers["content-type"], "application/zip");
    assert_eq!(headers["content-length"], body.len().to_string().as_str());
    assert_eq!(headers["content-disposition"], format!("attachment; filename=\"dataport-{id}-0.zip\"").as_str());
    let etag = headers["etag"].to_str().expect("etag").to_owned();
    use sha2::Digest;
    assert_eq!(etag, format!("\"{}\"", hex::encode(sha2::Sha256::digest(&body))), "ETag is the part's SHA-256");

    let head = app.http.head(&urls[0]).send().await.expect("head");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["content-length"], body.len().to_string().as_str());
    assert!(head.bytes().await.expect("empty").is_empty());

    let range = app.http.get(&urls[0]).header("range", "bytes=10-19").send().await.expect("range");
    assert_eq!(range.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(range.headers()["content-range"], format!("bytes 10-19/{}", body.len()).as_str());
    assert_eq!(range.bytes().await.expect("bytes"), body.slice(10..20));
    let tail = app.http.get(&urls[0]).header("range", "bytes=-5").send().await.expect("tail");
    assert_eq!(tail.bytes().await.expect("bytes"), body.slice(body.len() - 5..));
    let beyond = app.http.get(&urls[0]).header("range", format!("bytes={}-", body.len())).send().await.expect("416");
    assert_eq!(beyond.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let cached = app.http.get(&urls[0]).header("if-none-match", &etag).send().await.expect("304");
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn tampered_expired_wrong_key_and_revoked_urls_are_403_and_alike() {
    let app = TestApp::spawn().await;
    let (token, id, urls) = complete_job(&app).await;
    let url = &urls[0];
    let (path, query) = url.split_once('?').expect("query");
    let param =
        |name: &str| query.split('&').find_map(|kv| kv.strip_prefix(&format!("{name}="))).expect(name).to_owned();
    let (exp, kid, sig) = (param("exp"), param("kid"), param("sig"));
    let other_id = "00000000-0000-4000-8000-000000000000";
    let tampered = [
        format!("{}/1?exp={exp}&kid={kid}&sig={sig}", path.strip_suffix("/0").expect("part 0")),
        format!("{}?exp={exp}&kid={kid}&sig={sig}", path.replace(&id, other_id)),
        format!("{path}?exp={}&kid={kid}&sig={sig}", exp.parse::<i64>().expect("exp") + 1),
        format!("{path}?exp={exp}&kid=other&sig={sig}"),
        format!("{path}?exp={exp}&kid={kid}&sig={}", sig.chars().rev().collect::<String>()),
        format!("{path}?exp={exp}&kid={kid}"),
        format!("{path}?exp=soon&kid={kid}&sig={sig}"),
        path.to_owned(),
        format!("{}/download/{id}/x?exp={exp}&kid={kid}&sig={sig}", app.base),
    ];
    let mut bodies = Vec::new();
    for bad in &tampered {
        let response = app.fetch(bad).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{bad}");
        bodies.push(response.text().await.expect("text"));
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "every refusal looks the same");
    let envelope: serde_json::Value = serde_json::from_str(&bodies[0]).expect("json");
    assert_eq!(envelope["error"]["status"], "PERMISSION_DENIED");
    insta::assert_json_snapshot!("download_denied", scrub(&envelope));

    // Expired: sign with an expiry in the past.
    let expired = app.core.download_url(&id, 0, Timestamp::now().plus_seconds(-1));
    assert_eq!(app.fetch(&expired).await.status(), StatusCode::FORBIDDEN);
    // Validly signed, but for a part that does not exist.
    let missing = app.core.download_url(&id, 7, Timestamp::now().plus_seconds(60));
    assert_eq!(app.fetch(&missing).await.status(), StatusCode::FORBIDDEN);
    // Revoked by reset.
    assert_eq!(app.fetch(url).await.status(), StatusCode::OK);
    app.post("/v1/authorization:reset", &token, "{}").await;
    assert_eq!(app.fetch(url).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn archives_past_retention_lose_their_urls_and_blobs() {
    let app = TestApp::spawn_with(|c| c.retention_seconds = 1).await;
    let (token, id, urls) = complete_job(&app).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(app.fetch(&urls[0]).await.status(), StatusCode::FORBIDDEN);
    let state = app.state(&token, &id).await;
    assert_eq!(state.json["state"], "COMPLETE");
    assert!(state.json.get("urls").is_none());
    assert!(app.job_output_exists(&id).await, "kept until the sweep");
    assert_eq!(app.core.sweep_once().await.expect("sweep"), 1);
    assert!(!app.job_output_exists(&id).await);
}

/// `--download-redirect` on S3: a valid signed URL is answered with a 302 to a presigned URL of
/// the object, which serves the part (the ETag's SHA-256) and its ranges; the signed URL is
/// still checked first, and the redirect is audited.
#[tokio::test]
async fn redirects_to_a_presigned_url_after_checking_the_signed_one() {
    let Some(backend) = Backend::scale_out().await else { return };
    let app = TestApp::spawn_on(backend, |c| c.download_redirect = true).await;
    let (_, id, urls) = complete_job(&app).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let redirect = http.get(&urls[0]).send().await.expect("download");
    assert_eq!(redirect.status(), StatusCode::FOUND);
    let location = redirect.headers()["location"].to_str().expect("location").to_owned();
    assert!(
        location.contains(&format!("/jobs/{id}/1/part-000.zip")) && location.contains("X-Amz-Signature="),
        "{location}"
    );
    let part = http.get(&location).send().await.expect("presigned");
    assert_eq!(part.status(), StatusCode::OK);
    let bytes = part.bytes().await.expect("bytes");
    let job = app.core.store().job(&id).await.expect("store").expect("job");
    assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), job.parts[0].sha256);
    let ranged = http.get(&location).header("range", "bytes=0-3").send().await.expect("range");
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(ranged.bytes().await.expect("bytes").as_ref(), b"PK\x03\x04");

    let tampered = urls[0].replace("sig=", "sig=x");
    let refused = http.get(&tampered).send().await.expect("download");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "no redirect for a bad signature");
    assert!(refused.headers().get("location").is_none());
    let audit = app.core.store().audit_log(&dataport_core::model::AuditFilter::newest(50)).await.expect("audit");
    assert!(audit.iter().any(|e| e.event == "archive.downloaded" && e.detail["redirect"] == true), "{audit:?}");
}

#[tokio::test]
async fn redirects_need_an_s3_blob_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = dataport_core::Config::new(dir.path());
    config.download_redirect = true;
    let refused = dataport_core::Dataport::open(config).await.err().expect("refused").to_string();
    assert!(refused.contains("--download-redirect needs an S3 blob store"), "{refused}");
}
