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
//! prost types of `k8s-pb`, converted field by field into the `k8s-openapi` type (`convert`
//! holds the machinery, `messages` the field lists, `kinds` the table of kinds), and
//! serialised. Unknown kinds, bad magic and malformed bytes are a [`ProtobufError`], never a
//! panic.
//!
//! The JSON is what Go's JSON encoder would write for the same object, with three known
//! differences that JSON decoding erases anyway: zero times (`creationTimestamp: null`) are
//! left out, quantities keep the spelling they were sent with, and fields newer than the
//! `k8s-openapi` version runlet builds against are dropped. Like a JSON body, a small body can
//! expand a lot (two bytes per empty container), so callers cap the body size first.

mod convert;
mod kinds;
mod messages;
#[cfg(test)]
mod test_support;

use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;

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
    kinds::object_json(&api_version, &kind, &unknown.raw.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::test_support::{body, body_raw, decoded, go_meta};
    use super::*;
    use k8s_pb::api::core::v1 as core_pb;
    use serde_json::json;

    // Bodies captured from kubectl v1.32 (`kubectl create ...` against a recording listener).
    const KUBECTL_JOB: &[u8] = include_bytes!("testdata/kubectl-create-job.bin");
    const KUBECTL_JOB_FROM_CRONJOB: &[u8] = include_bytes!("testdata/kubectl-create-jobfrom.bin");
    const KUBECTL_CRONJOB: &[u8] = include_bytes!("testdata/kubectl-create-cronjob.bin");
    const KUBECTL_NAMESPACE: &[u8] = include_bytes!("testdata/kubectl-create-namespace.bin");
    const KUBECTL_CONFIGMAP: &[u8] = include_bytes!("testdata/kubectl-create-configmap.bin");
    const KUBECTL_SECRET: &[u8] = include_bytes!("testdata/kubectl-create-secret.bin");
    const KUBECTL_SERVICEACCOUNT: &[u8] =
        include_bytes!("testdata/kubectl-create-serviceaccount.bin");

    #[test]
    fn kubectl_create_job_decodes_to_its_dry_run_json() {
        // `kubectl create job x --image=busybox --dry-run=client -o json -- echo hi`, minus the
        // `creationTimestamp: null`s that JSON decoding drops anyway.
        let expected = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "x"},
            "spec": {"template": {"metadata": {}, "spec": {
                "containers": [{
                    "name": "x", "image": "busybox", "command": ["echo", "hi"], "resources": {}
                }],
                "restartPolicy": "Never"
            }}},
            "status": {}
        });
        assert_eq!(decoded("job", KUBECTL_JOB), expected);
    }

    #[test]
    fn kubectl_create_job_from_cronjob_keeps_owner_and_annotation() {
        // `kubectl create job fromcj --from=cronjob/cj`, the CronJob served with uid 1234-abcd,
        // labels {a: b} on its job template and backoffLimit 2.
        let expected = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {
                "name": "fromcj",
                "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
                "labels": {"a": "b"},
                "ownerReferences": [{
                    "apiVersion": "batch/v1", "kind": "CronJob", "name": "cj",
                    "uid": "1234-abcd", "controller": true
                }]
            },
            "spec": {
                "backoffLimit": 2,
                "template": {"metadata": {}, "spec": {
                    "containers": [{
                        "name": "c", "image": "busybox", "command": ["date"], "resources": {}
                    }],
                    "restartPolicy": "OnFailure"
                }}
            },
            "status": {}
        });
        assert_eq!(decoded("jobfrom", KUBECTL_JOB_FROM_CRONJOB), expected);
    }

    #[test]
    fn kubectl_create_cronjob_namespace_serviceaccount_decode() {
        let cronjob = decoded("cronjob", KUBECTL_CRONJOB);
        assert_eq!(
            cronjob,
            json!({
                "apiVersion": "batch/v1", "kind": "CronJob",
                "metadata": {"name": "cj"},
                "spec": {
                    "schedule": "*/5 * * * *",
                    "jobTemplate": {"metadata": {"name": "cj"}, "spec": {"template": {
                        "metadata": {},
                        "spec": {
                            "containers": [{
                                "name": "cj", "image": "busybox", "command": ["date"],
                                "resources": {}
                            }],
                            "restartPolicy": "OnFailure"
                        }
                    }}}
                },
                "status": {}
            })
        );
        assert_eq!(
            decoded("namespace", KUBECTL_NAMESPACE),
            json!({
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns1"},
                "spec": {}, "status": {}
            })
        );
        assert_eq!(
            decoded("serviceaccount", KUBECTL_SERVICEACCOUNT),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}})
        );
    }

    #[test]
    fn kubectl_create_configmap_and_secret_keep_data_and_base64_bytes() {
        // --from-literal=k=v --from-literal=x=y --from-file=bin=<bytes 00 01 ff>
        assert_eq!(
            decoded("configmap", KUBECTL_CONFIGMAP),
            json!({
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"},
                "data": {"k": "v", "x": "y"}, "binaryData": {"bin": "AAH/"}
            })
        );
        // --from-literal=a=b
        assert_eq!(
            decoded("secret", KUBECTL_SECRET),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "Yg=="}})
        );
    }

    #[test]
    fn envelope_errors_match_upstream_messages() {
        assert_eq!(decode(b"").expect_err("fails").to_string(), "empty data");
        assert_eq!(
            decode(b"{\"kind\":\"Job\"}")
                .expect_err("fails")
                .to_string(),
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
        );
        assert!(matches!(decode(b"k8s"), Err(ProtobufError::BadMagic)));
        assert_eq!(
            decode(b"k8s\0").expect_err("fails").to_string(),
            "empty body"
        );
        let deployment = body("apps/v1", "Deployment", &core_pb::Namespace::default());
        assert_eq!(
            decode(&deployment).expect_err("fails").to_string(),
            "no kind \"Deployment\" is registered for version \"apps/v1\""
        );
        let no_kind = body("", "", &core_pb::Namespace::default());
        assert!(matches!(decode(&no_kind), Err(ProtobufError::MissingKind)));
    }

    #[test]
    fn missing_type_meta_takes_the_routes_kind() {
        // upstream copyKindDefaults: the request's resource fills an empty envelope kind.
        let ns = core_pb::Namespace {
            metadata: Some(go_meta("a")),
            ..Default::default()
        };
        let bytes = body("", "", &ns);
        let json = decode_with_defaults(&bytes, "v1", "Namespace").expect("decodes");
        assert_eq!(json["kind"], "Namespace");
        assert_eq!(json["metadata"]["name"], "a");
    }

    #[test]
    fn is_protobuf_ignores_case_and_parameters() {
        assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
        assert!(is_protobuf(
            "Application/VND.Kubernetes.Protobuf; stream=watch"
        ));
        assert!(is_protobuf(
            " application/vnd.kubernetes.protobuf ;charset=binary"
        ));
        assert!(!is_protobuf("application/json"));
        assert!(!is_protobuf("application/vnd.kubernetes.protobuf+json"));
        assert!(!is_protobuf(""));
    }

    #[test]
    fn every_truncation_of_a_kubectl_body_is_an_error_or_a_value_never_a_panic() {
        for full in [
            KUBECTL_JOB,
            KUBECTL_JOB_FROM_CRONJOB,
            KUBECTL_CONFIGMAP,
            KUBECTL_SECRET,
        ] {
            for end in 0..full.len() {
                let cut = full.get(..end).unwrap_or_default();
                // Cutting inside a length-delimited field leaves invalid protobuf.
                if end < full.len() {
                    let _ = decode(cut);
                }
            }
            assert!(decode(full).is_ok());
        }
        let truncated = KUBECTL_JOB.get(..KUBECTL_JOB.len() - 1).unwrap_or_default();
        assert!(matches!(
            decode(truncated),
            Err(ProtobufError::Decode { .. })
        ));
    }

    /// xorshift64*: deterministic noise without a dependency.
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    #[test]
    fn random_and_mutated_bodies_never_panic() {
        let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
        let seeds = [
            KUBECTL_JOB,
            KUBECTL_JOB_FROM_CRONJOB,
            KUBECTL_CRONJOB,
            KUBECTL_CONFIGMAP,
        ];
        for round in 0..4000 {
            let mut bytes = if round % 2 == 0 {
                let len = (noise.next() % 300) as usize;
                let mut random: Vec<u8> = (0..len).map(|_| noise.next() as u8).collect();
                random.splice(0..0, MAGIC);
                random
            } else {
                seeds
                    .get(round % seeds.len())
                    .copied()
                    .unwrap_or_default()
                    .to_vec()
            };
            for _ in 0..(noise.next() % 6) {
                let len = bytes.len() as u64;
                if len > 4 {
                    let at = (4 + noise.next() % (len - 4)) as usize;
                    if let Some(b) = bytes.get_mut(at) {
                        *b ^= 1 << (noise.next() % 8);
                    }
                }
            }
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn deeply_nested_unknown_groups_are_refused_not_overflowed() {
        // Kubernetes types do not nest recursively, but an unknown field may hold protobuf
        // groups nested without end; prost's recursion limit turns that into an error.
        let depth = 100_000;
        let mut raw = Vec::new();
        for _ in 0..depth {
            prost::encoding::encode_key(99, prost::encoding::WireType::StartGroup, &mut raw);
        }
        for _ in 0..depth {
            prost::encoding::encode_key(99, prost::encoding::WireType::EndGroup, &mut raw);
        }
        let err = decode(&body_raw("v1", "Pod", raw)).expect_err("fails");
        assert!(err.to_string().contains("recursion limit"), "{err}");
    }
}
