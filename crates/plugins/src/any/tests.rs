use cairn_core::testing::{lines, on_the_wire, query, run, setup, StubNext};
use cairn_core::wire::{encode, QuestionRef, RType, Rcode, CLASS_IN};

use crate::registry::spec;

#[test]
fn any_gets_the_rfc_8482_hinfo() {
    let s = setup(spec("any"), "example.org {\n any\n}", None).unwrap();
    let next = StubNext::new(Rcode::SERVFAIL);
    let chain = s.chain_with(next.clone());
    let (req, result) = run(&chain, query("WWW.example.ORG.", RType::ANY));
    let msg = result.unwrap();
    let wire = on_the_wire(&req, &msg);
    assert_eq!(wire.rcode, Rcode::NOERROR);
    assert!(wire.flags.qr);
    assert!(!wire.flags.aa);
    assert_eq!(
        lines(&wire.answer),
        ["WWW.example.ORG.\t8482\tIN\tHINFO\t\"ANY obsoleted\" \"See RFC 8482\""]
    );
    assert!(wire.authority.is_empty());
    assert!(wire.additional.is_empty());
    assert_eq!(next.calls(), 0);
}

#[test]
fn hinfo_reads_back_in_an_independent_parser() {
    let s = setup(spec("any"), "example.org {\n any\n}", None).unwrap();
    let chain = s.chain_with(StubNext::new(Rcode::SERVFAIL));
    let (req, result) = run(&chain, query("example.org.", RType::ANY));
    let msg = result.unwrap();
    let mut out = Vec::new();
    encode(
        &msg,
        Some(QuestionRef {
            name: req.info.qname.wire(),
            qtype: RType::ANY,
            qclass: CLASS_IN,
        }),
        None,
        512,
        &mut out,
    );
    let h = hickory_proto::op::Message::from_vec(&out).unwrap();
    assert_eq!(h.answers.len(), 1);
    let rec = &h.answers[0];
    assert_eq!(rec.name.to_ascii(), "example.org.");
    assert_eq!(rec.ttl, 8482);
    assert_eq!(rec.dns_class, hickory_proto::rr::DNSClass::IN);
    match &rec.data {
        hickory_proto::rr::RData::HINFO(hinfo) => {
            assert_eq!(&*hinfo.cpu, b"ANY obsoleted");
            assert_eq!(&*hinfo.os, b"See RFC 8482");
        }
        other => panic!("expected HINFO, got {other:?}"),
    }
}

#[test]
fn other_types_pass_to_next() {
    let s = setup(spec("any"), "example.org {\n any\n}", None).unwrap();
    let next = StubNext::new(Rcode::NXDOMAIN);
    let chain = s.chain_with(next.clone());
    for (i, qtype) in [
        RType::A,
        RType::AAAA,
        RType::MX,
        RType::TXT,
        RType::CNAME,
        RType::HINFO,
        RType::AXFR,
    ]
    .into_iter()
    .enumerate()
    {
        let (_, result) = run(&chain, query("example.org.", qtype));
        let msg = result.unwrap();
        assert_eq!(msg.rcode, Rcode::NXDOMAIN, "{qtype}");
        assert!(msg.answer.is_empty(), "{qtype}");
        assert_eq!(next.calls(), i + 1, "{qtype}");
    }
}

#[test]
fn setup_errors_name_the_line() {
    for (corefile, line, want) in [
        (
            "example.org {\n any example.org\n}",
            2,
            "Wrong argument count or unexpected line ending after 'example.org'",
        ),
        (
            "example.org {\n any {\n  foo\n }\n}",
            3,
            "unknown property 'foo'",
        ),
    ] {
        let err = setup(spec("any"), corefile, None).err().unwrap();
        assert_eq!(err.line, line, "{corefile}");
        assert_eq!(err.message, want, "{corefile}");
        assert!(err
            .to_string()
            .starts_with(&format!("Corefile:{line} - Error during parsing:")));
    }
}
