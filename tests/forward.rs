//! `forward` in the real `cairn` binary: forwarding over UDP and TCP to a second `cairn`
//! serving a zone file and to in-test upstreams (tokio UDP/TCP/TLS servers answering with
//! hickory-proto), transports, TC retries, failover when an upstream dies, health checks
//! bringing it back, `max_concurrent`, `except`, `next`/`failover` rcodes, stub-domain
//! blocks, DNS over TLS with a test CA, and the metrics on the prometheus endpoint.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

// ---------------------------------------------------------------------------------------
// In-test upstreams
// ---------------------------------------------------------------------------------------

/// How a query reached an in-test upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Udp,
    Tcp,
    Tls,
}

/// What an upstream does with one query: a reply after a delay, or silence.
struct Answer {
    msg: Message,
    delay: Duration,
}

type Handler = Arc<dyn Fn(&Message, Via) -> Option<Answer> + Send + Sync>;

fn now(msg: Message) -> Option<Answer> {
    Some(Answer {
        msg,
        delay: Duration::ZERO,
    })
}

/// A DNS server on 127.0.0.1: UDP and TCP on one port, TLS on another when asked for. It
/// runs on its own runtime; dropping it closes its sockets (the upstream "dies").
struct Upstream {
    rt: Option<tokio::runtime::Runtime>,
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    /// Queries seen per transport (the servers' readiness probes not counted).
    counts: Arc<[AtomicUsize; 3]>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("test runtime")
}

impl Upstream {
    /// On a free port.
    fn start(handler: Handler) -> Upstream {
        Upstream::start_full(None, handler, None)
    }

    /// On `port` (a restart after a "death").
    fn start_on(port: u16, handler: Handler) -> Upstream {
        Upstream::start_full(Some(port), handler, None)
    }

    /// With a DNS-over-TLS listener too.
    fn start_tls(handler: Handler, tls: rustls::ServerConfig) -> Upstream {
        Upstream::start_full(None, handler, Some(tls))
    }

    fn start_full(
        port: Option<u16>,
        handler: Handler,
        tls: Option<rustls::ServerConfig>,
    ) -> Upstream {
        let rt = runtime();
        let counts: Arc<[AtomicUsize; 3]> = Arc::new(Default::default());
        let (addr, tls_addr) = rt.block_on(async {
            let (udp, tcp) = loop {
                let p = port.unwrap_or_else(free_port);
                let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, p)).await;
                let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, p)).await;
                match (udp, tcp) {
                    (Ok(u), Ok(t)) => break (u, t),
                    (u, t) if port.is_some() => panic!("rebind {p}: {u:?} {t:?}"),
                    _ => continue,
                }
            };
            let addr = udp.local_addr().unwrap();
            tokio::spawn(serve_udp(udp, handler.clone(), counts.clone()));
            tokio::spawn(accept(tcp, None, handler.clone(), counts.clone()));
            let tls_addr = match tls {
                Some(config) => {
                    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
                    let a = l.local_addr().unwrap();
                    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
                    tokio::spawn(accept(l, Some(acceptor), handler, counts.clone()));
                    Some(a)
                }
                None => None,
            };
            (addr, tls_addr)
        });
        Upstream {
            rt: Some(rt),
            addr,
            tls_addr,
            counts,
        }
    }

    fn count(&self, via: Via) -> usize {
        self.counts[via as usize].load(Ordering::SeqCst)
    }

    fn total(&self) -> usize {
        self.count(Via::Udp) + self.count(Via::Tcp) + self.count(Via::Tls)
    }
}

/// The servers' readiness probe (`ready-probe.cairn-test.invalid.`) is answered, not counted.
fn is_probe(q: &Message) -> bool {
    q.queries
        .first()
        .is_some_and(|q| q.name().to_ascii().ends_with("cairn-test.invalid."))
}

fn handle(q: &Message, via: Via, handler: &Handler, counts: &[AtomicUsize; 3]) -> Option<Answer> {
    if is_probe(q) {
        return now(reply(q, ResponseCode::NXDomain));
    }
    counts[via as usize].fetch_add(1, Ordering::SeqCst);
    handler(q, via)
}

async fn serve_udp(sock: UdpSocket, handler: Handler, counts: Arc<[AtomicUsize; 3]>) {
    let sock = Arc::new(sock);
    let mut buf = vec![0u8; 65535];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let Ok(q) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        if let Some(a) = handle(&q, Via::Udp, &handler, &counts) {
            let sock = sock.clone();
            tokio::spawn(async move {
                tokio::time::sleep(a.delay).await;
                let _ = sock.send_to(&a.msg.to_vec().unwrap(), from).await;
            });
        }
    }
}

async fn accept(
    l: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handler: Handler,
    counts: Arc<[AtomicUsize; 3]>,
) {
    loop {
        let Ok((s, _)) = l.accept().await else {
            continue;
        };
        let (handler, counts, tls) = (handler.clone(), counts.clone(), tls.clone());
        tokio::spawn(async move {
            match tls {
                None => serve_stream(s, Via::Tcp, handler, counts).await,
                Some(acceptor) => {
                    if let Ok(s) = acceptor.accept(s).await {
                        serve_stream(s, Via::Tls, handler, counts).await;
                    }
                }
            }
        });
    }
}

async fn serve_stream<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    via: Via,
    handler: Handler,
    counts: Arc<[AtomicUsize; 3]>,
) {
    loop {
        let mut len = [0u8; 2];
        if s.read_exact(&mut len).await.is_err() {
            return;
        }
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if s.read_exact(&mut buf).await.is_err() {
            return;
        }
        let Ok(q) = Message::from_vec(&buf) else {
            return;
        };
        if let Some(a) = handle(&q, via, &handler, &counts) {
            tokio::time::sleep(a.delay).await;
            let out = a.msg.to_vec().unwrap();
            let mut frame = (out.len() as u16).to_be_bytes().to_vec();
            frame.extend_from_slice(&out);
            if s.write_all(&frame).await.is_err() || s.flush().await.is_err() {
                return;
            }
        }
    }
}

/// A reply to `q` with `rcode` and no records (RA set, RD copied).
fn reply(q: &Message, rcode: ResponseCode) -> Message {
    let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.metadata.response_code = rcode;
    m.add_queries(q.queries.clone());
    m
}

/// A reply to `q` with A records for `ips`.
fn answer(q: &Message, ips: &[Ipv4Addr]) -> Message {
    let mut m = reply(q, ResponseCode::NoError);
    for ip in ips {
        m.add_answer(Record::from_rdata(
            q.queries[0].name().clone(),
            60,
            RData::A(A::from(*ip)),
        ));
    }
    m
}

/// An upstream that answers every query with A `ip`.
fn fixed(ip: [u8; 4]) -> Handler {
    Arc::new(move |q, _| now(answer(q, &[Ipv4Addr::from(ip)])))
}

/// An upstream that answers with A 10.0.0.1 over UDP, 10.0.0.2 over TCP, 10.0.0.3 over TLS.
fn by_transport() -> Handler {
    Arc::new(|q, via| {
        let last = match via {
            Via::Udp => 1,
            Via::Tcp => 2,
            Via::Tls => 3,
        };
        now(answer(q, &[Ipv4Addr::new(10, 0, 0, last)]))
    })
}

fn a_records(m: &Message) -> Vec<Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

fn ask_udp(srv: &Server, name: &str) -> Message {
    srv.query_udp(&query(name, RecordType::A))
}

fn ask_tcp(srv: &Server, name: &str) -> Message {
    srv.query_tcp(&query(name, RecordType::A))
}

/// Polls `/metrics` until `pred` holds.
fn scrape_until(port: u16, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = http_get(port, "/metrics");
        assert_eq!(status, 200, "GET /metrics");
        if pred(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "metrics never showed {what}:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of the sample `series` (full name with labels) in exposition text.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

const ZONE: &str = "$ORIGIN example.org.
$TTL 3600
@       IN SOA ns1.example.org. admin.example.org. 7 7200 3600 1209600 300
@       IN NS  ns1.example.org.
ns1     IN A   192.0.2.1
www     IN A   192.0.2.10
";

#[test]
fn forwards_to_a_cairn_serving_a_zone_over_udp_and_tcp() {
    let upstream = Server::start_files(
        "example.org {\n    file db.example.org\n}\n",
        &[("db.example.org", ZONE)],
    );
    let front = Server::start(&format!(
        ".:{{PORT}} {{\n    forward . 127.0.0.1:{}\n}}\n",
        upstream.port
    ));
    for tcp in [false, true] {
        let q = query("WwW.Example.ORG.", RecordType::A);
        let r = if tcp {
            front.query_tcp(&q)
        } else {
            front.query_udp(&q)
        };
        assert_eq!(r.metadata.id, q.metadata.id, "{r}");
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        assert!(
            r.metadata.authoritative,
            "the upstream's AA is passed on: {r}"
        );
        assert_eq!(r.queries[0].name().to_ascii(), "WwW.Example.ORG.", "{r}");
        assert_eq!(a_records(&r), [Ipv4Addr::new(192, 0, 2, 10)], "{r}");
        assert_eq!(r.answers[0].ttl, 3600, "{r}");

        let r = if tcp {
            ask_tcp(&front, "nope.example.org.")
        } else {
            ask_udp(&front, "nope.example.org.")
        };
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
        assert_eq!(r.authorities.len(), 1, "{r}");
        assert_eq!(r.authorities[0].record_type(), RecordType::SOA, "{r}");
    }
    // The upstream refuses names outside its zone; the refusal is passed on.
    let r = ask_udp(&front, "www.example.net.");
    assert_eq!(r.metadata.response_code, ResponseCode::Refused, "{r}");
}

#[test]
fn the_upstream_is_asked_over_the_clients_transport_unless_force_tcp() {
    let up = Upstream::start(by_transport());
    let front = Server::start(&format!(".:{{PORT}} {{\n    forward . {}\n}}\n", up.addr));
    assert_eq!(
        a_records(&ask_udp(&front, "a.example.")),
        [Ipv4Addr::new(10, 0, 0, 1)]
    );
    assert_eq!(
        a_records(&ask_tcp(&front, "a.example.")),
        [Ipv4Addr::new(10, 0, 0, 2)]
    );

    let forced = Server::start(&format!(
        ".:{{PORT}} {{\n    forward . {} {{\n        force_tcp\n    }}\n}}\n",
        up.addr
    ));
    assert_eq!(
        a_records(&ask_udp(&forced, "a.example.")),
        [Ipv4Addr::new(10, 0, 0, 2)]
    );

    let preferred = Server::start(&format!(
        ".:{{PORT}} {{\n    forward . {} {{\n        prefer_udp\n    }}\n}}\n",
        up.addr
    ));
    assert_eq!(
        a_records(&ask_tcp(&preferred, "a.example.")),
        [Ipv4Addr::new(10, 0, 0, 1)]
    );
}

/// TC with no records over UDP, 30 A records over TCP.
fn truncating() -> Handler {
    Arc::new(|q, via| {
        if via == Via::Udp {
            let mut m = reply(q, ResponseCode::NoError);
            m.metadata.truncation = true;
            now(m)
        } else {
            let ips: Vec<Ipv4Addr> = (0..30).map(|i| Ipv4Addr::new(10, 1, 0, i)).collect();
            now(answer(q, &ips))
        }
    })
}

#[test]
fn a_truncated_answer_is_retried_over_tcp() {
    let up = Upstream::start(truncating());
    // prefer_udp: forward itself retries over TCP and the client gets the whole answer.
    let front = Server::start(&format!(
        ".:{{PORT}} {{\n    forward . {} {{\n        prefer_udp\n    }}\n}}\n",
        up.addr
    ));
    let q = with_edns(query("big.example.", RecordType::A), 4096, 0);
    let r = front.query_udp(&q);
    assert!(!r.metadata.truncation, "{r}");
    assert_eq!(a_records(&r).len(), 30, "{r}");
    assert_eq!((up.count(Via::Udp), up.count(Via::Tcp)), (1, 1));

    // By default the TC answer reaches the client, whose retry over TCP goes upstream over TCP.
    let front = Server::start(&format!(".:{{PORT}} {{\n    forward . {}\n}}\n", up.addr));
    let r = front.query_udp(&q);
    assert!(r.metadata.truncation, "{r}");
    assert!(r.answers.is_empty(), "{r}");
    let r = front.query_tcp(&q);
    assert!(!r.metadata.truncation, "{r}");
    assert_eq!(a_records(&r).len(), 30, "{r}");
    assert_eq!((up.count(Via::Udp), up.count(Via::Tcp)), (2, 2));
}

#[test]
fn answers_continue_from_the_other_upstream_when_one_dies() {
    let zone = |ip: &str| ZONE.replace("192.0.2.10", ip);
    let corefile = "example.org {\n    file db.example.org\n}\n";
    let a = Server::start_files(corefile, &[("db.example.org", &zone("192.0.2.11"))]);
    let b = Server::start_files(corefile, &[("db.example.org", &zone("192.0.2.12"))]);
    let front = Server::start(&format!(
        ".:{{PORT}} {{\n    forward . 127.0.0.1:{} 127.0.0.1:{}\n}}\n",
        a.port, b.port
    ));
    let mut seen = std::collections::HashSet::new();
    for _ in 0..30 {
        let r = ask_udp(&front, "www.example.org.");
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        seen.extend(a_records(&r));
    }
    assert_eq!(seen.len(), 2, "random policy uses both: {seen:?}");

    // Kill the first upstream: every answer now comes from the second.
    drop(a);
    for _ in 0..30 {
        for r in [
            ask_udp(&front, "www.example.org."),
            ask_tcp(&front, "www.example.org."),
        ] {
            assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
            assert_eq!(a_records(&r), [Ipv4Addr::new(192, 0, 2, 12)], "{r}");
        }
    }
}

#[test]
fn health_checks_mark_a_dead_upstream_down_and_bring_it_back() {
    let a = Upstream::start(fixed([10, 0, 0, 1]));
    let b = Upstream::start(fixed([10, 0, 0, 2]));
    let a_port = a.addr.port();
    let mport = free_port();
    let front = Server::start(&format!(
        ".:{{PORT}} {{\n    prometheus 127.0.0.1:{mport}\n    forward . {} {} {{\n        policy sequential\n        health_check 100ms\n    }}\n}}\n",
        a.addr, b.addr
    ));
    assert_eq!(
        a_records(&ask_udp(&front, "x.example.")),
        [Ipv4Addr::new(10, 0, 0, 1)]
    );

    drop(a);
    for _ in 0..5 {
        assert_eq!(
            a_records(&ask_udp(&front, "x.example.")),
            [Ipv4Addr::new(10, 0, 0, 2)]
        );
    }
    // More than max_fails (2) failed checks: down.
    let series = format!(
        "coredns_proxy_healthcheck_failures_total{{proxy_name=\"forward\",to=\"127.0.0.1:{a_port}\"}}"
    );
    scrape_until(mport, "three failed checks", |b| {
        sample(b, &series).is_some_and(|v| v >= 3.0)
    });
    assert_eq!(
        a_records(&ask_udp(&front, "x.example.")),
        [Ipv4Addr::new(10, 0, 0, 2)]
    );

    // The first upstream comes back on its port; the checks see it and it answers again.
    let _a = Upstream::start_on(a_port, fixed([10, 0, 0, 1]));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if a_records(&ask_udp(&front, "x.example.")) == [Ipv4Addr::new(10, 0, 0, 1)] {
            break;
        }
        assert!(Instant::now() < deadline, "the upstream never came back");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(b.count(Via::Udp) >= 6);
}

#[test]
fn all_upstreams_down_fail_fast_with_failfast() {
    // A port with nothing behind it.
    let dead = free_port();
    let mport = free_port();
    let front = Server::start(&format!(
        ".:{{PORT}} {{\n    prometheus 127.0.0.1:{mport}\n    forward . 127.0.0.1:{dead} {{\n        health_check 50ms\n        failfast_all_unhealthy_upstreams\n    }}\n}}\n"
    ));
    // Failed exchanges start the checks, which mark the upstream down; from then on every
    // query finds all upstreams down and is counted as such.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = ask_udp(&front, "x.example.");
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{r}");
        let (_, body) = http_get(mport, "/metrics");
        if sample(&body, "coredns_forward_healthcheck_broken_total").is_some_and(|v| v >= 1.0) {
            break;
        }
        assert!(Instant::now() < deadline, "never all down:\n{body}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let start = Instant::now();
    let r = ask_udp(&front, "x.example.");
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{r}");
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn max_concurrent_refuses_queries_beyond_the_limit() {
    let up = Upstream::start(Arc::new(|q: &Message, _| {
        let slow = q.queries[0].name().to_ascii().starts_with("slow");
        Some(Answer {
            msg: answer(q, &[Ipv4Addr::new(10, 0, 0, 9)]),
            delay: if slow {
                Duration::from_millis(1500)
            } else {
                Duration::ZERO
            },
        })
    }));
    let mport = free_port();
    let front = Server::start(&format!(
        ".:{{PORT}} {{\n    prometheus 127.0.0.1:{mport}\n    forward . {} {{\n        max_concurrent 2\n    }}\n}}\n",
        up.addr
    ));
    let slow: Vec<(UdpClient, Message)> = (0..2)
        .map(|i| {
            let c = front.udp();
            let q = query(&format!("slow{i}.example."), RecordType::A);
            c.sock.send(&to_wire(&q)).unwrap();
            (c, q)
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(2);
    while up.count(Via::Udp) < 2 {
        assert!(
            Instant::now() < deadline,
            "the slow queries never reached the upstream"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    for _ in 0..3 {
        let r = ask_udp(&front, "fast.example.");
        assert_eq!(r.metadata.response_code, ResponseCode::Refused, "{r}");
    }
    for (c, q) in slow {
        let r = parse(&c.recv(Duration::from_secs(3)).expect("slow answer"));
        assert_eq!(r.metadata.id, q.metadata.id);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
    }
    // Places are free again.
    assert_eq!(
        a_records(&ask_udp(&front, "fast.example.")),
        [Ipv4Addr::new(10, 0, 0, 9)]
    );
    let body = scrape_until(mport, "rejects", |b| {
        sample(b, "coredns_forward_max_concurrent_rejects_total").is_some_and(|v| v >= 3.0)
    });
    assert_eq!(
        sample(&body, "coredns_forward_max_concurrent_rejects_total"),
        Some(3.0),
        "{body}"
    );
}

#[test]
fn except_names_go_to_the_next_plugin() {
    let up = Upstream::start(fixed([10, 0, 0, 4]));
    let front = Server::start(&format!(
        ".:{{PORT}} {{\n    forward . {} {{\n        except example.net\n    }}\n    whoami\n}}\n",
        up.addr
    ));
    assert_eq!(
        a_records(&ask_udp(&front, "a.example.com.")),
        [Ipv4Addr::new(10, 0, 0, 4)]
    );
    let r = ask_udp(&front, "a.example.net.");
    // whoami answered: the client's address in the additional section.
    assert!(r.answers.is_empty(), "{r}");
    assert_eq!(r.additionals.len(), 2, "{r}");
    assert_eq!(up.total(), 1);
}

#[test]
fn next_and_failover_rcodes() {
    let nx = Upstream::start(Arc::new(|q: &Message, _| {
        now(reply(q, ResponseCode::NXDomain))
    }));
    let sf = Upstream::start(Arc::new(|q: &Message, _| {
        now(reply(q, ResponseCode::ServFail))
    }));
    let good = Upstream::start(fixed([10, 0, 0, 5]));
    let front = Server::start(&format!(
        ".:{{PORT}} {{\n    forward . {} {{\n        next NXDOMAIN\n    }}\n    forward . {} {} {{\n        policy sequential\n        failover SERVFAIL\n    }}\n}}\n",
        nx.addr, sf.addr, good.addr
    ));
    let r = ask_udp(&front, "a.example.");
    assert_eq!(a_records(&r), [Ipv4Addr::new(10, 0, 0, 5)], "{r}");
    assert_eq!((nx.total(), sf.total(), good.total()), (1, 1, 1));
}

#[test]
fn a_stub_domain_is_a_server_block_with_its_own_forward() {
    let stub = Upstream::start(fixed([10, 0, 0, 6]));
    let default = Upstream::start(fixed([10, 0, 0, 7]));
    let front = Server::start(&format!(
        "example.local:{{PORT}} {{\n    forward . {}\n}}\n.:{{PORT}} {{\n    forward . {}\n}}\n",
        stub.addr, default.addr
    ));
    assert_eq!(
        a_records(&ask_udp(&front, "db.Example.Local.")),
        [Ipv4Addr::new(10, 0, 0, 6)]
    );
    assert_eq!(
        a_records(&ask_tcp(&front, "www.example.com.")),
        [Ipv4Addr::new(10, 0, 0, 7)]
    );
}

// ---------------------------------------------------------------------------------------
// DNS over TLS
// ---------------------------------------------------------------------------------------

/// A test CA, a server certificate for `dns.test` (not for 127.0.0.1), and a client identity.
struct Pki {
    ca_pem: String,
    server_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    server_key: Vec<u8>,
    ca_der: rustls::pki_types::CertificateDer<'static>,
    client_cert_pem: String,
    client_key_pem: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["dns.test".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .signed_by(&client_key, &issuer)
        .unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        server_chain: vec![server.der().clone()],
        server_key: server_key.serialize_der(),
        ca_der: ca_cert.der().clone(),
        client_cert_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

fn server_tls(p: &Pki, require_client: bool) -> rustls::ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if require_client {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(p.ca_der.clone()).unwrap();
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    builder
        .with_single_cert(
            p.server_chain.clone(),
            rustls::pki_types::PrivateKeyDer::Pkcs8(p.server_key.clone().into()),
        )
        .unwrap()
}

fn start_front_files(corefile: &str, p: &Pki) -> Server {
    Server::start_files(
        corefile,
        &[
            ("ca.pem", &p.ca_pem),
            ("client.pem", &p.client_cert_pem),
            ("client.key", &p.client_key_pem),
        ],
    )
}

#[test]
fn dns_over_tls_to_an_upstream_with_a_test_ca() {
    let p = pki();
    let up = Upstream::start_tls(by_transport(), server_tls(&p, false));
    let tls = up.tls_addr.unwrap();
    let want = [Ipv4Addr::new(10, 0, 0, 3)];

    // Per-upstream server name.
    let front = start_front_files(
        &format!(
            ".:{{PORT}} {{\n    forward . tls://127.0.0.1%dns.test:{} {{\n        tls ca.pem\n    }}\n}}\n",
            tls.port()
        ),
        &p,
    );
    assert_eq!(a_records(&ask_udp(&front, "a.example.")), want);
    assert_eq!(a_records(&ask_tcp(&front, "b.example.")), want);
    assert_eq!(up.count(Via::Tls), 2);

    // `tls_servername` for the whole forward.
    let front = start_front_files(
        &format!(
            ".:{{PORT}} {{\n    forward . tls://{tls} {{\n        tls ca.pem\n        tls_servername dns.test\n    }}\n}}\n"
        ),
        &p,
    );
    assert_eq!(a_records(&ask_udp(&front, "c.example.")), want);

    // A name the certificate does not carry fails the handshake: SERVFAIL, nothing asked.
    let before = up.count(Via::Tls);
    let front = start_front_files(
        &format!(
            ".:{{PORT}} {{\n    forward . tls://{tls} {{\n        tls ca.pem\n        tls_servername other.test\n    }}\n}}\n"
        ),
        &p,
    );
    let r = ask_udp(&front, "d.example.");
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{r}");
    assert_eq!(up.count(Via::Tls), before);
}

#[test]
fn dns_over_tls_with_a_client_certificate() {
    let p = pki();
    let up = Upstream::start_tls(by_transport(), server_tls(&p, true));
    let tls = up.tls_addr.unwrap();
    let front = start_front_files(
        &format!(
            ".:{{PORT}} {{\n    forward . tls://127.0.0.1%dns.test:{} {{\n        tls client.pem client.key ca.pem\n    }}\n}}\n",
            tls.port()
        ),
        &p,
    );
    assert_eq!(
        a_records(&ask_udp(&front, "a.example.")),
        [Ipv4Addr::new(10, 0, 0, 3)]
    );

    // Without the client certificate the upstream refuses the handshake.
    let front = start_front_files(
        &format!(
            ".:{{PORT}} {{\n    forward . tls://127.0.0.1%dns.test:{} {{\n        tls ca.pem\n    }}\n}}\n",
            tls.port()
        ),
        &p,
    );
    let r = ask_udp(&front, "b.example.");
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{r}");
    assert_eq!(up.count(Via::Tls), 1);
}

// ---------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------

#[test]
fn metrics_on_the_prometheus_endpoint() {
    let up = Upstream::start(Arc::new(|q: &Message, _| {
        if q.queries[0].name().to_ascii().starts_with("nx") {
            now(reply(q, ResponseCode::NXDomain))
        } else {
            now(answer(q, &[Ipv4Addr::new(10, 0, 0, 8)]))
        }
    }));
    let mport = free_port();
    let front = Server::start(&format!(
        ".:{{PORT}} {{\n    prometheus 127.0.0.1:{mport}\n    forward . {}\n}}\n",
        up.addr
    ));
    for _ in 0..3 {
        ask_udp(&front, "a.example.");
    }
    ask_tcp(&front, "nx.example.");
    let to = up.addr.to_string();
    let ok_count = format!(
        "coredns_proxy_request_duration_seconds_count{{proxy_name=\"forward\",to=\"{to}\",rcode=\"NOERROR\"}}"
    );
    let body = scrape_until(mport, "request durations", |b| {
        // The readiness probe went upstream too: at least our three.
        sample(b, &ok_count).is_some_and(|v| v >= 3.0)
    });
    let nx_count = format!(
        "coredns_proxy_request_duration_seconds_count{{proxy_name=\"forward\",to=\"{to}\",rcode=\"NXDOMAIN\"}}"
    );
    assert!(sample(&body, &nx_count).is_some_and(|v| v >= 1.0), "{body}");
    assert!(
        body.contains(&format!(
            "coredns_proxy_request_duration_seconds_bucket{{proxy_name=\"forward\",to=\"{to}\",rcode=\"NOERROR\",le=\"0.00025\"}}"
        )),
        "TimeBuckets: {body}"
    );
    let conn = |kind: &str, proto: &str| {
        sample(
            &body,
            &format!("coredns_proxy_conn_cache_{kind}_total{{proxy_name=\"forward\",to=\"{to}\",proto=\"{proto}\"}}"),
        )
    };
    assert!(conn("misses", "udp").is_some_and(|v| v >= 1.0), "{body}");
    assert!(conn("hits", "udp").is_some_and(|v| v >= 1.0), "{body}");
    assert_eq!(conn("misses", "tcp"), Some(1.0), "{body}");
    assert_eq!(
        sample(&body, "coredns_forward_healthcheck_broken_total"),
        Some(0.0),
        "{body}"
    );
    assert_eq!(
        sample(&body, "coredns_forward_max_concurrent_rejects_total"),
        Some(0.0),
        "{body}"
    );
    assert!(
        body.contains("# TYPE coredns_proxy_request_duration_seconds histogram"),
        "{body}"
    );
}
