use std::path::{Path, PathBuf};

use cairn_core::testing::setup;

use crate::registry::spec;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("cairn-root-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn sets_the_block_root() {
    let tmp = TempDir::new("set");
    std::fs::create_dir(tmp.path().join("zones")).unwrap();
    let abs = tmp.path().join("zones");
    let abs_text = abs.display().to_string();
    for (corefile, want) in [
        // relative: from the Corefile's directory, existing or not
        (". {\n root zones\n}".to_string(), tmp.path().join("zones")),
        (
            ". {\n root not/there/yet\n}".to_string(),
            tmp.path().join("not/there/yet"),
        ),
        // absolute: as written
        (format!(". {{\n root {abs_text}\n}}"), abs.clone()),
        // a later line replaces an earlier one
        (
            format!(". {{\n root elsewhere\n root {abs_text}\n}}"),
            abs.clone(),
        ),
    ] {
        let s = setup(spec("root"), &corefile, Some(tmp.path().to_path_buf())).unwrap();
        assert_eq!(
            s.settings.root.as_deref(),
            Some(want.as_path()),
            "{corefile}"
        );
        assert!(s.plugins.is_empty(), "root adds no handler");
    }
}

#[test]
fn errors_name_the_line() {
    let tmp = TempDir::new("err");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let under_file = file.join("sub").display().to_string();
    for (corefile, line, want) in [
        (
            ". {\n root\n}".to_string(),
            2,
            "Wrong argument count or unexpected line ending after 'root'".to_string(),
        ),
        (
            ". {\n root a b\n}".to_string(),
            2,
            "Wrong argument count or unexpected line ending after 'b'".to_string(),
        ),
        (
            ". {\n root {\n  /srv\n }\n}".to_string(),
            3,
            "unknown property '/srv'".to_string(),
        ),
        (
            format!(". {{\n\n root {under_file}\n}}"),
            3,
            format!("plugin/root: unable to access root path '{under_file}': "),
        ),
    ] {
        let err = setup(spec("root"), &corefile, Some(tmp.path().to_path_buf()))
            .err()
            .unwrap();
        assert_eq!(err.line, line, "{corefile}");
        assert!(
            err.message.starts_with(&want),
            "{corefile}: {} does not start with {want}",
            err.message
        );
        if !want.ends_with(": ") {
            assert_eq!(err.message, want);
        }
    }
}
