//! Kubernetes protobuf request bodies, decoded into the JSON the rest of runlet handles.
//!
//! kubectl 1.32+ sends `application/vnd.kubernetes.protobuf` bodies from its typed generators
//! (`kubectl create job|cronjob|namespace|configmap|secret`, `create job --from=cronjob/...`).
//! Such a body is the 4 magic bytes `k8s\0` followed by a `runtime.Unknown` message whose
//! `typeMeta` names the kind and whose `raw` is the object's own protobuf encoding (upstream
//! `staging/src/k8s.io/apimachinery/pkg/runtime/serializer/protobuf/protobuf.go`).
//!
//! Rather than teach every handler a second format, [`decode`] turns the body into the object's
//! JSON form, exactly as a JSON client would have sent it: the `raw` bytes are decoded with the
//! prost types of `k8s-pb`, converted field by field into the `k8s-openapi` type (see
//! [`convert`]), and serialised. Unknown kinds, bad magic and malformed bytes are a
//! [`ProtobufError`], never a panic.

mod convert;
mod messages;

use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;

use convert::Convert;

/// The media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The bytes every Kubernetes protobuf body starts with (`k8s\0`).
pub const MAGIC: [u8; 4] = *b"k8s\0";

/// Why a protobuf body could not be decoded. Messages follow upstream's where it has one.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The body has no bytes at all.
    #[error("empty data")]
    EmptyData,
    /// The body does not start with [`MAGIC`].
    #[error(
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
    )]
    BadMagic,
    /// The body is the magic and nothing else.
    #[error("empty body")]
    EmptyBody,
    /// The bytes are not a valid encoding of the message they should hold.
    #[error("decoding {message}: {source}")]
    Decode {
        /// The message being decoded (`runtime.Unknown` or the object's kind).
        message: &'static str,
        /// prost's account of what was wrong.
        #[source]
        source: prost::DecodeError,
    },
    /// The envelope names no kind or no apiVersion, and the caller gave no default.
    #[error("Object 'Kind' is missing in protobuf body")]
    MissingKind,
    /// The envelope names a kind runlet does not decode.
    #[error("no kind {kind:?} is registered for version {api_version:?}")]
    UnknownKind {
        /// The envelope's `apiVersion`.
        api_version: String,
        /// The envelope's `kind`.
        kind: String,
    },
    /// A decoded value has no JSON form (a time out of range, an unknown IntOrString type).
    #[error("{0}")]
    Invalid(String),
    /// The converted object failed to serialise as JSON.
    #[error("encoding the decoded object as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Whether a `Content-Type` header value is the Kubernetes protobuf media type (parameters
/// such as `;stream=watch` and case are ignored).
pub fn is_protobuf(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case(CONTENT_TYPE)
}

/// Decodes a protobuf body into the object's JSON, with `apiVersion` and `kind` set from the
/// envelope.
pub fn decode(body: &[u8]) -> Result<serde_json::Value, ProtobufError> {
    decode_with_defaults(body, "", "")
}

/// Like [`decode`], but an envelope without `apiVersion` or `kind` takes the given ones (the
/// resource the request was sent to), as upstream's `copyKindDefaults` does.
pub fn decode_with_defaults(
    body: &[u8],
    api_version: &str,
    kind: &str,
) -> Result<serde_json::Value, ProtobufError> {
    let payload = match body.strip_prefix(&MAGIC) {
        _ if body.is_empty() => return Err(ProtobufError::EmptyData),
        None => return Err(ProtobufError::BadMagic),
        Some([]) => return Err(ProtobufError::EmptyBody),
        Some(payload) => payload,
    };
    let unknown = Unknown::decode(payload).map_err(|source| ProtobufError::Decode {
        message: "runtime.Unknown",
        source,
    })?;
    let type_meta = unknown.type_meta.unwrap_or_default();
    let pick = |sent: Option<String>, default: &str| match sent {
        Some(s) if !s.is_empty() => s,
        _ => default.to_owned(),
    };
    let api_version = pick(type_meta.api_version, api_version);
    let kind = pick(type_meta.kind, kind);
    if api_version.is_empty() || kind.is_empty() {
        return Err(ProtobufError::MissingKind);
    }
    object_json(&api_version, &kind, &unknown.raw.unwrap_or_default())
}

/// Decodes `raw` as the `k8s-pb` message `P` and converts it into the `k8s-openapi` type `A`.
fn typed<P, A>(message: &'static str, raw: &[u8]) -> Result<serde_json::Value, ProtobufError>
where
    P: Message + Default + Convert<A>,
    A: serde::Serialize,
{
    let decoded = P::decode(raw).map_err(|source| ProtobufError::Decode { message, source })?;
    Ok(serde_json::to_value(decoded.convert()?)?)
}

/// The JSON of one object from its envelope's kind and `raw` bytes.
fn object_json(
    api_version: &str,
    kind: &str,
    raw: &[u8],
) -> Result<serde_json::Value, ProtobufError> {
    use k8s_openapi::api as a;
    use k8s_pb::api as p;
    macro_rules! kinds {
        ($(($v:literal, $k:literal) => $($t:ident)::+),* $(,)?) => {
            match (api_version, kind) {
                $(($v, $k) => typed::<p::$($t)::+, a::$($t)::+>($k, raw),)*
                _ => Err(ProtobufError::UnknownKind {
                    api_version: api_version.to_owned(),
                    kind: kind.to_owned(),
                }),
            }
        };
    }
    let mut json = kinds! {
        ("v1", "Namespace") => core::v1::Namespace,
        ("v1", "Node") => core::v1::Node,
        ("v1", "Pod") => core::v1::Pod,
        ("v1", "Event") => core::v1::Event,
        ("v1", "ConfigMap") => core::v1::ConfigMap,
        ("v1", "Secret") => core::v1::Secret,
        ("v1", "ServiceAccount") => core::v1::ServiceAccount,
        ("v1", "PersistentVolumeClaim") => core::v1::PersistentVolumeClaim,
        ("v1", "PersistentVolume") => core::v1::PersistentVolume,
        ("events.k8s.io/v1", "Event") => events::v1::Event,
        ("coordination.k8s.io/v1", "Lease") => coordination::v1::Lease,
        ("batch/v1", "Job") => batch::v1::Job,
        ("batch/v1", "CronJob") => batch::v1::CronJob,
    }?;
    // k8s-openapi writes both already; set them anyway so the envelope is the only source.
    if let Some(object) = json.as_object_mut() {
        object.insert("apiVersion".to_owned(), api_version.into());
        object.insert("kind".to_owned(), kind.into());
    }
    Ok(json)
}
