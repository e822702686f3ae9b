//! The query parameters of LIST, GET and WATCH requests, decoded and checked once, and the
//! opaque continue tokens of paginated LISTs.

use std::time::Duration;

/// A malformed parameter; answered with 400 BadRequest.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ParamError(pub String);

/// `resourceVersionMatch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VersionMatch {
    NotOlderThan,
    Exact,
}

#[derive(Debug, Default)]
pub(crate) struct QueryParams {
    pub watch: bool,
    pub label_selector: String,
    pub field_selector: String,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    /// `None` when absent or empty.
    pub resource_version: Option<String>,
    pub resource_version_match: Option<VersionMatch>,
    pub timeout: Option<Duration>,
    pub allow_bookmarks: bool,
    /// `None` when absent.
    pub send_initial_events: Option<bool>,
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ParamError> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        _ => Err(ParamError(format!("invalid value {value:?} for {name}"))),
    }
}

impl QueryParams {
    pub(crate) fn parse(query: Option<&str>) -> Result<QueryParams, ParamError> {
        let mut params = QueryParams::default();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode(name)?;
            let value = percent_decode(value)?;
            match name.as_str() {
                "watch" => params.watch = parse_bool(&name, &value)?,
                "labelSelector" => params.label_selector = value,
                "fieldSelector" => params.field_selector = value,
                "limit" => {
                    let limit: usize = value
                        .parse()
                        .map_err(|_| ParamError(format!("invalid limit {value:?}")))?;
                    params.limit = (limit > 0).then_some(limit);
                }
                "continue" => params.continue_token = Some(value).filter(|v| !v.is_empty()),
                "resourceVersion" => params.resource_version = Some(value).filter(|v| !v.is_empty()),
                "resourceVersionMatch" => {
                    params.resource_version_match = match value.as_str() {
                        "" => None,
                        "NotOlderThan" => Some(VersionMatch::NotOlderThan),
                        "Exact" => Some(VersionMatch::Exact),
                        _ => {
                            return Err(ParamError(format!(
                                "resourceVersionMatch: Unsupported value: {value:?}: supported values: \"Exact\", \"NotOlderThan\""
                            )))
                        }
                    }
                }
                "timeoutSeconds" => {
                    let seconds: u64 = value
                        .parse()
                        .map_err(|_| ParamError(format!("invalid timeoutSeconds {value:?}")))?;
                    params.timeout = (seconds > 0).then(|| Duration::from_secs(seconds));
                }
                "allowWatchBookmarks" => params.allow_bookmarks = parse_bool(&name, &value)?,
                "sendInitialEvents" => {
                    params.send_initial_events = Some(parse_bool(&name, &value)?);
                }
                // pretty, timeout, fieldManager, ...: accepted and ignored.
                _ => {}
            }
        }
        Ok(params)
    }

    /// `resourceVersion` as a number; absent and "0" mean "any" and give `None`.
    pub(crate) fn resource_version_number(&self) -> Result<Option<u64>, ParamError> {
        match self.resource_version.as_deref() {
            None | Some("0") => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| ParamError(format!("invalid resource version: {text:?}"))),
        }
    }
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space, `%XX` a byte).
fn percent_decode(text: &str) -> Result<String, ParamError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text
                    .get(at + 1..at + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ParamError(format!("bad percent-encoding in {text:?}")))?;
                out.push(hex);
                at += 2;
            }
            byte => out.push(byte),
        }
        at += 1;
    }
    String::from_utf8(out).map_err(|_| ParamError(format!("query is not UTF-8: {text:?}")))
}

/// Where the next page of a LIST starts: the first page's version and the last key sent.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ContinueToken {
    pub resource_version: u64,
    pub after_key: String,
}

impl ContinueToken {
    /// Hex of `version\nkey`: opaque to clients and safe in a URL.
    pub(crate) fn encode(&self) -> String {
        let plain = format!("{}\n{}", self.resource_version, self.after_key);
        plain.bytes().map(|b| format!("{b:02x}")).collect()
    }

    pub(crate) fn decode(token: &str) -> Result<ContinueToken, ParamError> {
        let invalid = || ParamError("continue key is not valid".to_owned());
        if !token.len().is_multiple_of(2) {
            return Err(invalid());
        }
        let bytes = (0..token.len())
            .step_by(2)
            .map(|at| {
                token
                    .get(at..at + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(invalid)?;
        let plain = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (version, key) = plain.split_once('\n').ok_or_else(invalid)?;
        Ok(ContinueToken {
            resource_version: version.parse().map_err(|_| invalid())?,
            after_key: key.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_rs_watch_query_parses() {
        let params = QueryParams::parse(Some(
            "watch=true&timeoutSeconds=290&labelSelector=app%3Dweb%2Ctier+in+%28a%2Cb%29&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=0",
        ))
        .unwrap();
        assert!(params.watch);
        assert_eq!(params.label_selector, "app=web,tier in (a,b)");
        assert_eq!(params.timeout, Some(Duration::from_secs(290)));
        assert!(params.allow_bookmarks);
        assert_eq!(params.send_initial_events, Some(true));
        assert_eq!(
            params.resource_version_match,
            Some(VersionMatch::NotOlderThan)
        );
        assert_eq!(params.resource_version_number().unwrap(), None);
    }

    #[test]
    fn bad_parameters_are_errors() {
        for query in [
            "limit=x",
            "watch=maybe",
            "resourceVersionMatch=Newest",
            "labelSelector=%zz",
        ] {
            assert!(QueryParams::parse(Some(query)).is_err(), "{query}");
        }
        let params = QueryParams::parse(Some("resourceVersion=abc")).unwrap();
        assert!(params.resource_version_number().is_err());
        let params = QueryParams::parse(Some("limit=0&watch=1&resourceVersion=42")).unwrap();
        assert_eq!(params.limit, None);
        assert!(params.watch);
        assert_eq!(params.resource_version_number().unwrap(), Some(42));
    }

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let token = ContinueToken {
            resource_version: 17,
            after_key: "kube-system/kube-dns".to_owned(),
        };
        assert_eq!(ContinueToken::decode(&token.encode()).unwrap(), token);
        for garbage in ["zz", "abc", "3132", ""] {
            assert!(ContinueToken::decode(garbage).is_err(), "{garbage}");
        }
    }
}
