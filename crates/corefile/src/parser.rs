//! Turns lexed tokens into server blocks and directive trees.
//!
//! The grammar is Caddy's, as used by CoreDNS: a block is one or more keys followed by
//! `{ ... }` (braces optional for a final block that runs to end of input), each line inside
//! is a directive with arguments and an optional `{ ... }` block opened on the same line, and
//! nested blocks are split into lines the same way. `import` lines and `(snippet)` blocks are
//! resolved while parsing.
//!
//! Imports are handled by a stack of token sources instead of splicing vectors: the stack is
//! always the chain "who imported whom", which gives cycle detection for free (a snippet or
//! file that appears twice in the chain would import itself forever), and keeps recursion on
//! the heap. Hard caps on snippet expansions, file imports, total tokens and block nesting
//! make sure hostile input can neither hang the parser nor overflow its stack.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use crate::env;
use crate::import;
use crate::lexer::{lex, Lexeme};
use crate::{Corefile, Directive, ParseError, ParseOptions, ServerBlock, Token};

/// Maximum number of snippet expansions in one parse.
pub const MAX_SNIPPET_EXPANSIONS: usize = 10_000;
/// Maximum number of file imports (a glob counts once) in one parse.
pub const MAX_FILE_IMPORTS: usize = 100_000;
/// Maximum number of tokens consumed in one parse, after all expansions.
pub const MAX_TOKENS: usize = 1_000_000;
/// Maximum depth of `{ }` blocks inside a directive.
pub const MAX_NESTING: usize = 256;

/// Where a token source came from, for cycle detection.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    Main,
    Snippet(String),
    File(PathBuf),
}

/// A source of tokens being read, plus sources queued after it (files of one glob).
struct Frame {
    tokens: Rc<[Lexeme]>,
    pos: usize,
    origin: Origin,
    /// Sources to read after this one, last one first.
    queued: Vec<(Rc<[Lexeme]>, Origin)>,
}

impl Frame {
    /// Advances to a queued source when the current one is used up; false when all are.
    fn refill(&mut self) -> bool {
        while self.pos >= self.tokens.len() {
            match self.queued.pop() {
                Some((tokens, origin)) => {
                    self.tokens = tokens;
                    self.origin = origin;
                    self.pos = 0;
                }
                None => return false,
            }
        }
        true
    }
}

/// How the key line of a block ended.
enum KeysEnd {
    /// An unquoted `{` on the key line.
    Brace(Token),
    /// The next token starts a new line (not consumed).
    NewLine,
    Eof,
}

pub(crate) struct Parser<'o, 'a> {
    opts: &'o ParseOptions<'a>,
    frames: Vec<Frame>,
    snippets: HashMap<String, Rc<[Lexeme]>>,
    snippet_expansions: usize,
    file_imports: usize,
    tokens_read: usize,
    files: Vec<PathBuf>,
    files_seen: HashSet<PathBuf>,
    file_cache: HashMap<PathBuf, Rc<[Lexeme]>>,
    warnings: Vec<String>,
    main_file: Arc<str>,
    /// File and line of the last token consumed, for end-of-input errors.
    last_pos: Option<(Arc<str>, u32)>,
}

/// Parses `text` as the main Corefile named `file_name`.
pub(crate) fn parse(
    file_name: &str,
    text: &str,
    opts: &ParseOptions,
) -> Result<Corefile, ParseError> {
    let main_file: Arc<str> = Arc::from(file_name);
    let tokens: Rc<[Lexeme]> = lex(&main_file, text)?.into();
    let mut files = Vec::new();
    let origin = if file_name == "stdin" {
        Origin::Main
    } else {
        files.push(PathBuf::from(file_name));
        match std::fs::canonicalize(file_name) {
            Ok(p) => Origin::File(p),
            Err(_) => Origin::Main,
        }
    };
    let mut p = Parser {
        opts,
        frames: vec![Frame {
            tokens,
            pos: 0,
            origin,
            queued: Vec::new(),
        }],
        snippets: HashMap::new(),
        snippet_expansions: 0,
        file_imports: 0,
        tokens_read: 0,
        files_seen: files.iter().cloned().collect(),
        files,
        file_cache: HashMap::new(),
        warnings: Vec::new(),
        main_file,
        last_pos: None,
    };
    let blocks = p.parse_all()?;
    Ok(Corefile {
        blocks,
        files: p.files,
        warnings: p.warnings,
    })
}

impl Parser<'_, '_> {
    // ----- token stream -------------------------------------------------------------------

    /// The next token, dropping finished sources.
    fn peek(&mut self) -> Option<&Lexeme> {
        while let Some(top) = self.frames.last_mut() {
            if top.refill() {
                break;
            }
            self.frames.pop();
        }
        let top = self.frames.last()?;
        top.tokens.get(top.pos)
    }

    /// The next token of the current source only (never crosses into the importer).
    fn peek_in_frame(&self) -> Option<&Lexeme> {
        let top = self.frames.last()?;
        top.tokens.get(top.pos)
    }

    fn next(&mut self) -> Result<Option<Lexeme>, ParseError> {
        if self.peek().is_none() {
            return Ok(None);
        }
        let Some(top) = self.frames.last_mut() else {
            return Ok(None);
        };
        let Some(lx) = top.tokens.get(top.pos).cloned() else {
            return Ok(None);
        };
        top.pos += 1;
        self.tokens_read += 1;
        if self.tokens_read > MAX_TOKENS {
            return Err(lx.token.error(format!(
                "Corefile too large: more than {MAX_TOKENS} tokens after imports and snippets"
            )));
        }
        self.last_pos = Some((lx.token.file.clone(), lx.token.line));
        Ok(Some(lx))
    }

    fn eof_error(&self, message: String) -> ParseError {
        match &self.last_pos {
            Some((file, line)) => ParseError::new(&**file, *line, message),
            None => ParseError::new(&*self.main_file, 1, message),
        }
    }

    fn env(&self, tok: &Token) -> Token {
        Token {
            text: env::substitute(&tok.text, &*self.opts.env),
            ..tok.clone()
        }
    }

    // ----- blocks ----------------------------------------------------------------------------

    fn parse_all(&mut self) -> Result<Vec<ServerBlock>, ParseError> {
        let mut blocks = Vec::new();
        while self.peek().is_some() {
            if let Some(block) = self.parse_block()? {
                blocks.push(block);
            }
        }
        Ok(blocks)
    }

    fn parse_block(&mut self) -> Result<Option<ServerBlock>, ParseError> {
        let (keys, first, end) = self.parse_keys()?;
        let Some(first) = first else {
            // Only imports that brought nothing, then end of input.
            return Ok(None);
        };
        if keys.is_empty() {
            let msg = if first.text == "{" && !first.quoted {
                "Missing server block address before '{'"
            } else {
                "Empty server block address"
            };
            return Err(first.error(msg));
        }

        let at_eof = matches!(end, KeysEnd::Eof);
        let opener = match end {
            KeysEnd::Brace(tok) => Some(tok),
            KeysEnd::NewLine => match self.peek() {
                Some(lx) if lx.is_open() => self.next()?.map(|lx| lx.token),
                _ => None,
            },
            KeysEnd::Eof => None,
        };

        if let Some(name) = snippet_name(&keys) {
            let Some(open) = opener else {
                return Err(match self.peek().cloned() {
                    Some(lx) => lx.token.error(format!(
                        "Unexpected token '{}', expecting '{{' to open snippet '{}'",
                        lx.token.text, keys[0].text
                    )),
                    None => keys[0].error(format!(
                        "Unexpected EOF, expecting '{{' to open snippet '{}'",
                        keys[0].text
                    )),
                });
            };
            self.define_snippet(&keys[0], name, &open)?;
            return Ok(None);
        }

        let directives = match &opener {
            None if at_eof => Vec::new(),
            open => self.parse_lines(true, open.as_ref(), 0)?,
        };
        Ok(Some(ServerBlock { keys, directives }))
    }

    /// Reads the keys of a block. Returns the keys (env-substituted, trailing commas removed,
    /// empty ones dropped), the first token read that was not part of an import line, and how
    /// the key list ended.
    fn parse_keys(&mut self) -> Result<(Vec<Token>, Option<Token>, KeysEnd), ParseError> {
        let mut keys = Vec::new();
        let mut first: Option<Token> = None;
        let mut expecting_another = false;
        loop {
            let Some(lx) = self.peek() else {
                if expecting_another {
                    return Err(self.eof_error(
                        "Unexpected EOF: expected another address after ','".to_owned(),
                    ));
                }
                return Ok((keys, first, KeysEnd::Eof));
            };
            if lx.new_line && first.is_some() && !expecting_another {
                return Ok((keys, first, KeysEnd::NewLine));
            }
            let Some(lx) = self.next()? else {
                return Ok((keys, first, KeysEnd::Eof));
            };
            if lx.new_line && lx.is_import() {
                self.do_import(&lx)?;
                continue;
            }
            if first.is_none() {
                first = Some(lx.token.clone());
            }
            if lx.is_open() {
                if expecting_another {
                    return Err(lx
                        .token
                        .error("Expected another address but had '{' - check for extra comma"));
                }
                return Ok((keys, first, KeysEnd::Brace(lx.token)));
            }
            if lx.is_close() {
                return Err(lx
                    .token
                    .error("Unexpected '}' because no matching opening brace"));
            }
            let mut key = self.env(&lx.token);
            if key.text.ends_with(',') {
                key.text.pop();
                expecting_another = true;
            } else {
                expecting_another = false;
            }
            if !key.text.is_empty() {
                keys.push(key);
            }
        }
    }

    /// Reads directive lines until the closing `}` (when `opener` is set) or end of input.
    /// `server_level` enables the directive name check.
    fn parse_lines(
        &mut self,
        server_level: bool,
        opener: Option<&Token>,
        depth: usize,
    ) -> Result<Vec<Directive>, ParseError> {
        let mut out = Vec::new();
        loop {
            let Some(lx) = self.next()? else {
                return match opener {
                    Some(open) => Err(self.eof_error(format!(
                        "Unexpected EOF: missing '}}' to close the block opened at {}:{}",
                        open.file, open.line
                    ))),
                    None => Ok(out),
                };
            };
            if lx.is_close() {
                if opener.is_some() {
                    return Ok(out);
                }
                return Err(lx
                    .token
                    .error("Unexpected '}' because no matching opening brace"));
            }
            if lx.is_import() {
                self.do_import(&lx)?;
                continue;
            }
            if lx.is_open() {
                return Err(lx.token.error(
                    "Unexpected '{': a block must be opened on the same line as its directive",
                ));
            }
            let name = self.env(&lx.token);
            if server_level
                && self.opts.check_directives
                && !self.opts.directives.iter().any(|d| *d == name.text)
            {
                return Err(name.error(format!("Unknown directive '{}'", name.text)));
            }
            let mut dir = Directive {
                name,
                args: Vec::new(),
                block: Vec::new(),
                has_block: false,
            };
            loop {
                match self.peek() {
                    None => break,
                    Some(p) if p.new_line || p.is_close() => break,
                    Some(_) => {}
                }
                let Some(arg) = self.next()? else { break };
                if arg.is_open() {
                    if depth + 1 > MAX_NESTING {
                        return Err(arg
                            .token
                            .error(format!("Blocks nested too deeply (limit {MAX_NESTING})")));
                    }
                    dir.block = self.parse_lines(false, Some(&arg.token), depth + 1)?;
                    dir.has_block = true;
                    if let Some(p) = self.peek() {
                        if !p.new_line && !p.is_close() {
                            return Err(p.token.error(format!(
                                "Unexpected '{}' after '}}': a block must end its line",
                                p.token.text
                            )));
                        }
                    }
                    break;
                }
                dir.args.push(self.env(&arg.token));
            }
            out.push(dir);
        }
    }

    // ----- snippets and imports --------------------------------------------------------------

    fn define_snippet(&mut self, key: &Token, name: &str, open: &Token) -> Result<(), ParseError> {
        if self.snippets.contains_key(name) {
            return Err(key.error(format!(
                "redeclaration of previously declared snippet {name}"
            )));
        }
        let mut depth = 1usize;
        let mut body: Vec<Lexeme> = Vec::new();
        loop {
            let Some(lx) = self.next()? else {
                return Err(self.eof_error(format!(
                    "Unexpected EOF: missing '}}' to close snippet '{}' opened at {}:{}",
                    key.text, open.file, open.line
                )));
            };
            if lx.is_close() {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            } else if lx.is_open() {
                depth += 1;
            }
            body.push(lx);
        }
        if let Some(first) = body.first_mut() {
            first.new_line = true;
        }
        for (i, lx) in body.iter().enumerate() {
            let at_line_start = i == 0 || lx.new_line || body[i - 1].is_open();
            if at_line_start && lx.is_import() {
                if let Some(arg) = body.get(i + 1) {
                    if !arg.new_line && self.env(&arg.token).text == name {
                        return Err(arg.token.error(format!("snippet '{name}' imports itself")));
                    }
                }
            }
        }
        self.snippets.insert(name.to_owned(), body.into());
        Ok(())
    }

    /// Handles an `import` line whose keyword `kw` was just consumed.
    fn do_import(&mut self, kw: &Lexeme) -> Result<(), ParseError> {
        let arg = match self.peek_in_frame() {
            Some(a) if !a.new_line => a.clone(),
            _ => {
                return Err(kw
                    .token
                    .error("Wrong argument count or unexpected line ending after 'import'"))
            }
        };
        self.next()?;
        if let Some(extra) = self.peek_in_frame() {
            if !extra.new_line {
                return Err(extra
                    .token
                    .error("Import takes only one argument (glob pattern or file)"));
            }
        }
        let pattern = self.env(&arg.token);
        if pattern.text.is_empty() {
            return Err(arg.token.error("Import requires a non-empty filepath"));
        }

        // Snippets first: they shadow files of the same name.
        if let Some(body) = self.snippets.get(&pattern.text).cloned() {
            let origin = Origin::Snippet(pattern.text.clone());
            if self.frames.iter().any(|f| f.origin == origin) {
                return Err(pattern.error(format!(
                    "Import cycle: snippet '{}' ends up importing itself",
                    pattern.text
                )));
            }
            if self.snippet_expansions >= MAX_SNIPPET_EXPANSIONS {
                return Err(pattern.error(format!(
                    "maximum snippet import depth ({MAX_SNIPPET_EXPANSIONS}) exceeded"
                )));
            }
            self.snippet_expansions += 1;
            self.push_sources(vec![(body, origin)]);
            return Ok(());
        }

        if self.file_imports >= MAX_FILE_IMPORTS {
            return Err(pattern.error(format!(
                "maximum file import depth ({MAX_FILE_IMPORTS}) exceeded"
            )));
        }
        self.file_imports += 1;
        let base = base_dir(&kw.token.file);
        let resolved = import::resolve(&base, &pattern.text).map_err(|m| pattern.error(m))?;
        if resolved.files.is_empty() {
            if resolved.is_glob {
                self.warnings.push(format!(
                    "{}:{} - No files matching import glob pattern: {}",
                    pattern.file, pattern.line, pattern.text
                ));
            }
            return Ok(());
        }
        let mut sources = Vec::with_capacity(resolved.files.len());
        for path in resolved.files {
            let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            let origin = Origin::File(canonical.clone());
            if self.frames.iter().any(|f| f.origin == origin) {
                return Err(pattern.error(format!(
                    "Import cycle: {} ends up importing itself",
                    path.display()
                )));
            }
            let tokens = match self.file_cache.get(&canonical) {
                Some(t) => t.clone(),
                None => {
                    let text = import::read(&path).map_err(|m| pattern.error(m))?;
                    let file: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
                    let tokens: Rc<[Lexeme]> = lex(&file, &text)?.into();
                    self.file_cache.insert(canonical, tokens.clone());
                    tokens
                }
            };
            if self.files_seen.insert(path.clone()) {
                self.files.push(path);
            }
            sources.push((tokens, origin));
        }
        self.push_sources(sources);
        Ok(())
    }

    /// Makes `sources` (in order) the next tokens to be read.
    fn push_sources(&mut self, mut sources: Vec<(Rc<[Lexeme]>, Origin)>) {
        sources.reverse();
        let Some((tokens, origin)) = sources.pop() else {
            return;
        };
        self.frames.push(Frame {
            tokens,
            pos: 0,
            origin,
            queued: sources,
        });
    }
}

/// The snippet name if the keys are exactly one `(name)`.
fn snippet_name(keys: &[Token]) -> Option<&str> {
    match keys {
        [k] if k.text.len() >= 2 && k.text.starts_with('(') && k.text.ends_with(')') => {
            Some(&k.text[1..k.text.len() - 1])
        }
        _ => None,
    }
}

/// Directory that relative imports in `file` are resolved against.
fn base_dir(file: &str) -> PathBuf {
    if file == "stdin" {
        return PathBuf::from(".");
    }
    match Path::new(file).parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
