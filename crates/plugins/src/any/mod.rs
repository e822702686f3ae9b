//! `any`: answers every qtype ANY with a short HINFO record, as RFC 8482 recommends.
//!
//! ANY queries are expensive to answer completely and are a favourite of amplification
//! attacks; RFC 8482 lets a server reply with one small synthesised record instead. The record
//! data never changes, so it is built once at setup and only its reference count moves per
//! query.

mod setup;
#[cfg(test)]
mod tests;

pub use setup::setup;

use cairn_core::wire::{RData, RType, Record, CLASS_IN};
use cairn_core::{Next, Plugin, Request, Served};

/// TTL of the synthesised record (the RFC number, as CoreDNS and others use).
const HINFO_TTL: u32 = 8482;

/// The `any` handler.
pub struct Any {
    /// HINFO RDATA: the character-strings "ANY obsoleted" and "See RFC 8482".
    hinfo: RData,
}

impl Any {
    /// A handler with its record data built.
    pub fn new() -> Any {
        Any {
            hinfo: RData::txt(&["ANY obsoleted", "See RFC 8482"]),
        }
    }
}

impl Default for Any {
    fn default() -> Self {
        Any::new()
    }
}

impl Plugin for Any {
    fn name(&self) -> &'static str {
        "any"
    }

    fn serve<'a>(&'a self, mut req: Box<Request>, next: Next<'a>) -> Served<'a> {
        if req.qtype() != RType::ANY {
            return next.run(req);
        }
        let mut m = req.reply();
        m.answer.push(Record {
            name: req.qname(),
            rtype: RType::HINFO,
            class: CLASS_IN,
            ttl: HINFO_TTL,
            data: self.hinfo.clone(),
        });
        Served::reply(req, m)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
