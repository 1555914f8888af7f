//! Where `GET pods/{name}/log` and `GET podrecords/{name}/log` get their bytes: a
//! [`LogSource`] per node registered by whoever runs that node's agent in this process (the
//! embedded agent), else [`nodeproxy`] to the node's agent over HTTPS. The API server stays
//! free of any dependency on the agent: the types live in `runlet_api::logs`, the binary
//! wires them.

pub mod nodeproxy;

pub use runlet_api::logs::{
    LogBody, LogOptions, LogOptionsError, LogRequest, LogSource, LogSourceError,
};
