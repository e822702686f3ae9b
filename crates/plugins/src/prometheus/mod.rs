//! `prometheus`: exports metrics on `/metrics` and counts every query of its server block.
//!
//! As a query handler it is the outermost plugin of the chain: it notes the zone, size and
//! type of the query, lets the rest of the chain run, and records the reply with CoreDNS's
//! exact families and labels (`coredns_dns_requests_total`, `..._responses_total`, ...), so
//! existing dashboards and alerts keep working. Series handles are resolved once per label
//! combination (see `series`), which keeps recording free of allocation and locks.
//!
//! It also owns the process-wide families: `coredns_build_info`, `coredns_panics_total`,
//! `coredns_plugin_enabled` and the `process_*` set (`process`).

pub mod families;
pub mod process;
pub mod series;
mod setup;
#[cfg(test)]
mod tests;

pub use families::{panics, record_enabled, reset_enabled};
pub use setup::setup;

use std::sync::OnceLock;
use std::time::Instant;

use cairn_core::metrics::{registry, Counter};
use cairn_core::setup::{HttpHandler, HttpResponse};
use cairn_core::wire::{Name, Rcode};
use cairn_core::zones::longest_match;
use cairn_core::{Next, Plugin, Request, ServeResult, Served};

use cairn_core::dns_labels::{
    family_index, family_name, proto_index, proto_name, rcode_slot, type_index, type_name,
};
use families::DnsFamilies;
use series::{with_slot, SeriesTable, ZoneSeries};

/// The path, fixed as in CoreDNS.
pub const PATH: &str = "/metrics";
/// The address used when none is given.
pub const DEFAULT_ADDR: &str = "localhost:9153";
/// Content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves `/metrics`: the whole registry in the text format.
pub struct MetricsPage;

impl HttpHandler for MetricsPage {
    fn get(&self) -> HttpResponse {
        HttpResponse {
            status: 200,
            content_type: CONTENT_TYPE,
            body: registry().encode(),
        }
    }
}

/// The query handler of one server block.
pub struct Prometheus {
    /// The block's zones (lower case), matched against the query name for the `zone` label.
    zones: Vec<Name>,
    /// `zone` label values: one per zone, then `.` for names under none of them.
    zone_labels: Vec<String>,
    families: DnsFamilies,
    table: SeriesTable,
    /// The `plugin` label of replies (the first plugin after this one), learnt on the first
    /// reply; the pre-resolved series assume it never changes.
    written_by: OnceLock<&'static str>,
}

/// What is known about a query before the rest of the chain runs.
#[derive(Clone, Copy)]
struct Query {
    start: Instant,
    zone: usize,
    proto: usize,
    family: usize,
    qtype: usize,
    dnssec_ok: bool,
    size: usize,
    /// The plugin `next` starts with.
    first: Option<&'static str>,
}

impl Prometheus {
    /// A handler labelling queries with `zones` (normally the block's keys).
    pub fn new(zones: Vec<Name>) -> Prometheus {
        let mut zone_labels: Vec<String> = zones.iter().map(|z| z.to_string()).collect();
        zone_labels.push(".".to_string());
        Prometheus {
            table: SeriesTable::new(zone_labels.len()),
            zones,
            zone_labels,
            families: DnsFamilies::get(),
            written_by: OnceLock::new(),
        }
    }

    /// Index of the `zone` label for a lower-case wire name: the longest matching zone, or
    /// the trailing `.` entry.
    fn zone_index(&self, qname: &[u8]) -> usize {
        longest_match(&self.zones, qname)
            .and_then(|z| self.zones.iter().position(|x| std::ptr::eq(x, z)))
            .unwrap_or(self.zones.len())
    }

    fn record(&self, req: &mut Request, result: &ServeResult, q: Query) {
        let seconds = q.start.elapsed().as_secs_f64();
        // Like CoreDNS's recorder: a result without a reply (an error the server turns into
        // SERVFAIL, or a dropped query) has no writer and size 0. A reply's size is observed
        // by the server when it encodes it (the bytes sent, encoded once).
        let (rcode, plugin, written) = match result {
            Ok(m) if m.rcode == Rcode::DROP => (Rcode::NOERROR, None, false),
            Ok(m) => (m.rcode, Some(q.first.unwrap_or("")), true),
            Err(e) => (e.rcode(), None, false),
        };
        let f = &self.families;
        let server = req.server.label.as_str();
        let zone = self.zone_labels[q.zone].as_str();
        let (proto, family) = (proto_name(q.proto), family_name(q.family));
        let zs: Option<&ZoneSeries> = self.table.server(server).map(|s| &s.zones[q.zone]);

        let i = ZoneSeries::request_index(q.proto, q.family, q.qtype);
        with_slot(
            zs.map(|z| &z.requests[i]),
            || {
                f.requests
                    .with(&[server, zone, "", proto, family, type_name(q.qtype)])
            },
            Counter::inc,
        );
        if q.dnssec_ok {
            with_slot(
                zs.map(|z| &z.do_requests),
                || f.do_requests.with(&[server, zone, ""]),
                Counter::inc,
            );
        }
        with_slot(
            zs.map(|z| &z.duration),
            || f.duration.with(&[server, zone, ""]),
            |h| h.observe(seconds),
        );
        with_slot(
            zs.map(|z| &z.request_size[q.proto]),
            || f.request_size.with(&[server, zone, "", proto]),
            |h| h.observe(q.size as f64),
        );
        with_slot(
            zs.map(|z| &z.response_size[q.proto]),
            || f.response_size.with(&[server, zone, "", proto]),
            |h| {
                if written {
                    req.reply_size_observer = Some(h.clone());
                } else {
                    h.observe(0.0);
                }
            },
        );
        let slot = match (zs, rcode_slot(rcode), plugin) {
            (Some(z), Some(r), None) => Some(&z.responses_unwritten[r]),
            (Some(z), Some(r), Some(p)) if *self.written_by.get_or_init(|| p) == p => {
                Some(&z.responses_written[r])
            }
            _ => None,
        };
        with_slot(
            slot,
            || {
                f.responses
                    .with(&[server, zone, "", &rcode.to_string(), plugin.unwrap_or("")])
            },
            Counter::inc,
        );
    }
}

impl Plugin for Prometheus {
    fn name(&self) -> &'static str {
        "prometheus"
    }

    fn serve<'a>(&'a self, req: Box<Request>, next: Next<'a>) -> Served<'a> {
        let q = Query {
            start: Instant::now(),
            zone: self.zone_index(req.qname_lower.wire()),
            proto: proto_index(req.proto),
            family: family_index(&req.client),
            qtype: type_index(req.qtype()),
            dnssec_ok: req.dnssec_ok(),
            size: req.raw.len(),
            first: next.first_name(),
        };
        next.run(req).map(move |req, result| {
            self.record(req, &result, q);
            result
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
