//! dataport's HTTP layer and the `dataportd` server.
//!
//! [`Application::build`] binds the listener and opens the core; [`Application::run_until_stopped`]
//! serves HTTP and runs the job engine until the shutdown future resolves. Tests start it on
//! `127.0.0.1:0`, exactly as the binary does.
#![forbid(unsafe_code)]

mod api;
mod discovery;
mod download;
mod endpoint;
mod oauth;
mod pages;
mod params;
mod rate_limit;
mod respond;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use dataport_core::{ApiError, Config, Dataport};

use crate::discovery::Discovery;
use crate::params::SystemParams;
use crate::rate_limit::RateLimiter;

/// State shared by all handlers.
#[derive(Clone)]
pub struct AppState {
    pub core: Arc<Dataport>,
    discovery: Arc<Discovery>,
    limiter: Arc<RateLimiter>,
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    core: Arc<Dataport>,
    router: Router,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

impl Application {
    /// Binds `listen`, opens the core, and prepares the routes. When `config.public_origin` is
    /// empty it becomes `http://<bound address>`.
    pub async fn build(mut config: Config, listen: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let local = listener.local_addr()?;
        if config.public_origin.is_empty() {
            config.public_origin = format!("http://{local}");
        }
        config.public_origin = config.public_origin.trim_end_matches('/').to_owned();
        let core = Arc::new(Dataport::open(config).await?);
        let discovery = Discovery::new(&core.config.public_origin, &core.catalogue, &core.config.scope_prefix)?;
        let state = AppState {
            limiter: Arc::new(RateLimiter::new(core.config.rate_limit_per_minute)),
            discovery: Arc::new(discovery),
            core: core.clone(),
        };
        Ok(Self { listener, core, router: router(state) })
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
        let jobs = tokio::spawn(self.core.clone().run_jobs(stop_rx));
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(self.listener, service)
            .with_graceful_shutdown(async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            })
            .await;
        let _ = tokio::time::timeout(Duration::from_secs(10), jobs).await;
        result.context("HTTP server failed")
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { ([(header::CONTENT_TYPE, "application/json")], "{\"status\":\"ok\"}") }))
        .route("/$discovery/rest", get(discovery_doc))
        .route("/discovery/v1/apis/dataportability/{version}/rest", get(discovery_alias))
        .route("/download/{job}/{part}", get(download::handle).head(download::handle))
        .route("/o/oauth2/v2/auth", get(oauth::authorize))
        .route("/authorize", get(oauth::authorize))
        .route("/o/oauth2/v2/login", post(oauth::login))
        .route("/o/oauth2/v2/consent", get(oauth::consent_page).post(oauth::consent_submit))
        .route("/o/assets/dataport.css", get(pages::stylesheet))
        .route("/token", post(oauth::token))
        .route("/revoke", post(oauth::revoke).get(oauth::revoke))
        .route("/.well-known/oauth-authorization-server", get(oauth::metadata))
        .fallback(api::handle)
        .with_state(state)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default();
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
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

fn discovery_response(app: &AppState, version: &str) -> Response {
    match app.discovery.get(version) {
        Some(doc) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=UTF-8")], doc.to_owned())
            .into_response(),
        None => respond::error(&ApiError::NotFound, &app.core.config.error_domain, &SystemParams::default()),
    }
}
