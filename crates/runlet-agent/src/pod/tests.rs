//! Pod worker tests with the fake OS.
