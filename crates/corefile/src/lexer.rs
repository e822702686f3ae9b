//! Splits Corefile text into tokens.
//!
//! The Corefile grammar is line oriented (a directive's arguments are the words on its line),
//! so besides each word the lexer records whether it starts a new line. That flag is computed
//! here, once, against the previous token *of the same source*, which keeps line structure
//! intact when the parser later splices tokens from snippets and imported files into the
//! stream (comparing raw line numbers across sources would not work).
//!
//! Rules (see the CoreDNS/Caddy Corefile language):
//! * a leading byte-order mark is dropped; `\r` is ignored everywhere (also inside quotes,
//!   where Caddy would keep it, so CRLF files behave like LF files);
//! * any Unicode whitespace separates words;
//! * a word starting with `"` runs to the next unescaped `"`, may span lines, and only `\"`
//!   is an escape inside it (other backslashes are kept);
//! * `#` outside quotes starts a comment to end of line, even in the middle of a word (the part
//!   before `#` is still a word).
//!
//! One deliberate difference from Caddy: a quoted string still open at end of input is an
//! error here rather than a silently accepted token.

use std::sync::Arc;

use crate::{ParseError, Token};

/// A token plus its position in the line structure of the source it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexeme {
    /// The token itself (text without surrounding quotes).
    pub token: Token,
    /// True when this is the first token of its source or when it starts on a later line than
    /// the previous token ended on.
    pub new_line: bool,
}

impl Lexeme {
    /// An unquoted `{`.
    pub fn is_open(&self) -> bool {
        !self.token.quoted && self.token.text == "{"
    }

    /// An unquoted `}`.
    pub fn is_close(&self) -> bool {
        !self.token.quoted && self.token.text == "}"
    }

    /// The unquoted word `import`.
    pub fn is_import(&self) -> bool {
        !self.token.quoted && self.token.text == "import"
    }
}

struct State {
    file: Arc<str>,
    out: Vec<Lexeme>,
    /// Line on which the previous token ended; `None` before the first token.
    prev_end: Option<u32>,
    buf: String,
    in_token: bool,
    quoted: bool,
    start_line: u32,
}

impl State {
    fn emit(&mut self, end_line: u32) {
        let new_line = self.prev_end.is_none_or(|e| self.start_line > e);
        self.out.push(Lexeme {
            token: Token {
                text: std::mem::take(&mut self.buf),
                file: self.file.clone(),
                line: self.start_line,
                quoted: self.quoted,
            },
            new_line,
        });
        self.prev_end = Some(end_line);
        self.in_token = false;
        self.quoted = false;
    }
}

/// Tokenises `text`; `file` is recorded in every token for error messages.
pub fn lex(file: &Arc<str>, text: &str) -> Result<Vec<Lexeme>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut st = State {
        file: file.clone(),
        out: Vec::new(),
        prev_end: None,
        buf: String::new(),
        in_token: false,
        quoted: false,
        start_line: 1,
    };
    let mut line: u32 = 1;
    let mut escaped = false;
    let mut comment = false;

    for ch in text.chars() {
        if ch == '\r' {
            continue;
        }
        if st.quoted {
            if escaped {
                escaped = false;
                if ch != '"' {
                    st.buf.push('\\');
                }
            } else if ch == '\\' {
                escaped = true;
                continue;
            } else if ch == '"' {
                st.emit(line);
                continue;
            }
            if ch == '\n' {
                line = line.saturating_add(1);
            }
            st.buf.push(ch);
            continue;
        }
        if ch.is_whitespace() {
            if st.in_token {
                st.emit(line);
            }
            if ch == '\n' {
                line = line.saturating_add(1);
                comment = false;
            }
            continue;
        }
        if comment {
            continue;
        }
        if ch == '#' {
            comment = true;
            if st.in_token {
                st.emit(line);
            }
            continue;
        }
        if !st.in_token {
            st.in_token = true;
            st.start_line = line;
            if ch == '"' {
                st.quoted = true;
                continue;
            }
        }
        st.buf.push(ch);
    }

    if st.quoted {
        return Err(ParseError::new(
            &*st.file,
            st.start_line,
            "Unterminated quoted string (missing closing '\"')",
        ));
    }
    if st.in_token {
        st.emit(line);
    }
    Ok(st.out)
}
