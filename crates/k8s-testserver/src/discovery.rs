//! The discovery documents clients probe before they LIST: `/version`, `/api`, `/apis`, and
//! one APIResourceList per group version, all derived from the resource table.

use std::net::SocketAddr;

use serde_json::{json, Value};

use crate::resources::{group_versions, RESOURCES};

/// The Kubernetes version this server reports.
pub(crate) const MAJOR: &str = "1";
pub(crate) const MINOR: &str = "33";

/// `/version` (a `version.Info`).
pub(crate) fn version_info() -> Value {
    json!({
        "major": MAJOR,
        "minor": MINOR,
        "gitVersion": format!("v{MAJOR}.{MINOR}.0-cairn-testserver"),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "go1.24.0",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/api` (an `APIVersions`).
pub(crate) fn core_versions(addr: SocketAddr) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr.to_string()}]
    })
}

fn group_document(group: &str) -> Value {
    let versions: Vec<Value> = group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(g, v)| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
        .collect();
    let preferred = versions.first().cloned().unwrap_or(Value::Null);
    json!({"name": group, "versions": versions, "preferredVersion": preferred})
}

/// `/apis` (an `APIGroupList` of the named groups).
pub(crate) fn group_list() -> Value {
    let mut names: Vec<&str> = group_versions()
        .into_iter()
        .map(|(g, _)| g)
        .filter(|g| !g.is_empty())
        .collect();
    names.dedup();
    let groups: Vec<Value> = names.into_iter().map(group_document).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>` (an `APIGroup`), if the group is served.
pub(crate) fn group(group: &str) -> Option<Value> {
    if group.is_empty() || !group_versions().iter().any(|(g, _)| *g == group) {
        return None;
    }
    let mut document = group_document(group);
    document["kind"] = json!("APIGroup");
    document["apiVersion"] = json!("v1");
    Some(document)
}

/// `/api/v1` or `/apis/<group>/<version>` (an `APIResourceList`), if served.
pub(crate) fn resource_list(group: &str, version: &str) -> Option<Value> {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| r.group() == group && r.version() == version)
        .map(|r| {
            json!({
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": ["get", "list", "watch"],
                "shortNames": r.short_names,
            })
        })
        .collect();
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_lists_name_their_kinds() {
        let core = resource_list("", "v1").unwrap();
        assert_eq!(core["groupVersion"], "v1");
        let names: Vec<&str> = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["namespaces", "services", "pods", "endpoints"]);
        assert_eq!(core["resources"][0]["namespaced"], false);
        let slices = resource_list("discovery.k8s.io", "v1").unwrap();
        assert_eq!(slices["resources"][0]["kind"], "EndpointSlice");
        assert!(resource_list("apps", "v1").is_none());
    }

    #[test]
    fn group_list_has_the_named_groups_only() {
        let list = group_list();
        let names: Vec<&str> = list["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["discovery.k8s.io", "multicluster.x-k8s.io"]);
        assert_eq!(
            list["groups"][1]["preferredVersion"]["groupVersion"],
            "multicluster.x-k8s.io/v1alpha1"
        );
        assert!(group("discovery.k8s.io").is_some());
        assert!(group("").is_none());
    }
}
