//! Server-rendered HTML for sign-in and consent: works without JavaScript, sends the security
//! headers of SPEC §10.2 on every page.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A resource group as the consent page shows it.
pub struct GroupChoice {
    pub name: String,
    pub title: String,
    pub description: String,
}

/// A duration as the consent page offers it.
pub struct DurationChoice {
    pub value: &'static str,
    pub title: &'static str,
    pub help: &'static str,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub client_name: &'a str,
    pub request_id: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub client_name: &'a str,
    pub redirect_host: &'a str,
    pub username: &'a str,
    pub request_id: &'a str,
    pub csrf: &'a str,
    pub groups: Vec<GroupChoice>,
    pub durations: Vec<DurationChoice>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

/// Renders a page with its status and the security headers.
pub fn html(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => secure((status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            secure((StatusCode::INTERNAL_SERVER_ERROR, "Internal error").into_response())
        }
    }
}

/// An error page.
pub fn error(status: StatusCode, title: &str, message: &str) -> Response {
    html(status, &ErrorPage { title, message })
}

/// Adds the headers every sign-in and consent response carries: no caching, no framing, a
/// strict content security policy (no scripts at all).
pub fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The durations shown for the ones the operator allows.
pub fn duration_choices(allowed: &[dataport_core::consent::Duration]) -> Vec<DurationChoice> {
    use dataport_core::consent::Duration;
    allowed
        .iter()
        .map(|d| match d {
            Duration::OneTime => {
                DurationChoice { value: "one-time", title: "One time", help: "The app can export this data once." }
            }
            Duration::Days30 => DurationChoice {
                value: "30d",
                title: "30 days",
                help: "The app can export new data up to once a day for 30 days.",
            },
            Duration::Days180 => DurationChoice {
                value: "180d",
                title: "180 days",
                help: "The app can export new data up to once a day for 180 days.",
            },
        })
        .collect()
}

/// The stylesheet of the pages.
pub async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        include_str!("../assets/dataport.css"),
    )
        .into_response()
}
