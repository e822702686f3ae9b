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
