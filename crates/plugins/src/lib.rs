//! `cairn-plugins`: one module per Corefile directive, and [`registry::PLUGINS`], the table
//! that fixes their order.
//!
//! Every plugin directory has the same files: `mod.rs` (the handler), `setup.rs` (parsing
//! the directive), `tests.rs` (case tables), `README.md` (Name, Description, Syntax, Metrics,
//! Ready, Examples), plus concept files where a plugin needs them.

pub mod any;
pub mod autopath;
pub mod bind;
pub mod bufsize;
pub mod cache;
pub mod chaos;
pub mod errors;
pub mod file;
pub mod forward;
mod go_strconv;
pub mod health;
pub mod hosts;
pub mod k8s_external;
pub mod kubernetes;
pub mod loadbalance;
pub mod log;
pub mod r#loop;
pub mod minimal;
pub mod prometheus;
pub mod ready;
pub mod registry;
pub mod reload;
pub mod rewrite;
pub mod root;
pub mod template;
pub mod transfer;
pub mod whoami;
