//! The kubernetes conformance tables against the whole server. The rows are those of
//! tests/fixtures/kubernetes/conformance.rs (CoreDNS's plugin/kubernetes test vectors and the
//! compat spec's examples), which crates/plugins/src/kubernetes/tests.rs runs through the
//! plugin in-process; here each table starts the real `cairn` binary once, serving the
//! table's Corefile with its manifest fixture (`manifests`) and `bind 127.0.0.1`, and every
//! row is asked over UDP and over TCP by hickory-proto. UDP queries carry EDNS with a
//! 4096-byte buffer, as resolvers send them: the largest replies here (headless SRV with
//! their additional records) pass 512 bytes, and a plain-DNS reply would lose records to the
//! size limit rather than show what the plugin answered; TCP queries carry no EDNS. A row
//! passes when the reply has its rcode, AA and no TC, and its answer, authority and
//! additional sections hold the row's records (sorted, whitespace-normalized, `SERIAL` = the
//! serial of the server's own apex SOA), as the in-process harness compares them, but as
//! the client decoded them. Failures of all tables are reported together, each with its
//! table and row index.
//!
//! A server bound to 127.0.0.1 has no name-server addresses of its own (loopback is not
//! counted), which is what the in-process tables use unless they say otherwise. The tables
//! that need a setup the real server cannot reproduce stay in-process only:
//! - `EXTERNAL_NAME_WITHOUT_SERVER`: its row expects what the plugin answers with no server
//!   around it (the lookup of an ExternalName target outside the cluster zones cannot run,
//!   so the CNAME is dropped); a real server runs the lookup and keeps the CNAME.
//! - `BEFORE_SYNC` and `FALLTHROUGH_BEFORE_SYNC`: they need an index holding the objects
//!   but not yet synced; a server reads its manifests completely before it answers, so it is
//!   always synced.
//! - `NAME_SERVERS`: the server's own address must be 10.244.0.20 (an endpoint of the
//!   fixture's DNS service), which no test host has.
//! - `APEX_LOCAL_ADDRESSES`: its local address is 127.0.0.1, which a real server leaves out
//!   of its own addresses as loopback.

mod common;

mod conformance {
    include!("fixtures/kubernetes/conformance.rs");
}

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use common::*;
use conformance::{Case, Table, TABLES};
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// The tables that stay in-process (see the module documentation for why).
const UNIT_ONLY: &[&str] = &[
    "EXTERNAL_NAME_WITHOUT_SERVER",
    "BEFORE_SYNC",
    "FALLTHROUGH_BEFORE_SYNC",
    "NAME_SERVERS",
    "APEX_LOCAL_ADDRESSES",
];

/// How many servers run at once.
const PARALLEL: usize = 4;

#[test]
fn conformance_tables_against_the_server() {
    let served: Vec<&Table> = TABLES.iter().copied().filter(|t| reproducible(t)).collect();
    let unit_only: Vec<&str> = TABLES
        .iter()
        .filter(|t| !reproducible(t))
        .map(|t| t.name)
        .collect();
    assert_eq!(
        unit_only, UNIT_ONLY,
        "the tables that need in-process knobs changed: update UNIT_ONLY and the module docs"
    );

    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..PARALLEL {
            s.spawn(|| {
                while let Some(t) = served.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let found = std::panic::catch_unwind(|| run_table(t)).unwrap_or_else(|p| {
                        let why = p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        vec![format!("{}: {why}", t.name)]
                    });
                    failures
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend(found);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Whether the real server can reproduce a table's setup: synced, no local addresses, and
/// rows that hold with a server around the plugin.
fn reproducible(t: &Table) -> bool {
    t.synced && t.local.is_empty() && !t.alone
}

/// Starts a server for one table and asks every row over UDP and TCP; returns the failures.
fn run_table(t: &Table) -> Vec<String> {
    let corefile = served_corefile(t);
    let srv = Server::start_files(&corefile, &[(t.manifest.name, t.manifest.yaml)]);
    let udp = srv.udp();
    let mut tcp = srv.tcp();
    let serial = match apex_serial(&udp, t.corefile) {
        Ok(serial) => serial,
        Err(e) => return vec![format!("{}: {e}", t.name)],
    };
    let mut failures = Vec::new();
    for (i, c) in t.cases.iter().enumerate() {
        let rtype = RecordType::from_str(c.qtype.mnemonic()).expect("a known mnemonic");
        let over_udp = udp.query(&with_edns(query(c.qname, rtype), 4096, 0));
        let over_tcp = tcp.query(&query(c.qname, rtype));
        for (proto, reply) in [("UDP", over_udp), ("TCP", over_tcp)] {
            if let Err(e) = check(c, &reply, serial) {
                failures.push(format!(
                    "{} case {i} ({} {}) over {proto}: {e}",
                    t.name,
                    c.qname,
                    c.qtype.mnemonic()
                ));
            }
        }
    }
    failures
}

/// The table's Corefile with what a served copy needs: `bind 127.0.0.1` in the block and
/// the manifest fixture as the `kubernetes` source.
fn served_corefile(t: &Table) -> String {
    let mut out = Vec::new();
    let mut bound = false;
    let mut sourced = false;
    for line in t.corefile.lines() {
        let directive = line.trim();
        if directive == "kubernetes" || directive.starts_with("kubernetes ") {
            let manifests = format!("  manifests {}", t.manifest.name);
            if let Some(open) = line.strip_suffix('{') {
                out.push(format!("{open}{{"));
                out.push(manifests);
            } else {
                out.push(format!("{line} {{"));
                out.push(manifests);
                out.push(" }".to_string());
            }
            sourced = true;
        } else {
            out.push(line.to_string());
            if !bound && line.ends_with('{') {
                out.push(" bind 127.0.0.1".to_string());
                bound = true;
            }
        }
    }
    assert!(
        bound && sourced,
        "{}: not a one-block Corefile with kubernetes:\n{}",
        t.name,
        t.corefile
    );
    out.join("\n") + "\n"
}

/// The serial of the SOA the server answers for the first zone of the block.
fn apex_serial(udp: &UdpClient, corefile: &str) -> Result<u32, String> {
    let zone = corefile.split_whitespace().next().unwrap_or(".");
    let apex = if zone.ends_with('.') {
        zone.to_string()
    } else {
        format!("{zone}.")
    };
    let reply = udp.query(&query(&apex, RecordType::SOA));
    match reply.answers.as_slice() {
        [Record {
            data: RData::SOA(soa),
            ..
        }] => Ok(soa.serial),
        _ => Err(format!("no SOA answer for the apex {apex}:\n{reply}")),
    }
}

/// Compares a reply with a row as the in-process harness does.
fn check(c: &Case, reply: &Message, serial: u32) -> Result<(), String> {
    let rcode = u16::from(reply.metadata.response_code);
    if rcode != c.rcode.code() {
        return Err(format!(
            "rcode {}, want {:?}\n{reply}",
            reply.metadata.response_code, c.rcode
        ));
    }
    if !reply.metadata.authoritative {
        return Err(format!("AA not set\n{reply}"));
    }
    if reply.metadata.truncation {
        return Err(format!("TC set\n{reply}"));
    }
    let serial = serial.to_string();
    for (section, got, want) in [
        ("answer", &reply.answers, c.answer),
        ("authority", &reply.authorities, c.authority),
        ("additional", &reply.additionals, c.additional),
    ] {
        let got = sorted(got.iter().map(presentation).collect::<Result<_, _>>()?);
        let want = sorted(
            want.iter()
                .map(|l| normalize(&l.replace("SERIAL", &serial)))
                .collect(),
        );
        if got != want {
            return Err(format!("{section}:\n got  {got:#?}\n want {want:#?}"));
        }
    }
    Ok(())
}

fn normalize(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------------
// Records in the tables' text form (RFC 1035 presentation, as `dig` and CoreDNS print them)
// ---------------------------------------------------------------------------------------------

/// `owner ttl class type rdata`, single spaces; an error for a type the tables never use.
fn presentation(r: &Record) -> Result<String, String> {
    let rdata = match &r.data {
        RData::A(a) => a.0.to_string(),
        // std prints RFC 5952 text: lower case, the longest zero run as `::`.
        RData::AAAA(aaaa) => aaaa.0.to_string(),
        RData::CNAME(n) => name(&n.0),
        RData::NS(n) => name(&n.0),
        RData::PTR(n) => name(&n.0),
        RData::SRV(s) => format!("{} {} {} {}", s.priority, s.weight, s.port, name(&s.target)),
        RData::SOA(s) => format!(
            "{} {} {} {} {} {} {}",
            name(&s.mname),
            name(&s.rname),
            s.serial,
            s.refresh,
            s.retry,
            s.expire,
            s.minimum
        ),
        RData::TXT(t) => t
            .txt_data
            .iter()
            .map(|s| character_string(s))
            .collect::<Vec<_>>()
            .join(" "),
        other => {
            return Err(format!(
                "unexpected {} record {} {other}",
                r.record_type(),
                name(&r.name)
            ))
        }
    };
    Ok(format!(
        "{} {} {} {} {rdata}",
        name(&r.name),
        r.ttl,
        r.dns_class,
        r.record_type()
    ))
}

/// A name as received (letter case kept), with RFC 1035 escapes and the final dot.
fn name(n: &Name) -> String {
    if n.is_root() {
        return ".".to_string();
    }
    let mut out = String::new();
    for label in n.iter() {
        for &b in label {
            match b {
                b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                    out.push('\\');
                    out.push(char::from(b));
                }
                0x21..=0x7e => out.push(char::from(b)),
                _ => out.push_str(&format!("\\{b:03}")),
            }
        }
        out.push('.');
    }
    out
}

/// A TXT character-string in quotes, `"` and `\` escaped, other non-printables as `\DDD`.
fn character_string(s: &[u8]) -> String {
    let mut out = String::from("\"");
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out.push('"');
    out
}

#[test]
fn presentation_matches_the_tables_text() {
    use hickory_proto::rr::rdata::{A, AAAA, SOA, SRV, TXT};
    let owner = Name::from_ascii("SvC1.TeStNs.svc.cluster.local.").unwrap();
    let target = Name::from_ascii("svc1.testns.svc.cluster.local.").unwrap();
    let rec = |data: RData| Record::from_rdata(owner.clone(), 5, data);
    let cases = [
        (
            rec(RData::A(A::new(10, 0, 0, 1))),
            "SvC1.TeStNs.svc.cluster.local. 5 IN A 10.0.0.1",
        ),
        (
            rec(RData::AAAA(AAAA::new(0x1234, 0xabcd, 0, 0, 0, 0, 0, 1))),
            "SvC1.TeStNs.svc.cluster.local. 5 IN AAAA 1234:abcd::1",
        ),
        (
            rec(RData::AAAA(AAAA::new(0x10, 0, 0, 0, 0, 0, 0, 3))),
            "SvC1.TeStNs.svc.cluster.local. 5 IN AAAA 10::3",
        ),
        (
            rec(RData::SRV(SRV::new(0, 16, 80, target.clone()))),
            "SvC1.TeStNs.svc.cluster.local. 5 IN SRV 0 16 80 svc1.testns.svc.cluster.local.",
        ),
        (
            rec(RData::SOA(SOA::new(
                Name::from_ascii("ns.dns.cluster.local.").unwrap(),
                Name::from_ascii("hostmaster.cluster.local.").unwrap(),
                1_700_000_000,
                7200,
                1800,
                86400,
                5,
            ))),
            "SvC1.TeStNs.svc.cluster.local. 5 IN SOA ns.dns.cluster.local. \
             hostmaster.cluster.local. 1700000000 7200 1800 86400 5",
        ),
        (
            rec(RData::TXT(TXT::new(vec![
                "1.1.0".to_string(),
                "say \"hi\\\"\u{7}".to_string(),
            ]))),
            "SvC1.TeStNs.svc.cluster.local. 5 IN TXT \"1.1.0\" \"say \\\"hi\\\\\\\"\\007\"",
        ),
    ];
    for (record, want) in cases {
        assert_eq!(presentation(&record).unwrap(), want);
    }
    let odd = Name::from_labels(vec![&b"a.b"[..], &b"c d"[..], &b"x"[..]]).unwrap();
    assert_eq!(name(&odd), "a\\.b.c\\032d.x.");
    assert_eq!(name(&Name::root()), ".");
}
