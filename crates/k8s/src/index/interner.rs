//! Shared strings for the names that repeat across thousands of entries.
//!
//! A namespace name appears in every service, slice and pod of the namespace, a node name
//! in every endpoint on the node, a zone in a third of the cluster, and the pods of one
//! ReplicaSet carry identical label sets. The writer interns them so each is stored once;
//! strings no entry uses any more are dropped by [`Interner::purge`].

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use super::sharded::IndexHasher;

/// A pod's labels, sorted by key.
pub(crate) type LabelSet = Arc<[(Box<str>, Box<str>)]>;

pub(crate) struct Interner {
    strings: HashSet<Arc<str>, IndexHasher>,
    label_sets: HashSet<LabelSet, IndexHasher>,
    /// Size after the last purge: purge again when it doubles.
    purged_at: usize,
}

impl Interner {
    pub(crate) fn new(hasher: IndexHasher) -> Self {
        Interner {
            strings: HashSet::with_hasher(hasher),
            label_sets: HashSet::with_hasher(hasher),
            purged_at: 0,
        }
    }

    pub(crate) fn str(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.strings.get(text) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(text);
        self.strings.insert(Arc::clone(&shared));
        shared
    }

    pub(crate) fn labels(&mut self, labels: &BTreeMap<String, String>) -> LabelSet {
        let owned: Box<[(Box<str>, Box<str>)]> = labels
            .iter()
            .map(|(k, v)| (Box::from(k.as_str()), Box::from(v.as_str())))
            .collect();
        if let Some(shared) = self.label_sets.get(&*owned) {
            return Arc::clone(shared);
        }
        let shared: LabelSet = Arc::from(owned);
        self.label_sets.insert(Arc::clone(&shared));
        shared
    }

    /// Drops the strings only the interner still holds, when it has doubled since last
    /// time; true when it did (the writer purges its other shared values then too).
    pub(crate) fn maybe_purge(&mut self) -> bool {
        let size = self.strings.len() + self.label_sets.len();
        if size > 2 * self.purged_at + 1024 {
            self.purge();
            true
        } else {
            false
        }
    }

    pub(crate) fn purge(&mut self) {
        self.strings.retain(|s| Arc::strong_count(s) > 1);
        self.label_sets.retain(|s| Arc::strong_count(s) > 1);
        self.strings.shrink_to_fit();
        self.label_sets.shrink_to_fit();
        self.purged_at = self.strings.len() + self.label_sets.len();
    }
}
