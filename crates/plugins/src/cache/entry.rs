//! One cached reply and how a hit turns it back into a reply.
//!
//! Entries hold decoded records rather than wire bytes: the server encodes every reply for
//! its own client anyway (the question in the client's case, the client's EDNS size and
//! truncation, the OPT record), so a hit only has to copy records into the request's pooled
//! reply with the remaining TTL. Copying a record copies an inline name and bumps reference
//! counts; once the pooled vectors have grown, a hit allocates nothing. Wire bytes would have
//! needed TTL and ID patching plus re-truncation per client for no saving.
//!
//! Besides the reply, an entry carries what the cache's policies need: when it was stored
//! and for how long (TTLs count down from there), how often it was asked for (prefetch), and
//! whether a refresh is running (one at a time per entry).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use cairn_core::wire::{Message, Name, NameBuf, RType, Rcode, Record};

use super::classify::answers_question;
use super::key::KeyRef;

/// A cached reply.
pub(crate) struct Entry {
    // The key, compared on every lookup.
    name: Name,
    qtype: RType,
    qclass: u16,
    dnssec_ok: bool,
    checking_disabled: bool,

    pub rcode: Rcode,
    recursion_available: bool,
    authenticated_data: bool,
    answer: Box<[Record]>,
    authority: Box<[Record]>,
    additional: Box<[Record]>,
    /// A NOERROR reply that answers its question (for `serve_stale_policy prefer_positive`).
    pub answering: bool,
    /// With `prefer_positive`: the answering entry this non-answer replaced.
    pub last_known_good: Option<Arc<Entry>>,

    /// The cache duration in seconds, the TTL every record is served with when stored.
    pub orig_ttl: u32,
    /// When it was stored (cache clock, milliseconds).
    pub stored_ms: u64,
    /// The kubernetes index generation the reply was computed from, for names in a
    /// kubernetes zone of the same block; the entry is dead once the index moved on.
    pub generation: Option<u64>,

    freq: Freq,
    refreshing: AtomicBool,
    /// No new refresh before this time (cache clock ms; 0 = none), after a failed one.
    retry_after_ms: AtomicU64,
}

impl Entry {
    /// An entry for `msg` (records already carrying `ttl`), the reply to `key`.
    pub(crate) fn new(
        msg: &Message,
        key: &KeyRef<'_>,
        ttl: u32,
        now_ms: u64,
        generation: Option<u64>,
    ) -> Entry {
        Entry {
            name: Name::from_wire(key.name).unwrap_or_else(|_| Name::root()),
            qtype: key.qtype,
            qclass: key.qclass,
            dnssec_ok: key.dnssec_ok,
            checking_disabled: key.checking_disabled,
            rcode: msg.rcode,
            recursion_available: msg.flags.ra,
            authenticated_data: msg.flags.ad,
            answer: msg.answer.clone().into_boxed_slice(),
            authority: msg.authority.clone().into_boxed_slice(),
            additional: msg.additional.clone().into_boxed_slice(),
            answering: answers_question(msg, &key.question()),
            last_known_good: None,
            orig_ttl: ttl,
            stored_ms: now_ms,
            generation,
            freq: Freq::new(),
            refreshing: AtomicBool::new(false),
            retry_after_ms: AtomicU64::new(0),
        }
    }

    /// True when this entry is the reply to exactly `key`.
    pub(crate) fn matches(&self, key: &KeyRef<'_>) -> bool {
        self.qtype == key.qtype
            && self.qclass == key.qclass
            && self.dnssec_ok == key.dnssec_ok
            && self.checking_disabled == key.checking_disabled
            && self.name.wire() == key.name
    }

    /// Seconds left (negative once expired): the stored duration minus the whole seconds
    /// elapsed, as CoreDNS counts.
    pub(crate) fn ttl(&self, now_ms: u64) -> i64 {
        let elapsed = now_ms.saturating_sub(self.stored_ms) / 1000;
        i64::from(self.orig_ttl) - i64::try_from(elapsed).unwrap_or(i64::MAX)
    }

    /// Whether this entry answers `key` for `prefer_positive`: itself, or the last known
    /// good answer it replaced.
    pub(crate) fn answering_item(
        self: &Arc<Self>,
        key: &KeyRef<'_>,
        generation: Option<u64>,
    ) -> Option<Arc<Entry>> {
        let fits = |e: &Entry| e.answering && e.matches(key) && e.generation == generation;
        if fits(self) {
            return Some(Arc::clone(self));
        }
        self.last_known_good.as_ref().filter(|e| fits(e)).cloned()
    }

    /// Fills `m` (a reply started with `Request::reply`, so id, opcode, RD and CD are the
    /// query's) from the entry, every record with `ttl`. AA is always set, as in CoreDNS (some
    /// old stub resolvers drop non-authoritative answers); AD only when the client asked
    /// for DNSSEC or set AD itself (RFC 6840 5.7-5.8). Owner names equal to the question
    /// take the question's case.
    pub(crate) fn write_reply(&self, m: &mut Message, ttl: u32, asked: &NameBuf, ad_wanted: bool) {
        m.flags.aa = true;
        m.flags.ra = self.recursion_available;
        m.flags.ad = self.authenticated_data && ad_wanted;
        m.rcode = self.rcode;
        let mut asked_name: Option<Name> = None;
        for (from, to) in [
            (&self.answer, &mut m.answer),
            (&self.authority, &mut m.authority),
            (&self.additional, &mut m.additional),
        ] {
            to.extend(from.iter().map(|r| {
                let mut r = r.clone();
                r.ttl = ttl;
                let owner = r.name.wire();
                if owner != asked.wire() && owner.eq_ignore_ascii_case(asked.wire()) {
                    r.name = asked_name.get_or_insert_with(|| asked.to_name()).clone();
                }
                r
            }));
        }
    }

    /// Counts a hit for prefetch: hits without a gap longer than `window_ms` add up, a longer
    /// gap starts again at 1. Returns the count.
    pub(crate) fn count_hit(&self, now_ms: u64, window_ms: u64) -> u32 {
        self.freq.update(now_ms, window_ms)
    }

    /// Hits counted so far.
    pub(crate) fn hits(&self) -> u32 {
        self.freq.hits.load(Ordering::Relaxed)
    }

    /// Carries the hit count of the entry a prefetch replaced over to this one.
    pub(crate) fn inherit_hits(&self, now_ms: u64, hits: u32) {
        self.freq.last_ms.store(now_ms, Ordering::Relaxed);
        self.freq.hits.store(hits, Ordering::Relaxed);
    }

    /// Claims the one refresh slot of this entry; false when a refresh is running or a failed
    /// one asked to wait (`recheck_ms` > 0 only).
    pub(crate) fn begin_refresh(&self, now_ms: u64, recheck_ms: u64) -> bool {
        if recheck_ms > 0 {
            let after = self.retry_after_ms.load(Ordering::Acquire);
            if after != 0 && now_ms < after {
                return false;
            }
        }
        self.refreshing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Releases the refresh slot; a failed refresh with `recheck_ms` > 0 blocks the next one
    /// for that long.
    pub(crate) fn end_refresh(&self, now_ms: u64, recheck_ms: u64, refreshed: bool) {
        let after = if recheck_ms > 0 && !refreshed {
            now_ms.saturating_add(recheck_ms).max(1)
        } else {
            0
        };
        self.retry_after_ms.store(after, Ordering::Release);
        self.refreshing.store(false, Ordering::Release);
    }
}

/// How often an entry is asked for: the time of the last hit and the run of hits without a
/// long gap. Two relaxed atomics: a count that is off by one under a race only moves a
/// prefetch by one query.
struct Freq {
    /// `u64::MAX` until the first hit.
    last_ms: AtomicU64,
    hits: AtomicU32,
}

impl Freq {
    fn new() -> Freq {
        Freq {
            last_ms: AtomicU64::new(u64::MAX),
            hits: AtomicU32::new(0),
        }
    }

    fn update(&self, now_ms: u64, window_ms: u64) -> u32 {
        let last = self.last_ms.swap(now_ms, Ordering::Relaxed);
        if last == u64::MAX || now_ms.saturating_sub(last) > window_ms {
            self.hits.store(1, Ordering::Relaxed);
            1
        } else {
            self.hits.fetch_add(1, Ordering::Relaxed).saturating_add(1)
        }
    }
}
