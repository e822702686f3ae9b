//! This server's own addresses, which name the zone's name servers (compat spec 3.5.9).
//!
//! CoreDNS takes the non-loopback addresses it listens on: those of `bind`, or every
//! interface address. Reading interface addresses portably needs `getifaddrs` (unsafe), so
//! on Linux they are read from `/proc/net/fib_trie` (IPv4 addresses marked `/32 host LOCAL`)
//! and `/proc/net/if_inet6` (IPv6, with interface names); elsewhere the list is empty and
//! the NS answers fall back to nothing, as CoreDNS's do without addresses.

use std::net::{IpAddr, Ipv6Addr};

/// The non-loopback addresses to use: the IPs of `bind` (interfaces named there contribute
/// their IPv6 addresses), or, without `bind`, every interface address; minus `except`.
pub(crate) fn local_ips(bind: &[String], except: &[String]) -> Vec<IpAddr> {
    let v6 = std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default();
    let mut out: Vec<IpAddr> = if bind.is_empty() {
        let v4 = std::fs::read_to_string("/proc/net/fib_trie").unwrap_or_default();
        let mut all = fib_trie_locals(&v4);
        all.extend(if_inet6(&v6).into_iter().map(|(ip, _)| ip));
        all
    } else {
        let mut chosen = Vec::new();
        for item in bind {
            match item.parse::<IpAddr>() {
                Ok(ip) => chosen.push(ip),
                Err(_) => chosen.extend(
                    if_inet6(&v6)
                        .into_iter()
                        .filter(|(_, iface)| iface == item)
                        .map(|(ip, _)| ip),
                ),
            }
        }
        chosen
    };
    out.retain(|ip| !ip.is_loopback() && !ip.is_unspecified());
    out.retain(|ip| !except.iter().any(|e| e.parse::<IpAddr>().ok() == Some(*ip)));
    let mut seen = Vec::with_capacity(out.len());
    out.retain(|ip| {
        if seen.contains(ip) {
            false
        } else {
            seen.push(*ip);
            true
        }
    });
    out
}

/// IPv4 addresses of this host from `/proc/net/fib_trie`: an address line `|-- a.b.c.d`
/// followed by `/32 host LOCAL`.
fn fib_trie_locals(text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut last: Option<IpAddr> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(addr) = line.strip_prefix("|-- ") {
            last = addr.trim().parse().ok();
        } else if line.starts_with("/32 host LOCAL") {
            if let Some(ip) = last.take() {
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
        }
    }
    out
}

/// IPv6 addresses and their interface from `/proc/net/if_inet6`.
fn if_inet6(text: &str) -> Vec<(IpAddr, String)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let hex = fields.next()?;
            let iface = fields.nth(4)?;
            let value = u128::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.len() == 32)?;
            Some((IpAddr::V6(Ipv6Addr::from(value)), iface.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_formats() {
        let trie = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 127.0.0.1\n        /32 host LOCAL\n\
                    |-- 192.0.2.0\n   /24 link UNICAST\n  |-- 192.0.2.2\n     /32 host LOCAL\n\
                    |-- 192.0.2.255\n  /32 link BROADCAST\nLocal:\n |-- 192.0.2.2\n /32 host LOCAL\n";
        let got: Vec<String> = fib_trie_locals(trie)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got, ["127.0.0.1", "192.0.2.2"]);
        let inet6 = "fd000000000000000000000000000002 04 40 00 82     eth0\n\
                     00000000000000000000000000000001 01 80 10 80       lo\n";
        let got: Vec<String> = if_inet6(inet6)
            .iter()
            .map(|(ip, i)| format!("{ip}%{i}"))
            .collect();
        assert_eq!(got, ["fd00::2%eth0", "::1%lo"]);
    }

    #[test]
    fn bind_addresses_are_taken_as_given_without_loopback() {
        let got = local_ips(
            &["10.0.0.5".into(), "127.0.0.1".into(), "10.0.0.6".into()],
            &["10.0.0.6".into()],
        );
        assert_eq!(got, vec!["10.0.0.5".parse::<IpAddr>().unwrap()]);
    }
}
