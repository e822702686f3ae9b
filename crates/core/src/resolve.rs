//! Asking the server itself a question, from inside a plugin.
//!
//! CoreDNS resolves some names "through the server" rather than through a fixed upstream: the
//! target of a kubernetes ExternalName service, a CNAME that leaves a `file` zone. The question
//! then goes through the same routing and chain as a query from the network, so a target in a
//! cluster zone is answered by kubernetes and any other name by whatever the Corefile says
//! (forward, cache). [`crate::request::ServerInfo`] (shared by every request of a listener) carries a late-bound
//! handle to that listener's dispatcher for this; the server binds it when it publishes the
//! dispatcher. Each hop increments [`Request::depth`], and [`MAX_DEPTH`] stops loops.

use std::sync::{Arc, OnceLock, Weak};

use crate::plugin::{ServeFuture, ServeResult};
use crate::request::Request;
use crate::wire::{encode, Message, Name, OptRef, QuestionRef, RType, CLASS_IN};

/// How many nested self-lookups one query may cause.
pub const MAX_DEPTH: u8 = 8;

/// What can run a query through a listener's routing and chain (the server's dispatcher).
pub trait Resolve: Send + Sync + 'static {
    /// Runs `req` (already parsed) as if it had arrived on the listener; the future owns
    /// everything it needs.
    fn resolve(self: Arc<Self>, req: Box<Request>) -> ServeFuture<'static>;
}

/// The late-bound handle kept in [`crate::request::ServerInfo`]: empty until the server binds it, and weak
/// so an old configuration's dispatcher is not kept alive by requests.
#[derive(Default)]
pub struct SelfResolver(OnceLock<Weak<dyn Resolve>>);

impl SelfResolver {
    /// Binds the dispatcher (the first binding wins).
    pub fn bind(&self, target: Weak<dyn Resolve>) {
        let _ = self.0.set(target);
    }

    fn get(&self) -> Option<Arc<dyn Resolve>> {
        self.0.get().and_then(Weak::upgrade)
    }
}

impl std::fmt::Debug for SelfResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "SelfResolver(bound)"
        } else {
            "SelfResolver(unbound)"
        })
    }
}

/// Why a lookup through the server gave no answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    #[error("no server to resolve through (not bound, or shut down)")]
    Unbound,
    #[error("lookup loop: more than {MAX_DEPTH} nested lookups")]
    TooDeep,
    #[error("the lookup failed: {0}")]
    Failed(String),
}

impl Request {
    /// Asks this request's listener for `name`/`qtype` (class IN, with this query's DO bit
    /// and transport), as CoreDNS's upstream lookups do. The reply is the message the chain
    /// produced (rcode, answer, authority), not yet encoded.
    pub fn lookup_through_server(
        &self,
        name: &Name,
        qtype: RType,
    ) -> Result<ServeFuture<'static>, ResolveError> {
        if self.depth >= MAX_DEPTH {
            return Err(ResolveError::TooDeep);
        }
        let target = self.server.resolver.get().ok_or(ResolveError::Unbound)?;
        let mut q = Message {
            id: self.info.id,
            ..Message::default()
        };
        q.flags.rd = true;
        let mut raw = Vec::with_capacity(64);
        let opt = self.info.edns.map(|e| OptRef {
            udp_size: e.udp_size,
            dnssec_ok: e.dnssec_ok,
            options: &[],
        });
        let question = QuestionRef {
            name: name.wire(),
            qtype,
            qclass: CLASS_IN,
        };
        encode(&q, Some(question), opt, 65535, &mut raw);
        let mut inner = Request::empty(self.server.clone());
        inner.raw = raw;
        inner.client = self.client;
        inner.local = self.local;
        inner.proto = self.proto;
        inner.depth = self.depth + 1;
        // The dispatcher parses `raw`, as for a packet from the network.
        Ok(target.resolve(Box::new(inner)))
    }
}

/// Runs a lookup future to its message, mapping a chain error to [`ResolveError::Failed`].
pub async fn answer_of(fut: ServeFuture<'static>) -> Result<Message, ResolveError> {
    let (_req, result): (Box<Request>, ServeResult) = fut.await;
    result.map_err(|e| ResolveError::Failed(e.to_string()))
}
