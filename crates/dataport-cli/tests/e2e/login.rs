//! `dataport login` against dataportd's own authorization server (SPEC §10), the browser step
//! played by the test: it reads the URL the CLI prints, signs in as the demo user on the login
//! form, unticks one group on the consent page (a partial grant), picks an access type, and
//! follows the redirect to the CLI's loopback listener.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::harness::{Cli, Run, Server, mode, query_params, tokens_in};

const DEMO: (&str, &str) = ("demo", "demo");
const REQUESTED: [&str; 3] = ["myactivity.search", "chrome.history", "youtube.subscriptions"];
const REFUSED: &str = "chrome.history";

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("an array: {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn login_with_a_partial_grant_stores_a_private_profile_and_prints_no_token() {
    let server = Server::start(&["--emulator-records", "20"]);
    let cli = Cli::new();
    let (run, url, consented) = cli.login(&server, &REQUESTED.join(","), DEMO, |g| g != REFUSED, "180d");
    run.assert_code(0);

    // The authorization request: the server's endpoint (RFC 8414 metadata), the demo client,
    // PKCE S256, a state, a loopback redirect URI and one scope per requested group.
    assert!(url.starts_with(&format!("{}/o/oauth2/v2/auth?", server.base)), "{url}");
    let sent = query_params(&url);
    assert_eq!(sent.get("response_type").map(String::as_str), Some("code"), "{sent:?}");
    assert_eq!(sent.get("client_id").map(String::as_str), Some("demo-client"), "{sent:?}");
    assert_eq!(sent.get("code_challenge_method").map(String::as_str), Some("S256"), "{sent:?}");
    assert_eq!(sent.get("code_challenge").map(String::len), Some(43), "{sent:?}");
    assert!(sent.get("state").is_some_and(|s| !s.is_empty()), "{sent:?}");
    let redirect_uri = sent.get("redirect_uri").expect("redirect_uri");
    assert!(redirect_uri.starts_with("http://127.0.0.1:") && redirect_uri.ends_with('/'), "{redirect_uri}");
    let scopes: Vec<&str> = sent.get("scope").expect("scope").split(' ').collect();
    for group in REQUESTED {
        assert!(scopes.iter().any(|s| s.ends_with(&format!("dataportability.{group}"))), "{group} in {scopes:?}");
    }
    assert_eq!(consented.offered.iter().cloned().collect::<BTreeSet<_>>(), set(&REQUESTED));
    assert!(consented.durations.len() > 1, "one-time and time-based access offered: {:?}", consented.durations);
    let back = query_params(&consented.redirect);
    assert_eq!(back.get("state"), sent.get("state"), "{}", consented.redirect);
    assert!(back.contains_key("code"), "{}", consented.redirect);
    assert!(consented.redirect.starts_with(redirect_uri.as_str()), "{}", consented.redirect);

    // The report: what was granted and what was not.
    let doc = run.json();
    assert_eq!(doc["profile"], "default", "{doc}");
    let port = format!("127.0.0.1:{}", server.port);
    assert!(doc["server"].as_str().is_some_and(|s| s.contains(&port)), "{doc}");
    assert_eq!(strings(&doc["granted"]), set(&["myactivity.search", "youtube.subscriptions"]), "{doc}");
    assert_eq!(strings(&doc["notGranted"]), set(&[REFUSED]), "{doc}");

    // The profile: private, and it holds the tokens that no output shows.
    let profiles = cli.config.join("profiles");
    let profile = profiles.join("default.json");
    assert_eq!(mode(&profile), 0o600, "{}", profile.display());
    assert_eq!(mode(&profiles), 0o700, "{}", profiles.display());
    let text = std::fs::read_to_string(&profile).expect("profile");
    let stored: Value = serde_json::from_str(&text).expect("the profile is JSON");
    assert!(stored.is_object(), "{stored}");
    let tokens = tokens_in(&text);
    assert!(tokens.iter().any(|t| t.starts_with("dpa_")), "the profile keeps the access token: {text}");
    let mut runs: Vec<Run> = vec![run];

    // The profile works: the grant as the server sees it, a pull of a granted group, and a
    // pull of the refused group is an auth error (PERMISSION_DENIED).
    let check = cli.run(&["check", "--json"]);
    check.assert_code(0);
    check.json();
    runs.push(check);
    let out = cli.home.path().join("granted");
    let pull = cli.run(&["pull", "--resources", "myactivity.search", "--out", out.to_str().expect("utf8"), "--json"]);
    pull.assert_code(0);
    assert_eq!(pull.json()["jobs"][0]["state"], "COMPLETE", "{pull}");
    runs.push(pull);
    let out = cli.home.path().join("refused");
    let denied = cli.run(&["pull", "--resources", REFUSED, "--out", out.to_str().expect("utf8"), "--json"]);
    denied.error_doc(3, "auth");
    runs.push(denied);

    // A second profile signed in without --json: the human report names the refused group.
    let running = cli.spawn(&[
        "login",
        "--profile",
        "work",
        "--server",
        &server.base,
        "--resources",
        &REQUESTED.join(","),
        "--no-browser",
    ]);
    let url = running.wait_stderr_line("Open this URL to sign in: ", std::time::Duration::from_secs(60));
    let mut browser = crate::harness::Browser::new(&server.base);
    let consented = browser.sign_in_and_consent(&url, DEMO.0, DEMO.1, |g| g != REFUSED, "one-time");
    let landed = crate::harness::get(&consented.redirect, None);
    assert!(landed.status < 400, "{} {}", landed.status, landed.text());
    let human = running.finish(std::time::Duration::from_secs(60));
    human.assert_code(0);
    let said = format!("{}{}", human.stdout, human.stderr);
    assert!(said.contains(REFUSED), "the report names the group that was not granted: {human}");
    assert!(said.contains("myactivity.search"), "the report names the granted groups: {human}");
    let work = profiles.join("work.json");
    assert_eq!(mode(&work), 0o600);
    let mut tokens = tokens;
    tokens.extend(tokens_in(&std::fs::read_to_string(&work).expect("profile")));
    runs.push(human);

    for run in &runs {
        for token in &tokens {
            assert!(
                !run.stdout.contains(token.as_str()) && !run.stderr.contains(token.as_str()),
                "a token printed: {run}"
            );
        }
        assert!(tokens_in(&run.stdout).is_empty() && tokens_in(&run.stderr).is_empty(), "a token printed: {run}");
    }
}
