//! Test support: a sink that keeps files in memory, and running the emulator into it.

use std::sync::atomic::{AtomicBool, Ordering};

use dataport_types::Timestamp;
use serde_json::Value;

use super::*;
use crate::catalogue::Catalogue;
use crate::sources::SinkError;

/// One file as a source wrote it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct File {
    pub(super) name: String,
    pub(super) layout: FileLayout,
    pub(super) records: Vec<Vec<u8>>,
    pub(super) ended: bool,
}

impl File {
    /// The file's bytes as the archive would hold them.
    pub(super) fn document(&self) -> Vec<u8> {
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

    pub(super) fn json(&self) -> Value {
        serde_json::from_slice(&self.document()).expect("the document is JSON")
    }
}

/// Collects files in memory; optionally raises a cancellation flag after some records.
#[derive(Default)]
pub(super) struct MemSink<'a> {
    pub(super) files: Vec<File>,
    pub(super) cancel_after: Option<(usize, &'a AtomicBool)>,
    pub(super) total: usize,
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

    fn write(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        let file = self.files.last_mut().filter(|f| !f.ended).ok_or(SinkError::NoOpenFile)?;
        assert_eq!(file.layout, FileLayout::media(), "bytes go to media files only");
        file.records.push(bytes.to_vec());
        Ok(())
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
pub(super) const EXPORT: i64 = 1_795_770_000_123_456;

pub(super) fn group(name: &str) -> ResourceGroup {
    Catalogue::built_in().get(name).cloned().unwrap_or_else(|| panic!("{name} is in the catalogue"))
}

pub(super) fn emulator(records: u64, seed: u64) -> Emulator {
    Emulator::new(EmulatorConfig { records_per_group: records, seed, ..EmulatorConfig::default() })
}

/// The one file of a group that writes one.
pub(super) fn run(emu: &Emulator, name: &str, subject: &str, start: Option<i64>, export: i64) -> File {
    let mut files = run_all(emu, name, subject, start, export);
    assert_eq!(files.len(), 1, "{name}: one file");
    files.remove(0)
}

/// Every file the group writes, in order; each is checked to have been ended.
pub(super) fn run_all(emu: &Emulator, name: &str, subject: &str, start: Option<i64>, export: i64) -> Vec<File> {
    let cancelled = AtomicBool::new(false);
    let request = ExportRequest {
        subject,
        start_time: start.map(Timestamp::from_micros),
        export_time: Timestamp::from_micros(export),
        cancelled: &cancelled,
    };
    let mut sink = MemSink::default();
    emu.export(&group(name), &request, &mut sink).expect("export succeeds");
    assert!(sink.files.iter().all(|f| f.ended), "{name}: every file ended");
    sink.files
}

/// The time of each record in microseconds, whatever the shape.
pub(super) fn times(name: &str, file: &File) -> Vec<i64> {
    let parse = |s: &str| {
        // `…:05.123Z`, or `…:05Z` where My Activity leaves out zero milliseconds.
        assert!(s.len() == 24 && &s[19..20] == "." || s.len() == 20, "{s}");
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
pub(super) fn parse_csv(text: &str) -> Vec<Vec<String>> {
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
