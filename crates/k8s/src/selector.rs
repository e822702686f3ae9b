//! Kubernetes label selectors in their string form, parsed and matched locally.
//!
//! The kubernetes plugin's `labels` and `namespace_labels` options take a selector string
//! (`environment in (staging, qa),application=nginx`). It must be validated at setup (a bad
//! selector is a Corefile error, as in CoreDNS), passed to the API server on list/watch, and
//! applied by the index itself so that objects from manifest files are filtered exactly like
//! objects from the API server.
//!
//! Grammar (comma = AND): `key`, `!key`, `key=value`, `key==value`, `key!=value`,
//! `key in (v1, v2)`, `key notin (v1, v2)`. Keys are qualified names (`prefix/name`), values
//! label values (possibly empty). `!=` and `notin` also match objects without the label.
//! The numeric `>`/`<` forms are refused, as CoreDNS's conversion to a `LabelSelector` does.

use std::collections::BTreeMap;
use std::fmt;

/// A parsed label selector. The empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

/// One comma-separated term of a selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and deduplicated.
    values: Vec<String>,
}

/// The operator of a [`Requirement`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    /// `key=value` or `key==value`.
    Equals,
    /// `key!=value` (true when the label is absent).
    NotEquals,
    /// `key in (...)`.
    In,
    /// `key notin (...)` (true when the label is absent).
    NotIn,
    /// `key`.
    Exists,
    /// `!key`.
    DoesNotExist,
}

/// A selector string that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// A token where another was expected.
    #[error("unable to parse requirement: found '{found}', expected: {expected}")]
    Unexpected {
        /// What was found (`end of string` at the end).
        found: String,
        /// What the parser wanted.
        expected: &'static str,
    },
    /// `in ()` / `notin ()`.
    #[error("for 'in', 'notin' operators, values set can't be empty (key {key:?})")]
    EmptySet {
        /// The requirement's key.
        key: String,
    },
    /// A key that is not a qualified name.
    #[error("invalid label key {key:?}: {reason}")]
    InvalidKey {
        /// The key.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A value that is not a valid label value.
    #[error("invalid label value {value:?}: {reason}")]
    InvalidValue {
        /// The value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `>` or `<`: valid for the API server's parser, refused for DNS like CoreDNS does.
    #[error("operator '{0}' is not supported in label selectors")]
    Unsupported(&'static str),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token<'a> {
    Identifier(&'a str),
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Bang,
    Open,
    Close,
    Comma,
    Greater,
    Less,
    End,
}

impl Token<'_> {
    fn describe(&self) -> String {
        match self {
            Token::Identifier(s) => (*s).to_owned(),
            Token::In => "in".into(),
            Token::NotIn => "notin".into(),
            Token::Equals => "=".into(),
            Token::DoubleEquals => "==".into(),
            Token::NotEquals => "!=".into(),
            Token::Bang => "!".into(),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::Comma => ",".into(),
            Token::Greater => ">".into(),
            Token::Less => "<".into(),
            Token::End => "end of string".into(),
        }
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        let Some(c) = rest.chars().next() else {
            break;
        };
        let (token, len) = match c {
            '=' if rest.starts_with("==") => (Token::DoubleEquals, 2),
            '=' => (Token::Equals, 1),
            '!' if rest.starts_with("!=") => (Token::NotEquals, 2),
            '!' => (Token::Bang, 1),
            '(' => (Token::Open, 1),
            ')' => (Token::Close, 1),
            ',' => (Token::Comma, 1),
            '>' => (Token::Greater, 1),
            '<' => (Token::Less, 1),
            _ => {
                let len = rest
                    .find(|c: char| c.is_whitespace() || is_special(c))
                    .unwrap_or(rest.len());
                let word = &rest[..len];
                let token = match word {
                    "in" => Token::In,
                    "notin" => Token::NotIn,
                    _ => Token::Identifier(word),
                };
                (token, len)
            }
        };
        tokens.push(token);
        rest = &rest[len..];
    }
    tokens.push(Token::End);
    tokens
}

struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    at: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token<'a> {
        self.tokens.get(self.at).unwrap_or(&Token::End)
    }

    fn next(&mut self) -> Token<'a> {
        let token = self.peek().clone();
        if self.at < self.tokens.len() {
            self.at += 1;
        }
        token
    }

    fn unexpected(found: &Token<'_>, expected: &'static str) -> SelectorError {
        SelectorError::Unexpected {
            found: found.describe(),
            expected,
        }
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        let negated = if *self.peek() == Token::Bang {
            self.next();
            true
        } else {
            false
        };
        let key = match self.next() {
            Token::Identifier(key) => key,
            other => return Err(Self::unexpected(&other, "identifier")),
        };
        validate_key(key)?;
        let key = key.to_owned();
        if negated {
            return match self.peek() {
                Token::End | Token::Comma => {
                    Ok(Requirement::new(key, Operator::DoesNotExist, vec![]))
                }
                other => Err(Self::unexpected(other, "',' or end of string")),
            };
        }
        let operator = match self.peek() {
            Token::End | Token::Comma => {
                return Ok(Requirement::new(key, Operator::Exists, vec![]));
            }
            Token::Equals | Token::DoubleEquals => Operator::Equals,
            Token::NotEquals => Operator::NotEquals,
            Token::In => Operator::In,
            Token::NotIn => Operator::NotIn,
            Token::Greater => return Err(SelectorError::Unsupported("gt")),
            Token::Less => return Err(SelectorError::Unsupported("lt")),
            other => return Err(Self::unexpected(other, "=, ==, !=, in, notin")),
        };
        self.next();
        let values = match operator {
            Operator::In | Operator::NotIn => self.value_set(&key)?,
            _ => vec![self.exact_value()?],
        };
        Ok(Requirement::new(key, operator, values))
    }

    fn exact_value(&mut self) -> Result<String, SelectorError> {
        match self.peek().clone() {
            Token::End | Token::Comma => Ok(String::new()),
            Token::Identifier(value) => {
                self.next();
                validate_value(value)?;
                Ok(value.to_owned())
            }
            other => Err(Self::unexpected(&other, "identifier")),
        }
    }

    fn value_set(&mut self, key: &str) -> Result<Vec<String>, SelectorError> {
        match self.next() {
            Token::Open => {}
            other => return Err(Self::unexpected(&other, "'('")),
        }
        if *self.peek() == Token::Close {
            return Err(SelectorError::EmptySet {
                key: key.to_owned(),
            });
        }
        let mut values = Vec::new();
        // A value may be empty (`(a,)`): a comma or ')' right after '(' or ',' is "".
        loop {
            match self.peek().clone() {
                Token::Identifier(value) => {
                    self.next();
                    validate_value(value)?;
                    values.push(value.to_owned());
                }
                Token::Comma | Token::Close => values.push(String::new()),
                other => return Err(Self::unexpected(&other, "identifier, ',' or ')'")),
            }
            match self.next() {
                Token::Comma => continue,
                Token::Close => break,
                other => return Err(Self::unexpected(&other, "',' or ')'")),
            }
        }
        Ok(values)
    }
}

impl Requirement {
    fn new(key: String, operator: Operator, mut values: Vec<String>) -> Self {
        values.sort();
        values.dedup();
        Requirement {
            key,
            operator,
            values,
        }
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values (sorted, deduplicated; empty for `Exists`/`DoesNotExist`).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Does a label value (`None` = label absent) satisfy this requirement?
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        let listed = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::Equals | Operator::In => value.is_some_and(listed),
            Operator::NotEquals | Operator::NotIn => !value.is_some_and(listed),
        }
    }
}

impl Selector {
    /// The selector that matches everything.
    pub fn everything() -> Self {
        Selector::default()
    }

    /// Parses a selector string. Blank text is the empty selector.
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        let mut parser = Parser {
            tokens: tokenize(text),
            at: 0,
        };
        let mut requirements = Vec::new();
        if *parser.peek() == Token::End {
            return Ok(Selector { requirements });
        }
        loop {
            requirements.push(parser.requirement()?);
            match parser.next() {
                Token::End => break,
                Token::Comma => continue,
                other => return Err(Parser::unexpected(&other, "',' or end of string")),
            }
        }
        // Canonical order (the API server's): by key, stable for equal keys.
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector { requirements })
    }

    /// True for the selector that matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Do these labels satisfy every requirement?
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|key| labels.get(key).map(String::as_str))
    }

    /// Like [`matches`](Self::matches) with any label lookup.
    pub fn matches_with<'l>(&self, lookup: impl Fn(&str) -> Option<&'l str>) -> bool {
        self.requirements
            .iter()
            .all(|requirement| requirement.matches_value(lookup(&requirement.key)))
    }
}

impl std::str::FromStr for Selector {
    type Err = SelectorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Selector::parse(text)
    }
}

/// The canonical string, as passed to the API server (`labelSelector=`): requirements sorted
/// by key, values sorted, `=` for equality. Parsing it gives back an equal selector.
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = &self.key;
        let single = self.values.first().map(String::as_str).unwrap_or("");
        match self.operator {
            Operator::Exists => f.write_str(key),
            Operator::DoesNotExist => write!(f, "!{key}"),
            Operator::Equals => write!(f, "{key}={single}"),
            Operator::NotEquals => write!(f, "{key}!={single}"),
            Operator::In | Operator::NotIn => {
                let word = if self.operator == Operator::In {
                    "in"
                } else {
                    "notin"
                };
                write!(f, "{key} {word} ({})", self.values.join(","))
            }
        }
    }
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, at most 63 characters.
fn is_label_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    let edge = |b: &u8| b.is_ascii_alphanumeric();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.first().is_some_and(edge)
        && bytes.last().is_some_and(edge)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A lower-case RFC 1123 subdomain, at most 253 characters.
fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|label| {
            let bytes = label.as_bytes();
            let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
            !bytes.is_empty()
                && bytes.len() <= 63
                && bytes.first().is_some_and(edge)
                && bytes.last().is_some_and(edge)
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        })
}

fn validate_key(key: &str) -> Result<(), SelectorError> {
    let invalid = |reason| SelectorError::InvalidKey {
        key: key.to_owned(),
        reason,
    };
    let name = match key.split_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty() || !is_dns_subdomain(prefix) {
                return Err(invalid("the prefix must be a lower-case DNS subdomain"));
            }
            name
        }
        None => key,
    };
    if !is_label_name(name) {
        return Err(invalid(
            "the name must be 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric",
        ));
    }
    Ok(())
}

fn validate_value(value: &str) -> Result<(), SelectorError> {
    if value.is_empty() || is_label_name(value) {
        Ok(())
    } else {
        Err(SelectorError::InvalidValue {
            value: value.to_owned(),
            reason:
                "must be at most 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric",
        })
    }
}

#[cfg(test)]
mod tests;
