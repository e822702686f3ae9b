//! The zone's own records: the SOA (apex answer and negative answers) and the name servers
//! (apex NS, `ns.dns.<zone>`).
//!
//! The SOA's serial is the index's last-change time, so the record is rebuilt only when the
//! cluster changed: the per-zone copy is shared by every negative answer until then. The
//! name servers are this server's own addresses, named after the Service whose endpoints
//! carry them when the index has one (`kube-dns.kube-system.svc.<zone>` in a cluster), else
//! `ns.dns.<zone>`.

use std::net::IpAddr;
use std::sync::Arc;

use cairn_core::wire::{Message, Name, NameBuf, RData, Record, Soa};
use cairn_core::Request;
use cairn_k8s::{ServiceKind, Snapshot};

use super::answer::{endpoint_label, Question, Target};
use super::Kubernetes;

/// SOA timers CoreDNS uses for the cluster zones.
const SOA_REFRESH: u32 = 7200;
const SOA_RETRY: u32 = 1800;
const SOA_EXPIRE: u32 = 86400;
/// The SOA record's own TTL is `min(ttl, 300)`.
const SOA_MAX_TTL: u32 = 300;

/// `prefix` labels followed by `zone` (wire).
fn prefixed(prefix: &[&[u8]], zone: &[u8]) -> Option<Name> {
    let mut b = NameBuf::new();
    for label in prefix {
        b.push_label(label).ok()?;
    }
    b.append_wire(zone).ok()?;
    Some(b.to_name())
}

impl Kubernetes {
    /// The SOA of zone `zone`, spelled `zone_as_asked`.
    pub(crate) fn soa(&self, snap: &Snapshot, zone: usize, zone_as_asked: &[u8]) -> Option<Record> {
        let serial = if self.multicluster[zone] {
            snap.multicluster_modified()
        } else {
            snap.modified()
        };
        let owner = Name::from_wire(zone_as_asked).ok()?;
        let build = || -> Option<Arc<Soa>> {
            Some(Arc::new(Soa {
                mname: prefixed(&[b"ns", b"dns"], zone_as_asked)?,
                rname: prefixed(&[b"hostmaster"], zone_as_asked)?,
                serial,
                refresh: SOA_REFRESH,
                retry: SOA_RETRY,
                expire: SOA_EXPIRE,
                minimum: self.ttl,
            }))
        };
        let soa = if zone_as_asked == self.zones[zone].wire() {
            let cached = self.soa_cache[zone].load();
            match &*cached {
                Some(s) if s.serial == serial => s.clone(),
                _ => {
                    let fresh = build()?;
                    self.soa_cache[zone].store(Some(fresh.clone()));
                    fresh
                }
            }
        } else {
            // Another spelling of the zone (0x20 case randomisation): built for this reply.
            build()?
        };
        Some(Record::new(
            owner,
            self.ttl.min(SOA_MAX_TTL),
            RData::Soa(soa),
        ))
    }

    fn zone_as_asked<'r>(&self, req: &'r Request, zone: usize) -> &'r [u8] {
        let asked = req.info.qname.wire();
        &asked[asked.len() - self.zones[zone].wire().len()..]
    }

    /// Puts the zone's SOA in the authority section (negative answers).
    pub(crate) fn push_soa(&self, snap: &Snapshot, req: &Request, zone: usize, m: &mut Message) {
        if let Some(soa) = self.soa(snap, zone, self.zone_as_asked(req, zone)) {
            m.authority.push(soa);
        }
    }

    /// Puts the zone's SOA in the answer section (SOA query at the apex).
    pub(crate) fn push_soa_answer(
        &self,
        snap: &Snapshot,
        req: &Request,
        zone: usize,
        m: &mut Message,
    ) {
        if let Some(soa) = self.soa(snap, zone, self.zone_as_asked(req, zone)) {
            m.answer.push(soa);
        }
    }

    /// Calls `f(name, address)` for each name server address of the zone spelled `zone`:
    /// the Services whose endpoints hold one of this server's addresses (cluster IPs, or
    /// for a headless service its endpoint addresses and names), else `ns.dns.<zone>` with
    /// the local addresses themselves.
    pub(crate) fn ns_addresses(
        &self,
        snap: &Snapshot,
        zone: &[u8],
        f: &mut dyn FnMut(&Name, IpAddr),
    ) {
        let mut found = false;
        for &local in &self.local_ips {
            for entry in snap.reverse(local) {
                if entry.is_service() {
                    continue;
                }
                let (namespace, service) = (entry.namespace(), entry.service());
                for slice in snap.endpoint_slices(namespace, service) {
                    if !slice
                        .endpoints
                        .iter()
                        .any(|ep| ep.addresses.contains(&local))
                    {
                        continue;
                    }
                    found = true;
                    let Some(svc) = snap.service(namespace, service) else {
                        continue;
                    };
                    if svc.kind == ServiceKind::Headless {
                        for ep in slice.endpoints.iter() {
                            for &addr in ep.addresses.iter() {
                                let target = Target::Endpoint {
                                    label: endpoint_label(ep, addr, self.endpoint_pod_names),
                                    cluster: None,
                                    service: &svc.name,
                                    namespace: &svc.namespace,
                                };
                                if let Some(name) = target.name(zone) {
                                    f(&name, addr);
                                }
                            }
                        }
                    } else {
                        let target = Target::Service {
                            service: &svc.name,
                            namespace: &svc.namespace,
                        };
                        if let Some(name) = target.name(zone) {
                            for &ip in svc.cluster_ips.iter() {
                                f(&name, ip);
                            }
                        }
                    }
                }
            }
        }
        if !found {
            if let Some(name) = prefixed(&[b"ns", b"dns"], zone) {
                for &ip in &self.local_ips {
                    f(&name, ip);
                }
            }
        }
    }

    /// The apex NS answer: one NS per distinct name server name, their addresses in the
    /// additional section.
    pub(crate) fn apex_ns(&self, snap: &Snapshot, q: Question<'_>, owner: &Name, m: &mut Message) {
        let ttl = self.ttl;
        self.ns_addresses(snap, q.zone_as_asked, &mut |name, ip| {
            let data = match ip {
                IpAddr::V4(v4) => RData::A(v4),
                IpAddr::V6(v6) => RData::Aaaa(v6),
            };
            if !m
                .additional
                .iter()
                .any(|r| r.name == *name && r.data == data)
            {
                m.additional.push(Record::new(name.clone(), ttl, data));
            }
            if !m
                .answer
                .iter()
                .any(|r| matches!(&r.data, RData::Ns(t) if t == name))
            {
                m.answer
                    .push(Record::new(owner.clone(), ttl, RData::Ns(name.clone())));
            }
        });
    }
}
