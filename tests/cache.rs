//! The real `cairn` binary with `cache` in front of `file` and of `kubernetes`, queried over
//! UDP and TCP by an independent client (hickory-proto): TTLs that count down between
//! queries, the question's case on hits, the `coredns_cache_*` series on the prometheus
//! endpoint, and a manifest change that shows through `cache 30` at once.

mod common;

use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

const ZONE: &str = "$ORIGIN example.com.
@       300 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 60
@       300 IN NS  ns1.example.com.
ns1     300 IN A   192.0.2.1
www     300 IN A   192.0.2.2
";

const CLUSTER: &str = include_str!("fixtures/kubernetes/handler.yaml");

/// Sleeps past the next whole second of the cache's clock.
fn a_second_passes() {
    std::thread::sleep(Duration::from_millis(1100));
}

#[test]
fn repeated_queries_count_the_ttl_down_over_udp_and_tcp() {
    let corefile = "example.com {\n    cache\n    file db.example.com\n}\n";
    let srv = Server::start_files(corefile, &[("db.example.com", ZONE)]);

    let r = ask(&srv, false, "www.example.com.", RecordType::A);
    assert_eq!(
        record_lines(&r.answers),
        ["www.example.com. 300 A 192.0.2.2"],
        "{r}"
    );
    assert!(r.metadata.authoritative, "{r}");
    a_second_passes();
    // UDP and TCP share the cache; the hit echoes the question's case.
    let mut last = 300;
    for tcp in [false, true, false] {
        let r = ask(&srv, tcp, "WWW.Example.com.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        assert!(r.metadata.authoritative, "hits are authoritative: {r}");
        assert_eq!(r.answers.len(), 1, "{r}");
        assert_eq!(r.answers[0].name.to_ascii(), "WWW.Example.com.", "{r}");
        let ttl = r.answers[0].ttl;
        assert!(
            ttl < 300 && ttl <= last && ttl >= 290,
            "ttl {ttl} after {last}: {r}"
        );
        last = ttl;
    }
    a_second_passes();
    let r = ask(&srv, true, "www.example.com.", RecordType::A);
    assert!(r.answers[0].ttl < last, "{r}");

    // A negative answer is cached with the SOA's TTL, counting down too.
    let r = ask(&srv, false, "nope.example.com.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
    let first = r.authorities[0].ttl;
    assert_eq!(first, 60, "{r}");
    a_second_passes();
    let r = ask(&srv, true, "nope.example.com.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
    assert!(r.authorities[0].ttl < first, "{r}");
}

#[test]
fn cache_metrics_are_exported() {
    let mport = free_port();
    let corefile = format!(
        "example.com {{\n    prometheus 127.0.0.1:{mport}\n    cache 60\n    file db.example.com\n}}\n"
    );
    let srv = Server::start_files(&corefile, &[("db.example.com", ZONE)]);
    for tcp in [false, true, false] {
        ask(&srv, tcp, "www.example.com.", RecordType::A);
    }
    ask(&srv, false, "nope.example.com.", RecordType::A);
    ask(&srv, false, "nope.example.com.", RecordType::A);

    let server = format!("dns://:{}", srv.port);
    let want = [
        format!("coredns_cache_requests_total{{server=\"{server}\",zones=\"example.com.\",view=\"\"}} 5"),
        format!("coredns_cache_misses_total{{server=\"{server}\",zones=\"example.com.\",view=\"\"}} 2"),
        format!(
            "coredns_cache_hits_total{{server=\"{server}\",type=\"success\",zones=\"example.com.\",view=\"\"}} 2"
        ),
        format!(
            "coredns_cache_hits_total{{server=\"{server}\",type=\"denial\",zones=\"example.com.\",view=\"\"}} 1"
        ),
        format!(
            "coredns_cache_entries{{server=\"{server}\",type=\"success\",zones=\"example.com.\",view=\"\"}} 1"
        ),
        format!(
            "coredns_cache_entries{{server=\"{server}\",type=\"denial\",zones=\"example.com.\",view=\"\"}} 1"
        ),
    ];
    let (status, body) = http_get(mport, "/metrics");
    assert_eq!(status, 200);
    for line in &want {
        assert!(body.lines().any(|l| l == line), "missing {line}:\n{body}");
    }
    for family in [
        "coredns_cache_entries",
        "coredns_cache_requests_total",
        "coredns_cache_hits_total",
        "coredns_cache_misses_total",
        "coredns_cache_prefetch_total",
        "coredns_cache_drops_total",
        "coredns_cache_served_stale_total",
        "coredns_cache_evictions_total",
    ] {
        assert!(
            body.contains(&format!("# TYPE {family} ")),
            "no {family}:\n{body}"
        );
    }
}

#[test]
fn a_manifest_change_shows_through_the_cache_at_once() {
    let corefile = "cluster.local {\n    cache 30\n    kubernetes {\n        manifests cluster.yaml\n        ttl 30\n    }\n}\n";
    let srv = Server::start_files(corefile, &[("cluster.yaml", CLUSTER)]);

    // Both answers are cached: their TTLs count down.
    let r = ask(&srv, false, "svc1.testns.svc.cluster.local.", RecordType::A);
    assert_eq!(
        record_lines(&r.answers),
        ["svc1.testns.svc.cluster.local. 30 A 10.0.0.1"],
        "{r}"
    );
    let r = ask(
        &srv,
        false,
        "added.testns.svc.cluster.local.",
        RecordType::A,
    );
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
    let cached_at = Instant::now();
    a_second_passes();
    for tcp in [false, true] {
        let r = ask(&srv, tcp, "svc1.testns.svc.cluster.local.", RecordType::A);
        assert_eq!(r.answers.len(), 1, "{r}");
        assert!(r.answers[0].ttl < 30, "served from the cache: {r}");
        let r = ask(&srv, tcp, "added.testns.svc.cluster.local.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
        assert!(r.authorities[0].ttl < 30, "served from the cache: {r}");
    }

    let changed = CLUSTER.replace("clusterIP: 10.0.0.1\n", "clusterIP: 10.0.0.99\n")
        + "---\napiVersion: v1\nkind: Service\nmetadata: {name: added, namespace: testns}\n\
           spec:\n  clusterIP: 10.0.0.77\n";
    srv.dir.write("cluster.yaml", &changed);

    // The source polls the file every second; the cache must not hold the old answers for
    // their remaining ~29 s.
    let deadline = cached_at + Duration::from_secs(15);
    loop {
        let svc = ask(&srv, false, "svc1.testns.svc.cluster.local.", RecordType::A);
        let added = ask(&srv, true, "added.testns.svc.cluster.local.", RecordType::A);
        if record_lines(&svc.answers) == ["svc1.testns.svc.cluster.local. 30 A 10.0.0.99"]
            && record_lines(&added.answers) == ["added.testns.svc.cluster.local. 30 A 10.0.0.77"]
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the change did not show through the cache:\n{svc}\n{added}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The new answers are cached in turn.
    a_second_passes();
    let r = ask(&srv, false, "svc1.testns.svc.cluster.local.", RecordType::A);
    assert!(r.answers[0].ttl < 30, "{r}");
}
