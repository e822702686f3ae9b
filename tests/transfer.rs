//! Zone transfers from the real server over TCP, read back frame by frame with hickory (an
//! independent parser): a `file` zone big enough to need several messages, and the cluster
//! zone of the `kubernetes` plugin served from manifests.

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

/// Reads one whole transfer (SOA ... SOA) answering `q` from a TCP connection.
fn read_transfer(
    tcp: &mut TcpClient,
    q: &hickory_proto::op::Message,
) -> Vec<hickory_proto::rr::Record> {
    tcp.send_frame(&to_wire(q));
    let mut records = Vec::new();
    loop {
        let frame = tcp
            .read_frame(Duration::from_secs(5))
            .expect("a transfer message");
        let m = parse(&frame);
        assert_eq!(m.metadata.id, q.metadata.id);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{m}");
        records.extend(m.answers.iter().cloned());
        if records.len() > 1 && records.last().map(|r| r.record_type()) == Some(RecordType::SOA) {
            return records;
        }
    }
}

#[test]
fn axfr_of_the_cluster_zone_lists_services_and_endpoints() {
    let corefile = "cluster.local {
    kubernetes {
        manifests cluster.yaml
        namespaces testns
    }
    transfer {
        to *
    }
}
";
    let cluster = include_str!("fixtures/kubernetes/handler.yaml");
    let srv = Server::start_files(corefile, &[("cluster.yaml", cluster)]);
    let mut tcp = srv.tcp();
    let records = read_transfer(&mut tcp, &query("cluster.local.", RecordType::AXFR));
    let lines: Vec<String> = records
        .iter()
        .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data))
        .collect();
    assert_eq!(records[0].record_type(), RecordType::SOA);
    assert_eq!(records[0], records[records.len() - 1]);
    for want in [
        "cluster.local. 5 NS ns.dns.cluster.local.",
        "svc1.testns.svc.cluster.local. 5 A 10.0.0.1",
        "_http._tcp.svc1.testns.svc.cluster.local. 5 SRV 0 100 80 svc1.testns.svc.cluster.local.",
        "dup-name.hdls1.testns.svc.cluster.local. 5 A 172.0.0.4",
        "external.testns.svc.cluster.local. 5 CNAME ext.interwebs.test.",
    ] {
        assert!(
            lines.iter().any(|l| l == want),
            "{want} missing from\n{lines:#?}"
        );
    }
    // Only exposed namespaces; no pods, PTRs or dns-version.
    assert!(
        !lines.iter().any(|l| l.contains("kube-system")),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("dns-version")),
        "{lines:#?}"
    );

    // An IXFR carrying the current serial gets the single SOA; an older one the whole zone.
    let serial = match &records[0].data {
        hickory_proto::rr::RData::SOA(soa) => soa.serial,
        other => panic!("not a SOA: {other:?}"),
    };
    let current = ixfr_query("cluster.local.", serial);
    let r = srv.query_tcp(&current);
    assert_eq!(r.answers.len(), 1, "{r}");
    assert_eq!(r.answers[0].record_type(), RecordType::SOA);
    let older = ixfr_query("cluster.local.", serial.wrapping_sub(1));
    let full = read_transfer(&mut tcp, &older);
    assert_eq!(full.len(), records.len());

    // A name inside the zone is not a zone apex: refused.
    let r = srv.query_tcp(&query("svc.cluster.local.", RecordType::AXFR));
    assert_eq!(r.metadata.response_code, ResponseCode::Refused, "{r}");
}

/// An IXFR query for `zone` carrying `serial` in its authority section (RFC 1995).
fn ixfr_query(zone: &str, serial: u32) -> hickory_proto::op::Message {
    use hickory_proto::rr::rdata::SOA;
    use hickory_proto::rr::{Name, RData, Record};
    let mut q = query(zone, RecordType::IXFR);
    let owner = Name::from_ascii(zone).expect("zone");
    let soa = SOA::new(owner.clone(), owner.clone(), serial, 0, 0, 0, 0);
    q.add_authority(Record::from_rdata(owner, 0, RData::SOA(soa)));
    q
}
