//! A bounded map of shared entries in 256 shards, with CoreDNS's capacity rules.
//!
//! Why this shape: a hit must take no global lock and allocate nothing. Each shard has its
//! own read-write lock, so lookups of different names rarely meet, and a lookup only clones
//! an `Arc`. Capacity follows CoreDNS (`plugin/pkg/cache`) because operators size caches by
//! its numbers: the capacity is split evenly over 256 shards (so it is effectively rounded
//! down to a multiple of 256), each shard holds at least 4 entries, and a full shard makes
//! room by evicting a random entry (not the least recently used one, not the one closest to
//! expiry). Entries are kept in a vector beside the index so that the random pick is O(1).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// Number of shards.
pub(crate) const SHARDS: usize = 256;
/// Smallest number of entries a shard holds.
const MIN_PER_SHARD: usize = 4;

/// Keys are already seeded 64-bit hashes: hashing them again would only cost time.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

struct Shard<T> {
    /// Key -> position in `items`.
    index: HashMap<u64, usize, BuildHasherDefault<PassThrough>>,
    items: Vec<(u64, Arc<T>)>,
    /// xorshift state for the eviction pick.
    rng: u64,
}

impl<T> Shard<T> {
    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    fn remove_at(&mut self, at: usize) {
        let (key, _) = self.items.swap_remove(at);
        self.index.remove(&key);
        if let Some((moved, _)) = self.items.get(at) {
            self.index.insert(*moved, at);
        }
    }
}

/// The sharded map.
pub(crate) struct Store<T> {
    shards: Box<[RwLock<Shard<T>>]>,
    per_shard: usize,
    len: AtomicUsize,
}

impl<T> Store<T> {
    /// A map for about `capacity` entries (see the module notes for the rounding).
    pub(crate) fn new(capacity: usize) -> Store<T> {
        let per_shard = (capacity / SHARDS).max(MIN_PER_SHARD);
        let seed = foldhash::fast::RandomState::default();
        let shards = (0..SHARDS)
            .map(|i| {
                RwLock::new(Shard {
                    index: HashMap::default(),
                    items: Vec::new(),
                    // Never zero: xorshift would stay at zero.
                    rng: std::hash::BuildHasher::hash_one(&seed, i) | 1,
                })
            })
            .collect();
        Store {
            shards,
            per_shard,
            len: AtomicUsize::new(0),
        }
    }

    fn shard(&self, key: u64) -> &RwLock<Shard<T>> {
        // Middle bits: the shard's own map uses the low ones for the bucket and the top
        // ones for its tag bytes.
        &self.shards[(key >> 32) as usize % SHARDS]
    }

    /// The entry under `key`: one shard read lock and an `Arc` clone.
    pub(crate) fn get(&self, key: u64) -> Option<Arc<T>> {
        let shard = self
            .shard(key)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        shard
            .index
            .get(&key)
            .map(|&at| Arc::clone(&shard.items[at].1))
    }

    /// Stores `value` under `key`, replacing what was there. Returns true when another entry
    /// was evicted to make room.
    pub(crate) fn insert(&self, key: u64, value: Arc<T>) -> bool {
        let mut shard = self
            .shard(key)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(&at) = shard.index.get(&key) {
            shard.items[at].1 = value;
            return false;
        }
        let mut evicted = false;
        if shard.items.len() >= self.per_shard {
            let victim = (shard.next_random() % shard.items.len() as u64) as usize;
            shard.remove_at(victim);
            self.len.fetch_sub(1, Ordering::Relaxed);
            evicted = true;
        }
        let at = shard.items.len();
        shard.items.push((key, value));
        shard.index.insert(key, at);
        self.len.fetch_add(1, Ordering::Relaxed);
        evicted
    }

    /// Removes the entry under `key`, if any.
    pub(crate) fn remove(&self, key: u64) {
        let mut shard = self
            .shard(key)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(&at) = shard.index.get(&key) {
            shard.remove_at(at);
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Number of entries (expired ones included: they stay until replaced or evicted).
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Entries a shard holds at most.
    #[cfg(test)]
    pub(crate) fn per_shard(&self) -> usize {
        self.per_shard
    }
}
