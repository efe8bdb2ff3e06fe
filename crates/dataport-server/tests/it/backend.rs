//! Where the tests' servers keep their state (SPEC §15). By default SQLite and a blob directory
//! in the test's temporary directory; with `DATAPORT_TEST_BACKEND=postgres`, every server gets
//! a fresh PostgreSQL database on the server `DATAPORT_TEST_POSTGRES_URL` names and a fresh key
//! prefix of the S3 bucket `DATAPORT_TEST_S3_URL` names, so that the same suite runs on both
//! deployments. `scripts/test` starts both services and runs the suite once per backend.

use dataport_core::Config;
use dataport_core::testing;

/// A database and a blob store for one test's servers; `None` fields mean the embedded default
/// inside the data directory.
#[derive(Clone, Debug, Default)]
pub struct Backend {
    pub database_url: Option<String>,
    pub blob_url: Option<String>,
}

impl Backend {
    /// The backend the suite runs on: the embedded default, or fresh PostgreSQL + S3 ones.
    pub async fn for_test() -> Self {
        match std::env::var("DATAPORT_TEST_BACKEND").as_deref() {
            Ok("postgres") => Self::scale_out().await.expect("DATAPORT_TEST_BACKEND=postgres needs both services"),
            Ok("sqlite") | Err(_) => Self::default(),
            Ok(other) => panic!("DATAPORT_TEST_BACKEND={other}: expected sqlite or postgres"),
        }
    }

    /// Fresh PostgreSQL + S3, whatever the suite's backend, or `None` (after saying so loudly;
    /// under `CI=true` a missing service fails instead) when the services are not there.
    pub async fn scale_out() -> Option<Self> {
        let server = testing::service(testing::POSTGRES_URL_VAR, "a PostgreSQL test")?;
        let blob_url = testing::fresh_s3_prefix()?;
        Some(Self { database_url: Some(testing::fresh_postgres_database(&server).await), blob_url: Some(blob_url) })
    }

    /// Whether this is PostgreSQL + S3 rather than the embedded default.
    pub fn is_scale_out(&self) -> bool {
        self.database_url.is_some()
    }

    pub fn configure(&self, config: &mut Config) {
        config.database_url.clone_from(&self.database_url);
        config.blob_url.clone_from(&self.blob_url);
    }

    /// The same as `dataportd` options, for servers and admin commands run as processes.
    pub fn args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(url) = &self.database_url {
            args.extend(["--database-url".to_owned(), url.clone()]);
        }
        if let Some(url) = &self.blob_url {
            args.extend(["--blob-url".to_owned(), url.clone()]);
        }
        args
    }
}

/// Direct SQL on a test server's database, behind the server's back: to see what no API shows
/// (that nothing was stored, that a row went) or to corrupt a row on purpose. Statements use `?`
/// placeholders and SQL that both dialects read.
pub enum Sql {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Sql {
    /// The database of the server whose data directory is `dir` and whose backend is `backend`.
    pub async fn open(dir: &std::path::Path, backend: &Backend) -> Self {
        match &backend.database_url {
            Some(url) => Self::Postgres(sqlx::PgPool::connect(url).await.expect("connect to the test database")),
            None => {
                let path = dir.join("dataport.sqlite");
                Self::Sqlite(sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.expect("db"))
            }
        }
    }

    /// `?` placeholders as PostgreSQL's `$1, $2, …`.
    fn dialect(&self, sql: &str) -> String {
        match self {
            Self::Sqlite(_) => sql.to_owned(),
            Self::Postgres(_) => {
                let mut n = 0;
                sql.chars()
                    .map(|c| match c {
                        '?' => {
                            n += 1;
                            format!("${n}")
                        }
                        c => c.to_string(),
                    })
                    .collect()
            }
        }
    }

    /// The single integer `sql` selects.
    pub async fn count(&self, sql: &str) -> i64 {
        let sql = sqlx::AssertSqlSafe(self.dialect(sql));
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            Self::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .expect("count")
    }

    /// The text column `sql` selects, one value per row.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        let sql = sqlx::AssertSqlSafe(self.dialect(sql));
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
            Self::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
        }
        .expect("select")
    }

    /// Runs `sql` with `binds` for its `?` placeholders.
    pub async fn execute(&self, sql: &str, binds: &[&str]) {
        let sql = sqlx::AssertSqlSafe(self.dialect(sql));
        match self {
            Self::Sqlite(pool) => {
                binds.iter().fold(sqlx::query(sql), |q, b| q.bind(*b)).execute(pool).await.map(|_| ())
            }
            Self::Postgres(pool) => {
                binds.iter().fold(sqlx::query(sql), |q, b| q.bind(*b)).execute(pool).await.map(|_| ())
            }
        }
        .expect("execute");
    }

    pub async fn close(self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// A private S3-compatible server (`scripts/s3-server`, s3s-fs) for a test that stops it, or
/// that inspects the multipart uploads in progress (s3s-fs keeps them as files at the top of its
/// data directory, where other tests' uploads would mix with them on the shared server).
pub struct S3Server {
    dir: tempfile::TempDir,
    url: String,
}

impl S3Server {
    /// Starts one, or `None` (loudly; under `CI=true` a failure) when the suite has no S3.
    pub fn start() -> Option<Self> {
        testing::service(testing::S3_URL_VAR, "an S3 test")?;
        let dir = tempfile::tempdir().expect("tempdir");
        let url = s3_server(&["start"], dir.path());
        Some(Self { dir, url })
    }

    /// A fresh key prefix on this server, as a blob URL.
    pub fn blob_url(&self) -> String {
        testing::with_s3_prefix(&self.url)
    }

    pub fn stop(&self) {
        s3_server(&["stop"], self.dir.path());
    }

    /// Starts it again on the same port, with the same data.
    pub fn restart(&self) {
        assert_eq!(s3_server(&["start"], self.dir.path()), self.url, "restarted on the same port");
    }

    /// Multipart uploads started and neither completed nor aborted.
    pub fn uploads_in_progress(&self) -> usize {
        self.top_files().filter(|(name, _)| name.starts_with(".upload-")).count()
    }

    /// Bytes of the parts of uploads in progress.
    pub fn upload_bytes_in_progress(&self) -> u64 {
        self.top_files().filter(|(name, _)| name.starts_with(".upload_id-")).map(|(_, size)| size).sum()
    }

    /// The keys of the committed objects below `prefix` of the bucket.
    pub fn objects_below(&self, prefix: &str) -> Vec<String> {
        let root = self.dir.path().join("data/dataport-test");
        crate::harness::files_below(&root.join(prefix))
            .iter()
            .filter_map(|path| path.strip_prefix(&root).ok()?.to_str().map(str::to_owned))
            .filter(|key| !key.rsplit('/').next().is_some_and(|name| name.starts_with('.')))
            .collect()
    }

    fn top_files(&self) -> impl Iterator<Item = (String, u64)> {
        let entries = std::fs::read_dir(self.dir.path().join("data")).expect("s3 data dir");
        entries.flatten().filter_map(|entry| {
            let size = entry.metadata().ok().filter(|m| m.is_file())?.len();
            Some((entry.file_name().into_string().ok()?, size))
        })
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `scripts/s3-server` (`start` is its default command) on `dir`; returns what it prints.
fn s3_server(command: &[&str], dir: &std::path::Path) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/s3-server");
    let args: Vec<&str> = command.iter().copied().filter(|c| *c != "start").collect();
    let out = std::process::Command::new("bash").arg(script).args(args).arg(dir).output().expect("s3-server");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf8").trim().to_owned()
}
