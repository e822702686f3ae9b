//! How each query type turns the entries of a name into records (CoreDNS's
//! `msg_to_dns.go`): addresses deduplicated, a load-balancer hostname as a CNAME whose
//! target is then looked up through the server, SRV records with CoreDNS's weights and the
//! targets' addresses as additional records, PTR for external IPs. Other types, and types
//! a name has nothing of, are NODATA.

use cairn_core::wire::{Message, Name, NameBuf, RData, RType, Record};
use cairn_core::Request;
use cairn_k8s::Snapshot;

use super::lookup::{Host, Missing};
use super::{Chase, K8sExternal, Zone};
use crate::kubernetes::answer::{address_rdata, srv_weight};
use crate::kubernetes::name::reverse_address;
use crate::kubernetes::Kubernetes;

/// A hostname as an absolute name; `None` when it is not a valid name.
fn host_name(text: &str) -> Option<Name> {
    let mut b = NameBuf::new();
    b.push_text(text, None).ok()?;
    Some(b.to_name())
}

impl K8sExternal {
    /// Fills `m` for a name below the zone (not the apex, not under `<apex>`); `chase` is
    /// set when hostnames must be looked up. `Err(Missing)` is a name error; `Ok` with no
    /// answer is NODATA.
    pub(super) fn answer(
        &self,
        k: &Kubernetes,
        snap: &Snapshot,
        req: &Request,
        zi: usize,
        m: &mut Message,
        chase: &mut Option<Chase>,
    ) -> Result<(), Missing> {
        let zone = &self.zones[zi];
        let lower = req.qname_lower.wire();
        let rest = &lower[..lower.len() - zone.name.wire().len()];
        let qtype = req.qtype();
        match qtype {
            RType::A | RType::AAAA => {
                let owner = req.qname();
                let mut targets = Vec::new();
                self.entries(k, snap, rest, &mut |e| match e.host {
                    Host::Ip(ip) => {
                        let data = address_rdata(ip);
                        if data.natural_type() == qtype && !m.answer.iter().any(|r| r.data == data)
                        {
                            m.answer.push(Record::new(owner.clone(), self.ttl, data));
                        }
                    }
                    Host::Name(text) => {
                        let Some(target) = host_name(text) else {
                            return;
                        };
                        if !targets.contains(&target) {
                            m.answer.push(Record::new(
                                owner.clone(),
                                self.ttl,
                                RData::Cname(target.clone()),
                            ));
                            targets.push(target);
                        }
                    }
                })?;
                if !targets.is_empty() {
                    *chase = Some(Chase::Addresses { qtype, targets });
                }
                Ok(())
            }
            RType::SRV => {
                let mut glue = Vec::new();
                self.srv(k, snap, rest, zone, &req.qname(), m, &mut glue)?;
                if !glue.is_empty() {
                    *chase = Some(Chase::Glue { targets: glue });
                }
                Ok(())
            }
            RType::PTR => match reverse_address(lower) {
                Some(ip) => {
                    let owner = req.qname();
                    let suffix = &self.zones[0].name;
                    Self::reverse(k, snap, ip, &mut |namespace, service| {
                        let mut b = NameBuf::new();
                        let built = b.push_label(service.as_bytes()).is_ok()
                            && b.push_label(namespace.as_bytes()).is_ok()
                            && b.append_wire(suffix.wire()).is_ok();
                        if !built {
                            return;
                        }
                        let target = b.to_name();
                        if !m
                            .answer
                            .iter()
                            .any(|r| matches!(&r.data, RData::Ptr(t) if *t == target))
                        {
                            m.answer
                                .push(Record::new(owner.clone(), self.ttl, RData::Ptr(target)));
                        }
                    });
                    if m.answer.is_empty() {
                        Err(Missing)
                    } else {
                        Ok(())
                    }
                }
                // Not a reverse address: only NODATA or NXDOMAIN.
                None => self.entries(k, snap, rest, &mut |_| {}),
            },
            _ => self.entries(k, snap, rest, &mut |_| {}),
        }
    }

    /// SRV: one record per (target, port), weight 100/N shared among the N entries; for
    /// addresses the target's A/AAAA in the additional section, for hostnames the target
    /// goes to `glue` to be looked up.
    #[allow(clippy::too_many_arguments)]
    fn srv(
        &self,
        k: &Kubernetes,
        snap: &Snapshot,
        rest: &[u8],
        zone: &Zone,
        owner: &Name,
        m: &mut Message,
        glue: &mut Vec<Name>,
    ) -> Result<(), Missing> {
        let mut n = 0usize;
        self.entries(k, snap, rest, &mut |_| n += 1)?;
        let weight = srv_weight(n);
        self.entries(k, snap, rest, &mut |e| {
            let Ok(port) = u16::try_from(e.port) else {
                // The no-ports sentinel gives no SRV.
                return;
            };
            let (target, address) = match e.host {
                Host::Name(text) => match host_name(text) {
                    Some(t) => (t, None),
                    None => return,
                },
                Host::Ip(ip) => match e.target.name(k, &zone.name) {
                    Some(t) => (t, Some(address_rdata(ip))),
                    None => return,
                },
            };
            let duplicate = m.answer.iter().any(|r| {
                matches!(&r.data, RData::Srv { port: p, target: t, .. } if *p == port && *t == target)
            });
            if !duplicate {
                m.answer.push(Record::new(
                    owner.clone(),
                    self.ttl,
                    RData::Srv {
                        priority: 0,
                        weight,
                        port,
                        target: target.clone(),
                    },
                ));
            }
            match address {
                Some(data) => {
                    if !m
                        .additional
                        .iter()
                        .any(|r| r.name == target && r.data == data)
                    {
                        m.additional.push(Record::new(target, self.ttl, data));
                    }
                }
                None => {
                    if !glue.contains(&target) {
                        glue.push(target);
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn hostnames_become_absolute_names() {
        assert_eq!(
            host_name("lb.example.net").map(|n| n.to_string()),
            Some("lb.example.net.".to_string())
        );
        assert_eq!(
            host_name("lb.example.net.").map(|n| n.to_string()),
            Some("lb.example.net.".to_string())
        );
        assert!(host_name("a..b").is_none());
    }
}
