//! The `coredns_cache_*` metrics, with CoreDNS's names, help texts and labels.
//!
//! Every series carries the `server` label of the listener the query came in on, which is
//! only known per query. Like `prometheus`, the cache keeps a few slots, one per listener
//! label, claimed on first use; inside a slot each series is resolved the first time it is
//! used, so the exposition shows the series that happened (as CoreDNS's vectors do) and the
//! query path is an atomic add.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use cairn_core::metrics::{registry, Counter, Family, Gauge};

/// Listener labels with their own slot; more listeners go through the label lookup.
const SERVER_SLOTS: usize = 8;

/// `type` label values, indexed by [`CacheType`].
const TYPES: [&str; 2] = ["success", "denial"];

/// Which of the two caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheType {
    Success = 0,
    Denial = 1,
}

struct Families {
    entries: Arc<Family<Gauge>>,
    requests: Arc<Family<Counter>>,
    hits: Arc<Family<Counter>>,
    misses: Arc<Family<Counter>>,
    prefetch: Arc<Family<Counter>>,
    drops: Arc<Family<Counter>>,
    served_stale: Arc<Family<Counter>>,
    evictions: Arc<Family<Counter>>,
}

fn families() -> Families {
    let r = registry();
    Families {
        entries: r.gauge(
            "coredns_cache_entries",
            "The number of elements in the cache.",
            &["server", "type", "zones", "view"],
        ),
        requests: r.counter(
            "coredns_cache_requests_total",
            "The count of cache requests.",
            &["server", "zones", "view"],
        ),
        hits: r.counter(
            "coredns_cache_hits_total",
            "The count of cache hits.",
            &["server", "type", "zones", "view"],
        ),
        misses: r.counter(
            "coredns_cache_misses_total",
            "The count of cache misses. Deprecated, derive misses from cache hits/requests counters.",
            &["server", "zones", "view"],
        ),
        prefetch: r.counter(
            "coredns_cache_prefetch_total",
            "The number of times the cache has prefetched a cached item.",
            &["server", "zones", "view"],
        ),
        drops: r.counter(
            "coredns_cache_drops_total",
            "The number responses that are not cached, because the reply is malformed.",
            &["server", "zones", "view"],
        ),
        served_stale: r.counter(
            "coredns_cache_served_stale_total",
            "The number of requests served from stale cache entries.",
            &["server", "zones", "view"],
        ),
        evictions: r.counter(
            "coredns_cache_evictions_total",
            "The count of cache evictions.",
            &["server", "type", "zones", "view"],
        ),
    }
}

/// The series of one listener label, each resolved on first use.
pub(crate) struct ServerSeries {
    families: Arc<Families>,
    label: String,
    zones: Arc<str>,
    entries: [OnceLock<Gauge>; 2],
    requests: OnceLock<Counter>,
    hits: [OnceLock<Counter>; 2],
    misses: OnceLock<Counter>,
    prefetch: OnceLock<Counter>,
    drops: OnceLock<Counter>,
    served_stale: OnceLock<Counter>,
    evictions: [OnceLock<Counter>; 2],
}

/// The `view` label: Cairn has no views yet.
const VIEW: &str = "";

impl ServerSeries {
    fn new(families: Arc<Families>, label: &str, zones: Arc<str>) -> ServerSeries {
        ServerSeries {
            families,
            label: label.to_string(),
            zones,
            entries: Default::default(),
            requests: OnceLock::new(),
            hits: Default::default(),
            misses: OnceLock::new(),
            prefetch: OnceLock::new(),
            drops: OnceLock::new(),
            served_stale: OnceLock::new(),
            evictions: Default::default(),
        }
    }

    fn plain<'s>(
        &'s self,
        slot: &'s OnceLock<Counter>,
        family: fn(&Families) -> &Arc<Family<Counter>>,
    ) -> &'s Counter {
        slot.get_or_init(|| family(&self.families).with(&[&self.label, &self.zones, VIEW]))
    }

    fn typed<'s>(
        &'s self,
        slots: &'s [OnceLock<Counter>; 2],
        t: CacheType,
        family: fn(&Families) -> &Arc<Family<Counter>>,
    ) -> &'s Counter {
        slots[t as usize].get_or_init(|| {
            family(&self.families).with(&[&self.label, TYPES[t as usize], &self.zones, VIEW])
        })
    }

    pub(crate) fn request(&self) {
        self.plain(&self.requests, |f| &f.requests).inc();
    }

    pub(crate) fn miss(&self) {
        self.plain(&self.misses, |f| &f.misses).inc();
    }

    pub(crate) fn hit(&self, t: CacheType) {
        self.typed(&self.hits, t, |f| &f.hits).inc();
    }

    pub(crate) fn prefetch(&self) {
        self.plain(&self.prefetch, |f| &f.prefetch).inc();
    }

    pub(crate) fn drop_reply(&self) {
        self.plain(&self.drops, |f| &f.drops).inc();
    }

    pub(crate) fn served_stale(&self) {
        self.plain(&self.served_stale, |f| &f.served_stale).inc();
    }

    pub(crate) fn eviction(&self, t: CacheType) {
        self.typed(&self.evictions, t, |f| &f.evictions).inc();
    }

    pub(crate) fn entries(&self, t: CacheType, n: usize) {
        self.entries[t as usize]
            .get_or_init(|| {
                self.families
                    .entries
                    .with(&[&self.label, TYPES[t as usize], &self.zones, VIEW])
            })
            .set(n as f64);
    }
}

/// The series of one cache, per listener.
pub(crate) struct Metrics {
    /// Looked up in the registry once (which also lists them before the first query).
    families: Arc<Families>,
    zones: Arc<str>,
    slots: Box<[OnceLock<ServerSeries>]>,
}

/// A listener's series: a slot, or (past [`SERVER_SLOTS`] listeners) a temporary one.
pub(crate) enum Series<'m> {
    Slot(&'m ServerSeries),
    Temporary(Box<ServerSeries>),
}

impl Deref for Series<'_> {
    type Target = ServerSeries;
    fn deref(&self) -> &ServerSeries {
        match self {
            Series::Slot(s) => s,
            Series::Temporary(s) => s,
        }
    }
}

impl Metrics {
    /// Metrics labelled with `zones` (the cache's zones joined by commas).
    pub(crate) fn new(zones: &str) -> Metrics {
        Metrics {
            families: Arc::new(families()),
            zones: Arc::from(zones),
            slots: (0..SERVER_SLOTS).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The series for listener label `server`.
    pub(crate) fn server(&self, server: &str) -> Series<'_> {
        for slot in self.slots.iter() {
            let s = slot.get_or_init(|| {
                ServerSeries::new(self.families.clone(), server, self.zones.clone())
            });
            if s.label == server {
                return Series::Slot(s);
            }
        }
        Series::Temporary(Box::new(ServerSeries::new(
            self.families.clone(),
            server,
            self.zones.clone(),
        )))
    }
}
