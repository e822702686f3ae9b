//! A loaded zone and the authoritative lookup over it (RFC 1034 section 4.3.2, as CoreDNS's
//! *file* plugin does it).
//!
//! Names are kept in one hash map from lower-case wire bytes to a node holding that name's
//! RRsets. Every name between a record's owner and the apex is present too (as an empty
//! non-terminal when it owns nothing), so "does this name exist", "what is the closest
//! encloser" and "is there a wildcard here" are each one hash lookup per label, and the whole
//! lookup runs on slices of the query name without allocating. Answers are clones of stored
//! [`Record`]s (names are inline or shared), pushed into the reply's pooled vectors.
//!
//! Nodes are also kept in DNSSEC canonical order, which gives the transfer order for free.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use cairn_core::wire::name::{is_subdomain_wire, parent_wire};
use cairn_core::wire::{Message, Name, NameBuf, RData, RType, Record, Soa};

use super::zonefile::ZoneError;

/// How many CNAME/DNAME indirections one lookup follows before giving up (CoreDNS: 8).
pub(crate) const MAX_CHASE: usize = 8;

/// A small, fast hasher for wire names. Zone contents come from the operator, and queries
/// cannot add keys, so a keyed hash buys nothing here.
#[derive(Default, Clone, Copy)]
pub(crate) struct NameHasher(u64);

impl Hasher for NameHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write(&(n as u64).to_le_bytes());
    }

    #[inline]
    fn finish(&self) -> u64 {
        // Spread the high bits down: hashbrown takes its control bits from the top.
        self.0 ^ (self.0 >> 29)
    }
}

type NameMap = HashMap<Name, u32, BuildHasherDefault<NameHasher>>;

/// The records of one type at one name.
#[derive(Debug, Clone)]
pub struct RRset {
    pub rtype: RType,
    pub records: Box<[Record]>,
}

/// One name of the zone: its RRsets, empty for an empty non-terminal.
#[derive(Debug, Clone)]
pub struct Node {
    /// Lower-case owner name.
    pub name: Name,
    pub rrsets: Box<[RRset]>,
    /// NS records below the apex: a delegation point.
    cut: bool,
    /// Owns a DNAME.
    dname: bool,
}

impl Node {
    /// The records of type `rtype`.
    #[inline]
    pub fn get(&self, rtype: RType) -> &[Record] {
        self.rrsets
            .iter()
            .find(|s| s.rtype == rtype)
            .map_or(&[], |s| &s.records)
    }

    /// True for an empty non-terminal.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.rrsets.is_empty()
    }
}

/// What a lookup found; the caller turns it into rcode, flags and sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Records in the answer section (possibly only a CNAME chain leaving the zone).
    Answer,
    /// The apex NS RRset: answer, glue, no authority section.
    ApexNs,
    /// The name exists but not with this type.
    NoData,
    /// The name is an empty non-terminal (CoreDNS answers NOERROR with the SOA and lets
    /// `fallthrough` pass it on, like a missing name).
    EmptyNonTerminal,
    /// No such name.
    NameError,
    /// Below a zone cut: a referral to the delegation at this node.
    Delegation(u32),
    /// A DNAME substitution made a name longer than 255 bytes (RFC 6672 section 2.2).
    YxDomain,
    /// A loop or a broken zone.
    ServerFailure,
}

/// A zone loaded from a file.
#[derive(Debug)]
pub struct Zone {
    origin: Name,
    file: PathBuf,
    soa: Record,
    /// The SOA as it goes in the authority section of negative answers: TTL lowered to the
    /// SOA minimum when that is smaller (RFC 2308 section 3).
    negative_soa: Record,
    apex_ns: Box<[Record]>,
    /// In canonical order.
    nodes: Box<[Node]>,
    index: NameMap,
    /// Any delegation or DNAME below the apex: lookups then walk down from the apex.
    has_cuts: bool,
    /// File modification time when it was read.
    pub(crate) mtime: Option<SystemTime>,
}

impl Zone {
    /// Builds a zone from records read for `origin` (lower-cased here). Records outside the
    /// origin are dropped (and counted in the returned number); identical records are kept
    /// once. Fails without an SOA.
    pub fn build(
        origin: &Name,
        file: PathBuf,
        records: Vec<Record>,
    ) -> Result<(Zone, usize), ZoneError> {
        let origin = origin.to_lowercase();
        let file_name = file.display().to_string();
        let mut by_name: HashMap<Name, Vec<Record>, BuildHasherDefault<NameHasher>> =
            HashMap::default();
        let mut soa: Option<Record> = None;
        let mut dropped = 0usize;
        for mut r in records {
            r.name = r.name.to_lowercase();
            match &mut r.data {
                RData::Ns(n) | RData::Cname(n) => *n = n.to_lowercase(),
                RData::Mx { exchange, .. } => *exchange = exchange.to_lowercase(),
                RData::Soa(s) => {
                    let lower = Soa {
                        mname: s.mname.to_lowercase(),
                        rname: s.rname.to_lowercase(),
                        ..(**s).clone()
                    };
                    *s = Arc::new(lower);
                }
                _ => {}
            }
            if !r.name.is_subdomain_of(&origin) {
                dropped += 1;
                continue;
            }
            if r.rtype == RType::SOA {
                // Like CoreDNS, the last SOA wins.
                soa = Some(r);
                continue;
            }
            let list = by_name.entry(r.name.clone()).or_default();
            if !list.contains(&r) {
                list.push(r);
            }
        }
        let Some(soa) = soa else {
            return Err(ZoneError::new(
                file_name,
                0,
                format!("no SOA record for origin {origin}"),
            ));
        };
        by_name
            .entry(soa.name.clone())
            .or_default()
            .insert(0, soa.clone());
        // Empty non-terminals: every name between an owner and the apex, and the apex.
        let owners: Vec<Name> = by_name.keys().cloned().collect();
        by_name.entry(origin.clone()).or_default();
        for owner in owners {
            let mut wire = owner.wire();
            while let Some(parent) = parent_wire(wire) {
                if parent.len() < origin.wire().len() {
                    break;
                }
                if let Ok(n) = Name::from_wire(parent) {
                    by_name.entry(n).or_default();
                }
                wire = parent;
            }
        }

        let mut names: Vec<Name> = by_name.keys().cloned().collect();
        names.sort_by_cached_key(|n| canonical_key(n.wire()));
        let mut nodes = Vec::with_capacity(names.len());
        let mut index = NameMap::default();
        index.reserve(names.len());
        let mut has_cuts = false;
        for name in names {
            let records = by_name.remove(&name).unwrap_or_default();
            let mut rrsets: Vec<RRset> = Vec::new();
            let mut grouped: Vec<(RType, Vec<Record>)> = Vec::new();
            for r in records {
                match grouped.iter_mut().find(|(t, _)| *t == r.rtype) {
                    Some((_, v)) => v.push(r),
                    None => grouped.push((r.rtype, vec![r])),
                }
            }
            for (rtype, v) in grouped {
                rrsets.push(RRset {
                    rtype,
                    records: v.into_boxed_slice(),
                });
            }
            let is_apex = name == origin;
            let cut = !is_apex && rrsets.iter().any(|s| s.rtype == RType::NS);
            let dname = rrsets.iter().any(|s| s.rtype == RType::DNAME);
            has_cuts |= cut || dname;
            let id = u32::try_from(nodes.len()).map_err(|_| {
                ZoneError::new(file.display().to_string(), 0, "too many names".to_string())
            })?;
            index.insert(name.clone(), id);
            nodes.push(Node {
                name,
                rrsets: rrsets.into_boxed_slice(),
                cut,
                dname,
            });
        }
        let apex_ns: Box<[Record]> = index
            .get(origin.wire())
            .and_then(|&i| nodes.get(i as usize))
            .map(|n| n.get(RType::NS).into())
            .unwrap_or_default();
        let mut negative_soa = soa.clone();
        if let RData::Soa(s) = &soa.data {
            negative_soa.ttl = soa.ttl.min(s.minimum);
        }
        Ok((
            Zone {
                origin,
                file,
                soa,
                negative_soa,
                apex_ns,
                nodes: nodes.into_boxed_slice(),
                index,
                has_cuts,
                mtime: None,
            },
            dropped,
        ))
    }

    /// The zone's origin, lower case.
    pub fn origin(&self) -> &Name {
        &self.origin
    }

    /// The file the zone was read from.
    pub fn file(&self) -> &std::path::Path {
        &self.file
    }

    /// The SOA record.
    pub fn soa(&self) -> &Record {
        &self.soa
    }

    /// The SOA serial.
    pub fn serial(&self) -> u32 {
        match &self.soa.data {
            RData::Soa(s) => s.serial,
            _ => 0,
        }
    }

    /// Number of names, empty non-terminals included.
    pub fn name_count(&self) -> usize {
        self.nodes.len()
    }

    /// Every record in transfer (AXFR) order: the SOA first, then the apex's other records,
    /// then the other names in canonical order. The closing SOA of a transfer is not repeated.
    pub fn records(&self) -> impl Iterator<Item = &Record> + '_ {
        let soa_owner = self.soa.name.clone();
        std::iter::once(&self.soa).chain(
            self.nodes
                .iter()
                .flat_map(|n| n.rrsets.iter())
                .flat_map(|s| s.records.iter())
                .filter(move |r| !(r.rtype == RType::SOA && r.name == soa_owner)),
        )
    }

    /// The node named by lower-case wire bytes.
    #[inline]
    pub fn node(&self, lower: &[u8]) -> Option<&Node> {
        self.index
            .get(lower)
            .and_then(|&i| self.nodes.get(i as usize))
    }

    /// True when `lower` is the origin or below it.
    #[inline]
    pub fn contains(&self, lower: &[u8]) -> bool {
        is_subdomain_wire(lower, self.origin.wire())
    }

    /// Answers `qtype` for `qlower` (the lower-cased query name, inside this zone) into `out`:
    /// answer records (owners equal to the query name spelled as `qname`), then the
    /// authority and additional sections that go with the outcome. Header flags and rcode are
    /// the caller's.
    pub fn lookup(&self, qlower: &[u8], qname: &Name, qtype: RType, out: &mut Message) -> Outcome {
        let outcome = self.find(qlower, qname, qtype, 0, &mut out.answer);
        match outcome {
            Outcome::Answer => {
                out.authority.extend(self.apex_ns.iter().cloned());
                self.additional(&out.answer, &mut out.additional);
            }
            Outcome::ApexNs => {
                for r in &out.answer {
                    if let RData::Ns(target) = &r.data {
                        self.glue(target, self.origin.wire(), &mut out.additional);
                    }
                }
            }
            Outcome::NoData | Outcome::NameError | Outcome::EmptyNonTerminal => {
                out.authority.push(self.negative_soa.clone());
            }
            Outcome::Delegation(id) => {
                if let Some(cut) = self.nodes.get(id as usize) {
                    let ns = cut.get(RType::NS);
                    out.authority.extend(ns.iter().cloned());
                    for r in ns {
                        if let RData::Ns(target) = &r.data {
                            self.glue(target, cut.name.wire(), &mut out.additional);
                        }
                    }
                }
            }
            Outcome::YxDomain | Outcome::ServerFailure => {}
        }
        outcome
    }

    /// The core of the lookup: fills `answer` and says what was found.
    fn find(
        &self,
        qlower: &[u8],
        qname: &Name,
        qtype: RType,
        depth: usize,
        answer: &mut Vec<Record>,
    ) -> Outcome {
        if depth > MAX_CHASE {
            return Outcome::ServerFailure;
        }
        // The closest encloser of a missing name.
        let encloser = if self.has_cuts {
            match self.walk_down(qlower, qname, qtype, depth, answer) {
                Walk::Done(outcome) => return outcome,
                Walk::Found(node) => return self.exact(node, qname, qtype, depth, answer),
                Walk::Missing(encloser) => encloser,
            }
        } else {
            if let Some(node) = self.node(qlower) {
                return self.exact(node, qname, qtype, depth, answer);
            }
            let mut missing = qlower;
            loop {
                let Some(parent) = parent_wire(missing) else {
                    return Outcome::NameError;
                };
                if parent.len() < self.origin.wire().len() {
                    return Outcome::NameError;
                }
                if let Some(node) = self.node(parent) {
                    break node;
                }
                missing = parent;
            }
        };
        // Wildcard at the closest encloser (RFC 4592).
        let mut star = NameBuf::new();
        if star.push_label(b"*").is_err() || star.append_wire(encloser.name.wire()).is_err() {
            return Outcome::NameError;
        }
        let Some(wild) = self.node(star.wire()) else {
            return Outcome::NameError;
        };
        if wild.is_empty() {
            return Outcome::NoData;
        }
        self.answer_from(wild, qname, qtype, depth, answer)
    }

    /// Walks from the apex down the query name, stopping at DNAMEs and zone cuts.
    fn walk_down<'z>(
        &'z self,
        qlower: &[u8],
        qname: &Name,
        qtype: RType,
        depth: usize,
        answer: &mut Vec<Record>,
    ) -> Walk<'z> {
        // Label start offsets of the query name, leftmost first.
        let mut starts = [0u8; 128];
        let mut n = 0usize;
        let mut at = 0usize;
        while let Some(&len) = qlower.get(at) {
            if len == 0 || n == starts.len() {
                break;
            }
            starts[n] = at as u8;
            n += 1;
            at += 1 + len as usize;
        }
        let origin_len = self.origin.wire().len();
        // Suffixes from the apex down to the full name.
        let mut encloser: Option<&Node> = None;
        let mut i = n + 1;
        while i > 0 {
            i -= 1;
            let start = if i == n {
                qlower.len().saturating_sub(1)
            } else {
                starts[i] as usize
            };
            let suffix = &qlower[start..];
            if suffix.len() < origin_len {
                continue;
            }
            let Some(node) = self.node(suffix) else {
                return match encloser {
                    Some(e) => Walk::Missing(e),
                    None => Walk::Done(Outcome::NameError),
                };
            };
            let exact = start == 0;
            if node.dname && !exact {
                return Walk::Done(self.dname(node, qlower, start, qname, qtype, depth, answer));
            }
            if node.cut && !(qtype == RType::DS && exact) {
                return Walk::Done(self.delegation(node));
            }
            if exact {
                return Walk::Found(node);
            }
            encloser = Some(node);
        }
        Walk::Done(Outcome::NameError)
    }

    fn delegation(&self, node: &Node) -> Outcome {
        match self.index.get(node.name.wire()) {
            Some(&id) => Outcome::Delegation(id),
            None => Outcome::ServerFailure,
        }
    }

    /// The name exists: its records, a CNAME to follow, or nothing of this type.
    fn exact(
        &self,
        node: &Node,
        qname: &Name,
        qtype: RType,
        depth: usize,
        answer: &mut Vec<Record>,
    ) -> Outcome {
        if node.is_empty() {
            return Outcome::EmptyNonTerminal;
        }
        let outcome = self.answer_from(node, qname, qtype, depth, answer);
        if outcome == Outcome::Answer && qtype == RType::NS && node.name == self.origin {
            return Outcome::ApexNs;
        }
        outcome
    }

    /// Answers from `node` (the query name itself, or the wildcard that stands for it), with
    /// owners spelled as `owner`.
    fn answer_from(
        &self,
        node: &Node,
        owner: &Name,
        qtype: RType,
        depth: usize,
        answer: &mut Vec<Record>,
    ) -> Outcome {
        if qtype == RType::ANY {
            for set in node.rrsets.iter() {
                push_as(answer, &set.records, owner);
            }
            return if node.is_empty() {
                Outcome::NoData
            } else {
                Outcome::Answer
            };
        }
        if qtype != RType::CNAME {
            let cname = node.get(RType::CNAME);
            if let Some(first) = cname.first() {
                push_as(answer, cname, owner);
                return match &first.data {
                    RData::Cname(target) => self.chase(target, qtype, depth + 1, answer),
                    _ => Outcome::Answer,
                };
            }
        }
        let records = node.get(qtype);
        if records.is_empty() {
            return Outcome::NoData;
        }
        push_as(answer, records, owner);
        Outcome::Answer
    }

    /// Follows a CNAME to `target` (CoreDNS's external lookup, done inside the zone).
    fn chase(
        &self,
        target: &Name,
        qtype: RType,
        depth: usize,
        answer: &mut Vec<Record>,
    ) -> Outcome {
        let mut lower = NameBuf::new();
        let mut target = target;
        for _ in 0..=MAX_CHASE {
            lower.set_wire_lowercase(target.wire());
            let tl = lower.wire();
            if !self.contains(tl) {
                // Out of zone: CoreDNS asks the server's upstream here. The handler continues
                // into its other zones; otherwise the chain ends here.
                return Outcome::Answer;
            }
            let node = self.node(tl);
            if self.has_cuts {
                if let Some(cut) = self.find_cut(tl, qtype, node) {
                    return self.delegation(cut);
                }
            }
            let node = match node {
                Some(n)
                    if !n.is_empty()
                        && qtype != RType::NS
                        && !(qtype == RType::SOA && tl == self.origin.wire()) =>
                {
                    n
                }
                // Not an exact, plain name: resolve it in full (wildcards, NXDOMAIN, ...).
                _ => {
                    let outcome = self.find(tl, target, qtype, depth, answer);
                    return match outcome {
                        Outcome::ApexNs => Outcome::Answer,
                        Outcome::EmptyNonTerminal => Outcome::NoData,
                        o => o,
                    };
                }
            };
            let cname = node.get(RType::CNAME);
            if let Some(first) = cname.first() {
                if qtype != RType::CNAME {
                    answer.extend(cname.iter().cloned());
                    if let RData::Cname(next) = &first.data {
                        target = next;
                        continue;
                    }
                    return Outcome::Answer;
                }
            }
            if qtype == RType::ANY {
                for set in node.rrsets.iter() {
                    answer.extend(set.records.iter().cloned());
                }
            } else {
                answer.extend(node.get(qtype).iter().cloned());
            }
            return Outcome::Answer;
        }
        Outcome::Answer
    }

    /// The highest zone cut on the way from the apex to `tl` (CoreDNS's findDelegation).
    fn find_cut<'z>(
        &'z self,
        tl: &[u8],
        qtype: RType,
        exact: Option<&'z Node>,
    ) -> Option<&'z Node> {
        let origin_len = self.origin.wire().len();
        // Collect the ancestors below the apex, then test them from the top.
        let mut ancestors: [&[u8]; 128] = [&[]; 128];
        let mut n = 0;
        let mut wire = tl;
        while wire.len() > origin_len && n < ancestors.len() {
            ancestors[n] = wire;
            n += 1;
            match parent_wire(wire) {
                Some(p) => wire = p,
                None => break,
            }
        }
        while n > 0 {
            n -= 1;
            let name = ancestors[n];
            let is_target = name.len() == tl.len();
            let node = if is_target { exact } else { self.node(name) };
            if let Some(node) = node {
                if node.cut && !(qtype == RType::DS && is_target) {
                    return Some(node);
                }
            }
        }
        None
    }

    /// DNAME substitution (RFC 6672): the DNAME, a CNAME synthesised for the query name, and
    /// whatever that CNAME leads to.
    #[allow(clippy::too_many_arguments)]
    fn dname(
        &self,
        node: &Node,
        qlower: &[u8],
        owner_start: usize,
        qname: &Name,
        qtype: RType,
        depth: usize,
        answer: &mut Vec<Record>,
    ) -> Outcome {
        let Some(dname) = node.get(RType::DNAME).first() else {
            return Outcome::ServerFailure;
        };
        let RData::Dname(target) = &dname.data else {
            return Outcome::ServerFailure;
        };
        let mut buf = NameBuf::new();
        if buf.append_wire(&qlower[..owner_start]).is_err()
            || buf.append_wire(target.wire()).is_err()
        {
            answer.push(dname.clone());
            return Outcome::YxDomain;
        }
        let new_target = buf.to_name();
        if new_target.wire().eq_ignore_ascii_case(qlower) {
            return Outcome::ServerFailure;
        }
        answer.push(dname.clone());
        answer.push(Record {
            name: qname.clone(),
            rtype: RType::CNAME,
            class: dname.class,
            ttl: dname.ttl,
            data: RData::Cname(new_target.clone()),
        });
        if qtype == RType::CNAME {
            return Outcome::Answer;
        }
        match self.chase(&new_target, qtype, depth + 1, answer) {
            Outcome::EmptyNonTerminal => Outcome::NoData,
            o => o,
        }
    }

    /// A and AAAA of in-zone MX, SRV, SVCB and HTTPS targets, each target once.
    fn additional(&self, answer: &[Record], out: &mut Vec<Record>) {
        for (i, r) in answer.iter().enumerate() {
            let Some(target) = additional_target(r) else {
                continue;
            };
            if !is_subdomain_wire(target, self.origin.wire()) {
                continue;
            }
            let seen = answer[..i]
                .iter()
                .any(|p| additional_target(p).is_some_and(|t| t.eq_ignore_ascii_case(target)));
            if !seen {
                self.addresses(target, out);
            }
        }
    }

    /// Glue: addresses of `target` when it lies under `below`.
    fn glue(&self, target: &Name, below: &[u8], out: &mut Vec<Record>) {
        if is_subdomain_wire(target.wire(), below) {
            self.addresses(target.wire(), out);
        }
    }

    fn addresses(&self, target: &[u8], out: &mut Vec<Record>) {
        let mut lower = NameBuf::new();
        lower.set_wire_lowercase(target);
        if let Some(node) = self.node(lower.wire()) {
            out.extend(node.get(RType::A).iter().cloned());
            out.extend(node.get(RType::AAAA).iter().cloned());
        }
    }
}

/// Where walking down from the apex ended.
enum Walk<'z> {
    /// Decided on the way (a referral, a DNAME).
    Done(Outcome),
    /// The query name exists.
    Found(&'z Node),
    /// The query name does not exist; this is its closest encloser.
    Missing(&'z Node),
}

/// The name whose addresses go in the additional section with this answer record.
fn additional_target(r: &Record) -> Option<&[u8]> {
    match (&r.data, r.rtype) {
        (RData::Mx { exchange, .. }, RType::MX) => Some(exchange.wire()),
        (RData::Srv { target, .. }, RType::SRV) => Some(target.wire()),
        (RData::Opaque(raw), RType::SVCB | RType::HTTPS) => {
            // Priority, then the uncompressed target name.
            let name = raw.get(2..)?;
            let mut at = 0;
            loop {
                let len = *name.get(at)? as usize;
                if len == 0 {
                    return name.get(..=at);
                }
                if len > 63 {
                    return None;
                }
                at += 1 + len;
            }
        }
        _ => None,
    }
}

/// Pushes clones of `records` with `owner` as their owner name.
#[inline]
fn push_as(out: &mut Vec<Record>, records: &[Record], owner: &Name) {
    for r in records {
        out.push(Record {
            name: owner.clone(),
            rtype: r.rtype,
            class: r.class,
            ttl: r.ttl,
            data: r.data.clone(),
        });
    }
}

/// DNSSEC canonical order of lower-case wire names (RFC 4034 section 6.1).
pub fn canonical_cmp(a: &[u8], b: &[u8]) -> Ordering {
    canonical_key(a).cmp(&canonical_key(b))
}

/// A key whose plain order is the canonical order: the labels from the right, each byte
/// shifted up by one and each label ended by a 0, so a label sorts before its extensions.
fn canonical_key(wire: &[u8]) -> Vec<u16> {
    let mut labels: Vec<&[u8]> = Vec::new();
    let mut at = 0;
    while let Some(&len) = wire.get(at) {
        if len == 0 {
            break;
        }
        labels.push(wire.get(at + 1..at + 1 + len as usize).unwrap_or(&[]));
        at += 1 + len as usize;
    }
    let mut key = Vec::with_capacity(wire.len() + 1);
    for label in labels.iter().rev() {
        key.extend(label.iter().map(|&b| u16::from(b) + 1));
        key.push(0);
    }
    key
}
