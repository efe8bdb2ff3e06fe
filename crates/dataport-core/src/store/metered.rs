//! [`MeteredStore`]: any [`Store`] with each call's latency recorded in [`Metrics`].
//!
//! Generated mechanically from the traits: every method delegates to the wrapped store and
//! records how long it took under its own name. [`Queue::wait_for_work`] is a wait, not a call,
//! and [`Store::close`] ends the store; neither is timed.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use dataport_types::Timestamp;

use super::{
    Account, Audit, Auth, Clients, InitiateDecision, Jobs, Queue, Redemption, RefreshRules, Rotation, SignInDecision,
    Store, StoreError, Uploads, Users,
};
use crate::metrics::Metrics;
use crate::model::{
    AuditEntry, AuditFilter, AuditRecord, AuthCode, Client, ClientGrant, Credentials, Grant, GrantAccess, Job,
    JobFilter, JobRecord, Lease, NewJob, Part, PendingAuthorization, Progress, QueueDepth, RefreshRotation, Session,
    TokenRecord, User,
};

/// A store whose calls are timed.
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    async fn timed<T>(&self, call: &'static str, future: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = future.await;
        self.metrics.store_call(call, started.elapsed());
        result
    }
}

#[async_trait]
impl Store for MeteredStore {
    async fn close(&self) {
        self.inner.close().await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.timed("ping", self.inner.ping()).await
    }
}

#[async_trait]
impl Users for MeteredStore {
    async fn ensure_user(&self, username: &str, now: Timestamp) -> Result<User, StoreError> {
        self.timed("ensure_user", self.inner.ensure_user(username, now)).await
    }

    async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.timed("user", self.inner.user(id)).await
    }

    async fn create_user(
        &self,
        username: &str,
        subject: &str,
        password_hash: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<User>, StoreError> {
        self.timed("create_user", self.inner.create_user(username, subject, password_hash, now)).await
    }

    async fn credentials(&self, username: &str) -> Result<Option<Credentials>, StoreError> {
        self.timed("credentials", self.inner.credentials(username)).await
    }

    async fn users(&self) -> Result<Vec<User>, StoreError> {
        self.timed("users", self.inner.users()).await
    }

    async fn user_by_subject(&self, subject: &str) -> Result<Option<User>, StoreError> {
        self.timed("user_by_subject", self.inner.user_by_subject(subject)).await
    }

    async fn set_password(&self, username: &str, password_hash: &str) -> Result<bool, StoreError> {
        self.timed("set_password", self.inner.set_password(username, password_hash)).await
    }

    async fn set_user_disabled(&self, username: &str, disabled: bool, now: Timestamp) -> Result<bool, StoreError> {
        self.timed("set_user_disabled", self.inner.set_user_disabled(username, disabled, now)).await
    }
}

#[async_trait]
impl Clients for MeteredStore {
    async fn ensure_client(&self, client: &Client, now: Timestamp) -> Result<Client, StoreError> {
        self.timed("ensure_client", self.inner.ensure_client(client, now)).await
    }

    async fn client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        self.timed("client", self.inner.client(id)).await
    }

    async fn create_client(&self, client: &Client, now: Timestamp) -> Result<bool, StoreError> {
        self.timed("create_client", self.inner.create_client(client, now)).await
    }

    async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        self.timed("clients", self.inner.clients()).await
    }

    async fn set_refresh_rotation(&self, id: &str, rotation: Option<RefreshRotation>) -> Result<bool, StoreError> {
        self.timed("set_refresh_rotation", self.inner.set_refresh_rotation(id, rotation)).await
    }

    async fn set_client_disabled(&self, id: &str, disabled: bool, now: Timestamp) -> Result<bool, StoreError> {
        self.timed("set_client_disabled", self.inner.set_client_disabled(id, disabled, now)).await
    }
}

#[async_trait]
impl Jobs for MeteredStore {
    async fn upsert_grants(
        &self,
        user_id: &str,
        client_id: &str,
        resources: &[String],
        access: GrantAccess,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.timed("upsert_grants", self.inner.upsert_grants(user_id, client_id, resources, access, expires_at, now))
            .await
    }

    async fn grants(&self, user_id: &str, client_id: &str) -> Result<Vec<Grant>, StoreError> {
        self.timed("grants", self.inner.grants(user_id, client_id)).await
    }

    async fn initiate(
        &self,
        job: &NewJob,
        since: Timestamp,
        decide: &mut InitiateDecision<'_>,
    ) -> Result<Option<Job>, StoreError> {
        self.timed("initiate", self.inner.initiate(job, since, decide)).await
    }

    async fn job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        self.timed("job", self.inner.job(id)).await
    }

    async fn jobs(&self, filter: &JobFilter) -> Result<Vec<JobRecord>, StoreError> {
        self.timed("jobs", self.inner.jobs(filter)).await
    }

    async fn job_record(&self, id: &str) -> Result<Option<JobRecord>, StoreError> {
        self.timed("job_record", self.inner.job_record(id)).await
    }

    async fn token_with_job(
        &self,
        token_hash: &str,
        job_id: &str,
    ) -> Result<(Option<TokenRecord>, Option<Job>), StoreError> {
        self.timed("token_with_job", self.inner.token_with_job(token_hash, job_id)).await
    }

    async fn cancel(&self, id: &str, now: Timestamp) -> Result<Option<Job>, StoreError> {
        self.timed("cancel", self.inner.cancel(id, now)).await
    }

    async fn insert_retry(&self, retry: &NewJob, failed: &Job) -> Result<Job, StoreError> {
        self.timed("insert_retry", self.inner.insert_retry(retry, failed)).await
    }

    async fn reset(&self, user_id: &str, client_id: &str, now: Timestamp) -> Result<(), StoreError> {
        self.timed("reset", self.inner.reset(user_id, client_id, now)).await
    }
}

#[async_trait]
impl Queue for MeteredStore {
    async fn clock(&self) -> Result<Timestamp, StoreError> {
        self.timed("clock", self.inner.clock()).await
    }

    async fn claim(&self, owner: &str, lease_until: Timestamp, now: Timestamp) -> Result<Option<Lease>, StoreError> {
        self.timed("claim", self.inner.claim(owner, lease_until, now)).await
    }

    async fn heartbeat(&self, lease: &Lease, lease_until: Timestamp, progress: &Progress) -> Result<bool, StoreError> {
        self.timed("heartbeat", self.inner.heartbeat(lease, lease_until, progress)).await
    }

    async fn complete(
        &self,
        lease: &Lease,
        parts: &[Part],
        progress: &Progress,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.timed("complete", self.inner.complete(lease, parts, progress, now)).await
    }

    async fn fail(&self, lease: &Lease, reason: &str, now: Timestamp) -> Result<bool, StoreError> {
        self.timed("fail", self.inner.fail(lease, reason, now)).await
    }

    async fn release(&self, lease: &Lease, reason: &str, not_before: Timestamp) -> Result<bool, StoreError> {
        self.timed("release", self.inner.release(lease, reason, not_before)).await
    }

    async fn jobs_to_sweep(
        &self,
        complete_before: Timestamp,
        ended_before: Timestamp,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        self.timed("jobs_to_sweep", self.inner.jobs_to_sweep(complete_before, ended_before, limit)).await
    }

    async fn queue_depth(&self, now: Timestamp) -> Result<QueueDepth, StoreError> {
        self.timed("queue_depth", self.inner.queue_depth(now)).await
    }

    async fn blobs_deleted(&self, job_id: &str, now: Timestamp) -> Result<(), StoreError> {
        self.timed("blobs_deleted", self.inner.blobs_deleted(job_id, now)).await
    }

    async fn wait_for_work(&self, timeout: std::time::Duration) {
        self.inner.wait_for_work(timeout).await
    }
}

#[async_trait]
impl Auth for MeteredStore {
    async fn insert_token(&self, token: &TokenRecord) -> Result<(), StoreError> {
        self.timed("insert_token", self.inner.insert_token(token)).await
    }

    async fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.timed("token", self.inner.token(hash)).await
    }

    async fn insert_session(&self, session: &Session, now: Timestamp) -> Result<(), StoreError> {
        self.timed("insert_session", self.inner.insert_session(session, now)).await
    }

    async fn session(&self, hash: &str, now: Timestamp) -> Result<Option<Session>, StoreError> {
        self.timed("session", self.inner.session(hash, now)).await
    }

    async fn begin_sign_in(
        &self,
        attempt: &str,
        keys: &[String],
        since: Timestamp,
        now: Timestamp,
        admit: &mut SignInDecision<'_>,
    ) -> Result<bool, StoreError> {
        self.timed("begin_sign_in", self.inner.begin_sign_in(attempt, keys, since, now, admit)).await
    }

    async fn sign_in_succeeded(&self, attempt: &str, forgive: &str) -> Result<(), StoreError> {
        self.timed("sign_in_succeeded", self.inner.sign_in_succeeded(attempt, forgive)).await
    }

    async fn prune_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.timed("prune_expired", self.inner.prune_expired(now)).await
    }

    async fn insert_pending(&self, pending: &PendingAuthorization, now: Timestamp) -> Result<(), StoreError> {
        self.timed("insert_pending", self.inner.insert_pending(pending, now)).await
    }

    async fn pending(&self, id: &str, now: Timestamp) -> Result<Option<PendingAuthorization>, StoreError> {
        self.timed("pending", self.inner.pending(id, now)).await
    }

    async fn rebind_pending(&self, id: &str, session_hash: &str) -> Result<(), StoreError> {
        self.timed("rebind_pending", self.inner.rebind_pending(id, session_hash)).await
    }

    async fn take_pending(&self, id: &str) -> Result<bool, StoreError> {
        self.timed("take_pending", self.inner.take_pending(id)).await
    }

    async fn insert_code(&self, code: &AuthCode) -> Result<(), StoreError> {
        self.timed("insert_code", self.inner.insert_code(code)).await
    }

    async fn code(&self, hash: &str) -> Result<Option<AuthCode>, StoreError> {
        self.timed("code", self.inner.code(hash)).await
    }

    async fn redeem_code(&self, hash: &str, now: Timestamp, issued: &[TokenRecord]) -> Result<Redemption, StoreError> {
        self.timed("redeem_code", self.inner.redeem_code(hash, now, issued)).await
    }

    async fn use_refresh(
        &self,
        hash: &str,
        now: Timestamp,
        rules: RefreshRules,
        issued: &[TokenRecord],
    ) -> Result<Rotation, StoreError> {
        self.timed("use_refresh", self.inner.use_refresh(hash, now, rules, issued)).await
    }

    async fn drop_oldest_refresh(
        &self,
        user_id: &str,
        client_id: &str,
        keep: u32,
        idle_since: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.timed("drop_oldest_refresh", self.inner.drop_oldest_refresh(user_id, client_id, keep, idle_since, now))
            .await
    }

    async fn revoke_token(&self, hash: &str, now: Timestamp) -> Result<Option<TokenRecord>, StoreError> {
        self.timed("revoke_token", self.inner.revoke_token(hash, now)).await
    }

    async fn revoke_family(&self, family: &str, now: Timestamp) -> Result<(), StoreError> {
        self.timed("revoke_family", self.inner.revoke_family(family, now)).await
    }
}

#[async_trait]
impl Audit for MeteredStore {
    async fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.timed("audit", self.inner.audit(entry)).await
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<i64, StoreError> {
        self.timed("append_audit", self.inner.append_audit(entry)).await
    }

    async fn amend_audit(&self, id: i64, detail: &serde_json::Value) -> Result<bool, StoreError> {
        self.timed("amend_audit", self.inner.amend_audit(id, detail)).await
    }

    async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        self.timed("audit_log", self.inner.audit_log(filter)).await
    }
}

#[async_trait]
impl Uploads for MeteredStore {
    async fn record_upload(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.timed("record_upload", self.inner.record_upload(key, upload_id)).await
    }

    async fn forget_upload(&self, key: &str, upload_id: &str) -> Result<(), StoreError> {
        self.timed("forget_upload", self.inner.forget_upload(key, upload_id)).await
    }

    async fn uploads_below(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.timed("uploads_below", self.inner.uploads_below(prefix)).await
    }
}

#[async_trait]
impl Account for MeteredStore {
    async fn user_grants(&self, user_id: &str) -> Result<Vec<ClientGrant>, StoreError> {
        self.timed("user_grants", self.inner.user_grants(user_id)).await
    }

    async fn user_jobs(&self, user_id: &str, limit: u32) -> Result<Vec<Job>, StoreError> {
        self.timed("user_jobs", self.inner.user_jobs(user_id, limit)).await
    }

    async fn user_job(&self, user_id: &str, id: &str) -> Result<Option<Job>, StoreError> {
        self.timed("user_job", self.inner.user_job(user_id, id)).await
    }

    async fn user_event_counts(&self, user_id: &str, event: &str) -> Result<Vec<(String, u64)>, StoreError> {
        self.timed("user_event_counts", self.inner.user_event_counts(user_id, event)).await
    }

    async fn user_audit(&self, user_id: &str, before: Option<i64>, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        self.timed("user_audit", self.inner.user_audit(user_id, before, limit)).await
    }
}
