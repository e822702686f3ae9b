//! The real `cairn` binary on 127.0.0.1, queried over real UDP and TCP by an independent
//! client (hickory-proto): routing, EDNS, truncation, TCP framing and pipelining, and the
//! header rules every reply follows.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};

use common::*;
use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};

const WHOAMI_ORG: &str = "example.org {\n    whoami\n}\n";

fn a_of(r: &Record) -> Option<Ipv4Addr> {
    match &r.data {
        RData::A(a) => Some(a.0),
        _ => None,
    }
}

/// Checks a whoami reply: no answer, the client's address for the query name and its port
/// in `_<proto>.<qname>` SRV, both in the additional section.
fn assert_whoami(reply: &Message, qname: &str, proto_label: &str, client_port: u16) {
    assert_eq!(
        reply.metadata.response_code,
        ResponseCode::NoError,
        "{reply}"
    );
    assert!(reply.metadata.authoritative, "whoami sets AA: {reply}");
    assert!(reply.answers.is_empty(), "{reply}");
    assert_eq!(reply.additionals.len(), 2, "{reply}");
    let a = &reply.additionals[0];
    assert_eq!(a.record_type(), RecordType::A, "{reply}");
    assert_eq!(a.name.to_ascii(), qname);
    assert_eq!(a_of(a), Some(Ipv4Addr::LOCALHOST));
    let srv = &reply.additionals[1];
    assert_eq!(srv.name.to_ascii(), format!("{proto_label}.{qname}"));
    match &srv.data {
        RData::SRV(s) => {
            assert_eq!(s.port, client_port, "{reply}");
            assert!(s.target.is_root(), "{reply}");
        }
        other => panic!("expected SRV, got {other:?}"),
    }
}

#[test]
fn whoami_over_udp_reports_client_address_and_port() {
    let srv = Server::start(WHOAMI_ORG);
    let client = srv.udp();
    let q = query("a.example.org.", RecordType::A);
    let reply = client.query(&q);
    assert_eq!(reply.metadata.id, q.metadata.id);
    assert_eq!(
        reply.metadata.message_type,
        hickory_proto::op::MessageType::Response
    );
    assert!(reply.metadata.recursion_desired, "RD copied from the query");
    assert!(!reply.metadata.truncation);
    assert_eq!(reply.queries.len(), 1);
    assert_eq!(reply.queries[0].name().to_ascii(), "a.example.org.");
    assert_whoami(&reply, "a.example.org.", "_udp", client.local_port());
}

#[test]
fn whoami_over_tcp_reports_client_address_and_port() {
    let srv = Server::start(WHOAMI_ORG);
    let mut conn = srv.tcp();
    let q = query("b.example.org.", RecordType::AAAA);
    let reply = conn.query(&q);
    assert_eq!(reply.metadata.id, q.metadata.id);
    assert_whoami(&reply, "b.example.org.", "_tcp", conn.local_port());
    // The connection stays usable for a second query.
    let q2 = query("c.example.org.", RecordType::A);
    let reply2 = conn.query(&q2);
    assert_whoami(&reply2, "c.example.org.", "_tcp", conn.local_port());
}

#[test]
fn zone_not_served_is_refused() {
    let srv = Server::start(WHOAMI_ORG);
    for name in ["example.net.", "org.", "badexample.org.", "."] {
        let q = query(name, RecordType::A);
        let reply = srv.query_udp(&q);
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::Refused,
            "{name}: {reply}"
        );
        assert_eq!(reply.metadata.id, q.metadata.id);
        assert!(reply.answers.is_empty() && reply.additionals.is_empty());
        assert_eq!(reply.queries.len(), 1, "question echoed: {reply}");
        assert_eq!(reply.queries[0].name().to_ascii(), name);
        // Same over TCP.
        let reply = srv.query_tcp(&q);
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::Refused,
            "{name}"
        );
    }
}

#[test]
fn longest_zone_wins_between_blocks_on_one_port() {
    // `any` answers qtype ANY with HINFO itself; whoami answers everything with additionals.
    let srv = Server::start("example.org {\n    whoami\n}\nsub.example.org {\n    any\n}\n");
    let client = srv.udp();

    // Below sub.example.org: the `any` block.
    let r = client.query(&query("x.sub.example.org.", RecordType::ANY));
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
    assert_eq!(r.answers.len(), 1, "{r}");
    assert_eq!(r.answers[0].record_type(), RecordType::HINFO, "{r}");
    assert!(r.additionals.is_empty(), "{r}");

    // The zone apex of the longer zone also goes there.
    let r = client.query(&query("sub.example.org.", RecordType::ANY));
    assert_eq!(r.answers.len(), 1, "{r}");
    assert_eq!(r.answers[0].record_type(), RecordType::HINFO, "{r}");

    // Elsewhere under example.org: whoami.
    let r = client.query(&query("x.example.org.", RecordType::ANY));
    assert_whoami(&r, "x.example.org.", "_udp", client.local_port());

    // A label boundary matters: xsub.example.org is not below sub.example.org.
    let r = client.query(&query("xsub.example.org.", RecordType::ANY));
    assert_whoami(&r, "xsub.example.org.", "_udp", client.local_port());

    // DS is answered by the parent side of a zone cut: sub.example.org DS -> example.org block.
    let r = client.query(&query("sub.example.org.", RecordType::DS));
    assert_whoami(&r, "sub.example.org.", "_udp", client.local_port());

    // Nothing matches: REFUSED.
    let r = client.query(&query("example.com.", RecordType::ANY));
    assert_eq!(r.metadata.response_code, ResponseCode::Refused, "{r}");
}

#[test]
fn hosts_block_answers_beside_whoami_block() {
    let hosts = "example.net {\n    hosts {\n        192.0.2.7 www.example.net\n    }\n}\n";
    let srv = Server::start(&format!("{WHOAMI_ORG}{hosts}"));
    let r = srv.query_udp(&query("www.example.net.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
    assert_eq!(r.answers.len(), 1, "{r}");
    assert_eq!(
        a_of(&r.answers[0]),
        Some(Ipv4Addr::new(192, 0, 2, 7)),
        "{r}"
    );
    let r = srv.query_udp(&query("www.example.org.", RecordType::A));
    assert!(r.answers.is_empty() && r.additionals.len() == 2, "{r}");
}

#[test]
fn edns_opt_is_echoed_with_the_clients_size() {
    let srv = Server::start(WHOAMI_ORG);
    for size in [512u16, 1232, 4096] {
        let q = with_edns(query("a.example.org.", RecordType::A), size, 0);
        let r = srv.query_udp(&q);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        let edns = r.edns.as_ref().unwrap_or_else(|| panic!("no OPT in {r}"));
        assert_eq!(edns.max_payload(), size, "{r}");
        assert_eq!(edns.version(), 0);
        assert_eq!(edns.rcode_high(), 0);
    }
    // A size below 512 is raised to 512 (RFC 6891 6.2.5).
    let q = with_edns(query("a.example.org.", RecordType::A), 100, 0);
    let r = srv.query_udp(&q);
    assert_eq!(r.edns.as_ref().map(|e| e.max_payload()), Some(512), "{r}");
    // Over TCP too.
    let q = with_edns(query("a.example.org.", RecordType::A), 1232, 0);
    let r = srv.query_tcp(&q);
    assert_eq!(r.edns.as_ref().map(|e| e.max_payload()), Some(1232), "{r}");
}

#[test]
fn edns_version_1_gets_badvers() {
    let srv = Server::start(WHOAMI_ORG);
    let q = with_edns(query("a.example.org.", RecordType::A), 1232, 1);
    let client = srv.udp();
    let raw = client.query_raw(&to_wire(&q), q.metadata.id);
    // Header RCODE 0, OPT extended bits 1: together 16 = BADVERS.
    assert_eq!(header_rcode(&raw), 0, "{raw:02x?}");
    let r = parse(&raw);
    let edns = r.edns.as_ref().unwrap_or_else(|| panic!("no OPT in {r}"));
    assert_eq!(edns.rcode_high(), 1, "{r}");
    assert_eq!(edns.version(), 0, "the server speaks EDNS version 0");
    assert_eq!(rcode(&r), 16, "{r}");
    assert!(r.answers.is_empty() && r.additionals.is_empty(), "{r}");
    // Also for a zone not served: the version check comes first.
    let q = with_edns(query("example.net.", RecordType::A), 1232, 1);
    let r = srv.query_udp(&q);
    assert_eq!(rcode(&r), 16, "{r}");
}

#[test]
fn no_opt_in_reply_without_opt_in_query() {
    let srv = Server::start(WHOAMI_ORG);
    for name in ["a.example.org.", "example.net."] {
        let r = srv.query_udp(&query(name, RecordType::A));
        assert!(r.edns.is_none(), "{name}: {r}");
        let r = srv.query_tcp(&query(name, RecordType::A));
        assert!(r.edns.is_none(), "{name}: {r}");
    }
}

/// A block with one big answer from `hosts`: (Corefile, query, number of records).
fn big_answer_setup() -> (String, Message, usize) {
    const N: usize = 60;
    let mut hosts = String::from("example.org {\n    hosts {\n");
    for i in 0..N {
        hosts.push_str(&format!(
            "        10.0.{}.{} big.example.org\n",
            i / 200,
            i % 200 + 1
        ));
    }
    hosts.push_str("    }\n}\n");
    (hosts, query("big.example.org.", RecordType::A), N)
}

#[test]
fn big_answer_is_truncated_over_udp_and_complete_over_tcp() {
    let (corefile, q, n) = big_answer_setup();
    let srv = Server::start(&corefile);
    let client = srv.udp();

    // No EDNS: at most 512 bytes, TC set.
    let raw = client.query_raw(&to_wire(&q), q.metadata.id);
    assert!(
        raw.len() <= 512,
        "reply of {} bytes without EDNS",
        raw.len()
    );
    let r = parse(&raw);
    assert!(r.metadata.truncation, "TC must be set: {r}");
    assert_eq!(r.metadata.id, q.metadata.id);
    assert!(r.answers.len() < n, "{r}");

    // EDNS 600: at most 600 bytes, TC set (the full answer, about 1 KB, is bigger).
    let qe = with_edns(q.clone(), 600, 0);
    let raw = client.query_raw(&to_wire(&qe), qe.metadata.id);
    let r = parse(&raw);
    assert!(
        raw.len() <= 600,
        "reply of {} bytes for EDNS 600",
        raw.len()
    );
    assert!(r.metadata.truncation, "TC must be set: {r}");
    assert!(r.edns.is_some(), "OPT kept in a truncated reply: {r}");

    // EDNS 4096: fits.
    let qe = with_edns(q.clone(), 4096, 0);
    let r = client.query(&qe);
    assert!(!r.metadata.truncation, "{r}");
    assert_eq!(r.answers.len(), n, "{r}");

    // TCP, same query as the first: complete.
    let r = srv.query_tcp(&q);
    assert!(!r.metadata.truncation, "{r}");
    assert_eq!(r.answers.len(), n, "{r}");
}

#[test]
fn tcp_pipelined_queries_are_all_answered() {
    let srv = Server::start(WHOAMI_ORG);
    let mut conn = srv.tcp();
    let mut sent: HashMap<u16, String> = HashMap::new();
    let mut buf = Vec::new();
    for i in 0..20 {
        let name = format!("q{i}.example.org.");
        let q = query(&name, RecordType::A);
        let wire = to_wire(&q);
        buf.extend_from_slice(&(wire.len() as u16).to_be_bytes());
        buf.extend_from_slice(&wire);
        sent.insert(q.metadata.id, name);
    }
    // All 20 in one write, back to back.
    conn.stream.write_all(&buf).expect("write");
    for _ in 0..20 {
        let raw = conn.read_frame(REPLY_TIMEOUT).expect("a reply per query");
        let r = parse(&raw);
        let name = sent
            .remove(&r.metadata.id)
            .unwrap_or_else(|| panic!("unexpected or repeated id {}", r.metadata.id));
        assert_whoami(&r, &name, "_tcp", conn.local_port());
    }
    assert!(sent.is_empty());
}

#[test]
fn tcp_queries_split_across_writes_are_reassembled() {
    let srv = Server::start(WHOAMI_ORG);
    let mut conn = srv.tcp();
    let q = query("split.example.org.", RecordType::A);
    let wire = to_wire(&q);
    let mut framed = (wire.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&wire);
    // One byte, then the rest in two pieces.
    for part in [&framed[..1], &framed[1..7], &framed[7..]] {
        conn.stream.write_all(part).expect("write");
        conn.stream.flush().ok();
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
    let r = parse(&conn.read_frame(REPLY_TIMEOUT).expect("reply"));
    assert_whoami(&r, "split.example.org.", "_tcp", conn.local_port());
}

#[test]
fn chaos_class_is_refused_without_chaos_plugin() {
    let srv = Server::start(WHOAMI_ORG);
    for class in [DNSClass::CH, DNSClass::HS] {
        let q = query_class("version.example.org.", RecordType::TXT, class);
        let r = srv.query_udp(&q);
        assert_eq!(r.metadata.response_code, ResponseCode::Refused, "{r}");
        assert!(r.answers.is_empty() && r.additionals.is_empty(), "{r}");
        assert_eq!(r.queries.first().map(|q| q.query_class()), Some(class));
    }
}

#[test]
fn question_case_is_preserved() {
    let srv = Server::start(WHOAMI_ORG);
    let client = srv.udp();
    for name in [
        "WhoAmI.ExAmPlE.oRg.",
        "EXAMPLE.ORG.",
        "nomatch.EXAMPLE.net.",
    ] {
        let q = query(name, RecordType::A);
        let wire = to_wire(&q);
        let raw = client.query_raw(&wire, q.metadata.id);
        // The question section is byte for byte the one asked.
        let qlen = wire.len() - 12;
        assert_eq!(&raw[12..12 + qlen], &wire[12..], "{name}");
        let r = parse(&raw);
        assert_eq!(r.queries[0].name().to_ascii(), name);
        if r.metadata.response_code == ResponseCode::NoError {
            assert_eq!(
                r.additionals[0].name.to_ascii(),
                name,
                "owner keeps the case"
            );
        }
    }
}

#[test]
fn query_with_qr_set_gets_no_answer() {
    let srv = Server::start(WHOAMI_ORG);
    let client = srv.udp();
    let q = query("a.example.org.", RecordType::A);
    let mut wire = to_wire(&q);
    wire[2] |= 0x80;
    assert!(
        client.fenced(&wire).is_empty(),
        "a response must not be answered"
    );
    assert!(client
        .raw(&wire, std::time::Duration::from_millis(300))
        .is_none());
    // Over TCP: no answer, and the connection still serves the next query.
    let mut conn = srv.tcp();
    conn.send_frame(&wire);
    let q2 = query("b.example.org.", RecordType::A);
    let r = conn.query(&q2);
    assert_eq!(
        r.metadata.id, q2.metadata.id,
        "the QR=1 message got a reply"
    );
}

#[test]
fn other_opcodes_get_notimp() {
    let srv = Server::start(WHOAMI_ORG);
    for op in [OpCode::Status, OpCode::Notify, OpCode::Update] {
        let mut q = query("a.example.org.", RecordType::SOA);
        q.metadata.op_code = op;
        let r = srv.query_udp(&q);
        assert_eq!(
            r.metadata.response_code,
            ResponseCode::NotImp,
            "{op:?}: {r}"
        );
        assert_eq!(r.metadata.op_code, op, "opcode copied");
    }
}

#[test]
fn listens_on_the_port_given_by_dns_port_flag() {
    // Keys without a port take -dns.port; a key with a port overrides it.
    let srv = Server::start("example.org {\n    whoami\n}\n");
    let r = srv.query_udp(&query("a.example.org.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    let other = free_port();
    let text = format!("example.org {{\n    whoami\n}}\nexample.net:{other} {{\n    whoami\n}}\n");
    let srv2 = Server::start(&text);
    let c = UdpClient::new((IpAddr::from(Ipv4Addr::LOCALHOST), other).into());
    let r = c.query(&query("a.example.net.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
    // example.net is not served on the default port.
    let r = srv2.query_udp(&query("a.example.net.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::Refused, "{r}");
}

const ZONE: &str = "$ORIGIN example.com.
$TTL 3600
@       IN SOA ns1.example.com. admin.example.com. 7 7200 3600 1209600 300
@       IN NS  ns1.example.com.
ns1     IN A   192.0.2.1
www     IN A   192.0.2.2
";

#[test]
fn file_zone_is_served_over_udp_and_tcp() {
    // The zone file lives next to the Corefile (relative paths resolve against its directory).
    let corefile = "example.com {\n    file db.example.com\n}\n";
    let files = [("db.example.com", ZONE)];
    let srv = Server::start_files(corefile, &files);

    for tcp in [false, true] {
        let q = query("WWW.example.com.", RecordType::A);
        let r = if tcp {
            srv.query_tcp(&q)
        } else {
            srv.query_udp(&q)
        };
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        assert!(r.metadata.authoritative, "{r}");
        assert_eq!(r.answers.len(), 1, "{r}");
        assert_eq!(
            r.answers[0].name.to_ascii(),
            "WWW.example.com.",
            "case kept: {r}"
        );
        assert_eq!(
            a_of(&r.answers[0]),
            Some(Ipv4Addr::new(192, 0, 2, 2)),
            "{r}"
        );

        let r = if tcp {
            srv.query_tcp(&query("nope.example.com.", RecordType::A))
        } else {
            srv.query_udp(&query("nope.example.com.", RecordType::A))
        };
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
        assert!(r.answers.is_empty(), "{r}");
        assert_eq!(r.authorities.len(), 1, "{r}");
        assert_eq!(r.authorities[0].record_type(), RecordType::SOA, "{r}");
    }
}

#[test]
fn banner_lists_each_zone_and_port_like_coredns() {
    let srv = Server::start(
        "example.org:{PORT} example.com:{PORT} {\n    whoami\n}\n\
         example.net:{PORT} {\n    bind 127.0.0.1\n    whoami\n}\n",
    );
    let port = srv.port;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let out = loop {
        let out = srv.stdout();
        if out.contains("Cairn-") || std::time::Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let lines: Vec<&str> = out.lines().collect();
    for want in [
        format!("example.com.:{port}"),
        format!("example.org.:{port}"),
        format!("example.net.:{port} on 127.0.0.1"),
    ] {
        assert!(
            lines.contains(&want.as_str()),
            "missing {want:?} in:\n{out}"
        );
    }
}

#[test]
fn bind_except_applies_to_its_own_line_only() {
    // The first line excludes its only address; the second line still binds it (CoreDNS
    // applies `except` per `bind` line).
    let srv = Server::start(
        "example.org:{PORT} {\n    bind 127.0.0.1 {\n        except 127.0.0.1\n    }\n    bind 127.0.0.1\n    whoami\n}\n",
    );
    let r = srv.query_udp(&query("a.example.org.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
    assert_eq!(r.additionals.len(), 2, "{r}");
}
