//! Keeping the table in step with the hosts file: every `reload` interval the file's
//! modification time and size are compared with the last read, and on a change the file is
//! parsed again and a new table swapped in. Reading happens on the blocking pool, so a large
//! blocklist-style hosts file never stalls the query workers.
//!
//! As in CoreDNS, a file that cannot be opened leaves the last data in place (inline entries
//! are always served), and the metrics change only when the file was read.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_core::arc_swap::ArcSwap;
use cairn_core::setup::Shutdown;
use cairn_core::wire::Name;

use super::hostsfile::{self, HostsMap};
use super::metrics::Metrics;
use super::table::Table;

/// The hosts file and what is needed to rebuild the table from it.
pub(crate) struct Source {
    pub path: PathBuf,
    pub origins: Vec<Name>,
    pub auto_reverse: bool,
    pub inline: HostsMap,
    pub table: Arc<ArcSwap<Table>>,
    pub metrics: Metrics,
    /// Modification time and size at the last read.
    stamp: Option<(Option<SystemTime>, u64)>,
}

impl Source {
    pub fn new(
        path: PathBuf,
        origins: Vec<Name>,
        auto_reverse: bool,
        inline: HostsMap,
        metrics: Metrics,
    ) -> Self {
        let table = Arc::new(ArcSwap::from_pointee(Table::build(
            &HostsMap::default(),
            &inline,
        )));
        Source {
            path,
            origins,
            auto_reverse,
            inline,
            table,
            metrics,
            stamp: None,
        }
    }

    /// Reads the file again if it changed since the last read; true when a new table was
    /// swapped in.
    pub fn refresh(&mut self) -> bool {
        let Ok(mut file) = File::open(&self.path) else {
            return false;
        };
        let Ok(meta) = file.metadata() else {
            return false;
        };
        let stamp = (meta.modified().ok(), meta.len());
        if self.stamp == Some(stamp) {
            return false;
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        if file.read_to_end(&mut bytes).is_err() {
            return false;
        }
        let map = hostsfile::parse(
            &String::from_utf8_lossy(&bytes),
            &self.origins,
            self.auto_reverse,
        );
        let entries = map.len() + self.inline.len();
        self.table.store(Arc::new(Table::build(&map, &self.inline)));
        self.stamp = Some(stamp);
        #[allow(clippy::cast_precision_loss)]
        self.metrics.entries.set(entries as f64);
        let mtime = stamp
            .0
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0.0, |d| d.as_secs_f64());
        self.metrics.reload_timestamp.set(mtime);
        true
    }

    /// The reload service: checks every `period` until shutdown.
    pub async fn run(self, period: Duration, mut shutdown: Shutdown) {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut source = self;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.wait() => return,
            }
            source = match tokio::task::spawn_blocking(move || {
                let mut s = source;
                s.refresh();
                s
            })
            .await
            {
                Ok(s) => s,
                Err(_) => return,
            };
        }
    }
}
