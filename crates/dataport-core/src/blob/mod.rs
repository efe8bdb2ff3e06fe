//! Blob storage for archive parts, behind one trait shaped like `object_store`'s: a staged
//! writer that commits or discards, ranged reads as a stream, listing and deleting by prefix.
//! [`local::LocalBlobStore`] keeps blobs as files under a directory, [`s3::S3BlobStore`] as
//! objects in an S3 bucket; [`open`] picks one by URL (SPEC §15).
//!
//! A blob becomes visible under its key only when it is complete, so no reader can ever see a
//! half-written part; keys are unique per attempt (`jobs/<id>/<attempt>/…`), so correctness never
//! rests on a backend's conditional writes.

#[cfg(any(test, feature = "testing"))]
pub mod conformance;
pub mod local;
pub mod s3;

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;

pub use local::LocalBlobStore;
pub use s3::S3BlobStore;

use crate::store::Uploads;

/// Errors of the blob store.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob key {0:?} is not a relative path of plain segments")]
    InvalidKey(String),
    #[error("blob store I/O: {0}")]
    Io(#[from] io::Error),
    #[error("blob {0} does not exist")]
    NotFound(String),
    #[error("blob store: {0}")]
    Remote(String),
    #[error("{0}")]
    Config(String),
}

/// Opens the blob store a URL names: `file://DIR` (created if missing) or
/// `s3://BUCKET[/PREFIX]?endpoint=…&region=…&path_style=true`. `uploads` records S3 multipart
/// uploads in progress so that they can be aborted after a crash.
pub fn open(url: &str, uploads: Arc<dyn Uploads>) -> Result<Arc<dyn BlobStore>, BlobError> {
    if let Some(dir) = url.strip_prefix("file://") {
        return Ok(Arc::new(LocalBlobStore::open(std::path::Path::new(dir))?));
    }
    if url.starts_with("s3://") {
        return Ok(Arc::new(S3BlobStore::open(url, uploads)?));
    }
    Err(BlobError::Config(format!(
        "unsupported blob URL {:?}: expected file://DIR or s3://BUCKET?endpoint=…",
        crate::config::redact_url(url)
    )))
}

/// The chunks of a blob as a reader consumes them.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// A blob being written. [`StagedBlob::commit`] makes it durable and visible under its key;
/// dropping it uncommitted discards what was written. Blocking I/O: write from a blocking thread.
pub trait StagedBlob: Write + Send {
    fn commit(self: Box<Self>) -> Result<(), BlobError>;
}

/// Where archive parts live.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Starts writing the blob `key`; nothing is visible under `key` until commit. Blocking:
    /// call it from the thread that writes.
    fn create(&self, key: &str) -> Result<Box<dyn StagedBlob>, BlobError>;

    /// `len` bytes of the committed blob `key` from `offset`, in chunks of at most `chunk`
    /// bytes, each read only when the stream asks for it: a slow reader holds one chunk.
    async fn read(&self, key: &str, offset: u64, len: u64, chunk: usize) -> Result<ByteStream, BlobError>;

    /// The committed blob `key` as an open file, when the backend keeps blobs as files (the local
    /// store), so that the server can have the kernel copy it to the socket; `None` when it does
    /// not (read it with [`BlobStore::read`]).
    async fn open_file(&self, _key: &str) -> Result<Option<std::fs::File>, BlobError> {
        Ok(None)
    }

    /// The keys of the committed blobs below `prefix/`, in no particular order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError>;

    /// Answers when the store does (a cheap listing).
    async fn check(&self) -> Result<(), BlobError> {
        self.list("readyz").await.map(|_| ())
    }

    /// Deletes every blob below `prefix/`, committed or still staged (a no-op when there are none).
    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError>;

    /// A URL at which the committed blob `key` can be fetched without credentials for
    /// `expires_in`, if the backend has such URLs (S3 presigned URLs); `None` otherwise.
    async fn presigned_get(&self, key: &str, expires_in: Duration) -> Result<Option<String>, BlobError> {
        let _ = (key, expires_in);
        Ok(None)
    }
}

/// Whether `key` is a relative path of plain segments (no `..`, no empty or `.` segment, no
/// backslash), so that no backend can be made to reach outside its root.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.split('/').all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\\'))
}
