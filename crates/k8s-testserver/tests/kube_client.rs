//! The real kube-rs client (kube 5, k8s-openapi types) against the test API server: discovery,
//! authentication, LIST with selectors and pages, WATCH, the `watcher` state machine through
//! relists and outages, and a generated cluster.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cairn_k8s_testserver::{generate, Options, TestApiServer};
use futures_util::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Client, Config, ResourceExt};
use serde_json::{json, Value};

/// How long a change may take to reach a watching client.
const VISIBLE_WITHIN: Duration = Duration::from_secs(1);

/// A fresh directory under the system temp dir, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cairn-k8s-testserver-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn client_from_kubeconfig_text(path: &PathBuf, context: &str) -> Client {
    let kubeconfig = Kubeconfig::read_from(path).unwrap();
    let options = KubeConfigOptions {
        context: Some(context.to_owned()),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// A client built from the kubeconfig the server writes (CA data, bearer token).
async fn client(server: &TestApiServer) -> Client {
    let scratch = Scratch::new();
    let path = scratch.path("kubeconfig");
    server.write_kubeconfig(&path, "cairn-test").unwrap();
    client_from_kubeconfig_text(&path, "cairn-test").await
}

/// A client that authenticates with the server's client certificate and no token, from PEM
/// files, as the kubernetes plugin's `tls CERT KEY CACERT` option gives them. The files live
/// as long as the returned [`Scratch`].
async fn certificate_client(server: &TestApiServer) -> (Client, Scratch) {
    let (cert, key) = server.client_identity();
    let scratch = Scratch::new();
    let cert_path = scratch.path("client.crt");
    let key_path = scratch.path("client.key");
    let ca_path = scratch.path("ca.crt");
    std::fs::write(&cert_path, cert).unwrap();
    std::fs::write(&key_path, key).unwrap();
    std::fs::write(&ca_path, server.ca_pem()).unwrap();
    let path = scratch.path("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: \"{}\", certificate-authority: \"{}\"}}
users:
- name: u
  user: {{client-certificate: \"{}\", client-key: \"{}\"}}
contexts:
- name: tls
  context: {{cluster: c, user: u}}
current-context: tls
",
            server.url(),
            ca_path.display(),
            cert_path.display(),
            key_path.display()
        ),
    )
    .unwrap();
    (client_from_kubeconfig_text(&path, "tls").await, scratch)
}

async fn start() -> TestApiServer {
    TestApiServer::start(Options::default()).await.unwrap()
}

fn service(namespace: &str, name: &str, labels: Value, cluster_ip: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"clusterIP": cluster_ip, "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    })
}

fn pod(namespace: &str, name: &str, phase: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": phase, "podIP": "10.1.0.1"}
    })
}

fn names<K: ResourceExt>(objects: &[K]) -> Vec<String> {
    objects.iter().map(ResourceExt::name_any).collect()
}

async fn next_within<S: Stream + Unpin>(stream: &mut S, wait: Duration) -> S::Item {
    tokio::time::timeout(wait, stream.next())
        .await
        .expect("no item in time")
        .expect("the stream ended")
}

#[tokio::test]
async fn discovery_answers_and_only_authenticated_clients_get_in() {
    let server = start().await;
    server.apply(service("default", "web", json!({}), "10.96.0.10"));

    let kube = client(&server).await;
    let version = kube.apiserver_version().await.unwrap();
    assert_eq!(version.major, "1");
    assert!(
        version.git_version.starts_with("v1."),
        "{}",
        version.git_version
    );

    let discovery = kube::Discovery::new(kube.clone()).run().await.unwrap();
    let groups: BTreeSet<String> = discovery.groups().map(|g| g.name().to_owned()).collect();
    assert!(groups.contains(""), "core group: {groups:?}");
    assert!(groups.contains("discovery.k8s.io"), "{groups:?}");
    let core = discovery.get("").unwrap();
    let kinds: BTreeSet<String> = core
        .recommended_resources()
        .into_iter()
        .map(|(resource, _)| resource.kind)
        .collect();
    assert!(
        kinds.contains("Service") && kinds.contains("Pod"),
        "{kinds:?}"
    );

    // The client certificate alone authenticates.
    let (by_certificate, _files) = certificate_client(&server).await;
    let services = Api::<Service>::all(by_certificate)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(names(&services.items), ["web"]);

    // A wrong token is refused with a 401 Status.
    let scratch = Scratch::new();
    let path = scratch.path("kubeconfig");
    server.write_kubeconfig(&path, "bad").unwrap();
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace(server.token(), "wrong-token");
    std::fs::write(&path, text).unwrap();
    let refused = client_from_kubeconfig_text(&path, "bad").await;
    match Api::<Service>::all(refused)
        .list(&ListParams::default())
        .await
    {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 401);
            assert_eq!(status.reason, "Unauthorized");
        }
        other => panic!("expected 401, got {other:?}"),
    }
    match Api::<Service>::default_namespaced(kube.clone())
        .get("web")
        .await
    {
        Err(e) => panic!("GET with a good token failed: {e}"),
        Ok(web) => assert_eq!(web.spec.unwrap().cluster_ip.as_deref(), Some("10.96.0.10")),
    }
}

#[tokio::test]
async fn lists_filter_by_selectors_namespaces_and_pages() {
    let server = start().await;
    server.apply_many([
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
        service(
            "apps",
            "web",
            json!({"app": "web", "tier": "front"}),
            "10.96.0.1",
        ),
        service(
            "apps",
            "db",
            json!({"app": "db", "tier": "back"}),
            "10.96.0.2",
        ),
        service("apps", "cache", json!({"app": "cache"}), "10.96.0.3"),
        service("other", "web", json!({"app": "web"}), "10.96.0.4"),
        pod("apps", "running", "Running"),
        pod("apps", "done", "Succeeded"),
    ]);
    let kube = client(&server).await;
    let all = Api::<Service>::all(kube.clone());
    let apps = Api::<Service>::namespaced(kube.clone(), "apps");

    let everything = all.list(&ListParams::default()).await.unwrap();
    assert_eq!(names(&everything.items), ["cache", "db", "web", "web"]);
    assert_eq!(
        everything.metadata.resource_version,
        Some(server.resource_version().to_string())
    );
    let in_apps = apps.list(&ListParams::default()).await.unwrap();
    assert_eq!(names(&in_apps.items), ["cache", "db", "web"]);

    #[rustfmt::skip]
    let label_cases: &[(&str, &[&str])] = &[
        ("app=web", &["web", "web"]),
        ("app!=web", &["cache", "db"]),
        ("tier in (front,back)", &["db", "web"]),
        ("tier notin (front)", &["cache", "db", "web"]),
        ("tier", &["db", "web"]),
        ("!tier", &["cache", "web"]),
        ("app=web,tier=front", &["web"]),
    ];
    for (selector, wanted) in label_cases {
        let listed = all
            .list(&ListParams::default().labels(selector))
            .await
            .unwrap();
        assert_eq!(names(&listed.items), *wanted, "labelSelector {selector}");
    }
    let by_name = all
        .list(&ListParams::default().fields("metadata.name=web,metadata.namespace=other"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);
    assert_eq!(by_name.items[0].namespace().as_deref(), Some("other"));
    let pods = Api::<Pod>::all(kube.clone())
        .list(&ListParams::default().fields("status.phase!=Succeeded"))
        .await
        .unwrap();
    assert_eq!(names(&pods.items), ["running"]);
    match all
        .list(&ListParams::default().fields("spec.nodeName=x"))
        .await
    {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 400),
        other => panic!("expected 400 for an unsupported field, got {other:?}"),
    }
    let namespaces = Api::<Namespace>::all(kube.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(names(&namespaces.items), ["apps"]);

    // Pages of two: every object once, in order, each page reporting the first page's version.
    let mut paged = Vec::new();
    let mut params = ListParams::default().limit(2);
    let mut versions = BTreeSet::new();
    let mut pages = 0;
    loop {
        let page = all.list(&params).await.unwrap();
        pages += 1;
        paged.extend(
            page.items
                .iter()
                .map(|s| format!("{}/{}", s.namespace().unwrap(), s.name_any())),
        );
        versions.insert(page.metadata.resource_version.clone().unwrap());
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => {
                if pages == 1 {
                    assert_eq!(page.metadata.remaining_item_count, Some(2));
                    // A change between pages does not change the version pages report.
                    server.apply(service("zzz", "late", json!({}), "10.96.0.9"));
                }
                params = ListParams::default().limit(2).continue_token(&token);
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        paged,
        ["apps/cache", "apps/db", "apps/web", "other/web", "zzz/late"]
    );
    assert_eq!(versions.len(), 1, "{versions:?}");
    // 7 label cases, 3 other lists, the first page; the 400 and pages 2 and 3 do not count.
    assert_eq!(server.stats().list_count("services"), 11);

    match all.get("web").await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 404),
        other => panic!("a namespaced kind has no cluster-wide GET: {other:?}"),
    }
    assert!(apps.get_opt("missing").await.unwrap().is_none());
}

#[tokio::test]
async fn watch_streams_added_modified_deleted_and_bookmarks() {
    let server = TestApiServer::start(Options {
        bookmark_interval: Duration::from_millis(100),
        ..Options::default()
    })
    .await
    .unwrap();
    server.apply(service("apps", "old", json!({"app": "web"}), "10.96.0.1"));
    let kube = client(&server).await;
    let apps = Api::<Service>::namespaced(kube.clone(), "apps");
    let version = apps
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut events = apps
        .watch(&WatchParams::default().labels("app=web"), &version)
        .await
        .unwrap()
        .boxed();

    server.apply(service("apps", "new", json!({"app": "web"}), "10.96.0.2"));
    server.apply(service(
        "other",
        "elsewhere",
        json!({"app": "web"}),
        "10.96.0.3",
    ));
    server.apply(service("apps", "new", json!({"app": "web"}), "10.96.0.22"));
    server.apply(service("apps", "old", json!({"app": "db"}), "10.96.0.1"));
    assert!(server.delete("v1", "Service", Some("apps"), "new"));

    let mut seen = Vec::new();
    while seen.len() < 4 {
        match next_within(&mut events, VISIBLE_WITHIN).await.unwrap() {
            WatchEvent::Added(s) => seen.push(("ADDED", s.name_any(), s.spec.unwrap().cluster_ip)),
            WatchEvent::Modified(s) => {
                seen.push(("MODIFIED", s.name_any(), s.spec.unwrap().cluster_ip));
            }
            WatchEvent::Deleted(s) => {
                seen.push(("DELETED", s.name_any(), s.spec.unwrap().cluster_ip))
            }
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("{e:?}"),
        }
    }
    let ip = |s: &str| Some(s.to_owned());
    assert_eq!(
        seen,
        [
            ("ADDED", "new".to_owned(), ip("10.96.0.2")),
            ("MODIFIED", "new".to_owned(), ip("10.96.0.22")),
            // "old" stopped matching app=web: sent as DELETED with its previous content.
            ("DELETED", "old".to_owned(), ip("10.96.0.1")),
            ("DELETED", "new".to_owned(), ip("10.96.0.22")),
        ]
    );
    let latest = server.resource_version().to_string();
    loop {
        if let WatchEvent::Bookmark(bookmark) =
            next_within(&mut events, VISIBLE_WITHIN).await.unwrap()
        {
            assert_eq!(bookmark.metadata.resource_version, latest);
            break;
        }
    }

    // Resuming from the first version replays everything after it.
    let mut replay = apps
        .watch(&WatchParams::default(), &version)
        .await
        .unwrap()
        .boxed();
    let mut kinds = Vec::new();
    while kinds.len() < 4 {
        match next_within(&mut replay, VISIBLE_WITHIN).await.unwrap() {
            WatchEvent::Added(_) => kinds.push("ADDED"),
            WatchEvent::Modified(_) => kinds.push("MODIFIED"),
            WatchEvent::Deleted(_) => kinds.push("DELETED"),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(kinds, ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]);

    // timeoutSeconds ends the stream cleanly.
    let started = std::time::Instant::now();
    let mut short = apps
        .watch(&WatchParams::default().timeout(1), &latest)
        .await
        .unwrap()
        .boxed();
    while let Some(event) = tokio::time::timeout(Duration::from_secs(3), short.next())
        .await
        .unwrap()
    {
        assert!(matches!(event, Ok(WatchEvent::Bookmark(_))), "{event:?}");
    }
    assert!(started.elapsed() >= Duration::from_millis(900));

    // After compaction the old version is gone: one ERROR event with a 410 Status.
    server.compact();
    let mut expired = apps
        .watch(&WatchParams::default(), &version)
        .await
        .unwrap()
        .boxed();
    match next_within(&mut expired, VISIBLE_WITHIN).await.unwrap() {
        WatchEvent::Error(status) => {
            assert_eq!(status.code, 410);
            assert_eq!(status.reason, "Expired");
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    assert!(
        expired.next().await.is_none(),
        "the stream ends after the error"
    );
}

/// Follows a `watcher` stream like a reflector: the set of names it currently knows, and how
/// many times it (re)listed.
struct Follower<S> {
    stream: S,
    known: BTreeSet<String>,
    pending: Option<BTreeSet<String>>,
    inits: usize,
    errors: usize,
}

impl<S, K> Follower<S>
where
    S: Stream<Item = Result<Event<K>, watcher::Error>> + Unpin,
    K: ResourceExt,
{
    fn new(stream: S) -> Self {
        Follower {
            stream,
            known: BTreeSet::new(),
            pending: None,
            inits: 0,
            errors: 0,
        }
    }

    /// Applies whatever arrives during `wait`.
    async fn run_for(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        let _ = tokio::time::timeout_at(deadline, self.until(wait * 2, |_| false)).await;
    }

    /// Applies events until `done` holds for the follower, or panics after `wait`.
    async fn until(&mut self, wait: Duration, done: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + wait;
        while !done(self) {
            let item = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .unwrap_or_else(|_| panic!("not reached in {wait:?}: knows {:?}", self.known))
                .expect("watcher stream ended");
            match item {
                Ok(Event::Init) => {
                    self.inits += 1;
                    self.pending = Some(BTreeSet::new());
                }
                Ok(Event::InitApply(object)) => {
                    if let Some(pending) = &mut self.pending {
                        pending.insert(object.name_any());
                    }
                }
                Ok(Event::InitDone) => {
                    if let Some(pending) = self.pending.take() {
                        self.known = pending;
                    }
                }
                Ok(Event::Apply(object)) => {
                    self.known.insert(object.name_any());
                }
                Ok(Event::Delete(object)) => {
                    self.known.remove(&object.name_any());
                }
                // Outages and 410s surface as errors; the watcher recovers by itself.
                Err(_) => self.errors += 1,
            }
        }
    }
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[tokio::test]
async fn watcher_syncs_follows_changes_and_relists_after_compaction() {
    let server = start().await;
    server.apply_many([
        service("a", "one", json!({}), "10.96.0.1"),
        service("a", "two", json!({}), "10.96.0.2"),
    ]);
    let kube = client(&server).await;
    let stream = watcher::watcher(
        Api::<Service>::all(kube),
        watcher::Config::default().page_size(1),
    )
    .default_backoff()
    .boxed();
    let mut follower = Follower::new(stream);
    follower
        .until(Duration::from_secs(5), |f| f.known == set(&["one", "two"]))
        .await;
    assert_eq!(follower.inits, 1);
    assert_eq!(server.stats().list_count("services"), 1);

    server.apply(service("a", "three", json!({}), "10.96.0.3"));
    follower
        .until(VISIBLE_WITHIN, |f| f.known.contains("three"))
        .await;
    assert!(server.delete("v1", "Service", Some("a"), "one"));
    follower
        .until(VISIBLE_WITHIN, |f| !f.known.contains("one"))
        .await;

    // Compaction ends the watch; the resume gets 410 and the watcher relists. A change made
    // right after is not lost.
    server.compact();
    server.apply(service("a", "four", json!({}), "10.96.0.4"));
    follower
        .until(Duration::from_secs(5), |f| {
            f.inits == 2 && f.pending.is_none() && f.known == set(&["two", "three", "four"])
        })
        .await;
    assert_eq!(server.stats().list_count("services"), 2);
    server.apply(service("a", "five", json!({}), "10.96.0.5"));
    follower
        .until(VISIBLE_WITHIN, |f| f.known.contains("five"))
        .await;
}

#[tokio::test]
async fn watcher_rides_out_an_outage_and_catches_up_without_relisting() {
    let server = start().await;
    server.apply(service("a", "before", json!({}), "10.96.0.1"));
    let kube = client(&server).await;
    let stream = watcher::watcher(
        Api::<Service>::all(kube.clone()),
        watcher::Config::default(),
    )
    .default_backoff()
    .boxed();
    let mut follower = Follower::new(stream);
    follower
        .until(Duration::from_secs(5), |f| f.known == set(&["before"]))
        .await;
    // An event through the watch proves the watcher is past its LIST and watching.
    server.apply(service("a", "watched", json!({}), "10.96.0.9"));
    follower
        .until(VISIBLE_WITHIN, |f| f.known.contains("watched"))
        .await;
    assert_eq!(server.stats().watch_count("services"), 1);

    server.set_down(true);
    assert!(
        Api::<Service>::all(kube.clone())
            .list(&ListParams::default())
            .await
            .is_err(),
        "requests fail while the server is down"
    );
    server.apply(service("a", "during", json!({}), "10.96.0.2"));
    assert!(server.delete("v1", "Service", Some("a"), "before"));
    follower.run_for(Duration::from_millis(1500)).await;
    assert!(follower.errors >= 1, "the watcher saw the outage");
    assert!(
        !follower.known.contains("during"),
        "nothing is served while down"
    );
    server.set_down(false);

    follower
        .until(Duration::from_secs(10), |f| {
            f.known == set(&["watched", "during"])
        })
        .await;
    assert_eq!(follower.inits, 1, "resumed from its version, no relist");
    assert_eq!(server.stats().list_count("services"), 1);
    assert!(
        server.stats().watch_count("services") >= 2,
        "{:?}",
        server.stats()
    );
}

#[tokio::test]
async fn streaming_list_watcher_gets_initial_events_then_changes() {
    let server = start().await;
    server.apply_many([pod("a", "p1", "Running"), pod("b", "p2", "Running")]);
    let kube = client(&server).await;
    let stream = watcher::watcher(
        Api::<Pod>::all(kube),
        watcher::Config::default().streaming_lists(),
    )
    .default_backoff()
    .boxed();
    let mut follower = Follower::new(stream);
    follower
        .until(Duration::from_secs(5), |f| f.known == set(&["p1", "p2"]))
        .await;
    server.apply(pod("a", "p3", "Pending"));
    follower
        .until(VISIBLE_WITHIN, |f| f.known.contains("p3"))
        .await;
    let stats = server.stats();
    assert_eq!(
        stats.list_count("pods"),
        0,
        "a streaming list does not LIST"
    );
    assert_eq!(stats.watch_count("pods"), 1);
}

#[tokio::test]
async fn a_generated_cluster_lists_and_syncs() {
    // The full benchmark size (10k services, 100k endpoints, 50k pods) in release builds,
    // a tenth of it in debug builds.
    let scale = if cfg!(debug_assertions) { 10 } else { 1 };
    let (services, endpoints, pods) = (10_000 / scale, 100_000 / scale, 50_000 / scale);
    let server = start().await;
    server.apply_many(generate::cluster(services, endpoints, pods));
    assert_eq!(server.object_count("v1", "Service"), services);
    assert_eq!(server.object_count("v1", "Pod"), pods);

    let kube = client(&server).await;
    let slices = Api::<EndpointSlice>::all(kube.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    let listed_endpoints: usize = slices
        .items
        .iter()
        .map(|s| s.endpoints.as_ref().map_or(0, Vec::len))
        .sum();
    assert_eq!(listed_endpoints, endpoints);
    let headless = Api::<Service>::all(kube.clone())
        .list(&ListParams::default().fields("spec.clusterIP=None"))
        .await
        .unwrap();
    assert_eq!(headless.items.len(), services / 10);
    let backing = Api::<Pod>::all(kube.clone())
        .list(&ListParams::default().labels("app=svc-9"))
        .await
        .unwrap();
    assert_eq!(backing.items.len(), endpoints / services);

    let stream = watcher::watcher(Api::<Pod>::all(kube), watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut follower = Follower::new(stream);
    follower
        .until(Duration::from_secs(60), |f| {
            f.known.len() == pods && f.pending.is_none()
        })
        .await;
}
