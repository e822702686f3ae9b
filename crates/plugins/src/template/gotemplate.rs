//! The part of Go's `text/template` that CoreDNS templates use, parsed once at setup.
//!
//! Supported: text, `{{ pipeline }}` actions with `{{-`/`-}}` trimming, `{{/* comments */}}`,
//! field chains on the template data (`.Name`, `.Group.a`, `.Question.Qtype`), the method
//! `.Meta "name"`, string (`"..."`, `` `...` ``), integer and boolean literals, parentheses,
//! pipes (`x | f`), and the functions `index`, `len`, `print`, `printf`, `println`, `not`,
//! `and`, `or`, `eq`, `ne`, `lt`, `le`, `gt`, `ge` and CoreDNS's `parseInt`.
//!
//! Refused at setup, with the line named: control structures (`if`, `range`, `with`,
//! `define`, `template`, `block`), variables (`$x`), the other Go builtins (`html`, `js`,
//! `urlquery`, `slice`, `call`), unknown functions (as Go does), floats and characters, and
//! printing the whole `.Message` (which can never be a record).
//!
//! Mistakes Go only finds while executing (an unknown field, a wrong number of arguments,
//! an index out of range) fail the query the same way, with Go's error text, so a Corefile
//! CoreDNS accepts is accepted here too.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Go's data for a template: what the query and the matched regex give.
pub struct Data<'a> {
    pub zone: &'a str,
    pub name: &'a str,
    pub regex: &'a str,
    pub matches: &'a [String],
    pub groups: &'a BTreeMap<String, String>,
    pub class: &'a str,
    pub rtype: &'a str,
    pub remote: &'a str,
    /// The question as received: name (original case), type, class.
    pub question: (&'a str, u16, u16),
    /// Header facts of the query (`.Message.*`).
    pub message: MessageFacts,
}

/// The header fields of the query reachable as `.Message.X`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageFacts {
    pub id: u16,
    pub opcode: u8,
    pub recursion_desired: bool,
    pub checking_disabled: bool,
    pub authenticated_data: bool,
}

/// A compiled template.
#[derive(Debug)]
pub struct Template {
    name: &'static str,
    /// The text as written, for error positions.
    source: String,
    nodes: Vec<Node>,
}

#[derive(Debug)]
enum Node {
    Text(String),
    Action(Pipe),
}

#[derive(Debug)]
struct Pipe {
    cmds: Vec<Command>,
}

#[derive(Debug)]
struct Command {
    pos: usize,
    args: Vec<Arg>,
}

#[derive(Debug)]
enum Arg {
    /// `.A.B` (empty chain: `.`).
    Field {
        pos: usize,
        chain: Vec<String>,
    },
    Func {
        pos: usize,
        name: Func,
    },
    Str {
        quoted: String,
        value: String,
    },
    Int {
        text: String,
        value: i64,
    },
    Bool(bool),
    Nil,
    /// `(pipeline)` with an optional field chain after it.
    Sub {
        pipe: Pipe,
        chain: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Index,
    Len,
    Print,
    Printf,
    Println,
    Not,
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    ParseInt,
}

impl Func {
    fn from_name(s: &str) -> Option<Func> {
        Some(match s {
            "index" => Func::Index,
            "len" => Func::Len,
            "print" => Func::Print,
            "printf" => Func::Printf,
            "println" => Func::Println,
            "not" => Func::Not,
            "and" => Func::And,
            "or" => Func::Or,
            "eq" => Func::Eq,
            "ne" => Func::Ne,
            "lt" => Func::Lt,
            "le" => Func::Le,
            "gt" => Func::Gt,
            "ge" => Func::Ge,
            "parseInt" => Func::ParseInt,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Func::Index => "index",
            Func::Len => "len",
            Func::Print => "print",
            Func::Printf => "printf",
            Func::Println => "println",
            Func::Not => "not",
            Func::And => "and",
            Func::Or => "or",
            Func::Eq => "eq",
            Func::Ne => "ne",
            Func::Lt => "lt",
            Func::Le => "le",
            Func::Gt => "gt",
            Func::Ge => "ge",
            Func::ParseInt => "parseInt",
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------

/// A template parse error (the text says what and where, as Go's do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl Template {
    /// Compiles `text`; `name` is the section (`answer`, `additional`, `authority`).
    pub fn parse(name: &'static str, text: &str) -> Result<Template, ParseError> {
        let mut p = Parser {
            name,
            text,
            nodes: Vec::new(),
        };
        p.run()?;
        Ok(Template {
            name,
            source: text.to_string(),
            nodes: p.nodes,
        })
    }

    /// True when the template has no actions: its output is always the same text.
    pub fn is_static(&self) -> bool {
        self.nodes.iter().all(|n| matches!(n, Node::Text(_)))
    }

    /// The output of a template without actions.
    pub fn static_text(&self) -> String {
        let mut out = String::new();
        for n in &self.nodes {
            if let Node::Text(t) = n {
                out.push_str(t);
            }
        }
        out
    }

    /// The template as Go prints its parse tree (`{{.Name}} 60 IN A ...`), the `template`
    /// label of the failure metrics.
    pub fn tree_string(&self) -> String {
        let mut out = String::new();
        for n in &self.nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action(p) => {
                    out.push_str("{{");
                    p.write(&mut out);
                    out.push_str("}}");
                }
            }
        }
        out
    }
}

struct Parser<'t> {
    name: &'static str,
    text: &'t str,
    nodes: Vec<Node>,
}

/// Where a byte offset is, as Go reports it: `name:line:column` (column = byte offset on the
/// line, counted from 0 as Go does).
fn location(name: &str, text: &str, pos: usize) -> String {
    let before = &text.as_bytes()[..pos.min(text.len())];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let col = match before.iter().rposition(|&b| b == b'\n') {
        Some(i) => before.len() - i - 1,
        None => before.len(),
    };
    format!("{name}:{line}:{col}")
}

impl Parser<'_> {
    fn error(&self, pos: usize, msg: impl std::fmt::Display) -> ParseError {
        let before = &self.text.as_bytes()[..pos.min(self.text.len())];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        ParseError(format!("template: {}:{line}: {msg}", self.name))
    }

    fn run(&mut self) -> Result<(), ParseError> {
        let text = self.text;
        let mut pos = 0;
        let mut trim_next = false;
        while pos <= text.len() {
            let open = text[pos..].find("{{").map(|i| pos + i);
            let end = open.unwrap_or(text.len());
            let mut chunk = &text[pos..end];
            if trim_next {
                chunk = chunk.trim_start_matches(is_space);
            }
            let Some(open) = open else {
                self.push_text(chunk);
                break;
            };
            let mut inner = open + 2;
            // `{{- ` trims the text before.
            if text[inner..].starts_with('-')
                && text[inner + 1..].starts_with(|c: char| is_space(c))
            {
                chunk = chunk.trim_end_matches(is_space);
                inner += 1;
            }
            self.push_text(chunk);
            let (close, trim_after) = self.find_close(inner)?;
            trim_next = trim_after;
            let body = &text[inner..close];
            let body_trimmed = body.trim_start_matches(is_space);
            if body_trimmed.starts_with("/*") {
                let b = body.trim_end_matches(is_space);
                if !b.ends_with("*/") {
                    return Err(self.error(inner, "unclosed comment"));
                }
            } else {
                let pipe = self.action(inner, body)?;
                self.nodes.push(Node::Action(pipe));
            }
            pos = close + if trim_after { 3 } else { 2 };
        }
        Ok(())
    }

    fn push_text(&mut self, t: &str) {
        if t.is_empty() {
            return;
        }
        if let Some(Node::Text(prev)) = self.nodes.last_mut() {
            prev.push_str(t);
        } else {
            self.nodes.push(Node::Text(t.to_string()));
        }
    }

    /// Finds the `}}` closing the action whose body starts at `from` (skipping quoted text);
    /// returns where the body ends and whether it was ` -}}`.
    fn find_close(&self, from: usize) -> Result<(usize, bool), ParseError> {
        let b = self.text.as_bytes();
        let mut i = from;
        let comment = self.text[from..]
            .trim_start_matches(is_space)
            .starts_with("/*");
        if comment {
            let Some(end) = self.text[from..].find("*/") else {
                return Err(self.error(from, "unclosed comment"));
            };
            i = from + end + 2;
        }
        while i < b.len() {
            match b[i] {
                b'"' | b'`' | b'\'' if !comment => {
                    let q = b[i];
                    i += 1;
                    while i < b.len() && b[i] != q {
                        if b[i] == b'\\' && q != b'`' {
                            i += 1;
                        }
                        if b[i.min(b.len() - 1)] == b'\n' && q != b'`' {
                            return Err(self.error(i, "unterminated quoted string"));
                        }
                        i += 1;
                    }
                    if i >= b.len() {
                        return Err(self.error(from, "unterminated quoted string"));
                    }
                    i += 1;
                }
                b'-' if b[i..].starts_with(b"-}}") && i > from && is_space(b[i - 1] as char) => {
                    return Ok((i, true));
                }
                b'}' if b[i..].starts_with(b"}}") => return Ok((i, false)),
                _ => i += 1,
            }
        }
        Err(self.error(from, "unclosed action"))
    }

    /// Parses the body of one action.
    fn action(&self, start: usize, body: &str) -> Result<Pipe, ParseError> {
        let toks = lex(body, start).map_err(|(p, m)| self.error(p, m))?;
        if toks.is_empty() {
            return Err(self.error(start, "missing value for command"));
        }
        if let Some(Tok::Ident(_, word)) = toks.first() {
            if matches!(
                word.as_str(),
                "if" | "else"
                    | "end"
                    | "range"
                    | "with"
                    | "define"
                    | "template"
                    | "block"
                    | "break"
                    | "continue"
            ) {
                return Err(self.error(
                    start,
                    format!("\"{{{{{word}}}}}\" actions are not supported by Cairn's templates"),
                ));
            }
        }
        let mut at = 0;
        let pipe = self.pipe(&toks, &mut at)?;
        if at != toks.len() {
            return Err(self.error(toks[at].pos(), format!("unexpected {}", toks[at].show())));
        }
        self.check_message_printing(&pipe, start)?;
        Ok(pipe)
    }

    fn pipe(&self, toks: &[Tok], at: &mut usize) -> Result<Pipe, ParseError> {
        let mut cmds = Vec::new();
        loop {
            let cmd = self.command(toks, at)?;
            cmds.push(cmd);
            match toks.get(*at) {
                Some(Tok::Pipe(_)) => {
                    *at += 1;
                }
                _ => return Ok(Pipe { cmds }),
            }
        }
    }

    fn command(&self, toks: &[Tok], at: &mut usize) -> Result<Command, ParseError> {
        let pos = toks.get(*at).map_or(0, Tok::pos);
        let mut args = Vec::new();
        while let Some(t) = toks.get(*at) {
            match t {
                Tok::Pipe(_) | Tok::Close(_) => break,
                _ => args.push(self.operand(toks, at)?),
            }
        }
        if args.is_empty() {
            return Err(self.error(pos, "missing value for command"));
        }
        Ok(Command { pos, args })
    }

    fn operand(&self, toks: &[Tok], at: &mut usize) -> Result<Arg, ParseError> {
        let t = &toks[*at];
        *at += 1;
        Ok(match t {
            Tok::Field(pos, chain) => Arg::Field {
                pos: *pos,
                chain: chain.clone(),
            },
            Tok::Str(_, quoted, value) => Arg::Str {
                quoted: quoted.clone(),
                value: value.clone(),
            },
            Tok::Int(_, text, value) => Arg::Int {
                text: text.clone(),
                value: *value,
            },
            Tok::Ident(pos, word) => match word.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil,
                "html" | "js" | "urlquery" | "slice" | "call" => {
                    return Err(self.error(
                        *pos,
                        format!("function \"{word}\" is not supported by Cairn's templates"),
                    ))
                }
                _ => match Func::from_name(word) {
                    Some(f) => Arg::Func { pos: *pos, name: f },
                    None => {
                        return Err(self.error(*pos, format!("function \"{word}\" not defined")))
                    }
                },
            },
            Tok::Open(pos) => {
                let pipe = self.pipe(toks, at)?;
                match toks.get(*at) {
                    Some(Tok::Close(_)) => *at += 1,
                    _ => return Err(self.error(*pos, "unclosed left paren")),
                }
                let chain = match toks.get(*at) {
                    Some(Tok::GluedField(_, chain)) => {
                        *at += 1;
                        chain.clone()
                    }
                    _ => Vec::new(),
                };
                Arg::Sub { pipe, chain }
            }
            other => return Err(self.error(other.pos(), format!("unexpected {}", other.show()))),
        })
    }

    /// `{{ .Message }}` prints the whole query in dig's format, which can never be part of a
    /// record: refused rather than failing every query.
    fn check_message_printing(&self, pipe: &Pipe, pos: usize) -> Result<(), ParseError> {
        if let Some(last) = pipe.cmds.last() {
            if let [Arg::Field { chain, .. }] = last.args.as_slice() {
                if chain.len() == 1 && chain[0] == "Message" {
                    return Err(self.error(
                        pos,
                        "printing the whole .Message is not supported by Cairn's templates (use fields such as .Message.Id)",
                    ));
                }
            }
        }
        Ok(())
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

#[derive(Debug)]
enum Tok {
    /// Position and field chain.
    Field(usize, Vec<String>),
    Ident(usize, String),
    Str(usize, String, String),
    Int(usize, String, i64),
    Pipe(usize),
    Open(usize),
    Close(usize),
    /// A field right after `)` with no space (`(...).Field`).
    GluedField(usize, Vec<String>),
}

impl Tok {
    fn pos(&self) -> usize {
        match self {
            Tok::Field(p, _)
            | Tok::Ident(p, _)
            | Tok::Str(p, _, _)
            | Tok::Int(p, _, _)
            | Tok::Pipe(p)
            | Tok::Open(p)
            | Tok::Close(p)
            | Tok::GluedField(p, _) => *p,
        }
    }

    fn show(&self) -> String {
        match self {
            Tok::Field(_, c) | Tok::GluedField(_, c) => format!(".{}", c.join(".")),
            Tok::Ident(_, w) => w.clone(),
            Tok::Str(_, q, _) => q.clone(),
            Tok::Int(_, t, _) => t.clone(),
            Tok::Pipe(_) => "|".into(),
            Tok::Open(_) => "(".into(),
            Tok::Close(_) => ")".into(),
        }
    }
}

/// Splits an action body into tokens; positions are offsets in the whole template.
fn lex(body: &str, base: usize) -> Result<Vec<Tok>, (usize, String)> {
    let b = body.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let pos = base + i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'|' => {
                out.push(Tok::Pipe(pos));
                i += 1;
            }
            b'(' => {
                out.push(Tok::Open(pos));
                i += 1;
            }
            b')' => {
                out.push(Tok::Close(pos));
                i += 1;
                // `(...).Field`
                if b.get(i) == Some(&b'.')
                    && b.get(i + 1)
                        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
                {
                    let (chain, n) = field_chain(&body[i..]);
                    out.push(Tok::GluedField(base + i, chain));
                    i += n;
                }
            }
            b'.' => {
                let (chain, n) = field_chain(&body[i..]);
                if n == 1 && b.get(1 + i).is_some_and(u8::is_ascii_digit) {
                    return Err((
                        pos,
                        "floating-point numbers are not supported by Cairn's templates".into(),
                    ));
                }
                out.push(Tok::Field(pos, chain));
                i += n;
            }
            b'"' => {
                let mut j = i + 1;
                let mut value = String::new();
                loop {
                    let Some(&ch) = b.get(j) else {
                        return Err((pos, "unterminated quoted string".into()));
                    };
                    match ch {
                        b'"' => break,
                        b'\\' => {
                            let (s, n) = unescape(&body[j..]).map_err(|m| (base + j, m))?;
                            value.push_str(&s);
                            j += n;
                        }
                        _ => {
                            let ch = body[j..].chars().next().unwrap_or(' ');
                            value.push(ch);
                            j += ch.len_utf8();
                        }
                    }
                }
                out.push(Tok::Str(pos, body[i..=j].to_string(), value));
                i = j + 1;
            }
            b'`' => {
                let Some(end) = body[i + 1..].find('`') else {
                    return Err((pos, "unterminated raw quoted string".into()));
                };
                let value = body[i + 1..i + 1 + end].to_string();
                out.push(Tok::Str(pos, body[i..i + end + 2].to_string(), value));
                i += end + 2;
            }
            b'\'' => {
                return Err((
                    pos,
                    "character constants are not supported by Cairn's templates".into(),
                ))
            }
            b'$' => {
                return Err((
                    pos,
                    "template variables ($name) are not supported by Cairn's templates".into(),
                ))
            }
            b'0'..=b'9' | b'-' | b'+' => {
                let n = b[i..]
                    .iter()
                    .enumerate()
                    .take_while(|(k, c)| {
                        c.is_ascii_alphanumeric()
                            || **c == b'_'
                            || **c == b'.'
                            || (*k == 0 && (**c == b'-' || **c == b'+'))
                    })
                    .count();
                let text = &body[i..i + n];
                let value = parse_int_literal(text).ok_or_else(|| {
                    (
                        pos,
                        format!(
                            "bad number syntax: \"{text}\" (Cairn's templates take integers only)"
                        ),
                    )
                })?;
                out.push(Tok::Int(pos, text.to_string(), value));
                i += n;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let n = b[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                out.push(Tok::Ident(pos, body[i..i + n].to_string()));
                i += n;
            }
            b':' | b'=' => {
                return Err((
                    pos,
                    "template variables are not supported by Cairn's templates".into(),
                ))
            }
            _ => {
                let ch = body[i..].chars().next().unwrap_or('?');
                return Err((pos, format!("unexpected {ch:?} in command")));
            }
        }
    }
    Ok(out)
}

/// `.A.B.C` at the start of `s` (`.` alone is the data itself): the names and the length.
fn field_chain(s: &str) -> (Vec<String>, usize) {
    let b = s.as_bytes();
    let mut chain = Vec::new();
    let mut i = 0;
    while i < b.len() && b[i] == b'.' {
        let n = b[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        if n == 0 {
            if chain.is_empty() {
                return (chain, 1);
            }
            break;
        }
        chain.push(s[i + 1..i + 1 + n].to_string());
        i += 1 + n;
    }
    (chain, i.max(1))
}

/// One Go escape sequence at the start of `s` (which starts with `\`).
fn unescape(s: &str) -> Result<(String, usize), String> {
    let b = s.as_bytes();
    let c = *b.get(1).ok_or("unterminated quoted string")?;
    let simple = match c {
        b'n' => Some('\n'),
        b't' => Some('\t'),
        b'r' => Some('\r'),
        b'\\' => Some('\\'),
        b'"' => Some('"'),
        b'\'' => Some('\''),
        b'a' => Some('\u{7}'),
        b'b' => Some('\u{8}'),
        b'f' => Some('\u{c}'),
        b'v' => Some('\u{b}'),
        _ => None,
    };
    if let Some(ch) = simple {
        return Ok((ch.to_string(), 2));
    }
    let (digits, radix, len) = match c {
        b'x' => (2, 16, 2),
        b'u' => (4, 16, 2),
        b'U' => (8, 16, 2),
        b'0'..=b'7' => (3, 8, 1),
        _ => return Err(format!("unknown escape sequence \\{}", c as char)),
    };
    let hex = s.get(len..len + digits).ok_or("invalid escape sequence")?;
    let v = u32::from_str_radix(hex, radix).map_err(|_| "invalid escape sequence".to_string())?;
    let text = if matches!(c, b'x' | b'0'..=b'7') {
        // A byte; templates are text, so only ASCII bytes make sense here.
        char::from_u32(v)
            .filter(char::is_ascii)
            .ok_or("invalid escape sequence")?
            .to_string()
    } else {
        char::from_u32(v)
            .ok_or("invalid escape sequence")?
            .to_string()
    };
    Ok((text, len + digits))
}

/// A Go integer literal (decimal, `0x`, `0o`, `0b`, leading-0 octal, `_` separators).
fn parse_int_literal(text: &str) -> Option<i64> {
    let (neg, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let v = crate::go_strconv::parse_uint(digits, 0, 64).ok()?;
    let v = i64::try_from(v).ok()?;
    Some(if neg { -v } else { v })
}

// ---------------------------------------------------------------------------------------
// Printing the tree (Go's String() of the nodes)
// ---------------------------------------------------------------------------------------

impl Pipe {
    fn write(&self, out: &mut String) {
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                out.push_str(" | ");
            }
            c.write(out);
        }
    }
}

impl Command {
    fn write(&self, out: &mut String) {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            a.write(out);
        }
    }

    fn string(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
}

impl Arg {
    fn write(&self, out: &mut String) {
        match self {
            Arg::Field { chain, .. } => {
                if chain.is_empty() {
                    out.push('.');
                }
                for f in chain {
                    out.push('.');
                    out.push_str(f);
                }
            }
            Arg::Func { name, .. } => out.push_str(name.name()),
            Arg::Str { quoted, .. } => out.push_str(quoted),
            Arg::Int { text, .. } => out.push_str(text),
            Arg::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Arg::Nil => out.push_str("nil"),
            Arg::Sub { pipe, chain } => {
                out.push('(');
                pipe.write(out);
                out.push(')');
                for f in chain {
                    out.push('.');
                    out.push_str(f);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Execution
// ---------------------------------------------------------------------------------------

/// A value while executing.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Int(i64),
    Uint(u64),
    Bool(bool),
    List(Vec<String>),
    Map(BTreeMap<String, String>),
    /// The template data itself (`.`).
    Data,
    /// `.Question` (a pointer in Go: prints with `String()`).
    Question,
    /// An element of `.Message.Question` (a value in Go: prints as a struct).
    QuestionItem,
    QuestionList,
    Message,
    /// `.Group` while a key may still follow: read in place, copied only when used whole.
    Groups,
    /// Go's invalid value (a missing map key): prints `<no value>`.
    Missing,
    Nil,
}

/// An execution error, already in Go's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecError(pub String);

struct Exec<'a> {
    tmpl: &'a Template,
    data: &'a Data<'a>,
    meta: &'a dyn Fn(&str) -> String,
}

impl Template {
    /// Runs the template for `data`; `meta` answers `.Meta "name"`.
    pub fn execute(
        &self,
        data: &Data<'_>,
        meta: &dyn Fn(&str) -> String,
    ) -> Result<String, ExecError> {
        let x = Exec {
            tmpl: self,
            data,
            meta,
        };
        let mut out = String::new();
        for n in &self.nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::Action(p) => {
                    let v = x.pipe(p)?;
                    print_value(&v, data, &mut out);
                }
            }
        }
        Ok(out)
    }
}

fn quote(s: &str) -> String {
    format!("{s:?}")
}

impl Exec<'_> {
    fn fail(&self, pos: usize, node: &str, msg: impl std::fmt::Display) -> ExecError {
        // Go: template: NAME:LINE:COL: executing "NAME" at <NODE>: MSG.
        ExecError(format!(
            "template: {}: executing \"{}\" at <{node}>: {msg}",
            location(self.tmpl.name, &self.tmpl.source, pos),
            self.tmpl.name
        ))
    }

    fn pipe(&self, p: &Pipe) -> Result<Value, ExecError> {
        let mut value: Option<Value> = None;
        for c in &p.cmds {
            value = Some(self.command(c, value.take())?);
        }
        Ok(value.unwrap_or(Value::Missing))
    }

    fn command(&self, c: &Command, piped: Option<Value>) -> Result<Value, ExecError> {
        match &c.args[0] {
            Arg::Func { pos, name } => {
                let mut args = Vec::with_capacity(c.args.len());
                for a in &c.args[1..] {
                    args.push(self.arg(a)?);
                }
                if let Some(v) = piped {
                    args.push(v);
                }
                self.call(*name, args, *pos, c)
            }
            Arg::Field { pos, chain }
                if chain.last().is_some_and(|f| f == "Meta") && chain.len() == 1 =>
            {
                let mut args = Vec::new();
                for a in &c.args[1..] {
                    args.push(self.arg(a)?);
                }
                if let Some(v) = piped {
                    args.push(v);
                }
                match args.as_slice() {
                    [Value::Str(s)] => Ok(Value::Str((self.meta)(s))),
                    [other] => Err(self.fail(
                        *pos,
                        ".Meta",
                        format!(
                            "wrong type for value; expected string; got {}",
                            type_name(other)
                        ),
                    )),
                    _ => Err(self.fail(
                        *pos,
                        ".Meta",
                        format!("wrong number of args for Meta: want 1 got {}", args.len()),
                    )),
                }
            }
            first => {
                if c.args.len() > 1 || piped.is_some() {
                    let mut s = String::new();
                    first.write(&mut s);
                    return Err(match first {
                        Arg::Field { pos, chain } => self.fail(
                            *pos,
                            &s,
                            format!(
                                "{} is not a method but has arguments",
                                chain.last().map_or(".", |f| f.as_str())
                            ),
                        ),
                        _ => self.fail(
                            c.pos,
                            &s,
                            format!("can't give argument to non-function {s}"),
                        ),
                    });
                }
                self.arg(first)
            }
        }
    }

    fn arg(&self, a: &Arg) -> Result<Value, ExecError> {
        match a {
            Arg::Field { pos, chain } => self.fields(Value::Data, chain, *pos),
            Arg::Func { pos, name } => {
                let node = Command {
                    pos: *pos,
                    args: Vec::new(),
                };
                self.call(*name, Vec::new(), *pos, &node)
            }
            Arg::Str { value, .. } => Ok(Value::Str(value.clone())),
            Arg::Int { value, .. } => Ok(Value::Int(*value)),
            Arg::Bool(b) => Ok(Value::Bool(*b)),
            Arg::Nil => Ok(Value::Nil),
            Arg::Sub { pipe, chain } => {
                let v = self.pipe(pipe)?;
                self.fields(v, chain, 0)
            }
        }
    }

    fn fields(&self, mut v: Value, chain: &[String], pos: usize) -> Result<Value, ExecError> {
        // The node's text, for error messages only.
        let node = || format!(".{}", chain.join("."));
        for f in chain {
            v = match (&v, f.as_str()) {
                (Value::Data, "Zone") => Value::Str(self.data.zone.into()),
                (Value::Data, "Name") => Value::Str(self.data.name.into()),
                (Value::Data, "Regex") => Value::Str(self.data.regex.into()),
                (Value::Data, "Match") => Value::List(self.data.matches.to_vec()),
                (Value::Data, "Group") => Value::Groups,
                (Value::Data, "Class") => Value::Str(self.data.class.into()),
                (Value::Data, "Type") => Value::Str(self.data.rtype.into()),
                (Value::Data, "Remote") => Value::Str(self.data.remote.into()),
                (Value::Data, "Question") => Value::Question,
                (Value::Data, "Message") => Value::Message,
                (Value::Data, "Meta") => {
                    return Err(self.fail(
                        pos,
                        &node(),
                        "wrong number of args for Meta: want 1 got 0",
                    ))
                }
                (Value::Map(m), key) => {
                    m.get(key).map_or(Value::Missing, |s| Value::Str(s.clone()))
                }
                (Value::Groups, key) => self
                    .data
                    .groups
                    .get(key)
                    .map_or(Value::Missing, |s| Value::Str(s.clone())),
                (Value::Question | Value::QuestionItem, "Name") => {
                    Value::Str(self.data.question.0.into())
                }
                (Value::Question | Value::QuestionItem, "Qtype") => {
                    Value::Uint(u64::from(self.data.question.1))
                }
                (Value::Question | Value::QuestionItem, "Qclass") => {
                    Value::Uint(u64::from(self.data.question.2))
                }
                (Value::Message, "Id") => Value::Uint(u64::from(self.data.message.id)),
                (Value::Message, "Opcode") => Value::Int(i64::from(self.data.message.opcode)),
                (Value::Message, "Rcode") => Value::Int(0),
                (Value::Message, "Response") => Value::Bool(false),
                (Value::Message, "RecursionDesired") => {
                    Value::Bool(self.data.message.recursion_desired)
                }
                (Value::Message, "CheckingDisabled") => {
                    Value::Bool(self.data.message.checking_disabled)
                }
                (Value::Message, "AuthenticatedData") => {
                    Value::Bool(self.data.message.authenticated_data)
                }
                (Value::Message, "Question") => Value::QuestionList,
                (Value::Missing | Value::Nil, _) => {
                    return Err(self.fail(
                        pos,
                        &node(),
                        format!("nil pointer evaluating interface {{}}.{f}"),
                    ))
                }
                (other, _) => {
                    return Err(self.fail(
                        pos,
                        &node(),
                        format!("can't evaluate field {f} in type {}", type_name(other)),
                    ))
                }
            };
        }
        Ok(match v {
            Value::Groups => Value::Map(self.data.groups.clone()),
            v => v,
        })
    }

    fn call(
        &self,
        f: Func,
        args: Vec<Value>,
        pos: usize,
        cmd: &Command,
    ) -> Result<Value, ExecError> {
        let name = f.name();
        let n = args.len();
        let want = |w: usize| -> Result<(), ExecError> {
            if n == w {
                Ok(())
            } else {
                Err(self.fail(
                    pos,
                    name,
                    format!("wrong number of args for {name}: want {w} got {n}"),
                ))
            }
        };
        let at_least = |w: usize| -> Result<(), ExecError> {
            if n >= w {
                Ok(())
            } else {
                Err(self.fail(
                    pos,
                    name,
                    format!("wrong number of args for {name}: want at least {w} got {n}"),
                ))
            }
        };
        let called =
            |e: String| self.fail(cmd.pos, &cmd.string(), format!("error calling {name}: {e}"));
        match f {
            Func::ParseInt => {
                want(3)?;
                let s = match &args[0] {
                    Value::Str(s) => s.clone(),
                    Value::Missing => {
                        return Err(self.fail(
                            cmd.pos,
                            &cmd.string(),
                            "invalid value; expected string",
                        ))
                    }
                    other => {
                        return Err(self.fail(
                            cmd.pos,
                            &cmd.string(),
                            format!(
                                "wrong type for value; expected string; got {}",
                                type_name(other)
                            ),
                        ))
                    }
                };
                let int = |v: &Value| match v {
                    Value::Int(i) => Ok(*i),
                    other => Err(self.fail(
                        cmd.pos,
                        &cmd.string(),
                        format!(
                            "wrong type for value; expected int; got {}",
                            type_name(other)
                        ),
                    )),
                };
                let base = int(&args[1])?;
                let bits = int(&args[2])?;
                crate::go_strconv::parse_uint(&s, base, bits)
                    .map(Value::Uint)
                    .map_err(called)
            }
            Func::Index => {
                at_least(1)?;
                let mut it = args.into_iter();
                let mut v = it.next().unwrap_or(Value::Nil);
                for idx in it {
                    v = match (&v, &idx) {
                        (Value::List(l), Value::Int(_) | Value::Uint(_)) => {
                            let i = as_i128(&idx);
                            if i < 0 || i >= l.len() as i128 {
                                return Err(called(format!("index out of range: {i}")));
                            }
                            Value::Str(l[i as usize].clone())
                        }
                        (Value::Str(s), Value::Int(_) | Value::Uint(_)) => {
                            let i = as_i128(&idx);
                            if i < 0 || i >= s.len() as i128 {
                                return Err(called(format!("index out of range: {i}")));
                            }
                            Value::Uint(u64::from(s.as_bytes()[i as usize]))
                        }
                        (Value::QuestionList, Value::Int(_) | Value::Uint(_)) => {
                            let i = as_i128(&idx);
                            if i != 0 {
                                return Err(called(format!("index out of range: {i}")));
                            }
                            Value::QuestionItem
                        }
                        (Value::Map(m), Value::Str(k)) => m
                            .get(k)
                            .map_or(Value::Str(String::new()), |s| Value::Str(s.clone())),
                        (Value::Map(_), other) => {
                            return Err(called(format!(
                                "value has type {}; should be string",
                                type_name(other)
                            )))
                        }
                        (Value::List(_) | Value::Str(_) | Value::QuestionList, other) => {
                            return Err(called(format!(
                                "cannot index slice/array with type {}",
                                type_name(other)
                            )))
                        }
                        (Value::Missing | Value::Nil, _) => {
                            return Err(called("index of untyped nil".into()))
                        }
                        (other, _) => {
                            return Err(called(format!(
                                "can't index item of type {}",
                                type_name(other)
                            )))
                        }
                    };
                }
                Ok(v)
            }
            Func::Len => {
                want(1)?;
                match &args[0] {
                    Value::Str(s) => Ok(Value::Int(s.len() as i64)),
                    Value::List(l) => Ok(Value::Int(l.len() as i64)),
                    Value::Map(m) => Ok(Value::Int(m.len() as i64)),
                    Value::QuestionList => Ok(Value::Int(1)),
                    other => Err(called(format!("len of type {}", type_name(other)))),
                }
            }
            Func::Print | Func::Println => {
                let mut out = String::new();
                for (i, a) in args.iter().enumerate() {
                    let is_str = |v: &Value| matches!(v, Value::Str(_));
                    if i > 0 && (f == Func::Println || (!is_str(a) && !is_str(&args[i - 1]))) {
                        out.push(' ');
                    }
                    print_value(a, self.data, &mut out);
                }
                if f == Func::Println {
                    out.push('\n');
                }
                Ok(Value::Str(out))
            }
            Func::Printf => {
                at_least(1)?;
                let Value::Str(format) = &args[0] else {
                    return Err(self.fail(
                        cmd.pos,
                        &cmd.string(),
                        format!(
                            "wrong type for value; expected string; got {}",
                            type_name(&args[0])
                        ),
                    ));
                };
                Ok(Value::Str(sprintf(format, &args[1..], self.data)))
            }
            Func::Not => {
                want(1)?;
                Ok(Value::Bool(!truth(&args[0])))
            }
            Func::And | Func::Or => {
                at_least(1)?;
                let mut last = Value::Nil;
                for a in args {
                    let t = truth(&a);
                    last = a;
                    if (f == Func::And && !t) || (f == Func::Or && t) {
                        break;
                    }
                }
                Ok(last)
            }
            Func::Eq => {
                at_least(1)?;
                if n == 1 {
                    return Err(called("missing argument for comparison".into()));
                }
                for other in &args[1..] {
                    if compare(&args[0], other).map_err(&called)? == std::cmp::Ordering::Equal {
                        return Ok(Value::Bool(true));
                    }
                }
                Ok(Value::Bool(false))
            }
            Func::Ne | Func::Lt | Func::Le | Func::Gt | Func::Ge => {
                want(2)?;
                let o = compare(&args[0], &args[1]).map_err(&called)?;
                if f != Func::Ne
                    && !matches!(args[0], Value::Int(_) | Value::Uint(_) | Value::Str(_))
                {
                    return Err(called("invalid type for comparison".into()));
                }
                use std::cmp::Ordering::*;
                Ok(Value::Bool(match f {
                    Func::Ne => o != Equal,
                    Func::Lt => o == Less,
                    Func::Le => o != Greater,
                    Func::Gt => o == Greater,
                    _ => o != Less,
                }))
            }
        }
    }
}

fn as_i128(v: &Value) -> i128 {
    match v {
        Value::Int(i) => i128::from(*i),
        Value::Uint(u) => i128::from(*u),
        _ => 0,
    }
}

/// Go's comparison of basic values (integers of either sign compare by value).
fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    match (a, b) {
        (Value::Int(_) | Value::Uint(_), Value::Int(_) | Value::Uint(_)) => {
            Ok(as_i128(a).cmp(&as_i128(b)))
        }
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        _ => Err("incompatible types for comparison".into()),
    }
}

/// Go's notion of a true value: not the zero value.
fn truth(v: &Value) -> bool {
    match v {
        Value::Str(s) => !s.is_empty(),
        Value::Int(i) => *i != 0,
        Value::Uint(u) => *u != 0,
        Value::Bool(b) => *b,
        Value::List(l) => !l.is_empty(),
        Value::Map(m) => !m.is_empty(),
        Value::Missing | Value::Nil => false,
        _ => true,
    }
}

/// The Go type name of a value, for error messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Str(_) => "string",
        Value::Int(_) => "int",
        Value::Uint(_) => "uint64",
        Value::Bool(_) => "bool",
        Value::List(_) => "[]string",
        Value::Map(_) | Value::Groups => "map[string]string",
        Value::Data => "*template.templateData",
        Value::Question => "*dns.Question",
        Value::QuestionItem => "dns.Question",
        Value::QuestionList => "[]dns.Question",
        Value::Message => "*dns.Msg",
        Value::Missing | Value::Nil => "<nil>",
    }
}

/// The class and type mnemonics as miekg/dns prints them.
fn class_text(c: u16) -> String {
    cairn_core::wire::types::class_name(c).to_string()
}

fn type_text(t: u16) -> String {
    cairn_core::wire::RType(t).to_string()
}

/// Go's `%v` of a value.
fn print_value(v: &Value, data: &Data<'_>, out: &mut String) {
    match v {
        // `fields` hands `.Group` on as a map; kept for completeness.
        Value::Groups => print_value(&Value::Map(data.groups.clone()), data, out),
        Value::Str(s) => out.push_str(s),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Uint(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::List(l) => {
            out.push('[');
            out.push_str(&l.join(" "));
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{k}:{v}");
            }
            out.push(']');
        }
        Value::Question => {
            let (name, t, c) = data.question;
            let _ = write!(out, ";{name}\t{}\t {}", class_text(c), type_text(t));
        }
        Value::QuestionItem => {
            let (name, t, c) = data.question;
            let _ = write!(out, "{{{name} {t} {c}}}");
        }
        Value::QuestionList => {
            let (name, t, c) = data.question;
            let _ = write!(out, "[{{{name} {t} {c}}}]");
        }
        Value::Data => out.push_str("{...}"),
        Value::Message => out.push_str(";; (message)"),
        Value::Missing => out.push_str("<no value>"),
        Value::Nil => out.push_str("<nil>"),
    }
}

/// The part of Go's `fmt.Sprintf` templates use: `%s %v %d %x %X %o %q %%` with flags
/// `-`, `0` and a width.
fn sprintf(format: &str, args: &[Value], data: &Data<'_>) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut next = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut zero = false;
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' | ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = 0usize;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = width * 10 + d as usize;
            chars.next();
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next += 1;
        let mut s = String::new();
        match (verb, arg) {
            ('d', Value::Int(i)) => {
                let _ = write!(s, "{i}");
            }
            ('d', Value::Uint(u)) => {
                let _ = write!(s, "{u}");
            }
            ('x', Value::Int(i)) => {
                let _ = write!(s, "{i:x}");
            }
            ('x', Value::Uint(u)) => {
                let _ = write!(s, "{u:x}");
            }
            ('X', Value::Int(i)) => {
                let _ = write!(s, "{i:X}");
            }
            ('X', Value::Uint(u)) => {
                let _ = write!(s, "{u:X}");
            }
            ('o', Value::Int(i)) => {
                let _ = write!(s, "{i:o}");
            }
            ('o', Value::Uint(u)) => {
                let _ = write!(s, "{u:o}");
            }
            ('x', Value::Str(v)) => {
                for b in v.bytes() {
                    let _ = write!(s, "{b:02x}");
                }
            }
            ('X', Value::Str(v)) => {
                for b in v.bytes() {
                    let _ = write!(s, "{b:02X}");
                }
            }
            ('q', Value::Str(v)) => s = quote(v),
            ('s' | 'v', v) => print_value(v, data, &mut s),
            ('t', Value::Bool(b)) => s.push_str(if *b { "true" } else { "false" }),
            (verb, v) => {
                let mut inner = String::new();
                print_value(v, data, &mut inner);
                let _ = write!(s, "%!{verb}({}={inner})", type_name(v));
            }
        }
        let len = s.chars().count();
        if len < width {
            let pad = width - len;
            let numeric = matches!(arg, Value::Int(_) | Value::Uint(_));
            if left {
                out.push_str(&s);
                out.extend(std::iter::repeat_n(' ', pad));
            } else if zero && numeric {
                let (sign, digits) = match s.strip_prefix('-') {
                    Some(d) => ("-", d.to_string()),
                    None => ("", s.clone()),
                };
                out.push_str(sign);
                out.extend(std::iter::repeat_n('0', pad));
                out.push_str(&digits);
            } else {
                out.extend(std::iter::repeat_n(if zero { '0' } else { ' ' }, pad));
                out.push_str(&s);
            }
        } else {
            out.push_str(&s);
        }
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[next..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let mut inner = String::new();
            print_value(a, data, &mut inner);
            let _ = write!(out, "{}={inner}", type_name(a));
        }
        out.push(')');
    }
    out
}
