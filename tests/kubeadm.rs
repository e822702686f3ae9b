//! The Corefile kubeadm installs, run end to end: the real `cairn` binary with kubeadm's
//! default Corefile text (section 2.1 of the compatibility spec), changed only where a test
//! must change it (the listener, health, ready and metrics ports; the resolv.conf that
//! `forward` reads; the `kubeconfig` of the test API server), serving a cluster from the
//! repo's Kubernetes API server through kube-rs and forwarding everything else to a second
//! `cairn` serving "external" zones.
//!
//! What a cluster sees: Service, headless SRV, pod and PTR answers; an unknown reverse name
//! falling through to `forward`; external names through `forward`; `/health`, `/ready` and
//! the metric names on the metrics port; `loadbalance` rotating addresses; `loop` probing
//! through `forward` without finding a loop; and the cache: external answers are kept (the
//! upstream sees a name once, the TTL counts down), cluster answers are not (`disable success
//! cluster.local`, `disable denial cluster.local`), and a Service change shows at once. The
//! same with the older plain `cache 30` form, where cluster answers are kept too and still
//! change at once (Cairn's cache drops cluster answers on every change the `kubernetes`
//! plugin sees).
//!
//! `forward . /etc/resolv.conf` reads `nameserver` lines on port 53 only, as CoreDNS does, so
//! the upstream listens on 127.0.0.1:53 when this process may bind it (root, port free);
//! otherwise the test says so on stderr and names the upstream as `127.0.0.1:PORT` in the
//! `forward` line instead.

mod common;

use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cairn_k8s_testserver::{Options, TestApiServer};
use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use serde_json::json;

/// kubeadm's default Corefile, verbatim (kubernetes/kubernetes
/// cmd/kubeadm/app/phases/addons/dns/manifests.go with `cluster.local`).
const KUBEADM_COREFILE: &str = ".:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
";

/// The cache lines of the current template, and of kubeadm releases before kubernetes PR
/// #128359.
const CACHE_DISABLE_CLUSTER: &str = "    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
";
const CACHE_PLAIN: &str = "    cache 30\n";

const CLUSTER: &str = include_str!("fixtures/kubeadm/cluster.yaml");

/// The upstream's external zone.
const EXAMPLE_COM: &str = "$ORIGIN example.com.
$TTL 300
@       IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 60
@       IN NS  ns1.example.com.
ns1     IN A   192.0.2.1
www     IN A   192.0.2.10
mail    IN A   192.0.2.20
";

/// The upstream's reverse zone: what a recursive resolver would say about addresses outside
/// the cluster.
const IN_ADDR_ARPA: &str = "$ORIGIN in-addr.arpa.
$TTL 300
@                 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 60
@                 IN NS  ns1.example.com.
10.2.0.192        IN PTR www.example.com.
";

const UPSTREAM_COREFILE: &str = "example.com:{PORT} {
    bind 127.0.0.1
    log
    file db.example.com
}
in-addr.arpa:{PORT} {
    bind 127.0.0.1
    log
    file db.in-addr.arpa
}
";

/// Port 53 on 127.0.0.1 is one resource: the tests of this file take turns with it.
static PORT_53: Mutex<()> = Mutex::new(());

// ---------------------------------------------------------------------------------------
// The pieces
// ---------------------------------------------------------------------------------------

/// The test API server with the fixture cluster loaded, and a kubeconfig for it.
struct Cluster {
    api: TestApiServer,
    kubeconfig: PathBuf,
    _dir: TempDir,
    // Declared last: dropped after the server that runs on it.
    _rt: tokio::runtime::Runtime,
}

impl Cluster {
    fn start() -> Cluster {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime for the test API server");
        let api = rt
            .block_on(TestApiServer::start(Options::default()))
            .expect("test API server starts");
        api.load_manifests(CLUSTER).expect("fixture cluster loads");
        let dir = TempDir::new("kubeadm-api");
        let kubeconfig = dir.path().join("kubeconfig");
        api.write_kubeconfig(&kubeconfig, "kubeadm-test")
            .expect("write kubeconfig");
        Cluster {
            api,
            kubeconfig,
            _dir: dir,
            _rt: rt,
        }
    }

    fn service(&self, name: &str, ip: &str) {
        self.api.apply(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip],
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
        }));
    }
}

/// The "external" resolver: a second cairn serving example.com and in-addr.arpa, logging
/// every query it answers (which is how the tests count what reached it).
struct Upstream {
    srv: Server,
    /// What `forward` names: the resolv.conf path, or `127.0.0.1:PORT` when port 53 could
    /// not be had.
    forward_to: String,
    _dir: TempDir,
}

/// Whether this process can bind 127.0.0.1:53 for UDP and TCP right now.
fn port_53_free() -> bool {
    let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 53));
    let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 53));
    udp.is_ok() && tcp.is_ok()
}

impl Upstream {
    fn start() -> Upstream {
        let files = [
            ("db.example.com", EXAMPLE_COM),
            ("db.in-addr.arpa", IN_ADDR_ARPA),
        ];
        let dir = TempDir::new("kubeadm-resolv");
        if port_53_free() {
            let started = Server::spawn_on(53, UPSTREAM_COREFILE, &files, &[], ConfSource::File)
                .and_then(|mut s| s.wait_ready().map(|()| s));
            match started {
                Ok(srv) => {
                    let resolv = dir.write(
                        "resolv.conf",
                        "# written by tests/kubeadm.rs\nnameserver 127.0.0.1\noptions ndots:5\n",
                    );
                    return Upstream {
                        srv,
                        forward_to: resolv.display().to_string(),
                        _dir: dir,
                    };
                }
                Err(e) => {
                    eprintln!("kubeadm.rs: the upstream could not start on 127.0.0.1:53 ({e:?})")
                }
            }
        }
        eprintln!(
            "kubeadm.rs: NOTE: 127.0.0.1:53 is not available to this process (not root, or taken): \
             `forward . /etc/resolv.conf` is tested as `forward . 127.0.0.1:PORT` instead"
        );
        let srv = Server::start_files(UPSTREAM_COREFILE, &files);
        let forward_to = format!("127.0.0.1:{}", srv.port);
        Upstream {
            srv,
            forward_to,
            _dir: dir,
        }
    }

    /// Queries for `name`/`rtype` the upstream answered so far.
    fn seen(&self, name: &str, rtype: &str) -> usize {
        self.srv.stdout_lines_with(&format!("\"{rtype} IN {name} "))
    }

    /// The upstream's address as `forward`'s metrics name it.
    fn to_label(&self) -> String {
        format!("127.0.0.1:{}", self.srv.port)
    }
}

/// Which cache lines the kubeadm Corefile has.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CacheForm {
    /// `cache 30 { disable success cluster.local; disable denial cluster.local }`.
    DisableCluster,
    /// `cache 30`.
    Plain,
}

/// The front: cairn running the kubeadm Corefile.
struct Front {
    srv: Server,
    health: u16,
    ready: u16,
    metrics: u16,
}

/// Replaces the one occurrence of `from` in `text`; panics if there is not exactly one (so
/// every change to kubeadm's text is deliberate and visible here).
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "expected {from:?} once in:\n{text}"
    );
    text.replacen(from, to, 1)
}

/// kubeadm's Corefile with the test's ports, resolv.conf and kubeconfig.
fn kubeadm_corefile(
    form: CacheForm,
    forward_to: &str,
    kubeconfig: &Path,
    (health, ready, metrics): (u16, u16, u16),
) -> String {
    let mut c = replace_once(KUBEADM_COREFILE, ".:53 {", ".:{PORT} {");
    c = replace_once(&c, "    health {\n", &format!("    health :{health} {{\n"));
    c = replace_once(&c, "    ready\n", &format!("    ready :{ready}\n"));
    c = replace_once(&c, "prometheus :9153", &format!("prometheus :{metrics}"));
    c = replace_once(
        &c,
        "forward . /etc/resolv.conf",
        &format!("forward . {forward_to}"),
    );
    c = replace_once(
        &c,
        "       ttl 30\n",
        &format!(
            "       ttl 30\n       kubeconfig {}\n",
            kubeconfig.display()
        ),
    );
    if form == CacheForm::Plain {
        c = replace_once(&c, CACHE_DISABLE_CLUSTER, CACHE_PLAIN);
    }
    c
}

impl Front {
    fn start(form: CacheForm, upstream: &Upstream, cluster: &Cluster) -> Front {
        let ports = (free_port(), free_port(), free_port());
        let corefile = kubeadm_corefile(form, &upstream.forward_to, &cluster.kubeconfig, ports);
        let srv = Server::start(&corefile);
        Front {
            srv,
            health: ports.0,
            ready: ports.1,
            metrics: ports.2,
        }
    }

    fn ask(&self, tcp: bool, name: &str, rtype: RecordType) -> Message {
        let q = query(name, rtype);
        let r = if tcp {
            self.srv.query_tcp(&q)
        } else {
            self.srv.query_udp(&q)
        };
        assert_eq!(r.metadata.id, q.metadata.id, "{r}");
        r
    }

    fn metrics(&self) -> String {
        let (status, body) = http_get(self.metrics, "/metrics");
        assert_eq!(status, 200, "GET /metrics");
        body
    }

    fn cache_hits(&self) -> f64 {
        let series = format!(
            "coredns_cache_hits_total{{server=\"dns://:{}\",type=\"success\",zones=\".\",view=\"\"}}",
            self.srv.port
        );
        let denial = series.replace("success", "denial");
        let body = self.metrics();
        metric_sample(&body, &series).unwrap_or(0.0) + metric_sample(&body, &denial).unwrap_or(0.0)
    }
}

fn a_of(r: &Message) -> Vec<Ipv4Addr> {
    let mut ips: Vec<Ipv4Addr> = r
        .answers
        .iter()
        .filter_map(|rec| match &rec.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect();
    ips.sort();
    ips
}

/// Sleeps past the next whole second of the cache's clock.
fn a_second_passes() {
    std::thread::sleep(Duration::from_millis(1100));
}

/// Changes the test expects to see within this long: far less than the 30 s a cached answer
/// would otherwise live.
const AT_ONCE: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------
// Checks shared by both forms
// ---------------------------------------------------------------------------------------

/// Service, headless, pod and PTR answers; the negative answer; over UDP and TCP.
fn cluster_names_answer(front: &Front) {
    for tcp in [false, true] {
        let r = front.ask(tcp, "web.default.svc.cluster.local.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        assert!(r.metadata.authoritative, "{r}");
        assert_eq!(
            section(&r.answers),
            ["web.default.svc.cluster.local. 30 A 10.96.0.50"],
            "{r}"
        );

        // Headless: the ready endpoints; SRV with one record per endpoint and their
        // addresses in the additional section.
        let r = front.ask(tcp, "db.default.svc.cluster.local.", RecordType::A);
        assert_eq!(
            section(&r.answers),
            [
                "db.default.svc.cluster.local. 30 A 10.244.2.10",
                "db.default.svc.cluster.local. 30 A 10.244.2.11",
            ],
            "{r}"
        );
        let r = front.ask(
            tcp,
            "_pg._tcp.db.default.svc.cluster.local.",
            RecordType::SRV,
        );
        assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
        assert_eq!(
            section(&r.answers),
            [
                "_pg._tcp.db.default.svc.cluster.local. 30 SRV 0 50 5432 db-0.db.default.svc.cluster.local.",
                "_pg._tcp.db.default.svc.cluster.local. 30 SRV 0 50 5432 db-1.db.default.svc.cluster.local.",
            ],
            "{r}"
        );
        assert_eq!(
            section(&r.additionals),
            [
                "db-0.db.default.svc.cluster.local. 30 A 10.244.2.10",
                "db-1.db.default.svc.cluster.local. 30 A 10.244.2.11",
            ],
            "{r}"
        );

        // `pods insecure`: any well-formed pod name answers its address.
        let r = front.ask(tcp, "10-244-1-5.default.pod.cluster.local.", RecordType::A);
        assert_eq!(
            section(&r.answers),
            ["10-244-1-5.default.pod.cluster.local. 30 A 10.244.1.5"],
            "{r}"
        );

        // Reverse names of the cluster: a cluster IP names its Service, an endpoint itself.
        let r = front.ask(tcp, "50.0.96.10.in-addr.arpa.", RecordType::PTR);
        assert_eq!(
            section(&r.answers),
            ["50.0.96.10.in-addr.arpa. 30 PTR web.default.svc.cluster.local."],
            "{r}"
        );
        let r = front.ask(tcp, "11.2.244.10.in-addr.arpa.", RecordType::PTR);
        assert_eq!(
            section(&r.answers),
            ["11.2.244.10.in-addr.arpa. 30 PTR db-1.db.default.svc.cluster.local."],
            "{r}"
        );

        // A name that does not exist: NXDOMAIN with the zone's SOA.
        let r = front.ask(tcp, "nope.default.svc.cluster.local.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
        assert_eq!(r.authorities.len(), 1, "{r}");
        assert_eq!(r.authorities[0].record_type(), RecordType::SOA, "{r}");
        assert_eq!(r.authorities[0].name.to_ascii(), "cluster.local.", "{r}");
    }
}

/// `loadbalance` shuffles address records in every reply, cached ones included: a headless
/// Service's two addresses come in both orders.
fn addresses_rotate(front: &Front) {
    let mut orders = std::collections::HashSet::new();
    for i in 0..40 {
        let r = front.ask(i % 2 == 1, "db.default.svc.cluster.local.", RecordType::A);
        let ips: Vec<String> = r.answers.iter().map(|a| a.data.to_string()).collect();
        assert_eq!(ips.len(), 2, "{r}");
        orders.insert(ips);
    }
    assert_eq!(orders.len(), 2, "always the same order: {orders:?}");
}

/// Names outside the cluster go to the resolv.conf upstream; an address outside the cluster
/// falls through `kubernetes` (`fallthrough in-addr.arpa`) to it too. The first answer
/// already carries the cache's TTL (300 capped to 30).
fn external_names_go_through_forward(front: &Front, upstream: &Upstream) {
    let r = front.ask(false, "www.example.com.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
    assert_eq!(
        section(&r.answers),
        ["www.example.com. 30 A 192.0.2.10"],
        "{r}"
    );
    assert_eq!(upstream.seen("www.example.com.", "A"), 1);

    let r = front.ask(true, "nope.example.com.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
    assert_eq!(r.authorities[0].record_type(), RecordType::SOA, "{r}");
    assert_eq!(r.authorities[0].name.to_ascii(), "example.com.", "{r}");

    let r = front.ask(false, "10.2.0.192.in-addr.arpa.", RecordType::PTR);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
    assert_eq!(
        section(&r.answers),
        ["10.2.0.192.in-addr.arpa. 30 PTR www.example.com."],
        "{r}"
    );
    assert_eq!(upstream.seen("10.2.0.192.in-addr.arpa.", "PTR"), 1);
    // Cluster names never went there.
    assert_eq!(upstream.srv.stdout_lines_with("cluster.local."), 0);
    assert_eq!(upstream.srv.stdout_lines_with(".96.10.in-addr.arpa."), 0);
}

/// External answers are cached: asked again over UDP and TCP, the TTL counts down and the
/// upstream sees each name once.
fn external_answers_are_cached(front: &Front, upstream: &Upstream) {
    a_second_passes();
    let hits = front.cache_hits();
    let mut last = 30;
    for tcp in [false, true, false] {
        let r = front.ask(tcp, "WWW.example.COM.", RecordType::A);
        assert_eq!(a_of(&r), [Ipv4Addr::new(192, 0, 2, 10)], "{r}");
        assert!(r.metadata.authoritative, "cache hits carry AA: {r}");
        let ttl = r.answers[0].ttl;
        assert!(
            ttl < 30 && ttl <= last && ttl >= 25,
            "ttl {ttl} after {last}: {r}"
        );
        last = ttl;
        let r = front.ask(tcp, "nope.example.com.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
        assert!(r.authorities[0].ttl < 30, "{r}");
        let r = front.ask(tcp, "10.2.0.192.in-addr.arpa.", RecordType::PTR);
        assert!(r.answers[0].ttl < 30, "{r}");
    }
    assert_eq!(front.cache_hits() - hits, 9.0);
    // The log line may trail the reply a little: give it time to show a second query.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(upstream.seen("www.example.com.", "A"), 1);
    assert_eq!(upstream.seen("nope.example.com.", "A"), 1);
    assert_eq!(upstream.seen("10.2.0.192.in-addr.arpa.", "PTR"), 1);
}

/// `/health` and `/ready` on their ports; the metric names kube-prometheus dashboards read.
fn probes_and_metrics(front: &Front, upstream: &Upstream) {
    assert_eq!(http_get(front.health, "/health"), (200, "OK".to_owned()));
    assert_eq!(http_get(front.ready, "/ready"), (200, "OK".to_owned()));

    let port = front.srv.port;
    let to = upstream.to_label();
    // The self-probe of `health` runs once a second.
    let deadline = Instant::now() + Duration::from_secs(5);
    let body = loop {
        let body = front.metrics();
        if metric_sample(&body, "coredns_health_request_duration_seconds_count")
            .is_some_and(|v| v >= 1.0)
        {
            break body;
        }
        assert!(Instant::now() < deadline, "no health self-probe:\n{body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    for family in [
        "coredns_build_info gauge",
        "coredns_panics_total counter",
        "coredns_dns_requests_total counter",
        "coredns_dns_responses_total counter",
        "coredns_dns_request_duration_seconds histogram",
        "coredns_dns_request_size_bytes histogram",
        "coredns_dns_response_size_bytes histogram",
        "coredns_plugin_enabled gauge",
        "coredns_cache_entries gauge",
        "coredns_cache_requests_total counter",
        "coredns_cache_hits_total counter",
        "coredns_cache_misses_total counter",
        "coredns_proxy_request_duration_seconds histogram",
        "coredns_proxy_conn_cache_hits_total counter",
        "coredns_proxy_conn_cache_misses_total counter",
        "coredns_forward_healthcheck_broken_total counter",
        "coredns_forward_max_concurrent_rejects_total counter",
        "coredns_health_request_duration_seconds histogram",
        "coredns_reload_version_info gauge",
        "coredns_kubernetes_rest_client_requests_total counter",
    ] {
        assert!(
            body.contains(&format!("# TYPE {family}\n")),
            "no {family}:\n{body}"
        );
    }
    let server = format!("dns://:{port}");
    for name in [
        "prometheus",
        "errors",
        "loadbalance",
        "cache",
        "kubernetes",
        "loop",
        "forward",
    ] {
        let line = format!(
            "coredns_plugin_enabled{{server=\"{server}\",zone=\".\",view=\"\",name=\"{name}\"}} 1"
        );
        assert!(body.lines().any(|l| l == line), "missing {line}:\n{body}");
    }
    // Per-query series under the block's zone `.`.
    let a_udp = body.lines().find(|l| {
        l.starts_with("coredns_dns_requests_total{")
            && l.contains(&format!("server=\"{server}\""))
            && l.contains("zone=\".\"")
            && l.contains("proto=\"udp\"")
            && l.contains("type=\"A\"")
    });
    assert!(
        a_udp
            .is_some_and(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) >= Some(5.0)),
        "{a_udp:?}\n{body}"
    );
    // `loop` probed this listener with HINFO at startup; the probe went through `forward`
    // and did not come back: no loop, nothing logged.
    let loop_probe = body.lines().find(|l| {
        l.starts_with("coredns_dns_requests_total{")
            && l.contains(&format!("server=\"{server}\""))
            && l.contains("type=\"other\"")
    });
    assert!(loop_probe.is_some(), "no HINFO probe counted:\n{body}");
    assert!(
        !front.srv.stdout().contains("plugin/loop"),
        "{}",
        front.srv.stdout()
    );
    let upstream_ok = format!(
        "coredns_proxy_request_duration_seconds_count{{proxy_name=\"forward\",to=\"{to}\",rcode=\"NOERROR\"}}"
    );
    assert!(
        metric_sample(&body, &upstream_ok).is_some_and(|v| v >= 2.0),
        "{upstream_ok}\n{body}"
    );
    assert_eq!(
        metric_sample(&body, "coredns_forward_max_concurrent_rejects_total"),
        Some(0.0),
        "{body}"
    );
    assert!(
        body.contains("coredns_reload_version_info{hash=\"sha512\",value=\""),
        "{body}"
    );
    let entries = format!(
        "coredns_cache_entries{{server=\"{server}\",type=\"success\",zones=\".\",view=\"\"}}"
    );
    assert!(
        metric_sample(&body, &entries).is_some_and(|v| v >= 2.0),
        "{entries}\n{body}"
    );
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn the_kubeadm_corefile_serves_a_cluster_and_forwards_the_rest() {
    let _turn = PORT_53.lock().unwrap_or_else(|e| e.into_inner());
    let cluster = Cluster::start();
    let upstream = Upstream::start();
    let front = Front::start(CacheForm::DisableCluster, &upstream, &cluster);

    cluster_names_answer(&front);
    addresses_rotate(&front);
    external_names_go_through_forward(&front, &upstream);
    external_answers_are_cached(&front, &upstream);

    // Cluster answers are not cached: a second later the TTL is still 30, and the cache
    // counts no hit for them.
    let hits = front.cache_hits();
    for tcp in [false, true] {
        let r = front.ask(tcp, "web.default.svc.cluster.local.", RecordType::A);
        assert_eq!(r.answers[0].ttl, 30, "{r}");
        let r = front.ask(tcp, "nope.default.svc.cluster.local.", RecordType::A);
        assert_eq!(r.authorities[0].ttl, 30, "{r}");
    }
    assert_eq!(front.cache_hits(), hits);
    // Reverse answers of the cluster are cached (in-addr.arpa is not disabled).
    let r = front.ask(false, "50.0.96.10.in-addr.arpa.", RecordType::PTR);
    assert!(r.answers[0].ttl < 30, "{r}");

    probes_and_metrics(&front, &upstream);

    // A Service changes and another appears: both visible at once, the cached PTR of the old
    // address included (it now falls through to the upstream, which knows nothing of it).
    cluster.service("web", "10.96.0.51");
    cluster.service("api", "10.96.0.60");
    wait_for("the changed and the new Service answer", AT_ONCE, || {
        a_of(&front.ask(false, "web.default.svc.cluster.local.", RecordType::A))
            == [Ipv4Addr::new(10, 96, 0, 51)]
            && a_of(&front.ask(true, "api.default.svc.cluster.local.", RecordType::A))
                == [Ipv4Addr::new(10, 96, 0, 60)]
    });
    let r = front.ask(false, "51.0.96.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(
        section(&r.answers),
        ["51.0.96.10.in-addr.arpa. 30 PTR web.default.svc.cluster.local."],
        "{r}"
    );
    let r = front.ask(false, "50.0.96.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
    assert_eq!(upstream.seen("50.0.96.10.in-addr.arpa.", "PTR"), 1);

    // External answers outlive cluster changes.
    let r = front.ask(false, "www.example.com.", RecordType::A);
    assert!(r.answers[0].ttl < 30, "{r}");
    assert_eq!(upstream.seen("www.example.com.", "A"), 1);
}

#[test]
fn the_older_plain_cache_30_form_caches_cluster_answers_until_they_change() {
    let _turn = PORT_53.lock().unwrap_or_else(|e| e.into_inner());
    let cluster = Cluster::start();
    let upstream = Upstream::start();
    let front = Front::start(CacheForm::Plain, &upstream, &cluster);

    cluster_names_answer(&front);
    external_names_go_through_forward(&front, &upstream);
    // Asked for before it exists: NXDOMAIN, kept in the denial cache.
    let r = front.ask(false, "late.default.svc.cluster.local.", RecordType::A);
    assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
    external_answers_are_cached(&front, &upstream);

    // Cluster answers come from the cache now: TTLs count down, and the cache counts hits.
    let hits = front.cache_hits();
    for tcp in [false, true] {
        let r = front.ask(tcp, "web.default.svc.cluster.local.", RecordType::A);
        assert_eq!(a_of(&r), [Ipv4Addr::new(10, 96, 0, 50)], "{r}");
        assert!(r.answers[0].ttl < 30, "{r}");
        let r = front.ask(tcp, "late.default.svc.cluster.local.", RecordType::A);
        assert_eq!(r.metadata.response_code, ResponseCode::NXDomain, "{r}");
        assert!(r.authorities[0].ttl < 30, "{r}");
    }
    assert_eq!(front.cache_hits() - hits, 4.0);
    addresses_rotate(&front);

    probes_and_metrics(&front, &upstream);

    // The cached answers end with the change: the new address and the new Service show at
    // once, not when their ~28 s left run out.
    cluster.service("web", "10.96.0.51");
    cluster.service("late", "10.96.0.70");
    wait_for("the change shows through the cache", AT_ONCE, || {
        a_of(&front.ask(false, "web.default.svc.cluster.local.", RecordType::A))
            == [Ipv4Addr::new(10, 96, 0, 51)]
            && a_of(&front.ask(true, "late.default.svc.cluster.local.", RecordType::A))
                == [Ipv4Addr::new(10, 96, 0, 70)]
    });
    // ... and are cached in turn.
    a_second_passes();
    let r = front.ask(false, "late.default.svc.cluster.local.", RecordType::A);
    assert_eq!(a_of(&r), [Ipv4Addr::new(10, 96, 0, 70)], "{r}");
    assert!(r.answers[0].ttl < 30, "{r}");
    // External answers are untouched by cluster changes.
    let r = front.ask(false, "www.example.com.", RecordType::A);
    assert!(r.answers[0].ttl < 29, "{r}");
    assert_eq!(upstream.seen("www.example.com.", "A"), 1);
}
