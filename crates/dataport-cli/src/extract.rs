//! Verifying and extracting a job's parts: every file the index part's
//! `Portability/manifest.json` lists must match its size and SHA-256, no entry may escape the
//! output directory (absolute paths, `..`, symbolic links), and nothing already there is
//! overwritten — a file with the same content is left as is, one with other content gets the new
//! file next to it as `name(1).ext`, the way Google numbers duplicates.
//!
//! The archive is the server's word, so decompression is bounded: no entry yields more bytes
//! than its ZIP header declares, and when there is a manifest, no entry more than the manifest
//! says and no entry the manifest does not list (but the index's own two files) is extracted.

use std::collections::HashMap;
use std::fs;
use std::io::{BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The SHA-256 of a file, in hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = BufReader::new(fs::File::open(path)?);
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buffer[..n]);
    }
}

/// A job's extracted archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extracted {
    pub files: u64,
    /// Size of the parts.
    pub bytes: u64,
    /// Every file the manifest lists matched its size and SHA-256.
    pub verified: bool,
}

/// Why a job's parts were not extracted.
#[derive(Debug, PartialEq, Eq)]
pub enum ExtractError {
    /// Part `part` is not a readable ZIP, or a file in it does not match the manifest.
    Corrupt { part: usize, message: String },
    /// An entry that would escape the output directory.
    Refused(String),
    /// The local file system.
    Io(String),
}

/// The files `Portability/manifest.json` lists (SPEC §8).
/// The index part's own files, which the manifest does not list (it cannot list itself).
const INDEX_FILES: [&str; 2] = ["Portability/manifest.json", "Portability/archive_browser.json"];

/// The most an index file (the manifest, `archive_browser.json`) may hold: 128 MiB, about half a
/// million listed files.
pub const MAX_INDEX_FILE: u64 = 128 * 1024 * 1024;

#[derive(Deserialize)]
struct Manifest {
    files: Vec<ManifestFile>,
}

#[derive(Deserialize)]
struct ManifestFile {
    path: String,
    part: usize,
    size: u64,
    sha256: String,
}

/// The path of a ZIP entry relative to the output directory, or `None` if it could escape it:
/// absolute paths, drive letters, `..`, backslashes, NUL, or dataport's own `.dataport` folder.
pub fn safe_relative_path(name: &str) -> Option<PathBuf> {
    if name.is_empty() || name.starts_with('/') || name.contains('\\') || name.contains('\0') {
        return None;
    }
    let mut path = PathBuf::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => {
                let text = part.to_str()?;
                if text.contains(':') && path.as_os_str().is_empty() && text.len() == 2 {
                    return None; // `C:`
                }
                path.push(part);
            }
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    let first = path.components().next()?;
    (first.as_os_str() != ".dataport").then_some(path)
}

fn is_symlink_mode(mode: Option<u32>) -> bool {
    mode.is_some_and(|m| m & 0o170_000 == 0o120_000)
}

/// Verifies and extracts the parts of one job into `out`, through `staging` (all files of the
/// job are checked before any is moved into place). `staging` is the caller's: an empty or
/// missing folder, which the caller also clears afterwards.
///
/// Each entry is read up to the size its ZIP header declares and, with a manifest, the size the
/// manifest lists (a longer one is corrupt); with a manifest, an entry it does not list is
/// refused, except the index part's own `manifest.json` and `archive_browser.json`.
pub fn extract_job(out: &Path, staging: &Path, parts: &[PathBuf]) -> Result<Extracted, ExtractError> {
    let io = |path: &Path, e: std::io::Error| ExtractError::Io(format!("{}: {e}", path.display()));
    let last = parts.len().saturating_sub(1);
    let manifest = match parts.last() {
        Some(index) => read_manifest(index).map_err(|message| ExtractError::Corrupt { part: last, message })?,
        None => None,
    };
    let mut expected: HashMap<(usize, String), &ManifestFile> = HashMap::new();
    if let Some(manifest) = &manifest {
        for file in &manifest.files {
            expected.insert((file.part, file.path.clone()), file);
        }
    }
    let mut staged: Vec<(PathBuf, PathBuf, String)> = Vec::new();
    let mut bytes = 0;
    for (n, path) in parts.iter().enumerate() {
        let corrupt = |message: String| ExtractError::Corrupt { part: n, message };
        let file = fs::File::open(path).map_err(|e| io(path, e))?;
        bytes += file.metadata().map_err(|e| io(path, e))?.len();
        let mut zip =
            zip::ZipArchive::new(BufReader::new(file)).map_err(|e| corrupt(format!("not a ZIP file: {e}")))?;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(|e| corrupt(e.to_string()))?;
            let name = entry.name().map_err(|e| corrupt(e.to_string()))?.into_owned();
            let Some(relative) = safe_relative_path(&name) else {
                return Err(ExtractError::Refused(format!("the entry {name:?} would escape the output directory")));
            };
            if entry.is_symlink() || is_symlink_mode(entry.unix_mode()) {
                return Err(ExtractError::Refused(format!("the entry {name:?} is a symbolic link")));
            }
            if entry.is_dir() {
                continue;
            }
            let listed = expected.remove(&(n, name.clone()));
            let cap = match (&manifest, listed) {
                (_, Some(listed)) => listed.size,
                (Some(_), None) if n == last && INDEX_FILES.contains(&name.as_str()) => MAX_INDEX_FILE,
                (Some(_), None) => {
                    return Err(ExtractError::Refused(format!(
                        "the entry {name:?} of part {n} is not listed in the manifest"
                    )));
                }
                (None, None) => u64::MAX,
            }
            .min(entry.size());
            let destination = staging.join(n.to_string()).join(&relative);
            if let Some(parent) = destination.parent() {
                fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            let mut writer = fs::File::create(&destination).map_err(|e| io(&destination, e))?;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            let mut buffer = vec![0u8; 128 * 1024];
            // One byte past the cap tells a longer entry from one of exactly that size.
            let mut bounded = (&mut entry).take(cap.saturating_add(1));
            loop {
                let read = bounded.read(&mut buffer).map_err(|e| corrupt(format!("{name}: {e}")))?;
                if read == 0 {
                    break;
                }
                size += read as u64;
                if size > cap {
                    return Err(corrupt(format!("{name} holds more than the {cap} bytes declared for it")));
                }
                hasher.update(&buffer[..read]);
                writer.write_all(&buffer[..read]).map_err(|e| io(&destination, e))?;
            }
            let sha256 = hex::encode(hasher.finalize());
            if let Some(listed) = listed
                && (listed.size != size || !listed.sha256.eq_ignore_ascii_case(&sha256))
            {
                return Err(corrupt(format!("{name} does not match the manifest's size and SHA-256")));
            }
            staged.push((destination, relative, sha256));
        }
    }
    if let Some(missing) = expected.values().next() {
        return Err(ExtractError::Corrupt {
            part: missing.part.min(last),
            message: format!("{} is listed in the manifest but missing", missing.path),
        });
    }
    for (source, relative, sha256) in &staged {
        place(out, relative, source, sha256)?;
    }
    Ok(Extracted { files: staged.len() as u64, bytes, verified: manifest.is_some() })
}

/// `Portability/manifest.json` of the index part, if it has one.
fn read_manifest(index: &Path) -> Result<Option<Manifest>, String> {
    let file = fs::File::open(index).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| format!("not a ZIP file: {e}"))?;
    let entry = match zip.by_name("Portability/manifest.json") {
        Ok(entry) => entry,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let mut text = Vec::new();
    entry.take(MAX_INDEX_FILE + 1).read_to_end(&mut text).map_err(|e| format!("manifest.json: {e}"))?;
    if text.len() as u64 > MAX_INDEX_FILE {
        return Err(format!("manifest.json is larger than {} MiB", MAX_INDEX_FILE >> 20));
    }
    serde_json::from_slice(&text).map(Some).map_err(|e| format!("manifest.json is not valid: {e}"))
}

/// Moves a verified file into `out/relative`, never overwriting: an existing file with the same
/// content is kept; one with other content gets the new file next to it as `name(n).ext`.
fn place(out: &Path, relative: &Path, source: &Path, sha256: &str) -> Result<PathBuf, ExtractError> {
    let io = |path: &Path, e: std::io::Error| ExtractError::Io(format!("{}: {e}", path.display()));
    let mut dir = out.to_path_buf();
    if let Some(parent) = relative.parent() {
        for component in parent.components() {
            dir.push(component);
            match fs::symlink_metadata(&dir) {
                Ok(meta) if meta.file_type().is_symlink() || !meta.is_dir() => {
                    return Err(ExtractError::Refused(format!("{} is not a plain directory", dir.display())));
                }
                Ok(_) => {}
                Err(_) => fs::create_dir(&dir).map_err(|e| io(&dir, e))?,
            }
        }
    }
    let target = out.join(relative);
    for n in 0..10_000 {
        let candidate = numbered(&target, n);
        match fs::symlink_metadata(&candidate) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::rename(source, &candidate).map_err(|e| io(&candidate, e))?;
                return Ok(candidate);
            }
            Ok(meta) if meta.is_file() && sha256_file(&candidate).is_ok_and(|s| s == sha256) => {
                let _ = fs::remove_file(source);
                return Ok(candidate);
            }
            Ok(_) => {}
            Err(e) => return Err(io(&candidate, e)),
        }
    }
    Err(ExtractError::Io(format!("too many versions of {}", target.display())))
}

/// `dir/name.ext` → `dir/name(n).ext` (n > 0).
fn numbered(path: &Path, n: usize) -> PathBuf {
    if n == 0 {
        return path.to_path_buf();
    }
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let name = match path.extension().and_then(|e| e.to_str()) {
        Some(ext) => format!("{stem}({n}).{ext}"),
        None => format!("{stem}({n})"),
    };
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use serde_json::{Value, json};
    use zip::write::SimpleFileOptions;

    use super::*;

    #[test]
    fn safe_paths_stay_inside_the_output_directory() {
        for ok in ["Portability/My Activity/Search/MyActivity.json", "a/./b.txt", "Portability/x:y.json"] {
            assert!(safe_relative_path(ok).is_some(), "{ok}");
        }
        assert_eq!(safe_relative_path("a/./b.txt"), Some(PathBuf::from("a/b.txt")));
        for bad in [
            "",
            "/etc/passwd",
            "../evil",
            "a/../../evil",
            "Portability/../../x",
            "C:/Windows/x",
            "C:",
            "a\\..\\b",
            ".dataport/pending.json",
            "./.dataport/x",
            "a\0b",
            ".",
        ] {
            assert_eq!(safe_relative_path(bad), None, "{bad:?}");
        }
    }

    fn zip_file(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            writer.start_file(*name, SimpleFileOptions::default()).expect("start");
            writer.write_all(data).expect("write");
        }
        writer.finish().expect("finish").into_inner()
    }

    fn manifest(files: &[(&str, usize, &[u8])]) -> Vec<u8> {
        let files: Vec<Value> = files
            .iter()
            .map(|(path, part, data)| {
                json!({"path": path, "part": part, "size": data.len(), "sha256": hex::encode(Sha256::digest(data))})
            })
            .collect();
        serde_json::to_vec(&json!({"version": 1, "jobId": "j", "resources": ["g"], "exportTime": "2026-01-01T00:00:00Z", "files": files}))
            .expect("json")
    }

    fn write_parts(dir: &Path, parts: &[Vec<u8>]) -> Vec<PathBuf> {
        parts
            .iter()
            .enumerate()
            .map(|(n, bytes)| {
                let path = dir.join(format!("j-{n}.zip"));
                fs::write(&path, bytes).expect("write part");
                path
            })
            .collect()
    }

    #[test]
    fn extraction_verifies_against_the_manifest_and_never_overwrites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        fs::create_dir_all(&out).expect("out");
        let data: &[u8] = b"[{\"title\":\"a\"}]";
        let index = zip_file(&[("Portability/manifest.json", &manifest(&[("Portability/A/a.json", 0, data)]))]);
        let parts = write_parts(dir.path(), &[zip_file(&[("Portability/A/a.json", data)]), index]);
        let staging = dir.path().join("staging");
        let extracted = extract_job(&out, &staging, &parts).expect("extract");
        assert_eq!(extracted, Extracted { files: 2, bytes: extracted.bytes, verified: true });
        assert_eq!(fs::read(out.join("Portability/A/a.json")).expect("read"), data);

        // The same archive again: nothing changes. Another version: kept next to the first.
        extract_job(&out, &staging, &parts).expect("again");
        assert!(!out.join("Portability/A/a(1).json").exists());
        let newer: &[u8] = b"[{\"title\":\"b\"}]";
        let index = zip_file(&[("Portability/manifest.json", &manifest(&[("Portability/A/a.json", 0, newer)]))]);
        let parts = write_parts(dir.path(), &[zip_file(&[("Portability/A/a.json", newer)]), index]);
        extract_job(&out, &staging, &parts).expect("newer");
        assert_eq!(fs::read(out.join("Portability/A/a.json")).expect("read"), data);
        assert_eq!(fs::read(out.join("Portability/A/a(1).json")).expect("read"), newer);
    }

    #[test]
    fn extraction_reports_the_corrupt_part() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        fs::create_dir_all(&out).expect("out");
        let index = zip_file(&[("Portability/manifest.json", &manifest(&[("Portability/A/a.json", 0, b"right")]))]);
        let parts = write_parts(dir.path(), &[zip_file(&[("Portability/A/a.json", b"wrong")]), index.clone()]);
        let result = extract_job(&out, &dir.path().join("staging"), &parts);
        assert!(matches!(result, Err(ExtractError::Corrupt { part: 0, .. })), "{result:?}");
        assert!(!out.join("Portability/A/a.json").exists(), "nothing is placed before everything is verified");

        let parts = write_parts(dir.path(), &[b"not a zip".to_vec(), index]);
        let result = extract_job(&out, &dir.path().join("staging"), &parts);
        assert!(matches!(result, Err(ExtractError::Corrupt { part: 0, .. })), "{result:?}");
    }

    #[test]
    fn extraction_refuses_escaping_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        fs::create_dir_all(&out).expect("out");
        for evil in ["../evil.txt", "/tmp/evil.txt", "Portability/../../evil.txt"] {
            let parts = write_parts(dir.path(), &[zip_file(&[(evil, b"x")])]);
            let result = extract_job(&out, &dir.path().join("staging"), &parts);
            assert!(matches!(result, Err(ExtractError::Refused(_))), "{evil}: {result:?}");
        }
        assert!(!dir.path().join("evil.txt").exists());

        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        writer.add_symlink("Portability/link", "/etc", SimpleFileOptions::default()).expect("symlink");
        let parts = write_parts(dir.path(), &[writer.finish().expect("finish").into_inner()]);
        let result = extract_job(&out, &dir.path().join("staging"), &parts);
        assert!(matches!(result, Err(ExtractError::Refused(_))), "{result:?}");
    }

    #[test]
    fn with_a_manifest_unlisted_entries_are_refused_and_entries_capped_at_its_size() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        fs::create_dir_all(&out).expect("out");
        let data: &[u8] = b"listed";
        let index = zip_file(&[
            ("Portability/archive_browser.json", b"{}"),
            ("Portability/manifest.json", &manifest(&[("Portability/A/a.json", 0, data)])),
        ]);
        let parts =
            write_parts(dir.path(), &[zip_file(&[("Portability/A/a.json", data), ("Portability/evil", b"x")]), index]);
        let result = extract_job(&out, &dir.path().join("staging"), &parts);
        assert!(matches!(&result, Err(ExtractError::Refused(m)) if m.contains("not listed")), "{result:?}");
        assert!(!out.join("Portability").exists(), "nothing is placed");

        // Listed as 6 bytes, inflating to 1 MiB: read no further than 7.
        let bomb = vec![b'x'; 1 << 20];
        let small = zip_file(&[("Portability/manifest.json", &manifest(&[("Portability/A/a.json", 0, data)]))]);
        let parts = write_parts(dir.path(), &[zip_file(&[("Portability/A/a.json", &bomb)]), small]);
        let staging = dir.path().join("staging-bomb");
        let result = extract_job(&out, &staging, &parts);
        assert!(
            matches!(&result, Err(ExtractError::Corrupt { part: 0, message }) if message.contains("more than the 6 bytes")),
            "{result:?}"
        );
        let written: u64 = fs::metadata(staging.join("0/Portability/A/a.json")).map(|m| m.len()).unwrap_or(0);
        assert!(written <= 6, "{written} bytes written of an entry listed as 6");
    }

    #[test]
    fn numbered_names_follow_google() {
        assert_eq!(numbered(Path::new("a/MyActivity.json"), 0), PathBuf::from("a/MyActivity.json"));
        assert_eq!(numbered(Path::new("a/MyActivity.json"), 2), PathBuf::from("a/MyActivity(2).json"));
        assert_eq!(numbered(Path::new("a/README"), 1), PathBuf::from("a/README(1)"));
    }
}
