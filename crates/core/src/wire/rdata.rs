//! Record data: the typed forms Cairn builds answers from, and an opaque form for the rest.
//!
//! Only types whose RDATA contains names, or that plugins synthesise, get a typed variant.
//! Everything else is kept as raw RDATA bytes (RFC 3597), which is enough to serve it from a
//! zone file or pass it through a cache unchanged.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use super::name::{read_name, Name, NameBuf};
use super::types::RType;
use super::WireError;

/// Start of authority data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    pub mname: Name,
    pub rname: Name,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

/// Record data of one resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Ns(Name),
    Cname(Name),
    Ptr(Name),
    Dname(Name),
    Mx {
        preference: u16,
        exchange: Name,
    },
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: Name,
    },
    Soa(Arc<Soa>),
    /// TXT, HINFO and other types made of character-strings: the raw RDATA.
    Txt(Arc<[u8]>),
    /// Any other type: raw RDATA, never compressed.
    Opaque(Arc<[u8]>),
}

impl RData {
    /// Builds TXT RDATA from strings, splitting each into 255-byte character-strings.
    pub fn txt<S: AsRef<[u8]>>(strings: &[S]) -> RData {
        let mut raw = Vec::new();
        for s in strings {
            let s = s.as_ref();
            if s.is_empty() {
                raw.push(0);
            }
            for chunk in s.chunks(255) {
                raw.push(chunk.len() as u8);
                raw.extend_from_slice(chunk);
            }
        }
        RData::Txt(raw.into())
    }

    /// Reads RDATA of type `rtype` at `msg[pos..pos + len]`, expanding compressed names.
    pub fn read(msg: &[u8], pos: usize, len: usize, rtype: RType) -> Result<RData, WireError> {
        let end = pos + len;
        let data = msg.get(pos..end).ok_or(WireError::Truncated)?;
        let mut name = NameBuf::new();
        let mut name_at = |at: usize| -> Result<(Name, usize), WireError> {
            let next = read_name(msg, at, &mut name)?;
            if next > end {
                return Err(WireError::BadRdata);
            }
            Ok((name.to_name(), next))
        };
        let u16_at = |at: usize| -> Result<u16, WireError> {
            msg.get(at..at + 2)
                .filter(|_| at + 2 <= end)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or(WireError::BadRdata)
        };
        let rdata = match rtype {
            RType::A => RData::A(Ipv4Addr::from(
                <[u8; 4]>::try_from(data).map_err(|_| WireError::BadRdata)?,
            )),
            RType::AAAA => RData::Aaaa(Ipv6Addr::from(
                <[u8; 16]>::try_from(data).map_err(|_| WireError::BadRdata)?,
            )),
            RType::NS | RType::CNAME | RType::PTR | RType::DNAME => {
                let (n, next) = name_at(pos)?;
                if next != end {
                    return Err(WireError::BadRdata);
                }
                match rtype {
                    RType::NS => RData::Ns(n),
                    RType::CNAME => RData::Cname(n),
                    RType::PTR => RData::Ptr(n),
                    _ => RData::Dname(n),
                }
            }
            RType::MX => {
                let preference = u16_at(pos)?;
                let (exchange, next) = name_at(pos + 2)?;
                if next != end {
                    return Err(WireError::BadRdata);
                }
                RData::Mx {
                    preference,
                    exchange,
                }
            }
            RType::SRV => {
                let priority = u16_at(pos)?;
                let weight = u16_at(pos + 2)?;
                let port = u16_at(pos + 4)?;
                let (target, next) = name_at(pos + 6)?;
                if next != end {
                    return Err(WireError::BadRdata);
                }
                RData::Srv {
                    priority,
                    weight,
                    port,
                    target,
                }
            }
            RType::SOA => {
                let (mname, next) = name_at(pos)?;
                let (rname, next) = name_at(next)?;
                let nums = msg
                    .get(next..next + 20)
                    .filter(|_| next + 20 == end)
                    .ok_or(WireError::BadRdata)?;
                let n =
                    |i: usize| u32::from_be_bytes([nums[i], nums[i + 1], nums[i + 2], nums[i + 3]]);
                RData::Soa(Arc::new(Soa {
                    mname,
                    rname,
                    serial: n(0),
                    refresh: n(4),
                    retry: n(8),
                    expire: n(12),
                    minimum: n(16),
                }))
            }
            RType::TXT | RType::HINFO => {
                let mut i = 0;
                while i < data.len() {
                    i += 1 + data[i] as usize;
                }
                if i != data.len() || (rtype == RType::TXT && data.is_empty()) {
                    return Err(WireError::BadRdata);
                }
                RData::Txt(data.into())
            }
            _ => RData::Opaque(data.into()),
        };
        Ok(rdata)
    }

    /// The names inside this RDATA that may be compressed on output (RFC 3597 section 4).
    pub fn compressible(&self) -> bool {
        matches!(
            self,
            RData::Ns(_) | RData::Cname(_) | RData::Ptr(_) | RData::Mx { .. } | RData::Soa(_)
        )
    }

    /// The single target name of NS, CNAME, PTR, DNAME, MX and SRV records.
    pub fn target(&self) -> Option<&Name> {
        match self {
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) | RData::Dname(n) => Some(n),
            RData::Mx { exchange, .. } => Some(exchange),
            RData::Srv { target, .. } => Some(target),
            _ => None,
        }
    }

    /// Presentation format of the RDATA (as in a zone file or `dig` output).
    pub fn write_text(&self, out: &mut impl fmt::Write) -> fmt::Result {
        match self {
            RData::A(ip) => write!(out, "{ip}"),
            RData::Aaaa(ip) => write!(out, "{ip}"),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) | RData::Dname(n) => {
                write!(out, "{n}")
            }
            RData::Mx {
                preference,
                exchange,
            } => write!(out, "{preference} {exchange}"),
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => write!(out, "{priority} {weight} {port} {target}"),
            RData::Soa(s) => write!(
                out,
                "{} {} {} {} {} {} {}",
                s.mname, s.rname, s.serial, s.refresh, s.retry, s.expire, s.minimum
            ),
            RData::Txt(raw) => {
                let mut i = 0;
                let mut first = true;
                while i < raw.len() {
                    let len = raw[i] as usize;
                    let s = raw.get(i + 1..i + 1 + len).unwrap_or(&[]);
                    if !first {
                        out.write_char(' ')?;
                    }
                    first = false;
                    out.write_char('"')?;
                    for &b in s {
                        match b {
                            b'"' | b'\\' => {
                                out.write_char('\\')?;
                                out.write_char(b as char)?;
                            }
                            0x20..=0x7e => out.write_char(b as char)?,
                            _ => write!(out, "\\{b:03}")?,
                        }
                    }
                    out.write_char('"')?;
                    i += 1 + len;
                }
                Ok(())
            }
            RData::Opaque(raw) => {
                write!(out, "\\# {}", raw.len())?;
                if !raw.is_empty() {
                    out.write_char(' ')?;
                    for b in raw.iter() {
                        write!(out, "{b:02x}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for RData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_text(f)
    }
}

/// One resource record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: Name,
    pub rtype: RType,
    pub class: u16,
    pub ttl: u32,
    pub data: RData,
}

impl Record {
    /// A record in class IN.
    pub fn new(name: Name, ttl: u32, data: RData) -> Record {
        let rtype = data.natural_type();
        Record {
            name,
            rtype,
            class: super::types::CLASS_IN,
            ttl,
            data,
        }
    }
}

impl RData {
    /// The type a typed variant stands for; `Txt` means TXT and `Opaque` has no natural type
    /// (callers building opaque records set the type themselves).
    pub fn natural_type(&self) -> RType {
        match self {
            RData::A(_) => RType::A,
            RData::Aaaa(_) => RType::AAAA,
            RData::Ns(_) => RType::NS,
            RData::Cname(_) => RType::CNAME,
            RData::Ptr(_) => RType::PTR,
            RData::Dname(_) => RType::DNAME,
            RData::Mx { .. } => RType::MX,
            RData::Srv { .. } => RType::SRV,
            RData::Soa(_) => RType::SOA,
            RData::Txt(_) => RType::TXT,
            RData::Opaque(_) => RType(0),
        }
    }
}

impl fmt::Display for Record {
    /// `dig`-style line: `name ttl class type rdata`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rdata = String::new();
        self.data.write_text(&mut rdata)?;
        write!(
            f,
            "{}\t{}\t{}\t{}\t{}",
            self.name,
            self.ttl,
            super::types::class_name(self.class),
            self.rtype,
            rdata
        )
    }
}
