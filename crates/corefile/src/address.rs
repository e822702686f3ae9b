//! Server block keys: `[scheme://]zone[:port]`.
//!
//! A server block's keys say which zones it serves, over which transport and on which port.
//! The server needs them normalised (lower case, fully qualified, validated) to build its
//! zone tables and listeners, and plugins reuse [`parse_key`] for zone arguments. A key may
//! also be a CIDR, which stands for the reverse zones of that network: the prefix length is
//! rounded *up* to the next label boundary (octet for IPv4, nibble for IPv6) and every
//! subnet of that size becomes its own zone, as CoreDNS does.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// How a server block is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Plain DNS over UDP and TCP (`dns://`, the default).
    Dns,
    /// DNS over TLS (`tls://`).
    Tls,
    /// DNS over HTTPS, HTTP/2 (`https://`).
    Https,
    /// DNS over HTTPS, HTTP/3 (`https3://`).
    Https3,
    /// DNS over QUIC (`quic://`).
    Quic,
    /// CoreDNS's gRPC transport (`grpc://`).
    Grpc,
}

impl Transport {
    /// All listener transports.
    pub const ALL: [Transport; 6] = [
        Transport::Dns,
        Transport::Tls,
        Transport::Https,
        Transport::Https3,
        Transport::Quic,
        Transport::Grpc,
    ];

    /// The scheme as written in a key, without `://`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Transport::Dns => "dns",
            Transport::Tls => "tls",
            Transport::Https => "https",
            Transport::Https3 => "https3",
            Transport::Quic => "quic",
            Transport::Grpc => "grpc",
        }
    }

    /// Port used when the key has none (for `dns` the `-dns.port` flag may override it).
    pub fn default_port(&self) -> u16 {
        match self {
            Transport::Dns => 53,
            Transport::Tls | Transport::Quic => 853,
            Transport::Https | Transport::Https3 | Transport::Grpc => 443,
        }
    }

    /// Looks a scheme up (ASCII case-insensitive); `None` for unknown schemes and `unix`.
    pub fn from_scheme(s: &str) -> Option<Transport> {
        Transport::ALL
            .into_iter()
            .find(|t| t.scheme().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme())
    }
}

/// One zone served by a server block, with its transport and explicit port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ZoneAddr {
    pub transport: Transport,
    /// Lower-case, fully qualified ("example.org.", "." for the root, "0.0.10.in-addr.arpa.").
    pub zone: String,
    /// `None` = not written in the key (the `-dns.port` flag or the transport default applies).
    pub port: Option<u16>,
}

impl ZoneAddr {
    /// The port to listen on: the key's port, else `dns_port` for plain DNS (the `-dns.port`
    /// flag), else the transport's default.
    pub fn effective_port(&self, dns_port: u16) -> u16 {
        match (self.port, self.transport) {
            (Some(p), _) => p,
            (None, Transport::Dns) => dns_port,
            (None, t) => t.default_port(),
        }
    }
}

impl fmt::Display for ZoneAddr {
    /// `scheme://zone` plus `:port` when one was written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.transport, self.zone)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// Why a server block key was rejected.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("unknown scheme '{0}://' (expected dns, tls, https, https3, quic or grpc)")]
    UnknownScheme(String),
    #[error("'unix://' is not a listener scheme")]
    UnixScheme,
    #[error("no zone in address '{0}'")]
    EmptyZone(String),
    #[error("expecting a port after the last colon in '{0}'")]
    MissingPort(String),
    #[error("invalid port '{0}' (must be 0-65535)")]
    InvalidPort(String),
    #[error("invalid CIDR '{0}'")]
    InvalidCidr(String),
    #[error("zone '{0}' is too long (more than 255 bytes)")]
    ZoneTooLong(String),
    #[error("label '{label}' in zone '{zone}' is longer than 63 bytes")]
    LabelTooLong { zone: String, label: String },
    #[error("zone '{0}' has an empty label")]
    EmptyLabel(String),
    #[error("zone '{zone}' contains invalid character {ch:?}")]
    InvalidCharacter { zone: String, ch: char },
}

/// Parses one server block key into the zones it stands for (several for some CIDRs).
pub fn parse_key(key: &str) -> Result<Vec<ZoneAddr>, AddressError> {
    let (transport, rest) = match key.find("://") {
        Some(i) => {
            let scheme = &key[..i];
            if scheme.eq_ignore_ascii_case("unix") {
                return Err(AddressError::UnixScheme);
            }
            let t = Transport::from_scheme(scheme)
                .ok_or_else(|| AddressError::UnknownScheme(scheme.to_owned()))?;
            (t, &key[i + 3..])
        }
        None => (Transport::Dns, key),
    };
    let (host, port) = split_port(rest)?;
    if host.is_empty() {
        return Err(AddressError::EmptyZone(key.to_owned()));
    }
    let zones = match reverse_zones(host)? {
        Some(zones) => zones,
        None => vec![normalize_zone(host)?],
    };
    Ok(zones
        .into_iter()
        .map(|zone| ZoneAddr {
            transport,
            zone,
            port,
        })
        .collect())
}

/// Splits `host:port` when the text after the last colon is a decimal number. For CIDR keys
/// (containing '/') the split is only made when what remains is still a CIDR.
fn split_port(s: &str) -> Result<(&str, Option<u16>), AddressError> {
    let Some(colon) = s.rfind(':') else {
        return Ok((s, None));
    };
    let after = &s[colon + 1..];
    if after.is_empty() {
        return Err(AddressError::MissingPort(s.to_owned()));
    }
    if !after.bytes().all(|b| b.is_ascii_digit()) {
        return Ok((s, None));
    }
    let host = &s[..colon];
    if s.contains('/') && parse_cidr(host).is_none() {
        return Ok((s, None));
    }
    let port = after
        .parse::<u16>()
        .map_err(|_| AddressError::InvalidPort(after.to_owned()))?;
    Ok((host, Some(port)))
}

enum Cidr {
    V4(Ipv4Addr, u8),
    V6(Ipv6Addr, u8),
}

/// `Some(Ok)` for a valid CIDR, `Some(Err)` for an IP with a bad prefix, `None` when the
/// text before '/' is not an IP address at all.
fn parse_cidr(s: &str) -> Option<Result<Cidr, ()>> {
    let (ip, prefix) = s.split_once('/')?;
    let prefix =
        if !prefix.is_empty() && prefix.len() <= 3 && prefix.bytes().all(|b| b.is_ascii_digit()) {
            prefix.parse::<u8>().ok()
        } else {
            None
        };
    if let Ok(v4) = ip.parse::<Ipv4Addr>() {
        return Some(match prefix {
            Some(p) if p <= 32 => Ok(Cidr::V4(v4, p)),
            _ => Err(()),
        });
    }
    if let Ok(v6) = ip.parse::<Ipv6Addr>() {
        return Some(match prefix {
            Some(p) if p <= 128 => Ok(Cidr::V6(v6, p)),
            _ => Err(()),
        });
    }
    None
}

fn reverse_zones(host: &str) -> Result<Option<Vec<String>>, AddressError> {
    match parse_cidr(host) {
        None => Ok(None),
        Some(Err(())) => Err(AddressError::InvalidCidr(host.to_owned())),
        Some(Ok(Cidr::V4(ip, p))) => Ok(Some(reverse_v4(u32::from(ip), p))),
        Some(Ok(Cidr::V6(ip, p))) => Ok(Some(reverse_v6(u128::from(ip), p))),
    }
}

fn reverse_v4(ip: u32, prefix: u8) -> Vec<String> {
    let p = u32::from(prefix);
    let rounded = p.div_ceil(8) * 8;
    let net = if p == 0 {
        0
    } else {
        ip & (u32::MAX << (32 - p))
    };
    let count = 1u64 << (rounded - p);
    let step = 1u64 << (32 - rounded);
    (0..count)
        .map(|i| {
            let sub = (u64::from(net) + i * step) as u32;
            let octets = sub.to_be_bytes();
            let mut name = String::new();
            for o in octets[..(rounded / 8) as usize].iter().rev() {
                name.push_str(&o.to_string());
                name.push('.');
            }
            name.push_str("in-addr.arpa.");
            name
        })
        .collect()
}

fn reverse_v6(ip: u128, prefix: u8) -> Vec<String> {
    let p = u32::from(prefix);
    let rounded = p.div_ceil(4) * 4;
    let net = if p == 0 {
        0
    } else {
        ip & (u128::MAX << (128 - p))
    };
    let count = 1u32 << (rounded - p);
    let step = if rounded == 0 {
        0
    } else {
        1u128 << (128 - rounded)
    };
    (0..count)
        .map(|i| {
            let sub = net.wrapping_add(u128::from(i).wrapping_mul(step));
            let mut name = String::new();
            for n in (0..rounded / 4).rev() {
                let nibble = (sub >> (124 - 4 * n)) & 0xf;
                name.push(char::from_digit(nibble as u32, 16).unwrap_or('0'));
                name.push('.');
            }
            name.push_str("ip6.arpa.");
            name
        })
        .collect()
}

const FORBIDDEN: &str = ":@\"()\\;{},#[]";

/// Lower-cases, validates and fully qualifies a zone name.
fn normalize_zone(host: &str) -> Result<String, AddressError> {
    let lower = host.to_ascii_lowercase();
    if lower == "." {
        return Ok(lower);
    }
    let body = lower.strip_suffix('.').unwrap_or(&lower);
    let fqdn = format!("{body}.");
    for ch in body.chars() {
        if ch.is_control() || ch.is_whitespace() || !ch.is_ascii() || FORBIDDEN.contains(ch) {
            return Err(AddressError::InvalidCharacter {
                zone: host.to_owned(),
                ch,
            });
        }
    }
    if body.contains('/') && !(fqdn.ends_with(".in-addr.arpa.") || fqdn.ends_with(".ip6.arpa.")) {
        // '/' only makes sense in RFC 2317 classless reverse delegations.
        return Err(AddressError::InvalidCharacter {
            zone: host.to_owned(),
            ch: '/',
        });
    }
    for label in body.split('.') {
        if label.is_empty() {
            return Err(AddressError::EmptyLabel(host.to_owned()));
        }
        if label.len() > 63 {
            return Err(AddressError::LabelTooLong {
                zone: host.to_owned(),
                label: label.to_owned(),
            });
        }
    }
    // Wire length is the text length of the fully qualified name plus one.
    if fqdn.len() + 1 > 255 {
        return Err(AddressError::ZoneTooLong(host.to_owned()));
    }
    Ok(fqdn)
}
