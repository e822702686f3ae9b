//! Where the probe goes: the block's own listener, as CoreDNS picks it (the first listen
//! address, else every address, on the block's port).
//!
//! A wildcard listener is reached on 127.0.0.1 (the listener binds 0.0.0.0); a listener bound
//! to an unspecified address likewise on that family's loopback. When `bind` names an
//! interface, its addresses are only known to the server, so the address is taken from the
//! listeners the server actually opened for the block (their `server` labels), once it
//! serves.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use cairn_core::setup::{BindLine, InstalledBlock};
use cairn_core::wire::Name;

/// The first listen address of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Listen {
    /// No `bind`: every address.
    Any,
    /// The first `bind` address.
    Ip(IpAddr),
    /// The first `bind` item names an interface.
    Interface,
}

/// The probe's destination, as far as setup knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub listen: Listen,
    pub port: u16,
}

impl Target {
    /// The target of a block with these `bind` lines and port: the first bind item that its
    /// own line does not except.
    pub fn of_block(bind: &[BindLine], port: u16) -> Target {
        let first = bind
            .iter()
            .flat_map(|line| line.addrs.iter().filter(move |a| !line.except.contains(a)))
            .next();
        let listen = match first {
            None => Listen::Any,
            Some(item) => match item.parse::<IpAddr>() {
                Ok(ip) => Listen::Ip(ip),
                Err(_) => Listen::Interface,
            },
        };
        Target { listen, port }
    }

    /// Where to send the probe and how CoreDNS prints that address (`:53` for a wildcard
    /// listener, `127.0.0.1:53`, `[::1]:53`), once the server serves `installed`. `None`
    /// when no listener of the block can be found (an interface without addresses).
    pub fn resolve(
        &self,
        installed: &[InstalledBlock],
        zone: &Name,
    ) -> Option<(SocketAddr, String)> {
        let ip = match &self.listen {
            Listen::Any => return Some((self.send_to(None), format!(":{}", self.port))),
            Listen::Ip(ip) => *ip,
            Listen::Interface => {
                installed
                    .iter()
                    .filter(|b| b.plugins.contains(&"loop") && b.zones.contains(zone))
                    .filter_map(|b| label_addr(&b.server))
                    .find(|(ip, port)| ip.is_some() && *port == self.port)?
                    .0?
            }
        };
        Some((
            self.send_to(Some(ip)),
            SocketAddr::new(ip, self.port).to_string(),
        ))
    }

    /// The socket address reaching a listener on `ip` (None: every address).
    fn send_to(&self, ip: Option<IpAddr>) -> SocketAddr {
        let ip = match ip {
            None => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some(IpAddr::V4(v4)) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some(IpAddr::V6(v6)) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            Some(ip) => ip,
        };
        SocketAddr::new(ip, self.port)
    }
}

/// The address and port of a `server` label (`dns://:53`, `dns://10.0.0.1:53`,
/// `dns://[::1]:53`); the address is `None` for a wildcard listener.
pub(crate) fn label_addr(label: &str) -> Option<(Option<IpAddr>, u16)> {
    let rest = label.split_once("://").map_or(label, |(_, r)| r);
    let (host, port) = rest.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Some((None, port));
    }
    Some((Some(host.parse().ok()?), port))
}
