//! Every success body, pinned by snapshots, and the rules of reset and accessType:check.

use std::time::Duration;

use dataport_core::consent::Duration as Access;
use reqwest::StatusCode;

use crate::harness::{TestApp, download_all, scrub, verify_archive};

#[tokio::test]
async fn success_bodies() {
    let app = TestApp::spawn().await;
    let token = app.token("u", "c", &["myactivity.search", "chrome.history"], Access::OneTime).await;
    let timed = app.token("u", "c", &["maps.starred_places"], Access::Days30).await;

    let initiate = app
        .post(
            "/v1/portabilityArchive:initiate",
            &token,
            r#"{"resources":["myactivity.search"],"startTime":"2024-02-03T04:05:06.789Z"}"#,
        )
        .await;
    assert_eq!(initiate.status, StatusCode::OK);
    insta::assert_json_snapshot!("initiate_one_time", scrub(&initiate.json));
    let id = initiate.json["archiveJobId"].as_str().expect("id").to_owned();
    let complete = app.wait_done(&token, &id, Duration::from_secs(10)).await;
    insta::assert_json_snapshot!("state_complete", scrub(&complete));
    assert_eq!(complete["startTime"], "2024-02-03T04:05:06.789Z");

    // A token's check lists the groups that token grants.
    let check = app.post("/v1/accessType:check", &token, "{}").await;
    insta::assert_json_snapshot!("check_access_type", scrub(&check.json));
    assert_eq!(check.json, serde_json::json!({"oneTimeResources": ["chrome.history", "myactivity.search"]}));
    let check = app.post("/v1/accessType:check", &timed, "{}").await;
    assert_eq!(check.json, serde_json::json!({"timeBasedResources": ["maps.starred_places"]}));

    let timed_job =
        app.post("/v1/portabilityArchive:initiate", &timed, r#"{"resources":["maps.starred_places"]}"#).await;
    insta::assert_json_snapshot!("initiate_time_based", scrub(&timed_job.json));
    let timed_id = timed_job.json["archiveJobId"].as_str().expect("id").to_owned();
    app.wait_done(&timed, &timed_id, Duration::from_secs(10)).await;

    let reset = app.post("/v1/authorization:reset", &token, "{}").await;
    assert_eq!(reset.status, StatusCode::OK);
    assert_eq!(reset.text, "{}");
}

#[tokio::test]
async fn in_progress_state_and_cancel_bodies() {
    let app = TestApp::spawn_with(|c| c.workers = 0).await;
    let token = app.token("u", "c", &["myactivity.search"], Access::OneTime).await;
    let id = app.initiate(&token, r#"{"resources":["myactivity.search"]}"#).await;
    let state = app.state(&token, &id).await;
    insta::assert_json_snapshot!("state_in_progress", scrub(&state.json));
    assert!(state.json.get("urls").is_none() && state.json.get("startTime").is_none());
    let retry = app.post(&format!("/v1/archiveJobs/{id}:retry"), &token, "{}").await;
    assert_eq!(retry.reason(), Some("JOB_NOT_FAILED"));
    let cancel = app.post(&format!("/v1/archiveJobs/{id}:cancel"), &token, "{}").await;
    assert_eq!(cancel.status, StatusCode::OK);
    assert_eq!(cancel.text, "{}");
    assert_eq!(cancel.headers["content-type"], "application/json; charset=UTF-8");
    assert_eq!(app.state(&token, &id).await.json["state"], "CANCELLED");
}

#[tokio::test]
async fn retry_creates_a_linked_job_that_completes() {
    let app = TestApp::spawn_with(|c| {
        c.emulator.fail_groups.insert("youtube.comments".into());
    })
    .await;
    let token = app.token("u", "c", &["youtube.comments", "myactivity.search"], Access::OneTime).await;
    let failed = app.initiate(&token, r#"{"resources":["youtube.comments"]}"#).await;
    assert_eq!(app.wait_done(&token, &failed, Duration::from_secs(10)).await["state"], "FAILED");
    let retry = app.post(&format!("/v1/archiveJobs/{failed}:retry"), &token, "{}").await;
    insta::assert_json_snapshot!("retry", scrub(&retry.json));
    let job =
        app.core.store().job(retry.json["archiveJobId"].as_str().expect("id")).await.expect("store").expect("job");
    assert_eq!(job.retry_of.as_deref(), Some(failed.as_str()));
    assert_eq!(job.resources, ["youtube.comments"]);
    assert_eq!(app.wait_done(&token, &job.id, Duration::from_secs(10)).await["state"], "FAILED");
    // A retry is not a new initiate: the one-time group was exhausted by the first job only.
    let again = app.post("/v1/portabilityArchive:initiate", &token, r#"{"resources":["youtube.comments"]}"#).await;
    assert_eq!(again.reason(), Some("RESOURCE_EXHAUSTED_ONE_TIME"));
    assert_eq!(again.json["error"]["details"][0]["metadata"]["previous_job_ids"], failed.as_str());
}

#[tokio::test]
async fn mixed_access_is_one_time_and_archives_hold_every_group() {
    let app = TestApp::spawn().await;
    app.token("u", "c", &["myactivity.search"], Access::Days180).await;
    let token =
        app.token("u", "c", &["chrome.history", "maps.starred_places", "youtube.subscriptions"], Access::OneTime).await;
    // The newest token carries only its own scopes.
    let denied = app.post("/v1/portabilityArchive:initiate", &token, r#"{"resources":["myactivity.search"]}"#).await;
    assert_eq!(denied.reason(), Some("RESOURCES_NOT_AUTHORIZED"));
    let reply = app
        .post(
            "/v1/portabilityArchive:initiate",
            &token,
            r#"{"resources":["youtube.subscriptions","maps.starred_places","chrome.history"]}"#,
        )
        .await;
    assert_eq!(reply.json["accessType"], "ACCESS_TYPE_ONE_TIME");
    let id = reply.json["archiveJobId"].as_str().expect("id").to_owned();
    let state = app.wait_done(&token, &id, Duration::from_secs(10)).await;
    let manifest = verify_archive(&download_all(&app, &state).await);
    let paths: Vec<&str> =
        manifest["files"].as_array().expect("files").iter().map(|f| f["path"].as_str().expect("path")).collect();
    assert_eq!(
        paths,
        [
            "Portability/Chrome/History.json",
            "Portability/Maps (your places)/Saved Places.json",
            "Portability/YouTube and YouTube Music/subscriptions/subscriptions.csv"
        ]
    );
    assert_eq!(
        manifest["resources"],
        serde_json::json!(["chrome.history", "maps.starred_places", "youtube.subscriptions"])
    );
}

#[tokio::test]
async fn reset_revokes_tokens_and_urls_and_allows_a_new_consent() {
    let app = TestApp::spawn().await;
    let token = app.token("u", "c", &["myactivity.search"], Access::OneTime).await;
    let second = app.token("u", "c", &["myactivity.search"], Access::OneTime).await;
    let bystander = app.token("u", "other", &["myactivity.search"], Access::OneTime).await;
    let id = app.initiate(&token, r#"{"resources":["myactivity.search"]}"#).await;
    let state = app.wait_done(&token, &id, Duration::from_secs(10)).await;
    let url = state["urls"][0].as_str().expect("url").to_owned();
    assert_eq!(app.fetch(&url).await.status(), StatusCode::OK);

    assert_eq!(app.post("/v1/authorization:reset", &token, "{}").await.status, StatusCode::OK);
    for t in [&token, &second] {
        let reply = app.post("/v1/accessType:check", t, "{}").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.reason(), Some("ACCESS_TOKEN_INVALID"));
    }
    assert_eq!(app.fetch(&url).await.status(), StatusCode::FORBIDDEN, "URLs stop working at once");
    assert_eq!(
        app.post("/v1/accessType:check", &bystander, "{}").await.status,
        StatusCode::OK,
        "other pairs keep theirs"
    );

    // A new consent can export again; the old job is still visible, without URLs.
    let fresh = app.token("u", "c", &["myactivity.search"], Access::OneTime).await;
    let old = app.state(&fresh, &id).await;
    assert_eq!(old.json["state"], "COMPLETE");
    assert!(old.json.get("urls").is_none());
    let again = app.initiate(&fresh, r#"{"resources":["myactivity.search"]}"#).await;
    assert_eq!(app.wait_done(&fresh, &again, Duration::from_secs(10)).await["state"], "COMPLETE");
    // The sweep deletes the revoked archive's blobs.
    assert!(app.job_output_exists(&id).await, "kept until the sweep");
    app.core.sweep_once().await.expect("sweep");
    assert!(!app.job_output_exists(&id).await);
}

#[tokio::test]
async fn check_hides_expired_time_based_and_keeps_exhausted_one_time() {
    let app = TestApp::spawn().await;
    let token = app.token("u", "c", &["myactivity.search"], Access::OneTime).await;
    let id = app.initiate(&token, r#"{"resources":["myactivity.search"]}"#).await;
    app.wait_done(&token, &id, Duration::from_secs(10)).await;
    let check = app.post("/v1/accessType:check", &token, "{}").await;
    assert_eq!(check.json, serde_json::json!({"oneTimeResources": ["myactivity.search"]}));
}
