//! The metric families `prometheus` owns, with CoreDNS's names, help texts, label names and
//! buckets. Families live in the process-wide registry, so a reload keeps counting into the
//! same series.

use std::sync::Arc;

use cairn_core::metrics::{
    registry, Counter, Family, Gauge, Histogram, SIZE_BUCKETS, TIME_BUCKETS,
};
use cairn_core::wire::Name;

/// The per-query families.
pub struct DnsFamilies {
    pub requests: Arc<Family<Counter>>,
    pub duration: Arc<Family<Histogram>>,
    pub request_size: Arc<Family<Histogram>>,
    pub do_requests: Arc<Family<Counter>>,
    pub response_size: Arc<Family<Histogram>>,
    pub responses: Arc<Family<Counter>>,
}

impl DnsFamilies {
    /// Registers (or finds) the families.
    pub fn get() -> DnsFamilies {
        let r = registry();
        DnsFamilies {
            requests: r.counter(
                "coredns_dns_requests_total",
                "Counter of DNS requests made per zone, protocol and family.",
                &["server", "zone", "view", "proto", "family", "type"],
            ),
            duration: r.histogram(
                "coredns_dns_request_duration_seconds",
                "Histogram of the time (in seconds) each request took per zone.",
                &["server", "zone", "view"],
                TIME_BUCKETS,
            ),
            request_size: r.histogram(
                "coredns_dns_request_size_bytes",
                "Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.",
                &["server", "zone", "view", "proto"],
                SIZE_BUCKETS,
            ),
            do_requests: r.counter(
                "coredns_dns_do_requests_total",
                "Counter of DNS requests with DO bit set per zone.",
                &["server", "zone", "view"],
            ),
            response_size: r.histogram(
                "coredns_dns_response_size_bytes",
                "Size of the returned response in bytes.",
                &["server", "zone", "view", "proto"],
                SIZE_BUCKETS,
            ),
            responses: r.counter(
                "coredns_dns_responses_total",
                "Counter of response status codes.",
                &["server", "zone", "view", "rcode", "plugin"],
            ),
        }
    }
}

/// `coredns_panics_total`, which the server increments when a plugin panics.
pub fn panics() -> Counter {
    registry()
        .counter(
            "coredns_panics_total",
            "A metrics that counts the number of panics.",
            &[],
        )
        .with(&[])
}

fn plugin_enabled_family() -> Arc<Family<Gauge>> {
    registry().gauge(
        "coredns_plugin_enabled",
        "A metric that indicates whether a plugin is enabled on per server and zone basis.",
        &["server", "zone", "view", "name"],
    )
}

/// Sets `coredns_plugin_enabled{server,zone,view="",name} 1` for every plugin name of a
/// chain, for each zone of its block. The server calls it after building each chain of a
/// block that uses `prometheus` (CoreDNS records only those), once per listener label.
pub fn record_enabled(server_label: &str, zones: &[Name], plugin_names: &[&str]) {
    let family = plugin_enabled_family();
    for zone in zones {
        let zone = zone.to_string();
        for name in plugin_names {
            family.with(&[server_label, &zone, "", name]).set(1.0);
        }
    }
}

/// Drops every `coredns_plugin_enabled` series; the server calls it when an instance is
/// replaced, before recording the new instance's chains.
pub fn reset_enabled() {
    plugin_enabled_family().reset();
}

/// The version label of `coredns_build_info`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The revision label: set `CAIRN_REVISION` when compiling to fill it in.
pub const REVISION: &str = match option_env!("CAIRN_REVISION") {
    Some(r) => r,
    None => "",
};
/// The `goversion` label: there is no Go; the compiler version is not known at run time.
pub const LANGUAGE: &str = "rust";

/// Sets `coredns_build_info` and creates the unlabelled series CoreDNS always exposes.
pub fn init_process_wide() {
    registry()
        .gauge(
            "coredns_build_info",
            "A metric with a constant '1' value labeled by version, revision, and goversion from which CoreDNS was built.",
            &["version", "revision", "goversion"],
        )
        .with(&[VERSION, REVISION, LANGUAGE])
        .set(1.0);
    let _ = panics();
    // CoreDNS registers the health series at start whether or not `health` is used.
    let _ = crate::health::probe::metrics();
    super::process::register();
}
