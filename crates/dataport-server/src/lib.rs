//! dataport's HTTP layer and the `dataportd` server.
//!
//! [`Application::build`] binds the listener and opens the core; [`Application::run_until_stopped`]
//! serves HTTP and runs the job engine until the shutdown future resolves. Tests start it on
//! `127.0.0.1:0`, exactly as the binary does.
#![forbid(unsafe_code)]

mod account;
mod api;
mod client_addr;
mod discovery;
mod download;
mod endpoint;
mod oauth;
mod observe;
mod openapi;
mod pages;
mod params;
mod rate_limit;
mod respond;
mod serve;
mod slots;
mod zero_copy;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::future::{Either, Ready, ready};
use serde::Deserialize;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

use dataport_core::config::Limits;
use dataport_core::sources::DataSource;
use dataport_core::{ApiError, Config, Dataport};

use crate::discovery::Discovery;
use crate::observe::REQUEST_ID;
use crate::params::SystemParams;
use crate::rate_limit::RateLimiter;

/// State shared by all handlers: one pointer, cloned for every request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    pub core: Arc<Dataport>,
    discovery: Arc<Discovery>,
    /// The OpenAPI document (`/openapi.json`), generated from `discovery` at start-up.
    openapi: bytes::Bytes,
    limiter: Arc<RateLimiter>,
    /// Requests per client address to the authorization, sign-in, consent, token and revocation
    /// endpoints.
    auth_limiter: Arc<RateLimiter>,
    /// Downloads streaming at once, per address and per job.
    downloads: Arc<download::DownloadSlots>,
    /// Activity downloads (`/account/activity.json`) streaming at once, by user id: one each.
    activity_downloads: Arc<slots::Slots>,
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    /// `/metrics`, when `config.metrics_listen` names an address.
    metrics_listener: Option<TcpListener>,
    core: Arc<Dataport>,
    router: Router,
}

impl Application {
    /// Binds `listen`, opens the core, and prepares the routes. When `config.public_origin` is
    /// empty it becomes `http://<bound address>`.
    pub async fn build(config: Config, listen: SocketAddr) -> anyhow::Result<Self> {
        Self::build_with_sources(config, listen, HashMap::new()).await
    }

    /// [`Application::build`] with data sources written in Rust, by the name that `kind =
    /// "custom"` groups of the catalogue give (`source.name`): how an operator ships their own
    /// [`DataSource`] in their own build of the server (see `examples/custom_source.rs`).
    pub async fn build_with_sources(
        mut config: Config,
        listen: SocketAddr,
        sources: HashMap<String, Arc<dyn DataSource>>,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let metrics_listener = match config.metrics_listen {
            Some(addr) => {
                Some(TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} for metrics"))?)
            }
            None => None,
        };
        let local = listener.local_addr()?;
        if config.public_origin.is_empty() {
            config.public_origin = format!("http://{local}");
        }
        config.public_origin = config.public_origin.trim_end_matches('/').to_owned();
        let core = Arc::new(Dataport::open_with_sources(config, sources).await?);
        let discovery = Discovery::new(&core.config().public_origin, core.catalogue(), &core.config().scope_prefix)?;
        let openapi = openapi::build(&discovery, core.catalogue().groups().first().map(|g| g.name.as_str()))?;
        let state = AppState(Arc::new(Shared {
            limiter: Arc::new(RateLimiter::new(core.config().rate_limit_per_minute)),
            auth_limiter: Arc::new(RateLimiter::new(core.config().auth_rate_limit_per_minute)),
            discovery: Arc::new(discovery),
            openapi: bytes::Bytes::from(openapi),
            downloads: Arc::new(download::DownloadSlots::new(
                core.config().limits.downloads_per_address,
                core.config().limits.downloads_per_job,
            )),
            activity_downloads: Arc::default(),
            core: core.clone(),
        }));
        Ok(Self { listener, metrics_listener, core, router: router(state) })
    }

    /// The address `/metrics` is served on, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The core, for tests and the binary's start-up tasks.
    pub fn core(&self) -> Arc<Dataport> {
        self.core.clone()
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets requests finish and stops the
    /// workers (an interrupted export resumes on the next start).
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let jobs = tokio::spawn(self.core.clone().run_jobs(stop_rx.clone()));
        let metrics = self.metrics_listener.map(|listener| {
            let mut stopped = stop_rx.clone();
            tokio::spawn(serve::serve(
                listener,
                metrics_router(self.core.clone()),
                METRICS_LIMITS,
                Default::default(),
                async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                },
            ))
        });
        let (limits, proxies) = (self.core.config().limits, self.core.config().trusted_proxies.clone());
        serve::serve(self.listener, self.router, limits, proxies, async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await;
        let _ = tokio::time::timeout(Duration::from_secs(10), jobs).await;
        if let Some(metrics) = metrics {
            let _ = tokio::time::timeout(Duration::from_secs(5), metrics).await;
        }
        Ok(())
    }
}

/// The metrics listener serves one scraper or a few: a handful of connections is plenty.
const METRICS_LIMITS: Limits = Limits {
    connections: 16,
    connections_per_address: 16,
    downloads_per_address: 1,
    downloads_per_job: 1,
    write_timeout: Duration::from_secs(30),
};

/// `GET /metrics` and nothing else, for the metrics listener.
fn metrics_router(core: Arc<Dataport>) -> Router {
    Router::new().route("/metrics", get(metrics)).layer(nosniff()).with_state(core)
}

/// `GET /metrics`: OpenMetrics when the scraper accepts it (Prometheus does), else the classic
/// Prometheus text.
async fn metrics(State(core): State<Arc<Dataport>>, headers: axum::http::HeaderMap) -> Response {
    use dataport_core::metrics::{OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE};
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let content_type = if openmetrics { OPENMETRICS_CONTENT_TYPE } else { PROMETHEUS_CONTENT_TYPE };
    ([(header::CONTENT_TYPE, content_type)], core.metrics_text(openmetrics).await).into_response()
}

/// The routes of the process's role (a worker serves only health) behind the request limits.
///
/// The limits wrap the router once, rather than each route (`Router::layer`), so that a request
/// clones one stack of plain services instead of a box per layer per route: on the polling path
/// that was a tenth of the time.
fn router(state: AppState) -> Router {
    let health = Router::new()
        .route("/healthz", get(|| async { ([(header::CONTENT_TYPE, "application/json")], "{\"status\":\"ok\"}") }))
        .route("/readyz", get(readyz));
    let routes = if state.core.config().role.runs_api() { api_routes(health) } else { health };
    // The API (the fallback) reads its body with its own limit; the routes' forms get the same.
    let routes: Router = routes
        .route_layer(DefaultBodyLimit::max(api::MAX_BODY))
        .route_layer(axum::middleware::from_fn(observe::label_route))
        .with_state(state.clone());
    let limited = tower::ServiceBuilder::new()
        .layer(nosniff())
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(tower::layer::layer_fn(|inner| observe::Observe::new(inner, state.core.clone())))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, HANDLER_TIMEOUT))
        .layer(tower::layer::layer_fn(LimitHead))
        .layer(RequestBodyTimeoutLayer::new(BODY_TIMEOUT))
        .service(routes);
    Router::new().fallback_service(limited)
}

/// `X-Content-Type-Options: nosniff` on every response (issue #22 finding 11: `/token`, the
/// metadata, OpenAPI and discovery documents lacked it), set once here rather than per handler.
fn nosniff() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"))
}

/// The API, the downloads and the authorization server.
fn api_routes(routes: Router<AppState>) -> Router<AppState> {
    routes
        .route("/$discovery/rest", get(discovery_doc))
        .route("/discovery/v1/apis/dataportability/{version}/rest", get(discovery_alias))
        .route("/openapi.json", get(openapi_doc))
        .route("/download/{job}/{part}", get(download::handle).head(download::handle))
        .route("/o/oauth2/v2/auth", get(oauth::authorize))
        .route("/authorize", get(oauth::authorize))
        .route("/o/oauth2/v2/login", post(oauth::login))
        .route("/o/oauth2/v2/consent", get(oauth::consent_page).post(oauth::consent_submit))
        .route("/o/assets/dataport.css", get(pages::stylesheet))
        .route("/account", get(account::overview))
        .route("/account/login", post(account::login))
        .route("/account/apps/{client}/revoke", get(account::revoke_confirm).post(account::revoke))
        .route("/account/exports/{job}/parts/{part}", get(account::download))
        .route("/account/activity", get(account::activity))
        .route("/account/activity.json", get(account::activity_json))
        .route("/token", post(oauth::token))
        .route("/revoke", post(oauth::revoke).get(oauth::revoke))
        .route("/.well-known/oauth-authorization-server", get(oauth::metadata))
        .fallback(api::handle)
}

/// A request body must arrive within this (slow-body protection).
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// A handler must produce its response head within this (downloads then stream for as long as
/// they need).
const HANDLER_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest request target accepted (SPEC §11).
const MAX_URI: usize = 8 * 1024;
/// Most header bytes (names and values) accepted.
const MAX_HEADERS: usize = 32 * 1024;

/// Refuses request targets longer than [`MAX_URI`] (414) and header sets larger than
/// [`MAX_HEADERS`] (431) before any handler sees them.
#[derive(Clone)]
struct LimitHead<S>(S);

impl<S, B> tower::Service<axum::http::Request<B>> for LimitHead<S>
where
    S: tower::Service<axum::http::Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        match oversized_head(&request) {
            Some(refusal) => Either::Left(ready(Ok(refusal))),
            None => Either::Right(self.0.call(request)),
        }
    }
}

fn oversized_head<B>(request: &axum::http::Request<B>) -> Option<Response> {
    let header_bytes: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    let uri = request.uri();
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len())
        + uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len());
    let (code, message) = if target > MAX_URI {
        (StatusCode::URI_TOO_LONG, format!("The request URL is longer than {MAX_URI} bytes."))
    } else if header_bytes > MAX_HEADERS {
        (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, format!("The request headers exceed {MAX_HEADERS} bytes."))
    } else {
        return None;
    };
    let mut status = dataport_types::Status::new(dataport_types::Code::InvalidArgument, message);
    status.code = code.as_u16();
    let body = serde_json::to_string_pretty(&status.into_envelope()).unwrap_or_default();
    Some((code, [(header::CONTENT_TYPE, "application/json; charset=UTF-8")], body).into_response())
}

/// `GET /readyz` (SPEC §15): 200 when the database and the blob store answer and the catalogue
/// is loaded (the body says what was checked), else 503 naming the dependency that did not
/// answer, and nothing of its error (issue #22 finding 11).
async fn readyz(State(app): State<AppState>) -> Response {
    match app.core.ready().await {
        Ok(ready) => {
            let body = serde_json::json!({
                "status": "ready",
                "database": "ok",
                "blobStore": "ok",
                "catalogue": { "groups": ready.catalogue_groups },
            });
            ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
        }
        Err(not_ready) => {
            // The detail may name the S3 endpoint, bucket and prefix, paths, and carry S3's own
            // error text: the log has it, the public answer names the dependency only.
            tracing::warn!(reason = %not_ready, "not ready");
            let reason = not_ready.dependency.name();
            let body = serde_json::json!({ "status": "unavailable", "reason": reason }).to_string();
            (StatusCode::SERVICE_UNAVAILABLE, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
    }
}

#[derive(Deserialize)]
struct VersionQuery {
    version: Option<String>,
}

async fn discovery_doc(State(app): State<AppState>, Query(q): Query<VersionQuery>) -> Response {
    discovery_response(&app, q.version.as_deref().unwrap_or("v1"))
}

async fn discovery_alias(
    State(app): State<AppState>,
    axum::extract::Path(version): axum::extract::Path<String>,
) -> Response {
    discovery_response(&app, &version)
}

/// `GET /openapi.json`: the OpenAPI 3.1 description generated from the discovery documents.
async fn openapi_doc(State(app): State<AppState>) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=UTF-8")], app.openapi.clone()).into_response()
}

fn discovery_response(app: &AppState, version: &str) -> Response {
    match app.discovery.get(version) {
        Some(doc) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=UTF-8")], doc.to_owned())
            .into_response(),
        None => respond::error(&ApiError::NotFound, &app.core.config().error_domain, &SystemParams::default()),
    }
}
