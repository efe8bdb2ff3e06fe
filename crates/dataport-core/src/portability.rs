//! The use cases behind the six API methods (SPEC §2, §4.1, §6, §7).
//!
//! Each method takes an authenticated [`Principal`] and returns a wire response or the catalogue
//! error that applies. Jobs of another (user, client) pair are indistinguishable from unknown ones.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use dataport_types::{
    ArchiveJobDetails, CheckAccessTypeResponse, Empty, InitiatePortabilityArchiveRequest,
    InitiatePortabilityArchiveResponse, JobProgress, PortabilityArchiveState, RetryPortabilityArchiveResponse, State,
    Timestamp,
};

use crate::Dataport;
use crate::account::Revoker;
use crate::auth::{self, Principal};
use crate::error::ApiError;
use crate::grants::{InitiateRules, check_access, check_initiate};
use crate::model::{AuditEntry, Grant, Job, NewJob};

/// Longest job id accepted in a resource name; longer ones cannot exist.
pub(crate) const MAX_JOB_ID_LEN: usize = 128;

/// The state answered to a poll, with room for its JSON: the read cache hands the same one to
/// every poll of a finished job for up to its `MAX_AGE` (500 ms), so the HTTP layer renders it
/// once rather than per poll.
pub struct AnsweredState {
    pub state: PortabilityArchiveState,
    /// The rendered response body, compact at 0 and pretty-printed at 1, filled by the first
    /// request that needs it.
    pub json: [OnceLock<bytes::Bytes>; 2],
}

impl AnsweredState {
    pub(crate) fn new(state: PortabilityArchiveState) -> Self {
        Self { state, json: Default::default() }
    }
}

impl Dataport {
    /// Resolves a bearer token (E1–E4), from the read cache when it holds the token.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Principal, ApiError> {
        let hash = auth::presented_hash(token)?;
        let now = Timestamp::now();
        let record = match self.cache.token(&hash, now) {
            Some(record) => Some(record),
            None => {
                let generation = self.cache.generation();
                let record = self.store.token(&hash).await?.map(Arc::new);
                self.cache.keep(generation, record.as_ref(), None);
                record
            }
        };
        auth::principal(record.as_deref(), &self.catalogue, now)
    }

    /// `portabilityArchive:initiate`: validates (E9, E10), applies the grant rules (E5–E8) and
    /// creates the job, waking a worker.
    pub async fn initiate(
        &self,
        principal: &Principal,
        request: InitiatePortabilityArchiveRequest,
    ) -> Result<InitiatePortabilityArchiveResponse, ApiError> {
        let now = Timestamp::now();
        let resources = self.validate_resources(request.resources)?;
        let start_time = parse_time("startTime", request.start_time.as_deref())?;
        let mut end_time = parse_time("endTime", request.end_time.as_deref())?;
        let time_field = [(start_time, "startTime"), (end_time, "endTime")]
            .into_iter()
            .find_map(|(t, field)| t.is_some().then_some(field));
        let untimed = resources.iter().find(|r| self.catalogue.get(r).is_some_and(|g| !g.time_filter));
        if let (Some(field), Some(group)) = (time_field, untimed) {
            return Err(ApiError::invalid_field(
                field,
                format!("{field} is not supported for resource {group}: it has no time filter."),
            ));
        }
        if let Some(end) = end_time {
            if end > now.plus_seconds(self.config.end_time_skew_seconds) {
                return Err(ApiError::invalid_field("endTime", "endTime must not be in the future."));
            }
            if end > now {
                end_time = Some(now);
            }
        }
        let export_time = end_time.unwrap_or(now);
        if let Some(start) = start_time
            && start >= export_time
        {
            let bound = if end_time.is_some() { "endTime" } else { "the current time (no endTime was given)" };
            return Err(ApiError::invalid_field("startTime", format!("startTime must be before {bound}.")));
        }
        let job = NewJob {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: principal.user_id.clone(),
            client_id: principal.client_id.clone(),
            resources,
            start_time,
            end_time,
            export_time,
            created_at: now,
        };
        let rules = InitiateRules { token_scopes: principal.scopes.clone(), quota: self.config.quota };
        let mut refusal = None;
        let mut decide = |grants: &[Grant], jobs: &[Job]| {
            check_initiate(&job.resources, job.start_time, job.end_time, grants, jobs, &rules, now)
                .map_err(|e| refusal = Some(e))
                .ok()
        };
        let since = now.plus_seconds(-self.config.quota.cooldown_seconds);
        let Some(created) = self.store.initiate(&job, since, &mut decide).await? else {
            return Err(refusal.unwrap_or(ApiError::Internal));
        };
        self.wake.notify_waiters();
        self.metrics.job_created();
        self.record(AuditEntry {
            resources: created.resources.clone(),
            job_id: Some(created.id.clone()),
            detail: serde_json::json!({ "accessType": created.access_type.as_str() }),
            ..audit(principal, "export.initiated")
        })
        .await;
        Ok(InitiatePortabilityArchiveResponse { archive_job_id: created.id, access_type: created.access_type })
    }

    fn validate_resources(&self, mut resources: Vec<String>) -> Result<Vec<String>, ApiError> {
        if resources.is_empty() {
            return Err(ApiError::invalid_field("resources", "resources must name at least one resource group."));
        }
        let mut seen = HashSet::new();
        for resource in &resources {
            if !seen.insert(resource.as_str()) {
                return Err(ApiError::invalid_field("resources", format!("Resource {resource:?} is listed twice.")));
            }
            if self.catalogue.get(resource).is_none() {
                return Err(ApiError::invalid_field("resources", format!("Unknown resource group {resource:?}.")));
            }
        }
        self.catalogue.sort(&mut resources);
        Ok(resources)
    }

    /// The job `id` if it belongs to the principal's pair; E11 otherwise.
    async fn owned_job(&self, principal: &Principal, id: &str) -> Result<Job, ApiError> {
        if id.is_empty() || id.len() > MAX_JOB_ID_LEN {
            return Err(ApiError::NotFound);
        }
        owned(principal, self.store.job(id).await?)
    }

    /// `archiveJobs.getPortabilityArchiveState` for a bearer token. Clients poll this in loops,
    /// so the token, a finished job and the state made for it come from the read cache when it
    /// holds them; the token and the job are otherwise read together in one database round trip.
    pub async fn state_for_token(
        &self,
        token: Option<&str>,
        id: &str,
    ) -> Result<(Principal, Arc<AnsweredState>), ApiError> {
        let hash = auth::presented_hash(token)?;
        let id = if id.len() > MAX_JOB_ID_LEN { "" } else { id };
        let now = Timestamp::now();
        let generation = self.cache.generation();
        let (record, job) = match (self.cache.token(&hash, now), self.cache.job(id)) {
            (Some(record), Some(job)) => (Some(record), Some(job)),
            _ => {
                let (record, job) = self.store.token_with_job(&hash, id).await?;
                let (record, job) = (record.map(Arc::new), job.map(Arc::new));
                self.cache.keep(generation, record.as_ref(), job.as_ref());
                (record, job)
            }
        };
        let principal = auth::principal(record.as_deref(), &self.catalogue, now)?;
        let job = owned(&principal, job)?;
        let state = self.cache.state(&job.id).unwrap_or_else(|| {
            let state = Arc::new(AnsweredState::new(self.state_of(&job)));
            self.cache.keep_state(generation, &job, &state);
            state
        });
        Ok((principal, state))
    }

    /// The state of a job, with freshly signed URLs while its archive is kept.
    fn state_of(&self, job: &Job) -> PortabilityArchiveState {
        let now = Timestamp::now();
        let urls = if self.downloadable(job, now) {
            let expires = now.plus_seconds(self.config.url_ttl_seconds);
            job.parts.iter().map(|part| self.download_url(&job.id, part.index, expires)).collect()
        } else {
            Vec::new()
        };
        PortabilityArchiveState {
            name: format!("archiveJobs/{}/portabilityArchiveState", job.id),
            state: job.state,
            urls,
            start_time: job.start_time,
            export_time: job.export_time,
        }
    }

    /// Whether the job's archive may be downloaded at `now`.
    pub(crate) fn downloadable(&self, job: &Job, now: Timestamp) -> bool {
        job.state == State::Complete
            && job.archive_revoked_at.is_none()
            && !job.parts.is_empty()
            && job.finished_at.is_some_and(|at| at.plus_seconds(self.config.retention_seconds) > now)
    }

    /// `GET /x/v1/archiveJobs/{id}` (SPEC §12): the job of the principal's pair with its
    /// progress, failure reason and lineage; E11 for any other job.
    pub async fn job_details(&self, principal: &Principal, id: &str) -> Result<ArchiveJobDetails, ApiError> {
        let job = self.owned_job(principal, id).await?;
        let progress = job.progress.unwrap_or_default();
        Ok(ArchiveJobDetails {
            name: format!("archiveJobs/{}", job.id),
            state: job.state,
            access_type: job.access_type,
            start_time: job.start_time,
            export_time: job.export_time,
            create_time: job.created_at,
            finish_time: job.finished_at,
            attempt: job.attempt,
            failure_reason: job.failure_reason,
            retry_of: job.retry_of,
            retry_index: job.retry_index,
            progress: JobProgress {
                groups_total: u32::try_from(job.resources.len()).unwrap_or(u32::MAX),
                groups_done: progress.groups_done,
                records: progress.records,
                bytes: progress.bytes,
                parts_written: progress.parts_written,
            },
            resources: job.resources,
        })
    }

    /// `archiveJobs.retry`: a new job with the failed job's parameters (E14, E15).
    pub async fn retry(&self, principal: &Principal, id: &str) -> Result<RetryPortabilityArchiveResponse, ApiError> {
        let job = self.owned_job(principal, id).await?;
        // FAILED is final and a job's retry index never changes, so these checks need no lock;
        // the store makes sure a job gets one retry at most (a replayed retry returns it).
        if job.state != State::Failed {
            return Err(ApiError::JobNotFailed { state: job.state });
        }
        if job.retry_index >= self.config.max_retries {
            return Err(ApiError::RetryLimitExceeded { limit: self.config.max_retries });
        }
        let retry = NewJob {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: job.user_id.clone(),
            client_id: job.client_id.clone(),
            resources: job.resources.clone(),
            start_time: job.start_time,
            end_time: job.end_time,
            export_time: job.export_time,
            created_at: Timestamp::now(),
        };
        let created = self.store.insert_retry(&retry, &job).await?;
        if created.id == retry.id {
            self.metrics.job_created();
        }
        self.wake.notify_waiters();
        self.record(AuditEntry {
            resources: created.resources.clone(),
            job_id: Some(created.id.clone()),
            detail: serde_json::json!({ "retryOf": job.id }),
            ..audit(principal, "export.retried")
        })
        .await;
        Ok(RetryPortabilityArchiveResponse { archive_job_id: created.id })
    }

    /// `archiveJobs.cancel`: IN_PROGRESS → CANCELLED at once (E13); a running export stops and
    /// its partial output is deleted.
    pub async fn cancel(&self, principal: &Principal, id: &str) -> Result<Empty, ApiError> {
        let job = self.owned_job(principal, id).await?;
        if job.state != State::InProgress {
            return Err(ApiError::JobNotInProgress { state: job.state });
        }
        let after = self.store.cancel(&job.id, Timestamp::now()).await?.ok_or(ApiError::NotFound)?;
        if after.state != State::Cancelled {
            return Err(ApiError::JobNotInProgress { state: after.state });
        }
        self.signal_cancel(&job.id);
        self.metrics.job_cancelled();
        self.record(AuditEntry {
            resources: job.resources.clone(),
            job_id: Some(job.id.clone()),
            ..audit(principal, "export.cancelled")
        })
        .await;
        Ok(Empty {})
    }

    /// `authorization:reset`: revokes the pair's tokens, clears its grants (exhaustion and
    /// cooldown), cancels its running jobs and revokes its archives' URLs.
    /// The person's revoke on their account page does the same ([`Dataport::revoke_pair`]).
    pub async fn reset(&self, principal: &Principal) -> Result<Empty, ApiError> {
        self.revoke_pair(&principal.user_id, &principal.client_id, Revoker::App).await?;
        Ok(Empty {})
    }

    /// `accessType.check`: the token's live grants by access type.
    pub async fn check_access_type(&self, principal: &Principal) -> Result<CheckAccessTypeResponse, ApiError> {
        let grants = self.store.grants(&principal.user_id, &principal.client_id).await?;
        let (one_time_resources, time_based_resources) = check_access(&principal.scopes, &grants, Timestamp::now());
        Ok(CheckAccessTypeResponse { one_time_resources, time_based_resources })
    }

    fn signal_cancel(&self, job_id: &str) {
        if let Ok(running) = self.running.lock()
            && let Some(flag) = running.get(job_id)
        {
            flag.store(true, Ordering::Relaxed);
        }
    }
}

/// An audit entry of the principal's pair, stamped now.
fn audit(principal: &Principal, event: &str) -> AuditEntry {
    AuditEntry {
        event: event.to_owned(),
        user_id: Some(principal.user_id.clone()),
        client_id: Some(principal.client_id.clone()),
        ..AuditEntry::now()
    }
}

/// `job` if it belongs to the principal's pair: another pair's job is indistinguishable from an
/// unknown one (E11).
fn owned<J: std::borrow::Borrow<Job>>(principal: &Principal, job: Option<J>) -> Result<J, ApiError> {
    match job {
        Some(job) if job.borrow().user_id == principal.user_id && job.borrow().client_id == principal.client_id => {
            Ok(job)
        }
        _ => Err(ApiError::NotFound),
    }
}

fn parse_time(field: &str, value: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    value
        .map(|s| {
            Timestamp::parse(s)
                .map_err(|e| ApiError::invalid_field(field, format!("Invalid value for {field}: {s:?} is {e}.")))
        })
        .transpose()
}
