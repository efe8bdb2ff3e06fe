//! The archive writer (SPEC §8): streams a job's files into ZIP parts with bounded memory, then
//! writes the small index ZIP (`Portability/archive_browser.json`, [`browser`], and
//! `Portability/manifest.json`). Nothing lies at the root of any ZIP: a client that extracts
//! every URL into one directory gets one `Portability/` tree.
//!
//! Every part is written as a stream (`ZipWriter::new_stream`, ZIP64 on every entry, data
//! descriptors instead of seeking back), through a writer that counts and SHA-256-hashes the bytes
//! as they pass, into a staged blob that is published only once the part is complete. Deflating
//! runs on a thread of its own, fed in batches through a short queue, so that producing records
//! (the source and the per-file SHA-256, on the caller's thread) and compressing them use two
//! cores. Memory use is the deflate state plus the queue and fixed buffers, whatever the archive
//! size.
//!
//! Parts roll over between files once they reach the part size. A single file larger than the
//! part size is split at a record boundary into numbered chunks (`MyActivity.json`,
//! `MyActivity(1).json`, …), each a complete document of whole records, so every part can be used
//! on its own.

mod browser;

use std::collections::HashSet;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use serde::Serialize;
use sha2::{Digest, Sha256};
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, DateTime, ZipWriter};

use dataport_types::Timestamp;

use crate::blob::{BlobError, BlobStore, StagedBlob};
use crate::catalogue::ResourceGroup;
use crate::model::{Part, Progress};
use crate::sources::{FileLayout, FileSink, SinkError};

/// How archives are cut and compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchiveSettings {
    /// Compressed bytes after which a part is closed at the next file boundary.
    pub part_size: u64,
    /// Deflate level, 0 (store) to 9.
    pub compression_level: u8,
}

impl Default for ArchiveSettings {
    fn default() -> Self {
        Self { part_size: 2 << 30, compression_level: 2 }
    }
}

/// One file of the archive as `manifest.json` lists it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ManifestFile {
    /// Path inside its part.
    pub path: String,
    /// 0-based index into the job's `urls`.
    pub part: u32,
    /// Uncompressed size in bytes.
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<u64>,
    /// Lowercase hex SHA-256 of the uncompressed file.
    pub sha256: String,
}

/// `manifest.json`, exactly the shape SPEC §8 fixes.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub version: u32,
    pub job_id: String,
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    pub export_time: Timestamp,
    pub files: Vec<ManifestFile>,
}

/// What the writer has done so far, counted as it goes and read from another thread (the
/// worker's heartbeat reports it).
#[derive(Debug, Default)]
pub struct ProgressCounters {
    groups_done: AtomicU32,
    records: AtomicU64,
    bytes: AtomicU64,
    parts_written: AtomicU32,
}

impl ProgressCounters {
    pub fn snapshot(&self) -> Progress {
        Progress {
            groups_done: self.groups_done.load(Ordering::Relaxed),
            records: self.records.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            parts_written: self.parts_written.load(Ordering::Relaxed),
        }
    }
}

/// A writer that counts and hashes what passes through it.
struct Tee {
    blob: Box<dyn StagedBlob>,
    hasher: Sha256,
    written: Arc<AtomicU64>,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.blob.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.blob.flush()
    }
}

/// Content is handed to the compression thread in batches of this size.
const BATCH: usize = 256 * 1024;
/// Batches queued for the compression thread at most (bounds memory, and cancel latency).
const QUEUE: usize = 4;

/// What the compression thread is asked to do, in order.
enum Step {
    /// Start the part with this blob key.
    Open(String),
    /// Start an entry of the open part.
    Entry(String, SimpleFileOptions),
    /// Content of the open entry.
    Data(Vec<u8>),
    /// Finish the open part, publish its blob, and report its size and SHA-256.
    Close(mpsc::Sender<(u64, String)>),
}

/// The zip side of the writer, on its own thread.
struct Compressor {
    steps: Option<mpsc::SyncSender<Step>>,
    thread: Option<std::thread::JoinHandle<Result<(), SinkError>>>,
    /// Compressed bytes of the open part so far, as the thread writes them.
    written: Arc<AtomicU64>,
    /// Content bytes of the open part the thread has compressed.
    consumed: Arc<AtomicU64>,
    /// Content bytes of the open part handed to [`Compressor::write`], pending included.
    sent: u64,
    /// Content not sent yet.
    pending: Vec<u8>,
}

impl Compressor {
    fn start(blobs: Arc<dyn BlobStore>) -> Self {
        let (steps, queue) = mpsc::sync_channel(QUEUE);
        let written = Arc::new(AtomicU64::new(0));
        let consumed = Arc::new(AtomicU64::new(0));
        let counters = (written.clone(), consumed.clone());
        let thread = std::thread::Builder::new()
            .name("archive-deflate".into())
            .spawn(move || compress(blobs.as_ref(), queue, &counters.0, &counters.1))
            .ok();
        Self { steps: Some(steps), thread, written, consumed, sent: 0, pending: Vec::with_capacity(BATCH) }
    }

    /// Restarts the counters for a new part. The thread is idle on them: the previous part's
    /// close was answered.
    fn reset_counters(&mut self) {
        self.written.store(0, Ordering::Relaxed);
        self.consumed.store(0, Ordering::Relaxed);
        self.sent = 0;
    }

    /// The open part's size once everything sent is compressed: what is written, plus the
    /// backlog at the compression ratio seen so far (1 before there is one, so small part sizes
    /// still split).
    fn estimated_part_bytes(&self) -> u64 {
        let written = self.written.load(Ordering::Relaxed);
        let consumed = self.consumed.load(Ordering::Relaxed);
        let backlog = self.sent.saturating_sub(consumed);
        let ratio = if consumed > 0 { written as f64 / consumed as f64 } else { 1.0 };
        written + (backlog as f64 * ratio) as u64
    }

    /// Queues `step` after any pending content.
    fn send(&mut self, step: Step) -> Result<(), SinkError> {
        if !self.pending.is_empty() {
            let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH));
            self.push(Step::Data(batch))?;
        }
        self.push(step)
    }

    fn push(&mut self, step: Step) -> Result<(), SinkError> {
        match self.steps.as_ref().map(|steps| steps.send(step)) {
            Some(Ok(())) => Ok(()),
            _ => Err(self.failure()),
        }
    }

    /// Appends entry content, sending it once a batch is full.
    fn write(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        self.sent += bytes.len() as u64;
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= BATCH {
            let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH));
            self.push(Step::Data(batch))?;
        }
        Ok(())
    }

    /// Finishes the open part; returns its size and SHA-256.
    fn close(&mut self) -> Result<(u64, String), SinkError> {
        let (reply, answer) = mpsc::channel();
        self.send(Step::Close(reply))?;
        answer.recv().map_err(|_| self.failure())
    }

    /// Why the compression thread stopped.
    fn failure(&mut self) -> SinkError {
        self.steps = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            Some(Err(_)) => SinkError::Io(io::Error::other("the archive compression thread panicked")),
            _ => SinkError::Io(io::Error::other("the archive compression thread stopped")),
        }
    }
}

impl Drop for Compressor {
    /// Stops the thread and waits for it, so that a discarded part's staged blob is gone when the
    /// writer is.
    fn drop(&mut self) {
        self.steps = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The compression thread: executes the steps until the writer hangs up. A part left open then
/// is dropped, which discards its staged blob.
fn compress(
    blobs: &dyn BlobStore,
    steps: mpsc::Receiver<Step>,
    written: &Arc<AtomicU64>,
    consumed: &AtomicU64,
) -> Result<(), SinkError> {
    let mut zip: Option<ZipWriter<StreamWriter<Tee>>> = None;
    for step in steps {
        match step {
            Step::Open(key) => {
                let tee = Tee { blob: blobs.create(&key)?, hasher: Sha256::new(), written: written.clone() };
                zip = Some(ZipWriter::new_stream(tee));
            }
            Step::Entry(path, options) => zip.as_mut().ok_or(SinkError::NoOpenFile)?.start_file(path, options)?,
            Step::Data(bytes) => {
                zip.as_mut().ok_or(SinkError::NoOpenFile)?.write_all(&bytes)?;
                consumed.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
            Step::Close(reply) => {
                let mut tee = zip.take().ok_or(SinkError::NoOpenFile)?.finish()?.into_inner();
                tee.flush()?;
                let sha256 = hex::encode(std::mem::take(&mut tee.hasher).finalize());
                let size = written.load(Ordering::Relaxed);
                tee.blob.commit()?;
                let _ = reply.send((size, sha256));
            }
        }
    }
    Ok(())
}

/// The part being written: its index and blob key.
struct OpenPart {
    index: u32,
    key: String,
}

struct OpenFile {
    /// Path of the first chunk inside the group folder.
    name: String,
    layout: FileLayout,
    chunk: u32,
    path: String,
    hasher: Sha256,
    size: u64,
    records: u64,
    /// Part bytes when this chunk started, to tell how much the file itself occupies.
    part_bytes_at_start: u64,
}

/// Writes one job's archive. Call [`ArchiveWriter::begin_group`] before each group's files and
/// [`ArchiveWriter::finish`] at the end; dropping the writer instead discards the open part.
pub struct ArchiveWriter {
    compressor: Compressor,
    key_prefix: String,
    settings: ArchiveSettings,
    modified: DateTime,
    parts: Vec<Part>,
    open_part: Option<OpenPart>,
    open_file: Option<OpenFile>,
    files: Vec<ManifestFile>,
    /// Groups begun so far.
    groups: u32,
    folder: String,
    /// Every path written so far: a second file of the same path is named `stem(1).ext`.
    paths: HashSet<String>,
    /// Inside a bundle ([`FileSink::begin_bundle`]): `Some(true)` until its first file starts,
    /// which alone may roll the part over.
    bundle: Option<bool>,
    progress: Arc<ProgressCounters>,
}

fn zip_time(at: Timestamp) -> DateTime {
    time::OffsetDateTime::from_unix_timestamp(at.unix_seconds())
        .ok()
        .and_then(|t| {
            let year = u16::try_from(t.year()).ok()?;
            DateTime::from_date_and_time(year, u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second()).ok()
        })
        .unwrap_or_default()
}

impl From<zip::result::ZipError> for SinkError {
    fn from(e: zip::result::ZipError) -> Self {
        SinkError::Archive(e.to_string())
    }
}

impl From<BlobError> for SinkError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::Io(e) => SinkError::Io(e),
            other => SinkError::Io(io::Error::other(other.to_string())),
        }
    }
}

impl ArchiveWriter {
    /// A writer whose parts are the blobs `<key_prefix>/part-NNN.zip`, entries dated `export_time`.
    pub fn new(
        blobs: &Arc<dyn BlobStore>,
        key_prefix: &str,
        settings: ArchiveSettings,
        export_time: Timestamp,
    ) -> Self {
        Self {
            compressor: Compressor::start(blobs.clone()),
            key_prefix: key_prefix.to_owned(),
            settings,
            modified: zip_time(export_time),
            parts: Vec::new(),
            open_part: None,
            open_file: None,
            files: Vec::new(),
            groups: 0,
            folder: String::new(),
            paths: HashSet::new(),
            bundle: None,
            progress: Arc::default(),
        }
    }

    /// Counts into `progress` (shared with whoever reports it).
    pub fn reporting_to(mut self, progress: Arc<ProgressCounters>) -> Self {
        self.progress = progress;
        self
    }

    /// Starts the files of `group`; they go below `Portability/<folder>/`.
    pub fn begin_group(&mut self, group: &ResourceGroup) -> Result<(), SinkError> {
        if self.open_file.is_some() {
            self.end_file()?;
        }
        if self.groups > 0 {
            self.progress.groups_done.fetch_add(1, Ordering::Relaxed);
        }
        self.groups += 1;
        self.folder = format!("Portability/{}", group.folder);
        Ok(())
    }

    fn options(&self, compress: bool) -> SimpleFileOptions {
        let options = SimpleFileOptions::default().large_file(true).last_modified_time(self.modified);
        if compress && self.settings.compression_level > 0 {
            options
                .compression_method(CompressionMethod::Deflated)
                .compression_level(Some(i64::from(self.settings.compression_level)))
        } else {
            options.compression_method(CompressionMethod::Stored)
        }
    }

    fn part_bytes(&self) -> u64 {
        if self.open_part.is_some() { self.compressor.estimated_part_bytes() } else { 0 }
    }

    fn open_part(&mut self) -> Result<(), SinkError> {
        if self.open_part.is_none() {
            let index = u32::try_from(self.parts.len()).map_err(|_| SinkError::InvalidName("too many parts".into()))?;
            let key = format!("{}/part-{index:03}.zip", self.key_prefix);
            self.compressor.reset_counters();
            self.compressor.send(Step::Open(key.clone()))?;
            self.open_part = Some(OpenPart { index, key });
        }
        Ok(())
    }

    fn close_part(&mut self) -> Result<(), SinkError> {
        let Some(part) = self.open_part.take() else { return Ok(()) };
        let (size, sha256) = self.compressor.close()?;
        self.parts.push(Part { index: part.index, blob_key: part.key, size, sha256 });
        self.progress.parts_written.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn start_chunk(&mut self) -> Result<(), SinkError> {
        let options = self.options(self.open_file.as_ref().is_none_or(|f| f.layout.compress));
        let part_bytes = self.part_bytes();
        let file = self.open_file.as_mut().ok_or(SinkError::NoOpenFile)?;
        // Two groups may name the same file (an operator's catalogue, YouTube's shared CSVs):
        // the later one is numbered the way Google numbers duplicates and chunks, `stem(n).ext`.
        file.path = format!("{}/{}", self.folder, chunk_name(&file.name, file.chunk));
        while !self.paths.insert(file.path.clone()) {
            file.chunk += 1;
            file.path = format!("{}/{}", self.folder, chunk_name(&file.name, file.chunk));
        }
        file.hasher = Sha256::new();
        file.size = 0;
        file.records = 0;
        file.part_bytes_at_start = part_bytes;
        let (path, prefix) = (file.path.clone(), file.layout.prefix.clone());
        self.open_part()?;
        self.compressor.send(Step::Entry(path, options))?;
        self.write_file_bytes(prefix.as_bytes())
    }

    fn write_file_bytes(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        let file = self.open_file.as_mut().ok_or(SinkError::NoOpenFile)?;
        write_to(file, &mut self.compressor, bytes)
    }

    fn end_chunk(&mut self) -> Result<(), SinkError> {
        let suffix = self.open_file.as_ref().ok_or(SinkError::NoOpenFile)?.layout.suffix.clone();
        self.write_file_bytes(suffix.as_bytes())?;
        let part = self.open_part.as_ref().ok_or(SinkError::NoOpenFile)?.index;
        let file = self.open_file.as_mut().ok_or(SinkError::NoOpenFile)?;
        let sha256 = hex::encode(std::mem::take(&mut file.hasher).finalize());
        let records = (file.layout != FileLayout::media()).then_some(file.records);
        self.files.push(ManifestFile { path: file.path.clone(), part, size: file.size, records, sha256 });
        Ok(())
    }

    /// Closes the last data part and writes the index part. Returns all parts in `urls` order.
    pub fn finish(mut self, manifest: ManifestHeader) -> Result<Vec<Part>, SinkError> {
        if self.open_file.is_some() {
            self.end_file()?;
        }
        if self.groups > 0 {
            self.progress.groups_done.fetch_add(1, Ordering::Relaxed);
        }
        self.close_part()?;
        let browser = browser::archive_browser(self.files.iter().map(|f| (f.path.as_str(), f.size)), Timestamp::now());
        let manifest = Manifest {
            version: 1,
            job_id: manifest.job_id,
            resources: manifest.resources,
            start_time: manifest.start_time,
            export_time: manifest.export_time,
            files: std::mem::take(&mut self.files),
        };
        let options = self.options(true);
        self.open_part()?;
        for (path, json) in [
            ("Portability/archive_browser.json", serde_json::to_vec_pretty(&browser)),
            ("Portability/manifest.json", serde_json::to_vec_pretty(&manifest)),
        ] {
            self.compressor.send(Step::Entry(path.to_owned(), options))?;
            self.compressor.write(&json.map_err(io::Error::from)?)?;
        }
        self.close_part()?;
        Ok(std::mem::take(&mut self.parts))
    }
}

/// The job facts `Portability/manifest.json` repeats.
#[derive(Clone, Debug)]
pub struct ManifestHeader {
    pub job_id: String,
    pub resources: Vec<String>,
    pub start_time: Option<Timestamp>,
    pub export_time: Timestamp,
}

/// Appends file content, keeping the file's hash and size in step with what the part holds.
fn write_to(file: &mut OpenFile, compressor: &mut Compressor, bytes: &[u8]) -> Result<(), SinkError> {
    if !bytes.is_empty() {
        file.hasher.update(bytes);
        file.size += bytes.len() as u64;
        compressor.write(bytes)?;
    }
    Ok(())
}

/// `name` for chunk 0, `stem(n).ext` for chunk n.
fn chunk_name(name: &str, chunk: u32) -> String {
    if chunk == 0 {
        return name.to_owned();
    }
    let (dir, base) = name.rsplit_once('/').map_or(("", name), |(d, b)| (d, b));
    let numbered = match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}({chunk}).{ext}"),
        _ => format!("{base}({chunk})"),
    };
    if dir.is_empty() { numbered } else { format!("{dir}/{numbered}") }
}

impl FileSink for ArchiveWriter {
    fn begin_file(&mut self, name: &str, layout: FileLayout) -> Result<(), SinkError> {
        let plain = !name.is_empty() && name.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
        if !plain || name.contains('\\') {
            return Err(SinkError::InvalidName(name.to_owned()));
        }
        if self.open_file.is_some() {
            self.end_file()?;
        }
        // A bundle's files stay in the part its first file starts in.
        let may_roll_over = self.bundle.is_none_or(|first| first);
        if self.bundle.is_some() {
            self.bundle = Some(false);
        }
        if may_roll_over && self.part_bytes() >= self.settings.part_size {
            self.close_part()?;
        }
        self.open_file = Some(OpenFile {
            name: name.to_owned(),
            layout,
            chunk: 0,
            path: String::new(),
            hasher: Sha256::new(),
            size: 0,
            records: 0,
            part_bytes_at_start: 0,
        });
        self.start_chunk()
    }

    fn record(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        let part_bytes = self.part_bytes();
        let file = self.open_file.as_ref().ok_or(SinkError::NoOpenFile)?;
        let own_bytes = part_bytes.saturating_sub(file.part_bytes_at_start);
        if file.records > 0 && part_bytes >= self.settings.part_size && own_bytes >= self.settings.part_size {
            self.end_chunk()?;
            self.close_part()?;
            if let Some(file) = self.open_file.as_mut() {
                file.chunk += 1;
            }
            self.start_chunk()?;
        }
        if self.open_part.is_none() {
            return Err(SinkError::NoOpenFile);
        }
        let file = self.open_file.as_mut().ok_or(SinkError::NoOpenFile)?;
        if file.records > 0 {
            let separator = std::mem::take(&mut file.layout.separator);
            let written = write_to(file, &mut self.compressor, separator.as_bytes());
            file.layout.separator = separator;
            written?;
        }
        file.records += 1;
        self.progress.records.fetch_add(1, Ordering::Relaxed);
        self.progress.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        write_to(file, &mut self.compressor, bytes)
    }

    /// Media bytes go on as they come: a media file is never split into chunks.
    fn write(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        let file = self.open_file.as_mut().ok_or(SinkError::NoOpenFile)?;
        self.progress.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        write_to(file, &mut self.compressor, bytes)
    }

    fn end_file(&mut self) -> Result<(), SinkError> {
        self.end_chunk()?;
        self.open_file = None;
        Ok(())
    }

    fn begin_bundle(&mut self) -> Result<(), SinkError> {
        if self.open_file.is_some() {
            self.end_file()?;
        }
        self.bundle = Some(true);
        Ok(())
    }

    fn end_bundle(&mut self) -> Result<(), SinkError> {
        self.bundle = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::catalogue::Catalogue;

    /// Writes `files` (group, file name, record count) and checks every part against the
    /// manifest with an independent reader of the parts.
    fn roundtrip(part_size: u64, level: u8, files: &[(&str, &str, usize)]) -> (Vec<Part>, serde_json::Value) {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs: Arc<dyn BlobStore> = Arc::new(crate::blob::LocalBlobStore::open(dir.path()).expect("blobs"));
        let catalogue = Catalogue::built_in();
        let settings = ArchiveSettings { part_size, compression_level: level };
        let mut writer =
            ArchiveWriter::new(&blobs, "jobs/j/1", settings, Timestamp::from_micros(1_700_000_000_000_000));
        for (group, name, records) in files {
            writer.begin_group(catalogue.get(group).expect("group")).expect("group");
            writer.begin_file(name, FileLayout::json_array()).expect("file");
            for i in 0..*records {
                let record = format!(r#"{{"id":{i},"text":"record {i} of {name}, with some padding to compress"}}"#);
                writer.record(record.as_bytes()).expect("record");
            }
            writer.end_file().expect("end");
        }
        let header = ManifestHeader {
            job_id: "j".into(),
            resources: files.iter().map(|f| f.0.to_owned()).collect(),
            start_time: None,
            export_time: Timestamp::from_micros(1_700_000_000_000_000),
        };
        let parts = writer.finish(header).expect("finish");
        let open = |part: &Part| {
            let bytes = std::fs::read(dir.path().join(&part.blob_key)).expect("part on disk");
            assert_eq!(bytes.len() as u64, part.size);
            assert_eq!(hex::encode(Sha256::digest(&bytes)), part.sha256);
            zip::ZipArchive::new(io::Cursor::new(bytes)).expect("a valid zip")
        };
        let mut index = open(parts.last().expect("index part"));
        let mut text = String::new();
        index.by_name("Portability/manifest.json").expect("manifest").read_to_string(&mut text).expect("read");
        let manifest: serde_json::Value = serde_json::from_str(&text).expect("json");
        for file in manifest["files"].as_array().expect("files") {
            let part = &parts[file["part"].as_u64().expect("part") as usize];
            let mut content = Vec::new();
            open(part)
                .by_name(file["path"].as_str().expect("path"))
                .expect("entry")
                .read_to_end(&mut content)
                .expect("read");
            assert_eq!(content.len() as u64, file["size"].as_u64().expect("size"));
            assert_eq!(hex::encode(Sha256::digest(&content)), file["sha256"].as_str().expect("sha"));
            let records: Vec<serde_json::Value> = serde_json::from_slice(&content).expect("each chunk is whole JSON");
            assert_eq!(records.len() as u64, file["records"].as_u64().expect("records"));
        }
        assert!(
            !dir.path()
                .join("jobs/j/1")
                .read_dir()
                .expect("dir")
                .flatten()
                .any(|e| { e.file_name().to_string_lossy().ends_with(".partial") })
        );
        (parts, manifest)
    }

    fn records_of(manifest: &serde_json::Value, prefix: &str) -> u64 {
        manifest["files"]
            .as_array()
            .expect("files")
            .iter()
            .filter(|f| f["path"].as_str().is_some_and(|p| p.starts_with(prefix)))
            .map(|f| f["records"].as_u64().expect("records"))
            .sum()
    }

    #[test]
    fn parts_split_at_any_size_and_every_file_stays_whole() {
        let files = [("chrome.bookmarks", "bookmarks.json", 3000), ("myactivity.search", "MyActivity.json", 20_000)];
        for (part_size, level) in [(100, 1), (3000, 2), (64 * 1024, 6), (1 << 30, 0)] {
            let (parts, manifest) = roundtrip(part_size, level, &files);
            assert_eq!(records_of(&manifest, "Portability/Chrome/bookmarks"), 3000, "{part_size}");
            assert_eq!(records_of(&manifest, "Portability/My Activity/"), 20_000, "{part_size}");
            if part_size < 100_000 {
                assert!(parts.len() > 3, "part size {part_size} gave {} parts", parts.len());
            } else {
                assert_eq!(parts.len(), 2, "one data part and the index");
            }
        }
    }

    #[test]
    fn a_path_written_twice_is_numbered_like_a_chunk() {
        let files =
            [("chrome.bookmarks", "b.json", 3), ("chrome.bookmarks", "b.json", 4), ("chrome.bookmarks", "b.json", 5)];
        for part_size in [100, 1 << 20] {
            let (_, manifest) = roundtrip(part_size, 1, &files);
            let paths: Vec<&str> = manifest["files"]
                .as_array()
                .expect("files")
                .iter()
                .map(|f| f["path"].as_str().expect("path"))
                .collect();
            let unique: HashSet<&&str> = paths.iter().collect();
            assert_eq!(unique.len(), paths.len(), "{paths:?}");
            assert_eq!(records_of(&manifest, "Portability/Chrome/b"), 12, "{paths:?}");
            if part_size > 100 {
                assert_eq!(
                    paths,
                    ["Portability/Chrome/b.json", "Portability/Chrome/b(1).json", "Portability/Chrome/b(2).json"]
                );
            }
        }
    }

    #[test]
    fn empty_files_and_groups_are_valid() {
        let (parts, manifest) = roundtrip(1 << 20, 2, &[("chrome.history", "History.json", 0)]);
        assert_eq!(parts.len(), 2);
        assert_eq!(manifest["files"][0]["records"], 0);
        assert_eq!(manifest["files"][0]["size"], 2, "[]");
    }

    #[test]
    fn dropping_a_writer_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs: Arc<dyn BlobStore> = Arc::new(crate::blob::LocalBlobStore::open(dir.path()).expect("blobs"));
        let group = Catalogue::built_in().get("chrome.history").expect("group").clone();
        let mut writer = ArchiveWriter::new(&blobs, "jobs/j/1", ArchiveSettings::default(), Timestamp::now());
        writer.begin_group(&group).expect("group");
        writer.begin_file("History.json", FileLayout::json_array()).expect("file");
        for _ in 0..10_000 {
            writer.record(b"{\"a\":1}").expect("record");
        }
        drop(writer);
        let left: Vec<_> = walk(dir.path());
        assert!(left.is_empty(), "{left:?}");
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).expect("dir").flatten() {
            if entry.path().is_dir() {
                out.extend(walk(&entry.path()));
            } else {
                out.push(entry.path());
            }
        }
        out
    }
}
