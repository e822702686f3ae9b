//! Log lines in CoreDNS's format, so operators' greps and log pipelines keep working:
//! `[INFO] plugin/reload: Running configuration SHA512 = ...`.
//!
//! Lines go to standard output, one write per line.

use std::fmt;
use std::io::Write;

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Fatal,
}

impl Level {
    /// The tag CoreDNS prints.
    pub fn tag(self) -> &'static str {
        match self {
            Level::Debug => "[DEBUG]",
            Level::Info => "[INFO]",
            Level::Warning => "[WARNING]",
            Level::Error => "[ERROR]",
            Level::Fatal => "[FATAL]",
        }
    }
}

/// Writes one line: `<tag> plugin/<plugin>: <message>` (or `<tag> <message>` without plugin).
pub fn write(level: Level, plugin: Option<&str>, args: fmt::Arguments<'_>) {
    let mut line = String::with_capacity(128);
    let _ = fmt::Write::write_fmt(&mut line, format_args!("{} ", level.tag()));
    if let Some(p) = plugin {
        line.push_str("plugin/");
        line.push_str(p);
        line.push_str(": ");
    }
    let _ = fmt::Write::write_fmt(&mut line, args);
    line.push('\n');
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

/// `info!("reload", "text {}", x)` or `info!(; "text")` for lines without a plugin.
#[macro_export]
macro_rules! info {
    (; $($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, None, format_args!($($arg)*)) };
    ($plugin:expr, $($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, Some($plugin), format_args!($($arg)*)) };
}

/// Warning line; see [`info!`].
#[macro_export]
macro_rules! warning {
    (; $($arg:tt)*) => { $crate::log::write($crate::log::Level::Warning, None, format_args!($($arg)*)) };
    ($plugin:expr, $($arg:tt)*) => { $crate::log::write($crate::log::Level::Warning, Some($plugin), format_args!($($arg)*)) };
}

/// Error line; see [`info!`].
#[macro_export]
macro_rules! error {
    (; $($arg:tt)*) => { $crate::log::write($crate::log::Level::Error, None, format_args!($($arg)*)) };
    ($plugin:expr, $($arg:tt)*) => { $crate::log::write($crate::log::Level::Error, Some($plugin), format_args!($($arg)*)) };
}
