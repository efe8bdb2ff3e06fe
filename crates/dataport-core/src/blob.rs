//! Blob storage for archive parts. The local store keeps each blob as a file under its root.
//!
//! A blob becomes visible under its key only when it is complete: writers fill a `.partial`
//! file next to the final one, fsync it, then rename it into place (rename is atomic on POSIX
//! file systems), so no reader can ever open a half-written part.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Errors of the blob store.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob key {0:?} is not a relative path of plain segments")]
    InvalidKey(String),
    #[error("blob store I/O: {0}")]
    Io(#[from] io::Error),
}

/// A blob store on the local file system.
#[derive(Clone, Debug)]
pub struct LocalBlobStore {
    root: PathBuf,
}

/// A blob being written; [`StagedBlob::commit`] publishes it, dropping it discards it.
#[derive(Debug)]
pub struct StagedBlob {
    file: Option<BufWriter<File>>,
    partial: PathBuf,
    target: PathBuf,
}

impl LocalBlobStore {
    /// A store rooted at `root` (created if missing).
    pub fn open(root: &Path) -> Result<Self, BlobError> {
        fs::create_dir_all(root)?;
        Ok(Self { root: root.to_owned() })
    }

    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        let plain = !key.is_empty()
            && key.split('/').all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\\'))
            && !key.ends_with(".partial");
        if !plain {
            return Err(BlobError::InvalidKey(key.to_owned()));
        }
        Ok(self.root.join(key))
    }

    /// Starts writing the blob `key`; nothing is visible under `key` until commit.
    pub fn create(&self, key: &str) -> Result<StagedBlob, BlobError> {
        let target = self.path(key)?;
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut partial = target.clone().into_os_string();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = File::create(&partial)?;
        Ok(StagedBlob { file: Some(BufWriter::with_capacity(256 * 1024, file)), partial, target })
    }

    /// Opens a committed blob for reading.
    pub fn open_blob(&self, key: &str) -> Result<File, BlobError> {
        Ok(File::open(self.path(key)?)?)
    }

    /// Deletes every blob whose key starts with `prefix/` (a no-op when there are none), and the
    /// directories above it that this leaves empty.
    pub fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError> {
        let path = self.path(prefix)?;
        match fs::remove_dir_all(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| *d != self.root) {
            if fs::remove_dir(d).is_err() {
                break; // not empty, or already gone
            }
            dir = d.parent();
        }
        Ok(())
    }

    /// Deletes the blobs below `prefix/` except the directory `keep` (a direct child name).
    pub fn delete_siblings(&self, prefix: &str, keep: &str) -> Result<(), BlobError> {
        let dir = self.path(prefix)?;
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let entry = entry?;
            if entry.file_name() != keep {
                let path = entry.path();
                if entry.file_type()?.is_dir() { fs::remove_dir_all(path)? } else { fs::remove_file(path)? }
            }
        }
        Ok(())
    }
}

impl Write for StagedBlob {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().map_or(Err(io::ErrorKind::BrokenPipe.into()), |f| f.write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.as_mut().map_or(Err(io::ErrorKind::BrokenPipe.into()), |f| f.write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

impl StagedBlob {
    /// Makes the blob durable and visible under its key.
    pub fn commit(mut self) -> Result<(), BlobError> {
        if let Some(file) = self.file.take() {
            let file = file.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
        }
        fs::rename(&self.partial, &self.target)?;
        if let Some(dir) = self.target.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

impl Drop for StagedBlob {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_is_invisible_until_commit_and_discarded_on_drop() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let store = LocalBlobStore::open(dir.path())?;
        let mut blob = store.create("jobs/a/1/part-000.zip")?;
        blob.write_all(b"hello")?;
        assert!(store.open_blob("jobs/a/1/part-000.zip").is_err());
        blob.commit()?;
        assert_eq!(fs::read(dir.path().join("jobs/a/1/part-000.zip"))?, b"hello");

        let mut dropped = store.create("jobs/a/1/part-001.zip")?;
        dropped.write_all(b"partial")?;
        drop(dropped);
        assert!(!dir.path().join("jobs/a/1/part-001.zip.partial").exists());

        store.create("jobs/a/2/x")?.commit()?;
        store.delete_siblings("jobs/a", "2")?;
        assert!(!dir.path().join("jobs/a/1").exists());
        assert!(dir.path().join("jobs/a/2/x").exists());
        store.delete_prefix("jobs/a/2")?;
        assert!(!dir.path().join("jobs").exists(), "empty parents go too");
        assert!(dir.path().exists());
        store.delete_prefix("jobs/a")?;
        Ok(())
    }

    #[test]
    fn rejects_keys_that_escape_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalBlobStore::open(dir.path()).expect("open");
        for key in ["", "../x", "a//b", "/abs", "a/./b", "a\\b", "x.partial"] {
            assert!(matches!(store.create(key), Err(BlobError::InvalidKey(_))), "{key}");
        }
    }
}
