//! Go's `strconv.ParseUint`, with its error texts: CoreDNS parses rewrite's EDNS0 codes and
//! subnet masks with it and exposes it to templates as `parseInt`
//! (`{{ parseInt .Group.b 16 8 }}`).

/// Parses `s` in `base` (0: from the prefix, `0x`, `0o`, `0b`, leading `0`; else 2 to 36)
/// into at most `bits` bits (0: 64).
pub fn parse_uint(s: &str, base: i64, bits: i64) -> Result<u64, String> {
    let syntax = || format!("strconv.ParseUint: parsing {s:?}: invalid syntax");
    if s.is_empty() {
        return Err(syntax());
    }
    let bits = match bits {
        0 => 64,
        1..=64 => bits as u32,
        _ => {
            return Err(format!(
                "strconv.ParseUint: parsing {s:?}: invalid bit size {bits}"
            ))
        }
    };
    let (digits, radix, underscores) = match base {
        0 => {
            let lower = s.get(..2).map(str::to_ascii_lowercase);
            match lower.as_deref() {
                Some("0x") => (&s[2..], 16, true),
                Some("0o") => (&s[2..], 8, true),
                Some("0b") => (&s[2..], 2, true),
                _ if s.len() > 1 && s.starts_with('0') => (&s[1..], 8, true),
                _ => (s, 10, true),
            }
        }
        2..=36 => (s, base as u32, false),
        _ => {
            return Err(format!(
                "strconv.ParseUint: parsing {s:?}: invalid base {base}"
            ))
        }
    };
    if digits.is_empty() {
        return Err(syntax());
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    let mut prev_underscore = true;
    for c in digits.chars() {
        if c == '_' && underscores {
            if prev_underscore && !(base == 0 && s.len() > digits.len() && value == 0) {
                return Err(syntax());
            }
            prev_underscore = true;
            continue;
        }
        prev_underscore = false;
        let d = c.to_digit(radix).ok_or_else(syntax)?;
        match value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    if prev_underscore && digits.ends_with('_') {
        return Err(syntax());
    }
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    if overflow || value > max {
        return Err(format!(
            "strconv.ParseUint: parsing {s:?}: value out of range"
        ));
    }
    Ok(value)
}
