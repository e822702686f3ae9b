//! Rewriting the response on its way back: what the matched rules left behind, applied to
//! the reply the rest of the chain built.
//!
//! As in CoreDNS, every record of the authority, answer and additional sections goes through
//! the response rules in reverse order of the request rules that left them (the last rewrite
//! is undone first). Message-level rules (response code, EDNS options) apply once.

use std::sync::Arc;

use cairn_core::wire::{Edns, Message, Name, RData, RType, Rcode, Record};
use regex::Regex;

use super::cname::CnameRule;
use super::rule::ResponseTarget;
use super::text::{expand_groups, TextBuf};

/// A string rewrite from an `answer name|value` rule (or the automatic one of a suffix rule).
#[derive(Debug)]
pub enum StringRewriter {
    /// The whole name becomes the replacement with `{N}` filled in, when the pattern matches.
    Regex { pattern: Regex, replacement: String },
    /// A string suffix swapped for another.
    Suffix { suffix: String, replacement: String },
}

impl StringRewriter {
    /// The rewritten text of `name`, or `None` when the rule does not apply.
    fn rewrite(&self, name: &str) -> Option<TextBuf> {
        let mut out = TextBuf::new();
        match self {
            StringRewriter::Regex {
                pattern,
                replacement,
            } => {
                if !pattern.is_match(name) {
                    return None;
                }
                let groups = pattern.captures(name)?;
                expand_groups(&mut out, replacement, name, &groups).ok()?;
            }
            StringRewriter::Suffix {
                suffix,
                replacement,
            } => {
                let rest = name.strip_suffix(suffix.as_str())?;
                out.push(rest).ok()?;
                out.push(replacement).ok()?;
            }
        }
        Some(out)
    }
}

/// One response rule left by a matched request rule.
pub enum Applied<'r> {
    /// Names equal to or below `from` get `from` replaced by `to`, in owners and values.
    Remap { from: Name, to: Name },
    /// A name rule's `answer name|value` rules.
    Answers(&'r [(ResponseTarget, StringRewriter)]),
    /// TTLs clamped into `min..=max`.
    Ttl { min: u32, max: u32 },
    /// The response code `from` becomes `to`.
    Rcode { from: Rcode, to: Rcode },
    /// The EDNS option `code` this query added is taken out of the response.
    EdnsRemove { code: u16 },
    /// The EDNS option `code` this query overwrote gets its old data back in the response.
    EdnsRestore { code: u16, data: Box<[u8]> },
    /// A `cname` rule, with the query type to look the new target up with.
    Cname { rule: &'r CnameRule, qtype: RType },
}

/// How many response rules a query keeps without touching the heap.
const INLINE: usize = 4;

/// The response rules of one query, in the order they were left.
#[derive(Default)]
pub struct AppliedList<'r> {
    inline: [Option<Applied<'r>>; INLINE],
    len: usize,
    spill: Vec<Applied<'r>>,
}

impl<'r> AppliedList<'r> {
    pub fn push(&mut self, a: Applied<'r>) {
        if self.len < INLINE {
            self.inline[self.len] = Some(a);
            self.len += 1;
        } else {
            self.spill.push(a);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Last left first.
    fn reversed(&self) -> impl Iterator<Item = &Applied<'r>> + Clone {
        self.spill
            .iter()
            .rev()
            .chain(self.inline[..self.len].iter().rev().flatten())
    }

    /// Applies every rule to `m`.
    pub fn apply(&self, m: &mut Message) {
        if self.is_empty() {
            return;
        }
        for section in [&mut m.authority, &mut m.answer, &mut m.additional] {
            for record in section.iter_mut() {
                for a in self.reversed() {
                    a.apply_record(record);
                }
            }
        }
        for a in self.reversed() {
            match a {
                Applied::Rcode { from, to } if m.rcode == *from => m.rcode = *to,
                Applied::EdnsRemove { code } => {
                    if let Some(e) = m.edns.as_mut() {
                        edit_first_option(e, *code, None);
                    }
                }
                Applied::EdnsRestore { code, data } => {
                    if let Some(e) = m.edns.as_mut() {
                        edit_first_option(e, *code, Some(data));
                    }
                }
                _ => {}
            }
        }
    }

    /// The `cname` rules left, the last one left first (the order responses undo them).
    pub fn cname_rules(&self) -> impl Iterator<Item = (&'r CnameRule, RType)> + Clone + '_ {
        self.reversed().filter_map(|a| match a {
            Applied::Cname { rule, qtype } => Some((*rule, *qtype)),
            _ => None,
        })
    }

    /// True when a `cname` rule was left.
    pub fn has_cname(&self) -> bool {
        self.reversed().any(|a| matches!(a, Applied::Cname { .. }))
    }

    /// The response code a chain error (SERVFAIL) becomes under the rcode rules.
    pub fn error_rcode(&self, rcode: Rcode) -> Rcode {
        let mut rcode = rcode;
        for a in self.reversed() {
            if let Applied::Rcode { from, to } = a {
                if rcode == *from {
                    rcode = *to;
                }
            }
        }
        rcode
    }
}

impl Applied<'_> {
    fn apply_record(&self, r: &mut Record) {
        match self {
            Applied::Remap { from, to } => {
                if let Some(Ok(n)) = r.name.replace_suffix(from, to) {
                    r.name = n;
                }
                if let Some(target) = value_of(r) {
                    if let Some(Ok(n)) = target.replace_suffix(from, to) {
                        set_value(r, n);
                    }
                }
            }
            Applied::Answers(rules) => {
                for (target, rewriter) in rules.iter().rev() {
                    match target {
                        ResponseTarget::Name => {
                            let text = TextBuf::of_wire(r.name.wire(), false);
                            if let Some(n) =
                                rewriter.rewrite(text.as_str()).and_then(|t| t.to_name())
                            {
                                r.name = n;
                            }
                        }
                        ResponseTarget::Value => {
                            let Some(value) = value_of(r) else { continue };
                            let text = TextBuf::of_wire(value.wire(), false);
                            if let Some(n) =
                                rewriter.rewrite(text.as_str()).and_then(|t| t.to_name())
                            {
                                set_value(r, n);
                            }
                        }
                    }
                }
            }
            Applied::Ttl { min, max } => {
                if r.ttl < *min {
                    r.ttl = *min;
                } else if r.ttl > *max {
                    r.ttl = *max;
                }
            }
            _ => {}
        }
    }
}

/// The name in a record's data that `answer value` rewrites, as CoreDNS picks it.
fn value_of(r: &Record) -> Option<Name> {
    match &r.data {
        RData::Cname(n) | RData::Dname(n) | RData::Ns(n) | RData::Ptr(n) => Some(n.clone()),
        RData::Mx { exchange, .. } => Some(exchange.clone()),
        RData::Srv { target, .. } => Some(target.clone()),
        RData::Soa(soa) => Some(soa.mname.clone()),
        RData::Opaque(raw) if r.rtype == RType::NAPTR => naptr_replacement(raw).map(|(_, n)| n),
        _ => None,
    }
}

/// Puts `n` where [`value_of`] found the value.
fn set_value(r: &mut Record, n: Name) {
    match &mut r.data {
        RData::Cname(v) | RData::Dname(v) | RData::Ns(v) | RData::Ptr(v) => *v = n,
        RData::Mx { exchange, .. } => *exchange = n,
        RData::Srv { target, .. } => *target = n,
        RData::Soa(soa) => Arc::make_mut(soa).mname = n,
        RData::Opaque(raw) if r.rtype == RType::NAPTR => {
            if let Some((at, _)) = naptr_replacement(raw) {
                let mut data = raw[..at].to_vec();
                data.extend_from_slice(n.wire());
                *raw = data.into();
            }
        }
        _ => {}
    }
}

/// The replacement name of NAPTR data (RFC 3403: order, preference, three
/// character-strings, then an uncompressed name) and where it starts.
fn naptr_replacement(raw: &[u8]) -> Option<(usize, Name)> {
    let mut at = 4;
    for _ in 0..3 {
        at += 1 + usize::from(*raw.get(at)?);
    }
    let name = Name::from_wire(raw.get(at..)?).ok()?;
    Some((at, name))
}

/// Replaces (`Some(data)`) or removes (`None`) the first option with `code`.
fn edit_first_option(e: &mut Edns, code: u16, data: Option<&[u8]>) {
    let mut at = 0;
    while at + 4 <= e.options.len() {
        let c = u16::from_be_bytes([e.options[at], e.options[at + 1]]);
        let len = usize::from(u16::from_be_bytes([e.options[at + 2], e.options[at + 3]]));
        let end = (at + 4 + len).min(e.options.len());
        if c == code {
            let mut new = Vec::new();
            if let Some(d) = data {
                new.extend_from_slice(&code.to_be_bytes());
                new.extend_from_slice(&(d.len() as u16).to_be_bytes());
                new.extend_from_slice(d);
            }
            e.options.splice(at..end, new);
            return;
        }
        at = end;
    }
}
