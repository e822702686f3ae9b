//! `transfer`: outgoing zone transfers (AXFR, and IXFR answered by a full transfer or by the
//! SOA alone when the client is current) of zones that other plugins of the block can list.
//!
//! The plugins that hold zone data (`file`, `kubernetes`) implement
//! [`cairn_core::Transferer`]; this plugin only checks the transport and the `to` access list,
//! asks the plugins after it in the chain for the zone, and returns every record in one
//! message that the server streams over TCP in frames of at most 63,000 bytes.

mod setup;
#[cfg(test)]
mod tests;

pub use setup::setup;

use std::net::IpAddr;

use cairn_core::wire::{Message, Name, RData, RType, Rcode, Record};
use cairn_core::zones::longest_match;
use cairn_core::{Next, Plugin, PluginError, Proto, Request, Served};

/// One `transfer` stanza: the zones it covers and who may transfer them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stanza {
    pub zones: Vec<Name>,
    pub to: Vec<Allowed>,
}

/// An entry of `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// `*`: anyone.
    Any,
    /// One address (a port given with it is for NOTIFY and ignored here, as in CoreDNS).
    Ip(IpAddr),
}

/// The handler of one server block.
pub struct Transfer {
    stanzas: Vec<Stanza>,
}

impl Transfer {
    pub fn new(stanzas: Vec<Stanza>) -> Transfer {
        Transfer { stanzas }
    }

    /// The stanza whose zone is the longest match for `qname` (lower-case wire form).
    fn stanza_for(&self, qname: &[u8]) -> Option<&Stanza> {
        let mut best: Option<(&Stanza, usize)> = None;
        for s in &self.stanzas {
            if let Some(z) = longest_match(&s.zones, qname) {
                let len = z.wire().len();
                if best.is_none_or(|(_, l)| len > l) {
                    best = Some((s, len));
                }
            }
        }
        best.map(|(s, _)| s)
    }
}

fn allowed(stanza: &Stanza, client: IpAddr) -> bool {
    let client = match client {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
        v4 => v4,
    };
    stanza.to.iter().any(|a| match a {
        Allowed::Any => true,
        Allowed::Ip(ip) => *ip == client,
    })
}

/// The serial an IXFR query carries in its authority section (`None`: not there).
fn ixfr_serial(req: &Request) -> Option<u32> {
    let m = Message::parse(&req.raw).ok()?;
    match m.authority.as_slice() {
        [Record {
            data: RData::Soa(soa),
            ..
        }] => Some(soa.serial),
        _ => None,
    }
}

/// RFC 1982: is `a` newer than `b`?
fn serial_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

impl Plugin for Transfer {
    fn name(&self) -> &'static str {
        "transfer"
    }

    fn serve<'a>(&'a self, mut req: Box<Request>, next: Next<'a>) -> Served<'a> {
        let qtype = req.qtype();
        if qtype != RType::AXFR && qtype != RType::IXFR {
            return next.run(req);
        }
        if req.proto != Proto::Tcp {
            let m = req.reply_rcode(Rcode::REFUSED);
            return Served::reply(req, m);
        }
        let Some(stanza) = self.stanza_for(req.qname_lower.wire()) else {
            return next.run(req);
        };
        if !allowed(stanza, req.client.ip()) {
            let m = req.reply_rcode(Rcode::REFUSED);
            return Served::reply(req, m);
        }
        let client_serial = if qtype == RType::IXFR {
            match ixfr_serial(&req) {
                Some(s) => Some(s),
                None => {
                    let m = req.reply_rcode(Rcode::SERVFAIL);
                    return Served::reply(req, m);
                }
            }
        } else {
            None
        };
        let zone = req.qname_lower.to_name();
        let Some(mut records) = next
            .plugins()
            .iter()
            .filter_map(|p| p.transferer())
            .find_map(|t| t.transfer(&zone))
        else {
            return next.run(req);
        };
        let soa = match records.first() {
            Some(
                r @ Record {
                    data: RData::Soa(_),
                    ..
                },
            ) => r.clone(),
            _ => {
                return Served::error(
                    req,
                    PluginError::failed("transfer", "the zone has no SOA record first"),
                )
            }
        };
        let RData::Soa(current) = &soa.data else {
            unreachable!("matched above")
        };
        let serial = current.serial;
        let mut m = req.reply();
        if let Some(theirs) = client_serial {
            if !serial_newer(serial, theirs) {
                m.answer.push(soa);
                cairn_core::info!(
                    "transfer",
                    "Outgoing noop, incremental transfer for up to date zone \"{zone}\" to {} for {serial} SOA serial",
                    req.client.ip()
                );
                return Served::reply(req, m);
            }
        }
        m.flags.aa = true;
        records.push(soa);
        cairn_core::info!(
            "transfer",
            "Outgoing transfer of {} records of zone \"{zone}\" to {} for {serial} SOA serial",
            records.len(),
            req.client.ip()
        );
        m.answer = records;
        Served::reply(req, m)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
