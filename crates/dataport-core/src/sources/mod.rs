//! Data sources (SPEC §5.1): where a resource group's records come from, and the sink they are
//! written to.
//!
//! Each group of the catalogue is bound to one [`DataSource`] when the core opens ([`Sources`]):
//! the emulator, the operator's SQL database, HTTP service or file tree, or a source registered
//! in code (`kind = "custom"`). A source writes whole files into a [`FileSink`] — records of a
//! data file, or the bytes of a media file — and never sees the archive format. Sources run on a
//! blocking thread; the SQL and HTTP sources are async and run through [`OnRuntime`]. A source must
//! return promptly with [`SourceError::Cancelled`] once [`ExportRequest::is_cancelled`] turns
//! true, so that cancel stops an export within seconds.
//!
//! An operator can unit-test a custom source against [`MemorySink`].

pub mod emulator;
pub mod files;
pub mod http;
pub mod sql;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dataport_types::Timestamp;

use crate::catalogue::{Catalogue, Format, ResourceGroup, SourceConfig};

/// What to export for one group.
pub struct ExportRequest<'a> {
    /// The user's subject id in the operator's systems: the only thing that selects their data.
    pub subject: &'a str,
    /// Inclusive lower bound of record times, if the request set one.
    pub start_time: Option<Timestamp>,
    /// Exclusive upper bound of record times (the job's `exportTime`).
    pub export_time: Timestamp,
    /// Set when the job is cancelled or its lease lost.
    pub cancelled: &'a AtomicBool,
}

impl ExportRequest<'_> {
    /// Whether the source should stop now.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// `Err(Cancelled)` once the export should stop, for `?` in a source's loop.
    pub fn check(&self) -> Result<(), SourceError> {
        if self.is_cancelled() { Err(SourceError::Cancelled) } else { Ok(()) }
    }
}

/// How a file's records are framed, so that a large file can be split at a record boundary into
/// numbered chunks that are each a complete file: `prefix`, records joined by `separator`,
/// then `suffix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileLayout {
    pub prefix: String,
    pub separator: String,
    pub suffix: String,
    /// Deflate the file (false for media, which is stored as is).
    pub compress: bool,
}

impl FileLayout {
    /// A JSON array: `[r1,r2,…]`.
    pub fn json_array() -> Self {
        Self::wrapped("[", "]")
    }

    /// A JSON document whose records form an array inside `prefix … suffix`.
    pub fn wrapped(prefix: &str, suffix: &str) -> Self {
        Self { prefix: prefix.to_owned(), separator: ",".to_owned(), suffix: suffix.to_owned(), compress: true }
    }

    /// CSV with a header line; each record must end with a newline.
    pub fn csv(header: &str) -> Self {
        Self { prefix: format!("{header}\n"), separator: String::new(), suffix: String::new(), compress: true }
    }

    /// One JSON object per line; each record must end with a newline.
    pub fn ndjson() -> Self {
        Self { prefix: String::new(), separator: String::new(), suffix: String::new(), compress: true }
    }

    /// A media file: raw bytes, stored without recompression, never split.
    pub fn media() -> Self {
        Self { prefix: String::new(), separator: String::new(), suffix: String::new(), compress: false }
    }
}

/// Errors of the archive writer behind a [`FileSink`].
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("archive I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("archive: {0}")]
    Archive(String),
    #[error("invalid file name {0:?}")]
    InvalidName(String),
    #[error("records written outside a file")]
    NoOpenFile,
}

/// Where a source writes its files. Paths are relative to the group's folder.
pub trait FileSink {
    /// Starts a file; the previous one must have been ended.
    fn begin_file(&mut self, name: &str, layout: FileLayout) -> Result<(), SinkError>;
    /// Appends one record of a data file (its bytes only: the sink adds the separator).
    fn record(&mut self, bytes: &[u8]) -> Result<(), SinkError>;
    /// Appends bytes to a media file ([`FileLayout::media`]), in pieces of any size: a photo is
    /// copied in chunks, never held whole.
    fn write(&mut self, bytes: &[u8]) -> Result<(), SinkError>;
    /// Ends the current file.
    fn end_file(&mut self) -> Result<(), SinkError>;
    /// The files written from here to [`FileSink::end_bundle`] go into one archive part, e.g. a
    /// listing and the media it references (SPEC §8).
    fn begin_bundle(&mut self) -> Result<(), SinkError>;
    fn end_bundle(&mut self) -> Result<(), SinkError>;
}

/// Why a source could not export a group.
///
/// What a failure tells is split in two: its [`Failure`] class (from [`SourceError::public`]) is
/// what apps and the person are told — it is stored as the job's failure reason, read at
/// `/x/v1/archiveJobs/{id}` and shown on `/account` — while the error's text is the operator's
/// detail, written only to the log (SPEC §4: internals never reach a response). A source's
/// URL, query, paths or the database's message (which names the schema) therefore never reach an
/// app; the detail itself must still hold no secret (no URL query, header or password: see
/// [`redacted_url`]).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The export was cancelled; not a failure.
    #[error("cancelled")]
    Cancelled,
    /// Retrying will not help (bad configuration, data that cannot be read); the job fails. The
    /// text is the operator's detail; apps are told [`Failure::Failed`].
    #[error("{0}")]
    Permanent(String),
    /// May succeed later (an unreachable database); the job is attempted again. The text is the
    /// operator's detail; apps are told [`Failure::Unavailable`].
    #[error("{0}")]
    Transient(String),
    /// A failure the source classified: apps are told `class`, the log gets `detail`. Retried
    /// when the class may pass ([`Failure::is_transient`]).
    #[error("{detail}")]
    Fault { class: Failure, detail: String },
    #[error(transparent)]
    Sink(#[from] SinkError),
}

impl SourceError {
    /// A failure of `class` whose operator's detail is `detail`.
    pub fn fault(class: Failure, detail: impl Into<String>) -> Self {
        Self::Fault { class, detail: detail.into() }
    }

    /// What apps and the person are told.
    pub fn public(&self) -> Failure {
        match self {
            Self::Cancelled | Self::Permanent(_) => Failure::Failed,
            Self::Transient(_) => Failure::Unavailable,
            Self::Fault { class, .. } => *class,
            Self::Sink(_) => Failure::Archive,
        }
    }

    /// Whether a later attempt may succeed (the job is then attempted again).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Cancelled | Self::Permanent(_) => false,
            Self::Transient(_) | Self::Sink(_) => true,
            Self::Fault { class, .. } => class.is_transient(),
        }
    }
}

/// The class of a source's failure: all that apps and the person learn of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The source could not be reached (connection refused, DNS, TLS, a database that is down).
    Unavailable,
    /// The source did not answer in time.
    TimedOut,
    /// The source answered this HTTP error status.
    Status(u16),
    /// The source answered what the catalogue does not describe: not the expected JSON, a
    /// redirect to another origin, a cursor it had already returned, pages without end.
    BadAnswer,
    /// The operator's query failed (a missing table, a value that cannot be read).
    Query,
    /// The user's data at the source exceeds one of dataport's caps (a page too large, a file
    /// tree too deep or with too many entries).
    TooLarge,
    /// Anything else (a custom source's error).
    Failed,
    /// The archive could not be written.
    Archive,
}

impl Failure {
    /// Whether a later attempt may succeed.
    pub fn is_transient(self) -> bool {
        match self {
            Self::Unavailable | Self::TimedOut | Self::Archive => true,
            Self::Status(code) => code == 429 || (500..600).contains(&code),
            Self::BadAnswer | Self::Query | Self::TooLarge | Self::Failed => false,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable => f.write_str("source unavailable"),
            Self::TimedOut => f.write_str("source timed out"),
            Self::Status(code) => match reqwest::StatusCode::from_u16(*code) {
                Ok(status) => write!(f, "source answered {status}"),
                Err(_) => write!(f, "source answered status {code}"),
            },
            Self::BadAnswer => f.write_str("source answered something unexpected"),
            Self::Query => f.write_str("source query failed"),
            Self::TooLarge => f.write_str("source data exceeds a limit"),
            Self::Failed => f.write_str("source failed"),
            Self::Archive => f.write_str("archive could not be written"),
        }
    }
}

/// `url` as the operator's log may show it: scheme, host, port and path only — no user name or
/// password, no query (where `?api_key=${SECRET}` would be), no fragment.
pub fn redacted_url(url: &reqwest::Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    if url.query().is_some() {
        shown.push_str("?…");
    }
    shown
}

/// A source of records for resource groups, run on a blocking thread.
pub trait DataSource: Send + Sync {
    /// Writes the group's files for the request into `sink`.
    fn export(
        &self,
        group: &ResourceGroup,
        request: &ExportRequest<'_>,
        sink: &mut dyn FileSink,
    ) -> Result<(), SourceError>;
}

/// A source whose work is async (a database driver, an HTTP client).
#[async_trait::async_trait(?Send)]
pub trait AsyncDataSource: Send + Sync {
    /// Writes the group's files for the request into `sink`.
    async fn export(
        &self,
        group: &ResourceGroup,
        request: &ExportRequest<'_>,
        sink: &mut dyn FileSink,
    ) -> Result<(), SourceError>;
}

/// Runs an [`AsyncDataSource`] on the blocking thread the archive writer uses, driving its
/// futures on `runtime` (the thread blocks on them; the sink is written from that thread).
pub struct OnRuntime<S> {
    source: S,
    runtime: tokio::runtime::Handle,
}

impl<S> OnRuntime<S> {
    /// Wraps `source`; its futures run on `runtime`.
    pub fn new(source: S, runtime: tokio::runtime::Handle) -> Self {
        Self { source, runtime }
    }
}

impl<S: AsyncDataSource> DataSource for OnRuntime<S> {
    fn export(
        &self,
        group: &ResourceGroup,
        request: &ExportRequest<'_>,
        sink: &mut dyn FileSink,
    ) -> Result<(), SourceError> {
        self.runtime.block_on(self.source.export(group, request, sink))
    }
}

/// The layout of a data file of `format` whose records are JSON objects, or CSV rows under `header`.
pub fn data_layout(format: Format, csv_header: &str) -> FileLayout {
    match format {
        Format::Json | Format::Media => FileLayout::json_array(),
        Format::Ndjson => FileLayout::ndjson(),
        Format::Csv => FileLayout::csv(csv_header),
    }
}

/// Appends one CSV field (RFC 4180), quoted when it holds a comma, a quote or a line break.
pub fn csv_field(out: &mut Vec<u8>, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// Why the sources could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("resource group {group}: {problem}")]
pub struct SourcesError {
    group: String,
    problem: String,
}

/// The data source of every group of the catalogue, built when the core opens.
pub struct Sources {
    by_group: HashMap<String, Arc<dyn DataSource>>,
}

impl Sources {
    /// Binds each group to its source: `custom` ones to the sources registered under their name,
    /// the others built from their configuration (one emulator shared by all emulator groups).
    pub fn build(
        catalogue: &Catalogue,
        emulator: emulator::EmulatorConfig,
        custom: &HashMap<String, Arc<dyn DataSource>>,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Self, SourcesError> {
        let emulator: Arc<dyn DataSource> = Arc::new(emulator::Emulator::new(emulator));
        let mut by_group = HashMap::new();
        for group in catalogue.groups() {
            let problem = |problem: String| SourcesError { group: group.name.clone(), problem };
            let source: Arc<dyn DataSource> = match &group.source {
                SourceConfig::Emulator => emulator.clone(),
                SourceConfig::Sql(config) => {
                    Arc::new(OnRuntime::new(sql::SqlSource::new(config).map_err(problem)?, runtime.clone()))
                }
                SourceConfig::Http(config) => {
                    Arc::new(OnRuntime::new(http::HttpSource::new(config).map_err(problem)?, runtime.clone()))
                }
                SourceConfig::Files(config) => Arc::new(files::FilesSource::new(config)),
                SourceConfig::Custom { name } => custom.get(name).cloned().ok_or_else(|| {
                    problem(format!("source.name {name:?} is not a custom source registered in this build"))
                })?,
            };
            by_group.insert(group.name.clone(), source);
        }
        Ok(Self { by_group })
    }

    /// The source of `group`.
    pub fn get(&self, group: &str) -> Option<&Arc<dyn DataSource>> {
        self.by_group.get(group)
    }
}

/// A file a [`MemorySink`] received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryFile {
    pub name: String,
    pub layout: FileLayout,
    /// The records of a data file, in order.
    pub records: Vec<Vec<u8>>,
    /// The bytes of a media file.
    pub bytes: Vec<u8>,
    /// Which bundle the file was written in, if any (0-based, in order).
    pub bundle: Option<usize>,
}

impl MemoryFile {
    /// The file as it would be in the archive: prefix, records joined by the separator, suffix
    /// (or the media bytes).
    pub fn contents(&self) -> Vec<u8> {
        if !self.bytes.is_empty() || self.records.is_empty() && self.layout == FileLayout::media() {
            return self.bytes.clone();
        }
        let mut out = self.layout.prefix.as_bytes().to_vec();
        for (i, record) in self.records.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(self.layout.separator.as_bytes());
            }
            out.extend_from_slice(record);
        }
        out.extend_from_slice(self.layout.suffix.as_bytes());
        out
    }
}

/// A [`FileSink`] that keeps everything in memory, for testing a source (a custom one too):
/// run the source's `export` into it and look at [`MemorySink::files`].
#[derive(Debug, Default)]
pub struct MemorySink {
    pub files: Vec<MemoryFile>,
    open: bool,
    bundle: Option<usize>,
    bundles: usize,
}

impl MemorySink {
    /// The file named `name`, if the source wrote one.
    pub fn file(&self, name: &str) -> Option<&MemoryFile> {
        self.files.iter().find(|f| f.name == name)
    }
}

impl FileSink for MemorySink {
    fn begin_file(&mut self, name: &str, layout: FileLayout) -> Result<(), SinkError> {
        if !crate::catalogue::safe_relative_path(name) {
            return Err(SinkError::InvalidName(name.to_owned()));
        }
        self.files.push(MemoryFile {
            name: name.to_owned(),
            layout,
            records: Vec::new(),
            bytes: Vec::new(),
            bundle: self.bundle,
        });
        self.open = true;
        Ok(())
    }

    fn record(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        match self.files.last_mut() {
            Some(file) if self.open => {
                file.records.push(bytes.to_vec());
                Ok(())
            }
            _ => Err(SinkError::NoOpenFile),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        match self.files.last_mut() {
            Some(file) if self.open => {
                file.bytes.extend_from_slice(bytes);
                Ok(())
            }
            _ => Err(SinkError::NoOpenFile),
        }
    }

    fn end_file(&mut self) -> Result<(), SinkError> {
        if !self.open {
            return Err(SinkError::NoOpenFile);
        }
        self.open = false;
        Ok(())
    }

    fn begin_bundle(&mut self) -> Result<(), SinkError> {
        self.bundle = Some(self.bundles);
        self.bundles += 1;
        Ok(())
    }

    fn end_bundle(&mut self) -> Result<(), SinkError> {
        self.bundle = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_in_the_log_keeps_no_query_and_no_password() {
        let url =
            reqwest::Url::parse("https://ops:pa55@notes.internal:8443/export/x?user=a&api_key=k3y#f").expect("url");
        assert_eq!(redacted_url(&url), "https://notes.internal:8443/export/x?…");
        let url = reqwest::Url::parse("http://[::1]/p").expect("url");
        assert_eq!(redacted_url(&url), "http://[::1]/p");
    }

    #[test]
    fn apps_are_told_a_class_and_only_transient_classes_are_retried() {
        let e = SourceError::fault(Failure::Status(404), "GET http://x/p answered 404 Not Found");
        assert_eq!(e.public().to_string(), "source answered 404 Not Found");
        assert!(!e.is_transient());
        assert!(SourceError::fault(Failure::Status(503), "").is_transient());
        assert!(SourceError::fault(Failure::TimedOut, "").is_transient());
        assert!(!SourceError::fault(Failure::Query, "").is_transient());
        assert_eq!(SourceError::Permanent("relation \"t\" does not exist".into()).public(), Failure::Failed);
        assert_eq!(SourceError::Transient("db down".into()).public().to_string(), "source unavailable");
    }
}
