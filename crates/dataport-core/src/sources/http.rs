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
//! With a `time_field`, dataport applies the window itself — records outside
//! `[startTime, exportTime)` are dropped, whatever the service sent — so that incremental exports
//! neither miss nor repeat a record even if the service ignores `start_param`/`end_param`.

use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rand::Rng;
use serde_json::Value;

use dataport_types::Timestamp;

use super::{AsyncDataSource, ExportRequest, FileSink, SourceError, csv_field, data_layout};
use crate::catalogue::{Format, HttpSourceConfig, ResourceGroup};

/// Pages fetched for one export at most: a service that never stops paging is a fault.
const MAX_PAGES: usize = 1_000_000;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The first retry's delay; it doubles with each attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// A group's records from an HTTP service.
pub struct HttpSource {
    client: reqwest::Client,
    config: HttpSourceConfig,
    attempts: u32,
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
            .build()
            .map_err(|e| format!("source: {e}"))?;
        Ok(Self { client, config: config.clone(), attempts: config.attempts.unwrap_or(5).max(1) })
    }

    /// The URL of the page after `cursor` (the first page without one).
    fn page_url(&self, request: &ExportRequest<'_>, cursor: Option<&str>) -> Result<reqwest::Url, SourceError> {
        let subject = utf8_percent_encode(request.subject, NON_ALPHANUMERIC).to_string();
        let mut url = reqwest::Url::parse(&self.config.url.replace("{subject}", &subject))
            .map_err(|e| SourceError::Permanent(format!("source.url: {e}")))?;
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
        let mut last = String::new();
        for attempt in 0..self.attempts {
            request.check()?;
            let mut wait = FIRST_BACKOFF.saturating_mul(1 << attempt.min(10));
            match self.client.get(url.clone()).send().await {
                Ok(response) if response.status().is_success() => {
                    let bytes =
                        response.bytes().await.map_err(|e| SourceError::Transient(format!("source page: {e}")))?;
                    return serde_json::from_slice(&bytes)
                        .map_err(|e| SourceError::Permanent(format!("source page is not JSON: {e}")));
                }
                Ok(response) => {
                    let status = response.status();
                    if !(status.as_u16() == 429 || status.is_server_error()) {
                        return Err(SourceError::Permanent(format!("source answered {status}")));
                    }
                    if let Some(after) = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                    {
                        wait = Duration::from_secs(after).min(MAX_RETRY_AFTER);
                    }
                    last = format!("source answered {status}");
                }
                Err(e) => last = format!("source request: {e}"),
            }
            if attempt + 1 < self.attempts {
                // Full jitter on the computed delay, so that many exports do not retry in step.
                let jitter = rand::rng().random_range(0.5..=1.0);
                tracing::debug!(%url, attempt, error = %last, "http source: retrying");
                tokio::time::sleep(wait.mul_f64(jitter)).await;
            }
        }
        Err(SourceError::Transient(format!("{last} (after {} attempts)", self.attempts)))
    }

    /// Whether `record` lies in the request's window; records without a readable time fail.
    fn in_window(&self, record: &Value, request: &ExportRequest<'_>) -> Result<bool, SourceError> {
        let Some(field) = &self.config.time_field else { return Ok(true) };
        let at =
            record.get(field).and_then(Value::as_str).and_then(|t| Timestamp::parse(t).ok()).ok_or_else(|| {
                SourceError::Permanent(format!("a record's {field:?} is not an RFC 3339 time: {record}"))
            })?;
        Ok(request.start_time.is_none_or(|start| at >= start) && at < request.export_time)
    }
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
        for _ in 0..MAX_PAGES {
            let page = self.page(self.page_url(request, cursor.as_deref())?, request).await?;
            let items = page.get(&self.config.records).and_then(Value::as_array).ok_or_else(|| {
                SourceError::Permanent(format!("a source page has no {:?} array", self.config.records))
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
                    return Err(SourceError::Permanent(format!("a source record is not an object: {item}")));
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
                Some(next) if cursor.as_deref() == Some(next.as_str()) => {
                    return Err(SourceError::Permanent(format!("the source returned cursor {next:?} twice in a row")));
                }
                Some(next) => cursor = Some(next),
                None => {
                    sink.end_file()?;
                    tracing::debug!(group = %group.name, records, "http source exported");
                    return Ok(());
                }
            }
        }
        Err(SourceError::Permanent(format!("the source kept paging past {MAX_PAGES} pages")))
    }
}
