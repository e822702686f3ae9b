//! Loading zone files, and the background check that reloads them when they change.
//!
//! A reload reads the file on a blocking thread, builds a complete new [`Zone`] and swaps it
//! in; queries keep using the old one until then. A broken file is logged and the old zone
//! stays. By default the new file is only read past its SOA when the serial changed, as in
//! CoreDNS; with `reload_by_mtime` the file's modification time decides instead.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use cairn_core::setup::{BoxFuture, Shutdown};
use cairn_core::wire::{Name, RData, RType};

use super::zone::Zone;
use super::zonefile::{ZoneError, ZoneParser};
use super::ZoneSlot;

/// What one reload check did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reloaded {
    /// Nothing changed (same serial, same mtime).
    Unchanged,
    /// A new zone with this serial is being served.
    Swapped(u32),
    /// The file could not be read or parsed; the old zone stays.
    Failed,
}

/// Reads and builds the zone for `origin` from `path`.
pub fn load(origin: &Name, path: &Path) -> Result<Zone, ZoneError> {
    // Without a serial to compare, `read` always builds a zone.
    read(origin, path, None)?.ok_or_else(|| {
        ZoneError::new(
            path.display().to_string(),
            0,
            "zone was not read".to_string(),
        )
    })
}

/// How much of a zone file the periodic check reads to find the SOA serial.
const HEAD_BYTES: u64 = 16 * 1024;

/// The serial of the first SOA, when it lies within the file's first [`HEAD_BYTES`]
/// (it is normally the first record). The check then costs one small read instead of
/// loading a large file every interval, which also kept a file-sized buffer alive in every
/// allocator arena the check ran on. `None` (not found, cut mid-record, `$INCLUDE` first):
/// the caller reads the whole file.
fn head_serial(origin: &Name, path: &Path) -> Option<u32> {
    use std::io::Read;
    let mut head = Vec::with_capacity(HEAD_BYTES as usize);
    std::fs::File::open(path)
        .ok()?
        .take(HEAD_BYTES)
        .read_to_end(&mut head)
        .ok()?;
    let mut parser = ZoneParser::new(head, origin.clone(), path);
    while let Ok(Some(r)) = parser.next_record() {
        if let RData::Soa(soa) = &r.data {
            return Some(soa.serial);
        }
    }
    None
}

/// Reads the zone; with `unless_serial`, stops at the first SOA and returns `None` when its
/// serial equals that one.
fn read(origin: &Name, path: &Path, unless_serial: Option<u32>) -> Result<Option<Zone>, ZoneError> {
    if let Some(serial) = unless_serial {
        if head_serial(origin, path) == Some(serial) {
            return Ok(None);
        }
    }
    let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut parser = ZoneParser::open(path, origin.clone())?;
    let mut records = Vec::new();
    let mut seen_soa = false;
    while let Some(r) = parser.next_record()? {
        if !seen_soa && r.rtype == RType::SOA {
            seen_soa = true;
            if let (RData::Soa(soa), Some(serial)) = (&r.data, unless_serial) {
                if soa.serial == serial {
                    return Ok(None);
                }
            }
        }
        records.push(r);
    }
    let (mut zone, dropped) = Zone::build(origin, path.to_path_buf(), records)?;
    if dropped > 0 {
        cairn_core::warning!(
            "file",
            "Ignored {dropped} records outside of zone \"{origin}\" in \"{}\"",
            path.display()
        );
    }
    zone.mtime = mtime;
    Ok(Some(zone))
}

impl ZoneSlot {
    /// Checks the file once and swaps in the new zone when it changed, logging like CoreDNS.
    pub fn reload_now(&self) -> Reloaded {
        let current = self.zone();
        let mut compare = current.as_ref().map(|z| z.serial());
        if self.by_mtime {
            let modified = std::fs::metadata(&self.path).and_then(|m| m.modified());
            match modified {
                Err(e) => {
                    cairn_core::error!(
                        "file",
                        "Failed to stat zone \"{}\" in \"{}\": {e}",
                        self.origin,
                        self.path.display()
                    );
                    return Reloaded::Failed;
                }
                Ok(m) => {
                    let known: Option<SystemTime> = current.as_ref().and_then(|z| z.mtime);
                    if current.is_some() && known.is_some_and(|k| m <= k) {
                        return Reloaded::Unchanged;
                    }
                    compare = None;
                }
            }
        }
        if let Err(e) = std::fs::metadata(&self.path) {
            cairn_core::error!(
                "file",
                "Failed to open zone \"{}\" in \"{}\": {e}",
                self.origin,
                self.path.display()
            );
            return Reloaded::Failed;
        }
        match read(&self.origin, &self.path, compare) {
            Ok(None) => Reloaded::Unchanged,
            Ok(Some(zone)) => {
                let serial = zone.serial();
                self.store(zone);
                cairn_core::info!(
                    "file",
                    "Successfully reloaded zone \"{}\" in \"{}\" with {serial} SOA serial",
                    self.origin,
                    self.path.display()
                );
                Reloaded::Swapped(serial)
            }
            Err(e) => {
                cairn_core::error!("file", "Parsing zone \"{}\": {e}", self.origin);
                Reloaded::Failed
            }
        }
    }
}

/// The background task that checks `slot` every `slot.reload`.
pub fn service(slot: Arc<ZoneSlot>) -> Box<dyn FnOnce(Shutdown) -> BoxFuture + Send> {
    Box::new(move |mut shutdown: Shutdown| {
        Box::pin(async move {
            let period = slot.reload;
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        let s = slot.clone();
                        let _ = tokio::task::spawn_blocking(move || s.reload_now()).await;
                    }
                    _ = shutdown.wait() => break,
                }
            }
        }) as BoxFuture
    })
}
