//! The Corefile language: lexing, parsing, snippets, imports and server block addresses.
//!
//! Cairn is configured with the same Corefile CoreDNS reads. This crate turns that text into
//! a [`Corefile`]: server blocks with their keys and, per block, the directive lines in
//! Corefile order, each with its arguments and nested `{ }` block. It knows nothing about
//! plugins beyond the list of valid directive names the caller passes in [`ParseOptions`];
//! grouping repeated directives and interpreting arguments is left to the caller. Errors are
//! [`ParseError`]s located at a file and line, and [`Directive`]/[`Token`] offer helpers so
//! plugin setup code can report mistakes the same way.
//!
//! ```
//! use cairn_corefile::{parse, ParseOptions};
//!
//! let opts = ParseOptions::new(&["errors", "forward", "cache"]);
//! let cf = parse("Corefile", ".:53 {\n  errors\n  forward . 1.1.1.1 {\n    max_fails 3\n  }\n}\n", &opts).unwrap();
//! let block = &cf.blocks[0];
//! assert_eq!(block.keys[0].text, ".:53");
//! assert_eq!(block.directives[1].arg_texts(), [".", "1.1.1.1"]);
//! assert_eq!(block.directives[1].block[0].name.text, "max_fails");
//! ```

pub mod address;
mod env;
pub mod error;
mod import;
pub mod lexer;
pub mod parser;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use address::{parse_key, AddressError, Transport, ZoneAddr};
pub use error::ParseError;

/// A token with its origin, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The text, without surrounding quotes, after environment substitution (except for the
    /// raw tokens kept inside the lexer).
    pub text: String,
    /// File the token was read from (main file name as given, or absolute path of an import).
    pub file: Arc<str>,
    /// 1-based line where the token starts.
    pub line: u32,
    /// Whether it was written in double quotes (a quoted `{` or `}` is plain text).
    pub quoted: bool,
}

impl Token {
    /// An error located at this token.
    pub fn error(&self, msg: impl Into<String>) -> ParseError {
        ParseError::new(&*self.file, self.line, msg)
    }
}

/// One directive line inside a server block, with its nested block (if `{ ... }` followed on
/// the same line). Nested block lines are themselves `Directive`s (first token = name, rest
/// = args), recursively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: Token,
    pub args: Vec<Token>,
    pub block: Vec<Directive>,
    /// True when a `{ }` block was written, even an empty one.
    pub has_block: bool,
}

impl Directive {
    /// Error located at this directive's line, formatted like CoreDNS:
    /// `<file>:<line> - Error during parsing: <msg>`.
    pub fn error(&self, msg: impl Into<String>) -> ParseError {
        self.name.error(msg)
    }

    /// "Wrong argument count or unexpected line ending after '<last token>'", located at the
    /// last token of the line.
    pub fn arg_count_error(&self) -> ParseError {
        let last = self.args.last().unwrap_or(&self.name);
        last.error(format!(
            "Wrong argument count or unexpected line ending after '{}'",
            last.text
        ))
    }

    /// "unknown property '<name>'", for an unrecognised line inside a plugin's block.
    pub fn unknown_property(&self) -> ParseError {
        self.error(format!("unknown property '{}'", self.name.text))
    }

    /// The argument texts.
    pub fn arg_texts(&self) -> Vec<&str> {
        self.args.iter().map(|t| t.text.as_str()).collect()
    }
}

/// A server block: its keys (addresses, not yet validated; see [`parse_key`]) and its
/// directive lines in Corefile order (repeats are not grouped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerBlock {
    pub keys: Vec<Token>,
    pub directives: Vec<Directive>,
}

/// A parsed Corefile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corefile {
    /// Server blocks in Corefile order (snippet definitions are not included).
    pub blocks: Vec<ServerBlock>,
    /// Every file read (main + imports, no duplicates), for reload polling. The main file is
    /// listed as given unless it is named "stdin"; imports by absolute path.
    pub files: Vec<PathBuf>,
    /// Non-fatal findings, e.g. an import glob that matched no file.
    pub warnings: Vec<String>,
}

/// Writes the canonical form of a configuration into a sink: length-prefixed fields, so
/// that no two different configurations give the same bytes.
struct Canonical<'s>(&'s mut dyn FnMut(&[u8]));

impl Canonical<'_> {
    fn num(&mut self, n: usize) {
        (self.0)(&(n as u64).to_le_bytes());
    }

    fn text(&mut self, s: &str) {
        self.num(s.len());
        (self.0)(s.as_bytes());
    }

    fn directive(&mut self, d: &Directive) {
        self.text(&d.name.text);
        self.num(d.args.len());
        for a in &d.args {
            self.text(&a.text);
        }
        (self.0)(&[u8::from(d.has_block)]);
        self.num(d.block.len());
        for n in &d.block {
            self.directive(n);
        }
    }
}

impl Corefile {
    /// Feeds `sink` the canonical form of the configuration: the parsed tokens of all
    /// blocks, texts and structure, not comments, whitespace, quoting, line numbers or file
    /// names. [`Corefile::digest`] and the `reload` plugin's SHA-512 hash it.
    pub fn write_canonical(&self, sink: &mut dyn FnMut(&[u8])) {
        let mut c = Canonical(sink);
        c.num(self.blocks.len());
        for b in &self.blocks {
            c.num(b.keys.len());
            for k in &b.keys {
                c.text(&k.text);
            }
            c.num(b.directives.len());
            for d in &b.directives {
                c.directive(d);
            }
        }
    }

    /// 64-bit FNV-1a of [`Corefile::write_canonical`]. Reload uses it to ignore edits that do
    /// not change the configuration.
    pub fn digest(&self) -> u64 {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut h = OFFSET;
        self.write_canonical(&mut |bytes| {
            for &x in bytes {
                h ^= u64::from(x);
                h = h.wrapping_mul(PRIME);
            }
        });
        h
    }

    /// [`Corefile::digest`] as 16 lower-case hex digits.
    pub fn digest_hex(&self) -> String {
        format!("{:016x}", self.digest())
    }
}

/// Environment lookup used for `{$NAME}` / `{%NAME%}` (None = unset).
pub type EnvLookup<'a> = Box<dyn Fn(&str) -> Option<String> + Send + Sync + 'a>;

/// What the parser needs from its caller.
pub struct ParseOptions<'a> {
    /// Directive names accepted at block top level; any other first word on a line is
    /// `Unknown directive '<name>'`. (Nested block lines are not checked.)
    pub directives: &'a [&'a str],
    /// Environment lookup; [`ParseOptions::new`] reads the process environment.
    pub env: EnvLookup<'a>,
    /// False when unknown directives are left for the caller to report (validation, which
    /// wants every error of the file rather than the first).
    pub check_directives: bool,
}

impl<'a> ParseOptions<'a> {
    /// Options with the given directive names and the process environment.
    pub fn new(directives: &'a [&'a str]) -> Self {
        ParseOptions {
            directives,
            env: Box::new(env::process_env),
            check_directives: true,
        }
    }

    /// Accepts any directive name; the caller reports unknown ones itself.
    pub fn accept_unknown_directives(mut self) -> Self {
        self.check_directives = false;
        self
    }

    /// Replaces the environment lookup (tests, or a frozen environment snapshot).
    pub fn with_env(mut self, env: impl Fn(&str) -> Option<String> + Send + Sync + 'a) -> Self {
        self.env = Box::new(env);
        self
    }
}

impl fmt::Debug for ParseOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParseOptions")
            .field("directives", &self.directives)
            .finish_non_exhaustive()
    }
}

/// Parses Corefile text. `file_name` is used in errors and as the base directory for
/// relative imports (its parent directory; for "stdin" the current directory).
pub fn parse(file_name: &str, text: &str, opts: &ParseOptions) -> Result<Corefile, ParseError> {
    parser::parse(file_name, text, opts)
}

/// Reads and parses a Corefile from disk (invalid UTF-8 is replaced, not rejected).
pub fn parse_file(path: &Path, opts: &ParseOptions) -> Result<Corefile, ParseError> {
    let name = path.to_string_lossy();
    let bytes = std::fs::read(path)
        .map_err(|e| ParseError::new(name.as_ref(), 0, format!("Could not read file: {e}")))?;
    parse(&name, &String::from_utf8_lossy(&bytes), opts)
}
