//! Manifest loading (formats, lists, skipped kinds, errors) and the polling source.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::index::{IndexConfig, Store};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "cairn-k8s-manifest-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const KUBECTL_LIST: &str = r#"apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: web
    namespace: default
    managedFields:
    - manager: kubectl
  spec:
    clusterIP: 10.96.0.20
    ports:
    - name: http
      port: 80
      protocol: TCP
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata:
    name: web-abcde
    namespace: default
    labels:
      kubernetes.io/service-name: web
  addressType: IPv4
  endpoints:
  - addresses: ["10.244.0.5"]
    conditions: {ready: true}
  ports:
  - {name: http, port: 8080, protocol: TCP}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: cfg, namespace: default}
  data: {a: b}
"#;

fn names(objects: &[Object]) -> Vec<String> {
    objects
        .iter()
        .map(|o| format!("{}/{}/{}", o.kind(), o.namespace(), o.name()))
        .collect()
}

#[test]
fn yaml_documents_and_lists_are_flattened() {
    let dir = TempDir::new("yaml");
    let text = format!(
        "{KUBECTL_LIST}---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\n"
    );
    let path = dir.write("cluster.yaml", &text);
    let loaded = load_with_stats(&[&path]).unwrap();
    assert_eq!(
        names(&loaded.objects),
        [
            "Service/default/web",
            "EndpointSlice/default/web-abcde",
            "Namespace//default"
        ]
    );
    assert_eq!(loaded.skipped.get("ConfigMap"), Some(&1));
    assert_eq!(loaded.skipped.get("Deployment"), Some(&1));
    assert_eq!(loaded.skipped_count(), 2);
    assert_eq!(loaded.files, [path]);
}

#[test]
fn json_files_and_typed_lists() {
    let dir = TempDir::new("json");
    let path = dir.write(
        "pods.json",
        r#"{"apiVersion": "v1", "kind": "PodList", "items": [
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "namespace": "ns"},
             "status": {"phase": "Running", "podIP": "10.0.0.1"}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p2", "namespace": "ns"}}
        ]}
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"}}"#,
    );
    let objects = load(&[&path]).unwrap();
    assert_eq!(names(&objects), ["Pod/ns/p1", "Pod/ns/p2", "Service/ns/s"]);
}

#[test]
fn directories_are_read_in_name_order() {
    let dir = TempDir::new("dir");
    dir.write(
        "b.yml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: b, namespace: x}\n",
    );
    dir.write(
        "a.json",
        r#"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "x"}}"#,
    );
    dir.write("notes.txt", "not a manifest");
    let objects = load(&[&dir.0]).unwrap();
    assert_eq!(names(&objects), ["Service/x/a", "Service/x/b"]);
}

#[test]
fn errors_name_the_file_and_document() {
    let dir = TempDir::new("errors");
    let bad_object = dir.write(
        "bad.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: ok, namespace: x}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: broken}\nspec: {ports: 80}\n",
    );
    let error = load(&[&bad_object]).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(
            error,
            ManifestError::Object {
                document: 2,
                item: None,
                ..
            }
        ),
        "{message}"
    );
    assert!(
        message.starts_with(&format!(
            "{}: document 2: Service \"broken\"",
            bad_object.display()
        )),
        "{message}"
    );

    let bad_item = dir.write(
        "list.yaml",
        "kind: List\nitems:\n- {apiVersion: v1, kind: Service, metadata: {name: a}}\n- {apiVersion: v1, kind: Pod, metadata: {name: b}, status: {podIPs: 3}}\n",
    );
    let error = load(&[&bad_item]).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("list.yaml: document 1, item 2: Pod \"b\""),
        "{error}"
    );

    let no_kind = dir.write("nokind.yaml", "metadata: {name: x}\n");
    let error = load(&[&no_kind]).unwrap_err();
    assert!(
        matches!(
            error,
            ManifestError::Object {
                source: ObjectError::NotAnObject,
                ..
            }
        ),
        "{error}"
    );

    let syntax = dir.write("syntax.yaml", "kind: Service\nmetadata: [unclosed\n");
    let error = load(&[&syntax]).unwrap_err();
    assert!(matches!(error, ManifestError::Syntax { .. }), "{error}");
    assert!(
        error.to_string().starts_with(&syntax.display().to_string()),
        "{error}"
    );

    let missing = dir.0.join("missing.yaml");
    let error = load(&[&missing]).unwrap_err();
    assert!(matches!(error, ManifestError::Read { .. }), "{error}");
    assert!(error.to_string().contains("missing.yaml"), "{error}");
}

fn service_yaml(name: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: default}}\nspec: {{clusterIP: {ip}}}\n"
    )
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn source_loads_syncs_reloads_and_keeps_the_last_good_state() {
    let dir = TempDir::new("source");
    let path = dir.write("cluster.yaml", &service_yaml("web", "10.96.0.1"));
    let (store, writer) = Store::new(IndexConfig::default());
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let source = ManifestSource {
        paths: vec![path.clone()],
        interval: Duration::from_millis(20),
    };
    let task = {
        let errors = Arc::clone(&errors);
        tokio::spawn(source.run(
            writer,
            async move {
                let _ = stopped.await;
            },
            move |error| errors.lock().unwrap().push(error.to_string()),
        ))
    };

    assert!(store.wait_synced(Duration::from_secs(5)).await);
    assert!(store.load().service("default", "web").is_some());

    // A change (new size) is picked up.
    std::fs::write(&path, service_yaml("api", "10.96.0.222")).unwrap();
    eventually("the reload", || {
        store.load().service("default", "api").is_some()
    })
    .await;
    assert!(store.load().service("default", "web").is_none());

    // A broken file is reported and the last good state stays.
    std::fs::write(&path, "kind: Service\nmetadata: [oops\n").unwrap();
    eventually("the error", || !errors.lock().unwrap().is_empty()).await;
    assert!(errors.lock().unwrap()[0].contains("cluster.yaml"));
    assert!(store.load().service("default", "api").is_some());

    // Fixed again: loaded again.
    std::fs::write(&path, service_yaml("fixed", "10.96.0.3")).unwrap();
    eventually("the fix", || {
        store.load().service("default", "fixed").is_some()
    })
    .await;

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the source stops on shutdown")
        .unwrap();
}

#[tokio::test]
async fn a_missing_file_at_start_is_reported_and_loaded_when_it_appears() {
    let dir = TempDir::new("late");
    let path = dir.0.join("late.yaml");
    let (store, writer) = Store::new(IndexConfig::default());
    let errors = Arc::new(AtomicUsize::new(0));
    let source = ManifestSource {
        paths: vec![path.clone()],
        interval: Duration::from_millis(20),
    };
    let counter = Arc::clone(&errors);
    let task = tokio::spawn(source.run(writer, std::future::pending(), move |_| {
        counter.fetch_add(1, Ordering::Relaxed);
    }));
    eventually("the error", || errors.load(Ordering::Relaxed) == 1).await;
    assert!(!store.is_synced());
    std::fs::write(&path, service_yaml("late", "10.96.0.9")).unwrap();
    assert!(store.wait_synced(Duration::from_secs(5)).await);
    assert!(store.load().service("default", "late").is_some());
    assert_eq!(
        errors.load(Ordering::Relaxed),
        1,
        "reported once, not every poll"
    );
    task.abort();
}

#[test]
fn apply_all_marks_every_watched_kind_synced() {
    let (store, mut writer) = Store::new(IndexConfig {
        pods: true,
        ..IndexConfig::default()
    });
    apply_all(&mut writer, Vec::new());
    assert!(store.is_synced(), "empty files still sync every kind");
    assert!(!store.load().has_namespaces());
}

#[test]
fn paths_helper_accepts_strings() {
    // `load` takes anything path-like.
    let dir = TempDir::new("paths");
    let path = dir.write("s.yaml", &service_yaml("s", "10.0.0.1"));
    let as_string: String = path.display().to_string();
    assert_eq!(load(&[as_string.as_str()]).unwrap().len(), 1);
    assert_eq!(load(&[Path::new(&as_string)]).unwrap().len(), 1);
}
