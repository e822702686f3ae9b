//! HTTP endpoint addresses shared by `health`, `ready` and `prometheus`.
//!
//! The three plugins take a listen address as written in the Corefile (`:8080`,
//! `localhost:9153`, `[::1]:8181`, `127.0.0.1:0`). The server binds it later; checking its
//! shape at setup lets a typo fail with the Corefile line instead of a bind error.
//!
//! Several server blocks may name the same address. The server keeps only the first route
//! for an address and path, but asking twice is still a wart, so each plugin asks
//! [`first_route`] whether this instance already registered that address and path.

use std::sync::{Mutex, Weak};

use cairn_core::setup::{Readiness, SetupCtx};
use cairn_corefile::Token;

use cairn_core::SetupError;

/// Why an address is not `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("address {0}: missing port in address")]
    MissingPort(String),
    #[error("address {0}: too many colons in address")]
    TooManyColons(String),
    #[error("address {0}: missing ']' in address")]
    MissingBracket(String),
    #[error("address {0}: '{1}' is not an IPv6 address")]
    BadIpv6(String, String),
    #[error("address {0}: invalid port '{1}' (want a number 0-65535)")]
    BadPort(String, String),
}

/// Splits `host:port` the way Go's `net.SplitHostPort` does (IPv6 hosts in brackets) and
/// requires a numeric port. Returns the host (possibly empty) and the port.
pub fn split_host_port(addr: &str) -> Result<(&str, u16), AddressError> {
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return Err(AddressError::MissingBracket(addr.to_string()));
        };
        let host = &rest[..end];
        let Some(port) = rest[end + 1..].strip_prefix(':') else {
            return Err(AddressError::MissingPort(addr.to_string()));
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(AddressError::BadIpv6(addr.to_string(), host.to_string()));
        }
        (host, port)
    } else {
        let Some((host, port)) = addr.rsplit_once(':') else {
            return Err(AddressError::MissingPort(addr.to_string()));
        };
        if host.contains(':') {
            return Err(AddressError::TooManyColons(addr.to_string()));
        }
        (host, port)
    };
    let port_ok = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    match port.parse::<u16>() {
        Ok(p) if port_ok => Ok((host, p)),
        _ => Err(AddressError::BadPort(addr.to_string(), port.to_string())),
    }
}

/// The listen address of a `health`/`ready`/`prometheus` line: its one argument (checked) or
/// `default`, with the token to blame for bind errors.
pub fn address_arg(
    plugin: &str,
    name: &Token,
    args: &[Token],
    default: &str,
) -> Result<(String, Token), SetupError> {
    match args {
        [] => Ok((default.to_string(), name.clone())),
        [a] => match split_host_port(&a.text) {
            Ok(_) => Ok((a.text.clone(), a.clone())),
            Err(e) => Err(a.error(format!("plugin/{plugin}: {e}"))),
        },
        _ => Err(args[args.len() - 1].error(format!(
            "Wrong argument count or unexpected line ending after '{}'",
            args[args.len() - 1].text
        ))),
    }
}

/// Routes registered so far: (instance, path, address). An instance is identified by its
/// readiness registry, which is unique per instance; the weak reference keeps the allocation
/// (not the instance) alive, so a later instance can never be mistaken for a dead one.
type Routes = Vec<(Weak<Readiness>, &'static str, String)>;

static ROUTES: Mutex<Routes> = Mutex::new(Vec::new());

/// True the first time this instance asks for `path` on `addr`; false afterwards.
pub fn first_route(ctx: &SetupCtx<'_>, path: &'static str, addr: &str) -> bool {
    let instance = std::sync::Arc::downgrade(&ctx.readiness());
    let mut routes = ROUTES.lock().unwrap_or_else(|e| e.into_inner());
    routes.retain(|(w, _, _)| w.strong_count() > 0);
    if routes
        .iter()
        .any(|(w, p, a)| w.ptr_eq(&instance) && *p == path && a == addr)
    {
        return false;
    }
    routes.push((instance, path, addr.to_string()));
    true
}
