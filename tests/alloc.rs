//! Heap allocations on the server's answer path, counted by a global allocator.
//!
//! The server runs in this process (the workspace crates, as `main` wires them) on a tokio
//! runtime whose threads are marked; only allocations made on marked threads while a
//! measurement runs are counted, so the client (this test's thread, which also pre-allocates
//! everything it uses) does not disturb the count. The answer paths must not allocate at all
//! once warmed up (design notes, section 6).
//!
//! To find where allocations come from, run with `CAIRN_ALLOC_TRACE=N` to print the
//! backtraces of the first N counted allocations:
//! `CAIRN_ALLOC_TRACE=5 cargo test --test alloc -- --nocapture`.

// A global allocator needs `unsafe impl GlobalAlloc`; it only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

struct Counting;

static MEASURING: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);
static TRACE_LEFT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set on the server runtime's threads.
    static SERVER_THREAD: Cell<bool> = const { Cell::new(false) };
    /// Set while this thread prints a backtrace (its own allocations are not counted).
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

fn note(size: usize) {
    if !MEASURING.load(Ordering::Relaxed) {
        return;
    }
    if IN_TRACE.try_with(Cell::get).unwrap_or(true) {
        return;
    }
    if !SERVER_THREAD.try_with(Cell::get).unwrap_or(false) {
        return;
    }
    COUNT.fetch_add(1, Ordering::Relaxed);
    BYTES.fetch_add(size, Ordering::Relaxed);
    if TRACE_LEFT.load(Ordering::Relaxed) > 0 {
        let _ = IN_TRACE.try_with(|t| {
            t.set(true);
            if TRACE_LEFT
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
            {
                let bt = std::backtrace::Backtrace::force_capture();
                eprintln!("=== allocation of {size} bytes on a server thread:\n{bt}");
            }
            t.set(false);
        });
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; counting
// touches only atomics and const-initialised thread-locals (no allocation, no reentrancy
// except through the `IN_TRACE` guard).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One measurement at a time: the counter and the thread marks are process-wide.
static SERIAL: Mutex<()> = Mutex::new(());

const WARMUP: usize = 1_000;
const MEASURED: usize = 10_000;

/// A query in wire form (RD set, EDNS 1232 when asked), built by hand so the client needs
/// no DNS library on its side of the count.
fn query_wire(name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    let mut p = vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns)];
    for label in name.trim_end_matches('.').split('.') {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    if edns {
        p.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]);
    }
    p
}

/// Result of one run: allocations counted, bytes, queries measured.
struct Measured {
    count: usize,
    bytes: usize,
    queries: usize,
}

/// Starts the server in-process with `corefile` (files written to a temp dir first), sends
/// `WARMUP` then `MEASURED` queries for `qname`/`qtype` from this thread, checking each reply
/// with `check(reply)`, and counts the server threads' allocations during the second batch.
fn measure(
    corefile: &str,
    files: &[(&str, &str)],
    qname: &str,
    qtype: u16,
    check: fn(&[u8]) -> bool,
) -> Measured {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = std::env::var("CAIRN_ALLOC_TRACE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        TRACE_LEFT.store(n, Ordering::Relaxed);
    }
    let dir = std::env::temp_dir().join(format!(
        "cairn-alloc-{}-{}",
        std::process::id(),
        qname.trim_end_matches('.')
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write file");
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(|| SERVER_THREAD.with(|c| c.set(true)))
        .build()
        .expect("runtime");
    let server = rt.block_on(start_server(corefile, &dir));
    let port = server.dns_addrs().first().expect("a DNS listener").port();
    let target = SocketAddr::from((Ipv4Addr::LOCALHOST, port));

    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("client socket");
    sock.connect(target).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut packet = query_wire(qname, qtype, true);
    let mut buf = vec![0u8; 65535];
    let mut run = |n: usize, first_id: u16| {
        for i in 0..n {
            let id = first_id.wrapping_add(i as u16);
            packet[..2].copy_from_slice(&id.to_be_bytes());
            sock.send(&packet).expect("send");
            loop {
                let len = sock.recv(&mut buf).expect("a reply within 2 s");
                if len >= 12 && buf[..2] == id.to_be_bytes() {
                    assert!(check(&buf[..len]), "unexpected reply: {:02x?}", &buf[..len]);
                    break;
                }
            }
        }
    };
    run(WARMUP, 0);
    COUNT.store(0, Ordering::SeqCst);
    BYTES.store(0, Ordering::SeqCst);
    MEASURING.store(true, Ordering::SeqCst);
    run(MEASURED, 20_000);
    MEASURING.store(false, Ordering::SeqCst);
    let m = Measured {
        count: COUNT.load(Ordering::SeqCst),
        bytes: BYTES.load(Ordering::SeqCst),
        queries: MEASURED,
    };
    rt.block_on(server.shutdown());
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{qname}: {} allocations ({} bytes) in {} queries = {:.3} per query",
        m.count,
        m.bytes,
        m.queries,
        m.count as f64 / m.queries as f64
    );
    m
}

fn options(dir: &Path) -> cairn_server::Options {
    cairn_server::Options {
        dns_port: 0,
        table: cairn_plugins::registry::table(),
        config_dir: dir.to_path_buf(),
    }
}

fn parse_corefile(text: &str) -> cairn_corefile::Corefile {
    let names = cairn_plugins::registry::directive_names();
    let opts = cairn_corefile::ParseOptions::new(&names);
    cairn_corefile::parse("Corefile", text, &opts).expect("Corefile parses")
}

async fn start_server(corefile: &str, dir: &Path) -> cairn_server::Server {
    let cf = parse_corefile(corefile);
    match cairn_server::Server::start(&cf, options(dir)).await {
        Ok(s) => s,
        Err(e) => panic!("server did not start: {e}"),
    }
}

/// NOERROR with QR set.
fn noerror(r: &[u8]) -> bool {
    r[2] & 0x80 != 0 && r[3] & 0x0F == 0
}

/// NOERROR with exactly two additional records besides OPT (whoami: A + SRV).
fn whoami_reply(r: &[u8]) -> bool {
    noerror(r) && u16::from_be_bytes([r[10], r[11]]) == 3
}

/// NOERROR with one answer.
fn one_answer(r: &[u8]) -> bool {
    noerror(r) && u16::from_be_bytes([r[6], r[7]]) == 1
}

#[test]
fn whoami_answer_path_does_not_allocate() {
    let m = measure(
        "example.org {\n    whoami\n}\n",
        &[],
        "www.example.org.",
        1,
        whoami_reply,
    );
    assert_eq!(
        m.count, 0,
        "{} heap allocations on server threads in {} whoami queries ({} bytes); \
         rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture to see where",
        m.count, m.queries, m.bytes
    );
}

#[test]
fn refused_path_does_not_allocate() {
    // Not an answer path of a plugin, but every scan of the internet hits it.
    let m = measure(
        "example.org {\n    whoami\n}\n",
        &[],
        "www.example.net.",
        1,
        |r| r[2] & 0x80 != 0 && r[3] & 0x0F == 5,
    );
    assert_eq!(
        m.count, 0,
        "{} heap allocations on server threads in {} REFUSED queries ({} bytes); \
         rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture to see where",
        m.count, m.queries, m.bytes
    );
}

const ZONE: &str = "$ORIGIN example.com.
$TTL 3600
@       IN SOA ns1.example.com. admin.example.com. 1 7200 3600 1209600 3600
@       IN NS  ns1.example.com.
ns1     IN A   192.0.2.1
www     IN A   192.0.2.2
";

const FILE_COREFILE: &str = "example.com {\n    file db.example.com\n}\n";

#[test]
fn file_answer_path_does_not_allocate() {
    let m = measure(
        FILE_COREFILE,
        &[("db.example.com", ZONE)],
        "www.example.com.",
        1,
        one_answer,
    );
    assert_eq!(
        m.count, 0,
        "{} heap allocations on server threads in {} file queries ({} bytes); \
         rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture to see where",
        m.count, m.queries, m.bytes
    );
}

#[test]
fn file_nxdomain_path_does_not_allocate() {
    let m = measure(
        FILE_COREFILE,
        &[("db.example.com", ZONE)],
        "nope.example.com.",
        1,
        // NXDOMAIN with the SOA in the authority section.
        |r| r[2] & 0x80 != 0 && r[3] & 0x0F == 3 && u16::from_be_bytes([r[8], r[9]]) == 1,
    );
    assert_eq!(
        m.count, 0,
        "{} heap allocations on server threads in {} NXDOMAIN queries ({} bytes); \
         rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture to see where",
        m.count, m.queries, m.bytes
    );
}

#[test]
fn cache_hit_path_does_not_allocate() {
    // The first query fills the cache; every measured one is a hit copied into the pooled
    // reply with the remaining TTL.
    let m = measure(
        "example.com {\n    cache\n    file db.example.com\n}\n",
        &[("db.example.com", ZONE)],
        "www.example.com.",
        1,
        // One answer, and AA (always set on hits).
        |r| one_answer(r) && r[2] & 0x04 != 0,
    );
    assert_eq!(
        m.count, 0,
        "{} heap allocations on server threads in {} cache hits ({} bytes); \
         rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture to see where",
        m.count, m.queries, m.bytes
    );
}

/// A zone with four addresses on one name, for `loadbalance`.
const MULTI_A_ZONE: &str = "$ORIGIN example.com.
$TTL 300
@       IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300
@       IN NS  ns1.example.com.
ns1     IN A   192.0.2.1
www     IN A   192.0.2.10
www     IN A   192.0.2.11
www     IN A   192.0.2.12
www     IN A   192.0.2.13
";

#[test]
fn loadbalance_path_does_not_allocate() {
    let m = measure(
        "example.com {\n    loadbalance\n    file db.example.com\n}\n",
        &[("db.example.com", MULTI_A_ZONE)],
        "www.example.com.",
        1,
        // NOERROR with the four addresses, in whatever order.
        |r| noerror(r) && u16::from_be_bytes([r[6], r[7]]) == 4,
    );
    assert_eq!(
        m.count, 0,
        "{} heap allocations on server threads in {} loadbalanced answers ({} bytes); \
         rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture to see where",
        m.count, m.queries, m.bytes
    );
}

#[test]
fn rewrite_path_does_not_allocate() {
    // The query for `alias` is answered from `www` and the answer renamed back.
    let m = measure(
        "example.com {\n    rewrite name exact alias.example.com. www.example.com. answer auto\n    file db.example.com\n}\n",
        &[("db.example.com", ZONE)],
        "alias.example.com.",
        1,
        one_answer,
    );
    assert_eq!(
        m.count, 0,
        "{} heap allocations on server threads in {} rewritten queries ({} bytes); \
         rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture to see where",
        m.count, m.queries, m.bytes
    );
}
