//! PostgreSQL tests against a real server: the store conformance suite, and what only several
//! processes sharing one database bring up (replicas migrating together, workers on different
//! nodes, revocations racing rotations). The server is the one `DATAPORT_TEST_POSTGRES_URL` names
//! (`scripts/pg-cluster DIR` starts a throwaway one); each test gets fresh databases on it.

use std::sync::Arc;

use dataport_types::{AccessType, State, Timestamp};
use sqlx::{Connection, PgConnection};

use crate::model::{Client, Grant, GrantAccess, Job, NewJob, TokenKind, TokenRecord, User};
use crate::store::{Rotation, Store, StoreError, conformance};
use crate::testing;

/// The server's URL, or `None` after saying loudly that the tests did not run.
fn server() -> Option<String> {
    testing::service(testing::POSTGRES_URL_VAR, "the PostgreSQL store tests")
}

async fn fresh_database(server: &str) -> String {
    testing::fresh_postgres_database(server).await
}

async fn fresh_store(server: &str) -> Arc<dyn Store> {
    crate::store::open(&fresh_database(server).await).await.expect("open")
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_conforms() {
    let Some(server) = server() else { return };
    conformance::run(|| fresh_store(&server)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_starting_together_migrate_once() {
    let Some(server) = server() else { return };
    let url = fresh_database(&server).await;
    // Joined rather than spawned: sqlx's migrator future is not `Send` for every lifetime.
    let open = || crate::store::open(&url);
    let (a, b, c, d) = tokio::join!(open(), open(), open(), open());
    for opened in [a, b, c, d] {
        opened.expect("every replica opens");
    }
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&mut conn)
        .await
        .expect("migrations");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres")).expect("migrations");
    let expected: Vec<i64> = (1..=i64::try_from(files.count()).expect("count")).collect();
    assert_eq!(applied, expected, "each migration applied once");
    crate::store::open(&url.replace("postgres://", "postgresql://")).await.expect("reopen (postgresql://)");
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_micros(1_700_000_000_000_000 + seconds * 1_000_000)
}

async fn pair(store: &dyn Store) -> (User, Client) {
    let user = store.create_user("u", "subject-u", None, at(0)).await.expect("store").expect("new user");
    let client = Client {
        id: "app".into(),
        name: "App".into(),
        redirect_uris: vec!["https://app.example/cb".into()],
        public: true,
        disabled: false,
        secret_hash: None,
        refresh_rotation: None,
    };
    assert!(store.create_client(&client, at(0)).await.expect("store"));
    (user, client)
}

fn new_job(id: &str, user: &User, client: &Client, created: i64) -> NewJob {
    NewJob {
        id: id.into(),
        user_id: user.id.clone(),
        client_id: client.id.clone(),
        resources: vec!["myactivity.search".into()],
        start_time: None,
        end_time: None,
        export_time: at(created),
        created_at: at(created),
    }
}

/// Two nodes (two stores, two pools) claiming from one queue: every job is leased exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn workers_on_two_nodes_claim_each_job_once() {
    let Some(server) = server() else { return };
    let url = fresh_database(&server).await;
    let nodes = [crate::store::open(&url).await.expect("open"), crate::store::open(&url).await.expect("open")];
    let (u, app) = pair(nodes[0].as_ref()).await;
    for i in 0..24 {
        let job = new_job(&format!("job-{i:02}"), &u, &app, i);
        nodes[0].initiate(&job, at(0), &mut |_: &[Grant], _: &[Job]| Some(AccessType::OneTime)).await.expect("store");
    }
    let workers = (0..6).map(|w| {
        let store = nodes[w % 2].clone();
        tokio::spawn(async move {
            let mut claimed = Vec::new();
            while let Some(lease) = store.claim(&format!("w{w}"), at(1_000), at(100)).await.expect("claim") {
                claimed.push(lease.job.id);
            }
            claimed
        })
    });
    let mut all = Vec::new();
    for worker in workers.collect::<Vec<_>>() {
        all.extend(worker.await.expect("join"));
    }
    all.sort();
    let expected: Vec<String> = (0..24).map(|i| format!("job-{i:02}")).collect();
    assert_eq!(all, expected, "each job claimed once, none missed");
}

/// Initiates on two nodes race a reset of the pair; whichever order the database picks, no job
/// is left in progress once the reset has happened (a reset cancels what it finds, and an
/// initiate after it finds no grants).
#[tokio::test(flavor = "multi_thread")]
async fn initiates_racing_a_reset_leave_nothing_in_progress() {
    let Some(server) = server() else { return };
    let url = fresh_database(&server).await;
    let nodes = [crate::store::open(&url).await.expect("open"), crate::store::open(&url).await.expect("open")];
    let (u, app) = pair(nodes[0].as_ref()).await;
    let groups = vec!["myactivity.search".to_owned()];
    for round in 0..50 {
        nodes[0]
            .upsert_grants(&u.id, &app.id, &groups, GrantAccess::TimeBased, Some(at(999)), at(0))
            .await
            .expect("store");
        let initiate = {
            let (store, job) = (nodes[round % 2].clone(), new_job(&format!("r{round}"), &u, &app, round as i64));
            tokio::spawn(async move {
                let mut decide = |grants: &[Grant], _: &[Job]| (!grants.is_empty()).then_some(AccessType::TimeBased);
                store.initiate(&job, at(0), &mut decide).await.expect("store")
            })
        };
        let reset = {
            let (store, u, app) = (nodes[(round + 1) % 2].clone(), u.id.clone(), app.id.clone());
            tokio::spawn(async move { store.reset(&u, &app, at(round as i64)).await.expect("store") })
        };
        let created = initiate.await.expect("join");
        reset.await.expect("join");
        if let Some(job) = created {
            let job = nodes[0].job(&job.id).await.expect("store").expect("job");
            assert_eq!(job.state, State::Cancelled, "round {round}: the reset came after the initiate");
        }
    }
}

fn token(hash: &str, kind: TokenKind, user: &User, client: &Client, family: &str) -> TokenRecord {
    TokenRecord {
        hash: hash.into(),
        kind,
        user_id: user.id.clone(),
        client_id: client.id.clone(),
        scopes: vec!["myactivity.search".into()],
        created_at: Timestamp::now(),
        expires_at: Timestamp::now().plus_seconds(3600),
        revoked_at: None,
        family: Some(family.into()),
        code_hash: None,
        access: Some("30d".into()),
        rotated_at: None,
    }
}

/// Each way of revoking a refresh token's tokens, raced against its rotation on another node:
/// either the rotation went first and the revocation took its successors too, or the revocation
/// went first and the rotation found the token revoked. Never a live successor.
#[tokio::test(flavor = "multi_thread")]
async fn revocations_racing_a_rotation_leave_no_live_successor() {
    let Some(server) = server() else { return };
    let url = fresh_database(&server).await;
    let nodes = [crate::store::open(&url).await.expect("open"), crate::store::open(&url).await.expect("open")];
    let (u, app) = pair(nodes[0].as_ref()).await;
    let kinds = ["reset", "disable user", "disable client", "revoke family", "revoke token"];
    for round in 0..50 {
        let revocation = kinds[round % kinds.len()];
        let family = format!("fam-{round}");
        let first = format!("first-{round}");
        nodes[0].insert_token(&token(&first, TokenKind::Refresh, &u, &app, &family)).await.expect("store");
        let successors = vec![
            token(&format!("acc-{round}"), TokenKind::Access, &u, &app, &family),
            token(&format!("ref-{round}"), TokenKind::Refresh, &u, &app, &family),
        ];
        let rotation = {
            let (store, first) = (nodes[round % 2].clone(), first.clone());
            tokio::spawn(async move { store.rotate_refresh(&first, Timestamp::now(), &successors).await })
        };
        let revoker = {
            let store = nodes[(round + 1) % 2].clone();
            let (user, client, family, first) = (u.username.clone(), app.id.clone(), family.clone(), first.clone());
            let user_id = u.id.clone();
            tokio::spawn(async move {
                let now = Timestamp::now();
                match revocation {
                    "reset" => store.reset(&user_id, &client, now).await,
                    "disable user" => store.set_user_disabled(&user, true, now).await.map(drop),
                    "disable client" => store.set_client_disabled(&client, true, now).await.map(drop),
                    "revoke family" => store.revoke_family(&family, now).await,
                    _ => store.revoke_token(&first, now).await.map(drop),
                }
            })
        };
        let rotated = rotation.await.expect("join").expect("store");
        revoker.await.expect("join").expect("store");
        assert!(matches!(rotated, Rotation::Fresh | Rotation::Invalid), "round {round}: {rotated:?}");
        for hash in [format!("acc-{round}"), format!("ref-{round}"), first] {
            let live = nodes[0].token(&hash).await.expect("store").is_some_and(|t| t.revoked_at.is_none());
            assert!(!live, "round {round} ({revocation}, rotation {rotated:?}): {hash} is live");
        }
        nodes[0].set_user_disabled(&u.username, false, Timestamp::now()).await.expect("store");
        nodes[0].set_client_disabled(&app.id, false, Timestamp::now()).await.expect("store");
    }
}

/// A closed store, or a server that is not there, is unavailable (E17), not a database error.
#[tokio::test(flavor = "multi_thread")]
async fn lost_connections_are_unavailable() {
    let Some(server) = server() else { return };
    let store = fresh_store(&server).await;
    store.close().await;
    assert!(matches!(store.users().await, Err(StoreError::Unavailable(_))), "closed");

    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let nowhere = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    assert!(matches!(crate::store::open(&nowhere).await, Err(StoreError::Unavailable(_))), "no server");

    // The server ends the store's sessions (57P01 to whichever was busy, a dropped socket to the
    // rest): never a database error, and the pool reconnects.
    let url = fresh_database(&server).await;
    let store = crate::store::open(&url).await.expect("open");
    store.users().await.expect("store");
    let mut admin = PgConnection::connect(&server).await.expect("connect");
    let database = url.rsplit('/').next().expect("database").to_owned();
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
        .bind(&database)
        .execute(&mut admin)
        .await
        .expect("terminate");
    match store.users().await {
        Ok(_) | Err(StoreError::Unavailable(_)) => {}
        Err(e) => panic!("a terminated session is unavailable, not {e:?}"),
    }
    store.users().await.expect("the pool reconnects");
}
