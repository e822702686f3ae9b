//! Series handles resolved once and kept in arrays, so that recording a reply is a few
//! array indexes and atomic adds: no label formatting, hashing or locking per query.
//!
//! A slot is filled the first time its label combination occurs, never before, so the
//! exposition shows only series that happened (as CoreDNS does). The `server` label depends
//! on the listener a query came in on, so each plugin keeps one table per listener label, in
//! a fixed number of slots claimed on first use.

use std::sync::OnceLock;

use cairn_core::metrics::{Counter, Histogram};

use cairn_core::dns_labels::{RCODE_SLOTS, TYPE_COUNT};

/// Number of listener labels with their own table; queries from more listeners than this
/// are recorded through the slower label lookup.
pub const SERVER_SLOTS: usize = 16;

/// Handles for one zone label on one listener.
pub struct ZoneSeries {
    /// `coredns_dns_requests_total`, by `[proto][family][type]`.
    pub requests: Box<[OnceLock<Counter>]>,
    pub duration: OnceLock<Histogram>,
    /// By proto.
    pub request_size: [OnceLock<Histogram>; 2],
    /// By proto.
    pub response_size: [OnceLock<Histogram>; 2],
    pub do_requests: OnceLock<Counter>,
    /// `coredns_dns_responses_total` for replies the chain produced (plugin label = the
    /// first plugin after `prometheus`), by rcode.
    pub responses_written: Box<[OnceLock<Counter>]>,
    /// The same for results without a reply (plugin label empty), by rcode.
    pub responses_unwritten: Box<[OnceLock<Counter>]>,
}

impl ZoneSeries {
    fn new() -> ZoneSeries {
        ZoneSeries {
            requests: (0..2 * 2 * TYPE_COUNT).map(|_| OnceLock::new()).collect(),
            duration: OnceLock::new(),
            request_size: [OnceLock::new(), OnceLock::new()],
            response_size: [OnceLock::new(), OnceLock::new()],
            do_requests: OnceLock::new(),
            responses_written: (0..RCODE_SLOTS).map(|_| OnceLock::new()).collect(),
            responses_unwritten: (0..RCODE_SLOTS).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Index into [`ZoneSeries::requests`].
    pub fn request_index(proto: usize, family: usize, qtype: usize) -> usize {
        (proto * 2 + family) * TYPE_COUNT + qtype
    }
}

/// Handles for one listener label, one [`ZoneSeries`] per zone label.
pub struct ServerSeries {
    pub label: String,
    pub zones: Box<[ZoneSeries]>,
}

/// The tables of one `prometheus` handler.
pub struct SeriesTable {
    servers: Box<[OnceLock<ServerSeries>]>,
    zone_count: usize,
}

impl SeriesTable {
    /// Tables for `zone_count` zone labels.
    pub fn new(zone_count: usize) -> SeriesTable {
        SeriesTable {
            servers: (0..SERVER_SLOTS).map(|_| OnceLock::new()).collect(),
            zone_count,
        }
    }

    /// The table for a listener label: found, or claimed in the first free slot (the only
    /// allocation, once per listener). `None` when every slot holds another listener.
    pub fn server(&self, label: &str) -> Option<&ServerSeries> {
        for slot in self.servers.iter() {
            let s = slot.get_or_init(|| ServerSeries {
                label: label.to_string(),
                zones: (0..self.zone_count).map(|_| ZoneSeries::new()).collect(),
            });
            if s.label == label {
                return Some(s);
            }
        }
        None
    }
}

/// Applies `f` to the handle in `slot`, creating it with `make` the first time; without a
/// slot, makes a handle for this one use (the slow path).
#[inline]
pub fn with_slot<M>(slot: Option<&OnceLock<M>>, make: impl FnOnce() -> M, f: impl FnOnce(&M)) {
    match slot {
        Some(s) => f(s.get_or_init(make)),
        None => f(&make()),
    }
}
