//! `dataport pull`: one job per resource group (Google's advice), run concurrently; polling with
//! backoff; downloads of every part, resumable across interruptions and restarts; verification
//! against `Portability/manifest.json`; safe extraction; incremental state.
//!
//! Layout of the output directory:
//! - `<out>/Portability/…` — the extracted archives;
//! - `<out>/.dataport/pending.json` — the jobs of a pull that has not finished, so that a rerun
//!   picks the same jobs up (a one-time group cannot be initiated twice);
//! - `<out>/.dataport/downloads/<jobId>-<n>.zip.part` — a part being downloaded, renamed to
//!   `.zip` when whole and deleted once extracted;
//! - `<out>/.dataport/staging/<jobId>/` — a job's files while they are verified, before they are
//!   moved into place.
//!
//! Every `<jobId>` is a [`JobId`]: an id the server sent (or `pending.json` kept) is checked
//! before it names a file, so each of these is a plain name directly inside its folder, and a
//! folder is removed whole only once shown to be a direct child of `staging/`.
//!
//! Each part is fetched by [`crate::download`]'s rules and checked and placed by
//! [`crate::extract`]'s, which never overwrite.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dataport_types::{Code, Detail, PortabilityArchiveState, State as JobState, Status, Timestamp};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use reqwest::header;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;

use crate::api::{Api, transport_error};
use crate::download::{PartFile, Plan, RateLimit, is_sha256_hex, resume_plan};
use crate::error::{CliError, error_info};
use crate::extract::{ExtractError, Extracted, extract_job, sha256_file};
use crate::job::{JobId, is_direct_child};
use crate::output::{Output, Report, human_bytes};
use crate::profile::{ConfigDir, GroupState, State, create_private_dir};

/// Downloads running at once, over all jobs.
const PARALLEL_DOWNLOADS: usize = 4;
/// Failures of one download (or consecutive ones of polling) before giving up.
const MAX_FAILURES: u32 = 5;
/// "Busy, retry later" answers (429) one download waits through before they count as failures.
const MAX_BUSY: u32 = 60;

/// What `dataport pull` was asked to do.
#[derive(Clone, Debug)]
pub struct PullArgs {
    pub resources: Vec<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub out: PathBuf,
    pub incremental: bool,
    /// Total download rate cap, bytes per second.
    pub limit_rate: Option<u64>,
}

/// Where `--incremental` keeps its state: the profile's state file.
pub struct StateFile {
    pub config: ConfigDir,
    pub profile: String,
}

/// Whether Google documents a time filter for `group` (SPEC §5: `myactivity.*` and
/// `chrome.history`).
pub fn time_filter_applies(group: &str) -> bool {
    group.starts_with("myactivity.") || group == "chrome.history"
}

/// Delay before state poll `attempt` (0-based): doubling from 1 s to at most 10 s for a dataport
/// server, from 5 min to at most 60 min for Google (its published guidance).
pub fn poll_delay(attempt: u32, google: bool) -> Duration {
    let (first, max): (u64, u64) = if google { (300, 3600) } else { (1, 10) };
    Duration::from_secs(first.saturating_mul(1u64 << attempt.min(16)).min(max))
}

/// The jobs of a pull that has not finished, by group (`<out>/.dataport/pending.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Pending {
    #[serde(default)]
    jobs: BTreeMap<String, PendingJob>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PendingJob {
    api: String,
    /// Checked when read: a `pending.json` with an unusable id is read as no pending job.
    job_id: JobId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end_time: Option<Timestamp>,
}

/// One group's finished pull, as `--json` reports it.
#[derive(Clone, Debug)]
struct Finished {
    resource: String,
    job_id: JobId,
    export_time: Timestamp,
    start_time: Option<Timestamp>,
    urls: usize,
    bytes: u64,
    files: u64,
    verified: bool,
}

impl Finished {
    fn to_json(&self) -> Value {
        let mut job = json!({
            "resource": self.resource,
            "jobId": self.job_id,
            "state": JobState::Complete.as_str(),
            "exportTime": self.export_time.to_string(),
            "urls": self.urls,
            "bytes": self.bytes,
            "files": self.files,
            "verified": self.verified,
        });
        if let Some(start) = self.start_time {
            job["startTime"] = json!(start.to_string());
        }
        job
    }

    fn human(&self) -> String {
        format!(
            "{}: {} files, {} in {} part(s), {} (job {})",
            self.resource,
            self.files,
            human_bytes(self.bytes),
            self.urls,
            if self.verified { "verified" } else { "no manifest to verify" },
            self.job_id
        )
    }
}

/// Notes and bars of one pull.
struct Ui {
    output: Output,
    multi: MultiProgress,
    bytes: OnceLock<ProgressBar>,
}

impl Ui {
    fn note(&self, line: &str) {
        if self.output.bars() {
            let _ = self.multi.println(line);
        } else {
            self.output.note(line);
        }
    }

    /// A group's line: a spinner with the job's state and, with the `/x/v1` extension, its
    /// records and bytes.
    fn group_bar(&self, group: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new_spinner());
        if let Ok(style) = ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {msg}") {
            bar.set_style(style);
        }
        bar.set_prefix(group.to_owned());
        bar.set_message("starting");
        if self.output.bars() {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        bar
    }

    /// The one bar of downloaded bytes, added when the first download starts.
    fn bytes(&self) -> &ProgressBar {
        self.bytes.get_or_init(|| {
            let bar = self.multi.add(ProgressBar::new(0));
            if let Ok(style) = ProgressStyle::with_template(
                "{prefix:.bold} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix("download");
            bar
        })
    }
}

/// Everything the group tasks share.
struct Pull {
    api: Arc<Api>,
    args: PullArgs,
    state_file: StateFile,
    /// The incremental state as it was when the pull started.
    state: State,
    work: PathBuf,
    pending_lock: Mutex<()>,
    state_lock: Mutex<()>,
    downloads: Semaphore,
    limit: Option<RateLimit>,
    ui: Ui,
}

/// Runs a pull. On failure the error comes with the jobs that did finish (for `--json`).
pub async fn pull(
    api: Arc<Api>,
    args: PullArgs,
    state_file: StateFile,
    output: &Output,
) -> Result<Report, (CliError, Value)> {
    let out_json = json!(args.out.display().to_string());
    let no_jobs = || json!({ "out": out_json, "jobs": [] });
    validate(&args).map_err(|e| (e, no_jobs()))?;
    let work = args.out.join(".dataport");
    fs::create_dir_all(&args.out)
        .and_then(|()| create_private_dir(&work))
        .map_err(|e| (CliError::usage(format!("cannot create {}: {e}", args.out.display())), no_jobs()))?;
    let state = if args.incremental {
        state_file.config.load_state(&state_file.profile).map_err(|e| (e, no_jobs()))?
    } else {
        State::default()
    };
    let pull = Arc::new(Pull {
        limit: args.limit_rate.map(RateLimit::new),
        api,
        state_file,
        state,
        work,
        pending_lock: Mutex::new(()),
        state_lock: Mutex::new(()),
        downloads: Semaphore::new(PARALLEL_DOWNLOADS),
        ui: Ui { output: output.clone(), multi: output.progress(), bytes: OnceLock::new() },
        args,
    });
    let mut tasks = JoinSet::new();
    for (index, group) in pull.args.resources.iter().enumerate() {
        let (pull, group) = (pull.clone(), group.clone());
        tasks.spawn(async move { (index, pull.run_group(&group).await) });
    }
    let mut results: Vec<Option<Result<Finished, CliError>>> = vec![None; pull.args.resources.len()];
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, result)) => results[index] = Some(result),
            Err(e) => return Err((CliError::network(format!("a pull task stopped: {e}")), no_jobs())),
        }
    }
    if let Some(bar) = pull.ui.bytes.get() {
        bar.finish();
    }
    let _ = pull.ui.multi.clear();
    let mut finished = Vec::new();
    let mut first_error = None;
    for (group, result) in pull.args.resources.iter().zip(results) {
        match result {
            Some(Ok(done)) => finished.push(done),
            Some(Err(e)) => {
                // The first failure is the command's error, printed once at the end.
                if first_error.is_some() {
                    pull.ui.note(&format!("{group}: {e}"));
                }
                first_error.get_or_insert(e.context(group));
            }
            None => {
                first_error.get_or_insert(CliError::network(format!("{group}: the pull stopped")));
            }
        }
    }
    let jobs: Vec<Value> = finished.iter().map(Finished::to_json).collect();
    let json = json!({ "out": out_json, "jobs": jobs });
    if let Some(e) = first_error {
        return Err((e, json));
    }
    pull.tidy();
    let mut human: Vec<String> = finished.iter().map(Finished::human).collect();
    human.push(format!("Saved to {}", pull.args.out.display()));
    Ok(Report { json, human })
}

fn validate(args: &PullArgs) -> Result<(), CliError> {
    if args.resources.is_empty() {
        return Err(CliError::usage("--resources names no group"));
    }
    for (i, group) in args.resources.iter().enumerate() {
        if group.is_empty() || args.resources[..i].contains(group) {
            return Err(CliError::usage(format!("--resources: empty or repeated group {group:?}")));
        }
    }
    if let (Some(since), Some(until)) = (args.since, args.until)
        && since >= until
    {
        return Err(CliError::usage("--since must be before --until"));
    }
    if args.limit_rate == Some(0) {
        return Err(CliError::usage("--limit-rate must be at least 1 byte per second"));
    }
    Ok(())
}

/// Whether an INVALID_ARGUMENT is about `startTime`.
fn names_start_time(status: &Status) -> bool {
    status.status == Code::InvalidArgument
        && (status.details.iter().any(|d| {
            matches!(d, Detail::BadRequest { field_violations } if field_violations.iter().any(|v| v.field == "startTime" || v.field == "start_time"))
        }) || status.message.contains("startTime"))
}

/// The job an ALREADY_EXISTS answer names (ErrorInfo metadata `job_id`).
fn existing_job(e: &CliError) -> Option<String> {
    let status = e.status().filter(|s| s.status == Code::AlreadyExists)?;
    error_info(status).and_then(|(_, metadata)| metadata.get("job_id").cloned())
}

impl Pull {
    async fn run_group(self: &Arc<Self>, group: &str) -> Result<Finished, CliError> {
        let bar = self.ui.group_bar(group);
        let result = self.pull_group(group, &bar).await;
        match &result {
            Ok(done) => bar.finish_with_message(format!(
                "done: {} files, {}{}",
                done.files,
                human_bytes(done.bytes),
                if done.verified { ", verified" } else { "" }
            )),
            Err(e) => bar.abandon_with_message(format!("failed: {e}")),
        }
        result
    }

    async fn pull_group(self: &Arc<Self>, group: &str, bar: &ProgressBar) -> Result<Finished, CliError> {
        let remembered = self.state.groups.get(group);
        let mut start = self.args.since.or_else(|| remembered.filter(|r| !r.no_time_filter).map(|r| r.export_time));
        let start_from_state = self.args.since.is_none() && start.is_some();
        let end = self.args.until;
        let mut no_time_filter = remembered.is_some_and(|r| r.no_time_filter);
        let mut resumed = self.pending_job(group, start, end).await;
        if let Some(id) = &resumed {
            self.ui.note(&format!("{group}: resuming job {id} of an earlier pull"));
        }
        let (job_id, state) = loop {
            let job_id = match resumed.clone() {
                Some(id) => id,
                None => {
                    let id = self.initiate(group, &mut start, end, start_from_state, &mut no_time_filter).await?;
                    let job = PendingJob {
                        api: self.api.base().to_owned(),
                        job_id: id.clone(),
                        start_time: start,
                        end_time: end,
                    };
                    self.update_pending(|p| {
                        p.jobs.insert(group.to_owned(), job);
                    })
                    .await?;
                    id
                }
            };
            bar.set_message(format!("job {job_id}: waiting"));
            match self.poll(group, &job_id, bar).await {
                Ok(state) => break (job_id, state),
                // The earlier pull's job is gone (a reset, another account): start afresh.
                Err(e) if resumed.is_some() && e.status().is_some_and(|s| s.status == Code::NotFound) => {
                    self.ui.note(&format!("{group}: job {job_id} no longer exists; starting a new one"));
                    self.update_pending(|p| {
                        p.jobs.remove(group);
                    })
                    .await?;
                    resumed = None;
                }
                Err(e) => {
                    if matches!(e, CliError::JobFailed { .. }) {
                        self.update_pending(|p| {
                            p.jobs.remove(group);
                        })
                        .await?;
                    }
                    return Err(e);
                }
            }
        };
        let start_time = state.start_time.or(start);
        let urls = state.urls.len();
        if urls == 0 {
            self.update_pending(|p| {
                p.jobs.remove(group);
            })
            .await?;
            return Err(CliError::network(format!(
                "job {job_id} is COMPLETE but its archive is no longer downloadable (past its retention)"
            )));
        }
        bar.set_message(format!("job {job_id}: downloading {urls} part(s)"));
        let job = Arc::new(JobUrls { job_id: job_id.clone(), urls: Mutex::new(state.urls.clone()) });
        let parts = self.download_all(&job).await?;
        bar.set_message(format!("job {job_id}: verifying and extracting"));
        let extracted = self.extract(&job, parts).await?;
        if self.args.incremental {
            let group_state = GroupState { export_time: state.export_time, job_id: job_id.to_string(), no_time_filter };
            self.remember(group, group_state).await?;
        }
        self.update_pending(|p| {
            p.jobs.remove(group);
        })
        .await?;
        Ok(Finished {
            resource: group.to_owned(),
            job_id,
            export_time: state.export_time,
            start_time,
            urls,
            bytes: extracted.bytes,
            files: extracted.files,
            verified: extracted.verified,
        })
    }

    /// Starts the group's job, or adopts the identical one already in progress (ALREADY_EXISTS).
    /// A start time remembered by `--incremental` that the server refuses for a group without
    /// a time filter is dropped (the group is exported in full, and that is remembered).
    async fn initiate(
        &self,
        group: &str,
        start: &mut Option<Timestamp>,
        end: Option<Timestamp>,
        start_from_state: bool,
        no_time_filter: &mut bool,
    ) -> Result<JobId, CliError> {
        let resources = [group.to_owned()];
        match self.initiate_once(&resources, *start, end).await {
            Err(e) if start_from_state && !time_filter_applies(group) && e.status().is_some_and(names_start_time) => {
                self.ui
                    .note(&format!("{group}: the server has no time filter for this group; pulling it in full ({e})"));
                *start = None;
                *no_time_filter = true;
                self.initiate_once(&resources, None, end).await
            }
            Err(e) if start.is_some() && e.status().is_some_and(names_start_time) => Err(CliError::Usage {
                message: format!("the server refused the start time for {group}: {e}"),
                status: e.status().cloned().map(Box::new),
            }),
            other => other,
        }
    }

    async fn initiate_once(
        &self,
        resources: &[String],
        start: Option<Timestamp>,
        end: Option<Timestamp>,
    ) -> Result<JobId, CliError> {
        match self.api.initiate(resources, start, end).await {
            Ok(response) => {
                let id = JobId::from_server(&response.archive_job_id, "initiate's answer")?;
                self.ui.note(&format!("{}: started job {id}", resources.join(",")));
                Ok(id)
            }
            Err(e) => match existing_job(&e) {
                Some(id) => {
                    let id = JobId::from_server(&id, "the ALREADY_EXISTS answer")?;
                    self.ui.note(&format!("{}: job {id} is already in progress; using it", resources.join(",")));
                    Ok(id)
                }
                None => Err(e),
            },
        }
    }

    /// Polls until the job is COMPLETE, with backoff, showing progress from the `/x/v1`
    /// extension where the server has it.
    async fn poll(&self, group: &str, job_id: &JobId, bar: &ProgressBar) -> Result<PortabilityArchiveState, CliError> {
        let mut details = !self.api.google;
        let mut failures = 0;
        let mut attempt = 0;
        let mut failure_reason = None;
        loop {
            if details {
                match self.api.job_details(job_id.as_str()).await {
                    Ok(d) => {
                        let p = d.progress;
                        bar.set_message(format!(
                            "job {job_id}: {} records, {} written, {}/{} groups",
                            p.records,
                            human_bytes(p.bytes),
                            p.groups_done,
                            p.groups_total
                        ));
                        failure_reason = d.failure_reason;
                    }
                    Err(_) => details = false,
                }
            }
            match self.api.state(job_id.as_str()).await {
                Ok(state) => {
                    failures = 0;
                    match state.state {
                        JobState::Complete => return Ok(state),
                        JobState::Failed => {
                            let why = failure_reason.map(|r| format!(" ({r})")).unwrap_or_default();
                            return Err(CliError::job_failed(format!(
                                "job {job_id} FAILED{why}; run dataport retry {job_id}"
                            )));
                        }
                        JobState::Cancelled => {
                            return Err(CliError::job_failed(format!("job {job_id} was CANCELLED")));
                        }
                        JobState::InProgress | JobState::StateUnspecified => {}
                    }
                    if !details {
                        bar.set_message(format!("job {job_id}: {}", state.state.as_str()));
                    }
                }
                Err(e @ CliError::Network { .. }) if failures < MAX_FAILURES => {
                    failures += 1;
                    self.ui.note(&format!("{group}: polling failed ({e}); trying again"));
                }
                Err(e) => return Err(e),
            }
            tokio::time::sleep(poll_delay(attempt, self.api.google)).await;
            attempt += 1;
        }
    }

    /// The job an unfinished earlier pull into this directory started for `group` with the same
    /// time window on the same API.
    async fn pending_job(&self, group: &str, start: Option<Timestamp>, end: Option<Timestamp>) -> Option<JobId> {
        let _guard = self.pending_lock.lock().await;
        let pending = read_pending(&self.work);
        let job = pending.jobs.get(group)?;
        (job.api == self.api.base() && job.start_time == start && job.end_time == end).then(|| job.job_id.clone())
    }

    async fn update_pending(&self, change: impl FnOnce(&mut Pending)) -> Result<(), CliError> {
        let _guard = self.pending_lock.lock().await;
        let mut pending = read_pending(&self.work);
        change(&mut pending);
        write_json(&self.work.join("pending.json"), &pending)
    }

    /// Records the group's export time for the next `--incremental` pull.
    async fn remember(&self, group: &str, group_state: GroupState) -> Result<(), CliError> {
        let _guard = self.state_lock.lock().await;
        let (config, profile) = (&self.state_file.config, &self.state_file.profile);
        let mut state = config.load_state(profile)?;
        state.groups.insert(group.to_owned(), group_state);
        config.save_state(profile, &state)
    }

    /// After a pull that finished every group: no pending jobs, no empty work folders.
    fn tidy(&self) {
        if read_pending(&self.work).jobs.is_empty() {
            let _ = fs::remove_file(self.work.join("pending.json"));
        }
        for dir in ["staging", "downloads"] {
            let _ = fs::remove_dir(self.work.join(dir));
        }
        let _ = fs::remove_dir(&self.work);
    }

    fn download_path(&self, job_id: &JobId, part: usize) -> PathBuf {
        job_id.child_of(&self.work.join("downloads"), &format!("-{part}.zip"))
    }

    /// Empties the job's staging folder, `staging/<jobId>/`: removed whole only when it is a
    /// plain folder directly inside `staging/` (never a symbolic link, never anything else).
    fn clear_staging(&self, job_id: &JobId) {
        let root = self.work.join("staging");
        let staging = job_id.child_of(&root, "");
        let plain_dir = fs::symlink_metadata(&staging).is_ok_and(|m| m.is_dir());
        if plain_dir && is_direct_child(&root, &staging) {
            let _ = fs::remove_dir_all(&staging);
        }
    }

    /// Downloads every part of the job (at most [`PARALLEL_DOWNLOADS`] at once over all jobs).
    async fn download_all(self: &Arc<Self>, job: &Arc<JobUrls>) -> Result<Vec<PathBuf>, CliError> {
        let count = job.urls.lock().await.len();
        let mut tasks = JoinSet::new();
        for part in 0..count {
            let (pull, job) = (self.clone(), job.clone());
            tasks.spawn(async move { (part, pull.download(&job, part).await) });
        }
        let mut paths = vec![PathBuf::new(); count];
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((part, Ok(path))) => paths[part] = path,
                Ok((_, Err(e))) => {
                    tasks.abort_all();
                    return Err(e);
                }
                Err(e) => return Err(CliError::network(format!("a download task stopped: {e}"))),
            }
        }
        Ok(paths)
    }

    /// Downloads part `part` to `<jobId>-<part>.zip`, resuming a `.part` left by an earlier
    /// attempt or run with `Range`. A 200 to a range request restarts the file; a refused URL (a
    /// stale signature) or a 416 that does not mean "complete" asks the state call for fresh
    /// URLs. When the server's ETag is a SHA-256 (dataport's is), the whole part is checked.
    async fn download(&self, job: &JobUrls, part: usize) -> Result<PathBuf, CliError> {
        let done = self.download_path(&job.job_id, part);
        let bytes_bar = self.ui.bytes();
        if let Ok(meta) = tokio::fs::metadata(&done).await {
            bytes_bar.inc_length(meta.len());
            bytes_bar.inc(meta.len());
            return Ok(done);
        }
        let _slot = self.downloads.acquire().await.map_err(|e| CliError::network(e.to_string()))?;
        let dir = self.work.join("downloads");
        tokio::fs::create_dir_all(&dir).await.map_err(|e| io_error(&dir, &e))?;
        let part_path = job.job_id.child_of(&dir, &format!("-{part}.zip.part"));
        let mut file = PartFile::open(&part_path).await.map_err(|e| io_error(&part_path, &e))?;
        // What this part has added to the bar: its length once known, and its bytes on disk.
        let mut counted_total: Option<u64> = None;
        bytes_bar.inc(file.len);
        let mut counted_bytes = file.len;
        let mut failures = 0u32;
        let mut busy = 0u32;
        let mut etag: Option<String> = None;
        let what = format!("part {part} of job {}", job.job_id);
        loop {
            if failures > MAX_FAILURES {
                return Err(CliError::network(format!(
                    "{what}: the download keeps failing; run the pull again to resume"
                )));
            }
            let url = job.url(part).await?;
            let mut request = self.api.http().get(&url);
            let window = self.limit.as_ref().map(RateLimit::window);
            if let Some(range) = file.range(window) {
                request = request.header(header::RANGE, range);
            }
            let mut response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    failures += 1;
                    if failures > MAX_FAILURES {
                        return Err(transport_error(&e, &what));
                    }
                    tokio::time::sleep(Duration::from_secs(u64::from(failures))).await;
                    continue;
                }
            };
            let status = response.status();
            let content_range =
                response.headers().get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).map(str::to_owned);
            if let Some(tag) = response.headers().get(header::ETAG).and_then(|v| v.to_str().ok()) {
                etag = Some(tag.trim_matches('"').to_owned());
            }
            let plan = resume_plan(status.as_u16(), file.len, content_range.as_deref(), response.content_length());
            let total = match plan {
                Plan::Append { total } => total,
                Plan::Restart { total } => {
                    file.restart().await.map_err(|e| io_error(&part_path, &e))?;
                    bytes_bar.dec(counted_bytes);
                    counted_bytes = 0;
                    total
                }
                Plan::Complete => Some(file.len),
                Plan::Stale => {
                    failures += 1;
                    job.refresh(&self.api, part).await?;
                    continue;
                }
                Plan::Wait => {
                    // "Too many downloads at once" is the server pacing us, not a failure.
                    if status.as_u16() == 429 && busy < MAX_BUSY {
                        busy += 1;
                    } else {
                        failures += 1;
                    }
                    let wait = response
                        .headers()
                        .get(header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .unwrap_or(u64::from(failures));
                    tokio::time::sleep(Duration::from_secs(wait.min(60))).await;
                    continue;
                }
                Plan::Mismatch => {
                    failures += 1;
                    file.restart().await.map_err(|e| io_error(&part_path, &e))?;
                    bytes_bar.dec(counted_bytes);
                    counted_bytes = 0;
                    continue;
                }
                Plan::Fail => return Err(CliError::from_http(status.as_u16(), &what)),
            };
            if let (Some(total), None) = (total, counted_total) {
                bytes_bar.inc_length(total);
                counted_total = Some(total);
            }
            let before = file.len;
            let mut cut_short = false;
            if plan != Plan::Complete {
                loop {
                    match response.chunk().await {
                        Ok(Some(chunk)) => {
                            // On disk first: a kill while waiting for the rate cap loses nothing.
                            file.append(&chunk).await.map_err(|e| io_error(&part_path, &e))?;
                            bytes_bar.inc(chunk.len() as u64);
                            counted_bytes += chunk.len() as u64;
                            if let Some(limit) = &self.limit {
                                limit.take(chunk.len() as u64).await;
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            cut_short = true;
                            break;
                        }
                    }
                }
            }
            // Progress forgives earlier failures: a long download over a flaky link goes on.
            if file.len > before {
                failures = 0;
            }
            if cut_short {
                failures += 1;
                continue; // go on from what we have
            }
            let full_window = matches!(plan, Plan::Append { .. }) && window.is_some_and(|w| file.len - before == w);
            if total.is_some_and(|t| file.len < t) || (total.is_none() && full_window) {
                continue; // the next window
            }
            if total.is_some_and(|t| file.len > t) {
                failures += 1;
                file.restart().await.map_err(|e| io_error(&part_path, &e))?;
                bytes_bar.dec(counted_bytes);
                counted_bytes = 0;
                continue;
            }
            drop(file);
            if let Some(expected) = etag.as_deref().filter(|t| is_sha256_hex(t)) {
                let path = part_path.clone();
                let actual = tokio::task::spawn_blocking(move || sha256_file(&path))
                    .await
                    .map_err(|e| CliError::network(e.to_string()))?
                    .map_err(|e| io_error(&part_path, &e))?;
                if !actual.eq_ignore_ascii_case(expected) {
                    failures += 1;
                    self.ui.note(&format!("{what}: the download does not match its checksum; downloading it again"));
                    file = PartFile::open(&part_path).await.map_err(|e| io_error(&part_path, &e))?;
                    file.restart().await.map_err(|e| io_error(&part_path, &e))?;
                    bytes_bar.dec(counted_bytes);
                    counted_bytes = 0;
                    continue;
                }
            }
            tokio::fs::rename(&part_path, &done).await.map_err(|e| io_error(&done, &e))?;
            return Ok(done);
        }
    }

    /// Verifies and extracts the job's parts. A part that fails verification is downloaded
    /// again once; a second failure is reported.
    async fn extract(self: &Arc<Self>, job: &Arc<JobUrls>, mut parts: Vec<PathBuf>) -> Result<Extracted, CliError> {
        let staging = job.job_id.child_of(&self.work.join("staging"), "");
        let mut redownloaded = false;
        loop {
            self.clear_staging(&job.job_id);
            let (out, staging_dir, paths) = (self.args.out.clone(), staging.clone(), parts.clone());
            let result = tokio::task::spawn_blocking(move || extract_job(&out, &staging_dir, &paths))
                .await
                .map_err(|e| CliError::network(format!("extraction stopped: {e}")))?;
            self.clear_staging(&job.job_id);
            match result {
                Ok(extracted) => {
                    for path in &parts {
                        let _ = fs::remove_file(path);
                    }
                    return Ok(extracted);
                }
                Err(ExtractError::Corrupt { part, message }) if !redownloaded => {
                    self.ui
                        .note(&format!("job {}: part {part} is corrupt ({message}); downloading it again", job.job_id));
                    redownloaded = true;
                    let _ = fs::remove_file(&parts[part]);
                    parts[part] = self.download(job, part).await?;
                }
                Err(ExtractError::Corrupt { part, message }) => {
                    return Err(CliError::network(format!(
                        "part {part} of job {} is corrupt after a fresh download: {message}",
                        job.job_id
                    )));
                }
                Err(ExtractError::Refused(message)) => {
                    // Not kept: a rerun fetches it again rather than trusting what was refused.
                    for path in &parts {
                        let _ = fs::remove_file(path);
                    }
                    return Err(CliError::network(format!("job {}: archive refused: {message}", job.job_id)));
                }
                Err(ExtractError::Io(message)) => return Err(CliError::usage(message)),
            }
        }
    }
}

/// A job's signed URLs, refreshed by a state call when one goes stale.
struct JobUrls {
    job_id: JobId,
    urls: Mutex<Vec<String>>,
}

impl JobUrls {
    async fn url(&self, part: usize) -> Result<String, CliError> {
        self.urls
            .lock()
            .await
            .get(part)
            .cloned()
            .ok_or_else(|| CliError::network(format!("job {} has no part {part}", self.job_id)))
    }

    /// Fresh signed URLs (every state poll of a COMPLETE job signs them anew, SPEC §9).
    async fn refresh(&self, api: &Api, part: usize) -> Result<(), CliError> {
        let state = api.state(self.job_id.as_str()).await?;
        if state.state != JobState::Complete || state.urls.len() <= part {
            return Err(CliError::network(format!(
                "job {} can no longer be downloaded (state {}, {} URLs)",
                self.job_id,
                state.state.as_str(),
                state.urls.len()
            )));
        }
        *self.urls.lock().await = state.urls;
        Ok(())
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> CliError {
    CliError::usage(format!("{}: {e}", path.display()))
}

fn read_pending(work: &Path) -> Pending {
    fs::read(work.join("pending.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), CliError> {
    let tmp = path.with_extension("json.tmp");
    let json = serde_json::to_vec_pretty(value).map_err(|e| CliError::usage(e.to_string()))?;
    fs::write(&tmp, json).and_then(|()| fs::rename(&tmp, path)).map_err(|e| io_error(path, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap() {
        let local: Vec<u64> = (0..7).map(|a| poll_delay(a, false).as_secs()).collect();
        assert_eq!(local, vec![1, 2, 4, 8, 10, 10, 10]);
        let google: Vec<u64> = (0..6).map(|a| poll_delay(a, true).as_secs() / 60).collect();
        assert_eq!(google, vec![5, 10, 20, 40, 60, 60]);
        assert_eq!(poll_delay(u32::MAX, false).as_secs(), 10);
    }

    #[test]
    fn start_time_refusals_are_recognised() {
        let status = Status::new(Code::InvalidArgument, "startTime cannot be set for chrome.bookmarks").with_detail(
            Detail::BadRequest {
                field_violations: vec![dataport_types::FieldViolation {
                    field: "startTime".into(),
                    description: "no time filter".into(),
                }],
            },
        );
        assert!(names_start_time(&status));
        assert!(!names_start_time(&Status::new(Code::InvalidArgument, "resources: unknown group")));
        assert!(time_filter_applies("myactivity.search") && time_filter_applies("chrome.history"));
        assert!(!time_filter_applies("chrome.bookmarks"));
    }
}
