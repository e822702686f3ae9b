use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use cairn_core::testing::{query, query_from, run, setup};
use cairn_core::wire::{Name, RData, RType, Rcode, Record, Soa};
use cairn_core::{Chain, Next, Plugin, PluginError, Proto, Request, Served};

use super::format::{Format, Label, Meta, Part, COMBINED, COMMON};
use super::Log;
use crate::registry::spec;

thread_local! {
    static CAPTURED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Takes a query log line when a test is capturing on this thread.
pub(super) fn capture(args: fmt::Arguments<'_>) -> bool {
    CAPTURED.with(|c| match c.borrow_mut().as_mut() {
        Some(lines) => {
            lines.push(args.to_string());
            true
        }
        None => false,
    })
}

/// The kinds of replies the stub below produces.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// `A 10.0.0.1`, authoritative.
    Answer,
    NxDomain,
    /// NOERROR, empty answer, SOA in authority.
    NoDataSoa,
    /// NOERROR, nothing at all (what `hosts` sends for a known name of another type).
    NoDataBare,
    Delegation,
    ServFail,
    Refused,
    /// The chain fails with an error.
    Error,
    /// `acl drop`: no reply.
    Drop,
}

struct Stub(Kind);

impl Plugin for Stub {
    fn name(&self) -> &'static str {
        "stub"
    }
    fn serve<'a>(&'a self, mut req: Box<Request>, _next: Next<'a>) -> Served<'a> {
        let mut m = req.reply();
        let owner = req.qname();
        let zone = Name::parse("example.org.", None).unwrap();
        match self.0 {
            Kind::Answer => {
                m.flags.aa = true;
                m.answer.push(Record::new(
                    owner,
                    3600,
                    RData::A("10.0.0.1".parse().unwrap()),
                ));
            }
            Kind::NxDomain | Kind::NoDataSoa => {
                if let Kind::NxDomain = self.0 {
                    m.rcode = Rcode::NXDOMAIN;
                }
                m.flags.aa = true;
                m.authority.push(Record::new(
                    zone.clone(),
                    30,
                    RData::Soa(Arc::new(Soa {
                        mname: Name::parse("ns.example.org.", None).unwrap(),
                        rname: Name::parse("admin.example.org.", None).unwrap(),
                        serial: 1,
                        refresh: 2,
                        retry: 3,
                        expire: 4,
                        minimum: 5,
                    })),
                ));
            }
            Kind::NoDataBare => m.flags.aa = true,
            Kind::Delegation => m.authority.push(Record::new(
                zone,
                30,
                RData::Ns(Name::parse("ns.example.org.", None).unwrap()),
            )),
            Kind::ServFail => m.rcode = Rcode::SERVFAIL,
            Kind::Refused => m.rcode = Rcode::REFUSED,
            Kind::Error => return Served::error(req, PluginError::failed("stub", "broken")),
            Kind::Drop => m.rcode = Rcode::DROP,
        }
        Served::reply(req, m)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Sets `log` up from a server block body and returns the chain with the stub after it.
fn chain(body: &str, kind: Kind) -> Chain {
    let s = setup(spec("log"), &format!("example.org {{\n{body}\n}}"), None).unwrap();
    s.chain_with(Arc::new(Stub(kind)))
}

/// Runs a query through `chain` and returns the logged lines.
fn logged(chain: &Chain, req: Box<Request>) -> Vec<String> {
    CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
    let (_, result) = run(chain, req);
    let lines = CAPTURED.with(|c| c.borrow_mut().take().unwrap_or_default());
    // The log never changes the result.
    let _ = result;
    lines
}

/// Splits the trailing `{duration}` off a line and checks it looks like Go prints it.
fn without_duration(line: &str) -> &str {
    let (head, dur) = line.rsplit_once(' ').expect("a duration at the end");
    let secs = dur.strip_suffix('s').expect("seconds");
    assert!(!secs.contains('e'), "no exponent: {dur}");
    let v: f64 = secs.parse().expect("a number");
    assert!((0.0..10.0).contains(&v), "{dur}");
    head
}

#[test]
fn common_and_combined_lines() {
    let udp = || query("example.org.", RType::A);
    let tcp6 = || {
        query_from(
            "Example.ORG.",
            RType::AAAA,
            "[2001:db8::1]:53000".parse().unwrap(),
            Proto::Tcp,
        )
    };
    for (body, kind, req, want) in [
        (
            " log",
            Kind::Answer,
            udp(),
            "10.240.0.1:40212 - 48879 \"A IN example.org. udp 40 false 1232\" NOERROR qr,aa,rd 56",
        ),
        (
            " log . {combined}",
            Kind::Answer,
            udp(),
            "10.240.0.1:40212 - 48879 \"A IN example.org. udp 40 false 1232\" NOERROR qr,aa,rd 56 \"0\"",
        ),
        (
            " log",
            Kind::NxDomain,
            tcp6(),
            "[2001:db8::1]:53000 - 48879 \"AAAA IN example.org. tcp 40 false 65535\" NXDOMAIN qr,aa,rd 107",
        ),
        (
            " log",
            Kind::Error,
            udp(),
            "10.240.0.1:40212 - 48879 \"A IN example.org. udp 40 false 1232\" SERVFAIL qr,rd 29",
        ),
        (
            " log",
            Kind::Drop,
            udp(),
            "10.240.0.1:40212 - 48879 \"A IN example.org. udp 40 false 1232\" - - 0",
        ),
    ] {
        let lines = logged(&chain(body, kind), req);
        assert_eq!(lines.len(), 1, "{body} {kind:?}: {lines:?}");
        let line = &lines[0];
        if body.contains("combined") {
            let head = line.strip_suffix(" \"0\"").expect("opcode at the end");
            assert_eq!(format!("{} \"0\"", without_duration(head)), want);
        } else {
            assert_eq!(without_duration(line), want, "{body} {kind:?}");
        }
    }
}

#[test]
fn custom_formats() {
    for (format, want) in [
        ("{type} {class}", "A IN"),
        ("{remote}:{port} {local}", "10.240.0.1:40212 127.0.0.1"),
        (
            "{proto} Request: {name} {type} {>id}",
            "udp Request: example.org. A 48879",
        ),
        (
            "{>do} {>bufsize} {>opcode} {rcode} {rsize}",
            "false 1232 0 NXDOMAIN 107",
        ),
        ("A } {type}", "A } A"),
        ("{ {type} }", "{ A }"),
        ("{when} {host}", "{when} {host}"),
        ("{/log/class} {/log/type} {/forward/upstream}", "- - -"),
        ("{common} {/forward/upstream}", ""),
    ] {
        let body = format!(" log . \"{format}\"");
        let lines = logged(
            &chain(&body, Kind::NxDomain),
            query("example.org.", RType::A),
        );
        assert_eq!(lines.len(), 1, "{format}");
        if want.is_empty() {
            let head = lines[0].strip_suffix(" -").unwrap();
            assert!(
                without_duration(head).ends_with("NXDOMAIN qr,aa,rd 107"),
                "{head}"
            );
        } else {
            assert_eq!(lines[0], want, "{format}");
        }
    }
}

#[test]
fn log_metadata_needs_the_metadata_plugin() {
    let rules =
        super::setup::parse(&directives(" log . \"{/log/class} {/log/type} {/other}\"")).unwrap();
    for (kind, want) in [
        (Kind::Answer, "success NOERROR -"),
        (Kind::NxDomain, "denial NXDOMAIN -"),
        (Kind::NoDataSoa, "denial NODATA -"),
        (Kind::NoDataBare, "success NOERROR -"),
        (Kind::Delegation, "success DELEGATION -"),
        (Kind::ServFail, "error SERVERERROR -"),
        (Kind::Refused, "error OTHERERROR -"),
        (Kind::Error, "error SERVERERROR -"),
        (Kind::Drop, "error OTHERERROR -"),
    ] {
        let chain = Chain::new(vec![
            Arc::new(Log {
                rules: rules.clone(),
                metadata: true,
            }),
            Arc::new(Stub(kind)),
        ]);
        assert_eq!(
            logged(&chain, query("example.org.", RType::A)),
            vec![want.to_string()],
            "{kind:?}"
        );
    }
}

#[test]
fn class_filters() {
    use Kind::*;
    let all = [
        Answer, NxDomain, NoDataSoa, NoDataBare, Delegation, ServFail, Refused, Error, Drop,
    ];
    for (classes, logged_kinds) in [
        ("", &all[..]),
        ("class all", &all[..]),
        ("class all denial", &all[..]),
        ("class success", &[Answer, NoDataBare, Delegation][..]),
        ("class denial", &[NxDomain, NoDataSoa][..]),
        ("class error", &[ServFail, Refused, Error, Drop][..]),
        (
            "class denial error",
            &[NxDomain, NoDataSoa, ServFail, Refused, Error, Drop][..],
        ),
        (
            "class denial\n  class success",
            &[Answer, NxDomain, NoDataSoa, NoDataBare, Delegation][..],
        ),
    ] {
        for kind in all {
            let body = format!(" log {{\n  {classes}\n }}");
            let lines = logged(&chain(&body, kind), query("example.org.", RType::A));
            let want = logged_kinds.contains(&kind);
            assert_eq!(
                lines.len(),
                usize::from(want),
                "{classes} {kind:?}: {lines:?}"
            );
        }
    }
}

#[test]
fn name_scopes() {
    let two = chain(" log example.org example.net", Kind::Answer);
    let first_wins = chain(
        " log example.org {\n  class denial\n }\n log .",
        Kind::Answer,
    );
    for (chain, name, want) in [
        (&two, "example.org.", true),
        (&two, "A.Example.Org.", true),
        (&two, "www.example.net.", true),
        (&two, "example.com.", false),
        (&two, "notexample.org.", false),
        // The first rule whose scope matches decides, even when it logs nothing.
        (&first_wins, "www.example.org.", false),
        (&first_wins, "example.com.", true),
    ] {
        let lines = logged(chain, query(name, RType::A));
        assert_eq!(lines.len(), usize::from(want), "{name}: {lines:?}");
        if want {
            assert!(
                lines[0].contains(&format!(" {} udp ", name.to_lowercase())),
                "the name is logged in lower case: {}",
                lines[0]
            );
        }
    }
    // A single argument is a name, even if it looks like a format.
    let quirk = chain(" log {combined}", Kind::Answer);
    assert!(logged(&quirk, query("example.org.", RType::A)).is_empty());
}

#[test]
fn parses_formats_like_coredns() {
    let f = Format::parse("A } {foo} {type}x{/a/b}");
    assert_eq!(
        f.parts(),
        [
            Part::Literal("A } {foo} ".into()),
            Part::Label(Label::Type),
            Part::Literal("x".into()),
            Part::Meta(Meta::Other("a/b".into())),
        ]
    );
    assert_eq!(Format::from_corefile("{common}"), Format::parse(COMMON));
    assert_eq!(
        Format::from_corefile("{when} {combined}"),
        Format::parse(&format!("{{when}} {COMBINED}"))
    );
    assert_eq!(Format::parse("").parts(), []);
}

#[test]
fn setup_errors() {
    for (body, line, msg) in [
        (
            " log {\n  class abracadabra\n }",
            3,
            "invalid Class: abracadabra",
        ),
        (
            " log {\n  class\n }",
            3,
            "Wrong argument count or unexpected line ending after 'class'",
        ),
        (" log {\n  unknown\n }", 3, "unknown property 'unknown'"),
    ] {
        let err = setup(spec("log"), &format!("example.org {{\n{body}\n}}"), None)
            .err()
            .expect(body);
        assert_eq!((err.line, err.message.as_str()), (line, msg), "{body}");
    }
    let rules = super::setup::parse(&directives(
        " log example.org example.net {when} {\n  class denial\n }\n log",
    ))
    .unwrap();
    assert_eq!(rules.len(), 3);
    assert_eq!(
        rules[1].scope,
        Some(Name::parse("example.net.", None).unwrap())
    );
    assert_eq!(rules[1].format, Format::parse("{when}"));
    assert_eq!(rules[2].scope, Some(Name::root()));
    assert_eq!(rules[2].format, Format::parse(COMMON));
}

/// The `log` directive lines of a one-block Corefile body.
fn directives(body: &str) -> Vec<cairn_corefile::Directive> {
    let text = format!("example.org {{\n{body}\n}}");
    let names = ["log"];
    let cf = cairn_corefile::parse(
        "Corefile",
        &text,
        &cairn_corefile::ParseOptions::new(&names),
    )
    .unwrap();
    cf.blocks[0].directives.clone()
}
