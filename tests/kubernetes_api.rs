//! The real `cairn` binary watching a Kubernetes API server (the repo's test API server,
//! speaking the real protocol over HTTPS) through kube-rs: initial sync, changes visible in
//! answers within a second, answers kept through an API outage, catching up afterwards, and a
//! forced relist with no window of missing names; the API client's requests in
//! `/metrics` as CoreDNS's `coredns_kubernetes_rest_client_*` series.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use cairn_k8s_testserver::{Options, TestApiServer};
use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};
use serde_json::json;

fn service(ns: &str, name: &str, ip: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip],
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    })
}

fn namespace(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// The A records of `name`, or the rcode when there are none.
fn a_of(srv: &Server, name: &str) -> Result<Vec<Ipv4Addr>, ResponseCode> {
    let r = srv.query_udp(&query(name, RecordType::A));
    let ips: Vec<Ipv4Addr> = r
        .answers
        .iter()
        .filter_map(|rec| match &rec.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect();
    if ips.is_empty() {
        Err(r.metadata.response_code)
    } else {
        Ok(ips)
    }
}

#[test]
fn answers_follow_the_api_through_changes_outages_and_relists() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let api = rt
        .block_on(TestApiServer::start(Options::default()))
        .expect("test API server starts");
    api.apply_many([
        namespace("default"),
        namespace("prod"),
        service("default", "web", "10.96.0.10"),
        service("prod", "db", "10.96.0.20"),
    ]);
    let dir = TempDir::new("k8s-api");
    let kubeconfig = dir.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig, "test").unwrap();
    let corefile = format!(
        "cluster.local:{{PORT}} {{\n    kubernetes {{\n        kubeconfig {}\n    }}\n}}\n",
        kubeconfig.display()
    );
    let srv = Server::start(&corefile);

    // Initial sync: the server only opens its listeners once synced (or after the startup
    // timeout), so the first answers are already complete.
    assert_eq!(
        a_of(&srv, "web.default.svc.cluster.local."),
        Ok(vec![Ipv4Addr::new(10, 96, 0, 10)])
    );
    assert_eq!(
        a_of(&srv, "db.prod.svc.cluster.local."),
        Ok(vec![Ipv4Addr::new(10, 96, 0, 20)])
    );
    assert_eq!(
        a_of(&srv, "nope.prod.svc.cluster.local."),
        Err(ResponseCode::NXDomain)
    );

    // Add, change, delete: each visible within a second.
    api.apply(service("prod", "cache", "10.96.0.30"));
    wait_for("added service answers", Duration::from_secs(1), || {
        a_of(&srv, "cache.prod.svc.cluster.local.") == Ok(vec![Ipv4Addr::new(10, 96, 0, 30)])
    });
    api.apply(service("prod", "cache", "10.96.0.31"));
    wait_for("changed service answers", Duration::from_secs(1), || {
        a_of(&srv, "cache.prod.svc.cluster.local.") == Ok(vec![Ipv4Addr::new(10, 96, 0, 31)])
    });
    assert!(api.delete("v1", "Service", Some("prod"), "cache"));
    wait_for("deleted service is gone", Duration::from_secs(1), || {
        a_of(&srv, "cache.prod.svc.cluster.local.") == Err(ResponseCode::NXDomain)
    });

    // API down: answers continue from the last known state.
    api.set_down(true);
    for _ in 0..20 {
        assert_eq!(
            a_of(&srv, "web.default.svc.cluster.local."),
            Ok(vec![Ipv4Addr::new(10, 96, 0, 10)])
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Changed while down, then back: the server catches up.
    api.apply(service("default", "late", "10.96.0.40"));
    api.set_down(false);
    wait_for(
        "change made during the outage",
        Duration::from_secs(20),
        || a_of(&srv, "late.default.svc.cluster.local.") == Ok(vec![Ipv4Addr::new(10, 96, 0, 40)]),
    );

    // Forced relist (410 Gone): no name disappears while it happens.
    let lists_before = api.stats().list_count("services");
    api.compact();
    api.apply(service("default", "after", "10.96.0.50"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert_eq!(
            a_of(&srv, "web.default.svc.cluster.local."),
            Ok(vec![Ipv4Addr::new(10, 96, 0, 10)]),
            "a name went missing during the relist"
        );
        if a_of(&srv, "after.default.svc.cluster.local.") == Ok(vec![Ipv4Addr::new(10, 96, 0, 50)])
            && api.stats().list_count("services") > lists_before
        {
            break;
        }
        assert!(Instant::now() < deadline, "no relist seen");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(srv);
    drop(api);
}

/// The value of the sample `series` (name and labels exactly as exposed) on `/metrics`.
fn sample(port: u16, series: &str) -> Option<f64> {
    let (status, body) = http_get(port, "/metrics");
    assert_eq!(status, 200, "GET /metrics");
    body.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Polls until the sample `series` satisfies `ok`; panics with the exposition otherwise.
fn wait_for_sample(port: u16, series: &str, ok: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = sample(port, series).filter(|v| ok(*v)) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{series} not as expected: {:?}\n{}",
            sample(port, series),
            http_get(port, "/metrics").1
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn rest_client_metrics_describe_the_api_requests() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let api = rt
        .block_on(TestApiServer::start(Options::default()))
        .expect("test API server starts");
    api.apply_many([
        namespace("default"),
        service("default", "web", "10.96.0.10"),
    ]);
    let dir = TempDir::new("k8s-api-metrics");
    let kubeconfig = dir.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig, "test").unwrap();
    let mport = free_port();
    let corefile = format!(
        "cluster.local:{{PORT}} {{\n    prometheus 127.0.0.1:{mport}\n    kubernetes {{\n        kubeconfig {}\n    }}\n}}\n",
        kubeconfig.display()
    );
    let srv = Server::start(&corefile);
    assert_eq!(
        a_of(&srv, "web.default.svc.cluster.local."),
        Ok(vec![Ipv4Addr::new(10, 96, 0, 10)])
    );

    // client-go's labels: the API server as `host:port`, the method in upper case, the status.
    let host = format!("127.0.0.1:{}", api.addr().port());
    let ok = format!(
        "coredns_kubernetes_rest_client_requests_total{{code=\"200\",method=\"GET\",host=\"{host}\"}}"
    );
    // Services, EndpointSlices and Namespaces: a list and a watch each.
    wait_for_sample(mport, &ok, |v| v >= 6.0);
    // Lists are timed; watches are counted but not timed, as in client-go.
    let timed = format!(
        "coredns_kubernetes_rest_client_request_duration_seconds_count{{verb=\"GET\",host=\"{host}\"}}"
    );
    assert_eq!(sample(mport, &timed), Some(3.0));
    let in_ten_seconds = format!(
        "coredns_kubernetes_rest_client_request_duration_seconds_bucket{{verb=\"GET\",host=\"{host}\",le=\"10\"}}"
    );
    assert_eq!(sample(mport, &in_ten_seconds), Some(3.0));
    // No limits configured: the waits are there, and are zero.
    let waited = format!(
        "coredns_kubernetes_rest_client_rate_limiter_duration_seconds_count{{verb=\"GET\",host=\"{host}\"}}"
    );
    assert!(sample(mport, &waited).is_some_and(|v| v >= 3.0));
    let waited_long = format!(
        "coredns_kubernetes_rest_client_rate_limiter_duration_seconds_bucket{{verb=\"GET\",host=\"{host}\",le=\"0.005\"}}"
    );
    assert_eq!(sample(mport, &waited_long), sample(mport, &waited));

    // An outage: requests without a response are counted as `<error>`.
    api.set_down(true);
    let failed = format!(
        "coredns_kubernetes_rest_client_requests_total{{code=\"<error>\",method=\"GET\",host=\"{host}\"}}"
    );
    wait_for_sample(mport, &failed, |v| v >= 1.0);
    drop(srv);
    drop(api);
}
