//! The `reload` metrics, with CoreDNS's names, help texts and labels. Both are process-wide
//! and survive reloads (the registry keeps families by name), so the failure count never
//! drops back to zero when a new configuration is swapped in.

use std::sync::Arc;

use cairn_core::metrics::{registry, Counter, Family, Gauge};

/// The label value of `hash`: the only hash used.
pub const HASH: &str = "sha512";

/// The metric handles, resolved at setup.
#[derive(Clone)]
pub struct Metrics {
    /// `coredns_reload_failed_total`.
    pub failed: Counter,
    /// `coredns_reload_version_info{hash, value}`: one series, the running configuration.
    version: Arc<Family<Gauge>>,
}

impl Metrics {
    /// Registers (or finds) both families; the failure counter exists from the start at 0.
    pub fn new() -> Self {
        let failed = registry()
            .counter(
                "coredns_reload_failed_total",
                "Counter of the number of failed reload attempts.",
                &[],
            )
            .with(&[]);
        let version = registry().gauge(
            "coredns_reload_version_info",
            "A metric with a constant '1' value labeled by hash, and value which type of hash generated.",
            &["hash", "value"],
        );
        Metrics { failed, version }
    }

    /// Handles whose failure counter is private (tests running in parallel count apart).
    #[cfg(test)]
    pub fn detached() -> Self {
        Metrics {
            failed: Counter::default(),
            ..Metrics::new()
        }
    }

    /// Makes `sha512` the one series of `coredns_reload_version_info`.
    pub fn set_version(&self, sha512: &str) {
        self.version.only(&[HASH, sha512]).set(1.0);
    }
}
