//! Lexer rules: whitespace, quotes, escapes, comments, BOM, `\r`, line numbers and the
//! new-line flag.

use std::sync::Arc;

use cairn_corefile::lexer::lex;

/// (text, line, quoted, new_line) for every token.
fn toks(input: &str) -> Vec<(String, u32, bool, bool)> {
    let file: Arc<str> = Arc::from("Corefile");
    lex(&file, input)
        .expect("lex")
        .into_iter()
        .map(|l| (l.token.text, l.token.line, l.token.quoted, l.new_line))
        .collect()
}

fn texts(input: &str) -> Vec<String> {
    toks(input).into_iter().map(|t| t.0).collect()
}

#[test]
fn word_splitting_table() {
    let cases: &[(&str, &[&str])] = &[
        ("", &[]),
        ("   \n\t ", &[]),
        ("a b  c", &["a", "b", "c"]),
        ("a\tb\u{a0}c\u{2003}d\u{3000}e", &["a", "b", "c", "d", "e"]),
        ("a\u{85}b", &["a", "b"]),
        ("\u{feff}example.org", &["example.org"]),
        ("a\r\nb", &["a", "b"]),
        ("ab\rcd", &["abcd"]),
        ("{ }", &["{", "}"]),
        ("{}", &["{}"]),
        ("foo{ bar}", &["foo{", "bar}"]),
        ("a#comment", &["a"]),
        ("a #comment b\nc", &["a", "c"]),
        ("# only a comment", &[]),
        ("a#b#c d\ne", &["a", "e"]),
        ("\"quoted # not a comment\"", &["quoted # not a comment"]),
        ("\"a b\" c", &["a b", "c"]),
        ("\"\"", &[""]),
        ("\"a\"b", &["a", "b"]),
        ("a\"b\"", &["a\"b\""]),
        (r#""say \"hi\"""#, &["say \"hi\""]),
        (r#""back\slash""#, &[r"back\slash"]),
        (r#""two\\""#, &[r"two\\"]),
        (r#""regex \d+\.""#, &[r"regex \d+\."]),
        (r"unquoted\ back", &[r"unquoted\", "back"]),
        ("\"keep\r\n\"", &["keep\n"]),
    ];
    for (input, want) in cases {
        assert_eq!(texts(input), *want, "input {input:?}");
    }
}

#[test]
fn bom_only_dropped_at_start() {
    assert_eq!(texts("a \u{feff}b"), ["a", "\u{feff}b"]);
}

#[test]
fn quoted_flag_and_lines() {
    let t = toks("a \"b\"\n\n  c \"multi\nline\" d\ne");
    assert_eq!(
        t,
        vec![
            ("a".into(), 1, false, true),
            ("b".into(), 1, true, false),
            ("c".into(), 3, false, true),
            ("multi\nline".into(), 3, true, false),
            // `d` follows the multi-line token on the line where it ended: same line.
            ("d".into(), 4, false, false),
            ("e".into(), 5, false, true),
        ]
    );
}

#[test]
fn comment_does_not_swallow_next_line() {
    let t = toks("a # x\nb");
    assert_eq!(t[1], ("b".into(), 2, false, true));
}

#[test]
fn crlf_line_numbers() {
    let t = toks("a\r\nb\r\n\r\nc");
    let lines: Vec<u32> = t.iter().map(|x| x.1).collect();
    assert_eq!(lines, [1, 2, 4]);
}

#[test]
fn unterminated_quote_is_an_error_at_its_start() {
    let file: Arc<str> = Arc::from("Corefile");
    let e = lex(&file, "a\n\"open\nstill open").unwrap_err();
    assert_eq!(e.line, 2);
    assert_eq!(e.file, "Corefile");
    assert!(e.message.contains("Unterminated"), "{e}");
}

#[test]
fn file_name_is_recorded() {
    let file: Arc<str> = Arc::from("/etc/coredns/Corefile");
    let l = lex(&file, "x").unwrap();
    assert_eq!(&*l[0].token.file, "/etc/coredns/Corefile");
}
