//! Request handling: authentication, routing of `/api` and `/apis` paths, GET of one object,
//! LIST with selectors and pagination, and the Status documents kube-apiserver answers errors
//! with. WATCH requests are handed to [`crate::watch`].

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::body::ResponseBody;
use crate::discovery;
use crate::params::{ContinueToken, QueryParams, VersionMatch};
use crate::resources::{by_path, ResourceKind, RESOURCES};
use crate::selector::{FieldSelector, LabelSelector};
use crate::server::{RequestCounters, Shared};
use crate::store::{Expired, ListRequest};

/// A `metav1.Status` failure document.
pub(crate) fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code
    })
}

pub(crate) fn expired_message(expired: &Expired) -> String {
    format!(
        "too old resource version: {} ({})",
        expired.requested, expired.oldest
    )
}

fn respond(code: StatusCode, content_type: &'static str, body: Bytes) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::Whole(Some(body)));
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn json_response(document: &Value) -> Response<ResponseBody> {
    let body = serde_json::to_vec(document).unwrap_or_default();
    respond(StatusCode::OK, "application/json", Bytes::from(body))
}

fn failure(code: StatusCode, reason: &str, message: &str) -> Response<ResponseBody> {
    let document = status(code.as_u16(), reason, message);
    let body = serde_json::to_vec(&document).unwrap_or_default();
    respond(code, "application/json", Bytes::from(body))
}

fn not_found() -> Response<ResponseBody> {
    failure(
        StatusCode::NOT_FOUND,
        "NotFound",
        "the server could not find the requested resource",
    )
}

fn bad_request(message: &str) -> Response<ResponseBody> {
    failure(StatusCode::BAD_REQUEST, "BadRequest", message)
}

fn authorized(shared: &Shared, request: &Request<Incoming>, client_certificate: bool) -> bool {
    client_certificate
        || request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .is_some_and(|token| token.trim() == shared.token)
}

pub(crate) fn handle(
    shared: &Arc<Shared>,
    request: &Request<Incoming>,
    client_certificate: bool,
) -> Response<ResponseBody> {
    if !authorized(shared, request, client_certificate) {
        return failure(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    }
    if request.method() != Method::GET {
        return failure(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        );
    }
    let segments: Vec<&str> = request
        .uri()
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let query = request.uri().query();
    match segments.as_slice() {
        ["version"] => json_response(&discovery::version_info()),
        ["healthz" | "livez" | "readyz"] => {
            respond(StatusCode::OK, "text/plain", Bytes::from_static(b"ok"))
        }
        ["api"] => json_response(&discovery::core_versions(shared.addr)),
        ["apis"] => json_response(&discovery::group_list()),
        ["api", "v1"] => {
            discovery::resource_list("", "v1").map_or_else(not_found, |d| json_response(&d))
        }
        ["apis", group] => discovery::group(group).map_or_else(not_found, |d| json_response(&d)),
        ["apis", group, version] => {
            discovery::resource_list(group, version).map_or_else(not_found, |d| json_response(&d))
        }
        ["api", "v1", rest @ ..] => resource_request(shared, "", "v1", rest, query),
        ["apis", group, version, rest @ ..] => {
            resource_request(shared, group, version, rest, query)
        }
        _ => not_found(),
    }
}

/// `<plural>`, `<plural>/<name>`, `namespaces/<ns>/<plural>`, `namespaces/<ns>/<plural>/<name>`.
fn resource_request(
    shared: &Arc<Shared>,
    group: &str,
    version: &str,
    rest: &[&str],
    query: Option<&str>,
) -> Response<ResponseBody> {
    let (namespace, plural, name) = match rest {
        ["namespaces", namespace, plural] => (Some(*namespace), *plural, None),
        ["namespaces", namespace, plural, name] => (Some(*namespace), *plural, Some(*name)),
        [plural] => (None, *plural, None),
        [plural, name] => (None, *plural, Some(*name)),
        _ => return not_found(),
    };
    let Some(resource) = by_path(group, version, plural) else {
        return not_found();
    };
    let kind = &RESOURCES[resource];
    if (namespace.is_some() && !kind.namespaced)
        || (name.is_some() && namespace.is_none() && kind.namespaced)
    {
        return not_found();
    }
    let params = match QueryParams::parse(query) {
        Ok(params) => params,
        Err(e) => return bad_request(&e.0),
    };
    match name {
        Some(name) => get(shared, resource, namespace.unwrap_or(""), name),
        None => collection(shared, resource, namespace, &params),
    }
}

fn qualified_plural(kind: &ResourceKind) -> String {
    if kind.group().is_empty() {
        kind.plural.to_owned()
    } else {
        format!("{}.{}", kind.plural, kind.group())
    }
}

fn get(shared: &Shared, resource: usize, namespace: &str, name: &str) -> Response<ResponseBody> {
    RequestCounters::count(&shared.counters.gets, resource);
    match shared.store.get(resource, namespace, name) {
        Some(object) => respond(StatusCode::OK, "application/json", object.json.clone()),
        None => {
            let kind = &RESOURCES[resource];
            let mut document = status(
                404,
                "NotFound",
                &format!("{} \"{name}\" not found", qualified_plural(kind)),
            );
            document["details"] = json!({"name": name, "group": kind.group(), "kind": kind.plural});
            let body = serde_json::to_vec(&document).unwrap_or_default();
            respond(StatusCode::NOT_FOUND, "application/json", Bytes::from(body))
        }
    }
}

/// LIST or WATCH of a collection.
fn collection(
    shared: &Arc<Shared>,
    resource: usize,
    namespace: Option<&str>,
    params: &QueryParams,
) -> Response<ResponseBody> {
    let kind = &RESOURCES[resource];
    let labels = match LabelSelector::parse(&params.label_selector) {
        Ok(selector) => selector,
        Err(e) => return bad_request(&e.to_string()),
    };
    let fields = match FieldSelector::parse(&params.field_selector, kind) {
        Ok(selector) => selector,
        Err(e) => return bad_request(&e.to_string()),
    };
    let requested_version = match params.resource_version_number() {
        Ok(version) => version,
        Err(e) => return bad_request(&e.0),
    };
    if params.watch {
        RequestCounters::count(&shared.counters.watches, resource);
        return crate::watch::start(
            shared,
            crate::watch::WatchFilter {
                resource,
                namespace: namespace.map(str::to_owned),
                labels,
                fields,
            },
            params,
            requested_version,
        );
    }
    list(
        shared,
        resource,
        namespace,
        params,
        requested_version,
        &labels,
        &fields,
    )
}

fn list(
    shared: &Shared,
    resource: usize,
    namespace: Option<&str>,
    params: &QueryParams,
    requested_version: Option<u64>,
    labels: &LabelSelector,
    fields: &FieldSelector,
) -> Response<ResponseBody> {
    let kind = &RESOURCES[resource];
    let current = shared.store.resource_version();
    match (params.resource_version_match, requested_version) {
        (Some(VersionMatch::Exact), None) => {
            return bad_request(
                "resourceVersionMatch: Forbidden: resourceVersionMatch \"Exact\" needs a resourceVersion other than \"0\"",
            )
        }
        // The store keeps only the current state: an exact read of the past cannot be served.
        (Some(VersionMatch::Exact), Some(version)) if version != current => {
            return failure(
                StatusCode::GONE,
                "Expired",
                &format!("too old resource version: {version} ({current})"),
            )
        }
        // NotOlderThan a version newer than ours, or any other case: the current state.
        _ => {}
    }
    let token = match params.continue_token.as_deref().map(ContinueToken::decode) {
        None => None,
        Some(Ok(token)) => Some(token),
        Some(Err(e)) => return bad_request(&e.0),
    };
    if token.is_none() {
        RequestCounters::count(&shared.counters.lists, resource);
    }
    let count_remaining = labels.is_empty() && fields.is_empty();
    let request = ListRequest {
        resource,
        namespace,
        after: token.as_ref().map(|t| t.after_key.as_str()),
        page_version: token.as_ref().map(|t| t.resource_version),
        limit: params.limit,
        count_remaining,
    };
    let page = shared.store.list(&request, |object| {
        labels.matches(&object.labels) && fields.matches(object)
    });
    let page = match page {
        Ok(page) => page,
        Err(_) => {
            return failure(
                StatusCode::GONE,
                "Expired",
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
            )
        }
    };
    let mut metadata = format!("{{\"resourceVersion\":\"{}\"", page.resource_version);
    if let Some(after_key) = page.continue_after {
        let token = ContinueToken {
            resource_version: page.resource_version,
            after_key,
        };
        metadata.push_str(&format!(",\"continue\":\"{}\"", token.encode()));
        if let Some(remaining) = page.remaining {
            metadata.push_str(&format!(",\"remainingItemCount\":{remaining}"));
        }
    }
    metadata.push('}');
    let head = format!(
        "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{metadata},\"items\":[",
        kind.kind, kind.api_version
    );
    let size = head.len() + page.items.iter().map(|o| o.json.len() + 1).sum::<usize>() + 2;
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(head.as_bytes());
    for (at, object) in page.items.iter().enumerate() {
        if at > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&object.json);
    }
    body.extend_from_slice(b"]}");
    respond(StatusCode::OK, "application/json", Bytes::from(body))
}
