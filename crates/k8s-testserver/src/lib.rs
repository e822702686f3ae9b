//! A Kubernetes API server small enough to start inside a test, speaking the real protocol.
//!
//! No real kube-apiserver can run on the machines Cairn is built and tested on, yet the
//! kubernetes plugin must be tested through the real kube-rs client: its LIST pagination,
//! WATCH resumption, bookmarks, relist on 410 Gone and reconnection after an outage. This
//! server implements that protocol (HTTPS with its own CA, bearer-token or client-certificate
//! authentication, discovery, LIST, GET and WATCH in JSON) over an in-memory store that tests
//! change directly with [`TestApiServer::apply`] and [`TestApiServer::delete`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), cairn_k8s_testserver::Error> {
//! use cairn_k8s_testserver::{Options, TestApiServer};
//! let server = TestApiServer::start(Options::default()).await?;
//! server.apply(serde_json::json!({
//!     "apiVersion": "v1", "kind": "Service",
//!     "metadata": {"name": "web", "namespace": "default"},
//!     "spec": {"clusterIP": "10.96.0.10"}
//! }));
//! server.write_kubeconfig(std::path::Path::new("/tmp/kubeconfig"), "test")?;
//! # Ok(()) }
//! ```

mod api;
mod body;
mod discovery;
pub mod generate;
mod kubeconfig;
mod manifests;
mod object;
mod params;
mod pki;
mod resources;
mod selector;
mod server;
mod store;
mod watch;

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::object::PreparedObject;
use crate::pki::Authority;
use crate::resources::RESOURCES;
use crate::server::Shared;
use crate::store::Store;

/// Why the server could not start, or an object could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("test API server I/O: {0}")]
    Io(#[from] io::Error),
    #[error("test API server TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("test API server certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("invalid object: {0}")]
    InvalidObject(String),
    #[error("the test API server does not serve kind {kind} of apiVersion {api_version}")]
    UnknownKind { api_version: String, kind: String },
    #[error("manifest: {0}")]
    Manifest(String),
}

/// How to start a [`TestApiServer`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen; `None` is 127.0.0.1 on a free port.
    pub addr: Option<SocketAddr>,
    /// Events kept for watches to resume from; a resume from before them gets 410 Gone.
    pub history: usize,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
    /// The bearer token to require; `None` (or empty) makes a random one.
    pub token: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            addr: None,
            history: 10_000,
            bookmark_interval: Duration::from_secs(1),
            token: None,
        }
    }
}

/// Requests served so far, per resource (keyed by plural, e.g. `services`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// LIST requests that started a list (continuation pages are not counted).
    pub lists: BTreeMap<String, u64>,
    /// WATCH requests, including those answered with 410 Gone.
    pub watches: BTreeMap<String, u64>,
    /// GET requests of one object.
    pub gets: BTreeMap<String, u64>,
}

impl Stats {
    /// LISTs of a resource (`"services"`, `"endpointslices"`, ...).
    #[must_use]
    pub fn list_count(&self, plural: &str) -> u64 {
        self.lists.get(plural).copied().unwrap_or(0)
    }

    /// WATCHes of a resource.
    #[must_use]
    pub fn watch_count(&self, plural: &str) -> u64 {
        self.watches.get(plural).copied().unwrap_or(0)
    }
}

/// A running test API server. Dropping it stops the listener and closes every connection.
pub struct TestApiServer {
    shared: Arc<Shared>,
    authority: Authority,
    client_identity: (String, String),
    accept: JoinHandle<()>,
}

impl std::fmt::Debug for TestApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApiServer")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl TestApiServer {
    /// Binds, makes the CA and certificates, and starts serving on the current tokio runtime.
    pub async fn start(options: Options) -> Result<TestApiServer, Error> {
        let authority = Authority::new()?;
        let client_identity = authority.client_identity()?;
        let addr = options
            .addr
            .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0));
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let token = options
            .token
            .filter(|token| !token.is_empty())
            .unwrap_or_else(pki::random_token);
        let shared = Arc::new(Shared::new(
            Store::new(options.history),
            token,
            options.bookmark_interval,
            addr,
        ));
        let acceptor = TlsAcceptor::from(authority.tls.clone());
        let accept = tokio::spawn(server::accept_loop(listener, acceptor, shared.clone()));
        Ok(TestApiServer {
            shared,
            authority,
            client_identity,
            accept,
        })
    }

    /// The address the server listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// `https://127.0.0.1:PORT` (a wildcard listen address is reported as loopback).
    #[must_use]
    pub fn url(&self) -> String {
        let mut addr = self.shared.addr;
        match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            IpAddr::V6(ip) if ip.is_unspecified() => addr.set_ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            _ => {}
        }
        format!("https://{addr}")
    }

    /// The CA certificate (PEM) that signed the server certificate.
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.authority.ca_pem
    }

    /// The bearer token the server accepts.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// A client certificate and key (PEM) signed by the CA; presenting it authenticates
    /// without a token.
    #[must_use]
    pub fn client_identity(&self) -> (String, String) {
        self.client_identity.clone()
    }

    /// Writes a kubeconfig whose current context `context` reaches this server with the CA
    /// embedded and the bearer token.
    pub fn write_kubeconfig(&self, path: &Path, context: &str) -> io::Result<()> {
        let text = kubeconfig::render(&self.url(), self.ca_pem(), self.token(), context);
        std::fs::write(path, text)
    }

    /// Creates or replaces an object (keyed by apiVersion, kind, namespace and name), stamping
    /// `resourceVersion`, `uid` and `creationTimestamp`, and emits ADDED or MODIFIED. Returns
    /// the new resource version.
    ///
    /// # Panics
    /// If the object is not one this server can store (no kind or name, a kind not served):
    /// that is a mistake in the test. Use [`TestApiServer::try_apply`] for other input.
    #[allow(clippy::must_use_candidate)]
    pub fn apply(&self, object: Value) -> u64 {
        match self.try_apply(object) {
            Ok(version) => version,
            Err(e) => panic!("TestApiServer::apply: {e}"),
        }
    }

    /// [`TestApiServer::apply`] that reports unusable objects instead of panicking.
    pub fn try_apply(&self, object: Value) -> Result<u64, Error> {
        self.try_apply_many([object])
    }

    /// Applies many objects under one lock (for big generated clusters). Returns the version
    /// of the last write.
    ///
    /// # Panics
    /// As [`TestApiServer::apply`].
    #[allow(clippy::must_use_candidate)]
    pub fn apply_many(&self, objects: impl IntoIterator<Item = Value>) -> u64 {
        match self.try_apply_many(objects) {
            Ok(version) => version,
            Err(e) => panic!("TestApiServer::apply_many: {e}"),
        }
    }

    /// [`TestApiServer::apply_many`] that reports unusable objects instead of panicking. Every
    /// object is checked before any is stored.
    pub fn try_apply_many(&self, objects: impl IntoIterator<Item = Value>) -> Result<u64, Error> {
        let prepared = objects
            .into_iter()
            .map(PreparedObject::new)
            .collect::<Result<Vec<_>, _>>()?;
        self.shared.store.apply_all(prepared)
    }

    /// Deletes an object and emits DELETED with its last state and a new resource version.
    /// `namespace` is ignored for cluster-scoped kinds and defaults to `default` for the
    /// others. Returns whether it existed.
    #[allow(clippy::must_use_candidate)]
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> bool {
        let Some(resource) = resources::by_kind(api_version, kind) else {
            return false;
        };
        let namespace = if RESOURCES[resource].namespaced {
            namespace.unwrap_or("default")
        } else {
            ""
        };
        self.shared.store.delete(resource, namespace, name)
    }

    /// Applies every object in manifest text: YAML (multi-document) or JSON, with `List`
    /// documents flattened. Returns how many objects were applied.
    pub fn load_manifests(&self, text: &str) -> Result<usize, Error> {
        let objects = manifests::parse(text)?;
        let count = objects.len();
        self.try_apply_many(objects)?;
        Ok(count)
    }

    /// The outage switch. While down, every open connection (watch streams included) is
    /// closed and new connections are closed as soon as they are accepted. Back up, the server
    /// answers on the same port with the same CA, token and data.
    pub fn set_down(&self, down: bool) {
        self.shared.down.send_replace(down);
        if down {
            self.shared.store.drop_watchers();
        }
    }

    /// Forgets the event history and ends open watches cleanly: their clients resume from a
    /// version the server no longer has, get 410 Gone, and must relist.
    pub fn compact(&self) {
        self.shared.store.compact();
    }

    /// The current (latest) resource version.
    #[must_use]
    pub fn resource_version(&self) -> u64 {
        self.shared.store.resource_version()
    }

    /// How many objects of a kind are stored (0 for a kind not served).
    #[must_use]
    pub fn object_count(&self, api_version: &str, kind: &str) -> usize {
        resources::by_kind(api_version, kind).map_or(0, |r| self.shared.store.count(r))
    }

    /// Requests served so far, per resource.
    #[must_use]
    pub fn stats(&self) -> Stats {
        let collect = |counters: &[AtomicU64]| {
            RESOURCES
                .iter()
                .zip(counters)
                .map(|(kind, count)| (kind.plural.to_owned(), count.load(Ordering::Relaxed)))
                .collect()
        };
        let counters = &self.shared.counters;
        Stats {
            lists: collect(&counters.lists),
            watches: collect(&counters.watches),
            gets: collect(&counters.gets),
        }
    }
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
        self.shared.store.drop_watchers();
        self.accept.abort();
    }
}
