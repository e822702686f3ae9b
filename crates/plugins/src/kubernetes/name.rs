//! The cluster DNS name grammar, read in place from the lower-cased query name.
//!
//! A query name under one of the plugin's zones is split into labels right to left after the
//! zone (`<name>.<namespace>.svc|pod.<zone>` and its prefixed forms, see the Kubernetes
//! DNS-Based Service Discovery spec). Parsing borrows the labels from the wire bytes of the
//! query, so answering never builds a `String`; label comparisons against Kubernetes data are
//! ASCII case-insensitive, as CoreDNS's are.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most labels a wire name can have (255 bytes, two per empty-ish label).
const MAX_LABELS: usize = 128;

/// Whether a name is about services or pods (the label right before the zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Svc,
    Pod,
}

/// What a name asks for, after the zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameForm<'a> {
    /// The zone apex, `svc.<zone>` or `pod.<zone>`: exists, holds no records.
    Structural,
    /// `<namespace>.svc|pod.<zone>`.
    Namespace { kind: Kind, namespace: &'a [u8] },
    /// `[prefix.]<name>.<namespace>.svc|pod.<zone>`: a service (or a pod IP label).
    Object {
        kind: Kind,
        namespace: &'a [u8],
        name: &'a [u8],
        prefix: Prefix<'a>,
    },
}

/// The labels left of a service name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prefix<'a> {
    None,
    /// `<endpoint>.<service>...`: an endpoint label (hostname, pod name or dashed IP).
    Endpoint(&'a [u8]),
    /// `_<port>._<protocol>.<service>...` (underscores stripped; they are optional).
    Port {
        port: &'a [u8],
        protocol: &'a [u8],
    },
    /// `<endpoint>.<cluster>.<service>...` in multicluster zones.
    ClusterEndpoint {
        endpoint: &'a [u8],
        cluster: &'a [u8],
    },
    /// `<topology zone labels>.pin|prefer._zone.<service>...` with `zonal`.
    Zonal {
        zone: ZoneLabels<'a>,
        prefer: bool,
    },
}

/// The topology zone of a zonal name: one or more wire labels, compared with a dotted string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ZoneLabels<'a> {
    /// Length-prefixed labels, without the root label.
    wire: &'a [u8],
}

impl ZoneLabels<'_> {
    /// True when the labels joined by dots equal `zone` (which the index keeps lower case).
    pub fn matches(&self, zone: &str) -> bool {
        let mut parts = zone.split('.');
        let mut labels = LabelIter { wire: self.wire };
        loop {
            match (labels.next(), parts.next()) {
                (None, None) => return true,
                (Some(l), Some(p)) if l.eq_ignore_ascii_case(p.as_bytes()) => {}
                _ => return false,
            }
        }
    }
}

/// The name does not follow the grammar: a name error (NXDOMAIN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidName;

/// Iterates over length-prefixed labels until the bytes run out (or a root label).
struct LabelIter<'a> {
    wire: &'a [u8],
}

impl<'a> Iterator for LabelIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = usize::from(*self.wire.first()?);
        if len == 0 {
            return None;
        }
        let label = self.wire.get(1..1 + len)?;
        self.wire = &self.wire[1 + len..];
        Some(label)
    }
}

/// The wire bytes of `qname` (lower case, with root) left of `zone_len` trailing bytes, i.e.
/// the labels before the zone, without a root label.
pub(crate) fn before_zone(qname: &[u8], zone_len: usize) -> &[u8] {
    &qname[..qname.len().saturating_sub(zone_len)]
}

/// Parses the labels before the zone (`rest`, wire labels without root).
///
/// `multicluster` and `zonal` switch on the two-label endpoint form and the zonal form.
pub(crate) fn parse(
    rest: &[u8],
    multicluster: bool,
    zonal: bool,
) -> Result<NameForm<'_>, InvalidName> {
    let mut labels: [&[u8]; MAX_LABELS] = [&[]; MAX_LABELS];
    let mut starts = [0usize; MAX_LABELS];
    let mut count = 0;
    let mut pos = 0;
    while pos < rest.len() && count < MAX_LABELS {
        let len = usize::from(rest[pos]);
        if len == 0 {
            break;
        }
        let Some(label) = rest.get(pos + 1..pos + 1 + len) else {
            return Err(InvalidName);
        };
        labels[count] = label;
        starts[count] = pos;
        count += 1;
        pos += 1 + len;
    }
    let labels = &labels[..count];
    let Some((&kind_label, left)) = labels.split_last() else {
        return Ok(NameForm::Structural);
    };
    let kind = match kind_label {
        b"svc" => Kind::Svc,
        b"pod" => Kind::Pod,
        _ => return Err(InvalidName),
    };
    let Some((&namespace, left)) = left.split_last() else {
        return Ok(NameForm::Structural);
    };
    let Some((&name, left)) = left.split_last() else {
        return Ok(NameForm::Namespace { kind, namespace });
    };
    let prefix = match left {
        [] => Prefix::None,
        [endpoint] => Prefix::Endpoint(endpoint),
        [first, second] => {
            if !multicluster || first.starts_with(b"_") || second.starts_with(b"_") {
                Prefix::Port {
                    port: strip_underscore(first),
                    protocol: strip_underscore(second),
                }
            } else {
                Prefix::ClusterEndpoint {
                    endpoint: first,
                    cluster: second,
                }
            }
        }
        longer => {
            // `<zone labels>.pin|prefer._zone`: the anchor is right before the service.
            let n = longer.len();
            if !zonal || multicluster || kind != Kind::Svc || longer[n - 1] != b"_zone" {
                return Err(InvalidName);
            }
            let prefer = match longer[n - 2] {
                b"pin" => false,
                b"prefer" => true,
                _ => return Err(InvalidName),
            };
            let directive_start = starts[n - 2];
            Prefix::Zonal {
                zone: ZoneLabels {
                    wire: &rest[..directive_start],
                },
                prefer,
            }
        }
    };
    Ok(NameForm::Object {
        kind,
        namespace,
        name,
        prefix,
    })
}

pub(crate) fn strip_underscore(label: &[u8]) -> &[u8] {
    label.strip_prefix(b"_").unwrap_or(label)
}

/// True for the one TXT name the plugin serves: `dns-version.<zone>`.
pub(crate) fn is_dns_version(rest: &[u8]) -> bool {
    rest == b"\x0bdns-version"
}

/// True for `ns.dns.<zone>`, the name of the zone's name server.
pub(crate) fn is_ns_dns(rest: &[u8]) -> bool {
    rest == b"\x02ns\x03dns"
}

/// A label compared with Kubernetes data (names, ports, protocols), case-insensitively.
pub(crate) fn label_eq(label: &[u8], value: &str) -> bool {
    label.eq_ignore_ascii_case(value.as_bytes())
}

/// A label as `&str` for index lookups; labels that are not UTF-8 match nothing.
pub(crate) fn label_str(label: &[u8]) -> Option<&str> {
    std::str::from_utf8(label).ok()
}

/// The IP a pod label stands for: `10-244-1-5` (exactly three dashes and no `--`) is IPv4,
/// anything else is read as IPv6 with `-` for `:`. `None` when it is not an address.
pub(crate) fn pod_label_ip(label: &[u8]) -> Option<IpAddr> {
    let dashes = label.iter().filter(|&&b| b == b'-').count();
    let v4 = dashes == 3 && !label.windows(2).any(|w| w == b"--");
    let mut buf = [0u8; 64];
    let out = buf.get_mut(..label.len())?;
    for (o, &b) in out.iter_mut().zip(label) {
        *o = match b {
            b'-' if v4 => b'.',
            b'-' => b':',
            other => other,
        };
    }
    let text = std::str::from_utf8(out).ok()?;
    if v4 {
        text.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    } else {
        // Go's parser, like CoreDNS uses, also takes dotted IPv4 here (no dashes at all).
        match text.parse::<Ipv6Addr>() {
            Ok(ip) => Some(IpAddr::V6(ip)),
            Err(_) => text.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
        }
    }
}

/// An IP address written as one DNS label (`10-244-1-5`, `fd00-10-244--5`), into a stack
/// buffer. IPv6 labels that would end in `-` get a `0` appended, as CoreDNS does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DashedIp {
    buf: [u8; 48],
    len: usize,
}

impl DashedIp {
    pub fn new(ip: IpAddr) -> DashedIp {
        use std::fmt::Write as _;
        let mut d = DashedIp {
            buf: [0; 48],
            len: 0,
        };
        // An address prints in at most 45 bytes, so this never fails.
        let _ = write!(d, "{ip}");
        let dash_for = if ip.is_ipv4() { b'.' } else { b':' };
        for b in &mut d.buf[..d.len] {
            if *b == dash_for {
                *b = b'-';
            }
        }
        if ip.is_ipv6() && d.len > 0 && d.buf[d.len - 1] == b'-' && d.len < d.buf.len() {
            d.buf[d.len] = b'0';
            d.len += 1;
        }
        d
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::fmt::Write for DashedIp {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The address a reverse name stands for: four decimal labels under `in-addr.arpa.` or 32
/// nibble labels under `ip6.arpa.` (`qname` lower case, with root). `None` otherwise.
pub(crate) fn reverse_address(qname: &[u8]) -> Option<IpAddr> {
    const V4_SUFFIX: &[u8] = b"\x07in-addr\x04arpa\x00";
    const V6_SUFFIX: &[u8] = b"\x03ip6\x04arpa\x00";
    if let Some(rest) = qname.strip_suffix(V4_SUFFIX) {
        let mut octets = [0u8; 4];
        let mut n = 0;
        for label in (LabelIter { wire: rest }) {
            if n == 4 {
                return None;
            }
            let text = std::str::from_utf8(label).ok()?;
            // Go's ParseIP refuses leading zeros, and so does Rust's.
            if text.len() > 1 && text.starts_with('0') {
                return None;
            }
            octets[3 - n] = text.parse().ok()?;
            n += 1;
        }
        return (n == 4).then(|| IpAddr::V4(Ipv4Addr::from(octets)));
    }
    if let Some(rest) = qname.strip_suffix(V6_SUFFIX) {
        let mut bytes = [0u8; 16];
        let mut n = 0;
        for label in (LabelIter { wire: rest }) {
            if n == 32 {
                return None;
            }
            let [digit] = label else { return None };
            let value = (*digit as char).to_digit(16)? as u8;
            // Labels run from the last nibble to the first.
            let index = 31 - n;
            if index % 2 == 0 {
                bytes[index / 2] |= value << 4;
            } else {
                bytes[index / 2] |= value;
            }
            n += 1;
        }
        return (n == 32).then(|| IpAddr::V6(Ipv6Addr::from(bytes)));
    }
    None
}

/// True when the name lies under `in-addr.arpa.` or `ip6.arpa.` (`qname` lower case wire).
pub(crate) fn is_reverse(qname: &[u8]) -> bool {
    const V4: &[u8] = b"\x07in-addr\x04arpa\x00";
    const V6: &[u8] = b"\x03ip6\x04arpa\x00";
    (qname.len() > V4.len() && qname.ends_with(V4))
        || (qname.len() > V6.len() && qname.ends_with(V6))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::wire::Name;

    fn rest(name: &str, zone: &str) -> Vec<u8> {
        let n = Name::parse(name, None).unwrap().to_lowercase();
        let z = Name::parse(zone, None).unwrap();
        before_zone(n.wire(), z.wire().len()).to_vec()
    }

    fn s(b: &[u8]) -> &str {
        std::str::from_utf8(b).unwrap()
    }

    /// (name, multicluster, zonal, expected rendering) – the rendering lists the parts.
    #[test]
    fn grammar_table() {
        let cases: &[(&str, bool, bool, &str)] = &[
            ("cluster.local.", false, false, "structural"),
            ("svc.cluster.local.", false, false, "structural"),
            ("pod.cluster.local.", false, false, "structural"),
            ("foo.cluster.local.", false, false, "invalid"),
            ("testns.svc.cluster.local.", false, false, "ns svc testns"),
            ("testns.pod.cluster.local.", false, false, "ns pod testns"),
            (
                "svc1.testns.svc.cluster.local.",
                false,
                false,
                "svc testns svc1 -",
            ),
            (
                "SvC1.TeStNs.SvC.cluster.local.",
                false,
                false,
                "svc testns svc1 -",
            ),
            (
                "ep.svc1.testns.svc.cluster.local.",
                false,
                false,
                "svc testns svc1 ep=ep",
            ),
            (
                "_http._tcp.svc1.testns.svc.cluster.local.",
                false,
                false,
                "svc testns svc1 port=http/tcp",
            ),
            (
                "http.tcp.svc1.testns.svc.cluster.local.",
                false,
                false,
                "svc testns svc1 port=http/tcp",
            ),
            (
                "_http.tcp.svc1.testns.svc.cluster.local.",
                true,
                false,
                "svc testns svc1 port=http/tcp",
            ),
            (
                "ep.c1.svc1.testns.svc.cluster.local.",
                true,
                false,
                "svc testns svc1 cluster=ep@c1",
            ),
            (
                "a.b.c.svc1.testns.svc.cluster.local.",
                false,
                false,
                "invalid",
            ),
            (
                "z1.pin._zone.svc1.testns.svc.cluster.local.",
                false,
                false,
                "invalid",
            ),
            (
                "z1.pin._zone.svc1.testns.svc.cluster.local.",
                false,
                true,
                "svc testns svc1 zone=pin",
            ),
            (
                "us.east.prefer._zone.h.testns.svc.cluster.local.",
                false,
                true,
                "svc testns h zone=prefer",
            ),
            (
                "z1.other._zone.h.testns.svc.cluster.local.",
                false,
                true,
                "invalid",
            ),
            (
                "z1.pin._zone.h.testns.pod.cluster.local.",
                false,
                true,
                "invalid",
            ),
            (
                "z1.pin._zone.h.testns.svc.cluster.local.",
                true,
                true,
                "invalid",
            ),
            (
                "x.10-0-0-1.podns.pod.cluster.local.",
                false,
                false,
                "pod podns 10-0-0-1 ep=x",
            ),
        ];
        for (name, mc, zonal, want) in cases {
            let r = rest(name, "cluster.local.");
            let got = match parse(&r, *mc, *zonal) {
                Err(InvalidName) => "invalid".to_string(),
                Ok(NameForm::Structural) => "structural".to_string(),
                Ok(NameForm::Namespace { kind, namespace }) => format!(
                    "ns {} {}",
                    if kind == Kind::Svc { "svc" } else { "pod" },
                    s(namespace)
                ),
                Ok(NameForm::Object {
                    kind,
                    namespace,
                    name,
                    prefix,
                }) => {
                    let p = match prefix {
                        Prefix::None => "-".to_string(),
                        Prefix::Endpoint(e) => format!("ep={}", s(e)),
                        Prefix::Port { port, protocol } => {
                            format!("port={}/{}", s(port), s(protocol))
                        }
                        Prefix::ClusterEndpoint { endpoint, cluster } => {
                            format!("cluster={}@{}", s(endpoint), s(cluster))
                        }
                        Prefix::Zonal { prefer, .. } => {
                            format!("zone={}", if prefer { "prefer" } else { "pin" })
                        }
                    };
                    format!(
                        "{} {} {} {p}",
                        if kind == Kind::Svc { "svc" } else { "pod" },
                        s(namespace),
                        s(name)
                    )
                }
            };
            assert_eq!(&got, want, "{name}");
        }
    }

    #[test]
    fn zonal_zone_may_span_labels() {
        let r = rest(
            "us.East.prefer._zone.h.testns.svc.cluster.local.",
            "cluster.local.",
        );
        let Ok(NameForm::Object {
            prefix: Prefix::Zonal { zone, prefer },
            ..
        }) = parse(&r, false, true)
        else {
            panic!("not zonal");
        };
        assert!(prefer);
        assert!(zone.matches("us.east"));
        assert!(!zone.matches("us"));
        assert!(!zone.matches("us.east.1"));
    }

    #[test]
    fn pod_labels() {
        let cases: &[(&str, Option<&str>)] = &[
            ("10-240-0-1", Some("10.240.0.1")),
            ("172-0-0-2", Some("172.0.0.2")),
            ("1234-5678--1", Some("1234:5678::1")),
            ("fd00-10-244--5", Some("fd00:10:244::5")),
            ("--1", Some("::1")),
            ("10-240-0", None),
            ("10-240-0-1-2", None),
            ("svc1", None),
            ("10-0-0-01", None),
        ];
        for (label, want) in cases {
            let got = pod_label_ip(label.as_bytes()).map(|ip| ip.to_string());
            assert_eq!(got.as_deref(), *want, "{label}");
        }
    }

    #[test]
    fn dashed_ips() {
        let cases = [
            ("10.244.1.5", "10-244-1-5"),
            ("5678:abcd::1", "5678-abcd--1"),
            ("fd00::", "fd00--0"),
            ("::1", "--1"),
        ];
        for (ip, want) in cases {
            let d = DashedIp::new(ip.parse().unwrap());
            assert_eq!(s(d.as_bytes()), want);
        }
    }

    #[test]
    fn reverse_names() {
        let cases: &[(&str, Option<&str>)] = &[
            ("1.0.0.10.in-addr.arpa.", Some("10.0.0.1")),
            ("0.0.0.10.in-addr.arpa.", Some("10.0.0.0")),
            ("0.10.in-addr.arpa.", None),
            ("01.0.0.10.in-addr.arpa.", None),
            ("x.1.0.0.10.in-addr.arpa.", None),
            ("256.0.0.10.in-addr.arpa.", None),
            (
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.ip6.arpa.",
                Some("1234:abcd::1"),
            ),
            ("1.0.ip6.arpa.", None),
            ("1.0.0.10.cluster.local.", None),
        ];
        for (name, want) in cases {
            let n = Name::parse(name, None).unwrap();
            let got = reverse_address(n.wire()).map(|ip| ip.to_string());
            assert_eq!(got.as_deref(), *want, "{name}");
        }
        assert!(is_reverse(
            Name::parse("10.in-addr.arpa.", None).unwrap().wire()
        ));
        assert!(!is_reverse(
            Name::parse("in-addr.arpa.", None).unwrap().wire()
        ));
    }
}
