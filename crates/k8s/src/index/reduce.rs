//! The reductions of compat spec §3.2: from a slim Kubernetes object to the index entry DNS
//! answers from. Kept apart from the writer's bookkeeping so the rules read in one place.

use std::net::IpAddr;
use std::sync::Arc;

use super::interner::Interner;
use super::{
    EndpointEntry, EndpointSliceEntry, ExternalAddress, ImportKind, IndexConfig, IpList, PodEntry,
    Port, Protocol, ServiceEntry, ServiceImportEntry, ServiceKind,
};
use crate::objects::{self, EndpointSlice, Pod, Service, ServiceImport};

/// Target names this long cannot be a DNS label; CoreDNS drops them.
const MAX_TARGET_NAME: usize = 63;

fn parse_ip(text: &str) -> Option<IpAddr> {
    text.trim().parse().ok()
}

fn non_empty(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.is_empty())
}

/// One port; `None` for a protocol Kubernetes does not have (dropped).
fn port(
    interner: &mut Interner,
    name: Option<&str>,
    number: i32,
    protocol: Option<&str>,
) -> Option<Port> {
    let protocol = match protocol {
        None | Some("") => Protocol::Tcp,
        Some(text) => Protocol::parse(text)?,
    };
    Some(Port {
        name: interner.str(name.unwrap_or("")),
        protocol,
        port: number,
    })
}

/// The ports, or the single sentinel port when there are none.
fn with_sentinel(ports: Vec<Port>, interner: &mut Interner) -> Box<[Port]> {
    if ports.is_empty() {
        Box::new([Port {
            name: interner.str(""),
            ..Port::sentinel()
        }])
    } else {
        ports.into_boxed_slice()
    }
}

pub(crate) fn service(svc: &Service, interner: &mut Interner) -> ServiceEntry {
    let spec = &svc.spec;
    let first_cluster_ip = match spec.cluster_ips.first() {
        Some(first) => first.as_str(),
        None => spec.cluster_ip.as_deref().unwrap_or(""),
    };
    let kind = if spec.type_.as_deref() == Some("ExternalName") {
        ServiceKind::ExternalName
    } else if first_cluster_ip == "None" {
        ServiceKind::Headless
    } else {
        ServiceKind::ClusterIp
    };
    let cluster_ips: IpList = if kind == ServiceKind::ClusterIp {
        if spec.cluster_ips.is_empty() {
            spec.cluster_ip
                .as_deref()
                .and_then(parse_ip)
                .into_iter()
                .collect()
        } else {
            spec.cluster_ips
                .iter()
                .filter_map(|ip| parse_ip(ip))
                .collect()
        }
    } else {
        IpList::EMPTY
    };
    let ports = spec
        .ports
        .iter()
        .filter_map(|p| port(interner, p.name.as_deref(), p.port, p.protocol.as_deref()))
        .collect();
    let external_name = match kind {
        ServiceKind::ExternalName => non_empty(spec.external_name.as_deref()).map(Box::from),
        _ => None,
    };
    let mut external: Vec<ExternalAddress> = spec
        .external_ips
        .iter()
        .filter_map(|ip| parse_ip(ip).map(ExternalAddress::Ip))
        .collect();
    for ingress in &svc.status.load_balancer.ingress {
        if let Some(ip) = non_empty(ingress.ip.as_deref()).and_then(parse_ip) {
            external.push(ExternalAddress::Ip(ip));
        } else if let Some(hostname) = non_empty(ingress.hostname.as_deref()) {
            external.push(ExternalAddress::Hostname(Box::from(hostname)));
        }
    }
    ServiceEntry {
        namespace: interner.str(svc.namespace()),
        name: interner.str(svc.name()),
        kind,
        cluster_ips,
        ports: with_sentinel(ports, interner),
        external_name,
        external: external.into_boxed_slice(),
    }
}

pub(crate) fn endpoint_slice(
    slice: &EndpointSlice,
    config: &IndexConfig,
    interner: &mut Interner,
) -> EndpointSliceEntry {
    let ports = slice
        .ports
        .iter()
        .filter_map(|p| {
            port(
                interner,
                p.name.as_deref(),
                p.port.unwrap_or(Port::NONE),
                p.protocol.as_deref(),
            )
        })
        .collect();
    let endpoints = slice
        .endpoints
        .iter()
        // Ready, or unknown (which consumers must treat as ready).
        .filter(|ep| ep.conditions.ready != Some(false))
        .filter_map(|ep| endpoint(ep, config, interner))
        .collect();
    EndpointSliceEntry {
        namespace: interner.str(slice.namespace()),
        name: Arc::from(slice.name()),
        ports: with_sentinel(ports, interner),
        endpoints,
        cluster: non_empty(slice.source_cluster()).map(|c| interner.str(c)),
    }
}

fn endpoint(
    ep: &objects::Endpoint,
    config: &IndexConfig,
    interner: &mut Interner,
) -> Option<EndpointEntry> {
    let addresses: IpList = ep.addresses.iter().filter_map(|a| parse_ip(a)).collect();
    if addresses.is_empty() {
        return None;
    }
    let target_pod = ep
        .target_ref
        .as_ref()
        .and_then(|target| non_empty(target.name.as_deref()))
        .filter(|name| name.len() <= MAX_TARGET_NAME)
        .map(Box::from);
    let zone = if config.zones {
        non_empty(ep.zone.as_deref()).map(|zone| {
            if zone.bytes().any(|b| b.is_ascii_uppercase()) {
                interner.str(&zone.to_ascii_lowercase())
            } else {
                interner.str(zone)
            }
        })
    } else {
        None
    };
    Some(EndpointEntry {
        addresses,
        hostname: non_empty(ep.hostname.as_deref()).map(Box::from),
        target_pod,
        node_name: non_empty(ep.node_name.as_deref()).map(|n| interner.str(n)),
        zone,
    })
}

/// The pod entry, or `None` when the pod has no usable IP.
pub(crate) fn pod(pod: &Pod, config: &IndexConfig, interner: &mut Interner) -> Option<PodEntry> {
    let primary = non_empty(pod.status.pod_ip.as_deref())
        .and_then(parse_ip)
        .or_else(|| pod.status.pod_ips.first().and_then(|p| parse_ip(&p.ip)))?;
    let mut ips = vec![primary];
    if config.all_pod_ips {
        for ip in pod.status.pod_ips.iter().filter_map(|p| parse_ip(&p.ip)) {
            if !ips.contains(&ip) {
                ips.push(ip);
            }
        }
    }
    Some(PodEntry {
        namespace: interner.str(pod.namespace()),
        name: Arc::from(pod.name()),
        ip: primary,
        ips: IpList::from(ips),
        labels: interner.labels(pod.labels()),
    })
}

pub(crate) fn service_import(
    import: &ServiceImport,
    interner: &mut Interner,
) -> ServiceImportEntry {
    let kind = match import.spec.type_.as_deref() {
        Some("Headless") => ImportKind::Headless,
        _ => ImportKind::ClusterSetIp,
    };
    ServiceImportEntry {
        namespace: interner.str(import.namespace()),
        name: interner.str(import.name()),
        kind,
        ips: import
            .spec
            .ips
            .iter()
            .filter_map(|ip| parse_ip(ip))
            .collect(),
        ports: import
            .spec
            .ports
            .iter()
            .filter_map(|p| port(interner, p.name.as_deref(), p.port, p.protocol.as_deref()))
            .collect(),
    }
}
