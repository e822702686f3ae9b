//! `minimal`: strips the authority and additional sections from plain positive replies.
//!
//! Smaller replies fit more often in one UDP packet and cost less to send. Only replies that
//! CoreDNS's response classification calls NOERROR are trimmed; delegations, negative replies
//! (NXDOMAIN, NODATA) and errors keep every section, because their authority records are the
//! point of the reply. The check reads the reply once on the way back; clearing the sections
//! keeps the vectors' capacity for the next query.

mod response;
mod setup;
#[cfg(test)]
mod tests;

pub use setup::setup;

use cairn_core::{Next, Plugin, Request, Served};

/// The `minimal` handler. It has no configuration.
pub struct Minimal;

impl Plugin for Minimal {
    fn name(&self) -> &'static str {
        "minimal"
    }

    fn serve<'a>(&'a self, req: Box<Request>, next: Next<'a>) -> Served<'a> {
        next.run(req).map(|req, result| {
            let mut m = result?;
            if response::is_plain_answer(&m, req.qtype(), req.dnssec_ok()) {
                m.authority.clear();
                m.additional.clear();
            }
            Ok(m)
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
