//! The orders *loadbalance* puts a reply section in, done in place on the reply's own vectors
//! (the reply belongs to this query, so nothing is copied and nothing is allocated).
//!
//! Stub resolvers such as glibc's want a CNAME chain before the addresses it leads to, so
//! every policy first groups a mixed section by kind, keeping the original order inside each
//! group (a stable partition), and only then moves records inside the address and MX groups.

use std::net::IpAddr;

use cairn_core::wire::{RData, RType, Record};

use super::weights::Weights;
use cairn_core::random::Stream;

/// The groups of a section, in the order round-robin and weighted leave them.
fn group(rtype: RType) -> u8 {
    match rtype {
        RType::CNAME => 0,
        RType::A | RType::AAAA => 2,
        RType::MX => 3,
        _ => 1,
    }
}

fn is_address(rtype: RType) -> bool {
    rtype == RType::A || rtype == RType::AAAA
}

/// Sorts by `key`, keeping equal keys in their original order, without allocating (insertion
/// sort: sections are short, and usually already in order).
fn stable_sort_by_key<K: Ord>(records: &mut [Record], key: impl Fn(&Record) -> K) {
    for i in 1..records.len() {
        let mut j = i;
        while j > 0 && key(&records[j - 1]) > key(&records[j]) {
            records.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// The index range of the records of group `g` in a section already grouped.
fn group_range(records: &[Record], g: u8) -> std::ops::Range<usize> {
    let start = records.partition_point(|r| group(r.rtype) < g);
    let end = records.partition_point(|r| group(r.rtype) <= g);
    start..end
}

/// `round_robin`: a section of only A (or only AAAA) records is shuffled; a mixed one becomes
/// CNAMEs, other records, shuffled addresses, shuffled MX.
pub fn round_robin(records: &mut [Record], rng: &mut Stream) {
    if records.len() < 2 {
        return;
    }
    let first = records[0].rtype;
    if is_address(first) && records.iter().all(|r| r.rtype == first) {
        rng.shuffle(records);
        return;
    }
    stable_sort_by_key(records, |r| group(r.rtype));
    let addresses = group_range(records, 2);
    rng.shuffle(&mut records[addresses]);
    let mx = group_range(records, 3);
    rng.shuffle(&mut records[mx]);
}

/// `weighted`: groups the section as round-robin does, without shuffling, and moves one
/// address chosen by weight to the front of the addresses. A section without addresses is
/// left as it is. `pick(total)` draws a number below the sum of the weights; the addresses
/// are walked heaviest first (ties in section order), as CoreDNS does, so a given draw picks
/// the same address as there.
pub fn weighted(records: &mut [Record], weights: &Weights, pick: impl FnOnce(u64) -> u64) {
    if !records.iter().any(|r| is_address(r.rtype)) {
        return;
    }
    stable_sort_by_key(records, |r| group(r.rtype));
    let range = group_range(records, 2);
    let addresses = &mut records[range];
    let weight_of = |r: &Record| match address_of(r) {
        Some(ip) => weights.weight(&r.name, ip),
        None => 1,
    };
    let total: u64 = addresses.iter().map(|r| u64::from(weight_of(r))).sum();
    let mut left = pick(total);
    let mut level = addresses.iter().map(weight_of).max().unwrap_or(1);
    let top = 'walk: loop {
        for (i, r) in addresses.iter().enumerate() {
            let w = weight_of(r);
            if w == level {
                if left < u64::from(w) {
                    break 'walk i;
                }
                left -= u64::from(w);
            }
        }
        match addresses.iter().map(weight_of).filter(|&w| w < level).max() {
            Some(lower) => level = lower,
            // Only reached with a draw out of range: keep the order.
            None => break 0,
        }
    };
    addresses.swap(0, top);
}

/// The address of an A or AAAA record.
pub fn address_of(r: &Record) -> Option<IpAddr> {
    match r.data {
        RData::A(ip) => Some(IpAddr::V4(ip)),
        RData::Aaaa(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    }
}

/// An IP network from `prefer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    addr: IpAddr,
    bits: u8,
}

impl Subnet {
    /// Parses `ADDR/BITS`.
    pub fn parse(text: &str) -> Option<Subnet> {
        let (addr, bits) = text.split_once('/')?;
        let addr: IpAddr = addr.parse().ok()?;
        if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let bits: u8 = bits.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (bits <= max).then_some(Subnet { addr, bits })
    }

    /// True when `ip` lies inside (same family only).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// `prefer`: after the policy ran, CNAMEs first, then the addresses inside the listed
/// networks (by the first network that holds them, in the order written), then the other
/// addresses, then MX, then everything else. Relative order is kept within each group.
pub fn prefer(records: &mut [Record], subnets: &[Subnet]) {
    let unmatched = subnets.len();
    stable_sort_by_key(records, |r| match r.rtype {
        RType::CNAME => (0, 0),
        RType::A | RType::AAAA => (
            1,
            address_of(r)
                .and_then(|ip| subnets.iter().position(|s| s.contains(ip)))
                .unwrap_or(unmatched),
        ),
        RType::MX => (2, 0),
        _ => (3, 0),
    });
}
