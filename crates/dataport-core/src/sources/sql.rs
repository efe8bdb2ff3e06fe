//! `kind = "sql"` (SPEC §5.1): one user's rows of a query on the operator's PostgreSQL or SQLite
//! database, streamed into the group's file as JSON, NDJSON or CSV.
//!
//! The operator writes the query that selects a user's rows with `:subject`; dataport binds the
//! subject as a parameter (never spliced into SQL, whatever characters it holds) and wraps the
//! query itself with the time window (`time_column >= startTime AND time_column < exportTime`)
//! and the order (`ORDER BY time_column`), so that no operator query can get incremental exports
//! wrong. Rows are streamed from the server and written one at a time; memory does not grow with
//! the number of rows.
//!
//! Values keep their meaning in every format: integers and NUMERIC exactly as the database
//! prints them (no float rounding; PostgreSQL's own JSON rendering), timestamps as RFC 3339 in
//! UTC, bytes as base64, JSON columns as nested JSON (a string in CSV), NULL as JSON `null` or an
//! empty CSV field. The database is opened read-only where the driver allows (SQLite), and its
//! pool connects at the first export, so that start-up does not depend on it.

use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use futures_util::TryStreamExt;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Column, Executor, Row, SqlSafeStr, Statement, TypeInfo, ValueRef};

use dataport_types::Timestamp;

use super::{AsyncDataSource, ExportRequest, Failure, FileSink, SourceError, csv_field, data_layout};
use crate::catalogue::{Format, ResourceGroup, SqlSourceConfig};

/// How often a long export checks for cancellation, in rows.
const CANCEL_CHECK_EVERY: u64 = 1024;

/// A group's rows from an SQL database.
pub struct SqlSource {
    db: Database,
    /// The operator's query.
    query: String,
    time_column: Option<String>,
}

enum Database {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// How a selected column's text becomes a JSON value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Already JSON (PostgreSQL's `to_json`).
    Json,
    /// A timestamp as the database prints it, made RFC 3339 UTC here.
    Time,
    /// Base64 of bytes.
    Bytes,
    /// A plain string.
    Text,
    /// A number as text (SQLite integers and reals).
    Number,
}

impl SqlSource {
    /// A source for `config`; the URL is checked now, the connection made at the first export.
    pub fn new(config: &SqlSourceConfig) -> Result<Self, String> {
        let redacted = crate::config::redact_url(&config.database);
        let db = if config.database.starts_with("sqlite://") {
            let options = SqliteConnectOptions::from_str(&config.database)
                .map_err(|e| format!("source.database {redacted:?}: {e}"))?
                .read_only(true);
            Database::Sqlite(SqlitePoolOptions::new().max_connections(2).connect_lazy_with(options))
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(10))
                .connect_lazy(&config.database)
                .map_err(|e| format!("source.database {redacted:?}: {e}"))?;
            Database::Postgres(pool)
        };
        Ok(Self { db, query: config.query.clone(), time_column: config.time_column.clone() })
    }
}

/// `query` with each `:subject` (not part of a `::cast` or a longer name) replaced by `with`.
fn bind_subject(query: &str, with: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    while let Some(at) = rest.find(":subject") {
        let before_colon = out.ends_with(':') || (at > 0 && rest.as_bytes()[at - 1] == b':');
        let after = rest.as_bytes().get(at + ":subject".len()).copied();
        let ends = after.is_none_or(|b| !(b.is_ascii_alphanumeric() || b == b'_'));
        out.push_str(&rest[..at]);
        out.push_str(if !before_colon && ends { with } else { ":subject" });
        rest = &rest[at + ":subject".len()..];
    }
    out.push_str(rest);
    out
}

/// A column name quoted for SQL (both dialects use double quotes).
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Transient: the database could not be reached or is briefly unable to answer; permanent: the
/// query or the data is wrong, which a retry will not change. The database's message names the
/// operator's schema, so it is the operator's detail: apps are told only the class.
fn sql_error(e: sqlx::Error) -> SourceError {
    let transient = match &e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // PostgreSQL classes 08 (connection), 53 (resources), 57P (shutdown), 40001/40P01
            // (serialization, deadlock); SQLite BUSY (5) and LOCKED (6).
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || code == "40001"
                || code == "40P01"
                || code == "5"
                || code == "6"
        }),
        _ => false,
    };
    match (transient, &e) {
        (true, sqlx::Error::PoolTimedOut) => SourceError::fault(Failure::TimedOut, format!("source database: {e}")),
        (true, _) => SourceError::fault(Failure::Unavailable, format!("source database: {e}")),
        (false, _) => SourceError::fault(Failure::Query, format!("source query: {e}")),
    }
}

/// An RFC 3339 UTC text for a timestamp the database printed (`2024-05-01 10:00:00.5`,
/// `2024-05-01T10:00:00+02:00`, …); the text as it is when it does not parse.
fn rfc3339_utc(text: &str) -> String {
    let trimmed = text.trim();
    let candidates = [trimmed.to_owned(), format!("{}Z", trimmed.replacen(' ', "T", 1)), trimmed.replacen(' ', "T", 1)];
    for candidate in candidates {
        if let Ok(at) = time::OffsetDateTime::parse(&candidate, &time::format_description::well_known::Rfc3339) {
            let micros = at.unix_timestamp_nanos() / 1000;
            if let Ok(micros) = i64::try_from(micros) {
                return Timestamp::from_micros(micros).to_string();
            }
        }
    }
    text.to_owned()
}

/// A row's values as (JSON text, CSV text) pairs, `None` for NULL.
struct Cell {
    json: String,
    csv: String,
}

fn cell(kind: Kind, text: &str) -> Cell {
    match kind {
        Kind::Json => {
            // A JSON string becomes its plain text in CSV; anything else stays JSON text.
            let csv = serde_json::from_str::<String>(text).unwrap_or_else(|_| text.to_owned());
            Cell { json: text.to_owned(), csv }
        }
        Kind::Number => Cell { json: text.to_owned(), csv: text.to_owned() },
        Kind::Time => {
            let t = rfc3339_utc(text);
            Cell { json: serde_json::Value::String(t.clone()).to_string(), csv: t }
        }
        Kind::Bytes => {
            let b64: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            Cell { json: serde_json::Value::String(b64.clone()).to_string(), csv: b64 }
        }
        Kind::Text => Cell { json: serde_json::Value::String(text.to_owned()).to_string(), csv: text.to_owned() },
    }
}

/// Writes rows of named columns in the group's format.
struct RowWriter<'s> {
    sink: &'s mut dyn FileSink,
    format: Format,
    /// Column names, JSON-encoded once.
    keys: Vec<String>,
    buffer: Vec<u8>,
    rows: u64,
}

impl<'s> RowWriter<'s> {
    fn begin(sink: &'s mut dyn FileSink, group: &ResourceGroup, names: &[String]) -> Result<Self, SourceError> {
        let mut header = Vec::new();
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                header.push(b',');
            }
            csv_field(&mut header, name);
        }
        let header = String::from_utf8_lossy(&header).into_owned();
        sink.begin_file(&group.file_name(), data_layout(group.format, &header))?;
        let keys = names.iter().map(|n| serde_json::Value::String(n.clone()).to_string()).collect();
        Ok(Self { sink, format: group.format, keys, buffer: Vec::with_capacity(1024), rows: 0 })
    }

    fn row(&mut self, cells: &[Option<Cell>]) -> Result<(), SourceError> {
        let b = &mut self.buffer;
        b.clear();
        if self.format == Format::Csv {
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    b.push(b',');
                }
                if let Some(cell) = cell {
                    csv_field(b, &cell.csv);
                }
            }
            b.push(b'\n');
        } else {
            b.push(b'{');
            for (i, (key, cell)) in self.keys.iter().zip(cells).enumerate() {
                if i > 0 {
                    b.push(b',');
                }
                b.extend_from_slice(key.as_bytes());
                b.push(b':');
                b.extend_from_slice(cell.as_ref().map_or("null", |c| c.json.as_str()).as_bytes());
            }
            b.push(b'}');
            if self.format == Format::Ndjson {
                b.push(b'\n');
            }
        }
        self.sink.record(b)?;
        self.rows += 1;
        Ok(())
    }

    fn end(self) -> Result<u64, SourceError> {
        self.sink.end_file()?;
        Ok(self.rows)
    }
}

impl SqlSource {
    /// The wrapped query: the operator's, with the window and the order around it.
    fn wrapped(&self, select: &str, inner: &str, placeholders: [&str; 2], request: &ExportRequest<'_>) -> String {
        let mut sql = format!("SELECT {select} FROM ({inner}) AS dataport_rows");
        if let Some(column) = &self.time_column {
            let column = format!("dataport_rows.{}", quoted(column));
            let (start, end) = match &self.db {
                Database::Postgres(_) => {
                    (format!("{column} >= {}", placeholders[0]), format!("{column} < {}", placeholders[1]))
                }
                Database::Sqlite(_) => (
                    format!("julianday({column}) >= julianday({})", placeholders[0]),
                    format!("julianday({column}) < julianday({})", placeholders[1]),
                ),
            };
            sql.push_str(" WHERE ");
            if request.start_time.is_some() {
                sql.push_str(&start);
                sql.push_str(" AND ");
            }
            sql.push_str(&end);
            match &self.db {
                Database::Postgres(_) => sql.push_str(&format!(" ORDER BY {column}")),
                Database::Sqlite(_) => sql.push_str(&format!(" ORDER BY julianday({column})")),
            }
        }
        sql
    }

    /// Binds the window's bounds after the subject: the start if the request has one, then the end.
    fn bind_window<'q, DB: sqlx::Database>(
        &self,
        mut query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
        request: &ExportRequest<'_>,
    ) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
    where
        String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        if self.time_column.is_some() {
            if let Some(start) = request.start_time {
                query = query.bind(start.to_string());
            }
            query = query.bind(request.export_time.to_string());
        }
        query
    }

    async fn export_postgres(
        &self,
        pool: &PgPool,
        group: &ResourceGroup,
        request: &ExportRequest<'_>,
        sink: &mut dyn FileSink,
    ) -> Result<u64, SourceError> {
        let mut conn = pool.acquire().await.map_err(sql_error)?;
        let inner = bind_subject(&self.query, "$1");
        // The columns of the operator's query, to choose how each one is rendered.
        let describe = sqlx::AssertSqlSafe(format!("SELECT * FROM ({inner}) AS dataport_rows"));
        let described = conn.prepare(describe.into_sql_str()).await.map_err(sql_error)?;
        let mut names = Vec::new();
        let mut kinds = Vec::new();
        let mut select = Vec::new();
        for column in described.columns() {
            let name = column.name().to_owned();
            let c = format!("dataport_rows.{}", quoted(&name));
            let (kind, expr) = match column.type_info().name() {
                "TIMESTAMPTZ" => {
                    (Kind::Time, format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"))
                }
                "TIMESTAMP" => (Kind::Time, format!("to_char({c}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')")),
                "BYTEA" => (Kind::Bytes, format!("encode({c}, 'base64')")),
                _ => (Kind::Json, format!("to_json({c})::text")),
            };
            select.push(format!("{expr} AS {}", quoted(&format!("c{}", names.len()))));
            names.push(name);
            kinds.push(kind);
        }
        let bounds = match request.start_time {
            Some(_) => ["$2::timestamptz", "$3::timestamptz"],
            None => ["", "$2::timestamptz"],
        };
        let sql = self.wrapped(&select.join(", "), &inner, bounds, request);
        let query = self.bind_window(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(request.subject), request);
        let mut writer = RowWriter::begin(sink, group, &names)?;
        let mut rows = query.fetch(&mut *conn);
        let mut cells = Vec::with_capacity(kinds.len());
        while let Some(row) = rows.try_next().await.map_err(sql_error)? {
            cells.clear();
            for (i, kind) in kinds.iter().enumerate() {
                let text: Option<String> = row.try_get(i).map_err(sql_error)?;
                cells.push(text.filter(|t| *kind != Kind::Json || t != "null").map(|t| cell(*kind, &t)));
            }
            writer.row(&cells)?;
            if writer.rows % CANCEL_CHECK_EVERY == 0 {
                request.check()?;
            }
        }
        drop(rows);
        writer.end()
    }

    async fn export_sqlite(
        &self,
        pool: &SqlitePool,
        group: &ResourceGroup,
        request: &ExportRequest<'_>,
        sink: &mut dyn FileSink,
    ) -> Result<u64, SourceError> {
        let mut conn = pool.acquire().await.map_err(sql_error)?;
        // SQLite numbers named parameters by first appearance: :subject is 1 however often it
        // appears, and the window's bounds come after it.
        let inner = bind_subject(&self.query, "?1");
        let bounds = if request.start_time.is_some() { ["?2", "?3"] } else { ["", "?2"] };
        let sql = self.wrapped("*", &inner, bounds, request);
        let query = self.bind_window(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(request.subject), request);
        let mut rows = query.fetch(&mut *conn);
        let mut writer: Option<(RowWriter<'_>, Vec<String>)> = None;
        let mut sink = Some(sink);
        let mut cells = Vec::new();
        while let Some(row) = rows.try_next().await.map_err(sql_error)? {
            if writer.is_none() {
                let names: Vec<String> = row.columns().iter().map(|c| c.name().to_owned()).collect();
                let sink = sink.take().ok_or_else(|| SourceError::Permanent("sink taken twice".into()))?;
                writer = Some((RowWriter::begin(sink, group, &names)?, names));
            }
            let Some((writer, names)) = writer.as_mut() else { continue };
            cells.clear();
            for (i, name) in names.iter().enumerate() {
                let raw = row.try_get_raw(i).map_err(sql_error)?;
                if raw.is_null() {
                    cells.push(None);
                    continue;
                }
                let type_name = raw.type_info().name().to_owned();
                let is_time = self.time_column.as_deref() == Some(name.as_str());
                let value = match type_name.as_str() {
                    "INTEGER" => cell(Kind::Number, &row.try_get::<i64, _>(i).map_err(sql_error)?.to_string()),
                    "REAL" => {
                        let v: f64 = row.try_get(i).map_err(sql_error)?;
                        match serde_json::Number::from_f64(v) {
                            Some(n) => cell(Kind::Number, &n.to_string()),
                            None => cell(Kind::Text, &v.to_string()),
                        }
                    }
                    "BLOB" => {
                        let bytes: Vec<u8> = row.try_get(i).map_err(sql_error)?;
                        cell(Kind::Bytes, &base64::engine::general_purpose::STANDARD.encode(bytes))
                    }
                    _ => {
                        let text: String = row.try_get(i).map_err(sql_error)?;
                        cell(if is_time { Kind::Time } else { Kind::Text }, &text)
                    }
                };
                cells.push(Some(value));
            }
            writer.row(&cells)?;
            if writer.rows % CANCEL_CHECK_EVERY == 0 {
                request.check()?;
            }
        }
        drop(rows);
        match (writer, sink) {
            (Some((writer, _)), _) => writer.end(),
            // No row: an empty file whose CSV header cannot be known from SQLite's dynamic rows.
            (None, Some(sink)) => RowWriter::begin(sink, group, &[])?.end(),
            (None, None) => Ok(0),
        }
    }
}

#[async_trait::async_trait(?Send)]
impl AsyncDataSource for SqlSource {
    async fn export(
        &self,
        group: &ResourceGroup,
        request: &ExportRequest<'_>,
        sink: &mut dyn FileSink,
    ) -> Result<(), SourceError> {
        let rows = match &self.db {
            Database::Postgres(pool) => self.export_postgres(pool, group, request, sink).await?,
            Database::Sqlite(pool) => self.export_sqlite(pool, group, request, sink).await?,
        };
        tracing::debug!(group = %group.name, rows, "sql source exported");
        request.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_placeholder_is_replaced_only_where_it_stands_alone() {
        assert_eq!(bind_subject("SELECT * FROM t WHERE a = :subject", "$1"), "SELECT * FROM t WHERE a = $1");
        assert_eq!(bind_subject("WHERE a = :subject OR b = :subject", "$1"), "WHERE a = $1 OR b = $1");
        assert_eq!(bind_subject("WHERE a::subject_t = :subjects", "$1"), "WHERE a::subject_t = :subjects");
        assert_eq!(bind_subject("WHERE a = x::subject", "$1"), "WHERE a = x::subject");
    }

    #[test]
    fn timestamps_become_rfc3339_utc() {
        assert_eq!(rfc3339_utc("2024-05-01T10:00:00.000000"), "2024-05-01T10:00:00Z");
        assert_eq!(rfc3339_utc("2024-05-01 10:00:00"), "2024-05-01T10:00:00Z");
        assert_eq!(rfc3339_utc("2024-05-01T12:00:00+02:00"), "2024-05-01T10:00:00Z");
        assert_eq!(rfc3339_utc("2024-05-01T10:00:00.250000"), "2024-05-01T10:00:00.250Z");
        assert_eq!(rfc3339_utc("not a time"), "not a time");
    }

    #[test]
    fn csv_fields_are_quoted_when_they_must_be() {
        let mut out = Vec::new();
        csv_field(&mut out, "a,\"b\"\nc");
        assert_eq!(out, b"\"a,\"\"b\"\"\nc\"");
    }
}
