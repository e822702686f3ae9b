use std::collections::BTreeSet;

use cairn_core::testing::{lines, on_the_wire, query_bytes, run, setup, StubNext};
use cairn_core::wire::{Message, RType, Rcode, CLASS_CH, CLASS_IN};
use cairn_core::{Chain, Proto, Request};

use crate::registry::spec;

fn request(name: &str, qtype: RType, class: u16) -> Box<Request> {
    let raw = query_bytes(name, qtype, class, Some(1232));
    Box::new(Request::from_query(&raw, "10.240.0.1:40212".parse().unwrap(), Proto::Udp).unwrap())
}

fn ask(chain: &Chain, name: &str, qtype: RType, class: u16) -> Message {
    let (req, result) = run(chain, request(name, qtype, class));
    on_the_wire(&req, &result.unwrap())
}

#[test]
fn answers_each_name_in_class_ch() {
    let s = setup(
        spec("chaos"),
        "version.bind version.server authors.bind hostname.bind id.server {\n chaos CoreDNS-001 \"Miek Gieben\"\n}",
        None,
    )
    .unwrap();
    let next = StubNext::new(Rcode::SERVFAIL);
    let chain = s.chain_with(next.clone());
    let host = super::setup::host_name();
    for (qname, want) in [
        ("version.bind.", "\"CoreDNS-001\"".to_string()),
        ("version.server.", "\"CoreDNS-001\"".to_string()),
        ("VERSION.Bind.", "\"CoreDNS-001\"".to_string()),
        ("authors.bind.", "\"Miek Gieben\"".to_string()),
        ("hostname.bind.", format!("\"{host}\"")),
        ("id.server.", format!("\"{host}\"")),
        ("Id.Server.", format!("\"{host}\"")),
    ] {
        let wire = ask(&chain, qname, RType::TXT, CLASS_CH);
        assert_eq!(wire.rcode, Rcode::NOERROR, "{qname}");
        assert!(wire.flags.qr && !wire.flags.aa, "{qname}");
        assert_eq!(
            lines(&wire.answer),
            [format!("{qname}\t0\tCH\tTXT\t{want}")],
            "{qname}"
        );
        assert_eq!(wire.answer[0].class, CLASS_CH);
        assert!(wire.authority.is_empty() && wire.additional.is_empty());
    }
    assert_eq!(next.calls(), 0);
}

#[test]
fn everything_else_passes_to_next() {
    let s = setup(spec("chaos"), ". {\n chaos v1 a b\n}", None).unwrap();
    let next = StubNext::new(Rcode::REFUSED);
    let chain = s.chain_with(next.clone());
    for (i, (qname, qtype, class)) in [
        ("version.bind.", RType::TXT, CLASS_IN),
        ("authors.bind.", RType::TXT, CLASS_IN),
        ("version.bind.", RType::A, CLASS_CH),
        ("authors.bind.", RType::SRV, CLASS_CH),
        ("hostname.bind.", RType::ANY, CLASS_CH),
        ("version.example.", RType::TXT, CLASS_CH),
        ("x.version.bind.", RType::TXT, CLASS_CH),
        ("bind.", RType::TXT, CLASS_CH),
        ("id.bind.", RType::TXT, CLASS_CH),
    ]
    .into_iter()
    .enumerate()
    {
        let wire = ask(&chain, qname, qtype, class);
        assert_eq!(wire.rcode, Rcode::REFUSED, "{qname} {qtype} {class}");
        assert!(wire.answer.is_empty());
        assert_eq!(next.calls(), i + 1, "{qname} {qtype} {class}");
    }
}

#[test]
fn defaults_without_arguments() {
    let s = setup(spec("chaos"), ". {\n chaos\n}", None).unwrap();
    let chain = s.chain_with(StubNext::new(Rcode::SERVFAIL));
    let wire = ask(&chain, "version.bind.", RType::TXT, CLASS_CH);
    assert_eq!(
        lines(&wire.answer),
        [format!(
            "version.bind.\t0\tCH\tTXT\t\"Cairn-{}\"",
            env!("CARGO_PKG_VERSION")
        )]
    );
    let wire = ask(&chain, "authors.bind.", RType::TXT, CLASS_CH);
    assert_eq!(
        lines(&wire.answer),
        ["authors.bind.\t0\tCH\tTXT\t\"Cairn contributors\""]
    );

    // A version alone keeps the default authors.
    let s = setup(spec("chaos"), ". {\n chaos v9\n}", None).unwrap();
    let chain = s.chain_with(StubNext::new(Rcode::SERVFAIL));
    let wire = ask(&chain, "version.server.", RType::TXT, CLASS_CH);
    assert_eq!(lines(&wire.answer), ["version.server.\t0\tCH\tTXT\t\"v9\""]);
    let wire = ask(&chain, "authors.bind.", RType::TXT, CLASS_CH);
    assert_eq!(wire.answer.len(), 1);
}

#[test]
fn authors_are_complete_deduplicated_and_shuffled() {
    let s = setup(
        spec("chaos"),
        ". {\n chaos v1 ann bob cy dee eve bob\n}",
        None,
    )
    .unwrap();
    let chain = s.chain_with(StubNext::new(Rcode::SERVFAIL));
    let want: BTreeSet<String> = ["ann", "bob", "cy", "dee", "eve"]
        .iter()
        .map(|a| format!("authors.bind.\t0\tCH\tTXT\t\"{a}\""))
        .collect();
    let mut orders = BTreeSet::new();
    for _ in 0..40 {
        let wire = ask(&chain, "authors.bind.", RType::TXT, CLASS_CH);
        let got = lines(&wire.answer);
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), want);
        orders.insert(got);
    }
    assert!(orders.len() > 1, "40 replies all had the same order");
}

#[test]
fn long_strings_are_cut_to_255_bytes() {
    let long = "x".repeat(300);
    let s = setup(
        spec("chaos"),
        &format!(". {{\n chaos {long} {long} short\n}}"),
        None,
    )
    .unwrap();
    let chain = s.chain_with(StubNext::new(Rcode::SERVFAIL));
    let wire = ask(&chain, "version.bind.", RType::TXT, CLASS_CH);
    assert_eq!(
        lines(&wire.answer),
        [format!(
            "version.bind.\t0\tCH\tTXT\t\"{}\"",
            "x".repeat(255)
        )]
    );
    let wire = ask(&chain, "authors.bind.", RType::TXT, CLASS_CH);
    let got: BTreeSet<String> = lines(&wire.answer).into_iter().collect();
    assert!(got.contains(&format!(
        "authors.bind.\t0\tCH\tTXT\t\"{}\"",
        "x".repeat(255)
    )));
    assert_eq!(got.len(), 2);
}

#[test]
fn a_block_is_an_error_at_its_line() {
    let err = setup(spec("chaos"), ". {\n chaos v2 {\n  unknown\n }\n}", None)
        .err()
        .unwrap();
    assert_eq!(err.line, 3);
    assert_eq!(
        err.to_string(),
        "Corefile:3 - Error during parsing: unknown property 'unknown'"
    );
}

#[test]
fn only_the_first_line_counts() {
    let s = setup(spec("chaos"), ". {\n chaos first\n chaos second\n}", None).unwrap();
    assert_eq!(s.plugins.len(), 1);
    let chain = s.chain_with(StubNext::new(Rcode::SERVFAIL));
    let wire = ask(&chain, "version.bind.", RType::TXT, CLASS_CH);
    assert_eq!(
        lines(&wire.answer),
        ["version.bind.\t0\tCH\tTXT\t\"first\""]
    );
}
