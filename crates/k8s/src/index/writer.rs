//! The single writer of a [`Store`]: applies object changes to its working copy of the index
//! and publishes it.
//!
//! A source task (API watchers, manifest files) owns the writer, feeds it [`Change`]s and
//! calls [`Writer::publish`] once per batch. The working copy shares every untouched shard
//! with the published snapshot; the first change to a shard after a publish copies that
//! shard only. Changes that are not DNS-visible (a new resourceVersion, a status field we do
//! not keep) leave the index untouched and publish nothing.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::interner::Interner;
use super::reduce;
use super::sharded::{named_get, ByName, IndexHasher, IpMap, Named, NamedSet, ShardedSet};
use super::{
    EndpointSliceEntry, IndexConfig, KindSet, NamespaceEntry, PodEntry, ReverseEntry, ServiceEntry,
    ServiceKind, ServiceRef, SliceGroup, SmallList, Snapshot, Store,
};
use crate::objects::{EndpointSlice, Kind, Namespace, Object, Pod, Service, ServiceImport};

/// One event from a source.
#[derive(Clone, Debug)]
pub enum Change {
    /// An object was added or modified (watch ADDED/MODIFIED). An object outside the
    /// configured selectors (or a pod that finished) is removed instead; a pod being
    /// deleted (deletionTimestamp set) is ignored, as CoreDNS does.
    Upsert(Object),
    /// An object was deleted (watch DELETED): removed by namespace and name.
    Delete(Object),
    /// A full list of one kind (initial list or relist): every indexed object of that kind
    /// not in the list is removed, the others upserted, all in the same batch. Objects of
    /// other kinds in the list are ignored.
    Replace(Kind, Vec<Object>),
    /// The source has delivered a complete list of this kind.
    Synced(Kind),
}

/// The `service_kind` label of `coredns_kubernetes_dns_programming_duration_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKindLabel {
    /// `cluster_ip` (documented by CoreDNS; it never emits it, nor does Cairn).
    ClusterIp,
    /// `headless_with_selector`: the only value CoreDNS emits.
    HeadlessWithSelector,
    /// `headless_without_selector` (documented, never emitted).
    HeadlessWithoutSelector,
}

impl ServiceKindLabel {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKindLabel::ClusterIp => "cluster_ip",
            ServiceKindLabel::HeadlessWithSelector => "headless_with_selector",
            ServiceKindLabel::HeadlessWithoutSelector => "headless_without_selector",
        }
    }
}

/// One observation for `coredns_kubernetes_dns_programming_duration_seconds`: from the
/// EndpointSlice's `endpoints.kubernetes.io/last-change-trigger-time` to the publish that
/// made the change visible. Produced, like CoreDNS, for each watch event (upsert or delete)
/// of a slice that carries the annotation and belongs to a headless service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgrammingSample {
    /// The label value.
    pub service_kind: ServiceKindLabel,
    /// Publish time minus trigger time (zero when the trigger time is in the future).
    pub duration: Duration,
}

/// What a [`Writer::publish`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// A new snapshot was made visible.
    pub changed: bool,
    /// This publish turned the store synced.
    pub newly_synced: bool,
    /// Programming-latency observations made visible by this publish (also passed to the
    /// observer set with [`Writer::on_programmed`]).
    pub programming: Vec<ProgrammingSample>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Dirty {
    /// The working copy differs from the published snapshot.
    data: bool,
    /// Bump `modified` (cluster zones' SOA serial).
    internal: bool,
    /// Bump `external_modified` (`k8s_external`).
    external: bool,
    /// Bump `multicluster_modified`.
    multicluster: bool,
}

struct SliceRecord {
    entry: Arc<EndpointSliceEntry>,
    /// `kubernetes.io/service-name`, when indexed under it.
    service: Option<Arc<str>>,
    /// `multicluster.kubernetes.io/service-name`, when indexed under it.
    multicluster_service: Option<Arc<str>>,
}

impl Named for SliceRecord {
    fn namespace(&self) -> &str {
        &self.entry.namespace
    }
    fn name(&self) -> &str {
        &self.entry.name
    }
}

type ProgrammingObserver = Box<dyn Fn(ProgrammingSample) + Send + Sync>;

/// Applies changes and publishes snapshots; one per [`Store`] (from [`Store::new`]).
pub struct Writer {
    store: Arc<Store>,
    config: IndexConfig,
    /// The working copy; shares untouched shards with the published snapshot.
    pub(super) next: Snapshot,
    interner: Interner,
    /// Indexed slices by (namespace, slice name).
    slices: NamedSet<SliceRecord>,
    /// Indexed pods by (namespace, pod name).
    pods: NamedSet<PodEntry>,
    /// The (namespace, service) pairs reverse entries point to, shared.
    service_refs: NamedSet<ServiceRef>,
    /// Every Namespace object in the source, selected or not (for `has_namespaces`).
    namespace_objects: HashSet<Box<str>, IndexHasher>,
    /// Indexed objects per namespace (for implied namespaces).
    namespace_refs: HashMap<Arc<str>, u32, IndexHasher>,
    synced_kinds: KindSet,
    dirty: Dirty,
    pending_programming: Vec<(ServiceKindLabel, SystemTime)>,
    observer: Option<ProgrammingObserver>,
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("next", &self.next)
            .field("synced_kinds", &self.synced_kinds)
            .finish_non_exhaustive()
    }
}

fn unix_seconds(time: SystemTime) -> u32 {
    let seconds = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    u32::try_from(seconds).unwrap_or(u32::MAX)
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.is_empty())
}

/// A sorted list with `item` added (no duplicates) or removed; `None` when it ends empty.
fn edit_sorted<T: Ord + Clone>(current: &[T], item: &T, add: bool) -> Option<Vec<T>> {
    let position = current.binary_search(item);
    let mut list = match (position, add) {
        (Ok(_), true) | (Err(_), false) => return None,
        _ => current.to_vec(),
    };
    match position {
        Ok(i) => {
            list.remove(i);
        }
        Err(i) => list.insert(i, item.clone()),
    }
    Some(list)
}

/// The distinct addresses of a slice's endpoints.
fn slice_addresses(slice: &EndpointSliceEntry) -> Vec<IpAddr> {
    let mut addresses: Vec<IpAddr> = slice
        .endpoints
        .iter()
        .flat_map(|ep| ep.addresses.iter().copied())
        .collect();
    addresses.sort_unstable();
    addresses.dedup();
    addresses
}

fn pod_order(a: &Arc<PodEntry>, b: &Arc<PodEntry>) -> std::cmp::Ordering {
    (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name))
}

impl Writer {
    pub(super) fn new(store: Arc<Store>, config: IndexConfig, empty: Snapshot) -> Self {
        let hasher = empty.hasher;
        Writer {
            store,
            config,
            next: empty,
            interner: Interner::new(hasher),
            slices: HashSet::with_hasher(hasher),
            pods: HashSet::with_hasher(hasher),
            service_refs: HashSet::with_hasher(hasher),
            namespace_objects: HashSet::with_hasher(hasher),
            namespace_refs: HashMap::with_hasher(hasher),
            synced_kinds: KindSet::EMPTY,
            dirty: Dirty::default(),
            pending_programming: Vec::new(),
            observer: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &IndexConfig {
        &self.config
    }

    /// The store this writer publishes to.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Calls `observer` for every programming-latency sample at the publish that makes it
    /// visible (the plugin feeds its histogram from here).
    pub fn on_programmed(&mut self, observer: impl Fn(ProgrammingSample) + Send + Sync + 'static) {
        self.observer = Some(Box::new(observer));
    }

    /// Applies one change to the working copy (invisible until [`publish`](Self::publish)).
    /// Returns true when the index content changed.
    pub fn apply(&mut self, change: Change) -> bool {
        match change {
            Change::Upsert(object) => self.upsert(&object, true),
            Change::Delete(object) => self.delete(&object, true),
            Change::Replace(kind, objects) => self.replace(kind, &objects),
            Change::Synced(kind) => {
                self.synced_kinds.insert(kind);
                false
            }
        }
    }

    /// Makes the working copy the current snapshot, if anything changed since the last
    /// publish (content, sync state or latency samples).
    pub fn publish(&mut self) -> Published {
        let newly_synced = !self.next.synced && self.synced_kinds.contains_all(self.config.kinds());
        if !self.dirty.data && !newly_synced && self.pending_programming.is_empty() {
            return Published::default();
        }
        let now = SystemTime::now();
        let seconds = unix_seconds(now);
        if self.dirty.internal {
            self.next.modified = seconds;
        }
        if self.dirty.external {
            self.next.external_modified = seconds;
        }
        if self.dirty.multicluster {
            self.next.multicluster_modified = seconds;
        }
        if newly_synced {
            self.next.synced = true;
        }
        self.store.publish(self.next.clone(), newly_synced);
        self.dirty = Dirty::default();
        let programming: Vec<ProgrammingSample> = self
            .pending_programming
            .drain(..)
            .map(|(service_kind, trigger)| ProgrammingSample {
                service_kind,
                duration: now.duration_since(trigger).unwrap_or(Duration::ZERO),
            })
            .collect();
        if let Some(observer) = &self.observer {
            for sample in &programming {
                observer(*sample);
            }
        }
        if self.interner.maybe_purge() {
            self.service_refs.retain(|r| Arc::strong_count(&r.0) > 1);
        }
        Published {
            changed: true,
            newly_synced,
            programming,
        }
    }

    fn upsert(&mut self, object: &Object, watch_event: bool) -> bool {
        match object {
            Object::Service(svc) => self.upsert_service(svc),
            Object::EndpointSlice(slice) => self.upsert_slice(slice, watch_event),
            Object::Pod(pod) => self.upsert_pod(pod),
            Object::Namespace(ns) => self.upsert_namespace(ns),
            Object::ServiceImport(import) => self.upsert_import(import),
        }
    }

    fn delete(&mut self, object: &Object, watch_event: bool) -> bool {
        let (namespace, name) = (object.namespace(), object.name());
        match object {
            Object::Service(_) => self.delete_service(namespace, name),
            Object::EndpointSlice(slice) => {
                if watch_event {
                    self.note_programming(slice);
                }
                self.delete_slice(namespace, name)
            }
            Object::Pod(_) => self.delete_pod(namespace, name),
            Object::Namespace(_) => self.delete_namespace(name),
            Object::ServiceImport(_) => self.delete_import(namespace, name),
        }
    }

    fn replace(&mut self, kind: Kind, objects: &[Object]) -> bool {
        let listed: HashSet<(&str, &str)> = objects
            .iter()
            .filter(|o| o.kind() == kind)
            .map(|o| (o.namespace(), o.name()))
            .collect();
        let indexed: Vec<(Arc<str>, Arc<str>)> = match kind {
            Kind::Service => self.next.services.values().map(|e| pair(&**e)).collect(),
            Kind::EndpointSlice => self.slices.iter().map(|e| pair(&*e.0)).collect(),
            Kind::Pod => self.pods.iter().map(|e| pair(&*e.0)).collect(),
            Kind::Namespace => self
                .namespace_objects
                .iter()
                .map(|name| (Arc::from(""), Arc::from(&**name)))
                .collect(),
            Kind::ServiceImport => self.next.imports.values().map(|e| pair(&**e)).collect(),
        };
        let mut changed = false;
        for (namespace, name) in &indexed {
            if !listed.contains(&(&**namespace, &**name)) {
                changed |= match kind {
                    Kind::Service => self.delete_service(namespace, name),
                    Kind::EndpointSlice => self.delete_slice(namespace, name),
                    Kind::Pod => self.delete_pod(namespace, name),
                    Kind::Namespace => self.delete_namespace(name),
                    Kind::ServiceImport => self.delete_import(namespace, name),
                };
            }
        }
        for object in objects.iter().filter(|o| o.kind() == kind) {
            changed |= self.upsert(object, false);
        }
        changed
    }

    // -----------------------------------------------------------------------------------
    // Namespaces referenced by indexed objects

    fn ref_namespace(&mut self, namespace: &Arc<str>) {
        let count = self
            .namespace_refs
            .entry(Arc::clone(namespace))
            .or_insert(0);
        *count += 1;
        if *count == 1 {
            Arc::make_mut(&mut self.next.implied_namespaces).insert(
                Arc::clone(namespace),
                NamespaceEntry {
                    name: Arc::clone(namespace),
                },
            );
            self.touch_namespaces();
        }
    }

    fn unref_namespace(&mut self, namespace: &str) {
        let Some(count) = self.namespace_refs.get_mut(namespace) else {
            return;
        };
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.namespace_refs.remove(namespace);
            Arc::make_mut(&mut self.next.implied_namespaces).remove(namespace);
            self.touch_namespaces();
        }
    }

    /// Implied namespaces changed: visible only while no Namespace object exists.
    fn touch_namespaces(&mut self) {
        self.dirty.data = true;
        if !self.next.has_namespaces {
            self.dirty.internal = true;
        }
    }

    // -----------------------------------------------------------------------------------
    // Reverse maps

    /// The shared (namespace, service) of reverse entries.
    fn service_ref(&mut self, namespace: &Arc<str>, name: &Arc<str>) -> Arc<ServiceRef> {
        if let Some(shared) = named_get(&self.service_refs, namespace, name) {
            return Arc::clone(shared);
        }
        let shared = Arc::new(ServiceRef {
            namespace: Arc::clone(namespace),
            name: Arc::clone(name),
        });
        self.service_refs.insert(ByName(Arc::clone(&shared)));
        shared
    }

    fn reverse_edit(&mut self, ip: IpAddr, entry: &ReverseEntry, add: bool) {
        let current = self
            .next
            .reverse
            .get(ip)
            .map_or(&[][..], SmallList::as_slice);
        if let Some(updated) = edit_sorted(current, entry, add) {
            self.next.reverse.set(ip, SmallList::from_vec(updated));
        }
    }

    fn external_reverse_edit(&mut self, ip: IpAddr, entry: &ReverseEntry, add: bool) {
        let current = self
            .next
            .external_reverse
            .get(&ip)
            .map_or(&[][..], |e| &e[..]);
        if let Some(updated) = edit_sorted(current, entry, add) {
            let map = Arc::make_mut(&mut self.next.external_reverse);
            if updated.is_empty() {
                map.remove(&ip);
            } else {
                map.insert(ip, Arc::from(updated));
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // Services

    fn upsert_service(&mut self, svc: &Service) -> bool {
        if svc.name().is_empty() {
            return false;
        }
        if !self.config.labels.matches(svc.labels()) {
            return self.delete_service(svc.namespace(), svc.name());
        }
        let entry = reduce::service(svc, &mut self.interner);
        let old = self.next.services.get(svc.namespace(), svc.name()).cloned();
        if old.as_deref() == Some(&entry) {
            return false;
        }
        self.service_changed(old.as_deref(), Some(&entry));
        if old.is_none() {
            self.ref_namespace(&entry.namespace);
        }
        self.next.services.insert(Arc::new(entry));
        true
    }

    fn delete_service(&mut self, namespace: &str, name: &str) -> bool {
        let Some(old) = self.next.services.remove(namespace, name) else {
            return false;
        };
        self.service_changed(Some(&old), None);
        self.unref_namespace(namespace);
        true
    }

    /// Reverse maps and change flags for a service going from `old` to `new`.
    fn service_changed(&mut self, old: Option<&ServiceEntry>, new: Option<&ServiceEntry>) {
        let Some(any) = new.or(old) else {
            return;
        };
        let reverse = ReverseEntry::Service(self.service_ref(&any.namespace, &any.name));
        let old_ips = old.map_or(&[][..], |s| &s.cluster_ips[..]);
        let new_ips = new.map_or(&[][..], |s| &s.cluster_ips[..]);
        for ip in old_ips.iter().filter(|ip| !new_ips.contains(ip)) {
            self.reverse_edit(*ip, &reverse, false);
        }
        for ip in new_ips.iter().filter(|ip| !old_ips.contains(ip)) {
            self.reverse_edit(*ip, &reverse, true);
        }
        let external_ip = |s: Option<&ServiceEntry>| -> Vec<IpAddr> {
            s.map_or(&[][..], |s| &s.external[..])
                .iter()
                .filter_map(|a| match a {
                    super::ExternalAddress::Ip(ip) => Some(*ip),
                    super::ExternalAddress::Hostname(_) => None,
                })
                .collect()
        };
        let (old_ext, new_ext) = (external_ip(old), external_ip(new));
        for ip in old_ext.iter().filter(|ip| !new_ext.contains(ip)) {
            self.external_reverse_edit(*ip, &reverse, false);
        }
        for ip in new_ext.iter().filter(|ip| !old_ext.contains(ip)) {
            self.external_reverse_edit(*ip, &reverse, true);
        }

        self.dirty.data = true;
        self.dirty.internal = true;
        match (old, new) {
            (Some(old), Some(new)) => {
                if old.external != new.external || old.ports != new.ports {
                    self.dirty.external = true;
                }
            }
            _ => {
                if !any.external.is_empty() {
                    self.dirty.external = true;
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------
    // EndpointSlices

    /// Records a programming-latency sample for a slice watch event (CoreDNS: the slice
    /// carries a trigger time and its one service is headless).
    fn note_programming(&mut self, slice: &EndpointSlice) {
        let Some(trigger) = slice.last_change_trigger_time else {
            return;
        };
        let Some(service) = non_empty(slice.service_name()) else {
            return;
        };
        let headless = self
            .next
            .services
            .get(slice.namespace(), service)
            .is_some_and(|s| s.kind == ServiceKind::Headless);
        if headless {
            self.pending_programming
                .push((ServiceKindLabel::HeadlessWithSelector, trigger));
        }
    }

    fn upsert_slice(&mut self, slice: &EndpointSlice, watch_event: bool) -> bool {
        if !self.config.endpoints && !self.config.multicluster {
            return false;
        }
        if watch_event {
            self.note_programming(slice);
        }
        let (namespace, name) = (slice.namespace(), slice.name());
        let service = non_empty(slice.service_name()).filter(|_| self.config.endpoints);
        let multicluster_service =
            non_empty(slice.multicluster_service_name()).filter(|_| self.config.multicluster);
        if name.is_empty()
            || (service.is_none() && multicluster_service.is_none())
            || !self.config.labels.matches(slice.labels())
        {
            return self.delete_slice(namespace, name);
        }
        let entry = reduce::endpoint_slice(slice, &self.config, &mut self.interner);
        let service = service.map(|s| self.interner.str(s));
        let multicluster_service = multicluster_service.map(|s| self.interner.str(s));
        if let Some(old) = named_get(&self.slices, namespace, name) {
            if *old.entry == entry
                && old.service == service
                && old.multicluster_service == multicluster_service
            {
                return false;
            }
        }
        let old = self
            .slices
            .take(&(namespace, name) as &dyn super::sharded::PairKey)
            .map(|e| e.0);
        let record = Arc::new(SliceRecord {
            entry: Arc::new(entry),
            service,
            multicluster_service,
        });
        if old.is_none() {
            self.ref_namespace(&record.entry.namespace);
        }
        self.slice_changed(old.as_deref(), Some(&record));
        self.slices.insert(ByName(record));
        true
    }

    fn delete_slice(&mut self, namespace: &str, name: &str) -> bool {
        let Some(old) = self
            .slices
            .take(&(namespace, name) as &dyn super::sharded::PairKey)
            .map(|e| e.0)
        else {
            return false;
        };
        self.slice_changed(Some(&old), None);
        self.unref_namespace(namespace);
        true
    }

    /// Groups, reverse entries and change flags for a slice going from `old` to `new`.
    fn slice_changed(&mut self, old: Option<&SliceRecord>, new: Option<&SliceRecord>) {
        self.dirty.data = true;
        let slice_name = |r: Option<&SliceRecord>| r.map(|r| Arc::clone(&r.entry.name));
        let Some(any) = new.or(old) else {
            return;
        };
        let namespace = Arc::clone(&any.entry.namespace);

        // Service groups (and the reverse map, for them only).
        let old_service = old.and_then(|r| r.service.clone());
        let new_service = new.and_then(|r| r.service.clone());
        if old_service.is_some() || new_service.is_some() {
            self.dirty.internal = true;
        }
        if let Some(service) = &old_service {
            group_edit(
                &mut self.next.slices,
                &namespace,
                service,
                slice_name(old).as_deref(),
                None,
            );
        }
        if let (Some(service), Some(new)) = (&new_service, new) {
            group_edit(
                &mut self.next.slices,
                &namespace,
                service,
                None,
                Some(&new.entry),
            );
        }
        if let (Some(service), Some(old)) = (&old_service, old) {
            let reverse = ReverseEntry::Endpoint(self.service_ref(&namespace, service));
            for ip in slice_addresses(&old.entry) {
                let still = self
                    .next
                    .endpoint_slices(&namespace, service)
                    .iter()
                    .any(|s| s.endpoints.iter().any(|ep| ep.addresses.contains(&ip)));
                if !still {
                    self.reverse_edit(ip, &reverse, false);
                }
            }
        }
        if let (Some(service), Some(new)) = (&new_service, new) {
            let reverse = ReverseEntry::Endpoint(self.service_ref(&namespace, service));
            for ip in slice_addresses(&new.entry) {
                self.reverse_edit(ip, &reverse, true);
            }
        }

        // Multicluster groups.
        let old_mc = old.and_then(|r| r.multicluster_service.clone());
        let new_mc = new.and_then(|r| r.multicluster_service.clone());
        if old_mc.is_some() || new_mc.is_some() {
            self.dirty.multicluster = true;
        }
        if let Some(service) = &old_mc {
            group_edit(
                &mut self.next.multicluster_slices,
                &namespace,
                service,
                slice_name(old).as_deref(),
                None,
            );
        }
        if let (Some(service), Some(new)) = (&new_mc, new) {
            group_edit(
                &mut self.next.multicluster_slices,
                &namespace,
                service,
                None,
                Some(&new.entry),
            );
        }
    }

    // -----------------------------------------------------------------------------------
    // Pods

    fn upsert_pod(&mut self, pod: &Pod) -> bool {
        if !self.config.pods || pod.name().is_empty() {
            return false;
        }
        if pod.is_terminating() {
            // CoreDNS ignores add/update events of terminating pods: the last state stays
            // until the pod is deleted.
            return false;
        }
        let entry = if pod.is_finished() || !self.config.labels.matches(pod.labels()) {
            None
        } else {
            reduce::pod(pod, &self.config, &mut self.interner)
        };
        let Some(entry) = entry else {
            return self.delete_pod(pod.namespace(), pod.name());
        };
        let old = named_get(&self.pods, pod.namespace(), pod.name()).cloned();
        if old.as_deref() == Some(&entry) {
            return false;
        }
        if old.is_none() {
            self.ref_namespace(&entry.namespace);
        }
        let entry = Arc::new(entry);
        self.pod_changed(old.as_ref(), Some(&entry));
        self.pods.replace(ByName(entry));
        true
    }

    fn delete_pod(&mut self, namespace: &str, name: &str) -> bool {
        let Some(old) = self
            .pods
            .take(&(namespace, name) as &dyn super::sharded::PairKey)
            .map(|e| e.0)
        else {
            return false;
        };
        self.pod_changed(Some(&old), None);
        self.unref_namespace(namespace);
        true
    }

    fn pod_changed(&mut self, old: Option<&Arc<PodEntry>>, new: Option<&Arc<PodEntry>>) {
        self.dirty.data = true;
        // CoreDNS bumps the serial for pod adds, deletes and IP changes, not label changes.
        if old.map(|p| &p.ips) != new.map(|p| &p.ips) {
            self.dirty.internal = true;
        }
        if let Some(old) = old {
            for ip in old.ips.iter() {
                self.pod_list_edit(*ip, old, false);
            }
        }
        if let Some(new) = new {
            for ip in new.ips.iter() {
                self.pod_list_edit(*ip, new, true);
            }
        }
    }

    fn pod_list_edit(&mut self, ip: IpAddr, pod: &Arc<PodEntry>, add: bool) {
        let current = self.next.pods.get(ip).map_or(&[][..], SmallList::as_slice);
        let position = current.binary_search_by(|p| pod_order(p, pod));
        let mut list = current.to_vec();
        match (position, add) {
            (Ok(i), true) => list[i] = Arc::clone(pod),
            (Err(i), true) => list.insert(i, Arc::clone(pod)),
            (Ok(i), false) => {
                list.remove(i);
            }
            (Err(_), false) => return,
        }
        self.next.pods.set(ip, SmallList::from_vec(list));
    }

    // -----------------------------------------------------------------------------------
    // Namespaces

    fn upsert_namespace(&mut self, ns: &Namespace) -> bool {
        let name = ns.name();
        if name.is_empty() {
            return false;
        }
        let mut changed = false;
        if !self.namespace_objects.contains(name) {
            self.namespace_objects.insert(Box::from(name));
            if !self.next.has_namespaces {
                self.next.has_namespaces = true;
                changed = true;
            }
        }
        let selected = self.config.namespace_labels.matches(ns.labels());
        let present = self.next.namespaces.contains_key(name);
        if selected && !present {
            let name = self.interner.str(name);
            Arc::make_mut(&mut self.next.namespaces)
                .insert(Arc::clone(&name), NamespaceEntry { name });
            changed = true;
        } else if !selected && present {
            Arc::make_mut(&mut self.next.namespaces).remove(name);
            changed = true;
        }
        if changed {
            self.dirty.data = true;
            self.dirty.internal = true;
        }
        changed
    }

    fn delete_namespace(&mut self, name: &str) -> bool {
        let mut changed = false;
        if self.namespace_objects.remove(name) {
            if self.namespace_objects.is_empty() {
                self.next.has_namespaces = false;
            }
            changed = true;
        }
        if self.next.namespaces.contains_key(name) {
            Arc::make_mut(&mut self.next.namespaces).remove(name);
            changed = true;
        }
        if changed {
            self.dirty.data = true;
            self.dirty.internal = true;
        }
        changed
    }

    // -----------------------------------------------------------------------------------
    // ServiceImports

    fn upsert_import(&mut self, import: &ServiceImport) -> bool {
        if !self.config.multicluster || import.name().is_empty() {
            return false;
        }
        // CoreDNS lists ServiceImports with the namespace selector (a quirk kept as is).
        if !self.config.namespace_labels.matches(import.labels()) {
            return self.delete_import(import.namespace(), import.name());
        }
        let entry = reduce::service_import(import, &mut self.interner);
        let old = self
            .next
            .imports
            .get(import.namespace(), import.name())
            .cloned();
        if old.as_deref() == Some(&entry) {
            return false;
        }
        if old.is_none() {
            self.ref_namespace(&entry.namespace);
        }
        self.dirty.data = true;
        self.dirty.multicluster = true;
        self.next.imports.insert(Arc::new(entry));
        true
    }

    fn delete_import(&mut self, namespace: &str, name: &str) -> bool {
        if self.next.imports.remove(namespace, name).is_none() {
            return false;
        }
        self.dirty.data = true;
        self.dirty.multicluster = true;
        self.unref_namespace(namespace);
        true
    }
}

fn pair(entry: &impl Named) -> (Arc<str>, Arc<str>) {
    (Arc::from(entry.namespace()), Arc::from(entry.name()))
}

/// Removes the slice named `remove` from and/or adds `add` to the group of (namespace,
/// service), keeping it sorted by slice name.
fn group_edit(
    groups: &mut ShardedSet<SliceGroup>,
    namespace: &Arc<str>,
    service: &Arc<str>,
    remove: Option<&str>,
    add: Option<&Arc<EndpointSliceEntry>>,
) {
    let mut list: Vec<Arc<EndpointSliceEntry>> = groups
        .get(namespace, service)
        .map(|g| g.slices.to_vec())
        .unwrap_or_default();
    if let Some(remove) = remove {
        list.retain(|s| &*s.name != remove);
    }
    if let Some(add) = add {
        match list.binary_search_by(|s| s.name.cmp(&add.name)) {
            Ok(i) => list[i] = Arc::clone(add),
            Err(i) => list.insert(i, Arc::clone(add)),
        }
    }
    if list.is_empty() {
        groups.remove(namespace, service);
    } else {
        groups.insert(Arc::new(SliceGroup {
            namespace: Arc::clone(namespace),
            service: Arc::clone(service),
            slices: list.into_boxed_slice(),
        }));
    }
}

impl Snapshot {
    /// An empty snapshot; the shard counts are sized for large clusters (a few thousand
    /// shards for the per-address maps, so one endpoint change copies a few dozen entries).
    pub(super) fn empty(config: &IndexConfig) -> Snapshot {
        let hasher = IndexHasher::new();
        let pods_bits = if config.pods { 12 } else { 0 };
        let reverse_bits = if config.endpoints { 12 } else { 8 };
        let multicluster_bits = if config.multicluster { 8 } else { 0 };
        Snapshot {
            hasher,
            namespaces: Arc::new(HashMap::with_hasher(hasher)),
            implied_namespaces: Arc::new(HashMap::with_hasher(hasher)),
            has_namespaces: false,
            services: ShardedSet::new(hasher, 10),
            slices: ShardedSet::new(hasher, if config.endpoints { 10 } else { 0 }),
            multicluster_slices: ShardedSet::new(hasher, multicluster_bits),
            imports: ShardedSet::new(hasher, multicluster_bits),
            reverse: IpMap::new(hasher, reverse_bits),
            external_reverse: Arc::new(HashMap::with_hasher(hasher)),
            pods: IpMap::new(hasher, pods_bits),
            modified: 0,
            external_modified: 0,
            multicluster_modified: 0,
            synced: false,
        }
    }
}
