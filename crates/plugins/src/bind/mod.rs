//! `bind`: not implemented yet.

mod setup;

pub use setup::setup;
