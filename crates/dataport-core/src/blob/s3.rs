//! The S3 blob store, through `object_store`'s S3 client: any S3-compatible server (AWS, Garage,
//! MinIO, Ceph, s3s-fs, …).
//!
//! A part is uploaded while it is written: a blob smaller than one upload part is one `PUT` at
//! commit; a larger one becomes a multipart upload whose parts (8 MiB) are sent as they fill,
//! one in flight while the next fills, so memory stays at two upload parts whatever the size,
//! and nothing is staged on local disk. S3 makes a multipart object visible only when the upload
//! completes, so no reader can see a half-written part.
//!
//! An upload abandoned by a crash leaves its parts on the server until someone aborts it. Not
//! every S3-compatible server can list in-progress uploads (s3s-fs cannot), so each upload id is
//! recorded in the database ([`Uploads`]) when the upload starts and forgotten when it completes
//! or is aborted; [`BlobStore::delete_prefix`] aborts the recorded uploads below the prefix, which
//! is how a worker that takes over a job clears what the dead one left.
//!
//! Correctness never rests on the server's conditional writes (Garage, for one, ignores them):
//! keys are unique per attempt and the database fences who may publish a job's parts.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::signer::{Method, Signer};
use object_store::{ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use super::{BlobError, BlobStore, ByteStream, StagedBlob, valid_key};
use crate::config::redact_url;
use crate::store::Uploads;

/// Size of one multipart upload part (S3's minimum is 5 MiB for all but the last).
const UPLOAD_PART: usize = 8 << 20;
/// How long `/readyz` waits for the bucket to answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// A blob store in an S3 bucket, optionally below a key prefix.
#[derive(Clone)]
pub struct S3BlobStore {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    s3: AmazonS3,
    /// Prepended to every key (`s3://BUCKET/PREFIX`), without a trailing slash; may be empty.
    prefix: String,
    uploads: Arc<dyn Uploads>,
    /// Runs the uploads of writers that live on blocking threads.
    runtime: Handle,
    upload_part: usize,
}

impl std::fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("s3", &self.inner.s3.to_string())
            .field("prefix", &self.inner.prefix)
            .finish()
    }
}

/// What `s3://BUCKET[/PREFIX]?endpoint=…&region=…&path_style=true` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub prefix: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub path_style: bool,
}

impl S3Url {
    /// Parses a blob URL; errors name the part that is wrong.
    pub fn parse(url: &str) -> Result<Self, BlobError> {
        let bad = |why: &str| BlobError::Config(format!("blob URL {:?}: {why}", redact_url(url)));
        let rest = url.strip_prefix("s3://").ok_or_else(|| bad("expected s3://BUCKET"))?;
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        let prefix = prefix.trim_end_matches('/');
        if bucket.is_empty() {
            return Err(bad("no bucket name"));
        }
        if !prefix.is_empty() && !valid_key(prefix) {
            return Err(bad("the key prefix must be plain path segments"));
        }
        let mut parsed = Self {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            endpoint: None,
            region: None,
            path_style: false,
        };
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "endpoint" => parsed.endpoint = Some(value.into_owned()),
                "region" => parsed.region = Some(value.into_owned()),
                "path_style" => {
                    parsed.path_style = match value.as_ref() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(bad("path_style must be true or false")),
                    }
                }
                other => {
                    return Err(bad(&format!("unknown parameter {other:?} (expected endpoint, region, path_style)")));
                }
            }
        }
        Ok(parsed)
    }
}

fn s3_error(e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { path, .. } => BlobError::NotFound(path),
        other => BlobError::Remote(other.to_string()),
    }
}

impl S3BlobStore {
    /// A store for `url`; credentials come from the environment (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, …). Must be called on the Tokio runtime that
    /// will run the uploads.
    pub fn open(url: &str, uploads: Arc<dyn Uploads>) -> Result<Self, BlobError> {
        let parsed = S3Url::parse(url)?;
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&parsed.bucket)
            .with_virtual_hosted_style_request(!parsed.path_style)
            // A stopped server fails the attempt within seconds (the job is retried), rather than
            // after object_store's default three minutes of retries.
            .with_retry(RetryConfig { max_retries: 3, retry_timeout: Duration::from_secs(15), ..Default::default() })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(120))
                    .with_allow_http(parsed.endpoint.as_deref().is_some_and(|e| e.starts_with("http://"))),
            );
        if let Some(endpoint) = &parsed.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &parsed.region {
            builder = builder.with_region(region);
        }
        let s3 = builder.build().map_err(|e| BlobError::Config(format!("blob URL {:?}: {e}", redact_url(url))))?;
        let runtime = Handle::try_current().map_err(|e| BlobError::Config(format!("S3 blob store: {e}")))?;
        Ok(Self { inner: Arc::new(Inner { s3, prefix: parsed.prefix, uploads, runtime, upload_part: UPLOAD_PART }) })
    }

    /// The same store with uploads in parts of `bytes` (tests use small ones).
    pub fn with_upload_part(self, bytes: usize) -> Self {
        let inner = Inner { upload_part: bytes.max(1), ..(*self.inner).clone() };
        Self { inner: Arc::new(inner) }
    }
}

impl Inner {
    fn path(&self, key: &str) -> Result<Path, BlobError> {
        if !valid_key(key) {
            return Err(BlobError::InvalidKey(key.to_owned()));
        }
        Ok(if self.prefix.is_empty() { Path::from(key) } else { Path::from(format!("{}/{key}", self.prefix)) })
    }

    fn key_of(&self, path: &Path) -> String {
        let full = path.as_ref();
        match self.prefix.as_str() {
            "" => full.to_owned(),
            prefix => full.strip_prefix(prefix).and_then(|k| k.strip_prefix('/')).unwrap_or(full).to_owned(),
        }
    }

    /// Aborts an upload and forgets it; an upload the server no longer knows counts as aborted.
    async fn abort(&self, key: &str, path: &Path, upload_id: &str) -> Result<(), BlobError> {
        match self.s3.abort_multipart(path, &upload_id.to_owned()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(s3_error(e)),
        }
        self.uploads.forget_upload(key, upload_id).await.map_err(|e| BlobError::Remote(e.to_string()))
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    fn create(&self, key: &str) -> Result<Box<dyn StagedBlob>, BlobError> {
        let path = self.inner.path(key)?;
        Ok(Box::new(S3StagedBlob {
            inner: self.inner.clone(),
            key: key.to_owned(),
            path,
            buffer: Vec::new(),
            upload: None,
            parts: Vec::new(),
            in_flight: None,
        }))
    }

    async fn read(&self, key: &str, offset: u64, len: u64, chunk: usize) -> Result<ByteStream, BlobError> {
        let path = self.inner.path(key)?;
        if len == 0 {
            self.inner.s3.head(&path).await.map_err(s3_error)?;
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        let options = GetOptions { range: Some(GetRange::Bounded(offset..offset + len)), ..Default::default() };
        let body = self.inner.s3.get_opts(&path, options).await.map_err(s3_error)?.into_stream();
        let chunk = chunk.max(1);
        // S3 sends whatever sizes the connection yields; hand them on in pieces of at most
        // `chunk` bytes (slices of one buffer, no copy).
        let stream = body.map_err(io::Error::other).flat_map(move |piece| {
            let pieces: Vec<io::Result<Bytes>> = match piece {
                Ok(mut bytes) => {
                    let mut out = Vec::with_capacity(bytes.len().div_ceil(chunk));
                    while bytes.len() > chunk {
                        out.push(Ok(bytes.split_to(chunk)));
                    }
                    out.push(Ok(bytes));
                    out
                }
                Err(e) => vec![Err(e)],
            };
            futures_util::stream::iter(pieces)
        });
        Ok(Box::pin(stream))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let path = self.inner.path(prefix)?;
        let metas: Vec<_> = self.inner.s3.list(Some(&path)).try_collect().await.map_err(s3_error)?;
        Ok(metas.iter().map(|meta| self.inner.key_of(&meta.location)).collect())
    }

    /// The bucket must answer a listing within three seconds.
    async fn check(&self) -> Result<(), BlobError> {
        let probe = self.inner.path("readyz")?;
        match tokio::time::timeout(CHECK_TIMEOUT, self.inner.s3.list_with_delimiter(Some(&probe))).await {
            Ok(listed) => listed.map(|_| ()).map_err(s3_error),
            Err(_) => Err(BlobError::Remote(format!("the bucket did not answer within {CHECK_TIMEOUT:?}"))),
        }
    }

    /// Aborts the recorded uploads below `prefix`, then deletes its objects.
    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError> {
        let base = self.inner.path(prefix)?;
        let uploads = self.inner.uploads.uploads_below(prefix).await.map_err(|e| BlobError::Remote(e.to_string()))?;
        for (key, upload_id) in uploads {
            self.inner.abort(&key, &self.inner.path(&key)?, &upload_id).await?;
        }
        let locations = self.inner.s3.list(Some(&base)).map_ok(|meta| meta.location).boxed();
        self.inner.s3.delete_stream(locations).try_for_each(|_| async { Ok(()) }).await.or_else(|e| match e {
            object_store::Error::NotFound { .. } => Ok(()),
            other => Err(s3_error(other)),
        })
    }

    async fn presigned_get(&self, key: &str, expires_in: Duration) -> Result<Option<String>, BlobError> {
        let path = self.inner.path(key)?;
        let url = self.inner.s3.signed_url(Method::GET, &path, expires_in).await.map_err(s3_error)?;
        Ok(Some(url.to_string()))
    }
}

/// A blob being uploaded from a blocking thread.
struct S3StagedBlob {
    inner: Arc<Inner>,
    key: String,
    path: Path,
    /// Bytes not yet sent: at most one upload part.
    buffer: Vec<u8>,
    /// The multipart upload, once the blob outgrew one part.
    upload: Option<String>,
    parts: Vec<PartId>,
    /// The part being sent while the next one fills.
    in_flight: Option<JoinHandle<object_store::Result<PartId>>>,
}

impl S3StagedBlob {
    fn block_on<T>(&self, work: impl Future<Output = T>) -> T {
        self.inner.runtime.block_on(work)
    }

    /// Waits for the part in flight, if any.
    fn settle(&mut self) -> io::Result<()> {
        if let Some(sending) = self.in_flight.take() {
            let part = self.block_on(sending).map_err(io::Error::other)?.map_err(io::Error::other)?;
            self.parts.push(part);
        }
        Ok(())
    }

    /// Sends the buffer as the next part, starting the multipart upload first if needed.
    fn send_part(&mut self) -> io::Result<()> {
        let id = match &self.upload {
            Some(id) => id.clone(),
            None => {
                let inner = self.inner.clone();
                let (key, path) = (self.key.clone(), self.path.clone());
                let id = self.block_on(async move {
                    let id = inner.s3.create_multipart(&path).await.map_err(io::Error::other)?;
                    if let Err(e) = inner.uploads.record_upload(&key, &id).await {
                        // Unrecorded, it could not be aborted after a crash: abort it now.
                        let _ = inner.s3.abort_multipart(&path, &id).await;
                        return Err(io::Error::other(e));
                    }
                    Ok::<_, io::Error>(id)
                })?;
                self.upload = Some(id.clone());
                id
            }
        };
        self.settle()?;
        let data = PutPayload::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(self.inner.upload_part)));
        let (inner, path, index) = (self.inner.clone(), self.path.clone(), self.parts.len());
        self.in_flight =
            Some(self.inner.runtime.spawn(async move { inner.s3.put_part(&path, &id, index, data).await }));
        Ok(())
    }
}

impl Write for S3StagedBlob {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.buffer.capacity() == 0 {
            self.buffer.reserve_exact(self.inner.upload_part);
        }
        let n = buf.len().min(self.inner.upload_part - self.buffer.len());
        self.buffer.extend_from_slice(&buf[..n]);
        if self.buffer.len() == self.inner.upload_part {
            self.send_part()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl StagedBlob for S3StagedBlob {
    /// Completes the upload (or puts a small blob whole): only then is it visible.
    fn commit(mut self: Box<Self>) -> Result<(), BlobError> {
        let Some(id) = self.upload.clone() else {
            let data = PutPayload::from(std::mem::take(&mut self.buffer));
            return self.block_on(self.inner.s3.put(&self.path, data)).map(|_| ()).map_err(s3_error);
        };
        if !self.buffer.is_empty() {
            self.send_part()?;
        }
        self.settle()?;
        let parts = std::mem::take(&mut self.parts);
        self.block_on(self.inner.s3.complete_multipart(&self.path, &id, parts)).map_err(s3_error)?;
        self.upload = None;
        let forgotten = self.block_on(self.inner.uploads.forget_upload(&self.key, &id));
        // Complete but still recorded: a later abort of it finds nothing and forgets it.
        if let Err(e) = forgotten {
            tracing::warn!(key = %self.key, error = %e, "could not forget a completed upload");
        }
        Ok(())
    }
}

impl Drop for S3StagedBlob {
    /// An upload dropped uncommitted is aborted: at once on a writer's own thread (so that it is
    /// gone when the writer is), in the background where a drop happens inside the runtime, which
    /// must not block. If the process dies first, the recorded id lets a later `delete_prefix`
    /// abort it.
    fn drop(&mut self) {
        if let Some(sending) = self.in_flight.take() {
            sending.abort();
        }
        let Some(id) = self.upload.take() else { return };
        let (inner, key, path) = (self.inner.clone(), self.key.clone(), self.path.clone());
        let abort = async move {
            if let Err(e) = inner.abort(&key, &path, &id).await {
                tracing::warn!(%key, error = %e, "could not abort an abandoned upload; the next cleanup of its prefix will");
            }
        };
        if Handle::try_current().is_ok() {
            self.inner.runtime.spawn(abort);
        } else {
            self.inner.runtime.block_on(abort);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::conformance;
    use crate::store::{SqliteStore, Store};

    /// A store on a fresh prefix of the test bucket, its uploads recorded in a fresh SQLite
    /// database, with 5 MiB upload parts (S3's minimum) so that tests reach multipart cheaply.
    async fn test_store() -> Option<(S3BlobStore, Arc<dyn Store>, tempfile::TempDir)> {
        let url = crate::testing::fresh_s3_prefix()?;
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("ledger.sqlite")).await.expect("db"));
        let store = S3BlobStore::open(&url, ledger.clone()).expect("open").with_upload_part(5 << 20);
        Some((store, ledger, dir))
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn s3_blobs_conform() {
        let Some((store, _, _dir)) = test_store().await else { return };
        conformance::run(Arc::new(store)).await;
    }

    /// A blob of several upload parts: uploaded as a multipart upload that is recorded while in
    /// progress and forgotten when complete; a dropped one is aborted and forgotten; one whose
    /// writer died (never dropped) stays recorded until `delete_prefix` aborts it.
    #[tokio::test(flavor = "multi_thread")]
    async fn multipart_uploads_are_recorded_completed_and_aborted() {
        let Some((store, ledger, _dir)) = test_store().await else { return };
        let blobs: Arc<dyn BlobStore> = Arc::new(store);
        let data: Vec<u8> = (0..12u32 << 20).map(|i| (i % 253) as u8).collect();
        let (writer, expected, recorded) = (blobs.clone(), data.clone(), ledger.clone());
        let in_progress = tokio::task::spawn_blocking(move || {
            let mut blob = writer.create("jobs/m/1/part-000.zip").expect("create");
            blob.write_all(&expected[..6 << 20]).expect("write");
            let in_progress = Handle::current().block_on(recorded.uploads_below("jobs/m/1")).expect("ledger");
            blob.write_all(&expected[6 << 20..]).expect("write");
            blob.commit().expect("commit");
            in_progress
        })
        .await
        .expect("join");
        assert_eq!(in_progress.len(), 1, "recorded while in progress");
        assert_eq!(conformance::read_all(blobs.as_ref(), "jobs/m/1/part-000.zip", 0, 12 << 20, 1 << 20).await, data);
        assert!(ledger.uploads_below("jobs").await.expect("ledger").is_empty(), "a completed upload is forgotten");

        // Dropped after its first part went up, on a writer's own thread as the archive
        // writer's compressor drops it: aborted and forgotten by the time the drop returns.
        let writer = blobs.clone();
        std::thread::spawn(move || {
            let mut blob = writer.create("jobs/m/2/part-000.zip").expect("create");
            blob.write_all(&vec![7u8; 6 << 20]).expect("write");
            drop(blob);
        })
        .join()
        .expect("join");
        assert!(ledger.uploads_below("jobs").await.expect("ledger").is_empty(), "a dropped upload is forgotten");
        assert!(blobs.list("jobs/m/2").await.expect("list").is_empty());

        // A writer that dies mid-upload leaves it recorded; deleting the prefix aborts it.
        let writer = blobs.clone();
        tokio::task::spawn_blocking(move || {
            let mut blob = writer.create("jobs/m/3/part-000.zip").expect("create");
            blob.write_all(&vec![9u8; 6 << 20]).expect("write");
            std::mem::forget(blob);
        })
        .await
        .expect("join");
        let left = ledger.uploads_below("jobs/m").await.expect("ledger");
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(left[0].0, "jobs/m/3/part-000.zip");
        blobs.delete_prefix("jobs/m/3").await.expect("delete");
        assert!(ledger.uploads_below("jobs").await.expect("ledger").is_empty(), "aborted and forgotten");
        blobs.delete_prefix("jobs/m").await.expect("delete");
        assert!(blobs.list("jobs/m").await.expect("list").is_empty());
    }

    #[test]
    fn blob_urls_parse_and_errors_name_the_problem() {
        let url =
            S3Url::parse("s3://archives/dataport/prod?endpoint=http://127.0.0.1:9000&region=eu-1&path_style=true")
                .expect("parse");
        assert_eq!(
            url,
            S3Url {
                bucket: "archives".into(),
                prefix: "dataport/prod".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: Some("eu-1".into()),
                path_style: true,
            }
        );
        assert_eq!(S3Url::parse("s3://b").expect("bare").prefix, "");
        for (bad, says) in [
            ("s3://?region=x", "no bucket"),
            ("s3://b/../x", "plain path segments"),
            ("s3://b?path_style=maybe", "true or false"),
            ("s3://b?endpont=x", "unknown parameter \"endpont\""),
            ("file:///x", "expected s3://"),
        ] {
            let message = S3Url::parse(bad).expect_err(bad).to_string();
            assert!(message.contains(says), "{bad}: {message}");
        }
    }
}
