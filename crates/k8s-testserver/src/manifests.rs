//! Reading objects from manifest text: YAML (one or many `---` documents) or JSON, with
//! `kind: List` and `<Kind>List` documents (kubectl get -o yaml output) flattened into items.

use serde_json::Value;

use crate::Error;

/// Every object in the text, lists flattened, empty documents skipped.
pub(crate) fn parse(text: &str) -> Result<Vec<Value>, Error> {
    let trimmed = text.trim_start();
    let documents: Vec<Value> = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let mut documents = Vec::new();
        for document in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
            documents.push(document.map_err(|e| Error::Manifest(e.to_string()))?);
        }
        documents
    } else {
        serde_saphyr::from_multiple(text).map_err(|e| Error::Manifest(e.to_string()))?
    };
    let mut objects = Vec::new();
    for document in documents {
        flatten(document, &mut objects);
    }
    Ok(objects)
}

fn is_list(document: &Value) -> bool {
    document
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|kind| kind.ends_with("List"))
        && document.get("items").is_some_and(Value::is_array)
}

fn flatten(document: Value, objects: &mut Vec<Value>) {
    match document {
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                flatten(item, objects);
            }
        }
        mut list if is_list(&list) => {
            if let Some(Value::Array(items)) = list.get_mut("items").map(Value::take) {
                for item in items {
                    flatten(item, objects);
                }
            }
        }
        object => objects.push(object),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_documents_and_lists_are_flattened() {
        let text = "
apiVersion: v1
kind: Service
metadata: {name: a, namespace: x}
---
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: p}
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: s}
";
        let objects = parse(text).unwrap();
        let kinds: Vec<&str> = objects
            .iter()
            .map(|o| o["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["Service", "Pod", "EndpointSlice"]);
        assert_eq!(objects[0]["metadata"]["namespace"], "x");
    }

    #[test]
    fn json_lists_are_flattened() {
        let text = r#"{"apiVersion":"v1","kind":"ServiceList","items":[
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"a"}},
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"b"}}]}"#;
        assert_eq!(parse(text).unwrap().len(), 2);
    }

    #[test]
    fn broken_text_is_an_error() {
        assert!(parse("{\"kind\":").is_err());
        assert!(parse("a: [b").is_err());
    }
}
