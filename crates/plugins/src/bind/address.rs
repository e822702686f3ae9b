//! What `bind` accepts as an address: an IP address, or something that can be a network
//! interface name. Whether the interface exists is checked when the server opens its sockets.

use std::net::IpAddr;

/// Longest interface name Linux allows (IFNAMSIZ - 1).
const MAX_IFACE_LEN: usize = 15;

/// Why an argument is neither an IP address nor an interface name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid IP address or interface name: \"{0}\"")]
pub struct NotAnAddress(pub String);

/// Accepts an IP address or a plausible interface name.
pub fn check(item: &str) -> Result<(), NotAnAddress> {
    if item.parse::<IpAddr>().is_ok() || is_interface_name(item) {
        Ok(())
    } else {
        Err(NotAnAddress(item.to_string()))
    }
}

/// 1 to 15 characters from `[A-Za-z0-9._-]`, not `.` or `..`, and not digits and dots only
/// with a dot (that is a mistyped IPv4 address such as `10.0.0.300`, not an interface).
fn is_interface_name(s: &str) -> bool {
    let charset_ok = (1..=MAX_IFACE_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    let dotted_digits = s.contains('.') && s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    charset_ok && !dotted_digits && s != "." && s != ".."
}
