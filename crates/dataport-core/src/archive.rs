//! The archive writer (SPEC §8): streams a job's files into ZIP parts with bounded memory, then
//! writes the small index ZIP (`Portability/archive_browser.json` and `manifest.json`).
//!
//! Every part is written as a stream (`ZipWriter::new_stream`, ZIP64 on every entry, data
//! descriptors instead of seeking back), through a writer that counts and SHA-256-hashes the bytes
//! as they pass, into a staged blob that is published only once the part is complete. Memory use
//! is the deflate state plus fixed buffers, whatever the archive size.
//!
//! Parts roll over between files once they reach the part size. A single file larger than the
//! part size is split at a record boundary into numbered chunks (`MyActivity.json`,
//! `MyActivity(1).json`, …), each a complete document of whole records, so every part can be used
//! on its own.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use sha2::{Digest, Sha256};
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, DateTime, ZipWriter};

use dataport_types::Timestamp;

use crate::blob::{BlobError, LocalBlobStore, StagedBlob};
use crate::catalogue::ResourceGroup;
use crate::sources::{FileLayout, FileSink, SinkError};
use crate::store::Part;

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

/// A writer that counts and hashes what passes through it.
struct Tee {
    blob: StagedBlob,
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

struct OpenPart {
    zip: ZipWriter<StreamWriter<Tee>>,
    written: Arc<AtomicU64>,
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

#[derive(Serialize)]
struct BrowserFile {
    name: String,
    extension: String,
    records: u64,
    size: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BrowserGroup {
    name: String,
    title: String,
    folder: String,
    file_count: usize,
    total_size: u64,
    files: Vec<BrowserFile>,
}

/// Writes one job's archive. Call [`ArchiveWriter::begin_group`] before each group's files and
/// [`ArchiveWriter::finish`] at the end; dropping the writer instead discards the open part.
pub struct ArchiveWriter<'a> {
    blobs: &'a LocalBlobStore,
    key_prefix: String,
    settings: ArchiveSettings,
    modified: DateTime,
    parts: Vec<Part>,
    open_part: Option<OpenPart>,
    open_file: Option<OpenFile>,
    files: Vec<ManifestFile>,
    groups: Vec<BrowserGroup>,
    folder: String,
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

impl From<BlobError> for SinkError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::Io(e) => SinkError::Io(e),
            other => SinkError::Io(io::Error::other(other.to_string())),
        }
    }
}

impl<'a> ArchiveWriter<'a> {
    /// A writer whose parts are the blobs `<key_prefix>/part-NNN.zip`, entries dated `export_time`.
    pub fn new(blobs: &'a LocalBlobStore, key_prefix: &str, settings: ArchiveSettings, export_time: Timestamp) -> Self {
        Self {
            blobs,
            key_prefix: key_prefix.to_owned(),
            settings,
            modified: zip_time(export_time),
            parts: Vec::new(),
            open_part: None,
            open_file: None,
            files: Vec::new(),
            groups: Vec::new(),
            folder: String::new(),
        }
    }

    /// Starts the files of `group`; they go below `Portability/<folder>/`.
    pub fn begin_group(&mut self, group: &ResourceGroup) -> Result<(), SinkError> {
        if self.open_file.is_some() {
            self.end_file()?;
        }
        self.folder = format!("Portability/{}", group.folder);
        self.groups.push(BrowserGroup {
            name: group.name.clone(),
            title: group.title.clone(),
            folder: group.folder.clone(),
            file_count: 0,
            total_size: 0,
            files: Vec::new(),
        });
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
        self.open_part.as_ref().map_or(0, |p| p.written.load(Ordering::Relaxed))
    }

    fn open_part(&mut self) -> Result<&mut OpenPart, SinkError> {
        if self.open_part.is_none() {
            let index = u32::try_from(self.parts.len()).map_err(|_| SinkError::InvalidName("too many parts".into()))?;
            let key = format!("{}/part-{index:03}.zip", self.key_prefix);
            let written = Arc::new(AtomicU64::new(0));
            let tee = Tee { blob: self.blobs.create(&key)?, hasher: Sha256::new(), written: written.clone() };
            self.open_part = Some(OpenPart { zip: ZipWriter::new_stream(tee), written, index, key });
        }
        self.open_part.as_mut().ok_or(SinkError::NoOpenFile)
    }

    fn close_part(&mut self) -> Result<(), SinkError> {
        let Some(part) = self.open_part.take() else { return Ok(()) };
        let mut tee = part.zip.finish()?.into_inner();
        tee.flush()?;
        let size = part.written.load(Ordering::Relaxed);
        let sha256 = hex::encode(tee.hasher.finalize());
        tee.blob.commit()?;
        self.parts.push(Part { index: part.index, blob_key: part.key, size, sha256 });
        Ok(())
    }

    fn start_chunk(&mut self) -> Result<(), SinkError> {
        let options = self.options(self.open_file.as_ref().is_none_or(|f| f.layout.compress));
        let part_bytes = self.part_bytes();
        let file = self.open_file.as_mut().ok_or(SinkError::NoOpenFile)?;
        file.path = format!("{}/{}", self.folder, chunk_name(&file.name, file.chunk));
        file.hasher = Sha256::new();
        file.size = 0;
        file.records = 0;
        file.part_bytes_at_start = part_bytes;
        let (path, prefix) = (file.path.clone(), file.layout.prefix.clone());
        let part = self.open_part()?;
        part.zip.start_file(path, options)?;
        self.write_file_bytes(prefix.as_bytes())
    }

    fn write_file_bytes(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        let (Some(file), Some(part)) = (self.open_file.as_mut(), self.open_part.as_mut()) else {
            return Err(SinkError::NoOpenFile);
        };
        write_to(file, part, bytes)
    }

    fn end_chunk(&mut self) -> Result<(), SinkError> {
        let suffix = self.open_file.as_ref().ok_or(SinkError::NoOpenFile)?.layout.suffix.clone();
        self.write_file_bytes(suffix.as_bytes())?;
        let part = self.open_part.as_ref().ok_or(SinkError::NoOpenFile)?.index;
        let file = self.open_file.as_mut().ok_or(SinkError::NoOpenFile)?;
        let sha256 = hex::encode(std::mem::take(&mut file.hasher).finalize());
        let name = file.path.rsplit('/').next().unwrap_or_default().to_owned();
        let entry =
            ManifestFile { path: file.path.clone(), part, size: file.size, records: Some(file.records), sha256 };
        if let Some(group) = self.groups.last_mut() {
            group.file_count += 1;
            group.total_size += entry.size;
            group.files.push(BrowserFile {
                extension: name.rsplit_once('.').map(|(_, ext)| ext.to_owned()).unwrap_or_default(),
                name,
                records: file.records,
                size: entry.size,
            });
        }
        self.files.push(entry);
        Ok(())
    }

    /// Closes the last data part and writes the index part. Returns all parts in `urls` order.
    pub fn finish(mut self, manifest: ManifestHeader) -> Result<Vec<Part>, SinkError> {
        if self.open_file.is_some() {
            self.end_file()?;
        }
        self.close_part()?;
        let manifest = Manifest {
            version: 1,
            job_id: manifest.job_id,
            resources: manifest.resources,
            start_time: manifest.start_time,
            export_time: manifest.export_time,
            files: std::mem::take(&mut self.files),
        };
        let browser = serde_json::json!({ "version": 1, "groups": &self.groups });
        let options = self.options(true);
        let part = self.open_part()?;
        part.zip.start_file("Portability/archive_browser.json", options)?;
        serde_json::to_writer_pretty(&mut part.zip, &browser).map_err(io::Error::from)?;
        part.zip.start_file("manifest.json", options)?;
        serde_json::to_writer_pretty(&mut part.zip, &manifest).map_err(io::Error::from)?;
        self.close_part()?;
        Ok(std::mem::take(&mut self.parts))
    }
}

/// The job facts `manifest.json` repeats.
#[derive(Clone, Debug)]
pub struct ManifestHeader {
    pub job_id: String,
    pub resources: Vec<String>,
    pub start_time: Option<Timestamp>,
    pub export_time: Timestamp,
}

/// Appends file content, keeping the file's hash and size in step with what the part holds.
fn write_to(file: &mut OpenFile, part: &mut OpenPart, bytes: &[u8]) -> Result<(), SinkError> {
    if !bytes.is_empty() {
        file.hasher.update(bytes);
        file.size += bytes.len() as u64;
        part.zip.write_all(bytes)?;
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

impl FileSink for ArchiveWriter<'_> {
    fn begin_file(&mut self, name: &str, layout: FileLayout) -> Result<(), SinkError> {
        let plain = !name.is_empty() && name.split('/').all(|s| !s.is_empty() && s != "." && s != "..");
        if !plain || name.contains('\\') {
            return Err(SinkError::InvalidName(name.to_owned()));
        }
        if self.open_file.is_some() {
            self.end_file()?;
        }
        if self.part_bytes() >= self.settings.part_size {
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
        let own_bytes = part_bytes - file.part_bytes_at_start;
        if file.records > 0 && part_bytes >= self.settings.part_size && own_bytes >= self.settings.part_size {
            self.end_chunk()?;
            self.close_part()?;
            if let Some(file) = self.open_file.as_mut() {
                file.chunk += 1;
            }
            self.start_chunk()?;
        }
        let (Some(file), Some(part)) = (self.open_file.as_mut(), self.open_part.as_mut()) else {
            return Err(SinkError::NoOpenFile);
        };
        if file.records > 0 {
            let separator = std::mem::take(&mut file.layout.separator);
            let written = write_to(file, part, separator.as_bytes());
            file.layout.separator = separator;
            written?;
        }
        file.records += 1;
        write_to(file, part, bytes)
    }

    fn end_file(&mut self) -> Result<(), SinkError> {
        self.end_chunk()?;
        self.open_file = None;
        Ok(())
    }
}
