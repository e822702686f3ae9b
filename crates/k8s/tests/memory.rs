//! Memory and build time of the index at the benchmark size: 10,000 services, 100,000
//! endpoints, 50,000 pods, built through the `Writer` like a source would.
//!
//! A counting global allocator measures the heap the index holds once the source objects are
//! dropped. Run in release for meaningful times:
//! `cargo test --release -p cairn-k8s --test memory -- --nocapture`.

// A global allocator needs `unsafe impl GlobalAlloc`; it only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cairn_k8s::{Change, IndexConfig, Kind, Object, Store};

struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        LIVE.fetch_add(1, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        LIVE.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        LIVE.fetch_add(1, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        IN_USE.fetch_add(new_size, Ordering::Relaxed);
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn in_use() -> usize {
    IN_USE.load(Ordering::Relaxed)
}

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

const SERVICES: usize = 10_000;
const ENDPOINTS: usize = 100_000;
const PODS: usize = 50_000;

/// What the index may hold for the benchmark cluster (the whole process must stay under
/// 60 MB resident; the index is most of it). Measured: about 29 MiB.
const BUDGET_BYTES: usize = 32 << 20;

/// glibc's per-allocation overhead, to estimate resident memory from the counted heap.
const MALLOC_OVERHEAD: usize = 16;

/// The query-path contract: loading a snapshot and every lookup allocate nothing.
fn lookups_do_not_allocate(store: &Store) {
    let names: Vec<(String, String)> = (0..200)
        .map(|i| (format!("ns-{}", i % 100), format!("svc-{i}")))
        .collect();
    let ips: Vec<IpAddr> = (0..200)
        .map(|i| IpAddr::from([10, 128, 0, i as u8]))
        .chain((0..50).map(|i| IpAddr::from([10, 96, 0, 10 + i as u8])))
        .collect();
    let allocations = live_allocations_during(|| {
        let mut found = 0usize;
        for _ in 0..10 {
            let snap = store.load();
            for (namespace, name) in &names {
                found += usize::from(snap.namespace(namespace).is_some());
                found += usize::from(snap.service(namespace, name).is_some());
                found += snap.endpoint_slices(namespace, name).len();
                found += usize::from(snap.service_import(namespace, name).is_some());
            }
            for ip in &ips {
                for entry in snap.reverse(*ip) {
                    found += snap
                        .endpoints_at(entry.namespace(), entry.service(), *ip)
                        .count();
                }
                found += usize::from(snap.pod_by_ip(*ip).is_some());
            }
        }
        assert!(found > 5000, "the lookups found things ({found})");
    });
    assert_eq!(allocations, 0, "lookups allocated");
}

/// Allocations made by `work` (this test is the only one in its binary, so no other thread
/// allocates meanwhile).
fn live_allocations_during(work: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    work();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

#[test]
fn benchmark_cluster_fits_the_budget() {
    let config = IndexConfig {
        pods: true,
        ..IndexConfig::default()
    };
    let (before, live_before) = (in_use(), live());
    let (store, mut writer) = Store::new(config);
    let values = cairn_k8s_testserver::generate::cluster(SERVICES, ENDPOINTS, PODS);

    let mut decode = Duration::ZERO;
    let mut build = Duration::ZERO;
    let mut slices = 0;
    for kind in Kind::ALL {
        let mark = in_use();
        let started = Instant::now();
        let objects: Vec<Object> = values
            .iter()
            .filter(|v| v["kind"] == kind.as_str())
            .map(|v| Object::from_json_value(v.clone()).expect("generated objects are valid"))
            .collect();
        decode += started.elapsed();
        let count = objects.len();
        if kind == Kind::EndpointSlice {
            slices = count;
        }
        let started = Instant::now();
        writer.apply(Change::Replace(kind, objects));
        writer.apply(Change::Synced(kind));
        build += started.elapsed();
        let grown = in_use() - mark;
        println!(
            "{kind}: {count} objects, index +{:.2} MiB ({} B each)",
            mib(grown),
            grown.checked_div(count).unwrap_or(0)
        );
    }
    let started = Instant::now();
    writer.publish();
    build += started.elapsed();
    assert!(store.is_synced());
    drop(values);

    assert_eq!(store.load().service_count(), SERVICES);
    lookups_do_not_allocate(&store);

    let index_bytes = in_use() - before;
    let allocations = live() - live_before;
    let per_object = index_bytes as f64 / (SERVICES + ENDPOINTS + PODS) as f64;
    println!(
        "index for {SERVICES} services, {slices} slices, {ENDPOINTS} endpoints, {PODS} pods: \
         {:.1} MiB heap in {allocations} allocations (~{:.1} MiB with malloc overhead), \
         {per_object:.0} B per service+endpoint+pod; built in {build:.2?} \
         (+{decode:.2?} decoding JSON)",
        mib(index_bytes),
        mib(index_bytes + allocations * MALLOC_OVERHEAD),
    );

    // Update cost: a watch event on one slice, published alone.
    let object = cairn_k8s_testserver::generate::cluster(SERVICES, ENDPOINTS, 0)
        .into_iter()
        .filter(|v| v["kind"] == "EndpointSlice")
        .nth(1234)
        .map(|v| Object::from_json_value(v).unwrap())
        .unwrap();
    let Object::EndpointSlice(mut slice) = object else {
        unreachable!()
    };
    let rounds = 2000_u32;
    let mut events = Vec::with_capacity(rounds as usize);
    for round in 0..rounds {
        // Alternate one endpoint's readiness so every round is a real change.
        slice.endpoints[0].conditions.ready = Some(round % 2 == 0);
        events.push(Object::EndpointSlice(slice.clone()));
    }
    let started = Instant::now();
    for event in events {
        writer.apply(Change::Upsert(event));
        assert!(writer.publish().changed);
    }
    let per_update = started.elapsed() / rounds;
    println!("one slice event + publish: {per_update:.2?}");

    let held = in_use() - before;
    assert!(
        index_bytes < BUDGET_BYTES,
        "index uses {:.1} MiB, budget {:.1} MiB",
        mib(index_bytes),
        mib(BUDGET_BYTES)
    );
    assert!(
        held < index_bytes + (1 << 20),
        "updates leaked: {:.1} MiB after vs {:.1} MiB",
        mib(held),
        mib(index_bytes)
    );
    drop(writer);
    drop(store);
    assert!(
        in_use() - before < 64 << 10,
        "dropping the store frees the index"
    );
}
