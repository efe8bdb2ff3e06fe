//! The emulator data source: deterministic synthetic data in Google's export shapes (SPEC §8.1).
//!
//! # Shapes
//!
//! Each group writes what Google's *Data Export Schema Reference*
//! (`https://developers.google.com/data-portability/schema-reference/<page>`) documents: folder,
//! file names, format and fields. The stored copies of several pages are cut off; there the shape
//! follows real exports as open-source importers read them (Takeout), and where neither tells,
//! a plausible file is marked as a guess beside its code. Each product module cites its sources
//! next to each shape; `tests/python/shapes/` holds the same expectations, written independently,
//! which `tests/python/test_fidelity.py` checks with Python's own readers. Paths are below
//! `Portability/`; *Takeout* marks a shape taken from real exports, *guess* one documented nowhere.
//!
//! | group | page | shape |
//! |---|---|---|
//! | `myactivity.{search,youtube,maps,play,shopping,myadcenter}` | `my_activity` | `My Activity/<Product>/MyActivity.json`: JSON array of activity records (`Search`, `Image Search`, `Video Search`, `YouTube`, `Maps`, `Google Play Store`, `Shopping`, `My Ad Center`) |
//! | `chrome.history` | `chrome` | `Chrome/History.json`: `{"Browser History": [...]}` |
//! | `chrome.bookmarks` | `chrome` | `Chrome/Bookmarks.html`: Netscape bookmark file |
//! | `chrome.autofill` | `chrome` | `Chrome/Addresses and more.json`: `Autofill Profile`, `Contact Info`, `Autofill` |
//! | `chrome.{dictionary,extensions,reading_list,settings}` | `chrome` (unreadable; Takeout) | `Chrome/Dictionary.csv` (a word a line), `Extensions.json`, `Reading List.html`, `Settings.json` |
//! | `alerts.subscriptions` | `alerts` | `Google Alerts/Your Google Alerts subscriptions.json` (file name a guess) |
//! | `discover.{follows,not_interested,likes}` | `discover` | `Discover/Your Follows.csv`, `Not Interested Setting.csv`, `Your Likes.csv` (likes: guess) |
//! | `searchnotifications.{settings,subscriptions}` | `search_notifications` | `Search Notifications/Your Notification Configurations.csv`, `Your Notification Subscriptions.csv` |
//! | `saved.collections` | `save` | `Saved/<collection>.csv`, one per collection, description line first where set |
//! | `search_ugc.*` | `search_ugc` | `Search Contributions/Reviews.json`, `Thumbs.json`, `Watched.json`, `Streaming video providers.json`, `Comments.json` |
//! | `maps.starred_places` | `maps` | `Maps (your places)/Saved Places.json`: GeoJSON FeatureCollection |
//! | `maps.reviews` | `local_actions` | `Maps (your places)/Reviews.json`: GeoJSON FeatureCollection |
//! | `maps.aliased_places` | `maps` | `Maps/My labeled places/Labeled places.json`: GeoJSON |
//! | `maps.{commute_routes,offering_contributions,questions_answers}` | `maps` (partly Takeout) | `Maps/Commute routes/…`, `Added dishes, products, activities/…`, `Questions and Answers/…` |
//! | `maps.factual_contributions` | `maps` (Takeout) | `Maps/Answers to automated questions/<ms>.json`, one per answer |
//! | `maps.photos_videos` | `maps` (Takeout) | `Maps/Photos and videos/<date>-<id>.jpg\|.mp4` with a `.json` sidecar each |
//! | `maps.{commute_settings,ev_profile,vehicle_profile}` | `maps` (guess) | `Maps/Commute settings/…`, `Electric vehicle settings/…`, `Vehicle profiles/…` |
//! | `mymaps.maps` | `mymaps` | `My Maps/<map>/<map>.kmz`: KMZ holding `doc.kml` (KML 2.2) |
//! | `streetview.imagery` | `streetview` | `Street View/PANO_….jpg`, `VID_….mp4`, each with its sensor data (`gps_track`) |
//! | `youtube.{public,private,unlisted}_videos` | `youtube` | `YouTube and YouTube Music/videos/<title>.mp4` and `video metadata/videos.csv` (later groups' `videos(1).csv`) |
//! | `youtube.{public,private,unlisted}_playlists` | `youtube` (Takeout) | `…/playlists/playlists.csv` and `<title>-videos.csv` per playlist |
//! | `youtube.{subscriptions,comments,live_chat,channel,music,posts}` | `youtube` (Takeout) | `…/subscriptions/subscriptions.csv`, `comments/comments.csv`, `live chats/live chats.csv`, `channels/*.csv`, `music (library and uploads)/` with MP3s, `posts/posts.csv` with images |
//! | `youtube.{shopping,clips,conversations,playable}` | `youtube` (not documented) | `…/shopping-collections/`, `clips/clips.csv`, `conversations/conversations.csv`, `playables/playable saves.csv` |
//! | `play.{installs,library,redemptions}` | `play` | `Google Play Store/Installs.json`, `Library.json`, `Redemption History.json`: arrays of one-key wrappers (`{"install": …}`) |
//! | `play.{purchases,subscriptions,devices}` | `play` (Takeout) | `Purchase History.json` and `Order History.json`, `Subscriptions.json`, `Devices.json` |
//! | `play.{promotions,playpoints,grouping,usersettings}` | `play` (guess) | `Promotion History.json`, `Play Points History.json`, `Grouping Tags.json`, `Play Settings.json` |
//! | `nest.camera_video` | `nest` | `Nest/camera/<id>/video/<date>/<time>.mp4` (MP4 only, as documented) |
//! | `nest.camera_event` | `nest` | `Nest/camera/<id>/events/events.json` with JPG snapshots and MP4 clips |
//! | `nest.{camera_feature,store,user}` | `nest` (fields: guess) | `Nest/camera/<id>/features.json`, `store/*.json`, `user.json` |
//! | `shopping.reviews` | `shopping` | `Google Shopping/Product Reviews/Product Reviews.csv`, `Merchant Reviews/Merchant Reviews.csv` |
//! | `shopping.addresses` | `shopping` (guess) | `Google Shopping/Addresses/Addresses.csv` |
//! | `order_reserve.purchases_reservations` | `my_orders` | `Purchases & Reservations/Purchases/order_<id>.json`, `Reservations/action_<id>.json`, one per item |
//! | `pixel.device_data` | `pixel_telemetry` (no fields) | `Pixel/device_data.json` |
//!
//! A group of an operator's catalogue bound to the emulator under another name writes
//! `<last name segment>.json` (or `.ndjson`), a JSON array of plausible records (`generic`).
//!
//! # Timeline model
//!
//! Every (seed, subject, group) has an infinite timeline of record *slots*. With `N` records
//! configured for the group, slots are `Δ = HISTORY / N` microseconds apart: slot `j` (any `i64`)
//! lies at `t_j = j·Δ + jitter_j` with `0 ≤ jitter_j < Δ`, so slot times are strictly increasing
//! in `j` and every slot owns its own interval `[j·Δ, (j+1)·Δ)`. An export writes exactly the slots
//! whose time lies in `[max(startTime, exportTime − HISTORY), exportTime)`, newest first (as Google's
//! My Activity does). Hence:
//!
//! - a full export holds about `N` records, and a time-filtered one a real subset;
//! - the jitter and the content of a slot are pure functions of (seed, subject, group name, `j`), so
//!   the same slot always yields the same bytes and successive incremental exports with
//!   `startTime = previous exportTime` neither miss nor repeat a record;
//! - no state is kept anywhere: two servers (or a crash and a restart) produce identical archives.
//!
//! Randomness comes from a self-contained SplitMix64 seeded by an FNV-1a hash, not from `rand`,
//! so that the data never changes with a dependency upgrade. Records are written by hand into one
//! reused buffer (no per-record allocation), because the emulator doubles as the benchmark source
//! for multi-gigabyte exports.
//!
//! `Δ` is `HISTORY / N` in whole microseconds (at least 1), so `N` itself may be off by one at
//! the window's edges. Record times are whole milliseconds (the precision Google's `time` fields
//! show) whenever `Δ` is at least a millisecond, except in `chrome.history`, whose `time_usec`
//! carries microseconds; a shown time therefore never falls outside the requested window.

use std::collections::{HashMap, HashSet};

use crate::catalogue::{Format, ResourceGroup};
use crate::sources::{DataSource, ExportRequest, FileLayout, FileSink, SourceError};

mod chrome;
mod export;
mod generic;
mod json;
mod maps;
mod my_activity;
mod play;
mod search;
mod timeline;
mod vocabulary;
mod youtube;

#[cfg(test)]
mod test_sink;

use export::*;
use json::*;
use timeline::*;
use vocabulary::*;

/// The history horizon: the emulator's data reaches back this far before exportTime.
pub const HISTORY_SECONDS: i64 = 5 * 365 * 86400;

const HISTORY_MICROS: i64 = HISTORY_SECONDS * 1_000_000;
/// 0001-01-01T00:00:00Z: records are never placed before it, so that every time is formattable.
const MIN_MICROS: i64 = -62_135_596_800_000_000;
/// 10000-01-01T00:00:00Z (exclusive), for the same reason.
const MAX_MICROS: i64 = 253_402_300_800_000_000;
/// Records between two looks at the cancellation flag.
const CANCEL_CHECK_EVERY: u64 = 1024;

/// How much data the emulator produces and which groups it pretends cannot be exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmulatorConfig {
    /// Records in a full export (the last [`HISTORY_SECONDS`]) of a group without an override.
    pub records_per_group: u64,
    /// Per-group overrides of `records_per_group`, keyed by group name.
    pub records_by_group: HashMap<String, u64>,
    /// Changes every record of every group; the same seed always gives the same data.
    pub seed: u64,
    /// Groups whose export fails permanently, so that developers can exercise failure and retry.
    pub fail_groups: HashSet<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self { records_per_group: 1000, records_by_group: HashMap::new(), seed: 0, fail_groups: HashSet::new() }
    }
}

/// The emulator data source. Stateless apart from its configuration, so it is cheap to share.
#[derive(Clone, Debug, Default)]
pub struct Emulator {
    config: EmulatorConfig,
}

impl Emulator {
    /// An emulator producing data as `config` says.
    pub fn new(config: EmulatorConfig) -> Self {
        Self { config }
    }

    /// The configuration this emulator was built with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.config
    }

    /// Records of `group` in a full export (approximately: the window's edges may add or drop one).
    pub fn records_for(&self, group: &str) -> u64 {
        self.config.records_by_group.get(group).copied().unwrap_or(self.config.records_per_group)
    }
}

/// Writes the group's files in Google's shape (see the table in the module doc). A data file is
/// written even for an empty window (then a valid empty document); a group whose records are
/// files of their own (photos, maps, per-item JSON) then writes none, as Google's exports do. A group in
/// `fail_groups` fails with [`SourceError::Permanent`] before anything is written; the
/// cancellation flag is read before every 1024th record and before every file is ended.
impl DataSource for Emulator {
    fn export(
        &self,
        group: &ResourceGroup,
        request: &ExportRequest<'_>,
        sink: &mut dyn FileSink,
    ) -> Result<(), SourceError> {
        let name = group.name.as_str();
        if self.config.fail_groups.contains(name) {
            return Err(SourceError::Permanent(format!("the emulator is configured to fail {name}")));
        }
        let resolution = if name == "chrome.history" { 1 } else { 1000 };
        let timeline = Timeline::new(self.config.seed, request.subject, name, self.records_for(name), resolution);
        let upper = request.export_time.micros().clamp(MIN_MICROS, MAX_MICROS);
        let lower = (upper - HISTORY_MICROS).max(request.start_time.map_or(MIN_MICROS, |t| t.micros())).max(MIN_MICROS);
        let mut x = Export::new(timeline, (lower, upper), request, sink);
        match name.split('.').next().unwrap_or_default() {
            "myactivity" => my_activity::export(group, &mut x),
            "chrome" => chrome::export(group, &mut x),
            "youtube" => youtube::export(group, &mut x),
            "maps" | "mymaps" | "streetview" => maps::export(group, &mut x),
            "play" | "nest" | "shopping" | "order_reserve" | "pixel" => play::export(group, &mut x),
            "search_ugc" | "searchnotifications" | "discover" | "saved" | "alerts" => search::export(group, &mut x),
            _ => generic::export(group, &mut x),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use dataport_types::Timestamp;
    use serde_json::Value;

    use super::test_sink::*;
    use super::*;
    use crate::catalogue::Catalogue;

    #[test]
    fn same_inputs_give_the_same_bytes_and_other_subjects_or_seeds_other_bytes() {
        let records = |files: Vec<File>| files.into_iter().flat_map(|f| f.records).collect::<Vec<_>>();
        for name in
            ["myactivity.search", "chrome.history", "maps.starred_places", "youtube.subscriptions", "play.library"]
        {
            let a = run_all(&emulator(40, 7), name, "alice", None, EXPORT);
            assert_eq!(a, run_all(&emulator(40, 7), name, "alice", None, EXPORT), "{name}");
            let a = records(a);
            assert_ne!(a, records(run_all(&emulator(40, 7), name, "bob", None, EXPORT)), "{name}");
            assert_ne!(a, records(run_all(&emulator(40, 8), name, "alice", None, EXPORT)), "{name}");
        }
    }

    /// Whatever the shape, every group writes files that parse in their format, holding records
    /// drawn from about `N` slots.
    #[test]
    fn every_built_in_group_writes_valid_files_of_its_records() {
        let emu = emulator(50, 0);
        for g in Catalogue::built_in().groups() {
            let name = g.name.as_str();
            let files = run_all(&emu, name, "alice", None, EXPORT);
            assert!(!files.is_empty(), "{name}: at least one file");
            // A name may repeat (two videos of one title): the archive numbers it as Google does.
            for file in &files {
                assert!(crate::catalogue::safe_relative_path(&file.name), "{name}: {}", file.name);
                let document = file.document();
                match file.name.rsplit_once('.').map(|(_, ext)| ext) {
                    Some("json") => drop(file.json()),
                    Some("csv") => {
                        // A header (Dictionary.csv has none) and, in Saved, a description line.
                        let rows = parse_csv(std::str::from_utf8(&document).expect("UTF-8"));
                        assert!(rows.len() >= file.records.len(), "{name}: {}: a row per record", file.name);
                    }
                    Some("html") => assert!(document.starts_with(b"<!DOCTYPE"), "{name}: {}", file.name),
                    Some("jpg" | "mp4" | "mp3" | "kmz") => {
                        assert_eq!(file.layout, FileLayout::media(), "{name}: {}", file.name)
                    }
                    other => panic!("{name}: {}: unexpected extension {other:?}", file.name),
                }
            }
            // A record is a row of a data file, or a media file of its own (photos, maps).
            let items: usize =
                files.iter().map(|f| if f.layout == FileLayout::media() { 1 } else { f.records.len() }).sum();
            assert!(items >= 25, "{name}: {items} records from 50 slots");
        }
    }

    #[test]
    fn my_activity_records_have_googles_fields() {
        let emu = emulator(300, 0);
        // (group, file, header, products, activity control prefix), after the schema reference.
        let expect = [
            ("myactivity.search", "Search/MyActivity.json", "Search", "Search", "Web & App Activity"),
            ("myactivity.search", "Image Search/MyActivity.json", "Image Search", "Image Search", "Web & App Activity"),
            ("myactivity.search", "Video Search/MyActivity.json", "Video Search", "Video Search", "Web & App Activity"),
            ("myactivity.youtube", "YouTube/MyActivity.json", "YouTube", "YouTube", "YouTube"),
            ("myactivity.maps", "Maps/MyActivity.json", "Maps", "Maps", "Web & App Activity"),
            (
                "myactivity.play",
                "Google Play Store/MyActivity.json",
                "Google Play",
                "Google Play Store",
                "Web & App Activity",
            ),
            ("myactivity.shopping", "Shopping/MyActivity.json", "Shopping", "Shopping", "Web & App Activity"),
            ("myactivity.myadcenter", "My Ad Center/MyActivity.json", "My Ad Center", "Ads", "Web & App Activity"),
        ];
        for (name, path, header, product, control) in expect {
            let files = run_all(&emu, name, "alice", None, EXPORT);
            let file = files.iter().find(|f| f.name == path).unwrap_or_else(|| panic!("{name}: {path}"));
            let doc = file.json();
            let records = doc.as_array().expect("array");
            let (mut urls, mut subtitles, mut located, mut whole_seconds) = (0, 0, 0, 0);
            for r in records {
                assert_eq!(r["header"], header, "{r}");
                assert_eq!(r["products"], serde_json::json!([product]), "{r}");
                assert!(!r["title"].as_str().expect("title").is_empty());
                let controls = r["activityControls"].as_array().expect("activityControls");
                assert!(!controls.is_empty() && controls.iter().all(|c| c.as_str().expect("str").starts_with(control)));
                if let Some(url) = r.get("titleUrl") {
                    assert!(url.as_str().expect("url").starts_with("https://"), "{r}");
                    urls += 1;
                }
                if let Some(s) = r.get("subtitles") {
                    assert!(s[0]["name"].is_string() && s[0]["url"].is_string(), "{r}");
                    subtitles += 1;
                }
                if let Some(d) = r.get("details") {
                    assert!(d[0]["name"].is_string(), "{r}");
                }
                if let Some(l) = r.get("locationInfos") {
                    assert_eq!(l[0]["name"], "At this general area", "{r}");
                    assert!(
                        l[0]["url"].as_str().expect("url").starts_with("https://www.google.com/maps/@?api=1"),
                        "{r}"
                    );
                    assert!(l[0]["source"].is_string(), "{r}");
                    located += 1;
                }
                // Milliseconds only when they are not zero.
                let time = r["time"].as_str().expect("time");
                assert!(time.len() == 20 || (time.len() == 24 && &time[20..23] != "000"), "{time}");
                whole_seconds += usize::from(time.len() == 20);
                let allowed = ["header", "title", "titleUrl", "subtitles", "description", "time", "products"];
                let more = ["details", "locationInfos", "activityControls"];
                assert!(
                    r.as_object()
                        .expect("object")
                        .keys()
                        .all(|k| allowed.contains(&k.as_str()) || more.contains(&k.as_str()))
                );
            }
            assert!(urls * 3 > records.len() * 2, "{name}: most records link somewhere");
            assert_eq!(subtitles > 0, name == "myactivity.youtube", "{name}");
            let share = located * 100 / records.len().max(1);
            match name {
                "myactivity.maps" => assert!((45..=75).contains(&share), "{name}: {share}% located"),
                "myactivity.search" if path.starts_with("Search/") => {
                    assert!((20..=50).contains(&share), "{name}: {share}%")
                }
                "myactivity.youtube" | "myactivity.myadcenter" => assert_eq!(located, 0, "{name}"),
                _ => {}
            }
            assert!(whole_seconds * 50 < records.len().max(50), "{name}: a whole second is rare");
        }
        // The search kinds split the slots: 80 % web, 10 % image, 10 % video.
        let files = run_all(&emu, "myactivity.search", "alice", None, EXPORT);
        let counts: Vec<usize> = files.iter().map(|f| f.records.len()).collect();
        assert!(counts.iter().sum::<usize>().abs_diff(300) <= 1, "{counts:?}");
        assert!(counts[0] > 200 && counts[1] > 10 && counts[2] > 10, "{counts:?}");
    }

    #[test]
    fn a_time_without_milliseconds_is_written_without_a_fraction() {
        let mut b = Vec::new();
        let mut o = Obj::new(&mut b);
        o.time_ms_if_any("a", 1_700_000_000_000_000);
        o.time_ms_if_any("b", 1_700_000_000_001_999);
        o.time_ms_if_any("c", 1_700_000_000_000_999);
        o.end();
        assert_eq!(
            String::from_utf8(b).expect("UTF-8"),
            r#"{"a":"2023-11-14T22:13:20Z","b":"2023-11-14T22:13:20.001Z","c":"2023-11-14T22:13:20Z"}"#
        );
    }

    #[test]
    fn chrome_history_has_the_browser_history_shape() {
        let file = run(&emulator(200, 0), "chrome.history", "alice", None, EXPORT);
        let doc = file.json();
        let records = doc["Browser History"].as_array().expect("Browser History");
        assert_eq!(records.len(), file.records.len());
        let mut clients = HashSet::new();
        for r in records {
            assert!(r["title"].is_string() && r["page_transition"].is_string(), "{r}");
            assert!(r["url"].as_str().expect("url").starts_with("https://"), "{r}");
            assert!(r["time_usec"].is_i64(), "{r}");
            clients.insert(r["client_id"].as_str().expect("client_id").to_owned());
            if let Some(f) = r.get("favicon_url") {
                assert!(f.as_str().expect("favicon").ends_with("/favicon.ico"));
            }
        }
        assert!((1..=3).contains(&clients.len()), "a few devices: {clients:?}");
    }

    #[test]
    fn youtube_subscriptions_are_csv_with_quoted_fields() {
        let file = run(&emulator(200, 0), "youtube.subscriptions", "alice", None, EXPORT);
        assert!(file.records.iter().all(|r| r.ends_with(b"\n")));
        let text = String::from_utf8(file.document()).expect("UTF-8");
        let rows = parse_csv(&text);
        assert_eq!(rows[0], ["Channel Id", "Channel Url", "Channel Title"]);
        assert_eq!(rows.len(), file.records.len() + 1);
        for row in &rows[1..] {
            assert_eq!(row.len(), 3, "{row:?}");
            assert!(row[0].starts_with("UC") && row[0].len() == 24, "{row:?}");
            assert_eq!(row[1], format!("http://www.youtube.com/channel/{}", row[0]));
        }
        assert!(rows.iter().any(|r| r[2].contains(',')) && rows.iter().any(|r| r[2].contains('"')), "quoting tested");
    }

    #[test]
    fn a_full_export_holds_n_records() {
        for n in [1, 7, 1000] {
            let got = run(&emulator(n, 3), "myactivity.maps", "alice", None, EXPORT).records.len() as u64;
            assert!(got.abs_diff(n) <= 1, "{n}: {got}");
        }
        let empty = run(&emulator(0, 3), "myactivity.maps", "alice", None, EXPORT);
        assert!(empty.records.is_empty());
        assert_eq!(empty.json(), serde_json::json!([]));
    }

    #[test]
    fn per_group_override_changes_only_that_group() {
        let mut config = EmulatorConfig { records_per_group: 100, ..EmulatorConfig::default() };
        config.records_by_group.insert("myactivity.shopping".to_owned(), 10);
        let emu = Emulator::new(config);
        assert_eq!(emu.records_for("myactivity.shopping"), 10);
        assert!(run(&emu, "myactivity.shopping", "a", None, EXPORT).records.len().abs_diff(10) <= 1);
        assert!(run(&emu, "myactivity.maps", "a", None, EXPORT).records.len().abs_diff(100) <= 1);
    }

    #[test]
    fn start_time_is_inclusive_and_export_time_exclusive() {
        let emu = emulator(500, 0);
        for name in ["myactivity.youtube", "chrome.history", "maps.starred_places", "myactivity.maps"] {
            let full = run(&emu, name, "alice", None, EXPORT);
            let ts = times(name, &full);
            let t = ts[ts.len() / 2];
            let from = run(&emu, name, "alice", Some(t), EXPORT);
            assert_eq!(times(name, &from).last(), Some(&t), "{name}: start is inclusive");
            assert_eq!(from.records[..], full.records[..=ts.len() / 2], "{name}: the same records");
            let until = run(&emu, name, "alice", None, t);
            assert!(times(name, &until).iter().all(|&u| u < t), "{name}: export time is exclusive");
            let until_after = run(&emu, name, "alice", None, t + 1);
            assert_eq!(times(name, &until_after)[0], t, "{name}");
            assert_eq!(until_after.records[0], full.records[ts.len() / 2], "{name}: a slot is the same record");
            // A window of one microsecond around a record holds exactly that record.
            assert_eq!(run(&emu, name, "alice", Some(t), t + 1).records.len(), 1, "{name}");
            assert!(run(&emu, name, "alice", Some(t), t).records.is_empty(), "{name}");
            assert!(run(&emu, name, "alice", Some(EXPORT), EXPORT - 5).json().is_object() || name != "chrome.history");
        }
    }

    #[test]
    fn a_time_filtered_export_is_a_real_subset() {
        let emu = emulator(1000, 0);
        let year = 365 * 86_400 * 1_000_000;
        let last_year = run(&emu, "myactivity.maps", "alice", Some(EXPORT - year), EXPORT);
        let n = last_year.records.len();
        assert!((190..=210).contains(&n), "one year of five: {n}");
        assert!(times("myactivity.maps", &last_year).iter().all(|&t| t >= EXPORT - year));
    }

    #[test]
    fn incremental_exports_neither_miss_nor_repeat_records() {
        let emu = emulator(2000, 11);
        for name in ["myactivity.shopping", "chrome.history", "youtube.subscriptions"] {
            let start = EXPORT - HISTORY_MICROS / 2;
            let full = run(&emu, name, "alice", Some(start), EXPORT);
            // Split points that are not on milliseconds, including one that is not even on a second.
            let splits = [start + 86_400_000_123, EXPORT - 31_536_000_000_001, EXPORT - 987_654_321];
            let mut pieces = Vec::new();
            let mut lower = start;
            for s in splits.iter().copied().chain([EXPORT]) {
                pieces.push(run(&emu, name, "alice", Some(lower), s));
                lower = s;
            }
            let joined: Vec<Vec<u8>> = pieces.iter().rev().flat_map(|f| f.records.clone()).collect();
            assert_eq!(joined, full.records, "{name}");
            let unique: HashSet<&Vec<u8>> = joined.iter().collect();
            assert_eq!(unique.len(), joined.len(), "{name}: no duplicates");
            assert!(pieces.iter().filter(|p| !p.records.is_empty()).count() >= 3, "{name}: real pieces");
        }
    }

    #[test]
    fn shown_times_never_leave_the_window() {
        // Millisecond times are truncated for display; slots sit on whole milliseconds so that a
        // start time inside a millisecond cannot show an earlier time than it.
        let emu = emulator(100_000, 0);
        let start = EXPORT - 86_400_000_000 * 20 + 777;
        let file = run(&emu, "myactivity.maps", "alice", Some(start), EXPORT);
        assert!(times("myactivity.maps", &file).iter().all(|t| (start..EXPORT).contains(t)));
    }

    #[test]
    fn cancellation_stops_the_export_early() {
        let emu = emulator(100_000, 0);
        let cancelled = AtomicBool::new(false);
        let request = ExportRequest {
            subject: "alice",
            start_time: None,
            export_time: Timestamp::from_micros(EXPORT),
            cancelled: &cancelled,
        };
        let mut sink = MemSink { cancel_after: Some((100, &cancelled)), ..MemSink::default() };
        let err = emu.export(&group("myactivity.search"), &request, &mut sink).expect_err("cancelled");
        assert!(matches!(err, SourceError::Cancelled), "{err}");
        assert!(sink.total <= 100 + CANCEL_CHECK_EVERY as usize, "stopped after {} records", sink.total);
    }

    #[test]
    fn configured_failures_fail_before_writing() {
        let mut config = EmulatorConfig::default();
        config.fail_groups.insert("chrome.history".to_owned());
        let emu = Emulator::new(config);
        let cancelled = AtomicBool::new(false);
        let request = ExportRequest {
            subject: "alice",
            start_time: None,
            export_time: Timestamp::from_micros(EXPORT),
            cancelled: &cancelled,
        };
        let mut sink = MemSink::default();
        let err = emu.export(&group("chrome.history"), &request, &mut sink).expect_err("configured to fail");
        assert!(matches!(&err, SourceError::Permanent(m) if m == "the emulator is configured to fail chrome.history"));
        assert!(sink.files.is_empty());
        emu.export(&group("chrome.bookmarks"), &request, &mut sink).expect("other groups work");
    }

    #[test]
    fn empty_windows_still_produce_a_valid_file() {
        let emu = emulator(100, 0);
        for name in ["chrome.history", "maps.starred_places", "myactivity.maps", "youtube.subscriptions"] {
            let file = run(&emu, name, "alice", Some(EXPORT), EXPORT);
            assert!(file.records.is_empty());
            if name == "youtube.subscriptions" {
                assert_eq!(file.document(), b"Channel Id,Channel Url,Channel Title\n");
            } else {
                file.json();
            }
        }
    }

    #[test]
    fn extreme_times_stay_formattable() {
        let emu = emulator(100, 0);
        let early = run(&emu, "myactivity.maps", "a", None, MIN_MICROS + 86_400_000_000 * 400);
        assert!(times("myactivity.maps", &early).iter().all(|&t| t >= MIN_MICROS));
        let late = run(&emu, "myactivity.maps", "a", None, i64::MAX);
        assert!(late.records.len().abs_diff(100) <= 1);
        times("myactivity.maps", &late);
    }

    #[test]
    fn ndjson_groups_of_operator_catalogues_get_one_object_per_line() {
        let mut g = group("play.library");
        g.name = "custom.things".to_owned();
        g.format = Format::Ndjson;
        let cancelled = AtomicBool::new(false);
        let request = ExportRequest {
            subject: "alice",
            start_time: None,
            export_time: Timestamp::from_micros(EXPORT),
            cancelled: &cancelled,
        };
        let mut sink = MemSink::default();
        emu_export(&emulator(20, 0), &g, &request, &mut sink);
        let file = &sink.files[0];
        assert_eq!(file.name, "things.ndjson");
        let text = String::from_utf8(file.document()).expect("UTF-8");
        assert_eq!(text.lines().count(), file.records.len());
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).expect("a JSON object per line");
            assert!(v["id"].is_string() && v["time"].is_string());
        }
    }

    #[test]
    fn unknown_my_activity_groups_are_named_after_their_folder() {
        let mut g = group("myactivity.search");
        g.name = "myactivity.gemini".to_owned();
        g.folder = "My Activity/Gemini Apps".to_owned();
        let cancelled = AtomicBool::new(false);
        let request = ExportRequest {
            subject: "alice",
            start_time: None,
            export_time: Timestamp::from_micros(EXPORT),
            cancelled: &cancelled,
        };
        let mut sink = MemSink::default();
        emu_export(&emulator(5, 0), &g, &request, &mut sink);
        let doc = sink.files[0].json();
        assert_eq!(sink.files[0].name, "MyActivity.json");
        assert_eq!(doc[0]["header"], "Gemini Apps");
        assert_eq!(doc[0]["products"], serde_json::json!(["Gemini Apps"]));
    }

    fn emu_export(emu: &Emulator, g: &ResourceGroup, request: &ExportRequest<'_>, sink: &mut MemSink<'_>) {
        emu.export(g, request, sink).expect("export succeeds");
    }

    #[test]
    fn timestamps_match_the_timestamp_type() {
        let mut r = Rng::new(5);
        for _ in 0..10_000 {
            let micros = r.range(MIN_MICROS, MAX_MICROS - 1);
            let mut b = Vec::new();
            rfc3339_ms(&mut b, micros);
            let s = String::from_utf8(b).expect("ASCII");
            let parsed = Timestamp::parse(&s).unwrap_or_else(|_| panic!("{s}"));
            assert_eq!(parsed.micros(), micros.div_euclid(1000) * 1000, "{s}");
        }
    }

    #[test]
    fn escaping_round_trips_through_serde_json() {
        for s in ["plain", "quote \" backslash \\ slash /", "line\nbreak\ttab\r", "\u{1}\u{1f}\u{7f}", "Zürich 👋"] {
            let mut b = vec![b'"'];
            esc(&mut b, s);
            b.push(b'"');
            assert_eq!(serde_json::from_slice::<String>(&b).expect("valid JSON string"), s);
        }
    }
}
