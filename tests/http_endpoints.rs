//! The probe and metrics endpoints of a running `cairn`: what `/metrics` says about the
//! configuration (coredns_plugin_enabled, request counters) before and after a reload.

mod common;

use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

/// Polls `/metrics` until `pred` holds (a reload or a counter may take a moment).
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
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn enabled_line(port: u16, zone: &str, name: &str) -> String {
    format!(
        "coredns_plugin_enabled{{server=\"dns://:{port}\",zone=\"{zone}\",view=\"\",name=\"{name}\"}} 1"
    )
}

#[test]
fn plugin_enabled_follows_the_serving_configuration_across_a_reload() {
    let mport = free_port();
    let corefile = format!(
        "example.org:{{PORT}} {{\n    prometheus 127.0.0.1:{mport}\n    whoami\n}}\n\
         example.net:{{PORT}} {{\n    whoami\n}}\n"
    );
    let srv = Server::start(&corefile);
    let port = srv.port;
    let q = query("a.example.org.", RecordType::A);
    let raw = srv.udp().query_raw(&to_wire(&q), q.metadata.id);
    let r = parse(&raw);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");

    let whoami = enabled_line(port, "example.org.", "whoami");
    let prom = enabled_line(port, "example.org.", "prometheus");
    let body = scrape_until(mport, "whoami enabled", |b| b.contains(&whoami));
    assert!(body.contains(&prom), "{body}");
    // The block without prometheus is not described, as in CoreDNS.
    assert!(
        !body.contains("zone=\"example.net.\",view=\"\",name="),
        "{body}"
    );
    // The query above was counted under its block's zone.
    assert!(
        body.lines().any(|l| l.starts_with(&format!(
            "coredns_dns_requests_total{{server=\"dns://:{port}\",zone=\"example.org.\",view=\"\",proto=\"udp\",family=\"1\",type=\"A\"}}"
        ))),
        "{body}"
    );

    // The response size is that of the bytes the client received.
    let size_line = format!(
        "coredns_dns_response_size_bytes_sum{{server=\"dns://:{port}\",zone=\"example.org.\",view=\"\",proto=\"udp\"}} {}",
        raw.len()
    );
    assert!(
        body.lines().any(|l| l == size_line),
        "want {size_line}\n{body}"
    );

    // Reload with `chaos` instead of `whoami`: the series follow the new configuration.
    let reloaded = format!(
        "example.org:{{PORT}} {{\n    prometheus 127.0.0.1:{mport}\n    chaos\n}}\n\
         example.net:{{PORT}} {{\n    whoami\n}}\n"
    );
    srv.rewrite_corefile(&reloaded);
    srv.signal("USR1");
    let chaos = enabled_line(port, "example.org.", "chaos");
    let body = scrape_until(mport, "chaos enabled", |b| b.contains(&chaos));
    assert!(
        !body.contains(&whoami),
        "whoami still reported after reload:\n{body}"
    );
    assert!(body.contains(&prom), "{body}");
}
