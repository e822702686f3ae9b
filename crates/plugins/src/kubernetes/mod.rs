//! The kubernetes plugin (placeholder being replaced).
mod setup;
pub use setup::setup;
