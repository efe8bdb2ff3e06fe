//! Downloads of archive parts through signed URLs (SPEC §9).
//!
//! Every refusal is the same [`DownloadDenied`], whatever the cause, so that a URL reveals nothing
//! about whether its job exists.

use dataport_types::Timestamp;

use crate::Dataport;
use crate::blob::ByteStream;
use crate::model::Job;
use crate::signing::Signature;

/// A part a signed URL may download.
pub struct Download {
    /// Its key in the blob store.
    blob_key: String,
    pub size: u64,
    /// Hex SHA-256 of the part, the ETag.
    pub sha256: String,
    /// `Content-Disposition` file name.
    pub filename: String,
    pub job_id: String,
    pub user_id: String,
    pub client_id: String,
}

impl Download {
    /// Part `part` of `job`, if it has one. Whether the job may be downloaded is the caller's check.
    pub(crate) fn of(job: &Job, part: u32) -> Option<Self> {
        let found = job.parts.iter().find(|p| p.index == part)?;
        Some(Download {
            blob_key: found.blob_key.clone(),
            size: found.size,
            sha256: found.sha256.clone(),
            filename: format!("dataport-{}-{part}.zip", job.id),
            job_id: job.id.clone(),
            user_id: job.user_id.clone(),
            client_id: job.client_id.clone(),
        })
    }
}

/// The URL is tampered, expired, revoked, or names nothing downloadable.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the signed URL is invalid or has expired")]
pub struct DownloadDenied;

impl Dataport {
    /// The absolute URL of part `part` of `job_id`, valid until `expires`.
    pub fn download_url(&self, job_id: &str, part: u32, expires: Timestamp) -> String {
        let s = self.signer.sign(job_id, part, expires);
        format!(
            "{}/download/{job_id}/{part}?exp={}&kid={}&sig={}",
            self.config.public_origin, s.expires, s.key_id, s.sig
        )
    }

    /// Verifies a signed URL and opens the part it names: the job must still be downloadable,
    /// and neither its user nor its client disabled (disabling revokes tokens, and URLs too).
    pub async fn open_download(
        &self,
        job_id: &str,
        part: u32,
        signature: &Signature,
    ) -> Result<Download, DownloadDenied> {
        let now = Timestamp::now();
        self.signer.verify(job_id, part, signature, now).map_err(|_| DownloadDenied)?;
        let job = self.store.job(job_id).await.map_err(|e| {
            tracing::warn!(error = %e, "download: job lookup failed");
            DownloadDenied
        })?;
        let job = job.filter(|job| self.downloadable(job, now)).ok_or(DownloadDenied)?;
        let lookup = |e: crate::store::StoreError| {
            tracing::warn!(error = %e, "download: user or client lookup failed");
            DownloadDenied
        };
        let user = self.store.user(&job.user_id).await.map_err(lookup)?;
        let client = self.store.client(&job.client_id).await.map_err(lookup)?;
        if user.is_none_or(|u| u.disabled) || client.is_none_or(|c| c.disabled) {
            return Err(DownloadDenied);
        }
        Download::of(&job, part).ok_or(DownloadDenied)
    }

    /// Where to send the client instead of streaming the part through this node: with
    /// `download_redirect` on and a blob store that presigns (S3), a URL of the blob itself, valid
    /// for at most five minutes and never past the signed URL's own expiry (a download started
    /// in time runs to its end; `not_after` is that expiry, in Unix seconds). `None`: stream it.
    pub async fn download_redirect(&self, download: &Download, not_after: i64) -> Option<String> {
        if !self.config.download_redirect {
            return None;
        }
        let left = not_after.saturating_sub(Timestamp::now().unix_seconds()).clamp(1, 300);
        let expires_in = std::time::Duration::from_secs(u64::try_from(left).unwrap_or(1));
        match self.blobs.presigned_get(&download.blob_key, expires_in).await {
            Ok(url) => url,
            Err(e) => {
                tracing::warn!(job = %download.job_id, error = %e, "download: could not presign; streaming instead");
                None
            }
        }
    }

    /// The part as an open file, when the blob store keeps parts as files: the server can then
    /// have the kernel send it. `None` otherwise, or when it cannot be opened (then
    /// [`Dataport::read_part`] says why).
    pub async fn part_file(&self, download: &Download) -> Option<std::fs::File> {
        self.blobs.open_file(&download.blob_key).await.ok().flatten()
    }

    /// Streams `len` bytes of the part from `offset` in chunks of at most `chunk` bytes, each
    /// read when the stream asks for it.
    pub async fn read_part(
        &self,
        download: &Download,
        offset: u64,
        len: u64,
        chunk: usize,
    ) -> Result<ByteStream, DownloadDenied> {
        self.blobs.read(&download.blob_key, offset, len, chunk).await.map_err(|e| {
            tracing::error!(job = %download.job_id, key = %download.blob_key, error = %e, "download: blob of a complete job is missing");
            DownloadDenied
        })
    }
}
