//! The cluster zone as a record list, for outgoing zone transfers (`transfer cluster.local`).
//!
//! A cluster zone has no zone file: its content is generated from the index in the order
//! CoreDNS's kubernetes plugin streams it (compat spec section 3.8), so a secondary that
//! mirrors the cluster zone from CoreDNS sees the same records from Cairn:
//! SOA; the apex NS names and their addresses; then every service of an exposed namespace,
//! sorted by service name — ClusterIP services as their addresses plus SRV on the bare name
//! and on `_port._proto` for named ports, headless services as each ready endpoint's address
//! on the service name and on the endpoint name plus SRV per named port, ExternalName
//! services as a CNAME. Pod names, PTRs, endpoint names of ClusterIP services and
//! `dns-version` are not part of the zone, as in CoreDNS.
//!
//! Transfers are rare and run off the query path, so this builds an owned list.

use std::net::IpAddr;
use std::sync::Arc;

use cairn_core::wire::{Name, NameBuf, RData, Record};
use cairn_core::Transferer;
use cairn_k8s::{EndpointSliceEntry, ImportKind, Port, ServiceKind, Snapshot};

use super::answer::{address_rdata, endpoint_label, srv_weight, Target};
use super::Kubernetes;

/// What a transfer lists for one service or ServiceImport.
struct ServiceView<'s> {
    namespace: &'s str,
    name: &'s str,
    /// Cluster IPs (ClusterIP services) or cluster-set IPs (imports); empty means the
    /// records come from the endpoints.
    ips: &'s [IpAddr],
    ports: &'s [Port],
    slices: &'s [Arc<EndpointSliceEntry>],
    /// The CNAME target of an ExternalName service.
    external_name: Option<&'s str>,
}

/// `_<port>._<proto>.<service>.<namespace>.svc.<zone>`, lower case.
fn port_owner(port: &Port, service: &str, namespace: &str, zone: &[u8]) -> Option<Name> {
    let mut b = NameBuf::new();
    let port_label = format!("_{}", port.name.to_ascii_lowercase());
    let proto_label = format!("_{}", port.protocol.as_label());
    b.push_label(port_label.as_bytes()).ok()?;
    b.push_label(proto_label.as_bytes()).ok()?;
    b.push_label(service.as_bytes()).ok()?;
    b.push_label(namespace.as_bytes()).ok()?;
    b.push_label(b"svc").ok()?;
    b.append_wire(zone).ok()?;
    Some(b.to_name())
}

/// A port with a name gets an `_name._proto` SRV name (the spec gives unnamed ports none).
fn is_named(port: &Port) -> bool {
    port.is_real() && !port.name.is_empty()
}

impl Kubernetes {
    /// Appends the records of one service to `out`.
    fn transfer_service(&self, svc: &ServiceView<'_>, zone: &[u8], out: &mut Vec<Record>) {
        let ttl = self.ttl;
        let service_target = Target::Service {
            service: svc.name,
            namespace: svc.namespace,
        };
        let Some(service_name) = service_target.name(zone) else {
            return;
        };
        if let Some(target) = svc.external_name {
            // An IP literal is not a CNAME target: such a service has no record.
            if target.parse::<IpAddr>().is_err() {
                let mut b = NameBuf::new();
                if b.push_text(target, None).is_ok() {
                    out.push(Record::new(service_name, ttl, RData::Cname(b.to_name())));
                }
            }
            return;
        }
        if !svc.ips.is_empty() {
            for &ip in svc.ips.iter() {
                out.push(Record::new(service_name.clone(), ttl, address_rdata(ip)));
            }
            for port in svc.ports.iter().filter(|p| p.is_real()) {
                let Ok(number) = u16::try_from(port.port) else {
                    continue;
                };
                let srv = RData::Srv {
                    priority: 0,
                    weight: 100,
                    port: number,
                    target: service_name.clone(),
                };
                // The bare-name SRV exists for peer-finder style clients (CoreDNS #823).
                out.push(Record::new(service_name.clone(), ttl, srv.clone()));
                if is_named(port) {
                    if let Some(owner) = port_owner(port, svc.name, svc.namespace, zone) {
                        out.push(Record::new(owner, ttl, srv));
                    }
                }
            }
            return;
        }
        for slice in svc.slices {
            let addresses: usize = slice.endpoints.iter().map(|ep| ep.addresses.len()).sum();
            let weight = srv_weight(addresses);
            for ep in slice.endpoints.iter() {
                for &addr in ep.addresses.iter() {
                    let data = address_rdata(addr);
                    out.push(Record::new(service_name.clone(), ttl, data.clone()));
                    let target = Target::Endpoint {
                        label: endpoint_label(ep, addr, self.endpoint_pod_names),
                        cluster: None,
                        service: svc.name,
                        namespace: svc.namespace,
                    };
                    let Some(endpoint_name) = target.name(zone) else {
                        continue;
                    };
                    out.push(Record::new(endpoint_name.clone(), ttl, data));
                    for port in slice.ports.iter().filter(|p| is_named(p)) {
                        let (Ok(number), Some(owner)) = (
                            u16::try_from(port.port),
                            port_owner(port, svc.name, svc.namespace, zone),
                        ) else {
                            continue;
                        };
                        out.push(Record::new(
                            owner,
                            ttl,
                            RData::Srv {
                                priority: 0,
                                weight,
                                port: number,
                                target: endpoint_name.clone(),
                            },
                        ));
                    }
                }
            }
        }
    }

    /// The services of a normal cluster zone, sorted by name (then namespace, so that the
    /// order is stable where CoreDNS's sort leaves it open).
    fn transfer_services(&self, snap: &Snapshot, zone: &[u8], out: &mut Vec<Record>) {
        let mut services: Vec<_> = snap
            .services()
            .filter(|s| self.namespace_exposed(snap, &s.namespace))
            .collect();
        services.sort_by(|a, b| (&a.name, &a.namespace).cmp(&(&b.name, &b.namespace)));
        for svc in services {
            let view = ServiceView {
                namespace: &svc.namespace,
                name: &svc.name,
                ips: match svc.kind {
                    ServiceKind::ClusterIp => &svc.cluster_ips,
                    _ => &[],
                },
                ports: &svc.ports,
                slices: match svc.kind {
                    ServiceKind::ExternalName => &[],
                    _ => snap.endpoint_slices(&svc.namespace, &svc.name),
                },
                external_name: match svc.kind {
                    ServiceKind::ExternalName => Some(svc.external_name.as_deref().unwrap_or("")),
                    _ => None,
                },
            };
            self.transfer_service(&view, zone, out);
        }
    }

    /// The ServiceImports of a multicluster zone, sorted the same way. Endpoint names carry
    /// no cluster label here, as in CoreDNS's transfer.
    fn transfer_imports(&self, snap: &Snapshot, zone: &[u8], out: &mut Vec<Record>) {
        let mut imports: Vec<_> = snap
            .service_imports()
            .filter(|s| self.namespace_exposed(snap, &s.namespace))
            .collect();
        imports.sort_by(|a, b| (&a.name, &a.namespace).cmp(&(&b.name, &b.namespace)));
        for import in imports {
            let view = ServiceView {
                namespace: &import.namespace,
                name: &import.name,
                ips: match import.kind {
                    ImportKind::ClusterSetIp => &import.ips,
                    ImportKind::Headless => &[],
                },
                ports: &import.ports,
                slices: snap.multicluster_endpoint_slices(&import.namespace, &import.name),
                external_name: None,
            };
            self.transfer_service(&view, zone, out);
        }
    }
}

impl Transferer for Kubernetes {
    fn transfer(&self, zone: &Name) -> Option<Vec<Record>> {
        let index = self.zones.iter().position(|z| z.eq_ignore_case(zone))?;
        let snap = self.store.load();
        let zone_wire = self.zones[index].wire();
        let soa = self.soa(&snap, index, zone_wire)?;
        let mut out = vec![soa];
        let apex = self.zones[index].clone();
        let mut glue = Vec::new();
        self.ns_addresses(&snap, zone_wire, &mut |name, ip| {
            let ns = RData::Ns(name.clone());
            if !out.iter().any(|r| r.data == ns) {
                out.push(Record::new(apex.clone(), self.ttl, ns));
            }
            glue.push(Record::new(name.clone(), self.ttl, address_rdata(ip)));
        });
        out.append(&mut glue);
        if self.multicluster[index] {
            self.transfer_imports(&snap, zone_wire, &mut out);
        } else {
            self.transfer_services(&snap, zone_wire, &mut out);
        }
        Some(out)
    }
}
