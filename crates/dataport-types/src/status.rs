//! The `google.rpc.Status` error envelope that every failed call returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Canonical error codes (google.rpc.Code) used by the API, with their HTTP mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Code {
    Cancelled,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    Aborted,
    OutOfRange,
    Unimplemented,
    Internal,
    Unavailable,
    Unauthenticated,
}

impl Code {
    /// The HTTP status Google's front end uses for this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidArgument | Self::FailedPrecondition | Self::OutOfRange => 400,
            Self::Unauthenticated => 401,
            Self::PermissionDenied => 403,
            Self::NotFound => 404,
            Self::AlreadyExists | Self::Aborted => 409,
            Self::ResourceExhausted => 429,
            Self::Cancelled => 499,
            Self::Internal => 500,
            Self::Unimplemented => 501,
            Self::Unavailable => 503,
            Self::DeadlineExceeded => 504,
        }
    }
}

/// One invalid field of a request (google.rpc.BadRequest.FieldViolation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// A typed entry of `error.details`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "@type")]
pub enum Detail {
    /// Machine-readable reason; clients branch on `reason` and read `metadata`.
    #[serde(rename = "type.googleapis.com/google.rpc.ErrorInfo")]
    ErrorInfo {
        reason: String,
        domain: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        metadata: BTreeMap<String, String>,
    },
    /// Which fields of the request were invalid.
    #[serde(rename = "type.googleapis.com/google.rpc.BadRequest")]
    BadRequest {
        #[serde(rename = "fieldViolations")]
        field_violations: Vec<FieldViolation>,
    },
    /// When the client may try again, as a proto3 Duration (`"86400s"`).
    #[serde(rename = "type.googleapis.com/google.rpc.RetryInfo")]
    RetryInfo {
        #[serde(rename = "retryDelay")]
        retry_delay: String,
    },
}

/// The body of an error response: `{"error": {"code", "message", "status", "details"?}}`.
///
/// `code` is the HTTP status. When an ErrorInfo is present it is the first detail, because
/// Google's Python client exposes `error_details[0]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub code: u16,
    pub message: String,
    pub status: Code,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Detail>,
}

/// `{"error": Status}` as sent on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub error: Status,
}

impl Status {
    /// A status with the HTTP code that belongs to `code` and no details.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self { code: code.http_status(), message: message.into(), status: code, details: Vec::new() }
    }

    /// Appends a detail, keeping an ErrorInfo in the first position.
    pub fn with_detail(mut self, detail: Detail) -> Self {
        if matches!(detail, Detail::ErrorInfo { .. }) {
            self.details.insert(0, detail);
        } else {
            self.details.push(detail);
        }
        self
    }

    /// Wraps the status in its `{"error": …}` envelope.
    pub fn into_envelope(self) -> ErrorEnvelope {
        ErrorEnvelope { error: self }
    }
}
