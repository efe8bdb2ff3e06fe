//! `kind = "files"` (SPEC §5.1): a per-user directory tree (`root` with `{subject}`), copied into
//! the group's folder as media — stored, not recompressed, read in chunks so that a photo of any
//! size never sits whole in memory — with a JSON listing (`files.json`) of the files beside them.
//!
//! Paths are sanitised: the subject cannot name another directory (`/`, `..`), only regular files
//! and directories are walked, and a symbolic link is followed only to a regular file inside the
//! user's tree — never to a directory, so that no link (`l1 -> .`) can make the walk loop or
//! list a file twice. The walk is bounded — [`MAX_DEPTH`] levels of directories and
//! [`MAX_ENTRIES`] entries, beyond which the export fails rather than leave files out unsaid —
//! and stops as soon as the export is cancelled. Files are bundled by the part size: each
//! bundle's listing and the media it lists land in the same archive part (SPEC §8); a larger
//! library gets `files(1).json`, … per part.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use dataport_types::Timestamp;
use serde::Serialize;

use super::{DataSource, ExportRequest, Failure, FileLayout, FileSink, SourceError};
use crate::catalogue::{FilesSourceConfig, ResourceGroup, safe_relative_path};

/// Bytes read from a file at a time.
const CHUNK: usize = 128 * 1024;
/// Media bytes after which a bundle (a listing and its files) is closed.
const BUNDLE_BYTES: u64 = 1 << 30;
/// Levels of directories below the user's directory walked at most; a deeper tree fails the
/// export.
pub const MAX_DEPTH: usize = 64;
/// Entries (files, directories, links) of one user's tree looked at, at most; a larger tree
/// fails the export. The listing is held in memory, so this bounds what one export holds.
pub const MAX_ENTRIES: usize = 250_000;

/// A user's file tree.
pub struct FilesSource {
    root: String,
    bundle_bytes: u64,
    max_depth: usize,
    max_entries: usize,
}

/// One file as the listing shows it.
#[derive(Debug, Serialize)]
struct Listed {
    /// Path inside the group's folder.
    path: String,
    size: u64,
    /// Last modification, RFC 3339 UTC.
    modified: Option<String>,
}

impl FilesSource {
    pub fn new(config: &FilesSourceConfig) -> Self {
        Self { root: config.root.clone(), bundle_bytes: BUNDLE_BYTES, max_depth: MAX_DEPTH, max_entries: MAX_ENTRIES }
    }

    /// The same source with other caps on the walk (tests use small ones).
    pub fn with_limits(mut self, max_depth: usize, max_entries: usize) -> Self {
        self.max_depth = max_depth;
        self.max_entries = max_entries;
        self
    }

    /// The same source closing bundles after `bytes` of media (tests use small ones).
    pub fn with_bundle_bytes(mut self, bytes: u64) -> Self {
        self.bundle_bytes = bytes.max(1);
        self
    }

    /// The user's directory; `None` when the subject could name something else.
    fn user_root(&self, subject: &str) -> Option<PathBuf> {
        let safe = safe_relative_path(subject) && !subject.contains('/');
        safe.then(|| PathBuf::from(self.root.replace("{subject}", subject)))
    }
}

/// A file to export: its path in the group's folder, where to read it, and its metadata.
type Found = (String, PathBuf, fs::Metadata);

/// One walk of a user's tree: the regular files below `root`, as paths relative to it, sorted.
struct Walk<'a> {
    root: &'a Path,
    /// The canonical form of `root`: a link is followed only if its target lies below it.
    real_root: &'a Path,
    request: &'a ExportRequest<'a>,
    max_depth: usize,
    max_entries: usize,
    /// Entries looked at so far.
    entries: usize,
    found: Vec<Found>,
}

impl Walk<'_> {
    /// Walks `dir`, `depth` levels below the root. An entry's type is read without following
    /// links, and a link is followed only to a regular file: a directory is entered only through
    /// the tree itself, so each is entered at most once and the walk ends.
    fn dir(&mut self, dir: &Path, depth: usize) -> Result<(), SourceError> {
        let mut entries = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| io_error("listing", e))? {
            self.request.check()?;
            self.entries += 1;
            if self.entries > self.max_entries {
                return Err(SourceError::fault(
                    Failure::TooLarge,
                    format!("files source: the user's tree has more than {} entries", self.max_entries),
                ));
            }
            entries.push(entry.map_err(|e| io_error("listing", e))?);
        }
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            self.request.check()?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| io_error("listing", e))?;
            if kind.is_dir() {
                if depth >= self.max_depth {
                    return Err(SourceError::fault(
                        Failure::TooLarge,
                        format!("files source: the user's tree is more than {} directories deep", self.max_depth),
                    ));
                }
                self.dir(&path, depth + 1)?;
            } else if kind.is_file() {
                let metadata = entry.metadata().map_err(|e| io_error("listing", e))?;
                self.add(&path, path.clone(), metadata);
            } else if kind.is_symlink() {
                let Ok(real) = fs::canonicalize(&path) else { continue }; // a dangling link
                if !real.starts_with(self.real_root) {
                    tracing::warn!(path = %path.display(), "files source: skipping a link that leaves the user's tree");
                    continue;
                }
                let metadata = fs::metadata(&real).map_err(|e| io_error("listing", e))?;
                if metadata.is_file() {
                    self.add(&path, real, metadata);
                } else {
                    tracing::debug!(path = %path.display(), "files source: not following a link to a directory");
                }
            }
        }
        Ok(())
    }

    fn add(&mut self, path: &Path, read_from: PathBuf, metadata: fs::Metadata) {
        let Some(relative) = path.strip_prefix(self.root).ok().and_then(Path::to_str) else { return };
        if safe_relative_path(relative) {
            self.found.push((relative.to_owned(), read_from, metadata));
        }
    }
}

fn io_error(what: &str, e: std::io::Error) -> SourceError {
    SourceError::fault(Failure::Unavailable, format!("files source: {what}: {e}"))
}

impl DataSource for FilesSource {
    fn export(
        &self,
        _group: &ResourceGroup,
        request: &ExportRequest<'_>,
        sink: &mut dyn FileSink,
    ) -> Result<(), SourceError> {
        let Some(root) = self.user_root(request.subject) else {
            return Err(SourceError::Permanent(format!("subject {:?} cannot name a directory", request.subject)));
        };
        let files = match fs::canonicalize(&root) {
            Ok(real_root) => {
                let mut walk = Walk {
                    root: &root,
                    real_root: &real_root,
                    request,
                    max_depth: self.max_depth,
                    max_entries: self.max_entries,
                    entries: 0,
                    found: Vec::new(),
                };
                walk.dir(&root, 0)?;
                walk.found
            }
            // A user with no files has an empty listing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_error("opening the user's directory", e)),
        };
        let mut bundles: Vec<Vec<Found>> = Vec::new();
        let mut bytes = 0;
        for file in files {
            match bundles.last_mut() {
                Some(bundle) if bytes < self.bundle_bytes => bundle.push(file),
                _ => {
                    bytes = 0;
                    bundles.push(vec![file]);
                }
            }
            bytes += bundles.last().and_then(|b| b.last()).map_or(0, |f| f.2.len());
        }
        if bundles.is_empty() {
            bundles.push(Vec::new()); // an empty listing
        }
        let mut buffer = vec![0u8; CHUNK];
        for (n, bundle) in bundles.iter().enumerate() {
            sink.begin_bundle()?;
            let listing: Vec<Listed> = bundle
                .iter()
                .map(|(path, _, metadata)| Listed {
                    path: path.clone(),
                    size: metadata.len(),
                    modified: metadata.modified().ok().and_then(|m| {
                        let micros = m.duration_since(std::time::UNIX_EPOCH).ok()?.as_micros();
                        Some(Timestamp::from_micros(i64::try_from(micros).ok()?).to_string())
                    }),
                })
                .collect();
            let name = if n == 0 { "files.json".to_owned() } else { format!("files({n}).json") };
            sink.begin_file(&name, FileLayout::json_array())?;
            for entry in &listing {
                let json = serde_json::to_vec(entry).map_err(|e| SourceError::Permanent(e.to_string()))?;
                sink.record(&json)?;
            }
            sink.end_file()?;
            for (path, real, _) in bundle {
                request.check()?;
                let mut file = File::open(real).map_err(|e| io_error(path, e))?;
                sink.begin_file(path, FileLayout::media())?;
                loop {
                    let n = file.read(&mut buffer).map_err(|e| io_error(path, e))?;
                    if n == 0 {
                        break;
                    }
                    sink.write(&buffer[..n])?;
                    request.check()?;
                }
                sink.end_file()?;
            }
            sink.end_bundle()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::sources::MemorySink;

    fn request<'a>(subject: &'a str, cancelled: &'a AtomicBool) -> ExportRequest<'a> {
        ExportRequest { subject, start_time: None, export_time: Timestamp::now(), cancelled }
    }

    fn group() -> ResourceGroup {
        crate::catalogue::Catalogue::built_in().groups()[0].clone()
    }

    #[test]
    fn copies_a_users_tree_with_a_listing_and_never_leaves_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let alice = dir.path().join("alice");
        fs::create_dir_all(alice.join("2024/trip")).expect("mkdir");
        fs::write(alice.join("2024/trip/beach.jpg"), vec![7u8; 300_000]).expect("write");
        fs::write(alice.join("note.txt"), b"hello").expect("write");
        fs::create_dir_all(dir.path().join("bob")).expect("mkdir");
        fs::write(dir.path().join("bob/secret.jpg"), b"bob's").expect("write");
        std::os::unix::fs::symlink(dir.path().join("bob/secret.jpg"), alice.join("escape.jpg")).expect("link");
        std::os::unix::fs::symlink(alice.join("note.txt"), alice.join("inside.txt")).expect("link");
        let source = FilesSource::new(&FilesSourceConfig { root: format!("{}/{{subject}}", dir.path().display()) });
        let cancelled = AtomicBool::new(false);
        let mut sink = MemorySink::default();
        source.export(&group(), &request("alice", &cancelled), &mut sink).expect("export");
        let names: Vec<&str> = sink.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["files.json", "2024/trip/beach.jpg", "inside.txt", "note.txt"], "no escape.jpg");
        assert_eq!(sink.file("2024/trip/beach.jpg").expect("photo").bytes.len(), 300_000);
        assert_eq!(sink.file("2024/trip/beach.jpg").expect("photo").layout, FileLayout::media());
        assert!(sink.files.iter().all(|f| f.bundle == Some(0)), "the listing and its media in one bundle");
        let listing: serde_json::Value =
            serde_json::from_slice(&sink.file("files.json").expect("listing").contents()).expect("json");
        assert_eq!(listing[0]["path"], "2024/trip/beach.jpg");
        assert_eq!(listing[0]["size"], 300_000);

        for bad in ["../bob", "a/b", "..", ""] {
            let mut sink = MemorySink::default();
            let err = source.export(&group(), &request(bad, &cancelled), &mut sink).expect_err(bad);
            assert!(matches!(err, SourceError::Permanent(_)), "{bad}: {err}");
            assert!(sink.files.is_empty());
        }
        let mut sink = MemorySink::default();
        source.export(&group(), &request("nobody", &cancelled), &mut sink).expect("no files");
        assert_eq!(sink.file("files.json").expect("listing").contents(), b"[]");
    }

    #[test]
    fn a_large_library_is_bundled_by_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("u");
        fs::create_dir_all(&root).expect("mkdir");
        for i in 0..5 {
            fs::write(root.join(format!("p{i}.jpg")), vec![1u8; 1000]).expect("write");
        }
        let source = FilesSource::new(&FilesSourceConfig { root: format!("{}/{{subject}}", dir.path().display()) })
            .with_bundle_bytes(2000);
        let cancelled = AtomicBool::new(false);
        let mut sink = MemorySink::default();
        source.export(&group(), &request("u", &cancelled), &mut sink).expect("export");
        let listings: Vec<(&str, Option<usize>)> =
            sink.files.iter().filter(|f| f.name.ends_with(".json")).map(|f| (f.name.as_str(), f.bundle)).collect();
        assert_eq!(listings, [("files.json", Some(0)), ("files(1).json", Some(1)), ("files(2).json", Some(2))]);
        assert_eq!(sink.files.iter().filter(|f| f.name.ends_with(".jpg")).count(), 5);
    }

    fn source_at(dir: &Path) -> FilesSource {
        FilesSource::new(&FilesSourceConfig { root: format!("{}/{{subject}}", dir.display()) })
    }

    #[test]
    fn links_to_directories_are_not_followed_so_each_file_is_listed_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("u");
        fs::create_dir_all(root.join("sub")).expect("mkdir");
        fs::write(root.join("a.jpg"), b"a").expect("write");
        fs::write(root.join("sub/b.jpg"), b"b").expect("write");
        std::os::unix::fs::symlink(".", root.join("self")).expect("link");
        std::os::unix::fs::symlink("sub", root.join("alias")).expect("link");
        std::os::unix::fs::symlink("b.jpg", root.join("sub/c.jpg")).expect("link");
        let cancelled = AtomicBool::new(false);
        let mut sink = MemorySink::default();
        source_at(dir.path()).export(&group(), &request("u", &cancelled), &mut sink).expect("export");
        let names: Vec<&str> = sink.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["files.json", "a.jpg", "sub/b.jpg", "sub/c.jpg"], "a link to a file is kept");
    }

    #[test]
    fn the_walk_stops_as_soon_as_the_export_is_cancelled() {
        let dir = tempfile::tempdir().expect("tempdir");
        for i in 0..20 {
            fs::create_dir_all(dir.path().join(format!("u/d{i}/e"))).expect("mkdir");
        }
        let cancelled = AtomicBool::new(true);
        let mut sink = MemorySink::default();
        let err = source_at(dir.path()).export(&group(), &request("u", &cancelled), &mut sink).expect_err("cancelled");
        assert!(matches!(err, SourceError::Cancelled), "{err}");
        assert!(sink.files.is_empty(), "nothing written after the cancel");
    }

    #[test]
    fn a_tree_too_deep_or_with_too_many_entries_fails_the_export() {
        let dir = tempfile::tempdir().expect("tempdir");
        let deep = (0..=MAX_DEPTH).fold(dir.path().join("deep"), |path, _| path.join("d"));
        fs::create_dir_all(&deep).expect("mkdir");
        fs::write(deep.join("bottom.jpg"), b"x").expect("write");
        for i in 0..5 {
            fs::create_dir_all(dir.path().join("wide")).expect("mkdir");
            fs::write(dir.path().join(format!("wide/{i}.jpg")), b"x").expect("write");
        }
        let cancelled = AtomicBool::new(false);
        for (subject, source) in [("deep", source_at(dir.path())), ("wide", source_at(dir.path()).with_limits(8, 4))] {
            let mut sink = MemorySink::default();
            let err = source.export(&group(), &request(subject, &cancelled), &mut sink).expect_err(subject);
            assert_eq!(err.public(), Failure::TooLarge, "{subject}: {err}");
            assert!(sink.files.is_empty(), "{subject}: no partial listing");
        }
        let mut sink = MemorySink::default();
        source_at(dir.path())
            .with_limits(8, 5)
            .export(&group(), &request("wide", &cancelled), &mut sink)
            .expect("5 fit");
    }
}
