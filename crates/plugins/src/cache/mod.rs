//! `cache`: keeps replies from the rest of the chain and answers repeated questions from
//! memory, with CoreDNS's rules for what is kept, for how long, and how TTLs count down.
//!
//! Why it is built this way:
//! - Two bounded maps (success and denial) of 256 shards each ([`store`]), keyed by one
//!   canonical key ([`key`]); a hit takes one shard read lock, clones an `Arc`, and copies
//!   the entry's records into the request's pooled reply with the remaining TTL ([`entry`]),
//!   so it allocates nothing and never waits on a global lock.
//! - Replies are classified and timed exactly like CoreDNS ([`classify`]): operators tune
//!   `cache 30`, `denial`, `servfail` by CoreDNS's semantics, and clients see the same TTLs.
//! - Work that outlives a query (prefetch, stale refreshes, bounded verification) runs the
//!   rest of the chain in a detached task ([`prefetch`], [`stale`]); the cache keeps an owned
//!   copy of the rest of its chain for that, taken the first time it is needed.
//! - Names served by the block's `kubernetes` plugin are stamped with the index generation
//!   ([`cluster`]), so a watch event ends every cached cluster answer at once.

mod classify;
mod cluster;
mod entry;
mod key;
mod metrics;
mod prefetch;
mod setup;
mod stale;
mod store;
#[cfg(test)]
mod tests;

pub use setup::setup;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use cairn_core::wire::{Message, Rcode};
use cairn_core::zones::longest_match;
use cairn_core::{Chain, Next, Plugin, Request, Served};

use classify::Kind;
use cluster::ClusterView;
use entry::Entry;
use key::{Key, KeyRef};
use metrics::{CacheType, Metrics, Series, ServerSeries};
use setup::Config;
use store::Store;

/// The `cache` handler of one server block.
pub struct Cache {
    core: Arc<Core>,
    /// The rest of the chain, owned, for refreshes that outlive a query (first use).
    rest: OnceLock<Arc<Chain>>,
    /// The `kubernetes` plugin later in the chain, if any (first use).
    cluster: OnceLock<Option<Arc<ClusterView>>>,
}

/// What the handler and its background refreshes share.
pub(crate) struct Core {
    config: Config,
    success: Store<Entry>,
    denial: Store<Entry>,
    hasher: foldhash::fast::RandomState,
    metrics: Metrics,
    /// Origin of the cache clock (milliseconds since this instant).
    epoch: Instant,
    /// Added to the clock; tests move time forward with it.
    skew_ms: AtomicU64,
}

/// Sets or clears the AD bit of a request, in the parsed header and in the raw query (which
/// a forwarding plugin may send on). Refreshes ask with AD set, as CoreDNS does, so the
/// stored reply keeps the upstream's AD bit for clients that want it.
fn set_ad(req: &mut Request, on: bool) {
    req.info.flags.ad = on;
    if let Some(b) = req.raw.get_mut(3) {
        if on {
            *b |= 0x20;
        } else {
            *b &= !0x20;
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Cache {
    /// A cache with `config`.
    pub(crate) fn new(config: Config) -> Cache {
        let metrics = Metrics::new(&config.zones_label());
        Cache {
            core: Arc::new(Core {
                success: Store::new(config.success_capacity),
                denial: Store::new(config.denial_capacity),
                hasher: foldhash::fast::RandomState::default(),
                metrics,
                epoch: Instant::now(),
                skew_ms: AtomicU64::new(0),
                config,
            }),
            rest: OnceLock::new(),
            cluster: OnceLock::new(),
        }
    }

    /// The kubernetes plugin after this one in `next`, looked up once.
    fn cluster(&self, next: &Next<'_>) -> Option<&ClusterView> {
        self.cluster
            .get_or_init(|| ClusterView::find(next.plugins()).map(Arc::new))
            .as_deref()
    }

    /// The same, shared, for a detached task.
    fn cluster_shared(&self, next: &Next<'_>) -> Option<Arc<ClusterView>> {
        self.cluster(next);
        self.cluster.get().cloned().flatten()
    }

    /// An owned copy of the rest of the chain, made once.
    fn rest(&self, next: &Next<'_>) -> Arc<Chain> {
        Arc::clone(
            self.rest
                .get_or_init(|| Arc::new(Chain::new(next.plugins().to_vec()))),
        )
    }

    /// A miss: ask the rest of the chain, then keep what may be kept.
    fn fetch<'a>(
        &'a self,
        mut req: Box<Request>,
        next: Next<'a>,
        key: Key,
        generation: Option<u64>,
        series: Series<'a>,
    ) -> Served<'a> {
        let core = &*self.core;
        let client_ad = req.info.flags.ad;
        let dnssec_ok = req.dnssec_ok();
        set_ad(&mut req, true);
        next.run(req).map(move |req, result| {
            set_ad(req, client_ad);
            let mut msg = result?;
            core.on_reply(&mut msg, &key, generation, false, &series);
            if !dnssec_ok && !client_ad {
                msg.flags.ad = false;
            }
            Ok(msg)
        })
    }

    /// A hit: serve it (fresh or stale), starting a refresh when one is due.
    #[allow(clippy::too_many_arguments)]
    fn hit<'a>(
        &'a self,
        mut req: Box<Request>,
        next: Next<'a>,
        entry: Arc<Entry>,
        now: u64,
        hash: u64,
        generation: Option<u64>,
        series: Series<'a>,
    ) -> Served<'a> {
        let core = &*self.core;
        let c = &core.config;
        let stale = entry.ttl(now) <= 0;
        if stale {
            if c.verify_stale {
                let recheck = millis(c.stale_recheck);
                let track = recheck > 0;
                if !track || entry.begin_refresh(now, recheck) {
                    return if c.verify_timeout.is_zero() {
                        self.verify(req, next, entry, hash, generation, series, track)
                    } else {
                        self.verify_with_timeout(req, next, entry, hash, generation, series, track)
                    };
                }
            } else {
                self.try_refresh(&req, &next, &entry, hash, now, prefetch::Refresh::Stale);
            }
            series.served_stale();
        } else if c.prefetch > 0 && core.should_prefetch(&entry, now) {
            self.try_refresh(&req, &next, &entry, hash, now, prefetch::Refresh::Prefetch);
        }
        let m = core.reply_from(&mut req, &entry, now, stale);
        Served::reply(req, m)
    }
}

impl Core {
    /// The cache clock, in milliseconds.
    fn now_ms(&self) -> u64 {
        millis(self.epoch.elapsed()).saturating_add(self.skew_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock forward (tests).
    #[cfg(test)]
    fn advance(&self, d: Duration) {
        self.skew_ms.fetch_add(millis(d), Ordering::Relaxed);
    }

    /// Finds a usable entry for `key`: unexpired, or expired within the `serve_stale`
    /// window, and of the current cluster generation. Counts the request, and the hit or
    /// miss.
    fn lookup(
        &self,
        key: &KeyRef<'_>,
        hash: u64,
        now: u64,
        generation: Option<u64>,
        series: &ServerSeries,
    ) -> Option<Arc<Entry>> {
        series.request();
        let c = &self.config;
        let stale_on = !c.stale_up_to.is_zero();
        let stale_secs = i64::try_from(c.stale_up_to.as_secs()).unwrap_or(i64::MAX);
        let in_window = |e: &Entry| {
            let ttl = e.ttl(now);
            ttl > 0 || (stale_on && -ttl < stale_secs)
        };
        let usable = |e: &Arc<Entry>| e.matches(key) && e.generation == generation && in_window(e);

        if c.prefer_positive && stale_on {
            if let Some(p) = self
                .success
                .get(hash)
                .and_then(|p| p.answering_item(key, generation))
                .filter(|p| in_window(p))
            {
                series.hit(CacheType::Success);
                return Some(p);
            }
        }
        if let Some(n) = self.denial.get(hash).filter(usable) {
            // A SERVFAIL is transient: a good answer still held wins over it.
            if n.rcode == Rcode::SERVFAIL {
                if let Some(p) = self.success.get(hash).filter(usable) {
                    series.hit(CacheType::Success);
                    return Some(p);
                }
            }
            series.hit(CacheType::Denial);
            return Some(n);
        }
        if let Some(p) = self.success.get(hash).filter(usable) {
            series.hit(CacheType::Success);
            return Some(p);
        }
        series.miss();
        None
    }

    /// The entry under `hash` whatever its state (to carry prefetch counts over).
    fn exists(&self, hash: u64) -> Option<Arc<Entry>> {
        self.denial.get(hash).or_else(|| self.success.get(hash))
    }

    /// What CoreDNS's cache does with every reply that passes through it: classify it,
    /// rewrite every record's TTL to the cache duration (so the first client sees the TTL the
    /// next ones count down from), and store it when it may be stored. `refresh` marks a
    /// reply fetched to replace an entry. Returns the stored entry.
    fn on_reply(
        &self,
        msg: &mut Message,
        key: &Key,
        generation: Option<u64>,
        refresh: bool,
        series: &ServerSeries,
    ) -> Option<Arc<Entry>> {
        let c = &self.config;
        let q = key.as_ref();
        let question = classify::Question::of_reply(msg, q.question());
        let kind = classify::cache_kind(msg, &question, q.dnssec_ok, unix_now);
        let storable = classify::storable(msg, kind, &question);
        let (ttl, keep) = match kind {
            Kind::NameError | Kind::NoData => {
                let t = classify::minimal_ttl(msg, kind, c.denial_max)
                    .max(c.denial_min)
                    .min(c.denial_max);
                (t, t > 0)
            }
            Kind::ServerError => (
                u32::try_from(c.servfail.as_secs()).unwrap_or(u32::MAX),
                !c.servfail.is_zero(),
            ),
            _ => {
                let t = classify::minimal_ttl(msg, kind, c.success_max)
                    .max(c.success_min)
                    .min(c.success_max);
                (t, t > 0)
            }
        };
        for r in msg
            .answer
            .iter_mut()
            .chain(msg.authority.iter_mut())
            .chain(msg.additional.iter_mut())
        {
            r.ttl = ttl;
        }
        if !keep || !storable {
            return None;
        }
        // Checked after the rules above, as CoreDNS does: only a reply that would have been
        // kept counts as dropped.
        if !reply_matches(msg, &q) {
            series.drop_reply();
            return None;
        }
        let stored = self.store(msg, &q, key.hash, kind, ttl, generation, refresh, series);
        series.entries(CacheType::Success, self.success.len());
        series.entries(CacheType::Denial, self.denial.len());
        stored
    }

    #[allow(clippy::too_many_arguments)]
    fn store(
        &self,
        msg: &Message,
        q: &KeyRef<'_>,
        hash: u64,
        kind: Kind,
        ttl: u32,
        generation: Option<u64>,
        refresh: bool,
        series: &ServerSeries,
    ) -> Option<Arc<Entry>> {
        let c = &self.config;
        let now = self.now_ms();
        match kind {
            Kind::NoError | Kind::Delegation => {
                if longest_match(&c.disable_success, q.name).is_some() {
                    return None;
                }
                let mut e = Entry::new(msg, q, ttl, now, generation);
                if c.prefer_positive && !e.answering {
                    e.last_known_good = self
                        .success
                        .get(hash)
                        .and_then(|prev| prev.answering_item(q, generation));
                }
                let e = Arc::new(e);
                if self.success.insert(hash, Arc::clone(&e)) {
                    series.eviction(CacheType::Success);
                }
                // A refreshed positive answer is the newest state of the name.
                if (!c.prefer_positive && refresh) || (c.prefer_positive && e.answering) {
                    self.denial.remove(hash);
                }
                Some(e)
            }
            Kind::NameError | Kind::NoData | Kind::ServerError => {
                if longest_match(&c.disable_denial, q.name).is_some() {
                    return None;
                }
                let e = Arc::new(Entry::new(msg, q, ttl, now, generation));
                if self.denial.insert(hash, Arc::clone(&e)) {
                    series.eviction(CacheType::Denial);
                }
                Some(e)
            }
            _ => None,
        }
    }

    /// The reply to `req` from `entry`: the remaining TTL, 0 (or the `serve_stale` response
    /// TTL) when stale, the stored TTL with `keepttl`.
    fn reply_from(&self, req: &mut Request, entry: &Entry, now: u64, stale: bool) -> Message {
        let c = &self.config;
        let ttl = if stale && c.stale_ttl > 0 {
            c.stale_ttl
        } else if c.keepttl {
            entry.orig_ttl
        } else if stale {
            0
        } else {
            u32::try_from(entry.ttl(now).max(0)).unwrap_or(0)
        };
        let ad_wanted = req.dnssec_ok() || req.info.flags.ad;
        let mut m = req.reply();
        entry.write_reply(&mut m, ttl, &req.info.qname, ad_wanted);
        m
    }
}

/// The reply is for the question asked (a reply built for this request carries no question
/// of its own; one parsed from an upstream must match).
fn reply_matches(msg: &Message, q: &KeyRef<'_>) -> bool {
    msg.flags.qr
        && msg.question.as_ref().is_none_or(|asked| {
            asked.qtype == q.qtype && asked.name.wire().eq_ignore_ascii_case(q.name)
        })
}

impl Plugin for Cache {
    fn name(&self) -> &'static str {
        "cache"
    }

    fn serve<'a>(&'a self, req: Box<Request>, next: Next<'a>) -> Served<'a> {
        let qtype = req.qtype();
        // Zone transfers are streamed, never cached.
        if qtype == cairn_core::wire::RType::AXFR || qtype == cairn_core::wire::RType::IXFR {
            return next.run(req);
        }
        let core = &*self.core;
        if longest_match(&core.config.zones, req.qname_lower.wire()).is_none() {
            return next.run(req);
        }
        let now = core.now_ms();
        let series = core.metrics.server(&req.server.label);
        let key = KeyRef::of(&req);
        let hash = key.hash(&core.hasher);
        // Read before the answer is computed: a change after this makes the entry stale.
        let generation = self.cluster(&next).and_then(|c| c.generation_for(key.name));
        match core.lookup(&key, hash, now, generation, &series) {
            Some(entry) => self.hit(req, next, entry, now, hash, generation, series),
            None => {
                let key = KeyRef::of(&req).to_owned(hash);
                self.fetch(req, next, key, generation, series)
            }
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
