//! An RFC 1035 master-file reader, written for this plugin.
//!
//! It reads the zone files BIND, NSD, Knot and CoreDNS read: `$ORIGIN`, `$TTL`, `$INCLUDE`
//! (relative to the including file, nested at most [`MAX_INCLUDE_DEPTH`] deep), `@`, relative
//! and absolute names, omitted owners (the previous owner), omitted TTL and class in either
//! order, parentheses spanning lines, `;` comments, quoted strings, `\DDD` / `\X` escapes,
//! and BIND's `$GENERATE`.
//! Record data formats live in [`super::rdata`].
//!
//! Every problem is a [`ZoneError`] naming the file and line, and no input makes the reader
//! panic: it is fed untrusted bytes in the tests.

use std::path::{Path, PathBuf};

use cairn_core::wire::types::class_from_mnemonic;
use cairn_core::wire::{Name, RData, RType, Record, CLASS_IN};

use super::rdata;

/// How deep `$INCLUDE` may nest (the same cap as CoreDNS's zone parser).
pub const MAX_INCLUDE_DEPTH: usize = 7;

/// A problem in a zone file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ZoneError {
    /// The file as it was named (the Corefile's path, or the `$INCLUDE`d path).
    pub file: String,
    /// 1-based line, 0 when the problem is about the whole file.
    pub line: u32,
    pub message: String,
}

impl ZoneError {
    pub(crate) fn new(file: impl Into<String>, line: u32, message: impl Into<String>) -> Self {
        ZoneError {
            file: file.into(),
            line,
            message: message.into(),
        }
    }

    fn render(&self) -> String {
        if self.line == 0 {
            format!("{}: {}", self.file, self.message)
        } else {
            format!("{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

/// One token of an entry: raw text (escapes kept, quotes removed) and where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tok {
    pub text: Vec<u8>,
    pub quoted: bool,
    pub line: u32,
}

impl Tok {
    /// The text when it is UTF-8 (names, numbers and mnemonics always are).
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.text).ok()
    }

    /// The text for error messages.
    pub fn show(&self) -> String {
        String::from_utf8_lossy(&self.text).into_owned()
    }
}

/// One logical line: its tokens, and whether the owner field was left blank.
#[derive(Debug)]
struct Entry {
    line: u32,
    blank_owner: bool,
    toks: Vec<Tok>,
}

/// Splits master-file text into entries.
struct Lexer {
    text: Vec<u8>,
    pos: usize,
    line: u32,
}

impl Lexer {
    fn new(text: Vec<u8>) -> Self {
        Lexer {
            text,
            pos: 0,
            line: 1,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    /// The next entry with at least one token, or `None` at the end.
    fn next_entry(&mut self) -> Result<Option<Entry>, (u32, String)> {
        loop {
            if self.pos >= self.text.len() {
                return Ok(None);
            }
            let blank_owner = matches!(self.peek(), Some(b' ' | b'\t'));
            let mut entry = Entry {
                line: self.line,
                blank_owner,
                toks: Vec::new(),
            };
            let mut depth = 0u32;
            let mut open_line = self.line;
            loop {
                let Some(c) = self.peek() else {
                    if depth > 0 {
                        return Err((open_line, "unbalanced parentheses".into()));
                    }
                    break;
                };
                match c {
                    b'\n' => {
                        self.pos += 1;
                        self.line += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b' ' | b'\t' | b'\r' => self.pos += 1,
                    b';' => {
                        while self.peek().is_some_and(|c| c != b'\n') {
                            self.pos += 1;
                        }
                    }
                    b'(' => {
                        if depth == 0 {
                            open_line = self.line;
                        }
                        depth += 1;
                        self.pos += 1;
                    }
                    b')' => {
                        if depth == 0 {
                            return Err((self.line, "unbalanced parentheses".into()));
                        }
                        depth -= 1;
                        self.pos += 1;
                    }
                    b'"' => {
                        let line = self.line;
                        self.pos += 1;
                        let mut text = Vec::new();
                        loop {
                            match self.peek() {
                                None => {
                                    return Err((line, "unterminated quoted string".into()));
                                }
                                Some(b'"') => {
                                    self.pos += 1;
                                    break;
                                }
                                Some(b'\\') => {
                                    text.push(b'\\');
                                    self.pos += 1;
                                    if let Some(n) = self.peek() {
                                        if n == b'\n' {
                                            self.line += 1;
                                        }
                                        text.push(n);
                                        self.pos += 1;
                                    }
                                }
                                Some(c) => {
                                    if c == b'\n' {
                                        self.line += 1;
                                    }
                                    text.push(c);
                                    self.pos += 1;
                                }
                            }
                        }
                        if entry.toks.is_empty() {
                            entry.line = line;
                        }
                        entry.toks.push(Tok {
                            text,
                            quoted: true,
                            line,
                        });
                    }
                    _ => {
                        let line = self.line;
                        let mut text = Vec::new();
                        while let Some(c) = self.peek() {
                            match c {
                                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                                b'\\' => {
                                    text.push(b'\\');
                                    self.pos += 1;
                                    if let Some(n) = self.peek() {
                                        if n == b'\n' {
                                            break;
                                        }
                                        text.push(n);
                                        self.pos += 1;
                                    }
                                }
                                _ => {
                                    text.push(c);
                                    self.pos += 1;
                                }
                            }
                        }
                        if entry.toks.is_empty() {
                            entry.line = line;
                        }
                        entry.toks.push(Tok {
                            text,
                            quoted: false,
                            line,
                        });
                    }
                }
            }
            if !entry.toks.is_empty() {
                return Ok(Some(entry));
            }
        }
    }
}

/// Per-file reading state.
struct Frame {
    /// The path as shown in errors.
    file: String,
    path: PathBuf,
    lexer: Lexer,
    origin: Name,
    /// The TTL for records without one, and whether `$TTL` set it.
    default_ttl: Option<(u32, bool)>,
    prev_owner: Option<Name>,
    depth: usize,
}

/// Reads records one at a time from a zone file and the files it includes.
pub struct ZoneParser {
    frames: Vec<Frame>,
    /// The SOA minimum, used (as BIND does) for records without a TTL when no default exists.
    soa_minimum: Option<u32>,
    allow_include: bool,
    /// Records made by `$GENERATE`, handed out before reading on.
    pending: std::collections::VecDeque<Record>,
}

impl ZoneParser {
    /// A reader over `text`, the contents of `path`, with `origin` as the initial `$ORIGIN`.
    pub fn new(text: Vec<u8>, origin: Name, path: &Path) -> Self {
        ZoneParser {
            frames: vec![Frame {
                file: path.display().to_string(),
                path: path.to_path_buf(),
                lexer: Lexer::new(text),
                origin,
                default_ttl: None,
                prev_owner: None,
                depth: 0,
            }],
            soa_minimum: None,
            allow_include: true,
            pending: std::collections::VecDeque::new(),
        }
    }

    /// Reads `path` from disk.
    pub fn open(path: &Path, origin: Name) -> Result<Self, ZoneError> {
        let text = std::fs::read(path).map_err(|e| {
            ZoneError::new(
                path.display().to_string(),
                0,
                format!("cannot read file: {e}"),
            )
        })?;
        Ok(Self::new(text, origin, path))
    }

    /// Refuses `$INCLUDE` (for text that did not come from a file).
    pub fn without_include(mut self) -> Self {
        self.allow_include = false;
        self
    }

    /// The next record, `Ok(None)` at the end of the top-level file.
    pub fn next_record(&mut self) -> Result<Option<Record>, ZoneError> {
        loop {
            if let Some(r) = self.pending.pop_front() {
                return Ok(Some(r));
            }
            let Some(frame) = self.frames.last_mut() else {
                return Ok(None);
            };
            let entry = match frame.lexer.next_entry() {
                Ok(Some(e)) => e,
                Ok(None) => {
                    self.frames.pop();
                    continue;
                }
                Err((line, msg)) => return Err(ZoneError::new(frame.file.clone(), line, msg)),
            };
            let file = frame.file.clone();
            let err = |line: u32, msg: String| ZoneError::new(file.clone(), line, msg);
            let first = &entry.toks[0];
            if !entry.blank_owner && !first.quoted && first.text.first() == Some(&b'$') {
                self.directive(&entry).map_err(|(l, m)| err(l, m))?;
                continue;
            }
            return self.record(&entry).map(Some).map_err(|(l, m)| err(l, m));
        }
    }

    /// Reads all records.
    pub fn read_all(mut self) -> Result<Vec<Record>, ZoneError> {
        let mut out = Vec::new();
        while let Some(r) = self.next_record()? {
            out.push(r);
        }
        Ok(out)
    }

    fn directive(&mut self, entry: &Entry) -> Result<(), (u32, String)> {
        let Some(frame) = self.frames.last_mut() else {
            return Ok(());
        };
        let toks = &entry.toks;
        let name = toks[0].show().to_ascii_uppercase();
        let line = entry.line;
        match name.as_str() {
            "$ORIGIN" => {
                let [_, arg] = toks.as_slice() else {
                    return Err((line, "$ORIGIN takes exactly one name".into()));
                };
                frame.origin = parse_name(arg, &frame.origin)?;
                Ok(())
            }
            "$TTL" => {
                let [_, arg] = toks.as_slice() else {
                    return Err((line, "$TTL takes exactly one value".into()));
                };
                let ttl =
                    parse_ttl(arg).ok_or((line, format!("bad $TTL value '{}'", arg.show())))?;
                frame.default_ttl = Some((ttl, true));
                Ok(())
            }
            "$INCLUDE" => {
                if !(2..=3).contains(&toks.len()) {
                    return Err((
                        line,
                        "$INCLUDE takes a file name and an optional origin".into(),
                    ));
                }
                if !self.allow_include {
                    return Err((line, "$INCLUDE is not allowed here".into()));
                }
                if frame.depth >= MAX_INCLUDE_DEPTH {
                    return Err((line, "too deeply nested $INCLUDE".into()));
                }
                let target = toks[1]
                    .as_str()
                    .ok_or((line, "bad $INCLUDE file name".to_string()))?;
                let origin = match toks.get(2) {
                    Some(t) => parse_name(t, &frame.origin)?,
                    None => frame.origin.clone(),
                };
                let mut path = PathBuf::from(target);
                if path.is_relative() {
                    if let Some(dir) = frame.path.parent() {
                        path = dir.join(path);
                    }
                }
                let text = std::fs::read(&path).map_err(|e| {
                    (
                        line,
                        format!("cannot read $INCLUDE file '{}': {e}", path.display()),
                    )
                })?;
                let child = Frame {
                    file: path.display().to_string(),
                    path,
                    lexer: Lexer::new(text),
                    origin,
                    default_ttl: frame.default_ttl,
                    prev_owner: frame.prev_owner.clone(),
                    depth: frame.depth + 1,
                };
                self.frames.push(child);
                Ok(())
            }
            "$GENERATE" => self.generate(entry),
            _ => Err((line, format!("unknown directive '{}'", toks[0].show()))),
        }
    }

    /// `$GENERATE start-stop[/step] lhs [ttl] [class] type rhs`: one record per value, `$`
    /// standing for the value (`${offset,width,base}` to format it, `\$` or `$$` for a
    /// dollar). As in CoreDNS's parser, generated records without a TTL get 3600.
    fn generate(&mut self, entry: &Entry) -> Result<(), (u32, String)> {
        let line = entry.line;
        let toks = &entry.toks;
        if toks.len() < 4 {
            return Err((
                line,
                "$GENERATE needs a range, an owner, a type and data".into(),
            ));
        }
        let range = toks[1].as_str().unwrap_or("");
        let (span, step) = match range.split_once('/') {
            Some((span, step)) => (
                span,
                step.parse::<i64>()
                    .ok()
                    .filter(|&s| s > 0)
                    .ok_or((line, "bad step in $GENERATE range".to_string()))?,
            ),
            None => (range, 1),
        };
        let (start, end) = span
            .split_once('-')
            .and_then(|(a, b)| Some((a.parse::<i64>().ok()?, b.parse::<i64>().ok()?)))
            .ok_or((line, "bad start-stop in $GENERATE range".to_string()))?;
        if start < 0 || end < start || (end - start) / step > 65535 {
            return Err((line, "bad range in $GENERATE range".into()));
        }
        let mut template = Vec::new();
        for t in &toks[2..] {
            if !template.is_empty() {
                template.push(b' ');
            }
            if t.quoted {
                template.push(b'"');
                template.extend_from_slice(&t.text);
                template.push(b'"');
            } else {
                template.extend_from_slice(&t.text);
            }
        }
        let Some(frame) = self.frames.last_mut() else {
            return Ok(());
        };
        let saved = (frame.default_ttl, frame.prev_owner.clone());
        frame.default_ttl = Some((3600, true));
        let mut result = Ok(());
        let mut cur = start;
        while cur <= end {
            let made = expand(&template, cur, start, end)
                .map_err(|m| (line, m))
                .and_then(|text| match Lexer::new(text).next_entry() {
                    Ok(Some(mut e)) => {
                        e.line = line;
                        e.blank_owner = false;
                        for t in &mut e.toks {
                            t.line = line;
                        }
                        self.record(&e).map(Some)
                    }
                    Ok(None) => Ok(None),
                    Err((_, m)) => Err((line, m)),
                });
            match made {
                Ok(Some(r)) => self.pending.push_back(r),
                Ok(None) => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            match cur.checked_add(step) {
                Some(next) => cur = next,
                None => break,
            }
        }
        if let Some(frame) = self.frames.last_mut() {
            (frame.default_ttl, frame.prev_owner) = saved;
        }
        if result.is_err() {
            self.pending.clear();
        }
        result
    }

    fn record(&mut self, entry: &Entry) -> Result<Record, (u32, String)> {
        let soa_minimum = self.soa_minimum;
        let Some(frame) = self.frames.last_mut() else {
            return Err((entry.line, "no file".into()));
        };
        let mut toks = entry.toks.as_slice();
        let owner = if entry.blank_owner {
            frame
                .prev_owner
                .clone()
                .ok_or((entry.line, "no previous owner name".to_string()))?
        } else {
            let (first, rest) = toks
                .split_first()
                .ok_or((entry.line, "empty entry".to_string()))?;
            toks = rest;
            parse_name(first, &frame.origin)?
        };
        frame.prev_owner = Some(owner.clone());

        let mut ttl = None;
        let mut class = None;
        let rtype = loop {
            let (t, rest) = toks
                .split_first()
                .ok_or((entry.line, "missing record type".to_string()))?;
            toks = rest;
            let text = t.as_str().unwrap_or("");
            if t.quoted {
                return Err((
                    t.line,
                    format!("expected a record type, got \"{}\"", t.show()),
                ));
            }
            if ttl.is_none() && text.as_bytes().first().is_some_and(u8::is_ascii_digit) {
                ttl = Some(parse_ttl(t).ok_or((t.line, format!("bad TTL '{}'", t.show())))?);
                continue;
            }
            if class.is_none() {
                if let Some(c) = class_from_mnemonic(text) {
                    class = Some(c);
                    continue;
                }
            }
            match RType::from_mnemonic(text) {
                Some(rt) => break rt,
                None => {
                    return Err((t.line, format!("unknown record type '{}'", t.show())));
                }
            }
        };

        let data = rdata::parse(rtype, toks, &frame.origin).map_err(|(line, msg)| {
            (
                if line == 0 { entry.line } else { line },
                format!("{rtype} record: {msg}"),
            )
        })?;

        let ttl = match ttl {
            Some(t) => {
                if !frame
                    .default_ttl
                    .is_some_and(|(_, by_directive)| by_directive)
                {
                    frame.default_ttl = Some((t, false));
                }
                t
            }
            None => match frame.default_ttl {
                Some((t, _)) => t,
                None => match (&data, soa_minimum) {
                    (RData::Soa(soa), _) => soa.minimum,
                    (_, Some(min)) => min,
                    _ => {
                        return Err((entry.line, "missing TTL with no previous value".into()));
                    }
                },
            },
        };
        if let RData::Soa(soa) = &data {
            if self.soa_minimum.is_none() {
                self.soa_minimum = Some(soa.minimum);
            }
        }
        Ok(Record {
            name: owner,
            rtype,
            class: class.unwrap_or(CLASS_IN),
            ttl,
            data,
        })
    }
}

/// Substitutes the `$GENERATE` value into one template line.
fn expand(template: &[u8], cur: i64, start: i64, end: i64) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(template.len() + 8);
    let mut i = 0;
    while i < template.len() {
        match template[i] {
            b'\\' => {
                match template.get(i + 1) {
                    Some(b'$') => out.push(b'$'),
                    Some(&c) => out.extend_from_slice(&[b'\\', c]),
                    None => out.push(b'\\'),
                }
                i += 2;
            }
            b'$' => match template.get(i + 1) {
                Some(b'$') => {
                    out.push(b'$');
                    i += 2;
                }
                Some(b'{') => {
                    let close = template[i + 2..]
                        .iter()
                        .position(|&b| b == b'}')
                        .ok_or("bad modifier in $GENERATE")?;
                    let modifier = std::str::from_utf8(&template[i + 2..i + 2 + close])
                        .map_err(|_| "bad modifier in $GENERATE")?;
                    let mut parts = modifier.split(',');
                    let offset: i64 = parts
                        .next()
                        .unwrap_or("")
                        .parse()
                        .map_err(|_| "bad offset in $GENERATE")?;
                    let width: usize = match parts.next() {
                        Some(w) => w
                            .parse::<u8>()
                            .map_err(|_| "bad width in $GENERATE")?
                            .into(),
                        None => 0,
                    };
                    let base = parts.next().unwrap_or("d");
                    if parts.next().is_some() {
                        return Err("bad modifier in $GENERATE".into());
                    }
                    if start.checked_add(offset).is_none_or(|v| v < 0)
                        || end
                            .checked_add(offset)
                            .is_none_or(|v| v > i64::from(i32::MAX))
                    {
                        return Err("bad offset in $GENERATE".into());
                    }
                    let v = cur + offset;
                    let text = match base {
                        "d" => format!("{v:0width$}"),
                        "o" => format!("{v:0width$o}"),
                        "x" => format!("{v:0width$x}"),
                        "X" => format!("{v:0width$X}"),
                        _ => return Err("bad base in $GENERATE".into()),
                    };
                    out.extend_from_slice(text.as_bytes());
                    i += 3 + close;
                }
                _ => {
                    out.extend_from_slice(cur.to_string().as_bytes());
                    i += 1;
                }
            },
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Reads a whole zone file from disk (with its includes).
pub fn read_file(path: &Path, origin: &Name) -> Result<Vec<Record>, ZoneError> {
    ZoneParser::open(path, origin.clone())?.read_all()
}

/// Parses a name field: `@` is the origin, names without a trailing dot are relative to it.
pub(crate) fn parse_name(tok: &Tok, origin: &Name) -> Result<Name, (u32, String)> {
    let bad = || (tok.line, format!("bad name '{}'", tok.show()));
    let text = tok.as_str().ok_or_else(bad)?;
    if text == "@" {
        return Ok(origin.clone());
    }
    if text.is_empty() {
        return Err(bad());
    }
    Name::parse(text, Some(origin)).map_err(|e| (tok.line, format!("bad name '{text}': {e}")))
}

/// Parses a TTL or SOA timer: seconds, or units like `1h30m`, `2d`, `1w` (case-insensitive).
pub(crate) fn parse_ttl(tok: &Tok) -> Option<u32> {
    parse_ttl_text(&tok.text)
}

/// See [`parse_ttl`].
pub(crate) fn parse_ttl_text(text: &[u8]) -> Option<u32> {
    if text.is_empty() || !text[0].is_ascii_digit() {
        return None;
    }
    let mut total: u32 = 0;
    let mut current: u32 = 0;
    let mut digits = false;
    for &c in text {
        let unit = match c.to_ascii_lowercase() {
            b'0'..=b'9' => {
                current = current.checked_mul(10)?.checked_add(u32::from(c - b'0'))?;
                digits = true;
                continue;
            }
            b's' => 1,
            b'm' => 60,
            b'h' => 3600,
            b'd' => 86_400,
            b'w' => 604_800,
            _ => return None,
        };
        if !digits {
            return None;
        }
        total = total.checked_add(current.checked_mul(unit)?)?;
        current = 0;
        digits = false;
    }
    total.checked_add(current)
}
