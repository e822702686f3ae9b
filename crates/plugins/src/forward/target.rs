//! The TO arguments of `forward`: what each one names and the upstream addresses it gives.
//!
//! A TO is `IP`, `IP:PORT`, `[IPv6]:PORT`, optionally behind `dns://` or `tls://` (DoT, port
//! 853 by default, with `%NAME` for the name the upstream's certificate must carry:
//! `tls://9.9.9.9%dns.quad9.net:853`), a resolv.conf-style file whose `nameserver` lines are
//! used on port 53, or a host name resolved once at setup. Files and names are read only at
//! startup and reload, as in CoreDNS. Entries resolving to an address already listed are
//! dropped (first one wins), and CoreDNS's limit of 15 applies to the TO entries.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use cairn_core::wire::Name;

use super::policy::{MAX_ADDRESSES, MAX_UPSTREAMS};

/// Plain DNS port.
const DNS_PORT: u16 = 53;
/// DNS-over-TLS port (RFC 7858).
const TLS_PORT: u16 = 853;

/// One upstream address with its transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    /// DNS over TLS.
    pub tls: bool,
    /// `%NAME` of a `tls://` TO: the name to verify instead of the IP.
    pub server_name: Option<String>,
}

/// A host name TO, resolved at setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTarget {
    pub hostname: String,
    pub port: u16,
    pub tls: bool,
    pub server_name: Option<String>,
}

/// What one TO argument stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Addresses known without a lookup (an IP, or a file's nameservers).
    Static(Vec<Target>),
    /// A name to resolve.
    Host(HostTarget),
}

/// Reads one TO argument. `Ok(None)`: a file without nameservers (skipped, as CoreDNS does).
pub fn classify(arg: &str, base: &Path) -> Result<Option<Entry>, String> {
    let (tls, rest) = match arg.split_once("://") {
        None => (false, arg),
        Some(("dns", rest)) => (false, rest),
        Some(("tls", rest)) => (true, rest),
        Some(("https", _)) => {
            return Err(format!(
                "'https' (DNS over HTTPS) upstreams are not supported by Cairn yet: {arg}"
            ))
        }
        Some((scheme @ ("quic" | "grpc" | "https3" | "unix"), _)) => {
            return Err(format!(
                "'{scheme}' is not supported as a destination protocol in forward: {arg}"
            ))
        }
        Some(_) => return Err(not_usable(arg)),
    };
    if rest.is_empty() {
        return Err(format!("invalid address: {arg:?}"));
    }
    let (hostport, name) = split_server_name(rest);
    let default_port = if tls { TLS_PORT } else { DNS_PORT };
    let server_name = if tls { name.clone() } else { None };
    if let Some(addr) = parse_ip_port(&hostport, default_port) {
        return Ok(Some(Entry::Static(vec![Target {
            addr,
            tls,
            server_name,
        }])));
    }
    // Not an address: a resolv.conf-style file (named without `%NAME`), else a host name.
    if name.is_none() {
        let path = base.join(rest);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let servers = nameservers(&text);
                if servers.is_empty() {
                    cairn_core::warning!("forward", "no nameservers found in {}", path.display());
                    return Ok(None);
                }
                return Ok(Some(Entry::Static(
                    servers
                        .into_iter()
                        .map(|ip| Target {
                            addr: SocketAddr::new(ip, DNS_PORT),
                            tls: false,
                            server_name: None,
                        })
                        .collect(),
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if rest.contains('/') => {
                return Err(format!("failed to read {}: {e}", path.display()));
            }
            Err(_) => {}
        }
    }
    match host_target(&hostport, default_port) {
        Some((hostname, port)) => Ok(Some(Entry::Host(HostTarget {
            hostname,
            port,
            tls,
            server_name,
        }))),
        None => Err(not_usable(arg)),
    }
}

fn not_usable(arg: &str) -> String {
    format!("not an IP address, file, or valid domain: {arg:?}")
}

/// Splits `HOST%NAME[:PORT]` (or `[IPv6%NAME]:PORT`) into `HOST[:PORT]` and `NAME`, the way
/// CoreDNS reads the per-upstream TLS server name.
pub fn split_server_name(s: &str) -> (String, Option<String>) {
    let Some(pct) = s.rfind('%') else {
        return (s.to_string(), None);
    };
    let mut host = s[..pct].to_string();
    if host.starts_with('[') {
        host.push(']');
    }
    let mut name = &s[pct + 1..];
    if let Some(colon) = name.rfind(':') {
        host.push_str(&name[colon..]);
        name = &name[..colon];
    }
    let name = name.trim_end_matches(']');
    (host, (!name.is_empty()).then(|| name.to_string()))
}

/// `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT`.
pub fn parse_ip_port(s: &str, default_port: u16) -> Option<SocketAddr> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Some(a);
    }
    let bare = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    bare.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, default_port))
}

/// `NAME` or `NAME:PORT` when NAME is a usable host name (not an IP).
fn host_target(s: &str, default_port: u16) -> Option<(String, u16)> {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok()?),
        None => (s, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let valid_chars = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if host.is_empty() || !valid_chars || host.parse::<IpAddr>().is_ok() || port == 0 {
        return None;
    }
    Name::parse(host, None).ok()?;
    Some((host.to_string(), port))
}

/// The `nameserver` addresses of resolv.conf text (an IPv6 zone suffix is dropped, names
/// that are not addresses are skipped).
pub fn nameservers(text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(value) = words.next() else { continue };
        let value = value.split('%').next().unwrap_or(value);
        match value.parse::<IpAddr>() {
            Ok(ip) => out.push(ip),
            Err(_) => cairn_core::warning!(
                "forward",
                "ignoring nameserver '{value}': not an IP address"
            ),
        }
    }
    out
}

/// The addresses of one entry (a name through `lookup`).
pub fn expand(
    entry: &Entry,
    lookup: impl FnOnce(&str) -> Result<Vec<IpAddr>, String>,
) -> Result<Vec<Target>, String> {
    Ok(match entry {
        Entry::Static(t) => t.clone(),
        Entry::Host(h) => lookup(&h.hostname)
            .map_err(|err| format!("failed to resolve {:?}: {err}", h.hostname))?
            .into_iter()
            .map(|ip| Target {
                addr: SocketAddr::new(ip, h.port),
                tls: h.tls,
                server_name: h.server_name.clone(),
            })
            .collect(),
    })
}

/// Appends the addresses not listed yet (the first entry naming an address wins).
pub fn merge(into: &mut Vec<Target>, more: Vec<Target>) {
    for t in more {
        if !into.iter().any(|o| o.addr == t.addr) {
            into.push(t);
        }
    }
}

/// Checks the final list: at least one address, at most [`MAX_ADDRESSES`].
pub fn check_total(targets: &[Target]) -> Result<(), String> {
    if targets.is_empty() {
        return Err("no valid upstream addresses found".to_string());
    }
    if targets.len() > MAX_ADDRESSES {
        return Err(format!(
            "more than {MAX_ADDRESSES} upstream addresses configured: {}",
            targets.len()
        ));
    }
    Ok(())
}

/// CoreDNS's check on the number of TO entries.
pub fn check_count(entries: usize) -> Result<(), String> {
    if entries > MAX_UPSTREAMS {
        return Err(format!(
            "more than {MAX_UPSTREAMS} TOs configured: {entries}"
        ));
    }
    Ok(())
}
