//! `loop`: finds forwarding loops at startup by sending the server a query only it can know,
//! and counting how often that query comes back in.
//!
//! CoreDNS stops the process when it sees its probe more than twice. In Kubernetes that turns
//! one bad upstream (a node resolver at `127.0.0.53`, two servers forwarding to each other)
//! into a crashloop of every replica, and before the probe name was random it let anyone who
//! guessed the name stop every replica. Cairn keeps running instead: the loop is logged with
//! CoreDNS's line (at ERROR), counted in metrics, `ready` reports the plugin not ready, and
//! queries of the looping zone that reach this plugin are answered SERVFAIL at once instead of
//! being passed on, so they no longer go round and round.
//!
//! The directive is a Rust keyword, so the module is `r#loop` (the directory keeps the
//! directive's name, like every plugin).
//!
//! The query path costs one atomic load once probing is over: [`Loop`] keeps its phase in an
//! `AtomicU8` and the probe count in an `AtomicU32`; the name comparison is a byte comparison
//! of wire forms. [`probe`] sends the probe, [`target`] says where to, [`metrics`] reports.

mod metrics;
mod probe;
mod setup;
mod target;
#[cfg(test)]
mod tests;

pub use setup::setup;

use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::OnceLock;

use cairn_core::metrics::Gauge;
use cairn_core::wire::name::is_subdomain_wire;
use cairn_core::wire::{Name, RType, Rcode};
use cairn_core::{Next, Plugin, Request, Served};

/// The probe has not completed one exchange yet: counting, not ready.
const PROBING: u8 = 0;
/// At least one exchange completed (answered or not): still counting, ready.
const WATCHING: u8 = 1;
/// Probing is over without a loop: queries pass straight on.
const OFF: u8 = 2;
/// A loop was seen: SERVFAIL for the zone, not ready, for the life of this configuration.
const LOOPING: u8 = 3;

/// How many times the probe may come in before it counts as a loop (CoreDNS: "more than
/// twice").
pub const MAX_SEEN: u32 = 2;

/// The `loop` handler of one server block.
pub struct Loop {
    /// The block's first zone, lower case: the probe's zone and the zone refused on a loop.
    zone: Name,
    /// The probe name `<random>.<random>.<zone>`, lower case.
    qname: Name,
    /// One of [`PROBING`], [`WATCHING`], [`OFF`], [`LOOPING`].
    phase: AtomicU8,
    /// Probe queries seen since the current exchange started.
    seen: AtomicU32,
    /// The address the probe went to, as CoreDNS prints it (`:53`, `127.0.0.1:53`).
    listen: OnceLock<String>,
    metrics: metrics::Metrics,
    /// `cairn_loop_detected` of this block, raised on detection, lowered when this
    /// configuration is gone.
    detected: OnceLock<Gauge>,
}

impl Loop {
    /// A handler probing `zone` with `qname` (both lower case).
    pub(crate) fn new(zone: Name, qname: Name) -> Loop {
        Loop {
            zone,
            qname,
            phase: AtomicU8::new(PROBING),
            seen: AtomicU32::new(0),
            listen: OnceLock::new(),
            metrics: metrics::Metrics::new(),
            detected: OnceLock::new(),
        }
    }

    /// The probe name.
    pub fn qname(&self) -> &Name {
        &self.qname
    }

    /// The zone the probe is in.
    pub fn zone(&self) -> &Name {
        &self.zone
    }

    /// True once a loop was detected.
    pub fn is_looping(&self) -> bool {
        self.phase.load(Ordering::Acquire) == LOOPING
    }

    /// True while probe queries are counted.
    pub fn is_checking(&self) -> bool {
        matches!(self.phase.load(Ordering::Acquire), PROBING | WATCHING)
    }

    /// Probe queries seen since the current exchange started.
    pub fn seen(&self) -> u32 {
        self.seen.load(Ordering::Acquire)
    }

    /// Starts counting afresh (before each exchange, so retries of an unanswered probe never
    /// add up to a false loop).
    fn reset_seen(&self) {
        self.seen.store(0, Ordering::Release);
    }

    /// One exchange completed: from now on the plugin reports ready (unless it loops).
    fn exchanged(&self) {
        let _ = self
            .phase
            .compare_exchange(PROBING, WATCHING, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Probing is over: pass everything on from now on (a loop found meanwhile stays).
    fn stop_checking(&self) {
        let _ = self
            .phase
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
                matches!(p, PROBING | WATCHING).then_some(OFF)
            });
    }

    /// Records where the probe is sent, for the log line.
    fn set_listen(&self, text: String) {
        let _ = self.listen.set(text);
    }

    /// Counts one probe query; returns true when it was seen too often (a loop). The query
    /// that moves the plugin to looping reports it.
    fn count(&self, req: &Request) -> bool {
        let seen = self.seen.fetch_add(1, Ordering::AcqRel).saturating_add(1);
        if seen <= MAX_SEEN {
            return false;
        }
        let moved = self
            .phase
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |p| {
                matches!(p, PROBING | WATCHING).then_some(LOOPING)
            })
            .is_ok();
        if moved {
            self.report(req);
        }
        self.is_looping()
    }

    /// Logs the detection as CoreDNS does (but at ERROR: the process keeps running) and
    /// counts it. Runs once per configuration.
    fn report(&self, req: &Request) {
        let zone = self.zone.to_string();
        cairn_core::error!(
            "loop",
            "Loop ({} -> {}) detected for zone {:?}, see https://coredns.io/plugins/loop#troubleshooting. Query: \"HINFO {}\"",
            req.client,
            self.listen.get().map_or("", String::as_str),
            zone,
            self.qname
        );
        cairn_core::error!(
            "loop",
            "not exiting: queries for zone {zone:?} that reach the loop plugin are answered SERVFAIL and ready reports \"loop\" until the loop is removed and the configuration reloaded"
        );
        let gauge = self.metrics.detected(&req.server.label, &zone);
        let _ = self.detected.set(gauge);
    }

    /// SERVFAIL for names in the looping zone; anything else goes on.
    fn refuse_zone<'a>(&'a self, mut req: Box<Request>, next: Next<'a>) -> Served<'a> {
        if is_subdomain_wire(req.qname_lower.wire(), self.zone.wire()) {
            let m = req.reply_rcode(Rcode::SERVFAIL);
            return Served::reply(req, m);
        }
        next.run(req)
    }
}

impl Plugin for Loop {
    fn name(&self) -> &'static str {
        "loop"
    }

    fn serve<'a>(&'a self, req: Box<Request>, next: Next<'a>) -> Served<'a> {
        match self.phase.load(Ordering::Acquire) {
            OFF => next.run(req),
            LOOPING => self.refuse_zone(req, next),
            _ => {
                if req.qtype() == RType::HINFO
                    && req.qname_lower.wire() == self.qname.wire()
                    && self.count(&req)
                {
                    return self.refuse_zone(req, next);
                }
                next.run(req)
            }
        }
    }

    fn ready(&self) -> Option<bool> {
        Some(matches!(self.phase.load(Ordering::Acquire), WATCHING | OFF))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl Drop for Loop {
    /// The configuration that saw the loop is gone: it no longer loops.
    fn drop(&mut self) {
        if let Some(g) = self.detected.get() {
            g.add(-1.0);
        }
    }
}
