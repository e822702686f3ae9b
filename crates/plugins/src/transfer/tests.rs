use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use cairn_core::testing::{query_from, run, setup, StubNext};
use cairn_core::wire::{encode, Message, Name, QuestionRef, RData, RType, Rcode, Record, Soa};
use cairn_core::{Chain, Proto, Request};

use super::{Allowed, Stanza, Transfer};
use crate::registry::spec;

const ZONE: &str = "$ORIGIN example.org.\n$TTL 60\n@ IN SOA ns hostmaster 2024010101 7200 3600 1209600 3600\n  IN NS ns\nns A 10.0.0.53\nwww A 10.0.0.1\nmail MX 10 mx\n";

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cairn-transfer-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn name(s: &str) -> Name {
    Name::parse(s, None).unwrap()
}

/// `transfer` (set up from `transfer_conf`) in front of a `file` plugin serving example.org.
fn chain(tag: &str, transfer_conf: &str) -> Chain {
    let dir = temp_dir(tag);
    std::fs::write(dir.join("db.example.org"), ZONE).unwrap();
    let file = setup(
        spec("file"),
        "example.org {\n file db.example.org\n}",
        Some(dir.clone()),
    )
    .unwrap();
    let t = setup(spec("transfer"), transfer_conf, None).unwrap();
    let mut plugins = t.plugins.clone();
    plugins.extend(file.plugins.iter().cloned());
    plugins.push(StubNext::new(Rcode::NOERROR));
    let _ = std::fs::remove_dir_all(&dir);
    Chain::new(plugins)
}

fn ask(chain: &Chain, qname: &str, qtype: RType, client: &str, proto: Proto) -> Message {
    let req = query_from(qname, qtype, client.parse::<SocketAddr>().unwrap(), proto);
    run(chain, req).1.expect("a reply")
}

/// An IXFR query carrying `serial` in its authority section.
fn ixfr(qname: &str, serial: u32, client: &str) -> Box<Request> {
    let mut m = Message::default();
    m.authority.push(Record::new(
        name(qname),
        0,
        RData::Soa(Arc::new(Soa {
            mname: name("ns.example.org."),
            rname: name("hostmaster.example.org."),
            serial,
            refresh: 0,
            retry: 0,
            expire: 0,
            minimum: 0,
        })),
    ));
    let q = name(qname);
    let mut raw = Vec::new();
    encode(
        &m,
        Some(QuestionRef {
            name: q.wire(),
            qtype: RType::IXFR,
            qclass: 1,
        }),
        None,
        65535,
        &mut raw,
    );
    let req = Request::from_query(&raw, client.parse().unwrap(), Proto::Tcp).unwrap();
    Box::new(req)
}

#[test]
fn setup_reads_stanzas() {
    for (corefile, want) in [
        (
            "example.org {\n transfer {\n  to *\n }\n}",
            vec![Stanza {
                zones: vec![name("example.org.")],
                to: vec![Allowed::Any],
            }],
        ),
        (
            "example.org example.net {\n transfer example.net {\n  to 10.0.0.1 [::1]:5300\n  to 10.0.0.2:53\n  source 10.0.0.9\n }\n transfer {\n  to *\n }\n}",
            vec![
                Stanza {
                    zones: vec![name("example.net.")],
                    to: vec![
                        Allowed::Ip("10.0.0.1".parse().unwrap()),
                        Allowed::Ip("::1".parse().unwrap()),
                        Allowed::Ip("10.0.0.2".parse().unwrap()),
                    ],
                },
                Stanza {
                    zones: vec![name("example.org."), name("example.net.")],
                    to: vec![Allowed::Any],
                },
            ],
        ),
    ] {
        let s = setup(spec("transfer"), corefile, None).unwrap();
        let t = s.plugins[0].as_any().downcast_ref::<Transfer>().unwrap();
        assert_eq!(t.stanzas, want, "{corefile}");
    }
}

#[test]
fn setup_errors_name_the_line() {
    for (corefile, line, want) in [
        ("example.org {\n transfer\n}", 2, "'to' is required"),
        (
            "example.org {\n transfer {\n  to\n }\n}",
            3,
            "Wrong argument count",
        ),
        (
            "example.org {\n transfer {\n  to nope\n }\n}",
            3,
            "not an IP address or '*'",
        ),
        (
            "example.org {\n transfer {\n  to *\n  from 1.2.3.4\n }\n}",
            4,
            "unknown property 'from'",
        ),
        (
            "example.org {\n transfer {\n  to *\n  source x\n }\n}",
            4,
            "invalid source address",
        ),
    ] {
        let e = match setup(spec("transfer"), corefile, None) {
            Ok(_) => panic!("accepted: {corefile}"),
            Err(e) => e,
        };
        assert_eq!(e.line, line, "{corefile}: {e}");
        assert!(e.to_string().contains(want), "{corefile}: {e}");
    }
}

#[test]
fn axfr_streams_the_file_zone_between_two_soas() {
    let c = chain("axfr", "example.org {\n transfer {\n  to 10.0.0.2\n }\n}");
    let m = ask(&c, "example.org.", RType::AXFR, "10.0.0.2:4000", Proto::Tcp);
    assert_eq!(m.rcode, Rcode::NOERROR);
    assert!(m.flags.aa);
    let types: Vec<RType> = m.answer.iter().map(|r| r.rtype).collect();
    assert_eq!(
        types,
        [
            RType::SOA,
            RType::NS,
            RType::MX,
            RType::A,
            RType::A,
            RType::SOA
        ],
        "{:?}",
        m.answer
    );
    assert_eq!(m.answer[0], m.answer[5]);
}

#[test]
fn axfr_is_refused_over_udp_and_to_strangers() {
    let c = chain(
        "refused",
        "example.org {\n transfer {\n  to 10.0.0.2\n }\n}",
    );
    let m = ask(&c, "example.org.", RType::AXFR, "10.0.0.2:4000", Proto::Udp);
    assert_eq!(m.rcode, Rcode::REFUSED);
    let m = ask(&c, "example.org.", RType::AXFR, "10.0.0.3:4000", Proto::Tcp);
    assert_eq!(m.rcode, Rcode::REFUSED);
    assert!(m.answer.is_empty());
    // An IPv4-mapped IPv6 client counts as its IPv4 address.
    let m = ask(
        &c,
        "example.org.",
        RType::AXFR,
        "[::ffff:10.0.0.2]:4000",
        Proto::Tcp,
    );
    assert_eq!(m.rcode, Rcode::NOERROR);
}

#[test]
fn a_name_below_the_zone_is_not_transferred() {
    // No plugin is authoritative for www.example.org as a zone: the query goes on, and the
    // file plugin refuses AXFR itself.
    let c = chain("below", "example.org {\n transfer {\n  to *\n }\n}");
    let m = ask(
        &c,
        "www.example.org.",
        RType::AXFR,
        "10.0.0.2:4000",
        Proto::Tcp,
    );
    assert_eq!(m.rcode, Rcode::REFUSED);
    assert!(m.answer.is_empty());
}

#[test]
fn ixfr_gets_the_soa_when_current_and_the_zone_otherwise() {
    let c = chain("ixfr", "example.org {\n transfer {\n  to *\n }\n}");
    for (serial, full) in [
        (2024010101u32, false),
        (2024010102, false),
        (2024010100, true),
        (1, true),
    ] {
        let m = run(&c, ixfr("example.org.", serial, "10.0.0.2:4000"))
            .1
            .unwrap();
        assert_eq!(m.rcode, Rcode::NOERROR, "{serial}");
        if full {
            assert_eq!(m.answer.len(), 6, "{serial}: {:?}", m.answer);
        } else {
            assert_eq!(m.answer.len(), 1, "{serial}: {:?}", m.answer);
            assert_eq!(m.answer[0].rtype, RType::SOA);
        }
    }
    // IXFR without an SOA: SERVFAIL.
    let m = ask(&c, "example.org.", RType::IXFR, "10.0.0.2:4000", Proto::Tcp);
    assert_eq!(m.rcode, Rcode::SERVFAIL);
}

#[test]
fn other_queries_pass_through() {
    let c = chain("pass", "example.org {\n transfer {\n  to *\n }\n}");
    let m = ask(
        &c,
        "www.example.org.",
        RType::A,
        "10.0.0.2:4000",
        Proto::Udp,
    );
    assert_eq!(m.answer.len(), 1);
    assert_eq!(m.answer[0].data, RData::A("10.0.0.1".parse().unwrap()));
}
