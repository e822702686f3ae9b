//! Whole DNS messages: the header, a strict query parser for the hot path, a full parser for
//! replies that come back from upstreams, and the [`Message`] value plugins build answers in.

use std::ops::Range;

use super::name::{read_name, NameBuf};
use super::rdata::{RData, Record};
use super::types::{RType, Rcode};
use super::WireError;

/// Size of the fixed DNS header.
pub const HEADER_LEN: usize = 12;

/// Header flags other than the opcode and the response code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    pub qr: bool,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub ad: bool,
    pub cd: bool,
}

impl Flags {
    /// Reads the flag bits of the second header word.
    pub fn from_word(word: u16) -> Flags {
        Flags {
            qr: word & 0x8000 != 0,
            aa: word & 0x0400 != 0,
            tc: word & 0x0200 != 0,
            rd: word & 0x0100 != 0,
            ra: word & 0x0080 != 0,
            ad: word & 0x0020 != 0,
            cd: word & 0x0010 != 0,
        }
    }

    /// The flag bits as they sit in the second header word.
    pub fn to_word(self) -> u16 {
        (u16::from(self.qr) << 15)
            | (u16::from(self.aa) << 10)
            | (u16::from(self.tc) << 9)
            | (u16::from(self.rd) << 8)
            | (u16::from(self.ra) << 7)
            | (u16::from(self.ad) << 5)
            | (u16::from(self.cd) << 4)
    }

    /// The flags as `dig` and CoreDNS's log print them: `qr,aa,rd`.
    pub fn write_list(self, out: &mut impl std::fmt::Write) -> std::fmt::Result {
        let mut first = true;
        for (on, name) in [
            (self.qr, "qr"),
            (self.aa, "aa"),
            (self.tc, "tc"),
            (self.rd, "rd"),
            (self.ra, "ra"),
            (self.ad, "ad"),
            (self.cd, "cd"),
        ] {
            if on {
                if !first {
                    out.write_char(',')?;
                }
                out.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// EDNS(0) information from an OPT record (RFC 6891).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Edns {
    /// Requestor's UDP payload size (as sent, not clamped).
    pub udp_size: u16,
    /// Upper 8 bits of the extended response code.
    pub ext_rcode: u8,
    pub version: u8,
    /// DNSSEC OK.
    pub dnssec_ok: bool,
    /// Raw option bytes (code, length, data)*.
    pub options: Vec<u8>,
}

impl Edns {
    /// Iterates over (code, data) of the options.
    pub fn options(&self) -> EdnsOptions<'_> {
        EdnsOptions { raw: &self.options }
    }
}

/// Iterator over EDNS options.
pub struct EdnsOptions<'a> {
    raw: &'a [u8],
}

impl<'a> Iterator for EdnsOptions<'a> {
    type Item = (u16, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        if self.raw.len() < 4 {
            return None;
        }
        let code = u16::from_be_bytes([self.raw[0], self.raw[1]]);
        let len = u16::from_be_bytes([self.raw[2], self.raw[3]]) as usize;
        let data = self.raw.get(4..4 + len)?;
        self.raw = &self.raw[4 + len..];
        Some((code, data))
    }
}

/// What the hot path needs from a query, parsed once at the socket.
#[derive(Debug, Clone, Default)]
pub struct QueryInfo {
    pub id: u16,
    pub opcode: u8,
    pub flags: Flags,
    /// Question name as received (original case).
    pub qname: NameBuf,
    pub qtype: RType,
    pub qclass: u16,
    /// OPT data if present.
    pub edns: Option<QueryEdns>,
    /// Byte range of the question section in the raw query.
    pub question: Range<usize>,
}

/// EDNS fields of a query, without copying its options (they stay in the raw query).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryEdns {
    pub udp_size: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    /// Byte range of the option data in the raw query.
    pub options_start: u32,
    pub options_len: u16,
}

/// Why a query could not be served as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryError {
    /// Too short to carry a header, or a response: no reply is possible or wanted.
    Drop(&'static str),
    /// Malformed after a readable header: answer FORMERR with this id and flags.
    FormErr {
        id: u16,
        opcode: u8,
        rd: bool,
        reason: &'static str,
    },
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_be_bytes([s[0], s[1]]))
}

/// Walks one resource record starting at `pos` and returns (type, rdata range, next pos),
/// validating the owner name and lengths.
fn skip_record(
    msg: &[u8],
    pos: usize,
    scratch: &mut NameBuf,
) -> Result<(RType, u16, u32, Range<usize>, usize), &'static str> {
    let after = read_name(msg, pos, scratch).map_err(|_| "bad owner name")?;
    let rtype = be16(msg, after).ok_or("truncated record")?;
    let class = be16(msg, after + 2).ok_or("truncated record")?;
    let ttl = msg
        .get(after + 4..after + 8)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or("truncated record")?;
    let rdlen = be16(msg, after + 8).ok_or("truncated record")? as usize;
    let start = after + 10;
    let end = start + rdlen;
    if end > msg.len() {
        return Err("rdata runs past the message");
    }
    Ok((RType(rtype), class, ttl, start..end, end))
}

/// Parses a query strictly: exactly one question, well-formed records in every section, at
/// most one OPT (owned by the root), no bytes after the last record. Allocation-free.
pub fn parse_query(msg: &[u8], out: &mut QueryInfo) -> Result<(), QueryError> {
    if msg.len() < HEADER_LEN {
        return Err(QueryError::Drop("shorter than a header"));
    }
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let word = u16::from_be_bytes([msg[2], msg[3]]);
    let flags = Flags::from_word(word);
    let opcode = ((word >> 11) & 0xF) as u8;
    if flags.qr {
        return Err(QueryError::Drop("message is a response"));
    }
    let form = |reason| QueryError::FormErr {
        id,
        opcode,
        rd: flags.rd,
        reason,
    };
    let qd = be16(msg, 4).unwrap_or(0);
    let an = be16(msg, 6).unwrap_or(0);
    let ns = be16(msg, 8).unwrap_or(0);
    let ar = be16(msg, 10).unwrap_or(0);
    if qd != 1 {
        return Err(form("question count is not 1"));
    }
    let pos = read_name(msg, HEADER_LEN, &mut out.qname).map_err(|_| form("bad question name"))?;
    let qtype = be16(msg, pos).ok_or(form("truncated question"))?;
    let qclass = be16(msg, pos + 2).ok_or(form("truncated question"))?;
    let mut pos = pos + 4;
    out.id = id;
    out.opcode = opcode;
    out.flags = flags;
    out.qtype = RType(qtype);
    out.qclass = qclass;
    out.question = HEADER_LEN..pos;
    out.edns = None;
    let mut scratch = NameBuf::new();
    for _ in 0..(u32::from(an) + u32::from(ns)) {
        let (rtype, _, _, _, next) = skip_record(msg, pos, &mut scratch).map_err(form)?;
        if rtype == RType::OPT {
            return Err(form("OPT outside the additional section"));
        }
        pos = next;
    }
    for _ in 0..ar {
        let (rtype, class, ttl, rdata, next) = skip_record(msg, pos, &mut scratch).map_err(form)?;
        if rtype == RType::OPT {
            if out.edns.is_some() {
                return Err(form("more than one OPT record"));
            }
            if scratch.wire() != [0] {
                return Err(form("OPT owner is not the root"));
            }
            // Options must tile the RDATA exactly.
            let mut i = rdata.start;
            while i < rdata.end {
                let len = be16(msg, i + 2).ok_or(form("truncated EDNS option"))? as usize;
                i += 4 + len;
            }
            if i != rdata.end {
                return Err(form("EDNS option runs past the OPT record"));
            }
            out.edns = Some(QueryEdns {
                udp_size: class,
                version: (ttl >> 16) as u8,
                dnssec_ok: ttl & 0x8000 != 0,
                options_start: rdata.start as u32,
                options_len: (rdata.end - rdata.start) as u16,
            });
        }
        pos = next;
    }
    if pos != msg.len() {
        return Err(form("bytes after the last record"));
    }
    Ok(())
}

/// One question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: super::name::Name,
    pub qtype: RType,
    pub qclass: u16,
}

/// A whole message as a value: what plugins build and what upstream replies parse into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    pub id: u16,
    pub opcode: u8,
    pub flags: Flags,
    /// Full (extended) response code; the upper bits travel in the OPT record.
    pub rcode: Rcode,
    pub question: Option<Question>,
    pub answer: Vec<Record>,
    pub authority: Vec<Record>,
    /// Additional records other than OPT.
    pub additional: Vec<Record>,
    pub edns: Option<Edns>,
}

impl Message {
    /// Parses a whole message (any direction). The question, if any, must be single.
    pub fn parse(msg: &[u8]) -> Result<Message, WireError> {
        if msg.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let word = u16::from_be_bytes([msg[2], msg[3]]);
        let mut m = Message {
            id: u16::from_be_bytes([msg[0], msg[1]]),
            opcode: ((word >> 11) & 0xF) as u8,
            flags: Flags::from_word(word),
            rcode: Rcode(word & 0xF),
            ..Message::default()
        };
        let qd = be16(msg, 4).unwrap_or(0);
        let counts = [
            be16(msg, 6).unwrap_or(0),
            be16(msg, 8).unwrap_or(0),
            be16(msg, 10).unwrap_or(0),
        ];
        let mut pos = HEADER_LEN;
        let mut name = NameBuf::new();
        if qd > 1 {
            return Err(WireError::BadQuestionCount);
        }
        if qd == 1 {
            pos = read_name(msg, pos, &mut name)?;
            let qtype = be16(msg, pos).ok_or(WireError::Truncated)?;
            let qclass = be16(msg, pos + 2).ok_or(WireError::Truncated)?;
            pos += 4;
            m.question = Some(Question {
                name: name.to_name(),
                qtype: RType(qtype),
                qclass,
            });
        }
        for (section, count) in counts.iter().enumerate() {
            for _ in 0..*count {
                let (rtype, class, ttl, rdata, next) =
                    skip_record(msg, pos, &mut name).map_err(|_| WireError::Truncated)?;
                if rtype == RType::OPT {
                    if section != 2 || m.edns.is_some() || name.wire() != [0] {
                        return Err(WireError::BadOpt);
                    }
                    m.edns = Some(Edns {
                        udp_size: class,
                        ext_rcode: (ttl >> 24) as u8,
                        version: (ttl >> 16) as u8,
                        dnssec_ok: ttl & 0x8000 != 0,
                        options: msg[rdata.clone()].to_vec(),
                    });
                    m.rcode = Rcode(m.rcode.0 | (u16::from((ttl >> 24) as u8) << 4));
                } else {
                    let data = RData::read(msg, rdata.start, rdata.len(), rtype)?;
                    let record = Record {
                        name: name.to_name(),
                        rtype,
                        class,
                        ttl,
                        data,
                    };
                    match section {
                        0 => m.answer.push(record),
                        1 => m.authority.push(record),
                        _ => m.additional.push(record),
                    }
                }
                pos = next;
            }
        }
        if pos != msg.len() {
            return Err(WireError::TrailingBytes);
        }
        Ok(m)
    }

    /// Empties every section and resets the header, keeping the allocated capacity.
    pub fn clear(&mut self) {
        self.id = 0;
        self.opcode = 0;
        self.flags = Flags::default();
        self.rcode = Rcode::NOERROR;
        self.question = None;
        self.answer.clear();
        self.authority.clear();
        self.additional.clear();
        self.edns = None;
    }
}
