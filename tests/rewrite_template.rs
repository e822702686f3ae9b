//! `rewrite`, `template` and `loadbalance` in the real server, over UDP and TCP, read back
//! with hickory (an independent parser): a name rewrite with answer rewriting in front of
//! `file`, templates answering A records from a regex (and following a CNAME through the
//! server), and a multi-address answer that comes back in rotating orders.

mod common;

use std::collections::HashSet;
use std::net::Ipv4Addr;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType};

const ZONE: &str = "$ORIGIN example.com.
$TTL 300
@       IN SOA ns1 admin 1 7200 3600 1209600 300
@       IN NS  ns1
ns1     IN A   192.0.2.1
www     IN A   192.0.2.2
ftp     IN CNAME www
east-ftp IN CNAME www
lb      IN A   192.0.2.11
lb      IN A   192.0.2.12
lb      IN A   192.0.2.13
lb      IN A   192.0.2.14
";

fn a_of(r: &Record) -> Option<Ipv4Addr> {
    match &r.data {
        RData::A(a) => Some(a.0),
        _ => None,
    }
}

fn summary(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .map(|r| format!("{} {} {}", r.name.to_ascii(), r.record_type(), r.data))
        .collect()
}

/// Asks over UDP and over TCP; both replies must agree.
fn both(srv: &Server, name: &str, rtype: RecordType) -> Message {
    let q = query(name, rtype);
    let udp = srv.query_udp(&q);
    let tcp = srv.query_tcp(&query(name, rtype));
    assert_eq!(
        udp.metadata.response_code, tcp.metadata.response_code,
        "{name}"
    );
    assert_eq!(summary(&udp), summary(&tcp), "{name}");
    for m in [&udp, &tcp] {
        assert_eq!(m.queries.len(), 1);
        assert_eq!(
            m.queries[0].name().to_ascii(),
            name,
            "the question as asked"
        );
        assert_eq!(m.queries[0].query_type(), rtype);
    }
    udp
}

#[test]
fn rewrite_in_front_of_file_maps_answers_back() {
    let corefile = r#"example.com {
    log
    rewrite name exact old.example.com www.example.com
    rewrite name suffix .corp.example.com .example.com answer auto
    rewrite stop {
        name regex ^([a-z]+)-files\.example\.com\.$ {1}-ftp.example.com
        answer name ^([a-z]+)-ftp\.example\.com\.$ {1}-files.example.com
        answer value ^www\.example\.com\.$ web.example.com
    }
    file db.example.com
}
"#;
    let srv = Server::start_files(corefile, &[("db.example.com", ZONE)]);

    // exact: the answer comes back under the name asked.
    let m = both(&srv, "old.example.com.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(summary(&m), ["old.example.com. A 192.0.2.2"]);

    // suffix with answer auto, through a CNAME: owner and target mapped back.
    let m = both(&srv, "ftp.corp.example.com.", RecordType::A);
    assert_eq!(
        summary(&m),
        [
            "ftp.corp.example.com. CNAME www.corp.example.com.",
            "www.corp.example.com. A 192.0.2.2"
        ]
    );

    // regex with explicit answer name and value rewrites.
    let m = both(&srv, "east-files.example.com.", RecordType::A);
    assert_eq!(
        summary(&m),
        [
            "east-files.example.com. CNAME web.example.com.",
            "www.example.com. A 192.0.2.2"
        ]
    );

    // A name no rule matches is served as usual; a rewrite to a missing name is NXDOMAIN.
    let m = both(&srv, "www.example.com.", RecordType::A);
    assert_eq!(summary(&m), ["www.example.com. A 192.0.2.2"]);
    let m = both(&srv, "nope.corp.example.com.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);

    // The query log (before rewrite in the chain) shows the name the client asked.
    let deadline = std::time::Instant::now() + REPLY_TIMEOUT;
    loop {
        let out = srv.stdout();
        if out.contains("\"A IN east-files.example.com. tcp") {
            assert!(out.contains("\"A IN old.example.com. udp"), "{out}");
            assert!(out.contains("\"A IN ftp.corp.example.com. udp"), "{out}");
            // The rewritten names never reach the log.
            assert!(!out.contains("A IN ftp.example.com."), "{out}");
            assert!(!out.contains("A IN east-ftp.example.com."), "{out}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no log line: {out}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn template_answers_a_records_from_a_regex() {
    let corefile = r#"tpl.test {
    template IN A tpl.test {
        match "^ip-(?P<a>[0-9]+)-(?P<b>[0-9]+)-(?P<c>[0-9]+)-(?P<d>[0-9]+)[.]tpl[.]test[.]$"
        answer "{{ .Name }} 60 IN A {{ .Group.a }}.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
        fallthrough
    }
    template IN A tpl.test {
        match "^alias[.]tpl[.]test[.]$"
        answer "alias.tpl.test. 30 IN CNAME ip-10-9-9-9.tpl.test."
        fallthrough
    }
    template IN ANY tpl.test {
        rcode NXDOMAIN
        authority "tpl.test. 60 IN SOA ns.tpl.test. hostmaster.tpl.test. (1 60 60 60 60)"
    }
}
"#;
    let srv = Server::start(corefile);

    let m = both(&srv, "ip-10-1-2-3.tpl.test.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].ttl, 60);
    assert_eq!(a_of(&m.answers[0]), Some(Ipv4Addr::new(10, 1, 2, 3)));

    // A CNAME answer is followed through the server: the target is answered by the first
    // template.
    let m = both(&srv, "alias.tpl.test.", RecordType::A);
    assert_eq!(
        summary(&m),
        [
            "alias.tpl.test. CNAME ip-10-9-9-9.tpl.test.",
            "ip-10-9-9-9.tpl.test. A 10.9.9.9"
        ]
    );

    // Everything else: the catch-all template's NXDOMAIN with its SOA.
    let m = both(&srv, "other.tpl.test.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.authorities.len(), 1);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    let m = both(&srv, "ip-10-1-2-3.tpl.test.", RecordType::MX);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn loadbalance_rotates_a_multi_address_answer() {
    let corefile = "example.com {\n    loadbalance round_robin\n    file db.example.com\n}\n";
    let srv = Server::start_files(corefile, &[("db.example.com", ZONE)]);
    let want: HashSet<Ipv4Addr> = (11..=14).map(|i| Ipv4Addr::new(192, 0, 2, i)).collect();
    let udp = srv.udp();
    let mut tcp = srv.tcp();
    let mut firsts = HashSet::new();
    let mut orders = HashSet::new();
    for i in 0..120 {
        let q = query("lb.example.com.", RecordType::A);
        let m = if i % 2 == 0 {
            udp.query(&q)
        } else {
            tcp.query(&q)
        };
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        let ips: Vec<Ipv4Addr> = m.answers.iter().filter_map(a_of).collect();
        assert_eq!(ips.len(), 4, "{m}");
        assert_eq!(ips.iter().copied().collect::<HashSet<_>>(), want, "{m}");
        firsts.insert(ips[0]);
        orders.insert(ips);
    }
    assert_eq!(firsts, want, "every address comes first sometimes");
    assert!(
        orders.len() > 6,
        "only {} orders in 120 replies",
        orders.len()
    );
}

#[test]
fn rewritten_cname_target_is_answered_through_the_server() {
    let zone = "$ORIGIN example.com.
$TTL 300
@       IN SOA ns1 admin 1 7200 3600 1209600 300
@       IN NS  ns1
ns1     IN A   192.0.2.1
video   IN CNAME east.old.example.com.
east.old IN A  192.0.2.40
east.new IN A  192.0.2.50
";
    let corefile = "example.com {\n    rewrite cname suffix .old.example.com. .new.example.com.\n    file db.example.com\n}\n";
    let srv = Server::start_files(corefile, &[("db.example.com", zone)]);
    let m = both(&srv, "video.example.com.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        summary(&m),
        [
            "video.example.com. CNAME east.new.example.com.",
            "east.new.example.com. A 192.0.2.50"
        ]
    );
}
