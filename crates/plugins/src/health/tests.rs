use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_core::setup::{BlockInfo, BlockSettings, InstanceParts, SetupCtx, Shutdown};
use cairn_core::testing::setup;
use cairn_core::wire::Name;
use cairn_core::Plugin;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::endpoint::{split_host_port, AddressError};
use super::probe;
use crate::registry::spec;

/// The query handlers each block got.
pub(crate) type Chains = Vec<Vec<Arc<dyn Plugin>>>;

/// Sets up `plugin` in every block of `corefile` into one instance, as the server does.
pub(crate) fn setup_blocks(
    plugin: &str,
    corefile: &str,
) -> Result<(InstanceParts, Chains), cairn_core::SetupError> {
    let names = [plugin];
    let opts = cairn_corefile::ParseOptions::new(&names);
    let parsed = cairn_corefile::parse("Corefile", corefile, &opts)?;
    let mut parts = InstanceParts::default();
    let mut chains = Vec::new();
    for (index, block) in parsed.blocks.iter().enumerate() {
        let mut keys = Vec::new();
        for t in &block.keys {
            keys.extend(cairn_corefile::parse_key(&t.text).expect("key"));
        }
        let zones = keys
            .iter()
            .map(|k| Name::parse(&k.zone, None).expect("zone"))
            .collect();
        let info = BlockInfo {
            index,
            keys,
            zones,
            port: 53,
        };
        let directives: Vec<_> = block
            .directives
            .iter()
            .filter(|d| d.name.text == plugin)
            .cloned()
            .collect();
        let mut settings = BlockSettings::default();
        let mut handlers = Vec::new();
        let mut ctx = SetupCtx::new(
            &directives,
            &info,
            &mut settings,
            PathBuf::from("."),
            &mut handlers,
            &mut parts,
        );
        (spec(plugin).setup)(&mut ctx)?;
        chains.push(handlers);
    }
    Ok((parts, chains))
}

fn routes(parts: &InstanceParts) -> Vec<(String, &'static str)> {
    parts
        .http
        .iter()
        .map(|r| (r.addr.clone(), r.path))
        .collect()
}

#[test]
fn page_always_answers_ok() {
    let s = setup(spec("health"), ". {\n health\n}", None).unwrap();
    assert!(s.plugins.is_empty(), "health is no query handler");
    let route = &s.parts.http[0];
    assert_eq!((route.addr.as_str(), route.path), (":8080", "/health"));
    let resp = route.handler.get();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, "OK");
    assert_eq!(resp.content_type, "text/plain; charset=utf-8");
}

#[test]
fn addresses_and_services() {
    for (corefile, want_routes, want_probes) in [
        (". {\n health\n}", vec![":8080"], 1),
        (". {\n health localhost:8091\n}", vec!["localhost:8091"], 1),
        (". {\n health [::1]:8091\n}", vec!["[::1]:8091"], 1),
        // Port 0: the real port is unknown here, so no self-probe.
        (". {\n health 127.0.0.1:0\n}", vec!["127.0.0.1:0"], 0),
        (". {\n health :8080\n health :8080\n}", vec![":8080"], 1),
        (
            ". {\n health :8080\n health :8081\n}",
            vec![":8080", ":8081"],
            2,
        ),
    ] {
        let s = setup(spec("health"), corefile, None).unwrap();
        let got: Vec<_> = s.parts.http.iter().map(|r| r.addr.as_str()).collect();
        assert_eq!(got, want_routes, "{corefile}");
        assert!(s.parts.http.iter().all(|r| r.path == "/health"));
        assert_eq!(s.parts.services.len(), want_probes, "{corefile}");
        assert!(s.parts.services.iter().all(|sv| sv.name == "health"));
        assert!(s.parts.shutdown_hooks.is_empty(), "{corefile}");
    }
}

#[test]
fn same_address_in_two_blocks_is_served_once() {
    let (parts, _) = setup_blocks(
        "health",
        "a.org {\n health :8080\n}\nb.org {\n health :8080\n}\nc.org {\n health :8082\n}",
    )
    .unwrap();
    assert_eq!(
        routes(&parts),
        vec![
            (":8080".to_string(), "/health"),
            (":8082".to_string(), "/health")
        ]
    );
    assert_eq!(parts.services.len(), 2);
    // A new instance registers again.
    let (again, _) = setup_blocks("health", "a.org {\n health :8080\n}").unwrap();
    assert_eq!(routes(&again), vec![(":8080".to_string(), "/health")]);
}

#[test]
fn lameduck_registers_a_pause() {
    let s = setup(
        spec("health"),
        ". {\n health :0 {\n  lameduck 50ms\n }\n}",
        None,
    )
    .unwrap();
    assert_eq!(s.parts.shutdown_hooks.len(), 1);
    let mut parts = s.parts;
    let (name, hook) = parts.shutdown_hooks.remove(0);
    assert_eq!(name, "health");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    rt.block_on(hook());
    assert!(start.elapsed() >= Duration::from_millis(50));

    for corefile in [
        ". {\n health :0 {\n  lameduck 0s\n }\n}",
        ". {\n health :0 {\n  lameduck -1s\n }\n}",
        ". {\n health :0 {\n }\n}",
    ] {
        let s = setup(spec("health"), corefile, None).unwrap();
        assert!(s.parts.shutdown_hooks.is_empty(), "{corefile}");
    }
}

#[test]
fn setup_errors_name_file_and_line() {
    for (corefile, line, contains) in [
        (". {\n health localhost\n}", 2, "missing port in address"),
        (". {\n health localhost:http\n}", 2, "invalid port 'http'"),
        (". {\n health ::1:8080\n}", 2, "too many colons"),
        (". {\n health [::1\n}", 2, "missing ']'"),
        (". {\n health :99999\n}", 2, "invalid port '99999'"),
        (". {\n health :8080 :8081\n}", 2, "Wrong argument count"),
        (
            ". {\n health {\n  lameduck\n }\n}",
            3,
            "Wrong argument count",
        ),
        (
            ". {\n health {\n  lameduck 1s 2s\n }\n}",
            3,
            "Wrong argument count",
        ),
        (
            ". {\n health {\n  lameduck soon\n }\n}",
            3,
            "unable to parse lameduck duration value: 'soon' : time: invalid duration \"soon\"",
        ),
        (
            ". {\n health {\n\n  lameduck 5\n }\n}",
            4,
            "time: missing unit in duration \"5\"",
        ),
        (
            ". {\n health {\n  other 1\n }\n}",
            3,
            "unknown property 'other'",
        ),
    ] {
        let err = setup(spec("health"), corefile, None).err().unwrap();
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
fn host_port_split_like_go() {
    for (addr, want) in [
        (":8080", Ok(("", 8080))),
        ("localhost:9153", Ok(("localhost", 9153))),
        ("127.0.0.1:0", Ok(("127.0.0.1", 0))),
        ("[::1]:8181", Ok(("::1", 8181))),
        ("[::]:53", Ok(("::", 53))),
        (
            "localhost",
            Err(AddressError::MissingPort("localhost".into())),
        ),
        ("[::1]", Err(AddressError::MissingPort("[::1]".into()))),
        ("a:b:1", Err(AddressError::TooManyColons("a:b:1".into()))),
        (
            "[nope]:1",
            Err(AddressError::BadIpv6("[nope]:1".into(), "nope".into())),
        ),
        (
            "host:",
            Err(AddressError::BadPort("host:".into(), "".into())),
        ),
        (
            "host:+1",
            Err(AddressError::BadPort("host:+1".into(), "+1".into())),
        ),
    ] {
        assert_eq!(split_host_port(addr), want, "{addr}");
    }
}

/// A listener answering every connection with `reply`, for the probe.
async fn fake_server(reply: &'static [u8]) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 512];
                let n = s.read(&mut buf).await.unwrap_or(0);
                // A wrong request gets a non-HTTP answer, which fails the probe.
                let answer = if buf[..n].starts_with(b"GET /health HTTP/1.0\r\n") {
                    reply
                } else {
                    b"bad request".as_slice()
                };
                let _ = s.write_all(answer).await;
            });
        }
    });
    addr
}

#[test]
fn probe_succeeds_on_http_and_fails_otherwise() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let good = fake_server(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nOK").await;
        probe::probe_once(&good).await.unwrap();
        let odd = fake_server(b"hello\r\n\r\n").await;
        assert!(matches!(
            probe::probe_once(&odd).await,
            Err(probe::ProbeError::NotHttp)
        ));
        // A port nobody listens on.
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().to_string()
        };
        assert!(matches!(
            probe::probe_once(&closed).await,
            Err(probe::ProbeError::Io(_))
        ));
    });
    assert_eq!(probe::target(":8080"), "localhost:8080");
    assert_eq!(probe::target("10.0.0.1:8080"), "10.0.0.1:8080");
}

#[test]
fn probe_loop_records_and_stops_on_shutdown() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let m = probe::metrics();
    let before = m.duration.count();
    rt.block_on(async {
        let addr = fake_server(b"HTTP/1.0 200 OK\r\n\r\nOK").await;
        let (shutdown, trigger) = Shutdown::new();
        let task = tokio::spawn(probe::run(addr, probe::metrics(), shutdown));
        tokio::time::sleep(Duration::from_millis(1300)).await;
        trigger.fire();
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("probe loop stops on shutdown")
            .unwrap();
    });
    assert!(m.duration.count() > before, "one probe in 1.3 s");
    let text = cairn_core::metrics::registry().encode();
    assert!(text.contains("# TYPE coredns_health_request_duration_seconds histogram\n"));
    assert!(text.contains("coredns_health_request_duration_seconds_bucket{le=\"0.00025\"} "));
    assert!(text.contains("coredns_health_request_duration_seconds_bucket{le=\"2.5\"} "));
    assert!(text.contains("# TYPE coredns_health_request_failures_total counter\n"));
    assert!(text.contains("\ncoredns_health_request_failures_total "));
}
