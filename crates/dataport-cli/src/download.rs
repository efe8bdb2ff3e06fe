//! Downloading one archive part: the `.part` file it grows in, what each response means for it
//! (append, start over, complete, fresh URLs, wait), and the shared cap on the download rate.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// A shared cap on the download rate: each chunk is scheduled after the ones before it.
pub struct RateLimit {
    bytes_per_second: u64,
    next: Mutex<Instant>,
}

impl RateLimit {
    pub fn new(bytes_per_second: u64) -> Self {
        Self { bytes_per_second: bytes_per_second.max(1), next: Mutex::new(Instant::now()) }
    }

    /// How much one request asks for while the rate is capped: an eighth of a second's worth
    /// (8 KiB to 4 MiB). Asking in windows rather than throttling one long response keeps what
    /// the server has sent but we have not yet written to disk — kernel buffers grow to
    /// megabytes under a slow reader — to one window, so a download killed mid-way and resumed
    /// fetches at most that much twice.
    pub fn window(&self) -> u64 {
        (self.bytes_per_second / 8).clamp(8 * 1024, 4 * 1024 * 1024)
    }

    /// Waits until `bytes` more bytes fit under the cap.
    pub async fn take(&self, bytes: u64) {
        let until = {
            let mut next = self.next.lock().await;
            *next = schedule(*next, Instant::now(), bytes, self.bytes_per_second);
            *next
        };
        tokio::time::sleep_until(until).await;
    }
}

/// When a transfer of `bytes` that may start at `max(next, now)` has used its share of the rate.
fn schedule(next: Instant, now: Instant, bytes: u64, rate: u64) -> Instant {
    let start = next.max(now);
    start + Duration::from_secs_f64(bytes as f64 / rate as f64)
}

/// What to do with a download response, given the bytes already on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Append the body; `total` is the part's size when the server said.
    Append {
        total: Option<u64>,
    },
    /// Throw away what we have and write the body from the start.
    Restart {
        total: Option<u64>,
    },
    /// What we have is the whole part.
    Complete,
    /// The URL is refused or gone: get fresh ones.
    Stale,
    /// Busy or a server hiccup: wait and try again.
    Wait,
    /// A range that does not continue the file: drop the file and ask again.
    Mismatch,
    Fail,
}

/// Decides from a response's status and headers. Pure.
pub fn resume_plan(status: u16, have: u64, content_range: Option<&str>, content_length: Option<u64>) -> Plan {
    match status {
        206 => match content_range.and_then(parse_content_range) {
            Some(ContentRange { range: Some((first, _)), total }) if first == have => Plan::Append { total },
            Some(ContentRange { range: Some((0, _)), total }) => Plan::Restart { total },
            // A range we did not ask for and cannot place: start the file over.
            _ => Plan::Mismatch,
        },
        200 => Plan::Restart { total: content_length },
        416 => match content_range.and_then(parse_content_range) {
            Some(ContentRange { range: None, total: Some(size) }) if size == have => Plan::Complete,
            // More than the whole part: what we have is not this part.
            Some(ContentRange { range: None, total: Some(size) }) if size < have => Plan::Mismatch,
            _ => Plan::Stale,
        },
        401 | 403 | 404 | 410 => Plan::Stale,
        429 | 500..=599 => Plan::Wait,
        _ => Plan::Fail,
    }
}

/// A `Content-Range` header: the range sent (inclusive) and the part's total size, each when
/// the server says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentRange {
    pub range: Option<(u64, u64)>,
    pub total: Option<u64>,
}

/// Parses `bytes 100-199/200` or `bytes */200`.
pub fn parse_content_range(value: &str) -> Option<ContentRange> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let total = if total.trim() == "*" { None } else { Some(total.trim().parse().ok()?) };
    let range = if range.trim() == "*" {
        None
    } else {
        let (first, last) = range.trim().split_once('-')?;
        Some((first.parse().ok()?, last.parse().ok()?))
    };
    Some(ContentRange { range, total })
}

/// A `.part` file being appended to; every append reaches the file before it returns.
pub struct PartFile {
    file: tokio::fs::File,
    /// Bytes in the file.
    pub len: u64,
}

impl PartFile {
    /// Opens (or creates) the file, positioned at its end.
    pub async fn open(path: &Path) -> std::io::Result<Self> {
        let mut file =
            tokio::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).await?;
        let len = file.seek(std::io::SeekFrom::End(0)).await?;
        Ok(Self { file, len })
    }

    /// The `Range` header that asks for the rest (or the next `window` bytes of it), if there
    /// is anything already or a window.
    pub fn range(&self, window: Option<u64>) -> Option<String> {
        match window {
            Some(window) => Some(format!("bytes={}-{}", self.len, self.len + window.max(1) - 1)),
            None => (self.len > 0).then(|| format!("bytes={}-", self.len)),
        }
    }

    pub async fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.file.write_all(bytes).await?;
        self.file.flush().await?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    pub async fn restart(&mut self) -> std::io::Result<()> {
        self.file.set_len(0).await?;
        self.file.seek(std::io::SeekFrom::Start(0)).await?;
        self.len = 0;
        Ok(())
    }
}

/// Whether an ETag is a SHA-256 in hex (dataport's is the part's SHA-256).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn rate_limit_schedules_chunks_back_to_back() {
        let now = Instant::now();
        let first = schedule(now, now, 1000, 1000);
        assert_eq!(first - now, Duration::from_secs(1));
        let second = schedule(first, now, 500, 1000);
        assert_eq!(second - now, Duration::from_millis(1500));
        assert_eq!(RateLimit::new(1024 * 1024).window(), 128 * 1024);
        assert_eq!(RateLimit::new(1).window(), 8 * 1024);
        assert_eq!(RateLimit::new(1 << 40).window(), 4 * 1024 * 1024);
        let later = now + Duration::from_secs(10);
        assert_eq!(schedule(first, later, 1000, 1000) - later, Duration::from_secs(1), "idle time is not banked");
    }

    #[test]
    fn content_ranges_and_resume_decisions() {
        let range = |range, total| Some(ContentRange { range, total });
        assert_eq!(parse_content_range("bytes 100-199/200"), range(Some((100, 199)), Some(200)));
        assert_eq!(parse_content_range("bytes */200"), range(None, Some(200)));
        assert_eq!(parse_content_range("bytes 0-9/*"), range(Some((0, 9)), None));
        assert_eq!(parse_content_range("items 0-9/10"), None);

        assert_eq!(resume_plan(206, 100, Some("bytes 100-199/200"), Some(100)), Plan::Append { total: Some(200) });
        assert_eq!(resume_plan(206, 100, Some("bytes 0-199/200"), Some(200)), Plan::Restart { total: Some(200) });
        assert_eq!(resume_plan(206, 100, Some("bytes 50-199/200"), Some(150)), Plan::Mismatch);
        assert_eq!(resume_plan(206, 100, None, Some(100)), Plan::Mismatch);
        assert_eq!(resume_plan(200, 100, None, Some(200)), Plan::Restart { total: Some(200) });
        assert_eq!(resume_plan(416, 200, Some("bytes */200"), None), Plan::Complete);
        assert_eq!(resume_plan(416, 300, Some("bytes */200"), None), Plan::Mismatch);
        assert_eq!(resume_plan(416, 100, None, None), Plan::Stale);
        assert_eq!(resume_plan(403, 0, None, None), Plan::Stale);
        assert_eq!(resume_plan(429, 0, None, None), Plan::Wait);
        assert_eq!(resume_plan(503, 0, None, None), Plan::Wait);
        assert_eq!(resume_plan(400, 0, None, None), Plan::Fail);
    }

    #[tokio::test]
    async fn part_files_resume_from_their_length() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("job-0.zip.part");
        let mut part = PartFile::open(&path).await.expect("open");
        assert_eq!(part.range(None), None, "a new file asks for everything");
        assert_eq!(part.range(Some(4)).as_deref(), Some("bytes=0-3"), "or for a window");
        part.append(b"hello ").await.expect("append");
        drop(part);

        // An interrupted run left 6 bytes: the next asks for the rest and appends it (206).
        let mut part = PartFile::open(&path).await.expect("reopen");
        assert_eq!(part.range(None).as_deref(), Some("bytes=6-"));
        assert_eq!(part.range(Some(8192)).as_deref(), Some("bytes=6-8197"));
        let plan = resume_plan(206, part.len, Some("bytes 6-10/11"), Some(5));
        assert_eq!(plan, Plan::Append { total: Some(11) });
        part.append(b"world").await.expect("append");
        assert_eq!(fs::read(&path).expect("read"), b"hello world");

        // A server that ignores Range answers 200: the file starts over.
        let plan = resume_plan(200, part.len, None, Some(11));
        assert_eq!(plan, Plan::Restart { total: Some(11) });
        part.restart().await.expect("restart");
        part.append(b"HELLO WORLD").await.expect("append");
        assert_eq!(fs::read(&path).expect("read"), b"HELLO WORLD");
    }
}
