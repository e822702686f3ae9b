//! What a plugin's setup function gets: its directive lines, facts about its server block, and
//! ways to register a query handler, background services, HTTP endpoints and shutdown work.
//!
//! Setup only records things; the server binds sockets and starts services after every block
//! was set up, so a bad Corefile leaves nothing half-started.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use cairn_corefile::{Corefile, Directive, Token, ZoneAddr};

use crate::config_source::ConfigSource;
use crate::plugin::Plugin;
use crate::wire::Name;

/// A setup error: names the Corefile and line.
pub type SetupError = cairn_corefile::ParseError;

/// A plugin's entry in the registry table.
#[derive(Clone, Copy)]
pub struct PluginSpec {
    /// The directive name.
    pub name: &'static str,
    /// Parses the directive lines and registers what the plugin needs.
    pub setup: fn(&mut SetupCtx<'_>) -> Result<(), SetupError>,
    /// Whether the directive may appear only once per server block.
    pub once: bool,
}

/// A boxed future for services and shutdown work.
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Work to run at final shutdown (health's lameduck).
pub type ShutdownHook = Box<dyn FnOnce() -> BoxFuture + Send>;

/// Fires when the instance that registered a service is shut down (or replaced by a reload).
#[derive(Clone)]
pub struct Shutdown {
    rx: tokio::sync::watch::Receiver<bool>,
}

impl Shutdown {
    /// A signal and the function that fires it.
    pub fn new() -> (Shutdown, ShutdownTrigger) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (Shutdown { rx }, ShutdownTrigger { tx })
    }

    /// Waits until shutdown was requested.
    pub async fn wait(&mut self) {
        let _ = self.rx.wait_for(|&stop| stop).await;
    }

    /// True once shutdown was requested.
    pub fn is_shutdown(&self) -> bool {
        *self.rx.borrow()
    }
}

/// Fires a [`Shutdown`].
pub struct ShutdownTrigger {
    tx: tokio::sync::watch::Sender<bool>,
}

impl ShutdownTrigger {
    /// Requests shutdown.
    pub fn fire(&self) {
        let _ = self.tx.send(true);
    }
}

/// A plain HTTP GET answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl HttpResponse {
    /// `200` with a text body.
    pub fn ok(body: impl Into<String>) -> Self {
        HttpResponse {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
}

/// Serves one HTTP path (health, ready, metrics).
pub trait HttpHandler: Send + Sync + 'static {
    fn get(&self) -> HttpResponse;
}

/// An HTTP endpoint a plugin asked for.
#[derive(Clone)]
pub struct HttpRoute {
    /// Listen address as written (`:8080`, `localhost:9153`, `127.0.0.1:0`).
    pub addr: String,
    pub path: &'static str,
    pub handler: Arc<dyn HttpHandler>,
    /// Where it was configured, for bind errors.
    pub at: Token,
}

/// A background service: started after a successful setup, told to stop at shutdown.
pub struct ServiceSpec {
    pub name: &'static str,
    pub run: Box<dyn FnOnce(Shutdown) -> BoxFuture + Send>,
}

/// Readiness reporters of one instance, read by the `ready` plugin at probe time.
#[derive(Default)]
pub struct Readiness {
    plugins: Mutex<Vec<Arc<dyn Plugin>>>,
    shutting_down: AtomicBool,
}

impl Readiness {
    /// Adds a plugin whose [`Plugin::ready`] is consulted.
    pub fn register(&self, plugin: Arc<dyn Plugin>) {
        self.plugins.lock().expect("readiness lock").push(plugin);
    }

    /// Names of plugins not ready yet, sorted and de-duplicated.
    pub fn not_ready(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self
            .plugins
            .lock()
            .expect("readiness lock")
            .iter()
            .filter(|p| p.ready() == Some(false))
            .map(|p| p.name())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Marks the instance as going away (ready then reports not ready).
    pub fn set_shutting_down(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
    }

    /// True once shutdown started.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }
}

/// Facts about the server block being set up.
#[derive(Debug, Clone)]
pub struct BlockInfo {
    /// Position of the block in the Corefile.
    pub index: usize,
    /// The parsed keys (zone, transport, port) after CIDR expansion.
    pub keys: Vec<ZoneAddr>,
    /// The zones of the keys, lower case, in key order.
    pub zones: Vec<Name>,
    /// The effective port of the block.
    pub port: u16,
}

/// One block as served on one listener, handed to [`InstalledHook`]s once an instance serves.
#[derive(Debug, Clone)]
pub struct InstalledBlock {
    /// The listener's label as CoreDNS prints it (`dns://:53`, `dns://127.0.0.1:53`).
    pub server: String,
    /// The zones the block serves on that listener.
    pub zones: Vec<Name>,
    /// Every directive used in the block, in execution order.
    pub plugins: Vec<&'static str>,
}

/// Runs once an instance has been swapped in, with every block on every listener (used by
/// `prometheus` for `coredns_plugin_enabled`, which must describe what actually serves).
pub type InstalledHook = Box<dyn FnOnce(&[InstalledBlock]) + Send>;

/// Everything collected while setting up one instance (all blocks).
#[derive(Default)]
pub struct InstanceParts {
    pub services: Vec<ServiceSpec>,
    pub http: Vec<HttpRoute>,
    pub shutdown_hooks: Vec<(&'static str, ShutdownHook)>,
    pub readiness: Arc<Readiness>,
    /// Futures the server awaits, after starting this instance's services and before it
    /// serves queries with it (first start) or swaps it in (reload).
    pub startup_gates: Vec<(&'static str, BoxFuture)>,
    /// Hooks run after the swap; at most one per name.
    pub installed_hooks: Vec<(&'static str, InstalledHook)>,
}

/// One `bind` line: its addresses or interface names, minus its own `except` items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BindLine {
    pub addrs: Vec<String>,
    pub except: Vec<String>,
}

/// Per-block settings that configuration-only plugins change.
#[derive(Debug, Clone, Default)]
pub struct BlockSettings {
    /// One entry per `bind` line (empty = wildcard).
    pub bind: Vec<BindLine>,
    /// Base directory for relative file names, from `root`.
    pub root: Option<PathBuf>,
    /// Names of the directives used in this block (for `chaos`/`forward` class checks).
    pub directives: Vec<&'static str>,
}

/// What a plugin's setup function is given.
pub struct SetupCtx<'a> {
    /// The plugin's directive lines in this block, in Corefile order.
    pub directives: &'a [Directive],
    pub block: &'a BlockInfo,
    pub settings: &'a mut BlockSettings,
    /// Directory of the Corefile, for relative paths when `root` is not set.
    pub config_dir: PathBuf,
    pub(crate) handlers: &'a mut Vec<Arc<dyn Plugin>>,
    pub(crate) parts: &'a mut InstanceParts,
    /// The whole Corefile being set up (None in tests that set up one block by hand).
    corefile: Option<&'a Corefile>,
    /// Where the configuration comes from (None when validating, or for a server started
    /// without one).
    source: Option<ConfigSource>,
}

impl<'a> SetupCtx<'a> {
    /// Creates a context (used by the server and by tests).
    pub fn new(
        directives: &'a [Directive],
        block: &'a BlockInfo,
        settings: &'a mut BlockSettings,
        config_dir: PathBuf,
        handlers: &'a mut Vec<Arc<dyn Plugin>>,
        parts: &'a mut InstanceParts,
    ) -> Self {
        SetupCtx {
            directives,
            block,
            settings,
            config_dir,
            handlers,
            parts,
            corefile: None,
            source: None,
        }
    }

    /// Makes the whole Corefile being set up visible to the plugins.
    pub fn with_corefile(mut self, corefile: &'a Corefile) -> Self {
        self.corefile = Some(corefile);
        self
    }

    /// Makes the configuration's source visible to the plugins (the `reload` plugin).
    pub fn with_source(mut self, source: Option<ConfigSource>) -> Self {
        self.source = source;
        self
    }

    /// The whole Corefile this instance is built from, when the caller provided it.
    pub fn corefile(&self) -> Option<&'a Corefile> {
        self.corefile
    }

    /// Where the configuration comes from and how to ask for a reload, when the host can
    /// reload (not while validating a Corefile).
    pub fn source(&self) -> Option<&ConfigSource> {
        self.source.as_ref()
    }

    /// The first directive line (there is always at least one).
    pub fn first(&self) -> &'a Directive {
        &self.directives[0]
    }

    /// Adds a query handler to this block's chain (placed by the registry order).
    pub fn add_plugin(&mut self, plugin: Arc<dyn Plugin>) {
        self.handlers.push(plugin);
    }

    /// Starts `run` after a successful setup; it gets a [`Shutdown`] to watch.
    pub fn add_service(
        &mut self,
        name: &'static str,
        run: Box<dyn FnOnce(Shutdown) -> BoxFuture + Send>,
    ) {
        self.parts.services.push(ServiceSpec { name, run });
    }

    /// Like [`SetupCtx::add_service`], but the instance keeps one service under `name`: a later
    /// call replaces the earlier one. For process-wide work configured in several blocks,
    /// where the last block's settings win (as CoreDNS's `reload`).
    pub fn replace_service(
        &mut self,
        name: &'static str,
        run: Box<dyn FnOnce(Shutdown) -> BoxFuture + Send>,
    ) {
        self.parts.services.retain(|s| s.name != name);
        self.parts.services.push(ServiceSpec { name, run });
    }

    /// Serves `path` over HTTP on `addr`.
    pub fn add_http(
        &mut self,
        addr: String,
        path: &'static str,
        handler: Arc<dyn HttpHandler>,
        at: Token,
    ) {
        self.parts.http.push(HttpRoute {
            addr,
            path,
            handler,
            at,
        });
    }

    /// Runs `hook` at final shutdown, in registry order, while DNS is still served.
    pub fn on_shutdown(&mut self, name: &'static str, hook: ShutdownHook) {
        self.parts.shutdown_hooks.push((name, hook));
    }

    /// Holds back serving with this instance until `gate` completes. The instance's services
    /// are already running while the gate is awaited (a watcher can sync); on reload the old
    /// instance keeps answering meanwhile. The gate must bound its own wait (a timeout).
    pub fn add_startup_gate(&mut self, name: &'static str, gate: BoxFuture) {
        self.parts.startup_gates.push((name, gate));
    }

    /// Runs `hook` once this instance serves. Only the first hook registered under `name` in
    /// an instance is kept, so a plugin used in several blocks reports once.
    pub fn on_installed(&mut self, name: &'static str, hook: InstalledHook) {
        if !self.parts.installed_hooks.iter().any(|(n, _)| *n == name) {
            self.parts.installed_hooks.push((name, hook));
        }
    }

    /// This instance's readiness registry.
    pub fn readiness(&self) -> Arc<Readiness> {
        self.parts.readiness.clone()
    }

    /// Resolves a file name against `root` or the Corefile's directory.
    pub fn resolve_path(&self, name: &str) -> PathBuf {
        let p = PathBuf::from(name);
        if p.is_absolute() {
            return p;
        }
        match &self.settings.root {
            Some(root) => root.join(p),
            None => self.config_dir.join(p),
        }
    }

    /// The zones a plugin serves: the arguments given (made absolute, lower case) or, when
    /// none, the block's zones. Reverse CIDR arguments expand like server block keys.
    pub fn zones_or_block(&self, args: &[Token]) -> Result<Vec<Name>, SetupError> {
        if args.is_empty() {
            return Ok(self.block.zones.clone());
        }
        let mut out = Vec::new();
        for t in args {
            let addrs = cairn_corefile::parse_key(&t.text)
                .map_err(|e| t.error(format!("invalid zone '{}': {e}", t.text)))?;
            for a in addrs {
                let n = Name::parse(&a.zone, None)
                    .map_err(|e| t.error(format!("invalid zone '{}': {e}", t.text)))?;
                out.push(n);
            }
        }
        Ok(out)
    }
}
