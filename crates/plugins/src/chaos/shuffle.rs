//! A cheap per-query shuffle: no allocation, no lock, not cryptographic.
//!
//! A shared counter advances by the golden-ratio increment on every query (one atomic add),
//! and SplitMix64 turns the counter into well-mixed bits for a Fisher-Yates pass. Concurrent
//! queries get distinct counter values, so they get independent orders.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// Shuffles slices in place.
pub struct Shuffler {
    state: AtomicU64,
}

impl Shuffler {
    /// A shuffler seeded from the process's random hash keys.
    pub fn new() -> Shuffler {
        Shuffler::with_seed(RandomState::new().hash_one(0x6361_6972_6e00_u64))
    }

    /// A shuffler with a fixed seed (tests).
    pub fn with_seed(seed: u64) -> Shuffler {
        Shuffler {
            state: AtomicU64::new(seed),
        }
    }

    /// Puts `items` in a random order.
    pub fn shuffle<T>(&self, items: &mut [T]) {
        if items.len() < 2 {
            return;
        }
        let mut x = self.state.fetch_add(GOLDEN, Ordering::Relaxed);
        for i in (1..items.len()).rev() {
            x = x.wrapping_add(GOLDEN);
            let j = (splitmix(x) % (i as u64 + 1)) as usize;
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
