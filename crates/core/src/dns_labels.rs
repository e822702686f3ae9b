//! Label values of the `coredns_dns_*` families, as small indexes so that series handles can
//! sit in arrays (used by `prometheus` and by the server for queries dropped before a chain): the query type (CoreDNS tracks 19 types by name and lumps the rest as `other`),
//! the transport, the address family and the response code.

use std::net::{IpAddr, SocketAddr};

use crate::request::Proto;
use crate::wire::{RType, Rcode};

/// The query types with their own `type` label value, in index order.
pub const TYPES: [RType; 19] = [
    RType::A,
    RType::AAAA,
    RType::CNAME,
    RType::DNSKEY,
    RType::DS,
    RType::MX,
    RType::NSEC,
    RType::NSEC3,
    RType::NS,
    RType::PTR,
    RType::RRSIG,
    RType::SOA,
    RType::SRV,
    RType::TXT,
    RType::HTTPS,
    RType::SVCB,
    RType::IXFR,
    RType::AXFR,
    RType::ANY,
];

/// `type` label values, by index; the last one is `other`.
const TYPE_LABELS: [&str; 20] = [
    "A", "AAAA", "CNAME", "DNSKEY", "DS", "MX", "NSEC", "NSEC3", "NS", "PTR", "RRSIG", "SOA",
    "SRV", "TXT", "HTTPS", "SVCB", "IXFR", "AXFR", "ANY", "other",
];

/// Number of distinct `type` values.
pub const TYPE_COUNT: usize = TYPE_LABELS.len();

/// Index of a query type's label value.
pub fn type_index(t: RType) -> usize {
    match t {
        RType::A => 0,
        RType::AAAA => 1,
        RType::CNAME => 2,
        RType::DNSKEY => 3,
        RType::DS => 4,
        RType::MX => 5,
        RType::NSEC => 6,
        RType::NSEC3 => 7,
        RType::NS => 8,
        RType::PTR => 9,
        RType::RRSIG => 10,
        RType::SOA => 11,
        RType::SRV => 12,
        RType::TXT => 13,
        RType::HTTPS => 14,
        RType::SVCB => 15,
        RType::IXFR => 16,
        RType::AXFR => 17,
        RType::ANY => 18,
        _ => 19,
    }
}

/// The `type` label value for an index from [`type_index`].
pub fn type_name(index: usize) -> &'static str {
    TYPE_LABELS.get(index).copied().unwrap_or("other")
}

/// The `type` label value CoreDNS uses for a query type.
pub fn type_label(t: RType) -> &'static str {
    type_name(type_index(t))
}

/// `proto`: 0 = udp, 1 = tcp.
pub fn proto_index(p: Proto) -> usize {
    match p {
        Proto::Udp => 0,
        Proto::Tcp => 1,
    }
}

/// The `proto` label value for an index from [`proto_index`].
pub fn proto_name(index: usize) -> &'static str {
    if index == 0 {
        "udp"
    } else {
        "tcp"
    }
}

/// `family`: 0 = IPv4 (label `1`), 1 = IPv6 (label `2`). An IPv4-mapped IPv6 client counts
/// as IPv4, as in CoreDNS.
pub fn family_index(client: &SocketAddr) -> usize {
    match client.ip() {
        IpAddr::V4(_) => 0,
        IpAddr::V6(ip) if ip.to_ipv4_mapped().is_some() => 0,
        IpAddr::V6(_) => 1,
    }
}

/// The `family` label value for an index from [`family_index`].
pub fn family_name(index: usize) -> &'static str {
    if index == 0 {
        "1"
    } else {
        "2"
    }
}

/// Response codes with a pre-allocated series slot (0..=23 covers every named code).
pub const RCODE_SLOTS: usize = 24;

/// The slot of a response code, if it has one.
pub fn rcode_slot(rcode: Rcode) -> Option<usize> {
    let i = usize::from(rcode.0);
    (i < RCODE_SLOTS).then_some(i)
}
