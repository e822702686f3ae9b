//! Forward answers: what a cluster name holds (services, endpoints, pods, ExternalName
//! targets) and how each query type turns that into records.
//!
//! The lookup walks the snapshot once and hands each match to a callback as an [`Entry`]
//! (an address or a CNAME target, a port, and where its SRV target name lives), the same
//! list CoreDNS's backend builds, so the per-type rules (deduplication, SRV weights,
//! additional records, which name errors become NODATA) can follow CoreDNS's without an
//! intermediate vector.

use std::net::IpAddr;

use cairn_core::wire::name::is_subdomain_wire;
use cairn_core::wire::{Message, Name, NameBuf, RData, RType, Record};
use cairn_core::Request;
use cairn_k8s::{EndpointEntry, EndpointSliceEntry, ImportKind, Port, ServiceKind, Snapshot};

use super::name::{
    self, before_zone, is_dns_version, is_ns_dns, label_eq, label_str, DashedIp, Kind, NameForm,
    Prefix, ZoneLabels,
};
use super::{Kubernetes, PodMode};

/// The name does not exist (or is not exposed): NXDOMAIN, fallthrough or SERVFAIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Missing;

/// How many CNAMEs an ExternalName chain may add (CoreDNS's limit).
const MAX_CNAME_CHAIN: usize = 10;

/// What an entry points to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Host<'a> {
    Ip(IpAddr),
    /// The `externalName` of an ExternalName service, as written.
    Name(&'a str),
}

/// The label of one endpoint address: hostname, pod name or the dashed address.
#[derive(Debug, Clone, Copy)]
pub(crate) enum EndpointLabel<'a> {
    Text(&'a str),
    Dashed(DashedIp),
}

impl EndpointLabel<'_> {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            EndpointLabel::Text(t) => t.as_bytes(),
            EndpointLabel::Dashed(d) => d.as_bytes(),
        }
    }
}

/// Where the SRV target (and additional records) of an entry are named.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    /// `<service>.<namespace>.svc.<zone>`.
    Service {
        service: &'a str,
        namespace: &'a str,
    },
    /// `<label>.[<cluster>.]<service>.<namespace>.svc.<zone>`.
    Endpoint {
        label: EndpointLabel<'a>,
        cluster: Option<&'a str>,
        service: &'a str,
        namespace: &'a str,
    },
    /// `<pod label>.<namespace>.pod.<zone>`, labels as asked.
    Pod { pod: &'a [u8], namespace: &'a [u8] },
}

impl Target<'_> {
    /// The target name under `zone` (the zone as the query spelled it). `None` only when
    /// the name would be too long.
    pub fn name(&self, zone: &[u8]) -> Option<Name> {
        let mut b = NameBuf::new();
        match self {
            Target::Service { service, namespace } => {
                b.push_label(service.as_bytes()).ok()?;
                b.push_label(namespace.as_bytes()).ok()?;
                b.push_label(b"svc").ok()?;
            }
            Target::Endpoint {
                label,
                cluster,
                service,
                namespace,
            } => {
                b.push_label(label.as_bytes()).ok()?;
                if let Some(c) = cluster {
                    b.push_label(c.as_bytes()).ok()?;
                }
                b.push_label(service.as_bytes()).ok()?;
                b.push_label(namespace.as_bytes()).ok()?;
                b.push_label(b"svc").ok()?;
            }
            Target::Pod { pod, namespace } => {
                b.push_label(pod).ok()?;
                b.push_label(namespace).ok()?;
                b.push_label(b"pod").ok()?;
            }
        }
        b.append_wire(zone).ok()?;
        Some(b.to_name())
    }
}

/// One thing a name holds: an address (or CNAME target) on a port.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub host: Host<'a>,
    /// The port; [`Port::NONE`] when the object has none (no SRV then).
    pub port: i32,
    pub target: Target<'a>,
}

/// The name being answered: its lower-case wire form, the zone it lies in, and the zone
/// spelled as the query spelled it.
#[derive(Clone, Copy)]
pub(crate) struct Question<'a> {
    /// Lower-case wire name.
    pub lower: &'a [u8],
    /// Index of the zone in the plugin's zones.
    pub zone: usize,
    /// The zone's bytes as the client wrote them (suffix of the query name).
    pub zone_as_asked: &'a [u8],
}

impl<'a> Question<'a> {
    /// The labels before the zone.
    fn rest(&self) -> &'a [u8] {
        before_zone(self.lower, self.zone_as_asked.len())
    }

    fn is_apex(&self) -> bool {
        self.lower.len() == self.zone_as_asked.len()
    }
}

/// The endpoint label of `addr` of `ep`.
pub(crate) fn endpoint_label(
    ep: &EndpointEntry,
    addr: IpAddr,
    pod_names: bool,
) -> EndpointLabel<'_> {
    if let Some(h) = ep.hostname.as_deref().filter(|h| !h.is_empty()) {
        return EndpointLabel::Text(h);
    }
    if pod_names {
        if let Some(p) = ep.target_pod.as_deref().filter(|p| !p.is_empty()) {
            return EndpointLabel::Text(p);
        }
    }
    EndpointLabel::Dashed(DashedIp::new(addr))
}

/// CoreDNS's port match: an empty query label is a wildcard; the no-ports sentinel has no
/// name and no protocol.
pub(crate) fn port_matches(port: &[u8], protocol: &[u8], p: &Port) -> bool {
    let (name, proto) = if p.is_real() {
        (&*p.name, p.protocol.as_label())
    } else {
        ("", "")
    };
    (port.is_empty() || label_eq(port, name)) && (protocol.is_empty() || label_eq(protocol, proto))
}

/// Entries of a service answered by its own addresses (cluster IPs, or a ServiceImport's
/// cluster-set IPs): every address on every port that matches; a name error when no port
/// matches.
fn virtual_ip_entries<'s>(
    ips: &'s [IpAddr],
    ports: &'s [Port],
    port: &[u8],
    protocol: &[u8],
    target: Target<'s>,
    f: &mut dyn FnMut(Entry<'s>),
) -> Result<(), Missing> {
    let mut found = false;
    for p in ports.iter().filter(|p| port_matches(port, protocol, p)) {
        found = true;
        for &ip in ips {
            f(Entry {
                host: Host::Ip(ip),
                port: p.port,
                target,
            });
        }
    }
    if found {
        Ok(())
    } else {
        Err(Missing)
    }
}

/// True when the address is of the family `qtype` asks for.
fn family_matches(qtype: RType, ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => qtype == RType::A,
        IpAddr::V6(v6) => {
            // An IPv4-mapped address is an A record, as Go's `To4` sees it.
            if v6.to_ipv4_mapped().is_some() {
                qtype == RType::A
            } else {
                qtype == RType::AAAA
            }
        }
    }
}

/// The A or AAAA record data of an address.
pub(crate) fn address_rdata(ip: IpAddr) -> RData {
    match ip {
        IpAddr::V4(v4) => RData::A(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => RData::A(v4),
            None => RData::Aaaa(v6),
        },
    }
}

impl Kubernetes {
    /// Fills `m` for the question of `req` in zone `zone`; `Err(Missing)` is a name error.
    /// Records in the answer mean NOERROR with data; none mean NODATA.
    pub(crate) fn answer(
        &self,
        snap: &Snapshot,
        req: &Request,
        zone: usize,
        m: &mut Message,
    ) -> Result<(), Missing> {
        let asked = req.info.qname.wire();
        let zone_len = self.zones[zone].wire().len();
        let q = Question {
            lower: req.qname_lower.wire(),
            zone,
            zone_as_asked: &asked[asked.len() - zone_len..],
        };
        let owner = req.qname();
        match req.qtype() {
            qtype @ (RType::A | RType::AAAA) => {
                self.addresses(snap, q, &owner, qtype, 0, m).map(|_| ())
            }
            RType::TXT => self.txt(snap, q, &owner, m),
            RType::CNAME => self.cname(snap, q, &owner, m),
            RType::PTR => self.ptr(snap, q, &owner, m),
            RType::MX => {
                // Never any mail records: NODATA for names that exist.
                if is_ns_dns(q.rest()) {
                    return Ok(());
                }
                self.records(snap, q, &mut |_| {})
            }
            RType::SRV => self.srv(snap, q, &owner, m),
            RType::SOA => {
                if q.is_apex() {
                    self.push_soa_answer(snap, req, zone, m);
                }
                // Below the apex: NODATA whether or not the name exists.
                Ok(())
            }
            RType::NS if q.is_apex() => {
                self.apex_ns(snap, q, &owner, m);
                Ok(())
            }
            _ => {
                // Any other type: an A lookup only to tell NODATA from NXDOMAIN.
                let result = self.addresses(snap, q, &owner, RType::A, 0, m);
                m.answer.clear();
                m.additional.clear();
                result.map(|_| ())
            }
        }
    }

    /// What `q` holds, entry by entry (CoreDNS's `Records`).
    pub(crate) fn records<'s>(
        &self,
        snap: &'s Snapshot,
        q: Question<'s>,
        f: &mut dyn FnMut(Entry<'s>),
    ) -> Result<(), Missing> {
        let multicluster = self.multicluster[q.zone];
        let form = name::parse(q.rest(), multicluster, self.zonal).map_err(|_| Missing)?;
        let (kind, namespace) = match form {
            NameForm::Structural => return Ok(()),
            NameForm::Namespace { kind, namespace }
            | NameForm::Object {
                kind, namespace, ..
            } => (kind, namespace),
        };
        if name::is_reverse(q.lower) {
            return Err(Missing);
        }
        let ns = label_str(namespace).ok_or(Missing)?;
        if !self.namespace_exposed(snap, ns) {
            return Err(Missing);
        }
        let NameForm::Object { name, prefix, .. } = form else {
            // `<ns>.svc.<zone>` exists; `<ns>.pod.<zone>` only when pods are answered.
            return match kind {
                Kind::Pod if self.pods == PodMode::Disabled => Err(Missing),
                _ => Ok(()),
            };
        };
        match kind {
            Kind::Pod => self.pods(snap, namespace, name, f),
            Kind::Svc if multicluster => {
                self.imported_service(snap, ns, label_str(name).ok_or(Missing)?, prefix, f)
            }
            Kind::Svc => self.service(snap, ns, label_str(name).ok_or(Missing)?, prefix, f),
        }
    }

    /// `<ip label>.<ns>.pod.<zone>`.
    fn pods<'s>(
        &self,
        snap: &'s Snapshot,
        namespace: &'s [u8],
        pod: &'s [u8],
        f: &mut dyn FnMut(Entry<'s>),
    ) -> Result<(), Missing> {
        if self.pods == PodMode::Disabled {
            return Err(Missing);
        }
        let ip = name::pod_label_ip(pod).ok_or(Missing)?;
        let target = Target::Pod { pod, namespace };
        if self.pods == PodMode::Insecure {
            f(Entry {
                host: Host::Ip(ip),
                port: 0,
                target,
            });
            return Ok(());
        }
        let mut found = false;
        for p in snap.pods_by_ip(ip) {
            if label_eq(namespace, &p.namespace) {
                found = true;
                f(Entry {
                    host: Host::Ip(ip),
                    port: 0,
                    target,
                });
            }
        }
        if found {
            Ok(())
        } else {
            Err(Missing)
        }
    }

    /// `[prefix.]<service>.<ns>.svc.<zone>` in a normal zone (CoreDNS's `findServices`).
    fn service<'s>(
        &self,
        snap: &'s Snapshot,
        namespace: &str,
        service: &str,
        prefix: Prefix<'s>,
        f: &mut dyn FnMut(Entry<'s>),
    ) -> Result<(), Missing> {
        let svc = snap.service(namespace, service).ok_or(Missing)?;
        let slices = snap.endpoint_slices(namespace, service);
        if self.ignore_empty_service
            && svc.kind == ServiceKind::ClusterIp
            && slices.iter().all(|s| s.endpoints.is_empty())
        {
            return Err(Missing);
        }
        let (endpoint, port, protocol, zonal) = split_prefix(prefix);
        if zonal.is_some() && svc.kind != ServiceKind::Headless {
            return Err(Missing);
        }
        let svc_ns: &'s str = &svc.namespace;
        let svc_name: &'s str = &svc.name;
        match svc.kind {
            ServiceKind::ExternalName => {
                if endpoint.is_some() || !port.is_empty() || !protocol.is_empty() {
                    return Err(Missing);
                }
                let Some(target) = svc.external_name.as_deref() else {
                    return Err(Missing);
                };
                // An IP literal is no CNAME target.
                if target.is_empty() || target.parse::<IpAddr>().is_ok() {
                    return Err(Missing);
                }
                f(Entry {
                    host: Host::Name(target),
                    port: 0,
                    target: Target::Service {
                        service: svc_name,
                        namespace: svc_ns,
                    },
                });
                Ok(())
            }
            ServiceKind::Headless => {
                self.endpoint_entries(slices, svc_name, svc_ns, endpoint, port, protocol, zonal, f)
            }
            ServiceKind::ClusterIp if endpoint.is_some() => {
                self.endpoint_entries(slices, svc_name, svc_ns, endpoint, port, protocol, None, f)
            }
            ServiceKind::ClusterIp => virtual_ip_entries(
                &svc.cluster_ips,
                &svc.ports,
                port,
                protocol,
                Target::Service {
                    service: svc_name,
                    namespace: svc_ns,
                },
                f,
            ),
        }
    }

    /// Entries from the ready endpoints of `slices` (a normal zone): all of them, or those
    /// whose label is `endpoint`, restricted to matching ports and, for zonal names, to a
    /// topology zone.
    #[allow(clippy::too_many_arguments)]
    fn endpoint_entries<'s>(
        &self,
        slices: &'s [std::sync::Arc<EndpointSliceEntry>],
        service: &'s str,
        namespace: &'s str,
        endpoint: Option<&[u8]>,
        port: &[u8],
        protocol: &[u8],
        zonal: Option<(ZoneLabels<'_>, bool)>,
        f: &mut dyn FnMut(Entry<'s>),
    ) -> Result<(), Missing> {
        let visit = |zone: Option<ZoneLabels<'_>>, f: &mut dyn FnMut(Entry<'s>)| -> usize {
            let mut added = 0;
            for slice in slices {
                for ep in slice.endpoints.iter() {
                    if let Some(z) = zone {
                        if !ep.zone.as_deref().is_some_and(|ez| z.matches(ez)) {
                            continue;
                        }
                    }
                    for &addr in ep.addresses.iter() {
                        let label = endpoint_label(ep, addr, self.endpoint_pod_names);
                        if let Some(want) = endpoint {
                            if !want.eq_ignore_ascii_case(label.as_bytes()) {
                                continue;
                            }
                        }
                        for p in slice.ports.iter() {
                            if !port_matches(port, protocol, p) {
                                continue;
                            }
                            added += 1;
                            f(Entry {
                                host: Host::Ip(addr),
                                port: p.port,
                                target: Target::Endpoint {
                                    label,
                                    cluster: None,
                                    service,
                                    namespace,
                                },
                            });
                        }
                    }
                }
            }
            added
        };
        match zonal {
            Some((zone, prefer)) => {
                // A zonal name of a headless service exists even when no endpoint is in
                // the zone: NODATA, or with `prefer` every endpoint.
                if visit(Some(zone), f) == 0 && prefer {
                    visit(None, f);
                }
                Ok(())
            }
            None => {
                if visit(None, f) > 0 {
                    Ok(())
                } else {
                    Err(Missing)
                }
            }
        }
    }

    /// `[prefix.]<service>.<ns>.svc.<zone>` in a multicluster zone, from ServiceImports.
    fn imported_service<'s>(
        &self,
        snap: &'s Snapshot,
        namespace: &str,
        service: &str,
        prefix: Prefix<'s>,
        f: &mut dyn FnMut(Entry<'s>),
    ) -> Result<(), Missing> {
        let import = snap.service_import(namespace, service).ok_or(Missing)?;
        let slices = snap.multicluster_endpoint_slices(namespace, service);
        if self.ignore_empty_service
            && import.kind == ImportKind::ClusterSetIp
            && slices.iter().all(|s| s.endpoints.is_empty())
        {
            return Err(Missing);
        }
        let svc_ns: &'s str = &import.namespace;
        let svc_name: &'s str = &import.name;
        let (endpoint, cluster, port, protocol) = match prefix {
            Prefix::None => (None, b"" as &[u8], &[][..], &[][..]),
            Prefix::Port { port, protocol } => (None, &[][..], port, protocol),
            Prefix::ClusterEndpoint { endpoint, cluster } => {
                (Some(endpoint), cluster, &[][..], &[][..])
            }
            // One label: an endpoint without its cluster, which never matches a cluster id.
            Prefix::Endpoint(endpoint) => (Some(endpoint), &[][..], &[][..], &[][..]),
            Prefix::Zonal { .. } => return Err(Missing),
        };
        if import.kind == ImportKind::Headless || endpoint.is_some() {
            // Targets always name the cluster in multicluster zones.
            let mut found = false;
            for slice in slices {
                let slice_cluster: &'s str = slice.cluster.as_deref().unwrap_or("");
                if endpoint.is_some() && !label_eq(cluster, slice_cluster) {
                    continue;
                }
                for ep in slice.endpoints.iter() {
                    for &addr in ep.addresses.iter() {
                        let label = endpoint_label(ep, addr, self.endpoint_pod_names);
                        if let Some(want) = endpoint {
                            if !want.eq_ignore_ascii_case(label.as_bytes()) {
                                continue;
                            }
                        }
                        for p in slice.ports.iter() {
                            if !port_matches(port, protocol, p) {
                                continue;
                            }
                            found = true;
                            f(Entry {
                                host: Host::Ip(addr),
                                port: p.port,
                                target: Target::Endpoint {
                                    label,
                                    cluster: Some(slice_cluster),
                                    service: svc_name,
                                    namespace: svc_ns,
                                },
                            });
                        }
                    }
                }
            }
            return if found { Ok(()) } else { Err(Missing) };
        }
        virtual_ip_entries(
            &import.ips,
            &import.ports,
            port,
            protocol,
            Target::Service {
                service: svc_name,
                namespace: svc_ns,
            },
            f,
        )
    }

    /// A or AAAA records for `q` (owner `owner`) into `m.answer`, following ExternalName
    /// targets inside the zone; returns how many records were added.
    pub(crate) fn addresses(
        &self,
        snap: &Snapshot,
        q: Question<'_>,
        owner: &Name,
        qtype: RType,
        chain: usize,
        m: &mut Message,
    ) -> Result<usize, Missing> {
        let start = m.answer.len();
        if is_ns_dns(q.rest()) {
            self.ns_addresses(snap, q.zone_as_asked, &mut |_, ip| {
                if family_matches(qtype, ip) && !has_address(&m.answer[start..], ip) {
                    m.answer
                        .push(Record::new(owner.clone(), self.ttl, address_rdata(ip)));
                }
            });
            return Ok(m.answer.len() - start);
        }
        let mut external: Option<&str> = None;
        self.records(snap, q, &mut |e| match e.host {
            Host::Ip(ip) => {
                if family_matches(qtype, ip) && !has_address(&m.answer[start..], ip) {
                    m.answer
                        .push(Record::new(owner.clone(), self.ttl, address_rdata(ip)));
                }
            }
            Host::Name(target) => external = Some(target),
        })?;
        if let Some(target) = external {
            self.follow_cname(snap, q, owner, target, qtype, chain, m);
        }
        Ok(m.answer.len() - start)
    }

    /// Adds `owner CNAME target` and, for a target inside the same zone, the target's own
    /// addresses (the CNAME is kept only when they exist), as CoreDNS does.
    #[allow(clippy::too_many_arguments)]
    fn follow_cname(
        &self,
        snap: &Snapshot,
        q: Question<'_>,
        owner: &Name,
        target: &str,
        qtype: RType,
        chain: usize,
        m: &mut Message,
    ) {
        let mut buf = NameBuf::new();
        if buf.push_text(target, None).is_err() {
            return;
        }
        let target_name = buf.to_name();
        // `x CNAME x` is a loop; a chain has a bounded length; a CNAME already given is
        // not repeated.
        if target_name.eq_ignore_case(owner) || chain > MAX_CNAME_CHAIN {
            return;
        }
        let cname = Record::new(owner.clone(), self.ttl, RData::Cname(target_name.clone()));
        if m.answer.iter().any(|r| {
            r.rtype == RType::CNAME
                && r.name.eq_ignore_case(&cname.name)
                && matches!(&r.data, RData::Cname(t) if t.eq_ignore_case(&target_name))
        }) {
            return;
        }
        let mut lower = NameBuf::new();
        lower.set_wire_lowercase(target_name.wire());
        let zone = self.zones[q.zone].wire();
        if !is_subdomain_wire(lower.wire(), zone) {
            // A target outside this zone: the handler completes the answer with a lookup
            // through the whole server once this CNAME ends the answer.
            m.answer.push(cname);
            return;
        }
        let mark = m.answer.len();
        m.answer.push(cname);
        let inner = Question {
            lower: lower.wire(),
            zone: q.zone,
            zone_as_asked: &target_name.wire()[target_name.wire().len() - zone.len()..],
        };
        match self.addresses(snap, inner, &target_name, qtype, chain + 1, m) {
            Ok(n) if n > 0 => {}
            _ => m.answer.truncate(mark),
        }
    }

    /// TXT: `dns-version.<zone>`, else NODATA for names holding something, else NXDOMAIN
    /// (even for names that exist without records, like CoreDNS).
    fn txt(
        &self,
        snap: &Snapshot,
        q: Question<'_>,
        owner: &Name,
        m: &mut Message,
    ) -> Result<(), Missing> {
        if is_dns_version(q.rest()) {
            m.answer.push(Record::new(
                owner.clone(),
                super::DNS_VERSION_TTL,
                self.dns_version.clone(),
            ));
            return Ok(());
        }
        let mut any = false;
        let result = self.records(snap, q, &mut |_| any = true);
        if any {
            return Ok(());
        }
        if result.is_ok() && self.zonal {
            if let Ok(NameForm::Object {
                prefix: Prefix::Zonal { .. },
                ..
            }) = name::parse(q.rest(), self.multicluster[q.zone], true)
            {
                return Ok(());
            }
        }
        Err(Missing)
    }

    /// CNAME: the target of an ExternalName service; NODATA for other existing names.
    fn cname(
        &self,
        snap: &Snapshot,
        q: Question<'_>,
        owner: &Name,
        m: &mut Message,
    ) -> Result<(), Missing> {
        if is_ns_dns(q.rest()) {
            return Ok(());
        }
        let mut first: Option<Host<'_>> = None;
        self.records(snap, q, &mut |e| {
            if first.is_none() {
                first = Some(e.host);
            }
        })?;
        if let Some(Host::Name(target)) = first {
            let mut buf = NameBuf::new();
            if buf.push_text(target, None).is_ok() {
                m.answer.push(Record::new(
                    owner.clone(),
                    self.ttl,
                    RData::Cname(buf.to_name()),
                ));
            }
        }
        Ok(())
    }

    /// SRV: one record per (target, port), weight 100/N shared among the N entries, the
    /// targets' addresses in the additional section.
    fn srv(
        &self,
        snap: &Snapshot,
        q: Question<'_>,
        owner: &Name,
        m: &mut Message,
    ) -> Result<(), Missing> {
        if is_ns_dns(q.rest()) {
            return Ok(());
        }
        // ExternalName targets never give SRV records, and do not count.
        let mut n = 0usize;
        self.records(snap, q, &mut |e| {
            if matches!(e.host, Host::Ip(_)) {
                n += 1;
            }
        })?;
        if n == 0 {
            return Ok(());
        }
        let weight = srv_weight(n);
        self.records(snap, q, &mut |e| {
            let Host::Ip(ip) = e.host else { return };
            let Ok(port) = u16::try_from(e.port) else {
                // The no-ports sentinel (and anything not a port) gives no SRV.
                return;
            };
            let Some(target) = e.target.name(q.zone_as_asked) else {
                return;
            };
            let duplicate_srv = m.answer.iter().any(|r| {
                matches!(&r.data, RData::Srv { port: p, target: t, .. } if *p == port && *t == target)
            });
            if !duplicate_srv {
                m.answer.push(Record::new(
                    owner.clone(),
                    self.ttl,
                    RData::Srv {
                        priority: 0,
                        weight,
                        port,
                        target: target.clone(),
                    },
                ));
            }
            let rdata = address_rdata(ip);
            if !m.additional.iter().any(|r| r.name == target && r.data == rdata) {
                m.additional.push(Record::new(target, self.ttl, rdata));
            }
        })
    }
}

/// The SRV weight when `n` entries share priority 0: CoreDNS's float arithmetic
/// (`floor(100 / (100 n) * 100)`, at least 1).
pub(crate) fn srv_weight(n: usize) -> u16 {
    #[allow(clippy::cast_precision_loss)]
    let total = 100.0 * n as f64;
    let w = (100.0 / total * 100.0).floor();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let w = w as u16;
    w.max(1)
}

/// True when `records` already hold an A/AAAA record for `ip`.
fn has_address(records: &[Record], ip: IpAddr) -> bool {
    let rdata = address_rdata(ip);
    records.iter().any(|r| r.data == rdata)
}

/// Splits a prefix into (endpoint, port, protocol, zonal) for normal zones.
#[allow(clippy::type_complexity)]
fn split_prefix(
    prefix: Prefix<'_>,
) -> (Option<&[u8]>, &[u8], &[u8], Option<(ZoneLabels<'_>, bool)>) {
    match prefix {
        Prefix::None => (None, &[], &[], None),
        Prefix::Endpoint(e) => (Some(e), &[], &[], None),
        Prefix::Port { port, protocol } => (None, port, protocol, None),
        // Only produced in multicluster zones.
        Prefix::ClusterEndpoint { endpoint, .. } => (Some(endpoint), &[], &[], None),
        Prefix::Zonal { zone, prefer } => (None, &[], &[], Some((zone, prefer))),
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn srv_weights_follow_coredns() {
        assert_eq!(srv_weight(1), 100);
        assert_eq!(srv_weight(2), 50);
        assert_eq!(srv_weight(3), 33);
        assert_eq!(srv_weight(6), 16);
        assert_eq!(srv_weight(200), 1);
        assert_eq!(srv_weight(1000), 1);
    }
}
