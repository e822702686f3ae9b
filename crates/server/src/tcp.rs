//! DNS over TCP: length-prefixed messages, pipelined (several queries in flight per
//! connection, answered as they finish), an idle timeout, and a cap on open connections.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use cairn_core::request::{Proto, Request};
use cairn_core::wire::Message;

use crate::dispatch::{finish, Dispatcher, Outcome};

/// Limits for TCP serving.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    /// Close a connection with nothing in flight after this long without a query.
    pub idle_timeout: Duration,
    /// Refuse (close at once) connections beyond this many.
    pub max_connections: usize,
    /// Queries in flight per connection before reading pauses.
    pub max_in_flight: usize,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            idle_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_in_flight: 64,
        }
    }
}

/// Binds a TCP listener with `SO_REUSEADDR`.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let domain = socket2::Domain::for_address(addr);
    let s = socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
    s.set_reuse_address(true)?;
    // As CoreDNS: lets a listener bound to one address share its port with a wildcard
    // listener of another block (the kernel gives each connection to the most specific one).
    s.set_reuse_port(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(false).ok();
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    TcpListener::from_std(s.into())
}

/// Accepts connections until the sender of `current` is dropped.
pub fn spawn(
    listener: Arc<TcpListener>,
    current: watch::Receiver<Arc<Dispatcher>>,
    limits: TcpLimits,
) {
    tokio::spawn(async move {
        let open = Arc::new(AtomicUsize::new(0));
        let mut watch_close = current.clone();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, peer)) = accepted else { continue };
                    if open.load(Ordering::Relaxed) >= limits.max_connections {
                        drop(stream);
                        continue;
                    }
                    open.fetch_add(1, Ordering::Relaxed);
                    let open = open.clone();
                    let current = current.clone();
                    tokio::spawn(async move {
                        let _ = connection(stream, peer, current, limits).await;
                        open.fetch_sub(1, Ordering::Relaxed);
                    });
                }
                changed = watch_close.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    });
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    mut current: watch::Receiver<Arc<Dispatcher>>,
    limits: TcpLimits,
) -> io::Result<()> {
    stream.set_nodelay(true).ok();
    let local = stream.local_addr()?;
    let (mut rd, mut wr) = stream.into_split();
    // Bytes read but not yet served; reads are cancel-safe because they only append here.
    let mut inbuf: Vec<u8> = Vec::with_capacity(1024);
    let mut out = Vec::with_capacity(512);
    let mut closed = false;
    loop {
        // One configuration generation: serve with it until a reload, then switch once
        // nothing is in flight.
        let dispatcher = current.borrow_and_update().clone();
        let d = &*dispatcher;
        let mut pending = FuturesUnordered::new();
        let mut reload = false;
        let mut deadline = tokio::time::Instant::now() + limits.idle_timeout;
        loop {
            while !reload && pending.len() < limits.max_in_flight {
                let Some(frame_len) = complete_frame(&inbuf) else {
                    break;
                };
                let mut req = Box::new(Request::empty(d.server.clone()));
                req.raw.extend_from_slice(&inbuf[2..2 + frame_len]);
                inbuf.drain(..2 + frame_len);
                req.client = peer;
                req.local = local;
                req.proto = Proto::Tcp;
                req.received = std::time::Instant::now();
                match d.handle(req) {
                    Outcome::Reply(mut req, msg) => send(&mut wr, &mut req, &msg, &mut out).await?,
                    Outcome::Drop(_) => {}
                    Outcome::Pending(f) => pending.push(f),
                }
            }
            if (closed || reload) && pending.is_empty() {
                break;
            }
            // Read only while no complete message waits, so the buffer stays under one frame.
            let can_read = !closed
                && !reload
                && pending.len() < limits.max_in_flight
                && complete_frame(&inbuf).is_none();
            tokio::select! {
                r = rd.read_buf(&mut inbuf), if can_read => {
                    match r {
                        Ok(0) => closed = true,
                        Ok(_) => deadline = tokio::time::Instant::now() + limits.idle_timeout,
                        Err(e) => return Err(e),
                    }
                }
                Some((req, result)) = pending.next(), if !pending.is_empty() => {
                    if let Outcome::Reply(mut req, msg) = finish(req, result) {
                        send(&mut wr, &mut req, &msg, &mut out).await?;
                    }
                    deadline = tokio::time::Instant::now() + limits.idle_timeout;
                }
                () = tokio::time::sleep_until(deadline), if !closed && pending.is_empty() => {
                    closed = true;
                }
                changed = current.changed(), if !reload && !closed => {
                    if changed.is_err() {
                        closed = true;
                    } else {
                        reload = true;
                    }
                }
            }
        }
        if closed {
            let _ = wr.shutdown().await;
            return Ok(());
        }
    }
}

/// Length of the first complete length-prefixed message in `buf`, if there is one.
fn complete_frame(buf: &[u8]) -> Option<usize> {
    let n = usize::from(u16::from_be_bytes([*buf.first()?, *buf.get(1)?]));
    (buf.len() >= 2 + n).then_some(n)
}

async fn send(
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
    req: &mut Request,
    msg: &Message,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    out.clear();
    if req.is_transfer_stream(msg) {
        req.encode_transfer(msg, out);
        return wr.write_all(out).await;
    }
    out.extend_from_slice(&[0, 0]);
    req.encode_reply(msg, out);
    let len = (out.len() - 2) as u16;
    out[..2].copy_from_slice(&len.to_be_bytes());
    wr.write_all(out).await
}
