//! The lookup tables queries read: built once per (re)load from the file's and the inline
//! entries, swapped in whole, and read without a lock.
//!
//! CoreDNS answers an A query with (file: exact name, else its wildcard) followed by (inline:
//! exact name, else its wildcard), and likewise for AAAA. The table stores that result per
//! exact name, and the merged wildcard lists for names no source knows exactly, so a query
//! costs one or two hash lookups and no allocation.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use cairn_core::wire::name::parent_wire;
use cairn_core::wire::{Name, NameBuf};

use super::hostsfile::HostsMap;

/// Addresses a name answers with.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Addrs {
    pub v4: Box<[Ipv4Addr]>,
    pub v6: Box<[Ipv6Addr]>,
}

/// What queries read.
#[derive(Debug, Default)]
pub(crate) struct Table {
    /// Every name some source lists exactly (lower-case wire form).
    exact: HashMap<Name, Addrs>,
    /// Wildcard owners (`*.parent`), for names no source lists exactly.
    wild: HashMap<Name, Addrs>,
    /// Reverse names (`1.0.0.10.in-addr.arpa.`, 32-nibble `ip6.arpa.`) -> PTR targets.
    ptr: HashMap<Name, Box<[Name]>>,
}

/// `*.` + the parent of `wire`, into `buf`; `None` for the root or a too long result.
fn wildcard_of<'b>(wire: &[u8], buf: &'b mut [u8; 257]) -> Option<&'b [u8]> {
    let parent = parent_wire(wire)?;
    let len = parent.len() + 2;
    if len > 255 {
        return None;
    }
    buf[0] = 1;
    buf[1] = b'*';
    buf[2..len].copy_from_slice(parent);
    Some(&buf[..len])
}

/// The addresses of `name` in one source and family: exact entry, else wildcard entry.
fn in_source<'m, T>(
    exact: &'m HashMap<Name, Vec<T>>,
    wild: &'m HashMap<Name, Vec<T>>,
    name: &Name,
    pattern: Option<&[u8]>,
) -> &'m [T] {
    exact
        .get(name)
        .or_else(|| pattern.and_then(|p| wild.get(p)))
        .map_or(&[], Vec::as_slice)
}

/// The entries of `name` in one map.
fn list<'m, T>(m: &'m HashMap<Name, Vec<T>>, name: &Name) -> &'m [T] {
    m.get(name).map_or(&[], Vec::as_slice)
}

fn concat<T: Copy>(a: &[T], b: &[T]) -> Box<[T]> {
    a.iter().chain(b).copied().collect()
}

/// The reverse-tree name of an address.
pub(crate) fn reverse_name(ip: IpAddr) -> Name {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = NameBuf::new();
    // Labels here are 1-3 bytes and the name at most 74 bytes: pushing cannot fail.
    let mut push = |label: &[u8]| {
        let _ = buf.push_label(label);
    };
    match ip {
        IpAddr::V4(v4) => {
            for o in v4.octets().iter().rev() {
                push(o.to_string().as_bytes());
            }
            push(b"in-addr");
        }
        IpAddr::V6(v6) => {
            for b in v6.octets().iter().rev() {
                push(&[HEX[usize::from(b & 0xF)]]);
                push(&[HEX[usize::from(b >> 4)]]);
            }
            push(b"ip6");
        }
    }
    push(b"arpa");
    let _ = buf.append_wire(&[0]);
    buf.to_name()
}

impl Table {
    /// Merges the file's entries (first) and the inline ones.
    pub fn build(file: &HostsMap, inline: &HostsMap) -> Table {
        let mut buf = [0u8; 257];
        let names: HashSet<&Name> = [&file.name4, &inline.name4]
            .into_iter()
            .flat_map(HashMap::keys)
            .chain(
                [&file.name6, &inline.name6]
                    .into_iter()
                    .flat_map(HashMap::keys),
            )
            .collect();
        let mut exact = HashMap::with_capacity(names.len());
        for name in names {
            let pattern = wildcard_of(name.wire(), &mut buf);
            let addrs = Addrs {
                v4: concat(
                    in_source(&file.name4, &file.wild4, name, pattern),
                    in_source(&inline.name4, &inline.wild4, name, pattern),
                ),
                v6: concat(
                    in_source(&file.name6, &file.wild6, name, pattern),
                    in_source(&inline.name6, &inline.wild6, name, pattern),
                ),
            };
            exact.insert(name.clone(), addrs);
        }
        let owners: HashSet<&Name> = [&file.wild4, &inline.wild4]
            .into_iter()
            .flat_map(HashMap::keys)
            .chain(
                [&file.wild6, &inline.wild6]
                    .into_iter()
                    .flat_map(HashMap::keys),
            )
            .collect();
        let wild = owners
            .into_iter()
            .map(|k| {
                let addrs = Addrs {
                    v4: concat(list(&file.wild4, k), list(&inline.wild4, k)),
                    v6: concat(list(&file.wild6, k), list(&inline.wild6, k)),
                };
                (k.clone(), addrs)
            })
            .collect();
        let mut ptr: HashMap<Name, Vec<Name>> = HashMap::new();
        for source in [file, inline] {
            for (ip, targets) in &source.addr {
                ptr.entry(reverse_name(*ip))
                    .or_default()
                    .extend(targets.iter().cloned());
            }
        }
        Table {
            exact,
            wild,
            ptr: ptr
                .into_iter()
                .map(|(k, v)| (k, v.into_boxed_slice()))
                .collect(),
        }
    }

    /// The addresses for a lower-case query name, if any source knows it.
    pub fn lookup(&self, qname: &[u8]) -> Option<&Addrs> {
        if let Some(a) = self.exact.get(qname) {
            return Some(a);
        }
        if self.wild.is_empty() {
            return None;
        }
        let mut buf = [0u8; 257];
        self.wild.get(wildcard_of(qname, &mut buf)?)
    }

    /// The PTR targets of a lower-case reverse name.
    pub fn ptr(&self, qname: &[u8]) -> Option<&[Name]> {
        self.ptr.get(qname).map(|b| &b[..])
    }
}
