//! `forward`: sends queries under a domain to upstream resolvers and returns their replies.
//!
//! A query under FROM (and not under an `except` name) is sent to the upstreams in the
//! order the policy gives, skipping upstreams that are down, until one replies or the
//! query's budget (5 s, or `max_connect_attempts` tries) is spent. The reply goes back as
//! the upstream wrote it (flags, TTLs, sections), with the client's id and question. The
//! waiting happens in a pending [`Served`] future that the socket task polls beside new
//! packets, so a slow upstream holds no thread.
//!
//! The behaviour is CoreDNS's (plugin/forward and plugin/pkg/proxy), including when every
//! upstream is down (one is tried at random, unless `failfast_all_unhealthy_upstreams`),
//! `failover` rcodes (next upstream) and `next` rcodes (next `forward` line). Where CoreDNS
//! lets a query run past its budget or hides which upstream failed, this plugin does not:
//! every step is capped by what is left of the budget, and every error names the upstream.
//!
//! Concepts live in their own files: [`target`] (what TO arguments name), [`upstream`] (one
//! exchange), [`pool`] (connection reuse), [`health`] (checks and the service),
//! [`policy`] (upstream order), [`tls`] (DoT settings), [`lookup`] (host-name TOs),
//! [`metrics`].

mod health;
mod lookup;
mod metrics;
mod policy;
mod pool;
mod setup;
mod target;
#[cfg(test)]
mod tests;
mod tls;
mod upstream;

pub use setup::setup;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use cairn_core::wire::name::is_subdomain_wire;
use cairn_core::wire::{Message, Name, Rcode};
use cairn_core::{Next, Plugin, PluginError, Proto, Request, ServeResult, Served};

use metrics::ForwardMetrics;
use policy::{random_index, Policy};
use upstream::{ExchangeError, Upstream};

/// The longest one query may spend on upstreams (CoreDNS's fixed `defaultTimeout`).
const BUDGET: Duration = Duration::from_secs(5);

/// The `forward` handler (one per `forward` line).
pub struct Forward {
    /// Queries at or below this name are forwarded (lower case).
    from: Name,
    /// ... unless below one of these (and not FROM itself).
    ignored: Vec<Name>,
    upstreams: Arc<[Arc<Upstream>]>,
    policy: Policy,
    force_tcp: bool,
    prefer_udp: bool,
    max_fails: u32,
    /// Upstream tries per query (0: unlimited, only the budget counts).
    max_connect_attempts: u32,
    failfast: bool,
    failover: Vec<Rcode>,
    next_rcodes: Vec<Rcode>,
    next_on_nodata: bool,
    /// Most queries in flight (0: no limit).
    max_concurrent: u32,
    concurrent: AtomicU32,
    metrics: ForwardMetrics,
    /// Wakes the health-check service.
    wake: Arc<Notify>,
}

/// A query's place among the `max_concurrent` in flight; given back when dropped, even if
/// the query is abandoned.
struct Permit<'a>(Option<&'a AtomicU32>);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.0 {
            c.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Forward {
    /// True when this instance forwards `qname` (lower-case wire).
    fn handles(&self, qname: &[u8]) -> bool {
        if !is_subdomain_wire(qname, self.from.wire()) {
            return false;
        }
        qname.eq_ignore_ascii_case(self.from.wire())
            || !self
                .ignored
                .iter()
                .any(|n| is_subdomain_wire(qname, n.wire()))
    }

    /// Takes a place among the queries in flight, or `None` when `max_concurrent` are.
    fn admit(&self) -> Option<Permit<'_>> {
        if self.max_concurrent == 0 {
            return Some(Permit(None));
        }
        let before = self.concurrent.fetch_add(1, Ordering::AcqRel);
        let permit = Permit(Some(&self.concurrent));
        (before < self.max_concurrent).then_some(permit)
    }

    /// The transport for the first try of a query that came in over `client`.
    fn proto_for(&self, client: Proto) -> Proto {
        if self.force_tcp {
            Proto::Tcp
        } else if self.prefer_udp {
            Proto::Udp
        } else {
            client
        }
    }

    /// One exchange with `u`, retried on a pooled stream the upstream had closed, and over
    /// TCP when `prefer_udp` got a truncated reply.
    async fn exchange(
        &self,
        u: &Upstream,
        req: &Request,
        end: Instant,
    ) -> Result<Message, ExchangeError> {
        let mut proto = self.proto_for(req.proto);
        loop {
            match u.exchange(req, proto, end).await {
                Err(ExchangeError::CachedClosed) => continue,
                Ok(m)
                    if m.flags.tc
                        && proto == Proto::Udp
                        && self.prefer_udp
                        && !self.force_tcp
                        && !u.is_tls() =>
                {
                    proto = Proto::Tcp;
                }
                r => return r,
            }
        }
    }

    async fn forward<'a>(
        &'a self,
        mut req: Box<Request>,
        next: Next<'a>,
        _permit: Permit<'a>,
    ) -> (Box<Request>, ServeResult) {
        let n = self.upstreams.len();
        let order = self.policy.order(n);
        let order = order.as_slice();
        let end = Instant::now() + BUDGET;
        let max_attempts = self.max_connect_attempts;
        let mut attempts = 0u32;
        let mut i = 0usize;
        let mut fails = 0usize;
        let mut failovers = 0usize;
        let mut last_err: Option<ExchangeError> = None;

        while Instant::now() < end && (max_attempts == 0 || attempts < max_attempts) {
            if i >= n {
                i = 0;
                fails = 0;
            }
            let mut u = &self.upstreams[usize::from(order[i])];
            i += 1;
            if u.is_down(self.max_fails) {
                fails += 1;
                if fails < n {
                    continue;
                }
                self.metrics.broken.inc();
                if self.failfast {
                    break;
                }
                // Health checking itself may be what is broken: try one at random.
                u = &self.upstreams[random_index(n)];
            }

            let reply = match self.exchange(u, &req, end).await {
                Ok(reply) => reply,
                Err(ExchangeError::NoTime) => break,
                Err(e) => {
                    u.metrics.failure(e.reason());
                    if self.max_fails != 0 {
                        health::request_check(u, &self.wake);
                    }
                    last_err = Some(e);
                    if max_attempts > 0 {
                        attempts += 1;
                        if attempts >= max_attempts {
                            break;
                        }
                    }
                    if fails < n {
                        continue;
                    }
                    break;
                }
            };

            if !answers(&req, &reply) {
                let m = req.reply_rcode(Rcode::FORMERR);
                return (req, Ok(m));
            }
            if self.failover.contains(&reply.rcode) {
                failovers += 1;
                if failovers < n {
                    continue;
                }
            }
            let next_is_forward = next.first_name() == Some("forward");
            if next_is_forward
                && (self.next_rcodes.contains(&reply.rcode)
                    || (self.next_on_nodata
                        && reply.rcode == Rcode::NOERROR
                        && reply.answer.is_empty()))
            {
                return next.run(req).finish().await;
            }
            return (req, Ok(reply));
        }

        let err = match last_err {
            Some(e) => PluginError::failed("forward", e.to_string()),
            None => PluginError::failed("forward", "no healthy proxies"),
        };
        (req, Err(err))
    }

    /// The upstreams (for tests and the service).
    #[cfg(test)]
    fn upstreams(&self) -> &[Arc<Upstream>] {
        &self.upstreams
    }
}

/// CoreDNS's check that a reply answers the query: a response whose single question has
/// the query's name (any case) and type.
fn answers(req: &Request, reply: &Message) -> bool {
    reply.flags.qr
        && reply.question.as_ref().is_some_and(|q| {
            q.qtype == req.info.qtype && q.name.wire().eq_ignore_ascii_case(req.qname_lower.wire())
        })
}

impl Plugin for Forward {
    fn name(&self) -> &'static str {
        "forward"
    }

    fn serve<'a>(&'a self, mut req: Box<Request>, next: Next<'a>) -> Served<'a> {
        if !self.handles(req.qname_lower.wire()) {
            return next.run(req);
        }
        let Some(permit) = self.admit() else {
            self.metrics.rejects.inc();
            let m = req.reply_rcode(Rcode::REFUSED);
            return Served::reply(req, m);
        };
        Served::Pending(Box::pin(self.forward(req, next, permit)))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
