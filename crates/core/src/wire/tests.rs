//! Wire-format tests checked against hickory-proto, an independent implementation.

use std::net::Ipv4Addr;

use hickory_proto::op::{Message as HMessage, Query};
use hickory_proto::rr::{Name as HName, RecordType};
use hickory_proto::serialize::binary::BinEncodable;

use super::*;

fn hickory_query(name: &str, rtype: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut m = HMessage::query();
    m.metadata.id = 4242;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(HName::from_ascii(name).unwrap(), rtype));
    if let Some(size) = edns {
        let mut e = hickory_proto::op::Edns::new();
        e.set_max_payload(size);
        e.set_dnssec_ok(true);
        m.set_edns(e);
    }
    m.to_bytes().unwrap()
}

#[test]
fn parses_a_hickory_query() {
    let raw = hickory_query("WWW.Example.org.", RecordType::AAAA, Some(1232));
    let mut q = QueryInfo::default();
    parse_query(&raw, &mut q).unwrap();
    assert_eq!(q.id, 4242);
    assert!(q.flags.rd);
    assert_eq!(q.qname.to_string(), "WWW.Example.org.");
    assert_eq!(q.qtype, RType::AAAA);
    let e = q.edns.unwrap();
    assert_eq!(e.udp_size, 1232);
    assert!(e.dnssec_ok);
    assert_eq!(e.version, 0);
}

#[test]
fn encoded_reply_parses_in_hickory_with_compression() {
    let owner = Name::parse("www.example.org.", None).unwrap();
    let mut m = Message {
        id: 7,
        flags: Flags {
            qr: true,
            aa: true,
            ..Flags::default()
        },
        ..Message::default()
    };
    for i in 1..=3u8 {
        m.answer.push(Record::new(
            owner.clone(),
            300,
            RData::A(Ipv4Addr::new(10, 0, 0, i)),
        ));
    }
    m.authority.push(Record::new(
        Name::parse("example.org.", None).unwrap(),
        300,
        RData::Ns(Name::parse("ns1.example.org.", None).unwrap()),
    ));
    let q = QuestionRef {
        name: owner.wire(),
        qtype: RType::A,
        qclass: CLASS_IN,
    };
    let mut out = Vec::new();
    let enc = encode(
        &m,
        Some(q),
        Some(OptRef {
            udp_size: 1232,
            dnssec_ok: false,
            options: &[],
        }),
        512,
        &mut out,
    );
    assert!(!enc.truncated);
    // Every owner after the question is a 2-byte pointer.
    assert!(out.len() < 12 + 21 + 3 * (2 + 10 + 4) + 60 + 11);
    let h = HMessage::from_vec(&out).unwrap();
    assert_eq!(h.answers.len(), 3);
    assert_eq!(h.authorities.len(), 1);
    assert!(h.edns.is_some());
    assert_eq!(h.answers[2].name.to_ascii(), "www.example.org.");
    // And our own parser reads it back the same.
    let back = Message::parse(&out).unwrap();
    assert_eq!(back.answer, m.answer);
    assert_eq!(back.authority, m.authority);
}

#[test]
fn compression_keeps_the_letter_case_of_every_name() {
    let question = Name::parse("WwW.Example.ORG.", None).unwrap();
    let mut m = Message {
        id: 8,
        flags: Flags {
            qr: true,
            aa: true,
            ..Flags::default()
        },
        ..Message::default()
    };
    let a = |owner: &str, last: u8| {
        Record::new(
            Name::parse(owner, None).unwrap(),
            300,
            RData::A(Ipv4Addr::new(10, 0, 0, last)),
        )
    };
    m.answer.push(a("WwW.Example.ORG.", 1));
    m.additional.push(a("www.example.org.", 2));
    m.additional.push(a("mail.Example.ORG.", 3));
    let q = QuestionRef {
        name: question.wire(),
        qtype: RType::A,
        qclass: CLASS_IN,
    };
    let mut out = Vec::new();
    encode(&m, Some(q), None, 512, &mut out);
    let h = HMessage::from_vec(&out).unwrap();
    let owners: Vec<String> = h
        .answers
        .iter()
        .chain(&h.additionals)
        .map(|r| r.name.to_ascii())
        .collect();
    assert_eq!(
        owners,
        ["WwW.Example.ORG.", "www.example.org.", "mail.Example.ORG."]
    );
    // Exactly equal suffixes are still compressed: header 12, question 17 + 4, answer
    // 2 + 14, the lower-case owner in full 17 + 14, then `mail` and a pointer 5 + 2 + 14.
    assert_eq!(out.len(), 12 + 21 + 16 + 31 + 21);
}

#[test]
fn truncation_drops_records_and_sets_tc() {
    let owner = Name::parse("big.example.org.", None).unwrap();
    let mut m = Message::default();
    m.flags.qr = true;
    for i in 0..100u8 {
        m.answer.push(Record::new(
            owner.clone(),
            60,
            RData::A(Ipv4Addr::new(10, 0, 1, i)),
        ));
    }
    let mut out = Vec::new();
    let enc = encode(&m, None, None, 512, &mut out);
    assert!(enc.truncated);
    assert!(out.len() <= 512);
    let h = HMessage::from_vec(&out).unwrap();
    assert!(h.metadata.truncation);
    assert!(!h.answers.is_empty());
}

#[test]
fn additional_only_overflow_does_not_set_tc() {
    let owner = Name::parse("x.example.org.", None).unwrap();
    let mut m = Message::default();
    m.answer.push(Record::new(
        owner.clone(),
        60,
        RData::A(Ipv4Addr::LOCALHOST),
    ));
    for i in 0..100u8 {
        m.additional.push(Record::new(
            owner.clone(),
            60,
            RData::A(Ipv4Addr::new(10, 0, 1, i)),
        ));
    }
    let mut out = Vec::new();
    let enc = encode(&m, None, None, 512, &mut out);
    assert!(!enc.truncated);
    assert!(out.len() <= 512);
}

#[test]
fn transfer_streams_split_into_frames_that_each_parse() {
    use super::{encode_transfer, Message, Name, QuestionRef, RData, RType, Record};
    let zone = Name::parse("example.org.", None).unwrap();
    let mut m = Message::default();
    m.flags.qr = true;
    m.flags.aa = true;
    for i in 0..5000u32 {
        let owner = Name::parse(&format!("host-{i}.example.org."), None).unwrap();
        m.answer
            .push(Record::new(owner, 60, RData::A(i.to_be_bytes().into())));
    }
    let q = QuestionRef {
        name: zone.wire(),
        qtype: RType::AXFR,
        qclass: 1,
    };
    let mut out = Vec::new();
    let frames = encode_transfer(&m, Some(q), 63_000, &mut out);
    assert!(frames > 1, "5000 records need several frames, got {frames}");
    let mut at = 0;
    let mut seen = 0;
    let mut n = 0;
    while at < out.len() {
        let len = usize::from(u16::from_be_bytes([out[at], out[at + 1]]));
        assert!(len <= 63_000, "frame {n} is {len} bytes");
        let part = Message::parse(&out[at + 2..at + 2 + len]).expect("frame parses");
        assert!(part.flags.aa && part.flags.qr);
        assert_eq!(part.question.as_ref().map(|q| q.qtype), Some(RType::AXFR));
        for r in &part.answer {
            assert_eq!(r, &m.answer[seen]);
            seen += 1;
        }
        at += 2 + len;
        n += 1;
    }
    assert_eq!(n, frames);
    assert_eq!(seen, 5000);
}

#[test]
fn miekg_rcode_names() {
    assert_eq!(Rcode(11).miekg_name(), Some("DSOTYPENI"));
    assert_eq!(Rcode(16).miekg_name(), Some("BADSIG"));
    assert_eq!(Rcode(12).miekg_name(), None);
    assert_eq!(Rcode::from_miekg_name("BADSIG"), Some(Rcode(16)));
    assert_eq!(Rcode::from_miekg_name("BADVERS"), None);
    assert_eq!(Rcode::from_miekg_name("NOTIMPL"), Some(Rcode::NOTIMP));
    assert_eq!(Rcode::from_miekg_name("NXDOMAIN"), Some(Rcode::NXDOMAIN));
    assert_eq!(Rcode::from_miekg_name("nxdomain"), None);
}
