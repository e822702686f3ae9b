//! `whoami`: tells the client what address and port its query came from.
//!
//! The reply has an empty answer section and, in the additional section, an A or AAAA record
//! with the client's address and an SRV record `_<proto>.<qname>` carrying its port. It is the
//! quickest way to check that a server answers, so the example Corefile uses it.

mod setup;
#[cfg(test)]
mod tests;

pub use setup::setup;

use std::net::IpAddr;

use cairn_core::wire::{RData, Record};
use cairn_core::{Next, Plugin, Request, Served};

/// The `whoami` handler. It has no configuration.
pub struct Whoami;

impl Plugin for Whoami {
    fn name(&self) -> &'static str {
        "whoami"
    }

    fn serve<'a>(&'a self, mut req: Box<Request>, _next: Next<'a>) -> Served<'a> {
        let mut m = req.reply();
        m.flags.aa = true;
        let owner = req.qname();
        let addr = match req.client.ip() {
            IpAddr::V4(ip) => RData::A(ip),
            IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
                Some(v4) => RData::A(v4),
                None => RData::Aaaa(ip),
            },
        };
        m.additional.push(Record::new(owner.clone(), 0, addr));
        let label: &[u8] = match req.proto {
            cairn_core::Proto::Udp => b"_udp",
            cairn_core::Proto::Tcp => b"_tcp",
        };
        if let Ok(srv_owner) = owner.prepend_label(label) {
            m.additional.push(Record::new(
                srv_owner,
                0,
                RData::Srv {
                    priority: 0,
                    weight: 0,
                    port: req.client.port(),
                    target: cairn_core::wire::Name::root(),
                },
            ));
        }
        Served::reply(req, m)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
