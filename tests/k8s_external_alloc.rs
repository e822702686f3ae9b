//! Heap allocations on the k8s_external plugin's answer paths, counted by a global allocator
//! while the server (in this process, on marked runtime threads) answers a stream of
//! identical queries: an external A record, SRV with additional records, a PTR, the apex NS,
//! and an NXDOMAIN with its SOA. Once warmed up, none of them may allocate (design notes,
//! section 6). `CAIRN_ALLOC_TRACE=N cargo test --test k8s_external_alloc -- --nocapture`
//! prints where the first N counted allocations come from. (The harness is the one of
//! `kubernetes_alloc.rs`: a global allocator belongs to one test binary.)

// A global allocator needs `unsafe impl GlobalAlloc`; it only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

struct Counting;

static MEASURING: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicUsize = AtomicUsize::new(0);
static TRACE_LEFT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SERVER_THREAD: Cell<bool> = const { Cell::new(false) };
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if !MEASURING.load(Ordering::Relaxed)
        || IN_TRACE.try_with(Cell::get).unwrap_or(true)
        || !SERVER_THREAD.try_with(Cell::get).unwrap_or(false)
    {
        return;
    }
    COUNT.fetch_add(1, Ordering::Relaxed);
    if TRACE_LEFT
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
    {
        let _ = IN_TRACE.try_with(|t| {
            t.set(true);
            eprintln!(
                "=== allocation on a server thread:\n{}",
                std::backtrace::Backtrace::force_capture()
            );
            t.set(false);
        });
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; counting
// touches only atomics and const-initialised thread-locals.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
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

static SERIAL: Mutex<()> = Mutex::new(());

const WARMUP: usize = 1_000;
const MEASURED: usize = 500;
/// Measurement windows of [`MEASURED`] queries; the smallest count is reported.
const WINDOWS: usize = 8;

const CLUSTER: &str = include_str!("fixtures/kubernetes/external.yaml");
const COREFILE: &str = "example.com in-addr.arpa cluster.local {
    kubernetes cluster.local {
        manifests cluster.yaml
    }
    k8s_external example.com in-addr.arpa {
        headless
    }
}
";

/// A query in wire form (RD set, EDNS 1232), built by hand.
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

fn count16(r: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([r[at], r[at + 1]])
}

/// Serves `qname`/`qtype` repeatedly and returns the allocations counted on server threads
/// during the measured queries; every reply must satisfy `check`.
fn measure(qname: &str, qtype: u16, check: fn(&[u8]) -> bool) -> usize {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = std::env::var("CAIRN_ALLOC_TRACE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        TRACE_LEFT.store(n, Ordering::Relaxed);
    }
    let dir = std::env::temp_dir().join(format!(
        "cairn-k8s-external-alloc-{}-{}-{qtype}",
        std::process::id(),
        qname.trim_end_matches('.')
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("cluster.yaml"), CLUSTER).expect("manifest");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(|| SERVER_THREAD.with(|c| c.set(true)))
        .build()
        .expect("runtime");
    let names = cairn_plugins::registry::directive_names();
    let corefile = cairn_corefile::parse(
        "Corefile",
        COREFILE,
        &cairn_corefile::ParseOptions::new(&names),
    )
    .expect("Corefile parses");
    let opts = cairn_server::Options {
        dns_port: 0,
        table: cairn_plugins::registry::table(),
        config_dir: dir.clone(),
    };
    let server = rt
        .block_on(cairn_server::Server::start(&corefile, opts))
        .unwrap_or_else(|e| panic!("server did not start: {e}"));
    let port = server.dns_addrs().first().expect("a listener").port();

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
    // The manifest source re-reads its file's metadata every second on a runtime thread; a
    // measurement window that spans such a poll counts its allocations. Those come at most
    // once per poll, while an allocation on the answer path comes with every query, so the
    // smallest count of several short windows is the answer path's.
    let mut count = usize::MAX;
    for window in 0..WINDOWS as u16 {
        COUNT.store(0, Ordering::SeqCst);
        MEASURING.store(true, Ordering::SeqCst);
        run(
            MEASURED,
            20_000u16.wrapping_add(window.wrapping_mul(MEASURED as u16)),
        );
        MEASURING.store(false, Ordering::SeqCst);
        count = count.min(COUNT.load(Ordering::SeqCst));
        if count == 0 {
            break;
        }
    }
    rt.block_on(server.shutdown());
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
    println!("{qname} type {qtype}: {count} allocations in {MEASURED} queries");
    count
}

fn rcode(r: &[u8]) -> u8 {
    r[3] & 0x0F
}

fn aa(r: &[u8]) -> bool {
    r[2] & 0x04 != 0
}

#[test]
fn external_a_does_not_allocate() {
    let n = measure("svc1.testns.example.com.", 1, |r| {
        rcode(r) == 0 && aa(r) && count16(r, 6) == 1
    });
    assert_eq!(
        n, 0,
        "allocations on the A path; rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture"
    );
}

#[test]
fn srv_does_not_allocate() {
    // 2 SRV records (one per port), 3 addresses + OPT in additional.
    let n = measure("multi.testns.example.com.", 33, |r| {
        rcode(r) == 0 && count16(r, 6) == 2 && count16(r, 10) == 4
    });
    assert_eq!(
        n, 0,
        "allocations on the SRV path; rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture"
    );
}

#[test]
fn headless_srv_does_not_allocate() {
    let n = measure("svc-headless.testns.example.com.", 33, |r| {
        rcode(r) == 0 && count16(r, 6) == 2 && count16(r, 10) == 3
    });
    assert_eq!(
        n, 0,
        "allocations on the headless SRV path; rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture"
    );
}

#[test]
fn ptr_does_not_allocate() {
    let n = measure("5.4.3.2.in-addr.arpa.", 12, |r| {
        rcode(r) == 0 && count16(r, 6) == 1
    });
    assert_eq!(
        n, 0,
        "allocations on the PTR path; rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture"
    );
}

#[test]
fn apex_ns_does_not_allocate() {
    let n = measure("example.com.", 2, |r| rcode(r) == 0 && count16(r, 6) == 1);
    assert_eq!(
        n, 0,
        "allocations on the NS path; rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture"
    );
}

#[test]
fn nxdomain_with_soa_does_not_allocate() {
    let n = measure("svc0.testns.example.com.", 1, |r| {
        rcode(r) == 3 && aa(r) && count16(r, 8) == 1
    });
    assert_eq!(
        n, 0,
        "allocations on the NXDOMAIN path; rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture"
    );
}

/// The counter sees what it should: a load-balancer hostname is looked up through the
/// server on a boxed future (at least one allocation per query, by design), so the paths
/// above really are allocation-free rather than unmeasured.
#[test]
fn counter_sees_the_hostname_lookup() {
    let n = measure("svc12.testns.example.com.", 1, |r| {
        rcode(r) == 0 && count16(r, 6) == 1
    });
    assert!(
        n >= MEASURED,
        "at least one future per hostname answer: {n}"
    );
}
