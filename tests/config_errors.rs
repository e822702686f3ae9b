//! The `cairn` binary's command line and lifecycle: bad Corefiles are refused at once with
//! the file and line of the mistake and nothing left listening; `-validate`, `-version`,
//! `-plugins`, `-conf stdin`, `-pidfile`; SIGTERM stops cleanly; SIGUSR1 reloads without
//! losing a query.

mod common;

use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

/// How long a refused Corefile may take to make the process exit.
const EXIT_WITHIN: Duration = Duration::from_secs(5);

/// Runs the server on a bad Corefile (written to `<dir>/Corefile`) and checks it exits
/// non-zero within 5 s, naming `Corefile:<line> -` and `message` in one error line, and
/// leaves the port free. Returns stderr.
fn assert_refused(corefile: &str, line: u32, message: &str) -> String {
    let dir = TempDir::new("bad");
    let port = free_port();
    let path = dir.write("Corefile", &fill(corefile, port));
    let p = path.to_string_lossy().into_owned();
    let ps = port.to_string();
    let (status, _out, err, elapsed) = run_cairn(
        &["-conf", &p, "-dns.port", &ps],
        dir.path(),
        None,
        EXIT_WITHIN + Duration::from_secs(5),
    );
    let status = status.unwrap_or_else(|| panic!("still running after {elapsed:?}: {err}"));
    assert!(elapsed < EXIT_WITHIN, "took {elapsed:?} to exit");
    assert!(!status.success(), "exit status {status} for:\n{corefile}");
    assert!(status.code().is_some(), "killed by a signal: {status}");
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("Error")).collect();
    assert_eq!(errors.len(), 1, "one error expected, stderr:\n{err}");
    let want = format!("Corefile:{line} -");
    assert!(errors[0].contains(&want), "'{want}' not in: {err}");
    assert!(errors[0].contains(message), "'{message}' not in: {err}");
    assert!(
        errors[0].contains(&*p) || errors[0].starts_with("Corefile:"),
        "file named: {err}"
    );
    // Nothing left listening on the port.
    assert_port_free(port);
    err
}

fn assert_port_free(port: u16) {
    let u = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port));
    assert!(u.is_ok(), "UDP port {port} still taken: {u:?}");
    let t = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port));
    assert!(t.is_ok(), "TCP port {port} still taken: {t:?}");
}

#[test]
fn unknown_directive_is_refused_with_its_line() {
    assert_refused(
        "example.org {\n    whoami\n    nope\n}\n",
        3,
        "Unknown directive 'nope'",
    );
}

#[test]
fn wrong_argument_count_is_refused_with_its_line() {
    assert_refused(
        "# a comment\nexample.org {\n    whoami extra\n}\n",
        3,
        "Wrong argument count",
    );
}

#[test]
fn unknown_option_in_a_plugin_block_is_refused() {
    assert_refused(
        "example.org {\n    health {\n        nope\n    }\n}\n",
        3,
        "nope",
    );
    assert_refused(
        "example.org {\n    whoami {\n        nope\n    }\n}\n",
        3,
        "unknown property 'nope'",
    );
}

#[test]
fn once_only_plugin_twice_is_refused() {
    assert_refused(
        "example.org {\n    whoami\n    errors\n    errors\n}\n",
        4,
        "can only be used once",
    );
}

#[test]
fn bad_server_block_keys_are_refused() {
    assert_refused(
        "example.org:notaport {\n    whoami\n}\n",
        1,
        "example.org:notaport",
    );
    assert_refused("ex..ample.org {\n    whoami\n}\n", 1, "ex..ample.org");
    assert_refused("example.org:99999 {\n    whoami\n}\n", 1, "99999");
    assert_refused(
        "example.org {\n    whoami\n}\n\nexample.net {\n    whoami\n}\nexample.org {\n    whoami\n}\n",
        8,
        "already defined",
    );
}

#[test]
fn tls_server_is_refused_as_not_supported_yet() {
    let err = assert_refused(
        "tls://example.org {\n    whoami\n}\n",
        1,
        "not supported yet",
    );
    assert!(err.contains("tls://"), "{err}");
}

#[test]
fn syntax_error_is_refused_with_its_line() {
    assert_refused("example.org {\n    whoami\n", 2, "EOF");
}

#[test]
fn missing_corefile_is_an_error() {
    let dir = TempDir::new("missing");
    let p = dir.path().join("NoSuchCorefile");
    let p = p.to_string_lossy().into_owned();
    let (status, _, err, elapsed) = run_cairn(&["-conf", &p], dir.path(), None, EXIT_WITHIN);
    assert!(!status.expect("exited").success());
    assert!(elapsed < EXIT_WITHIN);
    assert!(err.contains("NoSuchCorefile"), "{err}");
}

#[test]
fn udp_port_in_use_is_refused_and_nothing_is_left_listening() {
    let dir = TempDir::new("inuse");
    let port = free_port();
    let busy = UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).expect("bind busy socket");
    let path = dir.write("Corefile", "example.org {\n    whoami\n}\n");
    let p = path.to_string_lossy().into_owned();
    let ps = port.to_string();
    let (status, _, err, elapsed) = run_cairn(
        &["-conf", &p, "-dns.port", &ps],
        dir.path(),
        None,
        EXIT_WITHIN * 2,
    );
    let status = status.expect("exited");
    assert!(elapsed < EXIT_WITHIN, "{elapsed:?}");
    assert!(!status.success());
    assert!(err.contains("Corefile:1 -"), "{err}");
    assert!(err.contains(&ps) && err.contains("in use"), "{err}");
    drop(busy);
    assert_port_free(port);
}

#[test]
fn tcp_port_in_use_is_refused_and_udp_is_released() {
    // UDP binds first and succeeds; TCP fails; the UDP sockets must not stay behind (they
    // cannot outlive the process, but the process must exit rather than serve UDP only).
    let dir = TempDir::new("inuse-tcp");
    let port = free_port();
    let busy = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("bind busy listener");
    let path = dir.write("Corefile", "example.org {\n    whoami\n}\n");
    let p = path.to_string_lossy().into_owned();
    let ps = port.to_string();
    let (status, _, err, elapsed) = run_cairn(
        &["-conf", &p, "-dns.port", &ps],
        dir.path(),
        None,
        EXIT_WITHIN * 2,
    );
    let status = status.expect("exited");
    assert!(elapsed < EXIT_WITHIN, "{elapsed:?}");
    assert!(!status.success());
    assert!(err.contains("in use"), "{err}");
    drop(busy);
    assert_port_free(port);
}

#[test]
fn validate_accepts_a_good_file_without_binding() {
    let dir = TempDir::new("validate");
    let port = free_port();
    // The port is taken: -validate must not try to bind it.
    let _busy = UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).expect("bind");
    let path = dir.write(
        "Corefile",
        &format!("example.org:{port} {{\n    whoami\n}}\nexample.net {{\n    whoami\n}}\n"),
    );
    let p = path.to_string_lossy().into_owned();
    let (status, out, err, _) =
        run_cairn(&["-validate", "-conf", &p], dir.path(), None, EXIT_WITHIN);
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "stdout {out} stderr {err}"
    );
}

#[test]
fn validate_lists_every_error() {
    let dir = TempDir::new("validate-bad");
    let path = dir.write(
        "Corefile",
        "a.org {\n    whoami x\n    nosuchplugin\n}\n\nb.org {\n    whoami {\n        y\n    }\n}\n",
    );
    let p = path.to_string_lossy().into_owned();
    let (status, _, err, _) = run_cairn(&["-validate", "-conf", &p], dir.path(), None, EXIT_WITHIN);
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{err}");
    // An unknown directive does not hide the errors after it.
    assert!(err.contains("Corefile:2 -") && err.contains("'x'"), "{err}");
    assert!(
        err.contains("Corefile:3 -") && err.contains("Unknown directive 'nosuchplugin'"),
        "{err}"
    );
    assert!(err.contains("Corefile:8 -") && err.contains("'y'"), "{err}");
}

#[test]
fn version_flag_prints_cairn_version() {
    let dir = TempDir::new("version");
    let (status, out, _, _) = run_cairn(&["-version"], dir.path(), None, EXIT_WITHIN);
    assert!(status.expect("exited").success());
    assert!(out.starts_with("Cairn-"), "{out}");
}

#[test]
fn plugins_flag_lists_whoami() {
    let dir = TempDir::new("plugins");
    let (status, out, _, _) = run_cairn(&["-plugins"], dir.path(), None, EXIT_WITHIN);
    assert!(status.expect("exited").success());
    assert!(out.lines().any(|l| l.trim() == "dns.whoami"), "{out}");
}

#[test]
fn unknown_flag_is_an_error() {
    let dir = TempDir::new("flag");
    let (status, _, err, _) = run_cairn(&["-nope"], dir.path(), None, EXIT_WITHIN);
    assert!(!status.expect("exited").success());
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn conf_stdin_reads_the_corefile_from_standard_input() {
    let srv = Server::start_with("example.org {\n    whoami\n}\n", &[], ConfSource::Stdin)
        .unwrap_or_else(|e| panic!("{e:?}"));
    let r = srv.query_udp(&query("a.example.org.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
    assert_eq!(r.additionals.len(), 2, "{r}");
}

#[test]
fn pidfile_holds_the_pid_and_sigterm_exits_zero() {
    let dir = TempDir::new("pid");
    let pidfile = dir.path().join("cairn.pid");
    let pf = pidfile.to_string_lossy().into_owned();
    let srv = Server::start_with(
        "example.org {\n    whoami\n}\n",
        &["-pidfile", &pf],
        ConfSource::File,
    )
    .unwrap_or_else(|e| panic!("{e:?}"));
    let text = std::fs::read_to_string(&pidfile).expect("pidfile written");
    assert_eq!(text.trim(), srv.pid().to_string());
    let port = srv.port;
    let start = Instant::now();
    let status = srv.stop();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{status}");
    assert!(!pidfile.exists(), "pidfile removed on exit");
    assert_port_free(port);
}

#[test]
fn sigint_also_exits_zero() {
    let mut srv = Server::start("example.org {\n    whoami\n}\n");
    srv.signal("INT");
    let status = srv
        .wait_exit(Duration::from_secs(5))
        .expect("exit within 5 s");
    assert_eq!(status.code(), Some(0), "{status}");
}

#[test]
fn sigusr1_reloads_without_losing_queries() {
    let srv = Server::start("example.org {\n    whoami\n}\n");
    let before = srv.query_udp(&query("a.example.net.", RecordType::A));
    assert_eq!(
        before.metadata.response_code,
        ResponseCode::Refused,
        "{before}"
    );

    let addr = srv.addr();
    let reloaded = Arc::new(AtomicBool::new(false));
    let flag = reloaded.clone();
    // 200 queries in a row over one socket while the reload happens; each must be answered.
    let looper = std::thread::spawn(move || {
        let client = UdpClient::new(addr);
        let mut answered = 0;
        let mut lost = Vec::new();
        // First query of the loop that the new configuration answered.
        let mut switched_at = None;
        for i in 0..200 {
            let name = if i % 2 == 0 {
                "l.example.org."
            } else {
                "l.example.net."
            };
            let q = query(name, RecordType::A);
            // One send, no retry: a lost query counts as lost.
            match client.raw_id(&to_wire(&q), q.metadata.id, Duration::from_secs(2)) {
                Some(r) => {
                    answered += 1;
                    if i % 2 == 1 && header_rcode(&r) == 0 && switched_at.is_none() {
                        switched_at = Some(i);
                    }
                }
                None => lost.push(i),
            }
            if i == 50 {
                flag.store(true, Ordering::SeqCst);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        (answered, lost, switched_at)
    });
    while !reloaded.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    srv.rewrite_corefile("example.net {\n    whoami\n}\n");
    srv.signal("USR1");
    let (answered, lost, switched_at) = looper.join().expect("query loop");
    println!("reload took effect at query {switched_at:?} of 200 (signal sent after 50)");
    assert_eq!(
        answered,
        200,
        "queries lost across the reload: {lost:?}\n{}",
        srv.stderr()
    );

    // The new configuration serves example.net; example.org is no longer served.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = srv.query_udp(&query("a.example.net.", RecordType::A));
        if r.metadata.response_code == ResponseCode::NoError {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "reload not applied: {}",
            srv.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = srv.query_udp(&query("a.example.org.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::Refused, "{r}");
    let r = srv.query_tcp(&query("b.example.net.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
}

#[test]
fn sigusr1_with_a_bad_corefile_keeps_the_old_configuration() {
    let srv = Server::start("example.org {\n    whoami\n}\n");
    srv.rewrite_corefile("example.net {\n    whoami nope\n}\n");
    srv.signal("USR1");
    // Give the reload time to fail (the error is logged, CoreDNS-style, on stdout), then the
    // old configuration must still serve.
    let logs = || format!("{}{}", srv.stdout(), srv.stderr());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !logs().contains("not applied") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let logs = logs();
    assert!(
        logs.contains("not applied"),
        "no reload error logged:\n{logs}"
    );
    assert!(logs.contains("Corefile:2 -"), "{logs}");
    let r = srv.query_udp(&query("a.example.org.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
    let r = srv.query_udp(&query("a.example.net.", RecordType::A));
    assert_eq!(r.metadata.response_code, ResponseCode::Refused, "{r}");
}
