//! The `weighted` policy's weight file and its reload.
//!
//! ```text
//! # comment
//! www.example.com
//! 100.64.1.1 3
//! 100.64.1.2 1
//! ```
//!
//! A line with one field names a domain; the `ADDRESS WEIGHT` lines after it give weights
//! (1 to 255) to that domain's addresses; addresses not listed weigh 1. Queries read an
//! immutable [`Weights`] through an `ArcSwap`, so a reload swaps the whole table while
//! queries keep reading the old one, with no lock on the query path.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cairn_core::arc_swap::ArcSwap;
use cairn_core::setup::Shutdown;
use cairn_core::wire::{Name, NameBuf};

/// Weights by domain (lower-case wire name) and address.
#[derive(Debug, Default)]
pub struct Weights {
    domains: HashMap<Box<[u8]>, Vec<(IpAddr, u8)>>,
}

impl Weights {
    /// The weight of `ip` as an address of `owner` (1 when not listed).
    pub fn weight(&self, owner: &Name, ip: IpAddr) -> u8 {
        let mut lower = NameBuf::new();
        lower.set_wire_lowercase(owner.wire());
        self.domains
            .get(lower.wire())
            .and_then(|list| list.iter().find(|(a, _)| *a == ip))
            .map_or(1, |&(_, w)| w)
    }

    /// Number of domains listed.
    pub fn len(&self) -> usize {
        self.domains.len()
    }
}

/// Reads the text of a weight file; errors name the file as CoreDNS does.
pub fn parse(text: &str, file: &str) -> Result<Weights, String> {
    let mut domains: HashMap<Box<[u8]>, Vec<(IpAddr, u8)>> = HashMap::new();
    // `Some(None)`: a domain line that is no valid name; its weights can never match.
    let mut current: Option<Option<Box<[u8]>>> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [domain] => {
                if domain.parse::<IpAddr>().is_ok() {
                    return Err(format!(
                        "wrong domain name:\"{domain}\" in weight file {file}. (Maybe a missing weight value?)"
                    ));
                }
                current = Some(Name::parse(domain, None).ok().map(|name| {
                    let key: Box<[u8]> = name.to_lowercase().wire().into();
                    domains.entry(key.clone()).or_default();
                    key
                }));
            }
            [ip, weight] => {
                let ip: IpAddr = ip
                    .parse()
                    .map_err(|_| format!("wrong IP address:\"{ip}\" in weight file {file}"))?;
                let weight = Some(weight)
                    .filter(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|w| w.parse::<u8>().ok())
                    .filter(|&w| w > 0)
                    .ok_or_else(|| {
                        format!("wrong weight value:\"{weight}\" in weight file {file}")
                    })?;
                match &current {
                    None => return Err(format!("missing domain name in weight file {file}")),
                    Some(Some(key)) => domains.entry(key.clone()).or_default().push((ip, weight)),
                    Some(None) => {}
                }
            }
            _ => {
                return Err(format!(
                    "could not parse weight line:\"{line}\" in weight file {file}"
                ))
            }
        }
    }
    Ok(Weights { domains })
}

/// Why the weight file could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be opened or read.
    Open(String),
    /// It was read but is malformed.
    Parse(String),
}

/// The weight file and the table built from it.
pub struct WeightFile {
    pub path: PathBuf,
    pub table: Arc<ArcSwap<Weights>>,
    /// The contents at the last successful load, to skip unchanged files.
    last: Option<Vec<u8>>,
}

impl WeightFile {
    pub fn new(path: PathBuf) -> WeightFile {
        WeightFile {
            path,
            table: Arc::new(ArcSwap::from_pointee(Weights::default())),
            last: None,
        }
    }

    /// Reads the file and swaps a new table in when its contents changed.
    pub fn load(&mut self) -> Result<bool, LoadError> {
        let file = self.path.display().to_string();
        let bytes = std::fs::read(&self.path)
            .map_err(|e| LoadError::Open(format!("weight file open error: {file}: {e}")))?;
        if self.last.as_deref() == Some(&bytes[..]) {
            return Ok(false);
        }
        let weights = parse(&String::from_utf8_lossy(&bytes), &file).map_err(LoadError::Parse)?;
        self.table.store(Arc::new(weights));
        self.last = Some(bytes);
        cairn_core::info!("loadbalance", "Successfully reloaded weight file {file}");
        Ok(true)
    }

    /// The reload service: reads the file every `period` until shutdown.
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
                if let Err(LoadError::Open(e) | LoadError::Parse(e)) = s.load() {
                    cairn_core::error!("loadbalance", "{e}");
                }
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
