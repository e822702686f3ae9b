//! `file`: authoritative answers from RFC 1035 zone files.
//!
//! Each zone is read at setup into a [`Zone`] (a hash map of names to RRsets, see
//! [`zone`]) and published through an `ArcSwapOption`, so a query takes a snapshot without a
//! lock and a reload swaps the whole zone at once. Answering clones stored records into the
//! request's pooled reply vectors: no allocation, lock or formatting per query.
//!
//! Queries outside the zones go to the next plugin; inside, the plugin answers everything,
//! negative answers included, unless `fallthrough` covers the name and the zone has nothing
//! for it (NXDOMAIN, or an empty non-terminal as in CoreDNS).

mod rdata;
mod reload;
mod setup;
#[cfg(test)]
mod tests;
pub mod zone;
pub mod zonefile;

pub use setup::setup;
pub use zone::{Outcome, Zone};
pub use zonefile::{ZoneError, ZoneParser};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cairn_core::arc_swap::ArcSwapOption;
use cairn_core::wire::types::OPCODE_NOTIFY;
use cairn_core::wire::{Name, RData, RType, Rcode, Record};
use cairn_core::zones::Fallthrough;
use cairn_core::{Next, Plugin, Request, Served, Transferer};

/// How many times one answer may continue from one zone into another.
const MAX_ZONE_HOPS: usize = 8;

/// One zone served by the plugin: where it comes from and its current contents.
pub struct ZoneSlot {
    /// The zone's origin, lower case.
    pub origin: Name,
    /// The zone file (after `root`).
    pub path: PathBuf,
    /// How often to look for changes; zero disables reloading.
    pub reload: Duration,
    /// Reload when the file's modification time changes, rather than the SOA serial.
    pub by_mtime: bool,
    /// `None` until the file could be read (CoreDNS answers SERVFAIL meanwhile).
    current: ArcSwapOption<Zone>,
}

impl ZoneSlot {
    /// A slot holding `zone` (or nothing yet).
    pub fn new(
        origin: Name,
        path: PathBuf,
        reload: Duration,
        by_mtime: bool,
        zone: Option<Zone>,
    ) -> ZoneSlot {
        ZoneSlot {
            origin,
            path,
            reload,
            by_mtime,
            current: ArcSwapOption::new(zone.map(Arc::new)),
        }
    }

    /// The zone as it is now.
    pub fn zone(&self) -> Option<Arc<Zone>> {
        self.current.load_full()
    }

    fn store(&self, zone: Zone) {
        self.current.store(Some(Arc::new(zone)));
    }
}

/// The `file` handler: one or more zones and the fallthrough setting.
pub struct File {
    slots: Vec<Arc<ZoneSlot>>,
    /// The origins, in slot order, for longest-match routing.
    origins: Vec<Name>,
    fall: Fallthrough,
}

impl File {
    /// A handler over `slots`.
    pub fn new(slots: Vec<Arc<ZoneSlot>>, fall: Fallthrough) -> File {
        let origins = slots.iter().map(|s| s.origin.clone()).collect();
        File {
            slots,
            origins,
            fall,
        }
    }

    /// Every zone with its origin and current contents (`None` while its file is missing),
    /// for zone transfers.
    pub fn zones(&self) -> impl Iterator<Item = (&Name, Option<Arc<Zone>>)> + '_ {
        self.slots.iter().map(|s| (&s.origin, s.zone()))
    }

    /// The current contents of the zone whose origin is exactly `origin` (any case).
    pub fn zone(&self, origin: &Name) -> Option<Arc<Zone>> {
        self.slots
            .iter()
            .rev()
            .find(|s| s.origin.eq_ignore_case(origin))
            .and_then(|s| s.zone())
    }

    /// The zone slots (for the reload services and tests).
    pub fn slots(&self) -> &[Arc<ZoneSlot>] {
        &self.slots
    }

    /// Continues a CNAME chain that left one zone into another zone of this handler (CoreDNS
    /// gets the same by resolving the target through the whole server). Chains into names
    /// no zone here holds stop at the CNAME.
    fn follow_across_zones<'s>(
        &'s self,
        mut slot: &'s ZoneSlot,
        qtype: RType,
        m: &mut cairn_core::wire::Message,
        mut outcome: Outcome,
    ) -> Outcome {
        let mut lower = cairn_core::wire::NameBuf::new();
        for _ in 0..MAX_ZONE_HOPS {
            let Some(last) = m.answer.last() else {
                break;
            };
            let (RType::CNAME, RData::Cname(target)) = (last.rtype, &last.data) else {
                break;
            };
            lower.set_wire_lowercase(target.wire());
            if cairn_core::wire::name::is_subdomain_wire(lower.wire(), slot.origin.wire()) {
                break;
            }
            let Some(next) = self.slot_for(lower.wire()) else {
                break;
            };
            let guard = next.current.load();
            let Some(zone) = guard.as_deref() else {
                break;
            };
            let target = target.clone();
            m.authority.clear();
            m.additional.clear();
            outcome = zone.lookup(lower.wire(), &target, qtype, m);
            slot = next;
            if outcome != Outcome::Answer {
                break;
            }
        }
        outcome
    }

    /// The slot for the longest origin `qlower` lies in; later lines win on equal origins.
    fn slot_for(&self, qlower: &[u8]) -> Option<&ZoneSlot> {
        let mut best: Option<usize> = None;
        for (i, o) in self.origins.iter().enumerate() {
            if cairn_core::wire::name::is_subdomain_wire(qlower, o.wire())
                && best.is_none_or(|b| o.wire().len() >= self.origins[b].wire().len())
            {
                best = Some(i);
            }
        }
        best.and_then(|i| self.slots.get(i)).map(|s| &**s)
    }
}

/// Lists a loaded zone for the `transfer` plugin, in the zone's transfer order.
impl Transferer for File {
    fn transfer(&self, zone: &Name) -> Option<Vec<Record>> {
        self.zone(zone).map(|z| z.records().cloned().collect())
    }
}

impl Plugin for File {
    fn transferer(&self) -> Option<&dyn Transferer> {
        Some(self)
    }

    fn name(&self) -> &'static str {
        "file"
    }

    fn serve<'a>(&'a self, mut req: Box<Request>, next: Next<'a>) -> Served<'a> {
        let Some(slot) = self.slot_for(req.qname_lower.wire()) else {
            if next.is_empty() {
                let m = req.reply_rcode(Rcode::REFUSED);
                return Served::reply(req, m);
            }
            return next.run(req);
        };
        let qtype = req.qtype();
        if qtype == RType::AXFR || qtype == RType::IXFR {
            let m = req.reply_rcode(Rcode::REFUSED);
            return Served::reply(req, m);
        }
        if req.info.opcode == OPCODE_NOTIFY {
            cairn_core::info!(
                "file",
                "Dropping notify from {} for {}",
                req.client.ip(),
                slot.origin
            );
            let m = req.reply_rcode(Rcode::DROP);
            return Served::reply(req, m);
        }
        let guard = slot.current.load();
        let Some(zone) = guard.as_deref() else {
            let m = req.reply_rcode(Rcode::SERVFAIL);
            return Served::reply(req, m);
        };
        let qname = req.qname();
        let mut m = req.reply();
        let mut outcome = zone.lookup(req.qname_lower.wire(), &qname, qtype, &mut m);
        if outcome == Outcome::Answer && qtype != RType::CNAME {
            outcome = self.follow_across_zones(slot, qtype, &mut m, outcome);
        }
        if m.answer.is_empty()
            && matches!(outcome, Outcome::NameError | Outcome::EmptyNonTerminal)
            && self.fall.through(req.qname_lower.wire())
        {
            drop(guard);
            req.recycle(m);
            return next.run(req);
        }
        m.flags.aa = true;
        match outcome {
            Outcome::Answer | Outcome::ApexNs | Outcome::NoData | Outcome::EmptyNonTerminal => {}
            Outcome::NameError => m.rcode = Rcode::NXDOMAIN,
            Outcome::YxDomain => m.rcode = Rcode::YXDOMAIN,
            Outcome::Delegation(_) => {
                // A bare referral is not authoritative; a CNAME leading into it still is.
                if m.answer.is_empty() {
                    m.flags.aa = false;
                }
            }
            Outcome::ServerFailure => {
                if m.answer.is_empty() {
                    req.recycle(m);
                    let m = req.reply_rcode(Rcode::SERVFAIL);
                    return Served::reply(req, m);
                }
                m.rcode = Rcode::SERVFAIL;
            }
        }
        Served::reply(req, m)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
