//! Cached answers for cluster names die with the watch event that changed them.
//!
//! CoreDNS's cache knows nothing about Kubernetes: a Service created right after a client
//! asked for it stays NXDOMAIN for the denial TTL, a headless Service's pod IPs stay stale
//! for the success TTL (user needs 8 and 12). The `kubernetes` plugin's index counts its
//! publishes ([`cairn_k8s::Store::generation`]); an entry for a name inside that plugin's
//! zones records the count read before the answer was computed, and a lookup only accepts
//! it while the count is unchanged. Any change to the cluster thus invalidates every cached
//! cluster name at once, which is coarse but always right, and cheap for the plugin behind:
//! cluster answers are computed from memory without allocating. The zones of a
//! `k8s_external` plugin in the same chain answer from the same index and are stamped the
//! same way. Names outside these zones (forwarded ones) keep ordinary TTL-based caching.

use std::sync::Arc;

use cairn_core::wire::name::is_subdomain_wire;
use cairn_core::wire::Name;
use cairn_core::Plugin;

use crate::k8s_external::K8sExternal;
use crate::kubernetes::Kubernetes;

/// The kubernetes plugin that follows the cache in its chain, seen from the cache.
pub(crate) struct ClusterView {
    zones: Vec<Name>,
    store: Arc<cairn_k8s::Store>,
}

impl ClusterView {
    /// Finds the kubernetes plugin among `plugins` (the rest of the chain), with the zones
    /// of a `k8s_external` plugin there, which answers from the same index.
    pub(crate) fn find(plugins: &[Arc<dyn Plugin>]) -> Option<ClusterView> {
        let kubernetes = plugins
            .iter()
            .find_map(|p| p.as_any().downcast_ref::<Kubernetes>())?;
        let external = plugins
            .iter()
            .filter_map(|p| p.as_any().downcast_ref::<K8sExternal>())
            .flat_map(|e| e.zone_names().cloned());
        Some(ClusterView {
            zones: kubernetes.zones().iter().cloned().chain(external).collect(),
            store: Arc::clone(kubernetes.store()),
        })
    }

    /// The index generation to stamp on (and require of) entries for `qname` (lower-case
    /// wire), or `None` when the name is not in a cluster zone.
    pub(crate) fn generation_for(&self, qname: &[u8]) -> Option<u64> {
        self.zones
            .iter()
            .any(|z| is_subdomain_wire(qname, z.wire()))
            .then(|| self.store.generation())
    }
}
