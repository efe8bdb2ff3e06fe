//! Zero-copy downloads: the kernel copies a part's file straight to the socket (`sendfile(2)`),
//! as nginx does, instead of this process reading it into memory and writing it out again.
//!
//! hyper writes only bytes it holds, so a download registers its file range with the connection
//! ([`FileSender::send`]) and gives hyper a body of *stand-ins*: slices of one static buffer,
//! [`STAND_IN`], whose content never reaches the wire. The connection's writer ([`Socket`])
//! recognises them by their address and sends, in their place, as many bytes of the registered
//! file. hyper still frames the response (status, headers, `Content-Length`, keep-alive), the
//! stall guard still cuts off a client that stops reading, and a download holds no buffer at all.
//!
//! Two rules keep a stand-in from ever being sent as itself: hyper is told to queue body chunks
//! and hand them to `writev` as they are (`http1::Builder::writev(true)`, set by the accept
//! loop; it never copies them then), and a stand-in the writer cannot match with registered
//! file bytes fails the connection.

use std::fs::File;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use dataport_core::blob::ByteStream;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// What a stand-in chunk may be: at most this many bytes go to one `sendfile` call.
const CHUNK: usize = 1 << 20;

/// The bytes of every stand-in chunk. Zeroed and never read, so it costs no memory.
static STAND_IN: [u8; CHUNK] = [0; CHUNK];

fn is_stand_in(slice: &[u8]) -> bool {
    !slice.is_empty() && STAND_IN.as_ptr_range().contains(&slice.as_ptr())
}

/// The file bytes a connection still owes its current response.
struct FileRange {
    file: File,
    offset: u64,
    left: u64,
}

/// A connection's slot for the file its current response sends (a request extension, set by
/// the accept loop on connections that can send files).
#[derive(Clone, Default)]
pub struct FileSender(Arc<Mutex<Option<FileRange>>>);

impl FileSender {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<FileRange>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers `len` bytes of `file` from `offset` as what this connection sends next, and
    /// returns the body that stands in for them. `None` while an earlier file is still owed
    /// bytes (HTTP/1.1 answers one request at a time, so only a broken connection leaves one).
    pub fn send(&self, file: File, offset: u64, len: u64) -> Option<ByteStream> {
        let mut slot = self.lock();
        if slot.as_ref().is_some_and(|owed| owed.left > 0) {
            return None;
        }
        *slot = Some(FileRange { file, offset, left: len });
        let chunk = move |at: u64| Ok(Bytes::from_static(&STAND_IN[..(len - at).min(CHUNK as u64) as usize]));
        Some(Box::pin(futures_util::stream::iter((0..len).step_by(CHUNK).map(chunk))))
    }
}

/// A TCP connection that sends stand-in bytes as the registered file's bytes.
pub struct Socket {
    tcp: TcpStream,
    sender: FileSender,
}

impl Socket {
    pub fn new(tcp: TcpStream, sender: FileSender) -> Self {
        Self { tcp, sender }
    }

    /// Writes the leading run of `bufs` that is all ordinary bytes or all one stand-in.
    fn poll_send(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match bufs.iter().position(|b| is_stand_in(b)) {
            Some(0) => self.poll_send_file(cx, bufs[0].len()),
            Some(ordinary) => Pin::new(&mut self.tcp).poll_write_vectored(cx, &bufs[..ordinary]),
            None => Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs),
        }
    }

    /// Sends up to `len` bytes of the registered file in place of as many stand-in bytes.
    fn poll_send_file(&mut self, cx: &mut Context<'_>, len: usize) -> Poll<io::Result<usize>> {
        let mut slot = self.sender.lock();
        let Some(owed) = slot.as_mut().filter(|owed| owed.left >= len as u64) else {
            return Poll::Ready(Err(io::Error::other("stand-in bytes without file bytes to send in their place")));
        };
        loop {
            ready!(self.tcp.poll_write_ready(cx))?;
            let sent = self.tcp.try_io(Interest::WRITABLE, || {
                Ok(rustix::fs::sendfile(&self.tcp, &owed.file, Some(&mut owed.offset), len)?)
            });
            match sent {
                Ok(0) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the part's file is shorter than its recorded size",
                    )));
                }
                Ok(n) => {
                    owed.left -= n as u64;
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncRead for Socket {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().poll_send(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_send(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt;
    use std::io::Write;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).await.expect("connect");
        (listener.accept().await.expect("accept").0, client)
    }

    fn file_of(bytes: &[u8]) -> File {
        let mut file = tempfile::tempfile().expect("tempfile");
        file.write_all(bytes).expect("write");
        file
    }

    /// Ordinary bytes pass through; stand-ins become the registered file's bytes, in order, over
    /// several chunks; the next response on the connection registers its own range.
    #[tokio::test]
    async fn stand_ins_are_sent_as_the_registered_file_bytes() {
        let data: Vec<u8> = (0..(CHUNK * 2 + 12_345)).map(|i| (i % 251) as u8).collect();
        let (server, mut client) = pair().await;
        let sender = FileSender::default();
        let mut socket = Socket::new(server, sender.clone());
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.expect("read");
            got
        });
        for (offset, len) in [(0, data.len() as u64), (100, 10)] {
            let body: Vec<Bytes> =
                sender.send(file_of(&data), offset, len).expect("free").try_collect().await.expect("body");
            assert_eq!(body.iter().map(Bytes::len).sum::<usize>() as u64, len);
            socket.write_all(b"head\r\n").await.expect("head");
            for chunk in body {
                socket.write_all(&chunk).await.expect("chunk");
            }
        }
        socket.shutdown().await.expect("shutdown");
        let got = reader.await.expect("reader");
        let mut expected = b"head\r\n".to_vec();
        expected.extend_from_slice(&data);
        expected.extend_from_slice(b"head\r\n");
        expected.extend_from_slice(&data[100..110]);
        assert!(got == expected, "{} bytes received, {} expected", got.len(), expected.len());
    }

    /// A stand-in is never sent as itself: without a registered range, or past its end, the
    /// write fails; a file shorter than its range fails instead of sending less.
    #[tokio::test]
    async fn unmatched_stand_ins_and_short_files_fail_the_write() {
        let (server, _client) = pair().await;
        let sender = FileSender::default();
        let mut socket = Socket::new(server, sender.clone());
        assert!(socket.write_all(&STAND_IN[..10]).await.is_err(), "nothing registered");

        let body: Vec<Bytes> = sender.send(file_of(b"short"), 0, 8).expect("free").try_collect().await.expect("body");
        assert!(sender.send(file_of(b"x"), 0, 1).is_none(), "the first range is still owed");
        let error = socket.write_all(&body[0]).await.expect_err("the file has 5 of 8 bytes");
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }
}
