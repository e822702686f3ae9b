//! `errors`: logs the errors the rest of the chain returns.
//!
//! The plugin wraps everything after it. When the chain ends in an error (an upstream timed
//! out, nothing was left to answer), the server still answers SERVFAIL; this plugin is where
//! the operator learns why, in the line CoreDNS prints:
//! `[ERROR] plugin/errors: 2 example.org. A: plugin/forward: i/o timeout`. The result is passed
//! on unchanged, and nothing is done for successful queries (the wrap is a `map` on a result
//! that is usually already there, so it costs neither a box nor an allocation).
//!
//! Noisy errors can be consolidated: see [`consolidate`].

pub(crate) mod consolidate;
mod setup;
#[cfg(test)]
mod tests;

pub use setup::setup;

use std::fmt;
use std::sync::Arc;

use cairn_core::log::Level;
use cairn_core::{Next, Plugin, PluginError, Request, Served};

use consolidate::{Consolidation, Patterns};

/// The `errors` handler.
pub struct Errors {
    patterns: Arc<Patterns>,
}

impl Errors {
    fn new(patterns: Arc<Patterns>) -> Self {
        Errors { patterns }
    }

    /// Logs one error (or counts it towards a consolidated line).
    fn report(&self, req: &Request, err: &PluginError) {
        let text = err.to_string();
        let level = match self.patterns.record(&text) {
            Consolidation::Counted => return,
            Consolidation::LogAt(level) => level,
            Consolidation::NoMatch => Some(Level::Error),
        };
        if let Some(level) = level {
            emit(
                level,
                format_args!(
                    "{}",
                    ErrorLine {
                        req,
                        err,
                        text: &text
                    }
                ),
            );
        }
    }
}

/// The text CoreDNS logs for a failed query: `<rcode> <qname> <qtype>: <error>`, with the
/// response code as an integer and the name in lower case.
pub struct ErrorLine<'a> {
    pub req: &'a Request,
    pub err: &'a PluginError,
    /// `err` as text (already computed for the pattern match).
    pub text: &'a str,
}

impl fmt::Display for ErrorLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}: {}",
            self.err.rcode().0,
            self.req.qname_lower,
            self.req.qtype(),
            self.text
        )
    }
}

impl Plugin for Errors {
    fn name(&self) -> &'static str {
        "errors"
    }

    fn serve<'a>(&'a self, req: Box<Request>, next: Next<'a>) -> Served<'a> {
        next.run(req).map(move |req, result| {
            if let Err(e) = &result {
                self.report(req, e);
            }
            result
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Writes a `plugin/errors` line (captured instead in this module's tests).
pub(crate) fn emit(level: Level, args: fmt::Arguments<'_>) {
    #[cfg(test)]
    if tests::capture(level, args) {
        return;
    }
    cairn_core::log::write(level, Some("errors"), args);
}
