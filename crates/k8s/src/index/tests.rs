//! Index behaviour: reductions (compat spec §3.2), reverse and pod maps, namespaces, change
//! tracking, sync, programming latency, snapshot isolation, and a property test comparing
//! incremental updates with a rebuild from scratch.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde_json::json;

use super::*;
use crate::objects::{self, Object};

// ---------------------------------------------------------------------------------------
// Helpers

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn object(value: serde_json::Value) -> Object {
    Object::from_json_value(value).unwrap()
}

fn service(ns: &str, name: &str, cluster_ip: &str) -> Object {
    object(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"clusterIP": cluster_ip, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    }))
}

fn endpoint(address: &str) -> serde_json::Value {
    json!({"addresses": [address], "conditions": {"ready": true}})
}

fn slice(ns: &str, name: &str, service: &str, endpoints: Vec<serde_json::Value>) -> Object {
    object(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": ns, "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
    }))
}

fn pod(ns: &str, name: &str, pod_ip: &str) -> Object {
    object(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "status": {"phase": "Running", "podIP": pod_ip}
    }))
}

fn namespace(name: &str, labels: serde_json::Value) -> Object {
    object(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": labels}
    }))
}

fn store_with(config: IndexConfig, changes: Vec<Change>) -> (Arc<Store>, Writer) {
    let (store, mut writer) = Store::new(config);
    for change in changes {
        writer.apply(change);
    }
    writer.publish();
    (store, writer)
}

fn service_ref(ns: &str, name: &str) -> Arc<ServiceRef> {
    Arc::new(ServiceRef {
        namespace: ns.into(),
        name: name.into(),
    })
}

fn service_entry(ns: &str, name: &str) -> ReverseEntry {
    ReverseEntry::Service(service_ref(ns, name))
}

fn endpoint_entry(ns: &str, name: &str) -> ReverseEntry {
    ReverseEntry::Endpoint(service_ref(ns, name))
}

fn upserts(objects: Vec<Object>) -> Vec<Change> {
    objects.into_iter().map(Change::Upsert).collect()
}

// ---------------------------------------------------------------------------------------
// Reductions

#[test]
fn service_reductions() {
    let objects = vec![
        // clusterIPs absent: falls back to [clusterIP]
        object(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "single", "namespace": "ns"},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 80}]}})),
        object(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "dual", "namespace": "ns"},
            "spec": {"clusterIP": "10.96.0.2", "clusterIPs": ["10.96.0.2", "fd00::2"],
                     "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "x", "port": 9, "protocol": "QUIC"}]}})),
        object(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "headless", "namespace": "ns"},
            "spec": {"clusterIP": "None", "clusterIPs": ["None"]}})),
        object(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "ext", "namespace": "ns"},
            "spec": {"type": "ExternalName", "externalName": "example.com"}})),
        object(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "lb", "namespace": "ns"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.5", "externalIPs": ["192.0.2.9", "bogus"],
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]},
        "status": {"loadBalancer": {"ingress": [
            {"ip": "198.51.100.1", "hostname": "ignored.example"},
            {"hostname": "lb.example.com"},
            {}
        ]}}})),
    ];
    let (store, _writer) = store_with(IndexConfig::default(), upserts(objects));
    let snap = store.load();

    let single = snap.service("ns", "single").unwrap();
    assert_eq!(single.kind, ServiceKind::ClusterIp);
    assert_eq!(&*single.cluster_ips, [ip("10.96.0.1")]);
    assert_eq!(
        &*single.ports,
        [Port {
            name: "".into(),
            protocol: Protocol::Tcp,
            port: 80
        }]
    );

    let dual = snap.service("ns", "dual").unwrap();
    assert_eq!(&*dual.cluster_ips, [ip("10.96.0.2"), ip("fd00::2")]);
    // The port with an unknown protocol is dropped.
    assert_eq!(dual.ports.len(), 1);
    assert_eq!(&*dual.ports[0].name, "dns");
    assert_eq!(dual.ports[0].protocol, Protocol::Udp);

    let headless = snap.service("ns", "headless").unwrap();
    assert_eq!(headless.kind, ServiceKind::Headless);
    assert!(headless.is_headless());
    assert!(headless.cluster_ips.is_empty());
    assert_eq!(&*headless.ports, [Port::sentinel()]);
    assert_eq!(headless.real_ports().count(), 0);

    let ext = snap.service("ns", "ext").unwrap();
    assert_eq!(ext.kind, ServiceKind::ExternalName);
    assert_eq!(ext.external_name.as_deref(), Some("example.com"));
    assert!(ext.cluster_ips.is_empty());

    let lb = snap.service("ns", "lb").unwrap();
    assert_eq!(
        &*lb.external,
        [
            ExternalAddress::Ip(ip("192.0.2.9")),
            ExternalAddress::Ip(ip("198.51.100.1")),
            ExternalAddress::Hostname("lb.example.com".into()),
        ]
    );
    assert_eq!(
        snap.services_by_external_ip(ip("198.51.100.1")),
        [service_entry("ns", "lb")]
    );
    assert!(snap.services_by_external_ip(ip("10.96.0.5")).is_empty());

    assert_eq!(snap.service_count(), 5);
    let mut names: Vec<&str> = snap.services().map(|s| &*s.name).collect();
    names.sort_unstable();
    assert_eq!(names, ["dual", "ext", "headless", "lb", "single"]);
    assert!(snap.service("ns", "missing").is_none());
    assert!(snap.service("other", "single").is_none());
}

#[test]
fn slice_reductions() {
    let long_name = "p".repeat(64);
    let just_fits = "q".repeat(63);
    let web = object(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-b", "namespace": "ns", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {"ready": true}, "hostname": "h1", "nodeName": "node-1",
             "zone": "Zone-A", "targetRef": {"kind": "Pod", "name": "web-1"}},
            {"addresses": ["10.0.0.2"], "conditions": {"ready": false}},
            {"addresses": ["10.0.0.3"], "conditions": {}, "targetRef": {"kind": "Pod", "name": long_name}},
            {"addresses": ["10.0.0.4"], "targetRef": {"kind": "Pod", "name": just_fits}},
            {"addresses": ["not-an-ip"]}
        ]
    }));
    let web_a = object(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "web-a", "namespace": "ns", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv6",
        "endpoints": [{"addresses": ["fd00::1"]}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "any"}]
    }));
    let orphan = object(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "orphan", "namespace": "ns"},
        "endpoints": [{"addresses": ["10.9.9.9"]}]
    }));

    for zones in [false, true] {
        let config = IndexConfig {
            zones,
            ..IndexConfig::default()
        };
        let (store, _writer) = store_with(
            config,
            upserts(vec![web.clone(), web_a.clone(), orphan.clone()]),
        );
        let snap = store.load();
        let slices = snap.endpoint_slices("ns", "web");
        let names: Vec<&str> = slices.iter().map(|s| &*s.name).collect();
        assert_eq!(names, ["web-a", "web-b"], "sorted by slice name");

        let a = &slices[0];
        assert_eq!(a.ports.len(), 2);
        assert_eq!(a.ports[1].port, Port::NONE, "absent port number reads -1");
        assert_eq!(&*a.endpoints[0].addresses, [ip("fd00::1")]);

        let b = &slices[1];
        assert_eq!(&*b.ports, [Port::sentinel()], "no ports: sentinel");
        let addresses: Vec<IpAddr> = b.endpoints.iter().map(|e| e.addresses[0]).collect();
        assert_eq!(
            addresses,
            [ip("10.0.0.1"), ip("10.0.0.3"), ip("10.0.0.4")],
            "not-ready and unparsable endpoints dropped"
        );
        let first = &b.endpoints[0];
        assert_eq!(first.hostname.as_deref(), Some("h1"));
        assert_eq!(first.target_pod.as_deref(), Some("web-1"));
        assert_eq!(first.node_name.as_deref(), Some("node-1"));
        assert_eq!(
            first.zone.as_deref(),
            if zones { Some("zone-a") } else { None }
        );
        assert_eq!(
            b.endpoints[1].target_pod, None,
            "64-character target dropped"
        );
        assert_eq!(b.endpoints[2].target_pod.as_deref(), Some(&*just_fits));

        // A slice without the service-name label is not indexed.
        assert!(snap.reverse(ip("10.9.9.9")).is_empty());
        assert!(snap.endpoint_slices("ns", "").is_empty());
        assert!(snap.endpoint_slices("ns", "nothing").is_empty());
    }
}

#[test]
fn noendpoints_keeps_no_slices() {
    let config = IndexConfig {
        endpoints: false,
        ..IndexConfig::default()
    };
    let (store, _writer) = store_with(
        config,
        upserts(vec![slice("ns", "s1", "web", vec![endpoint("10.0.0.1")])]),
    );
    let snap = store.load();
    assert!(snap.endpoint_slices("ns", "web").is_empty());
    assert!(snap.reverse(ip("10.0.0.1")).is_empty());
    assert!(snap.namespace("ns").is_none());
}

// ---------------------------------------------------------------------------------------
// Reverse map

#[test]
fn reverse_lists_services_then_endpoints() {
    let objects = vec![
        service("b", "two", "10.0.0.1"),
        service("a", "one", "10.0.0.1"),
        slice("z", "s1", "svc", vec![endpoint("10.0.0.1")]),
        slice("c", "s1", "other", vec![endpoint("10.0.0.1")]),
    ];
    let (store, _writer) = store_with(IndexConfig::default(), upserts(objects));
    let snap = store.load();
    let entries = snap.reverse(ip("10.0.0.1"));
    assert_eq!(
        entries,
        [
            service_entry("a", "one"),
            service_entry("b", "two"),
            endpoint_entry("c", "other"),
            endpoint_entry("z", "svc"),
        ]
    );
    assert_eq!(entries[2].namespace(), "c");
    assert_eq!(entries[2].service(), "other");
    assert!(snap.reverse(ip("10.0.0.2")).is_empty());
}

#[test]
fn reverse_follows_endpoint_changes() {
    let (store, mut writer) = store_with(
        IndexConfig::default(),
        upserts(vec![
            slice(
                "ns",
                "s1",
                "web",
                vec![endpoint("10.0.0.1"), endpoint("10.0.0.2")],
            ),
            slice("ns", "s2", "web", vec![endpoint("10.0.0.2")]),
        ]),
    );
    let web = endpoint_entry("ns", "web");
    assert_eq!(
        store.load().reverse(ip("10.0.0.2")),
        std::slice::from_ref(&web),
        "one entry per service"
    );

    // s1 loses both addresses: 10.0.0.1 disappears, 10.0.0.2 stays (still in s2).
    writer.apply(Change::Upsert(slice(
        "ns",
        "s1",
        "web",
        vec![endpoint("10.0.0.3")],
    )));
    writer.publish();
    let snap = store.load();
    assert!(snap.reverse(ip("10.0.0.1")).is_empty());
    assert_eq!(snap.reverse(ip("10.0.0.2")), std::slice::from_ref(&web));
    assert_eq!(snap.reverse(ip("10.0.0.3")), std::slice::from_ref(&web));

    // s2 moves to another service.
    writer.apply(Change::Upsert(slice(
        "ns",
        "s2",
        "api",
        vec![endpoint("10.0.0.2")],
    )));
    writer.publish();
    let snap = store.load();
    assert_eq!(snap.reverse(ip("10.0.0.2")), [endpoint_entry("ns", "api")]);
    assert_eq!(snap.endpoint_slices("ns", "web").len(), 1);
    assert_eq!(snap.endpoint_slices("ns", "api").len(), 1);

    // A not-ready endpoint has no PTR.
    let mut not_ready = endpoint("10.0.0.3");
    not_ready["conditions"]["ready"] = json!(false);
    writer.apply(Change::Upsert(slice("ns", "s1", "web", vec![not_ready])));
    writer.apply(Change::Delete(slice("ns", "s2", "api", vec![])));
    writer.publish();
    let snap = store.load();
    assert!(snap.reverse(ip("10.0.0.3")).is_empty());
    assert!(snap.reverse(ip("10.0.0.2")).is_empty());
    assert!(snap.endpoint_slices("ns", "api").is_empty());
}

#[test]
fn endpoints_at_finds_every_label_of_an_address() {
    let mut first = endpoint("10.0.0.7");
    first["hostname"] = json!("a");
    let mut second = endpoint("10.0.0.7");
    second["hostname"] = json!("b");
    let (store, _writer) = store_with(
        IndexConfig::default(),
        upserts(vec![
            slice("ns", "s1", "web", vec![first, endpoint("10.0.0.8")]),
            slice("ns", "s2", "web", vec![second]),
        ]),
    );
    let snap = store.load();
    let found: Vec<(&str, Option<&str>)> = snap
        .endpoints_at("ns", "web", ip("10.0.0.7"))
        .map(|(slice, ep)| (&*slice.name, ep.hostname.as_deref()))
        .collect();
    assert_eq!(found, [("s1", Some("a")), ("s2", Some("b"))]);
}

#[test]
fn cluster_ip_changes_move_the_reverse_entry() {
    let (store, mut writer) = store_with(
        IndexConfig::default(),
        upserts(vec![service("ns", "web", "10.0.0.1")]),
    );
    writer.apply(Change::Upsert(service("ns", "web", "10.0.0.2")));
    writer.publish();
    let snap = store.load();
    assert!(snap.reverse(ip("10.0.0.1")).is_empty());
    assert_eq!(snap.reverse(ip("10.0.0.2")).len(), 1);
    writer.apply(Change::Delete(service("ns", "web", "")));
    writer.publish();
    assert!(store.load().reverse(ip("10.0.0.2")).is_empty());
    assert!(store.load().service("ns", "web").is_none());
}

// ---------------------------------------------------------------------------------------
// Pods

fn pods_config() -> IndexConfig {
    IndexConfig {
        pods: true,
        ..IndexConfig::default()
    }
}

#[test]
fn pods_are_kept_only_when_asked() {
    let (store, _writer) = store_with(
        IndexConfig::default(),
        upserts(vec![pod("ns", "p", "10.1.0.1")]),
    );
    assert!(store.load().pod_by_ip(ip("10.1.0.1")).is_none());
    let (store, _writer) = store_with(pods_config(), upserts(vec![pod("ns", "p", "10.1.0.1")]));
    let snap = store.load();
    let entry = snap.pod_by_ip(ip("10.1.0.1")).unwrap();
    assert_eq!((&*entry.namespace, &*entry.name), ("ns", "p"));
    assert_eq!(entry.ip, ip("10.1.0.1"));
    assert_eq!(entry.label("app"), Some("p"));
    assert_eq!(entry.label("nope"), None);
}

#[test]
fn pod_lifecycle() {
    let (store, mut writer) = store_with(pods_config(), upserts(vec![pod("ns", "p", "10.1.0.1")]));

    // A terminating pod's update is ignored: the previous state stays.
    let Object::Pod(mut terminating) = pod("ns", "p", "10.1.0.99") else {
        unreachable!()
    };
    terminating.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
    assert!(!writer.apply(Change::Upsert(Object::Pod(terminating.clone()))));
    writer.publish();
    assert!(store.load().pod_by_ip(ip("10.1.0.1")).is_some());
    assert!(store.load().pod_by_ip(ip("10.1.0.99")).is_none());

    // Its delete removes it.
    assert!(writer.apply(Change::Delete(Object::Pod(terminating))));
    writer.publish();
    assert!(store.load().pod_by_ip(ip("10.1.0.1")).is_none());

    // A pod that finished is removed by its update.
    writer.apply(Change::Upsert(pod("ns", "q", "10.1.0.2")));
    writer.publish();
    assert!(store.load().pod_by_ip(ip("10.1.0.2")).is_some());
    let Object::Pod(mut done) = pod("ns", "q", "10.1.0.2") else {
        unreachable!()
    };
    done.status.phase = Some("Succeeded".into());
    writer.apply(Change::Upsert(Object::Pod(done)));
    writer.publish();
    assert!(store.load().pod_by_ip(ip("10.1.0.2")).is_none());

    // A pod without an IP yet is not indexed; its IP arriving indexes it.
    writer.apply(Change::Upsert(pod("ns", "r", "")));
    writer.publish();
    assert!(store.load().namespace("ns").is_none());
    writer.apply(Change::Upsert(pod("ns", "r", "10.1.0.3")));
    writer.publish();
    assert_eq!(&*store.load().pod_by_ip(ip("10.1.0.3")).unwrap().name, "r");
}

#[test]
fn shared_pod_ips_pick_the_first_by_name() {
    let (store, mut writer) = store_with(
        pods_config(),
        upserts(vec![
            pod("kube-system", "proxy", "192.168.0.1"),
            pod("default", "node-exporter", "192.168.0.1"),
        ]),
    );
    let snap = store.load();
    assert_eq!(
        &*snap.pod_by_ip(ip("192.168.0.1")).unwrap().name,
        "node-exporter"
    );
    assert_eq!(snap.pods_by_ip(ip("192.168.0.1")).len(), 2);
    writer.apply(Change::Delete(pod("default", "node-exporter", "")));
    writer.publish();
    assert_eq!(
        &*store.load().pod_by_ip(ip("192.168.0.1")).unwrap().name,
        "proxy"
    );
}

#[test]
fn all_pod_ips_is_opt_in() {
    let dual = object(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns"},
        "status": {"phase": "Running", "podIP": "10.1.0.1", "podIPs": [{"ip": "10.1.0.1"}, {"ip": "fd00::1"}]}
    }));
    let (store, _w) = store_with(pods_config(), upserts(vec![dual.clone()]));
    assert!(store.load().pod_by_ip(ip("fd00::1")).is_none());
    let config = IndexConfig {
        all_pod_ips: true,
        ..pods_config()
    };
    let (store, _w) = store_with(config, upserts(vec![dual]));
    let snap = store.load();
    assert_eq!(&*snap.pod_by_ip(ip("fd00::1")).unwrap().name, "p");
    assert_eq!(snap.pod_by_ip(ip("fd00::1")).unwrap().ip, ip("10.1.0.1"));
}

// ---------------------------------------------------------------------------------------
// Selectors and namespaces

#[test]
fn label_selector_filters_and_removes() {
    let config = IndexConfig {
        labels: "env=prod".parse().unwrap(),
        ..IndexConfig::default()
    };
    let labelled = |env: &str| {
        object(json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "ns", "labels": {"env": env}},
            "spec": {"clusterIP": "10.0.0.1"}}))
    };
    let (store, mut writer) = store_with(config, upserts(vec![labelled("prod")]));
    assert!(store.load().service("ns", "web").is_some());
    writer.apply(Change::Upsert(labelled("dev")));
    writer.publish();
    assert!(
        store.load().service("ns", "web").is_none(),
        "moved out of the selector"
    );
    assert!(store.load().reverse(ip("10.0.0.1")).is_empty());
}

#[test]
fn namespaces_implied_until_one_is_seen() {
    let (store, mut writer) = store_with(
        IndexConfig::default(),
        upserts(vec![service("a", "web", "10.0.0.1")]),
    );
    let snap = store.load();
    assert!(!snap.has_namespaces());
    assert_eq!(snap.namespace("a").map(|n| &*n.name), Some("a"));
    assert!(snap.namespace("b").is_none());

    writer.apply(Change::Upsert(namespace("b", json!({}))));
    writer.publish();
    let snap = store.load();
    assert!(snap.has_namespaces());
    assert!(
        snap.namespace("a").is_none(),
        "only Namespace objects count now"
    );
    assert!(snap.namespace("b").is_some());
    assert_eq!(snap.namespaces().count(), 1);

    writer.apply(Change::Delete(namespace("b", json!({}))));
    writer.apply(Change::Delete(service("a", "web", "")));
    writer.publish();
    let snap = store.load();
    assert!(!snap.has_namespaces());
    assert!(snap.namespace("a").is_none(), "no object left in it");
}

#[test]
fn namespace_labels_select_namespaces() {
    let config = IndexConfig {
        namespace_labels: "team in (dns, net)".parse().unwrap(),
        ..IndexConfig::default()
    };
    let (store, mut writer) = store_with(
        config,
        upserts(vec![
            namespace("one", json!({"team": "dns"})),
            namespace("two", json!({"team": "web"})),
        ]),
    );
    let snap = store.load();
    assert!(snap.has_namespaces());
    assert!(snap.namespace("one").is_some());
    assert!(snap.namespace("two").is_none());
    writer.apply(Change::Upsert(namespace("two", json!({"team": "net"}))));
    writer.apply(Change::Upsert(namespace("one", json!({}))));
    writer.publish();
    let snap = store.load();
    assert!(snap.namespace("one").is_none());
    assert!(snap.namespace("two").is_some());
}

// ---------------------------------------------------------------------------------------
// Replace, change tracking, publish

#[test]
fn replace_removes_what_is_not_listed() {
    let (store, mut writer) = store_with(
        IndexConfig::default(),
        upserts(vec![
            service("ns", "a", "10.0.0.1"),
            service("ns", "b", "10.0.0.2"),
        ]),
    );
    writer.apply(Change::Replace(
        Kind::Service,
        vec![
            service("ns", "b", "10.0.0.2"),
            service("ns", "c", "10.0.0.3"),
            pod("ns", "x", "1.1.1.1"),
        ],
    ));
    writer.publish();
    let snap = store.load();
    assert!(snap.service("ns", "a").is_none());
    assert!(snap.service("ns", "b").is_some());
    assert!(snap.service("ns", "c").is_some());
    assert!(snap.reverse(ip("10.0.0.1")).is_empty());
}

#[test]
fn identical_updates_change_nothing() {
    let (store, mut writer) = store_with(
        IndexConfig::default(),
        upserts(vec![service("ns", "web", "10.0.0.1")]),
    );
    let before = store.snapshot();
    // Same DNS content, different resourceVersion and labels.
    let Object::Service(mut same) = service("ns", "web", "10.0.0.1") else {
        unreachable!()
    };
    same.metadata.resource_version = Some("99".into());
    assert!(!writer.apply(Change::Upsert(Object::Service(same))));
    let published = writer.publish();
    assert!(!published.changed);
    assert!(Arc::ptr_eq(&before, &store.snapshot()), "no new snapshot");
}

#[test]
fn generation_moves_with_every_published_change() {
    let (store, mut writer) = Store::new(IndexConfig::default());
    assert_eq!(store.generation(), 0);
    writer.apply(Change::Upsert(service("ns", "web", "10.0.0.1")));
    // Applied but not published: readers still see the old generation.
    assert_eq!(store.generation(), 0);
    assert!(writer.publish().changed);
    let first = store.generation();
    assert!(first > 0);
    assert!(store.load().service("ns", "web").is_some());

    // Nothing changed: no publish, same generation.
    writer.apply(Change::Upsert(service("ns", "web", "10.0.0.1")));
    assert!(!writer.publish().changed);
    assert_eq!(store.generation(), first);

    // A change within the same second still moves it (unlike `modified`).
    writer.apply(Change::Upsert(service("ns", "web", "10.0.0.2")));
    writer.publish();
    assert!(store.generation() > first);
    let second = store.generation();
    writer.apply(Change::Delete(service("ns", "web", "10.0.0.2")));
    writer.publish();
    assert!(store.generation() > second);
    assert!(store.load().service("ns", "web").is_none());
}

#[test]
fn modified_tracks_dns_visible_changes() {
    let config = IndexConfig {
        pods: true,
        ..IndexConfig::default()
    };
    let (store, mut writer) = Store::new(config);
    assert_eq!(store.load().modified(), 0);
    writer.apply(Change::Upsert(service("ns", "web", "10.0.0.1")));
    writer.apply(Change::Upsert(pod("ns", "p", "10.1.0.1")));
    writer.publish();
    let now = unix_now();
    let snap = store.load();
    assert!(
        snap.modified().abs_diff(now) <= 1,
        "{} vs {now}",
        snap.modified()
    );
    assert_eq!(snap.external_modified(), 0, "no external addresses yet");

    // Force a visible stale value and check what moves it.
    writer.next.modified = 1;
    writer.next.external_modified = 1;
    // Pod label change: new data, same serial (CoreDNS compares pod IPs only).
    writer.apply(Change::Upsert(object(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "other"}},
        "status": {"phase": "Running", "podIP": "10.1.0.1"}
    }))));
    assert!(writer.publish().changed);
    assert_eq!(store.load().modified(), 1);
    assert_eq!(
        store.load().pod_by_ip(ip("10.1.0.1")).unwrap().label("app"),
        Some("other")
    );

    // External IP change: both serials move.
    writer.apply(Change::Upsert(object(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"clusterIP": "10.0.0.1", "externalIPs": ["192.0.2.1"],
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    }))));
    writer.publish();
    let snap = store.load();
    assert!(snap.modified() > 1);
    assert!(snap.external_modified() > 1);
}

fn unix_now() -> u32 {
    u32::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

#[test]
fn published_snapshots_never_change() {
    let (store, mut writer) = store_with(
        IndexConfig::default(),
        upserts(vec![
            service("ns", "web", "10.0.0.1"),
            slice("ns", "s1", "web", vec![endpoint("10.0.0.5")]),
        ]),
    );
    let old = store.snapshot();
    writer.apply(Change::Delete(service("ns", "web", "")));
    writer.apply(Change::Upsert(slice(
        "ns",
        "s1",
        "web",
        vec![endpoint("10.0.0.6")],
    )));
    writer.apply(Change::Upsert(service("ns", "api", "10.0.0.2")));
    writer.publish();
    // The old snapshot still shows the old world.
    assert!(old.service("ns", "web").is_some());
    assert!(old.service("ns", "api").is_none());
    assert_eq!(old.reverse(ip("10.0.0.5")).len(), 1);
    assert!(old.reverse(ip("10.0.0.6")).is_empty());
    let new = store.load();
    assert!(new.service("ns", "web").is_none());
    assert!(new.reverse(ip("10.0.0.5")).is_empty());
    assert_eq!(new.reverse(ip("10.0.0.6")).len(), 1);
}

#[test]
fn an_update_copies_only_touched_shards() {
    let objects: Vec<Object> = (0..2000)
        .map(|i| {
            service(
                "ns",
                &format!("svc-{i}"),
                &format!("10.0.{}.{}", i / 250, i % 250),
            )
        })
        .collect();
    let (store, mut writer) = store_with(IndexConfig::default(), upserts(objects));
    let old = store.snapshot();
    writer.apply(Change::Upsert(service("ns", "svc-7", "10.9.0.7")));
    writer.publish();
    let new = store.snapshot();
    let total = new.services.shard_count();
    let services_shared = old.services.shards_shared_with(&new.services);
    assert_eq!(services_shared, total - 1, "one service shard copied");
    let reverse_shared = old.reverse.shards_shared_with(&new.reverse);
    assert!(
        reverse_shared >= new.reverse.shard_count() - 2,
        "at most two reverse shards copied"
    );
}

// ---------------------------------------------------------------------------------------
// Sync

#[tokio::test]
async fn synced_after_every_kind_and_a_publish() {
    let config = pods_config();
    let (store, mut writer) = Store::new(config.clone());
    assert!(!store.is_synced());
    assert!(!store.wait_synced(Duration::from_millis(20)).await);
    let kinds: Vec<Kind> = config.kinds().iter().collect();
    assert_eq!(
        kinds,
        [
            Kind::Service,
            Kind::EndpointSlice,
            Kind::Pod,
            Kind::Namespace
        ]
    );
    let waiter = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.wait_synced(Duration::from_secs(10)).await })
    };
    for kind in &kinds[..3] {
        writer.apply(Change::Synced(*kind));
    }
    assert!(!writer.publish().newly_synced);
    assert!(!store.is_synced());
    writer.apply(Change::Synced(Kind::Namespace));
    assert!(!store.is_synced(), "not before the publish");
    let published = writer.publish();
    assert!(published.changed && published.newly_synced);
    assert!(store.is_synced());
    assert!(store.load().is_synced());
    assert!(waiter.await.unwrap());
    assert!(!writer.publish().newly_synced, "only once");
}

#[test]
fn kinds_follow_the_options() {
    let kinds = |config: IndexConfig| config.kinds().iter().collect::<Vec<_>>();
    assert_eq!(
        kinds(IndexConfig::default()),
        [Kind::Service, Kind::EndpointSlice, Kind::Namespace]
    );
    assert_eq!(
        kinds(IndexConfig {
            endpoints: false,
            ..IndexConfig::default()
        }),
        [Kind::Service, Kind::Namespace]
    );
    assert_eq!(
        kinds(IndexConfig {
            endpoints: false,
            multicluster: true,
            ..IndexConfig::default()
        }),
        [
            Kind::Service,
            Kind::EndpointSlice,
            Kind::Namespace,
            Kind::ServiceImport
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Programming latency

fn triggered_slice(service: &str, trigger: SystemTime) -> Object {
    let Object::EndpointSlice(mut slice) = slice("ns", "s1", service, vec![endpoint("10.0.0.1")])
    else {
        unreachable!()
    };
    slice.last_change_trigger_time = Some(trigger);
    Object::EndpointSlice(slice)
}

#[test]
fn programming_latency_for_headless_watch_events() {
    let (_store, mut writer) = store_with(
        IndexConfig::default(),
        upserts(vec![
            service("ns", "headless", "None"),
            service("ns", "normal", "10.0.0.1"),
        ]),
    );
    let observed = Arc::new(Mutex::new(Vec::new()));
    {
        let observed = Arc::clone(&observed);
        writer.on_programmed(move |sample| observed.lock().unwrap().push(sample));
    }
    let trigger = SystemTime::now() - Duration::from_secs(3);

    // A relist does not observe (stale trigger times); a ClusterIP service does not either.
    writer.apply(Change::Replace(
        Kind::EndpointSlice,
        vec![triggered_slice("headless", trigger)],
    ));
    writer.apply(Change::Upsert(triggered_slice("normal", trigger)));
    assert!(writer.publish().programming.is_empty());

    writer.apply(Change::Upsert(triggered_slice("headless", trigger)));
    writer.apply(Change::Delete(triggered_slice("headless", trigger)));
    let published = writer.publish();
    assert_eq!(published.programming.len(), 2);
    for sample in &published.programming {
        assert_eq!(sample.service_kind, ServiceKindLabel::HeadlessWithSelector);
        assert_eq!(sample.service_kind.as_str(), "headless_with_selector");
        assert!(sample.duration >= Duration::from_secs(3));
        assert!(sample.duration < Duration::from_secs(60));
    }
    assert_eq!(*observed.lock().unwrap(), published.programming);

    // A trigger time in the future observes zero.
    writer.apply(Change::Upsert(triggered_slice(
        "headless",
        SystemTime::now() + Duration::from_secs(60),
    )));
    assert_eq!(writer.publish().programming[0].duration, Duration::ZERO);
}

// ---------------------------------------------------------------------------------------
// Multicluster

#[test]
fn multicluster_imports_and_slices() {
    let import = object(json!({
        "apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
        "metadata": {"name": "db", "namespace": "ns"},
        "spec": {"type": "Headless", "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}
    }));
    let imported = object(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "db-east", "namespace": "ns", "labels": {
            "multicluster.kubernetes.io/service-name": "db",
            "multicluster.kubernetes.io/source-cluster": "east"}},
        "endpoints": [{"addresses": ["10.5.0.1"], "hostname": "db-0"}]
    }));
    let (store, _w) = store_with(
        IndexConfig::default(),
        upserts(vec![import.clone(), imported.clone()]),
    );
    let snap = store.load();
    assert!(snap.service_import("ns", "db").is_none());
    assert!(snap.multicluster_endpoint_slices("ns", "db").is_empty());

    let config = IndexConfig {
        multicluster: true,
        ..IndexConfig::default()
    };
    let (store, mut writer) = store_with(config, upserts(vec![import, imported]));
    let snap = store.load();
    let entry = snap.service_import("ns", "db").unwrap();
    assert_eq!(entry.kind, ImportKind::Headless);
    assert_eq!(entry.ports[0].port, 5432);
    assert_eq!(snap.service_imports().count(), 1);
    let slices = snap.multicluster_endpoint_slices("ns", "db");
    assert_eq!(slices.len(), 1);
    assert_eq!(slices[0].cluster.as_deref(), Some("east"));
    assert_eq!(slices[0].endpoints[0].hostname.as_deref(), Some("db-0"));
    // Imported slices are not cluster-local endpoints.
    assert!(snap.endpoint_slices("ns", "db").is_empty());
    assert!(snap.reverse(ip("10.5.0.1")).is_empty());
    assert!(snap.multicluster_modified() > 0);
    writer.apply(Change::Delete(object(json!({
        "apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
        "metadata": {"name": "db", "namespace": "ns"}
    }))));
    writer.publish();
    assert!(store.load().service_import("ns", "db").is_none());
}

// ---------------------------------------------------------------------------------------
// Property test: incremental updates equal a rebuild from the final object set

/// splitmix64: small, deterministic, good enough to drive the test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const NAMESPACES: [&str; 3] = ["a", "b", "c"];
const IPS: [&str; 6] = [
    "10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::1", "fd00::2", "10.0.0.9",
];

fn meta(ns: &str, name: &str, labels: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: (!ns.is_empty()).then(|| ns.into()),
        labels: Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..ObjectMeta::default()
    }
}

fn random_env(rng: &mut Rng) -> &'static str {
    const ENVS: [&str; 2] = ["prod", "dev"];
    ENVS[rng.below(ENVS.len())]
}

fn random_object(rng: &mut Rng, kind: Kind) -> Object {
    let ns = *rng.pick(&NAMESPACES);
    let env = random_env(rng);
    match kind {
        Kind::Service => {
            let name = format!("s{}", rng.below(5));
            let (type_, cluster_ip) = match rng.below(4) {
                0 => (Some("ExternalName".to_owned()), None),
                1 => (None, Some("None".to_owned())),
                _ => (None, Some((*rng.pick(&IPS)).to_owned())),
            };
            let mut ports = Vec::new();
            for _ in 0..rng.below(3) {
                ports.push(objects::ServicePort {
                    name: Some(format!("p{}", rng.below(2))),
                    port: 80 + i32::try_from(rng.below(3)).unwrap(),
                    protocol: Some((*rng.pick(&["TCP", "UDP"])).into()),
                });
            }
            let mut svc = objects::Service {
                metadata: meta(ns, &name, &[("env", env)]),
                ..Default::default()
            };
            svc.spec.type_ = type_;
            svc.spec.cluster_ip = cluster_ip;
            svc.spec.ports = ports;
            svc.spec.external_name = Some("example.com".into());
            if rng.chance(30) {
                svc.spec.external_ips = vec![(*rng.pick(&IPS)).into()];
            }
            Object::Service(svc)
        }
        Kind::EndpointSlice => {
            let name = format!("e{}", rng.below(6));
            let mut labels = vec![("env", env)];
            let service = format!("s{}", rng.below(5));
            if rng.chance(85) {
                labels.push(("kubernetes.io/service-name", &service));
            }
            if rng.chance(30) {
                labels.push(("multicluster.kubernetes.io/service-name", &service));
                labels.push(("multicluster.kubernetes.io/source-cluster", "east"));
            }
            let endpoints = (0..rng.below(4))
                .map(|_| objects::Endpoint {
                    addresses: vec![(*rng.pick(&IPS)).into()],
                    conditions: objects::EndpointConditions {
                        ready: *rng.pick(&[Some(true), Some(false), None]),
                    },
                    hostname: rng.chance(50).then(|| format!("h{}", rng.below(2))),
                    zone: Some((*rng.pick(&["Z1", "z2"])).into()),
                    node_name: Some((*rng.pick(&["n1", "n2"])).into()),
                    target_ref: None,
                })
                .collect();
            Object::EndpointSlice(objects::EndpointSlice {
                metadata: meta(ns, &name, &labels),
                endpoints,
                ..Default::default()
            })
        }
        Kind::Pod => {
            let name = format!("p{}", rng.below(5));
            let mut pod = objects::Pod {
                metadata: meta(ns, &name, &[("env", env)]),
                ..Default::default()
            };
            pod.status.pod_ip = rng.chance(90).then(|| (*rng.pick(&IPS)).into());
            pod.status.pod_ips = vec![objects::PodIp {
                ip: (*rng.pick(&IPS)).into(),
            }];
            pod.status.phase =
                Some((*rng.pick(&["Running", "Running", "Pending", "Succeeded"])).into());
            if rng.chance(15) {
                pod.metadata.deletion_timestamp =
                    Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
            }
            Object::Pod(pod)
        }
        Kind::Namespace => Object::Namespace(objects::Namespace {
            metadata: meta("", ns, &[("env", env)]),
        }),
        Kind::ServiceImport => {
            let mut import = objects::ServiceImport {
                metadata: meta(ns, &format!("s{}", rng.below(5)), &[("env", env)]),
                ..Default::default()
            };
            import.spec.type_ = Some((*rng.pick(&["ClusterSetIP", "Headless"])).into());
            import.spec.ips = vec![(*rng.pick(&IPS)).into()];
            Object::ServiceImport(import)
        }
    }
}

type Key = (Kind, String, String);

fn key_of(object: &Object) -> Key {
    (
        object.kind(),
        object.namespace().to_owned(),
        object.name().to_owned(),
    )
}

fn is_ignored_update(object: &Object) -> bool {
    matches!(object, Object::Pod(pod) if pod.is_terminating())
}

/// The objects the index should reflect: the source's objects, except that updates of
/// terminating pods are ignored (the previous state stays).
#[derive(Default)]
struct Model(BTreeMap<Key, Object>);

impl Model {
    fn upsert(&mut self, object: &Object) {
        if !is_ignored_update(object) {
            self.0.insert(key_of(object), object.clone());
        }
    }

    fn delete(&mut self, object: &Object) {
        self.0.remove(&key_of(object));
    }

    fn replace(&mut self, kind: Kind, objects: &[Object]) {
        let listed: BTreeSet<Key> = objects.iter().map(key_of).collect();
        self.0
            .retain(|key, _| key.0 != kind || listed.contains(key));
        for object in objects {
            self.upsert(object);
        }
    }
}

/// Everything a snapshot exposes, in canonical order (serials and sync state excluded).
#[derive(Debug, PartialEq, Eq)]
struct Dump {
    has_namespaces: bool,
    namespaces: BTreeSet<String>,
    services: Vec<String>,
    slices: Vec<String>,
    multicluster_slices: Vec<String>,
    imports: Vec<String>,
    reverse: Vec<String>,
    external_reverse: Vec<String>,
    pods: Vec<String>,
}

fn dump(snap: &Snapshot) -> Dump {
    fn sorted(mut items: Vec<String>) -> Vec<String> {
        items.sort();
        items
    }
    Dump {
        has_namespaces: snap.has_namespaces(),
        namespaces: snap.namespaces().map(|n| n.name.to_string()).collect(),
        services: sorted(snap.services().map(|s| format!("{s:?}")).collect()),
        slices: sorted(snap.slices.values().map(|g| format!("{g:?}")).collect()),
        multicluster_slices: sorted(
            snap.multicluster_slices
                .values()
                .map(|g| format!("{g:?}"))
                .collect(),
        ),
        imports: sorted(snap.service_imports().map(|s| format!("{s:?}")).collect()),
        reverse: sorted(
            snap.reverse
                .iter()
                .map(|(k, v)| format!("{k} {:?}", v.as_slice()))
                .collect(),
        ),
        external_reverse: sorted(
            snap.external_reverse
                .iter()
                .map(|(k, v)| format!("{k} {v:?}"))
                .collect(),
        ),
        pods: sorted(
            snap.pods
                .iter()
                .map(|(k, v)| format!("{k} {:?}", v.as_slice()))
                .collect(),
        ),
    }
}

fn rebuild(config: &IndexConfig, model: &Model) -> Arc<Snapshot> {
    let (store, mut writer) = Store::new(config.clone());
    for kind in Kind::ALL {
        let objects: Vec<Object> = model
            .0
            .iter()
            .filter(|(key, _)| key.0 == kind)
            .map(|(_, o)| o.clone())
            .collect();
        writer.apply(Change::Replace(kind, objects));
    }
    writer.publish();
    store.snapshot()
}

fn run_property(config: &IndexConfig, seed: u64, steps: usize) {
    let mut rng = Rng(seed);
    let (store, mut writer) = Store::new(config.clone());
    let mut model = Model::default();
    for step in 0..steps {
        let kind = *rng.pick(&Kind::ALL);
        match rng.below(10) {
            0..=5 => {
                let object = random_object(&mut rng, kind);
                model.upsert(&object);
                writer.apply(Change::Upsert(object));
            }
            6..=7 => {
                let object = random_object(&mut rng, kind);
                model.delete(&object);
                writer.apply(Change::Delete(object));
            }
            8 => {
                let objects: Vec<Object> = (0..rng.below(6))
                    .map(|_| random_object(&mut rng, kind))
                    .collect();
                // A list holds each object once.
                let mut seen = BTreeSet::new();
                let objects: Vec<Object> = objects
                    .into_iter()
                    .filter(|o| seen.insert(key_of(o)))
                    .collect();
                model.replace(kind, &objects);
                writer.apply(Change::Replace(kind, objects));
            }
            _ => {
                writer.publish();
            }
        }
        if step % 50 == 49 || step + 1 == steps {
            writer.publish();
            let incremental = dump(&store.load());
            let rebuilt = dump(&rebuild(config, &model));
            assert_eq!(
                incremental, rebuilt,
                "seed {seed}, step {step}, config {config:?}"
            );
        }
    }
}

#[test]
fn incremental_updates_equal_a_rebuild() {
    let configs = [
        IndexConfig::default(),
        IndexConfig {
            pods: true,
            zones: true,
            multicluster: true,
            ..IndexConfig::default()
        },
        IndexConfig {
            labels: "env=prod".parse().unwrap(),
            namespace_labels: "env!=dev".parse().unwrap(),
            pods: true,
            all_pod_ips: true,
            multicluster: true,
            ..IndexConfig::default()
        },
        IndexConfig {
            endpoints: false,
            pods: true,
            ..IndexConfig::default()
        },
    ];
    for (i, config) in configs.iter().enumerate() {
        for seed in 0..12 {
            run_property(config, seed * 7919 + i as u64, 600);
        }
    }
}

#[test]
fn the_property_test_can_fail() {
    // Guard against a dump that hides differences: two different worlds must differ.
    let config = IndexConfig::default();
    let mut a = Model::default();
    a.upsert(&service("a", "s0", "10.0.0.1"));
    let mut b = Model::default();
    b.upsert(&service("a", "s0", "10.0.0.2"));
    assert_ne!(dump(&rebuild(&config, &a)), dump(&rebuild(&config, &b)));
}

#[test]
fn shared_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Store>();
    send_sync::<Snapshot>();
    send_sync::<arc_swap::Guard<Arc<Snapshot>>>();
    send::<Writer>();
}
