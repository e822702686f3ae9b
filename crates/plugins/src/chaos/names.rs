//! The CH-class names `chaos` answers, matched on the lower-cased wire form of the question.

/// What a CH TXT question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// `version.bind.` or `version.server.`
    Version,
    /// `authors.bind.`
    Authors,
    /// `hostname.bind.` or `id.server.`
    Hostname,
}

const NAMES: [(&[u8], Query); 5] = [
    (b"\x07version\x04bind\x00", Query::Version),
    (b"\x07version\x06server\x00", Query::Version),
    (b"\x07authors\x04bind\x00", Query::Authors),
    (b"\x08hostname\x04bind\x00", Query::Hostname),
    (b"\x02id\x06server\x00", Query::Hostname),
];

impl Query {
    /// The query for a lower-cased wire name, if it is one of the five.
    pub fn of(wire_lower: &[u8]) -> Option<Query> {
        NAMES
            .iter()
            .find(|(name, _)| *name == wire_lower)
            .map(|&(_, q)| q)
    }
}
