//! Case tables ported from CoreDNS's rewrite tests (rule parsing, name rewrites of every
//! match type with and without answer rewriting, class/type, EDNS0 local/NSID/subnet with
//! set/append/replace/unset and revert, TTL and rcode rules), run through the handler with
//! a `next` that records what it saw, plus the Cairn specifics: the request is restored for
//! the rest of the chain's callers, and the raw query bytes follow the rewrite.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cairn_core::testing::{on_the_wire, query, query_bytes, query_from, run, setup};
use cairn_core::wire::{Edns, Message, Name, RType, Rcode, Record, CLASS_CH, CLASS_IN};
use cairn_core::{Chain, Next, Plugin, PluginError, Proto, Request, Served};

use super::rule::{Kind, NameRewrite};
use super::setup::rule;
use super::Rewrite;
use crate::file::ZoneParser;
use crate::registry::spec;

/// Records from zone-file lines.
fn rrs(text: &str) -> Vec<Record> {
    ZoneParser::new(text.as_bytes().to_vec(), Name::root(), Path::new("test"))
        .without_include()
        .read_all()
        .unwrap()
}

/// What the next plugin saw of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    name: String,
    qtype: RType,
    qclass: u16,
    /// EDNS options (code, data), `None` without OPT.
    options: Option<Vec<(u16, Vec<u8>)>>,
}

/// A last plugin that records the query and answers like CoreDNS's `msgPrinter`: with the
/// configured records, or an A record for the name it was asked; it echoes the query's EDNS
/// options into the reply (as an upstream that mirrors options would).
struct Echo {
    seen: Mutex<Vec<Seen>>,
    answer: Vec<Record>,
    additional: Vec<Record>,
    rcode: Rcode,
    fail: bool,
}

impl Echo {
    fn new() -> Arc<Echo> {
        Echo::with(Vec::new(), Vec::new())
    }

    fn with(answer: Vec<Record>, additional: Vec<Record>) -> Arc<Echo> {
        Arc::new(Echo {
            seen: Mutex::new(Vec::new()),
            answer,
            additional,
            rcode: Rcode::NOERROR,
            fail: false,
        })
    }

    fn last(&self) -> Seen {
        self.seen.lock().unwrap().last().cloned().expect("next ran")
    }

    fn calls(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

fn options_of(req: &Request) -> Option<Vec<(u16, Vec<u8>)>> {
    let e = req.info.edns?;
    let start = e.options_start as usize;
    let raw = &req.raw[start..start + usize::from(e.options_len)];
    let edns = Edns {
        options: raw.to_vec(),
        ..Edns::default()
    };
    Some(edns.options().map(|(c, d)| (c, d.to_vec())).collect())
}

impl Plugin for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }
    fn serve<'a>(&'a self, mut req: Box<Request>, _next: Next<'a>) -> Served<'a> {
        // The bytes must say what the parsed fields say.
        let again = Message::parse(&req.raw).expect("rewritten query parses");
        let q = again.question.as_ref().expect("a question");
        assert_eq!(q.name.wire(), req.info.qname.wire(), "raw and parsed name");
        assert_eq!(q.qtype, req.info.qtype, "raw and parsed type");
        assert_eq!(q.qclass, req.info.qclass, "raw and parsed class");
        assert_eq!(req.qname_lower.wire(), q.name.to_lowercase().wire());
        let seen = Seen {
            name: req.info.qname.to_string(),
            qtype: req.info.qtype,
            qclass: req.info.qclass,
            options: options_of(&req),
        };
        let options = seen.options.clone();
        self.seen.lock().unwrap().push(seen);
        if self.fail {
            return Served::error(req, PluginError::failed("echo", "boom"));
        }
        let mut m = req.reply_rcode(self.rcode);
        if self.answer.is_empty() && self.rcode == Rcode::NOERROR {
            let owner = req.qname();
            m.answer.push(Record::new(
                owner,
                5,
                cairn_core::wire::RData::A("10.0.0.1".parse().unwrap()),
            ));
        } else {
            m.answer.extend(self.answer.iter().cloned());
        }
        m.additional.extend(self.additional.iter().cloned());
        if let Some(opts) = options {
            let mut raw = Vec::new();
            for (c, d) in opts {
                raw.extend_from_slice(&c.to_be_bytes());
                raw.extend_from_slice(&(d.len() as u16).to_be_bytes());
                raw.extend_from_slice(&d);
            }
            m.edns = Some(Edns {
                udp_size: 4096,
                options: raw,
                ..Edns::default()
            });
        }
        Served::reply(req, m)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A chain of one handler with these rules (one `rewrite` line each) and `next`.
fn chain(lines: &[&str], next: Arc<dyn Plugin>) -> Chain {
    let rules = lines.iter().map(|l| rule(l).unwrap()).collect();
    Chain::new(vec![Arc::new(Rewrite::new(rules)), next])
}

fn ask(c: &Chain, name: &str, qtype: RType) -> (Box<Request>, Result<Message, PluginError>) {
    run(c, query(name, qtype))
}

/// A query of another class.
fn query_class(name: &str, qtype: RType, class: u16) -> Box<Request> {
    let raw = query_bytes(name, qtype, class, Some(1232));
    let mut r = Request::from_query(&raw, "10.240.0.1:40212".parse().unwrap(), Proto::Udp).unwrap();
    r.local = "127.0.0.1:53".parse().unwrap();
    Box::new(r)
}

/// A query without EDNS.
fn query_plain(name: &str, qtype: RType) -> Box<Request> {
    let raw = query_bytes(name, qtype, CLASS_IN, None);
    let mut r = Request::from_query(&raw, "10.240.0.1:40212".parse().unwrap(), Proto::Udp).unwrap();
    r.local = "127.0.0.1:53".parse().unwrap();
    Box::new(r)
}

/// A query carrying these EDNS options.
fn query_with_options(name: &str, opts: &[(u16, &[u8])]) -> Box<Request> {
    let mut raw = query_bytes(name, RType::A, CLASS_IN, Some(4096));
    let mut data = Vec::new();
    for (c, d) in opts {
        data.extend_from_slice(&c.to_be_bytes());
        data.extend_from_slice(&(d.len() as u16).to_be_bytes());
        data.extend_from_slice(d);
    }
    // The OPT record is last: patch its RDLENGTH and append the options.
    let n = raw.len();
    raw[n - 2..].copy_from_slice(&(data.len() as u16).to_be_bytes());
    raw.extend_from_slice(&data);
    let mut r = Request::from_query(&raw, "10.240.0.1:40212".parse().unwrap(), Proto::Udp).unwrap();
    r.local = "127.0.0.1:53".parse().unwrap();
    Box::new(r)
}

fn kind_name(words: &str) -> Result<&'static str, String> {
    rule(words).map(|r| match r.kind {
        Kind::Name(n) => match n.rewrite {
            NameRewrite::Exact { .. } => "exact",
            NameRewrite::Prefix { .. } => "prefix",
            NameRewrite::Suffix { .. } => "suffix",
            NameRewrite::Substring { .. } => "substring",
            NameRewrite::Regex { .. } => "regex",
        },
        Kind::Type { .. } => "type",
        Kind::Class { .. } => "class",
        Kind::Edns0(super::edns::Edns0Rule::Local { data, .. }) => match data {
            super::edns::LocalData::Fixed(_) => "local",
            _ => "variable",
        },
        Kind::Edns0(super::edns::Edns0Rule::Nsid { .. }) => "nsid",
        Kind::Edns0(super::edns::Edns0Rule::Subnet { .. }) => "subnet",
        Kind::Ttl { .. } => "ttl",
        Kind::Rcode { .. } => "rcode",
        Kind::Cname(_) => "cname",
    })
}

#[test]
fn new_rule_table() {
    // CoreDNS TestNewRule: "" = must fail, otherwise the kind built.
    let cases: &[(&str, &str)] = &[
        ("", ""),
        ("foo", ""),
        ("name", ""),
        ("name a.com", ""),
        ("name a.com b.com c.com", ""),
        ("name a.com b.com", "exact"),
        ("name exact a.com b.com", "exact"),
        ("name prefix a.com b.com", "prefix"),
        ("name suffix a.com b.com", "suffix"),
        ("name substring a.com b.com", "substring"),
        ("name regex ([a])\\.com new-{1}.com", "regex"),
        ("name regex ([a]\\.com new-{1}.com", ""),
        ("name regex (dns)\\.(core)\\.(rocks) {2}.{1}.{3} answer name (core)\\.(dns)\\.(rocks) {2}.{1}.{3}", "regex"),
        ("name regex (adns)\\.(core)\\.(rocks) {2}.{1}.{3} answer name (core)\\.(adns)\\.(rocks) {2}.{1}.{3} too.long way.too.long", ""),
        ("name regex (bdns)\\.(core)\\.(rocks) {2}.{1}.{3} NoAnswer name (core)\\.(bdns)\\.(rocks) {2}.{1}.{3}", ""),
        ("name regex (cdns)\\.(core)\\.(rocks) {2}.{1}.{3} answer ttl (core)\\.(cdns)\\.(rocks) {2}.{1}.{3}", ""),
        ("name substring fcore.dns.rocks dns.fcore.rocks answer name (fcore)\\.(dns)\\.(rocks) {2}.{1}.{3}", "substring"),
        ("name substring a.com b.com c.com", ""),
        ("type", ""),
        ("type a", ""),
        ("type any a a", ""),
        ("type any a", "type"),
        ("type XY WV", ""),
        ("type ANY WV", ""),
        ("class", ""),
        ("class IN", ""),
        ("class ch in in", ""),
        ("class ch in", "class"),
        ("class XY WV", ""),
        ("class IN WV", ""),
        ("edns0", ""),
        ("edns0 unknown-rule-type set", ""),
        ("edns0 unknown-rule-type unset", ""),
        ("edns0 local", ""),
        ("edns0 local set", ""),
        ("edns0 local set 0xffee", ""),
        ("edns0 local set invalid-uint abcdefg", ""),
        ("edns0 local set 65518 abcdefg", "local"),
        ("edns0 local set 0xffee abcdefg", "local"),
        ("edns0 local set 0xffee abcdefg revert", "local"),
        ("edns0 local append 0xffee abcdefg", "local"),
        ("edns0 local append 0xffee abcdefg revert", "local"),
        ("edns0 local replace 0xffee abcdefg", "local"),
        ("edns0 local replace 0xffee abcdefg revert", "local"),
        ("edns0 local unset 0xffee", "local"),
        ("edns0 local unset 0xffee abcdefg", ""),
        ("edns0 local unset 0xffee revert", ""),
        ("edns0 local foo 0xffee abcdefg", ""),
        ("edns0 local set 0xffee 0xabcdefg", ""),
        ("edns0 nsid set junk", ""),
        ("edns0 nsid set", "nsid"),
        ("edns0 nsid set revert", "nsid"),
        ("edns0 nsid append", "nsid"),
        ("edns0 nsid append revert", "nsid"),
        ("edns0 nsid replace", "nsid"),
        ("edns0 nsid replace revert", "nsid"),
        ("edns0 nsid unset", "nsid"),
        ("edns0 nsid unset revert", ""),
        ("edns0 nsid foo", ""),
        ("edns0 local set invalid-uint {qname}", ""),
        ("edns0 local set 0xffee {dummy}", ""),
        ("edns0 local set 0xffee {qname}", "variable"),
        ("edns0 local set 0xffee {qtype}", "variable"),
        ("edns0 local set 0xffee {client_ip}", "variable"),
        ("edns0 local set 0xffee {client_port}", "variable"),
        ("edns0 local set 0xffee {protocol}", "variable"),
        ("edns0 local set 0xffee {server_ip}", "variable"),
        ("edns0 local set 0xffee {server_port}", "variable"),
        ("edns0 local set 0xffee {server_port} revert", "variable"),
        ("edns0 local append 0xffee {dummy}", ""),
        ("edns0 local append 0xffee {qname}", "variable"),
        ("edns0 local replace 0xffee {dummy}", ""),
        ("edns0 local replace 0xffee {client_ip}", "variable"),
        ("edns0 local set 0xffee {test/label}", "variable"),
        ("edns0 subnet set -1 56", ""),
        ("edns0 subnet set 24 -56", ""),
        ("edns0 subnet set 33 56", ""),
        ("edns0 subnet set 24 129", ""),
        ("edns0 subnet set 24 56", "subnet"),
        ("edns0 subnet set 24 56 revert", "subnet"),
        ("edns0 subnet append 24 56", "subnet"),
        ("edns0 subnet append 24 56 72", ""),
        ("edns0 subnet append 24 56 revert", "subnet"),
        ("edns0 subnet replace 24 56", "subnet"),
        ("edns0 subnet unset", "subnet"),
        ("edns0 subnet unset 24 56", ""),
        ("edns0 subnet unset revert", ""),
        ("unknown-action name a.com b.com", ""),
        ("stop name a.com b.com", "exact"),
        ("continue name a.com b.com", "exact"),
        ("unknown-action type any a", ""),
        ("stop type any a", "type"),
        ("continue type any a", "type"),
        ("stop class ch in", "class"),
        ("continue class ch in", "class"),
        ("stop edns0 local set 0xffee abcdefg", "local"),
        ("continue edns0 nsid set", "nsid"),
        ("stop edns0 local set 0xffee {qname}", "variable"),
        ("continue edns0 subnet set 24 56", "subnet"),
        ("stop edns0 subnet unset", "subnet"),
        ("unknown-action edns0 subnet set 24 64", ""),
        // ttl (CoreDNS TestNewTTLRule)
        ("ttl srv1.coredns.rocks 10", "ttl"),
        ("ttl exact srv1.coredns.rocks 15", "ttl"),
        ("ttl prefix coredns.rocks 20", "ttl"),
        ("ttl suffix srv1 25", "ttl"),
        ("ttl substring coredns 30", "ttl"),
        ("ttl regex (srv1)\\.(coredns)\\.(rocks) 35", "ttl"),
        ("continue ttl srv1.coredns.rocks 10", "ttl"),
        ("ttl srv1.coredns.rocks 12345678901234567890", ""),
        ("ttl srv1.coredns.rocks coredns.rocks", ""),
        ("ttl srv1.coredns.rocks #1", ""),
        ("ttl range.coredns.rocks 1-2", "ttl"),
        ("ttl ceil.coredns.rocks -2", "ttl"),
        ("ttl floor.coredns.rocks 1-", "ttl"),
        ("ttl range.coredns.rocks 2-2", "ttl"),
        ("ttl invalid.coredns.rocks -", ""),
        ("ttl invalid.coredns.rocks 2-1", ""),
        ("ttl invalid.coredns.rocks 5-10-20", ""),
        ("ttl fuzzy srv1.coredns.rocks 10", ""),
        ("ttl exact a b 10", ""),
        // rcode (CoreDNS TestNewRCodeRule)
        ("rcode numeric.rcode.coredns.rocks 2 0", "rcode"),
        ("rcode too.few.rcode.coredns.rocks 2", ""),
        ("rcode exact too.many.rcode.coredns.rocks 2 1 0", ""),
        ("rcode exact match.string.rcode.coredns.rocks SERVFAIL NOERROR", "rcode"),
        ("continue rcode regex (regex)\\.rcode\\.(coredns)\\.(rocks) FORMERR NOERROR", "rcode"),
        ("rcode invalid.rcode.coredns.rocks random nothing", ""),
        ("rcode a.rocks 24 0", ""),
        ("rcode a.rocks badsig noerror", "rcode"),
        ("answer name a b", ""),
        ("stop answer name a b", ""),
        ("cname exact a. b.", "cname"),
        ("cname a. b.", "cname"),
    ];
    for (words, want) in cases {
        match (kind_name(words), *want) {
            (Err(_), "") => {}
            (Ok(got), want) if got == want => {}
            (got, want) => panic!("{words:?}: got {got:?}, want {want:?}"),
        }
    }
    let long = format!("ttl regex {} 300", "a".repeat(10001));
    assert!(rule(&long).unwrap_err().contains("too long"));
    let long = format!("rcode regex {} SERVFAIL NXDOMAIN", "a".repeat(10001));
    assert!(rule(&long).unwrap_err().contains("too long"));
    let long = format!("name regex {} b.", "a".repeat(10001));
    assert!(rule(&long).unwrap_err().contains("too long"));
}

#[test]
fn rules_rewrite_what_next_sees() {
    // CoreDNS TestRewrite: the name, type and class the next plugin gets.
    let lines = [
        "stop name from.nl. to.nl.",
        "stop name regex (core)\\.(dns)\\.(rocks)\\.(nl) {2}.{1}.{3}.{4} answer name (dns)\\.(core)\\.(rocks)\\.(nl) {2}.{1}.{3}.{4}",
        "stop name exact from.exact.nl. to.nl.",
        "stop name prefix prefix to",
        "stop name suffix .suffix. .nl.",
        "stop name substring from.substring to",
        "stop name regex (f.*m)\\.regex\\.(nl) to.{2}",
        "continue name regex consul\\.(rocks) core.dns.{1}",
        "stop name core.dns.rocks to.nl.",
        "continue class HS CH",
        "stop class CH IN",
        "stop type ANY HINFO",
    ];
    let next = Echo::new();
    let c = chain(&lines, next.clone());
    let cases: &[(&str, RType, u16, &str, RType, u16)] = &[
        ("from.nl.", RType::A, CLASS_IN, "to.nl.", RType::A, CLASS_IN),
        ("a.nl.", RType::A, CLASS_IN, "a.nl.", RType::A, CLASS_IN),
        ("a.nl.", RType::A, CLASS_CH, "a.nl.", RType::A, CLASS_IN),
        (
            "a.nl.",
            RType::ANY,
            CLASS_IN,
            "a.nl.",
            RType::HINFO,
            CLASS_IN,
        ),
        // The name is rewritten, the type is not (stop).
        (
            "from.nl.",
            RType::ANY,
            CLASS_IN,
            "to.nl.",
            RType::ANY,
            CLASS_IN,
        ),
        (
            "from.exact.nl.",
            RType::A,
            CLASS_IN,
            "to.nl.",
            RType::A,
            CLASS_IN,
        ),
        (
            "prefix.nl.",
            RType::A,
            CLASS_IN,
            "to.nl.",
            RType::A,
            CLASS_IN,
        ),
        (
            "to.suffix.",
            RType::A,
            CLASS_IN,
            "to.nl.",
            RType::A,
            CLASS_IN,
        ),
        (
            "from.substring.nl.",
            RType::A,
            CLASS_IN,
            "to.nl.",
            RType::A,
            CLASS_IN,
        ),
        (
            "from.regex.nl.",
            RType::A,
            CLASS_IN,
            "to.nl.",
            RType::A,
            CLASS_IN,
        ),
        (
            "consul.rocks.",
            RType::A,
            CLASS_IN,
            "to.nl.",
            RType::A,
            CLASS_IN,
        ),
        // The class rule comes before the type rule and stops.
        ("a.nl.", RType::ANY, CLASS_CH, "a.nl.", RType::ANY, CLASS_IN),
        // HS to CH (continue), then CH to IN (stop).
        ("a.nl.", RType::ANY, 4, "a.nl.", RType::ANY, CLASS_IN),
        (
            "core.dns.rocks.nl.",
            RType::A,
            CLASS_IN,
            "dns.core.rocks.nl.",
            RType::A,
            CLASS_IN,
        ),
    ];
    for (from, ft, fc, to, tt, tc) in cases {
        let (req, result) = run(&c, query_class(from, *ft, *fc));
        let seen = next.last();
        assert_eq!(
            (seen.name.as_str(), seen.qtype, seen.qclass),
            (*to, *tt, *tc),
            "{from} {ft} {fc}"
        );
        // The client sees its own question again.
        assert_eq!(req.info.qname.to_string(), *from);
        assert_eq!((req.info.qtype, req.info.qclass), (*ft, *fc));
        assert!(result.is_ok());
    }
}

#[test]
fn answers_are_rewritten_back_only_when_asked() {
    // CoreDNS TestRewriteDefaultRevertPolicy and TestRewrite's answer names: exact rules and
    // `answer` options map the answer back, the other rules leave it as the backend wrote it.
    let lines = [
        "stop name from.nl. to.nl.",
        "stop name regex (core)\\.(dns)\\.(rocks)\\.(nl) {2}.{1}.{3}.{4} answer name (dns)\\.(core)\\.(rocks)\\.(nl) {2}.{1}.{3}.{4}",
        "stop name prefix prefix to",
        "stop name suffix .suffix. .nl.",
        "stop name substring from.substring to",
        "stop name regex (f.*m)\\.regex\\.(nl) to.{2}",
    ];
    let c = chain(&lines, Echo::new());
    for (from, answer) in [
        ("from.nl.", "from.nl."),
        ("core.dns.rocks.nl.", "core.dns.rocks.nl."),
        ("prefix.nl.", "to.nl."),
        ("to.suffix.", "to.nl."),
        ("from.substring.nl.", "to.nl."),
        ("from.regex.nl.", "to.nl."),
    ] {
        let (req, result) = ask(&c, from, RType::A);
        let wire = on_the_wire(&req, &result.unwrap());
        assert_eq!(wire.question.unwrap().name.to_string(), from);
        assert_eq!(wire.answer[0].name.to_string(), answer, "{from}");
    }
}

#[test]
fn prefix_and_suffix_rules() {
    // CoreDNS TestRewriteNamePrefixSuffix / NoRewrite / NoAutoAnswer / AutoAnswer.
    let cases: &[(&str, &str, &str, &str)] = &[
        // (rule, question, name next sees, answer name the client sees)
        (
            "name prefix foo bar",
            "foo.example.com.",
            "bar.example.com.",
            "bar.example.com.",
        ),
        (
            "name prefix foo. bar.",
            "foo.example.com.",
            "bar.example.com.",
            "bar.example.com.",
        ),
        (
            "name suffix com org",
            "foo.example.com.",
            "foo.example.org.",
            "foo.example.org.",
        ),
        (
            "name suffix .com .org",
            "foo.example.com.",
            "foo.example.org.",
            "foo.example.org.",
        ),
        (
            "name suffix .ingress.coredns.rocks nginx.coredns.rocks",
            "coredns.ingress.coredns.rocks.",
            "corednsnginx.coredns.rocks.",
            "corednsnginx.coredns.rocks.",
        ),
        (
            "name prefix foo bar",
            "coredns.foo.",
            "coredns.foo.",
            "coredns.foo.",
        ),
        (
            "name prefix foo bar.",
            "coredns.foo.",
            "coredns.foo.",
            "coredns.foo.",
        ),
        (
            "name suffix com org",
            "com.coredns.",
            "com.coredns.",
            "com.coredns.",
        ),
        (
            "name suffix com org.",
            "com.coredns.",
            "com.coredns.",
            "com.coredns.",
        ),
        (
            "name substring service svc",
            "com.coredns.",
            "com.coredns.",
            "com.coredns.",
        ),
        (
            "name prefix foo bar answer auto",
            "foo.example.com.",
            "bar.example.com.",
            "foo.example.com.",
        ),
        (
            "name prefix foo. bar. answer auto",
            "foo.example.com.",
            "bar.example.com.",
            "foo.example.com.",
        ),
        (
            "name suffix com org answer auto",
            "foo.example.com.",
            "foo.example.org.",
            "foo.example.com.",
        ),
        (
            "name suffix .com .org answer auto",
            "foo.example.com.",
            "foo.example.org.",
            "foo.example.com.",
        ),
        (
            "name suffix .ingress.coredns.rocks nginx.coredns.rocks answer auto",
            "coredns.ingress.coredns.rocks.",
            "corednsnginx.coredns.rocks.",
            "coredns.ingress.coredns.rocks.",
        ),
        // CoreDNS TestRewriteNameExactAnswer.
        (
            "name exact coredns.rocks service.consul answer auto",
            "coredns.rocks.",
            "service.consul.",
            "coredns.rocks.",
        ),
        (
            "name exact coredns.rocks. service.consul.",
            "coredns.rocks.",
            "service.consul.",
            "coredns.rocks.",
        ),
        (
            "name exact coredns.org. service.consul.",
            "coredns.rocks.",
            "coredns.rocks.",
            "coredns.rocks.",
        ),
        (
            "name substring a.b x.y answer auto",
            "q.a.b.",
            "q.x.y.",
            "q.a.b.",
        ),
        (
            "name regex ^(.*)\\.a\\.b\\.$ {1}.x.y answer auto",
            "q.a.b.",
            "q.x.y.",
            "q.a.b.",
        ),
    ];
    for (line, question, seen, answer) in cases {
        let next = Echo::new();
        let c = chain(&[line], next.clone());
        let (req, result) = ask(&c, question, RType::A);
        assert_eq!(next.last().name, *seen, "{line}");
        let wire = on_the_wire(&req, &result.unwrap());
        assert_eq!(wire.question.unwrap().name.to_string(), *question, "{line}");
        assert_eq!(wire.answer[0].name.to_string(), *answer, "{line}");
    }
}

#[test]
fn auto_answers_map_subdomains_and_values_back() {
    let next = Echo::with(
        rrs("
service.consul. 5 IN CNAME web.service.consul.
web.service.consul. 5 IN A 10.0.0.2
"),
        Vec::new(),
    );
    let c = chain(&["name exact coredns.rocks service.consul"], next);
    let (req, result) = ask(&c, "coredns.rocks.", RType::A);
    let wire = on_the_wire(&req, &result.unwrap());
    let lines: Vec<String> = wire.answer.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        lines,
        [
            "coredns.rocks.\t5\tIN\tCNAME\tweb.coredns.rocks.",
            "web.coredns.rocks.\t5\tIN\tA\t10.0.0.2"
        ]
    );
}

#[test]
fn illegal_names_fail_the_query() {
    // CoreDNS TestRewriteIllegalName.
    let next = Echo::new();
    let c = chain(&["stop name example.org. example..org."], next.clone());
    let (req, result) = ask(&c, "example.org.", RType::A);
    let err = result.unwrap_err();
    assert!(err.to_string().contains("invalid name"), "{err}");
    assert_eq!(err.rcode(), Rcode::SERVFAIL);
    assert_eq!(next.calls(), 0);
    assert_eq!(req.info.qname.to_string(), "example.org.");
    let long = format!("name regex ^(.*)$ {}.{{1}}", "a".repeat(63));
    let c = chain(&[&long], Echo::new());
    let (_, result) = ask(&c, &format!("{}.example.org.", "b".repeat(60)), RType::A);
    assert!(result
        .unwrap_err()
        .to_string()
        .contains("invalid name after rewrite"));
}

#[test]
fn response_reverter_restores_question_and_answer() {
    // CoreDNS TestResponseReverter (the reverting cases), for stop and continue rules.
    for mode in ["stop", "continue"] {
        let line = format!("{mode} name regex (core)\\.(dns)\\.(rocks) {{2}}.{{1}}.{{3}} answer name (dns)\\.(core)\\.(rocks) {{2}}.{{1}}.{{3}}");
        for (qtype, answer, want) in [
            (
                RType::A,
                "dns.core.rocks. 5 IN A 10.0.0.1",
                "core.dns.rocks.\t5\tIN\tA\t10.0.0.1",
            ),
            (
                RType::SRV,
                "dns.core.rocks. 5 IN SRV 0 100 100 srv1.dns.core.rocks.",
                "core.dns.rocks.\t5\tIN\tSRV\t0 100 100 srv1.dns.core.rocks.",
            ),
            (
                RType::HINFO,
                "dns.core.rocks. 5 IN HINFO INTEL-64 \"RHEL 7.4\"",
                "core.dns.rocks.\t5\tIN\tHINFO\t\"INTEL-64\" \"RHEL 7.4\"",
            ),
        ] {
            let next = Echo::with(rrs(answer), Vec::new());
            let c = chain(&[&line], next.clone());
            let (req, result) = ask(&c, "core.dns.rocks.", qtype);
            assert_eq!(next.last().name, "dns.core.rocks.");
            let wire = on_the_wire(&req, &result.unwrap());
            let q = wire.question.unwrap();
            assert_eq!(
                (q.name.to_string().as_str(), q.qtype),
                ("core.dns.rocks.", qtype)
            );
            assert_eq!(wire.answer[0].to_string(), want, "{mode} {qtype}");
        }
    }
}

#[test]
fn value_rewrites_reach_every_target_type() {
    // CoreDNS TestValueResponseReverter (reverting cases): owner, value and additional names.
    let rule_sets: &[&[&str]] = &[
        &["stop name regex (.*)\\.domain\\.uk {1}.cluster.local answer name (.*)\\.cluster\\.local {1}.domain.uk answer value (.*)\\.cluster\\.local {1}.domain.uk"],
        &["continue name regex (.*)\\.domain\\.uk {1}.cluster.local answer name (.*)\\.cluster\\.local {1}.domain.uk answer value (.*)\\.cluster\\.local {1}.domain.uk"],
        &["stop name suffix .domain.uk .cluster.local answer auto answer value (.*)\\.cluster\\.local {1}.domain.uk"],
        &[
            "continue name suffix .domain.uk .domain.us answer auto",
            "stop name suffix .domain.us .cluster.local answer auto",
        ],
    ];
    let cases: &[(RType, &str, &str, &str, &str)] = &[
        // (type, answer, additional, value wanted, additional owner wanted)
        (RType::SRV, "my.cluster.local. 5 IN SRV 0 100 100 srv1.my.cluster.local.", "srv1.my.cluster.local. 5 IN A 10.0.0.1", "0 100 100 srv1.my.domain.uk.", "srv1.my.domain.uk."),
        (RType::ANY, "my.cluster.local. 3600 IN CNAME cname.cluster.local.", "cname.cluster.local. 5 IN A 10.0.0.1", "cname.domain.uk.", "cname.domain.uk."),
        (RType::ANY, "my.cluster.local. 3600 IN DNAME dname.cluster.local.", "dname.cluster.local. 5 IN A 10.0.0.1", "dname.domain.uk.", "dname.domain.uk."),
        (RType::MX, "my.cluster.local. 3600 IN MX 1 mx1.cluster.local.", "mx1.cluster.local. 5 IN A 10.0.0.1", "1 mx1.domain.uk.", "mx1.domain.uk."),
        (RType::ANY, "my.cluster.local. 3600 IN NS ns1.cluster.local.", "ns1.cluster.local. 5 IN A 10.0.0.1", "ns1.domain.uk.", "ns1.domain.uk."),
        (RType::SOA, "my.cluster.local. 1800 IN SOA ns1.cluster.local. admin.cluster.local. 1502165581 14400 3600 604800 14400", "ns1.cluster.local. 5 IN A 10.0.0.1", "ns1.domain.uk. admin.cluster.local. 1502165581 14400 3600 604800 14400", "ns1.domain.uk."),
        (RType::PTR, "my.cluster.local. 5 IN PTR host.cluster.local.", "host.cluster.local. 5 IN A 10.0.0.1", "host.domain.uk.", "host.domain.uk."),
    ];
    for rules in rule_sets {
        for (qtype, answer, additional, value, extra_owner) in cases {
            let next = Echo::with(rrs(answer), rrs(additional));
            let c = chain(rules, next.clone());
            let (req, result) = ask(&c, "my.domain.uk.", *qtype);
            assert_eq!(next.last().name, "my.cluster.local.", "{rules:?}");
            let wire = on_the_wire(&req, &result.unwrap());
            assert_eq!(
                wire.question.as_ref().unwrap().name.to_string(),
                "my.domain.uk."
            );
            assert_eq!(
                wire.answer[0].name.to_string(),
                "my.domain.uk.",
                "{rules:?} {qtype}"
            );
            assert_eq!(wire.answer[0].data.to_string(), *value, "{rules:?} {qtype}");
            assert_eq!(
                wire.additional[0].name.to_string(),
                *extra_owner,
                "{rules:?} {qtype}"
            );
        }
    }
    // NAPTR replacement (RDATA kept opaque by Cairn, rewritten in place).
    let next = Echo::with(
        rrs("my.cluster.local. 100 IN NAPTR 100 10 \"S\" \"SIP+D2U\" \"!^.*$!sip:customer-service@example.com!\" _sip._udp.cluster.local."),
        rrs("ns1.cluster.local. 5 IN A 10.0.0.1"),
    );
    let c = chain(rule_sets[0], next);
    let (req, result) = ask(&c, "my.domain.uk.", RType::NAPTR);
    let m = result.unwrap();
    let want = rrs("my.domain.uk. 100 IN NAPTR 100 10 \"S\" \"SIP+D2U\" \"!^.*$!sip:customer-service@example.com!\" _sip._udp.domain.uk.");
    assert_eq!(m.answer[0].data, want[0].data);
    let wire = on_the_wire(&req, &m);
    assert_eq!(wire.additional[0].name.to_string(), "ns1.domain.uk.");
}

type Opts = Vec<(u16, Vec<u8>)>;

/// Options as written in a case table.
type OptList<'a> = &'a [(u16, &'a [u8])];

fn opts(list: &[(u16, &[u8])]) -> Opts {
    list.iter().map(|(c, d)| (*c, d.to_vec())).collect()
}

#[test]
fn edns0_local_and_nsid_on_a_query_without_options() {
    // CoreDNS TestRewriteEDNS0Local: what the next plugin sees.
    let cases: &[(&str, Opts)] = &[
        (
            "edns0 local set 0xffee 0xabcdef",
            opts(&[(0xffee, &[0xab, 0xcd, 0xef])]),
        ),
        (
            "edns0 local append 0xffee abcdefghijklmnop",
            opts(&[(0xffee, b"abcdefghijklmnop")]),
        ),
        ("edns0 local replace 0xffee abcdefghijklmnop", opts(&[])),
        ("edns0 nsid set", opts(&[(3, b"")])),
        ("edns0 nsid append", opts(&[(3, b"")])),
        ("edns0 nsid replace", opts(&[])),
    ];
    for (line, want) in cases {
        for q in [
            query("example.com.", RType::A),
            query_plain("example.com.", RType::A),
        ] {
            let had_edns = q.info.edns.is_some();
            let next = Echo::new();
            let c = chain(&[line], next.clone());
            let (req, _) = run(&c, q);
            assert_eq!(next.last().options.as_ref(), Some(want), "{line}");
            // The client's own EDNS state is back after the chain.
            assert_eq!(req.info.edns.is_some(), had_edns, "{line}");
        }
    }
}

#[test]
fn edns0_multiple_rules() {
    // CoreDNS TestEdns0MultiRule (requests as next sees them; "revert" cases: the response).
    let foobar: &[(u16, &[u8])] = &[(0xffee, b"foobar")];
    let nsid_empty: &[(u16, &[u8])] = &[(3, b"")];
    let subnet_zero: &[(u16, &[u8])] = &[(8, &[0, 1, 0, 0])];
    struct Case<'a> {
        rules: [&'a str; 2],
        from: Option<&'a [(u16, &'a [u8])]>,
        /// What next sees.
        seen: Opts,
        /// What the client gets back (the reply mirrors the options next saw).
        reply: Opts,
    }
    let cases = [
        Case {
            rules: [
                "stop edns0 local replace 0xffee abcdef",
                "stop edns0 local set 0xffee fedcba",
            ],
            from: None,
            seen: opts(&[(0xffee, b"fedcba")]),
            reply: opts(&[(0xffee, b"fedcba")]),
        },
        Case {
            rules: [
                "stop edns0 local replace 0xffee abcdef",
                "stop edns0 local set 0xffee fedcba",
            ],
            from: Some(foobar),
            seen: opts(&[(0xffee, b"abcdef")]),
            reply: opts(&[(0xffee, b"abcdef")]),
        },
        Case {
            rules: [
                "stop edns0 local replace 0xffee abcdef revert",
                "stop edns0 local set 0xffee fedcba revert",
            ],
            from: None,
            seen: opts(&[(0xffee, b"fedcba")]),
            reply: opts(&[]),
        },
        Case {
            rules: [
                "stop edns0 local replace 0xffee abcdef revert",
                "stop edns0 local set 0xffee fedcba revert",
            ],
            from: Some(foobar),
            seen: opts(&[(0xffee, b"abcdef")]),
            reply: opts(&[(0xffee, b"foobar")]),
        },
        Case {
            rules: [
                "stop edns0 local replace 0xffee {qname}",
                "stop edns0 local set 0xffee {qtype}",
            ],
            from: None,
            seen: opts(&[(0xffee, &[0, 1])]),
            reply: opts(&[(0xffee, &[0, 1])]),
        },
        Case {
            rules: [
                "stop edns0 local replace 0xffee {qname}",
                "stop edns0 local set 0xffee {qtype}",
            ],
            from: Some(foobar),
            seen: opts(&[(0xffee, b"example.com.")]),
            reply: opts(&[(0xffee, b"example.com.")]),
        },
        Case {
            rules: [
                "stop edns0 local replace 0xffee {qname} revert",
                "stop edns0 local set 0xffee {qtype} revert",
            ],
            from: None,
            seen: opts(&[(0xffee, &[0, 1])]),
            reply: opts(&[]),
        },
        Case {
            rules: [
                "stop edns0 local replace 0xffee {qname} revert",
                "stop edns0 local set 0xffee {qtype} revert",
            ],
            from: Some(foobar),
            seen: opts(&[(0xffee, b"example.com.")]),
            reply: opts(&[(0xffee, b"foobar")]),
        },
        Case {
            rules: ["stop edns0 nsid replace", "stop edns0 nsid set"],
            from: None,
            seen: opts(&[(3, b"")]),
            reply: opts(&[(3, b"")]),
        },
        Case {
            rules: ["stop edns0 nsid replace", "stop edns0 nsid set"],
            from: Some(foobar),
            seen: opts(&[(0xffee, b"foobar"), (3, b"")]),
            reply: opts(&[(0xffee, b"foobar"), (3, b"")]),
        },
        Case {
            rules: ["stop edns0 nsid replace", "stop edns0 nsid set"],
            from: Some(nsid_empty),
            seen: opts(&[(3, b"")]),
            reply: opts(&[(3, b"")]),
        },
        Case {
            rules: [
                "stop edns0 nsid replace revert",
                "stop edns0 nsid set revert",
            ],
            from: None,
            seen: opts(&[(3, b"")]),
            reply: opts(&[]),
        },
        Case {
            rules: [
                "stop edns0 nsid replace revert",
                "stop edns0 nsid set revert",
            ],
            from: Some(foobar),
            seen: opts(&[(0xffee, b"foobar"), (3, b"")]),
            reply: opts(&[(0xffee, b"foobar")]),
        },
        Case {
            rules: [
                "stop edns0 nsid replace revert",
                "stop edns0 nsid set revert",
            ],
            from: Some(nsid_empty),
            seen: opts(&[(3, b"")]),
            reply: opts(&[(3, b"")]),
        },
        Case {
            rules: [
                "stop edns0 subnet replace 32 56",
                "stop edns0 subnet set 0 56",
            ],
            from: None,
            seen: opts(&[(8, &[0, 1, 0, 0])]),
            reply: opts(&[(8, &[0, 1, 0, 0])]),
        },
        Case {
            rules: [
                "stop edns0 subnet replace 32 56",
                "stop edns0 subnet set 0 56",
            ],
            from: Some(subnet_zero),
            seen: opts(&[(8, &[0, 1, 32, 0, 10, 240, 0, 1])]),
            reply: opts(&[(8, &[0, 1, 32, 0, 10, 240, 0, 1])]),
        },
        Case {
            rules: [
                "stop edns0 subnet replace 32 56 revert",
                "stop edns0 subnet set 0 56 revert",
            ],
            from: None,
            seen: opts(&[(8, &[0, 1, 0, 0])]),
            reply: opts(&[]),
        },
        Case {
            rules: [
                "stop edns0 subnet replace 32 56 revert",
                "stop edns0 subnet set 0 56 revert",
            ],
            from: Some(subnet_zero),
            seen: opts(&[(8, &[0, 1, 32, 0, 10, 240, 0, 1])]),
            reply: opts(&[(8, &[0, 1, 0, 0])]),
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let next = Echo::new();
        let c = chain(&case.rules, next.clone());
        let q = match case.from {
            Some(o) => query_with_options("example.com.", o),
            None => query("example.com.", RType::A),
        };
        let (_, result) = run(&c, q);
        assert_eq!(next.last().options, Some(case.seen.clone()), "case {i}");
        let m = result.unwrap();
        let got: Opts = m
            .edns
            .as_ref()
            .map(|e| e.options().map(|(c, d)| (c, d.to_vec())).collect())
            .unwrap_or_default();
        assert_eq!(got, case.reply, "case {i} reply");
    }
}

#[test]
fn edns0_variables() {
    // CoreDNS TestRewriteEDNS0LocalVariable: client 10.240.0.1:40212, server 127.0.0.1:53.
    let cases: &[(&str, Option<Opts>)] = &[
        (
            "edns0 local set 0xffee {qname}",
            Some(opts(&[(0xffee, b"example.com.")])),
        ),
        (
            "edns0 local set 0xffee {qtype}",
            Some(opts(&[(0xffee, &[0, 1])])),
        ),
        (
            "edns0 local set 0xffee {client_ip}",
            Some(opts(&[(0xffee, &[10, 240, 0, 1])])),
        ),
        (
            "edns0 local set 0xffee {client_port}",
            Some(opts(&[(0xffee, &[0x9d, 0x14])])),
        ),
        (
            "edns0 local set 0xffee {protocol}",
            Some(opts(&[(0xffee, b"udp")])),
        ),
        (
            "edns0 local set 0xffee {server_port}",
            Some(opts(&[(0xffee, &[0, 53])])),
        ),
        (
            "edns0 local set 0xffee {server_ip}",
            Some(opts(&[(0xffee, &[127, 0, 0, 1])])),
        ),
        // No metadata plugin: a label has no value and the rule does nothing at all.
        ("edns0 local set 0xffee {test/label}", None),
    ];
    for (line, want) in cases {
        let next = Echo::new();
        let c = chain(&[line], next.clone());
        let _ = run(&c, query_plain("example.com.", RType::A));
        assert_eq!(next.last().options, *want, "{line}");
    }
    // The query name as rewritten by an earlier rule, and the protocol over TCP.
    let next = Echo::new();
    let c = chain(
        &[
            "continue name exact example.com. other.example.com.",
            "edns0 local set 0xffee {qname}",
        ],
        next.clone(),
    );
    let _ = run(&c, query("example.com.", RType::A));
    assert_eq!(
        next.last().options,
        Some(opts(&[(0xffee, b"other.example.com.")]))
    );
    let next = Echo::new();
    let c = chain(&["edns0 local set 0xffee {protocol}"], next.clone());
    let _ = run(
        &c,
        query_from(
            "example.com.",
            RType::A,
            "10.240.0.1:40212".parse().unwrap(),
            Proto::Tcp,
        ),
    );
    assert_eq!(next.last().options, Some(opts(&[(0xffee, b"tcp")])));
}

#[test]
fn edns0_subnet_from_the_client_address() {
    // CoreDNS TestRewriteEDNS0Subnet (wire form: the address cut to the prefix's bytes).
    let v4: SocketAddr = "10.240.0.1:40212".parse().unwrap();
    let v6: SocketAddr = "[fe80::42:ff:feca:4c65]:40212".parse().unwrap();
    let mapped: SocketAddr = "[::ffff:10.240.0.1]:40212".parse().unwrap();
    let cases: &[(SocketAddr, &str, Vec<u8>)] = &[
        (v4, "edns0 subnet set 24 56", vec![0, 1, 24, 0, 10, 240, 0]),
        (
            v4,
            "edns0 subnet set 32 56",
            vec![0, 1, 32, 0, 10, 240, 0, 1],
        ),
        (v4, "edns0 subnet set 0 56", vec![0, 1, 0, 0]),
        (v4, "edns0 subnet set 20 56", vec![0, 1, 20, 0, 10, 240, 0]),
        (mapped, "edns0 subnet set 16 56", vec![0, 1, 16, 0, 10, 240]),
        (
            v6,
            "edns0 subnet set 24 56",
            vec![0, 2, 56, 0, 0xfe, 0x80, 0, 0, 0, 0, 0],
        ),
        (
            v6,
            "edns0 subnet set 24 128",
            vec![
                0, 2, 128, 0, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x42, 0, 0xff, 0xfe, 0xca, 0x4c,
                0x65,
            ],
        ),
        (v6, "edns0 subnet set 24 0", vec![0, 2, 0, 0]),
    ];
    for (client, line, want) in cases {
        let next = Echo::new();
        let c = chain(&[line], next.clone());
        let _ = run(
            &c,
            query_from("example.com.", RType::A, *client, Proto::Udp),
        );
        assert_eq!(
            next.last().options,
            Some(vec![(8, want.clone())]),
            "{client} {line}"
        );
    }
}

#[test]
fn edns0_revert_and_unset() {
    // CoreDNS TestRewriteEDNS0Revert: what the client gets back.
    let cases: &[(OptList<'_>, &str, Opts)] = &[
        (&[], "edns0 local set 0xffee 0xabcdef revert", opts(&[])),
        (
            &[],
            "edns0 local append 0xffee abcdefghijklmnop revert",
            opts(&[]),
        ),
        (
            &[],
            "edns0 local replace 0xffee abcdefghijklmnop revert",
            opts(&[]),
        ),
        (&[], "edns0 nsid set revert", opts(&[])),
        (&[], "edns0 nsid append revert", opts(&[])),
        (&[], "edns0 nsid replace", opts(&[])),
        (
            &[(0xffed, &[0xab, 0xcd, 0xef])],
            "edns0 local set 0xffee 0xabcd revert",
            opts(&[(0xffed, &[0xab, 0xcd, 0xef])]),
        ),
        (
            &[(0xffef, &[0xab, 0xcd, 0xef])],
            "edns0 local replace 0xffee abcdefghijklmnop",
            opts(&[(0xffef, &[0xab, 0xcd, 0xef])]),
        ),
    ];
    for (from, line, want) in cases {
        let c = chain(&[line], Echo::new());
        let (_, result) = run(&c, query_with_options("example.com.", from));
        let got: Opts = result
            .unwrap()
            .edns
            .map(|e| e.options().map(|(c, d)| (c, d.to_vec())).collect())
            .unwrap_or_default();
        assert_eq!(&got, want, "{line}");
    }
    // CoreDNS TestRewriteEDNS0Unset: what next sees.
    let local: &[(u16, &[u8])] = &[(0xffee, &[0xab, 0xcd, 0xef])];
    let both: &[(u16, &[u8])] = &[(0xffee, b"foobar"), (3, b"")];
    let cases: &[(OptList<'_>, &str, Opts)] = &[
        (&[], "edns0 local unset 0xffee", opts(&[])),
        (local, "edns0 local unset 0xffee", opts(&[])),
        (local, "edns0 local unset 0xffed", opts(local)),
        (&[(3, b"")], "edns0 nsid unset", opts(&[])),
        (&[], "edns0 nsid unset", opts(&[])),
        (&[(8, &[0, 1, 0, 0])], "edns0 subnet unset", opts(&[])),
        (&[], "edns0 subnet unset", opts(&[])),
        (both, "edns0 nsid unset", opts(&[(0xffee, b"foobar")])),
        (both, "edns0 local unset 0xffee", opts(&[(3, b"")])),
        (both, "edns0 subnet unset", opts(both)),
        (
            &[(0xffee, b"a"), (0xffee, b"b")],
            "edns0 local unset 0xffee",
            opts(&[]),
        ),
    ];
    for (from, line, want) in cases {
        let next = Echo::new();
        let c = chain(&[line], next.clone());
        let _ = run(&c, query_with_options("example.com.", from));
        assert_eq!(next.last().options.as_ref(), Some(want), "{line}");
    }
    // append: local fixed data adds a second option, subnet does nothing when one is there.
    let next = Echo::new();
    let c = chain(&["edns0 local append 0xffee new"], next.clone());
    let _ = run(&c, query_with_options("example.com.", &[(0xffee, b"old")]));
    assert_eq!(
        next.last().options,
        Some(opts(&[(0xffee, b"old"), (0xffee, b"new")]))
    );
    let next = Echo::new();
    let c = chain(&["edns0 subnet append 24 56"], next.clone());
    let _ = run(
        &c,
        query_with_options("example.com.", &[(8, &[0, 1, 0, 0])]),
    );
    assert_eq!(next.last().options, Some(opts(&[(8, &[0, 1, 0, 0])])));
}

#[test]
fn edns0_keeps_the_client_opt_fields_and_other_records() {
    // A DO bit and a big UDP size survive an option rewrite, in the bytes next reads.
    let mut raw = query_bytes("example.com.", RType::A, CLASS_IN, Some(1400));
    let n = raw.len();
    raw[n - 4] = 0x80; // DO bit: top bit of the flags in the OPT TTL
    let r = Request::from_query(&raw, "10.240.0.1:40212".parse().unwrap(), Proto::Udp).unwrap();
    let next = Echo::new();
    let c = chain(&["edns0 local set 65000 x"], next.clone());
    struct Peek(Mutex<Option<(u16, bool)>>);
    impl Plugin for Peek {
        fn name(&self) -> &'static str {
            "peek"
        }
        fn serve<'a>(&'a self, req: Box<Request>, next: Next<'a>) -> Served<'a> {
            let e = req.info.edns.unwrap();
            *self.0.lock().unwrap() = Some((e.udp_size, e.dnssec_ok));
            next.run(req)
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }
    let peek = Arc::new(Peek(Mutex::new(None)));
    let c = Chain::new(vec![
        c.plugins()[0].clone(),
        peek.clone(),
        next.clone() as Arc<dyn Plugin>,
    ]);
    let (req, _) = run(&c, Box::new(r));
    assert_eq!(*peek.0.lock().unwrap(), Some((1400, true)));
    assert_eq!(next.last().options, Some(opts(&[(65000, b"x")])));
    assert_eq!(req.raw, raw, "the original bytes are back after the chain");
}

#[test]
fn ttl_rules_clamp_every_record() {
    // CoreDNS TestTtlRewrite.
    let lines = [
        "stop ttl srv1.coredns.rocks 1",
        "stop ttl exact srv15.coredns.rocks 15",
        "stop ttl prefix srv30 30",
        "stop ttl suffix 45.coredns.rocks 45",
        "stop ttl substring rv50 50",
        "stop ttl regex (srv10)\\.(coredns)\\.(rocks) 10",
        "stop ttl regex (srv20)\\.(coredns)\\.(rocks) 20",
        "stop ttl range.example.com. 30-300",
        "stop ttl ceil.example.com. -11",
        "stop ttl floor.example.com. 5-",
    ];
    let cases: &[(&str, RType, &str, u32)] = &[
        (
            "srv1.coredns.rocks.",
            RType::A,
            "srv1.coredns.rocks. 5 IN A 10.0.0.1",
            1,
        ),
        (
            "srv15.coredns.rocks.",
            RType::A,
            "srv15.coredns.rocks. 5 IN A 10.0.0.15",
            15,
        ),
        (
            "srv30.coredns.rocks.",
            RType::A,
            "srv30.coredns.rocks. 5 IN A 10.0.0.30",
            30,
        ),
        (
            "srv45.coredns.rocks.",
            RType::A,
            "srv45.coredns.rocks. 5 IN A 10.0.0.45",
            45,
        ),
        (
            "srv50.coredns.rocks.",
            RType::A,
            "srv50.coredns.rocks. 5 IN A 10.0.0.50",
            50,
        ),
        (
            "srv10.coredns.rocks.",
            RType::A,
            "srv10.coredns.rocks. 5 IN A 10.0.0.10",
            10,
        ),
        (
            "xmpp.coredns.rocks.",
            RType::SRV,
            "xmpp.coredns.rocks. 5 IN SRV 0 100 100 srvxmpp.coredns.rocks.",
            5,
        ),
        (
            "srv15.coredns.rocks.",
            RType::HINFO,
            "srv15.coredns.rocks. 5 HINFO INTEL-64 \"RHEL 7.5\"",
            15,
        ),
        (
            "srv20.coredns.rocks.",
            RType::A,
            "srv20.coredns.rocks. 5 IN A 10.0.0.22\nsrv20.coredns.rocks. 5 IN A 10.0.0.23",
            20,
        ),
        (
            "range.example.com.",
            RType::A,
            "range.example.com. 5 IN A 10.0.0.1",
            30,
        ),
        (
            "range.example.com.",
            RType::A,
            "range.example.com. 55 IN A 10.0.0.1",
            55,
        ),
        (
            "range.example.com.",
            RType::A,
            "range.example.com. 500 IN A 10.0.0.1",
            300,
        ),
        (
            "ceil.example.com.",
            RType::A,
            "ceil.example.com. 5 IN A 10.0.0.1",
            5,
        ),
        (
            "ceil.example.com.",
            RType::A,
            "ceil.example.com. 15 IN A 10.0.0.1",
            11,
        ),
        (
            "floor.example.com.",
            RType::A,
            "floor.example.com. 0 IN A 10.0.0.1",
            5,
        ),
        (
            "floor.example.com.",
            RType::A,
            "floor.example.com. 30 IN A 10.0.0.1",
            30,
        ),
    ];
    for (name, qtype, answer, ttl) in cases {
        let c = chain(
            &lines,
            Echo::with(rrs(answer), rrs("x.example. 500 IN A 10.9.9.9")),
        );
        let (_, result) = ask(&c, name, *qtype);
        let m = result.unwrap();
        assert!(!m.answer.is_empty());
        for r in &m.answer {
            assert_eq!(r.ttl, *ttl, "{name} {qtype}");
        }
        // Additional records are clamped by the same rule.
        if *name == "range.example.com." {
            assert_eq!(m.additional[0].ttl, 300);
        }
    }
}

#[test]
fn rcode_rules() {
    // CoreDNS TestRCodeRewrite and TestRCodeRewriteEmptyResponse.
    for mode in ["stop", "continue"] {
        for old in [
            Rcode::FORMERR,
            Rcode::SERVFAIL,
            Rcode::REFUSED,
            Rcode::NOTIMP,
        ] {
            let line = format!(
                "{mode} rcode exact srv1.coredns.rocks {} NOERROR",
                old.name()
            );
            let next = Arc::new(Echo {
                seen: Mutex::new(Vec::new()),
                answer: Vec::new(),
                additional: Vec::new(),
                rcode: old,
                fail: false,
            });
            let c = chain(&[&line], next);
            let (_, result) = run(&c, query_plain("srv1.coredns.rocks.", RType::A));
            assert_eq!(result.unwrap().rcode, Rcode::NOERROR, "{line}");
        }
    }
    let line = "rcode exact srv1.coredns.rocks SERVFAIL FORMERR";
    let next = Arc::new(Echo {
        seen: Mutex::new(Vec::new()),
        answer: rrs("srv1.coredns.rocks. 5 IN A 10.0.0.1"),
        additional: Vec::new(),
        rcode: Rcode::SERVFAIL,
        fail: false,
    });
    let c = chain(&[line], next);
    let (_, result) = ask(&c, "srv1.coredns.rocks.", RType::A);
    assert_eq!(result.unwrap().rcode, Rcode::FORMERR);
    // A chain error is the SERVFAIL the rule sees.
    let failing = Arc::new(Echo {
        seen: Mutex::new(Vec::new()),
        answer: Vec::new(),
        additional: Vec::new(),
        rcode: Rcode::NOERROR,
        fail: true,
    });
    let c = chain(&["rcode srv1.coredns.rocks 2 3"], failing.clone());
    let (_, result) = ask(&c, "srv1.coredns.rocks.", RType::A);
    assert_eq!(result.unwrap().rcode, Rcode::NXDOMAIN);
    let c = chain(&["rcode other.coredns.rocks 2 3"], failing);
    let (_, result) = ask(&c, "srv1.coredns.rocks.", RType::A);
    assert!(result.is_err());
    // Names that do not match are untouched.
    let c = chain(&["rcode exact other.rocks NOERROR REFUSED"], Echo::new());
    let (_, result) = ask(&c, "srv1.coredns.rocks.", RType::A);
    assert_eq!(result.unwrap().rcode, Rcode::NOERROR);
}

#[test]
fn continue_chains_rules_and_responses_unwind_in_reverse() {
    let next = Echo::new();
    let c = chain(
        &[
            "continue name exact a.example. b.example.",
            "continue name exact b.example. c.example.",
            "ttl c.example. 77",
        ],
        next.clone(),
    );
    let (req, result) = ask(&c, "a.example.", RType::A);
    assert_eq!(next.last().name, "c.example.");
    let wire = on_the_wire(&req, &result.unwrap());
    assert_eq!(
        wire.answer[0].to_string(),
        "a.example.\t77\tIN\tA\t10.0.0.1"
    );
}

#[test]
fn queries_nothing_matches_pass_untouched() {
    let next = Echo::new();
    let c = chain(&["name exact a.example. b.example."], next.clone());
    let q = query("Other.Example.", RType::AAAA);
    let before = q.raw.clone();
    let (req, result) = run(&c, q);
    assert_eq!(next.last().name, "Other.Example.");
    assert_eq!(req.raw, before);
    assert_eq!(result.unwrap().answer[0].name.to_string(), "Other.Example.");
    // Mixed case matches: rules see the name in lower case.
    let (_, _) = ask(&c, "A.EXAMPLE.", RType::A);
    assert_eq!(next.last().name, "b.example.");
}

#[test]
fn setup_reads_lines_and_blocks() {
    // CoreDNS TestParse.
    let ok = [
        "rewrite name a.com b.com",
        "rewrite stop {\n name regex foo bar\n answer name bar foo\n }",
        "rewrite stop name regex foo bar answer name bar foo",
        "rewrite continue {\n ttl regex (.*)\\.coredns\\.rocks 15\n }",
        "rewrite {\n name suffix .a. .b. answer auto\n }",
        "rewrite edns0 local set 0xffee {client_ip}",
        "rewrite name regex (.*)-(us-west-1)\\.example\\.org {1}.service.{2}.consul",
    ];
    for body in ok {
        let corefile = format!(". {{\n {body}\n}}");
        let s = setup(spec("rewrite"), &corefile, None).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(s.plugins.len(), 1);
    }
    let bad: &[(&str, u32, &str)] = &[
        ("rewrite", 2, "no rule type specified"),
        ("rewrite name", 2, "too few arguments for a name rule"),
        (
            "rewrite stop {\n name regex foo bar\n answer name bar foo\n name baz\n }",
            5,
            "2 arguments required",
        ),
        (
            "rewrite stop {\n answer name bar foo\n name regex foo bar\n }",
            3,
            "must begin with a name rule",
        ),
        ("rewrite stop", 2, "stop rule must begin with a rule type"),
        (
            "rewrite continue",
            2,
            "continue rule must begin with a rule type",
        ),
        (
            "rewrite stop name regex [bad[ bar answer name bar foo",
            2,
            "invalid regex matching pattern: [bad[",
        ),
        ("rewrite name a.com b.com {\n foo\n }", 2, "takes no block"),
        ("rewrite {\n type A\n }", 3, "exactly two arguments"),
        (
            "rewrite edns0 local set 0xffee 0xzz",
            2,
            "encoding/hex: invalid byte",
        ),
        (
            "rewrite edns0 local set 0xffee 0xabc",
            2,
            "odd length hex string",
        ),
        (
            "rewrite edns0 subnet set 33 56",
            2,
            "invalid IPv4 bit mask length 33",
        ),
        ("rewrite fleeb a b", 2, "invalid rule type \"fleeb\""),
        (
            "rewrite cname fuzzy a. b.",
            2,
            "unknown cname rewrite type: fuzzy",
        ),
    ];
    for (body, line, want) in bad {
        let corefile = format!(". {{\n {body}\n}}");
        let err = setup(spec("rewrite"), &corefile, None)
            .err()
            .unwrap_or_else(|| panic!("{body}: accepted"));
        assert_eq!(err.line, *line, "{body}: {err}");
        assert!(err.message.contains(want), "{body}: {err}");
    }
}

#[test]
fn rules_of_several_lines_run_in_order() {
    let s = setup(
        spec("rewrite"),
        ". {\n rewrite continue name exact a.example. b.example.\n rewrite name exact b.example. c.example.\n}",
        None,
    )
    .unwrap();
    let next = Echo::new();
    let c = s.chain_with(next.clone());
    let (req, result) = ask(&c, "a.example.", RType::A);
    assert_eq!(next.last().name, "c.example.");
    let wire = on_the_wire(&req, &result.unwrap());
    assert_eq!(wire.answer[0].name.to_string(), "a.example.");
}

#[test]
fn odd_names_never_panic() {
    // Names with escapes, long labels and rules that grow or empty them: a reply or an
    // error, never a panic.
    let lines = [
        "continue name substring a aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa answer auto",
        "continue name prefix x. . answer auto",
        "continue name suffix b. \\. answer auto",
        "continue name regex ^(.*)\\.(.*)$ {2}.{1} answer value (.*) {1}.x",
        "continue edns0 local set 0xffee {qname}",
        "ttl regex . 5-",
    ];
    let c = chain(&lines, Echo::new());
    let labels = ["a", "b", "x", "\\.", "\\000", "\\255", "A", &"a".repeat(60)];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..2000 {
        let mut name = String::new();
        for _ in 0..1 + seed % 5 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            name.push_str(labels[(seed % labels.len() as u64) as usize]);
            name.push('.');
        }
        let Ok(n) = Name::parse(&name, None) else {
            continue;
        };
        let raw = query_bytes(&n.to_string(), RType::A, CLASS_IN, Some(1232));
        let Ok(r) = Request::from_query(&raw, "10.0.0.1:1".parse().unwrap(), Proto::Udp) else {
            continue;
        };
        let (req, _) = run(&c, Box::new(r));
        assert_eq!(req.raw, raw, "{name}");
    }
}

/// One row of [`Upstream`]: (name, type) -> (answer, truncated).
type UpstreamRow = ((&'static str, RType), (Vec<Record>, bool));

/// Answers lookups through the server from a table.
struct Upstream {
    table: Vec<UpstreamRow>,
}

impl cairn_core::resolve::Resolve for Upstream {
    fn resolve(self: Arc<Self>, mut req: Box<Request>) -> cairn_core::plugin::ServeFuture<'static> {
        Box::pin(async move {
            req.parse().expect("lookup parses");
            let name = req.info.qname.to_string();
            let mut m = req.reply();
            for ((n, t), (answer, tc)) in &self.table {
                if *n == name && (*t == req.qtype() || *t == RType::ANY) {
                    m.answer = answer.clone();
                    m.flags.tc = *tc;
                }
            }
            (req, Ok(m))
        })
    }
}

#[test]
fn cname_targets_are_rewritten_and_followed() {
    // CoreDNS TestCNameTargetRewrite, the upstream answering through the server.
    let up = Arc::new(Upstream {
        table: vec![
            (("xyz.example.com.", RType::A), (rrs("xyz.example.com. 3600 IN A 3.4.5.6"), false)),
            (("xyz.example.com.", RType::AAAA), (rrs("xyz.example.com. 3600 IN AAAA 3a01:7e00::f03c:91ff:fe79:234c"), false)),
            (("bard.google.com.cdn.cloudflare.net.", RType::ANY), (rrs("bard.google.com.cdn.cloudflare.net. 1800 IN A 9.7.2.1"), false)),
            (("www.hosting.xyz.", RType::ANY), (rrs("www.hosting.xyz. 500 IN A 20.30.40.50"), false)),
            (("abcd.zzzz.www.pqrst.", RType::ANY), (rrs("abcd.zzzz.www.pqrst. 120 IN A 101.20.5.1\nabcd.zzzz.www.pqrst. 120 IN A 101.20.5.2"), false)),
            (("orders.webapp.eu.org.", RType::ANY), (rrs("orders.webapp.eu.org. 120 IN A 20.0.0.9"), false)),
            (("music.truncated.spotify.com.", RType::ANY), (rrs("music.truncated.spotify.com. 120 IN A 10.1.0.9"), true)),
            (("intermediate-2.staging.", RType::ANY), (rrs("intermediate-2.staging. 200 IN CNAME final.staging.net.\nfinal.staging.net. 120 IN A 5.6.7.8"), false)),
        ],
    });
    let resolver: Arc<dyn cairn_core::resolve::Resolve> = up.clone();
    let server = Arc::new(cairn_core::request::ServerInfo::new("dns://:53"));
    server.resolver.bind(Arc::downgrade(&resolver));
    let rules = [
        "continue cname exact def.example.com xyz.example.com",
        "continue cname prefix chat.openai.com bard.google.com",
        "continue cname suffix uvw. xyz.",
        "continue cname substring efgh zzzz.www",
        "continue cname regex (.*)\\.web\\.(.*)\\.site\\. {1}.webapp.{2}.org.",
        "continue cname exact music.truncated.spotify.com. music.truncated.spotify.com.",
        "continue cname suffix prod. staging.",
    ];
    let cases: &[(&str, RType, &str, &str, bool)] = &[
        (
            "abc.example.com.",
            RType::A,
            "abc.example.com. 5 IN CNAME def.example.com.\ndef.example.com. 5 IN A 1.2.3.4",
            "abc.example.com. 5 IN CNAME xyz.example.com.\nxyz.example.com. 3600 IN A 3.4.5.6",
            false,
        ),
        (
            "abc.example.com.",
            RType::AAAA,
            "abc.example.com. 5 IN CNAME def.example.com.\ndef.example.com. 5 IN AAAA 2a01:7e00::f03c:91ff:fe79:234c",
            "abc.example.com. 5 IN CNAME xyz.example.com.\nxyz.example.com. 3600 IN AAAA 3a01:7e00::f03c:91ff:fe79:234c",
            false,
        ),
        (
            "chat.openai.com.",
            RType::A,
            "chat.openai.com. 20 IN CNAME chat.openai.com.cdn.cloudflare.net.\nchat.openai.com.cdn.cloudflare.net. 30 IN A 23.2.1.2\nchat.openai.com.cdn.cloudflare.net. 30 IN A 24.6.0.8",
            "chat.openai.com. 20 IN CNAME bard.google.com.cdn.cloudflare.net.\nbard.google.com.cdn.cloudflare.net. 1800 IN A 9.7.2.1",
            false,
        ),
        (
            "coredns.io.",
            RType::A,
            "coredns.io. 100 IN CNAME www.hosting.uvw.\nwww.hosting.uvw. 200 IN A 7.2.3.4",
            "coredns.io. 100 IN CNAME www.hosting.xyz.\nwww.hosting.xyz. 500 IN A 20.30.40.50",
            false,
        ),
        (
            "core.dns.rocks.",
            RType::A,
            "core.dns.rocks. 200 IN CNAME abcd.efgh.pqrst.\nabcd.efgh.pqrst. 100 IN A 200.30.45.67",
            "core.dns.rocks. 200 IN CNAME abcd.zzzz.www.pqrst.\nabcd.zzzz.www.pqrst. 120 IN A 101.20.5.1\nabcd.zzzz.www.pqrst. 120 IN A 101.20.5.2",
            false,
        ),
        (
            "order.service.eu.",
            RType::A,
            "order.service.eu. 200 IN CNAME orders.web.eu.site.\norders.web.eu.site. 50 IN A 10.10.15.1",
            "order.service.eu. 200 IN CNAME orders.webapp.eu.org.\norders.webapp.eu.org. 120 IN A 20.0.0.9",
            false,
        ),
        (
            "music.spotify.com.",
            RType::A,
            "music.spotify.com. 200 IN CNAME music.truncated.spotify.com.",
            "music.spotify.com. 200 IN CNAME music.truncated.spotify.com.\nmusic.truncated.spotify.com. 120 IN A 10.1.0.9",
            true,
        ),
        (
            "cname-chain.org.",
            RType::A,
            "cname-chain.org. 200 IN CNAME intermediate-1.com.\nintermediate-1.com. 200 IN CNAME intermediate-2.prod.\nintermediate-2.prod. 200 IN CNAME final.prod.net.\nfinal.prod.net. 120 IN A 1.2.3.4",
            "cname-chain.org. 200 IN CNAME intermediate-1.com.\nintermediate-1.com. 200 IN CNAME intermediate-2.staging.\nintermediate-2.staging. 200 IN CNAME final.staging.net.\nfinal.staging.net. 120 IN A 5.6.7.8",
            false,
        ),
        // No CNAME matches: untouched.
        (
            "plain.example.",
            RType::A,
            "plain.example. 5 IN CNAME other.example.\nother.example. 5 IN A 1.1.1.1",
            "plain.example. 5 IN CNAME other.example.\nother.example. 5 IN A 1.1.1.1",
            false,
        ),
    ];
    for (name, qtype, answer, want, tc) in cases {
        let c = chain(&rules, Echo::with(rrs(answer), Vec::new()));
        let mut r = Request::empty(server.clone());
        r.raw = query_bytes(name, *qtype, CLASS_IN, Some(1232));
        r.client = "10.240.0.1:40212".parse().unwrap();
        r.parse().unwrap();
        let (_, result) = run(&c, Box::new(r));
        let m = result.unwrap();
        assert_eq!(m.answer, rrs(want), "{name} {qtype}");
        assert_eq!(m.flags.tc, *tc, "{name} {qtype}");
    }
    // Without a server to ask (and on lookup errors) the answer stays as it was.
    let c = chain(
        &["cname exact bad.target. good.target."],
        Echo::with(rrs("bad.test. 60 IN CNAME bad.target."), Vec::new()),
    );
    let (_, result) = ask(&c, "bad.test.", RType::A);
    assert_eq!(
        result.unwrap().answer,
        rrs("bad.test. 60 IN CNAME bad.target.")
    );
    drop(up);
}

#[test]
fn cname_rule_parsing() {
    // CoreDNS TestNewCNAMERuleNormalization and the large-regex limit.
    match rule("cname exact newyork.foo.com vpce-123.amazonaws.com")
        .unwrap()
        .kind
    {
        Kind::Cname(super::cname::CnameRule::Exact { from, to }) => {
            assert_eq!(
                (from.as_str(), to.as_str()),
                ("newyork.foo.com.", "vpce-123.amazonaws.com.")
            );
        }
        other => panic!("{other:?}"),
    }
    match rule("cname Prefix Chat.OpenAI.com bard").unwrap().kind {
        Kind::Cname(super::cname::CnameRule::Prefix { from, to }) => {
            assert_eq!((from.as_str(), to.as_str()), ("chat.openai.com", "bard"));
        }
        other => panic!("{other:?}"),
    }
    assert!(rule("cname a").is_err());
    assert!(rule("cname fuzzy a b")
        .unwrap_err()
        .contains("unknown cname rewrite type"));
    let long = format!("cname regex {} b", "a".repeat(10001));
    assert!(rule(&long).unwrap_err().contains("too long"));
    assert!(rule("cname regex ( b").is_err());
}
