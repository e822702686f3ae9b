//! Building an instance from a parsed Corefile: keys to zones, directives grouped and checked,
//! plugin setup in registry order, chains, and the listener table (which zones of which blocks
//! each address and port serves).
//!
//! Building touches no socket, so it serves both for starting, for reloading (build, then
//! swap) and for validating a Corefile without serving. It reports every error it finds.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use cairn_core::config_source::ConfigSource;
use cairn_core::plugin::{Chain, Plugin};
use cairn_core::setup::{
    BlockInfo, BlockSettings, InstalledBlock, InstanceParts, PluginSpec, SetupCtx, SetupError,
};
use cairn_core::wire::Name;
use cairn_corefile::{Corefile, Directive, Transport};

use crate::dispatch::Block;

/// One row of the plugin table: a directive name and, if implemented, its spec.
pub type TableEntry = (&'static str, Option<PluginSpec>);

/// What the server needs besides the Corefile.
#[derive(Clone)]
pub struct Options {
    /// Port for keys that do not name one (`-dns.port`).
    pub dns_port: u16,
    /// The plugin table in execution order.
    pub table: Vec<TableEntry>,
    /// Directory of the Corefile (relative paths in plugins).
    pub config_dir: PathBuf,
}

/// Where a listener listens: an address (None = every address) and a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ListenKey {
    pub addr: Option<IpAddr>,
    pub port: u16,
}

impl ListenKey {
    /// The `server` metric label: `dns://:53`, `dns://10.0.0.10:53`, `dns://[::1]:53`.
    pub fn label(&self) -> String {
        match self.addr {
            None => format!("dns://:{}", self.port),
            Some(IpAddr::V4(ip)) => format!("dns://{ip}:{}", self.port),
            Some(IpAddr::V6(ip)) => format!("dns://[{ip}]:{}", self.port),
        }
    }
}

/// The blocks a listener serves, each with the zones it serves there.
pub type BlockZones = Vec<(Arc<Block>, Vec<Name>)>;

/// A built, not yet started instance.
pub struct Instance {
    pub blocks: Vec<Arc<Block>>,
    /// For each listener, the blocks and the zones they serve there.
    pub listeners: BTreeMap<ListenKey, BlockZones>,
    pub parts: InstanceParts,
    /// Every block on every listener, for the installed hooks.
    pub installed: Vec<InstalledBlock>,
    /// Digest of the Corefile's tokens (reload compares it).
    pub digest: String,
}

/// Builds an instance; on failure returns every error found.
pub fn build(corefile: &Corefile, opts: &Options) -> Result<Instance, Vec<SetupError>> {
    build_from(corefile, opts, None)
}

/// Builds an instance whose plugins can see where the configuration comes from (the
/// `reload` plugin watches it); on failure returns every error found.
pub fn build_from(
    corefile: &Corefile,
    opts: &Options,
    source: Option<&ConfigSource>,
) -> Result<Instance, Vec<SetupError>> {
    let mut errors = Vec::new();
    let mut parts = InstanceParts::default();
    let mut blocks = Vec::new();
    // Directive names per block, by block position in `blocks`.
    let mut block_plugins: Vec<Vec<&'static str>> = Vec::new();
    let mut listeners: BTreeMap<ListenKey, BlockZones> = BTreeMap::new();
    // (listen key, zone) -> where it was defined, to refuse duplicates.
    let mut defined: BTreeMap<(ListenKey, Vec<u8>), ()> = BTreeMap::new();

    for (index, sb) in corefile.blocks.iter().enumerate() {
        let mut keys = Vec::new();
        let mut key_ok = true;
        for t in &sb.keys {
            match cairn_corefile::parse_key(&t.text) {
                Ok(addrs) => {
                    for a in addrs {
                        if a.transport != Transport::Dns {
                            errors.push(t.error(format!(
                                "{}:// servers are not supported yet (only dns://)",
                                a.transport.scheme()
                            )));
                            key_ok = false;
                        }
                        keys.push(a);
                    }
                }
                Err(e) => {
                    errors.push(t.error(format!("invalid server block key '{}': {e}", t.text)));
                    key_ok = false;
                }
            }
        }
        if !key_ok {
            continue;
        }
        let zones: Vec<Name> = keys
            .iter()
            .filter_map(|k| Name::parse(&k.zone, None).ok())
            .collect();
        let port = keys.first().and_then(|k| k.port).unwrap_or(opts.dns_port);
        let info = BlockInfo {
            index,
            keys: keys.clone(),
            zones: zones.clone(),
            port,
        };

        // Group directive lines by plugin, in table order; refuse unknown and repeated ones.
        let mut groups: BTreeMap<usize, Vec<Directive>> = BTreeMap::new();
        for d in &sb.directives {
            let Some(pos) = opts.table.iter().position(|(n, _)| *n == d.name.text) else {
                errors.push(d.error(format!("Unknown directive '{}'", d.name.text)));
                continue;
            };
            let group = groups.entry(pos).or_default();
            if let Some(spec) = &opts.table[pos].1 {
                if spec.once && !group.is_empty() {
                    errors.push(d.error("this plugin can only be used once per Server Block"));
                    continue;
                }
            }
            group.push(d.clone());
        }

        let mut settings = BlockSettings::default();
        let mut handlers: Vec<Arc<dyn Plugin>> = Vec::new();
        for (pos, directives) in &groups {
            let (name, spec) = &opts.table[*pos];
            let Some(spec) = spec else {
                errors.push(
                    directives[0].error(format!("plugin/{name}: not supported by Cairn yet")),
                );
                continue;
            };
            settings.directives.push(spec.name);
            let mut ctx = SetupCtx::new(
                directives,
                &info,
                &mut settings,
                opts.config_dir.clone(),
                &mut handlers,
                &mut parts,
            )
            .with_corefile(corefile)
            .with_source(source.cloned());
            if let Err(e) = (spec.setup)(&mut ctx) {
                errors.push(e);
            }
        }
        // Like CoreDNS, `ready` reports on the plugins of the blocks that use it.
        if settings.directives.contains(&"ready") {
            for h in &handlers {
                if h.ready().is_some() {
                    parts.readiness.register(h.clone());
                }
            }
        }
        let block = Arc::new(Block {
            info,
            chain: Chain::new(handlers),
        });

        // Listen addresses: `bind` (minus `except`) or every address.
        let addrs = match listen_addrs(&settings) {
            Ok(a) => a,
            Err(msg) => {
                errors.push(sb.keys[0].error(msg));
                continue;
            }
        };
        for k in &keys {
            let Ok(zone) = Name::parse(&k.zone, None) else {
                continue;
            };
            let port = k.port.unwrap_or(opts.dns_port);
            for addr in &addrs {
                let lk = ListenKey { addr: *addr, port };
                if defined.insert((lk, zone.wire().to_vec()), ()).is_some() {
                    errors.push(sb.keys[0].error(format!(
                        "cannot serve dns://{}:{} - it is already defined",
                        k.zone, port
                    )));
                    continue;
                }
                let entry = listeners.entry(lk).or_default();
                match entry.iter_mut().find(|(b, _)| Arc::ptr_eq(b, &block)) {
                    Some((_, z)) => z.push(zone.clone()),
                    None => entry.push((block.clone(), vec![zone.clone()])),
                }
            }
        }
        blocks.push(block);
        block_plugins.push(settings.directives.clone());
    }

    // A bound and an unbound listener on the same port serving the same zone conflict.
    for ((lk, zone), ()) in &defined {
        if lk.addr.is_some()
            && defined.contains_key(&(
                ListenKey {
                    addr: None,
                    port: lk.port,
                },
                zone.clone(),
            ))
        {
            let name = Name::from_wire(zone)
                .map(|n| n.to_string())
                .unwrap_or_default();
            errors.push(cairn_corefile::ParseError::new(
                corefile
                    .files
                    .first()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                0,
                format!(
                    "cannot serve dns://{name}:{} - zone overlap listener capacity",
                    lk.port
                ),
            ));
        }
    }

    let mut installed = Vec::new();
    for (lk, served) in &listeners {
        for (block, zones) in served {
            let plugins = blocks
                .iter()
                .position(|b| Arc::ptr_eq(b, block))
                .map(|i| block_plugins[i].clone())
                .unwrap_or_default();
            installed.push(InstalledBlock {
                server: lk.label(),
                zones: zones.clone(),
                plugins,
            });
        }
    }

    if errors.is_empty() {
        Ok(Instance {
            blocks,
            listeners,
            parts,
            installed,
            digest: corefile.digest_hex(),
        })
    } else {
        Err(errors)
    }
}

/// The addresses a block listens on: `None` (all) without `bind`.
fn listen_addrs(settings: &BlockSettings) -> Result<Vec<Option<IpAddr>>, String> {
    if settings.bind.is_empty() {
        return Ok(vec![None]);
    }
    let expand = |items: &[String]| -> Result<Vec<IpAddr>, String> {
        let mut out = Vec::new();
        for item in items {
            match item.parse::<IpAddr>() {
                Ok(ip) => out.push(ip),
                Err(_) => {
                    let found = crate::sys::interface_addrs(item);
                    if found.is_empty() {
                        return Err(format!("bind: no such interface or address '{item}'"));
                    }
                    out.extend(found);
                }
            }
        }
        Ok(out)
    };
    let mut out: Vec<Option<IpAddr>> = Vec::new();
    for line in &settings.bind {
        let except = expand(&line.except)?;
        for ip in expand(&line.addrs)? {
            if !except.contains(&ip) && !out.contains(&Some(ip)) {
                out.push(Some(ip));
            }
        }
    }
    if out.is_empty() {
        return Err("bind: every address is excluded by except".into());
    }
    Ok(out)
}
