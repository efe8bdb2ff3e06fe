//! The emulator data source: deterministic synthetic data in Google's export shapes (SPEC §8.1).
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

mod json;
mod records;
mod timeline;
mod vocabulary;

use json::*;
use records::*;
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

/// Writes exactly one file per group, even for an empty window (then a valid empty document).
/// A group in `fail_groups` fails with [`SourceError::Permanent`] before anything is written; the
/// cancellation flag is read before every 1024th record and once more before the file is ended.
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
        let shape = Shape::of(group);
        let (file, layout) = shape.file(group);
        let line_end = layout.separator.is_empty();
        let timeline =
            Timeline::new(self.config.seed, request.subject, name, self.records_for(name), shape.resolution());
        let upper = request.export_time.micros().clamp(MIN_MICROS, MAX_MICROS);
        let lower = (upper - HISTORY_MICROS).max(request.start_time.map_or(MIN_MICROS, |t| t.micros())).max(MIN_MICROS);

        sink.begin_file(&file, layout)?;
        let mut buf = Vec::with_capacity(4096);
        for (written, (mut rng, time)) in (0u64..).zip(timeline.slots(lower, upper)) {
            if written.is_multiple_of(CANCEL_CHECK_EVERY) && request.is_cancelled() {
                return Err(SourceError::Cancelled);
            }
            buf.clear();
            shape.write(&mut rng, time, timeline.key, &mut buf);
            if line_end {
                buf.push(b'\n');
            }
            sink.record(&buf)?;
        }
        if request.is_cancelled() {
            return Err(SourceError::Cancelled);
        }
        sink.end_file()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use dataport_types::Timestamp;
    use serde_json::Value;

    use super::*;
    use crate::catalogue::Catalogue;
    use crate::sources::SinkError;

    /// One file as a source wrote it.
    #[derive(Debug, Clone, PartialEq)]
    struct File {
        name: String,
        layout: FileLayout,
        records: Vec<Vec<u8>>,
        ended: bool,
    }

    impl File {
        /// The file's bytes as the archive would hold them.
        fn document(&self) -> Vec<u8> {
            let mut out = self.layout.prefix.clone().into_bytes();
            for (i, r) in self.records.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(self.layout.separator.as_bytes());
                }
                out.extend_from_slice(r);
            }
            out.extend_from_slice(self.layout.suffix.as_bytes());
            out
        }

        fn json(&self) -> Value {
            serde_json::from_slice(&self.document()).expect("the document is JSON")
        }
    }

    /// Collects files in memory; optionally raises a cancellation flag after some records.
    #[derive(Default)]
    struct MemSink<'a> {
        files: Vec<File>,
        cancel_after: Option<(usize, &'a AtomicBool)>,
        total: usize,
    }

    impl FileSink for MemSink<'_> {
        fn begin_file(&mut self, name: &str, layout: FileLayout) -> Result<(), SinkError> {
            assert!(self.files.last().is_none_or(|f| f.ended), "previous file not ended");
            self.files.push(File { name: name.to_owned(), layout, records: Vec::new(), ended: false });
            Ok(())
        }

        fn record(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
            let file = self.files.last_mut().filter(|f| !f.ended).ok_or(SinkError::NoOpenFile)?;
            file.records.push(bytes.to_vec());
            self.total += 1;
            if let Some((n, flag)) = self.cancel_after
                && self.total == n
            {
                flag.store(true, Ordering::Relaxed);
            }
            Ok(())
        }

        fn write(&mut self, _bytes: &[u8]) -> Result<(), SinkError> {
            panic!("the emulator writes no media");
        }

        fn begin_bundle(&mut self) -> Result<(), SinkError> {
            Ok(())
        }

        fn end_bundle(&mut self) -> Result<(), SinkError> {
            Ok(())
        }

        fn end_file(&mut self) -> Result<(), SinkError> {
            let file = self.files.last_mut().ok_or(SinkError::NoOpenFile)?;
            file.ended = true;
            Ok(())
        }
    }

    /// 2026-11-27T09:00:00.123456Z: deliberately not on a millisecond.
    const EXPORT: i64 = 1_795_770_000_123_456;

    fn group(name: &str) -> ResourceGroup {
        Catalogue::built_in().get(name).cloned().unwrap_or_else(|| panic!("{name} is in the catalogue"))
    }

    fn emulator(records: u64, seed: u64) -> Emulator {
        Emulator::new(EmulatorConfig { records_per_group: records, seed, ..EmulatorConfig::default() })
    }

    fn run(emu: &Emulator, name: &str, subject: &str, start: Option<i64>, export: i64) -> File {
        let cancelled = AtomicBool::new(false);
        let request = ExportRequest {
            subject,
            start_time: start.map(Timestamp::from_micros),
            export_time: Timestamp::from_micros(export),
            cancelled: &cancelled,
        };
        let mut sink = MemSink::default();
        emu.export(&group(name), &request, &mut sink).expect("export succeeds");
        assert_eq!(sink.files.len(), 1, "{name}: one file");
        let file = sink.files.remove(0);
        assert!(file.ended, "{name}: file ended");
        file
    }

    /// The time of each record in microseconds, whatever the shape.
    fn times(name: &str, file: &File) -> Vec<i64> {
        let parse = |s: &str| {
            assert_eq!(s.len(), 24, "{s}: RFC 3339 with exactly 3 fractional digits");
            assert_eq!(&s[19..20], ".", "{s}");
            Timestamp::parse(s).unwrap_or_else(|_| panic!("{s} parses")).micros()
        };
        let doc = file.json();
        match name {
            "chrome.history" => doc["Browser History"]
                .as_array()
                .expect("array")
                .iter()
                .map(|r| r["time_usec"].as_i64().expect("integer time_usec"))
                .collect(),
            "maps.starred_places" => doc["features"]
                .as_array()
                .expect("array")
                .iter()
                .map(|f| parse(f["properties"]["date"].as_str().expect("date")))
                .collect(),
            _ => doc.as_array().expect("array").iter().map(|r| parse(r["time"].as_str().expect("time"))).collect(),
        }
    }

    /// Splits CSV text into rows of fields (RFC 4180 quoting).
    fn parse_csv(text: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (quoted, c) {
                (true, '"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                (true, '"') => quoted = false,
                (true, c) => field.push(c),
                (false, '"') => quoted = true,
                (false, ',') => row.push(std::mem::take(&mut field)),
                (false, '\n') => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                (false, c) => field.push(c),
            }
        }
        assert!(field.is_empty() && row.is_empty(), "CSV ends with a newline");
        rows
    }

    #[test]
    fn same_inputs_give_the_same_bytes_and_other_subjects_or_seeds_other_bytes() {
        for name in
            ["myactivity.search", "chrome.history", "maps.starred_places", "youtube.subscriptions", "play.library"]
        {
            let a = run(&emulator(40, 7), name, "alice", None, EXPORT);
            assert_eq!(a, run(&emulator(40, 7), name, "alice", None, EXPORT), "{name}");
            assert_ne!(a.records, run(&emulator(40, 7), name, "bob", None, EXPORT).records, "{name}");
            assert_ne!(a.records, run(&emulator(40, 8), name, "alice", None, EXPORT).records, "{name}");
        }
    }

    #[test]
    fn every_built_in_group_exports_a_valid_file_of_about_n_records_newest_first() {
        let emu = emulator(50, 0);
        for g in Catalogue::built_in().groups() {
            let name = g.name.as_str();
            let file = run(&emu, name, "alice", None, EXPORT);
            let n = file.records.len();
            assert!((49..=51).contains(&n), "{name}: {n} records");
            let expected_name = match name {
                "chrome.history" => "History.json".to_owned(),
                "maps.starred_places" => "Saved Places.json".to_owned(),
                "youtube.subscriptions" => "subscriptions.csv".to_owned(),
                _ if name.starts_with("myactivity.") => "MyActivity.json".to_owned(),
                _ => format!("{}.json", name.rsplit('.').next().expect("a segment")),
            };
            assert_eq!(file.name, expected_name);
            if name == "youtube.subscriptions" {
                continue;
            }
            let ts = times(name, &file);
            assert_eq!(ts.len(), n, "{name}");
            assert!(ts.windows(2).all(|w| w[0] > w[1]), "{name}: strictly newest first");
            assert!(ts.iter().all(|t| (EXPORT - HISTORY_MICROS..EXPORT).contains(t)), "{name}: within the window");
            if !name.starts_with("myactivity.") && name != "chrome.history" && name != "maps.starred_places" {
                let doc = file.json();
                let mut ids = HashSet::new();
                for r in doc.as_array().expect("array") {
                    let obj = r.as_object().expect("object");
                    assert!((4..=7).contains(&obj.len()), "{name}: id, time and 2-5 fields: {r}");
                    assert!(ids.insert(obj["id"].as_str().expect("id").to_owned()), "{name}: unique ids");
                }
            }
        }
    }

    #[test]
    fn my_activity_records_have_googles_fields() {
        let emu = emulator(300, 0);
        let expect = [
            ("myactivity.search", "Search", "Web & App Activity"),
            ("myactivity.youtube", "YouTube", "YouTube"),
            ("myactivity.maps", "Maps", "Web & App Activity"),
            ("myactivity.play", "Google Play Store", "Web & App Activity"),
            ("myactivity.shopping", "Shopping", "Web & App Activity"),
            ("myactivity.myadcenter", "My Ad Center", "Web & App Activity"),
        ];
        for (name, header, control) in expect {
            let doc = run(&emu, name, "alice", None, EXPORT).json();
            let (mut urls, mut subtitles) = (0, 0);
            for r in doc.as_array().expect("array") {
                assert_eq!(r["header"], header, "{r}");
                assert_eq!(r["products"], serde_json::json!([header]), "{r}");
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
                let allowed = ["header", "title", "titleUrl", "subtitles", "description", "time", "products"];
                let more = ["details", "activityControls"];
                assert!(
                    r.as_object()
                        .expect("object")
                        .keys()
                        .all(|k| allowed.contains(&k.as_str()) || more.contains(&k.as_str()))
                );
            }
            assert!(urls > 100, "{name}: most records link somewhere");
            assert_eq!(subtitles > 0, name == "myactivity.youtube", "{name}");
        }
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
    fn starred_places_are_a_geojson_feature_collection() {
        let doc = run(&emulator(100, 0), "maps.starred_places", "alice", None, EXPORT).json();
        assert_eq!(doc["type"], "FeatureCollection");
        for f in doc["features"].as_array().expect("features") {
            assert_eq!(f["type"], "Feature");
            assert_eq!(f["geometry"]["type"], "Point");
            let c = f["geometry"]["coordinates"].as_array().expect("coordinates");
            let (lng, lat) = (c[0].as_f64().expect("lng"), c[1].as_f64().expect("lat"));
            assert!((-180.0..=180.0).contains(&lng) && (-90.0..=90.0).contains(&lat), "{f}");
            let p = &f["properties"];
            assert!(p["google_maps_url"].as_str().expect("url").starts_with("http://maps.google.com/?cid="));
            for k in ["name", "address", "country_code"] {
                assert!(p["location"][k].is_string(), "{k}: {f}");
            }
        }
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
            let got = run(&emulator(n, 3), "myactivity.search", "alice", None, EXPORT).records.len() as u64;
            assert!(got.abs_diff(n) <= 1, "{n}: {got}");
        }
        let empty = run(&emulator(0, 3), "myactivity.search", "alice", None, EXPORT);
        assert!(empty.records.is_empty());
        assert_eq!(empty.json(), serde_json::json!([]));
    }

    #[test]
    fn per_group_override_changes_only_that_group() {
        let mut config = EmulatorConfig { records_per_group: 100, ..EmulatorConfig::default() };
        config.records_by_group.insert("myactivity.search".to_owned(), 10);
        let emu = Emulator::new(config);
        assert_eq!(emu.records_for("myactivity.search"), 10);
        assert!(run(&emu, "myactivity.search", "a", None, EXPORT).records.len().abs_diff(10) <= 1);
        assert!(run(&emu, "myactivity.maps", "a", None, EXPORT).records.len().abs_diff(100) <= 1);
    }

    #[test]
    fn start_time_is_inclusive_and_export_time_exclusive() {
        let emu = emulator(500, 0);
        for name in ["myactivity.youtube", "chrome.history", "maps.starred_places", "chrome.bookmarks"] {
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
        let last_year = run(&emu, "myactivity.search", "alice", Some(EXPORT - year), EXPORT);
        let n = last_year.records.len();
        assert!((190..=210).contains(&n), "one year of five: {n}");
        assert!(times("myactivity.search", &last_year).iter().all(|&t| t >= EXPORT - year));
    }

    #[test]
    fn incremental_exports_neither_miss_nor_repeat_records() {
        let emu = emulator(2000, 11);
        for name in ["myactivity.search", "chrome.history", "youtube.subscriptions"] {
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
        let file = run(&emu, "myactivity.search", "alice", Some(start), EXPORT);
        assert!(times("myactivity.search", &file).iter().all(|t| (start..EXPORT).contains(t)));
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
        let early = run(&emu, "myactivity.search", "a", None, MIN_MICROS + 86_400_000_000 * 400);
        assert!(times("myactivity.search", &early).iter().all(|&t| t >= MIN_MICROS));
        let late = run(&emu, "myactivity.search", "a", None, i64::MAX);
        assert!(late.records.len().abs_diff(100) <= 1);
        times("myactivity.search", &late);
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
