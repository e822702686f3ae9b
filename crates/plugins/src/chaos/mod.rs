//! `chaos`: answers the CH-class TXT queries operators use to ask a server who it is.
//!
//! `version.bind.`, `version.server.`, `authors.bind.`, `hostname.bind.` and `id.server.` are
//! the conventional names (from BIND); everything else, and every query that is not CH TXT,
//! goes on down the chain. All answers are built at setup, so a query only clones reference
//! counted record data into the pooled reply. The author list is shuffled per query with a
//! small lock-free generator, as CoreDNS shuffles it.

mod names;
mod setup;
#[cfg(test)]
mod tests;

pub use setup::setup;

use cairn_core::wire::{RData, RType, Record, CLASS_CH};
use cairn_core::{Next, Plugin, Request, Served};

use cairn_core::random::Random;
use names::Query;

/// The `chaos` handler.
pub struct Chaos {
    /// TXT data for `version.bind.` and `version.server.`.
    version: RData,
    /// One TXT data per author, for `authors.bind.`.
    authors: Vec<RData>,
    /// TXT data for `hostname.bind.` and `id.server.`.
    hostname: RData,
    random: Random,
}

impl Chaos {
    /// A handler answering with these strings (each at most 255 bytes; see `setup`).
    pub fn new(version: &[u8], authors: &[Vec<u8>], hostname: &[u8]) -> Chaos {
        Chaos {
            version: RData::txt(&[version]),
            authors: authors.iter().map(|a| RData::txt(&[a])).collect(),
            hostname: RData::txt(&[hostname]),
            random: Random::new(),
        }
    }
}

impl Plugin for Chaos {
    fn name(&self) -> &'static str {
        "chaos"
    }

    fn serve<'a>(&'a self, mut req: Box<Request>, next: Next<'a>) -> Served<'a> {
        if req.qclass() != CLASS_CH || req.qtype() != RType::TXT {
            return next.run(req);
        }
        let Some(query) = Query::of(req.qname_lower.wire()) else {
            return next.run(req);
        };
        let mut m = req.reply();
        let owner = req.qname();
        let record = |data: &RData| Record {
            name: owner.clone(),
            rtype: RType::TXT,
            class: CLASS_CH,
            ttl: 0,
            data: data.clone(),
        };
        match query {
            Query::Version => m.answer.push(record(&self.version)),
            Query::Hostname => m.answer.push(record(&self.hostname)),
            Query::Authors => {
                m.answer.extend(self.authors.iter().map(record));
                self.random.stream().shuffle(&mut m.answer);
            }
        }
        Served::reply(req, m)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
