//! Case tables ported from CoreDNS's loadbalance tests (round-robin grouping, weighted top
//! picks with fixed draws, `prefer` ordering, weight file and setup errors), plus checks that
//! the shuffle really moves every address to the front over many replies.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cairn_core::testing::{query, run, setup, StubNext};
use cairn_core::wire::{Name, RType, Rcode, Record};
use cairn_core::{Chain, Next, Plugin, Request, Served};

use super::order::{self, address_of, Subnet};
use super::weights::{self, Weights};
use super::{LoadBalance, Policy};
use crate::file::ZoneParser;
use crate::registry::spec;
use cairn_core::random::Random;

/// Records from zone-file lines (absolute names).
fn rrs(text: &str) -> Vec<Record> {
    ZoneParser::new(text.as_bytes().to_vec(), Name::root(), Path::new("test"))
        .without_include()
        .read_all()
        .unwrap()
}

/// A last plugin answering with fixed sections and rcode.
struct Fixed {
    rcode: Rcode,
    answer: Vec<Record>,
    authority: Vec<Record>,
    additional: Vec<Record>,
}

impl Fixed {
    fn new(answer: &str, additional: &str) -> Arc<Fixed> {
        Arc::new(Fixed {
            rcode: Rcode::NOERROR,
            answer: rrs(answer),
            authority: Vec::new(),
            additional: rrs(additional),
        })
    }
}

impl Plugin for Fixed {
    fn name(&self) -> &'static str {
        "fixed"
    }
    fn serve<'a>(&'a self, mut req: Box<Request>, _next: Next<'a>) -> Served<'a> {
        let mut m = req.reply_rcode(self.rcode);
        m.answer.extend(self.answer.iter().cloned());
        m.authority.extend(self.authority.iter().cloned());
        m.additional.extend(self.additional.iter().cloned());
        Served::reply(req, m)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn chain(lb: LoadBalance, next: Arc<dyn Plugin>) -> Chain {
    Chain::new(vec![Arc::new(lb), next])
}

fn round_robin() -> LoadBalance {
    LoadBalance::new(Policy::RoundRobin, Vec::new(), Random::with_seed(7))
}

/// (CNAMEs, addresses, MX, grouped in the order CNAME < address < MX) of a section, as
/// CoreDNS's `countRecords` counts them.
fn count(records: &[Record]) -> (usize, usize, usize, bool) {
    let (mut cname, mut address, mut mx) = (0, 0, 0);
    let mut state = 0;
    let mut sorted = true;
    for r in records {
        match r.rtype {
            RType::CNAME => {
                sorted &= state <= 1;
                state = 1;
                cname += 1;
            }
            RType::A | RType::AAAA => {
                sorted &= state <= 2;
                state = 2;
                address += 1;
            }
            RType::MX => {
                sorted &= state <= 3;
                state = 3;
                mx += 1;
            }
            _ => state = 4,
        }
    }
    (cname, address, mx, sorted)
}

const MIXED_1: &str = "
cname1.region2.skydns.test. 300 IN CNAME cname2.region2.skydns.test.
cname2.region2.skydns.test. 300 IN CNAME cname3.region2.skydns.test.
cname5.region2.skydns.test. 300 IN CNAME cname6.region2.skydns.test.
cname6.region2.skydns.test. 300 IN CNAME endpoint.region2.skydns.test.
endpoint.region2.skydns.test. 300 IN A 10.240.0.1
mx.region2.skydns.test. 300 IN MX 1 mx1.region2.skydns.test.
mx.region2.skydns.test. 300 IN MX 2 mx2.region2.skydns.test.
mx.region2.skydns.test. 300 IN MX 3 mx3.region2.skydns.test.
";

const MIXED_2: &str = "
endpoint.region2.skydns.test. 300 IN A 10.240.0.1
mx.region2.skydns.test. 300 IN MX 1 mx1.region2.skydns.test.
cname.region2.skydns.test. 300 IN CNAME endpoint.region2.skydns.test.
";

const MIXED_3: &str = "
mx.region2.skydns.test. 300 IN MX 1 mx1.region2.skydns.test.
endpoint.region2.skydns.test. 300 IN A 10.240.0.1
endpoint.region2.skydns.test. 300 IN A 10.240.0.2
mx.region2.skydns.test. 300 IN MX 1 mx2.region2.skydns.test.
cname2.region2.skydns.test. 300 IN CNAME cname3.region2.skydns.test.
endpoint.region2.skydns.test. 300 IN A 10.240.0.3
mx.region2.skydns.test. 300 IN MX 1 mx3.region2.skydns.test.
";

const EXTRA_3: &str = "
endpoint.region2.skydns.test. 300 IN A 10.240.0.1
endpoint.region2.skydns.test. 300 IN AAAA ::1
mx.region2.skydns.test. 300 IN MX 1 mx1.region2.skydns.test.
cname2.region2.skydns.test. 300 IN CNAME cname3.region2.skydns.test.
mx.region2.skydns.test. 300 IN MX 1 mx2.region2.skydns.test.
endpoint.region2.skydns.test. 300 IN A 10.240.0.3
endpoint.region2.skydns.test. 300 IN AAAA ::2
mx.region2.skydns.test. 300 IN MX 1 mx3.region2.skydns.test.
";

#[test]
fn round_robin_groups_cnames_addresses_and_mx() {
    // CoreDNS TestLoadBalanceRandom: (answer, extra, counts in answer, counts in extra).
    let cases = [
        (MIXED_1, "", (4, 1, 3), (0, 0, 0)),
        (MIXED_2, "", (1, 1, 1), (0, 0, 0)),
        (MIXED_3, EXTRA_3, (1, 3, 3), (1, 4, 3)),
    ];
    for (i, (answer, extra, want_answer, want_extra)) in cases.into_iter().enumerate() {
        let c = chain(round_robin(), Fixed::new(answer, extra));
        for _ in 0..20 {
            let (_, result) = run(&c, query("region2.skydns.test.", RType::SRV));
            let m = result.unwrap();
            let (cn, ad, mx, sorted) = count(&m.answer);
            assert!(sorted, "case {i}: answer not grouped: {:?}", m.answer);
            assert_eq!((cn, ad, mx), want_answer, "case {i} answer");
            let (cn, ad, mx, sorted) = count(&m.additional);
            assert!(sorted, "case {i}: extra not grouped");
            assert_eq!((cn, ad, mx), want_extra, "case {i} extra");
        }
    }
}

#[test]
fn cname_chain_keeps_its_order_and_other_records_follow_it() {
    let answer = "
a.example.org. 300 IN CNAME b.example.org.
x.example.org. 300 IN TXT \"between\"
b.example.org. 300 IN CNAME c.example.org.
c.example.org. 300 IN A 10.0.0.1
c.example.org. 300 IN A 10.0.0.2
c.example.org. 300 IN A 10.0.0.3
";
    let c = chain(round_robin(), Fixed::new(answer, ""));
    for _ in 0..20 {
        let (_, result) = run(&c, query("a.example.org.", RType::A));
        let m = result.unwrap();
        let kinds: Vec<String> = m.answer.iter().map(|r| r.rtype.to_string()).collect();
        assert_eq!(kinds, ["CNAME", "CNAME", "TXT", "A", "A", "A"]);
        assert_eq!(m.answer[0].name.to_string(), "a.example.org.");
        assert_eq!(m.answer[1].name.to_string(), "b.example.org.");
    }
}

const FOUR_A: &str = "
www.example.org. 300 IN A 10.0.0.1
www.example.org. 300 IN A 10.0.0.2
www.example.org. 300 IN A 10.0.0.3
www.example.org. 300 IN A 10.0.0.4
";

#[test]
fn every_address_comes_first_sometimes() {
    let c = chain(
        LoadBalance::new(Policy::RoundRobin, Vec::new(), Random::new()),
        Fixed::new(FOUR_A, ""),
    );
    let mut firsts = HashSet::new();
    let mut orders = HashSet::new();
    for _ in 0..400 {
        let (_, result) = run(&c, query("www.example.org.", RType::A));
        let m = result.unwrap();
        let mut ips: Vec<String> = m.answer.iter().map(|r| r.data.to_string()).collect();
        firsts.insert(ips[0].clone());
        orders.insert(ips.join(","));
        ips.sort();
        assert_eq!(ips, ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]);
    }
    assert_eq!(firsts.len(), 4, "{firsts:?}");
    // 24 orders exist; 400 uniform draws miss one with probability below 1e-6.
    assert_eq!(orders.len(), 24, "{orders:?}");
}

#[test]
fn transfers_and_failures_are_left_alone() {
    let answer = "
skydns.test. 30 IN SOA ns.dns.skydns.test. hostmaster.skydns.test. 1542756695 7200 1800 86400 30
mx.region2.skydns.test. 300 IN MX 1 mx1.region2.skydns.test.
endpoint.region2.skydns.test. 300 IN A 10.240.0.1
endpoint.region2.skydns.test. 300 IN A 10.240.0.2
mx.region2.skydns.test. 300 IN MX 1 mx2.region2.skydns.test.
cname2.region2.skydns.test. 300 IN CNAME cname3.region2.skydns.test.
endpoint.region2.skydns.test. 300 IN A 10.240.0.3
skydns.test. 30 IN SOA ns.dns.skydns.test. hostmaster.skydns.test. 1542756695 7200 1800 86400 30
";
    let want = rrs(answer);
    let c = chain(round_robin(), Fixed::new(answer, ""));
    for qtype in [RType::AXFR, RType::IXFR] {
        for _ in 0..10 {
            let (_, result) = run(&c, query("skydns.test.", qtype));
            assert_eq!(result.unwrap().answer, want, "{qtype}");
        }
    }
    let failing = Arc::new(Fixed {
        rcode: Rcode::NXDOMAIN,
        answer: rrs(FOUR_A),
        authority: Vec::new(),
        additional: Vec::new(),
    });
    let c = chain(round_robin(), failing);
    for _ in 0..10 {
        let (_, result) = run(&c, query("www.example.org.", RType::A));
        assert_eq!(result.unwrap().answer, rrs(FOUR_A));
    }
}

#[test]
fn errors_pass_through() {
    let c = chain(round_robin(), StubNext::new(Rcode::REFUSED));
    let (_, result) = run(&c, query("www.example.org.", RType::A));
    assert_eq!(result.unwrap().rcode, Rcode::REFUSED);
    let c = Chain::new(vec![Arc::new(round_robin())]);
    let (_, result) = run(&c, query("www.example.org.", RType::A));
    assert_eq!(
        result.unwrap_err().to_string(),
        "plugin/loadbalance: no next plugin found"
    );
}

#[test]
fn authority_is_shuffled_too() {
    let c = Chain::new(vec![
        Arc::new(round_robin()),
        Arc::new(Fixed {
            rcode: Rcode::NOERROR,
            answer: Vec::new(),
            authority: rrs(FOUR_A),
            additional: Vec::new(),
        }),
    ]);
    let mut firsts = HashSet::new();
    for _ in 0..100 {
        let (_, result) = run(&c, query("www.example.org.", RType::A));
        firsts.insert(result.unwrap().authority[0].data.to_string());
    }
    assert_eq!(firsts.len(), 4);
}

fn weights(text: &str) -> Weights {
    weights::parse(text, "weights").unwrap()
}

fn ip_of(r: &Record) -> String {
    address_of(r).map(|ip| ip.to_string()).unwrap_or_default()
}

fn first_address(records: &[Record]) -> String {
    records
        .iter()
        .find(|r| address_of(r).is_some())
        .map(ip_of)
        .unwrap_or_default()
}

#[test]
fn weighted_top_address_follows_the_draw() {
    // CoreDNS TestLoadBalanceWRR: fixed draws against the weights' sum pick the top address.
    let two_domains = "
endpoint.region2.skydns.test.
10.240.0.2 5
10.240.0.1 2
endpoint.region1.skydns.test.
::2 4
::1 3
";
    let one_domain = "
endpoint.region2.skydns.test.
10.240.0.2 3
10.240.0.1 2
";
    let answer_1 = "
cname1.region2.skydns.test. 300 IN CNAME cname2.region2.skydns.test.
cname2.region2.skydns.test. 300 IN CNAME cname3.region2.skydns.test.
cname5.region2.skydns.test. 300 IN CNAME cname6.region2.skydns.test.
cname6.region2.skydns.test. 300 IN CNAME endpoint.region2.skydns.test.
endpoint.region2.skydns.test. 300 IN A 10.240.0.1
endpoint.region2.skydns.test. 300 IN A 10.240.0.2
endpoint.region2.skydns.test. 300 IN A 10.240.0.3
endpoint.region1.skydns.test. 300 IN AAAA ::1
endpoint.region1.skydns.test. 300 IN AAAA ::2
mx.region2.skydns.test. 300 IN MX 1 mx1.region2.skydns.test.
mx.region2.skydns.test. 300 IN MX 2 mx2.region2.skydns.test.
mx.region2.skydns.test. 300 IN MX 3 mx3.region2.skydns.test.
";
    let answer_2 = "
endpoint.region2.skydns.test. 300 IN A 10.240.0.1
mx.region2.skydns.test. 300 IN MX 1 mx1.region2.skydns.test.
cname.region2.skydns.test. 300 IN CNAME endpoint.region2.skydns.test.
endpoint.region2.skydns.test. 300 IN A 10.240.0.2
endpoint.region1.skydns.test. 300 IN A 10.240.0.3
";
    let answer_3 = "
mx.region2.skydns.test. 300 IN MX 1 mx1.region2.skydns.test.
cname.region2.skydns.test. 300 IN CNAME endpoint.region2.skydns.test.
";
    /// (answer, weight file, sum of the weights, counts, (draw, top address)...).
    type Case<'a> = (
        &'a str,
        &'a str,
        u64,
        (usize, usize, usize),
        &'a [(u64, &'a str)],
    );
    let cases: [Case<'_>; 3] = [
        (
            answer_1,
            two_domains,
            15,
            (4, 5, 3),
            &[
                (0, "10.240.0.2"),
                (4, "10.240.0.2"),
                (5, "::2"),
                (8, "::2"),
                (9, "::1"),
                (11, "::1"),
                (12, "10.240.0.1"),
                (13, "10.240.0.1"),
                (14, "10.240.0.3"),
            ],
        ),
        (
            answer_2,
            one_domain,
            6,
            (1, 3, 1),
            &[
                (0, "10.240.0.2"),
                (2, "10.240.0.2"),
                (3, "10.240.0.1"),
                (4, "10.240.0.1"),
                (5, "10.240.0.3"),
            ],
        ),
        (answer_3, one_domain, 0, (1, 0, 1), &[(0, "")]),
    ];
    for (i, (answer, table, sum, counts, draws)) in cases.into_iter().enumerate() {
        let w = weights(table);
        for &(draw, top) in draws {
            let mut records = rrs(answer);
            let before = records.clone();
            order::weighted(&mut records, &w, |total| {
                assert_eq!(total, sum, "case {i}");
                draw
            });
            assert_eq!(first_address(&records), top, "case {i} draw {draw}");
            let (cn, ad, mx, sorted) = count(&records);
            assert_eq!((cn, ad, mx), counts, "case {i}");
            if top.is_empty() {
                assert_eq!(records, before, "case {i}: no addresses, no change");
            } else {
                assert!(sorted, "case {i}");
            }
        }
    }
}

#[test]
fn weighted_handler_only_touches_address_and_srv_queries() {
    let table = Arc::new(cairn_core::arc_swap::ArcSwap::from_pointee(weights(
        "www.example.org\n10.0.0.4 255\n",
    )));
    let lb = LoadBalance::new(Policy::Weighted(table), Vec::new(), Random::with_seed(3));
    let c = chain(lb, Fixed::new(FOUR_A, FOUR_A));
    let mut top4 = 0;
    for _ in 0..200 {
        let (_, result) = run(&c, query("www.example.org.", RType::A));
        let m = result.unwrap();
        let top = ip_of(&m.answer[0]);
        if top == "10.0.0.4" {
            top4 += 1;
        }
        // Only the top record and the first one trade places.
        let mut want: Vec<String> = rrs(FOUR_A).iter().map(ip_of).collect();
        let k = want.iter().position(|ip| *ip == top).unwrap();
        want.swap(0, k);
        let got: Vec<String> = m.answer.iter().map(ip_of).collect();
        assert_eq!(got, want);
    }
    // Weight 255 against three of weight 1: the heavy one is on top ~98.8% of the time.
    assert!(top4 > 180, "{top4}");
    let (_, result) = run(&c, query("www.example.org.", RType::MX));
    assert_eq!(
        result.unwrap().answer,
        rrs(FOUR_A),
        "MX queries are left alone"
    );
}

#[test]
fn weight_file_parsing() {
    // CoreDNS TestWeightFileUpdate.
    let two = weights(
        "
# domain 1
w1.example.org
192.168.1.15   10
192.168.1.14   20

# domain 2
w2.example.org
 # domain 3
 w3.example.org
 192.168.2.16 11
 192.168.2.15 12
 192.168.2.14 13
",
    );
    assert_eq!(two.len(), 3);
    let n = |s: &str| Name::parse(s, None).unwrap();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(two.weight(&n("w1.example.org."), ip("192.168.1.14")), 20);
    assert_eq!(two.weight(&n("W3.Example.ORG."), ip("192.168.2.15")), 12);
    assert_eq!(two.weight(&n("w2.example.org."), ip("192.168.1.14")), 1);
    assert_eq!(two.weight(&n("w3.example.org."), ip("10.0.0.1")), 1);
    assert_eq!(weights("").len(), 0);
    let one = weights("w1,example.org\n192.168.1.15 10\n192.168.1.14 20\n");
    assert_eq!(one.weight(&n("w1,example.org."), ip("192.168.1.15")), 10);

    for (text, want) in [
        (
            "w1,example.org\n192.168.1.14\n192.168.1.15 20\n",
            "wrong domain name",
        ),
        (
            "# missing domain\n192.168.1.14 10\nw2,example.org\n192.168.2.14 11\n",
            "missing domain name",
        ),
        ("w1,example.org\n192.168.1.300 10\n", "wrong IP address"),
        ("w1,example.org\n192.168.1.14 300\n", "wrong weight value"),
        ("w1,example.org\n192.168.1.14 0\n", "wrong weight value"),
        ("w1,example.org\n192.168.1.14 +3\n", "wrong weight value"),
        (
            "w1,example.org\n192.168.1.14 3 4\n",
            "could not parse weight line",
        ),
    ] {
        let err = weights::parse(text, "weights").unwrap_err();
        assert!(err.contains(want), "{text:?}: {err}");
    }
}

#[test]
fn prefer_puts_listed_networks_first() {
    // CoreDNS TestSortPreferred.
    let mut records = rrs("
example.org. 300 IN A 10.9.30.1
example.org. 300 IN A 10.9.20.5
example.org. 300 IN A 192.168.1.2
example.org. 300 IN A 10.10.0.1
example.org. 300 IN A 10.9.20.3
example.org. 300 IN A 172.16.0.1
example.org. 300 IN AAAA 2001:db8::1
example.org. 300 IN AAAA 2001:db8:abcd::1
example.org. 300 IN AAAA fd00::1
example.org. 300 IN CNAME alias.example.org.
");
    let subnets: Vec<Subnet> = ["2001:db8::/32", "10.9.20.0/24", "10.9.30.0/24"]
        .iter()
        .map(|s| Subnet::parse(s).unwrap())
        .collect();
    order::prefer(&mut records, &subnets);
    let got: Vec<String> = records.iter().map(|r| r.data.to_string()).collect();
    assert_eq!(
        got,
        [
            "alias.example.org.",
            "2001:db8::1",
            "2001:db8:abcd::1",
            "10.9.20.5",
            "10.9.20.3",
            "10.9.30.1",
            "192.168.1.2",
            "10.10.0.1",
            "172.16.0.1",
            "fd00::1",
        ]
    );
}

#[test]
fn subnets_parse_and_match_like_go() {
    let s = Subnet::parse("10.9.20.7/24").unwrap();
    assert!(s.contains("10.9.20.200".parse().unwrap()));
    assert!(!s.contains("10.9.21.1".parse().unwrap()));
    assert!(!s.contains("::1".parse().unwrap()));
    assert!(Subnet::parse("0.0.0.0/0")
        .unwrap()
        .contains("8.8.8.8".parse().unwrap()));
    for bad in [
        "10.0.0.0",
        "10.0.0.0/33",
        "::/129",
        "x/8",
        "10.0.0.0/+8",
        "10.0.0.0/",
    ] {
        assert!(Subnet::parse(bad).is_none(), "{bad}");
    }
}

#[test]
fn prefer_applies_after_round_robin_through_the_handler() {
    let s = setup(
        spec("loadbalance"),
        "example.org {\n loadbalance round_robin {\n  prefer 10.0.0.3/32 10.0.0.1/32\n }\n}",
        None,
    )
    .unwrap();
    let c = s.chain_with(Fixed::new(FOUR_A, ""));
    let mut seconds = HashSet::new();
    for _ in 0..100 {
        let (_, result) = run(&c, query("www.example.org.", RType::A));
        let m = result.unwrap();
        assert_eq!(ip_of(&m.answer[0]), "10.0.0.3");
        assert_eq!(ip_of(&m.answer[1]), "10.0.0.1");
        seconds.insert(ip_of(&m.answer[2]));
    }
    assert_eq!(seconds.len(), 2, "the unpreferred tail is still shuffled");
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cairn-lb-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn setup_accepts_coredns_forms() {
    let dir = temp_dir("ok");
    std::fs::write(dir.join("wfile"), "www.example.org\n10.0.0.1 3\n").unwrap();
    for corefile in [
        ". {\n loadbalance\n}",
        ". {\n loadbalance round_robin\n}",
        ". {\n loadbalance {\n  prefer 10.0.0.0/8\n }\n}",
        ". {\n loadbalance weighted wfile\n}",
        ". {\n loadbalance weighted wfile {\n  reload 10s\n }\n}",
        ". {\n loadbalance weighted wfile {\n  reload 0s\n }\n}",
        // A missing file is retried later when reloading is on.
        ". {\n loadbalance weighted missing {\n  reload 10s\n }\n}",
    ] {
        let s = setup(spec("loadbalance"), corefile, Some(dir.clone()))
            .unwrap_or_else(|e| panic!("{corefile}: {e}"));
        assert_eq!(s.plugins.len(), 1, "{corefile}");
        let reloading = corefile.contains("weighted") && !corefile.contains("reload 0s");
        assert_eq!(s.parts.services.len(), usize::from(reloading), "{corefile}");
    }
}

#[test]
fn setup_errors_name_the_line() {
    // CoreDNS TestSetup's negative cases, and more.
    let dir = temp_dir("err");
    std::fs::write(dir.join("bad"), "www.example.org\n10.0.0.1 0\n").unwrap();
    for (body, line, want) in [
        ("loadbalance fleeb", 2, "unknown policy: fleeb"),
        (
            "loadbalance round_robin a",
            2,
            "unknown property for round_robin",
        ),
        ("loadbalance weighted", 2, "missing weight file argument"),
        ("loadbalance weighted a b", 2, "unexpected argument(s)"),
        (
            "loadbalance weighted wfile {\n  susu\n }",
            3,
            "unknown property 'susu'",
        ),
        (
            "loadbalance weighted wfile {\n  reload a\n }",
            3,
            "invalid reload duration 'a'",
        ),
        (
            "loadbalance weighted wfile {\n  reload 30s a\n }",
            3,
            "unexpected argument",
        ),
        (
            "loadbalance weighted wfile {\n  reload\n }",
            3,
            "reload duration value is missing",
        ),
        (
            "loadbalance weighted wfile {\n  prefer 10.0.0.0/8\n }",
            3,
            "unknown property 'prefer'",
        ),
        (
            "loadbalance {\n  prefer 10.0.0.0/33\n }",
            3,
            "invalid CIDR \"10.0.0.0/33\"",
        ),
        ("loadbalance {\n  fleeb\n }", 3, "unknown property 'fleeb'"),
        (
            "loadbalance weighted missing {\n  reload 0\n }",
            2,
            "weight file open error",
        ),
        ("loadbalance weighted bad", 2, "wrong weight value:\"0\""),
    ] {
        let corefile = format!(". {{\n {body}\n}}");
        let err = setup(spec("loadbalance"), &corefile, Some(dir.clone()))
            .err()
            .unwrap_or_else(|| panic!("{body}: accepted"));
        assert_eq!(err.line, line, "{body}: {err}");
        assert!(err.message.contains(want), "{body}: {err}");
    }
}

#[test]
fn weight_file_reload_swaps_the_table() {
    let dir = temp_dir("reload");
    let path = dir.join("w");
    std::fs::write(&path, "www.example.org\n10.0.0.1 7\n").unwrap();
    let mut file = super::weights::WeightFile::new(path.clone());
    assert!(file.load().unwrap());
    let n = Name::parse("www.example.org.", None).unwrap();
    let ip: IpAddr = "10.0.0.1".parse().unwrap();
    assert_eq!(file.table.load().weight(&n, ip), 7);
    assert!(
        !file.load().unwrap(),
        "unchanged contents are not parsed again"
    );
    std::fs::write(&path, "www.example.org\n10.0.0.1 9\n").unwrap();
    assert!(file.load().unwrap());
    assert_eq!(file.table.load().weight(&n, ip), 9);
    // A broken file keeps the last table.
    std::fs::write(&path, "www.example.org\n10.0.0.1 x\n").unwrap();
    assert!(file.load().is_err());
    assert_eq!(file.table.load().weight(&n, ip), 9);

    // The service picks changes up by itself.
    let table = file.table.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (shutdown, trigger) = cairn_core::setup::Shutdown::new();
    let seen = Arc::new(Mutex::new(0u8));
    rt.block_on(async {
        let task = tokio::spawn(file.run(std::time::Duration::from_millis(20), shutdown));
        std::fs::write(&path, "www.example.org\n10.0.0.1 11\n").unwrap();
        for _ in 0..200 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            if table.load().weight(&n, ip) == 11 {
                *seen.lock().unwrap() = 11;
                break;
            }
        }
        trigger.fire();
        task.await.unwrap();
    });
    assert_eq!(*seen.lock().unwrap(), 11);
}
