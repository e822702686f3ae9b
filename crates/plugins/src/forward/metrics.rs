//! The `forward` metrics under CoreDNS's names, help texts and labels (the code's labels: the
//! health-check failure counter has no `rcode`, although CoreDNS's README lists one).
//!
//! CoreDNS times only the exchanges that got a reply, so an upstream that times out looks
//! idle rather than sick (coredns/coredns#4771). Cairn adds
//! `cairn_proxy_request_failures_total{proxy_name, to, reason}`, one count per failed
//! exchange by cause, so failing upstreams show on a dashboard.
//!
//! The two unlabelled counters exist from setup on, as in CoreDNS where they are registered
//! when the binary starts. The per-upstream series appear the first time they are used (a
//! series CoreDNS never touched is absent there too): each is a [`Lazy`] slot resolved once,
//! after which counting is one atomic operation, with no lock and no label formatting.

use std::sync::{Arc, OnceLock};

use cairn_core::metrics::{registry, Counter, Family, Histogram, Metric, TIME_BUCKETS};
use cairn_core::wire::Rcode;

/// `proxy_name` of every `coredns_proxy_*` series this plugin writes.
const PROXY_NAME: &str = "forward";

/// Counters of one `forward` instance that carry no label.
pub(crate) struct ForwardMetrics {
    /// `coredns_forward_healthcheck_broken_total`: every upstream was down.
    pub broken: Counter,
    /// `coredns_forward_max_concurrent_rejects_total`.
    pub rejects: Counter,
}

impl ForwardMetrics {
    pub fn new() -> ForwardMetrics {
        ForwardMetrics {
            broken: registry()
                .counter(
                    "coredns_forward_healthcheck_broken_total",
                    "Counter of the number of complete failures of the healthchecks.",
                    &[],
                )
                .with(&[]),
            rejects: registry()
                .counter(
                    "coredns_forward_max_concurrent_rejects_total",
                    "Counter of the number of queries rejected because the concurrent queries were at maximum.",
                    &[],
                )
                .with(&[]),
        }
    }
}

/// One series, looked up in its family the first time it is used.
pub(crate) struct Lazy<M: Metric> {
    family: Arc<Family<M>>,
    labels: Vec<String>,
    cell: OnceLock<M>,
}

impl<M: Metric> Lazy<M> {
    fn new(family: Arc<Family<M>>, labels: &[&str]) -> Lazy<M> {
        Lazy {
            family,
            labels: labels.iter().map(|s| (*s).to_string()).collect(),
            cell: OnceLock::new(),
        }
    }

    /// The series handle (created in the family on first use).
    pub fn get(&self) -> &M {
        self.cell.get_or_init(|| {
            let values: Vec<&str> = self.labels.iter().map(String::as_str).collect();
            self.family.with(&values)
        })
    }
}

/// Codes below this have a slot of their own in [`UpstreamMetrics::durations`] (miekg/dns
/// names them all up to BADCOOKIE, 23).
const NAMED_RCODES: u16 = 24;

/// The `rcode` label CoreDNS writes for `rcode`: miekg/dns's name, else the number.
pub(crate) fn rcode_label(rcode: Rcode) -> String {
    rcode
        .miekg_name()
        .map_or_else(|| rcode.0.to_string(), str::to_string)
}

/// Transports as the `proto` label of the connection cache counters names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnProto {
    Udp,
    Tcp,
    TcpTls,
}

impl ConnProto {
    pub fn label(self) -> &'static str {
        match self {
            ConnProto::Udp => "udp",
            ConnProto::Tcp => "tcp",
            ConnProto::TcpTls => "tcp-tls",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Why an exchange failed, as the `reason` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailureReason {
    /// No reply (or no connection) in time.
    Timeout,
    /// The upstream refused the connection (or ICMP port unreachable over UDP).
    Refused,
    /// The upstream closed or reset the connection.
    Closed,
    /// The TLS handshake failed (certificate, name, protocol).
    Tls,
    /// The reply could not be read as DNS.
    Malformed,
    Other,
}

impl FailureReason {
    const ALL: [FailureReason; 6] = [
        FailureReason::Timeout,
        FailureReason::Refused,
        FailureReason::Closed,
        FailureReason::Tls,
        FailureReason::Malformed,
        FailureReason::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            FailureReason::Timeout => "timeout",
            FailureReason::Refused => "refused",
            FailureReason::Closed => "closed",
            FailureReason::Tls => "tls",
            FailureReason::Malformed => "malformed",
            FailureReason::Other => "other",
        }
    }
}

/// The `coredns_proxy_*` series of one upstream (`to` = its `ip:port`), and Cairn's failure
/// counts.
pub(crate) struct UpstreamMetrics {
    hits: [Lazy<Counter>; 3],
    misses: [Lazy<Counter>; 3],
    failures: [Lazy<Counter>; 6],
    pub healthcheck_failures: Lazy<Counter>,
    /// Request durations for the named rcodes, by code.
    durations: Vec<Lazy<Histogram>>,
    /// Codes outside the table (rare): looked up per observation.
    duration_family: Arc<Family<Histogram>>,
    to: String,
}

impl UpstreamMetrics {
    pub fn new(to: &str) -> UpstreamMetrics {
        let hits = registry().counter(
            "coredns_proxy_conn_cache_hits_total",
            "Counter of connection cache hits per upstream and protocol.",
            &["proxy_name", "to", "proto"],
        );
        let misses = registry().counter(
            "coredns_proxy_conn_cache_misses_total",
            "Counter of connection cache misses per upstream and protocol.",
            &["proxy_name", "to", "proto"],
        );
        let failures = registry().counter(
            "coredns_proxy_healthcheck_failures_total",
            "Counter of the number of failed healthchecks.",
            &["proxy_name", "to"],
        );
        let durations = registry().histogram(
            "coredns_proxy_request_duration_seconds",
            "Histogram of the time each request took.",
            &["proxy_name", "to", "rcode"],
            TIME_BUCKETS,
        );
        let failures_by_reason = registry().counter(
            "cairn_proxy_request_failures_total",
            "Counter of upstream exchanges that got no usable reply, per upstream and reason.",
            &["proxy_name", "to", "reason"],
        );
        let per_proto = |family: &Arc<Family<Counter>>| {
            [ConnProto::Udp, ConnProto::Tcp, ConnProto::TcpTls]
                .map(|p| Lazy::new(family.clone(), &[PROXY_NAME, to, p.label()]))
        };
        UpstreamMetrics {
            hits: per_proto(&hits),
            misses: per_proto(&misses),
            failures: FailureReason::ALL
                .map(|r| Lazy::new(failures_by_reason.clone(), &[PROXY_NAME, to, r.label()])),
            healthcheck_failures: Lazy::new(failures, &[PROXY_NAME, to]),
            durations: (0..NAMED_RCODES)
                .map(|code| {
                    Lazy::new(
                        durations.clone(),
                        &[PROXY_NAME, to, &rcode_label(Rcode(code))],
                    )
                })
                .collect(),
            duration_family: durations,
            to: to.to_string(),
        }
    }

    /// Counts a connection taken from the cache (`hit`) or dialled.
    pub fn conn_cache(&self, proto: ConnProto, hit: bool) {
        let slots = if hit { &self.hits } else { &self.misses };
        slots[proto.index()].get().inc();
    }

    /// Counts a failed exchange.
    pub fn failure(&self, reason: FailureReason) {
        self.failures[reason as usize].get().inc();
    }

    /// Records a finished exchange that got a reply with `rcode`.
    pub fn request_duration(&self, rcode: Rcode, seconds: f64) {
        match self.durations.get(usize::from(rcode.0)) {
            Some(h) => h.get().observe(seconds),
            None => self
                .duration_family
                .with(&[PROXY_NAME, &self.to, &rcode_label(rcode)])
                .observe(seconds),
        }
    }
}
