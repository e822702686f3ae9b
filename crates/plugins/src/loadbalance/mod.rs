//! `loadbalance`: reorders the records of successful replies so that clients taking the first
//! address spread over all of them (round-robin DNS).
//!
//! The plugin sits before `cache` in the chain, so even a cached reply comes out in a new
//! order every time. It works on the reply after the rest of the chain built it, in place:
//! the reply's vectors belong to this query, so reordering them costs neither a copy nor an
//! allocation. Zone transfers and replies other than NOERROR are left untouched.

mod order;
mod setup;
#[cfg(test)]
mod tests;
mod weights;

pub use setup::setup;

use std::sync::Arc;

use cairn_core::arc_swap::ArcSwap;
use cairn_core::wire::{Message, RType, Rcode};
use cairn_core::{Next, Plugin, Request, Served};

use cairn_core::random::Random;
use order::Subnet;
use weights::Weights;

/// How the addresses of a reply are reordered.
pub enum Policy {
    /// Uniform shuffle of addresses and of MX records (the default).
    RoundRobin,
    /// One address, picked by the weights of the weight file, moved to the front.
    Weighted(Arc<ArcSwap<Weights>>),
}

/// The `loadbalance` handler.
pub struct LoadBalance {
    policy: Policy,
    /// `prefer` networks, applied after the policy (round-robin only).
    prefer: Vec<Subnet>,
    random: Random,
}

impl LoadBalance {
    pub fn new(policy: Policy, prefer: Vec<Subnet>, random: Random) -> LoadBalance {
        LoadBalance {
            policy,
            prefer,
            random,
        }
    }

    /// Reorders a reply to a query of type `qtype`.
    fn reorder(&self, qtype: RType, m: &mut Message) {
        if m.rcode != Rcode::NOERROR || qtype == RType::AXFR || qtype == RType::IXFR {
            return;
        }
        let mut rng = self.random.stream();
        match &self.policy {
            Policy::RoundRobin => {
                order::round_robin(&mut m.answer, &mut rng);
                order::round_robin(&mut m.authority, &mut rng);
                order::round_robin(&mut m.additional, &mut rng);
            }
            Policy::Weighted(table) => {
                if matches!(qtype, RType::A | RType::AAAA | RType::SRV) {
                    let weights = table.load();
                    order::weighted(&mut m.answer, &weights, |n| rng.below(n));
                    order::weighted(&mut m.additional, &weights, |n| rng.below(n));
                }
            }
        }
        if !self.prefer.is_empty() {
            order::prefer(&mut m.answer, &self.prefer);
            order::prefer(&mut m.additional, &self.prefer);
        }
    }
}

impl Plugin for LoadBalance {
    fn name(&self) -> &'static str {
        "loadbalance"
    }

    fn serve<'a>(&'a self, req: Box<Request>, next: Next<'a>) -> Served<'a> {
        next.run(req).map(move |req, mut result| {
            if let Ok(m) = &mut result {
                self.reorder(req.qtype(), m);
            }
            result
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
