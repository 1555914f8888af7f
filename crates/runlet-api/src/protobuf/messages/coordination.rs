//! Field lists for `coordination.k8s.io/v1` Lease (node heartbeats, leader election).
//!
//! Each entry names a `k8s-openapi` struct and all of its fields; see
//! [`messages!`](crate::protobuf::convert) for how it becomes a conversion.

use crate::protobuf::convert::messages;
use k8s_openapi::api::coordination::v1 as coordination_v1;
use k8s_pb::api::coordination::v1 as coordination_v1_pb;

messages! { coordination_v1 => coordination_v1_pb;
    Lease {
        metadata, spec,
    }
    LeaseSpec {
        acquire_time, holder_identity, lease_duration_seconds, lease_transitions, preferred_holder,
        renew_time, strategy,
    }
}
