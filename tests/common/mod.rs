//! Harness for the integration tests: runs the real `cairn` binary on 127.0.0.1 and talks to
//! it over real UDP and TCP, building queries and reading replies with `hickory-proto` (an
//! implementation independent of ours).
//!
//! Each test binary uses part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};

/// Longest a test waits for a server to start answering.
pub const READY_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a test waits for a reply that must come.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// The binary under test.
pub fn cairn_bin() -> &'static str {
    env!("CARGO_BIN_EXE_cairn")
}

// ---------------------------------------------------------------------------------------------
// Ports and directories
// ---------------------------------------------------------------------------------------------

/// A port free for both UDP and TCP on 127.0.0.1 right now, never handed out twice by this
/// process (so two tests running in parallel never race for the same port).
pub fn free_port() -> u16 {
    static USED: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    for _ in 0..200 {
        let Ok(udp) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)) else {
            continue;
        };
        let Ok(addr) = udp.local_addr() else { continue };
        let port = addr.port();
        let mut used = USED.lock().unwrap_or_else(|e| e.into_inner());
        let used = used.get_or_insert_with(HashSet::new);
        if used.contains(&port) {
            continue;
        }
        // The server binds every address; make sure the wildcard is free too.
        let tcp_ok = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok();
        drop(udp);
        let udp_ok = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok();
        if tcp_ok && udp_ok {
            used.insert(port);
            return port;
        }
    }
    panic!("no free UDP+TCP port found on 127.0.0.1");
}

/// A fresh, empty directory under the system temp dir, removed when dropped.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("cairn-it-{}-{tag}-{n}-{nanos}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `text` to `name` inside the directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path.join(name);
        std::fs::write(&p, text).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

/// A query id not used before by this process (wraps after 65536 queries; fine for tests).
pub fn next_id() -> u16 {
    static ID: AtomicU16 = AtomicU16::new(0x1000);
    ID.fetch_add(1, Ordering::Relaxed)
}

/// A query for `name`/`rtype` in class IN, RD set, no EDNS.
pub fn query(name: &str, rtype: RecordType) -> Message {
    query_class(name, rtype, DNSClass::IN)
}

/// A query for `name`/`rtype` in `class`, RD set, no EDNS.
pub fn query_class(name: &str, rtype: RecordType, class: DNSClass) -> Message {
    let mut m = Message::new(next_id(), MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    let mut q = Query::query(Name::from_ascii(name).expect("test name"), rtype);
    q.set_query_class(class);
    m.add_query(q);
    m
}

/// Adds an OPT record with this UDP size and EDNS version.
pub fn with_edns(mut m: Message, udp_size: u16, version: u8) -> Message {
    let mut e = Edns::new();
    e.set_max_payload(udp_size);
    e.set_version(version);
    m.set_edns(e);
    m
}

/// Wire bytes of a message.
pub fn to_wire(m: &Message) -> Vec<u8> {
    m.to_vec().expect("encode test query")
}

/// Parses a reply with hickory; panics with the bytes when it does not parse.
pub fn parse(bytes: &[u8]) -> Message {
    Message::from_vec(bytes).unwrap_or_else(|e| panic!("reply does not parse ({e}): {bytes:02x?}"))
}

/// The id of a raw message.
pub fn id_of(bytes: &[u8]) -> u16 {
    u16::from_be_bytes([bytes[0], bytes[1]])
}

/// The header RCODE (low 4 bits) of a raw message.
pub fn header_rcode(bytes: &[u8]) -> u8 {
    bytes[3] & 0x0F
}

/// The full (extended) response code of a parsed reply.
pub fn rcode(m: &Message) -> u16 {
    u16::from(m.metadata.response_code)
}

// ---------------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------------

/// A UDP client socket connected to a server.
pub struct UdpClient {
    pub sock: UdpSocket,
}

impl UdpClient {
    pub fn new(server: SocketAddr) -> UdpClient {
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind client socket");
        sock.connect(server).expect("connect client socket");
        UdpClient { sock }
    }

    pub fn local_port(&self) -> u16 {
        self.sock.local_addr().expect("local addr").port()
    }

    /// Receives one datagram within `timeout`; `None` on timeout (or ICMP refused).
    pub fn recv(&self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 65535];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            if left.is_zero() {
                return None;
            }
            self.sock.set_read_timeout(Some(left)).ok()?;
            match self.sock.recv(&mut buf) {
                Ok(n) => return Some(buf[..n].to_vec()),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None
                }
                // ECONNREFUSED from an earlier datagram: nobody listening yet.
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    }

    /// Sends raw bytes and returns the first datagram that comes back within `timeout`.
    pub fn raw(&self, bytes: &[u8], timeout: Duration) -> Option<Vec<u8>> {
        self.sock.send(bytes).ok()?;
        self.recv(timeout)
    }

    /// Sends raw bytes and waits for a reply carrying `id`; other datagrams are skipped.
    pub fn raw_id(&self, bytes: &[u8], id: u16, timeout: Duration) -> Option<Vec<u8>> {
        self.sock.send(bytes).ok()?;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let r = self.recv(left)?;
            if r.len() >= 2 && id_of(&r) == id {
                return Some(r);
            }
        }
    }

    /// Sends `bytes`, then a valid query (the fence) with an id that differs from `bytes`'s,
    /// and returns every datagram that arrived before the fence's reply. A server reads one
    /// socket's packets in order, so a packet it answers is answered before the fence; an
    /// empty list means it was dropped, without waiting for a timeout. Panics when the fence
    /// itself is not answered (the server died).
    pub fn fenced(&self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let packet_id = if bytes.len() >= 2 { id_of(bytes) } else { 0 };
        let mut fence = query("fence.cairn-test.invalid.", RecordType::A);
        fence.metadata.id = packet_id ^ 0x5A5A;
        let fence_id = fence.metadata.id;
        let _ = self.sock.send(bytes);
        self.sock.send(&to_wire(&fence)).expect("send fence");
        let mut before = Vec::new();
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_default();
            let Some(r) = self.recv(left) else {
                panic!("fence query not answered: the server is gone (after {bytes:02x?})");
            };
            if r.len() >= 4 && id_of(&r) == fence_id && r[2] & 0x80 != 0 {
                return before;
            }
            before.push(r);
        }
    }

    /// Sends a query and returns the reply with its id, resending up to three times.
    pub fn query(&self, m: &Message) -> Message {
        parse(&self.query_raw(&to_wire(m), m.metadata.id))
    }

    /// Like [`UdpClient::query`], returning the raw reply bytes.
    pub fn query_raw(&self, bytes: &[u8], id: u16) -> Vec<u8> {
        for _ in 0..3 {
            if let Some(r) = self.raw_id(bytes, id, REPLY_TIMEOUT) {
                return r;
            }
        }
        panic!("no UDP reply for query id {id}");
    }
}

/// A TCP connection to a server (2-byte length framing).
pub struct TcpClient {
    pub stream: TcpStream,
}

impl TcpClient {
    pub fn connect(server: SocketAddr) -> TcpClient {
        let stream =
            TcpStream::connect_timeout(&server, REPLY_TIMEOUT).expect("connect to server (TCP)");
        stream.set_nodelay(true).ok();
        TcpClient { stream }
    }

    pub fn local_port(&self) -> u16 {
        self.stream.local_addr().expect("local addr").port()
    }

    /// Writes one length-prefixed frame.
    pub fn send_frame(&mut self, bytes: &[u8]) {
        let len = u16::try_from(bytes.len()).expect("frame fits in 64 KiB");
        let mut buf = Vec::with_capacity(bytes.len() + 2);
        buf.extend_from_slice(&len.to_be_bytes());
        buf.extend_from_slice(bytes);
        self.stream.write_all(&buf).expect("write frame");
    }

    /// Reads one frame; `None` on timeout or when the server closed the connection.
    pub fn read_frame(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        self.stream.set_read_timeout(Some(timeout)).ok()?;
        let mut len = [0u8; 2];
        self.stream.read_exact(&mut len).ok()?;
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        self.stream.read_exact(&mut buf).ok()?;
        Some(buf)
    }

    /// True when the server closed the connection (EOF) within `timeout`.
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        self.stream.set_read_timeout(Some(timeout)).ok();
        let mut b = [0u8; 1];
        matches!(self.stream.read(&mut b), Ok(0))
    }

    pub fn query(&mut self, m: &Message) -> Message {
        self.send_frame(&to_wire(m));
        let r = self
            .read_frame(REPLY_TIMEOUT)
            .unwrap_or_else(|| panic!("no TCP reply for query id {}", m.metadata.id));
        parse(&r)
    }
}

// ---------------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------------

/// How the Corefile reaches the server.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ConfSource {
    File,
    Stdin,
}

/// A `cairn` process serving on 127.0.0.1; killed when dropped.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub dir: TempDir,
    pub corefile: PathBuf,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// Why a server did not come up.
#[derive(Debug)]
pub struct StartFailure {
    pub status: Option<ExitStatus>,
    pub stderr: String,
}

/// Replaces `{PORT}` in Corefile text.
pub fn fill(template: &str, port: u16) -> String {
    template.replace("{PORT}", &port.to_string())
}

impl Server {
    /// Starts `cairn` with this Corefile (`{PORT}` replaced by the chosen port, which is also
    /// the `-dns.port` default), waits until it answers, and panics if it cannot start.
    pub fn start(corefile: &str) -> Server {
        Server::start_with(corefile, &[], ConfSource::File)
            .unwrap_or_else(|e| panic!("cairn did not start: {e:?}\nCorefile:\n{corefile}"))
    }

    /// Like [`Server::start`] with extra flags and a choice of Corefile source; retries on
    /// another port when the chosen one was taken in the meantime.
    pub fn start_with(
        corefile: &str,
        extra_args: &[&str],
        source: ConfSource,
    ) -> Result<Server, StartFailure> {
        Server::start_full(corefile, &[], extra_args, source)
    }

    /// Like [`Server::start`], with `files` (name, text) written beside the Corefile first
    /// (zone files, hosts files: relative paths in plugins resolve against that directory).
    pub fn start_files(corefile: &str, files: &[(&str, &str)]) -> Server {
        Server::start_full(corefile, files, &[], ConfSource::File)
            .unwrap_or_else(|e| panic!("cairn did not start: {e:?}\nCorefile:\n{corefile}"))
    }

    /// Starts with every option; retries on another port when the chosen one was taken.
    pub fn start_full(
        corefile: &str,
        files: &[(&str, &str)],
        extra_args: &[&str],
        source: ConfSource,
    ) -> Result<Server, StartFailure> {
        let mut last = None;
        for _ in 0..5 {
            let port = free_port();
            match Server::spawn_on(port, corefile, files, extra_args, source) {
                Ok(mut s) => match s.wait_ready() {
                    Ok(()) => return Ok(s),
                    Err(e) if e.stderr.contains("in use") => last = Some(e),
                    Err(e) => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    /// Spawns without waiting for readiness.
    pub fn spawn_on(
        port: u16,
        corefile: &str,
        files: &[(&str, &str)],
        extra_args: &[&str],
        source: ConfSource,
    ) -> Result<Server, StartFailure> {
        let dir = TempDir::new("srv");
        for (name, text) in files {
            dir.write(name, text);
        }
        let text = fill(corefile, port);
        let corefile_path = dir.write("Corefile", &text);
        let stdout = dir.path().join("stdout.log");
        let stderr = dir.path().join("stderr.log");
        let mut cmd = Command::new(cairn_bin());
        match source {
            ConfSource::File => cmd.arg("-conf").arg(&corefile_path),
            ConfSource::Stdin => cmd.arg("-conf").arg("stdin"),
        };
        cmd.arg("-dns.port")
            .arg(port.to_string())
            .args(extra_args)
            .current_dir(dir.path())
            .stdout(File::create(&stdout).expect("stdout file"))
            .stderr(File::create(&stderr).expect("stderr file"));
        cmd.stdin(if source == ConfSource::Stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd.spawn().map_err(|e| StartFailure {
            status: None,
            stderr: format!("spawn {}: {e}", cairn_bin()),
        })?;
        if source == ConfSource::Stdin {
            let mut stdin = child.stdin.take().expect("piped stdin");
            stdin
                .write_all(text.as_bytes())
                .expect("write Corefile to stdin");
            // Dropping closes it: the server reads to EOF.
        }
        Ok(Server {
            child: Some(child),
            port,
            dir,
            corefile: corefile_path,
            stdout,
            stderr,
        })
    }

    /// Polls with a query until any reply comes (REFUSED counts: the server is up), for at
    /// most [`READY_TIMEOUT`]; fails early when the process exits.
    pub fn wait_ready(&mut self) -> Result<(), StartFailure> {
        let client = UdpClient::new(self.addr());
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.try_exit_status() {
                return Err(StartFailure {
                    status: Some(status),
                    stderr: self.stderr(),
                });
            }
            let q = query("ready-probe.cairn-test.invalid.", RecordType::A);
            if client
                .raw_id(&to_wire(&q), q.metadata.id, Duration::from_millis(50))
                .is_some()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(StartFailure {
            status: None,
            stderr: format!(
                "not answering after {READY_TIMEOUT:?}; stderr: {}",
                self.stderr()
            ),
        })
    }

    /// The UDP/TCP address to query.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// What the server wrote to standard error so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// What the server wrote to standard output so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn try_exit_status(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// A new UDP client for this server.
    pub fn udp(&self) -> UdpClient {
        UdpClient::new(self.addr())
    }

    /// A new TCP connection to this server.
    pub fn tcp(&self) -> TcpClient {
        TcpClient::connect(self.addr())
    }

    /// One query over UDP from a fresh socket.
    pub fn query_udp(&self, m: &Message) -> Message {
        self.udp().query(m)
    }

    /// One query over a fresh TCP connection.
    pub fn query_tcp(&self, m: &Message) -> Message {
        self.tcp().query(m)
    }

    /// Raw bytes over UDP from a fresh socket: the first datagram back within `timeout`.
    pub fn raw_udp(&self, bytes: &[u8], timeout: Duration) -> Option<Vec<u8>> {
        self.udp().raw(bytes, timeout)
    }

    /// Sends a signal with `kill(1)` (no unsafe code, no libc dependency).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits at most `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_exit_status() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Graceful stop: SIGTERM, then the exit status (within 5 s, else it is killed and this
    /// panics).
    pub fn stop(mut self) -> ExitStatus {
        self.signal("TERM");
        match self.wait_exit(Duration::from_secs(5)) {
            Some(s) => s,
            None => panic!("cairn did not exit within 5 s of SIGTERM"),
        }
    }

    /// Rewrites the Corefile in place (`{PORT}` filled in).
    pub fn rewrite_corefile(&self, template: &str) {
        std::fs::write(&self.corefile, fill(template, self.port)).expect("rewrite Corefile");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if child.try_wait().ok().flatten().is_none() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// Runs `cairn` with `args` to completion (at most `timeout`, then killed) and returns
/// (exit status, stdout, stderr, elapsed).
pub fn run_cairn(
    args: &[&str],
    dir: &Path,
    stdin: Option<&str>,
    timeout: Duration,
) -> (Option<ExitStatus>, String, String, Duration) {
    let out_path = dir.join(format!("run-{}.out", next_id()));
    let err_path = dir.join(format!("run-{}.err", next_id()));
    let mut cmd = Command::new(cairn_bin());
    cmd.args(args)
        .current_dir(dir)
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"))
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn cairn");
    if let Some(text) = stdin {
        let mut s = child.stdin.take().expect("stdin");
        s.write_all(text.as_bytes()).expect("write stdin");
    }
    let deadline = start + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = start.elapsed();
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    (status, out, err, elapsed)
}

/// Whether a plugin is implemented well enough for `corefile` to pass `cairn -validate`
/// (plugins other engineers are still writing refuse their directive until they work).
pub fn config_validates(corefile: &str) -> bool {
    config_validates_with(corefile, &[])
}

/// Like [`config_validates`], with `files` (name, text) written beside the Corefile.
pub fn config_validates_with(corefile: &str, files: &[(&str, &str)]) -> bool {
    let dir = TempDir::new("probe");
    for (name, text) in files {
        dir.write(name, text);
    }
    let path = dir.write("Corefile", &fill(corefile, 53));
    let p = path.to_string_lossy().into_owned();
    let (status, _, _, _) = run_cairn(
        &["-validate", "-conf", &p],
        dir.path(),
        None,
        Duration::from_secs(10),
    );
    status.is_some_and(|s| s.success())
}

/// `name ttl TYPE rdata` lines of a section, in the order received.
pub fn record_lines(records: &[hickory_proto::rr::Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data))
        .collect()
}

/// [`record_lines`], sorted (sections compared as sets: loadbalance and map order shuffle).
pub fn section(records: &[hickory_proto::rr::Record]) -> Vec<String> {
    let mut lines = record_lines(records);
    lines.sort();
    lines
}

/// Asks `srv` for `name`/`rtype` over TCP or UDP.
pub fn ask(srv: &Server, tcp: bool, name: &str, rtype: RecordType) -> Message {
    let q = query(name, rtype);
    if tcp {
        srv.query_tcp(&q)
    } else {
        srv.query_udp(&q)
    }
}

/// Polls `check` every 20 ms until it holds; fails the test with `what` after `within`.
pub fn wait_for(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + within;
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `GET path` over plain HTTP/1.1 from 127.0.0.1:`port`; returns (status code, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to HTTP port");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read response");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

// ---------------------------------------------------------------------------------------------
// Logs and metrics (waiting: `wait_for` above)
// ---------------------------------------------------------------------------------------------

impl Server {
    /// How many lines the server wrote to standard output so far contain `needle`, compared
    /// without regard to ASCII case (with `log`, one line per answered query: a way to count
    /// what reached an upstream).
    pub fn stdout_lines_with(&self, needle: &str) -> usize {
        let needle = needle.to_ascii_lowercase();
        self.stdout()
            .lines()
            .filter(|l| l.to_ascii_lowercase().contains(&needle))
            .count()
    }
}

/// The value of the sample `series` (name and labels exactly as exposed) in exposition text.
pub fn metric_sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}
