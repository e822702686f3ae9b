//! `loop` in the real `cairn` binary: a server forwarding to itself, and two servers
//! forwarding to each other, are detected within seconds; the process keeps running, logs
//! CoreDNS's line, reports not ready, answers SERVFAIL for the looping zone at once and shows
//! the detection in metrics. A server forwarding to a working upstream (another `cairn`)
//! keeps answering and stays ready, and its probe reaches the upstream once. A reload into a
//! looping configuration is detected too.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

/// Longest a test waits for a loop to be detected (it takes milliseconds).
const DETECT_WITHIN: Duration = Duration::from_secs(10);

const ZONE: &str = "$ORIGIN example.org.
$TTL 3600
@       IN SOA ns1.example.org. admin.example.org. 7 7200 3600 1209600 300
@       IN NS  ns1.example.org.
www     IN A   192.0.2.10
";

/// Polls `GET /ready` until its status is `want`; returns the body.
fn ready_until(srv: &Server, port: u16, want: u16) -> String {
    let deadline = Instant::now() + DETECT_WITHIN;
    loop {
        let (status, body) = http_get(port, "/ready");
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/ready still {status} ({body:?}) after {DETECT_WITHIN:?}, want {want}\nstdout:\n{}",
            srv.stdout()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The log lines reporting a loop.
fn loop_lines(srv: &Server) -> Vec<String> {
    srv.stdout()
        .lines()
        .filter(|l| l.contains("plugin/loop: Loop ("))
        .map(str::to_string)
        .collect()
}

/// Checks CoreDNS's line piece by piece: `[ERROR] plugin/loop: Loop (<client> -> <addr>)
/// detected for zone "<zone>", see https://coredns.io/plugins/loop#troubleshooting. Query:
/// "HINFO <n>.<n>.<zone>"`, with the client on 127.0.0.1 (the forwarder's socket).
fn assert_loop_line(line: &str, addr: &str, zone: &str) {
    let rest = line
        .strip_prefix("[ERROR] plugin/loop: Loop (127.0.0.1:")
        .unwrap_or_else(|| panic!("not CoreDNS's line at ERROR: {line}"));
    let (client_port, rest) = rest.split_once(" -> ").expect("client -> addr");
    assert!(client_port.parse::<u16>().is_ok(), "{line}");
    let tail = format!(
        ") detected for zone \"{zone}\", see https://coredns.io/plugins/loop#troubleshooting. Query: \"HINFO "
    );
    let rest = rest
        .strip_prefix(addr)
        .and_then(|r| r.strip_prefix(&tail))
        .unwrap_or_else(|| panic!("want addr {addr} and zone {zone}: {line}"));
    let name = rest.strip_suffix('"').expect("quoted query");
    let labels = name.strip_suffix(zone).expect("probe under the zone");
    let numbers: Vec<&str> = labels.trim_end_matches('.').split('.').collect();
    assert_eq!(numbers.len(), 2, "{line}");
    assert!(numbers.iter().all(|n| n.parse::<u64>().is_ok()), "{line}");
}

/// One UDP query, sent once: the reply must come within [`REPLY_TIMEOUT`] (a looping
/// forward would take its whole 5 s budget).
fn ask_once(srv: &Server, name: &str) -> hickory_proto::op::Message {
    let q = query(name, RecordType::A);
    let r = srv
        .udp()
        .raw_id(&to_wire(&q), q.metadata.id, REPLY_TIMEOUT)
        .unwrap_or_else(|| panic!("no reply within {REPLY_TIMEOUT:?} for {name}"));
    parse(&r)
}

/// The value of the sample `series` (full name with labels) in exposition text.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn still_running(srv: &mut Server) {
    assert!(
        srv.wait_exit(Duration::from_millis(300)).is_none(),
        "cairn exited on the loop\nstdout:\n{}\nstderr:\n{}",
        srv.stdout(),
        srv.stderr()
    );
}

#[test]
fn forwarding_to_itself_is_detected_and_the_server_keeps_serving() {
    let ready = free_port();
    let metrics = free_port();
    let corefile = format!(
        ".:{{PORT}} {{
    loop
    forward . 127.0.0.1:{{PORT}}
    ready 127.0.0.1:{ready}
    prometheus 127.0.0.1:{metrics}
}}
example.org:{{PORT}} {{
    file db.example.org
}}
"
    );
    let mut srv = Server::start_files(&corefile, &[("db.example.org", ZONE)]);
    let body = ready_until(&srv, ready, 503);
    assert_eq!(body, "loop");
    still_running(&mut srv);

    let lines = loop_lines(&srv);
    assert_eq!(lines.len(), 1, "one report: {lines:?}");
    assert_loop_line(&lines[0], &format!(":{}", srv.port), ".");

    // The looping zone fails at once, over UDP and TCP; another block still answers.
    let r = ask_once(&srv, "www.example.com.");
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{r}");
    let r = srv.query_tcp(&query("www.example.net.", RecordType::AAAA));
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{r}");
    let r = ask_once(&srv, "www.example.org.");
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");

    let (status, text) = http_get(metrics, "/metrics");
    assert_eq!(status, 200);
    let labels = format!("{{server=\"dns://:{}\",zone=\".\"}}", srv.port);
    assert_eq!(
        sample(&text, &format!("cairn_loop_detections_total{labels}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("cairn_loop_detected{labels}")),
        Some(1.0),
        "{text}"
    );

    // Still up, still not ready, still one report after more queries.
    std::thread::sleep(Duration::from_millis(500));
    still_running(&mut srv);
    assert_eq!(http_get(ready, "/ready"), (503, "loop".to_string()));
    assert_eq!(loop_lines(&srv).len(), 1);
    srv.stop();
}

#[test]
fn a_loop_through_a_second_server_is_detected_by_the_first() {
    let a_port = free_port();
    let b_port = free_port();
    let ready = free_port();
    // B forwards everything to A, and answers the harness's start-up probe itself.
    let b_corefile = format!(
        ".:{{PORT}} {{
    forward . 127.0.0.1:{a_port}
}}
cairn-test.invalid:{{PORT}} {{
    whoami
}}
"
    );
    let mut b = Server::spawn_on(b_port, &b_corefile, &[], &[], ConfSource::File).expect("spawn B");
    b.wait_ready().expect("B answers");
    // A, bound to 127.0.0.1, forwards everything to B: A -> B -> A.
    let a_corefile = format!(
        ".:{{PORT}} {{
    bind 127.0.0.1
    loop
    forward . 127.0.0.1:{b_port}
    ready 127.0.0.1:{ready}
}}
"
    );
    let mut a = Server::spawn_on(a_port, &a_corefile, &[], &[], ConfSource::File).expect("spawn A");
    a.wait_ready().expect("A answers");

    assert_eq!(ready_until(&a, ready, 503), "loop");
    let lines = loop_lines(&a);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_loop_line(&lines[0], &format!("127.0.0.1:{a_port}"), ".");
    still_running(&mut a);
    still_running(&mut b);

    // Both fail fast now: A at once, B with A's SERVFAIL.
    for srv in [&a, &b] {
        let r = ask_once(srv, "www.example.com.");
        assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{r}");
    }
    a.stop();
    b.stop();
}

/// An upstream `cairn` serving example.org and logging what reaches its root block.
fn upstream() -> Server {
    Server::start_files(
        "example.org:{PORT} {
    file db.example.org
}
.:{PORT} {
    log
    whoami
}
",
        &[("db.example.org", ZONE)],
    )
}

/// The probe queries the upstream logged (`"HINFO IN <name> ..."`), by name.
fn probes_seen(up: &Server) -> Vec<String> {
    up.stdout()
        .lines()
        .filter_map(|l| {
            let rest = l.split_once("\"HINFO IN ")?.1;
            Some(rest.split_whitespace().next()?.to_string())
        })
        .collect()
}

fn www(srv: &Server) -> Vec<Ipv4Addr> {
    let r = srv.query_udp(&query("www.example.org.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
    r.answers
        .iter()
        .filter_map(|rr| match &rr.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

#[test]
fn forwarding_to_a_working_upstream_stays_ready_and_probes_it_once() {
    let up = upstream();
    let ready = free_port();
    let metrics = free_port();
    let mut front = Server::start(&format!(
        ".:{{PORT}} {{
    loop
    forward . 127.0.0.1:{}
    ready 127.0.0.1:{ready}
    prometheus 127.0.0.1:{metrics}
}}
",
        up.port
    ));
    assert_eq!(ready_until(&front, ready, 200), "OK");
    assert_eq!(www(&front), [Ipv4Addr::new(192, 0, 2, 10)]);

    // Past the probe's grace period and a retry's pause: nothing more comes.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(http_get(ready, "/ready"), (200, "OK".to_string()));
    assert_eq!(www(&front), [Ipv4Addr::new(192, 0, 2, 10)]);
    let probes = probes_seen(&up);
    assert_eq!(
        probes.len(),
        1,
        "the probe reaches the upstream once: {probes:?}"
    );
    let labels: Vec<&str> = probes[0].trim_end_matches('.').split('.').collect();
    assert_eq!(labels.len(), 2, "{probes:?}");
    assert!(
        labels.iter().all(|l| l.parse::<u64>().is_ok()),
        "{probes:?}"
    );

    assert!(loop_lines(&front).is_empty(), "{}", front.stdout());
    let (_, text) = http_get(metrics, "/metrics");
    assert!(
        text.contains("# TYPE cairn_loop_detected gauge"),
        "the families are listed: {text}"
    );
    let series = format!(
        "cairn_loop_detected{{server=\"dns://:{}\",zone=\".\"}}",
        front.port
    );
    assert_eq!(sample(&text, &series), None, "{text}");
    still_running(&mut front);
    front.stop();
}

#[test]
fn a_reload_into_a_loop_is_detected() {
    let up = upstream();
    let ready = free_port();
    let template = |to: &str| {
        format!(
            ".:{{PORT}} {{
    loop
    forward . {to}
    ready 127.0.0.1:{ready}
}}
"
        )
    };
    let mut front = Server::start(&template(&format!("127.0.0.1:{}", up.port)));
    assert_eq!(ready_until(&front, ready, 200), "OK");
    assert_eq!(www(&front), [Ipv4Addr::new(192, 0, 2, 10)]);

    // Point forward at the server itself and reload.
    front.rewrite_corefile(&template("127.0.0.1:{PORT}"));
    front.signal("USR1");
    assert_eq!(ready_until(&front, ready, 503), "loop");
    let lines = loop_lines(&front);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_loop_line(&lines[0], &format!(":{}", front.port), ".");
    let r = ask_once(&front, "www.example.org.");
    assert_eq!(r.metadata.response_code, ResponseCode::ServFail, "{r}");
    still_running(&mut front);
    front.stop();
}
