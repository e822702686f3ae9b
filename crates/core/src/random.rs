//! Cheap per-query randomness for reordering answers (`loadbalance`, `chaos`): no
//! allocation, no lock, not cryptographic (nobody gains anything by predicting the order of
//! A records). Use `rand` where unpredictability matters (query ids, probe names).
//!
//! A shared counter advances by the golden-ratio increment once per reply (one atomic add),
//! and SplitMix64 turns counter values into well-mixed bits. Concurrent replies take distinct
//! counter values, so their orders are independent.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// A source of random numbers shared by every query of one handler.
pub struct Random {
    state: AtomicU64,
}

impl Random {
    /// Seeded from the process's random hash keys.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Random {
        Random::with_seed(RandomState::new().hash_one(0x6c62_616c_616e_6365_u64))
    }

    /// A fixed seed (tests).
    pub fn with_seed(seed: u64) -> Random {
        Random {
            state: AtomicU64::new(seed),
        }
    }

    /// A stream of numbers for one reply.
    pub fn stream(&self) -> Stream {
        Stream {
            x: self.state.fetch_add(GOLDEN, Ordering::Relaxed),
        }
    }
}

/// The numbers one reply draws; local, so drawing costs no atomic operation.
pub struct Stream {
    x: u64,
}

impl Stream {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.x = self.x.wrapping_add(GOLDEN);
        splitmix(self.x)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        // The modulo bias is below 2^-40 for the small n used here.
        self.next_u64() % n
    }

    /// Puts `items` in a uniformly random order (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// SplitMix64's output function.
fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_permutes_and_varies() {
        let random = Random::with_seed(7);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let mut v = [0, 1, 2, 3];
            random.stream().shuffle(&mut v);
            let mut sorted = v;
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2, 3]);
            seen.insert(v);
        }
        // 24 permutations exist; 200 draws should meet nearly all of them.
        assert!(seen.len() >= 20, "only {} orders", seen.len());
        let mut one = [9];
        random.stream().shuffle(&mut one);
        assert_eq!(one, [9]);
    }
}
