//! Record data in presentation format, type by type, and the RFC 3597 generic form
//! (`\# <length> <hex>`) that every type accepts.
//!
//! Types the server builds answers from get typed [`RData`]; the others are turned into their
//! wire bytes here ([`RData::Opaque`]) so serving them is a copy.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use cairn_core::wire::{Name, RData, RType, Soa};

use super::zonefile::{parse_name, parse_ttl, Tok};

/// An error about record data: the line (0 = the entry's line) and what is wrong.
pub(crate) type RdataError = (u32, String);

type Result<T> = std::result::Result<T, RdataError>;

/// Parses the record data of `rtype` from `toks`, relative names taking `origin`.
pub(crate) fn parse(rtype: RType, toks: &[Tok], origin: &Name) -> Result<RData> {
    if let Some(first) = toks.first() {
        if !first.quoted && first.text == b"\\#" {
            return generic(rtype, toks);
        }
    }
    let mut r = Fields { toks, pos: 0 };
    let data = match rtype {
        RType::A => {
            let t = r.next("address")?;
            let ip: Ipv4Addr = t
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(t, "IPv4 address"))?;
            RData::A(ip)
        }
        RType::AAAA => {
            let t = r.next("address")?;
            let ip: Ipv6Addr = t
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(t, "IPv6 address"))?;
            RData::Aaaa(ip)
        }
        RType::NS => RData::Ns(r.name(origin)?),
        RType::CNAME => RData::Cname(r.name(origin)?),
        RType::PTR => RData::Ptr(r.name(origin)?),
        RType::DNAME => RData::Dname(r.name(origin)?),
        RType::MX => RData::Mx {
            preference: r.u16("preference")?,
            exchange: r.name(origin)?,
        },
        RType::SRV => RData::Srv {
            priority: r.u16("priority")?,
            weight: r.u16("weight")?,
            port: r.u16("port")?,
            target: r.name(origin)?,
        },
        RType::SOA => {
            let mname = r.name(origin)?;
            let rname = r.name(origin)?;
            let t = r.next("serial")?;
            let serial = t
                .as_str()
                .and_then(|s| s.parse::<u32>().ok())
                .ok_or_else(|| bad(t, "serial"))?;
            let mut timer = |what: &str| -> Result<u32> {
                let t = r.next(what)?;
                parse_ttl(t).ok_or_else(|| bad(t, what))
            };
            RData::Soa(Arc::new(Soa {
                mname,
                rname,
                serial,
                refresh: timer("refresh")?,
                retry: timer("retry")?,
                expire: timer("expire")?,
                minimum: timer("minimum")?,
            }))
        }
        RType::TXT | RType::SPF => {
            if toks.is_empty() {
                return Err((0, "missing text".into()));
            }
            let mut raw = Vec::new();
            for t in toks {
                let s = char_string(t)?;
                push_long_string(&mut raw, &s);
            }
            r.pos = toks.len();
            RData::Txt(raw.into())
        }
        RType::HINFO => {
            let strings = toks.iter().map(char_string).collect::<Result<Vec<_>>>()?;
            r.pos = toks.len();
            let (cpu, os) = match strings.as_slice() {
                [] => return Err((0, "missing CPU and OS".into())),
                [cpu] => (cpu.clone(), Vec::new()),
                [cpu, rest @ ..] => (cpu.clone(), rest.join(&b' ')),
            };
            let mut raw = Vec::new();
            push_short_string(&mut raw, &cpu).map_err(|m| (0, m))?;
            push_short_string(&mut raw, &os).map_err(|m| (0, m))?;
            RData::Txt(raw.into())
        }
        RType::CAA => {
            let flags = r.u8("flags")?;
            let tag_tok = r.next("tag")?;
            let tag = &tag_tok.text;
            if tag.is_empty() || tag.len() > 255 || !tag.iter().all(u8::is_ascii_alphanumeric) {
                return Err(bad(tag_tok, "tag"));
            }
            let value_tok = r.next("value")?;
            let value = char_string(value_tok)?;
            let mut raw = vec![flags, tag.len() as u8];
            raw.extend_from_slice(tag);
            raw.extend_from_slice(&value);
            RData::Opaque(raw.into())
        }
        RType::SSHFP => {
            let mut raw = vec![r.u8("algorithm")?, r.u8("fingerprint type")?];
            raw.extend_from_slice(&r.hex_rest("fingerprint")?);
            RData::Opaque(raw.into())
        }
        RType::TLSA | RType::SMIMEA => {
            let mut raw = vec![r.u8("usage")?, r.u8("selector")?, r.u8("matching type")?];
            raw.extend_from_slice(&r.hex_rest("certificate data")?);
            RData::Opaque(raw.into())
        }
        RType::DS | RType::CDS => {
            let mut raw = r.u16("key tag")?.to_be_bytes().to_vec();
            raw.push(r.algorithm()?);
            raw.push(r.u8("digest type")?);
            raw.extend_from_slice(&r.hex_rest("digest")?);
            RData::Opaque(raw.into())
        }
        RType::DNSKEY | RType::CDNSKEY => {
            let mut raw = r.u16("flags")?.to_be_bytes().to_vec();
            raw.push(r.u8("protocol")?);
            raw.push(r.algorithm()?);
            raw.extend_from_slice(&r.base64_rest("public key")?);
            RData::Opaque(raw.into())
        }
        RType::RRSIG => {
            let covered = r.next("type covered")?;
            let covered_type = covered
                .as_str()
                .and_then(RType::from_mnemonic)
                .ok_or_else(|| bad(covered, "type covered"))?;
            let mut raw = covered_type.0.to_be_bytes().to_vec();
            raw.push(r.algorithm()?);
            raw.push(r.u8("labels")?);
            raw.extend_from_slice(&r.u32("original TTL")?.to_be_bytes());
            raw.extend_from_slice(&r.time("expiration")?.to_be_bytes());
            raw.extend_from_slice(&r.time("inception")?.to_be_bytes());
            raw.extend_from_slice(&r.u16("key tag")?.to_be_bytes());
            raw.extend_from_slice(r.name(origin)?.wire());
            raw.extend_from_slice(&r.base64_rest("signature")?);
            RData::Opaque(raw.into())
        }
        RType::NSEC => {
            let mut raw = r.name(origin)?.wire().to_vec();
            let mut types = Vec::new();
            for t in &toks[r.pos..] {
                let rt = t
                    .as_str()
                    .and_then(RType::from_mnemonic)
                    .ok_or_else(|| bad(t, "type"))?;
                types.push(rt.0);
            }
            r.pos = toks.len();
            type_bitmap(&mut types, &mut raw);
            RData::Opaque(raw.into())
        }
        RType::NAPTR => {
            let mut raw = r.u16("order")?.to_be_bytes().to_vec();
            raw.extend_from_slice(&r.u16("preference")?.to_be_bytes());
            for what in ["flags", "services", "regexp"] {
                let t = r.next(what)?;
                push_short_string(&mut raw, &char_string(t)?).map_err(|m| (t.line, m))?;
            }
            raw.extend_from_slice(r.name(origin)?.wire());
            RData::Opaque(raw.into())
        }
        RType::URI => {
            let mut raw = r.u16("priority")?.to_be_bytes().to_vec();
            raw.extend_from_slice(&r.u16("weight")?.to_be_bytes());
            let t = r.next("target")?;
            raw.extend_from_slice(&char_string(t)?);
            RData::Opaque(raw.into())
        }
        RType::SVCB | RType::HTTPS => {
            let mut raw = r.u16("priority")?.to_be_bytes().to_vec();
            raw.extend_from_slice(r.name(origin)?.wire());
            svc_params(&toks[r.pos..], &mut raw)?;
            r.pos = toks.len();
            RData::Opaque(raw.into())
        }
        RType::RP => {
            let mut raw = r.name(origin)?.wire().to_vec();
            raw.extend_from_slice(r.name(origin)?.wire());
            RData::Opaque(raw.into())
        }
        RType::AFSDB | RType::KX => {
            let mut raw = r.u16("preference")?.to_be_bytes().to_vec();
            raw.extend_from_slice(r.name(origin)?.wire());
            RData::Opaque(raw.into())
        }
        RType::OPENPGPKEY | RType::DHCID => RData::Opaque(r.base64_rest("data")?.into()),
        RType::ZONEMD => {
            let mut raw = r.u32("serial")?.to_be_bytes().to_vec();
            raw.push(r.u8("scheme")?);
            raw.push(r.u8("hash algorithm")?);
            raw.extend_from_slice(&r.hex_rest("digest")?);
            RData::Opaque(raw.into())
        }
        RType::NSEC3 | RType::NSEC3PARAM => {
            return Err((0, "NSEC3 zones are not supported".into()));
        }
        other => {
            return Err((
                0,
                format!("type {other} is not supported in presentation format; write it as '\\# <length> <hex>' (RFC 3597)"),
            ));
        }
    };
    r.end()?;
    Ok(data)
}

/// `\# <length> <hex>...`: the RFC 3597 form. Types with a typed form are decoded into it.
fn generic(rtype: RType, toks: &[Tok]) -> Result<RData> {
    let mut r = Fields { toks, pos: 1 };
    let len_tok = r.next("length")?;
    let len: usize = len_tok
        .as_str()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n <= 65535)
        .ok_or_else(|| bad(len_tok, "length"))?;
    let data = if r.pos < toks.len() {
        r.hex_rest("data")?
    } else {
        Vec::new()
    };
    if data.len() != len {
        return Err((
            len_tok.line,
            format!("length {len} does not match {} bytes of data", data.len()),
        ));
    }
    let read_as = if rtype == RType::SPF {
        RType::TXT
    } else {
        rtype
    };
    match read_as {
        RType::A
        | RType::AAAA
        | RType::NS
        | RType::CNAME
        | RType::PTR
        | RType::DNAME
        | RType::MX
        | RType::SRV
        | RType::SOA
        | RType::TXT
        | RType::HINFO => RData::read(&data, 0, data.len(), read_as)
            .map_err(|e| (len_tok.line, format!("bad data: {e}"))),
        _ => Ok(RData::Opaque(data.into())),
    }
}

/// A cursor over the data fields.
struct Fields<'a> {
    toks: &'a [Tok],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn next(&mut self, what: &str) -> Result<&'a Tok> {
        let t = self
            .toks
            .get(self.pos)
            .ok_or_else(|| (0, format!("missing {what}")))?;
        self.pos += 1;
        Ok(t)
    }

    fn end(&self) -> Result<()> {
        match self.toks.get(self.pos) {
            None => Ok(()),
            Some(t) => Err((t.line, format!("unexpected '{}' after the data", t.show()))),
        }
    }

    fn name(&mut self, origin: &Name) -> Result<Name> {
        let t = self.next("name")?;
        parse_name(t, origin)
    }

    fn number<T: std::str::FromStr>(&mut self, what: &str) -> Result<T> {
        let t = self.next(what)?;
        t.as_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(t, what))
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        self.number(what)
    }

    fn u16(&mut self, what: &str) -> Result<u16> {
        self.number(what)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        self.number(what)
    }

    /// A DNSSEC algorithm: a number or its mnemonic.
    fn algorithm(&mut self) -> Result<u8> {
        let t = self.next("algorithm")?;
        let s = t.as_str().unwrap_or("");
        if let Ok(n) = s.parse::<u8>() {
            return Ok(n);
        }
        const NAMES: &[(&str, u8)] = &[
            ("RSAMD5", 1),
            ("DH", 2),
            ("DSA", 3),
            ("RSASHA1", 5),
            ("DSA-NSEC3-SHA1", 6),
            ("RSASHA1-NSEC3-SHA1", 7),
            ("RSASHA256", 8),
            ("RSASHA512", 10),
            ("ECC-GOST", 12),
            ("ECDSAP256SHA256", 13),
            ("ECDSAP384SHA384", 14),
            ("ED25519", 15),
            ("ED448", 16),
            ("INDIRECT", 252),
            ("PRIVATEDNS", 253),
            ("PRIVATEOID", 254),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|&(_, v)| v)
            .ok_or_else(|| bad(t, "algorithm"))
    }

    /// An RRSIG time: `YYYYMMDDHHmmSS` or seconds since the epoch.
    fn time(&mut self, what: &str) -> Result<u32> {
        let t = self.next(what)?;
        let s = t.as_str().unwrap_or("");
        if !s.bytes().all(|b| b.is_ascii_digit()) || s.is_empty() {
            return Err(bad(t, what));
        }
        if s.len() == 14 {
            return rrsig_time(s.as_bytes()).ok_or_else(|| bad(t, what));
        }
        s.parse::<u32>().map_err(|_| bad(t, what))
    }

    /// The remaining fields as one hexadecimal string.
    fn hex_rest(&mut self, what: &str) -> Result<Vec<u8>> {
        let rest = &self.toks[self.pos.min(self.toks.len())..];
        self.pos = self.toks.len();
        if rest.is_empty() {
            return Err((0, format!("missing {what}")));
        }
        let mut out = Vec::new();
        let mut half: Option<u8> = None;
        for t in rest {
            for &c in &t.text {
                let v = match c {
                    b'0'..=b'9' => c - b'0',
                    b'a'..=b'f' => c - b'a' + 10,
                    b'A'..=b'F' => c - b'A' + 10,
                    _ => return Err(bad(t, what)),
                };
                match half.take() {
                    Some(h) => out.push(h << 4 | v),
                    None => half = Some(v),
                }
            }
        }
        if half.is_some() {
            return Err((0, format!("odd number of hex digits in {what}")));
        }
        Ok(out)
    }

    /// The remaining fields as one base64 string.
    fn base64_rest(&mut self, what: &str) -> Result<Vec<u8>> {
        let rest = &self.toks[self.pos.min(self.toks.len())..];
        self.pos = self.toks.len();
        if rest.is_empty() {
            return Err((0, format!("missing {what}")));
        }
        let text: Vec<u8> = rest.iter().flat_map(|t| t.text.iter().copied()).collect();
        base64_decode(&text).ok_or_else(|| (rest[0].line, format!("bad base64 in {what}")))
    }
}

/// SVCB/HTTPS parameters (RFC 9460 section 2.1): `key`, `key=value` or `key="value"`,
/// written in key order.
fn svc_params(toks: &[Tok], raw: &mut Vec<u8>) -> Result<()> {
    let mut params: Vec<(u16, Vec<u8>)> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        i += 1;
        if t.quoted {
            return Err(bad(t, "SvcParam"));
        }
        let (key_text, mut value) = match t.text.iter().position(|&b| b == b'=') {
            None => (&t.text[..], None),
            Some(eq) => (&t.text[..eq], Some(t.text[eq + 1..].to_vec())),
        };
        // `key=` followed by a quoted value is split by the lexer.
        if value.as_deref() == Some(&[][..]) {
            if let Some(next) = toks.get(i).filter(|n| n.quoted) {
                value = Some(next.text.clone());
                i += 1;
            }
        }
        let key_str = std::str::from_utf8(key_text).unwrap_or("");
        let key = svc_key(key_str).ok_or_else(|| bad(t, "SvcParam key"))?;
        if params.iter().any(|(k, _)| *k == key) {
            return Err((t.line, format!("duplicate SvcParam key '{key_str}'")));
        }
        let value_tok = Tok {
            text: value.clone().unwrap_or_default(),
            quoted: false,
            line: t.line,
        };
        let decoded = char_string(&value_tok)?;
        let wire = match key {
            // mandatory: a list of keys
            0 => {
                let mut keys = Vec::new();
                for k in split_list(&decoded) {
                    let name = std::str::from_utf8(&k).unwrap_or("");
                    keys.push(svc_key(name).ok_or_else(|| bad(t, "mandatory key"))?);
                }
                keys.sort_unstable();
                keys.dedup();
                keys.iter().flat_map(|k| k.to_be_bytes()).collect()
            }
            // alpn: a list of protocol ids
            1 => {
                let mut out = Vec::new();
                for id in split_list(&decoded) {
                    push_short_string(&mut out, &id).map_err(|m| (t.line, m))?;
                }
                out
            }
            // no-default-alpn, ohttp: no value
            2 | 8 => {
                if value.as_ref().is_some_and(|v| !v.is_empty()) {
                    return Err((t.line, format!("SvcParam '{key_str}' takes no value")));
                }
                Vec::new()
            }
            3 => std::str::from_utf8(&decoded)
                .ok()
                .and_then(|s| s.parse::<u16>().ok())
                .ok_or_else(|| bad(t, "port"))?
                .to_be_bytes()
                .to_vec(),
            4 => {
                let mut out = Vec::new();
                for a in split_list(&decoded) {
                    let ip: Ipv4Addr = std::str::from_utf8(&a)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| bad(t, "ipv4hint"))?;
                    out.extend_from_slice(&ip.octets());
                }
                out
            }
            5 => base64_decode(&decoded).ok_or_else(|| bad(t, "ech"))?,
            6 => {
                let mut out = Vec::new();
                for a in split_list(&decoded) {
                    let ip: Ipv6Addr = std::str::from_utf8(&a)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| bad(t, "ipv6hint"))?;
                    out.extend_from_slice(&ip.octets());
                }
                out
            }
            _ => decoded,
        };
        if matches!(key, 0 | 1 | 4 | 6) && wire.is_empty() {
            return Err((t.line, format!("SvcParam '{key_str}' needs a value")));
        }
        params.push((key, wire));
    }
    params.sort_by_key(|(k, _)| *k);
    for (key, value) in params {
        let len = u16::try_from(value.len()).map_err(|_| (0, "SvcParam too long".to_string()))?;
        raw.extend_from_slice(&key.to_be_bytes());
        raw.extend_from_slice(&len.to_be_bytes());
        raw.extend_from_slice(&value);
    }
    Ok(())
}

/// The number of an SvcParam key name.
fn svc_key(name: &str) -> Option<u16> {
    Some(match name {
        "mandatory" => 0,
        "alpn" => 1,
        "no-default-alpn" => 2,
        "port" => 3,
        "ipv4hint" => 4,
        "ech" => 5,
        "ipv6hint" => 6,
        "dohpath" => 7,
        "ohttp" => 8,
        _ => {
            let n = name.strip_prefix("key")?;
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            n.parse().ok()?
        }
    })
}

/// Splits a comma-separated value list (RFC 9460 appendix A.1). It runs after the
/// character-string escapes were decoded, so a comma inside an item is written `\\,` in
/// the zone file (`\,` after the first decoding).
fn split_list(value: &[u8]) -> Vec<Vec<u8>> {
    if value.is_empty() {
        return Vec::new();
    }
    let mut out = vec![Vec::new()];
    let mut i = 0;
    while i < value.len() {
        match value[i] {
            b'\\' if i + 1 < value.len() => {
                if let Some(last) = out.last_mut() {
                    last.push(value[i + 1]);
                }
                i += 2;
                continue;
            }
            b',' => out.push(Vec::new()),
            c => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
        i += 1;
    }
    out
}

fn bad(t: &Tok, what: &str) -> RdataError {
    (t.line, format!("bad {what} '{}'", t.show()))
}

/// Decodes the escapes of a character-string (`\DDD`, `\X`).
pub(crate) fn char_string(t: &Tok) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(t.text.len());
    let mut i = 0;
    let text = &t.text;
    while i < text.len() {
        let c = text[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        match text.get(i + 1) {
            None => return Err((t.line, "dangling backslash".into())),
            Some(d) if d.is_ascii_digit() => {
                let digits = text
                    .get(i + 1..i + 4)
                    .filter(|d| d.iter().all(u8::is_ascii_digit))
                    .ok_or((t.line, "bad \\DDD escape".to_string()))?;
                let v = u32::from(digits[0] - b'0') * 100
                    + u32::from(digits[1] - b'0') * 10
                    + u32::from(digits[2] - b'0');
                out.push(u8::try_from(v).map_err(|_| (t.line, "bad \\DDD escape".to_string()))?);
                i += 4;
            }
            Some(&x) => {
                out.push(x);
                i += 2;
            }
        }
    }
    Ok(out)
}

/// Appends a string as character-strings of at most 255 bytes (an empty string is one empty
/// character-string).
fn push_long_string(raw: &mut Vec<u8>, s: &[u8]) {
    if s.is_empty() {
        raw.push(0);
    }
    for chunk in s.chunks(255) {
        raw.push(chunk.len() as u8);
        raw.extend_from_slice(chunk);
    }
}

/// Appends one character-string, which must fit in 255 bytes.
fn push_short_string(raw: &mut Vec<u8>, s: &[u8]) -> std::result::Result<(), String> {
    let len = u8::try_from(s.len()).map_err(|_| "string longer than 255 bytes".to_string())?;
    raw.push(len);
    raw.extend_from_slice(s);
    Ok(())
}

/// Writes an NSEC type bitmap (RFC 4034 section 4.1.2).
fn type_bitmap(types: &mut Vec<u16>, raw: &mut Vec<u8>) {
    types.sort_unstable();
    types.dedup();
    let mut i = 0;
    while i < types.len() {
        let window = (types[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut used = 0;
        while i < types.len() && (types[i] >> 8) as u8 == window {
            let low = (types[i] & 0xFF) as usize;
            bits[low / 8] |= 0x80 >> (low % 8);
            used = low / 8 + 1;
            i += 1;
        }
        raw.push(window);
        raw.push(used as u8);
        raw.extend_from_slice(&bits[..used]);
    }
}

/// `YYYYMMDDHHmmSS` (UTC) as seconds since the epoch, modulo 2^32 (RFC 4034 section 3.2).
fn rrsig_time(s: &[u8]) -> Option<u32> {
    let num = |a: usize, b: usize| -> Option<i64> {
        std::str::from_utf8(s.get(a..b)?).ok()?.parse().ok()
    };
    let (y, mo, d) = (num(0, 4)?, num(4, 6)?, num(6, 8)?);
    let (h, mi, sec) = (num(8, 10)?, num(10, 12)?, num(12, 14)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    // Days from civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec;
    Some(secs.rem_euclid(1 << 32) as u32)
}

/// Standard base64 with optional padding.
fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut padding = 0;
    for &c in text {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding += 1;
                continue;
            }
            _ => return None,
        };
        if padding > 0 {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if padding > 2 || bits >= 6 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
pub(crate) fn test_base64(text: &str) -> Option<Vec<u8>> {
    base64_decode(text.as_bytes())
}

#[cfg(test)]
pub(crate) fn test_rrsig_time(text: &str) -> Option<u32> {
    rrsig_time(text.as_bytes())
}
