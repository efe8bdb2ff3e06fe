//! The CLI depends on the wire types only: `cargo tree -p dataport-cli -e normal` shows none of
//! the server's crates (no sqlx, no object_store, no axum).

use std::process::Command;
use std::time::Duration;

use crate::harness::Running;

#[test]
fn the_cli_depends_on_no_server_crate() {
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["tree", "-p", "dataport-cli", "-e", "normal", "--prefix", "none", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::null());
    let run = Running::spawn(command, &["cargo", "tree"]).finish(Duration::from_secs(300));
    run.assert_code(0);
    let crates: Vec<&str> = run.stdout.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(crates.contains(&"dataport-types"), "{}", run.stdout);
    for banned in ["sqlx", "object_store", "axum", "dataport-core", "dataport-server"] {
        let found: Vec<&&str> =
            crates.iter().filter(|c| **c == banned || c.starts_with(&format!("{banned}-"))).collect();
        assert!(found.is_empty(), "dataport-cli depends on {banned}: {found:?}");
    }
}
