//! What a name under an external zone holds (CoreDNS's `External` on its kubernetes plugin).
//!
//! The labels before the zone read right to left: the namespace, the service, then either
//! nothing, one endpoint label, or `_<port>._<protocol>` (underscores optional). A service
//! holds its external addresses (external IPs, load-balancer ingress IPs and hostnames) on
//! each of its matching ports; with `headless`, a service without external addresses that
//! is headless (or is asked for by endpoint label) holds its ready endpoints instead. The
//! matches go to a callback, so no list is built.

use std::net::IpAddr;

use cairn_core::wire::{Name, NameBuf};
use cairn_k8s::{EndpointEntry, ExternalAddress, Snapshot};

use super::K8sExternal;
use crate::kubernetes::answer::port_matches;
use crate::kubernetes::name::strip_underscore;
use crate::kubernetes::Kubernetes;

/// The name does not exist (or its namespace is not served): NXDOMAIN or fallthrough.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Missing;

/// Most labels a name may have before the zone: `_port._proto.service.namespace`.
const MAX_LABELS: usize = 4;

/// What an entry points to.
#[derive(Debug, Clone, Copy)]
pub(super) enum Host<'s> {
    Ip(IpAddr),
    /// A load-balancer ingress hostname, as written (answered as a CNAME target).
    Name(&'s str),
}

/// Where an entry's SRV target (and its additional record) is named.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target<'s> {
    /// `<service>.<namespace>.<zone>`.
    Service {
        service: &'s str,
        namespace: &'s str,
    },
    /// `<endpoint label>.<service>.<namespace>.<zone>`.
    Endpoint {
        ep: &'s EndpointEntry,
        addr: IpAddr,
        service: &'s str,
        namespace: &'s str,
    },
}

impl Target<'_> {
    /// The target name under `zone` (lower case); `None` only when it would be too long.
    pub fn name(&self, k: &Kubernetes, zone: &Name) -> Option<Name> {
        let mut b = NameBuf::new();
        let (service, namespace) = match *self {
            Target::Service { service, namespace } => (service, namespace),
            Target::Endpoint {
                ep,
                addr,
                service,
                namespace,
            } => {
                b.push_label(k.external_endpoint_label(ep, addr).as_ref())
                    .ok()?;
                (service, namespace)
            }
        };
        b.push_label(service.as_bytes()).ok()?;
        b.push_label(namespace.as_bytes()).ok()?;
        b.append_wire(zone.wire()).ok()?;
        Some(b.to_name())
    }
}

/// One thing a name holds: an address (or hostname) on a port.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry<'s> {
    pub host: Host<'s>,
    /// The port; [`Port::NONE`] when the object has none (no SRV then).
    pub port: i32,
    pub target: Target<'s>,
}

/// Splits `rest` (wire labels before the zone, no root) into at most [`MAX_LABELS`]
/// labels, left to right; `None` when there are more.
fn split_labels(rest: &[u8]) -> Option<([&[u8]; MAX_LABELS], usize)> {
    let mut labels: [&[u8]; MAX_LABELS] = [&[]; MAX_LABELS];
    let mut count = 0;
    let mut pos = 0;
    while pos < rest.len() {
        let len = usize::from(rest[pos]);
        let label = rest.get(pos + 1..pos + 1 + len)?;
        *labels.get_mut(count)? = label;
        count += 1;
        pos += 1 + len;
    }
    Some((labels, count))
}

impl K8sExternal {
    /// Calls `f` with every entry of the name whose labels before the zone are `rest`.
    /// `Ok` when the name exists (a served namespace, or a service with matching entries),
    /// even without entries; `Err(Missing)` otherwise.
    pub(super) fn entries<'s>(
        &self,
        k: &Kubernetes,
        snap: &'s Snapshot,
        rest: &[u8],
        f: &mut dyn FnMut(Entry<'s>),
    ) -> Result<(), Missing> {
        let (labels, count) = split_labels(rest).ok_or(Missing)?;
        let labels = &labels[..count];
        let Some((&namespace, left)) = labels.split_last() else {
            // The apex itself (answered elsewhere).
            return Ok(());
        };
        let namespace = std::str::from_utf8(namespace).map_err(|_| Missing)?;
        if !k.namespace_exposed(snap, namespace) {
            return Err(Missing);
        }
        let Some((&service, prefix)) = left.split_last() else {
            // `<namespace>.<zone>` exists and holds nothing.
            return Ok(());
        };
        let service = std::str::from_utf8(service).map_err(|_| Missing)?;
        let (endpoint, port, protocol): (Option<&[u8]>, &[u8], &[u8]) = match prefix {
            [] => (None, &[], &[]),
            [endpoint] => (Some(strip_underscore(endpoint)), &[], &[]),
            [port, protocol] => (None, strip_underscore(port), strip_underscore(protocol)),
            _ => return Err(Missing),
        };
        let svc = snap.service(namespace, service).ok_or(Missing)?;
        let (svc_name, svc_ns): (&'s str, &'s str) = (&svc.name, &svc.namespace);
        let mut found = false;
        if self.headless && svc.external.is_empty() && (svc.is_headless() || endpoint.is_some()) {
            for slice in snap.endpoint_slices(svc_ns, svc_name) {
                for ep in slice.endpoints.iter() {
                    for &addr in ep.addresses.iter() {
                        if let Some(want) = endpoint {
                            let label = k.external_endpoint_label(ep, addr);
                            if !want.eq_ignore_ascii_case(label.as_ref()) {
                                continue;
                            }
                        }
                        for p in slice.ports.iter() {
                            if !port_matches(port, protocol, p) {
                                continue;
                            }
                            found = true;
                            f(Entry {
                                host: Host::Ip(addr),
                                port: p.port,
                                target: Target::Endpoint {
                                    ep,
                                    addr,
                                    service: svc_name,
                                    namespace: svc_ns,
                                },
                            });
                        }
                    }
                }
            }
        } else if endpoint.is_none() {
            // (An endpoint label under a service answered from its external addresses names
            // nothing: CoreDNS would answer it with the service's addresses.)
            for address in svc.external.iter() {
                let host = match address {
                    ExternalAddress::Ip(ip) => Host::Ip(*ip),
                    ExternalAddress::Hostname(h) => Host::Name(h),
                };
                for p in svc.ports.iter() {
                    if !port_matches(port, protocol, p) {
                        continue;
                    }
                    found = true;
                    f(Entry {
                        host,
                        port: p.port,
                        target: Target::Service {
                            service: svc_name,
                            namespace: svc_ns,
                        },
                    });
                }
            }
        }
        if found {
            Ok(())
        } else {
            Err(Missing)
        }
    }

    /// Calls `f` with the service (namespace, name) of every external IP entry for `ip`
    /// whose namespace may be shown (PTR answers).
    pub(super) fn reverse<'s>(
        k: &Kubernetes,
        snap: &'s Snapshot,
        ip: IpAddr,
        f: &mut dyn FnMut(&'s str, &'s str),
    ) {
        for entry in snap.services_by_external_ip(ip) {
            if k.external_reverse_visible(snap, entry.namespace()) {
                f(entry.namespace(), entry.service());
            }
        }
    }
}
