//! Slim object decoding: kept fields, skipped fields, Resource metadata.

use std::time::{Duration, UNIX_EPOCH};

use kube::Resource;
use serde_json::json;

use super::*;

#[test]
fn service_keeps_dns_fields_and_drops_the_rest() {
    let value = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "web",
            "namespace": "prod",
            "uid": "1234",
            "resourceVersion": "77",
            "labels": {"app": "web"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...big...}"},
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
        },
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10", "fd00::10"],
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
            "externalIPs": ["192.0.2.1"],
            "selector": {"app": "web"},
            "sessionAffinity": "None"
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}, {"hostname": "lb.example.com"}]}}
    });
    let Object::Service(svc) = Object::from_json_value(value).unwrap() else {
        panic!("not a service");
    };
    assert_eq!(svc.name(), "web");
    assert_eq!(svc.namespace(), "prod");
    assert_eq!(svc.metadata.uid.as_deref(), Some("1234"));
    assert_eq!(svc.metadata.resource_version.as_deref(), Some("77"));
    assert_eq!(svc.labels().get("app").map(String::as_str), Some("web"));
    assert!(svc.metadata.annotations.is_none());
    assert!(svc.metadata.managed_fields.is_none());
    assert_eq!(svc.spec.type_.as_deref(), Some("LoadBalancer"));
    assert_eq!(svc.spec.cluster_ips, ["10.96.0.10", "fd00::10"]);
    assert_eq!(svc.spec.ports.len(), 2);
    assert_eq!(svc.spec.ports[0].name.as_deref(), Some("http"));
    assert_eq!(svc.spec.ports[1].port, 53);
    assert_eq!(svc.spec.ports[1].protocol.as_deref(), Some("UDP"));
    assert_eq!(svc.spec.external_ips, ["192.0.2.1"]);
    let ingress = &svc.status.load_balancer.ingress;
    assert_eq!(ingress[0].ip.as_deref(), Some("198.51.100.1"));
    assert_eq!(ingress[1].hostname.as_deref(), Some("lb.example.com"));
}

#[test]
fn nulls_and_missing_sections_read_as_empty() {
    let yaml = "apiVersion: v1\nkind: Service\nmetadata:\n  name: bare\n  namespace: default\n  labels:\nspec:\n  ports:\n  clusterIP: None\nstatus:\n";
    let Object::Service(svc) = Object::from_yaml_str(yaml).unwrap() else {
        panic!("not a service");
    };
    assert!(svc.spec.ports.is_empty());
    assert!(svc.labels().is_empty());
    assert_eq!(svc.spec.cluster_ip.as_deref(), Some("None"));
    assert!(svc.status.load_balancer.ingress.is_empty());
}

#[test]
fn endpoint_slice_keeps_trigger_time_and_labels() {
    let value = json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "web-abcde",
            "namespace": "prod",
            "labels": {
                "kubernetes.io/service-name": "web",
                "multicluster.kubernetes.io/service-name": "web-mc",
                "multicluster.kubernetes.io/source-cluster": "east"
            },
            "annotations": {
                "other": "x",
                "endpoints.kubernetes.io/last-change-trigger-time": "2024-05-01T10:00:00.5Z"
            }
        },
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": ["10.0.0.1"],
                "conditions": {"ready": false, "serving": true},
                "hostname": "h1",
                "nodeName": "n1",
                "zone": "Zone-A",
                "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "prod", "uid": "u"}
            },
            {"addresses": ["10.0.0.2"], "conditions": {}}
        ],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "all"}]
    });
    let Object::EndpointSlice(slice) = Object::from_json_value(value).unwrap() else {
        panic!("not a slice");
    };
    assert_eq!(slice.service_name(), Some("web"));
    assert_eq!(slice.multicluster_service_name(), Some("web-mc"));
    assert_eq!(slice.source_cluster(), Some("east"));
    assert!(slice.metadata.annotations.is_none());
    assert_eq!(
        slice.last_change_trigger_time,
        Some(UNIX_EPOCH + Duration::from_millis(1_714_557_600_500))
    );
    assert_eq!(slice.address_type, "IPv4");
    assert_eq!(slice.endpoints[0].conditions.ready, Some(false));
    assert_eq!(slice.endpoints[1].conditions.ready, None);
    assert_eq!(slice.endpoints[0].zone.as_deref(), Some("Zone-A"));
    let target = slice.endpoints[0].target_ref.as_ref().unwrap();
    assert_eq!(target.name.as_deref(), Some("web-1"));
    assert_eq!(target.kind.as_deref(), Some("Pod"));
    assert_eq!(slice.ports[1].port, None);
}

#[test]
fn malformed_trigger_time_is_ignored() {
    let value = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "s", "namespace": "n",
            "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "yesterday"}},
        "addressType": "IPv4", "endpoints": null
    });
    let Object::EndpointSlice(slice) = Object::from_json_value(value).unwrap() else {
        panic!("not a slice");
    };
    assert_eq!(slice.last_change_trigger_time, None);
    assert!(slice.endpoints.is_empty());
}

#[test]
fn pod_state() {
    let value = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "n", "deletionTimestamp": "2024-01-01T00:00:00Z", "labels": {"a": "b"}},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
        "status": {"phase": "Running", "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}, {"ip": "fd00::5"}]}
    });
    let Object::Pod(pod) = Object::from_json_value(value).unwrap() else {
        panic!("not a pod");
    };
    assert!(pod.is_terminating());
    assert!(!pod.is_finished());
    assert_eq!(pod.status.pod_ip.as_deref(), Some("10.1.0.5"));
    assert_eq!(pod.status.pod_ips[1].ip, "fd00::5");
    for phase in ["Succeeded", "Failed", "Unknown"] {
        let mut finished = pod.clone();
        finished.status.phase = Some(phase.into());
        assert!(finished.is_finished(), "{phase}");
    }
}

#[test]
fn namespace_and_service_import() {
    let ns = Object::from_json_value(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "prod", "labels": {"team": "a"}}, "status": {"phase": "Active"}
    }))
    .unwrap();
    assert_eq!(ns.kind(), Kind::Namespace);
    assert_eq!(ns.name(), "prod");
    assert_eq!(ns.namespace(), "");

    let import = Object::from_json_value(json!({
        "apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
        "metadata": {"name": "db", "namespace": "prod"},
        "spec": {"type": "ClusterSetIP", "ips": ["10.100.0.1"], "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}
    }))
    .unwrap();
    let Object::ServiceImport(import) = import else {
        panic!("not an import");
    };
    assert_eq!(import.spec.type_.as_deref(), Some("ClusterSetIP"));
    assert_eq!(import.spec.ips, ["10.100.0.1"]);
    assert_eq!(import.spec.ports[0].port, 5432);
}

#[test]
fn kinds_are_chosen_by_group_and_kind() {
    let cases = [
        ("v1", "Service", Some(Kind::Service)),
        ("", "Service", Some(Kind::Service)),
        ("serving.knative.dev/v1", "Service", None),
        (
            "discovery.k8s.io/v1",
            "EndpointSlice",
            Some(Kind::EndpointSlice),
        ),
        (
            "discovery.k8s.io/v1beta1",
            "EndpointSlice",
            Some(Kind::EndpointSlice),
        ),
        ("v1", "Endpoints", None),
        ("v1", "ConfigMap", None),
        (
            "multicluster.x-k8s.io/v1alpha1",
            "ServiceImport",
            Some(Kind::ServiceImport),
        ),
        ("v1", "Pod", Some(Kind::Pod)),
        ("v1", "Namespace", Some(Kind::Namespace)),
    ];
    for (api_version, kind, expected) in cases {
        assert_eq!(
            Kind::from_type(api_version, kind),
            expected,
            "{api_version} {kind}"
        );
    }
}

#[test]
fn unsupported_and_invalid_documents() {
    let unsupported = Object::from_json_value(json!({"apiVersion": "v1", "kind": "ConfigMap"}));
    assert!(
        matches!(unsupported, Err(ObjectError::Unsupported { kind, .. }) if kind == "ConfigMap")
    );
    assert!(matches!(
        Object::from_json_value(json!([1, 2])),
        Err(ObjectError::NotAnObject)
    ));
    let invalid = Object::from_json_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "bad"}, "spec": {"ports": "eighty"}
    }));
    match invalid {
        Err(ObjectError::Invalid { kind, name, .. }) => {
            assert_eq!(kind, Kind::Service);
            assert_eq!(name, "bad");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn resource_metadata_matches_the_api() {
    assert_eq!(Service::plural(&()), "services");
    assert_eq!(Service::api_version(&()), "v1");
    assert_eq!(
        Service::url_path(&(), Some("ns")),
        "/api/v1/namespaces/ns/services"
    );
    assert_eq!(
        EndpointSlice::url_path(&(), None),
        "/apis/discovery.k8s.io/v1/endpointslices"
    );
    assert_eq!(EndpointSlice::api_version(&()), "discovery.k8s.io/v1");
    assert_eq!(Pod::url_path(&(), None), "/api/v1/pods");
    assert_eq!(Namespace::url_path(&(), None), "/api/v1/namespaces");
    assert_eq!(
        ServiceImport::url_path(&(), Some("x")),
        "/apis/multicluster.x-k8s.io/v1alpha1/namespaces/x/serviceimports"
    );
    let mut pod = Pod::default();
    pod.meta_mut().name = Some("p".into());
    assert_eq!(pod.meta().name.as_deref(), Some("p"));
}

#[test]
fn kube_watch_event_decodes_into_slim_types() {
    // The shape kube-rs decodes from a WATCH stream line.
    let line = r#"{"type":"ADDED","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"a","namespace":"b","resourceVersion":"5","managedFields":[{"x":1}]},"spec":{"clusterIP":"10.0.0.1"}}}"#;
    let event: kube::core::WatchEvent<Service> = serde_json::from_str(line).unwrap();
    let kube::core::WatchEvent::Added(svc) = event else {
        panic!("not added");
    };
    assert_eq!(svc.name(), "a");
    assert_eq!(svc.metadata.resource_version.as_deref(), Some("5"));
    assert_eq!(svc.spec.cluster_ip.as_deref(), Some("10.0.0.1"));
}
