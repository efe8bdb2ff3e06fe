//! The accept loop: HTTP/1.1 connections with the limits that keep slow, stalled or greedy
//! clients from tying the server up (SPEC §11): headers must arrive within [`HEADER_TIMEOUT`] and
//! fit in [`MAX_HEAD`] bytes; a response the client stops reading is cut off after the write
//! timeout ([`StallGuard`]); connections are capped in all (the loop stops accepting) and per
//! client address (the next one is answered 503). Shutdown stops accepting, lets in-flight
//! requests finish (bounded by [`DRAIN`]), then returns.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use dataport_core::config::{Limits, ProxyList};
use dataport_core::download::DownloadLog;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::Sleep;

use crate::slots::Slots;
use crate::zero_copy::{FileSender, Socket};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// A client must finish sending its request head within this.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head (request line and headers); larger gets 431.
pub const MAX_HEAD: usize = 64 * 1024;
/// How long shutdown waits for open connections.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `shutdown` resolves. `proxies` are exempt from the
/// per-address cap (every client behind them shares their address).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    proxies: ProxyList,
    shutdown: impl Future<Output = ()>,
) {
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let permits = Arc::new(Semaphore::new(limits.connections.max(1)));
    let per_address = Arc::new(Slots::default());
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let ip = peer.ip().to_canonical();
        let trusted = proxies.contains(ip);
        let slot = if trusted { None } else { per_address.take(&[(ip.to_string(), limits.connections_per_address)]) };
        if slot.is_none() && !trusted {
            tracing::warn!(%peer, "too many connections from one address");
            connections.spawn(async move {
                refuse(stream).await;
                drop(permit);
            });
            continue;
        }
        let sender = FileSender::default();
        let log = DownloadLog::default();
        let socket = Socket::new(stream, sender.clone());
        let service = router.clone().map_request(move |mut request: axum::extract::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(sender.clone());
            request.extensions_mut().insert(log.clone());
            request.map(axum::body::Body::new)
        });
        let mut closing = closing_rx.clone();
        let write_timeout = limits.write_timeout;
        connections.spawn(async move {
            let _held = (permit, slot);
            let mut builder = http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT).max_buf_size(MAX_HEAD);
            builder.writev(true); // body chunks reach the socket as they are: see zero_copy
            let io = TokioIo::new(StallGuard::new(socket, write_timeout));
            let connection = builder.serve_connection(io, TowerToHyperService::new(service));
            let connection = connection.with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => log_end(result, peer),
                _ = closing.changed() => {
                    connection.as_mut().graceful_shutdown();
                    log_end(connection.await, peer);
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    let _ = closing_tx.send(true);
    let _ = tokio::time::timeout(DRAIN, async { while connections.join_next().await.is_some() {} }).await;
}

fn log_end(result: Result<(), hyper::Error>, peer: SocketAddr) {
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}

/// Answers a connection over the per-address cap with a 503 envelope, then closes it (after a
/// short, bounded linger so that the client reads the answer rather than a reset).
async fn refuse(mut stream: TcpStream) {
    const BODY: &str = r#"{"error":{"code":503,"message":"Too many connections from your address; retry later.","status":"UNAVAILABLE"}}"#;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=UTF-8\r\n\
         Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let linger = async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        io::Result::Ok(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), linger).await;
}

/// A connection whose writes must make progress: a write that stays blocked for `timeout`
/// fails with `TimedOut`, which ends the connection. This is what frees a response, and the
/// memory and download slot it holds, from a client that stopped reading; a client that reads
/// slowly but steadily is not affected.
pub struct StallGuard<T> {
    inner: T,
    timeout: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> StallGuard<T> {
    pub fn new(inner: T, timeout: Duration) -> Self {
        Self { inner, timeout, stalled: None }
    }

    /// Called when the inner write is pending: pending until the stall outlasts the timeout.
    fn stall<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let timeout = self.timeout;
        let sleep = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading the response")))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn progress<R>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match polled {
            Poll::Pending => self.stall(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallGuard<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallGuard<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.progress(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.progress(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.progress(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_that_stays_blocked_times_out_and_progress_resets_the_clock() {
        let (client, server) = tokio::io::duplex(16);
        let mut guarded = StallGuard::new(server, Duration::from_millis(200));
        guarded.write_all(&[0u8; 16]).await.expect("fits the buffer");
        let mut client = client;
        // Reading a little every 100 ms keeps the writer alive past several timeouts.
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 4];
            for _ in 0..8 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                client.read_exact(&mut buf).await.expect("read");
            }
            client
        });
        guarded.write_all(&[1u8; 32]).await.expect("steady progress is not a stall");
        let _client = reader.await.expect("reader");
        let started = std::time::Instant::now();
        let error = guarded.write_all(&[2u8; 64]).await.expect_err("nobody reads");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(200));
    }
}
