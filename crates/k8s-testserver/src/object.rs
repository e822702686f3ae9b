//! An object as the store keeps it: serialized once when applied, so LIST and WATCH copy bytes
//! instead of re-encoding JSON, with the labels and selectable fields pulled out beside it so
//! selectors never parse the JSON again.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::resources::RESOURCES;
use crate::Error;

/// One stored version of an object. Shared (`Arc`) between the store, the event history and
/// open watch streams.
#[derive(Debug)]
pub(crate) struct StoredObject {
    /// Index into [`RESOURCES`].
    pub resource: usize,
    /// The store key: `namespace/name`, or `name` for cluster-scoped kinds. Sorting by it gives
    /// kube-apiserver's LIST order.
    pub key: String,
    /// Empty for cluster-scoped kinds.
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub created: String,
    /// Sorted by key.
    pub labels: Vec<(String, String)>,
    /// Values of the selectable fields, aligned with [`ResourceKind::field_paths`].
    pub fields: Vec<String>,
    /// The whole object as JSON, `metadata.resourceVersion` included.
    pub json: Bytes,
}

/// An applied object checked and indexed, waiting for its resource version. It holds the
/// object already serialized except for its metadata, so a big batch does not keep every
/// parsed `Value` alive until it is stored.
#[derive(Debug)]
pub(crate) struct PreparedObject {
    pub resource: usize,
    pub key: String,
    pub namespace: String,
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub fields: Vec<String>,
    metadata: Map<String, Value>,
    /// Every top-level field but apiVersion, kind and metadata, as a JSON object (`{...}`).
    rest: Vec<u8>,
}

/// The store key of an object.
pub(crate) fn object_key(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}/{name}")
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidObject(message.into())
}

impl PreparedObject {
    /// Checks an object (`apiVersion`, `kind` and `metadata.name` present, kind served, labels
    /// are strings), defaults the namespace of namespaced kinds to `default` as kubectl does,
    /// drops it from cluster-scoped kinds, and extracts labels and field values.
    pub(crate) fn new(value: Value) -> Result<PreparedObject, Error> {
        let Value::Object(mut object) = value else {
            return Err(invalid("an object must be a JSON/YAML mapping"));
        };
        let api_version = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("the object has no apiVersion"))?;
        let kind = object
            .get("kind")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("the object has no kind"))?;
        let resource =
            crate::resources::by_kind(api_version, kind).ok_or_else(|| Error::UnknownKind {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
            })?;
        let kind_info = &RESOURCES[resource];
        let kind = kind_info.kind;
        let mut metadata = match object.remove("metadata") {
            Some(Value::Object(metadata)) => metadata,
            None | Some(Value::Null) => Map::new(),
            Some(_) => return Err(invalid("metadata is not a mapping")),
        };
        let name = metadata
            .get("name")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .ok_or_else(|| invalid(format!("a {kind} has no metadata.name")))?
            .to_owned();
        let namespace = if kind_info.namespaced {
            let namespace = metadata
                .get("namespace")
                .and_then(Value::as_str)
                .filter(|ns| !ns.is_empty())
                .unwrap_or("default")
                .to_owned();
            metadata.insert("namespace".into(), Value::String(namespace.clone()));
            namespace
        } else {
            metadata.remove("namespace");
            String::new()
        };
        let mut labels = Vec::new();
        if let Some(map) = metadata.get("labels").and_then(Value::as_object) {
            for (key, label) in map {
                let label = label.as_str().ok_or_else(|| {
                    invalid(format!("{kind} {name}: label {key} is not a string"))
                })?;
                labels.push((key.clone(), label.to_owned()));
            }
        }
        labels.sort();
        object.remove("apiVersion");
        object.remove("kind");
        let rest = Value::Object(object);
        let fields = kind_info
            .field_paths()
            .map(|path| match path {
                "metadata.name" => name.clone(),
                "metadata.namespace" => namespace.clone(),
                other => field_value(&rest, other),
            })
            .collect();
        let rest = serde_json::to_vec(&rest).map_err(|e| invalid(e.to_string()))?;
        Ok(PreparedObject {
            resource,
            key: object_key(&namespace, &name),
            namespace,
            name,
            labels,
            fields,
            metadata,
            rest,
        })
    }

    /// The uid the object carries itself, if any (kept, as for objects copied from a cluster).
    pub(crate) fn own_uid(&self) -> Option<&str> {
        self.metadata_str("uid")
    }

    pub(crate) fn own_creation_timestamp(&self) -> Option<&str> {
        self.metadata_str("creationTimestamp")
    }

    fn metadata_str(&self, field: &str) -> Option<&str> {
        self.metadata
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// Stamps the server-owned metadata and serializes the object, fields in kube-apiserver's
    /// order: apiVersion, kind, metadata, then the rest.
    pub(crate) fn finish(
        mut self,
        resource_version: u64,
        uid: String,
        created: String,
    ) -> Result<StoredObject, Error> {
        let kind = &RESOURCES[self.resource];
        self.metadata.insert(
            "resourceVersion".into(),
            Value::String(resource_version.to_string()),
        );
        self.metadata
            .insert("uid".into(), Value::String(uid.clone()));
        self.metadata
            .insert("creationTimestamp".into(), Value::String(created.clone()));
        let mut json = Vec::with_capacity(self.rest.len() + 512);
        json.extend_from_slice(b"{\"apiVersion\":\"");
        json.extend_from_slice(kind.api_version.as_bytes());
        json.extend_from_slice(b"\",\"kind\":\"");
        json.extend_from_slice(kind.kind.as_bytes());
        json.extend_from_slice(b"\",\"metadata\":");
        serde_json::to_writer(&mut json, &self.metadata).map_err(|e| invalid(e.to_string()))?;
        match self.rest.get(1..) {
            // `rest` is `{...}`: splice its members in after the metadata.
            Some(members) if members != b"}" => {
                json.push(b',');
                json.extend_from_slice(members);
            }
            _ => json.push(b'}'),
        }
        Ok(StoredObject {
            resource: self.resource,
            key: self.key,
            namespace: self.namespace,
            name: self.name,
            uid,
            created,
            labels: self.labels,
            fields: self.fields,
            json: Bytes::from(json),
        })
    }
}

/// The string form kube-apiserver compares a field selector against.
fn field_value(object: &Value, path: &str) -> String {
    let mut node = Some(object);
    for part in path.split('.') {
        node = node.and_then(|n| n.get(part));
    }
    match node {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        // kube-apiserver selects on the typed object, where an unset bool is false.
        None | Some(Value::Null) if path == "spec.hostNetwork" => "false".to_owned(),
        _ => String::new(),
    }
}

impl StoredObject {
    /// A copy carrying another resource version: DELETED events report the deletion's version
    /// with the object's last content, as kube-apiserver does.
    pub(crate) fn with_resource_version(&self, resource_version: u64) -> StoredObject {
        let json = match serde_json::from_slice::<Value>(&self.json) {
            Ok(mut value) => {
                if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
                    metadata.insert(
                        "resourceVersion".into(),
                        Value::String(resource_version.to_string()),
                    );
                }
                serde_json::to_vec(&value).map_or_else(|_| self.json.clone(), Bytes::from)
            }
            // Unreachable: the bytes were produced by serde_json from a Value.
            Err(_) => self.json.clone(),
        };
        StoredObject {
            resource: self.resource,
            key: self.key.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            uid: self.uid.clone(),
            created: self.created.clone(),
            labels: self.labels.clone(),
            fields: self.fields.clone(),
            json,
        }
    }
}

/// The current time in the RFC 3339 form Kubernetes timestamps use (`2024-05-01T12:00:00Z`).
pub(crate) fn now_timestamp() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_timestamp(seconds)
}

fn format_timestamp(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let rest = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_timestamp(1_714_564_800), "2024-05-01T12:00:00Z");
    }

    #[test]
    fn namespaced_objects_default_to_the_default_namespace() {
        let prepared = PreparedObject::new(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "labels": {"b": "2", "a": "1"}},
            "spec": {"clusterIP": "10.0.0.1", "type": "ClusterIP"}
        }))
        .unwrap();
        assert_eq!(prepared.key, "default/web");
        assert_eq!(
            prepared.labels,
            vec![("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        assert_eq!(
            prepared.fields,
            vec!["web", "default", "10.0.0.1", "ClusterIP"]
        );
        let stored = prepared.finish(7, "u".into(), "t".into()).unwrap();
        let value: Value = serde_json::from_slice(&stored.json).unwrap();
        assert_eq!(value["metadata"]["resourceVersion"], "7");
        assert_eq!(value["metadata"]["namespace"], "default");
        assert_eq!(value["spec"]["clusterIP"], "10.0.0.1");
        let text = String::from_utf8(stored.json.to_vec()).unwrap();
        assert!(
            text.starts_with(r#"{"apiVersion":"v1","kind":"Service","metadata":{"#),
            "{text}"
        );

        let bare = PreparedObject::new(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}),
        )
        .unwrap()
        .finish(1, "u".into(), "t".into())
        .unwrap();
        let value: Value = serde_json::from_slice(&bare.json).unwrap();
        assert_eq!(value["metadata"]["name"], "n");
        assert_eq!(value.as_object().unwrap().len(), 3);
    }

    #[test]
    fn cluster_scoped_objects_lose_their_namespace() {
        let prepared = PreparedObject::new(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "apps", "namespace": "x"}
        }))
        .unwrap();
        assert_eq!(prepared.key, "apps");
        assert!(prepared.metadata.get("namespace").is_none());
    }

    #[test]
    fn bad_objects_are_refused() {
        for (object, wanted) in [
            (
                json!({"kind": "Service", "metadata": {"name": "a"}}),
                "apiVersion",
            ),
            (
                json!({"apiVersion": "v1", "kind": "Service"}),
                "metadata.name",
            ),
            (
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a"}}),
                "Secret",
            ),
            (
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "labels": {"x": 1}}}),
                "label x",
            ),
        ] {
            let error = PreparedObject::new(object).unwrap_err().to_string();
            assert!(error.contains(wanted), "{error} lacks {wanted}");
        }
    }

    #[test]
    fn deleted_copies_carry_the_new_version_and_the_old_content() {
        let stored = PreparedObject::new(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p"}, "status": {"phase": "Running"}
        }))
        .unwrap()
        .finish(3, "u".into(), "t".into())
        .unwrap();
        assert_eq!(stored.fields[7], "Running");
        assert_eq!(
            stored.fields[6], "false",
            "unset hostNetwork selects as false"
        );
        let deleted = stored.with_resource_version(9);
        let value: Value = serde_json::from_slice(&deleted.json).unwrap();
        assert_eq!(value["metadata"]["resourceVersion"], "9");
        assert_eq!(value["status"]["phase"], "Running");
    }
}
