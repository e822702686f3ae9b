//! Parses `rewrite [continue|stop] FIELD [TYPE] ARGS... [OPTIONS]` and the block form
//! `rewrite [continue|stop] { FIELD ARGS... }`, whose lines are read as one rule (the words
//! of every line in order), exactly as CoreDNS reads them. Each `rewrite` line is one rule;
//! the rules of a block keep their Corefile order.
//!
//! Messages are CoreDNS's, located at the word they are about.

use std::sync::Arc;

use cairn_core::wire::types::class_from_mnemonic;
use cairn_core::wire::{Name, RType, Rcode};
use cairn_core::{SetupCtx, SetupError};
use cairn_corefile::Token;
use regex::Regex;

use super::cname::CnameRule;
use super::edns::{Action, Edns0Rule, LocalData, Variable};
use super::response::StringRewriter;
use super::rule::{Kind, Mode, NameMatch, NameRewrite, NameRule, ResponseTarget, Rule};
use super::text::{group_references, normalize};
use super::Rewrite;
use crate::go_strconv::parse_uint;

/// Longest regex pattern accepted (CoreDNS's limit against huge compilations).
const MAX_REGEX_LEN: usize = 10000;

/// A rule error: the index of the word it is about (clamped to the last word) and the text.
type RuleError = (usize, String);
type Result<T> = std::result::Result<T, RuleError>;

/// Sets up `rewrite`.
pub fn setup(ctx: &mut SetupCtx<'_>) -> std::result::Result<(), SetupError> {
    let mut rules = Vec::new();
    for d in ctx.directives {
        let mut words: Vec<&Token> = d.args.iter().collect();
        if words.len() < 2 {
            for line in &d.block {
                if line.has_block {
                    return Err(line.error("unexpected '{' inside a rewrite rule"));
                }
                words.push(&line.name);
                words.extend(line.args.iter());
            }
        } else if d.has_block {
            return Err(d.error("a rewrite rule written on one line takes no block"));
        }
        let texts: Vec<&str> = words.iter().map(|t| t.text.as_str()).collect();
        let rule = new_rule(&texts).map_err(|(i, msg)| match words.get(i).or(words.last()) {
            Some(t) => t.error(msg),
            None => d.error(msg),
        })?;
        rules.push(rule);
    }
    ctx.add_plugin(Arc::new(Rewrite::new(rules)));
    Ok(())
}

/// Go's `%q` for the strings of error messages.
fn quote(s: &str) -> String {
    format!("{s:?}")
}

/// Builds one rule from its words.
pub fn new_rule(args: &[&str]) -> Result<Rule> {
    let Some(first) = args.first() else {
        return Err((0, "no rule type specified for rewrite".into()));
    };
    let arg0 = first.to_ascii_lowercase();
    let (mode, rule_type, expect, start) = match arg0.as_str() {
        "continue" | "stop" => {
            let Some(t) = args.get(1) else {
                return Err((0, format!("{arg0} rule must begin with a rule type")));
            };
            let mode = if arg0 == "continue" {
                Mode::Continue
            } else {
                Mode::Stop
            };
            (mode, t.to_ascii_lowercase(), args.len() - 1, 2)
        }
        _ => (Mode::Stop, arg0.clone(), args.len(), 1),
    };
    let rest = &args[start..];
    let at = |r: RuleError| (r.0 + start, r.1);
    let kind = match rule_type.as_str() {
        "answer" => {
            return Err((
                start - 1,
                "response rewrites must begin with a name rule".into(),
            ))
        }
        "name" => Kind::Name(Box::new(name_rule(rest).map_err(at)?)),
        "class" | "type" => {
            if expect != 3 {
                return Err((
                    start - 1,
                    format!("{rule_type} rules must have exactly two arguments"),
                ));
            }
            if rule_type == "class" {
                let class = |i: usize| {
                    let up = rest[i].to_ascii_uppercase();
                    coredns_class(&up).ok_or((i + start, format!("invalid class {}", quote(&up))))
                };
                Kind::Class {
                    from: class(0)?,
                    to: class(1)?,
                }
            } else {
                let rtype = |i: usize| {
                    let up = rest[i].to_ascii_uppercase();
                    RType::from_mnemonic(&up)
                        .filter(|_| !up.starts_with("TYPE"))
                        .ok_or((i + start, format!("invalid type {}", quote(&up))))
                };
                Kind::Type {
                    from: rtype(0)?,
                    to: rtype(1)?,
                }
            }
        }
        "edns0" => Kind::Edns0(edns0_rule(rest).map_err(at)?),
        "ttl" => ttl_rule(rest).map_err(at)?,
        "rcode" => rcode_rule(rest).map_err(at)?,
        "cname" => Kind::Cname(cname_rule(rest).map_err(at)?),
        _ => return Err((0, format!("invalid rule type {}", quote(first)))),
    };
    Ok(Rule { mode, kind })
}

/// The classes miekg/dns knows by name.
fn coredns_class(up: &str) -> Option<u16> {
    match up {
        "IN" | "CH" | "HS" | "NONE" | "ANY" => class_from_mnemonic(up),
        "CS" => Some(2),
        _ => None,
    }
}

/// A response code by number (0 to 23) or by miekg/dns name (upper-cased).
fn coredns_rcode(s: &str) -> Option<Rcode> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<u16>().ok().filter(|&n| n <= 23).map(Rcode);
    }
    Rcode::from_miekg_name(&s.to_ascii_uppercase())
}

/// Compiles a regex with CoreDNS's limits.
fn compile(pattern: &str, what: &str) -> std::result::Result<Regex, String> {
    if pattern.len() > MAX_REGEX_LEN {
        return Err(format!(
            "regex pattern too long{what}: {} > {MAX_REGEX_LEN}",
            pattern.len()
        ));
    }
    Regex::new(pattern).map_err(|_| String::new())
}

/// CoreDNS's `isValidRegexPattern(from, to)`: `from` compiles and `to` refers to no more
/// groups than `from` has.
fn valid_regex(from: &str, to: &str) -> std::result::Result<Regex, String> {
    let re = compile(from, "").map_err(|e| {
        if e.is_empty() {
            format!("invalid regex matching pattern: {from}")
        } else {
            e
        }
    })?;
    if group_references(to) > re.captures_len() - 1 {
        return Err(format!(
            "the rewrite regex pattern ({to}) uses more subexpressions than its corresponding matching regex pattern ({from})"
        ));
    }
    Ok(re)
}

fn name_rule(args: &[&str]) -> Result<NameRule> {
    if args.len() < 2 {
        return Err((0, "too few arguments for a name rule".into()));
    }
    let (match_type, from, to) = if args.len() == 2 {
        ("exact".to_string(), normalize(args[0]), normalize(args[1]))
    } else {
        let t = args[0].to_ascii_lowercase();
        if t == "regex" {
            (t, args[1].to_string(), args[2].to_string())
        } else {
            (t, normalize(args[1]), normalize(args[2]))
        }
    };
    let (auto, mut answers) = if args.len() > 3 {
        parse_answers(&match_type, &args[3..]).map_err(|(i, m)| (i + 3, m))?
    } else {
        (false, Vec::new())
    };
    let pattern_at = if args.len() == 2 { 0 } else { 1 };
    let rewrite = match match_type.as_str() {
        "exact" => {
            valid_regex(&to, &from).map_err(|m| (pattern_at + 1, m))?;
            NameRewrite::Exact {
                from_name: Name::parse(&from, None).ok(),
                to_name: Name::parse(&to, None).ok(),
                from,
                to,
            }
        }
        "prefix" => NameRewrite::Prefix { from, to },
        "suffix" => {
            if auto {
                // A suffix rule undoes itself by swapping the suffixes back.
                let back = || StringRewriter::Suffix {
                    suffix: to.clone(),
                    replacement: from.clone(),
                };
                answers.splice(
                    0..0,
                    [
                        (ResponseTarget::Name, back()),
                        (ResponseTarget::Value, back()),
                    ],
                );
            }
            NameRewrite::Suffix { from, to }
        }
        "substring" => NameRewrite::Substring { from, to },
        "regex" => {
            let pattern = valid_regex(&from, &to).map_err(|m| (1, m))?;
            NameRewrite::Regex {
                pattern,
                to: normalize(args[2]),
            }
        }
        other => {
            return Err((
                0,
                format!(
                    "name rule supports only exact, prefix, suffix, substring, and regex name matching, received: {other}"
                ),
            ))
        }
    };
    let auto = auto
        && !matches!(
            rewrite,
            NameRewrite::Suffix { .. } | NameRewrite::Exact { .. }
        );
    Ok(NameRule {
        rewrite,
        auto,
        answers,
    })
}

/// `answer auto`, `answer name FROM TO`, `answer value FROM TO`, the word `answer` optional
/// after the first.
fn parse_answers(
    name: &str,
    args: &[&str],
) -> Result<(bool, Vec<(ResponseTarget, StringRewriter)>)> {
    if args.len() < 2 {
        return Err((0, format!("invalid arguments for {name} rule")));
    }
    let mut auto = false;
    let mut rules = Vec::new();
    let mut name_rules = 0;
    let mut i = 0;
    let mut first = true;
    while i < args.len() {
        if first && args[i] != "answer" {
            return Err((
                i,
                format!("exceeded the number of arguments for a non-answer rule argument for {name} rule"),
            ));
        }
        first = false;
        if args[i] == "answer" {
            i += 1;
        }
        let Some(kind) = args.get(i) else {
            return Err((i, format!("type missing for answer rule for {name} rule")));
        };
        i += 1;
        let target = match *kind {
            "auto" => {
                auto = true;
                continue;
            }
            "name" => ResponseTarget::Name,
            "value" => ResponseTarget::Value,
            other => {
                return Err((
                    i - 1,
                    format!(
                        "invalid type {} for answer rule for {name} rule",
                        quote(other)
                    ),
                ))
            }
        };
        if args.len() - i < 2 {
            return Err((
                i - 1,
                format!("{kind} answer rule for {name} rule: 2 arguments required"),
            ));
        }
        let pattern = valid_regex(args[i], args[i + 1])
            .map_err(|m| (i, format!("{kind} answer rule for {name} rule: {m}")))?;
        rules.push((
            target,
            StringRewriter::Regex {
                pattern,
                replacement: normalize(args[i + 1]),
            },
        ));
        if target == ResponseTarget::Name {
            name_rules += 1;
        }
        i += 2;
    }
    if auto && name_rules > 0 {
        return Err((
            0,
            "auto name answer rule cannot be combined with explicit name anwer rules".into(),
        ));
    }
    Ok((auto, rules))
}

/// The name matching of `ttl` and `rcode` rules: `[TYPE] NAME`.
fn name_match(kind: &str, match_type: &str, name: &str, at: usize) -> Result<NameMatch> {
    Ok(match match_type.to_ascii_lowercase().as_str() {
        "exact" => NameMatch::Exact(normalize(name)),
        "prefix" => NameMatch::Prefix(normalize(name)),
        "suffix" => NameMatch::Suffix(normalize(name)),
        "substring" => NameMatch::Substring(normalize(name)),
        "regex" => NameMatch::Regex(compile(name, &format!(" in a {kind} rule")).map_err(
            |e| {
                if e.is_empty() {
                    (at + 1, format!("invalid regex pattern in a {kind} rule: {name}"))
                } else {
                    (at + 1, e)
                }
            },
        )?),
        _ => {
            return Err((
                at,
                format!(
                    "{kind} rule supports only exact, prefix, suffix, substring, and regex name matching"
                ),
            ))
        }
    })
}

/// A decimal number as Go's `strconv.ParseUint(s, 10, 32)` reads it.
fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `SECONDS`, `MIN-MAX`, `MIN-` or `-MAX`.
fn ttl_range(s: &str) -> Option<(u32, u32)> {
    let parts: Vec<&str> = s.split('-').collect();
    match parts.as_slice() {
        [one] => parse_u32(one).map(|v| (v, v)),
        [lo, hi] => {
            let min = if lo.is_empty() { 0 } else { parse_u32(lo)? };
            let max = if hi.is_empty() {
                if lo.is_empty() {
                    return None;
                }
                2_147_483_647
            } else {
                parse_u32(hi)?
            };
            (min <= max).then_some((min, max))
        }
        _ => None,
    }
}

fn ttl_rule(args: &[&str]) -> Result<Kind> {
    if args.len() < 2 {
        return Err((
            0,
            format!("too few ({}) arguments for a ttl rule", args.len()),
        ));
    }
    let value = match args.len() {
        2 => args[1],
        3 => args[2],
        _ => "",
    };
    let (min, max) = ttl_range(value).ok_or((
        args.len().min(3) - 1,
        format!("invalid TTL '{value}' for a ttl rule"),
    ))?;
    let on = if args.len() == 3 {
        name_match("ttl", args[0], args[1], 0)?
    } else {
        NameMatch::Exact(normalize(args[0]))
    };
    Ok(Kind::Ttl { on, min, max })
}

fn rcode_rule(args: &[&str]) -> Result<Kind> {
    if args.len() < 3 {
        return Err((
            0,
            format!("too few ({}) arguments for a rcode rule", args.len()),
        ));
    }
    let (old, new) = match args.len() {
        3 => (args[1], args[2]),
        4 => (args[2], args[3]),
        _ => ("", ""),
    };
    let last = args.len().min(4) - 1;
    let from = coredns_rcode(old).ok_or((
        last - 1,
        format!("invalid matching RCODE '{old}' for a rcode rule"),
    ))?;
    let to = coredns_rcode(new).ok_or((
        last,
        format!("invalid replacement RCODE '{new}' for a rcode rule"),
    ))?;
    let on = if args.len() == 4 {
        name_match("rcode", args[0], args[1], 0)?
    } else {
        NameMatch::Exact(normalize(args[0]))
    };
    Ok(Kind::Rcode { on, from, to })
}

/// `cname [TYPE] FROM TO`: names are lower-cased; only exact ones get a final dot.
fn cname_rule(args: &[&str]) -> Result<CnameRule> {
    let (kind, from, to) = match args {
        [kind, from, to] => (
            kind.to_ascii_lowercase(),
            from.to_ascii_lowercase(),
            to.to_ascii_lowercase(),
        ),
        [from, to] => (
            "exact".to_string(),
            from.to_ascii_lowercase(),
            to.to_ascii_lowercase(),
        ),
        _ => {
            return Err((
                0,
                format!("too few ({}) arguments for a cname rule", args.len()),
            ))
        }
    };
    Ok(match kind.as_str() {
        "exact" => CnameRule::Exact {
            from: normalize(&from),
            to: normalize(&to),
        },
        "prefix" => CnameRule::Prefix { from, to },
        "suffix" => CnameRule::Suffix { from, to },
        "substring" => CnameRule::Substring { from, to },
        "regex" => {
            let pattern = compile(&from, " in a cname rule").map_err(|e| {
                if e.is_empty() {
                    (1, format!("invalid cname rewrite regex pattern: {from}"))
                } else {
                    (1, e)
                }
            })?;
            CnameRule::Regex { pattern, to }
        }
        other => return Err((0, format!("unknown cname rewrite type: {other}"))),
    })
}

fn edns0_rule(args: &[&str]) -> Result<Edns0Rule> {
    if args.len() < 2 {
        return Err((0, "too few arguments for an EDNS0 rule".into()));
    }
    let rule_type = args[0].to_ascii_lowercase();
    let action = match args[1].to_ascii_lowercase().as_str() {
        "set" => Action::Set,
        "append" => Action::Append,
        "replace" => Action::Replace,
        "unset" => return edns0_unset(&rule_type, args),
        other => return Err((1, format!("invalid action: {}", quote(other)))),
    };
    let (args, revert) = match args.split_last() {
        Some((&"revert", rest)) => (rest, true),
        _ => (args, false),
    };
    match rule_type.as_str() {
        "local" => {
            if args.len() != 4 {
                return Err((
                    args.len().saturating_sub(1),
                    "EDNS0 local rules require three or four args".into(),
                ));
            }
            let code = parse_uint(args[2], 0, 16).map_err(|e| (2, e))? as u16;
            let text = args[3];
            let data = if text.starts_with('{') && text.ends_with('}') {
                match Variable::from_text(text) {
                    Some(v) => LocalData::Variable(v),
                    None if is_metadata_label(&text[1..text.len() - 1]) => {
                        LocalData::Metadata(text[1..text.len() - 1].to_string())
                    }
                    None => return Err((3, format!("unsupported variable name {}", quote(text)))),
                }
            } else if let Some(hex) = text.strip_prefix("0x") {
                LocalData::Fixed(decode_hex(hex).map_err(|e| (3, e))?)
            } else {
                LocalData::Fixed(text.as_bytes().to_vec())
            };
            Ok(Edns0Rule::Local {
                action,
                code,
                data,
                revert,
            })
        }
        "nsid" => {
            if args.len() != 2 {
                return Err((2, "EDNS0 NSID rules can accept no more than one arg".into()));
            }
            Ok(Edns0Rule::Nsid { action, revert })
        }
        "subnet" => {
            if args.len() != 4 {
                return Err((
                    args.len().saturating_sub(1),
                    "EDNS0 subnet rules require three or four args".into(),
                ));
            }
            let (v4_bits, v6_bits) = subnet_bits(args[2], args[3])?;
            Ok(Edns0Rule::Subnet {
                action,
                v4_bits,
                v6_bits,
                revert,
            })
        }
        _ => Err((0, format!("invalid rule type {}", quote(&rule_type)))),
    }
}

fn subnet_bits(v4: &str, v6: &str) -> Result<(u8, u8)> {
    let v4_bits = parse_uint(v4, 0, 16).map_err(|e| (2, e))?;
    if v4_bits > 32 {
        return Err((2, format!("invalid IPv4 bit mask length {v4_bits}")));
    }
    let v6_bits = parse_uint(v6, 0, 16).map_err(|e| (3, e))?;
    if v6_bits > 128 {
        return Err((3, format!("invalid IPv6 bit mask length {v6_bits}")));
    }
    Ok((v4_bits as u8, v6_bits as u8))
}

fn edns0_unset(rule_type: &str, args: &[&str]) -> Result<Edns0Rule> {
    let action = Action::Unset;
    match rule_type {
        "local" => {
            if args.len() != 3 {
                return Err((
                    args.len() - 1,
                    "local unset action requires exactly two arguments".into(),
                ));
            }
            let code = parse_uint(args[2], 0, 16).map_err(|e| (2, e))? as u16;
            Ok(Edns0Rule::Local {
                action,
                code,
                data: LocalData::Fixed(Vec::new()),
                revert: false,
            })
        }
        "nsid" => {
            if args.len() != 2 {
                return Err((2, "nsid unset action requires exactly one argument".into()));
            }
            Ok(Edns0Rule::Nsid {
                action,
                revert: false,
            })
        }
        "subnet" => {
            if args.len() != 2 {
                return Err((
                    2,
                    "subnet unset action requires exactly one argument".into(),
                ));
            }
            Ok(Edns0Rule::Subnet {
                action,
                v4_bits: 0,
                v6_bits: 0,
                revert: false,
            })
        }
        _ => Err((0, format!("invalid rule type {}", quote(rule_type)))),
    }
}

/// A metadata label as CoreDNS accepts one: `plugin/name`, exactly one slash, inside.
fn is_metadata_label(label: &str) -> bool {
    match label.find('/') {
        Some(p) => p > 0 && p < label.len() - 1 && label.rfind('/') == Some(p),
        None => false,
    }
}

/// Go's `hex.DecodeString`, with its error texts.
fn decode_hex(s: &str) -> std::result::Result<Vec<u8>, String> {
    let digit = |c: u8| -> std::result::Result<u8, String> {
        (c as char)
            .to_digit(16)
            .map(|d| d as u8)
            .ok_or_else(|| format!("encoding/hex: invalid byte: U+{:04X} {:?}", c, c as char))
    };
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 2);
    for pair in bytes.chunks(2) {
        match pair {
            [hi, lo] => out.push(digit(*hi)? << 4 | digit(*lo)?),
            [one] => {
                digit(*one)?;
                return Err("encoding/hex: odd length hex string".into());
            }
            _ => {}
        }
    }
    Ok(out)
}

/// For tests: the rule of one `rewrite` line's words.
#[cfg(test)]
pub fn rule(words: &str) -> std::result::Result<Rule, String> {
    let w: Vec<&str> = words.split_whitespace().collect();
    new_rule(&w).map_err(|(_, m)| m)
}
