//! The configuration hash the `reload` plugin compares, logs and exports: SHA-512 over the
//! parsed Corefile, as CoreDNS hashes its parsed server blocks.
//!
//! What is hashed is the structure and the token texts after imports, snippets and
//! environment variables were expanded: server block keys, directive names, arguments and
//! nested blocks, each length-prefixed (the Corefile's canonical form, also behind its
//! `digest`). Comments, whitespace, quoting, line numbers and file names are left out,
//! so an edit that does not change the configuration never triggers a reload, while an edit
//! in an imported file does.

use cairn_corefile::Corefile;
use ring::digest::{Context, SHA512};

/// The SHA-512 of `corefile`'s configuration ([`Corefile::write_canonical`]), as 128
/// lower-case hex digits.
pub fn sha512_hex(corefile: &Corefile) -> String {
    let mut c = Context::new(&SHA512);
    corefile.write_canonical(&mut |bytes| c.update(bytes));
    hex(c.finish().as_ref())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}
