//! `serve --config FILE` and `config check` (issue #12 item 2): one TOML file with every
//! `serve` option, under the environment and the flags; unknown keys refused by name.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::harness::Daemon;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../dataport.example.toml");

/// `dataportd config check ARGS` with `env` set; (success, stdout, stderr).
fn check(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dataportd"));
    command.args(["config", "check"]).args(args).env_remove("RUST_BACKTRACE");
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().expect("dataportd runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The keys of a TOML configuration's lines, commented out or not.
fn keys(text: &str) -> Vec<String> {
    let mut keys: Vec<String> = text
        .lines()
        .filter_map(|line| {
            let line = line.trim_start_matches("# ");
            let (key, _) = line.split_once(" = ")?;
            key.chars().all(|c| c.is_ascii_lowercase() || c == '-').then(|| key.to_owned())
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_str().expect("utf8").to_owned()
}

#[test]
fn the_example_file_passes_and_documents_every_option() {
    let (ok, out, err) = check(&["--config", EXAMPLE], &[]);
    assert!(ok, "{err}");
    assert!(out.ends_with("# ok: the configuration is valid\n"), "{out}");
    let example = std::fs::read_to_string(EXAMPLE).expect("example");
    assert_eq!(keys(&example), keys(&out), "dataport.example.toml names every serve option");
    assert!(keys(&out).contains(&"metrics-listen".to_owned()));
    // What `config check` prints is itself a configuration file that reads back the same.
    let dir = tempfile::tempdir().expect("tempdir");
    let printed = write(dir.path(), "printed.toml", &out);
    let (ok, again, err) = check(&["--config", &printed], &[]);
    assert!(ok, "{err}");
    let values = |text: &str| -> Vec<String> {
        text.lines().filter(|l| !l.starts_with('#')).map(|l| l.split("  # ").next().unwrap_or(l).to_owned()).collect()
    };
    assert_eq!(values(&again), values(&out));
}

#[test]
fn an_unknown_key_is_an_error_naming_the_file_and_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(dir.path(), "dataport.toml", "listen = \"127.0.0.1:8080\"\ndatabse-url = \"sqlite://x\"\n");
    let (ok, _, err) = check(&["--config", &file], &[]);
    assert!(!ok);
    assert!(err.contains("unknown key `databse-url`") && err.contains(&file), "{err}");
    let file = write(dir.path(), "list.toml", "listen = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\n");
    let (ok, _, err) = check(&["--config", &file], &[]);
    assert!(!ok && err.contains("key `listen`: expected one value"), "{err}");
    let file = write(dir.path(), "value.toml", "compression-level = 12\n");
    let (ok, _, err) = check(&["--config", &file], &[]);
    assert!(!ok && err.contains("compression-level"), "a value is checked by the option's own parser: {err}");
    let (ok, _, err) = check(&["--config", "/nonexistent/dataport.toml"], &[]);
    assert!(!ok && err.contains("/nonexistent/dataport.toml"), "{err}");
}

#[test]
fn the_file_is_under_the_environment_which_is_under_the_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "dataport.toml",
        "emulator_records = 7\nemulator-seed = 70\nworkers = 700\n\
         database-url = \"postgres://dataport:hunter2-secret@db/dataport\"\n\
         signing-keys = \"k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"\n\
         role = \"api\"\n",
    );
    let env = [("DATAPORT_EMULATOR_SEED", "80"), ("DATAPORT_WORKERS", "800")];
    let (ok, out, err) = check(&["--config", &file, "--workers", "900"], &env);
    assert!(ok, "{err}");
    assert!(out.contains("emulator-records = 7  # file\n"), "file only: {out}");
    assert!(out.contains("emulator-seed = 80  # environment\n"), "environment over file: {out}");
    assert!(out.contains("workers = 900  # flag\n"), "flag over both: {out}");
    assert!(out.contains("role = \"api\"  # file\n"), "{out}");
    assert!(out.contains("cooldown-seconds = 86400  # default\n"), "{out}");
    assert!(!out.contains("hunter2") && out.contains("postgres://dataport:***@db/dataport"), "{out}");
    assert!(!out.contains("AAAAAAAA") && out.contains("signing-keys = \"k1:<redacted>\""), "{out}");
    // DATAPORT_CONFIG names the file too; --config wins over it.
    let (ok, out, err) = check(&[], &[("DATAPORT_CONFIG", &file)]);
    assert!(ok && out.contains("emulator-records = 7  # file\n"), "{out}{err}");
    let other = write(dir.path(), "other.toml", "emulator-records = 5\n");
    let (ok, out, err) = check(&["--config", &other], &[("DATAPORT_CONFIG", &file)]);
    assert!(ok && out.contains("emulator-records = 5  # file\n"), "{out}{err}");
    // A configuration the server would refuse is refused here too.
    let sqlite = write(dir.path(), "sqlite.toml", "role = \"worker\"\n");
    let (ok, _, err) = check(&["--config", &sqlite], &[]);
    assert!(!ok && err.contains("only --role all"), "{err}");
}

#[tokio::test]
async fn serve_runs_with_the_files_options() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "dataport.toml",
        "public-url = \"https://portability.example.test\"\nemulator-records = 3\nno-demo = true\n",
    );
    let (daemon, base) = Daemon::start_healthy(dir.path(), &["--config", &file], "config").await;
    let doc: Value = reqwest::get(format!("{base}/$discovery/rest?version=v1"))
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(doc["rootUrl"], "https://portability.example.test/", "{}", daemon.log());
}

/// Issue #22 finding 10: a password in a database URL's query (`?password=`, libpq's other form)
/// was printed by `config check` and by start-up errors; only `user:pass@` was redacted. Now
/// secret-looking query parameters are redacted too, in the database and the blob URL alike.
#[test]
fn passwords_in_url_queries_are_never_printed() {
    let database = "postgres://dataport@127.0.0.1:1/dataport?sslmode=disable&password=hunter2-secret";
    let blob = "s3://archives/prefix?endpoint=http://127.0.0.1:1&secret_access_key=hunter2-secret";
    let (ok, out, err) = check(&["--database-url", database, "--blob-url", blob], &[]);
    assert!(ok, "{err}");
    assert!(!out.contains("hunter2") && !err.contains("hunter2"), "{out}{err}");
    assert!(out.contains("sslmode=disable&password=***"), "{out}");
    // Start-up errors: the database does not answer; the blob URL has a parameter S3 does not know.
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [["--database-url", database], ["--blob-url", blob]] {
        let out = Command::new(env!("CARGO_BIN_EXE_dataportd"))
            .args(["serve", "--no-demo", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(args)
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("dataportd");
        assert!(!out.status.success(), "{args:?}");
        let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(printed.contains("=***"), "{args:?}: the error names the URL, redacted: {printed}");
        assert!(!printed.contains("hunter2"), "{args:?}: {printed}");
    }
}
