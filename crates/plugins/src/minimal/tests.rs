use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use cairn_core::testing::{lines, query, run, setup};
use cairn_core::wire::types::{OPCODE_NOTIFY, OPCODE_UPDATE};
use cairn_core::wire::{Message, Name, RData, RType, Rcode, Record, Soa};
use cairn_core::{Next, Plugin, PluginError, Request, Served};

use super::response::test_support::{now, rrsig_rdata};
use super::response::within_window;
use crate::registry::spec;

/// A last plugin that answers with a prepared reply.
struct Canned(Message);

impl Plugin for Canned {
    fn name(&self) -> &'static str {
        "canned"
    }
    fn serve<'a>(&'a self, mut req: Box<Request>, _next: Next<'a>) -> Served<'a> {
        let mut m = req.reply();
        m.rcode = self.0.rcode;
        m.opcode = self.0.opcode;
        m.answer.extend_from_slice(&self.0.answer);
        m.authority.extend_from_slice(&self.0.authority);
        m.additional.extend_from_slice(&self.0.additional);
        Served::reply(req, m)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A last plugin that fails.
struct Failing;

impl Plugin for Failing {
    fn name(&self) -> &'static str {
        "failing"
    }
    fn serve<'a>(&'a self, req: Box<Request>, _next: Next<'a>) -> Served<'a> {
        Served::error(req, PluginError::failed("failing", "upstream down"))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn n(s: &str) -> Name {
    Name::parse(s, None).unwrap()
}

fn a(owner: &str, ip: [u8; 4]) -> Record {
    Record::new(n(owner), 300, RData::A(Ipv4Addr::from(ip)))
}

fn ns(owner: &str, target: &str) -> Record {
    Record::new(n(owner), 157127, RData::Ns(n(target)))
}

fn soa() -> Record {
    Record::new(
        n("example.com."),
        3600,
        RData::Soa(Arc::new(Soa {
            mname: n("ns1.example.com."),
            rname: n("hostmaster.example.com."),
            serial: 1,
            refresh: 7200,
            retry: 1800,
            expire: 86400,
            minimum: 30,
        })),
    )
}

fn rrsig(owner: &str, inception: u32, expiration: u32) -> Record {
    Record {
        name: n(owner),
        rtype: RType::RRSIG,
        class: cairn_core::wire::CLASS_IN,
        ttl: 300,
        data: RData::Opaque(rrsig_rdata(inception, expiration).into()),
    }
}

fn extra() -> Vec<Record> {
    vec![
        a("ns1.example.com.", [216, 239, 32, 10]),
        Record::new(
            n("ns1.example.com."),
            300,
            RData::Aaaa("2001:4860:4802:32::a".parse::<Ipv6Addr>().unwrap()),
        ),
    ]
}

struct Case {
    what: &'static str,
    qtype: RType,
    dnssec_ok: bool,
    reply: Message,
    trimmed: bool,
}

fn reply(rcode: Rcode, answer: Vec<Record>, authority: Vec<Record>) -> Message {
    Message {
        rcode,
        answer,
        authority,
        additional: extra(),
        ..Message::default()
    }
}

#[test]
fn trims_only_plain_positive_replies() {
    let answer = || vec![a("example.com.", [142, 250, 76, 46])];
    let nss = || {
        vec![
            ns("example.com.", "ns1.example.com."),
            ns("example.com.", "ns2.example.com."),
        ]
    };
    let now = u32::try_from(now()).unwrap();
    let cases = vec![
        Case {
            what: "answer with additional",
            qtype: RType::A,
            dnssec_ok: false,
            reply: reply(Rcode::NOERROR, answer(), vec![]),
            trimmed: true,
        },
        Case {
            what: "answer with NS authority",
            qtype: RType::A,
            dnssec_ok: false,
            reply: reply(Rcode::NOERROR, answer(), nss()),
            trimmed: true,
        },
        Case {
            what: "answer with SOA authority",
            qtype: RType::A,
            dnssec_ok: false,
            reply: reply(Rcode::NOERROR, answer(), vec![soa()]),
            trimmed: true,
        },
        Case {
            what: "empty NOERROR without SOA or NS",
            qtype: RType::A,
            dnssec_ok: false,
            reply: reply(Rcode::NOERROR, vec![], vec![]),
            trimmed: true,
        },
        Case {
            what: "delegation",
            qtype: RType::A,
            dnssec_ok: false,
            reply: reply(Rcode::NOERROR, vec![], nss()),
            trimmed: false,
        },
        Case {
            what: "NODATA",
            qtype: RType::AAAA,
            dnssec_ok: false,
            reply: reply(Rcode::NOERROR, vec![], vec![soa()]),
            trimmed: false,
        },
        Case {
            what: "NXDOMAIN",
            qtype: RType::A,
            dnssec_ok: false,
            reply: reply(Rcode::NXDOMAIN, vec![], vec![soa()]),
            trimmed: false,
        },
        Case {
            what: "NXDOMAIN after a CNAME",
            qtype: RType::A,
            dnssec_ok: false,
            reply: reply(
                Rcode::NXDOMAIN,
                vec![Record::new(
                    n("www.example.com."),
                    300,
                    RData::Cname(n("gone.example.com.")),
                )],
                vec![soa()],
            ),
            trimmed: false,
        },
        Case {
            what: "SERVFAIL with records",
            qtype: RType::A,
            dnssec_ok: false,
            reply: reply(Rcode::SERVFAIL, answer(), nss()),
            trimmed: false,
        },
        Case {
            what: "REFUSED",
            qtype: RType::A,
            dnssec_ok: false,
            reply: reply(Rcode::REFUSED, vec![], vec![]),
            trimmed: false,
        },
        Case {
            what: "zone transfer",
            qtype: RType::AXFR,
            dnssec_ok: false,
            reply: reply(Rcode::NOERROR, vec![soa()], vec![]),
            trimmed: false,
        },
        Case {
            what: "incremental transfer",
            qtype: RType::IXFR,
            dnssec_ok: false,
            reply: reply(Rcode::NOERROR, vec![soa()], vec![]),
            trimmed: false,
        },
        Case {
            what: "NOTIFY",
            qtype: RType::SOA,
            dnssec_ok: false,
            reply: Message {
                opcode: OPCODE_NOTIFY,
                ..reply(Rcode::NOERROR, vec![soa()], vec![])
            },
            trimmed: false,
        },
        Case {
            what: "UPDATE",
            qtype: RType::SOA,
            dnssec_ok: false,
            reply: Message {
                opcode: OPCODE_UPDATE,
                ..reply(Rcode::NOERROR, vec![soa()], vec![])
            },
            trimmed: false,
        },
        Case {
            what: "valid signature, DO",
            qtype: RType::A,
            dnssec_ok: true,
            reply: reply(
                Rcode::NOERROR,
                vec![
                    answer()[0].clone(),
                    rrsig("example.com.", now - 3600, now + 3600),
                ],
                nss(),
            ),
            trimmed: true,
        },
        Case {
            what: "expired signature, DO",
            qtype: RType::A,
            dnssec_ok: true,
            reply: reply(
                Rcode::NOERROR,
                answer(),
                vec![rrsig("example.com.", now - 7200, now - 3600)],
            ),
            trimmed: false,
        },
        Case {
            what: "signature not yet valid, DO",
            qtype: RType::A,
            dnssec_ok: true,
            reply: reply(
                Rcode::NOERROR,
                vec![
                    answer()[0].clone(),
                    rrsig("example.com.", now + 3600, now + 7200),
                ],
                vec![],
            ),
            trimmed: false,
        },
        Case {
            what: "expired signature without DO",
            qtype: RType::A,
            dnssec_ok: false,
            reply: reply(
                Rcode::NOERROR,
                vec![
                    answer()[0].clone(),
                    rrsig("example.com.", now - 7200, now - 3600),
                ],
                vec![],
            ),
            trimmed: true,
        },
    ];
    let s = setup(spec("minimal"), "example.com {\n minimal\n}", None).unwrap();
    for case in cases {
        let chain = s.chain_with(Arc::new(Canned(case.reply.clone())));
        let mut req = query("example.com.", case.qtype);
        if let Some(e) = req.info.edns.as_mut() {
            e.dnssec_ok = case.dnssec_ok;
        }
        let (_, result) = run(&chain, req);
        let got = result.unwrap();
        assert_eq!(got.rcode, case.reply.rcode, "{}", case.what);
        assert_eq!(
            lines(&got.answer),
            lines(&case.reply.answer),
            "{}",
            case.what
        );
        if case.trimmed {
            assert!(got.authority.is_empty(), "{}: authority kept", case.what);
            assert!(got.additional.is_empty(), "{}: additional kept", case.what);
        } else {
            assert_eq!(
                lines(&got.authority),
                lines(&case.reply.authority),
                "{}",
                case.what
            );
            assert_eq!(
                lines(&got.additional),
                lines(&case.reply.additional),
                "{}",
                case.what
            );
        }
    }
}

#[test]
fn errors_pass_through() {
    let s = setup(spec("minimal"), ". {\n minimal\n}", None).unwrap();
    let chain = s.chain_with(Arc::new(Failing));
    let (_, result) = run(&chain, query("example.com.", RType::A));
    assert_eq!(
        result.unwrap_err().to_string(),
        "plugin/failing: upstream down"
    );
}

#[test]
fn validity_window_wraps_like_miekg() {
    let now = 1_750_000_000_i64;
    assert!(within_window(1_749_990_000, 1_750_010_000, now));
    assert!(within_window(1_750_000_000, 1_750_000_000, now));
    assert!(!within_window(1_749_000_000, 1_749_999_999, now));
    assert!(!within_window(1_750_000_001, 1_760_000_000, now));
    // Times 2^31 seconds or more away are moved one window further, as miekg/dns does: a far
    // expiration stays valid and a far inception stays in the future.
    assert!(within_window(1_700_000_000, 4_000_000_000, now));
    assert!(!within_window(3_990_000_000, 4_000_000_000, now));
}

#[test]
fn setup_errors_name_the_line() {
    for (corefile, line, want) in [
        (
            ". {\n minimal example.org\n}",
            2,
            "Wrong argument count or unexpected line ending after 'example.org'",
        ),
        (". {\n minimal {\n  all\n }\n}", 3, "unknown property 'all'"),
    ] {
        let err = setup(spec("minimal"), corefile, None).err().unwrap();
        assert_eq!(err.line, line, "{corefile}");
        assert_eq!(err.message, want, "{corefile}");
    }
}
