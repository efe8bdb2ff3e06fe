//! `dataport pull` of two groups: one job each, both downloaded, verified against their
//! manifests and extracted into one `Portability/` tree.

use std::collections::BTreeSet;
use std::path::Path;

use crate::harness::{Cli, Server, files_below, verify_extracted};

const GROUPS: [&str; 2] = ["myactivity.search", "chrome.history"];

#[test]
fn a_pull_of_two_groups_extracts_one_verified_portability_tree() {
    let server = Server::start(&["--emulator-records", "300"]);
    let token = server.admin_token("puller", &GROUPS.join(","), "one-time");
    let cli = Cli::new();
    let out = cli.home.path().join("archive");
    let out_arg = out.to_str().expect("utf8");
    let run = cli.pull(&token, &server.base, &GROUPS.join(","), out_arg, &["--json"]);
    run.assert_code(0);
    let doc = run.json();
    let printed = Path::new(doc["out"].as_str().unwrap_or_else(|| panic!("out: {doc}")));
    let printed = if printed.is_absolute() { printed.to_path_buf() } else { cli.home.path().join(printed) };
    assert_eq!(printed.canonicalize().expect("out exists"), out.canonicalize().expect("out"), "{doc}");

    // One COMPLETE, verified job per group.
    let jobs = doc["jobs"].as_array().unwrap_or_else(|| panic!("jobs: {doc}"));
    assert_eq!(jobs.len(), 2, "one job per group: {doc}");
    let resources: BTreeSet<&str> = jobs.iter().filter_map(|j| j["resource"].as_str()).collect();
    assert_eq!(resources, GROUPS.iter().copied().collect(), "{doc}");
    let ids: BTreeSet<&str> = jobs.iter().filter_map(|j| j["jobId"].as_str()).collect();
    assert_eq!(ids.len(), 2, "two distinct jobs: {doc}");
    for job in jobs {
        assert_eq!(job["state"], "COMPLETE", "{job}");
        assert_eq!(job["verified"], true, "{job}");
        assert!(job["exportTime"].is_string(), "{job}");
        let id = job["jobId"].as_str().expect("jobId");
        let sizes = server.part_sizes(&token, id);
        assert_eq!(job["urls"].as_u64(), Some(sizes.len() as u64), "every URL of the job: {job}");
        assert_eq!(job["bytes"].as_u64(), Some(sizes.iter().sum()), "bytes of all parts: {job}");
        assert!(job["files"].as_u64().is_some_and(|n| n > 0), "{job}");

        // Each job's own manifest (read from the server, not from the CLI's output) matches
        // the files extracted under --out, byte for byte.
        let manifest = server.manifest(&token, id);
        assert_eq!(manifest["resources"][0], job["resource"], "{manifest}");
        assert!(verify_extracted(&out, &manifest) > 0, "{manifest}");
    }

    // A single Portability/ tree (beside the CLI's own .dataport/ directory).
    let top: BTreeSet<String> = std::fs::read_dir(&out)
        .expect("out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".dataport")
        .collect();
    assert_eq!(top, BTreeSet::from(["Portability".to_owned()]), "{}", out.display());

    // Re-verify against the extracted Portability/manifest.json ourselves.
    let manifest_path = out.join("Portability").join("manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).expect("Portability/manifest.json"))
            .expect("manifest json");
    assert!(verify_extracted(&out, &manifest) > 0, "{manifest}");

    // Nothing half-downloaded is left behind, and no token is printed.
    let leftovers: Vec<_> = files_below(&out).into_iter().filter(|p| p.to_string_lossy().ends_with(".part")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(!run.stdout.contains(&token) && !run.stderr.contains(&token), "{run}");
}
