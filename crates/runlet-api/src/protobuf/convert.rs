//! Conversion from `k8s-pb` (prost) messages into `k8s-openapi` objects.
//!
//! Both crates are generated from upstream Kubernetes: `k8s-pb` from the `generated.proto`
//! files, `k8s-openapi` from the OpenAPI spec. Their struct and field names agree (both are the
//! snake_case of the Go JSON/proto names), but their shapes differ: proto2 gives every scalar an
//! `Option` and every list a plain `Vec`, while `k8s-openapi` has required fields without
//! `Option` and optional lists as `Option<Vec<_>>`. Two traits bridge that:
//!
//! - [`Convert`] turns one *value* into another (a scalar into itself, `bytes` into
//!   [`ByteString`], `Time` into RFC 3339 time, and each message into its twin, the latter
//!   written by the [`messages!`] macro from a list of field names);
//! - [`Shape`] lifts [`Convert`] over the container a field is held in (`Option`, `Vec`,
//!   `BTreeMap`), with a marker type per pair of shapes so the compiler picks the only one that
//!   fits the source and target field types.
//!
//! Because the macro builds every `k8s-openapi` struct literal in full, a field that exists in
//! `k8s-openapi` but not in the list, or a list entry that does not exist in `k8s-pb`, is a
//! compile error: the field lists cannot silently drift from the types. Fields that only a newer
//! `k8s-pb` knows are dropped, as the JSON decoder into `k8s-openapi` would drop them.
//!
//! Empty lists and maps become absent fields, as Go's `omitempty` does in JSON; proto2 cannot
//! tell an empty list from an absent one anyway.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, MicroTime, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;

use super::ProtobufError;

/// Converts one decoded protobuf value into its `k8s-openapi` counterpart.
pub(crate) trait Convert<T> {
    /// The converted value, or why the bytes do not make a valid one.
    fn convert(self) -> Result<T, ProtobufError>;

    /// Whether this present value stands for "unset" (Go writes a zero `metav1.Time` as an
    /// empty message; its JSON form is `null`, so the field is left out).
    fn is_unset(&self) -> bool {
        false
    }
}

/// Converts a field from its protobuf container shape into its `k8s-openapi` one; `M` is a
/// marker naming the pair of shapes (see the impls).
pub(crate) trait Shape<T, M> {
    /// The converted field.
    fn shape(self) -> Result<T, ProtobufError>;
}

/// `Option<S>` into `Option<T>`.
pub(crate) enum Optional {}
/// `Option<S>` into a required `T`; absent becomes `T::default()` as Go's zero value does.
pub(crate) enum Required {}
/// `Vec<S>` into a required `Vec<T>`.
pub(crate) enum List {}
/// `Vec<S>` into `Option<Vec<T>>`; empty becomes absent.
pub(crate) enum OptionalList {}
/// `Option<MicroTime>` into a required `MicroTime`, which has no zero value in JSON.
pub(crate) enum RequiredTime {}
/// `BTreeMap<String, S>` into a required `BTreeMap<String, T>`.
pub(crate) enum Map {}
/// `BTreeMap<String, S>` into `Option<BTreeMap<String, T>>`; empty becomes absent.
pub(crate) enum OptionalMap {}

impl<S: Convert<T>, T> Shape<Option<T>, Optional> for Option<S> {
    fn shape(self) -> Result<Option<T>, ProtobufError> {
        match self {
            Some(value) if !value.is_unset() => value.convert().map(Some),
            _ => Ok(None),
        }
    }
}

impl<S: Convert<T>, T: Default> Shape<T, Required> for Option<S> {
    fn shape(self) -> Result<T, ProtobufError> {
        match self {
            Some(value) if !value.is_unset() => value.convert(),
            _ => Ok(T::default()),
        }
    }
}

/// events.k8s.io `eventTime` is required; a zero one is JSON `null`, which the JSON decoder
/// refuses too.
impl Shape<MicroTime, RequiredTime>
    for Option<k8s_pb::apimachinery::pkg::apis::meta::v1::MicroTime>
{
    fn shape(self) -> Result<MicroTime, ProtobufError> {
        match self {
            Some(value) if !value.is_unset() => value.convert(),
            _ => Err(ProtobufError::Invalid(
                "a required time is missing".to_owned(),
            )),
        }
    }
}

impl<S: Convert<T>, T> Shape<Vec<T>, List> for Vec<S> {
    fn shape(self) -> Result<Vec<T>, ProtobufError> {
        self.into_iter().map(Convert::convert).collect()
    }
}

impl<S: Convert<T>, T> Shape<Option<Vec<T>>, OptionalList> for Vec<S> {
    fn shape(self) -> Result<Option<Vec<T>>, ProtobufError> {
        if self.is_empty() {
            return Ok(None);
        }
        self.into_iter()
            .map(Convert::convert)
            .collect::<Result<_, _>>()
            .map(Some)
    }
}

impl<S: Convert<T>, T> Shape<BTreeMap<String, T>, Map> for BTreeMap<String, S> {
    fn shape(self) -> Result<BTreeMap<String, T>, ProtobufError> {
        self.into_iter()
            .map(|(k, v)| Ok((k, v.convert()?)))
            .collect()
    }
}

impl<S: Convert<T>, T> Shape<Option<BTreeMap<String, T>>, OptionalMap> for BTreeMap<String, S> {
    fn shape(self) -> Result<Option<BTreeMap<String, T>>, ProtobufError> {
        if self.is_empty() {
            return Ok(None);
        }
        Shape::<BTreeMap<String, T>, Map>::shape(self).map(Some)
    }
}

macro_rules! identity {
    ($($t:ty),*) => {
        $(impl Convert<$t> for $t {
            fn convert(self) -> Result<$t, ProtobufError> {
                Ok(self)
            }
        })*
    };
}

identity!(String, bool, i32, i64, f64);

/// `bytes` fields (Secret `data`, ConfigMap `binaryData`) are base64 strings in JSON.
impl Convert<ByteString> for Vec<u8> {
    fn convert(self) -> Result<ByteString, ProtobufError> {
        Ok(ByteString(self))
    }
}

/// A Quantity travels as its string form in both encodings; upstream re-canonicalises it on
/// decode, which the server's own parsing does for JSON bodies too.
impl Convert<Quantity> for k8s_pb::apimachinery::pkg::api::resource::Quantity {
    fn convert(self) -> Result<Quantity, ProtobufError> {
        Ok(Quantity(self.string.unwrap_or_default()))
    }
}

/// `intstr.IntOrString` is `{type, intVal, strVal}` in protobuf (type 0 is Int, 1 is String,
/// upstream `staging/src/k8s.io/apimachinery/pkg/util/intstr/intstr.go`).
impl Convert<IntOrString> for k8s_pb::apimachinery::pkg::util::intstr::IntOrString {
    fn convert(self) -> Result<IntOrString, ProtobufError> {
        match self.r#type.unwrap_or_default() {
            0 => Ok(IntOrString::Int(self.int_val.unwrap_or_default())),
            1 => Ok(IntOrString::String(self.str_val.unwrap_or_default())),
            other => Err(ProtobufError::Invalid(format!(
                "IntOrString has unknown type {other}"
            ))),
        }
    }
}

/// Seconds of Go's zero `time.Time` (year 1) since the Unix epoch.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

fn is_zero_time(seconds: Option<i64>, nanos: Option<i32>) -> bool {
    match seconds {
        None => nanos.unwrap_or_default() == 0,
        Some(s) => s == GO_ZERO_TIME_SECONDS && nanos.unwrap_or_default() == 0,
    }
}

fn timestamp(seconds: i64, nanos: i32) -> Result<Timestamp, ProtobufError> {
    // RFC 3339 has four-digit years; Go's JSON encoder refuses anything outside 0000-9999.
    const MIN: i64 = GO_ZERO_TIME_SECONDS - 365 * 86_400;
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    if !(MIN..=MAX).contains(&seconds) || !(0..1_000_000_000).contains(&nanos) {
        return Err(ProtobufError::Invalid(format!(
            "time {seconds}s {nanos}ns is out of range"
        )));
    }
    Timestamp::new(seconds, nanos)
        .map_err(|e| ProtobufError::Invalid(format!("time {seconds}s {nanos}ns: {e}")))
}

/// `metav1.Time` keeps whole seconds only: upstream's `Time.Unmarshal` truncates the nanos
/// "to match JSON" (`staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/time_proto.go`).
impl Convert<Time> for k8s_pb::apimachinery::pkg::apis::meta::v1::Time {
    fn convert(self) -> Result<Time, ProtobufError> {
        timestamp(self.seconds.unwrap_or_default(), 0).map(Time)
    }

    fn is_unset(&self) -> bool {
        is_zero_time(self.seconds, self.nanos)
    }
}

/// `metav1.MicroTime` keeps its fraction (serialised with microseconds).
impl Convert<MicroTime> for k8s_pb::apimachinery::pkg::apis::meta::v1::MicroTime {
    fn convert(self) -> Result<MicroTime, ProtobufError> {
        timestamp(
            self.seconds.unwrap_or_default(),
            self.nanos.unwrap_or_default(),
        )
        .map(MicroTime)
    }

    fn is_unset(&self) -> bool {
        is_zero_time(self.seconds, self.nanos)
    }
}

/// `FieldsV1.raw` holds the managed-fields set as JSON.
impl Convert<FieldsV1> for k8s_pb::apimachinery::pkg::apis::meta::v1::FieldsV1 {
    fn convert(self) -> Result<FieldsV1, ProtobufError> {
        let raw = self.raw.unwrap_or_default();
        if raw.is_empty() {
            return Ok(FieldsV1(serde_json::Value::Object(Default::default())));
        }
        serde_json::from_slice(&raw)
            .map(FieldsV1)
            .map_err(|e| ProtobufError::Invalid(format!("fieldsV1 is not JSON: {e}")))
    }
}

/// A scalar whose Go zero value JSON leaves out.
pub(crate) trait IsZero {
    /// Whether this is Go's zero value of the type.
    fn is_zero(&self) -> bool;
}

impl IsZero for String {
    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

impl IsZero for bool {
    fn is_zero(&self) -> bool {
        !*self
    }
}

impl IsZero for i32 {
    fn is_zero(&self) -> bool {
        *self == 0
    }
}

impl IsZero for i64 {
    fn is_zero(&self) -> bool {
        *self == 0
    }
}

impl IsZero for f64 {
    fn is_zero(&self) -> bool {
        *self == 0.0
    }
}

/// Drops the Go zero value of a non-pointer field tagged `omitempty`.
///
/// Go's generated marshallers write non-pointer scalars whatever their value (kubectl sends
/// `namespace: ""`, `generation: 0`, `stdin: false`), while its JSON encoder leaves them out
/// when zero; pointer fields are written only when set, so a zero there is meant (`backoffLimit:
/// 0`). Which fields are which is a fact of the Go types, so the field lists mark them.
pub(crate) fn omitempty<S: IsZero>(value: Option<S>) -> Option<S> {
    value.filter(|v| !v.is_zero())
}

/// Implements [`Convert`] for each listed message, from `$pb::PbName` into `$api::Name`, field
/// by field.
///
/// An entry is `Name { fields.. }`, or `Name = PbName { .. }` where prost spelt the type name
/// differently (`HTTPGetAction` is `HttpGetAction`). A field is `name`, or `name = pb_name`
/// where the field names differ (Rust keywords: `type_` is `r#type`); either may end in
/// `as omitempty` for a non-pointer Go scalar tagged `omitempty` (see [`omitempty`]). Go
/// structs embedded
/// with `json:",inline"` are flattened in JSON but stay a nested message in protobuf; their
/// fields are listed as `..embedded { fields.. }`.
macro_rules! messages {
    ($api:ident => $pb:ident; $(
        $name:ident $(= $pbname:ident)? {
            $($field:ident $(= $pbfield:ident)? $(as $conv:ident)?),* $(,)?
            $(..$emb:ident { $($efield:ident $(as $econv:ident)?),* $(,)? })*
        }
    )*) => {
        $(messages! {
            @one $api::$name, $pb::[$($pbname)? $name],
            [$($field $(= $pbfield)? $(as $conv)?),*],
            [$($emb [$($efield $(as $econv)?),*])*]
        })*
    };
    (
        @one $api:ident::$name:ident, $pb:ident::[$pbname:ident $($_unused:ident)?],
        [$($field:ident $(= $pbfield:ident)? $(as $conv:ident)?),*],
        [$($emb:ident [$($efield:ident $(as $econv:ident)?),*])*]
    ) => {
        impl $crate::protobuf::convert::Convert<$api::$name> for $pb::$pbname {
            fn convert(self) -> Result<$api::$name, $crate::protobuf::ProtobufError> {
                let pb = self;
                $(let $emb = pb.$emb.unwrap_or_default();)*
                Ok($api::$name {
                    $($field: $crate::protobuf::convert::Shape::shape(messages!(
                        @conv [$($conv)?] messages!(@field pb $field $($pbfield)?)
                    ))?,)*
                    $($($efield: $crate::protobuf::convert::Shape::shape(
                        messages!(@conv [$($econv)?] $emb.$efield),
                    )?,)*)*
                })
            }
        }
    };
    (@field $pb:ident $field:ident) => { $pb.$field };
    (@field $pb:ident $field:ident $renamed:ident) => { $pb.$renamed };
    (@conv [] $value:expr) => { $value };
    (@conv [$conv:ident] $value:expr) => { $crate::protobuf::convert::$conv($value) };
}

pub(crate) use messages;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_list_and_map_become_absent() {
        let list: Option<Vec<String>> = Shape::shape(Vec::<String>::new()).expect("converts");
        assert_eq!(list, None);
        let map: Option<BTreeMap<String, String>> =
            Shape::shape(BTreeMap::<String, String>::new()).expect("converts");
        assert_eq!(map, None);
        let required: Vec<String> = Shape::shape(Vec::<String>::new()).expect("converts");
        assert!(required.is_empty());
    }

    #[test]
    fn absent_required_scalar_is_go_zero_value() {
        let port: i32 = Shape::shape(None::<i32>).expect("converts");
        assert_eq!(port, 0);
        let name: String = Shape::shape(Some("x".to_owned())).expect("converts");
        assert_eq!(name, "x");
    }

    #[test]
    fn omitempty_drops_only_go_zero_values() {
        assert_eq!(omitempty(Some(String::new())), None);
        assert_eq!(omitempty(Some(false)), None);
        assert_eq!(omitempty(Some(0_i32)), None);
        assert_eq!(omitempty(Some(0_i64)), None);
        assert_eq!(omitempty(Some(0.0_f64)), None);
        assert_eq!(omitempty(Some("x".to_owned())), Some("x".to_owned()));
        assert_eq!(omitempty(Some(true)), Some(true));
        assert_eq!(omitempty(Some(-1_i32)), Some(-1));
        assert_eq!(omitempty(None::<i64>), None);
    }

    #[test]
    fn zero_time_is_left_out_like_json_null() {
        // Go writes a zero non-pointer metav1.Time as an empty message (time_proto.go Size()).
        let empty = k8s_pb::apimachinery::pkg::apis::meta::v1::Time::default();
        let t: Option<Time> = Shape::shape(Some(empty)).expect("converts");
        assert_eq!(t, None);
        let go_zero = k8s_pb::apimachinery::pkg::apis::meta::v1::Time {
            seconds: Some(GO_ZERO_TIME_SECONDS),
            nanos: None,
        };
        let t: Option<Time> = Shape::shape(Some(go_zero)).expect("converts");
        assert_eq!(t, None);
    }

    #[test]
    fn time_drops_nanos_and_micro_time_keeps_micros() {
        let t = k8s_pb::apimachinery::pkg::apis::meta::v1::Time {
            seconds: Some(1_700_000_000),
            nanos: Some(123_456_789),
        };
        let json =
            serde_json::to_value(Convert::<Time>::convert(t).expect("converts")).expect("converts");
        assert_eq!(json, "2023-11-14T22:13:20Z");
        let m = k8s_pb::apimachinery::pkg::apis::meta::v1::MicroTime {
            seconds: Some(1_700_000_000),
            nanos: Some(123_456_789),
        };
        let json = serde_json::to_value(Convert::<MicroTime>::convert(m).expect("converts"))
            .expect("converts");
        assert_eq!(json, "2023-11-14T22:13:20.123456Z");
    }

    #[test]
    fn out_of_range_time_is_an_error_not_a_panic() {
        for (seconds, nanos) in [(i64::MAX, 0), (i64::MIN, 0), (0, -1), (0, 1_000_000_000)] {
            let m = k8s_pb::apimachinery::pkg::apis::meta::v1::MicroTime {
                seconds: Some(seconds),
                nanos: Some(nanos),
            };
            assert!(
                Convert::<MicroTime>::convert(m).is_err(),
                "{seconds} {nanos}"
            );
        }
    }

    #[test]
    fn int_or_string_follows_its_type_tag() {
        use k8s_pb::apimachinery::pkg::util::intstr::IntOrString as Pb;
        let int = Pb {
            r#type: Some(0),
            int_val: Some(8080),
            str_val: None,
        };
        assert_eq!(int.convert().expect("converts"), IntOrString::Int(8080));
        let string = Pb {
            r#type: Some(1),
            int_val: None,
            str_val: Some("http".into()),
        };
        assert_eq!(
            string.convert().expect("converts"),
            IntOrString::String("http".into())
        );
        let bad = Pb {
            r#type: Some(7),
            int_val: None,
            str_val: None,
        };
        assert!(Convert::<IntOrString>::convert(bad).is_err());
    }
}
