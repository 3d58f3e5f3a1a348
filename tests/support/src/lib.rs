//! What rejig's tests share, as a crate of its own so that no test reaches into another
//! crate's `tests/` folder.
//!
//! - [`corpus`]: real RPM packages, fetched from package registries at test time, pinned by
//!   SHA-256 and cached under the workspace's target directory, and fixtures built with
//!   `rpmbuild`; plus the extra corpus named by `REJIG_TEST_CORPUS` when it is set.
//! - [`rpmbuild`]: fixture RPMs described in code and built with the real `rpmbuild`, and a
//!   compose of them made with the real `rpm` and `ostree commit`.
//! - [`rpm_builder`]: small packages built with the `rpm` crate, and rpm-md repositories of
//!   them (by the real `createrepo_c`, or by hand for hostile metadata).
//! - [`server`]: an HTTP/1.1 server on loopback with switchable faults.
//! - [`ostree`]: the real `ostree` CLI as the oracle, and the golden fixture.
//! - [`tree`]: a seeded tree generator, snapshots and their comparison.
//! - [`rng`], [`process`], [`files`]: a seedable PRNG, running tools, file helpers.
//!
//! Every helper panics with a message that says what failed; a missing tool is a failure,
//! never a skip.

#![allow(missing_docs, clippy::unwrap_used)]

pub mod corpus;
pub mod files;
pub mod ostree;
pub mod process;
pub mod rng;
pub mod rpm_builder;
pub mod rpmbuild;
pub mod s3;
pub mod server;
pub mod tree;
