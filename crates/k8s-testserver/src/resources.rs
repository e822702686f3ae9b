//! The table of resource kinds the server knows. Everything else (routing, discovery documents,
//! field selectors, LIST kinds) is derived from it, so serving one more kind is one more line.

/// One served resource kind: where it lives in the API and which fields can be selected on.
#[derive(Debug)]
pub(crate) struct ResourceKind {
    /// `v1` for the core group, else `group/version`.
    pub api_version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    /// Field-selector paths beyond `metadata.name` and `metadata.namespace`, as kube-apiserver
    /// registers them for this kind. A missing field selects as the empty string.
    pub extra_fields: &'static [&'static str],
}

/// Field-selector paths every kind supports, in the order their values are stored.
pub(crate) const COMMON_FIELDS: [&str; 2] = ["metadata.name", "metadata.namespace"];

const POD_FIELDS: &[&str] = &[
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];

#[rustfmt::skip]
pub(crate) const RESOURCES: &[ResourceKind] = &[
    ResourceKind { api_version: "v1", kind: "Namespace", plural: "namespaces", singular: "namespace", namespaced: false, short_names: &["ns"], extra_fields: &["status.phase"] },
    ResourceKind { api_version: "v1", kind: "Service", plural: "services", singular: "service", namespaced: true, short_names: &["svc"], extra_fields: &["spec.clusterIP", "spec.type"] },
    ResourceKind { api_version: "v1", kind: "Pod", plural: "pods", singular: "pod", namespaced: true, short_names: &["po"], extra_fields: POD_FIELDS },
    ResourceKind { api_version: "v1", kind: "Endpoints", plural: "endpoints", singular: "endpoints", namespaced: true, short_names: &["ep"], extra_fields: &[] },
    ResourceKind { api_version: "discovery.k8s.io/v1", kind: "EndpointSlice", plural: "endpointslices", singular: "endpointslice", namespaced: true, short_names: &[], extra_fields: &[] },
    ResourceKind { api_version: "multicluster.x-k8s.io/v1alpha1", kind: "ServiceImport", plural: "serviceimports", singular: "serviceimport", namespaced: true, short_names: &["svcim"], extra_fields: &[] },
];

impl ResourceKind {
    /// The API group, empty for the core group.
    pub(crate) fn group(&self) -> &'static str {
        self.api_version
            .split_once('/')
            .map_or("", |(group, _)| group)
    }

    /// The version inside the group.
    pub(crate) fn version(&self) -> &'static str {
        self.api_version
            .split_once('/')
            .map_or(self.api_version, |(_, version)| version)
    }

    /// Index into the stored field values of a field-selector path, if this kind supports it.
    pub(crate) fn field_index(&self, path: &str) -> Option<usize> {
        COMMON_FIELDS
            .iter()
            .chain(self.extra_fields)
            .position(|known| *known == path)
    }

    /// All supported field-selector paths, in stored order.
    pub(crate) fn field_paths(&self) -> impl Iterator<Item = &'static str> + '_ {
        COMMON_FIELDS.iter().chain(self.extra_fields).copied()
    }
}

/// The table index of the kind an object declares.
pub(crate) fn by_kind(api_version: &str, kind: &str) -> Option<usize> {
    RESOURCES
        .iter()
        .position(|r| r.api_version == api_version && r.kind == kind)
}

/// The table index of the kind served at `/api[s]/<group>/<version>/<plural>`.
pub(crate) fn by_path(group: &str, version: &str, plural: &str) -> Option<usize> {
    RESOURCES
        .iter()
        .position(|r| r.group() == group && r.version() == version && r.plural == plural)
}

/// The distinct `(group, version)` pairs, in table order, core group first.
pub(crate) fn group_versions() -> Vec<(&'static str, &'static str)> {
    let mut seen: Vec<(&'static str, &'static str)> = Vec::new();
    for resource in RESOURCES {
        let pair = (resource.group(), resource.version());
        if !seen.contains(&pair) {
            seen.push(pair);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_and_version_split_the_api_version() {
        let slices = &RESOURCES[by_kind("discovery.k8s.io/v1", "EndpointSlice").unwrap()];
        assert_eq!(
            (slices.group(), slices.version()),
            ("discovery.k8s.io", "v1")
        );
        let services = &RESOURCES[by_kind("v1", "Service").unwrap()];
        assert_eq!((services.group(), services.version()), ("", "v1"));
        assert_eq!(by_path("", "v1", "services"), by_kind("v1", "Service"));
        assert_eq!(by_path("", "v2", "services"), None);
    }

    #[test]
    fn pods_select_on_phase_after_the_common_fields() {
        let pods = &RESOURCES[by_kind("v1", "Pod").unwrap()];
        assert_eq!(pods.field_index("metadata.name"), Some(0));
        assert_eq!(pods.field_index("status.phase"), Some(7));
        assert_eq!(pods.field_index("spec.clusterIP"), None);
    }

    #[test]
    fn core_group_comes_first_and_groups_are_not_repeated() {
        let pairs = group_versions();
        assert_eq!(pairs[0], ("", "v1"));
        assert_eq!(pairs.len(), 3);
    }
}
