//! The compact cluster index the kubernetes plugin answers from, its snapshots and its store.
//!
//! Why it is shaped this way:
//! - Queries read an immutable [`Snapshot`] taken from the [`Store`] with one lock-free
//!   `arc-swap` load; they never wait for the Kubernetes API or for the writer. Lookups take
//!   `&str`/`IpAddr` and allocate nothing.
//! - One [`Writer`] (owned by the source task: API watchers or manifest files) applies
//!   [`Change`]s to a private copy and [`publish`](Writer::publish)es it. The snapshot is made
//!   of many small `Arc`ed parts (hash shards of `Arc` entries, in copy-on-write shard
//!   tables), so an event copies only the shards it touches, never the whole index, and a
//!   publish copies a handful of pointers. Measured at 10,000 services, 100,000 endpoints and
//!   50,000 pods: ~29 MiB of heap (about 190 bytes per object), 10 µs per slice event.
//! - Entries keep only what DNS needs (compat spec §3.2) in compact form: names as
//!   `Arc<str>` (namespaces, service, port, node names and zones interned), addresses as
//!   `IpAddr` (one address inline, IPv4 map keys as `u32`), one shared (namespace, service)
//!   per reverse entry. Memory per object is a product feature (`tests/memory.rs`).
//!
//! Namespaces: a name "exists" when a Namespace object (matching `namespace_labels`) is
//! indexed. Manifest files often hold no Namespace objects at all; as long as no Namespace
//! object has been seen ([`Snapshot::has_namespaces`] is false), a namespace exists when any
//! indexed object (Service, EndpointSlice, Pod, ServiceImport) lives in it, and
//! `namespace_labels` cannot be evaluated (every such namespace is exposed).

mod interner;
mod reduce;
mod sharded;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::{ArcSwap, Guard};

use crate::objects::Kind;
use crate::selector::Selector;
use sharded::{IndexHasher, IpMap, Named, ShardedSet};

pub use writer::{Change, ProgrammingSample, Published, ServiceKindLabel, Writer};

// ---------------------------------------------------------------------------------------
// Configuration

/// What the index keeps. Built by the plugin from its Corefile options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexConfig {
    /// `labels`: Services, EndpointSlices and Pods outside this selector are not indexed
    /// (an update that moves an object out of it removes it).
    pub labels: Selector,
    /// `namespace_labels`: Namespaces outside this selector do not exist. Like CoreDNS, it
    /// is also applied to ServiceImports' own labels.
    pub namespace_labels: Selector,
    /// Keep Pods (only `pods verified` needs them).
    pub pods: bool,
    /// Index every `status.podIPs` entry of a pod, not only `status.podIP` (CoreDNS uses the
    /// primary IP only; opt-in).
    pub all_pod_ips: bool,
    /// Keep EndpointSlices (false with `noendpoints`).
    pub endpoints: bool,
    /// Keep each endpoint's topology zone, lower-cased (`zonal`).
    pub zones: bool,
    /// Keep ServiceImports and multicluster EndpointSlices (`multicluster`).
    pub multicluster: bool,
}

impl Default for IndexConfig {
    /// CoreDNS's defaults: every object, endpoints on, no pods, no zones, no multicluster.
    fn default() -> Self {
        IndexConfig {
            labels: Selector::everything(),
            namespace_labels: Selector::everything(),
            pods: false,
            all_pod_ips: false,
            endpoints: true,
            zones: false,
            multicluster: false,
        }
    }
}

impl IndexConfig {
    /// The kinds a source must watch with this configuration; all of them must be
    /// [`Change::Synced`] before the store reports synced (CoreDNS's `HasSynced`).
    /// EndpointSlices include the multicluster ones: one stream of slices carries both, the
    /// index routes them by label.
    pub fn kinds(&self) -> KindSet {
        let mut kinds = KindSet::EMPTY.with(Kind::Service).with(Kind::Namespace);
        if self.endpoints || self.multicluster {
            kinds = kinds.with(Kind::EndpointSlice);
        }
        if self.pods {
            kinds = kinds.with(Kind::Pod);
        }
        if self.multicluster {
            kinds = kinds.with(Kind::ServiceImport);
        }
        kinds
    }
}

/// A small set of [`Kind`]s.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct KindSet(u8);

impl KindSet {
    /// No kind.
    pub const EMPTY: KindSet = KindSet(0);

    fn bit(kind: Kind) -> u8 {
        1 << (kind as u8)
    }

    /// This set plus `kind`.
    #[must_use]
    pub fn with(self, kind: Kind) -> KindSet {
        KindSet(self.0 | Self::bit(kind))
    }

    /// Adds `kind`.
    pub fn insert(&mut self, kind: Kind) {
        self.0 |= Self::bit(kind);
    }

    /// Is `kind` in the set?
    pub fn contains(self, kind: Kind) -> bool {
        self.0 & Self::bit(kind) != 0
    }

    /// Is every kind of `other` in this set?
    pub fn contains_all(self, other: KindSet) -> bool {
        self.0 & other.0 == other.0
    }

    /// The kinds in the set, in [`Kind::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Kind> {
        Kind::ALL.into_iter().filter(move |k| self.contains(*k))
    }
}

impl fmt::Debug for KindSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

// ---------------------------------------------------------------------------------------
// Entries

/// A namespace that exists for DNS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceEntry {
    /// The namespace name.
    pub name: Arc<str>,
}

/// How a Service answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// ClusterIP, NodePort or LoadBalancer with cluster IPs: A/AAAA are the cluster IPs.
    ClusterIp,
    /// First cluster IP is the literal `None`: A/AAAA are the ready endpoint addresses.
    Headless,
    /// `type: ExternalName`: a CNAME to [`ServiceEntry::external_name`].
    ExternalName,
}

/// Transport protocol of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP (the Kubernetes default when absent).
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// Lower-case name as used in `_port._proto` labels: `tcp`, `udp`, `sctp`.
    pub fn as_label(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }

    /// Parses the Kubernetes spelling (`TCP`, `UDP`, `SCTP`), case-insensitively.
    pub fn parse(text: &str) -> Option<Protocol> {
        if text.eq_ignore_ascii_case("tcp") {
            Some(Protocol::Tcp)
        } else if text.eq_ignore_ascii_case("udp") {
            Some(Protocol::Udp)
        } else if text.eq_ignore_ascii_case("sctp") {
            Some(Protocol::Sctp)
        } else {
            None
        }
    }
}

/// A short list of addresses: one address is stored inline (no allocation), which is the
/// common case for endpoints, pods and single-stack services. Dereferences to `[IpAddr]`.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct IpList(IpListRepr);

#[derive(Clone, Default, PartialEq, Eq, Hash)]
enum IpListRepr {
    #[default]
    Empty,
    One(IpAddr),
    Many(Box<[IpAddr]>),
}

impl IpList {
    /// The empty list.
    pub const EMPTY: IpList = IpList(IpListRepr::Empty);

    /// The addresses as a slice.
    pub fn as_slice(&self) -> &[IpAddr] {
        match &self.0 {
            IpListRepr::Empty => &[],
            IpListRepr::One(ip) => std::slice::from_ref(ip),
            IpListRepr::Many(ips) => ips,
        }
    }
}

impl std::ops::Deref for IpList {
    type Target = [IpAddr];

    fn deref(&self) -> &[IpAddr] {
        self.as_slice()
    }
}

impl From<Vec<IpAddr>> for IpList {
    fn from(mut ips: Vec<IpAddr>) -> Self {
        IpList(match ips.len() {
            0 => IpListRepr::Empty,
            1 => IpListRepr::One(ips[0]),
            _ => {
                ips.shrink_to_fit();
                IpListRepr::Many(ips.into_boxed_slice())
            }
        })
    }
}

impl FromIterator<IpAddr> for IpList {
    fn from_iter<I: IntoIterator<Item = IpAddr>>(iter: I) -> Self {
        IpList::from(iter.into_iter().collect::<Vec<_>>())
    }
}

impl<const N: usize> PartialEq<[IpAddr; N]> for IpList {
    fn eq(&self, other: &[IpAddr; N]) -> bool {
        self.as_slice() == other
    }
}

impl fmt::Debug for IpList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// A service, slice or import port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Port {
    /// Port name (empty when unnamed; Kubernetes port names are lower case). Shared: the
    /// same few names repeat across the cluster.
    pub name: Arc<str>,
    /// Protocol.
    pub protocol: Protocol,
    /// Port number; [`Port::NONE`] (-1) is the sentinel for "the object has no ports", so
    /// that addresses still produce A/AAAA while SRV skips them (as CoreDNS).
    pub port: i32,
}

impl Port {
    /// The sentinel port number.
    pub const NONE: i32 = -1;

    /// The sentinel port (unnamed, TCP, -1).
    pub fn sentinel() -> Port {
        Port {
            name: Arc::from(""),
            protocol: Protocol::Tcp,
            port: Port::NONE,
        }
    }

    /// False for the sentinel.
    pub fn is_real(&self) -> bool {
        self.port != Port::NONE
    }
}

/// An external address of a service (`spec.externalIPs`, load-balancer ingress).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ExternalAddress {
    /// An IP.
    Ip(IpAddr),
    /// A load-balancer ingress hostname (only when that ingress has no IP).
    Hostname(Box<str>),
}

/// A Service, reduced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    /// Namespace.
    pub namespace: Arc<str>,
    /// Service name.
    pub name: Arc<str>,
    /// ClusterIp, Headless or ExternalName.
    pub kind: ServiceKind,
    /// `spec.clusterIPs` (or `[spec.clusterIP]`), parsed; empty for headless and
    /// ExternalName services and for services without an allocated IP.
    pub cluster_ips: IpList,
    /// `spec.ports`, or the one sentinel port when the service has none.
    pub ports: Box<[Port]>,
    /// `spec.externalName` of an ExternalName service (as written, non-empty).
    pub external_name: Option<Box<str>>,
    /// `spec.externalIPs` then each load-balancer ingress IP (or hostname when it has no IP).
    pub external: Box<[ExternalAddress]>,
}

impl ServiceEntry {
    /// True for a headless service.
    pub fn is_headless(&self) -> bool {
        self.kind == ServiceKind::Headless
    }

    /// The real ports (without the sentinel).
    pub fn real_ports(&self) -> impl Iterator<Item = &Port> {
        self.ports.iter().filter(|p| p.is_real())
    }
}

/// One EndpointSlice of a service, reduced to its ready endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointSliceEntry {
    /// Namespace.
    pub namespace: Arc<str>,
    /// The slice's own name (slices of a service are ordered by it).
    pub name: Arc<str>,
    /// `ports`, or the one sentinel port when the slice has none.
    pub ports: Box<[Port]>,
    /// Endpoints whose `conditions.ready` is true or unset, with at least one parseable
    /// address, in slice order.
    pub endpoints: Box<[EndpointEntry]>,
    /// `multicluster.kubernetes.io/source-cluster` label (imported slices).
    pub cluster: Option<Arc<str>>,
}

/// One ready endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointEntry {
    /// Its addresses (in practice one).
    pub addresses: IpList,
    /// `hostname` (the endpoint label when set).
    pub hostname: Option<Box<str>>,
    /// `targetRef.name` when shorter than 64 characters (label with `endpoint_pod_names`).
    pub target_pod: Option<Box<str>>,
    /// `nodeName`.
    pub node_name: Option<Arc<str>>,
    /// `zone`, lower-cased; only kept with [`IndexConfig::zones`].
    pub zone: Option<Arc<str>>,
}

/// A pod (only with [`IndexConfig::pods`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodEntry {
    /// Namespace.
    pub namespace: Arc<str>,
    /// Pod name.
    pub name: Arc<str>,
    /// `status.podIP`.
    pub ip: IpAddr,
    /// Every IP the pod is indexed under: `[ip]`, or all `status.podIPs` with
    /// [`IndexConfig::all_pod_ips`].
    pub ips: IpList,
    /// Labels sorted by key (for the `kubernetes/client-label/<key>` metadata). Pods of
    /// one ReplicaSet share the same allocation.
    pub labels: Arc<[(Box<str>, Box<str>)]>,
}

impl PodEntry {
    /// The value of one label.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|i| &*self.labels[i].1)
    }
}

/// `ServiceImport.spec.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImportKind {
    /// `ClusterSetIP`: A/AAAA from `spec.ips`.
    ClusterSetIp,
    /// `Headless`: endpoints from the multicluster EndpointSlices.
    Headless,
}

/// A multicluster ServiceImport, reduced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceImportEntry {
    /// Namespace.
    pub namespace: Arc<str>,
    /// Service name.
    pub name: Arc<str>,
    /// ClusterSetIp or Headless.
    pub kind: ImportKind,
    /// `spec.ips`, parsed.
    pub ips: IpList,
    /// `spec.ports` (no sentinel, as CoreDNS).
    pub ports: Box<[Port]>,
}

/// A (namespace, service name) pair, shared by every reverse entry of that service.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceRef {
    /// Namespace.
    pub namespace: Arc<str>,
    /// Service name.
    pub name: Arc<str>,
}

/// What an address belongs to, for PTR answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReverseEntry {
    /// A cluster IP of this service (or, from [`Snapshot::services_by_external_ip`], one of
    /// its external IPs).
    Service(Arc<ServiceRef>),
    /// A ready endpoint address of some EndpointSlice of this service (the slices'
    /// `kubernetes.io/service-name`). The endpoint labels (hostname, target pod) come from
    /// [`Snapshot::endpoints_at`]: several endpoints of one service may share the address.
    Endpoint(Arc<ServiceRef>),
}

impl ReverseEntry {
    /// The service (namespace and name).
    pub fn service_ref(&self) -> &ServiceRef {
        match self {
            ReverseEntry::Service(service) | ReverseEntry::Endpoint(service) => service,
        }
    }

    /// The namespace of the service.
    pub fn namespace(&self) -> &str {
        &self.service_ref().namespace
    }

    /// The service name.
    pub fn service(&self) -> &str {
        &self.service_ref().name
    }

    /// True for a cluster IP (or external IP) entry.
    pub fn is_service(&self) -> bool {
        matches!(self, ReverseEntry::Service(_))
    }
}

/// Entries for one address: one inline (the common case) or several shared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SmallList<T> {
    One(T),
    Many(Arc<Vec<T>>),
}

impl<T> SmallList<T> {
    pub(crate) fn as_slice(&self) -> &[T] {
        match self {
            SmallList::One(one) => std::slice::from_ref(one),
            SmallList::Many(many) => many,
        }
    }

    /// `None` for an empty list.
    pub(crate) fn from_vec(mut items: Vec<T>) -> Option<SmallList<T>> {
        match items.len() {
            0 => None,
            1 => items.pop().map(SmallList::One),
            _ => Some(SmallList::Many(Arc::new(items))),
        }
    }
}

/// The EndpointSlices of one service, sorted by slice name.
#[derive(Clone, Debug)]
pub(crate) struct SliceGroup {
    namespace: Arc<str>,
    service: Arc<str>,
    slices: Box<[Arc<EndpointSliceEntry>]>,
}

impl Named for SliceGroup {
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn name(&self) -> &str {
        &self.service
    }
}

impl Named for ServiceEntry {
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for ServiceImportEntry {
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for PodEntry {
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for ServiceRef {
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn name(&self) -> &str {
        &self.name
    }
}

// ---------------------------------------------------------------------------------------
// Snapshot

/// An immutable view of the cluster, as of one [`Writer::publish`]. Cheap to hold; every
/// lookup is allocation-free.
#[derive(Clone)]
pub struct Snapshot {
    hasher: IndexHasher,
    /// Namespace objects that passed `namespace_labels`.
    namespaces: Arc<HashMap<Arc<str>, NamespaceEntry, IndexHasher>>,
    /// Namespaces holding at least one indexed object (used while no Namespace was seen).
    implied_namespaces: Arc<HashMap<Arc<str>, NamespaceEntry, IndexHasher>>,
    has_namespaces: bool,
    services: ShardedSet<ServiceEntry>,
    /// (namespace, service) -> slices sorted by name.
    slices: ShardedSet<SliceGroup>,
    /// (namespace, multicluster service) -> imported slices sorted by name.
    multicluster_slices: ShardedSet<SliceGroup>,
    imports: ShardedSet<ServiceImportEntry>,
    /// Cluster IPs and ready endpoint addresses; services first, each part sorted.
    reverse: IpMap<SmallList<ReverseEntry>>,
    /// External IPs of services (for `k8s_external`), sorted.
    external_reverse: Arc<HashMap<IpAddr, Arc<[ReverseEntry]>, IndexHasher>>,
    /// Pods by IP, sorted by (namespace, name).
    pods: IpMap<SmallList<Arc<PodEntry>>>,
    modified: u32,
    external_modified: u32,
    multicluster_modified: u32,
    synced: bool,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("namespaces", &self.namespaces.len())
            .field("services", &self.services.len())
            .field("service_slices", &self.slices.len())
            .field("reverse", &self.reverse.len())
            .field("pods", &self.pods.len())
            .field("modified", &self.modified)
            .field("synced", &self.synced)
            .finish_non_exhaustive()
    }
}

static NO_SLICES: [Arc<EndpointSliceEntry>; 0] = [];

impl Snapshot {
    /// The namespace if it exists for DNS: a Namespace object matching `namespace_labels`,
    /// or, while no Namespace object was ever seen, any namespace holding an indexed object.
    /// (The plugin's `namespaces` option is applied by the plugin, not here.)
    pub fn namespace(&self, name: &str) -> Option<&NamespaceEntry> {
        if self.has_namespaces {
            self.namespaces.get(name)
        } else {
            self.implied_namespaces.get(name)
        }
    }

    /// True once some Namespace object is in the source (even one filtered out by
    /// `namespace_labels`). Manifest files may hold none: namespaces are then implied by
    /// the objects in them (see [`namespace`](Self::namespace)).
    pub fn has_namespaces(&self) -> bool {
        self.has_namespaces
    }

    /// Every namespace that exists for DNS, in no particular order.
    pub fn namespaces(&self) -> impl Iterator<Item = &NamespaceEntry> {
        if self.has_namespaces {
            self.namespaces.values()
        } else {
            self.implied_namespaces.values()
        }
    }

    /// A service by namespace and name (lower case, as Kubernetes names are).
    pub fn service(&self, namespace: &str, name: &str) -> Option<&ServiceEntry> {
        self.services.get(namespace, name).map(|entry| &**entry)
    }

    /// Every service, in no particular order (zone transfer sorts).
    pub fn services(&self) -> impl Iterator<Item = &ServiceEntry> {
        self.services.values().map(|entry| &**entry)
    }

    /// Number of services.
    pub fn service_count(&self) -> usize {
        self.services.len()
    }

    /// The EndpointSlices of a service (`kubernetes.io/service-name` = `service`), sorted by
    /// slice name; empty when none (or with `noendpoints`).
    pub fn endpoint_slices(&self, namespace: &str, service: &str) -> &[Arc<EndpointSliceEntry>] {
        self.slices
            .get(namespace, service)
            .map_or(&NO_SLICES[..], |group| &group.slices[..])
    }

    /// The endpoints of a service's slices that have `ip` among their addresses, with the
    /// slice they come from (for PTR labels).
    pub fn endpoints_at<'s>(
        &'s self,
        namespace: &str,
        service: &str,
        ip: IpAddr,
    ) -> impl Iterator<Item = (&'s EndpointSliceEntry, &'s EndpointEntry)> + 's {
        self.endpoint_slices(namespace, service)
            .iter()
            .flat_map(|slice| slice.endpoints.iter().map(move |ep| (&**slice, ep)))
            .filter(move |(_, ep)| ep.addresses.contains(&ip))
    }

    /// What `ip` belongs to: first every service with it as a cluster IP (sorted by
    /// namespace, name; CoreDNS answers with the first exposed one), then every service
    /// with a ready endpoint at that address (sorted). Empty when unknown.
    pub fn reverse(&self, ip: IpAddr) -> &[ReverseEntry] {
        self.reverse.get(ip).map_or(&[], SmallList::as_slice)
    }

    /// Services with `ip` among their external addresses (`k8s_external` PTR), sorted;
    /// every entry is a [`ReverseEntry::Service`].
    pub fn services_by_external_ip(&self, ip: IpAddr) -> &[ReverseEntry] {
        self.external_reverse
            .get(&ip)
            .map_or(&[], |entries| &entries[..])
    }

    /// The pod with this IP (only with [`IndexConfig::pods`]). When several pods share an
    /// IP (host-network pods), the first by (namespace, name).
    pub fn pod_by_ip(&self, ip: IpAddr) -> Option<&PodEntry> {
        self.pods
            .get(ip)
            .and_then(|pods| pods.as_slice().first())
            .map(|pod| &**pod)
    }

    /// Every pod with this IP, sorted by (namespace, name).
    pub fn pods_by_ip(&self, ip: IpAddr) -> &[Arc<PodEntry>] {
        self.pods.get(ip).map_or(&[], SmallList::as_slice)
    }

    /// A multicluster ServiceImport (only with [`IndexConfig::multicluster`]).
    pub fn service_import(&self, namespace: &str, name: &str) -> Option<&ServiceImportEntry> {
        self.imports.get(namespace, name).map(|entry| &**entry)
    }

    /// Every ServiceImport, in no particular order.
    pub fn service_imports(&self) -> impl Iterator<Item = &ServiceImportEntry> {
        self.imports.values().map(|entry| &**entry)
    }

    /// The imported EndpointSlices of a multicluster service
    /// (`multicluster.kubernetes.io/service-name` = `service`), sorted by slice name.
    pub fn multicluster_endpoint_slices(
        &self,
        namespace: &str,
        service: &str,
    ) -> &[Arc<EndpointSliceEntry>] {
        self.multicluster_slices
            .get(namespace, service)
            .map_or(&NO_SLICES[..], |group| &group.slices[..])
    }

    /// Unix seconds of the last DNS-visible change to services, endpoints, pods or
    /// namespaces: the SOA serial of the cluster zones. 0 before the first change.
    pub fn modified(&self) -> u32 {
        self.modified
    }

    /// Unix seconds of the last change to services' external addresses or ports: the SOA
    /// serial for `k8s_external`.
    pub fn external_modified(&self) -> u32 {
        self.external_modified
    }

    /// Unix seconds of the last change to ServiceImports or imported slices: the SOA serial
    /// of multicluster zones.
    pub fn multicluster_modified(&self) -> u32 {
        self.multicluster_modified
    }

    /// True when every watched kind had synced when this snapshot was published.
    pub fn is_synced(&self) -> bool {
        self.synced
    }
}

// ---------------------------------------------------------------------------------------
// Store

/// The shared handle on the current snapshot (`Arc<Store>`), read by every query.
pub struct Store {
    current: ArcSwap<Snapshot>,
    /// Bumped after every publish (see [`Store::generation`]).
    generation: AtomicU64,
    synced: AtomicBool,
    synced_signal: tokio::sync::watch::Sender<bool>,
    config: IndexConfig,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("synced", &self.is_synced())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// An empty, unsynced store and its only writer.
    pub fn new(config: IndexConfig) -> (Arc<Store>, Writer) {
        let empty = Snapshot::empty(&config);
        let store = Arc::new(Store {
            current: ArcSwap::from_pointee(empty.clone()),
            generation: AtomicU64::new(0),
            synced: AtomicBool::new(false),
            synced_signal: tokio::sync::watch::Sender::new(false),
            config: config.clone(),
        });
        let writer = Writer::new(Arc::clone(&store), config, empty);
        (store, writer)
    }

    /// The current snapshot: lock-free, allocation-free; hold it for one query.
    pub fn load(&self) -> Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// The current snapshot as an owned `Arc` (for longer use, e.g. a zone transfer).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// True once every watched kind ([`IndexConfig::kinds`]) has synced and that state is
    /// published. Never turns false again (relists keep serving the last state).
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// Waits until synced, at most `timeout`; returns [`is_synced`](Self::is_synced).
    pub async fn wait_synced(&self, timeout: Duration) -> bool {
        let mut receiver = self.synced_signal.subscribe();
        let wait = receiver.wait_for(|synced| *synced);
        // An error means the sender is gone, which cannot happen while `self` lives.
        let _ = tokio::time::timeout(timeout, wait).await;
        self.is_synced()
    }

    /// A counter bumped by every published change (content or sync state), so a cache of
    /// answers derived from the index can tell they may be out of date: an answer computed
    /// after reading generation `g` is current while `generation()` still returns `g`. The
    /// snapshot is stored before the counter moves, so a reader that sees the new number
    /// also sees the new snapshot.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The configuration the store was built with.
    pub fn config(&self) -> &IndexConfig {
        &self.config
    }

    fn publish(&self, snapshot: Snapshot, newly_synced: bool) {
        self.current.store(Arc::new(snapshot));
        self.generation.fetch_add(1, Ordering::AcqRel);
        if newly_synced {
            self.synced.store(true, Ordering::Release);
            self.synced_signal.send_replace(true);
        }
    }
}
