//! `coredns_kubernetes_dns_programming_duration_seconds`: how long an endpoint change took
//! from the EndpointSlice controller's trigger time to being answerable here.
//!
//! The index measures each sample when it publishes the change; the plugin only owns the
//! family (CoreDNS's name, buckets and `service_kind` label) and feeds it from the writer's
//! observer, which runs on the source task, never on the query path.

use std::sync::Arc;

use cairn_core::metrics::{registry, Family, Histogram};
use cairn_k8s::{ProgrammingSample, Writer};

/// Metric name, as CoreDNS exports it.
pub(crate) const PROGRAMMING_DURATION: &str = "coredns_kubernetes_dns_programming_duration_seconds";

/// CoreDNS's buckets: 0.001 s doubling 20 times (0.001 ... 524.288).
pub(crate) const PROGRAMMING_BUCKETS: &[f64] = &[
    0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
    8.192, 16.384, 32.768, 65.536, 131.072, 262.144, 524.288,
];

/// The histogram family (shared across reloads by name).
pub(crate) fn programming_duration() -> Arc<Family<Histogram>> {
    registry().histogram(
        PROGRAMMING_DURATION,
        "Histogram of the time (in seconds) it took to program a dns instance.",
        &["service_kind"],
        PROGRAMMING_BUCKETS,
    )
}

/// Makes `writer` observe every programming-latency sample into the histogram. A series is
/// created the first time its `service_kind` is seen, as a Prometheus vector does.
pub(crate) fn observe_programming(writer: &mut Writer) {
    let family = programming_duration();
    writer.on_programmed(move |sample: ProgrammingSample| {
        family
            .with(&[sample.service_kind.as_str()])
            .observe(sample.duration.as_secs_f64());
    });
}
