//! Names as text, the way CoreDNS's rewrite rules see them.
//!
//! CoreDNS matches and rewrites the presentation form of names (`www.example.org.`) with
//! plain string operations: a `suffix` rule cuts a string suffix, not a label suffix, and a
//! `substring` rule may cut through labels. To give the same answers, rules here work on the
//! same text. [`TextBuf`] holds it on the stack (the longest name needs under 1 KiB even with
//! every byte escaped), so matching and rewriting a name costs no allocation.

use std::fmt::{self, Write as _};

use cairn_core::wire::name::write_presentation;
use cairn_core::wire::{Name, NameBuf};

/// Room for any name in presentation form, and for rewrites that grow it a little.
const CAP: usize = 1024;

/// A fixed-capacity text buffer (ASCII in practice: presentation form escapes the rest).
#[derive(Clone)]
pub struct TextBuf {
    buf: [u8; CAP],
    len: usize,
}

impl Default for TextBuf {
    fn default() -> Self {
        TextBuf::new()
    }
}

impl TextBuf {
    pub const fn new() -> TextBuf {
        TextBuf {
            buf: [0; CAP],
            len: 0,
        }
    }

    /// The presentation form of a wire name, lower-cased when `lower` is set.
    pub fn of_wire(wire: &[u8], lower: bool) -> TextBuf {
        let mut t = TextBuf::new();
        if lower {
            let mut l = NameBuf::new();
            l.set_wire_lowercase(wire);
            let _ = write_presentation(l.wire(), &mut t);
        } else {
            let _ = write_presentation(wire, &mut t);
        }
        t
    }

    pub fn as_str(&self) -> &str {
        // Only `&str` pieces are ever written, cut at char boundaries.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends text; `Err` when it does not fit.
    pub fn push(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > CAP {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }

    /// The text as a name (a name without a final dot counts as fully qualified); `None`
    /// when it is not a valid name.
    pub fn to_name(&self) -> Option<Name> {
        let mut b = NameBuf::new();
        b.push_text(self.as_str(), None).ok()?;
        Some(b.to_name())
    }
}

impl fmt::Write for TextBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s)
    }
}

impl fmt::Debug for TextBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Appends `text` with every occurrence of `from` replaced by `to` (Go's `strings.ReplaceAll`
/// for a non-empty `from`).
pub fn replace_all(out: &mut TextBuf, text: &str, from: &str, to: &str) -> fmt::Result {
    let mut rest = text;
    while let Some(i) = rest.find(from) {
        out.push(&rest[..i])?;
        out.push(to)?;
        rest = &rest[i + from.len()..];
    }
    out.push(rest)
}

/// Appends `template` with `{N}` replaced by the text of capture group N (empty for a group
/// that did not take part); `{N}` past the last group stays as written, as in CoreDNS.
pub fn expand_groups(
    out: &mut TextBuf,
    template: &str,
    text: &str,
    groups: &regex::Captures<'_>,
) -> fmt::Result {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push(&rest[..open])?;
        let after = &rest[open + 1..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let index = (digits > 0 && after.as_bytes().get(digits) == Some(&b'}'))
            .then(|| after[..digits].parse::<usize>().ok())
            .flatten()
            .filter(|&i| i < groups.len());
        match index {
            Some(i) => {
                if let Some(m) = groups.get(i) {
                    out.push(&text[m.range()])?;
                }
                rest = &after[digits + 1..];
            }
            None => {
                out.push("{")?;
                rest = after;
            }
        }
    }
    out.push(rest)
}

/// How many different `{0}`..`{100}` references `s` makes (CoreDNS's check that a
/// replacement uses no more groups than its pattern has).
pub fn group_references(s: &str) -> usize {
    (0..=100)
        .filter(|i| {
            let mut probe = TextBuf::new();
            let _ = write!(probe, "{{{i}}}");
            s.contains(probe.as_str())
        })
        .count()
}

/// CoreDNS's `plugin.Name(s).Normalize()`: lower case and a final dot.
pub fn normalize(s: &str) -> String {
    let mut out = s.to_ascii_lowercase();
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}
