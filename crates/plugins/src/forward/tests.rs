//! Case tables for `forward`: option parsing (each option, each error at its line), TO
//! forms, policies, failure counting, and exchanges with in-process upstreams written with
//! hickory-proto (an implementation independent of ours).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message as HMessage, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData as HRData, Record as HRecord};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

use cairn_core::metrics::registry;
use cairn_core::setup::Shutdown;
use cairn_core::testing::{query, query_from, setup, with_setup_ctx, StubNext, TestSetup};
use cairn_core::wire::{Message, Name, RData, RType, Rcode};
use cairn_core::{Chain, Proto, SetupError};

use super::health::HealthCheck;
use super::policy::{Policy, PolicyKind};
use super::pool::Slot;
use super::setup::{parse_options, Options};
use super::target::{self, Entry, Target};
use super::Forward;
use crate::registry::spec;

// ---------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------

/// Parses the first `forward` line of `corefile` (relative files against `dir`).
fn options_in(corefile: &str, dir: Option<PathBuf>) -> Result<(Options, Vec<Target>), SetupError> {
    with_setup_ctx("forward", corefile, dir, |ctx| {
        parse_options(ctx, &ctx.directives[0])
    })
    .map(|(r, _)| r)
}

fn options(corefile: &str) -> (Options, Vec<Target>) {
    options_in(corefile, None).unwrap_or_else(|e| panic!("{corefile}: {e}"))
}

fn block(lines: &str) -> String {
    format!(". {{\n  forward . 127.0.0.1 {{\n{lines}\n  }}\n}}\n")
}

fn name(s: &str) -> Name {
    Name::parse(s, None).unwrap()
}

#[test]
fn defaults_are_coredns_defaults() {
    let (o, t) = options(". {\n forward . 127.0.0.1\n}\n");
    assert_eq!(o.from, Name::root());
    assert!(o.ignored.is_empty());
    assert!(!o.force_tcp && !o.prefer_udp);
    assert_eq!(o.expire, Duration::from_secs(10));
    assert_eq!(o.max_age, Duration::ZERO);
    assert_eq!(o.max_idle_conns, 0);
    assert_eq!(o.read_timeout, Duration::from_secs(2));
    assert_eq!(o.max_fails, 2);
    assert_eq!(o.max_connect_attempts, None);
    assert_eq!(o.policy, PolicyKind::Random);
    assert_eq!(o.hc_interval, Duration::from_millis(500));
    assert!(o.hc_recursion_desired);
    assert_eq!(o.hc_domain, Name::root());
    assert_eq!(o.max_concurrent, 0);
    assert!(o.next.is_empty() && o.failover.is_empty());
    assert!(!o.failfast && !o.next_on_nodata);
    assert_eq!(o.source_address, None);
    assert_eq!(
        t,
        vec![Target {
            addr: "127.0.0.1:53".parse().unwrap(),
            tls: false,
            server_name: None
        }]
    );
}

#[test]
fn each_option_sets_its_field() {
    let o = |lines: &str| options(&block(lines)).0;
    assert_eq!(
        o("except example.org Example.NET").ignored,
        vec![name("example.org."), name("example.net.")]
    );
    assert!(o("force_tcp").force_tcp);
    assert!(o("prefer_udp").prefer_udp);
    let both = o("force_tcp\nprefer_udp");
    assert!(both.force_tcp && both.prefer_udp);
    assert_eq!(o("expire 1m30s").expire, Duration::from_secs(90));
    assert_eq!(o("expire 0s").expire, Duration::ZERO);
    assert_eq!(o("max_age 20s").max_age, Duration::from_secs(20));
    assert_eq!(o("max_idle_conns 7").max_idle_conns, 7);
    assert_eq!(
        o("read_timeout 750ms").read_timeout,
        Duration::from_millis(750)
    );
    assert_eq!(o("max_fails 0").max_fails, 0);
    assert_eq!(o("max_fails 5").max_fails, 5);
    assert_eq!(o("max_connect_attempts 0").max_connect_attempts, Some(0));
    assert_eq!(o("max_connect_attempts 3").max_connect_attempts, Some(3));
    assert_eq!(o("policy sequential").policy, PolicyKind::Sequential);
    assert_eq!(o("policy round_robin").policy, PolicyKind::RoundRobin);
    assert_eq!(o("policy random").policy, PolicyKind::Random);
    let hc = o("health_check 2s no_rec domain Example.org");
    assert_eq!(hc.hc_interval, Duration::from_secs(2));
    assert!(!hc.hc_recursion_desired);
    assert_eq!(hc.hc_domain, name("example.org."));
    assert_eq!(
        o("health_check 0.5s domain example.org").hc_domain,
        name("example.org.")
    );
    assert_eq!(o("max_concurrent 1000").max_concurrent, 1000);
    assert_eq!(
        o("next NXDOMAIN servfail").next,
        vec![Rcode::NXDOMAIN, Rcode::SERVFAIL]
    );
    assert!(o("next_on_nodata").next_on_nodata);
    assert!(o("failfast_all_unhealthy_upstreams").failfast);
    assert_eq!(
        o("failover SERVFAIL REFUSED").failover,
        vec![Rcode::SERVFAIL, Rcode::REFUSED]
    );
    assert_eq!(
        o("source_address 192.0.2.1").source_address,
        Some("192.0.2.1".parse().unwrap())
    );
    assert_eq!(
        o("source_address ::ffff:192.0.2.1").source_address,
        Some("192.0.2.1".parse().unwrap())
    );
    assert_eq!(
        o("source_address 2001:db8::1").source_address,
        Some("2001:db8::1".parse().unwrap())
    );
    assert_eq!(
        o("resolver 127.0.0.1 [::1]:5353").resolver,
        vec![
            "127.0.0.1:53".parse::<SocketAddr>().unwrap(),
            "[::1]:5353".parse().unwrap()
        ]
    );
    assert_eq!(
        o("tls_servername dns.example").tls_servername.as_deref(),
        Some("dns.example")
    );
    // Accepted for compatibility; DoH upstreams themselves are refused.
    o("doh_method GET");
}

#[test]
fn from_is_normalised() {
    let from = |f: &str| {
        options(&format!(". {{\n forward {f} 127.0.0.1\n}}\n"))
            .0
            .from
    };
    assert_eq!(from("Example.ORG"), name("example.org."));
    assert_eq!(from("example.org."), name("example.org."));
    assert_eq!(from("10.0.0.0/8"), name("10.in-addr.arpa."));
    // A CIDR that expands to several zones keeps the first.
    assert_eq!(from("10.9.3.0/18"), name("0.9.10.in-addr.arpa."));
}

/// (Corefile, text the error must contain, line it must name).
const ERRORS: &[(&str, &str, u32)] = &[
    (". {\n forward\n}\n", "Wrong argument count", 2),
    (". {\n forward .\n}\n", "Wrong argument count", 2),
    (". {\n forward . 127.0.0.1 {\n  blaatl\n }\n}\n", "unknown property 'blaatl'", 3),
    (". {\n forward . 127.0.0.1 {\n  health_check 0.5s domain\n }\n}\n", "Wrong argument count or unexpected line ending after 'domain'", 3),
    (". {\n forward . 127.0.0.1 {\n  health_check 0.5s bogus\n }\n}\n", "health_check: unknown option bogus", 3),
    (". {\n forward . 127.0.0.1 {\n  health_check -1s\n }\n}\n", "health_check can't be negative", 3),
    (". {\n forward . 127.0.0.1 {\n  health_check\n }\n}\n", "Wrong argument count", 3),
    (". {\n forward . 127.0.0.1 {\n  health_check 1s domain bad..name\n }\n}\n", "health_check: invalid domain name bad..name", 3),
    (". {\n forward . 127.0.0.1 {\n  force_tcp yes\n }\n}\n", "Wrong argument count", 3),
    (". {\n forward . 127.0.0.1 {\n  prefer_udp yes\n }\n}\n", "Wrong argument count", 3),
    (". {\n forward . 127.0.0.1 {\n  expire\n }\n}\n", "Wrong argument count", 3),
    (". {\n forward . 127.0.0.1 {\n  expire -5s\n }\n}\n", "expire can't be negative", 3),
    (". {\n forward . 127.0.0.1 {\n  expire soon\n }\n}\n", "time: invalid duration", 3),
    (". {\n forward . 127.0.0.1 {\n  expire 10s\n  max_age 5s\n }\n}\n", "max_age (5s) must not be less than expire (10s)", 2),
    (". {\n forward . 127.0.0.1 {\n  max_idle_conns -1\n }\n}\n", "max_idle_conns", 3),
    (". {\n forward . 127.0.0.1 {\n  read_timeout 0s\n }\n}\n", "read_timeout must be positive", 3),
    (". {\n forward . 127.0.0.1 {\n  max_fails many\n }\n}\n", "max_fails", 3),
    (". {\n forward . 127.0.0.1 {\n  max_connect_attempts -2\n }\n}\n", "max_connect_attempts", 3),
    (". {\n forward . 127.0.0.1 {\n  policy fastest\n }\n}\n", "unknown policy 'fastest'", 3),
    (". {\n forward . 127.0.0.1 {\n  policy\n }\n}\n", "Wrong argument count", 3),
    (". {\n forward . 127.0.0.1 {\n  max_concurrent -1\n }\n}\n", "max_concurrent", 3),
    (". {\n forward . 127.0.0.1 {\n  next\n }\n}\n", "Wrong argument count", 3),
    (". {\n forward . 127.0.0.1 {\n  next NXDOMAIN BOGUS\n }\n}\n", "BOGUS is not a valid rcode", 3),
    (". {\n forward . 127.0.0.1 {\n  failover NOERROR\n }\n}\n", "NoError cannot be used in failover", 3),
    (". {\n forward . 127.0.0.1 {\n  failover\n }\n}\n", "Wrong argument count", 3),
    (". {\n forward . 127.0.0.1 {\n  failfast_all_unhealthy_upstreams now\n }\n}\n", "Wrong argument count", 3),
    (". {\n forward . 127.0.0.1 {\n  next_on_nodata 1\n }\n}\n", "Wrong argument count", 3),
    (". {\n forward . 127.0.0.1 {\n  source_address not-an-ip\n }\n}\n", "invalid IP address: not-an-ip", 3),
    (". {\n forward . 127.0.0.1 {\n  source_address\n }\n}\n", "Wrong argument count or unexpected line ending after 'source_address'", 3),
    (". {\n forward . 127.0.0.1 {\n  resolver dns.example\n }\n}\n", "resolver must be an IP address or IP:port", 3),
    (". {\n forward . 127.0.0.1 {\n  doh_method PUT\n }\n}\n", "doh_method must be either GET or POST", 3),
    (". {\n forward . 127.0.0.1 {\n  tls a b c d\n }\n}\n", "Wrong argument count", 3),
    (". {\n forward . 127.0.0.1 {\n  tls /nonexistent/ca.pem\n }\n}\n", "error reading /nonexistent/ca.pem", 3),
    (". {\n forward . 127.0.0.1 {\n  tls_servername\n }\n}\n", "Wrong argument count", 3),
    (". {\n forward . tls://127.0.0.1%a.example {\n  tls_servername b.example\n }\n}\n", "both forward ('b.example') and proxy level ('a.example') TLS servernames are set", 2),
    (". {\n forward . https://1.1.1.1\n}\n", "not supported by Cairn yet", 2),
    (". {\n forward . quic://1.1.1.1\n}\n", "'quic' is not supported as a destination protocol in forward", 2),
    (". {\n forward . 127.0.0.1\n forward . bad/path/file\n}\n", "not an IP address, file, or valid domain", 3),
    (". {\n forward . 127.0.0.1 999.1.2.3:x\n}\n", "not an IP address, file, or valid domain", 2),
    (". {\n forward xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx 127.0.0.1\n}\n", "unable to normalize 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'", 2),
    (". {\n forward . 127.0.0.1 {\n  except\n }\n}\n", "Wrong argument count", 3),
    (". {\n forward . 127.0.0.1 {\n  expire 1s {\n  }\n }\n}\n", "unknown property 'expire'", 3),
];

#[test]
fn errors_name_their_line() {
    for (corefile, want, line) in ERRORS {
        let e = setup(spec("forward"), corefile, None)
            .err()
            .unwrap_or_else(|| panic!("no error for {corefile:?}"));
        assert!(
            e.message.contains(want),
            "{corefile:?}: want {want:?}, got {:?}",
            e.message
        );
        assert_eq!(e.line, *line, "{corefile:?}: {e}");
        assert_eq!(e.file, "Corefile");
    }
}

#[test]
fn more_than_fifteen_tos_is_an_error() {
    let tos: Vec<String> = (1..=16).map(|i| format!("127.0.0.{i}")).collect();
    let corefile = format!(". {{\n forward . {}\n}}\n", tos.join(" "));
    let e = setup(spec("forward"), &corefile, None).err().unwrap();
    assert!(
        e.message.contains("more than 15 TOs configured: 16"),
        "{}",
        e.message
    );
    let corefile = format!(". {{\n forward . {}\n}}\n", tos[..15].join(" "));
    let s = setup(spec("forward"), &corefile, None).unwrap();
    assert_eq!(forward_of(&s).upstreams().len(), 15);
}

// ---------------------------------------------------------------------------------------
// TO forms
// ---------------------------------------------------------------------------------------

fn static_targets(arg: &str) -> Vec<Target> {
    match target::classify(arg, std::path::Path::new("/")).unwrap() {
        Some(Entry::Static(t)) => t,
        other => panic!("{arg}: {other:?}"),
    }
}

fn one(arg: &str) -> (String, bool, Option<String>) {
    let t = static_targets(arg);
    assert_eq!(t.len(), 1, "{arg}");
    (t[0].addr.to_string(), t[0].tls, t[0].server_name.clone())
}

#[test]
fn to_forms() {
    let s = |x: &str| x.to_string();
    assert_eq!(one("127.0.0.1"), (s("127.0.0.1:53"), false, None));
    assert_eq!(one("127.0.0.1:8053"), (s("127.0.0.1:8053"), false, None));
    assert_eq!(one("dns://10.0.0.1:54"), (s("10.0.0.1:54"), false, None));
    assert_eq!(one("::1"), (s("[::1]:53"), false, None));
    assert_eq!(one("[::1]"), (s("[::1]:53"), false, None));
    assert_eq!(one("[2003::1]:5353"), (s("[2003::1]:5353"), false, None));
    assert_eq!(one("tls://9.9.9.9"), (s("9.9.9.9:853"), true, None));
    assert_eq!(one("tls://9.9.9.9:10853"), (s("9.9.9.9:10853"), true, None));
    assert_eq!(
        one("tls://9.9.9.9%dns.quad9.net"),
        (s("9.9.9.9:853"), true, Some(s("dns.quad9.net")))
    );
    assert_eq!(
        one("tls://127.0.0.1%example.net:854"),
        (s("127.0.0.1:854"), true, Some(s("example.net")))
    );
    assert_eq!(
        one("tls://[2400:3200::1%dns.alidns.com]:853"),
        (s("[2400:3200::1]:853"), true, Some(s("dns.alidns.com")))
    );
    // A %name on a plain-DNS upstream is dropped (it would be an IPv6 zone).
    assert_eq!(one("10.0.0.1%eth0"), (s("10.0.0.1:53"), false, None));
}

#[test]
fn split_server_name_like_coredns() {
    let cases = [
        (
            "127.0.0.1%example.net:854",
            "127.0.0.1:854",
            Some("example.net"),
        ),
        ("127.0.0.1%example.net", "127.0.0.1", Some("example.net")),
        ("[::1%example.net]:853", "[::1]:853", Some("example.net")),
        ("127.0.0.1:853", "127.0.0.1:853", None),
    ];
    for (input, host, name) in cases {
        let (h, n) = target::split_server_name(input);
        assert_eq!((h.as_str(), n.as_deref()), (host, name), "{input}");
    }
}

#[test]
fn resolv_conf_files_give_their_nameservers_on_port_53() {
    let dir = temp_dir("resolv");
    std::fs::write(
        dir.join("resolv.conf"),
        "# comment\nsearch example.org\nnameserver 10.0.0.1\nnameserver fe80::1%eth0\n\
         nameserver not-an-ip\noptions ndots:5\nnameserver 10.0.0.2\n",
    )
    .unwrap();
    std::fs::write(dir.join("empty.conf"), "search example.org\n").unwrap();
    let (_, t) = options_in(
        ". {\n forward . resolv.conf 10.0.0.1:53 empty.conf 10.0.0.3\n}\n",
        Some(dir.clone()),
    )
    .unwrap();
    let addrs: Vec<String> = t.iter().map(|t| t.addr.to_string()).collect();
    // Duplicates (10.0.0.1:53) are dropped, the empty file is skipped.
    assert_eq!(
        addrs,
        ["10.0.0.1:53", "[fe80::1]:53", "10.0.0.2:53", "10.0.0.3:53"]
    );
    let e = options_in(". {\n forward . empty.conf\n}\n", Some(dir))
        .err()
        .unwrap();
    assert!(
        e.message.contains("no valid upstream addresses found"),
        "{e}"
    );
}

#[test]
fn host_names_resolve_through_the_resolver_option() {
    let rt = runtime();
    rt.block_on(async {
        let up = Responder::start(Arc::new(|q: &HMessage, _| {
            let qname = q.queries[0].name().to_ascii();
            if qname == "dns.example.test." && q.queries[0].query_type() == hickory_proto::rr::RecordType::A {
                vec![answer(q, [127, 0, 0, 9])]
            } else {
                vec![reply(q, ResponseCode::NoError)]
            }
        }))
        .await;
        let corefile = format!(
            ". {{\n forward . dns.example.test:5300 tls://dns.example.test%name.test {{\n  resolver {}\n }}\n}}\n",
            up.addr
        );
        let (_, t) = tokio::task::spawn_blocking(move || options(&corefile))
            .await
            .unwrap();
        assert_eq!(
            t,
            vec![
                Target {
                    addr: "127.0.0.9:5300".parse().unwrap(),
                    tls: false,
                    server_name: None
                },
                Target {
                    addr: "127.0.0.9:853".parse().unwrap(),
                    tls: true,
                    server_name: Some("name.test".into())
                },
            ]
        );
        let corefile = format!(
            ". {{\n forward . missing.example.test {{\n  resolver {}\n }}\n}}\n",
            up.addr
        );
        let e = tokio::task::spawn_blocking(move || options_in(&corefile, None))
            .await
            .unwrap()
            .err()
            .unwrap();
        assert!(e.message.contains("failed to resolve \"missing.example.test\""), "{e}");
        assert_eq!(e.line, 2);
    });
}

// ---------------------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------------------

#[test]
fn sequential_keeps_the_list_order() {
    let p = Policy::new(PolicyKind::Sequential);
    for _ in 0..3 {
        assert_eq!(p.order(3).as_slice(), [0, 1, 2]);
    }
}

#[test]
fn round_robin_puts_the_next_one_first_like_coredns() {
    let p = Policy::new(PolicyKind::RoundRobin);
    let got: Vec<Vec<u8>> = (0..4).map(|_| p.order(3).as_slice().to_vec()).collect();
    assert_eq!(
        got,
        [vec![1, 0, 2], vec![2, 0, 1], vec![0, 1, 2], vec![1, 0, 2]]
    );
    assert_eq!(p.order(1).as_slice(), [0]);
}

#[test]
fn random_is_a_permutation_and_varies() {
    let p = Policy::new(PolicyKind::Random);
    let mut firsts = [0usize; 4];
    for _ in 0..400 {
        let o = p.order(4);
        let mut sorted = o.as_slice().to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 1, 2, 3]);
        firsts[usize::from(o.as_slice()[0])] += 1;
    }
    assert!(firsts.iter().all(|&c| c > 0), "{firsts:?}");
}

// ---------------------------------------------------------------------------------------
// In-process upstreams
// ---------------------------------------------------------------------------------------

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "cairn-forward-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What an upstream sends back for one query: zero or more messages (raw bytes).
type Handler = Arc<dyn Fn(&HMessage, Proto) -> Vec<Vec<u8>> + Send + Sync>;

/// A DNS server on 127.0.0.1 (UDP and TCP on one port) answering through a handler.
struct Responder {
    addr: SocketAddr,
    udp_queries: Arc<AtomicUsize>,
    tcp_queries: Arc<AtomicUsize>,
    tcp_conns: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Responder {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Responder {
    async fn start(handler: Handler) -> Responder {
        loop {
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let addr = udp.local_addr().unwrap();
            let Ok(tcp) = TcpListener::bind(addr).await else {
                continue;
            };
            return Responder::serve(udp, tcp, handler);
        }
    }

    fn serve(udp: UdpSocket, tcp: TcpListener, handler: Handler) -> Responder {
        let addr = udp.local_addr().unwrap();
        let udp_queries = Arc::new(AtomicUsize::new(0));
        let tcp_queries = Arc::new(AtomicUsize::new(0));
        let tcp_conns = Arc::new(AtomicUsize::new(0));
        let (h, count) = (handler.clone(), udp_queries.clone());
        let udp_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65535];
            loop {
                let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                    continue;
                };
                let Ok(q) = HMessage::from_vec(&buf[..n]) else {
                    continue;
                };
                count.fetch_add(1, Ordering::SeqCst);
                for out in h(&q, Proto::Udp) {
                    let _ = udp.send_to(&out, from).await;
                }
            }
        });
        let (h, count, conns) = (handler, tcp_queries.clone(), tcp_conns.clone());
        let tcp_task = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = tcp.accept().await else {
                    continue;
                };
                conns.fetch_add(1, Ordering::SeqCst);
                let (h, count) = (h.clone(), count.clone());
                tokio::spawn(async move {
                    loop {
                        let mut len = [0u8; 2];
                        if s.read_exact(&mut len).await.is_err() {
                            return;
                        }
                        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
                        if s.read_exact(&mut buf).await.is_err() {
                            return;
                        }
                        let Ok(q) = HMessage::from_vec(&buf) else {
                            return;
                        };
                        count.fetch_add(1, Ordering::SeqCst);
                        for out in h(&q, Proto::Tcp) {
                            let mut frame = (out.len() as u16).to_be_bytes().to_vec();
                            frame.extend_from_slice(&out);
                            if s.write_all(&frame).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        Responder {
            addr,
            udp_queries,
            tcp_queries,
            tcp_conns,
            tasks: vec![udp_task, tcp_task],
        }
    }
}

/// A reply to `q` with `rcode` and no records (RA set).
fn reply(q: &HMessage, rcode: ResponseCode) -> Vec<u8> {
    let mut m = HMessage::new(q.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.metadata.response_code = rcode;
    m.add_queries(q.queries.clone());
    m.to_vec().unwrap()
}

/// A NOERROR reply to `q` with one A record.
fn answer(q: &HMessage, ip: [u8; 4]) -> Vec<u8> {
    let mut m = HMessage::new(q.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.add_queries(q.queries.clone());
    m.add_answer(HRecord::from_rdata(
        q.queries[0].name().clone(),
        300,
        HRData::A(A::from(std::net::Ipv4Addr::from(ip))),
    ));
    m.to_vec().unwrap()
}

/// Sets up `forward` lines (`{A}`, `{B}` replaced by the responders' addresses) followed by
/// a stub answering REFUSED.
fn chain(corefile: &str, ups: &[&Responder]) -> (TestSetup, Chain, Arc<StubNext>) {
    let mut text = corefile.to_string();
    for (i, up) in ups.iter().enumerate() {
        text = text.replace(
            &format!("{{{}}}", (b'A' + i as u8) as char),
            &up.addr.to_string(),
        );
    }
    let s = setup(spec("forward"), &text, None).unwrap_or_else(|e| panic!("{text}: {e}"));
    let next = StubNext::new(Rcode::REFUSED);
    let c = s.chain_with(next.clone());
    (s, c, next)
}

fn forward_of(s: &TestSetup) -> &Forward {
    s.plugins[0].as_any().downcast_ref::<Forward>().unwrap()
}

async fn ask(chain: &Chain, qname: &str, qtype: RType) -> Result<Message, cairn_core::PluginError> {
    ask_over(chain, qname, qtype, Proto::Udp).await
}

async fn ask_over(
    chain: &Chain,
    qname: &str,
    qtype: RType,
    proto: Proto,
) -> Result<Message, cairn_core::PluginError> {
    let req = query_from(qname, qtype, "10.240.0.1:40212".parse().unwrap(), proto);
    chain.run(req).finish().await.1
}

fn a_records(m: &Message) -> Vec<IpAddr> {
    m.answer
        .iter()
        .filter_map(|r| match r.data {
            RData::A(a) => Some(IpAddr::V4(a)),
            _ => None,
        })
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Starts the health-check services registered by the setup.
fn start_services(s: &mut TestSetup) -> cairn_core::setup::ShutdownTrigger {
    let (shutdown, trigger) = Shutdown::new();
    for svc in s.parts.services.drain(..) {
        tokio::spawn((svc.run)(shutdown.clone()));
    }
    trigger
}

// ---------------------------------------------------------------------------------------
// Exchanges
// ---------------------------------------------------------------------------------------

#[test]
fn forwards_with_the_clients_id_and_the_upstreams_flags() {
    runtime().block_on(async {
        let up = Responder::start(Arc::new(|q: &HMessage, _| vec![answer(q, [10, 0, 0, 1])])).await;
        let (_s, c, next) = chain(". {\n forward . {A}\n}\n", &[&up]);
        let req = query("WwW.Example.ORG.", RType::A);
        let id = req.info.id;
        let (req, result) = c.run(req).finish().await;
        let m = result.unwrap();
        assert_eq!(m.id, id);
        assert!(m.flags.qr && m.flags.ra && m.flags.rd);
        assert_eq!(a_records(&m), [ip("10.0.0.1")]);
        assert_eq!(m.answer[0].ttl, 300);
        // The question the client sees is its own (case kept).
        assert_eq!(req.info.qname.to_name().to_string(), "WwW.Example.ORG.");
        assert_eq!(next.calls(), 0);
        assert_eq!(up.udp_queries.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn transport_follows_the_client_unless_forced() {
    runtime().block_on(async {
        let up = Responder::start(Arc::new(|q: &HMessage, proto| {
            vec![answer(
                q,
                if proto == Proto::Udp {
                    [1, 1, 1, 1]
                } else {
                    [2, 2, 2, 2]
                },
            )]
        }))
        .await;
        let (_s, c, _) = chain(". {\n forward . {A}\n}\n", &[&up]);
        let udp = ask_over(&c, "a.example.", RType::A, Proto::Udp)
            .await
            .unwrap();
        assert_eq!(a_records(&udp), [ip("1.1.1.1")]);
        let tcp = ask_over(&c, "a.example.", RType::A, Proto::Tcp)
            .await
            .unwrap();
        assert_eq!(a_records(&tcp), [ip("2.2.2.2")]);

        let (_s, c, _) = chain(". {\n forward . {A} {\n  force_tcp\n }\n}\n", &[&up]);
        let m = ask_over(&c, "a.example.", RType::A, Proto::Udp)
            .await
            .unwrap();
        assert_eq!(a_records(&m), [ip("2.2.2.2")]);

        let (_s, c, _) = chain(". {\n forward . {A} {\n  prefer_udp\n }\n}\n", &[&up]);
        let m = ask_over(&c, "a.example.", RType::A, Proto::Tcp)
            .await
            .unwrap();
        assert_eq!(a_records(&m), [ip("1.1.1.1")]);

        // force_tcp wins over prefer_udp.
        let (_s, c, _) = chain(
            ". {\n forward . {A} {\n  prefer_udp\n  force_tcp\n }\n}\n",
            &[&up],
        );
        let m = ask_over(&c, "a.example.", RType::A, Proto::Udp)
            .await
            .unwrap();
        assert_eq!(a_records(&m), [ip("2.2.2.2")]);
    });
}

/// Over UDP: the reply truncated (TC, no records); over TCP the whole answer.
fn tc_over_udp(q: &HMessage, proto: Proto) -> Vec<Vec<u8>> {
    if proto == Proto::Udp {
        let mut m = HMessage::from_vec(&reply(q, ResponseCode::NoError)).unwrap();
        m.metadata.truncation = true;
        vec![m.to_vec().unwrap()]
    } else {
        vec![answer(q, [3, 3, 3, 3])]
    }
}

#[test]
fn truncated_reply_is_retried_over_tcp_with_prefer_udp_and_passed_on_otherwise() {
    runtime().block_on(async {
        let up = Responder::start(Arc::new(tc_over_udp)).await;
        let (_s, c, _) = chain(". {\n forward . {A} {\n  prefer_udp\n }\n}\n", &[&up]);
        let m = ask(&c, "big.example.", RType::A).await.unwrap();
        assert!(!m.flags.tc);
        assert_eq!(a_records(&m), [ip("3.3.3.3")]);
        assert_eq!(up.udp_queries.load(Ordering::SeqCst), 1);
        assert_eq!(up.tcp_queries.load(Ordering::SeqCst), 1);

        // Without prefer_udp a UDP client gets the TC reply and retries over TCP itself.
        let (_s, c, _) = chain(". {\n forward . {A}\n}\n", &[&up]);
        let m = ask(&c, "big.example.", RType::A).await.unwrap();
        assert!(m.flags.tc);
        assert!(m.answer.is_empty());
        let m = ask_over(&c, "big.example.", RType::A, Proto::Tcp)
            .await
            .unwrap();
        assert_eq!(a_records(&m), [ip("3.3.3.3")]);
    });
}

#[test]
fn replies_with_another_id_are_skipped() {
    runtime().block_on(async {
        let up = Responder::start(Arc::new(|q: &HMessage, _| {
            let mut forged = HMessage::from_vec(&answer(q, [6, 6, 6, 6])).unwrap();
            forged.metadata.id = q.metadata.id.wrapping_add(1);
            vec![forged.to_vec().unwrap(), answer(q, [10, 0, 0, 7])]
        }))
        .await;
        let (_s, c, _) = chain(". {\n forward . {A}\n}\n", &[&up]);
        for proto in [Proto::Udp, Proto::Tcp] {
            let m = ask_over(&c, "a.example.", RType::A, proto).await.unwrap();
            assert_eq!(a_records(&m), [ip("10.0.0.7")], "{proto:?}");
        }
    });
}

#[test]
fn a_reply_to_another_question_is_formerr() {
    runtime().block_on(async {
        let up = Responder::start(Arc::new(|q: &HMessage, _| {
            let mut m = HMessage::from_vec(&answer(q, [6, 6, 6, 6])).unwrap();
            m.queries[0].set_name(hickory_proto::rr::Name::from_ascii("other.example.").unwrap());
            vec![m.to_vec().unwrap()]
        }))
        .await;
        let (_s, c, _) = chain(". {\n forward . {A}\n}\n", &[&up]);
        let m = ask(&c, "a.example.", RType::A).await.unwrap();
        assert_eq!(m.rcode, Rcode::FORMERR);
        assert!(m.answer.is_empty());
    });
}

#[test]
fn an_oversize_udp_reply_becomes_an_empty_truncated_one() {
    runtime().block_on(async {
        // 40 A records (about 660 bytes) to a client without EDNS, which takes 512.
        let up = Responder::start(Arc::new(|q: &HMessage, _| {
            let mut m = HMessage::from_vec(&answer(q, [1, 2, 3, 4])).unwrap();
            for i in 0..40u8 {
                m.add_answer(HRecord::from_rdata(
                    q.queries[0].name().clone(),
                    60,
                    HRData::A(A::new(10, 0, 1, i)),
                ));
            }
            vec![m.to_vec().unwrap()]
        }))
        .await;
        let (_s, c, _) = chain(". {\n forward . {A}\n}\n", &[&up]);
        let raw = cairn_core::testing::query_bytes("big.example.", RType::A, 1, None);
        let mut req =
            cairn_core::Request::from_query(&raw, "10.240.0.1:40212".parse().unwrap(), Proto::Udp)
                .unwrap();
        req.local = "127.0.0.1:53".parse().unwrap();
        let (_, result) = c.run(Box::new(req)).finish().await;
        let m = result.unwrap();
        assert!(m.flags.tc);
        assert!(m.answer.is_empty());
        assert_eq!(m.rcode, Rcode::NOERROR);
    });
}

#[test]
fn failover_rcodes_try_the_next_upstream_and_next_rcodes_the_next_forward() {
    runtime().block_on(async {
        let bad = Responder::start(Arc::new(|q: &HMessage, _| {
            vec![reply(q, ResponseCode::ServFail)]
        }))
        .await;
        let nx = Responder::start(Arc::new(|q: &HMessage, _| {
            vec![reply(q, ResponseCode::NXDomain)]
        }))
        .await;
        let good =
            Responder::start(Arc::new(|q: &HMessage, _| vec![answer(q, [10, 0, 0, 2])])).await;

        // Sequential: SERVFAIL from the first, the answer from the second.
        let (_s, c, _) = chain(
            ". {\n forward . {A} {B} {\n  policy sequential\n  failover SERVFAIL REFUSED\n }\n}\n",
            &[&bad, &good],
        );
        let m = ask(&c, "a.example.", RType::A).await.unwrap();
        assert_eq!(a_records(&m), [ip("10.0.0.2")]);
        // Without failover the SERVFAIL is the answer.
        let (_s, c, _) = chain(
            ". {\n forward . {A} {B} {\n  policy sequential\n }\n}\n",
            &[&bad, &good],
        );
        assert_eq!(
            ask(&c, "a.example.", RType::A).await.unwrap().rcode,
            Rcode::SERVFAIL
        );
        // When every upstream fails over, the last reply is returned.
        let (_s, c, _) = chain(
            ". {\n forward . {A} {B} {\n  failover SERVFAIL\n }\n}\n",
            &[&bad, &bad],
        );
        assert_eq!(
            ask(&c, "a.example.", RType::A).await.unwrap().rcode,
            Rcode::SERVFAIL
        );

        // `next NXDOMAIN`: the following forward line answers.
        let (_s, c, next) = chain(
            ". {\n forward . {A} {\n  next NXDOMAIN\n }\n forward . {B}\n}\n",
            &[&nx, &good],
        );
        let m = ask(&c, "a.example.", RType::A).await.unwrap();
        assert_eq!(a_records(&m), [ip("10.0.0.2")]);
        assert_eq!(next.calls(), 0);
        // ... but only a forward: with nothing but the stub after it, the NXDOMAIN stands.
        let (_s, c, next) = chain(". {\n forward . {A} {\n  next NXDOMAIN\n }\n}\n", &[&nx]);
        assert_eq!(
            ask(&c, "a.example.", RType::A).await.unwrap().rcode,
            Rcode::NXDOMAIN
        );
        assert_eq!(next.calls(), 0);

        // next_on_nodata: an empty NOERROR goes to the next forward.
        let empty = Responder::start(Arc::new(|q: &HMessage, _| {
            vec![reply(q, ResponseCode::NoError)]
        }))
        .await;
        let (_s, c, _) = chain(
            ". {\n forward . {A} {\n  next_on_nodata\n }\n forward . {B}\n}\n",
            &[&empty, &good],
        );
        assert_eq!(
            a_records(&ask(&c, "a.example.", RType::A).await.unwrap()),
            [ip("10.0.0.2")]
        );
    });
}

#[test]
fn from_and_except_decide_what_is_forwarded() {
    runtime().block_on(async {
        let up = Responder::start(Arc::new(|q: &HMessage, _| vec![answer(q, [10, 0, 0, 3])])).await;
        let (_s, c, next) = chain(
            ". {\n forward example.org {A} {\n  except internal.example.org example.org\n }\n}\n",
            &[&up],
        );
        // FROM itself is forwarded even when listed in except.
        assert!(ask(&c, "example.org.", RType::A).await.is_ok());
        assert_eq!(next.calls(), 0);
        assert_eq!(
            ask(&c, "www.Example.org.", RType::A).await.unwrap().rcode,
            Rcode::REFUSED
        );
        assert_eq!(next.calls(), 1, "under an except name: next plugin");
        assert_eq!(
            ask(&c, "a.internal.example.org.", RType::A)
                .await
                .unwrap()
                .rcode,
            Rcode::REFUSED
        );
        assert_eq!(next.calls(), 2);
        assert_eq!(
            ask(&c, "example.net.", RType::A).await.unwrap().rcode,
            Rcode::REFUSED
        );
        assert_eq!(next.calls(), 3, "outside FROM: next plugin");
        assert_eq!(up.udp_queries.load(Ordering::SeqCst), 1);

        let (_s, c, next) = chain(
            ". {\n forward example.org {A} {\n  except internal.example.org\n }\n}\n",
            &[&up],
        );
        assert_eq!(
            a_records(&ask(&c, "www.example.org.", RType::A).await.unwrap()),
            [ip("10.0.0.3")]
        );
        assert_eq!(next.calls(), 0);
    });
}

#[test]
fn max_concurrent_refuses_beyond_the_limit() {
    runtime().block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<HMessage>();
        let up = Responder::start(Arc::new(move |q: &HMessage, _| {
            let _ = tx.send(q.clone());
            Vec::new()
        }))
        .await;
        let (s, c, _) = chain(
            ". {\n forward . {A} {\n  max_concurrent 2\n  read_timeout 1s\n  max_connect_attempts 1\n }\n}\n",
            &[&up],
        );
        let rejects = registry()
            .counter("coredns_forward_max_concurrent_rejects_total", "", &[])
            .with(&[]);
        let before = rejects.get();
        let c = Arc::new(c);
        let mut held = Vec::new();
        for _ in 0..2 {
            let c = c.clone();
            held.push(tokio::spawn(async move {
                ask(&c, "slow.example.", RType::A).await
            }));
        }
        // Both reached the upstream: two in flight.
        let mut queries = Vec::new();
        for _ in 0..2 {
            queries.push(rx.recv().await.unwrap());
        }
        for _ in 0..3 {
            let m = ask(&c, "fast.example.", RType::A).await.unwrap();
            assert_eq!(m.rcode, Rcode::REFUSED);
        }
        assert!(rejects.get() >= before + 3);
        assert_eq!(forward_of(&s).concurrent.load(Ordering::SeqCst), 2);
        // The held queries time out (SERVFAIL) and give their places back.
        for h in held {
            assert!(h.await.unwrap().is_err());
        }
        assert_eq!(forward_of(&s).concurrent.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn connections_are_pooled_and_expire() {
    runtime().block_on(async {
        let up = Responder::start(Arc::new(|q: &HMessage, _| vec![answer(q, [10, 0, 0, 4])])).await;
        let (s, c, _) = chain(". {\n forward . {A} {\n  expire 600ms\n }\n}\n", &[&up]);
        let u = forward_of(&s).upstreams()[0].clone();
        for _ in 0..3 {
            ask_over(&c, "a.example.", RType::A, Proto::Tcp)
                .await
                .unwrap();
            ask_over(&c, "a.example.", RType::A, Proto::Udp)
                .await
                .unwrap();
        }
        // One connection of each kind, reused: a single TCP connection reached the upstream.
        assert_eq!(u.pool.idle(Slot::Udp), 1);
        assert_eq!(u.pool.idle(Slot::Stream), 1);
        assert_eq!(up.tcp_conns.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(700)).await;
        u.pool.sweep();
        assert_eq!(u.pool.idle(Slot::Udp), 0);
        assert_eq!(u.pool.idle(Slot::Stream), 0);
        ask_over(&c, "a.example.", RType::A, Proto::Tcp)
            .await
            .unwrap();
        assert_eq!(up.tcp_conns.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn max_age_retires_busy_connections() {
    runtime().block_on(async {
        let up = Responder::start(Arc::new(|q: &HMessage, _| vec![answer(q, [10, 0, 0, 4])])).await;
        let (_s, c, _) = chain(
            ". {\n forward . {A} {\n  force_tcp\n  expire 250ms\n  max_age 400ms\n }\n}\n",
            &[&up],
        );
        // Used every 100 ms, so never idle long enough to expire; still replaced by age.
        for _ in 0..7 {
            ask(&c, "a.example.", RType::A).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // One replacement in ~700 ms (a second one only if the machine stalled); without
        // max_age there would be one connection, without reuse seven.
        let conns = up.tcp_conns.load(Ordering::SeqCst);
        assert!((2..=3).contains(&conns), "{conns} connections");
    });
}

#[test]
fn max_idle_conns_caps_the_pool() {
    runtime().block_on(async {
        let up = Responder::start(Arc::new(|q: &HMessage, _| vec![answer(q, [10, 0, 0, 4])])).await;
        let (s, c, _) = chain(". {\n forward . {A} {\n  max_idle_conns 1\n }\n}\n", &[&up]);
        let c = Arc::new(c);
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                tokio::spawn(async move { ask(&c, "a.example.", RType::A).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(forward_of(&s).upstreams()[0].pool.idle(Slot::Udp), 1);
    });
}

#[test]
fn a_pooled_connection_closed_by_the_upstream_is_replaced() {
    runtime().block_on(async {
        // Answers one query per TCP connection, then closes it.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns = Arc::new(AtomicUsize::new(0));
        let seen = conns.clone();
        let task = tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                seen.fetch_add(1, Ordering::SeqCst);
                let mut len = [0u8; 2];
                s.read_exact(&mut len).await.unwrap();
                let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
                s.read_exact(&mut buf).await.unwrap();
                let q = HMessage::from_vec(&buf).unwrap();
                let out = answer(&q, [10, 0, 0, 5]);
                let mut frame = (out.len() as u16).to_be_bytes().to_vec();
                frame.extend_from_slice(&out);
                s.write_all(&frame).await.unwrap();
                // Closes after one answer.
            }
        });
        // One attempt per query: only the pool's own retry of a connection found closed can
        // save the second and third queries.
        let text =
            format!(". {{\n forward . {addr} {{\n  force_tcp\n  max_connect_attempts 1\n }}\n}}\n");
        let s = setup(spec("forward"), &text, None).unwrap();
        let c = s.chain_with(StubNext::new(Rcode::REFUSED));
        for _ in 0..3 {
            let m = ask(&c, "a.example.", RType::A).await.unwrap();
            assert_eq!(a_records(&m), [ip("10.0.0.5")]);
            // Let the close reach us before the next query.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(conns.load(Ordering::SeqCst), 3);
        task.abort();
    });
}

// ---------------------------------------------------------------------------------------
// Failures and health
// ---------------------------------------------------------------------------------------

/// A UDP port with nothing listening (bound, then released).
async fn dead_addr() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.local_addr().unwrap()
}

#[test]
fn failure_counting_marks_down_after_max_fails() {
    runtime().block_on(async {
        let dead = dead_addr().await;
        let text = format!(". {{\n forward . {dead} {{\n  max_fails 2\n }}\n}}\n");
        let s = setup(spec("forward"), &text, None).unwrap();
        let u = forward_of(&s).upstreams()[0].clone();
        assert!(!u.is_down(2));
        u.health_failed();
        u.health_failed();
        assert!(!u.is_down(2), "down means more than max_fails");
        u.health_failed();
        assert!(u.is_down(2));
        assert!(!u.is_down(0), "max_fails 0: never down");
        u.health_ok();
        assert_eq!(u.fails(), 0);
        assert!(!u.is_down(2));

        // A check of a closed port fails and counts; a live one succeeds.
        let check = HealthCheck {
            interval: Duration::from_millis(20),
            recursion_desired: true,
            domain: Name::root(),
            tcp: false,
        };
        assert!(check.check(&u).await.is_err());
        let live = Responder::start(Arc::new(|q: &HMessage, _| {
            vec![reply(q, ResponseCode::Refused)]
        }))
        .await;
        let text = format!(". {{\n forward . {}\n}}\n", live.addr);
        let s2 = setup(spec("forward"), &text, None).unwrap();
        let lu = forward_of(&s2).upstreams()[0].clone();
        assert!(check.check(&lu).await.is_ok(), "REFUSED counts as healthy");
        let tcp_check = HealthCheck {
            tcp: true,
            ..check.clone()
        };
        assert!(tcp_check.check(&lu).await.is_ok());
        assert_eq!(live.tcp_queries.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn an_upstream_that_dies_is_checked_marked_down_and_brought_back() {
    runtime().block_on(async {
        let handler: Handler = Arc::new(|q: &HMessage, _| vec![answer(q, [10, 0, 0, 1])]);
        let a = Responder::start(handler.clone()).await;
        let b = Responder::start(Arc::new(|q: &HMessage, _| vec![answer(q, [10, 0, 0, 2])])).await;
        let a_addr = a.addr;
        let (mut s, c, _) = chain(
            ". {\n forward . {A} {B} {\n  policy sequential\n  health_check 50ms\n }\n}\n",
            &[&a, &b],
        );
        let _services = start_services(&mut s);
        let ua = forward_of(&s).upstreams()[0].clone();
        assert_eq!(
            a_records(&ask(&c, "x.example.", RType::A).await.unwrap()),
            [ip("10.0.0.1")]
        );

        // A dies: answers continue from B.
        drop(a);
        tokio::time::sleep(Duration::from_millis(50)).await;
        for _ in 0..5 {
            let m = ask(&c, "x.example.", RType::A).await.unwrap();
            assert_eq!(a_records(&m), [ip("10.0.0.2")]);
        }
        // The failed exchanges asked for checks; after more than max_fails failures A is down.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !ua.is_down(2) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "A never marked down"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let failures = registry()
            .counter(
                "coredns_proxy_healthcheck_failures_total",
                "",
                &["proxy_name", "to"],
            )
            .with(&["forward", &a_addr.to_string()]);
        assert!(failures.get() >= 3);

        // A comes back on the same port: the running check sees it, and it answers again.
        let udp = UdpSocket::bind(a_addr).await.unwrap();
        let tcp = TcpListener::bind(a_addr).await.unwrap();
        let _a2 = Responder::serve(udp, tcp, handler);
        while ua.fails() != 0 {
            assert!(tokio::time::Instant::now() < deadline, "A never came back");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            a_records(&ask(&c, "x.example.", RType::A).await.unwrap()),
            [ip("10.0.0.1")]
        );
    });
}

#[test]
fn all_upstreams_down_try_one_at_random_or_fail_fast() {
    runtime().block_on(async {
        let up = Responder::start(Arc::new(|q: &HMessage, _| vec![answer(q, [10, 0, 0, 8])])).await;
        let broken = registry()
            .counter("coredns_forward_healthcheck_broken_total", "", &[])
            .with(&[]);

        // Down by the counts, yet answering: the random try gets the answer.
        let (s, c, _) = chain(". {\n forward . {A}\n}\n", &[&up]);
        let u = forward_of(&s).upstreams()[0].clone();
        for _ in 0..3 {
            u.health_failed();
        }
        let before = broken.get();
        assert_eq!(
            a_records(&ask(&c, "x.example.", RType::A).await.unwrap()),
            [ip("10.0.0.8")]
        );
        assert!(broken.get() > before);

        let (s, c, _) = chain(
            ". {\n forward . {A} {\n  failfast_all_unhealthy_upstreams\n }\n}\n",
            &[&up],
        );
        let u = forward_of(&s).upstreams()[0].clone();
        for _ in 0..3 {
            u.health_failed();
        }
        let e = ask(&c, "x.example.", RType::A).await.unwrap_err();
        assert_eq!(e.to_string(), "plugin/forward: no healthy proxies");
        assert_eq!(up.udp_queries.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn errors_name_the_upstream_and_the_budget_is_kept() {
    runtime().block_on(async {
        let dead = dead_addr().await;
        // Silent: never answers.
        let silent = Responder::start(Arc::new(|_: &HMessage, _| Vec::new())).await;
        let text = format!(". {{\n forward . {dead}\n}}\n");
        let s = setup(spec("forward"), &text, None).unwrap();
        let c = s.chain_with(StubNext::new(Rcode::REFUSED));
        let e = ask(&c, "x.example.", RType::A)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("->{dead}")), "{e}");
        assert!(e.contains("read udp"), "{e}");

        // Two tries of 300 ms each by default (2 per upstream).
        let (_s, c, _) = chain(
            ". {\n forward . {A} {\n  read_timeout 300ms\n }\n}\n",
            &[&silent],
        );
        let start = std::time::Instant::now();
        let e = ask(&c, "x.example.", RType::A)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("i/o timeout"), "{e}");
        assert!(e.contains(&silent.addr.to_string()), "{e}");
        assert_eq!(silent.udp_queries.load(Ordering::SeqCst), 2);
        assert!(start.elapsed() < Duration::from_secs(2));
        assert_eq!(failures(&silent.addr, "timeout"), 2);
        assert_eq!(failures(&silent.addr, "refused"), 0);

        // max_connect_attempts 1: one try.
        let (_s, c, _) = chain(
            ". {\n forward . {A} {\n  read_timeout 300ms\n  max_connect_attempts 1\n }\n}\n",
            &[&silent],
        );
        ask(&c, "x.example.", RType::A).await.unwrap_err();
        assert_eq!(silent.udp_queries.load(Ordering::SeqCst), 3);

        // A read timeout longer than the query's 5 s budget is cut at the budget.
        let (_s, c, _) = chain(
            ". {\n forward . {A} {\n  read_timeout 30s\n  max_connect_attempts 1\n }\n}\n",
            &[&silent],
        );
        let start = std::time::Instant::now();
        let e = ask(&c, "x.example.", RType::A)
            .await
            .unwrap_err()
            .to_string();
        let took = start.elapsed();
        assert!(e.ends_with("i/o timeout"), "{e}");
        assert!(
            took >= Duration::from_millis(4500) && took < Duration::from_secs(10),
            "{took:?}"
        );
    });
}

/// `cairn_proxy_request_failures_total` of one upstream and reason.
fn failures(to: &SocketAddr, reason: &str) -> u64 {
    registry()
        .counter(
            "cairn_proxy_request_failures_total",
            "",
            &["proxy_name", "to", "reason"],
        )
        .with(&["forward", &to.to_string(), reason])
        .get()
}

#[test]
fn source_address_is_the_local_address_of_queries_and_checks() {
    runtime().block_on(async {
        // Records the address each datagram came from, and answers it.
        let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = sock.local_addr().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<IpAddr>();
        let s2 = sock.clone();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let (n, from) = s2.recv_from(&mut buf).await.unwrap();
                let q = HMessage::from_vec(&buf[..n]).unwrap();
                let _ = tx.send(from.ip());
                let _ = s2.send_to(&answer(&q, [10, 0, 0, 6]), from).await;
            }
        });
        let text = format!(". {{\n forward . {addr} {{\n  source_address 127.0.0.2\n }}\n}}\n");
        let s = setup(spec("forward"), &text, None).unwrap();
        let c = s.chain_with(StubNext::new(Rcode::REFUSED));
        let m = ask(&c, "x.example.", RType::A).await.unwrap();
        assert_eq!(a_records(&m), [ip("10.0.0.6")]);
        assert_eq!(rx.recv().await, Some(ip("127.0.0.2")));
        let check = HealthCheck {
            interval: Duration::from_millis(20),
            recursion_desired: false,
            domain: Name::root(),
            tcp: false,
        };
        check.check(&forward_of(&s).upstreams()[0]).await.unwrap();
        assert_eq!(rx.recv().await, Some(ip("127.0.0.2")));
        task.abort();
    });
}

#[test]
fn metrics_per_upstream() {
    runtime().block_on(async {
        let up = Responder::start(Arc::new(|q: &HMessage, _| {
            vec![reply(q, ResponseCode::NXDomain)]
        }))
        .await;
        let (_s, c, _) = chain(". {\n forward . {A}\n}\n", &[&up]);
        let to = up.addr.to_string();
        for _ in 0..2 {
            ask(&c, "x.example.", RType::A).await.unwrap();
        }
        let text = registry().encode();
        let line = |name: &str, labels: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("{name}{{{labels}}} ")))
                .unwrap_or_else(|| panic!("no {name}{{{labels}}}"))
                .rsplit(' ')
                .next()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            line(
                "coredns_proxy_request_duration_seconds_count",
                &format!("proxy_name=\"forward\",to=\"{to}\",rcode=\"NXDOMAIN\"")
            ),
            "2"
        );
        assert_eq!(
            line(
                "coredns_proxy_conn_cache_misses_total",
                &format!("proxy_name=\"forward\",to=\"{to}\",proto=\"udp\"")
            ),
            "1"
        );
        assert_eq!(
            line(
                "coredns_proxy_conn_cache_hits_total",
                &format!("proxy_name=\"forward\",to=\"{to}\",proto=\"udp\"")
            ),
            "1"
        );
        // Series never used are not exported.
        assert!(
            !text.contains(&format!("to=\"{to}\",proto=\"tcp\"")),
            "{text}"
        );
    });
}

#[test]
fn rcode_labels_are_miekg_names_or_numbers() {
    use super::metrics::rcode_label;
    assert_eq!(rcode_label(Rcode::NOERROR), "NOERROR");
    assert_eq!(rcode_label(Rcode(11)), "DSOTYPENI");
    assert_eq!(rcode_label(Rcode(12)), "12");
    assert_eq!(rcode_label(Rcode(16)), "BADSIG");
    assert_eq!(rcode_label(Rcode(3841)), "3841");
}
