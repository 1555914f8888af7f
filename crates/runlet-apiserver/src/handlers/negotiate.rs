//! Which encoding a response takes, from the request's `Accept` (upstream's serializer
//! negotiation): JSON, or YAML for a client that prefers it; a 406 naming the accepted types
//! for one that accepts none of them. Protobuf is accepted and answered with JSON, as runlet
//! encodes no protobuf responses (clients that ask for it list JSON too).

use crate::error::{ApiError, ApiResult};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use runlet_api::status::Status;

/// The encoding of a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Yaml,
}

/// What upstream's 406 lists.
const ACCEPTED: &str = "application/json, application/yaml, application/vnd.kubernetes.protobuf";
const ACCEPTED_WATCH: &str =
    "application/json;stream=watch, application/vnd.kubernetes.protobuf;stream=watch";

/// The encoding `headers` ask for; `watch` for a watch, which streams JSON only.
pub fn encoding(headers: &HeaderMap, watch: bool) -> ApiResult<Encoding> {
    let Some(accept) = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .filter(|a| !a.trim().is_empty())
    else {
        return Ok(Encoding::Json);
    };
    let mut ranges: Vec<(f32, usize, &str)> = accept
        .split(',')
        .enumerate()
        .map(|(i, range)| {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (q, i, media)
        })
        .filter(|(q, _, _)| *q > 0.0)
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, media) in ranges {
        match media.to_ascii_lowercase().as_str() {
            "application/json"
            | "application/*"
            | "*/*"
            | "application/vnd.kubernetes.protobuf" => {
                return Ok(Encoding::Json);
            }
            "application/yaml" if !watch => return Ok(Encoding::Yaml),
            _ => {}
        }
    }
    Err(ApiError::new(Status::not_acceptable(format!(
        "only the following media types are accepted: {}",
        if watch { ACCEPTED_WATCH } else { ACCEPTED }
    ))))
}

/// `response` with its JSON body written as YAML (errors included, as upstream encodes them).
pub async fn to_yaml(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let yaml = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| serde_saphyr::to_string(&sorted(v)).ok());
    match yaml {
        Some(text) => {
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/yaml"),
            );
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(text))
        }
        None => Response::from_parts(parts, Body::from(bytes)),
    }
}

/// `value` with every object's keys in order, as upstream's YAML (written from a Go map) has
/// them.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(String, serde_json::Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sorted).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str, watch: bool) -> Result<Encoding, String> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, value.parse().expect("header"));
        encoding(&headers, watch).map_err(|e| e.0.message.clone())
    }

    #[test]
    fn json_unless_yaml_is_preferred_and_406_for_neither() {
        assert_eq!(accept("application/json", false), Ok(Encoding::Json));
        assert_eq!(
            accept(
                "application/vnd.kubernetes.protobuf, application/json",
                false
            ),
            Ok(Encoding::Json)
        );
        assert_eq!(accept("application/yaml", false), Ok(Encoding::Yaml));
        assert_eq!(
            accept("application/json;q=0.5, application/yaml", false),
            Ok(Encoding::Yaml)
        );
        assert_eq!(accept("text/html, */*;q=0.1", false), Ok(Encoding::Json));
        assert_eq!(
            accept("text/html", false),
            Err("only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf".into())
        );
        assert!(accept("application/yaml", true).is_err());
        assert_eq!(
            accept("application/json;as=Table;v=v1;g=meta.k8s.io", false),
            Ok(Encoding::Json)
        );
    }
}
