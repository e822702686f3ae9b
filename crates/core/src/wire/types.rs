//! Record types, classes, response codes and opcodes, with their mnemonics.

use std::fmt;

/// A record type (RFC 1035 TYPE / QTYPE).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RType(pub u16);

macro_rules! rtypes {
    ($($name:ident = $val:expr),* $(,)?) => {
        impl RType {
            $(pub const $name: RType = RType($val);)*
            /// The mnemonic, if this type has one.
            pub fn mnemonic(self) -> Option<&'static str> {
                match self.0 { $($val => Some(stringify!($name)),)* _ => None }
            }
            /// Looks a mnemonic up (case-insensitive); also accepts `TYPEnnn`.
            pub fn from_mnemonic(s: &str) -> Option<RType> {
                $(if s.eq_ignore_ascii_case(stringify!($name)) { return Some(RType($val)); })*
                let upper = s.get(..4)?;
                if upper.eq_ignore_ascii_case("TYPE") {
                    return s[4..].parse().ok().map(RType);
                }
                None
            }
        }
    };
}

rtypes! {
    A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, HINFO = 13, MX = 15, TXT = 16, RP = 17,
    AFSDB = 18, SIG = 24, KEY = 25, AAAA = 28, LOC = 29, SRV = 33, NAPTR = 35, KX = 36,
    CERT = 37, DNAME = 39, OPT = 41, APL = 42, DS = 43, SSHFP = 44, IPSECKEY = 45, RRSIG = 46,
    NSEC = 47, DNSKEY = 48, DHCID = 49, NSEC3 = 50, NSEC3PARAM = 51, TLSA = 52, SMIMEA = 53,
    HIP = 55, CDS = 59, CDNSKEY = 60, OPENPGPKEY = 61, CSYNC = 62, ZONEMD = 63, SVCB = 64,
    HTTPS = 65, SPF = 99, TKEY = 249, TSIG = 250, IXFR = 251, AXFR = 252, MAILB = 253,
    MAILA = 254, ANY = 255, URI = 256, CAA = 257,
}

impl fmt::Display for RType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mnemonic() {
            Some(m) => f.write_str(m),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

impl fmt::Debug for RType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Class IN.
pub const CLASS_IN: u16 = 1;
/// Class CH (Chaos).
pub const CLASS_CH: u16 = 3;
/// Class HS (Hesiod).
pub const CLASS_HS: u16 = 4;
/// QCLASS NONE (RFC 2136).
pub const CLASS_NONE: u16 = 254;
/// QCLASS ANY.
pub const CLASS_ANY: u16 = 255;

/// The mnemonic of a class (`IN`, `CH`, ... or `CLASSnnn`).
pub fn class_name(class: u16) -> ClassName {
    ClassName(class)
}

/// Parses a class mnemonic (case-insensitive), also `CLASSnnn`.
pub fn class_from_mnemonic(s: &str) -> Option<u16> {
    match s.to_ascii_uppercase().as_str() {
        "IN" => Some(CLASS_IN),
        "CH" | "CHAOS" => Some(CLASS_CH),
        "HS" => Some(CLASS_HS),
        "NONE" => Some(CLASS_NONE),
        "ANY" => Some(CLASS_ANY),
        other => other.strip_prefix("CLASS")?.parse().ok(),
    }
}

/// Display helper for classes.
#[derive(Clone, Copy)]
pub struct ClassName(pub u16);

impl fmt::Display for ClassName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            CLASS_IN => f.write_str("IN"),
            CLASS_CH => f.write_str("CH"),
            CLASS_HS => f.write_str("HS"),
            CLASS_NONE => f.write_str("NONE"),
            CLASS_ANY => f.write_str("ANY"),
            n => write!(f, "CLASS{n}"),
        }
    }
}

/// A response code, including the extended range carried in OPT (12 bits).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rcode(pub u16);

impl Rcode {
    pub const NOERROR: Rcode = Rcode(0);
    pub const FORMERR: Rcode = Rcode(1);
    pub const SERVFAIL: Rcode = Rcode(2);
    pub const NXDOMAIN: Rcode = Rcode(3);
    pub const NOTIMP: Rcode = Rcode(4);
    pub const REFUSED: Rcode = Rcode(5);
    pub const YXDOMAIN: Rcode = Rcode(6);
    pub const YXRRSET: Rcode = Rcode(7);
    pub const NXRRSET: Rcode = Rcode(8);
    pub const NOTAUTH: Rcode = Rcode(9);
    pub const NOTZONE: Rcode = Rcode(10);
    pub const BADVERS: Rcode = Rcode(16);
    /// Not a DNS code: a plugin's way of saying "send no reply at all" (`acl drop`).
    pub const DROP: Rcode = Rcode(u16::MAX);

    /// The textual name used in logs and in the `rcode` metric label (`RCODE<n>` if unknown).
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "NOERROR",
            1 => "FORMERR",
            2 => "SERVFAIL",
            3 => "NXDOMAIN",
            4 => "NOTIMP",
            5 => "REFUSED",
            6 => "YXDOMAIN",
            7 => "YXRRSET",
            8 => "NXRRSET",
            9 => "NOTAUTH",
            10 => "NOTZONE",
            16 => "BADVERS",
            17 => "BADKEY",
            18 => "BADTIME",
            19 => "BADMODE",
            20 => "BADNAME",
            21 => "BADALG",
            22 => "BADTRUNC",
            23 => "BADCOOKIE",
            _ => "",
        }
    }

    /// Parses a textual rcode name (case-insensitive).
    pub fn from_name(s: &str) -> Option<Rcode> {
        (0..24)
            .map(Rcode)
            .find(|r| !r.name().is_empty() && r.name().eq_ignore_ascii_case(s))
    }

    /// The name miekg/dns gives the code (`RcodeToString`), which CoreDNS writes in metric
    /// labels and accepts in Corefiles: 11 is DSOTYPENI, and 16 (shared by BADVERS and
    /// BADSIG) is BADSIG.
    pub fn miekg_name(self) -> Option<&'static str> {
        match self.0 {
            11 => Some("DSOTYPENI"),
            16 => Some("BADSIG"),
            _ => Some(self.name()).filter(|n| !n.is_empty()),
        }
    }

    /// miekg/dns's `StringToRcode`: an upper-case name of [`Rcode::miekg_name`], or
    /// `NOTIMPL`, its old alias of NOTIMP.
    pub fn from_miekg_name(s: &str) -> Option<Rcode> {
        if s == "NOTIMPL" {
            return Some(Rcode::NOTIMP);
        }
        (0..24).map(Rcode).find(|r| r.miekg_name() == Some(s))
    }
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            "" => write!(f, "RCODE{}", self.0),
            n => f.write_str(n),
        }
    }
}

impl fmt::Debug for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Opcode QUERY.
pub const OPCODE_QUERY: u8 = 0;
/// Opcode NOTIFY (RFC 1996).
pub const OPCODE_NOTIFY: u8 = 4;
/// Opcode UPDATE (RFC 2136).
pub const OPCODE_UPDATE: u8 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnemonics_round_trip() {
        assert_eq!(RType::from_mnemonic("aaaa"), Some(RType::AAAA));
        assert_eq!(RType::from_mnemonic("TYPE65280"), Some(RType(65280)));
        assert_eq!(RType(65280).to_string(), "TYPE65280");
        assert_eq!(RType::SRV.to_string(), "SRV");
        assert_eq!(Rcode(3).to_string(), "NXDOMAIN");
        assert_eq!(Rcode(3841).to_string(), "RCODE3841");
        assert_eq!(Rcode::from_name("servfail"), Some(Rcode::SERVFAIL));
        assert_eq!(class_from_mnemonic("ch"), Some(CLASS_CH));
        assert_eq!(class_name(7).to_string(), "CLASS7");
    }
}
