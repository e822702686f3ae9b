//! The one error type of the Corefile parser.
//!
//! Operators read these messages in logs when a Corefile is rejected at startup or on
//! reload, so every error names the file and line it is about, in the same
//! `<file>:<line> - Error during parsing: <message>` shape CoreDNS prints. Plugin setup code
//! reuses the type (through [`crate::Token::error`] and [`crate::Directive::error`]) so that
//! configuration mistakes found later still point at the offending line.

/// A Corefile error located at a file and line.
///
/// `line` is 1-based; 0 means "no particular line" (for example when the file itself could
/// not be read).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{file}:{line} - Error during parsing: {message}")]
pub struct ParseError {
    /// File name as given to the parser (main Corefile) or the absolute path of an imported file.
    pub file: String,
    /// 1-based line number.
    pub line: u32,
    /// What went wrong, without location.
    pub message: String,
}

impl ParseError {
    /// Builds an error from its parts.
    pub fn new(file: impl Into<String>, line: u32, message: impl Into<String>) -> Self {
        ParseError {
            file: file.into(),
            line,
            message: message.into(),
        }
    }
}
