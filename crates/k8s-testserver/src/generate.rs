//! Deterministic generated clusters for benchmarks and large tests: the same arguments always
//! give the same objects, shaped like what a real cluster serves.
//!
//! Layout (so tests can name what they query):
//! - `max(1, services / 100)` namespaces `ns-<n>`, phase Active;
//! - services `svc-<i>` in namespace `ns-<i mod namespaces>`, labelled and selecting
//!   `app=svc-<i>`; every tenth (`i mod 10 == 9`) is headless (`clusterIP: None`), the others
//!   have a ClusterIP from 10.96.0.0/12; ports `http` 80->8080/TCP on all, `grpc` 9090/TCP when
//!   `i mod 3 == 0`, `dns` 53/UDP when `i mod 20 == 7`;
//! - `endpoints` endpoints spread evenly over the services (earlier services get the
//!   remainder), in EndpointSlices of at most 100 (an empty slice for a service without any),
//!   each endpoint with a pod IP from 10.128.0.0/9, a node name, a zone, `ready` false for one
//!   in 25, a `hostname` (`svc-<i>-<k>`) on headless services, and a `targetRef` to its pod;
//! - `pods` pods: the first ones back the endpoints in order (`svc-<i>-<k>`, same IP, node and
//!   namespace); any beyond the endpoints are `standalone-<j>`, one in ten of them Succeeded,
//!   the rest Running.

use serde_json::{json, Value};

const MAX_ENDPOINTS_PER_SLICE: usize = 100;

fn pod_ip(index: usize) -> String {
    format!(
        "10.{}.{}.{}",
        128 + (index >> 16),
        (index >> 8) & 255,
        index & 255
    )
}

fn cluster_ip(index: usize) -> String {
    let n = index + 10;
    format!("10.{}.{}.{}", 96 + (n >> 16), (n >> 8) & 255, n & 255)
}

/// Five lowercase letters and digits derived from the numbers, like the random suffix the
/// EndpointSlice controller gives slice names.
fn suffix(service: usize, slice: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut state = (service as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(slice as u64)
        .wrapping_mul(0xBF58_476D_1CE4_E5B9);
    (0..5)
        .map(|_| {
            let letter = ALPHABET[(state % ALPHABET.len() as u64) as usize];
            state /= ALPHABET.len() as u64;
            char::from(letter)
        })
        .collect()
}

struct ServicePort {
    name: &'static str,
    port: u16,
    target: u16,
    protocol: &'static str,
}

fn service_ports(service: usize) -> Vec<ServicePort> {
    let mut ports = vec![ServicePort {
        name: "http",
        port: 80,
        target: 8080,
        protocol: "TCP",
    }];
    if service.is_multiple_of(3) {
        ports.push(ServicePort {
            name: "grpc",
            port: 9090,
            target: 9090,
            protocol: "TCP",
        });
    }
    if service % 20 == 7 {
        ports.push(ServicePort {
            name: "dns",
            port: 53,
            target: 53,
            protocol: "UDP",
        });
    }
    ports
}

/// The arithmetic of a generated cluster: which endpoints belong to which service.
#[derive(Debug, Clone, Copy)]
struct Layout {
    services: usize,
    endpoints: usize,
    pods: usize,
    namespaces: usize,
    nodes: usize,
}

impl Layout {
    fn new(services: usize, endpoints: usize, pods: usize) -> Layout {
        Layout {
            services,
            endpoints: if services == 0 { 0 } else { endpoints },
            pods,
            namespaces: (services / 100).max(1),
            nodes: 1 + pods.max(endpoints) / 100,
        }
    }

    /// Global index of the first endpoint of a service, and how many it has.
    fn endpoint_range(&self, service: usize) -> (usize, usize) {
        let per = self.endpoints / self.services;
        let extra = self.endpoints % self.services;
        (
            service * per + service.min(extra),
            per + usize::from(service < extra),
        )
    }

    fn namespace_of(&self, service: usize) -> String {
        format!("ns-{}", service % self.namespaces)
    }

    fn namespace(&self, n: usize) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": format!("ns-{n}"), "labels": {"kubernetes.io/metadata.name": format!("ns-{n}")}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"}
        })
    }

    fn service(&self, s: usize) -> Value {
        let name = format!("svc-{s}");
        let port_specs: Vec<Value> = service_ports(s)
            .iter()
            .map(|p| json!({"name": p.name, "port": p.port, "targetPort": p.target, "protocol": p.protocol}))
            .collect();
        let ip = if s % 10 == 9 {
            "None".to_owned()
        } else {
            cluster_ip(s)
        };
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": self.namespace_of(s), "labels": {"app": name}},
            "spec": {
                "type": "ClusterIP",
                "clusterIP": ip,
                "clusterIPs": [ip],
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "selector": {"app": name},
                "ports": port_specs,
                "sessionAffinity": "None"
            },
            "status": {"loadBalancer": {}}
        })
    }

    fn slices(&self, s: usize) -> Vec<Value> {
        let name = format!("svc-{s}");
        let namespace = self.namespace_of(s);
        let headless = s % 10 == 9;
        let slice_ports: Vec<Value> = service_ports(s)
            .iter()
            .map(|p| json!({"name": p.name, "port": p.target, "protocol": p.protocol}))
            .collect();
        let (first, count) = self.endpoint_range(s);
        let members: Vec<Value> = (0..count)
            .map(|k| {
                let global = first + k;
                let pod_name = format!("{name}-{k}");
                let mut endpoint = json!({
                    "addresses": [pod_ip(global)],
                    "conditions": {"ready": global % 25 != 24, "serving": true, "terminating": false},
                    "nodeName": format!("node-{}", global % self.nodes),
                    "zone": ZONES[global % ZONES.len()],
                });
                if headless {
                    endpoint["hostname"] = json!(pod_name);
                }
                if global < self.pods {
                    endpoint["targetRef"] =
                        json!({"kind": "Pod", "namespace": namespace, "name": pod_name});
                }
                endpoint
            })
            .collect();
        let chunks: Vec<&[Value]> = if members.is_empty() {
            vec![&[]]
        } else {
            members.chunks(MAX_ENDPOINTS_PER_SLICE).collect()
        };
        chunks
            .into_iter()
            .enumerate()
            .map(|(at, chunk)| {
                json!({
                    "apiVersion": "discovery.k8s.io/v1",
                    "kind": "EndpointSlice",
                    "metadata": {
                        "name": format!("{name}-{}", suffix(s, at)),
                        "namespace": namespace,
                        "labels": {
                            "kubernetes.io/service-name": name,
                            "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"
                        }
                    },
                    "addressType": "IPv4",
                    "endpoints": chunk,
                    "ports": slice_ports
                })
            })
            .collect()
    }

    /// The pods behind a service's endpoints (those with an index below `pods`).
    fn backing_pods(&self, s: usize) -> Vec<Value> {
        let name = format!("svc-{s}");
        let namespace = self.namespace_of(s);
        let (first, count) = self.endpoint_range(s);
        (0..count)
            .map(|k| first + k)
            .take_while(|global| *global < self.pods)
            .map(|global| {
                let node = format!("node-{}", global % self.nodes);
                pod(
                    &format!("{name}-{}", global - first),
                    &namespace,
                    &name,
                    global,
                    &node,
                    "Running",
                )
            })
            .collect()
    }

    fn standalone_pods(&self) -> usize {
        self.pods.saturating_sub(self.endpoints)
    }

    fn standalone_pod(&self, j: usize) -> Value {
        let phase = if j % 10 == 9 { "Succeeded" } else { "Running" };
        pod(
            &format!("standalone-{j}"),
            &format!("ns-{}", j % self.namespaces),
            "standalone",
            self.endpoints + j,
            &format!("node-{}", j % self.nodes),
            phase,
        )
    }
}

const ZONES: [&str; 3] = ["zone-a", "zone-b", "zone-c"];

/// A generated cluster, in apply order: namespaces, services, EndpointSlices, pods.
#[must_use]
pub fn cluster(services: usize, endpoints: usize, pods: usize) -> Vec<Value> {
    cluster_objects(services, endpoints, pods).collect()
}

/// [`cluster`] made one object at a time, so a big cluster can be applied without holding
/// every parsed object at once (`TestApiServer::apply_many(cluster_objects(..))`).
pub fn cluster_objects(
    services: usize,
    endpoints: usize,
    pods: usize,
) -> impl Iterator<Item = Value> {
    let layout = Layout::new(services, endpoints, pods);
    (0..layout.namespaces)
        .map(move |n| layout.namespace(n))
        .chain((0..services).map(move |s| layout.service(s)))
        .chain((0..services).flat_map(move |s| layout.slices(s)))
        .chain((0..services).flat_map(move |s| layout.backing_pods(s)))
        .chain((0..layout.standalone_pods()).map(move |j| layout.standalone_pod(j)))
}

fn pod(name: &str, namespace: &str, app: &str, index: usize, node: &str, phase: &str) -> Value {
    let ip = pod_ip(index);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": app}},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "app", "image": "registry.example/app:1.0"}],
            "restartPolicy": "Always",
            "serviceAccountName": "default"
        },
        "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}]}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
        objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    #[test]
    fn counts_match_the_request() {
        let objects = cluster(250, 1000, 700);
        assert_eq!(of_kind(&objects, "Namespace").len(), 2);
        assert_eq!(of_kind(&objects, "Service").len(), 250);
        assert_eq!(of_kind(&objects, "Pod").len(), 700);
        let slices = of_kind(&objects, "EndpointSlice");
        let endpoints: usize = slices
            .iter()
            .map(|s| s["endpoints"].as_array().unwrap().len())
            .sum();
        assert_eq!(endpoints, 1000);
        assert!(slices
            .iter()
            .all(|s| s["endpoints"].as_array().unwrap().len() <= MAX_ENDPOINTS_PER_SLICE));
    }

    #[test]
    fn big_services_split_into_slices_of_a_hundred() {
        let objects = cluster(2, 250, 0);
        let slices = of_kind(&objects, "EndpointSlice");
        let sizes: Vec<usize> = slices
            .iter()
            .map(|s| s["endpoints"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [100, 25, 100, 25]);
        let names: std::collections::HashSet<&str> = slices
            .iter()
            .map(|s| s["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 4, "slice names are unique");
    }

    #[test]
    fn generation_is_deterministic_and_linked() {
        assert_eq!(cluster(30, 60, 80), cluster(30, 60, 80));
        assert_eq!(
            cluster(0, 10, 3).len(),
            1 + 3,
            "no services: a namespace and pods"
        );
        let objects = cluster(10, 20, 25);
        let headless = of_kind(&objects, "Service")
            .into_iter()
            .find(|s| s["metadata"]["name"] == "svc-9")
            .unwrap();
        assert_eq!(headless["spec"]["clusterIP"], "None");
        let slice = of_kind(&objects, "EndpointSlice")
            .into_iter()
            .find(|s| s["metadata"]["labels"]["kubernetes.io/service-name"] == "svc-9")
            .unwrap();
        let endpoint = &slice["endpoints"][0];
        assert_eq!(endpoint["hostname"], "svc-9-0");
        assert_eq!(endpoint["targetRef"]["name"], "svc-9-0");
        let pod = of_kind(&objects, "Pod")
            .into_iter()
            .find(|p| p["metadata"]["name"] == "svc-9-0")
            .unwrap();
        assert_eq!(pod["status"]["podIP"], endpoint["addresses"][0]);
        let standalone = of_kind(&objects, "Pod")
            .into_iter()
            .filter(|p| p["metadata"]["labels"]["app"] == "standalone")
            .count();
        assert_eq!(standalone, 5);
    }
}
