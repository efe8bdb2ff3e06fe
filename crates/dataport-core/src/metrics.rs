//! Prometheus metrics (SPEC §15, issue #12): what an operator alerts on.
//!
//! Each [`Dataport`](crate::Dataport) owns one [`Metrics`], with its own registry: no global
//! recorder, so two servers in one process (the tests) count apart. The HTTP layer records
//! requests through [`Metrics::request`]; the core records jobs, exports, downloads, tokens and
//! sign-ins where they happen, and every store call is timed by the store wrapper
//! ([`crate::store::MeteredStore`]). Gauges that describe shared state (queue depth) are read
//! from the database when scraped, so every node reports the same, current value.
//!
//! The text is OpenMetrics 1.0 (`prometheus-client`'s encoder) for scrapers that ask for it
//! (Prometheus does), and the classic Prometheus text format 0.0.4 otherwise, derived from it.

use std::borrow::Cow;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::encode`]'s OpenMetrics text.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of [`Metrics::encode`]'s classic Prometheus text.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    /// The matched route: the API method's discovery name, or the route's template; never the raw path.
    route: Cow<'static, str>,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DependencyLabels {
    dependency: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    call: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant_type: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 100 µs to ~26 s.
    Histogram::new(exponential_buckets(0.0001, 4.0, 10))
}

/// Why a job failed, as a bounded label (the reason text itself is in the job and the log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureClass {
    /// The data source refused for good (a permanent error, a user who no longer exists).
    Source,
    /// Transient errors until the attempts ran out.
    AttemptsExhausted,
}

impl FailureClass {
    fn label(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::AttemptsExhausted => "attempts_exhausted",
        }
    }
}

/// The counters, gauges and histograms of one dataport instance, and the registry that names them.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: HistogramFamily<RequestLabels>,
    jobs_created: Counter,
    jobs_completed: Counter,
    jobs_failed: Family<ReasonLabels, Counter>,
    jobs_cancelled: Counter,
    jobs_queued: Gauge,
    jobs_leased: Gauge,
    exports_running: Gauge,
    export_bytes: Histogram,
    export_seconds: Histogram,
    download_bytes: Counter,
    store_seconds: HistogramFamily<CallLabels>,
    tokens_issued: Family<GrantLabels, Counter>,
    sign_in_failures: Counter,
    not_ready: Family<DependencyLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set, every series at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("dataport");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by matched route, method and status",
            requests.clone(),
        );
        let request_seconds =
            HistogramFamily::<RequestLabels>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to the response head, by matched route, method and status",
            request_seconds.clone(),
        );
        let jobs_created = Counter::default();
        registry.register("jobs_created", "Archive jobs created (initiate and retry)", jobs_created.clone());
        let jobs_completed = Counter::default();
        registry.register("jobs_completed", "Archive jobs completed by this node's workers", jobs_completed.clone());
        let jobs_failed = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "jobs_failed",
            "Archive jobs failed on this node's workers, by reason class",
            jobs_failed.clone(),
        );
        for class in [FailureClass::Source, FailureClass::AttemptsExhausted] {
            let _ = jobs_failed.get_or_create(&ReasonLabels { reason: class.label() });
        }
        let jobs_cancelled = Counter::default();
        registry.register("jobs_cancelled", "Archive jobs cancelled through this node's API", jobs_cancelled.clone());
        let jobs_queued = Gauge::default();
        registry.register("jobs_queued", "Jobs in progress waiting for a worker (all nodes)", jobs_queued.clone());
        let jobs_leased = Gauge::default();
        registry.register("jobs_leased", "Jobs in progress held by a worker's lease (all nodes)", jobs_leased.clone());
        let exports_running = Gauge::default();
        registry.register("exports_running", "Exports running in this process", exports_running.clone());
        // 64 KiB to 64 GiB, and 0.1 s to ~7 h.
        let export_bytes = Histogram::new(exponential_buckets(65_536.0, 4.0, 11));
        registry.register("export_bytes", "Archive bytes of each completed export", export_bytes.clone());
        let export_seconds = Histogram::new(exponential_buckets(0.1, 3.0, 12));
        registry.register(
            "export_duration_seconds",
            "Duration of each completed export attempt",
            export_seconds.clone(),
        );
        let download_bytes = Counter::default();
        registry.register("download_bytes", "Archive bytes sent to downloaders", download_bytes.clone());
        let store_seconds = HistogramFamily::<CallLabels>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "store_call_duration_seconds",
            "Latency of database calls, by store method",
            store_seconds.clone(),
        );
        let tokens_issued = Family::<GrantLabels, Counter>::default();
        registry.register("tokens_issued", "Access tokens issued, by how (grant type)", tokens_issued.clone());
        for grant_type in ["authorization_code", "refresh_token", "admin"] {
            let _ = tokens_issued.get_or_create(&GrantLabels { grant_type });
        }
        let sign_in_failures = Counter::default();
        registry.register(
            "sign_in_failures",
            "Sign-ins refused: wrong password, unknown user or throttled",
            sign_in_failures.clone(),
        );
        let not_ready = Family::<DependencyLabels, Counter>::default();
        registry.register(
            "not_ready",
            "Readiness checks answered 503, by the dependency that did not answer (the detail is in the log)",
            not_ready.clone(),
        );
        Self {
            registry,
            requests,
            request_seconds,
            jobs_created,
            jobs_completed,
            jobs_failed,
            jobs_cancelled,
            jobs_queued,
            jobs_leased,
            exports_running,
            export_bytes,
            export_seconds,
            download_bytes,
            store_seconds,
            tokens_issued,
            sign_in_failures,
            not_ready,
        }
    }

    /// Counts an answered HTTP request. `route` is a route's name or template, never a raw path,
    /// and usually a `&'static` name, so that counting allocates nothing; `method` is a standard
    /// method's name, or `"other"`.
    pub fn request(&self, route: Cow<'static, str>, method: &'static str, status: u16, elapsed: Duration) {
        let labels = RequestLabels { route, method, status };
        self.requests.get_or_create(&labels).inc();
        self.request_seconds.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    pub(crate) fn job_created(&self) {
        self.jobs_created.inc();
    }

    pub(crate) fn job_completed(&self, bytes: u64, elapsed: Duration) {
        self.jobs_completed.inc();
        #[allow(clippy::cast_precision_loss)] // bucket boundaries; a few ulps do not matter
        self.export_bytes.observe(bytes as f64);
        self.export_seconds.observe(elapsed.as_secs_f64());
    }

    pub(crate) fn job_failed(&self, class: FailureClass) {
        self.jobs_failed.get_or_create(&ReasonLabels { reason: class.label() }).inc();
    }

    pub(crate) fn job_cancelled(&self) {
        self.jobs_cancelled.inc();
    }

    /// Counts archive bytes sent to a downloader.
    pub fn downloaded(&self, bytes: u64) {
        self.download_bytes.inc_by(bytes);
    }

    pub(crate) fn store_call(&self, call: &'static str, elapsed: Duration) {
        self.store_seconds.get_or_create(&CallLabels { call }).observe(elapsed.as_secs_f64());
    }

    pub(crate) fn token_issued(&self, grant_type: &'static str) {
        self.tokens_issued.get_or_create(&GrantLabels { grant_type }).inc();
    }

    pub(crate) fn sign_in_failed(&self) {
        self.sign_in_failures.inc();
    }

    pub(crate) fn not_ready(&self, dependency: &'static str) {
        self.not_ready.get_or_create(&DependencyLabels { dependency }).inc();
    }

    pub(crate) fn set_queue(&self, queued: u64, leased: u64, running_here: usize) {
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.jobs_queued.set(gauge(queued));
        self.jobs_leased.set(gauge(leased));
        self.exports_running.set(gauge(u64::try_from(running_here).unwrap_or(u64::MAX)));
    }

    /// Every series as OpenMetrics text ([`OPENMETRICS_CONTENT_TYPE`]), or else as classic
    /// Prometheus text ([`PROMETHEUS_CONTENT_TYPE`]).
    pub fn encode(&self, openmetrics: bool) -> String {
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(error = %e, "metrics could not be encoded");
        }
        if openmetrics { text } else { to_prometheus_text(&text) }
    }
}

/// OpenMetrics text as the classic Prometheus format: a counter family `x` is named by its
/// sample `x_total` there, and `# UNIT` and `# EOF` do not exist.
fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> =
        openmetrics.lines().filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter")).collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let rewritten = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            counters.contains(name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(rewritten.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_text_names_counters_by_their_samples() {
        let metrics = Metrics::new();
        metrics.job_created();
        metrics.request("archiveJobs.cancel".into(), "POST", 200, Duration::from_millis(3));
        let open = metrics.encode(true);
        assert!(open.contains("# TYPE dataport_jobs_created counter\n") && open.ends_with("# EOF\n"), "{open}");
        let classic = metrics.encode(false);
        assert!(classic.contains("# TYPE dataport_jobs_created_total counter\n"), "{classic}");
        assert!(classic.contains("# HELP dataport_jobs_created_total Archive jobs created"), "{classic}");
        assert!(classic.contains("dataport_jobs_created_total 1\n"), "{classic}");
        assert!(
            classic.contains(
                "dataport_http_requests_total{route=\"archiveJobs.cancel\",method=\"POST\",status=\"200\"} 1\n"
            ),
            "{classic}"
        );
        assert!(classic.contains("# TYPE dataport_http_request_duration_seconds histogram\n"), "{classic}");
        assert!(!classic.contains("# EOF") && !classic.contains("# UNIT"), "{classic}");
    }
}
