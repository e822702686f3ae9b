//! UDP serving: one `SO_REUSEPORT` socket per core, each read by one task in batches.
//!
//! A socket's task serves one *generation* (one configuration). Synchronous answers are
//! encoded into reused buffers and sent back in one `sendmmsg`; answers that wait (forward)
//! are polled by the same task next to new packets. When a reload publishes a new
//! dispatcher, the task starts the next generation's task on the same socket and finishes
//! only its own in-flight queries, so no query is lost across a reload.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::watch;

use cairn_core::request::{Proto, Request};

use crate::dispatch::{finish, Dispatcher, Outcome};
use crate::sys::{self, RecvBatch, BATCH};

/// Binds `n` UDP sockets sharing `addr` through `SO_REUSEPORT`.
pub fn bind_reuseport(addr: SocketAddr, n: usize) -> io::Result<Vec<Arc<UdpSocket>>> {
    let mut out = Vec::with_capacity(n);
    let mut addr = addr;
    for _ in 0..n.max(1) {
        let domain = socket2::Domain::for_address(addr);
        let s = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
        s.set_reuse_port(true)?;
        if addr.is_ipv6() {
            s.set_only_v6(false).ok();
        }
        s.set_nonblocking(true)?;
        let _ = s.set_recv_buffer_size(4 << 20);
        s.bind(&addr.into())?;
        // Port 0: every further socket must share the port the first one got.
        addr = s.local_addr()?.as_socket().unwrap_or(addr);
        out.push(Arc::new(UdpSocket::from_std(s.into())?));
    }
    Ok(out)
}

/// Starts the serving task of one socket; it follows `current` across reloads and stops
/// when the sender is dropped.
pub fn spawn(socket: Arc<UdpSocket>, current: watch::Receiver<Arc<Dispatcher>>) {
    tokio::spawn(boxed_generation(socket, current));
}

/// Boxing breaks the type cycle of a generation task that spawns its successor.
fn boxed_generation(
    socket: Arc<UdpSocket>,
    current: watch::Receiver<Arc<Dispatcher>>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(generation(socket, current))
}

struct Slot {
    req: Box<Request>,
    out: Vec<u8>,
}

async fn generation(socket: Arc<UdpSocket>, mut current: watch::Receiver<Arc<Dispatcher>>) {
    let dispatcher = current.borrow_and_update().clone();
    let d = &*dispatcher;
    let local = socket
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut batch = RecvBatch::default();
    let mut pool: Vec<Box<Request>> = Vec::new();
    let mut slots: Vec<Slot> = Vec::with_capacity(BATCH);
    let mut spare_out: Vec<Vec<u8>> = Vec::new();
    let mut pending = FuturesUnordered::new();
    let mut reading = true;
    let fd = socket.as_raw_fd();
    loop {
        if !reading && pending.is_empty() {
            return;
        }
        tokio::select! {
            ready = socket.readable(), if reading => {
                if ready.is_err() {
                    reading = false;
                    continue;
                }
                let n = match socket.try_io(Interest::READABLE, || sys::recv_batch(fd, &mut batch)) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(_) => continue,
                };
                for i in 0..n {
                    let (bytes, from, truncated) = batch.get(i);
                    let Some(from) = from else { continue };
                    let mut req = pool.pop().unwrap_or_else(|| Box::new(Request::empty(d.server.clone())));
                    req.raw.clear();
                    req.raw.extend_from_slice(bytes);
                    if truncated {
                        // Longer than any query we accept: make it fail the parse.
                        req.raw.push(0);
                    }
                    req.client = from;
                    req.local = local;
                    req.proto = Proto::Udp;
                    req.received = std::time::Instant::now();
                    match d.handle(req) {
                        Outcome::Reply(mut req, msg) => {
                            let mut out = spare_out.pop().unwrap_or_default();
                            out.clear();
                            req.encode_reply(&msg, &mut out);
                            req.recycle(msg);
                            slots.push(Slot { req, out });
                        }
                        Outcome::Drop(req) => pool.push(req),
                        Outcome::Pending(f) => pending.push(f),
                    }
                }
                flush(&socket, &mut slots, &mut pool, &mut spare_out);
            }
            Some((req, result)) = pending.next(), if !pending.is_empty() => {
                if let Outcome::Reply(mut req, msg) = finish(req, result) {
                    let mut out = spare_out.pop().unwrap_or_default();
                    out.clear();
                    req.encode_reply(&msg, &mut out);
                    let _ = socket.try_send_to(&out, req.client);
                    req.recycle(msg);
                    spare_out.push(out);
                    pool.push(req);
                }
            }
            changed = current.changed(), if reading => {
                reading = false;
                if changed.is_ok() {
                    tokio::spawn(boxed_generation(socket.clone(), current.clone()));
                }
            }
        }
    }
}

/// Sends the batch of synchronous replies and returns their buffers to the pools.
// Requests stay boxed: they move between the pool and pending futures as one pointer.
#[allow(clippy::vec_box)]
fn flush(
    socket: &UdpSocket,
    slots: &mut Vec<Slot>,
    pool: &mut Vec<Box<Request>>,
    spare_out: &mut Vec<Vec<u8>>,
) {
    if slots.is_empty() {
        return;
    }
    let fd = socket.as_raw_fd();
    let mut items: [(&[u8], SocketAddr); BATCH] =
        [(&[], SocketAddr::from(([0, 0, 0, 0], 0))); BATCH];
    let n = slots.len().min(BATCH);
    for (item, slot) in items.iter_mut().zip(slots.iter()) {
        *item = (&slot.out, slot.req.client);
    }
    let mut sent = 0;
    while sent < n {
        match sys::send_batch(fd, &items[sent..n]) {
            Ok(0) => break,
            Ok(k) => sent += k,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Socket buffer full: fall back to one blocking-free try each, then give up.
                for (data, to) in &items[sent..n] {
                    let _ = socket.try_send_to(data, *to);
                }
                break;
            }
            Err(_) => {
                // One bad destination must not cost the rest of the batch.
                sent += 1;
            }
        }
    }
    for slot in slots.drain(..) {
        pool.push(slot.req);
        spare_out.push(slot.out);
    }
}
