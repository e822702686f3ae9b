//! Domain names in uncompressed wire form.
//!
//! A name is kept as its wire bytes (length-prefixed labels ending in the root label) because
//! that is what the hot path compares, hashes and writes. Short names live inline so that
//! building an answer for a typical cluster name never touches the heap; long names share an
//! `Arc` so that cloning a record out of a zone is a reference-count bump.
//!
//! Case is preserved: DNS compares names case-insensitively, but answers echo the case they
//! were asked in. Lookup tables key on [`Name::to_lowercase`] bytes.

use std::fmt;
use std::sync::Arc;

/// Longest wire name allowed by RFC 1035 (including the root label).
pub const MAX_NAME_LEN: usize = 255;
/// Longest label allowed by RFC 1035.
pub const MAX_LABEL_LEN: usize = 63;
/// Names up to this many wire bytes are stored without a heap allocation.
const INLINE_CAP: usize = 86;

/// Why a name could not be read or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("label longer than 63 bytes")]
    LabelTooLong,
    #[error("name longer than 255 bytes")]
    NameTooLong,
    #[error("empty label")]
    EmptyLabel,
    #[error("bad escape sequence")]
    BadEscape,
    #[error("name runs past the end of the message")]
    Truncated,
    #[error("bad compression pointer")]
    BadPointer,
    #[error("reserved label type")]
    BadLabelType,
    #[error("relative name without an origin")]
    Relative,
}

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE_CAP] },
    Shared(Arc<[u8]>),
}

/// A validated domain name in uncompressed wire form.
#[derive(Clone)]
pub struct Name(Repr);

impl Name {
    /// The root name `.`.
    pub fn root() -> Self {
        Self::from_wire_unchecked(&[0])
    }

    /// Builds a name from bytes already known to be a valid uncompressed wire name.
    pub(crate) fn from_wire_unchecked(wire: &[u8]) -> Self {
        debug_assert!(validate_wire(wire).is_ok());
        if wire.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[..wire.len()].copy_from_slice(wire);
            Name(Repr::Inline {
                len: wire.len() as u8,
                buf,
            })
        } else {
            Name(Repr::Shared(Arc::from(wire)))
        }
    }

    /// Builds a name from uncompressed wire bytes, validating them.
    pub fn from_wire(wire: &[u8]) -> Result<Self, NameError> {
        validate_wire(wire)?;
        Ok(Self::from_wire_unchecked(wire))
    }

    /// Parses a name in presentation format (`www.example.org.`, escapes `\.` and `\DDD`).
    /// A name without a trailing dot is relative and gets `origin` appended; without an
    /// origin it is taken as fully qualified (the Corefile convention).
    pub fn parse(text: &str, origin: Option<&Name>) -> Result<Self, NameError> {
        let mut buf = NameBuf::new();
        buf.push_text(text, origin)?;
        Ok(buf.to_name())
    }

    /// The uncompressed wire bytes.
    #[inline]
    pub fn wire(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..*len as usize],
            Repr::Shared(bytes) => bytes,
        }
    }

    /// True for the root name.
    pub fn is_root(&self) -> bool {
        self.wire() == [0]
    }

    /// Iterates over the labels, leftmost first, without the root label.
    pub fn labels(&self) -> Labels<'_> {
        Labels { wire: self.wire() }
    }

    /// Number of labels, not counting the root.
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// The name with its leftmost label removed; `None` for the root.
    pub fn parent(&self) -> Option<Name> {
        parent_wire(self.wire()).map(Self::from_wire_unchecked)
    }

    /// True when `self` equals `zone` or lies below it (case-insensitive).
    pub fn is_subdomain_of(&self, zone: &Name) -> bool {
        is_subdomain_wire(self.wire(), zone.wire())
    }

    /// Case-insensitive equality.
    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.wire().eq_ignore_ascii_case(other.wire())
    }

    /// The same name in lower case.
    pub fn to_lowercase(&self) -> Name {
        let mut buf = NameBuf::new();
        buf.set_wire_lowercase(self.wire());
        buf.to_name()
    }

    /// Prepends one label (`label` + `.` + self).
    pub fn prepend_label(&self, label: &[u8]) -> Result<Name, NameError> {
        let mut buf = NameBuf::new();
        buf.push_label(label)?;
        buf.append_wire(self.wire())?;
        Ok(buf.to_name())
    }

    /// Replaces the suffix `from` by `to` (both case-insensitive on match).
    /// Returns `None` when `self` is not under `from`.
    pub fn replace_suffix(&self, from: &Name, to: &Name) -> Option<Result<Name, NameError>> {
        if !self.is_subdomain_of(from) {
            return None;
        }
        let keep = self.wire().len() - from.wire().len();
        let mut buf = NameBuf::new();
        Some(
            buf.append_raw(&self.wire()[..keep])
                .and_then(|()| buf.append_wire(to.wire()))
                .map(|()| buf.to_name()),
        )
    }
}

impl PartialEq for Name {
    /// Exact (case-sensitive) byte equality; use [`Name::eq_ignore_case`] for DNS semantics.
    fn eq(&self, other: &Self) -> bool {
        self.wire() == other.wire()
    }
}
impl Eq for Name {}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.wire().hash(state);
    }
}

impl std::borrow::Borrow<[u8]> for Name {
    fn borrow(&self) -> &[u8] {
        self.wire()
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_presentation(self.wire(), f)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

impl std::str::FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Name::parse(s, None)
    }
}

/// Writes a wire name in presentation format with RFC 4343 escapes.
pub fn write_presentation(wire: &[u8], f: &mut impl fmt::Write) -> fmt::Result {
    if wire == [0] {
        return f.write_char('.');
    }
    for label in (Labels { wire }) {
        for &b in label {
            match b {
                b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                    f.write_char('\\')?;
                    f.write_char(b as char)?;
                }
                0x21..=0x7e => f.write_char(b as char)?,
                _ => write!(f, "\\{b:03}")?,
            }
        }
        f.write_char('.')?;
    }
    Ok(())
}

/// Iterator over the labels of a wire name.
pub struct Labels<'a> {
    wire: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = *self.wire.first()? as usize;
        if len == 0 {
            return None;
        }
        let label = &self.wire[1..1 + len];
        self.wire = &self.wire[1 + len..];
        Some(label)
    }
}

/// The wire bytes of the parent of a wire name (`None` for the root).
pub fn parent_wire(wire: &[u8]) -> Option<&[u8]> {
    let len = *wire.first()? as usize;
    if len == 0 {
        None
    } else {
        Some(&wire[1 + len..])
    }
}

/// True when `name` equals `zone` or lies below it, comparing case-insensitively and on
/// label boundaries.
pub fn is_subdomain_wire(name: &[u8], zone: &[u8]) -> bool {
    if zone.len() > name.len() {
        return false;
    }
    let mut rest = name;
    loop {
        if rest.len() == zone.len() {
            return rest.eq_ignore_ascii_case(zone);
        }
        match parent_wire(rest) {
            Some(p) if p.len() >= zone.len() => rest = p,
            _ => return false,
        }
    }
}

/// Checks that `wire` is exactly one valid uncompressed name.
pub fn validate_wire(wire: &[u8]) -> Result<(), NameError> {
    if wire.len() > MAX_NAME_LEN {
        return Err(NameError::NameTooLong);
    }
    let mut pos = 0;
    loop {
        let len = *wire.get(pos).ok_or(NameError::Truncated)? as usize;
        if len == 0 {
            return if pos + 1 == wire.len() {
                Ok(())
            } else {
                Err(NameError::Truncated)
            };
        }
        if len > MAX_LABEL_LEN {
            return Err(NameError::BadLabelType);
        }
        pos += 1 + len;
    }
}

/// A fixed-size buffer for building one name without the heap (used per query).
#[derive(Clone)]
pub struct NameBuf {
    len: u8,
    buf: [u8; MAX_NAME_LEN],
}

impl Default for NameBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl NameBuf {
    /// An empty buffer (not yet a name: push labels, then the root via `append_wire`).
    pub const fn new() -> Self {
        NameBuf {
            len: 0,
            buf: [0; MAX_NAME_LEN],
        }
    }

    /// The bytes written so far (a full wire name once the root label is in).
    #[inline]
    pub fn wire(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    /// Empties the buffer.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Copies a complete wire name in, lower-casing it.
    pub fn set_wire_lowercase(&mut self, wire: &[u8]) {
        let n = wire.len().min(MAX_NAME_LEN);
        for (dst, src) in self.buf[..n].iter_mut().zip(wire) {
            *dst = src.to_ascii_lowercase();
        }
        self.len = n as u8;
    }

    /// Copies a complete wire name in unchanged.
    pub fn set_wire(&mut self, wire: &[u8]) {
        let n = wire.len().min(MAX_NAME_LEN);
        self.buf[..n].copy_from_slice(&wire[..n]);
        self.len = n as u8;
    }

    fn append_raw(&mut self, bytes: &[u8]) -> Result<(), NameError> {
        let start = self.len as usize;
        let end = start + bytes.len();
        if end > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        self.buf[start..end].copy_from_slice(bytes);
        self.len = end as u8;
        Ok(())
    }

    /// Appends one label.
    pub fn push_label(&mut self, label: &[u8]) -> Result<(), NameError> {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong);
        }
        // Keep room for the root label that must still follow.
        if self.len as usize + 1 + label.len() + 1 > MAX_NAME_LEN {
            return Err(NameError::NameTooLong);
        }
        self.append_raw(&[label.len() as u8])?;
        self.append_raw(label)
    }

    /// Appends a complete wire name (ending in the root label).
    pub fn append_wire(&mut self, wire: &[u8]) -> Result<(), NameError> {
        self.append_raw(wire)
    }

    /// Appends a presentation-format name; relative names get `origin`.
    pub fn push_text(&mut self, text: &str, origin: Option<&Name>) -> Result<(), NameError> {
        let bytes = text.as_bytes();
        if bytes == b"." {
            return self.append_raw(&[0]);
        }
        let mut label = [0u8; MAX_LABEL_LEN + 1];
        let mut label_len = 0usize;
        let mut i = 0;
        let mut absolute = false;
        while i < bytes.len() {
            let b = bytes[i];
            match b {
                b'.' => {
                    self.push_label(&label[..label_len])?;
                    label_len = 0;
                    if i + 1 == bytes.len() {
                        absolute = true;
                    }
                    i += 1;
                    continue;
                }
                b'\\' => {
                    let next = *bytes.get(i + 1).ok_or(NameError::BadEscape)?;
                    let value = if next.is_ascii_digit() {
                        let digits = bytes.get(i + 1..i + 4).ok_or(NameError::BadEscape)?;
                        if !digits.iter().all(u8::is_ascii_digit) {
                            return Err(NameError::BadEscape);
                        }
                        let v = u32::from(digits[0] - b'0') * 100
                            + u32::from(digits[1] - b'0') * 10
                            + u32::from(digits[2] - b'0');
                        i += 4;
                        u8::try_from(v).map_err(|_| NameError::BadEscape)?
                    } else {
                        i += 2;
                        next
                    };
                    if label_len > MAX_LABEL_LEN - 1 {
                        return Err(NameError::LabelTooLong);
                    }
                    label[label_len] = value;
                    label_len += 1;
                    continue;
                }
                _ => {
                    if label_len > MAX_LABEL_LEN - 1 {
                        return Err(NameError::LabelTooLong);
                    }
                    label[label_len] = b;
                    label_len += 1;
                }
            }
            i += 1;
        }
        if label_len > 0 {
            self.push_label(&label[..label_len])?;
        } else if !absolute {
            return Err(NameError::EmptyLabel);
        }
        if absolute {
            self.append_raw(&[0])
        } else {
            match origin {
                Some(o) => self.append_wire(o.wire()),
                None => self.append_raw(&[0]),
            }
        }
    }

    /// Copies the buffer into a [`Name`].
    pub fn to_name(&self) -> Name {
        Name::from_wire_unchecked(self.wire())
    }
}

impl fmt::Display for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_presentation(self.wire(), f)
    }
}

impl fmt::Debug for NameBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameBuf({self})")
    }
}

/// Reads a possibly compressed name from `msg` starting at `pos` into `out`.
/// Returns the position just after the name in the original (uncompressed) stream.
/// Pointers must point strictly backwards, which also rules out loops.
pub fn read_name(msg: &[u8], mut pos: usize, out: &mut NameBuf) -> Result<usize, NameError> {
    out.clear();
    let mut end_after: Option<usize> = None;
    let mut limit = pos; // a pointer must point before the start of the label it replaces
    loop {
        let len = *msg.get(pos).ok_or(NameError::Truncated)?;
        match len & 0xC0 {
            0x00 => {
                let len = len as usize;
                if len == 0 {
                    out.append_raw(&[0])?;
                    return Ok(end_after.unwrap_or(pos + 1));
                }
                let label = msg
                    .get(pos + 1..pos + 1 + len)
                    .ok_or(NameError::Truncated)?;
                if out.len as usize + 1 + len + 1 > MAX_NAME_LEN {
                    return Err(NameError::NameTooLong);
                }
                out.append_raw(&[len as u8])?;
                out.append_raw(label)?;
                pos += 1 + len;
            }
            0xC0 => {
                let low = *msg.get(pos + 1).ok_or(NameError::Truncated)?;
                let target = (usize::from(len & 0x3F) << 8) | usize::from(low);
                if target >= limit {
                    return Err(NameError::BadPointer);
                }
                if end_after.is_none() {
                    end_after = Some(pos + 2);
                }
                limit = target;
                pos = target;
            }
            _ => return Err(NameError::BadLabelType),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for text in ["example.org.", ".", "a.b.c.", "x\\.y.org.", "\\000.org."] {
            let n = Name::parse(text, None).unwrap();
            assert_eq!(n.to_string(), text);
        }
    }

    #[test]
    fn relative_names_take_origin() {
        let origin = Name::parse("example.org.", None).unwrap();
        let n = Name::parse("www", Some(&origin)).unwrap();
        assert_eq!(n.to_string(), "www.example.org.");
    }

    #[test]
    fn bad_names_are_rejected() {
        assert_eq!(
            Name::parse("a..b.", None).unwrap_err(),
            NameError::EmptyLabel
        );
        let long = "a".repeat(64);
        assert_eq!(
            Name::parse(&long, None).unwrap_err(),
            NameError::LabelTooLong
        );
        let many = "abcdefghi.".repeat(26);
        assert_eq!(
            Name::parse(&many, None).unwrap_err(),
            NameError::NameTooLong
        );
    }

    #[test]
    fn subdomain_respects_label_boundaries() {
        let zone = Name::parse("example.org.", None).unwrap();
        assert!(Name::parse("a.EXAMPLE.org.", None)
            .unwrap()
            .is_subdomain_of(&zone));
        assert!(Name::parse("example.org.", None)
            .unwrap()
            .is_subdomain_of(&zone));
        assert!(!Name::parse("badexample.org.", None)
            .unwrap()
            .is_subdomain_of(&zone));
        assert!(!Name::parse("org.", None).unwrap().is_subdomain_of(&zone));
        assert!(zone.is_subdomain_of(&Name::root()));
    }

    #[test]
    fn long_names_are_shared_and_equal() {
        let text = format!("{}.example.org.", "a".repeat(60)) + &"b.".repeat(20);
        let n = Name::parse(&text, None).unwrap();
        assert!(matches!(n.0, Repr::Shared(_)));
        assert_eq!(n.clone(), n);
        assert_eq!(n.to_string(), text);
    }

    #[test]
    fn compression_pointers_must_point_backwards() {
        // header (12 bytes) then a pointer to itself at 12
        let mut msg = vec![0u8; 12];
        msg.extend_from_slice(&[0xC0, 12]);
        let mut out = NameBuf::new();
        assert_eq!(read_name(&msg, 12, &mut out), Err(NameError::BadPointer));
        // forward pointer
        let mut msg = vec![0u8; 12];
        msg.extend_from_slice(&[0xC0, 14, 0]);
        assert_eq!(read_name(&msg, 12, &mut out), Err(NameError::BadPointer));
        // valid backward pointer
        let mut msg = vec![0u8; 12];
        msg.extend_from_slice(&[1, b'a', 0, 1, b'b', 0xC0, 12]);
        assert_eq!(read_name(&msg, 15, &mut out), Ok(19));
        assert_eq!(out.to_string(), "b.a.");
    }
}
