//! From packet to reply: sanity checks, longest-zone routing among the blocks of one
//! listener, running the chosen chain, and encoding the reply to the client's limit.
//!
//! Everything here runs per query, so it allocates nothing: the request comes from the
//! worker's pool, the zone table is keyed by wire bytes, and the reply is encoded into a
//! buffer the worker reuses.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use futures_util::FutureExt;
use std::sync::Arc;

use cairn_core::dns_labels::{
    family_index, family_name, proto_index, proto_name, type_index, type_name, TYPE_COUNT,
};
use cairn_core::metrics::{registry, Counter};
use cairn_core::plugin::{Chain, PluginError, ServeFuture, Served};
use cairn_core::request::{Request, ServerInfo};
use cairn_core::resolve::Resolve;
use cairn_core::setup::BlockInfo;
use cairn_core::wire::name::parent_wire;
use cairn_core::wire::types::OPCODE_QUERY;
use cairn_core::wire::{Message, Name, QueryError, RType, Rcode, CLASS_IN};

/// One server block after setup: its chain and zones.
pub struct Block {
    pub info: BlockInfo,
    pub chain: Chain,
}

/// What became of a packet.
// The reply variant is the hot path; boxing the message would allocate per query.
#[allow(clippy::large_enum_variant)]
pub enum Outcome<'a> {
    /// A reply to encode and send.
    Reply(Box<Request>, Message),
    /// A reply that needs waiting for.
    Pending(ServeFuture<'a>),
    /// Nothing to send (unreadable header, or a response sent to us).
    Drop(Box<Request>),
}

/// Lookups through the server (ExternalName targets, CNAMEs leaving a zone) run here like a
/// query from the network, with the same routing and chain.
impl Resolve for Dispatcher {
    fn resolve(self: Arc<Self>, req: Box<Request>) -> ServeFuture<'static> {
        Box::pin(async move {
            match self.handle(req) {
                Outcome::Reply(req, msg) => (req, Ok(msg)),
                Outcome::Pending(fut) => fut.await,
                Outcome::Drop(req) => (
                    req,
                    Err(PluginError::failed("server", "the lookup was dropped")),
                ),
            }
        })
    }
}

/// Counters for packets rejected before any chain ran.
struct Rejected {
    dropped: Counter,
    formerr: Counter,
}

/// Routes queries for one listener (transport, address, port).
pub struct Dispatcher {
    zones: HashMap<Box<[u8]>, usize>,
    root: Option<usize>,
    blocks: Vec<Arc<Block>>,
    other_classes: bool,
    pub server: Arc<ServerInfo>,
    rejected: Rejected,
    dropped_requests: DroppedRequests,
    panics: Counter,
}

impl Dispatcher {
    /// A dispatcher over `blocks`, each with the zones it serves on this listener.
    pub fn new(server: Arc<ServerInfo>, blocks: crate::instance::BlockZones) -> Dispatcher {
        let mut zones = HashMap::new();
        let mut root = None;
        let mut list = Vec::new();
        let mut other_classes = false;
        for (i, (block, names)) in blocks.into_iter().enumerate() {
            other_classes |= block
                .chain
                .plugins()
                .iter()
                .any(|p| matches!(p.name(), "chaos" | "forward" | "proxy"));
            for z in names {
                if z.is_root() {
                    root.get_or_insert(i);
                } else {
                    zones
                        .entry(z.wire().to_ascii_lowercase().into_boxed_slice())
                        .or_insert(i);
                }
            }
            list.push(block);
        }
        let family = registry().counter(
            "cairn_dns_malformed_requests_total",
            "Packets rejected before routing: dropped, or answered FORMERR.",
            &["server", "action"],
        );
        Dispatcher {
            zones,
            root,
            blocks: list,
            other_classes,
            rejected: Rejected {
                dropped: family.with(&[&server.label, "dropped"]),
                formerr: family.with(&[&server.label, "formerr"]),
            },
            dropped_requests: DroppedRequests::new(&server.label),
            panics: registry()
                .counter(
                    "coredns_panics_total",
                    "A metrics that counts the number of panics.",
                    &[],
                )
                .with(&[]),
            server,
        }
    }

    /// The blocks of this listener.
    pub fn blocks(&self) -> &[Arc<Block>] {
        &self.blocks
    }

    /// Longest-zone match; DS queries go to the parent side (the match closest to the root).
    fn route(&self, qname_lower: &[u8], qtype: RType) -> Option<usize> {
        let mut found = None;
        let mut name = Some(qname_lower);
        while let Some(n) = name {
            if n == [0] {
                break;
            }
            if let Some(&i) = self.zones.get(n) {
                found = Some(i);
                if qtype != RType::DS {
                    break;
                }
            }
            name = parent_wire(n);
        }
        found.or(self.root)
    }

    /// Serves one packet already copied into `req.raw`.
    pub fn handle(&self, mut req: Box<Request>) -> Outcome<'_> {
        match req.parse() {
            Ok(()) => {}
            Err(QueryError::Drop(_)) => {
                self.rejected.dropped.inc();
                return Outcome::Drop(req);
            }
            Err(QueryError::FormErr { id, opcode, rd, .. }) => {
                self.rejected.formerr.inc();
                let mut m = req.reply();
                m.id = id;
                m.opcode = opcode;
                m.flags.rd = rd;
                m.flags.cd = false;
                m.rcode = Rcode::FORMERR;
                req.info.question = 0..0;
                req.info.edns = None;
                return Outcome::Reply(req, m);
            }
        }
        if req.info.opcode != OPCODE_QUERY {
            let m = req.reply_rcode(Rcode::NOTIMP);
            return Outcome::Reply(req, m);
        }
        if req.info.edns.is_some_and(|e| e.version != 0) {
            let m = req.reply_rcode(Rcode::BADVERS);
            return Outcome::Reply(req, m);
        }
        if req.info.qclass != CLASS_IN && !self.other_classes {
            self.dropped_requests.count(&req);
            let m = req.reply_rcode(Rcode::REFUSED);
            return Outcome::Reply(req, m);
        }
        let Some(i) = self.route(req.qname_lower.wire(), req.info.qtype) else {
            self.dropped_requests.count(&req);
            let m = req.reply_rcode(Rcode::REFUSED);
            return Outcome::Reply(req, m);
        };
        let block = &self.blocks[i];
        req.zone = cairn_core::zones::longest_match(&block.info.zones, req.qname_lower.wire())
            .cloned()
            .unwrap_or_else(Name::root);
        // A panicking plugin costs one SERVFAIL, never the server.
        let head = Head::of(&req);
        match catch_unwind(AssertUnwindSafe(|| block.chain.run(req))) {
            Ok(Served::Ready(req, result)) => finish(req, result),
            Ok(Served::Pending(fut)) => {
                let panics = self.panics.clone();
                Outcome::Pending(Box::pin(async move {
                    match AssertUnwindSafe(fut).catch_unwind().await {
                        Ok(done) => done,
                        Err(_) => head.servfail_after_panic(&panics),
                    }
                }))
            }
            Err(_) => {
                let (req, result) = head.servfail_after_panic(&self.panics);
                finish(req, result)
            }
        }
    }
}

/// What is needed to answer a query whose request was lost in a panic.
struct Head {
    info: cairn_core::wire::QueryInfo,
    client: std::net::SocketAddr,
    local: std::net::SocketAddr,
    proto: cairn_core::Proto,
    server: Arc<ServerInfo>,
}

impl Head {
    fn of(req: &Request) -> Head {
        Head {
            info: req.info.clone(),
            client: req.client,
            local: req.local,
            proto: req.proto,
            server: req.server.clone(),
        }
    }

    fn servfail_after_panic(self, panics: &Counter) -> (Box<Request>, cairn_core::ServeResult) {
        panics.inc();
        cairn_core::error!(; "Recovered from panic in server: query {} {}", self.info.qname, self.info.qtype);
        let mut req = Box::new(Request::empty(self.server));
        req.info = self.info;
        req.qname_lower.set_wire_lowercase(req.info.qname.wire());
        req.client = self.client;
        req.local = self.local;
        req.proto = self.proto;
        (
            req,
            Err(cairn_core::PluginError::failed("server", "panic in plugin")),
        )
    }
}

/// Turns a chain result into the reply to send.
pub fn finish<'a>(mut req: Box<Request>, result: cairn_core::ServeResult) -> Outcome<'a> {
    match result {
        Ok(m) if m.drop_reply() => Outcome::Drop(req),
        Ok(m) => Outcome::Reply(req, m),
        Err(e) => {
            let m = req.reply_rcode(e.rcode());
            Outcome::Reply(req, m)
        }
    }
}

/// `coredns_dns_requests_total{zone="dropped"}` for queries no chain saw, with one handle per
/// (proto, family, type) resolved the first time it is needed, so counting takes no lock and
/// allocates nothing afterwards.
struct DroppedRequests {
    server: String,
    slots: Vec<OnceLock<Counter>>,
}

impl DroppedRequests {
    fn new(server: &str) -> Self {
        DroppedRequests {
            server: server.to_string(),
            slots: (0..2 * 2 * TYPE_COUNT).map(|_| OnceLock::new()).collect(),
        }
    }

    fn count(&self, req: &Request) {
        let (p, f, t) = (
            proto_index(req.proto),
            family_index(&req.client),
            type_index(req.info.qtype),
        );
        self.slots[(p * 2 + f) * TYPE_COUNT + t]
            .get_or_init(|| {
                registry()
                    .counter(
                        "coredns_dns_requests_total",
                        "Counter of DNS requests made per zone, protocol and family.",
                        &["server", "zone", "view", "proto", "family", "type"],
                    )
                    .with(&[
                        &self.server,
                        "dropped",
                        "",
                        proto_name(p),
                        family_name(f),
                        type_name(t),
                    ])
            })
            .inc();
    }
}

/// Tiny extension so plugins (acl `drop`) can ask for silence.
trait DropReply {
    fn drop_reply(&self) -> bool;
}

impl DropReply for Message {
    fn drop_reply(&self) -> bool {
        self.rcode == Rcode::DROP
    }
}
