//! The importer's integration tests, one module per capability. The memory test
//! (`tests/memory.rs`) is a binary of its own: it reads the process's peak RSS, which the
//! other tests would raise.
#![allow(clippy::unwrap_used)]

mod common;

mod fuzz_regressions;
mod rpm;
mod sources;
