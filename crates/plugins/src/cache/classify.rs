//! What kind of reply came back, whether it may be kept, and for how long.
//!
//! The cache decides three things about every reply from the rest of the chain, and CoreDNS's
//! answers to them are observable (which replies a client sees repeated, with which TTL), so
//! they are reproduced rule for rule: the classification of a reply (positive, name error,
//! no data, delegation, server error, ...), the conditions under which it is not stored at
//! all, and the lowest TTL it carries. The functions only read the message and allocate
//! nothing.

use cairn_core::wire::name::MAX_NAME_LEN;
use cairn_core::wire::types::{OPCODE_NOTIFY, OPCODE_UPDATE};
use cairn_core::wire::{Message, RData, RType, Rcode, Record, CLASS_ANY};

/// The class of a reply, as CoreDNS's `response.Typify` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A positive answer (or NOERROR without SOA nor NS).
    NoError,
    /// NXDOMAIN.
    NameError,
    /// SERVFAIL or NOTIMP: cached for the `servfail` duration.
    ServerError,
    /// NOERROR with an SOA in the authority section and nothing answering the question.
    NoData,
    /// NOERROR with NS records in the authority section and no answer.
    Delegation,
    /// A zone transfer or NOTIFY: never cached.
    Meta,
    /// A dynamic update: never cached.
    Update,
    /// Anything else (REFUSED, FORMERR, NXDOMAIN with answers, expired signatures).
    OtherError,
}

/// The type of a record (records built from typed data may leave `rtype` at 0).
pub(crate) fn rtype_of(r: &Record) -> RType {
    if r.rtype.0 == 0 {
        r.data.natural_type()
    } else {
        r.rtype
    }
}

fn has_soa(m: &Message) -> bool {
    m.authority.iter().any(|r| rtype_of(r) == RType::SOA)
}

/// Classifies a reply to a question of type `qtype`. Signatures are checked when DNSSEC was
/// asked for (`dnssec_ok`, or the reply's own OPT); `now_unix` is only read then.
pub(crate) fn typify(
    m: &Message,
    qtype: RType,
    dnssec_ok: bool,
    now_unix: impl Fn() -> i64,
) -> Kind {
    if m.opcode == OPCODE_UPDATE {
        return Kind::Update;
    }
    if m.opcode == OPCODE_NOTIFY {
        return Kind::Meta;
    }
    let qtype = m.question.as_ref().map_or(qtype, |q| q.qtype);
    if qtype == RType::AXFR || qtype == RType::IXFR {
        return Kind::Meta;
    }
    let dnssec_ok = dnssec_ok || m.edns.as_ref().is_some_and(|e| e.dnssec_ok);
    if dnssec_ok && has_expired_signature(m, now_unix()) {
        return Kind::OtherError;
    }
    if !m.answer.is_empty() {
        if m.rcode == Rcode::NOERROR {
            return Kind::NoError;
        }
        if m.rcode == Rcode::NXDOMAIN {
            return Kind::OtherError;
        }
        // Other rcodes with answers go through the checks below, as in CoreDNS.
    }
    let soa = has_soa(m);
    let ns = m.authority.iter().any(|r| rtype_of(r) == RType::NS);
    if soa && m.rcode == Rcode::NOERROR {
        Kind::NoData
    } else if m.rcode == Rcode::NXDOMAIN {
        Kind::NameError
    } else if m.rcode == Rcode::SERVFAIL || m.rcode == Rcode::NOTIMP {
        Kind::ServerError
    } else if ns && m.rcode == Rcode::NOERROR {
        Kind::Delegation
    } else if m.rcode == Rcode::NOERROR {
        Kind::NoError
    } else {
        Kind::OtherError
    }
}

/// The classification the cache uses: like [`typify`], except that a NOERROR reply whose
/// answer does not answer the question (a CNAME chain that ends elsewhere) but carries an
/// SOA is no data.
pub(crate) fn cache_kind(
    m: &Message,
    q: &Question<'_>,
    dnssec_ok: bool,
    now_unix: impl Fn() -> i64,
) -> Kind {
    let kind = typify(m, q.qtype, dnssec_ok, now_unix);
    if kind == Kind::NoError && has_soa(m) && is_nodata(m, q) {
        return Kind::NoData;
    }
    kind
}

/// Whether a reply of `kind` may be stored at all (before zones and durations are looked at).
pub(crate) fn storable(m: &Message, kind: Kind, q: &Question<'_>) -> bool {
    if m.flags.tc {
        return false;
    }
    match kind {
        Kind::OtherError | Kind::Meta | Kind::Update => false,
        // A negative answer needs its SOA: that is where its lifetime comes from.
        Kind::NameError => has_soa(m),
        // An answer that does not answer and has no SOA to bound a negative TTL (an
        // unfinished CNAME chain from an upstream) is asked again next time (RFC 2308 5).
        Kind::NoError => has_soa(m) || !is_nodata(m, q),
        _ => true,
    }
}

/// The lowest TTL of the reply's records, at most `max`; 5 seconds for kinds whose records do
/// not say how long the reply holds, or for a reply without records.
pub(crate) fn minimal_ttl(m: &Message, kind: Kind, max: u32) -> u32 {
    const FAIL_SAFE: u32 = 5;
    if !matches!(kind, Kind::NoError | Kind::NameError | Kind::NoData) {
        return FAIL_SAFE;
    }
    if m.answer.is_empty() && m.authority.is_empty() && m.additional.is_empty() {
        return FAIL_SAFE;
    }
    m.answer
        .iter()
        .chain(&m.authority)
        .chain(&m.additional)
        .map(|r| r.ttl)
        .fold(max, u32::min)
}

/// The question a reply is checked against.
#[derive(Clone, Copy)]
pub(crate) struct Question<'a> {
    pub name: &'a [u8],
    pub qtype: RType,
    pub qclass: u16,
}

impl<'a> Question<'a> {
    /// The reply's own question if it has one (a reply parsed from an upstream), else
    /// `asked` (a reply built for the request, which the server writes the question of).
    pub(crate) fn of_reply(m: &'a Message, asked: Question<'a>) -> Question<'a> {
        m.question.as_ref().map_or(asked, |q| Question {
            name: q.name.wire(),
            qtype: q.qtype,
            qclass: q.qclass,
        })
    }
}

fn class_matches(rr_class: u16, qclass: u16) -> bool {
    qclass == CLASS_ANY || rr_class == qclass
}

/// True when a NOERROR reply answers its question: for types other than CNAME and ANY, a
/// record of the asked type at the end of the CNAME chain that starts at the question name.
pub(crate) fn answers_question(m: &Message, q: &Question<'_>) -> bool {
    if m.rcode != Rcode::NOERROR || m.answer.is_empty() {
        return false;
    }
    let answer = &m.answer;
    if q.qtype == RType::ANY {
        return answer.iter().any(|r| {
            class_matches(r.class, q.qclass) && r.name.wire().eq_ignore_ascii_case(q.name)
        });
    }
    if q.qtype == RType::CNAME {
        return matches!(cname_target(answer, q.name, q.qclass), Ok(Some(_)));
    }
    // Follow the chain; more steps than records means a loop.
    let mut owner = [0u8; MAX_NAME_LEN];
    let mut len = q.name.len().min(MAX_NAME_LEN);
    owner[..len].copy_from_slice(&q.name[..len]);
    for _ in 0..=answer.len() {
        match cname_target(answer, &owner[..len], q.qclass) {
            // More than one distinct target: no well-defined end of the chain.
            Err(()) => return false,
            Ok(None) => {
                let end = &owner[..len];
                return answer.iter().any(|r| {
                    rtype_of(r) == q.qtype
                        && class_matches(r.class, q.qclass)
                        && r.name.wire().eq_ignore_ascii_case(end)
                });
            }
            Ok(Some(target)) => {
                let t = target.wire();
                len = t.len().min(MAX_NAME_LEN);
                owner[..len].copy_from_slice(&t[..len]);
            }
        }
    }
    false
}

/// The CNAME target of `owner` in `answer`: `Ok(None)` without a CNAME, `Err` when the owner
/// has several distinct targets.
fn cname_target<'m>(
    answer: &'m [Record],
    owner: &[u8],
    qclass: u16,
) -> Result<Option<&'m cairn_core::wire::Name>, ()> {
    let mut found: Option<&cairn_core::wire::Name> = None;
    for r in answer {
        let RData::Cname(target) = &r.data else {
            continue;
        };
        if !class_matches(r.class, qclass) || !r.name.wire().eq_ignore_ascii_case(owner) {
            continue;
        }
        match found {
            Some(t) if !t.eq_ignore_case(target) => return Err(()),
            _ => found = Some(target),
        }
    }
    Ok(found)
}

/// NOERROR with answers that do not answer the question.
fn is_nodata(m: &Message, q: &Question<'_>) -> bool {
    !m.answer.is_empty() && !answers_question(m, q)
}

/// True when some RRSIG of the reply is outside its validity period at `now` (RFC 4034 3.1.5
/// serial arithmetic, as miekg/dns's `ValidityPeriod`).
fn has_expired_signature(m: &Message, now: i64) -> bool {
    const YEAR68: i64 = 1 << 31;
    m.answer
        .iter()
        .chain(&m.authority)
        .chain(&m.additional)
        .filter(|r| rtype_of(r) == RType::RRSIG)
        .any(|r| {
            let RData::Opaque(raw) = &r.data else {
                return false;
            };
            let Some(times) = raw.get(8..16) else {
                return false;
            };
            let expiration =
                i64::from(u32::from_be_bytes([times[0], times[1], times[2], times[3]]));
            let inception = i64::from(u32::from_be_bytes([times[4], times[5], times[6], times[7]]));
            let ti = inception + ((inception - now) / YEAR68) * YEAR68;
            let te = expiration + ((expiration - now) / YEAR68) * YEAR68;
            !(ti <= now && now <= te)
        })
}
