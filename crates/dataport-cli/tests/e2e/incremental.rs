//! `dataport pull --incremental` against an operator's SQLite table (a catalogue group with a
//! `time` column, the user's rows selected by their subject id): with time-based access and no
//! cooldown, two pulls with rows added between them hold every row of the user exactly once,
//! the second only the new ones.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Cli, Server, tempdir};

const GROUP: &str = "notes.lite";
const PASSWORD: &str = "a long enough password";

/// Runs `sql` on the SQLite file `db` (Python's sqlite3, as the repository's other tests use
/// Python); returns the first column of the rows of the last statement, as JSON.
fn sqlite(db: &Path, sql: &str) -> Vec<Value> {
    let script = "import json, sqlite3, sys\n\
        c = sqlite3.connect(sys.argv[1])\n\
        *head, last = [s for s in sys.argv[2].split(';') if s.strip()]\n\
        for s in head: c.execute(s)\n\
        rows = [r[0] for r in c.execute(last).fetchall()] if last.strip().upper().startswith('SELECT') else (c.execute(last), [])[1]\n\
        c.commit(); c.close()\n\
        print(json.dumps(rows))\n";
    let out = Command::new("python3").args(["-c", script]).arg(db).arg(sql).output().expect("python3");
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("rows")
}

fn catalogue(db: &Path) -> String {
    format!(
        "[[group]]\nname = \"{GROUP}\"\ntitle = \"Notes\"\ndescription = \"Move a copy of the notes you wrote\"\n\
         time_filter = true\naccess_types = [\"one-time\", \"time-based\"]\nfolder = \"Notes\"\nformat = \"json\"\n\
         file = \"notes.json\"\n\n[group.source]\nkind = \"sql\"\ndatabase = \"sqlite://{}\"\n\
         query = \"SELECT id, title, created_at FROM notes WHERE owner = :subject\"\ntime_column = \"created_at\"\n",
        db.display()
    )
}

fn ids(rows: &[Value]) -> Vec<i64> {
    rows.iter()
        .map(|r| match r {
            Value::Number(n) => n.as_i64().expect("id"),
            Value::Object(o) => o["id"].as_i64().or_else(|| o["id"].as_str()?.parse().ok()).expect("id"),
            other => panic!("a row: {other}"),
        })
        .collect()
}

fn instant(value: &Value) -> time::OffsetDateTime {
    let text = value.as_str().unwrap_or_else(|| panic!("a time: {value}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).expect("RFC 3339")
}

#[test]
fn two_incremental_pulls_with_rows_added_between_hold_each_row_once() {
    let dir = tempdir();
    let db = dir.path().join("notes.sqlite");
    sqlite(
        &db,
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, title TEXT, created_at TEXT NOT NULL);\
         INSERT INTO notes VALUES (1, 'alice-subject', 'first', '2024-01-01T10:00:00Z');\
         INSERT INTO notes VALUES (2, 'alice-subject', 'second', '2024-02-01T10:00:00Z');\
         INSERT INTO notes VALUES (3, 'alice-subject', 'third', '2024-03-01T10:00:00.250Z');\
         INSERT INTO notes VALUES (4, 'bob', 'not alice''s', '2024-03-02T10:00:00Z');\
         INSERT INTO notes VALUES (5, 'alice-subject', 'fourth', '2025-01-01T00:00:00Z')",
    );
    let catalogue_path = dir.path().join("catalogue.toml");
    std::fs::write(&catalogue_path, catalogue(&db)).expect("catalogue");
    let server =
        Server::start(&["--catalogue", catalogue_path.to_str().expect("utf8"), "--demo", "--cooldown-seconds", "0"]);
    server.add_user("alice", "alice-subject", PASSWORD);

    // Signed in as alice, with 30 days of access.
    let cli = Cli::new();
    let (login, _, consented) = cli.login(&server, GROUP, ("alice", PASSWORD), |_| true, "30d");
    login.assert_code(0);
    assert_eq!(consented.offered, [GROUP]);
    assert_eq!(login.json()["granted"], serde_json::json!([GROUP]), "{login}");

    let pull = |name: &str| {
        let out = cli.home.path().join(name);
        let run =
            cli.run(&["pull", "--resources", GROUP, "--incremental", "--out", out.to_str().expect("utf8"), "--json"]);
        assert_eq!(run.code, 0, "{run}\n--- dataportd's log\n{}", server.log());
        let doc = run.json();
        let job = doc["jobs"][0].clone();
        assert_eq!(job["state"], "COMPLETE", "{doc}");
        assert_eq!(job["verified"], true, "{doc}");
        let file = out.join("Portability").join("Notes").join("notes.json");
        let rows: Vec<Value> = serde_json::from_str(
            &std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}\n{run}", file.display())),
        )
        .expect("notes.json is a JSON array");
        (job, ids(&rows))
    };

    let (first, first_ids) = pull("first");
    assert!(first.get("startTime").is_none_or(Value::is_null), "the first pull has no start: {first}");
    assert_eq!(first_ids, [1, 2, 3, 5], "alice's rows, in time order, not bob's");
    let first_export = instant(&first["exportTime"]);
    let state = cli.config.join("state").join("default.json");
    assert!(state.is_file(), "the last exportTime is remembered in {}", state.display());

    // Rows written after the first export, by the clock of the machine that runs both.
    std::thread::sleep(Duration::from_millis(50));
    sqlite(
        &db,
        "INSERT INTO notes VALUES (6, 'alice-subject', 'new one', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));\
         INSERT INTO notes VALUES (7, 'bob', 'new for bob', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));\
         INSERT INTO notes VALUES (8, 'alice-subject', 'new two', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));\
         INSERT INTO notes VALUES (9, 'alice-subject', 'new three', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
    );
    std::thread::sleep(Duration::from_millis(50));

    let (second, second_ids) = pull("second");
    assert_eq!(
        instant(&second["startTime"]),
        first_export,
        "the second pull starts at the first's exportTime: {second}"
    );
    assert!(instant(&second["exportTime"]) > first_export, "{second}");
    assert_eq!(second_ids, [6, 8, 9], "only the rows added since the first pull");

    // Together: every row of alice's once, none missing, none twice.
    let all: Vec<i64> = first_ids.iter().chain(&second_ids).copied().collect();
    let unique: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "no row twice: {all:?}");
    let table: BTreeSet<i64> = sqlite(&db, "SELECT id FROM notes WHERE owner = 'alice-subject'")
        .iter()
        .map(|v| v.as_i64().expect("id"))
        .collect();
    assert_eq!(unique, table, "no row missing");
}
