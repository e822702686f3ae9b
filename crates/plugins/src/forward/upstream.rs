//! One upstream: its address and transport, its connection pool, its health state, and one
//! query/reply exchange with it.
//!
//! The exchange follows CoreDNS's proxy: the client's query goes out as it came (EDNS and
//! all) under a fresh random id; the reply must carry that id (others are skipped); the
//! client's id goes back on the reply. Dial timeouts adapt to observed dial times between
//! 1 s and 30 s, writes get 2 s, reads `read_timeout`. Unlike CoreDNS, no step may outlive
//! the query's overall budget, so a query never takes longer than that budget.
//!
//! Errors name the upstream, in Go's shape (`read udp 10.0.0.1:41000->10.0.0.2:53: i/o
//! timeout`), because that is the line operators look for in the `errors` log.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use cairn_core::wire::{Flags, Message, Question, Rcode, WireError};
use cairn_core::{Proto, Request};

use super::metrics::{FailureReason, UpstreamMetrics};
use super::policy::random_id;
use super::pool::{conn_proto, dial, Conn, Pool, Received, Slot, TlsDial};

/// Shortest and longest dial timeout.
const MIN_DIAL_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_DIAL_TIMEOUT: Duration = Duration::from_secs(30);
/// Weight of a new observation in the dial-time average.
const DIAL_AVG_WEIGHT: i64 = 4;
/// Write deadline.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why an exchange gave no reply.
#[derive(Debug)]
pub enum ExchangeError {
    /// A pooled stream had been closed by the upstream: retry on another connection.
    CachedClosed,
    /// An I/O failure (or timeout) while dialling, writing or reading.
    Io {
        op: &'static str,
        net: &'static str,
        local: Option<SocketAddr>,
        remote: SocketAddr,
        err: io::Error,
    },
    /// The reply could not be read as a DNS message.
    BadReply { remote: SocketAddr, err: WireError },
    /// The query's overall budget ran out before this exchange could start.
    NoTime,
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExchangeError::CachedClosed => f.write_str("cached connection was closed by peer"),
            ExchangeError::Io {
                op,
                net,
                local,
                remote,
                err,
            } => {
                write!(f, "{op} {net} ")?;
                if let Some(l) = local {
                    write!(f, "{l}->")?;
                }
                write!(f, "{remote}: ")?;
                go_error_text(err, f)
            }
            ExchangeError::BadReply { remote, err } => {
                write!(f, "bad reply from {remote}: {err}")
            }
            ExchangeError::NoTime => f.write_str("i/o timeout"),
        }
    }
}

impl ExchangeError {
    /// The `reason` label of this failure.
    pub fn reason(&self) -> FailureReason {
        match self {
            ExchangeError::Io { err, .. } => match err.kind() {
                io::ErrorKind::TimedOut => FailureReason::Timeout,
                io::ErrorKind::ConnectionRefused => FailureReason::Refused,
                io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe => FailureReason::Closed,
                _ if err
                    .get_ref()
                    .is_some_and(|inner| inner.is::<rustls::Error>()) =>
                {
                    FailureReason::Tls
                }
                _ => FailureReason::Other,
            },
            ExchangeError::BadReply { .. } => FailureReason::Malformed,
            ExchangeError::NoTime => FailureReason::Timeout,
            ExchangeError::CachedClosed => FailureReason::Closed,
        }
    }
}

/// The short texts Go prints for common socket errors.
fn go_error_text(err: &io::Error, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match err.kind() {
        io::ErrorKind::TimedOut => f.write_str("i/o timeout"),
        io::ErrorKind::ConnectionRefused => f.write_str("connect: connection refused"),
        io::ErrorKind::ConnectionReset => f.write_str("connection reset by peer"),
        io::ErrorKind::UnexpectedEof => f.write_str("EOF"),
        io::ErrorKind::BrokenPipe => f.write_str("broken pipe"),
        _ => write!(f, "{err}"),
    }
}

/// One upstream server.
pub struct Upstream {
    pub addr: SocketAddr,
    tls: Option<TlsDial>,
    source: Option<IpAddr>,
    read_timeout: Duration,
    /// Consecutive failed health checks.
    fails: AtomicU32,
    /// A health-check loop runs (or has been asked for).
    pub(crate) probing: AtomicBool,
    pub(crate) pool: Pool,
    /// Moving average of dial times, in nanoseconds.
    avg_dial: AtomicI64,
    pub(crate) metrics: UpstreamMetrics,
}

/// Per-upstream settings shared by all upstreams of one `forward`.
#[derive(Debug, Clone, Copy)]
pub struct ConnSettings {
    pub expire: Duration,
    pub max_age: Duration,
    pub max_idle: usize,
    pub read_timeout: Duration,
    pub source: Option<IpAddr>,
}

impl Upstream {
    pub fn new(addr: SocketAddr, tls: Option<TlsDial>, s: ConnSettings) -> Upstream {
        Upstream {
            addr,
            // `to` is `ip:port` (`[v6]:port`).
            metrics: UpstreamMetrics::new(&addr.to_string()),
            tls,
            source: s.source,
            read_timeout: s.read_timeout,
            fails: AtomicU32::new(0),
            probing: AtomicBool::new(false),
            pool: Pool::new(s.expire, s.max_age, s.max_idle),
            avg_dial: AtomicI64::new((MAX_DIAL_TIMEOUT / 2).as_nanos() as i64),
        }
    }

    /// True for a DNS-over-TLS upstream.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// How to dial it over TLS, if it is a DoT upstream.
    pub fn tls(&self) -> Option<&TlsDial> {
        self.tls.as_ref()
    }

    /// `source_address`, if set.
    pub fn source(&self) -> Option<IpAddr> {
        self.source
    }

    /// Consecutive failed health checks.
    pub fn fails(&self) -> u32 {
        self.fails.load(Ordering::Relaxed)
    }

    /// Down: more consecutive failed health checks than `max_fails` (never with 0).
    pub fn is_down(&self, max_fails: u32) -> bool {
        max_fails != 0 && self.fails() > max_fails
    }

    /// Counts a failed health check.
    pub fn health_failed(&self) {
        self.metrics.healthcheck_failures.get().inc();
        let _ = self
            .fails
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |f| f.checked_add(1));
    }

    /// A health check succeeded: the upstream is up again.
    pub fn health_ok(&self) {
        self.fails.store(0, Ordering::Relaxed);
    }

    /// Dial timeout from the observed dial times: twice the average, within 1 s..30 s.
    pub fn dial_timeout(&self) -> Duration {
        let avg = Duration::from_nanos(self.avg_dial.load(Ordering::Relaxed).max(0) as u64);
        if avg < MIN_DIAL_TIMEOUT {
            MIN_DIAL_TIMEOUT
        } else if avg < MAX_DIAL_TIMEOUT / 2 {
            2 * avg
        } else {
            MAX_DIAL_TIMEOUT
        }
    }

    fn observe_dial(&self, took: Duration) {
        let took = took.as_nanos().min(i64::MAX as u128) as i64;
        let avg = self.avg_dial.load(Ordering::Relaxed);
        self.avg_dial
            .fetch_add((took - avg) / DIAL_AVG_WEIGHT, Ordering::Relaxed);
    }

    fn slot_for(&self, proto: Proto) -> Slot {
        if self.tls.is_some() || proto == Proto::Tcp {
            Slot::Stream
        } else {
            Slot::Udp
        }
    }

    fn net(&self, slot: Slot) -> &'static str {
        match (slot, self.tls.is_some()) {
            (_, true) => "tcp-tls",
            (Slot::Udp, _) => "udp",
            (Slot::Stream, _) => "tcp",
        }
    }

    /// Sends `req` over `proto` (TLS for a DoT upstream) and waits for the reply, finishing
    /// by `end`. The reply carries the client's id.
    pub async fn exchange(
        &self,
        req: &Request,
        proto: Proto,
        end: Instant,
    ) -> Result<Message, ExchangeError> {
        let start = Instant::now();
        let slot = self.slot_for(proto);
        let net = self.net(slot);
        let left = |cap: Duration| -> Option<Duration> {
            end.checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
                .map(|d| d.min(cap))
        };
        let cached = self.pool.take(slot);
        self.metrics
            .conn_cache(conn_proto(slot, self.is_tls()), cached.is_some());
        let is_cached = cached.is_some();
        let mut conn = match cached {
            Some(c) => c,
            None => {
                let timeout = left(self.dial_timeout()).ok_or(ExchangeError::NoTime)?;
                let began = Instant::now();
                let c = dial(self.addr, slot, self.tls.as_ref(), self.source, timeout).await;
                self.observe_dial(began.elapsed());
                c.map_err(|err| ExchangeError::Io {
                    op: "dial",
                    net,
                    local: None,
                    remote: self.addr,
                    err,
                })?
            }
        };
        let io_error = |op, conn: &Conn, err: io::Error| {
            if is_cached && slot == Slot::Stream && closed_by_peer(&err) {
                ExchangeError::CachedClosed
            } else {
                ExchangeError::Io {
                    op,
                    net,
                    local: conn.local_addr(),
                    remote: self.addr,
                    err,
                }
            }
        };

        let id = random_id();
        let timeout = left(WRITE_TIMEOUT).ok_or(ExchangeError::NoTime)?;
        match tokio::time::timeout(timeout, conn.send(|buf| write_query(buf, req, id))).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(io_error("write", &conn, e)),
            Err(_) => return Err(io_error("write", &conn, timed_out())),
        }

        let limit = req.max_reply_size().clamp(512, 65535);
        let timeout = left(self.read_timeout).ok_or(ExchangeError::NoTime)?;
        let received = match tokio::time::timeout(timeout, conn.recv(id, limit)).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(io_error("read", &conn, e)),
            Err(_) => return Err(io_error("read", &conn, timed_out())),
        };
        let mut reply = match received {
            Received::Reply(n) => {
                Message::parse(conn.bytes(n)).map_err(|err| ExchangeError::BadReply {
                    remote: self.addr,
                    err,
                })?
            }
            Received::Oversize => truncated_reply(&conn.header(), req),
        };
        self.pool.put(conn);
        reply.id = req.info.id;
        self.metrics
            .request_duration(reply.rcode, start.elapsed().as_secs_f64());
        Ok(reply)
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "i/o timeout")
}

/// A pooled stream the upstream closed while it sat idle.
fn closed_by_peer(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

/// The query as sent upstream: the client's message under `id`, with the question as the
/// request now holds it (a plugin may have rewritten the name) and everything after the
/// question (EDNS, TSIG) as received.
pub fn write_query(buf: &mut Vec<u8>, req: &Request, id: u16) {
    let raw = &req.raw;
    buf.extend_from_slice(&id.to_be_bytes());
    buf.extend_from_slice(&raw[2..12]);
    buf.extend_from_slice(req.info.qname.wire());
    buf.extend_from_slice(&req.info.qtype.0.to_be_bytes());
    buf.extend_from_slice(&req.info.qclass.to_be_bytes());
    buf.extend_from_slice(raw.get(req.info.question.end..).unwrap_or(&[]));
}

/// What CoreDNS returns for a UDP reply too long to read: the header's flags and rcode,
/// the question, no records, TC set, so the client retries over TCP.
fn truncated_reply(header: &[u8; 12], req: &Request) -> Message {
    let word = u16::from_be_bytes([header[2], header[3]]);
    let mut flags = Flags::from_word(word);
    flags.tc = true;
    Message {
        id: req.info.id,
        opcode: ((word >> 11) & 0xF) as u8,
        flags,
        rcode: Rcode(word & 0xF),
        question: Some(Question {
            name: req.info.qname.to_name(),
            qtype: req.info.qtype,
            qclass: req.info.qclass,
        }),
        ..Message::default()
    }
}
