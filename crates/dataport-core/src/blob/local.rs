//! The local blob store: each blob is a file under a root directory.
//!
//! Writers fill a `.partial` file next to the final one, fsync it, then rename it into place
//! (rename is atomic on POSIX file systems), so no reader can ever open a half-written part.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::{BlobError, BlobStore, ByteStream, StagedBlob, valid_key};

/// A blob store on the local file system.
#[derive(Clone, Debug)]
pub struct LocalBlobStore {
    root: PathBuf,
}

/// A blob being written to its `.partial` file.
#[derive(Debug)]
pub struct LocalStagedBlob {
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
        if !valid_key(key) || key.ends_with(".partial") {
            return Err(BlobError::InvalidKey(key.to_owned()));
        }
        Ok(self.root.join(key))
    }

    /// Runs blocking file system work off the async runtime.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Path) -> Result<T, BlobError> + Send + 'static,
    ) -> Result<T, BlobError> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || work(&root)).await.map_err(|e| BlobError::Io(io::Error::other(e)))?
    }
}

/// The files below `dir`, as keys relative to `root`.
fn files_below(root: &Path, dir: &Path, out: &mut Vec<String>) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            files_below(root, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(root)
            && let Some(key) = relative.to_str()
            && !key.ends_with(".partial")
        {
            out.push(key.to_owned());
        }
    }
    Ok(())
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    fn create(&self, key: &str) -> Result<Box<dyn StagedBlob>, BlobError> {
        let target = self.path(key)?;
        if let Some(dir) = target.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut partial = target.clone().into_os_string();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = File::create(&partial)?;
        Ok(Box::new(LocalStagedBlob { file: Some(BufWriter::with_capacity(256 * 1024, file)), partial, target }))
    }

    async fn read(&self, key: &str, offset: u64, len: u64, chunk: usize) -> Result<ByteStream, BlobError> {
        let path = self.path(key)?;
        let file = Arc::new(self.blocking(move |_| Ok(File::open(path)?)).await?);
        let chunk = chunk.max(1) as u64;
        let stream = futures_util::stream::try_unfold((file, offset, len), move |(file, offset, left)| async move {
            if left == 0 {
                return Ok(None);
            }
            let n = left.min(chunk) as usize;
            let reader = file.clone();
            let bytes = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0u8; n];
                std::os::unix::fs::FileExt::read_exact_at(reader.as_ref(), &mut buf, offset).map(|()| Bytes::from(buf))
            })
            .await
            .map_err(io::Error::other)??;
            Ok(Some((bytes, (file, offset + n as u64, left - n as u64))))
        });
        Ok(Box::pin(stream))
    }

    async fn open_file(&self, key: &str) -> Result<Option<File>, BlobError> {
        let path = self.path(key)?;
        self.blocking(move |_| Ok(Some(File::open(path)?))).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let dir = self.path(prefix)?;
        self.blocking(move |root| {
            let mut keys = Vec::new();
            files_below(root, &dir, &mut keys)?;
            Ok(keys)
        })
        .await
    }

    /// The root must be a directory this process can write to.
    async fn check(&self) -> Result<(), BlobError> {
        self.blocking(|root| {
            let probe = root.join(".readyz.partial");
            fs::write(&probe, b"")?;
            fs::remove_file(probe)?;
            Ok(())
        })
        .await
    }

    /// Also removes the directories above `prefix` that this leaves empty.
    async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError> {
        let path = self.path(prefix)?;
        self.blocking(move |root| {
            match fs::remove_dir_all(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
            let mut dir = path.parent();
            while let Some(d) = dir.filter(|d| *d != root) {
                if fs::remove_dir(d).is_err() {
                    break; // not empty, or already gone
                }
                dir = d.parent();
            }
            Ok(())
        })
        .await
    }
}

impl Write for LocalStagedBlob {
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

impl StagedBlob for LocalStagedBlob {
    /// Makes the blob durable (fsync of the file and its directory) and visible under its key.
    fn commit(mut self: Box<Self>) -> Result<(), BlobError> {
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

impl Drop for LocalStagedBlob {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn local_blobs_conform() {
        let dir = tempfile::tempdir().expect("tempdir");
        super::super::conformance::run(Arc::new(LocalBlobStore::open(dir.path()).expect("open"))).await;
        assert!(
            files_below_root(dir.path()).is_empty(),
            "nothing staged or deleted stays: {:?}",
            files_below_root(dir.path())
        );
        assert!(dir.path().exists());
    }

    fn files_below_root(root: &Path) -> Vec<String> {
        let mut keys = Vec::new();
        let mut partials = Vec::new();
        files_below(root, root, &mut keys).expect("walk");
        for entry in fs::read_dir(root).expect("root").flatten() {
            partials.push(entry.file_name().to_string_lossy().into_owned());
        }
        keys.extend(partials);
        keys
    }

    #[test]
    fn partial_files_are_not_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalBlobStore::open(dir.path()).expect("open");
        assert!(matches!(store.create("x.partial"), Err(BlobError::InvalidKey(_))));
    }
}
