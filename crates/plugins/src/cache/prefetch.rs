//! Refreshing entries in the background: prefetch of popular entries before they expire, and
//! the refresh that follows serving a stale entry (`serve_stale ... immediate`).
//!
//! The client is answered from the cache at once; the refresh asks the rest of the chain
//! again in a detached task, with a copy of the query, through the cache's owned copy of the
//! rest of its chain. At most one refresh per entry runs at a time, so refresh traffic grows
//! with the number of distinct popular names, not with the query rate. A refreshed entry
//! inherits the hit count of the one it replaces, so a popular name keeps being prefetched.

use std::sync::Arc;

use cairn_core::{Chain, Next, Proto, Request};

use super::cluster::ClusterView;
use super::entry::Entry;
use super::key::{Key, KeyRef};
use super::stale::Verdict;
use super::{millis, set_ad, Cache, Core};

/// Why an entry is refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refresh {
    /// Popular and close to expiry: any reply replaces it.
    Prefetch,
    /// Served stale: only a reply that really refreshes it (NOERROR or NXDOMAIN) does.
    Stale,
}

/// A copy of `req` that can travel to another task: same question, flags and client, asked
/// over TCP (a refresh has no client size limit) with AD set.
pub(crate) fn detached_request(req: &Request) -> Box<Request> {
    let mut r = Request::empty(Arc::clone(&req.server));
    r.info = req.info.clone();
    r.qname_lower = req.qname_lower.clone();
    r.raw.clear();
    r.raw.extend_from_slice(&req.raw);
    r.client = req.client;
    r.local = req.local;
    r.proto = Proto::Tcp;
    r.zone = req.zone.clone();
    r.depth = req.depth;
    set_ad(&mut r, true);
    Box::new(r)
}

impl Core {
    /// Counts the hit and tells whether the entry is due for a prefetch: asked `prefetch`
    /// times in a row without a long gap, and less than the percentage of its TTL left.
    pub(crate) fn should_prefetch(&self, entry: &Entry, now: u64) -> bool {
        let c = &self.config;
        let hits = entry.count_hit(now, millis(c.prefetch_window));
        // Computed in floating point like CoreDNS (10% of 30 s rounds up to 4 s there too).
        let threshold =
            (f64::from(c.prefetch_percentage) / 100.0 * f64::from(entry.orig_ttl)).ceil() as i64;
        hits >= c.prefetch && entry.ttl(now) <= threshold
    }

    /// Runs one refresh of `old` to completion; true when the entry was refreshed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn refresh(
        &self,
        chain: &Chain,
        cluster: Option<&ClusterView>,
        req: Box<Request>,
        key: &Key,
        old: &Entry,
        hit_time: u64,
        why: Refresh,
    ) -> bool {
        let series = self.metrics.server(&req.server.label);
        series.prefetch();
        let generation = cluster.and_then(|c| c.generation_for(key.as_ref().name));
        let (_req, result) = chain.run(req).finish().await;
        let refreshed = match why {
            // A prefetch counts as done whatever came back, as in CoreDNS.
            Refresh::Prefetch => {
                if let Ok(mut msg) = result {
                    self.on_reply(&mut msg, key, generation, true, &series);
                }
                true
            }
            Refresh::Stale => match result {
                Ok(mut msg) => match self.verdict(&msg, key) {
                    Verdict::Refreshed => {
                        self.on_reply(&mut msg, key, generation, true, &series);
                        true
                    }
                    Verdict::CacheOnly => {
                        self.on_reply(&mut msg, key, generation, true, &series);
                        false
                    }
                    Verdict::Reject => false,
                },
                Err(_) => false,
            },
        };
        if refreshed {
            if let Some(new) = self.exists(key.hash) {
                new.inherit_hits(hit_time, old.hits());
            }
        }
        refreshed
    }
}

impl Cache {
    /// Starts a background refresh of `entry` unless one is running (or, for stale
    /// entries with a failure recheck, a failed one asked to wait).
    pub(crate) fn try_refresh(
        &self,
        req: &Request,
        next: &Next<'_>,
        entry: &Arc<Entry>,
        hash: u64,
        now: u64,
        why: Refresh,
    ) {
        let recheck = match why {
            Refresh::Stale => millis(self.core.config.stale_recheck),
            Refresh::Prefetch => 0,
        };
        if !entry.begin_refresh(now, recheck) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            entry.end_refresh(now, recheck, false);
            return;
        };
        let chain = self.rest(next);
        let cluster = self.cluster_shared(next);
        let core = Arc::clone(&self.core);
        let key = KeyRef::of(req).to_owned(hash);
        let detached = detached_request(req);
        let entry = Arc::clone(entry);
        runtime.spawn(async move {
            let refreshed = core
                .refresh(&chain, cluster.as_deref(), detached, &key, &entry, now, why)
                .await;
            entry.end_refresh(core.now_ms(), recheck, refreshed);
        });
    }
}
