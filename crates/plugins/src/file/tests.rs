//! Case tables ported from CoreDNS's plugin/file tests (lookup, delegation, wildcard, glue,
//! DNAME, ENT, escapes, additional-section processing), the zone-file reader, reload, setup,
//! and a random-input test for the reader.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cairn_core::testing::{lines, on_the_wire, query, run, setup, StubNext};
use cairn_core::wire::{Message, Name, RData, RType, Rcode, Record};
use cairn_core::zones::Fallthrough;
use cairn_core::Chain;

use super::reload::Reloaded;
use super::setup::{go_duration, parse_duration};
use super::zone::canonical_cmp;
use super::zonefile::{ZoneParser, MAX_INCLUDE_DEPTH};
use super::{rdata, File, Zone, ZoneSlot};
use crate::registry::spec;

// ---------------------------------------------------------------------------------------
// Helpers

fn name(s: &str) -> Name {
    Name::parse(s, None).unwrap()
}

fn parse(text: &str, origin: &str) -> Result<Vec<Record>, super::ZoneError> {
    ZoneParser::new(text.as_bytes().to_vec(), name(origin), Path::new("stdin"))
        .without_include()
        .read_all()
}

fn zone(text: &str, origin: &str) -> Zone {
    let records = parse(text, origin).unwrap_or_else(|e| panic!("zone parses: {e}"));
    Zone::build(&name(origin), PathBuf::from("stdin"), records)
        .unwrap()
        .0
}

/// A chain of a `file` handler over one zone, then a stub answering SERVFAIL.
fn chain_with(text: &str, origin: &str, fall: Fallthrough) -> (Chain, Arc<StubNext>) {
    let slot = ZoneSlot::new(
        name(origin),
        PathBuf::from("stdin"),
        Duration::ZERO,
        false,
        Some(zone(text, origin)),
    );
    let next = StubNext::new(Rcode::SERVFAIL);
    let chain = Chain::new(vec![
        Arc::new(File::new(vec![Arc::new(slot)], fall)),
        next.clone(),
    ]);
    (chain, next)
}

fn chain(text: &str, origin: &str) -> Chain {
    chain_with(text, origin, Fallthrough::none()).0
}

/// Asks and returns the reply as the plugin built it, after checking that it survives
/// encoding (the encoder compresses case-insensitively, so on the wire other names may take
/// the question's case; the plugin's own names are checked here).
fn ask(chain: &Chain, qname: &str, qtype: RType) -> Message {
    let (req, result) = run(chain, query(qname, qtype));
    let msg = result.unwrap_or_else(|e| panic!("{qname} {qtype}: {e}"));
    let wire = on_the_wire(&req, &msg);
    assert_eq!(wire.rcode, msg.rcode);
    assert_eq!(wire.flags, msg.flags);
    assert_eq!(wire.answer.len(), msg.answer.len());
    assert_eq!(wire.authority.len(), msg.authority.len());
    assert_eq!(wire.additional.len(), msg.additional.len());
    for (w, m) in wire.answer.iter().zip(&msg.answer) {
        assert!(w.name.eq_ignore_case(&m.name));
        assert_eq!(w.ttl, m.ttl);
    }
    msg
}

/// One expected reply.
struct Case {
    qname: &'static str,
    qtype: RType,
    rcode: Rcode,
    aa: bool,
    answer: &'static [&'static str],
    ns: &'static [&'static str],
    extra: &'static [&'static str],
}

const fn ok(
    qname: &'static str,
    qtype: RType,
    answer: &'static [&'static str],
    ns: &'static [&'static str],
    extra: &'static [&'static str],
) -> Case {
    Case {
        qname,
        qtype,
        rcode: Rcode::NOERROR,
        aa: true,
        answer,
        ns,
        extra,
    }
}

const fn neg(qname: &'static str, qtype: RType, rcode: Rcode, ns: &'static [&'static str]) -> Case {
    Case {
        qname,
        qtype,
        rcode,
        aa: true,
        answer: &[],
        ns,
        extra: &[],
    }
}

fn check(chain: &Chain, cases: &[Case]) {
    for c in cases {
        let m = ask(chain, c.qname, c.qtype);
        let what = format!("{} {}", c.qname, c.qtype);
        assert_eq!(m.rcode, c.rcode, "{what}: rcode");
        assert_eq!(m.flags.aa, c.aa, "{what}: aa");
        assert_eq!(lines(&m.answer), c.answer, "{what}: answer");
        assert_eq!(lines(&m.authority), c.ns, "{what}: authority");
        assert_eq!(lines(&m.additional), c.extra, "{what}: additional");
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cairn-file-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------------------------------
// Zones (from CoreDNS's tests)

const DB_MIEK_NL: &str = "
$TTL    30M
$ORIGIN miek.nl.
@       IN      SOA     linode.atoom.net. miek.miek.nl. (
                             1282630057 ; Serial
                             4H         ; Refresh
                             1H         ; Retry
                             7D         ; Expire
                             4H )       ; Negative Cache TTL
                IN      NS      linode.atoom.net.
                IN      NS      ns-ext.nlnetlabs.nl.
                IN      NS      omval.tednet.nl.
                IN      NS      ext.ns.whyscream.net.

                IN      MX      1  aspmx.l.google.com.
                IN      MX      5  alt1.aspmx.l.google.com.
                IN      MX      5  alt2.aspmx.l.google.com.
                IN      MX      10 aspmx2.googlemail.com.
                IN      MX      10 aspmx3.googlemail.com.

\t\tIN      A       139.162.196.78
\t\tIN      AAAA    2a01:7e00::f03c:91ff:fef1:6735

a               IN      A       139.162.196.78
                IN      AAAA    2a01:7e00::f03c:91ff:fef1:6735
www             IN      CNAME   a
archive         IN      CNAME   a
*.x             IN      CNAME   www
b.x             IN      CNAME   a
*.y             IN      A       139.162.196.78
dname           IN      DNAME   x

srv\t\tIN\tSRV     10 10 8080 a.miek.nl.
mx\t\tIN\tMX      10 a.miek.nl.

txt     IN\tTXT     \"v=spf1 a mx ~all\"
caa     IN  CAA    0 issue letsencrypt.org
*.nodata    IN   A      139.162.196.79
ext-cname   IN   CNAME  example.com.";

const MIEK_AUTH: &[&str] = &[
    "miek.nl.\t1800\tIN\tNS\tlinode.atoom.net.",
    "miek.nl.\t1800\tIN\tNS\tns-ext.nlnetlabs.nl.",
    "miek.nl.\t1800\tIN\tNS\tomval.tednet.nl.",
    "miek.nl.\t1800\tIN\tNS\text.ns.whyscream.net.",
];

const MIEK_SOA: &[&str] = &[
    "miek.nl.\t1800\tIN\tSOA\tlinode.atoom.net. miek.miek.nl. 1282630057 14400 3600 604800 14400",
];

const A_ADDRS: &[&str] = &[
    "a.miek.nl.\t1800\tIN\tA\t139.162.196.78",
    "a.miek.nl.\t1800\tIN\tAAAA\t2a01:7e00::f03c:91ff:fef1:6735",
];

#[test]
fn lookup_miek_nl() {
    let c = chain(DB_MIEK_NL, "miek.nl.");
    check(
        &c,
        &[
            ok(
                "www.miek.nl.",
                RType::A,
                &[
                    "www.miek.nl.\t1800\tIN\tCNAME\ta.miek.nl.",
                    "a.miek.nl.\t1800\tIN\tA\t139.162.196.78",
                ],
                MIEK_AUTH,
                &[],
            ),
            ok(
                "www.miek.nl.",
                RType::AAAA,
                &[
                    "www.miek.nl.\t1800\tIN\tCNAME\ta.miek.nl.",
                    "a.miek.nl.\t1800\tIN\tAAAA\t2a01:7e00::f03c:91ff:fef1:6735",
                ],
                MIEK_AUTH,
                &[],
            ),
            ok("miek.nl.", RType::SOA, MIEK_SOA, MIEK_AUTH, &[]),
            ok(
                "miek.nl.",
                RType::AAAA,
                &["miek.nl.\t1800\tIN\tAAAA\t2a01:7e00::f03c:91ff:fef1:6735"],
                MIEK_AUTH,
                &[],
            ),
            // The answer keeps the query's spelling (CoreDNS answers in lower case).
            ok(
                "mIeK.NL.",
                RType::AAAA,
                &["mIeK.NL.\t1800\tIN\tAAAA\t2a01:7e00::f03c:91ff:fef1:6735"],
                MIEK_AUTH,
                &[],
            ),
            ok(
                "miek.nl.",
                RType::MX,
                &[
                    "miek.nl.\t1800\tIN\tMX\t1 aspmx.l.google.com.",
                    "miek.nl.\t1800\tIN\tMX\t5 alt1.aspmx.l.google.com.",
                    "miek.nl.\t1800\tIN\tMX\t5 alt2.aspmx.l.google.com.",
                    "miek.nl.\t1800\tIN\tMX\t10 aspmx2.googlemail.com.",
                    "miek.nl.\t1800\tIN\tMX\t10 aspmx3.googlemail.com.",
                ],
                MIEK_AUTH,
                &[],
            ),
            neg("a.miek.nl.", RType::SRV, Rcode::NOERROR, MIEK_SOA),
            neg("b.miek.nl.", RType::A, Rcode::NXDOMAIN, MIEK_SOA),
            ok(
                "srv.miek.nl.",
                RType::SRV,
                &["srv.miek.nl.\t1800\tIN\tSRV\t10 10 8080 a.miek.nl."],
                MIEK_AUTH,
                A_ADDRS,
            ),
            ok(
                "mx.miek.nl.",
                RType::MX,
                &["mx.miek.nl.\t1800\tIN\tMX\t10 a.miek.nl."],
                MIEK_AUTH,
                A_ADDRS,
            ),
            ok(
                "asterisk.x.miek.nl.",
                RType::CNAME,
                &["asterisk.x.miek.nl.\t1800\tIN\tCNAME\twww.miek.nl."],
                MIEK_AUTH,
                &[],
            ),
            neg("a.b.x.miek.nl.", RType::CNAME, Rcode::NXDOMAIN, MIEK_SOA),
            ok(
                "asterisk.y.miek.nl.",
                RType::A,
                &["asterisk.y.miek.nl.\t1800\tIN\tA\t139.162.196.78"],
                MIEK_AUTH,
                &[],
            ),
            ok(
                "foo.dname.miek.nl.",
                RType::CNAME,
                &[
                    "dname.miek.nl.\t1800\tIN\tDNAME\tx.miek.nl.",
                    "foo.dname.miek.nl.\t1800\tIN\tCNAME\tfoo.x.miek.nl.",
                ],
                MIEK_AUTH,
                &[],
            ),
            // CoreDNS resolves an out-of-zone target through the server; here the chain
            // stops at the zone's edge (CoreDNS's unit test, without a server, has SERVFAIL).
            ok(
                "ext-cname.miek.nl.",
                RType::A,
                &["ext-cname.miek.nl.\t1800\tIN\tCNAME\texample.com."],
                MIEK_AUTH,
                &[],
            ),
            ok(
                "txt.miek.nl.",
                RType::TXT,
                &["txt.miek.nl.\t1800\tIN\tTXT\t\"v=spf1 a mx ~all\""],
                MIEK_AUTH,
                &[],
            ),
            // CAA 0 issue "letsencrypt.org" in RFC 3597 form: flags, tag length, tag, value.
            ok(
                "caa.miek.nl.",
                RType::CAA,
                &["caa.miek.nl.\t1800\tIN\tCAA\t\\# 22 000569737375656c657473656e63727970742e6f7267"],
                MIEK_AUTH,
                &[],
            ),
            // ANY returns every RRset of the name.
            ok("a.miek.nl.", RType::ANY, A_ADDRS, MIEK_AUTH, A_ADDRS_NONE),
            // Wildcard NODATA (CoreDNS's TestLookUpNoDataResult).
            neg("wildcard.nodata.miek.nl.", RType::MX, Rcode::NOERROR, MIEK_SOA),
            // x.miek.nl. only exists as the parent of *.x: an empty non-terminal.
            neg("x.miek.nl.", RType::A, Rcode::NOERROR, MIEK_SOA),
        ],
    );
}

const A_ADDRS_NONE: &[&str] = &[];

#[test]
fn query_case_is_kept_only_for_the_query_name() {
    let c = chain(DB_MIEK_NL, "miek.nl.");
    let m = ask(&c, "WwW.MiEk.Nl.", RType::A);
    assert_eq!(
        lines(&m.answer),
        [
            "WwW.MiEk.Nl.\t1800\tIN\tCNAME\ta.miek.nl.",
            "a.miek.nl.\t1800\tIN\tA\t139.162.196.78",
        ]
    );
    let m = ask(&c, "Foo.X.Miek.NL.", RType::A);
    assert_eq!(m.answer[0].name.to_string(), "Foo.X.Miek.NL.");
    assert_eq!(m.answer.len(), 3, "{:?}", lines(&m.answer));
}

#[test]
fn fallthrough_tables() {
    // (fallthrough zones, qname, reaches next?, rcode when answered)
    let cases: &[(&[&str], &str, bool, Rcode)] = &[
        (&[], "doesnotexist.miek.nl.", true, Rcode::SERVFAIL),
        (&[], "x.miek.nl.", true, Rcode::SERVFAIL),
        (&["a.miek.nl."], "a.miek.nl.", false, Rcode::NOERROR),
        (
            &["a.miek.nl."],
            "doesnotexist.miek.nl.",
            false,
            Rcode::NXDOMAIN,
        ),
        (
            &["a.miek.nl."],
            "passthrough.a.miek.nl.",
            true,
            Rcode::SERVFAIL,
        ),
        (&["x.miek.nl."], "x.miek.nl.", true, Rcode::SERVFAIL),
        (
            &["x.miek.nl."],
            "wildcard.x.miek.nl.",
            false,
            Rcode::NOERROR,
        ),
        // NODATA for an existing name is answered, never passed on.
        (&[], "a.miek.nl.", false, Rcode::NOERROR),
    ];
    for (zones, qname, passes, rcode) in cases {
        let toks: Vec<cairn_corefile::Token> = zones
            .iter()
            .map(|z| cairn_corefile::Token {
                text: (*z).into(),
                file: "Corefile".into(),
                line: 1,
                quoted: false,
            })
            .collect();
        let fall = Fallthrough::parse(&toks).unwrap();
        let (c, next) = chain_with(DB_MIEK_NL, "miek.nl.", fall);
        let qtype = if *qname == "a.miek.nl." {
            RType::TXT
        } else {
            RType::A
        };
        let m = ask(&c, qname, qtype);
        assert_eq!(next.calls() == 1, *passes, "{zones:?} {qname}: next called");
        assert_eq!(m.rcode, *rcode, "{zones:?} {qname}");
    }
}

#[test]
fn outside_the_zone_goes_to_next_or_is_refused() {
    let (c, next) = chain_with(DB_MIEK_NL, "miek.nl.", Fallthrough::none());
    let m = ask(&c, "example.org.", RType::A);
    assert_eq!(m.rcode, Rcode::SERVFAIL);
    assert_eq!(next.calls(), 1);
    // Without a next plugin the file plugin refuses, as CoreDNS does.
    let slot = ZoneSlot::new(
        name("miek.nl."),
        PathBuf::from("stdin"),
        Duration::ZERO,
        false,
        Some(zone(DB_MIEK_NL, "miek.nl.")),
    );
    let alone = Chain::new(vec![Arc::new(File::new(
        vec![Arc::new(slot)],
        Fallthrough::none(),
    ))]);
    assert_eq!(ask(&alone, "example.org.", RType::A).rcode, Rcode::REFUSED);
    assert_eq!(ask(&alone, "miek.nl.", RType::AXFR).rcode, Rcode::REFUSED);
    assert_eq!(ask(&alone, "miek.nl.", RType::IXFR).rcode, Rcode::REFUSED);
}

const DB_MIEK_NL_DELEGATION: &str = "
$TTL    30M
$ORIGIN miek.nl.
@       IN      SOA     linode.atoom.net. miek.miek.nl. (
                             1282630057 ; Serial
                             4H         ; Refresh
                             1H         ; Retry
                             7D         ; Expire
                             4H )       ; Negative Cache TTL
                IN      NS      linode.atoom.net.
                IN      NS      ns-ext.nlnetlabs.nl.
                IN      NS      omval.tednet.nl.
                IN      NS      ext.ns.whyscream.net.

                IN      MX      1  aspmx.l.google.com.
                IN      MX      5  alt1.aspmx.l.google.com.
                IN      MX      5  alt2.aspmx.l.google.com.
                IN      MX      10 aspmx2.googlemail.com.
                IN      MX      10 aspmx3.googlemail.com.

delegated\tIN\tNS      a.delegated
\t\tIN\tNS      ns-ext.nlnetlabs.nl.
\t\tIN\tDS      10056 5 1 EE72CABD1927759CDDA92A10DBF431504B9E1F13

a.delegated     IN      TXT     \"obscured\"
                IN      A       139.162.196.78
                IN      AAAA    2a01:7e00::f03c:91ff:fef1:6735

a               IN      A       139.162.196.78
                IN      AAAA    2a01:7e00::f03c:91ff:fef1:6735
www             IN      CNAME   a
archive         IN      CNAME   a";

const DELEGATED_NS: &[&str] = &[
    "delegated.miek.nl.\t1800\tIN\tNS\ta.delegated.miek.nl.",
    "delegated.miek.nl.\t1800\tIN\tNS\tns-ext.nlnetlabs.nl.",
];

const DELEGATED_GLUE: &[&str] = &[
    "a.delegated.miek.nl.\t1800\tIN\tA\t139.162.196.78",
    "a.delegated.miek.nl.\t1800\tIN\tAAAA\t2a01:7e00::f03c:91ff:fef1:6735",
];

const fn referral(qname: &'static str, qtype: RType) -> Case {
    Case {
        qname,
        qtype,
        rcode: Rcode::NOERROR,
        aa: false,
        answer: &[],
        ns: DELEGATED_NS,
        extra: DELEGATED_GLUE,
    }
}

#[test]
fn delegations_give_referrals_with_glue() {
    let c = chain(DB_MIEK_NL_DELEGATION, "miek.nl.");
    check(
        &c,
        &[
            referral("a.delegated.miek.nl.", RType::TXT),
            referral("delegated.miek.nl.", RType::NS),
            referral("foo.delegated.miek.nl.", RType::A),
            referral("foo.delegated.miek.nl.", RType::TXT),
            referral("foo.delegated.miek.nl.", RType::SOA),
            referral("foo.delegated.miek.nl.", RType::DS),
            // DS at the cut is the parent's data.
            ok(
                "delegated.miek.nl.",
                RType::DS,
                &["delegated.miek.nl.\t1800\tIN\tDS\t\\# 24 27480501ee72cabd1927759cdda92a10dbf431504b9e1f13"],
                MIEK_AUTH,
                &[],
            ),
            ok("miek.nl.", RType::SOA, MIEK_SOA, MIEK_AUTH, &[]),
            neg("miek.nl.", RType::AAAA, Rcode::NOERROR, MIEK_SOA),
        ],
    );
}

const DB_ALIAS_DELEGATION: &str = "
$TTL 300
$ORIGIN example.org.
@\tIN SOA\tns.example.org. admin.example.org. 1 3600 600 86400 300
\tIN NS\tns.example.org.
ns\tIN A\t192.0.2.1

alias\tIN CNAME\thost.child.example.org.
chain\tIN CNAME\talias.example.org.
*.wild\tIN CNAME\thost.child.example.org.
child\tIN NS\tns.child.example.org.
ns.child\tIN A\t192.0.2.2
\t\tIN AAAA\t2001:db8::2

mapped\tIN DNAME\texample.org.
host\tIN NS\tns.host.example.org.
ns.host\tIN A\t192.0.2.3
\tIN AAAA\t2001:db8::3
";

const CHILD_NS: &[&str] = &["child.example.org.\t300\tIN\tNS\tns.child.example.org."];
const CHILD_GLUE: &[&str] = &[
    "ns.child.example.org.\t300\tIN\tA\t192.0.2.2",
    "ns.child.example.org.\t300\tIN\tAAAA\t2001:db8::2",
];
const HOST_NS: &[&str] = &["host.example.org.\t300\tIN\tNS\tns.host.example.org."];
const HOST_GLUE: &[&str] = &[
    "ns.host.example.org.\t300\tIN\tA\t192.0.2.3",
    "ns.host.example.org.\t300\tIN\tAAAA\t2001:db8::3",
];

#[test]
fn aliases_into_delegations() {
    let c = chain(DB_ALIAS_DELEGATION, "example.org.");
    check(
        &c,
        &[
            ok(
                "alias.example.org.",
                RType::A,
                &["alias.example.org.\t300\tIN\tCNAME\thost.child.example.org."],
                CHILD_NS,
                CHILD_GLUE,
            ),
            ok(
                "chain.example.org.",
                RType::A,
                &[
                    "chain.example.org.\t300\tIN\tCNAME\talias.example.org.",
                    "alias.example.org.\t300\tIN\tCNAME\thost.child.example.org.",
                ],
                CHILD_NS,
                CHILD_GLUE,
            ),
            ok(
                "name.wild.example.org.",
                RType::A,
                &["name.wild.example.org.\t300\tIN\tCNAME\thost.child.example.org."],
                CHILD_NS,
                CHILD_GLUE,
            ),
            ok(
                "host.mapped.example.org.",
                RType::A,
                &[
                    "mapped.example.org.\t300\tIN\tDNAME\texample.org.",
                    "host.mapped.example.org.\t300\tIN\tCNAME\thost.example.org.",
                ],
                HOST_NS,
                HOST_GLUE,
            ),
            ok(
                "host.mapped.example.org.",
                RType::NS,
                &[
                    "mapped.example.org.\t300\tIN\tDNAME\texample.org.",
                    "host.mapped.example.org.\t300\tIN\tCNAME\thost.example.org.",
                ],
                HOST_NS,
                HOST_GLUE,
            ),
            Case {
                qname: "host.child.example.org.",
                qtype: RType::A,
                rcode: Rcode::NOERROR,
                aa: false,
                answer: &[],
                ns: CHILD_NS,
                extra: CHILD_GLUE,
            },
        ],
    );
}

const DB_EXAMPLE_ORG: &str = "; example.org test file
$TTL 3600
example.org.\t\tIN\tSOA\tsns.dns.icann.org. noc.dns.icann.org. 2015082541 7200 3600 1209600 3600
example.org.\t\tIN\tNS\tb.iana-servers.net.
example.org.\t\tIN\tNS\ta.iana-servers.net.
example.org.\t\tIN\tA\t127.0.0.1
example.org.\t\tIN\tA\t127.0.0.2
*.w.example.org.        IN      TXT     \"Wildcard\"
a.b.c.w.example.org.    IN      TXT     \"Not a wildcard\"
*.c.example.org.        IN      TXT     \"c Wildcard\"
*.d.example.org.        IN      CNAME   alias.example.org.
alias.example.org.      IN      TXT     \"Wildcard CNAME expansion\"
";

const EXAMPLE_AUTH: &[&str] = &[
    "example.org.\t3600\tIN\tNS\tb.iana-servers.net.",
    "example.org.\t3600\tIN\tNS\ta.iana-servers.net.",
];
const EXAMPLE_SOA: &[&str] = &[
    "example.org.\t3600\tIN\tSOA\tsns.dns.icann.org. noc.dns.icann.org. 2015082541 7200 3600 1209600 3600",
];

#[test]
fn wildcards() {
    let c = chain(DB_EXAMPLE_ORG, "example.org.");
    check(
        &c,
        &[
            ok(
                "wild.w.example.org.",
                RType::TXT,
                &["wild.w.example.org.\t3600\tIN\tTXT\t\"Wildcard\""],
                EXAMPLE_AUTH,
                &[],
            ),
            ok(
                "wild.c.example.org.",
                RType::TXT,
                &["wild.c.example.org.\t3600\tIN\tTXT\t\"c Wildcard\""],
                EXAMPLE_AUTH,
                &[],
            ),
            ok(
                "wild.d.example.org.",
                RType::TXT,
                &[
                    "wild.d.example.org.\t3600\tIN\tCNAME\talias.example.org.",
                    "alias.example.org.\t3600\tIN\tTXT\t\"Wildcard CNAME expansion\"",
                ],
                EXAMPLE_AUTH,
                &[],
            ),
            ok(
                "alias.example.org.",
                RType::TXT,
                &["alias.example.org.\t3600\tIN\tTXT\t\"Wildcard CNAME expansion\""],
                EXAMPLE_AUTH,
                &[],
            ),
            ok(
                "a.b.c.w.example.org.",
                RType::TXT,
                &["a.b.c.w.example.org.\t3600\tIN\tTXT\t\"Not a wildcard\""],
                EXAMPLE_AUTH,
                &[],
            ),
            // c.w.example.org. is an empty non-terminal, so *.w does not cover it or the
            // names below it (RFC 4592 section 2.2.2).
            neg("c.w.example.org.", RType::TXT, Rcode::NOERROR, EXAMPLE_SOA),
            neg(
                "x.c.w.example.org.",
                RType::TXT,
                Rcode::NXDOMAIN,
                EXAMPLE_SOA,
            ),
            // The wildcard exists but without this type.
            neg("wild.w.example.org.", RType::A, Rcode::NOERROR, EXAMPLE_SOA),
        ],
    );
}

#[test]
fn apex_and_multiple_wildcards() {
    let apex = "$TTL 3600
example.org.\t\tIN\tSOA\tsns.dns.icann.org. noc.dns.icann.org. 2015082541 7200 3600 1209600 3600
example.org.\t\tIN\tNS\tb.iana-servers.net.
*.example.org.          IN      A       127.0.0.53
*.intern.example.org.   IN      A       127.0.1.52
foo.example.org.        IN      A       127.0.0.54
";
    let auth: &[&str] = &["example.org.\t3600\tIN\tNS\tb.iana-servers.net."];
    let c = chain(apex, "example.org.");
    for (q, want) in [
        (
            "foo.example.org.",
            "foo.example.org.\t3600\tIN\tA\t127.0.0.54",
        ),
        (
            "bar.example.org.",
            "bar.example.org.\t3600\tIN\tA\t127.0.0.53",
        ),
        (
            "bar.intern.example.org.",
            "bar.intern.example.org.\t3600\tIN\tA\t127.0.1.52",
        ),
    ] {
        let m = ask(&c, q, RType::A);
        assert_eq!(lines(&m.answer), [want], "{q}");
        assert_eq!(lines(&m.authority), auth, "{q}");
    }
}

#[test]
fn wildcard_respects_closer_empty_non_terminal() {
    let text = "$TTL 3600
example.org.             IN     SOA     sns.dns.icann.org. noc.dns.icann.org. 2015082541 7200 3600 1209600 3600
example.org.             IN     NS      b.iana-servers.net.
*.example.org.           IN     A       127.0.0.53
real.deeper.example.org. IN     A       127.0.0.54
";
    let c = chain(text, "example.org.");
    let m = ask(&c, "nonexistent.deeper.example.org.", RType::A);
    assert_eq!(m.rcode, Rcode::NXDOMAIN);
    assert!(m.answer.is_empty());
    let m = ask(&c, "nonexistent.example.org.", RType::A);
    assert_eq!(
        lines(&m.answer),
        ["nonexistent.example.org.\t3600\tIN\tA\t127.0.0.53"]
    );
}

const DB_ADDITIONAL: &str = "
$TTL 30M
$ORIGIN example.org.
@\tIN SOA\tns.example.org. admin.example.org. (
\t\t\t2024010100 ; serial
\t\t\t14400      ; refresh (4 hours)
\t\t\t3600       ; retry (1 hour)
\t\t\t604800     ; expire (1 week)
\t\t\t14400      ; minimum (4 hours)
\t\t\t)
\tIN NS\tns.example.org.

ns\t\tIN A\t192.0.2.1
host\t\tIN A\t192.0.2.10
\t\tIN AAAA\t2001:db8::10
other\t\tIN A\t192.0.2.20
\t\tIN AAAA\t2001:db8::20
mx\t\tIN MX\t10 host.example.org.
\t\tIN MX\t20 host.example.org.
srv\t\tIN SRV\t10 50 8080 host.example.org.
\t\tIN SRV\t20 50 8080 host.example.org.
mixed\t\tIN SRV\t10 50 8080 host.example.org.
\t\tIN SRV\t20 50 8080 HOST.EXAMPLE.ORG.
two\t\tIN MX\t10 host.example.org.
\t\tIN MX\t20 other.example.org.
cname-srv\tIN CNAME\tsrv.example.org.
*.wild\t\tIN CNAME\tsrv.example.org.
*.mxwild\tIN MX\t10 host.example.org.
dname\t\tIN DNAME\tdsub.example.org.
srv.dsub\tIN SRV\t10 50 8080 host.example.org.
";

const ADD_AUTH: &[&str] = &["example.org.\t1800\tIN\tNS\tns.example.org."];
const HOST: &[&str] = &[
    "host.example.org.\t1800\tIN\tA\t192.0.2.10",
    "host.example.org.\t1800\tIN\tAAAA\t2001:db8::10",
];
const SRVS: [&str; 2] = [
    "srv.example.org.\t1800\tIN\tSRV\t10 50 8080 host.example.org.",
    "srv.example.org.\t1800\tIN\tSRV\t20 50 8080 host.example.org.",
];

#[test]
fn additional_section_processing() {
    let c = chain(DB_ADDITIONAL, "example.org.");
    check(
        &c,
        &[
            ok(
                "mx.example.org.",
                RType::MX,
                &[
                    "mx.example.org.\t1800\tIN\tMX\t10 host.example.org.",
                    "mx.example.org.\t1800\tIN\tMX\t20 host.example.org.",
                ],
                ADD_AUTH,
                HOST,
            ),
            ok("srv.example.org.", RType::SRV, &SRVS, ADD_AUTH, HOST),
            ok(
                "two.example.org.",
                RType::MX,
                &[
                    "two.example.org.\t1800\tIN\tMX\t10 host.example.org.",
                    "two.example.org.\t1800\tIN\tMX\t20 other.example.org.",
                ],
                ADD_AUTH,
                &[
                    "host.example.org.\t1800\tIN\tA\t192.0.2.10",
                    "host.example.org.\t1800\tIN\tAAAA\t2001:db8::10",
                    "other.example.org.\t1800\tIN\tA\t192.0.2.20",
                    "other.example.org.\t1800\tIN\tAAAA\t2001:db8::20",
                ],
            ),
            ok(
                "cname-srv.example.org.",
                RType::SRV,
                &[
                    "cname-srv.example.org.\t1800\tIN\tCNAME\tsrv.example.org.",
                    SRVS[0],
                    SRVS[1],
                ],
                ADD_AUTH,
                HOST,
            ),
            ok(
                "foo.wild.example.org.",
                RType::SRV,
                &[
                    "foo.wild.example.org.\t1800\tIN\tCNAME\tsrv.example.org.",
                    SRVS[0],
                    SRVS[1],
                ],
                ADD_AUTH,
                HOST,
            ),
            ok(
                "foo.mxwild.example.org.",
                RType::MX,
                &["foo.mxwild.example.org.\t1800\tIN\tMX\t10 host.example.org."],
                ADD_AUTH,
                HOST,
            ),
            ok(
                "srv.dname.example.org.",
                RType::SRV,
                &[
                    "dname.example.org.\t1800\tIN\tDNAME\tdsub.example.org.",
                    "srv.dname.example.org.\t1800\tIN\tCNAME\tsrv.dsub.example.org.",
                    "srv.dsub.example.org.\t1800\tIN\tSRV\t10 50 8080 host.example.org.",
                ],
                ADD_AUTH,
                HOST,
            ),
            // One target spelled two ways is resolved once.
            ok(
                "mixed.example.org.",
                RType::SRV,
                &[
                    "mixed.example.org.\t1800\tIN\tSRV\t10 50 8080 host.example.org.",
                    "mixed.example.org.\t1800\tIN\tSRV\t20 50 8080 HOST.EXAMPLE.ORG.",
                ],
                ADD_AUTH,
                HOST,
            ),
        ],
    );
}

const DB_DNAME: &str = "
$TTL    30M
$ORIGIN miek.nl.
@       IN      SOA     linode.atoom.net. miek.miek.nl. (
                             1282630057 ; Serial
                             4H         ; Refresh
                             1H         ; Retry
                             7D         ; Expire
                             4H )       ; Negative Cache TTL
                IN      NS      linode.atoom.net.
                IN      NS      ns-ext.nlnetlabs.nl.
                IN      NS      omval.tednet.nl.
                IN      NS      ext.ns.whyscream.net.

test            IN      MX      1  aspmx.l.google.com.
a.test          IN      A       139.162.196.78
                IN      AAAA    2a01:7e00::f03c:91ff:fef1:6735
www.test        IN      CNAME   a.test

dname           IN      DNAME   test
dname           IN      A       127.0.0.1
a.dname         IN      A       127.0.0.1
loop            IN      DNAME   loop.loop
";

#[test]
fn dname_substitution() {
    let c = chain(DB_DNAME, "miek.nl.");
    check(
        &c,
        &[
            ok(
                "dname.miek.nl.",
                RType::DNAME,
                &["dname.miek.nl.\t1800\tIN\tDNAME\ttest.miek.nl."],
                MIEK_AUTH,
                &[],
            ),
            ok(
                "dname.miek.nl.",
                RType::A,
                &["dname.miek.nl.\t1800\tIN\tA\t127.0.0.1"],
                MIEK_AUTH,
                &[],
            ),
            neg("dname.miek.nl.", RType::MX, Rcode::NOERROR, MIEK_SOA),
            // a.dname is occluded by the DNAME above it.
            ok(
                "a.dname.miek.nl.",
                RType::A,
                &[
                    "dname.miek.nl.\t1800\tIN\tDNAME\ttest.miek.nl.",
                    "a.dname.miek.nl.\t1800\tIN\tCNAME\ta.test.miek.nl.",
                    "a.test.miek.nl.\t1800\tIN\tA\t139.162.196.78",
                ],
                MIEK_AUTH,
                &[],
            ),
            ok(
                "www.dname.miek.nl.",
                RType::A,
                &[
                    "dname.miek.nl.\t1800\tIN\tDNAME\ttest.miek.nl.",
                    "www.dname.miek.nl.\t1800\tIN\tCNAME\twww.test.miek.nl.",
                    "www.test.miek.nl.\t1800\tIN\tCNAME\ta.test.miek.nl.",
                    "a.test.miek.nl.\t1800\tIN\tA\t139.162.196.78",
                ],
                MIEK_AUTH,
                &[],
            ),
            // Substituted into a name that does not exist: NXDOMAIN with the chain.
            Case {
                qname: "nope.dname.miek.nl.",
                qtype: RType::A,
                rcode: Rcode::NXDOMAIN,
                aa: true,
                answer: &[
                    "dname.miek.nl.\t1800\tIN\tDNAME\ttest.miek.nl.",
                    "nope.dname.miek.nl.\t1800\tIN\tCNAME\tnope.test.miek.nl.",
                ],
                ns: MIEK_SOA,
                extra: &[],
            },
        ],
    );
    // A DNAME that keeps matching its own output ends in SERVFAIL, not a hang.
    let m = ask(&c, "x.loop.miek.nl.", RType::A);
    assert_eq!(m.rcode, Rcode::SERVFAIL);
    assert!(!m.answer.is_empty());
}

#[test]
fn empty_non_terminal_and_apex_only_zone() {
    let ent = "$TTL 1800
miek.nl. IN SOA linode.atoom.net. miek.miek.nl. 1282630057 14400 3600 604800 14400
miek.nl. IN NS linode.atoom.net.
a.miek.nl. IN A 127.0.0.1
a.b.c.miek.nl. IN A 127.0.0.1
";
    let c = chain(ent, "miek.nl.");
    check(
        &c,
        &[
            neg("b.c.miek.nl.", RType::A, Rcode::NOERROR, MIEK_SOA),
            neg("c.miek.nl.", RType::A, Rcode::NOERROR, MIEK_SOA),
            neg("d.c.miek.nl.", RType::A, Rcode::NXDOMAIN, MIEK_SOA),
        ],
    );
    // A zone with only its apex: NODATA (CoreDNS answers NXDOMAIN here and documents it as
    // wrong in its apex test).
    let apex_only = "$ORIGIN example.com.
@   IN      SOA     ns1.example.com. admin.example.com.  (
                               2005011437 ; Serial
                               1200       ; Refresh
                               144        ; Retry
                               1814400    ; Expire
                               2h )       ; Minimum
@     3600      IN  NS      ns1.example.com.
";
    let c = chain(apex_only, "example.com.");
    let m = ask(&c, "example.com.", RType::A);
    assert_eq!(m.rcode, Rcode::NOERROR);
    assert_eq!(
        lines(&m.authority),
        ["example.com.\t7200\tIN\tSOA\tns1.example.com. admin.example.com. 2005011437 1200 144 1814400 7200"]
    );
}

#[test]
fn apex_ns_query_has_glue_and_no_authority() {
    let text = "$TTL 1800
atoom.net. IN SOA linode.atoom.net. miek.miek.nl. 1481602381 14400 3600 604800 14400
atoom.net. IN NS omval.tednet.nl.
atoom.net. IN NS linode.atoom.net.
atoom.net. IN NS ns-ext.nlnetlabs.nl.
linode.atoom.net. IN A 176.58.119.54
linode.atoom.net. IN AAAA 2a01:7e00::f03c:91ff:fe79:234c
";
    let c = chain(text, "atoom.net.");
    check(
        &c,
        &[ok(
            "atoom.net.",
            RType::NS,
            &[
                "atoom.net.\t1800\tIN\tNS\tomval.tednet.nl.",
                "atoom.net.\t1800\tIN\tNS\tlinode.atoom.net.",
                "atoom.net.\t1800\tIN\tNS\tns-ext.nlnetlabs.nl.",
            ],
            &[],
            &[
                "linode.atoom.net.\t1800\tIN\tA\t176.58.119.54",
                "linode.atoom.net.\t1800\tIN\tAAAA\t2a01:7e00::f03c:91ff:fe79:234c",
            ],
        )],
    );
}

#[test]
fn owner_with_decimal_escape_matches_the_query() {
    let text = "campus.edu.              500 IN SOA ns1.outside.edu. root.campus.edu. 8 6048 4000 2419200 6048
campus.edu.              500 IN NS  ns1.outside.edu.
has\\046dot.campus.edu.   500 IN A   192.0.2.2
";
    let c = chain(text, "campus.edu.");
    let m = ask(&c, "has\\.dot.campus.edu.", RType::A);
    assert_eq!(
        lines(&m.answer),
        ["has\\.dot.campus.edu.\t500\tIN\tA\t192.0.2.2"]
    );
}

#[test]
fn negative_soa_ttl_is_capped_by_the_minimum() {
    let text = "example.org. 3600 IN SOA ns.example.org. host.example.org. 7 3600 600 86400 300
example.org. 3600 IN NS ns.example.org.
";
    let c = chain(text, "example.org.");
    let m = ask(&c, "nope.example.org.", RType::A);
    assert_eq!(m.rcode, Rcode::NXDOMAIN);
    assert_eq!(m.authority[0].ttl, 300);
    let m = ask(&c, "example.org.", RType::SOA);
    assert_eq!(m.answer[0].ttl, 3600);
}

#[test]
fn cname_loops_end() {
    let text = "$TTL 60
example.org. IN SOA ns.example.org. host.example.org. 7 3600 600 86400 300
a IN CNAME b
b IN CNAME a
*.w IN CNAME x.w
";
    let c = chain(text, "example.org.");
    let m = ask(&c, "a.example.org.", RType::A);
    assert_eq!(m.rcode, Rcode::NOERROR);
    assert!(m.answer.len() <= 10, "{}", m.answer.len());
    assert_eq!(m.answer[0].name.to_string(), "a.example.org.");
    let m = ask(&c, "y.w.example.org.", RType::A);
    assert_eq!(m.rcode, Rcode::SERVFAIL);
    assert!(!m.answer.is_empty() && m.answer.len() < 100);
}

#[test]
fn missing_zone_answers_servfail() {
    let slot = ZoneSlot::new(
        name("example.org."),
        PathBuf::from("/nonexistent"),
        Duration::from_secs(60),
        false,
        None,
    );
    let c = Chain::new(vec![
        Arc::new(File::new(vec![Arc::new(slot)], Fallthrough::all())),
        StubNext::new(Rcode::NOERROR),
    ]);
    let m = ask(&c, "www.example.org.", RType::A);
    assert_eq!(m.rcode, Rcode::SERVFAIL);
    assert!(!m.flags.aa);
}

#[test]
fn several_zones_use_the_longest_origin() {
    let parent = "$TTL 60
example.org. IN SOA ns.example.org. host.example.org. 1 3600 600 86400 300
www IN A 10.0.0.1
";
    let child = "$TTL 60
sub.example.org. IN SOA ns.example.org. host.example.org. 2 3600 600 86400 300
www IN A 10.0.0.2
";
    let slot = |text: &str, origin: &str| {
        Arc::new(ZoneSlot::new(
            name(origin),
            PathBuf::from("stdin"),
            Duration::ZERO,
            false,
            Some(zone(text, origin)),
        ))
    };
    let f = File::new(
        vec![
            slot(parent, "example.org."),
            slot(child, "sub.example.org."),
        ],
        Fallthrough::none(),
    );
    assert_eq!(f.zones().count(), 2);
    assert_eq!(f.zone(&name("SUB.example.org.")).unwrap().serial(), 2);
    let c = Chain::new(vec![Arc::new(f)]);
    let m = ask(&c, "www.sub.example.org.", RType::A);
    assert_eq!(
        lines(&m.answer),
        ["www.sub.example.org.\t60\tIN\tA\t10.0.0.2"]
    );
    let m = ask(&c, "www.example.org.", RType::A);
    assert_eq!(lines(&m.answer), ["www.example.org.\t60\tIN\tA\t10.0.0.1"]);
}

#[test]
fn cname_chains_continue_in_the_other_zones() {
    let org = "$TTL 60
example.org. IN SOA ns.example.org. host.example.org. 1 3600 600 86400 300
example.org. IN NS ns.example.org.
www IN CNAME web.example.net.
gone IN CNAME nothing.example.net.
out IN CNAME www.example.com.
";
    let net = "$TTL 30
example.net. IN SOA ns.example.net. host.example.net. 1 3600 600 86400 20
example.net. IN NS ns.example.net.
web IN CNAME www.example.org.
web2 IN A 192.0.2.2
";
    let slot = |text: &str, origin: &str| {
        Arc::new(ZoneSlot::new(
            name(origin),
            PathBuf::from("stdin"),
            Duration::ZERO,
            false,
            Some(zone(text, origin)),
        ))
    };
    let mut net2 = net.replace("web IN CNAME www.example.org.", "web IN CNAME web2");
    net2.push_str("mx IN MX 10 web2\n");
    for (net_text, qname, rcode, answer, ns) in [
        (
            net2.as_str(),
            "www.example.org.",
            Rcode::NOERROR,
            vec![
                "www.example.org.\t60\tIN\tCNAME\tweb.example.net.",
                "web.example.net.\t30\tIN\tCNAME\tweb2.example.net.",
                "web2.example.net.\t30\tIN\tA\t192.0.2.2",
            ],
            vec!["example.net.\t30\tIN\tNS\tns.example.net."],
        ),
        (
            net2.as_str(),
            "gone.example.org.",
            Rcode::NXDOMAIN,
            vec!["gone.example.org.\t60\tIN\tCNAME\tnothing.example.net."],
            vec![
                "example.net.\t20\tIN\tSOA\tns.example.net. host.example.net. 1 3600 600 86400 20",
            ],
        ),
        (
            net2.as_str(),
            "out.example.org.",
            Rcode::NOERROR,
            vec!["out.example.org.\t60\tIN\tCNAME\twww.example.com."],
            vec!["example.org.\t60\tIN\tNS\tns.example.org."],
        ),
    ] {
        let f = File::new(
            vec![slot(org, "example.org."), slot(net_text, "example.net.")],
            Fallthrough::none(),
        );
        let c = Chain::new(vec![Arc::new(f)]);
        let m = ask(&c, qname, RType::A);
        assert_eq!(m.rcode, rcode, "{qname}");
        assert_eq!(lines(&m.answer), answer, "{qname}");
        assert_eq!(lines(&m.authority), ns, "{qname}");
    }
    // A loop between two zones ends.
    let f = File::new(
        vec![slot(org, "example.org."), slot(net, "example.net.")],
        Fallthrough::none(),
    );
    let c = Chain::new(vec![Arc::new(f)]);
    let m = ask(&c, "www.example.org.", RType::A);
    assert!(
        m.answer.len() <= 2 * (super::zone::MAX_CHASE + 2),
        "{}",
        m.answer.len()
    );
}

#[test]
fn records_come_in_transfer_order() {
    let z = zone(DB_MIEK_NL, "miek.nl.");
    let all: Vec<String> = z.records().map(|r| r.to_string()).collect();
    assert_eq!(all[0], MIEK_SOA[0]);
    assert_eq!(&all[1..5], MIEK_AUTH);
    assert_eq!(all.iter().filter(|l| l.contains("\tSOA\t")).count(), 1);
    // Every record of the file, once.
    assert_eq!(all.len(), 26);
    // Owners after the apex are in canonical order.
    let owners: Vec<Name> = z.records().map(|r| r.name.clone()).collect();
    for pair in owners.windows(2) {
        assert_ne!(
            canonical_cmp(pair[0].wire(), pair[1].wire()),
            std::cmp::Ordering::Greater,
            "{} before {}",
            pair[0],
            pair[1]
        );
    }
    assert_eq!(z.serial(), 1_282_630_057);
    assert_eq!(z.origin().to_string(), "miek.nl.");
}

#[test]
fn canonical_order_follows_rfc_4034() {
    let mut names: Vec<Name> = [
        "z.example.",
        "example.",
        "a.example.",
        "yljkjljk.a.example.",
        "Z.a.example.",
        "zABC.a.EXAMPLE.",
        "\\001.z.example.",
        "*.z.example.",
        "\\200.z.example.",
    ]
    .iter()
    .map(|s| name(s).to_lowercase())
    .collect();
    names.sort_by(|a, b| canonical_cmp(a.wire(), b.wire()));
    let got: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    assert_eq!(
        got,
        [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "z.a.example.",
            "zabc.a.example.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ]
    );
}

// ---------------------------------------------------------------------------------------
// The zone-file reader

fn one(text: &str) -> Record {
    let records = parse(
        &format!("$ORIGIN example.org.\n$TTL 300\n{text}\n"),
        "example.org.",
    )
    .unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(records.len(), 1, "{text}");
    records.into_iter().next().unwrap()
}

fn opaque(r: &Record) -> Vec<u8> {
    match &r.data {
        RData::Opaque(b) | RData::Txt(b) => b.to_vec(),
        other => panic!("not raw: {other:?}"),
    }
}

fn err(text: &str) -> super::ZoneError {
    parse(text, "example.org.").expect_err(text)
}

#[test]
fn directives_owners_ttls_and_classes() {
    let text = "$ORIGIN example.org.
$TTL 1h
@ IN SOA ns hostmaster ( 2019022401 1h 15m 1w 1d )
  NS ns
www 60 IN A 10.0.0.1
    IN 120 A 10.0.0.2   ; class before TTL
    A 10.0.0.3          ; both omitted: $TTL
abs.example.org. CH TXT hi
$ORIGIN sub
x A 10.0.0.4
$ORIGIN example.org.
$TTL 7
y A 10.0.0.5
";
    let recs = parse(text, "example.org.").unwrap();
    let got: Vec<String> = recs.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        got,
        [
            "example.org.\t3600\tIN\tSOA\tns.example.org. hostmaster.example.org. 2019022401 3600 900 604800 86400",
            "example.org.\t3600\tIN\tNS\tns.example.org.",
            "www.example.org.\t60\tIN\tA\t10.0.0.1",
            "www.example.org.\t120\tIN\tA\t10.0.0.2",
            "www.example.org.\t3600\tIN\tA\t10.0.0.3",
            "abs.example.org.\t3600\tCH\tTXT\t\"hi\"",
            "x.sub.example.org.\t3600\tIN\tA\t10.0.0.4",
            "y.example.org.\t7\tIN\tA\t10.0.0.5",
        ]
    );
}

#[test]
fn ttl_defaults_without_a_ttl_directive() {
    // Without $TTL, the last explicit TTL carries on; the SOA's own minimum covers records
    // before any explicit TTL (BIND's rule).
    let text = "@ IN SOA ns hostmaster 1 2 3 4 300
a IN A 10.0.0.1
b 60 IN A 10.0.0.2
c IN A 10.0.0.3
";
    let recs = parse(text, "example.org.").unwrap();
    let ttls: Vec<u32> = recs.iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, [300, 300, 60, 60]);
    let e = err("a IN A 10.0.0.1\n");
    assert_eq!(e.line, 1);
    assert!(e.message.contains("missing TTL"), "{e}");
}

#[test]
fn ttl_units() {
    use super::zonefile::parse_ttl_text as t;
    assert_eq!(t(b"3600"), Some(3600));
    assert_eq!(t(b"1h30m"), Some(5400));
    assert_eq!(t(b"1H"), Some(3600));
    assert_eq!(t(b"2d"), Some(172_800));
    assert_eq!(t(b"1w2d3h4m5s"), Some(788_645));
    assert_eq!(t(b"1h30"), Some(3630));
    assert_eq!(t(b"4294967295"), Some(u32::MAX));
    assert_eq!(t(b"4294967296"), None);
    assert_eq!(t(b"h"), None);
    assert_eq!(t(b"1x"), None);
    assert_eq!(t(b"1hh"), None);
    assert_eq!(t(b""), None);
}

#[test]
fn names_escapes_quotes_and_parentheses() {
    let r = one("a\\.b\\065\\ c A 10.0.0.1");
    assert_eq!(r.name.wire()[..7], [6, b'a', b'.', b'b', b'A', b' ', b'c']);
    let r = one("t TXT \"quoted \\\"str\\\" ; not a comment\" plain \\097\\\\");
    assert_eq!(
        opaque(&r),
        [
            &[28u8][..],
            b"quoted \"str\" ; not a comment",
            &[5],
            b"plain",
            &[2],
            b"a\\",
        ]
        .concat()
    );
    let r = one("m ( MX\n 10\n ; comment inside\n mail )");
    assert_eq!(
        r.to_string(),
        "m.example.org.\t300\tIN\tMX\t10 mail.example.org."
    );
    let r = one("@ NS ns.other.");
    assert_eq!(r.to_string(), "example.org.\t300\tIN\tNS\tns.other.");
    let r = one("multi TXT \"line one\nline two\"");
    assert_eq!(opaque(&r), [&[17u8][..], b"line one\nline two"].concat());
}

#[test]
fn generate_directive() {
    let text = "$ORIGIN 2.0.192.in-addr.arpa.
$TTL 60
@ SOA ns.example.org. host.example.org. 1 2 3 4 5
$GENERATE 1-3 $ PTR host-$.example.org.
$GENERATE 0-4/2 ${10,3,d} 30 CNAME ${0,2,x}.\\$.sub
$GENERATE 9-9 $$-${1,0,X}-${8,4,o} IN TXT \"v $\"
last PTR x.example.org.
";
    let recs = parse(text, "2.0.192.in-addr.arpa.").unwrap();
    let got: Vec<String> = recs.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        got[1..],
        [
            // Like CoreDNS, generated records without a TTL get 3600, not $TTL.
            "1.2.0.192.in-addr.arpa.\t3600\tIN\tPTR\thost-1.example.org.",
            "2.2.0.192.in-addr.arpa.\t3600\tIN\tPTR\thost-2.example.org.",
            "3.2.0.192.in-addr.arpa.\t3600\tIN\tPTR\thost-3.example.org.",
            "010.2.0.192.in-addr.arpa.\t30\tIN\tCNAME\t00.\\$.sub.2.0.192.in-addr.arpa.",
            "012.2.0.192.in-addr.arpa.\t30\tIN\tCNAME\t02.\\$.sub.2.0.192.in-addr.arpa.",
            "014.2.0.192.in-addr.arpa.\t30\tIN\tCNAME\t04.\\$.sub.2.0.192.in-addr.arpa.",
            "\\$-A-0021.2.0.192.in-addr.arpa.\t3600\tIN\tTXT\t\"v 9\"",
            "last.2.0.192.in-addr.arpa.\t60\tIN\tPTR\tx.example.org.",
        ]
    );
}

#[test]
fn long_and_multiple_txt_strings() {
    let long = "x".repeat(300);
    let r = one(&format!("t TXT \"{long}\" \"\" second"));
    let raw = opaque(&r);
    assert_eq!(raw[0], 255);
    assert_eq!(raw[256], 45);
    assert_eq!(raw[256 + 46], 0);
    assert_eq!(&raw[256 + 47..], [&[6u8][..], b"second"].concat());
    let spf = one("s SPF \"v=spf1 -all\"");
    assert_eq!(spf.rtype, RType::SPF);
    assert_eq!(opaque(&spf), [&[11u8][..], b"v=spf1 -all"].concat());
}

#[test]
fn every_supported_type() {
    let cases: &[(&str, RType, &str)] = &[
        ("a A 192.0.2.1", RType::A, "192.0.2.1"),
        ("a AAAA 2001:db8::1", RType::AAAA, "2001:db8::1"),
        ("a NS ns1", RType::NS, "ns1.example.org."),
        ("a CNAME other.net.", RType::CNAME, "other.net."),
        ("1.2 PTR host", RType::PTR, "host.example.org."),
        ("a DNAME b", RType::DNAME, "b.example.org."),
        ("a MX 10 @", RType::MX, "10 example.org."),
        ("_s._tcp SRV 1 2 53 t", RType::SRV, "1 2 53 t.example.org."),
        (
            "@ SOA ns host 1 1h 2h 1w 5m",
            RType::SOA,
            "ns.example.org. host.example.org. 1 3600 7200 604800 300",
        ),
        (
            "a HINFO \"PC\" \"Linux 6\"",
            RType::HINFO,
            "\"PC\" \"Linux 6\"",
        ),
        ("a HINFO PC", RType::HINFO, "\"PC\" \"\""),
        ("a TYPE65280 \\# 3 abcdef", RType(65280), "\\# 3 abcdef"),
        ("a TYPE1 \\# 4 0a000001", RType::A, "10.0.0.1"),
        ("a SPF \\# 3 026869", RType::SPF, "\"hi\""),
        ("a CLASS1 TYPE65281 \\# 0", RType(65281), "\\# 0"),
    ];
    for (text, rtype, rdata) in cases {
        let r = one(text);
        assert_eq!(r.rtype, *rtype, "{text}");
        assert_eq!(r.data.to_string(), *rdata, "{text}");
    }
    let raw: &[(&str, RType, Vec<u8>)] = &[
        (
            "a CAA 128 tbs \"Unknown\"",
            RType::CAA,
            [&[128u8, 3][..], b"tbs", b"Unknown"].concat(),
        ),
        ("a SSHFP 4 2 ab CD", RType::SSHFP, vec![4, 2, 0xab, 0xcd]),
        ("a TLSA 3 1 1 0102 03", RType::TLSA, vec![3, 1, 1, 1, 2, 3]),
        (
            "a DS 60485 RSASHA1 1 2BB183AF5F",
            RType::DS,
            vec![0xec, 0x45, 5, 1, 0x2b, 0xb1, 0x83, 0xaf, 0x5f],
        ),
        (
            "a DNSKEY 256 3 8 AwEAAQ==",
            RType::DNSKEY,
            vec![1, 0, 3, 8, 3, 1, 0, 1],
        ),
        (
            "a NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp",
            RType::NAPTR,
            [
                &[0u8, 100, 0, 10, 1][..],
                b"S",
                &[7],
                b"SIP+D2U",
                &[0],
                &[4],
                b"_sip",
                &[4],
                b"_udp",
                &[7],
                b"example",
                &[3],
                b"org",
                &[0],
            ]
            .concat(),
        ),
        (
            "a NSEC host.example.org. A MX RRSIG NSEC TYPE1234",
            RType::NSEC,
            [
                &[4u8][..],
                b"host",
                &[7],
                b"example",
                &[3],
                b"org",
                &[0],
                &[0, 6, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03],
                &[4, 27],
                &[0; 26],
                &[0x20],
            ]
            .concat(),
        ),
        (
            "a URI 10 1 \"ftp://ftp1.example.com/public\"",
            RType::URI,
            [&[0u8, 10, 0, 1][..], b"ftp://ftp1.example.com/public"].concat(),
        ),
    ];
    for (text, rtype, want) in raw {
        let r = one(text);
        assert_eq!(r.rtype, *rtype, "{text}");
        assert_eq!(&opaque(&r), want, "{text}");
    }
    let sig = one("a RRSIG A 8 3 300 20160502144311 20160402144311 12051 example.org. AAEC");
    let raw = opaque(&sig);
    assert_eq!(&raw[..8], &[0, 1, 8, 3, 0, 0, 1, 44]);
    assert_eq!(
        u32::from_be_bytes(raw[8..12].try_into().unwrap()),
        1_462_200_191
    );
    assert_eq!(&raw[raw.len() - 3..], &[0, 1, 2]);
}

fn hex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    s.chunks(2)
        .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
        .collect()
}

#[test]
fn svcb_and_https_follow_rfc_9460_test_vectors() {
    // RFC 9460 appendix D.
    let cases: &[(&str, &str)] = &[
        (
            "a HTTPS 0 foo.example.com.",
            "0000 03 666f6f 07 6578616d706c65 03 636f6d 00",
        ),
        (
            "a SVCB 16 foo.example.com. port=53",
            "0010 03 666f6f 07 6578616d706c65 03 636f6d 00 0003 0002 0035",
        ),
        (
            "a SVCB 1 foo.example.com. key667=hello",
            "0001 03 666f6f 07 6578616d706c65 03 636f6d 00 029b 0005 68656c6c6f",
        ),
        (
            "a SVCB 1 foo.example.com. ipv6hint=\"2001:db8::1,2001:db8::53:1\"",
            "0001 03 666f6f 07 6578616d706c65 03 636f6d 00 0006 0020
             20010db8000000000000000000000001 20010db8000000000000000000530001",
        ),
        (
            "a SVCB 16 foo.example.org. ( alpn=h2,h3-19 mandatory=ipv4hint,alpn\n ipv4hint=192.0.2.1 )",
            "0010 03 666f6f 07 6578616d706c65 03 6f7267 00 0000 0004 0001 0004
             0001 0009 02 6832 05 68332d3139 0004 0004 c0000201",
        ),
        (
            "a SVCB 16 foo.example.org. alpn=\"f\\\\\\\\oo\\\\,bar,h2\"",
            "0010 03 666f6f 07 6578616d706c65 03 6f7267 00 0001 000c 08 665c6f6f2c626172 02 6832",
        ),
        ("a HTTPS 1 . no-default-alpn", "0001 00 0002 0000"),
    ];
    for (text, want) in cases {
        let r = one(text);
        assert_eq!(opaque(&r), hex(want), "{text}");
    }
    for bad in [
        "a SVCB 1 . port=99999",
        "a SVCB 1 . port=1 port=2",
        "a SVCB 1 . alpn",
        "a SVCB 1 . no-default-alpn=x",
        "a SVCB 1 . unknownkey=1",
        "a SVCB 1 . ipv4hint=2001:db8::1",
    ] {
        let e = err(&format!("$TTL 60\n{bad}\n"));
        assert_eq!(e.line, 2, "{bad}: {e}");
    }
}

#[test]
fn more_name_and_key_types() {
    let cases: &[(&str, RType, Vec<u8>)] = &[
        (
            "a RP mbox txt",
            RType::RP,
            [
                &[4u8][..],
                b"mbox",
                &[7],
                b"example",
                &[3],
                b"org",
                &[0],
                &[3],
                b"txt",
                &[7],
                b"example",
                &[3],
                b"org",
                &[0],
            ]
            .concat(),
        ),
        (
            "a AFSDB 1 db.",
            RType::AFSDB,
            [&[0u8, 1, 2][..], b"db", &[0]].concat(),
        ),
        ("a OPENPGPKEY AQID", RType::OPENPGPKEY, vec![1, 2, 3]),
        (
            "a ZONEMD 2018031500 1 1 ( FEBE3D4C E2EC )",
            RType::ZONEMD,
            hex("7848b78c 01 01 febe3d4ce2ec"),
        ),
    ];
    for (text, rtype, want) in cases {
        let r = one(text);
        assert_eq!(r.rtype, *rtype, "{text}");
        assert_eq!(&opaque(&r), want, "{text}");
    }
}

#[test]
fn https_targets_get_addresses() {
    let text = "$TTL 60
example.org. IN SOA ns.example.org. host.example.org. 1 3600 600 86400 300
example.org. IN NS ns.example.org.
svc IN HTTPS 1 pool.example.org. alpn=h2
    IN HTTPS 2 pool.example.org. alpn=h3
pool IN A 192.0.2.7
";
    let c = chain(text, "example.org.");
    let m = ask(&c, "svc.example.org.", RType::HTTPS);
    assert_eq!(m.answer.len(), 2);
    assert_eq!(
        lines(&m.additional),
        ["pool.example.org.\t60\tIN\tA\t192.0.2.7"]
    );
}

#[test]
fn helpers_decode() {
    assert_eq!(rdata::test_base64("AwEAAQ=="), Some(vec![3, 1, 0, 1]));
    assert_eq!(rdata::test_base64("TWFu"), Some(b"Man".to_vec()));
    assert_eq!(rdata::test_base64("TWE="), Some(b"Ma".to_vec()));
    assert_eq!(rdata::test_base64("T!=="), None);
    assert_eq!(rdata::test_base64("TW=E"), None);
    assert_eq!(rdata::test_rrsig_time("19700101000000"), Some(0));
    assert_eq!(rdata::test_rrsig_time("20000229120000"), Some(951_825_600));
    assert_eq!(rdata::test_rrsig_time("20001301000000"), None);
}

#[test]
fn errors_name_file_and_line() {
    let cases: &[(&str, u32, &str)] = &[
        ("$TTL 60\n\na FOO 1\n", 3, "unknown record type 'FOO'"),
        ("$TTL 60\na A 10.0.0.300\n", 2, "bad IPv4 address"),
        ("$TTL 60\na MX 10\n", 2, "missing name"),
        ("$TTL 60\na A 10.0.0.1 extra\n", 2, "unexpected 'extra'"),
        ("$TTL 60\na ( A\n10.0.0.1\n", 2, "unbalanced parentheses"),
        ("$TTL 60\na A 10.0.0.1 )\n", 2, "unbalanced parentheses"),
        ("$TTL 60\n\na TXT \"open\n", 3, "unterminated quoted string"),
        ("$FOO bar\n", 1, "unknown directive"),
        ("$GENERATE 5-1 $ A 10.0.0.$\n", 1, "bad range"),
        ("$GENERATE 1-70000 $ A 10.0.0.$\n", 1, "bad range"),
        ("$GENERATE 1-2/0 $ A 10.0.0.$\n", 1, "bad step"),
        ("$GENERATE 1-2 ${1,2,q} A 10.0.0.1\n", 1, "bad base"),
        ("$GENERATE 1-2 ${-5} A 10.0.0.1\n", 1, "bad offset"),
        (
            "$GENERATE 1-2 x$ A 10.0.0.$\n\n$GENERATE 250-260 y$ A 10.0.0.$\n",
            3,
            "bad IPv4",
        ),
        ("$GENERATE 1-2 x\n", 1, "needs a range"),
        ("$TTL 60\n  A 10.0.0.1\n", 2, "no previous owner name"),
        ("$TTL x\n", 1, "bad $TTL value"),
        ("$TTL 60\na..b A 10.0.0.1\n", 2, "bad name"),
        (
            "$TTL 60\na LOC 1 2 3\n",
            2,
            "not supported in presentation format",
        ),
        ("$TTL 60\na NSEC3PARAM 1 0 0 -\n", 2, "NSEC3"),
        ("$TTL 60\na TYPE65280 \\# 3 abcd\n", 2, "does not match"),
        ("$TTL 60\na TYPE1 \\# 3 abcdef\n", 2, "bad data"),
        ("$TTL 60\na SOA ns host x 1 2 3 4\n", 2, "bad serial"),
        ("$TTL 60\na TXT \"\\999\"\n", 2, "bad \\DDD escape"),
        (
            "$TTL 60\na HINFO \"x\" \"y\" \"z\"\nb CAA 0 issue a b\n",
            3,
            "unexpected 'b'",
        ),
        ("$TTL 60\n$INCLUDE x.db\n", 2, "$INCLUDE is not allowed"),
    ];
    for (text, line, msg) in cases {
        let e = err(text);
        assert_eq!(e.line, *line, "{text:?}: {e}");
        assert_eq!(e.file, "stdin");
        assert!(e.message.contains(msg), "{text:?}: {e}");
        assert!(e.to_string().starts_with(&format!("stdin:{line}: ")), "{e}");
    }
}

#[test]
fn include_is_relative_to_the_including_file() {
    let dir = temp_dir("include");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(
        dir.join("db.example.org"),
        "$ORIGIN example.org.\n$TTL 60\n@ IN SOA ns host 1 2 3 4 5\n$INCLUDE sub/hosts.inc\n$INCLUDE sub/other.inc other\nafter A 10.0.0.9\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("sub/hosts.inc"),
        "foo IN A 127.0.0.1\n$ORIGIN changed.\n",
    )
    .unwrap();
    std::fs::write(dir.join("sub/other.inc"), "bar 30 IN A 127.0.0.2\n").unwrap();
    let recs =
        super::zonefile::read_file(&dir.join("db.example.org"), &name("example.org.")).unwrap();
    let got: Vec<String> = recs.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        got[1..],
        [
            "foo.example.org.\t60\tIN\tA\t127.0.0.1",
            "bar.other.example.org.\t30\tIN\tA\t127.0.0.2",
            // $ORIGIN inside the include does not leak out.
            "after.example.org.\t60\tIN\tA\t10.0.0.9",
        ]
    );
    // An include that includes itself stops at the depth cap.
    std::fs::write(dir.join("self.db"), "$TTL 60\n$INCLUDE self.db\n").unwrap();
    let e = super::zonefile::read_file(&dir.join("self.db"), &name("example.org.")).unwrap_err();
    assert!(e.message.contains("too deeply nested"), "{e}");
    assert!(e.file.ends_with("self.db"));
    let _ = MAX_INCLUDE_DEPTH;
    // A missing include names the line that asked for it.
    std::fs::write(dir.join("missing.db"), "$TTL 60\n\n$INCLUDE nothere\n").unwrap();
    let e = super::zonefile::read_file(&dir.join("missing.db"), &name("example.org.")).unwrap_err();
    assert_eq!(e.line, 3);
    assert!(e.message.contains("nothere"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn zone_build_rules() {
    // No SOA.
    let recs = parse("$TTL 60\nwww A 10.0.0.1\n", "example.org.").unwrap();
    let e = Zone::build(&name("example.org."), "db".into(), recs).unwrap_err();
    assert!(
        e.message.contains("no SOA record for origin example.org."),
        "{e}"
    );
    // Out-of-zone records are dropped and counted; duplicates are kept once.
    let recs = parse(
        "$TTL 60\n@ SOA ns host 1 2 3 4 5\nwww A 10.0.0.1\nwww A 10.0.0.1\nother.net. A 10.0.0.2\n",
        "example.org.",
    )
    .unwrap();
    let (z, dropped) = Zone::build(&name("Example.ORG."), "db".into(), recs).unwrap();
    assert_eq!(dropped, 1);
    assert_eq!(z.records().count(), 2);
    assert_eq!(z.origin().to_string(), "example.org.");
    assert_eq!(z.name_count(), 2);
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_input_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let alphabet = b" \t\n\\\"();$@*.0123456789abcdefABCDEF#INASOXTCHMRVW-_:+/=";
    let seeds = [DB_MIEK_NL, DB_ADDITIONAL, DB_DNAME, DB_ALIAS_DELEGATION];
    let mut parsed = 0;
    for round in 0..3000 {
        let bytes: Vec<u8> = if round % 3 == 0 {
            (0..rng.below(300)).map(|_| rng.next() as u8).collect()
        } else if round % 3 == 1 {
            (0..rng.below(300))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect()
        } else {
            // Mutate a real zone.
            let mut b = seeds[rng.below(seeds.len())].as_bytes().to_vec();
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(b.len());
                match rng.below(3) {
                    0 => b[at] = alphabet[rng.below(alphabet.len())],
                    1 => {
                        b.remove(at);
                    }
                    _ => b.insert(at, rng.next() as u8),
                }
            }
            b
        };
        let result = ZoneParser::new(bytes, name("example.org."), Path::new("fuzz"))
            .without_include()
            .read_all();
        let Ok(records) = result else { continue };
        parsed += 1;
        for origin in ["example.org.", "miek.nl."] {
            let Ok((z, _)) = Zone::build(&name(origin), "fuzz".into(), records.clone()) else {
                continue;
            };
            for q in [
                "www.",
                "a.b.x.",
                "",
                "foo.dname.",
                "x.",
                "srv.",
                "mixed.",
                "a.delegated.",
            ] {
                let qname = name(&format!("{q}{origin}"));
                for qtype in [
                    RType::A,
                    RType::ANY,
                    RType::CNAME,
                    RType::SRV,
                    RType::NS,
                    RType::DS,
                ] {
                    let mut m = Message::default();
                    z.lookup(qname.to_lowercase().wire(), &qname, qtype, &mut m);
                    assert!(m.answer.len() < 200);
                }
            }
        }
    }
    assert!(parsed > 100, "only {parsed} inputs parsed");
}

// ---------------------------------------------------------------------------------------
// Setup and reload

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn example_zone(serial: u32, extra: &str) -> String {
    format!(
        "$ORIGIN example.org.\n$TTL 60\n@ IN SOA ns hostmaster {serial} 7200 3600 1209600 3600\n  IN NS ns\nns A 10.0.0.53\nwww A 10.0.0.1\n{extra}"
    )
}

fn file_of(s: &cairn_core::testing::TestSetup) -> &File {
    s.plugins[0].as_any().downcast_ref::<File>().unwrap()
}

#[test]
fn setup_loads_zones_and_serves_them() {
    let dir = temp_dir("setup");
    write(&dir.join("db.example.org"), &example_zone(1, ""));
    let s = setup(
        spec("file"),
        "example.org example.net {\n file db.example.org example.org {\n  reload 30s\n  fallthrough\n }\n}",
        Some(dir.clone()),
    )
    .unwrap();
    assert_eq!(s.plugins.len(), 1);
    assert_eq!(s.parts.services.len(), 1, "one reload service");
    let f = file_of(&s);
    assert_eq!(f.slots().len(), 1);
    assert_eq!(f.slots()[0].reload, Duration::from_secs(30));
    assert_eq!(f.slots()[0].path, dir.join("db.example.org"));
    let next = StubNext::new(Rcode::REFUSED);
    let c = s.chain_with(next.clone());
    let m = ask(&c, "www.example.org.", RType::A);
    assert_eq!(lines(&m.answer), ["www.example.org.\t60\tIN\tA\t10.0.0.1"]);
    assert!(m.flags.aa);
    // fallthrough: NXDOMAIN goes on.
    let m = ask(&c, "nope.example.org.", RType::A);
    assert_eq!(m.rcode, Rcode::REFUSED);
    assert_eq!(next.calls(), 1);

    // Zones default to the block's zones; reload 0 registers no service.
    let s = setup(
        spec("file"),
        "example.org {\n file db.example.org {\n  reload 0\n }\n}",
        Some(dir.clone()),
    )
    .unwrap();
    assert!(s.parts.services.is_empty());
    assert_eq!(file_of(&s).slots()[0].origin.to_string(), "example.org.");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn setup_errors_name_the_corefile_line_and_the_zone_problem() {
    let dir = temp_dir("setup-errors");
    write(
        &dir.join("bad.db"),
        "$TTL 60\n@ SOA ns host 1 2 3 4 5\nwww A 300.0.0.1\n",
    );
    let cases: &[(&str, u32, &str)] = &[
        ("example.org {\n file\n}", 2, "Wrong argument count"),
        ("example.org {\n file bad.db\n}", 2, "plugin/file: "),
        (
            "example.org {\n file db.example.org {\n  transfer to *\n }\n}",
            3,
            "unknown property 'transfer'",
        ),
        (
            "example.org {\n file db.example.org {\n  reload\n }\n}",
            3,
            "reload duration value is expected",
        ),
        (
            "example.org {\n file db.example.org {\n  reload soon\n }\n}",
            3,
            "invalid duration",
        ),
        (
            "example.org {\n file missing.db {\n  reload 0\n }\n}",
            2,
            "missing.db",
        ),
    ];
    write(&dir.join("db.example.org"), &example_zone(1, ""));
    for (corefile, line, msg) in cases {
        let e = setup(spec("file"), corefile, Some(dir.clone()))
            .err()
            .unwrap_or_else(|| panic!("{corefile} should fail"));
        assert_eq!(e.line, *line, "{corefile}: {e}");
        assert!(e.to_string().contains(msg), "{corefile}: {e}");
    }
    // The zone-file error carries the zone file's own line.
    let e = setup(
        spec("file"),
        "example.org {\n file bad.db\n}",
        Some(dir.clone()),
    )
    .err()
    .unwrap();
    assert!(
        e.to_string()
            .contains("bad.db:3: A record: bad IPv4 address"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_file_with_reload_waits_for_it() {
    let dir = temp_dir("missing");
    let s = setup(
        spec("file"),
        "example.org {\n file later.db\n}",
        Some(dir.clone()),
    )
    .unwrap();
    let f = file_of(&s);
    let c = s.chain_with(StubNext::new(Rcode::NOERROR));
    assert_eq!(ask(&c, "www.example.org.", RType::A).rcode, Rcode::SERVFAIL);
    write(&dir.join("later.db"), &example_zone(5, ""));
    assert_eq!(f.slots()[0].reload_now(), Reloaded::Swapped(5));
    let m = ask(&c, "www.example.org.", RType::A);
    assert_eq!(m.answer.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reload_finds_a_serial_beyond_the_head_and_in_a_cut_soa() {
    // 20 KB of comments push the SOA past the part read by the quick serial check: the check
    // must fall back to the whole file, both to see "unchanged" and to see a new serial.
    let padding = "; padding line to push the SOA record further into the file\n".repeat(350);
    let dir = temp_dir("reload-head");
    let path = dir.join("db.example.org");
    write(&path, &format!("{padding}{}", example_zone(7, "")));
    let s = setup(
        spec("file"),
        "example.org {\n file db.example.org {\n  reload 1m\n }\n}",
        Some(dir.clone()),
    )
    .unwrap();
    let f = file_of(&s);
    let slot = &f.slots()[0];
    assert_eq!(slot.reload_now(), Reloaded::Unchanged);
    write(&path, &format!("{padding}{}", example_zone(8, "")));
    assert_eq!(slot.reload_now(), Reloaded::Swapped(8));
    // A multi-line SOA that straddles the head boundary is not misread either.
    let cut = "; x\n".repeat(4085); // the SOA starts 15 bytes before the cut
    let soa = "$ORIGIN example.org.\n$TTL 60\n@ IN SOA ns hostmaster (\n 9 7200 3600\n 1209600 3600 )\n  IN NS ns\nns A 10.0.0.53\n";
    write(&path, &format!("{cut}{soa}"));
    assert_eq!(slot.reload_now(), Reloaded::Swapped(9));
    assert_eq!(slot.reload_now(), Reloaded::Unchanged);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reload_swaps_on_serial_change_only() {
    let dir = temp_dir("reload");
    let path = dir.join("db.example.org");
    write(&path, &example_zone(2019022401, ""));
    let s = setup(
        spec("file"),
        "example.org {\n file db.example.org {\n  reload 1m\n }\n}",
        Some(dir.clone()),
    )
    .unwrap();
    let f = file_of(&s);
    let c = s.chain_with(StubNext::new(Rcode::NOERROR));
    let slot = &f.slots()[0];
    assert_eq!(slot.reload_now(), Reloaded::Unchanged);
    // New data with the same serial is not picked up.
    write(&path, &example_zone(2019022401, "new A 10.0.0.2\n"));
    assert_eq!(slot.reload_now(), Reloaded::Unchanged);
    assert_eq!(ask(&c, "new.example.org.", RType::A).rcode, Rcode::NXDOMAIN);
    // A new serial is.
    write(&path, &example_zone(2019022402, "new A 10.0.0.2\n"));
    assert_eq!(slot.reload_now(), Reloaded::Swapped(2019022402));
    assert_eq!(
        lines(&ask(&c, "new.example.org.", RType::A).answer),
        ["new.example.org.\t60\tIN\tA\t10.0.0.2"]
    );
    // A broken file keeps the old zone.
    write(
        &path,
        "$TTL 60\n@ SOA ns host 2019022403 2 3 4 5\nbad A x\n",
    );
    assert_eq!(slot.reload_now(), Reloaded::Failed);
    assert_eq!(ask(&c, "new.example.org.", RType::A).answer.len(), 1);
    // So does a deleted one.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(slot.reload_now(), Reloaded::Failed);
    assert_eq!(f.zone(&name("example.org.")).unwrap().serial(), 2019022402);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reload_by_mtime_ignores_the_serial() {
    let dir = temp_dir("mtime");
    let path = dir.join("db.example.org");
    write(&path, &example_zone(1, ""));
    let s = setup(
        spec("file"),
        "example.org {\n file db.example.org {\n  reload 1m\n  reload_by_mtime\n }\n}",
        Some(dir.clone()),
    )
    .unwrap();
    let slot = file_of(&s).slots()[0].clone();
    assert!(slot.by_mtime);
    assert_eq!(slot.reload_now(), Reloaded::Unchanged);
    write(&path, &example_zone(1, "new A 10.0.0.2\n"));
    let later = std::time::SystemTime::now() + Duration::from_secs(10);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(later)
        .unwrap();
    assert_eq!(slot.reload_now(), Reloaded::Swapped(1));
    assert!(slot
        .zone()
        .unwrap()
        .node(b"\x03new\x07example\x03org\x00")
        .is_some());
    assert_eq!(slot.reload_now(), Reloaded::Unchanged);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reload_service_runs_and_stops() {
    let dir = temp_dir("service");
    let path = dir.join("db.example.org");
    write(&path, &example_zone(1, ""));
    let mut s = setup(
        spec("file"),
        "example.org {\n file db.example.org {\n  reload 50ms\n }\n}",
        Some(dir.clone()),
    )
    .unwrap();
    let slot = file_of(&s).slots()[0].clone();
    let service = s.parts.services.pop().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (shutdown, trigger) = cairn_core::setup::Shutdown::new();
    let task = rt.spawn((service.run)(shutdown));
    write(&path, &example_zone(2, ""));
    let mut serial = 1;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(20));
        serial = slot.zone().unwrap().serial();
        if serial == 2 {
            break;
        }
    }
    assert_eq!(serial, 2);
    trigger.fire();
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), task).await })
        .expect("service stops")
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn go_durations() {
    assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
    assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
    assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    assert!(parse_duration("10").unwrap_err().contains("missing unit"));
    assert!(parse_duration("1d").unwrap_err().contains("unknown unit"));
    assert!(parse_duration("-1s").is_err());
    assert!(parse_duration("").is_err());
    assert!(parse_duration("s").is_err());
    assert_eq!(go_duration(Duration::from_secs(60)), "1m0s");
    assert_eq!(go_duration(Duration::from_secs(30)), "30s");
    assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
    assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
    assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
}

#[test]
fn hickory_reads_our_answers() {
    // An independent decoder accepts a reply with every section filled.
    let c = chain(DB_MIEK_NL_DELEGATION, "miek.nl.");
    let (req, result) = run(&c, query("a.delegated.miek.nl.", RType::A));
    let msg = result.unwrap();
    let mut out = Vec::new();
    cairn_core::wire::encode(
        &msg,
        Some(cairn_core::wire::QuestionRef {
            name: req.info.qname.wire(),
            qtype: req.qtype(),
            qclass: req.qclass(),
        }),
        None,
        65535,
        &mut out,
    );
    let parsed = hickory_proto::op::Message::from_vec(&out).unwrap();
    assert_eq!(parsed.authorities.len(), 2);
    assert_eq!(parsed.additionals.len(), 2);
    assert!(!parsed.metadata.authoritative);
}
