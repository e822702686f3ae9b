//! `root`: sets the directory that relative file names of the block's other plugins are
//! resolved against (zone files, certificates, keys).
//!
//! It only changes the block's settings and adds no query handler. It is first in the
//! registry, so every later plugin's setup sees the new base through `SetupCtx::resolve_path`.

mod setup;
#[cfg(test)]
mod tests;

pub use setup::setup;
