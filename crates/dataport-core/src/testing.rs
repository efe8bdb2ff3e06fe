//! Test support shared by every crate's tests (the `testing` feature): the PostgreSQL server and
//! the S3 bucket the tests run against (`scripts/test` starts both), fresh databases and fresh
//! key prefixes on them.

use sqlx::{Connection, PgConnection};

/// Names the PostgreSQL server the tests use (`scripts/pg-cluster DIR` starts a throwaway one).
pub const POSTGRES_URL_VAR: &str = "DATAPORT_TEST_POSTGRES_URL";

/// The value of `var`, or `None` after saying loudly that `what` did not run; under `CI=true` a
/// missing service fails the test instead of skipping it.
pub fn service(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            let message = format!("!!! {var} is not set: {what} did NOT run (scripts/test starts the services)");
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
            eprintln!("{message}");
            None
        }
    }
}

/// Names the S3 bucket the tests use, as a blob URL (`scripts/s3-server DIR` starts a server).
pub const S3_URL_VAR: &str = "DATAPORT_TEST_S3_URL";

/// A fresh key prefix in the test bucket, as a blob URL, or `None` (see [`service`]).
pub fn fresh_s3_prefix() -> Option<String> {
    Some(with_s3_prefix(&service(S3_URL_VAR, "an S3 test")?))
}

/// The bucket of the blob URL `bucket` with a fresh key prefix.
pub fn with_s3_prefix(bucket: &str) -> String {
    let (location, query) = bucket.split_once('?').unwrap_or((bucket, ""));
    format!("{}/test-{}?{query}", location.trim_end_matches('/'), uuid::Uuid::new_v4().simple())
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let query = tail.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    format!("{scheme}://{authority}/{database}{query}")
}

/// Creates an empty database on the server at `server` and returns its URL.
pub async fn fresh_postgres_database(server: &str) -> String {
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(server).await.expect("connect to the test PostgreSQL server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.expect("create db");
    admin.close().await.expect("close");
    with_database(server, &name)
}
