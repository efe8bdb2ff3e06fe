//! `kind = "http"` (SPEC §5.1): one user's records from a paged JSON endpoint of the operator's
//! own service.
//!
//! Each page is a JSON object whose `records` key holds an array of record objects and whose
//! `next` key holds the cursor of the following page (absent, null or empty on the last one); the
//! cursor goes back as the `cursor_param` query parameter. `{subject}` in the URL is the user's
//! subject id, percent-encoded. Headers come from the configuration (`${VAR}` keeps secrets out of
//! the file). A request that fails with 429, a 5xx, a timeout or a connection error is retried
//! with exponential backoff and jitter, honouring `Retry-After`; other 4xx answers fail the job.
//!
//! The service is trusted with nothing beyond its own answers: a redirect is followed only within
//! the URL's origin (scheme, host and port) — one to another origin fails the export, so that no
//! configured header (an API key in `X-Api-Key` as much as `Authorization`) ever reaches another
//! server; a page is read up to `max_page_bytes` (default [`DEFAULT_MAX_PAGE_BYTES`]) and a
//! larger one fails the export, so that one answer cannot take the server's memory; and a cursor
//! the service already returned fails it too (`a, b, a, b` as much as `a, a`), so that paging
//! always ends. Errors tell apps only their class; the detail that is logged names the URL
//! without its query (see [`super::redacted_url`]).
//!
//! With a `time_field`, dataport applies the window itself — records outside
//! `[startTime, exportTime)` are dropped, whatever the service sent — so that incremental exports
//! neither miss nor repeat a record even if the service ignores `start_param`/`end_param`.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rand::Rng;
use serde_json::Value;

use dataport_types::Timestamp;

use super::{AsyncDataSource, ExportRequest, Failure, FileSink, SourceError, csv_field, data_layout, redacted_url};
use crate::catalogue::{Format, HttpSourceConfig, ResourceGroup};

/// Pages fetched for one export at most: a service that never stops paging is a fault.
const MAX_PAGES: usize = 1_000_000;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The first retry's delay; it doubles with each attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The largest page read when the catalogue sets no `max_page_bytes`: a page is parsed whole, so
/// this bounds the memory one export of an HTTP source holds (a few times this, parsed).
pub const DEFAULT_MAX_PAGE_BYTES: u64 = 16 << 20;
/// Redirects followed within the source's origin, at most.
const MAX_REDIRECTS: usize = 10;

/// A group's records from an HTTP service.
pub struct HttpSource {
    client: reqwest::Client,
    config: HttpSourceConfig,
    attempts: u32,
    max_page_bytes: u64,
}

impl HttpSource {
    /// A source for `config`.
    pub fn new(config: &HttpSourceConfig) -> Result<Self, String> {
        let timeout = Duration::from_secs(config.timeout_seconds.unwrap_or(30).max(1));
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &config.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("source.headers: {name:?} is not a header name"))?;
            let mut value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| format!("source.headers.{name}: not a valid header value"))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::custom(same_origin_only))
            .build()
            .map_err(|e| format!("source: {e}"))?;
        Ok(Self {
            client,
            config: config.clone(),
            attempts: config.attempts.unwrap_or(5).max(1),
            max_page_bytes: config.max_page_bytes.unwrap_or(DEFAULT_MAX_PAGE_BYTES).max(1),
        })
    }

    /// The URL of the page after `cursor` (the first page without one).
    fn page_url(&self, request: &ExportRequest<'_>, cursor: Option<&str>) -> Result<reqwest::Url, SourceError> {
        let subject = utf8_percent_encode(request.subject, NON_ALPHANUMERIC).to_string();
        let mut url = reqwest::Url::parse(&self.config.url.replace("{subject}", &subject))
            .map_err(|e| SourceError::fault(Failure::Failed, format!("source.url: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            if let (Some(param), Some(start)) = (&self.config.start_param, request.start_time) {
                query.append_pair(param, &start.to_string());
            }
            if let Some(param) = &self.config.end_param {
                query.append_pair(param, &request.export_time.to_string());
            }
            if let (Some(param), Some(cursor)) = (&self.config.cursor_param, cursor) {
                query.append_pair(param, cursor);
            }
        }
        Ok(url)
    }

    /// One page, retried on 429, 5xx, timeouts and connection errors.
    async fn page(&self, url: reqwest::Url, request: &ExportRequest<'_>) -> Result<Value, SourceError> {
        let shown = redacted_url(&url);
        let mut last = SourceError::fault(Failure::Unavailable, format!("GET {shown}: no attempt"));
        for attempt in 0..self.attempts {
            request.check()?;
            let mut wait = FIRST_BACKOFF.saturating_mul(1 << attempt.min(10));
            match self.client.get(url.clone()).send().await {
                Ok(response) if response.status().is_success() => {
                    let bytes = self.body(response, &shown).await?;
                    return serde_json::from_slice(&bytes).map_err(|e| {
                        SourceError::fault(Failure::BadAnswer, format!("GET {shown}: the page is not JSON: {e}"))
                    });
                }
                Ok(response) => {
                    let status = response.status();
                    let answered =
                        SourceError::fault(Failure::Status(status.as_u16()), format!("GET {shown} answered {status}"));
                    if !answered.is_transient() {
                        return Err(answered);
                    }
                    if let Some(after) = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                    {
                        wait = Duration::from_secs(after).min(MAX_RETRY_AFTER);
                    }
                    last = answered;
                }
                Err(e) if e.is_redirect() => return Err(request_error(e, &shown)),
                Err(e) => last = request_error(e, &shown),
            }
            if attempt + 1 < self.attempts {
                // Full jitter on the computed delay, so that many exports do not retry in step.
                let jitter = rand::rng().random_range(0.5..=1.0);
                tracing::debug!(url = %shown, attempt, error = %last, "http source: retrying");
                tokio::time::sleep(wait.mul_f64(jitter)).await;
            }
        }
        Err(match last {
            SourceError::Fault { class, detail } => {
                SourceError::fault(class, format!("{detail} (after {} attempts)", self.attempts))
            }
            other => other,
        })
    }

    /// A page's body, read in chunks up to the page-size cap.
    async fn body(&self, mut response: reqwest::Response, shown: &str) -> Result<Vec<u8>, SourceError> {
        let too_large = || {
            SourceError::fault(
                Failure::TooLarge,
                format!("GET {shown}: the page is larger than max_page_bytes ({} bytes)", self.max_page_bytes),
            )
        };
        if response.content_length().is_some_and(|length| length > self.max_page_bytes) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| request_error(e, shown))? {
            if (body.len() + chunk.len()) as u64 > self.max_page_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Whether `record` lies in the request's window; records without a readable time fail.
    fn in_window(&self, record: &Value, request: &ExportRequest<'_>) -> Result<bool, SourceError> {
        let Some(field) = &self.config.time_field else { return Ok(true) };
        let at = record.get(field).and_then(Value::as_str).and_then(|t| Timestamp::parse(t).ok()).ok_or_else(|| {
            SourceError::fault(Failure::BadAnswer, format!("a record's {field:?} is not an RFC 3339 time"))
        })?;
        Ok(request.start_time.is_none_or(|start| at >= start) && at < request.export_time)
    }
}

/// Follows a redirect only within the origin of the URL first requested: a configured header
/// (an API key, not only `Authorization`, which is all reqwest strips) must never reach another
/// server.
fn same_origin_only(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    let first = attempt.previous().first().map(reqwest::Url::origin);
    if first.as_ref() != Some(&attempt.url().origin()) {
        let to = attempt.url().origin().ascii_serialization();
        attempt.error(format!("refused a redirect to another origin ({to})"))
    } else if attempt.previous().len() > MAX_REDIRECTS {
        attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
    } else {
        attempt.follow()
    }
}

/// A failed request as the operator's log may show it: the URL without its query (reqwest's own
/// message carries it whole), then the causes; classed for apps by what went wrong.
fn request_error(e: reqwest::Error, shown: &str) -> SourceError {
    let class = if e.is_redirect() {
        Failure::BadAnswer
    } else if e.is_timeout() {
        Failure::TimedOut
    } else {
        Failure::Unavailable
    };
    let e = e.without_url();
    let mut detail = format!("GET {shown}: {e}");
    let mut cause = std::error::Error::source(&e);
    while let Some(inner) = cause {
        detail.push_str(&format!(": {inner}"));
        cause = inner.source();
    }
    SourceError::fault(class, detail)
}

/// A record's field as CSV text: strings as they are, null as nothing, anything else as JSON.
fn csv_text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn csv_line(fields: impl Iterator<Item = String>) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        csv_field(&mut out, &field);
    }
    out
}

#[async_trait::async_trait(?Send)]
impl AsyncDataSource for HttpSource {
    async fn export(
        &self,
        group: &ResourceGroup,
        request: &ExportRequest<'_>,
        sink: &mut dyn FileSink,
    ) -> Result<(), SourceError> {
        let mut cursor: Option<String> = None;
        let mut columns: Option<Vec<String>> = None;
        let mut records = 0u64;
        // Hashes (with this process's random keys) of the cursors returned so far: a service
        // that returns one again would page for ever.
        let hasher = std::collections::hash_map::RandomState::new();
        let mut cursors: HashSet<u64> = HashSet::new();
        for _ in 0..MAX_PAGES {
            let page = self.page(self.page_url(request, cursor.as_deref())?, request).await?;
            let items = page.get(&self.config.records).and_then(Value::as_array).ok_or_else(|| {
                SourceError::fault(Failure::BadAnswer, format!("a source page has no {:?} array", self.config.records))
            })?;
            if columns.is_none() {
                // CSV columns: the keys of the first record (none: an empty file).
                let keys: Vec<String> =
                    items.first().and_then(Value::as_object).map(|o| o.keys().cloned().collect()).unwrap_or_default();
                let header = String::from_utf8_lossy(&csv_line(keys.iter().cloned())).into_owned();
                sink.begin_file(&group.file_name(), data_layout(group.format, &header))?;
                columns = Some(keys);
            }
            let keys = columns.as_deref().unwrap_or_default();
            for item in items {
                if !item.is_object() {
                    return Err(SourceError::fault(Failure::BadAnswer, "a source record is not an object"));
                }
                if !self.in_window(item, request)? {
                    continue;
                }
                let mut bytes = match group.format {
                    Format::Csv => csv_line(keys.iter().map(|k| csv_text(item.get(k)))),
                    _ => serde_json::to_vec(item).map_err(|e| SourceError::Permanent(e.to_string()))?,
                };
                match group.format {
                    Format::Csv => bytes.push(b'\n'),
                    Format::Ndjson => bytes.push(b'\n'),
                    _ => {}
                }
                sink.record(&bytes)?;
                records += 1;
            }
            request.check()?;
            let next = self.config.next.as_ref().and_then(|key| page.get(key)).and_then(|v| match v {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
            match next {
                Some(next) if !cursors.insert(hasher.hash_one(&next)) => {
                    return Err(SourceError::fault(
                        Failure::BadAnswer,
                        format!("the source returned a cursor it had returned before, after {records} records"),
                    ));
                }
                Some(next) => cursor = Some(next),
                None => {
                    sink.end_file()?;
                    tracing::debug!(group = %group.name, records, "http source exported");
                    return Ok(());
                }
            }
        }
        Err(SourceError::fault(Failure::BadAnswer, format!("the source kept paging past {MAX_PAGES} pages")))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::sources::MemorySink;

    /// The error of a refused request, as the log gets it, names the URL without its query: the
    /// API key in it stays out of the log as it stays out of the job (reqwest's own message
    /// carries the whole URL).
    #[tokio::test]
    async fn a_failed_request_is_logged_without_the_urls_query() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = closed.local_addr().expect("addr").port();
        drop(closed);
        let config: HttpSourceConfig = toml::from_str(&format!(
            "url = \"http://127.0.0.1:{port}/export?user={{subject}}&api_key=k3y\"\nrecords = \"items\"\nattempts = 1"
        ))
        .expect("config");
        let cancelled = AtomicBool::new(false);
        let request =
            ExportRequest { subject: "alice", start_time: None, export_time: Timestamp::now(), cancelled: &cancelled };
        let group = crate::catalogue::Catalogue::built_in().groups()[0].clone();
        let err = HttpSource::new(&config).expect("source").export(&group, &request, &mut MemorySink::default()).await;
        let err = err.expect_err("refused");
        let detail = err.to_string();
        assert!(detail.starts_with(&format!("GET http://127.0.0.1:{port}/export?…: ")), "{detail}");
        assert!(!detail.contains("k3y") && !detail.contains("alice"), "{detail}");
        assert_eq!(err.public(), Failure::Unavailable, "{detail}");
    }
}
