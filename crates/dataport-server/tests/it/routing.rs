//! Routing on the raw path, methods, versions, system parameters and the discovery document.

use dataport_core::consent::Duration as Access;
use reqwest::{Method, StatusCode};

use crate::harness::{TestApp, scrub};

#[tokio::test]
async fn custom_verbs_literal_and_encoded_on_both_versions() {
    let app = TestApp::spawn_with(|c| c.workers = 0).await;
    let token = app.token("u", "c", &["myactivity.search", "chrome.history"], Access::OneTime).await;
    let id = app.initiate(&token, r#"{"resources":["myactivity.search"]}"#).await;
    assert_eq!(
        app.get(&format!("/v1beta/archiveJobs/{id}/portabilityArchiveState"), &token).await.status,
        StatusCode::OK
    );
    assert_eq!(app.post(&format!("/v1beta/archiveJobs/{id}%3Acancel"), &token, "{}").await.status, StatusCode::OK);
    let id = app.initiate(&token, r#"{"resources":["chrome.history"]}"#).await;
    assert_eq!(app.post(&format!("/v1/archiveJobs%2F{id}%3acancel"), &token, "{}").await.status, StatusCode::OK);
    assert_eq!(app.state(&token, &id).await.json["state"], "CANCELLED");
    // %2F inside an id is part of the id: no such job.
    assert_eq!(app.post(&format!("/v1/archiveJobs/{id}%2Fx:cancel"), &token, "{}").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.post("/v1beta/accessType:check", &token, "").await.status, StatusCode::OK);
}

#[tokio::test]
async fn undeclared_methods_get_405_with_the_envelope_and_unknown_paths_404() {
    let app = TestApp::spawn().await;
    let token = app.token("u", "c", &["myactivity.search"], Access::OneTime).await;
    for (method, path) in [
        (Method::GET, "/v1/portabilityArchive:initiate"),
        (Method::PUT, "/v1/portabilityArchive:initiate"),
        (Method::DELETE, "/v1/archiveJobs/x:cancel"),
        (Method::TRACE, "/v1/accessType:check"),
        (Method::POST, "/v1/archiveJobs/x/portabilityArchiveState"),
    ] {
        let reply = app.call(method.clone(), path, Some(&token), None).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(reply.json["error"]["code"], 405);
        assert!(reply.headers.contains_key("allow"));
    }
    let reply = app.call(Method::PUT, "/v1/accessType:check", Some(&token), None).await;
    insta::assert_json_snapshot!("method_not_allowed", scrub(&reply.json));
    for path in ["/v1/nothing:here", "/v2/accessType:check", "/v1/archiveJobs/x:explode", "/index.html"] {
        let reply = app.post(path, &token, "{}").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.json["error"]["status"], "NOT_FOUND");
    }
}

/// The state of a finished job is rendered once per flavour and then answered from the read
/// cache: every flavour, asked for in any order, answers what a fresh rendering would. (URLs are
/// compared by count: they are signed again once the cached state is 500 ms old.)
#[tokio::test]
async fn a_finished_jobs_state_answers_every_rendering_alike() {
    let app = TestApp::spawn().await;
    let token = app.token("u", "c", &["myactivity.search"], Access::OneTime).await;
    let id = app.initiate(&token, r#"{"resources":["myactivity.search"]}"#).await;
    let done = app.wait_done(&token, &id, std::time::Duration::from_secs(10)).await;
    assert_eq!(done["state"], "COMPLETE");
    let same = |got: &serde_json::Value| {
        for field in ["name", "state", "exportTime"] {
            assert_eq!(got[field], done[field], "{field} in {got}");
        }
        assert_eq!(got["urls"].as_array().map(Vec::len), done["urls"].as_array().map(Vec::len), "{got}");
    };
    let state = format!("/v1/archiveJobs/{id}/portabilityArchiveState");
    for _ in 0..2 {
        let compact = app.get(&format!("{state}?prettyPrint=false"), &token).await;
        assert!(!compact.text.contains('\n'), "{}", compact.text);
        same(&compact.json);
        let pretty = app.get(&state, &token).await;
        assert!(pretty.text.contains("\n  \"state\": \"COMPLETE\""), "{}", pretty.text);
        same(&pretty.json);
        let masked = app.get(&format!("{state}?fields=state"), &token).await;
        assert_eq!(masked.json, serde_json::json!({ "state": "COMPLETE" }));
        let jsonp = app.get(&format!("{state}?callback=cb&prettyPrint=false"), &token).await;
        let call = jsonp.text.strip_prefix("/**/cb(").and_then(|t| t.strip_suffix(')')).expect("a JSONP call");
        same(&serde_json::from_str(call).expect("JSON in the call"));
    }
}

#[tokio::test]
async fn system_parameters() {
    let app = TestApp::spawn_with(|c| c.workers = 0).await;
    let token = app.token("u", "c", &["myactivity.search"], Access::OneTime).await;
    let id = app.initiate(&token, r#"{"resources":["myactivity.search"]}"#).await;
    let state = format!("/v1/archiveJobs/{id}/portabilityArchiveState");

    let compact = app.get(&format!("{state}?prettyPrint=false&fields=state,name"), &token).await;
    assert_eq!(compact.text, format!(r#"{{"name":"archiveJobs/{id}/portabilityArchiveState","state":"IN_PROGRESS"}}"#));
    let pretty = app.get(&state, &token).await;
    assert!(pretty.text.contains("\n  \"state\""), "{}", pretty.text);
    assert_eq!(pretty.headers["content-type"], "application/json; charset=UTF-8");

    let jsonp = app.get(&format!("{state}?callback=handle.it&fields=state&prettyPrint=false"), &token).await;
    assert_eq!(jsonp.text, r#"/**/handle.it({"state":"IN_PROGRESS"})"#);
    assert!(jsonp.headers["content-type"].to_str().expect("ascii").starts_with("text/javascript"));

    let by_param = app.call(Method::GET, &format!("{state}?access_token={token}"), None, None).await;
    assert_eq!(by_param.status, StatusCode::OK);
    let by_oauth = app.call(Method::GET, &format!("{state}?oauth_token={token}"), None, None).await;
    assert_eq!(by_oauth.status, StatusCode::OK);
    assert_eq!(
        app.get(
            &format!(
                "{state}?key=anything&quotaUser=x&uploadType=media&upload_protocol=raw&zzz=1&%24.xgafv=2&alt=json"
            ),
            &token
        )
        .await
        .status,
        StatusCode::OK
    );

    for bad in [
        "alt=media",
        "alt=proto",
        "%24.xgafv=3",
        "prettyPrint=yes",
        "fields=nope",
        "fields=state/sub",
        "fields=state(",
        "callback=alert(1)",
        "access_token=other",
    ] {
        let reply = app.get(&format!("{state}?{bad}"), &token).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}: {}", reply.text);
        assert_eq!(reply.json["error"]["status"], "INVALID_ARGUMENT", "{bad}");
    }
    // A rejected field mask does not run the method: no job is created.
    let reply = app
        .post("/v1/portabilityArchive:initiate?fields=bogus", &token, r#"{"resources":["myactivity.search"]}"#)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn discovery_document_points_at_this_server_and_lists_the_catalogue() {
    let app = TestApp::spawn().await;
    for path in
        ["/$discovery/rest?version=v1", "/discovery/v1/apis/dataportability/v1/rest", "/$discovery/rest?version=v1beta"]
    {
        let reply = app.call(Method::GET, path, None, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.json["rootUrl"], format!("{}/", app.base));
        assert_eq!(reply.json["baseUrl"], format!("{}/", app.base));
        assert_eq!(reply.json["mtlsRootUrl"], format!("{}/", app.base));
        let scopes = reply.json["auth"]["oauth2"]["scopes"].as_object().expect("scopes");
        assert_eq!(scopes.len(), 73);
        assert!(scopes.contains_key("https://www.googleapis.com/auth/dataportability.myactivity.search"));
        assert!(reply.json["resources"]["portabilityArchive"]["methods"]["initiate"].is_object());
    }
    assert_eq!(app.call(Method::GET, "/$discovery/rest?version=v9", None, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.call(Method::GET, "/healthz", None, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn openapi_document_points_at_this_server_and_describes_both_versions() {
    let app = TestApp::spawn().await;
    let reply = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers["content-type"].to_str().expect("ascii").starts_with("application/json"));
    assert_eq!(reply.json["openapi"], "3.1.0");
    assert_eq!(reply.json["servers"][0]["url"], app.base);
    for path in ["/v1/portabilityArchive:initiate", "/v1beta/portabilityArchive:initiate"] {
        assert!(reply.json["paths"][path]["post"].is_object(), "{path}");
    }
    assert!(reply.json["paths"]["/x/v1/archiveJobs/{archiveJobsId}"]["get"].is_object());
    let flow = &reply.json["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"];
    assert_eq!(flow["authorizationUrl"], format!("{}/o/oauth2/v2/auth", app.base));
    assert_eq!(flow["scopes"].as_object().expect("scopes").len(), 73);
}
