//! Parses `template CLASS TYPE [ZONE...] { match; answer; additional; authority; rcode;
//! ederror; fallthrough }`, compiling regexes and templates once.
//!
//! CLASS, TYPE and `rcode` values are case-sensitive upper-case mnemonics, as CoreDNS reads
//! them. `var` and `expr` (expr-lang conditions, added to CoreDNS after 1.14.7) are refused.

use std::sync::Arc;

use cairn_core::wire::types::{CLASS_ANY, CLASS_CH, CLASS_HS, CLASS_IN, CLASS_NONE};
use cairn_core::wire::{Name, RType, Rcode};
use cairn_core::zones::Fallthrough;
use cairn_core::{SetupCtx, SetupError};
use regex::Regex;

use super::gotemplate::Template;
use super::metrics::Metrics;
use super::{parse_rr, Entry, Rr, Section, TemplateHandler};

/// Longest regex pattern accepted (CoreDNS's limit against huge compilations).
const MAX_REGEX_LEN: usize = 10000;

/// miekg/dns's class names (`dns.StringToClass`), case-sensitive.
fn class_by_name(s: &str) -> Option<u16> {
    Some(match s {
        "IN" => CLASS_IN,
        "CS" => 2,
        "CH" => CLASS_CH,
        "HS" => CLASS_HS,
        "NONE" => CLASS_NONE,
        "ANY" => CLASS_ANY,
        _ => return None,
    })
}

/// miekg/dns's type names (`dns.StringToType`), case-sensitive.
fn type_by_name(s: &str) -> Option<RType> {
    if s.starts_with("TYPE") || s.to_ascii_uppercase() != s {
        return None;
    }
    RType::from_mnemonic(s)
}

/// miekg/dns's response code names (`dns.StringToRcode`), case-sensitive.
fn rcode_by_name(s: &str) -> Option<Rcode> {
    Rcode::from_miekg_name(s)
}

/// Sets up `template`: one handler for every `template` line of the block.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    let mut all_zones: Vec<Name> = Vec::new();
    let mut zone_labels: Vec<String> = Vec::new();
    let mut entries = Vec::new();
    let match_all = Regex::new(".*").expect("constant regex");
    for d in ctx.directives {
        let Some(class_tok) = d.args.first() else {
            return Err(d.arg_count_error());
        };
        let qclass = class_by_name(&class_tok.text)
            .ok_or_else(|| class_tok.error(format!("invalid query class {}", class_tok.text)))?;
        let Some(type_tok) = d.args.get(1) else {
            return Err(d.arg_count_error());
        };
        let qtype = type_by_name(&type_tok.text)
            .ok_or_else(|| type_tok.error(format!("invalid RR class {}", type_tok.text)))?;
        let zones = ctx.zones_or_block(&d.args[2..])?;
        let mut zone_ids = Vec::with_capacity(zones.len());
        for z in &zones {
            let label = z.to_string();
            let id = match zone_labels.iter().position(|l| *l == label) {
                Some(i) => i,
                None => {
                    zone_labels.push(label);
                    zone_labels.len() - 1
                }
            };
            zone_ids.push(id);
            if !all_zones.iter().any(|x| x.eq_ignore_case(z)) {
                all_zones.push(z.clone());
            }
        }
        let mut entry = Entry {
            zones,
            zone_ids,
            qclass,
            qtype,
            regexes: Vec::new(),
            answer: Vec::new(),
            additional: Vec::new(),
            authority: Vec::new(),
            rcode: Rcode::NOERROR,
            ederror: None,
            fall: Fallthrough::none(),
            dynamic: false,
        };
        for opt in &d.block {
            if opt.has_block {
                return Err(opt.unknown_property());
            }
            let word = opt.name.text.as_str();
            match word {
                "match" => {
                    if opt.args.is_empty() {
                        return Err(opt.arg_count_error());
                    }
                    for t in &opt.args {
                        if t.text.len() > MAX_REGEX_LEN {
                            return Err(t.error(format!(
                                "regex pattern too long: {} > {MAX_REGEX_LEN}",
                                t.text.len()
                            )));
                        }
                        let re = Regex::new(&t.text).map_err(|e| {
                            t.error(format!("could not parse regex: {}, {e}", t.text))
                        })?;
                        entry.regexes.push(re);
                    }
                }
                "answer" | "additional" | "authority" => {
                    if opt.args.is_empty() {
                        return Err(opt.arg_count_error());
                    }
                    let name: &'static str = match word {
                        "answer" => "answer",
                        "additional" => "additional",
                        _ => "authority",
                    };
                    for t in &opt.args {
                        let tmpl = Template::parse(name, &t.text).map_err(|e| {
                            t.error(format!("could not compile template: {}, {}", t.text, e.0))
                        })?;
                        let label = tmpl.tree_string();
                        let rr = if tmpl.is_static() {
                            match parse_rr(&tmpl.static_text()) {
                                Ok(r) => Rr::Static(r),
                                Err(e) => {
                                    cairn_core::warning!(
                                        "template",
                                        "{}:{}: {name} {:?} is no valid record ({e}); queries it answers will fail",
                                        t.file,
                                        t.line,
                                        t.text
                                    );
                                    Rr::Broken(e)
                                }
                            }
                        } else {
                            entry.dynamic = true;
                            Rr::Dynamic(tmpl)
                        };
                        let section = Section { rr, label };
                        match name {
                            "answer" => entry.answer.push(section),
                            "additional" => entry.additional.push(section),
                            _ => entry.authority.push(section),
                        }
                    }
                }
                "rcode" => {
                    let [t] = opt.args.as_slice() else {
                        return Err(opt.arg_count_error());
                    };
                    entry.rcode = rcode_by_name(&t.text)
                        .ok_or_else(|| t.error(format!("unknown rcode {}", t.text)))?;
                }
                "ederror" => {
                    let (code, reason) = match opt.args.as_slice() {
                        [c] => (c, None),
                        [c, r] => (c, Some(r.text.clone())),
                        _ => return Err(opt.arg_count_error()),
                    };
                    let value = Some(code.text.as_str())
                        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|s| s.parse::<u16>().ok())
                        .ok_or_else(|| {
                            code.error(format!(
                                "error parsing extended DNS error code {}: not a number from 0 to 65535",
                                code.text
                            ))
                        })?;
                    entry.ederror = Some((value, reason.unwrap_or_default()));
                }
                "fallthrough" => entry.fall = Fallthrough::parse(&opt.args)?,
                // Accepted and ignored, as in CoreDNS ("remove soon").
                "upstream" => {}
                "var" | "expr" => {
                    return Err(opt.error(format!(
                        "'{word}' (expr-lang expressions, added to CoreDNS after 1.14.7) is not supported by Cairn"
                    )))
                }
                _ => return Err(opt.unknown_property()),
            }
        }
        if entry.regexes.is_empty() {
            entry.regexes.push(match_all.clone());
        }
        entries.push(entry);
    }
    ctx.add_plugin(Arc::new(TemplateHandler {
        zones: all_zones,
        zone_labels,
        entries,
        metrics: Metrics::new(),
    }));
    Ok(())
}
