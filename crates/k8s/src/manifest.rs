//! Cluster objects from manifest files, so Cairn serves a cluster zone with no cluster at all
//! (trying it out, debugging an answer, tests and benchmarks).
//!
//! The files are YAML (several documents separated by `---`) or JSON, e.g. the output of
//! `kubectl get svc,endpointslices,pods,namespaces -A -o yaml`: `kind: List` (and any
//! `*List`) documents are flattened into their items. Objects of kinds cluster DNS does not
//! read (ConfigMaps, Deployments...) are skipped and counted. A path may be a directory: its
//! `*.yaml`, `*.yml` and `*.json` files are read in name order.
//!
//! [`ManifestSource`] feeds a [`Writer`] like the API watchers do: one `Replace` per kind,
//! all kinds synced, one publish; then it polls the files' sizes and modification times and
//! reloads on change. A reload that fails keeps the last good state.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::index::{Change, Writer};
use crate::objects::{Kind, Object, ObjectError};

/// Why manifest files could not be loaded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file or directory could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not valid YAML (or JSON).
    #[error("{}: {message}", path.display())]
    Syntax {
        /// The path.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A document (or an item of a List document) is not a valid object.
    #[error("{}: {}: {source}", path.display(), Position(*document, *item))]
    Object {
        /// The path.
        path: PathBuf,
        /// 1-based number of the document in the file (empty documents are not counted).
        document: usize,
        /// 1-based number of the item, when the document is a List.
        item: Option<usize>,
        /// What is wrong with it.
        source: ObjectError,
    },
}

struct Position(usize, Option<usize>);

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(item) => write!(f, "document {}, item {item}", self.0),
            None => write!(f, "document {}", self.0),
        }
    }
}

/// The result of reading manifest files.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The objects, in file and document order.
    pub objects: Vec<Object>,
    /// Objects skipped because cluster DNS does not read their kind, by kind name.
    pub skipped: BTreeMap<String, usize>,
    /// The files read (directories expanded).
    pub files: Vec<PathBuf>,
}

impl Loaded {
    /// Total number of skipped objects.
    pub fn skipped_count(&self) -> usize {
        self.skipped.values().sum()
    }
}

/// Reads every object from `paths` (files, or directories of `*.yaml|*.yml|*.json`).
pub fn load<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<Object>, ManifestError> {
    load_with_stats(paths).map(|loaded| loaded.objects)
}

/// The objects of manifest text (YAML documents or JSON) that did not come from a file;
/// `origin` names it in errors. Same rules as [`load`].
///
/// # Errors
/// A [`ManifestError`] naming `origin` and the document.
pub fn parse_str(origin: &str, text: &str) -> Result<Vec<Object>, ManifestError> {
    let mut loaded = Loaded::default();
    read_text(Path::new(origin), text, &mut loaded)?;
    Ok(loaded.objects)
}

/// Like [`load`], also reporting the skipped kinds and the files read.
pub fn load_with_stats<P: AsRef<Path>>(paths: &[P]) -> Result<Loaded, ManifestError> {
    let mut loaded = Loaded {
        files: expand(paths)?,
        ..Loaded::default()
    };
    for file in loaded.files.clone() {
        let text = std::fs::read_to_string(&file).map_err(|source| ManifestError::Read {
            path: file.clone(),
            source,
        })?;
        read_text(&file, &text, &mut loaded)?;
    }
    Ok(loaded)
}

fn is_manifest_name(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Files named directly, plus the manifest files of named directories (sorted).
fn expand<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<PathBuf>, ManifestError> {
    let mut files = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let read_error = |source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        };
        if std::fs::metadata(path).map_err(read_error)?.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(read_error)?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| is_manifest_name(p) && p.is_file())
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.to_path_buf());
        }
    }
    Ok(files)
}

fn looks_like_json(path: &Path, text: &str) -> bool {
    path.extension().and_then(|e| e.to_str()) == Some("json")
        || text.trim_start().starts_with(['{', '['])
}

/// Parses the documents of one file and collects their objects into `loaded`.
fn read_text(path: &Path, text: &str, loaded: &mut Loaded) -> Result<(), ManifestError> {
    let syntax = |message: String| ManifestError::Syntax {
        path: path.to_path_buf(),
        message,
    };
    let documents: Vec<serde_json::Value> = if looks_like_json(path, text) {
        serde_json::Deserializer::from_str(text)
            .into_iter::<serde_json::Value>()
            .collect::<Result<_, _>>()
            .map_err(|e| syntax(e.to_string()))?
    } else {
        // Operator-provided files can be large (a whole cluster): lift the parser's
        // defensive limits well above a 50,000-pod dump.
        let options = serde_saphyr::options! {
            budget: serde_saphyr::budget! {
                max_events: 500_000_000,
                max_nodes: 200_000_000,
                max_documents: 10_000_000,
                max_total_scalar_bytes: 4 << 30,
                max_reader_input_bytes: None,
            },
        };
        serde_saphyr::from_multiple_with_options(text, options)
            .map_err(|e| syntax(e.to_string()))?
    };
    for (index, document) in documents.into_iter().enumerate() {
        let document_number = index + 1;
        let object_error = |item, source| ManifestError::Object {
            path: path.to_path_buf(),
            document: document_number,
            item,
            source,
        };
        match list_items(document) {
            Ok(items) => {
                for (item_index, item) in items.into_iter().enumerate() {
                    take(item, loaded).map_err(|e| object_error(Some(item_index + 1), e))?;
                }
            }
            Err(single) => take(single, loaded).map_err(|e| object_error(None, e))?,
        }
    }
    Ok(())
}

/// The items of a `List`/`*List` document, or the document itself when it is not a list.
fn list_items(document: serde_json::Value) -> Result<Vec<serde_json::Value>, serde_json::Value> {
    let is_list = document
        .get("kind")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|kind| kind.ends_with("List"))
        && document.get("items").is_some();
    if !is_list {
        return Err(document);
    }
    match document {
        serde_json::Value::Object(mut map) => match map.remove("items") {
            Some(serde_json::Value::Array(items)) => Ok(items),
            Some(serde_json::Value::Null) | None => Ok(Vec::new()),
            Some(other) => {
                map.insert("items".into(), other);
                Err(serde_json::Value::Object(map))
            }
        },
        other => Err(other),
    }
}

fn take(value: serde_json::Value, loaded: &mut Loaded) -> Result<(), ObjectError> {
    match Object::from_json_value(value) {
        Ok(object) => loaded.objects.push(object),
        Err(ObjectError::Unsupported { kind, .. }) => *loaded.skipped.entry(kind).or_insert(0) += 1,
        Err(other) => return Err(other),
    }
    Ok(())
}

/// Applies a full load to the writer: one `Replace` per watched kind, every watched kind
/// synced, one publish.
pub fn apply_all(writer: &mut Writer, objects: Vec<Object>) {
    let kinds = writer.config().kinds();
    let mut by_kind: BTreeMap<Kind, Vec<Object>> = kinds.iter().map(|k| (k, Vec::new())).collect();
    for object in objects {
        if let Some(list) = by_kind.get_mut(&object.kind()) {
            list.push(object);
        }
    }
    for (kind, list) in by_kind {
        writer.apply(Change::Replace(kind, list));
        writer.apply(Change::Synced(kind));
    }
    writer.publish();
}

/// Size and modification time of each file, and the listing of each directory: a change
/// of any of them triggers a reload.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fingerprint(Vec<(PathBuf, Option<(u64, SystemTime)>)>);

fn stat(path: &Path) -> Option<(u64, SystemTime)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.len(), metadata.modified().ok()?))
}

fn fingerprint(paths: &[PathBuf]) -> Fingerprint {
    let mut entries = Vec::new();
    for path in paths {
        entries.push((path.clone(), stat(path)));
        if path.is_dir() {
            if let Ok(files) = expand(std::slice::from_ref(path)) {
                entries.extend(files.into_iter().map(|f| {
                    let s = stat(&f);
                    (f, s)
                }));
            }
        }
    }
    Fingerprint(entries)
}

/// The manifest-file source of the index.
#[derive(Clone, Debug)]
pub struct ManifestSource {
    /// Files or directories to read.
    pub paths: Vec<PathBuf>,
    /// How often the files' sizes and modification times are checked.
    pub interval: Duration,
}

impl ManifestSource {
    /// A source for `paths`, checked every 2 seconds.
    pub fn new(paths: Vec<PathBuf>) -> Self {
        ManifestSource {
            paths,
            interval: Duration::from_secs(2),
        }
    }

    /// Loads the files into `writer`, then reloads them whenever they change, until
    /// `shutdown` completes. Load errors go to `on_error` (the plugin logs them); after a
    /// failed reload the index keeps the last good state, and the next change is tried
    /// again. Files are read on tokio's blocking pool.
    pub async fn run(
        self,
        mut writer: Writer,
        shutdown: impl Future<Output = ()>,
        on_error: impl Fn(&ManifestError),
    ) {
        tokio::pin!(shutdown);
        let mut seen: Option<Fingerprint> = None;
        loop {
            let paths = self.paths.clone();
            let current = fingerprint(&paths);
            if seen.as_ref() != Some(&current) {
                let result = tokio::task::spawn_blocking(move || load(&paths)).await;
                match result {
                    Ok(Ok(objects)) => apply_all(&mut writer, objects),
                    Ok(Err(error)) => on_error(&error),
                    // The load panicked: nothing to report but a join error; keep state.
                    Err(_) => {}
                }
                seen = Some(current);
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
