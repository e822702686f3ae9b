//! `hosts`: answers A, AAAA and PTR from an `/etc/hosts`-style file and inline Corefile lines.
//!
//! Lookups read an immutable [`table::Table`] through an `ArcSwap`, so a reload swaps the
//! whole table while queries keep reading the old one, with no lock on the query path; the
//! table stores ready address lists keyed by lower-case wire names, so answering costs one or
//! two hash lookups and allocates nothing.
//!
//! The answers follow CoreDNS 1.14 closely, including its surprises:
//! - a name under the plugin's zones that is not listed gets SERVFAIL (a hosts file has no SOA
//!   to build an NXDOMAIN from), unless `fallthrough` covers it;
//! - a listed name asked for another type gets an authoritative NODATA without SOA;
//! - PTR queries are answered for any reverse name, whatever the zones, and a PTR miss always
//!   goes to the next plugin.

mod hostsfile;
mod metrics;
mod reload;
mod setup;
mod table;
#[cfg(test)]
mod tests;

pub use setup::setup;

use std::sync::Arc;

use cairn_core::arc_swap::ArcSwap;
use cairn_core::wire::name::is_subdomain_wire;
use cairn_core::wire::{Name, RData, RType, Rcode, Record};
use cairn_core::zones::Fallthrough;
use cairn_core::{Next, Plugin, Request, Served};

use table::Table;

/// The `hosts` handler.
pub struct Hosts {
    /// Names under these zones are answered (PTR queries regardless).
    zones: Vec<Name>,
    table: Arc<ArcSwap<Table>>,
    ttl: u32,
    fall: Fallthrough,
    /// Pass other query types for listed names on too (`fallthrough_unsupported`).
    fallthrough_unsupported: bool,
}

impl Plugin for Hosts {
    fn name(&self) -> &'static str {
        "hosts"
    }

    fn serve<'a>(&'a self, mut req: Box<Request>, next: Next<'a>) -> Served<'a> {
        let qtype = req.qtype();
        let qname = req.qname_lower.wire();
        let in_zone = self
            .zones
            .iter()
            .any(|z| is_subdomain_wire(qname, z.wire()));
        if !in_zone && qtype != RType::PTR {
            return next.run(req);
        }
        let table = self.table.load();

        if qtype == RType::PTR {
            let Some(targets) = table.ptr(qname) else {
                drop(table);
                return next.run(req);
            };
            let owner = req.qname();
            let mut m = req.reply();
            m.flags.aa = true;
            m.answer.extend(
                targets
                    .iter()
                    .map(|t| Record::new(owner.clone(), self.ttl, RData::Ptr(t.clone()))),
            );
            return Served::reply(req, m);
        }

        let other_type = qtype != RType::A && qtype != RType::AAAA;
        if other_type && self.fallthrough_unsupported && self.fall.through(qname) {
            drop(table);
            return next.run(req);
        }
        let Some(addrs) = table.lookup(qname) else {
            drop(table);
            if self.fall.through(req.qname_lower.wire()) {
                return next.run(req);
            }
            let m = req.reply_rcode(Rcode::SERVFAIL);
            return Served::reply(req, m);
        };
        let owner = req.qname();
        let mut m = req.reply();
        m.flags.aa = true;
        match qtype {
            RType::A => m.answer.extend(
                addrs
                    .v4
                    .iter()
                    .map(|ip| Record::new(owner.clone(), self.ttl, RData::A(*ip))),
            ),
            RType::AAAA => m.answer.extend(
                addrs
                    .v6
                    .iter()
                    .map(|ip| Record::new(owner.clone(), self.ttl, RData::Aaaa(*ip))),
            ),
            // NODATA: the name exists, the type does not.
            _ => {}
        }
        Served::reply(req, m)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
