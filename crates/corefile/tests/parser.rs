//! Server block and directive structure, error messages with file and line, environment
//! substitution, and the `Directive`/`Token` error helpers.

mod common;

use cairn_corefile::{parse, ParseOptions};
use common::{err, keys, ok, opts, render};

const KUBEADM: &str = r#".:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
"#;

#[test]
fn kubeadm_default_corefile() {
    let c = ok(KUBEADM);
    assert_eq!(keys(&c), [[".:53"]]);
    assert_eq!(
        render(&c.blocks[0].directives),
        "errors | health {lameduck 5s} | ready | kubernetes cluster.local in-addr.arpa ip6.arpa \
         {pods insecure | fallthrough in-addr.arpa ip6.arpa | ttl 30} | prometheus :9153 | \
         forward . /etc/resolv.conf {max_concurrent 1000} | cache 30 {disable success \
         cluster.local | disable denial cluster.local} | loop | reload | loadbalance"
    );
    let k = &c.blocks[0].directives[3];
    assert_eq!(k.name.line, 7);
    assert_eq!(k.block[1].name.line, 9);
    assert_eq!(&*k.name.file, "Corefile");
    assert!(k.has_block);
    assert!(!c.blocks[0].directives[0].has_block);
    assert_eq!(c.files, [std::path::PathBuf::from("Corefile")]);
    assert!(c.warnings.is_empty());
}

/// (input, expected keys per block, expected rendering per block)
type StructureCase = (
    &'static str,
    &'static [&'static [&'static str]],
    &'static [&'static str],
);

#[test]
fn structure_table() {
    let cases: &[StructureCase] = &[
        ("", &[], &[]),
        ("# nothing\n\n  # at all\n", &[], &[]),
        ("example.org", &[&["example.org"]], &[""]),
        ("example.org {\n}", &[&["example.org"]], &[""]),
        ("example.org { }", &[&["example.org"]], &[""]),
        ("example.org {\n errors\n}", &[&["example.org"]], &["errors"]),
        // Several keys, with and without commas.
        ("a.org b.org {\n errors\n}", &[&["a.org", "b.org"]], &["errors"]),
        ("a.org, b.org {\n errors\n}", &[&["a.org", "b.org"]], &["errors"]),
        ("a.org , b.org {\n errors\n}", &[&["a.org", "b.org"]], &["errors"]),
        ("a.org,\nb.org,\n  c.org {\n errors\n}", &[&["a.org", "b.org", "c.org"]], &["errors"]),
        // `{` on the line after the keys is accepted (as in Caddy).
        ("a.org\n{\n errors\n}", &[&["a.org"]], &["errors"]),
        // Braceless single block runs to end of input.
        ("a.org\nerrors\nlog stdout", &[&["a.org"]], &["errors | log stdout"]),
        (".:53\n\nforward . 1.1.1.1 {\n max_fails 2\n}\ncache", &[&[".:53"]], &["forward . 1.1.1.1 {max_fails 2} | cache"]),
        // Only the last block may omit its braces (it runs to end of input).
        ("a {\n errors\n}\nb\nlog", &[&["a"], &["b"]], &["errors", "log"]),
        // Several blocks, also closing and opening on one line.
        ("a.org {\n errors\n}\nb.org {\n log\n}", &[&["a.org"], &["b.org"]], &["errors", "log"]),
        ("a.org {\n errors\n} b.org {\n log\n}", &[&["a.org"], &["b.org"]], &["errors", "log"]),
        // Repeated directives keep their order and are not grouped.
        ("a {\n log\n forward . 1.1.1.1\n log stdout\n forward . 2.2.2.2\n}", &[&["a"]], &["log | forward . 1.1.1.1 | log stdout | forward . 2.2.2.2"]),
        // Nested blocks: same-line content, empty blocks, deep nesting, closing on one line.
        ("a {\n forward . x { max_fails 3 }\n}", &[&["a"]], &["forward . x {max_fails 3}"]),
        ("a {\n forward . x {\n }\n}", &[&["a"]], &["forward . x {}"]),
        ("a {\n forward . x {}\n}", &[&["a"]], &["forward . x {}"]),
        ("a {\n template IN A {\n  match x {\n   deeper {\n    deepest 1\n   }\n  }\n  fallthrough\n }\n}", &[&["a"]], &["template IN A {match x {deeper {deepest 1}} | fallthrough}"]),
        ("a {\n forward . x {\n  max_fails 3 } }", &[&["a"]], &["forward . x {max_fails 3}"]),
        ("a {\n forward . x { a 1\n b 2\n }\n log\n}", &[&["a"]], &["forward . x {a 1 | b 2} | log"]),
        // A server-level line may end with the block's closing brace.
        ("a { errors }", &[&["a"]], &["errors"]),
        ("a {\n errors\n log }\nb {\n}", &[&["a"], &["b"]], &["errors | log", ""]),
        // Quoted braces are plain text.
        ("a {\n template \"{\" \"}\"\n}", &[&["a"]], &["template { }"]),
        ("a {\n rewrite name regex (.*)\\.x {1}.y\n}", &[&["a"]], &["rewrite name regex (.*)\\.x {1}.y"]),
        // Nested lines are not checked against the directive list.
        ("a {\n forward . x {\n  anything goes here\n }\n}", &[&["a"]], &["forward . x {anything goes here}"]),
        // Empty keys are dropped.
        ("\"\" a.org {\n}", &[&["a.org"]], &[""]),
        // A quoted multi-line argument does not end the directive line early.
        ("a {\n template \"x\ny\" z\n log\n}", &[&["a"]], &["template x\ny z | log"]),
        // Comments anywhere.
        ("a { # c\n errors # c\n log#c\n} # c", &[&["a"]], &["errors | log"]),
        ("\u{feff}a {\r\n errors\r\n}\r\n", &[&["a"]], &["errors"]),
    ];
    for (input, want_keys, want_dirs) in cases {
        let c = ok(input);
        assert_eq!(keys(&c), *want_keys, "keys for {input:?}");
        let got: Vec<String> = c.blocks.iter().map(|b| render(&b.directives)).collect();
        assert_eq!(got, *want_dirs, "directives for {input:?}");
    }
}

/// (input, expected full error text)
#[test]
fn error_table() {
    let cases: &[(&str, &str)] = &[
        ("example.org {\n  foo\n}", "Corefile:2 - Error during parsing: Unknown directive 'foo'"),
        ("example.org\nfoo", "Corefile:2 - Error during parsing: Unknown directive 'foo'"),
        ("a {\n errors\n}\nb\nbogus", "Corefile:5 - Error during parsing: Unknown directive 'bogus'"),
        // A second block after a braceless one is read as directives.
        ("a\nerrors\nb {\n}", "Corefile:3 - Error during parsing: Unknown directive 'b'"),
        ("}", "Corefile:1 - Error during parsing: Unexpected '}' because no matching opening brace"),
        ("a {\n errors\n}\n}", "Corefile:4 - Error during parsing: Unexpected '}' because no matching opening brace"),
        ("a\nerrors\n}", "Corefile:3 - Error during parsing: Unexpected '}' because no matching opening brace"),
        ("a\nerrors }", "Corefile:2 - Error during parsing: Unexpected '}' because no matching opening brace"),
        ("a {\n errors\n", "Corefile:2 - Error during parsing: Unexpected EOF: missing '}' to close the block opened at Corefile:1"),
        ("a {\n forward . x {\n  max_fails 1\n}", "Corefile:4 - Error during parsing: Unexpected EOF: missing '}' to close the block opened at Corefile:1"),
        ("a {\n forward . x {\n  max_fails 1\n", "Corefile:3 - Error during parsing: Unexpected EOF: missing '}' to close the block opened at Corefile:2"),
        ("a {", "Corefile:1 - Error during parsing: Unexpected EOF: missing '}' to close the block opened at Corefile:1"),
        ("a {\n forward . x\n {\n }\n}", "Corefile:3 - Error during parsing: Unexpected '{': a block must be opened on the same line as its directive"),
        ("a {\n forward . x {\n  {\n  }\n }\n}", "Corefile:3 - Error during parsing: Unexpected '{': a block must be opened on the same line as its directive"),
        ("a {\n forward . x { max_fails 1 } extra\n}", "Corefile:2 - Error during parsing: Unexpected 'extra' after '}': a block must end its line"),
        ("a, {\n}", "Corefile:1 - Error during parsing: Expected another address but had '{' - check for extra comma"),
        ("a,", "Corefile:1 - Error during parsing: Unexpected EOF: expected another address after ','"),
        ("{\n errors\n}", "Corefile:1 - Error during parsing: Missing server block address before '{'"),
        ("\"\" {\n}", "Corefile:1 - Error during parsing: Empty server block address"),
        ("a }", "Corefile:1 - Error during parsing: Unexpected '}' because no matching opening brace"),
        ("a {\n \"errors\n\"\n}", "Corefile:2 - Error during parsing: Unknown directive 'errors\n'"),
        ("a {\n log \"unterminated\n}\n", "Corefile:2 - Error during parsing: Unterminated quoted string (missing closing '\"')"),
        // Quoted braces do not open or close anything.
        ("a \"{\"\nerrors\n\"}\"", "Corefile:3 - Error during parsing: Unknown directive '}'"),
        ("a {\n log \"}\"\n", "Corefile:2 - Error during parsing: Unexpected EOF: missing '}' to close the block opened at Corefile:1"),
    ];
    for (input, want) in cases {
        assert_eq!(err(input).to_string(), *want, "input {input:?}");
    }
}

#[test]
fn environment_substitution() {
    let c = ok("{$ZONE}:{$PORT} {%ZONE%}, {$UNSET}\n{$PLUGIN}\nforward . {$UPSTREAM} \"{$UPSTREAM}:53\" {\n  opt {%UPSTREAM%}x{$UNSET}y\n}\ntemplate IN A {\n answer \"{{$var}} {{ .Name }}\" {$OPEN}\n}");
    assert_eq!(keys(&c), [["example.org:1053", "example.org"]]);
    assert_eq!(
        render(&c.blocks[0].directives),
        "errors | forward . 9.9.9.9 9.9.9.9:53 {opt 9.9.9.9xy} | template IN A {answer {} {{ .Name }} {}"
    );
    // A value that is `{` is text, not a block opener.
    let last = &c.blocks[0].directives[2].block[0];
    assert_eq!(last.arg_texts(), ["{} {{ .Name }}", "{"]);
    assert!(!last.has_block);
}

#[test]
fn environment_defaults_to_process_env() {
    // PATH is set in any test environment; an unset name becomes empty.
    let opts = ParseOptions::new(&["log"]);
    let c = parse(
        "Corefile",
        "a {\n log {$PATH} x{$CAIRN_SURELY_UNSET_VARIABLE}y\n}",
        &opts,
    )
    .unwrap();
    let args = c.blocks[0].directives[0].arg_texts();
    assert_eq!(args[0], std::env::var("PATH").unwrap_or_default());
    assert_eq!(args[1], "xy");
}

#[test]
fn environment_key_comma_and_empty_keys() {
    // A value ending in ',' continues the key list, like a written comma.
    let c = ok("{$KEYS}\nb.org {\n}");
    assert_eq!(keys(&c), [["a.org", "b.org"]]);
    // All keys empty after substitution is an error rather than a silently dropped block.
    let e = err("{$UNSET} {\n errors\n}");
    assert_eq!(
        e.to_string(),
        "Corefile:1 - Error during parsing: Empty server block address"
    );
    // Unknown directive names are reported after substitution.
    let e = err("a {\n x{$PLUGIN}\n}");
    assert_eq!(e.message, "Unknown directive 'xerrors'");
}

#[test]
fn nesting_limit() {
    let depth = cairn_corefile::parser::MAX_NESTING;
    let mut ok_text = String::from("a {\n forward");
    for _ in 0..depth {
        ok_text.push_str(" {\n x");
    }
    for _ in 0..depth {
        ok_text.push_str("\n}");
    }
    ok_text.push_str("\n}");
    let c = ok(&ok_text);
    let mut d = &c.blocks[0].directives[0];
    let mut n = 0;
    while let Some(child) = d.block.first() {
        d = child;
        n += 1;
    }
    assert_eq!(n, depth);

    let mut deep = String::from("a {\n forward");
    for _ in 0..=depth {
        deep.push_str(" {\n x");
    }
    let e = err(&deep);
    assert!(e.message.contains("nested too deeply"), "{e}");

    // Many braces on one line are equally bounded (and do not overflow the stack).
    let e = err(&format!("a {{\n forward {}", "x { ".repeat(100_000)));
    assert!(e.message.contains("nested too deeply"), "{e}");
}

#[test]
fn directive_helpers() {
    let c = ok("a {\n forward . 1.1.1.1 {\n  bogus 1 2\n  policy\n }\n errors\n}");
    let fwd = &c.blocks[0].directives[0];
    assert_eq!(fwd.arg_texts(), [".", "1.1.1.1"]);
    assert_eq!(
        fwd.error("boom").to_string(),
        "Corefile:2 - Error during parsing: boom"
    );
    assert_eq!(
        fwd.arg_count_error().to_string(),
        "Corefile:2 - Error during parsing: Wrong argument count or unexpected line ending after '1.1.1.1'"
    );
    assert_eq!(
        fwd.block[0].unknown_property().to_string(),
        "Corefile:3 - Error during parsing: unknown property 'bogus'"
    );
    assert_eq!(
        fwd.block[1].arg_count_error().to_string(),
        "Corefile:4 - Error during parsing: Wrong argument count or unexpected line ending after 'policy'"
    );
    let errors = &c.blocks[0].directives[1];
    assert!(errors.arg_texts().is_empty());
    assert_eq!(
        fwd.args[1].error("bad upstream").to_string(),
        "Corefile:2 - Error during parsing: bad upstream"
    );
    let e = fwd.block[0].args[1].error("x");
    assert_eq!(
        (e.file.as_str(), e.line, e.message.as_str()),
        ("Corefile", 3, "x")
    );
}

#[test]
fn arg_count_error_uses_last_token_line() {
    let c = ok("a {\n template IN A \"x\ny\"\n}");
    let e = c.blocks[0].directives[0].arg_count_error();
    assert_eq!(e.line, 2);
    assert!(e.message.ends_with("after 'x\ny'"));
}

#[test]
fn token_positions() {
    let c = ok("\n\na.org,\n  b.org {\n\n  log \"q\" x\n}\n");
    let b = &c.blocks[0];
    assert_eq!(b.keys[0].line, 3);
    assert_eq!(b.keys[1].line, 4);
    let log = &b.directives[0];
    assert_eq!(log.name.line, 6);
    assert!(log.args[0].quoted);
    assert!(!log.args[1].quoted);
}

#[test]
fn stdin_is_not_listed_as_a_file() {
    let c = parse("stdin", "a {\n}", &opts()).unwrap();
    assert!(c.files.is_empty());
    let e = parse("stdin", "a {\n bogus\n}", &opts()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "stdin:2 - Error during parsing: Unknown directive 'bogus'"
    );
}

#[test]
fn empty_directive_list_rejects_everything() {
    let opts = ParseOptions::new(&[]);
    assert!(parse("Corefile", "a {\n}", &opts).is_ok());
    let e = parse("Corefile", "a {\n errors\n}", &opts).unwrap_err();
    assert_eq!(e.message, "Unknown directive 'errors'");
}

#[test]
fn parse_error_display_and_fields() {
    let e = cairn_corefile::ParseError::new("f", 7, "m");
    assert_eq!(e.to_string(), "f:7 - Error during parsing: m");
    assert_eq!(
        e,
        cairn_corefile::ParseError {
            file: "f".into(),
            line: 7,
            message: "m".into()
        }
    );
}
