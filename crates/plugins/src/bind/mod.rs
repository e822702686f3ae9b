//! `bind`: chooses the addresses a server block listens on instead of the wildcard.
//!
//! It only records the addresses and interface names in the block's settings and adds no query
//! handler. The server expands interface names into their addresses when it opens its sockets
//! (at start and at every reload), so an interface's current addresses are used.

mod address;
mod setup;
#[cfg(test)]
mod tests;

pub use setup::setup;
