//! Slim Kubernetes object types: only the fields cluster DNS reads.
//!
//! A full `k8s_openapi` `Service` costs kilobytes once deserialized (managed fields,
//! annotations, status conditions...); these types keep the handful of fields the index
//! reduces (compat spec §3.2) and let serde skip everything else without allocating it. They
//! implement [`kube::Resource`] so `kube::Api<Service>` and `kube::runtime::watcher` use them
//! directly, and they are what the manifest-file source produces too, so both sources feed
//! the index the same values.
//!
//! These objects are transient: the [`Writer`](crate::Writer) reduces each one to an index
//! entry and drops it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::time::SystemTime;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// Label naming the Service an EndpointSlice belongs to.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// Label naming the multicluster (MCS) service an imported EndpointSlice belongs to.
pub const LABEL_MCS_SERVICE_NAME: &str = "multicluster.kubernetes.io/service-name";
/// Label naming the cluster an imported EndpointSlice comes from.
pub const LABEL_MCS_SOURCE_CLUSTER: &str = "multicluster.kubernetes.io/source-cluster";
/// Annotation set by the EndpointSlice controller: when the change that produced this
/// version of the slice was triggered (RFC 3339). Source of the DNS programming latency.
pub const ANNOTATION_LAST_CHANGE_TRIGGER_TIME: &str =
    "endpoints.kubernetes.io/last-change-trigger-time";

/// The object kinds the index understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// core/v1 Service.
    Service,
    /// discovery.k8s.io/v1 EndpointSlice (also the multicluster ones, told apart by label).
    EndpointSlice,
    /// core/v1 Pod.
    Pod,
    /// core/v1 Namespace.
    Namespace,
    /// multicluster.x-k8s.io/v1alpha1 ServiceImport.
    ServiceImport,
}

impl Kind {
    /// Every kind, in a fixed order.
    pub const ALL: [Kind; 5] = [
        Kind::Service,
        Kind::EndpointSlice,
        Kind::Pod,
        Kind::Namespace,
        Kind::ServiceImport,
    ];

    /// The `kind` field value (`Service`, `EndpointSlice`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Service => "Service",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::Pod => "Pod",
            Kind::Namespace => "Namespace",
            Kind::ServiceImport => "ServiceImport",
        }
    }

    /// The kind an (`apiVersion`, `kind`) pair denotes, if it is one the index reads.
    /// `api_version` may be empty (hand-written manifests): then the kind name decides.
    /// A kind name from another API group (a Knative `Service`, say) is not ours.
    pub fn from_type(api_version: &str, kind: &str) -> Option<Kind> {
        let group = match api_version.rsplit_once('/') {
            Some((group, _version)) => group,
            None => "",
        };
        let (wanted, ours) = match kind {
            "Service" => ("", Kind::Service),
            "Pod" => ("", Kind::Pod),
            "Namespace" => ("", Kind::Namespace),
            "EndpointSlice" => ("discovery.k8s.io", Kind::EndpointSlice),
            "ServiceImport" => ("multicluster.x-k8s.io", Kind::ServiceImport),
            _ => return None,
        };
        if api_version.is_empty() || group == wanted {
            Some(ours)
        } else {
            None
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------
// Metadata

/// Deserializes `metadata` keeping only name, namespace, labels, resourceVersion, uid and
/// deletionTimestamp; managedFields, annotations and the rest are skipped unread.
fn slim_metadata<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ObjectMeta, D::Error> {
    Ok(Option::<SlimMeta>::deserialize(deserializer)?
        .unwrap_or_default()
        .into_object_meta())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct SlimMeta {
    name: Option<String>,
    namespace: Option<String>,
    #[serde(deserialize_with = "null_as_default")]
    labels: BTreeMap<String, String>,
    resource_version: Option<String>,
    uid: Option<String>,
    deletion_timestamp: Option<Time>,
    annotations: TriggerTimeAnnotation,
}

impl SlimMeta {
    fn into_object_meta(self) -> ObjectMeta {
        ObjectMeta {
            name: self.name,
            namespace: self.namespace,
            labels: (!self.labels.is_empty()).then_some(self.labels),
            resource_version: self.resource_version,
            uid: self.uid,
            deletion_timestamp: self.deletion_timestamp,
            ..ObjectMeta::default()
        }
    }
}

/// The annotations map read for one key only: every other annotation is skipped.
#[derive(Default)]
struct TriggerTimeAnnotation(Option<String>);

impl<'de> Deserialize<'de> for TriggerTimeAnnotation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AnnotationVisitor;

        impl<'de> Visitor<'de> for AnnotationVisitor {
            type Value = TriggerTimeAnnotation;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of annotations")
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(TriggerTimeAnnotation(None))
            }

            fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(TriggerTimeAnnotation(None))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut found = None;
                while let Some(key) = map.next_key::<AnnotationKey>()? {
                    if key.0 {
                        found = Some(map.next_value::<String>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(TriggerTimeAnnotation(found))
            }
        }

        deserializer.deserialize_any(AnnotationVisitor)
    }
}

/// An annotation key, compared without being kept: true for the trigger-time key.
struct AnnotationKey(bool);

impl<'de> Deserialize<'de> for AnnotationKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl Visitor<'_> for KeyVisitor {
            type Value = AnnotationKey;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an annotation key")
            }

            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
                Ok(AnnotationKey(key == ANNOTATION_LAST_CHANGE_TRIGGER_TIME))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

/// `null` (or a missing value) reads as the type's default: YAML written by hand often has
/// `ports:` with nothing after it.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Parses an RFC 3339 timestamp (the trigger-time annotation); `None` when malformed.
fn parse_timestamp(text: &str) -> Option<SystemTime> {
    text.parse::<k8s_openapi::jiff::Timestamp>()
        .ok()
        .map(SystemTime::from)
}

fn name_of(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("")
}

fn namespace_of(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("")
}

fn label<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.labels.as_ref()?.get(key).map(String::as_str)
}

static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

fn labels_of(meta: &ObjectMeta) -> &BTreeMap<String, String> {
    meta.labels.as_ref().unwrap_or(&NO_LABELS)
}

/// Implements [`kube::Resource`] with a static type (DynamicType = ()).
macro_rules! static_resource {
    ($type:ty, $scope:ty, $group:expr, $version:expr, $kind:expr, $plural:expr) => {
        impl kube::Resource for $type {
            type DynamicType = ();
            type Scope = $scope;

            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }
            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($group)
            }
            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($version)
            }
            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

// ---------------------------------------------------------------------------------------
// Service

/// A core/v1 Service, slimmed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Service {
    /// Name, namespace, labels, resourceVersion, uid, deletionTimestamp only.
    #[serde(deserialize_with = "slim_metadata")]
    pub metadata: ObjectMeta,
    /// The spec fields DNS reads.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: ServiceSpec,
    /// The load-balancer ingress, for external addresses.
    #[serde(deserialize_with = "null_as_default")]
    pub status: ServiceStatus,
}

/// `Service.spec`, slimmed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ServiceSpec {
    /// `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName` (absent = `ClusterIP`).
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// The primary cluster IP, or the literal `None` for a headless service.
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<String>,
    /// All cluster IPs (dual stack); when empty, `[clusterIP]` is used.
    #[serde(rename = "clusterIPs", deserialize_with = "null_as_default")]
    pub cluster_ips: Vec<String>,
    /// Ports: name, port, protocol.
    #[serde(deserialize_with = "null_as_default")]
    pub ports: Vec<ServicePort>,
    /// CNAME target of an ExternalName service.
    #[serde(rename = "externalName")]
    pub external_name: Option<String>,
    /// Extra addresses routed to the service (used by `k8s_external`).
    #[serde(rename = "externalIPs", deserialize_with = "null_as_default")]
    pub external_ips: Vec<String>,
}

/// One service (or ServiceImport) port.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ServicePort {
    /// Port name (needed for `_name._proto` SRV names); may be absent.
    pub name: Option<String>,
    /// The port number.
    pub port: i32,
    /// `TCP` (default), `UDP` or `SCTP`.
    pub protocol: Option<String>,
}

/// `Service.status`, slimmed to the load-balancer ingress list.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ServiceStatus {
    /// `status.loadBalancer`.
    #[serde(rename = "loadBalancer", deserialize_with = "null_as_default")]
    pub load_balancer: LoadBalancerStatus,
}

/// `status.loadBalancer`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoadBalancerStatus {
    /// Ingress points of the load balancer.
    #[serde(deserialize_with = "null_as_default")]
    pub ingress: Vec<LoadBalancerIngress>,
}

/// One load-balancer ingress point: an IP, or a hostname when the balancer has no IP.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoadBalancerIngress {
    /// Ingress IP.
    pub ip: Option<String>,
    /// Ingress hostname (used only when there is no IP).
    pub hostname: Option<String>,
}

impl Service {
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        name_of(&self.metadata)
    }
    /// `metadata.namespace`.
    pub fn namespace(&self) -> &str {
        namespace_of(&self.metadata)
    }
    /// `metadata.labels` (empty when absent).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        labels_of(&self.metadata)
    }
}

static_resource!(
    Service,
    NamespaceResourceScope,
    "",
    "v1",
    "Service",
    "services"
);

// ---------------------------------------------------------------------------------------
// EndpointSlice

/// A discovery.k8s.io/v1 EndpointSlice, slimmed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(from = "RawEndpointSlice")]
pub struct EndpointSlice {
    /// Name, namespace, labels (with `kubernetes.io/service-name` and the multicluster
    /// labels), resourceVersion, uid, deletionTimestamp only.
    pub metadata: ObjectMeta,
    /// The `endpoints.kubernetes.io/last-change-trigger-time` annotation, the only
    /// annotation kept (`None` when absent or malformed).
    pub last_change_trigger_time: Option<SystemTime>,
    /// `IPv4`, `IPv6` or `FQDN` (not checked by DNS, like CoreDNS).
    pub address_type: String,
    /// The endpoints.
    pub endpoints: Vec<Endpoint>,
    /// The ports shared by all endpoints of the slice.
    pub ports: Vec<EndpointPort>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawEndpointSlice {
    #[serde(deserialize_with = "null_as_default")]
    metadata: SlimMeta,
    #[serde(deserialize_with = "null_as_default")]
    address_type: String,
    #[serde(deserialize_with = "null_as_default")]
    endpoints: Vec<Endpoint>,
    #[serde(deserialize_with = "null_as_default")]
    ports: Vec<EndpointPort>,
}

impl From<RawEndpointSlice> for EndpointSlice {
    fn from(mut raw: RawEndpointSlice) -> Self {
        let trigger = raw.metadata.annotations.0.take();
        EndpointSlice {
            last_change_trigger_time: trigger.as_deref().and_then(parse_timestamp),
            metadata: raw.metadata.into_object_meta(),
            address_type: raw.address_type,
            endpoints: raw.endpoints,
            ports: raw.ports,
        }
    }
}

/// One endpoint of a slice.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Endpoint {
    /// Addresses (in practice exactly one).
    #[serde(deserialize_with = "null_as_default")]
    pub addresses: Vec<String>,
    /// Readiness.
    #[serde(deserialize_with = "null_as_default")]
    pub conditions: EndpointConditions,
    /// Hostname (from the pod's `hostname` when it has a `subdomain`).
    pub hostname: Option<String>,
    /// Node the endpoint runs on.
    pub node_name: Option<String>,
    /// Topology zone.
    pub zone: Option<String>,
    /// The object behind the endpoint (usually a Pod).
    pub target_ref: Option<TargetRef>,
}

/// `endpoints[].conditions`, only readiness.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct EndpointConditions {
    /// `None` means unknown, which consumers treat as ready.
    pub ready: Option<bool>,
}

/// `endpoints[].targetRef`, slimmed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct TargetRef {
    /// Usually `Pod`.
    pub kind: Option<String>,
    /// Name of the target object.
    pub name: Option<String>,
    /// Namespace of the target object.
    pub namespace: Option<String>,
}

/// One port of a slice.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct EndpointPort {
    /// Port name (matches the service port name); may be absent.
    pub name: Option<String>,
    /// Port number; absent means "all ports" and reads as -1 like CoreDNS.
    pub port: Option<i32>,
    /// `TCP` (default), `UDP` or `SCTP`.
    pub protocol: Option<String>,
}

impl EndpointSlice {
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        name_of(&self.metadata)
    }
    /// `metadata.namespace`.
    pub fn namespace(&self) -> &str {
        namespace_of(&self.metadata)
    }
    /// `metadata.labels` (empty when absent).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        labels_of(&self.metadata)
    }
    /// The `kubernetes.io/service-name` label: the Service this slice belongs to.
    pub fn service_name(&self) -> Option<&str> {
        label(&self.metadata, LABEL_SERVICE_NAME)
    }
    /// The `multicluster.kubernetes.io/service-name` label (imported slices).
    pub fn multicluster_service_name(&self) -> Option<&str> {
        label(&self.metadata, LABEL_MCS_SERVICE_NAME)
    }
    /// The `multicluster.kubernetes.io/source-cluster` label (imported slices).
    pub fn source_cluster(&self) -> Option<&str> {
        label(&self.metadata, LABEL_MCS_SOURCE_CLUSTER)
    }
}

static_resource!(
    EndpointSlice,
    NamespaceResourceScope,
    "discovery.k8s.io",
    "v1",
    "EndpointSlice",
    "endpointslices"
);

// ---------------------------------------------------------------------------------------
// Pod

/// A core/v1 Pod, slimmed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Pod {
    /// Name, namespace, labels, resourceVersion, uid, deletionTimestamp only.
    #[serde(deserialize_with = "slim_metadata")]
    pub metadata: ObjectMeta,
    /// Pod IPs and phase.
    #[serde(deserialize_with = "null_as_default")]
    pub status: PodStatus,
}

/// `Pod.status`, slimmed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodStatus {
    /// The primary pod IP.
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    /// All pod IPs (dual stack), primary first.
    #[serde(rename = "podIPs", deserialize_with = "null_as_default")]
    pub pod_ips: Vec<PodIp>,
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    pub phase: Option<String>,
}

/// One entry of `status.podIPs`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PodIp {
    /// The address.
    pub ip: String,
}

impl Pod {
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        name_of(&self.metadata)
    }
    /// `metadata.namespace`.
    pub fn namespace(&self) -> &str {
        namespace_of(&self.metadata)
    }
    /// `metadata.labels` (empty when absent).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        labels_of(&self.metadata)
    }
    /// True when the pod is being deleted (`metadata.deletionTimestamp` set).
    pub fn is_terminating(&self) -> bool {
        self.metadata.deletion_timestamp.is_some()
    }
    /// True in the phases the DNS pod watch excludes (`Succeeded`, `Failed`, `Unknown`),
    /// the same filter as CoreDNS's field selector.
    pub fn is_finished(&self) -> bool {
        matches!(
            self.status.phase.as_deref(),
            Some("Succeeded" | "Failed" | "Unknown")
        )
    }
}

static_resource!(Pod, NamespaceResourceScope, "", "v1", "Pod", "pods");

// ---------------------------------------------------------------------------------------
// Namespace

/// A core/v1 Namespace: its name and labels (for `namespace_labels`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Namespace {
    /// Name, labels, resourceVersion, uid, deletionTimestamp only.
    #[serde(deserialize_with = "slim_metadata")]
    pub metadata: ObjectMeta,
}

impl Namespace {
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        name_of(&self.metadata)
    }
    /// `metadata.labels` (empty when absent).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        labels_of(&self.metadata)
    }
}

static_resource!(
    Namespace,
    ClusterResourceScope,
    "",
    "v1",
    "Namespace",
    "namespaces"
);

// ---------------------------------------------------------------------------------------
// ServiceImport

/// A multicluster.x-k8s.io/v1alpha1 ServiceImport (Multi-Cluster Services API), slimmed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ServiceImport {
    /// Name, namespace, labels, resourceVersion, uid, deletionTimestamp only.
    #[serde(deserialize_with = "slim_metadata")]
    pub metadata: ObjectMeta,
    /// Type, IPs, ports.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: ServiceImportSpec,
}

/// `ServiceImport.spec`, slimmed.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ServiceImportSpec {
    /// `ClusterSetIP` or `Headless`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// The cluster-set IPs.
    #[serde(deserialize_with = "null_as_default")]
    pub ips: Vec<String>,
    /// Ports: name, port, protocol.
    #[serde(deserialize_with = "null_as_default")]
    pub ports: Vec<ServicePort>,
}

impl ServiceImport {
    /// `metadata.name`.
    pub fn name(&self) -> &str {
        name_of(&self.metadata)
    }
    /// `metadata.namespace`.
    pub fn namespace(&self) -> &str {
        namespace_of(&self.metadata)
    }
    /// `metadata.labels` (empty when absent).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        labels_of(&self.metadata)
    }
}

static_resource!(
    ServiceImport,
    NamespaceResourceScope,
    "multicluster.x-k8s.io",
    "v1alpha1",
    "ServiceImport",
    "serviceimports"
);

// ---------------------------------------------------------------------------------------
// Object

/// Any object the index reads.
#[derive(Clone, Debug)]
pub enum Object {
    /// A Service.
    Service(Service),
    /// An EndpointSlice.
    EndpointSlice(EndpointSlice),
    /// A Pod.
    Pod(Pod),
    /// A Namespace.
    Namespace(Namespace),
    /// A ServiceImport.
    ServiceImport(ServiceImport),
}

/// Why a document could not be turned into an [`Object`].
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The document is not an object at all (a list, a string...).
    #[error("not a Kubernetes object (no `kind` field)")]
    NotAnObject,
    /// A kind the index does not read (ConfigMap, Deployment...). Sources skip these.
    #[error("kind {kind:?} (apiVersion {api_version:?}) is not read by cluster DNS")]
    Unsupported {
        /// The document's `apiVersion`.
        api_version: String,
        /// The document's `kind`.
        kind: String,
    },
    /// The text is not valid YAML.
    #[error("{0}")]
    Yaml(String),
    /// A known kind whose fields do not have the expected shape.
    #[error("{kind} {name:?}: {source}")]
    Invalid {
        /// The kind being read.
        kind: Kind,
        /// `metadata.name` when readable.
        name: String,
        /// The deserializer's message.
        source: serde_json::Error,
    },
}

impl Object {
    /// The object's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Object::Service(_) => Kind::Service,
            Object::EndpointSlice(_) => Kind::EndpointSlice,
            Object::Pod(_) => Kind::Pod,
            Object::Namespace(_) => Kind::Namespace,
            Object::ServiceImport(_) => Kind::ServiceImport,
        }
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Object::Service(o) => &o.metadata,
            Object::EndpointSlice(o) => &o.metadata,
            Object::Pod(o) => &o.metadata,
            Object::Namespace(o) => &o.metadata,
            Object::ServiceImport(o) => &o.metadata,
        }
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        name_of(self.metadata())
    }

    /// `metadata.namespace` (empty for namespaces themselves).
    pub fn namespace(&self) -> &str {
        namespace_of(self.metadata())
    }

    /// Reads one object from a JSON value (a parsed JSON or YAML document), choosing the
    /// type from `apiVersion` and `kind`.
    pub fn from_json_value(value: serde_json::Value) -> Result<Object, ObjectError> {
        let (api_version, kind_name) = match &value {
            serde_json::Value::Object(map) => match map.get("kind") {
                Some(serde_json::Value::String(kind)) => (
                    map.get("apiVersion")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("")
                        .to_owned(),
                    kind.clone(),
                ),
                _ => return Err(ObjectError::NotAnObject),
            },
            _ => return Err(ObjectError::NotAnObject),
        };
        let Some(kind) = Kind::from_type(&api_version, &kind_name) else {
            return Err(ObjectError::Unsupported {
                api_version,
                kind: kind_name,
            });
        };
        let name = value
            .pointer("/metadata/name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("")
            .to_owned();
        let invalid = |source| ObjectError::Invalid { kind, name, source };
        match kind {
            Kind::Service => typed(value).map(Object::Service),
            Kind::EndpointSlice => typed(value).map(Object::EndpointSlice),
            Kind::Pod => typed(value).map(Object::Pod),
            Kind::Namespace => typed(value).map(Object::Namespace),
            Kind::ServiceImport => typed(value).map(Object::ServiceImport),
        }
        .map_err(invalid)
    }

    /// Reads one object from the text of a single YAML (or JSON) document.
    pub fn from_yaml_str(text: &str) -> Result<Object, ObjectError> {
        let value: serde_json::Value =
            serde_saphyr::from_str(text).map_err(|e| ObjectError::Yaml(e.to_string()))?;
        Object::from_json_value(value)
    }
}

fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, serde_json::Error> {
    serde_json::from_value(value)
}

impl From<Service> for Object {
    fn from(o: Service) -> Self {
        Object::Service(o)
    }
}
impl From<EndpointSlice> for Object {
    fn from(o: EndpointSlice) -> Self {
        Object::EndpointSlice(o)
    }
}
impl From<Pod> for Object {
    fn from(o: Pod) -> Self {
        Object::Pod(o)
    }
}
impl From<Namespace> for Object {
    fn from(o: Namespace) -> Self {
        Object::Namespace(o)
    }
}
impl From<ServiceImport> for Object {
    fn from(o: ServiceImport) -> Self {
        Object::ServiceImport(o)
    }
}

#[cfg(test)]
mod tests;
