//! Hash maps split into `Arc`ed shards, so that a snapshot is cheap to copy and an update
//! copies only the shards it touches (copy-on-write through `Arc::make_mut`).
//!
//! Also the pieces that keep lookups allocation-free and entries small: a seeded fast hasher
//! shared by shard selection and the shards themselves (shard bits are taken from the middle
//! of the hash, away from the bits `HashMap` uses), [`PairKey`], which lets a set of entries
//! keyed by their own (namespace, name) be probed with two `&str`, and [`IpMap`], which keys
//! IPv4 addresses by a `u32` (a 17-byte `IpAddr` key would double the bucket size).

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;
const FINISH: u64 = 0x2d35_8dcc_aa6c_78a5;

/// A seeded multiply-fold hasher: a few nanoseconds for a name, versus SipHash's tens. Keys
/// come from cluster objects; the per-store random seed keeps probe sequences unpredictable.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IndexHasher {
    seed: u64,
    fold_key: u64,
}

impl IndexHasher {
    pub(crate) fn new() -> Self {
        let random = RandomState::new();
        IndexHasher {
            seed: random.hash_one(0x5eed_u64),
            fold_key: random.hash_one(0xf01d_u64) | 1,
        }
    }
}

impl Default for IndexHasher {
    fn default() -> Self {
        IndexHasher::new()
    }
}

fn fold(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

pub(crate) struct FoldHasher {
    acc: u64,
    fold_key: u64,
}

impl FoldHasher {
    fn mix(&mut self, word: u64) {
        self.acc = fold(self.acc ^ word, self.fold_key ^ MULTIPLIER).rotate_left(23);
    }
}

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length goes in the (always zero) top byte: "ab" and "ab\0" differ.
            self.mix(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.mix(u64::from(value) | 0x100);
    }

    fn write_u32(&mut self, value: u32) {
        self.mix(u64::from(value) | 0x4_0000_0000);
    }

    fn write_u64(&mut self, value: u64) {
        self.mix(value);
    }

    fn write_u128(&mut self, value: u128) {
        self.mix(value as u64);
        self.mix((value >> 64) as u64);
    }

    fn write_usize(&mut self, value: usize) {
        self.mix(value as u64);
    }

    fn finish(&self) -> u64 {
        fold(fold(self.acc, FINISH), self.fold_key)
    }
}

impl BuildHasher for IndexHasher {
    type Hasher = FoldHasher;

    fn build_hasher(&self) -> FoldHasher {
        FoldHasher {
            acc: self.seed,
            fold_key: self.fold_key,
        }
    }
}

// ---------------------------------------------------------------------------------------
// (namespace, name) keys

/// A (namespace, name) pair seen through `&str`s, so owned keys can be probed with borrowed
/// strings: `map.get(&(ns, name) as &dyn PairKey)`.
pub(crate) trait PairKey {
    fn first(&self) -> &str;
    fn second(&self) -> &str;
}

impl Hash for dyn PairKey + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.first().hash(state);
        self.second().hash(state);
    }
}

impl PartialEq for dyn PairKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.first() == other.first() && self.second() == other.second()
    }
}

impl Eq for dyn PairKey + '_ {}

impl PairKey for (&str, &str) {
    fn first(&self) -> &str {
        self.0
    }
    fn second(&self) -> &str {
        self.1
    }
}

/// An entry that knows its own (namespace, name) key.
pub(crate) trait Named {
    fn namespace(&self) -> &str;
    fn name(&self) -> &str;
}

/// An `Arc` entry in a set, hashed and compared by its (namespace, name): the key costs no
/// memory beyond the entry's own strings.
pub(crate) struct ByName<T>(pub(crate) Arc<T>);

impl<T> Clone for ByName<T> {
    fn clone(&self) -> Self {
        ByName(Arc::clone(&self.0))
    }
}

impl<T: Named> PairKey for ByName<T> {
    fn first(&self) -> &str {
        self.0.namespace()
    }
    fn second(&self) -> &str {
        self.0.name()
    }
}

impl<T: Named> Hash for ByName<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self as &dyn PairKey).hash(state);
    }
}

impl<T: Named> PartialEq for ByName<T> {
    fn eq(&self, other: &Self) -> bool {
        (self as &dyn PairKey) == (other as &dyn PairKey)
    }
}

impl<T: Named> Eq for ByName<T> {}

impl<'a, T: Named + 'a> Borrow<dyn PairKey + 'a> for ByName<T> {
    fn borrow(&self) -> &(dyn PairKey + 'a) {
        self
    }
}

/// A set of named entries in a plain `HashSet` (the writer's own bookkeeping).
pub(crate) type NamedSet<T> = HashSet<ByName<T>, IndexHasher>;

pub(crate) fn named_get<'s, T: Named>(
    set: &'s NamedSet<T>,
    namespace: &str,
    name: &str,
) -> Option<&'s Arc<T>> {
    set.get(&(namespace, name) as &dyn PairKey).map(|e| &e.0)
}

// ---------------------------------------------------------------------------------------
// Shards

/// Where the shard index is taken from the hash: above the bucket bits `HashMap` uses
/// (low) and below its 7-bit tag (top).
const SHARD_SHIFT: u32 = 40;

/// Shards per chunk of the shard table.
const CHUNK_BITS: u32 = 6;

/// `2^bits` shards in a three-level copy-on-write table: `Arc` of a list of `Arc` chunks of
/// 64 `Arc` shards. Cloning the table (every publish) touches one reference count, not one
/// per shard (thousands of cache misses); the first write to a shard after a publish copies
/// the top list and one chunk of 64 pointers, then the shard. Empty shards and chunks all
/// share one allocation until first written.
pub(crate) struct ShardTable<S> {
    top: Arc<Vec<Arc<Vec<Arc<S>>>>>,
    mask: usize,
    chunk_bits: u32,
}

impl<S> Clone for ShardTable<S> {
    fn clone(&self) -> Self {
        ShardTable {
            top: Arc::clone(&self.top),
            mask: self.mask,
            chunk_bits: self.chunk_bits,
        }
    }
}

impl<S> ShardTable<S> {
    fn new(bits: u32, empty: S) -> Self {
        let chunk_bits = bits.min(CHUNK_BITS);
        let empty = Arc::new(empty);
        let chunk = Arc::new(vec![empty; 1usize << chunk_bits]);
        let top = Arc::new(vec![chunk; 1usize << (bits - chunk_bits)]);
        ShardTable {
            top,
            mask: (1usize << bits) - 1,
            chunk_bits,
        }
    }

    fn index<Q: Hash + ?Sized>(&self, hasher: &IndexHasher, key: &Q) -> usize {
        ((hasher.hash_one(key) >> SHARD_SHIFT) as usize) & self.mask
    }

    fn shard(&self, index: usize) -> &Arc<S> {
        let inner = (1usize << self.chunk_bits) - 1;
        &self.top[index >> self.chunk_bits][index & inner]
    }

    fn shards(&self) -> impl Iterator<Item = &Arc<S>> {
        self.top.iter().flat_map(|chunk| chunk.iter())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.mask + 1
    }

    #[cfg(test)]
    fn shared_with(&self, other: &Self) -> usize {
        self.shards()
            .zip(other.shards())
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count()
    }
}

impl<S: Clone> ShardTable<S> {
    /// The shard, unshared (copied) first if a published snapshot still reads it.
    fn shard_mut(&mut self, index: usize) -> &mut S {
        let inner = (1usize << self.chunk_bits) - 1;
        let top = Arc::make_mut(&mut self.top);
        let chunk = Arc::make_mut(&mut top[index >> self.chunk_bits]);
        Arc::make_mut(&mut chunk[index & inner])
    }
}

/// A map split into shards, each a `HashMap`.
pub(crate) struct ShardedMap<K, V> {
    table: ShardTable<HashMap<K, V, IndexHasher>>,
    hasher: IndexHasher,
}

impl<K, V> Clone for ShardedMap<K, V> {
    /// Copies one pointer, not the shards.
    fn clone(&self) -> Self {
        ShardedMap {
            table: self.table.clone(),
            hasher: self.hasher,
        }
    }
}

impl<K: Hash + Eq, V> ShardedMap<K, V> {
    pub(crate) fn new(hasher: IndexHasher, bits: u32) -> Self {
        ShardedMap {
            table: ShardTable::new(bits, HashMap::with_hasher(hasher)),
            hasher,
        }
    }

    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.table
            .shard(self.table.index(&self.hasher, key))
            .get(key)
    }

    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.table.shards().flat_map(|shard| shard.iter())
    }

    pub(crate) fn len(&self) -> usize {
        self.table.shards().map(|shard| shard.len()).sum()
    }

    /// Number of shards.
    #[cfg(test)]
    pub(crate) fn shard_count(&self) -> usize {
        self.table.len()
    }

    /// Number of shards this map shares (same allocation) with `other`.
    #[cfg(test)]
    pub(crate) fn shards_shared_with(&self, other: &Self) -> usize {
        self.table.shared_with(&other.table)
    }
}

impl<K: Hash + Eq + Clone, V: Clone> ShardedMap<K, V> {
    /// Replaces (or with `None` removes) the value of `key`, unsharing its shard only when
    /// something changes.
    pub(crate) fn set(&mut self, key: K, value: Option<V>) {
        let index = self.table.index(&self.hasher, &key);
        match value {
            Some(value) => {
                self.table.shard_mut(index).insert(key, value);
            }
            None => {
                if self.table.shard(index).contains_key(&key) {
                    self.table.shard_mut(index).remove(&key);
                }
            }
        }
    }
}

/// A set of named `Arc` entries split into shards, probed with `(&str, &str)`.
pub(crate) struct ShardedSet<T> {
    table: ShardTable<NamedSet<T>>,
    hasher: IndexHasher,
}

impl<T> Clone for ShardedSet<T> {
    /// Copies one pointer, not the shards.
    fn clone(&self) -> Self {
        ShardedSet {
            table: self.table.clone(),
            hasher: self.hasher,
        }
    }
}

impl<T: Named> ShardedSet<T> {
    pub(crate) fn new(hasher: IndexHasher, bits: u32) -> Self {
        ShardedSet {
            table: ShardTable::new(bits, HashSet::with_hasher(hasher)),
            hasher,
        }
    }

    fn index(&self, namespace: &str, name: &str) -> usize {
        self.table
            .index(&self.hasher, &(namespace, name) as &dyn PairKey)
    }

    pub(crate) fn get(&self, namespace: &str, name: &str) -> Option<&Arc<T>> {
        named_get(
            self.table.shard(self.index(namespace, name)),
            namespace,
            name,
        )
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Arc<T>> {
        self.table
            .shards()
            .flat_map(|shard| shard.iter().map(|e| &e.0))
    }

    pub(crate) fn len(&self) -> usize {
        self.table.shards().map(|shard| shard.len()).sum()
    }

    /// Inserts or replaces the entry with the same (namespace, name).
    pub(crate) fn insert(&mut self, entry: Arc<T>) {
        let index = self.index(entry.namespace(), entry.name());
        self.table.shard_mut(index).replace(ByName(entry));
    }

    pub(crate) fn remove(&mut self, namespace: &str, name: &str) -> Option<Arc<T>> {
        let index = self.index(namespace, name);
        let key: &dyn PairKey = &(namespace, name);
        if !self.table.shard(index).contains(key) {
            return None;
        }
        self.table.shard_mut(index).take(key).map(|e| e.0)
    }

    #[cfg(test)]
    pub(crate) fn shard_count(&self) -> usize {
        self.table.len()
    }

    #[cfg(test)]
    pub(crate) fn shards_shared_with(&self, other: &Self) -> usize {
        self.table.shared_with(&other.table)
    }
}

// ---------------------------------------------------------------------------------------
// Addresses

/// A sharded map keyed by IP address, with IPv4 keys stored as `u32`.
pub(crate) struct IpMap<V> {
    v4: ShardedMap<u32, V>,
    v6: ShardedMap<u128, V>,
}

impl<V> Clone for IpMap<V> {
    fn clone(&self) -> Self {
        IpMap {
            v4: self.v4.clone(),
            v6: self.v6.clone(),
        }
    }
}

impl<V: Clone> IpMap<V> {
    pub(crate) fn new(hasher: IndexHasher, bits: u32) -> Self {
        IpMap {
            v4: ShardedMap::new(hasher, bits),
            v6: ShardedMap::new(hasher, bits),
        }
    }

    pub(crate) fn get(&self, ip: IpAddr) -> Option<&V> {
        match ip {
            IpAddr::V4(v4) => self.v4.get(&u32::from(v4)),
            IpAddr::V6(v6) => self.v6.get(&u128::from(v6)),
        }
    }

    pub(crate) fn set(&mut self, ip: IpAddr, value: Option<V>) {
        match ip {
            IpAddr::V4(v4) => self.v4.set(u32::from(v4), value),
            IpAddr::V6(v6) => self.v6.set(u128::from(v6), value),
        }
    }

    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (IpAddr, &V)> {
        let v4 = self
            .v4
            .iter()
            .map(|(k, v)| (IpAddr::V4(std::net::Ipv4Addr::from(*k)), v));
        let v6 = self
            .v6
            .iter()
            .map(|(k, v)| (IpAddr::V6(std::net::Ipv6Addr::from(*k)), v));
        v4.chain(v6)
    }

    pub(crate) fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    #[cfg(test)]
    pub(crate) fn shard_count(&self) -> usize {
        self.v4.shard_count() + self.v6.shard_count()
    }

    #[cfg(test)]
    pub(crate) fn shards_shared_with(&self, other: &Self) -> usize {
        self.v4.shards_shared_with(&other.v4) + self.v6.shards_shared_with(&other.v6)
    }
}
