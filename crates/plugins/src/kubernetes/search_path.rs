//! The search path of the pod that sent a query, for `autopath @kubernetes`.
//!
//! A pod's resolv.conf searches `<ns>.svc.<zone>`, `svc.<zone>`, `<zone>` and then the node's
//! own search domains. With `pods verified` the index knows which pod owns the client address,
//! so the server can walk that list itself (compat spec section 3.7). The list depends only on
//! the zone and the namespace, so it is built once per (zone, namespace) and shared: the map
//! is copy-on-write behind an `ArcSwap`, a query reads it without a lock and allocates nothing,
//! and only the first query from a new namespace builds and inserts its list.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use cairn_core::wire::{Name, NameBuf};
use cairn_core::{AutoPather, Request};

use super::{Kubernetes, PodMode};

/// Per zone (index in the plugin's zones), the search list of each namespace seen.
pub(crate) type SearchPaths = Vec<HashMap<Arc<str>, Arc<[Name]>>>;

/// Past this many cached lists (namespaces come and go), the cache starts over.
const MAX_CACHED_PATHS: usize = 10_000;

/// The search domains of this host's resolver configuration (CoreDNS appends those of its own
/// `/etc/resolv.conf` to every pod's list), without the trailing root. Empty when the file
/// cannot be read or parsed, as in CoreDNS.
pub(crate) fn host_search_domains(path: &Path) -> Vec<Name> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut domains = crate::autopath::search_domains(&text).unwrap_or_default();
    domains.retain(|d| !d.is_root());
    domains
}

impl Kubernetes {
    /// `[<ns>.svc.<zone>, svc.<zone>, <zone>, <host search domains>..., .]`.
    fn build_search_path(&self, zone: usize, namespace: &str) -> Option<Arc<[Name]>> {
        let apex = self.zones[zone].wire();
        let mut b = NameBuf::new();
        b.push_label(namespace.as_bytes()).ok()?;
        b.push_label(b"svc").ok()?;
        b.append_wire(apex).ok()?;
        let with_namespace = b.to_name().to_lowercase();
        b.clear();
        b.push_label(b"svc").ok()?;
        b.append_wire(apex).ok()?;
        let svc = b.to_name();
        let mut path = vec![with_namespace, svc, self.zones[zone].clone()];
        path.extend(self.host_search.iter().cloned());
        path.push(Name::root());
        Some(path.into())
    }
}

impl AutoPather for Kubernetes {
    fn search_path(&self, req: &Request) -> Option<Arc<[Name]>> {
        if self.pods != PodMode::Verified {
            return None;
        }
        let zone = self.zone_index(req.qname_lower.wire())?;
        let snap = self.store.load();
        let pod = snap.pod_by_ip(req.client.ip().to_canonical())?;
        if let Some(path) = self.search_paths.load()[zone].get(&*pod.namespace) {
            return Some(path.clone());
        }
        let path = self.build_search_path(zone, &pod.namespace)?;
        let namespace = pod.namespace.clone();
        self.search_paths.rcu(|old| {
            let mut new: SearchPaths = (**old).clone();
            if new.iter().map(HashMap::len).sum::<usize>() >= MAX_CACHED_PATHS {
                new.iter_mut().for_each(HashMap::clear);
            }
            new[zone].insert(namespace.clone(), path.clone());
            new
        });
        Some(path)
    }
}
