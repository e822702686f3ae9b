//! `cname` rules: rewriting the target of a CNAME in the response and answering for the new
//! target instead (CoreDNS 1.11.1).
//!
//! The rule matches every query; on the way back, the first CNAME of the answer whose
//! target matches gets the new target, the records after it are dropped, and what the server
//! itself answers for the new target (same query type, through the whole chain) is appended.
//! The answer keeps the CNAMEs before the rewritten one, as CoreDNS does.

use cairn_core::resolve::answer_of;
use cairn_core::wire::{Message, RData, RType};
use cairn_core::Request;
use regex::Regex;

use super::text::{expand_groups, replace_all, TextBuf};

/// How a `cname` rule matches a target and what it makes of it.
#[derive(Debug)]
pub enum CnameRule {
    Exact { from: String, to: String },
    Prefix { from: String, to: String },
    Suffix { from: String, to: String },
    Substring { from: String, to: String },
    Regex { pattern: Regex, to: String },
}

impl CnameRule {
    /// The new target for a CNAME target (presentation form), if the rule applies.
    fn new_target(&self, target: &str) -> Option<TextBuf> {
        let mut out = TextBuf::new();
        let ok = match self {
            CnameRule::Exact { from, to } => (target == from).then(|| out.push(to)),
            CnameRule::Prefix { from, to } => target
                .strip_prefix(from.as_str())
                .map(|rest| out.push(to).and_then(|()| out.push(rest))),
            CnameRule::Suffix { from, to } => target
                .strip_suffix(from.as_str())
                .map(|rest| out.push(rest).and_then(|()| out.push(to))),
            CnameRule::Substring { from, to } => target
                .contains(from.as_str())
                .then(|| replace_all(&mut out, target, from, to)),
            CnameRule::Regex { pattern, to } => pattern
                .captures(target)
                .map(|groups| expand_groups(&mut out, to, target, &groups)),
        }?;
        ok.ok().map(|()| out)
    }
}

/// True when some CNAME of the answer has a target one of `rules` rewrites.
pub fn wanted<'r>(
    rules: impl Iterator<Item = (&'r CnameRule, RType)> + Clone,
    m: &Message,
) -> bool {
    m.answer.iter().any(|r| match &r.data {
        RData::Cname(t) => {
            let text = TextBuf::of_wire(t.wire(), false);
            rules
                .clone()
                .any(|(rule, _)| rule.new_target(text.as_str()).is_some())
        }
        _ => false,
    })
}

/// Applies `rules` (the last applied first) to the answer of `m`.
pub async fn apply<'r>(
    req: &Request,
    rules: impl Iterator<Item = (&'r CnameRule, RType)>,
    m: &mut Message,
) {
    for (rule, qtype) in rules {
        let answer = std::mem::take(&mut m.answer);
        let mut rewritten = None;
        for (i, r) in answer.iter().enumerate() {
            let RData::Cname(t) = &r.data else { continue };
            let text = TextBuf::of_wire(t.wire(), false);
            if let Some(to) = rule.new_target(text.as_str()).and_then(|t| t.to_name()) {
                rewritten = Some((i, to));
                break;
            }
        }
        let Some((at, to)) = rewritten else {
            m.answer = answer;
            continue;
        };
        let up = match req.lookup_through_server(&to, qtype) {
            Ok(fut) => answer_of(fut).await,
            Err(e) => Err(e),
        };
        let up = match up {
            Ok(up) => up,
            Err(e) => {
                cairn_core::error!("rewrite", "upstream lookup failed: {e}");
                m.answer = answer;
                continue;
            }
        };
        // The CNAMEs up to the rewritten one, then the new target's answer.
        for (i, mut r) in answer.into_iter().enumerate().take(at + 1) {
            if r.rtype != RType::CNAME {
                continue;
            }
            if i == at {
                r.data = RData::Cname(to.clone());
            }
            m.answer.push(r);
        }
        m.answer.extend(up.answer);
        m.flags.tc = up.flags.tc;
    }
}
