//! Every way a command can fail, as one enum whose variants are the documented exit codes.
//!
//! API failures arrive as Google's `{"error": Status}` envelope; [`CliError::from_status`] turns
//! one into the variant a person or a script can act on, with a plain-words message for the
//! cases people hit (no login, exhausted consent, cooldown).

use std::process::ExitCode;

use dataport_types::{Code, Detail, Status, Timestamp};
use serde_json::{Value, json};

/// A failed command. The variant decides the exit code; the message is one line for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// Exit 2: bad flags or values, an unknown profile, a request the API calls invalid.
    #[error("{message}")]
    Usage { message: String, status: Option<Box<Status>> },
    /// Exit 3: not signed in, a token refused or revoked, groups not granted.
    #[error("{message}")]
    Auth { message: String, status: Option<Box<Status>> },
    /// Exit 4: RESOURCE_EXHAUSTED — a one-time group already exported, a cooldown, a rate limit.
    #[error("{message}")]
    Exhausted { message: String, status: Option<Box<Status>> },
    /// Exit 5: a job ended FAILED or CANCELLED.
    #[error("{message}")]
    JobFailed { message: String },
    /// Exit 6: the network or the server: refused connections, 5xx, timeouts, corrupt downloads.
    #[error("{message}")]
    Network { message: String, status: Option<Box<Status>> },
}

/// Exit codes, as `dataport --help` and the README document them.
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_AUTH: u8 = 3;
pub const EXIT_EXHAUSTED: u8 = 4;
pub const EXIT_JOB_FAILED: u8 = 5;
pub const EXIT_NETWORK: u8 = 6;

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        Self::Usage { message: message.into(), status: None }
    }

    pub fn auth(message: impl Into<String>) -> Self {
        Self::Auth { message: message.into(), status: None }
    }

    pub fn network(message: impl Into<String>) -> Self {
        Self::Network { message: message.into(), status: None }
    }

    pub fn job_failed(message: impl Into<String>) -> Self {
        Self::JobFailed { message: message.into() }
    }

    /// The process exit code of this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage { .. } => EXIT_USAGE,
            Self::Auth { .. } => EXIT_AUTH,
            Self::Exhausted { .. } => EXIT_EXHAUSTED,
            Self::JobFailed { .. } => EXIT_JOB_FAILED,
            Self::Network { .. } => EXIT_NETWORK,
        }
    }

    /// The `kind` of the `--json` error document.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Usage { .. } => "usage",
            Self::Auth { .. } => "auth",
            Self::Exhausted { .. } => "exhausted",
            Self::JobFailed { .. } => "job_failed",
            Self::Network { .. } => "network",
        }
    }

    /// The API status this failure came from, if any.
    pub fn status(&self) -> Option<&Status> {
        match self {
            Self::Usage { status, .. }
            | Self::Auth { status, .. }
            | Self::Exhausted { status, .. }
            | Self::Network { status, .. } => status.as_deref(),
            Self::JobFailed { .. } => None,
        }
    }

    /// The same failure with `context: ` in front of its message.
    pub fn context(self, context: &str) -> Self {
        let prefix = |message: String| format!("{context}: {message}");
        match self {
            Self::Usage { message, status } => Self::Usage { message: prefix(message), status },
            Self::Auth { message, status } => Self::Auth { message: prefix(message), status },
            Self::Exhausted { message, status } => Self::Exhausted { message: prefix(message), status },
            Self::JobFailed { message } => Self::JobFailed { message: prefix(message) },
            Self::Network { message, status } => Self::Network { message: prefix(message), status },
        }
    }

    /// `{"error": {"code", "kind", "message", "status"?, "reason"?}}`.
    pub fn to_json(&self) -> Value {
        let mut error = json!({ "code": self.exit_code(), "kind": self.kind(), "message": self.to_string() });
        if let Some(status) = self.status() {
            error["status"] = json!(code_name(status.status));
            if let Some((reason, _)) = error_info(status) {
                error["reason"] = json!(reason);
            }
        }
        json!({ "error": error })
    }

    /// The exit code as the process returns it.
    pub fn exit(&self) -> ExitCode {
        ExitCode::from(self.exit_code())
    }

    /// Classifies an API error envelope. `local_time` renders a UTC instant in the user's time
    /// zone for the cooldown message.
    pub fn from_status(status: Status, local_time: &dyn Fn(Timestamp) -> String) -> Self {
        let info = error_info(&status).map(|(r, m)| (r.to_owned(), m.clone()));
        let reason = info.as_ref().map(|(r, _)| r.as_str()).unwrap_or_default();
        let meta = |key: &str| info.as_ref().and_then(|(_, m)| m.get(key)).cloned();
        let message = match (status.status, reason) {
            (Code::Unauthenticated, _) => {
                format!("the server refused the credentials ({}); run dataport login", or_status(reason, &status))
            }
            (Code::PermissionDenied, "RESOURCES_NOT_AUTHORIZED") => format!(
                "not granted: {}; run dataport login --resources {} to ask for them",
                meta("resources").unwrap_or_default(),
                meta("resources").unwrap_or_default()
            ),
            (Code::PermissionDenied, "ACCESS_TOKEN_SCOPE_INSUFFICIENT") => {
                "the token grants no data-portability scope; run dataport login".to_owned()
            }
            (Code::ResourceExhausted, "RESOURCE_EXHAUSTED_ONE_TIME") => {
                let jobs = meta("previous_job_ids").unwrap_or_default();
                let jobs = match jobs.split(',').filter(|j| !j.is_empty()).collect::<Vec<_>>().as_slice() {
                    [] => String::new(),
                    [one] => format!(" (job {one})"),
                    many => format!(" (jobs {})", many.join(", ")),
                };
                format!("already exported under this consent{jobs}; run dataport reset and dataport login again")
            }
            (Code::ResourceExhausted, "RESOURCE_EXHAUSTED_TIME_BASED") => {
                match meta("timestamp_after_24hrs").and_then(|t| Timestamp::parse(&t).ok()) {
                    Some(at) => format!("exported recently; next export allowed after {}", local_time(at)),
                    None => format!("exported recently; {}", status.message),
                }
            }
            (Code::ResourceExhausted, "RATE_LIMIT_EXCEEDED") => {
                format!("the server's request rate limit was exceeded: {}", status.message)
            }
            _ => status.message.clone(),
        };
        let status = Some(Box::new(status));
        match status.as_ref().map(|s| s.status) {
            Some(Code::Unauthenticated | Code::PermissionDenied) => Self::Auth { message, status },
            Some(Code::ResourceExhausted) => Self::Exhausted { message, status },
            Some(
                Code::InvalidArgument
                | Code::FailedPrecondition
                | Code::OutOfRange
                | Code::NotFound
                | Code::AlreadyExists,
            ) => Self::Usage { message, status },
            _ => Self::Network { message, status },
        }
    }

    /// Classifies an HTTP error whose body is not an error envelope (a proxy's page, say).
    pub fn from_http(code: u16, what: &str) -> Self {
        let message = format!("{what}: HTTP {code}");
        match code {
            401 | 403 => Self::auth(format!("{message}; run dataport login")),
            429 => Self::Exhausted { message, status: None },
            400..=499 => Self::usage(message),
            _ => Self::network(message),
        }
    }
}

fn or_status(reason: &str, status: &Status) -> String {
    if reason.is_empty() { code_name(status.status).to_owned() } else { reason.to_owned() }
}

/// The ErrorInfo of a status (the first detail when present, SPEC §4).
pub fn error_info(status: &Status) -> Option<(&str, &std::collections::BTreeMap<String, String>)> {
    status.details.iter().find_map(|d| match d {
        Detail::ErrorInfo { reason, metadata, .. } => Some((reason.as_str(), metadata)),
        _ => None,
    })
}

/// The wire name of a status code (`RESOURCE_EXHAUSTED`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Cancelled => "CANCELLED",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn status(code: Code, reason: Option<(&str, &[(&str, &str)])>) -> Status {
        let status = Status::new(code, "server message");
        match reason {
            Some((reason, metadata)) => status.with_detail(Detail::ErrorInfo {
                reason: reason.to_owned(),
                domain: "dataportability.googleapis.com".to_owned(),
                metadata: metadata.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<BTreeMap<_, _>>(),
            }),
            None => status,
        }
    }

    fn classify(status: Status) -> CliError {
        CliError::from_status(status, &|t| format!("LOCAL({t})"))
    }

    #[test]
    fn statuses_map_to_documented_exit_codes() {
        let cases = [
            (Code::Unauthenticated, Some("ACCESS_TOKEN_INVALID"), EXIT_AUTH),
            (Code::Unauthenticated, Some("ACCESS_TOKEN_EXPIRED"), EXIT_AUTH),
            (Code::PermissionDenied, Some("RESOURCES_NOT_AUTHORIZED"), EXIT_AUTH),
            (Code::PermissionDenied, Some("ACCESS_TOKEN_SCOPE_INSUFFICIENT"), EXIT_AUTH),
            (Code::ResourceExhausted, Some("RESOURCE_EXHAUSTED_ONE_TIME"), EXIT_EXHAUSTED),
            (Code::ResourceExhausted, Some("RESOURCE_EXHAUSTED_TIME_BASED"), EXIT_EXHAUSTED),
            (Code::ResourceExhausted, Some("RATE_LIMIT_EXCEEDED"), EXIT_EXHAUSTED),
            (Code::InvalidArgument, None, EXIT_USAGE),
            (Code::NotFound, None, EXIT_USAGE),
            (Code::FailedPrecondition, Some("JOB_NOT_FAILED"), EXIT_USAGE),
            (Code::Internal, None, EXIT_NETWORK),
            (Code::Unavailable, None, EXIT_NETWORK),
            (Code::DeadlineExceeded, None, EXIT_NETWORK),
        ];
        for (code, reason, exit) in cases {
            let e = classify(status(code, reason.map(|r| (r, &[][..]))));
            assert_eq!(e.exit_code(), exit, "{code:?} {reason:?}");
        }
    }

    #[test]
    fn exhaustion_is_explained_in_plain_words() {
        let one_time = classify(status(
            Code::ResourceExhausted,
            Some(("RESOURCE_EXHAUSTED_ONE_TIME", &[("previous_job_ids", "j1")])),
        ));
        assert!(one_time.to_string().contains("already exported under this consent"), "{one_time}");
        assert!(one_time.to_string().contains("run dataport reset and dataport login again"), "{one_time}");

        let time_based = classify(status(
            Code::ResourceExhausted,
            Some((
                "RESOURCE_EXHAUSTED_TIME_BASED",
                &[("previous_job_ids", "j1"), ("timestamp_after_24hrs", "2026-11-28T10:00:00Z")],
            )),
        ));
        assert!(
            time_based.to_string().contains("next export allowed after LOCAL(2026-11-28T10:00:00Z)"),
            "{time_based}"
        );
        let auth = classify(status(Code::Unauthenticated, Some(("ACCESS_TOKEN_INVALID", &[]))));
        assert!(auth.to_string().contains("run dataport login"), "{auth}");
    }

    #[test]
    fn json_document_names_kind_status_and_reason() {
        let e = classify(status(Code::ResourceExhausted, Some(("RESOURCE_EXHAUSTED_ONE_TIME", &[]))));
        let doc = e.to_json();
        assert_eq!(doc["error"]["code"], 4);
        assert_eq!(doc["error"]["kind"], "exhausted");
        assert_eq!(doc["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(doc["error"]["reason"], "RESOURCE_EXHAUSTED_ONE_TIME");
        let doc = CliError::network("connection refused").to_json();
        assert_eq!(doc, json!({"error": {"code": 6, "kind": "network", "message": "connection refused"}}));
    }

    #[test]
    fn bare_http_errors_are_classified_by_status() {
        assert_eq!(CliError::from_http(401, "x").exit_code(), EXIT_AUTH);
        assert_eq!(CliError::from_http(429, "x").exit_code(), EXIT_EXHAUSTED);
        assert_eq!(CliError::from_http(404, "x").exit_code(), EXIT_USAGE);
        assert_eq!(CliError::from_http(502, "x").exit_code(), EXIT_NETWORK);
    }
}
