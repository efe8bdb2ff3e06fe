//! A download interrupted by killing the CLI resumes with `Range` when the same pull runs again,
//! without fetching completed bytes again: a proxy in front of dataportd (its `--public-url`,
//! so that the signed URLs lead through it) counts every byte the server sent, and in all it
//! is at most the archive's size plus one read buffer.
//!
//! Two ways to be slow: `--limit-rate` (the CLI holds itself back), and a slow link (the proxy
//! holds the download back, and the CLI streams as fast as it can).
//!
//! Before the kill the proxy stops forwarding and the test waits until the `.part` file stops
//! growing: what the proxy had already handed to the kernel then reaches the CLI rather than
//! dying in socket buffers (which no client could keep), so the count measures the CLI alone.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::{Cli, CountingProxy, Server, files_below, verify_extracted};

/// The tolerance: one read buffer.
const READ_BUFFER: u64 = 1 << 20;
/// Bytes the `.part` must hold before the CLI is killed.
const BEFORE_KILL: u64 = 2 << 20;
/// The download rate: about 7 s for the 15 MB archive.
const RATE: u64 = 2_000_000;

fn parts(dir: &Path) -> Vec<(PathBuf, u64)> {
    files_below(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".zip.part"))
        .map(|p| {
            let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            (p, len)
        })
        .collect()
}

#[test]
fn a_killed_pull_with_limit_rate_resumes_without_fetching_completed_bytes_again() {
    killed_pull_resumes(Slowed::ByLimitRate);
}

#[test]
fn a_killed_pull_on_a_slow_link_resumes_without_fetching_completed_bytes_again() {
    killed_pull_resumes(Slowed::ByTheLink);
}

enum Slowed {
    /// `dataport pull --limit-rate`, in both runs.
    ByLimitRate,
    /// The proxy forwards at the rate; no `--limit-rate`.
    ByTheLink,
}

fn killed_pull_resumes(slowed: Slowed) {
    let proxy = CountingProxy::start();
    let public = format!("http://127.0.0.1:{}", proxy.port);
    // 400 000 YouTube activity records: about 130 MB of JSON, 15 MB of archive.
    let server = Server::start(&[
        "--emulator-records",
        "20",
        "--emulator-group-records",
        "myactivity.youtube=400000",
        "--public-url",
        &public,
    ]);
    proxy.forward_to(server.port);
    let token = server.admin_token("resumer", "myactivity.youtube", "one-time");
    let cli = Cli::new();
    let out = cli.home.path().join("archive");
    let downloads = out.join(".dataport").join("downloads");
    let rate = RATE.to_string();
    let mut args = vec![
        "pull",
        "--token",
        &token,
        "--api",
        &server.base,
        "--resources",
        "myactivity.youtube",
        "--out",
        out.to_str().expect("utf8"),
        "--json",
    ];
    match slowed {
        Slowed::ByLimitRate => args.extend(["--limit-rate", rate.as_str()]),
        Slowed::ByTheLink => proxy.throttle(RATE),
    }

    // The first run: killed once the data part's .part holds some bytes.
    let mut first = cli.spawn(&args);
    let deadline = Instant::now() + Duration::from_secs(180);
    let (part, _) = loop {
        if let Some(found) = parts(&downloads).into_iter().find(|(_, len)| *len >= BEFORE_KILL) {
            break found;
        }
        if first.exited() {
            let run = first.finish(Duration::from_secs(10));
            panic!(
                "the pull ended before a .part of {BEFORE_KILL} bytes appeared in {} (is --limit-rate honoured? \
                 files: {:?}): {run}",
                downloads.display(),
                files_below(&out)
            );
        }
        assert!(Instant::now() < deadline, "no .part of {BEFORE_KILL} bytes: {}", first.stderr_text());
        std::thread::sleep(Duration::from_millis(10));
    };
    proxy.pause(true);
    let mut last = (std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0), Instant::now());
    let drain_deadline = Instant::now() + Duration::from_secs(30);
    while last.1.elapsed() < Duration::from_millis(1500) && Instant::now() < drain_deadline {
        std::thread::sleep(Duration::from_millis(50));
        let len = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        if len != last.0 {
            last = (len, Instant::now());
        }
    }
    let served_before_kill = proxy.served();
    assert!(!first.exited(), "the pull must still be running when killed: {}", first.stderr_text());
    let killed = first.kill();
    // The proxy hears of the closed connection before it forwards again.
    std::thread::sleep(Duration::from_millis(300));
    proxy.pause(false);
    assert_eq!(killed.code, -1, "killed by SIGKILL: {killed}");
    let kept = std::fs::metadata(&part).unwrap_or_else(|e| panic!("{} kept after the kill: {e}", part.display())).len();
    let name = part.file_name().expect("name").to_string_lossy().into_owned();
    eprintln!("killed: {name} holds {kept} bytes; the proxy had served {served_before_kill} bytes");
    assert!(kept >= BEFORE_KILL, "{kept}");

    // The second run, the same command: it completes, resuming the .part.
    let second = cli.run_for(&args, Duration::from_secs(300));
    second.assert_code(0);
    let doc = second.json();
    let job = &doc["jobs"][0];
    assert_eq!(job["state"], "COMPLETE", "{doc}");
    assert_eq!(job["verified"], true, "{doc}");
    let id = job["jobId"].as_str().expect("jobId");
    assert!(name.starts_with(&format!("{id}-")) && name.ends_with(".zip.part"), "<jobId>-<n>.zip.part: {name}");

    let sizes = server.part_sizes(&token, id);
    let archive: u64 = sizes.iter().sum();
    let served = proxy.served();
    eprintln!(
        "archive {archive} bytes in {} parts; served {served} bytes in all ({} after the kill)",
        sizes.len(),
        served - served_before_kill
    );
    let heads = proxy.request_heads();
    eprintln!("requests through the proxy: {heads:#?}");
    let ranged = format!("bytes={kept}-");
    assert!(
        heads.iter().any(|h| h.to_ascii_lowercase().contains(&format!("range: {ranged}"))),
        "the second run asks for {ranged}: {heads:#?}"
    );
    assert!(
        served <= archive + READ_BUFFER,
        "served {served} bytes for an archive of {archive} (+{READ_BUFFER} allowed): completed bytes were fetched \
         again; requests: {heads:#?}"
    );

    // The archive is whole: verified by the CLI and again here, and no .part is left.
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("Portability").join("manifest.json")).expect("manifest"),
    )
    .expect("manifest json");
    assert_eq!(verify_extracted(&out, &manifest), 1);
    assert!(parts(&downloads).is_empty(), "{:?}", parts(&downloads));
}
