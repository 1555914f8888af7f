//! Field lists for Events: core `v1` Event and `events.k8s.io/v1` Event, with what they refer
//! to.
//!
//! Each entry names a `k8s-openapi` struct and all of its fields; see
//! [`messages!`](crate::protobuf::convert) for how it becomes a conversion.

use crate::protobuf::convert::messages;
use k8s_openapi::api::core::v1 as core_v1;
use k8s_openapi::api::events::v1 as events_v1;
use k8s_pb::api::core::v1 as core_v1_pb;
use k8s_pb::api::events::v1 as events_v1_pb;

messages! { events_v1 => events_v1_pb;
    Event {
        action as omitempty, deprecated_count as omitempty, deprecated_first_timestamp,
        deprecated_last_timestamp, deprecated_source, event_time, metadata, note as omitempty,
        reason as omitempty, regarding, related, reporting_controller as omitempty,
        reporting_instance as omitempty, series, type_ = r#type as omitempty,
    }
    EventSeries {
        count, last_observed_time,
    }
}

messages! { core_v1 => core_v1_pb;
    Event {
        action as omitempty, count as omitempty, event_time, first_timestamp, involved_object,
        last_timestamp, message as omitempty, metadata, reason as omitempty, related,
        reporting_component, reporting_instance, series, source, type_ = r#type as omitempty,
    }
    ObjectReference {
        api_version as omitempty, field_path as omitempty, kind as omitempty, name as omitempty,
        namespace as omitempty, resource_version as omitempty, uid as omitempty,
    }
    EventSeries {
        count as omitempty, last_observed_time,
    }
    EventSource {
        component as omitempty, host as omitempty,
    }
}
