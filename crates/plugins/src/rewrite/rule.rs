//! The rules and what they do to a request.
//!
//! A query goes through the rules in Corefile order. A rule that matches ("done") changes
//! the draft of the request and may leave response rules behind; a `stop` rule that matched
//! ends the walk, a `continue` rule lets the next rule look at the already rewritten draft.
//! Rules that do not match are skipped whatever their mode.

use cairn_core::wire::{Name, RType, Rcode};
use cairn_core::Request;
use regex::Regex;

use super::cname::CnameRule;
use super::edns::{Draft, Edns0Rule};
use super::response::{Applied, AppliedList, StringRewriter};
use super::text::{expand_groups, replace_all, TextBuf};

/// What happens after a rule matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Stop,
    Continue,
}

/// A rule of one `rewrite` line.
#[derive(Debug)]
pub struct Rule {
    pub mode: Mode,
    pub kind: Kind,
}

/// The rule kinds (CoreDNS's FIELD).
#[derive(Debug)]
pub enum Kind {
    Name(Box<NameRule>),
    Type {
        from: RType,
        to: RType,
    },
    Class {
        from: u16,
        to: u16,
    },
    Edns0(Edns0Rule),
    Ttl {
        on: NameMatch,
        min: u32,
        max: u32,
    },
    Rcode {
        on: NameMatch,
        from: Rcode,
        to: Rcode,
    },
    Cname(CnameRule),
}

/// How a question name is matched by `ttl` and `rcode` rules.
#[derive(Debug)]
pub enum NameMatch {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Substring(String),
    Regex(Regex),
}

impl NameMatch {
    fn matches(&self, name: &str) -> bool {
        match self {
            NameMatch::Exact(s) => name == s,
            NameMatch::Prefix(s) => name.starts_with(s.as_str()),
            NameMatch::Suffix(s) => name.ends_with(s.as_str()),
            NameMatch::Substring(s) => name.contains(s.as_str()),
            NameMatch::Regex(re) => re.is_match(name),
        }
    }
}

/// How a `name` rule finds and rewrites the question name.
#[derive(Debug)]
pub enum NameRewrite {
    /// The names are also kept parsed for the automatic answer rewrite (`None` when the
    /// text is no valid name: such a rule never matches, or fails the query).
    Exact {
        from: String,
        to: String,
        from_name: Option<Name>,
        to_name: Option<Name>,
    },
    Prefix {
        from: String,
        to: String,
    },
    Suffix {
        from: String,
        to: String,
    },
    Substring {
        from: String,
        to: String,
    },
    Regex {
        pattern: Regex,
        to: String,
    },
}

/// A `name` rule.
#[derive(Debug)]
pub struct NameRule {
    pub rewrite: NameRewrite,
    /// `answer auto` for prefix, substring and regex rules: map the rewritten name back in
    /// the response (exact rules always do; suffix rules do it with static rules instead).
    pub auto: bool,
    /// `answer name|value` rules, after the automatic ones of a suffix rule.
    pub answers: Vec<(ResponseTarget, StringRewriter)>,
}

/// What an answer rule rewrites in each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseTarget {
    /// The owner name.
    Name,
    /// The name in the record data (CNAME, DNAME, NS, PTR, MX, SRV, SOA mname, NAPTR).
    Value,
}

/// The outcome of one rule for one query.
pub enum Outcome {
    Ignored,
    Done,
    /// The rewritten name is not a valid domain name (the client gets SERVFAIL).
    InvalidName(String),
}

impl Rule {
    /// Applies the rule to the draft, recording response rules in `applied`.
    pub fn apply<'r>(
        &'r self,
        draft: &mut Draft,
        req: &Request,
        applied: &mut AppliedList<'r>,
    ) -> Outcome {
        match &self.kind {
            Kind::Name(rule) => rule.apply(draft, applied),
            Kind::Type { from, to } => {
                if draft.qtype != *from {
                    return Outcome::Ignored;
                }
                draft.qtype = *to;
                draft.dirty = true;
                Outcome::Done
            }
            Kind::Class { from, to } => {
                if draft.qclass != *from {
                    return Outcome::Ignored;
                }
                draft.qclass = *to;
                draft.dirty = true;
                Outcome::Done
            }
            Kind::Edns0(rule) => rule.apply(draft, req, applied),
            Kind::Ttl { on, min, max } => {
                if !on.matches(draft.name_text().as_str()) {
                    return Outcome::Ignored;
                }
                applied.push(Applied::Ttl {
                    min: *min,
                    max: *max,
                });
                Outcome::Done
            }
            Kind::Cname(rule) => {
                applied.push(Applied::Cname {
                    rule,
                    qtype: draft.qtype,
                });
                Outcome::Done
            }
            Kind::Rcode { on, from, to } => {
                if !on.matches(draft.name_text().as_str()) {
                    return Outcome::Ignored;
                }
                applied.push(Applied::Rcode {
                    from: *from,
                    to: *to,
                });
                Outcome::Done
            }
        }
    }
}

impl NameRule {
    fn apply<'r>(&'r self, draft: &mut Draft, applied: &mut AppliedList<'r>) -> Outcome {
        let old = draft.name_text();
        let cur = old.as_str();
        let mut new = TextBuf::new();
        let written = match &self.rewrite {
            NameRewrite::Exact { from, to, .. } => {
                if cur != from {
                    return Outcome::Ignored;
                }
                new.push(to)
            }
            NameRewrite::Prefix { from, to } => match cur.strip_prefix(from.as_str()) {
                None => return Outcome::Ignored,
                Some(rest) => new.push(to).and_then(|()| new.push(rest)),
            },
            NameRewrite::Suffix { from, to } => match cur.strip_suffix(from.as_str()) {
                None => return Outcome::Ignored,
                Some(rest) => new.push(rest).and_then(|()| new.push(to)),
            },
            NameRewrite::Substring { from, to } => {
                if !cur.contains(from.as_str()) {
                    return Outcome::Ignored;
                }
                replace_all(&mut new, cur, from, to)
            }
            NameRewrite::Regex { pattern, to } => {
                // Only a match pays for the capture table.
                if !pattern.is_match(cur) {
                    return Outcome::Ignored;
                }
                match pattern.captures(cur) {
                    None => return Outcome::Ignored,
                    Some(groups) => expand_groups(&mut new, to, cur, &groups),
                }
            }
        };
        let name = match written.ok().and_then(|()| new.to_name()) {
            Some(n) => n,
            None => return Outcome::InvalidName(new.as_str().to_string()),
        };
        draft.set_name(&name);
        match &self.rewrite {
            // The answer comes back for the rewritten name: map it (and names below it) back
            // to the name asked, as CoreDNS does, in lower case.
            NameRewrite::Exact {
                from_name: Some(from_name),
                to_name: Some(to_name),
                ..
            } => applied.push(Applied::Remap {
                from: to_name.clone(),
                to: from_name.clone(),
            }),
            NameRewrite::Exact { .. } => {}
            _ if self.auto => {
                if let Some(before) = old.to_name() {
                    applied.push(Applied::Remap {
                        from: name,
                        to: before,
                    });
                }
            }
            _ => {}
        }
        if !self.answers.is_empty() {
            applied.push(Applied::Answers(&self.answers));
        }
        Outcome::Done
    }
}
