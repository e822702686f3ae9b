//! `bufsize`: lowers the EDNS UDP payload size a client advertises to a configured limit.
//!
//! Large UDP replies get fragmented, and fragments get lost or forged; capping the size (1232
//! by default, the DNS Flag Day 2020 value) makes the server truncate early and makes clients
//! retry over TCP instead. The limit is applied to the parsed request before the rest of the
//! chain runs, so it governs both our own truncation and what a forwarder advertises upstream.
//! Queries without EDNS are left alone.

mod setup;
#[cfg(test)]
mod tests;

pub use setup::setup;

use cairn_core::{Next, Plugin, Request, Served};

/// Offset back from the start of the OPT RDATA to its CLASS field (the UDP size): RDLENGTH (2)
/// + TTL (4) + CLASS (2).
const CLASS_BEFORE_RDATA: usize = 8;

/// The `bufsize` handler.
pub struct Bufsize {
    /// Largest UDP payload size passed on (512..=4096).
    pub size: u16,
}

impl Plugin for Bufsize {
    fn name(&self) -> &'static str {
        "bufsize"
    }

    fn serve<'a>(&'a self, mut req: Box<Request>, next: Next<'a>) -> Served<'a> {
        if let Some(edns) = req.info.edns.as_mut() {
            if edns.udp_size > self.size {
                let old = edns.udp_size;
                edns.udp_size = self.size;
                let at = (edns.options_start as usize).checked_sub(CLASS_BEFORE_RDATA);
                lower_in_raw(&mut req.raw, at, old, self.size);
            }
        }
        next.run(req)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Writes the new size into the OPT record of the raw query too, so code that reuses the
/// query bytes (forwarding, dnstap) sees the same limit. Touches nothing unless the bytes at
/// `at` hold the old size.
fn lower_in_raw(raw: &mut [u8], at: Option<usize>, old: u16, new: u16) {
    let Some(field) = at.and_then(|at| raw.get_mut(at..at + 2)) else {
        return;
    };
    if field == old.to_be_bytes() {
        field.copy_from_slice(&new.to_be_bytes());
    }
}
