//! Label and field selectors, parsed once per request and matched against the labels and field
//! values each stored object carries, with kube-apiserver's grammar and semantics.

use crate::object::StoredObject;
use crate::resources::ResourceKind;

/// A selector the server cannot parse; answered with 400 BadRequest.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SelectorError(String);

#[derive(Debug, PartialEq)]
enum LabelOp {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    GreaterThan(i64),
    LessThan(i64),
}

#[derive(Debug, PartialEq)]
struct LabelRequirement {
    key: String,
    op: LabelOp,
}

/// `a=b,c!=d,e in (f,g),!h`: every requirement must hold.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct LabelSelector {
    requirements: Vec<LabelRequirement>,
}

/// A position in the selector text.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn skip_spaces(&mut self) {
        while self.text[self.at..].starts_with(' ') {
            self.at += 1;
        }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_spaces();
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    /// A key or value: everything up to a space or an operator character.
    fn word(&mut self) -> &'a str {
        self.skip_spaces();
        let rest = self.rest();
        let end = rest
            .find([' ', ',', '(', ')', '=', '!', '<', '>'])
            .unwrap_or(rest.len());
        self.at += end;
        &rest[..end]
    }

    fn at_end(&mut self) -> bool {
        self.skip_spaces();
        self.at == self.text.len()
    }

    fn error(&self, what: &str) -> SelectorError {
        SelectorError(format!(
            "unable to parse requirement: {what} at position {} in {:?}",
            self.at, self.text
        ))
    }
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 317
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

fn valid_value(value: &str) -> bool {
    value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl LabelSelector {
    pub(crate) fn parse(text: &str) -> Result<LabelSelector, SelectorError> {
        let mut scanner = Scanner { text, at: 0 };
        let mut requirements = Vec::new();
        if scanner.at_end() {
            return Ok(LabelSelector { requirements });
        }
        loop {
            requirements.push(Self::requirement(&mut scanner)?);
            if scanner.at_end() {
                break;
            }
            if !scanner.eat(",") {
                return Err(scanner.error("expected ','"));
            }
        }
        Ok(LabelSelector { requirements })
    }

    fn requirement(scanner: &mut Scanner<'_>) -> Result<LabelRequirement, SelectorError> {
        let negated = scanner.eat("!");
        let key = scanner.word();
        if !valid_key(key) {
            return Err(scanner.error("invalid label key"));
        }
        let key = key.to_owned();
        if negated {
            return Ok(LabelRequirement {
                key,
                op: LabelOp::DoesNotExist,
            });
        }
        scanner.skip_spaces();
        if scanner.at_end() || scanner.rest().starts_with(',') {
            return Ok(LabelRequirement {
                key,
                op: LabelOp::Exists,
            });
        }
        let op = if scanner.eat("==") || scanner.eat("=") {
            LabelOp::Equals(Self::value(scanner)?)
        } else if scanner.eat("!=") {
            LabelOp::NotEquals(Self::value(scanner)?)
        } else if scanner.eat(">") {
            LabelOp::GreaterThan(Self::integer(scanner)?)
        } else if scanner.eat("<") {
            LabelOp::LessThan(Self::integer(scanner)?)
        } else {
            match scanner.word() {
                "in" => LabelOp::In(Self::set(scanner)?),
                "notin" => LabelOp::NotIn(Self::set(scanner)?),
                _ => return Err(scanner.error("expected an operator")),
            }
        };
        Ok(LabelRequirement { key, op })
    }

    fn value(scanner: &mut Scanner<'_>) -> Result<String, SelectorError> {
        let value = scanner.word();
        if valid_value(value) {
            Ok(value.to_owned())
        } else {
            Err(scanner.error("invalid label value"))
        }
    }

    fn integer(scanner: &mut Scanner<'_>) -> Result<i64, SelectorError> {
        scanner
            .word()
            .parse()
            .map_err(|_| scanner.error("expected an integer"))
    }

    fn set(scanner: &mut Scanner<'_>) -> Result<Vec<String>, SelectorError> {
        if !scanner.eat("(") {
            return Err(scanner.error("expected '('"));
        }
        let mut values = Vec::new();
        loop {
            values.push(Self::value(scanner)?);
            if scanner.eat(")") {
                return Ok(values);
            }
            if !scanner.eat(",") {
                return Err(scanner.error("expected ',' or ')'"));
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// `labels` sorted by key, as [`StoredObject::labels`] is.
    pub(crate) fn matches(&self, labels: &[(String, String)]) -> bool {
        self.requirements.iter().all(|requirement| {
            let value = labels
                .binary_search_by(|(key, _)| key.as_str().cmp(&requirement.key))
                .ok()
                .map(|at| labels[at].1.as_str());
            match (&requirement.op, value) {
                (LabelOp::Exists, found) => found.is_some(),
                (LabelOp::DoesNotExist, found) => found.is_none(),
                (LabelOp::Equals(wanted), found) => found == Some(wanted.as_str()),
                (LabelOp::NotEquals(unwanted), found) => found != Some(unwanted.as_str()),
                (LabelOp::In(set), Some(found)) => set.iter().any(|s| s == found),
                (LabelOp::In(_), None) => false,
                (LabelOp::NotIn(set), Some(found)) => !set.iter().any(|s| s == found),
                (LabelOp::NotIn(_), None) => true,
                (LabelOp::GreaterThan(bound), Some(found)) => {
                    found.parse::<i64>().is_ok_and(|n| n > *bound)
                }
                (LabelOp::LessThan(bound), Some(found)) => {
                    found.parse::<i64>().is_ok_and(|n| n < *bound)
                }
                (LabelOp::GreaterThan(_) | LabelOp::LessThan(_), None) => false,
            }
        })
    }
}

#[derive(Debug, PartialEq)]
struct FieldRequirement {
    /// Index into [`StoredObject::fields`].
    field: usize,
    equal: bool,
    value: String,
}

/// `metadata.name=a,status.phase!=Failed`: every requirement must hold.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

/// Splits on `separator` where it is not escaped by a backslash.
fn split_unescaped(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == separator {
            parts.push(&text[start..at]);
            start = at + c.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl FieldSelector {
    pub(crate) fn parse(text: &str, kind: &ResourceKind) -> Result<FieldSelector, SelectorError> {
        let mut requirements = Vec::new();
        if text.trim().is_empty() {
            return Ok(FieldSelector { requirements });
        }
        for term in split_unescaped(text, ',') {
            let (path, equal, value) = if let Some((path, value)) = term.split_once("!=") {
                (path, false, value)
            } else if let Some((path, value)) = term.split_once("==") {
                (path, true, value)
            } else if let Some((path, value)) = term.split_once('=') {
                (path, true, value)
            } else {
                return Err(SelectorError(format!(
                    "invalid selector: '{text}'; can't understand '{term}'"
                )));
            };
            let path = path.trim();
            let field = kind.field_index(path).ok_or_else(|| {
                SelectorError(format!(
                    "field label not supported: {path} (for {})",
                    kind.plural
                ))
            })?;
            requirements.push(FieldRequirement {
                field,
                equal,
                value: unescape(value),
            });
        }
        Ok(FieldSelector { requirements })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub(crate) fn matches(&self, object: &StoredObject) -> bool {
        self.requirements.iter().all(|requirement| {
            let actual = object
                .fields
                .get(requirement.field)
                .map_or("", String::as_str);
            (actual == requirement.value) == requirement.equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::PreparedObject;
    use crate::resources::{by_kind, RESOURCES};
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut labels: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        labels
    }

    #[test]
    fn label_selector_cases() {
        let web = labels(&[("app", "web"), ("tier", "front"), ("rank", "5")]);
        let bare = labels(&[]);
        #[rustfmt::skip]
        let cases: &[(&str, bool, bool)] = &[
            // selector, matches web, matches bare
            ("", true, true),
            ("app=web", true, false),
            ("app==web", true, false),
            ("app = web", true, false),
            ("app!=web", false, true),
            ("app!=db", true, true),
            ("app=web,tier=front", true, false),
            ("app=web,tier=back", false, false),
            ("app in (web, db)", true, false),
            ("app in (db)", false, false),
            ("app notin (db,cache)", true, true),
            ("app notin (web)", false, true),
            ("tier", true, false),
            ("!tier", false, true),
            ("app in (web,db),!missing,tier", true, false),
            ("rank>4", true, false),
            ("rank<5", false, false),
            ("app=", false, false),
        ];
        for (text, on_web, on_bare) in cases {
            let selector = LabelSelector::parse(text).unwrap();
            assert_eq!(selector.matches(&web), *on_web, "{text} on web");
            assert_eq!(selector.matches(&bare), *on_bare, "{text} on bare");
        }
    }

    #[test]
    fn malformed_label_selectors_are_errors() {
        for text in [
            "app in web",
            "app in (web",
            "app=web,",
            "=web",
            "app=a b",
            "app ~ b",
        ] {
            assert!(LabelSelector::parse(text).is_err(), "{text} parsed");
        }
    }

    #[test]
    fn field_selector_cases() {
        let kind = &RESOURCES[by_kind("v1", "Pod").unwrap()];
        let pod = PreparedObject::new(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p,1", "namespace": "apps"},
            "spec": {"nodeName": "node-1"}, "status": {"phase": "Running"}
        }))
        .unwrap()
        .finish(1, "u".into(), "t".into())
        .unwrap();
        #[rustfmt::skip]
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("metadata.name=p\\,1", true),
            ("metadata.namespace==apps", true),
            ("metadata.namespace=other", false),
            ("status.phase!=Failed", true),
            ("status.phase!=Running", false),
            ("status.phase=Running,spec.nodeName=node-1", true),
            ("status.phase=Running,spec.nodeName=node-2", false),
            ("status.podIP=", true),
        ];
        for (text, wanted) in cases {
            let selector = FieldSelector::parse(text, kind).unwrap();
            assert_eq!(selector.matches(&pod), *wanted, "{text}");
        }
        let error = FieldSelector::parse("spec.clusterIP=1", kind).unwrap_err();
        assert!(error
            .to_string()
            .contains("field label not supported: spec.clusterIP"));
        assert!(FieldSelector::parse("metadata.name", kind).is_err());
    }
}
