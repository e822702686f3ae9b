//! `import` of snippets and files: placement, argument checks, relative paths, globs,
//! missing files, cycles and expansion caps.

mod common;

use std::path::PathBuf;

use cairn_corefile::{parse, parse_file};
use common::{err, keys, ok, opts, render, TempDir};

// ----- snippets ---------------------------------------------------------------------------

#[test]
fn snippet_in_server_block() {
    let c = ok("(common) {\n  errors\n  log\n}\n\na.org {\n  import common\n  cache 30\n}\nb.org {\n  cache\n  import common\n}");
    assert_eq!(keys(&c), [["a.org"], ["b.org"]]);
    assert_eq!(render(&c.blocks[0].directives), "errors | log | cache 30");
    assert_eq!(render(&c.blocks[1].directives), "cache | errors | log");
    // Imported tokens keep the position of their definition.
    assert_eq!(c.blocks[0].directives[0].name.line, 2);
}

#[test]
fn snippet_body_on_the_brace_line() {
    let c = ok("(s) { errors\n log stdout }\na {\n import s\n cache\n}");
    assert_eq!(
        render(&c.blocks[0].directives),
        "errors | log stdout | cache"
    );
}

#[test]
fn snippet_at_top_level_and_in_plugin_block() {
    let c = ok("(blocks) {\n a.org {\n  errors\n }\n b.org {\n  log\n }\n}\n(opts) {\n max_fails 3\n policy sequential\n}\nimport blocks\nc.org {\n forward . 1.1.1.1 {\n  import opts\n  expire 10s\n }\n}");
    assert_eq!(keys(&c), [["a.org"], ["b.org"], ["c.org"]]);
    assert_eq!(
        render(&c.blocks[2].directives),
        "forward . 1.1.1.1 {max_fails 3 | policy sequential | expire 10s}"
    );
}

#[test]
fn snippet_in_braceless_block_and_env_name() {
    let c = ok("(common) {\n errors\n}\n.:53\nimport {$SNIP}\nlog");
    assert_eq!(keys(&c), [[".:53"]]);
    assert_eq!(render(&c.blocks[0].directives), "errors | log");
}

#[test]
fn snippet_with_nested_blocks_and_nested_snippets() {
    let c = ok("(inner) {\n max_fails 2\n}\n(outer) {\n forward . x {\n  import inner\n }\n log\n}\na {\n import outer\n}");
    assert_eq!(
        render(&c.blocks[0].directives),
        "forward . x {max_fails 2} | log"
    );
}

#[test]
fn empty_snippet_is_defined() {
    let c = ok("(nothing) {\n}\na {\n import nothing\n errors\n}");
    assert_eq!(render(&c.blocks[0].directives), "errors");
}

#[test]
fn snippet_is_not_a_block_and_unused_snippets_are_not_checked() {
    let c = ok("(unused) {\n not_a_directive at all\n}\n");
    assert!(c.blocks.is_empty());
}

#[test]
fn snippet_directives_are_checked_where_used() {
    let e = err("(bad) {\n bogus\n}\na {\n import bad\n}");
    assert_eq!(
        e.to_string(),
        "Corefile:2 - Error during parsing: Unknown directive 'bogus'"
    );
}

/// (input, expected full error text)
#[test]
fn snippet_error_table() {
    let cases: &[(&str, &str)] = &[
        ("(s) {\n errors\n}\n(s) {\n log\n}", "Corefile:4 - Error during parsing: redeclaration of previously declared snippet s"),
        ("(s) {\n errors\n import s\n}", "Corefile:3 - Error during parsing: snippet 's' imports itself"),
        ("(s) { import s\n}", "Corefile:1 - Error during parsing: snippet 's' imports itself"),
        ("(s) {\n forward . x {\n  import s\n }\n}", "Corefile:3 - Error during parsing: snippet 's' imports itself"),
        ("(a) {\n import b\n}\n(b) {\n import a\n}\nx {\n import a\n}", "Corefile:5 - Error during parsing: Import cycle: snippet 'a' ends up importing itself"),
        ("(s)\nerrors", "Corefile:2 - Error during parsing: Unexpected token 'errors', expecting '{' to open snippet '(s)'"),
        ("(s)", "Corefile:1 - Error during parsing: Unexpected EOF, expecting '{' to open snippet '(s)'"),
        ("(s) {\n errors\n", "Corefile:2 - Error during parsing: Unexpected EOF: missing '}' to close snippet '(s)' opened at Corefile:1"),
        ("(s) {\n forward {\n }\n", "Corefile:3 - Error during parsing: Unexpected EOF: missing '}' to close snippet '(s)' opened at Corefile:1"),
        ("a {\n import\n}", "Corefile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'import'"),
        ("a {\n import a b\n}", "Corefile:2 - Error during parsing: Import takes only one argument (glob pattern or file)"),
        ("import a b", "Corefile:1 - Error during parsing: Import takes only one argument (glob pattern or file)"),
        ("a {\n import \"\"\n}", "Corefile:2 - Error during parsing: Import requires a non-empty filepath"),
        ("a {\n import {$UNSET}\n}", "Corefile:2 - Error during parsing: Import requires a non-empty filepath"),
        ("a {\n forward . x {\n  import\n }\n}", "Corefile:3 - Error during parsing: Wrong argument count or unexpected line ending after 'import'"),
    ];
    for (input, want) in cases {
        assert_eq!(err(input).to_string(), *want, "input {input:?}");
    }
}

#[test]
fn snippet_fan_out_is_capped() {
    // s1 imports s0 twice, s2 imports s1 twice, ...: 2^14 expansions > 10000.
    let mut text = String::from("(s0) {\n log\n}\n");
    for i in 1..=14 {
        text.push_str(&format!(
            "(s{i}) {{\n import s{p}\n import s{p}\n}}\n",
            p = i - 1
        ));
    }
    text.push_str("a {\n import s14\n}\n");
    let e = err(&text);
    assert!(
        e.message
            .contains("maximum snippet import depth (10000) exceeded"),
        "{e}"
    );
}

#[test]
fn token_total_is_capped() {
    // 2^12 expansions of a 300-token snippet: well below the expansion cap, above 1M tokens.
    let mut text = format!("(s0) {{\n log {}\n}}\n", "x ".repeat(300));
    for i in 1..=12 {
        text.push_str(&format!(
            "(s{i}) {{\n import s{p}\n import s{p}\n}}\n",
            p = i - 1
        ));
    }
    text.push_str("a {\n import s12\n}\n");
    let e = err(&text);
    assert!(e.message.contains("too large"), "{e}");
}

#[test]
fn quoted_import_is_a_directive_name() {
    let e = err("a {\n \"import\" x\n}");
    assert_eq!(e.message, "Unknown directive 'import'");
    // `import` not at the start of a line is an ordinary word.
    let c = ok("a {\n log import x\n}");
    assert_eq!(render(&c.blocks[0].directives), "log import x");
}

// ----- files ------------------------------------------------------------------------------

#[test]
fn file_import_relative_to_importing_file() {
    let d = TempDir::new("rel");
    d.write(
        "Corefile",
        "import sub/zone.conf\n.:53 {\n  import sub/plugins.conf\n}\n",
    );
    d.write("sub/zone.conf", "example.org {\n  import more.conf\n}\n");
    d.write("sub/more.conf", "log\n");
    d.write("sub/plugins.conf", "errors\ncache 30\n");
    let main = d.path().join("Corefile");
    let c = parse_file(&main, &opts()).unwrap();
    assert_eq!(keys(&c), [["example.org"], [".:53"]]);
    assert_eq!(render(&c.blocks[0].directives), "log");
    assert_eq!(render(&c.blocks[1].directives), "errors | cache 30");
    let sub = d.path().join("sub");
    assert_eq!(
        c.files,
        vec![
            main.clone(),
            std::path::absolute(sub.join("zone.conf")).unwrap(),
            std::path::absolute(sub.join("more.conf")).unwrap(),
            std::path::absolute(sub.join("plugins.conf")).unwrap(),
        ]
    );
    // Imported tokens name the imported file.
    let log = &c.blocks[0].directives[0];
    assert_eq!(
        PathBuf::from(&*log.name.file),
        std::path::absolute(sub.join("more.conf")).unwrap()
    );
    assert_eq!(log.name.line, 1);
}

#[test]
fn errors_in_imported_files_carry_their_file_and_line() {
    let d = TempDir::new("errfile");
    d.write("Corefile", ".:53 {\n  import bad.conf\n}\n");
    d.write("bad.conf", "errors\n\nbogus here\n");
    let e = parse_file(&d.path().join("Corefile"), &opts()).unwrap_err();
    let bad = std::path::absolute(d.path().join("bad.conf")).unwrap();
    assert_eq!(e.file, bad.to_string_lossy());
    assert_eq!(e.line, 3);
    assert_eq!(e.message, "Unknown directive 'bogus'");

    d.write("quote.conf", "log \"open\n");
    d.write("Corefile", ".:53 {\n  import quote.conf\n}\n");
    let e = parse_file(&d.path().join("Corefile"), &opts()).unwrap_err();
    assert!(e.file.ends_with("quote.conf"), "{e}");
    assert_eq!(e.line, 1);
}

#[test]
fn glob_imports_in_name_order() {
    let d = TempDir::new("glob");
    d.write("conf.d/20-b.conf", "b.org {\n log\n}\n");
    d.write("conf.d/10-a.conf", "a.org {\n errors\n}\n");
    d.write("conf.d/30-c.conf", "c.org {\n cache\n}\n");
    d.write("conf.d/notes.txt", "not imported\n");
    d.write("conf.d/zone-1.db", "x.org {\n}\n");
    d.write("conf.d/zone-22.db", "y.org {\n}\n");
    d.write(
        "Corefile",
        "import conf.d/*.conf\nimport conf.d/zone-?.db\n",
    );
    let c = parse_file(&d.path().join("Corefile"), &opts()).unwrap();
    assert_eq!(keys(&c), [["a.org"], ["b.org"], ["c.org"], ["x.org"]]);
    assert_eq!(c.files.len(), 5);
    assert!(c.files[1].ends_with("10-a.conf"));
    assert!(c.files[3].ends_with("30-c.conf"));
    assert!(c.warnings.is_empty());
}

#[test]
fn glob_files_may_import_each_other() {
    // Files of one glob are siblings, not ancestors of each other: no false cycle.
    let d = TempDir::new("siblings");
    d.write("inc/a.conf", "import b.conf\n");
    d.write("inc/b.conf", "log\n");
    d.write("Corefile", ".:53 {\n import inc/*.conf\n}\n");
    let c = parse_file(&d.path().join("Corefile"), &opts()).unwrap();
    assert_eq!(render(&c.blocks[0].directives), "log | log");
}

#[test]
fn glob_matching_nothing_is_a_warning() {
    let d = TempDir::new("nomatch");
    d.write(
        "Corefile",
        ".:53 {\n errors\n import conf.d/*.conf\n import nodir/x?.conf\n}\n",
    );
    let c = parse_file(&d.path().join("Corefile"), &opts()).unwrap();
    assert_eq!(render(&c.blocks[0].directives), "errors");
    assert_eq!(c.warnings.len(), 2);
    assert!(
        c.warnings[0].contains(":3 - No files matching import glob pattern: conf.d/*.conf"),
        "{:?}",
        c.warnings
    );
}

#[test]
fn file_import_error_table() {
    let d = TempDir::new("fileerr");
    d.write("dir.conf/inner", "x");
    d.write("globdir/a.conf", "log\n");
    std::fs::create_dir_all(d.path().join("globdir/b.conf")).unwrap();
    let main = d.path().join("Corefile");
    let cases: &[(&str, &str)] = &[
        (
            "a {\n import missing.conf\n}",
            "File to import not found: missing.conf",
        ),
        ("a {\n import dir.conf\n}", "is a directory"),
        ("a {\n import globdir/*.conf\n}", "is a directory"),
        ("a {\n import *.*\n}", "may only contain one wildcard"),
        ("a {\n import a??\n}", "may only contain one wildcard"),
        ("a {\n import [ab].conf\n}", "character classes"),
        (
            "a {\n import */x.conf\n}",
            "only supported in the file name",
        ),
        ("a {\n import sub/\n}", "is a directory"),
    ];
    d.write("sub/x", "");
    for (text, want) in cases {
        let e = parse(&main.to_string_lossy(), text, &opts()).unwrap_err();
        assert_eq!(e.line, 2, "{text:?}: {e}");
        assert_eq!(e.file, main.to_string_lossy(), "{text:?}: {e}");
        assert!(e.message.contains(want), "{text:?}: {e}");
    }
}

#[test]
fn file_cycles_are_errors() {
    let d = TempDir::new("cycle");
    d.write("a.conf", "import b.conf\n");
    d.write("b.conf", "import a.conf\n");
    d.write("Corefile", ".:53 {\n import a.conf\n}\n");
    let e = parse_file(&d.path().join("Corefile"), &opts()).unwrap_err();
    assert!(e.message.contains("Import cycle"), "{e}");
    assert!(e.file.ends_with("b.conf"), "{e}");

    // The main file importing itself.
    d.write("Corefile", ".:53 {\n errors\n}\nimport Corefile\n");
    let e = parse_file(&d.path().join("Corefile"), &opts()).unwrap_err();
    assert!(e.message.contains("Import cycle"), "{e}");
    assert_eq!(e.line, 4);

    // A glob that matches the importing file.
    d.write("self/x.conf", "import *.conf\n");
    d.write("Corefile", ".:53 {\n import self/x.conf\n}\n");
    let e = parse_file(&d.path().join("Corefile"), &opts()).unwrap_err();
    assert!(e.message.contains("Import cycle"), "{e}");
}

#[test]
fn snippet_shadows_file_and_files_can_define_snippets() {
    let d = TempDir::new("shadow");
    d.write("common", "log from-file\n");
    d.write("snippets.conf", "(common) {\n errors\n}\n");
    d.write(
        "Corefile",
        "a {\n import common\n}\nimport snippets.conf\nb {\n import common\n}\n",
    );
    let c = parse_file(&d.path().join("Corefile"), &opts()).unwrap();
    assert_eq!(render(&c.blocks[0].directives), "log from-file");
    assert_eq!(render(&c.blocks[1].directives), "errors");
}

#[test]
fn absolute_and_env_import_patterns() {
    let d = TempDir::new("abs");
    let inc = d.write("inc.conf", "cache 10\n");
    let text = format!("a {{\n import \"{}\"\n}}", inc.display());
    let c = parse("Corefile", &text, &opts()).unwrap();
    assert_eq!(render(&c.blocks[0].directives), "cache 10");
    assert_eq!(c.files, vec![PathBuf::from("Corefile"), inc.clone()]);

    let dir = d.path().to_string_lossy().into_owned();
    let o = cairn_corefile::ParseOptions::new(common::DIRECTIVES)
        .with_env(move |n| (n == "DIR").then(|| dir.clone()));
    let c = parse("Corefile", "a {\n import {$DIR}/inc.conf\n}", &o).unwrap();
    assert_eq!(render(&c.blocks[0].directives), "cache 10");
}

#[test]
fn keys_may_continue_in_an_import() {
    let d = TempDir::new("keys");
    d.write("keys.txt", "b.org,\nc.org\n");
    d.write("Corefile", "a.org,\nimport keys.txt\n{\n errors\n}\n");
    let c = parse_file(&d.path().join("Corefile"), &opts()).unwrap();
    assert_eq!(keys(&c), [["a.org", "b.org", "c.org"]]);
}

#[test]
fn file_fan_out_is_capped_by_tokens_or_imports() {
    // f1 imports f0 twice, ...: 2^17 file imports (each read once thanks to the cache).
    let d = TempDir::new("fanout");
    d.write("f0", "log\n");
    for i in 1..=17 {
        d.write(
            &format!("f{i}"),
            &format!("import f{p}\nimport f{p}\n", p = i - 1),
        );
    }
    d.write("Corefile", ".:53 {\n import f17\n}\n");
    let e = parse_file(&d.path().join("Corefile"), &opts()).unwrap_err();
    assert!(
        e.message
            .contains("maximum file import depth (100000) exceeded")
            || e.message.contains("too large"),
        "{e}"
    );
}

#[test]
fn parse_file_errors_and_lossy_utf8() {
    let d = TempDir::new("pf");
    let e = parse_file(&d.path().join("missing"), &opts()).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(e.message.starts_with("Could not read file"), "{e}");

    let p = d.path().join("Corefile");
    std::fs::write(&p, b"a {\n log \xff\xfe\n}\n").unwrap();
    let c = parse_file(&p, &opts()).unwrap();
    assert_eq!(c.blocks[0].directives[0].args[0].text, "\u{fffd}\u{fffd}");
    assert_eq!(c.files, vec![p]);
}
