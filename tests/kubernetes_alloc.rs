//! Heap allocations on the kubernetes plugin's answer paths, counted by a global allocator
//! while the server (in this process, on marked runtime threads) answers a stream of
//! identical queries: a ClusterIP A record, a headless SRV with additional records, a PTR,
//! and an NXDOMAIN with its SOA. Once warmed up, none of them may allocate (design notes,
//! section 6). `CAIRN_ALLOC_TRACE=N cargo test --test kubernetes_alloc -- --nocapture`
//! prints where the first N counted allocations come from.

mod alloc_harness;

use alloc_harness::*;

const CLUSTER: &str = include_str!("fixtures/kubernetes/handler.yaml");
const COREFILE: &str = "cluster.local in-addr.arpa {
    kubernetes cluster.local in-addr.arpa {
        manifests cluster.yaml
        ttl 30
    }
}
";

/// The quietest window's allocation count for `qname`/`qtype` served from the fixture.
fn measure_cluster(qname: &str, qtype: u16, check: fn(&[u8]) -> bool) -> usize {
    measure(COREFILE, &[("cluster.yaml", CLUSTER)], qname, qtype, check).count
}

#[test]
fn cluster_ip_a_does_not_allocate() {
    let n = measure_cluster("svc1.testns.svc.cluster.local.", 1, |r| {
        rcode(r) == 0 && aa(r) && count16(r, 6) == 1
    });
    assert_eq!(
        n, 0,
        "allocations on the A path; rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture"
    );
}

#[test]
fn headless_srv_does_not_allocate() {
    // 5 SRV records, 6 addresses + OPT in additional.
    let n = measure_cluster("_http._tcp.hdls1.testns.svc.cluster.local.", 33, |r| {
        rcode(r) == 0 && count16(r, 6) == 5 && count16(r, 10) == 7
    });
    assert_eq!(
        n, 0,
        "allocations on the SRV path; rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture"
    );
}

#[test]
fn ptr_does_not_allocate() {
    let n = measure_cluster("2.0.0.172.in-addr.arpa.", 12, |r| {
        rcode(r) == 0 && count16(r, 6) == 1
    });
    assert_eq!(
        n, 0,
        "allocations on the PTR path; rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture"
    );
}

#[test]
fn nxdomain_with_soa_does_not_allocate() {
    let n = measure_cluster("svc0.testns.svc.cluster.local.", 1, |r| {
        rcode(r) == 3 && aa(r) && count16(r, 8) == 1
    });
    assert_eq!(
        n, 0,
        "allocations on the NXDOMAIN path; rerun with CAIRN_ALLOC_TRACE=5 -- --nocapture"
    );
}

/// The counter sees what it should: a negative answer for a zone spelled in another case
/// builds its own SOA (at least one allocation per query, by design), so the paths above really are
/// allocation-free rather than unmeasured.
#[test]
fn counter_sees_the_mixed_case_soa() {
    let n = measure_cluster("svc0.testns.svc.Cluster.Local.", 1, |r| {
        rcode(r) == 3 && count16(r, 8) == 1
    });
    assert!(
        n >= PER_WINDOW,
        "at least one SOA per mixed-case negative answer: {n}"
    );
}
