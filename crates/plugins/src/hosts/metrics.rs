//! The `hosts` metrics, with CoreDNS's names, help texts and labels (the code's labels: the
//! entries gauge has `hostsfile`, although CoreDNS's README lists none).

use cairn_core::metrics::{registry, Gauge};

/// The metric handles of one hosts file.
pub(crate) struct Metrics {
    pub entries: Gauge,
    pub reload_timestamp: Gauge,
}

impl Metrics {
    /// Resolves the series for `label` (the path as CoreDNS shows it).
    pub fn new(label: &str) -> Self {
        Metrics {
            entries: registry()
                .gauge(
                    "coredns_hosts_entries",
                    "The combined number of entries in hosts and Corefile.",
                    &["hostsfile"],
                )
                .with(&[label]),
            reload_timestamp: registry()
                .gauge(
                    "coredns_hosts_reload_timestamp_seconds",
                    "The timestamp of the last reload of hosts file.",
                    &[],
                )
                .with(&[]),
        }
    }
}
