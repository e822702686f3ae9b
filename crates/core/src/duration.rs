//! Durations written and printed the way Go's `time` package does, because Corefiles carry
//! Go durations (`5s`, `1.5h`, `2h45m`, `300ms`) and CoreDNS prints them back in log lines
//! (`3 errors like '...' occurred in last 5m0s`).
//!
//! Every plugin option that takes a duration (`errors` consolidate, `hosts`/`file` reload,
//! `health` lameduck) reads and prints it through this one module.

use std::fmt::Write as _;
use std::time::Duration;

/// Why a duration could not be read; the texts are Go's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("time: invalid duration \"{0}\"")]
    Invalid(String),
    #[error("time: missing unit in duration \"{0}\"")]
    MissingUnit(String),
    #[error("time: unknown unit \"{unit}\" in duration \"{text}\"")]
    UnknownUnit { unit: String, text: String },
}

/// Nanoseconds per unit, as Go's `unitMap`.
fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Parses a Go duration (`[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or a bare `0`) into signed
/// nanoseconds, with Go's overflow limits and error texts.
pub fn parse(text: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(text.to_string());
    let mut s = text;
    let mut neg = false;
    if let Some(c) = s.chars().next() {
        if c == '-' || c == '+' {
            neg = c == '-';
            s = &s[1..];
        }
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part.
        let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &b[..digits] {
            v = v
                .checked_mul(10)
                .and_then(|x| x.checked_add(u64::from(c - b'0')))
                .filter(|&x| x <= LIMIT)
                .ok_or_else(invalid)?;
        }
        let pre = digits > 0;
        s = &s[digits..];
        // Fraction part: digits past what fits are read but ignored, like Go.
        let mut frac: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if s.starts_with('.') {
            s = &s[1..];
            let fdigits = s.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for c in s[..fdigits].bytes() {
                if overflow {
                    continue;
                }
                match frac
                    .checked_mul(10)
                    .and_then(|x| x.checked_add(u64::from(c - b'0')))
                    .filter(|&x| x <= LIMIT)
                {
                    Some(x) => {
                        frac = x;
                        scale *= 10.0;
                    }
                    None => overflow = true,
                }
            }
            post = fdigits > 0;
            s = &s[fdigits..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        // Unit.
        let ulen = s
            .char_indices()
            .find(|&(_, c)| c == '.' || c.is_ascii_digit())
            .map_or(s.len(), |(i, _)| i);
        if ulen == 0 {
            return Err(DurationError::MissingUnit(text.to_string()));
        }
        let unit = &s[..ulen];
        s = &s[ulen..];
        let per = unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit {
            unit: unit.to_string(),
            text: text.to_string(),
        })?;
        if v > LIMIT / per {
            return Err(invalid());
        }
        v *= per;
        if frac > 0 {
            // Go converts through float64 here as well.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let extra = (frac as f64 * (per as f64 / scale)) as u64;
            v = v
                .checked_add(extra)
                .filter(|&x| x <= LIMIT)
                .ok_or_else(invalid)?;
        }
        total = total
            .checked_add(v)
            .filter(|&x| x <= LIMIT)
            .ok_or_else(invalid)?;
    }
    if neg {
        // -(1<<63) is representable.
        return Ok(0i64.wrapping_sub_unsigned(total));
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// Parses a Go duration that must not be negative.
pub fn parse_std(text: &str) -> Result<Option<Duration>, DurationError> {
    let n = parse(text)?;
    Ok(u64::try_from(n).ok().map(Duration::from_nanos))
}

/// Prints nanoseconds like Go's `Duration.String`: `0s`, `1.5µs`, `300ms`, `30s`, `5m0s`,
/// `1h0m0s`, `-2.5s`.
pub fn format(nanos: i64) -> String {
    let mut out = String::new();
    if nanos < 0 {
        out.push('-');
    }
    let u = nanos.unsigned_abs();
    if u < 1_000_000_000 {
        match u {
            0 => return "0s".to_string(),
            1..=999 => {
                let _ = write!(out, "{u}ns");
            }
            1_000..=999_999 => {
                push_frac(&mut out, u, 3);
                out.push_str("\u{b5}s");
            }
            _ => {
                push_frac(&mut out, u, 6);
                out.push_str("ms");
            }
        }
        return out;
    }
    let secs = u / 1_000_000_000;
    let mins = secs / 60;
    let hours = mins / 60;
    if hours > 0 {
        let _ = write!(out, "{hours}h");
    }
    if mins > 0 {
        let _ = write!(out, "{}m", mins % 60);
    }
    push_frac(&mut out, (secs % 60) * 1_000_000_000 + u % 1_000_000_000, 9);
    out.push('s');
    out
}

/// Format of a [`Duration`] (saturating at Go's limit).
pub fn format_std(d: Duration) -> String {
    format(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Writes `v / 10^prec`, then the remaining digits as a fraction without trailing zeros.
fn push_frac(out: &mut String, v: u64, prec: u32) {
    let p = 10u64.pow(prec);
    let _ = write!(out, "{}", v / p);
    let mut frac = v % p;
    if frac == 0 {
        return;
    }
    let mut width = prec as usize;
    while frac.is_multiple_of(10) {
        frac /= 10;
        width -= 1;
    }
    let _ = write!(out, ".{frac:0width$}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        for (text, nanos) in [
            ("0", 0),
            ("5s", 5_000_000_000),
            ("+5s", 5_000_000_000),
            ("-5s", -5_000_000_000),
            ("300ms", 300_000_000),
            ("1.5h", 5_400_000_000_000),
            ("2h45m", 9_900_000_000_000),
            ("1h1m1s1ms1us1ns", 3_661_001_001_001),
            ("1\u{b5}s", 1_000),
            ("1\u{3bc}s", 1_000),
            (".5s", 500_000_000),
            ("1.s", 1_000_000_000),
            ("0s", 0),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
        ] {
            assert_eq!(parse(text), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn rejects_like_go() {
        for (text, msg) in [
            ("", "time: invalid duration \"\""),
            ("1", "time: missing unit in duration \"1\""),
            ("5x", "time: unknown unit \"x\" in duration \"5x\""),
            ("s", "time: invalid duration \"s\""),
            (".s", "time: invalid duration \".s\""),
            ("-", "time: invalid duration \"-\""),
            (
                "9223372036854775808ns",
                "time: invalid duration \"9223372036854775808ns\"",
            ),
            ("3000000h", "time: invalid duration \"3000000h\""),
        ] {
            assert_eq!(parse(text).unwrap_err().to_string(), msg, "{text}");
        }
    }

    #[test]
    fn formats_like_go() {
        for (nanos, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1\u{b5}s"),
            (2_200_000, "2.2ms"),
            (300_000_000, "300ms"),
            (1_000_000_000, "1s"),
            (1_500_000_000, "1.5s"),
            (30_000_000_000, "30s"),
            (300_000_000_000, "5m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (9_900_000_000_000, "2h45m0s"),
            (3_661_001_000_000, "1h1m1.001s"),
            (-2_500_000_000, "-2.5s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ] {
            assert_eq!(format(nanos), text, "{nanos}");
        }
        assert_eq!(parse_std("-1s"), Ok(None));
        assert_eq!(format_std(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn go_forms_parse_with_sign_and_fractions() {
        let ms = |v: i64| v * 1_000_000;
        for (text, want) in [
            ("0", 0),
            ("1s", ms(1000)),
            ("500ms", ms(500)),
            ("1m30s", ms(90_000)),
            ("1.5h", ms(5_400_000)),
            (".5s", ms(500)),
            ("1.s", ms(1000)),
            ("-2s", -ms(2000)),
            ("+2s", ms(2000)),
            ("1500us", 1_500_000),
            ("1\u{b5}s", 1_000),
            ("7ns", 7),
        ] {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
        assert_eq!(parse("5"), Err(DurationError::MissingUnit("5".into())));
        assert_eq!(
            parse("5d"),
            Err(DurationError::UnknownUnit {
                unit: "d".into(),
                text: "5d".into()
            })
        );
        for bad in ["", "-", "s", ".s", "1s.", "soon"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn std_durations_print_like_go() {
        for (d, want) in [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(999), "999ns"),
            (Duration::from_nanos(1500), "1.5\u{b5}s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_micros(1_250), "1.25ms"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_secs(3661), "1h1m1s"),
        ] {
            assert_eq!(format_std(d), want);
        }
    }
}
