//! `consolidate DURATION REGEXP [LEVEL] [show_first]`: errors whose text matches REGEXP are
//! counted instead of logged, and one line `<n> errors like '<regexp>' occurred in last
//! <duration>` is written DURATION after the first of them.
//!
//! The query path only bumps an atomic counter; the first error of a window also wakes the
//! pattern's flush loop, which sleeps DURATION and writes the summary. The loops run as one
//! background service; at shutdown they stop waiting, write what was counted, and from then
//! on errors are logged directly.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cairn_core::log::Level;
use cairn_core::setup::Shutdown;
use regex::Regex;
use tokio::sync::Notify;

use cairn_core::duration;

use super::emit;

/// One `consolidate` line.
pub(crate) struct Pattern {
    pub regex: Regex,
    pub period: Duration,
    /// Level of the summary (and of the first error with `show_first`). `None` stands for
    /// `debug`, which CoreDNS prints only with the `debug` plugin, which Cairn does not have.
    pub level: Option<Level>,
    pub show_first: bool,
    count: AtomicU32,
    wake: Notify,
}

impl Pattern {
    pub fn new(regex: Regex, period: Duration, level: Option<Level>, show_first: bool) -> Self {
        Pattern {
            regex,
            period,
            level,
            show_first,
            count: AtomicU32::new(0),
            wake: Notify::new(),
        }
    }
}

/// What to do with one error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Consolidation {
    /// No pattern matches: log at ERROR.
    NoMatch,
    /// Counted towards a summary: log nothing now.
    Counted,
    /// Log it now at this level (first error with `show_first`, or after shutdown).
    LogAt(Option<Level>),
}

/// The patterns of one `errors` block, in Corefile order (the first match wins).
#[derive(Default)]
pub(crate) struct Patterns {
    list: Vec<Pattern>,
    stopped: AtomicBool,
}

impl Patterns {
    pub fn new(list: Vec<Pattern>) -> Self {
        Patterns {
            list,
            stopped: AtomicBool::new(false),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Classifies an error text and counts it when a pattern takes it.
    pub fn record(&self, text: &str) -> Consolidation {
        let Some(p) = self.list.iter().find(|p| p.regex.is_match(text)) else {
            return Consolidation::NoMatch;
        };
        if self.stopped.load(Ordering::Acquire) {
            return Consolidation::LogAt(p.level);
        }
        if p.count.fetch_add(1, Ordering::AcqRel) == 0 {
            p.wake.notify_one();
            if p.show_first {
                return Consolidation::LogAt(p.level);
            }
        }
        Consolidation::Counted
    }

    /// The summary line for pattern `i`, resetting its count; `None` when there is nothing
    /// to say (no error, or only the one `show_first` already logged).
    pub fn take_summary(&self, i: usize) -> Option<(Option<Level>, String)> {
        let p = &self.list[i];
        let n = p.count.swap(0, Ordering::AcqRel);
        if n == 0 || (n == 1 && p.show_first) {
            return None;
        }
        Some((
            p.level,
            format!(
                "{n} errors like '{}' occurred in last {}",
                p.regex.as_str(),
                duration::format_std(p.period)
            ),
        ))
    }

    fn flush(&self, i: usize) {
        if let Some((Some(level), line)) = self.take_summary(i) {
            emit(level, format_args!("{line}"));
        }
    }

    /// The background service: one flush loop per pattern until shutdown, then a last flush.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        let loops = (0..self.list.len()).map(|i| {
            let me = self.clone();
            let mut shutdown = shutdown.clone();
            async move {
                let p = &me.list[i];
                loop {
                    tokio::select! {
                        () = p.wake.notified() => {}
                        () = shutdown.wait() => break,
                    }
                    tokio::select! {
                        () = tokio::time::sleep(p.period) => me.flush(i),
                        () = shutdown.wait() => break,
                    }
                }
            }
        });
        futures_util::future::join_all(loops).await;
        self.stopped.store(true, Ordering::Release);
        for i in 0..self.list.len() {
            self.flush(i);
        }
    }
}
