//! Reading `/etc/hosts`-format text (hosts(5)): `IP canonical_name [aliases...]` per line,
//! `#` comments, invalid lines skipped.
//!
//! One [`HostsMap`] holds one source (the file, or the inline lines of the Corefile), keyed the
//! way CoreDNS keys it, because its lookup rules (exact name before wildcard, per source and
//! per address family) decide which addresses an answer gets.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use cairn_core::wire::name::is_subdomain_wire;
use cairn_core::wire::Name;

/// The entries of one source. Names are lower case and fully qualified.
#[derive(Debug, Default, Clone)]
pub(crate) struct HostsMap {
    pub name4: HashMap<Name, Vec<Ipv4Addr>>,
    pub name6: HashMap<Name, Vec<Ipv6Addr>>,
    /// Wildcard owners (`*.example.com.`), which match one more label and get no PTR.
    pub wild4: HashMap<Name, Vec<Ipv4Addr>>,
    pub wild6: HashMap<Name, Vec<Ipv6Addr>>,
    /// Address -> names, for PTR answers (empty with `no_reverse`).
    pub addr: HashMap<IpAddr, Vec<Name>>,
}

impl HostsMap {
    /// The number CoreDNS reports in `coredns_hosts_entries`: every name-address pair in each
    /// direction (so `10.0.0.1 a b` counts 4: two forward, two reverse).
    pub fn len(&self) -> usize {
        fn sum<K, V>(m: &HashMap<K, Vec<V>>) -> usize {
            m.values().map(Vec::len).sum()
        }
        sum(&self.name4) + sum(&self.name6) + sum(&self.wild4) + sum(&self.wild6) + sum(&self.addr)
    }
}

/// True for a wildcard owner: the leftmost label is exactly `*`.
pub(crate) fn is_wildcard(wire: &[u8]) -> bool {
    wire.len() >= 2 && wire[0] == 1 && wire[1] == b'*'
}

/// Reads an address, dropping an IPv6 zone (`fe80::1%lo0`); IPv4-mapped IPv6 addresses
/// count as IPv4, as in Go.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.split_once('%').map_or(text, |(a, _)| a);
    match text.parse::<IpAddr>().ok()? {
        IpAddr::V6(v6) => Some(match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        }),
        v4 => Some(v4),
    }
}

/// Parses hosts-format text. Names outside `origins` are left out; PTR data is kept only
/// with `auto_reverse`.
pub(crate) fn parse(text: &str, origins: &[Name], auto_reverse: bool) -> HostsMap {
    let mut map = HostsMap::default();
    for line in text.lines() {
        let line = line.split_once('#').map_or(line, |(before, _)| before);
        let mut fields = line.split_whitespace();
        let Some(addr) = fields.next() else {
            continue;
        };
        let mut names = fields.peekable();
        if names.peek().is_none() {
            continue;
        }
        let Some(ip) = parse_ip(addr) else {
            continue;
        };
        for text in names {
            let Ok(name) = Name::parse(text, None) else {
                continue;
            };
            let name = name.to_lowercase();
            if !origins
                .iter()
                .any(|o| is_subdomain_wire(name.wire(), o.wire()))
            {
                continue;
            }
            if is_wildcard(name.wire()) {
                match ip {
                    IpAddr::V4(v4) => map.wild4.entry(name).or_default().push(v4),
                    IpAddr::V6(v6) => map.wild6.entry(name).or_default().push(v6),
                }
                continue;
            }
            match ip {
                IpAddr::V4(v4) => map.name4.entry(name.clone()).or_default().push(v4),
                IpAddr::V6(v6) => map.name6.entry(name.clone()).or_default().push(v6),
            }
            if auto_reverse {
                map.addr.entry(ip).or_default().push(name);
            }
        }
    }
    map
}
