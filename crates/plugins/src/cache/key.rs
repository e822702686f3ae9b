//! The one cache key: lower-cased question name, type, class, and the DO and CD bits.
//!
//! Every lookup and every store builds its key here, so the fields that make two questions
//! different (CVE-2024-0874 was a key that forgot CD) are listed once. The map itself is
//! keyed by a 64-bit seeded hash of these fields; an entry keeps the full key and a lookup
//! compares it, so a hash collision is a miss, never another name's answer (TOB-CDNS-8).

use std::hash::{BuildHasher, Hasher};

use cairn_core::wire::{NameBuf, RType};
use cairn_core::Request;

use super::classify::Question;

/// A key borrowed from a request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyRef<'a> {
    /// Lower-case wire name.
    pub name: &'a [u8],
    pub qtype: RType,
    pub qclass: u16,
    pub dnssec_ok: bool,
    pub checking_disabled: bool,
}

impl<'a> KeyRef<'a> {
    /// The key of a request's question.
    pub(crate) fn of(req: &'a Request) -> KeyRef<'a> {
        KeyRef {
            name: req.qname_lower.wire(),
            qtype: req.qtype(),
            qclass: req.qclass(),
            dnssec_ok: req.dnssec_ok(),
            checking_disabled: req.info.flags.cd,
        }
    }

    /// The 64-bit hash the sharded map is keyed by.
    pub(crate) fn hash(&self, hasher: &foldhash::fast::RandomState) -> u64 {
        let mut h = hasher.build_hasher();
        h.write_u8(u8::from(self.dnssec_ok) | (u8::from(self.checking_disabled) << 1));
        h.write_u16(self.qtype.0);
        h.write_u16(self.qclass);
        h.write(self.name);
        h.finish()
    }

    /// The question replies are checked against.
    pub(crate) fn question(&self) -> Question<'a> {
        Question {
            name: self.name,
            qtype: self.qtype,
            qclass: self.qclass,
        }
    }

    /// A copy that outlives the request (kept on the stack or in a future: no allocation).
    pub(crate) fn to_owned(self, hash: u64) -> Key {
        let mut name = NameBuf::new();
        name.set_wire(self.name);
        Key {
            name,
            qtype: self.qtype,
            qclass: self.qclass,
            dnssec_ok: self.dnssec_ok,
            checking_disabled: self.checking_disabled,
            hash,
        }
    }
}

/// An owned key with its hash, for the miss path and background refreshes.
#[derive(Clone, Debug)]
pub(crate) struct Key {
    name: NameBuf,
    qtype: RType,
    qclass: u16,
    dnssec_ok: bool,
    checking_disabled: bool,
    pub hash: u64,
}

impl Key {
    /// The borrowed form.
    pub(crate) fn as_ref(&self) -> KeyRef<'_> {
        KeyRef {
            name: self.name.wire(),
            qtype: self.qtype,
            qclass: self.qclass,
            dnssec_ok: self.dnssec_ok,
            checking_disabled: self.checking_disabled,
        }
    }
}
