//! Every error class ends with its documented exit code (0 ok, 2 usage, 3 auth, 4 exhausted or
//! cooldown, 5 job failed, 6 network or server), and with `--json` prints one error document
//! `{"error": {"code", "kind", "message", "status"?, "reason"?}}`.

use crate::harness::{Cli, Server, free_port};

/// Exports of this group always fail (`dataportd serve --emulator-fail`).
const FAILING: &str = "youtube.comments";

fn server() -> Server {
    Server::start(&["--emulator-records", "20", "--emulator-fail", FAILING])
}

fn out(cli: &Cli, name: &str) -> String {
    cli.home.path().join(name).to_str().expect("utf8").to_owned()
}

#[test]
fn help_documents_the_exit_codes() {
    let cli = Cli::new();
    let help = cli.run_raw(&["--help"]);
    help.assert_code(0);
    let text = help.stdout.to_lowercase();
    assert!(text.contains("exit"), "{help}");
    for (code, word) in [("0", "ok"), ("2", "usage"), ("3", "auth"), ("4", "exhaust"), ("5", "fail"), ("6", "network")]
    {
        let documented = text.lines().any(|line| {
            line.contains(word) && line.split(|c: char| !c.is_ascii_alphanumeric()).any(|token| token == code)
        });
        assert!(documented, "`dataport --help` documents exit code {code} ({word}) on one line: {help}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let cli = Cli::new();
    let api = format!("http://127.0.0.1:{}", free_port());
    cli.run(&["pull", "--resources", "myactivity.search", "--no-such-flag"]).assert_code(2);
    cli.run(&["no-such-command"]).assert_code(2);
    cli.run(&["pull", "--token", "t", "--api", &api, "--resources", "myactivity.search", "--limit-rate", "fast"])
        .assert_code(2);
    // A bad value with --json: still one document on stdout.
    let run = cli.run(&[
        "pull",
        "--token",
        "t",
        "--api",
        &api,
        "--resources",
        "myactivity.search",
        "--since",
        "yesterday",
        "--json",
    ]);
    run.error_doc(2, "usage");
}

#[test]
fn auth_errors_exit_3() {
    let server = server();
    let cli = Cli::new();

    // A token the server does not know.
    let run = cli.pull("dpa_not-a-real-token", &server.base, "myactivity.search", &out(&cli, "a"), &["--json"]);
    let doc = run.error_doc(3, "auth");
    assert_eq!(doc["error"]["status"], "UNAUTHENTICATED", "{doc}");

    // --quiet: no output but the error, on one line of stderr.
    let quiet = cli.pull("dpa_not-a-real-token", &server.base, "myactivity.search", &out(&cli, "b"), &["--quiet"]);
    quiet.assert_code(3);
    assert!(quiet.stdout.is_empty(), "{quiet}");
    assert_eq!(quiet.stderr.trim().lines().count(), 1, "one line: {quiet}");

    // Nobody signed in (an empty config directory): says to log in.
    let run = cli.run(&["pull", "--resources", "myactivity.search", "--out", &out(&cli, "c"), "--json"]);
    let doc = run.error_doc(3, "auth");
    let message = doc["error"]["message"].as_str().expect("message");
    assert!(message.contains("dataport login"), "{doc}");
}

#[test]
fn a_second_one_time_pull_is_exhausted_and_says_reset() {
    let server = server();
    let cli = Cli::new();
    let token = server.admin_token("once", "myactivity.search", "one-time");
    let pull =
        |name: &str, extra: &[&str]| cli.pull(&token, &server.base, "myactivity.search", &out(&cli, name), extra);
    pull("first", &["--json"]).assert_code(0);
    let again = pull("second", &["--json"]);
    let doc = again.error_doc(4, "exhausted");
    assert_eq!(doc["error"]["status"], "RESOURCE_EXHAUSTED", "{doc}");
    assert_eq!(doc["error"]["reason"], "RESOURCE_EXHAUSTED_ONE_TIME", "{doc}");
    assert!(doc["error"]["message"].as_str().is_some_and(|m| m.contains("dataport reset")), "{doc}");
    // In plain words for a person too, and in the one line --quiet leaves.
    let human = pull("third", &[]);
    human.assert_code(4);
    assert!(human.stderr.contains("dataport reset"), "{human}");
    let quiet = pull("fourth", &["--quiet"]);
    quiet.assert_code(4);
    assert!(quiet.stdout.is_empty() && quiet.stderr.trim().lines().count() == 1, "{quiet}");
    assert!(quiet.stderr.contains("dataport reset"), "{quiet}");
}

#[test]
fn a_failed_job_exits_5() {
    let server = server();
    let cli = Cli::new();
    let token = server.admin_token("failing", FAILING, "one-time");
    let run = cli.pull(&token, &server.base, FAILING, &out(&cli, "failed"), &["--json"]);
    run.error_doc(5, "job_failed");
}

#[test]
fn an_unreachable_server_exits_6() {
    let cli = Cli::new();
    let closed = format!("http://127.0.0.1:{}", free_port());
    let run = cli.pull("dpa_whatever", &closed, "myactivity.search", &out(&cli, "none"), &["--json"]);
    run.error_doc(6, "network");
    let status =
        cli.run(&["status", "00000000-0000-4000-8000-000000000000", "--token", "dpa_whatever", "--api", &closed]);
    status.assert_code(6);
}
