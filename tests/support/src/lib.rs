//! What rejig's tests share, as a crate of its own so that no test reaches into another
//! crate's `tests/` folder.
//!
//! - [`corpus`]: real RPM packages, fetched from package registries at test time, pinned by
//!   SHA-256 and cached under the workspace's target directory, and fixtures built with
//!   `rpmbuild`; plus the extra corpus named by `REJIG_TEST_CORPUS` when it is set.

#![allow(clippy::unwrap_used)]

pub mod corpus;
