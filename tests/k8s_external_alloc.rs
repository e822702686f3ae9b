//! Heap allocations on the k8s_external plugin's answer paths, counted by a global allocator
//! while the server (in this process, on marked runtime threads) answers a stream of
//! identical queries: an external A record, SRV with additional records, a PTR, the apex NS,
//! and an NXDOMAIN with its SOA. Once warmed up, none of them may allocate (design notes,
//! section 6). `CAIRN_ALLOC_TRACE=N cargo test --test k8s_external_alloc -- --nocapture`
//! prints where the first N counted allocations come from (harness: `alloc_harness`).

mod alloc_harness;

use alloc_harness::*;

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

/// The quietest window's allocation count for `qname`/`qtype` served from the fixture.
fn measure_cluster(qname: &str, qtype: u16, check: fn(&[u8]) -> bool) -> usize {
    measure(COREFILE, &[("cluster.yaml", CLUSTER)], qname, qtype, check).count
}

#[test]
fn external_a_does_not_allocate() {
    let n = measure_cluster("svc1.testns.example.com.", 1, |r| {
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
    let n = measure_cluster("multi.testns.example.com.", 33, |r| {
        rcode(r) == 0 && count16(r, 6) == 2 && count16(r, 10) == 4
    });
    assert_eq!(
        n, 0,
        "allocations on the SRV path; rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture"
    );
}

#[test]
fn headless_srv_does_not_allocate() {
    let n = measure_cluster("svc-headless.testns.example.com.", 33, |r| {
        rcode(r) == 0 && count16(r, 6) == 2 && count16(r, 10) == 3
    });
    assert_eq!(
        n, 0,
        "allocations on the headless SRV path; rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture"
    );
}

#[test]
fn ptr_does_not_allocate() {
    let n = measure_cluster("5.4.3.2.in-addr.arpa.", 12, |r| {
        rcode(r) == 0 && count16(r, 6) == 1
    });
    assert_eq!(
        n, 0,
        "allocations on the PTR path; rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture"
    );
}

#[test]
fn apex_ns_does_not_allocate() {
    let n = measure_cluster("example.com.", 2, |r| rcode(r) == 0 && count16(r, 6) == 1);
    assert_eq!(
        n, 0,
        "allocations on the NS path; rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture"
    );
}

#[test]
fn nxdomain_with_soa_does_not_allocate() {
    let n = measure_cluster("svc0.testns.example.com.", 1, |r| {
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
    let n = measure_cluster("svc12.testns.example.com.", 1, |r| {
        rcode(r) == 0 && count16(r, 6) == 1
    });
    assert!(
        n >= PER_WINDOW,
        "at least one future per hostname answer: {n}"
    );
}
