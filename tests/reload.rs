//! The `reload` plugin in a running `cairn`: edits to the Corefile and to a file it imports
//! are applied within the check period, bad edits keep the old configuration serving and
//! are counted in `coredns_reload_failed_total`, `coredns_reload_version_info` follows the
//! running configuration, and no query is lost while a reload happens under load.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

/// The check period of `reload 2s 1s` is 1.5 s to 2.5 s; a change must show within
/// interval + jitter (3 s), plus this much for a loaded machine.
const MARGIN: Duration = Duration::from_secs(3);
const WITHIN: Duration = Duration::from_secs(3);

/// Writes `text` to `path` the way kubelet updates a mounted ConfigMap: write beside, rename
/// over, so the watcher never reads half a file.
fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp-write");
    std::fs::write(&tmp, text).expect("write temp file");
    std::fs::rename(&tmp, path).expect("rename into place");
}

/// The A address in a reply to `www.example.org`, if any.
fn address(m: &Message) -> Option<Ipv4Addr> {
    m.answers.iter().find_map(|r| match &r.data {
        RData::A(a) => Some(a.0),
        _ => None,
    })
}

fn www() -> Message {
    query("www.example.org.", RecordType::A)
}

/// Queries until the answer is `want` (or the deadline passes); returns how long it took.
fn wait_for_answer(srv: &Server, want: Ipv4Addr, deadline: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let r = srv.query_udp(&www());
        if address(&r) == Some(want) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < deadline,
            "still answering {:?} after {deadline:?}, want {want}\nstdout:\n{}\nstderr:\n{}",
            address(&r),
            srv.stdout(),
            srv.stderr()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The value of the sample line that starts with `prefix` (name and labels).
fn sample(body: &str, prefix: &str) -> Option<String> {
    body.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .map(str::to_string)
}

fn failed_total(mport: u16) -> u64 {
    let (status, body) = http_get(mport, "/metrics");
    assert_eq!(status, 200);
    sample(&body, "coredns_reload_failed_total ")
        .unwrap_or_else(|| panic!("no coredns_reload_failed_total:\n{body}"))
        .parse()
        .expect("a count")
}

/// The hash in `coredns_reload_version_info` (exactly one series, value 1).
fn version(mport: u16) -> String {
    // The running configuration's hash is published once it is installed.
    wait_for("the version series", Duration::from_secs(5), || {
        http_get(mport, "/metrics")
            .1
            .contains("coredns_reload_version_info{")
    });
    let (status, body) = http_get(mport, "/metrics");
    assert_eq!(status, 200);
    let lines: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("coredns_reload_version_info{"))
        .collect();
    assert_eq!(lines.len(), 1, "one version series:\n{body}");
    let rest = lines[0]
        .strip_prefix("coredns_reload_version_info{hash=\"sha512\",value=\"")
        .unwrap_or_else(|| panic!("labels: {}", lines[0]));
    let (hash, tail) = rest.split_once('"').expect("closing quote");
    assert_eq!(tail, "} 1", "{}", lines[0]);
    assert_eq!(hash.len(), 128, "{hash}");
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{hash}");
    hash.to_string()
}

/// Waits until `coredns_reload_failed_total` reaches `want`.
fn wait_failed(srv: &Server, mport: u16, want: u64) {
    let start = Instant::now();
    while failed_total(mport) < want {
        assert!(
            start.elapsed() < WITHIN + MARGIN,
            "coredns_reload_failed_total never reached {want}\n{}",
            srv.stdout()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(failed_total(mport), want);
}

fn hosts_conf(ip: &str) -> String {
    format!("hosts {{\n    {ip} www.example.org\n}}\n")
}

fn corefile_with_import(mport: u16) -> String {
    format!(
        "example.org:{{PORT}} {{\n    reload 2s 1s\n    prometheus 127.0.0.1:{mport}\n    import answers.conf\n}}\n"
    )
}

#[test]
fn edits_are_applied_bad_ones_counted_and_the_version_follows() {
    let mport = free_port();
    let corefile = corefile_with_import(mport);
    let srv = Server::start_full(
        &corefile,
        &[("answers.conf", &hosts_conf("192.0.2.1"))],
        &[],
        ConfSource::File,
    )
    .unwrap_or_else(|e| panic!("cairn did not start: {e:?}"));
    let answers = srv.dir.path().join("answers.conf");
    assert_eq!(address(&srv.query_udp(&www())), Some([192, 0, 2, 1].into()));
    assert_eq!(failed_total(mport), 0, "the counter exists from the start");
    let v1 = version(mport);
    assert!(
        srv.stdout().contains(&format!(
            "[INFO] plugin/reload: Running configuration SHA512 = {v1}"
        )),
        "{}",
        srv.stdout()
    );

    // An edit of the imported file is a configuration change.
    write_atomic(&answers, &hosts_conf("192.0.2.3"));
    let took = wait_for_answer(&srv, [192, 0, 2, 3].into(), WITHIN + MARGIN);
    println!("imported file edit applied after {took:?}");
    let v2 = version(mport);
    assert_ne!(v1, v2);
    assert_eq!(failed_total(mport), 0);

    // A plugin option that does not set up: counted once, the old configuration serves.
    write_atomic(
        &answers,
        "hosts {\n    ttl abc\n    192.0.2.4 www.example.org\n}\n",
    );
    wait_failed(&srv, mport, 1);
    assert!(
        srv.stdout()
            .contains("[ERROR] plugin/reload: Corefile changed but reload failed: "),
        "{}",
        srv.stdout()
    );
    assert_eq!(address(&srv.query_udp(&www())), Some([192, 0, 2, 3].into()));
    assert_eq!(address(&srv.query_tcp(&www())), Some([192, 0, 2, 3].into()));
    assert_eq!(
        version(mport),
        v2,
        "the version is the running configuration's"
    );
    // Not tried (nor counted) again while the file stays the same.
    std::thread::sleep(WITHIN);
    assert_eq!(failed_total(mport), 1);

    // A syntax error in the Corefile itself: counted too, still serving.
    write_atomic(
        &srv.corefile,
        &fill(
            &corefile.replace("import answers.conf\n}", "import answers.conf\n"),
            srv.port,
        ),
    );
    wait_failed(&srv, mport, 2);
    assert_eq!(address(&srv.query_udp(&www())), Some([192, 0, 2, 3].into()));

    // Back to the running configuration with only a comment and spacing added: nothing to
    // reload (no new "Running configuration" line), nothing failed.
    let running_lines = || srv.stdout().matches("Running configuration SHA512").count();
    let before = running_lines();
    write_atomic(
        &answers,
        "# the same entry\nhosts   {\n\n    192.0.2.3    www.example.org\n}\n",
    );
    write_atomic(&srv.corefile, &fill(&corefile, srv.port));
    std::thread::sleep(WITHIN + Duration::from_millis(500));
    assert_eq!(running_lines(), before, "{}", srv.stdout());
    assert_eq!(failed_total(mport), 2);
    assert_eq!(version(mport), v2);

    // A good edit again: applied, a new version, the failure count kept.
    write_atomic(&answers, &hosts_conf("192.0.2.5"));
    wait_for_answer(&srv, [192, 0, 2, 5].into(), WITHIN + MARGIN);
    let v3 = version(mport);
    assert!(v3 != v2 && v3 != v1);
    assert_eq!(failed_total(mport), 2);
    assert_eq!(running_lines(), before + 1);
    let status = srv.stop();
    assert!(status.success(), "{status}");
}

/// What one load client saw.
#[derive(Debug)]
struct Load {
    sent: usize,
    answered: usize,
    /// Indexes of queries without an answer.
    lost: Vec<usize>,
    /// The addresses answered, with runs collapsed: [old, new] when the switch was clean.
    seen: Vec<Option<Ipv4Addr>>,
}

impl Load {
    fn record(&mut self, answer: Option<Message>) {
        self.sent += 1;
        match answer {
            Some(m) => {
                assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{m}");
                self.answered += 1;
                let a = address(&m);
                if self.seen.last() != Some(&a) {
                    self.seen.push(a);
                }
            }
            None => self.lost.push(self.sent - 1),
        }
    }
}

const LOAD_PERIOD: Duration = Duration::from_millis(4);

/// Queries over UDP from one socket at a steady rate until `stop`; each query is sent once.
fn udp_load(addr: SocketAddr, stop: Arc<AtomicBool>) -> JoinHandle<Load> {
    std::thread::spawn(move || {
        let client = UdpClient::new(addr);
        let mut load = Load {
            sent: 0,
            answered: 0,
            lost: Vec::new(),
            seen: Vec::new(),
        };
        while !stop.load(Ordering::SeqCst) {
            let q = www();
            let reply = client
                .raw_id(&to_wire(&q), q.metadata.id, Duration::from_secs(2))
                .map(|r| parse(&r));
            load.record(reply);
            std::thread::sleep(LOAD_PERIOD);
        }
        load
    })
}

/// Queries over TCP at a steady rate until `stop`: a long-lived connection, and a fresh one
/// for every tenth query (connections accepted across the swap).
fn tcp_load(addr: SocketAddr, stop: Arc<AtomicBool>) -> JoinHandle<Load> {
    std::thread::spawn(move || {
        let mut kept = TcpClient::connect(addr);
        let mut load = Load {
            sent: 0,
            answered: 0,
            lost: Vec::new(),
            seen: Vec::new(),
        };
        let mut i = 0usize;
        while !stop.load(Ordering::SeqCst) {
            let q = www();
            let mut fresh;
            let client = if i % 10 == 9 {
                fresh = TcpClient::connect(addr);
                &mut fresh
            } else {
                &mut kept
            };
            client.send_frame(&to_wire(&q));
            let reply = client.read_frame(Duration::from_secs(2)).map(|r| parse(&r));
            if let Some(r) = &reply {
                assert_eq!(r.metadata.id, q.metadata.id);
            }
            load.record(reply);
            i += 1;
            std::thread::sleep(LOAD_PERIOD);
        }
        load
    })
}

#[test]
fn no_query_is_lost_while_the_plugin_reloads_under_load() {
    let mport = free_port();
    let template = |ip: &str| {
        format!(
            "example.org:{{PORT}} {{\n    reload 2s 1s\n    prometheus 127.0.0.1:{mport}\n    hosts {{\n        {ip} www.example.org\n    }}\n}}\n"
        )
    };
    let srv = Server::start(&template("192.0.2.1"));
    let old: Ipv4Addr = [192, 0, 2, 1].into();
    let new: Ipv4Addr = [192, 0, 2, 2].into();
    let v1 = version(mport);

    let stop = Arc::new(AtomicBool::new(false));
    let clients = vec![
        ("udp", udp_load(srv.addr(), stop.clone())),
        ("udp", udp_load(srv.addr(), stop.clone())),
        ("tcp", tcp_load(srv.addr(), stop.clone())),
    ];
    std::thread::sleep(Duration::from_millis(300));

    write_atomic(&srv.corefile, &fill(&template("192.0.2.2"), srv.port));
    let took = wait_for_answer(&srv, new, WITHIN + MARGIN);
    println!("Corefile edit applied after {took:?}");
    // Keep the load on a while after the swap (the old generation drains meanwhile).
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);

    for (proto, client) in clients {
        let load = client.join().expect("load client");
        println!(
            "{proto}: {} sent, {} answered, seen {:?}",
            load.sent, load.answered, load.seen
        );
        assert!(load.sent > 100, "{proto}: too few queries to mean anything");
        assert!(
            load.lost.is_empty(),
            "{proto}: queries lost across the reload: {:?}\n{}",
            load.lost,
            srv.stdout()
        );
        assert_eq!(load.answered, load.sent, "{proto}");
        assert_eq!(
            load.seen,
            vec![Some(old), Some(new)],
            "{proto}: old answers, then new ones, never back"
        );
    }
    assert_ne!(version(mport), v1);
    assert_eq!(failed_total(mport), 0);
    let status = srv.stop();
    assert!(status.success(), "{status}");
}

#[test]
fn without_the_plugin_edits_wait_for_a_signal() {
    // The same edit without `reload`: nothing happens until SIGUSR1, which reloads through
    // the same path.
    let srv = Server::start(
        "example.org:{PORT} {\n    hosts {\n        192.0.2.1 www.example.org\n    }\n}\n",
    );
    write_atomic(
        &srv.corefile,
        &fill(
            "example.org:{PORT} {\n    hosts {\n        192.0.2.2 www.example.org\n    }\n}\n",
            srv.port,
        ),
    );
    std::thread::sleep(WITHIN);
    assert_eq!(address(&srv.query_udp(&www())), Some([192, 0, 2, 1].into()));
    srv.signal("USR1");
    wait_for_answer(&srv, [192, 0, 2, 2].into(), MARGIN);
}
