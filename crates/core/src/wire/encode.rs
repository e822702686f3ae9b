//! Writing messages: name compression, the OPT record, and truncation to the client's limit.
//!
//! The encoder writes into a caller-owned buffer that the server reuses across queries, and
//! keeps its compression table on the stack, so encoding an answer allocates nothing.

use super::message::{Message, HEADER_LEN};
use super::name::MAX_NAME_LEN;
use super::rdata::{RData, Record};
use super::types::RType;

/// How many name positions the compression table remembers.
const MAX_POINTERS: usize = 96;

/// The question to write at the top of the message.
#[derive(Clone, Copy)]
pub struct QuestionRef<'a> {
    /// Uncompressed wire name, written as given (so the query's case is kept).
    pub name: &'a [u8],
    pub qtype: RType,
    pub qclass: u16,
}

/// The OPT record to append.
#[derive(Clone, Copy)]
pub struct OptRef<'a> {
    pub udp_size: u16,
    pub dnssec_ok: bool,
    /// Raw option bytes (code, length, data)*.
    pub options: &'a [u8],
}

/// What happened while encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoded {
    /// Records were left out to fit the limit.
    pub truncated: bool,
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
    base: usize,
    ptrs: [u16; MAX_POINTERS],
    nptrs: usize,
}

impl Writer<'_> {
    fn len(&self) -> usize {
        self.out.len() - self.base
    }

    fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    /// Does the (possibly compressed) name written at message offset `at` equal `suffix`,
    /// byte for byte? Letter case counts: a pointer to a differently cased suffix would give
    /// the name being written (say, the owner of an additional record) the case of an earlier
    /// name, where CoreDNS's encoder keeps every name as it was built.
    fn equals_at(&self, mut at: usize, suffix: &[u8]) -> bool {
        let msg = &self.out[self.base..];
        let mut s = 0;
        let mut hops = 0;
        loop {
            let Some(&len) = msg.get(at) else {
                return false;
            };
            if len & 0xC0 == 0xC0 {
                let Some(&low) = msg.get(at + 1) else {
                    return false;
                };
                at = (usize::from(len & 0x3F) << 8) | usize::from(low);
                hops += 1;
                if hops > 128 {
                    return false;
                }
                continue;
            }
            let len = len as usize;
            let Some(&slen) = suffix.get(s) else {
                return false;
            };
            if slen as usize != len {
                return false;
            }
            if len == 0 {
                return true;
            }
            let (Some(a), Some(b)) = (
                msg.get(at + 1..at + 1 + len),
                suffix.get(s + 1..s + 1 + len),
            ) else {
                return false;
            };
            if a != b {
                return false;
            }
            at += 1 + len;
            s += 1 + len;
        }
    }

    /// Writes a name, compressing against earlier names when `compress` is set, and
    /// remembers where its labels start so later names can point at them.
    fn name(&mut self, wire: &[u8], compress: bool) {
        let mut offset = 0;
        while wire.get(offset).is_some_and(|&l| l != 0) {
            let suffix = &wire[offset..];
            if compress {
                let found = self.ptrs[..self.nptrs]
                    .iter()
                    .copied()
                    .find(|&p| self.equals_at(p as usize, suffix));
                if let Some(p) = found {
                    self.out.extend_from_slice(&wire[..offset]);
                    self.remember_labels(&wire[..offset]);
                    self.u16(0xC000 | p);
                    return;
                }
            }
            offset += 1 + wire[offset] as usize;
        }
        self.remember_labels(wire);
        self.out.extend_from_slice(wire);
    }

    /// Records the label positions of `prefix`, which is about to be written at the end.
    fn remember_labels(&mut self, prefix: &[u8]) {
        let start = self.len();
        let mut offset = 0;
        while let Some(&l) = prefix.get(offset) {
            if l == 0 {
                break;
            }
            let at = start + offset;
            if at < 0x3FFF && self.nptrs < MAX_POINTERS {
                self.ptrs[self.nptrs] = at as u16;
                self.nptrs += 1;
            }
            offset += 1 + l as usize;
        }
    }

    fn record(&mut self, r: &Record) {
        self.name(r.name.wire(), true);
        let rtype = if r.rtype.0 == 0 {
            r.data.natural_type()
        } else {
            r.rtype
        };
        self.u16(rtype.0);
        self.u16(r.class);
        self.u32(r.ttl);
        let len_at = self.out.len();
        self.u16(0);
        let compress = r.data.compressible();
        match &r.data {
            RData::A(ip) => self.out.extend_from_slice(&ip.octets()),
            RData::Aaaa(ip) => self.out.extend_from_slice(&ip.octets()),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) | RData::Dname(n) => {
                self.name(n.wire(), compress);
            }
            RData::Mx {
                preference,
                exchange,
            } => {
                self.u16(*preference);
                self.name(exchange.wire(), compress);
            }
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                self.u16(*priority);
                self.u16(*weight);
                self.u16(*port);
                self.name(target.wire(), false);
            }
            RData::Soa(s) => {
                self.name(s.mname.wire(), compress);
                self.name(s.rname.wire(), compress);
                for v in [s.serial, s.refresh, s.retry, s.expire, s.minimum] {
                    self.u32(v);
                }
            }
            RData::Txt(raw) | RData::Opaque(raw) => self.out.extend_from_slice(raw),
        }
        let rdlen = (self.out.len() - len_at - 2) as u16;
        self.out[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
    }
}

/// Size of an OPT record with these options.
pub fn opt_len(opt: &OptRef<'_>) -> usize {
    11 + opt.options.len()
}

/// Encodes `msg` at the end of `out`, leaving out records that would make the message longer
/// than `limit` bytes. TC is set when answer or authority records had to go (RFC 2181 9);
/// dropping additional records alone does not set it. `question` overrides `msg.question`.
pub fn encode(
    msg: &Message,
    question: Option<QuestionRef<'_>>,
    opt: Option<OptRef<'_>>,
    limit: usize,
    out: &mut Vec<u8>,
) -> Encoded {
    let base = out.len();
    let mut w = Writer {
        out,
        base,
        ptrs: [0; MAX_POINTERS],
        nptrs: 0,
    };
    let word = msg.flags.to_word() | (u16::from(msg.opcode & 0xF) << 11) | (msg.rcode.0 & 0xF);
    w.u16(msg.id);
    w.u16(word);
    w.out.extend_from_slice(&[0; 8]);
    let q = question.or_else(|| {
        msg.question.as_ref().map(|q| QuestionRef {
            name: q.name.wire(),
            qtype: q.qtype,
            qclass: q.qclass,
        })
    });
    let mut qd = 0u16;
    if let Some(q) = q {
        w.name(q.name, true);
        w.u16(q.qtype.0);
        w.u16(q.qclass);
        qd = 1;
    }
    let reserve = opt.as_ref().map_or(0, opt_len);
    let limit = limit.max(HEADER_LEN + MAX_NAME_LEN + 4 + reserve);
    let mut counts = [0u16; 3];
    let mut truncated = false;
    let mut stopped = false;
    for (i, section) in [&msg.answer, &msg.authority, &msg.additional]
        .into_iter()
        .enumerate()
    {
        for r in section {
            if stopped {
                break;
            }
            let mark = w.out.len();
            let mark_ptrs = w.nptrs;
            w.record(r);
            if w.len() + reserve > limit {
                w.out.truncate(mark);
                w.nptrs = mark_ptrs;
                stopped = true;
                if i < 2 {
                    truncated = true;
                }
                break;
            }
            counts[i] += 1;
        }
    }
    let mut ar = counts[2];
    if let Some(opt) = opt {
        w.out.push(0);
        w.u16(RType::OPT.0);
        w.u16(opt.udp_size);
        let ext = u32::from((msg.rcode.0 >> 4) as u8) << 24;
        w.u32(ext | if opt.dnssec_ok { 0x8000 } else { 0 });
        w.u16(opt.options.len() as u16);
        w.out.extend_from_slice(opt.options);
        ar += 1;
    }
    let h = &mut w.out[base..];
    if truncated {
        h[2] |= 0x02;
    }
    h[4..6].copy_from_slice(&qd.to_be_bytes());
    h[6..8].copy_from_slice(&counts[0].to_be_bytes());
    h[8..10].copy_from_slice(&counts[1].to_be_bytes());
    h[10..12].copy_from_slice(&ar.to_be_bytes());
    Encoded { truncated }
}

/// The largest DNS message a transfer frame carries (RFC 5936 leaves the size to the server;
/// like CoreDNS we stay well under the 64 KiB TCP limit).
pub const TRANSFER_FRAME_LIMIT: usize = 63_000;

/// Writes `msg`'s answer section as a zone-transfer stream: a sequence of TCP frames (two
/// length bytes, then a message), each message with `msg`'s header and the question, and as
/// many answer records as fit in `frame_limit` bytes (at least one). Each message compresses
/// names on its own. Returns how many messages were written.
pub fn encode_transfer(
    msg: &Message,
    question: Option<QuestionRef<'_>>,
    frame_limit: usize,
    out: &mut Vec<u8>,
) -> usize {
    let mut frames = 0;
    let mut next = 0;
    let records = &msg.answer;
    loop {
        let frame_start = out.len();
        out.extend_from_slice(&[0, 0]);
        let base = out.len();
        let mut w = Writer {
            out,
            base,
            ptrs: [0; MAX_POINTERS],
            nptrs: 0,
        };
        let word = msg.flags.to_word() | (u16::from(msg.opcode & 0xF) << 11) | (msg.rcode.0 & 0xF);
        w.u16(msg.id);
        w.u16(word);
        w.out.extend_from_slice(&[0; 8]);
        let mut qd = 0u16;
        if let Some(q) = question {
            w.name(q.name, true);
            w.u16(q.qtype.0);
            w.u16(q.qclass);
            qd = 1;
        }
        let mut count = 0u16;
        while let Some(r) = records.get(next) {
            let mark = w.out.len();
            let mark_ptrs = w.nptrs;
            w.record(r);
            if count > 0 && (w.len() > frame_limit || count == u16::MAX) {
                w.out.truncate(mark);
                w.nptrs = mark_ptrs;
                break;
            }
            count += 1;
            next += 1;
        }
        let len = w.len();
        let h = &mut out[base..];
        h[4..6].copy_from_slice(&qd.to_be_bytes());
        h[6..8].copy_from_slice(&count.to_be_bytes());
        let framed = u16::try_from(len).unwrap_or(u16::MAX);
        out[frame_start..frame_start + 2].copy_from_slice(&framed.to_be_bytes());
        frames += 1;
        if next >= records.len() {
            return frames;
        }
    }
}
