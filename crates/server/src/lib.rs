//! `cairn-server`: listeners, dispatch, instance lifecycle and reload, HTTP endpoints.
//!
//! [`Server::start`] builds an instance from a parsed Corefile, binds every socket (all or
//! nothing, so a bad address or a port in use leaves nothing listening), then starts the
//! plugins' services and the socket tasks. [`Server::reload`] builds the new instance beside
//! the running one and swaps dispatchers on the existing sockets; a failed build or bind keeps
//! the old instance untouched. A host that can read its Corefile again starts with
//! [`Server::start_with_source`], so the `reload` plugin can ask it for that same reload.
//! [`Server::shutdown`] runs the shutdown hooks (lameduck) while DNS is still served, then
//! stops.

pub mod dispatch;
pub mod http;
pub mod instance;
mod sys;
pub mod tcp;
pub mod udp;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use cairn_core::config_source::ConfigSource;
use cairn_core::request::ServerInfo;
use cairn_core::setup::{Readiness, SetupError, Shutdown, ShutdownTrigger};
use cairn_corefile::Corefile;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use dispatch::Dispatcher;
pub use instance::{ListenKey, Options, TableEntry};

/// Why the server could not start or reload.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The Corefile or a plugin's configuration is wrong (every error found).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Config(Vec<SetupError>),
}

struct Listener {
    udp: Vec<Arc<UdpSocket>>,
    tcp: Arc<TcpListener>,
    tx: watch::Sender<Arc<Dispatcher>>,
    local: SocketAddr,
    /// The zones served on this listener (for the banner).
    zones: Vec<cairn_core::wire::Name>,
}

struct Running {
    trigger: ShutdownTrigger,
    services: Vec<JoinHandle<()>>,
    shutdown_hooks: Vec<(&'static str, cairn_core::setup::ShutdownHook)>,
    readiness: Arc<Readiness>,
    digest: String,
}

/// A running server.
pub struct Server {
    opts: Options,
    listeners: BTreeMap<ListenKey, Listener>,
    http: http::HttpPool,
    running: Running,
    tcp_limits: tcp::TcpLimits,
    /// Returns freed heap to the system now and then (see [`sys::release_free_heap`]).
    heap_trimmer: JoinHandle<()>,
    /// Where the configuration comes from, shown to every instance's plugins.
    source: Option<ConfigSource>,
}

/// How often freed heap is given back (relists of a big cluster leave parse buffers).
const HEAP_TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The task that trims the heap every [`HEAP_TRIM_EVERY`].
fn spawn_heap_trimmer() -> JoinHandle<()> {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(HEAP_TRIM_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            let _ = tokio::task::spawn_blocking(sys::release_free_heap).await;
        }
    })
}

fn bind_listener(
    key: &ListenKey,
    cores: usize,
) -> std::io::Result<(Vec<Arc<UdpSocket>>, TcpListener, SocketAddr)> {
    let ip = key.addr.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let want = SocketAddr::new(ip, key.port);
    // Port 0 (tests): UDP picks a port, TCP must get the same one; retry a few times.
    for _ in 0..8 {
        let udp = udp::bind_reuseport(want, cores)?;
        let local = udp[0].local_addr()?;
        match tcp::bind(local) {
            Ok(tcp) => return Ok((udp, tcp, local)),
            Err(e) if key.port == 0 && e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "no common UDP/TCP port",
    ))
}

impl Server {
    /// Builds, binds and starts everything described by `corefile`.
    pub async fn start(corefile: &Corefile, opts: Options) -> Result<Server, StartError> {
        Server::start_with_source(corefile, opts, None).await
    }

    /// Like [`Server::start`], for a host that can reload: every instance's plugins see
    /// `source` (the `reload` plugin watches it and asks the host to reload through it; the
    /// host serves those requests with [`Server::reload`], as it does for SIGUSR1).
    pub async fn start_with_source(
        corefile: &Corefile,
        opts: Options,
        source: Option<ConfigSource>,
    ) -> Result<Server, StartError> {
        let mut server = Server {
            opts,
            listeners: BTreeMap::new(),
            http: http::HttpPool::default(),
            running: Running {
                trigger: Shutdown::new().1,
                services: Vec::new(),
                shutdown_hooks: Vec::new(),
                readiness: Arc::new(Readiness::default()),
                digest: String::new(),
            },
            tcp_limits: tcp::TcpLimits::default(),
            heap_trimmer: spawn_heap_trimmer(),
            source,
        };
        server.install(corefile).await?;
        Ok(server)
    }

    /// Validates a Corefile: builds the instance without binding or starting anything.
    pub fn validate(corefile: &Corefile, opts: &Options) -> Result<(), StartError> {
        instance::build(corefile, opts)
            .map(|_| ())
            .map_err(StartError::Config)
    }

    /// Replaces the running configuration with `corefile`; on error the old one keeps serving.
    pub async fn reload(&mut self, corefile: &Corefile) -> Result<(), StartError> {
        self.install(corefile).await
    }

    /// The digest of the Corefile now serving.
    pub fn digest(&self) -> &str {
        &self.running.digest
    }

    async fn install(&mut self, corefile: &Corefile) -> Result<(), StartError> {
        let inst = instance::build_from(corefile, &self.opts, self.source.as_ref())
            .map_err(StartError::Config)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

        // Bind what is new; on failure drop what was just bound and keep the old state.
        let mut fresh: BTreeMap<ListenKey, (Vec<Arc<UdpSocket>>, TcpListener, SocketAddr)> =
            BTreeMap::new();
        for (key, blocks) in &inst.listeners {
            if self.listeners.contains_key(key) {
                continue;
            }
            match bind_listener(key, cores) {
                Ok(b) => {
                    fresh.insert(*key, b);
                }
                Err(e) => {
                    let at = &corefile.blocks[blocks[0].0.info.index].keys[0];
                    let ip = key.addr.map(|a| a.to_string()).unwrap_or_default();
                    return Err(StartError::Config(vec![
                        at.error(format!("listen udp/tcp {ip}:{}: {e}", key.port))
                    ]));
                }
            }
        }
        // On first start the probe endpoints come up before any startup gate, so /health
        // answers while the instance waits (as CoreDNS); on reload they switch with the swap.
        let first_start = self.running.digest.is_empty();
        if first_start {
            self.http
                .apply(&inst.parts.http)
                .map_err(|e| StartError::Config(vec![e]))?;
        }

        // Start the new instance's services beside the old ones, then wait for its gates
        // (a kubernetes watch syncing) before it answers a query.
        let (shutdown, trigger) = Shutdown::new();
        let mut services = Vec::with_capacity(inst.parts.services.len());
        for s in inst.parts.services {
            services.push(tokio::spawn((s.run)(shutdown.clone())));
        }
        futures_util::future::join_all(inst.parts.startup_gates.into_iter().map(|(_, g)| g)).await;
        // A first sync (and a rebuilt instance) leaves freed parse buffers behind.
        let _ = tokio::task::spawn_blocking(sys::release_free_heap).await;
        if !first_start {
            if let Err(e) = self.http.apply(&inst.parts.http) {
                trigger.fire();
                return Err(StartError::Config(vec![e]));
            }
        }

        // Swap: publish new dispatchers, start new listeners, drop removed ones.
        let mut next = BTreeMap::new();
        for (key, blocks) in inst.listeners {
            let zones: Vec<cairn_core::wire::Name> =
                blocks.iter().flat_map(|(_, z)| z.iter().cloned()).collect();
            let info = Arc::new(ServerInfo::new(key.label()));
            let d = Arc::new(Dispatcher::new(info, blocks));
            let weak: std::sync::Weak<dyn cairn_core::resolve::Resolve> = Arc::downgrade(&d) as _;
            d.server.resolver.bind(weak);
            if let Some(mut l) = self.listeners.remove(&key) {
                let _ = l.tx.send(d);
                l.zones = zones;
                next.insert(key, l);
            } else if let Some((udp, tcp_l, local)) = fresh.remove(&key) {
                let (tx, rx) = watch::channel(d);
                for s in &udp {
                    udp::spawn(s.clone(), rx.clone());
                }
                let tcp_l = Arc::new(tcp_l);
                tcp::spawn(tcp_l.clone(), rx, self.tcp_limits);
                next.insert(
                    key,
                    Listener {
                        udp,
                        tcp: tcp_l,
                        tx,
                        local,
                        zones,
                    },
                );
            }
        }
        // Listeners not in the new configuration: dropping the sender lets their tasks drain.
        self.listeners = next;

        // Stop the old instance's services; the new ones already run.
        let old = std::mem::replace(
            &mut self.running,
            Running {
                trigger,
                services,
                shutdown_hooks: inst.parts.shutdown_hooks,
                readiness: inst.parts.readiness,
                digest: inst.digest,
            },
        );
        old.trigger.fire();
        for (_, hook) in inst.parts.installed_hooks {
            hook(&inst.installed);
        }
        Ok(())
    }

    /// The address a listener is bound to (port 0 resolved), by configured address and port.
    pub fn local_addr(&self, addr: Option<IpAddr>, port: u16) -> Option<SocketAddr> {
        self.listeners
            .get(&ListenKey { addr, port })
            .map(|l| l.local)
    }

    /// Every DNS listener's bound address.
    pub fn dns_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.values().map(|l| l.local).collect()
    }

    /// The bound address of an HTTP endpoint configured as `addr` (e.g. `127.0.0.1:0`).
    pub fn http_addr(&self, addr: &str) -> Option<SocketAddr> {
        self.http.local_addr(addr)
    }

    /// The startup banner as CoreDNS prints it: per listener, its zones sorted, each as
    /// `zone:port`, or `zone:port on ip` for a listener bound to one address.
    pub fn banner_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (key, l) in &self.listeners {
            let mut zones: Vec<String> = l.zones.iter().map(ToString::to_string).collect();
            zones.sort();
            zones.dedup();
            for z in zones {
                match key.addr {
                    None => out.push(format!("{z}:{}", key.port)),
                    Some(ip) => out.push(format!("{z}:{} on {ip}", key.port)),
                }
            }
        }
        out
    }

    /// Graceful stop: readiness goes false, shutdown hooks run while DNS is still served
    /// (health's lameduck), then listeners drain and services stop.
    pub async fn shutdown(mut self) {
        self.running.readiness.set_shutting_down();
        for (_, hook) in std::mem::take(&mut self.running.shutdown_hooks) {
            hook().await;
        }
        for (_, l) in std::mem::take(&mut self.listeners) {
            drop(l.tx);
            drop(l.udp);
            drop(l.tcp);
        }
        self.running.trigger.fire();
        let services = std::mem::take(&mut self.running.services);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            for s in services {
                let _ = s.await;
            }
        })
        .await;
        self.http.close();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.heap_trimmer.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::setup::{PluginSpec, SetupCtx};
    use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
    use std::time::Duration;

    static SERVICE_STARTED: AtomicBool = AtomicBool::new(false);
    /// 0 = gate not finished, 1 = saw the service running, 2 = timed out waiting for it.
    static GATE: AtomicU8 = AtomicU8::new(0);

    fn gated_setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
        ctx.add_service(
            "gated",
            Box::new(|_shutdown| {
                Box::pin(async {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    SERVICE_STARTED.store(true, Ordering::SeqCst);
                })
            }),
        );
        ctx.add_startup_gate(
            "gated",
            Box::pin(async {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
                while !SERVICE_STARTED.load(Ordering::SeqCst) {
                    if tokio::time::Instant::now() > deadline {
                        GATE.store(2, Ordering::SeqCst);
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                GATE.store(1, Ordering::SeqCst);
            }),
        );
        Ok(())
    }

    #[tokio::test]
    async fn startup_gate_runs_with_services_started_and_holds_back_the_start() {
        let table = vec![(
            "gated",
            Some(PluginSpec {
                name: "gated",
                setup: gated_setup,
                once: false,
            }),
        )];
        let names = ["gated"];
        let corefile = cairn_corefile::parse(
            "Corefile",
            "example.org:0 {\n    gated\n}\n",
            &cairn_corefile::ParseOptions::new(&names),
        );
        let corefile = corefile.expect("corefile parses");
        let opts = Options {
            dns_port: 0,
            table,
            config_dir: std::env::temp_dir(),
        };
        let server = Server::start(&corefile, opts).await.expect("server starts");
        assert_eq!(
            GATE.load(Ordering::SeqCst),
            1,
            "start returned before the gate finished, or the gate never saw the service"
        );
        server.shutdown().await;
    }

    /// Answers `www.example.org` with an A record; for `alias.example.org` answers a CNAME to
    /// www and chases it through the server; `loop.example.org` is a CNAME to itself.
    struct Chaser;

    impl cairn_core::Plugin for Chaser {
        fn name(&self) -> &'static str {
            "chaser"
        }
        fn serve<'a>(
            &'a self,
            mut req: Box<cairn_core::Request>,
            _next: cairn_core::Next<'a>,
        ) -> cairn_core::Served<'a> {
            use cairn_core::wire::{Name, RData, Record};
            let q = req.qname_lower.to_string();
            let mut m = req.reply();
            m.flags.aa = true;
            if q == "www.example.org." {
                m.answer.push(Record::new(
                    req.qname(),
                    60,
                    RData::A([192, 0, 2, 1].into()),
                ));
                return cairn_core::Served::reply(req, m);
            }
            let target = match q.as_str() {
                "alias.example.org." => Name::parse("www.example.org.", None).unwrap(),
                "loop.example.org." => Name::parse("loop.example.org.", None).unwrap(),
                _ => return cairn_core::Served::reply(req, m),
            };
            m.answer
                .push(Record::new(req.qname(), 60, RData::Cname(target.clone())));
            let lookup = req.lookup_through_server(&target, req.qtype());
            cairn_core::Served::Pending(Box::pin(async move {
                match lookup {
                    Ok(fut) => match cairn_core::resolve::answer_of(fut).await {
                        Ok(found) => m.answer.extend(found.answer),
                        Err(e) => {
                            return (
                                req,
                                Err(cairn_core::PluginError::failed("chaser", e.to_string())),
                            )
                        }
                    },
                    // Too deep: answer what we have (the loop ends here).
                    Err(cairn_core::resolve::ResolveError::TooDeep) => {}
                    Err(e) => {
                        return (
                            req,
                            Err(cairn_core::PluginError::failed("chaser", e.to_string())),
                        )
                    }
                }
                (req, Ok(m))
            }))
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    fn chaser_setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
        ctx.add_plugin(Arc::new(Chaser));
        Ok(())
    }

    #[tokio::test]
    async fn plugins_can_look_names_up_through_the_server() {
        use cairn_core::wire::{Message, RData, RType};
        let table = vec![(
            "chaser",
            Some(PluginSpec {
                name: "chaser",
                setup: chaser_setup,
                once: false,
            }),
        )];
        let names = ["chaser"];
        let corefile = cairn_corefile::parse(
            "Corefile",
            "example.org:0 {\n    chaser\n}\n",
            &cairn_corefile::ParseOptions::new(&names),
        )
        .expect("corefile parses");
        let opts = Options {
            dns_port: 0,
            table,
            config_dir: std::env::temp_dir(),
        };
        let server = Server::start(&corefile, opts).await.expect("server starts");
        let addr = server.dns_addrs()[0];
        let target = std::net::SocketAddr::from(([127, 0, 0, 1], addr.port()));
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let ask = |name: &'static str| {
            let sock = &sock;
            async move {
                let q = cairn_core::testing::query_bytes(name, RType::A, 1, None);
                sock.send_to(&q, target).await.unwrap();
                let mut buf = vec![0u8; 1500];
                let (n, _) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf))
                    .await
                    .expect("reply in time")
                    .unwrap();
                Message::parse(&buf[..n]).expect("reply parses")
            }
        };
        let r = ask("alias.example.org.").await;
        assert_eq!(r.answer.len(), 2, "{r:?}");
        assert!(matches!(r.answer[0].data, RData::Cname(_)), "{r:?}");
        assert_eq!(r.answer[1].data, RData::A([192, 0, 2, 1].into()), "{r:?}");
        // A self-referencing CNAME stops at the depth limit: one CNAME per level.
        let r = ask("loop.example.org.").await;
        assert_eq!(
            r.answer.len(),
            usize::from(cairn_core::resolve::MAX_DEPTH) + 1,
            "{r:?}"
        );
        server.shutdown().await;
    }
}
