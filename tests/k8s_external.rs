//! The real `cairn` binary serving `k8s_external example.org` next to a `kubernetes` block
//! reading a manifest file, queried over UDP and TCP by an independent client
//! (hickory-proto): external IPs (A, AAAA), SRV with additional records, a load-balancer
//! ingress IP and hostname (the hostname's addresses found through the server itself), PTR,
//! the apex SOA and NS, NXDOMAIN with the SOA, and a change to the manifest showing up.

mod common;

use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

const CLUSTER: &str = "\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.0.10
  externalIPs: [192.0.2.10, \"2001:db8::10\"]
  ports: [{name: https, protocol: TCP, port: 443}]
---
apiVersion: v1
kind: Service
metadata: {name: lb, namespace: shop}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.11
  ports: [{name: http, protocol: TCP, port: 80}]
status:
  loadBalancer:
    ingress: [{ip: 198.51.100.20}]
---
apiVersion: v1
kind: Service
metadata: {name: elb, namespace: shop}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.12
  ports: [{name: http, protocol: TCP, port: 80}]
status:
  loadBalancer:
    ingress: [{hostname: balancer.example.net}]
---
apiVersion: v1
kind: Service
metadata: {name: internal, namespace: shop}
spec:
  clusterIP: 10.96.0.13
  ports: [{name: http, protocol: TCP, port: 80}]
";

const COREFILE: &str = "example.org in-addr.arpa cluster.local {
    kubernetes cluster.local {
        manifests cluster.yaml
    }
    k8s_external example.org in-addr.arpa
}
example.net {
    hosts {
        192.0.2.80 balancer.example.net
        2001:db8::80 balancer.example.net
    }
}
";

/// Checks a negative answer: rcode, AA, no records, and the external zone's SOA.
fn assert_negative(r: &Message, rcode: ResponseCode) {
    assert_eq!(r.metadata.response_code, rcode, "{r}");
    assert!(r.metadata.authoritative, "{r}");
    assert!(r.answers.is_empty(), "{r}");
    assert_eq!(r.authorities.len(), 1, "{r}");
    let soa = &r.authorities[0];
    assert_eq!(soa.name.to_ascii(), "example.org.", "{r}");
    assert_eq!(soa.ttl, 5, "{r}");
    let RData::SOA(s) = &soa.data else {
        panic!("not SOA: {r}")
    };
    assert_eq!(s.mname.to_ascii(), "ns1.dns.example.org.");
    assert_eq!(s.rname.to_ascii(), "hostmaster.dns.example.org.");
    assert_eq!(
        (s.refresh, s.retry, s.expire, s.minimum),
        (7200, 1800, 86400, 5)
    );
    assert!(s.serial > 1_600_000_000, "serial is a Unix time: {r}");
}

#[test]
fn external_names_over_udp_and_tcp() {
    let srv = Server::start_files(COREFILE, &[("cluster.yaml", CLUSTER)]);
    for tcp in [false, true] {
        let r = ask(&srv, tcp, "web.shop.example.org.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        assert!(r.metadata.authoritative, "{r}");
        assert_eq!(
            section(&r.answers),
            ["web.shop.example.org. 5 A 192.0.2.10"],
            "{r}"
        );

        let r = ask(&srv, tcp, "Web.Shop.Example.Org.", RecordType::AAAA);
        assert_eq!(
            section(&r.answers),
            ["Web.Shop.Example.Org. 5 AAAA 2001:db8::10"],
            "case kept: {r}"
        );

        let r = ask(
            &srv,
            tcp,
            "_https._tcp.web.shop.example.org.",
            RecordType::SRV,
        );
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        assert_eq!(
            section(&r.answers),
            ["_https._tcp.web.shop.example.org. 5 SRV 0 50 443 web.shop.example.org."],
            "{r}"
        );
        assert_eq!(
            section(&r.additionals),
            [
                "web.shop.example.org. 5 A 192.0.2.10",
                "web.shop.example.org. 5 AAAA 2001:db8::10",
            ],
            "{r}"
        );

        // A load-balancer ingress IP.
        let r = ask(&srv, tcp, "lb.shop.example.org.", RecordType::A);
        assert_eq!(
            section(&r.answers),
            ["lb.shop.example.org. 5 A 198.51.100.20"],
            "{r}"
        );

        // A load-balancer hostname: a CNAME, then its address as the server resolves it.
        let r = ask(&srv, tcp, "elb.shop.example.org.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        assert_eq!(
            section(&r.answers),
            [
                "balancer.example.net. 3600 A 192.0.2.80",
                "elb.shop.example.org. 5 CNAME balancer.example.net.",
            ],
            "{r}"
        );
        let r = ask(&srv, tcp, "elb.shop.example.org.", RecordType::SRV);
        assert_eq!(
            section(&r.answers),
            ["elb.shop.example.org. 5 SRV 0 100 80 balancer.example.net."],
            "{r}"
        );
        assert_eq!(
            section(&r.additionals),
            [
                "balancer.example.net. 3600 A 192.0.2.80",
                "balancer.example.net. 3600 AAAA 2001:db8::80",
            ],
            "{r}"
        );

        // PTR of an external IP.
        let r = ask(&srv, tcp, "10.2.0.192.in-addr.arpa.", RecordType::PTR);
        assert_eq!(
            section(&r.answers),
            ["10.2.0.192.in-addr.arpa. 5 PTR web.shop.example.org."],
            "{r}"
        );

        // The apex: SOA, and NS with the name server's addresses as glue.
        let r = ask(&srv, tcp, "example.org.", RecordType::SOA);
        assert_eq!(r.answers.len(), 1, "{r}");
        let RData::SOA(s) = &r.answers[0].data else {
            panic!("not SOA: {r}")
        };
        assert_eq!(s.mname.to_ascii(), "ns1.dns.example.org.");
        let r = ask(&srv, tcp, "example.org.", RecordType::NS);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        assert_eq!(
            section(&r.answers),
            ["example.org. 5 NS ns1.dns.example.org."],
            "{r}"
        );
        for glue in &r.additionals {
            assert_eq!(glue.name.to_ascii(), "ns1.dns.example.org.", "{r}");
            assert!(
                matches!(glue.record_type(), RecordType::A | RecordType::AAAA),
                "{r}"
            );
        }

        // Negative answers carry the SOA.
        assert_negative(
            &ask(&srv, tcp, "nope.shop.example.org.", RecordType::A),
            ResponseCode::NXDomain,
        );
        assert_negative(
            &ask(&srv, tcp, "internal.shop.example.org.", RecordType::A),
            ResponseCode::NXDomain,
        );
        assert_negative(
            &ask(&srv, tcp, "lb.shop.example.org.", RecordType::AAAA),
            ResponseCode::NoError,
        );
        assert_negative(
            &ask(&srv, tcp, "ns2.dns.example.org.", RecordType::A),
            ResponseCode::NXDomain,
        );

        // The cluster zone is still the kubernetes plugin's.
        let r = ask(&srv, tcp, "web.shop.svc.cluster.local.", RecordType::A);
        assert_eq!(
            section(&r.answers),
            ["web.shop.svc.cluster.local. 5 A 10.96.0.10"],
            "{r}"
        );
    }
}

#[test]
fn a_changed_manifest_is_served_within_seconds() {
    let srv = Server::start_files(COREFILE, &[("cluster.yaml", CLUSTER)]);
    let r = ask(&srv, false, "internal.shop.example.org.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
    let serial = |r: &Message| -> u32 {
        match &r.authorities[0].data {
            RData::SOA(s) => s.serial,
            other => panic!("not SOA: {other}"),
        }
    };
    let before = serial(&r);

    // `internal` gets an external IP, `web` changes its own.
    let changed = CLUSTER
        .replace(
            "  clusterIP: 10.96.0.13\n",
            "  clusterIP: 10.96.0.13\n  externalIPs: [192.0.2.13]\n",
        )
        .replace("192.0.2.10,", "192.0.2.11,");
    // Let the modification time move on even on coarse file systems.
    std::thread::sleep(Duration::from_millis(1100));
    srv.dir.write("cluster.yaml", &changed);

    wait_for(
        "the changed manifest answers",
        Duration::from_secs(10),
        || {
            ask(&srv, false, "internal.shop.example.org.", RecordType::A)
                .metadata
                .response_code
                == ResponseCode::NoError
        },
    );
    let r = ask(&srv, false, "internal.shop.example.org.", RecordType::A);
    assert_eq!(
        section(&r.answers),
        ["internal.shop.example.org. 5 A 192.0.2.13"],
        "{r}"
    );
    for tcp in [false, true] {
        let r = ask(&srv, tcp, "web.shop.example.org.", RecordType::A);
        assert_eq!(
            section(&r.answers),
            ["web.shop.example.org. 5 A 192.0.2.11"],
            "{r}"
        );
        let r = ask(&srv, tcp, "10.2.0.192.in-addr.arpa.", RecordType::PTR);
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
    }
    // The SOA serial moved with the external data.
    let r = ask(&srv, false, "nope.shop.example.org.", RecordType::A);
    assert!(serial(&r) > before, "{before} -> {}", serial(&r));
}

#[test]
fn without_kubernetes_the_zone_fails_and_the_start_says_why() {
    let corefile = "example.org {\n    errors\n    k8s_external\n}\n";
    let srv = Server::start(corefile);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !srv.stdout().contains("kubernetes plugin not loaded") {
        assert!(
            Instant::now() < deadline,
            "no error at start: {}",
            srv.stdout()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for tcp in [false, true] {
        let r = ask(&srv, tcp, "web.shop.example.org.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{r}");
    }
}
