//! Case tables for `cache`: the directive's options and errors, CoreDNS's cache insertion
//! table (plugin/cache/cache_test.go) and the behaviour around it (TTL caps and floors,
//! denial TTLs from the SOA, SERVFAIL caching, `disable`, the key, capacity and eviction,
//! prefetch, `serve_stale` in both modes, `keepttl`, AD/AA bits, the question's case), and the
//! invalidation of cluster answers by a kubernetes index change, from a manifest fixture.
//!
//! The plugin runs in front of a test upstream that counts the queries reaching it and
//! answers what the test chose; the cache's clock is moved forward by the tests.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_core::metrics::registry;
use cairn_core::testing::{on_the_wire, setup};
use cairn_core::wire::{
    encode, Message, Name, OptRef, QuestionRef, RType, Rcode, Record, CLASS_IN,
};
use cairn_core::{Chain, Next, Plugin, PluginError, Proto, Request, Served};

use super::store::Store;
use super::Cache;
use crate::registry::spec;

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// A record from zone-file text (`owner ttl IN TYPE rdata`).
fn rr(text: &str) -> Record {
    let parser = crate::file::ZoneParser::new(
        text.as_bytes().to_vec(),
        Name::root(),
        std::path::Path::new("test"),
    )
    .without_include();
    let mut records = parser
        .read_all()
        .unwrap_or_else(|e| panic!("{text}: {e:?}"));
    assert_eq!(records.len(), 1, "{text}");
    records.remove(0)
}

fn rrs(texts: &[&str]) -> Vec<Record> {
    texts.iter().map(|t| rr(t)).collect()
}

/// Records as `owner ttl TYPE rdata` lines (`owner ttl TYPE ...` for opaque data).
fn show(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| match r.data {
            cairn_core::wire::RData::Opaque(_) => format!("{} {} {} ...", r.name, r.ttl, r.rtype),
            _ => r.to_string().replace("\tIN\t", " ").replace('\t', " "),
        })
        .collect()
}

/// What the test upstream answers.
#[derive(Clone, Default)]
struct Answer {
    rcode: Rcode,
    answer: Vec<Record>,
    authority: Vec<Record>,
    additional: Vec<Record>,
    tc: bool,
    ra: bool,
    ad: bool,
    /// A question of its own (as a reply parsed from an upstream has).
    question: Option<(&'static str, RType)>,
    /// Fail instead of answering.
    fail: bool,
    /// Answer only after this long.
    delay: Option<Duration>,
}

fn positive(records: &[&str]) -> Answer {
    Answer {
        answer: rrs(records),
        ra: true,
        ..Answer::default()
    }
}

fn negative(rcode: Rcode, authority: &[&str]) -> Answer {
    Answer {
        rcode,
        authority: rrs(authority),
        ra: true,
        ..Answer::default()
    }
}

/// The last plugin: counts queries and answers from `answer`.
#[derive(Default)]
struct Upstream {
    calls: AtomicUsize,
    answer: Mutex<Answer>,
    /// The AD bit of every query that reached it.
    seen_ad: Mutex<Vec<bool>>,
}

impl Plugin for Upstream {
    fn name(&self) -> &'static str {
        "upstream"
    }

    fn serve<'a>(&'a self, mut req: Box<Request>, _next: Next<'a>) -> Served<'a> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.seen_ad.lock().unwrap().push(req.info.flags.ad);
        let a = self.answer.lock().unwrap().clone();
        if a.fail {
            return Served::error(req, PluginError::failed("upstream", "down"));
        }
        let mut m = req.reply();
        m.rcode = a.rcode;
        m.flags.tc = a.tc;
        m.flags.ra = a.ra;
        m.flags.ad = a.ad;
        m.answer = a.answer;
        m.authority = a.authority;
        m.additional = a.additional;
        m.question = a.question.map(|(name, qtype)| cairn_core::wire::Question {
            name: Name::parse(name, None).unwrap(),
            qtype,
            qclass: CLASS_IN,
        });
        match a.delay {
            None => Served::reply(req, m),
            Some(d) => Served::Pending(Box::pin(async move {
                tokio::time::sleep(d).await;
                (req, Ok(m))
            })),
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Query flags.
#[derive(Clone, Copy, Default)]
struct Flags {
    dnssec_ok: bool,
    cd: bool,
    ad: bool,
    edns: bool,
}

/// A request for `name`/`qtype` with `flags`.
fn request(name: &str, qtype: RType, flags: Flags) -> Box<Request> {
    let n = Name::parse(name, None).unwrap();
    let mut m = Message {
        id: 0x1234,
        ..Message::default()
    };
    m.flags.rd = true;
    m.flags.cd = flags.cd;
    m.flags.ad = flags.ad;
    let opt = (flags.edns || flags.dnssec_ok).then_some(OptRef {
        udp_size: 1232,
        dnssec_ok: flags.dnssec_ok,
        options: &[],
    });
    let mut raw = Vec::new();
    encode(
        &m,
        Some(QuestionRef {
            name: n.wire(),
            qtype,
            qclass: CLASS_IN,
        }),
        opt,
        65535,
        &mut raw,
    );
    let client: SocketAddr = "10.240.0.1:40212".parse().unwrap();
    let mut r = Request::from_query(&raw, client, Proto::Udp).unwrap();
    r.local = "127.0.0.1:53".parse().unwrap();
    Box::new(r)
}

/// A cache set up from a one-block Corefile, in front of an [`Upstream`].
struct Fixture {
    plugin: Arc<dyn Plugin>,
    chain: Chain,
    up: Arc<Upstream>,
    rt: tokio::runtime::Runtime,
}

impl Fixture {
    /// `corefile` is a whole Corefile, e.g. `". {\n cache\n}"`.
    fn new(corefile: &str) -> Fixture {
        let s = setup(spec("cache"), corefile, None).unwrap_or_else(|e| panic!("{e}"));
        let up = Arc::new(Upstream::default());
        let chain = s.chain_with(up.clone());
        Fixture {
            plugin: s.plugins[0].clone(),
            chain,
            up,
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    fn cache(&self) -> &Cache {
        self.plugin.as_any().downcast_ref::<Cache>().unwrap()
    }

    fn set(&self, a: Answer) {
        *self.up.answer.lock().unwrap() = a;
    }

    fn calls(&self) -> usize {
        self.up.calls.load(Ordering::SeqCst)
    }

    fn advance(&self, secs: u64) {
        self.cache().core.advance(Duration::from_secs(secs));
    }

    /// Runs a request through the chain and returns the reply as a client reads it.
    fn run(&self, req: Box<Request>) -> Message {
        // Inside the runtime, as in the server: refreshes spawn tasks on it.
        let (req, result) = self
            .rt
            .block_on(async { self.chain.run(req).finish().await });
        let msg = result.expect("a reply");
        on_the_wire(&req, &msg)
    }

    fn ask(&self, name: &str, qtype: RType) -> Message {
        self.run(request(name, qtype, Flags::default()))
    }

    /// Waits (at most 5 s) until the upstream saw `n` queries: for background refreshes.
    fn wait_calls(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.calls() < n {
            assert!(
                Instant::now() < deadline,
                "upstream saw {} queries, not {n}",
                self.calls()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Gives background refreshes that already reached the upstream time to store their
    /// reply and release their entry (they take microseconds; this waits 100 ms).
    fn settle(&self) {
        self.rt.block_on(async {
            for _ in 0..20 {
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
    }
}

fn counter(name: &str, labels: &'static [&'static str], values: &[&str]) -> u64 {
    registry().counter(name, "", labels).with(values).get()
}

// ---------------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------------

#[test]
fn options_parse_with_coredns_defaults() {
    let cfg = |corefile: &str| {
        cairn_core::testing::with_setup_ctx("cache", corefile, None, |ctx| super::setup::parse(ctx))
            .map(|(c, _)| c)
    };
    let c = cfg("example.org {\n cache\n}").unwrap();
    assert_eq!(c.zones, vec![Name::parse("example.org.", None).unwrap()]);
    assert_eq!(
        (c.success_capacity, c.success_max, c.success_min),
        (10_000, 3600, 5)
    );
    assert_eq!(
        (c.denial_capacity, c.denial_max, c.denial_min),
        (10_000, 1800, 5)
    );
    assert_eq!(c.servfail, Duration::from_secs(5));
    assert_eq!(c.prefetch, 0);
    assert!(c.stale_up_to.is_zero() && !c.keepttl && !c.prefer_positive);
    assert_eq!(c.zones_label(), "example.org.");

    let c = cfg(". {\n cache 30 example.org example.net\n}").unwrap();
    assert_eq!((c.success_max, c.denial_max), (30, 30));
    assert_eq!(c.zones_label(), "example.org.,example.net.");

    let c = cfg(
        ". {\n cache {\n success 5000 600 1\n denial 2000 60 0\n prefetch 10 2m 20%\n \
         serve_stale 30m verify 500ms 30s 10s\n serve_stale_policy prefer_positive\n \
         servfail 2s\n disable success cluster.local\n disable denial cluster.local\n keepttl\n }\n}",
    )
    .unwrap();
    assert_eq!(
        (c.success_capacity, c.success_max, c.success_min),
        (5000, 600, 1)
    );
    assert_eq!(
        (c.denial_capacity, c.denial_max, c.denial_min),
        (2000, 60, 0)
    );
    assert_eq!(
        (c.prefetch, c.prefetch_window, c.prefetch_percentage),
        (10, Duration::from_secs(120), 20)
    );
    assert_eq!(c.stale_up_to, Duration::from_secs(1800));
    assert!(c.verify_stale && c.prefer_positive && c.keepttl);
    assert_eq!(c.verify_timeout, Duration::from_millis(500));
    assert_eq!(
        (c.stale_ttl, c.stale_recheck),
        (30, Duration::from_secs(10))
    );
    assert_eq!(c.servfail, Duration::from_secs(2));
    let cluster = vec![Name::parse("cluster.local.", None).unwrap()];
    assert_eq!(
        (&c.disable_success, &c.disable_denial),
        (&cluster, &cluster)
    );

    let c = cfg(". {\n cache {\n serve_stale\n disable denial\n }\n}").unwrap();
    assert_eq!(c.stale_up_to, Duration::from_secs(3600));
    assert!(!c.verify_stale);
    assert_eq!(c.disable_denial, vec![Name::root()]);
    let c = cfg(". {\n cache {\n serve_stale 10m immediate 5s 1m\n }\n}").unwrap();
    assert_eq!((c.stale_ttl, c.stale_recheck), (5, Duration::from_secs(60)));
}

#[test]
fn bad_options_are_setup_errors_with_their_line() {
    let cases: &[(&str, &str)] = &[
        ("cache 0", "cache TTL can not be zero or negative: 0"),
        ("cache -5", "cache TTL can not be zero or negative: -5"),
        ("cache {\n success\n }", "Wrong argument count"),
        ("cache {\n success many\n }", "cache capacity must be an integer"),
        ("cache {\n success -1\n }", "cache capacity can not be negative"),
        ("cache {\n success 10 0\n }", "cache TTL can not be zero or negative: 0"),
        ("cache {\n denial 10 10 -1\n }", "cache min TTL can not be negative: -1"),
        ("cache {\n denial 1 2 3 4\n }", "Wrong argument count"),
        ("cache {\n prefetch\n }", "Wrong argument count"),
        ("cache {\n prefetch -1\n }", "prefetch amount should be positive"),
        ("cache {\n prefetch 1 soon\n }", "invalid prefetch duration"),
        ("cache {\n prefetch 1 1m 5%\n }", "percentage should fall in range [10, 90]: 5"),
        ("cache {\n prefetch 1 1m 50\n }", "last character of percentage should be `%`"),
        ("cache {\n serve_stale -1s\n }", "invalid negative duration for serve_stale"),
        ("cache {\n serve_stale 1h later\n }", "invalid value for serve_stale refresh mode"),
        ("cache {\n serve_stale 1h immediate 1 1s 1\n }", "Wrong argument count"),
        ("cache {\n serve_stale 1h verify 1s 1 1s 1\n }", "Wrong argument count"),
        ("cache {\n serve_stale 1h immediate 1500ms\n }", "whole number of seconds"),
        ("cache {\n serve_stale 1h immediate 1s 6m\n }", "cannot exceed 5 minutes"),
        ("cache {\n serve_stale_policy prefer_positive\n }", "serve_stale_policy requires serve_stale"),
        (
            "cache {\n serve_stale\n serve_stale_policy newest\n }",
            "invalid serve_stale_policy: newest",
        ),
        (
            "cache {\n serve_stale\n serve_stale_policy prefer_positive\n serve_stale_policy prefer_positive\n }",
            "can only be specified once",
        ),
        ("cache {\n servfail\n }", "Wrong argument count"),
        ("cache {\n servfail 6m\n }", "over 5 minutes is not permitted"),
        ("cache {\n servfail -1s\n }", "invalid negative duration for servfail"),
        ("cache {\n disable\n }", "Wrong argument count"),
        ("cache {\n disable positive\n }", "must be \"success\" or \"denial\""),
        ("cache {\n keepttl now\n }", "Wrong argument count"),
        ("cache {\n colour blue\n }", "unknown property 'colour'"),
        ("cache\n cache", "can only be used once per Server Block"),
    ];
    let mut failures = Vec::new();
    for (lines, want) in cases {
        let corefile = format!(". {{\n {lines}\n}}\n");
        match setup(spec("cache"), &corefile, None) {
            Ok(_) => failures.push(format!("{lines:?}: accepted")),
            Err(e) => {
                let text = e.to_string();
                if !text.contains(want) || !text.starts_with("Corefile:") || e.line < 2 {
                    failures.push(format!("{lines:?}: {text} (want {want:?})"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// What is cached, and for how long
// ---------------------------------------------------------------------------------------------

/// One row of the insertion table: the upstream's reply, whether a second identical query
/// is answered from the cache, and the reply the client sees (both times).
struct Insert {
    name: &'static str,
    qname: &'static str,
    qtype: RType,
    flags: Flags,
    reply: Answer,
    cached: bool,
    /// Expected `owner ttl TYPE rdata` lines of answer + authority.
    want: &'static [&'static str],
}

const SOA_ORG: &str =
    "example.org. 3600 IN SOA sns.dns.icann.org. noc.dns.icann.org. 2016082540 7200 3600 1209600 3600";

#[test]
fn insertion_table() {
    let future_sig = "example.org. 3600 IN RRSIG MX 8 2 1800 20990521031301 20170421031301 12051 \
        miek.nl. lAaEzB5teQLLKyDenatmyhca7blLRg9DoGNrhe3NReBZN5C5/pMQk8Jc";
    let past_sig = "miek.nl. 1800 IN RRSIG MX 8 2 1800 20160521031301 20160421031301 12051 \
        miek.nl. lAaEzB5teQLLKyDenatmyhca7blLRg9DoGNrhe3NReBZN5C5/pMQk8Jc";
    let dnssec = Flags {
        dnssec_ok: true,
        ..Flags::default()
    };
    let cases = vec![
        Insert {
            name: "positive answer, TTL capped at 3600",
            qname: "miek.nl.",
            qtype: RType::MX,
            flags: Flags::default(),
            reply: positive(&[
                "miek.nl. 3601 IN MX 1 aspmx.l.google.com.",
                "miek.nl. 3601 IN MX 10 aspmx2.googlemail.com.",
            ]),
            cached: true,
            want: &[
                "miek.nl. 3600 MX 1 aspmx.l.google.com.",
                "miek.nl. 3600 MX 10 aspmx2.googlemail.com.",
            ],
        },
        Insert {
            name: "truncated replies are not cached",
            qname: "miek.nl.",
            qtype: RType::MX,
            flags: Flags::default(),
            reply: Answer {
                tc: true,
                ..positive(&["miek.nl. 1800 IN MX 1 aspmx.l.google.com."])
            },
            cached: false,
            want: &["miek.nl. 1800 MX 1 aspmx.l.google.com."],
        },
        Insert {
            name: "NXDOMAIN with SOA, TTL capped at 1800",
            qname: "example.org.",
            qtype: RType::A,
            flags: Flags::default(),
            reply: negative(Rcode::NXDOMAIN, &[SOA_ORG]),
            cached: true,
            want: &["example.org. 1800 SOA sns.dns.icann.org. noc.dns.icann.org. 2016082540 7200 3600 1209600 3600"],
        },
        Insert {
            name: "NXDOMAIN without SOA is not cached",
            qname: "1.1.168.192.in-addr.arpa.",
            qtype: RType::PTR,
            flags: Flags::default(),
            reply: negative(Rcode::NXDOMAIN, &[]),
            cached: false,
            want: &[],
        },
        Insert {
            name: "SERVFAIL is cached",
            qname: "example.org.",
            qtype: RType::A,
            flags: Flags::default(),
            reply: negative(Rcode::SERVFAIL, &[]),
            cached: true,
            want: &[],
        },
        Insert {
            name: "NOTIMP is cached",
            qname: "example.org.",
            qtype: RType::A,
            flags: Flags::default(),
            reply: negative(Rcode::NOTIMP, &[]),
            cached: true,
            want: &[],
        },
        Insert {
            name: "REFUSED is not cached",
            qname: "example.org.",
            qtype: RType::A,
            flags: Flags::default(),
            reply: negative(Rcode::REFUSED, &[]),
            cached: false,
            want: &[],
        },
        Insert {
            name: "an expired RRSIG with DO is not cached",
            qname: "miek.nl.",
            qtype: RType::MX,
            flags: dnssec,
            reply: Answer {
                answer: rrs(&["miek.nl. 3600 IN MX 1 aspmx.l.google.com.", past_sig]),
                ..Answer::default()
            },
            cached: false,
            want: &[
                // Not cacheable (an "other error"): every TTL becomes the 5 s fail-safe.
                "miek.nl. 5 MX 1 aspmx.l.google.com.",
                "miek.nl. 5 RRSIG ...",
            ],
        },
        Insert {
            name: "a valid RRSIG with DO is cached",
            qname: "example.org.",
            qtype: RType::MX,
            flags: dnssec,
            reply: Answer {
                answer: rrs(&["example.org. 3600 IN MX 1 aspmx.l.google.com.", future_sig]),
                ..Answer::default()
            },
            cached: true,
            want: &[
                "example.org. 3600 MX 1 aspmx.l.google.com.",
                "example.org. 3600 RRSIG ...",
            ],
        },
        Insert {
            name: "CD set is cached",
            qname: "dnssec-failed.org.",
            qtype: RType::A,
            flags: Flags {
                cd: true,
                ..Flags::default()
            },
            reply: positive(&["dnssec-failed.org. 3600 IN A 127.0.0.1"]),
            cached: true,
            want: &["dnssec-failed.org. 3600 A 127.0.0.1"],
        },
        Insert {
            name: "NXDOMAIN under a disabled denial zone is not cached",
            qname: "neg-disabled.example.org.",
            qtype: RType::A,
            flags: Flags::default(),
            reply: negative(Rcode::NXDOMAIN, &[SOA_ORG]),
            cached: false,
            want: &["example.org. 1800 SOA sns.dns.icann.org. noc.dns.icann.org. 2016082540 7200 3600 1209600 3600"],
        },
        Insert {
            name: "positive under a disabled success zone is not cached",
            qname: "pos-disabled.example.org.",
            qtype: RType::A,
            flags: Flags::default(),
            reply: positive(&["pos-disabled.example.org. 3600 IN A 127.0.0.1"]),
            cached: false,
            want: &["pos-disabled.example.org. 3600 A 127.0.0.1"],
        },
        Insert {
            name: "negative under a disabled success zone is cached",
            qname: "pos-disabled.example.org.",
            qtype: RType::A,
            flags: Flags::default(),
            reply: negative(Rcode::NXDOMAIN, &[SOA_ORG]),
            cached: true,
            want: &["example.org. 1800 SOA sns.dns.icann.org. noc.dns.icann.org. 2016082540 7200 3600 1209600 3600"],
        },
        Insert {
            name: "NODATA with SOA is cached",
            qname: "example.org.",
            qtype: RType::AAAA,
            flags: Flags::default(),
            reply: negative(Rcode::NOERROR, &["example.org. 300 IN SOA sns.dns.icann.org. noc.dns.icann.org. 1 7200 3600 1209600 300"]),
            cached: true,
            want: &["example.org. 300 SOA sns.dns.icann.org. noc.dns.icann.org. 1 7200 3600 1209600 300"],
        },
        Insert {
            name: "NOERROR without records is cached (5 s)",
            qname: "example.org.",
            qtype: RType::TXT,
            flags: Flags::default(),
            reply: negative(Rcode::NOERROR, &[]),
            cached: true,
            want: &[],
        },
        Insert {
            name: "a CNAME chain that ends elsewhere without SOA is not cached",
            qname: "www.example.org.",
            qtype: RType::A,
            flags: Flags::default(),
            reply: positive(&["www.example.org. 300 IN CNAME cdn.example.net."]),
            cached: false,
            want: &["www.example.org. 300 CNAME cdn.example.net."],
        },
        Insert {
            name: "a CNAME chain to an address is cached",
            qname: "www.example.org.",
            qtype: RType::A,
            flags: Flags::default(),
            reply: positive(&[
                "www.example.org. 300 IN CNAME cdn.example.net.",
                "cdn.example.net. 60 IN A 192.0.2.1",
            ]),
            cached: true,
            want: &[
                "www.example.org. 60 CNAME cdn.example.net.",
                "cdn.example.net. 60 A 192.0.2.1",
            ],
        },
        Insert {
            name: "a CNAME chain that ends elsewhere with SOA is no data (cached)",
            qname: "www.example.org.",
            qtype: RType::AAAA,
            flags: Flags::default(),
            reply: Answer {
                answer: rrs(&["www.example.org. 300 IN CNAME cdn.example.net."]),
                authority: rrs(&["example.net. 60 IN SOA ns.example.net. h.example.net. 1 2 3 4 60"]),
                ..Answer::default()
            },
            cached: true,
            want: &[
                "www.example.org. 60 CNAME cdn.example.net.",
                "example.net. 60 SOA ns.example.net. h.example.net. 1 2 3 4 60",
            ],
        },
        Insert {
            name: "a delegation is cached with the 5 s floor",
            qname: "sub.example.org.",
            qtype: RType::A,
            flags: Flags::default(),
            reply: negative(Rcode::NOERROR, &["sub.example.org. 86400 IN NS ns1.sub.example.org."]),
            cached: true,
            want: &["sub.example.org. 5 NS ns1.sub.example.org."],
        },
        Insert {
            name: "a reply for another question is not cached",
            qname: "example.org.",
            qtype: RType::A,
            flags: Flags::default(),
            reply: Answer {
                question: Some(("evil.example.", RType::A)),
                ..positive(&["evil.example. 300 IN A 192.0.2.66"])
            },
            cached: false,
            want: &["evil.example. 300 A 192.0.2.66"],
        },
    ];
    let corefile = ". {\n cache {\n disable denial neg-disabled.example.org\n \
                    disable success pos-disabled.example.org\n }\n}";
    let mut failures = Vec::new();
    for c in cases {
        let f = Fixture::new(corefile);
        f.set(c.reply.clone());
        let first = f.run(request(c.qname, c.qtype, c.flags));
        let second = f.run(request(c.qname, c.qtype, c.flags));
        let calls = f.calls();
        let mut problems = Vec::new();
        if calls != if c.cached { 1 } else { 2 } {
            problems.push(format!("upstream asked {calls} times"));
        }
        for (which, m) in [("first", &first), ("second", &second)] {
            let mut got = show(&m.answer);
            got.extend(show(&m.authority));
            if got != c.want {
                problems.push(format!("{which} reply {got:?}"));
            }
            if m.rcode != c.reply.rcode {
                problems.push(format!("{which} rcode {}", m.rcode));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", c.name, problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn ttls_count_down_and_entries_expire() {
    let f = Fixture::new(". {\n cache\n}");
    f.set(positive(&["a.example.org. 30 IN A 192.0.2.1"]));
    assert_eq!(
        show(&f.ask("a.example.org.", RType::A).answer),
        ["a.example.org. 30 A 192.0.2.1"]
    );
    f.advance(10);
    assert_eq!(
        show(&f.ask("a.example.org.", RType::A).answer),
        ["a.example.org. 20 A 192.0.2.1"]
    );
    f.advance(19);
    assert_eq!(
        show(&f.ask("a.example.org.", RType::A).answer),
        ["a.example.org. 1 A 192.0.2.1"]
    );
    assert_eq!(f.calls(), 1);
    f.advance(1);
    f.set(positive(&["a.example.org. 30 IN A 192.0.2.2"]));
    assert_eq!(
        show(&f.ask("a.example.org.", RType::A).answer),
        ["a.example.org. 30 A 192.0.2.2"]
    );
    assert_eq!(f.calls(), 2, "expired entries are asked again");
}

#[test]
fn minimum_and_maximum_ttls() {
    // The 5 s floor: a TTL of 1 is served and kept as 5.
    let f = Fixture::new(". {\n cache\n}");
    f.set(positive(&["a.example.org. 1 IN A 192.0.2.1"]));
    assert_eq!(f.ask("a.example.org.", RType::A).answer[0].ttl, 5);
    f.advance(4);
    assert_eq!(f.ask("a.example.org.", RType::A).answer[0].ttl, 1);
    assert_eq!(f.calls(), 1);

    // `cache 30` caps both caches; the lowest TTL of the whole reply wins.
    let f = Fixture::new(". {\n cache 30\n}");
    f.set(Answer {
        additional: rrs(&["ns.example.org. 20 IN A 192.0.2.53"]),
        ..positive(&["a.example.org. 300 IN A 192.0.2.1"])
    });
    let m = f.ask("a.example.org.", RType::A);
    assert_eq!((m.answer[0].ttl, m.additional[0].ttl), (20, 20));
    f.set(negative(Rcode::NXDOMAIN, &[SOA_ORG]));
    assert_eq!(f.ask("b.example.org.", RType::A).authority[0].ttl, 30);

    // MINTTL 0 lets a TTL of 0 through, uncached.
    let f = Fixture::new(". {\n cache {\n success 1000 60 0\n }\n}");
    f.set(positive(&["a.example.org. 0 IN A 192.0.2.1"]));
    assert_eq!(f.ask("a.example.org.", RType::A).answer[0].ttl, 0);
    f.ask("a.example.org.", RType::A);
    assert_eq!(f.calls(), 2);
}

#[test]
fn denial_ttl_comes_from_the_soa_record() {
    let f = Fixture::new(". {\n cache {\n denial 1000 100 10\n }\n}");
    let soa = |ttl: u32| {
        format!(
            "example.org. {ttl} IN SOA ns.example.org. h.example.org. 1 7200 3600 1209600 {ttl}"
        )
    };
    let cases: &[(&str, u32, u32)] = &[
        ("a.example.org.", 60, 60),
        ("b.example.org.", 300, 100),
        ("c.example.org.", 2, 10),
    ];
    for &(name, soa_ttl, want) in cases {
        f.set(Answer {
            rcode: Rcode::NXDOMAIN,
            authority: vec![rr(&soa(soa_ttl))],
            ..Answer::default()
        });
        let m = f.ask(name, RType::A);
        assert_eq!(
            (m.rcode, m.authority[0].ttl),
            (Rcode::NXDOMAIN, want),
            "{name}"
        );
        f.advance(1);
        let m = f.ask(name, RType::A);
        assert_eq!(m.authority[0].ttl, want - 1, "{name} counts down");
    }
    assert_eq!(f.calls(), cases.len());
}

#[test]
fn servfail_is_kept_for_the_servfail_duration() {
    let f = Fixture::new(". {\n cache {\n servfail 10s\n }\n}");
    f.set(negative(Rcode::SERVFAIL, &[]));
    for _ in 0..3 {
        assert_eq!(f.ask("a.example.org.", RType::A).rcode, Rcode::SERVFAIL);
    }
    assert_eq!(f.calls(), 1);
    f.advance(10);
    f.ask("a.example.org.", RType::A);
    assert_eq!(f.calls(), 2);

    let f = Fixture::new(". {\n cache {\n servfail 0\n }\n}");
    f.set(negative(Rcode::SERVFAIL, &[]));
    f.ask("a.example.org.", RType::A);
    f.ask("a.example.org.", RType::A);
    assert_eq!(f.calls(), 2, "servfail 0 disables SERVFAIL caching");

    // An error from the chain (no reply at all) is never cached.
    let f = Fixture::new(". {\n cache\n}");
    f.set(Answer {
        fail: true,
        ..Answer::default()
    });
    for _ in 0..2 {
        let req = request("a.example.org.", RType::A, Flags::default());
        let (_, result) = f.rt.block_on(async { f.chain.run(req).finish().await });
        assert!(result.is_err());
    }
    assert_eq!(f.calls(), 2);
}

#[test]
fn names_outside_the_cache_zones_pass_through() {
    let f = Fixture::new(". {\n cache example.org\n}");
    f.set(positive(&["a.example.net. 300 IN A 192.0.2.1"]));
    f.ask("a.example.net.", RType::A);
    let m = f.ask("a.example.net.", RType::A);
    assert_eq!(f.calls(), 2);
    assert_eq!(
        m.answer[0].ttl, 300,
        "TTLs of names outside the zones are untouched"
    );
    f.set(positive(&["a.example.org. 300 IN A 192.0.2.1"]));
    f.ask("a.example.org.", RType::A);
    f.ask("A.EXAMPLE.ORG.", RType::A);
    assert_eq!(f.calls(), 3);
}

// ---------------------------------------------------------------------------------------------
// The key
// ---------------------------------------------------------------------------------------------

#[test]
fn the_key_is_name_type_class_do_and_cd() {
    let f = Fixture::new(". {\n cache\n}");
    f.set(positive(&["a.example.org. 300 IN A 192.0.2.1"]));
    let plain = Flags::default();
    let dnssec = Flags {
        dnssec_ok: true,
        ..plain
    };
    let cd = Flags { cd: true, ..plain };
    let edns = Flags {
        edns: true,
        ..plain
    };
    // (name, type, flags, upstream calls after the query)
    let steps: &[(&str, RType, Flags, usize)] = &[
        ("a.example.org.", RType::A, plain, 1),
        ("a.example.org.", RType::A, plain, 1),
        ("A.Example.ORG.", RType::A, plain, 1),
        ("a.example.org.", RType::A, edns, 1),
        ("a.example.org.", RType::A, dnssec, 2),
        ("a.example.org.", RType::A, dnssec, 2),
        ("a.example.org.", RType::A, cd, 3),
        ("a.example.org.", RType::A, cd, 3),
        ("a.example.org.", RType::AAAA, plain, 4),
        ("b.example.org.", RType::A, plain, 5),
        ("a.example.org.", RType::A, plain, 5),
    ];
    for (i, &(name, qtype, flags, calls)) in steps.iter().enumerate() {
        f.run(request(name, qtype, flags));
        assert_eq!(f.calls(), calls, "step {i}: {name} {qtype}");
    }
}

#[test]
fn hits_are_authoritative_echo_the_question_case_and_clear_ad() {
    let f = Fixture::new(". {\n cache\n}");
    f.set(Answer {
        ad: true,
        ..positive(&["www.example.org. 300 IN A 192.0.2.1"])
    });
    let first = f.ask("www.example.org.", RType::A);
    assert!(!first.flags.aa, "a miss passes the upstream's AA through");
    assert!(
        !first.flags.ad,
        "AD is cleared for a client that wanted no DNSSEC"
    );
    assert!(first.flags.ra);
    let hit = f.ask("WWW.Example.org.", RType::A);
    assert_eq!(f.calls(), 1);
    assert!(hit.flags.aa && hit.flags.ra && !hit.flags.ad);
    assert_eq!(show(&hit.answer), ["WWW.Example.org. 300 A 192.0.2.1"]);
    assert_eq!(hit.id, 0x1234);

    // The cache asks with AD set (to keep the upstream's AD), and the query is restored.
    assert_eq!(*f.up.seen_ad.lock().unwrap(), [true]);
    let with_ad = Flags {
        ad: true,
        ..Flags::default()
    };
    let m = f.run(request("www.example.org.", RType::A, with_ad));
    assert!(m.flags.ad, "a client that set AD gets the stored AD bit");
    let req = request("other.example.org.", RType::A, Flags::default());
    let (req, _) = f.rt.block_on(async { f.chain.run(req).finish().await });
    assert!(
        !req.info.flags.ad && req.raw[3] & 0x20 == 0,
        "AD restored after the miss"
    );
}

// ---------------------------------------------------------------------------------------------
// Capacity
// ---------------------------------------------------------------------------------------------

#[test]
fn capacity_is_split_over_256_shards_of_at_least_four() {
    assert_eq!(Store::<u32>::new(10_000).per_shard(), 39);
    assert_eq!(Store::<u32>::new(0).per_shard(), 4);
    assert_eq!(Store::<u32>::new(1000).per_shard(), 4);
    assert_eq!(Store::<u32>::new(2560).per_shard(), 10);

    // One shard: keys that differ only outside the shard bits.
    let s = Store::new(0);
    let key = |i: u64| i | (7 << 32);
    for i in 0..4 {
        assert!(!s.insert(key(i), Arc::new(i)));
    }
    assert!(!s.insert(key(2), Arc::new(20)), "replacing is not evicting");
    assert_eq!(s.get(key(2)).as_deref(), Some(&20));
    assert!(s.insert(key(4), Arc::new(4)), "a full shard evicts");
    assert_eq!(s.len(), 4);
    assert_eq!((0..5).filter(|&i| s.get(key(i)).is_some()).count(), 4);
    assert_eq!(s.get(key(4)).as_deref(), Some(&4), "the new entry is kept");
    s.remove(key(4));
    assert_eq!(s.len(), 3);
    assert!(s.get(key(4)).is_none());
}

#[test]
fn a_full_cache_evicts_and_counts_it() {
    let f = Fixture::new("evict.test {\n cache {\n success 256\n }\n}");
    for i in 0..1500 {
        let name = format!("n{i}.evict.test.");
        f.set(positive(&[&format!("{name} 300 IN A 192.0.2.1")]));
        f.ask(&name, RType::A);
    }
    let core = &f.cache().core;
    assert!(core.success.len() <= 1024, "{} entries", core.success.len());
    assert!(core.success.len() > 900, "{} entries", core.success.len());
    let labels = &["server", "type", "zones", "view"];
    let evicted = counter(
        "coredns_cache_evictions_total",
        labels,
        &["dns://:53", "success", "evict.test.", ""],
    );
    assert_eq!(evicted, 1500 - core.success.len() as u64);
    let entries = registry()
        .gauge("coredns_cache_entries", "", labels)
        .with(&["dns://:53", "success", "evict.test.", ""])
        .get();
    assert_eq!(entries as usize, core.success.len());
    let requests = counter(
        "coredns_cache_requests_total",
        &["server", "zones", "view"],
        &["dns://:53", "evict.test.", ""],
    );
    let misses = counter(
        "coredns_cache_misses_total",
        &["server", "zones", "view"],
        &["dns://:53", "evict.test.", ""],
    );
    assert_eq!((requests, misses), (1500, 1500));
}

#[test]
fn mismatched_replies_count_as_drops() {
    let f = Fixture::new("drops.test {\n cache\n}");
    f.set(Answer {
        question: Some(("other.drops.test.", RType::A)),
        ..positive(&["other.drops.test. 300 IN A 192.0.2.1"])
    });
    f.ask("a.drops.test.", RType::A);
    f.ask("a.drops.test.", RType::A);
    assert_eq!(f.calls(), 2);
    let labels = &["server", "zones", "view"];
    assert_eq!(
        counter(
            "coredns_cache_drops_total",
            labels,
            &["dns://:53", "drops.test.", ""]
        ),
        2
    );
}

// ---------------------------------------------------------------------------------------------
// Prefetch
// ---------------------------------------------------------------------------------------------

#[test]
fn prefetch_refreshes_popular_entries_before_they_expire() {
    let f = Fixture::new("prefetch.test {\n cache {\n prefetch 3 1m 50%\n }\n}");
    f.set(positive(&["a.prefetch.test. 100 IN A 192.0.2.1"]));
    f.ask("a.prefetch.test.", RType::A);
    // Two hits, then more than half the TTL gone: only 2 hits in the run, no prefetch.
    f.ask("a.prefetch.test.", RType::A);
    f.advance(30);
    f.ask("a.prefetch.test.", RType::A);
    f.advance(30);
    f.settle();
    assert_eq!(f.calls(), 1);
    // The third hit of the run, with 40 s of 100 left: prefetched in the background while
    // the client gets the cached answer.
    f.set(positive(&["a.prefetch.test. 100 IN A 192.0.2.2"]));
    let m = f.ask("a.prefetch.test.", RType::A);
    assert_eq!(show(&m.answer), ["a.prefetch.test. 40 A 192.0.2.1"]);
    f.wait_calls(2);
    f.settle();
    let m = f.ask("a.prefetch.test.", RType::A);
    assert_eq!(show(&m.answer), ["a.prefetch.test. 100 A 192.0.2.2"]);
    let labels = &["server", "zones", "view"];
    assert_eq!(
        counter(
            "coredns_cache_prefetch_total",
            labels,
            &["dns://:53", "prefetch.test.", ""]
        ),
        1
    );
    // The refreshed entry kept the run of hits: the next hit near expiry prefetches again.
    f.advance(55);
    f.ask("a.prefetch.test.", RType::A);
    f.wait_calls(3);
}

#[test]
fn prefetch_needs_hits_without_long_gaps() {
    let f = Fixture::new(". {\n cache {\n prefetch 2 10s\n }\n}");
    f.set(positive(&["a.example.org. 100 IN A 192.0.2.1"]));
    f.ask("a.example.org.", RType::A);
    f.advance(91);
    f.ask("a.example.org.", RType::A); // hit 1 (9 s left, under 10%)
    f.advance(5);
    f.settle();
    assert_eq!(f.calls(), 1);
    f.ask("a.example.org.", RType::A); // hit 2 within 10 s: prefetch
    f.wait_calls(2);

    let f = Fixture::new(". {\n cache {\n prefetch 2 10s\n }\n}");
    f.set(positive(&["a.example.org. 100 IN A 192.0.2.1"]));
    f.ask("a.example.org.", RType::A);
    f.advance(80);
    f.ask("a.example.org.", RType::A); // hit 1
    f.advance(11);
    f.ask("a.example.org.", RType::A); // a gap over 10 s: the run starts again at 1
    f.settle();
    assert_eq!(f.calls(), 1);
}

// ---------------------------------------------------------------------------------------------
// serve_stale
// ---------------------------------------------------------------------------------------------

#[test]
fn serve_stale_immediate_answers_then_refreshes() {
    let f = Fixture::new("stale.test {\n cache {\n serve_stale 1h\n }\n}");
    f.set(positive(&["a.stale.test. 10 IN A 192.0.2.1"]));
    f.ask("a.stale.test.", RType::A);
    // Expired, and the upstream is failing: the stale answer, TTL 0, and a refresh attempt
    // that does not replace it.
    f.set(negative(Rcode::SERVFAIL, &[]));
    f.advance(15);
    let m = f.ask("a.stale.test.", RType::A);
    assert_eq!(
        (m.rcode, show(&m.answer)),
        (
            Rcode::NOERROR,
            vec!["a.stale.test. 0 A 192.0.2.1".to_string()]
        )
    );
    f.wait_calls(2);
    f.settle();
    let m = f.ask("a.stale.test.", RType::A);
    assert_eq!(show(&m.answer), ["a.stale.test. 0 A 192.0.2.1"]);
    f.wait_calls(3);
    f.settle();
    // The upstream is back: the next stale answer triggers a refresh that replaces it.
    f.set(positive(&["a.stale.test. 10 IN A 192.0.2.2"]));
    f.ask("a.stale.test.", RType::A);
    f.wait_calls(4);
    f.settle();
    let m = f.ask("a.stale.test.", RType::A);
    assert_eq!(show(&m.answer), ["a.stale.test. 10 A 192.0.2.2"]);
    let labels = &["server", "zones", "view"];
    assert_eq!(
        counter(
            "coredns_cache_served_stale_total",
            labels,
            &["dns://:53", "stale.test.", ""]
        ),
        3
    );
    // Past the stale window the entry is gone.
    f.set(Answer {
        fail: true,
        ..Answer::default()
    });
    f.advance(3600 + 11);
    let req = request("a.stale.test.", RType::A, Flags::default());
    let (_, result) = f.rt.block_on(async { f.chain.run(req).finish().await });
    assert!(result.is_err());
}

#[test]
fn serve_stale_response_ttl_and_keepttl() {
    let f = Fixture::new(". {\n cache {\n serve_stale 1h immediate 30s\n }\n}");
    f.set(positive(&["a.example.org. 10 IN A 192.0.2.1"]));
    f.ask("a.example.org.", RType::A);
    f.set(Answer {
        fail: true,
        ..Answer::default()
    });
    f.advance(20);
    assert_eq!(f.ask("a.example.org.", RType::A).answer[0].ttl, 30);

    let f = Fixture::new(". {\n cache {\n keepttl\n }\n}");
    f.set(positive(&["a.example.org. 100 IN A 192.0.2.1"]));
    f.ask("a.example.org.", RType::A);
    f.advance(60);
    assert_eq!(f.ask("a.example.org.", RType::A).answer[0].ttl, 100);
    assert_eq!(f.calls(), 1);
}

#[test]
fn serve_stale_verify_asks_first() {
    let f = Fixture::new(". {\n cache {\n serve_stale 1h verify\n }\n}");
    f.set(positive(&["a.example.org. 10 IN A 192.0.2.1"]));
    f.ask("a.example.org.", RType::A);
    f.advance(15);
    // The upstream fails: the stale entry is served after asking.
    for failure in [
        Answer {
            fail: true,
            ..Answer::default()
        },
        negative(Rcode::SERVFAIL, &[]),
        negative(Rcode::REFUSED, &[]),
    ] {
        let before = f.calls();
        f.set(failure);
        let m = f.ask("a.example.org.", RType::A);
        assert_eq!(f.calls(), before + 1, "verify asks in line");
        assert_eq!(show(&m.answer), ["a.example.org. 0 A 192.0.2.1"]);
    }
    // The upstream answers: that answer is served and replaces the entry.
    f.set(positive(&["a.example.org. 10 IN A 192.0.2.2"]));
    let m = f.ask("a.example.org.", RType::A);
    assert_eq!(show(&m.answer), ["a.example.org. 10 A 192.0.2.2"]);
    let calls = f.calls();
    f.ask("a.example.org.", RType::A);
    assert_eq!(f.calls(), calls, "fresh again");
    // NXDOMAIN also counts as a refresh.
    f.advance(15);
    f.set(negative(Rcode::NXDOMAIN, &[SOA_ORG]));
    assert_eq!(f.ask("a.example.org.", RType::A).rcode, Rcode::NXDOMAIN);
}

#[test]
fn serve_stale_verify_timeout_serves_stale_and_refreshes_later() {
    let f = Fixture::new(". {\n cache {\n serve_stale 1h verify 50ms\n }\n}");
    f.set(positive(&["a.example.org. 10 IN A 192.0.2.1"]));
    f.ask("a.example.org.", RType::A);
    f.advance(15);
    f.set(Answer {
        delay: Some(Duration::from_millis(300)),
        ..positive(&["a.example.org. 10 IN A 192.0.2.2"])
    });
    let m = f.ask("a.example.org.", RType::A);
    assert_eq!(
        show(&m.answer),
        ["a.example.org. 0 A 192.0.2.1"],
        "stale after the timeout"
    );
    // The verification goes on and refreshes the cache.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        f.set(Answer {
            fail: true,
            ..Answer::default()
        });
        let m = f.ask("a.example.org.", RType::A);
        if show(&m.answer) == ["a.example.org. 10 A 192.0.2.2"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never refreshed: {:?}",
            show(&m.answer)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // A fast upstream is served fresh within the timeout.
    f.advance(15);
    f.set(Answer {
        delay: Some(Duration::from_millis(1)),
        ..positive(&["a.example.org. 10 IN A 192.0.2.3"])
    });
    assert_eq!(
        show(&f.ask("a.example.org.", RType::A).answer),
        ["a.example.org. 10 A 192.0.2.3"]
    );
}

#[test]
fn failure_recheck_limits_refresh_attempts() {
    let f = Fixture::new(". {\n cache {\n serve_stale 1h verify 0s 0 30s\n }\n}");
    f.set(positive(&["a.example.org. 10 IN A 192.0.2.1"]));
    f.ask("a.example.org.", RType::A);
    f.advance(15);
    f.set(negative(Rcode::SERVFAIL, &[]));
    f.ask("a.example.org.", RType::A);
    assert_eq!(f.calls(), 2);
    // Within 30 s of the failed refresh: stale without asking.
    f.advance(10);
    assert_eq!(
        show(&f.ask("a.example.org.", RType::A).answer),
        ["a.example.org. 0 A 192.0.2.1"]
    );
    assert_eq!(f.calls(), 2);
    f.advance(21);
    f.ask("a.example.org.", RType::A);
    assert_eq!(f.calls(), 3);
}

#[test]
fn prefer_positive_keeps_serving_the_good_answer() {
    let f =
        Fixture::new(". {\n cache {\n serve_stale 1h\n serve_stale_policy prefer_positive\n }\n}");
    f.set(positive(&["a.example.org. 10 IN A 192.0.2.1"]));
    f.ask("a.example.org.", RType::A);
    f.advance(15);
    // The refresh brings NXDOMAIN: stored, but the stale positive answer is preferred.
    f.set(negative(Rcode::NXDOMAIN, &[SOA_ORG]));
    f.ask("a.example.org.", RType::A);
    f.wait_calls(2);
    f.settle();
    let m = f.ask("a.example.org.", RType::A);
    assert_eq!(
        (m.rcode, show(&m.answer)),
        (
            Rcode::NOERROR,
            vec!["a.example.org. 0 A 192.0.2.1".to_string()]
        )
    );
}

#[test]
fn a_cached_servfail_does_not_shadow_a_good_answer() {
    let f = Fixture::new(". {\n cache {\n serve_stale 1h\n }\n}");
    let core = &f.cache().core;
    // Put a SERVFAIL in the denial cache beside an expired positive entry, as a miss
    // during an outage would.
    f.set(positive(&["a.example.org. 10 IN A 192.0.2.1"]));
    f.ask("a.example.org.", RType::A);
    f.advance(15);
    let req = request("a.example.org.", RType::A, Flags::default());
    let key =
        super::key::KeyRef::of(&req).to_owned(super::key::KeyRef::of(&req).hash(&core.hasher));
    let mut servfail = Message {
        rcode: Rcode::SERVFAIL,
        ..Message::default()
    };
    servfail.flags.qr = true;
    let series = core.metrics.server("dns://:53");
    assert!(core
        .on_reply(&mut servfail, &key, None, false, &series)
        .is_some());
    let m = f.ask("a.example.org.", RType::A);
    assert_eq!(
        (m.rcode, show(&m.answer)),
        (
            Rcode::NOERROR,
            vec!["a.example.org. 0 A 192.0.2.1".to_string()]
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Kubernetes
// ---------------------------------------------------------------------------------------------

const HANDLER: &str = include_str!("../../../../tests/fixtures/kubernetes/handler.yaml");

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!("cairn-cache-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_kubernetes_change_ends_cached_cluster_answers() {
    let dir = Scratch::new();
    std::fs::write(dir.0.join("cluster.yaml"), HANDLER).unwrap();
    let cache = setup(spec("cache"), ". {\n cache 300\n}", None).unwrap();
    let mut k8s = setup(
        spec("kubernetes"),
        ". {\n kubernetes cluster.local {\n manifests cluster.yaml\n ttl 30\n }\n}",
        Some(dir.0.clone()),
    )
    .unwrap();
    let up = Arc::new(Upstream::default());
    let chain = Chain::new(vec![
        cache.plugins[0].clone(),
        k8s.plugins[0].clone(),
        up.clone(),
    ]);
    let core = &cache.plugins[0]
        .as_any()
        .downcast_ref::<Cache>()
        .unwrap()
        .core;
    let store = k8s.plugins[0]
        .as_any()
        .downcast_ref::<crate::kubernetes::Kubernetes>()
        .unwrap()
        .store()
        .clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let ask = |name: &str| {
        let req = request(name, RType::A, Flags::default());
        let (req, result) = rt.block_on(async { chain.run(req).finish().await });
        on_the_wire(&req, &result.unwrap())
    };
    // Cached: the TTLs count down.
    up.answer.lock().unwrap().answer = rrs(&["www.example.org. 300 IN A 192.0.2.1"]);
    assert_eq!(
        show(&ask("svc1.testns.svc.cluster.local.").answer),
        ["svc1.testns.svc.cluster.local. 30 A 10.0.0.1"]
    );
    assert_eq!(
        ask("added.testns.svc.cluster.local.").rcode,
        Rcode::NXDOMAIN
    );
    ask("www.example.org.");
    core.advance(Duration::from_secs(10));
    assert_eq!(
        show(&ask("svc1.testns.svc.cluster.local.").answer),
        ["svc1.testns.svc.cluster.local. 20 A 10.0.0.1"]
    );
    let m = ask("added.testns.svc.cluster.local.");
    assert_eq!((m.rcode, m.authority[0].ttl), (Rcode::NXDOMAIN, 20));

    // The manifest changes; the kubernetes source (its service) publishes it.
    let (shutdown, trigger) = cairn_core::setup::Shutdown::new();
    let service = k8s.parts.services.remove(0);
    rt.spawn((service.run)(shutdown));
    let generation = store.generation();
    std::thread::sleep(Duration::from_millis(1100));
    let changed = HANDLER.replace("clusterIP: 10.0.0.1\n", "clusterIP: 10.0.0.99\n")
        + "---\napiVersion: v1\nkind: Service\nmetadata: {name: added, namespace: testns}\n\
           spec:\n  clusterIP: 10.0.0.77\n";
    std::fs::write(dir.0.join("cluster.yaml"), changed).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.generation() == generation {
        assert!(
            Instant::now() < deadline,
            "the manifest change was never published"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // No clock movement: the cached entries would still be fresh by their TTLs.
    assert_eq!(
        show(&ask("svc1.testns.svc.cluster.local.").answer),
        ["svc1.testns.svc.cluster.local. 30 A 10.0.0.99"]
    );
    assert_eq!(
        show(&ask("added.testns.svc.cluster.local.").answer),
        ["added.testns.svc.cluster.local. 30 A 10.0.0.77"]
    );
    // And the new answers are cached in turn.
    core.advance(Duration::from_secs(5));
    assert_eq!(ask("svc1.testns.svc.cluster.local.").answer[0].ttl, 25);
    // Names outside the cluster zones keep their entries.
    // (300 s, minus the 15 s the clock moved, minus the real seconds the test took.)
    let ttl = ask("www.example.org.").answer[0].ttl;
    assert!((270..=285).contains(&ttl), "{ttl}");
    assert_eq!(up.calls.load(Ordering::SeqCst), 1);
    trigger.fire();
}

#[test]
fn k8s_external_zones_are_stamped_like_the_cluster_zones() {
    let dir = Scratch::new();
    std::fs::write(dir.0.join("cluster.yaml"), HANDLER).unwrap();
    let external = setup(
        spec("k8s_external"),
        "example.com {\n k8s_external\n}",
        None,
    )
    .unwrap();
    let k8s = setup(
        spec("kubernetes"),
        ". {\n kubernetes cluster.local {\n manifests cluster.yaml\n }\n}",
        Some(dir.0.clone()),
    )
    .unwrap();
    let view =
        super::cluster::ClusterView::find(&[external.plugins[0].clone(), k8s.plugins[0].clone()])
            .expect("a kubernetes plugin in the chain");
    let wire = |n: &str| {
        cairn_core::wire::Name::parse(n, None)
            .unwrap()
            .wire()
            .to_vec()
    };
    assert!(view
        .generation_for(&wire("svc1.testns.example.com."))
        .is_some());
    assert!(view
        .generation_for(&wire("svc1.testns.svc.cluster.local."))
        .is_some());
    assert_eq!(view.generation_for(&wire("www.example.org.")), None);
}
