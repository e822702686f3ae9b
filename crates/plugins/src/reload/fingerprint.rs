//! The configuration hash the `reload` plugin compares, logs and exports: SHA-512 over the
//! parsed Corefile, as CoreDNS hashes its parsed server blocks.
//!
//! What is hashed is the structure and the token texts after imports, snippets and
//! environment variables were expanded: server block keys, directive names, arguments and
//! nested blocks, each length-prefixed so that no two different configurations serialise to
//! the same bytes. Comments, whitespace, quoting, line numbers and file names are left out,
//! so an edit that does not change the configuration never triggers a reload, while an edit
//! in an imported file does.

use cairn_corefile::{Corefile, Directive};
use ring::digest::{Context, SHA512};

/// Feeds a canonical serialisation of the configuration into SHA-512.
struct Canonical(Context);

impl Canonical {
    fn num(&mut self, n: usize) {
        self.0.update(&(n as u64).to_le_bytes());
    }

    fn text(&mut self, s: &str) {
        self.num(s.len());
        self.0.update(s.as_bytes());
    }

    fn directive(&mut self, d: &Directive) {
        self.text(&d.name.text);
        self.num(d.args.len());
        for a in &d.args {
            self.text(&a.text);
        }
        self.0.update(&[u8::from(d.has_block)]);
        self.num(d.block.len());
        for nested in &d.block {
            self.directive(nested);
        }
    }
}

/// The SHA-512 of `corefile`'s configuration, as 128 lower-case hex digits.
pub fn sha512_hex(corefile: &Corefile) -> String {
    let mut c = Canonical(Context::new(&SHA512));
    c.num(corefile.blocks.len());
    for block in &corefile.blocks {
        c.num(block.keys.len());
        for key in &block.keys {
            c.text(&key.text);
        }
        c.num(block.directives.len());
        for d in &block.directives {
            c.directive(d);
        }
    }
    hex(c.0.finish().as_ref())
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
