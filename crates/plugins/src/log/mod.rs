//! `log`: the query log, one `[INFO]` line per reply in CoreDNS's formats.
//!
//! The plugin wraps the rest of the chain and looks at the result when it comes back. The
//! first rule whose name scope contains the query decides: if the reply's class is one the
//! rule logs, a line is written in the rule's format; otherwise nothing is computed beyond the
//! class. Formats are parsed at setup ([`format`]); writing a line allocates one string, which
//! is fine for an opt-in feature (CoreDNS allocates per line too).
//!
//! `{rsize}` is the reply's uncompressed size as the chain produced it, before the server
//! truncates it and adds the OPT record: the size CoreDNS reports, computed arithmetically
//! rather than by encoding.

mod classify;
mod format;
mod setup;
#[cfg(test)]
mod tests;

pub use setup::setup;

use std::fmt;
use std::time::Instant;

use cairn_core::log::Level;
use cairn_core::wire::{Flags, Message, Name, RData, Rcode, Record};
use cairn_core::{Next, Plugin, Request, ServeResult, Served};

use classify::{by_rcode, typify, Classes, ReplyType};
use format::{Format, Line, Outcome};

/// One rule: which names, which classes of replies, in what format.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// Names at or below this (lower case) are logged by this rule; `None` for a scope that
    /// is not a valid name and so matches nothing.
    scope: Option<Name>,
    classes: Classes,
    format: Format,
}

impl Rule {
    fn matches(&self, qname: &[u8]) -> bool {
        self.scope
            .as_ref()
            .is_some_and(|s| cairn_core::wire::name::is_subdomain_wire(qname, s.wire()))
    }
}

/// The `log` handler: all `log` lines of a block, in Corefile order.
pub struct Log {
    rules: Vec<Rule>,
    /// The block has `metadata`, so `{/log/class}` and `{/log/type}` have values.
    metadata: bool,
}

impl Log {
    /// Builds what the log line needs from the chain's result; `None` when the rule's
    /// classes leave this reply out.
    fn outcome(
        rule: &Rule,
        req: &Request,
        result: &ServeResult,
        start: Instant,
    ) -> Option<Outcome> {
        let (rcode, flags, rsize, reply_type) = match result {
            Ok(m) if m.rcode == Rcode::DROP => (None, None, 0, ReplyType::OtherError),
            Ok(m) => (
                Some(m.rcode),
                Some(m.flags),
                reply_len(req, m),
                typify(m, req.qtype()),
            ),
            // The server answers an error with a bare reply carrying the error's code.
            Err(e) => (
                Some(e.rcode()),
                Some(Flags {
                    qr: true,
                    rd: req.info.flags.rd,
                    cd: req.info.flags.cd,
                    ..Flags::default()
                }),
                question_len(req),
                by_rcode(e.rcode(), false, 0),
            ),
        };
        let class = reply_type.class();
        if !rule.classes.accepts(class) {
            return None;
        }
        Some(Outcome {
            rcode,
            flags,
            rsize,
            reply_type,
            class,
            duration: start.elapsed(),
        })
    }
}

impl Plugin for Log {
    fn name(&self) -> &'static str {
        "log"
    }

    fn serve<'a>(&'a self, req: Box<Request>, next: Next<'a>) -> Served<'a> {
        let Some(rule) = self
            .rules
            .iter()
            .find(|r| r.matches(req.qname_lower.wire()))
        else {
            return next.run(req);
        };
        let start = Instant::now();
        next.run(req).map(move |req, result| {
            if let Some(outcome) = Log::outcome(rule, req, &result, start) {
                let line = Line {
                    format: &rule.format,
                    req,
                    outcome: &outcome,
                    metadata: self.metadata,
                };
                emit(format_args!("{line}"));
            }
            result
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Header and question of the reply to `req`.
fn question_len(req: &Request) -> usize {
    let q = if req.info.question.is_empty() {
        0
    } else {
        req.info.qname.wire().len() + 4
    };
    12 + q
}

/// The uncompressed wire size of `m` as the reply to `req` (question from the query, OPT only
/// if the message itself carries one).
pub(crate) fn reply_len(req: &Request, m: &Message) -> usize {
    let records: usize = [&m.answer, &m.authority, &m.additional]
        .into_iter()
        .flatten()
        .map(record_len)
        .sum();
    let opt = m.edns.as_ref().map_or(0, |e| 11 + e.options.len());
    question_len(req) + records + opt
}

fn record_len(r: &Record) -> usize {
    let rdata = match &r.data {
        RData::A(_) => 4,
        RData::Aaaa(_) => 16,
        RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) | RData::Dname(n) => n.wire().len(),
        RData::Mx { exchange, .. } => 2 + exchange.wire().len(),
        RData::Srv { target, .. } => 6 + target.wire().len(),
        RData::Soa(s) => s.mname.wire().len() + s.rname.wire().len() + 20,
        RData::Txt(raw) | RData::Opaque(raw) => raw.len(),
    };
    r.name.wire().len() + 10 + rdata
}

/// Writes a query log line: `[INFO] <line>`, without a plugin name, as CoreDNS does
/// (captured instead in this module's tests).
fn emit(args: fmt::Arguments<'_>) {
    #[cfg(test)]
    if tests::capture(args) {
        return;
    }
    cairn_core::log::write(Level::Info, None, args);
}
