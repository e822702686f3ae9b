//! Connections to one upstream, and the pool that keeps them between queries.
//!
//! As in CoreDNS, a connection carries one query at a time: it is taken from the pool (or
//! dialled), used for one exchange, and given back only when the exchange went well, so a
//! broken socket is never reused. UDP sockets are connected, so the kernel drops datagrams
//! from anyone but the upstream. The pool hands out its oldest idle connection first, which
//! spreads queries over more source ports, and forgets connections idle for longer than
//! `expire` (or older than `max_age`); a background sweep closes them even when no query
//! comes. Each connection owns the buffer its queries are written to and replies read into,
//! so a reused connection allocates nothing.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::metrics::ConnProto;

/// Which of the pool's two lists a connection belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Udp,
    /// TCP, or TLS for a DoT upstream.
    Stream,
}

impl Slot {
    fn index(self) -> usize {
        match self {
            Slot::Udp => 0,
            Slot::Stream => 1,
        }
    }
}

enum Io {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// What a read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// A reply of this many bytes (at the start of the buffer).
    Reply(usize),
    /// A UDP reply longer than the client may receive: only its header is worth reading.
    Oversize,
}

/// One connection with its buffer.
pub struct Conn {
    io: Io,
    buf: Vec<u8>,
    created: Instant,
}

impl Conn {
    /// The pool list this connection goes back to.
    pub fn slot(&self) -> Slot {
        match self.io {
            Io::Udp(_) => Slot::Udp,
            Io::Tcp(_) | Io::Tls(_) => Slot::Stream,
        }
    }

    /// Our end of the connection (for error messages).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match &self.io {
            Io::Udp(s) => s.local_addr().ok(),
            Io::Tcp(s) => s.local_addr().ok(),
            Io::Tls(s) => s.get_ref().0.local_addr().ok(),
        }
    }

    /// The bytes read by the last [`Conn::recv`].
    pub fn bytes(&self, n: usize) -> &[u8] {
        &self.buf[..n.min(self.buf.len())]
    }

    /// Writes one query, built by `write` into the connection's buffer (behind the length
    /// prefix on streams).
    pub async fn send(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        self.buf.clear();
        let stream = self.slot() == Slot::Stream;
        if stream {
            self.buf.extend_from_slice(&[0, 0]);
        }
        write(&mut self.buf);
        if stream {
            let len = u16::try_from(self.buf.len() - 2)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "query too long"))?;
            self.buf[..2].copy_from_slice(&len.to_be_bytes());
        }
        match &mut self.io {
            Io::Udp(s) => s.send(&self.buf).await.map(drop),
            Io::Tcp(s) => s.write_all(&self.buf).await,
            Io::Tls(s) => {
                s.write_all(&self.buf).await?;
                s.flush().await
            }
        }
    }

    /// Reads until a message with `id` arrives (others are stale or forged and skipped). On
    /// UDP a datagram longer than `limit` bytes is reported as [`Received::Oversize`].
    pub async fn recv(&mut self, id: u16, limit: usize) -> io::Result<Received> {
        loop {
            let n = match &mut self.io {
                Io::Udp(s) => {
                    // One byte more than allowed tells an oversize datagram from a full one;
                    // the datagram lands in spare capacity, nothing is zero-filled first.
                    self.buf.clear();
                    self.buf.reserve(limit + 1);
                    let n = s.recv_buf(&mut self.buf).await?;
                    if n < 12 {
                        continue;
                    }
                    if n > limit {
                        if self.buf[..2] == id.to_be_bytes() {
                            return Ok(Received::Oversize);
                        }
                        continue;
                    }
                    n
                }
                Io::Tcp(s) => read_frame(s, &mut self.buf).await?,
                Io::Tls(s) => read_frame(s.as_mut(), &mut self.buf).await?,
            };
            if self.buf[..2] == id.to_be_bytes() {
                return Ok(Received::Reply(n));
            }
        }
    }

    /// The header bytes of the last datagram read.
    pub fn header(&self) -> [u8; 12] {
        let mut h = [0u8; 12];
        let n = self.buf.len().min(12);
        h[..n].copy_from_slice(&self.buf[..n]);
        h
    }
}

/// Reads one length-prefixed message into `buf`; its length.
async fn read_frame<S: tokio::io::AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut Vec<u8>,
) -> io::Result<usize> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await?;
    let len = usize::from(u16::from_be_bytes(len));
    if len < 12 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "message shorter than a DNS header",
        ));
    }
    buf.resize(len, 0);
    s.read_exact(&mut buf[..len]).await?;
    Ok(len)
}

/// How to reach an upstream over TLS.
#[derive(Clone)]
pub struct TlsDial {
    pub connector: TlsConnector,
    pub name: ServerName<'static>,
}

/// Opens a new connection to `addr`, from `source` when set, within `timeout`.
pub async fn dial(
    addr: SocketAddr,
    slot: Slot,
    tls: Option<&TlsDial>,
    source: Option<IpAddr>,
    timeout: Duration,
) -> io::Result<Conn> {
    let io = tokio::time::timeout(timeout, async {
        match slot {
            Slot::Udp => {
                let sock = UdpSocket::bind(SocketAddr::new(local_ip(addr, source), 0)).await?;
                sock.connect(addr).await?;
                Ok::<Io, io::Error>(Io::Udp(sock))
            }
            Slot::Stream => {
                let sock = if addr.is_ipv4() {
                    TcpSocket::new_v4()?
                } else {
                    TcpSocket::new_v6()?
                };
                if source.is_some() {
                    sock.bind(SocketAddr::new(local_ip(addr, source), 0))?;
                }
                let stream = sock.connect(addr).await?;
                stream.set_nodelay(true)?;
                match tls {
                    None => Ok(Io::Tcp(stream)),
                    Some(t) => {
                        let s = t.connector.connect(t.name.clone(), stream).await?;
                        Ok(Io::Tls(Box::new(s)))
                    }
                }
            }
        }
    })
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "i/o timeout"))??;
    Ok(Conn {
        io,
        buf: Vec::new(),
        created: Instant::now(),
    })
}

/// The local address to bind: `source_address`, else the unspecified address of the
/// upstream's family.
fn local_ip(addr: SocketAddr, source: Option<IpAddr>) -> IpAddr {
    match source {
        Some(ip) => ip,
        None if addr.is_ipv4() => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

struct Idle {
    conn: Conn,
    used: Instant,
}

/// Idle connections of one upstream.
pub struct Pool {
    lists: [Mutex<VecDeque<Idle>>; 2],
    /// Idle time after which a connection is closed.
    expire: Duration,
    /// Total age after which a connection is closed (zero: no limit).
    max_age: Duration,
    /// Most idle connections kept per list (zero: no limit).
    max_idle: usize,
}

impl Pool {
    pub fn new(expire: Duration, max_age: Duration, max_idle: usize) -> Pool {
        Pool {
            lists: [Mutex::new(VecDeque::new()), Mutex::new(VecDeque::new())],
            expire,
            max_age,
            max_idle,
        }
    }

    fn usable(&self, idle: &Idle, now: Instant) -> bool {
        now.duration_since(idle.used) <= self.expire
            && (self.max_age.is_zero() || now.duration_since(idle.conn.created) <= self.max_age)
    }

    /// The oldest idle connection still usable, if any.
    pub fn take(&self, slot: Slot) -> Option<Conn> {
        let now = Instant::now();
        let mut list = self.lists[slot.index()]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        while let Some(idle) = list.pop_front() {
            if self.usable(&idle, now) {
                return Some(idle.conn);
            }
        }
        None
    }

    /// Gives a connection back after a good exchange.
    pub fn put(&self, conn: Conn) {
        let mut list = self.lists[conn.slot().index()]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if self.max_idle > 0 && list.len() >= self.max_idle {
            return;
        }
        list.push_back(Idle {
            conn,
            used: Instant::now(),
        });
    }

    /// Closes the connections that expired while idle.
    pub fn sweep(&self) {
        let now = Instant::now();
        for list in &self.lists {
            let mut list = list.lock().unwrap_or_else(|e| e.into_inner());
            list.retain(|idle| self.usable(idle, now));
        }
    }

    /// Closes every idle connection.
    pub fn clear(&self) {
        for list in &self.lists {
            list.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }

    /// Idle connections in one list.
    #[cfg(test)]
    pub fn idle(&self, slot: Slot) -> usize {
        self.lists[slot.index()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// How often the background sweep should run.
    pub fn sweep_interval(&self) -> Duration {
        self.expire.max(Duration::from_millis(100))
    }
}

/// The `proto` label of a connection in `slot` to an upstream that is (or not) DoT.
pub fn conn_proto(slot: Slot, tls: bool) -> ConnProto {
    match (slot, tls) {
        (_, true) => ConnProto::TcpTls,
        (Slot::Udp, false) => ConnProto::Udp,
        (Slot::Stream, false) => ConnProto::Tcp,
    }
}
