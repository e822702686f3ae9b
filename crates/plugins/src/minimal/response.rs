//! Which replies count as a plain positive answer: the NOERROR type of CoreDNS's
//! `response.Typify` (plugin/pkg/response), which is what CoreDNS's *minimal* trims.
//!
//! In order, a reply is not a plain answer when it is an UPDATE or NOTIFY, a zone transfer,
//! carries an expired or not yet valid RRSIG while DNSSEC was asked for, or has an error
//! code. With NOERROR, answers make it a plain answer whatever the authority holds; without
//! answers, an SOA in the authority makes it NODATA and an NS makes it a delegation, and
//! anything else (an empty NOERROR) is treated as a plain answer too.

use std::time::{SystemTime, UNIX_EPOCH};

use cairn_core::wire::types::{OPCODE_NOTIFY, OPCODE_UPDATE};
use cairn_core::wire::{Message, RData, RType, Rcode, Record};

/// True when `m` is a positive, non-delegation reply whose extra sections may be dropped.
/// `query_do` is the DNSSEC OK bit of the query.
pub fn is_plain_answer(m: &Message, qtype: RType, query_do: bool) -> bool {
    if m.opcode == OPCODE_UPDATE || m.opcode == OPCODE_NOTIFY {
        return false;
    }
    if qtype == RType::AXFR || qtype == RType::IXFR {
        return false;
    }
    if m.rcode != Rcode::NOERROR {
        return false;
    }
    let dnssec_ok = query_do || m.edns.as_ref().is_some_and(|e| e.dnssec_ok);
    if dnssec_ok && has_stale_signature(m) {
        return false;
    }
    if !m.answer.is_empty() {
        return true;
    }
    !m.authority
        .iter()
        .any(|r| r.rtype == RType::SOA || r.rtype == RType::NS)
}

/// True when any RRSIG in the message is outside its validity period right now. Reads the
/// clock only when there is a signature to check.
fn has_stale_signature(m: &Message) -> bool {
    let mut now = None;
    let sections = [&m.answer, &m.authority, &m.additional];
    sections
        .into_iter()
        .flat_map(|s: &Vec<Record>| s.iter())
        .filter(|r| r.rtype == RType::RRSIG)
        .any(|r| {
            let now = *now.get_or_insert_with(unix_now);
            signature_window(&r.data)
                .is_some_and(|(inception, expiration)| !within_window(inception, expiration, now))
        })
}

/// Inception and expiration of RRSIG RDATA (RFC 4034 section 3.1).
fn signature_window(data: &RData) -> Option<(u32, u32)> {
    let RData::Opaque(raw) = data else {
        return None;
    };
    let field = |at: usize| -> Option<u32> {
        raw.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    Some((field(12)?, field(8)?))
}

/// Whether `now` lies in [inception, expiration], each 32-bit time shifted by whole
/// 2^31-second windows exactly as CoreDNS's DNS library does (miekg/dns
/// `RRSIG.ValidityPeriod`), so both servers classify the same records the same way.
pub(super) fn within_window(inception: u32, expiration: u32, now: i64) -> bool {
    const WINDOW: i64 = 1 << 31;
    let unfold = |t: u32| {
        let t = i64::from(t);
        t + (t - now) / WINDOW * WINDOW
    };
    unfold(inception) <= now && now <= unfold(expiration)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
pub(super) mod test_support {
    /// RRSIG RDATA with the given validity window (other fields fixed).
    pub fn rrsig_rdata(inception: u32, expiration: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&1u16.to_be_bytes()); // type covered: A
        v.extend_from_slice(&[13, 2]); // algorithm, labels
        v.extend_from_slice(&300u32.to_be_bytes()); // original TTL
        v.extend_from_slice(&expiration.to_be_bytes());
        v.extend_from_slice(&inception.to_be_bytes());
        v.extend_from_slice(&12345u16.to_be_bytes()); // key tag
        v.push(0); // signer: root
        v.extend_from_slice(&[0xAB; 64]); // signature
        v
    }

    /// Seconds since the epoch, as the check reads them.
    pub fn now() -> i64 {
        super::unix_now()
    }
}
