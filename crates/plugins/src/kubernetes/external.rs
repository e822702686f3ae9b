//! What `k8s_external` needs from the `kubernetes` handler of its block: which namespaces are
//! served, how endpoints are labelled, and this server's own external addresses (the glue of
//! `ns1.<apex>.<zone>`).
//!
//! `k8s_external` answers from the same index and with the same namespace rules as the
//! cluster zone (CoreDNS implements it as an interface on its kubernetes plugin), so these
//! accessors expose exactly the handler's private settings it depends on and nothing else.

use std::net::IpAddr;

use cairn_k8s::{EndpointEntry, ServiceKind, Snapshot};

use super::answer::{endpoint_label, EndpointLabel};
use super::Kubernetes;

impl AsRef<[u8]> for EndpointLabel<'_> {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Kubernetes {
    /// True when a service of `namespace` may name an external IP in a PTR answer: with
    /// `namespaces` set it must be one of them and exist; without, any (CoreDNS's
    /// `serviceRecordForExternalIP`).
    pub(crate) fn external_reverse_visible(&self, snap: &Snapshot, namespace: &str) -> bool {
        self.namespaces.is_empty() || self.namespace_exposed(snap, namespace)
    }

    /// The label of endpoint address `addr` of `ep`: its hostname, its pod name with
    /// `endpoint_pod_names`, else the dashed address.
    pub(crate) fn external_endpoint_label<'e>(
        &self,
        ep: &'e EndpointEntry,
        addr: IpAddr,
    ) -> impl AsRef<[u8]> + Copy + 'e {
        endpoint_label(ep, addr, self.endpoint_pod_names)
    }

    /// Calls `f` with each external address of this server, for `ns1.<apex>.<zone>`
    /// (CoreDNS's `nsAddrs` in external mode): for every service whose endpoints hold one of
    /// this server's addresses, its external IPs, or with `headless` and a headless service
    /// that slice's endpoint addresses; when no endpoint holds a local address, the local
    /// addresses themselves.
    pub(crate) fn external_ns_addresses(
        &self,
        snap: &Snapshot,
        headless: bool,
        f: &mut dyn FnMut(IpAddr),
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
                    if headless && svc.kind == ServiceKind::Headless {
                        for ep in slice.endpoints.iter() {
                            for &addr in ep.addresses.iter() {
                                f(addr);
                            }
                        }
                    } else {
                        for address in svc.external.iter() {
                            // A load-balancer hostname is no address.
                            if let cairn_k8s::ExternalAddress::Ip(ip) = address {
                                f(*ip);
                            }
                        }
                    }
                }
            }
        }
        if !found {
            for &ip in &self.local_ips {
                f(ip);
            }
        }
    }
}

#[cfg(test)]
impl Kubernetes {
    /// A handler parsed from `corefile` over the objects of `yaml` (marked synced or not),
    /// with `local_ips` as this server's addresses: for `k8s_external`'s tables.
    pub(crate) fn for_external_tests(
        corefile: &str,
        yaml: &str,
        synced: bool,
        local_ips: Vec<IpAddr>,
    ) -> Kubernetes {
        use cairn_k8s::{manifest, Change, Store};

        let (options, _) = cairn_core::testing::with_setup_ctx(
            "kubernetes",
            corefile,
            Some(std::path::PathBuf::from("/etc/cairn")),
            |ctx| super::setup::parse_options(ctx),
        )
        .unwrap_or_else(|e| panic!("{e}\n{corefile}"));
        let (store, mut writer) = Store::new(super::setup::index_config(&options));
        let objects = manifest::parse_str("fixture", yaml).unwrap_or_else(|e| panic!("{e}"));
        if synced {
            manifest::apply_all(&mut writer, objects);
        } else {
            for kind in writer.config().kinds().iter() {
                let list = objects
                    .iter()
                    .filter(|o| o.kind() == kind)
                    .cloned()
                    .collect();
                writer.apply(Change::Replace(kind, list));
            }
            writer.publish();
        }
        Kubernetes::new(&options, store, local_ips)
    }
}
