//! The request as the rules rewrite it, and putting it in place for the rest of the chain.
//!
//! Rules edit a [`Draft`]: the question and, when an `edns0` rule runs, the OPT record. When
//! the rules changed anything, the draft is written out as a new query message (so plugins
//! that reuse the query bytes, such as a forwarder, send the rewritten query) and parsed into
//! the request. The original bytes and parsed fields are kept and put back when the chain
//! returns, so plugins before *rewrite* (log, prometheus) and the reply's question section
//! see the query as the client sent it.
//!
//! The message buffers come from a small per-thread pool, so a rewritten query costs no
//! allocation once the pool is warm.

use std::cell::RefCell;

use cairn_core::wire::message::HEADER_LEN;
use cairn_core::wire::{NameBuf, QueryInfo, RType};
use cairn_core::Request;

use super::text::TextBuf;

/// UDP size of an OPT record a rule has to create (CoreDNS's choice).
const CREATED_OPT_SIZE: u16 = 4096;

/// At most this many spare buffers are kept per thread.
const POOL_MAX: usize = 8;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer, from the pool when one is there.
fn take_buffer() -> Vec<u8> {
    POOL.with(|p| p.borrow_mut().pop())
        .map(|mut b| {
            b.clear();
            b
        })
        .unwrap_or_else(|| Vec::with_capacity(512))
}

/// Hands a buffer back to this thread's pool.
fn give_buffer(b: Vec<u8>) {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_MAX {
            p.push(b);
        }
    });
}

/// The OPT record being edited.
pub struct OptDraft {
    pub udp_size: u16,
    /// Extended rcode, version and flags, as in the TTL field.
    pub ttl: u32,
    /// Options, wire form: (code, length, data)*.
    pub options: Vec<u8>,
}

impl OptDraft {
    /// The options as (start of the option, code, data range).
    pub fn iter(&self) -> impl Iterator<Item = (usize, u16, std::ops::Range<usize>)> + '_ {
        let raw = &self.options;
        let mut at = 0;
        std::iter::from_fn(move || {
            if at + 4 > raw.len() {
                return None;
            }
            let code = u16::from_be_bytes([raw[at], raw[at + 1]]);
            let len = usize::from(u16::from_be_bytes([raw[at + 2], raw[at + 3]]));
            let start = at;
            let data = at + 4..(at + 4 + len).min(raw.len());
            at = data.end;
            Some((start, code, data))
        })
    }

    /// The first option with `code`: where it starts and its data.
    pub fn find(&self, code: u16) -> Option<(usize, std::ops::Range<usize>)> {
        self.iter()
            .find(|(_, c, _)| *c == code)
            .map(|(start, _, data)| (start, data))
    }

    /// Replaces the data of the option starting at `start`.
    pub fn set_data(&mut self, start: usize, data: &[u8]) {
        let len = usize::from(u16::from_be_bytes([
            self.options[start + 2],
            self.options[start + 3],
        ]));
        let end = (start + 4 + len).min(self.options.len());
        self.options[start + 2..start + 4].copy_from_slice(&(data.len() as u16).to_be_bytes());
        self.options.splice(start + 4..end, data.iter().copied());
    }

    /// Adds an option at the end.
    pub fn append(&mut self, code: u16, data: &[u8]) {
        self.options.extend_from_slice(&code.to_be_bytes());
        self.options
            .extend_from_slice(&(data.len() as u16).to_be_bytes());
        self.options.extend_from_slice(data);
    }

    /// Removes every option with `code`.
    pub fn remove_all(&mut self, code: u16) {
        loop {
            let found = self.find(code);
            let Some((start, data)) = found else { return };
            self.options.drain(start..data.end);
        }
    }
}

/// The request's question and OPT record as the rules rewrite them.
pub struct Draft {
    /// The question name, original case.
    pub qname: NameBuf,
    pub qtype: RType,
    pub qclass: u16,
    /// `None` until an `edns0` rule touches the OPT record.
    pub opt: Option<OptDraft>,
    /// Something differs from the query as received.
    pub dirty: bool,
}

impl Draft {
    pub fn new(req: &Request) -> Draft {
        Draft {
            qname: req.info.qname.clone(),
            qtype: req.info.qtype,
            qclass: req.info.qclass,
            opt: None,
            dirty: false,
        }
    }

    /// The question name as rules match it: presentation form, lower case.
    pub fn name_text(&self) -> TextBuf {
        TextBuf::of_wire(self.qname.wire(), true)
    }

    pub fn set_name(&mut self, name: &cairn_core::wire::Name) {
        self.qname.set_wire(name.wire());
        self.dirty = true;
    }

    /// The OPT record, loaded from the query or created (4096 bytes, no flags) as CoreDNS
    /// does before any EDNS0 rewrite.
    pub fn opt(&mut self, req: &Request) -> &mut OptDraft {
        self.dirty = true;
        self.opt.get_or_insert_with(|| {
            let mut options = take_buffer();
            match req.info.edns {
                Some(e) => {
                    let start = e.options_start as usize;
                    let end = start + usize::from(e.options_len);
                    options.extend_from_slice(req.raw.get(start..end).unwrap_or(&[]));
                    // TTL sits 6 bytes before the option data (TTL, RDLENGTH).
                    let ttl = start
                        .checked_sub(6)
                        .and_then(|at| req.raw.get(at..at + 4))
                        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                    OptDraft {
                        udp_size: e.udp_size,
                        ttl,
                        options,
                    }
                }
                None => OptDraft {
                    udp_size: CREATED_OPT_SIZE,
                    ttl: 0,
                    options,
                },
            }
        })
    }

    /// Puts the draft in place: a new query message parsed into `req`. Returns what is
    /// needed to give the request its original form back.
    pub fn install(mut self, req: &mut Request) -> Saved {
        let saved_info = req.info.clone();
        let saved_lower = req.qname_lower.clone();
        let mut out = take_buffer();
        self.write(req, &mut out);
        if let Some(opt) = self.opt.take() {
            give_buffer(opt.options);
        }
        let original = std::mem::replace(&mut req.raw, out);
        if req.parse().is_err() {
            // Only a query whose later records point into the old question could end up
            // here; serve the rewritten question without touching the bytes.
            let rewritten = std::mem::replace(&mut req.raw, original);
            give_buffer(rewritten);
            req.info = saved_info.clone();
            req.set_qname(self.qname.wire());
            req.info.qtype = self.qtype;
            req.info.qclass = self.qclass;
            return Saved {
                raw: None,
                info: saved_info,
                lower: saved_lower,
            };
        }
        Saved {
            raw: Some(original),
            info: saved_info,
            lower: saved_lower,
        }
    }

    /// Writes the rewritten query: header, new question, the records that followed the
    /// question, with the OPT record replaced (or added).
    fn write(&self, req: &Request, out: &mut Vec<u8>) {
        let raw = &req.raw;
        let qend = req.info.question.end.min(raw.len());
        out.extend_from_slice(&raw[..HEADER_LEN.min(raw.len())]);
        out.extend_from_slice(self.qname.wire());
        out.extend_from_slice(&self.qtype.0.to_be_bytes());
        out.extend_from_slice(&self.qclass.to_be_bytes());
        let Some(opt) = &self.opt else {
            out.extend_from_slice(&raw[qend..]);
            return;
        };
        match req
            .info
            .edns
            .and_then(|e| opt_record_span(raw, e.options_start as usize, e.options_len))
        {
            Some((start, end)) => {
                out.extend_from_slice(&raw[qend..start]);
                write_opt(opt, out);
                out.extend_from_slice(&raw[end..]);
            }
            None => {
                out.extend_from_slice(&raw[qend..]);
                write_opt(opt, out);
                let ar = u16::from_be_bytes([out[10], out[11]]).wrapping_add(1);
                out[10..12].copy_from_slice(&ar.to_be_bytes());
            }
        }
    }
}

/// The byte span of the OPT record whose option data starts at `options_start`: its owner is
/// the root, written as one zero byte or as a compression pointer.
fn opt_record_span(raw: &[u8], options_start: usize, options_len: u16) -> Option<(usize, usize)> {
    let end = options_start + usize::from(options_len);
    let fixed = options_start.checked_sub(10)?; // TYPE, CLASS, TTL, RDLENGTH
    if raw.get(fixed..fixed + 2)? != [0, 41] {
        return None;
    }
    if fixed >= 1 && raw[fixed - 1] == 0 {
        return Some((fixed - 1, end));
    }
    if fixed >= 2 && raw[fixed - 2] & 0xC0 == 0xC0 {
        return Some((fixed - 2, end));
    }
    None
}

fn write_opt(opt: &OptDraft, out: &mut Vec<u8>) {
    out.push(0);
    out.extend_from_slice(&41u16.to_be_bytes());
    out.extend_from_slice(&opt.udp_size.to_be_bytes());
    out.extend_from_slice(&opt.ttl.to_be_bytes());
    out.extend_from_slice(&(opt.options.len() as u16).to_be_bytes());
    out.extend_from_slice(&opt.options);
}

/// The request's original form, put back by [`Saved::restore`].
pub struct Saved {
    /// The original bytes (`None` when they were never replaced).
    raw: Option<Vec<u8>>,
    info: QueryInfo,
    lower: NameBuf,
}

impl Saved {
    pub fn restore(self, req: &mut Request) {
        if let Some(raw) = self.raw {
            give_buffer(std::mem::replace(&mut req.raw, raw));
        }
        req.info = self.info;
        req.qname_lower = self.lower;
    }
}
