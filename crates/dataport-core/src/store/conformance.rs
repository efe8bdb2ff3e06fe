//! The store conformance suite: every guarantee the [`Store`] traits document, checked against any
//! backend (garage's `test_suite(db)` idea). A backend's test calls [`run`] with a function that
//! opens a fresh, empty store; each check gets its own.
//!
//! The concurrency guarantees are checked by racing real calls (two initiates of one pair, two
//! redemptions of one code, two rotations of one refresh token, a worker that lost its lease),
//! so a backend that serialises less than SQLite's single writer fails here, not in production.

use std::future::Future;
use std::sync::Arc;

use dataport_types::{AccessType, State, Timestamp};

use super::{Redemption, RefreshRules, Rotation, Store};
use crate::model::{
    AuditEntry, AuditFilter, AuthCode, Client, Grant, GrantAccess, Job, JobFilter, NewJob, Part, PendingAuthorization,
    Progress, RefreshRotation, Session, TokenKind, TokenRecord, User,
};

/// Runs every check; panics (with the check's name) on the first broken guarantee.
pub async fn run<F, Fut>(open: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    users_are_unique_by_username_and_subject(open().await).await;
    clients_are_unique_and_disabling_revokes_their_tokens(open().await).await;
    grants_keep_exhaustion_and_cooldown_when_extended(open().await).await;
    initiate_runs_the_decision_on_the_pairs_rows(open().await).await;
    concurrent_initiates_of_one_pair_create_one_job(open().await).await;
    a_job_gets_one_retry_at_most(open().await).await;
    cancel_and_reset_end_what_is_in_progress(open().await).await;
    claims_lease_the_oldest_runnable_job_once(open().await).await;
    jobs_are_listed_by_state_and_user_with_their_leases(open().await).await;
    writes_after_a_lost_lease_change_nothing(open().await).await;
    a_replayed_code_revokes_what_it_issued(open().await).await;
    concurrent_redemptions_leave_no_live_token(open().await).await;
    refresh_reuse_revokes_the_family(open().await).await;
    concurrent_rotations_leave_no_live_token(open().await).await;
    a_client_keeps_its_refresh_rotation(open().await).await;
    an_unrotated_refresh_token_stays_until_unused_for_too_long(open().await).await;
    a_repeat_within_the_window_gets_the_unused_successor(open().await).await;
    concurrent_repeats_within_the_window_leave_the_successor_live(open().await).await;
    the_cap_drops_the_oldest_live_refresh_tokens_with_their_families(open().await).await;
    sessions_pending_requests_and_pruning(open().await).await;
    concurrent_sign_in_attempts_are_counted_one_after_another(open().await).await;
    the_audit_log_appends_and_reads_the_newest(open().await).await;
    the_audit_log_is_filtered_by_time_user_and_event(open().await).await;
    an_audit_entry_is_amended_in_its_detail_only(open().await).await;
    uploads_are_recorded_until_forgotten_and_found_by_prefix(open().await).await;
    the_account_view_is_scoped_by_user(open().await).await;
    the_clock_is_the_databases_and_close_to_ours(open().await).await;
    let now = Timestamp::now();
    tracing::debug!(at = %now, "store conformance suite passed");
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_micros(1_700_000_000_000_000 + seconds * 1_000_000)
}

async fn user(store: &dyn Store, name: &str) -> User {
    store.create_user(name, &format!("subject-{name}"), None, at(0)).await.expect("store").expect("new user")
}

async fn client(store: &dyn Store, id: &str) -> Client {
    let client = Client {
        id: id.to_owned(),
        name: format!("App {id}"),
        redirect_uris: vec!["https://app.example/cb".to_owned()],
        public: false,
        disabled: false,
        secret_hash: Some("ab".repeat(32)),
        refresh_rotation: None,
    };
    assert!(store.create_client(&client, at(0)).await.expect("store"));
    client
}

fn token(hash: &str, kind: TokenKind, user: &User, client: &Client, family: Option<&str>) -> TokenRecord {
    TokenRecord {
        hash: hash.to_owned(),
        kind,
        user_id: user.id.clone(),
        client_id: client.id.clone(),
        scopes: vec!["myactivity.search".to_owned()],
        created_at: at(0),
        expires_at: at(1_000_000_000),
        revoked_at: None,
        family: family.map(str::to_owned),
        code_hash: None,
        access: Some("30d".to_owned()),
        rotated_at: None,
    }
}

fn new_job(id: &str, user: &User, client: &Client, created: i64) -> NewJob {
    NewJob {
        id: id.to_owned(),
        user_id: user.id.clone(),
        client_id: client.id.clone(),
        resources: vec!["myactivity.search".to_owned()],
        start_time: None,
        end_time: None,
        export_time: at(created),
        created_at: at(created),
    }
}

/// Creates a job through `initiate` with a decision that admits it.
async fn initiated(store: &dyn Store, job: &NewJob) -> Job {
    store
        .initiate(job, at(-86_400), &mut |_: &[Grant], _: &[Job]| Some(AccessType::TimeBased))
        .await
        .expect("store")
        .expect("created")
}

/// Whether a token still works: not revoked, not expired, and (refresh) not rotated out.
async fn live(store: &dyn Store, hash: &str) -> bool {
    store
        .token(hash)
        .await
        .expect("store")
        .is_some_and(|t| t.revoked_at.is_none() && t.rotated_at.is_none() && t.expires_at > Timestamp::now())
}

async fn users_are_unique_by_username_and_subject(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let alice = store.create_user("alice", "s-1", Some("$argon2id$x"), at(0)).await.expect("store").expect("new");
    assert!(store.create_user("alice", "s-2", None, at(1)).await.expect("store").is_none(), "username taken");
    assert!(store.create_user("bob", "s-1", None, at(1)).await.expect("store").is_none(), "subject taken");
    assert_eq!(store.user(&alice.id).await.expect("store"), Some(alice.clone()));
    assert_eq!(store.user_by_subject("s-1").await.expect("store"), Some(alice.clone()));
    assert_eq!(store.user_by_subject("alice").await.expect("store"), None, "a username is not a subject");
    let credentials = store.credentials("alice").await.expect("store").expect("alice");
    assert_eq!(credentials.password_hash.as_deref(), Some("$argon2id$x"));
    let carol = store.ensure_user("carol", at(2)).await.expect("store");
    assert_eq!(store.ensure_user("carol", at(3)).await.expect("store"), carol, "ensure is idempotent");
    assert_eq!(carol.subject, "carol");
    let names: Vec<String> = store.users().await.expect("store").into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["alice", "carol"]);
    assert!(store.set_password("alice", "$argon2id$y").await.expect("store"));
    assert!(!store.set_password("nobody", "$argon2id$y").await.expect("store"));

    let app = client(store, "app").await;
    store.insert_token(&token("t-alice", TokenKind::Access, &alice, &app, None)).await.expect("store");
    assert!(store.set_user_disabled("alice", true, at(5)).await.expect("store"));
    assert!(store.user(&alice.id).await.expect("store").expect("alice").disabled);
    assert!(!live(store, "t-alice").await, "disabling a user revokes their tokens");
    assert!(!store.set_user_disabled("nobody", true, at(5)).await.expect("store"));
}

async fn clients_are_unique_and_disabling_revokes_their_tokens(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let app = client(store, "app").await;
    assert!(!store.create_client(&app, at(1)).await.expect("store"), "id taken");
    assert_eq!(store.client("app").await.expect("store"), Some(app.clone()));
    assert_eq!(store.ensure_client(&Client { name: "other".into(), ..app.clone() }, at(2)).await.expect("store"), app);
    assert_eq!(store.clients().await.expect("store"), vec![app.clone()]);
    let u = user(store, "u").await;
    store.insert_token(&token("t-app", TokenKind::Access, &u, &app, None)).await.expect("store");
    assert!(store.set_client_disabled("app", true, at(3)).await.expect("store"));
    assert!(store.client("app").await.expect("store").expect("app").disabled);
    assert!(!live(store, "t-app").await, "disabling a client revokes its tokens");
    assert!(!store.set_client_disabled("nope", true, at(3)).await.expect("store"));
}

async fn grants_keep_exhaustion_and_cooldown_when_extended(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let (u, app) = (user(store, "u").await, client(store, "app").await);
    let groups = vec!["myactivity.search".to_owned()];
    store.upsert_grants(&u.id, &app.id, &groups, GrantAccess::OneTime, None, at(10)).await.expect("store");
    let job = new_job("j1", &u, &app, 20);
    store
        .initiate(&job, at(0), &mut |_: &[Grant], _: &[Job]| Some(AccessType::OneTime))
        .await
        .expect("store")
        .expect("created");
    let grants = store.grants(&u.id, &app.id).await.expect("store");
    assert_eq!(grants.len(), 1);
    assert_eq!((grants[0].exhausted_at, grants[0].last_initiate_at), (Some(at(20)), Some(at(20))));
    store.upsert_grants(&u.id, &app.id, &groups, GrantAccess::TimeBased, Some(at(999)), at(30)).await.expect("store");
    let grants = store.grants(&u.id, &app.id).await.expect("store");
    assert_eq!(grants[0].access, GrantAccess::TimeBased);
    assert_eq!(grants[0].expires_at, Some(at(999)));
    assert_eq!(grants[0].granted_at, at(10), "the first grant's time stays");
    assert_eq!((grants[0].exhausted_at, grants[0].last_initiate_at), (Some(at(20)), Some(at(20))), "kept");
}

async fn initiate_runs_the_decision_on_the_pairs_rows(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let (u, other, app) = (user(store, "u").await, user(store, "other").await, client(store, "app").await);
    let groups = vec!["myactivity.search".to_owned()];
    store.upsert_grants(&u.id, &app.id, &groups, GrantAccess::TimeBased, Some(at(999)), at(0)).await.expect("store");
    initiated(store, &new_job("theirs", &other, &app, 1)).await;
    initiated(store, &new_job("old", &u, &app, 2)).await;
    let mut seen = Vec::new();
    let refused = store
        .initiate(&new_job("refused", &u, &app, 3), at(0), &mut |grants: &[Grant], jobs: &[Job]| {
            seen = jobs.iter().map(|j| j.id.clone()).collect();
            assert_eq!(grants.len(), 1);
            None
        })
        .await
        .expect("store");
    assert_eq!(refused, None);
    assert_eq!(seen, ["old"], "only the pair's jobs are seen");
    assert_eq!(store.job("refused").await.expect("store"), None, "a refusal writes nothing");
    assert_eq!(store.grants(&u.id, &app.id).await.expect("store")[0].last_initiate_at, Some(at(2)));
    let created = initiated(store, &new_job("new", &u, &app, 4)).await;
    assert_eq!((created.state, created.access_type, created.attempt), (State::InProgress, AccessType::TimeBased, 0));
    assert_eq!(store.job("new").await.expect("store"), Some(created));
}

async fn concurrent_initiates_of_one_pair_create_one_job(store: Arc<dyn Store>) {
    let (u, app) = (user(store.as_ref(), "u").await, client(store.as_ref(), "app").await);
    let attempts = (0..8).map(|i| {
        let (store, job) = (store.clone(), new_job(&format!("race-{i}"), &u, &app, 10));
        tokio::spawn(async move {
            // The rule under test: one job in progress per pair.
            let mut decide = |_: &[Grant], jobs: &[Job]| {
                (!jobs.iter().any(|j| j.state == State::InProgress)).then_some(AccessType::OneTime)
            };
            store.initiate(&job, at(0), &mut decide).await.expect("store")
        })
    });
    let mut created = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        created += usize::from(attempt.await.expect("join").is_some());
    }
    assert_eq!(created, 1, "exactly one of 8 concurrent initiates creates a job");
}

async fn a_job_gets_one_retry_at_most(store: Arc<dyn Store>) {
    let (u, app) = (user(store.as_ref(), "u").await, client(store.as_ref(), "app").await);
    let failed = initiated(store.as_ref(), &new_job("failed", &u, &app, 1)).await;
    let lease = store.claim("w", at(100), at(2)).await.expect("store").expect("claimed");
    assert!(store.fail(&lease, "broken", at(3)).await.expect("store"));
    let failed = store.job(&failed.id).await.expect("store").expect("job");
    let tries = (0..4).map(|i| {
        let (store, failed) = (store.clone(), failed.clone());
        let retry = new_job(&format!("retry-{i}"), &u, &app, 4);
        tokio::spawn(async move { store.insert_retry(&retry, &failed).await.expect("store") })
    });
    let mut ids = Vec::new();
    for t in tries.collect::<Vec<_>>() {
        let retry = t.await.expect("join");
        assert_eq!((retry.retry_of.as_deref(), retry.retry_index), (Some("failed"), 1));
        assert_eq!(retry.access_type, failed.access_type);
        ids.push(retry.id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every call returns the one retry: {ids:?}");
}

async fn cancel_and_reset_end_what_is_in_progress(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let (u, app) = (user(store, "u").await, client(store, "app").await);
    initiated(store, &new_job("a", &u, &app, 1)).await;
    let cancelled = store.cancel("a", at(2)).await.expect("store").expect("job");
    assert_eq!((cancelled.state, cancelled.finished_at), (State::Cancelled, Some(at(2))));
    let again = store.cancel("a", at(3)).await.expect("store").expect("job");
    assert_eq!(again.finished_at, Some(at(2)), "a finished job is left as it is");
    assert_eq!(store.cancel("nope", at(3)).await.expect("store"), None);

    let groups = vec!["myactivity.search".to_owned()];
    store.upsert_grants(&u.id, &app.id, &groups, GrantAccess::OneTime, None, at(4)).await.expect("store");
    initiated(store, &new_job("b", &u, &app, 5)).await;
    store.insert_token(&token("t", TokenKind::Access, &u, &app, None)).await.expect("store");
    store.reset(&u.id, &app.id, at(6)).await.expect("store");
    assert!(!live(store, "t").await, "reset revokes the pair's tokens");
    assert!(store.grants(&u.id, &app.id).await.expect("store").is_empty(), "and deletes its grants");
    let b = store.job("b").await.expect("store").expect("job");
    assert_eq!(b.state, State::Cancelled, "and cancels what is in progress");
    assert!(b.archive_revoked_at.is_some(), "and revokes the archives");
}

async fn claims_lease_the_oldest_runnable_job_once(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let (u, app) = (user(store, "u").await, client(store, "app").await);
    initiated(store, &new_job("second", &u, &app, 2)).await;
    initiated(store, &new_job("first", &u, &app, 1)).await;
    let depth = |waiting, leased| crate::model::QueueDepth { waiting, leased };
    assert_eq!(store.queue_depth(at(10)).await.expect("store"), depth(2, 0));
    let lease = store.claim("w1", at(100), at(10)).await.expect("store").expect("claim");
    assert_eq!((lease.job.id.as_str(), lease.attempt, lease.owner.as_str()), ("first", 1, "w1"));
    assert_eq!(store.queue_depth(at(10)).await.expect("store"), depth(1, 1));
    assert_eq!(store.queue_depth(at(101)).await.expect("store"), depth(2, 0), "an expired lease waits again");
    let next = store.claim("w2", at(100), at(10)).await.expect("store").expect("claim");
    assert_eq!(next.job.id, "second", "a leased job is not claimed again");
    assert_eq!(store.claim("w3", at(100), at(10)).await.expect("store"), None);
    let halfway = Progress { groups_done: 0, records: 7, bytes: 700, parts_written: 0 };
    assert!(store.heartbeat(&lease, at(200), &halfway).await.expect("store"));
    assert_eq!(store.job("first").await.expect("store").expect("job").progress, Some(halfway), "reported");
    assert_eq!(store.claim("w3", at(300), at(150)).await.expect("store").map(|l| l.job.id), Some("second".into()));
    let parts = vec![Part { index: 0, blob_key: "jobs/first/1/0".into(), size: 10, sha256: "cd".repeat(32) }];
    let finished = Progress { groups_done: 1, records: 10, bytes: 1000, parts_written: 2 };
    assert!(store.complete(&lease, &parts, &finished, at(160)).await.expect("store"));
    let done = store.job("first").await.expect("store").expect("job");
    assert_eq!((done.state, done.parts.clone(), done.progress), (State::Complete, parts, Some(finished)));
    let (t, j) = store.token_with_job("none", "first").await.expect("store");
    assert_eq!((t, j), (None, None), "no token, nothing");
    store.insert_token(&token("tk", TokenKind::Access, &u, &app, None)).await.expect("store");
    let (t, j) = store.token_with_job("tk", "first").await.expect("store");
    assert_eq!((t.map(|t| t.hash), j), (Some("tk".into()), Some(done)));
    assert_eq!(store.jobs_to_sweep(at(161), at(0), 10).await.expect("store"), ["first"]);
    assert!(store.jobs_to_sweep(at(159), at(0), 10).await.expect("store").is_empty(), "within retention");
    store.blobs_deleted("first", at(170)).await.expect("store");
    assert!(store.jobs_to_sweep(at(999), at(999), 10).await.expect("store").is_empty());
    assert!(store.job("first").await.expect("store").expect("job").archive_revoked_at.is_some());
}

async fn writes_after_a_lost_lease_change_nothing(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let (u, app) = (user(store, "u").await, client(store, "app").await);
    initiated(store, &new_job("j", &u, &app, 1)).await;
    let lost = store.claim("w1", at(20), at(10)).await.expect("store").expect("claim");
    // w1 stops heartbeating; after its lease w2 takes over.
    let current = store.claim("w2", at(100), at(30)).await.expect("store").expect("taken over");
    assert_eq!(current.attempt, 2);
    let parts = vec![Part { index: 0, blob_key: "jobs/j/1/0".into(), size: 1, sha256: "00".repeat(32) }];
    assert!(!store.heartbeat(&lost, at(200), &Progress::default()).await.expect("store"));
    assert!(!store.complete(&lost, &parts, &Progress::default(), at(40)).await.expect("store"));
    assert!(!store.fail(&lost, "late", at(40)).await.expect("store"));
    assert!(!store.release(&lost, "late", at(40)).await.expect("store"));
    let job = store.job("j").await.expect("store").expect("job");
    assert_eq!((job.state, job.parts.len(), job.attempt), (State::InProgress, 0, 2), "nothing of w1's landed");
    assert!(store.release(&current, "transient", at(50)).await.expect("store"));
    assert_eq!(store.claim("w3", at(100), at(45)).await.expect("store"), None, "released until not_before");
    let again = store.claim("w3", at(100), at(50)).await.expect("store").expect("claim");
    assert_eq!(again.attempt, 3);
    assert_eq!(store.cancel("j", at(60)).await.expect("store").expect("job").state, State::Cancelled);
    assert!(
        !store.heartbeat(&again, at(200), &Progress::default()).await.expect("store"),
        "a cancelled job's lease is lost"
    );
}

fn code(hash: &str, user: &User, client: &Client) -> AuthCode {
    AuthCode {
        hash: hash.to_owned(),
        client_id: client.id.clone(),
        user_id: user.id.clone(),
        redirect_uri: "https://app.example/cb".into(),
        code_challenge: None,
        scopes: vec!["myactivity.search".into()],
        access: "30d".into(),
        created_at: Timestamp::now(),
        expires_at: Timestamp::now().plus_seconds(60),
    }
}

fn issued_by(code: &AuthCode, user: &User, client: &Client, n: &str) -> Vec<TokenRecord> {
    let family = format!("family-{n}");
    [("access", TokenKind::Access), ("refresh", TokenKind::Refresh)]
        .into_iter()
        .map(|(kind, k)| TokenRecord {
            code_hash: Some(code.hash.clone()),
            created_at: Timestamp::now(),
            expires_at: Timestamp::now().plus_seconds(3600),
            ..token(&format!("{kind}-{n}"), k, user, client, Some(&family))
        })
        .collect()
}

async fn a_replayed_code_revokes_what_it_issued(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let (u, app) = (user(store, "u").await, client(store, "app").await);
    let c = code("code-1", &u, &app);
    store.insert_code(&c).await.expect("store");
    assert_eq!(store.code("code-1").await.expect("store"), Some(c.clone()));
    let issued = issued_by(&c, &u, &app, "1");
    assert_eq!(store.redeem_code("code-1", Timestamp::now(), &issued).await.expect("store"), Redemption::Fresh);
    assert!(live(store, "access-1").await && live(store, "refresh-1").await, "stored with the redemption");
    let late = issued_by(&c, &u, &app, "2");
    assert_eq!(store.redeem_code("code-1", Timestamp::now(), &late).await.expect("store"), Redemption::Replayed);
    assert!(!live(store, "access-1").await && !live(store, "refresh-1").await, "the replay revokes them");
    assert_eq!(store.token("access-2").await.expect("store"), None, "a replay issues nothing");
    assert_eq!(store.redeem_code("nope", Timestamp::now(), &[]).await.expect("store"), Redemption::Unknown);
}

async fn concurrent_redemptions_leave_no_live_token(store: Arc<dyn Store>) {
    let (u, app) = (user(store.as_ref(), "u").await, client(store.as_ref(), "app").await);
    for round in 0..5 {
        let c = code(&format!("code-{round}"), &u, &app);
        store.insert_code(&c).await.expect("store");
        let racers = ["a", "b"].map(|who| {
            let (store, issued) = (store.clone(), issued_by(&c, &u, &app, &format!("{round}{who}")));
            let hash = c.hash.clone();
            tokio::spawn(async move { store.redeem_code(&hash, Timestamp::now(), &issued).await.expect("store") })
        });
        let mut outcomes = Vec::new();
        for racer in racers {
            outcomes.push(racer.await.expect("join"));
        }
        outcomes.sort_by_key(|o| format!("{o:?}"));
        assert_eq!(outcomes, [Redemption::Fresh, Redemption::Replayed]);
        for who in ["a", "b"] {
            for kind in ["access", "refresh"] {
                assert!(!live(store.as_ref(), &format!("{kind}-{round}{who}")).await, "round {round}: {kind} of {who}");
            }
        }
    }
}

async fn refresh_reuse_revokes_the_family(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let (u, app) = (user(store, "u").await, client(store, "app").await);
    let refresh = token("r1", TokenKind::Refresh, &u, &app, Some("f"));
    store.insert_token(&refresh).await.expect("store");
    store.insert_token(&token("a1", TokenKind::Access, &u, &app, Some("f"))).await.expect("store");
    let successors =
        vec![token("a2", TokenKind::Access, &u, &app, Some("f")), token("r2", TokenKind::Refresh, &u, &app, Some("f"))];
    assert_eq!(store.rotate_refresh("r1", at(10), &successors).await.expect("store"), Rotation::Fresh);
    assert!(live(store, "r2").await && live(store, "a2").await);
    assert!(!live(store, "r1").await, "rotated out");
    assert_eq!(store.rotate_refresh("r1", at(11), &[]).await.expect("store"), Rotation::Reused);
    for hash in ["a1", "a2", "r2"] {
        assert!(!live(store, hash).await, "{hash}: reuse revokes the whole family");
    }
    assert_eq!(store.rotate_refresh("r2", at(12), &[]).await.expect("store"), Rotation::Invalid);
    assert_eq!(store.rotate_refresh("a1", at(12), &[]).await.expect("store"), Rotation::Invalid, "not a refresh token");
    assert_eq!(store.rotate_refresh("nope", at(12), &[]).await.expect("store"), Rotation::Invalid);

    store.insert_token(&token("r3", TokenKind::Refresh, &u, &app, Some("g"))).await.expect("store");
    store.insert_token(&token("a3", TokenKind::Access, &u, &app, Some("g"))).await.expect("store");
    let revoked = store.revoke_token("r3", at(13)).await.expect("store").expect("existed");
    assert_eq!(revoked.hash, "r3");
    assert!(!live(store, "a3").await, "revoking a refresh token takes its family");
    assert_eq!(store.revoke_token("nope", at(13)).await.expect("store"), None);
    store.insert_token(&token("r4", TokenKind::Refresh, &u, &app, Some("h"))).await.expect("store");
    store.revoke_family("h", at(14)).await.expect("store");
    assert!(!live(store, "r4").await);
}

async fn a_client_keeps_its_refresh_rotation(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let app = client(store, "app").await;
    assert_eq!(store.client("app").await.expect("store").expect("client").refresh_rotation, None);
    let pinned = Client { id: "pinned".into(), refresh_rotation: Some(RefreshRotation::Rotate), ..app.clone() };
    assert!(store.create_client(&pinned, at(0)).await.expect("store"));
    assert_eq!(store.client("pinned").await.expect("store"), Some(pinned));
    assert!(store.set_refresh_rotation("app", Some(RefreshRotation::Never)).await.expect("store"));
    assert_eq!(
        store.client("app").await.expect("store").expect("client").refresh_rotation,
        Some(RefreshRotation::Never)
    );
    assert!(store.set_refresh_rotation("pinned", None).await.expect("store"));
    let listed = store.clients().await.expect("store");
    assert!(listed.iter().all(|c| c.id != "pinned" || c.refresh_rotation.is_none()), "{listed:?}");
    assert!(!store.set_refresh_rotation("nope", None).await.expect("store"));
}

async fn an_unrotated_refresh_token_stays_until_unused_for_too_long(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let (u, app) = (user(store, "u").await, client(store, "app").await);
    store.insert_token(&token("r", TokenKind::Refresh, &u, &app, Some("f"))).await.expect("store");
    let rules = |idle_since| RefreshRules { idle_since: Some(idle_since), repeat_since: None };
    // Issued at 0: a limit after that finds it unused for too long, and leaves it be.
    let late = [token("a0", TokenKind::Access, &u, &app, Some("f"))];
    assert_eq!(store.use_refresh("r", at(10), rules(at(1)), &late).await.expect("store"), Rotation::Invalid);
    assert_eq!(store.token("a0").await.expect("store"), None, "a refused refresh issues nothing");
    for (n, when) in [(1, 10), (2, 20), (3, 30)] {
        let access = [token(&format!("a{n}"), TokenKind::Access, &u, &app, Some("f"))];
        // Each use counts as the last: 10 s of idleness allowed, and each use is 10 s after the last.
        let outcome = store.use_refresh("r", at(when), rules(at(when - 10)), &access).await.expect("store");
        assert_eq!(outcome, Rotation::Fresh, "use {n}");
        assert!(live(store, &format!("a{n}")).await && live(store, "r").await, "use {n}: the token stays");
    }
    let access = [token("a4", TokenKind::Access, &u, &app, Some("f"))];
    assert_eq!(store.use_refresh("r", at(41), rules(at(31)), &access).await.expect("store"), Rotation::Invalid);
    store.revoke_token("r", at(42)).await.expect("store");
    let access = [token("a5", TokenKind::Access, &u, &app, Some("f"))];
    assert_eq!(store.use_refresh("r", at(43), rules(at(0)), &access).await.expect("store"), Rotation::Invalid);
    assert!(!live(store, "a3").await, "revoking the refresh token took its access tokens");
}

async fn a_repeat_within_the_window_gets_the_unused_successor(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let (u, app) = (user(store, "u").await, client(store, "app").await);
    store.insert_token(&token("r1", TokenKind::Refresh, &u, &app, Some("f"))).await.expect("store");
    let issued = |access: &str, refresh: &str| {
        vec![
            token(access, TokenKind::Access, &u, &app, Some("f")),
            token(refresh, TokenKind::Refresh, &u, &app, Some("f")),
        ]
    };
    let window = |since| RefreshRules { idle_since: None, repeat_since: Some(since) };
    assert_eq!(
        store.use_refresh("r1", at(10), window(at(0)), &issued("a2", "r2")).await.expect("store"),
        Rotation::Fresh
    );
    // Presented again 5 s later with a 30 s window: the successor again, a new access token.
    let again = store.use_refresh("r1", at(15), window(at(-15)), &issued("a3", "r2")).await.expect("store");
    assert_eq!(again, Rotation::Repeated);
    for hash in ["a2", "a3", "r2"] {
        assert!(live(store, hash).await, "{hash}: a repeat revokes nothing");
    }
    // Another successor than the stored one is no repeat.
    let forged = store.use_refresh("r1", at(16), window(at(-14)), &issued("a4", "r9")).await.expect("store");
    assert_eq!(forged, Rotation::Reused);
    for hash in ["a2", "a3", "r2"] {
        assert!(!live(store, hash).await, "{hash}: reuse revokes the family");
    }
    assert_eq!(store.token("r9").await.expect("store"), None);

    // Past the window, or once the successor was used itself, a repeat is reuse.
    for (family, late) in [("g", true), ("h", false)] {
        let first = format!("{family}-r1");
        store.insert_token(&token(&first, TokenKind::Refresh, &u, &app, Some(family))).await.expect("store");
        let issue = |n: u32| {
            vec![
                token(&format!("{family}-a{n}"), TokenKind::Access, &u, &app, Some(family)),
                token(&format!("{family}-r{n}"), TokenKind::Refresh, &u, &app, Some(family)),
            ]
        };
        assert_eq!(store.use_refresh(&first, at(10), window(at(0)), &issue(2)).await.expect("store"), Rotation::Fresh);
        if !late {
            let second = format!("{family}-r2");
            assert_eq!(
                store.use_refresh(&second, at(11), window(at(0)), &issue(3)).await.expect("store"),
                Rotation::Fresh
            );
        }
        let since = if late { at(11) } else { at(0) };
        assert_eq!(store.use_refresh(&first, at(12), window(since), &issue(2)).await.expect("store"), Rotation::Reused);
        for n in [2, 3] {
            assert!(!live(store, &format!("{family}-r{n}")).await && !live(store, &format!("{family}-a{n}")).await);
        }
    }
}

async fn concurrent_repeats_within_the_window_leave_the_successor_live(store: Arc<dyn Store>) {
    let (u, app) = (user(store.as_ref(), "u").await, client(store.as_ref(), "app").await);
    for round in 0..5 {
        let family = format!("fam-{round}");
        let first = format!("first-{round}");
        store.insert_token(&token(&first, TokenKind::Refresh, &u, &app, Some(&family))).await.expect("store");
        let racers = ["a", "b"].map(|who| {
            let issued = vec![
                token(&format!("acc-{round}{who}"), TokenKind::Access, &u, &app, Some(&family)),
                token(&format!("next-{round}"), TokenKind::Refresh, &u, &app, Some(&family)),
            ];
            let (store, first) = (store.clone(), first.clone());
            let rules = RefreshRules { idle_since: None, repeat_since: Some(at(-20)) };
            tokio::spawn(async move { store.use_refresh(&first, at(10), rules, &issued).await.expect("store") })
        });
        let mut outcomes = Vec::new();
        for racer in racers {
            outcomes.push(racer.await.expect("join"));
        }
        outcomes.sort_by_key(|o| format!("{o:?}"));
        assert_eq!(outcomes, [Rotation::Fresh, Rotation::Repeated], "round {round}");
        for hash in [format!("acc-{round}a"), format!("acc-{round}b"), format!("next-{round}")] {
            assert!(live(store.as_ref(), &hash).await, "round {round}: {hash}");
        }
    }
}

async fn the_cap_drops_the_oldest_live_refresh_tokens_with_their_families(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let (u, app, other) = (user(store, "u").await, client(store, "app").await, client(store, "other").await);
    for n in 1..=4 {
        let family = format!("f{n}");
        let created =
            |kind, hash: String| TokenRecord { created_at: at(n), ..token(&hash, kind, &u, &app, Some(&family)) };
        store.insert_token(&created(TokenKind::Refresh, format!("r{n}"))).await.expect("store");
        store.insert_token(&created(TokenKind::Access, format!("a{n}"))).await.expect("store");
    }
    store.insert_token(&token("o1", TokenKind::Refresh, &u, &other, Some("o"))).await.expect("store");
    // r2 is dead already: it counts for nothing.
    store.revoke_token("r2", at(5)).await.expect("store");
    assert_eq!(store.drop_oldest_refresh(&u.id, &app.id, 2, at(0), at(6)).await.expect("store"), 1);
    assert!(!live(store, "r1").await && !live(store, "a1").await, "the oldest goes with its access token");
    for hash in ["r3", "a3", "r4", "a4", "o1"] {
        assert!(live(store, hash).await, "{hash} stays");
    }
    assert_eq!(store.drop_oldest_refresh(&u.id, &app.id, 2, at(0), at(7)).await.expect("store"), 0);
    // Tokens unused since the limit count for nothing either (they no longer work).
    assert_eq!(store.drop_oldest_refresh(&u.id, &app.id, 1, at(4), at(8)).await.expect("store"), 0);
    assert_eq!(store.drop_oldest_refresh(&u.id, &app.id, 1, at(0), at(8)).await.expect("store"), 1);
    assert!(!live(store, "r3").await && live(store, "r4").await);
}

async fn concurrent_rotations_leave_no_live_token(store: Arc<dyn Store>) {
    let (u, app) = (user(store.as_ref(), "u").await, client(store.as_ref(), "app").await);
    for round in 0..5 {
        let family = format!("fam-{round}");
        let first = format!("first-{round}");
        store.insert_token(&token(&first, TokenKind::Refresh, &u, &app, Some(&family))).await.expect("store");
        let racers = ["a", "b"].map(|who| {
            let successors = vec![
                token(&format!("acc-{round}{who}"), TokenKind::Access, &u, &app, Some(&family)),
                token(&format!("ref-{round}{who}"), TokenKind::Refresh, &u, &app, Some(&family)),
            ];
            let (store, first) = (store.clone(), first.clone());
            tokio::spawn(async move { store.rotate_refresh(&first, at(10), &successors).await.expect("store") })
        });
        let mut outcomes = Vec::new();
        for racer in racers {
            outcomes.push(racer.await.expect("join"));
        }
        outcomes.sort_by_key(|o| format!("{o:?}"));
        assert_eq!(outcomes, [Rotation::Fresh, Rotation::Reused]);
        for who in ["a", "b"] {
            for kind in ["acc", "ref"] {
                assert!(!live(store.as_ref(), &format!("{kind}-{round}{who}")).await, "round {round}: {kind} of {who}");
            }
        }
    }
}

async fn sessions_pending_requests_and_pruning(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let (u, app) = (user(store, "u").await, client(store, "app").await);
    let now = Timestamp::now();
    let session = Session { hash: "s1".into(), user_id: Some(u.id.clone()), expires_at: now.plus_seconds(60) };
    store.insert_session(&session, now).await.expect("store");
    let old = Session { hash: "s0".into(), user_id: None, expires_at: now.plus_seconds(-1) };
    store.insert_session(&old, now.plus_seconds(-100)).await.expect("store");
    assert_eq!(store.session("s1", now).await.expect("store"), Some(session));
    assert_eq!(store.session("s0", now).await.expect("store"), None, "expired");
    let pending = PendingAuthorization {
        id: "p1".into(),
        session_hash: "s0".into(),
        client_id: app.id.clone(),
        redirect_uri: "https://app.example/cb".into(),
        state: Some("st".into()),
        scopes: vec!["myactivity.search".into(), "chrome.history".into()],
        code_challenge: Some("c".repeat(43)),
        include_granted_scopes: true,
        expires_at: now.plus_seconds(600),
    };
    store.insert_pending(&pending, now).await.expect("store");
    store.rebind_pending("p1", "s1").await.expect("store");
    let found = store.pending("p1", now).await.expect("store").expect("pending");
    assert_eq!(found, PendingAuthorization { session_hash: "s1".into(), ..pending.clone() });
    assert!(store.take_pending("p1").await.expect("store"));
    assert!(!store.take_pending("p1").await.expect("store"), "taken once");
    store
        .insert_pending(&PendingAuthorization { id: "p2".into(), expires_at: now.plus_seconds(-1), ..pending }, now)
        .await
        .expect("store");
    let expired_code = AuthCode { expires_at: now.plus_seconds(-2 * 86_400), ..code("gone", &u, &app) };
    let recent_code = AuthCode { expires_at: now.plus_seconds(-60), ..code("kept", &u, &app) };
    store.insert_code(&expired_code).await.expect("store");
    store.insert_code(&recent_code).await.expect("store");
    assert_eq!(store.prune_expired(now).await.expect("store"), 3, "a session, a request and an old code");
    assert_eq!(store.code("gone").await.expect("store"), None);
    assert!(store.code("kept").await.expect("store").is_some(), "kept a day for replay detection");
    assert!(store.session("s1", now).await.expect("store").is_some(), "live sessions stay");
}

async fn concurrent_sign_in_attempts_are_counted_one_after_another(store: Arc<dyn Store>) {
    let keys = vec!["u:alice".to_owned(), "a:198.51.100.7".to_owned()];
    let attempts = (0..12).map(|i| {
        let (store, keys) = (store.clone(), keys.clone());
        tokio::spawn(async move {
            // The rule under test: at most 5 attempts per key in the window.
            let mut admit = |seen: &[(u32, Option<Timestamp>)]| seen.iter().all(|(n, _)| *n < 5);
            store.begin_sign_in(&format!("try-{i}"), &keys, at(0), at(10), &mut admit).await.expect("store")
        })
    });
    let mut admitted = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        admitted += usize::from(attempt.await.expect("join"));
    }
    assert_eq!(admitted, 5, "exactly the limit of 12 concurrent attempts is admitted");
    let mut seen_now = Vec::new();
    let mut look = |seen: &[(u32, Option<Timestamp>)]| {
        seen_now = seen.to_vec();
        false
    };
    assert!(!store.begin_sign_in("look", &keys, at(0), at(11), &mut look).await.expect("store"));
    assert_eq!(seen_now, [(5, Some(at(10))), (5, Some(at(10)))]);
    let mut look = |seen: &[(u32, Option<Timestamp>)]| {
        assert_eq!(seen, [(0, None), (0, None)], "outside the window nothing counts");
        false
    };
    store.begin_sign_in("late", &keys, at(20), at(21), &mut look).await.expect("store");
    // A success takes its own attempt back and forgives the account, not the address.
    let mut admit_all = |_: &[(u32, Option<Timestamp>)]| true;
    assert!(store.begin_sign_in("right", &keys, at(0), at(12), &mut admit_all).await.expect("store"));
    store.sign_in_succeeded("right", "u:alice").await.expect("store");
    let mut counted = Vec::new();
    let mut look = |seen: &[(u32, Option<Timestamp>)]| {
        counted = seen.iter().map(|(n, _)| *n).collect();
        false
    };
    store.begin_sign_in("look", &keys, at(0), at(13), &mut look).await.expect("store");
    assert_eq!(counted, [0, 5]);
}

async fn the_audit_log_appends_and_reads_the_newest(store: Arc<dyn Store>) {
    let store = store.as_ref();
    for i in 0..5 {
        let entry = AuditEntry {
            at: at(i),
            event: format!("event.{i}"),
            user_id: Some("u".into()),
            client_id: None,
            resources: vec!["myactivity.search".into()],
            job_id: (i % 2 == 0).then(|| format!("job-{i}")),
            detail: if i == 4 {
                serde_json::json!({ "bytes": 42, "address": "198.51.100.1" })
            } else {
                serde_json::Value::Null
            },
        };
        store.audit(&entry).await.expect("store");
    }
    let newest = store.audit_log(&AuditFilter::newest(3)).await.expect("store");
    let events: Vec<&str> = newest.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, ["event.2", "event.3", "event.4"], "the newest, oldest first");
    assert_eq!(newest[2].detail["bytes"], 42);
    assert_eq!(newest[0].job_id.as_deref(), Some("job-2"));
    assert_eq!(newest[1].detail, serde_json::Value::Null);
}

/// [`super::Audit::append_audit`] returns the new entry's id, growing; [`super::Audit::amend_audit`]
/// replaces that entry's detail and nothing else, of it or of any other entry (the totals of a
/// download entry grow this way, and the log does not).
async fn an_audit_entry_is_amended_in_its_detail_only(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let entry = |i: i64| AuditEntry {
        at: at(i),
        event: "archive.downloaded".into(),
        user_id: Some("u".into()),
        client_id: Some("app".into()),
        resources: vec!["myactivity.search".into()],
        job_id: Some("job".into()),
        detail: serde_json::json!({ "part": 0, "bytes": i }),
    };
    let first = store.append_audit(&entry(1)).await.expect("store");
    let second = store.append_audit(&entry(2)).await.expect("store");
    assert!(second > first, "ids grow: {first} then {second}");
    let amended = serde_json::json!({ "part": 0, "bytes": 300, "requests": 3 });
    assert!(store.amend_audit(first, &amended).await.expect("store"));
    assert!(!store.amend_audit(second + 1000, &amended).await.expect("store"), "no such entry");
    let log = store.audit_log(&AuditFilter::newest(10)).await.expect("store");
    assert_eq!(log.len(), 2, "amending appends nothing");
    assert_eq!(log[0], AuditEntry { detail: amended.clone(), ..entry(1) }, "only the detail changed");
    assert_eq!(log[1], entry(2), "the other entry is untouched");
    let mine = store.user_audit("u", None, 10).await.expect("store");
    assert_eq!((mine[1].id, &mine[1].entry.detail), (first, &amended), "the person's view shows the amendment");
}

/// `Audit::audit_log` with filters: each one set must match, and the limit keeps the newest.
async fn the_audit_log_is_filtered_by_time_user_and_event(store: Arc<dyn Store>) {
    let store = store.as_ref();
    for (i, (user, event)) in
        [("a", "token.issued"), ("b", "token.issued"), ("a", "export.initiated"), ("a", "token.issued")]
            .into_iter()
            .enumerate()
    {
        let i = i64::try_from(i).expect("small");
        let entry = AuditEntry { at: at(i * 10), event: event.into(), user_id: Some(user.into()), ..AuditEntry::now() };
        store.audit(&entry).await.expect("store");
    }
    let found = |filter: AuditFilter| async move {
        let entries = store.audit_log(&filter).await.expect("store");
        entries.iter().map(|e| e.at.micros() - at(0).micros()).map(|us| us / 1_000_000).collect::<Vec<_>>()
    };
    assert_eq!(found(AuditFilter::newest(10)).await, [0, 10, 20, 30]);
    assert_eq!(
        found(AuditFilter { since: Some(at(10)), ..AuditFilter::newest(10) }).await,
        [10, 20, 30],
        "since is inclusive"
    );
    assert_eq!(found(AuditFilter { user_id: Some("a".into()), ..AuditFilter::newest(10) }).await, [0, 20, 30]);
    let issued_to_a =
        AuditFilter { user_id: Some("a".into()), event: Some("token.issued".into()), ..AuditFilter::newest(10) };
    assert_eq!(found(issued_to_a.clone()).await, [0, 30], "filters combine");
    assert_eq!(found(AuditFilter { limit: 1, ..issued_to_a }).await, [30], "the newest of those that match");
    assert!(found(AuditFilter { event: Some("nothing".into()), ..AuditFilter::newest(10) }).await.is_empty());
}

/// `Jobs::jobs` and `Jobs::job_record`: the operator's view, newest first, with the lease.
async fn jobs_are_listed_by_state_and_user_with_their_leases(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let (u, v, app) = (user(store, "u").await, user(store, "v").await, client(store, "app").await);
    initiated(store, &new_job("old", &u, &app, 1)).await;
    initiated(store, &new_job("other", &v, &app, 2)).await;
    initiated(store, &new_job("new", &u, &app, 3)).await;
    store.cancel("new", at(4)).await.expect("store");
    let lease = store.claim("worker-1", at(100), at(10)).await.expect("store").expect("claim");
    assert_eq!(lease.job.id, "old");
    let ids = |filter: JobFilter| async move {
        store.jobs(&filter).await.expect("store").into_iter().map(|r| r.job.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(JobFilter { limit: 10, ..JobFilter::default() }).await, ["new", "other", "old"], "newest first");
    assert_eq!(ids(JobFilter { limit: 2, ..JobFilter::default() }).await, ["new", "other"]);
    let in_progress = JobFilter { state: Some(State::InProgress), limit: 10, ..JobFilter::default() };
    assert_eq!(ids(in_progress.clone()).await, ["other", "old"]);
    let of_u = JobFilter { user_id: Some(u.id.clone()), ..in_progress };
    assert_eq!(ids(of_u).await, ["old"], "filters combine");
    let listed = store.jobs(&JobFilter { limit: 10, ..JobFilter::default() }).await.expect("store");
    assert_eq!(listed[2].lease_owner.as_deref(), Some("worker-1"));
    assert_eq!(listed[2].lease_expires_at, Some(at(100)));

    let parts = vec![
        Part { index: 0, blob_key: "jobs/old/1/0".into(), size: 10, sha256: "cd".repeat(32) },
        Part { index: 1, blob_key: "jobs/old/1/1".into(), size: 5, sha256: "ef".repeat(32) },
    ];
    let held = store.job_record("old").await.expect("store").expect("job");
    assert_eq!((held.job.attempt, held.lease_owner.as_deref()), (1, Some("worker-1")));
    assert!(store.complete(&lease, &parts, &Progress::default(), at(20)).await.expect("store"));
    let done = store.job_record("old").await.expect("store").expect("job");
    assert_eq!((done.job.state, done.job.parts.clone(), done.lease_owner), (State::Complete, parts, None));
    assert_eq!(store.job_record("nope").await.expect("store"), None);
}

/// `Uploads`: recorded until forgotten; found below a prefix by whole path segments (`jobs/a/1`
/// is not below `jobs/a/10`), and a key holding LIKE wildcards matches only itself.
async fn uploads_are_recorded_until_forgotten_and_found_by_prefix(store: Arc<dyn Store>) {
    for (key, id) in [("jobs/a/1/part-000.zip", "u1"), ("jobs/a/10/part-000.zip", "u2"), ("jobs/a_b/1/x", "u3")] {
        store.record_upload(key, id).await.expect("record");
    }
    store.record_upload("jobs/a/1/part-000.zip", "u1").await.expect("recording twice is harmless");
    let below = |prefix: &'static str| {
        let store = store.clone();
        async move { store.uploads_below(prefix).await.expect("uploads") }
    };
    assert_eq!(below("jobs/a/1").await, [("jobs/a/1/part-000.zip".to_owned(), "u1".to_owned())]);
    assert_eq!(below("jobs/a").await.len(), 2);
    assert_eq!(below("jobs/a_b").await, [("jobs/a_b/1/x".to_owned(), "u3".to_owned())]);
    assert!(below("jobs/a%").await.is_empty(), "wildcards are plain characters");
    store.forget_upload("jobs/a/1/part-000.zip", "u1").await.expect("forget");
    store.forget_upload("jobs/a/1/part-000.zip", "u1").await.expect("forgetting twice is harmless");
    assert!(below("jobs/a/1").await.is_empty());
    assert_eq!(below("jobs").await.len(), 2);
}

/// `Queue::clock` is a real clock: it moves forward and, on one machine, agrees with ours.
async fn the_clock_is_the_databases_and_close_to_ours(store: Arc<dyn Store>) {
    let first = store.clock().await.expect("clock");
    let ours = Timestamp::now();
    assert!((first.micros() - ours.micros()).abs() < 5_000_000, "{first} vs {ours}");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert!(store.clock().await.expect("clock") > first);
}

/// [`super::Account`]: a person sees their own grants, jobs (with parts), download counts and
/// audit entries (newest first, paged by id), and nothing of another person's, whatever id is asked.
async fn the_account_view_is_scoped_by_user(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let (u, v) = (user(store, "u").await, user(store, "v").await);
    let (app, other) = (client(store, "app").await, client(store, "other").await);
    let search = ["myactivity.search".to_owned()];
    store.upsert_grants(&u.id, &other.id, &search, GrantAccess::OneTime, None, at(1)).await.expect("store");
    store.upsert_grants(&u.id, &app.id, &search, GrantAccess::TimeBased, Some(at(99)), at(1)).await.expect("store");
    store.upsert_grants(&v.id, &app.id, &search, GrantAccess::OneTime, None, at(1)).await.expect("store");
    let grants = store.user_grants(&u.id).await.expect("store");
    let pairs: Vec<(&str, GrantAccess)> = grants.iter().map(|g| (g.client_id.as_str(), g.grant.access)).collect();
    assert_eq!(pairs, [("app", GrantAccess::TimeBased), ("other", GrantAccess::OneTime)], "by client id");
    assert_eq!(grants[0].grant.expires_at, Some(at(99)));

    initiated(store, &new_job("u-old", &u, &app, 2)).await;
    initiated(store, &new_job("v-job", &v, &app, 3)).await;
    initiated(store, &new_job("u-new", &u, &other, 4)).await;
    let lease = store.claim("w", at(100), at(5)).await.expect("store").expect("claim");
    assert_eq!(lease.job.id, "u-old");
    let parts: Vec<Part> = (0..2)
        .map(|i| Part {
            index: i,
            blob_key: format!("jobs/u-old/1/{i}"),
            size: 10 + u64::from(i),
            sha256: "00".repeat(32),
        })
        .collect();
    assert!(store.complete(&lease, &parts, &Progress::default(), at(6)).await.expect("store"));
    let jobs = store.user_jobs(&u.id, 10).await.expect("store");
    let listed: Vec<(&str, usize)> = jobs.iter().map(|j| (j.id.as_str(), j.parts.len())).collect();
    assert_eq!(listed, [("u-new", 0), ("u-old", 2)], "newest first, each with its parts");
    assert_eq!(jobs[1].parts[1].size, 11);
    assert_eq!(store.user_jobs(&u.id, 1).await.expect("store").len(), 1, "the limit counts jobs, not parts");
    assert_eq!(store.user_job(&u.id, "u-old").await.expect("store").expect("own job").parts.len(), 2);
    assert_eq!(store.user_job(&u.id, "v-job").await.expect("store"), None, "another person's job is not found");
    assert_eq!(store.user_job(&v.id, "u-old").await.expect("store"), None);

    let entry = |user: &User, event: &str, job: Option<&str>, i: i64| AuditEntry {
        at: at(10 + i),
        event: event.into(),
        user_id: Some(user.id.clone()),
        client_id: Some(app.id.clone()),
        job_id: job.map(str::to_owned),
        ..AuditEntry::now()
    };
    for (i, (who, event, job)) in [
        (&u, "archive.downloaded", Some("u-old")),
        (&v, "archive.downloaded", Some("u-old")),
        (&u, "archive.downloaded", Some("u-old")),
        (&u, "export.initiated", Some("u-new")),
        (&u, "consent.granted", None),
        (&v, "consent.granted", None),
    ]
    .into_iter()
    .enumerate()
    {
        store.audit(&entry(who, event, job, i64::try_from(i).expect("small"))).await.expect("store");
    }
    assert_eq!(
        store.user_event_counts(&u.id, "archive.downloaded").await.expect("store"),
        [("u-old".to_owned(), 2)],
        "only the person's own entries count"
    );
    let page = store.user_audit(&u.id, None, 2).await.expect("store");
    let events: Vec<&str> = page.iter().map(|r| r.entry.event.as_str()).collect();
    assert_eq!(events, ["consent.granted", "export.initiated"], "newest first");
    assert!(page[0].id > page[1].id);
    let rest = store.user_audit(&u.id, Some(page[1].id), 10).await.expect("store");
    assert_eq!(rest.len(), 2, "the next page holds the rest");
    assert!(rest.iter().all(|r| r.id < page[1].id && r.entry.user_id.as_deref() == Some(u.id.as_str())));
    let theirs = store.user_audit(&v.id, None, 10).await.expect("store");
    assert_eq!(theirs.len(), 2);
    assert!(theirs.iter().all(|r| r.entry.user_id.as_deref() == Some(v.id.as_str())));
    assert!(store.user_audit(&u.id, Some(i64::MIN), 10).await.expect("store").is_empty());
}

#[cfg(test)]
mod sqlite {
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread")]
    async fn sqlite_conforms() {
        let dir = tempfile::tempdir().expect("tempdir");
        let n = AtomicUsize::new(0);
        super::run(|| {
            let path = dir.path().join(format!("store-{}.sqlite", n.fetch_add(1, Ordering::SeqCst)));
            async move { crate::store::open(&format!("sqlite://{}", path.display())).await.expect("open") }
        })
        .await;
    }
}
