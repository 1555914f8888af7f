//! TTL-after-finished with the Job controller (upstream pkg/controller/ttlafterfinished).
