//! Rendering of API responses: JSON (pretty or compact), partial responses, JSONP, and the error
//! envelope with the headers that go with it.

use std::sync::OnceLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;

use dataport_core::ApiError;

use crate::params::SystemParams;

const JSON: &str = "application/json; charset=UTF-8";
const JAVASCRIPT: &str = "text/javascript; charset=UTF-8";

/// Renders a success body with the request's system parameters.
pub fn success<T: Serialize>(body: &T, params: &SystemParams) -> Response {
    let rendered = match &params.fields {
        // A partial response goes through a JSON value to be masked; a whole one is written directly.
        Some(mask) => serde_json::to_value(body).and_then(|value| to_json(&mask.apply(value), params.pretty)),
        None => to_json(body, params.pretty),
    };
    match rendered {
        Ok(json) => render(StatusCode::OK, json.into(), params),
        Err(e) => unserialisable(&e, params),
    }
}

/// [`success`] for a body answered many times over: its whole rendering is made once, into
/// `kept` (compact at 0, pretty-printed at 1), and sent from there after.
pub fn success_kept<T: Serialize>(body: &T, kept: &[OnceLock<Bytes>; 2], params: &SystemParams) -> Response {
    if params.fields.is_some() {
        return success(body, params);
    }
    let slot = &kept[usize::from(params.pretty)];
    let json = match slot.get() {
        Some(json) => json,
        None => match to_json(body, params.pretty) {
            Ok(json) => slot.get_or_init(|| json.into()),
            Err(e) => return unserialisable(&e, params),
        },
    };
    render(StatusCode::OK, json.clone(), params)
}

fn unserialisable(e: &serde_json::Error, params: &SystemParams) -> Response {
    tracing::error!(error = %e, "could not serialise a response");
    error(&ApiError::Internal, "", params)
}

fn to_json<T: Serialize + ?Sized>(value: &T, pretty: bool) -> serde_json::Result<String> {
    if pretty { serde_json::to_string_pretty(value) } else { serde_json::to_string(value) }
}

/// Renders an error envelope, with `WWW-Authenticate` on 401, `Retry-After` on rate limits and
/// `Allow` on 405.
pub fn error(err: &ApiError, domain: &str, params: &SystemParams) -> Response {
    let status = err.to_status(domain);
    let code = StatusCode::from_u16(status.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let json = to_json(&status.into_envelope(), params.pretty).unwrap_or_else(|_| "{}".to_owned());
    let mut response = render(code, json.into(), params);
    let headers = response.headers_mut();
    match err {
        // SPEC §4 puts `error="invalid_token"` on every 401, also when credentials are missing.
        ApiError::CredentialsMissing | ApiError::AccessTokenInvalid | ApiError::AccessTokenExpired => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"dataport\", error=\"invalid_token\""),
            );
        }
        ApiError::AccessTokenScopeInsufficient => {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"dataport\", error=\"insufficient_scope\""),
            );
        }
        ApiError::RateLimitExceeded { retry_after_seconds } => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
        }
        ApiError::MethodNotAllowed { allowed } => {
            headers.insert(header::ALLOW, HeaderValue::from_static(allowed));
        }
        _ => {}
    }
    response
}

fn render(code: StatusCode, json: Bytes, params: &SystemParams) -> Response {
    let mut response = match &params.callback {
        // Google's prefix: a leading comment keeps the body from being read as anything but script.
        Some(callback) => {
            let script = [format!("/**/{callback}(").as_bytes(), &json, b")"].concat();
            (code, [(header::CONTENT_TYPE, JAVASCRIPT)], script).into_response()
        }
        None => (code, [(header::CONTENT_TYPE, JSON)], json).into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
