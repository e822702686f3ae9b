//! PTR answers: which service or endpoint an address belongs to.
//!
//! A cluster IP names its service (the first one, when several claim it); otherwise every
//! ready endpoint at that address names itself under its service. Targets always use the
//! primary zone (the first non-reverse zone of the plugin), as CoreDNS's do. PTR queries for
//! names that are not reverse addresses follow the forward grammar and only ever give
//! NODATA or NXDOMAIN.

use cairn_core::wire::{Message, Name, RData, Record};
use cairn_k8s::Snapshot;

use super::answer::{endpoint_label, Missing, Question, Target};
use super::name::reverse_address;
use super::Kubernetes;

impl Kubernetes {
    /// True when an entry's namespace may be shown: with `namespaces` set, it must be one of
    /// them and exist; without, any.
    fn reverse_visible(&self, snap: &Snapshot, namespace: &str) -> bool {
        self.namespaces.is_empty() || self.namespace_exposed(snap, namespace)
    }

    /// Fills `m` with the PTR records of `q`.
    pub(crate) fn ptr(
        &self,
        snap: &Snapshot,
        q: Question<'_>,
        owner: &Name,
        m: &mut Message,
    ) -> Result<(), Missing> {
        let Some(ip) = reverse_address(q.lower) else {
            return self.records(snap, q, &mut |_| {});
        };
        let primary = self.primary_zone.wire();
        let entries = snap.reverse(ip);
        for entry in entries {
            if entry.is_service() {
                let (namespace, name) = (entry.namespace(), entry.service());
                if !self.reverse_visible(snap, namespace) {
                    continue;
                }
                let target = Target::Service {
                    service: name,
                    namespace,
                };
                if let Some(t) = target.name(primary) {
                    m.answer
                        .push(Record::new(owner.clone(), self.ttl, RData::Ptr(t)));
                    return Ok(());
                }
            }
        }
        for entry in entries {
            if entry.is_service() {
                continue;
            }
            let (namespace, service) = (entry.namespace(), entry.service());
            if !self.reverse_visible(snap, namespace) {
                continue;
            }
            for (_, ep) in snap.endpoints_at(namespace, service, ip) {
                let target = Target::Endpoint {
                    label: endpoint_label(ep, ip, self.endpoint_pod_names),
                    cluster: None,
                    service,
                    namespace,
                };
                let Some(t) = target.name(primary) else {
                    continue;
                };
                if !m
                    .answer
                    .iter()
                    .any(|r| matches!(&r.data, RData::Ptr(have) if *have == t))
                {
                    m.answer
                        .push(Record::new(owner.clone(), self.ttl, RData::Ptr(t)));
                }
            }
        }
        if m.answer.is_empty() {
            Err(Missing)
        } else {
            Ok(())
        }
    }
}
