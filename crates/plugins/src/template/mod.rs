//! `template`: answers queries from Go-style templates chosen by class, type, zone and regex.
//!
//! Templates are parsed at setup into a compiled form ([`gotemplate`]); a section without
//! template actions is parsed into its record once, so such answers cost a clone. Records
//! whose text depends on the query are rendered and parsed as zone-file lines per query.
//! A CNAME answer to an A or AAAA query is followed through the server (the whole chain),
//! as CoreDNS's upstream lookup does.

mod gotemplate;
mod metrics;
mod setup;
#[cfg(test)]
mod tests;

pub use setup::setup;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use cairn_core::resolve::answer_of;
use cairn_core::wire::types::{CLASS_ANY, CLASS_CH, CLASS_HS, CLASS_IN, CLASS_NONE};
use cairn_core::wire::{Edns, Message, Name, RData, RType, Rcode, Record};
use cairn_core::zones::{longest_match, Fallthrough};
use cairn_core::{Next, Plugin, PluginError, Request, Served};
use regex::Regex;

use crate::file::ZoneParser;
use crate::rewrite::text::TextBuf;
use gotemplate::{Data, MessageFacts, Template};
use metrics::Metrics;

/// EDNS0 option code of Extended DNS Errors (RFC 8914).
const EDE: u16 = 15;

/// One `answer`, `additional` or `authority` line.
pub struct Section {
    rr: Rr,
    /// The template as Go prints it: the `template` label of the failure metrics.
    label: String,
}

enum Rr {
    /// No actions: the record, parsed once.
    Static(Record),
    /// No actions, but the text is no record: every query that reaches it fails.
    Broken(String),
    Dynamic(Template),
}

/// One `template` directive.
pub struct Entry {
    zones: Vec<Name>,
    /// Index of each zone's label in [`TemplateHandler::zone_labels`].
    zone_ids: Vec<usize>,
    qclass: u16,
    qtype: RType,
    regexes: Vec<Regex>,
    answer: Vec<Section>,
    additional: Vec<Section>,
    authority: Vec<Section>,
    rcode: Rcode,
    ederror: Option<(u16, String)>,
    fall: Fallthrough,
    /// Some section needs the match data (groups, names).
    dynamic: bool,
}

/// The `template` handler of a server block: every `template` line, in order.
pub struct TemplateHandler {
    /// Union of the templates' zones.
    zones: Vec<Name>,
    zone_labels: Vec<String>,
    entries: Vec<Entry>,
    metrics: Metrics,
}

/// miekg/dns's name of a class (`""` when it has none).
fn class_label(c: u16) -> &'static str {
    match c {
        CLASS_IN => "IN",
        2 => "CS",
        CLASS_CH => "CH",
        CLASS_HS => "HS",
        CLASS_NONE => "NONE",
        CLASS_ANY => "ANY",
        _ => "",
    }
}

/// Parses the text a template produced as one zone-file record (origin the root, TTL 3600
/// when none is given, as CoreDNS's `dns.NewRR`).
fn parse_rr(text: &str) -> Result<Record, String> {
    let mut src = Vec::with_capacity(text.len() + 12);
    src.extend_from_slice(b"$TTL 3600\n");
    src.extend_from_slice(text.as_bytes());
    src.push(b'\n');
    let mut p = ZoneParser::new(src, Name::root(), Path::new("template")).without_include();
    match p.next_record() {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(format!("dns: no resource record in {text:?}")),
        Err(e) => Err(format!("dns: {} in {text:?}", e.message)),
    }
}

/// What a query and its regex match give the templates.
struct MatchData {
    name: String,
    regex: String,
    matches: Vec<String>,
    groups: BTreeMap<String, String>,
    remote: String,
    question_name: String,
}

impl Entry {
    /// The zone of this template the name is in, if any.
    fn zone_of<'e>(&'e self, qname: &[u8]) -> Option<(usize, &'e Name)> {
        let z = longest_match(&self.zones, qname)?;
        let i = self.zones.iter().position(|x| std::ptr::eq(x, z))?;
        Some((self.zone_ids[i], z))
    }
}

impl TemplateHandler {
    /// Renders and parses one section; counts failures.
    #[allow(clippy::too_many_arguments)]
    fn render(
        &self,
        section: &Section,
        name: &'static str,
        data: Option<&Data<'_>>,
        server: &str,
        zone: &str,
        class: &str,
        rtype: &str,
    ) -> Result<Record, PluginError> {
        let labels = [server, zone, "", class, rtype, name, section.label.as_str()];
        match &section.rr {
            Rr::Static(r) => Ok(r.clone()),
            Rr::Broken(e) => {
                self.metrics.rr_failure(&labels);
                Err(PluginError::failed("template", e.clone()))
            }
            Rr::Dynamic(t) => {
                let Some(data) = data else {
                    return Err(PluginError::failed("template", "no match data"));
                };
                // No metadata plugin in Cairn: `.Meta` is always empty, as in CoreDNS
                // without metadata.
                let text = t.execute(data, &|_| String::new()).map_err(|e| {
                    self.metrics.template_failure(&labels);
                    PluginError::failed("template", e.0)
                })?;
                parse_rr(&text).map_err(|e| {
                    self.metrics.rr_failure(&labels);
                    PluginError::failed("template", e)
                })
            }
        }
    }

    fn answer<'a>(&'a self, mut req: Box<Request>, next: Next<'a>) -> Served<'a> {
        let qname = req.qname_lower.wire();
        if longest_match(&self.zones, qname).is_none() {
            return next.run(req);
        }
        // `qname_lower` is lower case already.
        let text = TextBuf::of_wire(qname, false);
        let name = text.as_str();
        let (qclass, qtype) = (req.qclass(), req.qtype());
        for entry in &self.entries {
            let Some((zone_id, _)) = entry.zone_of(qname) else {
                continue;
            };
            if entry.qclass != CLASS_ANY && qclass != CLASS_ANY && qclass != entry.qclass {
                continue;
            }
            if entry.qtype != RType::ANY && qtype != RType::ANY && qtype != entry.qtype {
                continue;
            }
            let Some(regex) = entry.regexes.iter().find(|r| r.is_match(name)) else {
                if entry.fall.through(qname) {
                    continue;
                }
                let m = req.reply_rcode(Rcode::SERVFAIL);
                return Served::reply(req, m);
            };
            let class = if qclass != CLASS_ANY {
                qclass
            } else {
                entry.qclass
            };
            let rtype = if qtype != RType::ANY {
                qtype
            } else {
                entry.qtype
            };
            let class_text = class_label(class);
            let type_text = rtype.mnemonic().unwrap_or("");
            let zone_text = self.zone_labels[zone_id].as_str();
            self.metrics
                .matched(&req.server.label, (zone_id, class, rtype.0), || {
                    [
                        zone_text.to_string(),
                        class_text.to_string(),
                        type_text.to_string(),
                    ]
                });
            if entry.rcode == Rcode::SERVFAIL {
                let m = req.reply_rcode(Rcode::SERVFAIL);
                return Served::reply(req, m);
            }
            let matched = entry.dynamic.then(|| self.match_data(&req, name, regex));
            let data = matched.as_ref().map(|d| Data {
                zone: zone_text,
                name: &d.name,
                regex: &d.regex,
                matches: &d.matches,
                groups: &d.groups,
                class: class_text,
                rtype: type_text,
                remote: &d.remote,
                question: (&d.question_name, req.info.qtype.0, req.info.qclass),
                message: MessageFacts {
                    id: req.info.id,
                    opcode: req.info.opcode,
                    recursion_desired: req.info.flags.rd,
                    checking_disabled: req.info.flags.cd,
                    authenticated_data: req.info.flags.ad,
                },
            });
            let mut m = req.reply();
            m.flags.aa = true;
            m.rcode = entry.rcode;
            let server_label = &req.server.label;
            let build = |m: &mut Message| -> Result<(), PluginError> {
                for (sections, which, out) in [
                    (&entry.answer, "answer", &mut m.answer),
                    (&entry.additional, "additional", &mut m.additional),
                    (&entry.authority, "authority", &mut m.authority),
                ] {
                    for s in sections {
                        out.push(self.render(
                            s,
                            which,
                            data.as_ref(),
                            server_label,
                            zone_text,
                            class_text,
                            type_text,
                        )?);
                    }
                }
                Ok(())
            };
            if let Err(e) = build(&mut m) {
                req.recycle(m);
                return Served::error(req, e);
            }
            if let Some((code, reason)) = &entry.ederror {
                let mut opt = Vec::with_capacity(6 + reason.len());
                opt.extend_from_slice(&EDE.to_be_bytes());
                opt.extend_from_slice(&((2 + reason.len()) as u16).to_be_bytes());
                opt.extend_from_slice(&code.to_be_bytes());
                opt.extend_from_slice(reason.as_bytes());
                m.edns = Some(Edns {
                    udp_size: 4096,
                    options: opt,
                    ..Edns::default()
                });
            }
            let follow = matches!(qtype, RType::A | RType::AAAA)
                && m.answer.iter().any(|r| r.rtype == RType::CNAME);
            if !follow {
                return Served::reply(req, m);
            }
            return Served::Pending(Box::pin(follow_cnames(req, m, qtype)));
        }
        next.run(req)
    }

    fn match_data(&self, req: &Request, name: &str, regex: &Regex) -> MatchData {
        let mut matches = Vec::new();
        let mut groups = BTreeMap::new();
        if let Some(caps) = regex.captures(name) {
            for (i, m) in caps.iter().enumerate() {
                let text = m.map_or("", |m| m.as_str()).to_string();
                groups.insert(i.to_string(), text.clone());
                matches.push(text);
            }
            for (i, group) in regex.capture_names().enumerate() {
                if let Some(g) = group {
                    groups.insert(g.to_string(), matches[i].clone());
                }
            }
        }
        let remote = match req.client.ip() {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map_or_else(|| v6.to_string(), |v4| v4.to_string()),
            ip => ip.to_string(),
        };
        MatchData {
            name: name.to_string(),
            regex: regex.as_str().to_string(),
            matches,
            groups,
            remote,
            question_name: req.info.qname.to_string(),
        }
    }
}

/// Appends, after each CNAME of the answer, what the server answers for its target (same
/// type); the reply is truncated if such an answer was.
async fn follow_cnames(
    req: Box<Request>,
    mut m: Message,
    qtype: RType,
) -> (Box<Request>, Result<Message, PluginError>) {
    let answers = std::mem::take(&mut m.answer);
    for r in answers {
        let target = match (&r.data, r.rtype) {
            (RData::Cname(t), RType::CNAME) => Some(t.clone()),
            _ => None,
        };
        m.answer.push(r);
        let Some(target) = target else { continue };
        let Ok(fut) = req.lookup_through_server(&target, qtype) else {
            continue;
        };
        if let Ok(up) = answer_of(fut).await {
            m.flags.tc = up.flags.tc;
            m.answer.extend(up.answer);
        }
    }
    (req, Ok(m))
}

impl Plugin for TemplateHandler {
    fn name(&self) -> &'static str {
        "template"
    }

    fn serve<'a>(&'a self, req: Box<Request>, next: Next<'a>) -> Served<'a> {
        self.answer(req, next)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
