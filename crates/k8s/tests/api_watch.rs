//! The API source end to end: the real kube-rs client, built by `build_client` from the
//! kubernetes plugin's connection options, watching `cairn-k8s-testserver` and feeding the
//! index. Add, change, delete, label selectors, outages, relists after `410 Gone`, and
//! request pacing, each observed in the `Store` the DNS answers come from; the requests and
//! rate-limit waits as a `RequestObserver` hears them. Every wait is bounded.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_k8s::index::Snapshot;
use cairn_k8s::{
    build_client, ApiSource, ClientSettings, FinishedRequest, IndexConfig, Kind, RequestLimits,
    RequestObserver, RequestOutcome, Selector, SourceEvent, Store, TlsFiles, WatchConfig,
};
use cairn_k8s_testserver::{Options, TestApiServer};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a change may take to reach the index.
const VISIBLE_WITHIN: Duration = Duration::from_secs(1);
/// How long a first sync may take.
const SYNC_WITHIN: Duration = Duration::from_secs(5);
/// How long recovery after an outage may take (kube-rs's backoff starts at 0.8 s and doubles).
const RECOVER_WITHIN: Duration = Duration::from_secs(10);

fn scratch_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "cairn-k8s-api-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn start() -> TestApiServer {
    TestApiServer::start(Options::default()).await.unwrap()
}

/// Settings reaching `server` through the kubeconfig it writes (CA data, bearer token).
fn kubeconfig_settings(server: &TestApiServer) -> ClientSettings {
    let path = scratch_dir().join("kubeconfig");
    server.write_kubeconfig(&path, "cairn-test").unwrap();
    ClientSettings {
        kubeconfig: Some((path, None)),
        ..ClientSettings::default()
    }
}

fn service(namespace: &str, name: &str, cluster_ip: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "clusterIP": cluster_ip,
            "clusterIPs": [cluster_ip],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]
        }
    })
}

fn slice(namespace: &str, name: &str, service: &str, addresses: &[&str]) -> Value {
    let endpoints: Vec<Value> = addresses
        .iter()
        .map(|a| json!({"addresses": [a], "conditions": {"ready": true}}))
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": service}
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
    })
}

fn namespace(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
}

fn pod(namespace: &str, name: &str, ip: &str, phase: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}]}
    })
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// The cluster IPs of a service, or `None` when the index does not have it.
fn cluster_ips(snapshot: &Snapshot, namespace: &str, name: &str) -> Option<Vec<IpAddr>> {
    snapshot
        .service(namespace, name)
        .map(|s| s.cluster_ips.to_vec())
}

/// Every endpoint address of a service's slices, sorted.
fn endpoint_addresses(snapshot: &Snapshot, namespace: &str, service: &str) -> Vec<IpAddr> {
    let mut addresses: Vec<IpAddr> = snapshot
        .endpoint_slices(namespace, service)
        .iter()
        .flat_map(|s| s.endpoints.iter().flat_map(|e| e.addresses.iter().copied()))
        .collect();
    addresses.sort();
    addresses
}

/// A running API source and what it reported.
struct Running {
    store: Arc<Store>,
    events: Arc<Mutex<Vec<SourceEvent>>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    async fn start(settings: &ClientSettings, watch: WatchConfig, index: IndexConfig) -> Running {
        let (store, writer) = Store::new(index);
        let events = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = oneshot::channel::<()>();
        let reported = Arc::clone(&events);
        let source = ApiSource::connect(settings, watch).await.unwrap();
        let task = tokio::spawn(source.run(
            writer,
            async move {
                let _ = stopped.await;
            },
            move |event| reported.lock().unwrap().push(event),
        ));
        Running {
            store,
            events,
            stop: Some(stop),
            task,
        }
    }

    /// Started with the watches the index needs.
    async fn for_index(settings: &ClientSettings, index: IndexConfig) -> Running {
        let watch = WatchConfig::for_index(&index);
        Running::start(settings, watch, index).await
    }

    async fn synced(settings: &ClientSettings, index: IndexConfig) -> Running {
        let running = Running::for_index(settings, index).await;
        assert!(
            running.store.wait_synced(SYNC_WITHIN).await,
            "not synced in {SYNC_WITHIN:?}; reported {:?}",
            running.events()
        );
        running
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.store.snapshot()
    }

    fn events(&self) -> Vec<SourceEvent> {
        self.events.lock().unwrap().clone()
    }

    fn errors(&self) -> Vec<(Kind, String)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                SourceEvent::Error { kind, message } => Some((kind, message)),
                _ => None,
            })
            .collect()
    }

    /// Waits until `done` holds for the current snapshot; panics after `wait`.
    async fn until(&self, what: &str, wait: Duration, done: impl Fn(&Snapshot) -> bool) {
        let deadline = Instant::now() + wait;
        loop {
            if done(&self.snapshot()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not seen within {wait:?}; reported {:?}",
                self.events()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the source and checks that it ends promptly.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(2), &mut self.task)
            .await
            .expect("the source did not stop on shutdown")
            .unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn initial_sync_fills_the_store_and_reports_each_kind_once() {
    let server = start().await;
    server.apply_many([
        namespace("apps", json!({})),
        service("apps", "web", "10.96.0.10", json!({})),
        service("apps", "headless", "None", json!({})),
        slice(
            "apps",
            "headless-abc",
            "headless",
            &["10.1.0.1", "10.1.0.2"],
        ),
    ]);
    let running = Running::synced(&kubeconfig_settings(&server), IndexConfig::default()).await;
    let snapshot = running.snapshot();
    assert!(snapshot.is_synced());
    assert_eq!(
        cluster_ips(&snapshot, "apps", "web"),
        Some(vec![ip("10.96.0.10")])
    );
    assert!(snapshot.service("apps", "headless").unwrap().is_headless());
    assert_eq!(
        endpoint_addresses(&snapshot, "apps", "headless"),
        [ip("10.1.0.1"), ip("10.1.0.2")]
    );
    assert!(snapshot.namespace("apps").is_some());

    let mut synced: Vec<Kind> = running
        .events()
        .into_iter()
        .filter_map(|e| match e {
            SourceEvent::Synced(kind) => Some(kind),
            _ => None,
        })
        .collect();
    synced.sort();
    assert_eq!(
        synced,
        [Kind::Service, Kind::EndpointSlice, Kind::Namespace]
    );
    assert_eq!(running.errors(), []);
    let stats = server.stats();
    assert_eq!(stats.list_count("services"), 1);
    assert_eq!(stats.list_count("endpointslices"), 1);
    assert_eq!(stats.list_count("namespaces"), 1);
    assert_eq!(
        stats.list_count("pods"),
        0,
        "pods are not watched by default"
    );
    assert_eq!(stats.list_count("serviceimports"), 0);
    running.stop().await;
}

#[tokio::test]
async fn adds_changes_and_deletes_reach_the_store_within_a_second() {
    let server = start().await;
    server.apply(service("apps", "web", "10.96.0.10", json!({})));
    let running = Running::synced(&kubeconfig_settings(&server), IndexConfig::default()).await;

    server.apply(service("apps", "new", "10.96.0.11", json!({})));
    running
        .until("added service", VISIBLE_WITHIN, |s| {
            cluster_ips(s, "apps", "new") == Some(vec![ip("10.96.0.11")])
        })
        .await;
    server.apply(service("apps", "web", "10.96.0.20", json!({})));
    running
        .until("changed service", VISIBLE_WITHIN, |s| {
            cluster_ips(s, "apps", "web") == Some(vec![ip("10.96.0.20")])
        })
        .await;
    server.apply(slice("apps", "web-1", "web", &["10.1.0.1"]));
    running
        .until("added slice", VISIBLE_WITHIN, |s| {
            endpoint_addresses(s, "apps", "web") == [ip("10.1.0.1")]
        })
        .await;
    server.apply(slice("apps", "web-1", "web", &["10.1.0.1", "10.1.0.9"]));
    running
        .until("changed slice", VISIBLE_WITHIN, |s| {
            endpoint_addresses(s, "apps", "web") == [ip("10.1.0.1"), ip("10.1.0.9")]
        })
        .await;
    assert!(server.delete(
        "discovery.k8s.io/v1",
        "EndpointSlice",
        Some("apps"),
        "web-1"
    ));
    running
        .until("deleted slice", VISIBLE_WITHIN, |s| {
            endpoint_addresses(s, "apps", "web").is_empty()
        })
        .await;
    assert!(server.delete("v1", "Service", Some("apps"), "new"));
    running
        .until("deleted service", VISIBLE_WITHIN, |s| {
            s.service("apps", "new").is_none()
        })
        .await;
    assert!(running.snapshot().service("apps", "web").is_some());
    running.stop().await;
}

#[tokio::test]
async fn clients_from_endpoint_with_tls_and_refusal_of_a_wrong_token() {
    let server = start().await;
    server.apply(service("apps", "web", "10.96.0.10", json!({})));

    // endpoint + tls: the client certificate authenticates, the CA file verifies the server.
    let dir = scratch_dir();
    let (cert, key) = server.client_identity();
    let files = TlsFiles {
        cert: dir.join("client.crt"),
        key: dir.join("client.key"),
        ca: dir.join("ca.crt"),
    };
    std::fs::write(&files.cert, cert).unwrap();
    std::fs::write(&files.key, key).unwrap();
    std::fs::write(&files.ca, server.ca_pem()).unwrap();
    let by_certificate = ClientSettings {
        endpoint: Some(server.url()),
        tls: Some(files),
        ..ClientSettings::default()
    };
    let running = Running::synced(&by_certificate, IndexConfig::default()).await;
    assert_eq!(
        cluster_ips(&running.snapshot(), "apps", "web"),
        Some(vec![ip("10.96.0.10")])
    );
    running.stop().await;

    // A wrong token: every list is refused, reported, and the store never syncs.
    let settings = kubeconfig_settings(&server);
    let path = &settings.kubeconfig.as_ref().unwrap().0;
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, text.replace(server.token(), "wrong-token")).unwrap();
    let running = Running::for_index(&settings, IndexConfig::default()).await;
    assert!(!running.store.wait_synced(Duration::from_millis(1500)).await);
    let errors = running.errors();
    assert!(!errors.is_empty(), "no error reported");
    for (_, message) in &errors {
        assert!(message.contains("Unauthorized"), "{message}");
    }
    assert!(running.snapshot().service("apps", "web").is_none());
    running.stop().await;
}

#[tokio::test]
async fn label_selectors_are_sent_to_the_server() {
    let server = start().await;
    server.apply_many([
        namespace("shown", json!({"dns": "yes"})),
        namespace("hidden", json!({"dns": "no"})),
        service("shown", "web", "10.96.0.1", json!({"app": "web"})),
        service("shown", "db", "10.96.0.2", json!({"app": "db"})),
    ]);
    // The index itself does not filter: whatever it holds came through the watch selectors.
    let watch = WatchConfig {
        label_selector: Some("app=web".to_owned()),
        namespace_label_selector: Some("dns=yes".to_owned()),
        ..WatchConfig::default()
    };
    let running =
        Running::start(&kubeconfig_settings(&server), watch, IndexConfig::default()).await;
    assert!(running.store.wait_synced(SYNC_WITHIN).await);
    let snapshot = running.snapshot();
    assert!(snapshot.service("shown", "web").is_some());
    assert!(snapshot.service("shown", "db").is_none());
    assert!(snapshot.namespace("shown").is_some());
    assert!(snapshot.namespace("hidden").is_none());

    // Relabelled into the selector: appears; out of it: disappears.
    server.apply(service("shown", "db", "10.96.0.2", json!({"app": "web"})));
    running
        .until("db now selected", VISIBLE_WITHIN, |s| {
            s.service("shown", "db").is_some()
        })
        .await;
    server.apply(service(
        "shown",
        "web",
        "10.96.0.1",
        json!({"app": "other"}),
    ));
    running
        .until("web no longer selected", VISIBLE_WITHIN, |s| {
            s.service("shown", "web").is_none()
        })
        .await;
    server.apply(namespace("hidden", json!({"dns": "yes"})));
    running
        .until("namespace now selected", VISIBLE_WITHIN, |s| {
            s.namespace("hidden").is_some()
        })
        .await;
    running.stop().await;
}

#[tokio::test]
async fn an_outage_keeps_the_store_and_recovery_catches_up() {
    let server = start().await;
    server.apply_many([
        service("apps", "web", "10.96.0.10", json!({})),
        slice("apps", "web-1", "web", &["10.1.0.1"]),
    ]);
    let running = Running::synced(&kubeconfig_settings(&server), IndexConfig::default()).await;
    // A change through the watches proves they are established.
    server.apply(service("apps", "watched", "10.96.0.11", json!({})));
    running
        .until("watched", VISIBLE_WITHIN, |s| {
            s.service("apps", "watched").is_some()
        })
        .await;
    let before = running.snapshot();

    server.set_down(true);
    server.apply(service("apps", "during", "10.96.0.12", json!({})));
    assert!(server.delete("v1", "Service", Some("apps"), "web"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while running.errors().is_empty() {
        assert!(
            Instant::now() < deadline,
            "no error reported during the outage"
        );
        // Meanwhile the index answers exactly as before.
        let now = running.snapshot();
        assert_eq!(
            cluster_ips(&now, "apps", "web"),
            Some(vec![ip("10.96.0.10")])
        );
        assert_eq!(endpoint_addresses(&now, "apps", "web"), [ip("10.1.0.1")]);
        assert!(now.service("apps", "during").is_none());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = running.snapshot();
    assert!(during.is_synced(), "an outage does not unsync the store");
    for (namespace, name) in [("apps", "web"), ("apps", "watched")] {
        assert_eq!(
            cluster_ips(&during, namespace, name),
            cluster_ips(&before, namespace, name),
            "{namespace}/{name} changed during the outage"
        );
    }
    assert_eq!(during.service_count(), before.service_count());

    server.set_down(false);
    running
        .until("changes made during the outage", RECOVER_WITHIN, |s| {
            s.service("apps", "during").is_some() && s.service("apps", "web").is_none()
        })
        .await;
    assert!(running.snapshot().service("apps", "watched").is_some());
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relist_after_compaction_never_loses_a_name() {
    let server = start().await;
    let names: Vec<String> = (0..200).map(|i| format!("svc-{i}")).collect();
    server.apply_many(names.iter().enumerate().map(|(i, name)| {
        service(
            "apps",
            name,
            &format!("10.96.{}.{}", i / 250, i % 250 + 1),
            json!({}),
        )
    }));
    let running = Running::synced(&kubeconfig_settings(&server), IndexConfig::default()).await;
    assert_eq!(server.stats().list_count("services"), 1);

    server.compact();
    server.apply(service("apps", "late", "10.96.9.9", json!({})));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut checks = 0u32;
    loop {
        let snapshot = running.snapshot();
        for name in &names {
            assert!(
                snapshot.service("apps", name).is_some(),
                "{name} missing during the relist (check {checks})"
            );
        }
        checks += 1;
        let relisted = running
            .events()
            .contains(&SourceEvent::Relisted(Kind::Service));
        if relisted && snapshot.service("apps", "late").is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no relist within 10 s; reported {:?}",
            running.events()
        );
        tokio::task::yield_now().await;
    }
    assert!(
        server.stats().list_count("services") >= 2,
        "{:?}",
        server.stats()
    );
    // The expired watch was reported, and the source keeps following changes.
    assert!(running
        .errors()
        .iter()
        .any(|(kind, _)| *kind == Kind::Service));
    server.apply(service("apps", "after", "10.96.9.10", json!({})));
    running
        .until("after the relist", VISIBLE_WITHIN, |s| {
            s.service("apps", "after").is_some()
        })
        .await;
    running.stop().await;
}

#[tokio::test]
async fn pods_are_watched_only_when_asked() {
    let server = start().await;
    server.apply_many([
        pod("apps", "running", "10.1.0.5", "Running"),
        pod("apps", "done", "10.1.0.6", "Succeeded"),
    ]);
    let settings = kubeconfig_settings(&server);
    let running = Running::synced(&settings, IndexConfig::default()).await;
    assert!(running.snapshot().pod_by_ip(ip("10.1.0.5")).is_none());
    assert_eq!(server.stats().list_count("pods"), 0);
    running.stop().await;

    let index = IndexConfig {
        pods: true,
        ..IndexConfig::default()
    };
    let running = Running::synced(&settings, index).await;
    assert_eq!(server.stats().list_count("pods"), 1);
    let snapshot = running.snapshot();
    assert_eq!(
        &*snapshot.pod_by_ip(ip("10.1.0.5")).unwrap().name,
        "running"
    );
    assert!(snapshot.pod_by_ip(ip("10.1.0.6")).is_none());
    server.apply(pod("apps", "late", "10.1.0.7", "Running"));
    running
        .until("new pod", VISIBLE_WITHIN, |s| {
            s.pod_by_ip(ip("10.1.0.7")).is_some()
        })
        .await;
    // Finishing drops it out of the field selector: the server sends a deletion.
    server.apply(pod("apps", "late", "10.1.0.7", "Failed"));
    running
        .until("finished pod", VISIBLE_WITHIN, |s| {
            s.pod_by_ip(ip("10.1.0.7")).is_none()
        })
        .await;
    running.stop().await;
}

#[tokio::test]
async fn noendpoints_and_multicluster_choose_the_slice_watch() {
    let server = start().await;
    server.apply_many([
        service("apps", "web", "10.96.0.10", json!({})),
        slice("apps", "web-1", "web", &["10.1.0.1"]),
        json!({
            "apiVersion": "multicluster.x-k8s.io/v1alpha1",
            "kind": "ServiceImport",
            "metadata": {"name": "shared", "namespace": "apps"},
            "spec": {"type": "ClusterSetIP", "ips": ["10.200.0.1"],
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
        }),
        json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "shared-east", "namespace": "apps", "labels": {
                "multicluster.kubernetes.io/service-name": "shared",
                "multicluster.kubernetes.io/source-cluster": "east"
            }},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.2.0.1"], "conditions": {"ready": true}}],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]
        }),
    ]);
    let settings = kubeconfig_settings(&server);

    // noendpoints: no EndpointSlice watch at all.
    let index = IndexConfig {
        endpoints: false,
        ..IndexConfig::default()
    };
    let running = Running::synced(&settings, index).await;
    assert_eq!(server.stats().list_count("endpointslices"), 0);
    assert!(running.snapshot().service("apps", "web").is_some());
    running.stop().await;

    // multicluster without endpoints: only the imported slices, and the ServiceImports.
    let index = IndexConfig {
        endpoints: false,
        multicluster: true,
        ..IndexConfig::default()
    };
    let running = Running::synced(&settings, index).await;
    let stats = server.stats();
    assert_eq!(stats.list_count("endpointslices"), 1);
    assert_eq!(stats.list_count("serviceimports"), 1);
    let snapshot = running.snapshot();
    assert!(snapshot.service_import("apps", "shared").is_some());
    assert_eq!(
        snapshot
            .multicluster_endpoint_slices("apps", "shared")
            .len(),
        1
    );
    assert!(snapshot.endpoint_slices("apps", "web").is_empty());
    running.stop().await;
}

/// A request as an observer heard it.
#[derive(Clone, Debug, PartialEq)]
struct Heard {
    method: String,
    host: String,
    outcome: RequestOutcome,
    watch: bool,
}

/// Records what a `RequestObserver` is told.
#[derive(Default)]
struct Recorder {
    requests: Mutex<Vec<Heard>>,
    waits: Mutex<Vec<(String, String, Duration)>>,
}

impl Recorder {
    fn requests(&self) -> Vec<Heard> {
        self.requests.lock().unwrap().clone()
    }

    fn waits(&self) -> Vec<(String, String, Duration)> {
        self.waits.lock().unwrap().clone()
    }
}

impl RequestObserver for Recorder {
    fn request_finished(&self, request: &FinishedRequest<'_>) {
        self.requests.lock().unwrap().push(Heard {
            method: request.method.to_owned(),
            host: request.host.to_owned(),
            outcome: request.outcome,
            watch: request.watch,
        });
    }

    fn limiter_waited(&self, verb: &str, host: &str, waited: Duration) {
        self.waits
            .lock()
            .unwrap()
            .push((verb.to_owned(), host.to_owned(), waited));
    }
}

fn observed_settings(server: &TestApiServer, recorder: &Arc<Recorder>) -> ClientSettings {
    let observer: Arc<dyn RequestObserver> = recorder.clone();
    ClientSettings {
        observer: Some(observer),
        ..kubeconfig_settings(server)
    }
}

#[tokio::test]
async fn the_observer_hears_each_list_watch_and_failure() {
    let server = start().await;
    server.apply(service("apps", "web", "10.96.0.10", json!({})));
    let recorder = Arc::new(Recorder::default());
    let settings = observed_settings(&server, &recorder);
    let running = Running::synced(&settings, IndexConfig::default()).await;
    // A change through the watches proves they are established.
    server.apply(service("apps", "watched", "10.96.0.11", json!({})));
    running
        .until("watched", VISIBLE_WITHIN, |s| {
            s.service("apps", "watched").is_some()
        })
        .await;

    let host = server.addr().to_string();
    assert!(host.starts_with("127.0.0.1:"), "{host}");
    let ok = |watch| Heard {
        method: "GET".to_owned(),
        host: host.clone(),
        outcome: RequestOutcome::Status(200),
        watch,
    };
    // Services, EndpointSlices and Namespaces: one list and one watch each, nothing else.
    let deadline = Instant::now() + VISIBLE_WITHIN;
    while recorder.requests().iter().filter(|h| h.watch).count() < 3 {
        assert!(Instant::now() < deadline, "{:?}", recorder.requests());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let heard = recorder.requests();
    let lists = heard.iter().filter(|h| **h == ok(false)).count();
    let watches = heard.iter().filter(|h| **h == ok(true)).count();
    assert_eq!((lists, watches, heard.len()), (3, 3, 6), "{heard:?}");
    // Nothing is limited: every paced request (3 lists, 3 watch starts) is reported as no wait.
    let waits = recorder.waits();
    assert_eq!(waits.len(), 6, "{waits:?}");
    for (verb, wait_host, waited) in &waits {
        assert_eq!((verb.as_str(), wait_host.as_str()), ("GET", host.as_str()));
        assert!(*waited < Duration::from_millis(100), "{waited:?}");
    }

    // An outage: the watchers' new requests fail without a response.
    server.set_down(true);
    let deadline = Instant::now() + RECOVER_WITHIN;
    while !recorder
        .requests()
        .iter()
        .any(|h| h.outcome == RequestOutcome::Error)
    {
        assert!(
            Instant::now() < deadline,
            "no failed request heard: {:?}",
            recorder.requests()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let failed = recorder
        .requests()
        .into_iter()
        .find(|h| h.outcome == RequestOutcome::Error)
        .unwrap();
    assert_eq!(
        (failed.method.as_str(), failed.host.as_str()),
        ("GET", host.as_str())
    );
    running.stop().await;
}

#[tokio::test]
async fn request_limits_pace_the_lists() {
    let server = start().await;
    server.apply(service("apps", "web", "10.96.0.10", json!({})));
    // Three kinds list before the store is synced: with a burst of one and two requests a
    // second, the second and third lists wait half a second each.
    let recorder = Arc::new(Recorder::default());
    let mut settings = observed_settings(&server, &recorder);
    settings.qps = 2.0;
    settings.burst = 1;
    settings.max_inflight = 1;
    let watch = WatchConfig {
        limits: settings.request_limits(),
        ..WatchConfig::default()
    };
    let started = Instant::now();
    let running = Running::start(&settings, watch, IndexConfig::default()).await;
    assert!(running.store.wait_synced(SYNC_WITHIN).await);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "synced after {elapsed:?}"
    );
    // The observer heard the waits: the first request went at once, later ones waited.
    let waits = recorder.waits();
    assert!(waits.len() >= 3, "{waits:?}");
    assert!(waits[0].2 < Duration::from_millis(100), "{waits:?}");
    assert!(
        waits
            .iter()
            .any(|(_, _, waited)| *waited >= Duration::from_millis(400)),
        "{waits:?}"
    );
    let host = server.addr().to_string();
    assert!(
        waits.iter().all(|(verb, h, _)| verb == "GET" && *h == host),
        "{waits:?}"
    );
    assert!(running.snapshot().service("apps", "web").is_some());
    // Paced, but changes still flow once the watches are open.
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.apply(service("apps", "new", "10.96.0.11", json!({})));
    running
        .until("change under limits", VISIBLE_WITHIN, |s| {
            s.service("apps", "new").is_some()
        })
        .await;
    running.stop().await;
}

#[tokio::test]
async fn a_missing_kubeconfig_context_fails_before_any_request() {
    let server = start().await;
    let mut settings = kubeconfig_settings(&server);
    let path: PathBuf = settings.kubeconfig.as_ref().unwrap().0.clone();
    settings.kubeconfig = Some((path.clone(), Some("elsewhere".to_owned())));
    let Err(error) = build_client(&settings).await else {
        panic!("a missing context was accepted");
    };
    assert_eq!(
        error.to_string(),
        format!(
            "kubeconfig {}: no context named elsewhere",
            Path::new(&path).display()
        )
    );
    // The context the server wrote works when named.
    settings.kubeconfig = Some((path, Some("cairn-test".to_owned())));
    let running = Running::synced(&settings, IndexConfig::default()).await;
    running.stop().await;
    assert_eq!(server.stats().list_count("services"), 1);
}

#[test]
fn watch_config_for_an_index_with_selectors() {
    let index = IndexConfig {
        labels: Selector::parse("app in (a, b)").unwrap(),
        namespace_labels: Selector::parse("dns=yes").unwrap(),
        ..IndexConfig::default()
    };
    let watch = WatchConfig::for_index(&index);
    assert_eq!(watch.label_selector.as_deref(), Some("app in (a,b)"));
    assert_eq!(watch.namespace_label_selector.as_deref(), Some("dns=yes"));
    assert_eq!(watch.limits, RequestLimits::UNLIMITED);
}
