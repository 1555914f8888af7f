//! Garbage collection of Jobs and their pods (upstream pkg/controller/garbagecollector).
