//! The blob store conformance suite: what [`BlobStore`] promises, checked against any backend
//! (the local directory, S3). A backend's test calls [`run`] with a fresh, empty store.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt;

use super::{BlobError, BlobStore};

/// Runs every check; panics (with the check's name) on the first broken promise.
pub async fn run(store: Arc<dyn BlobStore>) {
    a_blob_is_invisible_until_commit_and_discarded_on_drop(store.as_ref()).await;
    reads_are_ranged_and_chunked(store.as_ref()).await;
    listing_and_deleting_go_by_whole_segments(store.as_ref()).await;
    keys_cannot_escape(store.as_ref()).await;
    store.check().await.expect("a working store is ready");
}

pub async fn read_all(store: &dyn BlobStore, key: &str, offset: u64, len: u64, chunk: usize) -> Vec<u8> {
    let chunks: Vec<Bytes> =
        store.read(key, offset, len, chunk).await.expect("read").try_collect().await.expect("chunks");
    assert!(chunks.iter().all(|c| c.len() <= chunk), "chunks of at most the size asked for");
    chunks.concat()
}

async fn in_blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.expect("join")
}

async fn a_blob_is_invisible_until_commit_and_discarded_on_drop(store: &dyn BlobStore) {
    let mut blob = store.create("jobs/a/1/part-000.zip").expect("create");
    let blob = in_blocking(move || {
        blob.write_all(b"hello").expect("write");
        blob
    })
    .await;
    assert!(store.read("jobs/a/1/part-000.zip", 0, 5, 2).await.is_err(), "not readable before commit");
    assert!(!matches!(store.open_file("jobs/a/1/part-000.zip").await, Ok(Some(_))), "no file before commit");
    assert!(store.list("jobs/a").await.expect("list").is_empty(), "a staged blob is not listed");
    in_blocking(move || blob.commit()).await.expect("commit");
    assert_eq!(read_all(store, "jobs/a/1/part-000.zip", 0, 5, 2).await, b"hello");

    let mut dropped = store.create("jobs/a/1/part-001.zip").expect("create");
    in_blocking(move || {
        dropped.write_all(b"partial").expect("write");
        drop(dropped);
    })
    .await;
    assert_eq!(store.list("jobs/a").await.expect("list"), ["jobs/a/1/part-000.zip"], "a dropped blob is gone");
    store.delete_prefix("jobs/a").await.expect("delete");
}

async fn reads_are_ranged_and_chunked(store: &dyn BlobStore) {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut blob = store.create("jobs/r/1/part-000.zip").expect("create");
    let expected = data.clone();
    in_blocking(move || {
        blob.write_all(&data)?;
        blob.commit()
    })
    .await
    .expect("commit");
    assert_eq!(read_all(store, "jobs/r/1/part-000.zip", 0, 100_000, 4096).await, expected);
    assert_eq!(read_all(store, "jobs/r/1/part-000.zip", 99_000, 1000, 300).await, expected[99_000..]);
    assert_eq!(read_all(store, "jobs/r/1/part-000.zip", 7, 1, 1).await, expected[7..8]);
    assert!(read_all(store, "jobs/r/1/part-000.zip", 50, 0, 10).await.is_empty(), "an empty range");
    assert!(store.read("jobs/r/1/missing.zip", 0, 1, 1).await.is_err(), "a missing blob is an error");
    if let Some(file) = store.open_file("jobs/r/1/part-000.zip").await.expect("open_file") {
        let content = in_blocking(move || {
            let mut content = Vec::new();
            std::io::Read::read_to_end(&mut &file, &mut content).map(|_| content)
        })
        .await;
        assert_eq!(content.expect("file"), expected, "a blob's file holds exactly its bytes");
    }
    assert!(!matches!(store.open_file("jobs/r/1/missing.zip").await, Ok(Some(_))), "no file for a missing blob");
    store.delete_prefix("jobs/r").await.expect("delete");
}

async fn listing_and_deleting_go_by_whole_segments(store: &dyn BlobStore) {
    for key in ["jobs/l/1/a", "jobs/l/1/b", "jobs/l/10/a", "jobs/l/2/a"] {
        let blob = store.create(key).expect("create");
        in_blocking(move || blob.commit()).await.expect("commit");
    }
    let mut keys = store.list("jobs/l/1").await.expect("list");
    keys.sort();
    assert_eq!(keys, ["jobs/l/1/a", "jobs/l/1/b"], "jobs/l/10 is not below jobs/l/1");
    store.delete_prefix("jobs/l/1").await.expect("delete");
    let mut keys = store.list("jobs/l").await.expect("list");
    keys.sort();
    assert_eq!(keys, ["jobs/l/10/a", "jobs/l/2/a"]);
    store.delete_prefix("jobs/l").await.expect("delete");
    assert!(store.list("jobs/l").await.expect("list").is_empty());
    store.delete_prefix("jobs/none").await.expect("deleting nothing is fine");
}

async fn keys_cannot_escape(store: &dyn BlobStore) {
    for key in ["", "../x", "a//b", "/abs", "a/./b", "a\\b"] {
        assert!(matches!(store.create(key), Err(BlobError::InvalidKey(_))), "{key:?}");
        assert!(store.read(key, 0, 1, 1).await.is_err(), "{key:?}");
        assert!(!matches!(store.open_file(key).await, Ok(Some(_))), "{key:?}");
    }
}
