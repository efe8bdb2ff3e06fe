//! `GET`/`HEAD /download/{job}/{part}`: serves archive parts through signed URLs (SPEC §9), with
//! single byte ranges, `ETag` and `If-None-Match`. Every refusal is the same 403.

use std::io::SeekFrom;

use axum::body::Body;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use dataport_core::signing::Signature;
use dataport_core::store::AuditEntry;
use dataport_types::{Code, Status};

use crate::AppState;

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

/// Read size of part streaming: large enough that the blocking-pool round trip per read is noise.
const CHUNK: usize = 4 * 1024 * 1024;

fn denied() -> Response {
    let body = Status::new(Code::PermissionDenied, "The download URL is invalid or has expired.").into_envelope();
    let json = serde_json::to_string_pretty(&body).unwrap_or_default();
    (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "application/json; charset=UTF-8")], json).into_response()
}

/// Serves one part.
pub async fn handle(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    Path((job, part)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (Ok(part), Some(signature)) = (part.parse::<u32>(), signature(query.as_deref())) else {
        return denied();
    };
    let Ok(download) = app.core.open_download(&job, part, &signature).await else {
        return denied();
    };
    let etag = format!("\"{}\"", download.sha256);
    let size = download.size;
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, "application/zip")
        .header(header::ETAG, &etag)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "private, max-age=0")
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
    tracing::info!(job = %download.job_id, part, bytes = len, "download");
    app.core
        .record(AuditEntry {
            event: "archive.downloaded".into(),
            user_id: Some(download.user_id.clone()),
            client_id: Some(download.client_id.clone()),
            job_id: Some(download.job_id.clone()),
            detail: serde_json::json!({ "part": part, "offset": start, "bytes": len, "address": peer.ip().to_string() }),
            ..AuditEntry::now()
        })
        .await;
    let mut file = tokio::fs::File::from_std(download.file);
    if start > 0 && file.seek(SeekFrom::Start(start)).await.is_err() {
        return denied();
    }
    let body = Body::from_stream(ReaderStream::with_capacity(file.take(len), CHUNK));
    builder.body(body).unwrap_or_else(|_| denied())
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
