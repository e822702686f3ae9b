//! Malformed packets against the real server: each is answered FORMERR (same id) when its
//! header is readable and it is a query, or gets no answer when the header is unreadable or it
//! is a response — never anything else, never a crash. A well-formed query of an unknown class
//! is REFUSED. After every corpus the server still answers a normal query.

mod common;

use std::time::Duration;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

const COREFILE: &str = "example.org {\n    whoami\n}\n";

/// What the server must do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// No reply at all.
    Silence,
    /// One reply: FORMERR with the packet's id.
    FormErr,
    /// One reply with this (header) rcode and the packet's id.
    Rcode(u8),
}

// ---------------------------------------------------------------------------------------------
// Packet building
// ---------------------------------------------------------------------------------------------

fn header(id: u16, flags: u16, qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut h = Vec::with_capacity(12);
    for v in [id, flags, qd, an, ns, ar] {
        h.extend_from_slice(&v.to_be_bytes());
    }
    h
}

/// `a.example.org.` in wire form.
fn qname() -> Vec<u8> {
    b"\x01a\x07example\x03org\x00".to_vec()
}

/// Header + question `a.example.org. A IN` with the given counts after the question.
fn query_with(id: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut p = header(id, 0x0100, 1, an, ns, ar);
    p.extend(qname());
    p.extend_from_slice(&[0, 1, 0, 1]);
    p
}

/// An OPT record: owner, class = UDP size, TTL = ext rcode/version/flags, RDATA as given.
fn opt(owner: &[u8], size: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut r = owner.to_vec();
    r.extend_from_slice(&41u16.to_be_bytes());
    r.extend_from_slice(&size.to_be_bytes());
    r.extend_from_slice(&ttl.to_be_bytes());
    r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    r.extend_from_slice(rdata);
    r
}

/// An A record owned by the question name (compressed pointer to offset 12).
fn a_record() -> Vec<u8> {
    let mut r = vec![0xC0, 0x0C];
    r.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
    r
}

fn valid_query(id: u16) -> Vec<u8> {
    query_with(id, 0, 0, 0)
}

fn with_question_name(id: u16, name: &[u8]) -> Vec<u8> {
    let mut p = header(id, 0x0100, 1, 0, 0, 0);
    p.extend_from_slice(name);
    p.extend_from_slice(&[0, 1, 0, 1]);
    p
}

/// The named corpus: (name, packet, expected outcome).
// One push per case reads as a table; a vec! literal of 20 tuples with comments would not.
#[allow(clippy::vec_init_then_push)]
fn corpus() -> Vec<(&'static str, Vec<u8>, Expect)> {
    use Expect::*;
    let mut c: Vec<(&'static str, Vec<u8>, Expect)> = Vec::new();

    c.push(("empty datagram", vec![], Silence));
    c.push((
        "truncated header (5 bytes)",
        vec![0x12, 0x34, 0x01, 0x00, 0x00],
        Silence,
    ));
    c.push((
        "truncated header (11 bytes)",
        header(0x1111, 0x0100, 1, 0, 0, 0)[..11].to_vec(),
        Silence,
    ));
    c.push((
        "header only, QDCOUNT=1",
        header(0x2001, 0x0100, 1, 0, 0, 0),
        FormErr,
    ));
    c.push((
        "header only, QDCOUNT=0",
        header(0x2002, 0x0100, 0, 0, 0, 0),
        FormErr,
    ));

    let mut p = header(0x2003, 0x0100, 1, 0, 0, 0);
    p.push(70);
    p.extend(std::iter::repeat_n(b'a', 70));
    p.extend_from_slice(&[0, 0, 1, 0, 1]);
    c.push(("label length 70 (0x46: reserved label type 01)", p, FormErr));

    let mut p = header(0x2004, 0x0100, 1, 0, 0, 0);
    p.push(0x80 | 3);
    p.extend_from_slice(b"abc\x00\x00\x01\x00\x01");
    c.push(("label type 10 (reserved)", p, FormErr));

    let mut p = header(0x2005, 0x0100, 1, 0, 0, 0);
    p.extend_from_slice(b"\x0aabc");
    c.push(("label running past the end", p, FormErr));

    let mut p = header(0x2006, 0x0100, 1, 0, 0, 0);
    p.extend_from_slice(b"\x03org");
    c.push(("name without a root label at the end", p, FormErr));

    c.push((
        "compression loop (pointer to itself)",
        with_question_name(0x2007, &[0xC0, 0x0C]),
        FormErr,
    ));

    // 12: 0x01 'a' ptr->17 ; 16: pad ; 17: 0x01 'b' ptr->12 : a loop through a forward pointer.
    let mut p = header(0x2008, 0x0100, 1, 0, 0, 0);
    p.extend_from_slice(&[0x01, b'a', 0xC0, 17, 0x00, 0x01, b'b', 0xC0, 12, 0, 1, 0, 1]);
    c.push((
        "two-name compression loop via a forward pointer",
        p,
        FormErr,
    ));

    let mut p = header(0x2009, 0x0100, 1, 0, 0, 0);
    p.extend_from_slice(&[0xC0, 14, 0x00, 0x00, 1, 0x00, 1]);
    c.push(("forward pointer in the question", p, FormErr));

    c.push((
        "pointer beyond the message",
        with_question_name(0x200A, &[0xC0, 0xFF]),
        FormErr,
    ));
    c.push((
        "pointer to offset 0x3FFF",
        with_question_name(0x200B, &[0xFF, 0xFF]),
        FormErr,
    ));

    let mut p = header(0x200C, 0x0100, 1, 0, 0, 0);
    p.push(0xC0);
    c.push(("pointer cut after its first byte", p, FormErr));

    let mut long = Vec::new();
    for _ in 0..5 {
        long.push(63);
        long.extend(std::iter::repeat_n(b'x', 63));
    }
    long.push(0);
    c.push((
        "name longer than 255 bytes (321)",
        with_question_name(0x200D, &long),
        FormErr,
    ));

    // 256 bytes: 63+63+63+62 label bytes + 4 length bytes + root = 256.
    let mut n256 = Vec::new();
    for len in [63usize, 63, 63, 62] {
        n256.push(len as u8);
        n256.extend(std::iter::repeat_n(b'y', len));
    }
    n256.push(0);
    assert_eq!(n256.len(), 256);
    c.push((
        "name of 256 bytes",
        with_question_name(0x200E, &n256),
        FormErr,
    ));

    let mut qd2 = header(0x200F, 0x0100, 2, 0, 0, 0);
    for _ in 0..2 {
        qd2.extend(qname());
        qd2.extend_from_slice(&[0, 1, 0, 1]);
    }
    c.push(("QDCOUNT=2 with two questions", qd2, FormErr));

    let mut p = valid_query(0x2010);
    p[5] = 0;
    c.push(("QDCOUNT=0 with a question", p, FormErr));

    let mut p = valid_query(0x2011);
    p.truncate(p.len() - 2);
    c.push(("question without its class", p, FormErr));

    let mut p = valid_query(0x2012);
    p.truncate(p.len() - 3);
    c.push(("question cut inside its type", p, FormErr));

    let mut p = query_with(0x2013, 1, 0, 0);
    p.extend(opt(&[0], 1232, 0, &[]));
    c.push(("OPT in the answer section", p, FormErr));

    let mut p = query_with(0x2014, 0, 1, 0);
    p.extend(opt(&[0], 1232, 0, &[]));
    c.push(("OPT in the authority section", p, FormErr));

    let mut p = query_with(0x2015, 0, 0, 2);
    p.extend(opt(&[0], 1232, 0, &[]));
    p.extend(opt(&[0], 1232, 0, &[]));
    c.push(("two OPT records", p, FormErr));

    let mut p = query_with(0x2016, 0, 0, 1);
    p.extend(opt(b"\x03foo\x00", 1232, 0, &[]));
    c.push(("OPT with a non-root owner", p, FormErr));

    let mut p = query_with(0x2017, 0, 0, 1);
    p.extend(opt(&[0], 1232, 0, &[0, 10, 0, 8, 1, 2, 3, 4]));
    c.push(("EDNS option length overrunning the OPT RDATA", p, FormErr));

    let mut p = query_with(0x2018, 0, 0, 1);
    p.extend(opt(&[0], 1232, 0, &[0, 10]));
    c.push(("EDNS option header cut short", p, FormErr));

    let mut p = query_with(0x2019, 0, 0, 1);
    let mut o = opt(&[0], 1232, 0, &[]);
    let at = o.len() - 2;
    o[at..].copy_from_slice(&20u16.to_be_bytes());
    p.extend(o);
    c.push(("OPT RDLENGTH past the end of the message", p, FormErr));

    let mut p = query_with(0x201A, 1, 0, 0);
    let mut r = a_record();
    r.truncate(r.len() - 2);
    p.extend(r);
    c.push(("answer record cut inside its RDATA", p, FormErr));

    c.push((
        "ANCOUNT=1 but no record",
        query_with(0x201B, 1, 0, 0),
        FormErr,
    ));
    c.push((
        "ARCOUNT=65535 but no records",
        query_with(0x201C, 0, 0, 0xFFFF),
        FormErr,
    ));

    let mut p = query_with(0x201D, 0, 0, 1);
    p.extend(opt(&[0], 1232, 0, &[]));
    p.extend_from_slice(&[0xde, 0xad, 0xbe]);
    c.push(("garbage bytes after the message (with OPT)", p, FormErr));

    let mut p = valid_query(0x201E);
    p.push(0);
    c.push(("one zero byte after the message", p, FormErr));

    let mut p = valid_query(0x201F);
    p.resize(5000, 0xAB);
    c.push(("oversized 5000-byte datagram", p, FormErr));

    let mut p = query_with(0x2020, 0, 0, 0);
    let at = p.len() - 2;
    p[at..].copy_from_slice(&0x1234u16.to_be_bytes());
    c.push(("unknown class 0x1234 (well-formed)", p, Rcode(5)));

    let mut p = query_with(0x2021, 0, 0, 0);
    let at = p.len() - 2;
    p[at..].copy_from_slice(&255u16.to_be_bytes());
    c.push(("class ANY (well-formed)", p, Rcode(5)));

    let mut p = valid_query(0x2022);
    p[2] |= 0x80;
    c.push(("a response (QR=1), well-formed", p, Silence));

    let mut p = header(0x2023, 0x8000, 7, 7, 7, 7);
    p.extend_from_slice(&[0xC0, 0xC0, 0xFF]);
    c.push(("a response (QR=1), garbage body", p, Silence));

    let mut p = header(0x2024, 0x7900, 1, 0, 0, 0);
    p.extend_from_slice(&[0xC0, 0x0C]);
    c.push(("opcode 15 with a looping name", p, FormErr));

    let mut p = query_with(0x2025, 0, 0, 1);
    p.extend(opt(&[0], 1232, 0x0001_0000, &[0, 10, 0, 99]));
    c.push(("EDNS version 1 with an overrunning option", p, FormErr));

    c
}

/// Sends one packet and returns the replies it got (see [`UdpClient::fenced`]); when a reply
/// is expected but none came before the fence, waits a little longer for it.
fn outcome(client: &UdpClient, packet: &[u8], expect: Expect) -> Vec<Vec<u8>> {
    let mut got = client.fenced(packet);
    if got.is_empty() && expect != Expect::Silence {
        if let Some(r) = client.recv(Duration::from_millis(500)) {
            got.push(r);
        }
    }
    got
}

/// Checks one outcome; returns a description of the failure if any.
fn check(name: &str, packet: &[u8], expect: Expect, got: &[Vec<u8>]) -> Result<(), String> {
    let show = |g: &[Vec<u8>]| -> String {
        g.iter()
            .map(|r| format!("{r:02x?}"))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    match expect {
        Expect::Silence => {
            if got.is_empty() {
                Ok(())
            } else {
                Err(format!("{name}: expected no answer, got {}", show(got)))
            }
        }
        Expect::FormErr | Expect::Rcode(_) => {
            let want = if let Expect::Rcode(r) = expect { r } else { 1 };
            let [r] = got else {
                return Err(format!(
                    "{name}: expected one reply with rcode {want}, got {} replies: {}",
                    got.len(),
                    show(got)
                ));
            };
            if r.len() < 12 {
                return Err(format!("{name}: reply shorter than a header: {r:02x?}"));
            }
            if id_of(r) != id_of(packet) {
                return Err(format!(
                    "{name}: reply id {:#06x} != {:#06x}",
                    id_of(r),
                    id_of(packet)
                ));
            }
            if r[2] & 0x80 == 0 {
                return Err(format!("{name}: reply without QR: {r:02x?}"));
            }
            if header_rcode(r) != want {
                return Err(format!(
                    "{name}: expected rcode {want}, got {} in {r:02x?}",
                    header_rcode(r)
                ));
            }
            // The opcode and RD are copied.
            if (r[2] & 0x79) != (packet[2] & 0x79) {
                return Err(format!("{name}: opcode/RD not copied: {r:02x?}"));
            }
            if let Err(e) = hickory_proto::op::Message::from_vec(r) {
                return Err(format!("{name}: reply does not parse ({e}): {r:02x?}"));
            }
            Ok(())
        }
    }
}

fn assert_alive(srv: &Server) {
    let q = query("alive.example.org.", RecordType::A);
    let r = srv.query_udp(&q);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
    assert_eq!(r.additionals.len(), 2, "{r}");
    let r = srv.query_tcp(&q);
    assert_eq!(r.metadata.response_code, ResponseCode::NoError, "{r}");
}

#[test]
fn named_corpus_over_udp() {
    let srv = Server::start(COREFILE);
    let client = srv.udp();
    let mut failures = Vec::new();
    for (name, packet, expect) in corpus() {
        let got = outcome(&client, &packet, expect);
        if let Err(e) = check(name, &packet, expect, &got) {
            failures.push(e);
        }
    }
    // No stray late replies.
    if let Some(r) = client.recv(Duration::from_millis(300)) {
        failures.push(format!("late stray reply: {r:02x?}"));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_alive(&srv);
}

#[test]
fn boundary_name_of_255_bytes_is_a_valid_query() {
    let srv = Server::start(COREFILE);
    let client = srv.udp();
    // 63+63+63+61 label bytes + 4 length bytes + root = 255: the longest legal name. Outside
    // the served zone it is routed (REFUSED), not rejected as malformed.
    let mut name = Vec::new();
    for len in [63usize, 63, 63, 61] {
        name.push(len as u8);
        name.extend(std::iter::repeat_n(b'z', len));
    }
    name.push(0);
    assert_eq!(name.len(), 255);
    let p = with_question_name(0x3001, &name);
    let got = outcome(&client, &p, Expect::Rcode(5));
    check("name of exactly 255 bytes", &p, Expect::Rcode(5), &got).unwrap();
    // And a 255-byte name under the served zone is answered by whoami.
    let mut name = Vec::new();
    for len in [63usize, 63, 63, 49] {
        name.push(len as u8);
        name.extend(std::iter::repeat_n(b'w', len));
    }
    name.extend_from_slice(b"\x07example\x03org\x00");
    assert_eq!(name.len(), 255);
    let p = with_question_name(0x3002, &name);
    let got = outcome(&client, &p, Expect::Rcode(0));
    check("255-byte name in example.org", &p, Expect::Rcode(0), &got).unwrap();
}

#[test]
fn record_with_compressed_owner_in_additional_is_accepted() {
    // A legal backward pointer (to the question name) in a record's owner: a valid query.
    let srv = Server::start(COREFILE);
    let client = srv.udp();
    let mut p = query_with(0x3101, 0, 0, 1);
    p.extend(a_record());
    let got = outcome(&client, &p, Expect::Rcode(0));
    check(
        "A record in additional, owner compressed",
        &p,
        Expect::Rcode(0),
        &got,
    )
    .unwrap();
}

/// Frames one message for TCP.
fn framed(bytes: &[u8]) -> Vec<u8> {
    let mut f = (bytes.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(bytes);
    f
}

#[test]
fn named_corpus_over_tcp() {
    let srv = Server::start(COREFILE);
    let picks = [
        "empty datagram",
        "truncated header (5 bytes)",
        "header only, QDCOUNT=1",
        "compression loop (pointer to itself)",
        "QDCOUNT=2 with two questions",
        "two OPT records",
        "OPT with a non-root owner",
        "EDNS option length overrunning the OPT RDATA",
        "garbage bytes after the message (with OPT)",
        "oversized 5000-byte datagram",
        "unknown class 0x1234 (well-formed)",
        "a response (QR=1), garbage body",
    ];
    let mut failures = Vec::new();
    let mut conn = srv.tcp();
    for (name, packet, expect) in corpus().into_iter().filter(|c| picks.contains(&c.0)) {
        // Bad message, then a good one on the same connection: the first frame read back
        // tells whether the bad one was answered.
        let good = query("after.example.org.", RecordType::A);
        assert!(packet.len() < 2 || id_of(&packet) != good.metadata.id);
        let mut both = framed(&packet);
        both.extend(framed(&to_wire(&good)));
        std::io::Write::write_all(&mut conn.stream, &both).expect("write");
        let mut got = Vec::new();
        loop {
            let Some(r) = conn.read_frame(REPLY_TIMEOUT) else {
                failures.push(format!("{name}: connection closed or timed out"));
                conn = srv.tcp();
                break;
            };
            if r.len() >= 2 && id_of(&r) == good.metadata.id {
                break;
            }
            got.push(r);
        }
        if let Err(e) = check(name, &packet, expect, &got) {
            failures.push(format!("TCP {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_alive(&srv);
}

#[test]
fn tcp_frame_of_65535_zero_bytes_gets_formerr() {
    let srv = Server::start(COREFILE);
    let mut conn = srv.tcp();
    let zeros = vec![0u8; 65535];
    conn.send_frame(&zeros);
    let r = conn
        .read_frame(REPLY_TIMEOUT)
        .expect("a reply to the 64 KiB frame");
    check(
        "65535 zero bytes (id 0, QDCOUNT=0)",
        &zeros,
        Expect::FormErr,
        &[r],
    )
    .unwrap();
    // The connection is still served.
    let q = query("next.example.org.", RecordType::A);
    let r = conn.query(&q);
    assert_eq!(r.metadata.id, q.metadata.id);
    assert_alive(&srv);
}

/// A client may pipeline a maximum-size (65535-byte) message and another query in one write
/// (RFC 7766 6.2.1.1). Both must be answered and the connection must stay open.
#[test]
fn tcp_max_frame_pipelined_with_a_query_both_answered() {
    let srv = Server::start(COREFILE);
    let mut conn = srv.tcp();
    let q = query("next.example.org.", RecordType::A);
    let mut both = framed(&vec![0u8; 65535]);
    both.extend(framed(&to_wire(&q)));
    std::io::Write::write_all(&mut conn.stream, &both).expect("write");
    let r1 = conn
        .read_frame(REPLY_TIMEOUT)
        .expect("reply to the 64 KiB frame");
    assert_eq!(header_rcode(&r1), 1);
    let r2 = conn
        .read_frame(REPLY_TIMEOUT)
        .expect("reply to the query after it");
    assert_eq!(id_of(&r2), q.metadata.id);
    // The connection must stay open for more.
    let q = query("more.example.org.", RecordType::A);
    conn.send_frame(&to_wire(&q));
    let r3 = conn.read_frame(REPLY_TIMEOUT);
    assert!(
        r3.is_some(),
        "the server closed the connection after answering a pipelined 65535-byte frame and a \
         query sent in one write"
    );
    assert_eq!(id_of(&r3.unwrap_or_default()), q.metadata.id);
}

#[test]
fn tcp_half_frame_then_close_does_not_hurt() {
    let srv = Server::start(COREFILE);
    for cut in [1usize, 2, 10, 20] {
        let mut conn = srv.tcp();
        let f = framed(&valid_query(0x4000 + cut as u16));
        std::io::Write::write_all(&mut conn.stream, &f[..cut.min(f.len() - 1)]).expect("write");
        drop(conn);
    }
    // A length prefix promising more than ever comes, then the client waits: the server
    // must not answer anything.
    let mut conn = srv.tcp();
    std::io::Write::write_all(&mut conn.stream, &[0x01, 0x00, 0xAB]).expect("write");
    assert!(conn.read_frame(Duration::from_millis(300)).is_none());
    assert_alive(&srv);
}

// ---------------------------------------------------------------------------------------------
// Random packets
// ---------------------------------------------------------------------------------------------

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// True when the reply's question section (uncompressed, as the server writes it) is the
/// packet's question byte for byte, and the packet has exactly one question.
fn question_echoed(packet: &[u8], reply: &[u8]) -> bool {
    if packet.len() < 12 || u16::from_be_bytes([packet[4], packet[5]]) != 1 {
        return false;
    }
    let mut pos = 12;
    loop {
        match reply.get(pos) {
            Some(0) => break,
            Some(&len) if len < 64 => pos += 1 + usize::from(len),
            _ => return false,
        }
    }
    let end = pos + 1 + 4;
    reply.get(12..end).is_some() && reply.get(12..end) == packet.get(12..end)
}

/// A query with EDNS and an option, as a base for mutations.
fn rich_query(id: u16) -> Vec<u8> {
    let mut p = query_with(id, 0, 0, 1);
    p.extend(opt(
        &[0],
        1232,
        0x8000,
        &[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8],
    ));
    p
}

fn random_packet(rng: &mut Rng, i: usize) -> Vec<u8> {
    match i % 4 {
        // Pure noise, mostly short.
        0 => {
            let len = if rng.below(4) == 0 {
                rng.below(600)
            } else {
                rng.below(40)
            };
            (0..len).map(|_| rng.byte()).collect()
        }
        // Noise behind a plausible query header (QR=0, QDCOUNT=1): reaches the name parser.
        1 => {
            let mut p = header(rng.next() as u16, 0x0100, 1, 0, 0, rng.below(2) as u16);
            let len = rng.below(80);
            p.extend((0..len).map(|_| {
                // Bias toward length bytes and pointers.
                match rng.below(4) {
                    0 => 0xC0 | (rng.byte() & 0x0F),
                    1 => rng.byte() & 0x3F,
                    _ => rng.byte(),
                }
            }));
            p
        }
        // A valid query with a few bytes changed.
        2 => {
            let mut p = if rng.below(2) == 0 {
                valid_query(rng.next() as u16)
            } else {
                rich_query(rng.next() as u16)
            };
            for _ in 0..=rng.below(4) {
                let at = 2 + rng.below(p.len() - 2);
                p[at] = rng.byte();
            }
            p
        }
        // A valid query cut short or extended.
        _ => {
            let mut p = rich_query(rng.next() as u16);
            if rng.below(2) == 0 {
                p.truncate(rng.below(p.len()));
            } else {
                for _ in 0..=rng.below(8) {
                    p.push(rng.byte());
                }
            }
            p
        }
    }
}

#[test]
fn random_packets_get_formerr_or_silence() {
    let srv = Server::start(COREFILE);
    let client = srv.udp();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut failures = Vec::new();
    let (mut silent, mut formerr, mut other) = (0usize, 0usize, 0usize);
    for i in 0..2000 {
        let p = random_packet(&mut rng, i);
        let dropped = p.len() < 12 || p[2] & 0x80 != 0;
        let expect = if dropped {
            Expect::Silence
        } else {
            Expect::FormErr
        };
        let got = outcome(&client, &p, expect);
        if dropped {
            silent += 1;
            if let Err(e) = check("random", &p, expect, &got) {
                failures.push(format!("#{i} {e}"));
            }
            continue;
        }
        // A mutation may still be a well-formed query: then any rcode is fine, as long as the
        // reply echoes the question exactly as asked and parses.
        match got.as_slice() {
            [r] if r.len() >= 12 && header_rcode(r) != 1 => {
                other += 1;
                if id_of(r) != id_of(&p)
                    || !question_echoed(&p, r)
                    || hickory_proto::op::Message::from_vec(r).is_err()
                {
                    failures.push(format!(
                        "#{i} answered rcode {} to {p:02x?}: {r:02x?}",
                        header_rcode(r)
                    ));
                }
            }
            _ => {
                formerr += 1;
                if let Err(e) = check("random", &p, expect, &got) {
                    failures.push(format!("#{i} {e} (packet {p:02x?})"));
                }
            }
        }
    }
    if let Some(r) = client.recv(Duration::from_millis(300)) {
        failures.push(format!("late stray reply: {r:02x?}"));
    }
    println!("random corpus: {silent} silent, {formerr} FORMERR, {other} answered as valid");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_alive(&srv);
}
