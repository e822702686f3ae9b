//! `cairn-plugins`: one module per Corefile directive, and [`registry::PLUGINS`], the table
//! that fixes their order.
//!
//! Every plugin directory has the same files: `mod.rs` (the handler), `setup.rs` (parsing
//! the directive), `tests.rs` (case tables), `README.md` (Name, Description, Syntax, Metrics,
//! Ready, Examples), plus concept files where a plugin needs them.

pub mod registry;
pub mod whoami;
