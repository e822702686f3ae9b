//! `autopath`: server-side search-path completion.
//!
//! A pod's resolver tries `name.<ns>.svc.cluster.local`, `name.svc.cluster.local`, ... in turn,
//! so an external name costs the client several NXDOMAIN round trips. When the first of those
//! queries arrives, autopath walks the rest of the client's search path itself, through the
//! rest of the chain, and answers with the first name that exists, behind a CNAME from the
//! name the client asked. The search path comes from a resolv.conf file (the same for every
//! client) or from a plugin that knows each client (`@kubernetes`, from the client pod's
//! namespace).

mod setup;
#[cfg(test)]
mod tests;

pub use setup::{search_domains, setup};

use std::sync::{Arc, OnceLock};

use cairn_core::metrics::{registry, Counter};
use cairn_core::wire::name::is_subdomain_wire;
use cairn_core::wire::{Name, NameBuf, RData, Rcode, Record};
use cairn_core::zones::longest_match;
use cairn_core::{Next, Plugin, Request, Served};

/// Where the search path comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchSource {
    /// The `search` line of a resolv.conf file, plus the root (the bare name).
    Fixed(Arc<[Name]>),
    /// The plugin of that name in the same block (`@kubernetes`).
    Plugin(String),
}

/// The handler of one server block.
pub struct AutoPath {
    zones: Vec<Name>,
    source: SearchSource,
    /// `coredns_autopath_success_total{server}`, per server label (one per listener).
    success: OnceLock<(String, Counter)>,
}

impl AutoPath {
    pub fn new(zones: Vec<Name>, source: SearchSource) -> AutoPath {
        AutoPath {
            zones,
            source,
            success: OnceLock::new(),
        }
    }

    fn search_path(&self, req: &Request, next: &Next<'_>) -> Option<Arc<[Name]>> {
        match &self.source {
            SearchSource::Fixed(path) => Some(path.clone()),
            SearchSource::Plugin(name) => next
                .plugins()
                .iter()
                .find(|p| p.name() == name)
                .and_then(|p| p.auto_pather())
                .and_then(|a| a.search_path(req)),
        }
    }

    fn count_success(&self, server: &str) {
        let (label, counter) = self
            .success
            .get_or_init(|| (server.to_string(), success_family().with(&[server])));
        if label == server {
            counter.inc();
        } else {
            // A block on several listeners: the other labels take the slow path.
            success_family().with(&[server]).inc();
        }
    }
}

fn success_family() -> Arc<cairn_core::metrics::Family<Counter>> {
    registry().counter(
        "coredns_autopath_success_total",
        "Counter of requests that did autopath.",
        &["server"],
    )
}

/// Registers the counter at setup so it is exported (at 0) before the first success.
pub fn init_metrics() {
    let _ = success_family();
}

/// `base` (wire labels, no root) followed by `suffix` (a full wire name).
fn joined(base: &[u8], suffix: &[u8], out: &mut NameBuf) -> bool {
    out.clear();
    let mut wire = [0u8; 255];
    let len = base.len() + suffix.len();
    if len > wire.len() {
        return false;
    }
    wire[..base.len()].copy_from_slice(base);
    wire[base.len()..len].copy_from_slice(suffix);
    out.set_wire(&wire[..len]);
    true
}

/// If the answer is for another name than the one asked, put `asked CNAME <that name>` in
/// front so that the client accepts it.
fn add_cname(msg: &mut cairn_core::wire::Message, asked: &Name) {
    let Some(first) = msg.answer.first() else {
        return;
    };
    if first.name.eq_ignore_case(asked) {
        return;
    }
    let cname = Record::new(asked.clone(), first.ttl, RData::Cname(first.name.clone()));
    msg.answer.insert(0, cname);
}

impl Plugin for AutoPath {
    fn name(&self) -> &'static str {
        "autopath"
    }

    fn serve<'a>(&'a self, req: Box<Request>, next: Next<'a>) -> Served<'a> {
        if longest_match(&self.zones, req.qname_lower.wire()).is_none() {
            return next.run(req);
        }
        let Some(path) = self.search_path(&req, &next) else {
            return next.run(req);
        };
        let Some(first) = path.first() else {
            return next.run(req);
        };
        let qname = req.qname_lower.wire();
        // Only a name strictly below the first search domain is the start of a search walk.
        if qname.len() <= first.wire().len() || !is_subdomain_wire(qname, first.wire()) {
            return next.run(req);
        }
        let base_len = qname.len() - first.wire().len();
        Served::Pending(Box::pin(async move {
            let mut req = req;
            let asked = req.qname();
            let base = asked.wire()[..base_len].to_vec();
            let mut name = NameBuf::new();
            let mut first_reply = None;
            for (i, domain) in path.iter().enumerate() {
                if i > 0 {
                    if !joined(&base, domain.wire(), &mut name) {
                        continue;
                    }
                    req.set_qname(name.wire());
                }
                let (back, result) = next.run(req).finish().await;
                req = back;
                match result {
                    Err(e) => {
                        req.set_qname(asked.wire());
                        return (req, Err(e));
                    }
                    Ok(m) if m.rcode == Rcode::NXDOMAIN => {
                        if i == 0 {
                            first_reply = Some(m);
                        }
                    }
                    Ok(mut m) => {
                        req.set_qname(asked.wire());
                        add_cname(&mut m, &asked);
                        self.count_success(&req.server.label);
                        return (req, Ok(m));
                    }
                }
            }
            req.set_qname(asked.wire());
            let reply = match first_reply {
                Some(m) => m,
                None => req.reply_rcode(Rcode::NXDOMAIN),
            };
            (req, Ok(reply))
        }))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
