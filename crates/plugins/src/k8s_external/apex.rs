//! The zone's own records: the SOA (apex answer and every negative answer), the apex NS
//! `ns1.<apex>.<zone>`, and that name server's addresses under the `<apex>` subdomain.
//!
//! The SOA's serial is the index's last change to external data, so the record is rebuilt
//! only when that changed: the per-zone copy is shared by every negative answer until then.
//! The name server's addresses are this server's external ones, as the `kubernetes` plugin
//! knows them (the external IPs of the Service in front of this server, or its local
//! addresses).

use std::sync::Arc;

use cairn_core::wire::{Message, RData, RType, Rcode, Record, Soa};
use cairn_core::Request;
use cairn_k8s::Snapshot;

use super::{K8sExternal, Zone};
use crate::kubernetes::answer::address_rdata;
use crate::kubernetes::Kubernetes;

/// SOA timers (CoreDNS's code; its README shows other values).
const SOA_REFRESH: u32 = 7200;
const SOA_RETRY: u32 = 1800;
const SOA_EXPIRE: u32 = 86400;

impl K8sExternal {
    /// The SOA record of `zone`.
    fn soa(&self, snap: &Snapshot, zone: &Zone) -> Record {
        let serial = snap.external_modified();
        let cached = zone.soa.load();
        let soa = match &*cached {
            Some(s) if s.serial == serial => s.clone(),
            _ => {
                let fresh = Arc::new(Soa {
                    mname: zone.ns1.clone(),
                    rname: zone.hostmaster.clone(),
                    serial,
                    refresh: SOA_REFRESH,
                    retry: SOA_RETRY,
                    expire: SOA_EXPIRE,
                    minimum: self.ttl,
                });
                zone.soa.store(Some(fresh.clone()));
                fresh
            }
        };
        Record::new(zone.name.clone(), self.ttl, RData::Soa(soa))
    }

    /// Puts the SOA of `zone` into `section`.
    pub(super) fn push_soa(&self, snap: &Snapshot, zone: &Zone, section: &mut Vec<Record>) {
        section.push(self.soa(snap, zone));
    }

    /// A query for the zone's apex: SOA, NS (with the name server's addresses as
    /// additional records), NODATA for any other type.
    pub(super) fn serve_apex(
        &self,
        k: &Kubernetes,
        snap: &Snapshot,
        req: &Request,
        zone: &Zone,
        m: &mut Message,
    ) {
        match req.qtype() {
            RType::SOA => self.push_soa(snap, zone, &mut m.answer),
            RType::NS => {
                m.answer.push(Record::new(
                    zone.name.clone(),
                    self.ttl,
                    RData::Ns(zone.ns1.clone()),
                ));
                let ttl = self.ttl;
                k.external_ns_addresses(snap, self.headless, &mut |ip| {
                    let data = address_rdata(ip);
                    if !m.additional.iter().any(|r| r.data == data) {
                        m.additional.push(Record::new(zone.ns1.clone(), ttl, data));
                    }
                });
            }
            _ => self.push_soa(snap, zone, &mut m.authority),
        }
    }

    /// A query under `<apex>.<zone>`: the subdomain itself exists without records,
    /// `ns1.<apex>.<zone>` holds the name server's addresses, every other name is NXDOMAIN.
    pub(super) fn serve_sub_apex(
        &self,
        k: &Kubernetes,
        snap: &Snapshot,
        req: &Request,
        zone: &Zone,
        m: &mut Message,
    ) {
        let qname = req.qname_lower.wire();
        let rest = &qname[..qname.len() - zone.apex.wire().len()];
        if rest == b"\x03ns1" {
            let qtype = req.qtype();
            if qtype == RType::A || qtype == RType::AAAA {
                let owner = req.qname();
                let ttl = self.ttl;
                k.external_ns_addresses(snap, self.headless, &mut |ip| {
                    let data = address_rdata(ip);
                    if data.natural_type() == qtype && !m.answer.iter().any(|r| r.data == data) {
                        m.answer.push(Record::new(owner.clone(), ttl, data));
                    }
                });
            }
        } else if !rest.is_empty() {
            m.rcode = Rcode::NXDOMAIN;
        }
        if m.answer.is_empty() {
            self.push_soa(snap, zone, &mut m.authority);
        }
    }
}
