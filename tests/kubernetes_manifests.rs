//! The real `cairn` binary serving a cluster zone from manifest files (`kubernetes {
//! manifests ... }`), queried over UDP and TCP by an independent client (hickory-proto):
//! services, headless SRV with additional records, PTR for IPv4 and IPv6, negative answers
//! with the SOA, and a change to the file showing up in answers.

mod common;

use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

const CLUSTER: &str = include_str!("fixtures/kubernetes/handler.yaml");

const COREFILE: &str = "cluster.local in-addr.arpa ip6.arpa {
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        manifests cluster.yaml
        pods insecure
        ttl 30
    }
}
";

#[test]
fn cluster_names_over_udp_and_tcp() {
    let srv = Server::start_files(COREFILE, &[("cluster.yaml", CLUSTER)]);
    for tcp in [false, true] {
        let r = ask(&srv, tcp, "svc1.testns.svc.cluster.local.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        assert!(r.metadata.authoritative, "{r}");
        assert!(!r.metadata.recursion_available, "{r}");
        assert_eq!(
            section(&r.answers),
            ["svc1.testns.svc.cluster.local. 30 A 10.0.0.1"],
            "{r}"
        );

        let r = ask(
            &srv,
            tcp,
            "Svc-Dual-Stack.testns.svc.cluster.local.",
            RecordType::AAAA,
        );
        assert_eq!(
            section(&r.answers),
            ["Svc-Dual-Stack.testns.svc.cluster.local. 30 AAAA 10::3"],
            "case kept: {r}"
        );

        let r = ask(
            &srv,
            tcp,
            "_http._tcp.hdls1.testns.svc.cluster.local.",
            RecordType::SRV,
        );
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        assert_eq!(r.answers.len(), 5, "{r}");
        for a in &r.answers {
            let RData::SRV(s) = &a.data else {
                panic!("not SRV: {r}")
            };
            assert_eq!((s.priority, s.weight, s.port), (0, 16, 80), "{r}");
        }
        assert_eq!(
            section(&r.additionals),
            [
                "172-0-0-2.hdls1.testns.svc.cluster.local. 30 A 172.0.0.2",
                "172-0-0-3.hdls1.testns.svc.cluster.local. 30 A 172.0.0.3",
                "5678-abcd--1.hdls1.testns.svc.cluster.local. 30 AAAA 5678:abcd::1",
                "5678-abcd--2.hdls1.testns.svc.cluster.local. 30 AAAA 5678:abcd::2",
                "dup-name.hdls1.testns.svc.cluster.local. 30 A 172.0.0.4",
                "dup-name.hdls1.testns.svc.cluster.local. 30 A 172.0.0.5",
            ],
            "{r}"
        );

        let r = ask(&srv, tcp, "1.0.0.10.in-addr.arpa.", RecordType::PTR);
        assert_eq!(
            section(&r.answers),
            ["1.0.0.10.in-addr.arpa. 30 PTR svc1.testns.svc.cluster.local."],
            "{r}"
        );
        let r = ask(
            &srv,
            tcp,
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.ip6.arpa.",
            RecordType::PTR,
        );
        assert_eq!(r.answers.len(), 1, "{r}");
        assert_eq!(
            r.answers[0].data.to_string(),
            "svc6.testns.svc.cluster.local.",
            "{r}"
        );

        let r = ask(
            &srv,
            tcp,
            "10-240-0-9.testns.pod.cluster.local.",
            RecordType::A,
        );
        assert_eq!(
            section(&r.answers),
            ["10-240-0-9.testns.pod.cluster.local. 30 A 10.240.0.9"],
            "{r}"
        );

        // NXDOMAIN and NODATA carry the zone's SOA.
        for (name, rtype, rcode) in [
            (
                "svc0.testns.svc.cluster.local.",
                RecordType::A,
                ResponseCode::NXDomain,
            ),
            (
                "svc1.testns.svc.cluster.local.",
                RecordType::AAAA,
                ResponseCode::NoError,
            ),
        ] {
            let r = ask(&srv, tcp, name, rtype);
            assert_eq!(r.metadata.response_code, rcode, "{r}");
            assert!(r.metadata.authoritative, "{r}");
            assert!(r.answers.is_empty(), "{r}");
            assert_eq!(r.authorities.len(), 1, "{r}");
            let soa = &r.authorities[0];
            assert_eq!(soa.name.to_ascii(), "cluster.local.");
            assert_eq!(soa.ttl, 30);
            let RData::SOA(s) = &soa.data else {
                panic!("not SOA: {r}")
            };
            assert_eq!(s.mname.to_ascii(), "ns.dns.cluster.local.");
            assert_eq!(s.rname.to_ascii(), "hostmaster.cluster.local.");
            assert_eq!(
                (s.refresh, s.retry, s.expire, s.minimum),
                (7200, 1800, 86400, 30)
            );
            assert!(s.serial > 1_600_000_000, "serial is a Unix time: {r}");
        }

        let r = ask(&srv, tcp, "dns-version.cluster.local.", RecordType::TXT);
        assert_eq!(r.answers.len(), 1, "{r}");
        assert_eq!(r.answers[0].ttl, 28800, "{r}");
    }
}

#[test]
fn a_changed_manifest_is_served_within_seconds() {
    let srv = Server::start_files(COREFILE, &[("cluster.yaml", CLUSTER)]);
    let r = ask(
        &srv,
        false,
        "added.testns.svc.cluster.local.",
        RecordType::A,
    );
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
    let before = r.authorities[0].data.to_string();

    let changed = CLUSTER.replace("clusterIP: 10.0.0.1\n", "clusterIP: 10.0.0.99\n")
        + "---\napiVersion: v1\nkind: Service\nmetadata: {name: added, namespace: testns}\n\
           spec:\n  clusterIP: 10.0.0.77\n";
    // Let the modification time move on even on coarse file systems.
    std::thread::sleep(Duration::from_millis(1100));
    srv.dir.write("cluster.yaml", &changed);

    let added = || {
        ask(
            &srv,
            false,
            "added.testns.svc.cluster.local.",
            RecordType::A,
        )
    };
    wait_for(
        "the changed manifest answers",
        Duration::from_secs(10),
        || added().metadata.response_code == ResponseCode::NoError,
    );
    let r = added();
    assert_eq!(
        section(&r.answers),
        ["added.testns.svc.cluster.local. 30 A 10.0.0.77"],
        "{r}"
    );
    for tcp in [false, true] {
        let r = ask(&srv, tcp, "svc1.testns.svc.cluster.local.", RecordType::A);
        assert_eq!(
            section(&r.answers),
            ["svc1.testns.svc.cluster.local. 30 A 10.0.0.99"],
            "{r}"
        );
    }
    // The SOA serial moved with the change (or stayed if within the same second).
    let r = ask(&srv, false, "svc0.testns.svc.cluster.local.", RecordType::A);
    let after = r.authorities[0].data.to_string();
    let serial = |soa: &str| -> u64 { soa.split_whitespace().nth(2).unwrap().parse().unwrap() };
    assert!(serial(&after) >= serial(&before), "{before} -> {after}");

    // A broken file keeps the last good state and is reported.
    srv.dir
        .write("cluster.yaml", "kind: Service\nmetadata: [broken\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !srv.stdout().contains("[WARNING] plugin/kubernetes: ") {
        assert!(
            Instant::now() < deadline,
            "no warning for the broken file: {}",
            srv.stdout()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = ask(
        &srv,
        false,
        "added.testns.svc.cluster.local.",
        RecordType::A,
    );
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
}

#[test]
fn a_missing_manifest_fails_the_start() {
    let corefile = "cluster.local {\n    kubernetes {\n        manifests nowhere.yaml\n    }\n}\n";
    let Err(failure) = Server::start_full(corefile, &[], &[], ConfSource::File) else {
        panic!("started without its manifest");
    };
    assert!(failure.status.is_some_and(|s| !s.success()));
    let output = failure.stderr;
    assert!(output.contains("nowhere.yaml"), "{output}");
}

/// `autopath @kubernetes`: a query from a pod's address (here the test client's 127.0.0.1,
/// given to a pod in the manifests) is completed along that pod's search path on the server.
#[test]
fn autopath_walks_the_search_path_of_the_client_pod() {
    let mport = free_port();
    let corefile = format!(
        ". {{
    prometheus 127.0.0.1:{mport}
    autopath cluster.local @kubernetes
    kubernetes cluster.local {{
        manifests cluster.yaml
        pods verified
    }}
    file root.zone .
}}
"
    );
    let cluster = format!(
        "{CLUSTER}---
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: podns}}
status:
  phase: Running
  podIP: 127.0.0.1
"
    );
    // The last step of the path is the bare name, outside the cluster zone: a root zone
    // answers it (NXDOMAIN), where a cluster would have `forward`.
    let root =
        ". 300 IN SOA ns.root. hostmaster.root. 1 7200 3600 1209600 300\n. 300 IN NS ns.root.\n";
    let srv = Server::start_files(
        &corefile,
        &[("cluster.yaml", &cluster), ("root.zone", root)],
    );
    for tcp in [false, true] {
        // The client's resolver tries `svc1.testns` in its own namespace first.
        let r = ask(
            &srv,
            tcp,
            "svc1.testns.podns.svc.cluster.local.",
            RecordType::A,
        );
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        assert_eq!(
            section(&r.answers),
            [
                "svc1.testns.podns.svc.cluster.local. 5 CNAME svc1.testns.svc.cluster.local.",
                "svc1.testns.svc.cluster.local. 5 A 10.0.0.1"
            ],
            "{r}"
        );
        // A name that exists nowhere on the path: the first step's NXDOMAIN (with the cluster
        // zone's SOA, as kubernetes answered it).
        let r = ask(&srv, tcp, "nothing.podns.svc.cluster.local.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
        assert!(r.answers.is_empty(), "{r}");
        assert_eq!(
            r.authorities.first().map(|a| a.name.to_string()).as_deref(),
            Some("cluster.local."),
            "{r}"
        );
    }
    let (status, body) = http_get(mport, "/metrics");
    assert_eq!(status, 200);
    assert!(
        body.lines()
            .any(|l| l.starts_with("coredns_autopath_success_total{") && l.ends_with(" 2")),
        "{body}"
    );
}

/// An ExternalName service whose target lies outside the cluster zone: the target is looked
/// up through the server (here a `file` zone in the same block) and its records follow the
/// CNAME.
#[test]
fn external_name_targets_are_looked_up_through_the_server() {
    let corefile = ". {
    kubernetes cluster.local {
        manifests cluster.yaml
    }
    file interwebs.zone interwebs.test
}
";
    let zone = "$ORIGIN interwebs.test.
@ 300 IN SOA ns hostmaster 1 7200 3600 1209600 300
@ 300 IN NS ns
ns 300 IN A 192.0.2.53
ext 300 IN A 1.2.3.4
ext 300 IN AAAA 2001:db8::4
";
    let srv = Server::start_files(
        corefile,
        &[("cluster.yaml", CLUSTER), ("interwebs.zone", zone)],
    );
    for tcp in [false, true] {
        let r = ask(
            &srv,
            tcp,
            "external.testns.svc.cluster.local.",
            RecordType::A,
        );
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        assert_eq!(
            section(&r.answers),
            [
                "ext.interwebs.test. 300 A 1.2.3.4",
                "external.testns.svc.cluster.local. 5 CNAME ext.interwebs.test."
            ],
            "{r}"
        );
        let r = ask(
            &srv,
            tcp,
            "external.testns.svc.cluster.local.",
            RecordType::AAAA,
        );
        assert_eq!(
            section(&r.answers),
            [
                "ext.interwebs.test. 300 AAAA 2001:db8::4",
                "external.testns.svc.cluster.local. 5 CNAME ext.interwebs.test."
            ],
            "{r}"
        );
        // A CNAME query is answered from the cluster alone.
        let r = ask(
            &srv,
            tcp,
            "external.testns.svc.cluster.local.",
            RecordType::CNAME,
        );
        assert_eq!(
            section(&r.answers),
            ["external.testns.svc.cluster.local. 5 CNAME ext.interwebs.test."],
            "{r}"
        );
    }
}
