//! The API handler: every `/v1/…`, `/v1beta/…` and `/x/v1/…` request comes here (axum cannot
//! route custom verbs), is parsed into an [`Endpoint`], and is dispatched to one core use case.
//!
//! Order of checks: path and method (an undeclared method is 405 whatever else is wrong), system
//! parameters, the path's resource name, body size, authentication (E1–E4), rate limit, body, then
//! the use case (which validates before it applies grant rules).

use std::borrow::Cow;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;

use dataport_core::ApiError;
use dataport_types::proto_json;

use crate::AppState;
use crate::endpoint::{self, Endpoint, PathError};
use crate::observe::RouteLabel;
use crate::params::SystemParams;
use crate::respond;

/// Largest request body accepted (SPEC §2.2).
pub const MAX_BODY: usize = 64 * 1024;

/// Handles one API request.
pub async fn handle(State(app): State<AppState>, request: Request) -> Response {
    let parsed = endpoint::parse(request.uri().path());
    let label = parsed.as_ref().ok().map(|endpoint| RouteLabel(Cow::Borrowed(endpoint.name())));
    let mut response = answer(&app, parsed, request).await;
    if let Some(label) = label {
        response.extensions_mut().insert(label);
    }
    response
}

async fn answer(app: &AppState, parsed: Result<Endpoint, PathError>, request: Request) -> Response {
    let domain = &app.core.config().error_domain;
    let params = SystemParams::parse(request.uri().query());
    // A method the path does not declare is 405 whatever the query string holds (SPEC §2.1).
    if let Ok(endpoint) = &parsed
        && request.method().as_str() != endpoint.method()
    {
        let error = ApiError::MethodNotAllowed { allowed: endpoint.method() };
        return respond::error(&error, domain, &params.unwrap_or_default());
    }
    let params = match params {
        Ok(params) => params,
        Err((field, message)) => {
            return respond::error(&ApiError::invalid_field(&field, message), domain, &SystemParams::default());
        }
    };
    match serve(app, &params, parsed, request).await {
        Ok(response) => response,
        Err(e) => respond::error(&e, domain, &params),
    }
}

async fn serve(
    app: &AppState,
    params: &SystemParams,
    parsed: Result<Endpoint, PathError>,
    request: Request,
) -> Result<Response, ApiError> {
    let endpoint = parsed.map_err(|e| match e {
        PathError::NotFound => ApiError::NotFound,
        PathError::BadName(message) => ApiError::invalid_field("name", message),
    })?;
    tracing::debug!(method = endpoint.name(), "api call");
    if let Some(mask) = &params.fields {
        mask.validate(response_fields(&endpoint))
            .map_err(|m| ApiError::invalid_field("fields", format!("Invalid field selection: {m}.")))?;
    }
    let (parts, body) = request.into_parts();
    let body = read_body(&parts.headers, body).await?;
    let token = bearer_token(&parts.headers, params.access_token.as_deref())?;
    // The state poll, the hot path, reads the token and the job together.
    let (principal, state) = match &endpoint {
        Endpoint::State { id } => {
            let (principal, state) = app.core.state_for_token(token, id).await?;
            (principal, Some(state))
        }
        _ => (app.core.authenticate(token).await?, None),
    };
    app.limiter
        .check(&principal.user_id, &principal.client_id)
        .map_err(|retry_after_seconds| ApiError::RateLimitExceeded { retry_after_seconds })?;
    let core = &app.core;
    let invalid_body = |e: proto_json::BodyError| match e.field {
        Some(field) => ApiError::invalid_field(&field, e.message),
        None => ApiError::invalid(e.message),
    };
    Ok(match endpoint {
        Endpoint::Initiate => {
            let request = proto_json::parse_initiate(&body).map_err(invalid_body)?;
            respond::success(&core.initiate(&principal, request).await?, params)
        }
        Endpoint::State { .. } => {
            let answered = state.ok_or(ApiError::Internal)?;
            respond::success_kept(&answered.state, &answered.json, params)
        }
        Endpoint::Retry { id } => {
            proto_json::parse_empty(&body).map_err(invalid_body)?;
            respond::success(&core.retry(&principal, &id).await?, params)
        }
        Endpoint::Cancel { id } => {
            proto_json::parse_empty(&body).map_err(invalid_body)?;
            respond::success(&core.cancel(&principal, &id).await?, params)
        }
        Endpoint::Reset => {
            proto_json::parse_empty(&body).map_err(invalid_body)?;
            respond::success(&core.reset(&principal).await?, params)
        }
        Endpoint::CheckAccessType => {
            proto_json::parse_empty(&body).map_err(invalid_body)?;
            respond::success(&core.check_access_type(&principal).await?, params)
        }
        Endpoint::JobDetails { id } => respond::success(&core.job_details(&principal, &id).await?, params),
    })
}

/// The fields each method's response declares, for validating `fields` masks.
fn response_fields(endpoint: &Endpoint) -> &'static [&'static str] {
    match endpoint {
        Endpoint::Initiate => &["archiveJobId", "accessType"],
        Endpoint::State { .. } => &["name", "state", "urls", "startTime", "exportTime"],
        Endpoint::Retry { .. } => &["archiveJobId"],
        Endpoint::Cancel { .. } | Endpoint::Reset => &[],
        Endpoint::CheckAccessType => &["oneTimeResources", "timeBasedResources"],
        Endpoint::JobDetails { .. } => &[
            "name",
            "state",
            "resources",
            "accessType",
            "startTime",
            "exportTime",
            "createTime",
            "finishTime",
            "attempt",
            "failureReason",
            "retryOf",
            "retryIndex",
            "progress",
        ],
    }
}

/// The request's body, at most [`MAX_BODY`] bytes. A request that declares none (neither
/// `Content-Length` nor `Transfer-Encoding`, RFC 9112 §6.3), as a poll, has nothing to wait for.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<bytes::Bytes, ApiError> {
    if !headers.contains_key(header::CONTENT_LENGTH) && !headers.contains_key(header::TRANSFER_ENCODING) {
        return Ok(bytes::Bytes::new());
    }
    to_bytes(body, MAX_BODY).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.downcast_ref::<http_body_util::LengthLimitError>().is_some());
        if too_large {
            ApiError::invalid(format!("Request payload size exceeds the limit: {MAX_BODY} bytes."))
        } else {
            ApiError::invalid("The request body could not be read.")
        }
    })
}

/// The bearer token from the `Authorization` header or the `access_token` parameter; both may be
/// given only if they agree.
fn bearer_token<'a>(headers: &'a HeaderMap, param: Option<&'a str>) -> Result<Option<&'a str>, ApiError> {
    let header = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value.to_str().map_err(|_| ApiError::AccessTokenInvalid)?;
            match value.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(token.trim()),
                _ => return Err(ApiError::AccessTokenInvalid),
            }
        }
    };
    match (header, param) {
        (Some(h), Some(p)) if h != p => {
            Err(ApiError::invalid("The access token in the Authorization header and in the query string differ."))
        }
        (Some(h), _) => Ok(Some(h)),
        (None, p) => Ok(p),
    }
}
