//! `GET`/`HEAD /download/{job}/{part}`: serves archive parts through signed URLs (SPEC §9), with
//! single byte ranges, `ETag` and `If-None-Match`. Every refusal is the same 403.
//!
//! On a connection of the accept loop, the part's file goes from the kernel to the socket
//! (`sendfile`, see [`crate::zero_copy`]) and a download holds no buffer at all; otherwise (a part
//! in S3) it holds one [`CHUNK`] in memory at a time. However slowly its client reads, a client
//! that stops reading is cut off by the connection's write timeout; downloads streaming at once
//! are capped per client address and per job ([`DownloadSlots`]); the audit entry is written
//! when the response ends and records the bytes actually handed to the connection, one entry per
//! part and connection however many requests it makes ([`DownloadLog`]).

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::Stream;

use dataport_core::Dataport;
use dataport_core::blob::ByteStream;
use dataport_core::download::{Download, DownloadLog, Served};
use dataport_core::signing::Signature;
use dataport_types::{Code, Status};

use crate::AppState;
use crate::client_addr::ClientAddr;
use crate::slots::{Slot, Slots};
use crate::zero_copy::FileSender;

/// The signature in a URL's query (`exp`, `kid`, `sig`), if complete and well-formed.
fn signature(query: Option<&str>) -> Option<Signature> {
    let (mut expires, mut key_id, mut sig) = (None, None, None);
    for (k, v) in form_urlencoded::parse(query?.as_bytes()) {
        match k.as_ref() {
            "exp" => expires = Some(v.parse().ok()?),
            "kid" => key_id = Some(v.into_owned()),
            "sig" => sig = Some(v.into_owned()),
            _ => {}
        }
    }
    Some(Signature { expires: expires?, key_id: key_id?, sig: sig? })
}

/// What a download streamed from the blob store holds in memory: one read, and one chunk handed
/// to the connection.
const CHUNK: usize = 128 * 1024;

fn envelope(status: StatusCode, code: Code, message: &str) -> Response {
    let json = serde_json::to_string_pretty(&Status::new(code, message).into_envelope()).unwrap_or_default();
    let mut response = (status, [(header::CONTENT_TYPE, "application/json; charset=UTF-8")], json).into_response();
    response.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn denied() -> Response {
    envelope(StatusCode::FORBIDDEN, Code::PermissionDenied, "The download URL is invalid or has expired.")
}

fn busy() -> Response {
    let mut response = envelope(
        StatusCode::TOO_MANY_REQUESTS,
        Code::ResourceExhausted,
        "Too many downloads at once from your address or of this archive; retry when one has finished.",
    );
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

/// Downloads streaming at once, capped per client address and per job (in this process).
pub struct DownloadSlots {
    per_address: usize,
    per_job: usize,
    open: Arc<Slots>,
}

impl DownloadSlots {
    pub fn new(per_address: usize, per_job: usize) -> Self {
        Self { per_address, per_job, open: Arc::default() }
    }

    /// A slot for a download of `job` to `address`, if both are under their caps.
    pub fn take(&self, address: IpAddr, job: &str) -> Option<Slot> {
        self.open.take(&[(format!("a:{address}"), self.per_address), (format!("j:{job}"), self.per_job)])
    }
}

/// The body of a download: the part's chunks as the blob store streams them, one at a time as
/// the connection asks for them. When it is dropped — the range sent, or the connection gone —
/// it gives back its slot and audits the bytes handed to the connection (on its connection's
/// [`DownloadLog`]).
struct Sending {
    chunks: ByteStream,
    sent: u64,
    audit: Option<Audit>,
    /// The request's span, for what is logged after the handler returned.
    span: tracing::Span,
    _slot: Slot,
}

impl Stream for Sending {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.chunks.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            self.sent += chunk.len() as u64;
        }
        if let Poll::Ready(Some(Err(e))) = &polled {
            tracing::error!(parent: &self.span, error = %e, "download: reading the part failed");
        }
        polled
    }
}

/// What a download's body audits when it ends.
struct Audit {
    core: Arc<Dataport>,
    log: Option<DownloadLog>,
    download: Download,
    served: Served,
}

impl Drop for Sending {
    fn drop(&mut self) {
        let Some(Audit { core, log, download, mut served }) = self.audit.take() else { return };
        core.metrics().downloaded(self.sent);
        served.sent = self.sent;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { core.record_download(log.as_ref(), &download, served).await });
        }
    }
}

/// Serves one part of a signed URL.
pub async fn handle(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    method: Method,
    Path((job, part)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    connection: OnConnection,
    headers: HeaderMap,
) -> Response {
    let (Ok(part), Some(signature)) = (part.parse::<u32>(), signature(query.as_deref())) else {
        return denied();
    };
    let Ok(download) = app.core.open_download(&job, part, &signature).await else {
        return denied();
    };
    let OnConnection { sender, log } = connection;
    let not_after = signature.expires;
    let request = PartRequest { address, method, headers: &headers, part, not_after, by_user: false, sender, log };
    serve(&app, download, request).await
}

/// What the accept loop gives a connection for its downloads (request extensions): the file
/// sender, when the connection can send files itself, and the connection's download audit.
pub struct OnConnection {
    pub sender: Option<Extension<FileSender>>,
    pub log: Option<DownloadLog>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for OnConnection {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let sender = parts.extensions.get::<FileSender>().cloned().map(Extension);
        Ok(Self { sender, log: parts.extensions.get::<DownloadLog>().cloned() })
    }
}

/// What a download of an opened part was asked for, and by whom.
pub struct PartRequest<'a> {
    pub address: IpAddr,
    pub method: Method,
    pub headers: &'a HeaderMap,
    pub part: u32,
    /// Unix seconds after which a redirect to the blob store must not work.
    pub not_after: i64,
    /// The person downloading from their account page (audited as such), not an app's URL.
    pub by_user: bool,
    /// The connection's file sender, when it can send files itself.
    pub sender: Option<Extension<FileSender>>,
    /// The connection's download audit, when the accept loop gave it one.
    pub log: Option<DownloadLog>,
}

/// Serves a part that has passed its checks: a redirect to the blob store when configured,
/// else the bytes (whole or one range), with the slot caps and the audit entry of every download.
pub async fn serve(app: &AppState, download: Download, request: PartRequest<'_>) -> Response {
    let PartRequest { address, method, headers, part, not_after, by_user, sender, log } = request;
    let served = Served { part, address, by_user, redirect: false, offset: 0, requested: 0, sent: 0 };
    if let Some(location) = app.core.download_redirect(&download, not_after).await {
        app.core.record_download(log.as_ref(), &download, Served { redirect: true, ..served }).await;
        return (StatusCode::FOUND, [(header::LOCATION, location), (header::CACHE_CONTROL, "no-store".into())])
            .into_response();
    }
    let etag = format!("\"{}\"", download.sha256);
    let size = download.size;
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, "application/zip")
        .header(header::ETAG, &etag)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "private, max-age=0")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", download.filename));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return builder.status(StatusCode::NOT_MODIFIED).body(Body::empty()).unwrap_or_else(|_| denied());
    }
    let (status, start, len) = match headers.get(header::RANGE).map(|v| parse_range(v, size)) {
        None | Some(Range::Ignore) => (StatusCode::OK, 0, size),
        Some(Range::Unsatisfiable) => {
            return (StatusCode::RANGE_NOT_SATISFIABLE, [(header::CONTENT_RANGE, format!("bytes */{size}"))])
                .into_response();
        }
        Some(Range::Bytes(start, end)) => {
            builder = builder.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
    };
    builder = builder.status(status).header(header::CONTENT_LENGTH, len);
    if method == Method::HEAD {
        return builder.body(Body::empty()).unwrap_or_else(|_| denied());
    }
    let Some(slot) = app.downloads.take(address, &download.job_id) else {
        tracing::warn!(job = %download.job_id, %address, "download refused: too many at once");
        return busy();
    };
    tracing::info!(job = %download.job_id, part, bytes = len, by_user, "download");
    let Some(chunks) = part_bytes(app, &download, start, len, sender).await else { return denied() };
    let served = Served { offset: start, requested: len, ..served };
    let audit = Some(Audit { core: app.core.clone(), log, download, served });
    let sending = Sending { chunks, sent: 0, audit, span: tracing::Span::current(), _slot: slot };
    builder.body(Body::from_stream(sending)).unwrap_or_else(|_| denied())
}

/// `len` bytes of the part from `start`: sent by the kernel from the part's file when the
/// connection can ([`FileSender`]), else streamed from the blob store in [`CHUNK`]s.
async fn part_bytes(
    app: &AppState,
    download: &Download,
    start: u64,
    len: u64,
    sender: Option<Extension<FileSender>>,
) -> Option<ByteStream> {
    if let Some(Extension(sender)) = sender
        && let Some(file) = app.core.part_file(download).await
        && let Some(stand_ins) = sender.send(file, start, len)
    {
        return Some(stand_ins);
    }
    app.core.read_part(download, start, len, CHUNK).await.ok()
}

enum Range {
    /// Not a single byte range we serve partially: send the whole part.
    Ignore,
    Unsatisfiable,
    /// Inclusive bounds.
    Bytes(u64, u64),
}

/// Parses a single `bytes=` range (RFC 9110 §14.1.2); multiple ranges are answered in full.
fn parse_range(value: &HeaderValue, size: u64) -> Range {
    let Some(spec) = value.to_str().ok().and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Range::Ignore;
    };
    if spec.contains(',') {
        return Range::Ignore;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Range::Ignore };
    let (first, last) = (first.trim(), last.trim());
    let bounds = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => Some((start, end.min(size.saturating_sub(1)))),
        (Ok(start), Err(_)) if last.is_empty() => Some((start, size.saturating_sub(1))),
        (Err(_), Ok(suffix)) if first.is_empty() && suffix > 0 => {
            Some((size.saturating_sub(suffix), size.saturating_sub(1)))
        }
        (Err(_), Ok(0)) if first.is_empty() => return Range::Unsatisfiable,
        _ => return Range::Ignore,
    };
    match bounds {
        Some((start, end)) if start < size && start <= end => Range::Bytes(start, end),
        _ => Range::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(s: &str, size: u64) -> Option<(u64, u64)> {
        match parse_range(&HeaderValue::from_str(s).expect("header"), size) {
            Range::Bytes(a, b) => Some((a, b)),
            Range::Ignore => None,
            Range::Unsatisfiable => Some((u64::MAX, u64::MAX)),
        }
    }

    #[test]
    fn byte_ranges() {
        assert_eq!(range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(range("bytes=-500", 100), Some((0, 99)));
        assert_eq!(range("bytes=100-", 100), Some((u64::MAX, u64::MAX)));
        assert_eq!(range("bytes=-0", 100), Some((u64::MAX, u64::MAX)));
        assert_eq!(range("bytes=0-1,5-6", 100), None);
        assert_eq!(range("items=0-1", 100), None);
        assert_eq!(range("bytes=5-1", 100), None);
    }
}
