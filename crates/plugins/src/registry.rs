//! The ordered table of plugins: Cairn's `plugin.cfg`.
//!
//! Position in this table is execution order in every chain (first = outermost) and setup
//! order across a server block, whatever order the Corefile lists directives in. The table
//! holds every directive CoreDNS knows in CoreDNS's order; the ones Cairn does not implement
//! yet have `setup: None` and are refused with a clear error. A custom binary can build its own
//! table with extra plugins (see `examples/custom_plugin.rs`).

use cairn_core::setup::PluginSpec;

/// A directive CoreDNS knows, with Cairn's implementation if there is one.
#[derive(Clone, Copy)]
pub struct Entry {
    pub name: &'static str,
    pub spec: Option<PluginSpec>,
}

const fn has(
    name: &'static str,
    setup: fn(&mut cairn_core::SetupCtx<'_>) -> Result<(), cairn_core::SetupError>,
    once: bool,
) -> Entry {
    Entry {
        name,
        spec: Some(PluginSpec { name, setup, once }),
    }
}

const fn not_yet(name: &'static str) -> Entry {
    Entry { name, spec: None }
}

/// CoreDNS's plugin.cfg order (v1.14.7), with Cairn's implementations filled in.
pub static PLUGINS: &[Entry] = &[
    has("root", crate::root::setup, false),
    not_yet("metadata"),
    not_yet("geoip"),
    not_yet("cancel"),
    not_yet("proxyproto"),
    not_yet("quic"),
    not_yet("grpc_server"),
    not_yet("https"),
    not_yet("https3"),
    not_yet("timeouts"),
    not_yet("multisocket"),
    has("reload", crate::reload::setup, true),
    not_yet("nsid"),
    has("bufsize", crate::bufsize::setup, false),
    has("bind", crate::bind::setup, false),
    not_yet("debug"),
    not_yet("trace"),
    has("ready", crate::ready::setup, true),
    has("health", crate::health::setup, false),
    not_yet("pprof"),
    not_yet("shed"),
    has("prometheus", crate::prometheus::setup, true),
    has("errors", crate::errors::setup, true),
    has("log", crate::log::setup, false),
    not_yet("dnstap"),
    not_yet("local"),
    not_yet("dns64"),
    has("any", crate::any::setup, false),
    has("chaos", crate::chaos::setup, false),
    has("loadbalance", crate::loadbalance::setup, false),
    not_yet("tsig"),
    has("rewrite", crate::rewrite::setup, false),
    has("autopath", crate::autopath::setup, true),
    not_yet("acl"),
    has("cache", crate::cache::setup, true),
    not_yet("header"),
    not_yet("dnssec"),
    not_yet("tls"),
    has("minimal", crate::minimal::setup, false),
    has("template", crate::template::setup, false),
    has("transfer", crate::transfer::setup, false),
    has("hosts", crate::hosts::setup, true),
    not_yet("route53"),
    not_yet("azure"),
    not_yet("clouddns"),
    has("k8s_external", crate::k8s_external::setup, false),
    has("kubernetes", crate::kubernetes::setup, true),
    has("file", crate::file::setup, false),
    not_yet("auto"),
    not_yet("secondary"),
    not_yet("etcd"),
    has("loop", crate::r#loop::setup, true),
    has("forward", crate::forward::setup, false),
    not_yet("grpc"),
    not_yet("erratic"),
    has("whoami", crate::whoami::setup, false),
    not_yet("on"),
    not_yet("sign"),
    not_yet("view"),
];

/// The table in the form the server takes: (directive, implementation).
pub fn table() -> Vec<(&'static str, Option<PluginSpec>)> {
    PLUGINS.iter().map(|e| (e.name, e.spec)).collect()
}

/// Every directive name the Corefile parser accepts.
pub fn directive_names() -> Vec<&'static str> {
    PLUGINS.iter().map(|e| e.name).collect()
}

/// The spec of an implemented plugin (panics for unknown names; for tests and wiring).
pub fn spec(name: &str) -> &'static PluginSpec {
    PLUGINS
        .iter()
        .find(|e| e.name == name)
        .and_then(|e| e.spec.as_ref())
        .unwrap_or_else(|| panic!("plugin {name} is not implemented"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CoreDNS v1.14.7 plugin.cfg, in order.
    const COREDNS_ORDER: &str = "root metadata geoip cancel proxyproto quic grpc_server https \
        https3 timeouts multisocket reload nsid bufsize bind debug trace ready health pprof shed \
        prometheus errors log dnstap local dns64 any chaos loadbalance tsig rewrite autopath acl \
        cache header dnssec tls minimal template transfer hosts route53 azure clouddns \
        k8s_external kubernetes file auto secondary etcd loop forward grpc erratic whoami on sign \
        view";

    #[test]
    fn order_matches_coredns_plugin_cfg() {
        let ours: Vec<&str> = PLUGINS.iter().map(|e| e.name).collect();
        let theirs: Vec<&str> = COREDNS_ORDER.split_whitespace().collect();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn specs_carry_their_own_names() {
        for e in PLUGINS {
            if let Some(s) = &e.spec {
                assert_eq!(s.name, e.name);
            }
        }
    }
}
