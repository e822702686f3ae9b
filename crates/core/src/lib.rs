//! `cairn-core`: what every Cairn plugin and the server share.
//!
//! - [`wire`]: the DNS wire format (names, records, messages, encoder).
//! - [`request`]: one query as it travels the chain.
//! - [`plugin`]: the plugin seam ([`Plugin`], [`Next`], [`Served`]) and the chain.
//! - [`setup`]: what a plugin's setup function gets to register handlers and services.
//! - [`config_source`]: where the configuration comes from and the one way to reload it.
//! - [`zones`]: zone matching and `fallthrough`.
//! - [`metrics`]: the process-wide metrics registry and Prometheus text exposition.
//! - [`log`]: log lines in CoreDNS's format (`[INFO] plugin/reload: ...`).

pub mod config_source;
pub mod dns_labels;
pub mod duration;
pub mod log;
pub mod metrics;
pub mod plugin;
pub mod random;
pub mod request;
pub mod resolve;
pub mod setup;
pub mod testing;
pub mod wire;
pub mod zones;

pub use arc_swap;
pub use plugin::{AutoPather, Chain, Next, Plugin, PluginError, ServeResult, Served, Transferer};
pub use request::{Proto, Request};
pub use setup::{SetupCtx, SetupError};
