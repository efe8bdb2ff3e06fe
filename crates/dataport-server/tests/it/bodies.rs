//! Request bodies by proto3 JSON rules (SPEC §2.2).

use dataport_core::consent::Duration as Access;
use reqwest::StatusCode;

use crate::harness::{TestApp, scrub};

#[tokio::test]
async fn names_empty_bodies_and_content_types() {
    let app = TestApp::spawn_with(|c| c.workers = 0).await;
    let token = app.token("u", "c", &["myactivity.search", "myactivity.maps"], Access::OneTime).await;
    let snake = r#"{"resources":["myactivity.search"],"start_time":"2020-01-01T00:00:00Z","end_time":null}"#;
    let id = app.initiate(&token, snake).await;
    assert_eq!(app.state(&token, &id).await.json["startTime"], "2020-01-01T00:00:00Z");
    // Empty messages: {}, nothing, and no Content-Type at all.
    let no_type =
        app.http.post(format!("{}/v1/accessType:check", app.base)).bearer_auth(&token).send().await.expect("send");
    assert_eq!(no_type.status(), StatusCode::OK);
    assert_eq!(
        no_type.text().await.expect("text"),
        "{\n  \"oneTimeResources\": [\n    \"myactivity.maps\",\n    \"myactivity.search\"\n  ]\n}"
    );
    assert_eq!(app.post(&format!("/v1/archiveJobs/{id}:cancel"), &token, "").await.json, serde_json::json!({}));
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let app = TestApp::spawn_with(|c| c.workers = 0).await;
    let token = app.token("u", "c", &["myactivity.search"], Access::OneTime).await;
    let unknown =
        app.post("/v1/portabilityArchive:initiate", &token, r#"{"resources":["myactivity.search"],"colour":1}"#).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown.json["error"]["message"],
        r#"Invalid JSON payload received. Unknown name "colour": Cannot find field."#
    );
    assert_eq!(unknown.json["error"]["details"][0]["fieldViolations"][0]["field"], "colour");
    insta::assert_json_snapshot!("body_unknown_field", scrub(&unknown.json));
    let reset_with_field = app.post("/v1/authorization:reset", &token, r#"{"name":"x"}"#).await;
    assert_eq!(reset_with_field.status, StatusCode::BAD_REQUEST);

    for body in [
        r#"{"resources":["myactivity.search"]"#,
        "not json",
        "[]",
        r#"{"resources":"myactivity.search"}"#,
        r#"{"resources":[1]}"#,
        r#"{"startTime":1,"resources":["myactivity.search"]}"#,
        "\u{0}",
    ] {
        let reply = app.post("/v1/portabilityArchive:initiate", &token, body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body:?}: {}", reply.text);
        assert_eq!(reply.json["error"]["status"], "INVALID_ARGUMENT");
    }
    let big = format!(r#"{{"resources":["myactivity.search"],"startTime":"{}"}}"#, "x".repeat(70 * 1024));
    let reply = app.post("/v1/portabilityArchive:initiate", &token, &big).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.json["error"]["message"].as_str().expect("message").starts_with("Request payload size exceeds the limit")
    );
    insta::assert_json_snapshot!("body_too_large", scrub(&reply.json));
    // Nothing above created a job.
    assert_eq!(app.initiate(&token, r#"{"resources":["myactivity.search"]}"#).await.len(), 36);
}
