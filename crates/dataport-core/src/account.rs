//! The person's own side of dataport (issue #13, SPEC §12 "a user page"): the apps they
//! connected and what each may still do, revoking one, their exports with their own download of
//! a retained archive, and their audit entries (GDPR Art. 15).
//!
//! Everything here takes the signed-in person's user id and reads through [`crate::store::Account`],
//! whose queries are scoped by that id: another person's client, job or audit entry is
//! [`ApiError::NotFound`], never their data.

use std::collections::HashMap;

use dataport_types::{State, Timestamp};

use crate::Dataport;
use crate::download::Download;
use crate::error::ApiError;
use crate::grants::CooldownKey;
use crate::model::{AuditEntry, AuditRecord, Grant, GrantAccess, Job};

/// Entries on one page of the activity list.
pub const ACTIVITY_PAGE: u32 = 50;
/// Most exports listed on the page (the newest).
pub const EXPORTS_LISTED: u32 = 100;
/// Entries the activity download reads from the store at a time: all it holds of the log at once,
/// however long the log is.
pub const ACTIVITY_EXPORT_BATCH: u32 = 1000;
/// The audit event of an archive download (through a signed URL or the person's own page).
pub const DOWNLOAD_EVENT: &str = "archive.downloaded";

/// Who ended a (user, client) pair's access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revoker {
    /// The app itself, through `authorization:reset`.
    App,
    /// The person, from their account page.
    Person,
}

/// An app the person granted access to, with what it may export.
#[derive(Clone, Debug)]
pub struct ConnectedApp {
    pub client_id: String,
    pub name: String,
    /// Where the app receives the person (the client's registered redirect URIs).
    pub redirect_uris: Vec<String>,
    pub groups: Vec<GrantedGroup>,
}

/// One group a connected app may export.
#[derive(Clone, Debug)]
pub struct GrantedGroup {
    pub resource: String,
    /// The catalogue title (the resource name when the catalogue no longer has it).
    pub title: String,
    pub grant: Grant,
    /// Time-based and past its expiry: the app can no longer export it.
    pub expired: bool,
    /// Time-based and live: when the app may next start an export of it (`None`: now).
    pub next_export_at: Option<Timestamp>,
}

/// One of the person's export jobs as their page shows it.
#[derive(Clone, Debug)]
pub struct Export {
    pub job: Job,
    /// The app that asked for it.
    pub client_name: String,
    /// Downloads recorded for it (through its signed URLs or the person's page).
    pub downloads: u64,
    /// Its archive can be downloaded now (COMPLETE, retained, not revoked).
    pub downloadable: bool,
    /// Bytes of its archive parts.
    pub size: u64,
}

/// One page of the person's audit entries, newest first.
#[derive(Clone, Debug)]
pub struct ActivityPage {
    pub entries: Vec<AuditRecord>,
    /// The cursor (`before`) of the next, older page, if there are older entries.
    pub older: Option<i64>,
    /// The names of the apps the entries name, by client id.
    pub app_names: HashMap<String, String>,
}

impl Dataport {
    /// The apps `user_id` has granted access to, by name, each with its groups.
    pub async fn connected_apps(&self, user_id: &str) -> Result<Vec<ConnectedApp>, ApiError> {
        let now = Timestamp::now();
        let mut by_client: Vec<(String, Vec<Grant>)> = Vec::new();
        for row in self.store.user_grants(user_id).await? {
            match by_client.last_mut() {
                Some((client, grants)) if *client == row.client_id => grants.push(row.grant),
                _ => by_client.push((row.client_id, vec![row.grant])),
            }
        }
        let mut apps = Vec::with_capacity(by_client.len());
        for (client_id, grants) in by_client {
            let client = self.store.client(&client_id).await?;
            let (name, redirect_uris) =
                client.map_or_else(|| (client_id.clone(), Vec::new()), |c| (c.name, c.redirect_uris));
            let mut groups: Vec<GrantedGroup> = grants.iter().map(|g| self.granted_group(g, &grants, now)).collect();
            groups.sort_by_key(|g| self.catalogue.position(&g.resource));
            apps.push(ConnectedApp { client_id, name, redirect_uris, groups });
        }
        apps.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then(a.client_id.cmp(&b.client_id)));
        Ok(apps)
    }

    /// The app `client_id` if `user_id` has granted it access; [`ApiError::NotFound`] otherwise
    /// (an unknown client and another person's app look the same).
    pub async fn connected_app(&self, user_id: &str, client_id: &str) -> Result<ConnectedApp, ApiError> {
        self.connected_apps(user_id).await?.into_iter().find(|a| a.client_id == client_id).ok_or(ApiError::NotFound)
    }

    /// A grant as the page shows it. The next allowed export follows initiate's cooldown rule
    /// (SPEC §6): per group, or per pair when the operator keys the cooldown by pair.
    fn granted_group(&self, grant: &Grant, pair: &[Grant], now: Timestamp) -> GrantedGroup {
        let time_based = grant.access == GrantAccess::TimeBased;
        let expired = time_based && grant.expires_at.is_none_or(|e| e <= now);
        let last = match self.config.quota.cooldown_key {
            CooldownKey::Group => grant.last_initiate_at,
            CooldownKey::Pair => pair.iter().filter_map(|g| g.last_initiate_at).max(),
        };
        let next_export_at = if time_based && !expired {
            last.map(|at| at.plus_seconds(self.config.quota.cooldown_seconds)).filter(|at| *at > now)
        } else {
            None
        };
        let title = self.catalogue.title(&grant.resource);
        GrantedGroup { resource: grant.resource.clone(), title, grant: grant.clone(), expired, next_export_at }
    }

    /// The person's revocation of app `client_id`: exactly `authorization:reset` for the pair
    /// (see [`Dataport::revoke_pair`]). [`ApiError::NotFound`] when the app is not connected.
    pub async fn revoke_app(&self, user_id: &str, client_id: &str) -> Result<(), ApiError> {
        if self.store.grants(user_id, client_id).await?.is_empty() {
            return Err(ApiError::NotFound);
        }
        self.revoke_pair(user_id, client_id, Revoker::Person).await
    }

    /// Ends a (user, client) pair's access, whoever asks: revokes every token of the pair, clears
    /// its grants (exhaustion and cooldown), cancels its running jobs and revokes its archives'
    /// URLs, in one store transaction ([`crate::store::Jobs::reset`]); then audits who did it.
    /// `authorization:reset` and the person's revoke both come through here.
    pub async fn revoke_pair(&self, user_id: &str, client_id: &str, by: Revoker) -> Result<(), ApiError> {
        self.revoking(self.store.reset(user_id, client_id, Timestamp::now())).await?;
        let (event, by) = match by {
            Revoker::App => ("authorization.reset", "app"),
            Revoker::Person => ("authorization.revoked", "user"),
        };
        self.record(AuditEntry {
            event: event.to_owned(),
            user_id: Some(user_id.to_owned()),
            client_id: Some(client_id.to_owned()),
            detail: serde_json::json!({ "by": by }),
            ..AuditEntry::now()
        })
        .await;
        Ok(())
    }

    /// The person's newest exports ([`EXPORTS_LISTED`]), of every app, with their download counts.
    pub async fn exports(&self, user_id: &str) -> Result<Vec<Export>, ApiError> {
        let now = Timestamp::now();
        let jobs = self.store.user_jobs(user_id, EXPORTS_LISTED).await?;
        let downloads: HashMap<String, u64> =
            self.store.user_event_counts(user_id, DOWNLOAD_EVENT).await?.into_iter().collect();
        let names = self.app_names(jobs.iter().map(|j| j.client_id.as_str())).await?;
        let mut exports = Vec::with_capacity(jobs.len());
        for job in jobs {
            exports.push(Export {
                client_name: names.get(&job.client_id).cloned().unwrap_or_default(),
                downloads: downloads.get(&job.id).copied().unwrap_or(0),
                downloadable: self.downloadable(&job, now),
                size: if job.state == State::Complete { job.parts.iter().map(|p| p.size).sum() } else { 0 },
                job,
            });
        }
        Ok(exports)
    }

    /// Part `part` of the person's own job `job_id`, while its archive is retained and not
    /// revoked; [`ApiError::NotFound`] for anything else, another person's job included.
    pub async fn own_download(&self, user_id: &str, job_id: &str, part: u32) -> Result<Download, ApiError> {
        if job_id.is_empty() || job_id.len() > crate::portability::MAX_JOB_ID_LEN {
            return Err(ApiError::NotFound);
        }
        let job = self.store.user_job(user_id, job_id).await?.ok_or(ApiError::NotFound)?;
        if !self.downloadable(&job, Timestamp::now()) {
            return Err(ApiError::NotFound);
        }
        Download::of(&job, part).ok_or(ApiError::NotFound)
    }

    /// One page of the person's audit entries, newest first, older than the entry `before`.
    pub async fn activity(&self, user_id: &str, before: Option<i64>) -> Result<ActivityPage, ApiError> {
        let mut entries = self.store.user_audit(user_id, before, ACTIVITY_PAGE + 1).await?;
        let more = entries.len() > ACTIVITY_PAGE as usize;
        entries.truncate(ACTIVITY_PAGE as usize);
        let older = if more { entries.last().map(|e| e.id) } else { None };
        let app_names = self.app_names(entries.iter().filter_map(|e| e.entry.client_id.as_deref())).await?;
        Ok(ActivityPage { entries, older, app_names })
    }

    /// The names of the apps `ids` name (an app that is gone keeps its id as its name), read once each.
    async fn app_names(&self, ids: impl Iterator<Item = &str>) -> Result<HashMap<String, String>, ApiError> {
        let mut names = HashMap::new();
        for id in ids {
            if !names.contains_key(id) {
                let name = self.store.client(id).await?.map_or_else(|| id.to_owned(), |c| c.name);
                names.insert(id.to_owned(), name);
            }
        }
        Ok(names)
    }

    /// One batch of the activity download: the person's audit entries with an id below `before`
    /// (all, without it), newest first, at most [`ACTIVITY_EXPORT_BATCH`], and the `before` of the
    /// next batch (`None`: there is none). The download reads the whole log this way, a batch at a
    /// time, so what it holds does not grow with the log.
    pub async fn activity_batch(
        &self,
        user_id: &str,
        before: Option<i64>,
    ) -> Result<(Vec<AuditRecord>, Option<i64>), ApiError> {
        let batch = self.store.user_audit(user_id, before, ACTIVITY_EXPORT_BATCH).await?;
        let next = if batch.len() == ACTIVITY_EXPORT_BATCH as usize { batch.last().map(|e| e.id) } else { None };
        Ok((batch, next))
    }

    /// Records that `user_id` signed in (`method`: `password` or `trusted-header`) from `address`.
    pub async fn record_sign_in(&self, user_id: &str, method: &str, address: std::net::IpAddr) {
        self.record(AuditEntry {
            event: "login.succeeded".into(),
            user_id: Some(user_id.to_owned()),
            detail: serde_json::json!({ "method": method, "address": address.to_string() }),
            ..AuditEntry::now()
        })
        .await;
    }
}
