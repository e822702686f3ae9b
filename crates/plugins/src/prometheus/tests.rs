//! Metrics are process-wide, so every test labels its queries with its own `server` value
//! and only looks at the lines carrying it.

use std::net::SocketAddr;
use std::sync::Arc;

use cairn_core::metrics::registry;
use cairn_core::plugin::Chain;
use cairn_core::request::ServerInfo;
use cairn_core::setup::HttpHandler;
use cairn_core::testing::{query_from, run, setup, StubNext};
use cairn_core::wire::{Name, RType, Rcode};
use cairn_core::{Next, Plugin, Proto, Request, Served};

use super::process::{parse_btime, parse_limit, parse_stat, parse_status_kb, ProcessStats, Stat};
use super::{record_enabled, reset_enabled, MetricsPage, CONTENT_TYPE};
use crate::health::tests::setup_blocks;
use crate::registry::spec;
use cairn_core::dns_labels::{type_label, TYPES};

const V4: &str = "10.240.0.1:40212";
const V6: &str = "[2001:db8::1]:53000";

/// The chain `prometheus` (set up from `corefile`), then `rest`.
fn chain(corefile: &str, rest: Vec<Arc<dyn Plugin>>) -> Chain {
    let s = setup(spec("prometheus"), corefile, None).unwrap();
    assert_eq!(s.plugins.len(), 1);
    let mut plugins = s.plugins.clone();
    plugins.extend(rest);
    Chain::new(plugins)
}

/// Serves one query labelled with listener `server`.
fn serve(chain: &Chain, server: &str, name: &str, qtype: RType, client: &str, proto: Proto) {
    let mut req = query_from(name, qtype, client.parse::<SocketAddr>().unwrap(), proto);
    req.server = Arc::new(ServerInfo::new(server));
    // As the server does: encode the reply (which observes its size) unless dropped.
    let (mut req, result) = run(chain, req);
    if let Ok(m) = result {
        if m.rcode != Rcode::DROP {
            req.encode_reply(&m, &mut Vec::new());
        }
    }
}

/// The exposition lines that mention `server`.
fn lines_of(server: &str) -> Vec<String> {
    let needle = format!("server=\"{server}\"");
    registry()
        .encode()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_string)
        .collect()
}

fn has(lines: &[String], want: &str) -> bool {
    lines.iter().any(|l| l == want)
}

#[track_caller]
fn assert_lines(server: &str, want: &[&str]) {
    let got = lines_of(server);
    for w in want {
        assert!(has(&got, w), "missing {w}\nin:\n{}", got.join("\n"));
    }
}

/// A pass-through plugin with a given name.
struct Pass(&'static str);

impl Plugin for Pass {
    fn name(&self) -> &'static str {
        self.0
    }
    fn serve<'a>(&'a self, req: Box<Request>, next: Next<'a>) -> Served<'a> {
        next.run(req)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Answers NXDOMAIN after waiting (exercises the `Pending` path).
struct Slow;

impl Plugin for Slow {
    fn name(&self) -> &'static str {
        "slow"
    }
    fn serve<'a>(&'a self, mut req: Box<Request>, _next: Next<'a>) -> Served<'a> {
        Served::Pending(Box::pin(async move {
            tokio::task::yield_now().await;
            let m = req.reply_rcode(Rcode::NXDOMAIN);
            (req, Ok(m))
        }))
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[test]
fn one_query_gives_exactly_coredns_series() {
    let l = "dns://t-one:53";
    let c = chain(
        "example.org {\n prometheus\n}",
        vec![StubNext::new(Rcode::NOERROR)],
    );
    assert!(lines_of(l).is_empty(), "no series before any query");
    serve(&c, l, "www.example.org.", RType::A, V4, Proto::Udp);
    let got = lines_of(l);
    // The query and the empty reply are both 44 bytes: header 12, question 17 + 4, OPT 11.
    for want in [
        r#"coredns_dns_requests_total{server="dns://t-one:53",zone="example.org.",view="",proto="udp",family="1",type="A"} 1"#,
        r#"coredns_dns_responses_total{server="dns://t-one:53",zone="example.org.",view="",rcode="NOERROR",plugin="stub"} 1"#,
        r#"coredns_dns_request_duration_seconds_count{server="dns://t-one:53",zone="example.org.",view=""} 1"#,
        r#"coredns_dns_request_duration_seconds_bucket{server="dns://t-one:53",zone="example.org.",view="",le="8.192"} 1"#,
        r#"coredns_dns_request_size_bytes_sum{server="dns://t-one:53",zone="example.org.",view="",proto="udp"} 44"#,
        r#"coredns_dns_request_size_bytes_bucket{server="dns://t-one:53",zone="example.org.",view="",proto="udp",le="0"} 0"#,
        r#"coredns_dns_request_size_bytes_bucket{server="dns://t-one:53",zone="example.org.",view="",proto="udp",le="100"} 1"#,
        r#"coredns_dns_request_size_bytes_count{server="dns://t-one:53",zone="example.org.",view="",proto="udp"} 1"#,
        r#"coredns_dns_response_size_bytes_sum{server="dns://t-one:53",zone="example.org.",view="",proto="udp"} 44"#,
        r#"coredns_dns_response_size_bytes_bucket{server="dns://t-one:53",zone="example.org.",view="",proto="udp",le="64000"} 1"#,
    ] {
        assert!(has(&got, want), "missing {want}\nin:\n{}", got.join("\n"));
    }
    // Nothing else: no DO counter, no other type, proto, family or rcode.
    assert!(!got
        .iter()
        .any(|l| l.starts_with("coredns_dns_do_requests_total")));
    assert_eq!(
        got.iter()
            .filter(|l| l.starts_with("coredns_dns_requests_total"))
            .count(),
        1
    );
    assert_eq!(
        got.iter()
            .filter(|l| l.starts_with("coredns_dns_responses_total"))
            .count(),
        1
    );
    // 16 time buckets + +Inf + sum + count; 14 size buckets + +Inf + sum + count (twice).
    assert_eq!(got.len(), 2 + 19 + 17 + 17, "{}", got.join("\n"));

    serve(&c, l, "WWW.example.ORG.", RType::A, V4, Proto::Udp);
    assert_lines(
        l,
        &[
            r#"coredns_dns_requests_total{server="dns://t-one:53",zone="example.org.",view="",proto="udp",family="1",type="A"} 2"#,
            r#"coredns_dns_responses_total{server="dns://t-one:53",zone="example.org.",view="",rcode="NOERROR",plugin="stub"} 2"#,
        ],
    );
}

#[test]
fn zone_label_is_the_longest_block_zone_or_root() {
    let l = "dns://t-zone:53";
    let c = chain(
        "example.org sub.example.org 10.0.0.0/24 {\n prometheus\n}",
        vec![StubNext::new(Rcode::NXDOMAIN)],
    );
    serve(&c, l, "a.sub.example.org.", RType::AAAA, V4, Proto::Udp);
    serve(&c, l, "sub.example.org.", RType::AAAA, V4, Proto::Udp);
    serve(&c, l, "www.example.org.", RType::AAAA, V4, Proto::Udp);
    serve(&c, l, "other.net.", RType::AAAA, V4, Proto::Udp);
    serve(&c, l, "5.0.0.10.in-addr.arpa.", RType::PTR, V4, Proto::Udp);
    assert_lines(
        l,
        &[
            r#"coredns_dns_requests_total{server="dns://t-zone:53",zone="sub.example.org.",view="",proto="udp",family="1",type="AAAA"} 2"#,
            r#"coredns_dns_requests_total{server="dns://t-zone:53",zone="example.org.",view="",proto="udp",family="1",type="AAAA"} 1"#,
            r#"coredns_dns_requests_total{server="dns://t-zone:53",zone=".",view="",proto="udp",family="1",type="AAAA"} 1"#,
            r#"coredns_dns_requests_total{server="dns://t-zone:53",zone="0.0.10.in-addr.arpa.",view="",proto="udp",family="1",type="PTR"} 1"#,
            r#"coredns_dns_responses_total{server="dns://t-zone:53",zone="sub.example.org.",view="",rcode="NXDOMAIN",plugin="stub"} 2"#,
            r#"coredns_dns_responses_total{server="dns://t-zone:53",zone=".",view="",rcode="NXDOMAIN",plugin="stub"} 1"#,
        ],
    );
}

#[test]
fn root_block_labels_everything_root() {
    let l = "dns://t-root:53";
    let c = chain(
        ".:53 {\n prometheus\n}",
        vec![StubNext::new(Rcode::NOERROR)],
    );
    serve(&c, l, "www.example.org.", RType::MX, V4, Proto::Udp);
    assert_lines(
        l,
        &[
            r#"coredns_dns_requests_total{server="dns://t-root:53",zone=".",view="",proto="udp",family="1",type="MX"} 1"#,
        ],
    );
}

#[test]
fn plugin_label_is_the_first_plugin_after_prometheus() {
    let l = "dns://t-plugin:53";
    // errors -> cache -> stub: the reply is written by stub, labelled errors (CoreDNS 1.14).
    let c = chain(
        "example.org {\n prometheus\n}",
        vec![
            Arc::new(Pass("errors")),
            Arc::new(Pass("cache")),
            StubNext::new(Rcode::REFUSED),
        ],
    );
    serve(&c, l, "www.example.org.", RType::A, V4, Proto::Udp);
    assert_lines(
        l,
        &[
            r#"coredns_dns_responses_total{server="dns://t-plugin:53",zone="example.org.",view="",rcode="REFUSED",plugin="errors"} 1"#,
        ],
    );
}

#[test]
fn an_error_counts_as_servfail_without_plugin_or_size() {
    let l = "dns://t-error:53";
    // Nothing after prometheus: "no next plugin found".
    let c = chain("example.org {\n prometheus\n}", vec![]);
    serve(&c, l, "www.example.org.", RType::A, V4, Proto::Udp);
    assert_lines(
        l,
        &[
            r#"coredns_dns_responses_total{server="dns://t-error:53",zone="example.org.",view="",rcode="SERVFAIL",plugin=""} 1"#,
            r#"coredns_dns_response_size_bytes_sum{server="dns://t-error:53",zone="example.org.",view="",proto="udp"} 0"#,
            r#"coredns_dns_response_size_bytes_bucket{server="dns://t-error:53",zone="example.org.",view="",proto="udp",le="0"} 1"#,
            r#"coredns_dns_requests_total{server="dns://t-error:53",zone="example.org.",view="",proto="udp",family="1",type="A"} 1"#,
        ],
    );
}

#[test]
fn a_dropped_query_counts_as_noerror_without_plugin_or_size() {
    let l = "dns://t-drop:53";
    let c = chain(
        "example.org {\n prometheus\n}",
        vec![StubNext::new(Rcode::DROP)],
    );
    serve(&c, l, "www.example.org.", RType::A, V4, Proto::Udp);
    assert_lines(
        l,
        &[
            r#"coredns_dns_responses_total{server="dns://t-drop:53",zone="example.org.",view="",rcode="NOERROR",plugin=""} 1"#,
            r#"coredns_dns_response_size_bytes_sum{server="dns://t-drop:53",zone="example.org.",view="",proto="udp"} 0"#,
        ],
    );
}

#[test]
fn transport_family_type_and_do_labels() {
    let l = "dns://t-labels:53";
    let c = chain(
        "example.org {\n prometheus\n}",
        vec![StubNext::new(Rcode::NOERROR)],
    );
    serve(&c, l, "www.example.org.", RType(65280), V6, Proto::Tcp);
    serve(
        &c,
        l,
        "www.example.org.",
        RType::SVCB,
        "[::ffff:10.0.0.1]:5353",
        Proto::Udp,
    );
    let mut req = query_from(
        "www.example.org.",
        RType::DNSKEY,
        V4.parse().unwrap(),
        Proto::Udp,
    );
    req.server = Arc::new(ServerInfo::new(l));
    if let Some(e) = req.info.edns.as_mut() {
        e.dnssec_ok = true;
    }
    let _ = run(&c, req);
    assert_lines(
        l,
        &[
            r#"coredns_dns_requests_total{server="dns://t-labels:53",zone="example.org.",view="",proto="tcp",family="2",type="other"} 1"#,
            r#"coredns_dns_requests_total{server="dns://t-labels:53",zone="example.org.",view="",proto="udp",family="1",type="SVCB"} 1"#,
            r#"coredns_dns_requests_total{server="dns://t-labels:53",zone="example.org.",view="",proto="udp",family="1",type="DNSKEY"} 1"#,
            r#"coredns_dns_do_requests_total{server="dns://t-labels:53",zone="example.org.",view=""} 1"#,
            r#"coredns_dns_request_size_bytes_count{server="dns://t-labels:53",zone="example.org.",view="",proto="tcp"} 1"#,
            r#"coredns_dns_request_size_bytes_count{server="dns://t-labels:53",zone="example.org.",view="",proto="udp"} 2"#,
            r#"coredns_dns_request_duration_seconds_count{server="dns://t-labels:53",zone="example.org.",view=""} 3"#,
        ],
    );
}

#[test]
fn rare_rcodes_have_their_names() {
    let l = "dns://t-rcode:53";
    for (rcode, want) in [
        (Rcode::BADVERS, "BADVERS"),
        (Rcode(11), "RCODE11"),
        (Rcode(30), "RCODE30"),
    ] {
        let c = chain("example.org {\n prometheus\n}", vec![StubNext::new(rcode)]);
        serve(&c, l, "www.example.org.", RType::A, V4, Proto::Udp);
        assert_lines(
            l,
            &[&format!(
                r#"coredns_dns_responses_total{{server="dns://t-rcode:53",zone="example.org.",view="",rcode="{want}",plugin="stub"}} 1"#
            )],
        );
    }
}

#[test]
fn waiting_replies_are_recorded_too() {
    let l = "dns://t-pending:53";
    let c = chain("example.org {\n prometheus\n}", vec![Arc::new(Slow)]);
    serve(&c, l, "www.example.org.", RType::TXT, V4, Proto::Udp);
    assert_lines(
        l,
        &[
            r#"coredns_dns_responses_total{server="dns://t-pending:53",zone="example.org.",view="",rcode="NXDOMAIN",plugin="slow"} 1"#,
            r#"coredns_dns_requests_total{server="dns://t-pending:53",zone="example.org.",view="",proto="udp",family="1",type="TXT"} 1"#,
        ],
    );
}

#[test]
fn listeners_are_labelled_apart() {
    let (a, b) = ("dns://t-lis-a:53", "dns://[::1]:1053");
    let c = chain(
        "example.org {\n prometheus\n}",
        vec![StubNext::new(Rcode::NOERROR)],
    );
    serve(&c, a, "www.example.org.", RType::A, V4, Proto::Udp);
    serve(&c, b, "www.example.org.", RType::A, V4, Proto::Udp);
    serve(&c, b, "www.example.org.", RType::A, V4, Proto::Udp);
    assert_lines(
        a,
        &[
            r#"coredns_dns_requests_total{server="dns://t-lis-a:53",zone="example.org.",view="",proto="udp",family="1",type="A"} 1"#,
        ],
    );
    assert_lines(
        b,
        &[
            r#"coredns_dns_requests_total{server="dns://[::1]:1053",zone="example.org.",view="",proto="udp",family="1",type="A"} 2"#,
        ],
    );
    // More listeners than table slots still count (through the slow path).
    for i in 0..super::series::SERVER_SLOTS + 2 {
        let l = format!("dns://t-many-{i}:53");
        serve(&c, &l, "www.example.org.", RType::A, V4, Proto::Udp);
        serve(&c, &l, "www.example.org.", RType::A, V4, Proto::Udp);
        assert_lines(
            &l,
            &[&format!(
                r#"coredns_dns_requests_total{{server="{l}",zone="example.org.",view="",proto="udp",family="1",type="A"}} 2"#
            )],
        );
    }
}

#[test]
fn metrics_page_serves_the_registry() {
    let s = setup(spec("prometheus"), ". {\n prometheus\n}", None).unwrap();
    let route = &s.parts.http[0];
    assert_eq!(
        (route.addr.as_str(), route.path),
        ("localhost:9153", "/metrics")
    );
    let resp = route.handler.get();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.content_type, CONTENT_TYPE);
    let text = resp.body;
    for want in [
        "# TYPE coredns_build_info gauge\n",
        &format!(
            "coredns_build_info{{version=\"{}\",revision=\"{}\",goversion=\"rust\"}} 1\n",
            env!("CARGO_PKG_VERSION"),
            super::families::REVISION
        ),
        "# TYPE coredns_panics_total counter\n",
        "\ncoredns_panics_total ",
        "# TYPE coredns_dns_requests_total counter\n",
        "# TYPE coredns_dns_request_duration_seconds histogram\n",
        "# TYPE coredns_dns_responses_total counter\n",
        "# TYPE coredns_health_request_failures_total counter\n",
    ] {
        assert!(text.contains(want), "missing {want:?}");
    }
    if cfg!(target_os = "linux") {
        for want in [
            "# TYPE process_cpu_seconds_total counter\n",
            "# TYPE process_resident_memory_bytes gauge\n",
            "\nprocess_open_fds ",
            "\nprocess_max_fds ",
            "\nprocess_virtual_memory_bytes ",
            "\nprocess_virtual_memory_max_bytes ",
            "\nprocess_start_time_seconds ",
        ] {
            assert!(text.contains(want), "missing {want:?}");
        }
    }
    assert_eq!(MetricsPage.get().content_type, CONTENT_TYPE);
}

#[test]
fn panics_counter_is_shared() {
    let before = super::panics().get();
    super::panics().inc();
    assert!(super::panics().get() > before);
}

#[test]
fn plugin_enabled_is_recorded_and_reset() {
    let l = "dns://t-enabled:53";
    let zones = [
        Name::parse("example.org.", None).unwrap(),
        Name::parse("example.net.", None).unwrap(),
    ];
    record_enabled(l, &zones, &["prometheus", "errors", "cache"]);
    let got = lines_of(l);
    assert_eq!(got.len(), 6, "{}", got.join("\n"));
    assert!(has(
        &got,
        r#"coredns_plugin_enabled{server="dns://t-enabled:53",zone="example.org.",view="",name="cache"} 1"#
    ));
    assert!(has(
        &got,
        r#"coredns_plugin_enabled{server="dns://t-enabled:53",zone="example.net.",view="",name="prometheus"} 1"#
    ));
    reset_enabled();
    assert!(lines_of(l).is_empty());
}

#[test]
fn addresses_and_options() {
    for (corefile, addr) in [
        (". {\n prometheus\n}", "localhost:9153"),
        (". {\n prometheus :9153\n}", ":9153"),
        (
            ". {\n prometheus 127.0.0.1:0 {\n  runtime_metrics\n }\n}",
            "127.0.0.1:0",
        ),
    ] {
        let s = setup(spec("prometheus"), corefile, None).unwrap();
        let got: Vec<_> = s
            .parts
            .http
            .iter()
            .map(|r| (r.addr.as_str(), r.path))
            .collect();
        assert_eq!(got, vec![(addr, "/metrics")], "{corefile}");
        assert_eq!(s.plugins.len(), 1);
        assert_eq!(s.plugins[0].name(), "prometheus");
    }
}

#[test]
fn one_metrics_route_per_address() {
    let (parts, chains) = setup_blocks(
        "prometheus",
        "a.org {\n prometheus :9153\n}\nb.org {\n prometheus :9153\n}\nc.org {\n prometheus :9253\n}",
    )
    .unwrap();
    let got: Vec<_> = parts
        .http
        .iter()
        .map(|r| (r.addr.as_str(), r.path))
        .collect();
    assert_eq!(got, vec![(":9153", "/metrics"), (":9253", "/metrics")]);
    assert!(chains.iter().all(|c| c.len() == 1), "every block counts");
}

#[test]
fn setup_errors_name_file_and_line() {
    for (corefile, line, contains) in [
        (
            ". {\n prometheus localhost\n}",
            2,
            "missing port in address",
        ),
        (". {\n prometheus a:1 b:2\n}", 2, "Wrong argument count"),
        (
            ". {\n prometheus {\n  tls\n }\n}",
            3,
            "Wrong argument count",
        ),
        (
            ". {\n prometheus {\n  tls web.yml\n }\n}",
            3,
            "tls (metrics over HTTPS) is not supported yet",
        ),
        (
            ". {\n prometheus {\n  runtime_metrics all\n }\n}",
            3,
            "Wrong argument count",
        ),
        (
            ". {\n prometheus {\n  path /m\n }\n}",
            3,
            "unknown option: path",
        ),
        (
            ". {\n prometheus\n prometheus :9253\n}",
            3,
            "can only be used once per Server Block",
        ),
    ] {
        let err = setup(spec("prometheus"), corefile, None).err().unwrap();
        assert_eq!(err.line, line, "{corefile}: {err}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("Corefile:{line} - Error during parsing:")),
            "{text}"
        );
        assert!(text.contains(contains), "{corefile}: {text}");
    }
}

#[test]
fn type_labels_match_mnemonics() {
    for t in TYPES {
        assert_eq!(Some(type_label(t)), t.mnemonic());
    }
    for t in [RType::OPT, RType::CAA, RType(65280), RType::HINFO] {
        assert_eq!(type_label(t), "other");
    }
}

#[test]
fn proc_files_parse() {
    let stat = "4242 (cairn (worker) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 123456 987654321 4321 18446744073709551615";
    assert_eq!(
        parse_stat(stat),
        Some(Stat {
            utime: 250,
            stime: 75,
            starttime: 123456,
            vsize: 987654321
        })
    );
    assert_eq!(parse_stat("garbage"), None);
    let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
Max open files            1024                 1048576              files     \n\
Max address space         unlimited            unlimited            bytes     \n";
    assert_eq!(parse_limit(limits, "Max open files"), Some(1024.0));
    assert_eq!(
        parse_limit(limits, "Max address space"),
        Some(u64::MAX as f64)
    );
    assert_eq!(parse_limit(limits, "Max processes"), None);
    let status = "Name:\tcairn\nVmPeak:\t  20000 kB\nVmRSS:\t    1536 kB\n";
    assert_eq!(parse_status_kb(status, "VmRSS:"), Some(1536.0 * 1024.0));
    assert_eq!(
        parse_btime("cpu 1 2 3\nbtime 1700000000\nprocesses 5\n"),
        Some(1_700_000_000)
    );

    let mut out = String::new();
    ProcessStats {
        cpu_seconds: Some(3.25),
        open_fds: Some(12.0),
        ..ProcessStats::default()
    }
    .encode(&mut out);
    assert_eq!(
        out,
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n\
# TYPE process_cpu_seconds_total counter\n\
process_cpu_seconds_total 3.25\n\
# HELP process_open_fds Number of open file descriptors.\n\
# TYPE process_open_fds gauge\n\
process_open_fds 12\n"
    );
}

#[test]
fn own_process_stats_are_plausible() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let s = ProcessStats::read();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let start = s.start_time.unwrap();
    assert!(start > 1_000_000_000.0 && start <= now + 1.0, "{start}");
    assert!(s.open_fds.unwrap() >= 3.0);
    assert!(s.max_fds.unwrap() >= s.open_fds.unwrap());
    assert!(s.resident_memory.unwrap() > 0.0);
    assert!(s.virtual_memory.unwrap() >= s.resident_memory.unwrap());
    assert!(s.cpu_seconds.unwrap() >= 0.0);
}
