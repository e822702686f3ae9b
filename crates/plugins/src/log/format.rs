//! Log formats: parsed once at setup into a list of parts, written per logged reply.
//!
//! The parse follows CoreDNS's replacer exactly, because operators' formats must print the same
//! bytes: a placeholder is the text between a `}` and the nearest `{` before it; a known
//! label (`{type}`, `{>id}`, ...) becomes a value, `{/name}` a metadata value (`-` when
//! unset), and anything else in braces stays literal text.

use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::time::Duration;

use cairn_core::wire::types::class_name;
use cairn_core::wire::{Flags, Rcode};
use cairn_core::Request;

use super::classify::{Class, ReplyType};

/// `{common}`: CoreDNS's Common Log Format.
pub const COMMON: &str = "{remote}:{port} - {>id} \"{type} {class} {name} {proto} {size} {>do} {>bufsize}\" {rcode} {>rflags} {rsize} {duration}";
/// `{combined}`: the common format and the query opcode.
pub const COMBINED: &str = "{remote}:{port} - {>id} \"{type} {class} {name} {proto} {size} {>do} {>bufsize}\" {rcode} {>rflags} {rsize} {duration} \"{>opcode}\"";

/// What a placeholder prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Type,
    Name,
    Class,
    Proto,
    Size,
    Remote,
    Port,
    Local,
    Id,
    Opcode,
    Do,
    Bufsize,
    Rcode,
    Rsize,
    Duration,
    Rflags,
}

impl Label {
    fn from_placeholder(p: &str) -> Option<Label> {
        Some(match p {
            "{type}" => Label::Type,
            "{name}" => Label::Name,
            "{class}" => Label::Class,
            "{proto}" => Label::Proto,
            "{size}" => Label::Size,
            "{remote}" => Label::Remote,
            "{port}" => Label::Port,
            "{local}" => Label::Local,
            "{>id}" => Label::Id,
            "{>opcode}" => Label::Opcode,
            "{>do}" => Label::Do,
            "{>bufsize}" => Label::Bufsize,
            "{rcode}" => Label::Rcode,
            "{rsize}" => Label::Rsize,
            "{duration}" => Label::Duration,
            "{>rflags}" => Label::Rflags,
            _ => return None,
        })
    }
}

/// A metadata placeholder `{/name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meta {
    /// `log/class`: success, denial or error.
    LogClass,
    /// `log/type`: NOERROR, NXDOMAIN, NODATA, ...
    LogType,
    /// Published by a plugin Cairn does not have: always `-`.
    Other(String),
}

/// One piece of a format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(String),
    Label(Label),
    Meta(Meta),
}

/// A parsed format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    parts: Vec<Part>,
}

impl Format {
    /// Expands `{common}` and `{combined}` (plain text substitution, as CoreDNS does) and
    /// parses the result.
    pub fn from_corefile(text: &str) -> Format {
        Format::parse(
            &text
                .replace("{common}", COMMON)
                .replace("{combined}", COMBINED),
        )
    }

    /// Parses a format without shortcut expansion.
    pub fn parse(mut s: &str) -> Format {
        let mut parts: Vec<Part> = Vec::new();
        while let Some(j) = s.find('}') {
            let Some(i) = s[..j].rfind('{') else {
                push_literal(&mut parts, &s[..=j]);
                s = &s[j + 1..];
                continue;
            };
            let placeholder = &s[i..=j];
            let part = Label::from_placeholder(placeholder)
                .map(Part::Label)
                .or_else(|| {
                    let name = placeholder.strip_prefix("{/")?.strip_suffix('}')?;
                    Some(Part::Meta(match name {
                        "log/class" => Meta::LogClass,
                        "log/type" => Meta::LogType,
                        other => Meta::Other(other.to_string()),
                    }))
                });
            match part {
                Some(p) => {
                    push_literal(&mut parts, &s[..i]);
                    parts.push(p);
                }
                None => push_literal(&mut parts, &s[..=j]),
            }
            s = &s[j + 1..];
        }
        push_literal(&mut parts, s);
        Format { parts }
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }
}

/// Appends literal text, merging it with a literal before it.
fn push_literal(parts: &mut Vec<Part>, text: &str) {
    if text.is_empty() {
        return;
    }
    if let Some(Part::Literal(prev)) = parts.last_mut() {
        prev.push_str(text);
    } else {
        parts.push(Part::Literal(text.to_string()));
    }
}

/// What the chain answered, as the log sees it.
pub struct Outcome {
    /// `None` when no reply is sent at all (`acl drop`): printed as `-`.
    pub rcode: Option<Rcode>,
    pub flags: Option<Flags>,
    /// Uncompressed size of the reply, see [`super::reply_len`].
    pub rsize: usize,
    pub reply_type: ReplyType,
    pub class: Class,
    pub duration: Duration,
}

/// Everything one line is written from.
pub struct Line<'a> {
    pub format: &'a Format,
    pub req: &'a Request,
    pub outcome: &'a Outcome,
    /// Whether `log/...` metadata is published (only with the `metadata` plugin, as CoreDNS).
    pub metadata: bool,
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let req = self.req;
        let o = self.outcome;
        for part in self.format.parts() {
            match part {
                Part::Literal(t) => f.write_str(t)?,
                Part::Meta(m) => match (m, self.metadata) {
                    (Meta::LogClass, true) => f.write_str(o.class.as_str())?,
                    (Meta::LogType, true) => f.write_str(o.reply_type.as_str())?,
                    _ => f.write_char('-')?,
                },
                Part::Label(l) => match l {
                    Label::Type => write!(f, "{}", req.qtype())?,
                    Label::Name => write!(f, "{}", req.qname_lower)?,
                    Label::Class => write!(f, "{}", class_name(req.qclass()))?,
                    Label::Proto => f.write_str(req.proto.as_str())?,
                    Label::Size => write!(f, "{}", req.raw.len())?,
                    Label::Remote => write_addr(f, req.client.ip())?,
                    Label::Port => write!(f, "{}", req.client.port())?,
                    Label::Local => write_addr(f, req.local.ip())?,
                    Label::Id => write!(f, "{}", req.info.id)?,
                    Label::Opcode => write!(f, "{}", req.info.opcode)?,
                    Label::Do => write!(f, "{}", req.dnssec_ok())?,
                    Label::Bufsize => write!(f, "{}", req.max_reply_size())?,
                    Label::Rcode => match o.rcode {
                        None => f.write_char('-')?,
                        Some(r) if r.name().is_empty() => write!(f, "{}", r.0)?,
                        Some(r) => f.write_str(r.name())?,
                    },
                    Label::Rsize => write!(f, "{}", o.rsize)?,
                    // Seconds in the shortest form that reads back exactly, without exponent:
                    // the same digits Go's strconv.FormatFloat(s, 'f', -1, 64) prints.
                    Label::Duration => write!(f, "{}s", o.duration.as_secs_f64())?,
                    Label::Rflags => match o.flags {
                        None => f.write_char('-')?,
                        Some(flags) => flags.write_list(f)?,
                    },
                },
            }
        }
        Ok(())
    }
}

/// An address as in a URL: IPv6 in brackets; IPv4-mapped IPv6 printed as IPv4 (as Go does).
fn write_addr(f: &mut fmt::Formatter<'_>, ip: IpAddr) -> fmt::Result {
    match ip {
        IpAddr::V4(v4) => write!(f, "{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => write!(f, "{v4}"),
            None => write!(f, "[{v6}]"),
        },
    }
}
