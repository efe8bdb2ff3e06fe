//! Request and response messages of the six API methods, with proto3 JSON names.
//!
//! Responses omit empty and default fields, as Google's servers do: no `urls` key while a job is
//! in progress, no `startTime` unless the request set one.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// Whether a job's resources may be exported once or repeatedly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AccessType {
    /// Default value; never produced by dataport.
    #[serde(rename = "ACCESS_TYPE_UNSPECIFIED")]
    Unspecified,
    /// One export per consent.
    #[serde(rename = "ACCESS_TYPE_ONE_TIME")]
    OneTime,
    /// Repeated exports while the grant lives, one per cooldown period.
    #[serde(rename = "ACCESS_TYPE_TIME_BASED")]
    TimeBased,
}

impl AccessType {
    /// The exact wire literal.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "ACCESS_TYPE_UNSPECIFIED",
            Self::OneTime => "ACCESS_TYPE_ONE_TIME",
            Self::TimeBased => "ACCESS_TYPE_TIME_BASED",
        }
    }
}

/// The state of an archive job. Transitions only from `InProgress` to one of the final states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Default value; never produced by dataport.
    StateUnspecified,
    InProgress,
    Complete,
    Failed,
    Cancelled,
}

impl State {
    /// The exact wire literal.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StateUnspecified => "STATE_UNSPECIFIED",
            Self::InProgress => "IN_PROGRESS",
            Self::Complete => "COMPLETE",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// Parses a wire literal.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::StateUnspecified, Self::InProgress, Self::Complete, Self::Failed, Self::Cancelled]
            .into_iter()
            .find(|state| state.as_str() == s)
    }
}

/// Body of `portabilityArchive:initiate`, after proto3 JSON parsing (see [`crate::proto_json`]).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct InitiatePortabilityArchiveRequest {
    pub resources: Vec<String>,
    /// Raw `startTime` as sent; validated by the use case so that errors name the field.
    pub start_time: Option<String>,
    /// Raw `endTime` as sent.
    pub end_time: Option<String>,
}

/// Response of `portabilityArchive:initiate`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitiatePortabilityArchiveResponse {
    pub archive_job_id: String,
    pub access_type: AccessType,
}

/// Response of `archiveJobs.getPortabilityArchiveState`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortabilityArchiveState {
    pub name: String,
    pub state: State,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    pub export_time: Timestamp,
}

/// Response of `archiveJobs.retry`: the id of the new job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryPortabilityArchiveResponse {
    pub archive_job_id: String,
}

/// Response of `accessType.check`.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckAccessTypeResponse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub one_time_resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub time_based_resources: Vec<String>,
}

/// The empty message (`{}`), returned by cancel and reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Empty {}

/// `GET /x/v1/archiveJobs/{id}` (SPEC §12, dataport's extension; Google's clients never call it):
/// a job with its progress, its failure reason and its place in a retry chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveJobDetails {
    /// `archiveJobs/{id}`.
    pub name: String,
    pub state: State,
    pub resources: Vec<String>,
    pub access_type: AccessType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    pub export_time: Timestamp,
    pub create_time: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_time: Option<Timestamp>,
    /// How many times a worker has taken the job up (attempts after transient failures count).
    pub attempt: u32,
    /// Why the last attempt failed (a FAILED job's reason, or a transient one being retried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// The failed job this one retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
    pub retry_index: u32,
    pub progress: JobProgress,
}

/// How far a job's current (or last) attempt got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobProgress {
    pub groups_total: u32,
    pub groups_done: u32,
    /// Records written (media files not counted).
    pub records: u64,
    /// Uncompressed bytes written.
    pub bytes: u64,
    /// Archive parts finished (the index part included once complete).
    pub parts_written: u32,
}
