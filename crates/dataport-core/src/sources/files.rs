//! `kind = "files"` (SPEC §5.1): a per-user directory tree (`root` with `{subject}`), copied into
//! the group's folder as media — stored, not recompressed, read in chunks so that a photo of any
//! size never sits whole in memory — with a JSON listing (`files.json`) of the files beside them.
//!
//! Paths are sanitised: the subject cannot name another directory (`/`, `..`), only regular files
//! and directories are followed, and a symbolic link is followed only if it stays inside the
//! user's tree. Files are bundled by the part size: each bundle's listing and the media it lists
//! land in the same archive part (SPEC §8); a larger library gets `files(1).json`, … per part.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use dataport_types::Timestamp;
use serde::Serialize;

use super::{DataSource, ExportRequest, FileLayout, FileSink, SourceError};
use crate::catalogue::{FilesSourceConfig, ResourceGroup, safe_relative_path};

/// Bytes read from a file at a time.
const CHUNK: usize = 128 * 1024;
/// Media bytes after which a bundle (a listing and its files) is closed.
const BUNDLE_BYTES: u64 = 1 << 30;

/// A user's file tree.
pub struct FilesSource {
    root: String,
    bundle_bytes: u64,
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
        Self { root: config.root.clone(), bundle_bytes: BUNDLE_BYTES }
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

/// The regular files below `dir`, as paths relative to `root`, sorted; links are followed only
/// when their target stays inside `root` (`real_root` is its canonical form).
fn walk(
    root: &Path,
    real_root: &Path,
    dir: &Path,
    out: &mut Vec<(String, PathBuf, fs::Metadata)>,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Ok(real) = fs::canonicalize(&path) else { continue }; // a dangling link
        if !real.starts_with(real_root) {
            tracing::warn!(path = %path.display(), "files source: skipping a link that leaves the user's tree");
            continue;
        }
        let metadata = fs::metadata(&real)?;
        if metadata.is_dir() {
            walk(root, real_root, &path, out)?;
        } else if metadata.is_file() {
            let Some(relative) = path.strip_prefix(root).ok().and_then(Path::to_str) else { continue };
            if safe_relative_path(relative) {
                out.push((relative.to_owned(), real, metadata));
            }
        }
    }
    Ok(())
}

fn io_error(what: &str, e: std::io::Error) -> SourceError {
    SourceError::Transient(format!("files source: {what}: {e}"))
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
        let mut files = Vec::new();
        match fs::canonicalize(&root) {
            Ok(real_root) => walk(&root, &real_root, &root, &mut files).map_err(|e| io_error("listing", e))?,
            // A user with no files has an empty listing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("opening the user's directory", e)),
        }
        let mut bundles: Vec<Vec<(String, PathBuf, fs::Metadata)>> = Vec::new();
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
}
