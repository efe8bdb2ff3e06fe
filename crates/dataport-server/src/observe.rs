//! What an operator sees of each request (SPEC §15): a `request` span that every log line written
//! while answering it carries (method, path, request id), the request metrics labelled by the
//! route that answered, and an error line for every 5xx.
//!
//! It is one plain service rather than tower-http's `TraceLayer` and an axum `from_fn` middleware:
//! those box the rest of the stack and its future on every request, and on the polling path that
//! was a measurable share of the time.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::http::{HeaderName, Method, Request};
use axum::response::Response;
use tower::Service;
use tracing::Instrument;
use tracing::instrument::Instrumented;

use dataport_core::Dataport;

/// The header that carries a request's id (set when the client sent none, echoed in the response).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The route a response answered, as its request metrics are labelled: the axum route's template
/// (`/download/{job}/{part}`, set by [`label_route`]) or the API method's discovery name
/// (`archiveJobs.cancel`, set by the API handler), never the raw path, so that ids do not become
/// series.
#[derive(Clone)]
pub struct RouteLabel(pub Cow<'static, str>);

/// Labels a routed response with its route's template.
pub async fn label_route(
    matched: axum::extract::MatchedPath,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    response.extensions_mut().insert(RouteLabel(Cow::Owned(matched.as_str().to_owned())));
    response
}

/// Observes every request that reaches `inner`.
#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    core: Arc<Dataport>,
}

impl<S> Observe<S> {
    pub fn new(inner: S, core: Arc<Dataport>) -> Self {
        Self { inner, core }
    }
}

impl<S, B> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let started = Instant::now();
        let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let span =
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id);
        let method = method_label(request.method());
        let answering = span.in_scope(|| self.inner.call(request)).instrument(span);
        Observed { answering, core: self.core.clone(), method, started }
    }
}

pin_project_lite::pin_project! {
    /// A request being answered: when its response is ready it is counted, and logged if it
    /// failed.
    pub struct Observed<F> {
        #[pin]
        answering: Instrumented<F>,
        core: Arc<Dataport>,
        method: &'static str,
        started: Instant,
    }
}

impl<F, E> Future for Observed<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let answered = std::task::ready!(this.answering.as_mut().poll(cx));
        if let Ok(response) = &answered {
            let elapsed = this.started.elapsed();
            let status = response.status();
            let route = response.extensions().get::<RouteLabel>().map_or(Cow::Borrowed("unmatched"), |l| l.0.clone());
            if status.is_server_error() {
                let span = this.answering.span();
                tracing::error!(parent: span, status = status.as_u16(), elapsed_ms = elapsed.as_millis(), "response failed");
            }
            this.core.metrics().request(route, this.method, status.as_u16(), elapsed);
        }
        Poll::Ready(answered)
    }
}

/// A bounded, allocation-free label for a request method.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}
