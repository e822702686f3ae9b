use super::*;
use cairn_core::testing::{query, run, StubNext};
use cairn_core::wire::{Name, RType, Rcode};
use cairn_core::zones::Fallthrough;
use cairn_core::{Chain, Next, Plugin, Served};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Counting;
thread_local!(static ON: Cell<bool> = const { Cell::new(false) }; static N: Cell<usize> = const { Cell::new(0) });
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if ON.with(|o| o.get()) {
            N.with(|n| n.set(n.get() + 1));
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static A: Counting = Counting;

fn big_zone() -> String {
    let mut s = String::from("$ORIGIN svc.cluster.local.\n$TTL 30\n@ IN SOA ns.dns hostmaster 1 7200 1800 86400 30\n  IN NS ns.dns\nns.dns A 10.96.0.10\n");
    for i in 0..5000 {
        s.push_str(&format!(
            "svc{i}.ns A 10.{}.{}.{}\n_http._tcp.svc{i}.ns SRV 0 100 80 svc{i}.ns\n",
            i / 65536,
            (i / 256) % 256,
            i % 256
        ));
    }
    s
}

#[test]
fn probe_allocs_and_speed() {
    let text = big_zone();
    let recs = ZoneParser::new(
        text.into_bytes(),
        Name::parse("svc.cluster.local.", None).unwrap(),
        std::path::Path::new("x"),
    )
    .read_all()
    .unwrap();
    let (z, _) = Zone::build(
        &Name::parse("svc.cluster.local.", None).unwrap(),
        PathBuf::from("x"),
        recs,
    )
    .unwrap();
    let slot = ZoneSlot::new(
        z.origin().clone(),
        PathBuf::from("x"),
        Duration::ZERO,
        false,
        Some(z),
    );
    let f: Arc<dyn Plugin> = Arc::new(File::new(vec![Arc::new(slot)], Fallthrough::none()));
    let chain = Chain::new(vec![f.clone(), StubNext::new(Rcode::SERVFAIL)]);
    for (q, t) in [
        ("svc42.ns.svc.cluster.local.", RType::A),
        ("_http._tcp.svc42.ns.svc.cluster.local.", RType::SRV),
        ("nope.ns.svc.cluster.local.", RType::A),
        ("svc42.ns.svc.cluster.local.", RType::AAAA),
    ] {
        let mut req = query(q, t);
        // warm up: reuse the reply vectors
        for _ in 0..3 {
            let (mut r, res) = run(&chain, req);
            r.recycle(res.unwrap());
            req = r;
        }
        ON.with(|o| o.set(true));
        N.with(|n| n.set(0));
        let start = Instant::now();
        let iters = 200_000;
        for _ in 0..iters {
            let Served::Ready(mut r, res) = f.serve(req, chain.as_next()) else {
                panic!()
            };
            r.recycle(res.unwrap());
            req = r;
        }
        let el = start.elapsed();
        ON.with(|o| o.set(false));
        let allocs = N.with(|n| n.get());
        eprintln!(
            "{q} {t}: {allocs} allocs over {iters}; {:?} per query",
            el / iters
        );
        assert_eq!(allocs, 0);
    }
    let _: Option<Next> = None;
}
