//! The `coredns_template_*` metrics, with CoreDNS's names, help texts and labels.
//!
//! Matches are counted on every answered query, so their series handles are kept in a map
//! read through an `ArcSwap` (no lock, no label formatting once a label combination was seen);
//! the failure counters only move when a template is broken and are looked up by label.

use std::collections::HashMap;
use std::sync::Arc;

use cairn_core::arc_swap::ArcSwap;
use cairn_core::metrics::{registry, Counter, Family};

/// Labels of a match: zone index, class and type (the values shown as labels).
pub type MatchKey = (usize, u16, u16);

type ByServer = HashMap<String, HashMap<MatchKey, Counter>>;

pub struct Metrics {
    matches: Arc<Family<Counter>>,
    template_failures: Arc<Family<Counter>>,
    rr_failures: Arc<Family<Counter>>,
    seen: ArcSwap<ByServer>,
}

const LABELS: &[&str] = &["server", "zone", "view", "class", "type"];
const FAILURE_LABELS: &[&str] = &[
    "server", "zone", "view", "class", "type", "section", "template",
];

impl Metrics {
    pub fn new() -> Metrics {
        let r = registry();
        Metrics {
            matches: r.counter(
                "coredns_template_matches_total",
                "Counter of template regex matches.",
                LABELS,
            ),
            template_failures: r.counter(
                "coredns_template_template_failures_total",
                "Counter of go template failures.",
                FAILURE_LABELS,
            ),
            rr_failures: r.counter(
                "coredns_template_rr_failures_total",
                "Counter of mis-templated RRs.",
                FAILURE_LABELS,
            ),
            seen: ArcSwap::from_pointee(HashMap::new()),
        }
    }

    /// Counts a match; `labels` gives (zone, class, type) the first time a combination
    /// occurs on a listener.
    pub fn matched(&self, server: &str, key: MatchKey, labels: impl FnOnce() -> [String; 3]) {
        if let Some(c) = self.seen.load().get(server).and_then(|m| m.get(&key)) {
            c.inc();
            return;
        }
        let [zone, class, rtype] = labels();
        let c = self.matches.with(&[server, &zone, "", &class, &rtype]);
        c.inc();
        self.seen.rcu(|old| {
            let mut new = (**old).clone();
            new.entry(server.to_string())
                .or_default()
                .insert(key, c.clone());
            new
        });
    }

    /// A template that could not be executed.
    pub fn template_failure(&self, labels: &[&str; 7]) {
        self.template_failures.with(labels).inc();
    }

    /// A template whose output is no valid record.
    pub fn rr_failure(&self, labels: &[&str; 7]) {
        self.rr_failures.with(labels).inc();
    }
}
