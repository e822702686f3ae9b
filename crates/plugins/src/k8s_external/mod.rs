//! `k8s_external`: Services' external addresses (`spec.externalIPs`, load-balancer ingress)
//! and, with `headless`, headless services' endpoints, under a zone meant for clients outside
//! the cluster (`<service>.<namespace>.<zone>`), with CoreDNS's answers (compat spec 4.7).
//!
//! Why it is built this way:
//! - It has no data of its own: it reads the index of the `kubernetes` plugin of the same
//!   block, found in the rest of the chain at query time (as `autopath @kubernetes` finds
//!   its plugin). Without one every query in its zones fails with a named error, and the
//!   missing plugin is logged when the instance starts serving.
//! - The answer path parses the lower-cased query name in place ([`lookup`]), hands each
//!   match to a callback instead of building a list, builds names in stack buffers and
//!   shares the negative-answer SOA per zone and serial ([`apex`]), so a query allocates
//!   nothing. Only a load-balancer *hostname* needs more: its addresses are looked up
//!   through the server, as CoreDNS's upstream lookups are, on a boxed future.
//! - Name errors go through one decision (fallthrough, not yet synced, NXDOMAIN), the same
//!   as the `kubernetes` plugin's.

mod answer;
mod apex;
mod lookup;
mod setup;
#[cfg(test)]
mod tests;

pub use setup::setup;

use cairn_core::arc_swap::ArcSwapOption;
use cairn_core::resolve::answer_of;
use cairn_core::wire::name::is_subdomain_wire;
use cairn_core::wire::{Message, Name, NameBuf, RType, Rcode, Soa};
use cairn_core::zones::Fallthrough;
use cairn_core::{Next, Plugin, PluginError, Request, Served};

use crate::kubernetes::Kubernetes;
use lookup::Missing;
use setup::Options;

/// One zone of the plugin and the names of its own records, built once at setup.
struct Zone {
    /// The zone, lower case.
    name: Name,
    /// `<apex>.<zone>`: the subdomain of the zone's name server.
    apex: Name,
    /// `ns1.<apex>.<zone>`: the name server (SOA MNAME, NS target).
    ns1: Name,
    /// `hostmaster.<apex>.<zone>`: the SOA RNAME.
    hostmaster: Name,
    /// The last SOA built, reused while the serial stays the same.
    soa: ArcSwapOption<Soa>,
}

/// The `k8s_external` handler of one server block.
pub struct K8sExternal {
    zones: Vec<Zone>,
    ttl: u32,
    headless: bool,
    fall: Fallthrough,
}

/// Lookups through the server an answer still needs: the addresses of load-balancer
/// hostnames (after their CNAME, for A/AAAA; as SRV glue, both families).
enum Chase {
    Addresses { qtype: RType, targets: Vec<Name> },
    Glue { targets: Vec<Name> },
}

/// `prefix` (wire labels, no root) followed by `zone` (a wire name).
fn prefixed(prefix: &[u8], zone: &Name) -> Option<Name> {
    let mut b = NameBuf::new();
    let mut rest = prefix;
    while let Some((&len, tail)) = rest.split_first() {
        let label = tail.get(..usize::from(len))?;
        b.push_label(label).ok()?;
        rest = &tail[usize::from(len)..];
    }
    b.append_wire(zone.wire()).ok()?;
    Some(b.to_name())
}

impl K8sExternal {
    /// The zones this plugin answers (lower case); for caches of its answers.
    pub(crate) fn zone_names(&self) -> impl Iterator<Item = &Name> {
        self.zones.iter().map(|z| &z.name)
    }

    /// The handler for `options`; `None` when a zone's own names would be too long.
    pub(crate) fn new(options: Options) -> Option<K8sExternal> {
        let mut zones = Vec::with_capacity(options.zones.len());
        for name in options.zones {
            let apex = prefixed(&options.apex, &name)?;
            let ns1 = prefixed(b"\x03ns1", &apex)?;
            let hostmaster = prefixed(b"\x0ahostmaster", &apex)?;
            zones.push(Zone {
                name,
                apex,
                ns1,
                hostmaster,
                soa: ArcSwapOption::empty(),
            });
        }
        Some(K8sExternal {
            zones,
            ttl: options.ttl,
            headless: options.headless,
            fall: options.fall,
        })
    }

    /// The index of the longest zone `qname` (lower-case wire) lies in.
    fn zone_index(&self, qname: &[u8]) -> Option<usize> {
        self.zones
            .iter()
            .enumerate()
            .filter(|(_, z)| is_subdomain_wire(qname, z.name.wire()))
            .max_by_key(|(_, z)| z.name.wire().len())
            .map(|(i, _)| i)
    }

    /// Finishes an answer that needs lookups through the server: their answers go after
    /// the records already built (answer or additional section). A failed lookup adds
    /// nothing, as in CoreDNS.
    fn chase<'a>(req: Box<Request>, mut m: Message, chase: Chase) -> Served<'a> {
        let (targets, families, glue): (Vec<Name>, &[RType], bool) = match chase {
            Chase::Addresses { qtype, targets } => (
                targets,
                if qtype == RType::A {
                    &[RType::A]
                } else {
                    &[RType::AAAA]
                },
                false,
            ),
            Chase::Glue { targets } => (targets, &[RType::A, RType::AAAA], true),
        };
        let mut lookups = Vec::with_capacity(targets.len() * families.len());
        for target in &targets {
            for &qtype in families {
                lookups.push(req.lookup_through_server(target, qtype));
            }
        }
        Served::Pending(Box::pin(async move {
            for lookup in lookups {
                let Ok(fut) = lookup else { continue };
                let Ok(found) = answer_of(fut).await else {
                    continue;
                };
                if glue {
                    m.additional.extend(found.answer);
                } else {
                    m.flags.tc |= found.flags.tc;
                    m.answer.extend(found.answer);
                }
            }
            (req, Ok(m))
        }))
    }
}

/// The `kubernetes` plugin among the plugins after this one.
fn kubernetes<'a>(next: &Next<'a>) -> Option<&'a Kubernetes> {
    next.plugins()
        .iter()
        .find_map(|p| p.as_any().downcast_ref::<Kubernetes>())
}

impl Plugin for K8sExternal {
    fn name(&self) -> &'static str {
        "k8s_external"
    }

    fn serve<'a>(&'a self, mut req: Box<Request>, next: Next<'a>) -> Served<'a> {
        let Some(zi) = self.zone_index(req.qname_lower.wire()) else {
            return next.run(req);
        };
        let Some(k) = kubernetes(&next) else {
            return Served::error(
                req,
                PluginError::failed("k8s_external", "kubernetes plugin not loaded"),
            );
        };
        let qtype = req.qtype();
        if qtype == RType::AXFR || qtype == RType::IXFR {
            // Zone transfers are the `transfer` plugin's; without it they are refused.
            let m = req.reply_rcode(Rcode::REFUSED);
            return Served::reply(req, m);
        }
        let zone = &self.zones[zi];
        let snap = k.store().load();
        let mut m = req.reply();
        m.flags.aa = true;
        let qname = req.qname_lower.wire();
        if qname == zone.name.wire() {
            self.serve_apex(k, &snap, &req, zone, &mut m);
            return Served::reply(req, m);
        }
        if is_subdomain_wire(qname, zone.apex.wire()) {
            self.serve_sub_apex(k, &snap, &req, zone, &mut m);
            return Served::reply(req, m);
        }
        let mut chase = None;
        match self.answer(k, &snap, &req, zi, &mut m, &mut chase) {
            Ok(()) => {
                if m.answer.is_empty() {
                    // NODATA: only the SOA.
                    m.additional.clear();
                    self.push_soa(&snap, zone, &mut m.authority);
                }
            }
            Err(Missing) => {
                if self.fall.through(req.qname_lower.wire()) {
                    drop(snap);
                    req.recycle(m);
                    return next.run(req);
                }
                m.answer.clear();
                m.additional.clear();
                // Before the first sync a name error may only mean "not seen yet".
                m.rcode = if k.store().is_synced() {
                    Rcode::NXDOMAIN
                } else {
                    Rcode::SERVFAIL
                };
                self.push_soa(&snap, zone, &mut m.authority);
            }
        }
        drop(snap);
        match chase {
            Some(c) => Self::chase(req, m, c),
            None => Served::reply(req, m),
        }
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
