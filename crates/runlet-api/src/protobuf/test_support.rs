//! Test helpers: protobuf bodies built the way kubectl builds them.

use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta_pb;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use prost::Message;

use super::{MAGIC, decode};

/// A body as kubectl builds it: magic, then `runtime.Unknown{typeMeta, raw}`.
pub(super) fn body(api_version: &str, kind: &str, object: &impl Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.to_owned()),
            kind: Some(kind.to_owned()),
        }),
        raw: Some(object.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

pub(super) fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

/// Metadata as Go's marshaller writes it: every non-pointer field present, zero or not.
pub(super) fn go_meta(name: &str) -> meta_pb::ObjectMeta {
    meta_pb::ObjectMeta {
        name: s(name),
        generate_name: s(""),
        namespace: s(""),
        self_link: s(""),
        uid: s(""),
        resource_version: s(""),
        generation: Some(0),
        creation_timestamp: Some(meta_pb::Time::default()),
        ..Default::default()
    }
}

pub(super) fn decoded(name: &str, bytes: &[u8]) -> serde_json::Value {
    match decode(bytes) {
        Ok(json) => json,
        Err(e) => panic!("{name}: {e}"),
    }
}

/// A body whose `raw` is the given bytes.
pub(super) fn body_raw(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s(api_version),
            kind: s(kind),
        }),
        raw: Some(raw),
        ..Default::default()
    };
    [MAGIC.as_slice(), &unknown.encode_to_vec()].concat()
}
