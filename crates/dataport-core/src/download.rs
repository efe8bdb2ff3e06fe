//! Downloads of archive parts through signed URLs (SPEC §9).
//!
//! Every refusal is the same [`DownloadDenied`], whatever the cause, so that a URL reveals nothing
//! about whether its job exists.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use dataport_types::Timestamp;

use crate::Dataport;
use crate::blob::ByteStream;
use crate::model::{AuditEntry, Job};
use crate::signing::Signature;

/// Most parts one connection's [`DownloadLog`] tallies; the responses of any more are audited one
/// entry each, so that what a connection holds stays small.
pub const TALLIED_PER_CONNECTION: usize = 256;

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

/// One response of a download, as its audit entry records it.
#[derive(Clone, Copy, Debug)]
pub struct Served {
    pub part: u32,
    /// The client's address (SPEC §11).
    pub address: IpAddr,
    /// The person downloading from their account page, not an app's signed URL.
    pub by_user: bool,
    /// Sent to the blob store instead of streamed (no bytes pass through here).
    pub redirect: bool,
    /// Where the response's bytes start in the part, and how many were asked for.
    pub offset: u64,
    pub requested: u64,
    /// The bytes actually handed to the connection.
    pub sent: u64,
}

/// What a tallied entry holds: its first response's start, and the sums of all of them.
#[derive(Clone, Copy, Debug)]
struct Totals {
    first: Served,
    responses: u64,
    requested: u64,
    sent: u64,
}

impl Totals {
    fn of(served: Served) -> Self {
        Totals { first: served, responses: 1, requested: served.requested, sent: served.sent }
    }

    fn add(&mut self, served: Served) {
        self.responses += 1;
        self.requested = self.requested.saturating_add(served.requested);
        self.sent = self.sent.saturating_add(served.sent);
    }

    /// The entry's detail: part, client address and bytes sent, as SPEC §11 asks, with the
    /// number of responses they were sent in.
    fn detail(&self) -> serde_json::Value {
        let first = &self.first;
        let mut detail = if first.redirect {
            serde_json::json!({ "part": first.part, "redirect": true, "address": first.address.to_string() })
        } else {
            serde_json::json!({
                "part": first.part,
                "offset": first.offset,
                "requested": self.requested,
                "address": first.address.to_string(),
                "bytes": self.sent,
                "complete": self.sent == self.requested,
            })
        };
        if let Some(object) = detail.as_object_mut() {
            object.insert("responses".into(), self.responses.into());
            if first.by_user {
                object.insert("by".into(), "user".into());
            }
        }
        detail
    }
}

/// The entry of one part on one connection.
struct Tally {
    totals: Mutex<Totals>,
    /// The entry's id once written. Held across each write, so that the writes of one entry
    /// happen one after another and the last one carries every response's totals.
    id: tokio::sync::Mutex<Option<i64>>,
}

/// Which responses of a connection share an entry: those of one part, to one client address (a
/// trusted proxy's connection carries many clients), by one kind of downloader, sent the same way.
type TallyKey = (String, u32, IpAddr, bool, bool);

/// The download audit of one client connection (SPEC §11: every download, with its part, bytes
/// and client address). However many responses the connection asks of one part — a client may
/// send thousands of one-byte `Range` requests on one keep-alive connection — they make **one**
/// audit entry: written when the first response ends, and amended with the totals as each later
/// one ends, so the log grows by one entry per part and connection, not per request. The server
/// gives each connection its own, as a request extension.
#[derive(Clone, Default)]
pub struct DownloadLog(Arc<Mutex<HashMap<TallyKey, Arc<Tally>>>>);

impl DownloadLog {
    /// Adds `served` to its part's tally and returns it; `None` when the connection already
    /// tallies [`TALLIED_PER_CONNECTION`] other parts.
    fn tally(&self, download: &Download, served: Served) -> Option<Arc<Tally>> {
        let mut tallies = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (download.job_id.clone(), served.part, served.address, served.by_user, served.redirect);
        if let Some(tally) = tallies.get(&key) {
            tally.totals.lock().unwrap_or_else(PoisonError::into_inner).add(served);
            return Some(tally.clone());
        }
        if tallies.len() >= TALLIED_PER_CONNECTION {
            return None;
        }
        let tally = Arc::new(Tally { totals: Mutex::new(Totals::of(served)), id: tokio::sync::Mutex::new(None) });
        tallies.insert(key, tally.clone());
        Some(tally)
    }
}

impl Dataport {
    /// Audits a response of `download` that has ended. On a connection's `log`, the responses of
    /// one part share one entry (see [`DownloadLog`]); without one, each is an entry of its own.
    pub async fn record_download(&self, log: Option<&DownloadLog>, download: &Download, served: Served) {
        let entry = |totals: &Totals| AuditEntry {
            event: crate::account::DOWNLOAD_EVENT.into(),
            user_id: Some(download.user_id.clone()),
            client_id: Some(download.client_id.clone()),
            job_id: Some(download.job_id.clone()),
            detail: totals.detail(),
            ..AuditEntry::now()
        };
        let Some(tally) = log.and_then(|log| log.tally(download, served)) else {
            return self.record(entry(&Totals::of(served))).await;
        };
        let mut id = tally.id.lock().await;
        let totals = *tally.totals.lock().unwrap_or_else(PoisonError::into_inner);
        let written = match *id {
            Some(id) => self.store.amend_audit(id, &totals.detail()).await.map(drop),
            None => self.store.append_audit(&entry(&totals)).await.map(|new| *id = Some(new)),
        };
        if let Err(e) = written {
            tracing::error!(error = %e, job = %download.job_id, "could not write the audit log");
        }
    }
}
