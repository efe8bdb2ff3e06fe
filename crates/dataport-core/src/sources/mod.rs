//! Data sources: where a resource group's records come from, and the sink they are written to.
//!
//! A source writes whole files of records into a [`FileSink`] (the archive writer). It runs on a
//! blocking thread and must return promptly with [`SourceError::Cancelled`] once
//! [`ExportRequest::is_cancelled`] turns true, so that cancel stops an export within seconds.

use std::sync::atomic::{AtomicBool, Ordering};

use dataport_types::Timestamp;

use crate::catalogue::ResourceGroup;

/// What to export for one group.
pub struct ExportRequest<'a> {
    /// The user's subject id in the operator's systems.
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
}

/// Errors of the archive writer behind a [`FileSink`].
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("archive I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("invalid file name {0:?}")]
    InvalidName(String),
    #[error("records written outside a file")]
    NoOpenFile,
}

/// Where a source writes its files. Paths are relative to the group's folder.
pub trait FileSink {
    /// Starts a file; the previous one must have been ended.
    fn begin_file(&mut self, name: &str, layout: FileLayout) -> Result<(), SinkError>;
    /// Appends one record (its bytes only: the sink adds the separator).
    fn record(&mut self, bytes: &[u8]) -> Result<(), SinkError>;
    /// Ends the current file.
    fn end_file(&mut self) -> Result<(), SinkError>;
}

/// Why a source could not export a group.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The export was cancelled; not a failure.
    #[error("cancelled")]
    Cancelled,
    /// Retrying will not help (bad configuration, data that cannot be read); the job fails.
    #[error("{0}")]
    Permanent(String),
    /// May succeed later (an unreachable database); the job is attempted again.
    #[error("{0}")]
    Transient(String),
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// A source of records for resource groups.
pub trait DataSource: Send + Sync {
    /// Writes the group's files for the request into `sink`.
    fn export(
        &self,
        group: &ResourceGroup,
        request: &ExportRequest<'_>,
        sink: &mut dyn FileSink,
    ) -> Result<(), SourceError>;
}
