//! `kubernetes`: cluster DNS, answering the names of the Kubernetes DNS-Based Service
//! Discovery specification (services, endpoints, pods, SRV, PTR) from an in-memory index of
//! the cluster, with CoreDNS's answers, including its quirks (compat spec section 3).
//!
//! Why it is built this way:
//! - The objects come from a background source (the API server's watches, or manifest files)
//!   that feeds a `cairn_k8s` index; a query takes one lock-free snapshot and never waits for
//!   the API.
//! - The answer path parses the lower-cased query name in place ([`name`]), looks the labels
//!   up as `&str` and builds records into the request's pooled reply with names assembled in
//!   stack buffers, so a query allocates nothing (the negative-answer SOA is shared per zone
//!   and serial).
//! - Name errors go through one decision (fallthrough, not yet synced, NXDOMAIN) exactly
//!   like CoreDNS's handler, so NXDOMAIN vs NODATA matches record for record.

pub(crate) mod answer;
mod authority;
mod external;
mod local_addrs;
mod metrics;
pub(crate) mod name;
mod reverse;
mod search_path;
mod setup;
mod source;
mod startup;
#[cfg(test)]
mod tests;
mod zone_transfer;

pub use setup::{setup, PodMode};
pub use source::{start_api_source, ApiSettings, ClientTls, Kubeconfig, SourceError, WatchKinds};

use std::net::IpAddr;
use std::sync::Arc;

use cairn_core::arc_swap::{ArcSwap, ArcSwapOption};
use cairn_core::resolve::answer_of;
use cairn_core::wire::name::is_subdomain_wire;
use cairn_core::wire::{Message, Name, RData, RType, Rcode, Record, Soa};
use cairn_core::zones::Fallthrough;
use cairn_core::{AutoPather, Next, Plugin, Request, Served, Transferer};
use cairn_k8s::{Snapshot, Store};

use answer::Missing;
use setup::Options;

/// The `kubernetes` handler of one server block.
pub struct Kubernetes {
    /// Zones served, lower case.
    zones: Vec<Name>,
    /// For each zone: answered from ServiceImports (`multicluster`).
    multicluster: Vec<bool>,
    /// First non-reverse zone: the suffix of PTR targets.
    primary_zone: Name,
    store: Arc<Store>,
    /// `namespaces`: only these are served (empty = all).
    namespaces: Vec<String>,
    pods: PodMode,
    endpoint_pod_names: bool,
    ttl: u32,
    fall: Fallthrough,
    ignore_empty_service: bool,
    zonal: bool,
    /// Non-loopback addresses this server listens on (for NS and `ns.dns.<zone>`).
    local_ips: Vec<IpAddr>,
    /// The `dns-version` TXT data.
    dns_version: RData,
    /// Per zone, the last negative-answer SOA built (lower-case zone), reused while the
    /// serial stays the same.
    soa_cache: Vec<ArcSwapOption<Soa>>,
    /// This host's resolver search domains, appended to every pod's search path.
    host_search: Vec<Name>,
    /// Search paths built so far for `autopath @kubernetes`, per zone and namespace.
    search_paths: ArcSwap<search_path::SearchPaths>,
}

/// The schema version of the Kubernetes DNS specification served at `dns-version.<zone>`.
const DNS_SCHEMA_VERSION: &str = "1.1.0";
/// TTL of the `dns-version` record (fixed, whatever `ttl` says).
const DNS_VERSION_TTL: u32 = 28800;

impl Kubernetes {
    /// The handler for `options`, reading `store`, with `local_ips` as its own addresses.
    fn new(options: &Options, store: Arc<Store>, local_ips: Vec<IpAddr>) -> Kubernetes {
        let multicluster = options
            .zones
            .iter()
            .map(|z| {
                options
                    .multicluster
                    .iter()
                    .any(|mc| is_subdomain_wire(z.wire(), mc.wire()))
            })
            .collect();
        Kubernetes {
            zones: options.zones.clone(),
            multicluster,
            primary_zone: options.zones[options.primary_zone].clone(),
            store,
            namespaces: options.namespaces.clone(),
            pods: options.pods,
            endpoint_pod_names: options.endpoint_pod_names,
            ttl: options.ttl,
            fall: options.fall.clone(),
            ignore_empty_service: options.ignore_empty_service,
            zonal: options.zonal,
            local_ips,
            dns_version: RData::txt(&[DNS_SCHEMA_VERSION]),
            soa_cache: options
                .zones
                .iter()
                .map(|_| ArcSwapOption::empty())
                .collect(),
            host_search: Vec::new(),
            search_paths: ArcSwap::from_pointee(vec![Default::default(); options.zones.len()]),
        }
    }

    /// The zones this plugin is authoritative for (lower case, in Corefile order). For
    /// `transfer` and `k8s_external`.
    pub fn zones(&self) -> &[Name] {
        &self.zones
    }

    /// The index the plugin answers from: `load()` a snapshot to read services, endpoints
    /// and pods (for `transfer`, `k8s_external`, `autopath`).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The TTL of generated records (`ttl`, default 5).
    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    /// The namespace of the pod whose IP is `client`, for `autopath @kubernetes`. `None`
    /// unless `pods verified` is set (only then are pods watched) and a watched pod has that
    /// `status.podIP`; when several pods share the IP (host network), the first by
    /// namespace and name. Allocation-free: the name is shared with the index.
    pub fn client_namespace(&self, client: IpAddr) -> Option<Arc<str>> {
        if self.pods != PodMode::Verified {
            return None;
        }
        self.store
            .load()
            .pod_by_ip(client)
            .map(|pod| pod.namespace.clone())
    }

    /// The index of the longest zone `qname` (lower-case wire) lies in.
    fn zone_index(&self, qname: &[u8]) -> Option<usize> {
        self.zones
            .iter()
            .enumerate()
            .filter(|(_, z)| is_subdomain_wire(qname, z.wire()))
            .max_by_key(|(_, z)| z.wire().len())
            .map(|(i, _)| i)
    }

    /// True when `namespace` is served: allowed by `namespaces` and existing in the index.
    pub(crate) fn namespace_exposed(&self, snap: &Snapshot, namespace: &str) -> bool {
        self.namespace_configured(namespace) && snap.namespace(namespace).is_some()
    }

    /// True when the `namespaces` option allows `namespace` (or is not set).
    fn namespace_configured(&self, namespace: &str) -> bool {
        self.namespaces.is_empty() || self.namespaces.iter().any(|n| n == namespace)
    }
}

/// The target of an ExternalName CNAME that ends an A/AAAA answer: a name outside the zone,
/// whose addresses only the rest of the server can find.
fn external_target(qtype: RType, m: &Message) -> Option<Name> {
    if qtype != RType::A && qtype != RType::AAAA {
        return None;
    }
    match m.answer.last() {
        Some(Record {
            data: RData::Cname(target),
            ..
        }) => Some(target.clone()),
        _ => None,
    }
}

impl Kubernetes {
    /// Completes an answer that ends with a CNAME to a name outside the zone by looking the
    /// target up through the whole server (CoreDNS's upstream lookup): the CNAME and the
    /// target's answer records. When the lookup cannot be made or fails, the CNAME is
    /// dropped and the answer is NODATA, as in CoreDNS.
    fn chase_external<'a>(
        &'a self,
        req: Box<Request>,
        mut m: Message,
        zone: usize,
        target: Name,
    ) -> Served<'a> {
        let qtype = req.qtype();
        let lookup = req.lookup_through_server(&target, qtype);
        Served::Pending(Box::pin(async move {
            let found = match lookup {
                Ok(fut) => answer_of(fut).await.ok(),
                Err(_) => None,
            };
            match found {
                Some(found) => m.answer.extend(found.answer),
                None => {
                    m.answer.pop();
                    if m.answer.is_empty() {
                        m.additional.clear();
                        let snap = self.store.load();
                        self.push_soa(&snap, &req, zone, &mut m);
                    }
                }
            }
            (req, Ok(m))
        }))
    }
}

impl Plugin for Kubernetes {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn serve<'a>(&'a self, mut req: Box<Request>, next: Next<'a>) -> Served<'a> {
        let Some(zone) = self.zone_index(req.qname_lower.wire()) else {
            return next.run(req);
        };
        let qtype = req.qtype();
        if qtype == RType::AXFR || qtype == RType::IXFR {
            // Zone transfers are the `transfer` plugin's; without it they are refused.
            let m = req.reply_rcode(Rcode::REFUSED);
            return Served::reply(req, m);
        }
        let mut m = req.reply();
        let snap = self.store.load();
        let result = self.answer(&snap, &req, zone, &mut m);
        m.flags.aa = true;
        match result {
            Ok(()) if !m.answer.is_empty() => {
                if let Some(target) = external_target(qtype, &m) {
                    drop(snap);
                    return self.chase_external(req, m, zone, target);
                }
            }
            Ok(()) => {
                // NODATA: only the SOA.
                m.additional.clear();
                self.push_soa(&snap, &req, zone, &mut m);
            }
            Err(Missing) => {
                if self.fall.through(req.qname_lower.wire()) {
                    drop(snap);
                    req.recycle(m);
                    return next.run(req);
                }
                m.answer.clear();
                m.additional.clear();
                // Before the first sync a name error may only mean "not seen yet".
                m.rcode = if self.store.is_synced() {
                    Rcode::NXDOMAIN
                } else {
                    Rcode::SERVFAIL
                };
                self.push_soa(&snap, &req, zone, &mut m);
            }
        }
        Served::reply(req, m)
    }

    fn ready(&self) -> Option<bool> {
        Some(self.store.is_synced())
    }

    fn transferer(&self) -> Option<&dyn Transferer> {
        Some(self)
    }

    fn auto_pather(&self) -> Option<&dyn AutoPather> {
        Some(self)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
