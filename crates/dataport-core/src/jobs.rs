//! The durable job engine (SPEC §7).
//!
//! The job row is the queue item. A worker claims the oldest runnable job with a lease, keeps the
//! lease alive with heartbeats while the export runs on a blocking thread (lease times by the
//! database's clock, so that nodes' clocks need not agree), and records the result
//! with writes fenced by (attempt, owner): a worker that lost its lease — because the job was
//! cancelled or because it stalled and another worker took over — can change nothing. A crashed
//! worker's job is claimed again once its lease expires. Each attempt writes below its own blob
//! prefix `jobs/<id>/<attempt>/`, and only parts recorded by a successful `complete` are ever
//! served, so partial output is never downloadable; it is deleted when the attempt ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dataport_types::Timestamp;
use tokio::sync::watch;
use tracing::Instrument;

use crate::Dataport;
use crate::archive::{ArchiveWriter, ManifestHeader, ProgressCounters};
use crate::metrics::FailureClass;
use crate::model::{Lease, Part, Progress};
use crate::sources::{ExportRequest, SourceError};

/// How often a running export renews its lease and checks for cancellation.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How often an idle worker looks for jobs another process created or a dead worker left.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// How an attempt ended.
enum Outcome {
    Complete(Vec<Part>, Progress),
    /// Cancelled, or the lease was lost to another worker.
    Cancelled,
    /// This process is shutting down: the job goes back to the queue at once.
    Interrupted,
    Failed(Reason),
    Transient(Reason),
}

/// Why an attempt failed, told twice: `public` is stored with the job — what the app reads at
/// `/x/v1/archiveJobs/{id}` and the person sees on `/account` — and holds only a class
/// ([`crate::sources::Failure`]); `detail` goes only to the operator's log, in the line that
/// carries the job's id and attempt (the reference the person and the app can quote).
struct Reason {
    public: String,
    detail: String,
}

impl Reason {
    /// A reason whose text is fit for everyone.
    fn plain(text: impl Into<String>) -> Self {
        let text = text.into();
        Self { public: text.clone(), detail: text }
    }
}

impl From<SourceError> for Reason {
    fn from(e: SourceError) -> Self {
        Self { public: e.public().to_string(), detail: e.to_string() }
    }
}

impl Dataport {
    /// Runs `config.workers` workers and the retention sweep until `shutdown` turns true (nothing,
    /// on an API-only node).
    /// A running export is then stopped and its job released, so that the next start (or another
    /// process) resumes it at once instead of waiting for the lease to expire.
    pub async fn run_jobs(self: Arc<Self>, shutdown: watch::Receiver<bool>) {
        let mut tasks = tokio::task::JoinSet::new();
        if !self.config.role.runs_workers() {
            return;
        }
        for n in 0..self.config.workers {
            let owner = format!("{}-{n}", uuid::Uuid::new_v4());
            tasks.spawn(self.clone().worker(owner, shutdown.clone()));
        }
        tasks.spawn(self.clone().sweeper(shutdown));
        while tasks.join_next().await.is_some() {}
    }

    async fn worker(self: Arc<Self>, owner: String, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            let wake = self.wake.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            let claimed = match self.store.clock().await {
                Ok(now) => self.store.claim(&owner, now.plus_seconds(self.config.lease_seconds), now).await,
                Err(e) => Err(e),
            };
            match claimed {
                Ok(Some(lease)) => {
                    let span = tracing::info_span!("job", id = %lease.job.id, attempt = lease.attempt);
                    self.run_attempt(lease, shutdown.clone()).instrument(span).await;
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "worker: claim failed"),
            }
            tokio::select! {
                _ = &mut wake => {}
                () = self.store.wait_for_work(IDLE_POLL) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn run_attempt(self: &Arc<Self>, lease: Lease, shutdown: watch::Receiver<bool>) {
        let job = &lease.job;
        tracing::info!(resources = ?job.resources, "export started");
        let started = std::time::Instant::now();
        let cancelled = Arc::new(AtomicBool::new(false));
        if let Ok(mut running) = self.running.lock() {
            running.insert(job.id.clone(), cancelled.clone());
        }
        let outcome = self.export_with_heartbeat(&lease, cancelled.clone(), shutdown).await;
        if let Ok(mut running) = self.running.lock() {
            running.remove(&job.id);
        }
        let now = self.store.clock().await.unwrap_or_else(|_| Timestamp::now());
        let recorded = match &outcome {
            Outcome::Complete(parts, progress) => self.store.complete(&lease, parts, progress, now).await,
            Outcome::Cancelled => Ok(false),
            Outcome::Interrupted => self.store.release(&lease, "interrupted by a shutdown", now).await,
            Outcome::Failed(reason) => self.store.fail(&lease, &reason.public, now).await,
            Outcome::Transient(reason) if lease.attempt >= self.config.max_attempts => {
                let public = format!("gave up after {} attempts: {}", lease.attempt, reason.public);
                self.store.fail(&lease, &public, now).await
            }
            Outcome::Transient(reason) => {
                let backoff = 1i64 << lease.attempt.min(8);
                self.store.release(&lease, &reason.public, now.plus_seconds(backoff)).await
            }
        };
        let elapsed = started.elapsed();
        // Counted as soon as the state is recorded, before the cleanup below (slow on S3).
        if let Ok(true) = recorded {
            match &outcome {
                Outcome::Complete(parts, _) => self.metrics.job_completed(parts.iter().map(|p| p.size).sum(), elapsed),
                Outcome::Failed(_) => self.metrics.job_failed(FailureClass::Source),
                Outcome::Transient(_) if lease.attempt >= self.config.max_attempts => {
                    self.metrics.job_failed(FailureClass::AttemptsExhausted);
                }
                _ => {}
            }
        }
        let kept = matches!((&outcome, &recorded), (Outcome::Complete(..), Ok(true)));
        if !kept {
            // Nothing of this attempt will ever be served: remove it now (the sweep would later).
            let prefix = format!("jobs/{}/{}", job.id, lease.attempt);
            if let Err(e) = self.blobs.delete_prefix(&prefix).await {
                tracing::warn!(error = %e, "could not delete the attempt's partial output");
            }
        }
        let seconds = elapsed.as_secs_f64();
        match (outcome, recorded) {
            (Outcome::Complete(parts, _), Ok(true)) => {
                let bytes: u64 = parts.iter().map(|p| p.size).sum();
                tracing::info!(parts = parts.len(), bytes, seconds, "export complete");
            }
            (Outcome::Failed(reason), Ok(true)) => {
                tracing::warn!(reason = %reason.public, detail = %reason.detail, seconds, "export failed");
            }
            (Outcome::Transient(reason), Ok(true)) => {
                tracing::warn!(reason = %reason.public, detail = %reason.detail, "export attempt failed; will retry");
            }
            (Outcome::Interrupted, Ok(true)) => tracing::info!(seconds, "export interrupted by shutdown; job released"),
            (_, Ok(_)) => tracing::info!(seconds, "export stopped: the job was cancelled or taken over"),
            (_, Err(e)) => tracing::error!(error = %e, "could not record the export's outcome; the lease will expire"),
        }
    }

    async fn export_with_heartbeat(
        self: &Arc<Self>,
        lease: &Lease,
        cancelled: Arc<AtomicBool>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Outcome {
        let job = lease.job.clone();
        let subject = match self.store.user(&job.user_id).await {
            Ok(Some(user)) => user.subject,
            Ok(None) => return Outcome::Failed(Reason::plain("the job's user no longer exists")),
            Err(e) => {
                return Outcome::Transient(Reason { public: "database unavailable".into(), detail: e.to_string() });
            }
        };
        if let Err(e) = self.delete_earlier_attempts(&job.id, lease.attempt).await {
            tracing::warn!(error = %e, "could not delete earlier attempts' output");
        }
        let this = self.clone();
        let flag = cancelled.clone();
        let attempt = lease.attempt;
        let progress = Arc::new(ProgressCounters::default());
        let counters = progress.clone();
        let export = tokio::task::spawn_blocking(move || this.export(&job, attempt, &subject, &flag, counters));
        tokio::pin!(export);
        let mut ticker = tokio::time::interval(HEARTBEAT);
        ticker.tick().await;
        let mut interrupted = false;
        loop {
            tokio::select! {
                result = &mut export => {
                    return match result {
                        // Finished after all: the fenced `complete` decides whether it still counts.
                        Ok(Ok(parts)) => Outcome::Complete(parts, progress.snapshot()),
                        _ if interrupted => Outcome::Interrupted,
                        Ok(Err(SourceError::Cancelled)) => Outcome::Cancelled,
                        Ok(Err(e)) if e.is_transient() => Outcome::Transient(e.into()),
                        Ok(Err(e)) => Outcome::Failed(e.into()),
                        Err(e) => Outcome::Transient(Reason {
                            public: "export task died".into(),
                            detail: format!("export task died: {e}"),
                        }),
                    };
                }
                changed = shutdown.changed(), if !interrupted => {
                    if changed.is_err() || *shutdown.borrow() {
                        interrupted = true;
                        cancelled.store(true, Ordering::Relaxed);
                    }
                }
                _ = ticker.tick() => {
                    let renewed = match self.store.clock().await {
                        Ok(now) => {
                            let until = now.plus_seconds(self.config.lease_seconds);
                            self.store.heartbeat(lease, until, &progress.snapshot()).await
                        }
                        Err(e) => Err(e),
                    };
                    match renewed {
                        Ok(true) => {}
                        Ok(false) => cancelled.store(true, Ordering::Relaxed),
                        Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                    }
                }
            }
        }
    }

    /// Deletes what attempts before `attempt` of the job left in the blob store
    /// (`jobs/<id>/<n>/…`, committed or staged: a killed worker leaves staged ones behind).
    async fn delete_earlier_attempts(&self, job_id: &str, attempt: u32) -> Result<(), crate::blob::BlobError> {
        for earlier in 1..attempt {
            self.blobs.delete_prefix(&format!("jobs/{job_id}/{earlier}")).await?;
        }
        Ok(())
    }

    /// Writes the job's archive; runs on a blocking thread.
    fn export(
        &self,
        job: &crate::model::Job,
        attempt: u32,
        subject: &str,
        cancelled: &AtomicBool,
        progress: Arc<ProgressCounters>,
    ) -> Result<Vec<Part>, SourceError> {
        let prefix = format!("jobs/{}/{attempt}", job.id);
        let mut writer =
            ArchiveWriter::new(&self.blobs, &prefix, self.config.archive, job.export_time).reporting_to(progress);
        let request = ExportRequest { subject, start_time: job.start_time, export_time: job.export_time, cancelled };
        for name in &job.resources {
            let group = self.catalogue.get(name).ok_or_else(|| {
                SourceError::Permanent(format!("resource group {name} is no longer in the catalogue"))
            })?;
            let source = self
                .sources
                .get(name)
                .ok_or_else(|| SourceError::Permanent(format!("resource group {name} has no data source")))?;
            writer.begin_group(group)?;
            source.export(group, &request, &mut writer)?;
            if request.is_cancelled() {
                return Err(SourceError::Cancelled);
            }
        }
        let header = ManifestHeader {
            job_id: job.id.clone(),
            resources: job.resources.clone(),
            start_time: job.start_time,
            export_time: job.export_time,
        };
        Ok(writer.finish(header)?)
    }

    /// Deletes the blobs of archives past retention or revoked, and of ended attempts, and
    /// prunes expired sign-in sessions, pending authorizations and codes.
    async fn sweeper(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let interval = Duration::from_secs(self.config.sweep_interval_seconds.max(1));
        while !*shutdown.borrow() {
            if let Err(e) = self.sweep_once().await {
                tracing::warn!(error = %e, "retention sweep failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// One pass of the retention sweep; returns how many jobs' blobs were deleted.
    pub async fn sweep_once(&self) -> Result<usize, crate::store::StoreError> {
        let now = Timestamp::now();
        let pruned = self.store.prune_expired(now).await?;
        if pruned > 0 {
            tracing::debug!(pruned, "expired sessions, requests and codes pruned");
        }
        let complete_before = now.plus_seconds(-self.config.retention_seconds);
        let ended_before = now.plus_seconds(-2 * self.config.lease_seconds);
        let mut deleted = 0;
        loop {
            let ids = self.store.jobs_to_sweep(complete_before, ended_before, 100).await?;
            if ids.is_empty() {
                return Ok(deleted);
            }
            for id in ids {
                match self.blobs.delete_prefix(&format!("jobs/{id}")).await {
                    Ok(()) => {
                        self.revoking(self.store.blobs_deleted(&id, now)).await?;
                        deleted += 1;
                    }
                    Err(e) => {
                        tracing::warn!(job = %id, error = %e, "could not delete archive blobs");
                        return Ok(deleted);
                    }
                }
            }
        }
    }
}
