//! The configuration digest ignores layout and comments but sees every token and the
//! block structure.

mod common;

use common::ok;

const BASE: &str =
    "a.org b.org {\n  errors\n  forward . 1.1.1.1 {\n    max_fails 3\n  }\n  cache 30\n}\n";

#[test]
fn stable_across_layout_and_comment_edits() {
    let base = ok(BASE);
    assert_eq!(base.digest(), ok(BASE).digest());
    assert_eq!(base.digest_hex().len(), 16);
    assert_eq!(base.digest_hex(), format!("{:016x}", base.digest()));
    let same = [
        "# header comment\na.org b.org {\n  errors # trailing\n  forward . 1.1.1.1 {\n    max_fails 3\n  }\n\n\n  cache 30\n}\n",
        "a.org   b.org {\r\n\terrors\r\n\tforward . 1.1.1.1 { max_fails 3 }\r\n\tcache 30\r\n}",
        "a.org, b.org {\nerrors\nforward . 1.1.1.1 {\nmax_fails 3\n}\ncache 30\n}",
        "\u{feff}a.org b.org\n{\n  errors\n  forward \".\" \"1.1.1.1\" {\n    max_fails 3\n  }\n  cache 30\n}",
        // Same tokens coming from a snippet.
        "(s) {\n max_fails 3\n}\na.org b.org {\n  errors\n  forward . 1.1.1.1 {\n    import s\n  }\n  cache 30\n}\n",
        // Braceless form of the same single block.
        "a.org b.org\nerrors\nforward . 1.1.1.1 {\n  max_fails 3\n}\ncache 30\n",
    ];
    for text in same {
        assert_eq!(ok(text).digest(), base.digest(), "text {text:?}");
    }
}

#[test]
fn changes_with_tokens_and_structure() {
    let base = ok(BASE).digest();
    let different = [
        "a.org b.org {\n  errors\n  forward . 1.1.1.2 {\n    max_fails 3\n  }\n  cache 30\n}\n",
        "a.org c.org {\n  errors\n  forward . 1.1.1.1 {\n    max_fails 3\n  }\n  cache 30\n}\n",
        "a.org {\n  errors\n  forward . 1.1.1.1 {\n    max_fails 3\n  }\n  cache 30\n}\n",
        "a.org b.org {\n  errors\n  forward . 1.1.1.1 {\n    max_fails 3\n  }\n  cache 31\n}\n",
        "a.org b.org {\n  forward . 1.1.1.1 {\n    max_fails 3\n  }\n  errors\n  cache 30\n}\n",
        "a.org b.org {\n  errors\n  forward . 1.1.1.1 {\n    max_fails 3\n  }\n}\n",
        // Same words, different structure.
        "a.org b.org {\n  errors\n  forward . 1.1.1.1 {\n    max_fails\n    3\n  }\n  cache 30\n}\n",
        "a.org b.org {\n  errors\n  forward . 1.1.1.1 max_fails 3\n  cache 30\n}\n",
        "a.org b.org {\n  errors\n  forward . 1.1.1.1 {\n    max_fails 3\n  }\n  cache 30 {\n  }\n}\n",
        "a.org {\n  errors\n}\nb.org {\n  forward . 1.1.1.1 {\n    max_fails 3\n  }\n  cache 30\n}\n",
        "a.org b.org {\n  errors\n  forward . \"1.1.1.1 \" {\n    max_fails 3\n  }\n  cache 30\n}\n",
    ];
    let mut seen = std::collections::HashSet::new();
    seen.insert(base);
    for text in different {
        let d = ok(text).digest();
        assert_ne!(d, base, "text {text:?}");
        assert!(seen.insert(d), "collision for {text:?}");
    }
}

#[test]
fn empty_corefiles() {
    assert_eq!(ok("").digest(), ok("# just a comment\n").digest());
    assert_ne!(ok("").digest(), ok("a {\n}").digest());
    // Unused snippets are not part of the served configuration.
    assert_eq!(ok("(s) {\n log\n}\na {\n}").digest(), ok("a {\n}").digest());
}
