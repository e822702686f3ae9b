//! Cluster state for the kubernetes plugin, kept apart from the DNS crates because the
//! Kubernetes client is the slowest part of the build: the other crates' test loops stay fast.
//!
//! - [`objects`]: slim Kubernetes object types (only what DNS reads), usable with kube-rs.
//! - [`selector`]: label selectors (`labels`, `namespace_labels`).
//! - [`index`]: the compact index: [`Store`] (lock-free snapshots for queries), [`Writer`]
//!   (one per store, fed [`Change`]s by a source), [`Snapshot`] (the read API).
//! - [`manifest`]: a source reading objects from YAML/JSON files, reloaded on change.
//! - [`request_metrics`]: what the API client reports about its requests (the seam the
//!   plugin's `coredns_kubernetes_rest_client_*` metrics hang on).
//!
//! No DNS wire knowledge lives here.

pub mod api;
pub mod client;
pub mod index;
pub mod manifest;
pub mod objects;
pub mod request_metrics;
pub mod selector;

pub use api::{ApiSource, SourceEvent, WatchConfig};
pub use client::{
    build_client, check_settings, ClientError, ClientSettings, RequestLimits, TlsFiles,
};
pub use index::{
    Change, EndpointEntry, EndpointSliceEntry, ExternalAddress, ImportKind, IndexConfig, KindSet,
    NamespaceEntry, PodEntry, Port, ProgrammingSample, Protocol, Published, ReverseEntry,
    ServiceEntry, ServiceImportEntry, ServiceKind, ServiceKindLabel, Snapshot, Store, Writer,
};
pub use manifest::{Loaded, ManifestError, ManifestSource};
pub use objects::{Kind, Object, ObjectError};
pub use request_metrics::{
    request_host, FinishedRequest, RequestMetricsLayer, RequestObserver, RequestOutcome,
};
pub use selector::{Selector, SelectorError};
