//! Selector parsing, matching and canonical form.

use std::collections::BTreeMap;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn matching_table() {
    let prod_web = labels(&[("env", "prod"), ("app", "web")]);
    let staging = labels(&[("env", "staging")]);
    let none = labels(&[]);
    // (selector, matches prod_web, matches staging, matches none)
    let cases = [
        ("", true, true, true),
        ("env=prod", true, false, false),
        ("env==prod", true, false, false),
        ("env!=prod", false, true, true),
        ("env in (prod, qa)", true, false, false),
        ("env in (staging,qa)", false, true, false),
        ("env notin (prod)", false, true, true),
        ("app", true, false, false),
        ("!app", false, true, true),
        ("env=prod,app=web", true, false, false),
        ("env=prod,app=api", false, false, false),
        (
            "env in (staging, qa),application=nginx",
            false,
            false,
            false,
        ),
        ("  env  =  prod  ,  app  ", true, false, false),
        ("env=", false, false, false),
        ("env!=", true, true, true),
        ("app.kubernetes.io/name", false, false, false),
    ];
    for (text, a, b, c) in cases {
        let selector = Selector::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(selector.matches(&prod_web), a, "{text:?} on prod_web");
        assert_eq!(selector.matches(&staging), b, "{text:?} on staging");
        assert_eq!(selector.matches(&none), c, "{text:?} on no labels");
    }
}

#[test]
fn empty_value_matches_empty_label() {
    let selector = Selector::parse("tier=").unwrap();
    assert!(selector.matches(&labels(&[("tier", "")])));
    assert!(!selector.matches(&labels(&[("tier", "x")])));
    let set = Selector::parse("tier in (a,)").unwrap();
    assert!(set.matches(&labels(&[("tier", "")])));
    assert!(set.matches(&labels(&[("tier", "a")])));
}

type ErrorCheck = fn(&SelectorError) -> bool;

#[test]
fn errors() {
    let cases: [(&str, ErrorCheck); 12] = [
        ("env in ()", |e| matches!(e, SelectorError::EmptySet { .. })),
        ("env notin ()", |e| {
            matches!(e, SelectorError::EmptySet { .. })
        }),
        ("env in prod", |e| {
            matches!(e, SelectorError::Unexpected { .. })
        }),
        ("env in (a b)", |e| {
            matches!(e, SelectorError::Unexpected { .. })
        }),
        ("env=prod,", |e| {
            matches!(e, SelectorError::Unexpected { .. })
        }),
        (",env", |e| matches!(e, SelectorError::Unexpected { .. })),
        ("env=a=b", |e| matches!(e, SelectorError::Unexpected { .. })),
        ("!env=prod", |e| {
            matches!(e, SelectorError::Unexpected { .. })
        }),
        ("replicas>3", |e| {
            matches!(e, SelectorError::Unsupported("gt"))
        }),
        ("replicas<3", |e| {
            matches!(e, SelectorError::Unsupported("lt"))
        }),
        ("-bad=x", |e| matches!(e, SelectorError::InvalidKey { .. })),
        ("env=-bad", |e| {
            matches!(e, SelectorError::InvalidValue { .. })
        }),
    ];
    for (text, check) in cases {
        match Selector::parse(text) {
            Ok(selector) => panic!("{text:?} parsed as {selector:?}"),
            Err(error) => assert!(check(&error), "{text:?}: unexpected error {error}"),
        }
    }
    let long_name = format!("{}=x", "a".repeat(64));
    assert!(matches!(
        Selector::parse(&long_name),
        Err(SelectorError::InvalidKey { .. })
    ));
    assert!(matches!(
        Selector::parse("Example.COM/app=x"),
        Err(SelectorError::InvalidKey { .. })
    ));
    assert!(Selector::parse("example.com/App_1.x=Value-1").is_ok());
}

#[test]
fn error_messages_say_what_was_found() {
    let error = Selector::parse("env in prod").unwrap_err();
    assert_eq!(
        error.to_string(),
        "unable to parse requirement: found 'prod', expected: '('"
    );
    let error = Selector::parse("env=prod x").unwrap_err();
    assert_eq!(
        error.to_string(),
        "unable to parse requirement: found 'x', expected: ',' or end of string"
    );
}

#[test]
fn canonical_string_round_trips() {
    let cases = [
        ("", ""),
        ("b=2,a=1", "a=1,b=2"),
        ("a==1", "a=1"),
        ("env in (qa, staging, qa)", "env in (qa,staging)"),
        ("x notin (b,a),!y,z", "x notin (a,b),!y,z"),
        ("k!=v", "k!=v"),
    ];
    for (text, canonical) in cases {
        let selector = Selector::parse(text).unwrap();
        assert_eq!(selector.to_string(), canonical, "{text:?}");
        assert_eq!(Selector::parse(canonical).unwrap(), selector, "{text:?}");
    }
}

#[test]
fn requirement_accessors() {
    let selector: Selector = "env in (b,a)".parse().unwrap();
    let requirement = &selector.requirements()[0];
    assert_eq!(requirement.key(), "env");
    assert_eq!(requirement.operator(), Operator::In);
    assert_eq!(requirement.values(), ["a", "b"]);
    assert!(Selector::everything().is_empty());
}
