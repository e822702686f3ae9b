//! Case tables ported from CoreDNS's template tests (handler cases, the multi-section
//! Corefile, setup parsing), the Go template subset on its own (output, Go's error texts,
//! refused constructs), and the metrics.

use std::collections::BTreeMap;

use cairn_core::metrics::registry;
use cairn_core::testing::{lines, on_the_wire, query, query_bytes, run, setup, StubNext};
use cairn_core::wire::{Message, RType, Rcode, CLASS_CH, CLASS_IN};
use cairn_core::{Chain, PluginError, Proto, Request};

use super::gotemplate::{Data, MessageFacts, Template};
use super::TemplateHandler;
use crate::go_strconv::parse_uint;
use crate::registry::spec;

/// The rcode the stub next answers with: "fell through".
const FELL_THROUGH: Rcode = Rcode::NOTIMP;

fn chain(corefile: &str) -> Chain {
    let s = setup(spec("template"), corefile, None).unwrap_or_else(|e| panic!("{e}"));
    s.chain_with(StubNext::new(FELL_THROUGH))
}

fn one(body: &str) -> Chain {
    chain(&format!(". {{\n{body}\n}}"))
}

fn ask(c: &Chain, name: &str, qtype: RType) -> (Box<Request>, Result<Message, PluginError>) {
    run(c, query(name, qtype))
}

fn ask_class(c: &Chain, name: &str, qtype: RType, class: u16) -> Result<Message, PluginError> {
    let raw = query_bytes(name, qtype, class, None);
    let r = Request::from_query(&raw, "10.240.0.1:40212".parse().unwrap(), Proto::Udp).unwrap();
    run(c, Box::new(r)).1
}

const IP_A: &str = r#"template ANY ANY {
    match "(^|[.])ip-10-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$"
    answer "{{ .Name }} 60 IN A 10.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
    fallthrough
}"#;

#[test]
fn handler_cases() {
    // CoreDNS TestHandler.
    // RcodeServFail: no write, SERVFAIL.
    let c = one("template ANY ANY {\n rcode SERVFAIL\n}");
    let (_, r) = ask(&c, "test.invalid.", RType::A);
    let m = r.unwrap();
    assert_eq!(m.rcode, Rcode::SERVFAIL);
    assert!(!m.flags.aa);

    // ExampleDomainNameMismatch: falls through.
    let c = one(IP_A);
    let (_, r) = ask(&c, "test.invalid.", RType::A);
    assert_eq!(r.unwrap().rcode, FELL_THROUGH);

    // ExampleDomainMatch.
    let (req, r) = ask(&c, "ip-10-95-12-8.example.", RType::A);
    let wire = on_the_wire(&req, &r.unwrap());
    assert_eq!(wire.rcode, Rcode::NOERROR);
    assert!(wire.flags.aa);
    assert_eq!(
        lines(&wire.answer),
        ["ip-10-95-12-8.example.\t60\tIN\tA\t10.95.12.8"]
    );

    // BrokenTemplate: Go's execution error.
    let c = one(
        "template ANY ANY {\n match \"[.]example[.]$\"\n answer \"{{ .Name }} 60 IN TXT \\\"{{ index .Match 2 }}\\\"\"\n fallthrough\n}",
    );
    let (_, r) = ask(&c, "test.example.", RType::ANY);
    assert_eq!(
        r.unwrap_err().to_string(),
        "plugin/template: template: answer:1:26: executing \"answer\" at <index .Match 2>: error calling index: index out of range: 2"
    );

    // NonRR templates in each section.
    for section in ["answer", "additional", "authority"] {
        let c = one(&format!(
            "template ANY ANY {{\n match \"[.]example[.]$\"\n {section} \"{{{{ .Name }}}}\"\n}}"
        ));
        let (_, r) = ask(&c, "test.example.", RType::ANY);
        let e = r.unwrap_err();
        assert_eq!(e.rcode(), Rcode::SERVFAIL, "{section}");
        assert!(e.to_string().contains("test.example."), "{section}: {e}");
    }

    // ExampleIPMatch: .Remote.
    let c = one("template IN A {\n match .*\n answer \"{{ .Name }} 60 IN A {{ .Remote }}\"\n}");
    let (_, r) = ask(&c, "test.example.", RType::A);
    assert_eq!(
        lines(&r.unwrap().answer),
        ["test.example.\t60\tIN\tA\t10.240.0.1"]
    );

    // ExampleDomainMatchHexIp: parseInt.
    let c = one(r#"template ANY ANY {
    match "^ip0a(?P<b>[a-f0-9]{2})(?P<c>[a-f0-9]{2})(?P<d>[a-f0-9]{2})[.]example[.]$"
    answer "{{ .Name }} 60 IN A 10.{{ parseInt .Group.b 16 8 }}.{{ parseInt .Group.c 16 8 }}.{{ parseInt .Group.d 16 8 }}"
    fallthrough
}"#);
    let (_, r) = ask(&c, "ip0a5f0c09.example.", RType::A);
    assert_eq!(
        lines(&r.unwrap().answer),
        ["ip0a5f0c09.example.\t60\tIN\tA\t10.95.12.9"]
    );

    // BrokenParseIntTemplate.
    let c = one(
        "template ANY ANY {\n match \"[.]example[.]$\"\n answer \"{{ .Name }} 60 IN TXT \\\"{{ parseInt \\\"gg\\\" 16 8 }}\\\"\"\n}",
    );
    let (_, r) = ask(&c, "test.example.", RType::ANY);
    assert_eq!(
        r.unwrap_err().to_string(),
        "plugin/template: template: answer:1:26: executing \"answer\" at <parseInt \"gg\" 16 8>: error calling parseInt: strconv.ParseUint: parsing \"gg\": invalid syntax"
    );

    // ExampleDomainMXMatch: answer and additional.
    let c = one(r#"template ANY ANY {
    match "(^|[.])ip-10-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$"
    answer "{{ .Name }} 60 MX 10 {{ .Name }}"
    additional "{{ .Name }} 60 IN A 10.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
    fallthrough
}"#);
    let (_, r) = ask(&c, "ip-10-95-12-8.example.", RType::MX);
    let m = r.unwrap();
    assert_eq!(
        lines(&m.answer),
        ["ip-10-95-12-8.example.\t60\tIN\tMX\t10 ip-10-95-12-8.example."]
    );
    assert_eq!(
        lines(&m.additional),
        ["ip-10-95-12-8.example.\t60\tIN\tA\t10.95.12.8"]
    );

    // ExampleDomainANSMatch: static sections without a TTL get 3600.
    let c = one(r#"template ANY ANY {
    match "(^|[.])ip-10-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$"
    answer "{{ .Name }} 60 IN A 10.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
    additional "ns0.example. IN A 203.0.113.8"
    authority "example. IN NS ns0.example.com."
    fallthrough
}"#);
    let (_, r) = ask(&c, "ip-10-95-12-8.example.", RType::A);
    let m = r.unwrap();
    assert_eq!(
        lines(&m.additional),
        ["ns0.example.\t3600\tIN\tA\t203.0.113.8"]
    );
    assert_eq!(
        lines(&m.authority),
        ["example.\t3600\tIN\tNS\tns0.example.com."]
    );

    // ExampleInvalidNXDOMAIN.
    let c = one(r#"template ANY ANY {
    match "[.]invalid[.]$"
    rcode NXDOMAIN
    answer "invalid. 60 {{ .Class }} SOA a.invalid. b.invalid. (1 60 60 60 60)"
    fallthrough
}"#);
    let (_, r) = ask(&c, "test.invalid.", RType::MX);
    let m = r.unwrap();
    assert_eq!(m.rcode, Rcode::NXDOMAIN);
    assert_eq!(
        lines(&m.answer),
        ["invalid.\t60\tIN\tSOA\ta.invalid. b.invalid. 1 60 60 60 60"]
    );

    // CNAMEWithoutUpstream: the lookup has no server to go through; the CNAME alone.
    let c = one("template ANY ANY {\n match example[.]net[.]\n answer \"example.net 60 IN CNAME target.example.com\"\n}");
    let (_, r) = ask(&c, "example.net.", RType::A);
    assert_eq!(
        lines(&r.unwrap().answer),
        ["example.net.\t60\tIN\tCNAME\ttarget.example.com."]
    );

    // mdMissing: no metadata, .Meta is empty.
    let c = one(r#"template ANY ANY {
    match "(^|[.])ip-10-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$"
    answer "{{ .Meta \"foofoo\" }}{{ .Name }} 60 IN A 10.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
}"#);
    let (_, r) = ask(&c, "ip-10-95-12-8.example.", RType::A);
    assert_eq!(
        r.unwrap().answer[0].name.to_string(),
        "ip-10-95-12-8.example."
    );

    // EDNS error: the EDE option (code 15) with the info code and text.
    let c = one(r#"template ANY ANY {
    rcode NXDOMAIN
    authority "invalid. 60 {{ .Class }} SOA ns.invalid. hostmaster.invalid. (1 60 60 60 60)"
    ederror 21 "Blocked due to RFC2606"
}"#);
    let (req, r) = ask(&c, "test.invalid.", RType::A);
    let m = r.unwrap();
    assert_eq!(m.rcode, Rcode::NXDOMAIN);
    let e = m.edns.as_ref().expect("EDNS");
    let opts: Vec<(u16, Vec<u8>)> = e.options().map(|(c, d)| (c, d.to_vec())).collect();
    let mut want = vec![0, 21];
    want.extend_from_slice(b"Blocked due to RFC2606");
    assert_eq!(opts, [(15, want)]);
    // The client (which sent EDNS) gets it on the wire.
    let mut out = Vec::new();
    let mut req = req;
    req.encode_reply(&m, &mut out);
    let h = hickory_proto::op::Message::from_vec(&out).unwrap();
    assert!(h.edns.is_some());
    assert!(out.windows(22).any(|w| w == b"Blocked due to RFC2606"));
}

#[test]
fn multi_section() {
    // CoreDNS TestMultiSection.
    let c = chain(
        r#"test.:8053 {
    # REFUSE IN A for the server zone (test.)
    template IN A {
        rcode REFUSED
    }
    # Fallthrough everything IN TXT for test.
    template IN TXT {
        match "$^"
        rcode SERVFAIL
        fallthrough
    }
    # Answer CH TXT *.coredns.invalid. / coredns.invalid.
    template CH TXT coredns.invalid {
        answer "{{ .Name }} 60 CH TXT \"test\""
    }
    # Answer example. ip templates and fallthrough otherwise
    template IN A example {
        match ^ip-10-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$
        answer "{{ .Name }} 60 IN A 10.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
        fallthrough
    }
    # Answer MX record requests for ip templates in example. and never fall through
    template IN MX example {
        match ^ip-10-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$
        answer "{{ .Name }} 60 IN MX 10 {{ .Name }}"
        additional "{{ .Name }} 60 IN A 10.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
    }
}"#,
    );
    let m = ask_class(&c, "some.test.", RType::A, CLASS_IN).unwrap();
    assert_eq!(m.rcode, Rcode::REFUSED);
    let m = ask_class(&c, "some.test.", RType::TXT, CLASS_IN).unwrap();
    assert_eq!(m.rcode, FELL_THROUGH);
    let m = ask_class(&c, "coredns.invalid.", RType::TXT, CLASS_CH).unwrap();
    assert_eq!(m.rcode, Rcode::NOERROR);
    assert_eq!(
        lines(&m.answer),
        ["coredns.invalid.\t60\tCH\tTXT\t\"test\""]
    );
    let m = ask_class(&c, "ip-10-11-12-13.example.", RType::A, CLASS_IN).unwrap();
    assert_eq!(
        lines(&m.answer),
        ["ip-10-11-12-13.example.\t60\tIN\tA\t10.11.12.13"]
    );
    let m = ask_class(&c, "ip-10-11-12-13.example.", RType::MX, CLASS_IN).unwrap();
    assert_eq!(m.answer[0].rtype, RType::MX);
    assert_eq!(m.additional.len(), 1);
    let m = ask_class(&c, "something.example.", RType::A, CLASS_IN).unwrap();
    assert_eq!(m.rcode, FELL_THROUGH);
    let m = ask_class(&c, "something.example.", RType::MX, CLASS_IN).unwrap();
    assert_eq!(m.rcode, Rcode::SERVFAIL);
    // Outside every template zone: straight to next.
    let m = ask_class(&c, "other.org.", RType::A, CLASS_IN).unwrap();
    assert_eq!(m.rcode, FELL_THROUGH);
}

#[test]
fn class_and_type_any_and_case() {
    let c = one("template IN A example {\n answer \"{{ .Name }} 60 IN A 192.0.2.1\"\n}");
    // ANY queries match any template type; the question keeps its case, .Name is lower case.
    let (req, r) = ask(&c, "Www.Example.", RType::ANY);
    let m = r.unwrap();
    assert_eq!(lines(&m.answer), ["www.example.\t60\tIN\tA\t192.0.2.1"]);
    let wire = on_the_wire(&req, &m);
    assert_eq!(wire.question.unwrap().name.to_string(), "Www.Example.");
    // Another type in the zone, no fallthrough: only the A template exists, AAAA passes on.
    let (_, r) = ask(&c, "www.example.", RType::AAAA);
    assert_eq!(r.unwrap().rcode, FELL_THROUGH);
}

#[test]
fn fallthrough_zones() {
    let c = one(r#"template IN A example {
    match "^ip-"
    answer "{{ .Name }} 60 IN A 192.0.2.1"
    fallthrough sub.example
}"#);
    let (_, r) = ask(&c, "x.sub.example.", RType::A);
    assert_eq!(r.unwrap().rcode, FELL_THROUGH);
    let (_, r) = ask(&c, "x.example.", RType::A);
    assert_eq!(r.unwrap().rcode, Rcode::SERVFAIL);
}

#[test]
fn a_static_answer_is_parsed_once_and_served() {
    let c = one("template IN A example {\n answer \"fixed.example. 30 IN A 192.0.2.7\"\n}");
    // Parsed at setup: the handler holds the record itself, not a template.
    let handler = c.plugins()[0]
        .as_any()
        .downcast_ref::<TemplateHandler>()
        .expect("the template handler");
    assert!(matches!(
        handler.entries[0].answer[0].rr,
        super::Rr::Static(_)
    ));
    for _ in 0..3 {
        let (_, r) = ask(&c, "any.example.", RType::A);
        assert_eq!(
            lines(&r.unwrap().answer),
            ["fixed.example.\t30\tIN\tA\t192.0.2.7"]
        );
    }
    // Static text that is no record: accepted (as CoreDNS does), every query fails.
    let c = one("template IN A example {\n answer \"not a record\"\n}");
    let (_, r) = ask(&c, "any.example.", RType::A);
    assert_eq!(r.unwrap_err().rcode(), Rcode::SERVFAIL);
}

#[test]
fn metrics_count_matches_and_failures() {
    let c = chain(
        "metrics-zone.test {\n template IN A {\n  answer \"{{ .Name }} 60 IN A {{ index .Match 5 }}\"\n }\n template IN AAAA {\n  answer \"{{ .Name }} 60 IN AAAA not-an-address\"\n }\n template IN TXT {\n  answer \"{{ .Name }} 60 IN TXT ok\"\n }\n}",
    );
    let _ = ask(&c, "x.metrics-zone.test.", RType::A);
    let _ = ask(&c, "x.metrics-zone.test.", RType::AAAA);
    let _ = ask(&c, "x.metrics-zone.test.", RType::TXT);
    let _ = ask(&c, "y.metrics-zone.test.", RType::TXT);
    let text = registry().encode();
    assert!(
        text.contains("coredns_template_matches_total{server=\"dns://:53\",zone=\"metrics-zone.test.\",view=\"\",class=\"IN\",type=\"TXT\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("coredns_template_template_failures_total{server=\"dns://:53\",zone=\"metrics-zone.test.\",view=\"\",class=\"IN\",type=\"A\",section=\"answer\",template=\"{{.Name}} 60 IN A {{index .Match 5}}\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("coredns_template_rr_failures_total{server=\"dns://:53\",zone=\"metrics-zone.test.\",view=\"\",class=\"IN\",type=\"AAAA\",section=\"answer\",template=\"{{.Name}} 60 IN AAAA not-an-address\"} 1"),
        "{text}"
    );
}

#[test]
fn setup_parse_table() {
    // CoreDNS TestSetupParse (server block keys domain.com and dynamic.domain.com).
    let cases: &[(&str, bool)] = &[
        ("template", true),
        ("template X", true),
        ("template ANY", true),
        ("template ANY X", true),
        ("template ANY ANY .* {\n notavailable\n }", true),
        ("template ANY ANY {\n answer\n }", true),
        ("template ANY ANY {\n additional\n }", true),
        ("template ANY ANY {\n rcode\n }", true),
        ("template ANY ANY {\n rcode UNDEFINED\n }", true),
        ("template ANY ANY {\n answer \"{{\"\n }", true),
        ("template ANY ANY {\n additional \"{{\"\n }", true),
        ("template ANY ANY {\n authority \"{{\"\n }", true),
        ("template ANY ANY {\n answer \"{{ notAFunction }}\"\n }", true),
        ("template ANY ANY {\n answer \"{{ parseInt }}\"\n additional \"{{ parseInt }}\"\n authority \"{{ parseInt }}\"\n }", false),
        ("template ANY ANY {\n }", false),
        // CoreDNS takes any text as a zone (this one never matches a name); Cairn checks
        // zones as every plugin does.
        ("template ANY ANY (?P<x>", true),
        ("template ANY A example.com {\n match ip-(?P<a>[0-9]*)-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]com\n answer \"{{ .Name }} A {{ .Group.a }}.{{ .Group.b }}.{{ .Group.c }}.{{ .Grup.d }}.\"\n fallthrough\n }", false),
        ("template ANY AAAA example.com {\n match ip-(?P<a>[0-9]*)-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]com\n authority \"example.com 60 IN SOA ns.example.com hostmaster.example.com (1 60 60 60 60)\"\n fallthrough\n }", false),
        ("template IN ANY example.com {\n match \"[.](example[.]com[.]dc1[.]example[.]com[.])$\"\n rcode NXDOMAIN\n authority \"{{ index .Match 1 }} 60 IN SOA ns.{{ index .Match 1 }} hostmaster.example.com (1 60 60 60 60)\"\n fallthrough example.com\n }", false),
        ("template IN A example {\n match ^ip-10-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$\n answer \"{{ .Name }} 60 IN A 10.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}\"\n }\n template IN MX example. {\n match ^ip-10-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$\n answer \"{{ .Name }} 60 IN MX 10 {{ .Name }}\"\n additional \"{{ .Name }} 60 IN A 10.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}\"\n }", false),
        ("template IN A example {\n match ^ip0a(?P<b>[a-f0-9]{2})(?P<c>[a-f0-9]{2})(?P<d>[a-f0-9]{2})[.]example[.]$\n answer \"{{ .Name }} 3600 IN A 10.{{ parseInt .Group.b 16 8 }}.{{ parseInt .Group.c 16 8 }}.{{ parseInt .Group.d 16 8 }}\"\n }", false),
        ("template ANY ANY invalid {\n rcode NXDOMAIN\n authority \"invalid. 60 {{ .Class }} SOA ns.invalid. hostmaster.invalid. (1 60 60 60 60)\"\n ederror 21 \"Blocked according to RFC2606\"\n }", false),
        ("template ANY ANY invalid {\n rcode NXDOMAIN\n ederror invalid \"Blocked according to RFC2606\"\n }", true),
        ("template ANY ANY invalid {\n ederror too many arguments\n }", true),
        ("template in a {\n }", true),
        ("template IN a {\n }", true),
        ("template IN A {\n rcode nxdomain\n }", true),
        ("template IN A {\n match \"(\"\n }", true),
        ("template IN A {\n var ip \"1\"\n }", true),
        ("template IN A {\n expr \"true\"\n }", true),
        ("template IN A {\n answer \"{{ if .Name }}x{{ end }}\"\n }", true),
        ("template IN A {\n answer \"{{ $x := .Name }}\"\n }", true),
        ("template IN A {\n answer \"{{ .Message }}\"\n }", true),
        ("template IN A {\n upstream 8.8.8.8\n }", false),
    ];
    for (body, should_err) in cases {
        let corefile = format!("domain.com.:8053 dynamic.domain.com.:8053 {{\n {body}\n}}");
        let got = setup(spec("template"), &corefile, None);
        assert_eq!(got.is_err(), *should_err, "{body}: {:?}", got.err());
    }
}

#[test]
fn setup_errors_name_the_line() {
    for (body, line, want) in [
        ("template IN", 2, "Wrong argument count"),
        ("template XX A", 2, "invalid query class XX"),
        ("template IN XX", 2, "invalid RR class XX"),
        (
            "template IN A {\n  rcode BOGUS\n }",
            3,
            "unknown rcode BOGUS",
        ),
        (
            "template IN A {\n  match (\n }",
            3,
            "could not parse regex: (",
        ),
        (
            "template IN A {\n  answer \"{{ foo }}\"\n }",
            3,
            "function \"foo\" not defined",
        ),
        (
            "template IN A {\n  answer \"{{ range .Match }}{{ end }}\"\n }",
            3,
            "not supported",
        ),
        (
            "template IN A {\n  var ip 1\n }",
            3,
            "not supported by Cairn",
        ),
        (
            "template IN A {\n  fleeb\n }",
            3,
            "unknown property 'fleeb'",
        ),
    ] {
        let corefile = format!("example.org {{\n {body}\n}}");
        let err = setup(spec("template"), &corefile, None)
            .err()
            .unwrap_or_else(|| panic!("{body}"));
        assert_eq!(err.line, line, "{body}: {err}");
        assert!(err.message.contains(want), "{body}: {err}");
    }
}

// ---------------------------------------------------------------------------------------
// The Go template subset on its own.
// ---------------------------------------------------------------------------------------

fn groups() -> BTreeMap<String, String> {
    let mut g = BTreeMap::new();
    g.insert("0".to_string(), "ip-10-1-2-3.example.".to_string());
    g.insert("1".to_string(), "1".to_string());
    g.insert("b".to_string(), "1".to_string());
    g
}

fn render(text: &str) -> Result<String, String> {
    let g = groups();
    let matches = vec!["ip-10-1-2-3.example.".to_string(), "1".to_string()];
    let data = Data {
        zone: "example.",
        name: "ip-10-1-2-3.example.",
        regex: "ip-10-(?P<b>[0-9]*)",
        matches: &matches,
        groups: &g,
        class: "IN",
        rtype: "A",
        remote: "10.240.0.1",
        question: ("IP-10-1-2-3.example.", 1, 1),
        message: MessageFacts {
            id: 0xBEEF,
            opcode: 0,
            recursion_desired: true,
            checking_disabled: false,
            authenticated_data: false,
        },
    };
    let t = Template::parse("answer", text).map_err(|e| e.0)?;
    t.execute(&data, &|k| {
        if k == "k8s/ns" {
            "default".into()
        } else {
            String::new()
        }
    })
    .map_err(|e| e.0)
}

#[test]
fn go_template_output() {
    let cases: &[(&str, &str)] = &[
        ("plain text", "plain text"),
        ("{{ .Name }}", "ip-10-1-2-3.example."),
        (
            "{{.Zone}} {{ .Class }} {{ .Type }} {{ .Remote }}",
            "example. IN A 10.240.0.1",
        ),
        (
            "{{ .Group.b }}/{{ index .Group \"b\" }}/{{ index .Group \"nope\" }}/{{ .Group.nope }}",
            "1/1//<no value>",
        ),
        (
            "{{ index .Match 0 }} {{ index .Match 1 }} {{ .Match }}",
            "ip-10-1-2-3.example. 1 [ip-10-1-2-3.example. 1]",
        ),
        ("{{ .Regex }}", "ip-10-(?P<b>[0-9]*)"),
        (
            "{{ .Question.Name }} {{ .Question.Qtype }} {{ .Question.Qclass }}",
            "IP-10-1-2-3.example. 1 1",
        ),
        (
            "{{ .Message.Id }} {{ .Message.RecursionDesired }}",
            "48879 true",
        ),
        (
            "{{ (index .Message.Question 0).Name }}",
            "IP-10-1-2-3.example.",
        ),
        ("{{ .Meta \"k8s/ns\" }}|{{ .Meta \"other\" }}", "default|"),
        (
            "{{ parseInt \"ff\" 16 8 }} {{ parseInt \"0x1f\" 0 64 }}",
            "255 31",
        ),
        ("{{ .Name | printf \"<%s>\" }}", "<ip-10-1-2-3.example.>"),
        ("{{ printf \"%03d-%x-%-3s|\" 7 255 \"a\" }}", "007-ff-a  |"),
        ("{{ print 1 2 \"a\" \"b\" 3 }}", "1 2ab3"),
        ("{{ len .Match }} {{ len .Name }}", "2 20"),
        (
            "{{ eq .Type \"A\" }} {{ ne .Type \"A\" }} {{ lt 1 2 }} {{ not true }}",
            "true false true false",
        ),
        ("{{ and .Name \"x\" }} {{ or \"\" \"y\" }}", "x y"),
        ("a {{- \" b \" -}} c", "a b c"),
        ("a  {{- /* note */ -}}  b", "ab"),
        ("{{/* a comment */}}x", "x"),
        ("{{ `raw \"text\"` }}", "raw \"text\""),
        ("{{ \"\\t\\x41\\u00e9\" }}", "\tAé"),
        ("{{ (print .Zone) }}", "example."),
        ("{{ -3 }} {{ 0x10 }} {{ 1_000 }}", "-3 16 1000"),
    ];
    for (text, want) in cases {
        assert_eq!(render(text).as_deref(), Ok(*want), "{text}");
    }
}

#[test]
fn go_template_execution_errors() {
    let cases: &[(&str, &str)] = &[
        ("{{ index .Match 2 }}", "template: answer:1:3: executing \"answer\" at <index .Match 2>: error calling index: index out of range: 2"),
        ("x {{ parseInt }}", "template: answer:1:5: executing \"answer\" at <parseInt>: wrong number of args for parseInt: want 3 got 0"),
        ("{{ parseInt \"300\" 10 8 }}", "template: answer:1:3: executing \"answer\" at <parseInt \"300\" 10 8>: error calling parseInt: strconv.ParseUint: parsing \"300\": value out of range"),
        ("{{ .Grup.d }}", "template: answer:1:3: executing \"answer\" at <.Grup.d>: can't evaluate field Grup in type *template.templateData"),
        ("{{ .Var.x }}", "template: answer:1:3: executing \"answer\" at <.Var.x>: can't evaluate field Var in type *template.templateData"),
        ("{{ .Name \"x\" }}", "template: answer:1:3: executing \"answer\" at <.Name>: Name is not a method but has arguments"),
        ("{{ parseInt .Group.x 10 8 }}", "template: answer:1:3: executing \"answer\" at <parseInt .Group.x 10 8>: invalid value; expected string"),
    ];
    for (text, want) in cases {
        assert_eq!(render(text), Err(want.to_string()), "{text}");
    }
}

#[test]
fn go_template_refusals_and_tree_strings() {
    for text in [
        "{{",
        "{{ .Name",
        "{{ if .Name }}x{{ end }}",
        "{{ range .Match }}{{ end }}",
        "{{ with .Name }}{{ end }}",
        "{{ define \"x\" }}{{ end }}",
        "{{ template \"x\" }}",
        "{{ $x := 1 }}",
        "{{ $ }}",
        "{{ html .Name }}",
        "{{ slice .Name 1 }}",
        "{{ nope }}",
        "{{ 1.5 }}",
        "{{ 'a' }}",
        "{{ .Message }}",
        "{{ \"unterminated }}",
        "{{ ( .Name }}",
        "{{ }}",
        "{{/* open }}",
    ] {
        assert!(Template::parse("answer", text).is_err(), "{text}");
    }
    let t = Template::parse(
        "answer",
        "{{ .Name }} 60 IN A 10.{{ .Group.b }}.{{ parseInt .Group.c 16 8 }}{{ .Name | printf \"%s\" }}",
    )
    .unwrap();
    assert_eq!(
        t.tree_string(),
        "{{.Name}} 60 IN A 10.{{.Group.b}}.{{parseInt .Group.c 16 8}}{{.Name | printf \"%s\"}}"
    );
    assert!(!t.is_static());
    let s = Template::parse("answer", "a.example. 60 IN A 192.0.2.1").unwrap();
    assert!(s.is_static());
    assert_eq!(s.static_text(), "a.example. 60 IN A 192.0.2.1");
}

#[test]
fn parse_uint_like_go() {
    assert_eq!(parse_uint("ff", 16, 8), Ok(255));
    assert_eq!(parse_uint("0x1F", 0, 0), Ok(31));
    assert_eq!(parse_uint("017", 0, 64), Ok(15));
    assert_eq!(parse_uint("1_000", 0, 64), Ok(1000));
    assert!(parse_uint("1_000", 10, 64).is_err());
    assert!(parse_uint("", 10, 64).is_err());
    assert!(parse_uint("-1", 10, 64).is_err());
    assert!(parse_uint("+1", 10, 64).is_err());
    assert_eq!(
        parse_uint("256", 10, 8).unwrap_err(),
        "strconv.ParseUint: parsing \"256\": value out of range"
    );
    assert_eq!(
        parse_uint("1", 1, 8).unwrap_err(),
        "strconv.ParseUint: parsing \"1\": invalid base 1"
    );
    assert_eq!(
        parse_uint("1", 10, 65).unwrap_err(),
        "strconv.ParseUint: parsing \"1\": invalid bit size 65"
    );
    assert_eq!(parse_uint("18446744073709551615", 10, 0), Ok(u64::MAX));
    assert!(parse_uint("18446744073709551616", 10, 0).is_err());
}

#[test]
fn go_template_never_panics() {
    // Odd and truncated inputs, multi-byte text around actions: errors, never panics.
    let pieces = [
        "{{", "}}", "{{-", "-}}", " ", "é", "\"", "`", "'", "(", ")", "|", ".", ".Name", "$",
        "index", "printf", "\"%d\"", "1", "-", "/*", "*/", "\\", "\\x4", "\n", "{{/*", "ü{{",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..5000 {
        let mut text = String::new();
        for _ in 0..(seed % 9) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
        }
        if let Ok(t) = Template::parse("answer", &text) {
            let _ = t.tree_string();
            let _ = render(&text);
        }
    }
}
