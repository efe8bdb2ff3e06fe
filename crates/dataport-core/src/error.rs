//! The API's error catalogue (SPEC §4.1), as values the use cases return.
//!
//! Each variant is one row of the catalogue, named after its ErrorInfo reason or status. The HTTP
//! layer renders them with [`ApiError::to_status`]; internals never reach the message.

use std::collections::BTreeMap;

use dataport_types::{AccessType, Code, Detail, FieldViolation, State, Status, Timestamp};

/// An error the API reports to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// E1: no token at all.
    #[error("credentials missing")]
    CredentialsMissing,
    /// E2: unknown, malformed or revoked token.
    #[error("access token invalid")]
    AccessTokenInvalid,
    /// E3: the token expired.
    #[error("access token expired")]
    AccessTokenExpired,
    /// E4: the token carries no data-portability scope.
    #[error("access token scope insufficient")]
    AccessTokenScopeInsufficient,
    /// E5: requested groups the token does not grant (or whose time-based grant expired).
    #[error("resources not authorized: {resources:?}")]
    ResourcesNotAuthorized { resources: Vec<String> },
    /// E6: one-time groups already exported under the current consent.
    #[error("one-time resources exhausted")]
    ResourceExhaustedOneTime { resources: Vec<String>, previous_job_ids: Vec<String> },
    /// E7: a time-based group initiated again within the cooldown.
    #[error("time-based resources in cooldown")]
    ResourceExhaustedTimeBased { previous_job_ids: Vec<String>, retry_at: Timestamp, now: Timestamp },
    /// E8: an identical job is in progress.
    #[error("job {job_id} already in progress")]
    AlreadyExists { job_id: String, access_type: AccessType, retry_at: Option<Timestamp> },
    /// E9, E10, E12 and malformed bodies or parameters. `field` adds a BadRequest detail.
    #[error("invalid argument: {message}")]
    InvalidArgument { message: String, field: Option<(String, String)> },
    /// E11: unknown job, or one that belongs to another user or client.
    #[error("not found")]
    NotFound,
    /// E13: cancel of a job that is not in progress.
    #[error("job not in progress")]
    JobNotInProgress { state: State },
    /// E14: retry of a job that is not failed.
    #[error("job not failed")]
    JobNotFailed { state: State },
    /// E15: the retry chain already has the maximum number of retries.
    #[error("retry limit exceeded")]
    RetryLimitExceeded { limit: u32 },
    /// E16: the caller is over the request-rate limit.
    #[error("rate limit exceeded")]
    RateLimitExceeded { retry_after_seconds: u64 },
    /// 405: the path exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed { allowed: &'static str },
    /// E17: the database or blob store is unavailable.
    #[error("unavailable")]
    Unavailable,
    /// E18: a bug. Details are logged, never returned.
    #[error("internal")]
    Internal,
}

impl ApiError {
    /// An INVALID_ARGUMENT with a BadRequest violation on `field`.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::InvalidArgument { field: Some((field.to_owned(), message.clone())), message }
    }

    /// An INVALID_ARGUMENT without a field.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidArgument { message: message.into(), field: None }
    }

    /// Renders the catalogue row: status, message and details. `domain` is the ErrorInfo domain.
    pub fn to_status(&self, domain: &str) -> Status {
        let info = |reason: &str, metadata: &[(&str, String)]| Detail::ErrorInfo {
            reason: reason.to_owned(),
            domain: domain.to_owned(),
            metadata: metadata.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect::<BTreeMap<_, _>>(),
        };
        let retry_info = |seconds: i64| Detail::RetryInfo { retry_delay: format!("{}s", seconds.max(0)) };
        match self {
            Self::CredentialsMissing => Status::new(
                Code::Unauthenticated,
                "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            )
            .with_detail(info("CREDENTIALS_MISSING", &[])),
            Self::AccessTokenInvalid => Status::new(
                Code::Unauthenticated,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            )
            .with_detail(info("ACCESS_TOKEN_INVALID", &[])),
            Self::AccessTokenExpired => Status::new(
                Code::Unauthenticated,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            )
            .with_detail(info("ACCESS_TOKEN_EXPIRED", &[])),
            Self::AccessTokenScopeInsufficient => {
                Status::new(Code::PermissionDenied, "Request had insufficient authentication scopes.")
                    .with_detail(info("ACCESS_TOKEN_SCOPE_INSUFFICIENT", &[]))
            }
            Self::ResourcesNotAuthorized { resources } => Status::new(
                Code::PermissionDenied,
                format!(
                    "The requested resources are not authorized by the OAuth token: {}.",
                    resources.join(", ")
                ),
            )
            .with_detail(info("RESOURCES_NOT_AUTHORIZED", &[("resources", resources.join(","))])),
            Self::ResourceExhaustedOneTime { resources, previous_job_ids } => Status::new(
                Code::ResourceExhausted,
                format!(
                    "Requested resources ({}) have already been exported under the current one-time authorization by job(s) {}. To export them again, reset the authorization (authorization:reset) and obtain new consent from the user.",
                    resources.join(", "),
                    previous_job_ids.join(", ")
                ),
            )
            .with_detail(info("RESOURCE_EXHAUSTED_ONE_TIME", &[("previous_job_ids", previous_job_ids.join(","))])),
            Self::ResourceExhaustedTimeBased { previous_job_ids, retry_at, now } => Status::new(
                Code::ResourceExhausted,
                format!(
                    "Requested resources were exported less than 24 hours ago by job(s) {}; you can initiate again after {retry_at}.",
                    previous_job_ids.join(", ")
                ),
            )
            .with_detail(info(
                "RESOURCE_EXHAUSTED_TIME_BASED",
                &[("previous_job_ids", previous_job_ids.join(",")), ("timestamp_after_24hrs", retry_at.to_string())],
            ))
            .with_detail(retry_info(ceil_seconds(retry_at.micros() - now.micros()))),
            Self::AlreadyExists { job_id, access_type, retry_at } => {
                let (reason, mut metadata) = match access_type {
                    AccessType::TimeBased => ("ALREADY_EXISTS_TIME_BASED", vec![]),
                    _ => ("ALREADY_EXISTS_ONE_TIME", vec![]),
                };
                metadata.push(("job_id", job_id.clone()));
                metadata.push(("access_type", access_type.as_str().to_owned()));
                if let Some(at) = retry_at {
                    metadata.push(("timestamp_after_24hrs", at.to_string()));
                }
                Status::new(
                    Code::AlreadyExists,
                    format!("An identical export job {job_id} is already in progress."),
                )
                .with_detail(info(reason, &metadata))
            }
            Self::InvalidArgument { message, field } => {
                let status = Status::new(Code::InvalidArgument, message.clone());
                match field {
                    Some((field, description)) => status.with_detail(Detail::BadRequest {
                        field_violations: vec![FieldViolation { field: field.clone(), description: description.clone() }],
                    }),
                    None => status,
                }
            }
            Self::NotFound => Status::new(Code::NotFound, "Requested entity was not found."),
            Self::JobNotInProgress { state } => Status::new(
                Code::FailedPrecondition,
                format!("Only a job in state IN_PROGRESS can be cancelled; this job is {}.", state.as_str()),
            )
            .with_detail(info("JOB_NOT_IN_PROGRESS", &[("state", state.as_str().to_owned())])),
            Self::JobNotFailed { state } => Status::new(
                Code::FailedPrecondition,
                format!("Only a job in state FAILED can be retried; this job is {}.", state.as_str()),
            )
            .with_detail(info("JOB_NOT_FAILED", &[("state", state.as_str().to_owned())])),
            Self::RetryLimitExceeded { limit } => Status::new(
                Code::FailedPrecondition,
                format!("This job has already been retried {limit} times, the maximum. Initiate a new export instead."),
            )
            .with_detail(info("RETRY_LIMIT_EXCEEDED", &[("retry_limit", limit.to_string())])),
            Self::RateLimitExceeded { retry_after_seconds } => Status::new(
                Code::ResourceExhausted,
                format!("Request rate limit exceeded. Try again in {retry_after_seconds} seconds."),
            )
            .with_detail(info("RATE_LIMIT_EXCEEDED", &[]))
            .with_detail(retry_info(*retry_after_seconds as i64)),
            Self::MethodNotAllowed { allowed } => {
                let mut status = Status::new(
                    Code::Unimplemented,
                    format!("The request method is not supported for this path; allowed: {allowed}."),
                );
                status.code = 405;
                status
            }
            Self::Unavailable => Status::new(Code::Unavailable, "The service is currently unavailable."),
            Self::Internal => Status::new(Code::Internal, "Internal error encountered."),
        }
    }
}

fn ceil_seconds(micros: i64) -> i64 {
    (micros.max(0) + 999_999) / 1_000_000
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store failure");
        match e {
            crate::store::StoreError::Unavailable(_) => ApiError::Unavailable,
            _ => ApiError::Internal,
        }
    }
}
