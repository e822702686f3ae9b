//! Environment variable references inside tokens.
//!
//! Corefiles are often templated by the environment (`.:{$PORT}`, `forward . {$UPSTREAM}`),
//! so every key, directive name, argument and import pattern goes through [`substitute`]
//! before use. Two spellings exist: `{%NAME%}` (handled first, over the whole token) and
//! `{$NAME}` (handled second, over the result). An unset variable becomes the empty string;
//! there is no default-value syntax; an opening `{$`/`{%` with no terminator is left as it is.
//!
//! Unlike Caddy, a substituted value is not scanned again for references of the same
//! spelling, so a variable whose value mentions itself cannot loop, and an empty reference
//! (`{$}`) is kept literally instead of stopping substitution for the rest of the token.
//! The template plugin quirk is preserved: `{{$var}}` loses `{$var}` and becomes `{}`.

/// Replaces both reference spellings in `s` using `lookup` (None = unset = empty).
pub(crate) fn substitute(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let once = replace_refs(s, "{%", "%}", lookup);
    replace_refs(&once, "{$", "}", lookup)
}

fn replace_refs(
    s: &str,
    open: &str,
    close: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> String {
    if !s.contains(open) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find(open) {
        let after = &rest[start + open.len()..];
        match after.find(close) {
            None => break,
            Some(0) => {
                // Empty name: keep the opener literally and go on after it.
                out.push_str(&rest[..start + open.len()]);
                rest = after;
            }
            Some(end) => {
                out.push_str(&rest[..start]);
                if let Some(v) = lookup(&after[..end]) {
                    out.push_str(&v);
                }
                rest = &after[end + close.len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The process environment, tolerant of names the OS cannot hold.
pub(crate) fn process_env(name: &str) -> Option<String> {
    if name.is_empty() || name.contains(['=', '\0']) {
        return None;
    }
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "P" => Some("53".into()),
            "SELF" => Some("{$SELF}".into()),
            "DOLLAR" => Some("{$A}".into()),
            _ => None,
        }
    }

    #[test]
    fn table() {
        let cases = [
            ("plain", "plain"),
            ("{$A}", "alpha"),
            ("{%A%}", "alpha"),
            ("x{$A}y{$A}z", "xalphayalphaz"),
            (".:{$P}", ".:53"),
            ("{$UNSET}", ""),
            ("a{$UNSET}b", "ab"),
            ("{$A", "{$A"),
            ("{%A", "{%A"),
            ("{%A}", "{%A}"),
            ("{$}", "{$}"),
            ("{$}{$A}", "{$}alpha"),
            ("{{$var}}", "{}"),
            ("{{ $var }}", "{{ $var }}"),
            ("{$A:-default}", ""),
            // {%..%} first, then {$..} over the result.
            ("{%DOLLAR%}", "alpha"),
            // No re-expansion of a {$..} value.
            ("{$SELF}", "{$SELF}"),
            ("{$DOLLAR}", "{$A}"),
            ("{$a=b}", ""),
        ];
        for (input, want) in cases {
            assert_eq!(substitute(input, &env), want, "input {input:?}");
        }
    }

    #[test]
    fn process_env_rejects_bad_names() {
        assert_eq!(process_env(""), None);
        assert_eq!(process_env("A=B"), None);
        assert_eq!(process_env("A\0B"), None);
    }
}
