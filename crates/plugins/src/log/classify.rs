//! Sorting replies into the classes `log { class ... }` filters on, with CoreDNS's rules
//! (its `response.Typify` and `response.Classify`): a NODATA is only a denial when the reply
//! carries an SOA, so a `hosts` NODATA (no SOA) counts as success.

use cairn_core::wire::types::{OPCODE_NOTIFY, OPCODE_UPDATE};
use cairn_core::wire::{Message, RType, Rcode};

/// What kind of reply a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyType {
    NoError,
    NameError,
    ServerError,
    NoData,
    Delegation,
    Meta,
    Update,
    OtherError,
}

impl ReplyType {
    /// The `log/type` metadata value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyType::NoError => "NOERROR",
            ReplyType::NameError => "NXDOMAIN",
            ReplyType::ServerError => "SERVERERROR",
            ReplyType::NoData => "NODATA",
            ReplyType::Delegation => "DELEGATION",
            ReplyType::Meta => "META",
            ReplyType::Update => "UPDATE",
            ReplyType::OtherError => "OTHERERROR",
        }
    }

    /// The class of this type.
    pub fn class(self) -> Class {
        match self {
            ReplyType::NoError | ReplyType::Delegation => Class::Success,
            ReplyType::NameError | ReplyType::NoData => Class::Denial,
            _ => Class::Error,
        }
    }
}

/// A class of replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    All,
    Success,
    Denial,
    Error,
}

impl Class {
    /// Reads a class name as written in the Corefile (lower case only, as CoreDNS).
    pub fn parse(s: &str) -> Option<Class> {
        Some(match s {
            "all" => Class::All,
            "success" => Class::Success,
            "denial" => Class::Denial,
            "error" => Class::Error,
            _ => return None,
        })
    }

    /// The `log/class` metadata value.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::All => "all",
            Class::Success => "success",
            Class::Denial => "denial",
            Class::Error => "error",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Class::All => 1,
            Class::Success => 2,
            Class::Denial => 4,
            Class::Error => 8,
        }
    }
}

/// A set of classes; empty means `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Classes(u8);

impl Classes {
    pub fn insert(&mut self, c: Class) {
        self.0 |= c.bit();
    }

    /// Does a rule with these classes log a reply of class `c`?
    pub fn accepts(self, c: Class) -> bool {
        self.0 == 0 || self.0 & (Class::All.bit() | c.bit()) != 0
    }
}

/// Types a reply (CoreDNS's `Typify` without the RRSIG expiry check).
pub fn typify(m: &Message, qtype: RType) -> ReplyType {
    if m.opcode == OPCODE_UPDATE {
        return ReplyType::Update;
    }
    if m.opcode == OPCODE_NOTIFY || qtype == RType::AXFR || qtype == RType::IXFR {
        return ReplyType::Meta;
    }
    if !m.answer.is_empty() {
        match m.rcode {
            Rcode::NOERROR => return ReplyType::NoError,
            Rcode::NXDOMAIN => return ReplyType::OtherError,
            _ => {}
        }
    }
    let soa = m.authority.iter().any(|r| r.rtype == RType::SOA);
    let ns = m.authority.iter().filter(|r| r.rtype == RType::NS).count();
    by_rcode(m.rcode, soa, ns)
}

/// The rest of `Typify`, from the response code and the authority section; also used for the
/// reply the server makes up for an error.
pub fn by_rcode(rcode: Rcode, soa: bool, ns: usize) -> ReplyType {
    match rcode {
        Rcode::NOERROR if soa => ReplyType::NoData,
        Rcode::NXDOMAIN => ReplyType::NameError,
        Rcode::SERVFAIL | Rcode::NOTIMP => ReplyType::ServerError,
        Rcode::NOERROR if ns > 0 => ReplyType::Delegation,
        Rcode::NOERROR => ReplyType::NoError,
        _ => ReplyType::OtherError,
    }
}
