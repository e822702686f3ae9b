//! Finding the files an `import PATTERN` line refers to.
//!
//! Imports let operators split a Corefile (for example one file per zone under `conf.d/`).
//! This module turns a pattern into an ordered list of files without any glob crate:
//! relative patterns are resolved against the directory of the file that contains the
//! `import`, and the last path component may hold at most one `*` and at most one `?`
//! (character classes are refused, as CoreDNS does, because big patterns made Caddy hang).
//! Wildcards in directory components are not supported. A glob that matches nothing is not
//! an error (the caller records a warning); a literal file that is missing is. Directories
//! are never importable.
//!
//! Snippets are resolved by the parser before it gets here, so a snippet shadows a file of
//! the same name.

use std::path::{Path, PathBuf};

/// The files an import pattern resolved to.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// Matching files, sorted by name (glob) or the single literal file.
    pub files: Vec<PathBuf>,
    /// True when the pattern had wildcards (an empty `files` is then only a warning).
    pub is_glob: bool,
}

/// Resolves `pattern` (already env-substituted, non-empty) relative to `base_dir`.
/// Errors are plain messages; the caller adds file and line.
pub(crate) fn resolve(base_dir: &Path, pattern: &str) -> Result<Resolved, String> {
    if pattern.contains('[') {
        return Err(format!(
            "Glob pattern may not contain character classes ('['): {pattern}"
        ));
    }
    if pattern.matches('*').count() > 1 || pattern.matches('?').count() > 1 {
        return Err(format!(
            "Glob pattern may only contain one wildcard (*) and one '?', but has others: {pattern}"
        ));
    }
    let joined = absolute(&base_dir.join(pattern));
    let is_glob = pattern.contains(['*', '?']);
    if !is_glob {
        return match std::fs::metadata(&joined) {
            Ok(m) if m.is_dir() => Err(format!(
                "Could not import {}: is a directory",
                joined.display()
            )),
            Ok(_) => Ok(Resolved {
                files: vec![joined],
                is_glob: false,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(format!("File to import not found: {pattern}"))
            }
            Err(e) => Err(format!("Could not import {}: {e}", joined.display())),
        };
    }

    // Split at the last separator of the pattern as written, so that wildcards in the
    // importing file's own directory name are never interpreted.
    let (dir_part, name_part) = match pattern.rfind('/') {
        Some(i) => (&pattern[..=i], &pattern[i + 1..]),
        None => ("", pattern),
    };
    if dir_part.contains(['*', '?']) {
        return Err(format!(
            "Glob wildcards are only supported in the file name, not in directories: {pattern}"
        ));
    }
    if name_part.is_empty() {
        return Err(format!("Import pattern has no file name: {pattern}"));
    }
    let dir = absolute(&base_dir.join(dir_part));
    let mut names: Vec<String> = Vec::new();
    // A directory that cannot be listed simply matches nothing, as with Go's filepath.Glob.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if glob_match(name_part, name) {
                names.push(name.to_owned());
            }
        }
    }
    names.sort();
    let mut files = Vec::with_capacity(names.len());
    for name in names {
        let path = dir.join(&name);
        if path.is_dir() {
            return Err(format!(
                "Could not import {}: is a directory",
                path.display()
            ));
        }
        files.push(path);
    }
    Ok(Resolved {
        files,
        is_glob: true,
    })
}

/// Reads an import target as text (invalid UTF-8 is replaced, like Go's rune reader does).
pub(crate) fn read(path: &Path) -> Result<String, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Err(format!(
            "Could not import {}: is a directory",
            path.display()
        )),
        Err(e) => Err(format!("Could not import {}: {e}", path.display())),
    }
}

/// Makes `p` absolute without touching the file system (falls back to `p` itself).
pub(crate) fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Matches a file name against a pattern where `*` is any run of characters and `?` exactly
/// one character. Works for any number of wildcards (backtracks on the last `*` only).
pub(crate) fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn glob_table() {
        let cases = [
            ("*", "a", true),
            ("*", "", true),
            ("*.conf", "a.conf", true),
            ("*.conf", ".conf", true),
            ("*.conf", "a.conf.bak", false),
            ("zone-?.conf", "zone-1.conf", true),
            ("zone-?.conf", "zone-12.conf", false),
            ("zone-?.conf", "zone-.conf", false),
            ("a*b", "ab", true),
            ("a*b", "axxb", true),
            ("a*b", "axxbc", false),
            ("a*b*c", "abbbc", true),
            ("exact", "exact", true),
            ("exact", "exac", false),
            ("?", "é", true),
            ("*?", "", false),
        ];
        for (p, n, want) in cases {
            assert_eq!(glob_match(p, n), want, "{p} vs {n}");
        }
    }
}
