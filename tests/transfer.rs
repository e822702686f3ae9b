//! Zone transfers from the real server over TCP: a `file` zone big enough to need several
//! messages, read back frame by frame with hickory (an independent parser).

mod common;

use std::time::Duration;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

fn big_zone(hosts: usize) -> String {
    let mut z = String::from(
        "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns hostmaster 7 7200 3600 1209600 300\n  IN NS ns\nns A 192.0.2.53\n",
    );
    for i in 0..hosts {
        z.push_str(&format!(
            "host-{i:05} A 10.{}.{}.{}\n",
            i / 65536,
            (i / 256) % 256,
            i % 256
        ));
    }
    z
}

#[test]
fn axfr_of_a_file_zone_arrives_complete_in_several_messages() {
    const HOSTS: usize = 6000;
    let corefile =
        "example.org {\n    file db.example.org\n    transfer {\n        to 127.0.0.1\n    }\n}\n";
    let srv = Server::start_files(corefile, &[("db.example.org", &big_zone(HOSTS))]);

    let mut tcp = srv.tcp();
    let q = query("example.org.", RecordType::AXFR);
    tcp.send_frame(&to_wire(&q));
    let mut records = Vec::new();
    let mut messages = 0;
    loop {
        let frame = tcp
            .read_frame(Duration::from_secs(5))
            .expect("a transfer message");
        let m = parse(&frame);
        assert_eq!(m.metadata.id, q.metadata.id);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.authoritative);
        messages += 1;
        records.extend(m.answers.iter().cloned());
        if records.len() > 1 && records.last().map(|r| r.record_type()) == Some(RecordType::SOA) {
            break;
        }
    }
    // SOA, NS, ns A, the hosts, SOA.
    assert_eq!(records.len(), HOSTS + 4);
    assert_eq!(records[0].record_type(), RecordType::SOA);
    assert_eq!(records[0], records[records.len() - 1]);
    assert!(
        messages > 1,
        "{} records came in one message",
        records.len()
    );

    // The same query over UDP is refused.
    let r = srv.query_udp(&query("example.org.", RecordType::AXFR));
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn axfr_from_an_address_not_listed_is_refused() {
    let corefile =
        "example.org {\n    file db.example.org\n    transfer {\n        to 192.0.2.99\n    }\n}\n";
    let srv = Server::start_files(corefile, &[("db.example.org", &big_zone(3))]);
    let r = srv.query_tcp(&query("example.org.", RecordType::AXFR));
    assert_eq!(r.metadata.response_code, ResponseCode::Refused);
    assert!(r.answers.is_empty());
}
