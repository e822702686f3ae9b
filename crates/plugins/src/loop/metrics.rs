//! What the plugin reports to Prometheus. CoreDNS's `loop` has no metrics (it exits), so both
//! names carry Cairn's prefix.
//!
//! - `cairn_loop_detections_total{server, zone}` counts detections and survives reloads, for
//!   "has this ever happened" and rates.
//! - `cairn_loop_detected{server, zone}` is the condition to alert on: raised when a
//!   configuration detects a loop and lowered when that configuration is replaced, so it is 1
//!   while the running configuration loops (briefly 2 during a reload from a looping
//!   configuration to one that loops again).
//!
//! The families are registered at setup, so they are listed even before anything happened; a
//! series appears on the first detection (a rare event, so resolving it then costs nothing).

use std::sync::Arc;

use cairn_core::metrics::{registry, Counter, Family, Gauge};

/// The families of the plugin.
pub(crate) struct Metrics {
    detections: Arc<Family<Counter>>,
    detected: Arc<Family<Gauge>>,
}

impl Metrics {
    pub fn new() -> Self {
        Metrics {
            detections: registry().counter(
                "cairn_loop_detections_total",
                "Counter of forwarding loops detected by the loop plugin's probe query.",
                &["server", "zone"],
            ),
            detected: registry().gauge(
                "cairn_loop_detected",
                "Number of running configurations whose loop plugin detected a forwarding loop for the zone.",
                &["server", "zone"],
            ),
        }
    }

    /// Counts a detection on listener `server` for `zone` and raises the condition; returns the
    /// condition's gauge, to be lowered when the configuration goes away.
    pub fn detected(&self, server: &str, zone: &str) -> Gauge {
        self.detections.with(&[server, zone]).inc();
        let g = self.detected.with(&[server, zone]);
        g.add(1.0);
        g
    }
}
