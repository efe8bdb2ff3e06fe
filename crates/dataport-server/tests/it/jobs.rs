//! The job engine seen from the API: latency, cancel, time filters, incremental exports, parts.

use std::time::{Duration, Instant};

use dataport_core::consent::Duration as Access;
use reqwest::StatusCode;

use crate::harness::{TestApp, download_all, verify_archive};

#[tokio::test]
async fn a_1000_record_export_completes_within_a_second() {
    let app = TestApp::spawn_with(|c| c.emulator.records_per_group = 1000).await;
    let token = app.token("u", "c", &["myactivity.youtube"], Access::OneTime).await;
    let started = Instant::now();
    let id = app.initiate(&token, r#"{"resources":["myactivity.youtube"]}"#).await;
    let state = app.wait_done(&token, &id, Duration::from_secs(10)).await;
    let elapsed = started.elapsed();
    assert_eq!(state["state"], "COMPLETE");
    eprintln!("initiate -> COMPLETE for 1 group x 1000 records: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
    let manifest = verify_archive(&download_all(&app, &state).await);
    assert_eq!(manifest["files"][0]["records"].as_u64().map(|n| n.abs_diff(1000) <= 1), Some(true));
}

#[tokio::test]
async fn cancel_stops_a_running_export_and_deletes_its_output() {
    let app = TestApp::spawn_with(|c| c.emulator.records_per_group = 50_000_000).await;
    let token = app.token("u", "c", &["myactivity.youtube"], Access::OneTime).await;
    let id = app.initiate(&token, r#"{"resources":["myactivity.youtube"]}"#).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !app.job_output_exists(&id).await {
        assert!(Instant::now() < deadline, "export never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = app.post(&format!("/v1/archiveJobs/{id}:cancel"), &token, "{}").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(app.state(&token, &id).await.json["state"], "CANCELLED", "CANCELLED at once");
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.job_output_exists(&id).await {
        assert!(Instant::now() < deadline, "partial output still there 5 s after cancel");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(app.state(&token, &id).await.json.get("urls").is_none());
}

#[tokio::test]
async fn time_filters_select_subsets_and_incremental_exports_neither_miss_nor_repeat() {
    let app = TestApp::spawn_with(|c| c.emulator.records_per_group = 500).await;
    let token = app.token("u", "c", &["chrome.history"], Access::Days30).await;
    let full = app.initiate(&token, r#"{"resources":["chrome.history"],"endTime":"2026-01-01T00:00:00Z"}"#).await;
    let full = app.wait_done(&token, &full, Duration::from_secs(10)).await;
    let all = records(&download_all(&app, &full).await);
    assert!(all.len() >= 499, "{}", all.len());

    let token = app.token("u", "c2", &["chrome.history"], Access::OneTime).await;
    let older = app.initiate(&token, r#"{"resources":["chrome.history"],"endTime":"2024-06-01T00:00:00Z"}"#).await;
    let older = records(&download_all(&app, &app.wait_done(&token, &older, Duration::from_secs(10)).await).await);
    let token = app.token("u", "c3", &["chrome.history"], Access::OneTime).await;
    let newer = app
        .initiate(
            &token,
            r#"{"resources":["chrome.history"],"startTime":"2024-06-01T00:00:00Z","endTime":"2026-01-01T00:00:00Z"}"#,
        )
        .await;
    let newer = records(&download_all(&app, &app.wait_done(&token, &newer, Duration::from_secs(10)).await).await);
    assert!(!older.is_empty() && !newer.is_empty());
    let cut = 1_717_200_000_000_000i64; // 2024-06-01T00:00:00Z in µs
    assert!(newer.iter().all(|r| r["time_usec"].as_i64().is_some_and(|t| t >= cut)));
    assert!(older.iter().all(|r| r["time_usec"].as_i64().is_some_and(|t| t < cut)));
    let mut joined: Vec<_> = newer
        .iter()
        .chain(older.iter())
        .filter(|r| r["time_usec"].as_i64() >= all.last().and_then(|r| r["time_usec"].as_i64()))
        .cloned()
        .collect();
    joined.sort_by_key(|r| std::cmp::Reverse(r["time_usec"].as_i64()));
    let mut reference = all.clone();
    reference.sort_by_key(|r| std::cmp::Reverse(r["time_usec"].as_i64()));
    assert_eq!(joined, reference, "incremental exports are exactly the full export");
}

fn records(parts: &[Vec<u8>]) -> Vec<serde_json::Value> {
    use std::io::Read;
    let manifest = verify_archive(parts);
    let mut out = Vec::new();
    for file in manifest["files"].as_array().expect("files") {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&parts[file["part"].as_u64().expect("part") as usize]))
            .expect("zip");
        let mut text = String::new();
        zip.by_name(file["path"].as_str().expect("path")).expect("file").read_to_string(&mut text).expect("read");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
        out.extend(doc["Browser History"].as_array().expect("history").iter().cloned());
    }
    out
}

#[tokio::test]
async fn large_files_are_split_into_numbered_chunks_across_parts() {
    let app = TestApp::spawn_with(|c| {
        c.emulator.records_per_group = 20_000;
        c.archive.part_size = 256 * 1024;
    })
    .await;
    let token = app.token("u", "c", &["myactivity.shopping", "myactivity.maps"], Access::OneTime).await;
    let id = app.initiate(&token, r#"{"resources":["myactivity.shopping","myactivity.maps"]}"#).await;
    let state = app.wait_done(&token, &id, Duration::from_secs(30)).await;
    let parts = download_all(&app, &state).await;
    assert!(parts.len() >= 4, "{} parts", parts.len());
    let manifest = verify_archive(&parts);
    let files = manifest["files"].as_array().expect("files");
    let paths: Vec<&str> = files.iter().filter_map(|f| f["path"].as_str()).collect();
    assert_eq!(paths[0], "Portability/My Activity/Maps/MyActivity.json", "catalogue order");
    assert_eq!(paths[1], "Portability/My Activity/Maps/MyActivity(1).json");
    let shopping =
        paths.iter().position(|p| *p == "Portability/My Activity/Shopping/MyActivity.json").expect("first chunk");
    assert_eq!(paths[shopping + 1], "Portability/My Activity/Shopping/MyActivity(1).json");
    assert!(paths[..shopping].iter().all(|p| p.starts_with("Portability/My Activity/Maps/")));
    for product in ["Maps", "Shopping"] {
        let total: u64 = files
            .iter()
            .filter(|f| f["path"].as_str().is_some_and(|p| p.contains(&format!("/{product}/MyActivity"))))
            .map(|f| f["records"].as_u64().expect("n"))
            .sum();
        assert!(total.abs_diff(20_000) <= 1, "{product}: {total}");
    }
    // Every chunk is a complete JSON document on its own.
    for file in files {
        use std::io::Read;
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&parts[file["part"].as_u64().expect("part") as usize]))
            .expect("zip");
        let mut text = String::new();
        zip.by_name(file["path"].as_str().expect("path")).expect("file").read_to_string(&mut text).expect("read");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("each chunk parses");
        assert_eq!(doc.as_array().map(|a| a.len() as u64), file["records"].as_u64());
    }
}

/// An archive read the way importers of real Google archives read it (SPEC §8): the first URL is
/// data and the last the index; `Portability/archive_browser.json` is parsed with string counters
/// and case-insensitive keys, and `Portability/<folderName>/…/<extractedFile name>` is opened in
/// the data part.
#[tokio::test]
async fn an_importer_finds_my_activity_through_the_archive_browser() {
    use std::io::Read;
    let app = TestApp::spawn().await;
    let token = app.token("u", "c", &["myactivity.youtube"], Access::OneTime).await;
    let id = app.initiate(&token, r#"{"resources":["myactivity.youtube"]}"#).await;
    let state = app.wait_done(&token, &id, Duration::from_secs(10)).await;
    let parts = download_all(&app, &state).await;
    let (data, index) = (&parts[0], &parts[parts.len() - 1]);
    let mut index = zip::ZipArchive::new(std::io::Cursor::new(index)).expect("index zip");
    let mut text = String::new();
    index.by_name("Portability/archive_browser.json").expect("browser").read_to_string(&mut text).expect("read");
    let lower =
        |v: &serde_json::Value| serde_json::from_str::<serde_json::Value>(&v.to_string().to_lowercase()).expect("json");
    let browser = lower(&serde_json::from_str(&text).expect("json"));
    let service = &browser["servicestatus"][0];
    assert_eq!(service["service"]["name"], "my_activity");
    let total: u64 = service["extractedfiletotal"].as_str().expect("a string counter").parse().expect("n");
    assert_eq!(total, 1);
    let (folder, sub) = (service["foldername"].as_str().expect("folder"), &service["extractedfile"][0]);
    let file = &sub["childfile"][0];
    assert_eq!(file["extension"], "json");
    // The browser's names, cased as in the archive, lead to the data file.
    let original: serde_json::Value = serde_json::from_str(&text).expect("json");
    let name = |v: &serde_json::Value| v.as_str().expect("name").to_owned();
    let path = format!(
        "Portability/{}/{}/{}",
        name(&original["serviceStatus"][0]["folderName"]),
        name(&original["serviceStatus"][0]["extractedFile"][0]["name"]),
        name(&original["serviceStatus"][0]["extractedFile"][0]["childFile"][0]["name"])
    );
    assert_eq!(path.to_lowercase(), format!("portability/{folder}/{}/{}", name(&sub["name"]), name(&file["name"])));
    assert_eq!(path, "Portability/My Activity/YouTube/MyActivity.json");
    let mut data = zip::ZipArchive::new(std::io::Cursor::new(data)).expect("data zip");
    let mut json = String::new();
    data.by_name(&path).expect("the file the browser names").read_to_string(&mut json).expect("read");
    let records: Vec<serde_json::Value> = serde_json::from_str(&json).expect("My Activity JSON");
    assert!(records.len().abs_diff(50) <= 1, "about the 50 records configured: {}", records.len());
    assert!(records[0]["header"].is_string() && records[0]["time"].is_string());
}
