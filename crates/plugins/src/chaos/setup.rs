//! Parses `chaos [VERSION] [AUTHORS...]` and reads the host name once.

use std::sync::Arc;

use cairn_core::{SetupCtx, SetupError};

use super::Chaos;

/// The version string without arguments.
const DEFAULT_VERSION: &str = concat!("Cairn-", env!("CARGO_PKG_VERSION"));

/// The author list when fewer than two arguments are given.
const DEFAULT_AUTHORS: &[&str] = &["Cairn contributors"];

/// Longest character-string a TXT record can hold; longer values are cut, as CoreDNS does.
const MAX_STRING: usize = 255;

/// `chaos [VERSION] [AUTHORS...]`: no block. Only the first `chaos` line of a block counts.
pub fn setup(ctx: &mut SetupCtx<'_>) -> Result<(), SetupError> {
    let d = ctx.first();
    if let Some(opt) = d.block.first() {
        return Err(opt.unknown_property());
    }
    for extra in &ctx.directives[1..] {
        cairn_core::warning!(
            "chaos",
            "{}:{}: only the first chaos line of a server block is used; ignoring this one",
            extra.name.file,
            extra.name.line
        );
    }
    let version = match d.args.first() {
        Some(v) => trim(v.text.as_bytes()),
        None => trim(DEFAULT_VERSION.as_bytes()),
    };
    let mut authors: Vec<Vec<u8>> = if d.args.len() > 1 {
        d.args[1..]
            .iter()
            .map(|a| trim(a.text.as_bytes()))
            .collect()
    } else {
        DEFAULT_AUTHORS
            .iter()
            .map(|a| a.as_bytes().to_vec())
            .collect()
    };
    authors.sort();
    authors.dedup();
    let hostname = trim(host_name().as_bytes());
    ctx.add_plugin(Arc::new(Chaos::new(&version, &authors, &hostname)));
    Ok(())
}

/// Cuts a string to what fits in one character-string.
fn trim(s: &[u8]) -> Vec<u8> {
    s[..s.len().min(MAX_STRING)].to_vec()
}

/// This machine's host name: the kernel's, else `$HOSTNAME`, else `localhost`.
pub(super) fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_string())
}
