//! Case tables for `k8s_external`: CoreDNS's plugin/k8s_external tests (external_test.go,
//! apex_test.go, setup_test.go) ported over a manifest fixture of the same cluster, plus the
//! cases Cairn adds (several addresses and ports, name server addresses from the index,
//! PTR and namespaces, fallthrough, before sync, no `kubernetes` plugin, option errors).
//! Each row is one query through the chain `k8s_external -> kubernetes -> stub`: rcode, AA,
//! and the answer, authority and additional sections record by record (sorted; `SERIAL`
//! stands for the index's last change to external data).

use std::net::IpAddr;
use std::sync::Arc;

use cairn_core::testing::{
    check_reply, lines, normalize_line, on_the_wire, query, run, setup, with_setup_ctx, Expected,
    StubNext,
};
use cairn_core::wire::{Name, RType, Rcode};
use cairn_core::{Chain, SetupError};

use super::setup::{parse_options, Options};
use crate::kubernetes::Kubernetes;
use crate::registry::spec;

const CLUSTER: &str = include_str!("../../../../tests/fixtures/kubernetes/external.yaml");

/// The `kubernetes` block of CoreDNS's tests: only `testns` is served.
const TESTNS_ONLY: &str = "cluster.local {\n kubernetes {\n  namespaces testns\n }\n}";
/// A `kubernetes` block serving every namespace.
const ALL_NAMESPACES: &str = "cluster.local {\n kubernetes\n}";

/// The negative-answer SOA of `example.com.` with the default TTL.
const SOA: &str =
    "example.com. 5 IN SOA ns1.dns.example.com. hostmaster.dns.example.com. SERIAL 7200 1800 86400 5";
/// The same for `in-addr.arpa.`.
const SOA_ARPA: &str =
    "in-addr.arpa. 5 IN SOA ns1.dns.in-addr.arpa. hostmaster.dns.in-addr.arpa. SERIAL 7200 1800 86400 5";

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// Parses the `k8s_external` lines of a one-block Corefile.
fn options(corefile: &str) -> Result<Options, SetupError> {
    with_setup_ctx("k8s_external", corefile, None, |ctx| parse_options(ctx))
        .map(|(options, _)| options)
}

/// `k8s_external` set up from a Corefile, then `kubernetes` over the fixture, then a stub
/// that answers REFUSED and counts the queries passed on.
struct Fixture {
    chain: Chain,
    kubernetes: Arc<Kubernetes>,
    next: Arc<StubNext>,
}

impl Fixture {
    fn new(external: &str, kubernetes: &str) -> Fixture {
        Fixture::build(external, kubernetes, true, &["192.0.2.53"])
    }

    fn build(external: &str, kubernetes: &str, synced: bool, local: &[&str]) -> Fixture {
        let ext = setup(spec("k8s_external"), external, None)
            .unwrap_or_else(|e| panic!("{e}\n{external}"));
        let local: Vec<IpAddr> = local.iter().map(|s| s.parse().expect("ip")).collect();
        let k = Arc::new(Kubernetes::for_external_tests(
            kubernetes, CLUSTER, synced, local,
        ));
        let next = StubNext::new(Rcode::REFUSED);
        let mut plugins = ext.plugins.clone();
        plugins.push(k.clone());
        plugins.push(next.clone());
        Fixture {
            chain: Chain::new(plugins),
            kubernetes: k,
            next,
        }
    }

    fn serial(&self) -> u32 {
        self.kubernetes.store().load().external_modified()
    }

    /// Runs every case; all failures are reported together.
    fn check(&self, cases: &[Case]) {
        let mut failures = Vec::new();
        for (i, c) in cases.iter().enumerate() {
            if let Err(e) = self.check_one(c) {
                failures.push(format!("case {i} ({} {}): {e}", c.qname, c.qtype));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }

    fn check_one(&self, c: &Case) -> Result<(), String> {
        let calls = self.next.calls();
        let (req, result) = run(&self.chain, query(c.qname, c.qtype));
        let msg = result.map_err(|e| format!("error {e}"))?;
        if self.next.calls() != calls {
            return Err("the query went to the next plugin".into());
        }
        let want = Expected {
            rcode: c.rcode,
            answer: c.answer,
            authority: c.authority,
            additional: c.additional,
        };
        check_reply(&req, &msg, &want, self.serial())
    }

    /// Runs one query and says whether the stub after both plugins answered it.
    fn passed_on(&self, qname: &str, qtype: RType) -> bool {
        let calls = self.next.calls();
        let (_, result) = run(&self.chain, query(qname, qtype));
        let msg = result.expect("a reply");
        let passed = self.next.calls() != calls;
        assert_eq!(passed, msg.rcode == Rcode::REFUSED, "{msg:?}");
        passed
    }
}

/// One query and the reply it must get.
struct Case {
    qname: &'static str,
    qtype: RType,
    rcode: Rcode,
    answer: &'static [&'static str],
    authority: &'static [&'static str],
    additional: &'static [&'static str],
}

/// NOERROR with records.
fn ok(qname: &'static str, qtype: RType, answer: &'static [&'static str]) -> Case {
    Case {
        qname,
        qtype,
        rcode: Rcode::NOERROR,
        answer,
        authority: &[],
        additional: &[],
    }
}

/// NOERROR with records and additional records.
fn ok_extra(
    qname: &'static str,
    qtype: RType,
    answer: &'static [&'static str],
    additional: &'static [&'static str],
) -> Case {
    Case {
        additional,
        ..ok(qname, qtype, answer)
    }
}

/// NODATA with `soa` in authority.
fn nodata_soa(qname: &'static str, qtype: RType, soa: &'static [&'static str]) -> Case {
    Case {
        qname,
        qtype,
        rcode: Rcode::NOERROR,
        answer: &[],
        authority: soa,
        additional: &[],
    }
}

/// NODATA in `example.com.`.
fn nodata(qname: &'static str, qtype: RType) -> Case {
    nodata_soa(qname, qtype, &[SOA])
}

/// NXDOMAIN with `soa` in authority.
fn nx_soa(qname: &'static str, qtype: RType, soa: &'static [&'static str]) -> Case {
    Case {
        rcode: Rcode::NXDOMAIN,
        ..nodata_soa(qname, qtype, soa)
    }
}

/// NXDOMAIN in `example.com.`.
fn nx(qname: &'static str, qtype: RType) -> Case {
    nx_soa(qname, qtype, &[SOA])
}

/// CoreDNS's test setup: two zones, `headless`.
const COREDNS_EXTERNAL: &str =
    "example.com in-addr.arpa {\n k8s_external example.com in-addr.arpa {\n  headless\n }\n}";

// ---------------------------------------------------------------------------------------------
// external_test.go
// ---------------------------------------------------------------------------------------------

#[test]
fn coredns_external_cases() {
    let f = Fixture::new(COREDNS_EXTERNAL, TESTNS_ONLY);
    f.check(&[
        // PTR for an external IP; PTR for forward names is NODATA or NXDOMAIN.
        ok(
            "4.3.2.1.in-addr.arpa.",
            RType::PTR,
            &["4.3.2.1.in-addr.arpa. 5 IN PTR svc1.testns.example.com."],
        ),
        nodata("svc1.testns.example.com.", RType::PTR),
        nx("not-existing.testns.example.com.", RType::PTR),
        // External IP service.
        ok(
            "svc1.testns.example.com.",
            RType::A,
            &["svc1.testns.example.com. 5 IN A 1.2.3.4"],
        ),
        ok_extra(
            "svc1.testns.example.com.",
            RType::SRV,
            &["svc1.testns.example.com. 5 IN SRV 0 100 80 svc1.testns.example.com."],
            &["svc1.testns.example.com. 5 IN A 1.2.3.4"],
        ),
        nx("*._not-udp-or-tcp.svc1.testns.example.com.", RType::SRV),
        ok_extra(
            "_http._tcp.svc1.testns.example.com.",
            RType::SRV,
            &["_http._tcp.svc1.testns.example.com. 5 IN SRV 0 100 80 svc1.testns.example.com."],
            &["svc1.testns.example.com. 5 IN A 1.2.3.4"],
        ),
        nodata("svc1.testns.example.com.", RType::AAAA),
        nx("svc0.testns.example.com.", RType::AAAA),
        nx("svc0.testns.example.com.", RType::A),
        nx("svc0.svc-nons.example.com.", RType::A),
        // IPv6 external IP.
        ok(
            "svc6.testns.example.com.",
            RType::AAAA,
            &["svc6.testns.example.com. 5 IN AAAA 1:2::5"],
        ),
        ok_extra(
            "_http._tcp.svc6.testns.example.com.",
            RType::SRV,
            &["_http._tcp.svc6.testns.example.com. 5 IN SRV 0 100 80 svc6.testns.example.com."],
            &["svc6.testns.example.com. 5 IN AAAA 1:2::5"],
        ),
        ok_extra(
            "svc6.testns.example.com.",
            RType::SRV,
            &["svc6.testns.example.com. 5 IN SRV 0 100 80 svc6.testns.example.com."],
            &["svc6.testns.example.com. 5 IN AAAA 1:2::5"],
        ),
        // The namespace exists and holds nothing; SOA below the apex is NODATA.
        nodata("testns.example.com.", RType::A),
        nodata("testns.example.com.", RType::SOA),
        // Load-balancer ingress IP.
        ok(
            "svc11.testns.example.com.",
            RType::A,
            &["svc11.testns.example.com. 5 IN A 2.3.4.5"],
        ),
        ok_extra(
            "_http._tcp.svc11.testns.example.com.",
            RType::SRV,
            &["_http._tcp.svc11.testns.example.com. 5 IN SRV 0 100 80 svc11.testns.example.com."],
            &["svc11.testns.example.com. 5 IN A 2.3.4.5"],
        ),
        ok_extra(
            "svc11.testns.example.com.",
            RType::SRV,
            &["svc11.testns.example.com. 5 IN SRV 0 100 80 svc11.testns.example.com."],
            &["svc11.testns.example.com. 5 IN A 2.3.4.5"],
        ),
        // Load-balancer ingress hostname: a CNAME (its lookup through the server finds no
        // server here, so nothing follows it).
        ok(
            "svc12.testns.example.com.",
            RType::A,
            &["svc12.testns.example.com. 5 IN CNAME dummy.hostname."],
        ),
        ok(
            "_http._tcp.svc12.testns.example.com.",
            RType::SRV,
            &["_http._tcp.svc12.testns.example.com. 5 IN SRV 0 100 80 dummy.hostname."],
        ),
        ok(
            "svc12.testns.example.com.",
            RType::SRV,
            &["svc12.testns.example.com. 5 IN SRV 0 100 80 dummy.hostname."],
        ),
        // Headless service: its endpoints.
        ok(
            "svc-headless.testns.example.com.",
            RType::A,
            &[
                "svc-headless.testns.example.com. 5 IN A 1.2.3.4",
                "svc-headless.testns.example.com. 5 IN A 1.2.3.5",
            ],
        ),
        ok_extra(
            "svc-headless.testns.example.com.",
            RType::SRV,
            &[
                "svc-headless.testns.example.com. 5 IN SRV 0 50 80 endpoint-svc-0.svc-headless.testns.example.com.",
                "svc-headless.testns.example.com. 5 IN SRV 0 50 80 endpoint-svc-1.svc-headless.testns.example.com.",
            ],
            &[
                "endpoint-svc-0.svc-headless.testns.example.com. 5 IN A 1.2.3.4",
                "endpoint-svc-1.svc-headless.testns.example.com. 5 IN A 1.2.3.5",
            ],
        ),
        ok_extra(
            "_http._tcp.svc-headless.testns.example.com.",
            RType::SRV,
            &[
                "_http._tcp.svc-headless.testns.example.com. 5 IN SRV 0 50 80 endpoint-svc-0.svc-headless.testns.example.com.",
                "_http._tcp.svc-headless.testns.example.com. 5 IN SRV 0 50 80 endpoint-svc-1.svc-headless.testns.example.com.",
            ],
            &[
                "endpoint-svc-0.svc-headless.testns.example.com. 5 IN A 1.2.3.4",
                "endpoint-svc-1.svc-headless.testns.example.com. 5 IN A 1.2.3.5",
            ],
        ),
        ok_extra(
            "endpoint-svc-0.svc-headless.testns.example.com.",
            RType::SRV,
            &["endpoint-svc-0.svc-headless.testns.example.com. 5 IN SRV 0 100 80 endpoint-svc-0.svc-headless.testns.example.com."],
            &["endpoint-svc-0.svc-headless.testns.example.com. 5 IN A 1.2.3.4"],
        ),
        ok_extra(
            "endpoint-svc-1.svc-headless.testns.example.com.",
            RType::SRV,
            &["endpoint-svc-1.svc-headless.testns.example.com. 5 IN SRV 0 100 80 endpoint-svc-1.svc-headless.testns.example.com."],
            &["endpoint-svc-1.svc-headless.testns.example.com. 5 IN A 1.2.3.5"],
        ),
        ok(
            "endpoint-svc-0.svc-headless.testns.example.com.",
            RType::A,
            &["endpoint-svc-0.svc-headless.testns.example.com. 5 IN A 1.2.3.4"],
        ),
        ok(
            "endpoint-svc-1.svc-headless.testns.example.com.",
            RType::A,
            &["endpoint-svc-1.svc-headless.testns.example.com. 5 IN A 1.2.3.5"],
        ),
    ]);
}

// ---------------------------------------------------------------------------------------------
// apex_test.go
// ---------------------------------------------------------------------------------------------

#[test]
fn coredns_apex_cases() {
    let f = Fixture::new(
        "example.com {\n k8s_external {\n  headless\n }\n}",
        TESTNS_ONLY,
    );
    f.check(&[
        ok("example.com.", RType::SOA, &[SOA]),
        ok_extra(
            "example.com.",
            RType::NS,
            &["example.com. 5 IN NS ns1.dns.example.com."],
            &["ns1.dns.example.com. 5 IN A 192.0.2.53"],
        ),
        nodata("example.com.", RType::SRV),
        nodata("dns.example.com.", RType::SRV),
        nodata("dns.example.com.", RType::NS),
        nodata("ns1.dns.example.com.", RType::SRV),
        nodata("ns1.dns.example.com.", RType::NS),
        nodata("ns1.dns.example.com.", RType::AAAA),
        ok(
            "ns1.dns.example.com.",
            RType::A,
            &["ns1.dns.example.com. 5 IN A 192.0.2.53"],
        ),
        // Other names under the apex subdomain do not exist.
        nx("ns2.dns.example.com.", RType::A),
        nx("a.ns1.dns.example.com.", RType::A),
    ]);
}

#[test]
fn apex_soa_serial_is_the_last_external_change() {
    let f = Fixture::new(COREDNS_EXTERNAL, TESTNS_ONLY);
    let serial = f.serial();
    assert!(serial > 1_600_000_000, "a Unix time: {serial}");
    let (_, result) = run(&f.chain, query("example.com.", RType::SOA));
    let m = result.unwrap();
    assert!(
        lines(&m.answer)[0].contains(&format!(" {serial} 7200 1800 86400 5")),
        "{:?}",
        lines(&m.answer)
    );
}

// ---------------------------------------------------------------------------------------------
// Cases Cairn adds
// ---------------------------------------------------------------------------------------------

#[test]
fn several_addresses_and_ports() {
    let f = Fixture::new(COREDNS_EXTERNAL, TESTNS_ONLY);
    f.check(&[
        // External IPs then ingress IPs, each once.
        ok(
            "multi.testns.example.com.",
            RType::A,
            &[
                "multi.testns.example.com. 5 IN A 10.1.0.1",
                "multi.testns.example.com. 5 IN A 10.1.0.2",
            ],
        ),
        ok(
            "multi.testns.example.com.",
            RType::AAAA,
            &["multi.testns.example.com. 5 IN AAAA fd00::1"],
        ),
        // 4 addresses x 2 ports = 8 entries: weight 12; one SRV per port.
        ok_extra(
            "multi.testns.example.com.",
            RType::SRV,
            &[
                "multi.testns.example.com. 5 IN SRV 0 12 53 multi.testns.example.com.",
                "multi.testns.example.com. 5 IN SRV 0 12 80 multi.testns.example.com.",
            ],
            &[
                "multi.testns.example.com. 5 IN A 10.1.0.1",
                "multi.testns.example.com. 5 IN A 10.1.0.2",
                "multi.testns.example.com. 5 IN AAAA fd00::1",
            ],
        ),
        ok_extra(
            "_dns._udp.multi.testns.example.com.",
            RType::SRV,
            &["_dns._udp.multi.testns.example.com. 5 IN SRV 0 25 53 multi.testns.example.com."],
            &[
                "multi.testns.example.com. 5 IN A 10.1.0.1",
                "multi.testns.example.com. 5 IN A 10.1.0.2",
                "multi.testns.example.com. 5 IN AAAA fd00::1",
            ],
        ),
        // Underscores are optional; the protocol must match.
        ok_extra(
            "dns.udp.multi.testns.example.com.",
            RType::SRV,
            &["dns.udp.multi.testns.example.com. 5 IN SRV 0 25 53 multi.testns.example.com."],
            &[
                "multi.testns.example.com. 5 IN A 10.1.0.1",
                "multi.testns.example.com. 5 IN A 10.1.0.2",
                "multi.testns.example.com. 5 IN AAAA fd00::1",
            ],
        ),
        nx("_dns._tcp.multi.testns.example.com.", RType::SRV),
        nx("_dns._tcp.multi.testns.example.com.", RType::A),
        // Port-qualified names hold addresses too.
        ok(
            "_http._tcp.svc1.testns.example.com.",
            RType::A,
            &["_http._tcp.svc1.testns.example.com. 5 IN A 1.2.3.4"],
        ),
        // A service without ports: addresses, no SRV.
        ok(
            "noports.testns.example.com.",
            RType::A,
            &["noports.testns.example.com. 5 IN A 5.6.7.8"],
        ),
        nodata("noports.testns.example.com.", RType::SRV),
        nx("_http._tcp.noports.testns.example.com.", RType::SRV),
        // Other types of an existing name: NODATA.
        nodata("svc1.testns.example.com.", RType::TXT),
        nodata("svc1.testns.example.com.", RType::MX),
        nodata("svc1.testns.example.com.", RType::CNAME),
        // A service without external addresses is not external.
        nx("internal.testns.example.com.", RType::A),
        // With `headless`, an endpoint label of a normal service names that endpoint.
        ok(
            "172-16-0-8.internal.testns.example.com.",
            RType::A,
            &["172-16-0-8.internal.testns.example.com. 5 IN A 172.16.0.8"],
        ),
        ok_extra(
            "172-16-0-8.internal.testns.example.com.",
            RType::SRV,
            &["172-16-0-8.internal.testns.example.com. 5 IN SRV 0 100 8080 172-16-0-8.internal.testns.example.com."],
            &["172-16-0-8.internal.testns.example.com. 5 IN A 172.16.0.8"],
        ),
        nx("172-16-0-9.internal.testns.example.com.", RType::A),
        // A headless service with external IPs is answered from them.
        ok(
            "hdls-ext.testns.example.com.",
            RType::A,
            &["hdls-ext.testns.example.com. 5 IN A 198.51.100.7"],
        ),
        // An endpoint label under a service answered from external addresses: no name.
        nx("endpoint.svc1.testns.example.com.", RType::A),
        nx("bogus.svc-headless.testns.example.com.", RType::A),
        // Too many labels.
        nx("a._http._tcp.svc1.testns.example.com.", RType::A),
        // The namespace filter of `kubernetes` applies.
        nx("svc2.otherns.example.com.", RType::A),
        // PTR: an ingress IP, an unknown IP, a name that is no address.
        ok(
            "5.4.3.2.in-addr.arpa.",
            RType::PTR,
            &["5.4.3.2.in-addr.arpa. 5 IN PTR svc11.testns.example.com."],
        ),
        nx_soa("9.9.9.9.in-addr.arpa.", RType::PTR, &[SOA_ARPA]),
        nx_soa("1.2.3.in-addr.arpa.", RType::PTR, &[SOA_ARPA]),
        // The apex of the reverse zone.
        nodata_soa("in-addr.arpa.", RType::A, &[SOA_ARPA]),
    ]);
}

#[test]
fn without_headless_only_external_addresses_count() {
    let f = Fixture::new("example.com {\n k8s_external\n}", TESTNS_ONLY);
    f.check(&[
        ok(
            "svc1.testns.example.com.",
            RType::A,
            &["svc1.testns.example.com. 5 IN A 1.2.3.4"],
        ),
        nx("svc-headless.testns.example.com.", RType::A),
        nx("endpoint-svc-0.svc-headless.testns.example.com.", RType::A),
        nx("172-16-0-8.internal.testns.example.com.", RType::A),
    ]);
    // A reverse zone that is not one of the plugin's, and other names, go on.
    assert!(f.passed_on("4.3.2.1.in-addr.arpa.", RType::PTR));
    assert!(f.passed_on("www.example.net.", RType::A));
}

#[test]
fn every_namespace_and_ptr_per_service() {
    let f = Fixture::new(COREDNS_EXTERNAL, ALL_NAMESPACES);
    f.check(&[
        ok(
            "svc2.otherns.example.com.",
            RType::A,
            &[
                "svc2.otherns.example.com. 5 IN A 1.2.3.4",
                "svc2.otherns.example.com. 5 IN A 198.51.100.2",
            ],
        ),
        // Two services share 1.2.3.4.
        ok(
            "4.3.2.1.in-addr.arpa.",
            RType::PTR,
            &[
                "4.3.2.1.in-addr.arpa. 5 IN PTR svc1.testns.example.com.",
                "4.3.2.1.in-addr.arpa. 5 IN PTR svc2.otherns.example.com.",
            ],
        ),
    ]);
    // ip6.arpa. is not a zone of this plugin.
    assert!(f.passed_on(
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.",
        RType::PTR
    ));
}

#[test]
fn ipv6_ptr_in_an_ip6_zone() {
    let f = Fixture::new(
        "example.com ip6.arpa {\n k8s_external example.com ip6.arpa\n}",
        TESTNS_ONLY,
    );
    f.check(&[ok(
        "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.ip6.arpa.",
        RType::PTR,
        &["5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.ip6.arpa. 5 IN PTR svc6.testns.example.com."],
    )]);
}

#[test]
fn query_case_is_kept_in_owner_names() {
    let f = Fixture::new(COREDNS_EXTERNAL, TESTNS_ONLY);
    let (req, result) = run(&f.chain, query("SVC1.TestNS.Example.COM.", RType::A));
    let m = result.unwrap();
    let answer: Vec<String> = lines(&m.answer).iter().map(|l| normalize_line(l)).collect();
    assert_eq!(answer, ["SVC1.TestNS.Example.COM. 5 IN A 1.2.3.4"]);
    let wire = on_the_wire(&req, &m);
    assert_eq!(wire.answer.len(), 1);

    let (_, result) = run(&f.chain, query("Svc1.TESTNS.example.com.", RType::SRV));
    let m = result.unwrap();
    let answer: Vec<String> = lines(&m.answer).iter().map(|l| normalize_line(l)).collect();
    assert_eq!(
        answer,
        ["Svc1.TESTNS.example.com. 5 IN SRV 0 100 80 svc1.testns.example.com."]
    );
}

#[test]
fn name_server_addresses_from_the_service_in_front_of_this_server() {
    // This server is 10.244.0.20: an endpoint of dns-external (external IPs) and of
    // dns-headless (headless, no external IPs).
    let f = Fixture::build(
        "example.com {\n k8s_external\n}",
        ALL_NAMESPACES,
        true,
        &["10.244.0.20"],
    );
    f.check(&[
        ok_extra(
            "example.com.",
            RType::NS,
            &["example.com. 5 IN NS ns1.dns.example.com."],
            &[
                "ns1.dns.example.com. 5 IN A 203.0.113.53",
                "ns1.dns.example.com. 5 IN AAAA 2001:db8::53",
            ],
        ),
        ok(
            "ns1.dns.example.com.",
            RType::AAAA,
            &["ns1.dns.example.com. 5 IN AAAA 2001:db8::53"],
        ),
    ]);
    // With `headless`, a headless service's endpoints count too.
    let f = Fixture::build(
        "example.com {\n k8s_external {\n  headless\n }\n}",
        ALL_NAMESPACES,
        true,
        &["10.244.0.20"],
    );
    f.check(&[ok(
        "ns1.dns.example.com.",
        RType::A,
        &[
            "ns1.dns.example.com. 5 IN A 10.244.0.20",
            "ns1.dns.example.com. 5 IN A 10.244.0.21",
            "ns1.dns.example.com. 5 IN A 203.0.113.53",
        ],
    )]);
    // No local address: no glue, and the name server's name holds nothing.
    let f = Fixture::build("example.com {\n k8s_external\n}", ALL_NAMESPACES, true, &[]);
    f.check(&[
        ok(
            "example.com.",
            RType::NS,
            &["example.com. 5 IN NS ns1.dns.example.com."],
        ),
        nodata("ns1.dns.example.com.", RType::A),
    ]);
}

#[test]
fn apex_and_ttl_options() {
    let f = Fixture::new(
        "example.com {\n k8s_external {\n  apex Cluster-DNS\n  ttl 60\n }\n}",
        TESTNS_ONLY,
    );
    f.check(&[
        ok(
            "example.com.",
            RType::SOA,
            &["example.com. 60 IN SOA ns1.cluster-dns.example.com. hostmaster.cluster-dns.example.com. SERIAL 7200 1800 86400 60"],
        ),
        ok_extra(
            "example.com.",
            RType::NS,
            &["example.com. 60 IN NS ns1.cluster-dns.example.com."],
            &["ns1.cluster-dns.example.com. 60 IN A 192.0.2.53"],
        ),
        ok(
            "ns1.cluster-dns.example.com.",
            RType::A,
            &["ns1.cluster-dns.example.com. 60 IN A 192.0.2.53"],
        ),
        ok_extra(
            "svc1.testns.example.com.",
            RType::SRV,
            &["svc1.testns.example.com. 60 IN SRV 0 100 80 svc1.testns.example.com."],
            &["svc1.testns.example.com. 60 IN A 1.2.3.4"],
        ),
        ok(
            "svc12.testns.example.com.",
            RType::AAAA,
            &["svc12.testns.example.com. 60 IN CNAME dummy.hostname."],
        ),
        nx_soa(
            "svc0.testns.example.com.",
            RType::A,
            &["example.com. 60 IN SOA ns1.cluster-dns.example.com. hostmaster.cluster-dns.example.com. SERIAL 7200 1800 86400 60"],
        ),
        // `dns` is an ordinary namespace label now.
        nx_soa(
            "ns1.dns.example.com.",
            RType::A,
            &["example.com. 60 IN SOA ns1.cluster-dns.example.com. hostmaster.cluster-dns.example.com. SERIAL 7200 1800 86400 60"],
        ),
    ]);
}

#[test]
fn a_two_label_apex() {
    let f = Fixture::new(
        "example.com {\n k8s_external {\n  apex ns.k8s\n }\n}",
        TESTNS_ONLY,
    );
    f.check(&[
        ok(
            "example.com.",
            RType::NS,
            &["example.com. 5 IN NS ns1.ns.k8s.example.com."],
        )
        .with_additional(&["ns1.ns.k8s.example.com. 5 IN A 192.0.2.53"]),
        ok(
            "ns1.ns.k8s.example.com.",
            RType::A,
            &["ns1.ns.k8s.example.com. 5 IN A 192.0.2.53"],
        ),
    ]);
}

impl Case {
    fn with_additional(self, additional: &'static [&'static str]) -> Case {
        Case { additional, ..self }
    }
}

#[test]
fn fallthrough_passes_name_errors_only() {
    let f = Fixture::new(
        "example.com {\n k8s_external {\n  fallthrough\n }\n}",
        TESTNS_ONLY,
    );
    assert!(f.passed_on("svc0.testns.example.com.", RType::A));
    assert!(f.passed_on("svc0.svc-nons.example.com.", RType::A));
    // NODATA, answers and the apex names are answered here.
    assert!(!f.passed_on("svc1.testns.example.com.", RType::AAAA));
    assert!(!f.passed_on("svc1.testns.example.com.", RType::A));
    assert!(!f.passed_on("ns2.dns.example.com.", RType::A));

    let f = Fixture::new(
        "example.com in-addr.arpa {\n k8s_external example.com in-addr.arpa {\n  fallthrough in-addr.arpa\n }\n}",
        TESTNS_ONLY,
    );
    assert!(f.passed_on("9.9.9.9.in-addr.arpa.", RType::PTR));
    assert!(!f.passed_on("svc0.testns.example.com.", RType::A));
}

#[test]
fn before_sync_name_errors_are_servfail() {
    let f = Fixture::build(COREDNS_EXTERNAL, TESTNS_ONLY, false, &["192.0.2.53"]);
    f.check(&[
        ok(
            "svc1.testns.example.com.",
            RType::A,
            &["svc1.testns.example.com. 5 IN A 1.2.3.4"],
        ),
        Case {
            rcode: Rcode::SERVFAIL,
            ..nx("svc0.testns.example.com.", RType::A)
        },
        nodata("svc1.testns.example.com.", RType::AAAA),
    ]);
}

#[test]
fn zone_transfers_are_refused_without_transfer() {
    let f = Fixture::new(COREDNS_EXTERNAL, TESTNS_ONLY);
    for qtype in [RType::AXFR, RType::IXFR] {
        let (_, result) = run(&f.chain, query("example.com.", qtype));
        assert_eq!(result.unwrap().rcode, Rcode::REFUSED);
    }
}

#[test]
fn without_kubernetes_queries_in_the_zone_fail_with_a_named_error() {
    let ext = setup(
        spec("k8s_external"),
        "example.com {\n k8s_external\n}",
        None,
    )
    .unwrap();
    let next = StubNext::new(Rcode::REFUSED);
    let chain = ext.chain_with(next.clone());
    let (_, result) = run(&chain, query("svc1.testns.example.com.", RType::A));
    let err = result.expect_err("no kubernetes plugin");
    assert_eq!(
        err.to_string(),
        "plugin/k8s_external: kubernetes plugin not loaded"
    );
    // Outside its zones it stays out of the way.
    let (_, result) = run(&chain, query("www.example.net.", RType::A));
    assert_eq!(result.unwrap().rcode, Rcode::REFUSED);
    assert_eq!(next.calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// setup_test.go and option errors
// ---------------------------------------------------------------------------------------------

fn name(s: &str) -> Name {
    Name::parse(s, None).unwrap()
}

#[test]
fn options_that_parse() {
    let o = options("example.org {\n k8s_external\n}").unwrap();
    assert_eq!(o.zones, [name("example.org.")]);
    assert_eq!(o.apex, b"\x03dns");
    assert_eq!(o.ttl, 5);
    assert!(!o.headless);
    assert!(!o.fall.is_enabled());

    let o = options(". {\n k8s_external Example.org\n}").unwrap();
    assert_eq!(o.zones, [name("example.org.")]);

    let o = options(". {\n k8s_external example.org {\n  apex testdns\n }\n}").unwrap();
    assert_eq!(o.apex, b"\x07testdns");

    let o = options(". {\n k8s_external example.org {\n  headless\n }\n}").unwrap();
    assert!(o.headless);

    let o = options(". {\n k8s_external example.org {\n  fallthrough\n }\n}").unwrap();
    assert!(o.fall.through(name("anything.").wire()));

    let o = options(
        ". {\n k8s_external example.org {\n  fallthrough ip6.arpa inaddr.arpa foo.com\n }\n}",
    )
    .unwrap();
    assert!(o.fall.through(name("x.foo.com.").wire()));
    assert!(o.fall.through(name("x.inaddr.arpa.").wire()));
    assert!(!o.fall.through(name("x.example.org.").wire()));

    let o = options(". {\n k8s_external example.org {\n  ttl 0\n }\n}").unwrap();
    assert_eq!(o.ttl, 0);
    let o = options(". {\n k8s_external example.org {\n  ttl 3600\n }\n}").unwrap();
    assert_eq!(o.ttl, 3600);

    // Several lines: options add up, the last line's zones win (as in CoreDNS).
    let o = options(". {\n k8s_external a.org {\n  ttl 9\n }\n k8s_external b.org\n}").unwrap();
    assert_eq!(o.zones, [name("b.org.")]);
    assert_eq!(o.ttl, 9);

    // A reverse CIDR expands like a server block key.
    let o = options(". {\n k8s_external example.org 10.0.0.0/24\n}").unwrap();
    assert_eq!(
        o.zones,
        [name("example.org."), name("0.0.10.in-addr.arpa.")]
    );
}

#[test]
fn options_that_fail() {
    for (corefile, message) in [
        (
            ". {\n k8s_external example.org {\n  ttl\n }\n}",
            "Corefile:3 - Error during parsing: Wrong argument count or unexpected line ending after 'ttl'",
        ),
        (
            ". {\n k8s_external example.org {\n  ttl five\n }\n}",
            "Corefile:3 - Error during parsing: plugin/k8s_external: invalid ttl \"five\"",
        ),
        (
            ". {\n k8s_external example.org {\n  ttl 3601\n }\n}",
            "Corefile:3 - Error during parsing: plugin/k8s_external: ttl must be in range [0, 3600]: 3601",
        ),
        (
            ". {\n k8s_external example.org {\n  ttl -1\n }\n}",
            "Corefile:3 - Error during parsing: plugin/k8s_external: ttl must be in range [0, 3600]: -1",
        ),
        (
            ". {\n k8s_external example.org {\n  apex\n }\n}",
            "Corefile:3 - Error during parsing: Wrong argument count or unexpected line ending after 'apex'",
        ),
        (
            ". {\n k8s_external example.org {\n  apex .\n }\n}",
            "Corefile:3 - Error during parsing: plugin/k8s_external: invalid apex \".\"",
        ),
        (
            ". {\n k8s_external example.org {\n  foo\n }\n}",
            "Corefile:3 - Error during parsing: unknown property 'foo'",
        ),
        (
            ". {\n k8s_external example.org {\n  fallthrough 10.0.0.0/33\n }\n}",
            "Corefile:3 - Error during parsing: invalid fallthrough zone '10.0.0.0/33'",
        ),
        (
            ". {\n k8s_external bad..zone\n}",
            "Corefile:2 - Error during parsing: invalid zone 'bad..zone'",
        ),
    ] {
        let err = match options(corefile) {
            Ok(o) => panic!("accepted:\n{corefile}\n{o:?}"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.starts_with(message),
            "{corefile}\n got  {err}\n want {message}"
        );
    }
}

#[test]
fn setup_registers_one_handler_per_block() {
    let s = setup(
        spec("k8s_external"),
        "example.org {\n k8s_external {\n  ttl 30\n }\n}",
        None,
    )
    .unwrap();
    assert_eq!(s.plugins.len(), 1);
    assert_eq!(s.plugins[0].name(), "k8s_external");
    assert!(s.plugins[0]
        .as_any()
        .downcast_ref::<super::K8sExternal>()
        .is_some());
    assert_eq!(s.parts.installed_hooks.len(), 1);
}
