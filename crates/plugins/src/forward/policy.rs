//! The order in which one query tries the upstreams: `random` (the default), `round_robin`
//! or `sequential`, as CoreDNS orders them.
//!
//! An order is a small array of indexes on the stack (there are at most
//! [`MAX_ADDRESSES`] upstream addresses), so choosing one allocates nothing. The random order comes
//! from the thread's CSPRNG, the same generator as the query ids: an off-path attacker
//! should not learn which upstream the next query goes to.

use std::sync::atomic::{AtomicU32, Ordering};

use rand::seq::SliceRandom;

/// CoreDNS's limit on the number of TO entries.
pub const MAX_UPSTREAMS: usize = 15;

/// The most upstream addresses one `forward` may end up with (TO entries can be files and
/// names that give several addresses each).
pub const MAX_ADDRESSES: usize = 64;

/// Which policy a `forward` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    Random,
    RoundRobin,
    Sequential,
}

impl PolicyKind {
    /// The policy named in the Corefile.
    pub fn from_name(s: &str) -> Option<PolicyKind> {
        match s {
            "random" => Some(PolicyKind::Random),
            "round_robin" => Some(PolicyKind::RoundRobin),
            "sequential" => Some(PolicyKind::Sequential),
            _ => None,
        }
    }
}

/// Upstream indexes in the order one query tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Order {
    idx: [u8; MAX_ADDRESSES],
    len: u8,
}

impl Order {
    /// `0, 1, ... n-1`.
    fn identity(n: usize) -> Order {
        let n = n.min(MAX_ADDRESSES);
        let mut idx = [0u8; MAX_ADDRESSES];
        for (i, slot) in idx.iter_mut().enumerate().take(n) {
            *slot = i as u8;
        }
        Order { idx, len: n as u8 }
    }

    /// The indexes.
    pub fn as_slice(&self) -> &[u8] {
        &self.idx[..usize::from(self.len)]
    }
}

/// A policy with its state (the round-robin counter).
#[derive(Debug)]
pub struct Policy {
    kind: PolicyKind,
    robin: AtomicU32,
}

impl Policy {
    pub fn new(kind: PolicyKind) -> Policy {
        Policy {
            kind,
            robin: AtomicU32::new(0),
        }
    }

    /// The order for the next query over `n` upstreams.
    pub fn order(&self, n: usize) -> Order {
        let mut o = Order::identity(n);
        let len = usize::from(o.len);
        match self.kind {
            PolicyKind::Sequential => {}
            PolicyKind::Random => o.idx[..len].shuffle(&mut rand::rng()),
            PolicyKind::RoundRobin if len > 1 => {
                // CoreDNS puts the chosen upstream first and keeps the others in list order.
                let first = (self.robin.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
                    % len as u32) as usize;
                o.idx[..=first].rotate_right(1);
            }
            PolicyKind::RoundRobin => {}
        }
        o
    }
}

/// One upstream index chosen at random (when every upstream is down, CoreDNS tries a random
/// one whatever the policy).
pub fn random_index(n: usize) -> usize {
    use rand::RngExt;
    if n <= 1 {
        0
    } else {
        rand::rng().random_range(0..n)
    }
}

/// A fresh random message id for an upstream query.
pub fn random_id() -> u16 {
    rand::random()
}
