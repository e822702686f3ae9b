//! The allocation counter shared by the allocation tests (`alloc.rs`, `kubernetes_alloc.rs`,
//! `k8s_external_alloc.rs`): a global allocator that counts the heap allocations made on the
//! server runtime's threads while a measurement runs, and [`measure`], which starts the
//! server in this process, sends a stream of identical UDP queries and reports the count.
//!
//! Only allocations on marked server threads during a measurement are counted, so the client
//! (the test thread, which pre-allocates what it uses) does not disturb the figure. Background
//! work (a manifest source's once-a-second poll) may allocate during a window; it does so at
//! most once per poll, while an allocation on the answer path comes with every query, so the
//! smallest count over several short windows is the answer path's.
//!
//! `CAIRN_ALLOC_TRACE=N cargo test --test <file> -- --nocapture` prints the backtraces of the
//! first N counted allocations. A global allocator belongs to one test binary, so each test
//! file includes this module (`mod alloc_harness;`) instead of `common`'s helpers.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
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
#[allow(unsafe_code)]
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

/// Unmeasured queries first (pools, caches and lazily built handles fill up).
pub const WARMUP: usize = 1_000;
/// Measured windows and queries per window.
pub const WINDOWS: usize = 8;
pub const PER_WINDOW: usize = 1_250;

/// What one measurement saw.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Allocations in the quietest window.
    pub count: usize,
    /// Bytes allocated in that window.
    pub bytes: usize,
    /// Queries per window.
    pub queries: usize,
}

impl Measured {
    /// Fails the test unless the quietest window allocated nothing.
    pub fn assert_none(&self, what: &str) {
        assert_eq!(
            self.count, 0,
            "{} heap allocations ({} bytes) on server threads in {} {what}; rerun with \
             CAIRN_ALLOC_TRACE=5 -- --nocapture to see where",
            self.count, self.bytes, self.queries
        );
    }
}

/// A query in wire form (RD set, EDNS with a 1232-byte buffer), built by hand so the client
/// needs no DNS library on its side of the count.
fn query_wire(name: &str, qtype: u16) -> Vec<u8> {
    let mut p = vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in name.trim_end_matches('.').split('.') {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.push(0);
    p.extend_from_slice(&qtype.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    p.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]);
    p
}

/// Starts the server in-process with `corefile` (after writing `files` to a temp dir that
/// relative paths resolve against), sends [`WARMUP`] queries for `qname`/`qtype` from this
/// thread and then [`WINDOWS`] windows of [`PER_WINDOW`], checking every reply with
/// `check`, and returns the quietest window's count.
pub fn measure(
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
        "cairn-alloc-{}-{}-{qtype}",
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
    let names = cairn_plugins::registry::directive_names();
    let parsed = cairn_corefile::parse(
        "Corefile",
        corefile,
        &cairn_corefile::ParseOptions::new(&names),
    )
    .expect("Corefile parses");
    let opts = cairn_server::Options {
        dns_port: 0,
        table: cairn_plugins::registry::table(),
        config_dir: dir.clone(),
    };
    let server = rt
        .block_on(cairn_server::Server::start(&parsed, opts))
        .unwrap_or_else(|e| panic!("server did not start: {e}"));
    let port = server.dns_addrs().first().expect("a DNS listener").port();

    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("client socket");
    sock.connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let mut packet = query_wire(qname, qtype);
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
    let mut quietest = Measured {
        count: usize::MAX,
        bytes: 0,
        queries: PER_WINDOW,
    };
    for window in 0..WINDOWS {
        COUNT.store(0, Ordering::SeqCst);
        BYTES.store(0, Ordering::SeqCst);
        MEASURING.store(true, Ordering::SeqCst);
        run(
            PER_WINDOW,
            20_000u16.wrapping_add((window * PER_WINDOW) as u16),
        );
        MEASURING.store(false, Ordering::SeqCst);
        let count = COUNT.load(Ordering::SeqCst);
        if count < quietest.count {
            quietest.count = count;
            quietest.bytes = BYTES.load(Ordering::SeqCst);
        }
        if quietest.count == 0 {
            break;
        }
    }
    rt.block_on(server.shutdown());
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{qname} type {qtype}: {} allocations ({} bytes) in {} queries",
        quietest.count, quietest.bytes, quietest.queries
    );
    quietest
}

/// The response code of a reply.
pub fn rcode(r: &[u8]) -> u8 {
    r[3] & 0x0F
}

/// The AA flag of a reply.
pub fn aa(r: &[u8]) -> bool {
    r[2] & 0x04 != 0
}

/// A response with NOERROR.
pub fn noerror(r: &[u8]) -> bool {
    r[2] & 0x80 != 0 && rcode(r) == 0
}

/// The 16-bit header field at byte `at` (6: answers, 8: authority, 10: additional).
pub fn count16(r: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([r[at], r[at + 1]])
}
