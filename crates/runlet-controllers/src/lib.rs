//! runlet's controllers. Each is an API client (`kube`), never touching the store directly, so
//! it runs in-process inside `runlet server` or against any Kubernetes API server.

pub mod cronjob;
